//! AV1: the RTP aggregation header and OBU elements (AOM "RTP Payload Format for
//! AV1" §4.3-4.4), OBU headers (AV1 spec §5.3) and the sequence header (§5.5).

use super::bits::{BitReader, read_leb128, write_leb128};

/// `obu_type` of a sequence header OBU (AV1 spec §6.2.2).
pub const OBU_SEQUENCE_HEADER: u8 = 1;
/// `obu_type` of a temporal delimiter OBU.
pub const OBU_TEMPORAL_DELIMITER: u8 = 2;
/// `obu_type` of a tile list OBU.
pub const OBU_TILE_LIST: u8 = 8;

/// Why an AV1 payload or OBU could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Av1Error {
    /// A LEB128 length is truncated or too large (AV1 spec §4.10.5).
    #[error("AV1 LEB128 length truncated or too large")]
    Leb128,
    /// An OBU element or OBU size runs past the end of the data.
    #[error("AV1 OBU length past the end of the data")]
    ObuLength,
    /// An OBU header is empty, has the forbidden bit set or lacks its extension byte.
    #[error("AV1 OBU header invalid")]
    ObuHeader,
}

/// The aggregation header `|Z|Y| W |N|-|-|-|` (AV1 RTP §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AggregationHeader {
    /// Z: the first element continues a fragment from the previous packet.
    pub continues: bool,
    /// Y: the last element continues in the next packet.
    pub will_continue: bool,
    /// W: number of elements (0 = each element has a length field).
    pub count: u8,
    /// N: first packet of a coded video sequence.
    pub new_sequence: bool,
}

impl AggregationHeader {
    /// Reads the aggregation header byte.
    pub fn from_byte(b: u8) -> Self {
        AggregationHeader {
            continues: b & 0x80 != 0,
            will_continue: b & 0x40 != 0,
            count: (b >> 4) & 0x03,
            new_sequence: b & 0x08 != 0,
        }
    }
}

/// Splits a payload (after the aggregation header) into OBU elements (AV1 RTP §4.3).
pub fn elements(agg: AggregationHeader, mut rest: &[u8]) -> Result<Vec<&[u8]>, Av1Error> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        // With W != 0 the W-th element has no length field: it takes the rest.
        if agg.count != 0 && out.len() + 1 == usize::from(agg.count) {
            out.push(rest);
            break;
        }
        let len = read_leb128(rest).map_err(|_| Av1Error::Leb128)?;
        let body = &rest[len.len..];
        let size = usize::try_from(len.value).map_err(|_| Av1Error::ObuLength)?;
        if size > body.len() {
            return Err(Av1Error::ObuLength);
        }
        out.push(&body[..size]);
        rest = &body[size..];
    }
    Ok(out)
}

/// The first byte of an OBU header `|F| type |X|S|R|` (AV1 spec §5.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObuHeader {
    /// `obu_forbidden_bit`: must be 0.
    pub forbidden: bool,
    /// `obu_type`.
    pub obu_type: u8,
    /// `obu_extension_flag`: an extension byte follows.
    pub extension: bool,
    /// `obu_has_size_field`: a LEB128 payload size follows the header.
    pub has_size: bool,
    /// `obu_reserved_1bit`: set to 0 by encoders.
    pub reserved: bool,
}

impl ObuHeader {
    /// Reads the first header byte.
    pub fn from_byte(b: u8) -> Self {
        ObuHeader {
            forbidden: b & 0x80 != 0,
            obu_type: (b >> 3) & 0x0f,
            extension: b & 0x04 != 0,
            has_size: b & 0x02 != 0,
            reserved: b & 0x01 != 0,
        }
    }
}

/// A complete OBU split into its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Obu<'a> {
    /// obu_type.
    pub obu_type: u8,
    /// First header byte as sent.
    pub header: u8,
    /// Extension byte, if `obu_extension_flag`.
    pub extension: Option<u8>,
    /// The OBU payload.
    pub payload: &'a [u8],
    /// Bytes the OBU takes: header, extension, size field and payload (without a
    /// size field, everything it was given).
    pub len: usize,
}

