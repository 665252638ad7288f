//! The reading thread: capture files in, batches of owned frames out; and
//! [`InlineReader`], the same messages read on the consumer's own thread.
//!
//! Reading runs on its own thread so that the consumer never blocks in a
//! read: it waits on a channel with a timeout instead, which lets it notice a
//! stop request (a signal) and let capture time pass on an idle live pipe.
//! Frames are handed over in batches; before a read that may block (a pipe),
//! whatever was parsed so far goes out at once, so a slow pipe's packets reach
//! the consumer as they arrive rather than when a batch fills.

use crate::capture::{CaptureItem, CaptureSet, FrameMeta, Secrets, TimeSource, source::Format};
use crate::error::{CaptureError, Diagnostic};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Frames in one batch, at most.
const BATCH_FRAMES: usize = 2048;
/// Bytes in one batch, about at most (one frame may go over).
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight between the threads: bounds the memory of a fast reader.
const QUEUE_BATCHES: usize = 4;

/// One input as opened.
#[derive(Clone, Debug)]
pub struct OpenedInput {
    /// Display name (`<stdin>` for `-`).
    pub name: String,
    /// Detected format.
    pub format: Format,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
    /// False for pipes: reads there may wait for data.
    pub regular_file: bool,
    /// Where its frames' times come from.
    pub time_source: TimeSource,
}

/// Captured frames, owned, in capture order, with any decryption secrets read among them.
#[derive(Debug, Default)]
pub struct FrameBatch {
    metas: Vec<FrameMeta>,
    /// End offset of each frame's bytes in `data`.
    ends: Vec<usize>,
    data: Vec<u8>,
    /// Secrets, each with the number of frames of this batch that come before it.
    secrets: Vec<(usize, Secrets)>,
}

/// One entry of a [`FrameBatch`], in capture order.
#[derive(Debug)]
pub enum BatchItem<'a> {
    /// A frame with its bytes.
    Frame(&'a FrameMeta, &'a [u8]),
    /// Decryption secrets.
    Secrets(&'a Secrets),
}

impl FrameBatch {
    fn push_secrets(&mut self, secrets: Secrets) {
        self.secrets.push((self.metas.len(), secrets));
    }

    fn is_empty(&self) -> bool {
        self.metas.is_empty() && self.secrets.is_empty()
    }

    /// Frames and secrets in capture order.
    pub fn items(&self) -> impl Iterator<Item = BatchItem<'_>> {
        let mut secrets = self.secrets.iter().peekable();
        let mut frames = self.frames().enumerate().peekable();
        std::iter::from_fn(move || {
            // Secrets placed before frame `n` go out before it; those after the last frame, last.
            match (secrets.peek(), frames.peek()) {
                (Some((before, _)), Some((n, _))) if before <= n => {
                    secrets.next().map(|(_, s)| BatchItem::Secrets(s))
                }
                (_, Some(_)) => frames.next().map(|(_, (m, d))| BatchItem::Frame(m, d)),
                (Some(_), None) => secrets.next().map(|(_, s)| BatchItem::Secrets(s)),
                (None, None) => None,
            }
        })
    }

    fn push(&mut self, meta: FrameMeta, bytes: &[u8]) {
        self.metas.push(meta);
        self.data.extend_from_slice(bytes);
        self.ends.push(self.data.len());
    }

    fn clear(&mut self) {
        self.secrets.clear();
        self.metas.clear();
        self.ends.clear();
        self.data.clear();
    }

    fn is_full(&self) -> bool {
        self.metas.len() >= BATCH_FRAMES || self.data.len() >= BATCH_BYTES
    }

    /// The frames with their bytes.
    pub fn frames(&self) -> impl Iterator<Item = (&FrameMeta, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        self.metas
            .iter()
            .zip(starts.zip(self.ends.iter().copied()))
            .map(|(m, (s, e))| (m, &self.data[s..e]))
    }
}

/// What the reading thread sends.
#[derive(Debug)]
pub enum FromReader {
    /// Every input opened (or the first that could not be).
    Opened(Result<Vec<OpenedInput>, CaptureError>),
    /// Frames read.
    Frames(FrameBatch),
    /// Frames read on the consumer's thread and handed to it as they were
    /// read ([`InlineReader`]): a batch boundary.
    Fed,
    /// The end: every input read to its end, or the error that stopped reading;
    /// with the readers' diagnostics (truncation and the like).
    End(Result<(), CaptureError>, Vec<Diagnostic>),
}

