//! Transcription-ready audio (`--audio-export wav16k`): a 16 kHz mono 16-bit
//! PCM WAV decoded from a finished audio track's file, written beside it as
//! `<stem>.16k.wav` (`peer-mic.ogg` → `peer-mic.16k.wav`).
//!
//! The export is decoded from the file just written, not from the packets, so
//! it has exactly the file's timeline: sample `n` of the export is at
//! `n / 16000` s of the track, and the track's `start_offset_ms` places both on
//! the session timeline. Where nothing was received the track's file already
//! holds the gap (Ogg Opus: packets the decoder conceals; WAV: zero samples),
//! so the export keeps it too: concealment fading to silence, or silence.
//!
//! - **Ogg Opus** is decoded with libopus (loaded at run time, see
//!   [`super::libopus`]) straight at 16 kHz mono: libopus resamples
//!   and downmixes stereo itself. TOC-only filler packets and packets libopus
//!   rejects are decoded as lost (packet loss concealment) for their duration.
//!   The pre-skip (RFC 7845 §4.2) is dropped and the length trimmed to the last
//!   granule position, as a player does.
//! - **WAV** (G.711, G.722, L16: already 16-bit PCM) is read back, downmixed
//!   by averaging the channels, and resampled to 16 kHz with [`resample_to_16k`].
//! - Opus in WebM is not exported (rtprec writes Opus to Ogg).

use super::atomic::AtomicFile;
use super::opus::OPUS_RATE;
use super::{MuxError, hex};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Sample rate of the export.
pub const EXPORT_RATE: u32 = 16_000;

/// What `--audio-export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioExport {
    /// 16 kHz mono 16-bit PCM WAV, `<stem>.16k.wav`.
    Wav16k,
}

impl AudioExport {
    /// The name in the CLI and the manifest (`wav16k`).
    pub fn as_str(self) -> &'static str {
        match self {
            AudioExport::Wav16k => "wav16k",
        }
    }

    /// The file name suffix replacing the track file's extension.
    pub fn suffix(self) -> &'static str {
        match self {
            AudioExport::Wav16k => ".16k.wav",
        }
    }

    /// The export's path beside `track`: its extension replaced by [`Self::suffix`].
    pub fn path_beside(self, track: &Path) -> PathBuf {
        let stem = track.file_stem().unwrap_or_default().to_string_lossy();
        track.with_file_name(format!("{stem}{}", self.suffix()))
    }

    /// The export's `/`-separated path relative to the output directory, from the track's.
    pub fn rel_path_beside(self, track_rel: &str) -> String {
        let (dir, name) = track_rel.rsplit_once('/').unwrap_or(("", track_rel));
        let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
        if dir.is_empty() {
            format!("{stem}{}", self.suffix())
        } else {
            format!("{dir}/{stem}{}", self.suffix())
        }
    }
}

/// A finished export file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    /// What it is.
    pub kind: AudioExport,
    /// Final path (complete: written under a temporary name, then renamed).
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// Duration in milliseconds (samples * 1000 / 16000, rounded down).
    pub duration_ms: u64,
    /// Sample rate (16000).
    pub sample_rate: u32,
    /// Channels (1).
    pub channels: u8,
}

impl ExportFile {
    /// The SHA-256 as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

/// The format of the track file an export is decoded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    /// Ogg Opus as [`super::OggOpusWriter`] writes it.
    OggOpus,
    /// 16-bit PCM WAV as [`super::WavWriter`] writes it.
    Wav,
}

