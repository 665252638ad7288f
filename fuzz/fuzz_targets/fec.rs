//! FEC (RFC 5109 / RFC 8627 / flexfec-03): repair packets in all three formats and media
//! packets fed to one decoder. Parsed masks are bounded and strictly increasing; the
//! decoder returns only packets it did not hold, as RTP version 2, in sequence order,
//! remembered afterwards; pending repairs and counters stay consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::track::fec::{
    FecDecoder, FecSource, MAX_PENDING_REPAIRS, RepairPacket, parse_flexfec, parse_flexfec03,
    parse_ulpfec,
};

const SSRC: u32 = 0x0102_0304;

/// Protected sequence numbers: at most `width`, strictly increasing from the first (wrapping).
fn check_mask(r: &RepairPacket, width: usize) {
    let p = r.protected();
    assert!(
        p.len() <= width,
        "{} protected with a {width}-bit mask",
        p.len()
    );
    if let Some(&first) = p.first() {
        for w in p.windows(2) {
            assert!(w[1].wrapping_sub(first) > w[0].wrapping_sub(first));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut dec = FecDecoder::new();
    let (mut repairs, mut returned) = (0u64, 0u64);
    // Records: kind, length, that many bytes.
    let mut rest = data;
    while let [kind, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        let repair = match kind % 4 {
            0 => None,
            1 => parse_ulpfec(bytes).ok().inspect(|r| check_mask(r, 48)),
            2 => parse_flexfec(bytes, SSRC)
                .ok()
                .inspect(|r| check_mask(r, 110)),
            _ => parse_flexfec03(bytes, SSRC)
                .ok()
                .inspect(|r| check_mask(r, 109)),
        };
        let before = dec.clone();
        let out = match (kind % 4, repair) {
            (0, _) => match FecSource::from_rtp(bytes) {
                Some(s) => dec.add_source(s),
                None => continue,
            },
            (_, Some(r)) => {
                repairs += 1;
                dec.add_repair(r)
            }
            (_, None) => continue,
        };
        for w in out.windows(2) {
            let d = w[1].seq.wrapping_sub(w[0].seq);
            assert!((1..0x8000).contains(&d), "not in sequence order");
        }
        for s in &out {
            assert!(!before.holds(s.seq), "recovered {} which was held", s.seq);
            assert_eq!(s.head[0] >> 6, 2, "recovered packet is not RTP version 2");
            assert_eq!(FecSource::from_rtp(&s.to_rtp(SSRC)).as_ref(), Some(s));
        }
        // Later recoveries in the same call may push earlier ones out of the
        // window, so only the last one is surely still held.
        if let Some(last) = out.last() {
            assert!(dec.holds(last.seq));
        }
        returned += out.len() as u64;
        assert!(dec.pending() <= MAX_PENDING_REPAIRS);
        let stats = dec.stats();
        assert_eq!(stats.repair_packets, repairs);
        assert_eq!(stats.recovered, returned);
    }
});
