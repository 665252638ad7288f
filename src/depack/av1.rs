//! AV1 (AOM "RTP Payload Format for AV1" v1.0): OBUs reassembled into temporal units.
//!
//! Each payload starts with the aggregation header `|Z|Y| W |N|-|-|-|` (§4.4),
//! followed by OBU elements (§4.3): with W=0 each element is preceded by its
//! LEB128 length; with W=1..3 there are W elements and the last one has no
//! length (it runs to the end of the payload). Z=1: the first element continues
//! an OBU fragment from the previous packet; Y=1: the last element continues in
//! the next packet. N=1 marks the first packet of a coded video sequence.
//!
//! Output: one `Frame` per temporal unit (one RTP timestamp, ended by the
//! marker), holding every OBU rewritten with `obu_has_size_field = 1` (header,
//! optional extension byte, LEB128 size, payload), which is the "Low Overhead
//! Bitstream Format" containers store. Temporal delimiter and tile list OBUs
//! are dropped, as §5 says a receiver should. Key frame: N=1 on the unit's
//! first packet, or a sequence header OBU in the unit (libwebrtc sends one with
//! every key frame); `dimensions` come from the sequence header's
//! `max_frame_width_minus_1`/`max_frame_height_minus_1` (AV1 spec §5.5).
//!
//! Tolerates: OBUs sent with a size field (the inner size is used), lost marker
//! (a new timestamp ends the unit). Counted as malformed, unit dropped: truncated
//! LEB128, lengths past the end, forbidden bit, Z/Y flags that disagree without
//! loss. After loss, units are dropped until the next key frame. The key frame
//! test is the heuristic above; frame headers are not parsed.

use super::{Assembler, DepackError, DepackStats, MAX_FRAME_SIZE, Malformed};
use crate::codec::av1::{AggregationHeader, OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER};
use crate::codec::av1::{OBU_TILE_LIST, Obu, elements, sequence_header_dimensions};
use crate::media::{Frame, RtpIn};

/// AV1 depacketizer; see the module doc.
#[derive(Debug)]
pub struct Depack {
    asm: Assembler,
    /// Bytes of an OBU element continued from the previous packet (Y=1).
    frag: Vec<u8>,
    frag_open: bool,
}

impl Default for Depack {
    fn default() -> Self {
        Self::new()
    }
}

impl Depack {
    /// A new depacketizer, waiting for a key frame.
    pub fn new() -> Self {
        Depack {
            asm: Assembler::new(true),
            frag: Vec::new(),
            frag_open: false,
        }
    }

    /// Adds the next packet in sequence order.
    pub fn push(&mut self, pkt: RtpIn<'_>) -> Result<(), DepackError> {
        self.asm.begin_packet(&pkt)?;
        if self.asm.other_ts(pkt.ts) {
            self.finish_unit();
        }
        let r = self.push_inner(&pkt);
        if let Err(m) = r {
            self.clear_frag();
            return Err(self.asm.malformed(&pkt, m, true));
        }
        if pkt.marker {
            self.finish_unit();
        }
        Ok(())
    }

    fn push_inner(&mut self, pkt: &RtpIn<'_>) -> Result<(), Malformed> {
        if self.asm.cur.as_ref().is_none_or(|p| p.broken) {
            // Loss noticed from sequence numbers: nothing to continue.
            self.clear_frag();
        }
        let [agg, rest @ ..] = pkt.payload else {
            return Err(Malformed::EmptyPayload);
        };
        let agg = AggregationHeader::from_byte(*agg);
        let elems = elements(agg, rest)?;
        if elems.is_empty() {
            return Err(Malformed::EmptyPayload);
        }
        if self.asm.cur.is_none() && !agg.continues {
            self.asm.start(pkt.ts).keyframe = agg.new_sequence;
        } else if self.asm.continue_at(pkt.ts).is_none() {
            // Unit broken, or its start lost (Z=1 with nothing before it).
            self.clear_frag();
            return Ok(());
        } else if agg.continues != self.frag_open {
            return Err(Malformed::Av1Fragment);
        }
        let last = elems.len() - 1;
        for (i, e) in elems.into_iter().enumerate() {
            let continued = i == 0 && agg.continues;
            let continues = i == last && agg.will_continue;
            if continued || continues {
                if self.frag.len().saturating_add(e.len()) > MAX_FRAME_SIZE {
                    return Err(Malformed::FrameTooLarge);
                }
                self.frag.extend_from_slice(e);
                self.frag_open = continues;
                if !continues {
                    let whole = std::mem::take(&mut self.frag);
                    self.emit_obu(&whole)?;
                }
            } else {
                self.emit_obu(e)?;
            }
        }
        Ok(())
    }

