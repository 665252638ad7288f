//! RTCP compound packets (RFC 3550 §6, feedback RFC 4585 §6, FIR RFC 5104 §4.3.1).
//!
//! [`compound`] iterates the packets of one datagram. Each packet's length
//! field (32-bit words minus one, RFC 3550 §6.4.1) is checked against the
//! buffer; the padding bit is honoured on any packet (RFC 3550 allows it only
//! on the last one, we tolerate more). The first malformed packet yields one
//! `Err` item and ends the iteration, since its length can't be trusted to
//! find the next one. Unknown packet types are kept raw. RTCP is a small
//! fraction of traffic, so parsed packets own small `Vec`s.

use super::Ssrc;

/// Sender report.
pub const PT_SR: u8 = 200;
/// Receiver report.
pub const PT_RR: u8 = 201;
/// Source description.
pub const PT_SDES: u8 = 202;
/// Goodbye.
pub const PT_BYE: u8 = 203;
/// Application-defined.
pub const PT_APP: u8 = 204;
/// Transport-layer feedback (RFC 4585).
pub const PT_RTPFB: u8 = 205;
/// Payload-specific feedback (RFC 4585).
pub const PT_PSFB: u8 = 206;
/// Extended report (RFC 3611).
pub const PT_XR: u8 = 207;

/// Why an RTCP packet could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// Fewer bytes than a header or a field needs.
    #[error("RTCP packet truncated: {0}")]
    Truncated(&'static str),
    /// Version field is not 2.
    #[error("RTCP version {0} is not 2")]
    BadVersion(u8),
    /// The length field points past the end of the datagram.
    #[error("RTCP length field says {declared} bytes, only {available} left")]
    BadLength {
        /// Bytes the length field declares (including the header).
        declared: usize,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// Padding count is zero or larger than the packet body.
    #[error("RTCP padding length {0} is invalid")]
    BadPadding(u8),
    /// The body does not match the packet type's layout.
    #[error("RTCP packet type {packet_type} malformed: {reason}")]
    Malformed {
        /// RTCP packet type.
        packet_type: u8,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A 64-bit NTP timestamp (RFC 5905: seconds since 1900 in 32.32 fixed point).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtpTime(pub u64);

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub(crate) const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

impl NtpTime {
    /// Seconds since 1900-01-01 as a float.
    pub fn as_secs_f64(self) -> f64 {
        (self.0 >> 32) as f64 + (self.0 & 0xFFFF_FFFF) as f64 / 4_294_967_296.0
    }

    /// Seconds since the Unix epoch as a float (negative before 1970).
    ///
    /// Era 0 only: no RFC 4330 §3 rollover (MSB clear = after 2036). Senders with bad
    /// clocks exist (one writes Unix time into the field), and A/V alignment only needs
    /// differences of the raw 64-bit value, so no era is guessed.
    pub fn as_unix_secs_f64(self) -> f64 {
        self.as_secs_f64() - NTP_UNIX_OFFSET_SECS as f64
    }

    /// The middle 32 bits, as echoed in report blocks' LSR field (RFC 3550 §6.4.1).
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: Ssrc,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub ext_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP time (0 if none).
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

/// Sender report (PT 200).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// The sender.
    pub ssrc: Ssrc,
    /// Wallclock time when the report was sent.
    pub ntp: NtpTime,
    /// The same instant on the sender's RTP clock; with `ntp`, aligns streams.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packet_count: u32,
    /// Payload octets sent so far.
    pub octet_count: u32,
    /// Reception reports on other sources.
    pub reports: Vec<ReportBlock>,
    /// Profile-specific extension bytes after the report blocks.
    pub extension: &'a [u8],
}

/// Receiver report (PT 201).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// The reporter.
    pub ssrc: Ssrc,
    /// Reception reports.
    pub reports: Vec<ReportBlock>,
    /// Profile-specific extension bytes after the report blocks.
    pub extension: &'a [u8],
}

/// SDES item type CNAME (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;

/// One SDES item: type (1 CNAME, 2 NAME, ... 8 PRIV) and its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type.
    pub kind: u8,
    /// Item text, UTF-8 by the RFC but not checked.
    pub value: &'a [u8],
}

/// One SDES chunk: a source and its items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The described source.
    pub ssrc: Ssrc,
    /// Its items in order.
    pub items: Vec<SdesItem<'a>>,
}

