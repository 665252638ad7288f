//! Synthetic media: plausible Opus, VP8 (RFC 7741), H.264 (RFC 6184) and G.711 RTP streams.
//!
//! Payload bytes are random apart from the parts a depacketizer or muxer reads:
//! the Opus TOC byte, the VP8 payload descriptor and key-frame header (start
//! code, width, height), H.264 NAL headers with a decodable SPS/PPS and slice
//! header. Frames are split the way libwebrtc does (equal-sized packets under
//! the MTU budget, marker on a frame's last packet).

use super::encoded::{EncodedCodec, EncodedStream};
use super::packetize::{FramePacketizer, Payload};
use super::rng::Rng;
use super::rtp::RtpBuilder;
use std::sync::Arc;

/// The codec of a synthetic stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// Opus, 48 kHz clock, 20 ms packets (timestamp step 960).
    Opus,
    /// G.711 mu-law, PT 0, 8 kHz, 160 bytes per 20 ms.
    Pcmu,
    /// G.711 A-law, PT 8, 8 kHz, 160 bytes per 20 ms.
    Pcma,
    /// VP8 with PictureID, 90 kHz clock.
    Vp8,
    /// H.264 packetization-mode 1 (single NAL, STAP-A, FU-A), 90 kHz clock.
    H264,
    /// VP9 (RFC 9628), 90 kHz clock; only from encoded frames ([`StreamSpec::encoded`]).
    Vp9,
    /// AV1 (AOM RTP), 90 kHz clock; only from encoded frames ([`StreamSpec::encoded`]).
    Av1,
    /// G.722, PT 9, 8000 Hz RTP clock; only from encoded frames.
    G722,
    /// L16 mono, PT 11, 44100 Hz; only from encoded frames.
    L16,
    /// H.265 (RFC 7798), 90 kHz clock; only from encoded frames ([`StreamSpec::encoded`]).
    H265,
}

impl MediaKind {
    /// RTP clock rate in Hz.
    pub fn clock_rate(self) -> u32 {
        match self {
            MediaKind::Opus => 48_000,
            MediaKind::Pcmu | MediaKind::Pcma | MediaKind::G722 => 8_000,
            MediaKind::L16 => 44_100,
            MediaKind::Vp8
            | MediaKind::H264
            | MediaKind::Vp9
            | MediaKind::Av1
            | MediaKind::H265 => 90_000,
        }
    }

    /// The payload type WebRTC stacks commonly use (static ones for G.711).
    pub fn default_pt(self) -> u8 {
        match self {
            MediaKind::Opus => 111,
            MediaKind::Pcmu => 0,
            MediaKind::Pcma => 8,
            MediaKind::Vp8 => 96,
            MediaKind::H264 => 102,
            MediaKind::Vp9 => 98,
            MediaKind::Av1 => 45,
            MediaKind::G722 => 9,
            MediaKind::L16 => 11,
            MediaKind::H265 => 104,
        }
    }

    /// True for video codecs.
    pub fn is_video(self) -> bool {
        matches!(
            self,
            MediaKind::Vp8 | MediaKind::H264 | MediaKind::Vp9 | MediaKind::Av1 | MediaKind::H265
        )
    }

    /// Lower-case codec name as in SDP (`opus`, `vp8`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Opus => "opus",
            MediaKind::Pcmu => "pcmu",
            MediaKind::Pcma => "pcma",
            MediaKind::Vp8 => "vp8",
            MediaKind::H264 => "h264",
            MediaKind::Vp9 => "vp9",
            MediaKind::Av1 => "av1",
            MediaKind::G722 => "g722",
            MediaKind::L16 => "l16",
            MediaKind::H265 => "h265",
        }
    }
}

/// RFC 6464 audio level extension id used by the generator.
pub const EXT_AUDIO_LEVEL: u8 = 1;
/// Transport-wide congestion control extension id used by the generator (video).
pub const EXT_TRANSPORT_CC: u8 = 3;

