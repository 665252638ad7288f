//! Atomic file output: a file that exists under its final name is complete.
//!
//! The bytes go to `.NAME.tmp-<pid>` in the destination directory (same file
//! system, so the final rename is atomic), through a write buffer, hashed with
//! SHA-256 as they are written. [`AtomicFile::finish`] syncs the data and
//! renames; dropping an unfinished `AtomicFile` (error, panic unwinding,
//! early return) removes the temporary file.
//!
//! Writers that seek back to patch sizes (WebM, WAV) are supported: a write
//! that is not at the end of the hashed prefix marks the hash stale, and
//! `finish` re-reads the file once to hash it, unless the caller deferred
//! that ([`defer_rehash`]) to hash many such files together.
//!
//! **Descriptors.** A run may have far more tracks, each with its file, than
//! the process may hold open descriptors (issue #13: 20,000 tracks under
//! `ulimit -n 256`). So a file is not kept open for its whole life: it keeps
//! its descriptor between writes only while it holds a slot of an
//! [`FdBudget`] (by default [`FdBudget::process`], sized from the soft
//! `RLIMIT_NOFILE`). A file without a slot opens its temporary file when its
//! buffer must reach the disk (a full buffer, a write away from the buffered
//! run, `finish`), writes at its offset and closes it again. Bytes and hashes
//! do not depend on which files hold slots. One file never has more than one
//! descriptor open at once.

use super::MuxError;
use super::sha256::HashJob;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
#[cfg(not(unix))]
use std::io::Read;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Bytes a file buffers before they go to disk: one write per 64 KiB, so a
/// file without a descriptor slot opens and closes once per 64 KiB written.
const BUF_CAP: usize = 64 * 1024;

/// Bytes written between two requests to start writing a file back to disk
/// (see [`start_writeback`]). Small steps keep the device busy all along: on
/// the development VM, 1 MiB recorded the 1 GiB benchmark capture in 1.2 s,
/// 8 MiB in 1.3-1.4 s, 32 MiB or none (all at the fsync) in 1.6 s.
const WRITEBACK_STEP: u64 = 1 << 20;

/// Descriptors kept off the budget for each worker thread: one being written
/// without a slot, and an MP4 writer's spool and output at its finish.
const PER_THREAD: u64 = 2;

/// The open-file budget shared by [`AtomicFile`]s: at most `limit` of them keep
/// their descriptor open between writes; the others open it only to write.
///
/// Files take slots first come, first served, and give them back when they
/// finish or drop; a file without a slot takes one that has come free the
/// next time it opens its file. The counters are for tests and diagnostics.
#[derive(Debug)]
pub struct FdBudget {
    limit: usize,
    /// Files holding a slot (their descriptor stays open between writes).
    kept: AtomicUsize,
    /// Output files open now: those holding a slot and those being written.
    open: AtomicUsize,
    /// The most `open` has been.
    peak_open: AtomicUsize,
}

impl FdBudget {
    /// A budget of `limit` files kept open between writes (0: none kept).
    pub fn new(limit: usize) -> Arc<FdBudget> {
        Arc::new(FdBudget {
            limit,
            kept: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            peak_open: AtomicUsize::new(0),
        })
    }

    /// The process-wide budget every [`AtomicFile::create`] uses: from the soft
    /// `RLIMIT_NOFILE` when it is first needed, as [`FdBudget::for_limit`]
    /// computes it for what [`FdBudget::init_process`] was told (else one
    /// thread per core and one input).
    pub fn process() -> Arc<FdBudget> {
        Self::process_cell()
            .get_or_init(|| {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                FdBudget::new(Self::for_limit(soft_nofile_limit(), threads, 1))
            })
            .clone()
    }

    /// Sizes the process-wide budget for `threads` writing threads and
    /// `inputs` capture files open for the whole run, unless files were
    /// already created with it (then it stays as it was).
    pub fn init_process(threads: usize, inputs: usize) {
        let limit = Self::for_limit(soft_nofile_limit(), threads, inputs);
        let _ = Self::process_cell().set(FdBudget::new(limit));
    }

