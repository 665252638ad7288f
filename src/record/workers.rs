//! The track workers: each started track's [`TrackRecorder`] (reorder, repair,
//! depacketize, mux, hash) and its queue of commands, worked through on a
//! rayon pool, tracks in parallel, while the reading thread fills the next
//! batch (see [`Workers`]).
//! Each track sees its own commands in the order they were queued, whatever
//! the thread count and wherever a batch ends, so output bytes do not depend
//! on `--jobs`.

use super::timeline::{TimelineBuilder, TrackTimeline};
use super::track::{FecSetup, TrackError, TrackRecorder, TrackSetup, TrackStats};
use crate::assets::{Failure, FailureCode};
use crate::mux::atomic::{self, Deferred};
use crate::mux::sha256::{self, HashJob};
use crate::mux::{MuxError, OutputFile};
use crate::time::CaptureTime;
use crate::track::{Arrival, ReorderBuffer, ReorderConfig, TrackItem};
use rayon::prelude::*;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Packets queued across all tracks before they are processed in parallel.
const BATCH_PACKETS: usize = 16_384;

/// Payload bytes queued across all tracks before they are processed in
/// parallel: with jumbo datagrams a batch is bounded by this, not by
/// [`BATCH_PACKETS`] (at most [`MAX_IN_FLIGHT`] + 1 batches exist at once:
/// one filling, the others queued or being worked on).
const BATCH_BYTES: usize = 2 << 20;

/// Commands a drained inbox may keep room for (it goes back to the reader
/// for the next batch).
const KEEP_INBOX: usize = 1024;
/// A batch's byte buffer kept for the next batch, at most: a batch holds
/// about `BATCH_BYTES`; more means a jumbo packet went over.
const KEEP_BYTES: usize = 2 * BATCH_BYTES;

/// A packet queued for a track.
#[derive(Debug)]
pub enum Inbound {
    /// The track's own packet; with its plain RTP bytes when FEC protects the track.
    Media {
        /// The packet.
        arrival: Arrival,
        /// Its plain RTP bytes (FEC-protected tracks only).
        raw: Option<Vec<u8>>,
    },
    /// The original a retransmission carries (RFC 4588).
    Rtx(Arrival),
    /// A packet of the track's separate FEC stream, plain RTP bytes.
    Fec {
        /// The packet.
        raw: Vec<u8>,
        /// Its capture time.
        time: CaptureTime,
    },
}

impl Inbound {
    /// Moves the payload of a media or RTX packet to the end of `bytes` (a
    /// batch's payloads, all in one buffer) and returns where it went, with
    /// the emptied buffer (for the next packet to be parsed into).
    fn stow_payload(&mut self, bytes: &mut Vec<u8>) -> (Span, Vec<u8>) {
        let payload = match self {
            Inbound::Media { arrival, .. } | Inbound::Rtx(arrival) => {
                std::mem::take(&mut arrival.payload)
            }
            Inbound::Fec { .. } => Vec::new(),
        };
        let span = Span {
            at: bytes.len(),
            len: payload.len(),
        };
        bytes.extend_from_slice(&payload);
        (span, payload)
    }

    /// Puts back the payload [`Inbound::stow_payload`] moved to `bytes`.
    fn restore_payload(&mut self, bytes: &[u8], span: Span) {
        if let Inbound::Media { arrival, .. } | Inbound::Rtx(arrival) = self {
            let payload = bytes.get(span.at..span.at + span.len);
            debug_assert!(payload.is_some(), "{span:?} outside {} bytes", bytes.len());
            arrival.payload = payload.map(super::bufpool::copy_of).unwrap_or_default();
        }
    }

    /// The bytes it holds (payloads and plain copies), for the batch bound.
    fn bytes(&self) -> usize {
        match self {
            Inbound::Media { arrival, raw } => {
                arrival.payload.len() + raw.as_ref().map_or(0, Vec::len)
            }
            Inbound::Rtx(arrival) => arrival.payload.len(),
            Inbound::Fec { raw, .. } => raw.len(),
        }
    }
}

/// What became of a track's worker.
#[derive(Debug, Default)]
pub struct WorkerOutcome {
    /// The file or why not; `None` when the track never started a worker.
    pub result: Option<Result<OutputFile, Failure>>,
    /// The worker's counters, when it ran.
    pub stats: Option<TrackStats>,
    /// Video width and height.
    pub dims: Option<(u16, u16)>,
    /// The track's time series, when its recorder saw a packet.
    pub timeline: Option<TrackTimeline>,
}

enum Slot {
    Idle,
    Running(Box<TrackRecorder>),
    /// Failed to start, or while running (a write error, say): its packets are
    /// still counted, so the manifest reports the track's loss as `streams` does.
    Failed(Failure, Tally),
    /// Stopped from outside; its temporary file is gone.
    Aborted(Option<Box<(TrackStats, Option<TrackTimeline>)>>),
}

/// What counts a failed track's packets until the end.
enum Tally {
    /// The recorder that failed, writing stopped: reorder and repair go on.
    Recorder(Box<TrackRecorder>),
    /// No recorder could start: the packets alone, in a reorder buffer.
    Packets(Box<PacketTally>),
}

/// A failed track's packets without a recorder: count, sequence numbers, gaps,
/// and the time series (the report shows a track that could not be recorded too).
struct PacketTally {
    reorder: ReorderBuffer,
    packets: u64,
    gaps: u64,
    timeline: TimelineBuilder,
    last_released: Option<CaptureTime>,
}

