//! MP4 (ISO/IEC 14496-12/-15) writer for one H.264 (`avc1`) or H.265 (`hvc1`) track.
//!
//! Layout: `ftyp`, `moov`, `mdat` ("faststart": `moov` first, so a browser can
//! play the file while it downloads). Sizes and offsets are known only at the
//! end, so sample data is spooled to a temporary file beside the output while
//! recording and copied behind `moov` by [`Mp4Writer::finish`]; memory holds
//! only per-sample size, duration and sync flag (a few bytes per frame).
//!
//! Timing: timescale = the RTP clock (90 kHz); RTP timestamps are
//! presentation times, kept exactly (integral, relative to the first frame, no
//! drift). Without B-frames, decode time = presentation time and durations
//! are the timestamp differences (`stts`, run-length coded, variable rates
//! kept; the last sample lasts as long as the one before). With B-frames
//! (timestamps going back in decode order, as in Membrane's demo capture),
//! decode times are the sorted presentation times shifted earlier by the
//! reorder depth, `ctts` holds the offsets and an edit list (`elst`) starts
//! presentation at 0. A timestamp equal to the previous one is nudged one tick
//! later. Keyframes are sync samples (`stss`). Chunk offsets are 32-bit
//! (`stco`) unless the file passes 4 GiB (`co64`, and a 64-bit `mdat` size).
//!
//! The sample entry (`avcC`/`hvcC`, width, height) is built from the first
//! keyframe, which the depacketizers emit with its parameter sets in front;
//! frames before it are dropped. An SPS the parser cannot read still makes a
//! file (size from the frame or 0, profile fields 0): the decoder reads it. Parameter sets stay in-band in the samples
//! as well, so a mid-stream SPS change still decodes (ISO/IEC 14496-15 wants
//! `avc3`/`hev1` for that, but `avc1`/`hvc1` are what browsers and Apple
//! players accept, and they decode in-band parameter sets).
//!
//! Boxes are encoded with `mp4-atom` 0.17, which has every box needed except
//! a streaming `mdat` (its `Mdat` holds the payload in memory): the `mdat`
//! header (8 bytes, or 16 with a 64-bit size) is written by hand here.
//! Deterministic: creation and modification times are 0.

use super::atomic::AtomicFile;
use super::{MuxError, MuxStats, OutputFile};
use crate::codec::h26x::split_length_prefixed;
use crate::codec::{h264, h265};
use crate::media::Frame;
use mp4_atom::{
    Avc1, Avcc, AvccExt, Co64, Ctts, CttsEntry, Dinf, Dref, DrefEntry, Edts, Elst, ElstEntry,
    Encode, FourCC, Ftyp, Hdlr, Hvc1, HvcCArray, Hvcc, Mdhd, Mdia, Minf, Moov, Mvhd, Stbl, Stco,
    Stsc, StscEntry, Stsd, Stss, Stsz, StszSamples, Stts, SttsEntry, Tkhd, Trak, Url, Visual, Vmhd,
};
use std::io::{self, Write};
use std::path::PathBuf;

/// Samples per chunk (`stsc`): small enough for progressive download, few `stco` entries.
const SAMPLES_PER_CHUNK: u32 = 30;

/// The video codec of an MP4 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mp4Codec {
    /// H.264 as `avc1` with `avcC`.
    H264,
    /// H.265 as `hvc1` with `hvcC`.
    H265,
}

/// Parameters of an MP4 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mp4Config {
    /// The track's codec.
    pub codec: Mp4Codec,
    /// RTP clock rate of the frames' timestamps, used as the media timescale.
    pub clock_rate: u32,
}

/// Writes one video track to an MP4 file; see the module doc.
#[derive(Debug)]
pub struct Mp4Writer {
    path: PathBuf,
    config: Mp4Config,
    /// Sample data in order, copied behind `moov` at the end.
    spool: AtomicFile,
    /// The sample entry and (width, height), from the first usable keyframe.
    entry: Option<(mp4_atom::Codec, (u16, u16))>,
    first_ts: u64,
    last_ts: u64,
    sizes: Vec<u32>,
    /// Presentation time of each sample, ticks after the first sample's.
    pts: Vec<i64>,
    /// 1-based numbers of the sync samples.
    sync: Vec<u32>,
    data_len: u64,
    stats: MuxStats,
}

