//! Depacketizers: RTP payloads of one track, in sequence order, to media frames.
//!
//! Each codec is a sans-IO push/pull state machine (retina `codec/mod.rs`):
//! `push` one [`RtpIn`] at a time, `gap` when the reorder buffer reports loss,
//! `pull` finished [`Frame`]s, `flush` at the end of the track. Bad packets are
//! counted by [`Malformed`] reason and returned as [`DepackError`], never fatal;
//! frames that cannot be completed are dropped and counted in [`DepackStats`].
//!
//! Video depacketizers also notice loss by themselves when sequence numbers
//! skip, so they work without the reorder buffer's `Gap` items too (but they
//! need packets in order: a sequence number that goes back is `OutOfOrder`).

pub mod audio;
pub mod av1;
pub mod h264;
pub mod h265;
mod h26x;
pub mod opus;
pub mod vp8;
pub mod vp9;

#[cfg(test)]
mod capture_tests;
#[cfg(test)]
mod testutil;

use crate::codec::vp8::{PictureId, Vp8Error};
use crate::codec::vp9::Vp9Error;
use crate::codec::{Codec, av1::Av1Error, h26x::AggregationError, opus::OpusError};
use crate::media::{Frame, RtpIn};
use std::collections::{BTreeMap, VecDeque};

/// Largest frame assembled; a frame growing past it is dropped (untrusted lengths).
pub const MAX_FRAME_SIZE: usize = 16 << 20;

/// Why a packet could not be depacketized; counted per reason in [`DepackStats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
pub enum Malformed {
    /// The RTP payload is empty.
    #[error("empty payload")]
    EmptyPayload,
    /// Sequence number not after the previous packet's (input must be in order).
    #[error("sequence number not after the previous packet")]
    OutOfOrder,
    /// The frame would exceed [`MAX_FRAME_SIZE`].
    #[error("frame larger than {MAX_FRAME_SIZE} bytes")]
    FrameTooLarge,
    /// Opus TOC byte and frame count disagree with the packet (RFC 6716 §3.2).
    #[error("invalid Opus packet framing (RFC 6716 §3.2)")]
    OpusFraming,
    /// VP8 payload descriptor shorter than its flags say (RFC 7741 §4.2).
    #[error("VP8 payload descriptor truncated")]
    Vp8Descriptor,
    /// VP8 payload header or keyframe start code invalid (RFC 7741 §4.3, RFC 6386 §9.1).
    #[error("VP8 payload header truncated or keyframe start code missing")]
    Vp8PayloadHeader,
    /// VP9 payload descriptor truncated or inconsistent (RFC 9628 §4.2).
    #[error("VP9 payload descriptor truncated or invalid")]
    Vp9Descriptor,
    /// VP9 scalability structure truncated (RFC 9628 §4.2.1).
    #[error("VP9 scalability structure truncated")]
    Vp9ScalabilityStructure,
    /// More VP9 layer frames in one picture than a superframe can hold (8).
    #[error("more than 8 VP9 layer frames in one picture")]
    Vp9TooManyLayers,
    /// AV1 LEB128 value truncated or too large (AV1 spec §4.10.5).
    #[error("AV1 LEB128 length truncated or too large")]
    Leb128,
    /// AV1 OBU element or OBU size runs past the end of the packet.
    #[error("AV1 OBU length past the end of the packet")]
    ObuLength,
    /// AV1 OBU header invalid (forbidden bit set, empty, missing extension byte).
    #[error("AV1 OBU header invalid")]
    ObuHeader,
    /// AV1 Z/Y fragment flags disagree with the previous packet (AV1 RTP §4.4).
    #[error("AV1 fragment flags disagree with the previous packet")]
    Av1Fragment,
    /// H.264/H.265 packet or NAL unit type not supported or reserved (STAP-B, MTAP, FU-B, PACI).
    #[error("H.264/H.265 packet type unsupported (interleaved mode) or reserved")]
    NalType,
    /// STAP-A / AP unit size 0 or past the end of the packet (RFC 6184 §5.7.1, RFC 7798 §4.4.2).
    #[error("STAP-A/AP NAL unit size zero or past the end of the packet")]
    AggregationLength,
    /// FU-A / FU fragment without a start, or a start while one is open (RFC 6184 §5.8, RFC 7798 §4.4.3).
    #[error("FU-A/FU fragment out of order (no start, or a start before the end)")]
    Fragment,
    /// H.265 with DONL fields (`sprop-max-don-diff` > 0, RFC 7798 §4.4): not supported.
    #[error("H.265 DONL fields (sprop-max-don-diff > 0) not supported")]
    Donl,
    /// Audio payload not a whole number of sample frames (RFC 3551 §4.5: L16 odd length, channels).
    #[error("audio payload is not a whole number of samples for every channel")]
    AudioLength,
}

