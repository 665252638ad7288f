//! `record --metadata` with fields rtprec does not know (issue #11): warnings by
//! default, errors with --strict-metadata, and a misspelt required field an error
//! that names the near miss.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// testdata/media-opus-vp8.session.json with what an SFU's export adds: a top-level
/// `note`, an `rtcp_mux` flag on a track, and a `trackid` typo next to `track_id`.
fn exported_metadata(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(testdata("media-opus-vp8.session.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["note"] = "exported by the SFU".into();
    v["peers"][0]["tracks"][0]["rtcp_mux"] = true.into();
    v["peers"][0]["tracks"][1]["trackid"] = "cam".into();
    let p = dir.join("sfu.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    p
}

fn record(meta: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    rtprec()
        .arg("record")
        .arg(testdata("media-opus-vp8.pcap"))
        .arg("-o")
        .arg(out)
        .arg("-m")
        .arg(meta)
        .args(["--events", "none"])
        .args(extra)
        .output()
        .unwrap()
}

/// Files under `dir`, recursively, relative and sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if let Ok(rel) = p.strip_prefix(base) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

#[test]
fn unknown_fields_are_warnings_and_the_run_records() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = exported_metadata(tmp.path());
    let out_dir = tmp.path().join("out");
    let out = record(&meta, &out_dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let m = meta.display();
    for want in [
        format!("rtprec: warning: {m}: note: unknown field, ignored\n"),
        format!("rtprec: warning: {m}: peers[0].tracks[0].rtcp_mux: unknown field, ignored\n"),
        format!(
            "rtprec: warning: {m}: peers[0].tracks[1].trackid: unknown field, ignored (did you mean `track_id`?)\n"
        ),
    ] {
        assert!(stderr.contains(&want), "missing {want:?} in:\n{stderr}");
    }
    assert_eq!(
        files(&out_dir),
        [
            "demo-room/demo-session/alice/alice-cam.webm",
            "demo-room/demo-session/alice/alice-mic.ogg",
            "manifest.json",
            "timeline.json",
        ]
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).unwrap()).unwrap();
    assert_valid_manifest(&manifest);
    assert_eq!(manifest["identification"], "metadata");
    for a in manifest["assets"].as_array().unwrap() {
        assert_eq!(a["status"], "completed", "{a}");
    }
    // --quiet silences the warnings, as it does every other.
    let out = record(&meta, &tmp.path().join("quiet"), &["--quiet"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn strict_metadata_refuses_unknown_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = exported_metadata(tmp.path());
    let out_dir = tmp.path().join("out");
    let out = record(&meta, &out_dir, &["--strict-metadata"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let m = meta.display();
    assert_eq!(
        stderr,
        format!(
            "rtprec: {m}: 3 problems:\n  \
             note: unknown field, rejected by --strict-metadata\n  \
             peers[0].tracks[0].rtcp_mux: unknown field, rejected by --strict-metadata\n  \
             peers[0].tracks[1].trackid: unknown field, rejected by --strict-metadata (did you mean `track_id`?)\n"
        )
    );
    assert!(files(&out_dir).is_empty(), "{:?}", files(&out_dir));
    // The shipped example has no unknown field: strict changes nothing for it.
    let out = record(
        &testdata("media-opus-vp8.session.json"),
        &tmp.path().join("plain"),
        &["--strict-metadata"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn misspelt_required_field_is_an_error_naming_the_near_miss() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(testdata("media-opus-vp8.session.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let track = v["peers"][0]["tracks"][1].as_object_mut().unwrap();
    let id = track.remove("track_id").unwrap();
    track.insert("trackid".into(), id);
    let meta = tmp.path().join("typo.json");
    std::fs::write(&meta, serde_json::to_vec(&v).unwrap()).unwrap();
    let out_dir = tmp.path().join("out");
    let out = record(&meta, &out_dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let m = meta.display();
    assert!(
        stderr.starts_with(&format!(
            "rtprec: {m}: peers[0].tracks[1]: missing field `track_id` at line 1 column "
        )),
        "{stderr}"
    );
    assert!(
        stderr
            .ends_with("; peers[0].tracks[1].trackid: unknown field (did you mean `track_id`?)\n"),
        "{stderr}"
    );
    assert!(files(&out_dir).is_empty(), "{:?}", files(&out_dir));
}
