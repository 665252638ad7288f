//! Encrypted media without keys is named as such, never written as noise.

use crate::util::{files_under, rtprec};
use rtprec::srtp::{SrtpContext, SrtpProfile};
use rtprec::testutil::packet::{LinkKind, udp_frame};
use rtprec::testutil::writers::{PcapOptions, PcapWriter};
use std::path::Path;

const T0: i64 = 1_795_428_000_000_000_000;

/// A PCMA call leg (static payload type 8, 20 ms) protected with `ctx`, plus
/// optional DTLS records on the same 5-tuple before it.
fn srtp_capture(path: &Path, ctx: &SrtpContext, dtls: bool) {
    let file = std::fs::File::create(path).expect("create capture");
    let mut w = PcapWriter::new(
        std::io::BufWriter::new(file),
        PcapOptions {
            link_type: LinkKind::Raw.link_type(),
            ..PcapOptions::default()
        },
    )
    .expect("pcap header");
    let (src, dst) = (
        "192.0.2.10:50000".parse().expect("addr"),
        "192.0.2.20:40000".parse().expect("addr"),
    );
    let frame = |t: i64, payload: &[u8], w: &mut PcapWriter<_>| {
        let mut f = Vec::new();
        udp_frame(&mut f, LinkKind::Raw, src, dst, 1, payload).expect("v4");
        w.write_packet(T0 + t, &f).expect("write");
    };
    if dtls {
        // A DTLS 1.2 handshake record header (content type 22, version 0xfefd).
        let mut rec = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4];
        rec.extend_from_slice(&[1, 0, 0, 0]);
        frame(0, &rec, &mut w);
    }
    for seq in 0..150u16 {
        let mut p = vec![0x80, 8];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&0xCAFE_0001u32.to_be_bytes());
        p.extend((0..160u32).map(|i| (i * 13 + u32::from(seq)) as u8 | 0x55));
        let wire = ctx.encrypt_rtp(0, &p).expect("encrypts");
        frame(1_000_000 + i64::from(seq) * 20_000_000, &wire, &mut w);
    }
    w.into_inner().expect("flush");
}

fn record(cap: &Path, out: &Path, extra: &[&str]) -> (std::process::Output, serde_json::Value) {
    let o = rtprec()
        .arg("record")
        .arg(cap)
        .arg("-o")
        .arg(out)
        .args(extra)
        .args(["--events", "none", "--json"])
        .output()
        .expect("rtprec runs");
    let m = serde_json::from_slice(&o.stdout).expect("manifest JSON");
    (o, m)
}

/// Records `cap` without keys: exit 4, its one asset failed as `encrypted-no-key`.
fn record_encrypted(cap: &Path, out: &Path) -> serde_json::Value {
    let (o, m) = record(cap, out, &[]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let a = &m["assets"][0];
    assert_eq!(a["status"], "failed", "{a:#}");
    assert_eq!(a["error"]["code"], "encrypted-no-key", "{a:#}");
    m
}

#[test]
fn srtp_of_a_static_payload_type_without_keys_fails_as_encrypted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (profile, tag) in [
        (SrtpProfile::AesCm128HmacSha1_80, "10-byte"),
        (SrtpProfile::AesCm128HmacSha1_32, "4-byte"),
    ] {
        let ctx = SrtpContext::new(profile, &[7; 30]).expect("key");
        let cap = tmp.path().join(format!("{}.pcap", profile.name()));
        srtp_capture(&cap, &ctx, false);
        let out = tmp.path().join(profile.name());
        let m = record_encrypted(&cap, &out);
        let a = &m["assets"][0];
        let msg = a["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(tag) && msg.contains("--srtp-keys"), "{msg}");
        assert!(a["path"].is_null());
        assert_eq!(a["stats"]["packets"], 150, "{a:#}");
        // Nothing written under a final name, no noise.
        assert_eq!(
            sorted(files_under(&out)),
            [out.join("manifest.json"), out.join("timeline.json")]
        );
        // With the key, the same capture records cleanly.
        let keys = tmp.path().join("keys.txt");
        let key = base64_of(&[7; 30]);
        std::fs::write(&keys, format!("{} {key}\n", profile.name())).expect("write keys");
        let (o, m) = record(
            &cap,
            &tmp.path().join(format!("{}-keyed", profile.name())),
            &["--srtp-keys", keys.to_str().expect("utf-8 path")],
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(m["assets"][0]["status"], "completed");
    }
}

#[test]
fn media_on_a_dtls_5_tuple_without_keys_is_named_dtls_srtp() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ctx = SrtpContext::new(SrtpProfile::AeadAes128Gcm, &[9; 28]).expect("key");
    let cap = tmp.path().join("dtls.pcap");
    srtp_capture(&cap, &ctx, true);
    let m = record_encrypted(&cap, &tmp.path().join("out"));
    let msg = m["assets"][0]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.contains("DTLS-SRTP") && msg.contains("16-byte"),
        "{msg}"
    );
}

