//! Ogg Opus writer (RFC 7845) on `oggpage`'s page writer (`src/mux/oggpage.rs`).
//!
//! Layout (§3): `OpusHead` alone on the first page (BOS), `OpusTags` on its own
//! page, then audio pages of about one second each; the last page has EOS.
//! The serial number comes from the caller (derived from the asset id), so the
//! same frames give the same bytes.
//!
//! Granule positions (§4): the granule of a page is the number of 48 kHz
//! samples decoded from all packets completed up to that page. Pre-skip
//! samples are part of that count (they are decoded, then discarded), so
//! after `n` 20 ms packets the granule is `960 * n` and the playable duration
//! is `granule - pre_skip` (§4.2). The page writer copies the granule we give
//! it, so this module computes it.
//!
//! Timing: frames carry RTP timestamps (48 kHz for Opus, RFC 7587 §4.1).
//! Ogg has no per-packet timestamps, only the running sample count, so a
//! loss or DTX gap would pull later audio earlier. When a frame starts more
//! than half a packet after where the written audio ends, the gap is filled
//! with TOC-only packets that decoders conceal (see [`super::opus::filler_packets`]).
//! Frames whose timestamp is not after the previous frame's are dropped.

use super::atomic::AtomicFile;
use super::oggpage::{OggPageWriter, PageEnd};
use super::opus::{self, DEFAULT_PRE_SKIP, OPUS_RATE};
use super::{MuxError, MuxStats, OutputFile};
use crate::media::Frame;
use std::path::PathBuf;

/// Audio pages end after about this many samples (one second), bounding seek granularity.
const PAGE_SAMPLES: u64 = OPUS_RATE as u64;

/// Parameters of an Ogg Opus file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpusConfig {
    /// Channels the decoder should output: 1 or 2 (mapping family 0).
    pub channels: u8,
    /// Sample rate of the original input, informational only (RFC 7845 §5.1).
    pub input_sample_rate: u32,
    /// Samples to discard at the start (§4.2); [`DEFAULT_PRE_SKIP`] matches libopus encoders.
    pub pre_skip: u16,
    /// Ogg stream serial number; derive it from the asset id, never from randomness.
    pub serial: u32,
}

impl OpusConfig {
    /// A config with 48 kHz input rate and the libopus pre-skip of 312 samples.
    pub fn new(channels: u8, serial: u32) -> Self {
        Self {
            channels,
            input_sample_rate: OPUS_RATE,
            pre_skip: DEFAULT_PRE_SKIP,
            serial,
        }
    }
}

/// Longest gap filled (one hour): a longer forward jump is a timestamp
/// discontinuity (a sender reset its timestamps), not silence to write out.
const MAX_FILL_SAMPLES: u64 = 3600 * OPUS_RATE as u64;

/// Where an incoming frame goes on the written timeline.
#[derive(Debug, PartialEq, Eq)]
enum Placement {
    /// Write it, after `fill` samples of concealed packets.
    Write { fill: u64 },
    /// Write it right after the previous audio: its timestamp jumped too far ahead.
    Discontinuity,
    /// Its timestamp is not after the previous frame's.
    Backward,
}

/// RTP timestamps to a gapless sample count: decides drops and gap fills.
#[derive(Debug, Default)]
struct Timeline {
    /// RTP timestamp of the first frame: sample 0 of the file.
    first_ts: Option<u64>,
    last_ts: u64,
    last_samples: u64,
    /// Samples written so far, real and inserted.
    written: u64,
}

impl Timeline {
    fn place(&mut self, ts: u64, samples: u64) -> Placement {
        let Some(first) = self.first_ts else {
            self.first_ts = Some(ts);
            self.last_ts = ts;
            self.last_samples = samples;
            return Placement::Write { fill: 0 };
        };
        if ts <= self.last_ts {
            return Placement::Backward;
        }
        let end = first.saturating_add(self.written);
        let gap = ts.saturating_sub(end);
        let prev_samples = std::mem::replace(&mut self.last_samples, samples);
        self.last_ts = ts;
        if gap > MAX_FILL_SAMPLES {
            // Re-anchor so that later frames are timed from this one.
            self.first_ts = Some(ts - self.written);
            return Placement::Discontinuity;
        }
        // More than half a packet late: a gap, not jitter in packet durations.
        let fill = if gap * 2 > prev_samples { gap } else { 0 };
        Placement::Write { fill }
    }

