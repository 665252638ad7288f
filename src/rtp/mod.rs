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
    match payload {
        [b0, b1, ..] if (128..=191).contains(b0) && (192..=223).contains(b1) => PacketClass::Rtcp,
        [b0, ..] if (128..=191).contains(b0) && payload.len() >= 12 => PacketClass::Rtp,
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

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.data[1] & 0x80 != 0
    }

    /// Payload type (7 bits).
    pub fn payload_type(&self) -> u8 {
        self.data[1] & 0x7f
    }

    /// Sequence number.
    pub fn sequence_number(&self) -> u16 {
        u16::from_be_bytes([self.data[2], self.data[3]])
    }

    /// RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.data[4], self.data[5], self.data[6], self.data[7]])
    }

    /// Payload without header and padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.data[12..]
    }

    /// Synchronisation source.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(u32::from_be_bytes([
            self.data[8],
            self.data[9],
            self.data[10],
            self.data[11],
        ]))
    }
}

/// Extends a 16-bit sequence number to the value nearest `prev` (RFC 3550 A.1).
pub fn seq_extend_u16(prev: u64, v: u16) -> u64 {
    let base = prev & !0xffff;
    let cands = [
        base.wrapping_sub(1 << 16) | u64::from(v),
        base | u64::from(v),
        (base + (1 << 16)) | u64::from(v),
    ];
    cands
        .into_iter()
        .filter(|c| *c < (1 << 62))
        .min_by_key(|c| c.abs_diff(prev))
        .unwrap_or(base | u64::from(v))
}

/// A minimal RTCP item for counting (replaced by the full parser).
#[derive(Clone, Copy, Debug)]
pub enum RtcpItem {
    /// Sender report.
    Sr {
        /// NTP time.
        ntp: u64,
        /// RTP time.
        rtp_timestamp: u32,
    },
    /// Receiver report.
    Rr,
    /// Anything else.
    Other,
}

/// Walks an RTCP compound.
pub fn rtcp_summary(mut b: &[u8]) -> Vec<RtcpItem> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = (usize::from(u16::from_be_bytes([b[2], b[3]])) + 1) * 4;
        if len > b.len() {
            break;
        }
        out.push(match b[1] {
            200 if len >= 20 => RtcpItem::Sr {
                ntp: u64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
                rtp_timestamp: u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
            },
            201 => RtcpItem::Rr,
            _ => RtcpItem::Other,
        });
        b = &b[len..];
    }
    out
}
