//! Forward error correction for RTP: repair packets parsed, lost media packets recovered.
//!
//! All three formats are XOR parity over the same "protected bit string" of each
//! media packet (RFC 5109 §6.3.1, RFC 8627 §6.3.1): the first two octets of the
//! RTP header (only P, X, CC, M and PT matter), the timestamp, a 16-bit length
//! (packet length - 12) and everything after the fixed header (CSRCs, header
//! extension, payload, padding), shorter packets zero-padded. A repair packet
//! carries the XOR of the protected bit strings of its set plus a mask naming
//! the set; when exactly one packet of the set is missing, XOR-ing the repair
//! with the others gives it back. Its sequence number comes from the mask and
//! its SSRC from the stream it belongs to.
//!
//! Formats:
//! - ULPFEC (RFC 5109 §7.3): 10-byte FEC header, then the level-0 ULP header
//!   (protection length, 16- or 48-bit mask) and its payload. Only level 0 is
//!   used: a packet longer than the protection length cannot be recovered.
//! - FlexFEC (RFC 8627 §4.2.2.1), flexible mask only (R=0, F=0): the protected
//!   SSRCs are the repair packet's RTP CSRC list, each with an SN base and a
//!   15-, 46- or 110-bit mask; the repair payload covers whole packets.
//! - flexfec-03 (draft-ietf-payload-flexible-fec-scheme-03, as libwebrtc
//!   sends it): the SSRCs are in the FEC header (count, then SSRC, SN base and a
//!   15-, 46- or 109-bit mask each), and the RTP CSRC list is not used.
//!
//! In both FlexFEC formats a set k-bit ends the mask and a clear one means
//! another part follows, as libwebrtc reads and writes them.
//!
//! [`FecDecoder`] is sans-IO and bounded: it holds the media packets of one
//! SSRC within [`SOURCE_WINDOW`] sequence numbers of the newest one, and at most
//! [`MAX_PENDING_REPAIRS`] repair packets that still miss two or more packets.

use std::collections::VecDeque;

/// Size of the fixed RTP header, which the protected "length" leaves out.
const RTP_HEADER: usize = 12;

/// How many sequence numbers back from the newest media packet the decoder holds packets.
pub const SOURCE_WINDOW: u16 = 1024;

/// Bytes of media packets the decoder holds, at most: 1,024 ordinary packets
/// take about 1.2 MB; jumbo ones would take 64 MiB. Over this, the oldest go:
/// a repair packet that names one of them recovers nothing (the packet it
/// misses may be the one let go, which arrived).
pub const MAX_SOURCE_BYTES: usize = 4 << 20;

/// How many repair packets the decoder holds while they miss two or more packets.
pub const MAX_PENDING_REPAIRS: usize = 64;

/// How far ahead of the newest media packet a repair packet may protect: a
/// repair follows what it protects, give or take network reordering.
pub const MAX_AHEAD: u16 = 128;

/// A media packet as FEC protects it (RFC 5109 §6.3.1, RFC 8627 §6.3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FecSource {
    /// RTP sequence number.
    pub seq: u16,
    /// The first two octets of the RTP header (V P X CC / M PT).
    pub head: [u8; 2],
    /// RTP timestamp.
    pub ts: u32,
    /// Every byte after the 12-byte fixed header (CSRCs, extension, payload, padding).
    pub body: Vec<u8>,
}

impl FecSource {
    /// From a complete plain RTP packet; None if shorter than 12 bytes or version != 2.
    ///
    /// Also None if the body does not fit the 16-bit length FEC protects (no
    /// UDP datagram is that large).
    pub fn from_rtp(packet: &[u8]) -> Option<FecSource> {
        let fixed = packet.get(..RTP_HEADER)?;
        let body = packet.get(RTP_HEADER..)?;
        if fixed[0] >> 6 != 2 || body.len() > usize::from(u16::MAX) {
            return None;
        }
        Some(FecSource {
            seq: u16::from_be_bytes([fixed[2], fixed[3]]),
            head: [fixed[0], fixed[1]],
            ts: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
            body: body.to_vec(),
        })
    }

