//! Link layers: strips the link header and says what network protocol follows.
//!
//! Ethernet II (tags are left to etherparse, which walks 0x8100/0x88a8/0x9100),
//! Linux cooked SLL and SLL2, raw IP (DLT 101, 12, 14, 228, 229), BSD NULL and
//! LOOP. SLL is parsed by hand because etherparse's `LinuxSllSlice` rejects
//! ARPHRD types it does not know (loopback 772, tun 0xFFFE, PPP 512), which
//! `tcpdump -i any` captures are full of; the protocol field is an EtherType
//! for all of those.

use crate::capture::LinkType;
use etherparse::{EtherType, Ethernet2Header, LinuxSllHeader};

/// What follows the link header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPayload<'a> {
    /// A network packet of this EtherType (VLAN tags possibly still in front).
    Ether(EtherType, &'a [u8]),
    /// A protocol other than IP (ARP, LLC, ...).
    NotIp,
    /// The frame is shorter than its link header.
    Truncated,
    /// A link type this decoder does not know.
    Unsupported,
}

/// SLL2 header length (tcpdump.org LINKTYPE_LINUX_SLL2).
const SLL2_HEADER_LEN: usize = 20;
/// Smallest value of an EtherType; smaller values are 802.3 lengths or SLL special protocols.
const MIN_ETHER_TYPE: u16 = 0x0600;

