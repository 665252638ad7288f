//! Who is who: session metadata (JSON) or the peers' SDP -> rooms, peers, tracks.
//!
//! Two sources give the same [`SessionMap`]: a metadata JSON file
//! ([`load_metadata`], format in `schemas/session-metadata.schema.json`) or one
//! SDP file per peer ([`load_sdp`], several merged with [`SessionMap::merge`]).
//! Every id in a map has passed [`sanitize_id`], so it is safe as a path part;
//! keys ([`SrtpSpec`]) are never printed, not even in errors.

pub mod ids;
pub mod metadata;
pub mod sdp;

pub use ids::{DuplicateId, IdError, IdProblem, check_unique, sanitize_id};
pub use metadata::{
    UnknownFields, load_metadata, load_metadata_with, parse_metadata, parse_metadata_with,
    parse_rfc3339,
};
pub use sdp::{load_sdp, parse_sdp};

pub use crate::codec::Kind;

use crate::codec::Codec;
use crate::time::CaptureTime;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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

/// How signalling says a track's media is protected (SRTP, RFC 3711).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protection {
    /// SRTP keyed outside DTLS: SDES `a=crypto` (RFC 4568), or an `RTP/SAVP(F)`
    /// section without `a=fingerprint` (keys exchanged some other way).
    Sdes,
    /// DTLS-SRTP (RFC 5764): `a=fingerprint`, or a `UDP/TLS/RTP/SAVP(F)` section;
    /// the keys come from the DTLS handshake.
    DtlsSrtp,
}

impl Protection {
    /// `srtp` or `dtls-srtp`, as `streams` names encrypted streams.
    pub fn name(self) -> &'static str {
        match self {
            Protection::Sdes => "srtp",
            Protection::DtlsSrtp => "dtls-srtp",
        }
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
    /// Codec, when known and one rtprec knows by name.
    pub codec: Option<Codec>,
    /// Codec name as given (metadata `codec`, SDP `a=rtpmap` encoding name), also when
    /// [`TrackSpec::codec`] is `None` because rtprec does not know it (e.g. `h266`):
    /// such a track is "unsupported", not an error.
    pub codec_name: Option<String>,
    /// Media payload type, when known.
    pub payload_type: Option<u8>,
    /// RTX payload type.
    pub rtx_payload_type: Option<u8>,
    /// RED payload type (RFC 2198).
    pub red_payload_type: Option<u8>,
    /// FEC format of the track's repair packets (ULPFEC, FlexFEC).
    pub fec_scheme: Option<crate::track::fec::FecScheme>,
    /// Payload type of the repair packets (for ULPFEC in RED: the RED block's).
    pub fec_payload_type: Option<u8>,
    /// SSRC of a separate repair stream (FlexFEC; SDP `a=ssrc-group:FEC-FR`).
    pub fec_ssrc: Option<u32>,
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
    /// SRTP keys: the first of [`TrackSpec::srtp_candidates`].
    pub srtp: Option<SrtpSpec>,
    /// Signalling says the media is SRTP (SDP transport protocol, `a=fingerprint`,
    /// `a=crypto`; metadata `srtp`), whether or not a usable key came with it.
    pub protection: Option<Protection>,
    /// Every usable SRTP key offered for the track, in the order given (SDP may offer several
    /// `a=crypto` lines and only one of them is in use: the decryption stage tries each).
    pub srtp_candidates: Vec<SrtpSpec>,
    /// User data from metadata `extra` (any JSON object), passed through untouched.
    pub extra: Option<serde_json::Value>,
    /// SDP `m=` port the media is received on (not BUNDLE's shared or WebRTC's
    /// placeholder port 9): binds an SSRC the SDP does not name, by destination port.
    pub port: Option<u16>,
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
    /// File the peer was described in (metadata or SDP), for messages.
    pub origin: Option<PathBuf>,
    /// User data from metadata `extra` (any JSON object), passed through untouched.
    pub extra: Option<serde_json::Value>,
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
    /// Non-fatal problems met while loading (an SDP line that was skipped, an `a=crypto`
    /// with an unsupported suite, ...), each naming its file and line, for the report.
    pub notes: Vec<String>,
    /// User data from metadata `extra` (any JSON object), passed through untouched.
    pub extra: Option<serde_json::Value>,
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

/// Why two session maps cannot be merged.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// The same SSRC belongs to two tracks.
    #[error("ssrc={ssrc:#010x} is {first} and {second}")]
    ConflictingSsrc {
        /// The SSRC.
        ssrc: u32,
        /// The first track holding it: `track T of peer P (in FILE)`.
        first: String,
        /// The second track holding it.
        second: String,
    },
    /// The same track id of the same peer has two different SSRCs.
    #[error(
        "track {track} of peer {peer} has ssrc={first_ssrc:#010x} and ssrc={second_ssrc:#010x}"
    )]
    ConflictingTrack {
        /// Peer.
        peer: String,
        /// Track.
        track: String,
        /// SSRC in the first map.
        first_ssrc: u32,
        /// SSRC in the second map.
        second_ssrc: u32,
    },
    /// Two maps name different rooms.
    #[error("room {0} and room {1} cannot be merged")]
    ConflictingRoom(String, String),
    /// Two maps name different sessions.
    #[error("session {0} and session {1} cannot be merged")]
    ConflictingSession(String, String),
}

