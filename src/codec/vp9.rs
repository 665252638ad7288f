//! VP9 over RTP (RFC 9628): the payload descriptor (§4.2) with its scalability
//! structure (§4.2.1), and the start of the uncompressed header (VP9 bitstream
//! spec §6.2) that says whether a frame is a key frame and how large it is.

use super::bits::BitReader;
pub use super::vp8::PictureId;

/// Why a VP9 payload descriptor could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Vp9Error {
    /// No payload, or a descriptor with no VP9 data after it.
    #[error("empty VP9 payload")]
    Empty,
    /// The descriptor is truncated or has more than 3 P_DIFFs (RFC 9628 §4.2).
    #[error("VP9 payload descriptor truncated or invalid")]
    Descriptor,
    /// The scalability structure is truncated (RFC 9628 §4.2.1).
    #[error("VP9 scalability structure truncated")]
    ScalabilityStructure,
}

/// The scalability structure (RFC 9628 §4.2.1), what of it we keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScalabilityStructure {
    /// N_S + 1: number of spatial layers.
    pub spatial_layers: u8,
    /// Width and height per spatial layer, lowest first (Y bit); empty if absent.
    pub resolutions: Vec<(u16, u16)>,
    /// N_G: number of pictures in the picture group description (G bit), 0 if absent.
    pub picture_groups: u8,
}

/// The VP9 payload descriptor (RFC 9628 §4.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vp9Descriptor {
    /// P: inter-picture predicted (the picture references earlier pictures).
    pub inter_picture: bool,
    /// F: flexible mode.
    pub flexible: bool,
    /// B: first packet of a layer frame.
    pub begin: bool,
    /// E: last packet of a layer frame.
    pub end: bool,
    /// Z: not used for inter-layer prediction of upper layers.
    pub not_ref_for_upper: bool,
    /// PictureID (I bit).
    pub picture_id: Option<PictureId>,
    /// Temporal layer id (L bit).
    pub tid: Option<u8>,
    /// Spatial layer id (L bit).
    pub sid: Option<u8>,
    /// TL0PICIDX (non-flexible mode with L).
    pub tl0_pic_idx: Option<u8>,
    /// Number of P_DIFF reference indices (flexible mode with P), 0..=3.
    pub p_diffs: u8,
    /// Scalability structure (V bit).
    pub ss: Option<ScalabilityStructure>,
    /// Bytes taken by the descriptor; the VP9 data follows.
    pub len: usize,
}

impl Vp9Descriptor {
    /// Parses the descriptor at the start of an RTP payload.
    pub fn parse(p: &[u8]) -> Result<Self, Vp9Error> {
        let b0 = *p.first().ok_or(Vp9Error::Empty)?;
        let byte = |i: usize| p.get(i).copied().ok_or(Vp9Error::Descriptor);
        let mut d = Vp9Descriptor {
            inter_picture: b0 & 0x40 != 0,
            flexible: b0 & 0x10 != 0,
            begin: b0 & 0x08 != 0,
            end: b0 & 0x04 != 0,
            not_ref_for_upper: b0 & 0x01 != 0,
            ..Default::default()
        };
        let mut i = 1;
        if b0 & 0x80 != 0 {
            let (id, n) = PictureId::read(p, i).ok_or(Vp9Error::Descriptor)?;
            d.picture_id = Some(id);
            i += n;
        }
        if b0 & 0x20 != 0 {
            // |TID|U|SID|D|; TL0PICIDX follows only in non-flexible mode (§4.2).
            let l = byte(i)?;
            d.tid = Some(l >> 5);
            d.sid = Some((l >> 1) & 0x07);
            i += 1;
            if !d.flexible {
                d.tl0_pic_idx = Some(byte(i)?);
                i += 1;
            }
        }
        if d.flexible && d.inter_picture {
            // Flexible mode: up to 3 |P_DIFF|N| bytes, N=1 means another follows.
            loop {
                let r = byte(i)?;
                i += 1;
                d.p_diffs += 1;
                if r & 0x01 == 0 {
                    break;
                }
                if d.p_diffs == 3 {
                    return Err(Vp9Error::Descriptor);
                }
            }
        }
        if b0 & 0x02 != 0 {
            let (ss, n) = parse_ss(p.get(i..).unwrap_or_default())?;
            d.ss = Some(ss);
            i += n;
        }
        d.len = i;
        if d.len >= p.len() {
            return Err(Vp9Error::Empty);
        }
        Ok(d)
    }
}