    fn process_cell() -> &'static OnceLock<Arc<FdBudget>> {
        static PROCESS: OnceLock<Arc<FdBudget>> = OnceLock::new();
        &PROCESS
    }

    /// The budget for a soft open-file limit (`None`: unlimited), `threads`
    /// writing threads and `inputs` open capture files: half the limit (the
    /// other half is left to event files, sockets and libraries), or less when
    /// the inputs take more than that half less 16, less what the threads may
    /// open beyond their slots (`PER_THREAD` each) and 4 for the main
    /// thread. At least 4, at most 65,536.
    pub fn for_limit(soft: Option<u64>, threads: usize, inputs: usize) -> usize {
        let soft = soft.unwrap_or(u64::MAX);
        let share = (soft / 2).min(soft.saturating_sub(inputs as u64).saturating_sub(16));
        let transient = PER_THREAD.saturating_mul(threads as u64).saturating_add(4);
        let budget = share.saturating_sub(transient).clamp(4, 1 << 16);
        usize::try_from(budget).unwrap_or(1 << 16)
    }

    /// How many files may keep their descriptor open between writes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Files keeping their descriptor open now.
    pub fn kept(&self) -> usize {
        self.kept.load(Ordering::Relaxed)
    }

    /// Output files open now (kept, and being written without a slot).
    pub fn open_now(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The most output files that were open at once.
    pub fn peak_open(&self) -> usize {
        self.peak_open.load(Ordering::Relaxed)
    }

    /// Takes a slot if one is free.
    fn try_keep(&self) -> bool {
        self.kept
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |k| {
                (k < self.limit).then_some(k + 1)
            })
            .is_ok()
    }
}

/// The soft `RLIMIT_NOFILE`; `None` when unlimited or unknown.
fn soft_nofile_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// An open temporary file, counted in its budget while open.
#[derive(Debug)]
struct Handle {
    /// `Some` until dropped: taken in `drop` to close before the counters go down.
    file: Option<File>,
    budget: Arc<FdBudget>,
    /// Holds a slot: stays open between writes.
    kept: bool,
}

impl Handle {
    /// Opens `path` (creating and truncating it when `create`), and takes a slot if one is free.
    fn open(path: &Path, budget: &Arc<FdBudget>, create: bool) -> io::Result<Handle> {
        // Readable too: `finish` re-reads the file when a writer seeked back,
        // and an MP4 spool is copied out. Reopening never truncates.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(create)
            .open(path)?;
        let open = budget.open.fetch_add(1, Ordering::AcqRel) + 1;
        budget.peak_open.fetch_max(open, Ordering::AcqRel);
        Ok(Handle {
            file: Some(file),
            kept: budget.try_keep(),
            budget: budget.clone(),
        })
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("file already closed"))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        drop(self.file.take());
        self.budget.open.fetch_sub(1, Ordering::AcqRel);
        if self.kept {
            self.budget.kept.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Writes all of `buf` at offset `at`, whatever the descriptor's position.
fn write_all_at(f: &mut File, buf: &[u8], at: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(f, buf, at)
    }
    #[cfg(not(unix))]
    {
        f.seek(SeekFrom::Start(at))?;
        f.write_all(buf)
    }
}

/// Starts writing `len` bytes at `at` back to disk without waiting
/// (`sync_file_range(2)`, `SYNC_FILE_RANGE_WRITE`). Only a hint: errors are
/// left to the fsync that makes the file durable.
#[cfg(target_os = "linux")]
fn start_writeback(f: &File, at: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(at), Ok(len)) = (i64::try_from(at), i64::try_from(len)) else {
        return;
    };
    // SAFETY: `f` is an open descriptor for the whole call, and
    // sync_file_range reads no memory of this process.
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), at, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

