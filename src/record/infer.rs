//! Without metadata: what an unidentified stream is. Its first packets are
//! buffered while the codec is guessed; it may turn out to be a track, the
//! retransmission (RTX) or FEC stream of a track, or not RTP at all.

use crate::codec::{CodecGuess, CodecGuesser};
use crate::net::{Datagram, Flow};
use crate::rtp::{RtpPacket, Ssrc};
use crate::time::CaptureTime;
use crate::track::Arrival;
use crate::track::fec::{FecScheme, parse_flexfec, parse_flexfec03, parse_ulpfec};
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

/// Packets an unidentified stream may buffer while its codec is guessed.
pub const PENDING_PACKETS: usize = 96;
/// Capture time an unidentified stream may buffer while its codec is guessed.
pub const PENDING_NANOS: i64 = 3_000_000_000;
/// Unidentified streams buffered at once. A session has tens of streams, a busy
/// SBC capture a few thousand; a one-packet stream costs about 2 KiB, so 4,096 of
/// them stay under 10 MiB whatever a hostile capture holds (#13). At the cap,
/// one-packet streams are forgotten first; if none is, the new stream is dropped.
pub const MAX_PENDING_STREAMS: usize = 4096;
/// Bytes all unidentified streams may buffer (payload and raw copies): 32 MiB is
/// 96 packets of about 1,200 bytes for 145 video streams at once, while 20,000
/// jumbo datagrams of 65 KB each would otherwise be held twice over (2.6 GB, #13).
/// At the cap, one-packet streams are forgotten, then the largest are decided early.
pub const MAX_PENDING_BYTES: usize = 32 << 20;

/// A stream seen without metadata, buffered until it is identified.
pub struct Pending {
    /// Its 5-tuple.
    pub flow: Flow,
    /// Its SSRC.
    pub ssrc: Ssrc,
    /// Capture time of its first packet.
    pub first_time: CaptureTime,
    /// Its packets so far.
    pub packets: Vec<Arrival>,
    /// The plain RTP bytes of `packets`: FEC needs them if the stream turns out to carry it.
    pub raws: Vec<Vec<u8>>,
    /// The path each of `packets` took.
    pub flows: Vec<Flow>,
    /// SSRCs the packets name where a FlexFEC packet names what it protects (the
    /// CSRC list; draft 03: the FEC header), with counts; at most four kept.
    named: BTreeMap<u32, u32>,
    /// Boxed: a BTreeMap node holds room for 11 values and a guesser is large;
    /// unboxed, each one-packet stream waiting here would cost several KiB.
    guessers: BTreeMap<u8, Box<CodecGuesser>>,
    /// Bytes buffered in `packets` and `raws` (for [`MAX_PENDING_BYTES`]).
    bytes: usize,
    last_seq: Option<u16>,
    good_steps: u64,
    total: u64,
    /// Packets with a payload.
    media: u64,
    /// Packets that carried only padding (RFC 3550 §5.1), e.g. bandwidth probes.
    padding: u64,
    /// The pending stream this one retransmits (RFC 4588), found when it ripened:
    /// it waits for that media to be decided, which takes it along.
    pub waits_for: Option<Ssrc>,
}

/// What a track looks like to inference: enough to match a repair stream to it.
#[derive(Clone, Copy, Debug)]
pub struct TrackView<'a> {
    /// The track's index.
    pub index: usize,
    /// Source address of the track's 5-tuple (inferred tracks).
    pub src_ip: Option<IpAddr>,
    /// The track's SSRC.
    pub ssrc: Option<u32>,
    /// Its latest sequence number.
    pub last_seq16: Option<u16>,
    /// Its recent packets (inferred tracks), which retransmissions repeat.
    pub sent: Option<&'a SentPackets>,
}

/// Slots of [`SentPackets`]: 256 packets are 2.5 s of a 100-packet-per-second
/// camera, longer than a retransmission is worth (it must arrive within a
/// round trip or two of the loss to fill a gap), for 4 KiB per inferred track.
const SENT_SLOTS: usize = 256;

