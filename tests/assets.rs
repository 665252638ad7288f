//! `rtprec assets list` and `rtprec assets url` answer from recorded output directories.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Two output directories: the demo (2 completed) and ndpi_rtp (1 completed, 5 failed) or a copy of the demo.
fn two_dirs(tmp: &Path) -> (PathBuf, PathBuf) {
    let a = tmp.join("a");
    let out = rtprec()
        .args([
            "-q",
            "record",
            testdata("media-opus-vp8.pcap").to_str().unwrap(),
            "--events",
            "none",
            "-m",
        ])
        .arg(testdata("media-opus-vp8.session.json"))
        .arg("-o")
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let b = tmp.join("b");
    let out = rtprec()
        .args([
            "-q",
            "record",
            testdata("media-opus-vp8-impaired.pcap").to_str().unwrap(),
            "--events",
            "none",
            "-o",
        ])
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    (a, b)
}

fn list(dirs: &[&Path], filters: &[&str]) -> Vec<Value> {
    let out = rtprec()
        .args(["assets", "list", "--json"])
        .args(dirs)
        .args(filters)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out).as_array().unwrap().clone()
}

#[test]
fn list_filters_agree_with_the_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = two_dirs(tmp.path());
    let all = list(&[&a, &b], &[]);
    let manifest = |d: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap()
    };
    let (ma, mb) = (manifest(&a), manifest(&b));
    assert_eq!(
        all.len(),
        ma["assets"].as_array().unwrap().len() + mb["assets"].as_array().unwrap().len()
    );
    for l in &all {
        let m = if l["dir"] == a.to_str().unwrap() {
            &ma
        } else {
            &mb
        };
        let rec = m["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == l["id"])
            .expect("listed asset is in its manifest");
        for k in [
            "room_id",
            "session_id",
            "peer_id",
            "track_id",
            "path",
            "sha256",
            "status",
        ] {
            assert_eq!(rec[k], l[k], "{k}");
        }
    }
    let by_session = list(
        &[&a, &b],
        &["--session-id", "demo-session", "--type", "track"],
    );
    assert_eq!(
        by_session
            .iter()
            .map(|x| x["track_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["alice-cam", "alice-mic"]
    );
    assert_eq!(list(&[&a, &b], &["--room-id", "capture"]).len(), 2);
    assert_eq!(
        list(&[&a, &b], &["--peer-id", "alice", "--status", "completed"]).len(),
        2
    );
    assert!(list(&[&a, &b], &["--status", "failed"]).is_empty());
    // Nothing matched: exit 1.
    let out = rtprec()
        .args(["assets", "list"])
        .arg(&a)
        .args(["--peer-id", "nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn url_is_a_file_url_or_an_nginx_secure_link() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = two_dirs(tmp.path());
    let asset = &list(&[&a], &["--peer-id", "alice"])[0];
    let id = asset["id"].as_str().unwrap();
    let out = rtprec()
        .args(["assets", "url", id])
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let url = String::from_utf8(out.stdout).unwrap();
    let path = std::path::absolute(a.join(asset["path"].as_str().unwrap())).unwrap();
    assert_eq!(url.trim(), format!("file://{}", path.display()));

    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let out = rtprec()
        .args(["assets", "url", id])
        .arg(&a)
        .args([
            "--base-url",
            "https://cdn.example/rec/",
            "--expires-in",
            "600",
            "--secret-file",
        ])
        .arg(&secret)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap();
    let url = url.trim();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(
        base,
        format!(
            "https://cdn.example/rec/{}",
            asset["path"].as_str().unwrap()
        )
    );
    let expires: u64 = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("expires="))
        .unwrap()
        .parse()
        .unwrap();
    let md5 = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("md5="))
        .unwrap();
    // Verify independently, as nginx's secure_link_md5 "$secure_link_expires$uri s3cret" does.
    let uri = base.trim_start_matches("https://cdn.example");
    let py = format!(
        "import base64,hashlib; print(base64.urlsafe_b64encode(hashlib.md5(b'{expires}{uri} s3cret').digest()).rstrip(b'=').decode())"
    );
    let o = std::process::Command::new("python3")
        .args(["-c", &py])
        .output()
        .expect("python3 runs");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), md5);
    assert!(!url.contains("s3cret"));
    // Unknown id: exit 1; no secret: exit 3.
    assert_eq!(
        rtprec()
            .args(["assets", "url", "0123"])
            .arg(&a)
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
    let out = rtprec()
        .args(["assets", "url", id])
        .arg(&a)
        .args(["--base-url", "https://x"])
        .env_remove("RTPREC_URL_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn list_names_a_broken_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("manifest.json"), "{\"version\": 1,\n oops}").unwrap();
    let out = rtprec()
        .args(["assets", "list"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("manifest.json") && err.contains("line 2"),
        "{err}"
    );
}
