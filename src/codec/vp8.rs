//! VP8 over RTP (RFC 7741): the payload descriptor (§4.2) and the payload header
//! that starts every frame (§4.3, RFC 6386 §9.1).
//!
//! Reserved bits (R in the first octet, RSV in the X octet) "MUST be set to 0 and
//! MUST be ignored by the receiver" (RFC 7741 §4.2): they are not read, so a
//! descriptor with them set parses like one without.

/// Why a VP8 payload could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Vp8Error {
    /// No payload, or a descriptor with no VP8 data after it.
    #[error("empty VP8 payload")]
    Empty,
    /// The descriptor is shorter than its flags say (RFC 7741 §4.2).
    #[error("VP8 payload descriptor truncated")]
    Descriptor,
    /// A key frame's payload header is truncated or lacks the start code (RFC 6386 §9.1).
    #[error("VP8 payload header truncated or keyframe start code missing")]
    PayloadHeader,
}

/// A PictureID as VP8 and VP9 descriptors carry it (RFC 7741 §4.2, RFC 9628 §4.2):
/// `|M| PictureID |`, 7 bits, or 15 bits over two octets when M is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PictureId {
    /// The PictureID.
    pub id: u16,
    /// It is 15 bits (M bit set).
    pub long: bool,
}

impl PictureId {
    /// Reads the PictureID at `at`: it and the octets it took, `None` when truncated.
    pub(crate) fn read(p: &[u8], at: usize) -> Option<(PictureId, usize)> {
        let &m = p.get(at)?;
        if m & 0x80 == 0 {
            return Some((
                PictureId {
                    id: u16::from(m),
                    long: false,
                },
                1,
            ));
        }
        let &lo = p.get(at + 1)?;
        let id = u16::from(m & 0x7f) << 8 | u16::from(lo);
        Some((PictureId { id, long: true }, 2))
    }

    /// PictureIDs count modulo this: 2^7, or 2^15 when long.
    pub fn modulus(self) -> u16 {
        if self.long { 1 << 15 } else { 1 << 7 }
    }
}

/// The VP8 payload descriptor (RFC 7741 §4.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vp8Descriptor {
    /// N: the frame is not used as a reference.
    pub non_reference: bool,
    /// S: the packet starts a partition.
    pub start: bool,
    /// PID: partition index.
    pub partition: u8,
    /// PictureID (I bit).
    pub picture_id: Option<PictureId>,
    /// TL0PICIDX.
    pub tl0_pic_idx: Option<u8>,
    /// Temporal layer index (T bit).
    pub tid: Option<u8>,
    /// Key frame index (K bit).
    pub key_idx: Option<u8>,
    /// Bytes taken by the descriptor; the VP8 payload follows.
    pub len: usize,
}

impl Vp8Descriptor {
    /// Parses the descriptor at the start of an RTP payload; some VP8 data must follow it.
    pub fn parse(p: &[u8]) -> Result<Self, Vp8Error> {
        let b0 = *p.first().ok_or(Vp8Error::Empty)?;
        let mut d = Vp8Descriptor {
            non_reference: b0 & 0x20 != 0,
            start: b0 & 0x10 != 0,
            partition: b0 & 0x07,
            len: 1,
            ..Default::default()
        };
        let byte = |i: usize| p.get(i).copied().ok_or(Vp8Error::Descriptor);
        if b0 & 0x80 != 0 {
            // X: |I|L|T|K| RSV |, then each present field in that order.
            let x = byte(1)?;
            let mut i = 2;
            if x & 0x80 != 0 {
                let (id, n) = PictureId::read(p, i).ok_or(Vp8Error::Descriptor)?;
                d.picture_id = Some(id);
                i += n;
            }
            if x & 0x40 != 0 {
                d.tl0_pic_idx = Some(byte(i)?);
                i += 1;
            }
            // One byte |TID|Y| KEYIDX | when either T or K is set (§4.2).
            if x & 0x30 != 0 {
                let t = byte(i)?;
                d.tid = (x & 0x20 != 0).then_some(t >> 6);
                d.key_idx = (x & 0x10 != 0).then_some(t & 0x1f);
                i += 1;
            }
            d.len = i;
        }
        if d.len >= p.len() {
            return Err(Vp8Error::Empty);
        }
        Ok(d)
    }

    /// S=1 with PID=0: the packet starts a frame (its first partition, §4.4).
    pub fn starts_frame(&self) -> bool {
        self.start && self.partition == 0
    }
}

/// The payload header at the start of a frame (RFC 7741 §4.3): the frame tag of
/// RFC 6386 §9.1, and a key frame's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadHeader {
    /// P=0: a key frame.
    pub keyframe: bool,
    /// VER: the bitstream version; RFC 6386 §9.1 defines 0 to 3.
    pub version: u8,
    /// A key frame's width and height (14 bits each, scale bits dropped).
    pub dimensions: Option<(u16, u16)>,
}

