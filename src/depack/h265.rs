//! H.265 (RFC 7798): single NAL unit packets, aggregation packets (AP, 48)
//! and fragmentation units (FU, 49) to access units of 4-byte length-prefixed
//! NAL units (HVCC).
//!
//! Access units end at the marker bit (RFC 7798 §4.1) or at a new timestamp.
//! VPS (32), SPS (33) and PPS (34) come in-band (latest wins) or from SDP
//! `sprop-vps`/`sprop-sps`/`sprop-pps` ([`Depack::with_sprop`]); keyframes
//! (an AU with an IRAP slice, types 16..=23) are emitted with them in front
//! (see `h26x.rs`), and their `dimensions` come from the SPS.
//!
//! DONL/DOND fields (present when `sprop-max-don-diff` > 0, RFC 7798 §4.4)
//! are not supported: the NAL units may then be sent out of decoding order,
//! which would need a de-interleaving buffer. Every packet of such a stream is
//! counted malformed (`h265-donl`), so the track fails with no keyframe rather
//! than producing garbage. Malformed too (the AU dropped): empty payloads,
//! PACI (50) and reserved types (51..=63), AP units of size 0 or past the end,
//! FU middle/end fragments without a start. FU S and E both set is accepted
//! as one NAL unit (RFC 7798 §4.4.3 forbids it; as for H.264 FU-A).

use super::bits::BitReader;
use super::h26x::{Core, ExpGolomb, Flavor, base64, fmtp_param, rbsp};
use super::{DepackError, DepackStats, Malformed};
use crate::media::{Frame, RtpIn};

/// Aggregation packet (RFC 7798 §4.4.2).
const AP: u8 = 48;
/// Fragmentation unit (RFC 7798 §4.4.3).
const FU: u8 = 49;

/// H.265 depacketizer; see the module doc.
#[derive(Debug)]
pub struct Depack {
    core: Core,
    /// DONL fields are present (`sprop-max-don-diff` > 0): unsupported.
    donl: bool,
}

impl Default for Depack {
    fn default() -> Self {
        Self::new()
    }
}

impl Depack {
    /// A new depacketizer, waiting for an IRAP picture with its VPS, SPS and PPS.
    pub fn new() -> Self {
        Depack {
            core: Core::new(Flavor::H265),
            donl: false,
        }
    }

    /// A depacketizer primed from an SDP fmtp string: `sprop-vps`, `sprop-sps`,
    /// `sprop-pps` (RFC 7798 §7.1: base64 NAL units, comma-separated), and
    /// `sprop-max-don-diff` (DONL present when > 0: unsupported, see the module doc).
    pub fn with_sprop(fmtp: &str) -> Self {
        let mut d = Self::new();
        for key in ["sprop-vps", "sprop-sps", "sprop-pps"] {
            if let Some(sets) = fmtp_param(fmtp, key) {
                for nal in sets.split(',').filter_map(base64) {
                    d.core.set_param(&nal);
                }
            }
        }
        d.donl = fmtp_param(fmtp, "sprop-max-don-diff")
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|v| v > 0);
        d
    }

    /// The VPS, SPS and PPS in effect (latest seen in-band, else from SDP).
    pub fn parameter_sets(&self) -> [Option<&[u8]>; 3] {
        self.core.params()
    }

    /// Adds the next packet in sequence order.
    pub fn push(&mut self, pkt: RtpIn<'_>) -> Result<(), DepackError> {
        self.core.begin(&pkt)?;
        if self.donl {
            return Err(self.core.malformed(&pkt, Malformed::Donl));
        }
        let p = pkt.payload;
        if p.len() < 3 {
            // A 2-byte payload header and nothing else carries no NAL unit data.
            return Err(self.core.malformed(&pkt, Malformed::EmptyPayload));
        }
        match (p[0] >> 1) & 0x3f {
            0..=47 => self.core.nal(&pkt, p)?,
            AP => {
                // RFC 7798 §4.4.2 (no DONL/DOND): 16-bit size, then the NAL unit, repeated.
                let mut rest = &p[2..];
                let mut units = Vec::new();
                while !rest.is_empty() {
                    let unit = match rest {
                        [a, b, tail @ ..] => {
                            let n = usize::from(u16::from_be_bytes([*a, *b]));
                            (n >= 2 && n <= tail.len()).then(|| tail.split_at(n))
                        }
                        _ => None,
                    };
                    let Some((nal, tail)) = unit else {
                        return Err(self.core.malformed(&pkt, Malformed::AggregationLength));
                    };
                    if (nal[0] >> 1) & 0x3f > 47 {
                        return Err(self.core.malformed(&pkt, Malformed::NalType));
                    }
                    units.push(nal);
                    rest = tail;
                }
                if units.is_empty() {
                    return Err(self.core.malformed(&pkt, Malformed::AggregationLength));
                }
                for nal in units {
                    self.core.nal(&pkt, nal)?;
                }
            }
            FU => {
                let fu = p[2];
                let (start, end) = (fu & 0x80 != 0, fu & 0x40 != 0);
                let t = fu & 0x3f;
                if t > 47 {
                    return Err(self.core.malformed(&pkt, Malformed::NalType));
                }
                // RFC 7798 §4.4.3: the payload header with Type replaced by FuType.
                let header = [(p[0] & 0x81) | (t << 1), p[1]];
                let data = &p[3..];
                match (start, end) {
                    (true, true) => self.core.nal(&pkt, &[&header[..], data].concat())?,
                    (true, false) => self.core.fu_start(&pkt, &header, data)?,
                    (false, end) => self.core.fu_continue(&pkt, data, end)?,
                }
            }
            // 50 PACI and the reserved 51..=63.
            _ => return Err(self.core.malformed(&pkt, Malformed::NalType)),
        }
        if pkt.marker {
            self.core.finish_au();
        }
        Ok(())
    }

    /// Notes `lost` missing packets: the AU in progress is dropped, then wait for an IRAP.
    pub fn gap(&mut self, lost: u64) {
        self.core.gap(lost);
    }

    /// The next access unit.
    pub fn pull(&mut self) -> Option<Frame> {
        self.core.pull()
    }

    /// Ends the track; an AU without its marker packet is dropped as incomplete.
    pub fn flush(&mut self) {
        self.core.flush();
    }

    /// Counters so far.
    pub fn stats(&self) -> &DepackStats {
        &self.core.asm.stats
    }

    /// Panics if an internal invariant does not hold.
    pub fn check_invariants(&self) {
        self.core.check_invariants();
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
    /// general_profile_compatibility_flag[32].
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
        let s = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
        (s(self.width), s(self.height))
    }
}

/// Why an SPS could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("H.265 SPS truncated or invalid")]
pub struct SpsError;

/// Parses an SPS NAL unit (2-byte header included) up to the bit depths.
pub fn parse_sps(nal: &[u8]) -> Result<Sps, SpsError> {
    if nal.len() < 3 || (nal[0] >> 1) & 0x3f != 33 {
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