/// The consumer's end of a reading thread.
pub struct ReaderHandle {
    /// Messages in order: `Opened`, then `Frames`..., then `End`.
    pub rx: Receiver<FromReader>,
    recycle: SyncSender<FrameBatch>,
}

impl ReaderHandle {
    /// Hands a processed batch back for reuse (saves its allocations).
    pub fn recycle(&self, mut batch: FrameBatch) {
        batch.clear();
        // A full recycle queue or a finished reader only means the batch is dropped.
        let _ = self.recycle.try_send(batch);
    }
}

/// Starts reading `paths` on a new thread.
pub fn spawn(paths: Vec<PathBuf>) -> std::io::Result<ReaderHandle> {
    let (tx, rx) = sync_channel(QUEUE_BATCHES);
    let (recycle, recycled) = sync_channel(2);
    std::thread::Builder::new()
        .name("rtprec-read".into())
        .spawn(move || read_all(&paths, tx, recycled))?;
    Ok(ReaderHandle { rx, recycle })
}

/// The batch being filled and the way out.
struct Outbox {
    batch: FrameBatch,
    tx: SyncSender<FromReader>,
    recycled: Receiver<FrameBatch>,
    /// The consumer has gone: stop reading.
    closed: bool,
}

impl Outbox {
    fn flush(&mut self) {
        if self.batch.is_empty() || self.closed {
            return;
        }
        let next = self.recycled.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, next);
        self.closed = self.tx.send(FromReader::Frames(full)).is_err();
    }
}

/// What each input was opened as.
fn opened_inputs(set: &CaptureSet) -> Vec<OpenedInput> {
    set.files()
        .iter()
        .map(|f| OpenedInput {
            name: f.name().display().to_string(),
            format: f.format(),
            gzip: f.is_gzip(),
            regular_file: f.is_regular_file(),
            time_source: f.time_source(),
        })
        .collect()
}

/// Whether every path names a regular file (not `-`, not a pipe or a
/// device) that is not gzip-compressed: reads from them never wait, and
/// cost little beyond the copy ([`InlineReader`]). Decompression is
/// worth a thread of its own.
pub fn inline_readable(paths: &[PathBuf]) -> bool {
    paths.iter().all(|p| {
        p.as_os_str() != "-"
            && std::fs::metadata(p).is_ok_and(|m| m.is_file())
            && !starts_with_gzip_magic(p)
    })
}

/// Whether the file begins with gzip's magic number; false when it cannot
/// be read (opening it reports that).
fn starts_with_gzip_magic(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| crate::capture::source::is_gzip(&head))
}

/// Frames read on the consumer's thread between two [`FromReader::Fed`]
/// messages: a batch boundary for the consumer, as the reading thread's
/// batches are.
const INLINE_FRAMES: usize = BATCH_FRAMES;

/// Reading on the consumer's own thread, for inputs that are all regular
/// files: the same messages as the reading thread sends, except that frames
/// go to a callback as they are read ([`FromReader::Fed`]) instead of being
/// copied into batches.
///
/// A file's read never waits, so a thread of its own is only worth having
/// when a core would otherwise be idle. While `record`'s track workers keep
/// both cores busy, it costs more than it gives: each frame's bytes were
/// copied into a batch on one core and decoded on another, crossing between
/// the cores' caches once more than needed (benches/README.md, "Reading on
/// the recorder's thread").
pub struct InlineReader {
    paths: Vec<PathBuf>,
    set: Option<CaptureSet>,
    /// The end of reading, held back until the frames read before it are out.
    end: Option<Result<(), CaptureError>>,
    done: bool,
}