    fn advance(&mut self, samples: u64) {
        self.written += samples;
    }
}

/// Writes one Opus track to an Ogg Opus file (RFC 7845).
pub struct OggOpusWriter {
    file: AtomicFile,
    pages: OggPageWriter,
    config: OpusConfig,
    timeline: Timeline,
    /// Held back one packet, so the last one can be written with EOS:
    /// (bytes, granule after it, must end its page).
    pending: Option<(Vec<u8>, u64, bool)>,
    /// Granule at the end of the last completed page.
    page_start: u64,
    last_toc: u8,
    stats: MuxStats,
}

impl std::fmt::Debug for OggOpusWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OggOpusWriter")
            .field("path", &self.file.path())
            .field("config", &self.config)
            .field("granule", &self.timeline.written)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl OggOpusWriter {
    /// Creates the (temporary) file and writes the two header packets.
    pub fn new(path: impl Into<PathBuf>, config: OpusConfig) -> Result<Self, MuxError> {
        if !(1..=2).contains(&config.channels) {
            return Err(MuxError::Config(format!(
                "Ogg Opus with {} channels: only mono and stereo (mapping family 0) are supported",
                config.channels
            )));
        }
        let file = AtomicFile::create(path)?;
        let mut w = Self {
            file,
            pages: OggPageWriter::new(config.serial),
            config,
            timeline: Timeline::default(),
            pending: None,
            page_start: 0,
            last_toc: 0,
            stats: MuxStats::default(),
        };
        // §3: the ID header alone on the first page, which gets BOS.
        let head = opus::opus_head(config.channels, config.pre_skip, config.input_sample_rate);
        w.pages
            .write_packet(&mut w.file, &head, PageEnd::EndPage, 0)
            .map_err(|e| w.file.io_err(e))?;
        // §3: the comment header ends its page; held back in case no audio follows.
        w.pending = Some((opus::opus_tags(), 0, true));
        Ok(w)
    }

    /// Counters so far.
    pub fn stats(&self) -> MuxStats {
        self.stats
    }

    /// Granule position after the packets written so far (§4).
    pub fn granule(&self) -> u64 {
        self.timeline.written
    }

    /// Appends one Opus packet; gaps before it are filled, backward timestamps dropped.
    pub fn write_frame(&mut self, frame: &Frame) -> Result<(), MuxError> {
        let samples = frame
            .duration
            .filter(|d| (1..=5760).contains(d))
            .or_else(|| opus::packet_samples(&frame.data));
        let (Some(samples), Some(&toc)) = (samples, frame.data.first()) else {
            self.stats.dropped_invalid += 1;
            return Ok(());
        };
        match self.timeline.place(frame.ts, samples) {
            Placement::Backward => {
                self.stats.dropped_backward += 1;
                return Ok(());
            }
            Placement::Write { fill } if fill > 0 => {
                // Up to 2.5 ms of the gap may stay unfilled: below one Opus frame.
                let (fillers, _covered) = opus::filler_packets(self.last_toc, fill);
                for p in fillers {
                    let n = opus::packet_samples(&p).expect("filler TOCs have valid durations");
                    self.timeline.advance(n);
                    self.push(p.to_vec())?;
                    self.stats.frames_inserted += 1;
                }
            }
            Placement::Discontinuity => self.stats.discontinuities += 1,
            Placement::Write { .. } => {}
        }
        self.timeline.advance(samples);
        self.last_toc = toc;
        self.push(frame.data.clone())?;
        self.stats.frames_written += 1;
        Ok(())
    }

    /// Queues a packet whose samples are already counted, writing the previous one.
    fn push(&mut self, data: Vec<u8>) -> Result<(), MuxError> {
        self.write_pending(false)?;
        self.pending = Some((data, self.timeline.written, false));
        Ok(())
    }

    fn write_pending(&mut self, last: bool) -> Result<(), MuxError> {
        let Some((data, granule, end_page)) = self.pending.take() else {
            return Ok(());
        };
        let info = if last {
            PageEnd::EndStream
        } else if end_page || granule - self.page_start >= PAGE_SAMPLES {
            PageEnd::EndPage
        } else {
            PageEnd::Open
        };
        if info != PageEnd::Open {
            self.page_start = granule;
        }
        self.pages
            .write_packet(&mut self.file, &data, info, granule)
            .map_err(|e| self.file.io_err(e))
    }

    /// Writes the last page (EOS) and renames the file into place.
    ///
    /// Without any audio packet there is nothing playable: the temporary file
    /// is removed and [`MuxError::NoFrames`] returned.
    pub fn finish(mut self) -> Result<OutputFile, MuxError> {
        if self.timeline.written == 0 {
            return Err(MuxError::NoFrames);
        }
        self.write_pending(true)?;
        let duration_samples = self
            .timeline
            .written
            .saturating_sub(u64::from(self.config.pre_skip));
        let stats = self.stats;
        let done = self.file.finish()?;
        Ok(OutputFile {
            path: done.path,
            size: done.size,
            sha256: done.sha256,
            duration_ms: duration_samples * 1000 / u64::from(OPUS_RATE),
            stats,
            exports: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3-byte packet whose TOC says `samples` (CELT FB up to 20 ms, SILK for 40 and 60 ms).
    fn packet(samples: u64) -> Vec<u8> {
        let config = match samples {
            120 => 28,
            240 => 29,
            480 => 30,
            960 => 31,
            1920 => 2,  // SILK NB 40 ms
            2880 => 11, // SILK WB 60 ms
            _ => unreachable!("test packet size {samples}"),
        };
        vec![config << 3, 0xaa, 0xbb]
    }

    fn frame(ts: u64, samples: u64) -> Frame {
        Frame {
            ts,
            duration: Some(samples),
            keyframe: true,
            dimensions: None,
            data: packet(samples),
        }
    }

    /// (packet, granule of its page, is last in page).
    type ReadPacket = (Vec<u8>, u64, bool);

    /// Reads back every packet of the file.
    fn read_back(path: &std::path::Path) -> Vec<ReadPacket> {
        let f = std::fs::File::open(path).unwrap();
        let mut r = ::ogg::reading::PacketReader::new(f);
        let mut out = Vec::new();
        while let Some(p) = r.read_packet().unwrap() {
            out.push((p.data.clone(), p.absgp_page(), p.last_in_page()));
        }
        out
    }

    /// Granules at the ends of audio pages for a sequence of (ts, samples).
    fn run(frames: &[(u64, u64)]) -> (Vec<u64>, OutputFile, Vec<ReadPacket>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.ogg");
        let mut w = OggOpusWriter::new(&path, OpusConfig::new(1, 7)).unwrap();
        for &(ts, n) in frames {
            w.write_frame(&frame(ts, n)).unwrap();
        }
        let out = w.finish().unwrap();
        let packets = read_back(&path);
        let granules = packets[2..].iter().filter(|p| p.2).map(|p| p.1).collect();
        (granules, out, packets)
    }

    #[test]
    fn granule_counts_decoded_samples_including_pre_skip() {
        let frames: Vec<_> = (0..120).map(|i| (1000 + i * 960, 960)).collect();
        let (granules, out, packets) = run(&frames);
        // Pages end once a second (50 packets) and at the end.
        assert_eq!(granules, [960 * 50, 960 * 100, 960 * 120]);
        assert_eq!(out.duration_ms, (960 * 120 - 312) * 1000 / 48_000);
        assert_eq!(packets.len(), 2 + 120);
        assert_eq!(&packets[0].0[..8], b"OpusHead");
        assert!(packets[0].2, "OpusHead alone on its page");
        assert_eq!(&packets[1].0[..8], b"OpusTags");
        assert!(packets[1].2, "OpusTags ends its page");
        assert_eq!(packets[1].1, 0);
        assert_eq!(out.stats.frames_written, 120);
        assert_eq!(out.stats.frames_inserted, 0);
    }

    #[test]
    fn mixed_packet_durations() {
        // 10, 40, 60, 20, 2.5 ms packets back to back.
        let sizes = [480, 1920, 2880, 960, 120, 480];
        let mut ts = 0;
        let frames: Vec<_> = sizes
            .iter()
            .map(|&n| {
                let f = (ts, n);
                ts += n;
                f
            })
            .collect();
        let (granules, out, _) = run(&frames);
        let total: u64 = sizes.iter().sum();
        assert_eq!(granules, [total]);
        assert_eq!(out.stats.frames_inserted, 0);
    }

    #[test]
    fn timeline_fills_gaps_and_drops_backward() {
        // (ts, samples, expected placement)
        let cases: &[(u64, u64, Placement)] = &[
            (100, 960, Placement::Write { fill: 0 }),
            (1060, 960, Placement::Write { fill: 0 }),
            (1060, 960, Placement::Backward), // duplicate
            (500, 960, Placement::Backward),  // older
            (2020 + 400, 960, Placement::Write { fill: 0 }), // 400 late: jitter, < half a packet
            // 200 ms lost; the 400 samples of lateness before are made up too.
            (
                3380 + 960 * 10,
                960,
                Placement::Write {
                    fill: 960 * 10 + 400,
                },
            ),
        ];
        let mut t = Timeline::default();
        for (i, (ts, n, want)) in cases.iter().enumerate() {
            let got = t.place(*ts, *n);
            match got {
                Placement::Write { fill } => t.advance(fill + n),
                Placement::Discontinuity => t.advance(*n),
                Placement::Backward => {}
            }
            assert_eq!(&got, want, "case {i}");
        }
    }

    #[test]
    fn gap_inserts_concealed_packets() {
        // 10 packets, 200 ms lost, 10 packets.
        let mut frames: Vec<_> = (0..10).map(|i| (i * 960, 960)).collect();
        frames.extend((20..30).map(|i| (i * 960, 960)));
        let (granules, out, packets) = run(&frames);
        assert_eq!(out.stats.frames_inserted, 10);
        assert_eq!(out.stats.frames_written, 20);
        assert_eq!(granules, [30 * 960]);
        let audio = &packets[2..];
        assert_eq!(audio.len(), 30);
        for (i, p) in audio.iter().enumerate() {
            let filler = (10..20).contains(&i);
            assert_eq!(p.0.len() == 1, filler, "packet {i}");
        }
        // The filler copies the configuration of the packet before the gap.
        assert_eq!(audio[10].0, [31 << 3]);
    }

    #[test]
    fn gap_of_odd_length_is_rounded_to_2_5_ms() {
        // 20 ms packets, then one arriving 130 ms + 1.25 ms (60 samples) late.
        let frames = [(0, 960), (960, 960), (1920 + 6240 + 60, 960)];
        let (granules, out, _) = run(&frames);
        // 6300 samples of gap: 6 x 960 + 480 + 0 x 240 + 0 x 120 = 6240 covered, 60 left.
        assert_eq!(out.stats.frames_inserted, 7);
        assert_eq!(granules, [960 * 3 + 6240]);
    }

    #[test]
    fn invalid_and_backward_frames_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.ogg");
        let mut w = OggOpusWriter::new(&path, OpusConfig::new(2, 1)).unwrap();
        let empty = Frame {
            data: vec![],
            duration: None,
            ..frame(0, 960)
        };
        w.write_frame(&empty).unwrap();
        w.write_frame(&frame(960, 960)).unwrap();
        w.write_frame(&frame(0, 960)).unwrap();
        let out = w.finish().unwrap();
        assert_eq!(out.stats.dropped_invalid, 1);
        assert_eq!(out.stats.dropped_backward, 1);
        assert_eq!(out.stats.frames_written, 1);
    }

    #[test]
    fn no_frames_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.ogg");
        let w = OggOpusWriter::new(&path, OpusConfig::new(1, 1)).unwrap();
        assert!(matches!(w.finish(), Err(MuxError::NoFrames)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn same_input_same_bytes() {
        let frames: Vec<_> = (0..60).map(|i| (i * 960, 960)).collect();
        let (_, a, _) = run(&frames);
        let (_, b, _) = run(&frames);
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.size, b.size);
    }

    #[test]
    fn rejects_more_than_two_channels() {
        let dir = tempfile::tempdir().unwrap();
        let err = OggOpusWriter::new(dir.path().join("t.ogg"), OpusConfig::new(6, 1)).unwrap_err();
        assert!(matches!(err, MuxError::Config(_)));
    }
}
