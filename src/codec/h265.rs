//! H.265 (RFC 7798, H.265 spec): NAL unit header, packet type numbers and the
//! SPS fields rtprec (and `hvcC`) uses.

use super::bits::BitReader;
use super::h26x::{rbsp, saturated_size};

/// Video parameter set (H.265 Table 7-1).
pub const NAL_VPS: u8 = 32;
/// Sequence parameter set.
pub const NAL_SPS: u8 = 33;
/// Picture parameter set.
pub const NAL_PPS: u8 = 34;
/// Aggregation packet (RFC 7798 §4.4.2).
pub const AP: u8 = 48;
/// Fragmentation unit (RFC 7798 §4.4.3).
pub const FU: u8 = 49;

/// The NAL unit header `|F| Type | LayerId | TID |` (H.265 §7.3.1.2), also the
/// RTP payload header (RFC 7798 §1.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NalHeader {
    /// forbidden_zero_bit.
    pub forbidden: bool,
    /// nal_unit_type (0..=47 NAL units, 48..=50 RTP packet types).
    pub nal_type: u8,
    /// nuh_layer_id.
    pub layer_id: u8,
    /// nuh_temporal_id_plus1 (0 is not allowed).
    pub tid: u8,
}

impl NalHeader {
    /// Reads the two header bytes.
    pub fn from_bytes(b0: u8, b1: u8) -> Self {
        NalHeader {
            forbidden: b0 & 0x80 != 0,
            nal_type: (b0 >> 1) & 0x3f,
            layer_id: ((b0 & 1) << 5) | (b1 >> 3),
            tid: b1 & 0x07,
        }
    }
}

/// The SPS fields rtprec uses (H.265 §7.3.2.2), including what `hvcC` copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sps {
    /// sps_max_sub_layers_minus1.
    pub max_sub_layers_minus1: u8,
    /// sps_temporal_id_nesting_flag.
    pub temporal_id_nesting: bool,
    /// general_profile_space.
    pub profile_space: u8,
    /// general_tier_flag.
    pub tier: bool,
    /// general_profile_idc.
    pub profile_idc: u8,
    /// `general_profile_compatibility_flag[32]`.
    pub compatibility: [u8; 4],
    /// The 48 bits of general constraint flags.
    pub constraints: [u8; 6],
    /// general_level_idc.
    pub level_idc: u8,
    /// chroma_format_idc.
    pub chroma_format_idc: u8,
    /// bit_depth_luma_minus8.
    pub bit_depth_luma_minus8: u8,
    /// bit_depth_chroma_minus8.
    pub bit_depth_chroma_minus8: u8,
    /// Width in luma samples after the conformance window.
    pub width: u32,
    /// Height in luma samples after the conformance window.
    pub height: u32,
}

impl Sps {
    /// Width and height, saturated to u16.
    pub fn dimensions(&self) -> (u16, u16) {
        saturated_size(self.width, self.height)
    }
}

/// Why an SPS could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("H.265 SPS truncated or invalid")]
pub struct SpsError;