/// Parses a scalability structure; returns it and its length in bytes.
fn parse_ss(p: &[u8]) -> Result<(ScalabilityStructure, usize), Vp9Error> {
    let byte = |i: usize| p.get(i).copied().ok_or(Vp9Error::ScalabilityStructure);
    // |N_S|Y|G|-|-|-|
    let b = byte(0)?;
    let mut ss = ScalabilityStructure {
        spatial_layers: (b >> 5) + 1,
        ..Default::default()
    };
    let mut i = 1;
    if b & 0x10 != 0 {
        for _ in 0..ss.spatial_layers {
            let w = u16::from_be_bytes([byte(i)?, byte(i + 1)?]);
            let h = u16::from_be_bytes([byte(i + 2)?, byte(i + 3)?]);
            ss.resolutions.push((w, h));
            i += 4;
        }
    }
    if b & 0x08 != 0 {
        ss.picture_groups = byte(i)?;
        i += 1;
        for _ in 0..ss.picture_groups {
            // |TID|U| R |-|-| then R P_DIFF bytes.
            let r = usize::from((byte(i)? >> 2) & 0x03);
            i += 1 + r;
            if i > p.len() {
                return Err(Vp9Error::ScalabilityStructure);
            }
        }
    }
    Ok((ss, i))
}

/// What the uncompressed header says about key frames (VP9 bitstream spec §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameHeader {
    /// A key frame, with its size when it fits 16 bits.
    Key(Option<(u16, u16)>),
    /// Any other frame (inter, intra-only, show_existing_frame).
    NotKey,
    /// Too short, or a wrong frame marker or sync code.
    Unreadable,
}

impl FrameHeader {
    /// The size of a key frame, when the header says it.
    pub fn dimensions(self) -> Option<(u16, u16)> {
        match self {
            FrameHeader::Key(dims) => dims,
            FrameHeader::NotKey | FrameHeader::Unreadable => None,
        }
    }
}

/// Reads the start of a VP9 uncompressed header.
pub fn parse_frame_header(data: &[u8]) -> FrameHeader {
    read_frame_header(&mut BitReader::new(data)).unwrap_or(FrameHeader::Unreadable)
}

