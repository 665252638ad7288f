//! Repair: RFC 4588 retransmissions restore lost packets before depacketization.

use crate::util::*;
use serde_json::json;
use std::path::Path;

/// Records `cap` with the peers' tracks given as metadata (`None`: inferred), expecting exit 0; the manifest.
fn record_manifest(
    tmp: &Path,
    cap: &Path,
    tracks: Option<serde_json::Value>,
    name: &str,
) -> serde_json::Value {
    let mut cmd = rtprec();
    cmd.arg("record")
        .arg(cap)
        .arg("-o")
        .arg(tmp.join(name))
        .args(["--events", "none", "--json"]);
    if let Some(tracks) = tracks {
        let meta = tmp.join(format!("{name}.json"));
        let doc = json!({"room_id": "r", "session_id": "s", "peers": [{"peer_id": "p", "tracks": tracks}]});
        std::fs::write(&meta, serde_json::to_vec(&doc).unwrap()).unwrap();
        cmd.arg("-m").arg(&meta);
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = json(&out);
    crate::util::assert_manifest_matches_disk(&m, &tmp.join(name));
    m
}

/// Writes `packets` (capture time, RTP/RTCP bytes), sorted by time, as one
/// Ethernet/UDP pcap to 10.0.0.9:5000 from the address `src_of` gives each packet.
fn write_capture(
    path: &Path,
    mut packets: Vec<(i64, Vec<u8>)>,
    src_of: impl Fn(&[u8]) -> &'static str,
) {
    use rtprec::testutil::packet::{LinkKind, udp_frame};
    use rtprec::testutil::writers::{PcapOptions, PcapWriter};
    let mut w =
        PcapWriter::new(std::fs::File::create(path).unwrap(), PcapOptions::default()).unwrap();
    packets.sort_by_key(|p| p.0);
    let mut frame = Vec::new();
    for (n, (t, pkt)) in packets.iter().enumerate() {
        frame.clear();
        udp_frame(
            &mut frame,
            LinkKind::Ethernet,
            src_of(pkt).parse().unwrap(),
            "10.0.0.9:5000".parse().unwrap(),
            n as u16,
            pkt,
        );
        w.write_packet(*t, &frame).unwrap();
    }
    w.into_inner().unwrap();
}

/// 100 Opus packets; 5 are lost and retransmitted 60 ms later on the RTX SSRC, one
/// is lost and never retransmitted, and one that did arrive is retransmitted anyway.
fn rtx_capture(path: &Path) {
    use rtprec::testutil::rtp::RtpBuilder;
    let t0 = 1_795_428_000_000_000_000i64;
    let opus = [0xfc, 0xff, 0xfe];
    let lost = [10u16, 11, 40, 70, 71];
    let mut packets: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut rtx_seq = 500u16;
    for i in 0..100u16 {
        let t = t0 + i64::from(i) * 20_000_000;
        let media = RtpBuilder::new(111, 1000 + i, u32::from(i) * 960, 0x1111_1111).build(&opus);
        if i != 90 && !lost.contains(&i) {
            packets.push((t, media));
        }
        if lost.contains(&i) || i == 50 {
            let mut payload = (1000 + i).to_be_bytes().to_vec();
            payload.extend_from_slice(&opus);
            packets.push((
                t + 60_000_000,
                RtpBuilder::new(97, rtx_seq, u32::from(i) * 960, 0x1111_2222).build(&payload),
            ));
            rtx_seq += 1;
        }
    }
    write_capture(path, packets, |_| "10.0.0.1:4000");
}

#[test]
fn rtx_restores_lost_packets_and_drops_retransmitted_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("rtx.pcap");
    rtx_capture(&cap);
    let tracks = json!([{"track_id": "mic", "kind": "audio", "ssrc": "0x11111111", "rtx_ssrc": "0x11112222",
        "codec": "opus", "payload_type": 111, "rtx_payload_type": 97}]);
    let m = record_manifest(tmp.path(), &cap, Some(tracks), "out");
    assert_eq!(
        m["assets"].as_array().unwrap().len(),
        1,
        "the RTX stream is not a track"
    );
    let st = &m["assets"][0]["stats"];
    // 94 originals arrived; 5 of the 6 missing were retransmitted in time; packet 90 stays lost.
    assert_eq!(st["packets"], 94);
    assert_eq!(st["recovered"], 5);
    assert_eq!(st["lost"], 1);
    assert_eq!(st["duplicates"], 1);
    assert_eq!(st["frames_written"], 99);
    assert_eq!(
        st["frames_inserted"], 1,
        "the one unrecovered packet is concealed"
    );
}

