//! Per-track time series for `rtprec report`: `OUT/timeline.json` beside the manifest.
//!
//! Each track's worker counts, per interval of capture time (1 s to start
//! with), the packets and payload bytes that arrived, the packets lost and
//! recovered, the mean RFC 3550 interarrival jitter, the longest gap between
//! arrivals and the keyframes written; and it lists events: gaps (runs of lost
//! packets), pauses (DTX, mute) and keyframe times. Everything derives from
//! capture times, never the wall clock, and each track sees its own packets in
//! capture order, so the file has the same bytes whatever `--jobs`.
//!
//! Memory stays bounded: at most [`MAX_INTERVALS`] intervals per track (24 h
//! of 1 s intervals); a longer track doubles its interval length, merging
//! neighbours, as often as needed. At most [`MAX_EVENTS`] events of each kind
//! are kept; the rest are counted in `events_dropped`.

use crate::time::CaptureTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file's name in the output directory, beside `manifest.json`.
pub const TIMELINE_FILE: &str = "timeline.json";

/// Version of the timeline file format.
pub const TIMELINE_VERSION: u32 = 1;

/// Length of an interval before any coarsening, in ms.
pub const INTERVAL_MS: u64 = 1_000;

/// Most intervals kept per track (24 h at 1 s); beyond, intervals double in length.
pub const MAX_INTERVALS: usize = 86_400;

/// Most events of each kind (gaps, pauses, keyframes) kept per track.
pub const MAX_EVENTS: usize = 10_000;

/// `OUT/timeline.json`: every listed track's time series, keyed by asset id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// Format version ([`TIMELINE_VERSION`]).
    pub version: u32,
    /// Per asset id (as in the manifest), sorted: the output is deterministic.
    pub tracks: BTreeMap<String, TrackTimeline>,
}

/// [`Timeline`] as written: the same JSON, borrowing the series.
#[derive(Debug, Serialize)]
pub struct TimelineRef<'a> {
    /// Format version ([`TIMELINE_VERSION`]).
    pub version: u32,
    /// Per asset id, sorted.
    pub tracks: BTreeMap<&'a str, &'a TrackTimeline>,
}

/// One track's time series (columns of equal length, one entry per interval)
/// and events. Times in events are ms since `start_ms`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackTimeline {
    /// Capture time of the track's first packet, ms since the Unix epoch.
    pub start_ms: i64,
    /// Capture time of the track's last packet, in ms after `start_ms`.
    pub end_ms: i64,
    /// Length of each interval in ms (1000, doubled for each coarsening).
    pub interval_ms: u64,
    /// Packets of the track's SSRC that arrived.
    pub packets: Vec<u32>,
    /// RTP payload bytes that arrived.
    pub bytes: Vec<u64>,
    /// Packets found lost (counted in the interval where the gap began).
    pub lost: Vec<u32>,
    /// Packets restored by RTX, RED or FEC.
    pub recovered: Vec<u32>,
    /// Mean RFC 3550 interarrival jitter over the interval's packets, in µs.
    pub jitter_us: Vec<u32>,
    /// Longest time between two consecutive arrivals ending in the interval, in ms.
    pub max_gap_ms: Vec<u32>,
    /// Keyframes written (video).
    pub keyframes: Vec<u32>,
    /// Gaps: `[start_ms, end_ms, lost]`, from the last packet before to the first after.
    pub gaps: Vec<[i64; 3]>,
    /// Pauses (media time stood still, nothing lost): `[start_ms, end_ms]`.
    pub pauses: Vec<[i64; 2]>,
    /// Times of keyframes written (video), in ms.
    pub keyframe_ms: Vec<i64>,
    /// Events left out beyond [`MAX_EVENTS`] of their kind.
    pub events_dropped: u64,
}

/// One interval's counters while recording.
#[derive(Clone, Copy, Debug, Default)]
struct Interval {
    packets: u32,
    bytes: u64,
    lost: u32,
    recovered: u32,
    jitter_sum_us: u64,
    jitter_n: u32,
    max_gap_ms: u32,
    keyframes: u32,
}

