//! AV1 `CodecPrivate` for Matroska/WebM: the `av1C` record (AV1 ISOBMFF
//! binding §2.3, reused by the Matroska AV1 mapping) built from the sequence
//! header OBU (AV1 spec §5.5) of a temporal unit, plus VP8/VP9 keyframe sizes.
//!
//! Only the fields up to `color_config` are read; anything truncated or
//! out of range yields `None`, never a panic.

/// Reads big-endian bit fields, AV1 spec §4.10 `f(n)`.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Self { data, bit: 0 }
    }

    pub(super) fn f(&mut self, n: u32) -> Option<u32> {
        let mut v: u32 = 0;
        for _ in 0..n {
            let byte = *self.data.get(self.bit / 8)?;
            let b = (byte >> (7 - self.bit % 8)) & 1;
            v = (v << 1) | u32::from(b);
            self.bit += 1;
        }
        Some(v)
    }

    fn flag(&mut self) -> Option<bool> {
        Some(self.f(1)? == 1)
    }

    /// `uvlc()` (§4.10.3), only skipped here.
    fn uvlc(&mut self) -> Option<()> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros >= 32 {
                return None;
            }
        }
        self.f(zeros)?;
        Some(())
    }
}

/// `leb128()` (§4.10.5): value and bytes used.
fn leb128(data: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..8 {
        let b = *data.get(i)?;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

const OBU_SEQUENCE_HEADER: u8 = 1;

/// What `av1C` needs from a sequence header, and the frame size bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SequenceHeader {
    pub seq_profile: u8,
    pub seq_level_idx_0: u8,
    pub seq_tier_0: u8,
    pub high_bitdepth: bool,
    pub twelve_bit: bool,
    pub monochrome: bool,
    pub chroma_subsampling_x: bool,
    pub chroma_subsampling_y: bool,
    pub chroma_sample_position: u8,
    pub max_frame_width: u32,
    pub max_frame_height: u32,
}

/// The payload of the first sequence header OBU in a temporal unit.
fn find_sequence_header(mut data: &[u8]) -> Option<&[u8]> {
    while !data.is_empty() {
        let header = data[0];
        let obu_type = (header >> 3) & 0x0f;
        let has_extension = header & 0x04 != 0;
        let has_size = header & 0x02 != 0;
        let header_len = 1 + usize::from(has_extension);
        let (payload_len, size_len) = if has_size {
            let (v, n) = leb128(data.get(header_len..)?)?;
            (usize::try_from(v).ok()?, n)
        } else {
            // Without a size field the OBU runs to the end of the data (§5.2).
            (data.len().checked_sub(header_len)?, 0)
        };
        let start = header_len + size_len;
        let end = start.checked_add(payload_len)?;
        let payload = data.get(start..end)?;
        if obu_type == OBU_SEQUENCE_HEADER {
            return Some(payload);
        }
        data = &data[end..];
    }
    None
}

/// Parses `sequence_header_obu()` (§5.5) up to the end of `color_config()`.
pub(super) fn parse_sequence_header(payload: &[u8]) -> Option<SequenceHeader> {
    let mut r = BitReader::new(payload);
    let seq_profile = r.f(3)? as u8;
    if seq_profile > 2 {
        return None;
    }
    let _still_picture = r.flag()?;
    let reduced = r.flag()?;
    let (seq_level_idx_0, seq_tier_0);
    if reduced {
        seq_level_idx_0 = r.f(5)? as u8;
        seq_tier_0 = 0;
    } else {
        let mut decoder_model_info_present = false;
        let mut buffer_delay_length = 0;
        if r.flag()? {
            // timing_info()
            r.f(32)?;
            r.f(32)?;
            if r.flag()? {
                r.uvlc()?;
            }
            decoder_model_info_present = r.flag()?;
            if decoder_model_info_present {
                buffer_delay_length = r.f(5)? + 1;
                r.f(32)?;
                r.f(5)?;
                r.f(5)?;
            }
        }
        let initial_display_delay_present = r.flag()?;
        let operating_points = r.f(5)? + 1;
        let mut first = None;
        for _ in 0..operating_points {
            r.f(12)?; // operating_point_idc
            let level = r.f(5)? as u8;
            let tier = if level > 7 { r.f(1)? as u8 } else { 0 };
            if decoder_model_info_present && r.flag()? {
                r.f(buffer_delay_length)?;
                r.f(buffer_delay_length)?;
                r.f(1)?;
            }
            if initial_display_delay_present && r.flag()? {
                r.f(4)?;
            }
            first.get_or_insert((level, tier));
        }
        (seq_level_idx_0, seq_tier_0) = first?;
    }
    let width_bits = r.f(4)? + 1;
    let height_bits = r.f(4)? + 1;
    let max_frame_width = r.f(width_bits)? + 1;
    let max_frame_height = r.f(height_bits)? + 1;
    if !reduced && r.flag()? {
        // frame_id_numbers_present_flag
        r.f(4)?;
        r.f(3)?;
    }
    r.f(3)?; // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if !reduced {
        r.f(4)?; // interintra, masked compound, warped motion, dual filter
        let enable_order_hint = r.flag()?;
        if enable_order_hint {
            r.f(2)?; // jnt_comp, ref_frame_mvs
        }
        let seq_choose_screen_content_tools = r.flag()?;
        let force_screen_content_tools = if seq_choose_screen_content_tools {
            2
        } else {
            r.f(1)?
        };
        if force_screen_content_tools > 0 {
            let seq_choose_integer_mv = r.flag()?;
            if !seq_choose_integer_mv {
                r.f(1)?;
            }
        }
        if enable_order_hint {
            r.f(3)?;
        }
    }
    r.f(3)?; // superres, cdef, restoration
    // color_config() (§5.5.2)
    let high_bitdepth = r.flag()?;
    let twelve_bit = seq_profile == 2 && high_bitdepth && r.flag()?;
    let monochrome = seq_profile != 1 && r.flag()?;
    let (mut cp, mut tc, mut mc) = (2, 2, 2);
    if r.flag()? {
        cp = r.f(8)?;
        tc = r.f(8)?;
        mc = r.f(8)?;
    }
    let (ssx, ssy, csp);
    if monochrome {
        r.f(1)?; // color_range
        (ssx, ssy, csp) = (true, true, 0);
    } else if cp == 1 && tc == 13 && mc == 0 {
        // sRGB: 4:4:4, no color_range bit.
        (ssx, ssy, csp) = (false, false, 0);
    } else {
        r.f(1)?; // color_range
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
        let pos = if x && y { r.f(2)? as u8 } else { 0 };
        (ssx, ssy, csp) = (x, y, pos);
    }
    Some(SequenceHeader {
        seq_profile,
        seq_level_idx_0,
        seq_tier_0,
        high_bitdepth,
        twelve_bit,
        monochrome,
        chroma_subsampling_x: ssx,
        chroma_subsampling_y: ssy,
        chroma_sample_position: csp,
        max_frame_width,
        max_frame_height,
    })
}