/// Describes one synthetic RTP stream (one SSRC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSpec {
    /// Codec.
    pub kind: MediaKind,
    /// SSRC.
    pub ssrc: u32,
    /// Payload type.
    pub pt: u8,
    /// Sequence number of the first packet.
    pub first_seq: u16,
    /// RTP timestamp of the first frame.
    pub first_ts: u32,
    /// Frames per second (video only; audio is always 50 packets/s).
    pub fps: u32,
    /// Target bitrate in bits per second (Opus and video).
    pub bitrate_bps: u32,
    /// A key frame every this many frames (video; the first frame is always one).
    pub keyframe_interval: u32,
    /// Video width in pixels.
    pub width: u16,
    /// Video height in pixels.
    pub height: u16,
    /// Largest RTP payload (after the header) a packet may carry.
    pub max_payload: usize,
    /// Add the usual WebRTC header extensions (audio level, transport-cc).
    pub header_extensions: bool,
    /// CNAME sent in RTCP SDES.
    pub cname: String,
    /// Real encoded frames to send instead of synthetic ones (at their own times; the stream ends after the last).
    pub encoded: Option<Arc<EncodedStream>>,
}

impl StreamSpec {
    /// A stream of `kind` with WebRTC-like defaults (PT, 30 fps, 640x360, 1 Mbit/s video, 32 kbit/s Opus).
    pub fn new(kind: MediaKind, ssrc: u32) -> Self {
        StreamSpec {
            kind,
            ssrc,
            pt: kind.default_pt(),
            first_seq: 1,
            first_ts: 0,
            fps: 30,
            bitrate_bps: if kind.is_video() { 1_000_000 } else { 32_000 },
            keyframe_interval: 60,
            width: 640,
            height: 360,
            max_payload: 1100,
            header_extensions: true,
            cname: format!("gen-{ssrc:08x}"),
            encoded: None,
        }
    }

    /// A stream sending the frames of `media` (an IVF or Ogg Opus file's contents).
    pub fn from_encoded(media: Arc<EncodedStream>, ssrc: u32) -> Self {
        let kind = match media.codec {
            EncodedCodec::Opus => MediaKind::Opus,
            EncodedCodec::Vp8 => MediaKind::Vp8,
            EncodedCodec::Vp9 => MediaKind::Vp9,
            EncodedCodec::Av1 => MediaKind::Av1,
            EncodedCodec::Pcmu => MediaKind::Pcmu,
            EncodedCodec::Pcma => MediaKind::Pcma,
            EncodedCodec::G722 => MediaKind::G722,
            EncodedCodec::L16 => MediaKind::L16,
            EncodedCodec::H264 => MediaKind::H264,
            EncodedCodec::H265 => MediaKind::H265,
        };
        let mut s = StreamSpec::new(kind, ssrc);
        if let Some((w, h)) = media.dimensions {
            (s.width, s.height) = (w, h);
        }
        s.encoded = Some(media);
        s
    }

    /// Nanoseconds from the stream start to frame `n` (its pts for encoded frames;
    /// frame `len` is the end of the last frame).
    pub fn frame_time_ns(&self, n: u64) -> i64 {
        match &self.encoded {
            Some(e) => {
                let ticks = e
                    .frames
                    .get(n as usize)
                    .map_or(e.length_ticks(), |f| u64::from(f.offset));
                (i128::from(ticks) * 1_000_000_000 / i128::from(self.kind.clock_rate())) as i64
            }
            None => n as i64 * self.frame_duration_ns(),
        }
    }

    /// Nanoseconds between frames (20 ms for audio).
    pub fn frame_duration_ns(&self) -> i64 {
        if self.kind.is_video() {
            1_000_000_000 / i64::from(self.fps.max(1))
        } else {
            20_000_000
        }
    }

    /// RTP timestamp increment per frame.
    pub fn ts_step(&self) -> u32 {
        match self.kind {
            MediaKind::Opus => 960,
            MediaKind::Pcmu | MediaKind::Pcma | MediaKind::G722 => 160,
            MediaKind::L16 => 882,
            MediaKind::Vp8
            | MediaKind::H264
            | MediaKind::Vp9
            | MediaKind::Av1
            | MediaKind::H265 => 90_000 / self.fps.max(1),
        }
    }
}

/// One RTP packet produced by a [`Packetizer`].
#[derive(Clone, Debug, Default)]
pub struct MediaPacket {
    /// Sequence number counted from 0 without wrapping.
    pub ext_seq: u64,
    /// Offset of its send time from the frame's nominal time (pacing).
    pub offset_ns: i64,
    /// True when the packet belongs to a key frame.
    pub keyframe: bool,
    /// The RTP packet.
    pub bytes: Vec<u8>,
}

