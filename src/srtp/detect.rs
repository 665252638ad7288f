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

#[cfg(test)]
mod tests {
    use super::*;

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
