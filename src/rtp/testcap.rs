//! Test-only: UDP payloads of the shared real captures (Ethernet pcap/pcapng only).
//!
//! Reads with `pcap_parser` and `etherparse` directly, because the real
//! readers (`capture/`, `net/`) are written in parallel. Other link types are
//! skipped: TURN, TCP and raw-IP captures need the real `net/` stage.

use etherparse::{SlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapCapture, PcapNGCapture};

/// Directory of the shared captures, beside the worktree.
pub(crate) const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures/");

/// UDP payloads of `name`, or `None` (with a printed reason) when the corpus is absent.
///
/// Panics when the corpus is absent and `CI` is set: CI must run these tests.
pub(crate) fn udp_payloads(name: &str) -> Option<Vec<Vec<u8>>> {
    let path = format!("{CAPTURES}{name}");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but {path} is unreadable: {e}"
            );
            eprintln!("skipping: {path}: {e}");
            return None;
        }
    };
    let mut frames: Vec<&[u8]> = Vec::new();
    if let Ok(cap) = PcapCapture::from_file(&bytes) {
        assert_eq!(
            cap.header.network,
            Linktype::ETHERNET,
            "{name}: only Ethernet is supported here"
        );
        frames.extend(cap.blocks.iter().map(|b| b.data));
    } else {
        let cap = PcapNGCapture::from_file(&bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        for section in &cap.sections {
            let mut links = Vec::new();
            for block in &section.blocks {
                match block {
                    Block::InterfaceDescription(idb) => links.push(idb.linktype),
                    Block::EnhancedPacket(epb)
                        if links.get(epb.if_id as usize) == Some(&Linktype::ETHERNET) =>
                    {
                        frames.push(epb.data)
                    }
                    _ => {}
                }
            }
        }
    }
    let payloads = frames
        .into_iter()
        .filter_map(|f| match SlicedPacket::from_ethernet(f).ok()?.transport? {
            TransportSlice::Udp(u) => Some(unwrap_channel_data(u.payload()).to_vec()),
            _ => None,
        })
        .collect();
    Some(payloads)
}

/// The data of a TURN ChannelData message (RFC 8656 §12.4), or the datagram itself.
fn unwrap_channel_data(d: &[u8]) -> &[u8] {
    if let [0x40..=0x4F, _, l0, l1, rest @ ..] = d {
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        if let Some(inner) = rest.get(..len) {
            return inner;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::udp_payloads;
    use crate::rtp::rtcp::{self, RtcpPacket};
    use crate::rtp::{PacketClass, RtpPacket, Ssrc, classify};
    use std::collections::BTreeSet;

    #[test]
    fn str0m_vp8_header_extensions() {
        let Some(all) = udp_payloads("str0m_vp8.pcap") else {
            return;
        };
        let mut ids = BTreeSet::new();
        let mut n = 0;
        for d in all.iter().filter(|d| classify(d) == PacketClass::Rtp) {
            let p = RtpPacket::parse(d).expect("every packet of str0m_vp8.pcap is valid RTP");
            assert_eq!(p.ssrc(), Ssrc(0xEEDF3944));
            let exts = p.extensions();
            assert!(exts.is_valid());
            ids.extend(exts.map(|e| e.id));
            n += 1;
        }
        assert_eq!(n, 104);
        assert_eq!(ids, BTreeSet::from([2, 3, 4, 9, 10]));
    }

    #[test]
    fn rtcp_compounds_in_captures() {
        // (file, packet types in order, SR time as Unix seconds). The senders' clocks are
        // off: rtpproxy's is 1970-01-01 09:28 (tshark 4.0 agrees). ndpi_sip's SR carries
        // NTP seconds 1_120_471_986, which is Unix time 2005-07-04 written into the NTP
        // field; tshark applies the RFC 4330 era rule and shows 2071, we keep era 0.
        let cases: &[(&str, &[u8], f64)] = &[
            ("rtpproxy_rtcp.o.pcap", &[200, 202], 34_081.918),
            ("ndpi_sip.pcap", &[200, 202, 203], -1_088_517_813.629),
        ];
        for (file, want, sr_time) in cases {
            let Some(all) = udp_payloads(file) else {
                return;
            };
            let mut types = Vec::new();
            for d in all.iter().filter(|d| classify(d) == PacketClass::Rtcp) {
                for p in rtcp::compound(d) {
                    let p = p.unwrap_or_else(|e| panic!("{file}: {e}"));
                    if let RtcpPacket::SenderReport(sr) = &p {
                        let unix = sr.ntp.as_unix_secs_f64();
                        assert!((unix - sr_time).abs() < 0.001, "{file}: NTP {unix}");
                    }
                    types.push(p.packet_type());
                }
            }
            assert_eq!(types, *want, "{file}");
        }
    }
}
