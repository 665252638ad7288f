//! `rtprec record`: recordings of real encoded media play, match the ground truth, and are deterministic.
//!
//! The `media-*.pcap` captures carry real Opus, VP8, VP9, AV1, H.264 and H.265 made by
//! ffmpeg (testdata/make-media.sh); their ground truth is the JSON at the end
//! of each `.txt`. Every recording is decoded by ffmpeg and probed by ffprobe.

use crate::util::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Resolution of every video in the media captures (testsrc2=size=320x240).
const MEDIA_SIZE: (u64, u64) = (320, 240);

/// The ground truth JSON that ends `testdata/NAME.txt`.
fn truth(name: &str) -> Value {
    let txt = std::fs::read_to_string(testdata(&format!("{name}.txt"))).expect("summary exists");
    let start = txt
        .find("\n{\n")
        .expect("the .txt ends with mkmedia's JSON")
        + 1;
    serde_json::from_str(&txt[start..]).expect("ground truth is JSON")
}

/// Records `capture` into a fresh temporary directory with `--json`; checks no temporary file is left.
fn record(capture: &Path, extra: &[&str]) -> (Output, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = rtprec()
        .arg("record")
        .arg(capture)
        .arg("-o")
        .arg(dir.path())
        .arg("--json")
        .args(extra)
        .output()
        .expect("the rtprec binary runs");
    let leftovers: Vec<_> = files(dir.path())
        .into_keys()
        .filter(|p| p.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let manifest = json(&out);
    if manifest.get("assets").is_some() {
        crate::util::assert_manifest_matches_disk(&manifest, dir.path());
    }
    (out, manifest, dir)
}

/// Every file under `dir`, relative path -> bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir").to_path_buf();
                out.insert(rel, std::fs::read(&p).expect("readable file"));
            }
        }
    }
    out
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// ffmpeg's error lines when decoding `file` completely (empty = clean).
fn decode_errors(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg failed on {}", file.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// ffprobe's JSON for `file` with `args`.
fn ffprobe(file: &Path, args: &[&str]) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(file)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe failed on {}", file.display());
    serde_json::from_slice(&out.stdout).expect("ffprobe writes JSON")
}

/// What ffprobe says about the one stream of a recording.
#[derive(Debug)]
struct Probe {
    frames: u64,
    duration_ms: f64,
    width: Option<u64>,
    height: Option<u64>,
    /// Packet pts in milliseconds and sizes, in file order.
    packets: Vec<(f64, u64)>,
}

fn probe(file: &Path) -> Probe {
    let v = ffprobe(
        file,
        &[
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames,width,height:format=duration",
        ],
    );
    let s = &v["streams"][0];
    let num = |x: &Value| x.as_str().and_then(|s| s.parse::<f64>().ok());
    let p = ffprobe(
        file,
        &["-show_entries", "packet=pts_time,size", "-show_packets"],
    );
    let packets = p["packets"]
        .as_array()
        .expect("packets")
        .iter()
        .map(|k| {
            (
                num(&k["pts_time"]).expect("pts") * 1000.0,
                num(&k["size"]).expect("size") as u64,
            )
        })
        .collect();
    Probe {
        frames: num(&s["nb_read_frames"]).expect("frame count") as u64,
        duration_ms: num(&v["format"]["duration"]).expect("duration") * 1000.0,
        width: s["width"].as_u64(),
        height: s["height"].as_u64(),
        packets,
    }
}

/// ffprobe's key_frame flag of the first video frame.
fn first_frame_is_key(file: &Path) -> bool {
    let v = ffprobe(
        file,
        &[
            "-select_streams",
            "v",
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "frame=key_frame",
            "-show_frames",
        ],
    );
    v["frames"][0]["key_frame"].as_u64() == Some(1)
}

/// The manifest's asset for the truth stream `s` (matched by SSRC).
fn asset_for<'a>(manifest: &'a Value, s: &Value) -> &'a Value {
    let ssrc = s["ssrc_hex"].as_str().expect("ssrc_hex");
    let found: Vec<&Value> = manifest["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .filter(|a| a["ssrc"].as_str() == Some(ssrc))
        .collect();
    assert_eq!(found.len(), 1, "one asset for {ssrc}");
    found[0]
}

