//! Several peers' streams interleaved in capture-time order, with impairments and ground truth.
//!
//! Each stream's packets are generated frame by frame, then impaired in this
//! order: loss (a packet is never sent; its sequence number is used up),
//! reordering (a packet swaps places with one up to `reorder_depth` later; the
//! capture times stay in order, the contents move), duplication (a copy is
//! sent right after the original, same time). The first packet of a stream is
//! never lost or moved, so the analyser's base sequence number is the sender's.
//! RTCP sender reports (compound SR + SDES) go out every `rtcp_interval_ns`
//! and are never impaired.
//!
//! The ground truth is counted from what was actually written, the way a
//! receiver sees it: `lost` = sequence span - unique packets, `duplicates` =
//! copies of an already seen sequence number, `reordered` = first copies
//! arriving after a higher sequence number.

use super::media::{MediaKind, MediaPacket, Packetizer, StreamSpec};
use super::packet::{LinkKind, udp_frame};
use super::rng::Rng;
use super::rtp::{ntp_from_unix_nanos, push_bye, push_sdes_cname, push_sender_report};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// 2026-11-23T10:00:00Z, the default start of a scenario.
pub const DEFAULT_START_NS: i64 = 1_795_428_000 * 1_000_000_000;

/// Network impairments applied to every RTP packet, deterministic from the seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Impairment {
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Probability that a packet is sent twice.
    pub duplicate: f64,
    /// Probability that a packet swaps places with a later one.
    pub reorder: f64,
    /// How many positions later the swap partner may be (at least 1).
    pub reorder_depth: usize,
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_depth: 3,
        }
    }
}

/// One peer: where it sends from and what it sends.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerSpec {
    /// Source address of all its streams (BUNDLE: one 5-tuple per peer).
    pub addr: SocketAddr,
    /// Its streams (typically a microphone and a camera).
    pub streams: Vec<StreamSpec>,
    /// When it starts sending, after the scenario start.
    pub start_offset_ns: i64,
    /// How long it sends (`None` = as long as the scenario).
    pub duration_ns: Option<i64>,
    /// Where it sends to, when not the scenario's server (e.g. an IPv6 peer).
    pub server: Option<SocketAddr>,
}

/// Everything that determines a scenario's bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioConfig {
    /// The peers.
    pub peers: Vec<PeerSpec>,
    /// Where every peer sends to (an SFU).
    pub server: SocketAddr,
    /// Capture time of the scenario start, ns since the Unix epoch.
    pub start_ns: i64,
    /// Length of the scenario (`None` = endless; the caller stops reading).
    pub duration_ns: Option<i64>,
    /// Interval of RTCP sender reports per stream (`None` = no RTCP).
    pub rtcp_interval_ns: Option<i64>,
    /// Send an RTCP BYE when a stream ends.
    pub bye_at_end: bool,
    /// Impairments of RTP packets.
    pub impairment: Impairment,
    /// Seed of every random choice.
    pub seed: u64,
    /// Link layer used by [`Scenario::next_frame`].
    pub link: LinkKind,
}

impl ScenarioConfig {
    /// `peers` peers, each with an Opus microphone and a VP8 camera, `seconds` long, clean network.
    ///
    /// Peer `i` sends from 10.0.0.(10+i):(50000+2i) (IPv4) to 10.0.0.1:40000 and joins `300 ms * i` late.
    pub fn conference(peers: usize, seconds: f64, seed: u64) -> Self {
        Self::conference_with(peers, seconds, seed, MediaKind::Opus, MediaKind::Vp8)
    }