impl Malformed {
    /// Stable short name for reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::EmptyPayload => "empty-payload",
            Malformed::OutOfOrder => "out-of-order",
            Malformed::FrameTooLarge => "frame-too-large",
            Malformed::OpusFraming => "opus-framing",
            Malformed::Vp8Descriptor => "vp8-descriptor",
            Malformed::Vp8PayloadHeader => "vp8-payload-header",
            Malformed::Vp9Descriptor => "vp9-descriptor",
            Malformed::Vp9ScalabilityStructure => "vp9-scalability-structure",
            Malformed::Vp9TooManyLayers => "vp9-too-many-layers",
            Malformed::Leb128 => "av1-leb128",
            Malformed::ObuLength => "av1-obu-length",
            Malformed::ObuHeader => "av1-obu-header",
            Malformed::Av1Fragment => "av1-fragment",
            Malformed::NalType => "h26x-nal-type",
            Malformed::AggregationLength => "h26x-aggregation-length",
            Malformed::Fragment => "h26x-fragment",
            Malformed::Donl => "h265-donl",
            Malformed::AudioLength => "audio-length",
        }
    }
}

impl From<OpusError> for Malformed {
    fn from(e: OpusError) -> Self {
        match e {
            OpusError::Empty => Malformed::EmptyPayload,
            OpusError::Framing => Malformed::OpusFraming,
        }
    }
}

impl From<Vp8Error> for Malformed {
    fn from(e: Vp8Error) -> Self {
        match e {
            Vp8Error::Empty => Malformed::EmptyPayload,
            Vp8Error::Descriptor => Malformed::Vp8Descriptor,
            Vp8Error::PayloadHeader => Malformed::Vp8PayloadHeader,
        }
    }
}

impl From<Vp9Error> for Malformed {
    fn from(e: Vp9Error) -> Self {
        match e {
            Vp9Error::Empty => Malformed::EmptyPayload,
            Vp9Error::Descriptor => Malformed::Vp9Descriptor,
            Vp9Error::ScalabilityStructure => Malformed::Vp9ScalabilityStructure,
        }
    }
}

impl From<Av1Error> for Malformed {
    fn from(e: Av1Error) -> Self {
        match e {
            Av1Error::Leb128 => Malformed::Leb128,
            Av1Error::ObuLength => Malformed::ObuLength,
            Av1Error::ObuHeader => Malformed::ObuHeader,
        }
    }
}

impl From<AggregationError> for Malformed {
    fn from(_: AggregationError) -> Self {
        Malformed::AggregationLength
    }
}

/// Errors of the depacketizers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DepackError {
    /// No depacketizer exists for this codec.
    #[error("no depacketizer for codec {0:?}")]
    UnsupportedCodec(Codec),
    /// One packet was malformed; it was counted and skipped.
    #[error("seq={seq} ts={ts}: {reason}")]
    Malformed {
        /// Extended sequence number of the packet.
        seq: u64,
        /// Extended RTP timestamp of the packet.
        ts: u64,
        /// What is wrong.
        reason: Malformed,
    },
}