/// A peer's camera (VP8) and microphone (Opus). On the sender's clock the audio
/// starts 300 ms after the video; the network delays audio 200 ms more, so in
/// capture time it arrives 500 ms after. Each sends an RTCP sender report.
fn av_capture(path: &Path, with_srs: bool) {
    use rtprec::testutil::rtp::{RtpBuilder, ntp_from_unix_nanos, push_sender_report};
    let t0 = 1_795_428_000_000_000_000i64; // sender clock = capture clock for video
    let (v_ssrc, a_ssrc) = (0x0000_0a01u32, 0x0000_0b01u32);
    let (v_ts0, a_ts0) = (90_000u32 * 7, 48_000u32 * 3);
    let vp8_key = [
        0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 1, 2, 3, 4,
    ];
    let mut packets: Vec<(i64, Vec<u8>)> = Vec::new();
    for i in 0..60u32 {
        let t = t0 + i64::from(i) * 33_333_333;
        let pkt = RtpBuilder::new(96, 100 + i as u16, v_ts0 + i * 3000, v_ssrc)
            .marker(true)
            .build(&vp8_key);
        packets.push((t, pkt));
    }
    for i in 0..100u32 {
        // Sent 300 ms after the video's first frame, captured 200 ms later still.
        let t = t0 + 500_000_000 + i64::from(i) * 20_000_000;
        packets.push((
            t,
            RtpBuilder::new(111, 7 + i as u16, a_ts0 + i * 960, a_ssrc).build(&[0xfc, 0xff, 0xfe]),
        ));
    }
    if with_srs {
        // Each SR maps an RTP timestamp to the sender's NTP time.
        let mut sr = Vec::new();
        push_sender_report(
            &mut sr,
            v_ssrc,
            ntp_from_unix_nanos(t0 + 1_000_000_000),
            v_ts0 + 90_000,
            30,
            0,
            &[],
        );
        packets.push((t0 + 1_000_000_000, sr));
        let mut sr = Vec::new();
        push_sender_report(
            &mut sr,
            a_ssrc,
            ntp_from_unix_nanos(t0 + 1_300_000_000),
            a_ts0 + 48_000,
            50,
            0,
            &[],
        );
        packets.push((t0 + 1_500_000_000, sr));
    }
    write_capture(path, packets, |pkt| {
        if pkt[1] == 200 || pkt.get(8..12) == Some(&a_ssrc.to_be_bytes()[..]) {
            "10.0.0.1:4002"
        } else {
            "10.0.0.1:4000"
        }
    });
}

#[test]
fn sender_reports_place_audio_and_video_on_the_senders_timeline() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = tmp.path().join("m.json");
    std::fs::write(
        &meta,
        serde_json::to_vec(&json!({"room_id": "r", "session_id": "s", "peers": [{"peer_id": "p", "tracks": [
            {"track_id": "cam", "kind": "video", "ssrc": 0x0a01, "codec": "vp8", "payload_type": 96},
            {"track_id": "mic", "kind": "audio", "ssrc": 0x0b01, "codec": "opus", "payload_type": 111}]}]}))
        .unwrap(),
    )
    .unwrap();
    let offsets = |with_srs: bool| {
        let cap = tmp.path().join(format!("av-{with_srs}.pcap"));
        av_capture(&cap, with_srs);
        let out_dir = tmp.path().join(format!("out-{with_srs}"));
        let (_, m) = record_manifest_json(&cap, &out_dir, &["-m".as_ref(), meta.as_os_str()]);
        let get = |id: &str| {
            let a = m["assets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["track_id"] == id)
                .unwrap();
            (
                a["start_offset_ms"].as_i64().unwrap(),
                a["start_offset_source"].as_str().unwrap().to_string(),
            )
        };
        (get("cam"), get("mic"))
    };
    let ((cam, cam_src), (mic, mic_src)) = offsets(true);
    assert_eq!((cam_src.as_str(), mic_src.as_str()), ("rtcp-sr", "rtcp-sr"));
    assert!(
        (mic - cam - 300).abs() <= 10,
        "audio starts {} ms after video on the sender's clock",
        mic - cam
    );
    // Without sender reports only capture time is known: the network's 200 ms shows.
    let ((cam, cam_src), (mic, _)) = offsets(false);
    assert_eq!(cam_src, "capture-time");
    assert_eq!(mic - cam, 500);
}