/// A media stream's recent packets, by sequence number: a fingerprint of the
/// timestamp and payload of each, so that a retransmission (RFC 4588 §4: the
/// original timestamp; the original sequence number and the original payload in
/// its payload) can be recognised as repeating one of them.
#[derive(Clone, Debug)]
pub struct SentPackets {
    slots: Box<[Option<(u16, u64)>]>,
}

impl Default for SentPackets {
    fn default() -> Self {
        SentPackets {
            slots: vec![None; SENT_SLOTS].into_boxed_slice(),
        }
    }
}

impl SentPackets {
    /// The recent packets among `packets` (padding-only ones are skipped).
    pub fn of(packets: &[Arrival]) -> SentPackets {
        let mut s = SentPackets::default();
        for a in packets {
            s.record(a);
        }
        s
    }

    /// Notes a packet of the media stream (one that carried only padding is not
    /// retransmitted with its payload and is skipped).
    pub fn record(&mut self, a: &Arrival) {
        if a.payload.is_empty() {
            return;
        }
        let fp = crate::rtp::seq::fingerprint(a.ts32, &a.payload);
        self.slots[usize::from(a.seq16) % SENT_SLOTS] = Some((a.seq16, fp));
    }

    /// The fingerprint of packet `seq`, if it is still remembered.
    fn get(&self, seq: u16) -> Option<u64> {
        match self.slots[usize::from(seq) % SENT_SLOTS] {
            Some((s, fp)) if s == seq => Some(fp),
            _ => None,
        }
    }
}

/// How the packets of a stream read as retransmissions of one media stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RtxEvidence {
    /// Packets with an OSN and a payload (padding-only probes take no part).
    packets: usize,
    /// Packets that repeat a remembered media packet: its sequence number is the
    /// OSN, its timestamp and payload are the RTX packet's (RFC 4588 §4).
    repeats: usize,
    /// Packets whose OSN the media sent at most 1000 packets ago (lost, or no
    /// longer remembered) or that repeat it.
    near: usize,
}

impl RtxEvidence {
    /// RFC 4588 structure: at least one packet repeats a media packet exactly,
    /// and (nearly) all name packets the media sent recently.
    fn structural(&self) -> bool {
        self.repeats >= 1 && self.near * 5 >= self.packets * 4
    }
}

impl Pending {
    /// A new stream starting with the packet in `d`.
    pub fn new(d: &Datagram<'_>, ssrc: Ssrc) -> Pending {
        Pending {
            flow: d.flow,
            ssrc,
            first_time: d.meta.time,
            packets: Vec::new(),
            raws: Vec::new(),
            flows: Vec::new(),
            named: BTreeMap::new(),
            guessers: BTreeMap::new(),
            bytes: 0,
            last_seq: None,
            good_steps: 0,
            total: 0,
            media: 0,
            padding: 0,
            waits_for: None,
        }
    }

    /// Buffers one packet that took `flow`; `raw` is its plain RTP bytes.
    pub fn push(&mut self, pkt: &RtpPacket<'_>, arrival: Arrival, raw: &[u8], flow: Flow) {
        self.flows.push(flow);
        self.total += 1;
        if let Some(prev) = self.last_seq
            && crate::rtp::seq::is_forward_step(prev, arrival.seq16)
        {
            self.good_steps += 1;
        }
        self.last_seq = Some(arrival.seq16);
        if arrival.payload.is_empty() {
            // Padding only (RFC 3550 §5.1: P bit, nothing left once the padding is
            // removed): bandwidth probes, on the media SSRC or on SSRC 0. They say nothing
            // about the codec, and repeat the last media timestamp, which would make audio
            // look like video. Before any media they are not kept: the track starts at its
            // first media packet. After it, they are kept for their sequence numbers.
            self.padding += 1;
            if self.media > 0 {
                self.bytes += arrival.payload.len() + raw.len();
                self.packets.push(arrival);
                self.raws.push(raw.to_vec());
            }
            return;
        }
        if self.media == 0 {
            self.first_time = arrival.time;
        }
        self.media += 1;
        self.guessers
            .entry(arrival.pt)
            .or_insert_with(|| Box::new(CodecGuesser::new(arrival.pt)))
            .push_at(
                arrival.marker,
                arrival.ts32,
                &arrival.payload,
                arrival.time.as_nanos(),
            );
        for ssrc in flexfec_named_ssrcs(pkt) {
            if let Some(n) = self.named.get_mut(&ssrc) {
                *n += 1;
            } else if self.named.len() < 4 {
                self.named.insert(ssrc, 1);
            }
        }
        self.bytes += arrival.payload.len() + raw.len();
        self.packets.push(arrival);
        self.raws.push(raw.to_vec());
    }

