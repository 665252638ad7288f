//! The track workers: each started track's [`TrackRecorder`] (reorder, repair,
//! depacketize, mux, hash) and its queue of packets, drained in parallel on a
//! rayon pool. Each track sees its own packets in the order they were queued,
//! whatever the thread count, so output bytes do not depend on `--jobs`.

use super::track::{FecSetup, TrackError, TrackRecorder, TrackSetup, TrackStats};
use crate::assets::{Failure, FailureCode};
use crate::mux::{MuxError, OutputFile};
use crate::time::CaptureTime;
use crate::track::Arrival;
use rayon::prelude::*;

/// Packets queued across all tracks before they are processed in parallel.
const BATCH_PACKETS: usize = 16_384;

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

/// What became of a track's worker.
#[derive(Debug, Default)]
pub struct WorkerOutcome {
    /// The file or why not; `None` when the track never started a worker.
    pub result: Option<Result<OutputFile, Failure>>,
    /// The worker's counters, when it ran.
    pub stats: Option<TrackStats>,
    /// Video width and height.
    pub dims: Option<(u16, u16)>,
}

enum Slot {
    Idle,
    Running(Box<TrackRecorder>),
    /// Failed to start, or while running (a write error, say): the counters at that point.
    Failed(Failure, Option<Box<TrackStats>>),
    /// Stopped from outside; its temporary file is gone.
    Aborted(Option<Box<TrackStats>>),
}

struct Worker {
    slot: Slot,
    inbox: Vec<Inbound>,
}

impl Worker {
    fn drain(&mut self) {
        let inbox = std::mem::take(&mut self.inbox);
        let Slot::Running(rec) = &mut self.slot else {
            return;
        };
        for inbound in inbox {
            let pushed = match inbound {
                Inbound::Media { arrival, raw } => rec.push_packet(arrival, raw.as_deref()),
                Inbound::Rtx(arrival) => rec.push_rtx(arrival),
                Inbound::Fec { raw, time } => rec.push_fec_stream(&raw, time),
            };
            if let Err(e) = pushed {
                let stats = Box::new(rec.stats());
                self.slot = Slot::Failed(failure_of(&e), Some(stats));
                return;
            }
        }
    }

    fn finish(&mut self) -> WorkerOutcome {
        self.drain();
        match std::mem::replace(&mut self.slot, Slot::Idle) {
            Slot::Idle => WorkerOutcome::default(),
            Slot::Running(rec) => {
                let (result, stats, dims) = rec.finish_with_dimensions();
                WorkerOutcome {
                    result: Some(result.map_err(|e| failure_of(&e))),
                    stats: Some(stats),
                    dims,
                }
            }
            Slot::Failed(f, stats) => WorkerOutcome {
                result: Some(Err(f)),
                stats: stats.map(|s| *s),
                dims: None,
            },
            Slot::Aborted(stats) => WorkerOutcome {
                result: None,
                stats: stats.map(|s| *s),
                dims: None,
            },
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

/// The workers of the current session's tracks, indexed like its tracks.
pub struct Workers {
    workers: Vec<Worker>,
    queued: usize,
    pool: rayon::ThreadPool,
}

impl Workers {
    /// Workers on `jobs` threads (0: one per core).
    pub fn new(jobs: usize) -> std::io::Result<Workers> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Workers {
            workers: Vec::new(),
            queued: 0,
            pool,
        })
    }

    fn worker(&mut self, track: usize) -> &mut Worker {
        if self.workers.len() <= track {
            self.workers.resize_with(track + 1, || Worker {
                slot: Slot::Idle,
                inbox: Vec::new(),
            });
        }
        &mut self.workers[track]
    }

    /// Starts track `track`'s recorder (creates its temporary file).
    pub fn start(&mut self, track: usize, setup: TrackSetup) {
        let w = self.worker(track);
        w.slot = match TrackRecorder::new(setup) {
            Ok(r) => Slot::Running(Box::new(r)),
            Err(e) => Slot::Failed(failure_of(&e), None),
        };
    }

    /// Queues a packet for track `track` (dropped unless the track is running).
    pub fn queue(&mut self, track: usize, item: Inbound) {
        let w = self.worker(track);
        if matches!(w.slot, Slot::Running(_)) {
            w.inbox.push(item);
            self.queued += 1;
        }
    }

    /// Processes the queued packets when enough have gathered to be worth a parallel step.
    pub fn maybe_run_batch(&mut self) {
        if self.queued >= BATCH_PACKETS {
            self.run_batch();
        }
    }

    /// Turns on FEC for a running track, before its queued packets are processed
    /// (their plain bytes were not kept: FEC starts with the next packets).
    pub fn enable_fec(&mut self, track: usize, setup: FecSetup) {
        if let Slot::Running(rec) = &mut self.worker(track).slot {
            rec.enable_fec(setup);
        }
    }

    /// Stops a track without a file (it failed for a reason decided elsewhere).
    pub fn abort(&mut self, track: usize) {
        let w = self.worker(track);
        w.inbox.clear();
        let stats = match &w.slot {
            Slot::Running(rec) => Some(Box::new(rec.stats())),
            _ => None,
        };
        // Dropping the recorder removes its temporary file.
        w.slot = Slot::Aborted(stats);
    }

    /// Processes every queued packet, tracks in parallel.
    pub fn run_batch(&mut self) {
        self.queued = 0;
        let workers = &mut self.workers;
        self.pool
            .install(|| workers.par_iter_mut().for_each(Worker::drain));
    }

    /// Finishes `n` tracks (all of a session), in parallel, and forgets them.
    pub fn finish_all(&mut self, n: usize) -> Vec<WorkerOutcome> {
        self.worker(n.saturating_sub(1));
        let mut workers = std::mem::take(&mut self.workers);
        self.queued = 0;
        let mut outcomes: Vec<WorkerOutcome> = Vec::new();
        self.pool.install(|| {
            workers
                .par_iter_mut()
                .map(Worker::finish)
                .collect_into_vec(&mut outcomes)
        });
        outcomes.truncate(n);
        outcomes
    }
}
