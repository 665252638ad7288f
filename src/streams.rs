//! RTP stream analysis: which streams a capture holds and how healthy they are.
//!
//! A stream is one (5-tuple, SSRC), as tshark's `-z rtp,streams` keys it; the
//! payload types seen on it are listed. Counting rules (documented in the
//! README because they differ from tshark's "Lost" on purpose):
//!
//! - `expected` = highest - lowest extended sequence number + 1 (RFC 3550 A.3),
//!   summed over segments when the sender resets its sequence numbers;
//! - `lost` = `expected` - distinct sequence numbers received, so duplicates
//!   never hide loss (tshark's Lost is expected - packets, and goes negative);
//! - `duplicates` = packets repeating one already received (same sequence
//!   number, RTP timestamp and payload);
//! - `reordered` = packets older than the highest received that were not duplicates;
//! - `restarts` = times the sender started its sequence numbers again inside
//!   the SSRC (a SIP endpoint or relay restarting seq and timestamp): a jump
//!   beyond MAX_DROPOUT, or, per RFC 3550 A.1, a packet far from the sequence
//!   (other content on a number already received, or more than MAX_MISORDER
//!   before the segment's first) confirmed by its successor; the packets after
//!   a restart start a new segment instead of counting as duplicates;
//! - `sequence_errors` = forward jumps (gaps) and restarts;
//! - jitter per RFC 3550 A.8 on the RTP clock of the guessed codec.
//!
//! A flow counts as RTP only when it behaves like one: a stable SSRC whose
//! sequence numbers mostly advance by small steps. DNS, QUIC and other UDP
//! whose first byte happens to look like RTP are not reported.

use crate::codec::{CodecGuess, CodecGuesser};
use crate::error::Diagnostic;
use crate::net::{Datagram, Encap, Flow, Transport};
use crate::rtp::rtcp::{self, RtcpPacket};
use crate::rtp::{PacketClass, RtpPacket, Ssrc, classify};
use crate::time::CaptureTime;
use serde::Serialize;
use std::collections::BTreeMap;

/// Forward jumps beyond this restart the sequence (RFC 3550 A.1 MAX_DROPOUT).
const MAX_DROPOUT: u64 = 3000;
/// Packets more than this behind the highest are not reordering (RFC 3550 A.1 MAX_MISORDER).
use crate::rtp::seq::MAX_MISORDER;
/// Width of the duplicate-detection window, in sequence numbers.
const DUP_WINDOW: u64 = 1 << 12;
/// Clock rates tried for jitter until the codec is known.
const CLOCKS: [u32; 5] = [8000, 16000, 44100, 48000, 90000];
/// Unconfirmed candidates idle this long are forgotten (bounds memory on noisy captures).
const CANDIDATE_IDLE_NS: i64 = 30_000_000_000;
/// How often (in datagrams) idle candidates are pruned.
const PRUNE_EVERY: u64 = 1 << 16;
/// Streams (candidates and confirmed) tracked at once. A real capture holds tens
/// of streams, a busy SBC's a few thousand; at about 3 KiB per stream (guesser,
/// duplicate window) this keeps the analyser near 30 MiB whatever a hostile
/// capture holds (#13: 1,000,000 one-packet SSRCs peak at about 50 MiB RSS). Beyond it,
/// one-packet candidates are forgotten first, then new streams are not tracked
/// (counted in `streams_dropped`, with a `streams-cap` warning).
pub const MAX_STREAMS: usize = 10_000;

/// Key of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    /// The (outer) 5-tuple.
    pub flow: Flow,
    /// The RTP SSRC.
    pub ssrc: Ssrc,
}

/// RFC 3550 A.8 interarrival jitter for one candidate clock rate.
#[derive(Clone, Copy, Debug, Default)]
struct Jitter {
    /// Current estimate, in nanoseconds.
    j_ns: f64,
    sum_ns: f64,
    max_ns: f64,
    samples: u64,
}

/// Sequence tracking: extension, duplicates, reordering, loss.
#[derive(Clone, Debug, Default)]
struct SeqTrack {
    /// Highest extended sequence number of the current segment.
    max: Option<u64>,
    /// Lowest extended sequence number of the current segment.
    min: u64,
    /// Distinct sequence numbers received in finished segments plus this one.
    distinct: u64,
    /// `expected` of finished segments.
    expected_done: u64,
    /// Bit per sequence number in `(max - DUP_WINDOW, max]`.
    window: Vec<u64>,
    /// Per slot of `window`: the received packet's content (see [`Content`]).
    /// Allocated from a stream's second packet on, so one-packet look-alikes stay small.
    prints: Vec<Content>,
    /// A packet far from the sequence waiting for its successor to confirm a
    /// restart (RFC 3550 A.1 `bad_seq`).
    pending: Option<(u16, Content)>,
    duplicates: u64,
    reordered: u64,
    errors: u64,
    restarts: u64,
}

/// What a packet carried and when: the low 32 bits of its
/// [`fingerprint`](crate::rtp::seq::fingerprint) and its capture time in ms
/// (wrapping), to tell a network duplicate from a restarted sender repeating content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Content {
    print: u32,
    ms: u32,
}

impl Content {
    /// A repeat of `earlier`: same content, and soon unless at most MAX_MISORDER behind.
    fn repeats(self, earlier: Content, behind: u64) -> bool {
        // Signed: capture time may step back (merged captures); that is soon, too.
        let ms = i64::from(self.ms.wrapping_sub(earlier.ms) as i32);
        self.print == earlier.print
            && (behind <= MAX_MISORDER || ms * 1_000_000 < crate::rtp::seq::DUPLICATE_NANOS)
    }
}

