//! `rtprec record --audio-export wav16k` (issue #14, point 4): a 16 kHz mono
//! 16-bit WAV beside each audio track, on the track's timeline, listed in the
//! manifest's `exports`.

use crate::util::*;
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Records `capture` with `--audio-export wav16k`; the manifest (checked
/// against the schema and the disk, exports included) and the directory.
fn record_with_export(capture: &Path) -> (Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, m) = record_manifest_json(
        capture,
        dir.path(),
        &[OsStr::new("--audio-export"), OsStr::new("wav16k")],
    );
    (m, dir)
}

/// The audio assets of a manifest.
fn audio_assets(m: &Value) -> Vec<&Value> {
    m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .filter(|a| a["kind"] == "audio")
        .collect()
}

/// The one export of a completed audio asset, checked against the track: the
/// name beside the track's, 16 kHz mono, the track's duration within a 20 ms frame.
fn export_of(a: &Value, dir: &Path) -> PathBuf {
    assert_eq!(a["status"], "completed", "{a}");
    let exports = a["exports"].as_array().expect("exports listed");
    assert_eq!(exports.len(), 1, "{a}");
    let e = &exports[0];
    assert_eq!(e["kind"], "wav16k");
    assert_eq!(e["sample_rate"], 16000);
    assert_eq!(e["channels"], 1);
    let track = a["path"].as_str().expect("track path");
    let stem = track.rsplit_once('.').expect("extension").0;
    assert_eq!(e["path"].as_str(), Some(format!("{stem}.16k.wav").as_str()));
    let track_ms = a["duration_ms"].as_i64().expect("duration");
    let export_ms = e["duration_ms"].as_i64().expect("export duration");
    assert!(
        (track_ms - export_ms).abs() <= 20,
        "{track_ms} vs {export_ms}"
    );
    dir.join(e["path"].as_str().expect("path"))
}

/// (sample rate, channels, sample format, duration s) by ffprobe.
fn probe(file: &Path) -> (u64, u64, String, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json", "-show_streams"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe failed on {}", file.display());
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    let s = &v["streams"][0];
    (
        s["sample_rate"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .expect("rate"),
        s["channels"].as_u64().expect("channels"),
        s["sample_fmt"].as_str().expect("format").to_string(),
        s["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .expect("duration"),
    )
}

/// ffmpeg's decode of `file` to 16 kHz mono 16-bit samples.
fn decode_16k(file: &Path) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-ar", "16000", "-ac", "1", "-f", "s16le", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg failed on {}", file.display());
    out.stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

