//! TCP stream reassembly and message framing: TURN over TCP (RFC 8656 §12.5) and RFC 4571.
//!
//! Each direction of a connection is reassembled on its own, with bounded
//! memory: a capped number of flows (least recently used evicted), a capped
//! partial-message buffer and a few out-of-order segments held back. A hole
//! that never fills (the capture lost a segment) is skipped once the hold-back
//! is full: the partial message is dropped, counted as a gap, and framing
//! resynchronises at the next segment that starts with a plausible message.
//!
//! The framing is detected from the first bytes of the stream: a STUN header
//! or ChannelData means TURN over TCP; a 2-byte length followed by RTP/RTCP
//! (or STUN, as ICE-TCP sends, RFC 6544) means RFC 4571. Anything else (TLS,
//! HTTP, SIP ...) is counted and ignored. Without the SYN the first segment
//! seen must hold whole messages exactly, which random bytes almost never do.

use super::turn::{self, Unwrapped};
use super::{Datagram, Diags, Encap, Flow, NetStats, Transport};
use crate::capture::FrameMeta;
use std::collections::HashMap;

/// Result of reading a message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameLen {
    /// Not enough bytes to read the header.
    NeedMore,
    /// The whole message (header, body, padding) is this long.
    Len(usize),
    /// These bytes cannot start a message: the stream is out of sync.
    Invalid,
}

/// How a TCP stream is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// Not decided yet.
    Unknown,
    /// TURN over TCP: STUN messages and padded ChannelData.
    Turn,
    /// RFC 4571: 2-byte length, then the packet.
    Rfc4571,
    /// Not media: bytes are counted and dropped.
    Ignored,
}

/// One TCP segment, as far as reassembly cares.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    /// Sequence number of the first byte (of the SYN when `syn`).
    pub seq: u32,
    /// SYN flag: `seq` is the initial sequence number.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// The segment's payload.
    pub data: &'a [u8],
}

/// Bounds of the reassembler's memory.
#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    /// Flows tracked at once.
    pub max_flows: usize,
    /// Bytes buffered per flow (partial message plus held segments).
    pub max_buffer: usize,
    /// Out-of-order segments held per flow before a hole is declared a gap.
    pub max_held_segments: usize,
}

/// Everything a stream needs to emit datagrams and report problems.
pub struct Cx<'a, 'o> {
    /// The frame being decoded.
    pub meta: FrameMeta,
    /// The flow of the segment (transport is TCP).
    pub flow: Flow,
    /// Counters.
    pub stats: &'a mut NetStats,
    /// First-occurrence diagnostics.
    pub diags: &'a mut Diags,
    /// Receiver of the datagrams.
    pub out: &'a mut (dyn FnMut(Datagram<'_>) + 'o),
}

/// Segments that do not frame as media, seen before giving up on a stream without its SYN.
const MAX_DETECT_ATTEMPTS: u8 = 16;
/// Bytes gathered at the start of a stream before deciding its framing.
const DETECT_MIN_LEN: usize = 8;
/// Messages checked when deciding a stream's framing.
const MAX_CHAIN_CHECK: usize = 64;

#[derive(Debug)]
struct Stream {
    /// Sequence number of the next byte expected in order.
    next_seq: Option<u32>,
    framing: Framing,
    /// The SYN was seen and no data yet: the next byte is the stream's first.
    at_start: bool,
    /// False after a gap or desync: the next segment must start a message.
    in_sync: bool,
    attempts: u8,
    /// A message started but not finished.
    pending: Vec<u8>,
    /// Out-of-order segments, sorted by distance from `next_seq`.
    held: Vec<(u32, Vec<u8>)>,
    held_bytes: usize,
    last_used: u64,
    /// The last frame that carried a segment of this flow (for `finish`).
    last_meta: FrameMeta,
}

impl Stream {
    fn new(tick: u64, meta: FrameMeta) -> Self {
        Stream {
            next_seq: None,
            framing: Framing::Unknown,
            at_start: false,
            in_sync: true,
            attempts: 0,
            pending: Vec::new(),
            held: Vec::new(),
            held_bytes: 0,
            last_used: tick,
            last_meta: meta,
        }
    }