/// Reads up to `buf.len()` bytes at offset `at`; 0 at the end of the file.
fn read_at(f: &mut File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    loop {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::read_at(f, buf, at);
        #[cfg(not(unix))]
        let r = f.seek(SeekFrom::Start(at)).and_then(|_| f.read(buf));
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// What [`AtomicFile::finish`] returns: the file's final path, size and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// Final path (the temporary name no longer exists).
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
}

/// A file written under a temporary name and renamed into place when complete.
#[derive(Debug)]
pub struct AtomicFile {
    final_path: PathBuf,
    tmp_path: PathBuf,
    /// False once finished, so `Drop` knows there is nothing to clean up.
    live: bool,
    budget: Arc<FdBudget>,
    /// The descriptor, while open: kept when it holds a slot, else only during a write.
    handle: Option<Handle>,
    /// Bytes not yet on disk, which go at offset `buf_at` (always `pos - buf.len()`).
    buf: Vec<u8>,
    buf_at: u64,
    hasher: Sha256,
    /// Length of the prefix fed to `hasher`; valid while `!stale`.
    hashed: u64,
    stale: bool,
    /// See [`AtomicFile::hash_may_wait`].
    deferrable: bool,
    pos: u64,
    len: u64,
    /// Bytes below this offset were handed to [`start_writeback`].
    written_back: u64,
}

impl AtomicFile {
    /// Creates the temporary file next to `path`; `path` itself appears only in `finish`.
    /// Uses the process-wide descriptor budget ([`FdBudget::process`]).
    pub fn create(path: impl Into<PathBuf>) -> Result<Self, MuxError> {
        Self::create_in(path, &FdBudget::process())
    }

    /// [`AtomicFile::create`] with the descriptor budget `budget`.
    pub fn create_in(path: impl Into<PathBuf>, budget: &Arc<FdBudget>) -> Result<Self, MuxError> {
        let final_path = path.into();
        let tmp_path = temp_path(&final_path)?;
        // Created now, so that an unwritable directory fails the track at its
        // start; kept open only with a slot.
        let handle = Handle::open(&tmp_path, budget, true).map_err(|source| MuxError::Io {
            path: final_path.clone(),
            source,
        })?;
        let mut f = Self {
            final_path,
            tmp_path,
            live: true,
            budget: budget.clone(),
            handle: Some(handle),
            buf: Vec::new(),
            buf_at: 0,
            hasher: Sha256::new(),
            hashed: 0,
            stale: false,
            deferrable: false,
            pos: 0,
            len: 0,
            written_back: 0,
        };
        f.release_unkept();
        Ok(f)
    }

    /// Announces that earlier bytes will be patched (seek back) before `finish`:
    /// hashing while writing would be wasted, so the file is hashed once at the end.
    pub fn will_patch(&mut self) {
        self.stale = true;
    }

    /// Allows [`defer_rehash`] to leave this file's hash, sync and rename to
    /// its caller: for files nothing reads back under their final name
    /// before the run ends (an audio export decodes a WAV track's file).
    pub fn hash_may_wait(&mut self) {
        self.deferrable = true;
    }

    /// The final path the file will have after `finish`.
    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// The temporary path the bytes are written to until `finish`.
    pub fn temp_path(&self) -> &Path {
        &self.tmp_path
    }

    /// Bytes written so far (the file's current length).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True while the file keeps a descriptor open between writes.
    pub fn holds_descriptor(&self) -> bool {
        self.handle.is_some()
    }

    /// Wraps an I/O error with the final path, as every muxer error names its file.
    pub fn io_err(&self, source: io::Error) -> MuxError {
        MuxError::Io {
            path: self.final_path.clone(),
            source,
        }
    }

    /// The open descriptor, opening the temporary file again if needed (never truncating).
    fn handle(&mut self) -> io::Result<&mut File> {
        if !self.live {
            return Err(io::Error::other("write after finish"));
        }
        if self.handle.is_none() {
            self.handle = Some(Handle::open(&self.tmp_path, &self.budget, false)?);
        }
        match self.handle.as_mut() {
            Some(h) => h.file(),
            None => Err(io::Error::other("file not open")),
        }
    }

    /// Closes the descriptor unless it holds a slot.
    fn release_unkept(&mut self) {
        if self.handle.as_ref().is_some_and(|h| !h.kept) {
            self.handle = None;
        }
    }

    /// Writes the buffer to disk at its offset (the descriptor stays open; see `release_unkept`).
    fn write_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let at = self.buf_at;
        let r = self.write_at(&buf, at);
        self.buf = buf;
        // On error the bytes stay buffered: the file is broken either way,
        // and its owner fails the track.
        r?;
        self.buf.clear();
        Ok(())
    }

    /// Writes `data` at `at`; once [`WRITEBACK_STEP`] more bytes are written,
    /// asks the kernel to start writing them to disk. The fsync in `finish`
    /// then waits for little: a file's writeback overlaps the work of
    /// producing it instead of following it.
    fn write_at(&mut self, data: &[u8], at: u64) -> io::Result<()> {
        let from = self.written_back;
        let f = self.handle()?;
        write_all_at(f, data, at)?;
        let end = at + data.len() as u64;
        if end >= from + WRITEBACK_STEP {
            start_writeback(f, from, end - from);
            self.written_back = end;
        }
        Ok(())
    }

    /// Writes the buffer to disk, and closes the descriptor unless it holds a slot.
    fn spill(&mut self) -> io::Result<()> {
        let r = self.write_buf();
        self.release_unkept();
        r
    }

    /// Appends the whole content of this file (its `len` bytes) to `out` at
    /// its position, and returns how many bytes that was. An MP4 spool is
    /// copied behind `moov` this way: through this file's one descriptor, not
    /// a second one.
    pub fn copy_to(&mut self, out: &mut AtomicFile) -> io::Result<u64> {
        let r = self.copy_to_inner(out);
        self.release_unkept();
        r
    }

    fn copy_to_inner(&mut self, out: &mut AtomicFile) -> io::Result<u64> {
        self.write_buf()?;
        let len = self.len;
        let file = self.handle()?;
        // Bigger than `out`'s buffer: each chunk goes straight to its disk.
        let mut chunk = vec![0u8; 4 * BUF_CAP];
        let mut copied = 0u64;
        while copied < len {
            let want = usize::try_from(len - copied).map_or(chunk.len(), |n| n.min(chunk.len()));
            let n = read_at(file, &mut chunk[..want], copied)?;
            if n == 0 {
                break;
            }
            out.write_all(&chunk[..n])?;
            copied += n as u64;
        }
        Ok(copied)
    }

    /// Flushes, hashes, syncs to disk and renames to the final name.
    pub fn finish(mut self) -> Result<Finished, MuxError> {
        let result = self.seal();
        // Renamed, or to be removed here: either way `Drop` has nothing to do.
        self.live = false;
        self.handle = None;
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp_path);
        }
        result
    }

    fn seal(&mut self) -> Result<Finished, MuxError> {
        let sha256 = self.seal_io().map_err(|e| self.io_err(e))?;
        Ok(Finished {
            path: self.final_path.clone(),
            size: self.len,
            sha256,
        })
    }

    /// Writes what is buffered, hashes, syncs, closes and renames; the hash
    /// (all zeros when [`defer_rehash`] took the rest over).
    fn seal_io(&mut self) -> io::Result<[u8; 32]> {
        self.write_buf()?;
        let rehash = self.stale || self.hashed != self.len;
        let len = self.len;
        if rehash && self.deferrable && deferring() {
            self.handle = None;
            let job = Deferred {
                tmp: self.tmp_path.clone(),
                path: self.final_path.clone(),
                len,
                pending: std::sync::atomic::AtomicBool::new(true),
            };
            DEFERRED.with(|d| d.borrow_mut().get_or_insert_with(Vec::new).push(job));
            return Ok([0; 32]);
        }
        let hasher = std::mem::take(&mut self.hasher);
        let file = self.handle()?;
        let sha256 = if rehash {
            hash_prefix(file, len)?.0
        } else {
            hasher.finalize().into()
        };
        file.sync_all()?;
        // Closed before the rename and the directory sync, which opens a descriptor of its own.
        self.handle = None;
        fs::rename(&self.tmp_path, &self.final_path)?;
        sync_parent_dir(&self.final_path);
        Ok(sha256)
    }
}

