//! Recording events: the JSON Lines envelope and where events go (sinks).
//!
//! Every event is one JSON object on one line (NDJSON), the same bytes on
//! stdout, in an events file, in a webhook POST body and in a spool file:
//!
//! ```json
//! {"version":1,"id":"9c4b0f0e4d1f6f7b1c7f0a5e2d3c4b5a","type":"track.recording.success",
//!  "timestamp":"2026-11-23T10:31:09.980Z",
//!  "data":{"room_id":"room-7","session_id":"6560c6ad3f4a","peer_id":"p-host","track_id":"t-host-mic",
//!          "asset_id":"148bde51fc67dab45f377f3589f4082e","track_type":"audio","source":"regular",
//!          "codec":"opus","container":"ogg","path":"room-7/6560c6ad3f4a/p-host/t-host-mic.ogg",
//!          "size":481233,"duration_ms":1868860,"sha256":"e74231c0…"}}
//! ```
//!
//! (shown on several lines here; on the wire it is one line.)
//!
//! * `version`: the envelope format, [`EVENT_VERSION`] (1). Bumped only on
//!   incompatible changes; new fields may appear without a bump.
//! * `id`: stable for the same input: the first 128 bits of SHA-256 over the
//!   type, a NUL byte and the asset id, as 32 lowercase hex digits. Recording
//!   the same capture twice gives the same ids, and a replayed event keeps its
//!   id, so receivers deduplicate on it.
//! * `type`: one of
//!   - `track.recording.started.success`: the track's first packet was seen;
//!   - `track.recording.success`: the track's file is complete;
//!   - `track.recording.failure`: the track could not be recorded.
//!
//!   Every track that had media gets one started event, and every track
//!   exactly one terminal event (success or failure).
//! * `timestamp`: RFC 3339 UTC with milliseconds, from the **capture** (the
//!   track's first packet for started, its last packet for the terminal
//!   events), never the wall clock: the same input gives the same bytes.
//! * `data`: who the track is: `room_id`, `session_id`, `peer_id`,
//!   `track_id`, `asset_id` (the manifest's asset id), `track_type`
//!   (`audio` | `video`), `source` (`regular` | `screen`), and `codec` when
//!   known. Success adds `container`, `path` (relative to the output
//!   directory, `/`-separated), `size` (bytes), `duration_ms` and `sha256`
//!   (hex). Failure adds `error: { code, message }` with the manifest's stable
//!   codes (`unsupported-codec`, `unknown-codec`, `no-keyframe`,
//!   `no-decodable-frames`, `no-media`, `io-error`). Fields without a value are
//!   left out rather than written as `null`.
//!
//! Sinks ([`sink`]) write events to stdout, a file, nowhere, or a webhook
//! ([`webhook`]: Standard Webhooks signatures, retries, a circuit breaker, a
//! spool for what cannot be delivered; [`delivery`]: its own thread and
//! bounded queue; and [`replay`] to send a spool later).

pub mod delivery;
pub mod replay;
pub mod sink;
pub mod webhook;

use crate::assets::{Asset, Failure, Status};
use crate::session::{Kind, Source};
use crate::time::CaptureTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

pub use sink::{DeliveryReport, Notice, Sink, SinkError};

/// Version of the event envelope (bumped on incompatible changes).
pub const EVENT_VERSION: u32 = 1;

/// What happened to a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// `track.recording.started.success`: the track's first packet was seen.
    #[serde(rename = "track.recording.started.success")]
    Started,
    /// `track.recording.success`: the track's file is complete.
    #[serde(rename = "track.recording.success")]
    Success,
    /// `track.recording.failure`: the track could not be recorded.
    #[serde(rename = "track.recording.failure")]
    Failure,
}

impl EventType {
    /// The wire name, e.g. `track.recording.success`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Started => "track.recording.started.success",
            EventType::Success => "track.recording.success",
            EventType::Failure => "track.recording.failure",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable event id: first 128 bits of SHA-256 over `type`, NUL, `asset_id`, in hex.
pub fn event_id(event_type: EventType, asset_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(event_type.as_str().as_bytes());
    // NUL cannot occur in a type name, so (type, asset id) pairs never collide by concatenation.
    h.update([0]);
    h.update(asset_id.as_bytes());
    let d = h.finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// One recording event: the envelope documented in the module doc.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Envelope format version ([`EVENT_VERSION`]).
    pub version: u32,
    /// Stable id (see [`event_id`]).
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Capture time, RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// The track and, for terminal events, its file or failure.
    pub data: EventData,
}

/// The `data` object of an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    /// Room.
    pub room_id: String,
    /// Session.
    pub session_id: String,
    /// Peer.
    pub peer_id: String,
    /// Track.
    pub track_id: String,
    /// The manifest's asset id.
    pub asset_id: String,
    /// `audio` or `video`.
    pub track_type: Kind,
    /// `regular` or `screen`.
    pub source: Source,
    /// Codec name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Container (`ogg`, `webm`), success only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// File path relative to the output directory, success only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// File size in bytes, success only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Playable duration, success only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// SHA-256 of the file in hex, success only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why the track failed, failure only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
}

