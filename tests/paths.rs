//! One SSRC, several paths: one track and one file, with and without metadata;
//! and sessions from presence (a room that empties and fills again).
//! Captures are built here: an ICE switch from a TURN relay to a direct path,
//! a capture taken on a TURN server (client leg in ChannelData, peer leg plain),
//! IPv4 and IPv6 legs, and an ICMP error quoting an RTP packet.

use crate::util::{assert_manifest_matches_disk, files_under, rtprec};
use rtprec::testutil::packet::{LinkKind, push_channel_data, udp_frame};
use rtprec::testutil::writers::{PcapOptions, PcapWriter};
use std::net::SocketAddr;
use std::path::Path;

const T0: i64 = 1_795_428_000_000_000_000;
const SSRC: u32 = 0x1234_5678;
const PACKETS: u16 = 250;

/// A PCMU packet (static payload type 0): 20 ms of 8 kHz samples.
fn pcmu(seq: u16) -> Vec<u8> {
    pcmu_of(SSRC, seq)
}

/// A PCMU packet of `ssrc`.
fn pcmu_of(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..160u32).map(|i| (i * 7 + u32::from(seq)) as u8));
    p
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// Writes a raw-IP pcap of `(time offset ns, src, dst, udp payload)` frames.
fn write_pcap(path: &Path, frames: &[(i64, SocketAddr, SocketAddr, Vec<u8>)]) {
    let file = std::fs::File::create(path).expect("create capture");
    let mut w = PcapWriter::new(
        std::io::BufWriter::new(file),
        PcapOptions {
            nanos: true,
            link_type: LinkKind::Raw.link_type(),
            ..PcapOptions::default()
        },
    )
    .expect("pcap header");
    for (i, (t, src, dst, payload)) in frames.iter().enumerate() {
        let mut f = Vec::new();
        udp_frame(&mut f, LinkKind::Raw, *src, *dst, i as u16, payload).expect("same IP version");
        w.write_packet(T0 + t, &f).expect("write frame");
    }
    w.into_inner().expect("flush");
}

/// Records `capture` (with `args`) and returns the manifest after checking it against the disk.
fn record(capture: &Path, args: &[&str]) -> serde_json::Value {
    // A directory per run: runs into one directory accumulate sessions.
    let out_dir = capture.with_extension(format!("out{}", args.len()));
    let out = rtprec()
        .arg("record")
        .arg(capture)
        .arg("-o")
        .arg(&out_dir)
        .args(args)
        .args(["--events", "none", "--json"])
        .output()
        .expect("rtprec runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("manifest JSON");
    assert_manifest_matches_disk(&m, &out_dir);
    m
}

fn metadata(dir: &Path) -> String {
    let p = dir.join("m.json");
    std::fs::write(
        &p,
        format!(
            r#"{{"room_id": "r", "session_id": "s", "peers": [{{"peer_id": "alice", "tracks": [
               {{"track_id": "mic", "kind": "audio", "ssrc": {SSRC}, "codec": "pcmu", "payload_type": 0}}]}}]}}"#
        ),
    )
    .expect("write metadata");
    p.display().to_string()
}

