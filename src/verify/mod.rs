//! `rtprec verify`: compare a recording's manifest with an expected one, for CI.
//!
//! Sans-IO apart from reading manifests and the recorded files themselves:
//! [`compare`] gives a [`Report`] that renders as a readable diff
//! ([`Report::render_text`]) or JUnit XML ([`junit::to_xml`]). The binary
//! prints and chooses the exit code.

pub mod junit;

use crate::assets::{Asset, Manifest, Status};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why verification could not even start: an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A manifest file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A manifest file is not a valid manifest.
    #[error("{path}: not an rtprec manifest: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde said, with the JSON path of the bad field.
        message: String,
    },
    /// Writing the JUnit XML failed.
    #[error("writing JUnit XML: {0}")]
    Xml(String),
}

/// How closely the recording must match the expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Same assets, field for field, same sha256: for the same rtprec version.
    Strict,
    /// Same tracks and statuses, counts and durations within tolerances, same loss stats.
    Tolerant,
}

impl Mode {
    /// The mode's name as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Strict => "strict",
            Mode::Tolerant => "tolerant",
        }
    }
}

/// The generator string this build writes into manifests.
pub fn this_generator() -> String {
    format!("rtprec {}", env!("CARGO_PKG_VERSION"))
}

/// The default mode for an expectation: strict when this very version wrote it, tolerant otherwise.
///
/// Another version may legitimately write different bytes (a muxer fix, a new
/// stats field), so byte equality is only demanded of the same version.
pub fn default_mode(expected: &Manifest) -> Mode {
    if expected.generator == this_generator() {
        Mode::Strict
    } else {
        Mode::Tolerant
    }
}

/// Allowed differences in tolerant mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tolerances {
    /// Largest allowed difference of `duration_ms` and `start_offset_ms`, ms.
    pub duration_ms: u64,
    /// Largest allowed difference of each frame count (written, inserted, dropped).
    pub frames: u64,
}

impl Default for Tolerances {
    fn default() -> Tolerances {
        // Two 20 ms audio frames, or about one video frame at 25 fps.
        Tolerances {
            duration_ms: 40,
            frames: 2,
        }
    }
}

/// Checks that a recorded file decodes; `Err` says why not.
pub type Probe<'a> = &'a dyn Fn(&Path) -> Result<(), String>;

/// What [`compare`] needs besides the two manifests.
pub struct Options<'a> {
    /// Strict or tolerant.
    pub mode: Mode,
    /// Tolerant mode's limits.
    pub tolerances: Tolerances,
    /// The output directory the actual manifest's paths are relative to.
    pub dir: &'a Path,
    /// Decodes each completed file (e.g. with ffprobe); `None` skips that check.
    pub probe: Option<Probe<'a>>,
}

/// A track's identity: room, session, peer, track (the asset id is derived from these).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrackKey {
    /// Room.
    pub room_id: String,
    /// Session.
    pub session_id: String,
    /// Peer.
    pub peer_id: String,
    /// Track.
    pub track_id: String,
}

impl TrackKey {
    /// The key of an asset.
    pub fn of(a: &Asset) -> TrackKey {
        TrackKey {
            room_id: a.room_id.clone(),
            session_id: a.session_id.clone(),
            peer_id: a.peer_id.clone(),
            track_id: a.track_id.clone(),
        }
    }

    /// `room/session/peer`, the JUnit classname.
    pub fn class(&self) -> String {
        format!("{}/{}/{}", self.room_id, self.session_id, self.peer_id)
    }
}

impl std::fmt::Display for TrackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.class(), self.track_id)
    }
}

/// One finding about a track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A difference within tolerance (or allowed by the mode): the track still passes.
    Within(String),
    /// A difference that fails the track.
    Fail(String),
    /// The recording has a track the expectation lacks (fails).
    Added(String),
    /// The expectation has a track the recording lacks (fails).
    Missing(String),
}

impl Finding {
    /// Whether this finding fails its track.
    pub fn fails(&self) -> bool {
        !matches!(self, Finding::Within(_))
    }

