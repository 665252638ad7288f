//! The one read loop: every input once, in capture order, through the network
//! layer to a [`Consumer`] of datagrams (`streams` analyses them, `record`
//! records them).
//!
//! Reading happens on its own thread ([`reader`]); this loop waits for frames
//! with a timeout, so it notices a stop request (SIGINT/SIGTERM) at once and,
//! on a live input (a pipe), lets capture time pass while no packet arrives:
//! the wall clock then stands in for the capture clock, so that idle rules
//! still end sessions. Files are never given wall-clock time, so recording a
//! file is deterministic. A consumer that keeps other threads busy (`record`)
//! has inputs that are all uncompressed regular files read on this thread
//! instead ([`reader::InlineReader`], [`Consumer::read_files_inline`]): their
//! reads never wait, and the stop flag is looked at every 2,048 frames.

pub mod reader;
mod stop;

pub use stop::StopFlag;

use crate::capture::{CapturedFrame, Secrets, TimeSource, source::Format};
use crate::error::{Diagnostic, Error};
use crate::net::{Datagram, NetConfig, NetDecoder, NetStats};
use crate::streams::{Analyzer, StreamsReport};
use crate::time::CaptureTime;
use reader::{BatchItem, FromReader};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// How often (in frames) the progress callback runs.
pub const PROGRESS_EVERY: u64 = 1 << 14;
/// How long the loop waits for frames before it checks for a stop and lets live time pass.
const TICK: Duration = Duration::from_millis(100);

/// One input as read.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct InputInfo {
    /// Display name (`<stdin>` for `-`).
    pub name: String,
    /// `pcap`, `pcapng`, `rtpdump` or `chrome-rtp-dump`.
    pub format: &'static str,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
}

/// A diagnostic with its file's name resolved, ready for output.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// Input name.
    pub file: String,
    /// 1-based frame (record) number.
    pub frame: u64,
    /// Byte offset of the record.
    pub offset: u64,
    /// SSRC of the RTP packet concerned, when the problem is a stream's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssrc: Option<u32>,
    /// Its sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u16>,
    /// Stable kind.
    pub kind: &'static str,
    /// Explanation.
    pub message: String,
}

/// Result of `rtprec streams`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StreamsOutput {
    /// Version of this JSON document's schema.
    pub version: u32,
    /// The inputs.
    pub inputs: Vec<InputInfo>,
    /// Frames read from all inputs.
    pub frames: u64,
    /// The analysis.
    #[serde(flatten)]
    pub report: StreamsReport,
    /// Network layer counters.
    pub net: NetStats,
    /// First occurrence of each kind of problem.
    pub warnings: Vec<Warning>,
}

/// What the read loop feeds: one stage that takes datagrams in capture order.
pub trait Consumer {
    /// Every input was opened; `names` are their display names, by file id.
    fn opened(&mut self, _names: &[String]) {}
    /// Right after [`Consumer::opened`]: where the inputs' times come from
    /// ([`TimeSource::BrowserDump`] when any input is a browser dump).
    fn time_source(&mut self, _source: TimeSource) {}
    /// Decryption secrets (a pcapng Decryption Secrets Block), in capture order:
    /// before the frames that follow them in their file.
    fn secrets(&mut self, _secrets: &Secrets) {}
    /// A captured frame is about to be decoded (every frame, whatever it holds).
    fn frame(&mut self, _time: CaptureTime) {}
    /// A UDP (or TCP-framed) datagram, in capture order.
    fn datagram(&mut self, d: &Datagram<'_>);
    /// A batch of frames has been fed: a good point to hand out queued work.
    fn batch_done(&mut self) {}
    /// No packet arrived on a live input: capture time is now at least `now`.
    fn idle(&mut self, _now: CaptureTime) {}
    /// Whether inputs that are all uncompressed regular files are read on the
    /// loop's own thread ([`reader::InlineReader`]) rather than on a reading
    /// thread of their own: better when the consumer keeps other threads busy
    /// (`record`'s track workers), worse when the reading thread is what runs
    /// beside the loop (`streams`).
    fn read_files_inline(&self) -> bool {
        false
    }
}

/// When capture time may follow the wall clock while no packet arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LiveClock {
    /// When any input is a pipe (not a regular file).
    #[default]
    Auto,
    /// Always (for inputs that are files being written, e.g. by `tcpdump -w`).
    On,
    /// Never: capture time comes from packets only.
    Off,
}

