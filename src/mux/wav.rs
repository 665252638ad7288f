//! RIFF/WAVE writer for telephony audio: PCMU, PCMA (G.711), G.722, L16 (RFC 3551 §4.5).
//!
//! Formats written, chosen so that the file plays in as many places as possible:
//!
//! - **PCMU, PCMA** are decoded to 16-bit linear PCM (`WAVE_FORMAT_PCM`, tag 1)
//!   with the ITU-T G.711 expansion rules (Tables 1a/1b and 2a/2b, as in the
//!   classic Sun `g711.c` that ffmpeg and sox also use). WAV files with
//!   `WAVE_FORMAT_MULAW` (7) or `WAVE_FORMAT_ALAW` (6) would keep the bytes, but
//!   browsers' `<audio>` and many editors refuse them, while 16-bit PCM plays
//!   everywhere; the expansion is lossless (every G.711 code has exactly one
//!   16-bit value), so nothing is lost but disk space (2x).
//! - **L16** becomes 16-bit PCM little-endian (WAV's byte order; RTP's is
//!   big-endian, §4.5.11), with the stream's channels and sample rate (= clock rate).
//! - **G.722** is decoded ([`super::g722`], ITU-T G.722, bit-exact with
//!   ffmpeg) to 16-bit PCM at 16000 Hz, mono. Keeping the octets in a WAV with
//!   format tag `0x028F` (what ffmpeg writes for `adpcm_g722`) would be 4x
//!   smaller, but Chromium refuses such files (`DEMUXER_ERROR_NO_SUPPORTED_STREAMS`,
//!   checked with Chromium 156), and ADPCM has no code for exact silence, so
//!   gaps could only be filled approximately.
//!
//! Timing: WAV has no timestamps, only consecutive samples, so the written
//! sample count is the timeline. A frame whose RTP timestamp is after the end
//! of the audio written so far (loss, or silence suppression: comfort noise
//! packets, PT 13, are another payload type and never reach the muxer) is
//! preceded by exactly the missing ticks of silence (zero samples; G.722's
//! decoder state carries over the gap, as a receiver without concealment
//! would). Frames whose timestamp is not after the previous frame's are
//! dropped; a forward jump of more than an hour is a timestamp discontinuity,
//! not filled (as in [`super::ogg`]). A frame that starts before the end of the written audio
//! (a sender whose timestamps advance less than its payloads last, or SRTP
//! payloads still carrying their authentication tag) loses its overlapping
//! first samples (counted as `nudged`), or is dropped when it lies wholly in
//! the past (`dropped_backward`), so every sample stays at its RTP time.
//!
//! The RIFF and `data` sizes are patched in [`WavWriter::finish`]; WAV sizes
//! are 32-bit, so audio that would make the file reach 4 GiB is dropped and
//! counted (`dropped_invalid`).

use super::atomic::AtomicFile;
use super::g722::G722Decoder;
use super::{MuxError, MuxStats, OutputFile};
use crate::media::Frame;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

/// The audio codecs a WAV file is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavCodec {
    /// G.711 mu-law, decoded to 16-bit PCM.
    Pcmu,
    /// G.711 A-law, decoded to 16-bit PCM.
    Pcma,
    /// G.722, decoded to 16-bit PCM at 16 kHz.
    G722,
    /// Linear 16-bit PCM, converted from network to little-endian byte order.
    L16,
}

/// Parameters of a WAV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavConfig {
    /// Codec of the RTP payloads.
    pub codec: WavCodec,
    /// RTP clock rate: the sample rate for G.711 and L16; ignored for G.722 (always 8000, §4.5.2).
    pub clock_rate: u32,
    /// Interleaved channels (G.722: 1 only).
    pub channels: u8,
}

/// `WAVE_FORMAT_PCM`.
const FORMAT_PCM: u16 = 1;
/// G.722 audio sample rate: twice the 8000 Hz RTP clock (RFC 3551 §4.5.2).
const G722_RATE: u32 = 16_000;

/// Longest gap filled (one hour): a longer forward jump is a timestamp
/// discontinuity (a sender reset its timestamps), not silence to write out.
const MAX_FILL_SECONDS: u64 = 3600;

/// Largest `data` chunk: the RIFF size field (file length - 8) must fit in 32 bits.
const MAX_DATA_BYTES: u64 = u32::MAX as u64 - 64;