    fn mark(&self) -> &'static str {
        match self {
            Finding::Within(_) => "~",
            Finding::Fail(_) => "✗",
            Finding::Added(_) => "+",
            Finding::Missing(_) => "-",
        }
    }

    fn text(&self) -> &str {
        match self {
            Finding::Within(t) | Finding::Fail(t) | Finding::Added(t) | Finding::Missing(t) => t,
        }
    }
}

/// The verdict on one track, expected or actual.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackResult {
    /// Which track.
    pub key: TrackKey,
    /// What differs, in field order; empty when identical.
    pub findings: Vec<Finding>,
}

impl TrackResult {
    /// Whether the track passes (no failing finding).
    pub fn passed(&self) -> bool {
        !self.findings.iter().any(Finding::fails)
    }

    /// The diff lines of this track, each prefixed by its mark and key.
    pub fn diff_lines(&self) -> Vec<String> {
        if self.findings.is_empty() {
            return vec![format!("✓ {}", self.key)];
        }
        self.findings
            .iter()
            .map(|f| format!("{} {}: {}", f.mark(), self.key, f.text()))
            .collect()
    }
}

/// The result of a verification.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The mode used.
    pub mode: Mode,
    /// One result per track of either manifest, sorted by key.
    pub tracks: Vec<TrackResult>,
    /// Remarks on the run as a whole (e.g. that files were not probed).
    pub notes: Vec<String>,
}

impl Report {
    /// Whether every track passed.
    pub fn passed(&self) -> bool {
        self.tracks.iter().all(TrackResult::passed)
    }

    /// Tracks that failed.
    pub fn failures(&self) -> usize {
        self.tracks.iter().filter(|t| !t.passed()).count()
    }

    /// The readable diff: one block per track, then the notes and a summary line.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        for t in &self.tracks {
            for line in t.diff_lines() {
                s.push_str(&line);
                s.push('\n');
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let failed = self.failures();
        let _ = writeln!(
            s,
            "{} ({} mode): {} tracks, {} passed, {} failed",
            if failed == 0 { "PASS" } else { "FAIL" },
            self.mode.as_str(),
            self.tracks.len(),
            self.tracks.len() - failed,
            failed
        );
        s
    }
}

/// Reads and parses a manifest file.
pub fn read_manifest(path: &Path) -> Result<Manifest, VerifyError> {
    let text = std::fs::read_to_string(path).map_err(|source| VerifyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_manifest(&text).map_err(|message| VerifyError::Parse {
        path: path.to_path_buf(),
        message,
    })
}

fn parse_manifest(text: &str) -> Result<Manifest, String> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| e.to_string())
}