impl PacketTally {
    fn new(cfg: ReorderConfig) -> Self {
        PacketTally {
            reorder: ReorderBuffer::new(cfg),
            packets: 0,
            gaps: 0,
            // The codec, and so the clock rate, is unknown or unsupported: no jitter.
            timeline: TimelineBuilder::new(0),
            last_released: None,
        }
    }

    fn push(&mut self, mut arrival: Arrival) {
        self.packets += 1;
        self.timeline
            .arrival(arrival.time, arrival.ts32, arrival.payload.len());
        // Only the sequence numbers count: the payload need not be held.
        super::bufpool::give_back(std::mem::take(&mut arrival.payload));
        self.reorder.push(arrival);
        self.pull_all();
    }

    fn pull_all(&mut self) {
        while let Some(item) = self.reorder.pull() {
            match item {
                TrackItem::Packet(p) => {
                    self.timeline.released(p.time);
                    self.last_released = Some(p.time);
                }
                TrackItem::Gap { lost } => {
                    self.gaps += 1;
                    self.timeline.gap(self.last_released, lost);
                }
                TrackItem::Reset => {}
            }
        }
    }

    fn finish(mut self) -> (TrackStats, Option<TrackTimeline>) {
        self.reorder.flush();
        self.pull_all();
        let stats = TrackStats {
            packets: self.packets,
            reorder: self.reorder.stats(),
            gaps: self.gaps,
            ..TrackStats::default()
        };
        (stats, self.timeline.finish())
    }
}

impl Tally {
    fn push(&mut self, inbound: Inbound) {
        // Writing stopped, so pushing cannot fail.
        let _ = match (self, inbound) {
            (Tally::Recorder(rec), Inbound::Media { arrival, raw }) => {
                rec.push_packet(arrival, raw.as_deref())
            }
            (Tally::Recorder(rec), Inbound::Rtx(arrival)) => rec.push_rtx(arrival),
            (Tally::Recorder(rec), Inbound::Fec { raw, time }) => rec.push_fec_stream(&raw, time),
            (Tally::Packets(t), Inbound::Media { arrival, .. }) => {
                t.push(arrival);
                Ok(())
            }
            (Tally::Packets(..), _) => Ok(()),
        };
    }

    /// The counters at the end (holes still open in the window count as lost),
    /// and the time series when a recorder kept one.
    fn finish(self) -> (TrackStats, Option<TrackTimeline>) {
        match self {
            Tally::Recorder(rec) => rec.final_stats_and_timeline(),
            Tally::Packets(t) => t.finish(),
        }
    }
}

/// Where a queued packet's payload is in its batch's byte buffer.
#[derive(Clone, Copy, Debug)]
struct Span {
    at: usize,
    len: usize,
}

/// What the reader asks of a track's worker, in the order it asked: packets
/// and changes of state travel in one queue, so a track's worker sees them in
/// capture order whatever runs in parallel with what.
enum Command {
    Start(Box<TrackSetup>),
    /// A packet, its payload in the batch's byte buffer.
    Packet(Inbound, Span),
    EnableFec(FecSetup),
    CountOnly(Failure, ReorderConfig),
    Abort,
    /// A worker that panics (tests of how a panic comes back to the reader).
    #[cfg(test)]
    Panic,
}

struct Worker {
    slot: Slot,
    inbox: Vec<Command>,
}

impl Worker {
    fn idle() -> Worker {
        Worker {
            slot: Slot::Idle,
            inbox: Vec::new(),
        }
    }

    /// Carries out the queued commands; `bytes` holds their packets' payloads.
    fn drain(&mut self, bytes: &[u8]) {
        let mut inbox = std::mem::take(&mut self.inbox);
        for command in inbox.drain(..) {
            match command {
                Command::Packet(mut inbound, span) => {
                    inbound.restore_payload(bytes, span);
                    self.push(inbound);
                }
                Command::Start(setup) => self.start(*setup),
                Command::EnableFec(setup) => {
                    if let Slot::Running(rec) = &mut self.slot {
                        rec.enable_fec(setup);
                    }
                }
                Command::CountOnly(failure, reorder) => self.count_only(failure, reorder),
                Command::Abort => self.abort(),
                #[cfg(test)]
                Command::Panic => panic!("a track worker panicked"),
            }
        }
        // The allocation goes back for the next batch, unless one burst made
        // it large: thousands of tracks must not each keep a batch's worth.
        if inbox.capacity() <= KEEP_INBOX {
            self.inbox = inbox;
        }
    }

    fn start(&mut self, setup: TrackSetup) {
        let reorder = setup.reorder;
        self.slot = match TrackRecorder::new(setup) {
            Ok(r) => Slot::Running(Box::new(r)),
            Err(e) => Slot::Failed(
                failure_of(&e),
                Tally::Packets(Box::new(PacketTally::new(reorder))),
            ),
        };
    }

    fn count_only(&mut self, failure: Failure, reorder: ReorderConfig) {
        self.slot = match std::mem::replace(&mut self.slot, Slot::Idle) {
            // Started already: it stops writing (its temporary file goes) and
            // goes on counting, so the packets it had are not lost to the stats.
            Slot::Running(mut rec) => {
                rec.stop_writing();
                Slot::Failed(failure, Tally::Recorder(rec))
            }
            // Failed already: the later reason stands, the count goes on.
            Slot::Failed(_, tally) => Slot::Failed(failure, tally),
            _ => Slot::Failed(failure, Tally::Packets(Box::new(PacketTally::new(reorder)))),
        };
    }