impl<'a> Obu<'a> {
    /// Parses the OBU at the start of `b` (AV1 spec §5.3); without a size field it
    /// runs to the end of `b`.
    pub fn parse(b: &'a [u8]) -> Result<Self, Av1Error> {
        let [header, rest @ ..] = b else {
            return Err(Av1Error::ObuHeader);
        };
        let h = ObuHeader::from_byte(*header);
        if h.forbidden {
            return Err(Av1Error::ObuHeader);
        }
        let (extension, rest) = if h.extension {
            let [e, rest @ ..] = rest else {
                return Err(Av1Error::ObuHeader);
            };
            (Some(*e), rest)
        } else {
            (None, rest)
        };
        let (payload, len) = if h.has_size {
            let size = read_leb128(rest).map_err(|_| Av1Error::Leb128)?;
            let n = usize::try_from(size.value).map_err(|_| Av1Error::ObuLength)?;
            let payload = rest[size.len..].get(..n).ok_or(Av1Error::ObuLength)?;
            let used = b.len() - rest.len() + size.len + n;
            (payload, used)
        } else {
            (rest, b.len())
        };
        Ok(Obu {
            obu_type: h.obu_type,
            header: *header,
            extension,
            payload,
            len,
        })
    }

    /// Appends the OBU with `obu_has_size_field = 1`.
    pub fn write_sized(&self, out: &mut Vec<u8>) {
        out.push(self.header | 0x02);
        out.extend(self.extension);
        write_leb128(self.payload.len() as u64, out);
        out.extend_from_slice(self.payload);
    }
}

/// The payload of the first sequence header OBU of a temporal unit of OBUs.
pub fn first_sequence_header(mut tu: &[u8]) -> Option<&[u8]> {
    while !tu.is_empty() {
        let obu = Obu::parse(tu).ok()?;
        if obu.obu_type == OBU_SEQUENCE_HEADER {
            return Some(obu.payload);
        }
        tu = &tu[obu.len..];
    }
    None
}

/// What `av1C` needs from a sequence header (AV1 spec §5.5), and the frame size bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceHeader {
    /// seq_profile (0..=2).
    pub seq_profile: u8,
    /// seq_level_idx of the first operating point.
    pub seq_level_idx_0: u8,
    /// seq_tier of the first operating point.
    pub seq_tier_0: u8,
    /// high_bitdepth.
    pub high_bitdepth: bool,
    /// twelve_bit.
    pub twelve_bit: bool,
    /// mono_chrome.
    pub monochrome: bool,
    /// subsampling_x.
    pub chroma_subsampling_x: bool,
    /// subsampling_y.
    pub chroma_subsampling_y: bool,
    /// chroma_sample_position.
    pub chroma_sample_position: u8,
    /// max_frame_width_minus_1 + 1.
    pub max_frame_width: u32,
    /// max_frame_height_minus_1 + 1.
    pub max_frame_height: u32,
}

/// The fields of a sequence header up to the maximum frame size.
struct SequencePrefix {
    seq_profile: u8,
    reduced_still_picture_header: bool,
    seq_level_idx_0: u8,
    seq_tier_0: u8,
    max_frame_width: u32,
    max_frame_height: u32,
}

/// Reads `sequence_header_obu()` (§5.5.1) up to `max_frame_height_minus_1`.
fn read_sequence_prefix(r: &mut BitReader<'_>) -> Option<SequencePrefix> {
    let seq_profile = r.read(3)? as u8;
    let _still_picture = r.flag()?;
    let reduced = r.flag()?;
    let (seq_level_idx_0, seq_tier_0);
    if reduced {
        seq_level_idx_0 = r.read(5)? as u8;
        seq_tier_0 = 0;
    } else {
        let mut decoder_model_info_present = false;
        let mut buffer_delay_length = 0;
        if r.flag()? {
            // timing_info()
            r.read(32)?;
            r.read(32)?;
            if r.flag()? {
                r.ue()?; // num_ticks_per_picture_minus_1: uvlc()
            }
            decoder_model_info_present = r.flag()?;
            if decoder_model_info_present {
                buffer_delay_length = r.read(5)? + 1;
                r.read(32)?;
                r.read(5)?;
                r.read(5)?;
            }
        }
        let initial_display_delay_present = r.flag()?;
        let operating_points = r.read(5)? + 1;
        let mut first = None;
        for _ in 0..operating_points {
            r.read(12)?; // operating_point_idc
            let level = r.read(5)? as u8;
            let tier = if level > 7 { r.read(1)? as u8 } else { 0 };
            if decoder_model_info_present && r.flag()? {
                r.read(buffer_delay_length)?;
                r.read(buffer_delay_length)?;
                r.read(1)?;
            }
            if initial_display_delay_present && r.flag()? {
                r.read(4)?;
            }
            first.get_or_insert((level, tier));
        }
        (seq_level_idx_0, seq_tier_0) = first?;
    }
    let width_bits = r.read(4)? + 1;
    let height_bits = r.read(4)? + 1;
    let max_frame_width = r.read(width_bits)? + 1;
    let max_frame_height = r.read(height_bits)? + 1;
    Some(SequencePrefix {
        seq_profile,
        reduced_still_picture_header: reduced,
        seq_level_idx_0,
        seq_tier_0,
        max_frame_width,
        max_frame_height,
    })
}