    /// Appends one complete OBU to the unit, with a size field; drops TD and tile lists.
    fn emit_obu(&mut self, bytes: &[u8]) -> Result<(), Malformed> {
        let obu = Obu::parse(bytes)?;
        if obu.obu_type == OBU_TEMPORAL_DELIMITER || obu.obu_type == OBU_TILE_LIST {
            return Ok(());
        }
        let p = self
            .asm
            .cur
            .as_mut()
            .expect("emit_obu runs only with a unit in progress");
        if p.data.len().saturating_add(obu.payload.len() + 16) > MAX_FRAME_SIZE {
            return Err(Malformed::FrameTooLarge);
        }
        if obu.obu_type == OBU_SEQUENCE_HEADER {
            p.keyframe = true;
            p.dimensions = sequence_header_dimensions(obu.payload).or(p.dimensions);
        }
        obu.write_sized(&mut p.data);
        Ok(())
    }

    fn clear_frag(&mut self) {
        self.frag.clear();
        self.frag_open = false;
    }

    /// Ends the unit; an OBU still waiting for its continuation makes it incomplete.
    fn finish_unit(&mut self) {
        if self.frag_open {
            self.asm.gap(0);
        }
        self.clear_frag();
        self.asm.end_frame();
    }

    /// Notes a sequence number that carried no media (not a loss).
    pub fn skip(&mut self, seq: u64) {
        self.asm.skip(seq);
    }

    /// Notes `lost` missing packets: the unit in progress is dropped, then wait for a key frame.
    pub fn gap(&mut self, lost: u64) {
        self.clear_frag();
        self.asm.gap(lost);
    }

    /// The next temporal unit.
    pub(super) fn assembler(&mut self) -> &mut super::Assembler {
        &mut self.asm
    }

    pub fn pull(&mut self) -> Option<Frame> {
        self.asm.out.pop_front()
    }

    /// Ends the track; a unit without its marker packet is dropped as incomplete.
    pub fn flush(&mut self) {
        self.clear_frag();
        self.asm.drop_in_progress();
    }

    /// Counters so far.
    pub fn stats(&self) -> &DepackStats {
        &self.asm.stats
    }

