//! `rtprec assets list` and `rtprec assets url` answer from recorded output directories.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Two output directories: the demo (2 completed) and the impaired demo (2 completed, inferred ids).
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

/// `assets list --json`: the hosted API's list response.
fn list_api(dirs: &[&Path], filters: &[&str]) -> Value {
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
    json(&out)
}

/// rtprec's own records, each with its `dir`: `[.data[].metadata]`, as the README says.
fn list(dirs: &[&Path], filters: &[&str]) -> Vec<Value> {
    list_api(dirs, filters)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["metadata"].clone())
        .collect()
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
    // Unknown id: exit 1; no secret: exit 2 (RTPREC_URL_SECRET stands for an option).
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
    assert_eq!(out.status.code(), Some(2));
}

/// `assets list --json` answers as the hosted recording-assets API's list call
/// (100ms `GET /v2/recording-assets`), field by field from rtprec's record.
#[test]
fn list_json_is_shaped_like_the_hosted_api() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = two_dirs(tmp.path());
    // A third directory whose one asset failed: no file, no duration, no stop time.
    let c = tmp.path().join("c");
    std::fs::create_dir(&c).unwrap();
    let mut m: Value =
        serde_json::from_slice(&std::fs::read(a.join("manifest.json")).unwrap()).unwrap();
    let mut failed_asset = m["assets"][0].clone();
    for k in [
        "path",
        "size",
        "sha256",
        "duration_ms",
        "stopped_at",
        "container",
    ] {
        failed_asset[k] = Value::Null;
    }
    failed_asset["status"] = "failed".into();
    failed_asset["error"] = serde_json::json!({"code": "no-media", "message": "no packet"});
    m["assets"] = Value::Array(vec![failed_asset]);
    std::fs::write(c.join("manifest.json"), m.to_string()).unwrap();
    let api = list_api(&[&a, &b, &c], &[]);
    let top: Vec<&str> = api
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, ["data", "last", "limit"]);
    let data = api["data"].as_array().unwrap();
    assert_eq!(api["limit"], data.len());
    assert_eq!(api["last"], Value::Null);
    let mut with_duration = 0;
    let mut failed = 0;
    for item in data {
        let m = &item["metadata"];
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut want = vec![
            "duration",
            "id",
            "metadata",
            "path",
            "peer_id",
            "room_id",
            "session_id",
            "size",
            "status",
            "track_id",
            "type",
        ];
        if !m["stopped_at"].is_null() {
            want.push("created_at");
            assert_eq!(item["created_at"], m["stopped_at"]);
        }
        want.sort_unstable();
        assert_eq!(keys, want, "{item:#}");
        for k in [
            "id",
            "room_id",
            "session_id",
            "peer_id",
            "track_id",
            "status",
            "size",
        ] {
            assert_eq!(item[k], m[k], "{k}");
        }
        assert_eq!(item["type"], "track");
        assert_eq!(item["type"], m["type"]);
        let dir = Path::new(m["dir"].as_str().unwrap());
        assert!(dir == a || dir == b || dir == c, "{}", dir.display());
        match m["path"].as_str() {
            Some(rel) => {
                let abs = std::path::absolute(dir.join(rel)).unwrap();
                assert_eq!(item["path"], abs.to_str().unwrap());
                assert!(abs.is_file());
                assert_eq!(
                    Some(std::fs::metadata(&abs).unwrap().len()),
                    item["size"].as_u64()
                );
            }
            None => {
                assert_eq!(item["path"], Value::Null);
                failed += 1;
            }
        }
        match m["duration_ms"].as_u64() {
            Some(ms) => {
                let secs = item["duration"].as_f64().expect("a number of seconds");
                assert_eq!(secs, ms as f64 / 1000.0);
                assert!(ms > 0);
                with_duration += 1;
            }
            None => assert_eq!(item["duration"], Value::Null),
        }
    }
    assert_eq!((with_duration, failed), (4, 1), "{api:#}");
    // Nothing matched: still the response shape, and exit 1.
    let out = rtprec()
        .args(["assets", "list", "--json"])
        .arg(&a)
        .args(["--peer-id", "nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json(&out),
        serde_json::json!({"data": [], "limit": 0, "last": null})
    );
}

/// `assets url --json` answers as the hosted API's pre-signed URL call:
/// id, path, url and expiry (seconds the URL stays valid).
#[test]
fn url_json_is_shaped_like_the_presigned_url_response() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = two_dirs(tmp.path());
    let item = list_api(&[&a], &["--peer-id", "alice"])["data"][0].clone();
    let id = item["id"].as_str().unwrap();
    let url_json = |extra: &[&str]| {
        let out = rtprec()
            .args(["assets", "url", "--json", id])
            .arg(&a)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };
    let plain = url_json(&[]);
    assert_eq!(
        plain,
        serde_json::json!({
            "id": id,
            "path": item["path"],
            "url": format!("file://{}", item["path"].as_str().unwrap()),
            "expiry": null,
        })
    );

    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = url_json(&[
        "--base-url",
        "https://cdn.example/rec",
        "--expires-in",
        "600",
        "--secret-file",
        secret.to_str().unwrap(),
    ]);
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let keys: Vec<&str> = signed
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["expiry", "id", "path", "url"]);
    assert_eq!(signed["id"], id);
    assert_eq!(signed["path"], item["path"]);
    assert_eq!(signed["expiry"], 600);
    let url = signed["url"].as_str().unwrap();
    let rel = item["metadata"]["path"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("https://cdn.example/rec/{rel}?md5=")),
        "{url}"
    );
    // The link's own expiry is now + --expires-in.
    let expires: u64 = url
        .split_once("&expires=")
        .map(|(_, e)| e.parse().unwrap())
        .unwrap();
    assert!((before + 600..=after + 600).contains(&expires), "{url}");
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
