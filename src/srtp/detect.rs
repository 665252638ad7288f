//! Recognising SRTP without its keys, from how it is built (RFC 3711 §3.1):
//! an SRTP packet is the RTP packet with its payload encrypted (same length)
//! and an authentication tag appended: 10 bytes (HMAC-SHA1-80), 4
//! (HMAC-SHA1-32) or 16 (AES-GCM, RFC 7714). For codecs of one byte per RTP
//! clock tick (G.711, and G.722, whose 8 kHz RTP clock ticks once per byte,
//! RFC 3551 §4.5.2), a plain payload is exactly as long as the timestamp step,
//! so payloads longer than that by one tag length, packet after packet, are SRTP.

use crate::codec::Codec;

/// Authentication tag lengths SRTP appends (RFC 3711 §3.1, RFC 7714 §9.1).
const TAG_LENGTHS: [usize; 3] = [10, 4, 16];
/// Consecutive packet pairs examined.
const CHECKS: u8 = 8;

/// Watches a track's first packets for the SRTP length signature.
#[derive(Clone, Debug, Default)]
pub struct TagProbe {
    prev: Option<(u16, u32)>,
    /// Pairs examined, and how many showed each tag length.
    checks: u8,
    hits: [u8; TAG_LENGTHS.len()],
    verdict: Option<Option<usize>>,
}

impl TagProbe {
    /// Whether `codec` has one payload byte per RTP clock tick.
    pub fn applies(codec: Option<Codec>) -> bool {
        matches!(codec, Some(Codec::Pcmu | Codec::Pcma | Codec::G722))
    }

    /// `Some(tag)` once decided (`Some(None)`: plain lengths), `None` while undecided.
    pub fn verdict(&self) -> Option<Option<usize>> {
        self.verdict
    }

    /// Feeds a packet (sequence number, RTP timestamp, payload length); returns
    /// the tag length once the first packets show it, `None` while undecided or plain.
    pub fn push(&mut self, seq: u16, ts: u32, len: usize) -> Option<usize> {
        if let Some(v) = self.verdict {
            return v;
        }
        if let Some((pseq, pts)) = self.prev
            && seq.wrapping_sub(pseq) == 1
        {
            // The packet before covered `step` ticks; this one's length is compared
            // with the same step (packets of one stream keep one duration).
            let step = ts.wrapping_sub(pts) as usize;
            if (1..=8000).contains(&step) {
                self.checks += 1;
                for (hit, tag) in self.hits.iter_mut().zip(TAG_LENGTHS) {
                    *hit += u8::from(len == step + tag);
                }
            }
        }
        self.prev = Some((seq, ts));
        if self.checks >= CHECKS {
            let best = self
                .hits
                .iter()
                .zip(TAG_LENGTHS)
                .find(|(h, _)| **h + 1 >= CHECKS)
                .map(|(_, tag)| tag);
            self.verdict = Some(best);
            return best;
        }
        None
    }
}

/// Frame starts a [`PayloadProbe`] examines before it decides.
pub const FRAME_STARTS: u32 = 32;

/// What a [`PayloadProbe`] made of a track's first frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The payloads parse as the signalled codec.
    Plain,
    /// They do not, while the RTP headers advance like media: encrypted.
    Encrypted,
}

/// Watches a track's first frames for payloads that do not parse as the codec
/// signalling names (metadata or SDP), while the RTP headers are sound.
///
/// SRTP encrypts the payload and nothing of the header (RFC 3711 §3.1), so an
/// encrypted stream still has sequence numbers and timestamps that advance like
/// media while its payloads are uniformly random bytes. The probe looks only at
/// *frame starts*: a packet whose sequence number follows the previous packet's
/// by one and whose timestamp is ahead of it, so the packet before it ended the
/// previous frame and this one begins the next. What such a packet must hold is
/// fixed by the codec's packetization
/// ([`crate::codec::guess::fits_frame_start`]); for Opus, where every packet is
/// a frame (RFC 7587 §4.2), the previous packet must be a valid Opus packet
/// (RFC 6716 §3.4, R1-R7) whose duration is the timestamp step (RFC 7587
/// §4.1: the timestamp counts 48 kHz samples); a step that is a whole multiple
/// of the duration may be a DTX gap and is not counted either way.
///
/// A conforming sender's frame starts always fit; random bytes fit with a
/// probability of about 0.15 for Opus and 0.11 for H.264 (the most; measured
/// in the tests, which assert under 1/4), and far less for the others. Of the
/// first [`FRAME_STARTS`] frame starts, fewer than half fitting is
/// [`Verdict::Encrypted`]: for a plain stream that takes 17 damaged frames out
/// of 32; for random bytes the chance of 16 or more fitting is about 5 in a
/// million at p = 0.15 (0.2% even at p = 1/4).
#[derive(Clone, Debug)]
pub struct PayloadProbe {
    codec: Codec,
    /// Sequence number, timestamp and (Opus) duration of the previous packet.
    prev: Option<(u16, u32, Option<u32>)>,
    examined: u32,
    fits: u32,
    verdict: Option<Verdict>,
}

