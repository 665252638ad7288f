//! Guessing a stream's codec from its packets.
//!
//! Static payload types (RFC 3551 §6) are named by their number alone. For
//! dynamic ones, [`CodecGuesser`] checks every packet's payload against each
//! candidate format (Opus TOC, VP8/VP9/AV1 descriptors, H.264/H.265 NAL
//! headers, RFC 4733 events, RFC 2250 MPEG audio), reading each header with
//! the parser the depacketizer uses so that the two cannot disagree on what it
//! says, and asking on top for plausible values (defined versions, profiles and
//! types). It also looks at the timing (packets sharing a timestamp, markers
//! ending frames, timestamp steps). A
//! codec is claimed only when nearly all packets fit it *and* a strong marker
//! was seen (a keyframe start code, parameter sets, a sequence header, a
//! stable Opus configuration whose durations match the timestamp steps).
//! Anything else is `codec: None`: encrypted (SRTP) payloads and codecs we
//! cannot write (e.g. H.266, whose first byte looks like a harmless VP8
//! descriptor) must not come out as a false positive.
//!
//! Memory is a handful of counters per guesser; payloads are examined for the
//! first [`MAX_EXAMINED`] packets only.

use super::h26x::{FuHeader, aggregation_units};
use super::vp8::PictureId;
use super::{Codec, av1, h264, h265, opus, static_payload_type, vp8, vp9};
use serde::Serialize;
use std::collections::BTreeMap;

/// The outcome of guessing a stream's codec.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CodecGuess {
    /// The codec, when the evidence is strong enough.
    pub codec: Option<Codec>,
    /// RTP clock rate, when known.
    pub clock_rate: Option<u32>,
    /// Human-readable reasons for the guess.
    pub evidence: String,
    /// The packets are RED (RFC 2198) blocks: what they carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub red: Option<RedGuess>,
}

/// What a payload type's RED (RFC 2198) packets carry, as Chrome sends Opus
/// (and video with ULPFEC) when RED is negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RedGuess {
    /// The RED payload type (the packets' own).
    pub red_payload_type: u8,
    /// Payload type of the media blocks.
    pub media_payload_type: u8,
    /// Payload type of blocks that are ULPFEC (RFC 5109) repair data, if any.
    pub ulpfec_payload_type: Option<u8>,
}

/// Evidence that a payload type's packets are RED blocks.
#[derive(Clone, Debug, Default)]
struct RedSniff {
    /// Packets that split exactly into blocks of other dynamic payload types.
    parsed: u32,
    /// Per primary block payload type: a guesser of the block data, and how many
    /// of those blocks parse as ULPFEC.
    blocks: BTreeMap<u8, (CodecGuesser, u32)>,
}

/// Payloads of this many packets are examined; later packets only count.
pub const MAX_EXAMINED: u32 = 500;

/// Fewest examined packets before any dynamic guess is made.
const MIN_PACKETS: u32 = 3;

/// Share of examined packets that must fit a format for it to be claimed.
const MIN_CONSISTENT: f64 = 0.9;

/// Dynamic-PT candidates, in the order of the counter arrays.
const CANDIDATES: [Codec; 8] = [
    Codec::Opus,
    Codec::Vp8,
    Codec::Vp9,
    Codec::H264,
    Codec::H265,
    Codec::Av1,
    Codec::TelephoneEvent,
    Codec::Mpa,
];

/// Accumulates per-packet evidence for one payload type of one stream.
#[derive(Clone, Debug, Default)]
pub struct CodecGuesser {
    payload_type: u8,
    /// Look inside RED blocks too (not for the guessers of the blocks themselves).
    sniff_red: bool,
    red: Option<Box<RedSniff>>,
    packets: u64,
    padding_only: u64,
    examined: u32,
    markers: u32,
    last_ts: Option<u32>,
    last_marker: bool,
    /// Packets whose timestamp equals the previous packet's.
    same_ts: u32,
    /// Timestamp changes that went forward (as a signed 32-bit difference).
    forward_steps: u32,
    /// Timestamp changes right after a marked packet (video: marker ends a frame).
    marker_before_change: u32,
    /// Forward steps that are multiples of 120 (2.5 ms at 48 kHz, Opus' smallest frame).
    steps_mult_120: u32,
    /// Up to 8 distinct forward step sizes and their counts.
    step_hist: [(u32, u32); 8],
    /// Per candidate: packets whose payload fits the format.
    consistent: [u32; CANDIDATES.len()],
    /// Per candidate: strong markers (keyframes, parameter sets, ...).
    strong: [u32; CANDIDATES.len()],
    opus: OpusStats,
    video: VideoStats,
    dtmf: DtmfStats,
    clock: ClockStats,
}

/// The RTP clock measured against capture time: from the first examined packet to
/// the one furthest ahead in RTP time (reordering cannot inflate it).
#[derive(Clone, Copy, Debug, Default)]
struct ClockStats {
    /// RTP timestamp and capture time (ns) of the first examined packet.
    first: Option<(u32, i64)>,
    /// Furthest RTP offset from `first` and the capture time it was seen at.
    ahead: Option<(u32, i64)>,
}

impl ClockStats {
    fn observe(&mut self, timestamp: u32, time_ns: i64) {
        let Some((ts0, _)) = self.first else {
            self.first = Some((timestamp, time_ns));
            return;
        };
        // A forward offset within half the timestamp space (RFC 3550 §5.1: it wraps).
        let off = timestamp.wrapping_sub(ts0);
        if off < 1 << 31 && self.ahead.is_none_or(|(max, _)| off > max) {
            self.ahead = Some((off, time_ns));
        }
    }

    /// RTP ticks per second of capture time, once 200 ms have passed.
    fn rate(&self) -> Option<f64> {
        let ((_, t0), (off, t)) = (self.first?, self.ahead?);
        let secs = t.checked_sub(t0)? as f64 / 1e9;
        (secs >= 0.2).then(|| f64::from(off) / secs)
    }

    /// Whether the measured clock is near `hz` (within 25 %), or unknown.
    fn near(&self, hz: f64) -> bool {
        self.rate().is_none_or(|r| (r / hz - 1.0).abs() <= 0.25)
    }
}

/// Evidence for Opus: packet structure (RFC 6716 §3) and durations against the
/// timestamp steps. TOC configurations are counted for the evidence text only: real
/// encoders switch mode (SILK, hybrid, CELT) and bandwidth from packet to packet.
#[derive(Clone, Debug, Default)]
struct OpusStats {
    /// Packets per TOC configuration (RFC 6716 §3.1).
    configs: [u32; 32],
    /// Duration of the previous packet in 48 kHz ticks, when its framing was valid.
    prev_ticks: Option<u32>,
    /// Forward steps equal to the previous packet's duration (RFC 7587 §4.1: the
    /// timestamp counts 48 kHz samples, so consecutive packets are one duration apart).
    steps_exact: u32,
    /// Forward steps that are a multiple of the previous packet's duration (exact
    /// ones included): DTX (RFC 7587 §3.3) and losses skip whole packets.
    steps_match: u32,
    /// Forward steps checked against a duration.
    steps_checked: u32,
    /// Packets per duration in 48 kHz ticks (frame size × count): the most common one
    /// is the sender's packet time, which encoders keep while switching modes.
    durations: [(u32, u32); 4],
}

impl OpusStats {
    /// Share of valid packets that have the most common duration.
    fn stable_duration(&self, examined: u32) -> (u32, f64) {
        let (ticks, n) = self
            .durations
            .iter()
            .max_by_key(|(_, n)| *n)
            .copied()
            .unwrap_or((0, 0));
        (ticks, f64::from(n) / f64::from(examined.max(1)))
    }

    /// Distinct TOC configurations seen, and the most common one with its count.
    fn config_summary(&self) -> (usize, usize, u32) {
        let distinct = self.configs.iter().filter(|c| **c > 0).count();
        let (modal, count) = self
            .configs
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| **c)
            .map_or((0, 0), |(i, c)| (i, *c));
        (distinct, modal, count)
    }
}

/// Frame structure seen through a VP8/VP9 descriptor: frames start where the timestamp changes,
/// and the picture id stays within a frame and counts up across frames.
#[derive(Clone, Debug, Default)]
struct FrameStructure {
    /// Timestamp changes seen by packets whose descriptor parsed.
    changes: u32,
    /// ... whose packet was a frame start (VP8 S=1 PID=0, VP9 B=1).
    starts_at_change: u32,
    /// Last picture id.
    last_pid: Option<PictureId>,
    /// Picture id checks, and those that held (same within a frame, +1..=3 across frames).
    pid_checks: u32,
    pid_ok: u32,
}

impl FrameStructure {
    fn observe(&mut self, changed: Option<bool>, is_start: bool, pid: Option<PictureId>) {
        if changed == Some(true) {
            self.changes += 1;
            self.starts_at_change += u32::from(is_start);
        }
        if let (Some(changed), Some(last), Some(now)) = (changed, self.last_pid, pid)
            && last.long == now.long
        {
            let diff = now.id.wrapping_sub(last.id) % now.modulus();
            self.pid_checks += 1;
            self.pid_ok += u32::from(if changed {
                (1..=3).contains(&diff)
            } else {
                diff == 0
            });
        }
        self.last_pid = pid;
    }

    /// Frames start at timestamp changes and picture ids count up, over at least 5 frames.
    fn holds(&self) -> bool {
        self.changes >= 5
            && f64::from(self.starts_at_change) >= 0.9 * f64::from(self.changes)
            && (self.pid_checks == 0 || f64::from(self.pid_ok) >= 0.9 * f64::from(self.pid_checks))
    }

    fn describe(&self) -> String {
        format!(
            "frame starts at {} of {} timestamp changes, picture id continuous in {} of {} packets",
            self.starts_at_change, self.changes, self.pid_ok, self.pid_checks
        )
    }
}

#[derive(Clone, Debug, Default)]
struct VideoStats {
    vp8_keyframes: u32,
    vp8_frames: FrameStructure,
    vp9_keyframes: u32,
    vp9_frames: FrameStructure,
    h264_sps: u32,
    h264_pps: u32,
    h264_idr: u32,
    /// Slices (types 1 and 5), whole or as the start of an FU-A.
    h264_slices: u32,
    h265_vps: u32,
    h265_sps: u32,
    h265_pps: u32,
    av1_seq: u32,
}

#[derive(Clone, Debug, Default)]
struct DtmfStats {
    end_bits: u32,
    /// First positive duration increase between packets of one event.
    duration_step: Option<u16>,
    last_duration: Option<(u32, u16)>,
}

