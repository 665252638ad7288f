//! The recorder as a sans-IO state machine.
//!
//! It takes datagrams in capture order (and the passage of capture time) and
//! decides: which track a packet belongs to ([`super::route`]), what an
//! unidentified stream is ([`super::infer`]), which key decrypts a track
//! ([`super::keys`]), where tracks start on the session timeline
//! ([`super::clock`]) and when a session ends (its last peer left, or the idle
//! rule). What it decides goes out through [`Actions`]: start a track's
//! worker, queue a packet for it, announce a start, hand over an ended
//! session's assets. It touches no file, thread or sink; capture time is its
//! only clock, so unit tests drive it with datagrams and times alone.

use super::RecordOptions;
use super::claim::Claimed;
use super::clock::{ClockTrack, SenderClocks, StartOffset};
use super::infer::{
    MAX_PENDING_BYTES, MAX_PENDING_STREAMS, Pending, SentPackets, TrackView, inband_ulpfec,
};
use super::keys::TrackSrtp;
use super::manifest::{asset_of, compact_time, peer_from_addr};
use super::presence::{PlannedSession, plan_sessions};
use super::route::{BindBy, MID_URI, RID_URI, Route, Router};
use super::timeline::TrackTimeline;
use super::track::{Container, FecSetup, TrackSetup, TrackStats};
use super::workers::{Inbound, WorkerOutcome};
use crate::assets::{self, Asset, Failure, FailureCode, Manifest, Status};
use crate::codec::Codec;
use crate::error::Diagnostic;
use crate::mux::OutputFile;
use crate::net::{Datagram, Flow};
use crate::rtp::{PacketClass, RtpPacket, Ssrc, classify};
use crate::session::{Kind, Source};
use crate::srtp::keyring::{KeyRing, Unprotect};
use crate::time::CaptureTime;
use crate::track::Arrival;
use crate::track::fec::FecScheme;
use std::collections::{BTreeMap, HashMap};

mod signalling;

/// What the recorder asks of the world around it.
pub trait Actions {
    /// A track's first packet was routed: start its worker with `setup`.
    fn start_track(&mut self, track: usize, setup: TrackSetup);
    /// A packet for a started track.
    fn queue(&mut self, track: usize, item: Inbound);
    /// An empty buffer for the next packet's payload: one the track workers
    /// gave back when they have one, else a new one.
    fn payload_buf(&mut self) -> Vec<u8> {
        Vec::new()
    }
    /// FEC was recognised for a started track: its next packets carry repair data.
    fn enable_fec(&mut self, track: usize, setup: FecSetup);
    /// A started track failed for a reason the recorder found; drop its worker.
    fn abort_track(&mut self, track: usize);
    /// A track that cannot be recorded (`failure`): its packets are only counted.
    fn count_track(&mut self, track: usize, failure: Failure);
    /// The session ends: finish the workers of tracks `0..n`, which belong to
    /// `sessions`, and say what became of each.
    fn finish_tracks(&mut self, n: usize, sessions: &[SessionKey]) -> Vec<WorkerOutcome>;
    /// `track.recording.started.success`: the track's first packet, at `at`.
    fn track_started(&mut self, asset: &Asset, at: CaptureTime);
    /// A session ended: its assets, each with the capture time of its terminal
    /// event, in the order the events go out.
    fn session_ended(&mut self, assets: &[(CaptureTime, Asset)]);
}

/// A recording session: a room's session id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionKey {
    /// The room.
    pub room_id: String,
    /// The session.
    pub session_id: String,
}

/// Who a track is.
#[derive(Clone, Debug)]
pub(super) struct Identity {
    pub room_id: String,
    pub session_id: String,
    pub peer_id: String,
    pub track_id: String,
    pub kind: Kind,
    pub source: Source,
    pub ssrc: Option<u32>,
    pub inferred: Vec<String>,
}

/// A finished track: the file or why not, the counters (when it ran), the video size.
pub(super) struct Finished {
    pub result: Result<OutputFile, Failure>,
    pub stats: Option<Box<TrackStats>>,
    pub dims: Option<(u16, u16)>,
    pub timeline: Option<Box<TrackTimeline>>,
}

/// Where a track is in its life.
pub(super) enum Life {
    /// Waiting for the first packet (metadata tracks exist before their media).
    Idle,
    /// Its worker records.
    Running,
    /// Done: recorded, or failed.
    Done(Box<Finished>),
}

/// A track as the recorder sees it: identity, setup, counters; not its worker.
pub(super) struct Track {
    pub id: Identity,
    pub codec_name: Option<String>,
    pub codec: Option<Codec>,
    pub payload_type: Option<u8>,
    pub clock_rate: Option<u32>,
    pub channels: Option<u8>,
    /// SDP/metadata fmtp of the payload type (H.264/H.265 parameter sets).
    pub fmtp: Option<String>,
    /// RED payload type (RFC 2198) carrying the media, from metadata/SDP.
    pub red_payload_type: Option<u8>,
    /// FEC protecting the media (scheme, payload type of in-stream repair packets).
    pub fec: Option<(FecScheme, Option<u8>)>,
    pub container: Option<Container>,
    pub rel_path: Option<String>,
    pub life: Life,
    pub first_time: Option<CaptureTime>,
    pub last_time: Option<CaptureTime>,
    /// Packets routed to the track, whether or not it could record them.
    pub packets_seen: u64,
    /// RTP timestamp of the track's first packet (for RTCP sender-report timing).
    pub first_ts32: Option<u32>,
    /// Sequence number of the latest packet (to recognise RTX streams without metadata).
    pub last_seq16: Option<u16>,
    /// Recent packets of an inferred track, which its retransmissions repeat
    /// (to recognise its RTX stream without metadata).
    pub sent: Option<Box<SentPackets>>,
    /// The 5-tuple of an inferred track.
    pub flow: Option<Flow>,
    /// The peer's role, from metadata.
    pub role: Option<String>,
    /// Left out by the template: why.
    pub skipped: Option<String>,
    /// The peer's presence from metadata (`joined_at`, `left_at`): media outside it is not recorded.
    pub presence: (Option<CaptureTime>, Option<CaptureTime>),
    /// Packets dropped because they fell outside the peer's presence.
    pub outside_presence: u64,
    /// SRTP keys of a metadata track (`None`: the track is plain RTP).
    pub srtp: Option<TrackSrtp>,
    /// Packets of the track's SSRC that its `--srtp-keys` key did not authenticate.
    pub keyring_failures: u64,
    /// The paths its packets took, and the copies that came on more than one.
    pub paths: super::paths::Paths,
    /// It cannot be recorded, but a worker counts its packets (loss, duplicates).
    pub counted: bool,
    /// Watches the first packets for SRTP's authentication tag (no keys given).
    pub tag_probe: Option<super::encrypted::TagProbe>,
    /// The `m=` port signalling bound the track to (messages).
    pub port: Option<u16>,
    /// Its `a=mid` (messages).
    pub mid: Option<String>,
    /// Signalled SRTP and the signalled codec's payloads, watched for encryption without keys.
    pub encryption: super::encrypted::Watch,
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
            life: Life::Idle,
            first_time: None,
            last_time: None,
            packets_seen: 0,
            first_ts32: None,
            last_seq16: None,
            sent: None,
            flow: None,
            role: None,
            skipped: None,
            presence: (None, None),
            outside_presence: 0,
            srtp: None,
            keyring_failures: 0,
            paths: Default::default(),
            counted: false,
            tag_probe: None,
            port: None,
            mid: None,
            encryption: Default::default(),
        }
    }

    fn running(&self) -> bool {
        matches!(self.life, Life::Running)
    }

    /// Ends the track with a failure the recorder found (no worker counters).
    fn fail(&mut self, code: FailureCode, message: String) {
        self.life = Life::Done(Box::new(Finished {
            result: Err(Failure::new(code, message)),
            stats: None,
            dims: None,
            timeline: None,
        }));
    }

    fn view(&self, index: usize) -> TrackView<'_> {
        TrackView {
            index,
            src_ip: self.flow.map(|f| f.src.ip()),
            ssrc: self.id.ssrc,
            last_seq16: self.last_seq16,
            sent: self.sent.as_deref(),
        }
    }

    fn clock(&self) -> ClockTrack<'_> {
        ClockTrack {
            peer_id: &self.id.peer_id,
            first_time: self.first_time,
            joined_at: self.presence.0,
            ssrc: self.id.ssrc,
            clock_rate: self.clock_rate,
            first_ts32: self.first_ts32,
        }
    }
}

/// A packet buffered while its stream was unidentified, and what it turned out to be.
enum Buffered {
    /// The track's own packet, with its plain bytes and the path it took.
    Media(Vec<u8>, Flow),
    /// A retransmission of one of its packets.
    Rtx,
    /// A packet of its FlexFEC stream, plain bytes.
    Fec(Vec<u8>),
}

/// Tracks one session may have. Each track has a worker, reorder and FEC state
/// and open files; a real session has tens. 4,096 keeps a hostile capture of
/// many short streams that look like media from opening files without end (#13).
pub const MAX_TRACKS: usize = 4096;

/// The caps on the recorder's state (see [`MAX_TRACKS`], [`MAX_PENDING_STREAMS`],
/// [`MAX_PENDING_BYTES`]); tests use small ones.
#[derive(Clone, Copy, Debug)]
struct Caps {
    pending_streams: usize,
    pending_bytes: usize,
    tracks: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            pending_streams: MAX_PENDING_STREAMS,
            pending_bytes: MAX_PENDING_BYTES,
            tracks: MAX_TRACKS,
        }
    }
}

/// The recorder: every decision of a recording run, none of its I/O.
pub struct Recorder {
    opts: RecordOptions,
    /// Tracks of the current session.
    tracks: Vec<Track>,
    router: Router,
    /// Streams without metadata, by SSRC, until they are identified.
    pending: crate::hash::FastMap<Ssrc, Pending>,
    /// Sum of [`Pending::bytes`] over `pending`.
    pending_bytes: usize,
    /// New streams until the next sweep of `pending` at its cap may run: a sweep
    /// passes over every pending stream, so it runs at most once per quarter cap.
    sweep_wait: usize,
    /// Streams forgotten or not buffered at the pending caps, and streams not
    /// recorded at the tracks cap (for the warnings).
    pending_dropped: u64,
    tracks_dropped: u64,
    caps: Caps,
    first_time: Option<CaptureTime>,
    last_time: Option<CaptureTime>,
    /// First RTP packet of the current session.
    session_start: Option<CaptureTime>,
    /// Last RTP packet seen (for the idle rule).
    last_media: Option<CaptureTime>,
    /// With metadata: the sessions its presences make, in time order.
    plan: Vec<PlannedSession>,
    /// Index in `plan` of the current session.
    current: usize,
    /// Every planned session has ended (the last peer of the last one left).
    metadata_ended: bool,
    /// Packets of SSRCs that belong to a later planned session, seen before it began.
    early: crate::hash::FastMap<u32, u64>,
    /// Assets of sessions that have ended.
    done: Vec<Asset>,
    /// Time series of the ended sessions' tracks, by asset id.
    timelines: BTreeMap<String, TrackTimeline>,
    clocks: SenderClocks,
    diagnostics: Vec<Diagnostic>,
    /// Scratch buffer for decrypted SRTP packets.
    srtp_plain: Vec<u8>,
    /// `--srtp-keys`: keys for streams the metadata gives none.
    keyring: KeyRing,
    /// Output paths already taken in this run.
    claimed: Claimed,
    /// DTLS handshakes and the keys they exported (RFC 5764).
    dtls: super::dtls::DtlsSrtp,
    /// Capture times come from a browser's RTP dump (no date).
    browser_dump: bool,
    /// SSRCs that are SRTP for sure (their 5-tuple carried DTLS) and that no key decrypts.
    no_key: crate::hash::FastSet<u32>,
    /// Streams of the session that metadata names no track for (the first few).
    unmatched: Vec<Unmatched>,
    /// `--match-by-kind`: unmatched streams held (with the first datagram's
    /// frame and encapsulation) until their kind is known and one may be bound.
    held: HashMap<u32, (Pending, crate::capture::FrameMeta, crate::net::Encap)>,
    /// The current session's derived id, once given.
    session_name: Option<String>,
    /// Every session id given in this run.
    session_ids: std::collections::HashSet<String>,
}

/// Streams the capture has that signalling did not name, kept to say why a track it named had none.
const MAX_UNMATCHED: usize = 8;