/// Counters of one depacketizer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepackStats {
    /// Packets pushed.
    pub packets: u64,
    /// Frames emitted.
    pub frames: u64,
    /// Frames dropped because a packet was lost or malformed.
    pub dropped_incomplete: u64,
    /// Complete frames dropped because they depend on a frame that was not emitted.
    pub dropped_waiting_keyframe: u64,
    /// Malformed packets by reason.
    pub malformed: BTreeMap<Malformed, u64>,
    /// Gaps between pictures that lost no picture (VP8 PictureIDs consecutive): decoding went on.
    pub gaps_without_picture_loss: u64,
}

impl DepackStats {
    /// All malformed packets, whatever the reason.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.values().sum()
    }
}

/// A depacketizer for one of the codecs rtprec can record.
#[derive(Debug)]
pub enum Depacketizer {
    /// Opus (RFC 7587).
    Opus(opus::Depack),
    /// VP8 (RFC 7741).
    Vp8(vp8::Depack),
    /// VP9 (RFC 9628).
    Vp9(vp9::Depack),
    /// AV1 (AOM RTP payload format v1.0).
    Av1(av1::Depack),
    /// H.264 (RFC 6184).
    H264(Box<h264::Depack>),
    /// H.265 (RFC 7798).
    H265(Box<h265::Depack>),
    /// PCMU, PCMA, G.722, L16 (RFC 3551 §4.5).
    Audio(audio::Depack),
}

macro_rules! dispatch {
    ($self:ident, $d:ident => $e:expr) => {
        match $self {
            Depacketizer::Opus($d) => $e,
            Depacketizer::Vp8($d) => $e,
            Depacketizer::Vp9($d) => $e,
            Depacketizer::Av1($d) => $e,
            Depacketizer::H264($d) => $e,
            Depacketizer::H265($d) => $e,
            Depacketizer::Audio($d) => $e,
        }
    };
}

impl Depacketizer {
    /// A depacketizer for `codec`, or `UnsupportedCodec`; PCM audio is taken as mono
    /// (use [`Depacketizer::with_channels`] for L16 stereo).
    pub fn new(codec: Codec) -> Result<Self, DepackError> {
        Self::with_channels(codec, 1)
    }

    /// A depacketizer for `codec`; `channels` (from the rtpmap) sets how many
    /// interleaved channels PCMU, PCMA and L16 payloads carry, other codecs ignore it.
    pub fn with_channels(codec: Codec, channels: u8) -> Result<Self, DepackError> {
        let audio = |a| Depacketizer::Audio(audio::Depack::new(a, channels));
        Ok(match codec {
            Codec::Opus => Depacketizer::Opus(opus::Depack::new()),
            Codec::Vp8 => Depacketizer::Vp8(vp8::Depack::new()),
            Codec::Vp9 => Depacketizer::Vp9(vp9::Depack::new()),
            Codec::Av1 => Depacketizer::Av1(av1::Depack::new()),
            Codec::H264 => Depacketizer::H264(Box::default()),
            Codec::H265 => Depacketizer::H265(Box::default()),
            Codec::Pcmu => audio(audio::AudioCodec::Pcmu),
            Codec::Pcma => audio(audio::AudioCodec::Pcma),
            Codec::G722 => audio(audio::AudioCodec::G722),
            Codec::L16 => audio(audio::AudioCodec::L16),
            Codec::G729
            | Codec::Cn
            | Codec::TelephoneEvent
            | Codec::H263
            | Codec::Mpa
            | Codec::Gsm
            | Codec::G723
            | Codec::G728
            | Codec::Jpeg
            | Codec::H261
            | Codec::Mpv => return Err(DepackError::UnsupportedCodec(codec)),
        })
    }

