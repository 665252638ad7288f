//! H.264 (RFC 6184, H.264 spec): NAL unit header, packet type numbers, the SPS
//! fields rtprec uses and the recovery point SEI.

use super::bits::BitReader;
use super::h26x::{rbsp, saturated_size};

/// Non-IDR coded slice (H.264 Table 7-1).
pub const NAL_SLICE: u8 = 1;
/// IDR coded slice.
pub const NAL_IDR: u8 = 5;
/// Supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// Sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// Picture parameter set.
pub const NAL_PPS: u8 = 8;
/// STAP-A aggregation packet (RFC 6184 §5.7.1).
pub const STAP_A: u8 = 24;
/// FU-A fragmentation unit (RFC 6184 §5.8).
pub const FU_A: u8 = 28;

/// The NAL unit header `|F|NRI| Type |` (H.264 §7.3.1), also the RTP payload header (RFC 6184 §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NalHeader {
    /// forbidden_zero_bit.
    pub forbidden: bool,
    /// nal_ref_idc: 0 for NAL units no picture references.
    pub nri: u8,
    /// nal_unit_type (1..=23 NAL units, 24..=29 RTP packet types).
    pub nal_type: u8,
}

impl NalHeader {
    /// Reads the header byte.
    pub fn from_byte(b: u8) -> Self {
        NalHeader {
            forbidden: b & 0x80 != 0,
            nri: (b >> 5) & 0x03,
            nal_type: b & 0x1f,
        }
    }

    /// Types 1..=23: a NAL unit rather than an RTP aggregation or fragmentation packet.
    pub fn is_nal_unit(&self) -> bool {
        (1..=23).contains(&self.nal_type)
    }
}

/// The SPS fields rtprec uses (H.264 §7.3.2.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sps {
    /// profile_idc.
    pub profile_idc: u8,
    /// The constraint_set flags byte.
    pub constraints: u8,
    /// level_idc.
    pub level_idc: u8,
    /// chroma_format_idc (1 = 4:2:0 unless a high profile says otherwise).
    pub chroma_format_idc: u32,
    /// bit_depth_luma_minus8.
    pub bit_depth_luma_minus8: u32,
    /// bit_depth_chroma_minus8.
    pub bit_depth_chroma_minus8: u32,
    /// Width in pixels after cropping.
    pub width: u32,
    /// Height in pixels after cropping.
    pub height: u32,
}

impl Sps {
    /// Width and height, saturated to u16.
    pub fn dimensions(&self) -> (u16, u16) {
        saturated_size(self.width, self.height)
    }

    /// True for the profiles whose SPS (and `avcC`) carry chroma format and bit depths.
    pub fn is_high(&self) -> bool {
        HIGH_PROFILES.contains(&self.profile_idc)
    }
}

/// profile_idc values with chroma_format_idc in the SPS (H.264 §7.3.2.1.1).
const HIGH_PROFILES: [u8; 12] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134];

/// Whether `profile_idc` is one H.264 Annex A (and Annexes G, H) defines.
pub fn is_known_profile(profile_idc: u8) -> bool {
    matches!(profile_idc, 66 | 77 | 88 | 135) || HIGH_PROFILES.contains(&profile_idc)
}

/// Why an SPS could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("H.264 SPS truncated or invalid")]
pub struct SpsError;

