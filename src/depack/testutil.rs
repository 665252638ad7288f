//! Test helpers shared by the depacketizer tests.

use crate::media::{Frame, RtpIn};
use proptest::prelude::*;

/// A borrowed packet for table-driven tests.
pub fn pkt(seq: u64, ts: u64, marker: bool, payload: &[u8]) -> RtpIn<'_> {
    RtpIn {
        seq,
        ts,
        marker,
        payload,
    }
}

/// An owned packet for property tests.
#[derive(Clone, Debug)]
pub struct OwnedPkt {
    pub seq: u64,
    pub ts: u64,
    pub marker: bool,
    pub payload: Vec<u8>,
}

impl OwnedPkt {
    pub fn as_rtp_in(&self) -> RtpIn<'_> {
        pkt(self.seq, self.ts, self.marker, &self.payload)
    }
}

/// Random packets with increasing sequence numbers, non-decreasing timestamps,
/// random markers, and random losses: each item is (packet, lost before it).
/// Payloads start with one of `firsts` (descriptor bytes that parse) or random bytes.
pub fn arb_packets_with(
    max: usize,
    firsts: &'static [u8],
) -> impl Strategy<Value = Vec<(OwnedPkt, u64)>> {
    let firsts: Vec<u8> = firsts.to_vec();
    let first = if firsts.is_empty() {
        any::<u8>().boxed()
    } else {
        prop_oneof![3 => prop::sample::select(firsts), 1 => any::<u8>()].boxed()
    };
    prop::collection::vec(
        (
            prop_oneof![8 => Just(0u64), 1 => 1u64..4],
            prop_oneof![3 => Just(0u64), 1 => 1u64..4000],
            any::<bool>(),
            first,
            prop::collection::vec(any::<u8>(), 0..24),
        ),
        0..max,
    )
    .prop_map(|items| {
        let mut seq = 1000u64;
        let mut ts = (1u64 << 32) - 5000;
        items
            .into_iter()
            .map(|(lost, dts, marker, b0, rest)| {
                seq += 1 + lost;
                ts += dts;
                let mut payload = vec![b0];
                payload.extend(rest);
                (
                    OwnedPkt {
                        seq,
                        ts,
                        marker,
                        payload,
                    },
                    lost,
                )
            })
            .collect()
    })
}

/// Random packets with random first bytes.
pub fn arb_packets(max: usize) -> impl Strategy<Value = Vec<(OwnedPkt, u64)>> {
    arb_packets_with(max, &[])
}

/// Every emitted frame is non-empty and timestamps never go back.
pub fn check_frames(frames: &[Frame]) {
    for f in frames {
        assert!(!f.data.is_empty(), "empty frame at ts {}", f.ts);
    }
    for w in frames.windows(2) {
        assert!(
            w[0].ts <= w[1].ts,
            "ts went back: {} then {}",
            w[0].ts,
            w[1].ts
        );
    }
}

/// Drives `d` through `pkts` (announcing losses when `use_gap`), checking its
/// invariants after every step and the frames at the end; returns the frames.
pub fn drive(d: &mut super::Depacketizer, pkts: &[(OwnedPkt, u64)], use_gap: bool) -> Vec<Frame> {
    let mut frames = Vec::new();
    for (p, lost) in pkts {
        if use_gap && *lost > 0 {
            d.gap(*lost);
        }
        let _ = d.push(p.as_rtp_in());
        d.check_invariants();
        frames.extend(std::iter::from_fn(|| d.pull()));
    }
    d.flush();
    d.check_invariants();
    frames.extend(std::iter::from_fn(|| d.pull()));
    check_frames(&frames);
    assert_eq!(
        d.stats().frames,
        frames.len() as u64,
        "every emitted frame is counted"
    );
    frames
}
