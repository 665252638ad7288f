//! Repair on captures GStreamer made (testdata/make-repair.sh), with loss
//! injected and what can be restored worked out independently by
//! testdata/repairpcap.py (the ground truth at the end of each `.txt`):
//! ULPFEC (RFC 5109, in-band and inside RED), FlexFEC (RFC 8627), RED (RFC
//! 2198) from `rtpredenc`, and SRTP from `srtpenc` with sequence numbers wrapping.

use crate::util::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// The ground truth JSON that ends `testdata/NAME.txt`.
fn truth(name: &str) -> Value {
    let txt = std::fs::read_to_string(testdata(&format!("{name}.txt"))).expect("summary exists");
    let start = txt.find("\n{\n").expect("the .txt ends with JSON") + 1;
    serde_json::from_str(&txt[start..]).expect("ground truth is JSON")
}

/// Records `cap` with `tracks` as one peer's metadata, or with an SDP, expecting exit 0; the manifest.
fn record(tmp: &Path, cap: &Path, meta: Meta<'_>) -> Value {
    record_expecting(tmp, cap, meta, 0)
}

/// Like [`record`], expecting exit status `code`.
fn record_expecting(tmp: &Path, cap: &Path, meta: Meta<'_>, code: i32) -> Value {
    let mut cmd = rtprec();
    cmd.arg("record")
        .arg(cap)
        .arg("-o")
        .arg(tmp.join("out"))
        .args(["--events", "none", "--json"]);
    match meta {
        Meta::Json(tracks) => {
            let doc = json!({"room_id": "r", "session_id": "s", "peers": [{"peer_id": "p", "tracks": tracks}]});
            let path = tmp.join("meta.json");
            std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
            cmd.arg("-m").arg(path);
        }
        Meta::Sdp(text) => {
            let path = tmp.join("p.sdp");
            std::fs::write(&path, text).unwrap();
            cmd.arg("--sdp").arg(path);
        }
        Meta::Keys(lines) => {
            let path = tmp.join("keys.txt");
            std::fs::write(&path, lines).unwrap();
            cmd.arg("--srtp-keys").arg(path);
        }
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = json(&out);
    crate::util::assert_manifest_matches_disk(&m, &tmp.join("out"));
    m
}

enum Meta<'a> {
    Json(Value),
    Sdp(&'a str),
    /// No metadata; `--srtp-keys` with these lines.
    Keys(&'a str),
}

fn asset<'a>(m: &'a Value, ssrc: &str) -> &'a Value {
    m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ssrc"] == format!("0x{}", ssrc.to_uppercase()))
        .unwrap_or_else(|| panic!("no asset of SSRC {ssrc}: {m}"))
}

/// ffmpeg decodes the file with no error line, and ffprobe counts its frames.
fn decoded_frames(file: &Path) -> Option<u64> {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return None;
    }
    assert_decodes_cleanly(file);
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
        ])
        .arg(file)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"][0]["nb_read_frames"].as_str()?.parse().ok()
}

fn file_of(tmp: &Path, a: &Value) -> std::path::PathBuf {
    tmp.join("out")
        .join(a["path"].as_str().expect("a completed asset has a path"))
}

/// Chrome's layout: VP8 and ULPFEC inside RED, one sequence space. Every dropped
/// media packet comes back, the dropped FEC packets stay lost, and all 150 frames play.
#[test]
fn ulpfec_in_red_restores_every_recoverable_packet() {
    let name = "fec-ulpfec-red-vp8.pcap";
    let t = truth(name);
    let tmp = tempfile::tempdir().unwrap();
    let cap = testdata(name);
    let track = json!({"track_id": "cam", "kind": "video", "ssrc": "0x0fec0001", "codec": "vp8",
        "payload_type": 96, "red_payload_type": 123, "fec_scheme": "ulpfec", "fec_payload_type": 122});
    let m = record(tmp.path(), &cap, Meta::Json(json!([track])));
    let a = asset(&m, "0fec0001");
    let s = &a["stats"];
    assert_eq!(s["recovered_fec"], t["recoverable"], "{s}");
    assert_eq!(s["recovered"], t["recoverable"], "{s}");
    assert_eq!(
        s["lost"], t["lost_after_repair"],
        "only the dropped FEC packets: {s}"
    );
    assert_eq!(
        s["fec_packets"].as_u64().unwrap(),
        t["fec_packets_sent"].as_u64().unwrap() - t["fec_dropped"].as_array().unwrap().len() as u64
    );
    assert_eq!(
        (
            s["frames_written"].as_u64(),
            s["frames_dropped_incomplete"].as_u64()
        ),
        (Some(150), Some(0)),
        "{s}"
    );
    assert_eq!(
        s["other_payload_types"], 0,
        "FEC packets are not other payload types: {s}"
    );
    if let Some(frames) = decoded_frames(&file_of(tmp.path(), a)) {
        assert_eq!(frames, 150);
    }

    // Without the FEC fields the same losses stay lost: every key frame is hit,
    // so nothing is decodable and the track fails.
    let tmp2 = tempfile::tempdir().unwrap();
    let plain = json!({"track_id": "cam", "kind": "video", "ssrc": "0x0fec0001", "codec": "vp8",
        "payload_type": 96, "red_payload_type": 123});
    let m2 = record_expecting(tmp2.path(), &cap, Meta::Json(json!([plain])), 4);
    let a2 = asset(&m2, "0fec0001");
    let s2 = &a2["stats"];
    assert_eq!(a2["error"]["code"], "no-keyframe", "{a2}");
    assert_eq!(s2["recovered_fec"], 0);
    assert_eq!(
        s2["lost"].as_u64().unwrap(),
        t["recoverable"].as_u64().unwrap() + t["lost_after_repair"].as_u64().unwrap()
    );
}