    /// The RTP packet again, with the given SSRC.
    pub fn to_rtp(&self, ssrc: u32) -> Vec<u8> {
        let mut p = Vec::with_capacity(RTP_HEADER + self.body.len());
        p.extend_from_slice(&self.head);
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&self.body);
        p
    }

    /// The protected 16-bit length. A longer body (only possible by building a
    /// `FecSource` by hand) wraps as a 16-bit field would.
    fn length(&self) -> u16 {
        self.body.len() as u16
    }
}

/// Which FEC payload format a repair stream uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FecScheme {
    /// ULPFEC (RFC 5109), usually inside RED.
    Ulpfec,
    /// FlexFEC as standardised (RFC 8627).
    Flexfec,
    /// FlexFEC draft 03, as libwebrtc sends it.
    // kebab-case would make this "flexfec03"; SDP says "flexfec-03".
    #[serde(rename = "flexfec-03")]
    Flexfec03,
}

impl FecScheme {
    /// From an SDP encoding name (case-insensitive): ulpfec, flexfec, flexfec-03.
    pub fn from_encoding_name(name: &str) -> Option<FecScheme> {
        [
            ("ulpfec", FecScheme::Ulpfec),
            ("flexfec", FecScheme::Flexfec),
            ("flexfec-03", FecScheme::Flexfec03),
        ]
        .into_iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n))
        .map(|(_, s)| s)
    }
}

/// A parsed repair packet: which sequence numbers of the media SSRC it protects and the XOR data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairPacket {
    /// Protected sequence numbers in mask order (SN base + offset, wrapping).
    protected: Vec<u16>,
    /// XOR of the first two RTP header octets (the V bits hold format flags).
    head: [u8; 2],
    /// XOR of the timestamps.
    ts: u32,
    /// XOR of the protected lengths.
    length: u16,
    /// XOR of the bodies, zero-padded, as far as the repair packet carries it.
    data: Vec<u8>,
}

impl RepairPacket {
    /// The protected sequence numbers, oldest first (SN base + mask offset, wrapping at 2^16).
    pub fn protected(&self) -> &[u16] {
        &self.protected
    }

