//! Session metadata JSON -> [`SessionMap`].
//!
//! The format is documented by `schemas/session-metadata.schema.json` (JSON
//! Schema draft 2020-12; a test keeps it in sync with the structs here). In short:
//! `room_id` (required), `session_id`, `peers[]` with `peer_id` (required), `name`,
//! `role`, `joined_at`/`left_at` (RFC 3339), `tracks[]` with `track_id` and `kind`
//! (required), `source`, `ssrc`/`rtx_ssrc`/`fec_ssrc` (integer or `"0x..."` hex
//! string), `codec`, payload types, `fec_scheme`, `clock_rate`, `channels`, `mid`, `rid`, `fmtp`, `srtp`.
//!
//! Unknown fields are warnings ([`SessionMap::notes`]) naming the file and the
//! JSON path, with "did you mean" for a near miss of a known name (`ssrcs`,
//! `trackId`): metadata exported by an SFU or a call platform carries fields
//! rtprec does not know, and one of them must not stop a whole recording.
//! [`UnknownFields::Reject`] (`record --strict-metadata`) makes them errors. A
//! misspelt required field is still an error (the field is missing), with the
//! suggestion. User data goes in an `extra` object, allowed on the session,
//! each peer and each track, passed through untouched and never checked.
//!
//! Tolerated: an unknown codec name (e.g. `h266`) is kept as
//! [`TrackSpec::codec_name`] with `codec: None`, so the pipeline can fail that
//! one track as unsupported. A known static payload type (RFC 3551) without a
//! codec names the codec; a known codec without `clock_rate` gets its usual RTP clock.
//!
//! Errors name the file, the JSON path (`peers[1].tracks[0].ssrc`) and, for
//! syntax and type errors, the line and column. SRTP keys never appear in errors.

use super::ids::{check_unique, escape, sanitize_id};
use super::{Kind, MetadataError, PeerSpec, SessionMap, Source, SrtpSpec, TrackSpec};
use crate::codec::{Codec, static_payload_type};
use crate::srtp::decode_base64;
use crate::time::CaptureTime;
use serde::Deserialize;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// What to do with fields the metadata format does not know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownFields {
    /// A note each ([`SessionMap::notes`]); the field is ignored.
    #[default]
    Warn,
    /// An error each (`record --strict-metadata`).
    Reject,
}

/// Reads and parses a metadata file, unknown fields being warnings.
pub fn load_metadata(path: &Path) -> Result<SessionMap, MetadataError> {
    load_metadata_with(path, UnknownFields::Warn)
}

/// Reads and parses a metadata file, treating unknown fields as `unknown` says.
pub fn load_metadata_with(
    path: &Path,
    unknown: UnknownFields,
) -> Result<SessionMap, MetadataError> {
    let text = std::fs::read_to_string(path).map_err(|source| MetadataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_metadata_with(&text, path, unknown)
}

/// Parses metadata JSON, unknown fields being warnings; `path` only names the file in messages.
pub fn parse_metadata(text: &str, path: &Path) -> Result<SessionMap, MetadataError> {
    parse_metadata_with(text, path, UnknownFields::Warn)
}

/// Parses metadata JSON, treating unknown fields as `unknown` says; `path` only names the file.
pub fn parse_metadata_with(
    text: &str,
    path: &Path,
    unknown: UnknownFields,
) -> Result<SessionMap, MetadataError> {
    let mut de = serde_json::Deserializer::from_str(text);
    // Typed first, straight from the text: its errors carry the line and column.
    let raw: Result<RawSession, _> = serde_path_to_error::deserialize(&mut de);
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            let at = e.path().to_string();
            let at = if at == "." || at == "?" { "" } else { &at };
            let inner = e.into_inner().to_string();
            let mut message = if at.is_empty() {
                inner.clone()
            } else {
                format!("{at}: {inner}")
            };
            // A misspelt required field fails as missing: name the near miss that was
            // probably meant for it (looked for only when the whole text is JSON).
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
                for u in unknown_fields(&v) {
                    if u.parent == at
                        && let Some(s) = u.suggestion
                        && inner.starts_with(&format!("missing field `{s}`"))
                    {
                        message.push_str(&format!("; {}: unknown field{}", u.at, u.hint()));
                    }
                }
            }
            return Err(invalid(path, message));
        }
    };
    de.end().map_err(|e| invalid(path, e.to_string()))?;
    // The typed parse succeeded, so the text is JSON: the second parse only finds
    // the keys the structs ignored, with their paths.
    let found = serde_json::from_str::<serde_json::Value>(text)
        .map(|v| unknown_fields(&v))
        .unwrap_or_default();
    build(raw, path, &found, unknown)
}

fn invalid(path: &Path, message: String) -> MetadataError {
    MetadataError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}

/// SRTP protection profiles rtprec can use, with their master key || salt length in bytes.
pub const SRTP_PROFILES: &[(&str, usize)] = &[
    ("AES_CM_128_HMAC_SHA1_80", 30),
    ("AES_CM_128_HMAC_SHA1_32", 30),
    ("AEAD_AES_128_GCM", 28),
    ("AEAD_AES_256_GCM", 44),
    ("AES_256_CM_HMAC_SHA1_80", 46),
    ("AES_256_CM_HMAC_SHA1_32", 46),
];

/// Master key || salt length of a supported SRTP profile, `None` when unsupported.
pub fn srtp_key_len(profile: &str) -> Option<usize> {
    SRTP_PROFILES
        .iter()
        .find(|(p, _)| *p == profile)
        .map(|(_, n)| *n)
}

