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
