//! Writes a capture of one peer sending real encoded media, and prints its ground truth as JSON.
//!
//! ```text
//! cargo run --release --example mkmedia -- --out testdata/media-opus-vp8.pcap \
//!     --opus sine.ogg --vp8 testsrc.ivf [--vp9 F.ivf] [--av1 F.ivf] \
//!     [--pcmu F.ul] [--pcma F.al] [--g722 F.g722] [--l16 F.s16be] [--ptime 20] \
//!     [--h264 F.h264]... [--h265 F.hevc] [--fps 30] \
//!     [--loss 0.02 --dup 0.01 --reorder 0.02 --seed 1]
//! ```
//!
//! Frames come from Ogg Opus and IVF files, or raw telephony audio cut into
//! `--ptime` packets (L16 mono 44.1 kHz, PT 11: at most 10 ms, 882 octets, so
//! a packet fits an Ethernet MTU), all made by ffmpeg (see
//! `testdata/make-media.sh`); each file becomes one SSRC of the same peer
//! (10.0.0.10:50000 -> 10.0.0.1:40000, Ethernet, µs pcap), sent at its own
//! timestamps (Opus every packet duration, video at the IVF pts) with RTCP
//! SR+SDES every second and a BYE at the end. Impairments and pacing are the
//! scenario generator's (`rtprec::testutil::scenario`). Before writing, every
//! stream is packetized and depacketized with rtprec's own depacketizers and
//! must come back byte for byte (AV1: OBUs compared with size fields).
//!
//! The same inputs and options give the same bytes; the inputs themselves are
//! not reproducible across ffmpeg versions, which is why the captures are committed.

use clap::Parser;
use rtprec::codec::Codec;
use rtprec::depack::Depacketizer;
use rtprec::media::RtpIn;
use rtprec::testutil::encoded::{
    EncodedCodec, EncodedStream, OBU_TEMPORAL_DELIMITER, push_leb128, split_obus,
};
use rtprec::testutil::media::StreamSpec;
use rtprec::testutil::packetize::FramePacketizer;
use rtprec::testutil::rng::Rng;
use rtprec::testutil::scenario::{Impairment, Scenario, ScenarioConfig};
use rtprec::testutil::writers::{PcapOptions, PcapWriter};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Writes a capture of real encoded media and prints its ground truth as JSON.
#[derive(Parser, Debug)]
struct Args {
    /// Output pcap file.
    #[arg(long)]
    out: PathBuf,
    /// Ogg Opus file (the microphone).
    #[arg(long)]
    opus: Option<PathBuf>,
    /// VP8 IVF file.
    #[arg(long)]
    vp8: Option<PathBuf>,
    /// VP9 IVF file.
    #[arg(long)]
    vp9: Option<PathBuf>,
    /// AV1 IVF file.
    #[arg(long)]
    av1: Option<PathBuf>,
    /// H.264 Annex B file (ffmpeg `-f h264`, no B-frames), at --fps; repeat for more streams.
    #[arg(long)]
    h264: Vec<PathBuf>,
    /// H.265 Annex B file (ffmpeg `-f hevc`, no B-frames), at --fps.
    #[arg(long)]
    h265: Option<PathBuf>,
    /// Frame rate of the Annex B files (they carry no timestamps).
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Raw G.711 mu-law file (`ffmpeg -f mulaw`), sent as PT 0.
    #[arg(long)]
    pcmu: Option<PathBuf>,
    /// Raw G.711 A-law file (`ffmpeg -f alaw`), sent as PT 8.
    #[arg(long)]
    pcma: Option<PathBuf>,
    /// Raw G.722 file (`ffmpeg -f g722`), sent as PT 9.
    #[arg(long)]
    g722: Option<PathBuf>,
    /// Raw mono 44.1 kHz big-endian 16-bit PCM (`ffmpeg -f s16be`), sent as L16 PT 11.
    #[arg(long)]
    l16: Option<PathBuf>,
    /// Milliseconds of audio per packet for the raw audio inputs (L16: at most 10).
    #[arg(long, default_value_t = 20)]
    ptime: u32,
    /// Loss probability per RTP packet (0.02 = 2 %).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Duplication probability per RTP packet.
    #[arg(long, default_value_t = 0.0)]
    dup: f64,
    /// Reordering probability per RTP packet (swap with one up to 3 later).
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Largest RTP payload in bytes (video frames are split to fit).
    #[arg(long, default_value_t = 1200)]
    max_payload: usize,
}

fn codec(c: EncodedCodec) -> Codec {
    match c {
        EncodedCodec::Opus => Codec::Opus,
        EncodedCodec::Vp8 => Codec::Vp8,
        EncodedCodec::Vp9 => Codec::Vp9,
        EncodedCodec::Av1 => Codec::Av1,
        EncodedCodec::H264 => Codec::H264,
        EncodedCodec::H265 => Codec::H265,
        EncodedCodec::Pcmu => Codec::Pcmu,
        EncodedCodec::Pcma => Codec::Pcma,
        EncodedCodec::G722 => Codec::G722,
        EncodedCodec::L16 => Codec::L16,
    }
}

/// A temporal unit as rtprec's AV1 depacketizer emits it: no temporal delimiters, size fields.
fn normalise_av1(tu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tu.len());
    for o in split_obus(tu).unwrap_or_default() {
        if o.obu_type != OBU_TEMPORAL_DELIMITER {
            out.push(o.header | 0x02);
            out.extend(o.extension);
            push_leb128(&mut out, o.payload.len() as u64);
            out.extend_from_slice(o.payload);
        }
    }
    out
}

