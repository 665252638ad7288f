//! Any bytes as Chromium log lines and as a whole log: the line parser never
//! panics, what it accepts prints back to itself, and the reader's frames
//! have increasing numbers and offsets, times that never run backwards and
//! packets that are never empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::capture::chromedump::{ChromeDumpReader, MAX_LINE, parse_line};
use rtprec::capture::source::InputRead;
use rtprec::error::FileId;
use std::fmt::Write;

fuzz_target!(|data: &[u8]| {
    let mut packet = Vec::new();
    let mut again = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let Ok(Some(h)) = parse_line(line, &mut packet) else {
            continue;
        };
        assert!(!packet.is_empty());
        assert!(
            packet.len() * 3 <= line.len(),
            "each byte takes 2 digits and a blank"
        );
        assert!((0..86_400_000_000_000).contains(&h.time_of_day_ns));
        // The canonical form of what was parsed parses to the same.
        let ms = h.time_of_day_ns / 1_000_000;
        let mut text = format!(
            "{} {:02}:{:02}:{:02}.{:03} 0000",
            if h.outgoing { 'O' } else { 'I' },
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
        for b in &packet {
            let _ = write!(text, " {b:02x}");
        }
        text.push_str(" # RTP_DUMP");
        let back = parse_line(text.as_bytes(), &mut again).expect("canonical form parses");
        assert_eq!(
            back.map(|b| (b.outgoing, b.time_of_day_ns / 1_000_000)),
            Some((h.outgoing, ms))
        );
        assert_eq!(again, packet);
    }

    let mut r = ChromeDumpReader::new(
        "fuzz".into(),
        FileId(0),
        InputRead::new(Box::new(std::io::Cursor::new(data.to_vec()))),
    );
    let mut buf = Vec::new();
    let (mut index, mut offset, mut time) = (0, None, None);
    while let Ok(Some(meta)) = r.next_frame(&mut buf) {
        assert!(meta.index > index, "record numbers increase");
        assert!(offset.is_none_or(|o| meta.offset > o), "offsets increase");
        assert!(
            time.is_none_or(|t| meta.time >= t),
            "time never runs backwards"
        );
        assert!(!buf.is_empty() && buf.len() <= MAX_LINE / 2);
        (index, offset, time) = (meta.index, Some(meta.offset), Some(meta.time));
    }
    let _ = r.take_diagnostics();
});
