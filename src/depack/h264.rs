//! H.264 (RFC 6184): single NAL unit packets, STAP-A and FU-A (packetization
//! modes 0 and 1) to access units of 4-byte length-prefixed NAL units (AVCC).
//!
//! An access unit is the NAL units of one RTP timestamp, ended by the marker
//! bit (RFC 6184 §5.1) or, when the marker packet is lost, by the next
//! timestamp. SPS (7) and PPS (8) come in-band (latest wins) or from SDP
//! `sprop-parameter-sets` ([`Depack::with_sprop`]); every keyframe (an AU with
//! an IDR slice, type 5) is emitted with the parameter sets in effect in front
//! (see `h26x.rs`), and its `dimensions` come from the SPS.
//!
//! Tolerates: a lost marker; FU-A with S and E both set (RFC 6184 §5.8
//! forbids it; some cameras send it, retina `h264.rs`: taken as one NAL unit).
//! Malformed (counted, the AU dropped): empty payloads, STAP-B (25), MTAP16/24
//! (26/27), FU-B (29) and undefined types 0/30/31 (interleaved mode is not
//! supported), STAP-A units of size 0 or running past the packet, FU-A middle
//! or end fragments without a start, a fragment started while one is open.
//! Not keyframes: AUs with only a recovery point SEI (intra refresh) — whether
//! they decode cleanly depends on `recovery_frame_cnt` and the references
//! they skip, which cannot be verified here, so such streams wait for an IDR.

use super::h26x::{Core, Flavor, fmtp_param, sprop_nal_units};
use super::{DepackError, DepackStats, Malformed};
use crate::codec::h26x::{FuHeader, aggregation_units};
use crate::codec::h264::{FU_A, NalHeader, STAP_A};
use crate::media::{Frame, RtpIn};

/// H.264 depacketizer; see the module doc.
#[derive(Debug)]
pub struct Depack {
    core: Core,
}

impl Default for Depack {
    fn default() -> Self {
        Self::new()
    }
}

impl Depack {
    /// A new depacketizer, waiting for an IDR with its SPS and PPS.
    pub fn new() -> Self {
        Depack {
            core: Core::new(Flavor::H264),
        }
    }

    /// A depacketizer primed with the SPS/PPS of an SDP fmtp string's
    /// `sprop-parameter-sets` (RFC 6184 §8.1: base64 NAL units, comma-separated);
    /// unreadable entries are ignored (in-band ones can still come).
    pub fn with_sprop(fmtp: &str) -> Self {
        let mut d = Self::new();
        if let Some(sets) = fmtp_param(fmtp, "sprop-parameter-sets") {
            for nal in sprop_nal_units(sets) {
                d.core.set_param(&nal);
            }
        }
        d
    }

    /// The SPS and PPS in effect (latest seen in-band, else from SDP).
    pub fn parameter_sets(&self) -> (Option<&[u8]>, Option<&[u8]>) {
        let [_, sps, pps] = self.core.params();
        (sps, pps)
    }

