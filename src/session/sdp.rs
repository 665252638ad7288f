//! SDP (RFC 8866, JSEP) -> [`SessionMap`]: one file per peer, each the offer or
//! answer that peer sent, so its `a=ssrc` lines name the streams it sends.
//!
//! Parsing uses Mozilla's `webrtc-sdp`, the parser inside Firefox: it has met
//! every browser's SDP, gives typed `rtpmap`/`ssrc`/`ssrc-group`/`msid`/`mid`/
//! `rid`/`extmap` attributes and line numbers in errors, and its dependencies are
//! small (`log`, `url`). (webrtc-rs `sdp` keeps attributes as untyped strings and
//! reports errors without a line.) What `webrtc-sdp` does not give us is read from
//! the raw lines of each media section: `a=crypto` and `a=content` (it has no
//! type for them and skips them with a warning) and `a=fmtp` verbatim.
//!
//! Tolerated, because `webrtc-sdp` is strict and real SDPs are not:
//! - An `a=` line it rejects (a malformed or duplicated attribute) is dropped and
//!   parsing is retried; the dropped line is listed in [`SessionMap::notes`]. A
//!   rejected `v=`/`o=`/`s=`/`m=`/`c=` line is an error with its line number.
//! - No `t=` line, or no `c=` line anywhere (RTSP/ffmpeg-made SDPs): a neutral
//!   `t=0 0` / `c=IN IP4 0.0.0.0` is assumed.
//!
//! Per audio/video media section (`m=`) one track:
//! - `payload_type`: the first format of the `m=` line that is not RTX, RED,
//!   ULPFEC/FlexFEC, CN or telephone-event; its `a=rtpmap` (or the static RFC
//!   3551 table) gives codec, clock rate and channels; `a=fmtp` is kept verbatim.
//!   An encoding name rtprec does not know is kept in `codec_name` (unsupported).
//! - `rtx_payload_type`: the `rtx` format whose `apt=` is that payload type;
//!   `red_payload_type`: the first `red` format with the same clock rate;
//!   `fec_scheme`/`fec_payload_type`: the first `ulpfec`, `flexfec` or
//!   `flexfec-03` format with the same clock rate.
//! - `ssrc`: the first `a=ssrc` that is not the second of an `a=ssrc-group:FID`
//!   (RTX) or `FEC-FR`/`FEC` group; `rtx_ssrc` from its FID group, `fec_ssrc`
//!   from its FEC-FR (or FEC) group. Simulcast: only the
//!   first layer (first SSRC of `SIM`, or first `a=rid:... send`) is the track.
//! - `track_id`: the track part of `a=msid` (or of `a=ssrc:N msid:`), braces
//!   removed, sanitised; else `mid-<mid>`; else `m<index>`.
//! - `source` is `screen` when the section has `a=content:slides` (RFC 4796) or
//!   a video section's msid stream/track id or `a=ssrc:N label:`/`mslabel:`
//!   contains `screen` or `desktop` (case-insensitive). That is a heuristic: apps
//!   name screen tracks freely; metadata JSON is the exact way.
//! - A section without SSRC lines is still a track, identified later by its `mid`
//!   (BUNDLE, MID header extension) or, without BUNDLE, by payload type.
//! - Sections with `a=recvonly` or `a=inactive`, port 0 without `a=bundle-only`,
//!   and non-RTP (`application`) sections describe no stream this peer sends: skipped.
//! - `a=crypto`: every line whose suite rtprec supports (see
//!   [`super::metadata::SRTP_PROFILES`]) and whose key decodes to the suite's
//!   length goes to `srtp_candidates`, in SDP order; `srtp` is the first. An offer
//!   may carry several and the answer picks one, so the decryption stage tries
//!   each (the TURN SDES call in the captures README offers tag 0 `_32` and tag 1
//!   `_80`, and only the `_80` key matches). Keys with an MKI are skipped.
//! - `protection`: SRTP, as the section signals it (RFC 3711, RFC 4568, RFC 5764
//!   §8): `a=crypto` lines make it SDES; `a=fingerprint` (media or session level)
//!   or a `UDP/TLS/RTP/SAVP(F)` / `TCP/DTLS/RTP/SAVP(F)` transport DTLS-SRTP; a
//!   bare `RTP/SAVP(F)` SRTP keyed some other way (SDES); `RTP/AVP(F)` plain.
//! - `a=extmap` (session and media level) -> [`PeerSpec::extmap`].
//!
//! The peer id is the file stem (sanitised); the room is [`DEFAULT_ROOM`] and the
//! session id unset, for the caller to override.

use super::ids::{check_unique, escape, sanitize_id};
use super::metadata::srtp_key_len;
use super::{Kind, MetadataError, PeerSpec, SessionMap, Source, SrtpSpec, TrackSpec};
use crate::codec::{Codec, static_payload_type};
use crate::srtp::decode_base64;
use crate::track::fec::FecScheme;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use webrtc_sdp::SdpSession;
use webrtc_sdp::attribute_type::{SdpAttribute, SdpSingleDirection, SdpSsrcGroupSemantic};
use webrtc_sdp::error::SdpParserError;
use webrtc_sdp::media_type::{SdpFormatList, SdpMedia, SdpMediaValue};

/// Room id of maps made from SDP alone.
pub const DEFAULT_ROOM: &str = "sdp";

/// Reads one SDP file per peer and merges them into one map.
pub fn load_sdp(paths: &[PathBuf]) -> Result<SessionMap, MetadataError> {
    let mut acc: Option<SessionMap> = None;
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| MetadataError::Io {
            path: path.clone(),
            source,
        })?;
        let map = parse_sdp(&text, path)?;
        acc = Some(match acc {
            None => map,
            Some(a) => a.merge(map).map_err(|e| invalid(path, e.to_string()))?,
        });
    }
    acc.ok_or_else(|| invalid(Path::new(""), "no SDP files given".into()))
}

