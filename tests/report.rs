//! `rtprec report` and `record --report` (issue #14): the timeline file beside
//! the manifest and the self-contained HTML page made from both.

use crate::util::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// `rtprec record CAPTURE ARGS... -o DIR --events none`, which must exit 0.
fn record(capture: &str, args: &[&str], dir: &Path) {
    let out = rtprec()
        .args(["-q", "record"])
        .arg(testdata(capture))
        .arg("-o")
        .arg(dir)
        .args(["--events", "none"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{capture} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The page's `src="..."` attribute values.
fn sources(html: &str) -> Vec<String> {
    html.split(" src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(String::from)
        .collect()
}

#[test]
fn record_with_report_writes_a_self_contained_page_of_every_session() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    record("media-opus-vp8.pcap", &[], &dir);
    let meta = testdata("demo-2peers-opus-vp8.session.json");
    record(
        "demo-2peers-opus-vp8.pcap",
        &["-m", meta.to_str().unwrap(), "--report"],
        &dir,
    );
    let manifest = read_json(&dir.join("manifest.json"));
    let timeline = read_json(&dir.join("timeline.json"));
    assert_valid_timeline(&timeline, &manifest);
    let assets = manifest["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 6, "two runs' sessions accumulate");
    // Every track that got packets has its series, and nothing else is listed.
    let ids: BTreeSet<&str> = assets.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let keys: BTreeSet<&str> = timeline["tracks"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(ids, keys);
    for a in assets {
        let t = &timeline["tracks"][a["id"].as_str().unwrap()];
        let packets: u64 = t["packets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap())
            .sum();
        assert_eq!(Some(packets), a["stats"]["packets"].as_u64(), "{a}");
        if a["kind"] == "video" {
            assert!(!t["keyframe_ms"].as_array().unwrap().is_empty(), "{t}");
        }
    }

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Self-contained: nothing fetched, no script needed.
    assert!(!html.contains("<script"), "no script");
    assert!(!html.contains("<link") && !html.contains("@import"));
    for attr in ["src=\"http", "href=\"http", "src=\"//", "url("] {
        assert!(!html.contains(attr), "{attr} in the page");
    }
    // One timeline per session, three plots per track.
    assert_eq!(html.matches("data-plot=\"timeline\"").count(), 2);
    for plot in ["bitrate", "loss", "jitter"] {
        assert_eq!(html.matches(&format!("data-plot=\"{plot}\"")).count(), 6);
    }
    assert!(!html.contains("data-points=\"0\""));
    // A player per file, linked relatively to the file the manifest lists.
    let mut expected: Vec<String> = assets
        .iter()
        .map(|a| a["path"].as_str().unwrap().to_string())
        .collect();
    let mut srcs = sources(&html);
    expected.sort();
    srcs.sort();
    assert_eq!(srcs, expected);
    for s in &srcs {
        assert!(dir.join(s).is_file(), "{s}");
    }
    assert_eq!(html.matches("<video ").count(), 3);
    assert_eq!(html.matches("<audio ").count(), 3);
    for peer in ["alice", "bob", "10.0.0.10-50000"] {
        assert!(html.contains(peer), "{peer}");
    }
}

#[test]
fn a_session_recorded_again_replaces_its_series() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    // Both name their session demo-room/demo-session: the second run replaces the first.
    let meta = testdata("media-opus-vp8.session.json");
    record("media-opus-vp8.pcap", &["-m", meta.to_str().unwrap()], &dir);
    let first = read_json(&dir.join("timeline.json"));
    let meta = testdata("demo-2peers-opus-vp8.session.json");
    record(
        "demo-2peers-opus-vp8.pcap",
        &["-m", meta.to_str().unwrap()],
        &dir,
    );
    let manifest = read_json(&dir.join("manifest.json"));
    let timeline = read_json(&dir.join("timeline.json"));
    assert_valid_timeline(&timeline, &manifest);
    assert_eq!(timeline["tracks"].as_object().unwrap().len(), 4);
    // alice-mic has the same asset id in both runs: its series is the second run's.
    let mic = manifest["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["track_id"] == "alice-mic")
        .unwrap();
    let id = mic["id"].as_str().unwrap();
    assert!(first["tracks"].get(id).is_some());
    assert_ne!(first["tracks"][id], timeline["tracks"][id]);
}

#[test]
fn the_timeline_shows_loss_and_does_not_depend_on_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for jobs in ["1", "3"] {
        let dir = tmp.path().join(jobs);
        record("media-opus-vp8-impaired.pcap", &["-j", jobs], &dir);
        files.push(std::fs::read(dir.join("timeline.json")).unwrap());
    }
    assert_eq!(files[0], files[1], "same bytes whatever --jobs");
    let t: Value = serde_json::from_slice(&files[0]).unwrap();
    let manifest = read_json(&tmp.path().join("1/manifest.json"));
    for a in manifest["assets"].as_array().unwrap() {
        let series = &t["tracks"][a["id"].as_str().unwrap()];
        let lost: u64 = series["lost"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(Some(lost), a["stats"]["lost"].as_u64(), "{a}");
        let in_gaps: u64 = series["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g[2].as_u64().unwrap())
            .sum();
        assert_eq!(in_gaps, lost, "{series}");
    }
    assert!(
        manifest["assets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["stats"]["lost"].as_u64() > Some(0)),
        "the impaired capture loses packets"
    );
}

#[test]
fn report_subcommand_links_from_where_the_page_is() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my rec");
    record("media-opus-vp8.pcap", &[], &dir);
    let page = tmp.path().join("www").join("r.html");
    std::fs::create_dir_all(page.parent().unwrap()).unwrap();
    let out = rtprec()
        .arg("report")
        .arg(&dir)
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote"));
    let html = std::fs::read_to_string(&page).unwrap();
    let srcs = sources(&html);
    assert_eq!(srcs.len(), 2);
    for s in srcs {
        let rel = s
            .strip_prefix("../my%20rec/")
            .unwrap_or_else(|| panic!("{s}"));
        assert!(dir.join(rel).is_file(), "{s}");
    }
    // No manifest: nothing to report, exit 3.
    let out = rtprec()
        .arg("report")
        .arg(tmp.path().join("www"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest.json"));
    // The page cannot be written (a file where its directory should be): exit 7.
    let out = rtprec()
        .arg("report")
        .arg(&dir)
        .arg("-o")
        .arg(page.join("r.html"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn strings_from_the_manifest_are_escaped_in_the_page() {
    // Metadata ids are sanitized before they reach the manifest (`<` becomes
    // `_`), but input names and metadata codec names are kept as given.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let hostile = r#"<img src=x onerror=alert(1)>&'""#;
    let capture = tmp.path().join(format!("{hostile}.pcap"));
    std::fs::copy(testdata("demo-2peers-opus-vp8.pcap"), &capture).unwrap();
    let meta = std::fs::read_to_string(testdata("demo-2peers-opus-vp8.session.json"))
        .unwrap()
        .replace(r#""peer_id": "alice""#, r#""peer_id": "<b>alice""#)
        .replace(
            r#""track_id": "bob-cam", "kind": "video", "source": "regular",
          "ssrc": 2232804064, "codec": "vp8""#,
            r#""track_id": "bob-cam", "kind": "video", "source": "regular",
          "ssrc": 2232804064, "codec": "<svg onload=alert(2)>""#,
        );
    assert!(
        meta.contains("<svg onload"),
        "the metadata has the codec to replace"
    );
    let meta_path = tmp.path().join("session.json");
    std::fs::write(&meta_path, meta).unwrap();
    let out = rtprec()
        .args(["-q", "record"])
        .arg(&capture)
        .arg("-o")
        .arg(&dir)
        .args(["--events", "none", "--report", "-m"])
        .arg(&meta_path)
        .output()
        .unwrap();
    assert!(
        dir.join("report.html").is_file(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = read_json(&dir.join("manifest.json"));
    let text = manifest.to_string();
    assert!(
        text.contains("<img src=x") && text.contains("<svg onload"),
        "{text}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        !html.contains("<img") && !html.contains("<svg onload") && !html.contains("<b>"),
        "{html}"
    );
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&amp;&#39;&quot;.pcap"));
    assert!(html.contains("&lt;svg onload=alert(2)&gt;"));
    // Links name the files as they are on disk.
    for s in sources(&html) {
        assert!(dir.join(&s).is_file(), "{s} is not a file");
    }
}