impl Interval {
    fn merge(self, o: Interval) -> Interval {
        Interval {
            packets: self.packets.saturating_add(o.packets),
            bytes: self.bytes.saturating_add(o.bytes),
            lost: self.lost.saturating_add(o.lost),
            recovered: self.recovered.saturating_add(o.recovered),
            jitter_sum_us: self.jitter_sum_us.saturating_add(o.jitter_sum_us),
            jitter_n: self.jitter_n.saturating_add(o.jitter_n),
            max_gap_ms: self.max_gap_ms.max(o.max_gap_ms),
            keyframes: self.keyframes.saturating_add(o.keyframes),
        }
    }
}

/// Builds a [`TrackTimeline`] as a track's packets are processed.
#[derive(Clone, Debug)]
pub struct TimelineBuilder {
    clock_rate: u32,
    start: Option<CaptureTime>,
    interval_ns: i64,
    intervals: Vec<Interval>,
    /// RFC 3550 §6.4.1 jitter, in RTP clock units times 16 (A.8's fixed point).
    jitter16: i64,
    /// (capture time, RTP timestamp) of the previous arrival.
    prev: Option<(CaptureTime, u32)>,
    /// A gap released by the reorder buffer: where it began and how many were lost.
    open_gap: Option<(CaptureTime, u64)>,
    gaps: Vec<[i64; 3]>,
    pauses: Vec<[i64; 2]>,
    keyframe_ms: Vec<i64>,
    events_dropped: u64,
}

impl TimelineBuilder {
    /// A builder for a track whose RTP clock runs at `clock_rate` Hz (0:
    /// unknown, as for a codec rtprec cannot identify; its jitter stays 0).
    pub fn new(clock_rate: u32) -> Self {
        TimelineBuilder {
            clock_rate,
            start: None,
            interval_ns: INTERVAL_MS as i64 * 1_000_000,
            intervals: Vec::new(),
            jitter16: 0,
            prev: None,
            open_gap: None,
            gaps: Vec::new(),
            pauses: Vec::new(),
            keyframe_ms: Vec::new(),
            events_dropped: 0,
        }
    }

    /// The interval holding `t`, created (and the series coarsened) as needed.
    fn at(&mut self, t: CaptureTime) -> &mut Interval {
        let start = *self.start.get_or_insert(t);
        // Restored packets may carry a time before the first arrival: clamp.
        let mut i = usize::try_from(t.nanos_since(start).max(0) / self.interval_ns).unwrap_or(0);
        while i >= MAX_INTERVALS {
            self.coarsen();
            i = usize::try_from(t.nanos_since(start).max(0) / self.interval_ns).unwrap_or(0);
        }
        if self.intervals.len() <= i {
            self.intervals.resize(i + 1, Interval::default());
        }
        &mut self.intervals[i]
    }

    /// Halves the number of intervals by doubling their length.
    fn coarsen(&mut self) {
        self.interval_ns = self.interval_ns.saturating_mul(2);
        let merged = self
            .intervals
            .chunks(2)
            .map(|c| c.iter().copied().fold(Interval::default(), Interval::merge))
            .collect();
        self.intervals = merged;
    }

    fn ms_of(&self, t: CaptureTime) -> i64 {
        self.start.map_or(0, |s| t.nanos_since(s) / 1_000_000)
    }

