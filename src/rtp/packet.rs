//! RTP fixed header, CSRC list, extension block and padding (RFC 3550 §5.1, §5.3.1).
//!
//! The fixed header is read with the `rtp-rs` 0.6 crate (`RtpReader`). Where
//! that crate falls short we validate or adapt ourselves:
//!
//! - `RtpReaderError` has no `Display`/`Error`/`Clone`, so it is mapped to [`RtpError`].
//! - A padding bit on a packet with no byte after the headers is reported by
//!   rtp-rs as `HeadersTruncated` with a misleading `buffer_len`; we report it
//!   as [`RtpError::BadPadding`].
//! - `RtpReader` is neither `Copy` nor `Clone`, so [`RtpPacket`] keeps the
//!   validated offsets itself and reads fields from the bytes.
//! - rtp-rs exposes the extension block only raw (profile, bytes); RFC 8285
//!   elements are parsed by [`super::ext`].
//! - `rtp_rs::Seq` implements `Ord` non-transitively (documented by the crate),
//!   so the sequence number is converted to `u16` at once and never compared
//!   as `Seq`; use [`super::seq::extend_u16`] to order packets.

use super::ext::Extensions;
use super::{RtpError, Ssrc};
use rtp_rs::{RtpReader, RtpReaderError};

/// Length of the fixed RTP header.
const FIXED_HEADER_LEN: usize = 12;

/// A validated view of an RTP packet; accessors never fail.
#[derive(Clone, Copy, Debug)]
pub struct RtpPacket<'a> {
    data: &'a [u8],
    /// Offset of the payload: fixed header + CSRCs + extension block.
    header_len: usize,
    /// Bytes of padding at the end, including the count byte itself.
    padding_len: u8,
}

impl<'a> RtpPacket<'a> {
    /// Validates `data` as an RTP packet (RFC 3550 §5.1).
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpError> {
        let reader = RtpReader::new(data).map_err(|e| map_reader_error(data, e))?;
        let header_len = reader.payload_offset();
        let padding_len = reader.padding().unwrap_or(0);
        // rtp-rs already checked these; keep them as invariants of this view so
        // the accessors below can slice without checks.
        if header_len > data.len() || header_len + usize::from(padding_len) > data.len() {
            return Err(RtpError::BadPadding(padding_len));
        }
        Ok(RtpPacket {
            data,
            header_len,
            padding_len,
        })
    }

    /// The whole packet as given to [`RtpPacket::parse`].
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Version field (always 2 after parsing).
    pub fn version(&self) -> u8 {
        self.data[0] >> 6
    }

    /// Padding bit.
    pub fn padding(&self) -> bool {
        self.data[0] & 0x20 != 0
    }

    /// Extension bit.
    pub fn extension(&self) -> bool {
        self.data[0] & 0x10 != 0
    }

    /// Number of CSRCs (0..=15).
    pub fn csrc_count(&self) -> u8 {
        self.data[0] & 0x0f
    }

    /// Marker bit; its meaning is up to the payload format.
    pub fn marker(&self) -> bool {
        self.data[1] & 0x80 != 0
    }

    /// Payload type (0..=127).
    pub fn payload_type(&self) -> u8 {
        self.data[1] & 0x7f
    }

    /// Sequence number, not extended: use [`super::seq::extend_u16`] before comparing.
    pub fn sequence_number(&self) -> u16 {
        u16::from_be_bytes([self.data[2], self.data[3]])
    }

    /// RTP timestamp, not extended: use [`super::seq::extend_u32`] before comparing.
    pub fn timestamp(&self) -> u32 {
        be_u32(&self.data[4..8])
    }

