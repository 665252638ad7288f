//! Sender clocks: what RTCP sender reports say about a sender's RTP clock.
//!
//! Every sender report (RFC 3550 §6.4.1) pairs an RTP timestamp with the
//! sender's NTP wall clock at the same instant. [`SenderClock`] collects one
//! SSRC's reports with their capture times and maps any RTP timestamp of that
//! SSRC to the sender's NTP time:
//!
//! - **Segments.** Consecutive reports whose RTP delta disagrees with their
//!   NTP delta × the nominal clock rate by more than [`BREAK_TOLERANCE_SECS`]
//!   (plus 1000 ppm of the time between them), or whose NTP or RTP time goes
//!   backwards, start a new [`Segment`]: the sender reset its RTP timestamps
//!   (a new encoder, a restarted track) or stepped its NTP clock. A single
//!   report out of line with both neighbours, while those two agree, is
//!   garbage and skipped; so are reports with a zero NTP time.
//! - **Measured rate.** In a segment whose reports span at least
//!   [`MIN_RATE_SPAN_SECS`], the real RTP clock rate (ticks per second of the
//!   sender's NTP clock) is the least-squares slope of RTP over NTP time. An
//!   audio clock running 200 ppm fast is 120 ms off after 10 minutes at the
//!   nominal rate; at the measured rate it is not.
//! - **Mapping.** A packet's RTP timestamp goes through the segment in effect
//!   at its capture time: among the segments whose RTP timeline it fits
//!   (within [`FIT_TOLERANCE_SECS`] of where that segment's clock stands at
//!   that capture time), the one whose reports are nearest in capture time;
//!   when it fits none, the nearest one. The 32-bit timestamp is unwrapped
//!   against that prediction from the segment's report nearest in capture
//!   time, then mapped through the segment's least-squares line (which
//!   averages out the reports' own jitter), or from that report at the
//!   nominal rate when the rate could not be measured.
//! - **Bounded memory.** At most [`MAX_REPORTS`] reports are kept per SSRC,
//!   plus the latest. When more arrive the kept ones are thinned to every
//!   other one, and from then on one report in `stride` (doubling at each
//!   thinning) is kept: the kept reports stay spread evenly over the whole
//!   call instead of crowding at its start or end, which is what the
//!   least-squares rate and the choice of segment by capture time need. The
//!   first and last report of every segment (as the kept reports' median rate
//!   tells segments apart while collecting) are never thinned away, so a
//!   reset is never lost and a segment keeps its span.
//!
//! The nominal clock rate is given when asking, not when collecting: reports
//! can arrive before anyone knows which codec their SSRC carries.
//!
//! Sans-IO: capture times come from the caller, never the wall clock.

use crate::rtp::rtcp::NtpTime;
use crate::time::CaptureTime;

/// Reports kept per SSRC (plus the latest); beyond this they are thinned.
pub const MAX_REPORTS: usize = 256;
/// How far consecutive reports may disagree with the nominal rate before the
/// RTP↔NTP relation counts as broken (a reset or an NTP step), in seconds.
pub const BREAK_TOLERANCE_SECS: f64 = 1.0;
/// Extra tolerance per second between two reports (1000 ppm), so that drift
/// across widely spaced (thinned) reports is not taken for a reset.
const BREAK_TOLERANCE_PER_SEC: f64 = 1e-3;
/// Shortest span of a segment's reports for its clock rate to be measured, in seconds.
pub const MIN_RATE_SPAN_SECS: f64 = 5.0;
/// How far a packet's RTP timestamp may be from where a segment's clock stands
/// at its capture time and still belong to that segment, in seconds (network
/// and sender delays, jitter buffers).
pub const FIT_TOLERANCE_SECS: f64 = 2.0;

/// One sender report: the same instant on the sender's NTP and RTP clocks, and when it was captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Report {
    capture: CaptureTime,
    ntp: NtpTime,
    rtp: u32,
}

/// Seconds from NTP time `a` to `b` (wrapping: an NTP era rollover is a step of a few seconds, not 136 years).
fn ntp_secs_between(a: NtpTime, b: NtpTime) -> f64 {
    b.0.wrapping_sub(a.0) as i64 as f64 / 4_294_967_296.0
}