/// Standard base64 of `bytes` (as in a=crypto inline: keys).
fn base64_of(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `streams` marks encrypted streams: `srtp` from the tag lengths, `dtls-srtp`
/// from DTLS on the 5-tuple; a plain stream carries no mark.
#[test]
fn streams_marks_encrypted_streams() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &[7; 30]).expect("key");
    let gcm = SrtpContext::new(SrtpProfile::AeadAes128Gcm, &[9; 28]).expect("key");
    for (name, ctx, dtls, want) in [
        ("sdes.pcap", &key, false, Some("srtp")),
        ("dtls.pcap", &gcm, true, Some("dtls-srtp")),
    ] {
        let cap = tmp.path().join(name);
        srtp_capture(&cap, ctx, dtls);
        let out = rtprec()
            .args(["streams", "--json"])
            .arg(&cap)
            .output()
            .expect("rtprec runs");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(v["streams"][0]["encrypted"].as_str(), want, "{name}: {v:#}");
    }
    let plain = rtprec()
        .args(["streams", "--json"])
        .arg(crate::util::testdata("media-g711.pcap"))
        .output()
        .expect("rtprec runs");
    let v: serde_json::Value = serde_json::from_slice(&plain.stdout).expect("JSON");
    assert!(
        v["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .all(|s| s.get("encrypted").is_none()),
        "{v:#}"
    );
}

/// Writes RTP packets `make(seq)` (20 ms apart) from 192.0.2.10:50000 to
/// 192.0.2.20:40000, after a DTLS record on that 5-tuple when `dtls`.
fn rtp_capture(path: &Path, n: u16, dtls: bool, make: impl Fn(u16) -> Vec<u8>) {
    let file = std::fs::File::create(path).expect("create capture");
    let mut w = PcapWriter::new(
        std::io::BufWriter::new(file),
        PcapOptions {
            link_type: LinkKind::Raw.link_type(),
            ..PcapOptions::default()
        },
    )
    .expect("pcap header");
    let (src, dst) = (
        "192.0.2.10:50000".parse().expect("addr"),
        "192.0.2.20:40000".parse().expect("addr"),
    );
    let mut frame = |t: i64, payload: &[u8]| {
        let mut f = Vec::new();
        udp_frame(&mut f, LinkKind::Raw, src, dst, 1, payload).expect("v4");
        w.write_packet(T0 + t, &f).expect("write");
    };
    if dtls {
        frame(
            0,
            &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0],
        );
    }
    for seq in 0..n {
        frame(1_000_000 + i64::from(seq) * 20_000_000, &make(seq));
    }
    w.into_inner().expect("flush");
}