    /// Adds the next packet in sequence order.
    pub fn push(&mut self, pkt: RtpIn<'_>) -> Result<(), DepackError> {
        self.core.begin(&pkt)?;
        let p = pkt.payload;
        let header = p[0];
        match NalHeader::from_byte(header).nal_type {
            1..=23 => self.core.nal(&pkt, p)?,
            STAP_A => {
                // RFC 6184 §5.7.1: 16-bit size, then that many bytes of NAL unit, repeated.
                let mut units = Vec::new();
                for unit in aggregation_units(&p[1..], 1) {
                    let nal = unit.map_err(|e| self.core.malformed(&pkt, e.into()))?;
                    if !NalHeader::from_byte(nal[0]).is_nal_unit() {
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
            FU_A => {
                let Some(&fu) = p.get(1) else {
                    return Err(self.core.malformed(&pkt, Malformed::Fragment));
                };
                let fu = FuHeader::h264(fu);
                if !(1..=23).contains(&fu.nal_type) {
                    return Err(self.core.malformed(&pkt, Malformed::NalType));
                }
                // The NAL header: F and NRI from the FU indicator, type from the FU header.
                let nal_header = (header & 0xe0) | fu.nal_type;
                let data = &p[2..];
                match (fu.start, fu.end) {
                    // RFC 6184 §5.8 forbids S and E both set; some cameras send it
                    // (retina h264.rs): accept as one NAL unit.
                    (true, true) => self.core.nal(&pkt, &[&[nal_header][..], data].concat())?,
                    (true, false) => self.core.fu_start(&pkt, &[nal_header], data)?,
                    (false, end) => self.core.fu_continue(&pkt, data, end)?,
                }
            }
            // 25 STAP-B, 26/27 MTAP, 29 FU-B: interleaved mode only; 0, 30, 31 undefined.
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

    /// Notes `lost` missing packets: the AU in progress is dropped, then wait for an IDR.
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
    use crate::codec::testutil::hex;
    use crate::depack::testutil::{OwnedPkt, arb_packets_with, check_frames, drive, pkt};
    use proptest::prelude::*;

    const SPS: &str = "6742c01e8c8d40f863d44403c2211a80";
    const PPS: [u8; 4] = [0x68, 0xce, 0x3c, 0x80];
    /// IDR slice, first_mb_in_slice = 0.
    const IDR: [u8; 6] = [0x65, 0x88, 0x84, 0x21, 0x43, 0x10];
    /// Non-IDR slice, first_mb_in_slice = 0.
    const P: [u8; 4] = [0x41, 0x9a, 0x11, 0x22];
    /// Non-IDR slice, first_mb_in_slice != 0 (a later slice of its picture).
    const P_LATER: [u8; 4] = [0x41, 0x4a, 0x11, 0x22];
    /// Recovery point SEI with recovery_frame_cnt 38 (sippscen's camera) and 0.
    const SEI_GDR: [u8; 6] = [0x06, 0x06, 0x02, 0x04, 0xf1, 0x80];
    const SEI_RAP: [u8; 5] = [0x06, 0x06, 0x01, 0xc4, 0x80];

    fn sps() -> Vec<u8> {
        hex(SPS)
    }

    fn stap(nals: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![0x78];
        for n in nals {
            v.extend((n.len() as u16).to_be_bytes());
            v.extend(*n);
        }
        v
    }

    /// FU-A fragment of `nal` with the S/E bits given.
    fn fu(nal: &[u8], data: &[u8], s: bool, e: bool) -> Vec<u8> {
        let h = (u8::from(s) << 7) | (u8::from(e) << 6) | (nal[0] & 0x1f);
        [&[(nal[0] & 0xe0) | 28, h][..], data].concat()
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

    fn run(rows: &[Row]) -> (Vec<(u64, bool)>, Vec<Frame>, DepackStats) {
        run_with(Depack::new(), rows)
    }

    fn key_rows(seq: u64, ts: u64) -> Vec<Row> {
        vec![
            (seq, ts, false, stap(&[&sps(), &PPS])),
            (seq + 1, ts, true, IDR.to_vec()),
        ]
    }

    #[test]
    fn access_units_in_avcc_form() {
        let mut rows = key_rows(1, 100);
        rows.push((3, 200, true, P.to_vec()));
        let (got, frames, st) = run(&rows);
        assert_eq!(got, [(100, true), (200, false)]);
        assert_eq!(frames[0].data, avcc(&[&sps(), &PPS, &IDR]));
        assert_eq!(frames[0].dimensions, Some((494, 370)));
        assert_eq!(frames[1].data, avcc(&[&P]));
        assert_eq!(frames[1].dimensions, None);
        assert_eq!((st.frames, st.malformed_total()), (2, 0));
    }

    #[test]
    fn fu_a_reassembles_and_sprop_fills_parameter_sets() {
        let fmtp = "profile-level-id=42c01e;packetization-mode=1;sprop-parameter-sets=Z0LAHoyNQPhj1EQDwiEagA==,aM48gA==";
        let d = Depack::with_sprop(fmtp);
        assert_eq!(d.parameter_sets(), (Some(&sps()[..]), Some(&PPS[..])));
        let (got, frames, _) = run_with(
            d,
            &[
                (1, 100, false, fu(&IDR, &IDR[1..3], true, false)),
                (2, 100, false, fu(&IDR, &IDR[3..4], false, false)),
                (3, 100, true, fu(&IDR, &IDR[4..], false, true)),
            ],
        );
        assert_eq!(got, [(100, true)]);
        // The parameter sets from SDP go in front of the keyframe.
        assert_eq!(frames[0].data, avcc(&[&sps(), &PPS, &IDR]));
        // Without them, the IDR cannot be decoded.
        let (got, _, st) = run(&[(1, 100, true, IDR.to_vec())]);
        assert_eq!((got, st.dropped_waiting_keyframe), (vec![], 1));
    }

    /// (name, rows, frames (ts, key), dropped incomplete, dropped waiting keyframe, malformed)
    type Case = (&'static str, Vec<Row>, Vec<(u64, bool)>, u64, u64, u64);

    #[test]
    fn loss_and_malformed_cases() {
        let k = |seq, ts| key_rows(seq, ts);
        let cat = |parts: Vec<Vec<Row>>| parts.concat();
        let cases: Vec<Case> = vec![
            (
                "starts with an inter frame",
                cat(vec![vec![(1, 50, true, P.to_vec())], k(2, 100)]),
                vec![(100, true)],
                0,
                1,
                0,
            ),
            (
                "lost first FU-A fragment",
                cat(vec![
                    k(1, 100),
                    vec![
                        (4, 200, false, fu(&P, b"b", false, false)),
                        (5, 200, true, fu(&P, b"c", false, true)),
                    ],
                    k(6, 300),
                ]),
                vec![(100, true), (300, true)],
                1,
                0,
                0,
            ),
            (
                "lost middle FU-A fragment",
                cat(vec![
                    k(1, 100),
                    vec![
                        (3, 200, false, fu(&P, b"a", true, false)),
                        (5, 200, true, fu(&P, b"c", false, true)),
                        (6, 300, true, P.to_vec()),
                    ],
                    k(7, 400),
                ]),
                vec![(100, true), (400, true)],
                1,
                1,
                0,
            ),
            (
                "lost last FU-A fragment (with the marker)",
                cat(vec![
                    k(1, 100),
                    vec![
                        (3, 200, false, fu(&P, b"a", true, false)),
                        (5, 300, true, P.to_vec()),
                    ],
                ]),
                vec![(100, true)],
                1,
                1,
                0,
            ),
            (
                "lost marker only: the next timestamp ends the AU",
                cat(vec![
                    vec![
                        (1, 100, false, stap(&[&sps(), &PPS])),
                        (2, 100, false, IDR.to_vec()),
                    ],
                    vec![(3, 200, true, P.to_vec())],
                ]),
                vec![(100, true), (200, false)],
                0,
                0,
                0,
            ),
            (
                "loss before an AU whose first slice is missing",
                cat(vec![
                    k(1, 100),
                    vec![(4, 200, true, [0x65, 0x4a, 1, 2].to_vec())],
                    k(5, 300),
                ]),
                vec![(100, true), (300, true)],
                1,
                0,
                0,
            ),
            (
                "a whole AU lost: the next IDR is still good",
                cat(vec![k(1, 100), k(5, 300)]),
                vec![(100, true), (300, true)],
                0,
                0,
                0,
            ),
            (
                "FU-A middle without a start, nothing lost",
                cat(vec![
                    k(1, 100),
                    vec![(3, 200, true, fu(&P, b"c", false, true))],
                    k(4, 300),
                ]),
                vec![(100, true), (300, true)],
                1,
                0,
                1,
            ),
            (
                "FU-A start while one is open",
                cat(vec![
                    k(1, 100),
                    vec![
                        (3, 200, false, fu(&P, b"a", true, false)),
                        (4, 200, true, fu(&P, b"b", true, false)),
                    ],
                ]),
                vec![(100, true)],
                1,
                0,
                1,
            ),
            (
                "FU-A with S and E both set is one NAL unit",
                vec![
                    (1, 100, false, stap(&[&sps(), &PPS])),
                    (2, 100, true, fu(&IDR, &IDR[1..], true, true)),
                ],
                vec![(100, true)],
                0,
                0,
                0,
            ),
            (
                "STAP-A size past the end",
                cat(vec![
                    k(1, 100),
                    vec![(3, 200, true, vec![0x78, 0, 9, 0x41, 1])],
                ]),
                vec![(100, true)],
                1,
                0,
                1,
            ),
            (
                "STAP-A size zero, truncated size, no units",
                vec![
                    (1, 100, true, vec![0x78, 0, 0]),
                    (2, 200, true, vec![0x78, 0, 1, 0x41, 0]),
                    (3, 300, true, vec![0x78]),
                ],
                vec![],
                3,
                0,
                3,
            ),
            (
                "empty payload",
                cat(vec![k(1, 100), vec![(3, 200, true, vec![])], k(4, 300)]),
                vec![(100, true), (300, true)],
                0,
                0,
                1,
            ),
            (
                "STAP-B, MTAP16, FU-B, type 0 and 31 are refused",
                vec![
                    (1, 100, true, vec![0x19, 0, 0, 0, 1, 0x41]),
                    (2, 200, true, vec![0x1a, 0, 1]),
                    (3, 300, true, vec![0x1d, 0x81, 0, 0]),
                    (4, 400, true, vec![0x00, 1]),
                    (5, 500, true, vec![0x1f, 1]),
                ],
                vec![],
                5,
                0,
                5,
            ),
            (
                "parameter sets alone at their own timestamp are not a frame",
                vec![
                    (1, 90, true, stap(&[&sps(), &PPS])),
                    (2, 100, true, IDR.to_vec()),
                ],
                vec![(100, true)],
                0,
                0,
                0,
            ),
            (
                "recovery point SEI (GDR) resumes after loss, not as a sync sample",
                cat(vec![
                    k(1, 100),
                    vec![
                        (4, 300, true, P.to_vec()),
                        (5, 400, false, stap(&[&sps(), &PPS, &SEI_GDR])),
                        (6, 400, true, P.to_vec()),
                        (7, 500, true, P.to_vec()),
                    ],
                ]),
                vec![(100, true), (400, false), (500, false)],
                0,
                1,
                0,
            ),
            (
                "recovery point SEI with recovery_frame_cnt 0 is a keyframe",
                vec![
                    (1, 100, false, stap(&[&sps(), &PPS, &SEI_RAP])),
                    (2, 100, true, P.to_vec()),
                ],
                vec![(100, true)],
                0,
                0,
                0,
            ),
            (
                "a later slice lost with its packet",
                cat(vec![
                    k(1, 100),
                    vec![
                        (3, 200, false, P.to_vec()),
                        (5, 200, true, P_LATER.to_vec()),
                    ],
                    k(6, 300),
                ]),
                vec![(100, true), (300, true)],
                1,
                0,
                0,
            ),
        ];
        for (name, rows, want, inc, wait, bad) in cases {
            let (got, _, st) = run(&rows);
            assert_eq!(got, want, "{name}");
            assert_eq!(
                (
                    st.dropped_incomplete,
                    st.dropped_waiting_keyframe,
                    st.malformed_total()
                ),
                (inc, wait, bad),
                "{name}: {st:?}"
            );
        }
    }

    #[test]
    fn oversized_fragmented_nal_is_dropped() {
        let big = vec![7u8; crate::depack::MAX_FRAME_SIZE];
        let rows = [
            key_rows(1, 100),
            vec![
                (3, 200, false, fu(&P, b"a", true, false)),
                (4, 200, false, fu(&P, &big, false, false)),
                (5, 200, true, fu(&P, b"c", false, true)),
            ],
            key_rows(6, 300),
        ]
        .concat();
        let (got, _, st) = run(&rows);
        assert_eq!(got, [(100, true), (300, true)]);
        assert_eq!(st.malformed.get(&Malformed::FrameTooLarge), Some(&1));
    }

    /// Random packets shaped like H.264: parameter sets, IDR/P slices, FU-A pieces, junk.
    fn arb_h264() -> impl Strategy<Value = Vec<(OwnedPkt, u64)>> {
        arb_packets_with(80, &[]).prop_map(|pkts| {
            pkts.into_iter()
                .map(|(mut p, lost)| {
                    let rest = p.payload.split_off(1);
                    let sel = p.payload[0];
                    let slice = if sel & 0x10 != 0 { &IDR[..] } else { &P[..] };
                    p.payload = match sel % 8 {
                        0 => stap(&[&sps(), &PPS]),
                        1 => [slice, &rest].concat(),
                        2 => fu(slice, &rest, true, false),
                        3 => fu(slice, &rest, false, false),
                        4 => fu(slice, &rest, false, true),
                        5 => stap(&[&sps(), &PPS, &[slice, &rest].concat()]),
                        6 => [&[0x78][..], &rest].concat(),
                        _ => [p.payload, rest].concat(),
                    };
                    (p, lost)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn random_packets_keep_invariants(pkts in arb_h264(), use_gap in any::<bool>()) {
            let frames = drive(&mut crate::depack::Depacketizer::new(crate::codec::Codec::H264).unwrap(), &pkts, use_gap);
            if let Some(f) = frames.first() {
                prop_assert!(f.keyframe);
            }
            for f in &frames {
                prop_assert!(split_length_prefixed(&f.data).is_some());
            }
        }
    }
}
