//! The SRTP captures of `../shared/captures/` (keys from its README, "SRTP keys at a
//! glance"), read with rtprec's own capture and network stages: every packet of each
//! keyed SSRC must authenticate, and the decrypted payloads must look like the codec.

use super::*;
use crate::capture::CaptureSet;
use crate::codec::{Codec, CodecGuesser};
use crate::net::NetDecoder;
use crate::rtp::{PacketClass, RtpPacket, classify};
use std::collections::BTreeMap;
use std::path::PathBuf;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures/");

/// (file, SSRC, base64 key), all AES_CM_128_HMAC_SHA1_80.
const KEYS: &[(&str, u32, &str)] = &[
    (
        "rtpproxy_alice_srtp.pcap",
        0x2A1AD144,
        "9sOd+W72ilwfNgNt0FzlGYj6YZPMqN1sJJx43UuS",
    ),
    (
        "rtpproxy_bob_srtp.pcap",
        0xC2F6A014,
        "NhqBK/JjtVJgmOgPyDKpvMTEjvFCQ4eiyVQelF6x",
    ),
    (
        "srtpdec_WebRTC_PCMA_p2p_SDES_Call_1.pcap",
        0xD092D296,
        "7SYMKhu8sVMhCr4VXh+ZqkteB01QgqDSgLr4L9iU",
    ),
    (
        "srtpdec_WebRTC_PCMA_p2p_SDES_Call_1.pcap",
        0x522B93AB,
        "bhn3DDDcf7GhHEnFkGLW9V223XncT60nJrTQK06x",
    ),
    (
        "srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap",
        0xED42A10F,
        "Dyx7iKCU5AiJVgclTHa2wjdB6GwL7RtvihVePyoJ",
    ),
    (
        "srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap",
        0x15CBA085,
        "x+rWLABtQ+BQGVnLII8eIdpdlApQp6SnXREVx/e5",
    ),
    (
        "srtpdec_udp_call_02_03_client.pcap",
        0x1C065362,
        "NjZiYTBmY2FmOGE2ZGU3MmVlMzM4ZDQ0OGVhMTI0",
    ),
    (
        "srtpdec_udp_call_02_03_client.pcap",
        0x1C065364,
        "YTEzNjhhMTNmNWUxMjljZTg3MTEyNWQ2YTE2ODQ2",
    ),
    (
        "srtpdec_wifi-tcp_to_3g.pcap",
        0x3482B39F,
        "ZGRjMTA4OWRkYWJmMGJhM2YxZWQ1MjExODJmMTVl",
    ),
    (
        "srtpdec_wifi-tcp_to_3g.pcap",
        0x3482B3A1,
        "ZmVlOWQwMGJhNDIxMzcyZmVlM2U0NTllMmZiMzM4",
    ),
];

/// Per SSRC of one capture: SRTP and SRTCP counters and one guesser per payload type.
#[derive(Default)]
struct Result1 {
    rtp: SrtpStats,
    rtcp: SrtpStats,
    guessers: BTreeMap<u8, CodecGuesser>,
    /// Payload of the first decrypted packet.
    first_payload: Vec<u8>,
    /// Every decrypted payload byte.
    bytes: Vec<u8>,
}

/// Decrypts every keyed packet of `file`, or `None` (skipped) when the corpus is absent
/// outside CI. `wrong_key` replaces every key by another valid one.
fn decrypt(file: &str, wrong_key: bool) -> Option<BTreeMap<u32, Result1>> {
    if !std::path::Path::new(DIR).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{DIR} is missing and CI is set"
        );
        println!("skipped: {DIR} is absent (set CI to make this a failure)");
        return None;
    }
    let mut ctxs: BTreeMap<u32, SrtpContext> = KEYS
        .iter()
        .filter(|k| k.0 == file)
        .map(|&(_, ssrc, key)| {
            let key = if wrong_key {
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            } else {
                key
            };
            (
                ssrc,
                SrtpContext::from_base64("AES_CM_128_HMAC_SHA1_80", key).unwrap(),
            )
        })
        .collect();
    let mut set = CaptureSet::open(&[PathBuf::from(format!("{DIR}{file}"))])
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut net = NetDecoder::default();
    let mut out: BTreeMap<u32, Result1> = BTreeMap::new();
    let mut plain = Vec::new();
    let mut take = |d: crate::net::Datagram<'_>| {
        let p = d.payload;
        let class = classify(p);
        if !matches!(class, PacketClass::Rtp | PacketClass::Rtcp) {
            return;
        }
        let at = if class == PacketClass::Rtp { 8 } else { 4 };
        let ssrc = u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        let Some(ctx) = ctxs.get_mut(&ssrc) else {
            return;
        };
        let r = out.entry(ssrc).or_default();
        if class == PacketClass::Rtcp {
            let _ = ctx.decrypt_rtcp(p, &mut plain);
            r.rtcp = ctx.rtcp_stats(ssrc);
            return;
        }
        if ctx.decrypt_rtp(p, &mut plain).is_ok() {
            let pkt = RtpPacket::parse(&plain).expect("decrypted RTP parses");
            if r.rtp.authenticated == 0 {
                r.first_payload = pkt.payload().to_vec();
            }
            r.bytes.extend_from_slice(pkt.payload());
            r.guessers
                .entry(pkt.payload_type())
                .or_insert_with(|| CodecGuesser::new(pkt.payload_type()))
                .push(pkt.marker(), pkt.timestamp(), pkt.payload());
        }
        r.rtp = ctx.stats(ssrc);
    };
    while let Some(frame) = set.next_frame().unwrap_or_else(|e| panic!("{file}: {e}")) {
        net.push(&frame, &mut take);
    }
    net.finish(&mut take);
    Some(out)
}