/// The RTP delta from `a` to `b` (ticks), unwrapped to the value nearest `predicted` ticks.
fn unwrap_delta(a: u32, b: u32, predicted: f64) -> i64 {
    // Saturating float-to-int: absurd predictions give absurd (but defined) deltas.
    let pred = predicted.round() as i64;
    let base = a.wrapping_add(pred as u32);
    pred.saturating_add(i64::from(b.wrapping_sub(base) as i32))
}

/// Whether `b` (the later report) breaks the RTP↔NTP relation of `a` at `rate` ticks/s.
fn breaks(a: &Report, b: &Report, rate: f64) -> bool {
    let dt = ntp_secs_between(a.ntp, b.ntp);
    if dt <= 0.0 {
        // The NTP clock stood still or stepped back.
        return true;
    }
    let d = unwrap_delta(a.rtp, b.rtp, dt * rate);
    if d < 0 {
        // The RTP clock went backwards.
        return true;
    }
    (d as f64 - dt * rate).abs() / rate > BREAK_TOLERANCE_SECS + dt * BREAK_TOLERANCE_PER_SEC
}

/// The median of the rates implied by consecutive reports (ticks/s), if any pair moves forward.
fn median_rate(reports: &[Report]) -> Option<f64> {
    let mut rates: Vec<f64> = reports
        .windows(2)
        .filter_map(|w| {
            let dt = ntp_secs_between(w[0].ntp, w[1].ntp);
            let d = w[1].rtp.wrapping_sub(w[0].rtp) as i32;
            (dt > 0.0 && d > 0).then(|| f64::from(d) / dt)
        })
        .collect();
    if rates.is_empty() {
        return None;
    }
    rates.sort_by(f64::total_cmp);
    Some(rates[rates.len() / 2])
}

/// One SSRC's RTCP sender reports, kept for mapping its RTP timestamps to the sender's NTP clock.
#[derive(Clone, Debug)]
pub struct SenderClock {
    /// Kept reports, in capture order (at most [`MAX_REPORTS`]).
    kept: Vec<Report>,
    /// The latest report, kept or not: new reports are compared with it.
    last: Option<Report>,
    /// Whether `last` is in `kept`.
    last_kept: bool,
    /// Once thinned, one report in `stride` is kept (a power of two; 1 keeps all).
    stride: u32,
    /// Reports since the last one kept.
    since_kept: u32,
    /// Rate (ticks/s) that tells segments apart while collecting: the kept reports' median.
    reference_rate: Option<f64>,
    /// Valid reports received.
    received: u64,
    /// Reports ignored as garbage (zero NTP time).
    ignored: u64,
}

impl Default for SenderClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SenderClock {
    /// A clock with no reports.
    pub fn new() -> Self {
        SenderClock {
            kept: Vec::new(),
            last: None,
            last_kept: false,
            stride: 1,
            since_kept: 0,
            reference_rate: None,
            received: 0,
            ignored: 0,
        }
    }

    /// Adds a sender report captured at `capture` (reports come in capture order).
    ///
    /// Returns false when the report is ignored: a zero NTP time (garbage) or the
    /// same report as the previous one (captured twice).
    pub fn push(&mut self, capture: CaptureTime, ntp: NtpTime, rtp: u32) -> bool {
        if ntp.0 == 0 {
            self.ignored += 1;
            return false;
        }
        let r = Report { capture, ntp, rtp };
        if self.last.is_some_and(|l| l.ntp == ntp && l.rtp == rtp) {
            return false;
        }
        self.received += 1;
        let keep = if self.stride <= 1 {
            true
        } else {
            let brk = match (self.last, self.reference_rate) {
                (Some(l), Some(rate)) => breaks(&l, &r, rate),
                _ => false,
            };
            if brk {
                // A new segment: keep the end of the old one and the start of the new.
                if let (Some(l), false) = (self.last, self.last_kept) {
                    self.kept.push(l);
                }
                true
            } else {
                self.since_kept += 1;
                self.since_kept >= self.stride
            }
        };
        if keep {
            self.kept.push(r);
            self.since_kept = 0;
        }
        self.last = Some(r);
        self.last_kept = keep;
        if self.kept.len() > MAX_REPORTS {
            self.thin();
        }
        true
    }