thread_local! {
    /// Files this thread left to be hashed and completed, while [`defer_rehash`] runs.
    static DEFERRED: std::cell::RefCell<Option<Vec<Deferred>>> =
        const { std::cell::RefCell::new(None) };
}

/// A file [`AtomicFile::finish`] left for [`defer_rehash`]'s caller: written
/// in full under its temporary name, not yet hashed, synced or renamed.
/// Dropped before [`Deferred::complete`] succeeded (an error, a panic), it
/// removes its temporary file, as an unfinished [`AtomicFile`] does.
#[derive(Debug)]
pub struct Deferred {
    /// The temporary file.
    pub tmp: PathBuf,
    /// Its final name.
    pub path: PathBuf,
    /// Its length.
    pub len: u64,
    /// Not yet renamed to `path` (nor removed).
    pending: std::sync::atomic::AtomicBool,
}

impl Drop for Deferred {
    fn drop(&mut self) {
        if *self.pending.get_mut() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl Deferred {
    /// What to hash: the temporary file.
    pub fn hash_job(&self) -> HashJob {
        HashJob {
            path: self.tmp.clone(),
            len: self.len,
        }
    }

    /// Syncs the file to disk and renames it to its final name, as `finish` does.
    pub fn complete(&self) -> io::Result<()> {
        File::open(&self.tmp)?.sync_all()?;
        fs::rename(&self.tmp, &self.path)?;
        self.pending.store(false, Ordering::Release);
        sync_parent_dir(&self.path);
        Ok(())
    }

    /// Removes the temporary file (hashing or completing it failed, or its track did).
    pub fn discard(&self) {
        let _ = fs::remove_file(&self.tmp);
        self.pending.store(false, Ordering::Release);
    }
}

/// Runs `f`, deferring the read-back hash of the files it finishes on this
/// thread that allow it ([`AtomicFile::hash_may_wait`]): such a file, whose
/// bytes were patched after they were written (a WebM header), is left
/// complete under its temporary name with its `sha256` all zeros, and
/// returned here for the caller to hash, fill in, sync and rename
/// ([`Deferred`]). [`super::sha256::hash_files`] hashes two files per core at
/// once, and the files reach the disk while they are hashed: a run's last
/// step, hashing its video files, takes 40 % less time. Files hashed as they
/// were written are finished as usual.
pub fn defer_rehash<R>(f: impl FnOnce() -> R) -> (R, Vec<Deferred>) {
    /// Puts back what was deferred around this call, also when `f` panics
    /// (the files deferred within it then remove themselves).
    struct Restore(Option<Option<Vec<Deferred>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                let _ = DEFERRED.try_with(|d| drop(std::mem::replace(&mut *d.borrow_mut(), outer)));
            }
        }
    }
    let mut restore = Restore(Some(DEFERRED.with(|d| d.borrow_mut().replace(Vec::new()))));
    let r = f();
    let outer = restore.0.take().unwrap_or_default();
    let jobs = DEFERRED.with(|d| std::mem::replace(&mut *d.borrow_mut(), outer));
    (r, jobs.unwrap_or_default())
}

