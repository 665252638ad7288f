//! TURN (RFC 8656) unwrapping: ChannelData (§12) and Send/Data indications (§10, §11).
//!
//! Also the message framing of TURN over TCP (§12.5: ChannelData is padded to
//! a multiple of 4 on TCP; STUN messages are always a multiple of 4).
//! Tolerates: padding after ChannelData on UDP (allowed by §12.5), STUN messages
//! that are not indications (returned unchanged for the RTP layer to classify).

use super::Encap;
use super::tcp::FrameLen;

/// The STUN magic cookie (RFC 8489 §5), at bytes 4..8 of every STUN message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// STUN header length (RFC 8489 §5).
pub const STUN_HEADER_LEN: usize = 20;
/// ChannelData header length (RFC 8656 §12.4).
pub const CHANNEL_DATA_HEADER_LEN: usize = 4;

const SEND_INDICATION: u16 = 0x0016;
const DATA_INDICATION: u16 = 0x0017;
const ATTR_DATA: u16 = 0x0013;

/// What a TURN-looking payload turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unwrapped<'a> {
    /// An inner datagram carried by TURN.
    Inner(Encap, &'a [u8]),
    /// Not TURN-wrapped data (plain STUN, RTP, DTLS ...): pass on unchanged.
    NotWrapped,
    /// The first byte says ChannelData (RFC 7983: 64..=79) but the message is malformed.
    BadChannelData,
}

/// Reads a big-endian u16 at `at`, if in bounds.
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Rounds up to a multiple of 4 (STUN attributes, ChannelData on TCP).
pub fn pad4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// True when `b` starts with a STUN header: top two bits 00 and the magic cookie (RFC 8489 §6).
pub fn is_stun_header(b: &[u8]) -> bool {
    match b.get(..8) {
        Some(h) => h[0] & 0xC0 == 0 && u32::from_be_bytes([h[4], h[5], h[6], h[7]]) == MAGIC_COOKIE,
        None => false,
    }
}

/// Unwraps a UDP payload (or one complete TURN-over-TCP message) if it is TURN-wrapped data.
pub fn unwrap(payload: &[u8]) -> Unwrapped<'_> {
    match payload.first() {
        Some(64..=79) => channel_data(payload),
        Some(b) if b & 0xC0 == 0 => indication(payload),
        _ => Unwrapped::NotWrapped,
    }
}

/// ChannelData (RFC 8656 §12.4): channel 0x4000..=0x4FFF, length, data, optional padding.
fn channel_data(payload: &[u8]) -> Unwrapped<'_> {
    let (Some(channel), Some(len)) = (be16(payload, 0), be16(payload, 2)) else {
        return Unwrapped::BadChannelData;
    };
    let end = CHANNEL_DATA_HEADER_LEN + usize::from(len);
    // §12.5: on UDP the padding is optional, so any remainder up to the
    // datagram's end is accepted; a length past the end is malformed.
    match payload.get(CHANNEL_DATA_HEADER_LEN..end) {
        Some(inner) if (0x4000..=0x4FFF).contains(&channel) => {
            Unwrapped::Inner(Encap::TurnChannel(channel), inner)
        }
        _ => Unwrapped::BadChannelData,
    }
}

/// Send or Data indication (RFC 8656 §10.2, §11.4) carrying a DATA attribute (§18.4).
fn indication(payload: &[u8]) -> Unwrapped<'_> {
    if !is_stun_header(payload) {
        return Unwrapped::NotWrapped;
    }
    let (Some(kind), Some(len)) = (be16(payload, 0), be16(payload, 2)) else {
        return Unwrapped::NotWrapped;
    };
    if kind != SEND_INDICATION && kind != DATA_INDICATION {
        return Unwrapped::NotWrapped;
    }
    // A STUN message fills its datagram (or its TCP frame) exactly (RFC 8489 §6).
    if payload.len() != STUN_HEADER_LEN + usize::from(len) {
        return Unwrapped::NotWrapped;
    }
    let attrs = &payload[STUN_HEADER_LEN..];
    let mut at = 0usize;
    while let (Some(t), Some(l)) = (be16(attrs, at), be16(attrs, at + 2)) {
        let start = at + 4;
        let end = start + usize::from(l);
        let Some(value) = attrs.get(start..end) else {
            break;
        };
        if t == ATTR_DATA {
            return Unwrapped::Inner(Encap::TurnIndication, value);
        }
        at = start + pad4(usize::from(l));
    }
    Unwrapped::NotWrapped
}

