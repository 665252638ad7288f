//! Link-layer frames around IPv4/IPv6 UDP and TCP, IP fragments, RFC 4571 and TURN framing.
//!
//! Builders append to a caller-owned `Vec<u8>`: a frame is the link header,
//! then the IP header, then the transport header and payload, with lengths and
//! checksums filled in. Addresses are [`SocketAddr`]s; source and destination
//! of one packet must be of the same IP version (a mismatch is `None`, not a panic).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Link layer to put around IP packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkKind {
    /// Ethernet II.
    #[default]
    Ethernet,
    /// Ethernet with one 802.1Q tag carrying this VLAN id.
    Vlan(u16),
    /// Ethernet with an 802.1ad outer tag and an 802.1Q inner tag (QinQ).
    QinQ(u16, u16),
    /// Linux cooked capture v1 (16-byte header).
    Sll,
    /// Linux cooked capture v2 (20-byte header).
    Sll2,
    /// Raw IP, no link header (LINKTYPE_RAW 101).
    Raw,
    /// BSD loopback: 4-byte address family in little-endian host order.
    Null,
}

impl LinkKind {
    /// The LINKTYPE_* number for pcap/pcapng headers.
    pub fn link_type(self) -> u32 {
        match self {
            LinkKind::Ethernet | LinkKind::Vlan(_) | LinkKind::QinQ(..) => 1,
            LinkKind::Sll => 113,
            LinkKind::Sll2 => 276,
            LinkKind::Raw => 101,
            LinkKind::Null => 0,
        }
    }

    /// Length of the link header in bytes.
    pub fn header_len(self) -> usize {
        match self {
            LinkKind::Ethernet => 14,
            LinkKind::Vlan(_) => 18,
            LinkKind::QinQ(..) => 22,
            LinkKind::Sll => 16,
            LinkKind::Sll2 => 20,
            LinkKind::Raw => 0,
            LinkKind::Null => 4,
        }
    }
}

