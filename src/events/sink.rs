//! Where events go: stdout, a file, nowhere, or a webhook; and what became of them.
//!
//! Every sink counts in a [`DeliveryReport`] with the invariant
//! `emitted = delivered + spooled`, whatever happens. For stdout and files,
//! "delivered" means written (and, for files, synced at [`Sink::finish`]).
//! A closed stdout pipe (`rtprec record ... | head -1`) is the reader's choice,
//! not an error: the sink stops writing and counts the rest as delivered, as
//! the process exits 0 on a broken pipe (ripgrep does the same). Other write
//! errors (disk full) are returned, because an event would be lost.

use super::Event;
use super::webhook::{WebhookError, WebhookSink};
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
}

impl DeliveryReport {
    /// True when `emitted = delivered + spooled` (always, by construction; tests assert it).
    pub fn balanced(&self) -> bool {
        self.emitted == self.delivered + self.spooled
    }

    pub(crate) fn count(&mut self, d: &Delivery) {
        self.emitted += 1;
        match d {
            Delivery::Delivered => self.delivered += 1,
            Delivery::Spooled { .. } => self.spooled += 1,
        }
    }
}

/// What became of one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Written, or accepted by the receiver.
    Delivered,
    /// Appended to the spool; `reason` says why (for stderr; it never holds the secret or URL).
    Spooled {
        /// Why, e.g. `HTTP 503 after 5 attempts`.
        reason: String,
    },
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
    /// A webhook problem: configuration, or the spool could not be written.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
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

impl FromStr for EventsTarget {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "-" => EventsTarget::Stdout,
            "none" => EventsTarget::None,
            // A file literally named `none` can still be given as `./none`.
            path => EventsTarget::File(PathBuf::from(path)),
        })
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
        let d = Delivery::Delivered;
        self.report.count(&d);
        Ok(d)
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

    /// Hands one event to the sink; blocks while a webhook delivers (or gives up on) it.
    pub fn emit(&mut self, event: &Event) -> Result<Delivery, SinkError> {
        match self {
            Sink::Stdout(l) | Sink::File(l) => l.emit(event),
            Sink::None(report) => {
                let d = Delivery::Delivered;
                report.count(&d);
                Ok(d)
            }
            Sink::Webhook(w) => Ok(w.emit(event)?),
        }
    }

    /// Flushes and syncs; the counts so far. Call once, after the last event.
    pub fn finish(&mut self) -> Result<DeliveryReport, SinkError> {
        match self {
            Sink::Stdout(l) | Sink::File(l) => l.finish(),
            Sink::None(report) => Ok(*report),
            Sink::Webhook(w) => Ok(w.finish()?),
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
    fn targets_parse() {
        assert_eq!("-".parse::<EventsTarget>(), Ok(EventsTarget::Stdout));
        assert_eq!("none".parse::<EventsTarget>(), Ok(EventsTarget::None));
        assert_eq!(
            "./none".parse::<EventsTarget>(),
            Ok(EventsTarget::File("./none".into()))
        );
        let mut none = Sink::open(&EventsTarget::None).unwrap();
        none.emit(&fixtures::events()[0]).unwrap();
        assert_eq!(none.finish().unwrap().emitted, 1);
    }
}