/// (file, SSRC, SRTP packets, SRTCP packets, payload type, codec): every packet of
/// each keyed SSRC authenticates, none fails.
type Expect = (&'static str, u32, u64, u64, u8, Codec);

const EXPECTED: &[Expect] = &[
    (
        "rtpproxy_alice_srtp.pcap",
        0x2A1AD144,
        1556,
        0,
        9,
        Codec::G722,
    ),
    (
        "rtpproxy_bob_srtp.pcap",
        0xC2F6A014,
        1564,
        0,
        9,
        Codec::G722,
    ),
    (
        "srtpdec_WebRTC_PCMA_p2p_SDES_Call_1.pcap",
        0xD092D296,
        272,
        5,
        8,
        Codec::Pcma,
    ),
    (
        "srtpdec_WebRTC_PCMA_p2p_SDES_Call_1.pcap",
        0x522B93AB,
        238,
        3,
        8,
        Codec::Pcma,
    ),
    (
        "srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap",
        0xED42A10F,
        659,
        10,
        8,
        Codec::Pcma,
    ),
    (
        "srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap",
        0x15CBA085,
        609,
        6,
        8,
        Codec::Pcma,
    ),
    (
        "srtpdec_udp_call_02_03_client.pcap",
        0x1C065362,
        1600,
        14,
        111,
        Codec::Opus,
    ),
    (
        "srtpdec_udp_call_02_03_client.pcap",
        0x1C065364,
        1571,
        8,
        111,
        Codec::Opus,
    ),
    (
        "srtpdec_wifi-tcp_to_3g.pcap",
        0x3482B39F,
        506,
        4,
        111,
        Codec::Opus,
    ),
    (
        "srtpdec_wifi-tcp_to_3g.pcap",
        0x3482B3A1,
        508,
        2,
        111,
        Codec::Opus,
    ),
];

/// Frame duration in ms of an Opus TOC byte (RFC 6716 §3.1, table 2).
fn opus_frame_ms(toc: u8) -> f32 {
    let config = toc >> 3;
    match config {
        0..=11 => [10.0, 20.0, 40.0, 60.0][usize::from(config % 4)],
        12..=15 => [10.0, 20.0][usize::from(config % 2)],
        _ => [2.5, 5.0, 10.0, 20.0][usize::from(config % 4)],
    }
}

#[test]
fn shared_srtp_captures_authenticate_and_decode() {
    let mut files: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    files.dedup();
    for file in files {
        let Some(res) = decrypt(file, false) else {
            return;
        };
        for &(_, ssrc, rtp, rtcp, pt, codec) in EXPECTED.iter().filter(|e| e.0 == file) {
            let r = res
                .get(&ssrc)
                .unwrap_or_else(|| panic!("{file}: no ssrc {ssrc:08X}"));
            let g = r.guessers.get(&pt).map(|g| g.guess());
            println!(
                "{file} ssrc=0x{ssrc:08X}: srtp {}/{} authenticated, srtcp {}/{}, pt {pt}: {:?}",
                r.rtp.authenticated,
                r.rtp.authenticated + r.rtp.auth_failures,
                r.rtcp.authenticated,
                r.rtcp.authenticated + r.rtcp.auth_failures,
                g.as_ref().map(|g| g.codec),
            );
            let want = SrtpStats {
                authenticated: rtp,
                auth_failures: 0,
            };
            assert_eq!(r.rtp, want, "{file} ssrc={ssrc:08X}");
            let want = SrtpStats {
                authenticated: rtcp,
                auth_failures: 0,
            };
            assert_eq!(r.rtcp, want, "{file} ssrc={ssrc:08X} SRTCP");
            assert_eq!(
                g.and_then(|g| g.codec),
                Some(codec),
                "{file} ssrc={ssrc:08X}"
            );
            let first = &r.first_payload;
            if codec == Codec::Opus {
                assert_eq!(
                    opus_frame_ms(first[0]),
                    20.0,
                    "{file}: TOC {:#04x}",
                    first[0]
                );
            } else {
                // Static payload types are guessed from the number alone: check that the
                // plain samples are far from uniform (ciphertext would be), i.e. the 16
                // commonest byte values cover more than 4 times their uniform share.
                let mut counts = [0u64; 256];
                for &b in &r.bytes {
                    counts[usize::from(b)] += 1;
                }
                counts.sort_unstable_by(|a, b| b.cmp(a));
                let top: u64 = counts[..16].iter().sum();
                let share = top as f64 / r.bytes.len() as f64;
                println!("{file} ssrc=0x{ssrc:08X}: top-16 byte share {share:.2}");
                assert!(
                    share > 0.25,
                    "{file} ssrc={ssrc:08X}: looks random ({share:.2})"
                );
            }
        }
    }
}

#[test]
fn shared_srtp_captures_with_a_wrong_key_fail_every_packet() {
    let Some(res) = decrypt("srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap", true) else {
        return;
    };
    for (ssrc, r) in &res {
        println!("wrong key ssrc=0x{ssrc:08X}: {:?} {:?}", r.rtp, r.rtcp);
        assert_eq!(r.rtp.authenticated, 0);
        assert!(r.rtp.auth_failures > 500, "{:?}", r.rtp);
    }
    assert_eq!(res.len(), 2);
}