fn read_frame_header(r: &mut BitReader<'_>) -> Option<FrameHeader> {
    if r.read(2)? != 2 {
        return Some(FrameHeader::Unreadable);
    }
    let low = r.read(1)?;
    let profile = (r.read(1)? << 1) | low;
    if profile == 3 {
        r.read(1)?; // reserved_zero
    }
    if r.flag()? {
        return Some(FrameHeader::NotKey); // show_existing_frame
    }
    if r.flag()? {
        return Some(FrameHeader::NotKey); // frame_type 1: NON_KEY_FRAME
    }
    r.read(2)?; // show_frame, error_resilient_mode
    if (r.read(8)?, r.read(8)?, r.read(8)?) != (0x49, 0x83, 0x42) {
        return Some(FrameHeader::Unreadable);
    }
    // color_config (§6.2.2).
    if profile >= 2 {
        r.read(1)?; // ten_or_twelve_bit
    }
    let color_space = r.read(3)?;
    if color_space != 7 {
        r.read(1)?; // color_range
        if profile == 1 || profile == 3 {
            r.read(3)?; // subsampling_x, subsampling_y, reserved_zero
        }
    } else if profile == 1 || profile == 3 {
        r.read(1)?; // reserved_zero (CS_RGB)
    }
    let w = r.read(16)? + 1;
    let h = r.read(16)? + 1;
    Some(FrameHeader::Key(
        u16::try_from(w).ok().zip(u16::try_from(h).ok()),
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::codec::testutil::Bits;

    /// Uncompressed header of a profile-0 key frame of w x h.
    pub(crate) fn key_header(w: u32, h: u32) -> Vec<u8> {
        let mut b = Bits::default();
        // frame_marker, profile 0, show_existing 0, KEY_FRAME, show_frame, !error_res
        b.put(2, 2)
            .put(0, 2)
            .put(0, 1)
            .put(0, 1)
            .put(1, 1)
            .put(0, 1);
        b.put(0x49, 8).put(0x83, 8).put(0x42, 8);
        b.put(1, 3).put(0, 1); // color_space BT601, color_range
        b.put(w - 1, 16).put(h - 1, 16).put(0, 5);
        b.out
    }

    pub(crate) const INTER: [u8; 2] = [0x86, 0x00];

    /// Descriptor byte: flags from "IPLFBEVZ" letters present in `f`.
    pub(crate) fn desc(f: &str) -> u8 {
        "IPLFBEVZ"
            .chars()
            .enumerate()
            .filter(|(_, c)| f.contains(*c))
            .fold(0, |acc, (i, _)| acc | (0x80 >> i))
    }

    pub(crate) fn p(flags: &str, extra: &[u8], data: &[u8]) -> Vec<u8> {
        [&[desc(flags)][..], extra, data].concat()
    }

    #[test]
    fn descriptors() {
        let d = |flags: &str, extra: &[u8]| Vp9Descriptor::parse(&p(flags, extra, &[0xaa]));
        assert_eq!(
            d("BE", &[]).map(|d| (d.begin, d.end, d.len)),
            Ok((true, true, 1))
        );
        // 15-bit PictureID, L in non-flexible mode: TID/U/SID/D + TL0PICIDX.
        let x = d("ILBE", &[0x81, 0x02, 0b0100_0110, 9]).unwrap();
        assert_eq!(
            (
                x.picture_id.map(|p| p.id),
                x.tid,
                x.sid,
                x.tl0_pic_idx,
                x.len
            ),
            (Some(0x102), Some(2), Some(3), Some(9), 5)
        );
        // Flexible mode: two P_DIFFs, no TL0PICIDX.
        let x = d("IPLFB", &[0x05, 0x20, 0x03, 0x04]).unwrap();
        assert_eq!((x.p_diffs, x.tl0_pic_idx, x.len), (2, None, 5));
        assert_eq!(
            d("IPFB", &[5, 1, 1, 1]),
            Err(Vp9Error::Descriptor),
            "4th P_DIFF"
        );
        assert_eq!(
            Vp9Descriptor::parse(&[desc("IPFB"), 5, 1]),
            Err(Vp9Error::Descriptor)
        );
        // SS with 2 layers and resolutions, one picture group with 1 P_DIFF.
        let ss = [0b0011_1000, 0, 160, 0, 90, 1, 64, 0, 180, 1, 0b0000_0100, 1];
        let x = d("BV", &ss).unwrap();
        let s = x.ss.unwrap();
        assert_eq!(
            (s.spatial_layers, s.resolutions, s.picture_groups),
            (2, vec![(160, 90), (320, 180)], 1)
        );
        assert_eq!(x.len, 1 + ss.len());
        assert_eq!(d("BV", &ss[..5]), Err(Vp9Error::ScalabilityStructure));
        assert_eq!(
            Vp9Descriptor::parse(&[desc("BV"), 0b0000_1000, 1, 0b0000_1100]),
            Err(Vp9Error::ScalabilityStructure)
        );
        assert_eq!(
            Vp9Descriptor::parse(&[desc("I")]),
            Err(Vp9Error::Descriptor)
        );
        assert_eq!(
            Vp9Descriptor::parse(&[desc("L")]),
            Err(Vp9Error::Descriptor)
        );
        assert_eq!(Vp9Descriptor::parse(&[desc("B")]), Err(Vp9Error::Empty));
        assert_eq!(Vp9Descriptor::parse(&[]), Err(Vp9Error::Empty));
    }

    #[test]
    fn frame_headers() {
        assert_eq!(
            parse_frame_header(&key_header(1280, 720)),
            FrameHeader::Key(Some((1280, 720)))
        );
        assert_eq!(
            parse_frame_header(&key_header(65_536, 2)),
            FrameHeader::Key(None)
        );
        assert_eq!(parse_frame_header(&INTER), FrameHeader::NotKey);
        assert_eq!(
            parse_frame_header(&[0x88]),
            FrameHeader::NotKey,
            "show_existing_frame"
        );
        assert_eq!(
            parse_frame_header(&key_header(8, 8)[..6]),
            FrameHeader::Unreadable
        );
        assert_eq!(
            parse_frame_header(&[0x40, 0, 0, 0]),
            FrameHeader::Unreadable
        );
        assert_eq!(parse_frame_header(&[]), FrameHeader::Unreadable);
        assert_eq!(
            parse_frame_header(&key_header(640, 480)).dimensions(),
            Some((640, 480))
        );
        assert_eq!(parse_frame_header(&INTER).dimensions(), None);
        let mut bad_sync = key_header(8, 8);
        bad_sync[1] = 0;
        assert_eq!(parse_frame_header(&bad_sync), FrameHeader::Unreadable);
    }
}
