//! `rtprec record` of SRTP captures with keys in the session metadata (issue #6).

use crate::util::*;
use serde_json::{Value, json};
use std::path::Path;

const ALICE_KEY: &str = "9sOd+W72ilwfNgNt0FzlGYj6YZPMqN1sJJx43UuS";
const OPUS_KEYS: [(u32, &str); 2] = [
    (0x1C06_5362, "NjZiYTBmY2FmOGE2ZGU3MmVlMzM4ZDQ0OGVhMTI0"),
    (0x1C06_5364, "YTEzNjhhMTNmNWUxMjljZTg3MTEyNWQ2YTE2ODQ2"),
];
/// A valid key that is none of the above.
const WRONG_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn track(id: &str, ssrc: u32, codec: &str, pt: u8, srtp: Value) -> Value {
    json!({
        "track_id": id, "kind": "audio", "ssrc": format!("0x{ssrc:08X}"),
        "codec": codec, "payload_type": pt, "srtp": srtp,
    })
}

fn key(k: &str) -> Value {
    json!({ "profile": "AES_CM_128_HMAC_SHA1_80", "key_base64": k })
}

/// Records `capture` with `meta`; returns the output, the out dir and the manifest.
fn record(
    capture: &Path,
    meta: &Value,
    envs: &[(&str, &str)],
) -> (std::process::Output, tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let meta_path = dir.path().join("meta.json");
    std::fs::write(&meta_path, serde_json::to_vec(meta).unwrap()).unwrap();
    let out = rtprec()
        .arg("record")
        .arg(capture)
        .arg("-o")
        .arg(dir.path().join("out"))
        .arg("-m")
        .arg(&meta_path)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let manifest = std::fs::read(dir.path().join("out/manifest.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    if !manifest.is_null() {
        crate::util::assert_manifest_matches_disk(&manifest, &dir.path().join("out"));
    }
    (out, dir, manifest)
}

fn asset<'m>(m: &'m Value, track: &str) -> &'m Value {
    m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["track_id"] == track)
        .unwrap_or_else(|| panic!("no asset {track} in {m:#}"))
}

/// No key, whole or in part, in anything rtprec wrote.
fn assert_no_key(out: &std::process::Output, dir: &Path, keys: &[&str]) {
    let mut texts = vec![
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ];
    texts.push(std::fs::read_to_string(dir.join("out/manifest.json")).unwrap_or_default());
    for k in keys {
        for t in &texts {
            assert!(!t.contains(&k[..16]), "a key leaked:\n{t}");
        }
    }
}

/// See: issue #6. G.722 in SRTP, key from the environment: every packet authenticates.
#[test]
fn r6_rtpproxy_alice_srtp_authenticates() {
    let Some(cap) = shared("rtpproxy_alice_srtp.pcap") else {
        return;
    };
    let meta = json!({ "room_id": "r", "peers": [{ "peer_id": "alice", "tracks": [
        track("mic", 0x2A1A_D144, "g722", 9,
            json!({ "profile": "AES_CM_128_HMAC_SHA1_80", "key_env": "RTPREC_TEST_ALICE_KEY" })),
    ]}]});
    let (out, dir, m) = record(&cap, &meta, &[("RTPREC_TEST_ALICE_KEY", ALICE_KEY)]);
    let a = asset(&m, "mic");
    assert_eq!(a["stats"]["packets"], 1556, "{a:#}");
    assert_eq!(a["stats"]["srtp_auth_failures"], 0, "{a:#}");
    assert_ne!(a["error"]["code"], "srtp-auth-failed", "{a:#}");
    assert_no_key(&out, dir.path(), &[ALICE_KEY]);
}

fn opus_meta(second_key: &str) -> Value {
    json!({ "room_id": "r", "session_id": "s", "peers": [
        { "peer_id": "a", "tracks": [track("mic", OPUS_KEYS[0].0, "opus", 111, key(OPUS_KEYS[0].1))] },
        { "peer_id": "b", "tracks": [track("mic", OPUS_KEYS[1].0, "opus", 111, key(second_key))] },
    ]})
}