/// Whether [`defer_rehash`] is running on this thread.
fn deferring() -> bool {
    DEFERRED.with(|d| d.borrow().is_some())
}

/// SHA-256 of the first `len` bytes of `file` (fewer if it is shorter), read
/// at offsets from 0 whatever the file's position, and how many it hashed.
pub(super) fn hash_prefix(file: &mut File, len: u64) -> io::Result<([u8; 32], u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF_CAP];
    let mut at = 0u64;
    while at < len {
        let want = usize::try_from(len - at).map_or(buf.len(), |left| left.min(buf.len()));
        let n = read_at(file, &mut buf[..want], at)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok((hasher.finalize().into(), at))
}

impl Write for AtomicFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !self.live {
            return Err(io::Error::other("write after finish"));
        }
        if self.buf.len() + data.len() > BUF_CAP {
            self.spill()?;
        }
        if data.len() >= BUF_CAP {
            // Too big to buffer: straight to disk, as `BufWriter` does.
            let at = self.pos;
            let r = self.write_at(data, at);
            self.release_unkept();
            r?;
        } else {
            if self.buf.is_empty() {
                self.buf_at = self.pos;
            }
            self.buf.extend_from_slice(data);
        }
        let n = data.len();
        if !self.stale && self.pos == self.hashed {
            self.hasher.update(data);
            self.hashed += n as u64;
        } else {
            self.stale = true;
        }
        self.pos += n as u64;
        self.len = self.len.max(self.pos);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.live {
            return Err(io::Error::other("write after finish"));
        }
        self.spill()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )
        })?;
        // The buffer is one run ending at `pos`: a write elsewhere needs it on disk first.
        if target != self.pos {
            self.spill()?;
        }
        self.pos = target;
        Ok(self.pos)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.live {
            // Unfinished: the content is incomplete by definition; discard it.
            self.handle = None;
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

/// `.NAME.tmp-<pid>` beside `path`: hidden, same directory (same file system), unique per process.
fn temp_path(path: &Path) -> Result<PathBuf, MuxError> {
    let name = path.file_name().ok_or_else(|| {
        MuxError::Config(format!("output path {} has no file name", path.display()))
    })?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".tmp-{}", std::process::id()));
    Ok(path.with_file_name(tmp))
}