    /// Like [`ScenarioConfig::conference`] with chosen audio and video codecs.
    pub fn conference_with(
        peers: usize,
        seconds: f64,
        seed: u64,
        audio: MediaKind,
        video: MediaKind,
    ) -> Self {
        let mut rng = Rng::new(seed ^ 0x5eed_5eed);
        let peers = (0..peers)
            .map(|i| {
                let ip = IpAddr::V4(Ipv4Addr::new(10, 0, (i / 200) as u8, 10 + (i % 200) as u8));
                let addr = SocketAddr::new(ip, 50_000 + 2 * (i % 7000) as u16);
                let mut mic = StreamSpec::new(audio, rng.next_u32());
                let mut cam = StreamSpec::new(video, rng.next_u32());
                for s in [&mut mic, &mut cam] {
                    s.first_seq = rng.next_u32() as u16;
                    s.first_ts = rng.next_u32();
                    s.cname = format!("peer{i}");
                }
                PeerSpec {
                    addr,
                    streams: vec![mic, cam],
                    start_offset_ns: 300_000_000 * i as i64,
                    duration_ns: None,
                    server: None,
                }
            })
            .collect();
        ScenarioConfig {
            peers,
            server: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40_000),
            start_ns: DEFAULT_START_NS,
            duration_ns: if seconds > 0.0 {
                Some((seconds * 1e9) as i64)
            } else {
                None
            },
            rtcp_interval_ns: Some(1_000_000_000),
            bye_at_end: true,
            impairment: Impairment::default(),
            seed,
            link: LinkKind::Ethernet,
        }
    }

    /// Moves every peer (and the server) to IPv6 addresses fd00::…, keeping ports.
    pub fn use_ipv6(&mut self) {
        let v6 = |a: SocketAddr| -> SocketAddr {
            let last = match a.ip() {
                IpAddr::V4(v) => u32::from(v) & 0xffff,
                IpAddr::V6(v) => u32::from(v.segments()[7]),
            };
            SocketAddr::new(
                IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, last as u16)),
                a.port(),
            )
        };
        self.server = v6(self.server);
        for p in &mut self.peers {
            p.addr = v6(p.addr);
            p.server = p.server.map(v6);
        }
    }
}

/// What the capture holds for one SSRC, counted as a receiver would.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StreamTruth {
    /// SSRC.
    pub ssrc: u32,
    /// SSRC as `0x1A2B3C4D`.
    pub ssrc_hex: String,
    /// Codec name.
    pub codec: String,
    /// Payload type.
    pub pt: u8,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Index of the sending peer.
    pub peer: usize,
    /// Source address.
    pub src: String,
    /// Destination address.
    pub dst: String,
    /// RTP packets in the capture, duplicates included.
    pub packets: u64,
    /// Packets the sender generated (sequence numbers used), including unsent tail.
    pub sent: u64,
    /// Packets dropped by the loss impairment.
    pub dropped: u64,
    /// Sequence numbers missing between the first and last seen: span - unique.
    pub lost: u64,
    /// Copies of an already seen sequence number.
    pub duplicates: u64,
    /// First copies arriving after a higher sequence number.
    pub reordered: u64,
    /// Swaps injected by the reorder impairment.
    pub reorder_swaps: u64,
    /// Sequence number of the first packet (lowest extended seq seen).
    pub first_seq: u16,
    /// Sequence number of the last packet (highest extended seq seen).
    pub last_seq: u16,
    /// Frames the sender generated.
    pub frames: u64,
    /// RTCP packets (compounds) sent for this SSRC.
    pub rtcp_packets: u64,
    /// Bytes of RTP packets in the capture (RTP header and payload).
    pub rtp_bytes: u64,
    /// Frame-level truth, for streams of real encoded frames only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<FrameTruth>,
}

/// What a receiver can decode of a stream of real encoded frames.
///
/// A frame is complete when none of its packets was lost (duplicates and
/// reordering do not matter to a receiver with a reorder buffer). A video frame
/// is decodable when it is complete and is a key frame or follows a decodable
/// frame: after an incomplete frame, nothing decodes until the next key frame.
/// Every Opus packet is a key frame.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FrameTruth {
    /// Key frames sent.
    pub keyframes: u64,
    /// Frames with every packet in the capture.
    pub frames_complete: u64,
    /// Frames a decoder can use (see the type doc).
    pub frames_decodable: u64,
    /// Indices (0-based, in sending order) of frames that are not decodable.
    pub undecodable: Vec<u64>,
    /// RTP timestamp of the first frame.
    pub first_ts: u32,
    /// From the first frame's timestamp to the end of the last frame, in clock ticks.
    pub length_ticks: u64,
    /// `length_ticks` in milliseconds (rounded down).
    pub duration_ms: u64,
}

/// Ground truth of a whole scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroundTruth {
    /// The seed used.
    pub seed: u64,
    /// RTP packets in the capture.
    pub rtp_packets: u64,
    /// RTCP packets in the capture.
    pub rtcp_packets: u64,
    /// Per SSRC, in the order of the configuration.
    pub streams: Vec<StreamTruth>,
}

