//! `rtprec streams`: packet counts against tshark, health counters, inputs, bad input.

use crate::util::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// (src, dst, ssrc) -> packets.
type Counts = BTreeMap<(String, String, String), u64>;

/// Decode-as options tshark needs to see what rtprec finds by itself.
fn tshark_extra(name: &str) -> &'static [&'static str] {
    match name {
        "ndpi_rtp.pcapng" => &["-d", "tcp.port==5000,rtp"],
        // RTP over an ICE-TCP candidate pair (RFC 6544, RFC 4571 framing).
        "srtpdec_WebRTC_PCMA_p2p_SDES_Call_1.pcap" => &["-d", "tcp.port==63101,rtp"],
        // PCMA keeps flowing after the T.38 re-INVITE; tshark labels those
        // 27 packets T.38 from the SDP unless told not to.
        "ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap" => &["--disable-protocol", "t38"],
        _ => &[],
    }
}

/// tshark's `-z rtp,streams` rows: Pkts per (src, dst, ssrc).
fn tshark_streams(path: &Path) -> Counts {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-o", "rtp.heuristic_rtp:TRUE", "-q", "-z", "rtp,streams"])
        .args(tshark_extra(name))
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed on {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut counts = Counts::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 17 || !t[6].starts_with("0x") {
            continue;
        }
        if t.last() == Some(&"X") {
            t.pop();
        }
        // From the end: pkts, lost, (lost%), 3 deltas, 3 jitters.
        let pkts: u64 = t[t.len() - 9]
            .parse()
            .expect("tshark Pkts column is a number");
        let ip = |a: &str, p: &str| {
            if a.contains(':') {
                format!("[{a}]:{p}")
            } else {
                format!("{a}:{p}")
            }
        };
        let ssrc = format!("0x{}", t[6].trim_start_matches("0x").to_uppercase());
        counts.insert((ip(t[2], t[3]), ip(t[4], t[5]), ssrc), pkts);
    }
    counts
}

fn rtprec_streams(path: &Path) -> (Value, Counts) {
    let out = rtprec()
        .arg("streams")
        .arg("--json")
        .arg(path)
        .output()
        .expect("rtprec runs");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "rtprec streams {} exited {:?}: {}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let mut counts = Counts::new();
    for s in v["streams"].as_array().expect("streams is an array") {
        let key = (
            s["src"].as_str().unwrap().to_string(),
            s["dst"].as_str().unwrap().to_string(),
            s["ssrc"].as_str().unwrap().to_string(),
        );
        counts.insert(key, s["packets"].as_u64().unwrap());
    }
    (v, counts)
}

#[test]
fn packet_counts_equal_tshark_on_every_shared_capture() {
    let Some(dir) = shared_dir() else { return };
    if !have_tool("tshark") {
        return;
    }
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // tshark cannot read rtpdump; reference/side files are not captures.
        if name.ends_with(".md")
            || name.ends_with(".ivf")
            || name.ends_with(".sdp")
            || name == "rtptools_bark.rtp"
        {
            continue;
        }
        let expected = tshark_streams(&path);
        let (_, got) = rtprec_streams(&path);
        assert_eq!(
            got, expected,
            "{name}: rtprec (left) and tshark (right) disagree"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} captures checked");
}

/// Looks up the one stream with this SSRC.
fn stream<'a>(v: &'a Value, ssrc: &str) -> &'a Value {
    let all: Vec<&Value> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["ssrc"] == ssrc)
        .collect();
    assert_eq!(all.len(), 1, "expected one stream {ssrc} in {v:#}");
    all[0]
}

#[test]
fn health_counters_match_the_capture_notes() {
    // (file, ssrc, packets, expected, lost, duplicates) from ../shared/captures/README.md
    // and the reference outputs of rtpproxy's own analyser.
    let cases = [
        ("rtpproxy_dups.a.rtp", "0xAE9DD7AF", 384, 383, 0, 1),
        ("rtpproxy_lost.a.rtp", "0x0A7328F3", 244, 565, 321, 0),
        ("rtpproxy_dtmf.pcapng", "0x37ED87F3", 151, 292, 193, 52),
        ("rtpproxy_dtmf.pcapng", "0xEE693E61", 45, 95, 50, 0),
        ("rtpproxy_rtcp.o.pcap", "0xF3CB2001", 229, 230, 1, 0),
        ("str0m_h264.pcap", "0x6A5CC848", 298, 301, 3, 0),
        ("str0m_vp8.pcap", "0xEEDF3944", 104, 104, 0, 0),
        ("sipp_dtmf_2833_1.pcap", "0x0E05384E", 10, 8, 0, 2),
    ];
    for (file, ssrc, packets, expected, lost, dups) in cases {
        let Some(path) = shared(file) else { return };
        let (v, _) = rtprec_streams(&path);
        let s = stream(&v, ssrc);
        let got = (
            s["packets"].as_u64(),
            s["expected"].as_u64(),
            s["lost"].as_u64(),
            s["duplicates"].as_u64(),
        );
        assert_eq!(
            got,
            (Some(packets), Some(expected), Some(lost), Some(dups)),
            "{file} {ssrc}"
        );
    }
}

