//! Hostile input (#13): a capture of 100,000 one-packet SSRCs around a real
//! stream. Both commands finish, warn naming the cap, and still report the
//! real stream. Peak memory itself is measured by benches/hostile.sh. And
//! thousands of tracks recording at once under a low open-file limit.

use crate::util::*;
use rtprec::testutil::packet::{LinkKind, udp_frame};
use rtprec::testutil::writers::{PcapOptions, PcapWriter};
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;

/// 2026-11-23T10:00:00Z in nanoseconds since the Unix epoch.
const T0: i64 = 1_795_428_000_000_000_000;

/// An RTP packet of payload type `pt` with `payload`.
fn rtp(pt: u8, ssrc: u32, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// 100,000 one-packet SSRCs (20-byte payloads, 10 us apart, 1 s in all) from
/// distinct ports, and 4 s of PCMU (SSRC 0xAA) from 10.0.0.1:5000 among them.
fn write_capture(path: &Path) {
    let file = BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut w = PcapWriter::new(file, PcapOptions::default()).expect("header");
    let dst: SocketAddr = "10.0.0.2:40000".parse().expect("addr");
    let real: SocketAddr = "10.0.0.1:5000".parse().expect("addr");
    let mut frame = Vec::new();
    let mut seq = 0u16;
    let mut next_real = T0;
    let mut put = |w: &mut PcapWriter<_>, src: SocketAddr, time: i64, pkt: &[u8]| {
        frame.clear();
        udp_frame(&mut frame, LinkKind::Ethernet, src, dst, 0, pkt).expect("frame");
        w.write_packet(time, &frame).expect("write");
    };
    for i in 0..100_000u32 {
        let time = T0 + i64::from(i) * 10_000;
        while next_real <= time {
            let payload: Vec<u8> = (0..160u32)
                .map(|b| (b * 7 + u32::from(seq)) as u8)
                .collect();
            let pkt = rtp(0, 0xAA, seq, u32::from(seq) * 160, &payload);
            put(&mut w, real, next_real, &pkt);
            seq += 1;
            next_real += 20_000_000;
        }
        let src = SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 1024 + (i % 60_000) as u16));
        let pkt = rtp(96, 0x1000_0000 + i, (i * 7) as u16, i, &[i as u8; 20]);
        put(&mut w, src, time, &pkt);
    }
    // The real stream goes on for 3 s after the flood.
    while next_real < T0 + 4_000_000_000 {
        let payload: Vec<u8> = (0..160u32)
            .map(|b| (b * 7 + u32::from(seq)) as u8)
            .collect();
        let pkt = rtp(0, 0xAA, seq, u32::from(seq) * 160, &payload);
        put(&mut w, real, next_real, &pkt);
        seq += 1;
        next_real += 20_000_000;
    }
    w.into_inner().expect("flush").flush().expect("flush");
}

