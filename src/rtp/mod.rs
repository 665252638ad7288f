//! RTP/RTCP: RFC 7983 classification, RTP header + RFC 8285 extensions, RTCP compounds.
//!
//! [`classify`] sorts a UDP payload by its first two bytes (RFC 7983 §7,
//! RFC 5761 §4); [`RtpPacket`] is a validated borrowed view of an RTP packet
//! (RFC 3550 §5.1) whose accessors never fail; [`ext`] reads RFC 8285 header
//! extensions, [`rtcp`] RTCP compound packets (RFC 3550 §6, RFC 4585) and
//! [`seq`] extends wrapping sequence numbers and timestamps, and [`sr_clock`]
//! maps RTP timestamps to the sender's NTP clock from its sender reports.
//!
//! Nothing here panics on input: every length is checked before it is used.

use std::fmt;

pub mod ext;
pub mod packet;
pub mod rtcp;
pub mod seq;
pub mod sr_clock;
#[cfg(test)]
pub(crate) mod testcap;

pub use ext::{Extension, Extensions};
pub use packet::RtpPacket;
pub use seq::{extend_u16, extend_u32};

/// An RTP synchronisation source identifier; prints as hex (`0x1a2b3c4d`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ssrc(pub u32);

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

/// What a UDP payload is, by its first bytes (RFC 7983 §7, RFC 5761 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketClass {
    /// STUN (first byte 0..=3).
    Stun,
    /// ZRTP (first byte 16..=19).
    Zrtp,
    /// DTLS (first byte 20..=63).
    Dtls,
    /// TURN ChannelData (first byte 64..=79).
    TurnChannel,
    /// RTP (first byte 128..=191, second byte not an RTCP type).
    Rtp,
    /// RTCP (first byte 128..=191, second byte 192..=223).
    Rtcp,
    /// Anything else.
    Other,
}

/// Smallest RTP packet: the fixed header (RFC 3550 §5.1).
const RTP_MIN_LEN: usize = 12;
/// Smallest RTCP packet: the common header plus one SSRC (RFC 3550 §6.4).
const RTCP_MIN_LEN: usize = 8;

/// Classifies a datagram by its first bytes.
///
/// RTP and RTCP must carry version 2 and be at least as long as their fixed
/// headers, otherwise they are [`PacketClass::Other`]. The STUN/DTLS/TURN
/// ranges are taken from the first byte alone: their own parsers validate.
pub fn classify(payload: &[u8]) -> PacketClass {
    let Some(&first) = payload.first() else {
        return PacketClass::Other;
    };
    match first {
        0..=3 => PacketClass::Stun,
        16..=19 => PacketClass::Zrtp,
        20..=63 => PacketClass::Dtls,
        64..=79 => PacketClass::TurnChannel,
        // 128..=191 is exactly "version bits == 2".
        128..=191 => {
            let Some(&second) = payload.get(1) else {
                return PacketClass::Other;
            };
            // RFC 5761 §4: RTCP packet types 192..=223 occupy the second byte; RTP
            // payload types 64..=95 with the marker set would collide, which is why
            // RFC 5761 forbids them under rtcp-mux. We side with RTCP.
            if (192..=223).contains(&second) {
                if payload.len() >= RTCP_MIN_LEN {
                    PacketClass::Rtcp
                } else {
                    PacketClass::Other
                }
            } else if payload.len() >= RTP_MIN_LEN {
                PacketClass::Rtp
            } else {
                PacketClass::Other
            }
        }
        _ => PacketClass::Other,
    }
}

/// Why an RTP packet could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the fixed header, CSRC list or extension header says.
    #[error("RTP packet truncated: {0}")]
    Truncated(&'static str),
    /// Version field is not 2.
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    /// Padding length is zero or larger than the payload.
    #[error("RTP padding length {0} is invalid")]
    BadPadding(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssrc_prints_as_hex() {
        assert_eq!(Ssrc(0x1a2b3c4d).to_string(), "0x1A2B3C4D");
        assert_eq!(Ssrc(0).to_string(), "0x00000000");
    }

    #[test]
    fn classify_table() {
        let rtp = |b1: u8| {
            let mut v = vec![0x80, b1];
            v.resize(12, 0);
            v
        };
        let cases: &[(&[u8], PacketClass)] = &[
            (&[], PacketClass::Other),
            (&[0x00, 0x01, 0, 0], PacketClass::Stun),
            (&[0x03], PacketClass::Stun),
            (&[0x04], PacketClass::Other),
            (&[0x10], PacketClass::Zrtp),
            (&[0x13], PacketClass::Zrtp),
            (&[0x14], PacketClass::Dtls),
            (&[0x16, 0xfe, 0xfd], PacketClass::Dtls),
            (&[0x3f], PacketClass::Dtls),
            (&[0x40, 0x00, 0x00, 0x04], PacketClass::TurnChannel),
            (&[0x4f], PacketClass::TurnChannel),
            (&[0x50], PacketClass::Other),
            (&[0x7f], PacketClass::Other),
            (&rtp(96), PacketClass::Rtp),
            (&rtp(96 | 0x80), PacketClass::Rtp),
            (&rtp(0), PacketClass::Rtp),
            (&rtp(191), PacketClass::Rtp),
            (&rtp(224), PacketClass::Rtp),
            (&rtp(200), PacketClass::Rtcp),
            (&rtp(192), PacketClass::Rtcp),
            (&rtp(223), PacketClass::Rtcp),
            (&[0x80, 200, 0, 1, 0, 0, 0, 1], PacketClass::Rtcp),
            // Too short for RTCP / RTP.
            (&[0x80, 200, 0, 1, 0, 0, 0], PacketClass::Other),
            (&[0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0], PacketClass::Other),
            (&[0x80], PacketClass::Other),
            // Version 1 and 3 are not RTP.
            (&[0x40 | 0x3f, 96], PacketClass::Other),
            (
                &[0xc0, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                PacketClass::Other,
            ),
        ];
        for (i, (bytes, want)) in cases.iter().enumerate() {
            assert_eq!(classify(bytes), *want, "case {i}: {bytes:02x?}");
        }
    }
}
