//! `rtprec record`: one sequential pass routing packets to per-track recorders.
//!
//! The capture is read once, in capture order. Packets are routed to tracks
//! (by SSRC from metadata, or inferred per 5-tuple and SSRC once a stream has
//! proven to be RTP of a known codec) and queued; every batch, all tracks
//! drain their queues in parallel on a rayon pool. Each track sees its own
//! packets in capture order whatever the thread count, so output bytes do not
//! depend on `--jobs`. Memory is bounded by the batch size plus each track's
//! reorder window.

pub mod template;
pub mod track;

use crate::assets::{self, Asset, AssetStats, Failure, Manifest, Resolution, Status};
use crate::capture::CaptureSet;
use crate::codec::{Codec, CodecGuesser};
use crate::error::{Diagnostic, Error};
use crate::events::Event;
use crate::net::{Datagram, Flow, NetConfig, NetDecoder};
use crate::pipeline::Warning;
use crate::rtp::sr_clock::SenderClock;
use crate::rtp::{PacketClass, RtpPacket, Ssrc, classify};
use crate::session::{Kind, SessionMap, Source, SrtpSpec};
use crate::srtp::SrtpContext;
use crate::srtp::keyring::{KeyRing, Unprotect};
use crate::time::CaptureTime;
use crate::track::{Arrival, ReorderConfig};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use track::{Container, TrackError, TrackRecorder, TrackSetup, TrackStats};

/// Packets queued across all tracks before they are processed in parallel.
const BATCH_PACKETS: usize = 16_384;
/// Packets an unidentified stream may buffer while its codec is guessed.
const PENDING_PACKETS: usize = 96;
/// Capture time an unidentified stream may buffer while its codec is guessed.
const PENDING_NANOS: i64 = 3_000_000_000;
/// Largest forward sequence step that counts as an RTP stream advancing.
const MAX_GOOD_STEP: u16 = 512;
/// SRTP packets of a track that may fail authentication with every candidate key before
/// the track fails with `srtp-auth-failed`.
const SRTP_PROBE_PACKETS: u64 = 32;

/// Options of a recording run.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Output directory (created if missing).
    pub out_dir: PathBuf,
    /// Worker threads (0: one per core).
    pub jobs: usize,
    /// Who is who; `None` infers tracks from the traffic.
    pub session: Option<SessionMap>,
    /// `metadata` or `sdp` (for the manifest) when `session` is given.
    pub identification: &'static str,
    /// Reorder window per track.
    pub reorder: ReorderConfig,
    /// Without metadata, a session ends when no RTP has flowed for this long (capture time).
    pub idle_timeout_nanos: i64,
    /// Which tracks to record.
    pub template: template::Template,
    /// SRTP keys for streams the metadata gives none (`--srtp-keys`).
    pub srtp_keys: Vec<crate::srtp::keyring::KeyLine>,
}

/// Result of a recording run.
#[derive(Debug)]
pub struct RecordOutput {
    /// The manifest, also written to `OUT/manifest.json`.
    pub manifest: Manifest,
    /// Path of the manifest.
    pub manifest_path: PathBuf,
    /// Frames read.
    pub frames: u64,
    /// First occurrence of each kind of problem.
    pub warnings: Vec<Warning>,
}

/// Who a track is.
#[derive(Clone, Debug)]
struct Identity {
    room_id: String,
    session_id: String,
    peer_id: String,
    track_id: String,
    kind: Kind,
    source: Source,
    ssrc: Option<u32>,
    inferred: Vec<String>,
}

/// A track: identity, setup and its running recorder (or why it failed).
struct Track {
    id: Identity,
    codec_name: Option<String>,
    codec: Option<Codec>,
    payload_type: Option<u8>,
    clock_rate: Option<u32>,
    channels: Option<u8>,
    /// SDP/metadata fmtp of the payload type (H.264/H.265 parameter sets).
    fmtp: Option<String>,
    /// RED payload type (RFC 2198) carrying the media, from metadata/SDP.
    red_payload_type: Option<u8>,
    /// FEC protecting the media (scheme, payload type of in-stream repair packets), from metadata/SDP.
    fec: Option<(crate::track::fec::FecScheme, Option<u8>)>,
    container: Option<Container>,
    rel_path: Option<String>,
    state: TrackState,
    inbox: Vec<Inbound>,
    first_time: Option<CaptureTime>,
    last_time: Option<CaptureTime>,
    /// Packets routed to the track, whether or not it could record them.
    packets_seen: u64,
    /// RTP timestamp of the track's first packet (for RTCP sender-report timing).
    first_ts32: Option<u32>,
    /// Sequence number of the latest packet (to recognise RTX streams without metadata).
    last_seq16: Option<u16>,
    /// The 5-tuple of an inferred track.
    flow: Option<Flow>,
    /// The peer's role, from metadata.
    role: Option<String>,
    /// Left out by the template: why.
    skipped: Option<String>,
    /// The peer's presence from metadata (`joined_at`, `left_at`): media outside it is not recorded.
    presence: (Option<CaptureTime>, Option<CaptureTime>),
    /// Packets dropped because they fell outside the peer's presence.
    outside_presence: u64,
    /// SRTP keys of a metadata track (`None`: the track is plain RTP).
    srtp: Option<TrackSrtp>,
    /// Packets of the track's SSRC that its `--srtp-keys` key did not authenticate.
    keyring_failures: u64,
}

/// SRTP decryption of one track: the candidate keys until one authenticates, then that one.
struct TrackSrtp {
    /// One context per candidate key, in the order given.
    candidates: Vec<SrtpContext>,
    /// Index of the candidate that authenticated first.
    chosen: Option<usize>,
    /// Packets no candidate authenticated (after the choice: the chosen key did not).
    failures: u64,
    /// Profile names of the candidates, for messages (never the keys).
    profiles: Vec<&'static str>,
}

impl TrackSrtp {
    fn new(specs: &[SrtpSpec]) -> Option<Self> {
        // Metadata and SDP loading already rejected unusable keys; skip any left.
        let candidates: Vec<SrtpContext> = specs
            .iter()
            .filter_map(|s| SrtpContext::from_base64(&s.profile, &s.key_base64).ok())
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let profiles = candidates.iter().map(|c| c.profile().name()).collect();
        Some(TrackSrtp {
            candidates,
            chosen: None,
            failures: 0,
            profiles,
        })
    }

    /// Decrypts a packet of the track's RTX or FEC stream (same keys, own SSRC)
    /// into `out`. Failures are not the media's: they are not counted.
    fn decrypt_aux(&mut self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        match self.chosen {
            Some(i) => self.candidates[i].decrypt_rtp(packet, out).is_ok(),
            None => self
                .candidates
                .iter_mut()
                .any(|c| c.decrypt_rtp(packet, out).is_ok()),
        }
    }

    /// Decrypts one packet into `out`; before a key is chosen each candidate is tried.
    fn decrypt(&mut self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        if let Some(i) = self.chosen {
            let ok = self.candidates[i].decrypt_rtp(packet, out).is_ok();
            self.failures += u64::from(!ok);
            return ok;
        }
        for (i, c) in self.candidates.iter_mut().enumerate() {
            if c.decrypt_rtp(packet, out).is_ok() {
                self.chosen = Some(i);
                return true;
            }
        }
        self.failures += 1;
        false
    }

    /// Why the track failed, without the keys.
    fn failure_message(&self) -> String {
        let mut names = self.profiles.clone();
        names.dedup();
        format!(
            "none of the {} SRTP key(s) given for this track ({}) authenticates any of its first {} packets: wrong key or profile",
            self.candidates.len(),
            names.join(", "),
            self.failures,
        )
    }
}

