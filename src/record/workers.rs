//! The track workers: each started track's [`TrackRecorder`] (reorder, repair,
//! depacketize, mux, hash) and its queue of packets, drained in parallel on a
//! rayon pool. Each track sees its own packets in the order they were queued,
//! whatever the thread count, so output bytes do not depend on `--jobs`.

use super::timeline::{TimelineBuilder, TrackTimeline};
use super::track::{FecSetup, TrackError, TrackRecorder, TrackSetup, TrackStats};
use crate::assets::{Failure, FailureCode};
use crate::mux::{MuxError, OutputFile};
use crate::time::CaptureTime;
use crate::track::{Arrival, ReorderBuffer, ReorderConfig, TrackItem};
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
        arrival.payload = Vec::new();
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

struct Worker {
    slot: Slot,
    inbox: Vec<Inbound>,
}

impl Worker {
    fn drain(&mut self) {
        let inbox = std::mem::take(&mut self.inbox);
        for inbound in inbox {
            let rec = match &mut self.slot {
                Slot::Running(rec) => rec,
                Slot::Failed(_, tally) => {
                    tally.push(inbound);
                    continue;
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
    }

    fn finish(&mut self) -> WorkerOutcome {
        self.drain();
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

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
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
        let reorder = setup.reorder;
        w.slot = match TrackRecorder::new(setup) {
            Ok(r) => Slot::Running(Box::new(r)),
            Err(e) => Slot::Failed(
                failure_of(&e),
                Tally::Packets(Box::new(PacketTally::new(reorder))),
            ),
        };
    }

    /// Counts the packets of a track that cannot be recorded (its codec is
    /// unknown or unsupported), so its manifest entry reports its loss as
    /// `streams` does.
    pub fn count_only(&mut self, track: usize, failure: Failure, reorder: ReorderConfig) {
        let w = self.worker(track);
        w.slot = match std::mem::replace(&mut w.slot, Slot::Idle) {
            // Started already: it stops writing (its temporary file goes) and
            // goes on counting, so the packets it had are not lost to the stats.
            Slot::Running(mut rec) => {
                rec.stop_writing();
                Slot::Failed(failure, Tally::Recorder(rec))
            }
            _ => Slot::Failed(failure, Tally::Packets(Box::new(PacketTally::new(reorder)))),
        };
    }

    /// Queues a packet for track `track` (dropped unless the track is running or
    /// failed: a failed track's packets are still counted).
    pub fn queue(&mut self, track: usize, item: Inbound) {
        let w = self.worker(track);
        if matches!(w.slot, Slot::Running(_) | Slot::Failed(..)) {
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
        // The packets already queued were the track's: count them, write nothing.
        if let Slot::Running(rec) = &mut w.slot {
            rec.stop_writing();
        }
        w.drain();
        let stats = match std::mem::replace(&mut w.slot, Slot::Idle) {
            Slot::Running(rec) => Some(Box::new(rec.final_stats_and_timeline())),
            Slot::Failed(_, tally) => Some(Box::new(tally.finish())),
            Slot::Idle | Slot::Aborted(_) => None,
        };
        // The recorder is gone, and with it its temporary file.
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