    /// The XOR of the protected bodies (zero-padded), as far as the repair packet carries it.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Why a repair packet could not be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FecError {
    /// The packet ends before a field it declares (byte counts of the input, RTP padding removed).
    #[error("FEC packet truncated: {need} bytes needed, {have} present")]
    Truncated {
        /// Bytes the next field needs from the start of the input.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A valid variant this module does not implement.
    #[error("unsupported FEC packet: {0}")]
    Unsupported(&'static str),
    /// The repair packet does not protect the media SSRC asked for.
    #[error("FEC packet does not protect this SSRC")]
    NotForSsrc,
    /// The packet breaks its format.
    #[error("malformed FEC packet: {0}")]
    Malformed(&'static str),
}

/// Bounds-checked big-endian reads; every shortfall is [`FecError::Truncated`].
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FecError> {
        let need = self.pos.saturating_add(n);
        let bytes = self.data.get(self.pos..need).ok_or(FecError::Truncated {
            need,
            have: self.data.len(),
        })?;
        self.pos = need;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FecError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, FecError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, FecError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, FecError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, FecError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }
}

/// Appends `base + first + i` for each set bit `i` of a `width`-bit mask part, most significant first.
fn push_mask(out: &mut Vec<u16>, base: u16, first: u16, part: u64, width: u16) {
    for i in 0..width {
        if (part >> (width - 1 - i)) & 1 == 1 {
            out.push(base.wrapping_add(first + i));
        }
    }
}

/// ULPFEC (RFC 5109): `payload` is the FEC payload (what follows the RTP header, or a RED block's data).
///
/// Reads the FEC header and the level-0 ULP header and payload (RFC 5109 §7.3,
/// §7.4); further levels are ignored. The E bit is ignored as §7.3 asks.
pub fn parse_ulpfec(payload: &[u8]) -> Result<RepairPacket, FecError> {
    let mut r = Reader {
        data: payload,
        pos: 0,
    };
    // E L P X CC / M PT, then SN base, TS recovery, length recovery (§7.3).
    let head = r.array::<2>()?;
    let sn_base = r.u16()?;
    let ts = r.u32()?;
    let length = r.u16()?;
    // Level 0: protection length, then a 16-bit mask, or 48 bits when L is set (§7.4).
    let protection_length = r.u16()?;
    let (mask, width) = if head[0] & 0x40 != 0 {
        let m = r.array::<6>()?;
        let mut wide = [0; 8];
        wide[2..].copy_from_slice(&m);
        (u64::from_be_bytes(wide), 48)
    } else {
        (u64::from(r.u16()?), 16)
    };
    let data = r.take(usize::from(protection_length))?.to_vec();
    let mut protected = Vec::new();
    push_mask(&mut protected, sn_base, 0, mask, width);
    Ok(RepairPacket {
        protected,
        head,
        ts,
        length,
        data,
    })
}

/// The CSRC list of an RTP packet and a reader at its payload, RTP padding cut off (RFC 3550 §5.1, §5.3.1).
fn rtp_payload(packet: &[u8]) -> Result<(Vec<u32>, Reader<'_>), FecError> {
    let mut r = Reader {
        data: packet,
        pos: 0,
    };
    let fixed = r.array::<RTP_HEADER>()?;
    if fixed[0] >> 6 != 2 {
        return Err(FecError::Malformed("RTP version is not 2"));
    }
    let csrcs = (0..fixed[0] & 0x0f)
        .map(|_| r.u32())
        .collect::<Result<Vec<_>, _>>()?;
    if fixed[0] & 0x10 != 0 {
        let _profile = r.u16()?;
        let words = r.u16()?;
        r.take(usize::from(words) * 4)?;
    }
    let mut end = packet.len();
    if fixed[0] & 0x20 != 0 {
        // The last octet counts the padding, itself included.
        let pad = usize::from(packet.last().copied().unwrap_or(0));
        if pad == 0 || pad > end.saturating_sub(r.pos) {
            return Err(FecError::Malformed("RTP padding exceeds the payload"));
        }
        end -= pad;
    }
    let data = packet.get(..end).unwrap_or_default();
    Ok((csrcs, Reader { data, pos: r.pos }))
}

/// The fields both FlexFEC formats start with: R F P X CC / M PT, length recovery, TS recovery.
///
/// The order differs from ULPFEC (length before TS). Only the flexible mask
/// (R=0, F=0) is implemented: retransmission (R=1) and fixed L/D masks (F=1)
/// are reported as unsupported (RFC 8627 §4.2.2).
fn flex_base(r: &mut Reader<'_>) -> Result<([u8; 2], u16, u32), FecError> {
    let head = r.array::<2>()?;
    let length = r.u16()?;
    let ts = r.u32()?;
    match head[0] >> 6 {
        0b00 => Ok((head, length, ts)),
        0b10 => Err(FecError::Unsupported("FlexFEC retransmission (R=1)")),
        0b01 => Err(FecError::Unsupported("FlexFEC fixed L/D mask (F=1)")),
        _ => Err(FecError::Malformed("FlexFEC R and F both set")),
    }
}

/// Which flexible mask layout to read: they differ only in the last part.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MaskLayout {
    /// RFC 8627: the third part is 64 mask bits (46-109), no k-bit.
    Rfc8627,
    /// Draft 03: the third part is a k-bit, which must be set, and 63 mask bits (46-108).
    Draft03,
}

/// Reads one SN base and flexible mask; returns the protected sequence numbers.
fn flex_mask(r: &mut Reader<'_>, layout: MaskLayout) -> Result<Vec<u16>, FecError> {
    let base = r.u16()?;
    let mut protected = Vec::new();
    let part0 = r.u16()?;
    push_mask(&mut protected, base, 0, u64::from(part0 & 0x7fff), 15);
    if part0 & 0x8000 != 0 {
        return Ok(protected);
    }
    let part1 = r.u32()?;
    push_mask(&mut protected, base, 15, u64::from(part1 & 0x7fff_ffff), 31);
    if part1 & 0x8000_0000 != 0 {
        return Ok(protected);
    }
    let part2 = r.u64()?;
    match layout {
        MaskLayout::Rfc8627 => push_mask(&mut protected, base, 46, part2, 64),
        MaskLayout::Draft03 => {
            // libwebrtc rejects a last part whose k-bit is clear; so do we.
            if part2 >> 63 == 0 {
                return Err(FecError::Malformed(
                    "flexfec-03 mask without its final k-bit",
                ));
            }
            push_mask(&mut protected, base, 46, part2 & (u64::MAX >> 1), 63);
        }
    }
    Ok(protected)
}

/// Picks the mask of `media_ssrc` out of all SSRC entries of a FlexFEC packet.
///
/// The repair data is the XOR over every protected packet of every SSRC, so a
/// packet that also protects another SSRC's packets cannot be used by a
/// one-SSRC decoder: that is unsupported. Other entries with empty masks are fine.
fn pick_ssrc(entries: Vec<(u32, Vec<u16>)>, media_ssrc: u32) -> Result<Vec<u16>, FecError> {
    let Some(mine) = entries.iter().position(|(ssrc, _)| *ssrc == media_ssrc) else {
        return Err(FecError::NotForSsrc);
    };
    let mut protected = None;
    for (i, (_, set)) in entries.into_iter().enumerate() {
        if i == mine {
            protected = Some(set);
        } else if !set.is_empty() {
            return Err(FecError::Unsupported("FlexFEC repair across several SSRCs"));
        }
    }
    protected.ok_or(FecError::NotForSsrc)
}

/// FlexFEC (RFC 8627): the whole RTP packet of the repair stream (its CSRC list names the protected SSRCs); the part protecting `media_ssrc`.
///
/// Flexible mask only (§4.2.2.1): per CSRC, in list order, `SN base | k |
/// mask[0-14]`, then `k | mask[15-45]` if k was 0, then `mask[46-109]` if that
/// k was 0. The repair payload follows the last mask, up to the RTP padding.
pub fn parse_flexfec(packet: &[u8], media_ssrc: u32) -> Result<RepairPacket, FecError> {
    let (csrcs, mut r) = rtp_payload(packet)?;
    let (head, length, ts) = flex_base(&mut r)?;
    if !csrcs.contains(&media_ssrc) {
        return Err(FecError::NotForSsrc);
    }
    let entries = csrcs
        .into_iter()
        .map(|ssrc| Ok((ssrc, flex_mask(&mut r, MaskLayout::Rfc8627)?)))
        .collect::<Result<Vec<_>, FecError>>()?;
    flex_repair(entries, media_ssrc, (head, length, ts), r.rest())
}

/// FlexFEC draft 03 as libwebrtc sends it ("flexfec-03"): the whole RTP packet; the part protecting `media_ssrc`.
///
/// After TS recovery: `SSRCCount(8) | reserved(24)`, then per SSRC `SSRC(32)`,
/// `SN base | k | mask[0-14]`, `k | mask[15-45]` if k was 0, `k | mask[46-108]`
/// if that k was 0 (this last k must be 1). libwebrtc sends one SSRC; several
/// are read, and the RTP CSRC list is ignored.
pub fn parse_flexfec03(packet: &[u8], media_ssrc: u32) -> Result<RepairPacket, FecError> {
    let (_csrcs, mut r) = rtp_payload(packet)?;
    let (head, length, ts) = flex_base(&mut r)?;
    let count = r.u8()?;
    let _reserved = r.take(3)?;
    let entries = (0..count)
        .map(|_| {
            let ssrc = r.u32()?;
            Ok((ssrc, flex_mask(&mut r, MaskLayout::Draft03)?))
        })
        .collect::<Result<Vec<_>, FecError>>()?;
    flex_repair(entries, media_ssrc, (head, length, ts), r.rest())
}

/// The repair packet of `media_ssrc`'s entry: the FlexFEC base header fields
/// (head, length and TS recovery) and the repair payload.
fn flex_repair(
    entries: Vec<(u32, Vec<u16>)>,
    media_ssrc: u32,
    (head, length, ts): ([u8; 2], u16, u32),
    data: &[u8],
) -> Result<RepairPacket, FecError> {
    Ok(RepairPacket {
        protected: pick_ssrc(entries, media_ssrc)?,
        head,
        ts,
        length,
        data: data.to_vec(),
    })
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FecStats {
    /// Repair packets added.
    pub repair_packets: u64,
    /// Media packets recovered.
    pub recovered: u64,
    /// Repair packets given up while a packet they protect was missing.
    pub unrecoverable: u64,
}

/// Recovers lost media packets of one SSRC from repair packets (bounded memory).
///
/// A repair packet missing exactly one packet recovers it; one missing none is
/// dropped; one missing more waits for packets to arrive or be recovered, up
/// to [`MAX_PENDING_REPAIRS`] (the oldest is given up first). Recovery repeats
/// until nothing more can be recovered, since a recovered packet can complete
/// another repair packet's set.
///
/// Sequence numbers are compared with wrapping arithmetic relative to the
/// newest packet held. A repair packet naming a sequence number older than
/// the window is dropped: the decoder cannot tell whether that packet arrived,
/// and it must never "recover" one that did. A media packet from
/// [`SOURCE_WINDOW`] to 2^15 sequence numbers behind the newest (wrapping) is
/// taken as a sequence restart and empties the decoder, so a sender that
/// jumps its sequence numbers does not stall recovery. A repair packet whose one
/// missing packet has simply not arrived yet (reordering) recovers it early;
/// the real packet is then a duplicate.
#[derive(Clone, Debug)]
pub struct FecDecoder {
    /// Slot `seq % SOURCE_WINDOW`; an entry is held only while inside the window.
    sources: Vec<Option<FecSource>>,
    /// Sequence number of the newest packet held.
    newest: Option<u16>,
    /// Bytes of the packets in `sources` (their bodies).
    source_bytes: usize,
    /// The newest sequence number [`FecDecoder::shed_oldest`] let go of: it and
    /// those before it in the window arrived, though they are no longer held.
    shed_upto: Option<u16>,
    /// Repair packets missing two or more packets, oldest first.
    repairs: VecDeque<RepairPacket>,
    stats: FecStats,
}

impl Default for FecDecoder {
    fn default() -> Self {
        FecDecoder::new()
    }
}

impl FecDecoder {
    /// An empty decoder.
    pub fn new() -> FecDecoder {
        FecDecoder {
            sources: vec![None; usize::from(SOURCE_WINDOW)],
            newest: None,
            source_bytes: 0,
            shed_upto: None,
            repairs: VecDeque::new(),
            stats: FecStats::default(),
        }
    }

    /// Remembers a media packet as it was received; returns packets a held repair packet can now recover.
    pub fn add_source(&mut self, s: FecSource) -> Vec<FecSource> {
        let seq = s.seq;
        if !self.remember(s) {
            return Vec::new();
        }
        if self.repairs.iter().any(|r| r.protected.contains(&seq)) {
            self.recover_all()
        } else {
            Vec::new()
        }
    }

    /// Adds a repair packet; returns the media packets recovered (also remembered as sources), in sequence order.
    pub fn add_repair(&mut self, r: RepairPacket) -> Vec<FecSource> {
        self.stats.repair_packets += 1;
        // Late beyond the window: whether its packets arrived is forgotten. Far
        // ahead of the newest packet: a repair is sent after what it protects, so
        // that is damage or another stream, and "recovering" it would invent a packet.
        if r.protected
            .iter()
            .any(|&seq| self.is_stale(seq) || self.is_far_ahead(seq))
        {
            return Vec::new();
        }
        self.repairs.push_back(r);
        let out = self.recover_all();
        while self.repairs.len() > MAX_PENDING_REPAIRS {
            // Everything still pending misses at least two packets.
            self.repairs.pop_front();
            self.stats.unrecoverable += 1;
        }
        out
    }

    /// Counters so far.
    pub fn stats(&self) -> FecStats {
        self.stats
    }

    /// Whether the media packet with this sequence number is held (received or recovered, inside the window).
    pub fn holds(&self, seq: u16) -> bool {
        self.get(seq).is_some()
    }

    /// How many repair packets wait for missing packets (at most [`MAX_PENDING_REPAIRS`]).
    pub fn pending(&self) -> usize {
        self.repairs.len()
    }

    /// The held packet with this sequence number.
    fn get(&self, seq: u16) -> Option<&FecSource> {
        let newest = self.newest?;
        if newest.wrapping_sub(seq) >= SOURCE_WINDOW {
            return None;
        }
        // A slot may still hold a packet that has left the window: check its number.
        self.sources
            .get(usize::from(seq % SOURCE_WINDOW))?
            .as_ref()
            .filter(|s| s.seq == seq)
    }

    /// Whether `seq` is behind the window, rather than in it or ahead of the newest.
    fn is_far_ahead(&self, seq: u16) -> bool {
        self.newest
            .is_some_and(|n| (MAX_AHEAD + 1..0x8000).contains(&seq.wrapping_sub(n)))
    }

    fn is_stale(&self, seq: u16) -> bool {
        self.newest.is_some_and(|n| behind_window(n, seq))
    }

    /// Stores a source; false for duplicates. Moves the window, or restarts on a far jump.
    fn remember(&mut self, s: FecSource) -> bool {
        if self.holds(s.seq) {
            return false;
        }
        if self.is_stale(s.seq) {
            // A restart (or a stray far packet): what is held no longer relates to it.
            self.stats.unrecoverable += self.repairs.len() as u64;
            self.repairs.clear();
            self.sources.iter_mut().for_each(|slot| *slot = None);
            self.source_bytes = 0;
            self.shed_upto = None;
            self.newest = None;
        }
        let seq = s.seq;
        let ahead = self
            .newest
            .is_none_or(|n| (1..0x8000).contains(&seq.wrapping_sub(n)));
        if let Some(slot) = self.sources.get_mut(usize::from(seq % SOURCE_WINDOW)) {
            let old = slot.replace(s);
            self.source_bytes += slot.as_ref().map_or(0, |s| s.body.len());
            self.source_bytes -= old.map_or(0, |o| o.body.len());
        }
        if ahead {
            self.newest = Some(seq);
            // A repair packet naming a packet that just left the window could
            // take it for lost: give it up. Masks list sequence numbers from SN
            // base upwards over at most 110, so the first is the oldest.
            let before = self.repairs.len();
            self.repairs
                .retain(|r| r.protected.first().is_none_or(|&f| !behind_window(seq, f)));
            self.stats.unrecoverable += (before - self.repairs.len()) as u64;
        }
        if self.source_bytes > MAX_SOURCE_BYTES {
            self.shed_oldest();
        }
        true
    }

    /// Forgets the oldest media packets until [`MAX_SOURCE_BYTES`] are held.
    fn shed_oldest(&mut self) {
        let Some(newest) = self.newest else { return };
        // Every slot's packet is one of the window's 1,024 sequence numbers or
        // stale: going up from the oldest visits each slot once.
        let mut seq = newest.wrapping_sub(SOURCE_WINDOW - 1);
        while self.source_bytes > MAX_SOURCE_BYTES && seq != newest {
            if let Some(old) = self.sources[usize::from(seq % SOURCE_WINDOW)].take() {
                self.source_bytes -= old.body.len();
                self.shed_upto = Some(seq);
            }
            seq = seq.wrapping_add(1);
        }
    }

    /// Whether `seq` arrived but was let go by [`FecDecoder::shed_oldest`]: a
    /// repair packet missing only it must not "recover" it.
    fn is_shed(&self, seq: u16) -> bool {
        self.shed_upto
            .is_some_and(|s| s.wrapping_sub(seq) < SOURCE_WINDOW && !self.holds(seq))
    }

    /// Uses every repair packet missing exactly one packet, until none is left; drops those missing none.
    fn recover_all(&mut self) -> Vec<FecSource> {
        let mut out = Vec::new();
        'again: loop {
            for i in 0..self.repairs.len() {
                let mut missing = self.repairs[i]
                    .protected
                    .iter()
                    .copied()
                    .filter(|&seq| !self.holds(seq));
                let (first, second) = (missing.next(), missing.next());
                match (first, second) {
                    (_, Some(_)) => continue,
                    (None, None) => {
                        self.repairs.remove(i);
                    }
                    (Some(lost), None) => {
                        let Some(r) = self.repairs.remove(i) else {
                            continue 'again;
                        };
                        if self.is_shed(lost) {
                            // It arrived: rebuilding it would make a duplicate.
                            self.stats.unrecoverable += 1;
                            continue 'again;
                        }
                        match self.rebuild(&r, lost) {
                            Some(s) => {
                                self.stats.recovered += 1;
                                self.remember(s.clone());
                                out.push(s);
                            }
                            None => self.stats.unrecoverable += 1,
                        }
                    }
                }
                // The list changed (and the window may have moved): scan again.
                continue 'again;
            }
            break;
        }
        if let Some(newest) = self.newest {
            // Signed distance from the newest: sequence order across the wrap.
            out.sort_by_key(|s| s.seq.wrapping_sub(newest) as i16);
        }
        out
    }

    /// XORs the repair with every other protected packet (all held) to rebuild `lost`.
    ///
    /// None if the rebuilt length runs past the repair data, e.g. a ULPFEC
    /// packet longer than the level-0 protection length (RFC 5109 §7.4).
    fn rebuild(&self, r: &RepairPacket, lost: u16) -> Option<FecSource> {
        let others = || {
            r.protected
                .iter()
                .filter(move |&&seq| seq != lost)
                .map(|&seq| self.get(seq))
        };
        let (mut head, mut ts, mut length) = (r.head, r.ts, r.length);
        for s in others() {
            let s = s?;
            head[0] ^= s.head[0];
            head[1] ^= s.head[1];
            ts ^= s.ts;
            length ^= s.length();
        }
        let mut body = r.data.get(..usize::from(length))?.to_vec();
        for s in others().flatten() {
            body.iter_mut().zip(&s.body).for_each(|(b, x)| *b ^= x);
        }
        // The V bits carried format flags (E/L or R/F); a recovered packet is version 2.
        head[0] = (head[0] & 0x3f) | 0x80;
        Some(FecSource {
            seq: lost,
            head,
            ts,
            body,
        })
    }
}

/// Whether `seq` is behind the window that ends at `newest` (wrapping; the
/// half of the sequence space ahead of `newest` is not behind).
fn behind_window(newest: u16, seq: u16) -> bool {
    (SOURCE_WINDOW..=0x8000).contains(&newest.wrapping_sub(seq))
}

#[cfg(test)]
mod tests;