/// How the loop runs.
#[derive(Clone, Debug, Default)]
pub struct LoopOptions {
    /// Live time while idle.
    pub live_clock: LiveClock,
    /// Stop request.
    pub stop: StopFlag,
}

/// What the loop saw, apart from what the consumer made of it.
#[derive(Debug)]
pub struct LoopSummary {
    /// The inputs.
    pub inputs: Vec<InputInfo>,
    /// Input display names, indexed by file id.
    pub names: Vec<String>,
    /// Frames read.
    pub frames: u64,
    /// Network layer counters.
    pub net: NetStats,
    /// Reader and network diagnostics, in order.
    pub diagnostics: Vec<Diagnostic>,
    /// The signal that ended the run early, if one did.
    pub stopped_by: Option<i32>,
    /// [`TimeSource::BrowserDump`] when any input is a browser dump.
    pub time_source: TimeSource,
}

/// Reads every input once and feeds its datagrams to `consumer`.
///
/// `progress` gets the frame count now and then. Input errors (an unreadable
/// or corrupt capture) end the loop with the error; the consumer has then seen
/// everything before it.
pub fn run_loop(
    paths: &[PathBuf],
    opts: &LoopOptions,
    consumer: &mut dyn Consumer,
    progress: &mut dyn FnMut(u64),
) -> Result<LoopSummary, Error> {
    let inline = consumer.read_files_inline()
        && opts.live_clock != LiveClock::On
        && reader::inline_readable(paths);
    let mut source = if inline {
        Source::Inline(reader::InlineReader::new(paths.to_vec()))
    } else {
        Source::Thread(
            reader::spawn(paths.to_vec()).map_err(|source| Error::Output {
                context: "starting the reading thread".into(),
                source,
            })?,
        )
    };
    let mut inputs = Vec::new();
    let mut live = opts.live_clock == LiveClock::On;
    let mut feed = Feed {
        consumer,
        progress,
        net: NetDecoder::new(NetConfig::default()),
        frames: 0,
    };
    let mut diagnostics = Vec::new();
    // The newest capture time, and when (on the wall clock) it was seen.
    let mut last: Option<(CaptureTime, Instant)> = None;
    let mut stopped_by = None;
    loop {
        if let Some(sig) = opts.stop.raised() {
            stopped_by = Some(sig);
            break;
        }
        let msg = match source.recv_timeout(TICK, &mut |item| {
            feed.item(item);
        }) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                if live && let Some((t, at)) = last {
                    let waited = i64::try_from(at.elapsed().as_nanos()).unwrap_or(i64::MAX);
                    feed.consumer.idle(t.plus_nanos(waited));
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                // The reader reports every input error before it stops: this is a crash, not bad input.
                return Err(Error::Output {
                    context: "reading the inputs".into(),
                    source: std::io::Error::other("the reading thread stopped"),
                });
            }
        };
        match msg {
            FromReader::Opened(opened) => {
                let opened = opened?;
                live |=
                    opts.live_clock == LiveClock::Auto && opened.iter().any(|o| !o.regular_file);
                let names: Vec<String> = opened.iter().map(|o| o.name.clone()).collect();
                feed.consumer.opened(&names);
                feed.consumer.time_source(time_source_of(&opened));
                inputs = opened;
            }
            FromReader::Frames(batch) => {
                // The newest frame time of this batch (secrets alone move no clock).
                let newest = batch.items().filter_map(|item| feed.item(item)).max();
                // The wall clock once a batch, not once a frame: it only
                // times idle gaps of a live capture, which last whole ticks.
                if let Some(t) = newest {
                    let t = last.map_or(t, |(old, _)| old.max(t));
                    last = Some((t, Instant::now()));
                }
                source.recycle(batch);
                feed.consumer.batch_done();
            }
            // Read on this thread: regular files, which never take live time.
            FromReader::Fed => feed.consumer.batch_done(),
            FromReader::End(result, diags) => {
                diagnostics = diags;
                result?;
                break;
            }
        }
    }
    let Feed {
        consumer,
        progress,
        mut net,
        frames,
    } = feed;
    // TCP data held behind a hole that never filled is delivered at the end.
    net.finish(&mut |d| consumer.datagram(&d));
    consumer.batch_done();
    progress(frames);
    diagnostics.extend(net.take_diagnostics());
    let names = inputs.iter().map(|i| i.name.clone()).collect();
    let time_source = time_source_of(&inputs);
    let inputs = inputs
        .iter()
        .map(|i| InputInfo {
            name: i.name.clone(),
            format: match i.format {
                Format::Pcap => "pcap",
                Format::PcapNg => "pcapng",
                Format::RtpDump => "rtpdump",
                Format::ChromeDump => "chrome-rtp-dump",
            },
            gzip: i.gzip,
        })
        .collect();
    Ok(LoopSummary {
        inputs,
        names,
        frames,
        net: net.stats().clone(),
        diagnostics,
        stopped_by,
        time_source,
    })
}

