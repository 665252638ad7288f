//! Access-unit assembly shared by H.264 (RFC 6184) and H.265 (RFC 7798).
//!
//! The packet formats differ (1- or 2-byte NAL headers, STAP-A/FU-A vs AP/FU)
//! but what happens to whole NAL units is the same, so `h264.rs` and
//! `h265.rs` parse their packets and hand complete NAL units or fragments
//! here. Output frames are AVCC/HVCC samples: each NAL unit preceded by its
//! 4-byte big-endian length, as MP4 (ISO/IEC 14496-15) stores them.
//!
//! Parameter sets travel in-band: every keyframe a `Frame` carries starts
//! with the parameter sets in effect (VPS/SPS/PPS from the access unit, else
//! the latest seen in-band, else SDP `sprop-*`), so `Frame` needs no new field
//! and the MP4 writer builds `avcC`/`hvcC` from the first keyframe. A keyframe
//! for which a parameter set never arrived is not a keyframe (it cannot be
//! decoded) and is dropped while waiting for one.
//!
//! Loss: a gap breaks the access unit in progress (dropped) and the next one
//! unless its first slice is the first of the picture (H.264
//! `first_mb_in_slice == 0`, H.265 `first_slice_segment_in_pic_flag`), since
//! the lost packets may have been its start; then frames are dropped until the
//! next IDR/IRAP (the [`Assembler`] waits for a keyframe).

use super::{Assembler, DepackError, Malformed};
use crate::codec::h26x::split_length_prefixed;
use crate::codec::{h264, h265};
use crate::media::{Frame, RtpIn};

/// Which of the two codecs: NAL header layout and type numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flavor {
    H264,
    H265,
}

/// Slot of a parameter set in [`Core::params`].
const VPS: usize = 0;
const SPS: usize = 1;
const PPS: usize = 2;

/// Largest parameter set kept (they are tens of bytes; bounds SDP and in-band input).
const MAX_PARAM_SET: usize = 4096;

impl Flavor {
    /// NAL unit type from the header (first byte(s)); `u8::MAX` when the header is cut.
    fn nal_type(self, nal: &[u8]) -> u8 {
        match (self, nal) {
            (Flavor::H264, [b0, ..]) => h264::NalHeader::from_byte(*b0).nal_type,
            (Flavor::H265, [b0, b1, ..]) => h265::NalHeader::from_bytes(*b0, *b1).nal_type,
            // Not a NAL unit of this flavor: a type no table below has.
            _ => u8::MAX,
        }
    }

    fn header_len(self) -> usize {
        match self {
            Flavor::H264 => 1,
            Flavor::H265 => 2,
        }
    }

    /// The parameter-set slot of a NAL unit type.
    fn param_slot(self, t: u8) -> Option<usize> {
        match (self, t) {
            (Flavor::H264, h264::NAL_SPS) | (Flavor::H265, h265::NAL_SPS) => Some(SPS),
            (Flavor::H264, h264::NAL_PPS) | (Flavor::H265, h265::NAL_PPS) => Some(PPS),
            (Flavor::H265, h265::NAL_VPS) => Some(VPS),
            _ => None,
        }
    }

    /// Slots a decoder needs before a keyframe.
    fn needed(self) -> &'static [usize] {
        match self {
            Flavor::H264 => &[SPS, PPS],
            Flavor::H265 => &[VPS, SPS, PPS],
        }
    }

    /// Coded slice (VCL) NAL unit types.
    fn is_vcl(self, t: u8) -> bool {
        match self {
            Flavor::H264 => (1..=5).contains(&t),
            Flavor::H265 => t <= 31,
        }
    }

    /// IDR (H.264 type 5) or IRAP (H.265 16..=23): decodable without earlier pictures.
    fn is_key(self, t: u8) -> bool {
        match self {
            Flavor::H264 => t == h264::NAL_IDR,
            Flavor::H265 => (16..=23).contains(&t),
        }
    }

    /// True when a complete VCL NAL unit is the first slice of its picture.
    fn first_slice(self, nal: &[u8]) -> bool {
        let Some(body) = nal.get(self.header_len()..) else {
            return false;
        };
        // H.264 §7.3.3: first_mb_in_slice ue(v) is 0 exactly when the first bit is 1.
        // H.265 §7.3.6.1: first_slice_segment_in_pic_flag is the first bit.
        body.first().is_some_and(|b| b & 0x80 != 0)
    }

    /// Coded size from an SPS NAL unit, when it parses.
    fn dimensions(self, sps: &[u8]) -> Option<(u16, u16)> {
        match self {
            Flavor::H264 => h264::parse_sps(sps).ok().map(|s| s.dimensions()),
            Flavor::H265 => h265::parse_sps(sps).ok().map(|s| s.dimensions()),
        }
    }
}

