//! clap definitions (derive style: doc comment = long help).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Turn packet captures of WebRTC/RTP sessions into per-track recordings.
///
/// rtprec reads pcap, pcapng and rtptools rtpdump captures (optionally
/// gzip-compressed; `-` reads standard input), finds the RTP streams inside
/// (plain UDP, RTP over TCP with RFC 4571 framing, TURN ChannelData and
/// Send/Data indications, over Ethernet, VLAN, Linux cooked SLL/SLL2, raw IP or
/// BSD loopback), and reports them.
#[derive(Debug, Parser)]
#[command(name = "rtprec", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// Print no progress or warnings on standard error.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the RTP streams in captures, with loss, jitter and codec guesses.
    ///
    /// One row per RTP stream (5-tuple and SSRC). Packets counts equal
    /// tshark's `-z rtp,streams` Pkts; lost, duplicates and reordered are
    /// counted separately so that duplicates never hide loss. Several captures
    /// are merged in capture-time order and reported together.
    Streams(StreamsArgs),
    /// Record every track of the captures to its own playable file, with a manifest.
    ///
    /// Each RTP stream identified as a track (from --metadata, or inferred from
    /// the traffic) is reordered, de-duplicated, depacketized and written to
    /// OUT/<room_id>/<session_id>/<peer_id>/<track_id>.<ext>: Opus to Ogg Opus,
    /// VP8, VP9 and AV1 to WebM, G.711, G.722 and L16 to 16-bit PCM WAV. Lost
    /// audio stays a gap of the right length (silence in WAV);
    /// video resumes at the next keyframe after a loss. OUT/manifest.json lists
    /// one asset of type `track` per track, completed or failed with a reason.
    /// Files are written under a temporary name and renamed when complete.
    Record(RecordArgs),
}

/// Arguments of `rtprec record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Capture files (pcap, pcapng, rtpdump, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Directory for the recordings and manifest.json (created if missing).
    #[arg(
        short,
        long,
        env = "RTPREC_OUT",
        default_value = ".",
        value_name = "DIR"
    )]
    pub out: PathBuf,

    /// Session metadata JSON saying which SSRC is which peer's which track (schema: schemas/session-metadata.schema.json).
    #[arg(short, long, value_name = "FILE", conflicts_with = "sdp")]
    pub metadata: Option<PathBuf>,

    /// The peers' SDP files (one per peer), an alternative to --metadata.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub sdp: Vec<PathBuf>,

    /// Worker threads for per-track work (0: one per core). Output does not depend on it.
    #[arg(short, long, default_value_t = 0, value_name = "N")]
    pub jobs: usize,

    /// Reorder window per track, in packets.
    #[arg(long, default_value_t = 512, value_name = "PACKETS", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub reorder_packets: u32,

    /// Longest time a packet is held waiting for a missing one, in milliseconds of capture time.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub reorder_ms: u64,

    /// Also write the manifest to standard output as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `rtprec streams`.
#[derive(Debug, Args)]
pub struct StreamsArgs {
    /// Capture files (pcap, pcapng, rtpdump, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Write one JSON document to standard output instead of the table.
    #[arg(long)]
    pub json: bool,
}
