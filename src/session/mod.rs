//! Who is who: session metadata (JSON) or the peers' SDP -> rooms, peers, tracks.
//!
//! STUB: the interface is fixed; the implementation is being written.

use crate::codec::Codec;
use crate::time::CaptureTime;
use serde::{Deserialize, Serialize};

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A microphone or other audio track.
    Audio,
    /// A camera or screen-share track.
    Video,
}

/// Where a track's media comes from.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Microphone or camera.
    #[default]
    Regular,
    /// Screen share.
    Screen,
}

/// SRTP keying for one track (used by the decryption stage).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrtpSpec {
    /// Crypto suite name, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub profile: String,
    /// Base64 master key || master salt, as in SDP `a=crypto ... inline:`.
    pub key_base64: String,
}

impl std::fmt::Debug for SrtpSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are never printed.
        f.debug_struct("SrtpSpec")
            .field("profile", &self.profile)
            .field("key_base64", &"<redacted>")
            .finish()
    }
}

/// One track of one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackSpec {
    /// Track id (sanitised: safe as a path part).
    pub track_id: String,
    /// Audio or video.
    pub kind: Kind,
    /// Regular or screen.
    pub source: Source,
    /// Media SSRC, when known.
    pub ssrc: Option<u32>,
    /// RTX SSRC (RFC 4588), when known.
    pub rtx_ssrc: Option<u32>,
    /// Codec, when known.
    pub codec: Option<Codec>,
    /// Media payload type, when known.
    pub payload_type: Option<u8>,
    /// RTX payload type.
    pub rtx_payload_type: Option<u8>,
    /// RED payload type (RFC 2198).
    pub red_payload_type: Option<u8>,
    /// RTP clock rate.
    pub clock_rate: Option<u32>,
    /// Audio channels (Opus: 2 in SDP, per RFC 7587).
    pub channels: Option<u8>,
    /// SDP media id (BUNDLE), matched against the MID header extension.
    pub mid: Option<String>,
    /// RTP stream id (simulcast), matched against the RID header extension.
    pub rid: Option<String>,
    /// `a=fmtp` parameters for the payload type, verbatim.
    pub fmtp: Option<String>,
    /// SRTP keys.
    pub srtp: Option<SrtpSpec>,
}

/// One peer (participant) of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSpec {
    /// Peer id (sanitised).
    pub peer_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Role, e.g. `host`, `co-host`, `guest`.
    pub role: Option<String>,
    /// When the peer joined.
    pub joined_at: Option<CaptureTime>,
    /// When the peer left.
    pub left_at: Option<CaptureTime>,
    /// Header extension ids of this peer's streams: (id, URI), from `a=extmap`.
    pub extmap: Vec<(u8, String)>,
    /// The peer's tracks.
    pub tracks: Vec<TrackSpec>,
}

/// Everything known about who is who in a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionMap {
    /// Room id (sanitised).
    pub room_id: String,
    /// Session id (sanitised), when given.
    pub session_id: Option<String>,
    /// Peers.
    pub peers: Vec<PeerSpec>,
}

/// Why metadata could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: std::path::PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The content is invalid.
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: std::path::PathBuf,
        /// What is wrong, with the JSON line/column or SDP line number.
        message: String,
    },
}
