//! Recordings play in a browser: headless Chromium loads each file, reads its
//! metadata and seeks near the end (`../shared/tools/browser_play.py`); and
//! the HTML report works opened from disk (`tests/report_browser.py`).

use crate::util::*;
use std::path::Path;
use std::process::Command;

/// True when Chromium and Python's playwright are there; in CI their absence fails the test.
fn have_browser() -> bool {
    let chromium = Path::new("/usr/bin/chromium").is_file();
    let playwright = Command::new("python3")
        .args(["-c", "import playwright"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !(chromium && playwright) {
        assert!(
            !in_ci(),
            "CI is set but Chromium or playwright is missing (.ci/run installs them)"
        );
        eprintln!("skipped: Chromium (/usr/bin/chromium) or python3 playwright is not installed");
    }
    chromium && playwright
}

#[test]
fn chromium_plays_every_recording() {
    let Some(dir) = shared_dir() else { return };
    let tool = dir.join("../tools/browser_play.py");
    if !tool.is_file() || !have_browser() {
        assert!(!in_ci() || tool.is_file(), "{} is missing", tool.display());
        return;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let captures = [
        "media-opus-vp8.pcap",
        "media-opus-vp8-impaired.pcap",
        "media-vp9.pcap",
        "media-av1.pcap",
        "str0m_vp8.pcap",
    ];
    let mut files = 0;
    for c in captures {
        let out = rtprec()
            .args(["-q", "record"])
            .arg(testdata(c))
            .arg("-o")
            .arg(out_dir.path().join(c))
            .arg("--json")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{c}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        files += json(&out)["assets"].as_array().unwrap().len();
    }
    let report = out_dir.path().join("browser.json");
    let out = Command::new("python3")
        .arg(&tool)
        .arg(out_dir.path())
        .arg("--json")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("browser: {files}/{files} files play")),
        "browser_play.py: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `record --report` of two sessions (one named by metadata, one inferred with
/// loss) into one directory; the page, opened from disk, loads with no console
/// error, every plot has data and every player loads its file's metadata.
/// `RTPREC_UPDATE_SCREENSHOT=1` saves the page to docs/report.png (the README's).
///
/// Only captures of real media: the VP8 frames of the synthetic demo captures
/// (examples/gencap.rs) are not a decodable bitstream, which Chromium reports
/// as a media error once it decodes one.
#[test]
fn chromium_opens_the_report_from_disk() {
    if !have_browser() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let meta = testdata("media-opus-vp8.session.json");
    let runs: [(&str, Vec<&str>); 2] = [
        ("media-opus-vp8.pcap", vec!["-m", meta.to_str().unwrap()]),
        ("media-opus-vp8-impaired.pcap", vec!["--report"]),
    ];
    for (capture, args) in runs {
        let out = rtprec()
            .args(["-q", "record"])
            .arg(testdata(capture))
            .arg("-o")
            .arg(&dir)
            .args(["--events", "none"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{capture}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let update = std::env::var_os("RTPREC_UPDATE_SCREENSHOT").is_some_and(|v| v == "1");
    let shot = if update {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.png")
    } else {
        tmp.path().join("report.png")
    };
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report_browser.py"))
        .arg(dir.join("report.html"))
        .arg("--screenshot")
        .arg(&shot)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "report_browser.py: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // Two session timelines, three plots for each of the four tracks; four players.
    assert_eq!(
        result["plots"].as_array().unwrap().len(),
        2 + 3 * 4,
        "{stdout}"
    );
    assert_eq!(result["media"].as_array().unwrap().len(), 4, "{stdout}");
    assert!(shot.is_file());
}