/// What one packet did to the sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SeqEvent {
    First,
    InOrder,
    Gap,
    Reordered,
    Duplicate,
    /// Held back as a possible restart; decided by the next packet.
    Pending,
    Reset,
}

impl SeqTrack {
    fn bit(&mut self, ext: u64) -> (usize, u64) {
        if self.window.is_empty() {
            self.window = vec![0; (DUP_WINDOW / 64) as usize];
        }
        let idx = ext % DUP_WINDOW;
        ((idx / 64) as usize, 1 << (idx % 64))
    }

    fn mark(&mut self, ext: u64) -> bool {
        let (w, b) = self.bit(ext);
        let seen = self.window[w] & b != 0;
        self.window[w] |= b;
        seen
    }

    fn seen(&mut self, ext: u64) -> bool {
        let (w, b) = self.bit(ext);
        self.window[w] & b != 0
    }

    /// Marks `ext` received with content `print`.
    fn mark_print(&mut self, ext: u64, print: Content) -> bool {
        let seen = self.mark(ext);
        if self.prints.is_empty() && self.max.is_some() {
            self.prints = vec![Content::default(); DUP_WINDOW as usize];
        }
        if let Some(p) = self.prints.get_mut((ext % DUP_WINDOW) as usize) {
            *p = print;
        }
        seen
    }

    /// True when `ext`, `behind` the highest, was received with content that
    /// `print` does not repeat.
    fn other_content(&self, ext: u64, behind: u64, print: Content) -> bool {
        self.prints
            .get((ext % DUP_WINDOW) as usize)
            .is_some_and(|&p| !print.repeats(p, behind))
    }

    fn clear_range(&mut self, from: u64, to: u64) {
        // Clears bits for sequence numbers (from, to]: they wrap onto slots of old numbers.
        if to.saturating_sub(from) >= DUP_WINDOW {
            self.window.iter_mut().for_each(|w| *w = 0);
            return;
        }
        for ext in from + 1..=to {
            let (w, b) = self.bit(ext);
            self.window[w] &= !b;
        }
    }

    fn start_segment(&mut self, ext: u64, print: Content) {
        if let Some(max) = self.max {
            self.expected_done += max - self.min + 1;
        }
        self.window.iter_mut().for_each(|w| *w = 0);
        self.mark_print(ext, print);
        self.max = Some(ext);
        self.min = ext;
        self.distinct += 1;
    }

    /// A new segment: the sender restarted its sequence numbers.
    fn restart(&mut self, ext: u64, print: Content) -> SeqEvent {
        self.errors += 1;
        self.restarts += 1;
        self.start_segment(ext, print);
        SeqEvent::Reset
    }

    /// Accounts for one packet with sequence number `seq` and content `print`.
    fn push(&mut self, seq: u16, print: Content) -> SeqEvent {
        let Some(max) = self.max else {
            // Start at 2^16 so that a packet just before the first one extends without underflow.
            self.start_segment(u64::from(seq) + (1 << 16), print);
            return SeqEvent::First;
        };
        if let Some((cand, cand_print)) = self.pending.take() {
            let cand_ext = crate::rtp::extend_u16(Some(max), cand);
            if seq == cand.wrapping_add(1) {
                // RFC 3550 A.1: two sequential packets confirm the new base.
                self.restart(cand_ext, cand_print);
                let ext = crate::rtp::extend_u16(self.max, seq);
                self.mark_print(ext, print);
                self.max = Some(ext);
                self.distinct += 1;
                return SeqEvent::Reset;
            }
            // A stray after all: counted as it looked before the restart rule.
            self.settle(cand_ext);
        }
        let ext = crate::rtp::extend_u16(Some(max), seq);
        if ext > max {
            let jump = ext - max;
            if jump > MAX_DROPOUT {
                return self.restart(ext, print);
            }
            self.clear_range(max, ext);
            self.mark_print(ext, print);
            self.max = Some(ext);
            self.distinct += 1;
            if jump > 1 {
                self.errors += 1;
                SeqEvent::Gap
            } else {
                SeqEvent::InOrder
            }
        } else if max - ext >= DUP_WINDOW.min(MAX_MISORDER.max(MAX_DROPOUT)) {
            self.restart(ext, print)
        } else if (self.seen(ext) && self.other_content(ext, max - ext, print))
            || (ext < self.min && max - ext > MAX_MISORDER)
        {
            // Other content on a number already received (a duplicate repeats
            // it), or far before the segment's start: a restart if its
            // successor follows (RFC 3550 A.1 probation).
            self.pending = Some((seq, print));
            SeqEvent::Pending
        } else {
            self.settle(ext)
        }
    }

    /// Counts a packet at or below `max`: a duplicate or a reordered one.
    fn settle(&mut self, ext: u64) -> SeqEvent {
        if self.mark(ext) {
            self.duplicates += 1;
            SeqEvent::Duplicate
        } else {
            self.distinct += 1;
            self.min = self.min.min(ext);
            self.reordered += 1;
            SeqEvent::Reordered
        }
    }

    /// Settles a packet still on probation at the end of the stream.
    fn finish(&mut self) {
        if let (Some((cand, _)), Some(max)) = (self.pending.take(), self.max) {
            let ext = crate::rtp::extend_u16(Some(max), cand);
            self.settle(ext);
        }
    }

