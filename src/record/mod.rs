//! `rtprec record`: one sequential pass routing packets to per-track recorders.
//!
//! The module map, in the order a packet meets it:
//!
//! - [`crate::pipeline`] reads the inputs (one loop for `streams` and `record`)
//!   and hands datagrams to this module's `Run`.
//! - [`recorder`] is the sans-IO state machine that decides everything:
//!   [`route`] (SSRC, 5-tuple, MID/port -> track), [`infer`] (streams
//!   without metadata: codec, RTX, FEC), [`keys`] (per-track SRTP key choice),
//!   [`encrypted`] (encrypted media without keys: signalled SRTP, payloads
//!   that do not parse as the signalled codec, SRTP tag lengths),
//!   [`clock`] (sender reports, start offsets), [`manifest`] (asset records).
//! - [`workers`] runs each started track's [`track::TrackRecorder`] (reorder,
//!   repair, depacketize, mux, hash) on a rayon pool.
//! - This module writes the manifest as sessions end and sends their events
//!   once the manifest that lists them is on disk; beside it, [`timeline`]'s
//!   per-track time series (`OUT/timeline.json`, for `rtprec report`).

mod bufpool;
mod claim;
pub mod clock;
pub mod dtls;
pub mod encrypted;
pub mod infer;
pub mod keys;
pub mod manifest;
pub mod paths;
mod presence;
pub mod recorder;
pub mod route;
pub mod template;
pub mod timeline;
pub mod track;
pub mod workers;

use crate::assets::{Asset, Manifest};
use crate::error::Error;
use crate::events::Event;
use crate::net::Datagram;
use crate::pipeline::{Consumer, LoopOptions, Warning};
use crate::session::SessionMap;
use crate::time::CaptureTime;
use crate::track::ReorderConfig;
use recorder::{Actions, Recorder, SessionKey};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use timeline::{Timeline, TrackTimeline};
use track::{FecSetup, TrackSetup};
use workers::{Inbound, WorkerOutcome, Workers};

/// Options of a recording run.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Output directory (created if missing).
    pub out_dir: PathBuf,
    /// Worker threads (0: one per core).
    pub jobs: usize,
    /// Who is who; `None` infers tracks from the traffic.
    pub session: Option<SessionMap>,
    /// `metadata` or `sdp` (for the manifest) when `session` is given.
    pub identification: &'static str,
    /// Reorder window per track.
    pub reorder: ReorderConfig,
    /// Without metadata, a session ends when no RTP has flowed for this long (capture time).
    pub idle_timeout_nanos: i64,
    /// Which tracks to record.
    pub template: template::Template,
    /// SRTP keys for streams the metadata gives none (`--srtp-keys`).
    pub srtp_keys: Vec<crate::srtp::keyring::KeyLine>,
    /// `--keylog`: DTLS secrets (NSS key log format) for the handshakes in the capture.
    pub keylog: crate::dtls::KeyLog,
    /// `--match-by-kind`: a signalled track no stream matched takes the one
    /// unmatched stream of its kind, when there is exactly one.
    pub match_by_kind: bool,
    /// `--audio-export`: a file decoded from each completed audio track, written beside it.
    pub audio_export: Option<crate::mux::export::AudioExport>,
}

/// Result of a recording run.
#[derive(Debug)]
pub struct RecordOutput {
    /// The manifest, also written to `OUT/manifest.json`.
    pub manifest: Manifest,
    /// Path of the manifest.
    pub manifest_path: PathBuf,
    /// Path of the per-track time series beside it (`OUT/timeline.json`).
    pub timeline_path: PathBuf,
    /// Frames read.
    pub frames: u64,
    /// First occurrence of each kind of problem.
    pub warnings: Vec<Warning>,
    /// Temporary files of earlier runs that were killed, removed before recording.
    pub stale_removed: Vec<PathBuf>,
    /// The signal that ended the input early (the run still finished every track).
    pub stopped_by: Option<i32>,
    /// Tracks whose path another track of the run already had: (that path, the new track id).
    pub renamed: Vec<(String, String)>,
}

/// What `OUT/manifest.json` lists: the assets of earlier runs into the same
/// directory (their sessions not recorded again), then this run's.
struct Listing {
    path: PathBuf,
    /// Earlier runs' assets still listed.
    carried: Vec<Asset>,
    /// Earlier runs' inputs.
    carried_inputs: Vec<String>,
    /// This run's assets as of the last write.
    written: Vec<Asset>,
    /// The first write that failed: the run cannot vouch for its files.
    failed: Option<Error>,
    /// `OUT/timeline.json`.
    timeline_path: PathBuf,
    /// Earlier runs' time series, by asset id; listed while their asset is carried.
    carried_timelines: BTreeMap<String, TrackTimeline>,
}