/// Reads the payload header `|Size0|H| VER |P|` + 2 size bytes at the start of a
/// frame's VP8 data; a key frame (P=0) must go on with the start code 9d 01 2a and
/// its width and height (14 bits + 2 scale bits each, little-endian).
pub fn parse_payload_header(vp8: &[u8]) -> Result<PayloadHeader, Vp8Error> {
    let b0 = *vp8.first().ok_or(Vp8Error::PayloadHeader)?;
    let version = (b0 >> 1) & 0x07;
    if b0 & 0x01 != 0 {
        return Ok(PayloadHeader {
            keyframe: false,
            version,
            dimensions: None,
        });
    }
    match vp8 {
        [_, _, _, 0x9d, 0x01, 0x2a, w0, w1, h0, h1, ..] => {
            let w = u16::from_le_bytes([*w0, *w1]) & 0x3fff;
            let h = u16::from_le_bytes([*h0, *h1]) & 0x3fff;
            Ok(PayloadHeader {
                keyframe: true,
                version,
                dimensions: Some((w, h)),
            })
        }
        _ => Err(Vp8Error::PayloadHeader),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors() {
        let cases: &[(&[u8], Result<Vp8Descriptor, Vp8Error>)] = &[
            (
                &[0x10, 0xaa],
                Ok(Vp8Descriptor {
                    start: true,
                    len: 1,
                    ..Default::default()
                }),
            ),
            (
                &[0x23, 0xaa],
                Ok(Vp8Descriptor {
                    non_reference: true,
                    partition: 3,
                    len: 1,
                    ..Default::default()
                }),
            ),
            // X, I with 7-bit PictureID.
            (
                &[0x90, 0x80, 0x05, 0xaa],
                Ok(Vp8Descriptor {
                    start: true,
                    picture_id: Some(PictureId { id: 5, long: false }),
                    len: 3,
                    ..Default::default()
                }),
            ),
            // X, I (15-bit), L, T, K.
            (
                &[0x90, 0xf0, 0x81, 0x02, 0x07, 0b1010_0011, 0xaa],
                Ok(Vp8Descriptor {
                    start: true,
                    picture_id: Some(PictureId {
                        id: 0x102,
                        long: true,
                    }),
                    tl0_pic_idx: Some(7),
                    tid: Some(2),
                    key_idx: Some(3),
                    len: 6,
                    ..Default::default()
                }),
            ),
            // K only: the same TID/KEYIDX byte, TID not reported.
            (
                &[0x80, 0x10, 0x05, 0xaa],
                Ok(Vp8Descriptor {
                    key_idx: Some(5),
                    len: 3,
                    ..Default::default()
                }),
            ),
            (&[], Err(Vp8Error::Empty)),
            (&[0x80], Err(Vp8Error::Descriptor)),
            (&[0x80, 0x80], Err(Vp8Error::Descriptor)),
            (&[0x80, 0x80, 0x81], Err(Vp8Error::Descriptor)),
            (&[0x80, 0x40], Err(Vp8Error::Descriptor)),
            (&[0x80, 0x20], Err(Vp8Error::Descriptor)),
            // Descriptor only, no VP8 data.
            (&[0x10], Err(Vp8Error::Empty)),
            (&[0x90, 0x80, 0x05], Err(Vp8Error::Empty)),
        ];
        for (i, (p, want)) in cases.iter().enumerate() {
            assert_eq!(Vp8Descriptor::parse(p), *want, "case {i}: {p:02x?}");
        }
    }

    /// RFC 7741 §4.2: R and RSV bits are ignored, whatever their value.
    #[test]
    fn reserved_bits_are_ignored() {
        for (plain, reserved) in [
            (&[0x10, 0xaa][..], &[0x58, 0xaa][..]),
            (&[0x90, 0x80, 0x05, 0xaa][..], &[0xd8, 0x8f, 0x05, 0xaa][..]),
        ] {
            let d = Vp8Descriptor::parse(reserved);
            assert_eq!(d, Vp8Descriptor::parse(plain), "{reserved:02x?}");
            assert!(d.is_ok_and(|d| d.starts_frame()));
        }
    }

    #[test]
    fn payload_headers() {
        let key = [0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
        assert_eq!(
            parse_payload_header(&key),
            Ok(PayloadHeader {
                keyframe: true,
                version: 0,
                dimensions: Some((640, 480))
            })
        );
        // Scale bits are masked off.
        assert_eq!(
            parse_payload_header(&[0, 0, 0, 0x9d, 1, 0x2a, 0x80, 0xc2, 0xe0, 0x41])
                .map(|h| h.dimensions),
            Ok(Some((640, 480)))
        );
        assert_eq!(
            parse_payload_header(&[0x01]),
            Ok(PayloadHeader {
                keyframe: false,
                version: 0,
                dimensions: None
            })
        );
        assert_eq!(parse_payload_header(&[0x0f]).map(|h| h.version), Ok(7));
        assert_eq!(parse_payload_header(&[]), Err(Vp8Error::PayloadHeader));
        assert_eq!(
            parse_payload_header(&[0, 0, 0, 0x9d, 1, 0x2b, 0, 0, 0, 0]),
            Err(Vp8Error::PayloadHeader)
        );
        assert_eq!(
            parse_payload_header(&[0, 0, 0, 0x9d, 1, 0x2a, 0, 0, 0]),
            Err(Vp8Error::PayloadHeader)
        );
    }
}