impl CodecGuesser {
    /// A guesser for packets of this payload type.
    pub fn new(payload_type: u8) -> Self {
        CodecGuesser {
            payload_type,
            sniff_red: true,
            ..Default::default()
        }
    }

    /// Packets with a payload pushed so far (padding-only ones are not counted).
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Padding-only packets pushed so far (not looked at).
    pub fn padding_only(&self) -> u64 {
        self.padding_only
    }

    /// Looks at one packet of the stream captured at `time_ns` (any epoch): as
    /// [`CodecGuesser::push`], and the RTP clock is measured against capture time.
    pub fn push_at(&mut self, marker: bool, timestamp: u32, payload: &[u8], time_ns: i64) {
        if !payload.is_empty() && self.examined < MAX_EXAMINED {
            self.clock.observe(timestamp, time_ns);
        }
        self.push(marker, timestamp, payload);
    }

    /// Looks at one packet of the stream. An empty payload (the packet carried only
    /// padding, RFC 3550 §5.1: bandwidth probes) says nothing about the codec and
    /// would spoil the timing (probes repeat the last media timestamp): it is only counted.
    pub fn push(&mut self, marker: bool, timestamp: u32, payload: &[u8]) {
        if payload.is_empty() {
            self.padding_only += 1;
            return;
        }
        self.packets += 1;
        if self.examined >= MAX_EXAMINED || static_payload_type(self.payload_type).is_some() {
            return;
        }
        self.examined += 1;
        self.markers += u32::from(marker);
        let step = self.last_ts.map(|last| timestamp.wrapping_sub(last) as i32);
        match step {
            Some(0) => self.same_ts += 1,
            Some(d) => {
                self.marker_before_change += u32::from(self.last_marker);
                if d > 0 {
                    let d = d as u32;
                    self.forward_steps += 1;
                    self.steps_mult_120 += u32::from(d.is_multiple_of(120));
                    self.count_step(d);
                }
            }
            None => {}
        }
        let forward = step.filter(|&d| d > 0).map(|d| d as u32);
        let changed = step.map(|d| d != 0);

        let checks = [
            self.check_opus(payload, forward),
            check_vp8(payload, changed, &mut self.video),
            check_vp9(payload, marker, changed, &mut self.video),
            check_h264(payload, &mut self.video),
            check_h265(payload, &mut self.video),
            check_av1(payload, &mut self.video),
            check_dtmf(payload, timestamp, &mut self.dtmf),
            check_mpa(payload),
        ];
        for (i, (ok, strong)) in checks.into_iter().enumerate() {
            self.consistent[i] += u32::from(ok);
            self.strong[i] += u32::from(ok && strong);
        }
        if self.sniff_red {
            self.sniff_red_blocks(marker, timestamp, payload);
        }
        self.last_ts = Some(timestamp);
        self.last_marker = marker;
    }

    /// RFC 2198: a packet that splits exactly into blocks of other dynamic payload
    /// types may be RED; its primary (last) block is what the sender is sending now.
    fn sniff_red_blocks(&mut self, marker: bool, timestamp: u32, payload: &[u8]) {
        let Ok(blocks) = crate::track::red::split(payload) else {
            return;
        };
        let pt = self.payload_type;
        let Some(primary) = blocks.last() else { return };
        if !blocks
            .iter()
            .all(|b| (96..=127).contains(&b.pt) && b.pt != pt)
        {
            return;
        }
        let s = self.red.get_or_insert_with(Box::default);
        s.parsed += 1;
        let (g, fec) = s
            .blocks
            .entry(primary.pt)
            .or_insert_with(|| (CodecGuesser::new_inner(primary.pt), 0));
        g.push(marker, timestamp, primary.data);
        *fec += u32::from(crate::track::fec::parse_ulpfec(primary.data).is_ok());
    }

    /// A guesser of RED block data (which is not itself looked into for RED).
    fn new_inner(payload_type: u8) -> Self {
        CodecGuesser {
            payload_type,
            ..Default::default()
        }
    }

    /// Whether the claim for `codec` rests on a strong marker of the format itself:
    /// a keyframe or parameter sets for video; for Opus, which has none, timing that
    /// fits 48 kHz audio (RFC 7587 §4.1-4.2). Other formats keep their own rules.
    fn strongly(&self, codec: Codec) -> bool {
        let i = CANDIDATES.iter().position(|c| *c == codec);
        match codec {
            Codec::Opus => self.timing_fits(Codec::Opus),
            Codec::Vp8 | Codec::Vp9 | Codec::H264 | Codec::H265 | Codec::Av1 => {
                i.is_some_and(|i| self.strong[i] > 0)
            }
            _ => true,
        }
    }

    /// When the packets are RED blocks of a recognised codec: the guess for that
    /// codec, and whether that codec's claim is strong ([`CodecGuesser::strongly`]).
    fn red_guess(&self, n: u32) -> Option<CodecGuess> {
        self.red_guess_strength(n).map(|(g, _)| g)
    }

    fn red_guess_strength(&self, n: u32) -> Option<(CodecGuess, bool)> {
        let s = self.red.as_deref()?;
        if f64::from(s.parsed) < MIN_CONSISTENT * f64::from(n) {
            return None;
        }
        // The media: the recognised block payload type with the most packets.
        let (media_pt, inner, _, strong) = s
            .blocks
            .iter()
            .filter_map(|(pt, (g, _))| {
                let guess = g.guess();
                let strong = guess.codec.is_some_and(|c| g.strongly(c));
                guess.codec.map(|_| (*pt, guess, g.packets(), strong))
            })
            .max_by_key(|(pt, _, packets, _)| (*packets, std::cmp::Reverse(*pt)))?;
        // Blocks of another payload type that (nearly) all parse as ULPFEC are its repair data.
        let ulpfec = s
            .blocks
            .iter()
            .find(|(pt, (g, fec))| **pt != media_pt && u64::from(*fec) * 10 >= g.packets() * 9)
            .map(|(pt, _)| *pt);
        let pt = self.payload_type;
        let fec_note = ulpfec.map_or(String::new(), |f| {
            format!("; blocks of PT {f} are ULPFEC (RFC 5109)")
        });
        let guess = CodecGuess {
            codec: inner.codec,
            clock_rate: inner.clock_rate,
            evidence: format!(
                "PT {pt}: RED (RFC 2198) in {} of {n} packets, primary blocks {}{fec_note}",
                s.parsed, inner.evidence
            ),
            red: Some(RedGuess {
                red_payload_type: pt,
                media_payload_type: media_pt,
                ulpfec_payload_type: ulpfec,
            }),
        };
        Some((guess, strong))
    }

    fn count_step(&mut self, d: u32) {
        if let Some(slot) = self.step_hist.iter_mut().find(|(s, n)| *s == d || *n == 0) {
            slot.0 = d;
            slot.1 += 1;
        }
    }

    /// The most common forward timestamp step among the first eight distinct ones.
    fn modal_step(&self) -> Option<u32> {
        self.step_hist
            .iter()
            .filter(|(_, n)| *n > 0)
            .max_by_key(|(_, n)| *n)
            .map(|(s, _)| *s)
    }

    fn check_opus(&mut self, payload: &[u8], forward: Option<u32>) -> (bool, bool) {
        let framing = opus::validate(payload).ok();
        let o = &mut self.opus;
        if let (Some(d), Some(prev)) = (forward, o.prev_ticks) {
            o.steps_checked += 1;
            o.steps_exact += u32::from(d == prev);
            o.steps_match += u32::from(d % prev == 0);
        }
        o.prev_ticks = framing.map(|f| f.samples);
        if let Some(f) = framing {
            o.configs[usize::from(f.config)] += 1;
            if let Some(slot) = o
                .durations
                .iter_mut()
                .find(|(t, n)| *t == f.samples || *n == 0)
            {
                slot.0 = f.samples;
                slot.1 += 1;
            }
        }
        (framing.is_some(), false)
    }

    /// The guess from everything pushed so far.
    pub fn guess(&self) -> CodecGuess {
        let pt = self.payload_type;
        if let Some(s) = static_payload_type(pt) {
            return CodecGuess {
                codec: Some(s.codec),
                clock_rate: Some(s.clock_rate),
                evidence: format!("static payload type {pt} (RFC 3551)"),
                red: None,
            };
        }
        let n = self.examined;
        let timing = self.timing_evidence();
        if n == 0 && self.padding_only > 0 {
            return CodecGuess {
                codec: None,
                clock_rate: None,
                evidence: format!(
                    "PT {pt}: all {} packets are padding only (RFC 3550 §5.1; bandwidth probes), no media",
                    self.padding_only
                ),
                red: None,
            };
        }
        if n < MIN_PACKETS {
            return CodecGuess {
                codec: None,
                clock_rate: None,
                evidence: format!("PT {pt}: only {n} packets, too few to guess; {timing}"),
                red: None,
            };
        }
        let mut passing: Vec<(Codec, f64, String)> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        for (i, &codec) in CANDIDATES.iter().enumerate() {
            let share = f64::from(self.consistent[i]) / f64::from(n);
            let (ok, why) = self.verdict(codec, share);
            if ok {
                passing.push((codec, share, why));
            } else if share >= MIN_CONSISTENT {
                notes.push(format!("{codec:?}: {why}"));
            }
        }
        passing.sort_by(|a, b| b.1.total_cmp(&a.1));
        let tie_note = self.break_tie(&mut passing);
        // The payloads also split exactly into RED blocks (RFC 2198 §3) whose media is
        // claimed on a strong marker (a keyframe) that no direct reading has: Firefox's
        // VP8 in RED (header byte 0x78, primary PT 120) would otherwise read as VP9
        // (RFC 9628 §4.2) frame structure without a keyframe.
        if !passing.is_empty()
            && passing.iter().all(|(c, _, _)| !self.strongly(*c))
            && let Some((red, true)) = self.red_guess_strength(n)
        {
            return red;
        }
        match passing.as_slice() {
            [] => {
                // Nothing fits the payloads themselves: they may be RED blocks of what does.
                if let Some(red) = self.red_guess(n) {
                    return red;
                }
                let mut evidence = format!(
                    "PT {pt}: no known payload format is confirmed by {n} packets; {timing}"
                );
                if self.is_audio_timing_48k() {
                    evidence.push_str(
                        "; timing alone looks like 48 kHz audio (Opus?) but payloads do not parse (encrypted?)",
                    );
                }
                for note in notes {
                    evidence.push_str("; ");
                    evidence.push_str(&note);
                }
                CodecGuess {
                    codec: None,
                    clock_rate: None,
                    evidence,
                    red: None,
                }
            }
            [(a, sa, wa), (b, sb, _), ..] if sa - sb < 0.02 => CodecGuess {
                codec: None,
                clock_rate: None,
                evidence: format!(
                    "PT {pt}: ambiguous between {a:?} ({:.0}%) and {b:?} ({:.0}%): {wa}; {timing}",
                    sa * 100.0,
                    sb * 100.0
                ),
                red: None,
            },
            [(codec, share, why), ..] => CodecGuess {
                codec: Some(*codec),
                clock_rate: self.clock_rate(*codec),
                evidence: format!(
                    "PT {pt}: {:.0}% of {n} packets fit {codec:?}; {why}; {timing}{tie_note}",
                    share * 100.0
                ),
                red: None,
            },
        }
    }