/// Parses an RFC 3339 timestamp (`2026-11-23T10:00:00Z`, fractions and `+hh:mm` offsets allowed).
pub fn parse_rfc3339(s: &str) -> Result<CaptureTime, String> {
    let bad = |why: &str| Err(format!("{} is not an RFC 3339 timestamp: {why}", escape(s)));
    let b = s.as_bytes();
    if b.len() < 20 {
        return bad("too short");
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return bad("expected YYYY-MM-DDTHH:MM:SS");
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return bad("expected YYYY-MM-DDTHH:MM:SS");
    }
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return bad("no such date");
    }
    if h > 23 || mi > 59 || sec > 60 {
        return bad("no such time");
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return bad("empty fraction");
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (Some(oh), Some(om)) = (num(i + 1..i + 3), num(i + 4..i + 6)) else {
                return bad("bad offset");
            };
            if oh > 23 || om > 59 {
                return bad("bad offset");
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return bad("expected Z or +hh:mm after the time"),
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    Ok(CaptureTime::from_secs_nanos(secs, nanos))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// The JSON shapes. Field names here are the format: keep the schema file and the
// `*_FIELDS` lists in sync (the `schema_lists_every_field` test checks both).
// Unknown fields are not denied here: `unknown_fields` finds them, with their paths.

/// Fields of the top-level object.
const SESSION_FIELDS: &[&str] = &["room_id", "session_id", "peers", "extra"];
/// Fields of a peer.
const PEER_FIELDS: &[&str] = &[
    "peer_id",
    "name",
    "role",
    "joined_at",
    "left_at",
    "tracks",
    "extra",
];
/// Fields of a track.
const TRACK_FIELDS: &[&str] = &[
    "track_id",
    "kind",
    "source",
    "ssrc",
    "rtx_ssrc",
    "codec",
    "payload_type",
    "rtx_payload_type",
    "red_payload_type",
    "fec_scheme",
    "fec_payload_type",
    "fec_ssrc",
    "clock_rate",
    "channels",
    "mid",
    "rid",
    "fmtp",
    "srtp",
    "extra",
];
/// Fields of a track's `srtp`.
const SRTP_FIELDS: &[&str] = &["profile", "key_base64", "key_file", "key_env"];

/// A key the format does not know, where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
struct UnknownField {
    /// JSON path of the key, e.g. `peers[0].tracks[1].rtcp_mux`.
    at: String,
    /// JSON path of the object holding it (`""` for the top level).
    parent: String,
    /// The known field of that object it is a near miss of.
    suggestion: Option<&'static str>,
}

impl UnknownField {
    /// ` (did you mean `track_id`?)` or nothing.
    fn hint(&self) -> String {
        self.suggestion
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default()
    }
}

/// Every key of `v` outside the format, with its path: the top level, peers,
/// tracks and `srtp`. Shapes the typed parse rejects (a string where an array
/// belongs) are skipped here; `extra` objects are user data and never looked into.
fn unknown_fields(v: &serde_json::Value) -> Vec<UnknownField> {
    let mut out = Vec::new();
    check_object(v, "", SESSION_FIELDS, &mut out);
    let peers = v.get("peers").and_then(|p| p.as_array());
    for (pi, peer) in peers.into_iter().flatten().enumerate() {
        let at = format!("peers[{pi}]");
        check_object(peer, &at, PEER_FIELDS, &mut out);
        let tracks = peer.get("tracks").and_then(|t| t.as_array());
        for (ti, track) in tracks.into_iter().flatten().enumerate() {
            let at = format!("{at}.tracks[{ti}]");
            check_object(track, &at, TRACK_FIELDS, &mut out);
            if let Some(srtp) = track.get("srtp") {
                check_object(srtp, &format!("{at}.srtp"), SRTP_FIELDS, &mut out);
            }
        }
    }
    out
}

fn check_object(
    v: &serde_json::Value,
    at: &str,
    known: &[&'static str],
    out: &mut Vec<UnknownField>,
) {
    let Some(o) = v.as_object() else { return };
    // serde_json's map is sorted: an object's unknown keys come alphabetically.
    for key in o.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        // A key is text from someone else's system: quote anything that is not a
        // plain name, so the path stays readable and control characters never reach a terminal.
        let plain = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let name = if plain { key.clone() } else { escape(key) };
        out.push(UnknownField {
            at: if at.is_empty() {
                name
            } else {
                format!("{at}.{name}")
            },
            parent: at.to_string(),
            suggestion: suggest(key, known),
        });
    }
}

/// The known name `key` is most likely a misspelling of: the same up to case,
/// `_` and `-` (`trackId`, `TRACK-ID`), or within a small edit distance (`ssrcs`,
/// `trackid`). The distance allowed is 1 for keys shorter than 5 characters and 2
/// otherwise, so that short unrelated names (`note`, `name`) are not matched.
fn suggest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let k = norm(key);
    if let Some(f) = known.iter().find(|f| norm(f) == k) {
        return Some(f);
    }
    let limit = if key.chars().count() < 5 { 1 } else { 2 };
    let lower = key.to_lowercase();
    known
        .iter()
        .map(|f| (strsim::levenshtein(&lower, f), *f))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

#[derive(Deserialize)]
struct RawSession {
    room_id: String,
    #[serde(default)]
    session_id: Option<String>,
    peers: Vec<RawPeer>,
    #[serde(default)]
    extra: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawPeer {
    peer_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, deserialize_with = "de_time")]
    joined_at: Option<CaptureTime>,
    #[serde(default, deserialize_with = "de_time")]
    left_at: Option<CaptureTime>,
    #[serde(default)]
    tracks: Vec<RawTrack>,
    #[serde(default)]
    extra: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawTrack {
    track_id: String,
    kind: Kind,
    #[serde(default)]
    source: Source,
    #[serde(default, deserialize_with = "de_ssrc")]
    ssrc: Option<u32>,
    #[serde(default, deserialize_with = "de_ssrc")]
    rtx_ssrc: Option<u32>,
    #[serde(default)]
    codec: Option<String>,
    #[serde(default)]
    payload_type: Option<u8>,
    #[serde(default)]
    rtx_payload_type: Option<u8>,
    #[serde(default)]
    red_payload_type: Option<u8>,
    #[serde(default)]
    fec_scheme: Option<crate::track::fec::FecScheme>,
    #[serde(default)]
    fec_payload_type: Option<u8>,
    #[serde(default, deserialize_with = "de_ssrc")]
    fec_ssrc: Option<u32>,
    #[serde(default)]
    clock_rate: Option<u32>,
    #[serde(default)]
    channels: Option<u8>,
    #[serde(default)]
    mid: Option<String>,
    #[serde(default)]
    rid: Option<String>,
    #[serde(default)]
    fmtp: Option<String>,
    #[serde(default)]
    srtp: Option<RawSrtp>,
    #[serde(default)]
    extra: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawSrtp {
    profile: String,
    #[serde(default)]
    key_base64: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    key_env: Option<String>,
}

/// The base64 key of `srtp` and the field it came from: `key_base64` itself, the
/// contents of `key_file` (relative to the metadata file) or the environment variable
/// `key_env`, surrounding whitespace trimmed. Exactly one must be given.
fn srtp_key_text(
    p: &mut Problems,
    at: &str,
    s: &RawSrtp,
    path: &Path,
) -> Option<(&'static str, String)> {
    match (&s.key_base64, &s.key_file, &s.key_env) {
        (Some(k), None, None) => Some(("key_base64", k.clone())),
        (None, Some(f), None) => {
            let file = path.parent().unwrap_or(Path::new("")).join(f);
            match std::fs::read_to_string(&file) {
                Ok(text) => Some(("key_file", text.trim().to_string())),
                Err(e) => {
                    let at = format!("{at}.srtp.key_file");
                    p.push(&at, format_args!("cannot read {}: {e}", file.display()));
                    None
                }
            }
        }
        (None, None, Some(v)) => match std::env::var(v) {
            Ok(text) => Some(("key_env", text.trim().to_string())),
            Err(_) => {
                let at = format!("{at}.srtp.key_env");
                p.push(
                    &at,
                    format_args!("environment variable {} is not set", escape(v)),
                );
                None
            }
        },
        _ => {
            let at = format!("{at}.srtp");
            p.push(&at, "needs exactly one of key_base64, key_file, key_env");
            None
        }
    }
}

fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CaptureTime>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse_rfc3339(&s).map(Some).map_err(de::Error::custom),
    }
}

/// Parses an SSRC written as decimal or `0x` hex text.
pub(crate) fn parse_ssrc_text(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.len() <= 8 => u32::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

fn de_ssrc<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u32>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an SSRC: an integer 0..=4294967295 or a hex string like \"0x1A2B3C4D\"")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            u32::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u32::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_ssrc_text(v)
                .map(Some)
                .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
        }
    }
    d.deserialize_option(V)
}