    fn expected(&self) -> u64 {
        self.expected_done + self.max.map_or(0, |m| m - self.min + 1)
    }
}

/// Per payload type: packets and the codec guesser.
#[derive(Clone, Debug)]
struct PtState {
    packets: u64,
    guesser: CodecGuesser,
}

/// Running state of one candidate or confirmed stream.
#[derive(Clone, Debug)]
struct StreamState {
    packets: u64,
    bytes: u64,
    first: CaptureTime,
    last: CaptureTime,
    max_delta_ns: i64,
    seq: SeqTrack,
    last_seq: Option<u16>,
    good_steps: u64,
    /// Boxed: a BTreeMap node holds room for 11 values, and a guesser is large;
    /// unboxed, every one-packet look-alike would cost several KiB.
    pts: BTreeMap<u8, Box<PtState>>,
    encaps: Vec<Encap>,
    /// (arrival ns, RTP timestamp, payload type) of the last in-order packet.
    last_transit: Option<(i64, u32, u8)>,
    jitter: [Jitter; CLOCKS.len()],
    padding_only: u64,
    /// SRTP's authentication tag on one-byte-per-tick audio (RFC 3711 §3.1).
    tag_probe: crate::srtp::detect::TagProbe,
    /// The tag length, once the probe saw it.
    srtp_tag: Option<usize>,
}

impl StreamState {
    fn new(time: CaptureTime) -> Self {
        StreamState {
            packets: 0,
            bytes: 0,
            first: time,
            last: time,
            max_delta_ns: 0,
            seq: SeqTrack::default(),
            last_seq: None,
            good_steps: 0,
            pts: BTreeMap::new(),
            encaps: Vec::new(),
            last_transit: None,
            jitter: [Jitter::default(); CLOCKS.len()],
            padding_only: 0,
            tag_probe: Default::default(),
            srtp_tag: None,
        }
    }

    fn push(&mut self, time: CaptureTime, encap: Encap, pkt: &RtpPacket<'_>, len: usize) {
        if self.packets > 0 {
            self.max_delta_ns = self.max_delta_ns.max(time.nanos_since(self.last));
        }
        self.packets += 1;
        self.bytes += len as u64;
        self.last = self.last.max(time);
        self.first = self.first.min(time);
        if !self.encaps.contains(&encap) {
            self.encaps.push(encap);
        }
        let seq = pkt.sequence_number();
        if let Some(prev) = self.last_seq
            && crate::rtp::seq::is_forward_step(prev, seq)
        {
            self.good_steps += 1;
        }
        self.last_seq = Some(seq);
        let pt = pkt.payload_type();
        let st = self.pts.entry(pt).or_insert_with(|| {
            Box::new(PtState {
                packets: 0,
                guesser: CodecGuesser::new(pt),
            })
        });
        st.packets += 1;
        let payload = pkt.payload();
        if payload.is_empty() {
            self.padding_only += 1;
        }
        let static_codec = crate::codec::static_payload_type(pt).map(|s| s.codec);
        if self.srtp_tag.is_none() && crate::srtp::detect::TagProbe::applies(static_codec) {
            self.srtp_tag = self.tag_probe.push(seq, pkt.timestamp(), payload.len());
        }
        // Padding-only packets (RFC 3550 §5.1, e.g. bandwidth probes) are only counted
        // by the guesser: they take no part in the guess, which says when they were all.
        st.guesser
            .push_at(pkt.marker(), pkt.timestamp(), payload, time.as_nanos());
        let print = Content {
            print: crate::rtp::seq::fingerprint(pkt.timestamp(), payload) as u32,
            ms: (time.as_nanos() / 1_000_000) as u32,
        };
        let event = self.seq.push(seq, print);
        if matches!(
            event,
            SeqEvent::First | SeqEvent::InOrder | SeqEvent::Gap | SeqEvent::Reset
        ) {
            self.update_jitter(time, pkt.timestamp(), pt, event == SeqEvent::Reset);
        }
    }

    fn update_jitter(&mut self, time: CaptureTime, ts: u32, pt: u8, reset: bool) {
        let arrival = time.as_nanos();
        if let (Some((prev_arrival, prev_ts, prev_pt)), false) = (self.last_transit, reset) {
            // RFC 3550 A.8: D(i,j) = (Rj - Ri) - (Sj - Si), J += (|D| - J) / 16.
            // Payload-type changes (e.g. comfort noise) run on other clocks: skip that step.
            if prev_pt == pt {
                let dts = ts.wrapping_sub(prev_ts) as i32 as f64;
                let darr = (arrival - prev_arrival) as f64;
                for (j, clock) in self.jitter.iter_mut().zip(CLOCKS) {
                    let d = (darr - dts * 1e9 / f64::from(clock)).abs();
                    j.j_ns += (d - j.j_ns) / 16.0;
                    j.sum_ns += j.j_ns;
                    j.max_ns = j.max_ns.max(j.j_ns);
                    j.samples += 1;
                }
            }
        }
        self.last_transit = Some((arrival, ts, pt));
    }

    /// Behaves like RTP: advancing sequence numbers on most steps.
    fn confirmed(&self) -> bool {
        crate::rtp::seq::looks_like_rtp(self.packets, self.good_steps)
    }
}