    /// Bytes buffered (payload and raw copies of its packets).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Packets seen so far, padding-only ones included: a stream of one packet
    /// is the cheapest to forget at the cap (a real one loses only that packet).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// True when enough is buffered (or enough time passed since the first media
    /// packet) to decide. Never while only padding arrived: such a stream is not a
    /// track unless media follows (the end of the input decides it as [`Pending::padding_only`]).
    pub fn ripe(&self, now: CaptureTime) -> bool {
        self.media > 0
            && (self.packets.len() >= PENDING_PACKETS
                || now.nanos_since(self.first_time) >= PENDING_NANOS)
    }

    /// True when every packet so far carried only padding (bandwidth probes): not a
    /// track; [`Pending::guess`] is `None` for it.
    pub fn padding_only(&self) -> bool {
        self.media == 0 && self.padding > 0
    }

    /// True when the stream behaves like RTP: most sequence steps are small and forward.
    pub fn confirmed(&self) -> bool {
        crate::rtp::seq::looks_like_rtp(self.total, self.good_steps)
    }

    /// True when the stream should be decided now rather than when ripe:
    /// retransmissions must reach their track while the gap is still open, so an
    /// RTX stream is recognised from its first few packets, not after seconds.
    pub fn early_rtx_candidate(&self) -> bool {
        (2..=8).contains(&self.packets.len()) && self.confirmed()
    }

    /// The dominant payload type (by packets with a payload), its guessed codec, and
    /// whether its timing looks like video; `None` when no packet had a payload.
    pub fn guess(&self) -> Option<(u8, CodecGuess, bool)> {
        let (pt, g) = self
            .guessers
            .iter()
            .max_by_key(|(pt, g)| (g.packets(), std::cmp::Reverse(**pt)))?;
        Some((*pt, g.guess(), g.looks_like_video()))
    }

    fn guessed_codec(&self) -> bool {
        self.guess().is_some_and(|(_, g, _)| g.codec.is_some())
    }