    /// Like [`Depacketizer::with_channels`], with the SDP fmtp parameters of the
    /// payload type (H.264/H.265 parameter sets from `sprop-*`); other codecs ignore them.
    pub fn with_fmtp(codec: Codec, channels: u8, fmtp: Option<&str>) -> Result<Self, DepackError> {
        Ok(match (codec, fmtp) {
            (Codec::H264, Some(f)) => Depacketizer::H264(Box::new(h264::Depack::with_sprop(f))),
            (Codec::H265, Some(f)) => Depacketizer::H265(Box::new(h265::Depack::with_sprop(f))),
            _ => Self::with_channels(codec, channels)?,
        })
    }

    /// Adds the next packet in sequence order; a malformed packet is counted and skipped.
    pub fn push(&mut self, pkt: RtpIn<'_>) -> Result<(), DepackError> {
        dispatch!(self, d => d.push(pkt))
    }

    /// Notes that `lost` packets are missing before the next one pushed.
    pub fn gap(&mut self, lost: u64) {
        dispatch!(self, d => d.gap(lost))
    }

    /// Notes that sequence number `seq` carried no media (FEC, padding, another
    /// payload type): not a loss, as libwebrtc's packet buffer treats padding.
    pub fn skip(&mut self, seq: u64) {
        dispatch!(self, d => d.skip(seq))
    }

    /// The next finished frame.
    pub fn pull(&mut self) -> Option<Frame> {
        dispatch!(self, d => d.pull())
    }

    /// Ends the track: finishes or drops the frame in progress.
    pub fn flush(&mut self) {
        dispatch!(self, d => d.flush())
    }

    /// Takes back a pulled frame's buffer once it is written: the next frame
    /// is assembled in it, without allocating or growing a new one.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        dispatch!(self, d => d.assembler().recycle(buf))
    }

    /// Counters so far.
    pub fn stats(&self) -> &DepackStats {
        dispatch!(self, d => d.stats())
    }

    /// Panics if an internal invariant does not hold (for fuzzing and tests).
    pub fn check_invariants(&self) {
        dispatch!(self, d => d.check_invariants())
    }
}

/// PictureID continuity (VP8: RFC 7741 §4.2; VP9: RFC 9628 §4.2): PictureIDs
/// count pictures, so when packets went missing between two complete pictures
/// and the new picture's ID follows the last one, no picture was lost (the
/// missing sequence numbers were FEC, padding or probes) and decoding goes on
/// without waiting for a key frame, as libwebrtc's frame continuity does.
#[derive(Debug, Default)]
struct PictureIds {
    /// PictureID of the last picture that started, and its timestamp.
    last: Option<(PictureId, u64)>,
    /// Packets went missing between pictures while decodable; the next picture decides.
    gap_between: bool,
}

impl PictureIds {
    /// A gap is about to be applied to `asm`.
    fn before_gap(&mut self, asm: &Assembler) {
        self.gap_between |= asm.cur.is_none() && !asm.need_keyframe && self.last.is_some();
    }

    /// A packet with `seq` is about to be pushed: a skip is a gap.
    fn before_packet(&mut self, asm: &Assembler, seq: u64) {
        if asm.last_seq.is_some_and(|l| seq > l + 1) {
            self.before_gap(asm);
        }
    }

    /// A picture starts at `ts` with this PictureID (and width): resume if none was lost.
    ///
    /// The timestamp must have moved less than a second (90 kHz): a 7-bit ID wraps
    /// every 128 pictures, so an outage of exactly 128 would otherwise look whole.
    fn picture_start(&mut self, asm: &mut Assembler, id: Option<PictureId>, ts: u64) {
        if std::mem::take(&mut self.gap_between)
            && let (Some((last, last_ts)), Some(now)) = (self.last, id)
        {
            let close = ts.saturating_sub(last_ts) < 90_000;
            let next = (last.id + 1) % last.modulus();
            if last.long == now.long && now.id == next && close {
                asm.need_keyframe = false;
                asm.stats.gaps_without_picture_loss += 1;
            }
        }
        self.last = id.map(|id| (id, ts));
    }