    fn segment(&mut self, seq: u32, data: &[u8], limits: &TcpLimits, cx: &mut Cx<'_, '_>) {
        if self.framing == Framing::Ignored {
            cx.stats.tcp_ignored_bytes += data.len() as u64;
            return;
        }
        let next = *self.next_seq.get_or_insert(seq);
        // Distances are taken modulo 2^32 (RFC 9293 §3.4): negative is behind.
        let off = seq.wrapping_sub(next) as i32;
        let mut data = data;
        if off < 0 {
            let dup = off.unsigned_abs() as usize;
            if dup >= data.len() {
                cx.stats.tcp_retransmitted_bytes += data.len() as u64;
                return;
            }
            cx.stats.tcp_retransmitted_bytes += dup as u64;
            data = &data[dup..];
        } else if off > 0 {
            self.hold(seq, off, data, limits, cx);
            return;
        }
        self.deliver(data, limits, cx);
        self.drain_held(limits, cx);
    }

    fn hold(&mut self, seq: u32, off: i32, data: &[u8], limits: &TcpLimits, cx: &mut Cx<'_, '_>) {
        if self
            .held
            .iter()
            .any(|(s, d)| *s == seq && d.len() >= data.len())
        {
            cx.stats.tcp_retransmitted_bytes += data.len() as u64;
            return;
        }
        let next = self.next_seq.unwrap_or(seq);
        let pos = self
            .held
            .partition_point(|(s, _)| (s.wrapping_sub(next) as i32) < off);
        self.held.insert(pos, (seq, data.to_vec()));
        self.held_bytes += data.len();
        cx.stats.tcp_out_of_order += 1;
        while !self.held.is_empty()
            && (self.held.len() > limits.max_held_segments
                || self.held_bytes + self.pending.len() > limits.max_buffer)
        {
            self.skip_gap(limits, cx);
        }
    }

    /// Gives up on the hole before the first held segment and carries on from there.
    fn skip_gap(&mut self, limits: &TcpLimits, cx: &mut Cx<'_, '_>) {
        if self.held.is_empty() {
            return;
        }
        let (seq, data) = self.held.remove(0);
        self.held_bytes -= data.len();
        cx.stats.tcp_gaps += 1;
        let flow = cx.flow;
        cx.diags.note(&cx.meta, "tcp-gap", || {
            format!(
                "{} -> {}: bytes missing from the TCP stream; partial message dropped, resynchronising",
                flow.src, flow.dst
            )
        });
        self.pending.clear();
        self.in_sync = false;
        self.at_start = false;
        self.next_seq = Some(seq);
        self.deliver(&data, limits, cx);
        self.drain_held(limits, cx);
    }

    fn drain_held(&mut self, limits: &TcpLimits, cx: &mut Cx<'_, '_>) {
        while let Some(&(seq, _)) = self.held.first() {
            let next = self.next_seq.unwrap_or(seq);
            let off = seq.wrapping_sub(next) as i32;
            if off > 0 {
                break;
            }
            let (_, data) = self.held.remove(0);
            self.held_bytes -= data.len();
            let dup = off.unsigned_abs() as usize;
            if dup >= data.len() {
                cx.stats.tcp_retransmitted_bytes += data.len() as u64;
                continue;
            }
            cx.stats.tcp_retransmitted_bytes += dup as u64;
            self.deliver(&data[dup..], limits, cx);
        }
    }

