//! Reorder buffer: packets of one track in capture order in, sequence order out.
//!
//! Sans-IO (str0m `buffer_rx.rs` shape): [`ReorderBuffer::push`] takes one
//! packet with its capture time (the capture is the only clock), and
//! [`ReorderBuffer::pull`] returns [`TrackItem`]s in extended sequence order,
//! with [`TrackItem::Gap`] where packets are missing: loss is data, not an error.
//!
//! Sequence numbers are extended to 64 bits (RFC 3550 A.1) and timestamps to 64
//! bits the same way. Extended values start in the second cycle (`seq + 2^16`,
//! `ts + 2^32`) so a packet reordered before the very first one still extends
//! below it without going negative; only differences are meaningful.
//!
//! Packets are held back while a hole is open, bounded in packets (the sequence
//! span held, [`ReorderConfig::max_packets`]) and in capture time
//! ([`ReorderConfig::max_hold_nanos`]): whichever bound is hit first releases
//! the hole as a `Gap`. At the start of a segment nothing is released until a
//! bound is hit or [`ReorderBuffer::flush`] runs, because the first packet
//! captured need not be the first one sent.
//!
//! Tolerates: reordering within the window, duplicates (dropped, counted),
//! packets arriving after their slot was released (dropped, counted `late`),
//! wraparound at 2^16 and 2^32, and sender restarts within one SSRC (SIP
//! endpoints and media relays restart sequence numbers and timestamps, e.g.
//! seq 174 -> 0 with ts 27840 -> 0).
//!
//! A packet is held on probation (RFC 3550 A.1 `bad_seq`) when it cannot
//! belong to the current segment:
//! - more than [`MAX_DROPOUT`] ahead, or more than the window behind;
//! - more than [`MAX_MISORDER`] ahead with its timestamp going back (one
//!   segment's timestamps do not go back across that many packets);
//! - on a sequence number already received (held or released) but with another
//!   timestamp or payload: a duplicate repeats both, a restarted sender does not
//!   (compared by [`fingerprint`]); or with the same content but more than
//!   [`MAX_MISORDER`] behind and [`DUPLICATE_NANOS`] after the original;
//! - more than [`MAX_MISORDER`] behind the highest and before the segment's first
//!   packet.
//!
//! If the next far packet is its neighbour, the sender restarted: what is held
//! is released in order, and a new segment starts ([`TrackItem::Reset`],
//! counted in `restarts`) instead of a giant gap or a run of false duplicates;
//! if not, it was a stray and is dropped as late. Packets restored by RTX, RED or FEC
//! ([`ReorderBuffer::push_restored`]) never start a segment: they repeat old
//! sequence numbers by design. A restart landing only on slots released as lost
//! is not told from late packets: those are dropped as late, and the packets
//! after them continue the segment (their timestamps re-anchored as a jump).
//!
//! Extended sequence numbers stay strictly increasing across a restart;
//! timestamps are extended to the nearest value, so they may jump either way at
//! a `Reset` (the recorder re-anchors them on capture time).

use crate::media::RtpIn;
use crate::rtp::seq::fingerprint;
pub use crate::rtp::seq::{DUPLICATE_NANOS, MAX_MISORDER};
use crate::time::CaptureTime;
use std::collections::{BTreeMap, VecDeque};

/// Payload bytes a track's reorder buffer holds behind a hole, at most: far
/// above what real media holds in [`ReorderConfig::max_hold_nanos`] (4K video
/// at 20 Mbit/s holds 1.25 MB in 500 ms), far below 512 jumbo datagrams (32 MiB).
pub const MAX_HELD_BYTES: usize = 4 << 20;

/// Largest forward sequence jump still treated as loss in the same segment (RFC 3550 A.1).
pub const MAX_DROPOUT: u64 = 3000;

/// Bounds of the hold-back window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReorderConfig {
    /// Largest sequence span held back (and so the most packets held).
    pub max_packets: usize,
    /// Longest capture time a packet waits behind a hole before the hole becomes a gap.
    pub max_hold_nanos: i64,
}

impl Default for ReorderConfig {
    fn default() -> Self {
        ReorderConfig {
            max_packets: 512,
            max_hold_nanos: 500_000_000,
        }
    }
}

/// A packet released in sequence order, with extended counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReorderedPacket {
    /// Extended sequence number (strictly increasing in the output).
    pub seq: u64,
    /// Extended RTP timestamp.
    pub ts: u64,
    /// RTP marker bit.
    pub marker: bool,
    /// RTP payload type (a track may interleave e.g. DTMF or CN with its media).
    pub pt: u8,
    /// RTP payload (no header, no padding).
    pub payload: Vec<u8>,
    /// Capture time of the packet.
    pub time: CaptureTime,
}

impl ReorderedPacket {
    /// A borrowed view for depacketizers.
    pub fn as_rtp_in(&self) -> RtpIn<'_> {
        RtpIn {
            seq: self.seq,
            ts: self.ts,
            marker: self.marker,
            payload: &self.payload,
        }
    }
}

/// One output item of the reorder buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackItem {
    /// The next packet in sequence order.
    Packet(ReorderedPacket),
    /// `lost` consecutive sequence numbers that never arrived in time.
    Gap {
        /// How many packets are missing.
        lost: u64,
    },
    /// The sender restarted its sequence numbers; what follows is a new segment.
    Reset,
}

/// Counters of one reorder buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReorderStats {
    /// Packets pushed.
    pub packets: u64,
    /// Packets dropped because the same sequence number was already held or released.
    pub duplicates: u64,
    /// Packets that arrived after a packet with a higher sequence number.
    pub reordered: u64,
    /// Packets dropped because their slot was already released (or strays that started nothing).
    pub late: u64,
    /// Sequence numbers released as gaps.
    pub lost: u64,
    /// Sender restarts: new segments started because the sequence numbers restarted.
    pub restarts: u64,
}

/// One packet as captured, before reordering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// RTP sequence number as on the wire.
    pub seq16: u16,
    /// RTP timestamp as on the wire.
    pub ts32: u32,
    /// RTP marker bit.
    pub marker: bool,
    /// RTP payload type.
    pub pt: u8,
    /// RTP payload (no header, no padding).
    pub payload: Vec<u8>,
    /// Capture time.
    pub time: CaptureTime,
}

