//! Link -> IP -> UDP/TCP -> datagrams; unwraps RFC 4571 TCP framing and TURN.
//!
//! STUB: the interface is fixed; the implementation is being written.

use crate::capture::{CapturedFrame, FrameMeta};
use crate::error::Diagnostic;
use std::net::SocketAddr;

/// Transport protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP (RFC 4571 framing or TURN over TCP).
    Tcp,
}

/// A directed transport flow: the 5-tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Flow {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
}

/// How the datagram was carried inside its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encap {
    /// Directly in a UDP datagram (or an rtpdump record).
    Plain,
    /// In a TURN ChannelData message (RFC 8656 §12) with this channel number.
    TurnChannel(u16),
    /// In a TURN Send or Data indication (RFC 8656 §10, §11).
    TurnIndication,
    /// In RFC 4571 framing on TCP.
    Rfc4571,
}

/// A datagram ready for RTP/RTCP classification.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// The frame that completed this datagram.
    pub meta: FrameMeta,
    /// The outer flow (for TURN: the client <-> server flow, as tshark reports it).
    pub flow: Flow,
    /// How it was carried.
    pub encap: Encap,
    /// The datagram's bytes.
    pub payload: &'a [u8],
}

/// Counters of what the network layer saw and skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetStats {
    /// Frames pushed.
    pub frames: u64,
    /// Datagrams emitted.
    pub datagrams: u64,
}

/// Configuration of the network decoder's bounded state.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Max IP fragment sets in flight at once.
    pub max_fragment_sets: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig { max_fragment_sets: 1024 }
    }
}

/// Stateful link/IP/transport decoder (fragment and TCP reassembly).
#[derive(Debug, Default)]
pub struct NetDecoder {
    stats: NetStats,
    diagnostics: Vec<Diagnostic>,
}

impl NetDecoder {
    /// A decoder with the given bounds.
    pub fn new(_config: NetConfig) -> Self {
        NetDecoder::default()
    }

    /// Decodes one captured frame, calling `out` for every datagram it completes.
    pub fn push(&mut self, frame: &CapturedFrame<'_>, out: &mut dyn FnMut(Datagram<'_>)) {
        self.stats.frames += 1;
        let _ = (frame, out);
    }

    /// Counters so far.
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// Diagnostics gathered so far (first occurrence of each kind), drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }
}