/// A stream no track of the metadata or SDP matched.
#[derive(Clone, Debug)]
struct Unmatched {
    ssrc: u32,
    payload_type: u8,
    flow: Flow,
    packets: u64,
    /// Its kind, when its payload type says it (static, or signalled for a track).
    kind: Option<Kind>,
    /// Otherwise its payloads tell, as inference reads them.
    guesser: Option<Box<crate::codec::guess::CodecGuesser>>,
}

impl Recorder {
    /// A recorder for `opts`; tracks named by metadata exist from the start.
    pub fn new(mut opts: RecordOptions) -> Recorder {
        let keyring = KeyRing::new(opts.srtp_keys.clone());
        // The DTLS side owns the secrets; the options need not keep a copy.
        let opts_keylog = std::mem::take(&mut opts.keylog);
        let plan = opts.session.as_ref().map(plan_sessions).unwrap_or_default();
        let mut rec = Recorder {
            opts,
            tracks: Vec::new(),
            router: Router::default(),
            pending: Default::default(),
            pending_bytes: 0,
            sweep_wait: 0,
            pending_dropped: 0,
            tracks_dropped: 0,
            caps: Caps::default(),
            first_time: None,
            last_time: None,
            session_start: None,
            last_media: None,
            plan,
            current: 0,
            metadata_ended: false,
            early: Default::default(),
            done: Vec::new(),
            timelines: BTreeMap::new(),
            clocks: SenderClocks::default(),
            diagnostics: Vec::new(),
            srtp_plain: Vec::new(),
            keyring,
            claimed: Claimed::default(),
            dtls: super::dtls::DtlsSrtp::new(opts_keylog),
            no_key: Default::default(),
            browser_dump: false,
            unmatched: Vec::new(),
            held: HashMap::new(),
            session_name: None,
            session_ids: Default::default(),
        };
        rec.session_ids = rec
            .plan
            .iter()
            .filter_map(|p| p.session_id.clone())
            .collect();
        rec.declare_metadata_tracks();
        rec.early = rec
            .plan
            .iter()
            .skip(1)
            .flat_map(|s| s.ssrcs.iter().map(|&ssrc| (ssrc, 0)))
            .collect();
        rec
    }

    /// Diagnostics so far (first of each kind), drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Time series of every ended session's tracks, by asset id (`OUT/timeline.json`).
    pub fn timelines(&self) -> &BTreeMap<String, TrackTimeline> {
        &self.timelines
    }

    /// Tracks renamed because their path was taken: (the path it would have had, the new track id).
    pub fn renamed_tracks(&self) -> &[(String, String)] {
        &self.claimed.renamed
    }

    /// A captured frame at `time`, whatever it holds: capture time moves on.
    pub fn saw_frame(&mut self, time: CaptureTime, actions: &mut dyn Actions) {
        self.first_time.get_or_insert(time);
        self.last_time = Some(self.last_time.map_or(time, |t| t.max(time)));
        self.advance(time, actions);
    }

    /// Capture time is now at least `now` (a frame, or an idle live input):
    /// sessions whose end has passed are ended.
    pub fn advance(&mut self, now: CaptureTime, actions: &mut dyn Actions) {
        // The room is empty once the last peer present has left (metadata): the
        // session ends, and the next presence, if any, is the next session.
        while !self.metadata_ended
            && let Some(end) = self.plan.get(self.current).and_then(|s| s.end)
            && now > end
        {
            self.next_planned_session(actions);
        }
        // Without metadata, a room is empty once no media has flowed for the idle time.
        if self.opts.session.is_none()
            && let Some(last) = self.last_media
            && now.nanos_since(last) >= self.opts.idle_timeout_nanos
            && !(self.tracks.is_empty() && self.pending.is_empty())
        {
            self.end_session(actions);
        }
    }

    /// No packet arrived on a live input and capture time is now `now`: streams
    /// still being identified are decided once their time is up (as their own
    /// next packet would have decided them), then sessions end as in [`Recorder::advance`].
    pub fn idle(&mut self, now: CaptureTime, actions: &mut dyn Actions) {
        let mut ripe: Vec<Ssrc> = self
            .pending
            .iter()
            .filter(|(_, p)| p.ripe(now))
            .map(|(k, _)| *k)
            .collect();
        // Deterministic track order, as at a session's end: by first packet, then 5-tuple and SSRC.
        ripe.sort_by_key(|k| (self.pending[k].first_time, self.pending[k].flow, *k));
        for k in ripe {
            self.resolve_ripe(k, now, actions);
        }
        self.advance(now, actions);
    }

    /// The input ended: the open session ends (and planned sessions the capture
    /// never reached end too, their tracks without media).
    pub fn finish(&mut self, actions: &mut dyn Actions) {
        if self.plan.is_empty() {
            return self.end_session(actions);
        }
        while !self.metadata_ended {
            self.next_planned_session(actions);
        }
    }

    /// Ends the current planned session and declares the next one's tracks.
    fn next_planned_session(&mut self, actions: &mut dyn Actions) {
        self.metadata_ended = self.current + 1 >= self.plan.len();
        self.end_session(actions);
        if self.metadata_ended {
            return;
        }
        self.current += 1;
        self.declare_metadata_tracks();
        // Media of this session's peers that came before it began was outside their presence.
        for t in &mut self.tracks {
            if let Some(n) = t.id.ssrc.and_then(|s| self.early.remove(&s)) {
                t.outside_presence += n;
            }
        }
    }