    /// Synchronisation source.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(be_u32(&self.data[8..12]))
    }

    /// Contributing sources, in order.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = Ssrc> + 'a {
        let end = FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count());
        self.data[FIXED_HEADER_LEN..end]
            .chunks_exact(4)
            .map(|c| Ssrc(be_u32(c)))
    }

    /// Payload without headers and without padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.data[self.header_len..self.data.len() - usize::from(self.padding_len)]
    }

    /// Bytes of padding at the end including the count byte (0 without the padding bit).
    pub fn padding_len(&self) -> u8 {
        self.padding_len
    }

    /// Length of fixed header, CSRC list and extension block: the payload's offset.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The RFC 8285 header extensions (empty without the extension bit).
    pub fn extensions(&self) -> Extensions<'a> {
        if !self.extension() {
            return Extensions::empty();
        }
        let start = FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count());
        // parse() guaranteed the 4-byte extension header and its body are present.
        let profile = u16::from_be_bytes([self.data[start], self.data[start + 1]]);
        Extensions::new(profile, &self.data[start + 4..self.header_len])
    }

    /// True when the payload is empty, e.g. padding-only probes sent for bandwidth estimation.
    pub fn is_padding_only(&self) -> bool {
        self.payload().is_empty()
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Maps rtp-rs's error, telling which part was truncated.
fn map_reader_error(data: &[u8], e: RtpReaderError) -> RtpError {
    match e {
        RtpReaderError::BufferTooShort(_) => RtpError::Truncated("fixed header"),
        RtpReaderError::UnsupportedVersion(v) => RtpError::BadVersion(v),
        RtpReaderError::PaddingLengthInvalid(n) => RtpError::BadPadding(n),
        RtpReaderError::HeadersTruncated { header_len, .. } => {
            let csrc_end = FIXED_HEADER_LEN + 4 * usize::from(data[0] & 0x0f);
            let has_ext = data[0] & 0x10 != 0;
            if data.len() < csrc_end {
                RtpError::Truncated("CSRC list")
            } else if has_ext && data.len() < csrc_end + 4 {
                RtpError::Truncated("extension header")
            } else if header_len <= data.len() {
                // rtp-rs reports "padding bit but nothing after the headers" this way.
                RtpError::BadPadding(0)
            } else {
                RtpError::Truncated("extension body")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A packet: V=2, given flags, PT 96, seq 0x1234, ts 0xdeadbeef, ssrc 0x01020304.
    fn pkt(b0_flags: u8, marker: bool, tail: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0x80 | b0_flags,
            96 | if marker { 0x80 } else { 0 },
            0x12,
            0x34,
        ];
        v.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
        v.extend_from_slice(tail);
        v
    }

    #[test]
    fn fixed_header_fields() {
        let b = pkt(0, true, b"abc");
        let p = RtpPacket::parse(&b).expect("valid");
        assert_eq!(p.version(), 2);
        assert!(!p.padding() && !p.extension());
        assert_eq!(p.csrc_count(), 0);
        assert!(p.marker());
        assert_eq!(p.payload_type(), 96);
        assert_eq!(p.sequence_number(), 0x1234);
        assert_eq!(p.timestamp(), 0xdeadbeef);
        assert_eq!(p.ssrc(), Ssrc(0x01020304));
        assert_eq!(p.payload(), b"abc");
        assert_eq!(p.header_len(), 12);
        assert_eq!(p.padding_len(), 0);
        assert!(!p.is_padding_only());
        assert_eq!(p.extensions().count(), 0);
    }

    #[test]
    fn csrcs_extension_padding() {
        let mut tail = vec![0, 0, 0, 9, 0, 0, 0, 10]; // two CSRCs
        tail.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x11, 0xaa, 0xbb, 0]); // ext id 1, 2 bytes
        tail.extend_from_slice(b"xy");
        tail.extend_from_slice(&[0, 0, 3]); // 3 bytes padding
        let b = pkt(0x20 | 0x10 | 2, false, &tail);
        let p = RtpPacket::parse(&b).expect("valid");
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![Ssrc(9), Ssrc(10)]);
        assert_eq!(p.header_len(), 12 + 8 + 8);
        assert_eq!(p.payload(), b"xy");
        assert_eq!(p.padding_len(), 3);
        let exts: Vec<_> = p.extensions().collect();
        assert_eq!(exts.len(), 1);
        assert_eq!(p.extensions().get(1), Some(&[0xaa, 0xbb][..]));
    }

    #[test]
    fn padding_only() {
        let b = pkt(0x20, false, &[0, 0, 0, 4]);
        let p = RtpPacket::parse(&b).expect("valid");
        assert!(p.is_padding_only());
        assert_eq!(p.padding_len(), 4);
    }

    #[test]
    fn rejects() {
        let cases: Vec<(Vec<u8>, RtpError)> = vec![
            (vec![], RtpError::Truncated("fixed header")),
            (
                pkt(0, false, b"")[..11].to_vec(),
                RtpError::Truncated("fixed header"),
            ),
            (
                {
                    let mut b = pkt(0, false, b"abc");
                    b[0] = 0x40;
                    b
                },
                RtpError::BadVersion(1),
            ),
            (pkt(1, false, &[0, 0, 0]), RtpError::Truncated("CSRC list")),
            (
                pkt(0x10, false, &[0xbe, 0xde, 0]),
                RtpError::Truncated("extension header"),
            ),
            (
                pkt(0x10, false, &[0xbe, 0xde, 0, 1, 0, 0]),
                RtpError::Truncated("extension body"),
            ),
            (pkt(0x20, false, &[]), RtpError::BadPadding(0)),
            (pkt(0x20, false, b"ab\0"), RtpError::BadPadding(0)),
            (pkt(0x20, false, &[1, 2, 4]), RtpError::BadPadding(4)),
        ];
        for (i, (b, want)) in cases.iter().enumerate() {
            assert_eq!(RtpPacket::parse(b).err().as_ref(), Some(want), "case {i}");
        }
    }

    #[test]
    fn truncation_at_every_length_never_panics() {
        let mut tail = vec![0, 0, 0, 9];
        tail.extend_from_slice(&[0x10, 0x00, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
        tail.extend_from_slice(b"payload");
        tail.extend_from_slice(&[0, 2]);
        let full = pkt(0x20 | 0x10 | 1, true, &tail);
        assert!(RtpPacket::parse(&full).is_ok());
        for n in 0..full.len() {
            // Cutting off the end changes the padding count byte: most prefixes are errors,
            // any that parse must still be self-consistent.
            if let Ok(p) = RtpPacket::parse(&full[..n]) {
                assert!(p.header_len() + p.payload().len() + usize::from(p.padding_len()) == n);
                let _ = p.extensions().count();
            }
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = RtpPacket::parse(&bytes) {
                prop_assert_eq!(p.header_len() + p.payload().len() + usize::from(p.padding_len()), bytes.len());
                prop_assert_eq!(p.csrcs().count(), usize::from(p.csrc_count()));
                for e in p.extensions() {
                    let _ = e;
                }
            }
        }

        #[test]
        fn parse_never_panics_v2(mut bytes in proptest::collection::vec(any::<u8>(), 12..80)) {
            bytes[0] = 0x80 | (bytes[0] & 0x3f);
            let _ = RtpPacket::parse(&bytes).map(|p| (p.payload().len(), p.extensions().count()));
        }
    }
}
