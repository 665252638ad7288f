//! Where events go: stdout, a file, nowhere, or a webhook; and what became of them.
//!
//! Every sink counts in a [`DeliveryReport`] with the invariant
//! `emitted = delivered + spooled + stderr`, whatever happens. For stdout and
//! files, "delivered" means written (and, for files, synced at
//! [`Sink::finish`]). A closed stdout pipe (`rtprec record ... | head -1`) is
//! the reader's choice, not an error: the sink stops writing and counts the
//! rest as delivered, as the process exits 0 on a broken pipe (ripgrep does
//! the same). Other write errors (disk full) are returned, because an event
//! would be lost.
//!
//! A webhook sink delivers on its own thread ([`super::delivery`]): `emit`
//! returns [`Delivery::Queued`] at once, and the fate of an event it did not
//! deliver arrives later through [`Sink::take_notices`].

use super::delivery::AbortHandle;
use super::webhook::WebhookSink;
use super::{Event, EventType};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Counts of what became of the events given to a sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Events given to the sink.
    pub emitted: u64,
    /// Events written or accepted by the receiver (2xx).
    pub delivered: u64,
    /// Events appended to the spool file because they could not be delivered.
    pub spooled: u64,
    /// Events neither delivered nor spooled (the spool could not be written): their
    /// lines were printed to standard error as the last resort (counted even if
    /// standard error itself failed: nothing is left to try then).
    pub stderr: u64,
}

impl DeliveryReport {
    /// True when `emitted = delivered + spooled + stderr` (always once a sink
    /// finished or aborted, by construction; tests assert it).
    pub fn balanced(&self) -> bool {
        self.emitted == self.delivered + self.spooled + self.stderr
    }
}

/// What became of one event (or, for [`Delivery::Queued`], what will tell).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Written, or accepted by the receiver.
    Delivered,
    /// Handed to a webhook's delivery thread; if it is not delivered, a
    /// [`Notice`] says so later.
    Queued,
    /// Appended to the spool; `reason` says why (for stderr; it never holds the secret or URL).
    Spooled {
        /// Why, e.g. `HTTP 503 after 5 attempts`.
        reason: String,
    },
    /// The spool could not be written: the exact event line was printed to
    /// standard error instead, the only copy left.
    Stderr {
        /// Why it was not delivered, and the spool error.
        reason: String,
    },
}

/// An event that was not delivered, learned after [`Sink::emit`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The event id.
    pub id: String,
    /// The event type.
    pub event_type: EventType,
    /// [`Delivery::Spooled`] or [`Delivery::Stderr`].
    pub delivery: Delivery,
}

/// Errors that lose an event or prevent a sink from starting.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing an event line failed (not a broken pipe).
    #[error("writing events to {name}: {source}")]
    Write {
        /// `standard output` or the file path.
        name: String,
        /// The I/O error.
        source: io::Error,
    },
    /// Opening the events file failed.
    #[error("cannot open events file {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// Where `--events` writes: `-` (stdout), `none`, or a file path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventsTarget {
    /// `-`: standard output.
    Stdout,
    /// `none`: events are counted, not written.
    None,
    /// A file, appended to.
    File(PathBuf),
}

/// An `--events` value that looks like a slip for `-` or `none` rather than a file name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "looks like a typo: did you mean `{suggestion}`? (for a file of that name, write ./{value})"
)]
pub struct EventsTargetError {
    /// The value given.
    pub value: String,
    /// `-` or `none`.
    pub suggestion: &'static str,
}

impl FromStr for EventsTarget {
    type Err = EventsTargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "-" => return Ok(EventsTarget::Stdout),
            "none" => return Ok(EventsTarget::None),
            _ => {}
        }
        // A slip would silently append events to a file named `non` or `--`
        // in the current directory, where nobody looks for them: refuse the
        // shapes no one means as a file name. Anything with a directory part
        // or an extension is taken as a path, so `./none` still names a file.
        let bare = !s.contains(['/', '\\', '.']);
        // `--`, and the en or em dash that word processors and chat clients make of `-`.
        let dash = |c| matches!(c, '-' | '\u{2013}' | '\u{2014}');
        let suggestion = if !s.is_empty() && s.chars().all(dash) {
            Some("-")
        } else if bare
            && (s.eq_ignore_ascii_case("none")
                || strsim::damerau_levenshtein(&s.to_ascii_lowercase(), "none") <= 1)
        {
            Some("none")
        } else {
            None
        };
        match suggestion {
            Some(suggestion) => Err(EventsTargetError {
                value: s.to_string(),
                suggestion,
            }),
            None => Ok(EventsTarget::File(PathBuf::from(s))),
        }
    }
}