fn invalid(path: &Path, message: String) -> MetadataError {
    MetadataError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}

/// Parses one peer's SDP; `path` names the file in errors and its stem is the peer id.
pub fn parse_sdp(text: &str, path: &Path) -> Result<SessionMap, MetadataError> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let peer_id = sanitize_id("peer_id (from the file name)", &stem)
        .map_err(|e| invalid(path, e.to_string()))?;
    let mut notes = Vec::new();
    let (session, lines) = parse_tolerant(text, path, &mut notes)?;
    let mut peer = PeerSpec::new(peer_id);
    peer.origin = Some(path.to_path_buf());
    for a in &session.attribute {
        add_extmap(&mut peer.extmap, a);
    }
    let sections = section_lines(&lines);
    let session_recv_only = session
        .attribute
        .iter()
        .any(|a| matches!(a, SdpAttribute::Recvonly | SdpAttribute::Inactive));
    let session_fingerprint = session
        .attribute
        .iter()
        .any(|a| matches!(a, SdpAttribute::Fingerprint(_)));
    let mut track_lines = Vec::new();
    for (i, media) in session.media.iter().enumerate() {
        let raw = sections.get(i).map(Vec::as_slice).unwrap_or_default();
        let line_no = raw.first().map_or(0, |(n, _)| *n);
        for a in media.get_attributes() {
            add_extmap(&mut peer.extmap, a);
        }
        let kind = match media.get_type() {
            SdpMediaValue::Audio => Kind::Audio,
            SdpMediaValue::Video => Kind::Video,
            _ => continue,
        };
        let attrs = media.get_attributes();
        let has = |f: fn(&SdpAttribute) -> bool| attrs.iter().any(f);
        let direction_given = has(|a| matches!(a, SdpAttribute::Sendonly | SdpAttribute::Sendrecv));
        if has(|a| matches!(a, SdpAttribute::Recvonly | SdpAttribute::Inactive))
            || (session_recv_only && !direction_given)
        {
            notes.push(format!(
                "{}: line {line_no}: m={} section is not sent by this peer, skipped",
                path.display(),
                kind_name(kind)
            ));
            continue;
        }
        if media.get_port() == 0 && !has(|a| matches!(a, SdpAttribute::BundleOnly)) {
            notes.push(format!(
                "{}: line {line_no}: m={} section has port 0 (rejected), skipped",
                path.display(),
                kind_name(kind)
            ));
            continue;
        }
        let mut track = track_from_section(media, raw, kind, i, path, &mut notes)?;
        track.protection = protection(media, raw, session_fingerprint);
        peer.tracks.push(track);
        track_lines.push(line_no);
    }
    let items = peer.tracks.iter().zip(&track_lines);
    let items = items.map(|(t, no)| {
        (
            format!("the m= section at line {no}"),
            t.track_id.as_str(),
            t.track_id.as_str(),
        )
    });
    check_unique("track_id", items).map_err(|e| invalid(path, e.to_string()))?;
    let map = SessionMap {
        room_id: DEFAULT_ROOM.to_string(),
        session_id: None,
        peers: vec![peer],
        extra: None,
        notes,
    };
    map.check_ssrcs()
        .map_err(|e| invalid(path, e.to_string()))?;
    Ok(map)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Audio => "audio",
        Kind::Video => "video",
    }
}

/// A line of the text handed to `webrtc-sdp`: its 1-based line number in the file
/// (`None` for a line we added) and its text.
type Line = (Option<usize>, String);

/// Parses with `webrtc-sdp`, dropping rejected `a=` lines and adding missing `t=`/`c=`.
/// Returns the session and the lines it was parsed from.
fn parse_tolerant(
    text: &str,
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<(SdpSession, Vec<Line>), MetadataError> {
    let mut lines: Vec<Line> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (Some(i + 1), l.trim_end().to_string()))
        .collect();
    let where_ = |lines: &[Line], n: usize| match lines.get(n).map_or(Some(n + 1), |l| l.0) {
        Some(no) => format!("line {no}"),
        None => "a line rtprec added".to_string(),
    };
    // Each round drops or adds a line, so this ends; the bound is belt and braces.
    for _ in 0..lines.len() + 3 {
        // `webrtc-sdp` has no type for a=crypto and logs unsupported lines (`log::warn!`) with
        // their text: it never sees the keys. A blank line keeps the line numbers.
        let joined: String = lines
            .iter()
            .map(|(_, l)| {
                if l.starts_with("a=crypto:") {
                    "\r\n".to_string()
                } else {
                    format!("{l}\r\n")
                }
            })
            .collect();
        let (line_number, message) = match webrtc_sdp::parse_sdp(&joined, false) {
            Ok(session) => return Ok((session, lines)),
            // The error's `line` field may hold the whole SDP (keys included): never print it.
            Err(SdpParserError::Line {
                error, line_number, ..
            }) => (line_number, error.to_string()),
            Err(SdpParserError::Unsupported {
                error, line_number, ..
            }) => (line_number, error.to_string()),
            Err(SdpParserError::Sequence {
                message,
                line_number,
            }) => (line_number, message),
        };
        let first_media = lines
            .iter()
            .position(|(_, l)| l.starts_with("m="))
            .unwrap_or(lines.len());
        if message.contains("Missing timing type")
            && !lines.iter().any(|(_, l)| l.starts_with("t="))
        {
            notes.push(format!("{}: no t= line, assuming t=0 0", path.display()));
            lines.insert(first_media, (None, "t=0 0".into()));
        } else if message.contains("must have connection types") {
            notes.push(format!(
                "{}: no c= line, assuming c=IN IP4 0.0.0.0",
                path.display()
            ));
            let after_s = lines
                .iter()
                .position(|(_, l)| l.starts_with("s="))
                .map_or(first_media, |p| p + 1);
            lines.insert(after_s.min(first_media), (None, "c=IN IP4 0.0.0.0".into()));
        } else if line_number > 0
            && let Some((Some(no), l)) = lines.get(line_number)
            && l.starts_with("a=")
        {
            let name: String = l[2..]
                .chars()
                .take_while(|c| *c != ':' && *c != ' ')
                .collect();
            notes.push(format!(
                "{}: line {no}: a={name} skipped: {message}",
                path.display()
            ));
            lines[line_number].1.clear();
        } else {
            return Err(invalid(
                path,
                format!("{}: {message}", where_(&lines, line_number)),
            ));
        }
    }
    Err(invalid(path, "SDP could not be parsed".into()))
}

