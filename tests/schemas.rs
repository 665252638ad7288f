//! The shipped JSON Schemas (schemas/) accept what rtprec writes (issue #11): every
//! manifest and event of a recording of every capture in testdata/, the snapshots,
//! and a failed asset of each failure code.

use crate::util::*;
use rtprec::assets::{Asset, Failure, FailureCode, Manifest, Status};
use rtprec::events::Event;
use rtprec::events::fixtures::{T0, T1, asset};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Captures in testdata/ that `record` reads, sorted.
fn captures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            [".pcap", ".pcapng", ".rtpdump", ".rtp", ".pcap.gz"]
                .iter()
                .any(|ext| name.ends_with(ext))
        })
        .collect();
    v.sort();
    v
}

/// `NAME.session.json` beside a capture `NAME.pcap` (or `NAME.pcap.gz`), if any.
fn metadata_of(capture: &Path) -> Option<PathBuf> {
    let name = capture.file_name()?.to_string_lossy();
    let stem = name.trim_end_matches(".gz");
    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
    let meta = capture.with_file_name(format!("{stem}.session.json"));
    meta.is_file().then_some(meta)
}

/// What one run left: its manifest and its events, each checked against the schemas.
struct Recorded {
    manifest: Value,
    events: Vec<Value>,
    /// OUT/timeline.json, validated, when the run left one.
    timeline: Option<Value>,
}

/// `rtprec record CAPTURE ARGS... -o DIR --events DIR/events.ndjson`; the manifest
/// and events, validated. A run that exits non-zero must still leave a valid manifest
/// when it leaves one at all (`None` when it left none).
fn record_and_validate(capture: &Path, args: &[&str], dir: &Path) -> Option<Recorded> {
    let events_file = dir.join("events.ndjson");
    let out_dir = dir.join("out");
    let out = rtprec()
        .arg("record")
        .arg(capture)
        .arg("-o")
        .arg(&out_dir)
        .arg("--events")
        .arg(&events_file)
        .args(args)
        .output()
        .unwrap();
    let what = format!("{} {args:?}", capture.display());
    let manifest_path = out_dir.join("manifest.json");
    if !manifest_path.is_file() {
        assert_ne!(
            out.status.code(),
            Some(0),
            "{what}: exit 0 but no manifest; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap())
        .unwrap_or_else(|e| panic!("{what}: manifest.json is not JSON: {e}"));
    assert_valid_manifest(&manifest);
    // The manifest is what the library's type writes and reads back.
    let typed: Manifest = serde_json::from_value(manifest.clone())
        .unwrap_or_else(|e| panic!("{what}: manifest does not read back: {e}"));
    assert_eq!(serde_json::to_value(&typed).unwrap(), manifest, "{what}");
    // The time series beside it (for `rtprec report`), keyed by the manifest's asset ids.
    let timeline_path = out_dir.join("timeline.json");
    let timeline = timeline_path.is_file().then(|| {
        let t: Value = serde_json::from_slice(&std::fs::read(&timeline_path).unwrap())
            .unwrap_or_else(|e| panic!("{what}: timeline.json is not JSON: {e}"));
        assert_valid_timeline(&t, &manifest);
        t
    });
    let events = std::fs::read_to_string(&events_file).unwrap_or_default();
    let events = assert_valid_events_ndjson(&events);
    Some(Recorded {
        manifest,
        events,
        timeline,
    })
}

/// Every capture in testdata/, inferred and (where it has one) with its
/// session metadata, and Opus to WebM: all manifests and events are valid, and
/// together they cover every container and both event outcomes.
#[test]
fn every_recording_of_testdata_matches_the_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for cap in captures() {
        runs.push((cap.clone(), vec![]));
        if let Some(meta) = metadata_of(&cap) {
            runs.push((cap.clone(), vec!["-m".into(), meta.display().to_string()]));
        }
    }
    runs.push((
        testdata("media-opus-vp8.pcap"),
        vec!["--audio-container".into(), "webm".into()],
    ));
    assert!(runs.len() >= 30, "{} runs", runs.len());
    let mut containers = BTreeSet::new();
    let mut event_types = BTreeSet::new();
    let mut identification = BTreeSet::new();
    let mut manifests = 0;
    let mut timelines = 0;
    for (i, (cap, args)) in runs.iter().enumerate() {
        let dir = tmp.path().join(i.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let Some(r) = record_and_validate(cap, &args, &dir) else {
            continue;
        };
        manifests += 1;
        timelines += usize::from(r.timeline.is_some());
        identification.insert(r.manifest["identification"].to_string());
        for a in r.manifest["assets"].as_array().unwrap() {
            if let Some(c) = a["container"].as_str() {
                containers.insert(c.to_string());
            }
        }
        for e in &r.events {
            event_types.insert(e["type"].as_str().unwrap().to_string());
            if let Some(c) = e["data"]["container"].as_str() {
                assert!(containers.contains(c), "{e}");
            }
        }
    }
    assert!(manifests >= 25, "only {manifests} runs left a manifest");
    assert_eq!(timelines, manifests, "every manifest has its timeline.json");
    assert_eq!(
        containers,
        BTreeSet::from(["mp4", "ogg", "wav", "webm"].map(String::from))
    );
    assert_eq!(
        event_types,
        BTreeSet::from(
            [
                "track.recording.failure",
                "track.recording.started.success",
                "track.recording.success"
            ]
            .map(String::from)
        )
    );
    assert_eq!(
        identification,
        BTreeSet::from(["\"inferred\"", "\"metadata\""].map(String::from))
    );
}

#[test]
fn snapshots_match_the_schemas() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("demo-manifest.json")).unwrap())
            .unwrap();
    assert_valid_manifest(&manifest);
    let events = assert_valid_events_ndjson(
        &std::fs::read_to_string(dir.join("demo-events.ndjson")).unwrap(),
    );
    assert!(!events.is_empty());
}