fn rms(s: &[i16]) -> f64 {
    (s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
}

/// Checks an export: ffprobe's format and duration, and the same audio at
/// the same times as ffmpeg's own 16 kHz decode of the track's file (so the
/// export is on the track's timeline: no shift, nothing dropped). Samples in
/// `concealed` are left out: decoders conceal loss each their own way.
fn check_export(a: &Value, dir: &Path, concealed: std::ops::Range<usize>) -> Vec<i16> {
    let export = export_of(a, dir);
    let (rate, channels, fmt, secs) = probe(&export);
    assert_eq!((rate, channels, fmt.as_str()), (16000, 1, "s16"));
    let track_s = a["duration_ms"].as_f64().expect("duration") / 1000.0;
    assert!((secs - track_s).abs() <= 0.020, "{secs} s vs {track_s} s");
    let ours = decode_16k(&export);
    let theirs = decode_16k(&dir.join(a["path"].as_str().expect("path")));
    let n = ours.len().min(theirs.len());
    assert!(
        ours.len().abs_diff(theirs.len()) <= 320,
        "{} vs {}",
        ours.len(),
        theirs.len()
    );
    let diff: Vec<i16> = (0..n)
        .filter(|i| !concealed.contains(i))
        .map(|i| ours[i].saturating_sub(theirs[i]))
        .collect();
    let (err, level) = (rms(&diff), rms(&theirs[..n]));
    assert!(level > 100.0, "the track is not silent: {level}");
    assert!(
        err < level * 0.02,
        "export differs from ffmpeg's decode: {err} vs {level}"
    );
    ours
}

#[test]
fn opus_track_exports_16k_mono_wav_on_its_timeline() {
    if !have_tool("ffprobe") {
        return;
    }
    let (m, dir) = record_with_export(&testdata("media-opus-vp8.pcap"));
    let audio = audio_assets(&m);
    assert_eq!(audio.len(), 1);
    check_export(audio[0], dir.path(), 0..0);
    // As the README shows it: 4013 ms at 16 kHz, and the 44-byte header.
    assert_eq!(audio[0]["exports"][0]["size"], 44 + 2 * 64_216);
    assert_eq!(audio[0]["exports"][0]["duration_ms"], 4013);
    assert_eq!(
        audio[0]["exports"][0]["path"],
        "capture/s20261123T100000Z/10.0.0.10-50000/audio-b2c7016a.16k.wav"
    );
    // Video gets no export.
    assert!(
        m["assets"]
            .as_array()
            .expect("assets")
            .iter()
            .filter(|a| a["kind"] == "video")
            .all(|a| a.get("exports").is_none())
    );
    // `verify` checks the export's size and sha256 too.
    let mut bad = m.clone();
    bad["assets"]
        .as_array_mut()
        .expect("assets")
        .iter_mut()
        .filter(|a| a["kind"] == "audio")
        .for_each(|a| a["exports"][0]["sha256"] = Value::from("0".repeat(64)));
    let expected = dir.path().join("expected.json");
    std::fs::write(&expected, serde_json::to_vec(&bad).expect("json")).expect("write");
    let out = rtprec()
        .arg("verify")
        .arg(dir.path())
        .arg("--expected")
        .arg(&expected)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(".16k.wav"), "{text}");
}

#[test]
fn g711_tracks_export_resampled_to_16k() {
    if !have_tool("ffprobe") {
        return;
    }
    let (m, dir) = record_with_export(&testdata("media-g711.pcap"));
    let audio = audio_assets(&m);
    assert_eq!(audio.len(), 2);
    for a in audio {
        check_export(a, dir.path(), 0..0);
    }
}

#[test]
fn without_the_flag_there_are_no_exports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, m) = record_manifest_json(&testdata("media-g711.pcap"), dir.path(), &[]);
    assert!(audio_assets(&m).iter().all(|a| a.get("exports").is_none()));
    assert!(
        files_under(dir.path())
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".16k.wav"))
    );
}

/// `capture` without the RTP packets of payload type `pt` whose timestamps
/// are 1 to 2 s after the stream's first: a 1 s loss in the middle.
/// Ethernet, IPv4, UDP, microsecond pcap (as testdata/make-media.sh writes).
fn drop_second_second(capture: &Path, pt: u8, clock_rate: u32, out: &Path) {
    let b = std::fs::read(capture).expect("capture");
    let mut kept = b[..24].to_vec();
    let mut at = 24;
    let mut first: Option<u32> = None;
    let mut dropped = 0;
    while at + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[at + 8..at + 12].try_into().expect("4 bytes")) as usize;
        let rec = &b[at..at + 16 + incl];
        at += 16 + incl;
        let data = &rec[16..];
        // Ethernet (14) + IPv4 (20) + UDP (8), then the RTP header.
        let rtp = data.get(42..).unwrap_or_default();
        let is_media = rtp.len() >= 12 && rtp[0] >> 6 == 2 && rtp[1] & 0x7f == pt;
        if is_media {
            let ts = u32::from_be_bytes(rtp[4..8].try_into().expect("4 bytes"));
            let f = *first.get_or_insert(ts);
            let since = ts.wrapping_sub(f);
            if (clock_rate..2 * clock_rate).contains(&since) {
                dropped += 1;
                continue;
            }
        }
        kept.extend_from_slice(rec);
    }
    assert!(dropped >= 40, "dropped {dropped}");
    std::fs::write(out, kept).expect("write capture");
}

