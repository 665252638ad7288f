//! `rtprec record --metadata/--sdp`: who is who, path-safe ids, clear errors.

use crate::util::*;
use serde_json::{Value, json};
use std::path::Path;

fn record_with(capture: &Path, extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = rtprec()
        .arg("record")
        .arg(capture)
        .arg("-o")
        .arg(dir.path())
        .args(extra)
        .output()
        .unwrap();
    (out, dir)
}

fn manifest(dir: &Path) -> Value {
    let m = serde_json::from_slice(
        &std::fs::read(dir.join("manifest.json")).expect("manifest written"),
    )
    .unwrap();
    crate::util::assert_manifest_matches_disk(&m, dir);
    m
}

fn write_json(dir: &Path, name: &str, v: &Value) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

/// The asset id rtprec documents: first 128 bits of SHA-256 over the ids, NUL-separated.
fn expected_id(parts: [&str; 4]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn metadata_names_rooms_peers_and_tracks() {
    let meta = testdata("media-opus-vp8.session.json");
    let (out, dir) = record_with(
        &testdata("media-opus-vp8.pcap"),
        &["-m", meta.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = manifest(dir.path());
    assert_eq!(m["identification"], "metadata");
    let assets = m["assets"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = assets
        .iter()
        .map(|a| {
            (
                a["track_id"].as_str().unwrap(),
                a["path"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "alice-cam",
                "demo-room/demo-session/alice/alice-cam.webm",
                "completed"
            ),
            (
                "alice-mic",
                "demo-room/demo-session/alice/alice-mic.ogg",
                "completed"
            ),
        ]
    );
    for a in assets {
        assert_eq!(a["inferred"], json!([]));
        assert_eq!(
            a["id"],
            expected_id([
                "demo-room",
                "demo-session",
                "alice",
                a["track_id"].as_str().unwrap()
            ])
        );
        assert!(dir.path().join(a["path"].as_str().unwrap()).is_file());
    }
    assert_eq!(
        assets[0]["resolution"],
        json!({"width": 320, "height": 240})
    );
    assert_eq!(assets[1]["stats"]["packets"], 201);
}

#[test]
fn sdp_without_ssrc_binds_the_stream_by_port() {
    let (Some(cap), Some(sdp)) = (
        shared("membrane_input_vp8.pcap"),
        shared("membrane_input_vp8.sdp"),
    ) else {
        return;
    };
    let (out, dir) = record_with(&cap, &["--sdp", sdp.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = manifest(dir.path());
    assert_eq!(m["identification"], "sdp");
    assert_eq!(m["assets"].as_array().unwrap().len(), 1);
    let a = &m["assets"][0];
    assert_eq!(
        (a["codec"].as_str(), a["ssrc"].as_str()),
        (Some("vp8"), Some("0x62F601FF"))
    );
    assert_eq!(a["stats"]["frames_written"], 300);
}

#[test]
fn metadata_codec_rtprec_cannot_record_fails_that_track_only() {
    let Some(cap) = shared("str0m_h266.pcap") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let meta = write_json(
        tmp.path(),
        "m.json",
        &json!({"room_id": "r", "session_id": "s", "peers": [{"peer_id": "p", "tracks": [
            {"track_id": "cam", "kind": "video", "ssrc": "0x061DB301", "codec": "h266", "payload_type": 96},
            {"track_id": "absent", "kind": "audio", "ssrc": 1234, "codec": "opus", "payload_type": 111}
        ]}]}),
    );
    let (out, dir) = record_with(&cap, &["-m", meta.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let m = manifest(dir.path());
    let by_track = |id: &str| {
        m["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["track_id"] == id)
            .unwrap()
            .clone()
    };
    let cam = by_track("cam");
    assert_eq!(cam["error"]["code"], "unsupported-codec");
    assert!(cam["error"]["message"].as_str().unwrap().contains("h266"));
    assert_eq!(cam["stats"]["packets"], 323);
    assert_eq!(by_track("absent")["error"]["code"], "no-media");
    // Failed tracks leave no file behind.
    let files: Vec<_> = walk(dir.path());
    assert_eq!(files, ["manifest.json", "timeline.json"]);
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn ids_that_would_escape_the_output_directory_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    for (field, bad) in [
        ("room_id", "../up"),
        ("peer_id", "/abs"),
        ("track_id", "a/b"),
        ("track_id", ".."),
    ] {
        let mut v = json!({"room_id": "r", "session_id": "s", "peers": [{"peer_id": "p", "tracks": [
            {"track_id": "t", "kind": "audio", "ssrc": 1, "codec": "opus"}]}]});
        match field {
            "room_id" => v["room_id"] = json!(bad),
            "peer_id" => v["peers"][0]["peer_id"] = json!(bad),
            _ => v["peers"][0]["tracks"][0]["track_id"] = json!(bad),
        }
        let meta = write_json(tmp.path(), "bad.json", &v);
        let out_dir = tmp.path().join("out");
        let out = rtprec()
            .args([
                "record",
                testdata("media-opus-vp8.pcap").to_str().unwrap(),
                "-o",
            ])
            .arg(&out_dir)
            .arg("-m")
            .arg(&meta)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{field}={bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("bad.json") && err.contains(field),
            "{field}={bad}: {err}"
        );
        assert!(
            !out_dir.exists(),
            "nothing is written for rejected metadata"
        );
    }
}

#[test]
fn malformed_metadata_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = tmp.path().join("broken.json");
    std::fs::write(
        &meta,
        "{\n  \"room_id\": \"r\",\n  \"peers\": [ oops ]\n}\n",
    )
    .unwrap();
    let (out, _dir) = record_with(
        &testdata("media-opus-vp8.pcap"),
        &["-m", meta.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.json") && err.contains("line 3"),
        "{err}"
    );
}

#[test]
fn streams_missing_from_metadata_are_reported_not_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = write_json(
        tmp.path(),
        "m.json",
        &json!({"room_id": "r", "session_id": "s", "peers": [{"peer_id": "p", "tracks": [
            {"track_id": "mic", "kind": "audio", "ssrc": "0xB2C7016A", "codec": "opus", "payload_type": 111}]}]}),
    );
    let (out, dir) = record_with(
        &testdata("media-opus-vp8.pcap"),
        &["-m", meta.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0xB7426D2C (PT 96, "));
    assert_eq!(manifest(dir.path())["assets"].as_array().unwrap().len(), 1);
}

#[test]
fn metadata_and_sdp_together_is_a_usage_error() {
    let out = run(&["record", "x.pcap", "-m", "a.json", "--sdp", "b.sdp"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A BUNDLE-style capture: one Opus SSRC that no SDP line names, carrying MID "a1"
/// in a one-byte header extension (id 4), and a second stream with MID "zz".
fn bundle_capture(path: &Path) {
    use rtprec::testutil::packet::{LinkKind, udp_frame};
    use rtprec::testutil::rtp::RtpBuilder;
    use rtprec::testutil::writers::{PcapOptions, PcapWriter};
    let mut w =
        PcapWriter::new(std::fs::File::create(path).unwrap(), PcapOptions::default()).unwrap();
    let (src, dst) = (
        "10.0.0.1:5000".parse().unwrap(),
        "10.0.0.2:6000".parse().unwrap(),
    );
    let mut frame = Vec::new();
    for i in 0..50u16 {
        for (ssrc, mid) in [(0x1111_1111u32, &b"a1"[..]), (0x2222_2222, &b"zz"[..])] {
            let pkt = RtpBuilder::new(111, 100 + i, u32::from(i) * 960, ssrc)
                .ext(4, mid)
                .build(&[0xfc, 0xff, 0xfe]);
            frame.clear();
            udp_frame(&mut frame, LinkKind::Ethernet, src, dst, i, &pkt);
            w.write_packet(
                1_795_428_000_000_000_000 + i64::from(i) * 20_000_000,
                &frame,
            )
            .unwrap();
        }
    }
    w.into_inner().unwrap();
}

#[test]
fn sdp_without_ssrc_binds_bundled_streams_by_mid() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("bundle.pcap");
    bundle_capture(&cap);
    let sdp = tmp.path().join("alice.sdp");
    std::fs::write(
        &sdp,
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a1\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:a1\r\na=sendonly\r\n\
         a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=rtpmap:111 opus/48000/2\r\n",
    )
    .unwrap();
    let (out, dir) = record_with(&cap, &["--sdp", sdp.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = manifest(dir.path());
    let assets = m["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 1, "{m:#}");
    assert_eq!(
        (assets[0]["peer_id"].as_str(), assets[0]["ssrc"].as_str()),
        (Some("alice"), Some("0x11111111"))
    );
    assert_eq!(assets[0]["stats"]["packets"], 50);
    // The stream with another MID is not in the SDP: reported, not recorded.
    assert!(String::from_utf8_lossy(&out.stderr).contains("0x22222222 (PT "));
}