/// Collects validation problems, each prefixed with its JSON path.
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, at: &str, msg: impl fmt::Display) {
        self.0.push(format!("{at}: {msg}"));
    }

    fn id(&mut self, at: &str, id: &str) -> String {
        match sanitize_id(at, id) {
            Ok(s) => s,
            Err(e) => {
                self.0.push(e.to_string());
                String::from("_")
            }
        }
    }

    fn into_result(self, path: &Path) -> Result<(), MetadataError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(invalid(path, self.0.into_iter().next().unwrap_or_default())),
            n => Err(invalid(
                path,
                format!("{n} problems:\n  {}", self.0.join("\n  ")),
            )),
        }
    }
}

fn build(
    raw: RawSession,
    path: &Path,
    found: &[UnknownField],
    unknown: UnknownFields,
) -> Result<SessionMap, MetadataError> {
    let mut p = Problems(Vec::new());
    let mut notes = Vec::new();
    for u in found {
        match unknown {
            UnknownFields::Warn => notes.push(format!(
                "{}: {}: unknown field, ignored{}",
                path.display(),
                u.at,
                u.hint()
            )),
            UnknownFields::Reject => p.push(
                &u.at,
                format_args!("unknown field, rejected by --strict-metadata{}", u.hint()),
            ),
        }
    }
    let room_id = p.id("room_id", &raw.room_id);
    let session_id = raw.session_id.as_deref().map(|s| p.id("session_id", s));
    let mut peers = Vec::with_capacity(raw.peers.len());
    // SSRC -> JSON path of its first use, across all peers.
    let mut ssrcs: BTreeMap<u32, String> = BTreeMap::new();
    for (pi, rp) in raw.peers.iter().enumerate() {
        let at = format!("peers[{pi}]");
        let mut peer = PeerSpec::new(p.id(&format!("{at}.peer_id"), &rp.peer_id));
        peer.name = rp.name.clone();
        peer.role = rp.role.clone();
        peer.joined_at = rp.joined_at;
        peer.left_at = rp.left_at;
        peer.origin = Some(path.to_path_buf());
        peer.extra = rp.extra.clone().map(serde_json::Value::Object);
        if let (Some(j), Some(l)) = (rp.joined_at, rp.left_at)
            && l < j
        {
            p.push(
                &format!("{at}.left_at"),
                format_args!("{l} is before joined_at {j}"),
            );
        }
        for (ti, rt) in rp.tracks.iter().enumerate() {
            let at = format!("{at}.tracks[{ti}]");
            let track = build_track(&mut p, &at, rt, path);
            for (field, ssrc) in [
                ("ssrc", track.ssrc),
                ("rtx_ssrc", track.rtx_ssrc),
                ("fec_ssrc", track.fec_ssrc),
            ] {
                let Some(ssrc) = ssrc else { continue };
                let here = format!("{at}.{field}");
                if let Some(first) = ssrcs.get(&ssrc) {
                    p.push(
                        &here,
                        format_args!("ssrc={ssrc:#010x} is already used at {first}"),
                    );
                } else {
                    ssrcs.insert(ssrc, here);
                }
            }
            peer.tracks.push(track);
        }
        let tracks = rp.tracks.iter().zip(&peer.tracks).enumerate();
        let items = tracks.map(|(ti, (rt, t))| {
            (
                format!("{at}.tracks[{ti}].track_id"),
                rt.track_id.as_str(),
                t.track_id.as_str(),
            )
        });
        if let Err(e) = check_unique("track_id", items) {
            p.0.push(e.to_string());
        }
        peers.push(peer);
    }
    // A peer that leaves and comes back appears once per presence: the same
    // peer_id again, with its own tracks, as long as the presences do not overlap.
    let rejoins = |a: &PeerSpec, b: &PeerSpec| -> bool {
        let (first, then) = if a.joined_at <= b.joined_at {
            (a, b)
        } else {
            (b, a)
        };
        matches!((first.left_at, then.joined_at), (Some(l), Some(j)) if l <= j)
    };
    let conflict = (0..peers.len()).find_map(|b| {
        let a = (0..b).find(|&a| {
            peers[a].peer_id == peers[b].peer_id
                && !(raw.peers[a].peer_id == raw.peers[b].peer_id && rejoins(&peers[a], &peers[b]))
        })?;
        Some((a, b))
    });
    if let Some((a, b)) = conflict {
        let item = |i: usize| {
            (
                format!("peers[{i}].peer_id"),
                raw.peers[i].peer_id.as_str(),
                peers[i].peer_id.as_str(),
            )
        };
        if let Err(e) = check_unique("peer_id", [item(a), item(b)]) {
            let mut msg = e.to_string();
            if raw.peers[a].peer_id == raw.peers[b].peer_id {
                msg.push_str(
                    ": a peer that leaves and rejoins appears once per presence, the earlier entry with a left_at at or before the later one's joined_at",
                );
            }
            p.0.push(msg);
        }
    }
    p.into_result(path)?;
    Ok(SessionMap {
        room_id,
        session_id,
        peers,
        notes,
        extra: raw.extra.map(serde_json::Value::Object),
    })
}