/// Parses an SPS NAL unit (2-byte header included) up to the bit depths.
pub fn parse_sps(nal: &[u8]) -> Result<Sps, SpsError> {
    if nal.len() < 3 || NalHeader::from_bytes(nal[0], nal[1]).nal_type != NAL_SPS {
        return Err(SpsError);
    }
    let data = rbsp(&nal[2..]);
    let mut r = BitReader::new(&data);
    let bits = |r: &mut BitReader<'_>, n| r.read(n).ok_or(SpsError);
    let _vps_id = bits(&mut r, 4)?;
    let max_sub_layers_minus1 = bits(&mut r, 3)? as u8;
    let temporal_id_nesting = bits(&mut r, 1)? == 1;
    // profile_tier_level(1, sps_max_sub_layers_minus1), §7.3.3.
    let profile_space = bits(&mut r, 2)? as u8;
    let tier = bits(&mut r, 1)? == 1;
    let profile_idc = bits(&mut r, 5)? as u8;
    let compatibility = bits(&mut r, 32)?.to_be_bytes();
    let c_hi = bits(&mut r, 32)?.to_be_bytes();
    let c_lo = bits(&mut r, 16)?.to_be_bytes();
    let constraints = [c_hi[0], c_hi[1], c_hi[2], c_hi[3], c_lo[0], c_lo[1]];
    let level_idc = bits(&mut r, 8)? as u8;
    let mut present = Vec::new();
    for _ in 0..max_sub_layers_minus1 {
        present.push((bits(&mut r, 1)? == 1, bits(&mut r, 1)? == 1));
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            bits(&mut r, 2)?;
        }
    }
    for (profile, level) in present {
        if profile {
            // 2+1+5+32+48 bits of sub-layer profile.
            for n in [32, 32, 24] {
                bits(&mut r, n)?;
            }
        }
        if level {
            bits(&mut r, 8)?;
        }
    }
    let ue = |r: &mut BitReader<'_>| r.ue().ok_or(SpsError);
    let _sps_id = ue(&mut r)?;
    let chroma_format_idc = ue(&mut r)?;
    if chroma_format_idc > 3 {
        return Err(SpsError);
    }
    let separate_planes = chroma_format_idc == 3 && bits(&mut r, 1)? == 1;
    let mut width = u64::from(ue(&mut r)?);
    let mut height = u64::from(ue(&mut r)?);
    if bits(&mut r, 1)? == 1 {
        let (l, rt, t, b) = (ue(&mut r)?, ue(&mut r)?, ue(&mut r)?, ue(&mut r)?);
        // Table 6-1: SubWidthC/SubHeightC; 1 for monochrome and separate planes.
        let (sub_w, sub_h) = match (chroma_format_idc, separate_planes) {
            (1, _) => (2, 2),
            (2, _) => (2, 1),
            _ => (1, 1),
        };
        let cx = sub_w * (u64::from(l) + u64::from(rt));
        let cy = sub_h * (u64::from(t) + u64::from(b));
        if cx >= width || cy >= height {
            return Err(SpsError);
        }
        width -= cx;
        height -= cy;
    }
    let depth_l = ue(&mut r)?;
    let depth_c = ue(&mut r)?;
    if width == 0 || height == 0 || depth_l > 8 || depth_c > 8 {
        return Err(SpsError);
    }
    Ok(Sps {
        max_sub_layers_minus1,
        temporal_id_nesting,
        profile_space,
        tier,
        profile_idc,
        compatibility,
        constraints,
        level_idc,
        chroma_format_idc: chroma_format_idc as u8,
        bit_depth_luma_minus8: depth_l as u8,
        bit_depth_chroma_minus8: depth_c as u8,
        width: u32::try_from(width).map_err(|_| SpsError)?,
        height: u32::try_from(height).map_err(|_| SpsError)?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::codec::testutil::hex;
    use proptest::prelude::*;

    /// x265 (ffmpeg 5.1), Main, 320x240: VPS, SPS, PPS.
    pub(crate) const VPS: &str = "40010c01ffff01600000030090000003000003003cba0240";
    pub(crate) const SPS: &str =
        "42010101600000030090000003000003003ca00a080f165ba4a4c2f0168080000003008000000f04";
    pub(crate) const PPS: &str = "4401c073c189";

    #[test]
    fn sps_of_real_encoders() {
        let s = parse_sps(&hex(SPS)).unwrap();
        assert_eq!(s.dimensions(), (320, 240));
        assert_eq!(
            (
                s.profile_idc,
                s.level_idc,
                s.chroma_format_idc,
                s.max_sub_layers_minus1
            ),
            (1, 60, 1, 0)
        );
        assert_eq!(s.compatibility, [0x60, 0, 0, 0]);
        assert_eq!(s.constraints, [0x90, 0, 0, 0, 0, 0]);
        // 1918x1078: coded 1920x1080 with a conformance window of one chroma sample.
        let crop = "420101016000000300900000030000030078a003c08010e75596566924caf0168080000003008000000f04";
        assert_eq!(parse_sps(&hex(crop)).unwrap().dimensions(), (1918, 1078));
        assert_eq!(parse_sps(&hex(&SPS[..20])), Err(SpsError));
        assert_eq!(parse_sps(&hex(VPS)), Err(SpsError));
    }

    #[test]
    fn headers() {
        assert_eq!(
            NalHeader::from_bytes(0x42, 0x01),
            NalHeader {
                forbidden: false,
                nal_type: NAL_SPS,
                layer_id: 0,
                tid: 1
            }
        );
        assert_eq!(NalHeader::from_bytes(0x63, 0x09).layer_id, 33);
    }

    proptest! {
        #[test]
        fn sps_parser_never_panics(b in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut nal = vec![0x42, 0x01];
            nal.extend(b);
            let _ = parse_sps(&nal);
        }
    }
}