impl Listing {
    /// The manifest of `ours` (this run's assets, in a manifest) plus what is carried.
    fn compose(&self, mut ours: Manifest) -> Manifest {
        let mut inputs = self.carried_inputs.clone();
        inputs.extend(
            ours.inputs
                .drain(..)
                .filter(|i| !self.carried_inputs.contains(i)),
        );
        ours.inputs = inputs;
        ours.assets.extend(self.carried.iter().cloned());
        ours.assets.sort_by(|a, b| {
            (&a.room_id, &a.session_id, &a.peer_id, &a.track_id).cmp(&(
                &b.room_id,
                &b.session_id,
                &b.peer_id,
                &b.track_id,
            ))
        });
        ours
    }

    /// Writes the manifest of this run's `ours` plus what is carried; remembers a failure.
    fn write(&mut self, ours: Manifest) {
        if self.failed.is_some() {
            return;
        }
        self.written.clone_from(&ours.assets);
        let m = self.compose(ours);
        if let Err(e) = write_json_atomically(&self.path, &m, true) {
            self.failed = Some(e);
        }
    }

    /// Writes the time series of this run's `ours` plus those of the carried
    /// assets (keyed by asset id, so a session recorded again replaces its own).
    fn write_timeline(&mut self, ours: &BTreeMap<String, TrackTimeline>) {
        if self.failed.is_some() {
            return;
        }
        // Borrowed, not cloned: the series of a long run are the bulk of its memory.
        let mut tracks: BTreeMap<&str, &TrackTimeline> = self
            .carried_timelines
            .iter()
            .filter(|(id, _)| self.carried.iter().any(|a| &a.id == *id))
            .map(|(id, t)| (id.as_str(), t))
            .collect();
        tracks.extend(ours.iter().map(|(id, t)| (id.as_str(), t)));
        let file = timeline::TimelineRef {
            version: timeline::TIMELINE_VERSION,
            tracks,
        };
        if let Err(e) = write_json_atomically(&self.timeline_path, &file, false) {
            self.failed = Some(e);
        }
    }

    /// `sessions` are being recorded again: their earlier assets leave the
    /// manifest (rewritten first, so it never describes a file about to be
    /// replaced) and their earlier files go (the new ones take their place).
    fn replace_sessions(&mut self, sessions: &[SessionKey], ours: Manifest) {
        let (gone, kept): (Vec<Asset>, Vec<Asset>) = std::mem::take(&mut self.carried)
            .into_iter()
            .partition(|a| {
                sessions
                    .iter()
                    .any(|k| k.room_id == a.room_id && k.session_id == a.session_id)
            });
        self.carried = kept;
        if gone.is_empty() {
            return;
        }
        self.write(ours);
        if self.failed.is_some() {
            return;
        }
        let dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for rel in gone.iter().filter_map(|a| a.path.as_deref()) {
            // Gone already is fine: the manifest no longer lists it either way.
            let _ = std::fs::remove_file(dir.join(rel));
        }
    }
}

/// The longest a queued packet waits for its track's worker when packets
/// arrive too slowly to fill a batch (a live capture).
const LIVE_LATENCY: std::time::Duration = std::time::Duration::from_millis(200);

/// The world around the recorder: track workers, the manifest, the events.
struct Effects<'e> {
    workers: Workers,
    listing: Listing,
    /// Marks the commit of a session's files, which a second signal lets finish.
    stop: crate::pipeline::StopFlag,
    /// The reorder window, for workers that only count.
    reorder: ReorderConfig,
    events: &'e mut dyn FnMut(Event),
    /// Ended sessions' terminal events, sent once the manifest lists them.
    announce: Vec<(CaptureTime, Asset)>,
    /// Between `begin_commit` (a session's files renamed) and `end_commit`.
    committing: bool,
    /// This run's manifest without assets (version, generator, inputs, identification).
    template: Manifest,
}