    /// Takes in-order bytes.
    fn deliver(&mut self, data: &[u8], limits: &TcpLimits, cx: &mut Cx<'_, '_>) {
        let next = self.next_seq.unwrap_or(0);
        // Truncation is intended: sequence numbers wrap at 2^32.
        self.next_seq = Some(next.wrapping_add(data.len() as u32));
        let at_start = std::mem::take(&mut self.at_start);
        let joined;
        let mut data = data;
        match self.framing {
            Framing::Ignored => {
                cx.stats.tcp_ignored_bytes += data.len() as u64;
                return;
            }
            // The stream's first bytes came in segments too small to tell the
            // framing: gather them (bounded by DETECT_MIN_LEN) and decide on the whole.
            Framing::Unknown if at_start && self.pending.len() + data.len() < DETECT_MIN_LEN => {
                self.pending.extend_from_slice(data);
                self.at_start = true;
                return;
            }
            Framing::Unknown => {
                if at_start && !self.pending.is_empty() {
                    let mut j = std::mem::take(&mut self.pending);
                    j.extend_from_slice(data);
                    joined = j;
                    data = &joined;
                }
                self.detect(data, at_start, cx)
            }
            Framing::Turn | Framing::Rfc4571 => {}
        }
        if self.framing == Framing::Unknown || self.framing == Framing::Ignored {
            return;
        }
        if !self.in_sync {
            if chain_ok(self.framing, data, true) {
                self.in_sync = true;
                self.pending.clear();
            } else {
                cx.stats.tcp_ignored_bytes += data.len() as u64;
                return;
            }
        }
        self.frames(data, limits, cx);
    }

    /// Decides the framing from the first in-order bytes seen (the stream's
    /// very first when `at_start`).
    fn detect(&mut self, data: &[u8], at_start: bool, cx: &mut Cx<'_, '_>) {
        match detect(data, !at_start) {
            Some(f) => {
                self.framing = f;
                self.in_sync = true;
                self.pending.clear();
            }
            None => {
                cx.stats.tcp_ignored_bytes += data.len() as u64;
                self.attempts = self.attempts.saturating_add(1);
                if at_start || self.attempts >= MAX_DETECT_ATTEMPTS {
                    self.ignore();
                }
            }
        }
    }

    fn ignore(&mut self) {
        self.framing = Framing::Ignored;
        self.pending = Vec::new();
        self.held = Vec::new();
        self.held_bytes = 0;
    }

    /// Splits in-sync bytes into messages, emitting each complete one.
    fn frames(&mut self, data: &[u8], limits: &TcpLimits, cx: &mut Cx<'_, '_>) {
        let framing = self.framing;
        let hdr = header_len(framing);
        let mut data = data;
        if !self.pending.is_empty() {
            if self.pending.len() < hdr {
                let take = (hdr - self.pending.len()).min(data.len());
                self.pending.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.pending.len() < hdr {
                    return;
                }
            }
            match frame_len(framing, &self.pending) {
                FrameLen::NeedMore => return,
                FrameLen::Invalid => return self.desync(data.len(), cx),
                FrameLen::Len(n) => {
                    let take = n.saturating_sub(self.pending.len()).min(data.len());
                    self.pending.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.pending.len() < n {
                        return;
                    }
                    emit(framing, &self.pending, cx);
                    self.pending.clear();
                }
            }
        }
        // Messages wholly inside this segment are emitted straight from it.
        loop {
            match frame_len(framing, data) {
                FrameLen::NeedMore => break,
                FrameLen::Invalid => return self.desync(data.len(), cx),
                FrameLen::Len(n) => match (data.get(..n), data.get(n..)) {
                    (Some(frame), Some(rest)) => {
                        emit(framing, frame, cx);
                        data = rest;
                    }
                    _ => break,
                },
            }
        }
        if self.pending.len() + data.len() + self.held_bytes > limits.max_buffer {
            cx.stats.tcp_buffer_overflows += 1;
            let flow = cx.flow;
            cx.diags.note(&cx.meta, "tcp-buffer-overflow", || {
                format!(
                    "{} -> {}: TCP message larger than the buffer cap; dropped",
                    flow.src, flow.dst
                )
            });
            return self.desync(data.len(), cx);
        }
        self.pending.extend_from_slice(data);
    }

    fn desync(&mut self, skipped: usize, cx: &mut Cx<'_, '_>) {
        cx.stats.tcp_desyncs += 1;
        cx.stats.tcp_ignored_bytes += (skipped + self.pending.len()) as u64;
        let flow = cx.flow;
        cx.diags.note(&cx.meta, "tcp-desync", || {
            format!(
                "{} -> {}: bytes in the TCP stream do not start a message; resynchronising",
                flow.src, flow.dst
            )
        });
        self.pending.clear();
        self.in_sync = false;
    }
}

