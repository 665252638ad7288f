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

use super::{Assembler, DepackError, DepackStats};
use crate::codec::opus::packet_duration;
use crate::media::{Frame, RtpIn};

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
            packet_duration(pkt.payload).map_err(|e| self.asm.malformed(&pkt, e.into(), false))?;
        let p = self.asm.start(pkt.ts);
        p.keyframe = true;
        p.duration = Some(u64::from(duration));
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
    pub(super) fn assembler(&mut self) -> &mut super::Assembler {
        &mut self.asm
    }

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
    use crate::depack::Malformed;
    use crate::depack::testutil::{arb_packets, check_frames, pkt};
    use proptest::prelude::*;

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