/// How [`clock_capture`]'s sender behaves.
struct SenderSetup {
    /// How fast the audio RTP clock runs against the sender's NTP clock, ppm.
    audio_ppm: f64,
    /// Sender time (s) at which the audio's RTP timestamps jump to a new base.
    audio_reset_at: Option<f64>,
    /// Sender time (s) of the audio's first sender report.
    audio_srs_from: f64,
}

/// 150 s of a peer's camera (VP8) and microphone (Opus), sender reports every 5 s.
/// On the sender's clock the audio starts 300 ms after the video; the network
/// delays audio 200 ms more (capture time = sender time + 0 / 200 ms).
fn clock_capture(path: &Path, setup: &SenderSetup) {
    use rtprec::testutil::rtp::{RtpBuilder, ntp_from_unix_nanos, push_sender_report};
    let t0 = 1_795_428_000_000_000_000i64;
    let nanos = |secs: f64| t0 + (secs * 1e9).round() as i64;
    let (v_ssrc, a_ssrc) = (0x0000_0a01u32, 0x0000_0b01u32);
    let (v_ts0, a_ts0) = (90_000u32 * 7, 48_000u32 * 3);
    let (a_start, a_delay, end) = (0.3, 0.2, 150.0);
    // The audio device's clock runs fast: 960 samples take less than 20 ms of NTP time.
    let a_rate = 48_000.0 * (1.0 + setup.audio_ppm * 1e-6);
    // Audio RTP timestamp at sender time `t` (the reset adds a new random-looking base).
    let a_ts = |t: f64| {
        let ts = a_ts0.wrapping_add(((t - a_start) * a_rate).round() as i64 as u32);
        match setup.audio_reset_at {
            Some(r) if t >= r => ts.wrapping_add(0x7654_3210),
            _ => ts,
        }
    };
    let vp8_key = [
        0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 1, 2, 3, 4,
    ];
    let mut packets: Vec<(i64, Vec<u8>)> = Vec::new();
    for i in 0..(end * 30.0) as u32 {
        let pkt = RtpBuilder::new(96, 100 + i as u16, v_ts0 + i * 3000, v_ssrc)
            .marker(true)
            .build(&vp8_key);
        packets.push((nanos(f64::from(i) / 30.0), pkt));
    }
    for i in 0..((end - a_start) * 50.0) as u32 {
        let t = a_start + f64::from(i) * 960.0 / a_rate;
        let ts = a_ts(t);
        packets.push((
            nanos(t + a_delay),
            RtpBuilder::new(111, 7 + i as u16, ts, a_ssrc).build(&[0xfc, 0xff, 0xfe]),
        ));
    }
    for k in 0..30 {
        let t = 1.0 + 5.0 * f64::from(k);
        let mut sr = Vec::new();
        push_sender_report(
            &mut sr,
            v_ssrc,
            ntp_from_unix_nanos(nanos(t)),
            v_ts0 + (t * 90_000.0).round() as u32,
            0,
            0,
            &[],
        );
        packets.push((nanos(t), sr));
        if t >= setup.audio_srs_from {
            let mut sr = Vec::new();
            push_sender_report(
                &mut sr,
                a_ssrc,
                ntp_from_unix_nanos(nanos(t)),
                a_ts(t),
                0,
                0,
                &[],
            );
            packets.push((nanos(t + a_delay), sr));
        }
    }
    write_capture(path, packets, |pkt| {
        if pkt.get(4..8) == Some(&a_ssrc.to_be_bytes()[..])
            || pkt.get(8..12) == Some(&a_ssrc.to_be_bytes()[..])
        {
            "10.0.0.1:4002"
        } else {
            "10.0.0.1:4000"
        }
    });
}