/// Flags of the access unit in progress.
#[derive(Debug, Default)]
struct AuFlags {
    /// Parameter sets carried in this access unit, by slot.
    has: [bool; 3],
    /// A VCL NAL unit was added.
    vcl: bool,
    /// Packets were lost before this AU: its first slice must start the picture.
    check_start: bool,
    /// H.264 recovery point SEI: `recovery_frame_cnt`.
    recovery: Option<u32>,
}

/// A fragmented NAL unit being joined (FU-A, H.265 FU).
#[derive(Debug)]
struct Fu {
    /// Offset of its 4-byte length prefix in the frame data.
    len_pos: usize,
}

/// NAL units to access units; see the module doc.
#[derive(Debug)]
pub(super) struct Core {
    pub(super) asm: Assembler,
    flavor: Flavor,
    /// Parameter sets in effect (latest wins): VPS, SPS, PPS.
    params: [Option<Vec<u8>>; 3],
    au: AuFlags,
    fu: Option<Fu>,
    /// Set by loss (and at the start): the next AU must begin with its first slice.
    pending_check: bool,
}

impl Core {
    pub(super) fn new(flavor: Flavor) -> Self {
        Core {
            asm: Assembler::new(true),
            flavor,
            params: [None, None, None],
            au: AuFlags::default(),
            fu: None,
            // A capture may start in the middle of an access unit.
            pending_check: true,
        }
    }

    /// Stores an out-of-band parameter set (SDP `sprop-*`); other NAL types are ignored.
    pub(super) fn set_param(&mut self, nal: &[u8]) -> bool {
        if nal.len() < self.flavor.header_len() || nal.len() > MAX_PARAM_SET {
            return false;
        }
        match self.flavor.param_slot(self.flavor.nal_type(nal)) {
            Some(slot) => {
                self.params[slot] = Some(nal.to_vec());
                true
            }
            None => false,
        }
    }

    /// The parameter sets in effect: (VPS, SPS, PPS); VPS is always `None` for H.264.
    pub(super) fn params(&self) -> [Option<&[u8]>; 3] {
        [
            self.params[VPS].as_deref(),
            self.params[SPS].as_deref(),
            self.params[PPS].as_deref(),
        ]
    }

    /// Starts a packet: counts it, notices loss, closes an AU of another timestamp.
    pub(super) fn begin(&mut self, pkt: &RtpIn<'_>) -> Result<(), DepackError> {
        let lost = self.asm.last_seq.is_some_and(|l| pkt.seq > l + 1);
        self.asm.begin_packet(pkt)?;
        if lost {
            self.note_loss();
        }
        // A new timestamp closes the AU even when its marker packet was lost.
        if self.asm.other_ts(pkt.ts) {
            self.finish_au();
        }
        if pkt.payload.is_empty() {
            return Err(self.asm.malformed(pkt, Malformed::EmptyPayload, false));
        }
        Ok(())
    }

    /// Loss reported by the reorder buffer (or noticed from sequence numbers).
    pub(super) fn gap(&mut self, lost: u64) {
        self.asm.gap(lost);
        self.note_loss();
    }

    fn note_loss(&mut self) {
        self.fu = None;
        self.pending_check = true;
    }

    /// Counts a malformed packet and breaks the AU it belongs to.
    pub(super) fn malformed(&mut self, pkt: &RtpIn<'_>, reason: Malformed) -> DepackError {
        self.fu = None;
        self.pending_check = true;
        self.asm.malformed(pkt, reason, true)
    }

    /// The AU at the packet's timestamp, started if none is in progress.
    fn ensure_au(&mut self, ts: u64) {
        if self.asm.cur.is_none() {
            self.asm.start(ts);
            self.au = AuFlags {
                check_start: std::mem::take(&mut self.pending_check),
                ..AuFlags::default()
            };
        }
    }

    fn intact(&self) -> bool {
        self.asm.cur.as_ref().is_some_and(|p| !p.broken)
    }