/// Turns a [`StreamSpec`] into RTP packets, frame after frame.
#[derive(Debug)]
pub struct Packetizer {
    spec: StreamSpec,
    rng: Rng,
    rtp: RtpBuilder,
    frame: u64,
    next_seq: u64,
    picture_id: u16,
    twcc: u16,
    frame_num: u8,
    sps: Vec<u8>,
    pps: Vec<u8>,
    scratch: Vec<u8>,
    chunks: Vec<(usize, usize)>,
    real: Option<FramePacketizer>,
    payloads: Vec<Payload>,
}

impl Packetizer {
    /// A packetizer whose random choices come from `seed`.
    pub fn new(spec: StreamSpec, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let picture_id = (rng.next_u32() & 0x7fff) as u16;
        let (sps, pps) = h264_parameter_sets(spec.width, spec.height);
        let rtp = RtpBuilder::new(spec.pt, 0, 0, spec.ssrc);
        let real = spec
            .encoded
            .as_ref()
            .map(|e| FramePacketizer::new(e.codec, spec.max_payload, picture_id, e.dimensions));
        Packetizer {
            spec,
            rng,
            rtp,
            frame: 0,
            next_seq: 0,
            picture_id,
            twcc: 0,
            frame_num: 0,
            sps,
            pps,
            scratch: Vec::new(),
            chunks: Vec::new(),
            real,
            payloads: Vec::new(),
        }
    }

    /// The stream being generated.
    pub fn spec(&self) -> &StreamSpec {
        &self.spec
    }

    /// Frames generated so far.
    pub fn frames(&self) -> u64 {
        self.frame
    }

    /// Packets generated so far (the next packet's extended sequence number).
    pub fn packets(&self) -> u64 {
        self.next_seq
    }

    /// RTP timestamp of frame `n`.
    pub fn rtp_ts(&self, n: u64) -> u32 {
        let step = match &self.spec.encoded {
            Some(e) => e.frames.get(n as usize).map_or(0, |f| f.offset),
            None => (n as u32).wrapping_mul(self.spec.ts_step()),
        };
        self.spec.first_ts.wrapping_add(step)
    }

    /// True when every encoded frame has been sent (never for synthetic streams).
    pub fn finished(&self) -> bool {
        self.spec
            .encoded
            .as_ref()
            .is_some_and(|e| self.frame >= e.frames.len() as u64)
    }

    /// Generates the next frame, appending its packets to `out` (buffers are taken from `pool`).
    pub fn next_frame(&mut self, pool: &mut Vec<Vec<u8>>, out: &mut Vec<MediaPacket>) {
        let n = self.frame;
        self.frame += 1;
        self.rtp.ts = self.rtp_ts(n);
        if self.real.is_some() {
            self.encoded_frame(n, pool, out);
            return;
        }
        match self.spec.kind {
            MediaKind::Opus => {
                let avg = (self.spec.bitrate_bps / 8 / 50).max(8) as u64;
                let len = self.rng.range(avg * 3 / 4, avg * 5 / 4) as usize;
                self.scratch.clear();
                self.scratch.push(0x78); // TOC: config 15 (hybrid FB 20 ms), mono, one frame
                self.rng.extend(&mut self.scratch, len - 1);
                self.audio_packet(pool, out);
            }
            MediaKind::Pcmu | MediaKind::Pcma => {
                self.scratch.clear();
                self.rng.extend(&mut self.scratch, 160);
                self.audio_packet(pool, out);
            }
            MediaKind::Vp8 => self.vp8_frame(n, pool, out),
            MediaKind::H264 => self.h264_frame(n, pool, out),
            MediaKind::Vp9
            | MediaKind::Av1
            | MediaKind::G722
            | MediaKind::L16
            | MediaKind::H265 => {
                panic!(
                    "synthetic VP9, AV1, G.722, L16 and H.265 are not generated: set StreamSpec::encoded"
                )
            }
        }
    }

