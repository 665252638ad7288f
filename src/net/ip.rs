//! IPv4/IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5) with bounded state.
//!
//! Each fragment set is reassembled in etherparse's `IpDefragBuf` (which caps
//! a set at 65,535 bytes and rejects conflicting ends); etherparse's own pool
//! is not used because it has no bound on the number of sets in flight. Here
//! at most `max_sets` sets are kept, and sets older than `max_age` of capture
//! time are evicted. Overlapping fragments are accepted, later bytes winning
//! (RFC 8200 §4.5 says drop the set; captures of retransmitted identical
//! fragments are more common than attacks, and nothing here is security-relevant).

use crate::time::CaptureTime;
use etherparse::IpFragOffset;
use etherparse::defrag::IpDefragBuf;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Identifies the fragments of one original packet (RFC 791: src, dst, protocol, id;
/// RFC 8200: src, dst, id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Identification (16 bits on IPv4, 32 on IPv6).
    pub id: u32,
    /// Protocol of the reassembled payload.
    pub proto: u8,
}

/// One fragment of a set.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    /// Which set.
    pub key: FragKey,
    /// Offset in 8-byte units.
    pub offset: IpFragOffset,
    /// More-fragments flag.
    pub more: bool,
    /// The fragment's bytes (after all headers).
    pub payload: &'a [u8],
}

/// What adding a fragment did.
#[derive(Debug)]
pub enum DefragOutcome {
    /// The set is still incomplete.
    Pending,
    /// The set is complete: the reassembled payload (give it back with [`Defragmenter::recycle`]).
    Complete(Vec<u8>),
    /// The fragment conflicts with its set (or is malformed): the set was dropped.
    Invalid(String),
}

#[derive(Debug)]
struct Set {
    buf: IpDefragBuf,
    generation: u64,
}

/// Bounded reassembler of IP fragment sets.
#[derive(Debug)]
pub struct Defragmenter {
    sets: HashMap<FragKey, Set>,
    /// Sets in order of arrival, for age and capacity eviction; entries whose
    /// generation no longer matches are stale (the set completed) and skipped.
    order: VecDeque<(CaptureTime, FragKey, u64)>,
    max_sets: usize,
    max_age_nanos: i64,
    next_generation: u64,
    free: Vec<Vec<u8>>,
}

/// Buffers kept for reuse; more would only hold memory after a burst.
const MAX_FREE_BUFS: usize = 16;

impl Defragmenter {
    /// A reassembler holding at most `max_sets` sets, none older than `max_age_nanos`.
    pub fn new(max_sets: usize, max_age_nanos: i64) -> Self {
        Defragmenter {
            sets: HashMap::new(),
            order: VecDeque::new(),
            max_sets: max_sets.max(1),
            max_age_nanos,
            next_generation: 0,
            free: Vec::new(),
        }
    }

    /// Sets in flight.
    pub fn in_flight(&self) -> usize {
        self.sets.len()
    }

    /// Evicts sets older than the age limit at capture time `now`; returns how many.
    pub fn expire(&mut self, now: CaptureTime) -> u64 {
        let mut evicted = 0;
        while let Some(&(t, key, generation)) = self.order.front() {
            let stale = self
                .sets
                .get(&key)
                .is_none_or(|s| s.generation != generation);
            if !stale && now.nanos_since(t) <= self.max_age_nanos {
                break;
            }
            self.order.pop_front();
            if !stale {
                self.drop_set(&key);
                evicted += 1;
            }
        }
        evicted
    }

    /// Adds a fragment seen at `now`. Returns the outcome and how many other sets were evicted to make room.
    pub fn push(&mut self, frag: Fragment<'_>, now: CaptureTime) -> (DefragOutcome, u64) {
        let mut evicted = 0;
        if !self.sets.contains_key(&frag.key) {
            while self.sets.len() >= self.max_sets {
                let Some((_, key, generation)) = self.order.pop_front() else {
                    break;
                };
                if self
                    .sets
                    .get(&key)
                    .is_some_and(|s| s.generation == generation)
                {
                    self.drop_set(&key);
                    evicted += 1;
                }
            }
            let data = self.free.pop().unwrap_or_default();
            let buf = IpDefragBuf::new(frag.key.proto.into(), data, Vec::new());
            let generation = self.next_generation;
            self.next_generation += 1;
            self.sets.insert(frag.key, Set { buf, generation });
            self.order.push_back((now, frag.key, generation));
            self.compact_order();
        }
        let Some(set) = self.sets.get_mut(&frag.key) else {
            return (DefragOutcome::Pending, evicted);
        };
        if let Err(e) = set.buf.add(frag.offset, frag.more, frag.payload) {
            self.drop_set(&frag.key);
            return (DefragOutcome::Invalid(e.to_string()), evicted);
        }
        if !set.buf.is_complete() {
            return (DefragOutcome::Pending, evicted);
        }
        match self.sets.remove(&frag.key) {
            Some(set) => (DefragOutcome::Complete(set.buf.take_bufs().0), evicted),
            None => (DefragOutcome::Pending, evicted),
        }
    }

    /// Returns a reassembled buffer for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.free.len() < MAX_FREE_BUFS {
            buf.clear();
            self.free.push(buf);
        }
    }

    fn drop_set(&mut self, key: &FragKey) {
        if let Some(set) = self.sets.remove(key) {
            let (data, _) = set.buf.take_bufs();
            self.recycle(data);
        }
    }

    /// Keeps the order queue proportional to the live sets: completed sets
    /// leave stale entries behind a long-lived set at the front.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.max_sets + 64 {
            let sets = &self.sets;
            self.order
                .retain(|(_, k, g)| sets.get(k).is_some_and(|s| s.generation == *g));
        }
    }
}