/// Where the loop's frames come from.
enum Source {
    /// A reading thread.
    Thread(reader::ReaderHandle),
    /// This thread ([`Consumer::read_files_inline`]).
    Inline(reader::InlineReader),
}

impl Source {
    /// The next message, waiting at most `tick` for it (only a thread makes
    /// the loop wait: a regular file's read does not); frames read on this
    /// thread go to `each` first.
    fn recv_timeout(
        &mut self,
        tick: Duration,
        each: &mut dyn FnMut(BatchItem<'_>),
    ) -> Result<FromReader, RecvTimeoutError> {
        match self {
            Source::Thread(h) => h.rx.recv_timeout(tick),
            Source::Inline(r) => r.next_message(each).ok_or(RecvTimeoutError::Disconnected),
        }
    }

    /// Hands a processed batch back for reuse.
    fn recycle(&mut self, batch: reader::FrameBatch) {
        if let Source::Thread(h) = self {
            h.recycle(batch);
        }
    }
}

/// Feeds frames to the network layer and the consumer, counting them.
struct Feed<'a> {
    consumer: &'a mut dyn Consumer,
    progress: &'a mut dyn FnMut(u64),
    net: NetDecoder,
    frames: u64,
}

impl Feed<'_> {
    /// One frame or secrets; the frame's capture time.
    fn item(&mut self, item: BatchItem<'_>) -> Option<CaptureTime> {
        let (meta, data) = match item {
            BatchItem::Frame(meta, data) => (meta, data),
            BatchItem::Secrets(s) => {
                self.consumer.secrets(s);
                return None;
            }
        };
        self.frames += 1;
        self.consumer.frame(meta.time);
        let frame = CapturedFrame { meta: *meta, data };
        let consumer = &mut *self.consumer;
        self.net.push(&frame, &mut |d| consumer.datagram(&d));
        if self.frames.is_multiple_of(PROGRESS_EVERY) {
            (self.progress)(self.frames);
        }
        Some(meta.time)
    }
}

impl Consumer for Analyzer {
    fn frame(&mut self, time: CaptureTime) {
        self.saw_frame(time);
    }

    fn secrets(&mut self, s: &Secrets) {
        self.add_secrets(s);
    }

    fn datagram(&mut self, d: &Datagram<'_>) {
        self.push(d);
    }
}

/// Reads every input once and analyses its RTP streams.
pub fn run_streams(
    paths: &[PathBuf],
    opts: &LoopOptions,
    keylog: Option<crate::dtls::KeyLog>,
    progress: &mut dyn FnMut(u64),
) -> Result<StreamsOutput, Error> {
    let mut analyzer = match keylog {
        Some(k) => Analyzer::new().with_keylog(k),
        None => Analyzer::new(),
    };
    let mut summary = run_loop(paths, opts, &mut analyzer, progress)?;
    // The analyser's own warnings (the streams cap) follow the reader's.
    summary.diagnostics.extend(analyzer.take_diagnostics());
    let warnings = warnings(summary.diagnostics, &summary.names);
    Ok(StreamsOutput {
        version: 1,
        inputs: summary.inputs,
        frames: summary.frames,
        report: analyzer.finish(),
        net: summary.net,
        warnings,
    })
}

/// [`TimeSource::BrowserDump`] when any input is a browser dump.
fn time_source_of(inputs: &[reader::OpenedInput]) -> TimeSource {
    if inputs
        .iter()
        .any(|i| i.time_source == TimeSource::BrowserDump)
    {
        TimeSource::BrowserDump
    } else {
        TimeSource::Captured
    }
}