    /// When the two best candidates fit about as many packets (random-looking payloads
    /// can parse as several formats: an Opus TOC byte often reads as a VP9 descriptor),
    /// timing decides: only the candidates whose timing fits stay. Returns a note for the
    /// evidence when that removed any.
    fn break_tie(&self, passing: &mut Vec<(Codec, f64, String)>) -> String {
        let [(_, sa, _), (_, sb, _), ..] = passing.as_slice() else {
            return String::new();
        };
        let close = sa - 0.02;
        if *sb <= close {
            return String::new();
        }
        let fits: Vec<bool> = passing
            .iter()
            .map(|(c, share, _)| *share > close && self.timing_fits(*c))
            .collect();
        if fits.iter().filter(|f| **f).count() != 1 {
            return String::new();
        }
        let dropped: Vec<String> = passing
            .iter()
            .zip(&fits)
            .filter(|((_, share, _), fit)| *share > close && !**fit)
            .map(|((c, share, _), _)| format!("{c:?} ({:.0}%)", share * 100.0))
            .collect();
        let mut fit = fits.iter();
        passing.retain(|_| fit.next().copied().unwrap_or(false));
        format!(
            "; also parse as {}, whose timing does not fit",
            dropped.join(", ")
        )
    }

    /// Whether the stream's timing is what `codec` sends: audio packets one
    /// duration apart on a 48 kHz clock with no frame split over packets (RFC 7587
    /// §4.1-4.2: the marker only starts a talkspurt), or video frames split over
    /// packets sharing a timestamp with the marker on each frame's last packet (RFC
    /// 3550 §5.1, RFC 7741 §4.1, RFC 6184 §5.1). Other codecs have no timing rule here.
    fn timing_fits(&self, codec: Codec) -> bool {
        match codec {
            Codec::Opus => {
                self.is_audio_timing_48k() && !self.looks_like_video() && self.clock.near(48e3)
            }
            Codec::Vp8 | Codec::Vp9 | Codec::H264 | Codec::H265 | Codec::Av1 => {
                (self.looks_like_video() || self.markers_end_frames()) && self.clock.near(90e3)
            }
            _ => true,
        }
    }

    /// Markers on (nearly) every packet before a timestamp change: frames end there.
    fn markers_end_frames(&self) -> bool {
        let changes = self.ts_changes();
        changes >= 2 && f64::from(self.marker_before_change) >= 0.9 * f64::from(changes)
    }

    /// Timestamp changes seen (steps that were not zero).
    fn ts_changes(&self) -> u32 {
        self.examined.saturating_sub(1).saturating_sub(self.same_ts)
    }

    /// Whether `codec` may be claimed, and the strong evidence (or what is missing).
    fn verdict(&self, codec: Codec, share: f64) -> (bool, String) {
        let v = &self.video;
        let consistent = share >= MIN_CONSISTENT;
        match codec {
            Codec::Opus => {
                // RFC 6716 §3: the structure of (nearly) every packet, and durations that
                // match the timestamp steps at 48 kHz (RFC 7587 §4.1). Which configurations
                // the packets use does not matter.
                let o = &self.opus;
                let n = self.examined;
                let (distinct, modal, count) = o.config_summary();
                let (ticks, stable) = o.stable_duration(n);
                let steps = o.steps_checked;
                let multiples = steps > 0 && f64::from(o.steps_match) >= 0.8 * f64::from(steps);
                // Steps of exactly one packet (talk) or, in a DTX-heavy stream, one packet
                // time kept throughout: random TOC bytes give neither.
                let exact = f64::from(o.steps_exact) >= 0.5 * f64::from(steps);
                let audio = f64::from(self.same_ts) < 0.1 * f64::from(n);
                let why = format!(
                    "packet structure valid (RFC 6716 §3.4), {distinct} TOC configurations (config {modal} in {:.0}%), packet time {} ms in {:.0}% of packets, {} of {steps} timestamp steps equal the previous packet's duration and {} are multiples of it, {} share a timestamp",
                    f64::from(count) * 100.0 / f64::from(n.max(1)),
                    f64::from(ticks) / 48.0,
                    stable * 100.0,
                    o.steps_exact,
                    o.steps_match,
                    self.same_ts
                );
                (
                    consistent && multiples && (exact || stable >= 0.8) && audio,
                    why,
                )
            }
            Codec::Vp8 => (
                consistent && (v.vp8_keyframes > 0 || v.vp8_frames.holds()),
                format!(
                    "{} keyframe start codes (9d 01 2a), {}",
                    v.vp8_keyframes,
                    v.vp8_frames.describe()
                ),
            ),
            Codec::Vp9 => (
                consistent && (v.vp9_keyframes > 0 || v.vp9_frames.holds()),
                format!(
                    "{} keyframes with sync code 49 83 42, {}",
                    v.vp9_keyframes,
                    v.vp9_frames.describe()
                ),
            ),
            // A PPS alone is not enough: Opus TOC 0x48 (SILK WB 20 ms) reads as an H.264 PPS header.
            Codec::H264 => (
                consistent && v.h264_sps > 0 && v.h264_pps > 0 && v.h264_slices > 0,
                format!(
                    "SPS {} / PPS {} / IDR {} / slice {} NAL units",
                    v.h264_sps, v.h264_pps, v.h264_idr, v.h264_slices
                ),
            ),
            Codec::H265 => (
                consistent && v.h265_vps + v.h265_sps + v.h265_pps > 0,
                format!(
                    "VPS {} / SPS {} / PPS {} NAL units",
                    v.h265_vps, v.h265_sps, v.h265_pps
                ),
            ),
            Codec::Av1 => (
                consistent && v.av1_seq > 0,
                format!("{} sequence header OBUs", v.av1_seq),
            ),
            Codec::TelephoneEvent => {
                let why = format!(
                    "4-byte events, {} end bits, {} repeated timestamps",
                    self.dtmf.end_bits, self.same_ts
                );
                (
                    share >= 0.95 && (self.dtmf.end_bits > 0 || self.same_ts > 0),
                    why,
                )
            }
            Codec::Mpa => {
                let i = CANDIDATES
                    .iter()
                    .position(|c| *c == Codec::Mpa)
                    .unwrap_or(0);
                (
                    consistent && self.strong[i] > 0,
                    format!(
                        "{} MPEG audio frame syncs after the RFC 2250 header",
                        self.strong[i]
                    ),
                )
            }
            _ => (false, String::new()),
        }
    }

    fn clock_rate(&self, codec: Codec) -> Option<u32> {
        match codec {
            // RFC 4733 events use the audio clock; infer it from the duration step (20 ms, 10 ms or 50 ms).
            // Steps below 480 are taken as 8 kHz (SIP's usual) although 16 kHz would fit some too.
            Codec::TelephoneEvent => match self.dtmf.duration_step? {
                s if s % 480 == 0 => Some(48000),
                s if s % 40 == 0 && s <= 400 => Some(8000),
                _ => None,
            },
            _ => codec.default_clock_rate(None),
        }
    }

    fn is_audio_timing_48k(&self) -> bool {
        self.forward_steps >= 2
            && f64::from(self.steps_mult_120) >= 0.9 * f64::from(self.forward_steps)
            && f64::from(self.same_ts) < 0.1 * f64::from(self.examined)
    }

    /// Timing says video (or events): frames split over packets sharing a timestamp, many markers.
    pub fn looks_like_video(&self) -> bool {
        let n = self.examined.max(1);
        // Audio marks only talkspurt starts; video marks the last packet of each frame and
        // splits frames over packets sharing a timestamp (as do RFC 4733 event updates).
        f64::from(self.same_ts) >= 0.1 * f64::from(n) || self.markers * 2 >= n
    }

    fn timing_evidence(&self) -> String {
        let n = self.examined.max(1);
        let kind = if self.looks_like_video() {
            "video-like (or events)"
        } else {
            "audio-like"
        };
        let step = self
            .modal_step()
            .map_or_else(|| "none".to_string(), |s| s.to_string());
        let clock = self.clock.rate().map_or(String::new(), |r| {
            format!(", RTP clock {r:.0} Hz against capture time")
        });
        format!(
            "timing {kind}: {} of {n} packets repeat the previous timestamp, {} markers, most common step {step}{clock}",
            self.same_ts, self.markers
        )
    }
}

/// Duration of an Opus packet in 48 kHz ticks when its framing is valid
/// (RFC 6716 §3.4, R1-R7).
#[cfg(test)]
fn opus_packet_ticks(p: &[u8]) -> Option<u32> {
    opus::validate(p).ok().map(|f| f.samples)
}

/// VP8 payload descriptor (RFC 7741 §4.2) and, at a frame start, the payload
/// header (§4.3, RFC 6386 §9.1) with a defined version.
fn check_vp8(p: &[u8], changed: Option<bool>, v: &mut VideoStats) -> (bool, bool) {
    let Ok(d) = vp8::Vp8Descriptor::parse(p) else {
        return (false, false);
    };
    let start = d.starts_frame();
    v.vp8_frames.observe(changed, start, d.picture_id);
    if !start {
        return (true, false);
    }
    match vp8::parse_payload_header(p.get(d.len..).unwrap_or_default()) {
        // VER above 3 is not defined (RFC 6386 §9.1).
        Ok(h) if h.version <= 3 => {
            v.vp8_keyframes += u32::from(h.keyframe);
            (true, h.keyframe)
        }
        _ => (false, false),
    }
}