/// RTCP seen for one SSRC (sender reports kept for A/V alignment later).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RtcpSummary {
    /// The reporting SSRC, hex.
    pub ssrc: String,
    /// The 5-tuple the RTCP came on.
    pub src: String,
    /// Receiver of the RTCP.
    pub dst: String,
    /// RTCP compound packets.
    pub compounds: u64,
    /// Sender reports.
    pub sender_reports: u64,
    /// Receiver reports.
    pub receiver_reports: u64,
    /// Other packets (SDES, BYE, APP, feedback, XR).
    pub other: u64,
    /// Compounds that ended in a malformed packet.
    pub malformed: u64,
    /// First SR: NTP time (seconds since 1900) and RTP timestamp.
    pub first_sr: Option<SrPoint>,
    /// Last SR.
    pub last_sr: Option<SrPoint>,
}

/// An RTCP sender report's mapping of NTP to RTP time.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct SrPoint {
    /// Capture time of the SR.
    pub capture_time: CaptureTime,
    /// NTP timestamp, 32.32 fixed point.
    pub ntp: u64,
    /// RTP timestamp at the NTP time.
    pub rtp_timestamp: u32,
}

impl Serialize for CaptureTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339_millis())
    }
}

/// One reported stream.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StreamReport {
    /// Sender address:port.
    pub src: String,
    /// Receiver address:port.
    pub dst: String,
    /// `udp` or `tcp`.
    pub transport: Transport,
    /// How packets were carried: `plain`, `turn-channel`, `turn-indication`, `rfc4571`.
    pub encapsulation: Vec<&'static str>,
    /// SSRC in hex (`0x1A2B3C4D`).
    pub ssrc: String,
    /// Payload types seen, ascending.
    pub payload_types: Vec<u8>,
    /// Guessed codec of the dominant payload type (`null` when unsure).
    pub codec: Option<crate::codec::Codec>,
    /// RTP clock rate used for jitter.
    pub clock_rate: Option<u32>,
    /// Why the codec was guessed.
    pub codec_evidence: String,
    /// Packets received (duplicates included; equals tshark's Pkts).
    pub packets: u64,
    /// RTP bytes (header + payload) received.
    pub bytes: u64,
    /// First packet's capture time.
    pub first_time: CaptureTime,
    /// Last packet's capture time.
    pub last_time: CaptureTime,
    /// Seconds from the first capture frame of the run to this stream's first packet.
    pub start_s: f64,
    /// Seconds between first and last packet.
    pub duration_s: f64,
    /// Packets the sequence numbers say were sent.
    pub expected: u64,
    /// Expected minus distinct received.
    pub lost: u64,
    /// Repeated sequence numbers.
    pub duplicates: u64,
    /// Late (older than the highest) non-duplicate packets.
    pub reordered: u64,
    /// Sequence gaps and restarts.
    pub sequence_errors: u64,
    /// Times the sender started its sequence numbers again (new segments).
    pub restarts: u64,
    /// Largest gap between consecutive packets, ms.
    pub max_delta_ms: f64,
    /// Mean RFC 3550 jitter, ms (`null` without a known clock rate).
    pub mean_jitter_ms: Option<f64>,
    /// Max RFC 3550 jitter, ms.
    pub max_jitter_ms: Option<f64>,
    /// Average bitrate of RTP bytes over the stream's duration, kbit/s.
    pub bitrate_kbps: Option<f64>,
    /// Packets with no payload (padding only, e.g. bandwidth probes).
    pub padding_only: u64,
    /// `srtp` when the payloads carry SRTP authentication tags (G.711/G.722:
    /// each longer than its samples by a tag), `dtls-srtp` when the 5-tuple
    /// carried DTLS; absent when nothing shows encryption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<&'static str>,
    /// Index in the report's `dtls` list of the handshake on this stream's
    /// 5-tuple (the latest, after an ICE restart); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtls_association: Option<usize>,
}

/// One DTLS handshake (association) the capture holds.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DtlsReport {
    /// The DTLS client (it sent the ClientHello): address:port.
    pub client: String,
    /// The DTLS server.
    pub server: String,
    /// `udp` or `tcp`.
    pub transport: Transport,
    /// `1.0`, `1.2`, `1.3`; `null` before a ServerHello.
    pub version: Option<&'static str>,
    /// SRTP profiles the client offered (use_srtp, RFC 5764 §4.1.1), in its order.
    pub profiles_offered: Vec<&'static str>,
    /// The profile the server chose; `null` when not known (DTLS 1.3 without
    /// the server handshake secret: it is in the encrypted EncryptedExtensions).
    pub profile: Option<&'static str>,
    /// First 8 hex digits of the ClientHello random: what to look for in a key log.
    pub client_random_prefix: String,
    /// `found` (the key log has its secret), `missing` (it has not), `unsupported`
    /// (it has, for a negotiation rtprec cannot decrypt), `incomplete` (the
    /// capture lacks a hello), or `no-key-log` (no `--keylog` given).
    pub key: &'static str,
    /// SSRCs of the streams on its 5-tuple, in hex.
    pub streams: Vec<String>,
}

/// Counters of everything that was not an RTP stream.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Classified {
    /// Datagrams looked at.
    pub datagrams: u64,
    /// RTP packets in reported streams.
    pub rtp: u64,
    /// RTP-looking packets in flows that did not behave like RTP.
    pub rtp_rejected: u64,
    /// RTP-looking packets that failed to parse.
    pub rtp_malformed: u64,
    /// RTCP compound packets.
    pub rtcp: u64,
    /// STUN messages.
    pub stun: u64,
    /// DTLS records.
    pub dtls: u64,
    /// Other datagrams.
    pub other: u64,
    /// Streams forgotten (one-packet candidates) or not tracked at [`MAX_STREAMS`]
    /// (hostile captures only; their packets count in `rtp_rejected`). Absent when zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub streams_dropped: u64,
}

