//! The webhook's delivery thread: a bounded queue, a drain deadline, abort,
//! and standard error as the last resort when the spool cannot be written.
//!
//! [`WebhookSink`] runs a [`Courier`] (signatures, retries, circuit breaker:
//! see [`super::webhook`]) on a thread of its own, so a slow or hanging
//! receiver never stalls the thread that reads the capture. Rules:
//!
//! * **`emit` never waits for the receiver.** It appends the event to a queue
//!   of at most [`WebhookConfig::queue_capacity`] events and returns
//!   [`Delivery::Queued`]. When the queue is full, the event is spooled at once
//!   and `emit` returns [`Delivery::Spooled`]: a deterministic rule that keeps
//!   memory bounded and never blocks reading. (Events are POSTed in emission
//!   order, but the spool may then hold an event older than some delivered
//!   after it; receivers deduplicate by id and must not rely on order across
//!   live delivery and replay.)
//! * **Each event is settled exactly once**, as delivered, spooled or printed
//!   to standard error, under one lock; whoever settles it first (the delivery
//!   thread, `finish` at its deadline, or `abort`) owns it. So `emitted =
//!   delivered + spooled + stderr` holds in every report `finish` and `abort`
//!   return, and nothing changes after they returned.
//! * **`finish`** lets the thread deliver what is queued for up to
//!   [`WebhookConfig::drain_timeout`], then spools the event being sent and
//!   the queued ones. It joins the thread when the queue drained; after the
//!   deadline it does not wait for a POST that may hang (the thread ends by
//!   itself once that attempt is over).
//! * **`abort`** (for a signal) does the same without the wait: no new attempt
//!   starts, backoff waits end, and the event being sent is spooled too. Its
//!   POST may still be answered 2xx later, so the receiver can get an event
//!   that is also in the spool: spooling is the side that loses nothing, and
//!   receivers deduplicate by the event id (`webhook-id`). An [`AbortHandle`]
//!   does the same from another thread, e.g. while `finish` is draining.
//! * **Last resort.** When an append to the spool fails (full disk, missing
//!   directory), the event's exact line is written to standard error (one
//!   line, nothing else on it), counted in [`DeliveryReport::stderr`] and
//!   reported as [`Delivery::Stderr`]. After one failure the spool is not
//!   tried again this run, so it never ends in a partial line and the events
//!   on stderr stay the complete list of what is missing from it. This is the
//!   one place the library writes to standard error: at the moment of the
//!   failure, so that no caller can forget it.
//!
//! Dropping a sink that was neither finished nor aborted aborts it, so an
//! early return cannot lose queued events either.

use super::sink::{Delivery, DeliveryReport, Notice};
use super::webhook::{Courier, Spool, StopSignal, WebhookConfig, WebhookError};
use super::{Event, EventType};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One event on its way: what the delivery thread needs, and what a notice names.
#[derive(Clone, Debug)]
struct Job {
    /// Emission number, so a settled in-flight event is recognised.
    seq: u64,
    id: String,
    event_type: EventType,
    body: Vec<u8>,
}

/// Everything the sink and its thread share, behind one lock.
struct State {
    queue: VecDeque<Job>,
    /// The event the thread is sending; `None` once anyone settled it.
    in_flight: Option<Job>,
    /// `finish` was called: the thread ends when the queue is empty.
    closing: bool,
    /// Delivery stopped (abort or drain deadline): nothing more is sent or settled by the thread.
    stopped: bool,
    /// The thread has ended (normally or by a panic).
    thread_gone: bool,
    report: DeliveryReport,
    notices: Vec<Notice>,
    spool: Spool,
    /// The first spool failure; later events go straight to the last resort.
    spool_failed: Option<String>,
    last_resort: Box<dyn Write + Send>,
}

