//! RTP/RTCP: RFC 7983 classification, RTP header + RFC 8285 extensions, RTCP compounds.
//!
//! STUB: the interface is fixed; the implementation is being written.

use std::fmt;

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

/// Classifies a datagram by its first bytes.
pub fn classify(payload: &[u8]) -> PacketClass {
    let _ = payload;
    PacketClass::Other
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

/// A validated view of an RTP packet; accessors never fail.
#[derive(Clone, Copy, Debug)]
pub struct RtpPacket<'a> {
    data: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Validates `data` as an RTP packet (RFC 3550 §5.1).
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpError> {
        if data.len() < 12 {
            return Err(RtpError::Truncated("fixed header"));
        }
        Ok(RtpPacket { data })
    }

    /// Synchronisation source.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(u32::from_be_bytes([self.data[8], self.data[9], self.data[10], self.data[11]]))
    }
}