/// VP9 payload descriptor (RFC 9628 §4.2) and, at a layer frame start, the
/// uncompressed header (VP9 spec §6.2): a key frame has the sync code 49 83 42.
/// A marked packet ends the picture, so its layer frame too: E "MUST be set to one
/// for the final packet of a layer frame" (RFC 9628 §4.2, the marker §4.1). A RED
/// header byte (RFC 2198 §3, e.g. 0x78: primary PT 120) reads as a descriptor
/// with B set and E clear on every packet: this is what tells the two apart.
fn check_vp9(p: &[u8], marker: bool, changed: Option<bool>, v: &mut VideoStats) -> (bool, bool) {
    let Ok(d) = vp9::Vp9Descriptor::parse(p) else {
        return (false, false);
    };
    if marker && !d.end {
        return (false, false);
    }
    v.vp9_frames.observe(changed, d.begin, d.picture_id);
    if !d.begin {
        return (true, false);
    }
    let key = match vp9::parse_frame_header(p.get(d.len..).unwrap_or_default()) {
        vp9::FrameHeader::Unreadable => return (false, false),
        vp9::FrameHeader::NotKey => false,
        vp9::FrameHeader::Key(_) => !d.inter_picture,
    };
    v.vp9_keyframes += u32::from(key);
    (true, key)
}

/// H.264 NAL unit header, STAP-A and FU-A (RFC 6184 §5.3, §5.7.1, §5.8).
fn check_h264(p: &[u8], v: &mut VideoStats) -> (bool, bool) {
    /// A NAL unit (types 1..=23, F=0), counted by type.
    fn nal(n: &[u8], v: &mut VideoStats) -> bool {
        let Some(&b) = n.first() else { return false };
        let h = h264::NalHeader::from_byte(b);
        if h.forbidden || !h.is_nal_unit() {
            return false;
        }
        match h.nal_type {
            h264::NAL_SLICE => v.h264_slices += 1,
            h264::NAL_IDR => {
                v.h264_idr += 1;
                v.h264_slices += 1;
            }
            // SPS: profile_idc from the H.264 Annex A list, level_idc plausible, nal_ref_idc non-zero.
            h264::NAL_SPS
                if h.nri != 0
                    && n.get(1).is_some_and(|&p| h264::is_known_profile(p))
                    && n.get(3).is_some_and(|l| (9..=62).contains(l)) =>
            {
                v.h264_sps += 1
            }
            h264::NAL_PPS if h.nri != 0 && n.len() >= 2 => v.h264_pps += 1,
            _ => {}
        }
        true
    }
    let Some((&b0, rest)) = p.split_first() else {
        return (false, false);
    };
    let h = h264::NalHeader::from_byte(b0);
    if h.forbidden {
        return (false, false);
    }
    let before = v.h264_sps + v.h264_pps;
    let ok = match h.nal_type {
        1..=23 => nal(p, v),
        h264::STAP_A => {
            let mut units = 0;
            let all = aggregation_units(rest, 1).all(|u| {
                units += 1;
                u.is_ok_and(|u| nal(u, v))
            });
            all && units > 0
        }
        h264::FU_A => match rest.split_first() {
            // The FU header's R bit is taken as evidence against H.264 here, although
            // RFC 6184 §5.8 tells receivers to ignore it (the depacketizer does).
            Some((&fu, data)) if !FuHeader::h264(fu).reserved && !data.is_empty() => {
                let fu = FuHeader::h264(fu);
                if (1..=23).contains(&fu.nal_type) && fu.start {
                    // Rebuild the fragmented unit's header to classify it.
                    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
                    let _ = nal(&[(b0 & 0xE0) | fu.nal_type, byte(0), byte(1), byte(2)], v);
                }
                (1..=23).contains(&fu.nal_type)
            }
            _ => false,
        },
        _ => false,
    };
    (ok, ok && v.h264_sps + v.h264_pps > before)
}

/// H.265 NAL unit header, AP and FU (RFC 7798 §1.1.4, §4.4.2, §4.4.3).
fn check_h265(p: &[u8], v: &mut VideoStats) -> (bool, bool) {
    /// Header check: F=0, type 0..=40, layer 0 (multi-layer is not sent over WebRTC), TID non-zero.
    fn header(b0: u8, b1: u8, allow_packets: bool) -> Option<u8> {
        let h = h265::NalHeader::from_bytes(b0, b1);
        let t = h.nal_type;
        let valid_type = t <= 40 || (allow_packets && (t == h265::AP || t == h265::FU));
        (!h.forbidden && valid_type && h.layer_id == 0 && h.tid != 0).then_some(t)
    }
    fn count(t: u8, v: &mut VideoStats) {
        match t {
            h265::NAL_VPS => v.h265_vps += 1,
            h265::NAL_SPS => v.h265_sps += 1,
            h265::NAL_PPS => v.h265_pps += 1,
            _ => {}
        }
    }
    let [b0, b1, rest @ ..] = p else {
        return (false, false);
    };
    let Some(t) = header(*b0, *b1, true) else {
        return (false, false);
    };
    let before = v.h265_vps + v.h265_sps + v.h265_pps;
    let ok = match t {
        h265::AP => {
            let mut units = 0;
            let all = aggregation_units(rest, 2).all(|u| {
                units += 1;
                let inner = u.ok().and_then(|u| match u {
                    [a, b, ..] => header(*a, *b, false),
                    _ => None,
                });
                match inner {
                    Some(inner) => {
                        count(inner, v);
                        true
                    }
                    None => false,
                }
            });
            // RFC 7798 §4.4.2: an AP carries at least two NAL units.
            all && units > 1
        }
        h265::FU => match rest.split_first() {
            Some((&fu, data)) if FuHeader::h265(fu).nal_type <= 40 && !data.is_empty() => {
                let fu = FuHeader::h265(fu);
                if fu.start {
                    count(fu.nal_type, v);
                }
                true
            }
            _ => false,
        },
        _ => {
            count(t, v);
            !rest.is_empty()
        }
    };
    (ok, ok && v.h265_vps + v.h265_sps + v.h265_pps > before)
}

/// AV1 aggregation header and OBU headers (AV1 RTP spec §4.4, AV1 spec §5.3.2).
fn check_av1(p: &[u8], v: &mut VideoStats) -> (bool, bool) {
    let Some((&agg, rest)) = p.split_first() else {
        return (false, false);
    };
    // The aggregation header's three low bits are unused: set, they say "not AV1".
    if agg & 0x07 != 0 {
        return (false, false);
    }
    let agg = av1::AggregationHeader::from_byte(agg);
    let Ok(elements) = av1::elements(agg, rest) else {
        return (false, false);
    };
    let w = usize::from(agg.count);
    if elements.is_empty() || (w != 0 && elements.len() != w) {
        return (false, false);
    }
    let mut seq = false;
    for (i, e) in elements.iter().enumerate() {
        // A continuation (Z) element has no OBU header of its own.
        if agg.continues && i == 0 {
            continue;
        }
        let Some(&b) = e.first() else {
            return (false, false);
        };
        let h = av1::ObuHeader::from_byte(b);
        // obu_reserved_1bit is taken as evidence here although decoders ignore it.
        if h.forbidden || h.reserved || !matches!(h.obu_type, 1 | 3..=8 | 15) {
            return (false, false);
        }
        // seq_profile (3 bits) is 0..=2.
        seq |= h.obu_type == av1::OBU_SEQUENCE_HEADER
            && av1::Obu::parse(e).is_ok_and(|o| o.payload.first().is_some_and(|b| b >> 5 <= 2));
    }
    v.av1_seq += u32::from(seq);
    (true, seq)
}

/// Whether `payload` fits `codec` as the *first packet of a frame* (the packet
/// before it in sequence carried another timestamp), for the codecs whose
/// packetization says how a frame starts; `None` for other codecs.
///
/// Each rule is one a conforming sender meets at every frame start, and one
/// uniformly random bytes (an encrypted payload, RFC 3711 §3.1) meet rarely:
/// - VP8 (RFC 7741 §4.2, §4.3): S=1 and partition index 0, then a payload
///   header with a defined version (RFC 6386 §9.1) and, on a key frame, the
///   start code 9d 01 2a. Random bytes: under 1/100.
/// - VP9 (RFC 9628 §4.2): B=1 (a layer frame begins), and an uncompressed
///   header that reads (frame marker 2, VP9 §6.2). Random bytes: at most 1/8.
/// - H.264 (RFC 6184 §5.3, §5.7.1, §5.8; H.264 §7.4.1.2.3): the first NAL unit
///   of an access unit, F=0: an AUD, SEI, SPS, PPS, prefix or subset SPS, or a
///   slice whose `first_mb_in_slice` is 0 (its first bit is 1), alone, first in
///   a STAP-A, or in an FU-A with S=1. Random bytes: about 1/9.
/// - H.265 (RFC 7798 §1.1.4, §4.4; H.265 §7.4.2.4.4): F=0, layer 0, TID not 0,
///   and an AUD, VPS, SPS, PPS, prefix SEI, or a VCL NAL unit with
///   `first_slice_segment_in_pic_flag` set, alone, first in an AP, or in an FU
///   with S=1. Random bytes: under 1/200 (the layer id alone is 1/64).
/// - AV1 (AV1 RTP §4.4): an aggregation header with its unused bits zero and
///   Z=0 (a temporal unit continues no OBU), and valid OBU headers. Random
///   bytes: under 1/100.
pub fn fits_frame_start(codec: Codec, payload: &[u8]) -> Option<bool> {
    let mut v = VideoStats::default();
    Some(match codec {
        Codec::Vp8 => vp8::Vp8Descriptor::parse(payload)
            .is_ok_and(|d| d.starts_frame() && check_vp8(payload, None, &mut v).0),
        Codec::Vp9 => vp9::Vp9Descriptor::parse(payload)
            .is_ok_and(|d| d.begin && check_vp9(payload, false, None, &mut v).0),
        Codec::H264 => check_h264(payload, &mut v).0 && h264_starts_access_unit(payload),
        Codec::H265 => check_h265(payload, &mut v).0 && h265_starts_access_unit(payload),
        Codec::Av1 => {
            payload.first().is_some_and(|&b| b & 0x80 == 0) && check_av1(payload, &mut v).0
        }
        _ => return None,
    })
}

/// H.264 §7.4.1.2.3: the NAL unit types an access unit may begin with; a slice
/// begins one only as its first slice (`first_mb_in_slice` 0, coded `1` in ue(v)).
fn h264_first_nal(nal_type: u8, next: Option<u8>) -> bool {
    match nal_type {
        // SEI, SPS, PPS, access unit delimiter, prefix NAL unit, subset SPS.
        6..=9 | 14 | 15 => true,
        h264::NAL_SLICE | h264::NAL_IDR => next.is_some_and(|b| b & 0x80 != 0),
        _ => false,
    }
}