impl State {
    /// Settles an undelivered event: the spool, or else the last resort.
    fn keep(&mut self, job: &Job, reason: String) -> Delivery {
        if self.spool_failed.is_none() {
            match self.spool.append(&job.id, &job.body) {
                Ok(()) => {
                    self.report.spooled += 1;
                    return Delivery::Spooled { reason };
                }
                // Said without the event id: the message stands for every later event too.
                Err(WebhookError::Spool { path, source, .. }) => {
                    self.spool_failed = Some(format!(
                        "cannot write the spool {}: {source}",
                        path.display()
                    ));
                }
                Err(e) => self.spool_failed = Some(e.to_string()),
            }
        }
        let mut line = Vec::with_capacity(job.body.len() + 1);
        line.extend_from_slice(&job.body);
        line.push(b'\n');
        // One write_all per line: stderr is locked per call, so other threads' messages
        // never land inside it. If stderr fails too, nothing is left to try.
        let _ = self
            .last_resort
            .write_all(&line)
            .and_then(|()| self.last_resort.flush());
        self.report.stderr += 1;
        let spool_error = self.spool_failed.as_deref().unwrap_or("the spool failed");
        Delivery::Stderr {
            reason: format!("{reason}; not spooled: {spool_error}"),
        }
    }

    /// Settles an undelivered event whose fate `emit` no longer reports: a notice says it.
    fn keep_with_notice(&mut self, job: &Job, reason: String) {
        let delivery = self.keep(job, reason);
        self.notices.push(Notice {
            id: job.id.clone(),
            event_type: job.event_type,
            delivery,
        });
    }

    /// Stops delivery and settles every unsettled event, the one in flight first (emission order).
    fn stop(&mut self, signal: &StopSignal, why: &str) {
        self.stopped = true;
        signal.set();
        if let Some(job) = self.in_flight.take() {
            self.keep_with_notice(
                &job,
                format!(
                    "{why} while it was being sent (the receiver may still get it; it deduplicates by id)"
                ),
            );
        }
        while let Some(job) = self.queue.pop_front() {
            self.keep_with_notice(&job, format!("not sent: {why}"));
        }
    }

    fn drained(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_none()
    }
}

/// The lock, the wake-ups and the stop flag the sink and its thread share.
struct Shared {
    state: Mutex<State>,
    /// Signalled on every change: a new event, a settled one, closing, stopping, the thread ending.
    changed: Condvar,
    stop: StopSignal,
}

impl Shared {
    /// The state, even after a panic elsewhere: the counts stay usable, and
    /// refusing the lock would lose the events still queued.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// POSTs events to a webhook from its own thread, spooling what cannot be
/// delivered (module doc for the rules).
pub struct WebhookSink {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    capacity: usize,
    drain_timeout: Duration,
    spool_path: PathBuf,
    next_seq: u64,
    /// `finish` or `abort` ran.
    closed: bool,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("spool", &self.spool_path)
            .field("capacity", &self.capacity)
            .field("drain_timeout", &self.drain_timeout)
            .field("report", &self.shared.lock().report)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A sink POSTing over HTTP with the wall clock; its last resort is standard error.
    pub fn new(config: WebhookConfig) -> Result<WebhookSink, WebhookError> {
        let courier = Courier::new(&config)?;
        WebhookSink::with_courier(config, courier, Box::new(io::stderr()))
    }