/// `max_frame_width` and `max_frame_height` from a sequence header OBU payload (AV1 spec §5.5).
pub fn sequence_header_dimensions(payload: &[u8]) -> Option<(u16, u16)> {
    let p = read_sequence_prefix(&mut BitReader::new(payload))?;
    Some((
        u16::try_from(p.max_frame_width).ok()?,
        u16::try_from(p.max_frame_height).ok()?,
    ))
}

/// Parses `sequence_header_obu()` (§5.5) up to the end of `color_config()`.
pub fn parse_sequence_header(payload: &[u8]) -> Option<SequenceHeader> {
    let mut r = BitReader::new(payload);
    let p = read_sequence_prefix(&mut r)?;
    let (seq_profile, reduced) = (p.seq_profile, p.reduced_still_picture_header);
    if seq_profile > 2 {
        return None;
    }
    if !reduced && r.flag()? {
        // frame_id_numbers_present_flag
        r.read(4)?;
        r.read(3)?;
    }
    r.read(3)?; // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if !reduced {
        r.read(4)?; // interintra, masked compound, warped motion, dual filter
        let enable_order_hint = r.flag()?;
        if enable_order_hint {
            r.read(2)?; // jnt_comp, ref_frame_mvs
        }
        let seq_choose_screen_content_tools = r.flag()?;
        let force_screen_content_tools = if seq_choose_screen_content_tools {
            2
        } else {
            r.read(1)?
        };
        if force_screen_content_tools > 0 {
            let seq_choose_integer_mv = r.flag()?;
            if !seq_choose_integer_mv {
                r.read(1)?;
            }
        }
        if enable_order_hint {
            r.read(3)?;
        }
    }
    r.read(3)?; // superres, cdef, restoration
    // color_config() (§5.5.2)
    let high_bitdepth = r.flag()?;
    let twelve_bit = seq_profile == 2 && high_bitdepth && r.flag()?;
    let monochrome = seq_profile != 1 && r.flag()?;
    let (mut cp, mut tc, mut mc) = (2, 2, 2);
    if r.flag()? {
        cp = r.read(8)?;
        tc = r.read(8)?;
        mc = r.read(8)?;
    }
    let (ssx, ssy, csp);
    if monochrome {
        r.read(1)?; // color_range
        (ssx, ssy, csp) = (true, true, 0);
    } else if cp == 1 && tc == 13 && mc == 0 {
        // sRGB: 4:4:4, no color_range bit.
        (ssx, ssy, csp) = (false, false, 0);
    } else {
        r.read(1)?; // color_range
        let (x, y) = match seq_profile {
            0 => (true, true),
            1 => (false, false),
            _ if twelve_bit => {
                let x = r.flag()?;
                let y = x && r.flag()?;
                (x, y)
            }
            _ => (true, false),
        };
        let pos = if x && y { r.read(2)? as u8 } else { 0 };
        (ssx, ssy, csp) = (x, y, pos);
    }
    Some(SequenceHeader {
        seq_profile,
        seq_level_idx_0: p.seq_level_idx_0,
        seq_tier_0: p.seq_tier_0,
        high_bitdepth,
        twelve_bit,
        monochrome,
        chroma_subsampling_x: ssx,
        chroma_subsampling_y: ssy,
        chroma_sample_position: csp,
        max_frame_width: p.max_frame_width,
        max_frame_height: p.max_frame_height,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::codec::testutil::Bits;

    /// Sequence header payload (profile 0, one operating point at level 8) for w x h.
    pub(crate) fn seq_header(w: u32, h: u32) -> Vec<u8> {
        let mut b = Bits::default();
        b.put(0, 3).put(0, 1).put(0, 1); // profile, still, reduced
        b.put(0, 1).put(0, 1); // timing_info_present, initial_display_delay_present
        b.put(0, 5).put(0, 12).put(8, 5).put(0, 1); // 1 op: idc, level 8, tier
        b.put(15, 4).put(15, 4).put(w - 1, 16).put(h - 1, 16);
        b.put(0, 8);
        b.out
    }

    #[test]
    fn sequence_header_sizes() {
        assert_eq!(
            sequence_header_dimensions(&seq_header(1920, 1080)),
            Some((1920, 1080))
        );
        assert_eq!(
            sequence_header_dimensions(&seq_header(1920, 1080)[..5]),
            None
        );
        // reduced_still_picture_header, 8-bit sizes.
        let mut b = Bits::default();
        b.put(0, 3)
            .put(1, 1)
            .put(1, 1)
            .put(0, 5)
            .put(7, 4)
            .put(7, 4)
            .put(99, 8)
            .put(49, 8);
        assert_eq!(sequence_header_dimensions(&b.out), Some((100, 50)));
        // Timing info with equal_picture_interval and a decoder model.
        let mut b = Bits::default();
        b.put(0, 3)
            .put(0, 1)
            .put(0, 1)
            .put(1, 1)
            .put(1, 32)
            .put(30, 32)
            .put(1, 1)
            .put(1, 1);
        b.put(1, 1).put(4, 5).put(1, 32).put(0, 5).put(0, 5); // decoder_model_info, 5-bit delays
        b.put(1, 1).put(0, 5).put(0, 12).put(0, 5); // initial delay present, 1 op, level 0
        b.put(1, 1).put(3, 5).put(4, 5).put(1, 1); // decoder model for op
        b.put(1, 1).put(9, 4); // initial display delay for op
        b.put(9, 4).put(9, 4).put(639, 10).put(479, 10);
        assert_eq!(sequence_header_dimensions(&b.out), Some((640, 480)));
    }

    #[test]
    fn element_splitting() {
        let a = AggregationHeader::from_byte;
        assert_eq!(
            elements(a(0x00), &[2, 0x30, 1, 1, 0x30]),
            Ok(vec![&[0x30, 1][..], &[0x30][..]])
        );
        assert_eq!(
            elements(a(0x10), &[0x30, 1, 2]),
            Ok(vec![&[0x30, 1, 2][..]])
        );
        assert_eq!(
            elements(a(0x20), &[1, 0x30, 0x30, 5]),
            Ok(vec![&[0x30][..], &[0x30, 5][..]])
        );
        assert_eq!(elements(a(0x00), &[0x80]), Err(Av1Error::Leb128));
        assert_eq!(elements(a(0x00), &[5, 1, 2]), Err(Av1Error::ObuLength));
        assert_eq!(elements(a(0x30), &[9, 1]), Err(Av1Error::ObuLength));
        assert_eq!(
            elements(a(0x00), &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(Av1Error::Leb128)
        );
    }

    #[test]
    fn obu_parsing() {
        assert_eq!(
            Obu::parse(&[0x30, 1]).map(|o| (o.obu_type, o.payload, o.len)),
            Ok((6, &[1][..], 2))
        );
        // Extension byte and a size field shorter than the element: inner size wins.
        let o = Obu::parse(&[0x36, 0x28, 1, 9, 9]).unwrap();
        assert_eq!(
            (o.obu_type, o.extension, o.payload, o.len),
            (6, Some(0x28), &[9][..], 4)
        );
        let mut out = Vec::new();
        o.write_sized(&mut out);
        assert_eq!(out, [0x36, 0x28, 1, 9]);
        assert_eq!(Obu::parse(&[]), Err(Av1Error::ObuHeader));
        assert_eq!(Obu::parse(&[0xb0, 1]), Err(Av1Error::ObuHeader));
        assert_eq!(Obu::parse(&[0x34]), Err(Av1Error::ObuHeader));
        assert_eq!(Obu::parse(&[0x32, 5, 1]), Err(Av1Error::ObuLength));
        assert_eq!(Obu::parse(&[0x32, 0x80]), Err(Av1Error::Leb128));
        assert_eq!(
            ObuHeader::from_byte(0x0f),
            ObuHeader {
                forbidden: false,
                obu_type: 1,
                extension: true,
                has_size: true,
                reserved: true
            }
        );
    }

    /// Starts of libaom keyframes (temporal delimiter, sequence header, frame
    /// OBU header), 320x240 testsrc: 4:2:0 profile 0, and 4:4:4 profile 1.
    pub(crate) const TU_420: &[u8] = &[
        0x12, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x04, 0x3c, 0xff, 0xbc, 0xda, 0xf9, 0x00, 0x40,
        0x32, 0xbb,
    ];

    #[test]
    fn sequence_header_of_a_temporal_unit() {
        let payload = first_sequence_header(TU_420).expect("found");
        assert_eq!(payload, &TU_420[4..15]);
        let sh = parse_sequence_header(payload).expect("parses");
        assert_eq!(
            (sh.seq_profile, sh.max_frame_width, sh.max_frame_height),
            (0, 320, 240)
        );
        assert_eq!(sequence_header_dimensions(payload), Some((320, 240)));
        assert_eq!(first_sequence_header(&TU_420[..2]), None);
        assert_eq!(first_sequence_header(&TU_420[..10]), None);
        // Profile 3 is not AV1 (seq_profile is 0..=2).
        let mut bad = payload.to_vec();
        bad[0] |= 0xe0;
        assert_eq!(parse_sequence_header(&bad), None);
    }
}