impl<'a> SdesChunk<'a> {
    /// The CNAME item, if any.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items
            .iter()
            .find(|i| i.kind == SDES_CNAME)
            .map(|i| i.value)
    }
}

/// Goodbye (PT 203).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bye<'a> {
    /// Sources leaving.
    pub ssrcs: Vec<Ssrc>,
    /// Optional reason text.
    pub reason: Option<&'a [u8]>,
}

/// Application-defined packet (PT 204).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App<'a> {
    /// Subtype (the count field).
    pub subtype: u8,
    /// Sender.
    pub ssrc: Ssrc,
    /// Four ASCII characters.
    pub name: [u8; 4],
    /// Application data.
    pub data: &'a [u8],
}

/// One generic NACK entry (RFC 4585 §6.2.1): lost `pid` and bitmask of the 16 following.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nack {
    /// Packet id: sequence number of a lost packet.
    pub pid: u16,
    /// Bitmask of following lost packets: bit i means `pid + i + 1` is lost.
    pub blp: u16,
}

impl Nack {
    /// All sequence numbers this entry reports lost.
    pub fn lost(&self) -> impl Iterator<Item = u16> + '_ {
        std::iter::once(self.pid).chain(
            (0..16)
                .filter(|i| self.blp & (1 << i) != 0)
                .map(|i| self.pid.wrapping_add(i + 1)),
        )
    }
}

/// What a transport-layer feedback packet carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportFeedbackKind<'a> {
    /// FMT 1: generic NACK.
    Nack(Vec<Nack>),
    /// Any other FMT (e.g. 15 transport-wide CC): raw FCI.
    Other(&'a [u8]),
}

/// Transport-layer feedback (PT 205, RFC 4585 §6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportFeedback<'a> {
    /// Feedback message type.
    pub fmt: u8,
    /// Who sends the feedback.
    pub sender: Ssrc,
    /// The media source it is about.
    pub media: Ssrc,
    /// The feedback control information.
    pub kind: TransportFeedbackKind<'a>,
}

/// One FIR entry (RFC 5104 §4.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirEntry {
    /// The source asked for a keyframe.
    pub ssrc: Ssrc,
    /// Command sequence number.
    pub seq: u8,
}

/// What a payload-specific feedback packet carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadFeedbackKind<'a> {
    /// FMT 1: picture loss indication.
    Pli,
    /// FMT 4: full intra request.
    Fir(Vec<FirEntry>),
    /// FMT 15: application layer feedback (e.g. REMB), raw FCI.
    Afb(&'a [u8]),
    /// Any other FMT: raw FCI.
    Other(&'a [u8]),
}

/// Payload-specific feedback (PT 206, RFC 4585 §6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadFeedback<'a> {
    /// Feedback message type.
    pub fmt: u8,
    /// Who sends the feedback.
    pub sender: Ssrc,
    /// The media source it is about.
    pub media: Ssrc,
    /// The feedback control information.
    pub kind: PayloadFeedbackKind<'a>,
}

impl PayloadFeedback<'_> {
    /// True for application-layer feedback that starts with the `REMB` identifier.
    pub fn is_remb(&self) -> bool {
        matches!(self.kind, PayloadFeedbackKind::Afb(d) if d.starts_with(b"REMB"))
    }
}

/// A packet kept as bytes: XR and unknown types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRtcp<'a> {
    /// Packet type.
    pub packet_type: u8,
    /// The 5-bit count/format field.
    pub count: u8,
    /// Body after the 4-byte header, without padding.
    pub body: &'a [u8],
}