    /// Adds one complete NAL unit (single NAL packet or aggregated unit).
    pub(super) fn nal(&mut self, pkt: &RtpIn<'_>, nal: &[u8]) -> Result<(), DepackError> {
        if self.fu.is_some() {
            // RFC 6184 §5.8 / RFC 7798 §4.4.3: a fragmented NAL unit ends with E=1
            // before anything else of the stream is sent.
            return Err(self.malformed(pkt, Malformed::Fragment));
        }
        self.ensure_au(pkt.ts);
        if !self.intact() {
            return Ok(());
        }
        let len = u32::try_from(nal.len()).unwrap_or(u32::MAX);
        self.asm.append(pkt, &len.to_be_bytes())?;
        self.asm.append(pkt, nal)?;
        self.complete(nal);
        Ok(())
    }

    /// Starts a fragmented NAL unit with its reconstructed header and first bytes.
    pub(super) fn fu_start(
        &mut self,
        pkt: &RtpIn<'_>,
        header: &[u8],
        data: &[u8],
    ) -> Result<(), DepackError> {
        if self.fu.is_some() {
            return Err(self.malformed(pkt, Malformed::Fragment));
        }
        self.ensure_au(pkt.ts);
        if !self.intact() {
            return Ok(());
        }
        let len_pos = self.asm.cur.as_ref().map_or(0, |p| p.data.len());
        self.asm.append(pkt, &[0; 4])?;
        self.asm.append(pkt, header)?;
        self.asm.append(pkt, data)?;
        if self.intact() {
            self.fu = Some(Fu { len_pos });
        }
        Ok(())
    }

    /// Continues (and with `end`, completes) the fragmented NAL unit in progress.
    pub(super) fn fu_continue(
        &mut self,
        pkt: &RtpIn<'_>,
        data: &[u8],
        end: bool,
    ) -> Result<(), DepackError> {
        if self.fu.is_none() {
            let broken = self.asm.cur.as_ref().is_some_and(|p| p.broken);
            if broken || (self.asm.cur.is_none() && self.pending_check) {
                // Its start was lost (or the AU is already broken): the AU cannot be completed.
                self.ensure_au(pkt.ts);
                self.asm.gap(0);
                return Ok(());
            }
            // A middle or end fragment without a start, no packet lost: sender error.
            return Err(self.malformed(pkt, Malformed::Fragment));
        }
        let appended = self.asm.append(pkt, data);
        if !self.intact() {
            // Too large (the AU is dropped): no fragment is open any more.
            self.fu = None;
            return appended;
        }
        if end {
            let fu = self.fu.take().expect("checked is_some above");
            let Some(p) = self.asm.cur.as_mut() else {
                return Ok(());
            };
            let nal_len = p.data.len() - fu.len_pos - 4;
            let len = u32::try_from(nal_len).unwrap_or(u32::MAX).to_be_bytes();
            p.data[fu.len_pos..fu.len_pos + 4].copy_from_slice(&len);
            let nal = p.data[fu.len_pos + 4..].to_vec();
            self.complete(&nal);
        }
        Ok(())
    }

    /// Bookkeeping for a NAL unit now complete in the AU.
    fn complete(&mut self, nal: &[u8]) {
        let t = self.flavor.nal_type(nal);
        if let Some(slot) = self.flavor.param_slot(t) {
            self.au.has[slot] = true;
            if nal.len() <= MAX_PARAM_SET {
                self.params[slot] = Some(nal.to_vec());
            }
        }
        if self.flavor == Flavor::H264 && t == h264::NAL_SEI && self.au.recovery.is_none() {
            self.au.recovery = h264::sei_recovery_frame_cnt(nal);
        }
        if self.flavor.is_vcl(t) {
            if !self.au.vcl && self.au.check_start && !self.flavor.first_slice(nal) {
                // The picture's first slice was lost with the packets before this AU.
                self.asm.gap(0);
                self.fu = None;
            }
            self.au.vcl = true;
            if self.flavor.is_key(t)
                && let Some(p) = self.asm.cur.as_mut()
            {
                p.keyframe = true;
            }
        }
    }