/// Makes the rename durable; best effort, since the file is already complete either way.
pub(crate) fn sync_parent_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    #[test]
    fn final_file_appears_only_after_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.ogg");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"hello ").unwrap();
        f.write_all(b"world").unwrap();
        f.flush().unwrap();
        assert!(!path.exists());
        let tmp = f.temp_path().to_path_buf();
        assert!(tmp.exists());
        assert!(
            tmp.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(".a.ogg.tmp-")
        );
        let done = f.finish().unwrap();
        assert!(!tmp.exists());
        assert_eq!(fs::read(&path).unwrap(), b"hello world");
        assert_eq!(done.size, 11);
        assert_eq!(done.sha256, sha(b"hello world"));
        assert_eq!(done.path, path);
    }

    #[test]
    fn temp_file_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.webm");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(&[1; 100_000]).unwrap();
        let tmp = f.temp_path().to_path_buf();
        assert!(tmp.exists());
        drop(f);
        assert!(!tmp.exists());
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn writeback_is_started_every_mib_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = AtomicFile::create(dir.path().join("w.bin")).unwrap();
        let chunk = vec![7u8; 1000];
        let mut requested = Vec::new();
        for _ in 0..3_500 {
            f.write_all(&chunk).unwrap();
            if requested.last() != Some(&f.written_back) {
                requested.push(f.written_back);
            }
        }
        // Requests cover what reached the file, in steps of at least a MiB.
        assert_eq!(requested.len(), 4, "{requested:?}");
        assert!(requested.windows(2).all(|p| p[1] - p[0] >= WRITEBACK_STEP));
        assert!(
            f.written_back <= f.len() && f.len() - f.written_back < WRITEBACK_STEP + BUF_CAP as u64
        );
        assert_eq!(f.finish().unwrap().size, 3_500_000);
    }

    #[test]
    fn seeking_back_rehashes_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.webm");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"AAAAxxxx").unwrap();
        f.seek(SeekFrom::Start(4)).unwrap();
        f.write_all(b"BB").unwrap();
        f.seek(SeekFrom::End(0)).unwrap();
        f.write_all(b"CC").unwrap();
        let done = f.finish().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"AAAABBxxCC");
        assert_eq!(done.size, 10);
        assert_eq!(done.sha256, sha(b"AAAABBxxCC"));
    }

    /// A file patched after it was written, as the WebM muxer writes one.
    fn patched(path: &Path, may_wait: bool) -> AtomicFile {
        let mut f = AtomicFile::create(path).unwrap();
        f.will_patch();
        if may_wait {
            f.hash_may_wait();
        }
        f.write_all(b"AAAAxxxx").unwrap();
        f.seek(SeekFrom::Start(4)).unwrap();
        f.write_all(b"BB").unwrap();
        f
    }

    #[test]
    fn a_deferred_file_waits_under_its_temporary_name_for_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (webm, wav, ogg) = (
            dir.path().join("v.webm"),
            dir.path().join("a.wav"),
            dir.path().join("a.ogg"),
        );
        let (done, deferred) = defer_rehash(|| {
            let v = patched(&webm, true).finish().unwrap();
            // Not allowed to wait (an export reads it back): finished as usual.
            let a = patched(&wav, false).finish().unwrap();
            // Hashed as written: nothing to defer.
            let mut o = AtomicFile::create(&ogg).unwrap();
            o.hash_may_wait();
            o.write_all(b"OggS").unwrap();
            (v, a, o.finish().unwrap())
        });
        let (v, a, o) = done;
        assert_eq!(v.sha256, [0; 32]);
        assert_eq!(v.path, webm);
        assert!(!webm.exists(), "renamed only once hashed");
        assert_eq!(a.sha256, sha(b"AAAABBxx"));
        assert_eq!(fs::read(&wav).unwrap(), b"AAAABBxx");
        assert_eq!(o.sha256, sha(b"OggS"));
        assert_eq!(deferred.len(), 1);
        let d = &deferred[0];
        assert_eq!((d.path.as_path(), d.len), (webm.as_path(), 8));
        let hashed = crate::mux::sha256::hash_files(&[d.hash_job()], 1);
        assert_eq!(hashed[0].as_ref().unwrap(), &sha(b"AAAABBxx"));
        d.complete().unwrap();
        assert_eq!(fs::read(&webm).unwrap(), b"AAAABBxx");
        assert!(!d.tmp.exists());
        // Outside `defer_rehash`, the same file is finished and hashed at once.
        let again = patched(&dir.path().join("w.webm"), true).finish().unwrap();
        assert_eq!(again.sha256, sha(b"AAAABBxx"));
    }

    #[test]
    fn a_deferred_file_dropped_unfinished_or_in_a_panic_removes_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (_, deferred) = defer_rehash(|| patched(&dir.path().join("a.webm"), true).finish());
        let tmp = deferred[0].tmp.clone();
        assert!(tmp.exists());
        drop(deferred);
        assert!(!tmp.exists(), "dropped before completion: removed");
        let caught = std::panic::catch_unwind(|| {
            defer_rehash(|| {
                patched(&dir.path().join("b.webm"), true).finish().unwrap();
                panic!("a track's worker panics");
            })
        });
        assert!(caught.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        // The thread no longer defers.
        assert!(!deferring());
        let done = patched(&dir.path().join("c.webm"), true).finish().unwrap();
        assert_eq!(done.sha256, sha(b"AAAABBxx"));
    }

    #[test]
    fn a_discarded_deferred_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let webm = dir.path().join("v.webm");
        let (_, deferred) = defer_rehash(|| patched(&webm, true).finish().unwrap());
        deferred[0].discard();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(deferred[0].complete().is_err());
    }

    /// A deterministic stream of numbers (xorshift), so failures replay.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// One random step on `f` and on its model (a `Cursor` has `File`'s
    /// write and seek semantics): appends of every size, big ones past the
    /// buffer, and patches of earlier bytes.
    fn step(rng: &mut Rng, f: &mut AtomicFile, model: &mut io::Cursor<Vec<u8>>, tag: u8) {
        let (data, seek): (Vec<u8>, Option<SeekFrom>) = match rng.below(10) {
            0 => (vec![tag; BUF_CAP + 1000], None),
            1 | 2 if !model.get_ref().is_empty() => {
                let at = rng.below(model.get_ref().len() as u64);
                (
                    vec![tag ^ 0xff; 1 + rng.below(8) as usize],
                    Some(SeekFrom::Start(at)),
                )
            }
            3 => (vec![tag; rng.below(40) as usize], Some(SeekFrom::End(0))),
            _ => ((0..rng.below(3000)).map(|i| i as u8 ^ tag).collect(), None),
        };
        if let Some(to) = seek {
            assert_eq!(f.seek(to).unwrap(), model.seek(to).unwrap());
        }
        f.write_all(&data).unwrap();
        model.write_all(&data).unwrap();
        assert_eq!(f.stream_position().unwrap(), model.position());
        assert_eq!(f.len(), model.get_ref().len() as u64);
    }

    #[test]
    fn many_files_on_a_tiny_budget_write_patch_and_finish_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let budget = FdBudget::new(3);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut files: Vec<(AtomicFile, io::Cursor<Vec<u8>>)> = (0..40)
            .map(|i| {
                let mut f =
                    AtomicFile::create_in(dir.path().join(format!("f{i}")), &budget).unwrap();
                // Some announce their patches (WebM, WAV), others patch unannounced.
                if i % 3 == 0 {
                    f.will_patch();
                }
                (f, io::Cursor::new(Vec::new()))
            })
            .collect();
        assert_eq!(
            files.iter().filter(|(f, _)| f.holds_descriptor()).count(),
            3
        );
        for _ in 0..2000 {
            let i = rng.below(files.len() as u64) as usize;
            let (f, model) = &mut files[i];
            step(&mut rng, f, model, i as u8);
            assert!(budget.kept() <= 3);
            assert!(budget.open_now() <= 3, "only slot holders stay open");
        }
        // One thread: at most one descriptor beyond the slots, while a file writes.
        assert!(budget.peak_open() <= 4, "peak {}", budget.peak_open());
        for (i, (f, model)) in files.into_iter().enumerate() {
            let done = f.finish().unwrap();
            let want = model.into_inner();
            assert_eq!(fs::read(&done.path).unwrap(), want, "file {i}");
            assert_eq!(
                (done.size, done.sha256),
                (want.len() as u64, sha(&want)),
                "file {i}"
            );
        }
        assert_eq!((budget.kept(), budget.open_now()), (0, 0));
        assert!(budget.peak_open() <= 4, "peak {}", budget.peak_open());
        // Only the final files are left.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 40);
    }

    #[test]
    fn threads_stay_within_the_budget_plus_one_file_each() {
        let dir = tempfile::tempdir().unwrap();
        let budget = FdBudget::new(2);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (dir, budget) = (dir.path(), &budget);
                s.spawn(move || {
                    let mut rng = Rng(0x2545_F491_4F6C_DD1D + t);
                    let mut files: Vec<_> = (0..10)
                        .map(|i| {
                            let f = AtomicFile::create_in(dir.join(format!("t{t}-{i}")), budget);
                            (f.unwrap(), io::Cursor::new(Vec::new()))
                        })
                        .collect();
                    for _ in 0..500 {
                        let i = rng.below(10) as usize;
                        let (f, model) = &mut files[i];
                        step(&mut rng, f, model, i as u8);
                    }
                    for (f, model) in files {
                        let done = f.finish().unwrap();
                        let want = model.into_inner();
                        assert_eq!(fs::read(&done.path).unwrap(), want);
                        assert_eq!(done.sha256, sha(&want));
                    }
                });
            }
        });
        assert!(budget.peak_open() <= 2 + 4, "peak {}", budget.peak_open());
        assert_eq!((budget.kept(), budget.open_now()), (0, 0));
    }

    #[test]
    fn a_freed_slot_goes_to_the_next_file_that_opens() {
        let dir = tempfile::tempdir().unwrap();
        let budget = FdBudget::new(1);
        let mut a = AtomicFile::create_in(dir.path().join("a"), &budget).unwrap();
        let mut b = AtomicFile::create_in(dir.path().join("b"), &budget).unwrap();
        assert!(a.holds_descriptor() && !b.holds_descriptor());
        // Buffered only: b needs no descriptor yet.
        b.write_all(b"small").unwrap();
        assert_eq!(budget.open_now(), 1);
        a.write_all(b"a").unwrap();
        a.finish().unwrap();
        assert_eq!(budget.kept(), 0);
        b.flush().unwrap();
        assert!(b.holds_descriptor(), "b took the free slot");
        assert_eq!(fs::read(b.finish().unwrap().path).unwrap(), b"small");
        assert_eq!((budget.kept(), budget.open_now()), (0, 0));
    }

    #[test]
    fn a_file_that_cannot_be_reopened_fails_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let budget = FdBudget::new(0);
        let mut f = AtomicFile::create_in(dir.path().join("gone.wav"), &budget).unwrap();
        assert!(!f.holds_descriptor());
        f.write_all(b"header").unwrap();
        fs::remove_file(f.temp_path()).unwrap();
        // Never recreated: the bytes before would be lost.
        let err = f.finish().unwrap_err();
        assert!(matches!(err, MuxError::Io { .. }), "{err}");
        assert!(err.to_string().contains("gone.wav"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(budget.open_now(), 0);
    }

    #[test]
    fn a_spool_copies_through_its_own_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let budget = FdBudget::new(0);
        let mut spool = AtomicFile::create_in(dir.path().join("x.mdat"), &budget).unwrap();
        spool.will_patch();
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        for c in data.chunks(1000) {
            spool.write_all(c).unwrap();
        }
        let mut out = AtomicFile::create_in(dir.path().join("x.mp4"), &budget).unwrap();
        out.write_all(b"head").unwrap();
        assert_eq!(spool.copy_to(&mut out).unwrap(), data.len() as u64);
        assert!(budget.peak_open() <= 2, "peak {}", budget.peak_open());
        let done = out.finish().unwrap();
        drop(spool);
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data);
        assert_eq!(fs::read(&done.path).unwrap(), want);
        assert_eq!(done.sha256, sha(&want));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "spool removed"
        );
    }

    #[test]
    fn the_budget_is_half_the_limit_less_what_threads_open() {
        assert_eq!(FdBudget::for_limit(Some(256), 2, 1), 128 - 8);
        assert_eq!(FdBudget::for_limit(Some(1024), 16, 3), 512 - 36);
        assert_eq!(FdBudget::for_limit(Some(64), 64, 1), 4, "at least a few");
        assert_eq!(FdBudget::for_limit(None, 8, 1), 1 << 16);
        // Many inputs leave less: 256 - 200 - 16, less 8.
        assert_eq!(FdBudget::for_limit(Some(256), 2, 200), 32);
        assert!(FdBudget::process().limit() >= 4);
    }

    #[test]
    fn a_negative_seek_is_an_error_and_moves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = AtomicFile::create(dir.path().join("n")).unwrap();
        f.write_all(b"abc").unwrap();
        assert!(f.seek(SeekFrom::Current(-4)).is_err());
        assert_eq!(f.stream_position().unwrap(), 3);
        f.seek(SeekFrom::End(-1)).unwrap();
        f.write_all(b"Z").unwrap();
        assert_eq!(fs::read(f.finish().unwrap().path).unwrap(), b"abZ");
    }

    #[test]
    fn missing_directory_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("d.ogg");
        let err = AtomicFile::create(&path).unwrap_err();
        assert!(err.to_string().contains("d.ogg"), "{err}");
    }
}