/// Length of one TURN-over-TCP message at the start of `b`, from its 4-byte header.
///
/// `Invalid` when the bytes are neither STUN nor ChannelData (the stream is out of sync).
pub fn tcp_message_len(b: &[u8]) -> FrameLen {
    let (Some(&first), Some(len)) = (b.first(), be16(b, 2)) else {
        return FrameLen::NeedMore;
    };
    let len = usize::from(len);
    match first {
        // STUN: the length excludes the 20-byte header and is a multiple of 4 (RFC 8489 §5).
        0..=3 if len % 4 == 0 => FrameLen::Len(STUN_HEADER_LEN + len),
        // ChannelData: RFC 8656 §12.5, padded to a multiple of 4 on TCP; the
        // padding is not counted in the length field.
        64..=79 => FrameLen::Len(CHANNEL_DATA_HEADER_LEN + pad4(len)),
        _ => FrameLen::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(kind: u16, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (t, v) in attrs {
            body.extend_from_slice(&t.to_be_bytes());
            body.extend_from_slice(&(v.len() as u16).to_be_bytes());
            body.extend_from_slice(v);
            body.resize(pad4(body.len()), 0);
        }
        let mut m = Vec::new();
        m.extend_from_slice(&kind.to_be_bytes());
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn channel_data_table() {
        let rtp = [0x80u8, 0, 0, 1, 2];
        let cases: &[(&[u8], Unwrapped<'_>)] = &[
            // exact, no padding
            (
                &[0x40, 0x01, 0, 5, 0x80, 0, 0, 1, 2],
                Unwrapped::Inner(Encap::TurnChannel(0x4001), &rtp),
            ),
            // padded to 8
            (
                &[0x40, 0x01, 0, 5, 0x80, 0, 0, 1, 2, 0, 0, 0],
                Unwrapped::Inner(Encap::TurnChannel(0x4001), &rtp),
            ),
            // highest channel, empty data
            (
                &[0x4F, 0xFF, 0, 0],
                Unwrapped::Inner(Encap::TurnChannel(0x4FFF), &[]),
            ),
            // length past the end
            (
                &[0x40, 0x01, 0, 6, 0x80, 0, 0, 1, 2],
                Unwrapped::BadChannelData,
            ),
            // header cut
            (&[0x40, 0x01, 0], Unwrapped::BadChannelData),
            (&[0x40], Unwrapped::BadChannelData),
            // RTP and DTLS are not wrapped
            (&[0x80, 0x60, 0, 1], Unwrapped::NotWrapped),
            (&[22, 0xFE, 0xFD], Unwrapped::NotWrapped),
            (&[], Unwrapped::NotWrapped),
        ];
        for (i, (input, want)) in cases.iter().enumerate() {
            assert_eq!(unwrap(input), *want, "case {i}");
        }
    }

    #[test]
    fn indications() {
        let data = [0x80u8, 1, 2, 3, 4];
        let send = stun(
            SEND_INDICATION,
            &[(0x0012, &[1, 2, 3, 4, 5, 6, 7, 8]), (ATTR_DATA, &data)],
        );
        assert_eq!(
            unwrap(&send),
            Unwrapped::Inner(Encap::TurnIndication, &data)
        );
        let recv = stun(DATA_INDICATION, &[(ATTR_DATA, &data)]);
        assert_eq!(
            unwrap(&recv),
            Unwrapped::Inner(Encap::TurnIndication, &data)
        );
        // No DATA attribute, or not an indication: unchanged.
        assert_eq!(
            unwrap(&stun(DATA_INDICATION, &[(0x0012, &[0; 8])])),
            Unwrapped::NotWrapped
        );
        assert_eq!(
            unwrap(&stun(0x0001, &[(ATTR_DATA, &data)])),
            Unwrapped::NotWrapped
        );
        // Bad cookie.
        let mut bad = recv.clone();
        bad[4] = 0;
        assert_eq!(unwrap(&bad), Unwrapped::NotWrapped);
        // Every truncation: never panics, never yields data past the end.
        for n in 0..recv.len() {
            assert_eq!(unwrap(&recv[..n]), Unwrapped::NotWrapped, "cut at {n}");
        }
        // Trailing bytes after the message: not a STUN message.
        let mut trailing = recv.clone();
        trailing.push(0);
        assert_eq!(unwrap(&trailing), Unwrapped::NotWrapped);
        // Attribute length past the message: ignored.
        let mut long = recv.clone();
        long[23] = 200;
        assert_eq!(unwrap(&long), Unwrapped::NotWrapped);
    }

    #[test]
    fn tcp_lengths() {
        assert_eq!(tcp_message_len(&[0x40, 0, 0]), FrameLen::NeedMore);
        assert_eq!(tcp_message_len(&[0x40, 0, 0, 5]), FrameLen::Len(12));
        assert_eq!(tcp_message_len(&[0x40, 0, 0, 8]), FrameLen::Len(12));
        assert_eq!(tcp_message_len(&[0x00, 0x17, 0, 8]), FrameLen::Len(28));
        assert_eq!(tcp_message_len(&[0x00, 0x17, 0, 7]), FrameLen::Invalid);
        assert_eq!(tcp_message_len(&[0x80, 0, 0, 8]), FrameLen::Invalid);
    }
}