    /// The track this stream retransmits (RFC 4588), if any.
    ///
    /// An RTX stream shares its media's 5-tuple under BUNDLE (or at least its
    /// source address). RFC 4588 §4: an RTX packet's payload is the original
    /// sequence number (OSN, 2 bytes) then the original payload, and its timestamp
    /// is the original's. Recognised either way:
    ///
    /// - structurally: a packet repeats one the media sent (same sequence number
    ///   as its OSN, same timestamp and payload) and nearly all OSNs are packets
    ///   the media sent recently. Whatever the payload after the OSN looks like (a
    ///   codec may be guessed from it: it is the media's own payload, shifted), and
    ///   however often the same packet is repeated (libwebrtc, in Firefox too, sends
    ///   recent packets again on the RTX stream as bandwidth probes);
    /// - by sequence numbers alone, when the media's packets are not remembered (a
    ///   track with metadata, or only lost packets repeated): different OSNs (a
    ///   constant, like a payload descriptor's first bytes, is not a sequence
    ///   number) close behind the media's latest, of a stream whose own payload
    ///   format rtprec could not recognise.
    ///
    /// Padding-only packets (RFC 3550 §5.1; probes on the RTX SSRC) have no OSN and
    /// take no part.
    pub fn rtx_target(&self, tracks: &[TrackView<'_>]) -> Option<usize> {
        let candidates = tracks
            .iter()
            .filter(|t| t.src_ip == Some(self.flow.src.ip()) && t.ssrc != Some(self.ssrc.0));
        let best = candidates
            .clone()
            .map(|t| (t.index, self.rtx_evidence(t.sent, t.last_seq16)))
            .filter(|(_, e)| e.structural())
            .max_by_key(|&(i, e)| (e.repeats, e.near, std::cmp::Reverse(i)));
        if let Some((idx, _)) = best {
            return Some(idx);
        }
        let osns = self.osns().map(|(o, _)| o).collect::<Vec<u16>>();
        let mut distinct = osns.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if osns.len() < 2 || distinct.len() * 5 < osns.len() * 4 || self.guessed_codec() {
            return None;
        }
        let (idx, e) = candidates
            .map(|t| (t.index, self.rtx_evidence(None, t.last_seq16)))
            .max_by_key(|&(i, e)| (e.near, std::cmp::Reverse(i)))?;
        (e.near * 5 >= e.packets * 4).then_some(idx)
    }

    /// The (OSN, timestamp) of each of its packets read as a retransmission: a
    /// cheap first test of [`Pending::retransmits`] against many streams.
    pub fn rtx_keys(&self) -> HashSet<(u16, u32)> {
        self.packets
            .iter()
            .filter(|a| a.payload.len() > 2)
            .map(|a| (u16::from_be_bytes([a.payload[0], a.payload[1]]), a.ts32))
            .collect()
    }

    /// True when this stream's packets are, structurally, retransmissions of
    /// `media`'s (a stream still pending too): see [`Pending::rtx_target`].
    /// `keys` are this stream's [`Pending::rtx_keys`].
    pub fn retransmits(&self, media: &Pending, keys: &HashSet<(u16, u32)>) -> bool {
        if media.ssrc == self.ssrc
            || media.flow.src.ip() != self.flow.src.ip()
            || media.media == 0
            || !media
                .packets
                .iter()
                .any(|a| keys.contains(&(a.seq16, a.ts32)))
        {
            return false;
        }
        let sent = SentPackets::of(&media.packets);
        let last = media.packets.last().map(|a| a.seq16);
        self.rtx_evidence(Some(&sent), last).structural()
    }

    /// OSN and fingerprint of the original (its timestamp and payload) of each
    /// packet that has a payload after the OSN.
    fn osns(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.packets
            .iter()
            .filter(|a| a.payload.len() > 2)
            .map(|a| {
                let osn = u16::from_be_bytes([a.payload[0], a.payload[1]]);
                (osn, crate::rtp::seq::fingerprint(a.ts32, &a.payload[2..]))
            })
    }

    fn rtx_evidence(&self, sent: Option<&SentPackets>, last: Option<u16>) -> RtxEvidence {
        let mut e = RtxEvidence::default();
        for (osn, fp) in self.osns() {
            e.packets += 1;
            let remembered = sent.and_then(|s| s.get(osn));
            if remembered == Some(fp) {
                e.repeats += 1;
                e.near += 1;
            } else if remembered.is_none() && last.is_some_and(|l| l.wrapping_sub(osn) <= 1000) {
                // Packets already sent: at most 1000 behind the media's latest.
                e.near += 1;
            }
        }
        e
    }

    /// The track a FlexFEC stream protects (its CSRC list, or for draft 03 its
    /// FEC header, names the track's SSRC) and the format.
    pub fn fec_owner(&self, tracks: &[TrackView<'_>]) -> Option<(usize, FecScheme)> {
        // Only an SSRC (nearly) every packet names can be the one protected; the
        // full parse runs for tracks with that SSRC only.
        let total = u32::try_from(self.raws.len()).unwrap_or(u32::MAX);
        let named = self
            .named
            .iter()
            .filter(|(_, n)| **n >= 2 && u64::from(**n) * 10 >= u64::from(total) * 9)
            .map(|(ssrc, _)| *ssrc);
        named.into_iter().find_map(|ssrc: u32| {
            let t = tracks
                .iter()
                .find(|t| t.ssrc == Some(ssrc) && t.src_ip == Some(self.flow.src.ip()))?;
            if ssrc == self.ssrc.0 {
                return None;
            }
            let share = |parse: fn(&[u8], u32) -> Result<_, _>| {
                let ok = self.raws.iter().filter(|r| parse(r, ssrc).is_ok()).count();
                ok * 10 >= self.raws.len() * 9 && ok >= 2
            };
            if share(parse_flexfec) {
                Some((t.index, FecScheme::Flexfec))
            } else if share(parse_flexfec03) {
                Some((t.index, FecScheme::Flexfec03))
            } else {
                None
            }
        })
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

/// A payload type of a stream, other than its media and RED, whose packets
/// all parse as ULPFEC (RFC 5109) protecting sequence numbers just behind
/// their own: in-band repair data.
pub fn inband_ulpfec(packets: &[Arrival], media_pt: u8, red_pt: Option<u8>) -> Option<u8> {
    let mut by_pt: BTreeMap<u8, (usize, usize)> = BTreeMap::new();
    for a in packets
        .iter()
        .filter(|a| a.pt != media_pt && Some(a.pt) != red_pt)
    {
        let ok = parse_ulpfec(&a.payload).is_ok_and(|r| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram<'a>(payload: &'a [u8], src: &str, nanos: i64) -> Datagram<'a> {
        Datagram::for_test(
            payload,
            src,
            "10.0.0.2:6000",
            CaptureTime::from_nanos(nanos),
        )
    }

    fn rtp(ssrc: u32, pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, pt];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn feed(p: &mut Pending, raw: &[u8], src: &str, nanos: i64) {
        let d = datagram(raw, src, nanos);
        let pkt = RtpPacket::parse(raw).expect("parses");
        p.push(&pkt, Arrival::from_rtp(&pkt, d.meta.time), raw, d.flow);
    }

    fn pending_of(packets: &[Vec<u8>], src: &str) -> Pending {
        let first = datagram(&packets[0], src, 0);
        let ssrc = RtpPacket::parse(&packets[0]).expect("parses").ssrc();
        let mut p = Pending::new(&first, ssrc);
        for (i, raw) in packets.iter().enumerate() {
            feed(&mut p, raw, src, i as i64 * 20_000_000);
        }
        p
    }

    #[test]
    fn random_sequence_numbers_are_not_rtp() {
        let packets: Vec<Vec<u8>> = [5u16, 40_000, 9, 61_000, 300]
            .iter()
            .map(|&s| rtp(1, 96, s, &[0; 20]))
            .collect();
        assert!(!pending_of(&packets, "10.0.0.1:5000").confirmed());
        let steady: Vec<Vec<u8>> = (100u16..105).map(|s| rtp(1, 96, s, &[0; 20])).collect();
        assert!(pending_of(&steady, "10.0.0.1:5000").confirmed());
    }

    #[test]
    fn a_stream_ripens_by_count_or_by_time() {
        let p = pending_of(&[rtp(1, 96, 1, &[0; 4])], "10.0.0.1:5000");
        assert!(!p.ripe(CaptureTime::from_nanos(PENDING_NANOS - 1)));
        assert!(p.ripe(CaptureTime::from_nanos(PENDING_NANOS)));
    }

    #[test]
    fn retransmissions_name_the_media_they_repeat() {
        // OSNs 1000, 1003, 1007: packets just behind the media's latest (1010).
        let rtx: Vec<Vec<u8>> = [1000u16, 1003, 1007]
            .iter()
            .enumerate()
            .map(|(i, osn)| {
                let mut payload = osn.to_be_bytes().to_vec();
                payload.extend_from_slice(&[0xA5; 30]);
                rtp(2, 97, 50 + i as u16, &payload)
            })
            .collect();
        let p = pending_of(&rtx, "10.0.0.1:5000");
        let media = TrackView {
            index: 3,
            src_ip: Some("10.0.0.1".parse().expect("ip")),
            ssrc: Some(1),
            last_seq16: Some(1010),
            sent: None,
        };
        assert_eq!(p.rtx_target(&[media]), Some(3));
        // Another source address is another peer's: not its retransmissions.
        let elsewhere = TrackView {
            src_ip: Some("10.0.0.9".parse().expect("ip")),
            ..media
        };
        assert_eq!(p.rtx_target(&[elsewhere]), None);
        // Far ahead of what the media has sent: not retransmissions.
        let behind = TrackView {
            last_seq16: Some(10),
            ..media
        };
        assert_eq!(p.rtx_target(&[behind]), None);
    }

    /// Media packets of SSRC 1 (PT 122: VP8 in RED, primary only) with sequence
    /// numbers `seqs`; the timestamp follows the sequence number.
    fn red_media(seqs: std::ops::Range<u16>) -> Vec<Vec<u8>> {
        seqs.map(|s| {
            let mut payload = vec![120, 0x90, 0x80, (s >> 8) as u8, s as u8];
            payload.extend(std::iter::repeat_n(s as u8, 40));
            rtp(1, 122, s, &payload)
        })
        .collect()
    }

    /// The RTX packet (RFC 4588 §4) of `original` on SSRC 2, PT 119: its
    /// timestamp, then OSN + the original payload.
    fn rtx_of(original: &[u8], seq: u16) -> Vec<u8> {
        let osn = [original[2], original[3]];
        let mut p = rtp(2, 119, seq, &[osn.as_slice(), &original[12..]].concat());
        p[4..8].copy_from_slice(&original[4..8]);
        p
    }

    fn view_of<'a>(media: &Pending, sent: &'a SentPackets) -> TrackView<'a> {
        TrackView {
            index: 0,
            src_ip: Some(media.flow.src.ip()),
            ssrc: Some(media.ssrc.0),
            last_seq16: media.packets.last().map(|a| a.seq16),
            sent: Some(sent),
        }
    }

    /// Firefox repeats one recent packet on the RTX stream again and again (libwebrtc's
    /// payload padding): a single OSN, which sequence numbers alone cannot tell from a
    /// constant payload byte; repeating a packet the media sent (same sequence
    /// number, timestamp and payload) does.
    #[test]
    fn retransmissions_repeating_one_packet_are_recognised_by_its_content() {
        let media_raw = red_media(1000..1040);
        let media = pending_of(&media_raw, "10.0.0.1:5000");
        let rtx: Vec<Vec<u8>> = (0..12u16).map(|i| rtx_of(&media_raw[1], 300 + i)).collect();
        let p = pending_of(&rtx, "10.0.0.1:5000");
        let sent = SentPackets::of(&media.packets);
        let view = view_of(&media, &sent);
        assert_eq!(p.rtx_target(&[view]), Some(0));
        assert!(p.retransmits(&media, &p.rtx_keys()));
        // Without the media's packets: one OSN twelve times is not a sequence number.
        let blind = TrackView { sent: None, ..view };
        assert_eq!(p.rtx_target(&[blind]), None);
        // The same OSN with another payload or timestamp repeats nothing the media sent.
        let forged: Vec<Vec<u8>> = rtx
            .iter()
            .map(|r| {
                let mut r = r.clone();
                let last = r.len() - 1;
                r[last] ^= 0xff;
                r
            })
            .collect();
        let f = pending_of(&forged, "10.0.0.1:5000");
        assert_eq!(f.rtx_target(&[view]), None);
        assert!(!f.retransmits(&media, &f.rtx_keys()));
        // From another address: another peer's stream.
        let elsewhere = pending_of(&rtx, "10.0.0.7:5000");
        assert!(!elsewhere.retransmits(&media, &elsewhere.rtx_keys()));
        assert_eq!(elsewhere.rtx_target(&[view]), None);
    }

    /// An RTX stream's padding-only probes (Firefox: PT 124, the RTX format of VP8;
    /// libwebrtc: the RTX PT) take no part: with retransmissions among them the stream
    /// is still the media's RTX; made of probes alone it is nothing.
    #[test]
    fn padding_probes_on_an_rtx_stream_take_no_part() {
        // Packets 2010-2014 were lost: the RTX stream repeats them, and 2020 once more.
        let media_raw = red_media(2000..2030);
        let arrived: Vec<Vec<u8>> = media_raw
            .iter()
            .enumerate()
            .filter(|(i, _)| !(10..15).contains(i))
            .map(|(_, r)| r.clone())
            .collect();
        let media = pending_of(&arrived, "10.0.0.1:5000");
        let sent = SentPackets::of(&media.packets);
        let view = view_of(&media, &sent);
        let mut raws = Vec::new();
        let mut seq = 10u16;
        for i in 0..6u16 {
            for _ in 0..3 {
                let mut pr = probe(2, seq, 255);
                pr[1] = 124;
                raws.push(pr);
                seq += 1;
            }
            // Lost packets (not in the media's buffer) and one it did send.
            let original = &media_raw[if i == 5 { 20 } else { 10 + usize::from(i) }];
            raws.push(rtx_of(original, seq));
            seq += 1;
        }
        let p = pending_of(&raws, "10.0.0.1:5000");
        assert_eq!(p.rtx_target(&[view]), Some(0));
        let probes: Vec<Vec<u8>> = (0..50u16)
            .map(|s| {
                let mut pr = probe(2, 500 + s, 255);
                pr[1] = 124;
                pr
            })
            .collect();
        let only = pending_of(&probes, "10.0.0.1:5000");
        assert!(only.padding_only());
        assert!(only.guess().is_none(), "no guess, so never a track");
        assert_eq!(only.rtx_target(&[view]), None);
        assert!(!only.retransmits(&media, &only.rtx_keys()));
    }

    /// A padding-only packet (RFC 3550 §5.1): P bit, `n` bytes of padding, no payload.
    fn probe(ssrc: u32, seq: u16, n: u8) -> Vec<u8> {
        let mut p = rtp(ssrc, 96, seq, &[]);
        p[0] |= 0x20;
        p.extend(std::iter::repeat_n(0, usize::from(n) - 1));
        p.push(n);
        p
    }

    #[test]
    fn padding_only_streams_are_not_tracks() {
        // SSRC 0 probes: never ripe, no guess, not kept.
        let probes: Vec<Vec<u8>> = (0..200u16).map(|s| probe(0, s, 200)).collect();
        let p = pending_of(&probes, "10.0.0.1:5000");
        assert!(p.padding_only());
        assert!(p.guess().is_none());
        assert!(p.packets.is_empty());
        assert!(!p.ripe(CaptureTime::from_nanos(100 * PENDING_NANOS)));
    }

    #[test]
    fn probes_take_no_part_in_the_guess() {
        // Two probes, then Opus (config 31, 20 ms) with a probe after every other packet.
        let mut raws = vec![probe(7, 1, 100), probe(7, 2, 100)];
        let mut seq = 3u16;
        for i in 0..40u16 {
            raws.push(rtp(7, 111, seq, &[0xf8, 1, 2, 3, (i % 250) as u8]));
            seq += 1;
            if i % 2 == 0 {
                raws.push(probe(7, seq, 100));
                seq += 1;
            }
        }
        // rtp() derives the timestamp from the sequence number: make it 960 per media packet.
        let mut n = 0u32;
        for r in raws.iter_mut().skip(2) {
            let media = r[0] & 0x20 == 0;
            r[4..8].copy_from_slice(&(n * 960).to_be_bytes());
            n += u32::from(media);
        }
        let p = pending_of(&raws, "10.0.0.1:5000");
        assert!(!p.padding_only());
        // Leading probes are not kept (the track starts at its first media packet); later
        // ones are, for their sequence numbers.
        assert_eq!(p.packets.len(), 60);
        assert_eq!(p.packets[0].seq16, 3);
        assert_eq!(p.first_time, CaptureTime::from_nanos(2 * 20_000_000));
        let (pt, guess, video) = p.guess().expect("a guess");
        assert_eq!(
            (pt, guess.codec, video),
            (111, Some(crate::codec::Codec::Opus), false)
        );
    }
}