    /// Packetizes encoded frame `n` (nothing once the stream is finished).
    fn encoded_frame(&mut self, n: u64, pool: &mut Vec<Vec<u8>>, out: &mut Vec<MediaPacket>) {
        let Some(media) = self.spec.encoded.clone() else {
            return;
        };
        let Some(frame) = media.frames.get(n as usize) else {
            return;
        };
        let mut payloads = std::mem::take(&mut self.payloads);
        payloads.clear();
        self.real
            .as_mut()
            .expect("encoded_frame runs only with a real packetizer")
            .packetize(frame, &mut payloads);
        let count = payloads.len();
        for (i, pl) in payloads.iter().enumerate() {
            let mut p = self.begin_packet(pool, pl.marker, frame.keyframe);
            p.bytes.extend_from_slice(&pl.data);
            p.offset_ns = self.pace(i, count);
            out.push(p);
        }
        self.payloads = payloads;
    }

    // The project's MSRV (1.85) predates `is_multiple_of` (1.87).
    #[allow(clippy::manual_is_multiple_of)]
    fn is_keyframe(&self, n: u64) -> bool {
        n % u64::from(self.spec.keyframe_interval.max(1)) == 0
    }

    /// Frame size in bytes for frame `n`, keeping the GOP near the target bitrate.
    fn video_frame_len(&mut self, key: bool) -> usize {
        let gop = u64::from(self.spec.keyframe_interval.max(1));
        let gop_bytes =
            u64::from(self.spec.bitrate_bps) / 8 * gop / u64::from(self.spec.fps.max(1));
        let delta = (gop_bytes / (gop + 4)).max(64);
        let avg = if key { delta * 5 } else { delta };
        self.rng.range(avg * 3 / 4, avg * 5 / 4) as usize
    }

    fn begin_packet(&mut self, pool: &mut Vec<Vec<u8>>, marker: bool, key: bool) -> MediaPacket {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.rtp.seq = self.spec.first_seq.wrapping_add(seq as u16);
        self.rtp.marker = marker;
        self.rtp.clear_ext();
        if self.spec.header_extensions {
            if self.spec.kind.is_video() {
                self.twcc = self.twcc.wrapping_add(1);
                self.rtp
                    .push_ext(EXT_TRANSPORT_CC, &self.twcc.to_be_bytes());
            } else {
                let level = 30 + self.rng.below(40) as u8;
                self.rtp.push_ext(EXT_AUDIO_LEVEL, &[0x80 | level]);
            }
        }
        let mut bytes = pool.pop().unwrap_or_default();
        bytes.clear();
        self.rtp.write_header(&mut bytes);
        MediaPacket {
            ext_seq: seq,
            offset_ns: 0,
            keyframe: key,
            bytes,
        }
    }

    fn audio_packet(&mut self, pool: &mut Vec<Vec<u8>>, out: &mut Vec<MediaPacket>) {
        let mut p = self.begin_packet(pool, false, false);
        p.bytes.extend_from_slice(&self.scratch);
        out.push(p);
    }

    /// Splits `len` bytes into equal chunks of at most `max` (libwebrtc's balanced split).
    fn split(&mut self, len: usize, max: usize) {
        self.chunks.clear();
        let n = len.div_ceil(max.max(1)).max(1);
        let base = len / n;
        let extra = len % n;
        let mut off = 0;
        for i in 0..n {
            let l = base + usize::from(i < extra);
            self.chunks.push((off, l));
            off += l;
        }
    }

    /// Pacing: packets of one frame leave 100 µs apart (less for huge frames).
    fn pace(&self, i: usize, count: usize) -> i64 {
        let budget = self.spec.frame_duration_ns() / 2;
        let step = (budget / count.max(1) as i64).min(100_000);
        step * i as i64
    }