    fn abort(&mut self) {
        let stats = match std::mem::replace(&mut self.slot, Slot::Idle) {
            Slot::Running(mut rec) => {
                rec.stop_writing();
                Some(Box::new(rec.final_stats_and_timeline()))
            }
            Slot::Failed(_, tally) => Some(Box::new(tally.finish())),
            Slot::Idle | Slot::Aborted(_) => None,
        };
        // The recorder is gone, and with it its temporary file.
        self.slot = Slot::Aborted(stats);
    }

    fn push(&mut self, inbound: Inbound) {
        let rec = match &mut self.slot {
            Slot::Running(rec) => rec,
            Slot::Failed(_, tally) => {
                tally.push(inbound);
                return;
            }
            Slot::Idle | Slot::Aborted(_) => return,
        };
        let pushed = match inbound {
            Inbound::Media { arrival, raw } => rec.push_packet(arrival, raw.as_deref()),
            Inbound::Rtx(arrival) => rec.push_rtx(arrival),
            Inbound::Fec { raw, time } => rec.push_fec_stream(&raw, time),
        };
        if let Err(e) = pushed {
            // Keep the recorder to count the rest of the track's packets.
            let Slot::Running(mut rec) = std::mem::replace(&mut self.slot, Slot::Idle) else {
                return;
            };
            rec.stop_writing();
            self.slot = Slot::Failed(failure_of(&e), Tally::Recorder(rec));
        }
    }

    fn finish(&mut self, bytes: &[u8]) -> WorkerOutcome {
        self.drain(bytes);
        match std::mem::replace(&mut self.slot, Slot::Idle) {
            Slot::Idle => WorkerOutcome::default(),
            Slot::Running(rec) => {
                let f = rec.finish_all();
                WorkerOutcome {
                    result: Some(f.result.map_err(|e| failure_of(&e))),
                    stats: Some(f.stats),
                    dims: f.dims,
                    timeline: f.timeline,
                }
            }
            Slot::Failed(f, tally) => {
                let (stats, timeline) = tally.finish();
                WorkerOutcome {
                    result: Some(Err(f)),
                    stats: Some(stats),
                    dims: None,
                    timeline,
                }
            }
            Slot::Aborted(aborted) => {
                let (stats, timeline) = aborted.map_or((None, None), |a| (Some(a.0), a.1));
                WorkerOutcome {
                    result: None,
                    stats,
                    dims: None,
                    timeline,
                }
            }
        }
    }
}

/// Puts a deferred hash into the outcome's file (or one of its exports). A
/// file that could not be hashed or completed is not listed: the track fails.
fn fill_in_hash(outcome: &mut WorkerOutcome, path: &std::path::Path, hash: io::Result<[u8; 32]>) {
    let Some(Ok(file)) = &mut outcome.result else {
        return;
    };
    match hash {
        Ok(h) => {
            if file.path == path {
                file.sha256 = h;
            } else if let Some(e) = file.exports.iter_mut().find(|e| e.path == path) {
                e.sha256 = h;
            }
        }
        Err(e) => {
            // Its temporary file is gone (`Deferred::discard`); it never had its final name.
            outcome.result = Some(Err(Failure::new(
                FailureCode::IoError,
                format!("completing {}: {e}", path.display()),
            )));
        }
    }
}

/// The failure a track error means for the manifest.
pub fn failure_of(e: &TrackError) -> Failure {
    let code = match e {
        TrackError::Unsupported(_) => FailureCode::UnsupportedCodec,
        TrackError::NoKeyframe(_) => FailureCode::NoKeyframe,
        TrackError::Mux(MuxError::NoFrames) => FailureCode::NoDecodableFrames,
        TrackError::Mux(MuxError::Io { .. }) => FailureCode::IoError,
        TrackError::Mux(MuxError::Config(_)) => FailureCode::UnsupportedFormat,
    };
    Failure::new(code, e.to_string())
}

/// What the reader knows of a track's worker without asking it (the worker
/// itself may be busy with an earlier batch).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Not started: its packets are dropped.
    Idle,
    /// Recording, or failed and counting: its packets are queued.
    Active,
    /// Stopped from outside: its packets are dropped.
    Aborted,
}

/// Batches whose byte buffers exist besides the one being filled: one being
/// worked through and one queued behind it, so that a worker done with its
/// tracks' share of a batch goes on to the next batch's instead of waiting for
/// the slowest track, and the reader fills a third while both are in flight.
const MAX_IN_FLIGHT: usize = 2;

/// A track's commands of one batch, and the batch's payload bytes.
struct Segment {
    commands: Vec<Command>,
    bytes: Arc<Vec<u8>>,
}

/// What the reader and a track's job share of the track's queue.
#[derive(Default)]
struct Queue {
    /// Batches' commands not yet carried out, oldest first.
    segments: VecDeque<Segment>,
    /// A job is working through `segments` (at most one per track, so a
    /// track's commands run one at a time and in order).
    running: bool,
    /// An emptied command vector, for the reader's next batch.
    spare: Option<Vec<Command>>,
    /// The job's panic, for the reader to resume.
    panic: Option<Box<dyn std::any::Any + Send>>,
}

/// One track's worker and the commands waiting for it.
struct Cell {
    queue: Mutex<Queue>,
    worker: Mutex<Worker>,
}