/// Every failure code rtprec writes; the match makes a new code a compile error here
/// until it is listed (and so checked against the schemas).
fn all_failure_codes() -> Vec<FailureCode> {
    use FailureCode::*;
    let all = vec![
        UnsupportedCodec,
        UnknownCodec,
        NoMedia,
        NoKeyframe,
        NoDecodableFrames,
        UnsupportedFormat,
        IoError,
        SrtpAuthFailed,
        EncryptedNoKey,
        DtlsKeyMissing,
        Skipped,
        Internal,
    ];
    for c in &all {
        match c {
            UnsupportedCodec | UnknownCodec | NoMedia | NoKeyframe | NoDecodableFrames
            | UnsupportedFormat | IoError | SrtpAuthFailed | EncryptedNoKey | DtlsKeyMissing
            | Skipped | Internal => {}
        }
    }
    all
}

fn manifest_of(assets: Vec<Asset>) -> Value {
    serde_json::to_value(Manifest {
        version: rtprec::assets::MANIFEST_VERSION,
        generator: "rtprec 0.1.0".into(),
        inputs: vec!["x.pcap".into()],
        identification: "inferred".into(),
        assets,
    })
    .unwrap()
}

/// A failed (or skipped) asset of each code, its manifest and its failure event
/// validate; so do a completed asset of each container and the failure event of
/// an asset that lost its reason (code `unknown`).
#[test]
fn failed_assets_of_every_code_match_the_schemas() {
    let mut assets = Vec::new();
    for code in all_failure_codes() {
        let status = if code == FailureCode::Skipped {
            Status::Skipped
        } else {
            Status::Failed
        };
        let mut a = asset(&format!("t-{}", code.as_str()), status);
        // The manifest writes SSRCs in upper-case hex (the fixture does not).
        a.ssrc = Some("0x00002B67".into());
        a.error = Some(Failure::new(code, "why"));
        let ev = serde_json::to_value(Event::finished(&a, T1)).unwrap();
        assert_valid_event(&ev);
        assert_eq!(ev["data"]["error"]["code"], code.as_str());
        assets.push(a);
    }
    for (codec, container) in [
        ("opus", "ogg"),
        ("vp8", "webm"),
        ("h264", "mp4"),
        ("pcmu", "wav"),
    ] {
        let mut a = asset(&format!("t-{container}"), Status::Completed);
        a.ssrc = Some("0x00002B67".into());
        a.codec = Some(codec.into());
        a.container = Some(container.into());
        a.path = Some(format!(
            "room-7/6560c6ad3f4a/p-host/t-{container}.{container}"
        ));
        for ev in [Event::started(&a, T0), Event::finished(&a, T1)] {
            assert_valid_event(&serde_json::to_value(ev).unwrap());
        }
        assets.push(a);
    }
    assert_valid_manifest(&manifest_of(assets));
    let mut lost = asset("t-lost", Status::Failed);
    lost.error = None;
    let ev = serde_json::to_value(Event::finished(&lost, T1)).unwrap();
    assert_eq!(ev["data"]["error"]["code"], "unknown");
    assert_valid_event(&ev);
}