impl PayloadProbe {
    /// A probe for `codec` when its packetization says how a frame starts
    /// (Opus, VP8, VP9, H.264, H.265, AV1).
    pub fn for_codec(codec: Option<Codec>) -> Option<PayloadProbe> {
        let codec = codec?;
        let known =
            codec == Codec::Opus || crate::codec::guess::fits_frame_start(codec, &[]).is_some();
        known.then_some(PayloadProbe {
            codec,
            prev: None,
            examined: 0,
            fits: 0,
            verdict: None,
        })
    }

    /// Feeds a packet of the media payload type; the verdict once
    /// [`FRAME_STARTS`] frame starts were examined, `None` before.
    pub fn push(&mut self, seq: u16, ts: u32, payload: &[u8]) -> Option<Verdict> {
        if self.verdict.is_some() {
            return self.verdict;
        }
        let duration = (self.codec == Codec::Opus)
            .then(|| {
                crate::codec::opus::validate(payload)
                    .ok()
                    .map(|f| f.samples)
            })
            .flatten();
        // A frame start: next in sequence, timestamp ahead (a signed 32-bit step).
        let step = self.prev.map(|(pseq, pts, pdur)| {
            let ahead = seq.wrapping_sub(pseq) == 1 && (ts.wrapping_sub(pts) as i32) > 0;
            (ahead, ts.wrapping_sub(pts), pdur)
        });
        if let Some((true, step, pdur)) = step {
            let fit = if self.codec == Codec::Opus {
                match pdur {
                    Some(d) if d == step => Some(true),
                    // Possibly DTX (RFC 7587 §3.1.3): no evidence either way.
                    Some(d) if d > 0 && d < step && step % d == 0 => None,
                    _ => Some(false),
                }
            } else {
                crate::codec::guess::fits_frame_start(self.codec, payload)
            };
            if let Some(fit) = fit {
                self.examined += 1;
                self.fits += u32::from(fit);
            }
        }
        self.prev = Some((seq, ts, duration));
        if self.examined >= FRAME_STARTS {
            self.verdict = self.settle();
        }
        self.verdict
    }

    /// The verdict from what was seen so far (a short stream): `None` before any
    /// frame start was examined.
    pub fn settle(&self) -> Option<Verdict> {
        if let Some(v) = self.verdict {
            return Some(v);
        }
        (self.examined > 0).then(|| {
            if self.fits * 2 < self.examined {
                Verdict::Encrypted
            } else {
                Verdict::Plain
            }
        })
    }