/// The manifest as `--update` writes it: pretty JSON with a trailing newline.
pub fn manifest_text(m: &Manifest) -> String {
    // Serialising our own plain structs cannot fail; keep the fallback anyway
    // rather than panic in a CI tool.
    let mut s =
        serde_json::to_string_pretty(m).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// Compares the recording's manifest `actual` (files under `opts.dir`) with `expected`.
pub fn compare(expected: &Manifest, actual: &Manifest, opts: &Options<'_>) -> Report {
    let index = |m: &Manifest| -> BTreeMap<TrackKey, Asset> {
        m.assets
            .iter()
            .map(|a| (TrackKey::of(a), a.clone()))
            .collect()
    };
    let exp = index(expected);
    let act = index(actual);
    let mut keys: Vec<&TrackKey> = exp.keys().chain(act.keys()).collect();
    keys.sort();
    keys.dedup();
    let tracks = keys
        .into_iter()
        .map(|key| {
            let findings = match (exp.get(key), act.get(key)) {
                (Some(e), None) => vec![Finding::Missing(format!(
                    "missing track (expected {})",
                    status_text(e)
                ))],
                (None, Some(a)) => vec![Finding::Added(format!("new track ({})", status_text(a)))],
                (Some(e), Some(a)) => {
                    let mut f = match opts.mode {
                        Mode::Strict => strict_findings(e, a),
                        Mode::Tolerant => tolerant_findings(e, a, opts.tolerances),
                    };
                    f.extend(file_findings(a, opts));
                    f
                }
                // Keys come from the two maps: one of them holds it.
                (None, None) => Vec::new(),
            };
            TrackResult {
                key: key.clone(),
                findings,
            }
        })
        .collect();
    let mut notes = Vec::new();
    if opts.probe.is_none() {
        notes.push(
            "files were not decoded (ffprobe not found); sizes and sha256 were checked".into(),
        );
    }
    Report {
        mode: opts.mode,
        tracks,
        notes,
    }
}

fn status_text(a: &Asset) -> String {
    let s = match a.status {
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    };
    match &a.error {
        Some(e) => format!("{s} ({})", e.code),
        None => s.to_string(),
    }
}

/// A JSON value as printed in a diff line: strings bare, absent as `-`.
fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// Every leaf that differs between two JSON values, as `path a -> b` lines.
fn json_diff(path: &str, e: Option<&Value>, a: Option<&Value>, out: &mut Vec<String>) {
    if let (Some(Value::Object(eo)), Some(Value::Object(ao))) = (e, a) {
        let mut keys: Vec<&String> = eo.keys().chain(ao.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            json_diff(&p, eo.get(k), ao.get(k), out);
        }
    } else if e != a {
        out.push(format!("{path} {} -> {}", show(e), show(a)));
    }
}

/// Strict: the assets must be equal in every field (status first, as the most telling).
fn strict_findings(e: &Asset, a: &Asset) -> Vec<Finding> {
    let mut out = Vec::new();
    if e.status != a.status || e.error != a.error {
        out.push(Finding::Fail(format!(
            "status {} -> {}",
            status_text(e),
            status_text(a)
        )));
    }
    let (ev, av) = (serde_json::to_value(e).ok(), serde_json::to_value(a).ok());
    let mut lines = Vec::new();
    json_diff("", ev.as_ref(), av.as_ref(), &mut lines);
    out.extend(
        lines
            .into_iter()
            // Already reported as one status line.
            .filter(|l| !l.starts_with("status ") && !l.starts_with("error"))
            .map(Finding::Fail),
    );
    out
}

fn tolerant_findings(e: &Asset, a: &Asset, tol: Tolerances) -> Vec<Finding> {
    let mut out = Vec::new();
    if e.status != a.status
        || e.error.as_ref().map(|x| &x.code) != a.error.as_ref().map(|x| &x.code)
    {
        out.push(Finding::Fail(format!(
            "status {} -> {}",
            status_text(e),
            status_text(a)
        )));
    }
    let mut exact = |name: &str, ev: String, av: String| {
        if ev != av {
            out.push(Finding::Fail(format!("{name} {ev} -> {av}")));
        }
    };
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    exact("kind", format!("{:?}", e.kind), format!("{:?}", a.kind));
    exact("codec", opt(&e.codec), opt(&a.codec));
    exact("container", opt(&e.container), opt(&a.container));
    exact("path", opt(&e.path), opt(&a.path));
    exact(
        "resolution",
        e.resolution
            .map_or("-".into(), |r| format!("{}x{}", r.width, r.height)),
        a.resolution
            .map_or("-".into(), |r| format!("{}x{}", r.width, r.height)),
    );
    let (es, as_) = (&e.stats, &a.stats);
    // Loss and recovery describe the capture, not the muxer: any version must count them alike.
    for (name, ev, av) in [
        ("stats.packets", es.packets, as_.packets),
        ("stats.lost", es.lost, as_.lost),
        ("stats.duplicates", es.duplicates, as_.duplicates),
        ("stats.reordered", es.reordered, as_.reordered),
        ("stats.late", es.late, as_.late),
        ("stats.gaps", es.gaps, as_.gaps),
        ("stats.recovered", es.recovered, as_.recovered),
        ("stats.recovered_rtx", es.recovered_rtx, as_.recovered_rtx),
        ("stats.recovered_red", es.recovered_red, as_.recovered_red),
        ("stats.recovered_fec", es.recovered_fec, as_.recovered_fec),
    ] {
        exact(name, ev.to_string(), av.to_string());
    }
    let mut within =
        |name: &str, ev: Option<i128>, av: Option<i128>, limit: u64, unit: &str| match (ev, av) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) if x.abs_diff(y) <= u128::from(limit) => out.push(Finding::Within(
                format!("{name} {x} -> {y} (within {limit}{unit})"),
            )),
            (Some(x), Some(y)) => out.push(Finding::Fail(format!(
                "{name} {x} -> {y} (off by {}, tolerance {limit}{unit})",
                x.abs_diff(y)
            ))),
            (None, None) => {}
            (x, y) => out.push(Finding::Fail(format!(
                "{name} {} -> {}",
                x.map_or("-".into(), |v| v.to_string()),
                y.map_or("-".into(), |v| v.to_string())
            ))),
        };
    for (name, ev, av) in [
        (
            "duration_ms",
            e.duration_ms.map(i128::from),
            a.duration_ms.map(i128::from),
        ),
        (
            "start_offset_ms",
            e.start_offset_ms.map(i128::from),
            a.start_offset_ms.map(i128::from),
        ),
    ] {
        within(name, ev, av, tol.duration_ms, " ms");
    }
    for (name, ev, av) in [
        (
            "stats.frames_written",
            es.frames_written,
            as_.frames_written,
        ),
        (
            "stats.frames_inserted",
            es.frames_inserted,
            as_.frames_inserted,
        ),
        (
            "stats.frames_dropped_incomplete",
            es.frames_dropped_incomplete,
            as_.frames_dropped_incomplete,
        ),
        (
            "stats.frames_dropped_until_keyframe",
            es.frames_dropped_until_keyframe,
            as_.frames_dropped_until_keyframe,
        ),
    ] {
        within(
            name,
            Some(i128::from(ev)),
            Some(i128::from(av)),
            tol.frames,
            " frames",
        );
    }
    if e.sha256.is_some() && e.sha256 != a.sha256 {
        out.push(Finding::Within(
            "sha256 differs (allowed in tolerant mode)".into(),
        ));
    }
    out
}