/// Writes one audio track to a RIFF/WAVE file.
#[derive(Debug)]
pub struct WavWriter {
    file: AtomicFile,
    config: WavConfig,
    /// Offset of the `data` chunk's payload (its size field is 4 bytes before).
    data_start: u64,
    /// The G.722 decoder, whose state runs across frames.
    g722: Option<G722Decoder>,
    /// Octets in the `data` chunk so far.
    data_bytes: u64,
    /// RTP timestamp of the first frame: tick 0 of the file.
    first_ts: Option<u64>,
    last_ts: u64,
    /// RTP ticks written so far, real and filled.
    written: u64,
    /// Conversion buffer, reused.
    buf: Vec<u8>,
    stats: MuxStats,
}

impl WavWriter {
    /// Creates the (temporary) file and writes the header with sizes to patch.
    pub fn new(path: impl Into<PathBuf>, config: WavConfig) -> Result<Self, MuxError> {
        let rate_ok = (1..=768_000).contains(&config.clock_rate);
        match config.codec {
            WavCodec::G722 if config.channels != 1 => {
                return Err(MuxError::Config(format!(
                    "G.722 with {} channels: only mono is supported",
                    config.channels
                )));
            }
            WavCodec::G722 => {}
            _ if !rate_ok => {
                return Err(MuxError::Config(format!(
                    "sample rate {} Hz out of range for WAV",
                    config.clock_rate
                )));
            }
            _ if config.channels == 0 || config.channels > 8 => {
                return Err(MuxError::Config(format!(
                    "{} channels: WAV output supports 1 to 8",
                    config.channels
                )));
            }
            _ => {}
        }
        let mut file = AtomicFile::create(path)?;
        file.will_patch();
        let header = header(config);
        file.write_all(&header).map_err(|e| file.io_err(e))?;
        let data_start = header.len() as u64;
        let g722 = (config.codec == WavCodec::G722).then(G722Decoder::new);
        Ok(WavWriter {
            file,
            config,
            data_start,
            g722,
            data_bytes: 0,
            first_ts: None,
            last_ts: 0,
            written: 0,
            buf: Vec::new(),
            stats: MuxStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> MuxStats {
        self.stats
    }

    /// RTP ticks on the written timeline, real audio and filled gaps.
    pub fn ticks(&self) -> u64 {
        self.written
    }

    /// Octets of the `data` chunk so far.
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes
    }

    /// Octets of RTP payload per tick (all channels).
    fn tick_bytes(&self) -> u64 {
        let per_channel = match self.config.codec {
            WavCodec::Pcmu | WavCodec::Pcma | WavCodec::G722 => 1,
            WavCodec::L16 => 2,
        };
        per_channel * u64::from(self.config.channels.max(1))
    }

    /// Octets of WAV data per tick (all channels).
    fn out_bytes_per_tick(&self) -> u64 {
        match self.config.codec {
            // Two 16 kHz samples per 8 kHz tick (RFC 3551 §4.5.2).
            WavCodec::G722 => 4,
            _ => 2 * u64::from(self.config.channels.max(1)),
        }
    }

    /// RTP clock rate of the stream.
    fn clock(&self) -> u64 {
        match self.config.codec {
            WavCodec::G722 => 8000,
            _ => u64::from(self.config.clock_rate.max(1)),
        }
    }

    /// Appends one frame of samples; gaps before it are filled with silence,
    /// backward timestamps dropped.
    pub fn write_frame(&mut self, frame: &Frame) -> Result<(), MuxError> {
        let tb = self.tick_bytes();
        let len = frame.data.len() as u64;
        if len == 0 || !len.is_multiple_of(tb) {
            self.stats.dropped_invalid += 1;
            return Ok(());
        }
        let ticks = len / tb;
        // (ticks of silence before the frame, ticks of the frame already covered)
        let (fill, skip) = match self.first_ts {
            None => {
                self.first_ts = Some(frame.ts);
                (0, 0)
            }
            Some(_) if frame.ts <= self.last_ts => {
                self.stats.dropped_backward += 1;
                return Ok(());
            }
            Some(first) => {
                let end = first.saturating_add(self.written);
                let gap = frame.ts.saturating_sub(end);
                let overlap = end.saturating_sub(frame.ts);
                if gap > MAX_FILL_SECONDS * self.clock() {
                    // Re-anchor so that later frames are timed from this one.
                    self.first_ts = Some(frame.ts - self.written);
                    self.stats.discontinuities += 1;
                    (0, 0)
                } else if overlap >= ticks {
                    self.last_ts = frame.ts;
                    self.stats.dropped_backward += 1;
                    return Ok(());
                } else {
                    (gap, overlap)
                }
            }
        };
        let ticks = ticks - skip;
        let out_per_tick = self.out_bytes_per_tick();
        let need = (fill + ticks) * out_per_tick;
        if self.data_bytes + need > MAX_DATA_BYTES {
            self.stats.dropped_invalid += 1;
            return Ok(());
        }
        self.last_ts = frame.ts;
        if fill > 0 {
            self.write_silence(fill * out_per_tick)?;
            self.written += fill;
            self.stats.frames_inserted += 1;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        // The whole frame is converted, so G.722's decoder state stays in step
        // with the encoder's; then the overlap is cut (skip < ticks, so inside).
        convert(self.config.codec, self.g722.as_mut(), &frame.data, &mut buf);
        let cut = (skip * out_per_tick) as usize;
        let r = self.write_data(buf.get(cut..).unwrap_or_default());
        self.buf = buf;
        r?;
        self.written += ticks;
        self.stats.frames_written += 1;
        self.stats.nudged += u64::from(skip > 0);
        Ok(())
    }

    /// Writes `bytes` octets of silence in bounded chunks (the length is input-derived).
    fn write_silence(&mut self, bytes: u64) -> Result<(), MuxError> {
        let chunk = [0u8; 8192];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            self.write_data(&chunk[..n])?;
            left -= n as u64;
        }
        Ok(())
    }

    fn write_data(&mut self, bytes: &[u8]) -> Result<(), MuxError> {
        self.file
            .write_all(bytes)
            .map_err(|e| self.file.io_err(e))?;
        self.data_bytes += bytes.len() as u64;
        Ok(())
    }

    /// Samples per channel at the WAV sample rate.
    fn samples(&self) -> u64 {
        self.data_bytes / (2 * u64::from(self.config.channels.max(1)))
    }

    /// Patches the sizes, and renames the file into place.
    ///
    /// Without any frame there is nothing playable: the temporary file is
    /// removed and [`MuxError::NoFrames`] returned.
    pub fn finish(mut self) -> Result<OutputFile, MuxError> {
        if self.stats.frames_written == 0 {
            return Err(MuxError::NoFrames);
        }
        // 16-bit samples: the data chunk always has an even length, so no RIFF pad byte.
        let riff_size = self.data_start + self.data_bytes - 8;
        let samples = self.samples();
        let rate = sample_rate(self.config);
        for (at, value) in [(4, riff_size), (self.data_start - 4, self.data_bytes)] {
            // Sizes are capped by MAX_DATA_BYTES; saturate rather than wrap all the same.
            let v = u32::try_from(value).unwrap_or(u32::MAX);
            self.file
                .seek(SeekFrom::Start(at))
                .and_then(|_| self.file.write_all(&v.to_le_bytes()))
                .map_err(|e| self.file.io_err(e))?;
        }
        let stats = self.stats;
        let done = self.file.finish()?;
        Ok(OutputFile {
            path: done.path,
            size: done.size,
            sha256: done.sha256,
            duration_ms: samples * 1000 / u64::from(rate),
            stats,
            exports: Vec::new(),
        })
    }
}

/// WAV sample rate of a config.
fn sample_rate(c: WavConfig) -> u32 {
    match c.codec {
        WavCodec::G722 => G722_RATE,
        _ => c.clock_rate.max(1),
    }
}

/// The 44-byte PCM header (`WAVEFORMAT`, 16 bits per sample), sizes zero (patched in `finish`).
fn header(c: WavConfig) -> Vec<u8> {
    let rate = sample_rate(c);
    let ch = u16::from(c.channels.max(1));
    let block = ch * 2;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&FORMAT_PCM.to_le_bytes());
    h.extend_from_slice(&ch.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&0u32.to_le_bytes());
    h
}

/// Converts RTP payload bytes to WAV data bytes (16-bit little-endian samples).
fn convert(codec: WavCodec, g722: Option<&mut G722Decoder>, data: &[u8], out: &mut Vec<u8>) {
    match (codec, g722) {
        (WavCodec::Pcmu, _) => {
            out.extend(data.iter().flat_map(|&b| ulaw_to_linear(b).to_le_bytes()))
        }
        (WavCodec::Pcma, _) => {
            out.extend(data.iter().flat_map(|&b| alaw_to_linear(b).to_le_bytes()))
        }
        (WavCodec::G722, Some(d)) => out.extend(
            data.iter()
                .flat_map(|&b| d.decode(b))
                .flat_map(i16::to_le_bytes),
        ),
        // `new` creates the decoder for G.722; without one, silence of the right length.
        (WavCodec::G722, None) => out.resize(out.len() + data.len() * 4, 0),
        (WavCodec::L16, _) => out.extend(data.chunks_exact(2).flat_map(|s| [s[1], s[0]])),
    }
}

/// G.711 mu-law code to 16-bit linear PCM (ITU-T G.711 Tables 2a/2b).
///
/// The code is sent inverted; after inversion bit 7 is the sign, bits 6..4
/// the segment (exponent) and bits 3..0 the step within it. The magnitude is
/// `((step << 3) + 0x84) << segment) - 0x84` on the 16-bit scale (the 14-bit
/// G.711 value times 4): 0xFF is 0, 0x00 is -32124.
pub fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let segment = (u >> 4) & 0x07;
    let magnitude = (((i32::from(u & 0x0f) << 3) + 0x84) << segment) - 0x84;
    let v = if u & 0x80 != 0 { -magnitude } else { magnitude };
    v as i16
}