#[test]
fn rtpdump_is_read() {
    let Some(path) = shared("rtptools_bark.rtp") else {
        return;
    };
    let (v, counts) = rtprec_streams(&path);
    assert_eq!(v["inputs"][0]["format"], "rtpdump");
    let s = stream(&v, "0x00059C72");
    assert_eq!(s["packets"], 15);
    assert_eq!(s["payload_types"], serde_json::json!([0]));
    assert_eq!(s["codec"], "pcmu");
    assert_eq!(counts.len(), 1);
}

#[test]
fn rtcp_only_capture_finds_no_stream_and_exits_1() {
    let Some(path) = shared("ndpi_rtcp_multiple_pkts_in_the_same_datagram.pcap") else {
        return;
    };
    let out = rtprec()
        .arg("streams")
        .arg("--json")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["streams"], serde_json::json!([]));
    assert_eq!(v["classified"]["rtcp"], 5);
    let srs: u64 = v["rtcp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sender_reports"].as_u64().unwrap())
        .sum();
    assert!(srs >= 1, "{v:#}");
}

#[test]
fn stdin_gzip_and_file_give_the_same_report() {
    let Some(path) = shared("str0m_vp8.pcap") else {
        return;
    };
    let (from_file, _) = rtprec_streams(&path);
    let bytes = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("capture.bin");
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        e.write_all(&bytes).unwrap();
        e.finish().unwrap();
    }
    let (from_gz, _) = rtprec_streams(&gz);
    assert_eq!(from_gz["inputs"][0]["gzip"], true);
    assert_eq!(from_gz["streams"], from_file["streams"]);

    use std::io::Write;
    let mut child = rtprec()
        .args(["streams", "--json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let from_stdin = json(&out);
    assert_eq!(from_stdin["inputs"][0]["name"], "<stdin>");
    assert_eq!(from_stdin["streams"], from_file["streams"]);
}

#[test]
fn several_files_are_merged_into_one_report() {
    let (Some(a), Some(b)) = (
        shared("rtpproxy_alice_srtp.pcap"),
        shared("rtpproxy_bob_srtp.pcap"),
    ) else {
        return;
    };
    let out = rtprec()
        .args(["streams", "--json"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(stream(&v, "0x2A1AD144")["packets"], 1556);
    assert_eq!(stream(&v, "0xC2F6A014")["packets"], 1564);
}

#[test]
fn missing_and_unknown_inputs_exit_3_naming_the_file() {
    let out = run(&["streams", "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap"));

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture at all").unwrap();
    let out = rtprec().arg("streams").arg(&junk).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("junk.pcap") && err.contains("unknown magic"),
        "{err}"
    );

    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let out = rtprec().arg("streams").arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty file"));
}

#[test]
fn truncated_capture_warns_and_keeps_what_was_read() {
    let Some(path) = shared("str0m_vp8.pcap") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let out = rtprec()
        .args(["streams", "--json"])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.pcap: frame 104") && err.contains("capture-truncated"),
        "{err}"
    );
    let v = json(&out);
    assert_eq!(v["streams"][0]["packets"], 103);
    assert_eq!(v["warnings"][0]["kind"], "capture-truncated");
}

#[test]
fn corrupt_record_length_exits_3_with_record_and_offset() {
    let Some(path) = shared("str0m_vp8.pcap") else {
        return;
    };
    let mut bytes = std::fs::read(&path).unwrap();
    // Record 1 starts at 24: its caplen field (bytes 8..12) claims 2 GiB.
    bytes[24 + 8..24 + 12].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, &bytes).unwrap();
    let out = rtprec().arg("streams").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.pcap: record 1 (byte offset 24)"), "{err}");
}