/// Wakes the reader when a job has let go of a batch's bytes or stopped.
#[derive(Default)]
struct Progress {
    lock: Mutex<()>,
    changed: Condvar,
    /// A job panicked: the reader looks for the panic in the queues.
    panicked: AtomicBool,
}

impl Progress {
    fn notify(&self) {
        let _held = lock(&self.lock);
        self.changed.notify_all();
    }

    /// Waits until `done` (checked with the lock held, so that no
    /// notification falls between a check and the wait) or a job panicked.
    fn wait_until(&self, mut done: impl FnMut() -> bool) {
        let mut held = lock(&self.lock);
        while !done() && !self.panicked.load(Ordering::Acquire) {
            held = self
                .changed
                .wait(held)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// Locks `m`, also after a panic elsewhere (the panic is resumed on the
/// reader's thread; what it left behind is only dropped).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Works through a track's queued segments on the pool until none is left.
fn run_track(cell: &Cell, progress: &Progress) {
    loop {
        let segment = {
            let mut q = lock(&cell.queue);
            // After a panic the worker is left as the panic left it: what was
            // queued since is dropped, the panic goes back to the reader.
            if q.panic.is_some() {
                q.segments.clear();
            }
            match q.segments.pop_front() {
                Some(s) => s,
                None => {
                    q.running = false;
                    break;
                }
            }
        };
        let Segment { commands, bytes } = segment;
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut w = lock(&cell.worker);
            w.inbox = commands;
            w.drain(&bytes);
            std::mem::take(&mut w.inbox)
        }));
        drop(bytes);
        let mut q = lock(&cell.queue);
        match done {
            Ok(emptied) => {
                if emptied.capacity() > 0 {
                    q.spare = Some(emptied);
                }
            }
            Err(panic) => {
                q.panic = Some(panic);
                q.segments.clear();
                q.running = false;
                drop(q);
                progress.panicked.store(true, Ordering::Release);
                break;
            }
        }
        drop(q);
        progress.notify();
    }
    progress.notify();
}

/// The workers of the current session's tracks, indexed like its tracks.
///
/// The reader fills one batch of commands (per track, in order) while the pool
/// works through earlier ones: reading, parsing and routing overlap with
/// decrypting, reordering, muxing and hashing. Each track's share of a batch
/// is queued for that track, and one job at a time per track works through
/// its queue: a track's commands run in order, tracks in parallel, and no
/// worker waits for another track to finish a batch. At most
/// two (`MAX_IN_FLIGHT`) batches are queued or being worked on while the reader
/// fills the next, each bounded in packets and in bytes (16,384 packets, 2
/// MiB of payloads).
pub struct Workers {
    /// Each track's worker and queue.
    cells: Vec<Arc<Cell>>,
    /// The batch being filled, per track.
    next: Vec<Vec<Command>>,
    seen: Vec<Seen>,
    queued: usize,
    queued_bytes: usize,
    /// The byte buffers of the batches handed to the pool, oldest first.
    in_flight: VecDeque<Arc<Vec<u8>>>,
    progress: Arc<Progress>,
    pool: rayon::ThreadPool,
    /// When the first command of the batch being filled was queued.
    oldest: Option<std::time::Instant>,
    /// A track started: its worker creates its file at the next chance, not
    /// when a batch has filled (a live capture may take long to fill one).
    urgent: bool,
    /// The payloads of the batch being filled, one after the other.
    ///
    /// A payload is copied here when queued rather than handed over in a
    /// buffer of its own: a buffer allocated here and freed on a worker costs
    /// glibc's malloc a trip back to this thread's arena under its lock, and
    /// buffers passed back and forth for reuse kept moving their cache lines
    /// between the cores (benches/README.md, "Reading on the recorder's
    /// thread"). The worker copies each payload out into a buffer of its own.
    bytes: Vec<u8>,
    /// A batch's byte buffer, back from the pool, for the next batch.
    spare_bytes: Vec<u8>,
    /// The one buffer packets are parsed into before being queued ([`Workers::payload_buf`]).
    scratch: Vec<u8>,
}