/// Whether an H.264 RTP payload carries the first NAL unit of an access unit.
fn h264_starts_access_unit(p: &[u8]) -> bool {
    let Some((&b0, rest)) = p.split_first() else {
        return false;
    };
    match b0 & 0x1F {
        t @ 1..=23 => h264_first_nal(t, rest.first().copied()),
        h264::STAP_A => aggregation_units(rest, 1)
            .next()
            .and_then(Result::ok)
            .is_some_and(|u| match u.split_first() {
                Some((&h, after)) => h264_first_nal(h & 0x1F, after.first().copied()),
                None => false,
            }),
        h264::FU_A => match rest {
            [fu, after @ ..] => {
                let fu = FuHeader::h264(*fu);
                fu.start && h264_first_nal(fu.nal_type, after.first().copied())
            }
            [] => false,
        },
        _ => false,
    }
}

/// H.265 §7.4.2.4.4: the NAL unit types an access unit may begin with; a VCL NAL
/// unit (types 0..=31) only as the picture's first slice segment.
fn h265_first_nal(nal_type: u8, next: Option<u8>) -> bool {
    match nal_type {
        // VPS, SPS, PPS, access unit delimiter, prefix SEI.
        32..=35 | 39 => true,
        0..=31 => next.is_some_and(|b| b & 0x80 != 0),
        _ => false,
    }
}

/// Whether an H.265 RTP payload carries the first NAL unit of an access unit.
fn h265_starts_access_unit(p: &[u8]) -> bool {
    let [b0, _, rest @ ..] = p else {
        return false;
    };
    match (b0 >> 1) & 0x3F {
        h265::AP => aggregation_units(rest, 2)
            .next()
            .and_then(Result::ok)
            .is_some_and(|u| match u {
                [h, _, after @ ..] => h265_first_nal((h >> 1) & 0x3F, after.first().copied()),
                _ => false,
            }),
        h265::FU => match rest {
            [fu, after @ ..] => {
                let fu = FuHeader::h265(*fu);
                fu.start && h265_first_nal(fu.nal_type, after.first().copied())
            }
            [] => false,
        },
        t => h265_first_nal(t, rest.first().copied()),
    }
}

/// RFC 4733 §2.3 named event: event 0..=16 (DTMF, flash), R bit zero.
fn check_dtmf(p: &[u8], timestamp: u32, d: &mut DtmfStats) -> (bool, bool) {
    let &[event, flags, d0, d1] = p else {
        return (false, false);
    };
    if event > 16 || flags & 0x40 != 0 {
        return (false, false);
    }
    let end = flags & 0x80 != 0;
    d.end_bits += u32::from(end);
    let duration = u16::from_be_bytes([d0, d1]);
    if let Some((ts, prev)) = d.last_duration
        && ts == timestamp
        && duration > prev
        && d.duration_step.is_none()
    {
        d.duration_step = Some(duration - prev);
    }
    d.last_duration = Some((timestamp, duration));
    (true, end)
}

/// RFC 2250 §3.5 MPEG audio: 16 MBZ bits, fragment offset, then a frame sync when the offset is 0.
fn check_mpa(p: &[u8]) -> (bool, bool) {
    let (Some(h), Some(rest)) = (p.get(..4), p.get(4..)) else {
        return (false, false);
    };
    if h[0] != 0 || h[1] != 0 || rest.is_empty() {
        return (false, false);
    }
    if h[2] != 0 || h[3] != 0 {
        return (true, false);
    }
    let sync = rest.len() >= 2 && rest[0] == 0xFF && rest[1] & 0xE0 == 0xE0;
    (sync, sync)
}

#[cfg(test)]
mod capture_tests {
    use super::*;
    use crate::rtp::testcap::udp_payloads;
    use crate::rtp::{PacketClass, RtpPacket, classify};

    /// Guesses per (SSRC, PT) for every RTP packet of an Ethernet capture.
    fn guesses(name: &str) -> Option<BTreeMap<(u32, u8), (u64, CodecGuess)>> {
        let mut g: BTreeMap<(u32, u8), CodecGuesser> = BTreeMap::new();
        for d in udp_payloads(name)? {
            if classify(&d) != PacketClass::Rtp {
                continue;
            }
            let Ok(p) = RtpPacket::parse(&d) else {
                continue;
            };
            g.entry((p.ssrc().0, p.payload_type()))
                .or_insert_with(|| CodecGuesser::new(p.payload_type()))
                .push(p.marker(), p.timestamp(), p.payload());
        }
        Some(
            g.into_iter()
                .map(|(k, v)| (k, (v.packets(), v.guess())))
                .collect(),
        )
    }

    /// Expected guess per capture: (file, SSRC, PT, codec). Files here are Ethernet
    /// (TURN ChannelData over UDP unwrapped by the helper).
    const EXPECTED: &[(&str, u32, u8, Option<Codec>)] = &[
        ("str0m_vp8.pcap", 0xEEDF3944, 96, Some(Codec::Vp8)),
        ("membrane_input_vp8.pcap", 0x62F601FF, 96, Some(Codec::Vp8)),
        (
            "str0m_contiguous_vp9.pcap",
            0x0D2F602C,
            98,
            Some(Codec::Vp9),
        ),
        ("str0m_h264.pcap", 0x6A5CC848, 126, Some(Codec::H264)),
        ("membrane_demo_rtp.pcap", 0x27F8205F, 96, Some(Codec::H264)),
        ("membrane_demo_rtp.pcap", 0x1A2ADFC4, 127, Some(Codec::Mpa)),
        ("sippscen_h264.pcap", 0x693DC6CC, 96, Some(Codec::H264)),
        ("ndpi_rtp.pcapng", 0xB80974D8, 111, Some(Codec::Opus)),
        // H.266/VVC: nothing we can write.
        ("str0m_h266.pcap", 0x061DB301, 96, None),
        // SRTP: encrypted dynamic payloads are unknown; static PTs still name the codec.
        ("srtpdec_udp_call_02_03_client.pcap", 0x1C065362, 111, None),
        ("srtpdec_udp_call_02_03_client.pcap", 0x1C065364, 111, None),
        ("ndpi_rtp.pcapng", 0x001A7E73, 120, None),
        ("ndpi_rtp.pcapng", 0x001A759F, 101, None),
        ("rtpproxy_alice_srtp.pcap", 0x2A1AD144, 9, Some(Codec::G722)),
        (
            "srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap",
            0xED42A10F,
            8,
            Some(Codec::Pcma),
        ),
        (
            "srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap",
            0xED42A10F,
            13,
            Some(Codec::Cn),
        ),
        (
            "rtpproxy_dtmf.pcapng",
            0x37ED87F3,
            101,
            Some(Codec::TelephoneEvent),
        ),
        (
            "rtpproxy_dtmf.pcapng",
            0xEE693E61,
            101,
            Some(Codec::TelephoneEvent),
        ),
        (
            "sipp_dtmf_2833_1.pcap",
            0x0E05384E,
            101,
            Some(Codec::TelephoneEvent),
        ),
        ("sippscen_g711a.pcap", 0x0E330AF3, 8, Some(Codec::Pcma)),
        ("ndpi_rtp.pcapng", 0x00001646, 34, Some(Codec::H263)),
    ];