fn build_track(p: &mut Problems, at: &str, rt: &RawTrack, path: &Path) -> TrackSpec {
    let mut t = TrackSpec::new(p.id(&format!("{at}.track_id"), &rt.track_id), rt.kind);
    t.source = rt.source;
    t.ssrc = rt.ssrc;
    t.rtx_ssrc = rt.rtx_ssrc;
    t.codec_name = rt.codec.clone();
    t.codec = rt.codec.as_deref().and_then(Codec::from_name);
    for (field, pt) in [
        ("payload_type", rt.payload_type),
        ("rtx_payload_type", rt.rtx_payload_type),
        ("red_payload_type", rt.red_payload_type),
        ("fec_payload_type", rt.fec_payload_type),
    ] {
        if let Some(pt) = pt
            && pt > 127
        {
            p.push(
                &format!("{at}.{field}"),
                format_args!("{pt} is not an RTP payload type (0..=127)"),
            );
        }
    }
    t.payload_type = rt.payload_type;
    t.rtx_payload_type = rt.rtx_payload_type;
    t.red_payload_type = rt.red_payload_type;
    t.fec_scheme = rt.fec_scheme;
    t.fec_payload_type = rt.fec_payload_type;
    t.fec_ssrc = rt.fec_ssrc;
    if (t.fec_payload_type.is_some() || t.fec_ssrc.is_some()) && t.fec_scheme.is_none() {
        p.push(
            &format!("{at}.fec_scheme"),
            format_args!(
                "is required with fec_payload_type or fec_ssrc (ulpfec, flexfec or flexfec-03)"
            ),
        );
    }
    if t.codec_name.is_none()
        && let Some(s) = rt.payload_type.and_then(static_payload_type)
    {
        t.codec = Some(s.codec);
    }
    if let Some(codec) = t.codec
        && codec.kind() != rt.kind
    {
        let name = serde_json::to_string(&codec).unwrap_or_default();
        let field = if t.codec_name.is_some() {
            "codec"
        } else {
            "payload_type"
        };
        let want = match codec.kind() {
            Kind::Audio => "an audio",
            Kind::Video => "a video",
        };
        let kind = serde_json::to_string(&rt.kind).unwrap_or_default();
        p.push(
            &format!("{at}.{field}"),
            format_args!("{name} is {want} codec but kind is {kind}"),
        );
    }
    if rt.clock_rate == Some(0) {
        p.push(&format!("{at}.clock_rate"), "must be positive");
    }
    t.clock_rate = rt
        .clock_rate
        // The payload type is not passed: a static one's clock is the recorder's to fill.
        .or_else(|| t.codec.and_then(|c| c.default_clock_rate(None)));
    if rt.channels == Some(0) {
        p.push(&format!("{at}.channels"), "must be positive");
    }
    t.channels = rt.channels;
    t.mid = rt.mid.clone();
    t.rid = rt.rid.clone();
    t.fmtp = rt.fmtp.clone();
    if let Some(s) = &rt.srtp
        && let Some((field, key)) = srtp_key_text(p, at, s, path)
    {
        match srtp_key_len(&s.profile) {
            None => p.push(
                &format!("{at}.srtp.profile"),
                format_args!(
                    "{} is not a supported SRTP profile (one of {})",
                    escape(&s.profile),
                    SRTP_PROFILES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            // Never print the key itself, not even when it is wrong.
            Some(want) => match decode_base64(&key).map(|k| k.len()) {
                None => p.push(&format!("{at}.srtp.{field}"), "is not base64"),
                Some(n) if n != want => p.push(
                    &format!("{at}.srtp.{field}"),
                    format_args!(
                        "decodes to {n} bytes, {} needs {want} (master key || salt)",
                        s.profile
                    ),
                ),
                Some(_) => {
                    let spec = SrtpSpec {
                        profile: s.profile.clone(),
                        key_base64: key,
                    };
                    t.srtp_candidates.push(spec.clone());
                    t.srtp = Some(spec);
                }
            },
        }
    }
    if rt.srtp.is_some() {
        // A key in metadata is SDES-style keying: the track's media is SRTP.
        t.protection = Some(super::Protection::Sdes);
    }
    t.extra = rt.extra.clone().map(serde_json::Value::Object);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SessionMap, String> {
        parse_metadata(text, Path::new("m.json")).map_err(|e| e.to_string())
    }

    const MINIMAL: &str = r#"{"room_id": "r", "peers": [{"peer_id": "p", "tracks": [{"track_id": "t", "kind": "audio"}]}]}"#;

    #[test]
    fn minimal() {
        let m = parse(MINIMAL).unwrap();
        assert_eq!(m.room_id, "r");
        assert_eq!(m.session_id, None);
        assert_eq!(m.peers[0].peer_id, "p");
        assert_eq!(m.peers[0].origin.as_deref(), Some(Path::new("m.json")));
        let t = &m.peers[0].tracks[0];
        assert_eq!(t, &TrackSpec::new("t", Kind::Audio));
    }

    #[test]
    fn design_sketch_parses() {
        let text = r#"{
  "room_id": "room-7",
  "session_id": "6560c6ad3f4a",
  "peers": [
    { "peer_id": "p-host", "name": "Host", "role": "host",
      "joined_at": "2026-11-23T10:00:00Z", "left_at": "2026-11-23T10:31:10Z",
      "tracks": [
        { "track_id": "t-host-mic", "kind": "audio", "source": "regular",
          "ssrc": 11111, "codec": "opus", "payload_type": 111, "clock_rate": 48000, "channels": 2,
          "red_payload_type": 63,
          "srtp": { "profile": "AES_CM_128_HMAC_SHA1_80", "key_base64": "9sOd+W72ilwfNgNt0FzlGYj6YZPMqN1sJJx43UuS" } },
        { "track_id": "t-host-cam", "kind": "video", "source": "regular",
          "ssrc": 22222, "rtx_ssrc": 22223, "codec": "vp8", "payload_type": 96, "rtx_payload_type": 97,
          "clock_rate": 90000 },
        { "track_id": "t host screen", "kind": "video", "source": "screen",
          "ssrc": "0x1A2B3C4D", "codec": "h266", "payload_type": 98,
          "extra": {"anything": [1, 2]} }
      ] }
  ],
  "extra": {"crm": "x"}
}"#;
        let m = parse(text).unwrap();
        let p = &m.peers[0];
        assert_eq!(
            p.joined_at,
            Some(parse_rfc3339("2026-11-23T10:00:00Z").unwrap())
        );
        assert_eq!(
            p.left_at.unwrap().nanos_since(p.joined_at.unwrap()),
            1870 * 1_000_000_000
        );
        let mic = &p.tracks[0];
        assert_eq!(
            (mic.codec, mic.ssrc, mic.red_payload_type),
            (Some(Codec::Opus), Some(11111), Some(63))
        );
        assert_eq!(
            mic.srtp.as_ref().unwrap().profile,
            "AES_CM_128_HMAC_SHA1_80"
        );
        assert_eq!(mic.srtp_candidates.len(), 1);
        let cam = &p.tracks[1];
        assert_eq!(
            (cam.rtx_ssrc, cam.rtx_payload_type, cam.clock_rate),
            (Some(22223), Some(97), Some(90000))
        );
        let screen = &p.tracks[2];
        assert_eq!(screen.track_id, "t_host_screen");
        assert_eq!(screen.source, Source::Screen);
        assert_eq!(screen.ssrc, Some(0x1A2B3C4D));
        assert!(screen.is_unsupported_codec());
        assert_eq!(screen.codec_name.as_deref(), Some("h266"));
        assert_eq!(screen.extra, Some(serde_json::json!({"anything": [1, 2]})));
        assert_eq!(m.extra, Some(serde_json::json!({"crm": "x"})));
        assert_eq!(m.track_by_ssrc(22222).unwrap().1.track_id, "t-host-cam");
        assert_eq!(m.track_by_rtx_ssrc(22223).unwrap().1.track_id, "t-host-cam");
        // Keys are never printed.
        assert!(!format!("{m:?}").contains("9sOd"));
    }

    #[test]
    fn defaults_from_codec_and_static_pt() {
        let text = r#"{"room_id": "r", "peers": [{"peer_id": "p", "tracks": [
            {"track_id": "a", "kind": "audio", "payload_type": 8},
            {"track_id": "b", "kind": "audio", "codec": "OPUS"},
            {"track_id": "c", "kind": "video", "codec": "h264", "clock_rate": 90000, "ssrc": null}]}]}"#;
        let m = parse(text).unwrap();
        let t = &m.peers[0].tracks;
        assert_eq!(
            (t[0].codec, t[0].clock_rate, t[0].codec_name.as_deref()),
            (Some(Codec::Pcma), Some(8000), None)
        );
        assert_eq!(
            (t[1].codec, t[1].clock_rate),
            (Some(Codec::Opus), Some(48000))
        );
        assert_eq!((t[2].codec, t[2].ssrc), (Some(Codec::H264), None));
    }

    /// (metadata, expected error text), one problem each.
    #[test]
    fn errors_name_file_and_json_path() {
        let track = |t: &str| {
            format!(
                r#"{{"room_id": "r", "peers": [{{"peer_id": "p", "tracks": [{{"track_id": "t0", "kind": "audio"}}, {t}]}}]}}"#
            )
        };
        let cases: Vec<(String, &str)> = vec![
            ("{".into(), "m.json: EOF while parsing an object at line 1 column 1"),
            ("{\"room_id\": \"r\",\n \"peers\": [}".into(), "m.json: peers[0]: expected value at line 2 column 12"),
            (r#"{"peers": []}"#.into(), "m.json: missing field `room_id` at line 1 column 13"),
            (r#"{"room_id": "r", "peers": []} []"#.into(), "m.json: trailing characters at line 1 column 31"),
            (r#"{"room_id": "..", "peers": []}"#.into(), "m.json: room_id \"..\": is a relative path component (`.` or `..`)"),
            (r#"{"room_id": "r", "session_id": "a/b", "peers": []}"#.into(), "m.json: session_id \"a/b\": contains a path separator (`/` or `\\`)"),
            (track(r#"{"track_id": "t1", "kind": "audio", "ssrc": "0xZZ"}"#), "m.json: peers[0].tracks[1].ssrc: invalid value: string \"0xZZ\", expected an SSRC: an integer 0..=4294967295 or a hex string like \"0x1A2B3C4D\" at line 1 column 142"),
            (track(r#"{"track_id": "t1", "kind": "audio", "ssrc": 4294967296}"#), "m.json: peers[0].tracks[1].ssrc: invalid value: integer `4294967296`, expected an SSRC: an integer 0..=4294967295 or a hex string like \"0x1A2B3C4D\" at line 1 column 146"),
            (track(r#"{"track_id": "t1", "kind": "data"}"#), "m.json: peers[0].tracks[1].kind: unknown variant `data`, expected `audio` or `video` at line 1 column 125"),
            (track(r#"{"track_id": "t1", "kind": "video", "fec_payload_type": 122}"#), "m.json: peers[0].tracks[1].fec_scheme: is required with fec_payload_type or fec_ssrc (ulpfec, flexfec or flexfec-03)"),
            (track(r#"{"track_id": "t1", "kind": "video", "codec": "opus"}"#), "m.json: peers[0].tracks[1].codec: \"opus\" is an audio codec but kind is \"video\""),
            (track(r#"{"track_id": "t1", "kind": "video", "payload_type": 0}"#), "m.json: peers[0].tracks[1].payload_type: \"pcmu\" is an audio codec but kind is \"video\""),
            (track(r#"{"track_id": "t1", "kind": "audio", "payload_type": 128}"#), "m.json: peers[0].tracks[1].payload_type: 128 is not an RTP payload type (0..=127)"),
            (track(r#"{"track_id": "t1", "kind": "audio", "red_payload_type": 255}"#), "m.json: peers[0].tracks[1].red_payload_type: 255 is not an RTP payload type (0..=127)"),
            (track(r#"{"track_id": "t1", "kind": "audio", "payload_type": 256}"#), "m.json: peers[0].tracks[1].payload_type: invalid value: integer `256`, expected u8 at line 1 column 147"),
            (track(r#"{"track_id": "t0", "kind": "audio"}"#), "m.json: track_id \"t0\" (at peers[0].tracks[1].track_id) is the same as \"t0\" (at peers[0].tracks[0].track_id) after sanitising"),
            (track(r#"{"track_id": "t\u0000", "kind": "audio"}"#), "m.json: peers[0].tracks[1].track_id \"t\\u{0}\": contains a control character"),
            (track(r#"{"track_id": "t1", "kind": "audio", "clock_rate": 0}"#), "m.json: peers[0].tracks[1].clock_rate: must be positive"),
            (track(r#"{"track_id": "t1", "kind": "audio", "srtp": {"profile": "NULL", "key_base64": "c2VjcmV0"}}"#), "m.json: peers[0].tracks[1].srtp.profile: \"NULL\" is not a supported SRTP profile (one of AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM, AES_256_CM_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32)"),
            (track(r#"{"track_id": "t1", "kind": "audio", "srtp": {"profile": "AES_CM_128_HMAC_SHA1_80", "key_base64": "c2VjcmV0"}}"#), "m.json: peers[0].tracks[1].srtp.key_base64: decodes to 6 bytes, AES_CM_128_HMAC_SHA1_80 needs 30 (master key || salt)"),
            (track(r#"{"track_id": "t1", "kind": "audio", "srtp": {"profile": "AES_CM_128_HMAC_SHA1_80", "key_base64": "secret!"}}"#), "m.json: peers[0].tracks[1].srtp.key_base64: is not base64"),
            (
                r#"{"room_id": "r", "peers": [{"peer_id": "a", "joined_at": "2026-11-23T10:00:00Z", "left_at": "2026-11-23T09:00:00+00:30"}]}"#.into(),
                "m.json: peers[0].left_at: 2026-11-23T08:30:00.000Z is before joined_at 2026-11-23T10:00:00.000Z",
            ),
            (r#"{"room_id": "r", "peers": [{"peer_id": "a", "joined_at": "2026-02-30T10:00:00Z"}]}"#.into(), "m.json: peers[0].joined_at: \"2026-02-30T10:00:00Z\" is not an RFC 3339 timestamp: no such date at line 1 column 80"),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(text, want)| {
                let got = parse(text).unwrap_err();
                (got != *want).then(|| format!("{text}\n  got:  {got:?}\n  want: {want:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    fn notes(text: &str) -> Vec<String> {
        parse_metadata(text, Path::new("m.json")).unwrap().notes
    }

    fn strict(text: &str) -> Result<SessionMap, String> {
        parse_metadata_with(text, Path::new("m.json"), UnknownFields::Reject)
            .map_err(|e| e.to_string())
    }

    /// Unknown keys at every level are notes naming the file and the JSON path; the
    /// rest of the metadata is used as if they were absent.
    #[test]
    fn unknown_fields_are_notes_with_paths() {
        let text = r#"{"room_id": "r", "note": "from the SFU", "peers": [
            {"peer_id": "a", "tracks": []},
            {"peer_id": "b", "Name": "Bob", "tracks": [
                {"track_id": "t0", "kind": "audio", "ssrc": 5},
                {"track_id": "t1", "kind": "video", "rtcp_mux": true, "ssrcs": [6], "trackId": "x",
                 "srtp": {"profile": "AES_CM_128_HMAC_SHA1_80", "key_base64": "9sOd+W72ilwfNgNt0FzlGYj6YZPMqN1sJJx43UuS", "mki": 1},
                 "extra": {"anything": {"goes": 1}}}]}],
            "weird key\u0007": {"nested": {"deep": 1}}}"#;
        let m = parse(text).unwrap();
        assert_eq!(m.peers[1].tracks[0].ssrc, Some(5));
        assert_eq!(m.peers[1].tracks[1].track_id, "t1");
        assert_eq!(m.peers[1].name, None);
        assert_eq!(
            m.notes,
            [
                "m.json: note: unknown field, ignored",
                "m.json: \"weird key\\u{7}\": unknown field, ignored",
                "m.json: peers[1].Name: unknown field, ignored (did you mean `name`?)",
                "m.json: peers[1].tracks[1].rtcp_mux: unknown field, ignored",
                "m.json: peers[1].tracks[1].ssrcs: unknown field, ignored (did you mean `ssrc`?)",
                "m.json: peers[1].tracks[1].trackId: unknown field, ignored (did you mean `track_id`?)",
                "m.json: peers[1].tracks[1].srtp.mki: unknown field, ignored",
            ]
        );
        // Known fields only: no notes (the examples in testdata/ are checked likewise).
        assert!(notes(MINIMAL).is_empty());
    }

    #[test]
    fn strict_unknown_fields_are_errors() {
        let text = r#"{"room_id": "r", "note": 1, "peers": [{"peer_id": "a", "tracks": [
            {"track_id": "t", "kind": "audio", "rtcp_mux": true, "codecs": "opus"}]}]}"#;
        assert_eq!(
            strict(text).unwrap_err(),
            "m.json: 3 problems:\n  note: unknown field, rejected by --strict-metadata\n  \
             peers[0].tracks[0].codecs: unknown field, rejected by --strict-metadata (did you mean `codec`?)\n  \
             peers[0].tracks[0].rtcp_mux: unknown field, rejected by --strict-metadata"
        );
        let m = strict(MINIMAL).unwrap();
        assert!(m.notes.is_empty());
    }

    /// A misspelt required field is missing, an error even when unknown fields are
    /// only warnings; the error names the near miss.
    #[test]
    fn misspelt_required_field_is_an_error_with_the_suggestion() {
        let text = r#"{"room_id": "r", "peers": [{"peer_id": "a", "tracks": [{"trackid": "t", "kind": "audio"}]}]}"#;
        let want = "m.json: peers[0].tracks[0]: missing field `track_id` at line 1 column 88; \
                    peers[0].tracks[0].trackid: unknown field (did you mean `track_id`?)";
        assert_eq!(parse(text).unwrap_err(), want);
        assert_eq!(strict(text).unwrap_err(), want);
        let top = r#"{"roomId": "r", "peers": []}"#;
        assert_eq!(
            parse(top).unwrap_err(),
            "m.json: missing field `room_id` at line 1 column 28; roomId: unknown field (did you mean `room_id`?)"
        );
        // An unrelated unknown field is not offered as the missing one.
        let other = r#"{"room_id": "r", "peers": [{"peerid": "a"}, {"rtcp_mux": 1}]}"#;
        assert_eq!(
            parse(other).unwrap_err(),
            "m.json: peers[0]: missing field `peer_id` at line 1 column 42; peers[0].peerid: unknown field (did you mean `peer_id`?)"
        );
    }

    #[test]
    fn suggestions() {
        for (key, want) in [
            ("trackid", Some("track_id")),
            ("TrackID", Some("track_id")),
            ("track-id", Some("track_id")),
            ("ssrcs", Some("ssrc")),
            ("SSRC", Some("ssrc")),
            ("rtx_ssrcs", Some("rtx_ssrc")),
            ("clockrate", Some("clock_rate")),
            ("clock_rte", Some("clock_rate")),
            ("kinds", Some("kind")),
            ("mids", Some("mid")),
            ("fmtps", Some("fmtp")),
            ("payload", None),
            ("rtcp_mux", None),
            ("note", None),
            ("x", None),
            ("", None),
        ] {
            assert_eq!(suggest(key, TRACK_FIELDS), want, "{key}");
        }
        // Near misses only of the object's own fields: `name` is a peer's, not a track's.
        assert_eq!(suggest("nme", PEER_FIELDS), Some("name"));
        assert_eq!(suggest("nme", TRACK_FIELDS), None);
        // Short keys get one edit, not two: `note` is not `name`.
        assert_eq!(suggest("note", PEER_FIELDS), None);
        assert_eq!(suggest("rol", PEER_FIELDS), Some("role"));
    }

    #[test]
    fn several_problems_are_listed_together() {
        let text = r#"{"room_id": "r", "peers": [
            {"peer_id": "a b", "tracks": [{"track_id": "m", "kind": "audio", "ssrc": 7}]},
            {"peer_id": "a+b", "tracks": [{"track_id": "m", "kind": "audio", "ssrc": "0x7"}]}]}"#;
        assert_eq!(
            parse(text).unwrap_err(),
            "m.json: 2 problems:\n  peers[1].tracks[0].ssrc: ssrc=0x00000007 is already used at peers[0].tracks[0].ssrc\n  \
             peer_id \"a+b\" (at peers[1].peer_id) is the same as \"a b\" (at peers[0].peer_id) after sanitising"
        );
        let rtx = r#"{"room_id": "r", "peers": [{"peer_id": "a", "tracks": [{"track_id": "m", "kind": "video", "ssrc": 7, "rtx_ssrc": 7}]}]}"#;
        assert_eq!(
            parse(rtx).unwrap_err(),
            "m.json: peers[0].tracks[0].rtx_ssrc: ssrc=0x00000007 is already used at peers[0].tracks[0].ssrc"
        );
    }

    #[test]
    fn keys_never_in_errors() {
        for key in [
            "Dyx7iKCU5AiJVgclTHa2wjdB6GwL7RtvihVePyoJ",
            "Dyx7iKCU5AiJVgclTHa2",
            "Dyx7iKC!",
        ] {
            for profile in ["AEAD_AES_256_GCM", "NOPE"] {
                let text = format!(
                    r#"{{"room_id": "r", "peers": [{{"peer_id": "a", "tracks": [{{"track_id": "m", "kind": "audio", "srtp": {{"profile": "{profile}", "key_base64": "{key}"}}}}]}}]}}"#
                );
                let e = parse(&text).unwrap_err();
                assert!(!e.contains("Dyx7"), "{e}");
            }
        }
        // A key where a string is expected elsewhere in the object is a type error without the key.
        let text = r#"{"room_id": "r", "peers": [{"peer_id": "a", "tracks": [{"track_id": "m", "kind": "audio", "srtp": {"profile": "AES_CM_128_HMAC_SHA1_80", "key_base64": 5}}]}]}"#;
        assert!(
            parse(text)
                .unwrap_err()
                .contains("key_base64: invalid type")
        );
    }

    proptest::proptest! {
        /// Arbitrary text and mangled examples never panic.
        #[test]
        fn never_panics(text in "[ -~\\n]{0,200}", cut in 0usize..2000) {
            let _ = parse(&text);
            let demo = include_str!("../../testdata/demo-2peers-opus-vp8.session.json");
            let at = demo.char_indices().map(|(i, _)| i).find(|i| *i >= cut % demo.len()).unwrap_or(0);
            let _ = parse(&demo[..at]);
            let _ = parse_rfc3339(&text);
        }
    }

    #[test]
    fn rfc3339() {
        let ok = [
            ("1970-01-01T00:00:00Z", 0),
            ("1970-01-01T00:00:00.5Z", 500_000_000),
            ("1970-01-01t00:00:01.123456789123z", 1_123_456_789),
            ("1970-01-01T01:00:00+01:00", 0),
            ("1969-12-31T23:00:00-01:00", 0),
            ("2000-02-29T00:00:00Z", 951_782_400_000_000_000),
            ("2026-11-23T10:00:00Z", 1_795_428_000_000_000_000),
        ];
        for (s, nanos) in ok {
            assert_eq!(
                parse_rfc3339(s).map(CaptureTime::as_nanos),
                Ok(nanos),
                "{s}"
            );
        }
        for bad in [
            "",
            "2026-11-23",
            "2026-11-23T10:00:00",
            "2026-11-23T10:00:00.Z",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:00:00+1:00",
            "2026-11-23T10:00:00+01:00x",
            "+026-11-23T10:00:00Z",
            "2026-11-23T10:00:00\u{e9}",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        // Round trip through the millisecond formatter.
        let t = parse_rfc3339("2026-11-23T10:31:09.980Z").unwrap();
        assert_eq!(t.to_rfc3339_millis(), "2026-11-23T10:31:09.980Z");
    }

    #[test]
    fn ssrc_text() {
        assert_eq!(parse_ssrc_text("0x1A2B3C4D"), Some(0x1A2B3C4D));
        assert_eq!(parse_ssrc_text("0xffffffff"), Some(u32::MAX));
        assert_eq!(parse_ssrc_text("4294967295"), Some(u32::MAX));
        for bad in [
            "",
            "0x",
            "0x100000000",
            "4294967296",
            "-1",
            "0x-1",
            "+5",
            "1e3",
        ] {
            assert_eq!(parse_ssrc_text(bad), None, "{bad}");
        }
    }

    /// A deserializer that only records the field names a struct accepts.
    struct FieldNames;

    #[derive(Debug)]
    struct Fields(&'static [&'static str]);

    impl fmt::Display for Fields {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    impl std::error::Error for Fields {}

    impl de::Error for Fields {
        fn custom<T: fmt::Display>(_: T) -> Self {
            Fields(&[])
        }
    }

    impl<'de> Deserializer<'de> for FieldNames {
        type Error = Fields;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    fn fields_of<'de, T: Deserialize<'de>>() -> Vec<&'static str> {
        let mut v = T::deserialize(FieldNames)
            .map(|_| ())
            .unwrap_err()
            .0
            .to_vec();
        v.sort_unstable();
        v
    }

    fn schema() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/session-metadata.schema.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn schema_props(obj: &serde_json::Value) -> Vec<&str> {
        let mut v: Vec<&str> = obj["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        v.sort_unstable();
        assert_eq!(obj["additionalProperties"], serde_json::json!(false));
        v
    }

    #[test]
    fn schema_lists_every_field() {
        let s = schema();
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        let defs = &s["$defs"];
        assert_eq!(schema_props(&s), fields_of::<RawSession>());
        assert_eq!(schema_props(&defs["peer"]), fields_of::<RawPeer>());
        assert_eq!(schema_props(&defs["track"]), fields_of::<RawTrack>());
        assert_eq!(schema_props(&defs["srtp"]), fields_of::<RawSrtp>());
        // The lists unknown fields are found with are the structs' fields.
        let sorted = |f: &[&'static str]| {
            let mut v = f.to_vec();
            v.sort_unstable();
            v
        };
        assert_eq!(sorted(SESSION_FIELDS), fields_of::<RawSession>());
        assert_eq!(sorted(PEER_FIELDS), fields_of::<RawPeer>());
        assert_eq!(sorted(TRACK_FIELDS), fields_of::<RawTrack>());
        assert_eq!(sorted(SRTP_FIELDS), fields_of::<RawSrtp>());
        // Required fields and enums agree too.
        assert_eq!(s["required"], serde_json::json!(["room_id", "peers"]));
        assert_eq!(defs["peer"]["required"], serde_json::json!(["peer_id"]));
        assert_eq!(
            defs["track"]["required"],
            serde_json::json!(["track_id", "kind"])
        );
        assert_eq!(defs["srtp"]["required"], serde_json::json!(["profile"]));
        let profiles: Vec<&str> = SRTP_PROFILES.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            defs["srtp"]["properties"]["profile"]["enum"],
            serde_json::json!(profiles)
        );
        assert_eq!(
            defs["track"]["properties"]["kind"]["enum"],
            serde_json::json!(["audio", "video"])
        );
        assert_eq!(
            defs["track"]["properties"]["source"]["enum"],
            serde_json::json!(["regular", "screen"])
        );
    }

    #[test]
    fn demo_example_matches_capture() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/demo-2peers-opus-vp8.session.json"
        ));
        let m = load_metadata(path).unwrap();
        assert_eq!(
            (m.room_id.as_str(), m.session_id.as_deref()),
            ("demo-room", Some("demo-session"))
        );
        // Ground truth from testdata/demo-2peers-opus-vp8.pcap.txt.
        for (ssrc, peer, codec, pt) in [
            (0xDF45471F, "alice", Codec::Opus, 111),
            (0x5B006D8E, "alice", Codec::Vp8, 96),
            (0x2B16361F, "bob", Codec::Opus, 111),
            (0x8515E2E0, "bob", Codec::Vp8, 96),
        ] {
            let (p, t) = m.track_by_ssrc(ssrc).unwrap();
            assert_eq!(
                (p.peer_id.as_str(), t.codec, t.payload_type),
                (peer, Some(codec), Some(pt))
            );
        }
        assert_eq!(m.tracks().count(), 4);
    }

    #[test]
    fn examples_use_only_schema_fields() {
        // Every example in the repository parses with no unknown field and every key is in the schema.
        let s = schema();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if !path.to_string_lossy().ends_with(".session.json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let m = parse_metadata_with(&text, &path, UnknownFields::Reject).unwrap();
            assert!(m.notes.is_empty(), "{:?}", m.notes);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            check_keys(&v, &s, &s);
            n += 1;
        }
        assert!(n >= 1);
    }

    fn check_keys(v: &serde_json::Value, schema: &serde_json::Value, root: &serde_json::Value) {
        let schema = match schema.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => &root["$defs"][r.trim_start_matches("#/$defs/")],
            None => schema,
        };
        match v {
            serde_json::Value::Object(o) => {
                let Some(props) = schema.get("properties") else {
                    return;
                };
                for (k, child) in o {
                    assert!(props.get(k).is_some(), "{k} not in schema");
                    check_keys(child, &props[k], root);
                }
            }
            serde_json::Value::Array(a) => {
                for child in a {
                    check_keys(child, &schema["items"], root);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod srtp_key_sources {
    use super::*;

    const KEY: &str = "9sOd+W72ilwfNgNt0FzlGYj6YZPMqN1sJJx43UuS";

    fn with_srtp(srtp: &str, path: &Path) -> Result<SessionMap, String> {
        let text = format!(
            r#"{{"room_id": "r", "peers": [{{"peer_id": "a", "tracks": [{{"track_id": "m", "kind": "audio", "srtp": {srtp}}}]}}]}}"#
        );
        parse_metadata(&text, path).map_err(|e| e.to_string())
    }

    /// Keys from a file (relative to the metadata file); errors name the field, never
    /// the key.
    #[test]
    fn key_file_and_key_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("alice.key"), format!("{KEY}\n")).unwrap();
        std::fs::write(dir.path().join("short.key"), "c2VjcmV0").unwrap();
        let meta = dir.path().join("m.json");
        // key_env is read through a child process's environment in tests/srtp.rs: setting
        // a variable here would race with other test threads reading theirs.
        let srtp = r#"{"profile": "AES_CM_128_HMAC_SHA1_80", "key_file": "alice.key"}"#;
        let m = with_srtp(srtp, &meta).unwrap();
        assert_eq!(m.peers[0].tracks[0].srtp.as_ref().unwrap().key_base64, KEY);
        let errors = [
            (
                r#"{"profile": "AES_CM_128_HMAC_SHA1_80"}"#,
                "peers[0].tracks[0].srtp: needs exactly one of key_base64, key_file, key_env",
            ),
            (
                r#"{"profile": "AES_CM_128_HMAC_SHA1_80", "key_file": "x", "key_env": "y"}"#,
                "peers[0].tracks[0].srtp: needs exactly one of key_base64, key_file, key_env",
            ),
            (
                r#"{"profile": "AES_CM_128_HMAC_SHA1_80", "key_env": "RTPREC_TEST_UNSET_6"}"#,
                "peers[0].tracks[0].srtp.key_env: environment variable \"RTPREC_TEST_UNSET_6\" is not set",
            ),
            (
                r#"{"profile": "AES_CM_128_HMAC_SHA1_80", "key_file": "short.key"}"#,
                "peers[0].tracks[0].srtp.key_file: decodes to 6 bytes, AES_CM_128_HMAC_SHA1_80 needs 30 (master key || salt)",
            ),
            (
                r#"{"profile": "AES_CM_128_HMAC_SHA1_80", "key_file": "missing.key"}"#,
                "peers[0].tracks[0].srtp.key_file: cannot read",
            ),
        ];
        for (srtp, want) in errors {
            let e = with_srtp(srtp, &meta).unwrap_err();
            assert!(e.contains(want), "{e}\nwant: {want}");
            assert!(!e.contains("c2VjcmV0") && !e.contains(KEY), "{e}");
        }
    }
}
