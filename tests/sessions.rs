//! Sessions: a room that empties (no media for the idle time) and fills again
//! is two sessions, each with its own id and assets.

use crate::util::*;
use std::path::Path;

/// One peer's Opus: 2 s, silence on the wire for `gap_s`, 2 s more (same SSRC); a second
/// peer joins the second session only.
fn two_session_capture(path: &Path, gap_s: i64) {
    use rtprec::testutil::packet::{LinkKind, udp_frame};
    use rtprec::testutil::rtp::RtpBuilder;
    use rtprec::testutil::writers::{PcapOptions, PcapWriter};
    let mut w =
        PcapWriter::new(std::fs::File::create(path).unwrap(), PcapOptions::default()).unwrap();
    let t0 = 1_795_428_000_000_000_000i64; // 2026-11-23T10:00:00Z
    let mut frame = Vec::new();
    let mut put = |ssrc: u32, src: &str, seq: u16, ts: u32, t: i64| {
        let pkt = RtpBuilder::new(111, seq, ts, ssrc).build(&[0xfc, 0xff, 0xfe]);
        frame.clear();
        udp_frame(
            &mut frame,
            LinkKind::Ethernet,
            src.parse().unwrap(),
            "10.0.0.9:5000".parse().unwrap(),
            seq,
            &pkt,
        );
        w.write_packet(t, &frame).unwrap();
    };
    for i in 0..100u16 {
        put(
            0x1111_1111,
            "10.0.0.1:4000",
            i,
            u32::from(i) * 960,
            t0 + i64::from(i) * 20_000_000,
        );
    }
    let t1 = t0 + 2_000_000_000 + gap_s * 1_000_000_000;
    for i in 0..100u16 {
        let t = t1 + i64::from(i) * 20_000_000;
        put(
            0x1111_1111,
            "10.0.0.1:4000",
            100 + i,
            (100 + u32::from(i)) * 960 + 48_000 * gap_s as u32,
            t,
        );
        put(
            0x2222_2222,
            "10.0.0.2:4000",
            i,
            u32::from(i) * 960,
            t + 1_000_000,
        );
    }
    w.into_inner().unwrap();
}

fn record(
    cap: &Path,
    extra: &[&str],
) -> (
    std::process::Output,
    serde_json::Value,
    Vec<serde_json::Value>,
) {
    let dir = tempfile::tempdir().unwrap();
    let out = rtprec()
        .arg("record")
        .arg(cap)
        .arg("-o")
        .arg(dir.path())
        .args(extra)
        .output()
        .unwrap();
    let manifest =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    crate::util::assert_manifest_matches_disk(&manifest, dir.path());
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out, manifest, events)
}

#[test]
fn an_idle_gap_longer_than_the_timeout_starts_a_new_session() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("two.pcap");
    two_session_capture(&cap, 40);
    let (out, m, events) = record(&cap, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<(&str, &str, i64, u64)> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["session_id"].as_str().unwrap(),
                a["track_id"].as_str().unwrap(),
                a["start_offset_ms"].as_i64().unwrap(),
                a["stats"]["packets"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("s20261123T100000Z", "audio-11111111", 0, 100),
            ("s20261123T100042Z", "audio-11111111", 0, 100),
            ("s20261123T100042Z", "audio-22222222", 1, 100),
        ]
    );
    // Each session's tracks end (terminal events) before the next session's begin.
    let seq: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["data"]["session_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seq,
        [
            ("track.recording.started.success", "s20261123T100000Z"),
            ("track.recording.success", "s20261123T100000Z"),
            ("track.recording.started.success", "s20261123T100042Z"),
            ("track.recording.started.success", "s20261123T100042Z"),
            ("track.recording.success", "s20261123T100042Z"),
            ("track.recording.success", "s20261123T100042Z"),
        ]
    );
}