impl Arrival {
    /// A parsed RTP packet captured at `time` (its payload copied).
    pub fn from_rtp(pkt: &crate::rtp::RtpPacket<'_>, time: CaptureTime) -> Self {
        Self::from_rtp_in(pkt, time, Vec::new())
    }

    /// [`Arrival::from_rtp`] with the payload copied into `buf` (emptied first):
    /// a buffer a track worker gave back, so the packet costs no allocation.
    pub fn from_rtp_in(
        pkt: &crate::rtp::RtpPacket<'_>,
        time: CaptureTime,
        mut buf: Vec<u8>,
    ) -> Self {
        buf.clear();
        buf.extend_from_slice(pkt.payload());
        Arrival {
            seq16: pkt.sequence_number(),
            ts32: pkt.timestamp(),
            marker: pkt.marker(),
            pt: pkt.payload_type(),
            payload: buf,
            time,
        }
    }

    /// An arrival with payload type 0 (tests and callers that do not care).
    pub fn new(seq16: u16, ts32: u32, marker: bool, payload: Vec<u8>, time: CaptureTime) -> Self {
        Arrival {
            seq16,
            ts32,
            marker,
            pt: 0,
            payload,
            time,
        }
    }
}

/// A packet far outside the segment, waiting for a neighbour to confirm a restart.
type Candidate = Arrival;

/// Where a packet goes, given the segment so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// The first packet of the track.
    First,
    /// A slot of the current segment (possibly released already: late).
    Slot(u64),
    /// The same packet as one already held or released.
    Duplicate,
    /// Cannot belong to the segment: a restart candidate. `seen`: its sequence
    /// number was received in the segment (with other content).
    Far { seen: bool },
}

/// Per-track reorder buffer; see the module doc.
#[derive(Debug)]
pub struct ReorderBuffer {
    cfg: ReorderConfig,
    /// Next extended sequence number to release; `None` while the segment's start is open.
    next: Option<u64>,
    /// Highest extended sequence number seen in the segment; `None` before the first packet.
    highest: Option<u64>,
    /// Extended timestamp of the latest packet, the reference for extending the next one.
    ts_ref: Option<u64>,
    /// Extended timestamp of the packet with the highest sequence number.
    top_ts: Option<u64>,
    /// First extended sequence number released in the segment.
    seg_first: Option<u64>,
    held: BTreeMap<u64, ReorderedPacket>,
    /// Payload bytes of the packets in `held`.
    held_bytes: usize,
    /// For the most recent released slots below `next` (oldest first): the
    /// [`fingerprint`] and capture time of the packet that filled it, `None` for a gap.
    history: VecDeque<Option<(u64, CaptureTime)>>,
    candidate: Option<Candidate>,
    out: VecDeque<TrackItem>,
    stats: ReorderStats,
}

impl Default for ReorderBuffer {
    fn default() -> Self {
        Self::new(ReorderConfig::default())
    }
}

/// Extends a `bits`-wide wrapping counter to the 64-bit value nearest `prev`.
///
/// RFC 3550 A.1 does this for 16-bit sequence numbers with a cycle count; the
/// nearest-value form is the same rule and works for 32-bit timestamps too.
fn extend(prev: u64, v: u64, bits: u32) -> u64 {
    let m = 1u64 << bits;
    let cand = (prev & !(m - 1)) | v;
    if cand > prev && cand - prev > m / 2 && cand >= m {
        cand - m
    } else if cand < prev && prev - cand > m / 2 {
        cand + m
    } else {
        cand
    }
}