/// A MAC address derived from an IP address (locally administered, stable).
pub fn mac_for(ip: IpAddr) -> [u8; 6] {
    let o = match ip {
        IpAddr::V4(v) => v.octets(),
        IpAddr::V6(v) => {
            let o = v.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// Appends a link header for an IP packet from `src` to `dst`.
pub fn push_link_header(out: &mut Vec<u8>, link: LinkKind, src: IpAddr, dst: IpAddr) {
    let v6 = src.is_ipv6();
    let ethertype: u16 = if v6 { 0x86DD } else { 0x0800 };
    match link {
        LinkKind::Ethernet | LinkKind::Vlan(_) | LinkKind::QinQ(..) => {
            out.extend_from_slice(&mac_for(dst));
            out.extend_from_slice(&mac_for(src));
            match link {
                LinkKind::Vlan(id) => {
                    out.extend_from_slice(&0x8100u16.to_be_bytes());
                    out.extend_from_slice(&(id & 0x0fff).to_be_bytes());
                }
                LinkKind::QinQ(outer, inner) => {
                    out.extend_from_slice(&0x88A8u16.to_be_bytes());
                    out.extend_from_slice(&(outer & 0x0fff).to_be_bytes());
                    out.extend_from_slice(&0x8100u16.to_be_bytes());
                    out.extend_from_slice(&(inner & 0x0fff).to_be_bytes());
                }
                _ => {}
            }
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        LinkKind::Sll => {
            out.extend_from_slice(&0u16.to_be_bytes()); // packet type: to us
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.extend_from_slice(&6u16.to_be_bytes());
            out.extend_from_slice(&mac_for(src));
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        LinkKind::Sll2 => {
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(&[0, 0]); // reserved
            out.extend_from_slice(&2u32.to_be_bytes()); // interface index
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.push(0); // packet type: to us
            out.push(6);
            out.extend_from_slice(&mac_for(src));
            out.extend_from_slice(&[0, 0]);
        }
        LinkKind::Raw => {}
        LinkKind::Null => {
            // AF_INET 2; AF_INET6 is 24 on NetBSD/OpenBSD (28 FreeBSD, 30 macOS).
            let af: u32 = if v6 { 24 } else { 2 };
            out.extend_from_slice(&af.to_le_bytes());
        }
    }
}

/// IP protocol numbers used here.
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_V6_FRAG: u8 = 44;

/// One's-complement sum of `data` as big-endian 16-bit words, added to `acc`.
fn sum16(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_be_bytes(c.try_into().expect("chunks_exact(8) yields 8 bytes"));
        acc += (v >> 48) + ((v >> 32) & 0xffff) + ((v >> 16) & 0xffff) + (v & 0xffff);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [b] = pairs.remainder() {
        acc += u64::from(*b) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    fold(sum16(0, data))
}

fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u64 {
    let mut acc = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum16(acc, &s.octets());
            acc = sum16(acc, &d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            acc = sum16(acc, &s.octets());
            acc = sum16(acc, &d.octets());
        }
        _ => {}
    }
    acc + u64::from(proto) + len as u64
}

/// Appends a 20-byte IPv4 header (no options) with its checksum.
pub fn push_ipv4_header(
    out: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    payload_len: usize,
    id: u16,
    frag: u16,
) {
    let start = out.len();
    let total = (20 + payload_len).min(0xffff) as u16;
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&frag.to_be_bytes());
    out.extend_from_slice(&[64, proto, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let c = checksum(&out[start..start + 20]);
    out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
}

/// Appends a 40-byte IPv6 header.
pub fn push_ipv6_header(
    out: &mut Vec<u8>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    payload_len: usize,
) {
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&(payload_len.min(0xffff) as u16).to_be_bytes());
    out.extend_from_slice(&[next, 64]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
}

/// Appends an IP header of the right version; `None` if the versions differ.
fn push_ip_header(
    out: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    payload_len: usize,
    id: u16,
) -> Option<()> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            push_ipv4_header(out, s, d, proto, payload_len, id, 0x4000)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => push_ipv6_header(out, s, d, proto, payload_len),
        _ => return None,
    }
    Some(())
}

/// Appends a UDP header and payload with the checksum over the pseudo header.
pub fn push_udp(out: &mut Vec<u8>, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
    let start = out.len();
    let len = 8 + payload.len();
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&(len.min(0xffff) as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let mut c = fold(sum16(
        pseudo_sum(src.ip(), dst.ip(), PROTO_UDP, len),
        &out[start..],
    ));
    if c == 0 {
        c = 0xffff; // RFC 768: a computed zero is sent as all ones
    }
    out[start + 6..start + 8].copy_from_slice(&c.to_be_bytes());
}

/// Appends a whole link frame holding one UDP datagram; `None` if IP versions differ.
pub fn udp_frame(
    out: &mut Vec<u8>,
    link: LinkKind,
    src: SocketAddr,
    dst: SocketAddr,
    ip_id: u16,
    payload: &[u8],
) -> Option<()> {
    push_link_header(out, link, src.ip(), dst.ip());
    push_ip_header(out, src.ip(), dst.ip(), PROTO_UDP, 8 + payload.len(), ip_id)?;
    push_udp(out, src, dst, payload);
    Some(())
}

/// Splits a UDP datagram into at most `n` IP fragments, each a whole link frame.
///
/// IPv4 uses the MF flag and 8-byte fragment offsets; IPv6 a Fragment extension
/// header (RFC 8200 §4.5) with identification `id`. Concatenating the fragment
/// payloads gives back the UDP header plus `payload`. Returns fewer fragments
/// when the datagram is too short to cut `n` ways on 8-byte boundaries.
pub fn udp_fragments(
    link: LinkKind,
    src: SocketAddr,
    dst: SocketAddr,
    id: u32,
    payload: &[u8],
    n: usize,
) -> Option<Vec<Vec<u8>>> {
    if src.is_ipv4() != dst.is_ipv4() {
        return None;
    }
    let mut dgram = Vec::with_capacity(8 + payload.len());
    push_udp(&mut dgram, src, dst, payload);
    let n = n.max(1);
    let piece = dgram.len().div_ceil(n).div_ceil(8).max(1) * 8;
    let mut frames = Vec::new();
    let mut off = 0;
    while off < dgram.len() {
        let end = (off + piece).min(dgram.len());
        let more = end < dgram.len();
        let chunk = &dgram[off..end];
        let mut f = Vec::with_capacity(link.header_len() + 48 + chunk.len());
        push_link_header(&mut f, link, src.ip(), dst.ip());
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let frag = ((off / 8) as u16 & 0x1fff) | if more { 0x2000 } else { 0 };
                push_ipv4_header(&mut f, s, d, PROTO_UDP, chunk.len(), id as u16, frag);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                push_ipv6_header(&mut f, s, d, PROTO_V6_FRAG, 8 + chunk.len());
                f.extend_from_slice(&[PROTO_UDP, 0]);
                f.extend_from_slice(&((off as u16 & 0xfff8) | u16::from(more)).to_be_bytes());
                f.extend_from_slice(&id.to_be_bytes());
            }
            _ => return None,
        }
        f.extend_from_slice(chunk);
        frames.push(f);
        off = end;
    }
    Some(frames)
}

/// TCP flag bits.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// Appends a whole link frame holding one TCP segment; `None` if IP versions differ.
#[allow(clippy::too_many_arguments)]
pub fn tcp_frame(
    out: &mut Vec<u8>,
    link: LinkKind,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Option<()> {
    push_link_header(out, link, src.ip(), dst.ip());
    push_ip_header(
        out,
        src.ip(),
        dst.ip(),
        PROTO_TCP,
        20 + payload.len(),
        seq as u16,
    )?;
    let start = out.len();
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ack.to_be_bytes());
    out.extend_from_slice(&[5 << 4, flags]);
    out.extend_from_slice(&65535u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    out.extend_from_slice(payload);
    let len = out.len() - start;
    let c = fold(sum16(
        pseudo_sum(src.ip(), dst.ip(), PROTO_TCP, len),
        &out[start..],
    ));
    out[start + 16..start + 18].copy_from_slice(&c.to_be_bytes());
    Some(())
}

/// Appends RFC 4571 framing: a 2-byte big-endian length, then the packet.
pub fn push_rfc4571(out: &mut Vec<u8>, pkt: &[u8]) {
    out.extend_from_slice(&(pkt.len().min(0xffff) as u16).to_be_bytes());
    out.extend_from_slice(&pkt[..pkt.len().min(0xffff)]);
}

/// Appends a TURN ChannelData message (RFC 8656 §12.4); `pad` to 4 bytes as on TCP.
pub fn push_channel_data(out: &mut Vec<u8>, channel: u16, data: &[u8], pad: bool) {
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&(data.len().min(0xffff) as u16).to_be_bytes());
    out.extend_from_slice(data);
    if pad {
        out.resize(out.len() + (4 - data.len() % 4) % 4, 0);
    }
}

/// STUN magic cookie (RFC 8489 §5).
pub const STUN_MAGIC: u32 = 0x2112_A442;
/// STUN message type of a Send indication.
pub const STUN_SEND_INDICATION: u16 = 0x0016;
/// STUN message type of a Data indication.
pub const STUN_DATA_INDICATION: u16 = 0x0017;
const ATTR_XOR_PEER_ADDRESS: u16 = 0x0012;
const ATTR_DATA: u16 = 0x0013;

fn push_attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + (4 - value.len() % 4) % 4, 0);
}

/// Appends a STUN Send (0x0016) or Data (0x0017) indication with XOR-PEER-ADDRESS and DATA.
pub fn push_stun_indication(
    out: &mut Vec<u8>,
    msg_type: u16,
    txid: [u8; 12],
    peer: SocketAddr,
    data: &[u8],
) {
    let start = out.len();
    out.extend_from_slice(&msg_type.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // length, patched below
    out.extend_from_slice(&STUN_MAGIC.to_be_bytes());
    out.extend_from_slice(&txid);
    let mut addr = Vec::with_capacity(20);
    addr.push(0);
    let xport = peer.port() ^ (STUN_MAGIC >> 16) as u16;
    match peer.ip() {
        IpAddr::V4(ip) => {
            addr.push(0x01);
            addr.extend_from_slice(&xport.to_be_bytes());
            addr.extend_from_slice(&(u32::from(ip) ^ STUN_MAGIC).to_be_bytes());
        }
        IpAddr::V6(ip) => {
            addr.push(0x02);
            addr.extend_from_slice(&xport.to_be_bytes());
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&STUN_MAGIC.to_be_bytes());
            key[4..].copy_from_slice(&txid);
            addr.extend(ip.octets().iter().zip(key).map(|(a, k)| a ^ k));
        }
    }
    push_attr(out, ATTR_XOR_PEER_ADDRESS, &addr);
    push_attr(out, ATTR_DATA, data);
    let len = (out.len() - start - 20) as u16;
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn link_header_lengths_match() {
        let (s, d) = (v4("10.0.0.2:5000"), v4("10.0.0.1:6000"));
        for link in [
            LinkKind::Ethernet,
            LinkKind::Vlan(7),
            LinkKind::QinQ(100, 200),
            LinkKind::Sll,
            LinkKind::Sll2,
            LinkKind::Raw,
            LinkKind::Null,
        ] {
            let mut f = Vec::new();
            udp_frame(&mut f, link, s, d, 1, b"abc").unwrap();
            assert_eq!(f.len(), link.header_len() + 20 + 8 + 3, "{link:?}");
            assert_eq!(f[link.header_len()], 0x45);
        }
    }

    #[test]
    fn sll2_layout() {
        let mut f = Vec::new();
        push_link_header(
            &mut f,
            LinkKind::Sll2,
            "10.0.0.2".parse().unwrap(),
            "10.0.0.1".parse().unwrap(),
        );
        assert_eq!(&f[..12], &[0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
        assert_eq!(f.len(), 20);
    }

    #[test]
    fn ipv4_and_udp_checksums_verify() {
        let mut f = Vec::new();
        udp_frame(
            &mut f,
            LinkKind::Raw,
            v4("192.168.1.2:1234"),
            v4("192.168.1.3:80"),
            9,
            b"hello world",
        )
        .unwrap();
        assert_eq!(checksum(&f[..20]), 0);
        let pseudo = pseudo_sum(
            "192.168.1.2".parse().unwrap(),
            "192.168.1.3".parse().unwrap(),
            17,
            f.len() - 20,
        );
        assert_eq!(fold(sum16(pseudo, &f[20..])), 0);
    }

    #[test]
    fn mixed_versions_are_refused() {
        let mut f = Vec::new();
        assert!(
            udp_frame(
                &mut f,
                LinkKind::Raw,
                v4("1.2.3.4:1"),
                "[::1]:2".parse().unwrap(),
                0,
                b""
            )
            .is_none()
        );
    }

    fn reassemble(frames: &[Vec<u8>], v6: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for f in frames {
            let (hdr, off) = if v6 {
                let fh = &f[40..48];
                (48, usize::from(u16::from_be_bytes([fh[2], fh[3]]) & 0xfff8))
            } else {
                (
                    20,
                    usize::from(u16::from_be_bytes([f[6], f[7]]) & 0x1fff) * 8,
                )
            };
            assert_eq!(off, out.len());
            out.extend_from_slice(&f[hdr..]);
        }
        out
    }

    #[test]
    fn fragments_reassemble_v4_and_v6() {
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        for (s, d, v6) in [
            (v4("10.0.0.2:5000"), v4("10.0.0.1:6000"), false),
            (
                "[fd00::2]:5000".parse().unwrap(),
                "[fd00::1]:6000".parse().unwrap(),
                true,
            ),
        ] {
            for n in [1, 2, 3, 7] {
                let frames = udp_fragments(LinkKind::Raw, s, d, 0x1234, &payload, n).unwrap();
                assert_eq!(frames.len(), n);
                let whole = reassemble(&frames, v6);
                let mut expect = Vec::new();
                push_udp(&mut expect, s, d, &payload);
                assert_eq!(whole, expect);
                // Only the last fragment lacks the "more fragments" bit.
                for (i, f) in frames.iter().enumerate() {
                    let more = if v6 { f[43] & 1 == 1 } else { f[6] & 0x20 != 0 };
                    assert_eq!(more, i + 1 < frames.len());
                }
            }
        }
    }

    #[test]
    fn rfc4571_and_channel_data_framing() {
        let mut b = Vec::new();
        push_rfc4571(&mut b, &[1, 2, 3]);
        assert_eq!(b, [0, 3, 1, 2, 3]);
        let mut c = Vec::new();
        push_channel_data(&mut c, 0x4001, &[9; 5], true);
        assert_eq!(c, [0x40, 0x01, 0, 5, 9, 9, 9, 9, 9, 0, 0, 0]);
        let mut u = Vec::new();
        push_channel_data(&mut u, 0x4001, &[9; 5], false);
        assert_eq!(u.len(), 9);
    }

    #[test]
    fn stun_indication_layout() {
        let mut b = Vec::new();
        let txid = [1; 12];
        push_stun_indication(
            &mut b,
            STUN_SEND_INDICATION,
            txid,
            v4("192.0.2.1:32853"),
            &[0xAA; 5],
        );
        assert_eq!(&b[..2], &[0x00, 0x16]);
        assert_eq!(u16::from_be_bytes([b[2], b[3]]) as usize, b.len() - 20);
        assert_eq!(&b[4..8], &STUN_MAGIC.to_be_bytes());
        // XOR-PEER-ADDRESS: port 32853 ^ 0x2112 = 0xA147, 192.0.2.1 ^ cookie = 0xE112A643.
        assert_eq!(
            &b[20..32],
            &[0x00, 0x12, 0, 8, 0, 1, 0xA1, 0x47, 0xE1, 0x12, 0xA6, 0x43]
        );
        assert_eq!(&b[32..36], &[0x00, 0x13, 0, 5]);
        assert_eq!(b.len(), 36 + 8);
    }
}