#[test]
fn broken_pipe_is_not_an_error() {
    let Some(path) = shared("sippscen_g711a.pcap") else {
        return;
    };
    let mut child = rtprec()
        .args(["streams", "--json"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0)),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Packets, and (lost, duplicates, reordered) when the summary gives them.
type Truth = (u64, Option<(u64, u64, u64)>);

/// Ground truth the generator wrote into `testdata/NAME.txt`, by SSRC.
fn generated_truth(name: &str) -> BTreeMap<String, Truth> {
    let txt = std::fs::read_to_string(testdata(&format!("{name}.txt"))).expect("summary exists");
    let mut truth = BTreeMap::new();
    for line in txt.lines() {
        let Some((head, rest)) = line.trim().split_once(": truth packets=") else {
            continue;
        };
        let ssrc = head
            .split_whitespace()
            .next()
            .expect("line starts with the SSRC")
            .to_string();
        let num = |key: &str| -> Option<u64> {
            rest.split([' ', ';'])
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| v.parse().ok())
        };
        let packets: u64 = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let health = match (num("lost="), num("dup="), num("reordered=")) {
            (Some(l), Some(d), Some(r)) => Some((l, d, r)),
            _ => None,
        };
        truth.insert(ssrc, (packets, health));
    }
    assert!(!truth.is_empty(), "{name}.txt has no ground truth lines");
    truth
}

#[test]
fn generated_captures_match_their_ground_truth() {
    // (file, format, gzip, encapsulations seen)
    let cases: [(&str, &str, bool, &[&str]); 9] = [
        ("sll2-ns.pcap", "pcap", false, &["plain"]),
        ("be-vlan.pcap", "pcap", false, &["plain"]),
        ("multi-section.pcapng", "pcapng", false, &["plain"]),
        ("fragments-v4v6.pcap", "pcap", false, &["plain"]),
        ("rfc4571-tcp.pcap", "pcap", false, &["rfc4571"]),
        (
            "turn-channel.pcap",
            "pcap",
            false,
            &["turn-channel", "turn-indication"],
        ),
        ("demo.rtpdump", "rtpdump", false, &["plain"]),
        ("demo-2peers-opus-vp8.pcap.gz", "pcap", true, &["plain"]),
        ("impaired-vp8-opus.pcapng", "pcapng", false, &["plain"]),
    ];
    for (name, format, gzip, encaps) in cases {
        let (v, _) = rtprec_streams(&testdata(name));
        assert_eq!(
            (
                v["inputs"][0]["format"].as_str(),
                v["inputs"][0]["gzip"].as_bool()
            ),
            (Some(format), Some(gzip)),
            "{name}"
        );
        let truth = generated_truth(name);
        let mut seen_encaps = std::collections::BTreeSet::new();
        for (ssrc, (packets, health)) in &truth {
            let s = stream(&v, ssrc);
            assert_eq!(s["packets"].as_u64(), Some(*packets), "{name} {ssrc}");
            if let Some((lost, dup, reord)) = health {
                let got = (
                    s["lost"].as_u64(),
                    s["duplicates"].as_u64(),
                    s["reordered"].as_u64(),
                );
                assert_eq!(
                    got,
                    (Some(*lost), Some(*dup), Some(*reord)),
                    "{name} {ssrc}"
                );
            }
            assert!(
                s["codec"] == "opus" || s["codec"] == "vp8",
                "{name} {ssrc}: {}",
                s["codec"]
            );
            for e in s["encapsulation"].as_array().unwrap() {
                seen_encaps.insert(e.as_str().unwrap().to_string());
            }
        }
        let want: std::collections::BTreeSet<String> =
            encaps.iter().map(|s| s.to_string()).collect();
        assert_eq!(seen_encaps, want, "{name}");
    }
}

#[test]
fn jitter_equals_tsharks_on_single_codec_streams() {
    // (file, ssrc, tshark 4.0 mean and max jitter in ms from `-z rtp,streams`)
    let cases = [
        ("sippscen_g711a.pcap", "0x0E330AF3", 0.338, 2.675),
        ("sippscen_g722.pcap", "0x2D374E76", 0.310, 0.973),
        ("rtpproxy_alice_srtp.pcap", "0x2A1AD144", 0.080, 0.144),
        ("ndpi_sip.pcap", "0x3796CB71", 5.646, 7.799),
    ];
    for (file, ssrc, mean, max) in cases {
        let Some(path) = shared(file) else { return };
        let (v, _) = rtprec_streams(&path);
        let s = stream(&v, ssrc);
        let (m, x) = (
            s["mean_jitter_ms"].as_f64().unwrap(),
            s["max_jitter_ms"].as_f64().unwrap(),
        );
        assert!(
            (m - mean).abs() <= 0.002 && (x - max).abs() <= 0.002,
            "{file}: {m}/{x} vs tshark {mean}/{max}"
        );
    }
}