    /// A picture broke (its start was lost): nothing to decide any more.
    fn picture_broken(&mut self) {
        self.gap_between = false;
    }
}

/// A frame being assembled.
#[derive(Debug)]
struct Partial {
    ts: u64,
    data: Vec<u8>,
    keyframe: bool,
    dimensions: Option<(u16, u16)>,
    duration: Option<u64>,
    /// A packet of this frame was lost or malformed: it will be dropped, `data` is cleared.
    broken: bool,
}

/// Frame assembly shared by the codecs: loss tracking, keyframe gating, stats, output queue.
#[derive(Debug)]
struct Assembler {
    cur: Option<Partial>,
    /// Drop complete frames until a keyframe (after loss, and at the start of video).
    need_keyframe: bool,
    last_seq: Option<u64>,
    out: VecDeque<Frame>,
    stats: DepackStats,
    /// A written frame's buffer, for the next frame (see [`Depacketizer::recycle`]).
    spare: Vec<u8>,
}

/// The largest frame buffer kept for reuse: a big keyframe's is let go.
const MAX_SPARE: usize = 1 << 20;

impl Assembler {
    fn new(need_keyframe: bool) -> Self {
        Assembler {
            cur: None,
            need_keyframe,
            last_seq: None,
            out: VecDeque::new(),
            stats: DepackStats::default(),
            spare: Vec::new(),
        }
    }

    /// Keeps `buf` for the next frame if it is larger than the one kept.
    fn recycle(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() <= MAX_SPARE && buf.capacity() > self.spare.capacity() {
            buf.clear();
            self.spare = buf;
        }
    }

    /// Counts a packet and turns a sequence skip into a gap; rejects packets going back.
    fn begin_packet(&mut self, pkt: &RtpIn<'_>) -> Result<(), DepackError> {
        self.stats.packets += 1;
        if let Some(last) = self.last_seq {
            if pkt.seq <= last {
                return Err(self.malformed(pkt, Malformed::OutOfOrder, false));
            }
            if pkt.seq > last + 1 {
                self.gap(pkt.seq - last - 1);
            }
        }
        self.last_seq = Some(pkt.seq);
        Ok(())
    }

    /// A sequence number without media: it continues the sequence (a skip before it is still a gap).
    fn skip(&mut self, seq: u64) {
        if let Some(last) = self.last_seq {
            if seq <= last {
                return;
            }
            if seq > last + 1 {
                self.gap(seq - last - 1);
            }
        }
        self.last_seq = Some(seq);
    }

    /// Loss: the frame in progress cannot be completed, and later frames may
    /// reference whatever was lost, so wait for a keyframe.
    fn gap(&mut self, _lost: u64) {
        if let Some(p) = &mut self.cur {
            p.broken = true;
            p.data = Vec::new();
        }
        self.need_keyframe = true;
    }

    /// Counts a malformed packet; with `in_frame`, the frame of its timestamp is broken too.
    fn malformed(&mut self, pkt: &RtpIn<'_>, reason: Malformed, in_frame: bool) -> DepackError {
        *self.stats.malformed.entry(reason).or_default() += 1;
        if in_frame {
            if self.cur.as_ref().is_some_and(|p| p.ts != pkt.ts) {
                self.end_frame();
            }
            if self.cur.is_none() {
                self.start(pkt.ts);
            }
            self.gap(0);
        }
        DepackError::Malformed {
            seq: pkt.seq,
            ts: pkt.ts,
            reason,
        }
    }

    /// True when a frame is in progress with a timestamp other than `ts`.
    fn other_ts(&self, ts: u64) -> bool {
        self.cur.as_ref().is_some_and(|p| p.ts != ts)
    }

