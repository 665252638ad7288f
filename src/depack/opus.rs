//! Opus (RFC 7587): one RTP payload is one Opus packet, which is one frame.
//!
//! The duration comes from the TOC byte (RFC 6716 §3.1: config -> frame size,
//! code -> frame count), in 48 kHz ticks: the Opus RTP clock is always 48000
//! (RFC 7587 §4.1) whatever the audio's sample rate. Every frame is a keyframe.
//!
//! Tolerates: loss (Opus packets are independent; the muxer sees a time gap),
//! DTX packets of a single TOC byte (RFC 6716 §3.2.1 allows a zero-length frame).
//! Counted and skipped: empty payloads, and packets breaking RFC 6716 §3.2
//! requirements R3-R5 (odd code-1 length, code-2 length past the end, code-3
//! count of zero or over 120 ms). Code-3 padding and VBR lengths are not checked.

use super::{Assembler, DepackError, DepackStats, Malformed};
use crate::media::{Frame, RtpIn};

/// Duration of one Opus frame in 48 kHz ticks for a TOC config (RFC 6716 §3.1, Table 2).
fn frame_ticks(config: u8) -> u64 {
    let i = usize::from(config % 4);
    match config {
        // SILK-only: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][i],
        // Hybrid: 10, 20 ms.
        12..=15 => [480, 960][i % 2],
        // CELT-only: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][i],
    }
}

/// Duration of an Opus packet in 48 kHz ticks, from its TOC byte and frame count.
pub fn packet_duration(payload: &[u8]) -> Result<u64, Malformed> {
    let [toc, rest @ ..] = payload else {
        return Err(Malformed::EmptyPayload);
    };
    let frame = frame_ticks(toc >> 3);
    let count = match toc & 3 {
        0 => 1,
        // R3: two frames of equal size, so the remainder's length is even.
        1 if rest.len() % 2 == 0 => 2,
        1 => return Err(Malformed::OpusFraming),
        // R4: the first frame's length (1 or 2 bytes, §3.2.1) fits in the packet.
        2 => {
            let (len, hdr) = match rest {
                [b0, ..] if *b0 < 252 => (usize::from(*b0), 1),
                [b0, b1, ..] => (usize::from(*b0) + 4 * usize::from(*b1), 2),
                _ => return Err(Malformed::OpusFraming),
            };
            if hdr + len > rest.len() {
                return Err(Malformed::OpusFraming);
            }
            2
        }
        // R5: 1..=48 frames, at most 120 ms (5760 ticks) in total.
        _ => {
            let m = u64::from(rest.first().ok_or(Malformed::OpusFraming)? & 0x3f);
            if m == 0 || m * frame > 5760 {
                return Err(Malformed::OpusFraming);
            }
            m
        }
    };
    Ok(frame * count)
}

/// Opus depacketizer; see the module doc.
#[derive(Debug)]
pub struct Depack {
    asm: Assembler,
}

impl Default for Depack {
    fn default() -> Self {
        Self::new()
    }
}

impl Depack {
    /// A new depacketizer.
    pub fn new() -> Self {
        Depack {
            asm: Assembler::new(false),
        }
    }

    /// Adds the next packet in sequence order.
    pub fn push(&mut self, pkt: RtpIn<'_>) -> Result<(), DepackError> {
        self.asm.begin_packet(&pkt)?;
        let duration =
            packet_duration(pkt.payload).map_err(|m| self.asm.malformed(&pkt, m, false))?;
        let p = self.asm.start(pkt.ts);
        p.keyframe = true;
        p.duration = Some(duration);
        self.asm.append(&pkt, pkt.payload)?;
        self.asm.end_frame();
        Ok(())
    }

    /// Notes a sequence number that carried no media (not a loss).
    pub fn skip(&mut self, seq: u64) {
        self.asm.skip(seq);
    }

    /// Notes lost packets; Opus frames are independent, so nothing is dropped.
    pub fn gap(&mut self, lost: u64) {
        self.asm.gap(lost);
    }

    /// The next frame.
    pub fn pull(&mut self) -> Option<Frame> {
        self.asm.out.pop_front()
    }