/// Checks the manifest entry of a completed asset against the file on disk; returns the path.
fn check_file(dir: &Path, a: &Value, s: &Value) -> PathBuf {
    let codec = s["codec"].as_str().expect("codec");
    let (container, kind) = match codec {
        "opus" => ("ogg", "audio"),
        "h264" | "h265" => ("mp4", "video"),
        _ => ("webm", "video"),
    };
    assert_eq!(a["status"], "completed", "{a}");
    assert_eq!(a["codec"], codec);
    assert_eq!(a["container"], container);
    assert_eq!(a["kind"], kind);
    assert_eq!(a["stats"]["packets"], s["packets"], "{codec}: packets");
    let path = dir.join(a["path"].as_str().expect("path"));
    assert!(path.to_string_lossy().ends_with(&format!(".{container}")));
    let bytes = std::fs::read(&path).expect("the recording exists");
    assert_eq!(a["size"].as_u64(), Some(bytes.len() as u64), "size");
    assert_eq!(a["sha256"].as_str(), Some(sha256_hex(&bytes).as_str()));
    path
}

/// Clean capture: every track plays, with every frame, the RTP timeline's duration.
fn check_clean(name: &str) {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let t = truth(name);
    let (out, m, dir) = record(&testdata(name), &[]);
    assert_eq!(out.status.code(), Some(0), "{name}: {m}");
    let streams = t["streams"].as_array().expect("streams");
    assert_eq!(m["assets"].as_array().map(Vec::len), Some(streams.len()));
    for s in streams {
        let a = asset_for(&m, s);
        let file = check_file(dir.path(), a, s);
        let codec = s["codec"].as_str().unwrap_or_default();
        let errors = decode_errors(&file);
        assert!(errors.is_empty(), "{name} {codec}: ffmpeg says:\n{errors}");
        let p = probe(&file);
        let want_ms = s["media"]["duration_ms"].as_f64().expect("duration");
        if codec == "opus" {
            assert_eq!(Some(p.frames), s["sent"].as_u64(), "{name} opus frames");
            assert!(
                (p.duration_ms - want_ms).abs() <= 20.0,
                "{p:?} vs {want_ms}"
            );
            let manifest_ms = a["duration_ms"].as_f64().expect("duration_ms");
            assert!((manifest_ms - want_ms).abs() <= 20.0, "{manifest_ms}");
        } else {
            assert_eq!(
                Some(p.frames),
                s["frames"].as_u64(),
                "{name} {codec} frames"
            );
            let frame_ms = 1000.0 / 30.0;
            assert!(
                (p.duration_ms - want_ms).abs() <= frame_ms,
                "{codec}: {} ms vs {want_ms}",
                p.duration_ms
            );
            assert!(
                first_frame_is_key(&file),
                "{codec}: first frame not a key frame"
            );
            assert_eq!(
                (p.width, p.height),
                (Some(MEDIA_SIZE.0), Some(MEDIA_SIZE.1))
            );
            assert_eq!(a["resolution"]["width"].as_u64(), Some(MEDIA_SIZE.0));
            assert_eq!(a["resolution"]["height"].as_u64(), Some(MEDIA_SIZE.1));
        }
        assert!(
            p.packets.windows(2).all(|w| w[0].0 < w[1].0),
            "{codec}: timestamps do not strictly increase"
        );
        assert_eq!(a["stats"]["lost"], 0);
        assert_eq!(a["stats"]["duplicates"], 0);
    }
}

#[test]
fn media_opus_vp8_plays_with_every_frame() {
    check_clean("media-opus-vp8.pcap");
}

#[test]
fn media_vp9_plays_with_every_frame() {
    check_clean("media-vp9.pcap");
}

#[test]
fn media_av1_plays_with_every_frame() {
    check_clean("media-av1.pcap");
}

#[test]
fn media_h264_baseline_and_high_play_with_every_frame() {
    check_clean("media-h264.pcap");
}

#[test]
fn media_h265_plays_with_every_frame() {
    check_clean("media-h265.pcap");
}

/// 2 % loss, 1 % duplicates, 2 % reordering: no decode error, video resumes at
/// key frames exactly where the ground truth says, audio keeps its length with
/// the lost packets filled in place.
#[test]
fn media_impaired_plays_with_gaps_in_the_right_place() {
    check_impaired("media-opus-vp8-impaired.pcap");
}

#[test]
fn media_h264_impaired_plays_with_gaps_in_the_right_place() {
    check_impaired("media-h264-impaired.pcap");
}