    /// The codec the payloads were checked against.
    pub fn codec(&self) -> Codec {
        self.codec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::codec::testutil::noise;

    /// Pushes `n` packets of 20 ms (960 ticks), seq and ts advancing; the first verdict.
    fn run(probe: &mut PayloadProbe, n: u16, payload: impl Fn(u16) -> Vec<u8>) -> Option<Verdict> {
        (0..n)
            .filter_map(|i| probe.push(i, u32::from(i) * 960, &payload(i)))
            .next()
    }

    #[test]
    fn plain_opus_is_plain_and_random_bytes_are_encrypted() {
        let opus = || PayloadProbe::for_codec(Some(Codec::Opus)).expect("opus");
        // CELT 20 ms, code 0: one frame per packet.
        let mut p = opus();
        assert_eq!(
            run(&mut p, 40, |i| [vec![0xfc], noise(u64::from(i), 60)]
                .concat()),
            Some(Verdict::Plain)
        );
        // DTX: after speech, one packet per 400 ms, still 20 ms long: not counted either way.
        let mut p = opus();
        let mut seq = 0u16;
        let mut ts = 0u32;
        let mut verdict = None;
        for i in 0..200u32 {
            let step = if i % 2 == 0 { 960 } else { 960 * 20 };
            verdict = verdict.or(p.push(seq, ts, &[0xfc, 0xff, 0xfe]));
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(step);
        }
        assert_eq!(verdict, Some(Verdict::Plain));
        // Random payloads: encrypted, for any seed tried.
        for seed in 0..200u64 {
            let mut p = opus();
            let v = run(&mut p, 200, |i| {
                noise(seed * 1000 + u64::from(i), 40 + usize::from(i % 80))
            });
            assert_eq!(v, Some(Verdict::Encrypted), "seed {seed}");
        }
        // How often a random packet's duration is the step (the doc's figure).
        let (mut fit, mut examined) = (0u32, 0u32);
        for seed in 0..300u64 {
            let mut p = opus();
            for i in 0..FRAME_STARTS as u16 {
                p.push(
                    i,
                    u32::from(i) * 960,
                    &noise(seed * 100 + u64::from(i), 30 + usize::from(i) * 3),
                );
            }
            fit += p.fits;
            examined += p.examined;
        }
        let rate = f64::from(fit) / f64::from(examined);
        assert!(rate < 0.25, "{rate}");
    }

    #[test]
    fn frame_starts_need_sequence_and_time_to_advance() {
        let mut p = PayloadProbe::for_codec(Some(Codec::Vp8)).expect("vp8");
        // Sequence gaps and repeated timestamps are not frame starts.
        for i in 0..100u16 {
            // A packet lost between frames; the packet after a frame's first shares its time.
            assert_eq!(
                p.push(i * 3, u32::from(i) * 3000, &noise(u64::from(i), 50)),
                None
            );
            assert_eq!(
                p.push(i * 3 + 1, u32::from(i) * 3000, &noise(u64::from(i), 50)),
                None
            );
        }
        assert_eq!(p.examined, 0);
        assert_eq!(p.settle(), None);
        // Random video payloads, headers advancing: encrypted.
        let mut p = PayloadProbe::for_codec(Some(Codec::H264)).expect("h264");
        let v = (0..200u16)
            .filter_map(|i| p.push(i, u32::from(i) * 3000, &noise(u64::from(i) + 5, 900)))
            .next();
        assert_eq!(v, Some(Verdict::Encrypted));
        assert!(PayloadProbe::for_codec(Some(Codec::Pcmu)).is_none());
        assert!(PayloadProbe::for_codec(None).is_none());
    }

    #[test]
    fn srtp_lengths_are_recognised_and_plain_ones_are_not() {
        for tag in TAG_LENGTHS {
            let mut p = TagProbe::default();
            let got = (0..20u16)
                .filter_map(|i| p.push(i, u32::from(i) * 160, 160 + tag))
                .next();
            assert_eq!(got, Some(tag));
        }
        let mut plain = TagProbe::default();
        assert!((0..20u16).all(|i| plain.push(i, u32::from(i) * 160, 160).is_none()));
        // 30 ms packets, plain: no tag.
        let mut p30 = TagProbe::default();
        assert!((0..20u16).all(|i| p30.push(i, u32::from(i) * 240, 240).is_none()));
    }
}

#[cfg(test)]
mod capture_tests {
    use super::*;
    use crate::codec::guess::CodecGuesser;
    use crate::rtp::{PacketClass, RtpPacket, classify};
    use crate::testutil::shared::{datagrams, read_shared};
    use std::collections::BTreeMap;