/// NDJSON to a writer: stdout, a file, or a test buffer.
pub struct LineSink {
    out: Box<dyn Write + Send>,
    file: Option<File>,
    name: String,
    /// The reader closed the pipe: nothing more is written.
    closed: bool,
    report: DeliveryReport,
}

impl std::fmt::Debug for LineSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineSink")
            .field("name", &self.name)
            .field("closed", &self.closed)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl LineSink {
    /// Lines to `out`; `name` appears in error messages.
    pub fn new(out: Box<dyn Write + Send>, name: impl Into<String>) -> LineSink {
        LineSink {
            out,
            file: None,
            name: name.into(),
            closed: false,
            report: DeliveryReport::default(),
        }
    }

    /// True once a broken pipe stopped the writing.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn emit(&mut self, event: &Event) -> Result<Delivery, SinkError> {
        if !self.closed {
            let mut line = event.to_json().into_bytes();
            line.push(b'\n');
            // One write per line, flushed, so a reader sees each event as it happens.
            match self.out.write_all(&line).and_then(|()| self.out.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.closed = true,
                Err(source) => {
                    return Err(SinkError::Write {
                        name: self.name.clone(),
                        source,
                    });
                }
            }
        }
        self.report.emitted += 1;
        self.report.delivered += 1;
        Ok(Delivery::Delivered)
    }

    fn finish(&mut self) -> Result<DeliveryReport, SinkError> {
        if let Some(f) = &self.file {
            f.sync_all().map_err(|source| SinkError::Write {
                name: self.name.clone(),
                source,
            })?;
        }
        Ok(self.report)
    }
}

/// A destination for events (closed set: stdout, file, none, webhook).
#[derive(Debug)]
pub enum Sink {
    /// NDJSON on standard output.
    Stdout(LineSink),
    /// NDJSON appended to a file.
    File(LineSink),
    /// Counted, not written.
    None(DeliveryReport),
    /// POSTed to a webhook; undeliverable events spooled.
    Webhook(Box<WebhookSink>),
}

impl Sink {
    /// The sink for an `--events` target; a file is created if missing and appended to.
    pub fn open(target: &EventsTarget) -> Result<Sink, SinkError> {
        Ok(match target {
            EventsTarget::Stdout => {
                Sink::Stdout(LineSink::new(Box::new(io::stdout()), "standard output"))
            }
            EventsTarget::None => Sink::None(DeliveryReport::default()),
            EventsTarget::File(path) => Sink::File(Sink::file_lines(path)?),
        })
    }

    fn file_lines(path: &Path) -> Result<LineSink, SinkError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SinkError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        let sync = file.try_clone().map_err(|source| SinkError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut lines = LineSink::new(Box::new(file), path.display().to_string());
        lines.file = Some(sync);
        Ok(lines)
    }

    /// Hands one event to the sink. Lines are written before this returns; a
    /// webhook event is queued for its delivery thread (never waiting for the receiver).
    pub fn emit(&mut self, event: &Event) -> Result<Delivery, SinkError> {
        match self {
            Sink::Stdout(l) | Sink::File(l) => l.emit(event),
            Sink::None(report) => {
                report.emitted += 1;
                report.delivered += 1;
                Ok(Delivery::Delivered)
            }
            Sink::Webhook(w) => Ok(w.emit(event)),
        }
    }

    /// Events not delivered since the last call, in the order their fate was decided
    /// (webhook sinks only; the others decide in `emit`).
    pub fn take_notices(&mut self) -> Vec<Notice> {
        match self {
            Sink::Webhook(w) => w.take_notices(),
            _ => Vec::new(),
        }
    }

    /// Flushes and syncs; a webhook sink first delivers what is queued, up to
    /// its drain timeout, and spools the rest. The final counts. Call once,
    /// after the last event.
    pub fn finish(&mut self) -> Result<DeliveryReport, SinkError> {
        match self {
            Sink::Stdout(l) | Sink::File(l) => l.finish(),
            Sink::None(report) => Ok(*report),
            Sink::Webhook(w) => Ok(w.finish()),
        }
    }

    /// Instead of [`Sink::finish`], without waiting for any receiver: for a
    /// signal. A webhook sink stops retrying and spools every event not yet
    /// delivered, the one being sent included, and returns at once even if
    /// that POST hangs.
    pub fn abort(&mut self) -> Result<DeliveryReport, SinkError> {
        match self {
            Sink::Webhook(w) => Ok(w.abort()),
            // Lines are already written; only the file sync is left, and it does not wait on anyone.
            _ => self.finish(),
        }
    }

    /// For a webhook sink, a handle that aborts it from another thread (a
    /// `finish` draining its queue then returns at once).
    pub fn abort_handle(&self) -> Option<AbortHandle> {
        match self {
            Sink::Webhook(w) => Some(w.abort_handle()),
            _ => None,
        }
    }

