//! `rtprec verify` compares a recording with an expected manifest: exit 0/1/3, diff lines, JUnit XML.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const DEMO: &str = "demo-2peers-opus-vp8.pcap";

/// Records the demo capture into TMP/out; the directory and its manifest.
fn recorded(tmp: &Path) -> (PathBuf, Value) {
    let out = tmp.join("out");
    let (_, manifest) = record_manifest_json(&testdata(DEMO), &out, &[]);
    (out, manifest)
}

/// Writes `manifest` as an expectation file in `tmp`.
fn expectation(tmp: &Path, name: &str, manifest: &Value) -> PathBuf {
    let p = tmp.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(manifest).unwrap()).unwrap();
    p
}

/// Runs `rtprec verify RECORDING --expected EXPECTED ARGS...`.
fn verify(recording: &Path, expected: &Path, args: &[&str]) -> Output {
    rtprec()
        .arg("verify")
        .arg(recording)
        .arg("--expected")
        .arg(expected)
        .args(args)
        .output()
        .expect("the rtprec binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The JUnit file's (testcases, failures), read back with the crate that wrote it.
fn junit_counts(path: &Path) -> (usize, usize) {
    let xml = std::fs::read_to_string(path).expect("JUnit file written");
    let (cases, failures) = rtprec::verify::junit::count(&xml).expect("well-formed JUnit XML");
    // The suite's own totals are what CI systems show: they must match its testcases.
    assert!(
        xml.contains(&format!(
            "<testsuite name=\"rtprec verify\" tests=\"{cases}\" failures=\"{failures}\""
        )),
        "{xml}"
    );
    (cases, failures)
}

/// The `room/session/peer/track` key of an asset.
fn key(a: &Value) -> String {
    ["room_id", "session_id", "peer_id", "track_id"]
        .map(|k| a[k].as_str().unwrap().to_string())
        .join("/")
}

#[test]
fn a_recording_passes_against_its_own_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = recorded(tmp.path());
    let junit = tmp.path().join("junit.xml");
    let res = verify(
        &out,
        &out.join("manifest.json"),
        &["--junit", junit.to_str().unwrap()],
    );
    let text = stdout(&res);
    assert_eq!(res.status.code(), Some(0), "{text}");
    // Same version wrote it: strict by default.
    assert!(text.contains("(strict mode;"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("✓ ")).count(), 4);
    assert!(text.contains("PASS (strict mode): 4 tracks, 4 passed, 0 failed"));
    assert_eq!(junit_counts(&junit), (4, 0));
}

#[test]
fn a_tampered_expectation_fails_with_a_diff_per_track() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, mut m) = recorded(tmp.path());
    // Another version wrote it: tolerant by default.
    m["generator"] = "rtprec 0.0.1".into();
    let assets = m["assets"].as_array_mut().unwrap();
    let d = assets[0]["duration_ms"].as_u64().unwrap();
    assets[0]["duration_ms"] = (d + 500).into();
    assets[1]["status"] = "failed".into();
    assets[1]["error"] = serde_json::json!({"code": "no-keyframe", "message": "tampered"});
    let removed = assets.remove(2);
    let (k0, k1) = (key(&assets[0]), key(&assets[1]));
    let exp = expectation(tmp.path(), "expected.json", &m);
    let junit = tmp.path().join("junit.xml");
    let res = verify(&out, &exp, &["--junit", junit.to_str().unwrap()]);
    let text = stdout(&res);
    assert_eq!(res.status.code(), Some(1), "{text}");
    assert!(text.contains("(tolerant mode;"), "{text}");
    assert!(
        text.contains(&format!(
            "✗ {k0}: duration_ms {} -> {d} (off by 500, tolerance 40 ms)",
            d + 500
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("✗ {k1}: status failed (no-keyframe) -> completed")),
        "{text}"
    );
    assert!(
        text.contains(&format!("+ {}: new track (completed)", key(&removed))),
        "{text}"
    );
    assert!(text.contains("FAIL (tolerant mode): 4 tracks, 1 passed, 3 failed"));
    assert_eq!(junit_counts(&junit), (4, 3));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("message=\"status failed (no-keyframe) -&gt; completed\""));

    // The other way round: the recording lacks a track the expectation has.
    let mut extra = m.clone();
    let mut ghost = removed.clone();
    ghost["track_id"] = "ghost".into();
    extra["assets"].as_array_mut().unwrap().push(ghost.clone());
    let exp = expectation(tmp.path(), "extra.json", &extra);
    let text = stdout(&verify(&out, &exp, &[]));
    assert!(
        text.contains(&format!(
            "- {}: missing track (expected completed)",
            key(&ghost)
        )),
        "{text}"
    );
}