/// The single asset of a manifest, checked to be one completed WAV of every packet.
fn one_complete_track(m: &serde_json::Value) -> &serde_json::Value {
    let assets = m["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 1, "one SSRC, one track: {m:#}");
    let a = &assets[0];
    assert_eq!(a["status"], "completed", "{a:#}");
    assert_eq!(a["ssrc"], format!("0x{SSRC:08X}"));
    assert_eq!(a["stats"]["packets"], u64::from(PACKETS), "{a:#}");
    assert_eq!(a["stats"]["lost"], 0, "{a:#}");
    assert_eq!(a["stats"]["duplicates"], 0, "{a:#}");
    let ms = a["duration_ms"].as_u64().expect("duration");
    assert!((4990..=5010).contains(&ms), "5 s of audio: {ms}");
    a
}

#[test]
fn an_ice_switch_from_relay_to_direct_is_one_track() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("ice-switch.pcap");
    let (relay, direct, me) = (
        addr("198.51.100.7:3478"),
        addr("192.0.2.10:50000"),
        addr("192.0.2.20:40000"),
    );
    let frames: Vec<_> = (0..PACKETS)
        .map(|seq| {
            let t = i64::from(seq) * 20_000_000;
            // The first 2 s through the TURN relay (ChannelData), then direct.
            if seq < 100 {
                let mut cd = Vec::new();
                push_channel_data(&mut cd, 0x4000, &pcmu(seq), false);
                (t, relay, me, cd)
            } else {
                (t, direct, me, pcmu(seq))
            }
        })
        .collect();
    write_pcap(&cap, &frames);
    for args in [vec![], vec!["-m".to_string(), metadata(tmp.path())]] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let m = record(&cap, &args);
        let a = one_complete_track(&m);
        assert_eq!(a["stats"]["paths"], 2, "{a:#}");
        assert_eq!(a["stats"]["duplicates_other_path"], 0, "{a:#}");
    }
}

#[test]
fn a_capture_on_a_turn_server_sees_each_packet_twice_and_records_it_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("turn-server.pcap");
    let (client, server, server_relay, peer) = (
        addr("192.0.2.10:50000"),
        addr("198.51.100.7:3478"),
        addr("198.51.100.7:61000"),
        addr("203.0.113.5:40000"),
    );
    let mut frames = Vec::new();
    for seq in 0..PACKETS {
        let t = i64::from(seq) * 20_000_000;
        // Client leg: ChannelData to the server; peer leg: relayed as plain UDP 300 us later.
        let mut cd = Vec::new();
        push_channel_data(&mut cd, 0x4001, &pcmu(seq), false);
        frames.push((t, client, server, cd));
        frames.push((t + 300_000, server_relay, peer, pcmu(seq)));
    }
    write_pcap(&cap, &frames);
    for args in [vec![], vec!["-m".to_string(), metadata(tmp.path())]] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let m = record(&cap, &args);
        let a = one_complete_track(&m);
        assert_eq!(a["stats"]["paths"], 2, "{a:#}");
        assert_eq!(
            a["stats"]["duplicates_other_path"],
            u64::from(PACKETS),
            "{a:#}"
        );
    }
}

#[test]
fn ipv4_and_ipv6_legs_of_one_ssrc_are_one_track() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("dual-stack.pcap");
    let (v4, v4dst) = (addr("192.0.2.10:50000"), addr("192.0.2.20:40000"));
    let (v6, v6dst) = (addr("[2001:db8::10]:50000"), addr("[2001:db8::20]:40000"));
    let frames: Vec<_> = (0..PACKETS)
        .map(|seq| {
            let t = i64::from(seq) * 20_000_000;
            // A port change mid-call too: the second half comes from another v6 port.
            match seq {
                0..=79 => (t, v4, v4dst, pcmu(seq)),
                80..=159 => (t, v6, v6dst, pcmu(seq)),
                _ => (t, addr("[2001:db8::10]:50002"), v6dst, pcmu(seq)),
            }
        })
        .collect();
    write_pcap(&cap, &frames);
    let m = record(&cap, &[]);
    let a = one_complete_track(&m);
    assert_eq!(a["stats"]["paths"], 3, "{a:#}");
}

