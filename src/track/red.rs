//! RED (RFC 2198): redundant audio blocks, as Chrome sends for Opus.
//!
//! A RED payload is a list of block headers then the blocks. Each header but
//! the last is 4 bytes: F=1 (1 bit), block PT (7), timestamp offset (14) and
//! block length (10); the last header is 1 byte, F=0 and PT, and its block
//! (the primary) takes the rest of the payload (RFC 2198 §3).
//!
//! A redundant block carries no sequence number, only its timestamp offset
//! from the primary (RFC 2198 §3): the packet it repeats is the one whose
//! timestamp is the primary's minus the offset, however many packets back that
//! is (libwebrtc repeats 1..n back, GStreamer `rtpredenc distance=2` only the
//! packet two back). [`RedHistory`] finds that packet by timestamp.

/// One block of a RED payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedBlock<'a> {
    /// Payload type of the block's data.
    pub pt: u8,
    /// How far before the RED packet's timestamp this block's data was (0 for the primary).
    pub ts_offset: u16,
    /// The block's data.
    pub data: &'a [u8],
}

/// Why a RED payload could not be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedError {
    /// The headers run past the payload.
    #[error("RED block headers truncated")]
    Truncated,
    /// The declared block lengths exceed the payload.
    #[error("RED block lengths exceed the payload")]
    Lengths,
}

/// Splits a RED payload into its blocks, oldest first, primary last.
pub fn split(payload: &[u8]) -> Result<Vec<RedBlock<'_>>, RedError> {
    let mut headers = Vec::new();
    let mut pos = 0;
    loop {
        let &first = payload.get(pos).ok_or(RedError::Truncated)?;
        if first & 0x80 == 0 {
            headers.push((first & 0x7f, 0u16, None));
            pos += 1;
            break;
        }
        let h = payload.get(pos..pos + 4).ok_or(RedError::Truncated)?;
        let ts_offset = (u16::from(h[1]) << 6) | u16::from(h[2] >> 2);
        let len = (usize::from(h[2] & 0x03) << 8) | usize::from(h[3]);
        headers.push((first & 0x7f, ts_offset, Some(len)));
        pos += 4;
    }
    let mut blocks = Vec::with_capacity(headers.len());
    for (pt, ts_offset, len) in headers {
        let len = len.unwrap_or(payload.len().saturating_sub(pos));
        let data = payload.get(pos..pos + len).ok_or(RedError::Lengths)?;
        pos += len;
        blocks.push(RedBlock {
            pt,
            ts_offset,
            data,
        });
    }
    Ok(blocks)
}

/// How many sequence numbers before a RED packet a redundant block is looked for.
///
/// RFC 2198 §3's 14-bit offset reaches 16383 ticks, 17 packets of 20 ms Opus;
/// 64 leaves room for shorter packets.
pub const MAX_DISTANCE: u16 = 64;

/// Largest timestamp offset a block header can carry (14 bits, RFC 2198 §3).
const MAX_OFFSET: u32 = (1 << 14) - 1;

/// Timestamps of a RED stream's recent packets by sequence number: which
/// packet a redundant block repeats (RFC 2198 §3 carries only its timestamp).
#[derive(Clone, Debug)]
pub struct RedHistory {
    /// `(seq, ts)` of packets that arrived or were restored, at `seq % MAX_DISTANCE`.
    slots: Vec<Option<(u16, u32)>>,
    /// Timestamp step between the last two consecutive packets seen.
    step: Option<u32>,
}

impl Default for RedHistory {
    fn default() -> Self {
        RedHistory {
            slots: vec![None; usize::from(MAX_DISTANCE)],
            step: None,
        }
    }
}

impl RedHistory {
    /// Notes that packet `seq` has timestamp `ts` (it arrived or was restored).
    pub fn record(&mut self, seq: u16, ts: u32) {
        if let Some(prev) = self.ts_of(seq.wrapping_sub(1)) {
            let d = ts.wrapping_sub(prev);
            // Only a step a block header could express is a packet duration, not a pause.
            if (1..=MAX_OFFSET).contains(&d) {
                self.step = Some(d);
            }
        }
        if let Some(slot) = self.slots.get_mut(usize::from(seq % MAX_DISTANCE)) {
            *slot = Some((seq, ts));
        }
    }

    fn ts_of(&self, seq: u16) -> Option<u32> {
        match self.slots.get(usize::from(seq % MAX_DISTANCE)) {
            Some(&Some((s, ts))) if s == seq => Some(ts),
            _ => None,
        }
    }

