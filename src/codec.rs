//! Codecs rtprec knows by name, and guessing a stream's codec from its packets.
//!
//! STUB: the interface is fixed; the implementation is being written.

use serde::Serialize;

/// A media codec carried over RTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// Opus (RFC 7587).
    Opus,
    /// VP8 (RFC 7741).
    Vp8,
    /// VP9 (RFC 9628).
    Vp9,
    /// AV1 (AOM RTP payload format).
    Av1,
    /// H.264 (RFC 6184).
    H264,
    /// H.265 (RFC 7798).
    H265,
    /// G.711 mu-law (PT 0).
    Pcmu,
    /// G.711 A-law (PT 8).
    Pcma,
    /// G.722 (PT 9; 8000 Hz RTP clock for 16 kHz audio).
    G722,
    /// Linear 16-bit PCM (PT 10/11 or dynamic).
    L16,
    /// G.729 (PT 18).
    G729,
    /// Comfort noise (PT 13, RFC 3389).
    Cn,
    /// DTMF events (RFC 4733).
    TelephoneEvent,
    /// H.263 (PT 34, RFC 2190).
    H263,
    /// MPEG audio (PT 14, RFC 2250).
    Mpa,
}

/// The outcome of guessing a stream's codec.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CodecGuess {
    /// The codec, when the evidence is strong enough.
    pub codec: Option<Codec>,
    /// RTP clock rate, when known.
    pub clock_rate: Option<u32>,
    /// Human-readable reasons for the guess.
    pub evidence: String,
}

/// Accumulates per-packet evidence for one payload type of one stream.
#[derive(Clone, Debug, Default)]
pub struct CodecGuesser {
    payload_type: u8,
}

impl CodecGuesser {
    /// A guesser for packets of this payload type.
    pub fn new(payload_type: u8) -> Self {
        CodecGuesser { payload_type }
    }

    /// Looks at one packet of the stream.
    pub fn push(&mut self, marker: bool, timestamp: u32, payload: &[u8]) {
        let _ = (marker, timestamp, payload);
    }

    /// The guess from everything pushed so far.
    pub fn guess(&self) -> CodecGuess {
        CodecGuess { codec: None, clock_rate: None, evidence: format!("PT {}", self.payload_type) }
    }
}