/// Parses an SPS NAL unit (header byte included) far enough for size and profile.
pub fn parse_sps(nal: &[u8]) -> Result<Sps, SpsError> {
    if nal.first().map(|&b| NalHeader::from_byte(b).nal_type) != Some(NAL_SPS) {
        return Err(SpsError);
    }
    let data = rbsp(&nal[1..]);
    let mut r = BitReader::new(&data);
    let bits = |r: &mut BitReader<'_>, n| r.read(n).ok_or(SpsError);
    let profile_idc = bits(&mut r, 8)? as u8;
    let constraints = bits(&mut r, 8)? as u8;
    let level_idc = bits(&mut r, 8)? as u8;
    let ue = |r: &mut BitReader<'_>| r.ue().ok_or(SpsError);
    let _sps_id = ue(&mut r)?;
    let (mut chroma_format_idc, mut separate_planes) = (1, false);
    let (mut depth_l, mut depth_c) = (0, 0);
    if HIGH_PROFILES.contains(&profile_idc) || profile_idc == 135 {
        chroma_format_idc = ue(&mut r)?;
        if chroma_format_idc > 3 {
            return Err(SpsError);
        }
        if chroma_format_idc == 3 {
            separate_planes = bits(&mut r, 1)? == 1;
        }
        depth_l = ue(&mut r)?;
        depth_c = ue(&mut r)?;
        let _qpprime_y_zero_transform_bypass = bits(&mut r, 1)?;
        if bits(&mut r, 1)? == 1 {
            // seq_scaling_matrix_present_flag: skip the lists (§7.3.2.1.1.1).
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if bits(&mut r, 1)? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            let delta = r.se().ok_or(SpsError)?;
                            next = (last + delta).rem_euclid(256);
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    let _log2_max_frame_num_minus4 = ue(&mut r)?;
    match ue(&mut r)? {
        0 => {
            let _log2_max_poc_lsb_minus4 = ue(&mut r)?;
        }
        1 => {
            let _delta_pic_order_always_zero = bits(&mut r, 1)?;
            r.se().ok_or(SpsError)?;
            r.se().ok_or(SpsError)?;
            let cycle = ue(&mut r)?;
            if cycle > 255 {
                return Err(SpsError);
            }
            for _ in 0..cycle {
                r.se().ok_or(SpsError)?;
            }
        }
        2 => {}
        _ => return Err(SpsError),
    }
    let _max_num_ref_frames = ue(&mut r)?;
    let _gaps_allowed = bits(&mut r, 1)?;
    let width_mbs = u64::from(ue(&mut r)?) + 1;
    let height_map_units = u64::from(ue(&mut r)?) + 1;
    let frame_mbs_only = bits(&mut r, 1)? == 1;
    if !frame_mbs_only {
        let _mb_adaptive_frame_field = bits(&mut r, 1)?;
    }
    let _direct_8x8_inference = bits(&mut r, 1)?;
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let mut width = width_mbs * 16;
    let mut height = field_factor * height_map_units * 16;
    if bits(&mut r, 1)? == 1 {
        let (l, rt, t, b) = (ue(&mut r)?, ue(&mut r)?, ue(&mut r)?, ue(&mut r)?);
        // §7.4.2.1.1: crop units depend on ChromaArrayType and field coding.
        let chroma_array_type = if separate_planes {
            0
        } else {
            chroma_format_idc
        };
        let (sub_w, sub_h) = match chroma_array_type {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let (crop_x, crop_y) = if chroma_array_type == 0 {
            (1, field_factor)
        } else {
            (sub_w, sub_h * field_factor)
        };
        let cx = crop_x * (u64::from(l) + u64::from(rt));
        let cy = crop_y * (u64::from(t) + u64::from(b));
        if cx >= width || cy >= height {
            return Err(SpsError);
        }
        width -= cx;
        height -= cy;
    }
    Ok(Sps {
        profile_idc,
        constraints,
        level_idc,
        chroma_format_idc,
        bit_depth_luma_minus8: depth_l,
        bit_depth_chroma_minus8: depth_c,
        width: u32::try_from(width).map_err(|_| SpsError)?,
        height: u32::try_from(height).map_err(|_| SpsError)?,
    })
}

/// `recovery_frame_cnt` of a recovery point message (payload type 6) in an
/// SEI NAL unit (H.264 §7.3.2.3.1, §D.1.8), if it has one.
pub fn sei_recovery_frame_cnt(nal: &[u8]) -> Option<u32> {
    let data = rbsp(nal.get(1..)?);
    let mut rest = &data[..];
    // Each message: type and size as runs of 0xff plus a last byte; stop at rbsp_trailing_bits.
    while rest.len() > 1 {
        let mut read = || -> Option<usize> {
            let mut v = 0usize;
            loop {
                let (&b, tail) = rest.split_first()?;
                rest = tail;
                v += usize::from(b);
                if b != 0xff {
                    return Some(v);
                }
            }
        };
        let (payload_type, size) = (read()?, read()?);
        let payload = rest.get(..size)?;
        if payload_type == 6 {
            return BitReader::new(payload).ue();
        }
        rest = &rest[size..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testutil::hex;
    use proptest::prelude::*;

    #[test]
    fn sps_of_real_encoders() {
        let cases = [
            // str0m's capture (libwebrtc, Constrained Baseline, cropped to 494x370).
            ("6742c01e8c8d40f863d44403c2211a80", (494, 370), 66),
            // sipp-scenarios camera (Baseline, VUI with timing).
            (
                "6742c016b680a03da10000030001000003001e8f162ea0",
                (640, 480),
                66,
            ),
        ];
        for (sps, dims, profile) in cases {
            let s = parse_sps(&hex(sps)).expect(sps);
            assert_eq!((s.dimensions(), s.profile_idc), (dims, profile), "{sps}");
        }
        let s = parse_sps(&hex("67f4001e919b281485fc7cf80880000003008000001e078b16cb")).unwrap();
        assert_eq!(
            (s.chroma_format_idc, s.bit_depth_luma_minus8, s.is_high()),
            (3, 0, true)
        );
        assert_eq!(parse_sps(&hex("6742c0")), Err(SpsError));
        assert_eq!(parse_sps(&hex("68ce3c80")), Err(SpsError));
        assert_eq!(parse_sps(&[]), Err(SpsError));
    }

    #[test]
    fn headers_and_profiles() {
        assert_eq!(
            NalHeader::from_byte(0x67),
            NalHeader {
                forbidden: false,
                nri: 3,
                nal_type: NAL_SPS
            }
        );
        assert!(NalHeader::from_byte(0x41).is_nal_unit());
        assert!(!NalHeader::from_byte(0x7c).is_nal_unit());
        assert!(NalHeader::from_byte(0x80).forbidden);
        assert!(is_known_profile(66) && is_known_profile(100) && is_known_profile(135));
        assert!(!is_known_profile(0) && !is_known_profile(101));
    }

    #[test]
    fn recovery_points() {
        // recovery_frame_cnt 38 (sippscen's camera) and 0.
        assert_eq!(
            sei_recovery_frame_cnt(&[0x06, 0x06, 0x02, 0x04, 0xf1, 0x80]),
            Some(38)
        );
        assert_eq!(
            sei_recovery_frame_cnt(&[0x06, 0x06, 0x01, 0xc4, 0x80]),
            Some(0)
        );
        // A user data SEI (type 5) only.
        assert_eq!(
            sei_recovery_frame_cnt(&[0x06, 0x05, 0x01, 0x00, 0x80]),
            None
        );
        assert_eq!(sei_recovery_frame_cnt(&[0x06]), None);
        assert_eq!(sei_recovery_frame_cnt(&[]), None);
    }

    proptest! {
        #[test]
        fn sps_parser_never_panics(b in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut nal = vec![0x67];
            nal.extend(b);
            let _ = parse_sps(&nal);

        }
    }
}