    /// The spool file of a webhook sink (where undelivered events are), if any.
    pub fn spool_path(&self) -> Option<&Path> {
        match self {
            Sink::Webhook(w) => Some(w.spool_path()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures;
    use std::sync::{Arc, Mutex};

    /// A writer into a shared buffer that can be told to fail like a closed pipe.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<(Vec<u8>, Option<io::ErrorKind>)>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut g = self.0.lock().unwrap();
            if let Some(kind) = g.1 {
                return Err(io::Error::from(kind));
            }
            g.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_one_event_each_in_order() {
        let buf = Shared::default();
        let mut sink = Sink::Stdout(LineSink::new(Box::new(buf.clone()), "test"));
        let evs = fixtures::events();
        for e in &evs {
            assert_eq!(sink.emit(e).unwrap(), Delivery::Delivered);
        }
        let r = sink.finish().unwrap();
        assert_eq!((r.emitted, r.delivered, r.spooled), (4, 4, 0));
        let text = String::from_utf8(buf.0.lock().unwrap().0.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        for (line, e) in lines.iter().zip(&evs) {
            assert_eq!(*line, e.to_json());
        }
    }

    #[test]
    fn broken_pipe_stops_writing_without_error() {
        let buf = Shared::default();
        let mut sink = Sink::Stdout(LineSink::new(Box::new(buf.clone()), "test"));
        let evs = fixtures::events();
        sink.emit(&evs[0]).unwrap();
        buf.0.lock().unwrap().1 = Some(io::ErrorKind::BrokenPipe);
        for e in &evs[1..] {
            assert_eq!(sink.emit(e).unwrap(), Delivery::Delivered);
        }
        let r = sink.finish().unwrap();
        assert!(r.balanced());
        assert_eq!(r.emitted, 4);
        assert_eq!(
            buf.0
                .lock()
                .unwrap()
                .0
                .iter()
                .filter(|b| **b == b'\n')
                .count(),
            1
        );
        let Sink::Stdout(l) = &sink else {
            unreachable!()
        };
        assert!(l.closed());
    }

    #[test]
    fn other_write_errors_are_errors() {
        let buf = Shared::default();
        buf.0.lock().unwrap().1 = Some(io::ErrorKind::StorageFull);
        let mut sink = Sink::File(LineSink::new(Box::new(buf), "events.jsonl"));
        let err = sink.emit(&fixtures::events()[0]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("writing events to events.jsonl: "),
            "{err}"
        );
    }

    #[test]
    fn file_sink_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let evs = fixtures::events();
        for half in [&evs[..2], &evs[2..]] {
            let mut sink = Sink::open(&EventsTarget::File(path.clone())).unwrap();
            for e in half {
                sink.emit(e).unwrap();
            }
            assert_eq!(sink.finish().unwrap().delivered, 2);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let want: String = evs.iter().map(|e| e.to_json() + "\n").collect();
        assert_eq!(text, want);
    }

    #[test]
    fn line_sinks_abort_like_they_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        for mut sink in [
            Sink::open(&EventsTarget::File(path.clone())).unwrap(),
            Sink::open(&EventsTarget::None).unwrap(),
        ] {
            sink.emit(&fixtures::events()[0]).unwrap();
            assert!(sink.take_notices().is_empty());
            assert!(sink.abort_handle().is_none());
            let r = sink.abort().unwrap();
            assert_eq!((r.emitted, r.delivered, r.spooled, r.stderr), (1, 1, 0, 0));
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            fixtures::events()[0].to_json() + "\n"
        );
    }

    #[test]
    fn targets_parse() {
        assert_eq!("-".parse::<EventsTarget>(), Ok(EventsTarget::Stdout));
        assert_eq!("none".parse::<EventsTarget>(), Ok(EventsTarget::None));
        assert_eq!(
            "./none".parse::<EventsTarget>(),
            Ok(EventsTarget::File("./none".into()))
        );
        for (typo, suggestion) in [
            ("--", "-"),
            ("\u{2014}", "-"),
            ("None", "none"),
            ("NONE", "none"),
            ("non", "none"),
            ("nnoe", "none"),
            ("nonee", "none"),
        ] {
            let err = typo.parse::<EventsTarget>().unwrap_err();
            assert_eq!(err.suggestion, suggestion, "{typo}");
            assert!(err.to_string().contains(&format!("./{typo}")), "{err}");
        }
        for path in ["events.jsonl", "./non", "out/none", "none.jsonl", "notes"] {
            assert_eq!(
                path.parse::<EventsTarget>(),
                Ok(EventsTarget::File(path.into())),
                "{path}"
            );
        }
        let mut none = Sink::open(&EventsTarget::None).unwrap();
        none.emit(&fixtures::events()[0]).unwrap();
        assert_eq!(none.finish().unwrap().emitted, 1);
    }
}