/// `track T of peer P (in FILE)`, for messages.
fn describe(p: &PeerSpec, t: &TrackSpec) -> String {
    let origin = p.origin.as_ref().map(|f| format!(" (in {})", f.display()));
    format!(
        "track {} of peer {}{}",
        t.track_id,
        p.peer_id,
        origin.unwrap_or_default()
    )
}

impl TrackSpec {
    /// A track with only an id and a kind; every other field unknown.
    pub fn new(track_id: impl Into<String>, kind: Kind) -> Self {
        TrackSpec {
            track_id: track_id.into(),
            kind,
            source: Source::Regular,
            ssrc: None,
            rtx_ssrc: None,
            codec: None,
            codec_name: None,
            payload_type: None,
            rtx_payload_type: None,
            red_payload_type: None,
            fec_scheme: None,
            fec_payload_type: None,
            fec_ssrc: None,
            clock_rate: None,
            channels: None,
            mid: None,
            rid: None,
            fmtp: None,
            srtp: None,
            protection: None,
            srtp_candidates: Vec::new(),
            extra: None,
            port: None,
        }
    }

    /// The track's SSRCs: media, then RTX, then FEC.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.ssrc
            .into_iter()
            .chain(self.rtx_ssrc)
            .chain(self.fec_ssrc)
    }

    /// Whether a codec name was given that rtprec does not know (e.g. `h266`).
    pub fn is_unsupported_codec(&self) -> bool {
        self.codec.is_none() && self.codec_name.is_some()
    }
}

impl PeerSpec {
    /// A peer with only an id.
    pub fn new(peer_id: impl Into<String>) -> Self {
        PeerSpec {
            peer_id: peer_id.into(),
            name: None,
            role: None,
            joined_at: None,
            left_at: None,
            extmap: Vec::new(),
            tracks: Vec::new(),
            origin: None,
            extra: None,
        }
    }
}

impl PeerSpec {
    /// This peer's track with this MID (and RID, for simulcast).
    ///
    /// A track without a RID matches any `rid`; one with a RID only that RID. An exact
    /// RID match wins over a track without a RID.
    pub fn track_by_mid(&self, mid: &str, rid: Option<&str>) -> Option<&TrackSpec> {
        let same_mid = || {
            self.tracks
                .iter()
                .filter(move |t| t.mid.as_deref() == Some(mid))
        };
        same_mid()
            .find(|t| rid.is_some() && t.rid.as_deref() == rid)
            .or_else(|| same_mid().find(|t| t.rid.is_none()))
    }
}