/// For serde: leaves a counter out of the JSON while it is zero, so normal reports keep their shape.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Streaming analyser: push datagrams in capture order, then `finish`.
pub struct Analyzer {
    streams: crate::hash::FastMap<StreamKey, StreamState>,
    rtcp: crate::hash::FastMap<(Flow, Ssrc), RtcpSummary>,
    counts: Classified,
    first_time: Option<CaptureTime>,
    /// The cap on tracked streams (normally [`MAX_STREAMS`]; smaller in tests).
    max_streams: usize,
    /// Datagrams until the next sweep at the cap may run: a sweep costs a pass
    /// over every stream, so it runs at most once per `max_streams / 4` datagrams.
    sweep_wait: u64,
    /// Warnings (the first `streams-cap` only).
    diagnostics: Vec<Diagnostic>,
    /// 5-tuples (both directions) that carried DTLS: their media is DTLS-SRTP (RFC 5764).
    dtls_flows: crate::hash::FastSet<Flow>,
    /// The DTLS handshakes.
    dtls: crate::dtls::DtlsTracker,
    /// `--keylog`: says whether each handshake's secret is known.
    keylog: Option<crate::dtls::KeyLog>,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::with_cap(MAX_STREAMS)
    }
}

impl Analyzer {
    /// An empty analyser.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty analyser tracking at most `max_streams` streams at once (tests use small caps).
    pub fn with_cap(max_streams: usize) -> Self {
        Analyzer {
            streams: Default::default(),
            rtcp: Default::default(),
            counts: Classified::default(),
            first_time: None,
            max_streams: max_streams.max(1),
            sweep_wait: 0,
            diagnostics: Vec::new(),
            dtls_flows: Default::default(),
            dtls: Default::default(),
            keylog: None,
        }
    }

    /// A TLS key log the capture carries (pcapng Decryption Secrets Block) joins
    /// `--keylog`'s; one that does not parse is left out.
    pub fn add_secrets(&mut self, s: &crate::capture::Secrets) {
        if s.kind != crate::capture::SecretsKind::TlsKeyLog {
            return;
        }
        if let Ok(log) = crate::dtls::KeyLog::from_dsb_bytes(&s.data, "secrets block") {
            self.keylog.get_or_insert_with(Default::default).merge(log);
        }
    }

    /// Reports, per DTLS handshake, whether `keylog` holds its secret.
    pub fn with_keylog(mut self, keylog: crate::dtls::KeyLog) -> Self {
        self.keylog = Some(keylog);
        self
    }

    /// Warnings so far (the stream cap), drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Room for a new stream: at the cap, forgets one-packet candidates (the
    /// cheapest to lose: a real stream only loses its first packet); false when
    /// still full, and the new stream is dropped.
    fn make_room(&mut self, d: &Datagram<'_>) -> bool {
        if self.streams.len() < self.max_streams {
            return true;
        }
        if self.sweep_wait == 0 {
            let mut forgotten = 0;
            self.streams.retain(|_, s| {
                let keep = s.packets > 1 || s.confirmed();
                if !keep {
                    forgotten += s.packets;
                }
                keep
            });
            self.counts.rtp_rejected += forgotten;
            // One packet each: as many streams as packets were forgotten.
            self.counts.streams_dropped += forgotten;
            self.sweep_wait = (self.max_streams / 4).max(1) as u64;
            if self.streams.len() < self.max_streams {
                self.warn_cap(d);
                return true;
            }
        }
        self.counts.streams_dropped += 1;
        self.counts.rtp_rejected += 1;
        self.warn_cap(d);
        false
    }

    /// The `streams-cap` warning, once, on the packet that met the cap.
    fn warn_cap(&mut self, d: &Datagram<'_>) {
        if self.diagnostics.is_empty() {
            let mut ctx = d.meta.ctx();
            ctx.rtp = d.payload.get(8..12).map(|b| crate::error::RtpCtx {
                ssrc: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                seq: d
                    .payload
                    .get(2..4)
                    .map_or(0, |s| u16::from_be_bytes([s[0], s[1]])),
            });
            self.diagnostics.push(Diagnostic {
                ctx,
                kind: "streams-cap",
                message: format!(
                    "more than {} streams at once (the streams cap): one-packet streams are \
                     forgotten, then new streams are not analysed; their packets count as \
                     rejected RTP-like (see streams_dropped)",
                    self.max_streams
                ),
            });
        }
    }

    /// Notes the capture time of a frame (for relative start times).
    pub fn saw_frame(&mut self, time: CaptureTime) {
        self.first_time = Some(self.first_time.map_or(time, |t| t.min(time)));
    }