fn check_impaired(name: &str) {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let t = truth(name);
    let (out, m, dir) = record(&testdata(name), &[]);
    assert_eq!(out.status.code(), Some(0), "{m}");
    let streams = t["streams"].as_array().expect("streams");
    assert_eq!(m["assets"].as_array().map(Vec::len), Some(streams.len()));
    let mut injected = 0;
    for s in streams {
        let a = asset_for(&m, s);
        let file = check_file(dir.path(), a, s);
        let codec = s["codec"].as_str().unwrap_or_default();
        let errors = decode_errors(&file);
        assert!(errors.is_empty(), "{codec}: ffmpeg says:\n{errors}");
        for k in ["lost", "duplicates", "reordered"] {
            assert_eq!(a["stats"][k], s[k], "{codec}: stats.{k}");
        }
        injected += s["lost"].as_u64().unwrap_or(0);
        let undecodable: Vec<u64> = s["media"]["undecodable"]
            .as_array()
            .expect("undecodable")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        let sent = s["frames"].as_u64().expect("frames");
        let p = probe(&file);
        assert!(
            p.packets.windows(2).all(|w| w[0].0 < w[1].0),
            "{codec}: timestamps do not strictly increase"
        );
        if codec == "opus" {
            // Gaps filled, not collapsed: one packet per 20 ms, 1-byte fillers where packets were lost.
            let want_ms = s["media"]["duration_ms"].as_f64().expect("duration");
            assert!(
                (p.duration_ms - want_ms).abs() <= 20.0,
                "{p:?} vs {want_ms}"
            );
            assert_eq!(p.frames, sent);
            let fillers: Vec<u64> = (0..p.packets.len() as u64)
                .filter(|&i| p.packets[i as usize].1 <= 1)
                .collect();
            assert_eq!(
                fillers, undecodable,
                "opus: filler packets where packets were lost"
            );
        } else {
            let decodable = s["media"]["frames_decodable"].as_u64().expect("decodable");
            assert!(0 < decodable && decodable < sent);
            assert_eq!(p.frames, decodable, "{codec}: decodable frames");
            assert!(first_frame_is_key(&file));
            // 30 fps: frame i is at i * 33.3 ms (WebM rounds down to the ms, MP4 keeps 90 kHz).
            let want: Vec<f64> = (0..sent)
                .filter(|i| !undecodable.contains(i))
                .map(|i| (i as f64 * 1000.0 / 30.0).floor())
                .collect();
            let got: Vec<f64> = p.packets.iter().map(|k| k.0).collect();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1.0, "video pts {got:?}\nwant {want:?}");
            }
            assert_eq!(
                a["stats"]["frames_written"].as_u64(),
                Some(decodable),
                "stats.frames_written"
            );
        }
    }
    assert!(injected > 0, "the capture has loss");
}

#[test]
fn str0m_vp8_has_101_frames_240x180() {
    let Some(cap) = shared("str0m_vp8.pcap") else {
        return;
    };
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let (out, m, dir) = record(&cap, &[]);
    assert_eq!(out.status.code(), Some(0), "{m}");
    let a = &m["assets"][0];
    assert_eq!(m["assets"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (a["codec"].as_str(), a["status"].as_str()),
        (Some("vp8"), Some("completed"))
    );
    let file = dir.path().join(a["path"].as_str().expect("path"));
    assert_eq!(decode_errors(&file), "");
    let p = probe(&file);
    assert_eq!((p.frames, p.width, p.height), (101, Some(240), Some(180)));
    assert_eq!(a["resolution"]["width"], 240);
    assert_eq!(a["resolution"]["height"], 180);
}

/// The recording's VP8 frames are the bytes membrane's reference IVF holds.
#[test]
fn membrane_vp8_frames_equal_the_reference_ivf() {
    let (Some(cap), Some(ivf)) = (
        shared("membrane_input_vp8.pcap"),
        shared("membrane_input_vp8.ivf"),
    ) else {
        return;
    };
    if !have_tool("ffmpeg") {
        return;
    }
    let (out, m, dir) = record(&cap, &[]);
    assert_eq!(out.status.code(), Some(0), "{m}");
    let webm = dir
        .path()
        .join(m["assets"][0]["path"].as_str().expect("path"));
    let extracted = dir.path().join("x.ivf");
    let ff = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&webm)
        .args(["-c", "copy", "-f", "ivf"])
        .arg(&extracted)
        .output()
        .expect("ffmpeg runs");
    assert!(
        ff.status.success(),
        "{}",
        String::from_utf8_lossy(&ff.stderr)
    );
    let read = |p: &Path| {
        let b = std::fs::read(p).expect("readable IVF");
        rtprec::testutil::encoded::EncodedStream::parse_ivf(&b).expect("valid IVF")
    };
    let (got, want) = (read(&extracted), read(&ivf));
    assert_eq!(got.frames.len(), 300);
    assert_eq!(want.frames.len(), 300);
    for (i, (g, w)) in got.frames.iter().zip(&want.frames).enumerate() {
        assert!(g.data == w.data, "frame {i} differs");
    }
}