impl ReorderBuffer {
    /// An empty buffer with the given bounds (`max_packets` at least 1).
    pub fn new(cfg: ReorderConfig) -> Self {
        ReorderBuffer {
            cfg: ReorderConfig {
                max_packets: cfg.max_packets.max(1),
                ..cfg
            },
            next: None,
            highest: None,
            ts_ref: None,
            top_ts: None,
            seg_first: None,
            held: BTreeMap::new(),
            held_bytes: 0,
            history: VecDeque::new(),
            candidate: None,
            out: VecDeque::new(),
            stats: ReorderStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ReorderStats {
        self.stats
    }

    /// Number of packets held back.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    fn window(&self) -> u64 {
        self.cfg.max_packets as u64
    }

    /// Adds one packet as captured, then releases what the window allows.
    pub fn push(&mut self, a: Arrival) {
        self.push_inner(a, false);
    }

    /// Adds a packet restored from a retransmission (RFC 4588), a RED block or
    /// FEC. It fills its slot if that is still open; it never starts a new
    /// segment, since repeating old sequence numbers is what it is for. One far
    /// from the segment is dropped: as a duplicate if its sequence number was
    /// received, else as late.
    pub fn push_restored(&mut self, a: Arrival) {
        self.push_inner(a, true);
    }

    fn push_inner(&mut self, a: Arrival, restored: bool) {
        self.stats.packets += 1;
        let time = a.time;
        match self.place(&a) {
            Place::First => {
                self.highest = Some((1 << 16) | u64::from(a.seq16));
                self.ts_ref = Some((1 << 32) | u64::from(a.ts32));
                self.insert((1 << 16) | u64::from(a.seq16), a);
            }
            Place::Slot(ext) => self.insert(ext, a),
            Place::Duplicate => self.stats.duplicates += 1,
            Place::Far { seen: true } if restored => self.stats.duplicates += 1,
            Place::Far { .. } if restored => self.stats.late += 1,
            Place::Far { .. } => self.far_packet(a),
        }
        self.expire(time);
    }

    /// Decides where a packet belongs (RFC 3550 A.1 validation, plus content).
    fn place(&self, a: &Arrival) -> Place {
        let Some(highest) = self.highest else {
            return Place::First;
        };
        let ext = extend(highest, u64::from(a.seq16), 16);
        if ext > highest {
            let ahead = ext - highest;
            if ahead > MAX_DROPOUT {
                return Place::Far { seen: false };
            }
            // Loss of more than MAX_MISORDER packets moves the timestamp forward;
            // going back instead means the sender restarted both counters.
            if ahead > MAX_MISORDER
                && let (Some(top), Some(r)) = (self.top_ts, self.ts_ref)
                && extend(r, u64::from(a.ts32), 32) < top
            {
                return Place::Far { seen: false };
            }
            return Place::Slot(ext);
        }
        let behind = highest - ext;
        if behind > self.window() {
            return Place::Far { seen: false };
        }
        // A network duplicate repeats timestamp and payload, and comes soon; a
        // restarted sender sends other content under a number already received,
        // or (silence repeats its bytes) the same content long after.
        let same = |print: u64, time: CaptureTime| {
            print == fingerprint(a.ts32, &a.payload)
                && (behind <= MAX_MISORDER || a.time.nanos_since(time) < DUPLICATE_NANOS)
        };
        if let Some(p) = self.held.get(&ext) {
            return if same(fingerprint(p.ts as u32, &p.payload), p.time) {
                Place::Duplicate
            } else {
                Place::Far { seen: true }
            };
        }
        if let Some(next) = self.next
            && ext < next
        {
            let dist = next - ext;
            let len = self.history.len() as u64;
            if dist <= len {
                return match self.history[(len - dist) as usize] {
                    Some((print, time)) if same(print, time) => Place::Duplicate,
                    Some(_) => Place::Far { seen: true },
                    // Released as lost: a late packet (see the module doc).
                    None => Place::Slot(ext),
                };
            }
            // Before the segment's first packet and beyond reordering (MAX_MISORDER).
            if behind > MAX_MISORDER && self.seg_first.is_some_and(|f| ext < f) {
                return Place::Far { seen: false };
            }
        }
        Place::Slot(ext)
    }

    /// Releases holes whose packets have waited `max_hold_nanos` by `now` (no packet needed).
    pub fn tick(&mut self, now: CaptureTime) {
        self.expire(now);
    }

    /// Releases everything held, holes as gaps (end of the track).
    ///
    /// A probation packet still waiting for a neighbour is dropped as late.
    pub fn flush(&mut self) {
        self.drop_candidate();
        self.flush_segment();
    }

    /// A probation packet no neighbour confirmed is dropped as late.
    fn drop_candidate(&mut self) {
        if self.candidate.take().is_some() {
            self.stats.late += 1;
        }
    }

    /// The next released item, in sequence order.
    pub fn pull(&mut self) -> Option<TrackItem> {
        self.out.pop_front()
    }

    /// Panics if an internal invariant does not hold (for fuzzing and tests).
    pub fn check_invariants(&self) {
        let w = self.window();
        if let (Some(&first), Some(&last)) = (self.held.keys().next(), self.held.keys().last()) {
            let highest = self
                .highest
                .expect("packets are held only after the first push");
            assert!(last <= highest, "held {last} above highest {highest}");
            assert!(highest - first < w, "held span exceeds the window");
            if let Some(next) = self.next {
                assert!(first > next, "slot {first} should have been released");
            }
        }
        assert!(self.held.len() as u64 <= w);
        assert!(self.history.len() as u64 <= w);
        if let (Some(next), Some(highest)) = (self.next, self.highest) {
            assert!(next <= highest + 1, "next {next} beyond highest {highest}");
        }
    }

    /// A packet far from the segment: hold it, or confirm a restart with the held one
    /// (RFC 3550 A.1: two sequential packets confirm a new sequence base).
    fn far_packet(&mut self, c: Candidate) {
        let Some(prev) = self.candidate.take() else {
            self.candidate = Some(c);
            return;
        };
        let d = i64::from(c.seq16.wrapping_sub(prev.seq16) as i16);
        if d == 0 {
            self.stats.duplicates += 1;
            self.candidate = Some(prev);
            return;
        }
        if d.unsigned_abs() > self.window() {
            // Neither neighbours nor the segment: the older one was a stray.
            self.stats.late += 1;
            self.candidate = Some(c);
            return;
        }
        // Confirmed restart: release the old segment (held packets in order,
        // holes as gaps), then start the new one strictly after it so output
        // sequence numbers keep increasing.
        self.flush_segment();
        self.out.push_back(TrackItem::Reset);
        self.stats.restarts += 1;
        let old = self.highest.unwrap_or(0);
        let start = old + 1 + (u64::from(prev.seq16).wrapping_sub(old + 1) & 0xffff);
        self.highest = Some(start);
        self.top_ts = None;
        self.seg_first = None;
        self.next = None;
        self.history.clear();
        self.insert(start, prev);
        let ext = extend(start, u64::from(c.seq16), 16);
        self.insert(ext, c);
    }

    fn flush_segment(&mut self) {
        if let Some(highest) = self.highest {
            self.open_start();
            self.advance_to(highest + 1);
        }
    }

    fn insert(&mut self, ext: u64, a: Arrival) {
        if let Some(next) = self.next
            && ext < next
        {
            let dist = next - ext;
            let len = self.history.len() as u64;
            if dist <= len && self.history[(len - dist) as usize].is_some() {
                self.stats.duplicates += 1;
            } else {
                self.stats.late += 1;
            }
            return;
        }
        if self.held.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        let highest = self.highest.unwrap_or(ext);
        if ext < highest {
            self.stats.reordered += 1;
        }
        let ts = extend(self.ts_ref.unwrap_or(1 << 32), u64::from(a.ts32), 32);
        self.ts_ref = Some(ts);
        if ext >= highest || self.top_ts.is_none() {
            self.top_ts = Some(ts);
        }
        let highest = highest.max(ext);
        self.highest = Some(highest);
        let packet = ReorderedPacket {
            seq: ext,
            ts,
            marker: a.marker,
            pt: a.pt,
            payload: a.payload,
            time: a.time,
        };
        if self.next == Some(ext) && self.held.is_empty() {
            // In order with nothing held, as most packets come: out at once,
            // as `release_ready` would let it out, without a trip through `held`.
            self.remember(
                Some((fingerprint(ts as u32, &packet.payload), packet.time)),
                1,
            );
            self.out.push_back(TrackItem::Packet(packet));
            self.next = Some(ext + 1);
        } else {
            self.held_bytes += packet.payload.len();
            self.held.insert(ext, packet);
            self.release_ready();
        }
        // Bound the span held: slots more than a window below the highest go out now.
        let w = self.window();
        if highest >= w {
            let floor = highest + 1 - w;
            let below = match self.next {
                Some(next) => next < floor,
                None => self.held.keys().next().is_some_and(|&k| k < floor),
            };
            if below {
                self.open_start();
                self.advance_to(floor);
                self.release_ready();
            }
        }
        // Bound the bytes held: behind a hole, jumbo payloads would reach
        // the span bound only at 512 x 64 KiB; the oldest hole goes out first.
        while self.held_bytes > MAX_HELD_BYTES {
            self.release_oldest_hole();
        }
    }

    /// Releases the oldest hole as a gap and the packets that then follow in sequence.
    fn release_oldest_hole(&mut self) {
        self.open_start();
        if let Some(&first) = self.held.keys().next() {
            self.advance_to(first);
        }
        self.release_ready();
    }

    /// Fixes the segment's start at the lowest held packet if it is still open.
    fn open_start(&mut self) {
        if self.next.is_none() {
            self.next = self.held.keys().next().copied();
            self.seg_first = self.next;
        }
    }

    /// Releases held packets from `next` on while they are contiguous.
    fn release_ready(&mut self) {
        let Some(mut next) = self.next else { return };
        while let Some(p) = self.held.remove(&next) {
            self.held_bytes -= p.payload.len();
            self.remember(Some((fingerprint(p.ts as u32, &p.payload), p.time)), 1);
            self.out.push_back(TrackItem::Packet(p));
            next += 1;
        }
        self.next = Some(next);
    }

    /// Releases every slot below `target`: held packets in order, holes as gaps.
    fn advance_to(&mut self, target: u64) {
        let Some(mut next) = self.next else { return };
        while next < target {
            match self.held.first_key_value() {
                Some((&k, _)) if k < target => {
                    if k > next {
                        self.gap(k - next);
                    }
                    let p = self.held.remove(&k).expect("key was just read");
                    self.held_bytes -= p.payload.len();
                    self.remember(Some((fingerprint(p.ts as u32, &p.payload), p.time)), 1);
                    self.out.push_back(TrackItem::Packet(p));
                    next = k + 1;
                }
                _ => {
                    self.gap(target - next);
                    next = target;
                }
            }
        }
        self.next = Some(next);
    }

    fn gap(&mut self, lost: u64) {
        // One hole released in steps (span bound, then time) is still one gap.
        if let Some(TrackItem::Gap { lost: prev }) = self.out.back_mut() {
            *prev += lost;
        } else {
            self.out.push_back(TrackItem::Gap { lost });
        }
        self.stats.lost += lost;
        self.remember(None, lost);
    }

    fn remember(&mut self, filled: Option<(u64, CaptureTime)>, count: u64) {
        let w = self.window() as usize;
        let count = usize::try_from(count).unwrap_or(usize::MAX).min(w);
        self.history.extend(std::iter::repeat_n(filled, count));
        while self.history.len() > w {
            self.history.pop_front();
        }
    }

    /// Releases holes whose held packets have waited too long by `now`.
    fn expire(&mut self, now: CaptureTime) {
        loop {
            // Contiguous packets are released on insert, so a non-empty
            // buffer is always blocked: by a hole or by the open start.
            if self.held.is_empty() {
                return;
            }
            let oldest = self
                .held
                .values()
                .map(|p| p.time)
                .min()
                .expect("held is non-empty here");
            if now.nanos_since(oldest) < self.cfg.max_hold_nanos {
                return;
            }
            self.release_oldest_hole();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn jumbo_packets_behind_a_hole_are_bounded_in_bytes_not_only_in_span() {
        let mut b = ReorderBuffer::default();
        let jumbo = 60_000;
        let at = |seq: u16| CaptureTime::from_nanos(i64::from(seq) * MS);
        let mut packets = 0u64;
        let mut gaps = Vec::new();
        let mut drain = |b: &mut ReorderBuffer| {
            while let Some(item) = b.pull() {
                match item {
                    TrackItem::Packet(_) => packets += 1,
                    TrackItem::Gap { lost } => gaps.push(lost),
                    TrackItem::Reset => {}
                }
            }
        };
        // Small packets fix the segment's start (the span bound is hit), then
        // packet 600 is lost and jumbo packets pile up behind it.
        for seq in 0..1000u16 {
            if seq == 600 {
                continue;
            }
            let size = if seq < 600 { 100 } else { jumbo };
            b.push(Arrival::new(
                seq,
                u32::from(seq) * 3000,
                false,
                vec![7; size],
                at(seq),
            ));
            assert!(
                b.held_bytes <= MAX_HELD_BYTES,
                "{} bytes held at {seq}",
                b.held_bytes
            );
            drain(&mut b);
        }
        assert!(b.held_bytes <= MAX_HELD_BYTES);
        assert!(b.held() < MAX_HELD_BYTES / jumbo + 1, "{} held", b.held());
        b.flush();
        drain(&mut b);
        assert_eq!(
            (packets, gaps),
            (999, vec![1]),
            "every packet out in order, the hole a gap"
        );
        assert_eq!(b.stats().lost, 1);
    }

    fn item_str(i: &TrackItem) -> String {
        match i {
            TrackItem::Packet(p) => String::from_utf8_lossy(&p.payload).into_owned(),
            TrackItem::Gap { lost } => format!("gap{lost}"),
            TrackItem::Reset => "reset".into(),
        }
    }

    /// Rows: (seq, ts, capture ms, payload, items pulled right after this push).
    /// `at_flush`: items pulled after `flush()`.
    fn run(
        cfg: ReorderConfig,
        rows: &[(u16, u32, i64, &str, &[&str])],
        at_flush: &[&str],
    ) -> ReorderBuffer {
        let mut b = ReorderBuffer::new(cfg);
        for (i, &(seq, ts, ms, payload, want)) in rows.iter().enumerate() {
            b.push(Arrival::new(
                seq,
                ts,
                false,
                payload.as_bytes().to_vec(),
                CaptureTime::from_nanos(ms * MS),
            ));
            b.check_invariants();
            let got: Vec<String> = std::iter::from_fn(|| b.pull())
                .map(|i| item_str(&i))
                .collect();
            assert_eq!(got, want, "row {i}: seq {seq}");
        }
        b.flush();
        b.check_invariants();
        let got: Vec<String> = std::iter::from_fn(|| b.pull())
            .map(|i| item_str(&i))
            .collect();
        assert_eq!(got, at_flush, "at flush");
        b
    }

    fn small() -> ReorderConfig {
        ReorderConfig {
            max_packets: 4,
            max_hold_nanos: 100 * MS,
        }
    }

    #[test]
    fn extend_wraps() {
        assert_eq!(extend(65_535, 0, 16), 65_536);
        assert_eq!(extend(65_536, 65_535, 16), 65_535);
        assert_eq!(extend(1 << 16 | 5, 65_530, 16), 65_530);
        assert_eq!(extend(0xffff_fff0, 0x10, 32), 0x1_0000_0010);
        assert_eq!(extend(0x1_0000_0010, 0xffff_fff0, 32), 0xffff_fff0);
        assert_eq!(extend(10, 20, 16), 20);
    }

    #[test]
    fn in_order_waits_for_start_then_streams() {
        // Nothing is released until the start is fixed by a bound; then contiguous packets flow.
        run(
            small(),
            &[
                (10, 0, 0, "a", &[]),
                (11, 0, 0, "b", &[]),
                (12, 0, 0, "c", &[]),
                (13, 0, 0, "d", &[]),
                (14, 0, 0, "e", &["a", "b", "c", "d", "e"]),
                (15, 0, 0, "f", &["f"]),
            ],
            &[],
        );
    }

    #[test]
    fn start_fixed_by_time() {
        run(
            small(),
            &[
                (11, 0, 0, "b", &[]),
                (10, 0, 50, "a", &[]),
                (12, 0, 100, "c", &["a", "b", "c"]),
                (13, 0, 110, "d", &["d"]),
            ],
            &[],
        );
    }

    #[test]
    fn reorder_within_window() {
        let b = run(
            small(),
            &[
                (1, 0, 0, "a", &[]),
                (3, 0, 0, "c", &[]),
                (2, 0, 0, "b", &[]),
                (4, 0, 0, "d", &[]),
                (5, 0, 0, "e", &["a", "b", "c", "d", "e"]),
                (7, 0, 1, "g", &[]),
                (6, 0, 2, "f", &["f", "g"]),
            ],
            &[],
        );
        assert_eq!(b.stats().reordered, 2);
        assert_eq!(b.stats().lost, 0);
    }

    #[test]
    fn duplicates_dropped_held_and_released() {
        let b = run(
            small(),
            &[
                (1, 0, 0, "a", &[]),
                (1, 0, 0, "a", &[]),
                (2, 0, 200, "b", &["a", "b"]),
                (1, 0, 200, "a", &[]),
                (2, 0, 200, "b", &[]),
            ],
            &[],
        );
        assert_eq!(b.stats().duplicates, 3);
        assert_eq!(b.stats().late, 0);
    }

    #[test]
    fn hole_released_by_span() {
        let b = run(
            small(),
            &[
                (1, 0, 0, "a", &[]),
                (2, 0, 0, "b", &[]),
                (4, 0, 0, "d", &[]),
                (5, 0, 0, "e", &["a", "b"]),
                (6, 0, 0, "f", &[]),
                (7, 0, 0, "g", &["gap1", "d", "e", "f", "g"]),
                (3, 0, 0, "c", &[]),
            ],
            &[],
        );
        assert_eq!(b.stats().lost, 1);
        assert_eq!(b.stats().late, 1);
    }

    #[test]
    fn hole_released_by_time() {
        let b = run(
            small(),
            &[
                (1, 0, 0, "a", &[]),
                (2, 0, 200, "b", &["a", "b"]),
                (5, 0, 210, "e", &[]),
                (6, 0, 250, "f", &[]),
                (7, 0, 310, "g", &["gap2", "e", "f", "g"]),
            ],
            &[],
        );
        assert_eq!(b.stats().lost, 2);
    }

    #[test]
    fn flush_releases_holes_as_gaps() {
        run(
            small(),
            &[(1, 0, 0, "a", &[]), (3, 0, 0, "c", &[])],
            &["a", "gap1", "c"],
        );
    }

    #[test]
    fn tick_releases_without_packets() {
        let mut b = ReorderBuffer::new(small());
        b.push(Arrival::new(
            1,
            0,
            false,
            b"a".to_vec(),
            CaptureTime::from_nanos(0),
        ));
        assert_eq!(b.pull(), None);
        b.tick(CaptureTime::from_nanos(99 * MS));
        assert_eq!(b.pull(), None);
        b.tick(CaptureTime::from_nanos(100 * MS));
        assert!(matches!(b.pull(), Some(TrackItem::Packet(p)) if p.payload == b"a"));
    }

    #[test]
    fn big_forward_jump_confirmed_is_reset() {
        let b = run(
            small(),
            &[
                (1, 0, 0, "a", &[]),
                (2, 0, 200, "b", &["a", "b"]),
                (40_000, 7, 200, "x", &[]),
                (40_001, 7, 200, "y", &["reset"]),
                (40_002, 7, 400, "z", &["x", "y", "z"]),
            ],
            &[],
        );
        assert_eq!(b.stats().restarts, 1);
        assert_eq!(b.stats().lost, 0);
    }

    #[test]
    fn backward_reset_keeps_seq_increasing() {
        let mut b = ReorderBuffer::new(small());
        let t = CaptureTime::from_nanos(0);
        for s in [5000u16, 5001, 5002, 10, 11, 12] {
            b.push(Arrival::new(s, 0, false, vec![1], t));
        }
        b.flush();
        let seqs: Vec<u64> = std::iter::from_fn(|| b.pull())
            .filter_map(|i| match i {
                TrackItem::Packet(p) => Some(p.seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs.len(), 6);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        assert!(
            seqs.iter()
                .zip([5000u16, 5001, 5002, 10, 11, 12])
                .all(|(e, s)| *e as u16 == s)
        );
        assert_eq!(b.stats().restarts, 1);
    }

    #[test]
    fn lone_stray_is_late_not_reset() {
        let b = run(
            small(),
            &[
                (1, 0, 0, "a", &[]),
                (2, 0, 200, "b", &["a", "b"]),
                (30_000, 0, 200, "x", &[]),
                (3, 0, 200, "c", &["c"]),
                (4, 0, 200, "d", &["d"]),
                (50_000, 0, 200, "y", &[]),
            ],
            &[],
        );
        assert_eq!(b.stats().restarts, 0);
        assert_eq!(b.stats().late, 2);
    }

    #[test]
    fn gap_under_dropout_is_loss_not_reset() {
        let b = run(
            ReorderConfig {
                max_packets: 4,
                max_hold_nanos: 0,
            },
            &[(1, 0, 0, "a", &["a"]), (2001, 0, 0, "b", &["gap1999", "b"])],
            &[],
        );
        assert_eq!(b.stats().restarts, 0);
    }

    #[test]
    fn wraps_seq_and_ts() {
        let mut b = ReorderBuffer::new(small());
        let t = CaptureTime::from_nanos(0);
        let pkts = [
            (65_534u16, u32::MAX - 2999),
            (65_535, u32::MAX - 9),
            (0, 3000),
            (1, 6000),
        ];
        for (s, ts) in pkts {
            b.push(Arrival::new(s, ts, false, vec![0], t));
        }
        b.flush();
        let got: Vec<(u64, u64)> = std::iter::from_fn(|| b.pull())
            .filter_map(|i| match i {
                TrackItem::Packet(p) => Some((p.seq, p.ts)),
                _ => None,
            })
            .collect();
        let s0 = got[0].0;
        let t0 = got[0].1;
        assert_eq!(
            got.iter().map(|g| g.0 - s0).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            got.iter().map(|g| g.1 - t0).collect::<Vec<_>>(),
            [0, 2990, 6000, 9000]
        );
    }

    /// n consecutive packets from (seq0, ts0), each with ts step 3000.
    fn packets(seq0: u16, ts0: u32, n: usize) -> Vec<(u16, u32)> {
        (0..n)
            .map(|i| {
                (
                    seq0.wrapping_add(i as u16),
                    ts0.wrapping_add(3000 * i as u32),
                )
            })
            .collect()
    }

    fn drain_packets(b: &mut ReorderBuffer) -> (Vec<ReorderedPacket>, u64) {
        let mut ps = Vec::new();
        let mut gaps = 0;
        while let Some(i) = b.pull() {
            match i {
                TrackItem::Packet(p) => ps.push(p),
                TrackItem::Gap { lost } => gaps += lost,
                TrackItem::Reset => panic!("unexpected reset"),
            }
        }
        (ps, gaps)
    }

    fn assert_in_order(ps: &[ReorderedPacket], n: usize, seq0: u16, ts0: u32) {
        assert_eq!(ps.len(), n);
        for (i, p) in ps.iter().enumerate() {
            assert_eq!(p.seq - ps[0].seq, i as u64);
            assert_eq!(p.seq as u16, seq0.wrapping_add(i as u16));
            assert_eq!(p.ts - ps[0].ts, 3000 * i as u64);
            assert_eq!(p.ts as u32, ts0.wrapping_add(3000 * i as u32));
            assert_eq!(p.payload, (i as u32).to_be_bytes());
        }
    }

    proptest! {
        #[test]
        fn any_permutation_within_window_is_in_order(
            seq0 in any::<u16>(),
            ts0 in prop_oneof![any::<u32>(), Just(u32::MAX - 20_000)],
            order in (1usize..=512).prop_flat_map(|n| Just((0..n).collect::<Vec<_>>()).prop_shuffle()),
        ) {
            let n = order.len();
            let pk = packets(seq0, ts0, n);
            let mut b = ReorderBuffer::default();
            for &i in &order {
                let (s, t) = pk[i];
                b.push(Arrival::new(s, t, false, (i as u32).to_be_bytes().to_vec(), CaptureTime::from_nanos(0)));
                b.check_invariants();
            }
            b.flush();
            let (ps, gaps) = drain_packets(&mut b);
            prop_assert_eq!(gaps, 0);
            assert_in_order(&ps, n, seq0, ts0);
            prop_assert_eq!(b.stats().lost, 0);
        }

        #[test]
        fn bounded_displacement_with_duplicates_is_in_order(
            seq0 in prop_oneof![any::<u16>(), Just(65_000u16)],
            ts0 in prop_oneof![any::<u32>(), Just(u32::MAX - 1_000_000)],
            offsets in prop::collection::vec((0u64..64, any::<bool>()), 1..1500),
        ) {
            // Packet i arrives at position i + offset (offset < window): never late.
            let n = offsets.len();
            let pk = packets(seq0, ts0, n);
            let mut arrivals: Vec<(u64, usize)> = Vec::new();
            for (i, &(off, dup)) in offsets.iter().enumerate() {
                arrivals.push((i as u64 + off, i));
                if dup {
                    arrivals.push((i as u64 + off + off / 2, i));
                }
            }
            arrivals.sort();
            let cfg = ReorderConfig { max_packets: 128, max_hold_nanos: 500 * MS };
            let mut b = ReorderBuffer::new(cfg);
            for (k, &(_, i)) in arrivals.iter().enumerate() {
                let (s, t) = pk[i];
                b.push(Arrival::new(s, t, false, (i as u32).to_be_bytes().to_vec(), CaptureTime::from_nanos(k as i64 * MS / 10)));
                b.check_invariants();
            }
            b.flush();
            let (ps, gaps) = drain_packets(&mut b);
            prop_assert_eq!(gaps, 0);
            assert_in_order(&ps, n, seq0, ts0);
            let dups = offsets.iter().filter(|o| o.1).count() as u64;
            prop_assert_eq!(b.stats().duplicates + b.stats().late, dups);
        }

        #[test]
        fn arbitrary_input_never_repeats_or_goes_back(
            pkts in prop::collection::vec((any::<u16>(), 0u16..600, 0i64..50), 0..600),
            base in any::<u16>(),
        ) {
            let mut b = ReorderBuffer::new(ReorderConfig { max_packets: 64, max_hold_nanos: 100 * MS });
            let mut now = 0;
            let mut out = Vec::new();
            for &(jitter, d, dt) in &pkts {
                // Mostly near-sequential with random jumps (jitter picks rare far values).
                let s = if jitter % 16 == 0 { jitter } else { base.wrapping_add(d) };
                now += dt * MS;
                b.push(Arrival::new(s, u32::from(s) * 90, false, vec![1], CaptureTime::from_nanos(now)));
                b.check_invariants();
                out.extend(std::iter::from_fn(|| b.pull()));
            }
            b.flush();
            out.extend(std::iter::from_fn(|| b.pull()));
            let seqs: Vec<u64> = out.iter().filter_map(|i| match i { TrackItem::Packet(p) => Some(p.seq), _ => None }).collect();
            prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{:?}", seqs);
            let st = b.stats();
            prop_assert_eq!(st.packets, seqs.len() as u64 + st.duplicates + st.late);
        }

        #[test]
        fn k_restarts_deliver_every_packet_once_in_order(
            segs in prop::collection::vec(
                (150usize..400, any::<u16>(), any::<u32>(), any::<bool>(), prop::collection::vec(0u64..8, 400)),
                1..5,
            ),
        ) {
            // Segment 0 starts anywhere; each later one restarts at a sequence
            // number RFC 3550 A.1 calls a restart: more than MAX_MISORDER behind the
            // highest (so also far ahead), or more than MAX_MISORDER ahead with the
            // timestamp going back. Packets are displaced (< 8) within a segment.
            let mut arrivals: Vec<(u16, u32, u32)> = Vec::new();
            let mut want: Vec<Vec<u32>> = Vec::new();
            let mut index = 0u32;
            let (mut top_seq, mut top_ts) = (0u16, 0u32);
            for (k, (len, r16, r32, ahead, offsets)) in segs.iter().enumerate() {
                let (seq0, ts0) = if k == 0 {
                    (*r16, *r32)
                } else if *ahead {
                    let a = 101 + r16 % 2900;
                    (top_seq.wrapping_add(a), top_ts.wrapping_sub(2000 + r32 % (1 << 30)))
                } else {
                    let b = 101 + r16 % 62_000;
                    (top_seq.wrapping_sub(b), *r32)
                };
                let mut order: Vec<(u64, usize)> =
                    (0..*len).map(|i| (i as u64 + offsets[i], i)).collect();
                order.sort();
                let mut seg = Vec::new();
                for i in 0..*len {
                    seg.push(index + i as u32);
                }
                for &(_, i) in &order {
                    arrivals.push((
                        seq0.wrapping_add(i as u16),
                        ts0.wrapping_add(160 * i as u32),
                        index + i as u32,
                    ));
                }
                index += *len as u32;
                top_seq = seq0.wrapping_add(*len as u16 - 1);
                top_ts = ts0.wrapping_add(160 * (*len as u32 - 1));
                want.push(seg);
            }
            let mut b = ReorderBuffer::default();
            let mut items = Vec::new();
            for (n, &(seq, ts, id)) in arrivals.iter().enumerate() {
                b.push(Arrival::new(seq, ts, false, id.to_be_bytes().to_vec(), CaptureTime::from_nanos(n as i64 * 20 * MS)));
                b.check_invariants();
                items.extend(std::iter::from_fn(|| b.pull()));
            }
            b.flush();
            items.extend(std::iter::from_fn(|| b.pull()));
            let mut got: Vec<Vec<u32>> = vec![Vec::new()];
            for i in &items {
                match i {
                    TrackItem::Packet(p) => {
                        let id = u32::from_be_bytes(p.payload[..4].try_into().unwrap());
                        got.last_mut().unwrap().push(id);
                    }
                    TrackItem::Reset => got.push(Vec::new()),
                    TrackItem::Gap { lost } => prop_assert!(false, "gap of {}", lost),
                }
            }
            prop_assert_eq!(&got, &want);
            let st = b.stats();
            prop_assert_eq!(st.restarts, segs.len() as u64 - 1);
            prop_assert_eq!((st.duplicates, st.late, st.lost), (0, 0, 0));
        }
    }

    /// One PCMU segment: `n` packets of 20 ms from (seq0, ts0), payloads `id0..`.
    fn pcmu(seq0: u16, ts0: u32, n: u16, id0: u32) -> Vec<(u16, u32, u32)> {
        (0..n)
            .map(|i| {
                (
                    seq0.wrapping_add(i),
                    ts0.wrapping_add(160 * u32::from(i)),
                    id0 + u32::from(i),
                )
            })
            .collect()
    }

    /// Pushes (seq, ts, id) at 20 ms steps, flushes; packet ids per segment and the stats.
    fn segments(b: &mut ReorderBuffer, pkts: &[(u16, u32, u32)]) -> Vec<Vec<u32>> {
        let mut got = vec![Vec::new()];
        for (n, &(seq, ts, id)) in pkts.iter().enumerate() {
            b.push(Arrival::new(
                seq,
                ts,
                false,
                id.to_be_bytes().to_vec(),
                CaptureTime::from_nanos(n as i64 * 20 * MS),
            ));
            b.check_invariants();
        }
        b.flush();
        while let Some(i) = b.pull() {
            match i {
                TrackItem::Packet(p) => got
                    .last_mut()
                    .unwrap()
                    .push(u32::from_be_bytes(p.payload[..4].try_into().unwrap())),
                TrackItem::Reset => got.push(Vec::new()),
                TrackItem::Gap { lost } => got.last_mut().unwrap().push(1_000_000 + lost as u32),
            }
        }
        got
    }

    #[test]
    fn seq_174_to_0_with_ts_27840_to_0_twice_is_two_restarts() {
        // The SIP endpoint: seq 174 -> 0 with ts 27840 -> 0, twice. The new
        // numbers are inside the window of the old ones, on slots already released:
        // before, 465 + 10 of them were dropped as duplicates and late.
        let mut pkts = pcmu(0, 0, 175, 0);
        pkts.extend(pcmu(0, 0, 175, 175));
        pkts.extend(pcmu(0, 0, 300, 350));
        let mut b = ReorderBuffer::default();
        let got = segments(&mut b, &pkts);
        let want: Vec<Vec<u32>> = vec![
            (0..175).collect(),
            (175..350).collect(),
            (350..650).collect(),
        ];
        assert_eq!(got, want);
        let st = b.stats();
        assert_eq!(
            (st.restarts, st.duplicates, st.late, st.lost, st.packets),
            (2, 0, 0, 0, 650)
        );
    }

    #[test]
    fn restart_to_other_sequence_numbers_and_timestamps() {
        // (new seq0, new ts0) after 400 packets from seq 5000, ts 1_000_000.
        let cases: &[(u16, u32)] = &[
            (60_000, 0xdead_beef), // far behind (outside the window)
            (4_800, 7),            // 200 behind: on released slots, other content
            (4_500, 1_000_000),    // before the segment's first packet
            (5_700, 1),            // 300 ahead, timestamp going back
            (5_000, 1_000_000),    // from the same base again: only the payloads differ
        ];
        for &(seq0, ts0) in cases {
            let mut pkts = pcmu(5000, 1_000_000, 400, 0);
            pkts.extend(pcmu(seq0, ts0, 100, 400));
            let mut b = ReorderBuffer::default();
            let got = segments(&mut b, &pkts);
            assert_eq!(
                got,
                vec![(0..400).collect::<Vec<_>>(), (400..500).collect()],
                "restart to {seq0}"
            );
            let st = b.stats();
            assert_eq!(
                (st.restarts, st.duplicates, st.late, st.lost),
                (1, 0, 0, 0),
                "{seq0}"
            );
        }
    }

    #[test]
    fn restart_while_packets_are_held_releases_them_in_order_first() {
        // 100..=120 with 115 missing and synthetic capture times: nothing is
        // released before the restart (the start is open, 116.. wait on the hole).
        let mut b = ReorderBuffer::new(ReorderConfig {
            max_packets: 64,
            max_hold_nanos: 10_000 * MS,
        });
        let t = CaptureTime::from_nanos(0);
        for s in (100u16..=120).filter(|&s| s != 115) {
            b.push(Arrival::new(
                s,
                u32::from(s) * 160,
                false,
                vec![1, s as u8],
                t,
            ));
        }
        assert_eq!(b.held(), 20);
        // The restart lands on held sequence numbers with other payloads.
        for s in 100u16..103 {
            b.push(Arrival::new(
                s,
                u32::from(s - 100) * 160,
                false,
                vec![2, s as u8],
                t,
            ));
        }
        let items: Vec<String> = std::iter::from_fn(|| b.pull())
            .map(|i| match i {
                TrackItem::Packet(p) => format!("{}.{}", p.payload[0], p.payload[1]),
                TrackItem::Gap { lost } => format!("gap{lost}"),
                TrackItem::Reset => "reset".into(),
            })
            .collect();
        let mut want: Vec<String> = (100..115).map(|s| format!("1.{s}")).collect();
        want.push("gap1".into());
        want.extend((116..=120).map(|s| format!("1.{s}")));
        want.push("reset".into());
        assert_eq!(items, want);
        b.flush();
        let rest: Vec<u8> = std::iter::from_fn(|| b.pull())
            .filter_map(|i| match i {
                TrackItem::Packet(p) => Some(p.payload[1]),
                _ => None,
            })
            .collect();
        assert_eq!(rest, [100, 101, 102]);
        assert_eq!(b.stats().restarts, 1);
    }

    #[test]
    fn late_exact_copies_stay_duplicates() {
        // A copy of the whole stream delayed by 20 packets (a mirror port, a
        // loop): same sequence numbers, timestamps and payloads. Two sequential
        // packets, yet not a restart: they repeat what arrived.
        let pkts = pcmu(0, 0, 400, 0);
        let mut arrivals = Vec::new();
        for (i, &p) in pkts.iter().enumerate() {
            arrivals.push(p);
            if i >= 20 {
                arrivals.push(pkts[i - 20]);
            }
        }
        let mut b = ReorderBuffer::default();
        let got = segments(&mut b, &arrivals);
        assert_eq!(got, vec![(0..400).collect::<Vec<_>>()]);
        let st = b.stats();
        assert_eq!((st.restarts, st.duplicates, st.late), (0, 380, 0));
    }

    #[test]
    fn silent_restart_repeating_seq_ts_and_payload_is_a_restart() {
        // G.711 silence: every payload the same bytes, and the restart repeats
        // seq 0.., ts 0.. too. Only capture time tells: 3.5 s after the originals.
        let mut b = ReorderBuffer::default();
        let silence = vec![0xff; 160];
        let mut n = 0i64;
        for _ in 0..2 {
            for s in 0u16..175 {
                let t = CaptureTime::from_nanos(n * 20 * MS);
                b.push(Arrival::new(
                    s,
                    u32::from(s) * 160,
                    false,
                    silence.clone(),
                    t,
                ));
                n += 1;
            }
        }
        b.flush();
        let items: Vec<TrackItem> = std::iter::from_fn(|| b.pull()).collect();
        assert_eq!(items.len(), 351);
        assert_eq!(items[175], TrackItem::Reset);
        let st = b.stats();
        assert_eq!((st.restarts, st.duplicates, st.late, st.lost), (1, 0, 0, 0));
    }

    #[test]
    fn restored_packets_never_restart() {
        // Retransmissions of packets long released (as lost or received) are late
        // or duplicates, however sequential: RTX repeats old sequence numbers.
        let mut b = ReorderBuffer::default();
        let t = |n: i64| CaptureTime::from_nanos(n * 20 * MS);
        for (n, (s, ts, id)) in pcmu(0, 0, 300, 0).into_iter().enumerate() {
            if s != 50 && s != 51 {
                b.push(Arrival::new(
                    s,
                    ts,
                    false,
                    id.to_be_bytes().to_vec(),
                    t(n as i64),
                ));
            }
        }
        for s in [50u16, 51, 10, 11] {
            // Other payloads than the originals of 10 and 11 (RED may re-encode).
            b.push_restored(Arrival::new(s, u32::from(s) * 160, false, vec![9], t(300)));
        }
        b.flush();
        let st = b.stats();
        assert_eq!((st.restarts, st.late, st.duplicates, st.lost), (0, 2, 2, 2));
    }
}