#[test]
fn a_gap_shorter_than_the_timeout_keeps_one_asset_with_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("one.pcap");
    two_session_capture(&cap, 10);
    let (out, m, _) = record(&cap, &[]);
    assert_eq!(out.status.code(), Some(0));
    let assets = m["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 2);
    let a = &assets[0];
    assert_eq!(
        (a["track_id"].as_str(), a["stats"]["packets"].as_u64()),
        (Some("audio-11111111"), Some(200))
    );
    // The 10 s pause stays on the timeline: 2 s + 10 s + 2 s of audio.
    let d = a["duration_ms"].as_u64().unwrap();
    assert!((13_950..=14_010).contains(&d), "{d}");
    // No packet is missing across it: a pause, not loss.
    assert_eq!(
        (a["stats"]["pauses"].as_u64(), a["stats"]["lost"].as_u64()),
        (Some(1), Some(0))
    );
    let paused = a["stats"]["paused_ms"].as_u64().unwrap();
    assert!((10_000..=10_040).contains(&paused), "{paused}");
    // --idle-timeout 5 splits the same capture.
    let (_, m, _) = record(&cap, &["--idle-timeout", "5"]);
    assert_eq!(m["assets"].as_array().unwrap().len(), 3);
}

#[test]
fn a_template_narrows_what_is_recorded_and_lists_the_rest_as_skipped() {
    let meta = testdata("demo-2peers-opus-vp8.session.json");
    let (out, m, events) = record(
        &testdata("demo-2peers-opus-vp8.pcap"),
        &["-m", meta.to_str().unwrap(), "--only-role", "host"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Vec<(&str, &str)> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["track_id"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("alice-cam", "completed"),
            ("alice-mic", "completed"),
            ("bob-cam", "skipped"),
            ("bob-mic", "skipped")
        ]
    );
    let bob = &m["assets"][2];
    assert_eq!(bob["error"]["code"], "skipped");
    assert!(
        bob["error"]["message"]
            .as_str()
            .unwrap()
            .contains("role \"guest\"")
    );
    assert!(bob["path"].is_null() && bob["stats"]["packets"].as_u64().unwrap() > 0);
    assert!(
        events.iter().all(|e| e["data"]["peer_id"] == "alice"),
        "skipped tracks get no events"
    );
    assert_eq!(events.len(), 4);

    // A template file: audio only, Opus in WebM.
    let tmp = tempfile::tempdir().unwrap();
    let tpl = tmp.path().join("t.json");
    std::fs::write(&tpl, r#"{"kinds": ["audio"], "audio_container": "webm"}"#).unwrap();
    let dir = tmp.path().join("out");
    let out = rtprec()
        .args([
            "record",
            testdata("media-opus-vp8.pcap").to_str().unwrap(),
            "--events",
            "none",
            "--template",
        ])
        .arg(&tpl)
        .arg("-o")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let a = &m["assets"][0];
    assert_eq!(
        (a["container"].as_str(), a["status"].as_str()),
        (Some("webm"), Some("completed"))
    );
    assert_eq!(m["assets"][1]["status"], "skipped");
    if have_tool("ffmpeg") {
        let f = dir.join(a["path"].as_str().unwrap());
        let o = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&f)
            .args(["-f", "null", "-"])
            .output()
            .unwrap();
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // A bad template is bad input.
    std::fs::write(&tpl, r#"{"kindz": []}"#).unwrap();
    let out = rtprec()
        .args(["record", "x.pcap", "--template"])
        .arg(&tpl)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("t.json"));
}

#[test]
fn metadata_presence_bounds_what_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = tmp.path().join("m.json");
    std::fs::write(
        &meta,
        serde_json::to_vec(&serde_json::json!({"room_id": "r", "session_id": "s", "peers": [{"peer_id": "alice",
            "joined_at": "2026-11-23T10:00:01Z", "left_at": "2026-11-23T10:00:03Z", "tracks": [
            {"track_id": "mic", "kind": "audio", "ssrc": "0xB2C7016A", "codec": "opus", "payload_type": 111}]}]}))
        .unwrap(),
    )
    .unwrap();
    let (out, m, _) = record(
        &testdata("media-opus-vp8.pcap"),
        &["-m", meta.to_str().unwrap()],
    );
    assert!(
        matches!(out.status.code(), Some(0)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = &m["assets"][0];
    let (inside, outside) = (
        a["stats"]["packets"].as_u64().unwrap(),
        a["stats"]["outside_presence"].as_u64().unwrap(),
    );
    assert_eq!(inside + outside, 201);
    assert!(
        (99..=101).contains(&inside),
        "2 s of 20 ms packets inside the presence: {inside}"
    );
    assert!(a["started_at"].as_str().unwrap() >= "2026-11-23T10:00:01.000Z");
    assert!(a["stopped_at"].as_str().unwrap() <= "2026-11-23T10:00:03.000Z");
    // The session starts when the peer joins: its first packet is at offset 0..20 ms.
    let off = a["start_offset_ms"].as_i64().unwrap();
    assert!((0..=20).contains(&off), "{off}");
}

/// Manifest and events of the demo recording, byte for byte, against tests/snapshots/
/// (refresh with RTPREC_UPDATE_SNAPSHOTS=1 after an intended change, and review the diff).
#[test]
fn manifest_and_events_snapshots() {
    let meta = testdata("media-opus-vp8.session.json");
    let dir = tempfile::tempdir().unwrap();
    let out = rtprec()
        .arg("record")
        .arg(testdata("media-opus-vp8.pcap"))
        .args(["-m", meta.to_str().unwrap(), "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    // The input path is the only machine-dependent field.
    manifest["inputs"] = serde_json::json!(["media-opus-vp8.pcap"]);
    manifest["generator"] = serde_json::json!("rtprec");
    let got = [
        (
            "demo-manifest.json",
            serde_json::to_string_pretty(&manifest).unwrap() + "\n",
        ),
        ("demo-events.ndjson", String::from_utf8(out.stdout).unwrap()),
    ];
    let snap_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    for (name, text) in got {
        let path = snap_dir.join(name);
        if std::env::var_os("RTPREC_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            want == text,
            "{name} differs from tests/snapshots/{name}:\n{text}"
        );
    }
}

#[test]
fn camera_mic_and_screen_are_three_assets_and_screen_can_be_picked() {
    // Alice publishes mic + camera + screen (her second video stream, here bob's SSRC).
    let tmp = tempfile::tempdir().unwrap();
    let meta = tmp.path().join("m.json");
    std::fs::write(
        &meta,
        serde_json::to_vec(&serde_json::json!({"room_id": "r", "session_id": "s", "peers": [{"peer_id": "alice", "role": "host", "tracks": [
            {"track_id": "mic", "kind": "audio", "ssrc": "0xDF45471F", "codec": "opus", "payload_type": 111},
            {"track_id": "cam", "kind": "video", "ssrc": "0x5B006D8E", "codec": "vp8", "payload_type": 96},
            {"track_id": "screen", "kind": "video", "source": "screen", "ssrc": 2232804064u32, "codec": "vp8", "payload_type": 96}]}]}))
        .unwrap(),
    )
    .unwrap();
    let cap = testdata("demo-2peers-opus-vp8.pcap");
    let (out, m, events) = record(&cap, &["-m", meta.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<(&str, &str, &str)> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["track_id"].as_str().unwrap(),
                a["source"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("cam", "regular", "completed"),
            ("mic", "regular", "completed"),
            ("screen", "screen", "completed")
        ]
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "track.recording.success")
            .count(),
        3
    );
    assert!(events.iter().any(|e| e["data"]["source"] == "screen"));
    let (_, m, _) = record(
        &cap,
        &["-m", meta.to_str().unwrap(), "--only-source", "screen"],
    );
    let status: Vec<&str> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["skipped", "skipped", "completed"]);
}
