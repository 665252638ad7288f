//! Chromium's RTP dump (`# RTP_DUMP` lines in a browser log) as a capture.
//!
//! The log is made here from the RTP and RTCP of `testdata/media-opus-vp8.pcap`
//! (real Opus and VP8): audio as sent (`O`), video as received (`I`), each
//! dump line after a log prefix line, among other log lines, starting at
//! second 58 so that the printed time wraps to 00 two seconds in.

use crate::util::{assert_decodes_cleanly, have_tool, json, record_manifest_json, run, testdata};
use rtprec::capture::{CaptureSet, CapturedFrame};
use rtprec::net::NetDecoder;
use rtprec::testutil::writers::chrome_dump_line;
use std::path::Path;

const AUDIO_SSRC: u32 = 0xB2C7_016A;
const VIDEO_SSRC: u32 = 0xB742_6D2C;

/// The SSRC of an RTP packet or the sender SSRC of an RTCP packet.
fn ssrc_of(pkt: &[u8]) -> u32 {
    let at = if (200..=206).contains(&pkt[1]) { 4 } else { 8 };
    u32::from_be_bytes(pkt[at..at + 4].try_into().expect("4 bytes"))
}

/// The Chromium log for media-opus-vp8.pcap, and its number of dump lines.
fn chromium_log() -> (String, usize) {
    let mut set = CaptureSet::open(&[testdata("media-opus-vp8.pcap")]).expect("testdata");
    let mut net = NetDecoder::default();
    let mut packets = Vec::new();
    while let Some(frame) = set.next_frame().expect("readable") {
        let frame = CapturedFrame {
            meta: frame.meta,
            data: frame.data,
        };
        net.push(&frame, &mut |d| {
            packets.push((d.meta.time.as_nanos(), d.payload.to_vec()));
        });
    }
    let t0 = packets[0].0;
    let mut log = String::from(
        "[4242:4242:1202/183057.100000:INFO:chrome_main_delegate.cc(1001)] Chromium starting\n\
         [4242:4243:1202/183057.200000:VERBOSE1:peer_connection.cc(1200)] Session: 1234 Old state: stable New state: have-local-offer\n",
    );
    for (n, (t, pkt)) in packets.iter().enumerate() {
        let ms = 58_000 + (t - t0) / 1_000_000;
        let ssrc = ssrc_of(pkt);
        assert!(ssrc == AUDIO_SSRC || ssrc == VIDEO_SSRC, "{ssrc:#x}");
        log.push_str(&format!(
            "[4242:4260:1202/1830{:02}.{:06}:VERBOSE1:srtp_session.cc(549)] \n",
            ms / 1000 % 60,
            ms % 1000 * 1000
        ));
        log.push_str(&chrome_dump_line(ssrc == AUDIO_SSRC, ms, pkt));
        if n % 50 == 7 {
            log.push_str(
                "[4242:4250:1202/183059.000000:VERBOSE2:stun_port.cc(300)] Port[0x1234:audio:1:0:local:Net[eth0:10.0.0.x/24:Ethernet:id=1]]: UDP send of 20 bytes failed with error 11\n",
            );
        }
    }
    (log, packets.len())
}

#[test]
fn a_chromium_log_is_recorded_like_a_capture() {
    let (log, lines) = chromium_log();
    assert!(
        log.contains(" 00:00:59.") && log.contains(" 00:00:01."),
        "the time wraps"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("chrome_debug.log");
    std::fs::write(&cap, &log).expect("write");

    let out = run(&["streams", cap.to_str().expect("utf-8"), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = json(&out);
    assert_eq!(s["inputs"][0]["format"], "chrome-rtp-dump", "{s:#}");
    assert_eq!(s["frames"], lines, "{s:#}");
    assert_eq!(s["warnings"].as_array().map(Vec::len), Some(0), "{s:#}");
    let streams = s["streams"].as_array().expect("streams");
    let by_ssrc = |ssrc: &str| {
        streams
            .iter()
            .find(|x| x["ssrc"] == ssrc)
            .unwrap_or_else(|| panic!("no {ssrc}: {s:#}"))
    };
    let (audio, video) = (by_ssrc("0xB2C7016A"), by_ssrc("0xB7426D2C"));
    assert_eq!(
        (
            &audio["src"],
            &audio["dst"],
            &audio["codec"],
            &audio["packets"]
        ),
        (
            &"127.0.0.1:1".into(),
            &"127.0.0.2:1".into(),
            &"opus".into(),
            &201.into()
        ),
        "{audio:#}"
    );
    assert_eq!(
        (
            &video["src"],
            &video["dst"],
            &video["codec"],
            &video["packets"]
        ),
        (
            &"127.0.0.2:1".into(),
            &"127.0.0.1:1".into(),
            &"vp8".into(),
            &144.into()
        ),
        "{video:#}"
    );

    let out_dir = tmp.path().join("out");
    let (_, m) = record_manifest_json(&cap, &out_dir, &[]);
    let assets = m["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 2, "{m:#}");
    for (a, codec, packets, duration_ms) in [
        (&assets[0], "opus", 201, 4020),
        (&assets[1], "vp8", 144, 4000),
    ] {
        assert_eq!(a["status"], "completed", "{a:#}");
        assert_eq!(a["codec"], codec, "{a:#}");
        assert_eq!(a["stats"]["packets"], packets, "{a:#}");
        assert_eq!(a["stats"]["lost"], 0, "{a:#}");
        let d = a["duration_ms"].as_i64().expect("duration");
        assert!((d - duration_ms).abs() <= 40, "{codec}: {d} ms: {a:#}");
        // Dump times have no date: second 58 after the epoch, across the wrap.
        let started = a["started_at"].as_str().expect("started_at");
        assert!(started.starts_with("1970-01-01T00:00:58."), "{started}");
        let stopped = a["stopped_at"].as_str().expect("stopped_at");
        assert!(stopped.starts_with("1970-01-01T00:01:0"), "{stopped}");
        if have_tool("ffmpeg") {
            let path = a["path"].as_str().expect("path");
            assert_decodes_cleanly(&out_dir.join(path));
        }
    }
}

/// The same log gzip-compressed through a pipe (`-`).
#[test]
fn a_gzipped_chromium_log_on_stdin_is_read() {
    use std::io::Write;
    let (log, lines) = chromium_log();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(log.as_bytes()).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let mut child = crate::util::rtprec()
        .args(["streams", "-", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&gz));
    let out = child.wait_with_output().expect("runs");
    writer.join().expect("writer").expect("written");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = json(&out);
    assert_eq!(s["inputs"][0]["format"], "chrome-rtp-dump", "{s:#}");
    assert_eq!(s["inputs"][0]["gzip"], true, "{s:#}");
    assert_eq!(s["frames"], lines, "{s:#}");
}

/// A dump line that does not parse stops the run with the file and line named.
#[test]
fn a_broken_dump_line_is_an_error_with_its_line_number() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("broken.log");
    let good = chrome_dump_line(
        true,
        1_000,
        &[0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xf8],
    );
    std::fs::write(
        &cap,
        format!("noise\n{good}{good}O 00:00:01.020 0000 80 6f 0 # RTP_DUMP\n{good}"),
    )
    .expect("write");
    let out = run(&["streams", cap.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.log: line 4 (byte offset")
            && err.contains("packet byte 2 is \"0\", not two hex digits"),
        "{err}"
    );
    assert!(Path::new(&cap).exists());
}