/// BSD address families that mean IPv4 and IPv6 (tcpdump.org LINKTYPE_NULL:
/// IPv6 is 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on Darwin).
fn family_to_ether_type(family: u32) -> Option<EtherType> {
    match family {
        2 => Some(EtherType::IPV4),
        24 | 28 | 30 => Some(EtherType::IPV6),
        _ => None,
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn ether(proto: u16, rest: &[u8]) -> LinkPayload<'_> {
    if proto < MIN_ETHER_TYPE {
        LinkPayload::NotIp
    } else {
        LinkPayload::Ether(EtherType(proto), rest)
    }
}

/// Strips the link header of a frame of `link` type.
pub fn strip(link: LinkType, data: &[u8]) -> LinkPayload<'_> {
    match link {
        LinkType::ETHERNET => match (be16(data, 12), data.get(Ethernet2Header::LEN..)) {
            (Some(t), Some(rest)) => ether(t, rest),
            _ => LinkPayload::Truncated,
        },
        LinkType::LINUX_SLL => match (be16(data, 14), data.get(LinuxSllHeader::LEN..)) {
            (Some(t), Some(rest)) => ether(t, rest),
            _ => LinkPayload::Truncated,
        },
        // SLL2: protocol type first, then reserved, ifindex, ARPHRD, packet type, address.
        LinkType::LINUX_SLL2 => match (be16(data, 0), data.get(SLL2_HEADER_LEN..)) {
            (Some(t), Some(rest)) => ether(t, rest),
            _ => LinkPayload::Truncated,
        },
        LinkType::RAW
        | LinkType::RAW_ALT12
        | LinkType::RAW_ALT14
        | LinkType::IPV4
        | LinkType::IPV6 => {
            // The version nibble decides, whatever the DLT claims (DLT 228 files with IPv6 exist).
            match data.first().map(|b| b >> 4) {
                Some(4) => LinkPayload::Ether(EtherType::IPV4, data),
                Some(6) => LinkPayload::Ether(EtherType::IPV6, data),
                Some(_) => LinkPayload::NotIp,
                None => LinkPayload::Truncated,
            }
        }
        // NULL is in the capturing host's byte order and LOOP in network order,
        // but files moved between hosts get both wrong: accept either.
        LinkType::NULL | LinkType::LOOP => {
            let (Some(h), Some(rest)) = (data.get(..4), data.get(4..)) else {
                return LinkPayload::Truncated;
            };
            let h = [h[0], h[1], h[2], h[3]];
            match family_to_ether_type(u32::from_le_bytes(h))
                .or_else(|| family_to_ether_type(u32::from_be_bytes(h)))
            {
                Some(t) => LinkPayload::Ether(t, rest),
                None => LinkPayload::NotIp,
            }
        }
        _ => LinkPayload::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LinkPayload::*;

    const IP4: &[u8] = &[0x45, 0, 0, 20];
    const IP6: &[u8] = &[0x60, 0, 0, 0];

    #[test]
    fn link_table() {
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(IP4);
        let mut eth_vlan = vec![0u8; 12];
        eth_vlan.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
        let mut eth_arp = vec![0u8; 12];
        eth_arp.extend_from_slice(&[0x08, 0x06, 1]);
        let mut eth_8023 = vec![0u8; 12];
        eth_8023.extend_from_slice(&[0x00, 0x40, 1]);
        let mut sll = vec![0, 0, 0x03, 0x04, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xDD];
        sll.extend_from_slice(IP6);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0; 18]);
        sll2.extend_from_slice(IP4);
        let null_le = [&[2u8, 0, 0, 0][..], IP4].concat();
        let null_be = [&[0u8, 0, 0, 2][..], IP4].concat();
        let null_v6 = [&[30u8, 0, 0, 0][..], IP6].concat();
        let loop_v6 = [&[0u8, 0, 0, 24][..], IP6].concat();
        let null_other = [&[7u8, 0, 0, 0][..], IP4].concat();

        let cases: Vec<(LinkType, &[u8], LinkPayload<'_>)> = vec![
            (LinkType::ETHERNET, &eth, Ether(EtherType::IPV4, IP4)),
            (
                LinkType::ETHERNET,
                &eth_vlan,
                Ether(EtherType::VLAN_TAGGED_FRAME, &eth_vlan[14..]),
            ),
            (
                LinkType::ETHERNET,
                &eth_arp,
                Ether(EtherType::ARP, &eth_arp[14..]),
            ),
            (LinkType::ETHERNET, &eth_8023, NotIp),
            (LinkType::ETHERNET, &eth[..13], Truncated),
            (LinkType::ETHERNET, &eth[..14], Ether(EtherType::IPV4, &[])),
            (LinkType::LINUX_SLL, &sll, Ether(EtherType::IPV6, IP6)),
            (LinkType::LINUX_SLL, &sll[..15], Truncated),
            (LinkType::LINUX_SLL2, &sll2, Ether(EtherType::IPV4, IP4)),
            (LinkType::LINUX_SLL2, &sll2[..19], Truncated),
            (LinkType::RAW, IP4, Ether(EtherType::IPV4, IP4)),
            (LinkType::RAW, IP6, Ether(EtherType::IPV6, IP6)),
            (LinkType::IPV4, IP6, Ether(EtherType::IPV6, IP6)),
            (LinkType::IPV6, IP6, Ether(EtherType::IPV6, IP6)),
            (LinkType::RAW_ALT12, IP4, Ether(EtherType::IPV4, IP4)),
            (LinkType::RAW_ALT14, IP4, Ether(EtherType::IPV4, IP4)),
            (LinkType::RAW, &[0x30], NotIp),
            (LinkType::RAW, &[], Truncated),
            (LinkType::NULL, &null_le, Ether(EtherType::IPV4, IP4)),
            (LinkType::NULL, &null_be, Ether(EtherType::IPV4, IP4)),
            (LinkType::NULL, &null_v6, Ether(EtherType::IPV6, IP6)),
            (LinkType::NULL, &null_other, NotIp),
            (LinkType::NULL, &null_le[..3], Truncated),
            (LinkType::LOOP, &loop_v6, Ether(EtherType::IPV6, IP6)),
            (LinkType::LOOP, &null_be, Ether(EtherType::IPV4, IP4)),
            (LinkType(147), IP4, Unsupported),
        ];
        for (i, (link, data, want)) in cases.into_iter().enumerate() {
            assert_eq!(strip(link, data), want, "case {i} ({link:?})");
        }
    }
}
