//! Codec inference without metadata (issue #11 point 6): short real Opus streams,
//! and padding-only packets (bandwidth probes) that take no part in guessing and
//! never make a track of their own.

use crate::util::*;
use std::path::Path;

/// 2026-11-23T10:00:00Z in nanoseconds since the Unix epoch.
const T0: i64 = 1_795_428_000_000_000_000;

/// The manifest's assets as (track_id, status, codec) triples.
fn assets(m: &serde_json::Value) -> Vec<(String, String, String)> {
    m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("track_id"), s("status"), s("codec"))
        })
        .collect()
}

/// Records `cap` without metadata, expecting exit 0; the manifest.
fn record_ok(cap: &Path) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, m) = record_manifest_json(cap, dir.path(), &[]);
    m
}

/// 0.6 s of real Opus (ffmpeg's libopus, hybrid then SILK: no configuration in
/// the majority) is identified from its 31 packets.
#[test]
fn a_short_real_opus_stream_is_opus() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("short.pcap");
    let full = std::fs::read(testdata("media-opus-vp8.pcap")).expect("testdata");
    // The first 60 records (about 0.6 s): the README of the reproduction.
    std::fs::write(&cap, &full[..27484]).expect("write");
    let got = assets(&record_ok(&cap));
    assert_eq!(
        got,
        [
            (
                "audio-b2c7016a".to_string(),
                "completed".to_string(),
                "opus".to_string()
            ),
            (
                "video-b7426d2c".to_string(),
                "completed".to_string(),
                "vp8".to_string()
            ),
        ]
    );
}

/// Writes a capture of synthetic H.264 (one peer, 2 s) with bandwidth probes: padding-only
/// packets (RFC 3550 §5.1) on the media SSRC, in its sequence space and on its last
/// timestamp, and, when `ssrc0`, probes on SSRC 0 in the same 5-tuple.
fn probed_capture(path: &Path, ssrc0: bool) -> (usize, usize) {
    use rtprec::testutil::media::{MediaKind, Packetizer, StreamSpec};
    use rtprec::testutil::packet::{LinkKind, udp_frame};
    use rtprec::testutil::rtp::RtpBuilder;
    use rtprec::testutil::writers::{PcapOptions, PcapWriter};
    let file = std::fs::File::create(path).expect("create");
    let mut w = PcapWriter::new(file, PcapOptions::default()).expect("pcap");
    let src = "10.0.0.10:50000".parse().expect("addr");
    let dst = "10.0.0.1:40000".parse().expect("addr");
    let mut frame = Vec::new();
    let mut put = |t: i64, pkt: &[u8]| {
        frame.clear();
        udp_frame(&mut frame, LinkKind::Ethernet, src, dst, 0, pkt).expect("same IP version");
        w.write_packet(t, &frame).expect("write");
    };
    let mut spec = StreamSpec::new(MediaKind::H264, 0x4242_4242);
    spec.bitrate_bps = 300_000;
    let pt = spec.pt;
    let mut packetizer = Packetizer::new(spec, 21);
    let (mut pool, mut out) = (Vec::new(), Vec::new());
    let (mut seq, mut probes, mut probe0_seq) = (0u16, 0usize, 0u16);
    for f in 0..60u64 {
        out.clear();
        packetizer.next_frame(&mut pool, &mut out);
        let t = T0 + f as i64 * 33_333_333;
        let ts = packetizer.rtp_ts(f);
        for (k, p) in out.iter().enumerate() {
            let mut bytes = p.bytes.clone();
            // Renumbered: the probes share the media's sequence space.
            bytes[2..4].copy_from_slice(&seq.to_be_bytes());
            seq = seq.wrapping_add(1);
            put(t + k as i64 * 100_000, &bytes);
        }
        // Every other frame: a burst of 3 probes of 200 bytes of padding after it.
        if f % 2 == 1 {
            for j in 0..3 {
                let probe = RtpBuilder::new(pt, seq, ts, 0x4242_4242)
                    .padding(200)
                    .build(&[]);
                seq = seq.wrapping_add(1);
                probes += 1;
                put(t + 5_000_000 + j * 1_000_000, &probe);
            }
        }
        if ssrc0 && f % 3 == 0 {
            for j in 0..4 {
                let probe = RtpBuilder::new(127, probe0_seq, 0, 0)
                    .padding(255)
                    .build(&[]);
                probe0_seq = probe0_seq.wrapping_add(1);
                put(t + 10_000_000 + j * 500_000, &probe);
            }
        }
    }
    w.into_inner().expect("flush");
    (probes, usize::from(probe0_seq))
}