/// A track that fails leaves a failed asset and no file (nothing but manifest.json).
fn check_fails_without_file(name: &str, code: &str) {
    let Some(cap) = shared(name) else { return };
    let (out, m, dir) = record(&cap, &[]);
    assert_eq!(out.status.code(), Some(4), "{name}: {m}");
    let assets = m["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 1, "{name}");
    assert_eq!(assets[0]["status"], "failed");
    assert_eq!(assets[0]["error"]["code"], code, "{name}");
    assert_eq!(assets[0]["path"], Value::Null);
    let on_disk: Vec<PathBuf> = files(dir.path()).into_keys().collect();
    assert_eq!(
        on_disk,
        [
            PathBuf::from("manifest.json"),
            PathBuf::from("timeline.json")
        ],
        "{name}"
    );
}

#[test]
fn str0m_contiguous_vp9_fails_no_keyframe() {
    check_fails_without_file("str0m_contiguous_vp9.pcap", "no-keyframe");
}

#[test]
fn str0m_h266_fails_unknown_codec() {
    check_fails_without_file("str0m_h266.pcap", "unknown-codec");
}

#[test]
fn ndpi_rtp_records_opus_and_pcma_and_fails_the_rest_with_reasons() {
    let Some(cap) = shared("ndpi_rtp.pcapng") else {
        return;
    };
    let (out, m, dir) = record(&cap, &[]);
    assert_eq!(out.status.code(), Some(4), "{m}");
    let assets = m["assets"].as_array().expect("assets");
    // The capture merges years-apart interfaces, so its tracks fall into several sessions: order by codec.
    let mut done: Vec<&Value> = assets
        .iter()
        .filter(|a| a["status"] == "completed")
        .collect();
    done.sort_by_key(|a| a["codec"].as_str().unwrap_or_default().to_string());
    let codecs: Vec<&str> = done.iter().filter_map(|a| a["codec"].as_str()).collect();
    assert_eq!(codecs, ["opus", "pcma"]);
    assert_eq!(done[0]["stats"]["packets"], 29);
    assert_eq!(done[1]["container"], "wav");
    for a in &done {
        assert!(dir.path().join(a["path"].as_str().expect("path")).is_file());
    }
    for a in assets.iter().filter(|a| a["status"] != "completed") {
        assert_eq!(a["status"], "failed");
        let code = a["error"]["code"].as_str().unwrap_or_default();
        assert!(
            ["unsupported-codec", "unknown-codec"].contains(&code),
            "{a}"
        );
        assert!(
            !a["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
        assert_eq!(a["path"], Value::Null);
    }
    assert_eq!(
        files(dir.path()).len(),
        4,
        "the Ogg and WAV files, manifest.json and timeline.json only"
    );
    if have_tool("ffmpeg") {
        for a in &done {
            let file = dir.path().join(a["path"].as_str().expect("path"));
            assert_eq!(decode_errors(&file), "");
        }
    }
}

/// `--jobs 1`, `--jobs 4` and a second run give the same bytes, manifest included.
#[test]
fn output_bytes_do_not_depend_on_jobs_or_run() {
    for name in [
        "demo-2peers-opus-vp8.pcap",
        "media-opus-vp8-impaired.pcap",
        "media-h264.pcap",
    ] {
        let (o1, _, d1) = record(&testdata(name), &["--jobs", "1"]);
        let (o4, _, d4) = record(&testdata(name), &["--jobs", "4"]);
        let (o1b, _, d1b) = record(&testdata(name), &["--jobs", "1"]);
        for o in [&o1, &o4, &o1b] {
            assert_eq!(o.status.code(), Some(0), "{name}");
        }
        assert_eq!(o1.stdout, o4.stdout, "{name}: --json output");
        let (f1, f4, f1b) = (files(d1.path()), files(d4.path()), files(d1b.path()));
        assert!(f1.contains_key(Path::new("manifest.json")));
        // The report's time series too: same bytes whatever --jobs.
        assert!(f1.contains_key(Path::new("timeline.json")));
        assert!(f1.len() >= 3, "{name}: {:?}", f1.keys());
        assert_eq!(f1.keys().collect::<Vec<_>>(), f4.keys().collect::<Vec<_>>());
        for (k, v) in &f1 {
            assert!(
                *v == f4[k],
                "{name}: {} differs between --jobs 1 and 4",
                k.display()
            );
            assert!(
                *v == f1b[k],
                "{name}: {} differs between two runs",
                k.display()
            );
        }
    }
}

/// A file is read on the recorder's own thread, a pipe or a gzip file on a
/// reading thread of its own: the recordings are the same bytes.
#[test]
fn a_file_a_gzip_file_and_a_pipe_record_the_same_tracks() {
    let name = "media-opus-vp8-impaired.pcap";
    let bytes = std::fs::read(testdata(name)).expect("testdata");
    let media = |dir: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        files(dir)
            .into_iter()
            .filter(|(p, _)| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("ogg" | "webm" | "mp4" | "wav")
                )
            })
            .collect()
    };
    let (o_file, m_file, d_file) = record(&testdata(name), &[]);
    assert_eq!(o_file.status.code(), Some(0));
    let from_file = media(d_file.path());
    assert!(from_file.len() >= 2, "{:?}", from_file.keys());

    let gz_dir = tempfile::tempdir().expect("temp dir");
    let gz = gz_dir.path().join("capture.pcap.gz");
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).expect("creates"),
            flate2::Compression::fast(),
        );
        e.write_all(&bytes).expect("compresses");
        e.finish().expect("compresses");
    }
    let (o_gz, _, d_gz) = record(&gz, &[]);
    assert_eq!(o_gz.status.code(), Some(0));
    assert!(
        media(d_gz.path()) == from_file,
        "gzip input recorded other bytes"
    );

    let d_pipe = tempfile::tempdir().expect("temp dir");
    let mut child = rtprec()
        .args(["record", "-", "--json", "-o"])
        .arg(d_pipe.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the rtprec binary runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(&bytes).expect("writes the capture");
    }
    let o_pipe = child.wait_with_output().expect("runs");
    assert_eq!(o_pipe.status.code(), Some(0));
    assert_eq!(json(&o_pipe)["inputs"][0], "<stdin>");
    assert!(
        media(d_pipe.path()) == from_file,
        "a pipe recorded other bytes"
    );
    assert_eq!(
        m_file["assets"].as_array().map(Vec::len),
        Some(from_file.len())
    );
}