    /// Looks at one datagram.
    pub fn push(&mut self, d: &Datagram<'_>) {
        self.counts.datagrams += 1;
        self.sweep_wait = self.sweep_wait.saturating_sub(1);
        if self.counts.datagrams.is_multiple_of(PRUNE_EVERY) {
            self.prune(d.meta.time);
        }
        let rtcp_hint = matches!(
            d.meta.link,
            crate::capture::Link::RtpDump { rtcp: true, .. }
        );
        match classify(d.payload) {
            PacketClass::Rtcp => self.push_rtcp(d),
            PacketClass::Rtp if rtcp_hint => self.push_rtcp(d),
            PacketClass::Rtp => match RtpPacket::parse(d.payload) {
                Ok(pkt) => {
                    let key = StreamKey {
                        flow: d.flow,
                        ssrc: pkt.ssrc(),
                    };
                    if !self.streams.contains_key(&key) && !self.make_room(d) {
                        return;
                    }
                    self.streams
                        .entry(key)
                        .or_insert_with(|| StreamState::new(d.meta.time))
                        .push(d.meta.time, d.encap, &pkt, d.payload.len());
                }
                Err(_) => self.counts.rtp_malformed += 1,
            },
            PacketClass::Stun => self.counts.stun += 1,
            PacketClass::Dtls => {
                self.counts.dtls += 1;
                let empty = crate::dtls::KeyLog::default();
                self.dtls
                    .push(d.flow, d.payload, self.keylog.as_ref().unwrap_or(&empty));
                // Bounded: a capture of many calls keeps the first 4096 associations.
                if self.dtls_flows.len() < 4096 {
                    self.dtls_flows.insert(d.flow);
                    self.dtls_flows.insert(d.flow.reversed());
                }
            }
            _ => self.counts.other += 1,
        }
    }