impl SessionMap {
    /// The track whose media SSRC is `ssrc`, with its peer.
    pub fn track_by_ssrc(&self, ssrc: u32) -> Option<(&PeerSpec, &TrackSpec)> {
        self.tracks().find(|(_, t)| t.ssrc == Some(ssrc))
    }

    /// The track whose RTX SSRC (RFC 4588) is `ssrc`, with its peer.
    pub fn track_by_rtx_ssrc(&self, ssrc: u32) -> Option<(&PeerSpec, &TrackSpec)> {
        self.tracks().find(|(_, t)| t.rtx_ssrc == Some(ssrc))
    }

    /// The track with this MID (and RID, for simulcast), with its peer: the first peer's,
    /// when several have it.
    ///
    /// MIDs are per peer (each peer's transport numbers its own m= sections, `0`, `1`, ...),
    /// so with several peers narrow by peer first: [`PeerSpec::track_by_mid`].
    pub fn track_by_mid(&self, mid: &str, rid: Option<&str>) -> Option<(&PeerSpec, &TrackSpec)> {
        self.peers
            .iter()
            .find_map(|p| Some((p, p.track_by_mid(mid, rid)?)))
    }

    /// Every (peer, track) pair, in order.
    pub fn tracks(&self) -> impl Iterator<Item = (&PeerSpec, &TrackSpec)> {
        self.peers
            .iter()
            .flat_map(|p| p.tracks.iter().map(move |t| (p, t)))
    }

    /// The peer with this (sanitised) id.
    pub fn peer(&self, peer_id: &str) -> Option<&PeerSpec> {
        self.peers.iter().find(|p| p.peer_id == peer_id)
    }

    /// Combines two maps (e.g. one per SDP file): peers of `other` are appended, and a peer
    /// present in both gets the other's tracks and extmap entries that it lacks.
    ///
    /// Fails when an SSRC ends up on two different tracks, or the maps name different
    /// rooms or sessions. A room named `sdp` (the SDP default) yields to any other name.
    pub fn merge(mut self, other: SessionMap) -> Result<SessionMap, MergeError> {
        if self.room_id != other.room_id {
            if self.room_id == sdp::DEFAULT_ROOM {
                self.room_id = other.room_id;
            } else if other.room_id != sdp::DEFAULT_ROOM {
                return Err(MergeError::ConflictingRoom(self.room_id, other.room_id));
            }
        }
        match (&self.session_id, other.session_id) {
            (Some(a), Some(b)) if *a != b => {
                return Err(MergeError::ConflictingSession(a.clone(), b));
            }
            (None, b) => self.session_id = b,
            _ => {}
        }
        if self.extra.is_none() {
            self.extra = other.extra;
        }
        self.notes.extend(other.notes);
        for peer in other.peers {
            match self.peers.iter_mut().find(|p| p.peer_id == peer.peer_id) {
                None => self.peers.push(peer),
                Some(mine) => merge_peer(mine, peer)?,
            }
        }
        self.check_ssrcs()?;
        Ok(self)
    }