    /// The manifest of every ended session so far.
    pub fn manifest(&self, inputs: Vec<String>) -> Manifest {
        let mut assets = self.done.clone();
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

    /// Tracks named by metadata exist from the start; their SSRCs route to them.
    fn declare_metadata_tracks(&mut self) {
        let Some(map) = &self.opts.session else {
            return;
        };
        let Some(planned) = self.plan.get(self.current) else {
            return;
        };
        for peer in planned.peers.iter().filter_map(|&i| map.peers.get(i)) {
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
                    // Empty: filled from the first packet's time.
                    session_id: planned.session_id.clone().unwrap_or_default(),
                    peer_id: peer.peer_id.clone(),
                    track_id: t.track_id.clone(),
                    kind: t.kind,
                    source: t.source,
                    ssrc: t.ssrc,
                    inferred: if planned.session_id.is_none() || map.session_id.is_none() {
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
                track.port = t.port;
                track.mid.clone_from(&t.mid);
                track.encryption = super::encrypted::Watch::new(t.protection, codec);
                if track.srtp.is_none() && super::encrypted::TagProbe::applies(codec) {
                    track.tag_probe = Some(Default::default());
                }
                track.skipped = self
                    .opts
                    .template
                    .excludes(peer.role.as_deref(), t.kind, t.source);
                self.tracks.push(track);
                match t.ssrc {
                    Some(ssrc) => self.router.set_ssrc(ssrc, Route::Track(idx)),
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
                            self.router.wait_for(idx, by);
                        }
                    }
                }
                // Retransmission and repair streams are not recorded as tracks.
                if let Some(rtx) = t.rtx_ssrc {
                    self.router.set_ssrc(rtx, Route::Rtx(idx));
                }
                if let Some(fec) = t.fec_ssrc {
                    self.router.set_ssrc(fec, Route::Fec(idx));
                }
            }
        }
    }

    /// Ends the current session: finishes, lists and announces every track of it.
    ///
    /// A session's tracks start on their own first packets; its start (offset 0
    /// of `start_offset_ms`) is the first packet of any of them.
    fn end_session(&mut self, actions: &mut dyn Actions) {
        self.resolve_all_pending(actions);
        self.decide_all_held(actions);
        // Metadata tracks that never saw a packet still belong to the session.
        let fallback = self.derived_session_id(self.first_time.unwrap_or_default());
        for t in self
            .tracks
            .iter_mut()
            .filter(|t| t.id.session_id.is_empty())
        {
            t.id.session_id.clone_from(&fallback);
        }
        let mut sessions: Vec<SessionKey> = self
            .tracks
            .iter()
            .map(|t| SessionKey {
                room_id: t.id.room_id.clone(),
                session_id: t.id.session_id.clone(),
            })
            .collect();
        sessions.sort();
        sessions.dedup();
        self.settle_encryption(actions);
        let outcomes = actions.finish_tracks(self.tracks.len(), &sessions);
        let unmatched: Vec<String> = (0..self.tracks.len())
            .map(|i| self.describe_unmatched(i))
            .collect();
        for ((t, o), unmatched) in self.tracks.iter_mut().zip(outcomes).zip(&unmatched) {
            finish_track(t, o, unmatched);
        }
        for t in &mut self.tracks {
            t.keyring_failures = t.id.ssrc.map_or(0, |s| self.keyring.failures(s));
        }
        let views: Vec<ClockTrack<'_>> = self.tracks.iter().map(Track::clock).collect();
        let offsets = self.clocks.start_offsets(&views);
        let end = self.last_media.or(self.last_time).unwrap_or_default();
        let mut finished: Vec<(CaptureTime, Asset)> = self
            .tracks
            .iter()
            .zip(offsets)
            .map(|(t, o)| {
                let mut a = asset_of(t, o.map(|StartOffset { ms, source }| (ms, source)));
                a.sender_clock = self.clocks.mapping(&t.clock());
                a.decryption = self.decryption_of(t);
                a.time_source = self.browser_dump.then(|| "browser-dump".to_string());
                (t.last_time.unwrap_or(end), a)
            })
            .collect();
        // One terminal event per track, once its file is complete.
        finished.sort_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.id.cmp(&b.id)));
        // A metadata session that ended before its input did: later packets of its
        // SSRCs are outside every peer's presence, counted on the ended assets.
        let ended_routes: Vec<(u32, usize)> = if self.opts.session.is_some() {
            self.router
                .track_ssrcs()
                .filter_map(|(ssrc, i)| {
                    let t = &self.tracks[i].id;
                    let pos = finished
                        .iter()
                        .position(|(_, a)| a.peer_id == t.peer_id && a.track_id == t.track_id)?;
                    Some((ssrc, self.done.len() + pos))
                })
                .collect()
        } else {
            Vec::new()
        };
        self.clocks
            .forget(self.tracks.iter().filter_map(|t| t.id.ssrc));
        let announced: Vec<(CaptureTime, Asset)> = finished
            .iter()
            .filter(|(_, a)| a.status != Status::Skipped)
            .cloned()
            .collect();
        self.done.extend(finished.into_iter().map(|(_, a)| a));
        for t in &mut self.tracks {
            if let Life::Done(f) = &mut t.life
                && let Some(series) = f.timeline.take()
            {
                let id = &t.id;
                let key = assets::asset_id(&id.room_id, &id.session_id, &id.peer_id, &id.track_id);
                self.timelines.insert(key, *series);
            }
        }
        if !self.tracks.is_empty() {
            actions.session_ended(&announced);
        }
        self.tracks.clear();
        self.router.clear();
        self.unmatched.clear();
        self.held.clear();
        self.session_name = None;
        for (ssrc, ai) in ended_routes {
            self.router.set_ssrc(ssrc, Route::Ended(ai));
        }
        self.session_start = None;
    }

    /// Where the inputs' capture times come from.
    pub fn set_time_source(&mut self, source: crate::capture::TimeSource) {
        self.browser_dump = source == crate::capture::TimeSource::BrowserDump;
    }

    /// Secrets the capture carries (a pcapng Decryption Secrets Block): a TLS key
    /// log keys the DTLS handshakes that follow; a block that does not parse is a
    /// warning naming its offset (never its contents).
    pub fn add_secrets(&mut self, s: &crate::capture::Secrets) {
        if s.kind != crate::capture::SecretsKind::TlsKeyLog {
            return;
        }
        let origin = format!("Decryption Secrets Block at byte {}", s.offset);
        match crate::dtls::KeyLog::from_dsb_bytes(&s.data, &origin) {
            Ok(log) => self.dtls.add_embedded(log),
            Err(e) => self.diagnostics.push(Diagnostic {
                ctx: crate::error::PacketCtx {
                    file: s.file,
                    frame: 0,
                    offset: s.offset,
                    time: self.last_time.unwrap_or_default(),
                    rtp: None,
                },
                kind: "secrets-block",
                message: format!("its TLS key log is not usable: {e}"),
            }),
        }
    }

    /// Routes one datagram.
    pub fn push(&mut self, d: &Datagram<'_>, actions: &mut dyn Actions) {
        match classify(d.payload) {
            PacketClass::Rtp => {}
            PacketClass::Rtcp => {
                // On a 5-tuple that carried DTLS, RTCP is SRTCP (RFC 5764 §4.1): what
                // no key decrypts says nothing about timing.
                let srtcp = self.dtls.carries_srtp(&d.flow);
                return self.note_sender_reports(d.payload, d.meta.time, srtcp);
            }
            PacketClass::Dtls => return self.dtls.push(d, &mut self.keyring),
            _ => return,
        }
        if self.opts.session.is_some() {
            // Before parsing: an SRTP payload's encrypted padding length may not parse.
            let ssrc = d
                .payload
                .get(8..12)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            match ssrc.and_then(|s| self.router.ssrc(s)) {
                Some(Route::Track(i)) if self.tracks[i].srtp.is_some() => {
                    return self.enqueue_srtp(i, d, actions);
                }
                Some(route @ (Route::Rtx(i) | Route::Fec(i))) if self.tracks[i].srtp.is_some() => {
                    return self.enqueue_srtp_aux(i, route, d, actions);
                }
                Some(Route::Ended(ai)) => {
                    if let Some(a) = self.done.get_mut(ai) {
                        a.stats.outside_presence += 1;
                    }
                    return;
                }
                _ => {}
            }
        }
        // `--srtp-keys` and DTLS-SRTP keys: streams the metadata gives no key are
        // decrypted when a key authenticates them.
        let srtp_flow = self.dtls.carries_srtp(&d.flow);
        if let Some(b) = d.payload.get(8..12)
            && (srtp_flow || !self.keyring.is_empty())
        {
            let ssrc = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            if self.keyring.is_empty() || (srtp_flow && self.dtls.unkeyed(&d.flow)) {
                // DTLS-SRTP and no key for it: the track fails, saying what would decrypt it.
                self.mark_no_key(ssrc);
                return self.route_plain(d, actions);
            }
            let mut plain = std::mem::take(&mut self.srtp_plain);
            match self
                .keyring
                .unprotect_rtp(ssrc, &d.flow, srtp_flow, d.payload, &mut plain)
            {
                Unprotect::Plain => {
                    self.srtp_plain = plain;
                }
                Unprotect::Failed => {
                    self.srtp_plain = plain;
                    return;
                }
                Unprotect::NoKey => {
                    self.srtp_plain = plain;
                    self.mark_no_key(ssrc);
                    return self.route_plain(d, actions);
                }
                Unprotect::Decrypted => {
                    self.route_plain(
                        &Datagram {
                            payload: &plain,
                            ..*d
                        },
                        actions,
                    );
                    self.srtp_plain = plain;
                    return;
                }
            }
        }
        self.route_plain(d, actions);
    }

    /// Routes a plain (or decrypted) RTP packet.
    fn route_plain(&mut self, d: &Datagram<'_>, actions: &mut dyn Actions) {
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
            self.end_session(actions);
        }
        self.last_media = Some(self.last_media.map_or(now, |t| t.max(now)));
        self.session_start.get_or_insert(now);
        let ssrc = pkt.ssrc();
        // Copy the payload only for packets that go somewhere.
        let arrival = |pkt: &RtpPacket<'_>, actions: &mut dyn Actions| {
            Arrival::from_rtp_in(pkt, d.meta.time, actions.payload_buf())
        };
        if self.opts.session.is_some() {
            match self.router.ssrc(ssrc.0) {
                Some(Route::Track(i)) => {
                    let a = arrival(&pkt, actions);
                    self.enqueue(i, a, Some(d.payload), d.flow, actions)
                }
                Some(Route::Rtx(i)) => {
                    let a = arrival(&pkt, actions);
                    self.enqueue_rtx(i, a, actions)
                }
                Some(Route::Fec(i)) => self.enqueue_fec(i, d.payload, now, actions),
                Some(Route::Ended(ai)) => {
                    if let Some(a) = self.done.get_mut(ai) {
                        a.stats.outside_presence += 1;
                    }
                }
                Some(Route::Ignore) => {
                    if let Some(u) = self.unmatched.iter_mut().find(|u| u.ssrc == ssrc.0) {
                        u.packets += 1;
                        if let Some(g) = u.guesser.as_mut() {
                            g.push_at(pkt.marker(), pkt.timestamp(), pkt.payload(), now.as_nanos());
                        }
                    }
                }
                None => {
                    if let Some(i) = self.router.bind(d, &pkt) {
                        self.tracks[i].id.ssrc = Some(ssrc.0);
                        if self.tracks[i].srtp.is_some() {
                            return self.enqueue_srtp(i, d, actions);
                        }
                        let a = arrival(&pkt, actions);
                        return self.enqueue(i, a, Some(d.payload), d.flow, actions);
                    }
                    if let Some(n) = self.early.get_mut(&ssrc.0) {
                        // A peer of a later session, before it joined.
                        *n += 1;
                        return;
                    }
                    if self.opts.match_by_kind && self.hold_for_kind(d, &pkt, actions) {
                        return;
                    }
                    self.router.set_ssrc(ssrc.0, Route::Ignore);
                    // Kept to explain a track that signalling named but no packet matched.
                    if self.unmatched.len() < MAX_UNMATCHED {
                        let kind = self.signalled_kind(pkt.payload_type());
                        let mut guesser =
                            Box::new(crate::codec::guess::CodecGuesser::new(pkt.payload_type()));
                        guesser.push_at(
                            pkt.marker(),
                            pkt.timestamp(),
                            pkt.payload(),
                            now.as_nanos(),
                        );
                        self.unmatched.push(Unmatched {
                            ssrc: ssrc.0,
                            payload_type: pkt.payload_type(),
                            flow: d.flow,
                            packets: 1,
                            kind,
                            guesser: kind.is_none().then_some(guesser),
                        });
                    }
                    self.note(
                        d,
                        &pkt,
                        "ssrc-not-in-metadata",
                        format!(
                            "SSRC {ssrc} (PT {}, {} -> {}) is not in the session metadata; not recorded",
                            pkt.payload_type(),
                            d.flow.src,
                            d.flow.dst
                        ),
                    );
                }
            }
            return;
        }
        // A media source is its SSRC, whichever path its packets took (TURN legs,
        // an ICE switch, IPv4 and IPv6): the 5-tuple is evidence, not identity.
        let key = ssrc;
        match self.router.ssrc(key.0) {
            Some(Route::Track(i)) => {
                let a = arrival(&pkt, actions);
                return self.enqueue(i, a, Some(d.payload), d.flow, actions);
            }
            Some(Route::Rtx(i)) => {
                let a = arrival(&pkt, actions);
                return self.enqueue_rtx(i, a, actions);
            }
            Some(Route::Fec(i)) => return self.enqueue_fec(i, d.payload, now, actions),
            Some(Route::Ignore | Route::Ended(_)) => return,
            None => {}
        }
        if !self.pending.contains_key(&key) && !self.make_room(d, &pkt, actions) {
            return;
        }
        let p = self
            .pending
            .entry(key)
            .or_insert_with(|| Pending::new(d, ssrc));
        let before = p.bytes();
        p.push(
            &pkt,
            Arrival::from_rtp(&pkt, d.meta.time),
            d.payload,
            d.flow,
        );
        self.pending_bytes += p.bytes() - before;
        if p.ripe(now) {
            self.resolve_ripe(key, now, actions);
        } else if p.early_rtx_candidate()
            && self.pending[&key].rtx_target(&self.track_views()).is_some()
        {
            self.resolve_pending(key, actions);
        }
        if self.pending_bytes > self.caps.pending_bytes {
            self.shed_bytes(d, &pkt, actions);
        }
    }

    /// Removes a pending stream, keeping `pending_bytes` right.
    fn take_pending(&mut self, key: &Ssrc) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.pending_bytes = self.pending_bytes.saturating_sub(p.bytes());
        Some(p)
    }

    /// Room for a new unidentified stream under [`MAX_PENDING_STREAMS`]: at the
    /// cap, streams whose time is up are decided and one-packet streams are
    /// forgotten (they never become tracks; a real stream loses only its first
    /// packet). False when still full: the new stream's packet is dropped.
    fn make_room(
        &mut self,
        d: &Datagram<'_>,
        pkt: &RtpPacket<'_>,
        actions: &mut dyn Actions,
    ) -> bool {
        self.sweep_wait = self.sweep_wait.saturating_sub(1);
        if self.pending.len() < self.caps.pending_streams {
            return true;
        }
        if self.sweep_wait == 0 {
            let before = self.pending_dropped;
            self.sweep_pending(d.meta.time, actions);
            self.sweep_wait = (self.caps.pending_streams / 4).max(1);
            if self.pending_dropped > before {
                self.note_cap(d, pkt);
            }
        }
        if self.pending.len() < self.caps.pending_streams {
            return true;
        }
        self.pending_dropped += 1;
        self.note_cap(d, pkt);
        false
    }

    /// Decides the pending streams whose time is up and forgets one-packet ones.
    fn sweep_pending(&mut self, now: CaptureTime, actions: &mut dyn Actions) {
        let mut ripe: Vec<Ssrc> = self
            .pending
            .iter()
            .filter(|(_, p)| p.ripe(now))
            .map(|(k, _)| *k)
            .collect();
        // Deterministic track order, as at a session's end.
        ripe.sort_by_key(|k| (self.pending[k].first_time, self.pending[k].flow, *k));
        for k in ripe {
            self.resolve_ripe(k, now, actions);
        }
        let lone: Vec<Ssrc> = self
            .pending
            .iter()
            .filter(|(_, p)| p.total() <= 1)
            .map(|(k, _)| *k)
            .collect();
        // Forgotten without a route: if the SSRC comes back it is pending again.
        self.pending_dropped += lone.len() as u64;
        for k in lone {
            self.take_pending(&k);
        }
    }

    /// Over [`MAX_PENDING_BYTES`]: sweeps, then decides the largest pending
    /// streams early (with the packets they have) until a quarter is free.
    fn shed_bytes(&mut self, d: &Datagram<'_>, pkt: &RtpPacket<'_>, actions: &mut dyn Actions) {
        self.note_cap(d, pkt);
        self.sweep_pending(d.meta.time, actions);
        let target = self.caps.pending_bytes / 4 * 3;
        while self.pending_bytes > target {
            let Some(k) = self
                .pending
                .iter()
                .max_by_key(|(k, p)| (p.bytes(), std::cmp::Reverse(**k)))
                .map(|(k, _)| *k)
            else {
                break;
            };
            self.resolve_pending(k, actions);
        }
    }

    /// The `pending-cap` warning (first time only), naming both caps.
    fn note_cap(&mut self, d: &Datagram<'_>, pkt: &RtpPacket<'_>) {
        let message = format!(
            "more than {} unidentified streams or {} MiB buffered for them (the pending caps): \
             one-packet streams are forgotten, the largest are decided early, and new streams \
             are dropped while the cap holds",
            self.caps.pending_streams,
            self.caps.pending_bytes >> 20
        );
        self.note(d, pkt, "pending-cap", message);
    }

    fn track_views(&self) -> Vec<TrackView<'_>> {
        self.tracks
            .iter()
            .enumerate()
            .map(|(i, t)| t.view(i))
            .collect()
    }

    /// Decrypts an SRTP packet of track `i` and queues it; packets that fail
    /// authentication are counted, and a track none of whose keys authenticates its
    /// first [`super::keys::SRTP_PROBE_PACKETS`] packets fails.
    fn enqueue_srtp(&mut self, i: usize, d: &Datagram<'_>, actions: &mut dyn Actions) {
        let t = &mut self.tracks[i];
        let Some(srtp) = t.srtp.as_mut() else {
            return;
        };
        if !srtp.decrypt(d.payload, &mut self.srtp_plain) {
            if srtp.gave_up() && !matches!(t.life, Life::Done(_)) {
                let message = srtp.failure_message();
                if t.running() {
                    actions.abort_track(i);
                }
                t.fail(FailureCode::SrtpAuthFailed, message);
            }
            t.packets_seen += 1;
            t.first_time.get_or_insert(d.meta.time);
            t.last_time = Some(t.last_time.map_or(d.meta.time, |x| x.max(d.meta.time)));
            return;
        }
        let Ok(pkt) = RtpPacket::parse(&self.srtp_plain) else {
            return;
        };
        let arrival = Arrival::from_rtp_in(&pkt, d.meta.time, actions.payload_buf());
        let plain = std::mem::take(&mut self.srtp_plain);
        self.enqueue(i, arrival, Some(&plain), d.flow, actions);
        self.srtp_plain = plain;
    }

    /// Decrypts a packet of track `i`'s RTX or FEC stream with the track's keys and queues it.
    fn enqueue_srtp_aux(
        &mut self,
        i: usize,
        route: Route,
        d: &Datagram<'_>,
        actions: &mut dyn Actions,
    ) {
        let Some(srtp) = self.tracks[i].srtp.as_mut() else {
            return;
        };
        let mut plain = std::mem::take(&mut self.srtp_plain);
        if srtp.decrypt_aux(d.payload, &mut plain)
            && let Ok(pkt) = RtpPacket::parse(&plain)
        {
            match route {
                Route::Rtx(_) => {
                    self.enqueue_rtx(i, Arrival::from_rtp(&pkt, d.meta.time), actions);
                }
                Route::Fec(_) => self.enqueue_fec(i, &plain, d.meta.time, actions),
                _ => {}
            }
        }
        self.srtp_plain = plain;
    }

    /// Queues a packet of a track's separate FEC stream (plain RTP bytes).
    fn enqueue_fec(
        &mut self,
        idx: usize,
        raw: &[u8],
        time: CaptureTime,
        actions: &mut dyn Actions,
    ) {
        let t = &self.tracks[idx];
        if t.fec.is_none() || !t.running() {
            return;
        }
        actions.queue(
            idx,
            Inbound::Fec {
                raw: raw.to_vec(),
                time,
            },
        );
    }

    /// Keeps the first diagnostic of each kind, with the packet it was seen on.
    fn note(&mut self, d: &Datagram<'_>, pkt: &RtpPacket<'_>, kind: &'static str, message: String) {
        if !self.diagnostics.iter().any(|x| x.kind == kind) {
            let mut ctx = d.meta.ctx();
            ctx.rtp = Some(crate::error::RtpCtx {
                ssrc: pkt.ssrc().0,
                seq: pkt.sequence_number(),
            });
            self.diagnostics.push(Diagnostic { ctx, kind, message });
        }
    }

    fn resolve_all_pending(&mut self, actions: &mut dyn Actions) {
        let mut keys: Vec<Ssrc> = self.pending.keys().copied().collect();
        // Deterministic track order: by first packet, then 5-tuple and SSRC.
        keys.sort_by_key(|k| (self.pending[k].first_time, self.pending[k].flow, *k));
        for k in keys {
            self.resolve_pending(k, actions);
        }
    }

    /// Decides a stream whose time is up, unless it retransmits a pending stream
    /// whose time is not (libwebrtc's payload padding can fill an RTX stream's
    /// buffer in a fraction of a second): it waits for that media, which takes it
    /// along when decided, with all the packets it needed to be identified.
    fn resolve_ripe(&mut self, key: Ssrc, now: CaptureTime, actions: &mut dyn Actions) {
        let Some(p) = self.pending.get(&key) else {
            return;
        };
        let media = match p.waits_for {
            Some(m) => Some(m).filter(|m| self.pending.contains_key(m)),
            None => {
                let m = self.pending_media_of(key);
                if let (Some(m), Some(p)) = (m, self.pending.get_mut(&key)) {
                    p.waits_for = Some(m);
                }
                m
            }
        };
        if media.is_some_and(|m| !self.pending[&m].ripe(now)) {
            return;
        }
        self.resolve_pending(key, actions);
    }

    /// Decides what an unidentified stream is: a track, a failed track, or not RTP.
    fn resolve_pending(&mut self, key: Ssrc, actions: &mut dyn Actions) {
        // A retransmission stream decided before its media (both ripe, the input
        // ended, or the pending caps): the media is decided first, and takes it along.
        if let Some(media) = self.pending_media_of(key) {
            self.resolve_pending_now(media, actions);
        }
        self.resolve_pending_now(key, actions);
    }

    /// The pending stream that the pending stream `key` retransmits (RFC 4588
    /// structure, [`Pending::retransmits`]), if any.
    fn pending_media_of(&self, key: Ssrc) -> Option<Ssrc> {
        let p = self.pending.get(&key)?;
        let keys = p.rtx_keys();
        let mut media: Vec<(CaptureTime, Flow, Ssrc)> = self
            .pending
            .iter()
            .filter(|(k, q)| **k != key && p.retransmits(q, &keys))
            .map(|(k, q)| (q.first_time, q.flow, *k))
            .collect();
        media.sort();
        media.first().map(|m| m.2)
    }

    fn resolve_pending_now(&mut self, key: Ssrc, actions: &mut dyn Actions) {
        let Some(p) = self.take_pending(&key) else {
            return;
        };
        let guessed = p.guess().filter(|_| p.confirmed());
        let Some((pt, guess, video_timing)) = guessed else {
            // Not RTP (or a lone stray packet, or padding only): forget it.
            self.router.set_ssrc(key.0, Route::Ignore);
            return;
        };
        let (fec, rtx) = {
            let views = self.track_views();
            let fec = guess.codec.is_none().then(|| p.fec_owner(&views)).flatten();
            (fec, p.rtx_target(&views))
        };
        if let Some((idx, scheme)) = fec {
            // A FlexFEC stream naming a track's SSRC: its packets repair the media's.
            self.router.set_ssrc(key.0, Route::Fec(idx));
            self.enable_fec(idx, scheme, actions);
            for (a, raw) in p.packets.into_iter().zip(p.raws) {
                self.enqueue_fec(idx, &raw, a.time, actions);
            }
            return;
        }
        if let Some(idx) = rtx {
            // A retransmission stream, not a track: its packets repair the media's.
            self.router.set_ssrc(key.0, Route::Rtx(idx));
            for a in p.packets {
                self.enqueue_rtx(idx, a, actions);
            }
            return;
        }
        if self.tracks.len() >= self.caps.tracks {
            // Not a track: its later packets are ignored (while the router remembers it).
            self.router.set_ssrc(key.0, Route::Ignore);
            self.tracks_dropped += 1;
            if !self.diagnostics.iter().any(|x| x.kind == "tracks-cap") {
                let ctx = crate::error::PacketCtx {
                    time: p.first_time,
                    rtp: Some(crate::error::RtpCtx {
                        ssrc: p.ssrc.0,
                        seq: p.packets.first().map_or(0, |a| a.seq16),
                    }),
                    ..Default::default()
                };
                self.diagnostics.push(Diagnostic {
                    ctx,
                    kind: "tracks-cap",
                    message: format!(
                        "more than {} tracks in one session (the tracks cap): SSRC {} and later \
                         new streams of the session are not recorded",
                        self.caps.tracks, p.ssrc
                    ),
                });
            }
            return;
        }
        let kind = match guess.codec {
            Some(c) => c.kind(),
            None if video_timing => Kind::Video,
            None => Kind::Audio,
        };
        let ssrc_hex = format!("{:08x}", p.ssrc.0);
        let session_id = self.derived_session_id(p.first_time);
        let kind_name = if kind == Kind::Video {
            "video"
        } else {
            "audio"
        };
        let id = Identity {
            room_id: "capture".into(),
            session_id,
            peer_id: peer_from_addr(&p.flow.src),
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
        self.router.set_ssrc(key.0, Route::Track(idx));
        self.tracks[idx].flow = Some(p.flow);
        if super::encrypted::TagProbe::applies(guess.codec) {
            self.tracks[idx].tag_probe = Some(Default::default());
        }
        if let Some(red) = guess.red {
            // RED-wrapped media (Chrome's Opus, video with ULPFEC): record what the blocks carry.
            let t = &mut self.tracks[idx];
            t.payload_type = Some(red.media_payload_type);
            t.red_payload_type = Some(red.red_payload_type);
            t.fec = red
                .ulpfec_payload_type
                .map(|pt| (FecScheme::Ulpfec, Some(pt)));
        }
        let skipped = self.opts.template.excludes(None, kind, Source::Regular);
        if skipped.is_some() {
            self.tracks[idx].skipped = skipped;
        } else if guess.codec.is_none() {
            // Not recordable, but its packets are still counted: the manifest
            // reports its loss and duplicates as `streams` does.
            if self.dtls.carries_srtp(&p.flow) && self.keyring.key_use(key.0).is_none() {
                // Unidentifiable payloads on a 5-tuple that carried DTLS, not decrypted: DTLS-SRTP.
                let (code, message) = self.dtls.no_key(&p.flow, None);
                self.count_instead(idx, code, message, actions);
            } else {
                let message = format!(
                    "could not identify the codec of payload type {pt}: {}",
                    guess.evidence
                );
                self.count_instead(idx, FailureCode::UnknownCodec, message, actions);
            }
        }
        // In-band ULPFEC: another payload type of the stream whose packets are RFC 5109 repair data.
        let media_pt = self.tracks[idx].payload_type.unwrap_or(pt);
        if self.tracks[idx].fec.is_none()
            && let Some(fec_pt) =
                inband_ulpfec(&p.packets, media_pt, self.tracks[idx].red_payload_type)
        {
            self.tracks[idx].fec = Some((FecScheme::Ulpfec, Some(fec_pt)));
        }
        // Retransmission and FlexFEC streams of this media that were waiting for it
        // join now; everything buffered is queued in capture order so repair meets open gaps.
        self.tracks[idx].last_seq16 = p.packets.last().map(|a| a.seq16);
        self.tracks[idx].sent = Some(Box::new(SentPackets::of(&p.packets)));
        let mut keys: Vec<(Flow, Ssrc)> = self
            .pending
            .iter()
            .filter(|(_, q)| q.flow.src.ip() == p.flow.src.ip() && q.confirmed())
            .map(|(k, q)| (q.flow, *k))
            .collect();
        keys.sort();
        let keys: Vec<Ssrc> = keys.into_iter().map(|(_, k)| k).collect();
        let mut batch: Vec<(Arrival, Buffered)> = p
            .packets
            .into_iter()
            .zip(
                p.raws
                    .into_iter()
                    .zip(p.flows)
                    .map(|(raw, flow)| Buffered::Media(raw, flow)),
            )
            .collect();
        let joining: Vec<(Ssrc, Option<(usize, FecScheme)>)> = {
            let views = self.track_views();
            keys.into_iter()
                .filter_map(|k| {
                    let q = self.pending.get(&k)?;
                    let fec = q.fec_owner(&views).filter(|(owner, _)| *owner == idx);
                    (fec.is_some() || q.rtx_target(&views) == Some(idx)).then_some((k, fec))
                })
                .collect()
        };
        for (k, fec) in joining {
            let Some(q) = self.take_pending(&k) else {
                continue;
            };
            if let Some((_, scheme)) = fec {
                self.router.set_ssrc(k.0, Route::Fec(idx));
                self.enable_fec(idx, scheme, actions);
                batch.extend(
                    q.packets
                        .into_iter()
                        .zip(q.raws.into_iter().map(Buffered::Fec)),
                );
            } else {
                self.router.set_ssrc(k.0, Route::Rtx(idx));
                batch.extend(q.packets.into_iter().map(|a| (a, Buffered::Rtx)));
            }
        }
        batch.sort_by_key(|(a, _)| a.time);
        for (a, item) in batch {
            match item {
                Buffered::Media(raw, flow) => self.enqueue(idx, a, Some(&raw), flow, actions),
                Buffered::Rtx => self.enqueue_rtx(idx, a, actions),
                Buffered::Fec(raw) => self.enqueue_fec(idx, &raw, a.time, actions),
            }
        }
    }

    /// The current session's id when nothing names it: `s<start>` from its first
    /// packet (or `fallback`), unique in the run by construction (`-2`, `-3`...
    /// when an earlier session started in the same second, as when a live
    /// clock ended a session that packets then continued).
    fn derived_session_id(&mut self, fallback: CaptureTime) -> String {
        if let Some(id) = &self.session_name {
            return id.clone();
        }
        let base = format!("s{}", compact_time(self.session_start.unwrap_or(fallback)));
        let mut id = base.clone();
        let mut n = 1;
        while self.session_ids.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        self.session_ids.insert(id.clone());
        self.session_name = Some(id.clone());
        id
    }

    /// How track `t` was decrypted, for its asset.
    fn decryption_of(&self, t: &Track) -> Option<crate::assets::Decryption> {
        if let Some(profile) = t.srtp.as_ref().and_then(TrackSrtp::chosen_profile) {
            return Some(crate::assets::Decryption {
                method: "srtp".into(),
                profile: profile.into(),
                keys: self.opts.identification.into(),
                dtls_version: None,
                dtls_association: None,
            });
        }
        let used = self.keyring.key_use(t.id.ssrc?)?;
        Some(self.dtls.decryption(used))
    }

    /// Remembers that `ssrc` is SRTP no key decrypts (bounded like the ignored SSRCs).
    fn mark_no_key(&mut self, ssrc: u32) {
        if self.no_key.len() < 65_536 {
            self.no_key.insert(ssrc);
        }
    }

    /// Fails track `idx` before it records anything and has a worker count its packets.
    fn count_instead(
        &mut self,
        idx: usize,
        code: FailureCode,
        message: String,
        actions: &mut dyn Actions,
    ) {
        let t = &mut self.tracks[idx];
        t.fail(code, message);
        if let Life::Done(f) = &t.life
            && let Err(failure) = &f.result
        {
            actions.count_track(idx, failure.clone());
            t.counted = true;
        }
    }

    /// Turns on FEC for track `idx` (inferred: no FEC was known when it started).
    fn enable_fec(&mut self, idx: usize, scheme: FecScheme, actions: &mut dyn Actions) {
        let t = &mut self.tracks[idx];
        if t.fec.is_some() {
            return;
        }
        t.fec = Some((scheme, None));
        if let (true, Some(media_ssrc)) = (t.running(), t.id.ssrc) {
            actions.enable_fec(
                idx,
                FecSetup {
                    scheme,
                    payload_type: None,
                    media_ssrc,
                },
            );
        }
    }

    /// Queues a packet of track `idx`; `raw` is its plain RTP bytes, kept when FEC protects the track.
    fn enqueue(
        &mut self,
        idx: usize,
        a: Arrival,
        raw: Option<&[u8]>,
        flow: Flow,
        actions: &mut dyn Actions,
    ) {
        let t = &mut self.tracks[idx];
        // The same packet again on another path (a TURN leg, both ends of a relay).
        if !t.paths.admit(&flow, a.seq16, a.ts32) {
            return;
        }
        // A peer's media before it joined or after it left (metadata) is not part of the session.
        let (joined, left) = t.presence;
        if joined.is_some_and(|j| a.time < j) || left.is_some_and(|l| a.time > l) {
            t.outside_presence += 1;
            return;
        }
        if t.id.session_id.is_empty() {
            let id = self.derived_session_id(a.time);
            self.tracks[idx].id.session_id = id;
        }
        // DTLS-SRTP that no key decrypts: counted, never written as media.
        let t = &self.tracks[idx];
        if !t.counted
            && !matches!(t.life, Life::Done(_))
            && !self.no_key.is_empty()
            && t.id.ssrc.is_some_and(|s| self.no_key.contains(&s))
        {
            // A running track stops writing and goes on counting (`count_only`).
            let (code, message) = self.dtls.no_key(&flow, None);
            self.count_instead(idx, code, message, actions);
        }
        let t = &mut self.tracks[idx];
        t.packets_seen += 1;
        let first = t.first_time.is_none();
        t.first_time.get_or_insert(a.time);
        t.first_ts32.get_or_insert(a.ts32);
        t.last_seq16 = Some(a.seq16);
        if let Some(sent) = t.sent.as_mut() {
            sent.record(&a);
        }
        t.last_time = Some(t.last_time.map_or(a.time, |x| x.max(a.time)));
        if t.skipped.is_some() {
            // Left out by the template: counted, not recorded, no events.
            return;
        }
        // SRTP without keys, of a codec any byte of which is valid audio: it
        // would be written as noise; the packets' lengths give it away.
        // Only the media's own payload type: comfort noise (PT 13) and DTMF
        // packets between them have lengths of their own.
        if t.payload_type.is_none_or(|pt| pt == a.pt)
            && let Some(probe) = t.tag_probe.as_mut()
            && let Some(tag) = probe.push(a.seq16, a.ts32, a.payload.len())
        {
            t.tag_probe = None;
            let (code, message) = if self.dtls.carries_srtp(&flow) {
                self.dtls.no_key(&flow, Some(tag))
            } else {
                (
                    FailureCode::EncryptedNoKey,
                    super::encrypted::message(Some(tag), false),
                )
            };
            self.count_instead(idx, code, message, actions);
        }
        // Signalled SRTP without a key, or payloads that do not parse as the
        // signalled codec: only for packets that reached the track undecrypted.
        let decrypted = self.keyring_decrypts(self.tracks[idx].id.ssrc);
        let t = &mut self.tracks[idx];
        if t.srtp.is_none()
            && !matches!(t.life, Life::Done(_))
            && !decrypted
            && let Some(message) = super::encrypted::observe(t, &a, self.dtls.carries_srtp(&flow))
        {
            self.count_instead(idx, FailureCode::EncryptedNoKey, message, actions);
        }
        let t = &mut self.tracks[idx];
        if matches!(t.life, Life::Idle) {
            match track_setup(t, &self.opts, &mut self.claimed) {
                Ok(setup) => {
                    t.life = Life::Running;
                    actions.start_track(idx, setup);
                }
                Err((code, message)) => {
                    self.count_instead(idx, code, message, actions);
                }
            }
        }
        let t = &mut self.tracks[idx];
        if t.running() || t.counted {
            let raw = raw.filter(|_| t.fec.is_some()).map(<[u8]>::to_vec);
            actions.queue(idx, Inbound::Media { arrival: a, raw });
        }
        if first {
            self.emit_started(idx, actions);
        }
    }

    /// Adds RTCP sender reports, captured at `time`, to their SSRC's sender clock.
    fn note_sender_reports(&mut self, payload: &[u8], time: CaptureTime, srtcp: bool) {
        // `--srtp-keys`: SRTCP of a stream a key decrypts, with that key.
        if let Some(b) = payload.get(4..8)
            && !self.keyring.is_empty()
        {
            let ssrc = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let mut plain = Vec::new();
            match self.keyring.unprotect_rtcp(ssrc, payload, &mut plain) {
                Unprotect::Plain => {}
                Unprotect::Failed | Unprotect::NoKey => return,
                Unprotect::Decrypted => return self.clocks.note(&plain, time),
            }
        }
        // SRTCP (RFC 3711 §3.4) leaves only the first header and SSRC in clear: a
        // track with keys decrypts its reports with the key that authenticated its
        // media; a report that cannot be decrypted says nothing about timing.
        let sender = payload
            .get(4..8)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let track = sender.and_then(|ssrc| match self.router.ssrc(ssrc) {
            Some(Route::Track(i)) => Some(i),
            _ => None,
        });
        match track.and_then(|i| self.tracks[i].srtp.as_mut()) {
            Some(srtp) => {
                let mut plain = Vec::new();
                if srtp.decrypt_rtcp(payload, &mut plain) {
                    self.clocks.note(&plain, time);
                }
            }
            None if !srtcp => self.clocks.note(payload, time),
            None => {}
        }
    }

    /// Queues an RFC 4588 retransmission (as received) as the original packet it carries.
    ///
    /// RFC 4588 §4: the RTX payload starts with the original sequence number (OSN);
    /// the timestamp is the original's. Payloads of 2 bytes or less are padding
    /// (bandwidth probes), not retransmissions.
    fn enqueue_rtx(&mut self, idx: usize, rtx: Arrival, actions: &mut dyn Actions) {
        let t = &self.tracks[idx];
        if rtx.payload.len() <= 2 || !t.running() {
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
        actions.queue(idx, Inbound::Rtx(arrival));
    }

    /// `track.recording.started.success` for a track that has media, at its first packet.
    fn emit_started(&mut self, idx: usize, actions: &mut dyn Actions) {
        let t = &self.tracks[idx];
        if t.skipped.is_some() {
            return;
        }
        let snapshot = asset_of(t, None);
        let at = t.first_time.unwrap_or_default();
        actions.track_started(&snapshot, at);
    }
}

/// How signalling said a track's packets would be recognised, for messages.
fn expected(t: &Track) -> String {
    let mut parts = Vec::new();
    // An SDP section (port or MID): its media kind, as its m= line names it.
    if t.port.is_some() || t.mid.is_some() {
        parts.push(match t.id.kind {
            Kind::Audio => "m=audio".to_string(),
            Kind::Video => "m=video".to_string(),
        });
    }
    if let Some(ssrc) = t.id.ssrc {
        parts.push(format!("SSRC 0x{ssrc:08X}"));
    }
    if let Some(pt) = t.payload_type {
        parts.push(format!("PT {pt}"));
    }
    if let Some(port) = t.port {
        parts.push(format!("port {port}"));
    }
    if let Some(mid) = &t.mid {
        parts.push(format!("MID {mid}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" (expected {})", parts.join(", "))
    }
}

/// Folds what the worker reports into the track's end; `unmatched` names the
/// session's streams that no track matched.
fn finish_track(t: &mut Track, o: WorkerOutcome, unmatched: &str) {
    match std::mem::replace(&mut t.life, Life::Idle) {
        Life::Running => {
            let result = o.result.unwrap_or_else(|| {
                Err(Failure::new(
                    FailureCode::Internal,
                    "the track's worker stopped without a result",
                ))
            });
            t.life = Life::Done(Box::new(Finished {
                result,
                stats: o.stats.map(Box::new),
                dims: o.dims,
                timeline: o.timeline.map(Box::new),
            }));
        }
        Life::Idle => match &t.srtp {
            Some(s) if s.failures() > 0 => {
                let message = s.failure_message();
                t.fail(FailureCode::SrtpAuthFailed, message);
            }
            _ => {
                let message = format!(
                    "no RTP packet of this track was captured{}{unmatched}",
                    expected(t)
                );
                t.fail(FailureCode::NoMedia, message);
            }
        },
        Life::Done(mut f) => {
            // Failed by the recorder while its worker ran: keep the worker's counters.
            if f.stats.is_none() {
                f.stats = o.stats.map(Box::new);
            }
            if f.timeline.is_none() {
                f.timeline = o.timeline.map(Box::new);
            }
            t.life = Life::Done(f);
        }
    }
}

/// The setup of a track's worker on its first packet, or why it cannot be recorded.
fn track_setup(
    t: &mut Track,
    opts: &RecordOptions,
    claimed: &mut Claimed,
) -> Result<TrackSetup, (FailureCode, String)> {
    let Some(codec) = t.codec else {
        let name = t.codec_name.clone().unwrap_or_else(|| "unknown".into());
        return Err((
            FailureCode::UnsupportedCodec,
            format!("codec {name} is not one rtprec can record"),
        ));
    };
    let Some(mut container) = Container::for_codec(codec) else {
        return Err((
            FailureCode::UnsupportedCodec,
            format!("codec {} is not one rtprec can record yet", codec.name()),
        ));
    };
    if codec == Codec::Opus && opts.template.audio_container.as_deref() == Some("webm") {
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
    let rel = claimed.claim(&mut t.id, container.extension());
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
        path: opts.out_dir.join(&rel),
        uid,
        reorder: opts.reorder,
        fmtp: t.fmtp.clone(),
        red_payload_type: t.red_payload_type,
        fec: t
            .fec
            .zip(t.id.ssrc)
            .map(|((scheme, payload_type), media_ssrc)| FecSetup {
                scheme,
                payload_type,
                media_ssrc,
            }),
        audio_export: opts.audio_export,
    };
    t.container = Some(container);
    t.clock_rate = Some(clock_rate);
    t.rel_path = Some(rel);
    Ok(setup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Everything the recorder asked for, in order.
    #[derive(Debug, PartialEq)]
    enum Call {
        Start(usize, PathBuf),
        Queue(usize),
        Abort(usize),
        Count(usize),
        Finish(usize),
        Started(String, CaptureTime),
        Ended(Vec<(String, Status)>),
    }
    use std::path::PathBuf;

    #[derive(Default)]
    struct Fake {
        calls: Vec<Call>,
    }

    impl Actions for Fake {
        fn start_track(&mut self, track: usize, setup: TrackSetup) {
            self.calls.push(Call::Start(track, setup.path));
        }
        fn queue(&mut self, track: usize, _item: Inbound) {
            self.calls.push(Call::Queue(track));
        }
        fn enable_fec(&mut self, _track: usize, _setup: FecSetup) {}
        fn abort_track(&mut self, track: usize) {
            self.calls.push(Call::Abort(track));
        }
        fn count_track(&mut self, track: usize, _failure: Failure) {
            self.calls.push(Call::Count(track));
        }
        fn finish_tracks(&mut self, n: usize, _sessions: &[SessionKey]) -> Vec<WorkerOutcome> {
            self.calls.push(Call::Finish(n));
            (0..n)
                .map(|_| WorkerOutcome {
                    result: Some(Ok(OutputFile {
                        path: PathBuf::from("x"),
                        size: 7,
                        sha256: [0; 32],
                        duration_ms: 1000,
                        stats: Default::default(),
                        exports: Vec::new(),
                    })),
                    stats: Some(TrackStats::default()),
                    dims: None,
                    timeline: None,
                })
                .collect()
        }
        fn track_started(&mut self, asset: &Asset, at: CaptureTime) {
            self.calls.push(Call::Started(asset.track_id.clone(), at));
        }
        fn session_ended(&mut self, assets: &[(CaptureTime, Asset)]) {
            self.calls.push(Call::Ended(
                assets
                    .iter()
                    .map(|(_, a)| (format!("{}/{}", a.session_id, a.track_id), a.status))
                    .collect(),
            ));
        }
    }

    impl Fake {
        fn count(&self, f: impl Fn(&Call) -> bool) -> usize {
            self.calls.iter().filter(|c| f(c)).count()
        }
        fn ended(&self) -> Vec<&Vec<(String, Status)>> {
            self.calls
                .iter()
                .filter_map(|c| match c {
                    Call::Ended(a) => Some(a),
                    _ => None,
                })
                .collect()
        }
    }

    /// 2026-11-23T10:00:00Z plus `ms`.
    fn at(ms: i64) -> CaptureTime {
        CaptureTime::from_nanos(1_795_428_000_000_000_000 + ms * 1_000_000)
    }

    fn opts(metadata: Option<&str>) -> RecordOptions {
        RecordOptions {
            out_dir: PathBuf::from("/out"),
            jobs: 1,
            session: metadata.map(|m| {
                crate::session::metadata::parse_metadata(m, Path::new("m.json"))
                    .expect("test metadata parses")
            }),
            identification: "metadata",
            reorder: Default::default(),
            idle_timeout_nanos: 30_000_000_000,
            template: Default::default(),
            srtp_keys: Vec::new(),
            keylog: Default::default(),
            match_by_kind: false,
            audio_export: None,
        }
    }

    /// A PCMU packet (static payload type 0, 20 ms of 8 kHz samples).
    fn pcmu(ssrc: u32, seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend((0..160u32).map(|i| (i * 7 + u32::from(seq)) as u8));
        p
    }

    /// Pushes `payload` from `src` as a datagram captured at `time` (frame first, as the read loop does).
    fn push(rec: &mut Recorder, fake: &mut Fake, payload: &[u8], src: &str, time: CaptureTime) {
        let d = Datagram::for_test(payload, src, "10.0.0.2:6000", time);
        rec.saw_frame(time, fake);
        rec.push(&d, fake);
    }

    const ONE_PEER: &str = r#"{"room_id": "r", "session_id": "s", "peers": [{"peer_id": "alice",
        "joined_at": "2026-11-23T10:00:01Z", "left_at": "2026-11-23T10:00:03Z", "tracks": [
        {"track_id": "mic", "kind": "audio", "ssrc": 1, "codec": "pcmu", "payload_type": 0}]}]}"#;

    #[test]
    fn the_pending_cap_holds_and_one_packet_streams_cost_nothing_after() {
        let mut rec = Recorder::new(opts(None));
        rec.caps.pending_streams = 64;
        let mut fake = Fake::default();
        // 10,000 one-packet SSRCs 10 us apart, a real stream (one packet every 20 ms) among them.
        for i in 0..10_000u32 {
            let t = CaptureTime::from_nanos(at(0).as_nanos() + i64::from(i) * 10_000);
            push(
                &mut rec,
                &mut fake,
                &pcmu(0x1000_0000 + i, i as u16),
                "10.0.0.9:7000",
                t,
            );
            assert!(rec.pending.len() <= 64);
            if i % 2000 == 0 {
                push(
                    &mut rec,
                    &mut fake,
                    &pcmu(1, (i / 2000) as u16),
                    "10.0.0.1:5000",
                    t,
                );
            }
        }
        for seq in 5..200u16 {
            let t = at(100 + i64::from(seq) * 20);
            push(&mut rec, &mut fake, &pcmu(1, seq), "10.0.0.1:5000", t);
        }
        let diags = rec.take_diagnostics();
        assert!(
            diags
                .iter()
                .any(|d| d.kind == "pending-cap" && d.message.contains("64 "))
        );
        assert!(rec.pending_dropped >= 9_900, "{}", rec.pending_dropped);
        // Forgotten streams leave no route behind.
        assert!(rec.router.ssrc(0x1000_0000).is_none());
        rec.finish(&mut fake);
        assert_eq!(fake.count(|c| matches!(c, Call::Start(..))), 1);
        assert_eq!(rec.pending_bytes, 0);
    }

    #[test]
    fn the_pending_bytes_cap_decides_the_largest_streams_early() {
        let mut rec = Recorder::new(opts(None));
        rec.caps.pending_bytes = 64 << 10;
        let mut fake = Fake::default();
        // Four PCMU streams interleaved: 2 x 172 bytes buffered per packet.
        for seq in 0..80u16 {
            for ssrc in 1..=4u32 {
                let t = at(i64::from(seq) * 20);
                push(
                    &mut rec,
                    &mut fake,
                    &pcmu(ssrc, seq),
                    &format!("10.0.0.{ssrc}:5000"),
                    t,
                );
                assert!(rec.pending_bytes <= 64 << 10);
            }
        }
        assert!(
            rec.take_diagnostics()
                .iter()
                .any(|d| d.kind == "pending-cap")
        );
        rec.finish(&mut fake);
        // Decided early, still recorded: four tracks.
        assert_eq!(fake.count(|c| matches!(c, Call::Start(..))), 4);
    }

    #[test]
    fn the_tracks_cap_holds() {
        let mut rec = Recorder::new(opts(None));
        rec.caps.tracks = 3;
        let mut fake = Fake::default();
        for seq in 0..10u16 {
            for ssrc in 1..=5u32 {
                let t = at(i64::from(seq) * 20 + i64::from(ssrc));
                push(
                    &mut rec,
                    &mut fake,
                    &pcmu(ssrc, seq),
                    &format!("10.0.0.{ssrc}:5000"),
                    t,
                );
            }
        }
        rec.finish(&mut fake);
        assert_eq!(fake.count(|c| matches!(c, Call::Start(..))), 3);
        assert_eq!(rec.tracks_dropped, 2);
        let diags = rec.take_diagnostics();
        assert!(
            diags
                .iter()
                .any(|d| d.kind == "tracks-cap" && d.message.contains("3 tracks"))
        );
    }

    #[test]
    fn a_metadata_session_ends_when_its_last_peer_leaves() {
        let mut rec = Recorder::new(opts(Some(ONE_PEER)));
        let mut fake = Fake::default();
        for (i, ms) in (0..5000).step_by(20).enumerate() {
            push(
                &mut rec,
                &mut fake,
                &pcmu(1, i as u16),
                "10.0.0.1:5000",
                at(ms),
            );
        }
        // Started once, at its first packet inside the presence; files under OUT/room/session/peer.
        assert_eq!(
            fake.calls
                .iter()
                .filter(|c| matches!(c, Call::Start(..)))
                .collect::<Vec<_>>(),
            vec![&Call::Start(0, PathBuf::from("/out/r/s/alice/mic.wav"))]
        );
        assert_eq!(
            fake.count(|c| *c == Call::Started("mic".into(), at(1000))),
            1
        );
        // 2 s of 20 ms packets inside the presence are queued; the rest is outside it.
        assert_eq!(fake.count(|c| matches!(c, Call::Queue(0))), 101);
        // The session ended as capture time passed 10:00:03, not at the end of the input.
        let finish = fake.calls.iter().position(|c| *c == Call::Finish(1));
        let last_queue = fake.calls.iter().rposition(|c| matches!(c, Call::Queue(_)));
        assert!(finish > last_queue, "{:?}", fake.calls);
        assert_eq!(
            fake.ended(),
            vec![&vec![("s/mic".into(), Status::Completed)]]
        );
        // The end of the input adds nothing.
        rec.finish(&mut fake);
        assert_eq!(fake.ended().len(), 1);
        let m = rec.manifest(vec!["x.pcap".into()]);
        assert_eq!(m.assets.len(), 1);
        let stats = &m.assets[0].stats;
        assert_eq!(stats.outside_presence, 250 - 101);
        assert_eq!(m.assets[0].size, Some(7));
    }

    #[test]
    fn without_metadata_the_idle_rule_starts_a_new_session() {
        let mut rec = Recorder::new(opts(None));
        let mut fake = Fake::default();
        for seq in 0..150u16 {
            push(
                &mut rec,
                &mut fake,
                &pcmu(9, seq),
                "10.0.0.1:5000",
                at(i64::from(seq) * 20),
            );
        }
        assert_eq!(fake.count(|c| matches!(c, Call::Start(0, _))), 1);
        assert_eq!(fake.count(|c| matches!(c, Call::Started(..))), 1);
        assert!(fake.ended().is_empty());
        // Live time passes (an idle pipe): the session ends without another packet.
        rec.advance(at(150 * 20 + 29_000), &mut fake);
        assert!(fake.ended().is_empty(), "not idle long enough yet");
        rec.advance(at(150 * 20 + 31_000), &mut fake);
        let ended = fake.ended();
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0][0].0, "s20261123T100000Z/audio-00000009");
        // The same SSRC coming back is a new session's track.
        for seq in 150..300u16 {
            push(
                &mut rec,
                &mut fake,
                &pcmu(9, seq),
                "10.0.0.1:5000",
                at(60_000 + i64::from(seq) * 20),
            );
        }
        rec.finish(&mut fake);
        let ended = fake.ended();
        assert_eq!(ended.len(), 2);
        assert_eq!(ended[1][0].0, "s20261123T100103Z/audio-00000009");
        assert_eq!(rec.manifest(Vec::new()).assets.len(), 2);
    }

    #[test]
    fn on_an_idle_live_input_a_short_stream_is_identified_and_its_session_ends() {
        let mut rec = Recorder::new(opts(None));
        let mut fake = Fake::default();
        for seq in 0..20u16 {
            push(
                &mut rec,
                &mut fake,
                &pcmu(5, seq),
                "10.0.0.1:5000",
                at(i64::from(seq) * 20),
            );
        }
        // 20 packets: not enough to decide on packets alone.
        assert_eq!(fake.count(|c| matches!(c, Call::Started(..))), 0);
        rec.idle(at(2_000), &mut fake);
        assert_eq!(fake.count(|c| matches!(c, Call::Started(..))), 0);
        // 3 s after its first packet the stream is decided, as its next packet would have.
        rec.idle(at(3_000), &mut fake);
        assert_eq!(fake.count(|c| matches!(c, Call::Start(0, _))), 1);
        assert_eq!(
            fake.count(|c| *c == Call::Started("audio-00000005".into(), at(0))),
            1
        );
        assert!(fake.ended().is_empty());
        rec.idle(at(380 + 30_000), &mut fake);
        assert_eq!(fake.ended().len(), 1);
    }

    #[test]
    fn a_session_of_streams_still_pending_ends_on_the_idle_rule() {
        let mut rec = Recorder::new(opts(None));
        let mut fake = Fake::default();
        for seq in 0..20u16 {
            push(
                &mut rec,
                &mut fake,
                &pcmu(5, seq),
                "10.0.0.1:5000",
                at(i64::from(seq) * 20),
            );
        }
        // Past the idle time before any tick came: the session ends with its streams decided.
        rec.advance(at(380 + 30_000), &mut fake);
        assert_eq!(fake.count(|c| matches!(c, Call::Started(..))), 1);
        assert_eq!(fake.ended().len(), 1);
    }

    #[test]
    fn two_tracks_never_share_a_path() {
        let mut c = Claimed::default();
        let id = |track: &str| Identity {
            room_id: "r".into(),
            session_id: "s".into(),
            peer_id: "p".into(),
            track_id: track.into(),
            kind: Kind::Audio,
            source: Source::Regular,
            ssrc: None,
            inferred: Vec::new(),
        };
        let (mut a, mut b, mut c3) = (id("mic"), id("mic"), id("mic"));
        assert_eq!(c.claim(&mut a, "ogg"), "r/s/p/mic.ogg");
        assert_eq!(c.claim(&mut b, "ogg"), "r/s/p/mic-2.ogg");
        assert_eq!(c.claim(&mut c3, "ogg"), "r/s/p/mic-3.ogg");
        assert_eq!((a.track_id.as_str(), b.track_id.as_str()), ("mic", "mic-2"));
        // Another extension is another file.
        assert_eq!(c.claim(&mut id("mic"), "wav"), "r/s/p/mic.wav");
        assert_eq!(c.renamed.len(), 2);
        // The asset ids follow the identities: distinct too.
        let ids = [&a, &b, &c3]
            .map(|i| assets::asset_id(&i.room_id, &i.session_id, &i.peer_id, &i.track_id));
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    }

    /// Alice and Bob talk; everyone leaves; Alice rejoins 40 s later with a new SSRC.
    const REJOIN: &str = r#"{"room_id": "r", "peers": [
        {"peer_id": "alice", "joined_at": "2026-11-23T10:00:00Z", "left_at": "2026-11-23T10:00:05Z",
         "tracks": [{"track_id": "mic", "kind": "audio", "ssrc": 1, "codec": "pcmu", "payload_type": 0}]},
        {"peer_id": "bob", "joined_at": "2026-11-23T10:00:01Z", "left_at": "2026-11-23T10:00:06Z",
         "tracks": [{"track_id": "mic", "kind": "audio", "ssrc": 2, "codec": "pcmu", "payload_type": 0}]},
        {"peer_id": "alice", "joined_at": "2026-11-23T10:00:46Z", "left_at": "2026-11-23T10:00:50Z",
         "tracks": [{"track_id": "mic", "kind": "audio", "ssrc": 3, "codec": "pcmu", "payload_type": 0}]}]}"#;

    #[test]
    fn presences_make_sessions() {
        let map = crate::session::metadata::parse_metadata(REJOIN, Path::new("m.json"))
            .expect("a rejoin is a peer entry per presence");
        let plan = plan_sessions(&map);
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].peers, vec![0, 1]);
        assert_eq!(plan[0].end, Some(at(6_000)));
        assert_eq!(plan[0].session_id.as_deref(), Some("s20261123T100000Z"));
        assert_eq!(plan[1].peers, vec![2]);
        assert_eq!(plan[1].session_id.as_deref(), Some("s20261123T100046Z"));
        assert_eq!(plan[1].ssrcs, vec![3]);
        // With a session_id: numbered.
        let named = REJOIN.replacen(
            r#""room_id": "r","#,
            r#""room_id": "r", "session_id": "call","#,
            1,
        );
        let map =
            crate::session::metadata::parse_metadata(&named, Path::new("m.json")).expect("parses");
        let ids: Vec<_> = plan_sessions(&map)
            .into_iter()
            .map(|s| s.session_id)
            .collect();
        assert_eq!(ids, vec![Some("call-1".into()), Some("call-2".into())]);
        // Overlapping presences of one peer are not a rejoin.
        let overlap = REJOIN.replace("10:00:46Z", "10:00:04Z");
        let e = crate::session::metadata::parse_metadata(&overlap, Path::new("m.json"))
            .expect_err("overlapping presences of one peer");
        assert!(e.to_string().contains("rejoins"), "{e}");
    }

    #[test]
    fn each_presence_span_is_a_session_with_its_own_assets() {
        let mut rec = Recorder::new(opts(Some(REJOIN)));
        let mut fake = Fake::default();
        let mut seq = [0u16; 4];
        let mut send = |rec: &mut Recorder, fake: &mut Fake, ssrc: u32, ms: i64| {
            let n = &mut seq[ssrc as usize];
            push(rec, fake, &pcmu(ssrc, *n), "10.0.0.1:5000", at(ms));
            *n += 1;
        };
        for ms in (0..5_000).step_by(20) {
            send(&mut rec, &mut fake, 1, ms);
            send(&mut rec, &mut fake, 2, ms + 1_000);
        }
        // Alice's new microphone starts a little before her second join: outside presence.
        for ms in (45_000..50_000).step_by(20) {
            send(&mut rec, &mut fake, 3, ms);
        }
        // The first session ended when Bob left, long before the input did.
        let ended = fake.ended();
        assert_eq!(ended.len(), 1);
        assert_eq!(
            ended[0],
            &vec![
                ("s20261123T100000Z/mic".to_string(), Status::Completed),
                ("s20261123T100000Z/mic".to_string(), Status::Completed)
            ]
        );
        rec.finish(&mut fake);
        let m = rec.manifest(Vec::new());
        let sessions: Vec<(&str, &str)> = m
            .assets
            .iter()
            .map(|a| (a.session_id.as_str(), a.peer_id.as_str()))
            .collect();
        assert_eq!(
            sessions,
            vec![
                ("s20261123T100000Z", "alice"),
                ("s20261123T100000Z", "bob"),
                ("s20261123T100046Z", "alice")
            ]
        );
        assert_eq!(
            m.assets[2].stats.outside_presence, 50,
            "45..46 s: before the rejoin"
        );
        // Alice's first and second microphones are track 0 of their sessions: 250 + 200 queued.
        assert_eq!(fake.count(|c| *c == Call::Queue(0)), 250 + 200);
        assert_eq!(
            fake.count(|c| *c == Call::Started("mic".into(), at(46_000))),
            1
        );
        assert!(rec.take_diagnostics().is_empty(), "no SSRC is unknown");
    }

    #[test]
    fn a_stream_of_unknown_codec_fails_but_its_packets_are_counted() {
        let mut rec = Recorder::new(opts(None));
        let mut fake = Fake::default();
        let mut x = 0x9E37_79B9u32;
        for seq in (0..120u16).filter(|s| s % 10 != 3) {
            let mut p = vec![0x80, 100];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
            p.extend_from_slice(&7u32.to_be_bytes());
            for _ in 0..200 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                p.push(x as u8);
            }
            push(
                &mut rec,
                &mut fake,
                &p,
                "10.0.0.1:5000",
                at(i64::from(seq) * 33),
            );
        }
        rec.finish(&mut fake);
        let m = rec.manifest(Vec::new());
        assert_eq!(m.assets.len(), 1);
        let a = &m.assets[0];
        assert_eq!(
            a.error.as_ref().map(|e| e.code.as_str()),
            Some("unknown-codec"),
            "{a:?}"
        );
        // Counted by a worker (the loss is its to report), never started as a file.
        assert_eq!(fake.count(|c| *c == Call::Count(0)), 1);
        assert_eq!(fake.count(|c| *c == Call::Queue(0)), 108);
        assert_eq!(fake.count(|c| matches!(c, Call::Start(..))), 0);
        assert_eq!(fake.count(|c| matches!(c, Call::Started(..))), 1);
    }

    /// An RTX stream (RFC 4588: OSN + the original payload, the original timestamp)
    /// that fills its buffer before its media is decided: 100 repeats of the media's
    /// second packet in 300 ms (libwebrtc's payload padding), with padding-only probes
    /// between. It waits for its media, which takes it along when decided: one track,
    /// every retransmission queued to it.
    #[test]
    fn an_rtx_stream_that_fills_up_before_its_media_waits_for_it() {
        let mut rec = Recorder::new(opts(None));
        let mut fake = Fake::default();
        let media: Vec<Vec<u8>> = (0..200u16).map(|s| pcmu(1, 500 + s)).collect();
        let rtx = |seq: u16, original: &[u8]| {
            let mut p = vec![0x80, 97];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&original[4..8]);
            p.extend_from_slice(&2u32.to_be_bytes());
            p.extend_from_slice(&original[2..4]);
            p.extend_from_slice(&original[12..]);
            p
        };
        let probe = |seq: u16| {
            let mut p = vec![0xa0, 97];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&[0; 4]);
            p.extend_from_slice(&2u32.to_be_bytes());
            p.extend(std::iter::repeat_n(0, 99));
            p.push(100);
            p
        };
        let mut items: Vec<(i64, Vec<u8>)> = media
            .iter()
            .enumerate()
            .map(|(i, p)| (i as i64 * 20, p.clone()))
            .collect();
        let mut rtx_seq = 9000u16;
        for k in 0..100i64 {
            items.push((25 + k * 3, rtx(rtx_seq, &media[1])));
            rtx_seq += 1;
            if k % 10 == 0 {
                items.push((26 + k * 3, probe(rtx_seq)));
                rtx_seq += 1;
            }
        }
        items.sort_by_key(|(t, _)| *t);
        for (t, p) in &items {
            push(&mut rec, &mut fake, p, "10.0.0.1:5000", at(*t));
        }
        rec.finish(&mut fake);
        let m = rec.manifest(Vec::new());
        let ssrcs: Vec<Option<&str>> = m.assets.iter().map(|a| a.ssrc.as_deref()).collect();
        assert_eq!(ssrcs, [Some("0x00000001")], "{:?}", m.assets);
        // 200 media packets and the 100 retransmissions; the probes are dropped.
        assert_eq!(fake.count(|c| *c == Call::Queue(0)), 300);
    }

    #[test]
    fn a_session_that_starts_in_the_same_second_as_the_last_gets_its_own_id() {
        let mut rec = Recorder::new(opts(None));
        let mut fake = Fake::default();
        for seq in 0..100u16 {
            push(
                &mut rec,
                &mut fake,
                &pcmu(9, seq),
                "10.0.0.1:5000",
                at(i64::from(seq)),
            );
        }
        // A live clock ran ahead of the packets' own times and ended the session...
        rec.idle(at(40_000), &mut fake);
        // ...then packets stamped within the same second came in: a new session.
        for seq in 100..200u16 {
            push(
                &mut rec,
                &mut fake,
                &pcmu(9, seq),
                "10.0.0.1:5000",
                at(500 + i64::from(seq)),
            );
        }
        rec.finish(&mut fake);
        let ids: Vec<String> = rec
            .manifest(Vec::new())
            .assets
            .iter()
            .map(|a| a.session_id.clone())
            .collect();
        assert_eq!(ids, ["s20261123T100000Z", "s20261123T100000Z-2"]);
    }

    #[test]
    fn streams_that_are_not_rtp_are_dropped() {
        let mut rec = Recorder::new(opts(None));
        let mut fake = Fake::default();
        // RTP-looking headers with random sequence numbers: not a stream.
        for (i, seq) in [5u16, 40_000, 9, 61_000, 300, 20_000]
            .into_iter()
            .enumerate()
        {
            push(
                &mut rec,
                &mut fake,
                &pcmu(3, seq),
                "10.0.0.1:5000",
                at(i as i64 * 20),
            );
        }
        rec.finish(&mut fake);
        assert!(fake.ended().is_empty());
        assert!(rec.manifest(Vec::new()).assets.is_empty());
    }

    #[test]
    fn an_ssrc_metadata_does_not_name_is_reported_once_and_not_recorded() {
        let mut rec = Recorder::new(opts(Some(ONE_PEER)));
        let mut fake = Fake::default();
        for seq in 0..10u16 {
            push(
                &mut rec,
                &mut fake,
                &pcmu(77, seq),
                "10.0.0.1:5000",
                at(1000 + i64::from(seq) * 20),
            );
        }
        let diags = rec.take_diagnostics();
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].kind, "ssrc-not-in-metadata");
        // Where it came from: the first packet of that SSRC.
        assert_eq!(
            diags[0].ctx.rtp,
            Some(crate::error::RtpCtx { ssrc: 77, seq: 0 })
        );
        assert!(
            diags[0]
                .display("x.pcap")
                .to_string()
                .starts_with("x.pcap: frame 1 (byte offset 0), SSRC 0x0000004D seq 0: SSRC")
        );
        assert_eq!(
            fake.count(|c| matches!(c, Call::Start(..) | Call::Queue(_))),
            0
        );
        rec.finish(&mut fake);
        // The named track never had media: it fails, saying what was expected
        // and what the capture had instead.
        assert_eq!(fake.ended(), vec![&vec![("s/mic".into(), Status::Failed)]]);
        let m = rec.manifest(Vec::new());
        let msg = &m.assets[0].error.as_ref().expect("a reason").message;
        assert_eq!(
            msg,
            "no RTP packet of this track was captured (expected SSRC 0x00000001, PT 0); \
             the capture has 1 stream(s) the metadata does not name, not matched: \
             SSRC 0x0000004D PT 0 (audio) on 10.0.0.1:5000 -> 10.0.0.2:6000 (10 packets); \
             it is the only unmatched audio stream: use --match-by-kind to record it as this track"
        );
    }

    #[test]
    fn a_track_whose_key_never_authenticates_fails_without_a_worker() {
        let meta = r#"{"room_id": "r", "session_id": "s", "peers": [{"peer_id": "alice", "tracks": [
            {"track_id": "mic", "kind": "audio", "ssrc": 1, "codec": "pcmu", "payload_type": 0,
             "srtp": {"profile": "AES_CM_128_HMAC_SHA1_80",
                      "key_base64": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"}}]}]}"#;
        let mut rec = Recorder::new(opts(Some(meta)));
        let mut fake = Fake::default();
        let other =
            crate::srtp::SrtpContext::new(crate::srtp::SrtpProfile::AesCm128HmacSha1_80, &[2; 30])
                .expect("key");
        for seq in 0..40u16 {
            let wire = other.encrypt_rtp(0, &pcmu(1, seq)).expect("encrypts");
            push(
                &mut rec,
                &mut fake,
                &wire,
                "10.0.0.1:5000",
                at(i64::from(seq) * 20),
            );
        }
        rec.finish(&mut fake);
        assert_eq!(
            fake.count(|c| matches!(c, Call::Start(..) | Call::Queue(_))),
            0
        );
        let m = rec.manifest(Vec::new());
        let a = &m.assets[0];
        assert_eq!(a.status, Status::Failed);
        assert_eq!(
            a.error.as_ref().map(|e| e.code.as_str()),
            Some("srtp-auth-failed")
        );
        assert_eq!(a.stats.srtp_auth_failures, 40);
    }

    /// Options with one peer's SDP (`peer.sdp`) as the signalling.
    fn sdp_opts(sdp: &str) -> RecordOptions {
        let head = "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n";
        let map = crate::session::parse_sdp(&format!("{head}{sdp}"), Path::new("peer.sdp"))
            .expect("test SDP parses");
        RecordOptions {
            session: Some(map),
            identification: "sdp",
            ..opts(None)
        }
    }

    /// An RTP packet of `pt` to be sent every 20 ms (`step` ticks) with `payload`.
    fn rtp(pt: u8, ssrc: u32, seq: u16, step: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, pt];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * step).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    /// Uniformly random-looking bytes (what an encrypted payload is).
    fn noise(seed: u32, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    /// Sends `n` packets made by `make(seq)` to port 6000 and finishes: the manifest.
    fn record_sdp(opts: RecordOptions, n: u16, make: impl Fn(u16) -> Vec<u8>) -> (Fake, Manifest) {
        let mut rec = Recorder::new(opts);
        let mut fake = Fake::default();
        for seq in 0..n {
            push(
                &mut rec,
                &mut fake,
                &make(seq),
                "10.0.0.1:5000",
                at(i64::from(seq) * 20),
            );
        }
        rec.finish(&mut fake);
        let m = rec.manifest(Vec::new());
        (fake, m)
    }

    fn failure(m: &Manifest) -> (Option<&str>, &str) {
        let e = m.assets[0].error.as_ref();
        (
            e.map(|e| e.code.as_str()),
            e.map_or("", |e| e.message.as_str()),
        )
    }

    #[test]
    fn signalled_dtls_srtp_without_a_key_is_not_recorded_unless_the_payloads_are_plain() {
        let sdp = "m=audio 6000 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
        // Random payloads: encrypted, the message says what would decrypt it.
        let (fake, m) = record_sdp(sdp_opts(sdp), 100, |seq| {
            rtp(111, 7, seq, 960, &noise(u32::from(seq), 80))
        });
        let (code, msg) = failure(&m);
        assert_eq!(code, Some("encrypted-no-key"), "{msg}");
        assert!(
            msg.contains("DTLS-SRTP")
                && msg.contains("--keylog")
                && msg.contains("do not parse as opus"),
            "{msg}"
        );
        assert_eq!(fake.count(|c| *c == Call::Count(0)), 1);
        assert_eq!(
            m.assets[0].stats.packets, 0,
            "the fake's workers count nothing"
        );
        // The same SDP over a capture of decrypted media: recorded.
        let (fake, m) = record_sdp(sdp_opts(sdp), 100, |seq| {
            rtp(111, 7, seq, 960, &[0xfc, 0xff, 0xfe])
        });
        assert_eq!(
            m.assets[0].status,
            Status::Completed,
            "{:?}",
            m.assets[0].error
        );
        assert_eq!(fake.count(|c| *c == Call::Count(0)), 0);
        // Too few packets to tell: signalling says encrypted, and nothing showed otherwise.
        let (_, m) = record_sdp(sdp_opts(sdp), 1, |seq| {
            rtp(111, 7, seq, 960, &[0xfc, 0xff, 0xfe])
        });
        assert_eq!(failure(&m).0, Some("encrypted-no-key"));
    }

    #[test]
    fn signalled_sdes_without_a_key_fails_and_a_keyring_key_records_it() {
        // L16: nothing in its payloads could show it plain: the first packet decides.
        let sdp = "m=audio 6000 RTP/SAVP 11\r\n";
        let (fake, m) = record_sdp(sdp_opts(sdp), 20, |seq| rtp(11, 7, seq, 441, &[0; 882]));
        let (code, msg) = failure(&m);
        assert_eq!(code, Some("encrypted-no-key"));
        assert!(
            msg.contains("SRTP (RTP/SAVP") && msg.contains("--srtp-keys"),
            "{msg}"
        );
        assert_eq!(fake.count(|c| matches!(c, Call::Start(..))), 0);
        // PCMU under RTP/SAVP, decrypted by a --srtp-keys key: recorded.
        let sdp = "m=audio 6000 RTP/SAVP 0\r\n";
        let key = [3u8; 30];
        let ctx =
            crate::srtp::SrtpContext::new(crate::srtp::SrtpProfile::AesCm128HmacSha1_80, &key)
                .expect("key");
        let line = format!(
            "AES_CM_128_HMAC_SHA1_80 {}",
            "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMD"
        );
        let mut o = sdp_opts(sdp);
        o.srtp_keys = crate::srtp::keyring::parse_key_file(&line, "keys").expect("key line");
        let (_, m) = record_sdp(o, 50, |seq| {
            ctx.encrypt_rtp(0, &pcmu(7, seq)).expect("encrypts")
        });
        assert_eq!(
            m.assets[0].status,
            Status::Completed,
            "{:?}",
            m.assets[0].error
        );
        // Without the key: the tag lengths give it away (and signalling said so).
        let (_, m) = record_sdp(sdp_opts(sdp), 50, |seq| {
            ctx.encrypt_rtp(0, &pcmu(7, seq)).expect("encrypts")
        });
        assert_eq!(failure(&m).0, Some("encrypted-no-key"));
        // Plain PCMU under RTP/SAVP (a decrypted capture): its lengths are plain, recorded.
        let (_, m) = record_sdp(sdp_opts(sdp), 50, |seq| pcmu(7, seq));
        assert_eq!(
            m.assets[0].status,
            Status::Completed,
            "{:?}",
            m.assets[0].error
        );
    }

    #[test]
    fn payloads_that_do_not_parse_as_the_signalled_codec_are_encrypted() {
        let meta = r#"{"room_id": "r", "session_id": "s", "peers": [{"peer_id": "alice", "tracks": [
            {"track_id": "cam", "kind": "video", "ssrc": 9, "codec": "vp8", "payload_type": 96}]}]}"#;
        let mut rec = Recorder::new(opts(Some(meta)));
        let mut fake = Fake::default();
        // Two packets per frame, 3000 ticks per frame, random bytes.
        for seq in 0..100u16 {
            let mut p = rtp(96, 9, seq, 0, &noise(u32::from(seq), 300));
            p[4..8].copy_from_slice(&(u32::from(seq / 2) * 3000).to_be_bytes());
            push(
                &mut rec,
                &mut fake,
                &p,
                "10.0.0.1:5000",
                at(i64::from(seq) * 16),
            );
        }
        rec.finish(&mut fake);
        let m = rec.manifest(Vec::new());
        let (code, msg) = failure(&m);
        assert_eq!(code, Some("encrypted-no-key"));
        assert!(
            msg.contains("do not parse as the signalled codec vp8")
                && msg.contains("SRTP without keys?"),
            "{msg}"
        );
        // It started, then stopped writing and only counted.
        assert_eq!(fake.count(|c| matches!(c, Call::Start(..))), 1);
        assert_eq!(fake.count(|c| *c == Call::Count(0)), 1);
    }

    #[test]
    fn a_payload_types_kind_is_the_signalled_or_the_static_one() {
        let rec = Recorder::new(sdp_opts(
            "m=audio 5004 RTP/AVP 8\r\nm=video 5006 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
        ));
        assert_eq!(rec.signalled_kind(96), Some(Kind::Video));
        assert_eq!(rec.signalled_kind(0), Some(Kind::Audio), "static PCMU");
        assert_eq!(rec.signalled_kind(26), Some(Kind::Video), "static JPEG");
        assert_eq!(rec.signalled_kind(100), None);
    }

    #[test]
    fn match_by_kind_binds_the_one_stream_of_the_tracks_kind() {
        // The SDP says port 5004, PT 8; the capture sends PCMU (PT 0) to port 6000.
        let sdp = "m=audio 5004 RTP/AVP 8\r\n";
        let (fake, m) = record_sdp(sdp_opts(sdp), 150, |seq| pcmu(7, seq));
        let (code, msg) = failure(&m);
        assert_eq!(code, Some("no-media"));
        assert!(
            msg.contains("(expected m=audio, PT 8, port 5004)")
                && msg.contains("the SDP does not name")
                && msg.contains(
                    "SSRC 0x00000007 PT 0 (audio) on 10.0.0.1:5000 -> 10.0.0.2:6000 (150 packets)"
                )
                && msg.contains("use --match-by-kind to record it as this track"),
            "{msg}"
        );
        assert_eq!(fake.count(|c| matches!(c, Call::Queue(_))), 0);
        let o = RecordOptions {
            match_by_kind: true,
            ..sdp_opts(sdp)
        };
        let (fake, m) = record_sdp(o, 150, |seq| pcmu(7, seq));
        let a = &m.assets[0];
        assert_eq!(a.status, Status::Completed, "{:?}", a.error);
        assert_eq!(a.ssrc.as_deref(), Some("0x00000007"));
        assert_eq!(
            a.inferred,
            ["session_id", "ssrc (by kind)", "payload_type", "codec"].map(String::from)
        );
        // The stream's payload type and codec, not the ones the SDP named.
        assert_eq!(
            (a.payload_type, a.codec.as_deref()),
            (Some(0), Some("pcmu"))
        );
        // Every packet, the held ones included.
        assert_eq!(fake.count(|c| *c == Call::Queue(0)), 150);
        // Two audio streams: neither is taken, and the message says why.
        let o = RecordOptions {
            match_by_kind: true,
            ..sdp_opts(sdp)
        };
        let mut rec = Recorder::new(o);
        let mut fake = Fake::default();
        for seq in 0..150u16 {
            for ssrc in [7, 8] {
                push(
                    &mut rec,
                    &mut fake,
                    &pcmu(ssrc, seq),
                    "10.0.0.1:5000",
                    at(i64::from(seq) * 20),
                );
            }
        }
        rec.finish(&mut fake);
        let m = rec.manifest(Vec::new());
        let (code, msg) = failure(&m);
        assert_eq!(code, Some("no-media"));
        assert!(
            msg.contains("--match-by-kind: 2 unmatched audio streams, not one"),
            "{msg}"
        );
        assert!(
            rec.take_diagnostics()
                .iter()
                .any(|d| d.kind == "ssrc-not-in-metadata")
        );
        assert_eq!(fake.count(|c| matches!(c, Call::Queue(_))), 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(48))]

        /// Whatever the gaps between bursts of media: one session per burst
        /// separated by at least the idle time, every started track ends in
        /// exactly one session, and every session ends with the tracks it started.
        #[test]
        fn every_started_track_ends_once(
            bursts in proptest::collection::vec((0i64..70_000, 1u32..3), 1..5),
        ) {
            let mut rec = Recorder::new(opts(None));
            let mut fake = Fake::default();
            let mut t = 0i64;
            let mut seq = [0u16; 3];
            let mut expected_sessions = 0;
            for (i, (gap, ssrcs)) in bursts.iter().enumerate() {
                // The burst before ended 20 ms before `t`: that is the silence's length too.
                if i == 0 || gap + 20 >= 30_000 {
                    expected_sessions += 1;
                }
                t += gap;
                for _ in 0..120 {
                    for s in 0..*ssrcs {
                        let n = &mut seq[s as usize];
                        push(&mut rec, &mut fake, &pcmu(100 + s, *n), "10.0.0.1:5000", at(t));
                        *n = n.wrapping_add(1);
                    }
                    t += 20;
                }
            }
            rec.finish(&mut fake);
            let ended = fake.ended();
            proptest::prop_assert_eq!(ended.len(), expected_sessions);
            let started = fake.count(|c| matches!(c, Call::Started(..)));
            let finished: usize = ended.iter().map(|e| e.len()).sum();
            proptest::prop_assert_eq!(started, finished);
            proptest::prop_assert!(ended.iter().all(|e| !e.is_empty()));
            let assets = rec.manifest(Vec::new()).assets;
            proptest::prop_assert_eq!(assets.len(), finished);
            let mut ids: Vec<&str> = assets.iter().map(|a| a.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            proptest::prop_assert_eq!(ids.len(), assets.len());
        }
    }
}
