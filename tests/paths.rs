//! One SSRC, several paths: one track and one file, with and without metadata.
//! Captures are built here: an ICE switch from a TURN relay to a direct path,
//! a capture taken on a TURN server (client leg in ChannelData, peer leg plain),
//! IPv4 and IPv6 legs, and an ICMP error quoting an RTP packet.

use crate::util::{assert_manifest_matches_disk, rtprec};
use rtprec::testutil::packet::{LinkKind, push_channel_data, udp_frame};
use rtprec::testutil::writers::{PcapOptions, PcapWriter};
use std::net::SocketAddr;
use std::path::Path;

const T0: i64 = 1_795_428_000_000_000_000;
const SSRC: u32 = 0x1234_5678;
const PACKETS: u16 = 250;

/// A PCMU packet (static payload type 0): 20 ms of 8 kHz samples.
fn pcmu(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
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
    let out_dir = capture.with_extension("out");
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