    /// The sequence number of the packet a redundant block of the RED packet
    /// (`seq`, `ts`) repeats, `offset` ticks before it (RFC 2198 §3), or `None`
    /// when no packet within [`MAX_DISTANCE`] can have that timestamp.
    ///
    /// A packet seen with that timestamp is the answer (the block is redundancy
    /// of a packet that arrived). Otherwise the block falls in a run of missing
    /// packets between two known ones (the RED packet itself is the upper one);
    /// their timestamps are inferred from the step between the known ones when
    /// evenly spaced, else from `duration` (the block's own length in ticks, an
    /// Opus TOC says it) or the stream's last step between consecutive packets.
    pub fn locate(&self, seq: u16, ts: u32, offset: u16, duration: Option<u32>) -> Option<u16> {
        let offset = u32::from(offset);
        if offset == 0 {
            // The primary's own timestamp: nothing earlier to restore.
            return None;
        }
        // (seq, ticks before the primary) of the nearest known packets after and before the block.
        let mut hi = (seq, 0u32);
        let mut lo = None;
        for k in 1..=MAX_DISTANCE {
            let s = seq.wrapping_sub(k);
            let Some(t) = self.ts_of(s) else { continue };
            let back = ts.wrapping_sub(t);
            if back == offset {
                return Some(s);
            }
            if back > MAX_OFFSET * u32::from(MAX_DISTANCE) {
                // Later than the primary, or absurdly earlier: a restart; older history says nothing.
                break;
            }
            if back < offset {
                hi = (s, back);
            } else {
                lo = Some((s, back));
                break;
            }
        }
        let (hi_seq, hi_back) = hi;
        let to_hi = offset - hi_back;
        let lo_span = lo.map(|(s, _)| hi_seq.wrapping_sub(s));
        if lo_span == Some(1) {
            // The known packets on either side are neighbours: no packet is missing there.
            return None;
        }
        let candidate = |step: u32| -> Option<u16> {
            if step == 0 || !to_hi.is_multiple_of(step) {
                return None;
            }
            let n = u16::try_from(to_hi / step).ok()?;
            let s = hi_seq.wrapping_sub(n);
            let inside = lo_span.is_none_or(|span| n < span);
            (inside && seq.wrapping_sub(s) <= MAX_DISTANCE).then_some(s)
        };
        if let (Some((_, lo_back)), Some(span)) = (lo, lo_span) {
            let dts = lo_back - hi_back;
            let span = u32::from(span);
            if dts.is_multiple_of(span)
                && let Some(s) = candidate(dts / span)
            {
                return Some(s);
            }
        }
        duration
            .and_then(candidate)
            .or_else(|| self.step.and_then(candidate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_redundant_and_primary_blocks() {
        // One redundant block (PT 111, offset 960, 3 bytes), then the primary (PT 111).
        let p = [
            0x80 | 111,
            (960u16 >> 6) as u8,
            ((960u16 & 0x3f) << 2) as u8,
            3,
            111,
            1,
            2,
            3,
            9,
            9,
        ];
        let b = split(&p).unwrap();
        assert_eq!(
            b,
            [
                RedBlock {
                    pt: 111,
                    ts_offset: 960,
                    data: &[1, 2, 3]
                },
                RedBlock {
                    pt: 111,
                    ts_offset: 0,
                    data: &[9, 9]
                }
            ]
        );
        assert_eq!(
            split(&[111]).unwrap(),
            [RedBlock {
                pt: 111,
                ts_offset: 0,
                data: &[]
            }]
        );
    }

    #[test]
    fn malformed_payloads_are_errors_at_every_truncation() {
        let p = [0x80 | 111, 15, 0, 3, 111, 1, 2, 3, 9];
        for cut in 0..5 {
            assert!(split(&p[..cut]).is_err(), "cut {cut}");
        }
        assert_eq!(
            split(&[0x80 | 111, 0, 0, 200, 111, 1]),
            Err(RedError::Lengths)
        );
    }

    /// 20 ms Opus: the history of packets 10..=20 minus the lost ones.
    fn history(lost: &[u16]) -> RedHistory {
        let mut h = RedHistory::default();
        for seq in (10u16..=20).filter(|s| !lost.contains(s)) {
            h.record(seq, u32::from(seq) * 960);
        }
        h
    }

    #[test]
    fn a_block_is_placed_by_its_timestamp_at_any_distance() {
        let h = history(&[18, 19]);
        // RED packet 21: offsets 2 and 3 packets back restore 19 and 18.
        assert_eq!(h.locate(21, 21 * 960, 2 * 960, None), Some(19));
        assert_eq!(h.locate(21, 21 * 960, 3 * 960, None), Some(18));
        // A packet that arrived: the block is its redundancy.
        assert_eq!(h.locate(21, 21 * 960, 4 * 960, None), Some(17));
        // Half a packet back: no packet has that timestamp.
        assert_eq!(h.locate(21, 21 * 960, 480, None), None);
        assert_eq!(h.locate(21, 21 * 960, 0, None), None);
    }

    #[test]
    fn without_a_known_packet_before_the_gap_the_block_duration_places_it() {
        let mut h = RedHistory::default();
        h.record(5, 4800);
        // Nothing known below 5: 2 packets of 960 back from 5 is 3.
        assert_eq!(h.locate(5, 4800, 1920, Some(960)), Some(3));
        assert_eq!(h.locate(5, 4800, 1920, None), None, "no step known");
        h.record(6, 5760);
        assert_eq!(h.locate(6, 5760, 2880, None), Some(3), "learned step");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut h = RedHistory::default();
        h.record(65_534, 100);
        h.record(1, 100 + 3 * 960);
        assert_eq!(h.locate(1, 100 + 3 * 960, 960, None), Some(0));
        assert_eq!(h.locate(1, 100 + 3 * 960, 1920, None), Some(65_535));
    }
}