#[test]
fn a_hundred_thousand_one_packet_ssrcs_hit_the_caps_with_a_warning() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("ssrcs.pcap");
    write_capture(&cap);
    assert!(std::fs::metadata(&cap).expect("size").len() < 20 << 20);
    let cap_s = cap.to_str().expect("utf-8 path");

    let out = run(&["streams", cap_s, "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("streams cap") && stderr.contains("10000 streams"),
        "{stderr}"
    );
    let v = json(&out);
    let ssrcs: Vec<&str> = v["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter_map(|s| s["ssrc"].as_str())
        .collect();
    assert_eq!(ssrcs, ["0x000000AA"]);
    assert_eq!(v["streams"][0]["packets"], 200);
    assert!(
        v["classified"]["streams_dropped"].as_u64().unwrap_or(0) >= 90_000,
        "{v}"
    );

    let dir = tmp.path().join("out");
    let out = run(&["record", cap_s, "-o", dir.to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("pending caps") && stderr.contains("[pending-cap]"),
        "{stderr}"
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("manifest parses");
    let assets = m["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 1, "{m}");
    assert_eq!(assets[0]["track_id"], "audio-000000aa");
    assert_eq!(assets[0]["status"], "completed");
}

/// PCMU packets per track, sent round-robin so that every track is recording at once.
const PACKETS_PER_TRACK: u16 = 3;

/// Session metadata naming `peers` x `per_peer` PCMU tracks (SSRC
/// 0x10000000 + n) and a capture where each sends `PACKETS_PER_TRACK`
/// packets, one round of all tracks every 20 ms.
fn write_many_tracks(cap: &Path, meta: &Path, peers: u32, per_peer: u32) {
    let ssrc = |peer: u32, t: u32| 0x1000_0000 + peer * per_peer + t;
    let peer_list: Vec<serde_json::Value> = (0..peers)
        .map(|p| {
            let tracks: Vec<serde_json::Value> = (0..per_peer)
                .map(|t| {
                    serde_json::json!({"track_id": format!("t{t:04}"), "kind": "audio",
                        "ssrc": ssrc(p, t), "codec": "pcmu", "payload_type": 0})
                })
                .collect();
            serde_json::json!({"peer_id": format!("p{p:02}"), "tracks": tracks})
        })
        .collect();
    let m = serde_json::json!({"room_id": "r", "session_id": "s", "peers": peer_list});
    std::fs::write(meta, serde_json::to_vec(&m).expect("json")).expect("write metadata");

    let file = BufWriter::new(std::fs::File::create(cap).expect("create"));
    let mut w = PcapWriter::new(file, PcapOptions::default()).expect("header");
    let dst: SocketAddr = "10.0.0.2:40000".parse().expect("addr");
    let mut frame = Vec::new();
    let tracks = i64::from(peers * per_peer);
    for seq in 0..PACKETS_PER_TRACK {
        let payload: Vec<u8> = (0..160u16).map(|b| (b * 7 + seq) as u8).collect();
        for p in 0..peers {
            let src = SocketAddr::from(([10, 0, 1, p as u8], 5000));
            for t in 0..per_peer {
                let n = i64::from(p * per_peer + t);
                let time = T0 + i64::from(seq) * 20_000_000 + n * 20_000_000 / tracks;
                let pkt = rtp(0, ssrc(p, t), seq, u32::from(seq) * 160, &payload);
                frame.clear();
                udp_frame(&mut frame, LinkKind::Ethernet, src, dst, 0, &pkt).expect("frame");
                w.write_packet(time, &frame).expect("write");
            }
        }
    }
    w.into_inner().expect("flush").flush().expect("flush");
}

/// Records `peers` x `per_peer` tracks, all recording at once, with at most
/// `nofile` descriptors (`ulimit -n`), and checks that every track completed.
fn record_many_tracks_under(peers: u32, per_peer: u32, nofile: u32) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("tracks.pcap");
    let meta = tmp.path().join("session.json");
    write_many_tracks(&cap, &meta, peers, per_peer);
    let dir = tmp.path().join("out");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(r#"ulimit -n {nofile} && exec "$0" "$@""#))
        .arg(env!("CARGO_BIN_EXE_rtprec"))
        .arg("record")
        .arg(&cap)
        .arg("-m")
        .arg(&meta)
        .arg("-o")
        .arg(&dir)
        .args(["--events", "none", "--jobs", "2"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("sh runs");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("manifest parses");
    let assets = m["assets"].as_array().expect("assets");
    let completed = assets.iter().filter(|a| a["status"] == "completed").count();
    let failed: Vec<&serde_json::Value> = assets
        .iter()
        .filter(|a| a["status"] != "completed")
        .take(2)
        .collect();
    let n = (peers * per_peer) as usize;
    // Before the descriptor budget: 250 of 20,000 under 256 (os error 24 for the rest).
    assert_eq!(
        (assets.len(), completed),
        (n, n),
        "first failures: {failed:?}"
    );
    assert_eq!(out.status.code(), Some(0));
    assert_manifest_matches_disk(&m, &dir);
    // Every file holds its 3 packets: a 44-byte header and 480 16-bit samples.
    let a = &assets[n / 2];
    assert_eq!(
        a["size"],
        44 + 2 * 160 * u64::from(PACKETS_PER_TRACK),
        "{a}"
    );
}

/// Issue #13: the open-file limit used to cap the tracks of a run (every track
/// kept its output file open). 4,096 tracks recording at once (a session's
/// cap without metadata) under a limit of 64 descriptors all complete.
#[test]
fn four_thousand_tracks_record_under_64_open_files() {
    record_many_tracks_under(4, 1_024, 64);
}

/// The issue's numbers, as README promises them: 20,000 tracks under
/// `ulimit -n 256`. About 40 s in a debug build (each file is synced), on one
/// core: in every run, since the README says it.
#[test]
fn twenty_thousand_tracks_record_under_256_open_files() {
    record_many_tracks_under(20, 1_000, 256);
}