/// Padding-only probes interleaved with H.264 on its SSRC do not hide the codec, and
/// probes on SSRC 0 make no track; `streams` still lists them, with no codec.
#[test]
fn padding_only_probes_take_no_part() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("probes.pcap");
    let (probes, probes0) = probed_capture(&cap, true);
    assert_eq!((probes, probes0), (90, 80));
    let m = record_ok(&cap);
    assert_eq!(
        assets(&m),
        [(
            "video-42424242".to_string(),
            "completed".to_string(),
            "h264".to_string()
        )],
        "{m:#}"
    );
    // The probes on the media SSRC are in its sequence space: no loss.
    assert_eq!(m["assets"][0]["stats"]["lost"], 0, "{m:#}");

    let out = run(&["streams", cap.to_str().expect("utf-8"), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    let streams = report["streams"].as_array().expect("streams");
    let by_ssrc = |ssrc: &str| {
        streams
            .iter()
            .find(|s| s["ssrc"] == ssrc)
            .unwrap_or_else(|| panic!("no stream {ssrc}: {report:#}"))
    };
    let media = by_ssrc("0x42424242");
    assert_eq!(media["codec"], "h264", "{media:#}");
    assert_eq!(media["padding_only"], 90, "{media:#}");
    let zero = by_ssrc("0x00000000");
    assert_eq!(zero["codec"], serde_json::Value::Null, "{zero:#}");
    assert_eq!(zero["padding_only"], 80, "{zero:#}");
    let why = zero["codec_evidence"].as_str().expect("evidence");
    assert!(why.contains("padding only"), "{why}");
}

/// Writes one peer's RTP of `media` (an encoded stream) to a pcap at its own times.
fn encoded_capture(path: &Path, media: rtprec::testutil::encoded::EncodedStream, ssrc: u32) {
    use rtprec::testutil::media::{Packetizer, StreamSpec};
    use rtprec::testutil::packet::{LinkKind, udp_frame};
    use rtprec::testutil::writers::{PcapOptions, PcapWriter};
    let spec = StreamSpec::from_encoded(std::sync::Arc::new(media), ssrc);
    let file = std::fs::File::create(path).expect("create");
    let mut w = PcapWriter::new(file, PcapOptions::default()).expect("pcap");
    let mut packetizer = Packetizer::new(spec, 5);
    let (mut pool, mut out, mut frame) = (Vec::new(), Vec::new(), Vec::new());
    while !packetizer.finished() {
        out.clear();
        let t = T0 + packetizer.spec().frame_time_ns(packetizer.frames());
        packetizer.next_frame(&mut pool, &mut out);
        for p in &out {
            frame.clear();
            let (src, dst) = ("10.0.0.10:50000", "10.0.0.1:40000");
            udp_frame(
                &mut frame,
                LinkKind::Ethernet,
                src.parse().expect("addr"),
                dst.parse().expect("addr"),
                0,
                &p.bytes,
            )
            .expect("same IP version");
            w.write_packet(t + p.offset_ns, &frame).expect("write");
        }
    }
    w.into_inner().expect("flush");
}

/// ffmpeg's libopus at 20 kbit/s on a tone that stops for noise every second switches
/// between CELT FB (config 31) and hybrid FB (config 15) every few packets: no
/// configuration covers 80 % of the packets, and it is still Opus.
#[test]
fn libopus_switching_modes_is_opus() {
    if !have_tool("ffmpeg") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let ogg = tmp.path().join("switch.ogg");
    let signal = "aevalsrc='0.5*sin(2*PI*(200+300*mod(t,2))*t)*lt(mod(t,1),0.6)\
                  +0.2*(random(0)-0.5)*gte(mod(t,1),0.6)':s=48000:d=4";
    let o = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", signal])
        .args(["-c:a", "libopus", "-application", "audio", "-b:a", "20k"])
        .arg(&ogg)
        .output()
        .expect("ffmpeg runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let media =
        rtprec::testutil::encoded::EncodedStream::read_ogg_opus_file(&ogg).expect("Ogg Opus");
    let mut configs = std::collections::BTreeMap::<u8, usize>::new();
    for f in &media.frames {
        *configs
            .entry(f.data.first().map_or(0, |b| b >> 3))
            .or_default() += 1;
    }
    let top = configs.values().max().copied().unwrap_or(0);
    // What this test is about (should a libopus version stop switching, it says so).
    assert!(
        configs.len() >= 2 && top * 10 < media.frames.len() * 8,
        "libopus did not switch configurations: {configs:?}"
    );
    let cap = tmp.path().join("switch.pcap");
    encoded_capture(&cap, media, 0x0b05_0b05);
    let got = assets(&record_ok(&cap));
    assert_eq!(
        got,
        [(
            "audio-0b050b05".to_string(),
            "completed".to_string(),
            "opus".to_string()
        )]
    );
}

/// The RTP packets (capture time, bytes) of a pcap of Ethernet/IPv4/UDP frames.
fn rtp_of_pcap(path: &Path) -> Vec<(i64, Vec<u8>)> {
    use pcap_parser::{PcapBlockOwned, PcapError, create_reader};
    let bytes = std::fs::read(path).expect("read");
    let mut r = create_reader(1 << 16, bytes.as_slice()).expect("pcap");
    let mut out = Vec::new();
    loop {
        match r.next() {
            Ok((off, block)) => {
                if let PcapBlockOwned::Legacy(b) = block {
                    let ihl = usize::from(b.data[14] & 0x0f) * 4;
                    let udp = &b.data[14 + ihl + 8..];
                    let t = i64::from(b.ts_sec) * 1_000_000_000 + i64::from(b.ts_usec) * 1000;
                    out.push((t, udp.to_vec()));
                }
                r.consume(off);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => r.refill().expect("refill"),
            Err(e) => panic!("{e:?}"),
        }
    }
    out
}

/// A call as Firefox sends it (issue #11 point 13), made of the real Opus and VP8
/// of `media-opus-vp8.pcap`: peer A sends a microphone (Opus, PT 109), a camera
/// and a "screen" (VP8, PT 120, inside RED, PT 122: RFC 2198 primary-only blocks);
/// peer B a microphone. Each video has an RTX stream (PT 119, RFC 4588) with
/// padding-only probes (PT 124, as Firefox sends them). The camera's RTX stream
/// retransmits the 3 camera packets that were lost, and first repeats its second
/// packet 100 times (libwebrtc's payload padding), so that it fills up before its
/// media is decided; the screen's RTX stream carries probes only.
fn firefox_like_call(path: &Path) {
    use rtprec::testutil::rtp::RtpBuilder;
    let source = rtp_of_pcap(&testdata("media-opus-vp8.pcap"));
    let rtp: Vec<(i64, rtprec::rtp::RtpPacket<'_>)> = source
        .iter()
        .filter_map(|(t, b)| Some((*t, rtprec::rtp::RtpPacket::parse(b).ok()?)))
        .filter(|(_, p)| matches!(p.payload_type(), 96 | 111))
        .collect();
    let (a, b) = ("10.0.0.1:4000", "10.0.0.9:5000");
    let mut out: Vec<(i64, &str, Vec<u8>)> = Vec::new();
    let lost = [40usize, 41, 75];
    let mut rtx_seq = 7000u16;
    let mut rtx = |ssrc: u32, pt: u8, ts: u32, payload: &[u8], pad: u8| {
        rtx_seq = rtx_seq.wrapping_add(1);
        RtpBuilder::new(pt, rtx_seq, ts, ssrc)
            .marker(!payload.is_empty())
            .padding(pad)
            .build(payload)
    };
    let (mut opus_n, mut vp8_n) = (0u16, 0usize);
    let mut camera: Vec<(u16, u32, Vec<u8>)> = Vec::new();
    for (t, p) in &rtp {
        let (seq, ts, m) = (p.sequence_number(), p.timestamp(), p.marker());
        if p.payload_type() == 111 {
            let opus = p.payload();
            let pkt = |ssrc, seq: u16| RtpBuilder::new(109, seq, ts, ssrc).marker(m).build(opus);
            out.push((*t, a, pkt(0xA000_0001, seq)));
            out.push((*t + 3_000_000, b, pkt(0xB000_0001, seq.wrapping_add(9000))));
            opus_n += 1;
            continue;
        }
        let red = [&[120u8][..], p.payload()].concat();
        let cam_seq = seq.wrapping_add(20_000);
        let cam = RtpBuilder::new(122, cam_seq, ts, 0xA000_0002)
            .marker(m)
            .build(&red);
        camera.push((cam_seq, ts, red.clone()));
        if lost.contains(&vp8_n) {
            // Retransmitted 25 ms later: OSN, then the original (RED) payload.
            let payload = [&cam_seq.to_be_bytes()[..], &red].concat();
            out.push((*t + 25_000_000, a, rtx(0xA000_0012, 119, ts, &payload, 0)));
        } else {
            out.push((*t, a, cam));
        }
        let screen = RtpBuilder::new(122, seq.wrapping_add(40_000), ts, 0xA000_0003)
            .marker(m)
            .build(&red);
        out.push((*t + 1_000_000, a, screen));
        if vp8_n == 1 {
            // Payload padding: the camera's second packet again and again.
            let payload = [&cam_seq.to_be_bytes()[..], &red].concat();
            for k in 0..100 {
                out.push((
                    *t + 1_000_000 + k * 3_000_000,
                    a,
                    rtx(0xA000_0012, 119, ts, &payload, 0),
                ));
            }
        }
        if vp8_n % 10 == 5 {
            // Padding-only probes (RFC 3550 §5.1), timestamp 0 as Firefox sends them.
            for ssrc in [0xA000_0012, 0xA000_0013] {
                out.push((*t + 2_000_000, a, rtx(ssrc, 124, 0, &[], 224)));
            }
        }
        vp8_n += 1;
    }
    assert!(
        opus_n > 150 && vp8_n > 100,
        "{opus_n} Opus, {vp8_n} VP8 packets"
    );
    out.sort_by_key(|p| p.0);
    let file = std::fs::File::create(path).expect("create");
    let mut w = rtprec::testutil::writers::PcapWriter::new(file, Default::default()).expect("pcap");
    let mut frame = Vec::new();
    for (n, (t, src, pkt)) in out.iter().enumerate() {
        let dst = if *src == a { b } else { a };
        frame.clear();
        rtprec::testutil::packet::udp_frame(
            &mut frame,
            rtprec::testutil::packet::LinkKind::Ethernet,
            src.parse().expect("addr"),
            dst.parse().expect("addr"),
            n as u16,
            pkt,
        )
        .expect("same IP version");
        w.write_packet(*t, &frame).expect("write");
    }
    w.into_inner().expect("flush");
}

/// Without signalling, a Firefox-like call gives one file per media track: VP8 in
/// RED is VP8 (not VP9), the RTX streams repair their media (the one that fills up
/// first, before its media is decided, too) and the probes-only one is nothing.
#[test]
fn a_firefox_like_call_without_signalling_gives_its_media_tracks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = tmp.path().join("firefox.pcap");
    firefox_like_call(&cap);
    let out_dir = tmp.path().join("out");
    let (_, m) = record_manifest_json(&cap, &out_dir, &[]);
    let mut got: Vec<(String, String, String)> = m["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("ssrc"), s("status"), s("codec"))
        })
        .collect();
    got.sort();
    let want = [
        ("0xA0000001", "opus"),
        ("0xA0000002", "vp8"),
        ("0xA0000003", "vp8"),
        ("0xB0000001", "opus"),
    ]
    .map(|(s, c)| (s.to_string(), "completed".to_string(), c.to_string()));
    assert_eq!(got, want, "{m:#}");
    let by_ssrc = |s: &str| {
        m["assets"]
            .as_array()
            .expect("assets")
            .iter()
            .find(|a| a["ssrc"] == s)
            .expect("asset")
            .clone()
    };
    let camera = by_ssrc("0xA0000002");
    let st = &camera["stats"];
    // 3 retransmissions of lost packets and 100 repeats of one that arrived.
    assert_eq!(st["rtx_packets"], 103, "{camera:#}");
    assert_eq!(st["recovered_rtx"], 3, "{camera:#}");
    assert_eq!(st["lost"], 0, "{camera:#}");
    assert_eq!(by_ssrc("0xA0000003")["stats"]["rtx_packets"], 0);
    if have_tool("ffmpeg") {
        for a in m["assets"].as_array().expect("assets") {
            assert_decodes_cleanly(&out_dir.join(a["path"].as_str().expect("path")));
        }
    }
}