/// Resolves diagnostics' file ids to names, in order.
pub fn warnings(diags: Vec<Diagnostic>, names: &[String]) -> Vec<Warning> {
    diags
        .into_iter()
        .map(|d| Warning {
            file: names
                .get(usize::from(d.ctx.file.0))
                .cloned()
                .unwrap_or_default(),
            frame: d.ctx.frame,
            offset: d.ctx.offset,
            ssrc: d.ctx.rtp.map(|r| r.ssrc),
            seq: d.ctx.rtp.map(|r| r.seq),
            kind: d.kind,
            message: d.message,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SecretsKind;
    use crate::testutil::packet::{LinkKind, udp_frame};
    use crate::testutil::writers::{Endian, InterfaceSpec, PcapNgWriter};

    /// Notes what reaches it, in order.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    /// A [`Recorder`] that has files read on the loop's thread.
    #[derive(Default)]
    struct InlineRecorder(Recorder);

    impl Consumer for InlineRecorder {
        fn time_source(&mut self, source: TimeSource) {
            self.0.time_source(source);
        }
        fn secrets(&mut self, s: &Secrets) {
            self.0.secrets(s);
        }
        fn datagram(&mut self, d: &Datagram<'_>) {
            self.0.datagram(d);
        }
        fn batch_done(&mut self) {
            self.0.0.push("batch".into());
        }
        fn read_files_inline(&self) -> bool {
            true
        }
    }

    /// What a consumer saw (batch boundaries left out) and the loop's result, read both ways.
    fn both_ways(paths: &[PathBuf]) -> [(Vec<String>, Result<String, String>); 2] {
        let summary = |r: Result<LoopSummary, Error>| {
            r.map(|s| format!("{} {:?} {:?}", s.frames, s.diagnostics, s.net))
                .map_err(|e| e.to_string())
        };
        let mut threaded = Recorder::default();
        let a = summary(run_loop(
            paths,
            &LoopOptions::default(),
            &mut threaded,
            &mut |_| {},
        ));
        let mut inline = InlineRecorder::default();
        let b = summary(run_loop(
            paths,
            &LoopOptions::default(),
            &mut inline,
            &mut |_| {},
        ));
        let seen = inline.0.0.into_iter().filter(|e| e != "batch").collect();
        [(threaded.0, a), (seen, b)]
    }

    #[test]
    fn files_read_on_the_loops_thread_give_what_the_reading_thread_gives() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (
            "10.0.0.1:1000".parse().unwrap(),
            "10.0.0.2:2000".parse().unwrap(),
        );
        // Two files merged in time order, secrets among the frames, and
        // more frames than one inline batch holds.
        let mut paths = Vec::new();
        for f in 0..2i64 {
            let mut w = PcapNgWriter::new(Vec::new());
            w.begin_section(Endian::Little, None).unwrap();
            let i = w.add_interface(InterfaceSpec::new(1, 6)).unwrap();
            let mut frame = Vec::new();
            for n in 0..3000i64 {
                frame.clear();
                let text = format!("f{f} n{n}");
                udp_frame(&mut frame, LinkKind::Ethernet, src, dst, 0, text.as_bytes()).unwrap();
                w.write_packet(i, 1_000 * (2 * n + f), &frame).unwrap();
                if n % 1000 == 7 {
                    w.write_dsb(SecretsKind::TLS_KEY_LOG, format!("k{f}{n}").as_bytes())
                        .unwrap();
                }
            }
            let path = dir.path().join(format!("{f}.pcapng"));
            std::fs::write(&path, w.into_inner().unwrap()).unwrap();
            paths.push(path);
        }
        let [threaded, inline] = both_ways(&paths);
        assert_eq!(threaded.0.len(), 1 + 6000 + 6, "{:?}", &threaded.0[..3]);
        assert_eq!(inline, threaded);
        assert!(threaded.1.as_ref().is_ok_and(|s| s.starts_with("6000 ")));

        // Cut inside a record: the whole records, then the same truncation warning.
        let cut = dir.path().join("cut.pcapng");
        let bytes = std::fs::read(&paths[0]).unwrap();
        std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
        let [threaded, inline] = both_ways(std::slice::from_ref(&cut));
        assert_eq!(inline, threaded);
        assert!(
            threaded.1.as_ref().is_ok_and(|s| s.contains("trunc")),
            "{:?}",
            threaded.1
        );

        // A corrupt block length: the frames before it, then the same error.
        let bad = dir.path().join("bad.pcapng");
        let mut bytes = std::fs::read(&paths[1]).unwrap();
        let at = bytes.len() / 2;
        let rec = (at..)
            .find(|&k| bytes[k..k + 4] == 6u32.to_le_bytes())
            .unwrap();
        bytes[rec + 4..rec + 8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        std::fs::write(&bad, &bytes).unwrap();
        let [threaded, inline] = both_ways(std::slice::from_ref(&bad));
        assert_eq!(inline, threaded);
        assert!(threaded.1.is_err(), "{:?}", threaded.1);
        assert!(threaded.0.len() > 1000);
    }

    #[test]
    fn only_uncompressed_regular_files_are_read_on_the_loops_thread() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.pcap");
        std::fs::write(&plain, [0xd4, 0xc3, 0xb2, 0xa1]).unwrap();
        let gz = dir.path().join("b.pcap");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0]).unwrap();
        let tiny = dir.path().join("c");
        std::fs::write(&tiny, [0x1f]).unwrap();
        assert!(reader::inline_readable(&[plain.clone(), tiny.clone()]));
        assert!(!reader::inline_readable(&[plain.clone(), gz]));
        assert!(!reader::inline_readable(&["-".into()]));
        assert!(!reader::inline_readable(&[dir.path().join("missing")]));
        assert!(!reader::inline_readable(&[dir.path().to_path_buf()]));
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo");
            let status = std::process::Command::new("mkfifo").arg(&fifo).status();
            if status.is_ok_and(|s| s.success()) {
                assert!(!reader::inline_readable(&[plain, fifo]));
            }
        }
    }

    impl Consumer for Recorder {
        fn time_source(&mut self, source: TimeSource) {
            self.0.push(format!("{source:?}"));
        }
        fn secrets(&mut self, s: &Secrets) {
            self.0
                .push(format!("{:?} {}", s.kind, String::from_utf8_lossy(&s.data)));
        }
        fn datagram(&mut self, d: &Datagram<'_>) {
            self.0
                .push(format!("udp {}", String::from_utf8_lossy(d.payload)));
        }
    }

    #[test]
    fn decryption_secrets_reach_the_consumer_in_capture_order() {
        let mut w = PcapNgWriter::new(Vec::new());
        w.begin_section(Endian::Little, None).unwrap();
        // Secrets may come before any interface (editcap puts them right after the SHB).
        let keylog = "CLIENT_RANDOM 00112233 44556677\n";
        w.write_dsb(SecretsKind::TLS_KEY_LOG, keylog.as_bytes())
            .unwrap();
        let i = w.add_interface(InterfaceSpec::new(1, 6)).unwrap();
        let (src, dst) = (
            "10.0.0.1:1000".parse().unwrap(),
            "10.0.0.2:2000".parse().unwrap(),
        );
        let mut frame = Vec::new();
        for (n, text) in ["one", "two"].iter().enumerate() {
            frame.clear();
            udp_frame(&mut frame, LinkKind::Ethernet, src, dst, 0, text.as_bytes()).unwrap();
            w.write_packet(i, 1_000_000_000 * (n as i64 + 1), &frame)
                .unwrap();
            if n == 0 {
                // Odd length: the reader must strip the block's padding.
                w.write_dsb(0x5747_4b4c, b"wg").unwrap();
            }
        }
        w.write_dsb(SecretsKind::TLS_KEY_LOG, b"at the end")
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dsb.pcapng");
        std::fs::write(&path, w.into_inner().unwrap()).unwrap();
        let mut rec = Recorder::default();
        let summary = run_loop(&[path], &LoopOptions::default(), &mut rec, &mut |_| {}).unwrap();
        assert_eq!(
            rec.0,
            [
                "Captured".into(),
                format!("TlsKeyLog {keylog}"),
                "udp one".into(),
                format!("Other({}) wg", 0x5747_4b4c),
                "udp two".into(),
                "TlsKeyLog at the end".into(),
            ]
        );
        assert_eq!(summary.frames, 2);
        assert_eq!(summary.time_source, TimeSource::Captured);
    }

    #[test]
    fn a_browser_dump_input_is_announced_before_its_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chrome_debug.log");
        let rtp = [0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xf8];
        let line = crate::testutil::writers::chrome_dump_line(true, 58_000, &rtp);
        std::fs::write(&path, format!("noise\n{line}")).unwrap();
        let mut rec = Recorder::default();
        let summary = run_loop(&[path], &LoopOptions::default(), &mut rec, &mut |_| {}).unwrap();
        assert_eq!(rec.0.len(), 2);
        assert_eq!(rec.0[0], "BrowserDump");
        assert!(rec.0[1].starts_with("udp "), "{:?}", rec.0);
        assert_eq!(summary.time_source, TimeSource::BrowserDump);
        assert_eq!(summary.inputs[0].format, "chrome-rtp-dump");
    }
}