/// The SDP of the FlexFEC capture: a FlexFEC stream in an `FEC-FR` group for the
/// camera, in-band ULPFEC for the screen share.
const FLEXFEC_SDP: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.10\r\ns=-\r\nt=0 0\r\nc=IN IP4 10.0.0.10\r\n\
m=video 50000 RTP/AVP 96 49\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:49 flexfec/90000\r\na=fmtp:49 repair-window=10000000\r\n\
a=ssrc-group:FEC-FR 267124738 267124739\r\na=ssrc:267124738 cname:p\r\na=ssrc:267124739 cname:p\r\na=msid:s cam\r\na=sendonly\r\n\
m=video 50002 RTP/AVP 96 122\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:122 ulpfec/90000\r\na=content:slides\r\n\
a=ssrc:267124740 cname:p\r\na=msid:s screen\r\na=sendonly\r\n";

/// FlexFEC on its own SSRC (RFC 8627, flexible masks of 15 and 46 bits) and
/// in-band ULPFEC: the single losses come back, the double loss does not.
#[test]
fn flexfec_and_inband_ulpfec_restore_what_they_can() {
    let name = "fec-flexfec-ulpfec-vp8.pcap";
    let t = truth(name);
    let cap = testdata(name);
    let tracks = json!([
        {"track_id": "cam", "kind": "video", "ssrc": "0x0fec0002", "codec": "vp8", "payload_type": 96,
         "fec_scheme": "flexfec", "fec_ssrc": "0x0fec0003"},
        {"track_id": "screen", "kind": "video", "source": "screen", "ssrc": "0x0fec0004", "codec": "vp8",
         "payload_type": 96, "fec_scheme": "ulpfec", "fec_payload_type": 122},
    ]);
    for meta in [Meta::Json(tracks), Meta::Sdp(FLEXFEC_SDP)] {
        let tmp = tempfile::tempdir().unwrap();
        let m = record(tmp.path(), &cap, meta);
        assert_eq!(
            m["assets"].as_array().unwrap().len(),
            2,
            "the FEC stream is not a track: {m}"
        );
        let cam = asset(&m, "0fec0002");
        let s = &cam["stats"];
        assert_eq!(s["recovered_fec"], t["camera"]["recoverable"], "{s}");
        assert_eq!(s["lost"], t["camera"]["lost_after_repair"], "{s}");
        assert_eq!(s["fec_packets"], t["camera"]["repair_packets_sent"], "{s}");
        let screen = asset(&m, "0fec0004");
        let s = &screen["stats"];
        assert_eq!(s["recovered_fec"], t["screen"]["recoverable"], "{s}");
        assert_eq!(s["lost"], 0, "{s}");
        assert_eq!(s["frames_written"], 150, "{s}");
        if let Some(frames) = decoded_frames(&file_of(tmp.path(), screen)) {
            assert_eq!(frames, 150);
        }
        // The camera lost one frame for good: the decoder waits for the next keyframe.
        let written = cam["stats"]["frames_written"].as_u64().unwrap();
        assert!((60..150).contains(&written), "{}", cam["stats"]);
        if let Some(frames) = decoded_frames(&file_of(tmp.path(), cam)) {
            assert_eq!(frames, written);
        }
    }
}

/// GStreamer's `rtpredenc` (one redundant block): every dropped packet is restored
/// from the next one's redundancy, and every packet sent plays.
#[test]
fn gstreamer_red_restores_every_dropped_opus_packet() {
    let name = "red-opus.pcap";
    let t = truth(name);
    let tmp = tempfile::tempdir().unwrap();
    let track = json!({"track_id": "mic", "kind": "audio", "ssrc": "0x0fec0006", "codec": "opus",
        "payload_type": 111, "red_payload_type": 63});
    let m = record(tmp.path(), &testdata(name), Meta::Json(json!([track])));
    let a = asset(&m, "0fec0006");
    let s = &a["stats"];
    assert_eq!(s["recovered_red"], t["recoverable"], "{s}");
    assert_eq!(
        (s["lost"].as_u64(), s["duplicates"].as_u64()),
        (Some(0), Some(0)),
        "{s}"
    );
    assert_eq!(s["frames_written"], t["packets_sent"], "{s}");
    assert_eq!(s["frames_inserted"], 0, "no gap left to fill: {s}");
    // 151 packets of 20 ms (opusenc flushes one more) less the 6.5 ms pre-skip.
    assert_eq!(a["duration_ms"], 3013, "{a}");
    if let Some(frames) = decoded_frames(&file_of(tmp.path(), a)) {
        assert_eq!(Some(frames), t["packets_sent"].as_u64());
    }
}