impl Event {
    /// `track.recording.started.success` for `asset`, at the capture time of its first packet.
    pub fn started(asset: &Asset, at: CaptureTime) -> Event {
        Event::build(EventType::Started, EventData::identity(asset), at)
    }

    /// The terminal event for `asset` at the capture time of its last packet:
    /// success when the asset is completed, failure (with its error) otherwise.
    pub fn finished(asset: &Asset, at: CaptureTime) -> Event {
        let mut data = EventData::identity(asset);
        let event_type = match asset.status {
            Status::Completed => {
                data.container = asset.container.clone();
                data.path = asset.path.clone();
                data.size = asset.size;
                data.duration_ms = asset.duration_ms;
                data.sha256 = asset.sha256.clone();
                EventType::Success
            }
            // Skipped tracks get no events from `record`; should one be asked for, it is not a success.
            Status::Failed | Status::Skipped => {
                // A failed asset always names its reason; the fallback keeps the event
                // well-formed if a caller ever forgets, rather than dropping it.
                data.error = Some(asset.error.clone().unwrap_or_else(|| Failure {
                    code: "unknown".into(),
                    message: "the track failed without a recorded reason".into(),
                }));
                EventType::Failure
            }
        };
        Event::build(event_type, data, at)
    }

    fn build(event_type: EventType, data: EventData, at: CaptureTime) -> Event {
        Event {
            version: EVENT_VERSION,
            id: event_id(event_type, &data.asset_id),
            event_type,
            timestamp: at.to_rfc3339_millis(),
            data,
        }
    }

    /// The envelope as one line of JSON, without the newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an Event has string keys and no non-finite floats")
    }
}

impl EventData {
    /// The fields every event carries.
    fn identity(asset: &Asset) -> EventData {
        EventData {
            room_id: asset.room_id.clone(),
            session_id: asset.session_id.clone(),
            peer_id: asset.peer_id.clone(),
            track_id: asset.track_id.clone(),
            asset_id: asset.id.clone(),
            track_type: asset.kind,
            source: asset.source,
            codec: asset.codec.clone(),
            container: None,
            path: None,
            size: None,
            duration_ms: None,
            sha256: None,
            error: None,
        }
    }
}

#[doc(hidden)]
/// A completed audio asset and a failed video asset, for tests of this module and its users.
pub mod fixtures {
    use crate::assets::{Asset, AssetStats, Failure, Status, asset_id};
    use crate::session::{Kind, Source};
    use crate::time::CaptureTime;

    /// Capture time of the fixtures' first packet: 2026-11-23T10:00:01.120Z.
    pub const T0: CaptureTime = CaptureTime::from_nanos(1_795_428_001_120_000_000);
    /// Capture time of the fixtures' last packet: 2026-11-23T10:31:09.980Z.
    pub const T1: CaptureTime = CaptureTime::from_nanos(1_795_429_869_980_000_000);

    /// An asset with the given track id and status.
    pub fn asset(track_id: &str, status: Status) -> Asset {
        let (kind, codec, container, ext) = if track_id.contains("cam") {
            (Kind::Video, "vp8", "webm", "webm")
        } else {
            (Kind::Audio, "opus", "ogg", "ogg")
        };
        let ok = status == Status::Completed;
        Asset {
            id: asset_id("room-7", "6560c6ad3f4a", "p-host", track_id),
            asset_type: "track".into(),
            room_id: "room-7".into(),
            session_id: "6560c6ad3f4a".into(),
            peer_id: "p-host".into(),
            track_id: track_id.into(),
            kind,
            source: Source::Regular,
            codec: Some(codec.into()),
            container: ok.then(|| container.into()),
            ssrc: Some("0x00002B67".into()),
            payload_type: Some(111),
            clock_rate: Some(48_000),
            path: ok.then(|| format!("room-7/6560c6ad3f4a/p-host/{track_id}.{ext}")),
            size: ok.then_some(481_233),
            sha256: ok.then(|| "ab".repeat(32)),
            started_at: Some(T0.to_rfc3339_millis()),
            stopped_at: Some(T1.to_rfc3339_millis()),
            duration_ms: ok.then_some(1_868_860),
            start_offset_ms: Some(0),
            start_offset_source: None,
            sender_clock: None,
            resolution: None,
            status,
            error: (!ok).then(|| Failure {
                code: "no-keyframe".into(),
                message: "no keyframe in 52 frames".into(),
            }),
            inferred: vec![],
            time_source: None,
            decryption: None,
            exports: Vec::new(),
            stats: AssetStats::default(),
        }
    }

