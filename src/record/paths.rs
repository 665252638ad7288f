//! One media source, several paths: the packets of one SSRC may travel
//! several 5-tuples (TURN relay and direct after an ICE switch, a port change,
//! IPv4 and IPv6, or every leg of a capture taken on a TURN server or SFU). The
//! track is the SSRC; a packet that arrives again on another path is a copy,
//! counted apart from the network's own duplicates and never recorded twice.

use crate::net::Flow;

/// Sequence numbers remembered per track to recognise copies.
const WINDOW: usize = 256;
/// Distinct paths told apart per track; more share the last index.
const MAX_PATHS: usize = 16;

/// The last packet seen at a window slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    seq: u16,
    ts: u32,
    path: u8,
}

/// The paths of one track and the copies they brought.
#[derive(Debug, Default)]
pub struct Paths {
    flows: Vec<Flow>,
    recent: Vec<Option<Seen>>,
    /// Packets that had already arrived on another path.
    copies: u64,
}

impl Paths {
    /// Whether a packet (`seq`, `ts`) arriving on `flow` is new, rather than a
    /// copy of one that came on another path. A repeat on the same path is the
    /// network's duplicate: it is admitted, for the reorder buffer to count.
    pub fn admit(&mut self, flow: &Flow, seq: u16, ts: u32) -> bool {
        let path = match self.flows.iter().position(|f| f == flow) {
            Some(i) => i,
            None if self.flows.len() < MAX_PATHS => {
                self.flows.push(*flow);
                self.flows.len() - 1
            }
            None => MAX_PATHS - 1,
        };
        let path = u8::try_from(path).unwrap_or(u8::MAX);
        if self.recent.is_empty() {
            self.recent = vec![None; WINDOW];
        }
        let slot = &mut self.recent[usize::from(seq) % WINDOW];
        if let Some(seen) = slot
            && seen.seq == seq
            && seen.ts == ts
            && seen.path != path
        {
            self.copies += 1;
            return false;
        }
        *slot = Some(Seen { seq, ts, path });
        true
    }

    /// Packets dropped as copies from another path.
    pub fn copies(&self) -> u64 {
        self.copies
    }

    /// Distinct 5-tuples the track's packets took (at most 16 are told apart).
    pub fn count(&self) -> u64 {
        self.flows.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Transport;

    fn flow(src: &str) -> Flow {
        Flow {
            src: src.parse().expect("addr"),
            dst: "10.0.0.2:6000".parse().expect("addr"),
            transport: Transport::Udp,
        }
    }

    #[test]
    fn copies_from_another_leg_are_dropped_and_counted() {
        let mut p = Paths::default();
        let (relay, direct) = (flow("10.0.0.9:3478"), flow("10.0.0.1:5000"));
        for seq in 0..100u16 {
            let ts = u32::from(seq) * 960;
            assert!(p.admit(&relay, seq, ts));
            assert!(!p.admit(&direct, seq, ts), "seq {seq} is a copy");
        }
        assert_eq!(p.copies(), 100);
        assert_eq!(p.count(), 2);
    }

    #[test]
    fn a_path_switch_continues_and_same_path_repeats_are_the_networks() {
        let mut p = Paths::default();
        let (relay, direct) = (flow("10.0.0.9:3478"), flow("10.0.0.1:5000"));
        for seq in 0..50u16 {
            assert!(p.admit(&relay, seq, u32::from(seq) * 960));
        }
        // ICE switch: the next packets come directly.
        for seq in 50..100u16 {
            assert!(p.admit(&direct, seq, u32::from(seq) * 960));
        }
        // A network duplicate on the same path is the reorder buffer's to count.
        assert!(p.admit(&direct, 99, 99 * 960));
        // After a restart, a reused sequence number with a new timestamp is new.
        assert!(p.admit(&relay, 10, 123_456));
        assert_eq!(p.copies(), 0);
    }
}
