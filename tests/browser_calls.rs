//! Real browser calls, made while the tests run: Firefox calling itself over
//! loopback with DTLS 1.2 and DTLS 1.3 (a pcap and the SSLKEYLOGFILE key log),
//! headless Chromium calling itself with WebRTC's RTP dump on (every RTP and
//! RTCP packet in clear in its debug log), and Chromium calling Firefox (both). `tests/browser_call/` has the
//! page and the drivers; each kind of call is made once per test binary, in
//! its own network namespace, and shared by the tests that use it.
//!
//! In each call peer A sends a microphone, a camera (fake devices) and a canvas
//! "screen"; peer B sends a microphone back. Every number the recordings are
//! held to comes from outside rtprec: from the browsers' `getStats()` (read
//! after the senders stopped, so the counters are final and every packet they
//! count is in the capture) and from `wire.json`, the packets per SSRC that
//! `tests/browser_call/wire_counts.py` reads from the clear RTP headers of the
//! capture (with each DTLS association's client_random and its SSRCs).
//!
//! Needs root (`unshare`), tcpdump, iproute2, python3 and the browser: outside
//! CI a missing one skips with a printed reason; in CI it fails.

use crate::util::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// The kinds of call the tests use.
#[derive(Clone, Copy, Debug)]
enum Call {
    /// Firefox, DTLS 1.2, everything BUNDLEd on one 5-tuple.
    Firefox12,
    /// Firefox, DTLS 1.3.
    Firefox13,
    /// Firefox, DTLS 1.2, no BUNDLE: one transport, so one DTLS association, per m-line.
    Firefox12Unbundled,
    /// Chromium with the RTP dump in its debug log.
    Chromium,
    /// Chromium (peer A) calling Firefox (peer B): Firefox's key log,
    /// Chromium's RTP dump, and the SRTP profile AES_CM_128_HMAC_SHA1_80.
    ChromiumFirefox,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Firefox12 => "firefox-dtls12",
            Call::Firefox13 => "firefox-dtls13",
            Call::Firefox12Unbundled => "firefox-dtls12-unbundled",
            Call::Chromium => "chromium",
            Call::ChromiumFirefox => "chromium-firefox",
        }
    }

    fn browsers(self) -> &'static [&'static str] {
        match self {
            Call::Chromium => &["chromium"],
            Call::ChromiumFirefox => &["chromium", "firefox-esr"],
            _ => &["firefox-esr"],
        }
    }

    /// The driver script and its arguments after OUTDIR.
    fn script(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Call::Firefox12 => ("firefox_call.sh", &["1.2"]),
            Call::Firefox13 => ("firefox_call.sh", &["1.3"]),
            Call::Firefox12Unbundled => ("firefox_call.sh", &["1.2", "none"]),
            Call::Chromium => ("chromium_call.sh", &[]),
            Call::ChromiumFirefox => ("cross_call.sh", &["1.2"]),
        }
    }
}

/// Why browser calls cannot be made on this machine, or None when they can.
fn missing_prerequisite(browsers: &[&str]) -> Option<String> {
    let runs = |tool: &str, args: &[&str]| {
        Command::new(tool)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let browsers = browsers.iter().map(|b| (*b, "--version"));
    for (tool, arg) in browsers.chain([
        ("tcpdump", "--version"),
        ("unshare", "--version"),
        ("ip", "-V"),
        ("python3", "--version"),
    ]) {
        if !runs(tool, &[arg]) {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    if !runs("unshare", &["--net", "--pid", "--fork", "true"]) {
        return Some("`unshare --net --pid --fork` fails (it needs root)".into());
    }
    None
}

/// The directory of a call of `kind` (made on first use), or None when calls
/// cannot be made here outside CI (the reason printed). A call that fails
/// fails every test that uses it, with the driver's output.
fn call(kind: Call) -> Option<&'static Path> {
    static CALLS: [OnceLock<Result<Option<PathBuf>, String>>; 5] = [const { OnceLock::new() }; 5];
    // Two browsers at once on a small machine only make both slower.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let made = CALLS[kind as usize].get_or_init(|| {
        if let Some(why) = missing_prerequisite(kind.browsers()) {
            assert!(
                !in_ci(),
                "CI is set but browser calls cannot be made: {why} (.ci/run installs the tools; CI runs as root)"
            );
            eprintln!("skipped: {why}; the browser-call tests need it");
            return Ok(None);
        }
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("browser-calls")
            .join(kind.name());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (script, args) = kind.script();
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/browser_call")
            .join(script);
        let started = Instant::now();
        let out = Command::new(&script)
            .arg(&dir)
            .args(args)
            .env("CALL_TIMEOUT", "60")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} {} {}: {}\n{}",
                script.display(),
                dir.display(),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        eprintln!(
            "{}: call made in {:.1} s in {}",
            kind.name(),
            started.elapsed().as_secs_f64(),
            dir.display()
        );
        Ok(Some(dir))
    });
    match made {
        Ok(dir) => dir.as_deref(),
        Err(e) => panic!("the {} call failed: {e}", kind.name()),
    }
}