    /// Halves the kept reports, keeping each segment's ends; doubles the stride.
    fn thin(&mut self) {
        let n = self.kept.len();
        self.reference_rate = median_rate(&self.kept);
        let mut keep: Vec<bool> = (0..n).map(|i| i % 2 == 0 || i == n - 1).collect();
        if let Some(rate) = self.reference_rate {
            let mut protected = keep.clone();
            for i in 1..n {
                if breaks(&self.kept[i - 1], &self.kept[i], rate) {
                    protected[i - 1] = true;
                    protected[i] = true;
                }
            }
            // A sender that breaks all the time cannot keep everything: then plain halving.
            if protected.iter().filter(|k| **k).count() <= MAX_REPORTS * 3 / 4 {
                keep = protected;
            }
        }
        let mut i = 0;
        self.kept.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        self.stride = self.stride.saturating_mul(2);
        self.since_kept = 0;
    }

    /// Valid sender reports received (kept or not).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Sender reports ignored as garbage.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Reports held (kept plus the latest).
    fn reports(&self) -> Vec<Report> {
        let mut r = self.kept.clone();
        if let (Some(l), false) = (self.last, self.last_kept) {
            r.push(l);
        }
        r
    }

    /// The reports split into segments at `clock_rate` (the nominal rate, ticks/s);
    /// `None` without reports or with a zero rate.
    pub fn timeline(&self, clock_rate: u32) -> Option<Timeline> {
        let nominal = f64::from(clock_rate);
        let reports = self.reports();
        if clock_rate == 0 || reports.is_empty() {
            return None;
        }
        let mut runs: Vec<Vec<Report>> = Vec::new();
        for (i, r) in reports.iter().enumerate() {
            let Some(run) = runs.last_mut() else {
                runs.push(vec![*r]);
                continue;
            };
            let prev = *run.last().expect("runs are never empty");
            if !breaks(&prev, r, nominal) {
                run.push(*r);
            } else if reports
                .get(i + 1)
                .is_some_and(|next| !breaks(&prev, next, nominal) && breaks(r, next, nominal))
            {
                // Out of line with both neighbours, which agree: garbage, skipped.
            } else {
                runs.push(vec![*r]);
            }
        }
        let segments = runs
            .into_iter()
            .map(|run| Segment::new(run, nominal))
            .collect();
        Some(Timeline { segments, nominal })
    }

    /// The sender's NTP time of RTP timestamp `rtp` of a packet captured at `at`;
    /// see [`Timeline::map`].
    pub fn map(&self, rtp: u32, at: CaptureTime, clock_rate: u32) -> Option<Mapped> {
        self.timeline(clock_rate)?.map(rtp, at)
    }
}

/// A run of sender reports with one consistent RTP↔NTP relation.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// Its reports, in capture order (never empty).
    reports: Vec<Report>,
    /// NTP seconds of each report since the first.
    x: Vec<f64>,
    /// RTP ticks of each report since the first, unwrapped.
    y: Vec<i64>,
    /// Least-squares fit `y = y0 + rate * x`: (`y0`, `rate`), when measurable.
    fit: Option<(f64, f64)>,
}