/// Bytes needed to read a message's length and check its first byte.
fn header_len(framing: Framing) -> usize {
    match framing {
        Framing::Turn => 4,
        // Length plus the packet's first byte (RFC 7983 class).
        Framing::Rfc4571 => 3,
        Framing::Unknown | Framing::Ignored => usize::MAX,
    }
}

/// RFC 7983 first-byte classes that can be carried: STUN, DTLS, ChannelData, RTP/RTCP.
fn known_first_byte(b: u8) -> bool {
    matches!(b, 0..=3 | 20..=63 | 64..=79 | 128..=191)
}

fn frame_len(framing: Framing, b: &[u8]) -> FrameLen {
    match framing {
        Framing::Turn => turn::tcp_message_len(b),
        Framing::Rfc4571 => {
            // RFC 4571 §2: LENGTH (16 bits, network order) then the packet.
            let (Some(h), Some(&first)) = (b.get(..2), b.get(2)) else {
                return FrameLen::NeedMore;
            };
            let len = usize::from(u16::from_be_bytes([h[0], h[1]]));
            // A zero length carries nothing and is what a misaligned read looks like.
            if len == 0 || !known_first_byte(first) {
                FrameLen::Invalid
            } else {
                FrameLen::Len(2 + len)
            }
        }
        Framing::Unknown | Framing::Ignored => FrameLen::Invalid,
    }
}

/// Stricter check of one message start, used to decide a stream's framing.
fn plausible_start(framing: Framing, b: &[u8]) -> bool {
    match framing {
        Framing::Turn => match b.first() {
            Some(0..=3) => b.len() < 8 || turn::is_stun_header(b),
            // Printable ASCII ("GET /", "HTTP/", "INVITE") in bytes 2..4 reads
            // as a length of at least 0x2000; relayed datagrams are far smaller.
            Some(64..=79) => match (b.get(2..4), b.get(4)) {
                (Some(l), first) => {
                    u16::from_be_bytes([l[0], l[1]]) < 0x2000
                        && first.is_none_or(|&f| matches!(f, 0..=3 | 20..=63 | 128..=191))
                }
                (None, _) => true,
            },
            _ => false,
        },
        Framing::Rfc4571 => match (b.get(..2), b.get(2)) {
            (Some(l), Some(&first)) => {
                let len = u16::from_be_bytes([l[0], l[1]]);
                let inner = &b[2..];
                match first {
                    // RTP header is 12 bytes, the smallest RTCP packet 8.
                    128..=191 => len >= 8,
                    0..=3 => len >= 20 && (inner.len() < 8 || turn::is_stun_header(inner)),
                    // A DTLS record (RFC 6347 §4.1: 13-byte header, major version
                    // 0xfe), as ICE-TCP carries after its checks (RFC 6544, RFC 7983).
                    20..=63 => len >= 13 && inner.get(1).is_none_or(|&v| v == 0xfe),
                    _ => false,
                }
            }
            _ => true,
        },
        Framing::Unknown | Framing::Ignored => false,
    }
}

/// Do the first messages of `data` frame plausibly? With `exact`, the segment
/// must hold whole messages only (no partial message at the end).
fn chain_ok(framing: Framing, data: &[u8], exact: bool) -> bool {
    let mut rest = data;
    for _ in 0..MAX_CHAIN_CHECK {
        if rest.is_empty() {
            return true;
        }
        if !plausible_start(framing, rest) {
            return false;
        }
        match frame_len(framing, rest) {
            FrameLen::Invalid => return false,
            FrameLen::NeedMore => return !exact,
            FrameLen::Len(n) => match rest.get(n..) {
                Some(r) => rest = r,
                None => return !exact,
            },
        }
    }
    true
}

/// Decides the framing from the first in-order bytes of a stream.
fn detect(data: &[u8], exact: bool) -> Option<Framing> {
    if data.is_empty() {
        return None;
    }
    [Framing::Turn, Framing::Rfc4571]
        .into_iter()
        .find(|&f| plausible_start(f, data) && chain_ok(f, data, exact))
}

