//! Extending wrapping RTP counters (16-bit sequence numbers, 32-bit timestamps) to `u64`.
//!
//! Like RFC 3550 Appendix A.1, a new value is placed in whichever wrap cycle
//! puts it nearest to the previous extended value, so a packet slightly
//! *before* `prev` across a wrap maps below it (`prev` 65_536, `v` 65_535 ->
//! 65_535). A distance of exactly half the range counts as forward.
//!
//! Choice for the first value: the extension starts one cycle up, at
//! `2^16 + v` (or `2^32 + v`), so that a packet reordered before the very
//! first one, across a wrap, still maps below it instead of underflowing.
//! If a caller passes a `prev` in the first cycle anyway, candidates below
//! zero are never chosen (the next-nearest one is).

/// A forward sequence step up to this counts as a stream advancing (loss bursts included).
pub const MAX_GOOD_STEP: u16 = 512;

/// True when `next` follows `prev` as an RTP stream advances: forward by 1 to
/// [`MAX_GOOD_STEP`] (a loss burst), wrap included.
pub fn is_forward_step(prev: u16, next: u16) -> bool {
    (1..=MAX_GOOD_STEP).contains(&next.wrapping_sub(prev))
}

/// The "is this RTP" rule shared by `streams` and `record`: a stream of
/// `total` packets is RTP when at least one step and a quarter of all steps
/// between consecutive packets are forward steps ([`is_forward_step`]).
/// Random 16-bit values step forward by at most 512 about 0.8% of the time.
pub fn looks_like_rtp(total: u64, good_steps: u64) -> bool {
    total >= 2 && good_steps >= 1 && good_steps * 4 >= total - 1
}

/// Packets further behind the highest sequence number than this are not
/// reordering (RFC 3550 A.1 MAX_MISORDER).
pub const MAX_MISORDER: u64 = 100;

/// A copy of a packet more than [`MAX_MISORDER`] behind that arrives this long
/// after the original is a restarted sender repeating its content (G.711
/// silence repeats its bytes, and a restart from seq 0, ts 0 its numbers), not
/// a network duplicate: those follow within milliseconds.
pub const DUPLICATE_NANOS: i64 = 1_000_000_000;

/// A 64-bit hash of a packet's RTP timestamp, payload length and payload.
///
/// A network duplicate repeats all three exactly; a sender that restarted its
/// sequence numbers (and often its timestamps, from 0 again) sends other
/// media under a sequence number already seen. Comparing this hash tells the
/// two apart without keeping payloads.
///
/// Payloads up to [`FINGERPRINT_SPAN`] bytes (audio frames, most of them) are
/// hashed whole; of a longer one, its first and last `FINGERPRINT_SPAN / 2`
/// bytes. Two different packets under one sequence number and timestamp with
/// the same length differ there too: the codec's payload header and the
/// entropy-coded data begin and end the payload. This runs over every packet
/// of every track, twice; hashing whole video payloads took a fifth of
/// `record`'s time (benches/README.md). XXH3 (the `xxhash-rust` crate), the
/// timestamp and length as its seed. Only compared within a run.
pub fn fingerprint(ts: u32, payload: &[u8]) -> u64 {
    use xxhash_rust::xxh3::xxh3_64_with_seed;
    let seed = u64::from(ts) | (payload.len() as u64) << 32;
    if payload.len() <= FINGERPRINT_SPAN {
        return xxh3_64_with_seed(payload, seed);
    }
    // Each end on XXH3's short-input path (up to 128 bytes), chained.
    let half = FINGERPRINT_SPAN / 2;
    let head = xxh3_64_with_seed(&payload[..half], seed);
    xxh3_64_with_seed(&payload[payload.len() - half..], head)
}

/// Bytes of a payload [`fingerprint`] hashes at most.
pub const FINGERPRINT_SPAN: usize = 240;

/// Extends a 16-bit sequence number relative to the previous extended value.
pub fn extend_u16(prev: Option<u64>, v: u16) -> u64 {
    extend(prev, u64::from(v), 16)
}

/// Extends a 32-bit RTP timestamp relative to the previous extended value.
pub fn extend_u32(prev: Option<u64>, v: u32) -> u64 {
    extend(prev, u64::from(v), 32)
}

fn extend(prev: Option<u64>, v: u64, bits: u32) -> u64 {
    let cycle = 1u64 << bits;
    let Some(prev) = prev else {
        return cycle + v;
    };
    // `prev | (cycle - 1)` cannot overflow, so neither can `base + v`.
    let base = prev & !(cycle - 1);
    let same = base + v;
    let mut best = same;
    let mut best_dist = same.abs_diff(prev);
    for cand in [same.checked_sub(cycle), same.checked_add(cycle)]
        .into_iter()
        .flatten()
    {
        let dist = cand.abs_diff(prev);
        if dist < best_dist || (dist == best_dist && cand > best) {
            best = cand;
            best_dist = dist;
        }
    }
    best
}

/// An extended (never wrapping) sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeqNo(pub u64);

impl SeqNo {
    /// The 16-bit value on the wire.
    pub fn as_u16(self) -> u16 {
        self.0 as u16
    }
}

/// Extends a stream's sequence numbers relative to the highest one seen so far.
///
/// Using the highest (RFC 3550 A.1 `max_seq`) rather than the last value keeps a
/// late reordered packet from dragging the reference backwards.
#[derive(Clone, Copy, Debug, Default)]
pub struct SeqExtender {
    max: Option<u64>,
}

impl SeqExtender {
    /// Extends `v` and updates the highest value seen.
    pub fn extend(&mut self, v: u16) -> SeqNo {
        let e = extend_u16(self.max, v);
        self.max = Some(self.max.map_or(e, |m| m.max(e)));
        SeqNo(e)
    }

