//! `rtprec record` of telephony audio (PCMU, PCMA, G.722, L16) to WAV (issue #4).
//!
//! Shared captures of real calls: every WAV decodes without an ffmpeg error,
//! holds exactly the RTP timeline (last timestamp - first + last frame's
//! duration) in samples, and has silence exactly where packets were lost or
//! where comfort noise (PT 13) stood in for audio. The expected figures were
//! read with tshark (`-T fields -e rtp.seq -e rtp.timestamp -e udp.length`).

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Records `capture` into a fresh temporary directory with `--json`.
fn record(capture: &Path) -> (Output, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = rtprec()
        .arg("record")
        .arg(capture)
        .arg("-o")
        .arg(dir.path())
        .arg("--json")
        .output()
        .expect("the rtprec binary runs");
    let manifest = json(&out);
    crate::util::assert_manifest_matches_disk(&manifest, dir.path());
    (out, manifest, dir)
}

/// The completed asset of `ssrc` and its file.
fn asset<'a>(m: &'a Value, dir: &Path, ssrc: &str) -> (&'a Value, PathBuf) {
    let a = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .find(|a| a["ssrc"] == ssrc)
        .unwrap_or_else(|| panic!("no asset for {ssrc}: {m}"));
    assert_eq!(a["status"], "completed", "{a}");
    assert_eq!(a["container"], "wav", "{a}");
    let path = dir.join(a["path"].as_str().expect("path"));
    assert!(path.is_file());
    (a, path)
}