#[test]
fn nonexistent_capture_exits_3() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = rtprec()
        .arg("record")
        .arg(testdata("no-such-capture.pcap"))
        .arg("-o")
        .arg(dir.path())
        .output()
        .expect("the rtprec binary runs");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-capture.pcap"));
}

/// Records a shared H.264 capture; checks the one MP4 asset and returns (manifest asset, file, probe).
fn record_h264(name: &str) -> Option<(Value, PathBuf, Probe, tempfile::TempDir)> {
    let cap = shared(name)?;
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return None;
    }
    let (out, m, dir) = record(&cap, &[]);
    let a = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .find(|a| a["codec"] == "h264")
        .expect("an H.264 asset")
        .clone();
    assert!(matches!(out.status.code(), Some(0 | 4)), "{name}: {m}");
    assert_eq!(a["status"], "completed", "{a}");
    assert_eq!(a["container"], "mp4");
    let file = dir.path().join(a["path"].as_str().expect("path"));
    let bytes = std::fs::read(&file).expect("the recording exists");
    assert_eq!(a["sha256"].as_str(), Some(sha256_hex(&bytes).as_str()));
    // Faststart: ftyp, moov, then mdat.
    let boxes = top_level_boxes(&bytes);
    let kinds: Vec<&str> = boxes.iter().map(|b| b.0.as_str()).collect();
    assert_eq!(kinds, ["ftyp", "moov", "mdat"], "{name}");
    let p = probe(&file);
    assert!(
        first_frame_is_key(&file),
        "{name}: first frame not a key frame"
    );
    let pts = frame_pts(&file);
    assert!(
        pts.windows(2).all(|w| w[0] < w[1]),
        "{name}: frame pts not increasing"
    );
    assert_eq!(pts.len() as u64, p.frames);
    assert_eq!(a["resolution"]["width"].as_u64(), p.width, "{name}");
    assert_eq!(a["resolution"]["height"].as_u64(), p.height, "{name}");
    Some((a, file, p, dir))
}