enum TrackState {
    /// Waiting for the first packet (metadata tracks are created lazily).
    Idle,
    Running(Box<TrackRecorder>),
    /// Finished: the file or why not, the counters (when the track ran), the video size.
    Done(
        Box<Result<crate::mux::OutputFile, Failure>>,
        Option<Box<TrackStats>>,
        Option<(u16, u16)>,
    ),
}

impl Track {
    fn new(
        id: Identity,
        codec: Option<Codec>,
        codec_name: Option<String>,
        pt: Option<u8>,
        clock: Option<u32>,
    ) -> Self {
        Track {
            id,
            codec_name,
            codec,
            payload_type: pt,
            clock_rate: clock,
            channels: None,
            fmtp: None,
            red_payload_type: None,
            fec: None,
            container: None,
            rel_path: None,
            state: TrackState::Idle,
            inbox: Vec::new(),
            first_time: None,
            last_time: None,
            packets_seen: 0,
            first_ts32: None,
            last_seq16: None,
            flow: None,
            role: None,
            skipped: None,
            presence: (None, None),
            outside_presence: 0,
            srtp: None,
            keyring_failures: 0,
        }
    }

    fn fail(&mut self, code: &str, message: String) {
        let stats = match &self.state {
            TrackState::Running(rec) => Some(Box::new(rec.stats())),
            _ => None,
        };
        let failure = Failure {
            code: code.into(),
            message,
        };
        self.state = TrackState::Done(Box::new(Err(failure)), stats, None);
    }

    /// Feeds the queued packets to the recorder.
    fn drain(&mut self) {
        let inbox = std::mem::take(&mut self.inbox);
        let TrackState::Running(rec) = &mut self.state else {
            return;
        };
        for inbound in inbox {
            let pushed = match inbound {
                Inbound::Media { arrival, raw } => rec.push_packet(arrival, raw.as_deref()),
                Inbound::Rtx(arrival) => rec.push_rtx(arrival),
                Inbound::Fec { raw, time } => rec.push_fec_stream(&raw, time),
            };
            if let Err(e) = pushed {
                self.fail(failure_code(&e), e.to_string());
                return;
            }
        }
    }

    fn finish(&mut self) {
        self.drain();
        match std::mem::replace(&mut self.state, TrackState::Idle) {
            TrackState::Running(rec) => {
                let (result, stats, dims) = rec.finish_with_dimensions();
                let result = result.map_err(|e| Failure {
                    code: failure_code(&e).into(),
                    message: e.to_string(),
                });
                self.state = TrackState::Done(Box::new(result), Some(Box::new(stats)), dims);
            }
            TrackState::Idle => match &self.srtp {
                Some(s) if s.failures > 0 => self.fail("srtp-auth-failed", s.failure_message()),
                _ => self.fail(
                    "no-media",
                    "no RTP packet of this track was captured".into(),
                ),
            },
            done @ TrackState::Done(..) => self.state = done,
        }
    }
}

fn failure_code(e: &TrackError) -> &'static str {
    match e {
        TrackError::Unsupported(_) => "unsupported-codec",
        TrackError::NoKeyframe(_) => "no-keyframe",
        TrackError::Mux(crate::mux::MuxError::NoFrames) => "no-decodable-frames",
        TrackError::Mux(crate::mux::MuxError::Io { .. }) => "io-error",
        TrackError::Mux(crate::mux::MuxError::Config(_)) => "unsupported-format",
    }
}

/// A stream seen without metadata, buffered until it is identified.
struct Pending {
    flow: Flow,
    ssrc: Ssrc,
    first_time: CaptureTime,
    packets: Vec<Arrival>,
    /// The plain RTP bytes of `packets`: FEC needs them if the stream turns out to carry it.
    raws: Vec<Vec<u8>>,
    /// SSRCs the packets name where a FlexFEC packet names what it protects (the
    /// CSRC list; draft 03: the FEC header), with counts; at most four kept.
    named: BTreeMap<u32, u32>,
    guessers: BTreeMap<u8, CodecGuesser>,
    last_seq: Option<u16>,
    good_steps: u64,
    total: u64,
}

impl Pending {
    fn confirmed(&self) -> bool {
        self.total >= 2 && self.good_steps >= 1 && self.good_steps * 4 >= self.total - 1
    }

    /// The dominant payload type, its guessed codec, and whether its timing looks like video.
    fn guess(&self) -> (u8, crate::codec::CodecGuess, bool) {
        let (pt, g) = self
            .guessers
            .iter()
            .max_by_key(|(pt, g)| (g.packets(), std::cmp::Reverse(**pt)))
            .expect("a pending stream has at least one packet");
        (*pt, g.guess(), g.looks_like_video())
    }
}

/// The SSRCs a packet would name as protected if it were FlexFEC: its first
/// CSRC (RFC 8627 §4.2.2.1), and the first SSRC of a draft-03 FEC header.
fn flexfec_named_ssrcs(pkt: &RtpPacket<'_>) -> impl Iterator<Item = u32> {
    let csrc = pkt.csrcs().next().map(|s| s.0);
    let draft03 = pkt
        .payload()
        .get(8..16)
        .filter(|h| h[0] >= 1)
        .map(|h| u32::from_be_bytes([h[4], h[5], h[6], h[7]]));
    csrc.into_iter().chain(draft03)
}

/// Without metadata: a payload type of a stream, other than its media and RED,
/// whose packets all parse as ULPFEC (RFC 5109) protecting sequence numbers just
/// behind their own: in-band repair data.
fn inband_ulpfec(packets: &[Arrival], media_pt: u8, red_pt: Option<u8>) -> Option<u8> {
    let mut by_pt: BTreeMap<u8, (usize, usize)> = BTreeMap::new();
    for a in packets
        .iter()
        .filter(|a| a.pt != media_pt && Some(a.pt) != red_pt)
    {
        let ok = crate::track::fec::parse_ulpfec(&a.payload).is_ok_and(|r| {
            !r.protected().is_empty()
                && r.protected()
                    .iter()
                    .all(|s| a.seq16.wrapping_sub(*s).wrapping_sub(1) < 1024)
        });
        let e = by_pt.entry(a.pt).or_default();
        e.0 += 1;
        e.1 += usize::from(ok);
    }
    by_pt
        .into_iter()
        .find(|(_, (n, ok))| *n >= 2 && ok == n)
        .map(|(pt, _)| pt)
}

/// `a=extmap` URI of the MID header extension (RFC 8843 §15).
const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
/// `a=extmap` URI of the RID header extension (RFC 8852).
const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";

/// A metadata track without an SSRC, waiting for the first packet that names it.
struct Binding {
    track: usize,
    by: BindBy,
}

/// What names a track's packets when its SSRC is not known in advance.
enum BindBy {
    /// BUNDLE: the MID (and RID) header extensions (RFC 8843, RFC 8852).
    Mid {
        mid: String,
        mid_ext: u8,
        rid: Option<(String, u8)>,
    },
    /// Plain RTP/AVP SDP: the `m=` port the media is sent to, and the payload type.
    Port { port: u16, payload_type: Option<u8> },
}

/// Where packets of an SSRC go.
#[derive(Clone, Copy, Debug)]
enum Route {
    Track(usize),
    /// RFC 4588 retransmissions of the track's packets.
    Rtx(usize),
    /// The track's separate FEC stream (FlexFEC, RFC 8627).
    Fec(usize),
    Ignore,
}

/// A packet buffered while its stream was unidentified, and what it turned out to be.
enum Buffered {
    /// The track's own packet, with its plain bytes.
    Media(Vec<u8>),
    /// A retransmission of one of its packets.
    Rtx,
    /// A packet of its FlexFEC stream, plain bytes.
    Fec(Vec<u8>),
}

