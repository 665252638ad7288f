//! Depacketizers fed packet sequences with loss: invariants hold and every
//! emitted frame is valid for its codec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::codec::Codec;
use rtprec::codec::h26x::split_length_prefixed;
use rtprec::depack::{Depacketizer, MAX_FRAME_SIZE};
use rtprec::media::{Frame, RtpIn};

const CODECS: [Codec; 10] = [
    Codec::Opus,
    Codec::Vp8,
    Codec::Vp9,
    Codec::Av1,
    Codec::H264,
    Codec::H265,
    Codec::Pcmu,
    Codec::Pcma,
    Codec::G722,
    Codec::L16,
];

/// Walks AV1 OBUs that must all carry size fields (the depacketizer rewrites them so).
fn valid_av1(mut b: &[u8]) -> bool {
    while let Some(&h) = b.first() {
        if h & 0x80 != 0 || h & 0x02 == 0 {
            return false;
        }
        let ext = usize::from(h & 0x04 != 0);
        let Some(mut rest) = b.get(1 + ext..) else { return false };
        let mut size = 0u64;
        let mut i = 0;
        loop {
            let Some((&byte, r)) = rest.split_first() else { return false };
            rest = r;
            size |= u64::from(byte & 0x7f) << (7 * i);
            i += 1;
            if byte & 0x80 == 0 {
                break;
            }
            if i == 8 {
                return false;
            }
        }
        let Ok(size) = usize::try_from(size) else { return false };
        let Some(r) = rest.get(size..) else { return false };
        b = r;
    }
    true
}

fn check(codec: Codec, f: &Frame, last_ts: &mut Option<u64>) {
    assert!(!f.data.is_empty(), "frames are never empty");
    assert!(f.data.len() <= MAX_FRAME_SIZE);
    assert!(last_ts.is_none_or(|t| f.ts >= t), "frame timestamps never go back");
    *last_ts = Some(f.ts);
    match codec {
        Codec::Vp8 if f.keyframe => assert_eq!(f.data.get(3..6), Some(&[0x9d, 0x01, 0x2a][..]), "VP8 keyframe start code"),
        Codec::Av1 => assert!(valid_av1(&f.data), "AV1 temporal unit of sized OBUs"),
        Codec::Opus => assert!(f.duration.is_some_and(|d| d > 0), "Opus frames know their duration"),
        Codec::H264 | Codec::H265 => {
            // 4-byte length-prefixed NAL units that exactly fill the frame, each with its header.
            let nals = split_length_prefixed(&f.data).expect("AVCC/HVCC access unit");
            let header = if codec == Codec::H264 { 1 } else { 2 };
            assert!(nals.iter().all(|n| n.len() >= header), "NAL unit shorter than its header");
            if f.keyframe {
                assert!(f.dimensions.is_none_or(|(w, h)| w > 0 && h > 0));
            }
        }
        Codec::Pcmu | Codec::Pcma | Codec::G722 => assert_eq!(f.duration, Some(f.data.len() as u64), "one octet per tick"),
        Codec::L16 => assert_eq!(f.duration, Some(f.data.len() as u64 / 2), "mono L16: two octets per tick"),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else { return };
    let codec = CODECS[usize::from(sel) % CODECS.len()];
    let Ok(mut d) = Depacketizer::new(codec) else { return };
    let (mut seq, mut ts) = (1u64 << 16, 1u64 << 32);
    let mut last_ts = None;
    // Each packet: flags (bit 0 marker, bit 1 new timestamp, bits 2-3 packets lost before it), length, payload.
    while let [flags, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        let lost = u64::from((flags >> 2) & 3);
        if lost > 0 {
            d.gap(lost);
            seq += lost;
        }
        if flags & 2 != 0 {
            ts += 3000;
        }
        let _ = d.push(RtpIn { seq, ts, marker: flags & 1 != 0, payload });
        seq += 1;
        d.check_invariants();
        while let Some(f) = d.pull() {
            check(codec, &f, &mut last_ts);
        }
    }
    d.flush();
    d.check_invariants();
    while let Some(f) = d.pull() {
        check(codec, &f, &mut last_ts);
    }
});
