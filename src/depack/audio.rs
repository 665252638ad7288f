//! Sample-based telephony audio (RFC 3551 §4.5): PCMU, PCMA (G.711), G.722 and L16.
//!
//! One RTP packet is one frame: the payload is a run of samples with no
//! header, so nothing needs reassembly. The frame's duration in RTP ticks
//! comes from the payload length (RFC 3551 §4.5: "the duration of a packet is
//! determined by the number of octets"):
//!
//! - PCMU, PCMA (§4.5.14): one octet per sample per channel, 8000 Hz clock.
//! - G.722 (§4.5.2): one octet per RTP tick. The audio is sampled at 16 kHz
//!   and one octet codes two samples, but the RTP clock rate is 8000 Hz "for
//!   historical reasons", so the octet count equals the tick count.
//! - L16 (§4.5.11): 16-bit signed samples in network byte order, interleaved
//!   channels (count from the rtpmap; static PT 10 is stereo, PT 11 mono),
//!   clock rate = sample rate: `bytes / 2 / channels` ticks.
//!
//! Every frame is a keyframe. The payload is passed through unchanged (the
//! WAV muxer decodes G.711 and byte-swaps L16). Counted and skipped: empty
//! payloads, and payloads that are not a whole number of sample frames (an
//! odd L16 length, or a length not divisible by the channel count), which
//! would shift every later sample onto the wrong channel.

use super::{Assembler, DepackError, DepackStats, Malformed};
use crate::codec::Codec;
use crate::media::{Frame, RtpIn};

/// The sample-based codecs this depacketizer handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioCodec {
    /// G.711 mu-law (RFC 3551 §4.5.14).
    Pcmu,
    /// G.711 A-law (RFC 3551 §4.5.14).
    Pcma,
    /// G.722 (RFC 3551 §4.5.2): 8000 Hz RTP clock, one octet per tick.
    G722,
    /// Linear 16-bit PCM, big-endian (RFC 3551 §4.5.11).
    L16,
}

impl AudioCodec {
    /// The audio codec for `codec`, or `None` for codecs that are not sample-based.
    pub fn from_codec(codec: Codec) -> Option<Self> {
        match codec {
            Codec::Pcmu => Some(AudioCodec::Pcmu),
            Codec::Pcma => Some(AudioCodec::Pcma),
            Codec::G722 => Some(AudioCodec::G722),
            Codec::L16 => Some(AudioCodec::L16),
            _ => None,
        }
    }

    /// Octets per RTP tick per channel.
    pub fn bytes_per_tick(self) -> usize {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma | AudioCodec::G722 => 1,
            AudioCodec::L16 => 2,
        }
    }
}

/// Depacketizer of sample-based audio; see the module doc.
#[derive(Debug)]
pub struct Depack {
    codec: AudioCodec,
    /// Octets per RTP tick across all channels (never 0).
    tick_bytes: usize,
    asm: Assembler,
}

impl Depack {
    /// A depacketizer for `codec` with `channels` interleaved channels (0 is taken as 1).
    pub fn new(codec: AudioCodec, channels: u8) -> Self {
        Depack {
            codec,
            tick_bytes: codec.bytes_per_tick() * usize::from(channels.max(1)),
            asm: Assembler::new(false),
        }
    }

    /// The codec handled.
    pub fn codec(&self) -> AudioCodec {
        self.codec
    }

    /// Adds the next packet in sequence order.
    pub fn push(&mut self, pkt: RtpIn<'_>) -> Result<(), DepackError> {
        self.asm.begin_packet(&pkt)?;
        if pkt.payload.is_empty() {
            return Err(self.asm.malformed(&pkt, Malformed::EmptyPayload, false));
        }
        if !pkt.payload.len().is_multiple_of(self.tick_bytes) {
            return Err(self.asm.malformed(&pkt, Malformed::AudioLength, false));
        }
        let ticks = (pkt.payload.len() / self.tick_bytes) as u64;
        let p = self.asm.start(pkt.ts);
        p.keyframe = true;
        p.duration = Some(ticks);
        self.asm.append(&pkt, pkt.payload)?;
        self.asm.end_frame();
        Ok(())
    }

    /// Notes a sequence number that carried no media (not a loss).
    pub fn skip(&mut self, seq: u64) {
        self.asm.skip(seq);
    }

    /// Notes lost packets; samples are independent, so nothing is dropped.
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
        assert!(self.tick_bytes > 0);
        assert!(
            self.asm.cur.is_none(),
            "audio never holds a frame between packets"
        );
        for f in &self.asm.out {
            let d = f.duration.expect("audio frames carry a duration");
            assert_eq!(d * self.tick_bytes as u64, f.data.len() as u64);
            assert!(f.keyframe);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::depack::testutil::{arb_packets, check_frames, pkt};
    use proptest::prelude::*;

    #[test]
    fn durations_from_payload_length() {
        // (codec, channels, payload length, ticks or error)
        let cases: &[(AudioCodec, u8, usize, Result<u64, Malformed>)] = &[
            (AudioCodec::Pcmu, 1, 160, Ok(160)),
            (AudioCodec::Pcma, 1, 80, Ok(80)),
            (AudioCodec::Pcma, 2, 320, Ok(160)),
            (AudioCodec::Pcma, 2, 321, Err(Malformed::AudioLength)),
            // §4.5.2: 160 octets = 320 samples at 16 kHz = 160 ticks at 8 kHz.
            (AudioCodec::G722, 1, 160, Ok(160)),
            (AudioCodec::G722, 1, 1, Ok(1)),
            (AudioCodec::L16, 1, 1764, Ok(882)),
            (AudioCodec::L16, 2, 3528, Ok(882)),
            (AudioCodec::L16, 1, 3, Err(Malformed::AudioLength)),
            (AudioCodec::L16, 2, 6, Err(Malformed::AudioLength)),
            (AudioCodec::L16, 0, 4, Ok(2)),
            (AudioCodec::Pcmu, 1, 0, Err(Malformed::EmptyPayload)),
        ];
        for (i, &(codec, ch, len, want)) in cases.iter().enumerate() {
            let mut d = Depack::new(codec, ch);
            let payload = vec![0x55; len];
            let got = match d.push(pkt(1, 1000, false, &payload)) {
                Ok(()) => Ok(d.pull().and_then(|f| f.duration).unwrap_or(0)),
                Err(DepackError::Malformed { reason, .. }) => Err(reason),
                Err(e) => panic!("case {i}: {e}"),
            };
            assert_eq!(got, want, "case {i}");
            d.check_invariants();
        }
    }

    #[test]
    fn one_packet_one_frame_payload_unchanged() {
        let mut d = Depack::new(AudioCodec::Pcmu, 1);
        d.push(pkt(1, 0, true, &[0xff, 0x7f])).unwrap();
        d.gap(2);
        d.push(pkt(4, 480, false, &[1, 2, 3])).unwrap();
        d.flush();
        let frames: Vec<Frame> = std::iter::from_fn(|| d.pull()).collect();
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0].ts, frames[0].duration), (0, Some(2)));
        assert_eq!(frames[0].data, [0xff, 0x7f]);
        assert_eq!((frames[1].ts, frames[1].duration), (480, Some(3)));
        assert_eq!(d.stats().frames, 2);
        assert_eq!(d.stats().dropped_incomplete, 0);
    }

    proptest! {
        #[test]
        fn never_panics(pkts in arb_packets(40), ch in 0u8..4, c in 0usize..4) {
            let codec = [AudioCodec::Pcmu, AudioCodec::Pcma, AudioCodec::G722, AudioCodec::L16][c];
            let mut d = Depack::new(codec, ch);
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
