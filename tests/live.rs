//! Live input: `rtprec record -` fed through a pipe at the test's pace.
//!
//! A session ends on the idle rule while the pipe stays open (files, manifest,
//! then events); SIGINT/SIGTERM finish the run; a second SIGINT exits at once;
//! SIGKILL leaves temporary files that the next run removes; an old manifest
//! is gone as soon as a run starts; TCP data held behind a hole is recorded at
//! the end of the input.

use crate::util::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

const STARTED: &str = "track.recording.started.success";
const SUCCESS: &str = "track.recording.success";

/// Records of testdata/media-opus-vp8.pcap (355 in 4 s) to feed before
/// signalling: both tracks have started (an unidentified stream is buffered
/// for up to 96 packets or 3 s while its codec is guessed), the session runs on.
const MID_SESSION: usize = 300;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A classic little-endian pcap cut into its global header and records, so
/// that a test can write them into a pipe at its own pace.
struct Pcap {
    header: Vec<u8>,
    records: Vec<Vec<u8>>,
}

impl Pcap {
    fn read(path: &Path) -> Pcap {
        let b = std::fs::read(path).expect("testdata capture");
        assert_eq!(b[..4], [0xd4, 0xc3, 0xb2, 0xa1], "a LE microsecond pcap");
        let u32le = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
        let mut records = Vec::new();
        let mut off = 24;
        while off < b.len() {
            let end = off + 16 + u32le(off + 8) as usize;
            records.push(b[off..end].to_vec());
            off = end;
        }
        Pcap {
            header: b[..24].to_vec(),
            records,
        }
    }

    /// The records, `secs` later in capture time.
    fn shifted(&self, secs: u32) -> Vec<Vec<u8>> {
        self.records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                let t = u32::from_le_bytes(r[..4].try_into().expect("4 bytes")) + secs;
                r[..4].copy_from_slice(&t.to_le_bytes());
                r
            })
            .collect()
    }
}

/// `rtprec record - -o DIR ARGS...` with its stdin a pipe held by the test,
/// its events read line by line on a thread (so that no wait can hang).
/// Dropping it kills a process still running.
struct Live {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Every event so far, in order.
    events: Vec<Value>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Live {
    fn start(dir: &Path, args: &[&str]) -> Live {
        Live::spawn(Path::new("-"), dir, args)
    }

    /// `rtprec record INPUT -o DIR ARGS...`; stdin is a pipe held by the test.
    fn spawn(input: &Path, dir: &Path, args: &[&str]) -> Live {
        let mut child = rtprec()
            .arg("record")
            .arg(input)
            .arg("-o")
            .arg(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the rtprec binary runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Live {
            stdin: child.stdin.take(),
            child,
            lines,
            events: Vec::new(),
            stderr: Some(stderr),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes into the pipe, which stays open.
    fn write(&mut self, bytes: &[u8]) {
        self.stdin
            .as_mut()
            .expect("stdin is open")
            .write_all(bytes)
            .expect("rtprec reads its stdin");
    }

    /// Writes `records`, `pace` apart.
    fn feed(&mut self, records: &[Vec<u8>], pace: Duration) {
        for r in records {
            self.write(r);
            if !pace.is_zero() {
                std::thread::sleep(pace);
            }
        }
    }

    /// Collects events until `done(events so far)` holds; false after `timeout`
    /// or when stdout closed first.
    fn wait_for(&mut self, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !done(&self.events) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.events.push(
                    serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("stdout line is not an event ({e}): {line}")),
                ),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    return done(&self.events);
                }
            }
        }
        true
    }