    /// Ends the track (nothing is ever in progress between packets).
    pub fn flush(&mut self) {
        self.asm.drop_in_progress();
    }

    /// Counters so far.
    pub fn stats(&self) -> &DepackStats {
        &self.asm.stats
    }

    /// Panics if an internal invariant does not hold.
    pub fn check_invariants(&self) {
        self.asm.check_invariants();
        assert!(
            self.asm.cur.is_none(),
            "Opus never holds a frame between packets"
        );
        for f in &self.asm.out {
            assert!(f.keyframe && f.duration.is_some_and(|d| d > 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::depack::testutil::{arb_packets, check_frames, pkt};
    use proptest::prelude::*;

    #[test]
    fn durations_from_toc() {
        // (payload, ticks or error)
        let cases: &[(&[u8], Result<u64, Malformed>)] = &[
            (&[], Err(Malformed::EmptyPayload)),
            (&[0x78], Ok(960)),          // config 15 hybrid FB 20 ms, code 0, DTX
            (&[0xfc, 1, 2, 3], Ok(960)), // config 31 CELT 20 ms
            (&[0x00, 9], Ok(480)),       // config 0 SILK NB 10 ms
            (&[0x18, 9], Ok(2880)),      // config 3 SILK 60 ms
            (&[0x80, 9], Ok(120)),       // config 16 CELT 2.5 ms
            (&[0xfd, 1, 2], Ok(1920)),   // code 1: 2 x 20 ms
            (&[0xfd, 1, 2, 3], Err(Malformed::OpusFraming)), // code 1 odd
            (&[0xfe, 1, 7, 8], Ok(1920)), // code 2: first frame 1 byte
            (&[0xfe, 5, 7], Err(Malformed::OpusFraming)), // code 2 length past end
            (&[0xfe], Err(Malformed::OpusFraming)),
            (&[0xfe, 252], Err(Malformed::OpusFraming)), // two-byte length truncated
            (&[0xff, 0x03, 1, 2, 3], Ok(2880)),          // code 3: 3 x 20 ms
            (&[0xff, 0x06], Ok(5760)),                   // 6 x 20 = 120 ms, the maximum
            (&[0xff, 0x07], Err(Malformed::OpusFraming)), // 140 ms
            (&[0xff, 0x00], Err(Malformed::OpusFraming)),
            (&[0xff], Err(Malformed::OpusFraming)),
            (&[0x83, 0x30], Ok(5760)), // 48 x 2.5 ms
        ];
        for (i, (payload, want)) in cases.iter().enumerate() {
            assert_eq!(packet_duration(payload), *want, "case {i}: {payload:02x?}");
        }
    }

    #[test]
    fn one_packet_one_frame_malformed_skipped() {
        let mut d = Depack::new();
        d.push(pkt(1, 0, true, &[0xfc, 1])).unwrap();
        assert!(d.push(pkt(2, 960, false, &[])).is_err());
        d.gap(3);
        d.push(pkt(6, 4800, false, &[0x78])).unwrap();
        d.flush();
        d.check_invariants();
        let frames: Vec<Frame> = std::iter::from_fn(|| d.pull()).collect();
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0].ts, frames[0].duration), (0, Some(960)));
        assert_eq!(frames[0].data, [0xfc, 1]);
        assert_eq!((frames[1].ts, frames[1].keyframe), (4800, true));
        assert_eq!(d.stats().malformed.get(&Malformed::EmptyPayload), Some(&1));
        assert_eq!(d.stats().frames, 2);
    }

    proptest! {
        #[test]
        fn never_panics(pkts in arb_packets(40)) {
            let mut d = Depack::new();
            let mut frames = Vec::new();
            for (p, gap) in &pkts {
                if *gap > 0 { d.gap(*gap); }
                let _ = d.push(p.as_rtp_in());
                d.check_invariants();
                frames.extend(std::iter::from_fn(|| d.pull()));
            }
            d.flush();
            frames.extend(std::iter::from_fn(|| d.pull()));
            check_frames(&frames);
        }
    }
}