fn emit(framing: Framing, frame: &[u8], cx: &mut Cx<'_, '_>) {
    let (encap, payload) = match framing {
        Framing::Rfc4571 => (Encap::Rfc4571, frame.get(2..).unwrap_or_default()),
        _ => match turn::unwrap(frame) {
            Unwrapped::Inner(encap, inner) => {
                cx.stats.turn_unwrapped += 1;
                (encap, inner)
            }
            Unwrapped::NotWrapped | Unwrapped::BadChannelData => (Encap::Plain, frame),
        },
    };
    cx.stats.tcp_messages += 1;
    cx.stats.datagrams += 1;
    (cx.out)(Datagram {
        meta: cx.meta,
        flow: cx.flow,
        encap,
        payload,
    });
}

/// Per-direction TCP reassembly for all flows.
#[derive(Debug)]
pub struct TcpReassembler {
    flows: HashMap<Flow, Stream>,
    limits: TcpLimits,
    tick: u64,
}

impl TcpReassembler {
    /// A reassembler with these bounds.
    pub fn new(limits: TcpLimits) -> Self {
        TcpReassembler {
            flows: HashMap::new(),
            limits: TcpLimits {
                max_flows: limits.max_flows.max(1),
                ..limits
            },
            tick: 0,
        }
    }

    /// Flows tracked now.
    #[cfg(test)]
    pub fn flows(&self) -> usize {
        self.flows.len()
    }

    /// Takes one segment of `cx.flow`.
    pub fn push(&mut self, seg: TcpSegment<'_>, cx: &mut Cx<'_, '_>) {
        debug_assert_eq!(cx.flow.transport, Transport::Tcp);
        self.tick += 1;
        let flow = cx.flow;
        if !self.flows.contains_key(&flow) {
            // Pure ACKs, FINs and RSTs of untracked flows need no state.
            if (seg.data.is_empty() && !seg.syn) || seg.rst {
                return;
            }
            if self.flows.len() >= self.limits.max_flows {
                self.evict_lru(cx);
            }
            self.flows.insert(flow, Stream::new(self.tick, cx.meta));
        }
        let limits = self.limits;
        let Some(st) = self.flows.get_mut(&flow) else {
            return;
        };
        st.last_used = self.tick;
        st.last_meta = cx.meta;
        let mut seq = seg.seq;
        if seg.syn {
            // The SYN takes one sequence number; data starts at ISN + 1 (RFC 9293 §3.4).
            seq = seq.wrapping_add(1);
            if st.next_seq != Some(seq) {
                *st = Stream::new(self.tick, cx.meta);
                st.next_seq = Some(seq);
                st.at_start = true;
            }
        }
        if !seg.data.is_empty() {
            st.segment(seq, seg.data, &limits, cx);
        }
        if seg.fin || seg.rst {
            while !st.held.is_empty() {
                st.skip_gap(&limits, cx);
            }
            self.flows.remove(&flow);
        }
    }

    /// End of input: delivers what is held behind holes and forgets all flows.
    pub fn finish(
        &mut self,
        stats: &mut NetStats,
        diags: &mut Diags,
        out: &mut dyn FnMut(Datagram<'_>),
    ) {
        let limits = self.limits;
        for (flow, mut st) in self.flows.drain() {
            if st.held.is_empty() {
                continue;
            }
            let mut cx = Cx {
                meta: st.last_meta,
                flow,
                stats,
                diags,
                out,
            };
            while !st.held.is_empty() {
                st.skip_gap(&limits, &mut cx);
            }
        }
    }

    fn evict_lru(&mut self, cx: &mut Cx<'_, '_>) {
        let Some(victim) = self
            .flows
            .iter()
            .min_by_key(|(_, s)| s.last_used)
            .map(|(f, _)| *f)
        else {
            return;
        };
        self.flows.remove(&victim);
        cx.stats.tcp_flows_evicted += 1;
        cx.diags.note(&cx.meta, "tcp-flow-evicted", || {
            format!(
                "too many TCP flows at once; stopped following {} -> {}",
                victim.src, victim.dst
            )
        });
    }
}