/// One packet of the scenario, borrowed until the next call.
#[derive(Clone, Copy, Debug)]
pub struct ScenarioPacket<'a> {
    /// Capture time, ns since the Unix epoch.
    pub time_ns: i64,
    /// Index of the sending peer.
    pub peer: usize,
    /// Index of the stream (into [`GroundTruth::streams`]).
    pub stream: usize,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// SSRC of the stream.
    pub ssrc: u32,
    /// True for RTCP.
    pub rtcp: bool,
    /// The RTP or RTCP packet.
    pub data: &'a [u8],
}

#[derive(Debug, Default)]
struct Queued {
    time_ns: i64,
    ext_seq: u64,
    rtcp: bool,
    dup: bool,
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct StreamState {
    peer: usize,
    src: SocketAddr,
    dst: SocketAddr,
    pkt: Packetizer,
    rng: Rng,
    t0: i64,
    end: Option<i64>,
    ended: bool,
    queue: VecDeque<Queued>,
    last_time: i64,
    next_sr: i64,
    sent_packets: u32,
    sent_octets: u32,
    emitted_first: bool,
    min_seq: u64,
    max_seq: Option<u64>,
    unique: u64,
    /// The last frame was decodable (a key frame is needed when false).
    chain_ok: bool,
    truth: StreamTruth,
}

/// Generates a scenario packet by packet, in capture-time order.
#[derive(Debug)]
pub struct Scenario {
    cfg: ScenarioConfig,
    streams: Vec<StreamState>,
    pool: Vec<Vec<u8>>,
    frame_pkts: Vec<MediaPacket>,
    current: Queued,
    ip_id: u16,
    rtp_packets: u64,
    rtcp_packets: u64,
}

impl Scenario {
    /// Prepares the streams; nothing is generated until the first `next_*` call.
    pub fn new(cfg: ScenarioConfig) -> Self {
        let mut seeds = Rng::new(cfg.seed);
        let mut streams = Vec::new();
        for (pi, peer) in cfg.peers.iter().enumerate() {
            let t0 = cfg.start_ns + peer.start_offset_ns;
            let end = match (cfg.duration_ns, peer.duration_ns) {
                (Some(a), Some(b)) => Some((cfg.start_ns + a).min(t0 + b)),
                (Some(a), None) => Some(cfg.start_ns + a),
                (None, Some(b)) => Some(t0 + b),
                (None, None) => None,
            };
            let dst = peer.server.unwrap_or(cfg.server);
            for spec in &peer.streams {
                let truth = StreamTruth {
                    ssrc: spec.ssrc,
                    ssrc_hex: format!("0x{:08X}", spec.ssrc),
                    codec: spec.kind.name().to_string(),
                    pt: spec.pt,
                    clock_rate: spec.kind.clock_rate(),
                    peer: pi,
                    src: peer.addr.to_string(),
                    dst: dst.to_string(),
                    media: spec.encoded.as_ref().map(|e| FrameTruth {
                        first_ts: spec.first_ts,
                        length_ticks: e.length_ticks(),
                        duration_ms: e.length_ticks() * 1000 / u64::from(spec.kind.clock_rate()),
                        ..FrameTruth::default()
                    }),
                    ..StreamTruth::default()
                };
                // Streams of one peer start a few ms apart, as capture devices do.
                let t0 = t0 + seeds.below(15_000_000) as i64;
                streams.push(StreamState {
                    peer: pi,
                    src: peer.addr,
                    dst,
                    pkt: Packetizer::new(spec.clone(), seeds.next_u64()),
                    rng: seeds.fork(),
                    t0,
                    end,
                    ended: false,
                    queue: VecDeque::new(),
                    last_time: t0,
                    next_sr: t0 + cfg.rtcp_interval_ns.unwrap_or(0) / 2,
                    sent_packets: 0,
                    sent_octets: 0,
                    emitted_first: false,
                    min_seq: 0,
                    max_seq: None,
                    unique: 0,
                    chain_ok: false,
                    truth,
                });
            }
        }
        Scenario {
            cfg,
            streams,
            pool: Vec::new(),
            frame_pkts: Vec::new(),
            current: Queued::default(),
            ip_id: 0,
            rtp_packets: 0,
            rtcp_packets: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ScenarioConfig {
        &self.cfg
    }

    fn take_buf(pool: &mut Vec<Vec<u8>>) -> Vec<u8> {
        let mut b = pool.pop().unwrap_or_default();
        b.clear();
        b
    }

    /// Queues RTCP (SR + SDES compound) at `time`.
    fn queue_rtcp(s: &mut StreamState, pool: &mut Vec<Vec<u8>>, time: i64, bye: bool) {
        let spec = s.pkt.spec();
        let mut b = Self::take_buf(pool);
        let clock = i128::from(spec.kind.clock_rate());
        let elapsed = i128::from(time - s.t0);
        let rtp_ts = spec
            .first_ts
            .wrapping_add((elapsed * clock / 1_000_000_000) as u32);
        push_sender_report(
            &mut b,
            spec.ssrc,
            ntp_from_unix_nanos(time),
            rtp_ts,
            s.sent_packets,
            s.sent_octets,
            &[],
        );
        push_sdes_cname(&mut b, spec.ssrc, &spec.cname);
        if bye {
            push_bye(&mut b, &[spec.ssrc], None);
        }
        let time = time.max(s.last_time);
        s.last_time = time;
        s.queue.push_back(Queued {
            time_ns: time,
            ext_seq: u64::MAX,
            rtcp: true,
            dup: false,
            bytes: b,
        });
    }

    /// Generates frames until the queue holds enough look-ahead for reordering.
    fn fill(&mut self, i: usize) {
        let depth = self.cfg.impairment.reorder_depth.max(1);
        let imp = self.cfg.impairment;
        let rtcp = self.cfg.rtcp_interval_ns;
        let bye = self.cfg.bye_at_end;
        let s = &mut self.streams[i];
        while !s.ended && s.queue.len() <= depth {
            let n = s.pkt.frames();
            let nominal = s.t0 + s.pkt.spec().frame_time_ns(n);
            if s.end.is_some_and(|e| nominal >= e) || s.pkt.finished() {
                s.ended = true;
                if bye && rtcp.is_some() {
                    Self::queue_rtcp(s, &mut self.pool, nominal, true);
                    s.truth.rtcp_packets += 1;
                }
                break;
            }
            if let Some(iv) = rtcp.filter(|_| nominal >= s.next_sr) {
                let t = s.next_sr;
                s.next_sr += iv.max(1);
                Self::queue_rtcp(s, &mut self.pool, t, false);
                s.truth.rtcp_packets += 1;
            }
            let jitter = s.rng.below(1_000_000) as i64;
            self.frame_pkts.clear();
            s.pkt.next_frame(&mut self.pool, &mut self.frame_pkts);
            s.truth.frames += 1;
            let keyframe = self.frame_pkts.first().is_some_and(|p| p.keyframe);
            let mut complete = true;
            for p in self.frame_pkts.drain(..) {
                s.sent_packets = s.sent_packets.wrapping_add(1);
                s.sent_octets = s
                    .sent_octets
                    .wrapping_add(p.bytes.len().saturating_sub(12) as u32);
                s.truth.sent += 1;
                if p.ext_seq > 0 && s.rng.chance(imp.loss) {
                    s.truth.dropped += 1;
                    complete = false;
                    self.pool.push(p.bytes);
                    continue;
                }
                let time = (nominal + jitter + p.offset_ns).max(s.last_time);
                s.last_time = time;
                s.queue.push_back(Queued {
                    time_ns: time,
                    ext_seq: p.ext_seq,
                    rtcp: false,
                    dup: false,
                    bytes: p.bytes,
                });
            }
            if let Some(m) = &mut s.truth.media {
                let decodable = complete && (keyframe || s.chain_ok);
                s.chain_ok = decodable;
                m.keyframes += u64::from(keyframe);
                m.frames_complete += u64::from(complete);
                m.frames_decodable += u64::from(decodable);
                if !decodable {
                    m.undecodable.push(n);
                }
            }
        }
    }

    /// Pops stream `i`'s next packet into `self.current`, applying reorder and duplication.
    fn pop(&mut self, i: usize) {
        let imp = self.cfg.impairment;
        let s = &mut self.streams[i];
        let Some(head) = s.queue.front() else { return };
        if !head.rtcp && !head.dup && s.emitted_first && s.rng.chance(imp.reorder) {
            let reach = imp.reorder_depth.max(1).min(s.queue.len() - 1);
            if reach > 0 {
                let j = 1 + s.rng.below(reach as u64) as usize;
                if !s.queue[j].rtcp && !s.queue[j].dup {
                    // Contents move, capture times stay in order.
                    s.queue.swap(0, j);
                    let t = s.queue[0].time_ns;
                    s.queue[0].time_ns = s.queue[j].time_ns;
                    s.queue[j].time_ns = t;
                    s.truth.reorder_swaps += 1;
                }
            }
        }
        let q = s.queue.pop_front().expect("front() was Some above");
        if !q.rtcp && !q.dup && s.rng.chance(imp.duplicate) {
            let mut copy = Self::take_buf(&mut self.pool);
            copy.extend_from_slice(&q.bytes);
            s.queue.push_front(Queued {
                time_ns: q.time_ns,
                ext_seq: q.ext_seq,
                rtcp: false,
                dup: true,
                bytes: copy,
            });
        }
        if q.rtcp {
            self.rtcp_packets += 1;
        } else {
            self.rtp_packets += 1;
            s.emitted_first = true;
            let t = &mut s.truth;
            t.packets += 1;
            t.rtp_bytes += q.bytes.len() as u64;
            if q.dup {
                t.duplicates += 1;
            } else {
                s.unique += 1;
                match s.max_seq {
                    None => {
                        s.min_seq = q.ext_seq;
                        s.max_seq = Some(q.ext_seq);
                    }
                    Some(m) => {
                        if q.ext_seq < m {
                            t.reordered += 1;
                        }
                        s.max_seq = Some(m.max(q.ext_seq));
                        s.min_seq = s.min_seq.min(q.ext_seq);
                    }
                }
            }
        }
        let old = std::mem::replace(&mut self.current, q);
        if !old.bytes.is_empty() || old.bytes.capacity() > 0 {
            self.pool.push(old.bytes);
        }
    }

    /// The next packet in capture-time order, or `None` when every stream has ended.
    pub fn next_packet(&mut self) -> Option<ScenarioPacket<'_>> {
        let mut best: Option<(i64, usize)> = None;
        for i in 0..self.streams.len() {
            if self.streams[i].queue.len() <= self.cfg.impairment.reorder_depth.max(1) {
                self.fill(i);
            }
            if let Some(h) = self.streams[i]
                .queue
                .front()
                .filter(|h| best.is_none_or(|(t, _)| h.time_ns < t))
            {
                best = Some((h.time_ns, i));
            }
        }
        let (_, i) = best?;
        self.pop(i);
        let s = &self.streams[i];
        Some(ScenarioPacket {
            time_ns: self.current.time_ns,
            peer: s.peer,
            stream: i,
            src: s.src,
            dst: s.dst,
            ssrc: s.pkt.spec().ssrc,
            rtcp: self.current.rtcp,
            data: &self.current.bytes,
        })
    }

    /// The next packet as a UDP link-layer frame (the configured link) appended to `out`; returns its time.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> Option<i64> {
        let link = self.cfg.link;
        self.ip_id = self.ip_id.wrapping_add(1);
        let id = self.ip_id;
        let p = self.next_packet()?;
        let time = p.time_ns;
        udp_frame(out, link, p.src, p.dst, id, p.data)
            .expect("scenario peers and server share an IP version");
        Some(time)
    }