    /// Ends any frame in progress and starts a new one at `ts`.
    fn start(&mut self, ts: u64) -> &mut Partial {
        if self.cur.is_some() {
            self.end_frame();
        }
        let data = std::mem::take(&mut self.spare);
        self.cur.insert(Partial {
            ts,
            data,
            keyframe: false,
            dimensions: None,
            duration: None,
            broken: false,
        })
    }

    /// The frame in progress at `ts` if it is intact; otherwise ends what is in
    /// progress and records a broken frame at `ts` (its start was lost).
    fn continue_at(&mut self, ts: u64) -> Option<&mut Partial> {
        if self.other_ts(ts) {
            self.end_frame();
        }
        if self.cur.is_none() {
            self.start(ts);
            self.gap(0);
        }
        self.cur.as_mut().filter(|p| !p.broken)
    }

    /// Appends to the frame in progress, enforcing [`MAX_FRAME_SIZE`].
    fn append(&mut self, pkt: &RtpIn<'_>, bytes: &[u8]) -> Result<(), DepackError> {
        let Some(p) = self.cur.as_mut().filter(|p| !p.broken) else {
            return Ok(());
        };
        if p.data.len().saturating_add(bytes.len()) > MAX_FRAME_SIZE {
            return Err(self.malformed(pkt, Malformed::FrameTooLarge, true));
        }
        p.data.extend_from_slice(bytes);
        Ok(())
    }

    /// Finishes the frame in progress: emits it, or drops and counts it.
    fn end_frame(&mut self) {
        let Some(p) = self.cur.take() else { return };
        if p.broken || p.data.is_empty() {
            self.stats.dropped_incomplete += 1;
            self.need_keyframe = true;
        } else if self.need_keyframe && !p.keyframe {
            self.stats.dropped_waiting_keyframe += 1;
        } else {
            if p.keyframe {
                self.need_keyframe = false;
            }
            self.stats.frames += 1;
            self.out.push_back(Frame {
                ts: p.ts,
                duration: p.duration,
                keyframe: p.keyframe,
                dimensions: p.dimensions,
                data: p.data,
            });
        }
    }

    /// Drops the frame in progress as incomplete (end of track without its end).
    fn drop_in_progress(&mut self) {
        if self.cur.is_some() {
            self.gap(0);
            self.end_frame();
        }
    }

    fn check_invariants(&self) {
        if let Some(p) = &self.cur {
            assert!(p.data.len() <= MAX_FRAME_SIZE, "frame over the size cap");
            assert!(!p.broken || p.data.is_empty(), "broken frame keeps data");
        }
        for f in &self.out {
            assert!(!f.data.is_empty(), "empty frame queued");
            assert!(
                f.data.len() <= MAX_FRAME_SIZE + 64,
                "frame over the size cap"
            );
        }
        assert!(self.stats.frames >= self.out.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_dispatches_or_refuses() {
        for c in [
            Codec::Opus,
            Codec::Vp8,
            Codec::Vp9,
            Codec::Av1,
            Codec::H264,
            Codec::H265,
            Codec::Pcmu,
            Codec::L16,
        ] {
            let mut d = Depacketizer::new(c).expect("supported");
            let r = d.push(RtpIn {
                seq: 1,
                ts: 0,
                marker: true,
                payload: &[],
            });
            assert_eq!(
                r,
                Err(DepackError::Malformed {
                    seq: 1,
                    ts: 0,
                    reason: Malformed::EmptyPayload
                })
            );
            d.flush();
            d.check_invariants();
            assert_eq!(d.stats().malformed_total(), 1, "{c:?}");
            assert_eq!(d.pull(), None);
        }
        for c in [Codec::H263, Codec::G729, Codec::TelephoneEvent] {
            assert_eq!(
                Depacketizer::new(c).err(),
                Some(DepackError::UnsupportedCodec(c))
            );
        }
        assert_eq!(Malformed::Leb128.as_str(), "av1-leb128");
    }
}
