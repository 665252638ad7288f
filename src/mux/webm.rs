//! WebM writer for one track per file: VP8, VP9, AV1 video or Opus audio.
//!
//! Why not the `webm` crate (libwebm): it builds here, but libwebm seeds the
//! `TrackUID` from `time(NULL)` and offers no way to set it, so the same
//! frames muxed a second apart give different bytes (seen: 7 bytes differ),
//! breaking deterministic output (STYLE.md #30). Patching the UID afterwards
//! is not exact either: libwebm writes it in 6 or 7 bytes depending on the
//! random value, which shifts every later offset. The crate also cannot set
//! Opus `CodecDelay`/`SeekPreRoll`. So this is a minimal hand-written
//! Matroska writer (RFC 9559, WebM subset) that only does what a recording
//! needs; everything patched at the end has a fixed width.
//!
//! Layout: EBML header; Segment (8-byte size, patched) with SeekHead (Info,
//! Tracks, Cues), Info (1 ms timestamp scale, Duration patched), Tracks (one
//! TrackEntry, `TrackUID` from the caller), Clusters of SimpleBlocks (a new
//! one at each video keyframe and at least every 5 s, so one cluster is the
//! most held in memory), Cues (one per cluster that starts with a keyframe).
//!
//! Timestamps: `(ts - first_ts) * 1e9 / clock_rate` in integer arithmetic
//! from the RTP timestamps, so no drift; stored in milliseconds. Video
//! starts at the first keyframe whose size is known (from the frame, or read
//! from the VP8/VP9 keyframe header or AV1 sequence header); AV1 also needs a
//! sequence header in that keyframe for `CodecPrivate` (`av1C`). Frames with
//! a timestamp before the previous one are dropped; equal timestamps (and
//! sub-millisecond steps) are nudged 1 ms later so block times strictly
//! increase. Opus gaps stay gaps in time: WebM blocks carry timestamps.

use super::atomic::AtomicFile;
use super::av1c;
use super::ebml::{self, id};
use super::opus::{self, OPUS_RATE};
use super::{MuxError, MuxStats, OutputFile};
use crate::codec::{vp8, vp9};
use crate::media::Frame;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

/// A new cluster starts at least this often (ms), bounding memory and the i16 block offsets.
const MAX_CLUSTER_MS: u64 = 5_000;

/// Opus decoders need 80 ms of preroll after a seek (RFC 7845 §4.6; Matroska `SeekPreRoll`).
const OPUS_SEEK_PRE_ROLL_NS: u64 = 80_000_000;

/// The codec of the single track in a WebM file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebmCodec {
    /// VP8 (`V_VP8`).
    Vp8,
    /// VP9 (`V_VP9`).
    Vp9,
    /// AV1 (`V_AV1`), frames as low-overhead OBUs with size fields, no temporal delimiters needed.
    Av1,
    /// Opus (`A_OPUS`), with `OpusHead` as `CodecPrivate`.
    Opus {
        /// Output channels: 1 or 2.
        channels: u8,
        /// Samples to skip at the start (RFC 7845 §4.2), written as `CodecDelay` too.
        pre_skip: u16,
        /// Original input rate, informational.
        input_sample_rate: u32,
    },
}

impl WebmCodec {
    fn codec_id(self) -> &'static str {
        match self {
            Self::Vp8 => "V_VP8",
            Self::Vp9 => "V_VP9",
            Self::Av1 => "V_AV1",
            Self::Opus { .. } => "A_OPUS",
        }
    }

    fn is_video(self) -> bool {
        !matches!(self, Self::Opus { .. })
    }
}

/// Parameters of a WebM file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebmConfig {
    /// The track's codec.
    pub codec: WebmCodec,
    /// RTP clock rate of the frames' timestamps (90000 for video, 48000 for Opus).
    pub clock_rate: u32,
    /// Matroska `TrackUID`; derive it from the asset id (non-zero), never from randomness.
    pub track_uid: u64,
}

/// File offsets patched by `finish`, known once the header is written.
#[derive(Debug)]
struct Layout {
    segment_size_pos: u64,
    segment_data_start: u64,
    duration_pos: u64,
    cues_seek_pos: u64,
}

/// The cluster being filled: its timestamp and encoded children.
#[derive(Debug)]
struct Cluster {
    ts_ms: u64,
    starts_with_key: bool,
    body: Vec<u8>,
}

