//! Muxer output judged by independent decoders: ffmpeg encodes real Opus,
//! VP8, VP9 and AV1 at test time (no files shipped, no network), the muxers
//! re-mux the packets as depacketized frames, and `ffmpeg -v error` /
//! `ffprobe` check the result. Skipped with a printed reason when ffmpeg is
//! missing, failed when the `CI` environment variable is set.

use super::*;
use crate::media::Frame;
use std::path::Path;
use std::process::Command;

/// Runs a tool, returning (success, stdout, stderr); `None` if it cannot be started.
fn run(tool: &str, args: &[&str]) -> Option<(bool, String, String)> {
    let out = Command::new(tool).args(args).output().ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// True when ffmpeg and ffprobe run; otherwise prints why the test is skipped (fails under CI).
fn have_ffmpeg(test: &str) -> bool {
    let ok = ["ffmpeg", "ffprobe"]
        .iter()
        .all(|t| run(t, &["-version"]).is_some_and(|r| r.0));
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: ffmpeg/ffprobe not found, and CI is set"
        );
        eprintln!("skipping {test}: ffmpeg/ffprobe not found on PATH");
    }
    ok
}

/// True when this ffmpeg has `encoder`.
fn has_encoder(encoder: &str) -> bool {
    run("ffmpeg", &["-hide_banner", "-encoders"])
        .is_some_and(|(_, out, _)| out.split_whitespace().any(|w| w == encoder))
}

fn ffmpeg(args: &[&str]) {
    let (ok, _, err) = run("ffmpeg", args).expect("ffmpeg runs");
    assert!(ok, "ffmpeg {args:?} failed: {err}");
}

/// What `ffmpeg -v error` says when decoding the whole file: empty when clean.
fn decode_errors(path: &Path) -> String {
    let p = path.to_str().unwrap();
    let (_, _, err) = run("ffmpeg", &["-v", "error", "-i", p, "-f", "null", "-"]).unwrap();
    err
}

/// Mono 48 kHz samples ffmpeg decodes from the file, after pre-skip and end trimming.
fn decoded_samples(path: &Path) -> usize {
    let p = path.to_str().unwrap();
    let args = [
        "-v", "error", "-i", p, "-f", "s16le", "-ac", "1", "-ar", "48000", "-",
    ];
    let out = Command::new("ffmpeg")
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success());
    out.stdout.len() / 2
}