    /// A packet of the track's SSRC arrived (`payload` bytes, RTP timestamp `ts32`).
    pub fn arrival(&mut self, t: CaptureTime, ts32: u32, payload: usize) {
        let mut gap_ms = 0;
        if let Some((pt, pts)) = self.prev {
            let dt_ns = t.nanos_since(pt);
            gap_ms = u32::try_from(dt_ns.max(0) / 1_000_000).unwrap_or(u32::MAX);
            // D(i-1, i) in clock units (RFC 3550 §6.4.1); the timestamp step wraps.
            let arrival = i128::from(dt_ns) * i128::from(self.clock_rate) / 1_000_000_000;
            let d = arrival - i128::from(ts32.wrapping_sub(pts) as i32);
            // A step of more than 10 s is a restart or jump, not jitter.
            if self.clock_rate > 0 && d.abs() <= i128::from(self.clock_rate) * 10 {
                let d = i64::try_from(d.abs()).unwrap_or(0);
                // RFC 3550 A.8: J += |D| - (J + 8) / 16, with J scaled by 16.
                self.jitter16 += d - ((self.jitter16 + 8) >> 4);
            }
        }
        self.prev = Some((t, ts32));
        let jitter_us =
            u64::try_from((self.jitter16 >> 4) * 1_000_000 / i64::from(self.clock_rate.max(1)))
                .unwrap_or(0);
        let iv = self.at(t);
        iv.packets = iv.packets.saturating_add(1);
        iv.bytes = iv.bytes.saturating_add(payload as u64);
        iv.jitter_sum_us = iv.jitter_sum_us.saturating_add(jitter_us);
        iv.jitter_n = iv.jitter_n.saturating_add(1);
        iv.max_gap_ms = iv.max_gap_ms.max(gap_ms);
    }

    /// A lost packet was restored (RTX, RED or FEC) by a packet that came at `t`.
    pub fn recovered(&mut self, t: CaptureTime) {
        let iv = self.at(t);
        iv.recovered = iv.recovered.saturating_add(1);
    }

    /// The reorder buffer gave up on `lost` packets after the packet released at `after`.
    pub fn gap(&mut self, after: Option<CaptureTime>, lost: u64) {
        let Some(start) = after.or(self.start) else {
            return;
        };
        let iv = self.at(start);
        iv.lost = iv
            .lost
            .saturating_add(u32::try_from(lost).unwrap_or(u32::MAX));
        let (s, n) = self.open_gap.take().map_or((start, 0), |(s, n)| (s, n));
        self.open_gap = Some((s, n + lost));
    }

    /// A packet was released at `t` (its capture time): an open gap ends here.
    pub fn released(&mut self, t: CaptureTime) {
        if let Some((s, lost)) = self.open_gap.take() {
            let (s, e) = (self.ms_of(s), self.ms_of(t).max(self.ms_of(s)));
            let lost = i64::try_from(lost).unwrap_or(i64::MAX);
            push_capped(&mut self.gaps, [s, e, lost], &mut self.events_dropped);
        }
    }

    /// Media time stood still from `from` to `to` with nothing lost.
    pub fn pause(&mut self, from: CaptureTime, to: CaptureTime) {
        let ev = [self.ms_of(from), self.ms_of(to)];
        push_capped(&mut self.pauses, ev, &mut self.events_dropped);
    }

    /// A keyframe was written; `t` is the capture time of the packet that completed it.
    pub fn keyframe(&mut self, t: CaptureTime) {
        let ms = self.ms_of(t);
        push_capped(&mut self.keyframe_ms, ms, &mut self.events_dropped);
        let iv = self.at(t);
        iv.keyframes = iv.keyframes.saturating_add(1);
    }

    /// The series, or `None` when no packet arrived.
    pub fn finish(mut self) -> Option<TrackTimeline> {
        let start = self.start?;
        // A gap still open at the end had no packet after it.
        if let Some((s, _)) = self.open_gap {
            self.released(s);
        }
        let end_ms = self.prev.map_or(0, |(t, _)| self.ms_of(t));
        let iv = &self.intervals;
        Some(TrackTimeline {
            start_ms: start.as_nanos().div_euclid(1_000_000),
            end_ms,
            interval_ms: u64::try_from(self.interval_ns / 1_000_000).unwrap_or(INTERVAL_MS),
            packets: iv.iter().map(|i| i.packets).collect(),
            bytes: iv.iter().map(|i| i.bytes).collect(),
            lost: iv.iter().map(|i| i.lost).collect(),
            recovered: iv.iter().map(|i| i.recovered).collect(),
            jitter_us: iv
                .iter()
                .map(|i| {
                    let mean = i.jitter_sum_us / u64::from(i.jitter_n.max(1));
                    u32::try_from(mean).unwrap_or(u32::MAX)
                })
                .collect(),
            max_gap_ms: iv.iter().map(|i| i.max_gap_ms).collect(),
            keyframes: iv.iter().map(|i| i.keyframes).collect(),
            gaps: self.gaps,
            pauses: self.pauses,
            keyframe_ms: self.keyframe_ms,
            events_dropped: self.events_dropped,
        })
    }
}

