//! The asset manifest: one record per track, stable ids, checksums, listing.

use crate::time::CaptureTime;
pub mod list;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the manifest format (bumped on incompatible changes).
pub const MANIFEST_VERSION: u32 = 1;

/// A stable asset id: the first 128 bits of SHA-256 over `room/session/track`, in hex.
///
/// The same room, session and track always give the same id, across runs and machines.
pub fn asset_id(room_id: &str, session_id: &str, peer_id: &str, track_id: &str) -> String {
    let mut h = Sha256::new();
    // NUL separators: ids cannot contain NUL, so distinct tuples never collide by concatenation.
    for part in [room_id, session_id, peer_id, track_id] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Outcome of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The file is complete.
    Completed,
    /// The track could not be recorded; `error` says why.
    Failed,
    /// The recording template left the track out; `error.message` says why.
    Skipped,
}

/// Why a track failed: a stable code and a human message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Stable machine-readable code, e.g. `unsupported-codec` (see [`FailureCode`]).
    pub code: String,
    /// Human explanation.
    pub message: String,
}

impl Failure {
    /// A failure with one of rtprec's codes.
    pub fn new(code: FailureCode, message: impl Into<String>) -> Failure {
        Failure {
            code: code.as_str().into(),
            message: message.into(),
        }
    }
}

/// The failure codes rtprec writes (manifest `error.code`, failure events).
///
/// The manifest keeps the code as a string so that manifests written by other
/// versions, with codes this one does not know, still read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// The codec is known but rtprec cannot record it.
    UnsupportedCodec,
    /// Without metadata, the codec could not be identified from the payloads.
    UnknownCodec,
    /// No packet of the track was captured (metadata named it).
    NoMedia,
    /// Video never reached a key frame.
    NoKeyframe,
    /// Packets arrived but no frame could be decoded from them.
    NoDecodableFrames,
    /// The codec's parameters cannot be written into the container.
    UnsupportedFormat,
    /// Writing the file failed.
    IoError,
    /// No SRTP key given for the track authenticates its packets.
    SrtpAuthFailed,
    /// The track is encrypted (SRTP, DTLS-SRTP) and no key was given.
    EncryptedNoKey,
    /// The track is DTLS-SRTP and the key logs hold no secret for its DTLS
    /// association (the message names the association to look for).
    DtlsKeyMissing,
    /// Left out by the recording template.
    Skipped,
    /// A bug: the track never finished.
    Internal,
}

impl FailureCode {
    /// The code as written, e.g. `no-keyframe`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::UnsupportedCodec => "unsupported-codec",
            FailureCode::UnknownCodec => "unknown-codec",
            FailureCode::NoMedia => "no-media",
            FailureCode::NoKeyframe => "no-keyframe",
            FailureCode::NoDecodableFrames => "no-decodable-frames",
            FailureCode::UnsupportedFormat => "unsupported-format",
            FailureCode::IoError => "io-error",
            FailureCode::SrtpAuthFailed => "srtp-auth-failed",
            FailureCode::EncryptedNoKey => "encrypted-no-key",
            FailureCode::DtlsKeyMissing => "dtls-key-missing",
            FailureCode::Skipped => "skipped",
            FailureCode::Internal => "internal",
        }
    }
}

/// Video resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

/// Per-track statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetStats {
    /// Packets of the track's SSRC received.
    pub packets: u64,
    /// Sequence numbers never received (after reordering).
    pub lost: u64,
    /// Duplicate packets dropped.
    pub duplicates: u64,
    /// Copies of packets that had already arrived on another path (a TURN leg,
    /// an SFU's other side): dropped, and not network duplicates.
    #[serde(default)]
    pub duplicates_other_path: u64,
    /// Distinct 5-tuples the track's packets took (at most 16 are told apart).
    #[serde(default)]
    pub paths: u64,
    /// Packets that arrived out of order and were put back in order.
    pub reordered: u64,
    /// Packets that arrived too late for the reorder window.
    pub late: u64,
    /// Same as `restarts` (its name before #11), kept for readers of older manifests.
    pub resets: u64,
    /// Sender restarts within the SSRC: the sequence numbers (and usually the
    /// RTP timestamps) started again; the file continues at the restart's capture time.
    #[serde(default)]
    pub restarts: u64,
    /// Packets recovered by RTX, RED and FEC together; `lost` is what is still missing after them.
    pub recovered: u64,
    /// Packets RFC 4588 retransmissions restored.
    #[serde(default)]
    pub recovered_rtx: u64,
    /// Packets RED (RFC 2198) redundant blocks restored.
    #[serde(default)]
    pub recovered_red: u64,
    /// Packets FEC (ULPFEC RFC 5109, FlexFEC RFC 8627) restored.
    #[serde(default)]
    pub recovered_fec: u64,
    /// Retransmissions received (RTX stream), including those of packets that had arrived.
    #[serde(default)]
    pub rtx_packets: u64,
    /// FEC repair packets received.
    #[serde(default)]
    pub fec_packets: u64,
    /// Frames written to the file.
    pub frames_written: u64,
    /// Frames dropped because a packet was lost or malformed.
    pub frames_dropped_incomplete: u64,
    /// Frames dropped until the next keyframe after loss.
    pub frames_dropped_until_keyframe: u64,
    /// Filler frames inserted so audio gaps keep their length.
    pub frames_inserted: u64,
    /// Gaps (runs of lost packets).
    pub gaps: u64,
    /// RTP timestamp jumps re-anchored on capture time.
    pub timestamp_jumps: u64,
    /// Malformed payloads.
    pub malformed: u64,
    /// Packets of other payload types on the SSRC (DTMF, comfort noise), not recorded.
    pub other_payload_types: u64,
    /// Padding-only packets (bandwidth probes) skipped.
    pub padding_only: u64,
    /// SRTP packets whose authentication tag did not match the track's key (not recorded).
    #[serde(default)]
    pub srtp_auth_failures: u64,
    /// Packets outside the peer's `joined_at`..`left_at` (metadata), not recorded.
    #[serde(default)]
    pub outside_presence: u64,
    /// Pauses with no packet missing (DTX, mute, paused screen share): kept on the timeline, not loss.
    #[serde(default)]
    pub pauses: u64,
    /// Total length of the pauses, ms.
    #[serde(default)]
    pub paused_ms: u64,
}