/// Records [`clock_capture`] with metadata; the camera's and the microphone's assets.
fn record_clock_capture(
    tmp: &Path,
    name: &str,
    setup: &SenderSetup,
) -> (serde_json::Value, serde_json::Value) {
    let cap = tmp.join(format!("{name}.pcap"));
    clock_capture(&cap, setup);
    let tracks = json!([
        {"track_id": "cam", "kind": "video", "ssrc": 0x0a01, "codec": "vp8", "payload_type": 96},
        {"track_id": "mic", "kind": "audio", "ssrc": 0x0b01, "codec": "opus", "payload_type": 111}]);
    let m = record_manifest(tmp, &cap, Some(tracks), name);
    let get = |id: &str| {
        m["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["track_id"] == id)
            .unwrap()
            .clone()
    };
    (get("cam"), get("mic"))
}

/// Audio 300 ms after video on the sender's clock, from the manifest's offsets.
fn assert_sender_aligned(cam: &serde_json::Value, mic: &serde_json::Value) {
    assert_eq!(cam["start_offset_source"], "rtcp-sr", "{cam:#}");
    assert_eq!(mic["start_offset_source"], "rtcp-sr", "{mic:#}");
    let gap = mic["start_offset_ms"].as_i64().unwrap() - cam["start_offset_ms"].as_i64().unwrap();
    assert!(
        (gap - 300).abs() <= 10,
        "audio starts {gap} ms after video on the sender's clock"
    );
}

#[test]
fn sender_reports_measure_a_drifting_audio_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let setup = SenderSetup {
        audio_ppm: 500.0,
        audio_reset_at: None,
        audio_srs_from: 0.0,
    };
    let (cam, mic) = record_clock_capture(tmp.path(), "drift", &setup);
    assert_sender_aligned(&cam, &mic);
    let (c, m) = (&cam["sender_clock"], &mic["sender_clock"]);
    assert_eq!(c["sender_reports"], 30);
    assert_eq!(m["sender_reports"], 30);
    assert_eq!(m["rtp_timestamp_resets"], 0);
    assert_eq!(m["first_rtp_timestamp"], 48_000 * 3);
    assert_eq!(c["first_rtp_timestamp"], 90_000 * 7);
    let drift = m["drift_ppm"].as_f64().unwrap();
    assert!((drift - 500.0).abs() < 5.0, "{m:#}");
    assert!(c["drift_ppm"].as_f64().unwrap().abs() < 5.0, "{c:#}");
    let rate = m["measured_clock_rate"].as_f64().unwrap();
    assert!((rate - 48_024.0).abs() < 0.25, "{m:#}");
    // The sender's NTP clock at the first timestamps: 0 and 300 ms after t0.
    assert_eq!(c["ntp_at_first_rtp"], "2026-11-23T10:00:00.000000Z");
    let ntp = m["ntp_at_first_rtp"].as_str().unwrap();
    let micros: i64 = ntp
        .strip_prefix("2026-11-23T10:00:00.")
        .and_then(|f| f.strip_suffix('Z'))
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("{ntp}"));
    assert!((micros - 300_000).abs() < 1000, "{ntp}");
}