fn push_capped<T>(v: &mut Vec<T>, item: T, dropped: &mut u64) {
    if v.len() < MAX_EVENTS {
        v.push(item);
    } else {
        *dropped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: i64) -> CaptureTime {
        CaptureTime::from_nanos(1_700_000_000_000_000_000 + ms * 1_000_000)
    }

    #[test]
    fn counts_land_in_their_intervals() {
        let mut b = TimelineBuilder::new(48_000);
        for i in 0..150 {
            // 20 ms packets, perfectly paced: no jitter.
            b.arrival(at_ms(i * 20), (i as u32) * 960, 100);
        }
        b.gap(Some(at_ms(1_500)), 3);
        b.released(at_ms(1_560));
        b.recovered(at_ms(2_100));
        b.pause(at_ms(2_200), at_ms(2_900));
        let t = b.finish().unwrap();
        assert_eq!((t.start_ms, t.end_ms), (1_700_000_000_000, 2_980));
        assert_eq!(t.interval_ms, 1_000);
        assert_eq!(t.packets, vec![50, 50, 50]);
        assert_eq!(t.bytes, vec![5_000, 5_000, 5_000]);
        assert_eq!(t.lost, vec![0, 3, 0]);
        assert_eq!(t.recovered, vec![0, 0, 1]);
        assert_eq!(t.jitter_us, vec![0, 0, 0]);
        assert_eq!(t.max_gap_ms, vec![20, 20, 20]);
        assert_eq!(t.gaps, vec![[1_500, 1_560, 3]]);
        assert_eq!(t.pauses, vec![[2_200, 2_900]]);
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let mut b = TimelineBuilder::new(1_000);
        b.arrival(at_ms(0), 0, 1);
        // Arrives 16 ms late against its timestamp: J = 16/16 = 1 ms.
        b.arrival(at_ms(36), 20, 1);
        let t = b.finish().unwrap();
        assert_eq!(t.jitter_us, vec![500]);
        assert_eq!(t.max_gap_ms, vec![36]);
    }

    #[test]
    fn long_tracks_coarsen_and_stay_bounded() {
        let mut b = TimelineBuilder::new(90_000);
        // One packet every 10 s for 3 days.
        for i in 0..(3 * 8_640) {
            b.arrival(at_ms(i * 10_000), (i as u32).wrapping_mul(900_000), 10);
        }
        let t = b.finish().unwrap();
        assert!(t.packets.len() <= MAX_INTERVALS);
        assert_eq!(t.interval_ms, 4_000);
        assert_eq!(
            t.packets.iter().map(|&p| u64::from(p)).sum::<u64>(),
            3 * 8_640
        );
    }

    #[test]
    fn events_are_capped() {
        let mut b = TimelineBuilder::new(90_000);
        b.arrival(at_ms(0), 0, 1);
        for i in 0..(MAX_EVENTS as i64 + 5) {
            b.keyframe(at_ms(i));
        }
        let t = b.finish().unwrap();
        assert_eq!((t.keyframe_ms.len(), t.events_dropped), (MAX_EVENTS, 5));
    }

    #[test]
    fn no_packet_no_timeline() {
        assert!(TimelineBuilder::new(8_000).finish().is_none());
    }
}