impl Workers {
    /// Workers on `jobs` threads (0: one per core).
    pub fn new(jobs: usize) -> std::io::Result<Workers> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .thread_name(|i| format!("rtprec-track-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Workers {
            cells: Vec::new(),
            next: Vec::new(),
            seen: Vec::new(),
            queued: 0,
            queued_bytes: 0,
            in_flight: VecDeque::new(),
            progress: Arc::new(Progress::default()),
            pool,
            oldest: None,
            urgent: false,
            bytes: Vec::new(),
            spare_bytes: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    fn send(&mut self, track: usize, command: Command) {
        if self.oldest.is_none() {
            self.oldest = Some(std::time::Instant::now());
        }
        if self.next.len() <= track {
            self.next.resize_with(track + 1, Vec::new);
            self.seen.resize(track + 1, Seen::Idle);
        }
        self.next[track].push(command);
    }

    /// Starts track `track`'s recorder (creates its temporary file).
    pub fn start(&mut self, track: usize, setup: TrackSetup) {
        self.send(track, Command::Start(Box::new(setup)));
        self.seen[track] = Seen::Active;
        self.urgent = true;
    }

    /// Counts the packets of a track that cannot be recorded (its codec is
    /// unknown or unsupported), so its manifest entry reports its loss as
    /// `streams` does.
    pub fn count_only(&mut self, track: usize, failure: Failure, reorder: ReorderConfig) {
        self.send(track, Command::CountOnly(failure, reorder));
        self.seen[track] = Seen::Active;
    }

    /// Queues a packet for track `track` (dropped unless the track is running or
    /// failed: a failed track's packets are still counted).
    pub fn queue(&mut self, track: usize, mut item: Inbound) {
        if self.seen.get(track) == Some(&Seen::Active) {
            self.queued += 1;
            self.queued_bytes += item.bytes();
            let (span, mut emptied) = item.stow_payload(&mut self.bytes);
            if emptied.capacity() > self.scratch.capacity() {
                emptied.clear();
                self.scratch = emptied;
            }
            self.send(track, Command::Packet(item, span));
        }
    }

    /// Hands the queued commands to the pool when enough have gathered to be
    /// worth a parallel step (waiting, if need be, for the oldest batch in flight).
    pub fn maybe_run_batch(&mut self) {
        if self.queued >= BATCH_PACKETS || self.queued_bytes >= BATCH_BYTES || self.urgent {
            self.dispatch();
        }
    }

    /// Hands the queued commands to the pool if the first of them has waited
    /// `max` already: a live capture's packets reach their files within about
    /// that time, however slowly a batch fills.
    pub fn run_if_waiting(&mut self, max: std::time::Duration) {
        if self.oldest.is_some_and(|t| t.elapsed() >= max) {
            self.dispatch();
        }
    }

    /// Turns on FEC for a running track: packets queued from now on carry
    /// their plain bytes (those queued before did not: FEC starts with the next).
    pub fn enable_fec(&mut self, track: usize, setup: FecSetup) {
        self.send(track, Command::EnableFec(setup));
    }

    /// An empty buffer for a packet's payload: the one the last queued packet
    /// was parsed into (its payload has moved to the batch's byte buffer).
    pub fn payload_buf(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.scratch)
    }

    /// Stops a track without a file (it failed for a reason decided elsewhere).
    /// Its worker handles the packets queued before this as usual, then
    /// removes the temporary file and keeps only the counters.
    pub fn abort(&mut self, track: usize) {
        self.send(track, Command::Abort);
        self.seen[track] = Seen::Aborted;
    }

    /// Resumes a job's panic on this thread, if one panicked.
    fn resume_panics(&mut self) {
        if !self.progress.panicked.load(Ordering::Acquire) {
            return;
        }
        for cell in &self.cells {
            if let Some(panic) = lock(&cell.queue).panic.take() {
                std::panic::resume_unwind(panic);
            }
        }
    }

    /// Waits until no job holds the oldest batch's bytes, and keeps its
    /// buffer for a later batch.
    fn release_oldest(&mut self) {
        let Some(oldest) = self.in_flight.front() else {
            return;
        };
        self.progress.wait_until(|| Arc::strong_count(oldest) == 1);
        self.resume_panics();
        if let Some(Ok(mut bytes)) = self.in_flight.pop_front().map(Arc::try_unwrap) {
            // Kept for the next batch, unless a burst of jumbo packets made it large.
            bytes.clear();
            if bytes.capacity() <= KEEP_BYTES {
                self.spare_bytes = bytes;
            }
        }
    }

    /// Waits until every track's queue is worked through.
    fn wait_idle(&mut self) {
        let cells = &self.cells;
        self.progress.wait_until(|| {
            cells.iter().all(|c| {
                let q = lock(&c.queue);
                !q.running && q.segments.is_empty()
            })
        });
        self.resume_panics();
        while !self.in_flight.is_empty() {
            self.release_oldest();
        }
    }

    /// Clears the counters of the batch being filled.
    fn reset_batch(&mut self) {
        self.queued = 0;
        self.queued_bytes = 0;
        self.oldest = None;
        self.urgent = false;
    }

    /// Queues the batch being filled for its tracks on the pool and returns,
    /// waiting only while [`MAX_IN_FLIGHT`] earlier batches are still held.
    fn dispatch(&mut self) {
        self.resume_panics();
        self.reset_batch();
        while self.cells.len() < self.next.len() {
            self.cells.push(Arc::new(Cell {
                queue: Mutex::new(Queue::default()),
                worker: Mutex::new(Worker::idle()),
            }));
        }
        let bytes = Arc::new(std::mem::replace(
            &mut self.bytes,
            std::mem::take(&mut self.spare_bytes),
        ));
        for (cell, next) in self.cells.iter().zip(self.next.iter_mut()) {
            if next.is_empty() {
                continue;
            }
            let mut q = lock(&cell.queue);
            let fresh = q.spare.take().unwrap_or_default();
            let commands = std::mem::replace(next, fresh);
            q.segments.push_back(Segment {
                commands,
                bytes: Arc::clone(&bytes),
            });
            if !q.running {
                q.running = true;
                drop(q);
                let (cell, progress) = (Arc::clone(cell), Arc::clone(&self.progress));
                self.pool.spawn(move || run_track(&cell, &progress));
            }
        }
        self.in_flight.push_back(bytes);
        while self.in_flight.len() > MAX_IN_FLIGHT {
            self.release_oldest();
        }
    }

    /// Processes every queued command, tracks in parallel, and waits for it.
    pub fn run_batch(&mut self) {
        self.dispatch();
        self.wait_idle();
    }

    /// Finishes `n` tracks (all of a session), in parallel, and forgets them.
    pub fn finish_all(&mut self, n: usize) -> Vec<WorkerOutcome> {
        self.wait_idle();
        if self.next.len() < n {
            self.next.resize_with(n, Vec::new);
        }
        self.reset_batch();
        // The workers come back from their cells, each with what was queued
        // for it since the last batch (carried out by `Worker::finish`).
        let mut workers: Vec<Worker> = self
            .cells
            .drain(..)
            .map(|c| std::mem::replace(&mut *lock(&c.worker), Worker::idle()))
            .collect();
        workers.resize_with(workers.len().max(self.next.len()), Worker::idle);
        for (w, next) in workers.iter_mut().zip(self.next.iter_mut()) {
            std::mem::swap(&mut w.inbox, next);
        }
        self.next.clear();
        self.seen.clear();
        let bytes = std::mem::take(&mut self.bytes);
        let mut finished: Vec<(WorkerOutcome, Vec<Deferred>)> = Vec::new();
        self.pool.install(|| {
            workers
                .par_iter_mut()
                .map(|w| atomic::defer_rehash(|| w.finish(&bytes)))
                .collect_into_vec(&mut finished)
        });
        // The files whose headers were patched at their end, hashed together:
        // two per core (see `mux::sha256`), the largest first so that the
        // lanes end together; meanwhile they reach the disk, and then they
        // are synced and renamed.
        let mut deferred: Vec<(usize, Deferred)> = finished
            .iter_mut()
            .enumerate()
            .flat_map(|(i, (_, d))| std::mem::take(d).into_iter().map(move |d| (i, d)))
            .collect();
        deferred.sort_by_key(|(_, d)| std::cmp::Reverse(d.len));
        let jobs: Vec<HashJob> = deferred.iter().map(|(_, d)| d.hash_job()).collect();
        let hashes = sha256::hash_files(&jobs, self.pool.current_num_threads());
        // Only a track that succeeded gets its file under its final name.
        let succeeded: Vec<bool> = finished
            .iter()
            .map(|(o, _)| matches!(o.result, Some(Ok(_))))
            .collect();
        let mut completed: Vec<io::Result<[u8; 32]>> = Vec::new();
        self.pool.install(|| {
            deferred
                .par_iter()
                .zip(hashes)
                .map(|((i, d), hash)| {
                    let done = if succeeded[*i] {
                        hash.and_then(|h| d.complete().map(|()| h))
                    } else {
                        Err(io::Error::other("its track failed"))
                    };
                    if done.is_err() {
                        d.discard();
                    }
                    done
                })
                .collect_into_vec(&mut completed)
        });
        let mut outcomes: Vec<WorkerOutcome> = finished.into_iter().map(|(o, _)| o).collect();
        for ((i, d), done) in deferred.into_iter().zip(completed) {
            fill_in_hash(&mut outcomes[i], &d.path, done);
        }
        outcomes.truncate(n);
        outcomes
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // A track's job still running writes and removes temporary files: it
        // ends before the run does. A panic, if any, was the run's end already.
        // Jobs stop on their own after a panic: wait for that too.
        let cells = &self.cells;
        let progress = &self.progress;
        let mut held = lock(&progress.lock);
        while cells.iter().any(|c| lock(&c.queue).running) {
            held = progress
                .changed
                .wait(held)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::record::track::Container;

    fn vp8_setup(path: std::path::PathBuf) -> TrackSetup {
        TrackSetup {
            container: Container::Webm,
            codec: Codec::Vp8,
            payload_type: Some(96),
            clock_rate: 90_000,
            channels: 0,
            path,
            uid: 3,
            reorder: crate::track::ReorderConfig::default(),
            red_payload_type: None,
            fmtp: None,
            fec: None,
            audio_export: None,
        }
    }

    /// One VP8 inter frame per packet (RFC 7741 §4.2 descriptor S=1, payload header P=1):
    /// never decodable. Packet i is sent unless `lost(i)`; the sequence numbers wrap.
    fn queue_delta_frames(w: &mut Workers, n: u16, lost: impl Fn(u16) -> bool) -> u64 {
        let mut sent = 0;
        for i in (0..n).filter(|&i| !lost(i)) {
            let arrival = Arrival {
                seq16: 65_500u16.wrapping_add(i),
                ts32: u32::from(i) * 3000,
                marker: true,
                pt: 96,
                payload: vec![0x10, 0x01, 0x02, 0x00, 0xaa, 0xbb],
                time: CaptureTime::from_nanos(i64::from(i) * 33_000_000),
            };
            w.queue(0, Inbound::Media { arrival, raw: None });
            sent += 1;
        }
        sent
    }

    use crate::record::track::tests::opus_setup;

    /// Opus packet `i` of a track: 20 ms frames (TOC 0xfc), distinct bytes.
    fn opus_arrival(track: u8, i: u16) -> Arrival {
        Arrival {
            seq16: 1000u16.wrapping_add(i),
            ts32: u32::from(i) * 960,
            marker: false,
            pt: 111,
            payload: vec![0xfc, track, (i >> 8) as u8, i as u8, 0x55],
            time: CaptureTime::from_nanos(i64::from(i) * 20_000_000),
        }
    }

    /// Two Opus tracks, packets reordered and lost, one failing half-way;
    /// commands handed to the pool every `every` packets.
    fn record_two_tracks(dir: &std::path::Path, every: usize, jobs: usize) -> Vec<String> {
        let mut w = Workers::new(jobs).unwrap();
        w.start(0, opus_setup(&dir.join(format!("a-{every}-{jobs}"))));
        w.start(1, opus_setup(&dir.join(format!("b-{every}-{jobs}"))));
        let mut order: Vec<u16> = (0..400).filter(|i| i % 37 != 5).collect();
        for pair in order.chunks_mut(3) {
            pair.reverse();
        }
        for (n, &i) in order.iter().enumerate() {
            for track in 0..2u8 {
                let arrival = opus_arrival(track, i);
                w.queue(usize::from(track), Inbound::Media { arrival, raw: None });
            }
            if n == 200 {
                w.count_only(
                    1,
                    Failure::new(FailureCode::IoError, "x"),
                    ReorderConfig::default(),
                );
            }
            if (n + 1) % every == 0 {
                w.dispatch();
            }
        }
        w.finish_all(2)
            .into_iter()
            .map(|o| {
                let stats = o.stats.unwrap();
                let file = match o.result.unwrap() {
                    Ok(f) => f.sha256_hex(),
                    Err(e) => e.code.to_string(),
                };
                format!("{file} {} {}", stats.packets, stats.reorder.lost)
            })
            .collect()
    }

    #[test]
    fn output_does_not_depend_on_batches_or_threads() {
        let dir = tempfile::tempdir().unwrap();
        let want = record_two_tracks(dir.path(), usize::MAX, 1);
        assert!(want[0].ends_with(" 389 11"), "{want:?}");
        assert!(want[1].starts_with("io-error 389 11"), "{want:?}");
        for (every, jobs) in [(1, 2), (7, 2), (64, 1), (100, 3)] {
            assert_eq!(
                record_two_tracks(dir.path(), every, jobs),
                want,
                "every {every}, {jobs} threads"
            );
        }
    }

    #[test]
    fn the_reader_fills_the_next_batch_while_the_pool_works_on_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Workers::new(1).unwrap();
        w.start(0, opus_setup(dir.path()));
        for i in 0..BATCH_PACKETS as u16 {
            w.queue(
                0,
                Inbound::Media {
                    arrival: opus_arrival(0, i),
                    raw: None,
                },
            );
        }
        w.maybe_run_batch();
        // Handed over and returned at once: the batch is in flight, and the
        // reader's side is empty, ready for the next packets.
        assert_eq!(w.in_flight.len(), 1);
        assert_eq!((w.queued, w.next[0].len()), (0, 0));
        w.queue(
            0,
            Inbound::Media {
                arrival: opus_arrival(0, BATCH_PACKETS as u16),
                raw: None,
            },
        );
        assert_eq!(w.next[0].len(), 1);
        let out = w.finish_all(1).pop().unwrap();
        assert_eq!(out.stats.unwrap().packets, BATCH_PACKETS as u64 + 1);
    }

    #[test]
    fn a_slow_track_holds_up_neither_the_reader_nor_the_other_tracks() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Workers::new(2).unwrap();
        w.start(0, opus_setup(&dir.path().join("slow")));
        w.start(1, opus_setup(&dir.path().join("quick")));
        w.run_batch();
        // Track 0's worker cannot run while this test holds it.
        let slow = Arc::clone(&w.cells[0]);
        let held = lock(&slow.worker);
        for batch in 0..MAX_IN_FLIGHT as u16 {
            for i in 0..10 {
                for track in 0..2u8 {
                    let arrival = opus_arrival(track, batch * 10 + i);
                    w.queue(usize::from(track), Inbound::Media { arrival, raw: None });
                }
            }
            // Handed over without waiting for the first batch to be done.
            w.dispatch();
        }
        assert_eq!(w.in_flight.len(), MAX_IN_FLIGHT);
        let quick = Arc::clone(&w.cells[1]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while {
            let q = lock(&quick.queue);
            q.running || !q.segments.is_empty()
        } {
            assert!(
                std::time::Instant::now() < deadline,
                "track 1 waited for track 0"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(
            lock(&slow.queue).segments.len(),
            MAX_IN_FLIGHT - 1,
            "queued behind the first"
        );
        drop(held);
        let outs = w.finish_all(2);
        let packets: Vec<u64> = outs
            .iter()
            .map(|o| o.stats.as_ref().unwrap().packets)
            .collect();
        assert_eq!(packets, [10 * MAX_IN_FLIGHT as u64; 2]);
    }

    #[test]
    fn a_workers_panic_comes_back_to_the_reader_and_nothing_waits_for_ever() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Workers::new(2).unwrap();
        w.start(0, opus_setup(&dir.path().join("a")));
        w.start(1, opus_setup(&dir.path().join("b")));
        for i in 0..10 {
            w.queue(
                1,
                Inbound::Media {
                    arrival: opus_arrival(1, i),
                    raw: None,
                },
            );
        }
        w.send(0, Command::Panic);
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run_batch()));
        let panic = got.expect_err("the worker's panic is resumed here");
        assert_eq!(
            panic.downcast_ref::<&str>(),
            Some(&"a track worker panicked")
        );
        // Dropping the workers waits for the other track's job, and returns.
        drop(w);
    }

    #[test]
    fn a_batch_is_bounded_in_bytes_as_well_as_packets() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Workers::new(1).unwrap();
        w.start(0, opus_setup(dir.path()));
        w.maybe_run_batch();
        for i in 0..40u16 {
            let mut arrival = opus_arrival(0, i);
            arrival.payload.resize(1 << 20, 0);
            w.queue(0, Inbound::Media { arrival, raw: None });
            w.maybe_run_batch();
            assert!(
                w.queued_bytes < BATCH_BYTES,
                "{} bytes queued",
                w.queued_bytes
            );
            assert!(w.queued < BATCH_PACKETS);
        }
        let out = w.finish_all(1).pop().unwrap();
        assert_eq!(out.stats.unwrap().packets, 40);
    }