/// G.711 A-law code to 16-bit linear PCM (ITU-T G.711 Tables 1a/1b).
///
/// Even bits are inverted on the line (XOR 0x55); then bit 7 set means
/// positive, bits 6..4 are the segment and 3..0 the step. Segment 0 is linear
/// (`step * 16 + 8`), segment `s` >= 1 is `(step * 16 + 0x108) << (s - 1)`, on
/// the 16-bit scale (the 13-bit G.711 value times 8): 0xD5 is 8, 0x55 is -8.
pub fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let step = i32::from(a & 0x0f) << 4;
    let magnitude = match (a >> 4) & 0x07 {
        0 => step + 8,
        s => (step + 0x108) << (s - 1),
    };
    let v = if a & 0x80 != 0 { magnitude } else { -magnitude };
    v as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(ts: u64, data: Vec<u8>) -> Frame {
        Frame {
            ts,
            duration: None,
            keyframe: true,
            dimensions: None,
            data,
        }
    }

    fn cfg(codec: WavCodec, clock_rate: u32, channels: u8) -> WavConfig {
        WavConfig {
            codec,
            clock_rate,
            channels,
        }
    }

    /// Writes the frames and returns the file's bytes and the output.
    fn run(c: WavConfig, frames: &[Frame]) -> (Vec<u8>, OutputFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wav");
        let mut w = WavWriter::new(&path, c).unwrap();
        for f in frames {
            w.write_frame(f).unwrap();
        }
        let out = w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(out.size, bytes.len() as u64);
        use sha2::Digest;
        assert_eq!(out.sha256, <[u8; 32]>::from(sha2::Sha256::digest(&bytes)));
        (bytes, out)
    }

    fn u32_at(b: &[u8], i: usize) -> u32 {
        u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
    }

    #[test]
    fn g711_table_values() {
        // (code, mu-law, A-law): ITU-T G.711 decision/output values on the 16-bit scale.
        let cases: &[(u8, i16, i16)] = &[
            (0xff, 0, 848),
            (0x7f, 0, -848),
            (0x00, -32124, -5504),
            (0x80, 32124, 5504),
            (0xd5, 716, 8),
            (0x55, -716, -8),
            (0xaa, 5372, 32256),
            (0x2a, -5372, -32256),
            (0xfe, 8, 880),
        ];
        for &(code, mu, a) in cases {
            assert_eq!(ulaw_to_linear(code), mu, "mu-law {code:#04x}");
            assert_eq!(alaw_to_linear(code), a, "A-law {code:#04x}");
        }
        // Every code decodes to a distinct value but the two mu-law zeros.
        let mut mu: Vec<i16> = (0..=255).map(ulaw_to_linear).collect();
        let mut al: Vec<i16> = (0..=255).map(alaw_to_linear).collect();
        mu.sort_unstable();
        mu.dedup();
        al.sort_unstable();
        al.dedup();
        assert_eq!((mu.len(), al.len()), (255, 256));
    }

    #[test]
    fn pcm_header_bytes() {
        let (b, out) = run(cfg(WavCodec::Pcma, 8000, 1), &[frame(10, vec![0xd5; 4])]);
        let want: Vec<u8> = [
            &b"RIFF"[..],
            &(36u32 + 8).to_le_bytes(),
            b"WAVEfmt ",
            &16u32.to_le_bytes(),
            &1u16.to_le_bytes(),
            &1u16.to_le_bytes(),
            &8000u32.to_le_bytes(),
            &16000u32.to_le_bytes(),
            &2u16.to_le_bytes(),
            &16u16.to_le_bytes(),
            b"data",
            &8u32.to_le_bytes(),
            &[8, 0, 8, 0, 8, 0, 8, 0],
        ]
        .concat();
        assert_eq!(b, want);
        assert_eq!(out.duration_ms, 0);
        assert_eq!(out.stats.frames_written, 1);
    }

    #[test]
    fn g722_is_decoded_to_16_khz_pcm() {
        // The reset decoder turns the encoder's silence code into near-zero samples.
        let (b, out) = run(cfg(WavCodec::G722, 8000, 1), &[frame(0, vec![0xfa; 3])]);
        assert_eq!(u16::from_le_bytes([b[20], b[21]]), 1, "PCM");
        assert_eq!(u32_at(&b, 24), 16_000);
        assert_eq!(u32_at(&b, 28), 32_000);
        assert_eq!(u32_at(&b, 40), 12, "3 octets = 6 samples");
        assert_eq!(b.len(), 44 + 12);
        assert_eq!(out.duration_ms, 0);
    }

    #[test]
    fn l16_is_byte_swapped_with_channels_and_rate() {
        let (b, out) = run(
            cfg(WavCodec::L16, 44_100, 2),
            &[frame(
                0,
                vec![0x12, 0x34, 0xfe, 0xdc, 0x00, 0x01, 0x80, 0x00],
            )],
        );
        assert_eq!(u16::from_le_bytes([b[22], b[23]]), 2);
        assert_eq!(u32_at(&b, 24), 44_100);
        assert_eq!(u32_at(&b, 28), 44_100 * 4);
        assert_eq!(&b[44..], [0x34, 0x12, 0xdc, 0xfe, 0x01, 0x00, 0x00, 0x80]);
        assert_eq!(out.stats.frames_written, 1);
    }

    #[test]
    fn gaps_are_filled_and_backward_dropped() {
        // (ts, octets) at 8 kHz PCMU; expected data octets after each.
        let far = 2110 + 3600 * 8000 + 1;
        let frames = [
            frame(1000, vec![0xff; 160]),
            frame(1160, vec![0xff; 160]),
            frame(1160, vec![0xff; 160]), // duplicate timestamp: dropped
            frame(900, vec![0xff; 160]),  // older: dropped
            frame(1640, vec![0x80; 160]), // 2 packets lost: 320 ticks of silence
            frame(1790, vec![0x80; 160]), // overlaps the written end by 10: trimmed to 150
            frame(1950, vec![0x80; 160]), // exactly at the written end
            frame(1955, vec![0x80; 80]),  // wholly inside the written audio: dropped
            frame(far, vec![0x80; 80]),   // over an hour ahead: a discontinuity, not filled
            frame(far + 80 + 7, vec![0x80; 8]), // 7 ticks of gap
        ];
        let (b, out) = run(cfg(WavCodec::Pcmu, 8000, 1), &frames);
        let s = out.stats;
        assert_eq!(
            (
                s.frames_written,
                s.dropped_backward,
                s.frames_inserted,
                s.discontinuities,
                s.nudged
            ),
            (7, 3, 2, 1, 1)
        );
        let samples: Vec<i16> = b[44..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(samples.len(), 1205);
        assert!(samples[..320].iter().all(|&v| v == 0), "0xFF is zero");
        assert!(samples[320..640].iter().all(|&v| v == 0));
        assert!(samples[640..1190].iter().all(|&v| v == 32124));
        assert!(samples[1190..1197].iter().all(|&v| v == 0));
        assert!(samples[1197..].iter().all(|&v| v == 32124));
        assert_eq!(u32_at(&b, 40) as usize, samples.len() * 2);
        assert_eq!(out.duration_ms, samples.len() as u64 * 1000 / 8000);
    }

    #[test]
    fn g722_gap_is_exact_silence() {
        let frames = [frame(0, vec![0x11; 160]), frame(400, vec![0x22; 160])];
        let (b, out) = run(cfg(WavCodec::G722, 8000, 1), &frames);
        let data = &b[44..];
        // 560 ticks at 8 kHz = 1120 samples at 16 kHz.
        assert_eq!(data.len(), 1120 * 2);
        assert!(data[160 * 4..400 * 4].iter().all(|&x| x == 0));
        assert!(data[..160 * 4].iter().any(|&x| x != 0));
        assert_eq!(out.duration_ms, 70);
    }

    #[test]
    fn invalid_frames_and_configs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wav");
        for bad in [
            cfg(WavCodec::G722, 8000, 2),
            cfg(WavCodec::L16, 0, 1),
            cfg(WavCodec::L16, 44_100, 0),
        ] {
            assert!(matches!(
                WavWriter::new(&path, bad),
                Err(MuxError::Config(_))
            ));
        }
        let mut w = WavWriter::new(&path, cfg(WavCodec::L16, 16_000, 2)).unwrap();
        w.write_frame(&frame(0, vec![])).unwrap();
        w.write_frame(&frame(0, vec![1, 2, 3])).unwrap();
        assert_eq!(w.stats().dropped_invalid, 2);
        assert!(matches!(w.finish(), Err(MuxError::NoFrames)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn same_input_same_bytes() {
        let frames: Vec<_> = (0..50)
            .map(|i| frame(i * 200, vec![i as u8; 160]))
            .collect();
        let (a, _) = run(cfg(WavCodec::Pcma, 8000, 1), &frames);
        let (b, _) = run(cfg(WavCodec::Pcma, 8000, 1), &frames);
        assert_eq!(a, b);
    }

    proptest! {
        /// Random frames never panic; the data size is the frames plus the filled silence,
        /// and matches the header.
        #[test]
        fn data_is_frames_plus_silence(
            c in 0usize..4,
            channels in 1u8..3,
            steps in prop::collection::vec((0u64..400, 1usize..200, any::<bool>()), 1..40),
        ) {
            let codec = [WavCodec::Pcmu, WavCodec::Pcma, WavCodec::G722, WavCodec::L16][c];
            let channels = if codec == WavCodec::G722 { 1 } else { channels };
            let c = cfg(codec, 8000, channels);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("p.wav");
            let mut w = WavWriter::new(&path, c).unwrap();
            let tick_bytes = if codec == WavCodec::L16 { 2 } else { 1 } * usize::from(channels);
            let out_per_tick = if codec == WavCodec::G722 { 4 } else { 2 * u64::from(channels) };
            // Model: every accepted frame ends at its own RTP time on the written timeline.
            let mut ts = 5000u64;
            let (mut first, mut last, mut end) = (None::<u64>, 0u64, 0u64);
            let (mut written, mut inserted) = (0u64, 0u64);
            for (dts, ticks, back) in steps {
                ts = if back { ts.saturating_sub(dts) } else { ts + dts };
                let ticks = ticks as u64;
                w.write_frame(&frame(ts, vec![0x5a; ticks as usize * tick_bytes])).unwrap();
                match first {
                    None => (first, end, written) = (Some(ts), ts + ticks, 1),
                    Some(_) if ts <= last => continue,
                    Some(_) if ts + ticks <= end => {}
                    Some(_) => {
                        inserted += u64::from(ts > end);
                        end = ts + ticks;
                        written += 1;
                    }
                }
                last = ts;
                let first = first.unwrap_or(0);
                prop_assert_eq!(w.ticks(), end - first);
            }
            let s = w.stats();
            prop_assert_eq!((s.frames_written, s.frames_inserted), (written, inserted));
            prop_assert_eq!(w.data_bytes(), w.ticks() * out_per_tick);
            let data_bytes = w.data_bytes();
            let out = w.finish().unwrap();
            let b = std::fs::read(&path).unwrap();
            prop_assert_eq!(u64::from(u32_at(&b, 40)), data_bytes);
            prop_assert_eq!(b.len() as u64, 44 + data_bytes);
            prop_assert_eq!(u64::from(u32_at(&b, 4)), b.len() as u64 - 8);
            prop_assert!(out.stats.frames_written >= 1);
        }
    }
}