/// See: issue #6. Opus via TURN, both directions keyed: two clean Ogg files.
#[test]
fn r6_srtp_opus_via_turn_records_two_clean_files() {
    let Some(cap) = shared("srtpdec_udp_call_02_03_client.pcap") else {
        return;
    };
    let (out, dir, m) = record(&cap, &opus_meta(OPUS_KEYS[1].1), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files = Vec::new();
    for a in m["assets"].as_array().unwrap() {
        assert_eq!(a["status"], "completed", "{a:#}");
        assert_eq!(a["container"], "ogg", "{a:#}");
        assert_eq!(a["stats"]["srtp_auth_failures"], 0, "{a:#}");
        assert!(
            a["stats"]["frames_written"].as_u64().unwrap() > 1000,
            "{a:#}"
        );
        // Its SRTCP sender reports were decrypted with the same key and used for timing.
        assert_eq!(a["start_offset_source"], "rtcp-sr", "{a:#}");
        files.push(dir.path().join("out").join(a["path"].as_str().unwrap()));
    }
    assert_eq!(files.len(), 2);
    assert_no_key(&out, dir.path(), &[OPUS_KEYS[0].1, OPUS_KEYS[1].1]);
    if !have_tool("ffmpeg") {
        return;
    }
    for f in files {
        assert_decodes_cleanly(&f);
    }
}

/// See: issue #6. A wrong key fails exactly that track; the other completes.
#[test]
fn r6_srtp_wrong_key_fails_only_that_track() {
    let Some(cap) = shared("srtpdec_udp_call_02_03_client.pcap") else {
        return;
    };
    let (out, dir, m) = record(&cap, &opus_meta(WRONG_KEY), &[]);
    assert_eq!(out.status.code(), Some(4));
    let good = &m["assets"][0];
    let bad = &m["assets"][1];
    assert_eq!(
        (&good["peer_id"], &bad["peer_id"]),
        (&json!("a"), &json!("b"))
    );
    assert_eq!(good["status"], "completed", "{good:#}");
    assert_eq!(bad["status"], "failed", "{bad:#}");
    assert_eq!(bad["error"]["code"], "srtp-auth-failed", "{bad:#}");
    let msg = bad["error"]["message"].as_str().unwrap();
    assert!(msg.contains("AES_CM_128_HMAC_SHA1_80"), "{msg}");
    assert_eq!(bad["stats"]["srtp_auth_failures"], 1571, "{bad:#}");
    assert_eq!(bad["stats"]["packets"], 1571, "{bad:#}");
    // On stdout: one clean failure event for that track, a success for the other.
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    let of = |kind: &str| -> Vec<&Value> { events.iter().filter(|e| e["type"] == kind).collect() };
    let failures = of("track.recording.failure");
    assert_eq!(failures.len(), 1, "{events:#?}");
    assert_eq!(failures[0]["data"]["error"]["code"], "srtp-auth-failed");
    assert_eq!(
        failures[0]["data"]["asset_id"], bad["id"],
        "{:#}",
        failures[0]
    );
    assert_eq!(of("track.recording.success").len(), 1);
    assert_no_key(
        &out,
        dir.path(),
        &[OPUS_KEYS[0].1, OPUS_KEYS[1].1, WRONG_KEY],
    );
}

/// Records `capture` with no metadata and `--srtp-keys FILE` (or `--srtp-keys-env`).
fn record_with_key_file(
    capture: &Path,
    keys: &str,
    env: bool,
) -> (std::process::Output, tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let keys_path = dir.path().join("keys.txt");
    std::fs::write(&keys_path, keys).unwrap();
    let mut cmd = rtprec();
    cmd.arg("record")
        .arg(capture)
        .arg("-o")
        .arg(dir.path().join("out"));
    if env {
        cmd.args(["--srtp-keys-env", "RTPREC_TEST_KEYS"])
            .env("RTPREC_TEST_KEYS", keys);
    } else {
        cmd.arg("--srtp-keys").arg(&keys_path);
    }
    let out = cmd.output().unwrap();
    let manifest = std::fs::read(dir.path().join("out/manifest.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    if !manifest.is_null() {
        crate::util::assert_manifest_matches_disk(&manifest, &dir.path().join("out"));
    }
    (out, dir, manifest)
}

/// See: issue #6. No metadata: the streams are found and identified after
/// decryption with the keys of a key file, SRTCP included.
#[test]
fn r6_inferred_srtp_streams_decrypt_with_a_key_file() {
    let Some(cap) = shared("srtpdec_udp_call_02_03_client.pcap") else {
        return;
    };
    let keys = format!(
        "# both directions\nAES_CM_128_HMAC_SHA1_32 {WRONG_KEY}\nAES_CM_128_HMAC_SHA1_80 inline:{}\nAES_CM_128_HMAC_SHA1_80 {} ssrc=0x{:08x}\n",
        OPUS_KEYS[0].1, OPUS_KEYS[1].1, OPUS_KEYS[1].0
    );
    let (out, dir, m) = record_with_key_file(&cap, &keys, false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let assets = m["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 2, "{m:#}");
    for a in assets {
        assert_eq!(
            (&a["status"], &a["codec"]),
            (&json!("completed"), &json!("opus")),
            "{a:#}"
        );
        assert_eq!(a["stats"]["srtp_auth_failures"], 0, "{a:#}");
        assert!(
            a["stats"]["frames_written"].as_u64().unwrap() > 1000,
            "{a:#}"
        );
        assert_eq!(
            a["start_offset_source"], "rtcp-sr",
            "SRTCP decrypted: {a:#}"
        );
        if have_tool("ffmpeg") {
            assert_decodes_cleanly(&dir.path().join("out").join(a["path"].as_str().unwrap()));
        }
    }
    assert_no_key(
        &out,
        dir.path(),
        &[OPUS_KEYS[0].1, OPUS_KEYS[1].1, WRONG_KEY],
    );
}

/// See: issue #6. G.722 in SRTP with no metadata, the key from the environment:
/// every packet authenticates (without the key the track is noise).
#[test]
fn r6_inferred_srtp_key_from_the_environment() {
    let Some(cap) = shared("rtpproxy_alice_srtp.pcap") else {
        return;
    };
    let (out, dir, m) = record_with_key_file(
        &cap,
        &format!("AES_CM_128_HMAC_SHA1_80 {ALICE_KEY}\n"),
        true,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ssrc"] == "0x2A1AD144")
        .unwrap_or_else(|| panic!("{m:#}"));
    assert_eq!(
        (
            &a["codec"],
            &a["stats"]["packets"],
            &a["stats"]["srtp_auth_failures"]
        ),
        (&json!("g722"), &json!(1556), &json!(0)),
        "{a:#}"
    );
    assert_no_key(&out, dir.path(), &[ALICE_KEY]);
}

/// See: issue #6. A key file with a bad line is an error naming the file and line, not the key.
#[test]
fn r6_bad_key_file_names_the_line() {
    let (out, _dir, _) = record_with_key_file(
        &testdata("media-g711.pcap"),
        "AES_CM_128_HMAC_SHA1_80 c2hvcnQ=\n",
        false,
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keys.txt: line 1: master key || salt is 5 bytes"),
        "{err}"
    );
    assert!(!err.contains("c2hvcnQ"), "{err}");
}

/// See: issue #6. Keys from the peers' SDP `a=crypto` lines, end to end: the
/// offer lists a `_32` key that does not match before the `_80` one that does;
/// both directions of the TURN-relayed PCMA call decrypt and decode cleanly.
#[test]
fn r6_sdp_crypto_lines_decrypt_both_directions() {
    let Some(cap) = shared("srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (offer, answer) = (
        testdata("sdp/turn-sdes-offer.sdp"),
        testdata("sdp/turn-sdes-answer.sdp"),
    );
    let sdp = std::ffi::OsStr::new("--sdp");
    let args = [sdp, offer.as_os_str(), sdp, answer.as_os_str()];
    let (out, m) = record_manifest_json(&cap, &dir.path().join("out"), &args);
    let assets = m["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 2, "{m:#}");
    // (SSRC, packets captured)
    for (ssrc, packets) in [("0xED42A10F", 659), ("0x15CBA085", 609)] {
        let a = assets
            .iter()
            .find(|a| a["ssrc"] == ssrc)
            .unwrap_or_else(|| panic!("{m:#}"));
        assert_eq!(
            (&a["status"], &a["codec"], &a["container"]),
            (&json!("completed"), &json!("pcma"), &json!("wav")),
            "{a:#}"
        );
        assert_eq!(a["stats"]["packets"], packets, "{a:#}");
        assert_eq!(a["stats"]["srtp_auth_failures"], 0, "{a:#}");
        if have_tool("ffmpeg") {
            assert_decodes_cleanly(&dir.path().join("out").join(a["path"].as_str().unwrap()));
        }
    }
    assert_no_key(
        &out,
        dir.path(),
        &[
            "Dyx7iKCU5AiJVgclTHa2wjdB6GwL7RtvihVePyoJ",
            "x+rWLABtQ+BQGVnLII8eIdpdlApQp6SnXREVx/e5",
        ],
    );
}

/// A track of a shared SRTP capture: SSRC, codec, payload type, base64 key.
type KeyedTrack = (u32, &'static str, u8, &'static str);

/// See: issue #6. Every shared SRTP capture (SDES p2p, TURN ChannelData, TURN
/// over UDP, TURN over TCP, both legs of the rtpproxy call) records with the
/// keys its README lists: every track completes, no packet fails
/// authentication, and ffmpeg decodes every file without an error.
#[test]
fn r6_every_shared_srtp_capture_records_clean_files() {
    let calls: [(&str, &[KeyedTrack]); 5] = [
        (
            "rtpproxy_alice_srtp.pcap",
            &[(0x2A1A_D144, "g722", 9, ALICE_KEY)],
        ),
        (
            "rtpproxy_bob_srtp.pcap",
            &[(
                0xC2F6_A014,
                "g722",
                9,
                "NhqBK/JjtVJgmOgPyDKpvMTEjvFCQ4eiyVQelF6x",
            )],
        ),
        (
            "srtpdec_WebRTC_PCMA_p2p_SDES_Call_1.pcap",
            &[
                (
                    0xD092_D296,
                    "pcma",
                    8,
                    "7SYMKhu8sVMhCr4VXh+ZqkteB01QgqDSgLr4L9iU",
                ),
                (
                    0x522B_93AB,
                    "pcma",
                    8,
                    "bhn3DDDcf7GhHEnFkGLW9V223XncT60nJrTQK06x",
                ),
            ],
        ),
        (
            "srtpdec_udp_call_02_03_client.pcap",
            &[
                (OPUS_KEYS[0].0, "opus", 111, OPUS_KEYS[0].1),
                (OPUS_KEYS[1].0, "opus", 111, OPUS_KEYS[1].1),
            ],
        ),
        (
            "srtpdec_wifi-tcp_to_3g.pcap",
            &[
                (
                    0x3482_B39F,
                    "opus",
                    111,
                    "ZGRjMTA4OWRkYWJmMGJhM2YxZWQ1MjExODJmMTVl",
                ),
                (
                    0x3482_B3A1,
                    "opus",
                    111,
                    "ZmVlOWQwMGJhNDIxMzcyZmVlM2U0NTllMmZiMzM4",
                ),
            ],
        ),
    ];
    for (name, tracks) in calls {
        let Some(cap) = shared(name) else {
            return;
        };
        let peers: Vec<Value> = tracks
            .iter()
            .enumerate()
            .map(|(i, (ssrc, codec, pt, k))| {
                json!({ "peer_id": format!("p{i}"), "tracks": [track("mic", *ssrc, codec, *pt, key(k))] })
            })
            .collect();
        let meta = json!({ "room_id": "r", "session_id": "s", "peers": peers });
        let (out, dir, m) = record(&cap, &meta, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let assets = m["assets"].as_array().unwrap();
        assert_eq!(assets.len(), tracks.len(), "{name}");
        for a in assets {
            assert_eq!(a["status"], "completed", "{name}: {a:#}");
            assert_eq!(a["stats"]["srtp_auth_failures"], 0, "{name}: {a:#}");
            assert!(
                a["stats"]["frames_written"].as_u64().unwrap() > 100,
                "{name}: {a:#}"
            );
            if have_tool("ffmpeg") {
                assert_decodes_cleanly(&dir.path().join("out").join(a["path"].as_str().unwrap()));
            }
        }
        let keys: Vec<&str> = tracks.iter().map(|t| t.3).collect();
        assert_no_key(&out, dir.path(), &keys);
        // Without metadata, with the keys in a --srtp-keys file: exactly one
        // completed file per SSRC, whatever paths the packets took.
        let key_file: String = tracks
            .iter()
            .map(|(ssrc, _, _, k)| format!("AES_CM_128_HMAC_SHA1_80 {k} ssrc=0x{ssrc:08x}\n"))
            .collect();
        let (out, _dir, m) = record_with_key_file(&cap, &key_file, false);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got: Vec<String> = m["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                assert_eq!(a["status"], "completed", "{name}: {a:#}");
                a["ssrc"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        got.sort();
        let mut want: Vec<String> = tracks.iter().map(|t| format!("0x{:08X}", t.0)).collect();
        want.sort();
        assert_eq!(got, want, "{name}: one file per SSRC");
    }
}