    #[test]
    fn payloads_travel_in_one_buffer_per_batch_kept_unless_a_burst_made_it_large() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Workers::new(1).unwrap();
        w.start(0, opus_setup(dir.path()));
        let sizes = [3usize, 0, 1000, 7];
        for (i, n) in sizes.iter().enumerate() {
            let mut arrival = opus_arrival(0, i as u16);
            arrival.payload.resize(*n, 0xab);
            w.queue(0, Inbound::Media { arrival, raw: None });
            // The payload moved into the batch's buffer; its own buffer is the next scratch.
            assert!(w.payload_buf().is_empty());
        }
        assert_eq!(w.bytes.len(), sizes.iter().sum::<usize>());
        let spans: Vec<(usize, usize)> = w.next[0]
            .iter()
            .filter_map(|c| match c {
                Command::Packet(_, s) => Some((s.at, s.len)),
                _ => None,
            })
            .collect();
        assert_eq!(spans, [(0, 3), (3, 0), (3, 1000), (1003, 7)]);
        w.run_batch();
        assert!(w.bytes.is_empty());
        assert!(w.spare_bytes.capacity() >= 1010, "kept for the next batch");
        // A jumbo burst over KEEP_BYTES: its buffer goes back to the allocator.
        let mut arrival = opus_arrival(0, 9);
        arrival.payload.resize(KEEP_BYTES + 1, 0);
        w.queue(0, Inbound::Media { arrival, raw: None });
        w.run_batch();
        assert!(w.spare_bytes.capacity() <= KEEP_BYTES);
        let out = w.finish_all(1).pop().unwrap();
        assert_eq!(out.stats.unwrap().packets, 5);
    }

    #[test]
    fn a_started_track_creates_its_file_without_waiting_for_a_full_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Workers::new(1).unwrap();
        w.start(0, opus_setup(dir.path()));
        w.queue(
            0,
            Inbound::Media {
                arrival: opus_arrival(0, 0),
                raw: None,
            },
        );
        w.maybe_run_batch();
        w.wait_idle();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "the temporary file: {names:?}");
        // Packets alone wait for a batch, or for LIVE_LATENCY-like waits.
        w.queue(
            0,
            Inbound::Media {
                arrival: opus_arrival(0, 1),
                raw: None,
            },
        );
        w.maybe_run_batch();
        assert_eq!(w.queued, 1);
        w.run_if_waiting(std::time::Duration::ZERO);
        assert_eq!(w.queued, 0);
    }

    /// 40% loss in a fixed pattern, never the first or last packet.
    fn lossy(i: u16) -> bool {
        i % 5 < 2 && i != 0 && i != 99
    }

    #[test]
    fn a_track_failing_without_keyframe_reports_its_loss() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Workers::new(1).unwrap();
        w.start(0, vp8_setup(dir.path().join("v.webm")));
        let sent = queue_delta_frames(&mut w, 100, lossy);
        w.run_batch();
        let out = w.finish_all(1).pop().unwrap();
        let failure = out.result.unwrap().unwrap_err();
        assert_eq!(failure.code, "no-keyframe");
        let stats = out.stats.unwrap();
        assert_eq!((stats.packets, stats.reorder.lost), (sent, 100 - sent));
        let t = out.timeline.unwrap();
        assert_eq!(
            t.lost.iter().map(|&n| u64::from(n)).sum::<u64>(),
            100 - sent
        );
        assert!(t.keyframe_ms.is_empty());
    }

    #[test]
    fn a_track_that_cannot_start_still_counts_its_packets_and_loss() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let mut w = Workers::new(1).unwrap();
        // Its directory cannot be created: a file is in the way.
        w.start(0, vp8_setup(file.join("sub").join("v.webm")));
        let sent = queue_delta_frames(&mut w, 100, lossy);
        let out = w.finish_all(1).pop().unwrap();
        assert_eq!(out.result.unwrap().unwrap_err().code, "io-error");
        let stats = out.stats.unwrap();
        assert_eq!((stats.packets, stats.reorder.lost), (sent, 100 - sent));
        assert_eq!(stats.gaps, 20, "one gap per run of two lost");
        // Its time series says the same, for the report.
        let t = out.timeline.unwrap();
        let sum = |v: &[u32]| v.iter().map(|&n| u64::from(n)).sum::<u64>();
        assert_eq!((sum(&t.packets), sum(&t.lost)), (sent, 100 - sent));
        assert_eq!(t.gaps.len(), 20);
        assert!(
            t.jitter_us.iter().all(|&j| j == 0),
            "no clock rate, no jitter"
        );
    }

    #[test]
    fn an_aborted_track_counts_what_was_queued_and_the_holes_left_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Workers::new(1).unwrap();
        w.start(0, vp8_setup(dir.path().join("v.webm")));
        let sent = queue_delta_frames(&mut w, 100, lossy);
        w.abort(0);
        w.run_batch();
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "no temporary file left"
        );
        let out = w.finish_all(1).pop().unwrap();
        assert!(out.result.is_none());
        let stats = out.stats.unwrap();
        assert_eq!((stats.packets, stats.reorder.lost), (sent, 100 - sent));
    }
}