    /// Fails when one SSRC belongs to two tracks (as media or RTX SSRC).
    pub fn check_ssrcs(&self) -> Result<(), MergeError> {
        let mut seen: std::collections::BTreeMap<u32, (&PeerSpec, &TrackSpec)> = Default::default();
        for (p, t) in self.tracks() {
            for ssrc in t.ssrcs() {
                if let Some((fp, ft)) = seen.insert(ssrc, (p, t)) {
                    return Err(MergeError::ConflictingSsrc {
                        ssrc,
                        first: describe(fp, ft),
                        second: describe(p, t),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Adds what `other` knows about the same peer; tracks with the same id are merged field by field.
fn merge_peer(mine: &mut PeerSpec, other: PeerSpec) -> Result<(), MergeError> {
    mine.name = mine.name.take().or(other.name);
    mine.role = mine.role.take().or(other.role);
    mine.joined_at = mine.joined_at.or(other.joined_at);
    mine.left_at = mine.left_at.or(other.left_at);
    mine.origin = mine.origin.take().or(other.origin);
    mine.extra = mine.extra.take().or(other.extra);
    for e in other.extmap {
        if !mine.extmap.contains(&e) {
            mine.extmap.push(e);
        }
    }
    for t in other.tracks {
        match mine.tracks.iter_mut().find(|m| m.track_id == t.track_id) {
            None => mine.tracks.push(t),
            Some(m) if m.ssrc.is_some() && t.ssrc.is_some() && m.ssrc != t.ssrc => {
                return Err(MergeError::ConflictingTrack {
                    peer: mine.peer_id.clone(),
                    track: t.track_id,
                    first_ssrc: m.ssrc.unwrap_or_default(),
                    second_ssrc: t.ssrc.unwrap_or_default(),
                });
            }
            Some(m) => {
                m.ssrc = m.ssrc.or(t.ssrc);
                m.rtx_ssrc = m.rtx_ssrc.or(t.rtx_ssrc);
                m.codec = m.codec.or(t.codec);
                m.codec_name = m.codec_name.take().or(t.codec_name);
                m.payload_type = m.payload_type.or(t.payload_type);
                m.rtx_payload_type = m.rtx_payload_type.or(t.rtx_payload_type);
                m.red_payload_type = m.red_payload_type.or(t.red_payload_type);
                m.fec_scheme = m.fec_scheme.or(t.fec_scheme);
                m.fec_payload_type = m.fec_payload_type.or(t.fec_payload_type);
                m.fec_ssrc = m.fec_ssrc.or(t.fec_ssrc);
                m.clock_rate = m.clock_rate.or(t.clock_rate);
                m.channels = m.channels.or(t.channels);
                m.mid = m.mid.take().or(t.mid);
                m.rid = m.rid.take().or(t.rid);
                m.fmtp = m.fmtp.take().or(t.fmtp);
                for c in t.srtp_candidates {
                    if !m.srtp_candidates.contains(&c) {
                        m.srtp_candidates.push(c);
                    }
                }
                m.srtp = m.srtp_candidates.first().cloned();
                m.protection = m.protection.or(t.protection);
                m.extra = m.extra.take().or(t.extra);
                if m.source == Source::Regular {
                    m.source = t.source;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: &str, ssrc: Option<u32>, mid: Option<&str>, rid: Option<&str>) -> TrackSpec {
        let mut t = TrackSpec::new(id, Kind::Video);
        t.ssrc = ssrc;
        t.mid = mid.map(str::to_string);
        t.rid = rid.map(str::to_string);
        t
    }

    fn map(room: &str, peers: Vec<PeerSpec>) -> SessionMap {
        SessionMap {
            room_id: room.into(),
            session_id: None,
            peers,
            notes: Vec::new(),
            extra: None,
        }
    }

    fn peer(id: &str, tracks: Vec<TrackSpec>) -> PeerSpec {
        let mut p = PeerSpec::new(id);
        p.tracks = tracks;
        p
    }

    #[test]
    fn lookups() {
        let mut cam = track("cam", Some(1), Some("1"), None);
        cam.rtx_ssrc = Some(2);
        let m = map(
            "r",
            vec![
                peer(
                    "a",
                    vec![
                        cam,
                        track("sim-h", Some(3), Some("2"), Some("h")),
                        track("sim", None, Some("2"), None),
                    ],
                ),
                peer("b", vec![track("bcam", Some(4), Some("1"), None)]),
            ],
        );
        let id = |r: Option<(&PeerSpec, &TrackSpec)>| {
            r.map(|(p, t)| format!("{}/{}", p.peer_id, t.track_id))
        };
        assert_eq!(id(m.track_by_ssrc(1)).as_deref(), Some("a/cam"));
        assert_eq!(id(m.track_by_ssrc(2)), None);
        assert_eq!(id(m.track_by_rtx_ssrc(2)).as_deref(), Some("a/cam"));
        assert_eq!(id(m.track_by_ssrc(4)).as_deref(), Some("b/bcam"));
        assert_eq!(id(m.track_by_mid("1", None)).as_deref(), Some("a/cam"));
        assert_eq!(
            id(m.track_by_mid("2", Some("h"))).as_deref(),
            Some("a/sim-h")
        );
        assert_eq!(id(m.track_by_mid("2", Some("l"))).as_deref(), Some("a/sim"));
        assert_eq!(id(m.track_by_mid("2", None)).as_deref(), Some("a/sim"));
        assert_eq!(
            m.peer("b")
                .unwrap()
                .track_by_mid("1", None)
                .unwrap()
                .track_id,
            "bcam"
        );
        assert_eq!(m.tracks().count(), 4);
    }

    #[test]
    fn merge() {
        let mut a = map(
            "sdp",
            vec![peer("a", vec![track("cam", Some(1), Some("0"), None)])],
        );
        a.notes.push("note a".into());
        let mut b = map(
            "room",
            vec![peer("b", vec![track("cam", Some(2), None, None)])],
        );
        b.session_id = Some("s".into());
        b.notes.push("note b".into());
        // The same peer again adds what it lacks.
        let mut more = track("cam", None, None, None);
        more.codec_name = Some("vp8".into());
        let mut a2 = peer("a", vec![more, track("mic", Some(3), None, None)]);
        a2.extmap = vec![(4, "urn:ietf:params:rtp-hdrext:sdes:mid".into())];
        let c = map("sdp", vec![a2]);
        let m = a.merge(b).unwrap().merge(c).unwrap();
        assert_eq!(
            (m.room_id.as_str(), m.session_id.as_deref()),
            ("room", Some("s"))
        );
        assert_eq!(m.notes, ["note a", "note b"]);
        let a = m.peer("a").unwrap();
        assert_eq!(a.tracks.len(), 2);
        assert_eq!(
            (a.tracks[0].ssrc, a.tracks[0].codec_name.as_deref()),
            (Some(1), Some("vp8"))
        );
        assert_eq!(a.extmap.len(), 1);

        let clash = map(
            "sdp",
            vec![peer("z", vec![track("t", Some(2), None, None)])],
        );
        assert_eq!(
            m.clone().merge(clash).unwrap_err().to_string(),
            "ssrc=0x00000002 is track cam of peer b and track t of peer z"
        );
        let other_room = map("elsewhere", vec![]);
        assert_eq!(
            m.clone().merge(other_room).unwrap_err(),
            MergeError::ConflictingRoom("room".into(), "elsewhere".into())
        );
        let mut other_session = map("room", vec![]);
        other_session.session_id = Some("t".into());
        assert!(matches!(
            m.clone().merge(other_session),
            Err(MergeError::ConflictingSession(..))
        ));
        let same_track = map(
            "sdp",
            vec![peer("a", vec![track("cam", Some(9), None, None)])],
        );
        assert_eq!(
            m.merge(same_track).unwrap_err().to_string(),
            "track cam of peer a has ssrc=0x00000001 and ssrc=0x00000009"
        );
    }

    #[test]
    fn srtp_debug_is_redacted() {
        let s = SrtpSpec {
            profile: "AES_CM_128_HMAC_SHA1_80".into(),
            key_base64: "secretsecret".into(),
        };
        let mut t = TrackSpec::new("t", Kind::Audio);
        t.srtp = Some(s.clone());
        t.srtp_candidates = vec![s];
        assert!(!format!("{t:?}").contains("secret"));
    }
}
