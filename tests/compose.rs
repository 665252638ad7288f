//! `rtprec compose` (issue #14, point 5): a session's tracks in one file, each
//! at its start offset, built by ffmpeg.

use crate::util::*;
use rtprec::cli::exit::ExitCode;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The process status of an exit code (by name: the numbers may change).
fn code(c: ExitCode) -> i32 {
    i32::from(c.code())
}

/// When the second peer joins, after the first (s).
const JOIN_S: f64 = 1.5;

/// A two-peer capture with a late joiner: testdata/media-opus-vp8.pcap (real
/// Opus and VP8, Ethernet + IPv4 + UDP, microsecond pcap) as peer 10.0.0.10,
/// and the same media again from 10.0.0.11 with other SSRCs, 1.5 s later
/// (its RTCP left out: it would name the first peer's SSRCs).
fn two_peer_capture(out: &Path) {
    let b = std::fs::read(testdata("media-opus-vp8.pcap")).expect("capture");
    let mut records: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let word =
            |o: usize| u32::from_le_bytes(b[at + o..at + o + 4].try_into().expect("4 bytes"));
        let t = u64::from(word(0)) * 1_000_000 + u64::from(word(4));
        let incl = word(8) as usize;
        let data = b[at + 16..at + 16 + incl].to_vec();
        at += 16 + incl;
        records.push((t, data.clone()));
        if (200..=204).contains(&data[43]) {
            continue;
        }
        let mut d = data;
        d[29] = 11; // source address 10.0.0.11
        d[24] = 0;
        d[25] = 0;
        let mut sum: u32 = (14..34)
            .step_by(2)
            .map(|i| u32::from(u16::from_be_bytes([d[i], d[i + 1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        d[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        d[40] = 0; // no UDP checksum
        d[41] = 0;
        d[50..54].iter_mut().for_each(|x| *x ^= 0x5a); // another SSRC
        records.push((t + (JOIN_S * 1e6) as u64, d));
    }
    records.sort_by_key(|r| r.0);
    let mut pcap = b[..24].to_vec();
    for (t, d) in records {
        for v in [
            (t / 1_000_000) as u32,
            (t % 1_000_000) as u32,
            d.len() as u32,
            d.len() as u32,
        ] {
            pcap.extend_from_slice(&v.to_le_bytes());
        }
        pcap.extend_from_slice(&d);
    }
    std::fs::write(out, pcap).expect("write capture");
}

/// Records the two-peer capture; the output directory, the session directory and the manifest.
fn recorded() -> (tempfile::TempDir, std::path::PathBuf, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let capture = dir.path().join("two.pcap");
    two_peer_capture(&capture);
    let out = dir.path().join("out");
    let (_, m) = record_manifest_json(&capture, &out, &[]);
    let assets = m["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 4, "{m}");
    assert!(assets.iter().all(|a| a["status"] == "completed"), "{m}");
    let a = &assets[0];
    let session = out
        .join(a["room_id"].as_str().expect("room"))
        .join(a["session_id"].as_str().expect("session"));
    (dir, session, m)
}

/// Start and end of the session (s): earliest start, latest end.
fn span(m: &Value) -> (f64, f64) {
    let assets = m["assets"].as_array().expect("assets");
    let off = |a: &Value| a["start_offset_ms"].as_f64().expect("offset");
    let start = assets.iter().map(off).fold(f64::MAX, f64::min);
    let end = assets
        .iter()
        .map(|a| off(a) + a["duration_ms"].as_f64().expect("duration"))
        .fold(f64::MIN, f64::max);
    (start / 1000.0, end / 1000.0)
}

/// Mean luma of the right-hand tile (x 640..1280) of the frame at `t` seconds.
fn right_tile_luma(file: &Path, t: f64) -> f64 {
    luma(file, t, "crop=640:360:640:0", 640 * 360)
}

/// Mean luma of the `crop` (`pixels` of it) of the frame at `t` seconds.
fn luma(file: &Path, t: f64, crop: &str, pixels: usize) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-ss", &format!("{t:.3}"), "-frames:v", "1"])
        .args(["-vf", crop, "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), pixels);
    out.stdout.iter().map(|&p| f64::from(p)).sum::<f64>() / out.stdout.len() as f64
}

#[test]
fn compose_places_the_late_joiner_at_its_offset() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let (dir, session, m) = recorded();
    let late = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .find(|a| {
            a["kind"] == "video"
                && a["peer_id"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("10.0.0.11"))
        })
        .expect("the late joiner's camera");
    let offset = late["start_offset_ms"].as_f64().expect("offset") / 1000.0;
    assert!((offset - JOIN_S).abs() < 0.05, "{offset}");
    let file = dir.path().join("session.mp4");
    let out = rtprec()
        .arg("compose")
        .arg(&session)
        .arg("-o")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(&file)
        .output()
        .expect("ffprobe runs");
    let p: Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    let duration: f64 = p["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("duration");
    let (start, end) = span(&m);
    assert!(
        (duration - (end - start)).abs() <= 0.1,
        "{duration} vs {}",
        end - start
    );
    let codecs: Vec<&str> = p["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter_map(|s| s["codec_name"].as_str())
        .collect();
    assert_eq!(codecs, ["h264", "aac"]);
    assert_eq!(p["streams"][0]["width"], 1280);
    assert_eq!(p["streams"][0]["height"], 360);
    // The late joiner's tile is black just before its offset, a picture just after.
    let before = right_tile_luma(&file, offset - 0.2);
    let after = right_tile_luma(&file, offset + 0.2);
    assert!(before < 2.0, "tile before the join: mean luma {before}");
    assert!(after > 20.0, "tile after the join: mean luma {after}");
    // The first peer's 320x240 camera fills its tile's height, black bars
    // (80 pixels) beside it, and turns black after its track ends (4 s).
    let picture = "crop=480:360:80:0";
    assert!(luma(&file, 1.0, picture, 480 * 360) > 20.0);
    assert!(luma(&file, 1.0, "crop=80:360:0:0", 80 * 360) < 2.0);
    assert!(luma(&file, 4.6, picture, 480 * 360) < 2.0);
}

#[test]
fn compose_print_shows_the_command_and_runs_nothing() {
    let (dir, session, _) = recorded();
    let file = dir.path().join("session.webm");
    let out = rtprec()
        .arg("compose")
        .arg(&session)
        .arg("-o")
        .arg(&file)
        .arg("--print")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.starts_with("ffmpeg "), "{line}");
    assert!(line.contains("xstack=inputs=2"), "{line}");
    assert!(line.contains("adelay=delays=1500:all=1"), "{line}");
    assert!(
        line.contains("libvpx") && line.contains("libopus"),
        "{line}"
    );
    assert!(!file.exists());
    let out = rtprec()
        .arg("compose")
        .arg(&session)
        .arg("-o")
        .arg(&file)
        .args(["--print", "--tile", "320x240", "--fps", "25"])
        .output()
        .expect("runs");
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("fps=25,scale=320:240:"), "{line}");
    assert!(line.contains("layout=0_0|320_0:"), "{line}");
}

#[test]
fn compose_without_ffmpeg_says_so() {
    let (dir, session, _) = recorded();
    let out = rtprec()
        .env("PATH", dir.path())
        .arg("compose")
        .arg(&session)
        .arg("-o")
        .arg(dir.path().join("x.mp4"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(code(ExitCode::OutputFailed)));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ffmpeg could not be run"), "{err}");
    assert!(err.contains("install ffmpeg"), "{err}");
}

#[test]
fn compose_refuses_what_is_not_a_session() {
    let (_dir, session, _) = recorded();
    let room = session.parent().expect("room dir");
    let out = rtprec()
        .arg("compose")
        .arg(room)
        .args(["-o", "x.mp4", "--print"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(code(ExitCode::BadInput)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a session directory"));
    let out = rtprec()
        .arg("compose")
        .arg(&session)
        .args(["-o", "x.avi", "--print"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(code(ExitCode::Usage)));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".mp4"));
}