/// A packet queued for a track.
enum Inbound {
    /// The track's own packet; with its plain RTP bytes when FEC protects the track.
    Media {
        arrival: Arrival,
        raw: Option<Vec<u8>>,
    },
    /// The original a retransmission carries (RFC 4588).
    Rtx(Arrival),
    /// A packet of the track's separate FEC stream, plain RTP bytes.
    Fec { raw: Vec<u8>, time: CaptureTime },
}

struct Recorder<'o> {
    opts: &'o RecordOptions,
    /// Receives events as they happen, in a deterministic order.
    events: &'o mut dyn FnMut(Event),
    tracks: Vec<Track>,
    by_ssrc: HashMap<u32, Route>,
    by_flow: HashMap<(Flow, Ssrc), Route>,
    bindings: Vec<Binding>,
    pending: HashMap<(Flow, Ssrc), Pending>,
    queued: usize,
    pool: rayon::ThreadPool,
    first_time: Option<CaptureTime>,
    last_time: Option<CaptureTime>,
    /// First RTP packet of the current session.
    session_start: Option<CaptureTime>,
    /// Last RTP packet seen (for the idle rule).
    last_media: Option<CaptureTime>,
    /// Assets of sessions that have ended.
    done: Vec<Asset>,
    /// RTCP sender reports per SSRC: the sender's RTP-to-NTP clock mapping.
    sender_clocks: HashMap<u32, SenderClock>,
    diagnostics: Vec<Diagnostic>,
    /// Scratch buffer for decrypted SRTP packets.
    srtp_plain: Vec<u8>,
    /// `--srtp-keys`: keys for streams the metadata gives none.
    keyring: KeyRing,
}

/// Records every track of the captures at `paths`.
///
/// `events` receives `track.recording.started.success` when a track's first
/// packet is routed (capture order) and one terminal event per track at the end
/// (ordered by the track's last packet time, then asset id).
pub fn run_record(
    paths: &[PathBuf],
    opts: &RecordOptions,
    progress: &mut dyn FnMut(u64),
    events: &mut dyn FnMut(Event),
) -> Result<RecordOutput, Error> {
    let mut set = CaptureSet::open(paths)?;
    let names = set.names();
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| Error::Io {
        context: format!("creating {}", opts.out_dir.display()),
        source,
    })?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| Error::Io {
            context: "starting worker threads".into(),
            source: std::io::Error::other(e),
        })?;
    let mut rec = Recorder {
        opts,
        events,
        tracks: Vec::new(),
        by_ssrc: HashMap::new(),
        by_flow: HashMap::new(),
        bindings: Vec::new(),
        pending: HashMap::new(),
        queued: 0,
        pool,
        first_time: None,
        last_time: None,
        session_start: None,
        last_media: None,
        done: Vec::new(),
        sender_clocks: HashMap::new(),
        diagnostics: Vec::new(),
        srtp_plain: Vec::new(),
        keyring: KeyRing::new(opts.srtp_keys.clone()),
    };
    rec.declare_metadata_tracks();
    let mut net = NetDecoder::new(NetConfig::default());
    let mut frames = 0u64;
    while let Some(frame) = set.next_frame()? {
        frames += 1;
        rec.first_time.get_or_insert(frame.meta.time);
        rec.last_time = Some(
            rec.last_time
                .map_or(frame.meta.time, |t| t.max(frame.meta.time)),
        );
        net.push(&frame, &mut |d| rec.route(&d));
        if rec.queued >= BATCH_PACKETS {
            rec.process_batch();
        }
        if frames.is_multiple_of(crate::pipeline::PROGRESS_EVERY) {
            progress(frames);
        }
    }
    progress(frames);
    rec.end_session();

    let mut diags = set.take_diagnostics();
    diags.extend(net.take_diagnostics());
    diags.append(&mut rec.diagnostics);
    let warnings = crate::pipeline::warnings(diags, &names);
    let manifest = rec.manifest(names.clone());
    let manifest_path = opts.out_dir.join("manifest.json");
    write_json_atomically(&manifest_path, &manifest)?;
    Ok(RecordOutput {
        manifest,
        manifest_path,
        frames,
        warnings,
    })
}

fn write_json_atomically(path: &Path, value: &impl serde::Serialize) -> Result<(), Error> {
    use std::io::Write;
    let io = |source| Error::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    let mut f =
        crate::mux::atomic::AtomicFile::create(path).map_err(|e| io(std::io::Error::other(e)))?;
    serde_json::to_writer_pretty(&mut f, value).map_err(|e| io(std::io::Error::other(e)))?;
    f.write_all(b"\n").map_err(io)?;
    f.finish().map_err(|e| io(std::io::Error::other(e)))?;
    Ok(())
}