    fn vp8_frame(&mut self, n: u64, pool: &mut Vec<Vec<u8>>, out: &mut Vec<MediaPacket>) {
        let key = self.is_keyframe(n);
        let len = self.video_frame_len(key).max(16);
        // VP8 frame tag (RFC 6386 §9.1): 3 bytes, little-endian bit fields.
        let first_part = (len / 3) as u32 & 0x7_ffff;
        let tag = (first_part << 5) | (1 << 4) | u32::from(!key);
        self.scratch.clear();
        self.scratch.extend_from_slice(&tag.to_le_bytes()[..3]);
        if key {
            self.scratch.extend_from_slice(&[0x9d, 0x01, 0x2a]);
            self.scratch
                .extend_from_slice(&(self.spec.width & 0x3fff).to_le_bytes());
            self.scratch
                .extend_from_slice(&(self.spec.height & 0x3fff).to_le_bytes());
        }
        let body = len.saturating_sub(self.scratch.len());
        self.rng.extend(&mut self.scratch, body);
        let pid = self.picture_id;
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        let max = self.spec.max_payload.saturating_sub(4).max(1);
        self.split(self.scratch.len(), max);
        let count = self.chunks.len();
        for i in 0..count {
            let (off, l) = self.chunks[i];
            let mut p = self.begin_packet(pool, i + 1 == count, key);
            // RFC 7741 §4.2: X=1, S on the first packet, PID 0; I=1; 15-bit PictureID.
            p.bytes.push(if i == 0 { 0x90 } else { 0x80 });
            p.bytes.push(0x80);
            p.bytes.push(0x80 | (pid >> 8) as u8);
            p.bytes.push(pid as u8);
            p.bytes.extend_from_slice(&self.scratch[off..off + l]);
            p.offset_ns = self.pace(i, count);
            out.push(p);
        }
    }

    fn h264_frame(&mut self, n: u64, pool: &mut Vec<Vec<u8>>, out: &mut Vec<MediaPacket>) {
        let key = self.is_keyframe(n);
        if key {
            self.frame_num = 0;
        } else {
            self.frame_num = (self.frame_num + 1) & 0x0f;
        }
        let len = self.video_frame_len(key).max(16);
        // Slice header (H.264 §7.3.3) matching the SPS/PPS below, then random non-zero bytes.
        let mut bits = BitWriter::default();
        bits.ue(0); // first_mb_in_slice
        bits.ue(if key { 7 } else { 5 }); // slice_type I / P (all slices same type)
        bits.ue(0); // pic_parameter_set_id
        bits.bits(u32::from(self.frame_num), 4);
        if key {
            bits.ue(0); // idr_pic_id
            bits.bits(0, 2); // no_output_of_prior_pics, long_term_reference
        } else {
            bits.bits(0, 3); // num_ref_idx_override, ref_pic_list_modification, adaptive marking
        }
        bits.se(0); // slice_qp_delta
        bits.ue(1); // disable_deblocking_filter_idc
        let mut nal = Vec::with_capacity(len + 8);
        nal.push(if key { 0x65 } else { 0x41 });
        nal.extend_from_slice(&bits.finish_unaligned());
        let start = nal.len();
        self.rng.extend(&mut nal, len.saturating_sub(start));
        for b in &mut nal[start..] {
            if *b == 0 {
                *b = 0x5a; // no zero bytes, so no emulation prevention needed
            }
        }
        let max = self.spec.max_payload.max(16);
        let mut pending: Vec<MediaPacket> = Vec::new();
        let mut rest: &[u8] = &nal;
        if key {
            // STAP-A (RFC 6184 §5.7.1) with SPS, PPS and the IDR when it fits.
            let mut stap = Vec::with_capacity(max);
            stap.push(0x78); // F=0, NRI=3, type 24
            for p in [&self.sps, &self.pps] {
                stap.extend_from_slice(&(p.len() as u16).to_be_bytes());
                stap.extend_from_slice(p);
            }
            if stap.len() + 2 + nal.len() <= max {
                stap.extend_from_slice(&(nal.len() as u16).to_be_bytes());
                stap.extend_from_slice(&nal);
                rest = &[];
            }
            let mut p = self.begin_packet(pool, false, key);
            p.bytes.extend_from_slice(&stap);
            pending.push(p);
        }
        if rest.len() > max {
            // FU-A (RFC 6184 §5.8): indicator keeps F/NRI, header carries S/E and the type.
            let hdr = rest[0];
            let body = &rest[1..];
            self.split(body.len(), max - 2);
            let count = self.chunks.len();
            for i in 0..count {
                let (off, l) = self.chunks[i];
                let mut p = self.begin_packet(pool, false, key);
                p.bytes.push((hdr & 0xe0) | 28);
                let se = if i == 0 { 0x80 } else { 0 } | if i + 1 == count { 0x40 } else { 0 };
                p.bytes.push(se | (hdr & 0x1f));
                p.bytes.extend_from_slice(&body[off..off + l]);
                pending.push(p);
            }
        } else if !rest.is_empty() {
            let mut p = self.begin_packet(pool, false, key);
            p.bytes.extend_from_slice(rest);
            pending.push(p);
        }
        let count = pending.len();
        for (i, mut p) in pending.into_iter().enumerate() {
            if i + 1 == count {
                p.bytes[1] |= 0x80; // marker on the access unit's last packet
            }
            p.offset_ns = self.pace(i, count);
            out.push(p);
        }
    }
}