impl Segment {
    fn new(reports: Vec<Report>, nominal: f64) -> Self {
        let first = reports[0];
        let mut x = Vec::with_capacity(reports.len());
        let mut y = Vec::with_capacity(reports.len());
        let mut acc = 0i64;
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                let p = reports[i - 1];
                let dt = ntp_secs_between(p.ntp, r.ntp);
                acc = acc.saturating_add(unwrap_delta(p.rtp, r.rtp, dt * nominal));
            }
            x.push(ntp_secs_between(first.ntp, r.ntp));
            y.push(acc);
        }
        let fit = least_squares(&x, &y);
        Segment { reports, x, y, fit }
    }

    /// Sender reports in the segment (of those kept).
    pub fn sender_reports(&self) -> usize {
        self.reports.len()
    }

    /// Capture time of its first report.
    pub fn first_capture(&self) -> CaptureTime {
        self.reports[0].capture
    }

    /// Capture time of its last report.
    pub fn last_capture(&self) -> CaptureTime {
        self.reports[self.reports.len() - 1].capture
    }

    /// The RTP clock rate measured over the segment (ticks per sender NTP
    /// second), when its reports span at least [`MIN_RATE_SPAN_SECS`].
    pub fn measured_rate(&self) -> Option<f64> {
        self.fit.map(|(_, rate)| rate)
    }

    /// How far `at` is from the segment's reports in capture time (0 within them), ns.
    fn capture_distance(&self, at: CaptureTime) -> i64 {
        let (a, b) = (self.first_capture(), self.last_capture());
        if at < a {
            a.nanos_since(at)
        } else if at > b {
            at.nanos_since(b)
        } else {
            0
        }
    }

    /// Maps `rtp` captured at `at`: NTP seconds since 1900, and how far (seconds)
    /// the timestamp is from where the segment's clock stands at `at`.
    fn map(&self, rtp: u32, at: CaptureTime, nominal: f64) -> (f64, f64) {
        let (i, anchor) = self
            .reports
            .iter()
            .enumerate()
            .min_by_key(|(_, r)| at.nanos_since(r.capture).unsigned_abs())
            .expect("segments are never empty");
        let rate = self.measured_rate().unwrap_or(nominal);
        let pred = at.nanos_since(anchor.capture) as f64 / 1e9 * rate;
        let d = unwrap_delta(anchor.rtp, rtp, pred);
        let off = (d as f64 - pred) / rate;
        let base = self.reports[0].ntp.as_secs_f64();
        let secs = match self.fit {
            // On the fitted line: ticks since the first report, back to NTP time.
            Some((y0, rate)) => (self.y[i] as f64 + d as f64 - y0) / rate,
            None => self.x[i] + d as f64 / rate,
        };
        (base + secs, off)
    }
}

/// Least-squares line `y = y0 + rate * x` when there are two points spanning
/// [`MIN_RATE_SPAN_SECS`] and the slope is a positive rate.
fn least_squares(x: &[f64], y: &[i64]) -> Option<(f64, f64)> {
    let n = x.len() as f64;
    let span = x.last()? - x.first()?;
    if x.len() < 2 || span.is_nan() || span < MIN_RATE_SPAN_SECS {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().map(|&v| v as f64).sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (&xi, &yi) in x.iter().zip(y) {
        let dx = xi - mx;
        sxx += dx * dx;
        sxy += dx * (yi as f64 - my);
    }
    let rate = sxy / sxx;
    (rate.is_finite() && rate > 0.0).then_some((my - rate * mx, rate))
}

/// A sender's reports split into segments at a nominal clock rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    segments: Vec<Segment>,
    nominal: f64,
}

/// An RTP timestamp mapped to the sender's NTP clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mapped {
    /// The sender's NTP time of the timestamp, seconds since 1900.
    pub ntp_secs: f64,
    /// The segment it went through (0: before any reset).
    pub segment: usize,
    /// The clock rate measured in that segment (ticks per sender NTP second).
    pub measured_rate: Option<f64>,
    /// Whether the timestamp fits the segment's RTP timeline at its capture time
    /// (within [`FIT_TOLERANCE_SECS`]); if it fits no segment the mapping is a guess.
    pub fits: bool,
}

impl Mapped {
    /// [`Mapped::ntp_secs`] as nanoseconds since the Unix epoch (era 0, as
    /// [`NtpTime::as_unix_secs_f64`]).
    pub fn unix_nanos(&self) -> i64 {
        ((self.ntp_secs - crate::rtp::rtcp::NTP_UNIX_OFFSET_SECS as f64) * 1e9).round() as i64
    }
}

impl Timeline {
    /// The segments, in capture order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Breaks in the RTP↔NTP relation: RTP timestamp resets and NTP steps.
    pub fn resets(&self) -> usize {
        self.segments.len() - 1
    }

