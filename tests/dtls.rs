//! DTLS-SRTP calls recorded with a key log (issue #12), on captures built here:
//! four associations, one on plain UDP (its ClientHello in three fragments,
//! one sent twice), one inside TURN ChannelData, one inside TURN Send/Data
//! indications and one over ICE-TCP (RFC 4571), each with media both ways in
//! another SRTP profile.

use crate::util::{assert_decodes_cleanly, assert_manifest_matches_disk, have_tool, rtprec};
use rtprec::capture::SecretsKind;
use rtprec::srtp::{SrtpContext, SrtpProfile};
use rtprec::testutil::dtls::Dtls12Handshake;
use rtprec::testutil::packet::{
    LinkKind, STUN_DATA_INDICATION, STUN_SEND_INDICATION, push_channel_data, push_rfc4571,
    push_stun_indication, tcp_flags, tcp_frame, udp_frame,
};
use rtprec::testutil::rtp::{RtpBuilder, ntp_from_unix_nanos, push_sender_report};
use rtprec::testutil::writers::{Endian, InterfaceSpec, PcapNgWriter, PcapOptions, PcapWriter};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const T0: i64 = 1_795_428_000_000_000_000;
const PACKETS: u16 = 150;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// How an association's datagrams travel.
#[derive(Clone, Copy)]
enum Carrier {
    Udp,
    /// Inside TURN ChannelData between the client and the relay.
    Turn,
    /// Inside TURN Send (client to relay) and Data (relay to client) indications.
    TurnIndication,
    /// RFC 4571 frames on one TCP connection.
    Tcp,
}

/// One call leg pair: a handshake, its 5-tuple and how it is carried.
struct Call {
    hs: Dtls12Handshake,
    client: SocketAddr,
    server: SocketAddr,
    carrier: Carrier,
    /// SSRCs of what the client and the server send.
    ssrcs: (u32, u32),
}

fn calls() -> Vec<Call> {
    vec![
        Call {
            hs: Dtls12Handshake::new(1, SrtpProfile::AesCm128HmacSha1_80),
            client: addr("192.0.2.1:50000"),
            server: addr("192.0.2.2:50001"),
            carrier: Carrier::Udp,
            ssrcs: (0xA100_0001, 0xA100_0002),
        },
        Call {
            hs: Dtls12Handshake::new(2, SrtpProfile::AeadAes128Gcm),
            client: addr("192.0.2.3:50002"),
            server: addr("198.51.100.7:3478"),
            carrier: Carrier::Turn,
            ssrcs: (0xB200_0001, 0xB200_0002),
        },
        Call {
            hs: Dtls12Handshake::new(4, SrtpProfile::AesCm128HmacSha1_32),
            client: addr("192.0.2.7:50006"),
            server: addr("198.51.100.8:3478"),
            carrier: Carrier::TurnIndication,
            ssrcs: (0xD400_0001, 0xD400_0002),
        },
        Call {
            hs: Dtls12Handshake::new(3, SrtpProfile::AeadAes256Gcm),
            client: addr("192.0.2.5:50004"),
            server: addr("192.0.2.6:443"),
            carrier: Carrier::Tcp,
            ssrcs: (0xC300_0001, 0xC300_0002),
        },
    ]
}

/// A PCMA packet (static PT 8, 20 ms): a tone, so the WAV is not silence.
fn pcma(ssrc: u32, seq: u16) -> Vec<u8> {
    let payload: Vec<u8> = (0..160u32)
        .map(|i| (((u32::from(seq) * 160 + i) % 40) as u8).wrapping_mul(3) ^ 0x55)
        .collect();
    RtpBuilder::new(8, seq, u32::from(seq) * 160, ssrc).build(&payload)
}

/// Writes the capture of `calls` as pcap: each handshake, then 3 s of SRTP both ways.
fn write_capture(path: &Path, calls: &[Call]) {
    let mut w = PcapWriter::new(
        Vec::new(),
        PcapOptions {
            nanos: true,
            link_type: LinkKind::Raw.link_type(),
            ..PcapOptions::default()
        },
    )
    .expect("pcap header");
    for (t, f) in frames_of(calls) {
        w.write_packet(t, &f).expect("write");
    }
    std::fs::write(path, w.into_inner().expect("flush")).expect("write capture");
}