impl Recorder<'_> {
    /// Tracks named by metadata exist from the start; their SSRCs route to them.
    fn declare_metadata_tracks(&mut self) {
        let Some(map) = &self.opts.session else {
            return;
        };
        for peer in &map.peers {
            let ext_id = |uri: &str| {
                peer.extmap
                    .iter()
                    .find(|(_, u)| u == uri)
                    .map(|(id, _)| *id)
            };
            let mid_ext = ext_id(MID_URI);
            let rid_ext = ext_id(RID_URI);
            for t in &peer.tracks {
                let idx = self.tracks.len();
                // Metadata without a codec: a static payload type still names it.
                let codec = t.codec.or_else(|| {
                    t.payload_type
                        .and_then(crate::codec::static_payload_type)
                        .map(|s| s.codec)
                });
                let codec_label = codec
                    .map(|c| c.name().to_string())
                    .or_else(|| t.codec_name.clone());
                let id = Identity {
                    room_id: map.room_id.clone(),
                    // Filled from the first packet's time when metadata gives none.
                    session_id: map.session_id.clone().unwrap_or_default(),
                    peer_id: peer.peer_id.clone(),
                    track_id: t.track_id.clone(),
                    kind: t.kind,
                    source: t.source,
                    ssrc: t.ssrc,
                    inferred: if map.session_id.is_none() {
                        vec!["session_id".into()]
                    } else {
                        Vec::new()
                    },
                };
                let mut track = Track::new(id, codec, codec_label, t.payload_type, t.clock_rate);
                track.channels = t.channels;
                track.red_payload_type = t.red_payload_type;
                track.fec = t.fec_scheme.map(|s| (s, t.fec_payload_type));
                track.fmtp.clone_from(&t.fmtp);
                track.role.clone_from(&peer.role);
                track.presence = (peer.joined_at, peer.left_at);
                track.srtp = TrackSrtp::new(&t.srtp_candidates);
                track.skipped = self
                    .opts
                    .template
                    .excludes(peer.role.as_deref(), t.kind, t.source);
                self.tracks.push(track);
                match t.ssrc {
                    Some(ssrc) => {
                        self.by_ssrc.insert(ssrc, Route::Track(idx));
                    }
                    // Without a=ssrc the MID header extension (BUNDLE) or the m= port binds the SSRC later.
                    None => {
                        let by = match (&t.mid, mid_ext, t.port) {
                            (Some(mid), Some(ext), _) => Some(BindBy::Mid {
                                mid: mid.clone(),
                                mid_ext: ext,
                                rid: t.rid.clone().zip(rid_ext),
                            }),
                            (_, _, Some(port)) => Some(BindBy::Port {
                                port,
                                payload_type: t.payload_type,
                            }),
                            _ => None,
                        };
                        if let Some(by) = by {
                            self.bindings.push(Binding { track: idx, by });
                        }
                    }
                }
                // Retransmission and repair streams are not recorded as tracks.
                if let Some(rtx) = t.rtx_ssrc {
                    self.by_ssrc.insert(rtx, Route::Rtx(idx));
                }
                if let Some(fec) = t.fec_ssrc {
                    self.by_ssrc.insert(fec, Route::Fec(idx));
                }
            }
        }
    }

    /// Binds an SSRC that metadata did not name to the first waiting track that its
    /// MID/RID header extensions or its destination port and payload type name.
    fn bind(&mut self, d: &Datagram<'_>, pkt: &RtpPacket<'_>) -> Option<usize> {
        let exts = pkt.extensions();
        let pos = self.bindings.iter().position(|b| match &b.by {
            BindBy::Mid { mid, mid_ext, rid } => {
                exts.get(*mid_ext) == Some(mid.as_bytes())
                    && rid
                        .as_ref()
                        .is_none_or(|(rid, ext)| exts.get(*ext) == Some(rid.as_bytes()))
            }
            BindBy::Port { port, payload_type } => {
                d.flow.dst.port() == *port && payload_type.is_none_or(|pt| pt == pkt.payload_type())
            }
        })?;
        let b = self.bindings.remove(pos);
        self.tracks[b.track].id.ssrc = Some(pkt.ssrc().0);
        self.by_ssrc.insert(pkt.ssrc().0, Route::Track(b.track));
        Some(b.track)
    }

    /// Each track's start on the session timeline, in ms, and where it came from.
    ///
    /// Capture time places each peer (the session starts at its first join or
    /// packet). Within a peer whose tracks all have RTCP sender reports, each
    /// track's first RTP timestamp (at its first packet's capture time) is
    /// mapped to that peer's NTP clock (RFC 3550 §6.4.1) through the track's
    /// [`SenderClock`] (measured clock rate, RTP timestamp resets), so its
    /// audio and video line up however differently the network delayed them.
    /// Different peers' NTP clocks are not comparable, so SRs never place one
    /// peer against another.
    fn start_offsets(&self) -> Vec<Option<(i64, &'static str)>> {
        let ntp_start =
            |t: &Track| -> Option<f64> { Some(self.sender_clock_at_start(t)?.1.ntp_secs) };
        // The session starts when its first peer joins (metadata) or with its first packet.
        let first_join = self
            .tracks
            .iter()
            .filter(|t| t.first_time.is_some())
            .filter_map(|t| t.presence.0)
            .min();
        let first_packet = self.tracks.iter().filter_map(|t| t.first_time).min();
        let start = match (first_join, first_packet) {
            (Some(j), Some(p)) => Some(j.min(p)),
            (j, p) => j.or(p),
        };
        let ms_since_start = |t: CaptureTime| start.map(|s| t.nanos_since(s) / 1_000_000);
        self.tracks
            .iter()
            .map(|t| {
                let own = t.first_time?;
                let peer: Vec<&Track> = self
                    .tracks
                    .iter()
                    .filter(|o| o.id.peer_id == t.id.peer_id && o.first_time.is_some())
                    .collect();
                let ntp: Vec<Option<f64>> = peer.iter().map(|o| ntp_start(o)).collect();
                if let (Some(mine), true) = (ntp_start(t), ntp.iter().all(Option::is_some)) {
                    let peer_ntp = ntp.iter().flatten().copied().fold(f64::INFINITY, f64::min);
                    let peer_cap = peer
                        .iter()
                        .filter_map(|o| o.first_time)
                        .min()
                        .unwrap_or(own);
                    let within = ((mine - peer_ntp) * 1000.0).round() as i64;
                    return Some((ms_since_start(peer_cap)? + within, "rtcp-sr"));
                }
                Some((ms_since_start(own)?, "capture-time"))
            })
            .collect()
    }

    /// The track's sender clock and its first RTP timestamp mapped through it.
    fn sender_clock_at_start(
        &self,
        t: &Track,
    ) -> Option<(crate::rtp::sr_clock::Timeline, crate::rtp::sr_clock::Mapped)> {
        let clock = self.sender_clocks.get(&t.id.ssrc?)?;
        let timeline = clock.timeline(t.clock_rate?)?;
        // A first timestamp off every segment's timeline cannot be placed by them.
        let mapped = timeline
            .map(t.first_ts32?, t.first_time?)
            .filter(|m| m.fits)?;
        Some((timeline, mapped))
    }

    /// The manifest's `sender_clock` of a track: its RTP-to-NTP mapping from sender reports.
    fn sender_clock_mapping(&self, t: &Track) -> Option<assets::SenderClockMapping> {
        let (timeline, m) = self.sender_clock_at_start(t)?;
        let nominal = f64::from(t.clock_rate?);
        let round = |x: f64, places: i32| {
            let p = 10f64.powi(places);
            (x * p).round() / p
        };
        Some(assets::SenderClockMapping {
            sender_reports: self.sender_clocks.get(&t.id.ssrc?)?.received(),
            rtp_timestamp_resets: timeline.resets() as u64,
            first_rtp_timestamp: t.first_ts32?,
            ntp_at_first_rtp: CaptureTime::from_nanos(m.unix_nanos()).to_rfc3339_micros(),
            measured_clock_rate: m.measured_rate.map(|r| round(r, 3)),
            drift_ppm: m.measured_rate.map(|r| round((r / nominal - 1.0) * 1e6, 1)),
        })
    }

    /// Ends the current session: finishes, lists and announces every track of it.
    ///
    /// A session's tracks start on their own first packets; its start (offset 0
    /// of `start_offset_ms`) is the first packet of any of them.
    fn end_session(&mut self) {
        self.resolve_all_pending();
        self.process_batch();
        let tracks = &mut self.tracks;
        self.pool
            .install(|| tracks.par_iter_mut().for_each(Track::finish));
        // Metadata tracks that never saw a packet still belong to the session.
        let fallback = format!(
            "s{}",
            compact_time(self.session_start.or(self.first_time).unwrap_or_default())
        );
        for t in self
            .tracks
            .iter_mut()
            .filter(|t| t.id.session_id.is_empty())
        {
            t.id.session_id.clone_from(&fallback);
        }
        for t in &mut self.tracks {
            t.keyring_failures = t.id.ssrc.map_or(0, |s| self.keyring.failures(s));
        }
        let offsets = self.start_offsets();
        let end = self.last_media.or(self.last_time).unwrap_or_default();
        let mut finished: Vec<(CaptureTime, Asset)> = self
            .tracks
            .iter()
            .zip(offsets)
            .map(|(t, o)| {
                let mut a = asset_of(t, o);
                a.sender_clock = self.sender_clock_mapping(t);
                (t.last_time.unwrap_or(end), a)
            })
            .collect();
        // One terminal event per track, once its file is complete.
        finished.sort_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.id.cmp(&b.id)));
        for (t, a) in finished.iter().filter(|(_, a)| a.status != Status::Skipped) {
            (self.events)(Event::finished(a, *t));
        }
        self.done.extend(finished.into_iter().map(|(_, a)| a));
        self.tracks.clear();
        self.by_flow.clear();
        self.by_ssrc.clear();
        self.bindings.clear();
        self.session_start = None;
    }

    fn route(&mut self, d: &Datagram<'_>) {
        match classify(d.payload) {
            PacketClass::Rtp => {}
            PacketClass::Rtcp => return self.note_sender_reports(d.payload, d.meta.time),
            _ => return,
        }
        if self.opts.session.is_some() {
            // Before parsing: an SRTP payload's encrypted padding length may not parse.
            let ssrc = d
                .payload
                .get(8..12)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            match ssrc.and_then(|s| self.by_ssrc.get(&s).copied()) {
                Some(Route::Track(i)) if self.tracks[i].srtp.is_some() => {
                    return self.enqueue_srtp(i, d);
                }
                Some(route @ (Route::Rtx(i) | Route::Fec(i))) if self.tracks[i].srtp.is_some() => {
                    return self.enqueue_srtp_aux(i, route, d);
                }
                _ => {}
            }
        }
        // `--srtp-keys`: streams the metadata gives no key are decrypted when a key authenticates them.
        if !self.keyring.is_empty()
            && let Some(b) = d.payload.get(8..12)
        {
            let ssrc = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let mut plain = std::mem::take(&mut self.srtp_plain);
            match self.keyring.unprotect_rtp(ssrc, d.payload, &mut plain) {
                Unprotect::Plain => {
                    self.srtp_plain = plain;
                }
                Unprotect::Failed => {
                    self.srtp_plain = plain;
                    return;
                }
                Unprotect::Decrypted => {
                    self.route_plain(&Datagram {
                        payload: &plain,
                        ..*d
                    });
                    self.srtp_plain = plain;
                    return;
                }
            }
        }
        self.route_plain(d);
    }

    /// Routes a plain (or decrypted) RTP packet.
    fn route_plain(&mut self, d: &Datagram<'_>) {
        let Ok(pkt) = RtpPacket::parse(d.payload) else {
            return;
        };
        let now = d.meta.time;
        // Without metadata, a room is empty once no media has flowed for the idle time:
        // what follows is a new session with its own id and assets.
        if self.opts.session.is_none()
            && let Some(last) = self.last_media
            && now.nanos_since(last) >= self.opts.idle_timeout_nanos
        {
            self.end_session();
        }
        self.last_media = Some(self.last_media.map_or(now, |t| t.max(now)));
        self.session_start.get_or_insert(now);
        let ssrc = pkt.ssrc();
        // Copy the payload only for packets that go somewhere.
        let arrival = |pkt: &RtpPacket<'_>| Arrival::from_rtp(pkt, d.meta.time);
        if self.opts.session.is_some() {
            match self.by_ssrc.get(&ssrc.0) {
                Some(Route::Track(i)) => self.enqueue(*i, arrival(&pkt), Some(d.payload)),
                Some(Route::Rtx(i)) => self.enqueue_rtx(*i, &pkt, now),
                Some(Route::Fec(i)) => self.enqueue_fec(*i, d.payload, now),
                Some(Route::Ignore) => {}
                None => {
                    if let Some(i) = self.bind(d, &pkt) {
                        if self.tracks[i].srtp.is_some() {
                            return self.enqueue_srtp(i, d);
                        }
                        return self.enqueue(i, arrival(&pkt), Some(d.payload));
                    }
                    self.by_ssrc.insert(ssrc.0, Route::Ignore);
                    self.note(
                        d,
                        "ssrc-not-in-metadata",
                        format!("SSRC {ssrc} is not in the session metadata; not recorded"),
                    );
                }
            }
            return;
        }
        let key = (d.flow, ssrc);
        match self.by_flow.get(&key) {
            Some(Route::Track(i)) => return self.enqueue(*i, arrival(&pkt), Some(d.payload)),
            Some(Route::Rtx(i)) => return self.enqueue_rtx(*i, &pkt, now),
            Some(Route::Fec(i)) => return self.enqueue_fec(*i, d.payload, now),
            Some(Route::Ignore) => return,
            None => {}
        }
        let arrival = arrival(&pkt);
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            flow: d.flow,
            ssrc,
            first_time: d.meta.time,
            packets: Vec::new(),
            raws: Vec::new(),
            named: BTreeMap::new(),
            guessers: BTreeMap::new(),
            last_seq: None,
            good_steps: 0,
            total: 0,
        });
        p.total += 1;
        if let Some(prev) = p.last_seq
            && (1..=MAX_GOOD_STEP).contains(&arrival.seq16.wrapping_sub(prev))
        {
            p.good_steps += 1;
        }
        p.last_seq = Some(arrival.seq16);
        p.guessers
            .entry(arrival.pt)
            .or_insert_with(|| CodecGuesser::new(arrival.pt))
            .push(arrival.marker, arrival.ts32, &arrival.payload);
        for ssrc in flexfec_named_ssrcs(&pkt) {
            if let Some(n) = p.named.get_mut(&ssrc) {
                *n += 1;
            } else if p.named.len() < 4 {
                p.named.insert(ssrc, 1);
            }
        }
        p.packets.push(arrival);
        p.raws.push(d.payload.to_vec());
        let ripe = p.packets.len() >= PENDING_PACKETS
            || d.meta.time.nanos_since(p.first_time) >= PENDING_NANOS;
        // Retransmissions must reach their track while the gap is still open: an
        // RTX stream is recognised from its first few packets, not after seconds.
        let rtx = (2..=8).contains(&p.packets.len()) && p.confirmed();
        if ripe
            || (rtx
                && self
                    .pending
                    .get(&key)
                    .and_then(|p| self.rtx_target(p))
                    .is_some())
        {
            self.resolve_pending(key);
        }
    }

    /// Decrypts an SRTP packet of track `i` and queues it; packets that fail
    /// authentication are counted, and a track none of whose keys authenticates its
    /// first [`SRTP_PROBE_PACKETS`] packets fails.
    fn enqueue_srtp(&mut self, i: usize, d: &Datagram<'_>) {
        let t = &mut self.tracks[i];
        let Some(srtp) = t.srtp.as_mut() else {
            return;
        };
        if !srtp.decrypt(d.payload, &mut self.srtp_plain) {
            let give_up = srtp.chosen.is_none() && srtp.failures >= SRTP_PROBE_PACKETS;
            if give_up && !matches!(t.state, TrackState::Done(..)) {
                let message = srtp.failure_message();
                t.fail("srtp-auth-failed", message);
            }
            t.packets_seen += 1;
            t.first_time.get_or_insert(d.meta.time);
            t.last_time = Some(t.last_time.map_or(d.meta.time, |x| x.max(d.meta.time)));
            return;
        }
        let Ok(pkt) = RtpPacket::parse(&self.srtp_plain) else {
            return;
        };
        let arrival = Arrival::from_rtp(&pkt, d.meta.time);
        let plain = std::mem::take(&mut self.srtp_plain);
        self.enqueue(i, arrival, Some(&plain));
        self.srtp_plain = plain;
    }

    /// Decrypts a packet of track `i`'s RTX or FEC stream with the track's keys and queues it.
    fn enqueue_srtp_aux(&mut self, i: usize, route: Route, d: &Datagram<'_>) {
        let Some(srtp) = self.tracks[i].srtp.as_mut() else {
            return;
        };
        let mut plain = std::mem::take(&mut self.srtp_plain);
        if srtp.decrypt_aux(d.payload, &mut plain)
            && let Ok(pkt) = RtpPacket::parse(&plain)
        {
            match route {
                Route::Rtx(_) => self.enqueue_rtx(i, &pkt, d.meta.time),
                Route::Fec(_) => self.enqueue_fec(i, &plain, d.meta.time),
                _ => {}
            }
        }
        self.srtp_plain = plain;
    }

    /// Queues a packet of a track's separate FEC stream (plain RTP bytes).
    fn enqueue_fec(&mut self, idx: usize, raw: &[u8], time: CaptureTime) {
        let t = &mut self.tracks[idx];
        if t.fec.is_none() || !matches!(t.state, TrackState::Running(_)) {
            return;
        }
        t.inbox.push(Inbound::Fec {
            raw: raw.to_vec(),
            time,
        });
        self.queued += 1;
    }

    fn note(&mut self, d: &Datagram<'_>, kind: &'static str, message: String) {
        if self.diagnostics.iter().filter(|x| x.kind == kind).count() < 1 {
            self.diagnostics.push(Diagnostic {
                ctx: d.meta.ctx(),
                kind,
                message,
            });
        }
    }

    fn resolve_all_pending(&mut self) {
        let mut keys: Vec<(Flow, Ssrc)> = self.pending.keys().copied().collect();
        // Deterministic track order: by first packet, then 5-tuple and SSRC.
        keys.sort_by_key(|k| (self.pending[k].first_time, *k));
        for k in keys {
            self.resolve_pending(k);
        }
    }

    /// Decides what an unidentified stream is: a track, a failed track, or not RTP.
    fn resolve_pending(&mut self, key: (Flow, Ssrc)) {
        let Some(p) = self.pending.remove(&key) else {
            return;
        };
        if !p.confirmed() {
            // Not RTP (or a lone stray packet): forget it.
            self.by_flow.insert(key, Route::Ignore);
            return;
        }
        let (pt, guess, video_timing) = p.guess();
        if guess.codec.is_none()
            && let Some((idx, scheme)) = self.fec_owner(&p)
        {
            // A FlexFEC stream naming a track's SSRC: its packets repair the media's.
            self.by_flow.insert(key, Route::Fec(idx));
            self.enable_fec(idx, scheme);
            for (a, raw) in p.packets.into_iter().zip(p.raws) {
                self.enqueue_fec(idx, &raw, a.time);
            }
            return;
        }
        if guess.codec.is_none()
            && let Some(idx) = self.rtx_target(&p)
        {
            // A retransmission stream, not a track: its packets repair the media's.
            self.by_flow.insert(key, Route::Rtx(idx));
            for a in p.packets {
                self.enqueue_rtx_arrival(idx, a);
            }
            return;
        }
        let kind = match guess.codec {
            Some(c) => c.kind(),
            None if video_timing => Kind::Video,
            None => Kind::Audio,
        };
        let ssrc_hex = format!("{:08x}", p.ssrc.0);
        let session_id = format!(
            "s{}",
            compact_time(self.session_start.unwrap_or(p.first_time))
        );
        let peer_id = peer_from_addr(&p.flow.src);
        let kind_name = if kind == Kind::Video {
            "video"
        } else {
            "audio"
        };
        let id = Identity {
            room_id: "capture".into(),
            session_id,
            peer_id,
            track_id: format!("{kind_name}-{ssrc_hex}"),
            kind,
            source: Source::Regular,
            ssrc: Some(p.ssrc.0),
            inferred: [
                "room_id",
                "session_id",
                "peer_id",
                "track_id",
                "kind",
                "source",
                "codec",
            ]
            .map(String::from)
            .to_vec(),
        };
        let idx = self.tracks.len();
        let name = guess.codec.map(|c| c.name().to_string());
        self.tracks.push(Track::new(
            id,
            guess.codec,
            name,
            Some(pt),
            guess.clock_rate,
        ));
        self.by_flow.insert(key, Route::Track(idx));
        self.tracks[idx].flow = Some(p.flow);
        if let Some(red) = guess.red {
            // RED-wrapped media (Chrome's Opus, video with ULPFEC): record what the blocks carry.
            let t = &mut self.tracks[idx];
            t.payload_type = Some(red.media_payload_type);
            t.red_payload_type = Some(red.red_payload_type);
            t.fec = red
                .ulpfec_payload_type
                .map(|pt| (crate::track::fec::FecScheme::Ulpfec, Some(pt)));
        }
        let skipped = self.opts.template.excludes(None, kind, Source::Regular);
        if skipped.is_some() {
            self.tracks[idx].skipped = skipped;
        } else if guess.codec.is_none() {
            let t = &mut self.tracks[idx];
            t.first_time = Some(p.first_time);
            t.last_time = p.packets.last().map(|a| a.time);
            t.packets_seen = p.packets.len() as u64;
            t.fail(
                "unknown-codec",
                format!(
                    "could not identify the codec of payload type {pt}: {}",
                    guess.evidence
                ),
            );
            self.emit_started(idx);
            return;
        }
        // In-band ULPFEC: another payload type of the stream whose packets are RFC 5109 repair data.
        let media_pt = self.tracks[idx].payload_type.unwrap_or(pt);
        if self.tracks[idx].fec.is_none()
            && let Some(fec_pt) =
                inband_ulpfec(&p.packets, media_pt, self.tracks[idx].red_payload_type)
        {
            self.tracks[idx].fec = Some((crate::track::fec::FecScheme::Ulpfec, Some(fec_pt)));
        }
        // Retransmission and FlexFEC streams of this media that were waiting for it
        // join now; everything buffered is queued in capture order so repair meets open gaps.
        self.tracks[idx].last_seq16 = p.packets.last().map(|a| a.seq16);
        let mut keys: Vec<(Flow, Ssrc)> = self
            .pending
            .iter()
            .filter(|(_, q)| q.flow.src.ip() == p.flow.src.ip() && q.confirmed())
            .map(|(k, _)| *k)
            .collect();
        keys.sort();
        let mut batch: Vec<(Arrival, Buffered)> = p
            .packets
            .into_iter()
            .zip(p.raws.into_iter().map(Buffered::Media))
            .collect();
        for k in keys {
            let Some(q) = self.pending.get(&k) else {
                continue;
            };
            let fec = self.fec_owner(q).filter(|(owner, _)| *owner == idx);
            if fec.is_none() && self.rtx_target(q) != Some(idx) {
                continue;
            }
            let Some(q) = self.pending.remove(&k) else {
                continue;
            };
            if let Some((_, scheme)) = fec {
                self.by_flow.insert(k, Route::Fec(idx));
                self.enable_fec(idx, scheme);
                batch.extend(
                    q.packets
                        .into_iter()
                        .zip(q.raws.into_iter().map(Buffered::Fec)),
                );
            } else {
                self.by_flow.insert(k, Route::Rtx(idx));
                batch.extend(q.packets.into_iter().map(|a| (a, Buffered::Rtx)));
            }
        }
        batch.sort_by_key(|(a, _)| a.time);
        for (a, item) in batch {
            match item {
                Buffered::Media(raw) => self.enqueue(idx, a, Some(&raw)),
                Buffered::Rtx => self.enqueue_rtx_arrival(idx, a),
                Buffered::Fec(raw) => self.enqueue_fec(idx, &raw, a.time),
            }
        }
    }

    /// Without metadata: the track a FlexFEC stream protects (its CSRC list, or
    /// for draft 03 its FEC header, names the track's SSRC) and the format.
    fn fec_owner(&self, p: &Pending) -> Option<(usize, crate::track::fec::FecScheme)> {
        use crate::track::fec::{FecScheme, parse_flexfec, parse_flexfec03};
        // Only an SSRC (nearly) every packet names can be the one protected; the
        // full parse runs for tracks with that SSRC only.
        let total = u32::try_from(p.raws.len()).unwrap_or(u32::MAX);
        let named = p
            .named
            .iter()
            .filter(|(_, n)| **n >= 2 && u64::from(**n) * 10 >= u64::from(total) * 9)
            .map(|(ssrc, _)| *ssrc);
        named.into_iter().find_map(|ssrc: u32| {
            let i = self.tracks.iter().position(|t| {
                t.id.ssrc == Some(ssrc) && t.flow.is_some_and(|f| f.src.ip() == p.flow.src.ip())
            })?;
            if ssrc == p.ssrc.0 {
                return None;
            }
            let share = |parse: fn(&[u8], u32) -> Result<_, _>| {
                let ok = p.raws.iter().filter(|r| parse(r, ssrc).is_ok()).count();
                ok * 10 >= p.raws.len() * 9 && ok >= 2
            };
            if share(parse_flexfec) {
                Some((i, FecScheme::Flexfec))
            } else if share(parse_flexfec03) {
                Some((i, FecScheme::Flexfec03))
            } else {
                None
            }
        })
    }

    /// Turns on FEC for track `idx` (inferred: no FEC was known when it started).
    fn enable_fec(&mut self, idx: usize, scheme: crate::track::fec::FecScheme) {
        let t = &mut self.tracks[idx];
        if t.fec.is_some() {
            return;
        }
        t.fec = Some((scheme, None));
        if let (TrackState::Running(rec), Some(media_ssrc)) = (&mut t.state, t.id.ssrc) {
            rec.enable_fec(track::FecSetup {
                scheme,
                payload_type: None,
                media_ssrc,
            });
        }
    }

    /// Queues a packet of track `idx`; `raw` is its plain RTP bytes, kept when FEC protects the track.
    fn enqueue(&mut self, idx: usize, a: Arrival, raw: Option<&[u8]>) {
        let t = &mut self.tracks[idx];
        // A peer's media before it joined or after it left (metadata) is not part of the session.
        let (joined, left) = t.presence;
        if joined.is_some_and(|j| a.time < j) || left.is_some_and(|l| a.time > l) {
            t.outside_presence += 1;
            return;
        }
        if t.id.session_id.is_empty() {
            t.id.session_id = format!("s{}", compact_time(self.session_start.unwrap_or(a.time)));
        }
        t.packets_seen += 1;
        let first = t.first_time.is_none();
        t.first_time.get_or_insert(a.time);
        t.first_ts32.get_or_insert(a.ts32);
        t.last_seq16 = Some(a.seq16);
        t.last_time = Some(t.last_time.map_or(a.time, |x| x.max(a.time)));
        if t.skipped.is_some() {
            // Left out by the template: counted, not recorded, no events.
            return;
        }
        if matches!(t.state, TrackState::Idle) {
            start_track(
                t,
                &self.opts.out_dir,
                self.opts.reorder,
                &self.opts.template,
            );
        }
        let running = matches!(t.state, TrackState::Running(_));
        if running {
            let raw = raw.filter(|_| t.fec.is_some()).map(<[u8]>::to_vec);
            t.inbox.push(Inbound::Media { arrival: a, raw });
            self.queued += 1;
        }
        if first {
            self.emit_started(idx);
        }
    }

    /// Adds RTCP sender reports, captured at `time`, to their SSRC's [`SenderClock`]:
    /// they map its RTP time to the sender's NTP clock.
    fn note_sender_reports(&mut self, payload: &[u8], time: CaptureTime) {
        // `--srtp-keys`: SRTCP of a stream a key decrypts, with that key.
        if let Some(b) = payload.get(4..8)
            && !self.keyring.is_empty()
        {
            let ssrc = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let mut plain = Vec::new();
            match self.keyring.unprotect_rtcp(ssrc, payload, &mut plain) {
                Unprotect::Plain => {}
                Unprotect::Failed => return,
                Unprotect::Decrypted => return self.note_plain_sender_reports(&plain, time),
            }
        }
        self.note_sender_reports_of_tracks(payload, time);
    }

    /// Decrypts SRTCP of metadata tracks with keys, then keeps the sender reports.
    fn note_sender_reports_of_tracks(&mut self, payload: &[u8], time: CaptureTime) {
        // SRTCP (RFC 3711 §3.4) leaves only the first header and SSRC in clear: a
        // track with keys decrypts its reports with the key that authenticated its
        // media; a report that cannot be decrypted says nothing about timing.
        let sender = payload
            .get(4..8)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let track = sender.and_then(|ssrc| match self.by_ssrc.get(&ssrc) {
            Some(Route::Track(i)) => Some(*i),
            _ => None,
        });
        let mut plain = Vec::new();
        let payload = match track.and_then(|i| self.tracks[i].srtp.as_mut()) {
            Some(srtp) => {
                let Some(ctx) = srtp.chosen.and_then(|c| srtp.candidates.get_mut(c)) else {
                    return;
                };
                if ctx.decrypt_rtcp(payload, &mut plain).is_err() {
                    return;
                }
                plain.as_slice()
            }
            None => payload,
        };
        self.note_plain_sender_reports(payload, time);
    }

    /// Adds the sender reports of a plain RTCP compound packet to their SSRCs' clocks.
    fn note_plain_sender_reports(&mut self, payload: &[u8], time: CaptureTime) {
        for p in crate::rtp::rtcp::compound(payload) {
            match p {
                Ok(crate::rtp::rtcp::RtcpPacket::SenderReport(sr)) => {
                    self.sender_clocks.entry(sr.ssrc.0).or_default().push(
                        time,
                        sr.ntp,
                        sr.rtp_timestamp,
                    );
                }
                Ok(_) => {}
                // Garbage (or SRTCP without a key): nothing usable.
                Err(_) => break,
            }
        }
    }

    /// Queues an RFC 4588 retransmission as the original packet it carries.
    ///
    /// RFC 4588 §4: the RTX payload starts with the original sequence number (OSN);
    /// the timestamp is the original's. Payloads of 2 bytes or less are padding
    /// (bandwidth probes), not retransmissions.
    fn enqueue_rtx(&mut self, idx: usize, pkt: &RtpPacket<'_>, time: CaptureTime) {
        let rtx = Arrival::from_rtp(pkt, time);
        self.enqueue_rtx_arrival(idx, rtx);
    }

    /// Unwraps an RTX packet (as received) into the original it carries and queues it.
    fn enqueue_rtx_arrival(&mut self, idx: usize, rtx: Arrival) {
        let t = &mut self.tracks[idx];
        if rtx.payload.len() <= 2 || !matches!(t.state, TrackState::Running(_)) {
            return;
        }
        let arrival = Arrival {
            seq16: u16::from_be_bytes([rtx.payload[0], rtx.payload[1]]),
            ts32: rtx.ts32,
            marker: rtx.marker,
            pt: t.payload_type.unwrap_or(rtx.pt),
            payload: rtx.payload[2..].to_vec(),
            time: rtx.time,
        };
        t.inbox.push(Inbound::Rtx(arrival));
        self.queued += 1;
    }

    /// Without metadata: the track an unidentified stream retransmits (RFC 4588), if any.
    ///
    /// An RTX stream shares its media's 5-tuple under BUNDLE (or at least its
    /// source address), and the first two bytes of its payloads are original
    /// sequence numbers close to the ones the media stream is sending.
    fn rtx_target(&self, p: &Pending) -> Option<usize> {
        let osns: Vec<u16> = p
            .packets
            .iter()
            .filter(|a| a.payload.len() > 2)
            .map(|a| u16::from_be_bytes([a.payload[0], a.payload[1]]))
            .collect();
        let mut distinct = osns.clone();
        distinct.sort_unstable();
        distinct.dedup();
        // Retransmissions carry different packets (a constant, like a payload
        // descriptor's first bytes, is not a sequence number) of a stream whose
        // own payload format rtprec could not recognise.
        if osns.len() < 2 || distinct.len() * 5 < osns.len() * 4 || p.guess().1.codec.is_some() {
            return None;
        }
        // Packets already sent: at most 1000 behind the media's latest sequence number.
        let near = |t: &Track| -> usize {
            let Some(last) = t.last_seq16 else { return 0 };
            osns.iter()
                .filter(|&&o| last.wrapping_sub(o) <= 1000)
                .count()
        };
        let (idx, hits) = self
            .tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.flow.is_some_and(|f| f.src.ip() == p.flow.src.ip()) && t.id.ssrc != Some(p.ssrc.0)
            })
            .map(|(i, t)| (i, near(t)))
            .max_by_key(|&(i, hits)| (hits, std::cmp::Reverse(i)))?;
        (hits * 5 >= osns.len() * 4).then_some(idx)
    }

    /// `track.recording.started.success` for a track that has media, at its first packet.
    fn emit_started(&mut self, idx: usize) {
        let t = &self.tracks[idx];
        if t.skipped.is_some() {
            return;
        }
        let snapshot = asset_of(t, None);
        let at = t.first_time.unwrap_or_default();
        (self.events)(Event::started(&snapshot, at));
    }

    fn process_batch(&mut self) {
        self.queued = 0;
        let tracks = &mut self.tracks;
        self.pool
            .install(|| tracks.par_iter_mut().for_each(Track::drain));
    }

    fn manifest(&mut self, inputs: Vec<String>) -> Manifest {
        let mut assets = std::mem::take(&mut self.done);
        assets.sort_by(|a, b| {
            (&a.room_id, &a.session_id, &a.peer_id, &a.track_id).cmp(&(
                &b.room_id,
                &b.session_id,
                &b.peer_id,
                &b.track_id,
            ))
        });
        Manifest {
            version: assets::MANIFEST_VERSION,
            generator: format!("rtprec {}", env!("CARGO_PKG_VERSION")),
            inputs,
            identification: if self.opts.session.is_some() {
                self.opts.identification.into()
            } else {
                "inferred".into()
            },
            assets,
        }
    }
}