impl Actions for Effects<'_> {
    fn start_track(&mut self, track: usize, setup: TrackSetup) {
        self.workers.start(track, setup);
    }

    fn queue(&mut self, track: usize, item: Inbound) {
        self.workers.queue(track, item);
    }

    fn payload_buf(&mut self) -> Vec<u8> {
        self.workers.payload_buf()
    }

    fn enable_fec(&mut self, track: usize, setup: FecSetup) {
        self.workers.enable_fec(track, setup);
    }

    fn abort_track(&mut self, track: usize) {
        self.workers.abort(track);
    }

    fn count_track(&mut self, track: usize, failure: crate::assets::Failure) {
        self.workers.count_only(track, failure, self.reorder);
    }

    fn finish_tracks(&mut self, n: usize, sessions: &[SessionKey]) -> Vec<WorkerOutcome> {
        // Files take their final names from here until the manifest lists them.
        self.stop.begin_commit();
        self.committing = true;
        let ours = Manifest {
            assets: self.listing.written.clone(),
            ..self.template.clone()
        };
        self.listing.replace_sessions(sessions, ours);
        self.workers.finish_all(n)
    }

    fn track_started(&mut self, asset: &Asset, at: CaptureTime) {
        (self.events)(Event::started(asset, at));
    }

    fn session_ended(&mut self, assets: &[(CaptureTime, Asset)]) {
        self.announce.extend_from_slice(assets);
    }
}

/// A recording run: the read loop's consumer.
struct Run<'e> {
    recorder: Recorder,
    effects: Effects<'e>,
}

impl Run<'_> {
    /// Writes the manifest when a session has ended, then sends that session's
    /// terminal events: a success event never names a file the manifest on disk
    /// does not list.
    fn settle(&mut self) {
        // Nothing ended since the last call (nearly every packet): nothing to do.
        if !self.effects.committing && self.effects.announce.is_empty() {
            return;
        }
        self.announce();
        self.effects.committing = false;
        self.effects.stop.end_commit();
    }

    fn announce(&mut self) {
        if self.effects.announce.is_empty() {
            return;
        }
        let ours = self.recorder.manifest(self.effects.template.inputs.clone());
        self.effects.listing.write(ours);
        self.effects
            .listing
            .write_timeline(self.recorder.timelines());
        if self.effects.listing.failed.is_some() {
            // Without a manifest the run fails; its events wait for nothing else.
            self.effects.announce.clear();
            return;
        }
        for (at, asset) in std::mem::take(&mut self.effects.announce) {
            (self.effects.events)(Event::finished(&asset, at));
        }
    }
}

impl Consumer for Run<'_> {
    fn opened(&mut self, names: &[String]) {
        self.effects.template.inputs = names.to_vec();
    }

    fn frame(&mut self, time: CaptureTime) {
        // Between frames, as a batch fills: each track's packets stay in capture order.
        self.effects.workers.maybe_run_batch();
        self.recorder.saw_frame(time, &mut self.effects);
        self.settle();
    }

    fn datagram(&mut self, d: &Datagram<'_>) {
        self.recorder.push(d, &mut self.effects);
        self.settle();
    }

    fn batch_done(&mut self) {
        self.effects.workers.maybe_run_batch();
        self.effects.workers.run_if_waiting(LIVE_LATENCY);
    }

    fn idle(&mut self, now: CaptureTime) {
        self.recorder.idle(now, &mut self.effects);
        self.settle();
        self.effects.workers.run_if_waiting(LIVE_LATENCY);
    }

    /// The track workers keep the other cores busy.
    fn read_files_inline(&self) -> bool {
        true
    }

    fn time_source(&mut self, source: crate::capture::TimeSource) {
        self.recorder.set_time_source(source);
    }

    fn secrets(&mut self, s: &crate::capture::Secrets) {
        self.recorder.add_secrets(s);
    }
}