    /// The sender's NTP time of RTP timestamp `rtp` of a packet captured at `at`.
    ///
    /// The segment is the one whose RTP timeline the timestamp fits (within
    /// [`FIT_TOLERANCE_SECS`]) and whose reports are nearest in capture time;
    /// if it fits none, the nearest.
    pub fn map(&self, rtp: u32, at: CaptureTime) -> Option<Mapped> {
        let (segment, (ntp_secs, off)) = self
            .segments
            .iter()
            .map(|s| s.map(rtp, at, self.nominal))
            .enumerate()
            .min_by_key(|(i, (_, off))| {
                let fits = off.abs() <= FIT_TOLERANCE_SECS;
                (!fits, self.segments[*i].capture_distance(at), *i)
            })?;
        Some(Mapped {
            ntp_secs,
            segment,
            measured_rate: self.segments[segment].measured_rate(),
            fits: off.abs() <= FIT_TOLERANCE_SECS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: i64 = 1_795_428_000_000_000_000;

    /// The NTP time of Unix nanoseconds (as senders write it).
    fn ntp(unix_nanos: i64) -> NtpTime {
        NtpTime(crate::testutil::rtp::ntp_from_unix_nanos(unix_nanos))
    }

    fn secs(s: f64) -> i64 {
        (s * 1e9).round() as i64
    }

    /// A sender whose RTP clock runs at `rate` ticks per second of its NTP clock,
    /// `ts0` at sender time 0 (= capture time `T0` minus `delay`).
    #[derive(Clone, Copy)]
    struct Sender {
        rate: f64,
        ts0: u32,
        delay: f64,
    }

    impl Sender {
        fn ts(&self, t: f64) -> u32 {
            self.ts0.wrapping_add((t * self.rate).round() as i64 as u32)
        }

        /// Pushes an SR sent at sender time `t` (captured `delay` later).
        fn report(&self, c: &mut SenderClock, t: f64) -> bool {
            c.push(
                CaptureTime::from_nanos(T0 + secs(t + self.delay)),
                ntp(T0 + secs(t)),
                self.ts(t),
            )
        }

        /// Error (seconds) of mapping the packet sent at sender time `t`.
        fn error(&self, c: &SenderClock, nominal: u32, t: f64) -> f64 {
            let at = CaptureTime::from_nanos(T0 + secs(t + self.delay));
            let m = c.map(self.ts(t), at, nominal).expect("mapped");
            m.ntp_secs - ntp(T0 + secs(t)).as_secs_f64()
        }
    }

    #[test]
    fn drift_is_measured_and_the_mapping_stays_within_a_millisecond() {
        // Audio clock 200 ppm fast; SRs every 5 s for 10 minutes, 40 ms network delay.
        let s = Sender {
            rate: 48_000.0 * (1.0 + 200e-6),
            ts0: 123_456,
            delay: 0.04,
        };
        let mut c = SenderClock::new();
        for i in 0..=120 {
            assert!(s.report(&mut c, f64::from(i) * 5.0));
        }
        let tl = c.timeline(48_000).unwrap();
        assert_eq!(tl.resets(), 0);
        let rate = tl.segments()[0].measured_rate().unwrap();
        let ppm = (rate / 48_000.0 - 1.0) * 1e6;
        assert!((ppm - 200.0).abs() < 0.5, "measured {ppm} ppm");
        for i in 0..=200 {
            let t = f64::from(i) * 3.0 - 2.0;
            let e = s.error(&c, 48_000, t);
            assert!(e.abs() < 0.001, "{e} s off at {t} s");
        }
        // The first SR at the nominal rate is 120 ms off after 10 minutes.
        let first = c.kept[0];
        let t = 600.0;
        let naive =
            first.ntp.as_secs_f64() + f64::from(s.ts(t).wrapping_sub(first.rtp) as i32) / 48_000.0;
        let naive_err = naive - ntp(T0 + secs(t)).as_secs_f64();
        assert!(naive_err.abs() > 0.1, "{naive_err}");
    }

    #[test]
    fn jittery_reports_are_averaged_by_the_fit() {
        // SR RTP timestamps off by up to ±2 ms (a sender that samples its clocks
        // apart); the least-squares line keeps packets within 1 ms.
        let s = Sender {
            rate: 90_000.0 * (1.0 - 300e-6),
            ts0: 7,
            delay: 0.1,
        };
        let mut c = SenderClock::new();
        let mut rng = crate::testutil::rng::Rng::new(5);
        for i in 0..=600 {
            let t = f64::from(i);
            let jitter = (rng.below(4001) as f64 - 2000.0) * 1e-6;
            let cap = CaptureTime::from_nanos(T0 + secs(t + s.delay));
            c.push(cap, ntp(T0 + secs(t)), s.ts(t + jitter));
        }
        let rate = c.timeline(90_000).unwrap().segments()[0]
            .measured_rate()
            .unwrap();
        assert!(((rate / 90_000.0 - 1.0) * 1e6 + 300.0).abs() < 5.0);
        for i in 0..60 {
            let e = s.error(&c, 90_000, f64::from(i) * 10.0 + 0.5);
            assert!(e.abs() < 0.001, "{e}");
        }
    }

    #[test]
    fn a_timestamp_reset_starts_a_segment_that_later_packets_map_through() {
        let before = Sender {
            rate: 48_000.0,
            ts0: 1_000_000,
            delay: 0.05,
        };
        // At sender time 61 s the track restarts with a new random timestamp base.
        let after = Sender {
            ts0: 3_000_000_000u32.wrapping_sub((61.0 * 48_000.0) as u32),
            ..before
        };
        let mut c = SenderClock::new();
        for i in 0..=12 {
            before.report(&mut c, f64::from(i) * 5.0); // 0..60 s
        }
        for i in 13..=24 {
            after.report(&mut c, f64::from(i) * 5.0); // 65..120 s
        }
        let tl = c.timeline(48_000).unwrap();
        assert_eq!(tl.resets(), 1);
        assert_eq!(tl.segments()[0].sender_reports(), 13);
        // A packet at 62 s is nearer (in capture time) the old segment's last SR
        // (60 s) than the new one's first (65 s), but fits only the new timeline.
        for t in [61.0, 62.0, 63.5, 90.0, 125.0] {
            let at = CaptureTime::from_nanos(T0 + secs(t + after.delay));
            let m = c.map(after.ts(t), at, 48_000).unwrap();
            assert_eq!(m.segment, 1, "{t}");
            assert!((after.error(&c, 48_000, t)).abs() < 0.001);
        }
        // A timestamp from neither timeline is mapped, but flagged.
        let at = CaptureTime::from_nanos(T0 + secs(30.0));
        let m = c.map(before.ts(30.0).wrapping_add(480_000_000), at, 48_000);
        assert!(!m.unwrap().fits);
        for t in [-1.0, 0.0, 30.0, 60.9] {
            let at = CaptureTime::from_nanos(T0 + secs(t + before.delay));
            assert_eq!(c.map(before.ts(t), at, 48_000).unwrap().segment, 0);
            assert!((before.error(&c, 48_000, t)).abs() < 0.001);
        }
    }

    #[test]
    fn an_ntp_step_starts_a_segment() {
        let s = Sender {
            rate: 90_000.0,
            ts0: 5,
            delay: 0.0,
        };
        let mut c = SenderClock::new();
        for i in 0..10 {
            s.report(&mut c, f64::from(i));
        }
        // The sender's NTP clock jumps an hour ahead; its RTP clock goes on.
        for i in 10..20 {
            let t = f64::from(i);
            c.push(
                CaptureTime::from_nanos(T0 + secs(t)),
                ntp(T0 + secs(t + 3600.0)),
                s.ts(t),
            );
        }
        assert_eq!(c.timeline(90_000).unwrap().resets(), 1);
        let m = c.map(s.ts(15.0), CaptureTime::from_nanos(T0 + secs(15.0)), 90_000);
        let want = ntp(T0 + secs(3615.0)).as_secs_f64();
        assert!((m.unwrap().ntp_secs - want).abs() < 0.001);
    }

    #[test]
    fn timestamps_wrap_around() {
        // 90 kHz from 2^32 - 1 s: the RTP timestamp wraps 1 s in.
        let s = Sender {
            rate: 90_000.0 * (1.0 + 50e-6),
            ts0: u32::MAX - 89_999,
            delay: 0.02,
        };
        let mut c = SenderClock::new();
        for i in 0..=20 {
            s.report(&mut c, f64::from(i) * 2.0 + 0.5);
        }
        let tl = c.timeline(90_000).unwrap();
        assert_eq!(tl.resets(), 0);
        let ppm = (tl.segments()[0].measured_rate().unwrap() / 90_000.0 - 1.0) * 1e6;
        assert!((ppm - 50.0).abs() < 1.0, "{ppm}");
        // Before the first SR and across the wrap.
        for t in [0.0, 0.4, 0.99, 1.01, 7.0, 45.0] {
            let e = s.error(&c, 90_000, t);
            assert!(e.abs() < 0.001, "{e} at {t}");
        }
        // A clock that has wrapped many times (hours of 90 kHz) maps from its nearest report.
        let mut c = SenderClock::new();
        for i in 0..=4 {
            s.report(&mut c, f64::from(i) * 3600.0);
        }
        assert_eq!(c.timeline(90_000).unwrap().resets(), 0);
        assert!(s.error(&c, 90_000, 5000.0).abs() < 0.001);
    }

    #[test]
    fn garbage_zero_and_duplicate_reports_are_ignored() {
        let s = Sender {
            rate: 48_000.0,
            ts0: 77,
            delay: 0.03,
        };
        let mut c = SenderClock::new();
        assert!(!c.push(CaptureTime::from_nanos(T0), NtpTime(0), 0));
        assert!(c.map(77, CaptureTime::from_nanos(T0), 48_000).is_none());
        for i in 0..20 {
            let t = f64::from(i) * 5.0;
            assert!(s.report(&mut c, t));
            assert!(!s.report(&mut c, t), "the same SR captured twice");
            if i == 10 {
                // One SR with a nonsense NTP time, one with a zero one.
                let cap = CaptureTime::from_nanos(T0 + secs(t + 1.0));
                assert!(c.push(cap, ntp(T0 - secs(86_400.0)), s.ts(t + 1.0)));
                assert!(!c.push(cap, NtpTime(0), s.ts(t + 1.0)));
            }
        }
        assert_eq!((c.received(), c.ignored()), (21, 2));
        let tl = c.timeline(48_000).unwrap();
        assert_eq!(tl.resets(), 0, "{tl:?}");
        assert_eq!(tl.segments()[0].sender_reports(), 20);
        assert!((s.error(&c, 48_000, 52.0)).abs() < 0.001);
        assert!(c.timeline(0).is_none());
    }

    #[test]
    fn without_a_measurable_rate_the_nominal_one_maps_from_the_nearest_report() {
        let s = Sender {
            rate: 48_000.0,
            ts0: 9,
            delay: 0.2,
        };
        let mut c = SenderClock::new();
        s.report(&mut c, 1.0);
        s.report(&mut c, 2.0);
        let tl = c.timeline(48_000).unwrap();
        assert_eq!(tl.segments()[0].measured_rate(), None, "1 s is too short");
        for t in [0.0, 1.5, 10.0] {
            assert!(s.error(&c, 48_000, t).abs() < 1e-6);
        }
    }

    #[test]
    fn memory_stays_bounded_and_keeps_resets_and_span() {
        // 2 hours of SRs every second, a reset at 1 h.
        let a = Sender {
            rate: 90_000.0 * (1.0 + 100e-6),
            ts0: 1,
            delay: 0.01,
        };
        let b = Sender {
            ts0: 2_000_000_000,
            ..a
        };
        let mut c = SenderClock::new();
        for i in 0..7200 {
            let s = if i < 3600 { a } else { b };
            s.report(&mut c, f64::from(i));
            assert!(c.kept.len() <= MAX_REPORTS);
        }
        assert_eq!(c.received(), 7200);
        let tl = c.timeline(90_000).unwrap();
        assert_eq!(tl.resets(), 1);
        let [s0, s1] = tl.segments() else {
            panic!("{tl:?}")
        };
        // Each segment keeps its ends and an even spread in between.
        let at = |t: f64| CaptureTime::from_nanos(T0 + secs(t + a.delay));
        assert_eq!(
            (s0.first_capture(), s0.last_capture()),
            (at(0.0), at(3599.0))
        );
        assert_eq!(
            (s1.first_capture(), s1.last_capture()),
            (at(3600.0), at(7199.0))
        );
        let gaps = tl
            .segments()
            .iter()
            .flat_map(|s| {
                s.reports
                    .windows(2)
                    .map(|w| w[1].capture.nanos_since(w[0].capture))
            })
            .max()
            .unwrap();
        assert!(gaps <= secs(64.0), "largest gap {gaps} ns");
        assert!(s0.sender_reports() >= 50 && s1.sender_reports() >= 50);
        for t in [0.0, 1800.0, 3599.5, 3600.2, 5000.0, 7199.0] {
            let s = if t < 3600.0 { a } else { b };
            assert!(s.error(&c, 90_000, t).abs() < 0.001, "{t}");
        }
    }

    proptest! {
        #[test]
        fn a_drifting_clock_maps_within_a_millisecond(
            ts0 in any::<u32>(),
            ppm in -1000.0f64..1000.0,
            interval in 1.0f64..10.0,
            count in 2usize..400,
            delay in 0.0f64..0.5,
            video in any::<bool>(),
            probes in proptest::collection::vec(0.0f64..1.0, 1..20),
        ) {
            let nominal = if video { 90_000 } else { 48_000 };
            let s = Sender { rate: f64::from(nominal) * (1.0 + ppm * 1e-6), ts0, delay };
            let mut c = SenderClock::new();
            for i in 0..count {
                prop_assert!(s.report(&mut c, i as f64 * interval));
            }
            prop_assert_eq!(c.received(), count as u64);
            prop_assert!(c.kept.len() <= MAX_REPORTS);
            let tl = c.timeline(nominal).unwrap();
            prop_assert_eq!(tl.resets(), 0);
            let span = (count - 1) as f64 * interval;
            for p in probes {
                // Anywhere among the reports, or up to 5 s before the first.
                let t = p * (span + 5.0) - 5.0;
                let e = s.error(&c, nominal, t);
                // Without a measured rate (span < 5 s) the nominal one is off by ppm × distance.
                let bound = if span >= MIN_RATE_SPAN_SECS { 0.001 } else { 0.001 + ppm.abs() * 1e-6 * 10.0 };
                prop_assert!(e.abs() < bound, "{} s off at {} s", e, t);
            }
        }

        #[test]
        fn a_reset_splits_the_timeline(
            ts0 in any::<u32>(),
            jump_secs in 3.0f64..40_000.0,
            back in any::<bool>(),
            before in 1usize..100,
            after in 1usize..100,
        ) {
            let a = Sender { rate: 48_000.0, ts0, delay: 0.05 };
            let jump = (jump_secs * 48_000.0) as u32;
            let b = Sender { ts0: if back { ts0.wrapping_sub(jump) } else { ts0.wrapping_add(jump) }, ..a };
            let mut c = SenderClock::new();
            for i in 0..before {
                a.report(&mut c, i as f64 * 5.0);
            }
            for i in before..before + after {
                b.report(&mut c, i as f64 * 5.0);
            }
            let tl = c.timeline(48_000).unwrap();
            prop_assert_eq!(tl.resets(), 1);
            let t = (before + after) as f64 * 5.0 - 2.0;
            prop_assert!(b.error(&c, 48_000, t).abs() < 0.001);
            prop_assert!(a.error(&c, 48_000, 1.0).abs() < 0.001);
            let at = CaptureTime::from_nanos(T0 + secs(t + b.delay));
            prop_assert!(c.map(b.ts(t), at, 48_000).unwrap().fits);
        }

        #[test]
        fn any_reports_never_panic(
            reports in proptest::collection::vec((any::<i64>(), any::<u64>(), any::<u32>()), 0..600),
            rate in 0u32..200_000,
            rtp in any::<u32>(),
            at in any::<i64>(),
        ) {
            let mut c = SenderClock::new();
            let mut sorted = reports;
            sorted.sort_by_key(|r| r.0);
            for (cap, n, r) in sorted {
                c.push(CaptureTime::from_nanos(cap), NtpTime(n), r);
                prop_assert!(c.kept.len() <= MAX_REPORTS);
            }
            if let Some(m) = c.map(rtp, CaptureTime::from_nanos(at), rate) {
                prop_assert!(!m.ntp_secs.is_nan());
            }
        }
    }
}