/// The recorded file itself, and its `--audio-export` files: each exists with
/// the manifest's size and sha256, and decodes.
fn file_findings(a: &Asset, opts: &Options<'_>) -> Vec<Finding> {
    let Some(rel) = &a.path else {
        return Vec::new();
    };
    let mut out = one_file_findings(rel, a.size, a.sha256.as_deref(), opts);
    for e in &a.exports {
        out.extend(one_file_findings(
            &e.path,
            Some(e.size),
            Some(&e.sha256),
            opts,
        ));
    }
    out
}

/// One listed file: exists, with `size` and `sha256` when given, and decodes.
fn one_file_findings(
    rel: &str,
    size: Option<u64>,
    sha256: Option<&str>,
    opts: &Options<'_>,
) -> Vec<Finding> {
    let file = opts.dir.join(rel);
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => return vec![Finding::Fail(format!("file {rel}: {e}"))],
    };
    let mut out = Vec::new();
    if size.is_some_and(|s| s != bytes.len() as u64) {
        out.push(Finding::Fail(format!(
            "file {rel}: {} bytes on disk, the manifest says {}",
            bytes.len(),
            show(size.map(Value::from).as_ref())
        )));
    }
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if sha256.is_some_and(|s| *s != digest) {
        out.push(Finding::Fail(format!(
            "file {rel}: sha256 on disk is not the manifest's"
        )));
    }
    if let Some(probe) = opts.probe
        && let Err(why) = probe(&file)
    {
        out.push(Finding::Fail(format!("file {rel} does not decode: {why}")));
    }
    out
}

/// Whether `ffprobe` is installed and runs.
pub fn ffprobe_available() -> bool {
    std::process::Command::new("ffprobe")
        .arg("-version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Reads every packet of `file` with `ffprobe`; `Err` holds its first error line.
///
/// Packets are demuxed, not decoded: that finds truncated or corrupt
/// containers at a fraction of a full decode's cost. ffprobe exits 0 on a file
/// that ends prematurely, so any error it prints counts as a failure too.
pub fn ffprobe(file: &Path) -> Result<(), String> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(file)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("running ffprobe: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    match err.lines().map(str::trim).find(|l| !l.is_empty()) {
        None if out.status.success() => Ok(()),
        None => Err(format!("ffprobe failed ({})", out.status)),
        Some(line) => Err(line.to_string()),
    }
}

#[cfg(test)]
mod tests;