/// The pid in a temporary file's name `.NAME.tmp-<pid>`, if it is one.
fn temp_owner(name: &std::ffi::OsStr) -> Option<u32> {
    let name = name.to_str()?;
    let (head, pid) = name.rsplit_once(".tmp-")?;
    if !head.starts_with('.') || head.len() < 2 {
        return None;
    }
    pid.parse().ok()
}

/// True while process `pid` exists (Linux: its `/proc` entry).
fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes temporary files (`.NAME.tmp-<pid>`) that runs which no longer
/// exist left under `dir` (killed runs cannot clean up after themselves);
/// files of live processes are left alone. Returns what was removed.
///
/// Looks `depth` directory levels deep (an output tree is
/// `room/session/peer/file`); a missing `dir` holds nothing.
pub fn remove_stale_temps(dir: &Path, depth: usize) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() && depth > 0 {
            removed.extend(remove_stale_temps(&path, depth - 1)?);
        } else if kind.is_file()
            && let Some(pid) = temp_owner(&entry.file_name())
            && !process_alive(pid)
        {
            fs::remove_file(&path)?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod stale_tests {
    use super::*;

    #[test]
    fn temps_of_dead_runs_go_and_the_rest_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deep = dir.path().join("room/s1/peer");
        fs::create_dir_all(&deep).expect("mkdir");
        // No process has pid 4194304 + 1 (above Linux's pid_max).
        let dead = deep.join(".mic.ogg.tmp-4194305");
        let mine = deep.join(format!(".cam.webm.tmp-{}", std::process::id()));
        let keep = [
            deep.join("mic.ogg"),
            deep.join(".hidden"),
            deep.join("x.tmp-4194305"),
            mine.clone(),
        ];
        for p in keep.iter().chain([&dead]) {
            fs::write(p, b"x").expect("write");
        }
        let removed = remove_stale_temps(dir.path(), 4).expect("walks");
        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists());
        assert!(keep.iter().all(|p| p.exists()));
        assert!(
            remove_stale_temps(&dir.path().join("missing"), 4)
                .expect("missing dir")
                .is_empty()
        );
    }
}