/// ffmpeg's complaints while decoding `file` (empty when it decodes cleanly).
fn decode_errors(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg failed on {}", file.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// ffmpeg's decode of `file` as 16-bit samples (interleaved), with `input` options before `-i`.
fn decode_pcm(file: &Path, input: &[&str]) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(input)
        .arg("-i")
        .arg(file)
        .args(["-f", "s16le", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg failed on {}", file.display());
    out.stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// (codec name, sample rate, channels, samples per channel, duration in seconds) by ffprobe.
fn probe(file: &Path) -> (String, u64, u64, u64, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json", "-show_streams"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe failed on {}", file.display());
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe writes JSON");
    let s = &v["streams"][0];
    let num = |k: &str| {
        s[k].as_str()
            .and_then(|x| x.parse::<f64>().ok())
            .or_else(|| s[k].as_f64())
            .unwrap_or_else(|| panic!("ffprobe {k}: {s}"))
    };
    (
        s["codec_name"].as_str().unwrap_or_default().to_string(),
        num("sample_rate") as u64,
        s["channels"].as_u64().unwrap_or(0),
        num("duration_ts") as u64,
        num("duration"),
    )
}

/// One recorded stream of a shared capture and what its WAV must hold.
struct Case {
    capture: &'static str,
    ssrc: &'static str,
    /// ffmpeg's codec name for the WAV's stream.
    codec: &'static str,
    rate: u64,
    /// RTP timeline in samples at `rate`: last ts - first ts + last frame's duration.
    samples: u64,
    frames_written: u64,
    frames_inserted: u64,
    /// Sample ranges [start, end) that must be silent (zero after decoding).
    silent: &'static [(usize, usize)],
}

const CASES: &[Case] = &[
    // 5535 packets of 160 octets, ts 160..885600, no loss: 110.7 s.
    Case {
        capture: "sippscen_g711a.pcap",
        ssrc: "0x0E330AF3",
        codec: "pcm_s16le",
        rate: 8000,
        samples: 885_600,
        frames_written: 5535,
        frames_inserted: 0,
        silent: &[],
    },
    // 5413 packets of 160 octets, ts 160..866080: 866080 ticks = 1732160 samples at 16 kHz,
    // decoded to PCM.
    Case {
        capture: "sippscen_g722.pcap",
        ssrc: "0x2D374E76",
        codec: "pcm_s16le",
        rate: 16_000,
        samples: 1_732_160,
        frames_written: 5413,
        frames_inserted: 0,
        silent: &[],
    },
    // 30 ms packets, ts 240..55200; seq 9757 (ts 37920) is lost: 240 silent samples at 37680.
    Case {
        capture: "rtpproxy_rtcp.o.pcap",
        ssrc: "0xF3CB2001",
        codec: "pcm_s16le",
        rate: 8000,
        samples: 55_200,
        frames_written: 229,
        frames_inserted: 1,
        silent: &[(37_680, 37_920)],
    },
    // PCMA from ts 71320 (10 ms, then 20 ms packets) to 149360, comfort noise (PT 13)
    // until PCMA resumes at 344960: 195600 silent samples at 78040. At seq 1145 the
    // timestamp resets to 0 after 286.074 ms of capture time: re-anchored (2288 ticks
    // after the previous packet), then 4160 more ticks: 282328 in all.
    Case {
        capture: "ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
        ssrc: "0x17D90134",
        codec: "pcm_s16le",
        rate: 8000,
        samples: 282_328,
        frames_written: 1005,
        frames_inserted: 2,
        silent: &[(78_040, 273_640)],
    },
    // The other direction: 158 PCMA packets, seq 0..1870 with 1712 missing (the call
    // went T.38 meanwhile), ts 1741624736..1741924296: gaps at 16160 (one telephone-event
    // packet, PT 102, in place of audio) and 20316..294236.
    Case {
        capture: "ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
        ssrc: "0x0EAF0EAF",
        codec: "pcm_s16le",
        rate: 8000,
        samples: 299_720,
        frames_written: 158,
        frames_inserted: 4,
        silent: &[(16_160, 16_320), (20_316, 294_236)],
    },
    // rtpdump: 15 PCMU packets of 160 octets, contiguous.
    Case {
        capture: "rtptools_bark.rtp",
        ssrc: "0x00059C72",
        codec: "pcm_s16le",
        rate: 8000,
        samples: 2400,
        frames_written: 15,
        frames_inserted: 0,
        silent: &[],
    },
];

fn check_case(c: &Case, m: &Value, dir: &Path) {
    let name = format!("{} {}", c.capture, c.ssrc);
    let (a, wav) = asset(m, dir, c.ssrc);
    let st = &a["stats"];
    assert_eq!(st["frames_written"], c.frames_written, "{name}: {a}");
    assert_eq!(st["frames_inserted"], c.frames_inserted, "{name}: {a}");
    assert_eq!(a["duration_ms"], c.samples * 1000 / c.rate, "{name}");
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    assert_eq!(decode_errors(&wav), "", "{name}");
    let (codec, rate, channels, samples, secs) = probe(&wav);
    assert_eq!(
        (codec.as_str(), rate, channels),
        (c.codec, c.rate, 1),
        "{name}"
    );
    assert_eq!(samples, c.samples, "{name}: samples");
    let want = c.samples as f64 / c.rate as f64;
    assert!(
        (secs - want).abs() <= 0.020,
        "{name}: {secs} s, want {want}"
    );
    if c.silent.is_empty() {
        return;
    }
    let pcm = decode_pcm(&wav, &[]);
    assert_eq!(pcm.len() as u64, c.samples, "{name}");
    for &(from, to) in c.silent {
        assert!(
            pcm[from..to].iter().all(|&s| s == 0),
            "{name}: {from}..{to} not silent"
        );
        // The audio right before and after the gap is real: not all zero.
        let before = &pcm[from.saturating_sub(160)..from];
        let after = &pcm[to..(to + 160).min(pcm.len())];
        assert!(before.iter().any(|&s| s != 0), "{name}: before {from}");
        assert!(after.iter().any(|&s| s != 0), "{name}: after {to}");
    }
}

#[test]
fn shared_telephony_captures_record_the_rtp_timeline() {
    let mut done: Option<(&str, Value, tempfile::TempDir)> = None;
    for c in CASES {
        let Some(cap) = shared(c.capture) else { return };
        if done.as_ref().is_none_or(|(n, ..)| *n != c.capture) {
            let (out, m, dir) = record(&cap);
            assert_eq!(out.status.code(), Some(0), "{}: {m}", c.capture);
            done = Some((c.capture, m, dir));
        }
        let (_, m, dir) = done.as_ref().expect("recorded above");
        check_case(c, m, dir.path());
    }
}

/// The copy of bark.rtp in testdata/ records without the shared folder.
#[test]
fn rtpdump_pcmu_in_testdata() {
    let (out, m, dir) = record(&testdata("rtptools_bark.rtp"));
    assert_eq!(out.status.code(), Some(0), "{m}");
    check_case(&CASES[5], &m, dir.path());
}

/// SRTP-encrypted PCMA over TURN, comfort noise between talkspurts, recorded
/// without keys: never a WAV of noise. Each 160-tick PCMA payload is 170 octets
/// (a 10-octet HMAC-SHA1-80 tag), so both legs fail as encrypted, still
/// counting their packets. (tests/srtp.rs records the call with its keys.)
#[test]
fn srtp_pcma_over_turn_without_keys_is_named_encrypted() {
    let Some(cap) = shared("srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap") else {
        return;
    };
    let (out, m, _dir) = record(&cap);
    assert_eq!(out.status.code(), Some(4), "{m}");
    let assets = m["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 2, "{m}");
    for a in assets {
        assert_eq!(a["error"]["code"], "encrypted-no-key", "{a}");
        let msg = a["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("10-byte authentication tag"), "{msg}");
        assert!(a["path"].is_null(), "{a}");
    }
    let packets: Vec<(&str, u64)> = assets
        .iter()
        .map(|a| {
            (
                a["ssrc"].as_str().unwrap_or_default(),
                a["stats"]["packets"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(packets, [("0xED42A10F", 659), ("0x15CBA085", 609)]);
}

/// The ground truth JSON that ends `testdata/NAME.txt`.
fn truth(name: &str) -> Value {
    let txt = std::fs::read_to_string(testdata(&format!("{name}.txt"))).expect("summary exists");
    let start = txt
        .find("\n{\n")
        .expect("the .txt ends with mkmedia's JSON")
        + 1;
    serde_json::from_str(&txt[start..]).expect("ground truth is JSON")
}

/// A source file of testdata/make-audio.sh: name, ffmpeg arguments that make it,
/// input options that read it raw, sample rate, RTP ticks per packet.
struct Source {
    file: &'static str,
    make: &'static [&'static str],
    read: &'static [&'static str],
    rate: usize,
    ticks: usize,
}

const SOURCES: &[Source] = &[
    Source {
        file: "pcmu.ul",
        make: &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=8000:duration=4",
            "-f",
            "mulaw",
        ],
        read: &["-f", "mulaw", "-ar", "8000", "-ac", "1"],
        rate: 8000,
        ticks: 160,
    },
    Source {
        file: "pcma.al",
        make: &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=660:sample_rate=8000:duration=4",
            "-f",
            "alaw",
        ],
        read: &["-f", "alaw", "-ar", "8000", "-ac", "1"],
        rate: 8000,
        ticks: 160,
    },
    Source {
        file: "g722.g722",
        make: &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=16000:duration=4",
            "-c:a",
            "g722",
            "-f",
            "g722",
        ],
        read: &["-f", "g722"],
        rate: 16_000,
        ticks: 160,
    },
    Source {
        file: "l16.s16be",
        make: &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:sample_rate=44100:duration=1",
            "-f",
            "s16be",
        ],
        read: &["-f", "s16be", "-ar", "44100", "-ac", "1"],
        rate: 44_100,
        ticks: 441,
    },
];

/// Records a media capture and checks every track's decoded WAV against ffmpeg's
/// decode of the source, with silence exactly at the packets the truth says were lost.
/// For G.722 this compares rtprec's decoder with ffmpeg's, sample for sample.
fn check_media(name: &str, want_lost: bool) {
    let (out, m, dir) = record(&testdata(name));
    assert_eq!(out.status.code(), Some(0), "{name}: {m}");
    let truth = truth(name);
    let streams = truth["streams"].as_array().expect("streams");
    let mut lost_total = 0;
    for s in streams {
        let ssrc = s["ssrc_hex"].as_str().expect("ssrc_hex");
        let src = SOURCES
            .iter()
            .find(|x| s["source"] == x.file)
            .unwrap_or_else(|| panic!("{name}: unknown source {}", s["source"]));
        let (a, wav) = asset(&m, dir.path(), ssrc);
        let lost: Vec<usize> = s["media"]["undecodable"]
            .as_array()
            .expect("undecodable")
            .iter()
            .filter_map(Value::as_u64)
            .map(|i| i as usize)
            .collect();
        lost_total += lost.len();
        let ticks = s["media"]["length_ticks"].as_u64().expect("length_ticks");
        // G.722: 2 samples per 8 kHz tick (RFC 3551 §4.5.2).
        let per_tick = src.rate / s["clock_rate"].as_u64().expect("clock_rate") as usize;
        assert_eq!(
            a["stats"]["frames_written"],
            s["frames"].as_u64().expect("frames") - lost.len() as u64,
            "{name} {ssrc}"
        );
        assert_eq!(a["duration_ms"], s["media"]["duration_ms"], "{name} {ssrc}");
        if !have_tool("ffmpeg") {
            continue;
        }
        assert_eq!(decode_errors(&wav), "", "{name} {ssrc}");
        let tmp = tempfile::tempdir().expect("temp dir");
        let source = tmp.path().join(src.file);
        let made = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y"])
            .args(src.make)
            .arg(&source)
            .status()
            .expect("ffmpeg runs");
        assert!(made.success(), "ffmpeg made {}", src.file);
        let mut want = decode_pcm(&source, src.read);
        let got = decode_pcm(&wav, &[]);
        assert_eq!(
            got.len() as u64,
            ticks * per_tick as u64,
            "{name} {ssrc}: samples"
        );
        assert_eq!(want.len(), got.len(), "{name} {ssrc}: source length");
        let packet = src.ticks * per_tick;
        for &i in &lost {
            want[i * packet..(i + 1) * packet].fill(0);
        }
        if let Some(i) = got.iter().zip(&want).position(|(g, w)| g != w) {
            panic!(
                "{name} {ssrc}: sample {i} (packet {}) is {}, source says {} \
                 (if ffmpeg changed its encoders, remake the sources: testdata/make-audio.sh)",
                i / packet,
                got[i],
                want[i]
            );
        }
    }
    assert_eq!(
        lost_total > 0,
        want_lost,
        "{name}: lost packets in the truth"
    );
}

#[test]
fn media_g711_equals_the_source() {
    check_media("media-g711.pcap", false);
}

#[test]
fn media_g711_impaired_is_silent_exactly_where_packets_were_lost() {
    check_media("media-g711-impaired.pcap", true);
}

#[test]
fn media_g722_and_l16_equal_the_source() {
    check_media("media-g722-l16.pcap", false);
}

/// Metadata naming G.711 tracks by static payload type only (no codec, clock
/// rate or channels): the clock is G.711's 8000 Hz, not the 48 kHz audio default.
#[test]
fn metadata_static_payload_types_get_the_g711_clock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let meta = dir.path().join("session.json");
    let metadata = r#"{ "room_id": "r", "session_id": "s", "peers": [ { "peer_id": "p", "tracks": [
        { "track_id": "mu", "kind": "audio", "ssrc": "0x201B8F59", "payload_type": 0 },
        { "track_id": "a", "kind": "audio", "ssrc": "0x77842A99", "payload_type": 8 } ] } ] }"#;
    std::fs::write(&meta, metadata).expect("write metadata");
    let out_dir = dir.path().join("out");
    let out = rtprec()
        .arg("record")
        .arg(testdata("media-g711.pcap"))
        .arg("-m")
        .arg(&meta)
        .arg("-o")
        .arg(&out_dir)
        .arg("--json")
        .output()
        .expect("the rtprec binary runs");
    let m = json(&out);
    assert_eq!(out.status.code(), Some(0), "{m}");
    for (ssrc, codec) in [("0x201B8F59", "pcmu"), ("0x77842A99", "pcma")] {
        let (a, wav) = asset(&m, &out_dir, ssrc);
        assert_eq!(a["codec"], codec);
        assert_eq!(a["clock_rate"], 8000);
        assert_eq!(a["duration_ms"], 4000);
        assert!(wav.ends_with(format!(
            "r/s/p/{}.wav",
            a["track_id"].as_str().unwrap_or_default()
        )));
    }
}