#[test]
fn an_icmp_error_quoting_an_rtp_packet_is_not_media() {
    use rtprec::capture::{CapturedFrame, FrameMeta, Link, LinkType};
    use rtprec::net::{NetConfig, NetDecoder};
    // ICMP port unreachable (type 3, code 3) quoting the IP and UDP headers and
    // the start of an RTP packet, as a host sends back for media to a closed port.
    let mut quoted = Vec::new();
    udp_frame(
        &mut quoted,
        LinkKind::Raw,
        addr("192.0.2.10:50000"),
        addr("192.0.2.20:40000"),
        1,
        &pcmu(7),
    )
    .expect("v4");
    quoted.truncate(20 + 8 + 40);
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&quoted);
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 1, 0, 0, 192, 0, 2, 20, 192, 0, 2, 10,
    ];
    let total = (ip.len() + icmp.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&icmp);
    let frame = CapturedFrame {
        meta: FrameMeta {
            file: rtprec::error::FileId(0),
            index: 1,
            offset: 0,
            time: rtprec::time::CaptureTime::from_nanos(T0),
            link: Link::Pcap(LinkType::RAW),
            orig_len: ip.len() as u32,
        },
        data: &ip,
    };
    let mut net = NetDecoder::new(NetConfig::default());
    let mut datagrams = 0;
    net.push(&frame, &mut |_| datagrams += 1);
    net.finish(&mut |_| datagrams += 1);
    assert_eq!(
        datagrams, 0,
        "an ICMP error is not a datagram of the flow it quotes"
    );
}