/// Writes the capture of `calls` as pcapng with `keylog` in a Decryption
/// Secrets Block before the packets (as `editcap --inject-secrets` does).
fn write_pcapng_with_secrets(path: &Path, calls: &[Call], keylog: &str) {
    let mut w = PcapNgWriter::with_interface(
        Vec::new(),
        Endian::Little,
        InterfaceSpec::new(LinkKind::Raw.link_type(), 9),
    )
    .expect("pcapng header");
    w.write_dsb(SecretsKind::TLS_KEY_LOG, keylog.as_bytes())
        .expect("secrets block");
    for (t, f) in frames_of(calls) {
        w.write_packet(0, t, &f).expect("write");
    }
    std::fs::write(path, w.into_inner().expect("flush")).expect("write capture");
}

/// The frames of `calls` in time order.
fn frames_of(calls: &[Call]) -> Vec<(i64, Vec<u8>)> {
    let mut tcp_seq;
    let mut frames: Vec<(i64, Vec<u8>)> = Vec::new();
    for (n, call) in calls.iter().enumerate() {
        let start = i64::try_from(n).expect("few") * 1_000_000;
        let mut seqs = [1000u32, 5000u32];
        if let Carrier::Tcp = call.carrier {
            // The connection's SYNs, so the segments that follow are in sequence.
            for (from_client, side) in [(true, 0usize), (false, 1usize)] {
                let (src, dst) = if from_client {
                    (call.client, call.server)
                } else {
                    (call.server, call.client)
                };
                let mut f = Vec::new();
                tcp_frame(
                    &mut f,
                    LinkKind::Raw,
                    src,
                    dst,
                    seqs[side],
                    1,
                    tcp_flags::SYN,
                    &[],
                )
                .expect("v4");
                frames.push((T0 + start, f));
                seqs[side] += 1;
            }
        }
        tcp_seq = seqs;
        let mut send = |t: i64, from_client: bool, datagram: &[u8], tcp_seq: &mut [u32; 2]| {
            let (src, dst) = if from_client {
                (call.client, call.server)
            } else {
                (call.server, call.client)
            };
            let mut f = Vec::new();
            match call.carrier {
                Carrier::Udp => {
                    udp_frame(&mut f, LinkKind::Raw, src, dst, 1, datagram).expect("v4");
                }
                Carrier::Turn => {
                    let mut cd = Vec::new();
                    push_channel_data(&mut cd, 0x4001, datagram, false);
                    udp_frame(&mut f, LinkKind::Raw, src, dst, 1, &cd).expect("v4");
                }
                Carrier::TurnIndication => {
                    let (kind, peer) = if from_client {
                        (STUN_SEND_INDICATION, addr("203.0.113.9:61000"))
                    } else {
                        (STUN_DATA_INDICATION, addr("203.0.113.9:61000"))
                    };
                    let mut ind = Vec::new();
                    push_stun_indication(&mut ind, kind, [7; 12], peer, datagram);
                    udp_frame(&mut f, LinkKind::Raw, src, dst, 1, &ind).expect("v4");
                }
                Carrier::Tcp => {
                    let mut payload = Vec::new();
                    push_rfc4571(&mut payload, datagram);
                    let side = usize::from(!from_client);
                    tcp_frame(
                        &mut f,
                        LinkKind::Raw,
                        src,
                        dst,
                        tcp_seq[side],
                        1,
                        tcp_flags::PSH | tcp_flags::ACK,
                        &payload,
                    )
                    .expect("v4");
                    tcp_seq[side] += u32::try_from(payload.len()).expect("small");
                }
            }
            frames.push((T0 + start + t, f));
        };
        // The ClientHello in three fragments, the second sent twice (a retransmission).
        let frags = call.hs.client_hello_fragments(3);
        for (i, frag) in [&frags[0], &frags[1], &frags[1], &frags[2]]
            .iter()
            .enumerate()
        {
            send(
                i64::try_from(i).expect("few") * 1000,
                true,
                frag,
                &mut tcp_seq,
            );
        }
        send(10_000, false, &call.hs.server_hello(), &mut tcp_seq);
        let (to_server, to_client) = call.hs.srtp();
        for seq in 0..PACKETS {
            let t = 1_000_000 + i64::from(seq) * 20_000_000;
            let up = to_server
                .encrypt_rtp(0, &pcma(call.ssrcs.0, seq))
                .expect("encrypts");
            send(t, true, &up, &mut tcp_seq);
            let down = to_client
                .encrypt_rtp(0, &pcma(call.ssrcs.1, seq))
                .expect("encrypts");
            send(t + 5_000_000, false, &down, &mut tcp_seq);
            // An SRTCP sender report from each side every second (RFC 3711 §3.4).
            if seq % 50 == 25 {
                let index = u32::from(seq / 50);
                for (from_client, ssrc, ctx) in [
                    (true, call.ssrcs.0, &to_server),
                    (false, call.ssrcs.1, &to_client),
                ] {
                    let mut sr = Vec::new();
                    let at = T0 + start + t;
                    push_sender_report(
                        &mut sr,
                        ssrc,
                        ntp_from_unix_nanos(at),
                        u32::from(seq) * 160,
                        u32::from(seq),
                        u32::from(seq) * 160,
                        &[],
                    );
                    let wire = ctx.encrypt_rtcp(index, &sr).expect("encrypts");
                    send(t + 1_000_000, from_client, &wire, &mut tcp_seq);
                }
            }
        }
    }
    frames.sort_by_key(|(t, _)| *t);
    frames
}