/// A track's RTP clock against its sender's NTP clock, from RTCP sender reports
/// (RFC 3550 §6.4.1). The file keeps the track's own RTP timeline; this maps it:
/// RTP timestamp `ts` was sent at `ntp_at_first_rtp + (ts - first_rtp_timestamp)
/// / measured_clock_rate` seconds (the nominal `clock_rate` when not measured).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SenderClockMapping {
    /// Sender reports received for the track's SSRC (garbage and duplicates left out).
    pub sender_reports: u64,
    /// Breaks in the sender's RTP-to-NTP relation: RTP timestamp resets and NTP clock steps.
    pub rtp_timestamp_resets: u64,
    /// RTP timestamp of the track's first packet.
    pub first_rtp_timestamp: u32,
    /// The sender's NTP clock at that timestamp, RFC 3339 with microseconds (the
    /// sender's wall clock, not capture time).
    pub ntp_at_first_rtp: String,
    /// RTP ticks per second of the sender's NTP clock, least squares over the sender
    /// reports of the first packet's segment (to 0.001); `null` when they span less than 5 s.
    pub measured_clock_rate: Option<f64>,
    /// `(measured_clock_rate / clock_rate - 1) * 1e6`, to 0.1 ppm; `null` likewise.
    pub drift_ppm: Option<f64>,
}

/// One `track` asset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// Stable id (see [`asset_id`]).
    pub id: String,
    /// Always `track`.
    #[serde(rename = "type")]
    pub asset_type: String,
    /// Room.
    pub room_id: String,
    /// Session.
    pub session_id: String,
    /// Peer.
    pub peer_id: String,
    /// Track.
    pub track_id: String,
    /// `audio` or `video`.
    pub kind: crate::session::Kind,
    /// `regular` or `screen`.
    pub source: crate::session::Source,
    /// Codec name (lowercase), or what metadata called it.
    pub codec: Option<String>,
    /// `ogg`, `webm` or `wav`; absent for failed tracks.
    pub container: Option<String>,
    /// SSRC in hex (`null` for a metadata track that never showed up).
    pub ssrc: Option<String>,
    /// Media payload type.
    pub payload_type: Option<u8>,
    /// RTP clock rate.
    pub clock_rate: Option<u32>,
    /// Path relative to the output directory, `/`-separated; absent for failed tracks.
    pub path: Option<String>,
    /// File size in bytes.
    pub size: Option<u64>,
    /// SHA-256 of the file, hex.
    pub sha256: Option<String>,
    /// Capture time of the track's first packet.
    pub started_at: Option<String>,
    /// Capture time of the track's last packet.
    pub stopped_at: Option<String>,
    /// Playable duration measured from the written media.
    pub duration_ms: Option<u64>,
    /// Offset of the track's start on the session timeline (session start = 0).
    pub start_offset_ms: Option<i64>,
    /// `rtcp-sr` (sender reports map RTP time to the sender's clock) or `capture-time`.
    pub start_offset_source: Option<String>,
    /// How the track's RTP clock maps to its sender's NTP clock, from RTCP sender
    /// reports; absent without any, or when the first packet's timestamp is on none
    /// of their timelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_clock: Option<SenderClockMapping>,
    /// Video resolution from the first keyframe.
    pub resolution: Option<Resolution>,
    /// `completed` or `failed`.
    pub status: Status,
    /// Why it failed.
    pub error: Option<Failure>,
    /// Fields rtprec inferred from the traffic rather than read from metadata.
    pub inferred: Vec<String>,
    /// `browser-dump` when capture times came from a browser's RTP dump (times
    /// of day without a date, placed after the Unix epoch); absent for captures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_source: Option<String>,
    /// How the track's packets were decrypted; absent for plain RTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
    /// Files derived from the track's file (`--audio-export`), beside it;
    /// absent when none was asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<AssetExport>,
    /// Statistics.
    pub stats: AssetStats,
}

