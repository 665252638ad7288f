//! Atomic file output: a file that exists under its final name is complete.
//!
//! The bytes go to `.NAME.tmp-<pid>` in the destination directory (same file
//! system, so the final rename is atomic), through a `BufWriter`, hashed with
//! SHA-256 as they are written. [`AtomicFile::finish`] syncs the data and
//! renames; dropping an unfinished `AtomicFile` (error, panic unwinding,
//! early return) removes the temporary file.
//!
//! Writers that seek back to patch sizes (WebM) are supported: a write that is
//! not at the end of the hashed prefix marks the hash stale, and `finish`
//! re-reads the file once to hash it.

use super::MuxError;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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
    /// `None` once finished, so `Drop` knows there is nothing to clean up.
    out: Option<BufWriter<File>>,
    hasher: Sha256,
    /// Length of the prefix fed to `hasher`; valid while `!stale`.
    hashed: u64,
    stale: bool,
    pos: u64,
    len: u64,
}

impl AtomicFile {
    /// Creates the temporary file next to `path`; `path` itself appears only in `finish`.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self, MuxError> {
        let final_path = path.into();
        let tmp_path = temp_path(&final_path)?;
        // Readable too: `finish` re-reads the file when a writer seeked back.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp_path)
            .map_err(|source| MuxError::Io {
                path: final_path.clone(),
                source,
            })?;
        Ok(Self {
            final_path,
            tmp_path,
            out: Some(BufWriter::with_capacity(64 * 1024, file)),
            hasher: Sha256::new(),
            hashed: 0,
            stale: false,
            pos: 0,
            len: 0,
        })
    }

    /// Announces that earlier bytes will be patched (seek back) before `finish`:
    /// hashing while writing would be wasted, so the file is hashed once at the end.
    pub fn will_patch(&mut self) {
        self.stale = true;
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

    /// Wraps an I/O error with the final path, as every muxer error names its file.
    pub fn io_err(&self, source: io::Error) -> MuxError {
        MuxError::Io {
            path: self.final_path.clone(),
            source,
        }
    }

    /// Flushes, hashes, syncs to disk and renames to the final name.
    pub fn finish(mut self) -> Result<Finished, MuxError> {
        let out = self
            .out
            .take()
            .expect("out is Some until finish consumes self");
        let file = match out.into_inner() {
            Ok(f) => f,
            Err(e) => {
                let err = self.io_err(e.into_error());
                // Dropping `self` now would not remove the file (out is None).
                let _ = fs::remove_file(&self.tmp_path);
                return Err(err);
            }
        };
        let result = self.seal(file);
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp_path);
        }
        result
    }

    fn seal(&mut self, mut file: File) -> Result<Finished, MuxError> {
        let sha256: [u8; 32] = if self.stale || self.hashed != self.len {
            let mut hasher = Sha256::new();
            file.seek(SeekFrom::Start(0)).map_err(|e| self.io_err(e))?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = file.read(&mut buf).map_err(|e| self.io_err(e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            hasher.finalize().into()
        } else {
            std::mem::take(&mut self.hasher).finalize().into()
        };
        file.sync_all().map_err(|e| self.io_err(e))?;
        drop(file);
        fs::rename(&self.tmp_path, &self.final_path).map_err(|e| self.io_err(e))?;
        sync_parent_dir(&self.final_path);
        Ok(Finished {
            path: self.final_path.clone(),
            size: self.len,
            sha256,
        })
    }

    fn out(&mut self) -> io::Result<&mut BufWriter<File>> {
        self.out
            .as_mut()
            .ok_or_else(|| io::Error::other("write after finish"))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out()?.write(buf)?;
        if !self.stale && self.pos == self.hashed {
            self.hasher.update(&buf[..n]);
            self.hashed += n as u64;
        } else {
            self.stale = true;
        }
        self.pos += n as u64;
        self.len = self.len.max(self.pos);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out()?.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        // BufWriter::seek flushes its buffer first, so positions stay exact.
        self.pos = self.out()?.seek(to)?;
        Ok(self.pos)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(out) = self.out.take() {
            // Unfinished: the content is incomplete by definition; discard it.
            drop(out.into_parts());
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