#[test]
fn sender_reports_across_an_rtp_timestamp_reset() {
    let tmp = tempfile::tempdir().unwrap();
    // The microphone's RTP timestamps jump to a new base 60 s in; SRs before and after.
    let setup = SenderSetup {
        audio_ppm: 0.0,
        audio_reset_at: Some(60.5),
        audio_srs_from: 0.0,
    };
    let (cam, mic) = record_clock_capture(tmp.path(), "reset", &setup);
    assert_sender_aligned(&cam, &mic);
    assert_eq!(mic["sender_clock"]["rtp_timestamp_resets"], 1, "{mic:#}");
    assert_eq!(mic["sender_clock"]["sender_reports"], 30);
    assert_eq!(cam["sender_clock"]["rtp_timestamp_resets"], 0);
    let drift = mic["sender_clock"]["drift_ppm"].as_f64().unwrap();
    assert!(drift.abs() < 5.0, "{mic:#}");
    // With SRs only after the reset, the first audio packet is on no SR timeline:
    // capture time places the peer's tracks rather than a wrong mapping.
    let setup = SenderSetup {
        audio_srs_from: 61.0,
        ..setup
    };
    let (cam, mic) = record_clock_capture(tmp.path(), "reset-late", &setup);
    assert_eq!(cam["start_offset_source"], "capture-time");
    assert_eq!(mic["start_offset_source"], "capture-time");
    assert!(mic.get("sender_clock").is_none(), "{mic:#}");
    assert_eq!(cam["sender_clock"]["sender_reports"], 30);
}

#[test]
fn without_metadata_an_rtx_stream_is_recognised_and_repairs_its_media() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("rtx.pcap");
    rtx_capture(&cap);
    let m = record_manifest(tmp.path(), &cap, None, "out");
    let assets = m["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 1, "the RTX stream is not a track: {m:#}");
    assert_eq!(assets[0]["ssrc"], "0x11111111");
    assert_eq!(assets[0]["stats"]["recovered"], 5);
    assert_eq!(assets[0]["stats"]["lost"], 1);
}

/// Opus in RED (RFC 2198, PT 63): every packet carries the previous one as a
/// redundant block; 6 single packets are lost, one pair of consecutive ones too.
fn red_capture(path: &Path) {
    use rtprec::testutil::rtp::RtpBuilder;
    let t0 = 1_795_428_000_000_000_000i64;
    let opus = |i: u16| [0xfc, (i >> 8) as u8, i as u8];
    let lost = [5u16, 17, 33, 48, 60, 77, 90, 91];
    let mut packets = Vec::new();
    for i in 0..100u16 {
        if lost.contains(&i) {
            continue;
        }
        let mut red = Vec::new();
        if i > 0 {
            // F=1, PT 111, timestamp offset 960, length 3; then the primary's 1-byte header.
            red.extend_from_slice(&[
                0x80 | 111,
                (960u16 >> 6) as u8,
                ((960u16 & 0x3f) << 2) as u8,
                3,
            ]);
        }
        red.push(111);
        if i > 0 {
            red.extend_from_slice(&opus(i - 1));
        }
        red.extend_from_slice(&opus(i));
        let pkt = RtpBuilder::new(63, 2000 + i, u32::from(i) * 960, 0x3333_3333).build(&red);
        packets.push((t0 + i64::from(i) * 20_000_000, pkt));
    }
    write_capture(path, packets, |_| "10.0.0.1:4000");
}

#[test]
fn red_restores_lost_primaries_from_redundant_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("red.pcap");
    red_capture(&cap);
    let tracks = json!([{"track_id": "mic", "kind": "audio", "ssrc": "0x33333333", "codec": "opus",
        "payload_type": 111, "red_payload_type": 63}]);
    let m = record_manifest(tmp.path(), &cap, Some(tracks), "out");
    let st = &m["assets"][0]["stats"];
    // 92 packets arrived; 7 of the 8 lost are in the next packet's redundancy (90's next, 91, is lost too).
    assert_eq!(st["packets"], 92);
    assert_eq!(st["recovered"], 7);
    assert_eq!(st["lost"], 1);
    assert_eq!(
        st["duplicates"], 0,
        "redundancy of packets that arrived is not duplication"
    );
    assert_eq!(st["frames_written"], 99);
    assert_eq!(
        m["assets"][0]["duration_ms"].as_u64().map(|d| d / 100),
        Some(19),
        "2 s of audio, nothing shifted"
    );
}
