//! Sender restarts inside one SSRC (issue #11 point 3): SIP endpoints and media
//! relays start the sequence number and the RTP timestamp again without
//! changing the SSRC. The recording continues at the restart's capture time,
//! nothing after a restart is a duplicate, and `restarts` is counted in the
//! manifest and in `streams`.

use crate::util::*;
use serde_json::Value;
use std::path::Path;

/// Capture time of the first packet (2026-11-23T10:00:00Z), ns.
const T0: i64 = 1_795_428_000_000_000_000;
/// One PCMU packet: 20 ms, 160 samples at 8 kHz.
const STEP_NS: i64 = 20_000_000;

/// Writes a PCMU (G.711 µ-law, PT 0) call of `segments` back to back, each
/// (first seq, first ts, packets), 20 ms apart; returns the capture span in ms.
///
/// The payloads are silence (0xFF), as in a quiet call: the restarts repeat
/// sequence numbers, timestamps and payloads already sent, and only capture
/// time tells them from duplicates.
fn pcmu_capture(path: &Path, segments: &[(u16, u32, u16)]) -> i64 {
    use rtprec::testutil::packet::{LinkKind, udp_frame};
    use rtprec::testutil::rtp::RtpBuilder;
    use rtprec::testutil::writers::{PcapOptions, PcapWriter};
    let file = std::fs::File::create(path).expect("create capture");
    let mut w = PcapWriter::new(file, PcapOptions::default()).expect("pcap header");
    let (src, dst) = (
        "10.0.0.1:40000".parse().expect("addr"),
        "10.0.0.2:50000".parse().expect("addr"),
    );
    let silence = [0xffu8; 160];
    let mut frame = Vec::new();
    let mut n: i64 = 0;
    for &(seq0, ts0, count) in segments {
        for i in 0..count {
            let pkt = RtpBuilder::new(
                0,
                seq0.wrapping_add(i),
                ts0.wrapping_add(160 * u32::from(i)),
                0x5151_0001,
            )
            .build(&silence);
            frame.clear();
            udp_frame(&mut frame, LinkKind::Ethernet, src, dst, n as u16, &pkt).expect("ipv4");
            w.write_packet(T0 + n * STEP_NS, &frame).expect("write");
            n += 1;
        }
    }
    w.into_inner().expect("flush");
    (n - 1) * STEP_NS / 1_000_000
}

/// Two restarts over 50 s: seq 174 -> 0 with ts 27840 -> 0 (the issue's), then
/// to an unrelated sequence number and timestamp.
const TWO_RESTARTS: [(u16, u32, u16); 3] = [(0, 0, 175), (0, 0, 1000), (40_000, 1_234_567, 1325)];

#[test]
fn two_restarts_record_one_continuous_wav() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cap = tmp.path().join("restarts.pcap");
    let span_ms = pcmu_capture(&cap, &TWO_RESTARTS);
    let out_dir = tmp.path().join("out");
    // Also validates the manifest against the schema and checks its files on disk.
    let (_, m) = record_manifest_json(&cap, &out_dir, &[]);
    let assets = m["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 1, "{m:#}");
    let a = &assets[0];
    assert_eq!(
        (a["status"].as_str(), a["container"].as_str()),
        (Some("completed"), Some("wav")),
        "{a:#}"
    );
    let duration = a["duration_ms"].as_i64().expect("duration_ms");
    assert!(
        (duration - span_ms).abs() <= 100,
        "file {duration} ms, capture {span_ms} ms"
    );
    let st = &a["stats"];
    let counts = |keys: &[&str]| -> Vec<u64> {
        keys.iter()
            .map(|k| st[k].as_u64().expect("counter"))
            .collect()
    };
    assert_eq!(
        counts(&[
            "packets",
            "restarts",
            "duplicates",
            "late",
            "lost",
            "timestamp_jumps",
            "frames_inserted"
        ]),
        [2500, 2, 0, 0, 0, 0, 0],
        "{st:#}"
    );
}

#[test]
fn streams_counts_restarts_not_duplicates() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cap = tmp.path().join("restarts.pcap");
    pcmu_capture(&cap, &TWO_RESTARTS);
    let out = run(&["streams", "--json", cap.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0));
    let r: Value = json(&out);
    let streams = r["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{r:#}");
    let s = &streams[0];
    let got: Vec<u64> = ["packets", "restarts", "duplicates", "lost", "expected"]
        .iter()
        .map(|k| s[k].as_u64().expect("counter"))
        .collect();
    assert_eq!(got, [2500, 2, 0, 0, 2500], "{s:#}");
}