/// Writes one track to a WebM file.
#[derive(Debug)]
pub struct WebmWriter {
    file: AtomicFile,
    config: WebmConfig,
    layout: Option<Layout>,
    first_ts: u64,
    last_ts: u64,
    last_ms: u64,
    /// Duration of the last frame in ns: Opus from its TOC, video the last frame interval.
    last_duration_ns: u64,
    last_ns: u64,
    cluster: Option<Cluster>,
    /// The last written cluster's buffer, emptied, for the next cluster.
    spare_body: Vec<u8>,
    /// (time ms, cluster offset from the segment data start).
    cues: Vec<(u64, u64)>,
    stats: MuxStats,
}

impl WebmWriter {
    /// Creates the (temporary) file; the header is written with the first usable frame.
    pub fn new(path: impl Into<PathBuf>, config: WebmConfig) -> Result<Self, MuxError> {
        if config.clock_rate == 0 {
            return Err(MuxError::Config("WebM track with clock rate 0".into()));
        }
        if config.track_uid == 0 {
            return Err(MuxError::Config("Matroska TrackUID must not be 0".into()));
        }
        if let WebmCodec::Opus { channels, .. } = config.codec
            && !(1..=2).contains(&channels)
        {
            return Err(MuxError::Config(format!(
                "WebM Opus with {channels} channels: only mono and stereo are supported"
            )));
        }
        let mut file = AtomicFile::create(path)?;
        // Sizes, duration and cues are patched in at the end.
        file.will_patch();
        // Nothing reads a WebM track's file back before the run ends.
        file.hash_may_wait();
        Ok(Self {
            file,
            config,
            layout: None,
            first_ts: 0,
            last_ts: 0,
            last_ms: 0,
            last_duration_ns: 0,
            last_ns: 0,
            cluster: None,
            spare_body: Vec::new(),
            cues: Vec::new(),
            stats: MuxStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> MuxStats {
        self.stats
    }

    /// Appends one frame (a video access unit or an Opus packet).
    pub fn write_frame(&mut self, frame: &Frame) -> Result<(), MuxError> {
        let data = match self.config.codec {
            // The Matroska AV1 mapping keeps temporal delimiter OBUs out of blocks;
            // RTP senders drop them (AV1 RTP payload format), but tolerate a leading one.
            WebmCodec::Av1 => frame
                .data
                .strip_prefix(&[0x12, 0x00])
                .unwrap_or(&frame.data),
            _ => &frame.data,
        };
        let opus_samples = match self.config.codec {
            WebmCodec::Opus { .. } => frame.duration.or_else(|| opus::packet_samples(data)),
            _ => Some(0),
        };
        let Some(opus_samples) = opus_samples.filter(|_| !data.is_empty()) else {
            self.stats.dropped_invalid += 1;
            return Ok(());
        };
        if self.layout.is_none() {
            let Some(track) = self.track_entry(frame) else {
                self.stats.dropped_before_keyframe += 1;
                return Ok(());
            };
            self.write_header(&track)?;
            self.first_ts = frame.ts;
            self.last_ts = frame.ts;
        } else if frame.ts < self.last_ts {
            self.stats.dropped_backward += 1;
            return Ok(());
        }
        let ns = ticks_to_ns(frame.ts - self.first_ts, self.config.clock_rate);
        let mut ms = ns / 1_000_000;
        let first = self.stats.frames_written == 0;
        if !first && ms <= self.last_ms {
            ms = self.last_ms + 1;
            self.stats.nudged += 1;
        }
        let key = frame.keyframe || !self.config.codec.is_video();
        self.last_duration_ns = match self.config.codec {
            WebmCodec::Opus { .. } => ticks_to_ns(opus_samples, OPUS_RATE),
            _ if first => 0,
            _ => ns.saturating_sub(self.last_ns),
        };
        self.last_ns = ns;
        self.last_ts = frame.ts;
        self.last_ms = ms;

        let new_cluster = match &self.cluster {
            None => true,
            Some(c) => (key && self.config.codec.is_video()) || ms - c.ts_ms >= MAX_CLUSTER_MS,
        };
        if new_cluster {
            self.flush_cluster()?;
            // The last cluster's buffer, grown to a cluster's size already.
            let mut body = std::mem::take(&mut self.spare_body);
            ebml::uint(&mut body, id::TIMESTAMP, ms);
            self.cluster = Some(Cluster {
                ts_ms: ms,
                starts_with_key: key,
                body,
            });
        }
        let c = self.cluster.as_mut().expect("a cluster was just ensured");
        let rel = i16::try_from(ms - c.ts_ms).expect("clusters span less than MAX_CLUSTER_MS");
        ebml::put_id(&mut c.body, id::SIMPLE_BLOCK);
        ebml::put_size(&mut c.body, 4 + data.len() as u64);
        c.body.push(0x81); // track number 1 as a 1-byte vint
        c.body.extend_from_slice(&rel.to_be_bytes());
        c.body.push(if key { 0x80 } else { 0 });
        c.body.extend_from_slice(data);
        self.stats.frames_written += 1;
        Ok(())
    }

    /// The TrackEntry for the first frame, or `None` if it cannot start the file.
    fn track_entry(&self, frame: &Frame) -> Option<Vec<u8>> {
        let c = self.config.codec;
        let mut codec_private = None;
        let mut dims = frame.dimensions;
        match c {
            WebmCodec::Opus {
                channels,
                pre_skip,
                input_sample_rate,
            } => codec_private = Some(opus::opus_head(channels, pre_skip, input_sample_rate)),
            _ if !frame.keyframe => return None,
            WebmCodec::Vp8 => {
                dims = dims.or_else(|| vp8::parse_payload_header(&frame.data).ok()?.dimensions);
            }
            WebmCodec::Vp9 => {
                dims = dims.or_else(|| vp9::parse_frame_header(&frame.data).dimensions());
            }
            WebmCodec::Av1 => {
                let (record, sh) = av1c::av1c_from_temporal_unit(&frame.data)?;
                codec_private = Some(record);
                let from_sh = (
                    u16::try_from(sh.max_frame_width).ok()?,
                    u16::try_from(sh.max_frame_height).ok()?,
                );
                dims = dims.or(Some(from_sh));
            }
        }
        if c.is_video() && dims.is_none_or(|(w, h)| w == 0 || h == 0) {
            return None;
        }
        let mut t = Vec::new();
        ebml::master(&mut t, id::TRACKS, |t| {
            ebml::master(t, id::TRACK_ENTRY, |e| {
                ebml::uint(e, id::TRACK_NUMBER, 1);
                ebml::uint(e, id::TRACK_UID, self.config.track_uid);
                ebml::uint(e, id::TRACK_TYPE, if c.is_video() { 1 } else { 2 });
                ebml::uint(e, id::FLAG_LACING, 0);
                ebml::bytes(e, id::CODEC_ID, c.codec_id().as_bytes());
                if let Some(p) = &codec_private {
                    ebml::bytes(e, id::CODEC_PRIVATE, p);
                }
                match c {
                    WebmCodec::Opus {
                        channels, pre_skip, ..
                    } => {
                        ebml::uint(e, id::CODEC_DELAY, ticks_to_ns(pre_skip.into(), OPUS_RATE));
                        ebml::uint(e, id::SEEK_PRE_ROLL, OPUS_SEEK_PRE_ROLL_NS);
                        ebml::master(e, id::AUDIO, |a| {
                            ebml::float(a, id::SAMPLING_FREQUENCY, f64::from(OPUS_RATE));
                            ebml::uint(a, id::CHANNELS, channels.into());
                        });
                    }
                    _ => {
                        let (w, h) = dims.unwrap_or((0, 0));
                        ebml::master(e, id::VIDEO, |v| {
                            ebml::uint(v, id::PIXEL_WIDTH, w.into());
                            ebml::uint(v, id::PIXEL_HEIGHT, h.into());
                        });
                    }
                }
            });
        });
        Some(t)
    }

    fn write_header(&mut self, tracks: &[u8]) -> Result<(), MuxError> {
        let mut h = Vec::new();
        ebml::master(&mut h, id::EBML, |e| {
            ebml::uint(e, id::EBML_VERSION, 1);
            ebml::uint(e, id::EBML_READ_VERSION, 1);
            ebml::uint(e, id::EBML_MAX_ID_LENGTH, 4);
            ebml::uint(e, id::EBML_MAX_SIZE_LENGTH, 8);
            ebml::bytes(e, id::DOC_TYPE, b"webm");
            // Version 4 for CodecDelay and SeekPreRoll.
            ebml::uint(e, id::DOC_TYPE_VERSION, 4);
            ebml::uint(e, id::DOC_TYPE_READ_VERSION, 2);
        });
        ebml::put_id(&mut h, id::SEGMENT);
        let segment_size_pos = h.len() as u64;
        ebml::put_size8(&mut h, 0);
        let data_start = h.len() as u64;

        let mut info_body = Vec::new();
        ebml::uint(&mut info_body, id::TIMESTAMP_SCALE, 1_000_000);
        let duration_in_body = info_body.len() + 3; // 2-byte ID, 1-byte size
        ebml::float(&mut info_body, id::DURATION, 0.0);
        ebml::bytes(&mut info_body, id::MUXING_APP, b"rtprec");
        ebml::bytes(&mut info_body, id::WRITING_APP, b"rtprec");
        let mut info = Vec::new();
        ebml::put_id(&mut info, id::INFO);
        ebml::put_size(&mut info, info_body.len() as u64);
        let duration_in_info = info.len() + duration_in_body;
        info.extend_from_slice(&info_body);

        // Fixed-width positions make the SeekHead's size independent of its values.
        let seek_head = |info_pos: u64, tracks_pos: u64| {
            let mut s = Vec::new();
            ebml::master(&mut s, id::SEEK_HEAD, |s| {
                for (target, pos) in [
                    (id::INFO, info_pos),
                    (id::TRACKS, tracks_pos),
                    (id::CUES, 0),
                ] {
                    ebml::master(s, id::SEEK, |e| {
                        let mut target_id = Vec::new();
                        ebml::put_id(&mut target_id, target);
                        ebml::bytes(e, id::SEEK_ID, &target_id);
                        ebml::uint8(e, id::SEEK_POSITION, pos);
                    });
                }
            });
            s
        };
        let sh_len = seek_head(0, 0).len() as u64;
        let sh = seek_head(sh_len, sh_len + info.len() as u64);
        // The Cues SeekPosition is the SeekHead's last child's last 8 bytes.
        let cues_seek_pos = data_start + sh.len() as u64 - 8;
        let duration_pos = data_start + sh.len() as u64 + duration_in_info as u64;
        h.extend_from_slice(&sh);
        h.extend_from_slice(&info);
        h.extend_from_slice(tracks);
        self.file.write_all(&h).map_err(|e| self.file.io_err(e))?;
        self.layout = Some(Layout {
            segment_size_pos,
            segment_data_start: data_start,
            duration_pos,
            cues_seek_pos,
        });
        Ok(())
    }

    fn flush_cluster(&mut self) -> Result<(), MuxError> {
        let Some(c) = self.cluster.take() else {
            return Ok(());
        };
        let start = self
            .layout
            .as_ref()
            .expect("clusters follow the header")
            .segment_data_start;
        let pos = self.file.len() - start;
        if c.starts_with_key {
            self.cues.push((c.ts_ms, pos));
        }
        let mut head = Vec::with_capacity(12);
        ebml::put_id(&mut head, id::CLUSTER);
        ebml::put_size(&mut head, c.body.len() as u64);
        let written = self
            .file
            .write_all(&head)
            .and_then(|()| self.file.write_all(&c.body))
            .map_err(|e| self.file.io_err(e));
        self.spare_body = c.body;
        self.spare_body.clear();
        written
    }

    /// Writes the last cluster and the cues, patches sizes and duration, renames into place.
    ///
    /// Without a usable frame there is no playable file: the temporary file
    /// is removed and [`MuxError::NoFrames`] returned.
    pub fn finish(mut self) -> Result<OutputFile, MuxError> {
        if self.layout.is_none() {
            return Err(MuxError::NoFrames);
        }
        self.flush_cluster()?;
        let layout = self.layout.take().expect("checked above");
        let cues_pos = self.file.len() - layout.segment_data_start;
        let mut cues = Vec::new();
        ebml::master(&mut cues, id::CUES, |c| {
            for &(ms, pos) in &self.cues {
                ebml::master(c, id::CUE_POINT, |p| {
                    ebml::uint(p, id::CUE_TIME, ms);
                    ebml::master(p, id::CUE_TRACK_POSITIONS, |t| {
                        ebml::uint(t, id::CUE_TRACK, 1);
                        ebml::uint(t, id::CUE_CLUSTER_POSITION, pos);
                    });
                });
            }
        });
        let codec_delay_ns = match self.config.codec {
            WebmCodec::Opus { pre_skip, .. } => ticks_to_ns(pre_skip.into(), OPUS_RATE),
            _ => 0,
        };
        let end_ns =
            (self.last_ms * 1_000_000 + self.last_duration_ns).saturating_sub(codec_delay_ns);
        let duration_ms = end_ns as f64 / 1e6;
        let stats = self.stats;
        let f = &mut self.file;
        let result = (|| {
            f.write_all(&cues)?;
            let segment_size = f.len() - layout.segment_data_start;
            let mut size = Vec::new();
            ebml::put_size8(&mut size, segment_size);
            f.seek(SeekFrom::Start(layout.segment_size_pos))?;
            f.write_all(&size)?;
            f.seek(SeekFrom::Start(layout.duration_pos))?;
            f.write_all(&duration_ms.to_be_bytes())?;
            f.seek(SeekFrom::Start(layout.cues_seek_pos))?;
            f.write_all(&cues_pos.to_be_bytes())?;
            f.seek(SeekFrom::End(0))?;
            Ok(())
        })();
        result.map_err(|e| self.file.io_err(e))?;
        let done = self.file.finish()?;
        Ok(OutputFile {
            path: done.path,
            size: done.size,
            sha256: done.sha256,
            duration_ms: end_ns / 1_000_000,
            stats,
            exports: Vec::new(),
        })
    }
}

/// Clock ticks to nanoseconds, exactly (u128 intermediate), saturating at u64::MAX.
fn ticks_to_ns(ticks: u64, clock_rate: u32) -> u64 {
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(clock_rate.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vp8_frame(ts: u64, key: bool) -> Frame {
        Frame {
            ts,
            duration: None,
            keyframe: key,
            dimensions: key.then_some((64, 48)),
            data: vec![if key { 0x10 } else { 0x11 }, 1, 2, 3],
        }
    }

    fn config(codec: WebmCodec) -> WebmConfig {
        WebmConfig {
            codec,
            clock_rate: 90_000,
            track_uid: 0x1234_5678,
        }
    }

    #[test]
    fn ticks_to_ns_is_exact() {
        assert_eq!(ticks_to_ns(90_000, 90_000), 1_000_000_000);
        assert_eq!(ticks_to_ns(3000, 90_000), 33_333_333);
        assert_eq!(ticks_to_ns(960, 48_000), 20_000_000);
        // Ten hours of 90 kHz ticks do not drift.
        assert_eq!(ticks_to_ns(90_000 * 36_000, 90_000), 36_000 * 1_000_000_000);
        assert_eq!(ticks_to_ns(u64::MAX, 1), u64::MAX);
    }

    #[test]
    fn waits_for_keyframe_drops_backward_nudges_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.webm");
        let mut w = WebmWriter::new(&path, config(WebmCodec::Vp8)).unwrap();
        let frames = [
            vp8_frame(100, false), // before the first keyframe
            vp8_frame(1000, true),
            vp8_frame(4000, false),
            vp8_frame(4000, false), // equal: nudged
            vp8_frame(3000, false), // backward: dropped
            vp8_frame(7000, false),
        ];
        for f in &frames {
            w.write_frame(f).unwrap();
        }
        let s = w.stats();
        assert_eq!(s.dropped_before_keyframe, 1);
        assert_eq!(s.dropped_backward, 1);
        assert_eq!(s.nudged, 1);
        assert_eq!(s.frames_written, 4);
        let out = w.finish().unwrap();
        // Last frame at 66.7 ms (block time 66) plus the last RTP interval, 33.3 ms.
        assert_eq!(out.duration_ms, 99);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], &[0x1A, 0x45, 0xDF, 0xA3]);
        assert_eq!(bytes.len() as u64, out.size);
    }

    #[test]
    fn same_input_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut hashes = Vec::new();
        for name in ["a.webm", "b.webm"] {
            let mut w = WebmWriter::new(dir.path().join(name), config(WebmCodec::Vp8)).unwrap();
            for i in 0..100 {
                w.write_frame(&vp8_frame(i * 3000, i % 30 == 0)).unwrap();
            }
            hashes.push(w.finish().unwrap().sha256);
        }
        assert_eq!(hashes[0], hashes[1]);
    }

    #[test]
    fn no_keyframe_means_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WebmWriter::new(dir.path().join("v.webm"), config(WebmCodec::Vp9)).unwrap();
        w.write_frame(&vp8_frame(0, false)).unwrap();
        assert!(matches!(w.finish(), Err(MuxError::NoFrames)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn av1_keyframe_without_sequence_header_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WebmWriter::new(dir.path().join("v.webm"), config(WebmCodec::Av1)).unwrap();
        let mut f = vp8_frame(0, true);
        f.data = vec![0x32, 0x01, 0x00]; // a frame OBU only
        w.write_frame(&f).unwrap();
        assert_eq!(w.stats().dropped_before_keyframe, 1);
    }

    #[test]
    fn bad_config_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.webm");
        let mut c = config(WebmCodec::Vp8);
        c.track_uid = 0;
        assert!(WebmWriter::new(&p, c).is_err());
        let c = WebmConfig {
            clock_rate: 0,
            ..config(WebmCodec::Vp8)
        };
        assert!(WebmWriter::new(&p, c).is_err());
        let c = config(WebmCodec::Opus {
            channels: 3,
            pre_skip: 312,
            input_sample_rate: 48_000,
        });
        assert!(WebmWriter::new(&p, c).is_err());
    }
}