/// A temporary directory with the capture of every call and a key log of `keyed`.
fn setup(keyed: &[usize]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("calls.pcap");
    let calls = calls();
    write_capture(&cap, &calls);
    let keylog = tmp.path().join("keys.txt");
    let mut text = String::from("# SSL/TLS secrets log file, generated by NSS\n");
    for &i in keyed {
        text.push_str(&calls[i].hs.keylog_line());
    }
    std::fs::write(&keylog, text).expect("write key log");
    (tmp, cap, keylog)
}

/// Runs `rtprec record CAPTURE ARGS -o OUT --json`: exit status and manifest.
fn record(cap: &Path, out: &Path, args: &[&str]) -> (Option<i32>, String, Value) {
    let o = rtprec()
        .arg("record")
        .arg(cap)
        .arg("-o")
        .arg(out)
        .args(args)
        .args(["--events", "none", "--json"])
        .output()
        .expect("rtprec runs");
    let m: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    if !m.is_null() {
        assert_manifest_matches_disk(&m, out);
    }
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        m,
    )
}

fn asset(m: &Value, ssrc: u32) -> &Value {
    let want = format!("0x{ssrc:08X}");
    m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .find(|a| a["ssrc"] == want.as_str())
        .unwrap_or_else(|| panic!("no asset of {want}: {m:#}"))
}

/// No secret of the key log, and no key, ever appears in what rtprec prints or writes.
fn assert_no_secret(texts: &[&str], calls: &[Call]) {
    for c in calls {
        let line = c.hs.keylog_line();
        let secret = line.split_whitespace().nth(2).expect("secret");
        for t in texts {
            assert!(!t.contains(secret), "a secret leaked: {t}");
        }
    }
}