    /// Per (SSRC, PT): the codec inference identifies, and the probe's verdict.
    fn verdicts(capture: &[u8]) -> BTreeMap<(u32, u8), (Option<Codec>, Option<Verdict>)> {
        /// Sequence number, timestamp, marker, payload.
        type Packet = (u16, u32, bool, Vec<u8>);
        let mut streams: BTreeMap<(u32, u8), Vec<Packet>> = BTreeMap::new();
        for d in datagrams(capture) {
            if classify(&d.payload) != PacketClass::Rtp {
                continue;
            }
            let Ok(p) = RtpPacket::parse(&d.payload) else {
                continue;
            };
            streams
                .entry((p.ssrc().0, p.payload_type()))
                .or_default()
                .push((
                    p.sequence_number(),
                    p.timestamp(),
                    p.marker(),
                    p.payload().to_vec(),
                ));
        }
        streams
            .into_iter()
            .map(|((ssrc, pt), packets)| {
                let mut g = CodecGuesser::new(pt);
                for (_, ts, m, payload) in &packets {
                    g.push(*m, *ts, payload);
                }
                let guess = g.guess();
                let codec = guess.codec.filter(|_| guess.red.is_none());
                let verdict = PayloadProbe::for_codec(codec).and_then(|mut probe| {
                    let pushed = packets
                        .iter()
                        .filter_map(|(seq, ts, _, payload)| probe.push(*seq, *ts, payload))
                        .next();
                    pushed.or_else(|| probe.settle())
                });
                ((ssrc, pt), (codec, verdict))
            })
            .collect()
    }

    /// Every stream of the real and generated captures that inference identifies
    /// as a codec the probe knows is plain to the probe: the rule never misfires
    /// on plain media.
    #[test]
    fn plain_captures_are_plain() {
        let shared = [
            "str0m_vp8.pcap",
            "membrane_input_vp8.pcap",
            "str0m_contiguous_vp9.pcap",
            "str0m_h264.pcap",
            "membrane_demo_rtp.pcap",
            "sippscen_h264.pcap",
            "ndpi_rtp.pcapng",
        ];
        let testdata = [
            "media-opus-vp8.pcap",
            "media-opus-vp8-impaired.pcap",
            "impaired-vp8-opus.pcapng",
            "demo-2peers-opus-vp8.pcap",
            "media-vp9.pcap",
            "media-h264.pcap",
            "media-h264-impaired.pcap",
            "h264-pcma.pcap",
            "media-h265.pcap",
            "media-av1.pcap",
            "fec-ulpfec-red-vp8.pcap",
            "fec-flexfec-ulpfec-vp8.pcap",
            "red-opus.pcap",
        ];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/");
        let mut checked = 0;
        let files = shared
            .iter()
            .filter_map(|n| Some((*n, read_shared(n)?)))
            .chain(testdata.iter().map(|n| {
                let bytes = std::fs::read(format!("{dir}{n}")).expect("testdata capture");
                (*n, bytes)
            }));
        for (name, bytes) in files {
            for ((ssrc, pt), (codec, verdict)) in verdicts(&bytes) {
                if verdict.is_some() {
                    checked += 1;
                }
                assert_ne!(
                    verdict,
                    Some(Verdict::Encrypted),
                    "{name}: SSRC 0x{ssrc:08X} PT {pt} ({codec:?})"
                );
            }
        }
        assert!(checked >= 10, "{checked} streams checked");
    }

    /// SRTP Opus (the srtpdec capture's streams, PT 111), taken for the Opus
    /// that signalling names: encrypted.
    #[test]
    fn srtp_opus_of_a_real_call_is_encrypted() {
        let Some(bytes) = read_shared("srtpdec_udp_call_02_03_client.pcap") else {
            return;
        };
        let mut streams: BTreeMap<u32, PayloadProbe> = BTreeMap::new();
        let mut verdicts: BTreeMap<u32, Verdict> = BTreeMap::new();
        for d in datagrams(&bytes) {
            if classify(&d.payload) != PacketClass::Rtp {
                continue;
            }
            // SRTP payloads may not parse as RTP padding; read the header only.
            let Ok(p) = RtpPacket::parse(&d.payload) else {
                continue;
            };
            if p.payload_type() != 111 {
                continue;
            }
            let probe = streams
                .entry(p.ssrc().0)
                .or_insert_with(|| PayloadProbe::for_codec(Some(Codec::Opus)).expect("opus"));
            if let Some(v) = probe.push(p.sequence_number(), p.timestamp(), p.payload()) {
                verdicts.insert(p.ssrc().0, v);
            }
        }
        assert_eq!(verdicts.get(&0x1C065362), Some(&Verdict::Encrypted));
        assert_eq!(verdicts.get(&0x1C065364), Some(&Verdict::Encrypted));
    }
}