/// A file derived from an asset's file (`record --audio-export`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetExport {
    /// What it is: `wav16k` (16 kHz mono 16-bit PCM WAV).
    pub kind: String,
    /// Path relative to the output directory, `/`-separated.
    pub path: String,
    /// File size in bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Duration in milliseconds; the export starts where the track starts
    /// (`start_offset_ms` on the session timeline).
    pub duration_ms: u64,
    /// Sample rate in Hz (16000).
    pub sample_rate: u32,
    /// Channels (1).
    pub channels: u8,
}

/// How a track was decrypted (never the keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decryption {
    /// `srtp` (SDES keys: metadata, SDP `a=crypto`, `--srtp-keys`) or `dtls-srtp`
    /// (keys exported from a DTLS handshake in the capture, RFC 5764).
    pub method: String,
    /// The SRTP protection profile, e.g. `AEAD_AES_128_GCM`.
    pub profile: String,
    /// Where the keys came from: `metadata`, `sdp`, `srtp-keys`, `keylog` or `pcapng-secrets`.
    pub keys: String,
    /// For `dtls-srtp`: the DTLS version of the handshake (`1.2`, `1.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtls_version: Option<String>,
    /// For `dtls-srtp`: the handshake, as `client -> server` addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtls_association: Option<String>,
}

/// `OUT/manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// `rtprec <version>`.
    pub generator: String,
    /// Input names in command-line order.
    pub inputs: Vec<String>,
    /// Whether ids came from `metadata`, `sdp` or were `inferred`.
    pub identification: String,
    /// The assets, sorted by room, session, peer, track.
    pub assets: Vec<Asset>,
}

/// Formats a capture time for the manifest.
pub fn time_str(t: CaptureTime) -> String {
    t.to_rfc3339_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_ids_are_stable_and_distinct() {
        let a = asset_id("room-7", "s1", "p", "t-mic");
        assert_eq!(a, asset_id("room-7", "s1", "p", "t-mic"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, asset_id("room-7", "s1", "p", "t-cam"));
        assert_ne!(asset_id("ab", "c", "p", "t"), asset_id("a", "bc", "p", "t"));
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    /// The JSON Schema in schemas/ lists exactly the fields the manifest serialises.
    #[test]
    fn manifest_schema_matches_the_structs() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/manifest.schema.json"))
                .expect("schema is JSON");
        let asset = Asset {
            id: "0".repeat(32),
            asset_type: "track".into(),
            room_id: "r".into(),
            session_id: "s".into(),
            peer_id: "p".into(),
            track_id: "t".into(),
            kind: crate::session::Kind::Audio,
            source: crate::session::Source::Regular,
            codec: None,
            container: None,
            ssrc: Some("0x00000001".into()),
            payload_type: None,
            clock_rate: None,
            path: None,
            size: None,
            sha256: None,
            started_at: None,
            stopped_at: None,
            duration_ms: None,
            start_offset_ms: None,
            start_offset_source: None,
            sender_clock: Some(SenderClockMapping {
                sender_reports: 2,
                rtp_timestamp_resets: 0,
                first_rtp_timestamp: 0,
                ntp_at_first_rtp: "2026-11-23T10:00:00.000000Z".into(),
                measured_clock_rate: None,
                drift_ppm: None,
            }),
            resolution: None,
            status: Status::Failed,
            error: None,
            inferred: vec![],
            time_source: Some("browser-dump".into()),
            decryption: Some(Decryption {
                method: "dtls-srtp".into(),
                profile: "AEAD_AES_128_GCM".into(),
                keys: "keylog".into(),
                dtls_version: Some("1.2".into()),
                dtls_association: Some("127.0.0.1:1 -> 127.0.0.1:2".into()),
            }),
            exports: vec![AssetExport {
                kind: "wav16k".into(),
                path: "r/s/p-t.16k.wav".into(),
                size: 44,
                sha256: "0".repeat(64),
                duration_ms: 0,
                sample_rate: 16000,
                channels: 1,
            }],
            stats: AssetStats::default(),
        };
        let m = Manifest {
            version: MANIFEST_VERSION,
            generator: "g".into(),
            inputs: vec![],
            identification: "inferred".into(),
            assets: vec![asset],
        };
        let v = serde_json::to_value(&m).unwrap();
        let keys = |o: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&v), keys(&schema["properties"]));
        assert_eq!(
            keys(&v["assets"][0]),
            keys(&schema["$defs"]["asset"]["properties"])
        );
        assert_eq!(
            keys(&v["assets"][0]["sender_clock"]),
            keys(&schema["$defs"]["asset"]["properties"]["sender_clock"]["properties"])
        );
        assert_eq!(
            keys(&v["assets"][0]["decryption"]),
            keys(&schema["$defs"]["asset"]["properties"]["decryption"]["properties"])
        );
        assert_eq!(
            keys(&v["assets"][0]["exports"][0]),
            keys(&schema["$defs"]["asset"]["properties"]["exports"]["items"]["properties"])
        );
        assert_eq!(
            keys(&v["assets"][0]["stats"]),
            keys(&schema["$defs"]["asset"]["properties"]["stats"]["properties"])
        );
    }
}