/// See: issue #12. With the key log every track of every association records
/// cleanly, with its profile and where its keys came from in the manifest.
#[test]
fn every_association_records_with_the_key_log() {
    let (tmp, cap, keylog) = setup(&[0, 1, 2, 3]);
    let out = tmp.path().join("out");
    let (code, stderr, m) = record(&cap, &out, &["--keylog", keylog.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{stderr}");
    let calls = calls();
    assert_eq!(m["assets"].as_array().expect("assets").len(), 8, "{m:#}");
    for c in &calls {
        for ssrc in [c.ssrcs.0, c.ssrcs.1] {
            let a = asset(&m, ssrc);
            assert_eq!(a["status"], "completed", "{a:#}");
            assert_eq!(a["codec"], "pcma", "{a:#}");
            assert_eq!(a["stats"]["packets"], u64::from(PACKETS), "{a:#}");
            assert_eq!(a["stats"]["srtp_auth_failures"], 0, "{a:#}");
            assert_eq!(a["stats"]["lost"], 0, "{a:#}");
            let d = &a["decryption"];
            assert_eq!(d["method"], "dtls-srtp", "{a:#}");
            assert_eq!(d["profile"], c.hs.profile.name(), "{a:#}");
            assert_eq!(d["keys"], "keylog", "{a:#}");
            assert_eq!(d["dtls_version"], "1.2", "{a:#}");
            // Its SRTCP sender reports were decrypted with the same keys.
            assert_eq!(a["start_offset_source"], "rtcp-sr", "{a:#}");
            assert_eq!(a["sender_clock"]["sender_reports"], 3, "{a:#}");
            // The DTLS client is the side that sent the ClientHello.
            assert_eq!(
                d["dtls_association"],
                format!("{} -> {}", c.client, c.server),
                "{a:#}"
            );
            if have_tool("ffmpeg") {
                assert_decodes_cleanly(&out.join(a["path"].as_str().expect("path")));
            }
        }
    }
    let manifest = std::fs::read_to_string(out.join("manifest.json")).expect("manifest");
    assert_no_secret(&[&stderr, &manifest], &calls);
}

/// See: issue #12. A key log missing one association fails only that
/// association's tracks, with `dtls-key-missing` naming what to look for.
#[test]
fn a_key_log_missing_one_association_fails_only_its_tracks() {
    let (tmp, cap, keylog) = setup(&[0, 2, 3]);
    let out = tmp.path().join("out");
    let (code, stderr, m) = record(&cap, &out, &["--keylog", keylog.to_str().expect("utf-8")]);
    assert_eq!(code, Some(4), "{stderr}");
    let calls = calls();
    for (i, c) in calls.iter().enumerate() {
        for ssrc in [c.ssrcs.0, c.ssrcs.1] {
            let a = asset(&m, ssrc);
            if i == 1 {
                assert_eq!(a["status"], "failed", "{a:#}");
                assert_eq!(a["error"]["code"], "dtls-key-missing", "{a:#}");
                let msg = a["error"]["message"].as_str().expect("message");
                let prefix: String = c.hs.client_random[..4]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert!(msg.contains(&prefix), "names the client random: {msg}");
                assert!(
                    msg.contains(&c.client.to_string()) && msg.contains(&c.server.to_string()),
                    "names the 5-tuple: {msg}"
                );
                // Its packets are still counted, and none was tried against another call's keys.
                assert_eq!(a["stats"]["packets"], u64::from(PACKETS), "{a:#}");
                assert_eq!(a["stats"]["srtp_auth_failures"], 0, "{a:#}");
                assert!(a["path"].is_null(), "{a:#}");
            } else {
                assert_eq!(a["status"], "completed", "{a:#}");
            }
        }
    }
}

/// See: issue #12. A pcapng capture that carries its key log in a Decryption
/// Secrets Block records without `--keylog`; the manifest says where the keys came from.
#[test]
fn a_pcapng_with_its_secrets_needs_no_key_log() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let calls = calls();
    let keylog: String = calls.iter().map(|c| c.hs.keylog_line()).collect();
    let cap = tmp.path().join("calls.pcapng");
    write_pcapng_with_secrets(&cap, &calls, &keylog);
    let out = tmp.path().join("out");
    let (code, stderr, m) = record(&cap, &out, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(m["assets"].as_array().expect("assets").len(), 8, "{m:#}");
    for a in m["assets"].as_array().expect("assets") {
        assert_eq!(a["status"], "completed", "{a:#}");
        assert_eq!(a["decryption"]["keys"], "pcapng-secrets", "{a:#}");
        assert_eq!(a["stats"]["srtp_auth_failures"], 0, "{a:#}");
    }
    let manifest = std::fs::read_to_string(out.join("manifest.json")).expect("manifest");
    assert_no_secret(&[&stderr, &manifest], &calls);
}

/// See: issue #12. Without a key log the media of a DTLS 5-tuple is named
/// DTLS-SRTP and the message says to give the key log.
#[test]
fn without_a_key_log_the_tracks_say_what_would_decrypt_them() {
    let (tmp, cap, _) = setup(&[]);
    let (code, stderr, m) = record(&cap, &tmp.path().join("out"), &[]);
    assert_eq!(code, Some(4), "{stderr}");
    for a in m["assets"].as_array().expect("assets") {
        assert_eq!(a["error"]["code"], "encrypted-no-key", "{a:#}");
        let msg = a["error"]["message"].as_str().expect("message");
        assert!(
            msg.contains("DTLS-SRTP") && msg.contains("--keylog"),
            "{msg}"
        );
    }
}

/// See: issue #12. A key log of another call (same randoms, other secrets):
/// the keys derive but do not authenticate; the tracks fail as such.
#[test]
fn a_key_log_of_another_call_fails_authentication() {
    let (tmp, cap, keylog) = setup(&[]);
    let text: String = calls()
        .iter()
        .map(|c| {
            let mut wrong = c.hs.clone();
            wrong.master_secret[0] ^= 0xff;
            wrong.keylog_line()
        })
        .collect();
    std::fs::write(&keylog, text).expect("write");
    let (code, stderr, m) = record(
        &cap,
        &tmp.path().join("out"),
        &["--keylog", keylog.to_str().expect("utf-8")],
    );
    assert_eq!(code, Some(4), "{stderr}");
    for a in m["assets"].as_array().expect("assets") {
        assert_eq!(a["error"]["code"], "srtp-auth-failed", "{a:#}");
        assert!(a["stats"]["srtp_auth_failures"].as_u64() > Some(0), "{a:#}");
    }
}

/// See: issue #12. A malformed key log line is an error naming file and line, not the secret.
#[test]
fn a_malformed_key_log_line_names_file_and_line_only() {
    let (tmp, cap, keylog) = setup(&[]);
    let calls = calls();
    let good = calls[0].hs.keylog_line();
    // The secret cut short: a line of a known label that does not parse.
    let bad = &good[..good.len() - 5];
    std::fs::write(&keylog, format!("{good}{bad}\n")).expect("write");
    let (code, stderr, _) = record(
        &cap,
        &tmp.path().join("out"),
        &["--keylog", keylog.to_str().expect("utf-8")],
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("keys.txt:2:"), "{stderr}");
    assert_no_secret(&[&stderr], &calls[..1]);
    let random_hex = bad.split_whitespace().nth(1).expect("random");
    assert!(!stderr.contains(random_hex), "{stderr}");
}

/// See: issue #12. `streams --keylog` lists each handshake, whether the key
/// log has its secret, and the streams on its 5-tuple.
#[test]
fn streams_lists_the_dtls_associations() {
    let (_tmp, cap, keylog) = setup(&[0, 2, 3]);
    let o = rtprec()
        .args(["streams", "--json"])
        .arg(&cap)
        .arg("--keylog")
        .arg(&keylog)
        .output()
        .expect("rtprec runs");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let dtls = v["dtls"].as_array().expect("dtls list");
    assert_eq!(dtls.len(), 4, "{v:#}");
    let calls = calls();
    for (d, c) in dtls.iter().zip(&calls) {
        assert_eq!(d["client"], c.client.to_string(), "{d:#}");
        assert_eq!(d["version"], "1.2", "{d:#}");
        assert_eq!(d["profile"], c.hs.profile.name(), "{d:#}");
        let mut streams: Vec<String> = d["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .map(|s| s.as_str().expect("hex").to_string())
            .collect();
        streams.sort();
        assert_eq!(
            streams,
            [c.ssrcs.0, c.ssrcs.1].map(|s| format!("0x{s:08X}")),
            "{d:#}"
        );
    }
    assert_eq!(
        dtls.iter()
            .map(|d| d["key"].as_str().expect("key"))
            .collect::<Vec<_>>(),
        ["found", "missing", "found", "found"]
    );
    // The table says it too.
    let o = rtprec().arg("streams").arg(&cap).output().expect("runs");
    let table = String::from_utf8_lossy(&o.stdout);
    assert_eq!(table.matches("key: no-key-log").count(), 4, "{table}");
}

/// See: issue #12. The decryption keys also work when given as an SRTP context
/// built independently of rtprec's exporter: the exported keys match RFC 5764's layout.
#[test]
fn exported_keys_follow_the_rfc_5764_layout() {
    // The client's write key || salt is the first key_len bytes and the
    // (2 * key_len)..(2 * key_len + salt_len) bytes of the exporter output.
    let hs = Dtls12Handshake::new(9, SrtpProfile::AesCm128HmacSha1_80);
    let material = rtprec::dtls::derive::prf_tls12(
        rtprec::dtls::derive::PrfHash::Sha256,
        &hs.master_secret,
        b"EXTRACTOR-dtls_srtp",
        &[hs.client_random, hs.server_random].concat(),
        60,
    );
    let client = [&material[..16], &material[32..46]].concat();
    let ctx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &client).expect("key");
    let (to_server, _) = hs.srtp();
    let plain = pcma(7, 1);
    let wire = to_server.encrypt_rtp(0, &plain).expect("encrypts");
    let mut out = Vec::new();
    let mut ctx = ctx;
    ctx.decrypt_rtp(&wire, &mut out)
        .expect("the client's write key decrypts");
    assert_eq!(out, plain);
}

/// See: issue #12. `streams` reads a capture's secrets blocks too.
#[test]
fn streams_uses_the_secrets_a_pcapng_carries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let calls = calls();
    let keylog = calls[0].hs.keylog_line();
    let cap = tmp.path().join("calls.pcapng");
    write_pcapng_with_secrets(&cap, &calls, &keylog);
    let o = rtprec()
        .args(["streams", "--json"])
        .arg(&cap)
        .output()
        .expect("rtprec runs");
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let keys: Vec<&str> = v["dtls"]
        .as_array()
        .expect("dtls")
        .iter()
        .map(|d| d["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["found", "missing", "missing", "missing"], "{v:#}");
}

/// See: issue #12. Several key logs (one per end of the call, say) are merged,
/// and the path may come from `RTPREC_KEYLOG`.
#[test]
fn key_logs_merge_and_come_from_the_environment() {
    let (tmp, cap, _) = setup(&[]);
    let calls = calls();
    let (first, second) = (tmp.path().join("a.txt"), tmp.path().join("b.txt"));
    std::fs::write(
        &first,
        calls[0].hs.keylog_line() + &calls[1].hs.keylog_line(),
    )
    .expect("write");
    std::fs::write(
        &second,
        calls[2].hs.keylog_line() + &calls[3].hs.keylog_line(),
    )
    .expect("write");
    let (code, stderr, m) = record(
        &cap,
        &tmp.path().join("out"),
        &[
            "--keylog",
            first.to_str().expect("utf-8"),
            "--keylog",
            second.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(m["assets"].as_array().expect("assets").len(), 8, "{m:#}");
    // The environment variable names one key log.
    let out = tmp.path().join("env-out");
    let o = rtprec()
        .arg("record")
        .arg(&cap)
        .arg("-o")
        .arg(&out)
        .args(["--events", "none", "--json"])
        .env("RTPREC_KEYLOG", &first)
        .output()
        .expect("rtprec runs");
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m: Value = serde_json::from_slice(&o.stdout).expect("manifest");
    let completed = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .filter(|a| a["status"] == "completed")
        .count();
    assert_eq!(completed, 4, "the first two calls' tracks: {m:#}");
}