/// (type, offset, size) of the top-level ISO BMFF boxes.
fn top_level_boxes(b: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 8 <= b.len() {
        let size32 = u32::from_be_bytes(b[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let kind = String::from_utf8_lossy(&b[pos + 4..pos + 8]).into_owned();
        let size = match size32 {
            0 => b.len() - pos,
            1 => u64::from_be_bytes(b[pos + 8..pos + 16].try_into().expect("8 bytes")) as usize,
            n => n,
        };
        out.push((kind, pos, size));
        pos += size.max(8);
    }
    out
}

/// Presentation times of the decoded frames, in output order.
fn frame_pts(file: &Path) -> Vec<i64> {
    let v = ffprobe(file, &["-show_entries", "frame=pts", "-show_frames"]);
    v["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| f["pts"].as_i64().expect("pts"))
        .collect()
}

/// ffmpeg's errors decoding a variable-frame-rate recording: `-enc_time_base -1`
/// keeps the 90 kHz timestamps, otherwise ffmpeg 5.1 rounds them to the rate the
/// SPS's VUI declares (15 fps for sippscen's ~21 fps camera) and its null muxer
/// complains about the equal timestamps it made itself.
fn decode_errors_vfr(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg failed on {}", file.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Camera with gradual decoding refresh (recovery point SEI every 150 frames, only
/// 2 IDRs at the start): 24 frames, then one lost frame, then the recording resumes
/// at the next recovery point instead of dropping the remaining 88 s.
#[test]
fn sippscen_h264_resumes_at_the_recovery_point_after_loss() {
    let Some((a, file, p, _dir)) = record_h264("sippscen_h264.pcap") else {
        return;
    };
    assert_eq!(decode_errors_vfr(&file), "");
    // 2036 access units: 24 before the loss, 126 waiting, 1886 from the recovery point on.
    assert_eq!(p.frames, 1910);
    assert_eq!(a["stats"]["lost"], 1);
    assert_eq!(a["stats"]["frames_dropped_until_keyframe"], 126);
    assert_eq!((p.width, p.height), (Some(640), Some(480)));
    // Durations from the RTP clock: 89.78 s of variable-rate video.
    assert!((p.duration_ms - 89_783.0).abs() < 100.0, "{p:?}");
}

/// Synthetic capture times (0.6 ms for 23 s of video): durations come from RTP.
/// The capture's packets are truncated in places (a STAP-A at seq 84924 declares a
/// 1021-byte IDR with 994 bytes present: counted malformed); single NAL unit
/// packets cut short cannot be detected, and ffmpeg reports their slices as
/// corrupt exactly as it does decoding the capture's raw Annex B stream.
#[test]
fn str0m_h264_drops_until_idr_after_each_loss() {
    let Some((a, file, p, _dir)) = record_h264("str0m_h264.pcap") else {
        return;
    };
    // 268 access units; the 3 losses and the truncated STAP-A cost 4 + 119.
    assert_eq!(p.frames, 145);
    assert_eq!(a["stats"]["lost"], 3);
    assert_eq!(a["stats"]["malformed"], 1);
    assert_eq!(a["stats"]["frames_dropped_incomplete"], 4);
    assert_eq!(a["stats"]["frames_dropped_until_keyframe"], 119);
    assert_eq!((p.width, p.height), (Some(494), Some(370)));
    assert!((p.duration_ms - 23_196.0).abs() < 40.0, "{p:?}");
    for line in decode_errors(&file).lines() {
        assert!(
            [
                "corrupted macroblock",
                "error while decoding MB",
                "Invalid level prefix"
            ]
            .iter()
            .any(|e| line.contains(e)),
            "unexpected: {line}"
        );
    }
}

/// B-frames (timestamps going back in decode order): composition offsets keep
/// every frame. Membrane's tests count 287 NAL units: 142 access units of an AUD
/// and a slice, the first with SPS, PPS and SEI too.
#[test]
fn membrane_h264_keeps_b_frames_and_fails_mpa() {
    let Some((a, file, p, dir)) = record_h264("membrane_demo_rtp.pcap") else {
        return;
    };
    assert_eq!(decode_errors(&file), "");
    assert_eq!(p.frames, 142);
    assert_eq!(a["stats"]["frames_written"], 142);
    assert_eq!((p.width, p.height), (Some(320), Some(240)));
    let bytes = std::fs::read(&file).expect("readable");
    let (_, off, size) = top_level_boxes(&bytes)
        .into_iter()
        .find(|b| b.0 == "mdat")
        .expect("mdat");
    let mut nals = 0;
    let mut rest = &bytes[off + 8..off + size];
    while rest.len() >= 4 {
        let n = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        rest = &rest[4 + n..];
        nals += 1;
    }
    assert_eq!(nals, 287);
    let m: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).expect("manifest"))
            .expect("JSON");
    let mpa: Vec<&Value> = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .filter(|a| a["payload_type"] == 127)
        .collect();
    assert_eq!(mpa.len(), 1);
    assert_eq!(mpa[0]["error"]["code"], "unsupported-codec");
}

/// Every shared capture, recorded without metadata: whatever completes decodes
/// cleanly; what cannot be recorded is a failed asset with a reason, never a file.
#[test]
fn every_shared_capture_records_without_metadata() {
    let Some(dir) = shared_dir() else {
        return;
    };
    if !have_tool("ffmpeg") {
        return;
    }
    // ffmpeg's own complaint about a capture's bitstream: str0m_h264 holds a truncated IDR.
    let known = |name: &str, err: &str| {
        name == "str0m_h264.pcap"
            && err.lines().all(|l| {
                [
                    "error while decoding MB",
                    "concealing",
                    "corrupt",
                    "Invalid level prefix",
                ]
                .iter()
                .any(|k| l.contains(k))
            })
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut completed = 0;
    let mut encrypted_failed = 0;
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if [".md", ".ivf", ".sdp"].iter().any(|x| name.ends_with(x)) {
            continue;
        }
        let (out, m, out_dir) = record(&path, &[]);
        assert!(
            matches!(out.status.code(), Some(0 | 1 | 4)),
            "{name}: {:?}",
            out.status
        );
        for a in m["assets"].as_array().unwrap() {
            match a["status"].as_str().unwrap() {
                "completed" => {
                    let f = out_dir.path().join(a["path"].as_str().unwrap());
                    // Variable frame rate kept as sent (sippscen_h264 declares 15 fps, runs at ~21).
                    let err = decode_errors_vfr(&f);
                    assert!(
                        err.is_empty() || known(&name, &err),
                        "{name} {}: {err}",
                        a["track_id"]
                    );
                    completed += 1;
                }
                _ => {
                    assert!(
                        a["path"].is_null() && !a["error"]["code"].as_str().unwrap().is_empty(),
                        "{name}: {a}"
                    );
                    encrypted_failed += usize::from(a["error"]["code"] == "encrypted-no-key");
                }
            }
        }
        if name == "ndpi_rtcp_multiple_pkts_in_the_same_datagram.pcap" {
            assert_eq!(out.status.code(), Some(1), "RTCP only: no track");
        }
    }
    // 14: each SSRC of srtpdec_WebRTC_PCMA_p2p_SDES_Call_1 travels two paths
    // (an ICE switch) and is one track, not two (tests/paths.rs builds the
    // cases); and without keys, the six SDES-SRTP PCMA/G.722 tracks (both
    // srtpdec_WebRTC_PCMA calls, both rtpproxy legs) fail as encrypted-no-key
    // instead of being written as noise (tests/encrypted.rs builds the cases).
    let encrypted = [
        "rtpproxy_alice_srtp.pcap",
        "rtpproxy_bob_srtp.pcap",
        "srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap",
        "srtpdec_WebRTC_PCMA_p2p_SDES_Call_1.pcap",
    ];
    assert_eq!(encrypted_failed, encrypted.len() * 2 - 2, "{encrypted:?}");
    assert_eq!(
        completed, 14,
        "recordings completed across the shared captures"
    );
}
