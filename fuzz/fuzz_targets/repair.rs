//! One VP8 track with every repair path at once: media packets, RED packets
//! (RFC 2198) whose blocks may be ULPFEC, in-band ULPFEC (RFC 5109), RFC 4588
//! retransmissions and a FlexFEC stream (RFC 8627), all from arbitrary bytes.
//! Nothing panics, and nothing is restored that was not missing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::codec::Codec;
use rtprec::record::track::{Container, FecSetup, TrackRecorder, TrackSetup};
use rtprec::time::CaptureTime;
use rtprec::track::fec::FecScheme;
use rtprec::track::{Arrival, ReorderConfig};

const SSRC: u32 = 0x1234_5678;

fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend(seq.to_be_bytes());
    p.extend(ts.to_be_bytes());
    p.extend(SSRC.to_be_bytes());
    p.extend(payload);
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((&scheme, mut rest)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let scheme = [FecScheme::Ulpfec, FecScheme::Flexfec, FecScheme::Flexfec03][usize::from(scheme % 3)];
    let mut t = TrackRecorder::new(TrackSetup {
        container: Container::Webm,
        codec: Codec::Vp8,
        payload_type: Some(96),
        clock_rate: 90_000,
        channels: 0,
        path: dir.path().join("v.webm"),
        uid: 1,
        reorder: ReorderConfig { max_packets: 32, max_hold_nanos: 100_000_000 },
        red_payload_type: Some(123),
        fmtp: None,
        fec: Some(FecSetup { scheme, payload_type: Some(122), media_ssrc: SSRC }),
        audio_export: None,
    })
    .expect("track starts");
    let mut now = 0i64;
    // Records: op, seq (2), ts step, length, payload.
    while let [op, s0, s1, step, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        let seq = u16::from_be_bytes([*s0, *s1]);
        let ts = u32::from(seq) * 3000 + u32::from(*step);
        now += i64::from(*step) * 100_000;
        let time = CaptureTime::from_nanos(now);
        let marker = op & 0x80 != 0;
        let pt = [96, 123, 122, 96, 96][usize::from(op & 0x7f) % 5];
        let arrival = Arrival { seq16: seq, ts32: ts, marker, pt, payload: payload.to_vec(), time };
        let _ = match (op & 0x7f) % 5 {
            3 => t.push_rtx(arrival),
            4 => t.push_fec_stream(payload, time),
            _ => {
                let raw = rtp(pt, seq, ts, marker, payload);
                t.push_packet(arrival, Some(&raw))
            }
        };
    }
    let st = t.stats();
    assert!(st.recovered_fec <= st.fec_packets, "each repair packet restores at most one packet");
    assert!(st.recovered_rtx <= st.rtx_packets);
});