/// An RTP packet (SSRC 0xCAFE0002) of `pt`, timestamp `seq * step`.
fn rtp(pt: u8, seq: u16, step: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * step).to_be_bytes());
    p.extend_from_slice(&0xCAFE_0002u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Random-looking bytes, as an encrypted payload is.
fn noise(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

const SDP_HEAD: &str =
    "v=0\r\no=- 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n";

/// An SDP whose m=audio section (port 40000) says RTP/SAVP: SRTP. Without a key
/// the track fails as `encrypted-no-key`; a `--srtp-keys` key decrypts and records it.
#[test]
fn sdp_that_says_srtp_without_a_key_fails_as_encrypted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ctx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &[7; 30]).expect("key");
    let cap = tmp.path().join("sdes.pcap");
    srtp_capture(&cap, &ctx, false);
    let sdp = tmp.path().join("peer.sdp");
    std::fs::write(&sdp, format!("{SDP_HEAD}m=audio 40000 RTP/SAVP 8\r\n")).expect("sdp");
    let sdp_arg = ["--sdp", sdp.to_str().expect("utf-8 path")];
    let (o, m) = record(&cap, &tmp.path().join("out"), &sdp_arg);
    assert_eq!(o.status.code(), Some(4));
    let a = &m["assets"][0];
    assert_eq!(a["error"]["code"], "encrypted-no-key", "{a:#}");
    assert_eq!(a["stats"]["packets"], 150, "{a:#}");
    assert!(a["path"].is_null());
    // The key, from --srtp-keys: decrypted before routing, recorded.
    let keys = tmp.path().join("keys.txt");
    std::fs::write(
        &keys,
        format!("AES_CM_128_HMAC_SHA1_80 {}\n", base64_of(&[7; 30])),
    )
    .expect("write keys");
    let mut args = sdp_arg.to_vec();
    args.extend(["--srtp-keys", keys.to_str().expect("utf-8 path")]);
    let (o, m) = record(&cap, &tmp.path().join("keyed"), &args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(m["assets"][0]["status"], "completed", "{m:#}");
}

/// DTLS-SRTP by signalling (a=fingerprint, UDP/TLS/RTP/SAVPF) over Opus whose
/// payloads do not parse: named DTLS-SRTP, the DTLS key log suggested. The same
/// SDP over plain Opus (a capture of decrypted media) records.
#[test]
fn sdp_that_says_dtls_srtp_names_the_key_log() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sdp = tmp.path().join("peer.sdp");
    std::fs::write(
        &sdp,
        format!(
            "{SDP_HEAD}a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\r\n\
             m=audio 40000 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
        ),
    )
    .expect("sdp");
    let sdp_arg = ["--sdp", sdp.to_str().expect("utf-8 path")];
    let cap = tmp.path().join("dtls.pcap");
    rtp_capture(&cap, 150, true, |seq| {
        rtp(111, seq, 960, &noise(u32::from(seq), 90))
    });
    let m = {
        let (o, m) = record(&cap, &tmp.path().join("out"), &sdp_arg);
        assert_eq!(o.status.code(), Some(4));
        m
    };
    let a = &m["assets"][0];
    assert_eq!(a["error"]["code"], "encrypted-no-key", "{a:#}");
    let msg = a["error"]["message"].as_str().unwrap_or_default();
    // The 5-tuple carried DTLS too: that, not the payloads, names it first.
    assert!(
        msg.contains("DTLS-SRTP") && msg.contains("--keylog"),
        "{msg}"
    );
    assert_eq!(a["stats"]["packets"], 150, "{a:#}");
    let out = tmp.path().join("out");
    assert_eq!(
        sorted(files_under(&out)),
        [out.join("manifest.json"), out.join("timeline.json")]
    );
    // Decrypted media under the same SDP: recorded.
    let plain = tmp.path().join("plain.pcap");
    rtp_capture(&plain, 150, false, |seq| {
        rtp(111, seq, 960, &[0xfc, 0xff, 0xfe])
    });
    let (o, m) = record(&plain, &tmp.path().join("plain"), &sdp_arg);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(m["assets"][0]["status"], "completed", "{m:#}");
}

/// Metadata names VP8 and says nothing of SRTP, but no frame start parses as
/// VP8 while sequence numbers and timestamps advance like video: encrypted,
/// not `no-keyframe`, and nothing is written.
#[test]
fn payloads_that_do_not_parse_as_the_signalled_codec_fail_as_encrypted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("vp8.pcap");
    // Three packets per frame, 3000 ticks per frame.
    rtp_capture(&cap, 150, false, |seq| {
        let mut p = rtp(96, seq, 0, &noise(u32::from(seq) + 11, 700));
        p[4..8].copy_from_slice(&(u32::from(seq / 3) * 3000).to_be_bytes());
        p
    });
    let meta = tmp.path().join("m.json");
    std::fs::write(
        &meta,
        r#"{"room_id": "r", "session_id": "s", "peers": [{"peer_id": "alice", "tracks": [
            {"track_id": "cam", "kind": "video", "ssrc": "0xCAFE0002", "codec": "vp8", "payload_type": 96}]}]}"#,
    )
    .expect("metadata");
    let out = tmp.path().join("out");
    let (o, m) = record(&cap, &out, &["-m", meta.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(4));
    let a = &m["assets"][0];
    assert_eq!(a["error"]["code"], "encrypted-no-key", "{a:#}");
    let msg = a["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("do not parse as the signalled codec vp8")
            && msg.contains("SRTP without keys?"),
        "{msg}"
    );
    assert_eq!(a["stats"]["packets"], 150, "{a:#}");
    assert_eq!(
        sorted(files_under(&out)),
        [out.join("manifest.json"), out.join("timeline.json")]
    );
}

/// `files` in order: directory listings come in no particular one.
fn sorted(mut files: Vec<std::path::PathBuf>) -> Vec<std::path::PathBuf> {
    files.sort();
    files
}