impl InlineReader {
    /// Reads `paths` (which [`inline_readable`] accepts) when asked.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        InlineReader {
            paths,
            set: None,
            end: None,
            done: false,
        }
    }

    /// The next message: `Opened`, then `Fed`..., then `End`; `None` after
    /// `End`. The frames and secrets a `Fed` stands for went to `each` first,
    /// in capture order.
    pub fn next_message(&mut self, each: &mut dyn FnMut(BatchItem<'_>)) -> Option<FromReader> {
        if self.done {
            return None;
        }
        let Some(set) = self.set.as_mut() else {
            return Some(match CaptureSet::open_with(&self.paths, None) {
                Ok(set) => {
                    let inputs = opened_inputs(&set);
                    self.set = Some(set);
                    FromReader::Opened(Ok(inputs))
                }
                Err(e) => {
                    self.done = true;
                    FromReader::Opened(Err(e))
                }
            });
        };
        if let Some(result) = self.end.take() {
            self.done = true;
            return Some(FromReader::End(result, set.take_diagnostics()));
        }
        let mut fed = 0;
        while fed < INLINE_FRAMES {
            fed += 1;
            match set.next_item() {
                Ok(Some(CaptureItem::Frame(frame))) => {
                    each(BatchItem::Frame(&frame.meta, frame.data));
                }
                Ok(Some(CaptureItem::Secrets(s))) => each(BatchItem::Secrets(&s)),
                Ok(None) => {
                    self.end = Some(Ok(()));
                    break;
                }
                Err(e) => {
                    self.end = Some(Err(e));
                    break;
                }
            }
        }
        if fed == 1
            && let Some(result) = self.end.take()
        {
            // Nothing was read before the end: no empty batch for it.
            self.done = true;
            return Some(FromReader::End(result, set.take_diagnostics()));
        }
        Some(FromReader::Fed)
    }
}

fn read_all(paths: &[PathBuf], tx: SyncSender<FromReader>, recycled: Receiver<FrameBatch>) {
    let outbox = Rc::new(RefCell::new(Outbox {
        batch: FrameBatch::default(),
        tx: tx.clone(),
        recycled,
        closed: false,
    }));
    let hook = {
        let outbox = Rc::clone(&outbox);
        // Runs inside a read of the capture set, never while the loop below holds the outbox.
        Rc::new(move || outbox.borrow_mut().flush()) as crate::capture::source::BeforeRead
    };
    let mut set = match CaptureSet::open_with(paths, Some(hook)) {
        Ok(set) => set,
        Err(e) => {
            let _ = tx.send(FromReader::Opened(Err(e)));
            return;
        }
    };
    let inputs = opened_inputs(&set);
    if tx.send(FromReader::Opened(Ok(inputs))).is_err() {
        return;
    }
    let result = loop {
        match set.next_item() {
            Ok(Some(item)) => {
                let mut out = outbox.borrow_mut();
                match item {
                    CaptureItem::Frame(frame) => out.batch.push(frame.meta, frame.data),
                    CaptureItem::Secrets(s) => out.batch.push_secrets(s),
                }
                if out.batch.is_full() {
                    out.flush();
                }
                if out.closed {
                    return;
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    outbox.borrow_mut().flush();
    let _ = tx.send(FromReader::End(result, set.take_diagnostics()));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frame `i` of file 0 (raw IP), for batches.
    fn meta(i: u64) -> FrameMeta {
        FrameMeta {
            file: crate::error::FileId(0),
            index: i,
            offset: 0,
            time: crate::time::CaptureTime::default(),
            link: crate::capture::Link::Pcap(crate::capture::LinkType::RAW),
            orig_len: 0,
        }
    }

    #[test]
    fn batches_hand_out_each_frame_with_its_bytes() {
        let mut b = FrameBatch::default();
        b.push(meta(1), b"ab");
        b.push(meta(2), b"");
        b.push(meta(3), b"cde");
        let got: Vec<(u64, Vec<u8>)> = b.frames().map(|(m, d)| (m.index, d.to_vec())).collect();
        assert_eq!(
            got,
            vec![(1, b"ab".to_vec()), (2, vec![]), (3, b"cde".to_vec())]
        );
    }

    #[test]
    fn batches_keep_secrets_in_place_among_frames() {
        use crate::capture::SecretsKind;
        let mut b = FrameBatch::default();
        let secrets = |d: &[u8]| Secrets {
            file: crate::error::FileId(0),
            offset: 0,
            kind: SecretsKind::TlsKeyLog,
            data: d.to_vec(),
        };
        b.push_secrets(secrets(b"s0"));
        b.push(meta(1), b"a");
        b.push_secrets(secrets(b"s1"));
        b.push_secrets(secrets(b"s2"));
        b.push(meta(2), b"b");
        b.push_secrets(secrets(b"s3"));
        let got: Vec<String> = b
            .items()
            .map(|i| match i {
                BatchItem::Frame(m, _) => format!("f{}", m.index),
                BatchItem::Secrets(s) => String::from_utf8_lossy(&s.data).into_owned(),
            })
            .collect();
        assert_eq!(got, ["s0", "f1", "s1", "s2", "f2", "s3"]);
        b.clear();
        assert!(b.is_empty());
        // A batch of secrets alone is not empty: it must be sent.
        b.push_secrets(secrets(b"s4"));
        assert!(!b.is_empty());
    }
}