    #[test]
    fn shared_captures() {
        let mut files: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
        files.sort_unstable();
        files.dedup();
        for file in files {
            let Some(all) = guesses(file) else { return };
            for (ssrc, pt, want) in EXPECTED
                .iter()
                .filter(|e| e.0 == file)
                .map(|e| (e.1, e.2, e.3))
            {
                let (n, g) = all
                    .get(&(ssrc, pt))
                    .unwrap_or_else(|| panic!("{file}: no stream {ssrc:08X}/{pt}"));
                eprintln!(
                    "{file} ssrc=0x{ssrc:08X} pt={pt} packets={n}: {:?} {:?} | {}",
                    g.codec, g.clock_rate, g.evidence
                );
                assert_eq!(
                    g.codec, want,
                    "{file} ssrc=0x{ssrc:08X} pt={pt}: {}",
                    g.evidence
                );
                if want.is_some() {
                    assert!(g.clock_rate.is_some(), "{file}: clock rate");
                }
            }
            // No stream of any capture may be claimed as something it is not.
            for ((ssrc, pt), (_, g)) in &all {
                let listed = EXPECTED
                    .iter()
                    .any(|e| e.0 == file && e.1 == *ssrc && e.2 == *pt);
                if !listed && static_payload_type(*pt).is_none() {
                    assert_eq!(
                        g.codec, None,
                        "{file} ssrc=0x{ssrc:08X} pt={pt}: {}",
                        g.evidence
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pushes (marker, timestamp, payload) packets and returns the guess.
    fn run(pt: u8, packets: &[(bool, u32, Vec<u8>)]) -> CodecGuess {
        let mut g = CodecGuesser::new(pt);
        for (m, ts, p) in packets {
            g.push(*m, *ts, p);
        }
        g.guess()
    }

    use crate::codec::testutil::noise;

    /// A video stream: `frames` frames of `per_frame` packets, 3000 ticks apart, marker on the last.
    fn video(
        frames: u32,
        per_frame: u32,
        payload: impl Fn(u32, u32) -> Vec<u8>,
    ) -> Vec<(bool, u32, Vec<u8>)> {
        (0..frames)
            .flat_map(|f| (0..per_frame).map(move |k| (f, k)))
            .map(|(f, k)| (k + 1 == per_frame, 1000 + f * 3000, payload(f, k)))
            .collect()
    }

    #[test]
    fn static_payload_types_need_no_payload() {
        for pt in 0..128u8 {
            let Some(want) = static_payload_type(pt) else {
                continue;
            };
            // Even encrypted payloads: the PT alone names the codec.
            let g = run(pt, &[(false, 0, noise(1, 20))]);
            assert_eq!(
                (g.codec, g.clock_rate),
                (Some(want.codec), Some(want.clock_rate)),
                "PT {pt}"
            );
        }
    }

    /// Opus in RED (Chrome: one redundant block, the previous packet): the guess
    /// is the codec of the primary blocks, with the RED and media payload types.
    #[test]
    fn opus_in_red() {
        let opus = |i: u32| [vec![0xF8], noise(u64::from(i), 40)].concat();
        let pkts: Vec<_> = (1..60)
            .map(|i| {
                let prev = opus(i - 1);
                let mut p = vec![0x80 | 111, 0x03, 0xc0, prev.len() as u8, 111];
                p.extend(prev);
                p.extend(opus(i));
                (i == 1, i * 960, p)
            })
            .collect();
        let g = run(63, &pkts);
        assert_eq!(
            (g.codec, g.clock_rate),
            (Some(Codec::Opus), Some(48000)),
            "{}",
            g.evidence
        );
        assert_eq!(
            g.red,
            Some(RedGuess {
                red_payload_type: 63,
                media_payload_type: 111,
                ulpfec_payload_type: None
            })
        );
        // Noise whose first byte reads as a RED primary header is not RED.
        let pkts: Vec<_> = (0..60)
            .map(|i| {
                (
                    false,
                    i * 960,
                    [vec![0x6f], noise(u64::from(i), 40)].concat(),
                )
            })
            .collect();
        let g = run(63, &pkts);
        assert_eq!((g.codec, g.red), (None, None), "{}", g.evidence);
    }

    #[test]
    fn opus() {
        // CELT FB 20 ms mono (config 31, code 0), 960 ticks apart.
        let pkts: Vec<_> = (0..50)
            .map(|i| {
                (
                    i == 0,
                    i * 960,
                    [vec![0xF8], noise(u64::from(i), 60)].concat(),
                )
            })
            .collect();
        let g = run(111, &pkts);
        assert_eq!(
            (g.codec, g.clock_rate),
            (Some(Codec::Opus), Some(48000)),
            "{}",
            g.evidence
        );
        // Wrong steps for the TOC's duration (10 ms config with 960 steps is fine, 20 ms with 480 is not).
        let pkts: Vec<_> = (0..50)
            .map(|i| {
                (
                    false,
                    i * 480,
                    [vec![0xF8], noise(u64::from(i), 60)].concat(),
                )
            })
            .collect();
        assert_eq!(run(111, &pkts).codec, None);
    }

    /// An encoder switching mode and bandwidth (RFC 6716 §2: SILK, hybrid, CELT), as
    /// ffmpeg's libopus does: config 31 (CELT FB 20 ms) in 79% of packets, SILK WB and
    /// hybrid SWB/FB in runs of a few packets, a code-3 packet, DTX gaps of whole
    /// packets. Every packet is 20 ms: Opus, whatever the configurations.
    fn switching_opus(packets: u32) -> Vec<(bool, u32, Vec<u8>)> {
        let mut ts = 5000u32;
        (0..packets)
            .map(|i| {
                let toc = match i % 19 {
                    3 | 4 => 0x48,  // config 9: SILK WB 20 ms
                    9 | 10 => 0x68, // config 13: hybrid SWB 20 ms
                    15 => 0x78,     // config 15: hybrid FB 20 ms
                    16 => 0xfb,     // config 31, code 3: one CBR frame
                    _ => 0xf8,      // config 31: CELT FB 20 ms
                };
                let mut p = vec![toc];
                if toc == 0xfb {
                    p.push(0x01);
                }
                p.extend(noise(u64::from(i) + 77, 40 + (i as usize * 7) % 80));
                // DTX: every 25th packet comes after 5 packets' worth of silence.
                ts = ts.wrapping_add(if i % 25 == 24 { 5 * 960 } else { 960 });
                (i == 0, ts, p)
            })
            .collect()
    }

    /// Fails unless the guess is Opus on its 48 kHz clock.
    fn assert_opus(g: &CodecGuess) {
        assert_eq!(
            (g.codec, g.clock_rate),
            (Some(Codec::Opus), Some(48000)),
            "{}",
            g.evidence
        );
    }

    #[test]
    fn opus_switching_configurations() {
        for n in [30, 100, 400] {
            let g = run(111, &switching_opus(n));
            assert_opus(&g);
            assert!(g.evidence.contains("TOC configurations"), "{}", g.evidence);
        }
        // As in testdata/media-opus-vp8.pcap's first 0.6 s: hybrid FB, hybrid SWB, then
        // SILK FB... runs of 9, 9 and 13 packets (config 27 in 42%).
        let pkts: Vec<_> = (0..31u32)
            .map(|i| {
                let toc = match i {
                    0..=8 => 0x78,
                    9..=17 => 0x68,
                    _ => 0xd8,
                };
                (
                    i == 0,
                    i * 960,
                    [vec![toc], noise(u64::from(i), 80)].concat(),
                )
            })
            .collect();
        let g = run(111, &pkts);
        assert_eq!(g.codec, Some(Codec::Opus), "{}", g.evidence);
    }

    /// Random bytes behind valid-looking TOC bytes are still not Opus when the
    /// durations do not match the steps, even with most steps multiples of 120.
    #[test]
    fn opus_durations_must_match_steps() {
        // Every packet a valid code-0 frame, but durations cycle through 2.5..60 ms
        // while the timestamp advances 960 per packet.
        let tocs = [0x80, 0x10, 0x18, 0x98, 0xf8, 0x18, 0x10];
        let pkts: Vec<_> = (0..100u32)
            .map(|i| {
                let toc = tocs[i as usize % tocs.len()];
                (
                    false,
                    i * 960,
                    [vec![toc], noise(u64::from(i), 50)].concat(),
                )
            })
            .collect();
        let g = run(111, &pkts);
        assert_eq!(g.codec, None, "{}", g.evidence);
    }

    /// A decrypted Opus stream whose payloads also read as VP9 descriptors (TOC 0x48,
    /// SILK WB 20 ms, is VP9's P=1 B=1; then a non-key uncompressed header): both parse,
    /// timing decides. 960-tick steps, one packet per timestamp, no frame markers: audio.
    #[test]
    fn timing_breaks_an_opus_vp9_tie() {
        let pkts: Vec<_> = (0..60u32)
            .map(|i| {
                (
                    i == 0,
                    i * 960,
                    [vec![0x48, 0x86], noise(u64::from(i), 60)].concat(),
                )
            })
            .collect();
        let mut v = VideoStats::default();
        assert!(
            check_vp9(&pkts[1].2, false, Some(true), &mut v).0,
            "fits VP9 too"
        );
        let g = run(111, &pkts);
        assert_opus(&g);
        assert!(g.evidence.contains("Vp9"), "{}", g.evidence);
        // With capture times: a packet every 20 ms confirms the 48 kHz clock.
        let timed = |ns_per_packet: i64| {
            let mut g = CodecGuesser::new(111);
            for (i, (m, ts, p)) in pkts.iter().enumerate() {
                g.push_at(*m, *ts, p, 1_000 + i as i64 * ns_per_packet);
            }
            g.guess()
        };
        let g = timed(20_000_000);
        assert_opus(&g);
        assert!(g.evidence.contains("RTP clock 48000 Hz"), "{}", g.evidence);
        // 960 ticks every 10.7 ms is a 90 kHz clock: not audio, and without frame
        // structure not video either; the tie stands.
        let g = timed(10_666_667);
        assert_eq!(g.codec, None, "{}", g.evidence);
        assert!(g.evidence.contains("ambiguous"), "{}", g.evidence);
        // The same payloads as video frames (3 packets each, marker on the last) are not Opus.
        let vid = video(20, 3, |f, k| {
            [vec![0x48, 0x86], noise(u64::from(f * 3 + k), 60)].concat()
        });
        let g = run(98, &vid);
        assert_ne!(g.codec, Some(Codec::Opus), "{}", g.evidence);
    }

    /// Padding-only packets (empty payload, RFC 3550 §5.1) take no part: bandwidth
    /// probes interleaved with media, repeating its timestamps, change nothing.
    #[test]
    fn padding_only_packets_take_no_part() {
        let media = video(10, 3, h264_payload);
        let mut pkts = Vec::new();
        for (i, p) in media.iter().enumerate() {
            pkts.push(p.clone());
            // Probes on the media's timestamp, more of them than media packets.
            if i % 2 == 0 || i % 5 == 0 {
                for _ in 0..2 {
                    pkts.push((false, p.1, Vec::new()));
                }
            }
        }
        let mut g = CodecGuesser::new(126);
        for (m, ts, p) in &pkts {
            g.push(*m, *ts, p);
        }
        assert_eq!(g.padding_only(), 36);
        assert_eq!(g.packets(), 30);
        let guess = g.guess();
        assert_eq!(guess.codec, Some(Codec::H264), "{}", guess.evidence);
        // Opus with probes on its timestamps is still audio.
        let mut pkts = switching_opus(60);
        let probes: Vec<_> = pkts
            .iter()
            .step_by(3)
            .map(|p| (false, p.1, Vec::new()))
            .collect();
        pkts.extend(probes);
        pkts.sort_by_key(|p| p.1);
        assert_eq!(run(111, &pkts).codec, Some(Codec::Opus));
        // Nothing but probes: no codec, and the evidence says why.
        let probes: Vec<_> = (0..50)
            .map(|i| (false, i / 10 * 3000, Vec::new()))
            .collect();
        let g = run(127, &probes);
        assert_eq!(g.codec, None);
        assert!(g.evidence.contains("padding only"), "{}", g.evidence);
    }

    #[test]
    fn clock_against_capture_time() {
        let mut c = ClockStats::default();
        assert_eq!(c.rate(), None);
        // 20 ms packets at 48 kHz, the third and fourth swapped, the timestamp wrapping.
        let order = [0u32, 1, 3, 2, 4, 5, 6, 7, 8, 9, 10, 11];
        for (k, i) in order.iter().enumerate() {
            c.observe(
                (u32::MAX - 1000).wrapping_add(i * 960),
                k as i64 * 20_000_000,
            );
        }
        let r = c.rate().expect("220 ms measured");
        assert!((r - 48_000.0).abs() < 1.0, "{r}");
        assert!(c.near(48e3) && !c.near(90e3));
        // Under 200 ms nothing is said.
        let mut c = ClockStats::default();
        c.observe(0, 0);
        c.observe(960, 20_000_000);
        assert_eq!(c.rate(), None);
        assert!(c.near(90e3));
    }

    #[test]
    fn opus_toc_rules() {
        let cases: &[(&[u8], Option<u32>)] = &[
            (&[], None),
            (&[0xF8], Some(960)),
            (&[0xF9, 1, 2], Some(1920)),
            (&[0xF9, 1], None),
            (&[0xFA, 1, 9], Some(1920)),
            (&[0xFA, 5, 9], None),
            (&[0xFA, 253, 1], None),
            (&[0xFB, 0x03, 1, 2, 3], Some(2880)),
            (&[0xFB, 0x03, 1, 2], None),
            (&[0xFB, 0x00], None),
            (&[0xFB, 0x07], None),
            (&[0xFB, 0x42, 2, 1, 2, 9, 9], Some(1920)),
            (&[0x08], Some(960)),
            (&[0x60], Some(480)),
        ];
        for (i, (p, want)) in cases.iter().enumerate() {
            assert_eq!(opus_packet_ticks(p), *want, "case {i}: {p:02x?}");
        }
    }

    /// Frame starts: every conforming first packet of a frame fits; later packets
    /// of a frame and random bytes (encrypted payloads) rarely do.
    #[test]
    fn frame_starts_of_conforming_streams_fit_and_random_bytes_rarely_do() {
        let fits = |c: Codec, p: &[u8]| fits_frame_start(c, p) == Some(true);
        for f in 0..20 {
            assert!(fits(Codec::Vp8, &vp8_payload(f, 0)), "vp8 frame {f}");
            assert!(!fits(Codec::Vp8, &vp8_payload(f, 1)), "vp8 continuation");
            assert!(fits(Codec::Vp9, &vp9_payload(f, 0, 2)), "vp9 frame {f}");
            assert!(!fits(Codec::Vp9, &vp9_payload(f, 1, 2)), "vp9 continuation");
        }
        // H.264: STAP-A of SPS and PPS; FU-A starting a slice with first_mb_in_slice 0 (bit 1).
        assert!(fits(Codec::H264, &h264_payload(0, 0)));
        assert!(fits(Codec::H264, &[0x7c, 0x85, 0x88, 0x84, 0x21]));
        assert!(fits(Codec::H264, &[0x65, 0xb8, 0x00, 0x04]));
        assert!(fits(Codec::H264, &[0x09, 0xf0]), "access unit delimiter");
        assert!(
            !fits(Codec::H264, &[0x7c, 0x85, 0x08, 0x84]),
            "not the first slice"
        );
        assert!(
            !fits(Codec::H264, &[0x7c, 0x45, 0x88, 0x84]),
            "FU-A without S"
        );
        // H.265: AP of VPS, SPS, PPS; FU starting a slice with first_slice_segment_in_pic_flag.
        let ap = [
            0x60, 0x01, 0, 3, 0x40, 0x01, 0xaa, 0, 3, 0x42, 0x01, 0xbb, 0, 3, 0x44, 0x01, 0xcc,
        ];
        assert!(fits(Codec::H265, &ap));
        assert!(fits(Codec::H265, &[0x62, 0x01, 0x81, 0xc0, 0x11]));
        assert!(!fits(Codec::H265, &[0x62, 0x01, 0x81, 0x40, 0x11]));
        assert!(!fits(Codec::H265, &[0x62, 0x01, 0x41, 0xc0, 0x11]));
        // AV1: a temporal unit never starts with a continuation (Z).
        assert!(fits(Codec::Av1, &[0x28, 3, 0x08, 0x00, 0x00, 0x30, 1, 2]));
        assert!(fits(Codec::Av1, &[0x10, 0x32, 1, 2, 3]));
        assert!(!fits(Codec::Av1, &[0x90, 0x32, 1, 2, 3]));
        assert_eq!(fits_frame_start(Codec::Pcmu, &[1, 2, 3]), None);
        // Random payloads: how often each rule is met by chance (the doc's figures).
        for (codec, at_most) in [
            (Codec::Vp8, 1.0 / 64.0),
            (Codec::Vp9, 1.0 / 8.0),
            (Codec::H264, 1.0 / 6.0),
            (Codec::H265, 1.0 / 200.0),
            (Codec::Av1, 1.0 / 64.0),
        ] {
            let n = 20_000u64;
            let hits = (0..n)
                .filter(|i| fits(codec, &noise(i * 31 + 7, 20 + (*i % 200) as usize)))
                .count();
            let rate = hits as f64 / n as f64;
            eprintln!("{codec:?}: {rate:.4}");
            assert!(rate <= at_most, "{codec:?}: {rate}");
        }
    }

    fn vp8_payload(f: u32, k: u32) -> Vec<u8> {
        // X=1, I=1 with a 15-bit picture id, S on the first packet.
        let pid = 0x8000 | (f as u16 & 0x7FFF);
        let mut p = vec![
            if k == 0 { 0x90 } else { 0x80 },
            0x80,
            (pid >> 8) as u8,
            pid as u8,
        ];
        if k == 0 {
            let key = f.is_multiple_of(10);
            p.extend_from_slice(&[if key { 0x10 } else { 0x11 }, 0x02, 0x00]);
            if key {
                p.extend_from_slice(&[0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
            }
        }
        p.extend(noise(u64::from(f * 7 + k), 40));
        p
    }

    /// Firefox's video: VP8 (PT 120) in RED (PT 122), primary-only blocks (RFC
    /// 2198 §3: one header byte, F=0, then the whole VP8 payload). The header byte
    /// 0x78 reads as a VP9 descriptor with B set and E clear (RFC 9628 §4.2), and
    /// the VP8 descriptor after it as layer and P_DIFF bytes: VP9 must not win.
    #[test]
    fn vp8_in_red_primary_only() {
        let pkts: Vec<_> = video(20, 3, |f, k| [vec![120], vp8_payload(f, k)].concat());
        let mut v = VideoStats::default();
        assert!(
            !check_vp9(&pkts[2].2, true, Some(false), &mut v).0,
            "a marked packet whose E bit is clear is not VP9"
        );
        let g = run(122, &pkts);
        assert_eq!(g.codec, Some(Codec::Vp8), "{}", g.evidence);
        assert_eq!(
            g.red,
            Some(RedGuess {
                red_payload_type: 122,
                media_payload_type: 120,
                ulpfec_payload_type: None,
            })
        );
    }

    /// The same with redundancy: each packet repeats the previous one in a block with
    /// F=1, PT 120, a 14-bit timestamp offset and a 10-bit length (RFC 2198 §3).
    #[test]
    fn vp8_in_red_with_redundancy() {
        let plain = video(20, 3, vp8_payload);
        let pkts: Vec<_> = plain
            .iter()
            .enumerate()
            .map(|(i, (m, ts, p))| {
                let mut red = Vec::new();
                if let Some((_, prev_ts, prev)) = i.checked_sub(1).map(|j| &plain[j]) {
                    let off = ts - prev_ts;
                    let len = prev.len();
                    red.extend_from_slice(&[
                        0x80 | 120,
                        (off >> 6) as u8,
                        (((off & 0x3f) << 2) as u8) | (len >> 8) as u8,
                        len as u8,
                    ]);
                }
                red.push(120);
                if i > 0 {
                    red.extend_from_slice(&plain[i - 1].2);
                }
                red.extend_from_slice(p);
                (*m, *ts, red)
            })
            .collect();
        let g = run(122, &pkts);
        assert_eq!(g.codec, Some(Codec::Vp8), "{}", g.evidence);
        assert_eq!(g.red.map(|r| r.media_payload_type), Some(120));
        // Block lengths that do not add up to the payload: not RED, and nothing else.
        let broken: Vec<_> = pkts
            .iter()
            .map(|(m, ts, p)| {
                let mut p = p.clone();
                if p[0] & 0x80 != 0 {
                    p[3] = 0xff;
                    p[2] |= 0x03;
                }
                (*m, *ts, p)
            })
            .collect();
        let g = run(122, &broken);
        assert_eq!(g.red, None, "{}", g.evidence);
    }

    /// Firefox's ULPFEC (PT 123) inside RED (PT 122) with VP8 (PT 120): RED packets
    /// whose primary block is an RFC 5109 §7 repair packet are the media's FEC.
    #[test]
    fn vp8_and_ulpfec_in_red() {
        let mut pkts: Vec<_> = video(20, 3, |f, k| [vec![120], vp8_payload(f, k)].concat());
        let mut with_fec = Vec::new();
        for (i, (m, ts, p)) in pkts.drain(..).enumerate() {
            let marked = m;
            with_fec.push((m, ts, p));
            if marked && i % 2 == 1 {
                // FEC header (E=0 L=0 P X CC M PT, SN base, TS recovery, length
                // recovery), then level 0: protection length 20, 16-bit mask, data.
                let base = (i as u16).wrapping_sub(2);
                let mut fec = vec![123, 0x00, 0x60];
                fec.extend_from_slice(&base.to_be_bytes());
                fec.extend_from_slice(&ts.to_be_bytes());
                fec.extend_from_slice(&[0x00, 0x30, 0x00, 20, 0xe0, 0x00]);
                fec.extend(noise(u64::from(ts), 20));
                with_fec.push((false, ts, fec));
            }
        }
        let g = run(122, &with_fec);
        assert_eq!(g.codec, Some(Codec::Vp8), "{}", g.evidence);
        assert_eq!(
            g.red,
            Some(RedGuess {
                red_payload_type: 122,
                media_payload_type: 120,
                ulpfec_payload_type: Some(123),
            }),
            "{}",
            g.evidence
        );
    }

    #[test]
    fn vp8() {
        let g = run(96, &video(20, 3, vp8_payload));
        assert_eq!(
            (g.codec, g.clock_rate),
            (Some(Codec::Vp8), Some(90000)),
            "{}",
            g.evidence
        );
        // Without any keyframe, frame structure and picture ids still show VP8.
        let g = run(96, &video(8, 3, |f, k| vp8_payload(f + 1, k)));
        assert_eq!(g.codec, Some(Codec::Vp8), "{}", g.evidence);
        assert!(g.evidence.contains("0 keyframe"), "{}", g.evidence);
    }

    /// RFC 7741 §4.2: the R bits and the RSV bits "MUST be ignored by the receiver".
    /// The guesser counts such packets as VP8, as the depacketizer reads them.
    #[test]
    fn vp8_reserved_bits_are_ignored() {
        let with_reserved = |f, k| {
            let mut p = vp8_payload(f, k);
            p[0] |= 0x48;
            p[1] |= 0x0f;
            p
        };
        let mut v = VideoStats::default();
        assert_eq!(check_vp8(&with_reserved(0, 0), None, &mut v), (true, true));
        assert_eq!(check_vp8(&with_reserved(1, 1), None, &mut v), (true, false));
        let g = run(96, &video(20, 3, with_reserved));
        assert_eq!(g.codec, Some(Codec::Vp8), "{}", g.evidence);
        assert!(
            g.evidence.starts_with("PT 96: 100% of 60"),
            "{}",
            g.evidence
        );
    }

    fn vp9_payload(f: u32, k: u32, per: u32) -> Vec<u8> {
        let key = f == 0;
        // I=1 (7-bit id), P unless key, B on first, E on last.
        let mut b0 = 0x80 | if key { 0 } else { 0x40 };
        if k == 0 {
            b0 |= 0x08;
        }
        if k + 1 == per {
            b0 |= 0x04;
        }
        let mut p = vec![b0, (f % 128) as u8];
        if k == 0 {
            // frame_marker 10, profile 0, show_existing 0, frame_type, show_frame 1, error_res 0.
            p.push(if key { 0x82 } else { 0x86 });
            if key {
                p.extend_from_slice(&[0x49, 0x83, 0x42]);
            }
        }
        p.extend(noise(u64::from(f * 5 + k), 50));
        p
    }

    #[test]
    fn vp9() {
        let g = run(98, &video(10, 4, |f, k| vp9_payload(f, k, 4)));
        assert_eq!(g.codec, Some(Codec::Vp9), "{}", g.evidence);
        assert!(g.evidence.contains("1 keyframes"), "{}", g.evidence);
    }

    fn h264_payload(f: u32, k: u32) -> Vec<u8> {
        if f == 0 && k == 0 {
            // STAP-A with SPS (High, level 3.1) and PPS.
            return vec![0x78, 0, 4, 0x67, 100, 0, 31, 0, 2, 0x68, 0xce];
        }
        // FU-A of an IDR (frame 0) or non-IDR slice.
        let t = if f == 0 { 5 } else { 1 };
        let s = if k == 1 || (f > 0 && k == 0) { 0x80 } else { 0 };
        [vec![0x7c, s | t], noise(u64::from(f * 3 + k), 30)].concat()
    }

    /// VP9 (Firefox's PT 121) and H.264 in RED, primary only, are what they carry.
    #[test]
    fn vp9_and_h264_in_red() {
        type Packets = Vec<(bool, u32, Vec<u8>)>;
        let cases: [(u8, Codec, Packets); 2] = [
            (121, Codec::Vp9, video(10, 4, |f, k| vp9_payload(f, k, 4))),
            (126, Codec::H264, video(10, 3, h264_payload)),
        ];
        for (media_pt, codec, plain) in cases {
            let pkts: Vec<_> = plain
                .into_iter()
                .map(|(m, ts, p)| (m, ts, [vec![media_pt], p].concat()))
                .collect();
            let g = run(122, &pkts);
            assert_eq!(g.codec, Some(codec), "{}", g.evidence);
            assert_eq!(
                g.red.map(|r| (r.red_payload_type, r.media_payload_type)),
                Some((122, media_pt)),
                "{}",
                g.evidence
            );
        }
    }

    #[test]
    fn h264() {
        let g = run(126, &video(10, 3, h264_payload));
        assert_eq!(g.codec, Some(Codec::H264), "{}", g.evidence);
    }

    #[test]
    fn h264_nal_rules() {
        let mut v = VideoStats::default();
        let cases: &[(&[u8], bool)] = &[
            (&[], false),
            (&[0x80], false),
            (&[0x00, 1], false),
            (&[0x41, 1], true),
            (&[0x7e, 1], false), // type 30
            (&[0x78, 0, 2, 0x41, 1], true),
            (&[0x78, 0, 3, 0x41, 1], false),
            (&[0x78, 0, 0], false),
            (&[0x7c, 0x85, 1], true),
            (&[0x7c, 0xa5, 1], false), // FU R bit
            (&[0x7c, 0x85], false),
            (&[0x7c, 0x98, 1], false), // FU of type 24
        ];
        for (i, (p, ok)) in cases.iter().enumerate() {
            assert_eq!(check_h264(p, &mut v).0, *ok, "case {i}");
        }
    }

    #[test]
    fn h265() {
        let pkts = video(10, 2, |f, k| {
            if f == 0 && k == 0 {
                // AP: VPS, SPS, PPS (layer 0, TID 1).
                vec![
                    0x60, 0x01, 0, 3, 0x40, 0x01, 0xaa, 0, 3, 0x42, 0x01, 0xbb, 0, 3, 0x44, 0x01,
                    0xcc,
                ]
            } else {
                // FU (type 49) of a TRAIL_R (1) slice.
                [
                    vec![0x62, 0x01, if k == 0 { 0x81 } else { 0x41 }],
                    noise(u64::from(f), 30),
                ]
                .concat()
            }
        });
        let g = run(97, &pkts);
        assert_eq!(g.codec, Some(Codec::H265), "{}", g.evidence);
        // Without parameter sets H.265 is never claimed.
        assert_eq!(run(97, &pkts[1..]).codec, None);
    }

    #[test]
    fn av1() {
        let pkts = video(10, 2, |f, k| {
            if f == 0 && k == 0 {
                // N=1, W=2: sequence header (profile 0) then the start of a frame OBU.
                [vec![0x28, 3, 0x08, 0x00, 0x00, 0x30], noise(1, 20)].concat()
            } else if k == 0 {
                // W=1: one frame OBU element, continued in the next packet (Y).
                [vec![0x50, 0x30], noise(u64::from(f), 20)].concat()
            } else {
                [vec![0x90], noise(u64::from(f) + 99, 20)].concat()
            }
        });
        let g = run(45, &pkts);
        assert_eq!(g.codec, Some(Codec::Av1), "{}", g.evidence);
        let mut v = VideoStats::default();
        assert!(!check_av1(&[0x10, 0x80], &mut v).0, "forbidden bit");
        assert!(
            !check_av1(&[0x00, 5, 0x30], &mut v).0,
            "element longer than packet"
        );
        assert!(!check_av1(&[0x01, 1, 0x30], &mut v).0, "reserved bits");
    }

    #[test]
    fn telephone_event() {
        // Digit 5: three updates 160 apart, then the end packet three times.
        let mut pkts: Vec<_> = (1..=3u16)
            .map(|i| {
                (
                    i == 1,
                    8000,
                    [vec![5, 10], (i * 160).to_be_bytes().to_vec()].concat(),
                )
            })
            .collect();
        pkts.extend((0..3).map(|_| (false, 8000, vec![5, 0x8a, 0x01, 0xe0])));
        let g = run(101, &pkts);
        assert_eq!(
            (g.codec, g.clock_rate),
            (Some(Codec::TelephoneEvent), Some(8000)),
            "{}",
            g.evidence
        );
        assert_eq!(
            run(
                101,
                &[
                    (false, 0, vec![17, 0, 0, 1]),
                    (false, 0, vec![17, 0, 0, 2]),
                    (false, 0, vec![17, 0x80, 0, 3])
                ]
            )
            .codec,
            None
        );
    }

    #[test]
    fn encrypted_and_too_few() {
        for pt in [96, 100, 111, 120, 127] {
            let audio: Vec<_> = (0..300)
                .map(|i| (false, i * 960, noise(u64::from(i) + u64::from(pt), 80)))
                .collect();
            let g = run(pt, &audio);
            assert_eq!(g.codec, None, "PT {pt}: {}", g.evidence);
            assert!(g.evidence.contains("encrypted"), "{}", g.evidence);
            let vid = video(100, 4, |f, k| noise(u64::from(f * 4 + k) + 7, 200));
            let g = run(pt, &vid);
            assert_eq!(g.codec, None, "PT {pt}: {}", g.evidence);
        }
        let g = run(96, &[(false, 0, vec![0xF8, 1])]);
        assert_eq!(g.codec, None);
        assert!(g.evidence.contains("too few"));
    }

    #[test]
    fn examines_a_bounded_number_of_packets() {
        let mut g = CodecGuesser::new(111);
        for i in 0..2000u32 {
            g.push(false, i * 960, &[0xF8, 1, 2, 3]);
        }
        assert_eq!(g.packets(), 2000);
        assert_eq!(g.examined, MAX_EXAMINED);
        assert_eq!(g.guess().codec, Some(Codec::Opus));
    }

    proptest! {
        #[test]
        fn guesser_never_panics(pt in 0u8..128, pkts in proptest::collection::vec(
            (any::<bool>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..40)) {
            let mut g = CodecGuesser::new(pt);
            for (m, ts, p) in &pkts {
                g.push(*m, *ts, p);
            }
            let guess = g.guess();
            prop_assert!(!guess.evidence.is_empty());
        }

        /// Padding-only packets anywhere, on the media's timestamps, change no guess.
        #[test]
        fn probes_change_no_guess(at in proptest::collection::vec((0usize..60, 1usize..4), 0..40)) {
            for media in [switching_opus(60), video(20, 3, vp8_payload), video(20, 3, h264_payload)] {
                let want = run(100, &media);
                let mut pkts = media.clone();
                for (i, n) in at.iter().rev() {
                    let i = (*i).min(pkts.len() - 1);
                    let ts = pkts[i].1;
                    for _ in 0..*n {
                        pkts.insert(i + 1, (false, ts, Vec::new()));
                    }
                }
                let got = run(100, &pkts);
                prop_assert_eq!(got.codec, want.codec, "{}", got.evidence);
                prop_assert_eq!(got.evidence, want.evidence);
            }
        }

        /// However configurations switch, 20 ms packets 960 ticks apart are Opus.
        #[test]
        fn opus_whatever_the_configurations(configs in proptest::collection::vec(0u8..32, 30..120), seed in any::<u64>()) {
            let pkts: Vec<_> = configs.iter().enumerate().map(|(i, c)| {
                let i = i as u32;
                // SILK 40 and 60 ms configurations become their 10 and 20 ms siblings.
                let c = if *c < 12 && c % 4 >= 2 { c & !2 } else { *c };
                // Each config at its own frame size, as many frames as make 20 ms (code 3 CBR).
                let frames = 960 / super::opus::frame_samples(c);
                let mut p = vec![(c << 3) | 3, frames as u8];
                p.extend(noise(seed ^ u64::from(i), 10 * frames as usize));
                (i == 0, i * 960, p)
            }).collect();
            let g = run(111, &pkts);
            prop_assert_eq!(g.codec, Some(Codec::Opus), "{}", g.evidence);
        }

        #[test]
        fn random_payloads_are_not_claimed(seed in any::<u64>(), pt in 96u8..128) {
            let pkts: Vec<_> = (0..60u32).map(|i| (i % 3 == 2, 1000 + (i / 3) * 3000, noise(seed ^ u64::from(i), 100))).collect();
            let g = run(pt, &pkts);
            prop_assert_eq!(g.codec, None, "{}", g.evidence);
        }
    }
}
