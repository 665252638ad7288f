//! Repair: RFC 4588 retransmissions restore lost packets before depacketization.

use crate::util::*;
use serde_json::json;
use std::path::Path;

/// 100 Opus packets; 5 are lost and retransmitted 60 ms later on the RTX SSRC, one
/// is lost and never retransmitted, and one that did arrive is retransmitted anyway.
fn rtx_capture(path: &Path) {
    use rtprec::testutil::packet::{LinkKind, udp_frame};
    use rtprec::testutil::rtp::RtpBuilder;
    use rtprec::testutil::writers::{PcapOptions, PcapWriter};
    let mut w =
        PcapWriter::new(std::fs::File::create(path).unwrap(), PcapOptions::default()).unwrap();
    let t0 = 1_795_428_000_000_000_000i64;
    let (src, dst) = (
        "10.0.0.1:4000".parse().unwrap(),
        "10.0.0.9:5000".parse().unwrap(),
    );
    let opus = [0xfc, 0xff, 0xfe];
    let lost = [10u16, 11, 40, 70, 71];
    let mut packets: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut rtx_seq = 500u16;
    for i in 0..100u16 {
        let t = t0 + i64::from(i) * 20_000_000;
        let media = RtpBuilder::new(111, 1000 + i, u32::from(i) * 960, 0x1111_1111).build(&opus);
        if i != 90 && !lost.contains(&i) {
            packets.push((t, media));
        }
        if lost.contains(&i) || i == 50 {
            let mut payload = (1000 + i).to_be_bytes().to_vec();
            payload.extend_from_slice(&opus);
            packets.push((
                t + 60_000_000,
                RtpBuilder::new(97, rtx_seq, u32::from(i) * 960, 0x1111_2222).build(&payload),
            ));
            rtx_seq += 1;
        }
    }
    packets.sort_by_key(|p| p.0);
    let mut frame = Vec::new();
    for (n, (t, pkt)) in packets.iter().enumerate() {
        frame.clear();
        udp_frame(&mut frame, LinkKind::Ethernet, src, dst, n as u16, pkt);
        w.write_packet(*t, &frame).unwrap();
    }
    w.into_inner().unwrap();
}

#[test]
fn rtx_restores_lost_packets_and_drops_retransmitted_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("rtx.pcap");
    rtx_capture(&cap);
    let meta = tmp.path().join("m.json");
    std::fs::write(
        &meta,
        serde_json::to_vec(
            &json!({"room_id": "r", "session_id": "s", "peers": [{"peer_id": "p", "tracks": [
            {"track_id": "mic", "kind": "audio", "ssrc": "0x11111111", "rtx_ssrc": "0x11112222",
             "codec": "opus", "payload_type": 111, "rtx_payload_type": 97}]}]}),
        )
        .unwrap(),
    )
    .unwrap();
    let out = rtprec()
        .arg("record")
        .arg(&cap)
        .arg("-m")
        .arg(&meta)
        .arg("-o")
        .arg(tmp.path().join("out"))
        .args(["--events", "none", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = json(&out);
    assert_eq!(
        m["assets"].as_array().unwrap().len(),
        1,
        "the RTX stream is not a track"
    );
    let st = &m["assets"][0]["stats"];
    // 94 originals arrived; 5 of the 6 missing were retransmitted in time; packet 90 stays lost.
    assert_eq!(st["packets"], 94);
    assert_eq!(st["recovered"], 5);
    assert_eq!(st["lost"], 1);
    assert_eq!(st["duplicates"], 1);
    assert_eq!(st["frames_written"], 99);
    assert_eq!(
        st["frames_inserted"], 1,
        "the one unrecovered packet is concealed"
    );
}
