//! Muxers: media frames in, one complete file per track out.
//!
//! Ogg Opus (RFC 7845) in [`ogg`], WebM (VP8, VP9, AV1, Opus) in [`webm`],
//! MP4 (H.264, H.265) in [`mp4`].
//! WAV (PCMU, PCMA, G.722, L16) in [`wav`].
//! Every file goes through [`atomic::AtomicFile`]: it is written under a
//! temporary name, hashed (SHA-256) while written, synced and renamed, so a
//! file that exists under its final name is complete.
//!
//! Output bytes are a function of the input frames and the configuration only:
//! no random serials or UIDs, no wall-clock dates (STYLE.md #30).
//!
//! Tolerated input, counted in [`MuxStats`] and never fatal: timestamps going
//! backwards (dropped), equal timestamps (video: nudged by 1 ms), video before
//! the first usable keyframe (dropped), Opus packets whose duration cannot be
//! read (dropped), Opus loss/DTX gaps (filled with packets the decoder conceals;
//! a jump of more than an hour is taken as a timestamp discontinuity, not filled),
//! WAV loss/DTX gaps (filled with silence of exactly the missing length).

pub mod atomic;
mod av1c;
mod ebml;
pub mod export;
#[cfg(test)]
mod ffmpeg_tests;
pub mod g722;
pub mod libopus;
pub mod mp4;
pub mod ogg;
mod oggpage;
pub mod opus;
pub mod sha256;
pub mod wav;
pub mod webm;

use std::io;
use std::path::PathBuf;

pub use atomic::{AtomicFile, FdBudget};
pub use mp4::{Mp4Codec, Mp4Config, Mp4Writer};
pub use ogg::{OggOpusWriter, OpusConfig};
pub use wav::{WavCodec, WavConfig, WavWriter};
pub use webm::{WebmCodec, WebmConfig, WebmWriter};

/// A finished recording file, as the asset manifest describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    /// Final path of the file (it exists and is complete).
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: [u8; 32],
    /// Playable duration in milliseconds.
    pub duration_ms: u64,
    /// What the muxer dropped, nudged or inserted on the way.
    pub stats: MuxStats,
    /// Files derived from this one (`--audio-export`), complete like it.
    pub exports: Vec<export::ExportFile>,
}

impl OutputFile {
    /// The SHA-256 as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Counters of what a muxer did to the frames it was given; none of it is fatal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MuxStats {
    /// Frames written as given.
    pub frames_written: u64,
    /// Packets inserted to fill loss or DTX gaps (Ogg Opus), or silences inserted (WAV).
    pub frames_inserted: u64,
    /// Frames dropped because their timestamp went backwards.
    pub dropped_backward: u64,
    /// Frames dropped because they could not be used (empty, unreadable duration).
    pub dropped_invalid: u64,
    /// Video frames dropped while waiting for the first usable keyframe.
    pub dropped_before_keyframe: u64,
    /// Frames whose timestamp was moved later to keep timestamps strictly increasing.
    pub nudged: u64,
    /// Forward timestamp jumps too large to be a gap (Ogg Opus, WAV): audio continues unshifted-by-fill.
    pub discontinuities: u64,
}

/// Errors that stop one track's file; input oddities are counted in [`MuxStats`] instead.
#[derive(Debug, thiserror::Error)]
pub enum MuxError {
    /// Reading or writing the output failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The final path of the file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The writer was configured with values it cannot write.
    #[error("unsupported muxer configuration: {0}")]
    Config(String),
    /// `finish` was called before any frame could be written; no file is left behind.
    #[error("no usable frames: nothing to write")]
    NoFrames,
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
    }
}