/// Packetizes every frame and depacketizes it again with rtprec: the frames must come back.
fn self_check(name: &Path, s: &EncodedStream, max_payload: usize) -> Result<(), String> {
    let mut p = FramePacketizer::new(s.codec, max_payload, 0, s.dimensions);
    let mut d = Depacketizer::new(codec(s.codec)).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut payloads = Vec::new();
    let mut seq = 0;
    for f in &s.frames {
        payloads.clear();
        p.packetize(f, &mut payloads);
        for pl in &payloads {
            seq += 1;
            d.push(RtpIn {
                seq,
                ts: u64::from(f.offset),
                marker: pl.marker,
                payload: &pl.data,
            })
            .map_err(|e| e.to_string())?;
            got.extend(std::iter::from_fn(|| d.pull()));
        }
    }
    d.flush();
    got.extend(std::iter::from_fn(|| d.pull()));
    let n = name.display();
    if got.len() != s.frames.len() {
        return Err(format!(
            "{n}: {} frames in, {} out of rtprec's depacketizer",
            s.frames.len(),
            got.len()
        ));
    }
    for (i, (g, f)) in got.iter().zip(&s.frames).enumerate() {
        let want = match s.codec {
            EncodedCodec::Av1 => normalise_av1(&f.data),
            _ => f.data.clone(),
        };
        if g.data != want || g.keyframe != f.keyframe {
            return Err(format!("{n}: frame {i} differs after depacketizing"));
        }
    }
    Ok(())
}

fn run(args: &Args) -> Result<serde_json::Value, String> {
    let mut inputs: Vec<(&Path, EncodedStream)> = Vec::new();
    if let Some(p) = &args.opus {
        let s =
            EncodedStream::read_ogg_opus_file(p).map_err(|e| format!("{}: {e}", p.display()))?;
        inputs.push((p, s));
    }
    for (p, want) in [
        (&args.vp8, EncodedCodec::Vp8),
        (&args.vp9, EncodedCodec::Vp9),
        (&args.av1, EncodedCodec::Av1),
    ] {
        let Some(p) = p else { continue };
        let s = EncodedStream::read_ivf_file(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if s.codec != want {
            return Err(format!("{}: IVF holds {:?}", p.display(), s.codec));
        }
        inputs.push((p, s));
    }
    let annexb = args.h264.iter().map(|p| (p, EncodedCodec::H264));
    for (p, codec) in annexb.chain(args.h265.iter().map(|p| (p, EncodedCodec::H265))) {
        let s = EncodedStream::read_annexb_file(p, codec, args.fps)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        inputs.push((p, s));
    }
    for (p, c) in [
        (&args.pcmu, EncodedCodec::Pcmu),
        (&args.pcma, EncodedCodec::Pcma),
        (&args.g722, EncodedCodec::G722),
        (&args.l16, EncodedCodec::L16),
    ] {
        let Some(p) = p else { continue };
        let ms = if c == EncodedCodec::L16 {
            args.ptime.min(10)
        } else {
            args.ptime
        };
        let ticks = c.clock_rate() * ms.max(1) / 1000;
        let s = EncodedStream::read_raw_audio_file(p, c, ticks)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        inputs.push((p, s));
    }
    if inputs.is_empty() {
        return Err(
            "nothing to send: give --opus, --vp8, --vp9, --av1, --h264, --h265, --pcmu, --pcma, --g722 or --l16"
                .into(),
        );
    }
    for (p, s) in &inputs {
        self_check(p, s, args.max_payload)?;
    }
    let mut cfg = ScenarioConfig::conference(1, 0.0, args.seed);
    cfg.impairment = Impairment {
        loss: args.loss,
        duplicate: args.dup,
        reorder: args.reorder,
        reorder_depth: 3,
    };
    let mut rng = Rng::new(args.seed ^ 0x3ed1a);
    cfg.peers[0].streams = inputs
        .iter()
        .map(|(_, s)| {
            let mut spec = StreamSpec::from_encoded(Arc::new(s.clone()), rng.next_u32());
            spec.first_seq = rng.next_u32() as u16;
            spec.first_ts = rng.next_u32();
            spec.max_payload = args.max_payload;
            spec.cname = "peer0".into();
            spec
        })
        .collect();
    let file = File::create(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let io = |e: io::Error| format!("{}: {e}", args.out.display());
    let mut w = PcapWriter::new(BufWriter::new(file), PcapOptions::default()).map_err(io)?;
    let mut scenario = Scenario::new(cfg);
    let mut frame = Vec::with_capacity(2048);
    let mut records = 0u64;
    loop {
        frame.clear();
        let Some(t) = scenario.next_frame(&mut frame) else {
            break;
        };
        w.write_packet(t, &frame).map_err(io)?;
        records += 1;
    }
    w.into_inner().map_err(io)?.flush().map_err(io)?;
    let mut v = serde_json::to_value(scenario.truth()).map_err(|e| e.to_string())?;
    for (s, (p, _)) in v["streams"]
        .as_array_mut()
        .expect("streams is an array")
        .iter_mut()
        .zip(&inputs)
    {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        s["source"] = name.unwrap_or_default().into();
    }
    v["file"] = args.out.display().to_string().into();
    v["records"] = records.into();
    Ok(v)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(v) => {
            let mut stdout = io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut stdout, &v);
            let _ = writeln!(stdout);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mkmedia: {e}");
            ExitCode::from(2)
        }
    }
}