    /// A sink around a given courier and last-resort writer (tests, other protocols).
    pub fn with_courier(
        config: WebhookConfig,
        courier: Courier,
        last_resort: Box<dyn Write + Send>,
    ) -> Result<WebhookSink, WebhookError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                in_flight: None,
                closing: false,
                stopped: false,
                thread_gone: false,
                report: DeliveryReport::default(),
                notices: Vec::new(),
                spool: Spool::new(config.spool.clone()),
                spool_failed: None,
                last_resort,
            }),
            changed: Condvar::new(),
            stop: StopSignal::default(),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("rtprec-webhook".into())
            .spawn(move || deliver_queue(&for_thread, courier))
            .map_err(WebhookError::Thread)?;
        Ok(WebhookSink {
            shared,
            thread: Some(thread),
            capacity: config.queue_capacity,
            drain_timeout: config.drain_timeout,
            spool_path: config.spool,
            next_seq: 0,
            closed: false,
        })
    }

    /// Where undelivered events are appended.
    pub fn spool_path(&self) -> &Path {
        &self.spool_path
    }

    /// Queues one event and returns at once; spools it instead when the queue is full.
    pub fn emit(&mut self, event: &Event) -> Delivery {
        let job = Job {
            seq: self.next_seq,
            id: event.id.clone(),
            event_type: event.event_type,
            body: event.to_json().into_bytes(),
        };
        self.next_seq += 1;
        let mut st = self.shared.lock();
        st.report.emitted += 1;
        if st.closing || st.stopped || st.thread_gone {
            // Nobody would send it: keep it now rather than queue it for nothing.
            return st.keep(&job, "not sent: the webhook sink is closed".into());
        }
        if st.queue.len() >= self.capacity {
            let reason = format!(
                "not sent: the delivery queue is full ({} events waiting)",
                st.queue.len()
            );
            return st.keep(&job, reason);
        }
        st.queue.push_back(job);
        self.shared.changed.notify_all();
        Delivery::Queued
    }

    /// Events not delivered since the last call ([`Delivery::Spooled`] or [`Delivery::Stderr`]).
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.shared.lock().notices)
    }

    /// Delivers what is queued for up to the drain timeout, spools the rest; the final counts.
    pub fn finish(&mut self) -> DeliveryReport {
        let deadline = Instant::now().checked_add(self.drain_timeout);
        let mut st = self.shared.lock();
        st.closing = true;
        self.shared.changed.notify_all();
        while !st.drained() && !st.stopped {
            let now = Instant::now();
            let left = deadline.map(|d| d.saturating_duration_since(now));
            if st.thread_gone {
                st.stop(&self.shared.stop, "the delivery thread ended unexpectedly");
            } else if left == Some(Duration::ZERO) {
                let why = format!(
                    "the drain timeout ({} ms) ran out",
                    self.drain_timeout.as_millis()
                );
                st.stop(&self.shared.stop, &why);
            } else {
                // No deadline (a timeout too large for Instant) waits for the thread alone.
                let wait = left.unwrap_or(Duration::from_secs(3600));
                st = self
                    .shared
                    .changed
                    .wait_timeout(st, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        let stopped = st.stopped;
        let report = st.report;
        drop(st);
        self.closed = true;
        // After a normal drain the thread is ending: join it. After a stop it may sit in
        // a POST until its timeout; it touches nothing settled, so it is left to end alone.
        if !stopped && let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        report
    }

    /// Stops at once: no new attempt, the queued events and the one being sent spooled;
    /// the final counts. Never waits for the receiver.
    pub fn abort(&mut self) -> DeliveryReport {
        self.abort_handle().abort();
        self.closed = true;
        self.shared.lock().report
    }

    /// A handle that aborts this sink from another thread, e.g. while this one waits in `finish`.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle(Arc::clone(&self.shared))
    }

    /// Waits for the delivery thread to end (tests: after a hanging transport was released).
    #[cfg(test)]
    fn join_thread(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Aborts a [`WebhookSink`] from any thread, with the effect of [`WebhookSink::abort`];
/// a `finish` waiting for the queue to drain then returns at once.
#[derive(Clone)]
pub struct AbortHandle(Arc<Shared>);

impl std::fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AbortHandle").finish_non_exhaustive()
    }
}

impl AbortHandle {
    /// Stops delivery and spools every event not yet delivered (idempotent).
    pub fn abort(&self) {
        let mut st = self.0.lock();
        if !st.stopped {
            st.stop(&self.0.stop, "delivery was aborted");
        }
        self.0.changed.notify_all();
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        if !self.closed {
            self.abort();
        }
    }
}

/// Marks the thread gone when it ends, also by a panic, so `finish` stops waiting for it.
struct Gone<'a>(&'a Shared);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.lock().thread_gone = true;
        self.0.changed.notify_all();
    }
}