/// `ffprobe` key=value entries for the first stream and the format.
fn probe(path: &Path, entries: &str, extra: &[&str]) -> std::collections::HashMap<String, String> {
    let p = path.to_str().unwrap();
    let mut args = vec!["-v", "error", "-select_streams", "0"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-show_entries", entries, "-of", "default=nw=1", p]);
    let (ok, out, err) = run("ffprobe", &args).unwrap();
    assert!(ok, "ffprobe failed: {err}");
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn duration_s(path: &Path) -> f64 {
    probe(path, "format=duration", &[])["duration"]
        .parse()
        .expect("a numeric duration")
}

/// Opus packets of a 2 s 440 Hz sine, 20 ms frames, encoded by ffmpeg's libopus.
fn opus_packets(dir: &Path) -> Vec<Vec<u8>> {
    let src = dir.join("src.ogg");
    ffmpeg(&[
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
        "-frame_duration",
        "20",
        src.to_str().unwrap(),
    ]);
    let mut r = ::ogg::reading::PacketReader::new(std::fs::File::open(&src).unwrap());
    let mut packets = Vec::new();
    while let Some(p) = r.read_packet().unwrap() {
        packets.push(p.data);
    }
    assert!(packets[0].starts_with(b"OpusHead") && packets[1].starts_with(b"OpusTags"));
    packets.split_off(2)
}

/// RTP-like Opus frames with a 200 ms loss after the first second; and how many packets the loss removed.
fn opus_frames_with_gap(packets: &[Vec<u8>]) -> (Vec<Frame>, usize) {
    // Extended RTP timestamps start anywhere; these start past a 32-bit wrap.
    let base = (1u64 << 32) - 960 * 5;
    let lost = 50..60;
    let frames = packets
        .iter()
        .enumerate()
        .filter(|(i, _)| !lost.contains(i))
        .map(|(i, p)| Frame {
            ts: base + i as u64 * 960,
            duration: opus::packet_samples(p),
            keyframe: true,
            dimensions: None,
            data: p.clone(),
        })
        .collect();
    (frames, lost.len())
}

#[test]
fn ogg_opus_with_gap_decodes_cleanly_and_keeps_timing() {
    if !have_ffmpeg("ogg_opus_with_gap_decodes_cleanly_and_keeps_timing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let packets = opus_packets(dir.path());
    let (frames, lost) = opus_frames_with_gap(&packets);
    let path = dir.path().join("out.ogg");
    let mut w = OggOpusWriter::new(&path, OpusConfig::new(1, 0x5eed)).unwrap();
    for f in &frames {
        w.write_frame(f).unwrap();
    }
    let out = w.finish().unwrap();
    assert_eq!(out.stats.frames_inserted, lost as u64);
    assert_eq!(out.stats.frames_written, frames.len() as u64);

    assert_eq!(decode_errors(&path), "", "ffmpeg reports decode errors");
    let expected = (packets.len() as f64 * 960.0 - 312.0) / 48_000.0;
    let got = duration_s(&path);
    eprintln!(
        "ogg: {} packets, {lost} lost and filled; duration {got} s, expected {expected} s",
        packets.len()
    );
    assert!(
        (got - expected).abs() <= 0.020,
        "duration {got} vs {expected}"
    );
    assert!((out.duration_ms as f64 / 1000.0 - expected).abs() <= 0.001);
    // Exact: every packet (real or filler) decodes to 960 samples, minus pre-skip (RFC 7845 §4.2).
    assert_eq!(decoded_samples(&path), packets.len() * 960 - 312);
    let s = probe(&path, "stream=codec_name,channels,sample_rate", &[]);
    assert_eq!(s["codec_name"], "opus");
    assert_eq!(s["channels"], "1");
}

#[test]
fn webm_opus_with_gap_decodes_cleanly() {
    if !have_ffmpeg("webm_opus_with_gap_decodes_cleanly") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let packets = opus_packets(dir.path());
    let (frames, _) = opus_frames_with_gap(&packets);
    let path = dir.path().join("out.webm");
    let config = WebmConfig {
        codec: WebmCodec::Opus {
            channels: 1,
            pre_skip: opus::DEFAULT_PRE_SKIP,
            input_sample_rate: 48_000,
        },
        clock_rate: 48_000,
        track_uid: 0x5eed,
    };
    let mut w = WebmWriter::new(&path, config).unwrap();
    for f in &frames {
        w.write_frame(f).unwrap();
    }
    let out = w.finish().unwrap();
    assert_eq!(decode_errors(&path), "", "ffmpeg reports decode errors");
    // The gap stays a gap in time: the duration covers the lost packets too.
    let expected = (packets.len() as f64 * 960.0 - 312.0) / 48_000.0;
    let got = duration_s(&path);
    eprintln!("webm opus: duration {got} s, expected {expected} s");
    assert!(
        (got - expected).abs() <= 0.020,
        "duration {got} vs {expected}"
    );
    assert_eq!(out.duration_ms, (expected * 1000.0) as u64);
    let s = probe(&path, "stream=codec_name,channels", &[]);
    assert_eq!(s["codec_name"], "opus");
}

/// One IVF frame: pts in time base units, and the coded bytes.
type IvfFrame = (u64, Vec<u8>);

/// Frames of an IVF file, and the time base as (numerator, denominator).
fn parse_ivf(bytes: &[u8]) -> (Vec<IvfFrame>, (u32, u32)) {
    assert_eq!(&bytes[..4], b"DKIF");
    let u32le = |b: &[u8]| u32::from_le_bytes(b[..4].try_into().unwrap());
    let header_len = usize::from(u16::from_le_bytes([bytes[6], bytes[7]]));
    let (den, num) = (u32le(&bytes[16..]), u32le(&bytes[20..]));
    let mut frames = Vec::new();
    let mut at = header_len;
    while at + 12 <= bytes.len() {
        let size = u32le(&bytes[at..]) as usize;
        let pts = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().unwrap());
        frames.push((pts, bytes[at + 12..at + 12 + size].to_vec()));
        at += 12 + size;
    }
    (frames, (num, den))
}

/// Encodes 2 s of 30 fps 320x240 test pattern with `encoder`, re-muxes it to WebM and checks it.
fn check_video(codec: WebmCodec, encoder: &str, encoder_args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let ivf = dir.path().join("src.ivf");
    let mut args = vec![
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=30:duration=2",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        encoder,
        "-g",
        "30",
    ];
    args.extend_from_slice(encoder_args);
    args.extend_from_slice(&["-f", "ivf", ivf.to_str().unwrap()]);
    ffmpeg(&args);
    let (ivf_frames, (num, den)) = parse_ivf(&std::fs::read(&ivf).unwrap());
    assert!(
        ivf_frames.len() >= 50,
        "encoder produced {} frames",
        ivf_frames.len()
    );

    let path = dir.path().join("out.webm");
    let config = WebmConfig {
        codec,
        clock_rate: 90_000,
        track_uid: 0xfeed,
    };
    let mut w = WebmWriter::new(&path, config).unwrap();
    let base = 12_345_678u64;
    for (pts, data) in &ivf_frames {
        // Keyframe flags and sizes come from the bitstream, as a depacketizer would know them.
        let keyframe = match codec {
            WebmCodec::Vp8 => data[0] & 1 == 0,
            WebmCodec::Vp9 => crate::codec::vp9::parse_frame_header(data)
                .dimensions()
                .is_some(),
            _ => av1c::av1c_from_temporal_unit(data).is_some(),
        };
        let frame = Frame {
            ts: base + pts * 90_000 * u64::from(num) / u64::from(den),
            duration: None,
            keyframe,
            dimensions: None,
            data: data.clone(),
        };
        w.write_frame(&frame).unwrap();
    }
    let out = w.finish().unwrap();
    assert_eq!(out.stats.frames_written, ivf_frames.len() as u64);

    assert_eq!(
        decode_errors(&path),
        "",
        "{encoder}: ffmpeg reports decode errors"
    );
    let s = probe(
        &path,
        "stream=codec_name,width,height,nb_read_frames",
        &["-count_frames"],
    );
    eprintln!(
        "{encoder}: {} frames in IVF, ffprobe {s:?}, duration {} ms",
        ivf_frames.len(),
        out.duration_ms
    );
    assert_eq!(
        s["nb_read_frames"],
        ivf_frames.len().to_string(),
        "{encoder}: frame count"
    );
    assert_eq!((s["width"].as_str(), s["height"].as_str()), ("320", "240"));
    let expected = ivf_frames.len() as f64 / 30.0;
    let got = duration_s(&path);
    assert!(
        (got - expected).abs() <= 1.0 / 30.0 + 1e-3,
        "{encoder}: duration {got} vs {expected}"
    );
    let first = probe(
        &path,
        "packet=flags",
        &["-show_packets", "-read_intervals", "%+#1"],
    );
    assert!(
        first["flags"].starts_with('K'),
        "{encoder}: first packet flags {:?}",
        first["flags"]
    );
}

#[test]
fn webm_vp8_from_libvpx() {
    if have_ffmpeg("webm_vp8_from_libvpx") {
        check_video(
            WebmCodec::Vp8,
            "libvpx",
            &["-deadline", "realtime", "-cpu-used", "8"],
        );
    }
}

#[test]
fn webm_vp9_from_libvpx() {
    if have_ffmpeg("webm_vp9_from_libvpx") {
        check_video(
            WebmCodec::Vp9,
            "libvpx-vp9",
            &["-deadline", "realtime", "-cpu-used", "8"],
        );
    }
}

#[test]
fn webm_av1_from_libaom_or_svt() {
    if !have_ffmpeg("webm_av1_from_libaom_or_svt") {
        return;
    }
    if has_encoder("libaom-av1") {
        check_video(
            WebmCodec::Av1,
            "libaom-av1",
            &["-cpu-used", "8", "-usage", "realtime"],
        );
    } else if has_encoder("libsvtav1") {
        check_video(WebmCodec::Av1, "libsvtav1", &["-preset", "12"]);
    } else {
        eprintln!("skipping webm_av1_from_libaom_or_svt: this ffmpeg has no AV1 encoder");
    }
}