    /// The highest extended value seen so far.
    pub fn max(&self) -> Option<SeqNo> {
        self.max.map(SeqNo)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprints_tell_payloads_and_timestamps_apart() {
        let base: Vec<u8> = (0..37u8).collect();
        let fp = super::fingerprint(960, &base);
        assert_eq!(fp, super::fingerprint(960, &base), "deterministic");
        assert_ne!(fp, super::fingerprint(961, &base));
        // Any one byte changed, wherever it is (whole words and the tail).
        for i in 0..base.len() {
            let mut p = base.clone();
            p[i] ^= 1;
            assert_ne!(fp, super::fingerprint(960, &p), "byte {i}");
        }
        // A trailing zero byte is a different payload (the length is hashed).
        let mut longer = base.clone();
        longer.push(0);
        assert_ne!(fp, super::fingerprint(960, &longer));
        assert_ne!(super::fingerprint(0, &[]), super::fingerprint(0, &[0]));
    }

    #[test]
    fn long_payloads_are_told_apart_by_their_ends_and_length() {
        let base: Vec<u8> = (0..1200u32).map(|i| (i * 7 % 251) as u8).collect();
        let fp = super::fingerprint(3000, &base);
        let half = super::FINGERPRINT_SPAN / 2;
        for i in (0..half).chain(base.len() - half..base.len()) {
            let mut p = base.clone();
            p[i] ^= 0x80;
            assert_ne!(fp, super::fingerprint(3000, &p), "byte {i}");
        }
        let mut shorter = base.clone();
        shorter.pop();
        assert_ne!(fp, super::fingerprint(3000, &shorter));
        // What a retransmission carries after its OSN is the same packet.
        let mut rtx = vec![0x12, 0x34];
        rtx.extend_from_slice(&base);
        assert_eq!(fp, super::fingerprint(3000, &rtx[2..]));
    }

    use super::*;
    use proptest::prelude::*;

    const C16: u64 = 1 << 16;
    const C32: u64 = 1 << 32;

    #[test]
    fn u16_table() {
        let cases: &[(Option<u64>, u16, u64)] = &[
            (None, 0, C16),
            (None, 65_535, C16 + 65_535),
            (Some(65_535), 0, 65_536),
            (Some(65_536), 65_535, 65_535),
            (Some(C16 + 65_535), 0, 2 * C16),
            (Some(2 * C16), 65_535, 2 * C16 - 1),
            (Some(2 * C16 + 10), 5, 2 * C16 + 5),
            (Some(100), 200, 200),
            (Some(100), 50, 50),
            // Exactly half a cycle away counts as forward.
            (Some(C16), 32_768, C16 + 32_768),
            (Some(C16 + 32_768), 0, 2 * C16),
            // First cycle: never below zero.
            (Some(0), 65_535, 65_535),
            (Some(5), 65_000, 65_000),
        ];
        for (i, (prev, v, want)) in cases.iter().enumerate() {
            assert_eq!(extend_u16(*prev, *v), *want, "case {i}");
        }
    }

    #[test]
    fn u32_table() {
        let cases: &[(Option<u64>, u32, u64)] = &[
            (None, 0, C32),
            (Some(C32 - 1), 0, C32),
            (Some(C32), u32::MAX, C32 - 1),
            (Some(2 * C32 - 960), 960, 2 * C32 + 960),
            (Some(2 * C32 + 960), u32::MAX - 959, 2 * C32 - 960),
            (Some(u64::MAX), u32::MAX, u64::MAX),
            (Some(u64::MAX - 5), 2, u64::MAX - (C32 - 1) + 2),
        ];
        for (i, (prev, v, want)) in cases.iter().enumerate() {
            assert_eq!(extend_u32(*prev, *v), *want, "case {i}");
        }
    }

    #[test]
    fn extender_keeps_max() {
        let mut x = SeqExtender::default();
        let got: Vec<u64> = [65_534u16, 65_535, 1, 0, 2]
            .iter()
            .map(|&v| x.extend(v).0)
            .collect();
        assert_eq!(
            got,
            vec![
                C16 + 65_534,
                C16 + 65_535,
                2 * C16 + 1,
                2 * C16,
                2 * C16 + 2
            ]
        );
        assert_eq!(x.max(), Some(SeqNo(2 * C16 + 2)));
        assert_eq!(SeqNo(2 * C16 + 2).as_u16(), 2);
    }

    proptest! {
        #[test]
        fn walk_u16(start in C16..(1u64 << 40), steps in proptest::collection::vec(-32_767i64..=32_767, 1..200)) {
            let mut truth = start;
            let mut prev = start;
            for d in steps {
                let next = truth.saturating_add_signed(d);
                let got = extend_u16(Some(prev), next as u16);
                prop_assert_eq!(got, next);
                truth = next;
                prev = got;
            }
        }

        #[test]
        fn walk_u32(start in C32..(1u64 << 50), steps in proptest::collection::vec(-(1i64 << 31) + 1..(1i64 << 31), 1..200)) {
            let mut truth = start;
            for d in steps {
                let next = truth.saturating_add_signed(d);
                prop_assert_eq!(extend_u32(Some(truth), next as u32), next);
                truth = next;
            }
        }

        #[test]
        fn walk_from_none(first in any::<u16>(), steps in proptest::collection::vec(-32_767i64..=32_767, 1..50)) {
            let mut prev = extend_u16(None, first);
            let mut truth = prev;
            for d in steps {
                let Some(next) = truth.checked_add_signed(d) else { break };
                prev = extend_u16(Some(prev), next as u16);
                prop_assert_eq!(prev, next);
                truth = next;
            }
        }
    }
}