/// Alice and Bob talk, everyone leaves, Alice rejoins 40 s later with a new
/// SSRC: two sessions, each with its own id and assets; the first session's
/// files, manifest entries and events come out when Bob leaves.
#[test]
fn a_room_that_empties_and_fills_again_is_two_sessions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("rejoin.pcap");
    let (alice, bob, sfu) = (
        addr("192.0.2.10:50000"),
        addr("192.0.2.11:50000"),
        addr("192.0.2.1:40000"),
    );
    let mut frames = Vec::new();
    for seq in 0..250u16 {
        let t = i64::from(seq) * 20_000_000;
        frames.push((t, alice, sfu, pcmu_of(1, seq)));
        frames.push((t + 1_000_000_000, bob, sfu, pcmu_of(2, seq)));
        frames.push((t + 46_000_000_000, alice, sfu, pcmu_of(3, seq)));
    }
    frames.sort_by_key(|f| f.0);
    write_pcap(&cap, &frames);
    let meta = tmp.path().join("m.json");
    std::fs::write(
        &meta,
        r#"{"room_id": "r", "peers": [
        {"peer_id": "alice", "joined_at": "2026-11-23T10:00:00Z", "left_at": "2026-11-23T10:00:05Z",
         "tracks": [{"track_id": "mic", "kind": "audio", "ssrc": 1, "codec": "pcmu"}]},
        {"peer_id": "bob", "joined_at": "2026-11-23T10:00:01Z", "left_at": "2026-11-23T10:00:06Z",
         "tracks": [{"track_id": "mic", "kind": "audio", "ssrc": 2, "codec": "pcmu"}]},
        {"peer_id": "alice", "joined_at": "2026-11-23T10:00:46Z", "left_at": "2026-11-23T10:00:51Z",
         "tracks": [{"track_id": "mic", "kind": "audio", "ssrc": 3, "codec": "pcmu"}]}]}"#,
    )
    .expect("write metadata");
    let out_dir = tmp.path().join("out");
    let out = rtprec()
        .arg("record")
        .arg(&cap)
        .arg("-o")
        .arg(&out_dir)
        .arg("-m")
        .arg(&meta)
        .output()
        .expect("rtprec runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).expect("manifest"))
            .expect("JSON");
    assert_manifest_matches_disk(&m, &out_dir);
    let got: Vec<(String, String, String)> = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| {
            assert_eq!(a["status"], "completed", "{a:#}");
            assert_eq!(a["stats"]["packets"], 250, "{a:#}");
            (
                a["session_id"].as_str().unwrap_or_default().into(),
                a["peer_id"].as_str().unwrap_or_default().into(),
                a["path"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    let s1 = "s20261123T100000Z";
    let s2 = "s20261123T100046Z";
    assert_eq!(
        got,
        vec![
            (s1.into(), "alice".into(), format!("r/{s1}/alice/mic.wav")),
            (s1.into(), "bob".into(), format!("r/{s1}/bob/mic.wav")),
            (s2.into(), "alice".into(), format!("r/{s2}/alice/mic.wav")),
        ]
    );
    // Events in capture order: the first session's successes before the second session starts.
    let events: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let e: serde_json::Value = serde_json::from_str(l).expect("event JSON");
            (
                e["type"].as_str().unwrap_or_default().into(),
                e["data"]["session_id"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    let started = "track.recording.started.success".to_string();
    let success = "track.recording.success".to_string();
    assert_eq!(
        events,
        vec![
            (started.clone(), s1.into()),
            (started.clone(), s1.into()),
            (success.clone(), s1.into()),
            (success.clone(), s1.into()),
            (started, s2.into()),
            (success, s2.into()),
        ]
    );
}

/// A shell loop recording several captures into one directory: the manifest
/// accumulates their sessions, a capture recorded again replaces its own
/// session's assets and files, and `assets list` sees every file on disk.
#[test]
fn runs_into_one_directory_accumulate_sessions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("out");
    let (a, b, sfu) = (
        addr("192.0.2.10:50000"),
        addr("192.0.2.11:50000"),
        addr("192.0.2.1:40000"),
    );
    let cap_a = tmp.path().join("a.pcap");
    let cap_b = tmp.path().join("b.pcap");
    let frames = |src, ssrc, start_ns: i64| -> Vec<(i64, SocketAddr, SocketAddr, Vec<u8>)> {
        (0..100u16)
            .map(|seq| {
                (
                    start_ns + i64::from(seq) * 20_000_000,
                    src,
                    sfu,
                    pcmu_of(ssrc, seq),
                )
            })
            .collect()
    };
    write_pcap(&cap_a, &frames(a, 1, 0));
    write_pcap(&cap_b, &frames(b, 2, 3_600_000_000_000));
    let record_into = |cap: &Path| {
        let out = rtprec()
            .arg("record")
            .arg(cap)
            .arg("-o")
            .arg(&out_dir)
            .args(["--events", "none", "--json"])
            .output()
            .expect("rtprec runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("manifest JSON");
        assert_manifest_matches_disk(&m, &out_dir);
        m
    };
    record_into(&cap_a);
    let m = record_into(&cap_b);
    let sessions: Vec<&str> = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a["session_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(sessions, ["s20261123T100000Z", "s20261123T110000Z"]);
    assert_eq!(m["inputs"].as_array().map(Vec::len), Some(2));
    // Recording a again replaces its session: still two assets, two files.
    let m = record_into(&cap_a);
    assert_eq!(m["assets"].as_array().map(Vec::len), Some(2));
    let media: Vec<_> = files_under(&out_dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    assert_eq!(media.len(), 2, "{media:?}");
    let listed = rtprec()
        .args(["assets", "list", "--json"])
        .arg(&out_dir)
        .output()
        .expect("rtprec runs");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(
        listed["data"].as_array().map(Vec::len),
        Some(2),
        "{listed:#}"
    );
    assert_eq!(listed["limit"], 2, "{listed:#}");
}

/// Signalling that names a port and payload type the capture does not have:
/// the track's failure says what was expected and which streams were there.
#[test]
fn sdp_that_disagrees_with_the_media_says_so_precisely() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("mismatch.pcap");
    let (src, dst) = (addr("192.0.2.10:50000"), addr("192.0.2.20:40000"));
    let frames: Vec<_> = (0..PACKETS)
        .map(|seq| (i64::from(seq) * 20_000_000, src, dst, pcmu(seq)))
        .collect();
    write_pcap(&cap, &frames);
    let sdp = tmp.path().join("peer.sdp");
    std::fs::write(
        &sdp,
        "v=0\r\no=- 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n\
         m=audio 56823 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n",
    )
    .expect("write sdp");
    let out = rtprec()
        .arg("record")
        .arg(&cap)
        .arg("-o")
        .arg(tmp.path().join("out"))
        .arg("--sdp")
        .arg(&sdp)
        .args(["--events", "none", "--json"])
        .output()
        .expect("rtprec runs");
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("manifest");
    let a = &m["assets"][0];
    assert_eq!(a["error"]["code"], "no-media", "{a:#}");
    let msg = a["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("expected m=audio, PT 8, port 56823"), "{msg}");
    assert!(
        msg.contains(&format!(
            "SSRC 0x{SSRC:08X} PT 0 (audio) on 192.0.2.10:50000 -> 192.0.2.20:40000 ({PACKETS} packets)"
        )),
        "{msg}"
    );
    // The one audio stream is a candidate: the message offers the flag.
    assert!(
        msg.contains("use --match-by-kind to record it as this track"),
        "{msg}"
    );
    // With the flag, the stream is the track: its own payload type and codec, the binding listed.
    let out = rtprec()
        .arg("record")
        .arg(&cap)
        .arg("-o")
        .arg(tmp.path().join("by-kind"))
        .arg("--sdp")
        .arg(&sdp)
        .args(["--match-by-kind", "--events", "none", "--json"])
        .output()
        .expect("rtprec runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("manifest");
    let a = &m["assets"][0];
    assert_eq!(a["status"], "completed", "{a:#}");
    assert_eq!(
        (a["codec"].as_str(), a["payload_type"].as_u64()),
        (Some("pcmu"), Some(0))
    );
    assert_eq!(a["stats"]["packets"], u64::from(PACKETS), "{a:#}");
    let inferred: Vec<&str> = a["inferred"]
        .as_array()
        .expect("inferred")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(inferred.contains(&"ssrc (by kind)"), "{inferred:?}");
    assert_manifest_matches_disk(&m, &tmp.path().join("by-kind"));
}

/// The shared membrane capture (VP8, PT 96, to port 5004) with an SDP that says
/// port 56823 and PT 98: not matched, and the message names the stream and the
/// flag; with --match-by-kind it is recorded as the SDP's video track.
#[test]
fn match_by_kind_records_a_real_capture_whose_sdp_disagrees() {
    let Some(cap) = crate::util::shared("membrane_input_vp8.pcap") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let sdp = tmp.path().join("peer.sdp");
    std::fs::write(
        &sdp,
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=video 56823 RTP/AVP 98\r\na=rtpmap:98 VP8/90000\r\n",
    )
    .expect("write sdp");
    let run = |out: &str, extra: &[&str]| {
        let o = rtprec()
            .arg("record")
            .arg(&cap)
            .arg("-o")
            .arg(tmp.path().join(out))
            .arg("--sdp")
            .arg(&sdp)
            .args(extra)
            .args(["--events", "none", "--json"])
            .output()
            .expect("rtprec runs");
        let m: serde_json::Value = serde_json::from_slice(&o.stdout).expect("manifest");
        (o.status.code(), m)
    };
    let (code, m) = run("plain", &[]);
    assert_eq!(code, Some(4));
    let msg = m["assets"][0]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    // As the README shows it.
    assert_eq!(
        msg,
        "no RTP packet of this track was captured (expected m=video, PT 98, port 56823); \
         the capture has 1 stream(s) the SDP does not name, not matched: SSRC 0x62F601FF \
         PT 96 (video) on 192.168.0.248:63257 -> 192.168.0.241:5004 (410 packets); it is \
         the only unmatched video stream: use --match-by-kind to record it as this track"
    );
    let (code, m) = run("by-kind", &["--match-by-kind"]);
    assert_eq!(code, Some(0), "{m:#}");
    let a = &m["assets"][0];
    assert_eq!(
        (
            a["status"].as_str(),
            a["codec"].as_str(),
            a["ssrc"].as_str()
        ),
        (Some("completed"), Some("vp8"), Some("0x62F601FF"))
    );
    assert!(
        a["inferred"]
            .as_array()
            .expect("inferred")
            .iter()
            .any(|v| v == "ssrc (by kind)"),
        "{a:#}"
    );
}
