//! Errors and diagnostics that locate the bad input: file, record, byte offset.

use crate::time::CaptureTime;
use std::fmt;
use std::path::PathBuf;

/// Index of an input file in the order given on the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u16);

/// Where in the input a packet came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketCtx {
    /// Which input file.
    pub file: FileId,
    /// 1-based record (frame) number within that file.
    pub frame: u64,
    /// Byte offset of the record in the (decompressed) file.
    pub offset: u64,
    /// Capture time of the record.
    pub time: CaptureTime,
    /// The RTP packet in the record, once it is known to hold one.
    pub rtp: Option<RtpCtx>,
}

/// Which RTP packet: its stream and sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpCtx {
    /// The packet's SSRC.
    pub ssrc: u32,
    /// Its sequence number.
    pub seq: u16,
}

/// A non-fatal problem with one packet or record, counted and reported once per kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem was seen first.
    pub ctx: PacketCtx,
    /// Stable short name of the kind of problem, e.g. `ip-truncated`.
    pub kind: &'static str,
    /// Human explanation.
    pub message: String,
}

impl Diagnostic {
    /// Renders the diagnostic with the file's display name.
    pub fn display<'a>(&'a self, file_name: &'a str) -> impl fmt::Display + 'a {
        DiagnosticDisplay { d: self, file_name }
    }
}

struct DiagnosticDisplay<'a> {
    d: &'a Diagnostic,
    file_name: &'a str,
}

impl fmt::Display for DiagnosticDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: frame {} (byte offset {})",
            self.file_name, self.d.ctx.frame, self.d.ctx.offset
        )?;
        if let Some(r) = self.d.ctx.rtp {
            write!(f, ", SSRC 0x{:08X} seq {}", r.ssrc, r.seq)?;
        }
        write!(f, ": {} [{}]", self.d.message, self.d.kind)
    }
}

/// Fatal errors reading a capture file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The input's display name.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The first bytes match no supported capture format.
    #[error(
        "{path}: not a capture file: unknown magic bytes {magic} (expected pcap, pcapng, rtpdump or a Chromium log with `# RTP_DUMP` lines, optionally gzip-compressed)"
    )]
    UnknownFormat {
        /// The input's display name.
        path: PathBuf,
        /// The first bytes, in hex.
        magic: String,
    },
    /// The file is empty.
    #[error("{path}: empty file")]
    Empty {
        /// The input's display name.
        path: PathBuf,
    },
    /// A structural error that makes the rest of the file unreadable.
    #[error("{path}: record {record} (byte offset {offset}): {message}")]
    Malformed {
        /// The input's display name.
        path: PathBuf,
        /// 1-based record number (0 for the file header).
        record: u64,
        /// Byte offset in the (decompressed) file.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A line of a text capture (a Chromium RTP dump) that cannot be read.
    #[error("{path}: line {line} (byte offset {offset}): {message}")]
    BadLine {
        /// The input's display name.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line's start in the (decompressed) file.
        offset: u64,
        /// What is wrong.
        message: String,
    },
}

/// Errors of the library's top-level operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A capture could not be read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// An input other than a capture could not be read or is invalid (the
    /// manifest an earlier run left in the output directory).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Output could not be written (the output directory, the manifest), or
    /// the system refused what the run needs (a thread).
    #[error("{context}: {source}")]
    Output {
        /// What was being done.
        context: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}