    /// Started and terminal events for a completed mic and a failed camera, in emission order.
    pub fn events() -> Vec<super::Event> {
        let mic = asset("t-host-mic", Status::Completed);
        let cam = asset("t-host-cam", Status::Failed);
        vec![
            super::Event::started(&mic, T0),
            super::Event::started(&cam, T0),
            super::Event::finished(&mic, T1),
            super::Event::finished(&cam, T1),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn success_event_has_the_documented_shape() {
        let mic = asset("t-host-mic", Status::Completed);
        let ev = Event::finished(&mic, T1);
        let v: serde_json::Value = serde_json::from_str(&ev.to_json()).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["type"], "track.recording.success");
        assert_eq!(v["timestamp"], "2026-11-23T10:31:09.980Z");
        assert_eq!(v["id"], event_id(EventType::Success, &mic.id));
        let d = &v["data"];
        assert_eq!(d["asset_id"], mic.id.as_str());
        assert_eq!(d["track_type"], "audio");
        assert_eq!(d["source"], "regular");
        assert_eq!(d["codec"], "opus");
        assert_eq!(d["container"], "ogg");
        assert_eq!(d["path"], "room-7/6560c6ad3f4a/p-host/t-host-mic.ogg");
        assert_eq!(d["size"], 481_233);
        assert_eq!(d["duration_ms"], 1_868_860);
        assert_eq!(d["sha256"], "ab".repeat(32));
        assert!(d.get("error").is_none());
        assert!(!ev.to_json().contains('\n'));
    }

    #[test]
    fn failure_and_started_events_carry_only_their_fields() {
        let cam = asset("t-host-cam", Status::Failed);
        let fail: serde_json::Value =
            serde_json::from_str(&Event::finished(&cam, T1).to_json()).unwrap();
        assert_eq!(fail["type"], "track.recording.failure");
        assert_eq!(fail["data"]["track_type"], "video");
        assert_eq!(fail["data"]["error"]["code"], "no-keyframe");
        assert_eq!(fail["data"]["error"]["message"], "no keyframe in 52 frames");
        for absent in ["path", "size", "sha256", "container", "duration_ms"] {
            assert!(fail["data"].get(absent).is_none(), "{absent}");
        }
        let started: serde_json::Value =
            serde_json::from_str(&Event::started(&cam, T0).to_json()).unwrap();
        assert_eq!(started["type"], "track.recording.started.success");
        assert_eq!(started["timestamp"], "2026-11-23T10:00:01.120Z");
        assert!(started["data"].get("error").is_none());
        assert!(started["data"].get("path").is_none());
    }

    #[test]
    fn ids_are_stable_distinct_and_32_hex() {
        let evs = events();
        let again = events();
        assert_eq!(evs, again);
        let mut ids: Vec<&str> = evs.iter().map(|e| e.id.as_str()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4);
        // Pinned (computed independently with Python's hashlib): a change here changes every
        // receiver's dedup keys.
        assert_eq!(
            event_id(EventType::Success, "148bde51fc67dab45f377f3589f4082e"),
            "4b1f553bac8c8241fc676ff76930d7b0"
        );
    }

    /// The README's example envelope is what the code writes, byte for byte.
    #[test]
    fn readme_example_is_current() {
        let mic = asset("t-host-mic", Status::Completed);
        let line = Event::finished(&mic, T1).to_json();
        assert!(
            include_str!("../../README.md").contains(&format!("\n{line}\n")),
            "README.md's Events example is stale; it should read:\n{line}"
        );
    }

    /// schemas/events.schema.json lists exactly the fields the events serialise, and the
    /// fields it requires per type are present.
    #[test]
    fn events_schema_matches_the_structs() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/events.schema.json"))
                .expect("schema is JSON");
        let keys = |o: &serde_json::Value| -> std::collections::BTreeSet<String> {
            o.as_object().unwrap().keys().cloned().collect()
        };
        let mut data_keys = std::collections::BTreeSet::new();
        for ev in events() {
            let v = serde_json::to_value(&ev).unwrap();
            assert_eq!(keys(&v), keys(&schema["properties"]));
            data_keys.extend(keys(&v["data"]));
            let required = |r: &serde_json::Value| -> Vec<String> {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap().to_string())
                    .collect()
            };
            let mut need = required(&schema["properties"]["data"]["required"]);
            for rule in schema["allOf"].as_array().unwrap() {
                if rule["if"]["properties"]["type"]["const"] == v["type"] {
                    need.extend(required(&rule["then"]["properties"]["data"]["required"]));
                }
            }
            for k in need {
                assert!(v["data"].get(&k).is_some(), "{} lacks {k}", v["type"]);
            }
            let t = v["type"].clone();
            assert!(
                schema["properties"]["type"]["enum"]
                    .as_array()
                    .unwrap()
                    .contains(&t)
            );
        }
        assert_eq!(data_keys, keys(&schema["properties"]["data"]["properties"]));
    }

    #[test]
    fn events_round_trip_through_json() {
        for ev in events() {
            let back: Event = serde_json::from_str(&ev.to_json()).unwrap();
            assert_eq!(back, ev);
            assert_eq!(back.to_json(), ev.to_json());
        }
    }

    #[test]
    fn failed_asset_without_reason_still_yields_a_failure_event() {
        let mut cam = asset("t-host-cam", Status::Failed);
        cam.error = None;
        let ev = Event::finished(&cam, T1);
        assert_eq!(ev.event_type, EventType::Failure);
        assert_eq!(ev.data.error.unwrap().code, "unknown");
    }
}