/// Decodes the finished track file `source` and writes `kind` beside it.
pub fn export_audio(
    kind: AudioExport,
    source: &Path,
    format: SourceFormat,
) -> Result<ExportFile, MuxError> {
    let io_err = |source_err: std::io::Error| MuxError::Io {
        path: source.to_path_buf(),
        source: source_err,
    };
    let bytes = std::fs::read(source).map_err(io_err)?;
    let mono = match format {
        SourceFormat::OggOpus => decode_ogg_opus(&bytes).map_err(io_err)?,
        SourceFormat::Wav => {
            let (rate, channels, samples) = read_wav(&bytes).map_err(io_err)?;
            resample_to_16k(&downmix(&samples, channels), rate)
        }
    };
    write_wav16k(kind, &kind.path_beside(source), &mono)
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Decodes an Ogg Opus stream to 16 kHz mono samples, pre-skip dropped, trimmed to the last granule.
fn decode_ogg_opus(bytes: &[u8]) -> Result<Vec<i16>, std::io::Error> {
    let mut reader = ::ogg::reading::PacketReader::new(std::io::Cursor::new(bytes));
    let read = |r: &mut ::ogg::reading::PacketReader<_>| {
        r.read_packet()
            .map_err(|e| invalid(format!("reading Ogg: {e}")))
    };
    let head = read(&mut reader)?.ok_or_else(|| invalid("no OpusHead"))?;
    if head.data.len() < 19 || &head.data[..8] != b"OpusHead" {
        return Err(invalid("first packet is not OpusHead"));
    }
    let pre_skip_48k = u64::from(u16::from_le_bytes([head.data[10], head.data[11]]));
    // OpusTags: nothing in it matters here.
    read(&mut reader)?.ok_or_else(|| invalid("no OpusTags"))?;
    // Mono output: libopus downmixes a stereo stream itself.
    let mut decoder = super::libopus::Decoder::new(EXPORT_RATE)
        .map_err(|e| invalid(format!("libopus decoder: {e}")))?;
    let ratio = u64::from(OPUS_RATE / EXPORT_RATE);
    // 120 ms, the longest Opus packet, at 16 kHz.
    let mut buf = vec![0i16; 1920];
    let mut out = Vec::new();
    let mut last_granule = 0u64;
    while let Some(p) = read(&mut reader)? {
        last_granule = p.absgp_page();
        let Some(samples_48k) = super::opus::packet_samples(&p.data) else {
            continue;
        };
        let n = usize::try_from(samples_48k / ratio)
            .unwrap_or(buf.len())
            .min(buf.len());
        let decoded = match decoder.decode(&p.data, &mut buf) {
            Ok(got) if got > 0 => got,
            // A packet libopus rejects (or a TOC-only filler it reads as empty)
            // keeps its length on the timeline: conceal it as lost.
            _ => decoder.decode(&[], &mut buf[..n]).unwrap_or(0),
        };
        // Concealment may give fewer samples than asked: pad to keep the timeline.
        let decoded = decoded.min(buf.len());
        out.extend_from_slice(&buf[..decoded]);
        out.extend(std::iter::repeat_n(0, n.saturating_sub(decoded)));
    }
    let skip = usize::try_from(pre_skip_48k / ratio).unwrap_or(usize::MAX);
    let total = usize::try_from(last_granule.saturating_sub(pre_skip_48k) / ratio).unwrap_or(0);
    let mut pcm: Vec<i16> = out.into_iter().skip(skip).collect();
    pcm.resize(total, 0);
    Ok(pcm)
}

/// Reads a 16-bit PCM WAV: (sample rate, channels, interleaved samples).
fn read_wav(bytes: &[u8]) -> Result<(u32, u16, Vec<i16>), std::io::Error> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(invalid("not a RIFF/WAVE file"));
    }
    let mut at = 12usize;
    let mut fmt: Option<(u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let body_start = at + 8;
        let body_end = body_start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(bytes.len());
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " if body.len() >= 16 => {
                let tag = u16::from_le_bytes([body[0], body[1]]);
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                let bits = u16::from_le_bytes([body[14], body[15]]);
                if tag != 1 || bits != 16 || channels == 0 || rate == 0 {
                    return Err(invalid("WAV is not 16-bit PCM"));
                }
                fmt = Some((rate, channels));
            }
            b"data" => {
                let (rate, channels) = fmt.ok_or_else(|| invalid("WAV data before fmt"))?;
                let samples = body
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect();
                return Ok((rate, channels, samples));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body_end + (body_end - body_start) % 2;
    }
    Err(invalid("WAV without a data chunk"))
}

