//! Recordings play in a browser: headless Chromium loads each file, reads its
//! metadata and seeks near the end (`../shared/tools/browser_play.py`).

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