/// Builds `av1C` from a temporal unit holding a sequence header OBU.
///
/// The configOBUs part carries that sequence header, rewritten with
/// `obu_has_size_field = 1` and without extension header, as the Matroska
/// AV1 mapping requires.
pub(super) fn av1c_from_temporal_unit(tu: &[u8]) -> Option<(Vec<u8>, SequenceHeader)> {
    let payload = find_sequence_header(tu)?;
    let sh = parse_sequence_header(payload)?;
    let mut out = vec![
        0x81, // marker 1, version 1
        (sh.seq_profile << 5) | sh.seq_level_idx_0,
        (sh.seq_tier_0 << 7)
            | (u8::from(sh.high_bitdepth) << 6)
            | (u8::from(sh.twelve_bit) << 5)
            | (u8::from(sh.monochrome) << 4)
            | (u8::from(sh.chroma_subsampling_x) << 3)
            | (u8::from(sh.chroma_subsampling_y) << 2)
            | sh.chroma_sample_position,
        0, // no initial_presentation_delay
    ];
    out.push((OBU_SEQUENCE_HEADER << 3) | 0x02);
    let mut len = payload.len();
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(payload);
    Some((out, sh))
}

/// Width and height from a VP8 keyframe header (RFC 6386 §9.1); `None` for interframes.
pub(super) fn vp8_dimensions(frame: &[u8]) -> Option<(u16, u16)> {
    let keyframe = frame.first()? & 1 == 0;
    if !keyframe || frame.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([*frame.get(6)?, *frame.get(7)?]) & 0x3fff;
    let h = u16::from_le_bytes([*frame.get(8)?, *frame.get(9)?]) & 0x3fff;
    (w > 0 && h > 0).then_some((w, h))
}

