use super::*;
use crate::assets::{AssetStats, Failure, FailureCode};

fn asset(track: &str) -> Asset {
    Asset {
        id: crate::assets::asset_id("r", "s", "p", track),
        asset_type: "track".into(),
        room_id: "r".into(),
        session_id: "s".into(),
        peer_id: "p".into(),
        track_id: track.into(),
        kind: crate::session::Kind::Audio,
        source: crate::session::Source::Regular,
        codec: Some("opus".into()),
        container: Some("ogg".into()),
        ssrc: Some("0x00000001".into()),
        payload_type: Some(111),
        clock_rate: Some(48000),
        // No file: these tests are about the manifest comparison alone.
        path: None,
        size: None,
        sha256: Some("aa".into()),
        started_at: None,
        stopped_at: None,
        duration_ms: Some(4013),
        start_offset_ms: Some(0),
        start_offset_source: None,
        sender_clock: None,
        resolution: None,
        status: Status::Completed,
        error: None,
        inferred: vec![],
        time_source: None,
        decryption: None,
        exports: Vec::new(),
        stats: AssetStats {
            packets: 200,
            frames_written: 200,
            ..AssetStats::default()
        },
    }
}

fn manifest(assets: Vec<Asset>) -> Manifest {
    Manifest {
        version: 1,
        generator: "rtprec 0.0.1".into(),
        inputs: vec![],
        identification: "inferred".into(),
        assets,
    }
}

fn run(mode: Mode, e: &Manifest, a: &Manifest) -> Report {
    let dir = Path::new(".");
    compare(
        e,
        a,
        &Options {
            mode,
            tolerances: Tolerances::default(),
            dir,
            probe: Some(&|_| Ok(())),
        },
    )
}

#[test]
fn identical_manifests_pass_in_both_modes() {
    let m = manifest(vec![asset("mic"), asset("cam")]);
    for mode in [Mode::Strict, Mode::Tolerant] {
        let r = run(mode, &m, &m);
        assert!(r.passed());
        assert_eq!(r.tracks.len(), 2);
        assert!(r.render_text().contains("✓ r/s/p/mic"));
    }
}

#[test]
fn default_mode_follows_the_generator() {
    let mut m = manifest(vec![]);
    assert_eq!(default_mode(&m), Mode::Tolerant);
    m.generator = this_generator();
    assert_eq!(default_mode(&m), Mode::Strict);
}

#[test]
fn duration_within_and_beyond_tolerance() {
    let e = manifest(vec![asset("mic")]);
    let mut a = e.clone();
    a.assets[0].duration_ms = Some(3990);
    let r = run(Mode::Tolerant, &e, &a);
    assert!(r.passed());
    assert!(
        r.render_text()
            .contains("~ r/s/p/mic: duration_ms 4013 -> 3990 (within 40 ms)")
    );
    a.assets[0].duration_ms = Some(4513);
    let r = run(Mode::Tolerant, &e, &a);
    assert!(!r.passed());
    assert!(
        r.render_text()
            .contains("✗ r/s/p/mic: duration_ms 4013 -> 4513 (off by 500, tolerance 40 ms)")
    );
}

#[test]
fn status_and_loss_changes_fail() {
    let e = manifest(vec![asset("mic")]);
    let mut a = e.clone();
    a.assets[0].status = Status::Failed;
    a.assets[0].error = Some(Failure::new(FailureCode::NoKeyframe, "x"));
    a.assets[0].stats.lost = 3;
    let text = run(Mode::Tolerant, &e, &a).render_text();
    assert!(text.contains("✗ r/s/p/mic: status completed -> failed (no-keyframe)"));
    assert!(text.contains("✗ r/s/p/mic: stats.lost 0 -> 3"));
    assert!(text.ends_with("FAIL (tolerant mode): 1 tracks, 0 passed, 1 failed\n"));
}

#[test]
fn sha256_fails_strict_only() {
    let e = manifest(vec![asset("mic")]);
    let mut a = e.clone();
    a.assets[0].sha256 = Some("bb".into());
    let r = run(Mode::Strict, &e, &a);
    assert!(!r.passed());
    assert!(r.render_text().contains("✗ r/s/p/mic: sha256 aa -> bb"));
    let r = run(Mode::Tolerant, &e, &a);
    assert!(r.passed());
}

#[test]
fn added_and_missing_tracks() {
    let e = manifest(vec![asset("mic")]);
    let a = manifest(vec![asset("cam")]);
    let r = run(Mode::Tolerant, &e, &a);
    let text = r.render_text();
    assert!(text.contains("+ r/s/p/cam: new track (completed)"));
    assert!(text.contains("- r/s/p/mic: missing track (expected completed)"));
    assert_eq!(r.failures(), 2);
}

#[test]
fn junit_is_well_formed_with_counts() {
    let e = manifest(vec![asset("mic"), asset("cam"), asset("x<&\"y")]);
    let mut a = e.clone();
    a.assets[0].duration_ms = Some(1);
    let r = run(Mode::Tolerant, &e, &a);
    let xml = junit::to_xml(&r).expect("xml");
    assert_eq!(junit::count(&xml).expect("well-formed"), (3, 1));
    assert!(xml.contains("x&lt;&amp;&quot;y"));
}

#[test]
fn a_missing_file_fails() {
    let mut m = manifest(vec![asset("mic")]);
    m.assets[0].path = Some("no/such/file.ogg".into());
    let r = run(Mode::Tolerant, &m, &m);
    assert!(!r.passed());
    assert!(
        r.render_text()
            .contains("✗ r/s/p/mic: file no/such/file.ogg:")
    );
}

#[test]
fn update_text_round_trips() {
    let m = manifest(vec![asset("mic")]);
    let text = manifest_text(&m);
    assert!(text.ends_with("}\n"));
    assert_eq!(parse_manifest(&text), Ok(m));
}