    fn push_rtcp(&mut self, d: &Datagram<'_>) {
        self.counts.rtcp += 1;
        let Some(ssrc) = d
            .payload
            .get(4..8)
            .map(|b| Ssrc(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        else {
            return;
        };
        let s = self
            .rtcp
            .entry((d.flow, ssrc))
            .or_insert_with(|| RtcpSummary {
                ssrc: ssrc.to_string(),
                src: d.flow.src.to_string(),
                dst: d.flow.dst.to_string(),
                ..Default::default()
            });
        s.compounds += 1;
        for item in rtcp::compound(d.payload) {
            match item {
                Ok(RtcpPacket::SenderReport(sr)) => {
                    s.sender_reports += 1;
                    let p = SrPoint {
                        capture_time: d.meta.time,
                        ntp: sr.ntp.0,
                        rtp_timestamp: sr.rtp_timestamp,
                    };
                    s.first_sr.get_or_insert(p);
                    s.last_sr = Some(p);
                }
                Ok(RtcpPacket::ReceiverReport(_)) => s.receiver_reports += 1,
                Ok(_) => s.other += 1,
                Err(_) => {
                    s.malformed += 1;
                    break;
                }
            }
        }
    }

    fn prune(&mut self, now: CaptureTime) {
        let before = self.streams.len();
        let mut rejected = 0;
        self.streams.retain(|_, s| {
            let keep = s.confirmed() || now.nanos_since(s.last) < CANDIDATE_IDLE_NS;
            if !keep {
                rejected += s.packets;
            }
            keep
        });
        debug_assert!(self.streams.len() <= before);
        self.counts.rtp_rejected += rejected;
    }

    /// The report: confirmed streams sorted by first packet, then 5-tuple and SSRC.
    pub fn finish(mut self) -> StreamsReport {
        let origin = self.first_time.unwrap_or_default();
        let mut streams: Vec<(StreamKey, StreamState)> = Vec::new();
        for (k, s) in self.streams.drain() {
            if s.confirmed() {
                self.counts.rtp += s.packets;
                streams.push((k, s));
            } else {
                self.counts.rtp_rejected += s.packets;
            }
        }
        streams.sort_by(|(ka, a), (kb, b)| a.first.cmp(&b.first).then(ka.cmp(kb)));
        let dtls = &self.dtls_flows;
        let associations = self.dtls.associations();
        let mut dtls_reports: Vec<DtlsReport> = associations
            .iter()
            .map(|a| dtls_report(a, self.keylog.is_some()))
            .collect();
        let streams = streams
            .into_iter()
            .map(|(k, s)| {
                let on_dtls = dtls.contains(&k.flow);
                let mut r = report(k, s, origin, on_dtls);
                r.dtls_association = associations.iter().rposition(|a| a.on(&k.flow));
                if let Some(i) = r.dtls_association {
                    dtls_reports[i].streams.push(r.ssrc.clone());
                }
                r
            })
            .collect();
        let mut rtcp: Vec<RtcpSummary> = self.rtcp.into_values().collect();
        rtcp.sort_by(|a, b| (&a.src, &a.dst, &a.ssrc).cmp(&(&b.src, &b.dst, &b.ssrc)));
        StreamsReport {
            streams,
            rtcp,
            classified: self.counts,
            dtls: dtls_reports,
        }
    }
}

fn encap_name(e: Encap) -> &'static str {
    match e {
        Encap::Plain => "plain",
        Encap::TurnChannel(_) => "turn-channel",
        Encap::TurnIndication => "turn-indication",
        Encap::Rfc4571 => "rfc4571",
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn report(k: StreamKey, mut s: StreamState, origin: CaptureTime, on_dtls: bool) -> StreamReport {
    s.seq.finish();
    // The dominant payload type names the codec; others (CN, DTMF) are listed. Packets
    // with media count first: padding-only probes may use a payload type of their own.
    let dominant = s
        .pts
        .iter()
        .max_by_key(|(pt, st)| (st.guesser.packets(), st.packets, std::cmp::Reverse(**pt)))
        .map(|(_, st)| st);
    let guess = dominant.map(|st| st.guesser.guess()).unwrap_or(CodecGuess {
        codec: None,
        clock_rate: None,
        evidence: String::new(),
        red: None,
    });
    let jitter = guess
        .clock_rate
        .and_then(|c| CLOCKS.iter().position(|&x| x == c))
        .map(|i| s.jitter[i]);
    let (mean_jitter_ms, max_jitter_ms) = match jitter {
        Some(j) if j.samples > 0 => (
            Some(round3(j.sum_ns / j.samples as f64 / 1e6)),
            Some(round3(j.max_ns / 1e6)),
        ),
        Some(_) => (Some(0.0), Some(0.0)),
        None => (None, None),
    };
    let duration_ns = s.last.nanos_since(s.first);
    let expected = s.seq.expected();
    let mut encaps: Vec<&'static str> = s.encaps.iter().map(|e| encap_name(*e)).collect();
    encaps.sort_unstable();
    encaps.dedup();
    StreamReport {
        src: k.flow.src.to_string(),
        dst: k.flow.dst.to_string(),
        transport: k.flow.transport,
        encapsulation: encaps,
        ssrc: k.ssrc.to_string(),
        payload_types: s.pts.keys().copied().collect(),
        codec: guess.codec,
        clock_rate: guess.clock_rate,
        codec_evidence: guess.evidence,
        packets: s.packets,
        bytes: s.bytes,
        first_time: s.first,
        last_time: s.last,
        start_s: round3(s.first.nanos_since(origin) as f64 / 1e9),
        duration_s: round3(duration_ns as f64 / 1e9),
        expected,
        lost: expected.saturating_sub(s.seq.distinct),
        duplicates: s.seq.duplicates,
        reordered: s.seq.reordered,
        sequence_errors: s.seq.errors,
        restarts: s.seq.restarts,
        max_delta_ms: round3(s.max_delta_ns as f64 / 1e6),
        mean_jitter_ms,
        max_jitter_ms,
        bitrate_kbps: (duration_ns > 0)
            .then(|| round3(s.bytes as f64 * 8.0 / (duration_ns as f64 / 1e9) / 1000.0)),
        padding_only: s.padding_only,
        encrypted: if on_dtls {
            Some("dtls-srtp")
        } else {
            s.srtp_tag.map(|_| "srtp")
        },
        dtls_association: None,
    }
}

/// Everything `rtprec streams` reports about the RTP in a capture.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StreamsReport {
    /// RTP streams that behaved like RTP.
    pub streams: Vec<StreamReport>,
    /// RTCP per reporting SSRC and flow.
    pub rtcp: Vec<RtcpSummary>,
    /// What the datagrams were.
    pub classified: Classified,
    /// DTLS handshakes, in capture order; absent when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dtls: Vec<DtlsReport>,
}

/// The report of one association; `keylog` says whether a key log was given.
fn dtls_report(a: &crate::dtls::Association, keylog: bool) -> DtlsReport {
    use crate::dtls::AssocKeys;
    DtlsReport {
        client: a.client.to_string(),
        server: a.server.to_string(),
        transport: a.transport,
        version: a.version.map(crate::dtls::DtlsVersion::number),
        profiles_offered: a.offered_profiles.iter().map(|p| p.name()).collect(),
        profile: a.chosen_profile.map(|p| p.name()),
        client_random_prefix: a.client_random[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        key: match (&a.keys, keylog) {
            (AssocKeys::Keyed(_), _) => "found",
            (_, false) => "no-key-log",
            (AssocKeys::NoKey, true) => "missing",
            (AssocKeys::Unsupported(_), true) => "unsupported",
            (AssocKeys::Pending, true) => "incomplete",
        },
        streams: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One RTP datagram (PCMU-sized payload) from `port` with `ssrc` and `seq` at `ms`.
    fn cap_push(a: &mut Analyzer, port: u16, ssrc: u32, seq: u16, ms: i64) {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend((0..160u32).map(|i| (i * 7 + u32::from(seq)) as u8));
        let d = Datagram {
            meta: crate::capture::FrameMeta {
                file: crate::error::FileId(0),
                index: 1,
                offset: 0,
                time: CaptureTime::from_nanos(1_000_000_000_000 + ms * 1_000_000),
                link: crate::capture::Link::Pcap(crate::capture::LinkType::RAW),
                orig_len: 0,
            },
            flow: Flow {
                src: std::net::SocketAddr::from(([10, 0, 0, 1], port)),
                dst: "10.0.0.2:6000".parse().expect("addr"),
                transport: Transport::Udp,
            },
            encap: Encap::Plain,
            payload: &p,
        };
        a.push(&d);
    }

    #[test]
    fn the_streams_cap_holds_and_real_streams_still_get_in() {
        let mut a = Analyzer::with_cap(100);
        // A real stream before the flood, 10,000 one-packet SSRCs with a real stream
        // interleaved (one packet per 50 of the flood), then its end.
        for seq in 0..10 {
            cap_push(&mut a, 5000, 1, seq, i64::from(seq) * 20);
        }
        for i in 0..10_000u32 {
            cap_push(
                &mut a,
                7000,
                0x1000_0000 + i,
                i as u16,
                200 + i64::from(i) / 10,
            );
            assert!(a.streams.len() <= 100);
            if i % 50 == 0 {
                cap_push(&mut a, 5002, 2, (i / 50) as u16, 200 + i64::from(i) / 10);
            }
        }
        let diags = a.take_diagnostics();
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].kind, "streams-cap");
        assert!(
            diags[0].message.contains("100 streams"),
            "{}",
            diags[0].message
        );
        let r = a.finish();
        let ssrcs: Vec<&str> = r.streams.iter().map(|s| s.ssrc.as_str()).collect();
        assert_eq!(ssrcs, ["0x00000001", "0x00000002"]);
        assert_eq!(r.streams[1].packets, 200);
        assert!(r.classified.streams_dropped >= 9_900, "{:?}", r.classified);
        assert_eq!(r.classified.rtp + r.classified.rtp_rejected, 10_210);
        // A normal report has no streams_dropped key.
        let json = serde_json::to_string(&Classified::default()).expect("serializes");
        assert!(!json.contains("streams_dropped"));
    }

    /// Pushes sequence numbers whose content depends on the number only
    /// (repeats are exact duplicates), then settles the end.
    fn walk(seqs: &[u16]) -> SeqTrack {
        let mut t = SeqTrack::default();
        for &s in seqs {
            t.push(s, content(u32::from(s), 0));
        }
        t.finish();
        t
    }

    #[test]
    fn counts_loss_duplicates_and_reordering_separately() {
        // (sequence numbers, expected, lost, duplicates, reordered, errors)
        type Case<'a> = (&'a [u16], u64, u64, u64, u64, u64);
        let cases: &[Case] = &[
            (&[1, 2, 3, 4], 4, 0, 0, 0, 0),
            (&[1, 2, 4, 5], 5, 1, 0, 0, 1),
            (&[1, 2, 2, 3], 3, 0, 1, 0, 0),
            (&[1, 3, 2, 4], 4, 0, 0, 1, 1),
            (&[1, 3, 3, 2, 2, 4], 4, 0, 2, 1, 1),
            (&[65534, 65535, 0, 1], 4, 0, 0, 0, 0),
            (&[65535, 1, 0, 2], 4, 0, 0, 1, 1),
            (&[5, 4, 6], 3, 0, 0, 1, 0),
            (&[10, 11, 20000, 20001], 4, 0, 0, 0, 1),
        ];
        for (seqs, expected, lost, dups, reord, errors) in cases {
            let t = walk(seqs);
            let got = (
                t.expected(),
                t.expected() - t.distinct,
                t.duplicates,
                t.reordered,
                t.errors,
            );
            assert_eq!(got, (*expected, *lost, *dups, *reord, *errors), "{seqs:?}");
        }
    }

    #[test]
    fn duplicate_window_survives_wraparound() {
        let mut seqs: Vec<u16> = (0..70_000u32).map(|i| (i % 65_536) as u16).collect();
        seqs.push(65_535 - 10); // far behind after the wrap: a restart, not a duplicate
        let t = walk(&seqs[..70_000]);
        assert_eq!((t.expected(), t.duplicates, t.reordered), (70_000, 0, 0));
    }

    fn content(print: u32, ms: u32) -> Content {
        Content { print, ms }
    }

    /// Pushes (seq, content) pairs 20 ms apart and settles the end.
    fn walk_content(pkts: impl IntoIterator<Item = (u16, u32)>) -> SeqTrack {
        let mut t = SeqTrack::default();
        for (n, (s, c)) in pkts.into_iter().enumerate() {
            t.push(s, content(c, n as u32 * 20));
        }
        t.finish();
        t
    }

    #[test]
    fn restarts_inside_the_ssrc_are_new_segments_not_duplicates() {
        // The SIP endpoint: seq 174 -> 0 (and ts 27840 -> 0), twice.
        let segs = [175u16, 175, 300];
        let mut pkts = Vec::new();
        let mut id = 0u32;
        for n in segs {
            for s in 0..n {
                pkts.push((s, id));
                id += 1;
            }
        }
        let t = walk_content(pkts);
        assert_eq!(
            (
                t.expected(),
                t.expected() - t.distinct,
                t.duplicates,
                t.reordered
            ),
            (650, 0, 0, 0)
        );
        assert_eq!((t.restarts, t.errors), (2, 2));
    }

    #[test]
    fn restart_before_the_segment_start_is_confirmed_by_its_successor() {
        // 1000..1300, then 500.. (more than MAX_MISORDER before the first).
        let pkts = (1000u16..1300).chain(500..600).map(|s| (s, u32::from(s)));
        let t = walk_content(pkts);
        assert_eq!((t.restarts, t.duplicates, t.reordered), (1, 0, 0));
        assert_eq!((t.expected(), t.distinct), (400, 400));
    }

    #[test]
    fn delayed_exact_copies_and_strays_are_no_restart() {
        // Every packet again 20 later with the same content: duplicates.
        let mut pkts = Vec::new();
        for s in 0u16..400 {
            pkts.push((s, u32::from(s)));
            if s >= 20 {
                pkts.push((s - 20, u32::from(s - 20)));
            }
        }
        // One packet with other content on a received number, not followed by its successor.
        pkts.push((10, 99_999));
        pkts.push((400, 400));
        let t = walk_content(pkts);
        assert_eq!((t.restarts, t.duplicates, t.reordered), (0, 381, 0));
        assert_eq!(t.expected(), 401);
    }

    #[test]
    fn silent_restart_repeating_content_is_a_restart() {
        // Same seq, ts and payload (G.711 silence) 3.5 s later: a restart.
        let pkts = (0u16..175).chain(0..175).map(|s| (s, 7));
        let t = walk_content(pkts);
        assert_eq!((t.restarts, t.duplicates, t.expected()), (1, 0, 350));
    }
}