/// Records every track of the captures at `paths`.
///
/// `events` receives `track.recording.started.success` when a track's first
/// packet is routed (capture order), and each track's terminal event when its
/// session ends (ordered by the track's last packet time, then asset id),
/// after the manifest listing it has been written.
pub fn run_record(
    paths: &[PathBuf],
    opts: &RecordOptions,
    loop_opts: &LoopOptions,
    progress: &mut dyn FnMut(u64),
    events: &mut dyn FnMut(Event),
) -> Result<RecordOutput, Error> {
    let stale_removed = prepare_out_dir(&opts.out_dir)?;
    let manifest_path = opts.out_dir.join("manifest.json");
    let previous = read_previous_manifest(&manifest_path)?;
    let timeline_path = opts.out_dir.join(timeline::TIMELINE_FILE);
    let carried_timelines = read_previous_timeline(&timeline_path);
    let io = |context: String| move |source| Error::Output { context, source };
    let workers = Workers::new(opts.jobs).map_err(io("starting worker threads".to_string()))?;
    // Output files kept open are budgeted from the open-file limit less what
    // the worker threads and the capture inputs hold (see `FdBudget::for_limit`).
    crate::mux::atomic::FdBudget::init_process(workers.threads(), paths.len());
    let recorder = Recorder::new(opts.clone());
    let template = recorder.manifest(Vec::new());
    let mut run = Run {
        recorder,
        effects: Effects {
            workers,
            listing: Listing {
                path: manifest_path.clone(),
                carried_inputs: previous
                    .as_ref()
                    .map(|m| m.inputs.clone())
                    .unwrap_or_default(),
                carried: previous.map(|m| m.assets).unwrap_or_default(),
                written: Vec::new(),
                failed: None,
                timeline_path: timeline_path.clone(),
                carried_timelines,
            },
            stop: loop_opts.stop.clone(),
            reorder: opts.reorder,
            events,
            announce: Vec::new(),
            committing: false,
            template,
        },
    };
    let summary = crate::pipeline::run_loop(paths, loop_opts, &mut run, progress)?;
    run.recorder.finish(&mut run.effects);
    run.settle();
    let listing = &mut run.effects.listing;
    listing.write(run.recorder.manifest(summary.names.clone()));
    listing.write_timeline(run.recorder.timelines());
    if let Some(e) = listing.failed.take() {
        return Err(e);
    }
    let manifest = listing.compose(run.recorder.manifest(summary.names.clone()));
    let mut diags = summary.diagnostics;
    diags.append(&mut run.recorder.take_diagnostics());
    Ok(RecordOutput {
        manifest,
        manifest_path,
        timeline_path,
        frames: summary.frames,
        warnings: crate::pipeline::warnings(diags, &summary.names),
        stale_removed,
        stopped_by: summary.stopped_by,
        renamed: run.recorder.renamed_tracks().to_vec(),
    })
}

/// The manifest an earlier run left in the output directory, whose sessions
/// stay listed unless this run records them again. A manifest that cannot be
/// read is an error: its files would be orphaned without a word.
fn read_previous_manifest(path: &Path) -> Result<Option<Manifest>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                context: format!("reading {}", path.display()),
                source,
            });
        }
    };
    let bad = |why: String| Error::Io {
        context: format!(
            "{}: {why}; move it away or record into another directory",
            path.display()
        ),
        source: std::io::Error::other("not a manifest this rtprec can extend"),
    };
    let m: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if m.version != crate::assets::MANIFEST_VERSION {
        return Err(bad(format!("manifest version {}", m.version)));
    }
    Ok(Some(m))
}

/// The time series an earlier run left, by asset id. The file only feeds the
/// report: one that is missing, unreadable or of another version is replaced
/// (its tracks' series are lost, their assets and files are not).
fn read_previous_timeline(path: &Path) -> BTreeMap<String, TrackTimeline> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Timeline>(&bytes).ok())
        .filter(|t| t.version == timeline::TIMELINE_VERSION)
        .map(|t| t.tracks)
        .unwrap_or_default()
}

/// Readies the output directory: creates it and removes the temporary files
/// of killed runs (they carry their pid, which is no longer alive). Returns
/// the temporary files removed. [`run_record`] calls it; calling it first (to
/// report removals at once) is harmless.
pub fn prepare_out_dir(out_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |context: String| move |source| Error::Output { context, source };
    std::fs::create_dir_all(out_dir).map_err(io(format!("creating {}", out_dir.display())))?;
    crate::mux::atomic::remove_stale_temps(out_dir, 4)
        .map_err(io(format!("cleaning {}", out_dir.display())))
}

/// Writes `value` as JSON (pretty, or compact for the bulky time series) to
/// `path`: a temporary file, synced, renamed.
fn write_json_atomically(
    path: &Path,
    value: &impl serde::Serialize,
    pretty: bool,
) -> Result<(), Error> {
    use std::io::Write;
    let io = |source| Error::Output {
        context: format!("writing {}", path.display()),
        source,
    };
    let mut f =
        crate::mux::atomic::AtomicFile::create(path).map_err(|e| io(std::io::Error::other(e)))?;
    let written = if pretty {
        serde_json::to_writer_pretty(&mut f, value)
    } else {
        serde_json::to_writer(&mut f, value)
    };
    written.map_err(|e| io(std::io::Error::other(e)))?;
    f.write_all(b"\n").map_err(io)?;
    f.finish().map_err(|e| io(std::io::Error::other(e)))?;
    Ok(())
}
