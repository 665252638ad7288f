//! Issue #11 points 8 and 9: RED restores by timestamp offset (RFC 2198 §3) at
//! any distance, and a failed track keeps its counters in the manifest.

use crate::util::*;
use rtprec::testutil::Rng;
use rtprec::testutil::media::{MediaKind, Packetizer, StreamSpec};
use std::path::Path;

/// 2026-11-23T10:00:00Z.
const T0: i64 = 1_795_428_000_000_000_000;

/// Writes `(capture time, RTP bytes)` as an Ethernet/UDP pcap from 10.0.0.1:4000 to 10.0.0.9:5000.
fn write_capture(path: &Path, packets: Vec<(i64, Vec<u8>)>) {
    crate::repair::write_capture(path, packets, |_| "10.0.0.1:4000");
}

/// VP8 whose only keyframe was never captured (the capture starts after it),
/// with about 40% of the remaining packets lost: the track fails `no-keyframe`.
fn vp8_without_keyframe(path: &Path) {
    let mut spec = StreamSpec::new(MediaKind::Vp8, 0x5555_5555);
    spec.keyframe_interval = 100_000;
    let mut p = Packetizer::new(spec, 11);
    let mut rng = Rng::new(40);
    let (mut pool, mut out, mut packets) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..150 {
        out.clear();
        p.next_frame(&mut pool, &mut out);
        for mp in &out {
            if mp.keyframe || rng.chance(0.4) {
                continue;
            }
            packets.push((T0 + n * 33_333_333 + mp.offset_ns, mp.bytes.clone()));
        }
    }
    write_capture(path, packets);
}

/// Records `cap` with one declared track, returning the manifest (exit 0, or 4 when a track failed).
fn record_with(tmp: &Path, cap: &Path, track: serde_json::Value) -> serde_json::Value {
    let meta = tmp.join("meta.json");
    let doc = serde_json::json!({"room_id": "r", "session_id": "s",
        "peers": [{"peer_id": "p", "tracks": [track]}]});
    std::fs::write(&meta, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = rtprec()
        .arg("record")
        .arg(cap)
        .arg("-o")
        .arg(tmp.join("out"))
        .arg("-m")
        .arg(&meta)
        .args(["--events", "none", "--json"])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 4)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

/// The `rtprec streams --json` entry of `ssrc`.
fn stream_of(cap: &Path, ssrc: &str) -> serde_json::Value {
    let v = json(&run(&["streams", cap.to_str().unwrap(), "--json"]));
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ssrc"] == ssrc)
        .cloned()
        .unwrap_or_else(|| panic!("no stream {ssrc} in {v:#}"))
}

#[test]
fn a_failed_track_keeps_its_loss_counters() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("nokey.pcap");
    vp8_without_keyframe(&cap);
    let m = record_with(
        tmp.path(),
        &cap,
        serde_json::json!({"track_id": "cam", "kind": "video", "ssrc": "0x55555555",
            "codec": "vp8", "payload_type": 96}),
    );
    let a = &m["assets"][0];
    assert_eq!(a["status"], "failed");
    assert_eq!(a["error"]["code"], "no-keyframe");
    let s = stream_of(&cap, "0x55555555");
    assert!(s["lost"].as_u64().unwrap() > 100, "{s:#}");
    for k in ["packets", "lost", "duplicates"] {
        assert_eq!(a["stats"][k], s[k], "{k}");
    }
}

/// Opus in RED as GStreamer `rtpredenc distance=2` sends it: each packet repeats
/// the one two back (timestamp offset 1920). Every lost packet has its repeat.
fn red_distance2_capture(path: &Path, lost: &[u16]) {
    use rtprec::testutil::rtp::RtpBuilder;
    let opus = |i: u16| {
        let [hi, lo] = i.to_be_bytes();
        [0xfc, hi, lo]
    };
    let mut packets = Vec::new();
    for i in (0..200u16).filter(|i| !lost.contains(i)) {
        let mut red = Vec::new();
        if i >= 2 {
            // F=1, PT 111, offset 1920 (14 bits), length 3 (10 bits); then the primary's header.
            red.extend_from_slice(&[0x80 | 111, (1920u16 >> 6) as u8, 0, 3, 111]);
            red.extend_from_slice(&opus(i - 2));
        } else {
            red.push(111);
        }
        red.extend_from_slice(&opus(i));
        let pkt = RtpBuilder::new(63, 7000 + i, 5000 + u32::from(i) * 960, 0x6666_6666).build(&red);
        packets.push((T0 + i64::from(i) * 20_000_000, pkt));
    }
    write_capture(path, packets);
}

#[test]
fn red_at_distance_two_restores_every_lost_packet() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("red2.pcap");
    // 21 lost, never a packet and the one two after it.
    let lost: Vec<u16> = (0..21).map(|k| 5 + k * 9).collect();
    red_distance2_capture(&cap, &lost);
    let m = record_with(
        tmp.path(),
        &cap,
        serde_json::json!({"track_id": "mic", "kind": "audio", "ssrc": "0x66666666",
            "codec": "opus", "payload_type": 111, "red_payload_type": 63}),
    );
    let st = &m["assets"][0]["stats"];
    assert_eq!(m["assets"][0]["status"], "completed");
    assert_eq!(st["recovered_red"], 21);
    assert_eq!(st["lost"], 0);
    assert_eq!(st["duplicates"], 0);
    assert_eq!(st["frames_written"], 200);
    let path = tmp
        .path()
        .join("out")
        .join(m["assets"][0]["path"].as_str().unwrap());
    let mut r = ogg::PacketReader::new(std::fs::File::open(path).unwrap());
    let mut frames = 0;
    while let Some(p) = r.read_packet().unwrap() {
        frames += usize::from(p.data.first() == Some(&0xfc));
    }
    assert_eq!(frames, 200, "frames in the Ogg == sent");
}