/// The raw lines of each media section, `(line number, text)`, starting with its `m=` line.
fn section_lines(lines: &[Line]) -> Vec<Vec<(usize, &str)>> {
    let mut sections: Vec<Vec<(usize, &str)>> = Vec::new();
    for (no, l) in lines {
        if l.starts_with("m=") {
            sections.push(Vec::new());
        }
        if let (Some(s), Some(no)) = (sections.last_mut(), no) {
            s.push((*no, l.as_str()));
        }
    }
    sections
}

fn add_extmap(extmap: &mut Vec<(u8, String)>, a: &SdpAttribute) {
    if let SdpAttribute::Extmap(e) = a
        && let Ok(id) = u8::try_from(e.id)
        && !extmap.iter().any(|(i, u)| *i == id && *u == e.url)
    {
        extmap.push((id, e.url.clone()));
    }
}

/// Formats that are never a track's media payload type.
fn is_auxiliary(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "rtx" | "red" | "ulpfec" | "flexfec" | "flexfec-03" | "cn" | "telephone-event"
    )
}

/// `a=<name>:<value>` values of a section's raw lines, with line numbers.
fn raw_values<'a>(
    raw: &'a [(usize, &'a str)],
    name: &'a str,
) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    raw.iter().filter_map(move |(no, l)| {
        let v = l
            .strip_prefix("a=")?
            .strip_prefix(name)?
            .strip_prefix(':')?;
        Some((*no, v.trim()))
    })
}