/// Writes H.264 bit strings (Exp-Golomb codes, §9.1).
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn bits(&mut self, v: u32, n: u32) {
        for i in (0..n).rev() {
            self.acc = (self.acc << 1) | u64::from((v >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }
    fn ue(&mut self, v: u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        self.bits(0, len - 1);
        self.bits(x, len);
    }
    fn se(&mut self, v: i32) {
        let k = if v > 0 {
            2 * v as u32 - 1
        } else {
            2 * v.unsigned_abs()
        };
        self.ue(k);
    }
    /// RBSP trailing bits: a one, then zeros to the byte boundary.
    fn finish_rbsp(mut self) -> Vec<u8> {
        self.bits(1, 1);
        while self.n != 0 {
            self.bits(0, 1);
        }
        self.out
    }
    /// Pads the last partial byte with ones (slice data continues after it).
    fn finish_unaligned(mut self) -> Vec<u8> {
        while self.n != 0 {
            self.bits(1, 1);
        }
        self.out
    }
}

/// Inserts emulation prevention bytes (H.264 §7.4.1): 00 00 0x (x <= 3) -> 00 00 03 0x.
fn escape_rbsp(header: u8, rbsp: &[u8]) -> Vec<u8> {
    let mut out = vec![header];
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// A Baseline-profile SPS and PPS (NAL units with headers) for `width` x `height`.
pub fn h264_parameter_sets(width: u16, height: u16) -> (Vec<u8>, Vec<u8>) {
    let (w, h) = (u32::from(width.max(16)), u32::from(height.max(16)));
    let (mbw, mbh) = (w.div_ceil(16), h.div_ceil(16));
    let mut s = BitWriter::default();
    s.bits(66, 8); // profile_idc: Baseline
    s.bits(0xc0, 8); // constraint_set0/1
    s.bits(31, 8); // level_idc 3.1
    s.ue(0); // seq_parameter_set_id
    s.ue(0); // log2_max_frame_num_minus4
    s.ue(2); // pic_order_cnt_type
    s.ue(1); // max_num_ref_frames
    s.bits(0, 1); // gaps_in_frame_num_value_allowed_flag
    s.ue(mbw - 1);
    s.ue(mbh - 1);
    s.bits(1, 1); // frame_mbs_only_flag
    s.bits(1, 1); // direct_8x8_inference_flag
    let (crop_r, crop_b) = ((mbw * 16 - w) / 2, (mbh * 16 - h) / 2);
    if crop_r > 0 || crop_b > 0 {
        s.bits(1, 1);
        s.ue(0);
        s.ue(crop_r);
        s.ue(0);
        s.ue(crop_b);
    } else {
        s.bits(0, 1);
    }
    s.bits(0, 1); // vui_parameters_present_flag
    let sps = escape_rbsp(0x67, &s.finish_rbsp());
    let mut p = BitWriter::default();
    p.ue(0); // pic_parameter_set_id
    p.ue(0); // seq_parameter_set_id
    p.bits(0, 2); // entropy_coding_mode_flag, bottom_field_pic_order_in_frame_present_flag
    p.ue(0); // num_slice_groups_minus1
    p.ue(0); // num_ref_idx_l0_default_active_minus1
    p.ue(0); // num_ref_idx_l1_default_active_minus1
    p.bits(0, 3); // weighted_pred_flag, weighted_bipred_idc
    p.se(0); // pic_init_qp_minus26
    p.se(0); // pic_init_qs_minus26
    p.se(0); // chroma_qp_index_offset
    p.bits(0b100, 3); // deblocking_filter_control_present, constrained_intra_pred, redundant_pic_cnt_present
    let pps = escape_rbsp(0x68, &p.finish_rbsp());
    (sps, pps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(kind: MediaKind, n: usize) -> Vec<Vec<MediaPacket>> {
        let mut p = Packetizer::new(StreamSpec::new(kind, 0x1234), 9);
        let mut pool = Vec::new();
        (0..n)
            .map(|_| {
                let mut out = Vec::new();
                p.next_frame(&mut pool, &mut out);
                out
            })
            .collect()
    }

    #[test]
    fn opus_packets_step_960_with_toc() {
        let f = frames(MediaKind::Opus, 3);
        for (i, fr) in f.iter().enumerate() {
            assert_eq!(fr.len(), 1);
            let r = rtp_rs::RtpReader::new(&fr[0].bytes).unwrap();
            assert_eq!(r.payload_type(), 111);
            assert_eq!(r.timestamp(), 960 * i as u32);
            assert_eq!(r.payload()[0], 0x78);
            assert_eq!(fr[0].ext_seq, i as u64);
        }
    }

    #[test]
    fn g711_is_160_bytes() {
        for kind in [MediaKind::Pcmu, MediaKind::Pcma] {
            let f = frames(kind, 2);
            let r = rtp_rs::RtpReader::new(&f[1][0].bytes).unwrap();
            assert_eq!(r.payload().len(), 160);
            assert_eq!(r.timestamp(), 160);
            assert_eq!(r.payload_type(), kind.default_pt());
        }
    }

    #[test]
    fn vp8_keyframe_has_start_code_and_markers() {
        let f = frames(MediaKind::Vp8, 2);
        let key = &f[0];
        assert!(
            key.len() > 1,
            "a key frame at 1 Mbit/s spans several packets"
        );
        for (i, p) in key.iter().enumerate() {
            let r = rtp_rs::RtpReader::new(&p.bytes).unwrap();
            assert_eq!(r.mark(), i + 1 == key.len());
            assert!(r.payload().len() <= 1100);
            assert_eq!(
                r.payload()[0] & 0x10 != 0,
                i == 0,
                "S bit only on the first packet"
            );
        }
        let first = rtp_rs::RtpReader::new(&key[0].bytes).unwrap();
        let pl = first.payload();
        assert_eq!(pl[4] & 1, 0, "P bit clear on key frames");
        assert_eq!(&pl[7..10], &[0x9d, 0x01, 0x2a]);
        assert_eq!(u16::from_le_bytes([pl[10], pl[11]]), 640);
        assert_eq!(u16::from_le_bytes([pl[12], pl[13]]), 360);
        let delta = rtp_rs::RtpReader::new(&f[1][0].bytes).unwrap();
        assert_eq!(delta.payload()[4] & 1, 1);
        assert_eq!(delta.timestamp(), 3000);
        let pid = |p: &[u8]| u16::from_be_bytes([p[2] & 0x7f, p[3]]);
        assert_eq!(pid(delta.payload()), (pid(pl) + 1) & 0x7fff);
    }

    #[test]
    fn h264_keyframe_is_stap_a_then_fu_a() {
        let f = frames(MediaKind::H264, 2);
        let key = &f[0];
        let first = rtp_rs::RtpReader::new(&key[0].bytes).unwrap();
        assert_eq!(first.payload()[0] & 0x1f, 24);
        assert_eq!(first.payload()[3], 0x67);
        let fu: Vec<_> = key[1..]
            .iter()
            .map(|p| rtp_rs::RtpReader::new(&p.bytes).unwrap())
            .collect();
        assert!(fu.iter().all(|r| r.payload()[0] & 0x1f == 28));
        assert_eq!(fu[0].payload()[1], 0x80 | 5);
        assert_eq!(fu.last().unwrap().payload()[1], 0x40 | 5);
        assert!(fu.last().unwrap().mark());
        // Reassembled IDR starts with its NAL header and is free of zero bytes.
        let delta = &f[1];
        let last = rtp_rs::RtpReader::new(&delta.last().unwrap().bytes).unwrap();
        assert!(last.mark());
    }

    #[test]
    fn sps_for_640x360_is_cropped() {
        let (sps, pps) = h264_parameter_sets(640, 360);
        assert_eq!(&sps[..4], &[0x67, 66, 0xc0, 31]);
        assert_eq!(pps[0], 0x68);
        assert!(!sps.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 3));
    }

    #[test]
    fn bit_writer_exp_golomb() {
        let mut b = BitWriter::default();
        b.ue(0);
        b.ue(1);
        b.ue(2);
        b.ue(3);
        assert_eq!(b.finish_rbsp(), vec![0b1010_0110, 0b0100_1000]);
    }
}