/// Skips IPv6 extension headers that may start a reassembled fragmentable part
/// (RFC 8200 §4.5: everything after the Fragment header, e.g. Destination Options).
/// Returns the upper-layer protocol and its bytes.
pub fn skip_ipv6_ext(mut proto: u8, mut b: &[u8]) -> Option<(u8, &[u8])> {
    // Bounded: each step consumes at least 8 bytes.
    loop {
        match proto {
            // Hop-by-Hop, Routing, Destination Options: (hdr ext len + 1) * 8 bytes.
            0 | 43 | 60 => {
                let len = (usize::from(*b.get(1)?) + 1) * 8;
                proto = *b.first()?;
                b = b.get(len..)?;
            }
            _ => return Some((proto, b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::from([10, 0, 0, 1]),
            dst: IpAddr::from([10, 0, 0, 2]),
            id,
            proto: 17,
        }
    }

    fn frag(id: u32, off8: u16, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            key: key(id),
            offset: IpFragOffset::try_new(off8).expect("test offsets are in range"),
            more,
            payload,
        }
    }

    fn t(s: i64) -> CaptureTime {
        CaptureTime::from_secs_nanos(s, 0)
    }

    /// Pushes (offset in 8-byte units, more, byte value, len) and returns what completed.
    fn run(frags: &[Frag]) -> Vec<Vec<u8>> {
        let mut d = Defragmenter::new(4, 30_000_000_000);
        let mut done = Vec::new();
        for &(off, more, v, len) in frags {
            let bytes = vec![v; len];
            if let (DefragOutcome::Complete(b), _) = d.push(frag(1, off, more, &bytes), t(0)) {
                done.push(b);
            }
        }
        done
    }

    /// (offset in 8-byte units, more fragments, byte value, length).
    type Frag = (u16, bool, u8, usize);
    /// (name, fragments pushed, payloads expected).
    type Case<'a> = (&'a str, &'a [Frag], &'a [&'a [u8]]);

    #[test]
    fn reassembly_table() {
        let whole: Vec<u8> = [vec![1u8; 16], vec![2; 8], vec![3; 5]].concat();
        let cases: &[Case<'_>] = &[
            (
                "in order",
                &[(0, true, 1, 16), (2, true, 2, 8), (3, false, 3, 5)],
                &[&whole],
            ),
            (
                "reversed",
                &[(3, false, 3, 5), (2, true, 2, 8), (0, true, 1, 16)],
                &[&whole],
            ),
            (
                "shuffled",
                &[(2, true, 2, 8), (0, true, 1, 16), (3, false, 3, 5)],
                &[&whole],
            ),
            (
                "duplicate middle",
                &[
                    (0, true, 1, 16),
                    (2, true, 2, 8),
                    (2, true, 2, 8),
                    (3, false, 3, 5),
                ],
                &[&whole],
            ),
            ("missing middle", &[(0, true, 1, 16), (3, false, 3, 5)], &[]),
            ("missing last", &[(0, true, 1, 16), (2, true, 2, 8)], &[]),
        ];
        for (name, frags, want) in cases {
            let got = run(frags);
            let want: Vec<Vec<u8>> = want.iter().map(|w| w.to_vec()).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn conflicting_end_drops_set() {
        let mut d = Defragmenter::new(4, i64::MAX);
        let a = [0u8; 8];
        assert!(matches!(
            d.push(frag(1, 1, false, &a), t(0)).0,
            DefragOutcome::Pending
        ));
        assert!(matches!(
            d.push(frag(1, 0, false, &a), t(0)).0,
            DefragOutcome::Invalid(_)
        ));
        assert_eq!(d.in_flight(), 0);
        // Unaligned non-last fragment.
        assert!(matches!(
            d.push(frag(2, 0, true, &a[..5]), t(0)).0,
            DefragOutcome::Invalid(_)
        ));
    }

    #[test]
    fn bounded_by_count_and_age() {
        let mut d = Defragmenter::new(2, 30_000_000_000);
        let a = [0u8; 8];
        for id in 0..5 {
            let (o, _) = d.push(frag(id, 0, true, &a), t(id.into()));
            assert!(matches!(o, DefragOutcome::Pending));
            assert!(d.in_flight() <= 2);
        }
        assert_eq!(d.expire(t(20)), 0);
        assert_eq!(d.expire(t(40)), 2);
        assert_eq!(d.in_flight(), 0);
        // Completing a set leaves no live entry to evict.
        let (o, e) = d.push(frag(9, 0, false, &a), t(41));
        assert!(matches!(o, DefragOutcome::Complete(_)) || matches!(o, DefragOutcome::Pending));
        assert_eq!(e, 0);
        assert_eq!(d.expire(t(1000)), 0);
    }

    #[test]
    fn order_queue_stays_bounded() {
        let mut d = Defragmenter::new(2, i64::MAX);
        let a = [0u8; 8];
        // A long-lived set at the front, then many sets that complete.
        d.push(frag(0, 0, true, &a), t(0));
        for id in 1..10_000 {
            d.push(frag(id, 0, true, &a), t(0));
            d.push(frag(id, 1, false, &a), t(0));
        }
        assert!(d.order.len() <= 2 * 2 + 64 + 1);
    }

    #[test]
    fn ipv6_ext_skip() {
        assert_eq!(skip_ipv6_ext(17, &[1, 2]), Some((17, &[1u8, 2][..])));
        let dest_opts = [17u8, 0, 0, 0, 0, 0, 0, 0, 9];
        assert_eq!(skip_ipv6_ext(60, &dest_opts), Some((17, &[9u8][..])));
        assert_eq!(skip_ipv6_ext(60, &dest_opts[..4]), None);
        assert_eq!(skip_ipv6_ext(60, &[]), None);
    }
}
