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