/// Averages interleaved channels into one.
fn downmix(samples: &[i16], channels: u16) -> Vec<i16> {
    if channels <= 1 {
        return samples.to_vec();
    }
    samples
        .chunks_exact(usize::from(channels))
        .map(|c| {
            let sum: i32 = c.iter().map(|&s| i32::from(s)).sum();
            // The mean of i16 values is an i16.
            (sum / i32::from(channels)) as i16
        })
        .collect()
}

/// Zero crossings of the interpolation kernel on each side of its centre.
const HALF_TAPS: f64 = 16.0;
/// Passband edge as a fraction of the lower of the two Nyquist frequencies:
/// the transition band above it keeps images and aliases out of the output.
const CUTOFF: f64 = 0.9;
/// Largest precomputed kernel table (phases × taps); past it weights are computed per sample.
const MAX_TABLE: usize = 1 << 22;

/// Resamples mono `input` at `rate` Hz to 16 kHz: band-limited interpolation
/// with a Blackman-windowed sinc of 16 zero crossings a side, cut off at 0.9 of
/// the lower Nyquist frequency (8 kHz → 16 kHz: passband to 3.6 kHz, the
/// images of the upper band removed), weights normalised to unity gain at DC.
/// 16 kHz input is copied. The output has `round(len * 16000 / rate)` samples,
/// so durations are kept.
pub fn resample_to_16k(input: &[i16], rate: u32) -> Vec<i16> {
    if rate == EXPORT_RATE || input.is_empty() || rate == 0 {
        return input.to_vec();
    }
    let rate_u = u64::from(rate);
    let out_rate = u64::from(EXPORT_RATE);
    let in_len = input.len() as u64;
    let out_len = (in_len * out_rate + rate_u / 2) / rate_u;
    // Position of output n in input samples: n * rate / 16000 = i + phase / phases.
    let g = gcd(rate_u, out_rate);
    let phases = out_rate / g;
    let step = rate_u / g;
    let fc = CUTOFF * (f64::from(EXPORT_RATE) / f64::from(rate)).min(1.0);
    let reach = HALF_TAPS / fc;
    let taps = 2 * (reach.ceil() as usize) + 2;
    let first = -(reach.ceil() as i64);
    let weight = |x: f64| -> f64 {
        if x.abs() >= reach {
            return 0.0;
        }
        let sinc = if x == 0.0 {
            1.0
        } else {
            let a = std::f64::consts::PI * fc * x;
            a.sin() / a
        };
        // Blackman window over [-reach, reach].
        let w = (x / reach + 1.0) * std::f64::consts::PI;
        let blackman = 0.42 - 0.5 * w.cos() + 0.08 * (2.0 * w).cos();
        fc * sinc * blackman
    };
    // Kernel for each phase: weight of input i + first + k for output at i + phase/phases.
    let kernel = |phase: u64| -> Vec<f64> {
        let frac = phase as f64 / phases as f64;
        let mut w: Vec<f64> = (0..taps)
            .map(|k| weight((first + k as i64) as f64 - frac))
            .collect();
        let sum: f64 = w.iter().sum();
        if sum.abs() > 1e-9 {
            w.iter_mut().for_each(|v| *v /= sum);
        }
        w
    };
    let table: Option<Vec<Vec<f64>>> = usize::try_from(phases)
        .ok()
        .filter(|&p| p.saturating_mul(taps) <= MAX_TABLE)
        .map(|_| (0..phases).map(kernel).collect());
    let mut out = Vec::with_capacity(usize::try_from(out_len).unwrap_or(0));
    for n in 0..out_len {
        let pos = n * step;
        let (i, phase) = ((pos / phases) as i64, pos % phases);
        let owned;
        let w = match &table {
            Some(t) => &t[phase as usize],
            None => {
                owned = kernel(phase);
                &owned
            }
        };
        let mut acc = 0.0;
        for (k, wk) in w.iter().enumerate() {
            let j = i + first + k as i64;
            // Outside the track is silence.
            if let Some(&s) = usize::try_from(j).ok().and_then(|j| input.get(j)) {
                acc += wk * f64::from(s);
            }
        }
        out.push(acc.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16);
    }
    out
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Writes 16 kHz mono 16-bit PCM `samples` to `path` (temporary name, then renamed).
fn write_wav16k(kind: AudioExport, path: &Path, samples: &[i16]) -> Result<ExportFile, MuxError> {
    // WAV sizes are 32-bit: 37 hours at 16 kHz; longer audio is cut there.
    let max = (u32::MAX as usize - 64) / 2;
    let samples = &samples[..samples.len().min(max)];
    let data_bytes = (samples.len() * 2) as u32;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&EXPORT_RATE.to_le_bytes());
    h.extend_from_slice(&(EXPORT_RATE * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_bytes.to_le_bytes());
    let mut file = AtomicFile::create(path)?;
    let body: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    file.write_all(&h)
        .and_then(|()| file.write_all(&body))
        .map_err(|e| file.io_err(e))?;
    let done = file.finish()?;
    Ok(ExportFile {
        kind,
        path: done.path,
        size: done.size,
        sha256: done.sha256,
        duration_ms: samples.len() as u64 * 1000 / u64::from(EXPORT_RATE),
        sample_rate: EXPORT_RATE,
        channels: 1,
    })
}

/// Reads back a file's bytes (tests).
#[cfg(test)]
fn read_all(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut v = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut v))
        .expect("read");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_paths_replace_the_extension() {
        let k = AudioExport::Wav16k;
        assert_eq!(
            k.path_beside(Path::new("/o/r/s/p-mic.ogg")),
            Path::new("/o/r/s/p-mic.16k.wav")
        );
        assert_eq!(k.rel_path_beside("r/s/p-mic.wav"), "r/s/p-mic.16k.wav");
        assert_eq!(k.rel_path_beside("p.ogg"), "p.16k.wav");
    }

    #[test]
    fn resampling_keeps_length_dc_and_tone() {
        // 1 s of a 1 kHz tone at 8 kHz, amplitude 10000.
        let tone: Vec<i16> = (0..8000)
            .map(|n| {
                (10000.0 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 8000.0).sin()) as i16
            })
            .collect();
        let up = resample_to_16k(&tone, 8000);
        assert_eq!(up.len(), 16000);
        // Away from the edges the upsampled tone is the same sine at 16 kHz.
        let mut err = 0f64;
        for (n, &s) in up.iter().enumerate().skip(200).take(15000) {
            let want = 10000.0 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 16000.0).sin();
            err = err.max((f64::from(s) - want).abs());
        }
        assert!(err < 60.0, "max error {err}");
        // DC stays DC.
        let dc = resample_to_16k(&[1000; 4800], 48_000);
        assert_eq!(dc.len(), 1600);
        assert!(dc[100..1500].iter().all(|&s| s == 1000), "{:?}", &dc[..8]);
        // An odd rate keeps the duration.
        assert_eq!(resample_to_16k(&[0; 44_100], 44_100).len(), 16_000);
        assert_eq!(resample_to_16k(&[5; 10], 16_000), vec![5; 10]);
    }

    #[test]
    fn downmix_averages_channels() {
        assert_eq!(downmix(&[100, 300, -2, 2], 2), vec![200, 0]);
    }

    #[test]
    fn wav_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let f = write_wav16k(AudioExport::Wav16k, &dir.path().join("a.wav"), &[1, -2, 3]).unwrap();
        assert_eq!(f.size, 44 + 6);
        let (rate, ch, s) = read_wav(&read_all(&f.path)).unwrap();
        assert_eq!((rate, ch, s), (16_000, 1, vec![1, -2, 3]));
        assert!(read_wav(b"RIFF\0\0\0\0WAVE").is_err());
    }
}