fn track_from_section(
    media: &SdpMedia,
    raw: &[(usize, &str)],
    kind: Kind,
    index: usize,
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<TrackSpec, MetadataError> {
    let attrs = media.get_attributes();
    let line_no = raw.first().map_or(0, |(n, _)| *n);
    // pt -> (encoding name, clock rate, channels)
    let mut rtpmap: BTreeMap<u8, (String, u32, Option<u32>)> = BTreeMap::new();
    for a in attrs {
        if let SdpAttribute::Rtpmap(r) = a {
            rtpmap.insert(
                r.payload_type,
                (r.codec_name.clone(), r.frequency, r.channels),
            );
        }
    }
    let mut fmtp: BTreeMap<u8, String> = BTreeMap::new();
    for (_, v) in raw_values(raw, "fmtp") {
        if let Some((pt, params)) = v.split_once(' ')
            && let Ok(pt) = pt.parse::<u8>()
        {
            fmtp.entry(pt).or_insert_with(|| params.trim().to_string());
        }
    }
    let formats: Vec<u8> = match media.get_formats() {
        SdpFormatList::Integers(v) => v
            .iter()
            .filter_map(|f| u8::try_from(*f).ok())
            .filter(|f| *f <= 127)
            .collect(),
        _ => Vec::new(),
    };
    let name_of = |pt: u8| rtpmap.get(&pt).map(|r| r.0.as_str());

    let mid = attrs.iter().find_map(|a| match a {
        SdpAttribute::Mid(m) => Some(m.clone()),
        _ => None,
    });
    let mut t = TrackSpec::new(String::new(), kind);
    let mut fec_formats: Vec<(u8, FecScheme)> = Vec::new();
    t.mid = mid.clone();
    // Port 9 is the "discard" placeholder of ICE/BUNDLE offers (RFC 8839 §5.1).
    t.port = u16::try_from(media.get_port())
        .ok()
        .filter(|p| *p != 0 && *p != 9);
    t.rid = attrs.iter().find_map(|a| match a {
        SdpAttribute::Rid(r) if r.direction == SdpSingleDirection::Send => Some(r.id.clone()),
        _ => None,
    });

    // Media payload type and what hangs off it.
    if let Some(&pt) = formats
        .iter()
        .find(|pt| !name_of(**pt).is_some_and(is_auxiliary))
    {
        t.payload_type = Some(pt);
        match rtpmap.get(&pt) {
            Some((name, rate, channels)) => {
                t.codec_name = Some(name.clone());
                t.codec = Codec::from_name(name);
                t.clock_rate = Some(*rate);
                t.channels = channels.and_then(|c| u8::try_from(c).ok());
            }
            None => {
                if let Some(s) = static_payload_type(pt) {
                    t.codec = Some(s.codec);
                    t.clock_rate = Some(s.clock_rate);
                }
            }
        }
        if let Some(codec) = t.codec
            && codec.kind() != kind
        {
            return Err(invalid(
                path,
                format!(
                    "line {line_no}: payload type {pt} ({}) in an m={} section",
                    t.codec_name.as_deref().unwrap_or("static"),
                    kind_name(kind)
                ),
            ));
        }
        t.fmtp = fmtp.get(&pt).cloned();
        t.rtx_payload_type = formats.iter().copied().find(|p| {
            name_of(*p).is_some_and(|n| n.eq_ignore_ascii_case("rtx"))
                && fmtp.get(p).and_then(|f| fmtp_param(f, "apt")) == Some(pt.to_string())
        });
        t.red_payload_type = formats.iter().copied().find(|p| {
            rtpmap.get(p).is_some_and(|(n, rate, _)| {
                n.eq_ignore_ascii_case("red") && Some(*rate) == t.clock_rate
            })
        });
        // FEC formats of the section (RFC 5109 ulpfec, RFC 8627 flexfec); which one
        // applies depends on whether an FEC-FR group names a repair SSRC (below).
        fec_formats = formats
            .iter()
            .filter_map(|p| {
                let (n, rate, _) = rtpmap.get(p)?;
                let scheme = crate::track::fec::FecScheme::from_encoding_name(n)?;
                (Some(*rate) == t.clock_rate).then_some((*p, scheme))
            })
            .collect();
    }

    // SSRCs: media first, RTX/FEC-FR second members of their groups.
    let mut ssrcs: Vec<u32> = Vec::new();
    let mut secondary: Vec<(u32, u32, bool)> = Vec::new(); // (primary, secondary, is_rtx)
    let mut sim_first: Option<u32> = None;
    let mut ssrc_msid: Option<String> = None;
    let mut labels: Vec<String> = Vec::new();
    for a in attrs {
        match a {
            SdpAttribute::Ssrc(s) => {
                if !ssrcs.contains(&s.id) {
                    ssrcs.push(s.id);
                }
                match (s.attribute.as_deref(), s.value.as_deref()) {
                    (Some("msid"), Some(v)) if ssrc_msid.is_none() => {
                        ssrc_msid = Some(v.to_string())
                    }
                    (Some("label" | "mslabel"), Some(v)) => labels.push(v.to_string()),
                    _ => {}
                }
            }
            SdpAttribute::SsrcGroup(sem, members) => match (sem, members.as_slice()) {
                (SdpSsrcGroupSemantic::FlowIdentification, [m, r, ..]) => {
                    secondary.push((m.id, r.id, true))
                }
                (
                    SdpSsrcGroupSemantic::ForwardErrorCorrectionFr
                    | SdpSsrcGroupSemantic::ForwardErrorCorrection,
                    [m, r, ..],
                ) => secondary.push((m.id, r.id, false)),
                (SdpSsrcGroupSemantic::Sim, [first, ..]) => {
                    sim_first = sim_first.or(Some(first.id))
                }
                _ => {}
            },
            _ => {}
        }
    }
    t.ssrc = sim_first.or_else(|| {
        ssrcs
            .iter()
            .copied()
            .find(|s| !secondary.iter().any(|(_, sec, _)| sec == s))
    });
    if let Some(ssrc) = t.ssrc {
        t.rtx_ssrc = secondary
            .iter()
            .find(|(m, _, rtx)| *m == ssrc && *rtx)
            .map(|(_, r, _)| *r);
        t.fec_ssrc = secondary
            .iter()
            .find(|(m, _, rtx)| *m == ssrc && !*rtx)
            .map(|(_, r, _)| *r);
    }
    // A repair SSRC (FEC-FR group) carries FlexFEC when the section offers it
    // (Chrome lists ulpfec before flexfec-03); otherwise ULPFEC is in-band.
    let flexible = |s: &FecScheme| matches!(s, FecScheme::Flexfec | FecScheme::Flexfec03);
    let chosen = if t.fec_ssrc.is_some() {
        fec_formats
            .iter()
            .find(|(_, s)| flexible(s))
            .or(fec_formats.first())
    } else {
        fec_formats
            .iter()
            .find(|(_, s)| !flexible(s))
            .or(fec_formats.first())
    };
    if let Some(&(fec_pt, scheme)) = chosen {
        t.fec_scheme = Some(scheme);
        t.fec_payload_type = Some(fec_pt);
    }

    // Track id: msid track part, else mid, else position.
    let msid = attrs
        .iter()
        .find_map(|a| match a {
            SdpAttribute::Msid(m) => Some((m.id.clone(), m.appdata.clone())),
            _ => None,
        })
        .or_else(|| {
            let v = ssrc_msid?;
            let mut parts = v.split_whitespace();
            Some((parts.next()?.to_string(), parts.next().map(str::to_string)))
        });
    let msid_track = msid
        .as_ref()
        .and_then(|(_, track)| track.as_deref())
        .map(|s| s.trim_start_matches('{').trim_end_matches('}'))
        .filter(|s| !s.is_empty() && *s != "-");
    let (what, id) = match (msid_track, &mid) {
        (Some(track), _) => ("track_id (from a=msid)", track.to_string()),
        (None, Some(mid)) => ("track_id (from a=mid)", format!("mid-{mid}")),
        (None, None) => ("track_id", format!("m{index}")),
    };
    t.track_id =
        sanitize_id(what, &id).map_err(|e| invalid(path, format!("line {line_no}: {e}")))?;

    // Screen share heuristic.
    let slides =
        raw_values(raw, "content").any(|(_, v)| v.split(',').any(|c| c.trim() == "slides"));
    let screenish = |s: &str| {
        let s = s.to_ascii_lowercase();
        s.contains("screen") || s.contains("desktop")
    };
    let named_screen = kind == Kind::Video
        && (msid.as_ref().is_some_and(|(stream, track)| {
            screenish(stream) || track.as_deref().is_some_and(screenish)
        }) || labels.iter().any(|l| screenish(l)));
    if slides || named_screen {
        t.source = Source::Screen;
    }

    // SDES keys (RFC 4568): a=crypto:<tag> <suite> inline:<key||salt>[|lifetime][|MKI:len] [params]
    for (no, v) in raw_values(raw, "crypto") {
        let mut parts = v.split_whitespace();
        let (tag, suite, keyparams) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        // Never put the key in a note: name the line, tag and suite only.
        let skip = |why: String| {
            format!(
                "{}: line {no}: a=crypto tag {} skipped: {why}",
                path.display(),
                escape(tag)
            )
        };
        let Some(want) = srtp_key_len(suite) else {
            notes.push(skip(format!("suite {} not supported", escape(suite))));
            continue;
        };
        let Some(inline) = keyparams
            .split(';')
            .next()
            .and_then(|k| k.strip_prefix("inline:"))
        else {
            notes.push(skip("no inline: key".into()));
            continue;
        };
        let mut fields = inline.split('|');
        let key = fields.next().unwrap_or("");
        if fields.any(|f| f.contains(':')) {
            notes.push(skip("keys with an MKI are not supported".into()));
            continue;
        }
        match decode_base64(key).map(|k| k.len()) {
            Some(n) if n == want => {}
            Some(n) => {
                notes.push(skip(format!(
                    "key decodes to {n} bytes, {suite} needs {want}"
                )));
                continue;
            }
            None => {
                notes.push(skip("key is not base64".into()));
                continue;
            }
        }
        let spec = SrtpSpec {
            profile: suite.to_string(),
            key_base64: key.to_string(),
        };
        if !t.srtp_candidates.contains(&spec) {
            t.srtp_candidates.push(spec);
        }
    }
    t.srtp = t.srtp_candidates.first().cloned();
    Ok(t)
}

/// Whether a media section describes SRTP, and keyed how (RFC 3711 §1, RFC 4568,
/// RFC 5764 §8): `a=crypto` lines are SDES, whatever their suites; an
/// `a=fingerprint` (media or session level) or a `UDP/TLS/RTP/SAVP(F)` or
/// `TCP/DTLS/RTP/SAVP(F)` transport is DTLS-SRTP; a plain `RTP/SAVP(F)` transport
/// without either is SRTP keyed some other way, taken as SDES (the keys have to be
/// given the same way: metadata `srtp` or `--srtp-keys`).
fn protection(
    media: &SdpMedia,
    raw: &[(usize, &str)],
    session_fingerprint: bool,
) -> Option<super::Protection> {
    use super::Protection;
    use webrtc_sdp::media_type::SdpProtocolValue as P;
    if raw_values(raw, "crypto").next().is_some() {
        return Some(Protection::Sdes);
    }
    let fingerprint = session_fingerprint
        || media
            .get_attributes()
            .iter()
            .any(|a| matches!(a, SdpAttribute::Fingerprint(_)));
    match media.get_proto() {
        P::UdpTlsRtpSavp | P::UdpTlsRtpSavpf | P::TcpDtlsRtpSavp | P::TcpDtlsRtpSavpf => {
            Some(Protection::DtlsSrtp)
        }
        _ if fingerprint => Some(Protection::DtlsSrtp),
        P::RtpSavp | P::RtpSavpf => Some(Protection::Sdes),
        _ => None,
    }
}

/// The value of `name` in `a=fmtp` parameters `k=v;k=v`.
fn fmtp_param(params: &str, name: &str) -> Option<String> {
    params.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/sdp")
            .join(name)
    }

    fn parse(text: &str) -> Result<SessionMap, String> {
        parse_sdp(text, Path::new("dir/peer-1.sdp")).map_err(|e| e.to_string())
    }

    /// A file from /work/shared: skipped with a reason when absent, a failure under CI.
    fn shared(name: &str) -> Option<PathBuf> {
        let path = Path::new("/work/shared/captures").join(name);
        if path.exists() {
            return Some(path);
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing (CI is set, so this fails)",
            path.display()
        );
        eprintln!(
            "skipped: {} not found (shared captures absent)",
            path.display()
        );
        None
    }

    #[test]
    fn chrome_offer() {
        let m = load_sdp(&[fixture("chrome-alice.sdp")]).unwrap();
        assert_eq!((m.room_id.as_str(), m.session_id.as_deref()), ("sdp", None));
        let p = &m.peers[0];
        assert_eq!(p.peer_id, "chrome-alice");
        assert_eq!(
            p.origin.as_deref(),
            Some(fixture("chrome-alice.sdp").as_path())
        );
        assert_eq!(p.tracks.len(), 3);
        assert_eq!(p.extmap.len(), 8);
        assert!(
            p.extmap
                .contains(&(4, "urn:ietf:params:rtp-hdrext:sdes:mid".into()))
        );
        assert!(p.extmap.contains(&(
            11,
            "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id".into()
        )));

        let mic = &p.tracks[0];
        assert_eq!(mic.track_id, "7c4d3b1e-mic");
        assert_eq!((mic.kind, mic.source), (Kind::Audio, Source::Regular));
        assert_eq!(
            (mic.codec, mic.codec_name.as_deref()),
            (Some(Codec::Opus), Some("opus"))
        );
        assert_eq!(
            (mic.payload_type, mic.red_payload_type, mic.rtx_payload_type),
            (Some(111), Some(63), None)
        );
        assert_eq!((mic.clock_rate, mic.channels), (Some(48000), Some(2)));
        assert_eq!((mic.ssrc, mic.rtx_ssrc), (Some(1001), None));
        assert_eq!(mic.mid.as_deref(), Some("0"));
        assert_eq!(mic.fmtp.as_deref(), Some("minptime=10;useinbandfec=1"));
        assert!(mic.srtp.is_none() && mic.srtp_candidates.is_empty());

        let cam = &p.tracks[1];
        assert_eq!(cam.track_id, "9a8b7c6d-cam");
        assert_eq!(
            (cam.codec, cam.payload_type, cam.rtx_payload_type),
            (Some(Codec::Vp8), Some(96), Some(97))
        );
        // red/90000 is in the section; it protects whatever the sender picks.
        assert_eq!(
            (cam.red_payload_type, cam.clock_rate, cam.channels),
            (Some(116), Some(90000), None)
        );
        assert_eq!((cam.ssrc, cam.rtx_ssrc), (Some(2002), Some(2003)));
        assert_eq!(
            (cam.fec_scheme, cam.fec_payload_type, cam.fec_ssrc),
            (Some(crate::track::fec::FecScheme::Ulpfec), Some(39), None)
        );
        assert_eq!(cam.source, Source::Regular);

        let screen = &p.tracks[2];
        assert_eq!(screen.track_id, "5e6f7a8b-display");
        assert_eq!(
            (screen.source, screen.codec),
            (Source::Screen, Some(Codec::Vp9))
        );
        assert_eq!(
            (screen.ssrc, screen.rtx_ssrc, screen.rtx_payload_type),
            (Some(3003), Some(3004), Some(99))
        );

        assert_eq!(m.track_by_ssrc(2002).unwrap().1.track_id, "9a8b7c6d-cam");
        assert_eq!(
            m.track_by_rtx_ssrc(2003).unwrap().1.track_id,
            "9a8b7c6d-cam"
        );
        assert!(m.track_by_ssrc(2003).is_none());
        assert_eq!(
            m.track_by_mid("2", None).unwrap().1.track_id,
            "5e6f7a8b-display"
        );
        assert_eq!(
            m.track_by_mid("2", Some("h")).unwrap().1.track_id,
            "5e6f7a8b-display"
        );
        assert!(m.track_by_mid("9", None).is_none());
    }

    /// FlexFEC in an `FEC-FR` group: the repair SSRC is no track, and its format is
    /// the flexfec one even when `ulpfec` comes first (as Chrome lists them).
    #[test]
    fn flexfec_group() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.10\r\ns=-\r\nt=0 0\r\nc=IN IP4 10.0.0.10\r\n\
            m=video 50000 RTP/AVP 96 117 49\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:117 ulpfec/90000\r\na=rtpmap:49 flexfec-03/90000\r\n\
            a=ssrc-group:FEC-FR 11 12\r\na=ssrc:11 cname:p\r\na=ssrc:12 cname:p\r\na=sendonly\r\n";
        let m = parse_sdp(sdp, Path::new("f.sdp")).unwrap();
        let t = &m.peers[0].tracks;
        assert_eq!(t.len(), 1);
        assert_eq!(
            (
                t[0].ssrc,
                t[0].payload_type,
                t[0].fec_scheme,
                t[0].fec_payload_type,
                t[0].fec_ssrc
            ),
            (
                Some(11),
                Some(96),
                Some(crate::track::fec::FecScheme::Flexfec03),
                Some(49),
                Some(12)
            )
        );
        assert_eq!(m.track_by_ssrc(12).map(|(_, t)| t.track_id.as_str()), None);
    }

    #[test]
    fn firefox_offer() {
        let m = load_sdp(&[fixture("firefox-bob.sdp")]).unwrap();
        let p = &m.peers[0];
        assert_eq!(p.peer_id, "firefox-bob");
        // The data channel section is no track.
        assert_eq!(p.tracks.len(), 2);
        let mic = &p.tracks[0];
        assert_eq!(mic.track_id, "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5");
        assert_eq!(
            (mic.codec, mic.payload_type, mic.ssrc),
            (Some(Codec::Opus), Some(109), Some(3855116785))
        );
        assert_eq!(
            mic.fmtp.as_deref(),
            Some("maxplaybackrate=48000;stereo=1;useinbandfec=1")
        );
        let cam = &p.tracks[1];
        assert_eq!(
            (cam.codec, cam.payload_type, cam.rtx_payload_type),
            (Some(Codec::Vp8), Some(120), Some(124))
        );
        // FID group after the a=ssrc lines still marks the RTX SSRC.
        assert_eq!(
            (cam.ssrc, cam.rtx_ssrc),
            (Some(2704330219), Some(3102219870))
        );
        assert_eq!(cam.mid.as_deref(), Some("1"));
        // extmap with a direction keeps id and URI.
        assert!(p.extmap.contains(&(
            6,
            "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay".into()
        )));
        assert!(m.notes.is_empty(), "{:?}", m.notes);
    }

    #[test]
    fn turn_sdes_offer_keeps_every_crypto_line() {
        let m = load_sdp(&[fixture("turn-sdes-offer.sdp")]).unwrap();
        let t = &m.peers[0].tracks[0];
        assert_eq!(t.track_id, "ARDAMSa0");
        // PCMA is the first format of the m= line; CN and telephone-event are not media.
        assert_eq!(
            (t.codec, t.codec_name.as_deref(), t.payload_type),
            (Some(Codec::Pcma), Some("PCMA"), Some(8))
        );
        assert_eq!((t.clock_rate, t.red_payload_type), (Some(8000), Some(127)));
        assert_eq!(t.ssrc, Some(3980566799));
        assert_eq!(t.ssrc, Some(0xED42A10F));
        assert_eq!(
            m.peers[0].extmap,
            vec![
                (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level".to_string()),
                (
                    3,
                    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time".to_string()
                ),
            ]
        );
        let profiles: Vec<&str> = t
            .srtp_candidates
            .iter()
            .map(|s| s.profile.as_str())
            .collect();
        assert_eq!(
            profiles,
            ["AES_CM_128_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_80"]
        );
        // The verified key (README: the offer's tag 1) is among the candidates.
        assert_eq!(
            t.srtp_candidates[1].key_base64,
            "Dyx7iKCU5AiJVgclTHa2wjdB6GwL7RtvihVePyoJ"
        );
        assert_eq!(t.srtp.as_ref(), t.srtp_candidates.first());
        // Keys are never printed.
        assert!(!format!("{m:?}").contains("Dyx7"));
    }

    #[test]
    fn membrane_sdp_from_shared_captures() {
        let Some(path) = shared("membrane_input_vp8.sdp") else {
            return;
        };
        let m = load_sdp(&[path]).unwrap();
        let p = &m.peers[0];
        assert_eq!(p.peer_id, "membrane_input_vp8");
        assert_eq!(p.tracks.len(), 1);
        let t = &p.tracks[0];
        assert_eq!(
            (t.kind, t.codec, t.payload_type, t.clock_rate),
            (Kind::Video, Some(Codec::Vp8), Some(96), Some(90000))
        );
        // No SSRC lines and no mid: found later by payload type.
        assert_eq!((t.ssrc, t.mid.as_deref()), (None, None));
        assert_eq!(t.track_id, "m0");
    }

    const MINIMAL: &str = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\n";

    #[test]
    fn tolerated_quirks() {
        // No t=, no c= (ffmpeg/RTSP style), a malformed extmap, an unknown codec, static PT without rtpmap.
        let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=stream\r\n\
            m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H266/90000\r\na=extmap:x bogus\r\na=mid:v\r\n\
            m=audio 5006 RTP/AVP 0\r\na=ssrc:42 msid:- \r\n";
        let m = parse(text).unwrap();
        let t = &m.peers[0].tracks;
        assert_eq!(t.len(), 2);
        assert_eq!(m.peers[0].peer_id, "peer-1");
        assert_eq!(
            (
                t[0].codec,
                t[0].codec_name.as_deref(),
                t[0].track_id.as_str()
            ),
            (None, Some("H266"), "mid-v")
        );
        assert!(t[0].is_unsupported_codec());
        assert_eq!(
            (
                t[1].codec,
                t[1].clock_rate,
                t[1].ssrc,
                t[1].track_id.as_str()
            ),
            (Some(Codec::Pcmu), Some(8000), Some(42), "m1")
        );
        assert_eq!(m.notes.len(), 3, "{:?}", m.notes);
        assert!(
            m.notes
                .contains(&"dir/peer-1.sdp: no t= line, assuming t=0 0".to_string()),
            "{:?}",
            m.notes
        );
        assert!(
            m.notes
                .contains(&"dir/peer-1.sdp: no c= line, assuming c=IN IP4 0.0.0.0".to_string()),
            "{:?}",
            m.notes
        );
        assert!(
            m.notes
                .iter()
                .any(|n| n.starts_with("dir/peer-1.sdp: line 6: a=extmap skipped")),
            "{:?}",
            m.notes
        );
    }

    #[test]
    fn skipped_sections_and_crypto_notes() {
        let text = format!(
            "{MINIMAL}m=audio 9 RTP/SAVPF 111\na=rtpmap:111 opus/48000/2\na=recvonly\na=mid:0\n\
             m=video 0 RTP/SAVPF 96\na=rtpmap:96 VP8/90000\na=mid:1\n\
             m=video 9 RTP/SAVPF 96\na=rtpmap:96 VP8/90000\na=mid:2\na=content:slides\n\
             a=crypto:1 F8_128_HMAC_SHA1_80 inline:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:c2VjcmV0\n\
             a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd|2^20|1:4\n\
             a=crypto:4 AEAD_AES_256_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis=|2^31\n"
        );
        let m = parse(&text).unwrap();
        let t = &m.peers[0].tracks;
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].track_id.as_str(), t[0].source),
            ("mid-2", Source::Screen)
        );
        assert_eq!(
            t[0].srtp.as_ref().map(|s| s.profile.as_str()),
            Some("AEAD_AES_256_GCM")
        );
        assert_eq!(t[0].srtp_candidates.len(), 1);
        assert_eq!(
            m.notes,
            [
                "dir/peer-1.sdp: line 6: m=audio section is not sent by this peer, skipped",
                "dir/peer-1.sdp: line 10: m=video section has port 0 (rejected), skipped",
                "dir/peer-1.sdp: line 17: a=crypto tag \"1\" skipped: suite \"F8_128_HMAC_SHA1_80\" not supported",
                "dir/peer-1.sdp: line 18: a=crypto tag \"2\" skipped: key decodes to 6 bytes, AES_CM_128_HMAC_SHA1_80 needs 30",
                "dir/peer-1.sdp: line 19: a=crypto tag \"3\" skipped: keys with an MKI are not supported",
            ]
        );
        assert!(!m.notes.concat().contains("c2Vj") && !m.notes.concat().contains("AAEC"));
    }

    #[test]
    fn transport_and_keying_say_whether_media_is_srtp() {
        use crate::session::Protection;
        let section =
            |proto: &str, extra: &str| format!("m=audio 5004 {proto} 0\na=sendonly\n{extra}");
        let fp = "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\n";
        let crypto =
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n";
        let cases = [
            (section("RTP/AVP", ""), None),
            (section("RTP/AVPF", ""), None),
            (section("RTP/SAVP", ""), Some(Protection::Sdes)),
            (section("RTP/SAVPF", crypto), Some(Protection::Sdes)),
            (section("UDP/TLS/RTP/SAVPF", ""), Some(Protection::DtlsSrtp)),
            (section("UDP/TLS/RTP/SAVP", fp), Some(Protection::DtlsSrtp)),
            (section("RTP/SAVPF", fp), Some(Protection::DtlsSrtp)),
            // a=crypto with a suite rtprec cannot use still says SRTP (without a key).
            (
                section(
                    "RTP/SAVP",
                    "a=crypto:1 F8_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n",
                ),
                Some(Protection::Sdes),
            ),
        ];
        for (text, want) in cases {
            let m = parse(&format!("{MINIMAL}{text}")).expect(&text);
            assert_eq!(m.peers[0].tracks[0].protection, want, "{text}");
        }
        // A session-level fingerprint applies to every section.
        let text = format!("{MINIMAL}{fp}{}", section("RTP/AVP", ""));
        let m = parse(&text).expect("parses");
        assert_eq!(m.peers[0].tracks[0].protection, Some(Protection::DtlsSrtp));
        // Browser offers: DTLS-SRTP.
        let m = load_sdp(&[fixture("chrome-alice.sdp")]).unwrap();
        assert!(
            m.tracks()
                .all(|(_, t)| t.protection == Some(Protection::DtlsSrtp))
        );
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            ("", "dir/peer-1.sdp: line 1: Parsing error: empty SDP"),
            (
                "v=0\n",
                "dir/peer-1.sdp: line 1: Parsing error: string too short to be valid SDP",
            ),
            (
                "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 9 RTP/AVP 111\na=rtpmap:111 VP8/90000\n",
                "dir/peer-1.sdp: line 6: payload type 111 (VP8) in an m=audio section",
            ),
            (
                "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio nine RTP/AVP 111\na=rtpmap:111 opus/48000\n",
                "dir/peer-1.sdp: line 6: Integer parsing error: invalid digit found in string",
            ),
            (
                "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 9 RTP/AVP 0\na=ssrc:7 msid:s ..\n",
                "dir/peer-1.sdp: line 6: track_id (from a=msid) \"..\": is a relative path component (`.` or `..`)",
            ),
            (
                "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 9 RTP/AVP 0\na=msid:s t\na=ssrc:7 cname:x\nm=audio 9 RTP/AVP 0\na=msid:s t\n",
                "dir/peer-1.sdp: track_id \"t\" (at the m= section at line 9) is the same as \"t\" (at the m= section at line 6) after sanitising",
            ),
            (
                "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 9 RTP/AVP 0\na=ssrc:7 cname:x\nm=video 9 RTP/AVP 96\na=rtpmap:96 VP8/90000\na=ssrc:7 cname:x\n",
                "dir/peer-1.sdp: ssrc=0x00000007 is track m0 of peer peer-1 (in dir/peer-1.sdp) and track m1 of peer peer-1 (in dir/peer-1.sdp)",
            ),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(text, want)| {
                let got = parse(text).map(|_| "ok".to_string()).unwrap_or_else(|e| e);
                (got != *want).then(|| format!("{text}\n  got:  {got:?}\n  want: {want:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let e = parse_sdp(MINIMAL, Path::new("..sdp"))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "..sdp: peer_id (from the file name) \".\": is a relative path component (`.` or `..`)"
        );
    }

    #[test]
    fn merge_files_and_conflicts() {
        let m = load_sdp(&[fixture("chrome-alice.sdp"), fixture("firefox-bob.sdp")]).unwrap();
        let ids: Vec<&str> = m.peers.iter().map(|p| p.peer_id.as_str()).collect();
        assert_eq!(ids, ["chrome-alice", "firefox-bob"]);
        assert_eq!(
            m.track_by_ssrc(2704330219).unwrap().0.peer_id,
            "firefox-bob"
        );
        assert_eq!(m.track_by_mid("1", None).unwrap().0.peer_id, "chrome-alice");

        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("mallory.sdp");
        std::fs::copy(fixture("chrome-alice.sdp"), &copy).unwrap();
        let e = load_sdp(&[fixture("chrome-alice.sdp"), copy.clone()])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "{}: ssrc=0x000003e9 is track 7c4d3b1e-mic of peer chrome-alice",
                copy.display()
            )),
            "{e}"
        );

        let e = load_sdp(&[]).unwrap_err().to_string();
        assert_eq!(e, ": no SDP files given");
        let e = load_sdp(&[dir.path().join("missing.sdp")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.sdp: No such file"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Lines picked from the fixtures plus arbitrary SDP-ish lines: an error is fine, a panic is not,
        /// and every track id that comes out is safe.
        #[test]
        fn never_panics_on_line_soup(
            picks in proptest::collection::vec(0usize..400, 0..40),
            junk in proptest::collection::vec("[vosctma]=[ -~]{0,40}", 0..6),
        ) {
            let mut pool: Vec<String> = Vec::new();
            for f in ["chrome-alice.sdp", "firefox-bob.sdp", "turn-sdes-offer.sdp"] {
                pool.extend(std::fs::read_to_string(fixture(f)).unwrap().lines().map(str::to_string));
            }
            let mut lines: Vec<String> = vec!["v=0".into(), "o=- 1 1 IN IP4 0.0.0.0".into(), "s=-".into()];
            lines.extend(picks.iter().map(|i| pool[i % pool.len()].clone()));
            lines.extend(junk);
            if let Ok(m) = parse(&lines.join("\r\n")) {
                for (_, t) in m.tracks() {
                    let again = sanitize_id("id", &t.track_id).ok();
                    proptest::prop_assert_eq!(again.as_deref(), Some(t.track_id.as_str()));
                }
            }
        }
    }

    #[test]
    fn never_panics_on_mangled_fixtures() {
        let text = std::fs::read_to_string(fixture("chrome-alice.sdp")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Drop each line in turn, and cut each line in half: errors are fine, panics are not.
        for i in 0..lines.len() {
            let mut dropped = lines.clone();
            dropped.remove(i);
            let _ = parse(&dropped.join("\n"));
            let mut cut = lines.clone();
            let half = &lines[i][..lines[i].len() / 2];
            cut[i] = half;
            let _ = parse(&cut.join("\n"));
        }
    }
}