    /// Fails unless `n` tracks have started within 10 s.
    fn expect_started(&mut self, n: usize) {
        assert!(
            self.wait_for(secs(10), |e| count(e, STARTED) >= n),
            "{n} started events expected: {:?}",
            self.events
        );
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends signal `name` (`INT`, `TERM`) to the process, by its pid.
    fn signal(&self, name: &str) {
        let st = std::process::Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(st.success(), "kill -s {name} {}", self.pid());
    }

    /// Waits for the exit (killing the process after `timeout`), then reads
    /// the rest of stdout; the status and stderr.
    fn wait(&mut self, timeout: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "rtprec did not exit within {timeout:?}; events: {:?}",
                    self.events
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.wait_for(secs(5), |_| false);
        let stderr = self
            .stderr
            .take()
            .map(|t| t.join().expect("stderr thread"))
            .unwrap_or_default();
        (status, stderr)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stdin = None;
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Events of type `t`.
fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

fn count(events: &[Value], t: &str) -> usize {
    of_type(events, t).len()
}

fn sha256_hex(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under `dir`, relative, `/`-separated, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                let parts: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// True for a temporary name `.NAME.tmp-<pid>`.
fn is_temp(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with('.') && name.contains(".tmp-")
}

fn manifest(dir: &Path) -> Option<Value> {
    let bytes = std::fs::read(dir.join("manifest.json")).ok()?;
    Some(serde_json::from_slice(&bytes).expect("manifest.json is JSON"))
}

/// (path, size, sha256) of what a success event or completed asset describes.
type FileRecord = (String, u64, String);

fn record_of(v: &Value) -> FileRecord {
    (
        v["path"].as_str().expect("a path").to_string(),
        v["size"].as_u64().expect("a size"),
        v["sha256"].as_str().expect("a sha256").to_string(),
    )
}

/// The files the success events name, sorted.
fn event_files(events: &[Value]) -> Vec<FileRecord> {
    let mut v: Vec<FileRecord> = of_type(events, SUCCESS)
        .iter()
        .map(|e| record_of(&e["data"]))
        .collect();
    v.sort();
    v
}

/// The files the manifest lists as completed, sorted.
fn manifest_files(m: &Value) -> Vec<FileRecord> {
    let mut v: Vec<FileRecord> = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .filter(|a| a["status"] == "completed")
        .map(record_of)
        .collect();
    v.sort();
    v
}

/// Fails unless every file is on disk under `dir` with that size and SHA-256.
fn assert_on_disk(dir: &Path, files: &[FileRecord]) {
    for (path, size, sha) in files {
        let p = dir.join(path);
        let len = std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{path} is not on disk: {e}"))
            .len();
        assert_eq!(len, *size, "size of {path}");
        assert_eq!(&sha256_hex(&p), sha, "sha256 of {path}");
    }
}

/// The manifest, or the time series written beside it (`timeline.json`, for
/// `rtprec report`): the run's listing, not a recorded file.
fn is_listing(f: &str) -> bool {
    f == "manifest.json" || f == "timeline.json"
}

/// Fails unless every file under `dir` that is not temporary is the manifest
/// or listed in it; without a manifest, no media file may have its final name.
fn assert_only_listed_files(dir: &Path) {
    let listed: Vec<String> = manifest(dir)
        .map(|m| manifest_files(&m).into_iter().map(|f| f.0).collect())
        .unwrap_or_default();
    let unlisted: Vec<String> = files_under(dir)
        .into_iter()
        .filter(|f| !is_temp(f) && !is_listing(f) && !listed.contains(f))
        .collect();
    let which = if dir.join("manifest.json").exists() {
        "that manifest.json does not list"
    } else {
        "and no manifest.json"
    };
    assert!(
        unlisted.is_empty(),
        "files under their final names {which}: {unlisted:?}"
    );
}

/// Fails unless `file` was written to its end: an Ogg Opus file (OpusHead,
/// OpusTags, granule positions agree with the packets) ends with an
/// end-of-stream page; a WebM file's Segment size (patched last) spans the rest
/// of the file.
fn assert_complete(file: &Path) {
    let name = file.display();
    match file.extension().and_then(|e| e.to_str()) {
        Some("ogg") => {
            let s = rtprec::testutil::encoded::EncodedStream::read_ogg_opus_file(file)
                .unwrap_or_else(|e| panic!("{name} is not Ogg Opus: {e}"));
            assert!(!s.frames.is_empty(), "{name} holds no audio");
            let mut r = ogg::PacketReader::new(std::fs::File::open(file).expect("open"));
            let mut last = None;
            while let Some(p) = r.read_packet().expect("Ogg pages") {
                last = Some(p.last_in_stream());
            }
            assert_eq!(last, Some(true), "{name} has no end-of-stream page");
        }
        Some("webm") => {
            let b = std::fs::read(file).expect("read");
            // An EBML variable-size integer at `at`: (value, length).
            let vint = |at: usize| {
                let len = b[at].leading_zeros() as usize + 1;
                let mut v = u64::from(b[at]) & ((1u64 << (8 - len)) - 1);
                for i in 1..len {
                    v = (v << 8) | u64::from(b[at + i]);
                }
                (v, len)
            };
            assert_eq!(b[..4], [0x1a, 0x45, 0xdf, 0xa3], "{name}: EBML header");
            let (head, n) = vint(4);
            let seg = 4 + n + head as usize;
            assert_eq!(b[seg..seg + 4], [0x18, 0x53, 0x80, 0x67], "{name}: Segment");
            let (size, n) = vint(seg + 4);
            assert_eq!(
                seg as u64 + 4 + n as u64 + size,
                b.len() as u64,
                "{name}: Segment size"
            );
        }
        other => panic!("{name}: unexpected container {other:?}"),
    }
}

/// [`assert_complete`], and with ffmpeg (required in CI) a clean decode.
fn assert_playable(file: &Path) {
    assert_complete(file);
    if have_tool("ffmpeg") {
        assert_decodes_cleanly(file);
    }
}

/// A run into `dir` with `--idle-timeout 1`, fed the first `n` records of
/// `cap` 2 ms apart through a pipe that stays open.
fn idle_1s_run(dir: &Path, cap: &Pcap, n: usize) -> Live {
    let mut run = Live::start(dir, &["--idle-timeout", "1"]);
    run.write(&cap.header);
    run.feed(&cap.records[..n], Duration::from_millis(2));
    run
}

#[test]
fn live_pipe_sessions_end_on_the_idle_rule_while_the_pipe_stays_open() {
    let cap = Pcap::read(&testdata("media-opus-vp8.pcap"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    // Session 1: 4 s of capture time in about a second.
    let mut run = idle_1s_run(&dir, &cap, cap.records.len());
    let fed = Instant::now();
    run.expect_started(2);
    // Nothing more arrives, the pipe stays open: the live clock ends the session.
    assert!(
        run.wait_for(secs(10), |e| count(e, SUCCESS) == 2),
        "session 1 ended within 10 s of its last packet: {:?}",
        run.events
    );
    let latency = fed.elapsed();
    eprintln!("session 1 success events {latency:?} after its last packet");
    assert!(run.running(), "rtprec still runs: its input is open");
    let first = event_files(&run.events);
    assert_on_disk(&dir, &first);
    let m = manifest(&dir).expect("manifest.json written before the success events");
    assert_eq!(manifest_files(&m), first);
    for f in &first {
        assert_playable(&dir.join(&f.0));
    }
    let s1: Vec<&Value> = of_type(&run.events, SUCCESS)
        .iter()
        .map(|e| &e["data"]["session_id"])
        .collect();
    assert!(s1.iter().all(|s| *s == s1[0]), "{s1:?}");

    // Session 2, 100 s later in capture time; then the end of the input.
    run.feed(&cap.shifted(100), Duration::ZERO);
    run.stdin = None;
    let (status, stderr) = run.wait(secs(20));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        (count(&run.events, STARTED), count(&run.events, SUCCESS)),
        (4, 4),
        "{:?}",
        run.events
    );
    let all = event_files(&run.events);
    let m = manifest(&dir).expect("final manifest.json");
    assert_eq!(manifest_files(&m), all);
    assert_on_disk(&dir, &all);
    assert!(first.iter().all(|f| all.contains(f)));
    let mut sessions: Vec<&str> = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a["session_id"].as_str().expect("session_id"))
        .collect();
    sessions.dedup();
    assert_eq!(sessions, ["s20261123T100000Z", "s20261123T100140Z"]);
    assert!(files_under(&dir).iter().all(|f| !is_temp(f)));
}

/// A run into `dir` fed most of testdata/media-opus-vp8.pcap through a pipe
/// that stays open: both tracks have started, the session runs on (the idle
/// timeout is 30 s).
fn mid_session(dir: &Path, cap: &Pcap) -> Live {
    let mut run = Live::start(dir, &[]);
    run.write(&cap.header);
    run.feed(&cap.records[..MID_SESSION], Duration::from_millis(1));
    run.expect_started(2);
    assert!(run.running());
    assert_eq!(count(&run.events, SUCCESS), 0, "{:?}", run.events);
    run
}

/// Most of a session through an open pipe, then `signal`: the run finishes it.
fn signal_mid_session_finishes_the_run(signal: &str, code: i32) {
    let cap = Pcap::read(&testdata("media-opus-vp8.pcap"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let mut run = mid_session(&dir, &cap);
    assert!(manifest(&dir).is_none(), "nothing has finished yet");
    let sent = Instant::now();
    run.signal(signal);
    let (status, stderr) = run.wait(secs(15));
    eprintln!(
        "SIG{signal}: exit {:?} after {:?}",
        status.code(),
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(code), "{stderr}");
    assert_eq!(count(&run.events, SUCCESS), 2, "{:?}", run.events);
    assert_eq!(run.events.len(), 4, "{:?}", run.events);
    let files = event_files(&run.events);
    let m = manifest(&dir).expect("manifest.json");
    assert_eq!(manifest_files(&m), files);
    assert!(
        m["assets"]
            .as_array()
            .expect("assets")
            .iter()
            .all(|a| a["status"] == "completed" && a["stats"]["packets"].as_u64() > Some(0)),
        "{m:#}"
    );
    assert_on_disk(&dir, &files);
    for f in &files {
        assert_playable(&dir.join(&f.0));
    }
    let all = files_under(&dir);
    assert!(all.iter().all(|f| !is_temp(f)), "temporary files: {all:?}");
    assert_only_listed_files(&dir);
}

/// `record` reads a regular file on its routing thread, with no reading
/// thread to wait on a channel: it still notices SIGINT while reading (every
/// 2,048 frames), finishes what it has, and exits 130.
#[test]
fn sigint_while_reading_a_regular_file_finishes_every_track_and_exits_130() {
    let cap = Pcap::read(&testdata("media-opus-vp8.pcap"));
    let tmp = tempfile::tempdir().expect("tempdir");
    // The same 4 s of media 500 times over, back to back: far longer to read
    // than the test waits before its SIGINT.
    let copies = 500u32;
    let span = 5;
    let path = tmp.path().join("long.pcap");
    let mut bytes = cap.header.clone();
    for k in 0..copies {
        for r in cap.shifted(k * span) {
            bytes.extend_from_slice(&r);
        }
    }
    std::fs::write(&path, &bytes).expect("writes the capture");
    let dir = tmp.path().join("out");
    let mut run = Live::spawn(&path, &dir, &[]);
    run.expect_started(1);
    run.signal("INT");
    let (status, stderr) = run.wait(secs(60));
    assert_eq!(status.code(), Some(130), "{stderr}");
    let m = manifest(&dir).expect("manifest.json");
    let assets = m["assets"].as_array().expect("assets");
    assert!(!assets.is_empty(), "{m:#}");
    let full_ms = u64::from(copies * span) * 1000;
    for a in assets {
        assert_eq!(a["status"], "completed", "{a:#}");
        let ms = a["duration_ms"].as_u64().expect("duration");
        assert!(ms < full_ms / 2, "stopped early: {ms} of {full_ms} ms");
    }
    assert_eq!(
        count(&run.events, SUCCESS),
        assets.len(),
        "{:?}",
        run.events
    );
    let all = files_under(&dir);
    assert!(all.iter().all(|f| !is_temp(f)), "temporary files: {all:?}");
    assert_only_listed_files(&dir);
}

#[test]
fn live_sigint_mid_session_finishes_every_track_and_exits_130() {
    signal_mid_session_finishes_the_run("INT", 130);
}

#[test]
fn live_sigterm_mid_session_finishes_every_track_and_exits_143() {
    signal_mid_session_finishes_the_run("TERM", 143);
}

#[test]
fn live_sigkill_leaves_temporary_files_that_the_next_run_removes() {
    use std::os::unix::process::ExitStatusExt;
    let cap = Pcap::read(&testdata("media-opus-vp8.pcap"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let mut run = mid_session(&dir, &cap);
    let suffix = format!(".tmp-{}", run.pid());
    let deadline = Instant::now() + secs(10);
    let temps = loop {
        let t: Vec<String> = files_under(&dir)
            .into_iter()
            .filter(|f| is_temp(f) && f.ends_with(&suffix))
            .collect();
        if t.len() == 2 || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(temps.len(), 2, "one temporary file per started track");
    run.child.kill().expect("SIGKILL");
    let status = run.child.wait().expect("reaped");
    assert_eq!(status.signal(), Some(9));
    // Nothing can clean up after SIGKILL; yet no file has its final name.
    for t in &temps {
        assert!(dir.join(t).is_file(), "{t} stays after SIGKILL");
    }
    assert_only_listed_files(&dir);

    let out = rtprec()
        .args(["record", "--events", "none", "-o"])
        .arg(&dir)
        .arg(testdata("demo-2peers-opus-vp8.pcap"))
        .output()
        .expect("the rtprec binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for t in &temps {
        let p = dir.join(t);
        assert!(!p.exists(), "{t} removed");
        let said = format!(
            "rtprec: removed {} (a temporary file of an earlier run that was killed)",
            p.display()
        );
        assert!(stderr.contains(&said), "stderr lacks {said:?}:\n{stderr}");
    }
    assert!(files_under(&dir).iter().all(|f| !is_temp(f)));
    // --quiet removes them without a word.
    std::fs::write(dir.join(&temps[0]), b"x").expect("write");
    let out = rtprec()
        .args(["--quiet", "record", "--events", "none", "-o"])
        .arg(&dir)
        .arg(testdata("demo-2peers-opus-vp8.pcap"))
        .output()
        .expect("the rtprec binary runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(!dir.join(&temps[0]).exists());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A second run into the same directory: the old manifest stays true while the
/// run records (it keeps listing the old files until their session is recorded
/// again), and at the end the session recorded again replaces its old assets
/// and files: nothing on disk is left unlisted.
#[test]
fn live_a_second_run_replaces_a_session_without_a_stale_manifest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let (_, old) = record_manifest_json(&testdata("demo-2peers-opus-vp8.pcap"), &dir, &[]);
    assert_eq!(old["assets"].as_array().map(Vec::len), Some(4));

    let cap = Pcap::read(&testdata("media-opus-vp8.pcap"));
    let mut run = mid_session(&dir, &cap);
    // Mid-session: the old manifest still describes exactly what is on disk.
    let during =
        manifest(&dir).expect("the old manifest stays until its session is recorded again");
    assert_on_disk(&dir, &manifest_files(&during));
    run.feed(&cap.records[MID_SESSION..], Duration::ZERO);
    run.stdin = None;
    let (status, stderr) = run.wait(secs(20));
    assert_eq!(status.code(), Some(0), "{stderr}");
    let m = manifest(&dir).expect("the new manifest.json");
    let files = manifest_files(&m);
    assert_on_disk(&dir, &files);
    // Both captures start at 10:00:00: the same inferred session, recorded
    // again, so its earlier assets and files were replaced.
    let tracks: Vec<&str> = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a["track_id"].as_str().expect("track_id"))
        .collect();
    assert_eq!(tracks, ["audio-b2c7016a", "video-b7426d2c"]);
    assert_eq!(files, event_files(&run.events));
    assert_only_listed_files(&dir);
}

/// One peer's Opus over an RFC 4571 TCP connection: a SYN, then one RTP packet
/// per segment, 20 ms apart; segment `hole` never captured. Returns the capture.
fn tcp_capture_with_hole(packets: u16, hole: u16) -> Vec<u8> {
    use rtprec::testutil::packet::{LinkKind, push_rfc4571, tcp_flags, tcp_frame};
    use rtprec::testutil::rtp::RtpBuilder;
    use rtprec::testutil::writers::{PcapOptions, PcapWriter};
    let src: std::net::SocketAddr = "10.0.0.1:40000".parse().expect("addr");
    let dst: std::net::SocketAddr = "10.0.0.9:5000".parse().expect("addr");
    let t0 = 1_795_428_000_000_000_000i64; // 2026-11-23T10:00:00Z
    let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).expect("pcap header");
    let mut segment = |time_ns: i64, seq: u32, flags: u8, payload: &[u8]| {
        let mut frame = Vec::new();
        tcp_frame(
            &mut frame,
            LinkKind::Ethernet,
            src,
            dst,
            seq,
            1,
            flags,
            payload,
        )
        .expect("IPv4");
        w.write_packet(time_ns, &frame).expect("write");
    };
    let mut seq = 1000u32;
    segment(t0, seq, tcp_flags::SYN, &[]);
    seq += 1;
    for i in 0..packets {
        let pkt = RtpBuilder::new(111, 500 + i, u32::from(i) * 960, 0x4571_4571)
            .build(&[0xfc, 0xff, 0xfe]);
        let mut payload = Vec::new();
        push_rfc4571(&mut payload, &pkt);
        if i != hole {
            let t = t0 + 1_000_000 + i64::from(i) * 20_000_000;
            segment(t, seq, tcp_flags::PSH | tcp_flags::ACK, &payload);
        }
        seq += payload.len() as u32;
    }
    w.into_inner().expect("flush")
}

#[test]
fn live_tcp_data_held_behind_a_hole_at_the_end_is_recorded() {
    // 9 segments after the hole: fewer than the 32 held before a hole is
    // skipped, so only the end of the input delivers them.
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("tcp-hole.pcap");
    std::fs::write(&cap, tcp_capture_with_hole(100, 90)).expect("write");
    // The network layer gives 90 datagrams while reading, 9 more at the end.
    let mut set = rtprec::capture::CaptureSet::open(std::slice::from_ref(&cap)).expect("open");
    let mut net = rtprec::net::NetDecoder::new(rtprec::net::NetConfig::default());
    let (mut read, mut at_end) = (0, 0);
    while let Some(frame) = set.next_frame().expect("frame") {
        net.push(&frame, &mut |_| read += 1);
    }
    net.finish(&mut |_| at_end += 1);
    assert_eq!((read, at_end), (90, 9));

    let out = rtprec()
        .args(["streams", "--json"])
        .arg(&cap)
        .output()
        .expect("the rtprec binary runs");
    assert_eq!(out.status.code(), Some(0));
    let s = json(&out);
    let streams = s["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{s:#}");
    let st = &streams[0];
    assert_eq!(
        (st["ssrc"].as_str(), st["transport"].as_str()),
        (Some("0x45714571"), Some("tcp"))
    );
    assert_eq!(st["encapsulation"], serde_json::json!(["rfc4571"]));
    assert_eq!(st["packets"].as_u64(), Some(99));
    assert_eq!(s["net"]["tcp_gaps"].as_u64(), Some(1), "{:#}", s["net"]);

    let (_, m) = record_manifest_json(&cap, &tmp.path().join("out"), &[]);
    let assets = m["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 1, "{m:#}");
    let a = &assets[0];
    assert_eq!(a["status"], "completed", "{a:#}");
    assert_eq!(a["ssrc"], "0x45714571");
    assert_eq!(a["stats"]["packets"], st["packets"], "{:#}", a["stats"]);
    assert_eq!(a["stats"]["lost"].as_u64(), Some(1), "{:#}", a["stats"]);
}

/// A conference of `peers` (Opus + VP8 each), `seconds` long, as a pcap.
fn busy_capture(peers: usize, seconds: f64) -> Vec<u8> {
    use rtprec::testutil::writers::{PcapOptions, PcapWriter};
    use rtprec::testutil::{Scenario, ScenarioConfig};
    let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).expect("pcap header");
    for (t, frame) in Scenario::new(ScenarioConfig::conference(peers, seconds, 7)) {
        w.write_packet(t, &frame).expect("write");
    }
    w.into_inner().expect("flush")
}

/// Pipes `bytes` into the run as fast as it reads, on a thread (ends when
/// the run stops reading for good).
fn pour(run: &mut Live, bytes: Vec<u8>) -> std::thread::JoinHandle<()> {
    let mut stdin = run.stdin.take().expect("stdin is open");
    std::thread::spawn(move || {
        for chunk in bytes.chunks(16 * 1024) {
            if stdin.write_all(chunk).is_err() {
                return;
            }
        }
        // Keep the pipe open: the run ends by signal, not end of input.
        std::thread::sleep(secs(30));
    })
}

/// A run into `dir` fed a 12-peer conference through a pipe as fast as it
/// reads, after its first SIGINT (once 8 tracks have started).
fn busy_run_interrupted(dir: &Path) -> Live {
    let mut run = Live::start(dir, &[]);
    // Detached: it ends when the run stops reading for good.
    drop(pour(&mut run, busy_capture(12, 20.0)));
    run.expect_started(8);
    run.signal("INT");
    run
}

#[test]
fn live_second_sigint_exits_at_once_with_code_130() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let mut run = busy_run_interrupted(&dir);
    std::thread::sleep(Duration::from_millis(5));
    run.signal("INT");
    let (status, stderr) = run.wait(secs(15));
    assert_eq!(status.code(), Some(130), "{stderr}");
    // Whatever has its final name is complete...
    let finals: Vec<String> = files_under(&dir)
        .into_iter()
        .filter(|f| !is_temp(f) && !is_listing(f))
        .collect();
    for f in &finals {
        assert_complete(&dir.join(f));
    }
    // ...a manifest describes its files as they are...
    if let Some(m) = manifest(&dir) {
        assert_on_disk(&dir, &manifest_files(&m));
    }
    // ...and every success event names a file the manifest lists.
    let said = event_files(&run.events);
    if !said.is_empty() {
        let m = manifest(&dir).expect("a success event means a manifest");
        let listed = manifest_files(&m);
        assert!(said.iter().all(|f| listed.contains(f)), "{said:?}");
    }
    // The stricter rule (no final name the manifest does not list): see the test below.
}

#[test]
fn live_second_sigint_leaves_no_final_file_the_manifest_does_not_list() {
    // The second SIGINT lands as soon as the first track of the finishing run
    // has its final name, before the manifest is written (with 24 tracks that
    // window is about 30..170 ms after the first SIGINT).
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let mut run = busy_run_interrupted(&dir);
    let deadline = Instant::now() + secs(10);
    while Instant::now() < deadline && run.running() {
        let renamed = files_under(&dir)
            .iter()
            .any(|f| !is_temp(f) && !is_listing(f));
        if renamed {
            run.signal("INT");
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let (status, stderr) = run.wait(secs(15));
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert_only_listed_files(&dir);
}

#[test]
fn live_pipe_a_short_session_still_being_identified_ends_on_the_idle_rule() {
    let cap = Pcap::read(&testdata("media-opus-vp8.pcap"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    // 0.6 s of capture: fewer packets (31 + 27) and less time than a stream
    // is buffered for while its codec is guessed (96 packets, 3 s).
    let mut run = idle_1s_run(&dir, &cap, 60);
    // 3 s of identification and 1 s idle on the live clock, with a margin.
    let ended = |e: &[Value]| count(e, SUCCESS) + count(e, "track.recording.failure") == 2;
    assert!(
        run.wait_for(secs(10), ended),
        "the session ended while the pipe stays open: {:?}",
        run.events
    );
    assert!(run.running());
    let m = manifest(&dir).expect("manifest.json");
    assert_eq!(m["assets"].as_array().map(Vec::len), Some(2), "{m:#}");
    run.stdin = None;
    let (status, stderr) = run.wait(secs(15));
    assert!(matches!(status.code(), Some(0 | 4)), "{stderr}");
}
