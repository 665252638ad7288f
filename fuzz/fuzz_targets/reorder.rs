//! The reorder buffer on arbitrary arrivals: output sequence numbers strictly
//! increase, nothing is released twice, and the held set stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::time::CaptureTime;
use rtprec::track::{Arrival, ReorderBuffer, ReorderConfig, TrackItem};

fuzz_target!(|data: &[u8]| {
    let cfg = ReorderConfig { max_packets: 16, max_hold_nanos: 50_000_000 };
    let mut b = ReorderBuffer::new(cfg);
    let mut now = 0i64;
    let mut last_seq = None;
    let mut released = 0u64;
    let mut pushed = 0u64;
    let mut check = |b: &mut ReorderBuffer| {
        b.check_invariants();
        assert!(b.held() <= 2 * 16 + 1, "held packets are bounded by the window");
        while let Some(item) = b.pull() {
            if let TrackItem::Packet(p) = item {
                assert!(last_seq.is_none_or(|s| p.seq > s), "strictly increasing sequence numbers");
                last_seq = Some(p.seq);
                released += 1;
            }
        }
    };
    for c in data.chunks_exact(7) {
        let seq = u16::from_be_bytes([c[0], c[1]]);
        let ts = u32::from_be_bytes([c[2], c[3], c[4], c[5]]);
        now += i64::from(c[6]) * 1_000_000;
        b.push(Arrival::new(seq, ts, false, vec![c[6]], CaptureTime::from_nanos(now)));
        pushed += 1;
        check(&mut b);
    }
    b.flush();
    check(&mut b);
    assert!(released <= pushed);
    assert_eq!(b.held(), 0);
});