    /// Panics if an internal invariant does not hold.
    pub fn check_invariants(&self) {
        self.asm.check_invariants();
        assert!(self.frag.len() <= MAX_FRAME_SIZE);
        assert!(
            self.frag_open || self.frag.is_empty(),
            "closed fragment kept bytes"
        );
        if self.frag_open {
            assert!(self.asm.cur.as_ref().is_some_and(|p| !p.broken));
        }
        for f in &self.asm.out {
            // Every emitted unit is a sequence of sized OBUs that parse back.
            let mut rest = f.data.as_slice();
            while !rest.is_empty() {
                let obu = Obu::parse(rest).expect("emitted OBUs parse");
                assert!(obu.header & 0x02 != 0, "size field set");
                rest = &rest[obu.len..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::av1::tests::seq_header;
    use crate::codec::bits::write_leb128;
    use crate::depack::testutil::{OwnedPkt, arb_packets, check_frames, drive};
    use proptest::prelude::*;

    /// (name, rows, frame timestamps, dropped incomplete, dropped waiting keyframe, malformed)
    type Case = (&'static str, Vec<Row>, Vec<u64>, u64, u64, u64);

    /// An OBU element without size field: header then payload.
    fn obu(t: u8, payload: &[u8]) -> Vec<u8> {
        [&[t << 3][..], payload].concat()
    }

    /// The same OBU as the depacketizer writes it: size field set.
    fn sized(t: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![t << 3 | 0x02];
        write_leb128(payload.len() as u64, &mut v);
        v.extend(payload);
        v
    }

    /// A payload: aggregation header then elements, length-prefixed when W=0.
    fn pl(z: bool, y: bool, w: u8, n: bool, elems: &[Vec<u8>]) -> Vec<u8> {
        let agg = u8::from(z) << 7 | u8::from(y) << 6 | w << 4 | u8::from(n) << 3;
        let mut v = vec![agg];
        for (i, e) in elems.iter().enumerate() {
            if w == 0 || i + 1 < usize::from(w) {
                write_leb128(e.len() as u64, &mut v);
            }
            v.extend(e);
        }
        v
    }

    type Row = (u64, u64, bool, Vec<u8>);

    fn run(rows: &[Row]) -> (Vec<Frame>, DepackStats) {
        let mut d = Depack::new();
        let mut frames = Vec::new();
        for (seq, ts, marker, payload) in rows {
            let _ = d.push(RtpIn {
                seq: *seq,
                ts: *ts,
                marker: *marker,
                payload,
            });
            d.check_invariants();
            frames.extend(std::iter::from_fn(|| d.pull()));
        }
        d.flush();
        d.check_invariants();
        frames.extend(std::iter::from_fn(|| d.pull()));
        check_frames(&frames);
        (frames, d.stats().clone())
    }

    #[test]
    fn key_unit_with_td_dropped_and_sizes_added() {
        let sh = seq_header(320, 240);
        let (f, st) = run(&[
            (
                1,
                0,
                true,
                pl(
                    false,
                    false,
                    0,
                    true,
                    &[obu(2, &[]), obu(1, &sh), obu(6, b"frame")],
                ),
            ),
            (
                2,
                3000,
                true,
                pl(false, false, 1, false, &[obu(6, b"inter")]),
            ),
        ]);
        assert_eq!(f.len(), 2, "{st:?}");
        assert_eq!(f[0].data, [sized(1, &sh), sized(6, b"frame")].concat());
        assert_eq!((f[0].keyframe, f[0].dimensions), (true, Some((320, 240))));
        assert_eq!(
            (f[1].keyframe, f[1].data.clone()),
            (false, sized(6, b"inter"))
        );
    }

    #[test]
    fn fragment_across_three_packets() {
        let big = obu(6, b"0123456789");
        let (f, st) = run(&[
            (
                1,
                0,
                false,
                pl(
                    false,
                    false,
                    2,
                    true,
                    &[obu(1, &seq_header(8, 8)), big[..3].to_vec()],
                )
                .tap_y(),
            ),
            (2, 0, false, pl(true, true, 1, false, &[big[3..7].to_vec()])),
            (3, 0, true, pl(true, false, 1, false, &[big[7..].to_vec()])),
        ]);
        assert_eq!(f.len(), 1, "{st:?}");
        assert_eq!(
            f[0].data,
            [sized(1, &seq_header(8, 8)), sized(6, b"0123456789")].concat()
        );
    }

    /// Sets Y on an already built payload.
    trait TapY {
        fn tap_y(self) -> Self;
    }
    impl TapY for Vec<u8> {
        fn tap_y(mut self) -> Self {
            self[0] |= 0x40;
            self
        }
    }

    #[test]
    fn loss_and_malformed_cases() {
        let key = || {
            pl(
                false,
                false,
                0,
                true,
                &[obu(1, &seq_header(8, 8)), obu(6, b"k")],
            )
        };
        let inter = || pl(false, false, 1, false, &[obu(6, b"i")]);
        let big = obu(6, b"0123456789");
        let head = || pl(false, true, 1, false, &[big[..4].to_vec()]);
        let mid = || pl(true, true, 1, false, &[big[4..8].to_vec()]);
        let tail = || pl(true, false, 1, false, &[big[8..].to_vec()]);
        // (name, rows, frame timestamps, dropped incomplete, dropped waiting keyframe, malformed)
        let cases: Vec<Case> = vec![
            (
                "inter first",
                vec![(1, 0, true, inter()), (2, 9, true, key())],
                vec![9],
                0,
                1,
                0,
            ),
            (
                "N=1 alone is a key frame",
                vec![(1, 0, true, pl(false, false, 1, true, &[obu(6, b"k")]))],
                vec![0],
                0,
                0,
                0,
            ),
            (
                "fragmented inter unit intact",
                vec![
                    (1, 0, true, key()),
                    (2, 9, false, head()),
                    (3, 9, false, mid()),
                    (4, 9, true, tail()),
                ],
                vec![0, 9],
                0,
                0,
                0,
            ),
            (
                "lost first packet",
                vec![
                    (1, 0, true, key()),
                    (3, 9, false, mid()),
                    (4, 9, true, tail()),
                    (5, 18, true, inter()),
                    (6, 27, true, key()),
                ],
                vec![0, 27],
                1,
                1,
                0,
            ),
            (
                "lost middle packet",
                vec![
                    (1, 0, true, key()),
                    (2, 9, false, head()),
                    (4, 9, true, tail()),
                    (5, 18, true, key()),
                ],
                vec![0, 18],
                1,
                0,
                0,
            ),
            (
                "lost last packet",
                vec![
                    (1, 0, true, key()),
                    (2, 9, false, head()),
                    (3, 9, false, mid()),
                    (5, 18, true, inter()),
                ],
                vec![0],
                1,
                1,
                0,
            ),
            (
                "lost marker bit",
                vec![(1, 0, false, key()), (2, 9, true, inter())],
                vec![0, 9],
                0,
                0,
                0,
            ),
            (
                "marker while a fragment is open",
                vec![
                    (1, 0, true, key()),
                    (2, 9, true, head()),
                    (3, 18, true, key()),
                ],
                vec![0, 18],
                1,
                0,
                0,
            ),
            (
                "Z=1 without an open fragment",
                vec![
                    (1, 0, false, key()),
                    (2, 0, true, tail()),
                    (3, 9, true, key()),
                ],
                vec![9],
                1,
                0,
                1,
            ),
            (
                "open fragment not continued",
                vec![
                    (1, 0, true, key()),
                    (2, 9, false, head()),
                    (3, 9, true, inter()),
                    (4, 18, true, key()),
                ],
                vec![0, 18],
                1,
                0,
                1,
            ),
            (
                "truncated LEB128",
                vec![
                    (1, 0, true, key()),
                    (2, 9, true, vec![0x00, 0x80]),
                    (3, 18, true, key()),
                ],
                vec![0, 18],
                1,
                0,
                1,
            ),
            (
                "OBU length past the end",
                vec![(1, 0, true, vec![0x08, 9, 0x30, 1]), (2, 9, true, key())],
                vec![9],
                1,
                0,
                1,
            ),
            (
                "forbidden bit",
                vec![
                    (1, 0, true, pl(false, false, 1, true, &[vec![0xb0, 1]])),
                    (2, 9, true, key()),
                ],
                vec![9],
                1,
                0,
                1,
            ),
            (
                "empty payload",
                vec![
                    (1, 0, true, vec![]),
                    (2, 9, true, vec![0x08]),
                    (3, 18, true, key()),
                ],
                vec![18],
                2,
                0,
                2,
            ),
            (
                "tile list dropped",
                vec![(
                    1,
                    0,
                    true,
                    pl(false, false, 0, true, &[obu(8, b"t"), obu(6, b"k")]),
                )],
                vec![0],
                0,
                0,
                0,
            ),
            (
                "timestamp wrap",
                vec![
                    (1, (1 << 32) - 1, true, key()),
                    (2, (1 << 32) + 2999, true, inter()),
                ],
                vec![(1 << 32) - 1, (1 << 32) + 2999],
                0,
                0,
                0,
            ),
        ];
        for (name, rows, want, inc, wait, bad) in cases {
            let (f, st) = run(&rows);
            assert_eq!(
                f.iter().map(|f| f.ts).collect::<Vec<_>>(),
                want,
                "{name}: {st:?}"
            );
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

    fn arb_av1() -> impl Strategy<Value = Vec<(OwnedPkt, u64)>> {
        arb_packets(60).prop_map(|pkts| {
            pkts.into_iter()
                .map(|(mut p, lost)| {
                    let rest = p.payload.split_off(1);
                    let b0 = p.payload[0];
                    let z = b0 & 0x80 != 0;
                    let y = b0 & 0x40 != 0;
                    p.payload = match b0 % 4 {
                        0 => pl(z, y, 0, true, &[obu(1, &seq_header(64, 64)), obu(6, &rest)]),
                        1 => pl(z, y, 1, false, &[obu(b0 >> 4, &rest)]),
                        2 => pl(z, y, 2, false, &[rest.clone(), rest]),
                        _ => [p.payload, rest].concat(),
                    };
                    (p, lost)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn random_packets_keep_invariants(pkts in arb_av1(), use_gap in any::<bool>()) {
            let frames = drive(&mut crate::depack::Depacketizer::new(crate::codec::Codec::Av1).unwrap(), &pkts, use_gap);
            if let Some(f) = frames.first() {
                prop_assert!(f.keyframe);
            }
        }
    }
}