/// Creates the recorder of a track on its first packet, or marks why it cannot be recorded.
fn start_track(
    t: &mut Track,
    out_dir: &Path,
    reorder: ReorderConfig,
    template: &template::Template,
) {
    let Some(codec) = t.codec else {
        let name = t.codec_name.clone().unwrap_or_else(|| "unknown".into());
        t.fail(
            "unsupported-codec",
            format!("codec {name} is not one rtprec can record"),
        );
        return;
    };
    let Some(mut container) = Container::for_codec(codec) else {
        t.fail(
            "unsupported-codec",
            format!("codec {} is not one rtprec can record yet", codec.name()),
        );
        return;
    };
    if codec == Codec::Opus && template.audio_container.as_deref() == Some("webm") {
        container = Container::Webm;
    }
    let clock_rate = t
        .clock_rate
        .or_else(|| codec.default_clock_rate(t.payload_type))
        .unwrap_or(if t.id.kind == Kind::Video {
            90_000
        } else {
            48_000
        });
    let rel = format!(
        "{}/{}/{}/{}.{}",
        t.id.room_id,
        t.id.session_id,
        t.id.peer_id,
        t.id.track_id,
        container.extension()
    );
    let asset = assets::asset_id(
        &t.id.room_id,
        &t.id.session_id,
        &t.id.peer_id,
        &t.id.track_id,
    );
    let uid = u64::from_str_radix(&asset[..16], 16).unwrap_or(1);
    let setup = TrackSetup {
        container,
        codec,
        payload_type: t.payload_type,
        clock_rate,
        // RFC 7587 §7: SDP always says 2 for Opus; the decoder mixes to what the file declares.
        channels: t
            .channels
            .unwrap_or_else(|| codec.default_channels(t.payload_type)),
        path: out_dir.join(&rel),
        uid,
        reorder,
        fmtp: t.fmtp.clone(),
        red_payload_type: t.red_payload_type,
        fec: t
            .fec
            .zip(t.id.ssrc)
            .map(|((scheme, payload_type), media_ssrc)| track::FecSetup {
                scheme,
                payload_type,
                media_ssrc,
            }),
    };
    t.container = Some(container);
    t.clock_rate = Some(clock_rate);
    t.rel_path = Some(rel);
    match TrackRecorder::new(setup) {
        Ok(r) => t.state = TrackState::Running(Box::new(r)),
        Err(e) => t.fail(failure_code(&e), e.to_string()),
    }
}