/// Width and height from a VP9 keyframe's uncompressed header (VP9 spec §6.2); `None` otherwise.
pub(super) fn vp9_dimensions(frame: &[u8]) -> Option<(u16, u16)> {
    let mut r = BitReader::new(frame);
    if r.f(2)? != 2 {
        return None; // frame_marker
    }
    let low = r.f(1)?;
    let high = r.f(1)?;
    let profile = (high << 1) | low;
    if profile == 3 {
        r.f(1)?;
    }
    if r.flag()? {
        return None; // show_existing_frame
    }
    if r.f(1)? != 0 {
        return None; // frame_type: not a keyframe
    }
    r.f(2)?; // show_frame, error_resilient_mode
    if r.f(24)? != 0x49_8342 {
        return None;
    }
    // color_config()
    if profile >= 2 {
        r.f(1)?;
    }
    let color_space = r.f(3)?;
    if color_space != 7 {
        r.f(1)?;
        if profile == 1 || profile == 3 {
            r.f(3)?;
        }
    } else if profile == 1 || profile == 3 {
        r.f(1)?;
    }
    let w = r.f(16)? + 1;
    let h = r.f(16)? + 1;
    Some((u16::try_from(w).ok()?, u16::try_from(h).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts of libaom keyframes (temporal delimiter, sequence header, frame
    /// OBU header), 320x240 testsrc: 4:2:0 profile 0, and 4:4:4 profile 1.
    const TU_420: &[u8] = &[
        0x12, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x04, 0x3c, 0xff, 0xbc, 0xda, 0xf9, 0x00, 0x40,
        0x32, 0xbb,
    ];
    const TU_444: &[u8] = &[
        0x12, 0x00, 0x0a, 0x0d, 0x20, 0x00, 0x00, 0x04, 0x3c, 0xff, 0xbc, 0xda, 0xf9, 0x20, 0x21,
        0xa0, 0x04, 0x32, 0x9c,
    ];

    #[test]
    fn av1c_matches_ffmpeg() {
        // (temporal unit, CodecPrivate ffmpeg's Matroska muxer writes for it)
        let cases: &[(&[u8], &[u8])] = &[
            (TU_420, &[0x81, 0x00, 0x0c, 0x00]),
            (TU_444, &[0x81, 0x20, 0x00, 0x00]),
        ];
        for &(tu, head) in cases {
            let (av1c, sh) = av1c_from_temporal_unit(tu).expect("parses");
            let obu_len = 2 + usize::from(tu[3]);
            assert_eq!(&av1c[..4], head);
            assert_eq!(&av1c[4..], &tu[2..2 + obu_len]);
            assert_eq!((sh.max_frame_width, sh.max_frame_height), (320, 240));
        }
    }

    #[test]
    fn truncated_input_is_none() {
        for n in 0..TU_444.len() {
            // Never panics; a cut sequence header OBU is rejected.
            let got = av1c_from_temporal_unit(&TU_444[..n]);
            assert_eq!(got.is_some(), n >= 17, "{n}");
        }
        assert!(av1c_from_temporal_unit(&[0x12, 0x00]).is_none());
        assert!(av1c_from_temporal_unit(&[0x0a, 0xff]).is_none());
    }

    #[test]
    fn vp8_keyframe_size() {
        let kf = [0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
        assert_eq!(vp8_dimensions(&kf), Some((640, 480)));
        assert_eq!(vp8_dimensions(&[0x51, 0, 0, 0, 0, 0]), None);
        assert_eq!(vp8_dimensions(&kf[..8]), None);
    }

    #[test]
    fn vp9_keyframe_size() {
        // profile 0 keyframe, show_frame, sync code, color_space BT.601 (1),
        // color_range 0, width-1 = 639, height-1 = 479.
        let mut bits = String::from("10" /* marker */);
        bits += "00"; // profile 0
        bits += "0"; // show_existing_frame
        bits += "0"; // keyframe
        bits += "10"; // show_frame, error_resilient
        bits += "010010011000001101000010"; // sync code
        bits += "001"; // color_space
        bits += "0"; // color_range
        bits += &format!("{:016b}{:016b}", 639, 479);
        while bits.len() % 8 != 0 {
            bits.push('0');
        }
        let bytes: Vec<u8> = bits
            .as_bytes()
            .chunks(8)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap())
            .collect();
        assert_eq!(vp9_dimensions(&bytes), Some((640, 480)));
        assert_eq!(vp9_dimensions(&bytes[..5]), None);
    }
}
