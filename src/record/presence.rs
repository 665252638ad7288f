//! Sessions from presence: with metadata, each maximal span of time in which
//! at least one peer is present is its own recording session.

use super::manifest::compact_time;
use crate::time::CaptureTime;

/// A recording session that metadata presences make.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PlannedSession {
    /// Indices of the peer entries present in it.
    pub peers: Vec<usize>,
    /// When its last peer leaves (`None`: some peer never does).
    pub end: Option<CaptureTime>,
    /// Its id: the metadata's, or derived; `None`: from its first packet.
    pub session_id: Option<String>,
    /// SSRCs its tracks name.
    pub ssrcs: Vec<u32>,
}

/// The sessions of a room: each maximal span of time in which at least one
/// peer is present (from the first join to the last leave) is one session.
/// A peer entry without `joined_at` is present from the start, one without
/// `left_at` to the end. With one session, its id is the metadata's
/// `session_id` (or derived from its first packet); with several, the k-th
/// (from 1) is `<session_id>-<k>`, or without a `session_id`, `s<start>` from
/// its first join, as sessions without metadata are named.
pub(super) fn plan_sessions(map: &crate::session::SessionMap) -> Vec<PlannedSession> {
    let mut order: Vec<usize> = (0..map.peers.len()).collect();
    order.sort_by_key(|&i| (map.peers[i].joined_at, i));
    // (start, end, peers): None = unbounded.
    let mut spans: Vec<(Option<CaptureTime>, Option<CaptureTime>, Vec<usize>)> = Vec::new();
    for i in order {
        let p = &map.peers[i];
        match spans.last_mut() {
            // Overlapping or touching the open span (an unbounded end absorbs everything after).
            Some((_, end, peers)) if end.is_none_or(|e| p.joined_at.is_none_or(|j| j <= e)) => {
                *end = match (*end, p.left_at) {
                    (Some(e), Some(l)) => Some(e.max(l)),
                    _ => None,
                };
                peers.push(i);
            }
            _ => spans.push((p.joined_at, p.left_at, vec![i])),
        }
    }
    if spans.is_empty() {
        spans.push((None, None, Vec::new()));
    }
    let several = spans.len() > 1;
    let mut taken = std::collections::HashSet::new();
    let mut plan: Vec<PlannedSession> = spans
        .into_iter()
        .enumerate()
        .map(|(k, (start, end, mut peers))| {
            peers.sort_unstable();
            let session_id = match (&map.session_id, several) {
                (Some(id), false) => Some(id.clone()),
                (Some(id), true) => Some(format!("{id}-{}", k + 1)),
                (None, true) => start.map(|s| format!("s{}", compact_time(s))),
                (None, false) => None,
            };
            let ssrcs = peers
                .iter()
                .flat_map(|&i| &map.peers[i].tracks)
                .flat_map(|t| [t.ssrc, t.rtx_ssrc, t.fec_ssrc])
                .flatten()
                .collect();
            PlannedSession {
                peers,
                end,
                session_id,
                ssrcs,
            }
        })
        .collect();
    // Two presences that begin in the same second would share `s<start>`: the later gets `-2`.
    for p in &mut plan {
        if let Some(id) = &mut p.session_id {
            let base = id.clone();
            let mut n = 1;
            while !taken.insert(id.clone()) {
                n += 1;
                *id = format!("{base}-{n}");
            }
        }
    }
    plan
}