/// One sender, from the page's `getStats()` summary (`stats.json` `outbound`).
#[derive(Debug)]
struct Sent {
    /// "A" or "B".
    peer: String,
    /// "microphone", "camera" or "screen".
    role: String,
    ssrc: u32,
    kind: String,
    mid: String,
    packets_sent: u64,
    retransmitted: u64,
    frames_sent: Option<u64>,
    /// The subtype of the codec's mimeType, lowercase ("opus", "vp8").
    codec: String,
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn senders(dir: &Path) -> Vec<Sent> {
    let stats = read_json(&dir.join("stats.json"));
    let rows = stats["outbound"].as_array().expect("stats.json outbound");
    let mut sent: Vec<Sent> = rows
        .iter()
        .map(|r| Sent {
            peer: r["peer"].as_str().unwrap().into(),
            role: r["role"].as_str().unwrap().into(),
            ssrc: r["ssrc"].as_u64().unwrap() as u32,
            kind: r["kind"].as_str().unwrap().into(),
            mid: r["mid"].as_str().unwrap().into(),
            packets_sent: r["packetsSent"].as_u64().unwrap(),
            retransmitted: r["retransmittedPacketsSent"].as_u64().unwrap_or(0),
            frames_sent: r["framesSent"].as_u64(),
            codec: r["mimeType"]
                .as_str()
                .and_then(|m| m.split('/').nth(1))
                .unwrap()
                .to_ascii_lowercase(),
        })
        .collect();
    let rank = |s: &Sent| {
        ["microphone", "camera", "screen"]
            .iter()
            .position(|r| *r == s.role)
    };
    sent.sort_by_key(|s| (s.peer.clone(), rank(s)));
    let roles: Vec<String> = sent
        .iter()
        .map(|s| format!("{}:{}", s.peer, s.role))
        .collect();
    assert_eq!(
        roles,
        ["A:microphone", "A:camera", "A:screen", "B:microphone"],
        "the page's senders ({})",
        dir.display()
    );
    sent
}

/// Packets per SSRC on the wire (or in the dump), from wire.json.
fn wire_packets(wire: &Value, ssrc: u32) -> u64 {
    wire["rtp"][ssrc.to_string()]["packets"]
        .as_u64()
        .unwrap_or(0)
}

/// Media SSRC -> RTX SSRC, from the `a=ssrc-group:FID` lines of both SDPs.
fn rtx_ssrcs(dir: &Path) -> BTreeMap<u32, u32> {
    let mut map = BTreeMap::new();
    for f in ["offer.sdp", "answer.sdp"] {
        let sdp = std::fs::read_to_string(dir.join(f)).unwrap();
        for line in sdp.lines() {
            if let Some(rest) = line.strip_prefix("a=ssrc-group:FID ") {
                let ssrcs: Vec<u32> = rest
                    .split_whitespace()
                    .map(|s| s.parse().unwrap())
                    .collect();
                map.insert(ssrcs[0], ssrcs[1]);
            }
        }
    }
    map
}

/// The track asset of `ssrc` in `manifest`.
fn asset_of(manifest: &Value, ssrc: u32) -> &Value {
    let want = format!("0x{ssrc:08X}");
    manifest["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "track" && a["ssrc"].as_str() == Some(want.as_str()))
        .unwrap_or_else(|| panic!("no track of SSRC {want} in the manifest:\n{manifest:#}"))
}

fn track_assets(manifest: &Value) -> Vec<&Value> {
    manifest["assets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "track")
        .collect()
}

/// One line per track asset, for failure messages.
fn summary(manifest: &Value) -> String {
    track_assets(manifest)
        .iter()
        .map(|a| {
            format!(
                "  {} {} {} {} {}: {} {}\n",
                a["peer_id"].as_str().unwrap_or("?"),
                a["track_id"].as_str().unwrap_or("?"),
                a["ssrc"].as_str().unwrap_or("?"),
                a["kind"].as_str().unwrap_or("?"),
                a["codec"].as_str().unwrap_or("?"),
                a["status"].as_str().unwrap_or("?"),
                a["error"]
            )
        })
        .collect()
}

/// Runs `rtprec record INPUT -o OUT ARGS... --events none --json`; its exit
/// status and manifest (held to the schema and to the files on disk).
fn record(input: &Path, out: &Path, args: &[&OsStr]) -> (Option<i32>, Value) {
    let o = rtprec()
        .arg("record")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(args)
        .args(["--events", "none", "--json"])
        .output()
        .expect("the rtprec binary runs");
    let manifest = json(&o);
    assert_valid_manifest(&manifest);
    assert_manifest_matches_disk(&manifest, out);
    (o.status.code(), manifest)
}

/// Fails unless ffmpeg decodes `file` completely with no error line, as
/// [`assert_decodes_cleanly`] but with the null output in the file's own time
/// base (`-enc_time_base -1`). Browsers' canvas tracks have irregular frame
/// times (29 ms, then 65 ms, ...); by default ffmpeg 5.1 gives the null
/// output a time base of 1/average frame rate, where two frames closer than
/// that fall on one tick and it reports "non monotonically increasing dts to
/// muxer", although the file's timestamps increase strictly.
fn decodes_cleanly(file: &Path) {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "ffmpeg errors on {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// How the recording of a call's input is held to the call.
#[derive(Clone, Copy, PartialEq)]
enum Input {
    /// A pcap of DTLS-SRTP, decrypted with the call's key log.
    Srtp,
    /// Chromium's RTP dump: every packet logged twice, sent (O) and received (I).
    Dump,
}

/// Holds one track to its sender's `getStats()` and the wire counts: recorded,
/// decoding cleanly, every packet accounted for, every video frame written.
fn check_track(dir: &Path, out: &Path, input: Input, s: &Sent, a: &Value) {
    let wire = read_json(&dir.join("wire.json"));
    let rtx = rtx_ssrcs(dir);
    let who = format!(
        "{} {} (SSRC {:#010X}, mid {})",
        s.peer, s.role, s.ssrc, s.mid
    );
    assert_eq!(a["status"], "completed", "{who}: {a:#}");
    assert_eq!(a["kind"], s.kind.as_str(), "{who}: kind");
    assert_eq!(a["codec"], s.codec.as_str(), "{who}: codec");
    let st = &a["stats"];
    let stat = |k: &str| {
        st[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{who}: no stats.{k}"))
    };
    assert_eq!(
        stat("srtp_auth_failures"),
        0,
        "{who}: SRTP authentication failures"
    );
    decodes_cleanly(&out.join(a["path"].as_str().unwrap()));

    // The harness itself: the browser's packetsSent counts the packets of the
    // media SSRC and of its RTX SSRC (on loopback RTX carries only padding
    // probes), and since the counters were read after the senders stopped,
    // the capture holds exactly that many.
    let media_wire = wire_packets(&wire, s.ssrc);
    let rtx_wire = rtx.get(&s.ssrc).map_or(0, |r| wire_packets(&wire, *r));
    assert_eq!(
        media_wire + rtx_wire,
        s.packets_sent,
        "{who}: the capture lacks packets the browser sent ({})",
        dir.display()
    );

    // Every media packet sent is recorded or counted lost, exactly: the
    // browser's counters are final and the capture holds every packet (tcpdump
    // sees a datagram on lo even if the receiving socket then drops it).
    let sent_media = s.packets_sent - rtx_wire;
    let (packets, lost) = (stat("packets"), stat("lost"));
    let (duplicates, other_path) = (stat("duplicates"), stat("duplicates_other_path"));
    let counts = format!(
        "packets {packets}, lost {lost}, duplicates {duplicates}, other path {other_path}, \
         rtx {}; the browser sent {sent_media} (packetsSent {} - {rtx_wire} on the RTX SSRC, \
         {} of them retransmissions)",
        stat("rtx_packets"),
        s.packets_sent,
        s.retransmitted
    );
    match input {
        Input::Srtp => {
            assert_eq!(packets + lost, sent_media, "{who}: {counts}");
            // Loopback duplicates nothing: the duplicates are retransmissions
            // of packets that had arrived (browsers probe bandwidth by
            // resending old packets on the RTX SSRC).
            assert!(duplicates <= stat("rtx_packets"), "{who}: {counts}");
            assert_eq!(other_path, 0, "{who}: {counts}");
        }
        Input::Dump => {
            // Each packet is logged twice (O at the sender, I at the
            // receiver): the reader keeps one copy of each, or feeds both and
            // drops the second as a duplicate (or a copy from another path).
            let once = packets + lost == sent_media;
            let twice = packets + lost == 2 * sent_media && duplicates + other_path >= sent_media;
            assert!(once || twice, "{who}: {counts}");
        }
    }
    assert!(
        stat("rtx_packets") <= rtx_wire,
        "{who}: more RTX than on the wire"
    );

    // Nothing is missing, so every frame the encoder sent is in the file.
    if let Some(frames) = s.frames_sent {
        assert_eq!(
            stat("frames_written"),
            frames,
            "{who}: frames written vs framesSent"
        );
    } else {
        assert!(stat("frames_written") > 0, "{who}: no audio frame written");
    }
}

/// Holds a whole recording to the call: exactly one completed track per
/// sender, A's three tracks under one peer and B's under another (with the
/// SDPs: the peers are the files' stems and A's canvas is the screen source).
fn check_call(dir: &Path, out: &Path, input: Input, manifest: &Value, with_sdp: bool) {
    let sent = senders(dir);
    let tracks = track_assets(manifest);
    let failed: Vec<&&Value> = tracks
        .iter()
        .filter(|a| a["status"] != "completed")
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} tracks not recorded:\n{}",
        failed.len(),
        tracks.len(),
        summary(manifest)
    );
    assert_eq!(
        tracks.len(),
        sent.len(),
        "one track per sender ({sent:?}), got:\n{}",
        summary(manifest)
    );
    for s in &sent {
        check_track(dir, out, input, s, asset_of(manifest, s.ssrc));
    }
    let peer = |s: &Sent| {
        asset_of(manifest, s.ssrc)["peer_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a_peers: Vec<String> = sent.iter().filter(|s| s.peer == "A").map(peer).collect();
    let b_peer = peer(&sent[3]);
    // A dump has no addresses: what one browser sent is one side. When both
    // peers are in the same page, both sent everything, and are one side.
    let one_browser_dump = input == Input::Dump && !dir.ends_with("chromium-firefox");
    assert!(
        a_peers.iter().all(|p| *p == a_peers[0]) && (one_browser_dump || a_peers[0] != b_peer),
        "peer A's tracks under one peer, B's under another:\n{}",
        summary(manifest)
    );
    if with_sdp {
        assert_eq!(a_peers[0], "offer", "{}", summary(manifest));
        assert_eq!(b_peer, "answer", "{}", summary(manifest));
        for s in &sent {
            let source = if s.role == "screen" {
                "screen"
            } else {
                "regular"
            };
            assert_eq!(
                asset_of(manifest, s.ssrc)["source"],
                source,
                "{} {}: source",
                s.peer,
                s.role
            );
        }
    }
}

/// Records a call's pcap with its (Firefox's) key log, with or without its SDPs.
fn keylog_call_records(kind: Call, with_sdp: bool) {
    let Some(dir) = call(kind) else { return };
    if !have_tool("ffmpeg") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let (keylog, offer, answer) = (
        dir.join("keylog.txt"),
        dir.join("offer.sdp"),
        dir.join("answer.sdp"),
    );
    let mut args: Vec<&OsStr> = vec!["--keylog".as_ref(), keylog.as_os_str()];
    if with_sdp {
        args.extend([
            "--sdp".as_ref(),
            offer.as_os_str(),
            "--sdp".as_ref(),
            answer.as_os_str(),
        ]);
    }
    let (code, manifest) = record(&dir.join("call.pcap"), out.path(), &args);
    check_call(dir, out.path(), Input::Srtp, &manifest, with_sdp);
    assert_eq!(code, Some(0), "exit status with every track recorded");
}

#[test]
fn firefox_dtls12_call_records_every_track_with_the_key_log() {
    keylog_call_records(Call::Firefox12, false);
}

#[test]
fn firefox_dtls12_call_records_every_track_with_the_key_log_and_sdp() {
    keylog_call_records(Call::Firefox12, true);
}

#[test]
fn firefox_dtls13_call_records_every_track_with_the_key_log() {
    keylog_call_records(Call::Firefox13, false);
}

#[test]
fn firefox_dtls13_call_records_every_track_with_the_key_log_and_sdp() {
    keylog_call_records(Call::Firefox13, true);
}

/// A DTLS 1.3 key log with only the exporter secrets: the chosen SRTP profile,
/// hidden in the encrypted EncryptedExtensions, is found by the offered profile
/// whose keys authenticate; with the handshake secrets, it is read there.
#[test]
fn firefox_dtls13_exporter_secret_alone_is_enough() {
    let Some(dir) = call(Call::Firefox13) else {
        return;
    };
    if !have_tool("ffmpeg") {
        return;
    }
    let log = std::fs::read_to_string(dir.join("keylog.txt")).unwrap();
    let exporter_only: String = log
        .lines()
        .filter(|l| l.starts_with("EXPORTER_SECRET "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!exporter_only.is_empty(), "{log}");
    let work = tempfile::tempdir().unwrap();
    let keylog = work.path().join("exporter-only.txt");
    std::fs::write(&keylog, exporter_only).unwrap();
    let out = work.path().join("out");
    let (offer, answer) = (dir.join("offer.sdp"), dir.join("answer.sdp"));
    let (code, manifest) = record(
        &dir.join("call.pcap"),
        &out,
        &[
            "--keylog".as_ref(),
            keylog.as_os_str(),
            "--sdp".as_ref(),
            offer.as_os_str(),
            "--sdp".as_ref(),
            answer.as_os_str(),
        ],
    );
    check_call(dir, &out, Input::Srtp, &manifest, true);
    assert_eq!(code, Some(0), "{}", summary(&manifest));
    for a in track_assets(&manifest) {
        let d = &a["decryption"];
        assert_eq!(d["method"], "dtls-srtp", "{a:#}");
        assert_eq!(d["keys"], "keylog", "{a:#}");
        assert_eq!(d["dtls_version"], "1.3", "{a:#}");
        // Firefox to Firefox chooses AEAD_AES_128_GCM.
        assert_eq!(d["profile"], "AEAD_AES_128_GCM", "{a:#}");
    }
    // `streams`: the profile is unknown without the handshake secret, and read
    // from the EncryptedExtensions with it.
    for (log, profile) in [
        (keylog.clone(), Value::Null),
        (dir.join("keylog.txt"), json!("AEAD_AES_128_GCM")),
    ] {
        let o = rtprec()
            .args(["streams", "--json"])
            .arg(dir.join("call.pcap"))
            .arg("--keylog")
            .arg(&log)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        for d in v["dtls"].as_array().unwrap() {
            assert_eq!(d["version"], "1.3", "{d:#}");
            assert_eq!(d["key"], "found", "{d:#}");
            assert_eq!(d["profile"], profile, "{d:#}");
        }
    }
}

/// The key logs hold what the DTLS version derives: the TLS 1.2 master secret
/// (CLIENT_RANDOM), or TLS 1.3's handshake secrets and exporter secret.
#[test]
fn firefox_key_logs_hold_each_association_of_the_capture() {
    for (kind, labels) in [
        (Call::Firefox12, &["CLIENT_RANDOM"][..]),
        (
            Call::Firefox13,
            &[
                "EXPORTER_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            ][..],
        ),
    ] {
        let Some(dir) = call(kind) else { return };
        let log = std::fs::read_to_string(dir.join("keylog.txt")).unwrap();
        let wire = read_json(&dir.join("wire.json"));
        let associations = wire["associations"].as_object().unwrap();
        assert_eq!(
            associations.len(),
            1,
            "{}: one BUNDLEd association",
            kind.name()
        );
        for random in associations.keys() {
            for label in labels {
                assert!(
                    log.lines()
                        .any(|l| l.starts_with(&format!("{label} {random} "))),
                    "{}: no {label} for client_random {random} in the key log:\n{log}",
                    kind.name()
                );
            }
        }
    }
}

/// A key log that lacks one DTLS association's lines: only the tracks of that
/// association fail (saying which association has no key), the rest record.
#[test]
fn key_log_missing_one_association_fails_only_its_tracks() {
    let Some(dir) = call(Call::Firefox12Unbundled) else {
        return;
    };
    if !have_tool("ffmpeg") {
        return;
    }
    let sent = senders(dir);
    let wire = read_json(&dir.join("wire.json"));
    let associations = wire["associations"].as_object().unwrap();
    assert_eq!(
        associations.len(),
        3,
        "one association per m-line: {associations:?}"
    );
    // Drop the audio m-line's association: it carries both directions (A's and
    // B's microphones), the video tracks are on associations of their own.
    let mic = sent[0].ssrc;
    let (dropped, dropped_ssrcs) = associations
        .iter()
        .find(|(_, ssrcs)| {
            ssrcs
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s.as_u64() == Some(mic.into()))
        })
        .expect("the association of A's microphone");
    let dropped_ssrcs: Vec<u32> = dropped_ssrcs
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap() as u32)
        .collect();
    let log = std::fs::read_to_string(dir.join("keylog.txt")).unwrap();
    let kept: String = log
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_none_or(|r| !r.eq_ignore_ascii_case(dropped))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        kept.len() < log.len() && kept.contains("CLIENT_RANDOM"),
        "{log}"
    );
    let work = tempfile::tempdir().unwrap();
    let keylog = work.path().join("keylog-missing-one.txt");
    std::fs::write(&keylog, kept).unwrap();
    let out = work.path().join("out");
    // With the SDPs, so that what fails is down to the key log alone.
    let (offer, answer) = (dir.join("offer.sdp"), dir.join("answer.sdp"));
    let (code, manifest) = record(
        &dir.join("call.pcap"),
        &out,
        &[
            "--keylog".as_ref(),
            keylog.as_os_str(),
            "--sdp".as_ref(),
            offer.as_os_str(),
            "--sdp".as_ref(),
            answer.as_os_str(),
        ],
    );
    assert_eq!(
        code,
        Some(4),
        "exit status with failed tracks:\n{}",
        summary(&manifest)
    );
    assert_eq!(
        track_assets(&manifest).len(),
        sent.len(),
        "{}",
        summary(&manifest)
    );
    for s in &sent {
        let a = asset_of(&manifest, s.ssrc);
        if dropped_ssrcs.contains(&s.ssrc) {
            assert_eq!(a["status"], "failed", "{} {}: {a:#}", s.peer, s.role);
            // Its own code: the key log lacks this association (the others are in it).
            assert_eq!(
                a["error"]["code"], "dtls-key-missing",
                "{} {}: {a:#}",
                s.peer, s.role
            );
            // Named by its client_random (the key log's name for it; at
            // least the first 8 bytes) or by its 5-tuple (both ports).
            let message = a["error"]["message"].as_str().unwrap().to_ascii_lowercase();
            let ends = wire["flows"][dropped.as_str()].as_array().unwrap();
            let by_flow = ends.iter().all(|e| {
                let port = e.as_str().unwrap().rsplit_once(':').unwrap().1;
                message.contains(&format!(":{port}"))
            });
            assert!(
                message.contains(&dropped[..16]) || by_flow,
                "{} {}: the failure names the association (client_random {dropped}, 5-tuple {ends:?}): {message}",
                s.peer,
                s.role
            );
        } else {
            check_track(dir, &out, Input::Srtp, s, a);
        }
    }
}

/// Chromium's debug log with the RTP dump records like a capture of the call.
#[test]
fn chromium_rtp_dump_records_every_track() {
    let Some(dir) = call(Call::Chromium) else {
        return;
    };
    if !have_tool("ffmpeg") {
        return;
    }
    let log = dir.join("chrome_debug.log");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("# RTP_DUMP"),
        "{}: no RTP_DUMP line",
        log.display()
    );
    let out = tempfile::tempdir().unwrap();
    let (code, manifest) = record(&log, out.path(), &[]);
    check_call(dir, out.path(), Input::Dump, &manifest, false);
    assert_eq!(code, Some(0), "exit status with every track recorded");
}

/// The harness itself, with no rtprec: each call's capture holds every RTP
/// packet the browsers counted as sent (media SSRC plus its RTX SSRC), and
/// Chromium's dump logs each of them once as sent (O) and once as received (I).
#[test]
fn browser_calls_capture_every_packet_sent() {
    for kind in [
        Call::Firefox12,
        Call::Firefox13,
        Call::Firefox12Unbundled,
        Call::Chromium,
        Call::ChromiumFirefox,
    ] {
        let Some(dir) = call(kind) else { return };
        let wire = read_json(&dir.join("wire.json"));
        let rtx = rtx_ssrcs(dir);
        for s in senders(dir) {
            let rtx_wire = rtx.get(&s.ssrc).map_or(0, |r| wire_packets(&wire, *r));
            assert_eq!(
                wire_packets(&wire, s.ssrc) + rtx_wire,
                s.packets_sent,
                "{}: {} {} (SSRC {})",
                kind.name(),
                s.peer,
                s.role,
                s.ssrc
            );
        }
        if let Call::Chromium | Call::ChromiumFirefox = kind {
            let log = std::fs::read_to_string(dir.join("chrome_debug.log")).unwrap();
            let mut dumped: BTreeMap<(char, u32), u64> = BTreeMap::new();
            for line in log.lines().filter(|l| l.ends_with("# RTP_DUMP")) {
                // "O 00:00:24.016 0000 90 ef ... # RTP_DUMP": direction, time, offset, bytes.
                let fields: Vec<&str> = line.split_whitespace().collect();
                let bytes: Vec<u8> = fields[3..fields.len() - 2]
                    .iter()
                    .map(|h| u8::from_str_radix(h, 16).unwrap())
                    .collect();
                if (192..=223).contains(&bytes[1]) {
                    continue; // RTCP
                }
                let ssrc = u32::from_be_bytes(bytes[8..12].try_into().unwrap());
                let dir = fields[0].chars().next().unwrap();
                *dumped.entry((dir, ssrc)).or_default() += 1;
            }
            // Calling itself, Chromium logs each packet as sent and as
            // received; calling Firefox, only as one or the other.
            let directions: &[char] = match kind {
                Call::Chromium => &['O', 'I'],
                _ => &[],
            };
            for (ssrc, counts) in wire["rtp"].as_object().unwrap() {
                let ssrc: u32 = ssrc.parse().unwrap();
                let n = counts["packets"].as_u64().unwrap();
                let (o, i) = (
                    dumped.get(&('O', ssrc)).copied().unwrap_or(0),
                    dumped.get(&('I', ssrc)).copied().unwrap_or(0),
                );
                if directions.is_empty() {
                    assert!(
                        o + i == n && (o == 0 || i == 0),
                        "SSRC {ssrc}: O {o}, I {i}, on the wire {n}"
                    );
                } else {
                    assert_eq!((o, i), (n, n), "SSRC {ssrc}: O and I lines vs on the wire");
                }
            }
        }
    }
}

/// Chromium calling Firefox (AES_CM_128_HMAC_SHA1_80), recorded from the pcap
/// with Firefox's key log and the SDPs.
#[test]
fn chromium_calling_firefox_records_every_track_with_the_key_log_and_sdp() {
    keylog_call_records(Call::ChromiumFirefox, true);
}

/// The same call from Chromium's side: its RTP dump logs each packet once
/// (A's as sent, B's as received).
#[test]
fn chromium_calling_firefox_rtp_dump_records_every_track() {
    let Some(dir) = call(Call::ChromiumFirefox) else {
        return;
    };
    if !have_tool("ffmpeg") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let (code, manifest) = record(&dir.join("chrome_debug.log"), out.path(), &[]);
    check_call(dir, out.path(), Input::Dump, &manifest, false);
    assert_eq!(code, Some(0), "exit status with every track recorded");
}