    /// Ends the AU in progress (marker bit, new timestamp, flush): emits or drops it.
    pub(super) fn finish_au(&mut self) {
        if self.fu.take().is_some() {
            // Its last fragment never came.
            self.asm.gap(0);
        }
        let flavor = self.flavor;
        let au = std::mem::take(&mut self.au);
        let started = self.asm.stats.frames > 0;
        if let Some(p) = self.asm.cur.as_mut().filter(|p| !p.broken) {
            if au.vcl && !p.keyframe && au.recovery == Some(0) {
                // H.264 §D.2.8: with recovery_frame_cnt 0, decoding can start at this very
                // picture and every picture from it on is correct: a random access point.
                p.keyframe = true;
            } else if au.vcl && au.recovery.is_some() && started {
                // Gradual decoding refresh (intra refresh, e.g. sippscen's camera): after
                // loss, a recovery point is where decoding may resume (§D.2.8), pictures
                // correct again after recovery_frame_cnt frames. Resume there rather than
                // wait for an IDR that may never come, but not as a sync sample.
                self.asm.need_keyframe = false;
            }
            if !au.vcl {
                // Parameter sets or SEI alone: nothing to show; keep them for later.
                p.data.clear();
            } else if p.keyframe {
                let mut prefix = Vec::new();
                for &slot in flavor.needed() {
                    if au.has[slot] {
                        continue;
                    }
                    match &self.params[slot] {
                        Some(ps) => {
                            prefix.extend_from_slice(&(ps.len() as u32).to_be_bytes());
                            prefix.extend_from_slice(ps);
                        }
                        // Never decodable: drop it like an inter frame before a keyframe.
                        None => p.keyframe = false,
                    }
                }
                if p.keyframe {
                    if !prefix.is_empty() {
                        prefix.extend_from_slice(&p.data);
                        p.data = prefix;
                    }
                    p.dimensions = self.params[SPS]
                        .as_deref()
                        .and_then(|s| flavor.dimensions(s));
                }
            }
            if p.data.is_empty() {
                // Not media: neither a frame nor a loss.
                self.asm.cur = None;
                self.pending_check |= au.check_start;
                return;
            }
        }
        self.asm.end_frame();
    }

    /// Ends the track: an AU without its marker packet is dropped as incomplete.
    pub(super) fn flush(&mut self) {
        self.fu = None;
        self.asm.drop_in_progress();
        self.au = AuFlags::default();
    }

    pub(super) fn pull(&mut self) -> Option<Frame> {
        self.asm.out.pop_front()
    }

    pub(super) fn check_invariants(&self) {
        self.asm.check_invariants();
        if let Some(fu) = &self.fu {
            let p = self.asm.cur.as_ref().expect("a fragment lives in an AU");
            assert!(!p.broken, "fragment open in a broken AU");
            assert!(fu.len_pos + 4 + self.flavor.header_len() <= p.data.len());
        }
        for f in &self.asm.out {
            let nals =
                split_length_prefixed(&f.data).expect("frames are length-prefixed NAL units");
            assert!(nals.iter().all(|n| n.len() >= self.flavor.header_len()));
            if f.keyframe {
                let types: Vec<u8> = nals.iter().map(|n| self.flavor.nal_type(n)).collect();
                // An H.264 recovery point (SEI, type 6) with recovery_frame_cnt 0 counts too.
                let sei = self.flavor == Flavor::H264 && types.contains(&h264::NAL_SEI);
                assert!(
                    sei || types.iter().any(|&t| self.flavor.is_key(t)),
                    "keyframe without IDR/IRAP"
                );
                for &slot in self.flavor.needed() {
                    assert!(
                        types
                            .iter()
                            .any(|&t| self.flavor.param_slot(t) == Some(slot)),
                        "keyframe without its parameter sets"
                    );
                }
            }
        }
    }
}

/// The NAL units of an SDP `sprop-*` value: base64, comma-separated (RFC 6184 §8.1,
/// RFC 7798 §7.1); entries that are not base64 are skipped.
pub(super) fn sprop_nal_units(value: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    value
        .split(',')
        .filter_map(|s| crate::srtp::decode_base64(s.trim()))
}

/// The value of `key` in an fmtp string (`a=fmtp:` parameters, `;`-separated).
pub(super) fn fmtp_param<'a>(fmtp: &'a str, key: &str) -> Option<&'a str> {
    fmtp.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmtp_params() {
        assert_eq!(
            fmtp_param(
                "packetization-mode=1; sprop-parameter-sets=Z0I=,aM4=",
                "sprop-parameter-sets"
            ),
            Some("Z0I=,aM4=")
        );
        assert_eq!(fmtp_param("a=1", "b"), None);
    }

    #[test]
    fn sprop_values() {
        let units: Vec<Vec<u8>> = sprop_nal_units("Z0IAH5WoFAFuQA==, aM4xsg,a*").collect();
        assert_eq!(
            units,
            [
                vec![0x67, 0x42, 0, 0x1f, 0x95, 0xa8, 0x14, 1, 0x6e, 0x40],
                vec![0x68, 0xce, 0x31, 0xb2]
            ]
        );
    }
}