impl Mp4Writer {
    /// Creates the spool file beside `path`; `path` itself appears only in `finish`.
    pub fn new(path: impl Into<PathBuf>, config: Mp4Config) -> Result<Self, MuxError> {
        if config.clock_rate == 0 {
            return Err(MuxError::Config("MP4 track with clock rate 0".into()));
        }
        let path = path.into();
        let mut spool_name = path.file_name().unwrap_or_default().to_os_string();
        spool_name.push(".mdat");
        let mut spool = AtomicFile::create(path.with_file_name(spool_name))?;
        // Never finished (dropping it removes it): hashing it would be wasted.
        spool.will_patch();
        Ok(Mp4Writer {
            path,
            config,
            spool,
            entry: None,
            first_ts: 0,
            last_ts: 0,
            sizes: Vec::new(),
            pts: Vec::new(),
            sync: Vec::new(),
            data_len: 0,
            stats: MuxStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> MuxStats {
        self.stats
    }

    /// Adds one access unit (4-byte length-prefixed NAL units).
    pub fn write_frame(&mut self, f: &Frame) -> Result<(), MuxError> {
        let Ok(size) = u32::try_from(f.data.len()) else {
            self.stats.dropped_invalid += 1;
            return Ok(());
        };
        if size == 0 {
            self.stats.dropped_invalid += 1;
            return Ok(());
        }
        if self.entry.is_none() {
            match f
                .keyframe
                .then(|| sample_entry(self.config.codec, f))
                .flatten()
            {
                Some(e) => {
                    self.entry = Some(e);
                    self.first_ts = f.ts;
                    self.last_ts = f.ts;
                }
                None => {
                    self.stats.dropped_before_keyframe += 1;
                    return Ok(());
                }
            }
        }
        let mut ts = f.ts;
        if !self.sizes.is_empty() && ts == self.last_ts {
            ts += 1;
            self.stats.nudged += 1;
        }
        // The track re-anchors jumps of more than a few seconds, so this fits easily.
        let Ok(pts) = i64::try_from(i128::from(ts) - i128::from(self.first_ts)) else {
            self.stats.dropped_invalid += 1;
            return Ok(());
        };
        self.last_ts = ts;
        self.spool
            .write_all(&f.data)
            .map_err(|e| self.spool.io_err(e))?;
        self.sizes.push(size);
        self.pts.push(pts);
        self.data_len += u64::from(size);
        if f.keyframe {
            self.sync.push(self.sizes.len() as u32);
        }
        self.stats.frames_written += 1;
        Ok(())
    }

    /// Writes `ftyp`, `moov` and `mdat`, and renames the file into place.
    pub fn finish(mut self) -> Result<OutputFile, MuxError> {
        let Some((codec, (width, height))) = self.entry.take() else {
            return Err(MuxError::NoFrames);
        };
        let timing = Timing::new(&self.pts, self.config.clock_rate);
        let ticks = timing.ticks;
        let duration_ms = ticks * 1000 / u64::from(self.config.clock_rate);

        let ftyp = Ftyp {
            major_brand: FourCC::new(b"isom"),
            minor_version: 0x200,
            compatible_brands: match self.config.codec {
                Mp4Codec::H264 => [b"isom", b"iso2", b"avc1", b"mp41"]
                    .map(FourCC::new)
                    .to_vec(),
                Mp4Codec::H265 => [b"isom", b"iso2", b"mp41"].map(FourCC::new).to_vec(),
            },
        };
        let mut head = Vec::new();
        ftyp.encode(&mut head).map_err(encode_err)?;
        let big = self.data_len + 16 > u64::from(u32::MAX);
        let mdat_header = if big { 16 } else { 8 };
        // Chunk offsets depend on moov's size, whose size does not depend on their values.
        let mut moov = self.moov(codec.clone(), (width, height), &timing, duration_ms, 0, big)?;
        let data_start = head.len() as u64 + moov.len() as u64 + mdat_header;
        let co64 = data_start + self.data_len > u64::from(u32::MAX);
        moov = self.moov(
            codec,
            (width, height),
            &timing,
            duration_ms,
            data_start,
            co64,
        )?;
        head.extend_from_slice(&moov);
        if big {
            head.extend_from_slice(&1u32.to_be_bytes());
            head.extend_from_slice(b"mdat");
            head.extend_from_slice(&(self.data_len + 16).to_be_bytes());
        } else {
            head.extend_from_slice(&((self.data_len + 8) as u32).to_be_bytes());
            head.extend_from_slice(b"mdat");
        }

        let mut out = AtomicFile::create(self.path.clone())?;
        out.write_all(&head).map_err(|e| out.io_err(e))?;
        // Through the spool's own descriptor: a finishing MP4 track holds at
        // most two (spool and output), however many tracks there are.
        let copied = self.spool.copy_to(&mut out);
        match copied {
            Ok(n) if n == self.data_len => {}
            Ok(n) => {
                return Err(out.io_err(io::Error::other(format!(
                    "sample spool holds {n} bytes, expected {}",
                    self.data_len
                ))));
            }
            Err(e) => return Err(out.io_err(e)),
        }
        let done = out.finish()?;
        // Dropping the spool removes it.
        drop(self.spool);
        Ok(OutputFile {
            path: done.path,
            size: done.size,
            sha256: done.sha256,
            duration_ms,
            stats: self.stats,
            exports: Vec::new(),
        })
    }

    /// Encodes `moov` with chunk offsets from `data_start`.
    fn moov(
        &self,
        codec: mp4_atom::Codec,
        (width, height): (u16, u16),
        timing: &Timing,
        duration_ms: u64,
        data_start: u64,
        co64: bool,
    ) -> Result<Vec<u8>, MuxError> {
        let ticks = timing.ticks;
        let mut stts: Vec<SttsEntry> = Vec::new();
        for &d in &timing.deltas {
            match stts.last_mut() {
                Some(e) if e.sample_delta == d => e.sample_count += 1,
                _ => stts.push(SttsEntry {
                    sample_count: 1,
                    sample_delta: d,
                }),
            }
        }
        let mut ctts: Vec<CttsEntry> = Vec::new();
        for &o in &timing.offsets {
            match ctts.last_mut() {
                Some(e) if e.sample_offset == o => e.sample_count += 1,
                _ => ctts.push(CttsEntry {
                    sample_count: 1,
                    sample_offset: o,
                }),
            }
        }
        let n = self.sizes.len() as u32;
        let mut stsc = vec![StscEntry {
            first_chunk: 1,
            samples_per_chunk: SAMPLES_PER_CHUNK.min(n),
            sample_description_index: 1,
        }];
        let full_chunks = n / SAMPLES_PER_CHUNK;
        if n > SAMPLES_PER_CHUNK && !n.is_multiple_of(SAMPLES_PER_CHUNK) {
            stsc.push(StscEntry {
                first_chunk: full_chunks + 1,
                samples_per_chunk: n % SAMPLES_PER_CHUNK,
                sample_description_index: 1,
            });
        }
        let mut offsets = Vec::new();
        let mut pos = data_start;
        for chunk in self.sizes.chunks(SAMPLES_PER_CHUNK as usize) {
            offsets.push(pos);
            pos += chunk.iter().map(|&s| u64::from(s)).sum::<u64>();
        }
        let (stco, co64) = if co64 {
            (None, Some(Co64 { entries: offsets }))
        } else {
            let entries = offsets.iter().map(|&o| o as u32).collect();
            (Some(Stco { entries }), None)
        };
        let stbl = Stbl {
            stsd: Stsd {
                codecs: vec![codec],
            },
            stts: Stts { entries: stts },
            ctts: (timing.shift > 0).then_some(Ctts { entries: ctts }),
            // All samples sync: stss may be left out (ISO/IEC 14496-12 §8.6.2).
            stss: (self.sync.len() < self.sizes.len()).then(|| Stss {
                entries: self.sync.clone(),
            }),
            stsc: Stsc { entries: stsc },
            stsz: Stsz {
                samples: StszSamples::Different {
                    sizes: self.sizes.clone(),
                },
            },
            stco,
            co64,
            ..Default::default()
        };
        let moov = Moov {
            mvhd: Mvhd {
                timescale: 1000,
                duration: duration_ms,
                rate: 1u16.into(),
                volume: 1u8.into(),
                next_track_id: 2,
                ..Default::default()
            },
            trak: vec![Trak {
                tkhd: Tkhd {
                    track_id: 1,
                    duration: duration_ms,
                    enabled: true,
                    in_movie: true,
                    width: width.into(),
                    height: height.into(),
                    ..Default::default()
                },
                // B-frames: the first decode times precede the first presentation time.
                edts: (timing.shift > 0).then(|| Edts {
                    elst: Some(Elst {
                        entries: vec![ElstEntry {
                            segment_duration: duration_ms,
                            media_time: Some(timing.shift),
                            media_rate: 1i16.into(),
                        }],
                    }),
                }),
                mdia: Mdia {
                    mdhd: Mdhd {
                        timescale: self.config.clock_rate,
                        duration: ticks,
                        language: "und".into(),
                        ..Default::default()
                    },
                    hdlr: Hdlr {
                        handler: FourCC::new(b"vide"),
                        name: "VideoHandler".into(),
                    },
                    minf: Minf {
                        vmhd: Some(Vmhd::default()),
                        dinf: Dinf {
                            dref: Dref {
                                entries: vec![DrefEntry::Url(Url::default())],
                            },
                        },
                        stbl,
                        ..Default::default()
                    },
                },
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut out = Vec::new();
        moov.encode(&mut out).map_err(encode_err)?;
        Ok(out)
    }
}

/// Decode times and composition offsets from presentation times (see the module doc).
#[derive(Debug)]
struct Timing {
    /// Decode duration of each sample (`stts`).
    deltas: Vec<u32>,
    /// Presentation minus decode time of each sample (`ctts`), all 0 without B-frames.
    offsets: Vec<i64>,
    /// Reorder depth in ticks: the presentation time of the earliest frame (`elst`).
    shift: u64,
    /// Sum of the deltas.
    ticks: u64,
}

impl Timing {
    fn new(pts: &[i64], clock_rate: u32) -> Self {
        let mut sorted = pts.to_vec();
        sorted.sort_unstable();
        // Decode times must strictly increase: a repeated timestamp gets the next tick.
        for i in 1..sorted.len() {
            if sorted[i] <= sorted[i - 1] {
                sorted[i] = sorted[i - 1] + 1;
            }
        }
        // dts = sorted - shift never passes pts.
        let shift = pts
            .iter()
            .zip(&sorted)
            .map(|(&p, &s)| s - p)
            .max()
            .unwrap_or(0)
            .max(0);
        let mut deltas: Vec<u32> = sorted
            .windows(2)
            .map(|w| u32::try_from(w[1] - w[0]).unwrap_or(u32::MAX))
            .collect();
        let last = deltas.last().copied().unwrap_or((clock_rate / 30).max(1));
        deltas.push(last);
        let offsets = pts
            .iter()
            .zip(&sorted)
            .map(|(&p, &s)| p - s + shift)
            .collect();
        let ticks = deltas.iter().map(|&d| u64::from(d)).sum();
        Timing {
            deltas,
            offsets,
            shift: shift as u64,
            ticks,
        }
    }
}

fn encode_err(e: mp4_atom::Error) -> MuxError {
    MuxError::Config(format!("MP4 box encoding failed: {e}"))
}

/// The sample entry and size from a keyframe's in-band parameter sets, if it has them.
fn sample_entry(codec: Mp4Codec, f: &Frame) -> Option<(mp4_atom::Codec, (u16, u16))> {
    let nals = split_length_prefixed(&f.data)?;
    let visual = |(width, height): (u16, u16)| Visual {
        data_reference_index: 1,
        width,
        height,
        ..Default::default()
    };
    match codec {
        Mp4Codec::H264 => {
            let first = |t: u8| nals.iter().find(|n| n[0] & 0x1f == t);
            let (sps, pps) = (first(7)?, first(8)?);
            // An SPS we cannot read is still the decoder's to read: keep the stream,
            // with the size the frame says (or 0) and no high-profile extension.
            let parsed = h264::parse_sps(sps).ok();
            let dims = parsed
                .map(|p| p.dimensions())
                .or(f.dimensions)
                .unwrap_or((0, 0));
            let ext = parsed.filter(|p| p.is_high()).map(|p| AvccExt {
                chroma_format: p.chroma_format_idc as u8,
                bit_depth_luma: 8 + p.bit_depth_luma_minus8.min(7) as u8,
                bit_depth_chroma: 8 + p.bit_depth_chroma_minus8.min(7) as u8,
                sequence_parameter_sets_ext: Vec::new(),
            });
            let avcc = Avcc {
                ext,
                ..Avcc::new(sps, pps).ok()?
            };
            let entry = Avc1 {
                visual: visual(dims),
                avcc,
                ..Default::default()
            };
            Some((entry.into(), dims))
        }
        Mp4Codec::H265 => {
            let first = |t: u8| {
                nals.iter()
                    .find(|n| n.len() >= 2 && (n[0] >> 1) & 0x3f == t)
            };
            let (vps, sps, pps) = (first(32)?, first(33)?, first(34)?);
            // Without a readable SPS the record's profile fields stay 0 (4:2:0, 8 bits);
            // decoders read the parameter sets in the arrays and in-band anyway.
            let s = h265::parse_sps(sps).unwrap_or(h265::Sps {
                max_sub_layers_minus1: 0,
                temporal_id_nesting: true,
                profile_space: 0,
                tier: false,
                profile_idc: 0,
                compatibility: [0; 4],
                constraints: [0; 6],
                level_idc: 0,
                chroma_format_idc: 1,
                bit_depth_luma_minus8: 0,
                bit_depth_chroma_minus8: 0,
                width: f.dimensions.map_or(0, |d| u32::from(d.0)),
                height: f.dimensions.map_or(0, |d| u32::from(d.1)),
            });
            let dims = s.dimensions();
            let array = |t: u8, nal: &[u8]| HvcCArray {
                completeness: true,
                nal_unit_type: t,
                nalus: vec![nal.to_vec()],
            };
            let hvcc = Hvcc {
                configuration_version: 1,
                general_profile_space: s.profile_space,
                general_tier_flag: s.tier,
                general_profile_idc: s.profile_idc,
                general_profile_compatibility_flags: s.compatibility,
                general_constraint_indicator_flags: s.constraints,
                general_level_idc: s.level_idc,
                chroma_format_idc: s.chroma_format_idc,
                bit_depth_luma_minus8: s.bit_depth_luma_minus8,
                bit_depth_chroma_minus8: s.bit_depth_chroma_minus8,
                num_temporal_layers: s.max_sub_layers_minus1 + 1,
                temporal_id_nested: s.temporal_id_nesting,
                length_size_minus_one: 3,
                arrays: vec![array(32, vps), array(33, sps), array(34, pps)],
                ..Default::default()
            };
            let entry = Hvc1 {
                visual: visual(dims),
                hvcc,
                ..Default::default()
            };
            Some((entry.into(), dims))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mp4_atom::{Any, Decode};

    /// x264 320x240 Constrained Baseline SPS and PPS.
    const SPS: [u8; 22] = [
        0x67, 0x42, 0xc0, 0x0d, 0xda, 0x05, 0x07, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40,
        0x00, 0x00, 0x0f, 0x23, 0xc5, 0x0a, 0xa8,
    ];
    const PPS: [u8; 4] = [0x68, 0xce, 0x3c, 0x80];

    fn avcc(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&(n.len() as u32).to_be_bytes()[..], n].concat())
            .collect()
    }

    fn frame(ts: u64, keyframe: bool, data: Vec<u8>) -> Frame {
        Frame {
            ts,
            duration: None,
            keyframe,
            dimensions: None,
            data,
        }
    }

    #[test]
    fn timing_without_and_with_b_frames() {
        let t = Timing::new(&[0, 3000, 6000, 9500], 90_000);
        assert_eq!(
            (t.deltas, t.shift, t.ticks),
            (vec![3000, 3000, 3500, 3500], 0, 13_000)
        );
        assert!(t.offsets.iter().all(|&o| o == 0));
        // Decode order I P B B (presentation 0, 9000, 3000, 6000).
        let t = Timing::new(&[0, 9000, 3000, 6000], 90_000);
        assert_eq!(t.deltas, [3000, 3000, 3000, 3000]);
        // Decode times 0, 3000, 6000, 9000; the P frame decodes 3000 before it shows.
        assert_eq!(t.shift, 3000);
        // Composition = decode + offset = 3000, 12000, 6000, 9000; elst starts at 3000.
        assert_eq!(t.offsets, [3000, 9000, 0, 0]);
        // Repeated timestamps still give strictly increasing decode times.
        let t = Timing::new(&[0, 0, 0], 90_000);
        assert_eq!(t.deltas, [1, 1, 1]);
        assert_eq!(Timing::new(&[5], 90_000).deltas, [3000]);
    }

    #[test]
    fn no_keyframe_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.mp4");
        let mut w = Mp4Writer::new(
            &path,
            Mp4Config {
                codec: Mp4Codec::H264,
                clock_rate: 90_000,
            },
        )
        .unwrap();
        w.write_frame(&frame(0, false, avcc(&[&[0x41, 0x9a]])))
            .unwrap();
        // A keyframe without parameter sets cannot start the file either.
        w.write_frame(&frame(3000, true, avcc(&[&[0x65, 0x88]])))
            .unwrap();
        assert_eq!(w.stats().dropped_before_keyframe, 2);
        assert!(matches!(w.finish(), Err(MuxError::NoFrames)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn unreadable_sps_still_makes_a_file() {
        let dir = tempfile::tempdir().unwrap();
        for codec in [Mp4Codec::H264, Mp4Codec::H265] {
            let path = dir.path().join(format!("{codec:?}.mp4"));
            let cfg = Mp4Config {
                codec,
                clock_rate: 90_000,
            };
            let mut w = Mp4Writer::new(&path, cfg).unwrap();
            let key = match codec {
                Mp4Codec::H264 => avcc(&[&[0x67, 0x42, 0xc0, 0x0d], &PPS, &[0x65, 0x88]]),
                Mp4Codec::H265 => avcc(&[&[0x40, 1], &[0x42, 1, 1], &[0x44, 1], &[0x26, 1, 0x80]]),
            };
            let mut f = frame(0, true, key);
            f.dimensions = Some((64, 48));
            w.write_frame(&f).unwrap();
            let out = w.finish().unwrap();
            assert_eq!(out.stats.frames_written, 1);
            assert_eq!(out.duration_ms, 33);
        }
    }

    #[test]
    fn moov_before_mdat_with_tables_from_rtp_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.mp4");
        let cfg = Mp4Config {
            codec: Mp4Codec::H264,
            clock_rate: 90_000,
        };
        let mut w = Mp4Writer::new(&path, cfg).unwrap();
        let key = avcc(&[&SPS, &PPS, &[0x65, 0x88, 1, 2, 3]]);
        let inter = avcc(&[&[0x41, 0x9a, 4]]);
        let mut frames = vec![frame(1_000_000, true, key.clone())];
        let mut ts = 1_000_000;
        for i in 1..70u64 {
            // Variable frame intervals, a keyframe at 40.
            ts += 3000 + (i % 3) * 10;
            frames.push(frame(
                ts,
                i == 40,
                if i == 40 { key.clone() } else { inter.clone() },
            ));
        }
        for f in &frames {
            w.write_frame(f).unwrap();
        }
        let out = w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(out.size, bytes.len() as u64);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "spool removed"
        );
        let mut buf = &bytes[..];
        let kinds: Vec<Any> =
            std::iter::from_fn(|| (!buf.is_empty()).then(|| Any::decode(&mut buf).expect("a box")))
                .collect();
        let (Any::Ftyp(_), Any::Moov(moov), Any::Mdat(mdat)) = (&kinds[0], &kinds[1], &kinds[2])
        else {
            panic!("ftyp, moov, mdat: {kinds:?}");
        };
        let stbl = &moov.trak[0].mdia.minf.stbl;
        let deltas: Vec<u32> = stbl
            .stts
            .entries
            .iter()
            .flat_map(|e| std::iter::repeat_n(e.sample_delta, e.sample_count as usize))
            .collect();
        let mut want: Vec<u32> = frames
            .windows(2)
            .map(|w| (w[1].ts - w[0].ts) as u32)
            .collect();
        // The last sample lasts as long as the one before.
        want.push(want[want.len() - 1]);
        assert_eq!(deltas, want);
        assert_eq!(stbl.stss.as_ref().unwrap().entries, [1, 41]);
        assert!(stbl.ctts.is_none() && moov.trak[0].edts.is_none());
        assert_eq!(moov.trak[0].mdia.mdhd.timescale, 90_000);
        assert_eq!(moov.trak[0].tkhd.width.integer(), 320);
        // Chunks of 30 samples: 30, 30, 10; offsets point at the sample bytes.
        let offsets = &stbl.stco.as_ref().unwrap().entries;
        assert_eq!(offsets.len(), 3);
        let data_start = bytes.len() - mdat.data.len();
        assert_eq!(offsets[0] as usize, data_start);
        assert_eq!(&bytes[offsets[0] as usize..][..key.len()], &key[..]);
        let second = data_start + key.len() + 29 * inter.len();
        assert_eq!(offsets[1] as usize, second);
        assert_eq!(out.duration_ms, (ts + 3000 - 1_000_000) * 1000 / 90_000);
        // Same frames, same bytes.
        let path2 = dir.path().join("w.mp4");
        let mut w = Mp4Writer::new(&path2, cfg).unwrap();
        for f in &frames {
            w.write_frame(f).unwrap();
        }
        assert_eq!(w.finish().unwrap().sha256, out.sha256);
    }
}