/// The schemas are not vacuous: what rtprec never writes is rejected.
#[test]
fn the_schemas_reject_what_rtprec_never_writes() {
    let mut a = asset("t-host-mic", Status::Completed);
    a.ssrc = Some("0x00002B67".into());
    let a_id = a.id.clone();
    let good = manifest_of(vec![a]);
    assert_valid_manifest(&good);
    let ev =
        serde_json::to_value(Event::finished(&asset("t-host-mic", Status::Completed), T1)).unwrap();
    assert_valid_event(&ev);
    let bad_manifests = [
        ("/assets/0/container", Value::from("mkv")),
        ("/assets/0/stats/lost", Value::from(-1)),
        ("/assets/0/ssrc", Value::from("0x00002b67")),
        ("/assets/0/started_at", Value::from("yesterday")),
    ];
    for (at, value) in bad_manifests {
        let mut m = good.clone();
        *m.pointer_mut(at).unwrap() = value;
        assert!(validate_manifest(&m).is_err(), "{at} accepted");
    }
    let mut m = good.clone();
    m["assets"][0]["stats"]
        .as_object_mut()
        .unwrap()
        .remove("packets");
    assert!(
        validate_manifest(&m).is_err(),
        "stats without packets accepted"
    );
    let good_timeline = serde_json::json!({"version": 1, "tracks": {(a_id.clone()): {
        "start_ms": 1_795_428_001_120i64, "end_ms": 980, "interval_ms": 1000,
        "packets": [50], "bytes": [4000], "lost": [1], "recovered": [1], "jitter_us": [300],
        "max_gap_ms": [40], "keyframes": [0], "gaps": [[400, 440, 1]], "pauses": [],
        "keyframe_ms": [], "events_dropped": 0}}});
    assert_valid_timeline(&good_timeline, &good);
    let track = format!("/tracks/{a_id}");
    for (at, value) in [
        (format!("{track}/interval_ms"), Value::from(10)),
        (format!("{track}/lost/0"), Value::from(-1)),
        (format!("{track}/gaps/0"), serde_json::json!([400, 440])),
        ("/version".to_string(), Value::from(2)),
    ] {
        let mut t = good_timeline.clone();
        *t.pointer_mut(&at).unwrap() = value;
        assert!(validate_timeline(&t).is_err(), "{at} accepted");
    }
    for (at, value) in [
        ("/data/container", Value::from("mkv")),
        ("/type", Value::from("track.recording.paused")),
    ] {
        let mut e = ev.clone();
        *e.pointer_mut(at).unwrap() = value;
        assert!(validate_event(&e).is_err(), "{at} accepted");
    }
}