fn asset_of(t: &Track, offset: Option<(i64, &'static str)>) -> Asset {
    let (result, stats, dims) = match &t.state {
        TrackState::Done(r, s, d) => (Some(r.as_ref()), s.as_deref(), *d),
        _ => (None, None, None),
    };
    let (status, error, file) = match result {
        _ if t.skipped.is_some() => {
            let message = t.skipped.clone().unwrap_or_default();
            (
                Status::Skipped,
                Some(Failure {
                    code: "skipped".into(),
                    message,
                }),
                None,
            )
        }
        Some(Ok(file)) => (Status::Completed, None, Some(file)),
        Some(Err(f)) => (Status::Failed, Some(f.clone()), None),
        None => {
            let f = Failure {
                code: "internal".into(),
                message: "track never finished".into(),
            };
            (Status::Failed, Some(f), None)
        }
    };
    let mut st = stats.cloned().unwrap_or_default();
    if stats.is_none() {
        // The track never ran (e.g. unsupported codec): still count what arrived.
        st.packets = t.packets_seen;
    }
    Asset {
        id: assets::asset_id(
            &t.id.room_id,
            &t.id.session_id,
            &t.id.peer_id,
            &t.id.track_id,
        ),
        asset_type: "track".into(),
        room_id: t.id.room_id.clone(),
        session_id: t.id.session_id.clone(),
        peer_id: t.id.peer_id.clone(),
        track_id: t.id.track_id.clone(),
        kind: t.id.kind,
        source: t.id.source,
        codec: t.codec_name.clone(),
        container: file.and(t.container).map(|c| c.extension().to_string()),
        ssrc: t.id.ssrc.map(|s| format!("0x{s:08X}")),
        payload_type: t.payload_type,
        clock_rate: t.clock_rate,
        path: file.and(t.rel_path.clone()),
        size: file.map(|f| f.size),
        sha256: file.map(|f| f.sha256_hex()),
        started_at: t.first_time.map(assets::time_str),
        stopped_at: t.last_time.map(assets::time_str),
        duration_ms: file.map(|f| f.duration_ms),
        start_offset_ms: offset.map(|(ms, _)| ms),
        start_offset_source: offset.map(|(_, source)| source.to_string()),
        sender_clock: None,
        resolution: dims
            .filter(|_| file.is_some())
            .map(|(width, height)| Resolution { width, height }),
        status,
        error,
        inferred: t.id.inferred.clone(),
        stats: AssetStats {
            packets: st.packets,
            lost: st.reorder.lost,
            duplicates: st.reorder.duplicates,
            reordered: st.reorder.reordered,
            late: st.reorder.late,
            resets: st.reorder.resets,
            recovered: st.recovered_rtx + st.recovered_red + st.recovered_fec,
            recovered_rtx: st.recovered_rtx,
            recovered_red: st.recovered_red,
            recovered_fec: st.recovered_fec,
            rtx_packets: st.rtx_packets,
            fec_packets: st.fec_packets,
            frames_written: st.frames_written,
            frames_dropped_incomplete: st.frames_dropped_incomplete,
            frames_dropped_until_keyframe: st.frames_dropped_until_keyframe,
            frames_inserted: st.frames_inserted,
            gaps: st.gaps,
            timestamp_jumps: st.timestamp_jumps,
            malformed: st.malformed,
            other_payload_types: st.other_payload_types,
            padding_only: st.padding_only,
            outside_presence: t.outside_presence,
            pauses: st.pauses,
            paused_ms: st.paused_ms,
            srtp_auth_failures: t.srtp.as_ref().map_or(0, |s| s.failures) + t.keyring_failures,
        },
    }
}

/// `20261123T100001Z`: a capture time as a path-safe id part.
fn compact_time(t: CaptureTime) -> String {
    t.to_rfc3339_millis()
        .replace(['-', ':'], "")
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string()
        + "Z"
}

/// `10.0.0.1:5000` -> `10.0.0.1-5000`, `[::1]:5000` -> `__1-5000`: a path-safe peer id.
fn peer_from_addr(a: &std::net::SocketAddr) -> String {
    let ip = a.ip().to_string().replace(':', "_");
    format!("{ip}-{}", a.port())
}