/// The delivery thread: takes events in order, sends each through `courier`, settles it.
fn deliver_queue(shared: &Shared, mut courier: Courier) {
    let _gone = Gone(shared);
    loop {
        let job = {
            let mut st = shared.lock();
            loop {
                if st.stopped {
                    return;
                }
                if let Some(job) = st.queue.pop_front() {
                    st.in_flight = Some(job.clone());
                    break job;
                }
                if st.closing {
                    return;
                }
                st = shared
                    .changed
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let result = courier.deliver(&job.id, &job.body, &shared.stop);
        let mut st = shared.lock();
        // `abort` or the drain deadline may have settled it meanwhile: then it is theirs.
        if st.in_flight.as_ref().is_some_and(|j| j.seq == job.seq) {
            st.in_flight = None;
            match result {
                Ok(()) => st.report.delivered += 1,
                Err(reason) => st.keep_with_notice(&job, reason),
            }
        }
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures;
    use crate::events::webhook::tests::fake::{self, FakeClock};
    use crate::events::webhook::{Attempt, Transport};
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    /// What the fake receiver does with one attempt.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Act {
        /// 200 at once.
        Ok,
        /// 503 at once (retried).
        Busy,
        /// 400 at once (not retried).
        Rejected,
        /// Connection refused (retried).
        Refused,
        /// No answer within the timeout (the fake clock moves by the timeout).
        Timeout,
        /// Blocks until released, then answers 200: a POST in flight at `finish` or `abort`.
        Hang,
    }

    /// A scripted receiver; unscripted attempts are answered 200.
    #[derive(Clone, Default)]
    struct Fake {
        acts: Arc<Mutex<VecDeque<Act>>>,
        clock: FakeClock,
        /// Set when a `Hang` attempt starts.
        hanging: Arc<StopSignal>,
        /// Set by the test to end every `Hang`.
        release: Arc<StopSignal>,
        /// Ids the receiver answered 2xx, in order.
        answered: Arc<Mutex<Vec<String>>>,
        requests: Arc<Mutex<usize>>,
    }

    impl Fake {
        fn new(acts: &[Act]) -> Fake {
            let f = Fake::default();
            *f.acts.lock().unwrap() = acts.iter().copied().collect();
            f
        }

        fn answered(&self) -> Vec<String> {
            self.answered.lock().unwrap().clone()
        }

        /// Waits (in real time, bounded) until a `Hang` attempt has started.
        fn wait_hanging(&self) {
            assert!(self.hanging.wait(Duration::from_secs(10)), "no hang began");
        }
    }

    impl Transport for Fake {
        fn post(&mut self, headers: &[(&'static str, String)], _body: &[u8]) -> Attempt {
            *self.requests.lock().unwrap() += 1;
            let act = self.acts.lock().unwrap().pop_front().unwrap_or(Act::Ok);
            let status = |code| Attempt::Status {
                code,
                retry_after: None,
            };
            match act {
                Act::Ok | Act::Hang => {
                    if act == Act::Hang {
                        self.hanging.set();
                        self.release.wait(Duration::from_secs(30));
                    }
                    let id = headers.iter().find(|(k, _)| *k == "webhook-id");
                    if let Some((_, id)) = id {
                        self.answered.lock().unwrap().push(id.clone());
                    }
                    status(200)
                }
                Act::Busy => status(503),
                Act::Rejected => status(400),
                Act::Refused => Attempt::Failed("connection refused".into()),
                Act::Timeout => {
                    *self.clock.now.lock().unwrap() += Duration::from_secs(10);
                    Attempt::Failed("timed out".into())
                }
            }
        }
    }

    /// A last-resort writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines().map(str::to_string).collect()
        }
    }

    /// `n` distinct events (the fixtures, with ids made unique).
    fn events(n: usize) -> Vec<Event> {
        let base = fixtures::events();
        (0..n)
            .map(|i| {
                let mut e = base[i % base.len()].clone();
                e.id = format!("{i:032x}");
                e
            })
            .collect()
    }

    fn config(spool: &Path) -> WebhookConfig {
        let mut c = fake::config(spool);
        c.retry.retries = 2;
        c
    }

    fn sink(cfg: WebhookConfig, fake: &Fake) -> (WebhookSink, Captured) {
        let courier =
            Courier::with_parts(&cfg, Box::new(fake.clone()), Box::new(fake.clock.clone()));
        let out = Captured::default();
        let s = WebhookSink::with_courier(cfg, courier, Box::new(out.clone())).unwrap();
        (s, out)
    }

    /// Emits `n` events through a sink on `fake` and finishes it.
    fn run(
        cfg: WebhookConfig,
        fake: &Fake,
        n: usize,
    ) -> (WebhookSink, Captured, Vec<Event>, DeliveryReport) {
        let (mut s, out) = sink(cfg, fake);
        let evs = events(n);
        for e in &evs {
            s.emit(e);
        }
        let r = s.finish();
        assert!(r.balanced(), "{r:?}");
        (s, out, evs, r)
    }

    /// A receiver whose first POST hangs until released.
    struct Hung {
        /// Holds the spool's directory for the test's duration.
        _dir: tempfile::TempDir,
        spool: PathBuf,
        fake: Fake,
        sink: WebhookSink,
        evs: Vec<Event>,
    }

    /// `n` events emitted to a [`Hung`] receiver; each `emit` returns at once, queued.
    fn hung(n: usize, drain_timeout: Duration) -> Hung {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool.jsonl");
        let fake = Fake::new(&[Act::Hang]);
        let mut cfg = config(&spool);
        cfg.drain_timeout = drain_timeout;
        let (mut sink, _) = sink(cfg, &fake);
        let evs = events(n);
        let t = Instant::now();
        for e in &evs {
            assert_eq!(sink.emit(e), Delivery::Queued);
        }
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        Hung {
            _dir: dir,
            spool,
            fake,
            sink,
            evs,
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn json_lines(evs: &[Event]) -> Vec<String> {
        evs.iter().map(Event::to_json).collect()
    }

    fn reason(d: &Delivery) -> &str {
        match d {
            Delivery::Spooled { reason } | Delivery::Stderr { reason } => reason,
            Delivery::Delivered | Delivery::Queued => "",
        }
    }

    #[test]
    fn emit_never_waits_and_abort_spools_the_event_in_flight() {
        let mut h = hung(4, Duration::from_secs(30));
        h.fake.wait_hanging();
        let t = Instant::now();
        let r = h.sink.abort();
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        assert_eq!((r.emitted, r.delivered, r.spooled, r.stderr), (4, 0, 4, 0));
        assert_eq!(lines(&h.spool), json_lines(&h.evs), "in emission order");
        let notices = h.sink.take_notices();
        assert_eq!(notices.len(), 4);
        assert!(
            reason(&notices[0].delivery)
                .starts_with("delivery was aborted while it was being sent"),
            "{notices:?}"
        );
        assert_eq!(
            reason(&notices[3].delivery),
            "not sent: delivery was aborted"
        );
        // The hung POST is answered 2xx after all: the event stays counted once, as spooled.
        h.fake.release.set();
        h.sink.join_thread();
        assert_eq!(h.fake.answered(), [h.evs[0].id.clone()]);
        assert_eq!(lines(&h.spool).len(), 4);
        assert_eq!(h.sink.shared.lock().report, r);
    }

    #[test]
    fn a_full_queue_spools_the_event_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool.jsonl");
        let fake = Fake::new(&[Act::Hang]);
        let mut cfg = config(&spool);
        cfg.queue_capacity = 2;
        let (mut s, _) = sink(cfg, &fake);
        let evs = events(4);
        assert_eq!(s.emit(&evs[0]), Delivery::Queued);
        // The first event is in flight (out of the queue): two more fit, the fourth does not.
        fake.wait_hanging();
        assert_eq!(s.emit(&evs[1]), Delivery::Queued);
        assert_eq!(s.emit(&evs[2]), Delivery::Queued);
        assert_eq!(
            s.emit(&evs[3]),
            Delivery::Spooled {
                reason: "not sent: the delivery queue is full (2 events waiting)".into()
            }
        );
        fake.release.set();
        let r = s.finish();
        assert_eq!((r.emitted, r.delivered, r.spooled, r.stderr), (4, 3, 1, 0));
        assert_eq!(lines(&spool), [evs[3].to_json()]);
        assert!(
            s.take_notices().is_empty(),
            "the full queue was reported by emit"
        );
    }

    #[test]
    fn finish_drains_the_queue_and_joins_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool.jsonl");
        let fake = Fake::new(&[Act::Busy, Act::Ok, Act::Rejected]);
        let (mut s, _, evs, r) = run(config(&spool), &fake, 5);
        assert_eq!((r.emitted, r.delivered, r.spooled, r.stderr), (5, 4, 1, 0));
        assert!(s.thread.is_none(), "joined");
        assert_eq!(lines(&spool), [evs[1].to_json()]);
        let notices = s.take_notices();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].id, evs[1].id);
        assert_eq!(reason(&notices[0].delivery), "HTTP 400 (not retried)");
        assert_eq!(fake.clock.slept_ms(), [500]);
        // Emitted after finish: nobody would send it, so it is kept at once.
        let late = s.emit(&evs[0]);
        assert_eq!(reason(&late), "not sent: the webhook sink is closed");
    }

    #[test]
    fn finish_spools_what_the_drain_timeout_leaves() {
        let mut h = hung(3, Duration::from_millis(50));
        let t = Instant::now();
        let r = h.sink.finish();
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!((r.emitted, r.delivered, r.spooled, r.stderr), (3, 0, 3, 0));
        assert_eq!(lines(&h.spool), json_lines(&h.evs));
        let notices = h.sink.take_notices();
        assert!(
            notices
                .iter()
                .all(|n| reason(&n.delivery).contains("the drain timeout (50 ms) ran out")),
            "{notices:?}"
        );
        h.fake.release.set();
        h.sink.join_thread();
    }

    /// A receiver that never answers, with many events: two attempts in all, then the breaker.
    #[test]
    fn a_dead_receiver_costs_two_timeouts_not_one_per_event() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool.jsonl");
        let fake = Fake::new(&[Act::Timeout; 100]);
        let mut cfg = config(&spool);
        cfg.retry.retries = 4;
        let (_, _, evs, r) = run(cfg, &fake, 50);
        assert_eq!((r.emitted, r.delivered, r.spooled), (50, 0, 50));
        assert_eq!(*fake.requests.lock().unwrap(), 2);
        // Two 10 s timeouts and one 500 ms backoff on the fake clock.
        assert_eq!(
            *fake.clock.now.lock().unwrap(),
            Duration::from_millis(20_500)
        );
        assert_eq!(lines(&spool), json_lines(&evs));
    }

    #[test]
    fn an_unwritable_spool_sends_events_to_the_last_resort() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "").unwrap();
        let mut spools = vec![dir.path().join("file/x.jsonl")];
        // Like a full disk: the open succeeds, every write fails.
        if Path::new("/dev/full").exists() {
            spools.push("/dev/full".into());
        }
        for spool in spools {
            let fake = Fake::new(&[Act::Rejected, Act::Ok, Act::Rejected]);
            let (mut s, out, evs, r) = run(config(&spool), &fake, 4);
            assert_eq!((r.emitted, r.delivered, r.spooled, r.stderr), (4, 2, 0, 2));
            assert_eq!(out.lines(), [evs[0].to_json(), evs[2].to_json()]);
            let notices = s.take_notices();
            assert_eq!(notices.len(), 2);
            for n in &notices {
                let Delivery::Stderr { reason } = &n.delivery else {
                    panic!("{n:?}")
                };
                assert!(
                    reason
                        .starts_with("HTTP 400 (not retried); not spooled: cannot write the spool"),
                    "{reason}"
                );
                assert!(reason.contains(&spool.display().to_string()), "{reason}");
            }
        }
    }

    /// A signal while `finish` waits on a hung POST: another thread aborts, `finish` returns.
    #[test]
    fn an_abort_handle_ends_a_finish_that_waits() {
        let mut h = hung(2, Duration::from_secs(30));
        let handle = h.sink.abort_handle();
        let t = Instant::now();
        let signal = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            handle.abort();
        });
        let r = h.sink.finish();
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        signal.join().unwrap();
        assert_eq!((r.emitted, r.delivered, r.spooled), (2, 0, 2));
        assert_eq!(lines(&h.spool), json_lines(&h.evs));
        h.fake.release.set();
        h.sink.join_thread();
    }

    #[test]
    fn dropping_an_unfinished_sink_spools_its_events() {
        let h = hung(3, Duration::from_secs(30));
        h.fake.wait_hanging();
        drop(h.sink);
        assert_eq!(lines(&h.spool), json_lines(&h.evs));
        h.fake.release.set();
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            4 => Just(Act::Ok),
            2 => Just(Act::Busy),
            1 => Just(Act::Rejected),
            1 => Just(Act::Refused),
            1 => Just(Act::Timeout),
            1 => Just(Act::Hang),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the receiver does, and whether the run finishes or aborts, every
        /// event ends in exactly one place (delivered, spool, or stderr), the report
        /// counts them so, each undelivered one is reported once, and nothing
        /// changes after the report was returned.
        #[test]
        fn every_event_ends_in_exactly_one_place(
            n in 1usize..12,
            acts in prop::collection::vec(act(), 0..30),
            capacity in 0usize..6,
            abort in any::<bool>(),
            spool_ok in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("file"), "").unwrap();
            let spool = if spool_ok {
                dir.path().join("spool.jsonl")
            } else {
                dir.path().join("file/x.jsonl")
            };
            let fake = Fake::new(&acts);
            let mut cfg = config(&spool);
            cfg.queue_capacity = capacity;
            cfg.drain_timeout = Duration::from_millis(20);
            let (mut s, out) = sink(cfg, &fake);
            let evs = events(n);
            let mut reported = Vec::new();
            for e in &evs {
                let d = s.emit(e);
                if d != Delivery::Queued {
                    reported.push((e.id.clone(), d));
                }
            }
            let t = Instant::now();
            let r = if abort { s.abort() } else { s.finish() };
            // The drain timeout is 20 ms; the rest is spool appends. A hung POST never counts.
            prop_assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
            reported.extend(s.take_notices().into_iter().map(|n| (n.id, n.delivery)));
            let (in_spool, on_stderr) = (lines(&spool), out.lines());

            fake.release.set();
            s.join_thread();
            prop_assert_eq!(&lines(&spool), &in_spool, "the spool changed after the report");
            prop_assert_eq!(&out.lines(), &on_stderr, "stderr changed after the report");
            prop_assert_eq!(s.shared.lock().report, r);

            prop_assert_eq!(r.emitted, n as u64);
            prop_assert!(r.balanced(), "{:?}", r);
            prop_assert_eq!(in_spool.len() as u64, r.spooled);
            prop_assert_eq!(on_stderr.len() as u64, r.stderr);
            if !spool_ok {
                prop_assert_eq!(r.spooled, 0);
            }
            let id_of: HashMap<String, String> =
                evs.iter().map(|e| (e.to_json(), e.id.clone())).collect();
            let mut kept = HashSet::new();
            for line in in_spool.iter().chain(&on_stderr) {
                let id = id_of.get(line);
                prop_assert!(id.is_some(), "not an event line: {}", line);
                prop_assert!(kept.insert(id.cloned()), "kept twice: {}", line);
            }
            let answered: HashSet<String> = fake.answered().into_iter().collect();
            for e in &evs {
                if !kept.contains(&Some(e.id.clone())) {
                    prop_assert!(answered.contains(&e.id), "{} neither kept nor delivered", e.id);
                }
            }
            // Each kept event is reported exactly once, by emit or by a notice, as what it is.
            prop_assert_eq!(reported.len(), kept.len());
            let spooled: HashSet<&String> = in_spool.iter().map(|l| &id_of[l]).collect();
            for (id, d) in &reported {
                match d {
                    Delivery::Spooled { .. } => prop_assert!(spooled.contains(id)),
                    Delivery::Stderr { .. } => prop_assert!(!spooled.contains(id)),
                    other => prop_assert!(false, "reported {:?}", other),
                }
            }
        }

        /// Without hangs or deadlines, the thread changes nothing but timing: the
        /// spool holds what one-at-a-time delivery would not deliver, in order.
        #[test]
        fn the_thread_delivers_what_one_at_a_time_delivery_would(
            n in 1usize..12,
            acts in prop::collection::vec(
                act().prop_filter("no hang", |a| *a != Act::Hang), 0..30),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let spool = dir.path().join("spool.jsonl");
            let cfg = config(&spool);
            let evs = events(n);

            let model = Fake::new(&acts);
            let mut courier =
                Courier::with_parts(&cfg, Box::new(model.clone()), Box::new(model.clock.clone()));
            let never = StopSignal::default();
            let undelivered: Vec<String> = evs
                .iter()
                .filter(|e| courier.deliver(&e.id, e.to_json().as_bytes(), &never).is_err())
                .map(Event::to_json)
                .collect();

            let fake = Fake::new(&acts);
            let (mut s, _) = sink(cfg, &fake);
            for e in &evs {
                prop_assert_eq!(s.emit(e), Delivery::Queued);
            }
            let r = s.finish();
            prop_assert_eq!(r.spooled, undelivered.len() as u64);
            prop_assert_eq!(lines(&spool), undelivered);
            prop_assert_eq!(fake.answered(), model.answered());
            prop_assert_eq!(fake.clock.slept_ms(), model.clock.slept_ms());
        }
    }
}