/// GStreamer's `srtpenc`: decrypted across the sequence-number wrap (rollover
/// counter 0 -> 1), with the key from metadata and from a key file with no
/// metadata; the frames a loss breaks are skipped until the next keyframe.
#[test]
fn gstreamer_srtp_with_loss_across_the_rollover() {
    let name = "srtp-vp8.pcap";
    let t = truth(name);
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";
    let track = json!({"track_id": "cam", "kind": "video", "ssrc": "0x0fec0005", "codec": "vp8",
        "payload_type": 96, "srtp": {"profile": "AES_CM_128_HMAC_SHA1_80", "key_base64": key}});
    let tmp = tempfile::tempdir().unwrap();
    let with_meta = record(tmp.path(), &testdata(name), Meta::Json(json!([track])));
    let tmp2 = tempfile::tempdir().unwrap();
    let lines = format!("AES_CM_128_HMAC_SHA1_80 {key}\n");
    let inferred = record(tmp2.path(), &testdata(name), Meta::Keys(&lines));
    for (m, dir) in [(&with_meta, tmp.path()), (&inferred, tmp2.path())] {
        let a = asset(m, "0fec0005");
        let s = &a["stats"];
        let dropped = t["dropped"].as_array().unwrap().len() as u64;
        assert_eq!(a["codec"], "vp8", "{a}");
        assert_eq!(s["srtp_auth_failures"], 0, "{s}");
        assert_eq!(
            s["packets"].as_u64().unwrap(),
            t["packets_sent"].as_u64().unwrap() - dropped,
            "{s}"
        );
        assert_eq!(s["lost"].as_u64(), Some(dropped), "{s}");
        assert_eq!(s["frames_written"], t["frames_decodable"], "{s}");
        if let Some(frames) = decoded_frames(&file_of(dir, a)) {
            assert_eq!(Some(frames), t["frames_decodable"].as_u64());
        }
    }
}

/// Without metadata, RED is recognised from its blocks (RFC 2198) and ULPFEC
/// from the blocks of another payload type that parse as RFC 5109 repair data:
/// both captures are repaired as fully as with metadata.
#[test]
fn without_metadata_red_and_ulpfec_are_inferred() {
    for (name, ssrc, codec) in [
        ("fec-ulpfec-red-vp8.pcap", "0fec0001", "vp8"),
        ("red-opus.pcap", "0fec0006", "opus"),
    ] {
        let t = truth(name);
        let tmp = tempfile::tempdir().unwrap();
        let (_, m) = record_manifest_json(&testdata(name), &tmp.path().join("out"), &[]);
        let a = asset(&m, ssrc);
        let s = &a["stats"];
        assert_eq!(a["codec"], codec, "{a}");
        let recovered = if codec == "vp8" {
            &s["recovered_fec"]
        } else {
            &s["recovered_red"]
        };
        assert_eq!(recovered, &t["recoverable"], "{name}: {s}");
        assert_eq!(s["lost"], t["lost_after_repair"], "{name}: {s}");
        if let Some(frames) = decoded_frames(&file_of(tmp.path(), a)) {
            assert_eq!(Some(frames), s["frames_written"].as_u64(), "{name}");
            assert!(frames >= 150, "{name}: {frames}");
        }
    }
}

/// Without metadata, a FlexFEC stream is recognised from the SSRC it names (its
/// CSRC list) and repairs that track instead of failing as a track of its own;
/// in-band ULPFEC is recognised as the payload type whose packets are RFC 5109
/// repair data for sequence numbers just behind them. Same counts as with metadata.
#[test]
fn without_metadata_flexfec_and_inband_ulpfec_are_inferred() {
    let name = "fec-flexfec-ulpfec-vp8.pcap";
    let t = truth(name);
    let tmp = tempfile::tempdir().unwrap();
    let (_, m) = record_manifest_json(&testdata(name), &tmp.path().join("out"), &[]);
    assert_eq!(
        m["assets"].as_array().unwrap().len(),
        2,
        "the FEC stream is no track: {m}"
    );
    for (ssrc, truth) in [("0fec0002", &t["camera"]), ("0fec0004", &t["screen"])] {
        let a = asset(&m, ssrc);
        let s = &a["stats"];
        assert_eq!(a["status"], "completed", "{a}");
        assert_eq!(s["recovered_fec"], truth["recoverable"], "{ssrc}: {s}");
        assert_eq!(s["lost"], truth["lost_after_repair"], "{ssrc}: {s}");
        assert_eq!(s["other_payload_types"], 0, "{ssrc}: {s}");
        if let Some(frames) = decoded_frames(&file_of(tmp.path(), a)) {
            assert_eq!(Some(frames), s["frames_written"].as_u64(), "{ssrc}");
        }
    }
}