#[test]
fn sha256_differences_fail_strict_and_pass_tolerant() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, mut m) = recorded(tmp.path());
    m["assets"][0]["sha256"] = "0".repeat(64).into();
    let k = key(&m["assets"][0]);
    let exp = expectation(tmp.path(), "expected.json", &m);

    let res = verify(&out, &exp, &["--strict"]);
    let text = stdout(&res);
    assert_eq!(res.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("✗ {k}: sha256 {} -> ", "0".repeat(64))));

    let junit = tmp.path().join("junit.xml");
    let res = verify(
        &out,
        &exp,
        &["--tolerant", "--junit", junit.to_str().unwrap()],
    );
    let text = stdout(&res);
    assert_eq!(res.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("~ {k}: sha256 differs (allowed in tolerant mode)")));
    assert_eq!(junit_counts(&junit), (4, 0));
}

#[test]
fn a_file_changed_on_disk_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, m) = recorded(tmp.path());
    let rel = m["assets"][0]["path"].as_str().unwrap();
    std::fs::write(out.join(rel), b"not media").unwrap();
    let res = verify(&out, &out.join("manifest.json"), &["--tolerant"]);
    let text = stdout(&res);
    assert_eq!(res.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("file {rel}: 9 bytes on disk")),
        "{text}"
    );
}

#[test]
fn a_truncated_file_with_its_own_checksum_does_not_decode() {
    if !have_tool("ffprobe") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (out, mut m) = recorded(tmp.path());
    let expected = expectation(tmp.path(), "expected.json", &m);
    // A truncated WebM whose manifest entry was made to agree with it: only decoding finds it.
    let video = m["assets"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["container"] == "webm")
        .unwrap();
    let rel = video["path"].as_str().unwrap().to_string();
    let bytes = std::fs::read(out.join(&rel)).unwrap();
    let cut = &bytes[..3000];
    std::fs::write(out.join(&rel), cut).unwrap();
    video["size"] = cut.len().into();
    video["sha256"] = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(cut);
        d.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into()
    };
    std::fs::write(out.join("manifest.json"), m.to_string()).unwrap();
    let res = verify(&out, &expected, &["--tolerant"]);
    let text = stdout(&res);
    assert_eq!(res.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("file {rel} does not decode: ")),
        "{text}"
    );
}

#[test]
fn update_writes_the_manifest_and_a_capture_is_recorded_on_the_fly() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, m) = recorded(tmp.path());
    let exp = tmp.path().join("expected.json");
    let res = verify(&out, &exp, &["--update"]);
    assert_eq!(res.status.code(), Some(0));
    let text = std::fs::read_to_string(&exp).unwrap();
    assert!(text.ends_with("}\n"));
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), m);

    // The capture itself, recorded into a temporary directory, matches the expectation.
    let res = verify(&testdata(DEMO), &exp, &[]);
    let text = stdout(&res);
    assert_eq!(res.status.code(), Some(0), "{text}");
    assert!(text.contains("PASS (strict mode): 4 tracks, 4 passed, 0 failed"));
}

#[test]
fn unreadable_inputs_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = recorded(tmp.path());
    let res = verify(&out, &tmp.path().join("missing.json"), &[]);
    assert_eq!(res.status.code(), Some(3));
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"version\": 1}").unwrap();
    let res = verify(&out, &bad, &[]);
    assert_eq!(res.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&res.stderr).contains("not an rtprec manifest"));
    let res = verify(&tmp.path().join("nothing-here"), &bad, &[]);
    assert_eq!(res.status.code(), Some(3));
}