/// A 1 s loss stays 1 s of (concealed or plain) silence, and later audio stays at its time.
fn check_loss_keeps_the_timeline(capture: &str, pt: u8, clock_rate: u32) {
    if !have_tool("ffprobe") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let lossy = tmp.path().join("lossy.pcap");
    drop_second_second(&testdata(capture), pt, clock_rate, &lossy);
    let (m, dir) = record_with_export(&lossy);
    let a = audio_assets(&m)
        .into_iter()
        .find(|a| a["payload_type"] == pt)
        .expect("the track");
    assert!(a["stats"]["lost"].as_u64().expect("lost") >= 40, "{a}");
    // 4 s with the second one lost: the file and the export still last 4 s.
    assert!(a["duration_ms"].as_u64().expect("duration") >= 3900, "{a}");
    // From 0.9 s (the last packet before the loss may be cut) to 2.5 s (the
    // decoder's state settles after it).
    let pcm = check_export(a, dir.path(), 14_400..40_000);
    let (before, gap, after) = (
        rms(&pcm[3200..12800]),
        rms(&pcm[19200..30400]),
        rms(&pcm[36800..46400]),
    );
    assert!(before > 1000.0 && after > 1000.0, "{before} {after}");
    // G.711: zeros. Opus: libopus conceals the loss with a fading copy of the
    // last audio, then comfort noise about 20 dB below it.
    assert!(
        gap < before * 0.2,
        "the lost second is not quiet: {gap} vs {before}"
    );
}

#[test]
fn opus_export_keeps_a_one_second_loss_in_place() {
    check_loss_keeps_the_timeline("media-opus-vp8.pcap", 111, 48_000);
}

#[test]
fn g711_export_keeps_a_one_second_loss_in_place() {
    check_loss_keeps_the_timeline("media-g711.pcap", 0, 8_000);
}

#[test]
fn g722_is_copied_and_l16_resampled() {
    if !have_tool("ffprobe") {
        return;
    }
    let (m, dir) = record_with_export(&testdata("media-g722-l16.pcap"));
    let audio = audio_assets(&m);
    assert_eq!(audio.len(), 2);
    for a in audio {
        check_export(a, dir.path(), 0..0);
        if a["codec"] == "g722" {
            // Already 16 kHz mono: the same samples (both files have a 44-byte header).
            let track =
                std::fs::read(dir.path().join(a["path"].as_str().expect("path"))).expect("track");
            let export = std::fs::read(export_of(a, dir.path())).expect("export");
            assert_eq!(track[44..], export[44..]);
        }
    }
}

#[test]
fn an_export_that_cannot_be_written_fails_the_track() {
    let (m, _dir) = record_with_export(&testdata("media-g711.pcap"));
    let a = audio_assets(&m)[0].clone();
    let export = a["exports"][0]["path"].as_str().expect("path").to_string();
    // A directory where the export's file would go: the rename cannot replace it.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join(&export)).expect("dir");
    let out = rtprec()
        .arg("record")
        .arg(testdata("media-g711.pcap"))
        .arg("-o")
        .arg(dir.path())
        .args(["--audio-export", "wav16k", "--events", "none", "--json"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(i32::from(rtprec::cli::exit::ExitCode::TracksFailed.code()))
    );
    let m = json(&out);
    let failed = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .find(|b| b["id"] == a["id"])
        .expect("the track");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "io-error", "{failed}");
}

#[test]
fn assets_list_shows_the_export() {
    let (_, dir) = record_with_export(&testdata("media-g711.pcap"));
    let out = rtprec()
        .args(["assets", "list"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().filter(|l| l.contains(".wav")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows.iter()
            .all(|r| r.contains(".wav + ") && r.ends_with(".16k.wav")),
        "{text}"
    );
    let out = rtprec()
        .args(["assets", "list", "--json"])
        .arg(dir.path())
        .output()
        .expect("runs");
    let v = json(&out);
    // The hosted API's shape: rtprec's own record is each item's `metadata`.
    let data = v["data"].as_array().expect("data");
    assert_eq!(data.len(), 2, "{v}");
    assert!(
        data.iter()
            .all(|a| a["metadata"]["exports"][0]["kind"] == "wav16k"),
        "{v}"
    );
}