/// One packet of an RTCP compound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR (200).
    SenderReport(SenderReport<'a>),
    /// RR (201).
    ReceiverReport(ReceiverReport<'a>),
    /// SDES (202).
    SourceDescription(Vec<SdesChunk<'a>>),
    /// BYE (203).
    Bye(Bye<'a>),
    /// APP (204).
    App(App<'a>),
    /// RTPFB (205).
    TransportFeedback(TransportFeedback<'a>),
    /// PSFB (206).
    PayloadFeedback(PayloadFeedback<'a>),
    /// XR (207), raw.
    ExtendedReport(RawRtcp<'a>),
    /// Any other packet type, raw.
    Unknown(RawRtcp<'a>),
}

impl RtcpPacket<'_> {
    /// The RTCP packet type number.
    pub fn packet_type(&self) -> u8 {
        match self {
            RtcpPacket::SenderReport(_) => PT_SR,
            RtcpPacket::ReceiverReport(_) => PT_RR,
            RtcpPacket::SourceDescription(_) => PT_SDES,
            RtcpPacket::Bye(_) => PT_BYE,
            RtcpPacket::App(_) => PT_APP,
            RtcpPacket::TransportFeedback(_) => PT_RTPFB,
            RtcpPacket::PayloadFeedback(_) => PT_PSFB,
            RtcpPacket::ExtendedReport(r) | RtcpPacket::Unknown(r) => r.packet_type,
        }
    }
}

/// Iterates the packets of an RTCP compound datagram.
pub fn compound(data: &[u8]) -> Compound<'_> {
    Compound {
        data,
        pos: 0,
        done: false,
    }
}

/// Iterator over an RTCP compound; a malformed packet yields one `Err` and ends it.
#[derive(Clone, Debug)]
pub struct Compound<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        match split_packet(rest) {
            Ok((header, body, used)) => {
                self.pos += used;
                let parsed = parse_body(header, body);
                if parsed.is_err() {
                    self.done = true;
                }
                Some(parsed)
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The common header fields (RFC 3550 §6.4.1).
#[derive(Clone, Copy)]
struct Header {
    count: u8,
    packet_type: u8,
}

/// Splits off one packet: its header, its body without padding, and bytes used.
fn split_packet(rest: &[u8]) -> Result<(Header, &[u8], usize), RtcpError> {
    let [b0, packet_type, l0, l1, ..] = *rest else {
        return Err(RtcpError::Truncated("common header"));
    };
    let version = b0 >> 6;
    if version != 2 {
        return Err(RtcpError::BadVersion(version));
    }
    let declared = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
    if declared > rest.len() {
        return Err(RtcpError::BadLength {
            declared,
            available: rest.len(),
        });
    }
    let mut body = &rest[4..declared];
    if b0 & 0x20 != 0 {
        let pad = body.last().copied().unwrap_or(0);
        if pad == 0 || usize::from(pad) > body.len() {
            return Err(RtcpError::BadPadding(pad));
        }
        body = &body[..body.len() - usize::from(pad)];
    }
    Ok((
        Header {
            count: b0 & 0x1F,
            packet_type,
        },
        body,
        declared,
    ))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn parse_body<'a>(h: Header, body: &'a [u8]) -> Result<RtcpPacket<'a>, RtcpError> {
    let malformed = |reason| RtcpError::Malformed {
        packet_type: h.packet_type,
        reason,
    };
    let ssrc_at = |at| {
        be32(body, at)
            .map(Ssrc)
            .ok_or_else(|| malformed("too short for SSRC"))
    };
    Ok(match h.packet_type {
        PT_SR => {
            if body.len() < 24 {
                return Err(malformed("sender info truncated"));
            }
            let hi = be32(body, 4).unwrap_or(0);
            let lo = be32(body, 8).unwrap_or(0);
            let (reports, extension) = report_blocks(&body[24..], h.count)
                .ok_or_else(|| malformed("report blocks truncated"))?;
            RtcpPacket::SenderReport(SenderReport {
                ssrc: ssrc_at(0)?,
                ntp: NtpTime(u64::from(hi) << 32 | u64::from(lo)),
                rtp_timestamp: be32(body, 12).unwrap_or(0),
                packet_count: be32(body, 16).unwrap_or(0),
                octet_count: be32(body, 20).unwrap_or(0),
                reports,
                extension,
            })
        }
        PT_RR => {
            let ssrc = ssrc_at(0)?;
            let (reports, extension) = report_blocks(&body[4..], h.count)
                .ok_or_else(|| malformed("report blocks truncated"))?;
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc,
                reports,
                extension,
            })
        }
        PT_SDES => RtcpPacket::SourceDescription(
            sdes_chunks(body, h.count).ok_or_else(|| malformed("SDES chunk truncated"))?,
        ),
        PT_BYE => {
            let n = usize::from(h.count);
            let ssrcs: Vec<Ssrc> = (0..n).map(|i| ssrc_at(4 * i)).collect::<Result<_, _>>()?;
            let reason = match body.get(4 * n) {
                None => None,
                Some(&len) => {
                    let start = 4 * n + 1;
                    Some(
                        body.get(start..start + usize::from(len))
                            .ok_or_else(|| malformed("BYE reason truncated"))?,
                    )
                }
            };
            RtcpPacket::Bye(Bye { ssrcs, reason })
        }
        PT_APP => {
            let ssrc = ssrc_at(0)?;
            let name = body
                .get(4..8)
                .ok_or_else(|| malformed("APP name truncated"))?;
            RtcpPacket::App(App {
                subtype: h.count,
                ssrc,
                name: [name[0], name[1], name[2], name[3]],
                data: &body[8..],
            })
        }
        PT_RTPFB | PT_PSFB => {
            let sender = ssrc_at(0)?;
            let media = ssrc_at(4)?;
            let fci = &body[8..];
            if h.packet_type == PT_RTPFB {
                let kind = if h.count == 1 {
                    if !fci.len().is_multiple_of(4) {
                        return Err(malformed("NACK FCI not a multiple of 4 bytes"));
                    }
                    let nacks = fci
                        .chunks_exact(4)
                        .map(|c| Nack {
                            pid: u16::from_be_bytes([c[0], c[1]]),
                            blp: u16::from_be_bytes([c[2], c[3]]),
                        })
                        .collect();
                    TransportFeedbackKind::Nack(nacks)
                } else {
                    TransportFeedbackKind::Other(fci)
                };
                RtcpPacket::TransportFeedback(TransportFeedback {
                    fmt: h.count,
                    sender,
                    media,
                    kind,
                })
            } else {
                let kind = match h.count {
                    1 => PayloadFeedbackKind::Pli,
                    4 => {
                        if !fci.len().is_multiple_of(8) {
                            return Err(malformed("FIR FCI not a multiple of 8 bytes"));
                        }
                        let entries = fci
                            .chunks_exact(8)
                            .map(|c| FirEntry {
                                ssrc: Ssrc(u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
                                seq: c[4],
                            })
                            .collect();
                        PayloadFeedbackKind::Fir(entries)
                    }
                    15 => PayloadFeedbackKind::Afb(fci),
                    _ => PayloadFeedbackKind::Other(fci),
                };
                RtcpPacket::PayloadFeedback(PayloadFeedback {
                    fmt: h.count,
                    sender,
                    media,
                    kind,
                })
            }
        }
        PT_XR => RtcpPacket::ExtendedReport(RawRtcp {
            packet_type: h.packet_type,
            count: h.count,
            body,
        }),
        _ => RtcpPacket::Unknown(RawRtcp {
            packet_type: h.packet_type,
            count: h.count,
            body,
        }),
    })
}

/// `count` report blocks from the start of `b`, and the bytes after them.
fn report_blocks(b: &[u8], count: u8) -> Option<(Vec<ReportBlock>, &[u8])> {
    let len = 24 * usize::from(count);
    let blocks = b.get(..len)?;
    let reports = blocks
        .chunks_exact(24)
        .map(|c| {
            let w = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
            // 24-bit two's complement: shift up into i32's sign bit and back.
            let cumulative_lost = ((w(4) << 8) as i32) >> 8;
            ReportBlock {
                ssrc: Ssrc(w(0)),
                fraction_lost: c[4],
                cumulative_lost,
                ext_highest_seq: w(8),
                jitter: w(12),
                lsr: w(16),
                dlsr: w(20),
            }
        })
        .collect();
    Some((reports, &b[len..]))
}

/// SDES chunks (RFC 3550 §6.5): SSRC, items, a null item, padding to 32 bits.
fn sdes_chunks(b: &[u8], count: u8) -> Option<Vec<SdesChunk<'_>>> {
    let mut chunks = Vec::with_capacity(usize::from(count));
    let mut pos = 0;
    for _ in 0..count {
        let ssrc = Ssrc(be32(b, pos)?);
        pos += 4;
        let mut items = Vec::new();
        loop {
            let &kind = b.get(pos)?;
            if kind == 0 {
                // The null item ends the list; pad the chunk to the next 32-bit boundary.
                pos = (pos + 4) & !3;
                break;
            }
            let len = usize::from(*b.get(pos + 1)?);
            let value = b.get(pos + 2..pos + 2 + len)?;
            items.push(SdesItem { kind, value });
            pos += 2 + len;
        }
        chunks.push(SdesChunk { ssrc, items });
    }
    Some(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds one RTCP packet with a correct length field.
    fn pkt(count: u8, pt: u8, body: &[u8]) -> Vec<u8> {
        assert_eq!(body.len() % 4, 0);
        let words = (body.len() / 4) as u16;
        let mut v = vec![0x80 | count, pt];
        v.extend_from_slice(&words.to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn block(ssrc: u32, lost: [u8; 3]) -> Vec<u8> {
        let mut b = ssrc.to_be_bytes().to_vec();
        b.push(64);
        b.extend_from_slice(&lost);
        for w in [70_000u32, 12, 0x1234_5678, 65_536] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b
    }

    fn sr_body() -> Vec<u8> {
        let mut b = 0x1111_1111u32.to_be_bytes().to_vec();
        b.extend_from_slice(&0xE000_0000u32.to_be_bytes()); // NTP seconds
        b.extend_from_slice(&0x8000_0000u32.to_be_bytes()); // .5 s
        b.extend_from_slice(&90_000u32.to_be_bytes());
        b.extend_from_slice(&10u32.to_be_bytes());
        b.extend_from_slice(&1000u32.to_be_bytes());
        b.extend_from_slice(&block(0x2222_2222, [0xff, 0xff, 0xfe]));
        b
    }

    fn sdes_body() -> Vec<u8> {
        let mut b = 0x1111_1111u32.to_be_bytes().to_vec();
        b.extend_from_slice(&[1, 3, b'a', b'b', b'c', 0, 0, 0]);
        b
    }

    #[test]
    fn sr_sdes_compound() {
        let mut d = pkt(1, PT_SR, &sr_body());
        d.extend(pkt(1, PT_SDES, &sdes_body()));
        let got: Vec<_> = compound(&d).collect::<Result<_, _>>().expect("valid");
        assert_eq!(got.len(), 2);
        let RtcpPacket::SenderReport(sr) = &got[0] else {
            panic!("not SR: {:?}", got[0])
        };
        assert_eq!(sr.ssrc, Ssrc(0x1111_1111));
        assert_eq!(sr.ntp.as_secs_f64(), 0xE000_0000u32 as f64 + 0.5);
        assert_eq!(sr.ntp.middle32(), 0x0000_8000);
        assert!(
            (sr.ntp.as_unix_secs_f64() - (0xE000_0000u32 as f64 + 0.5 - 2_208_988_800.0)).abs()
                < 1e-6
        );
        assert_eq!(
            (sr.rtp_timestamp, sr.packet_count, sr.octet_count),
            (90_000, 10, 1000)
        );
        assert_eq!(
            sr.reports,
            vec![ReportBlock {
                ssrc: Ssrc(0x2222_2222),
                fraction_lost: 64,
                cumulative_lost: -2,
                ext_highest_seq: 70_000,
                jitter: 12,
                lsr: 0x1234_5678,
                dlsr: 65_536
            }]
        );
        let RtcpPacket::SourceDescription(chunks) = &got[1] else {
            panic!("not SDES")
        };
        assert_eq!(chunks[0].cname(), Some(&b"abc"[..]));
        assert_eq!(got[1].packet_type(), PT_SDES);
    }

    #[test]
    fn cumulative_lost_positive() {
        let mut b = 5u32.to_be_bytes().to_vec();
        b.extend(block(1, [0x00, 0x01, 0x00]));
        let d = pkt(1, PT_RR, &b);
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = compound(&d).next() else {
            panic!()
        };
        assert_eq!(rr.reports[0].cumulative_lost, 256);
        assert_eq!(rr.ssrc, Ssrc(5));
    }

    #[test]
    fn bye_app_feedback_xr_unknown() {
        let mut bye = [1u32.to_be_bytes(), 2u32.to_be_bytes()].concat();
        bye.extend_from_slice(&[3, b'b', b'y', b'e']);
        let app = [
            7u32.to_be_bytes().to_vec(),
            b"TEST".to_vec(),
            vec![1, 2, 3, 4],
        ]
        .concat();
        let nack = [
            1u32.to_be_bytes(),
            2u32.to_be_bytes(),
            [0x00, 0x10, 0x00, 0x05],
        ]
        .concat();
        let pli = [1u32.to_be_bytes(), 2u32.to_be_bytes()].concat();
        let fir = [
            1u32.to_be_bytes(),
            0u32.to_be_bytes(),
            9u32.to_be_bytes(),
            [4, 0, 0, 0],
        ]
        .concat();
        let remb = [
            1u32.to_be_bytes(),
            0u32.to_be_bytes(),
            *b"REMB",
            [1, 0, 0, 0],
            9u32.to_be_bytes(),
        ]
        .concat();
        let mut d = pkt(2, PT_BYE, &bye);
        d.extend(pkt(3, PT_APP, &app));
        d.extend(pkt(1, PT_RTPFB, &nack));
        d.extend(pkt(1, PT_PSFB, &pli));
        d.extend(pkt(4, PT_PSFB, &fir));
        d.extend(pkt(15, PT_PSFB, &remb));
        d.extend(pkt(0, PT_XR, &[1, 2, 3, 4]));
        d.extend(pkt(0, 210, &[]));
        let got: Vec<_> = compound(&d).collect::<Result<_, _>>().expect("valid");
        assert_eq!(got.len(), 8);
        assert_eq!(
            got[0],
            RtcpPacket::Bye(Bye {
                ssrcs: vec![Ssrc(1), Ssrc(2)],
                reason: Some(b"bye")
            })
        );
        assert_eq!(
            got[1],
            RtcpPacket::App(App {
                subtype: 3,
                ssrc: Ssrc(7),
                name: *b"TEST",
                data: &[1, 2, 3, 4]
            })
        );
        let RtcpPacket::TransportFeedback(fb) = &got[2] else {
            panic!()
        };
        let TransportFeedbackKind::Nack(n) = &fb.kind else {
            panic!()
        };
        assert_eq!(n[0].lost().collect::<Vec<_>>(), vec![16, 17, 19]);
        assert_eq!((fb.sender, fb.media), (Ssrc(1), Ssrc(2)));
        let RtcpPacket::PayloadFeedback(p) = &got[3] else {
            panic!()
        };
        assert_eq!(p.kind, PayloadFeedbackKind::Pli);
        let RtcpPacket::PayloadFeedback(p) = &got[4] else {
            panic!()
        };
        assert_eq!(
            p.kind,
            PayloadFeedbackKind::Fir(vec![FirEntry {
                ssrc: Ssrc(9),
                seq: 4
            }])
        );
        let RtcpPacket::PayloadFeedback(p) = &got[5] else {
            panic!()
        };
        assert!(p.is_remb());
        assert_eq!(
            got[6],
            RtcpPacket::ExtendedReport(RawRtcp {
                packet_type: PT_XR,
                count: 0,
                body: &[1, 2, 3, 4]
            })
        );
        assert_eq!(got[7].packet_type(), 210);
    }

    #[test]
    fn padding() {
        let mut d = pkt(0, PT_RR, &[0, 0, 0, 5, 0, 0, 0, 4]);
        d[0] |= 0x20;
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = compound(&d).next() else {
            panic!()
        };
        assert_eq!(rr.ssrc, Ssrc(5));
        assert!(rr.extension.is_empty());
        let mut bad = pkt(0, PT_RR, &[0, 0, 0, 5, 0, 0, 0, 9]);
        bad[0] |= 0x20;
        assert_eq!(compound(&bad).next(), Some(Err(RtcpError::BadPadding(9))));
    }

    #[test]
    fn errors_end_iteration() {
        let good = pkt(0, PT_RR, &[0, 0, 0, 5]);
        let cases: Vec<(Vec<u8>, RtcpError)> = vec![
            (
                [good.clone(), vec![0x80, 201, 0]].concat(),
                RtcpError::Truncated("common header"),
            ),
            (
                [good.clone(), vec![0x40, 201, 0, 0]].concat(),
                RtcpError::BadVersion(1),
            ),
            (
                [good.clone(), vec![0x80, 201, 0, 2, 0, 0, 0, 0]].concat(),
                RtcpError::BadLength {
                    declared: 12,
                    available: 8,
                },
            ),
            (
                [good.clone(), pkt(1, PT_RR, &[0, 0, 0, 5])].concat(),
                RtcpError::Malformed {
                    packet_type: PT_RR,
                    reason: "report blocks truncated",
                },
            ),
            (
                [good.clone(), pkt(1, PT_SDES, &[0, 0, 0, 5, 1, 9, 0, 0])].concat(),
                RtcpError::Malformed {
                    packet_type: PT_SDES,
                    reason: "SDES chunk truncated",
                },
            ),
        ];
        for (i, (d, want)) in cases.iter().enumerate() {
            let got: Vec<_> = compound(d).collect();
            assert_eq!(got.len(), 2, "case {i}");
            assert!(got[0].is_ok(), "case {i}");
            assert_eq!(got[1].as_ref().err(), Some(want), "case {i}");
        }
    }

    #[test]
    fn truncation_at_every_length() {
        let mut d = pkt(1, PT_SR, &sr_body());
        d.extend(pkt(1, PT_SDES, &sdes_body()));
        for n in 0..d.len() {
            let items: Vec<_> = compound(&d[..n]).collect();
            // Either fewer packets, or an error at the end; never a panic or a hang.
            assert!(items.len() <= 2);
            if n > 0 && n != pkt(1, PT_SR, &sr_body()).len() {
                assert!(items.last().is_some_and(|r| r.is_err()), "len {n}");
            }
        }
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let n = compound(&bytes).take(100).count();
            prop_assert!(n <= bytes.len() / 4 + 1);
        }

        #[test]
        fn never_panics_v2(mut bytes in proptest::collection::vec(any::<u8>(), 4..128), pt in 200u8..=207) {
            bytes[0] = 0x80 | (bytes[0] & 0x3f);
            bytes[1] = pt;
            bytes[2] = 0;
            bytes[3] %= 32;
            for p in compound(&bytes) {
                let _ = p.map(|p| p.packet_type());
            }
        }
    }
}
