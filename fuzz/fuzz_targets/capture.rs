//! Any bytes as a capture file (pcap, pcapng, rtpdump, Chromium RTP dump log, gzip): errors, never panics;
//! frames come out numbered in order with bounded sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::capture::{CaptureFile, pcap::MAX_RECORD, source};
use rtprec::error::FileId;

fuzz_target!(|data: &[u8]| {
    let Ok(opened) = source::sniff("fuzz".into(), Box::new(std::io::Cursor::new(data.to_vec()))) else {
        return;
    };
    let Ok(mut file) = CaptureFile::from_opened(opened, FileId(0)) else { return };
    let mut buf = Vec::new();
    let mut last_index = 0;
    let mut last_offset = None;
    // Frames are at least a header apart, so a fuzz input can't yield more than this.
    for _ in 0..100_000 {
        match file.next_frame(&mut buf) {
            Ok(Some(meta)) => {
                assert!(meta.index > last_index, "record numbers increase");
                assert!(last_offset.is_none_or(|o| meta.offset > o), "offsets increase");
                assert!(buf.len() <= MAX_RECORD);
                last_index = meta.index;
                last_offset = Some(meta.offset);
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = file.take_diagnostics();
});