    /// What has been generated so far, counted as a receiver sees it.
    pub fn truth(&self) -> GroundTruth {
        let streams = self
            .streams
            .iter()
            .map(|s| {
                let mut t = s.truth.clone();
                let first = s.pkt.spec().first_seq;
                if let Some(max) = s.max_seq {
                    t.lost = (max - s.min_seq + 1) - s.unique;
                    t.first_seq = first.wrapping_add(s.min_seq as u16);
                    t.last_seq = first.wrapping_add(max as u16);
                }
                t
            })
            .collect();
        GroundTruth {
            seed: self.cfg.seed,
            rtp_packets: self.rtp_packets,
            rtcp_packets: self.rtcp_packets,
            streams,
        }
    }
}

impl Iterator for Scenario {
    /// (capture time, link-layer frame).
    type Item = (i64, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut out = Vec::new();
        let t = self.next_frame(&mut out)?;
        Some((t, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(cfg: ScenarioConfig) -> (Vec<(i64, Vec<u8>)>, GroundTruth) {
        let mut s = Scenario::new(cfg);
        let frames: Vec<_> = s.by_ref().collect();
        (frames, s.truth())
    }

    #[test]
    fn same_seed_same_bytes_different_seed_different_bytes() {
        let cfg = ScenarioConfig::conference(2, 2.0, 42);
        let (a, ta) = run(cfg.clone());
        let (b, tb) = run(cfg);
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        let (c, _) = run(ScenarioConfig::conference(2, 2.0, 43));
        assert_ne!(a, c);
    }

    #[test]
    fn clean_scenario_counts() {
        let (frames, t) = run(ScenarioConfig::conference(2, 2.0, 1));
        assert_eq!(t.streams.len(), 4);
        assert!(
            frames.windows(2).all(|w| w[0].0 <= w[1].0),
            "capture time never goes back"
        );
        assert_eq!(frames.len() as u64, t.rtp_packets + t.rtcp_packets);
        for s in &t.streams {
            assert_eq!((s.lost, s.duplicates, s.reordered, s.dropped), (0, 0, 0, 0));
            assert_eq!(s.packets, s.sent);
            assert_eq!(s.last_seq.wrapping_sub(s.first_seq) as u64 + 1, s.packets);
            assert!(s.rtcp_packets >= 2, "SR each second plus BYE");
        }
        // Peer 0's mic: 2 s of 20 ms packets.
        assert_eq!(t.streams[0].packets, 100);
    }

    /// Re-derives the truth from the raw packets, as an analyser would.
    #[test]
    fn impaired_truth_matches_independent_count() {
        let mut cfg = ScenarioConfig::conference(2, 5.0, 7);
        cfg.impairment = Impairment {
            loss: 0.05,
            duplicate: 0.03,
            reorder: 0.05,
            reorder_depth: 3,
        };
        let mut s = Scenario::new(cfg);
        #[derive(Default)]
        struct Seen {
            seqs: Vec<u64>,
        }
        let mut seen: HashMap<u32, Seen> = HashMap::new();
        let mut base: HashMap<u32, u16> = HashMap::new();
        while let Some(p) = s.next_packet() {
            if p.rtcp {
                continue;
            }
            let r = rtp_rs::RtpReader::new(p.data).unwrap();
            let seq = u16::from(r.sequence_number());
            let b = *base.entry(p.ssrc).or_insert(seq);
            // Extension is safe here: no stream wraps 65536 in 5 s.
            seen.entry(p.ssrc)
                .or_default()
                .seqs
                .push(u64::from(seq.wrapping_sub(b)));
        }
        let t = s.truth();
        let mut any = (0, 0, 0);
        for st in &t.streams {
            let v = &seen[&st.ssrc].seqs;
            let mut uniq = std::collections::HashSet::new();
            let (mut dups, mut late, mut max) = (0, 0, 0);
            for &q in v {
                if !uniq.insert(q) {
                    dups += 1;
                    continue;
                }
                if q < max {
                    late += 1;
                }
                max = max.max(q);
            }
            let span = uniq.iter().max().unwrap() - uniq.iter().min().unwrap() + 1;
            assert_eq!(st.packets, v.len() as u64);
            assert_eq!(st.duplicates, dups);
            assert_eq!(st.reordered, late);
            assert_eq!(st.lost, span - uniq.len() as u64);
            assert_eq!(
                *uniq.iter().min().unwrap(),
                0,
                "first packet is never lost or moved"
            );
            any = (any.0 + st.lost, any.1 + st.duplicates, any.2 + st.reordered);
        }
        assert!(any.0 > 0 && any.1 > 0 && any.2 > 0, "{any:?}");
    }

    #[test]
    fn rtcp_sr_is_consistent_with_media_clock() {
        let mut s = Scenario::new(ScenarioConfig::conference(1, 3.0, 5));
        let spec_first_ts = s.config().peers[0].streams[0].first_ts;
        let mut first_media: Option<(i64, u32)> = None;
        while let Some(p) = s.next_packet() {
            if p.stream != 0 {
                continue;
            }
            if !p.rtcp && first_media.is_none() {
                let r = rtp_rs::RtpReader::new(p.data).unwrap();
                assert_eq!(r.timestamp(), spec_first_ts);
                first_media = Some((p.time_ns, r.timestamp()));
            }
            if p.rtcp && p.data[1] == 200 {
                let ntp = u64::from_be_bytes(p.data[8..16].try_into().unwrap());
                let rtp = u32::from_be_bytes(p.data[16..20].try_into().unwrap());
                let (t_media, ts_media) = first_media.unwrap();
                let secs = (ntp >> 32) as i64 - 2_208_988_800;
                let ns = secs * 1_000_000_000
                    + (((ntp & 0xffff_ffff) as i128 * 1_000_000_000) >> 32) as i64;
                let expect = (ns - t_media) as f64 * 48_000.0 / 1e9;
                let got = rtp.wrapping_sub(ts_media) as f64;
                // Within the 1 ms of send jitter of the first packet (48 ticks).
                assert!((expect - got).abs() <= 49.0, "expect {expect} got {got}");
            }
        }
    }

    /// Frame truth of an encoded stream agrees with rtprec's VP8 depacketizer fed the received packets.
    #[test]
    fn encoded_frame_truth_matches_depacketizer() {
        use crate::testutil::encoded::{EncodedCodec, EncodedFrame, EncodedStream};
        let frames = (0..90u32)
            .map(|i| {
                let key = i % 30 == 0;
                let mut data = if key {
                    vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]
                } else {
                    vec![0x11, 0x00, 0x00]
                };
                data.resize(if key { 4000 } else { 1500 }, i as u8);
                EncodedFrame {
                    offset: i * 3000,
                    duration: 3000,
                    keyframe: key,
                    data,
                }
            })
            .collect();
        let media = std::sync::Arc::new(EncodedStream {
            codec: EncodedCodec::Vp8,
            dimensions: Some((320, 240)),
            frames,
        });
        let mut cfg = ScenarioConfig::conference(1, 0.0, 9);
        cfg.peers[0].streams = vec![StreamSpec::from_encoded(media, 0x1234)];
        cfg.impairment = Impairment {
            loss: 0.05,
            duplicate: 0.05,
            reorder: 0.05,
            reorder_depth: 3,
        };
        let first_seq = cfg.peers[0].streams[0].first_seq;
        let mut s = Scenario::new(cfg);
        let mut pkts = std::collections::BTreeMap::new();
        while let Some(p) = s.next_packet() {
            if !p.rtcp {
                let r = rtp_rs::RtpReader::new(p.data).unwrap();
                let seq = u16::from(r.sequence_number()).wrapping_sub(first_seq);
                pkts.insert(seq, (r.timestamp(), r.mark(), r.payload().to_vec()));
            }
        }
        let t = s.truth();
        let m = t.streams[0].media.clone().unwrap();
        let mut d = crate::depack::Depacketizer::new(crate::codec::Codec::Vp8).unwrap();
        let mut got = Vec::new();
        for (seq, (ts, marker, payload)) in &pkts {
            d.push(crate::media::RtpIn {
                seq: u64::from(*seq),
                ts: u64::from(ts.wrapping_sub(m.first_ts)),
                marker: *marker,
                payload,
            })
            .unwrap();
            got.extend(std::iter::from_fn(|| d.pull()));
        }
        d.flush();
        got.extend(std::iter::from_fn(|| d.pull()));
        let want: Vec<u64> = (0..90)
            .filter(|i| !m.undecodable.contains(i))
            .map(|i| i * 3000)
            .collect();
        let got: Vec<u64> = got.iter().map(|f| f.ts).collect();
        assert_eq!(got, want);
        assert_eq!(m.frames_decodable, want.len() as u64);
        assert_eq!(m.keyframes, 3);
        assert!(
            m.frames_complete < 90 && m.frames_decodable < m.frames_complete,
            "{m:?}"
        );
        assert_eq!((m.length_ticks, m.duration_ms), (270_000, 3000));
    }

    #[test]
    fn ipv6_and_endless_scenarios() {
        let mut cfg = ScenarioConfig::conference(1, 0.0, 3);
        cfg.use_ipv6();
        cfg.link = LinkKind::Sll2;
        let mut s = Scenario::new(cfg);
        let mut buf = Vec::new();
        for _ in 0..5000 {
            buf.clear();
            s.next_frame(&mut buf).expect("endless");
            assert_eq!(buf[20] >> 4, 6);
        }
    }
}
