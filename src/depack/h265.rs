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

use super::h26x::{Core, Flavor, fmtp_param, sprop_nal_units};
use super::{DepackError, DepackStats, Malformed};
use crate::codec::h26x::{FuHeader, aggregation_units};
use crate::codec::h265::{AP, FU, NalHeader};
use crate::media::{Frame, RtpIn};

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
                for nal in sprop_nal_units(sets) {
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
        match NalHeader::from_bytes(p[0], p[1]).nal_type {
            0..=47 => self.core.nal(&pkt, p)?,
            AP => {
                // RFC 7798 §4.4.2 (no DONL/DOND): 16-bit size, then the NAL unit, repeated.
                let mut units = Vec::new();
                for unit in aggregation_units(&p[2..], 2) {
                    let nal = unit.map_err(|e| self.core.malformed(&pkt, e.into()))?;
                    if NalHeader::from_bytes(nal[0], nal[1]).nal_type > 47 {
                        return Err(self.core.malformed(&pkt, Malformed::NalType));
                    }
                    units.push(nal);
                }
                if units.is_empty() {
                    return Err(self.core.malformed(&pkt, Malformed::AggregationLength));
                }
                for nal in units {
                    self.core.nal(&pkt, nal)?;
                }
            }
            FU => {
                let fu = FuHeader::h265(p[2]);
                if fu.nal_type > 47 {
                    return Err(self.core.malformed(&pkt, Malformed::NalType));
                }
                // RFC 7798 §4.4.3: the payload header with Type replaced by FuType.
                let header = [(p[0] & 0x81) | (fu.nal_type << 1), p[1]];
                let data = &p[3..];
                match (fu.start, fu.end) {
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

    /// Notes a sequence number that carried no media (not a loss).
    pub fn skip(&mut self, seq: u64) {
        self.core.asm.skip(seq);
    }

    /// Notes `lost` missing packets: the AU in progress is dropped, then wait for an IRAP.
    pub fn gap(&mut self, lost: u64) {
        self.core.gap(lost);
    }

    /// The next access unit.
    pub(super) fn assembler(&mut self) -> &mut super::Assembler {
        &mut self.core.asm
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::h26x::split_length_prefixed;
    use crate::codec::h265::tests::{PPS, SPS, VPS};
    use crate::codec::testutil::hex;
    use crate::depack::testutil::{OwnedPkt, arb_packets_with, check_frames, drive, pkt};
    use proptest::prelude::*;

    /// IDR_W_RADL (19) and TRAIL_R (1) slices, first_slice_segment_in_pic_flag = 1.
    const IDR: [u8; 5] = [0x26, 0x01, 0xaf, 0x11, 0x22];
    const TRAIL: [u8; 4] = [0x02, 0x01, 0xd0, 0x33];

    fn ap(nals: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![48 << 1, 1];
        for n in nals {
            v.extend((n.len() as u16).to_be_bytes());
            v.extend(*n);
        }
        v
    }

    fn fu(nal: &[u8], data: &[u8], s: bool, e: bool) -> Vec<u8> {
        let t = (nal[0] >> 1) & 0x3f;
        let h = (u8::from(s) << 7) | (u8::from(e) << 6) | t;
        [&[(nal[0] & 0x81) | (49 << 1), nal[1], h][..], data].concat()
    }

    fn avcc(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&(n.len() as u32).to_be_bytes()[..], n].concat())
            .collect()
    }

    type Row = (u64, u64, bool, Vec<u8>);

    fn run_with(mut d: Depack, rows: &[Row]) -> (Vec<(u64, bool)>, Vec<Frame>, DepackStats) {
        let mut frames = Vec::new();
        for (seq, ts, m, payload) in rows {
            let _ = d.push(pkt(*seq, *ts, *m, payload));
            d.check_invariants();
            frames.extend(std::iter::from_fn(|| d.pull()));
        }
        d.flush();
        d.check_invariants();
        frames.extend(std::iter::from_fn(|| d.pull()));
        check_frames(&frames);
        let summary = frames.iter().map(|f| (f.ts, f.keyframe)).collect();
        (summary, frames, d.stats().clone())
    }

    #[test]
    fn aggregation_and_fragmentation_units() {
        let (vps, sps, pps) = (hex(VPS), hex(SPS), hex(PPS));
        let (got, frames, st) = run_with(
            Depack::new(),
            &[
                (1, 100, false, ap(&[&vps, &sps, &pps])),
                (2, 100, false, fu(&IDR, &IDR[2..3], true, false)),
                (3, 100, true, fu(&IDR, &IDR[3..], false, true)),
                (4, 200, true, TRAIL.to_vec()),
                // S and E both set: one NAL unit.
                (5, 300, true, fu(&TRAIL, &TRAIL[2..], true, true)),
            ],
        );
        assert_eq!(got, [(100, true), (200, false), (300, false)]);
        assert_eq!(frames[0].data, avcc(&[&vps, &sps, &pps, &IDR]));
        assert_eq!(frames[0].dimensions, Some((320, 240)));
        assert_eq!(frames[2].data, avcc(&[&TRAIL]));
        assert_eq!(st.malformed_total(), 0);
    }

    #[test]
    fn sprop_parameter_sets_and_donl() {
        let b64 = |h: &str| {
            // Test-only encoder: standard alphabet with padding.
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let b = hex(h);
            let mut s = String::new();
            for c in b.chunks(3) {
                let n = (u32::from(c[0]) << 16)
                    | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*c.get(2).unwrap_or(&0));
                for k in 0..4 {
                    if k <= c.len() {
                        s.push(A[(n >> (18 - 6 * k)) as usize & 63] as char);
                    } else {
                        s.push('=');
                    }
                }
            }
            s
        };
        let fmtp = format!(
            "sprop-vps={};sprop-sps={};sprop-pps={}",
            b64(VPS),
            b64(SPS),
            b64(PPS)
        );
        let d = Depack::with_sprop(&fmtp);
        assert_eq!(d.parameter_sets()[1], Some(&hex(SPS)[..]));
        let (got, frames, _) = run_with(d, &[(1, 100, true, IDR.to_vec())]);
        assert_eq!(got, [(100, true)]);
        assert_eq!(
            frames[0].data,
            avcc(&[&hex(VPS), &hex(SPS), &hex(PPS), &IDR])
        );
        // DONL present: every packet is refused rather than mis-parsed.
        let d = Depack::with_sprop(&format!("{fmtp};sprop-max-don-diff=2"));
        let (got, _, st) = run_with(d, &[(1, 100, true, IDR.to_vec())]);
        assert_eq!(
            (got.len(), st.malformed.get(&Malformed::Donl)),
            (0, Some(&1))
        );
    }

    #[test]
    fn malformed_and_loss() {
        let (vps, sps, pps) = (hex(VPS), hex(SPS), hex(PPS));
        let key = |seq: u64, ts: u64| -> Vec<Row> {
            vec![
                (seq, ts, false, ap(&[&vps, &sps, &pps])),
                (seq + 1, ts, true, IDR.to_vec()),
            ]
        };
        let rows: Vec<Row> = [
            key(1, 100),
            vec![
                // AP with a size past the end, PACI, a 2-byte payload; then an FU end
                // without start, taken as loss after the malformed packet (not counted).
                (3, 200, true, vec![96, 1, 0, 9, 2, 1]),
                (4, 300, true, vec![50 << 1, 1, 0, 0]),
                (5, 400, true, vec![2, 1]),
                (6, 500, true, fu(&TRAIL, b"x", false, true)),
                // Lost middle fragment.
                (7, 600, false, fu(&TRAIL, b"a", true, false)),
                (9, 600, true, fu(&TRAIL, b"c", false, true)),
            ],
            key(10, 700),
        ]
        .concat();
        let (got, _, st) = run_with(Depack::new(), &rows);
        assert_eq!(got, [(100, true), (700, true)]);
        assert_eq!(st.malformed_total(), 3);
        assert_eq!(st.malformed.get(&Malformed::AggregationLength), Some(&1));
        assert_eq!(st.malformed.get(&Malformed::NalType), Some(&1));
    }

    fn arb_h265() -> impl Strategy<Value = Vec<(OwnedPkt, u64)>> {
        arb_packets_with(80, &[]).prop_map(|pkts| {
            pkts.into_iter()
                .map(|(mut p, lost)| {
                    let rest = p.payload.split_off(1);
                    let sel = p.payload[0];
                    let slice = if sel & 0x10 != 0 {
                        &IDR[..]
                    } else {
                        &TRAIL[..]
                    };
                    p.payload = match sel % 8 {
                        0 => ap(&[&hex(VPS), &hex(SPS), &hex(PPS)]),
                        1 => [slice, &rest].concat(),
                        2 => fu(slice, &rest, true, false),
                        3 => fu(slice, &rest, false, false),
                        4 => fu(slice, &rest, false, true),
                        5 => ap(&[&hex(SPS), &[slice, &rest].concat()]),
                        6 => [&[96, 1][..], &rest].concat(),
                        _ => [p.payload, rest].concat(),
                    };
                    (p, lost)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn random_packets_keep_invariants(pkts in arb_h265(), use_gap in any::<bool>()) {
            let frames = drive(&mut crate::depack::Depacketizer::new(crate::codec::Codec::H265).unwrap(), &pkts, use_gap);
            if let Some(f) = frames.first() {
                prop_assert!(f.keyframe);
            }
            for f in &frames {
                prop_assert!(split_length_prefixed(&f.data).is_some());
            }
        }
    }
}
