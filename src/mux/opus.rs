//! Opus facts muxers need: packet duration from the TOC (RFC 6716 §3.1),
//! the ID and comment headers (RFC 7845 §5), and gap-filling packets.

use crate::codec::opus;

/// Samples per second of Opus timestamps and granule positions, whatever the coded bandwidth.
pub const OPUS_RATE: u32 = 48_000;

/// Pre-skip written when the caller has nothing better: libopus encoders report
/// a 312-sample lookahead at 48 kHz (6.5 ms), the delay WebRTC senders add.
pub const DEFAULT_PRE_SKIP: u16 = 312;

/// Duration of an Opus packet in 48 kHz samples, read from its TOC; `None` if malformed
/// (RFC 6716 §3.2 R1-R5, as the depacketizer checks it).
pub fn packet_samples(packet: &[u8]) -> Option<u64> {
    opus::packet_duration(packet).ok().map(u64::from)
}

/// The ID header `OpusHead` (RFC 7845 §5.1), mapping family 0 (mono or stereo).
pub fn opus_head(channels: u8, pre_skip: u16, input_sample_rate: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(19);
    h.extend_from_slice(b"OpusHead");
    h.push(1); // version
    h.push(channels);
    h.extend_from_slice(&pre_skip.to_le_bytes());
    h.extend_from_slice(&input_sample_rate.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes()); // output gain, Q7.8 dB
    h.push(0); // channel mapping family 0: no mapping table
    h
}

/// The comment header `OpusTags` (RFC 7845 §5.2): vendor "rtprec", no comments, so no dates.
pub fn opus_tags() -> Vec<u8> {
    const VENDOR: &[u8] = b"rtprec";
    let mut t = Vec::with_capacity(8 + 4 + VENDOR.len() + 4);
    t.extend_from_slice(b"OpusTags");
    t.extend_from_slice(&(VENDOR.len() as u32).to_le_bytes());
    t.extend_from_slice(VENDOR);
    t.extend_from_slice(&0u32.to_le_bytes()); // user comment list length
    t
}

/// TOC-only packets (code 0, one zero-length frame) covering `samples` at 48 kHz.
///
/// RFC 6716 §3.2.1: a zero-length frame means "no data"; decoders run packet
/// loss concealment for it, which is what a loss or DTX gap should sound like.
/// The gap is tiled first with frames of the previous packet's configuration
/// (same mode and bandwidth, so the decoder does not switch modes), then with
/// CELT fullband 20/10/5/2.5 ms frames. Returns the packets and the samples
/// covered, which is `samples` rounded down to 2.5 ms.
pub fn filler_packets(prev_toc: u8, samples: u64) -> (Vec<[u8; 1]>, u64) {
    let stereo = prev_toc & 0x04;
    let prev_config = prev_toc >> 3;
    let mut out = Vec::new();
    let mut left = samples;
    let same = u64::from(opus::frame_samples(prev_config));
    while left >= same {
        out.push([(prev_config << 3) | stereo]);
        left -= same;
    }
    // CELT fullband configurations 31..=28: 20, 10, 5, 2.5 ms.
    for config in (28u8..=31).rev() {
        let n = u64::from(opus::frame_samples(config));
        while left >= n {
            out.push([(config << 3) | stereo]);
            left -= n;
        }
    }
    (out, samples - left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_head_bytes() {
        assert_eq!(
            opus_head(2, 312, 48_000),
            [
                b'O', b'p', b'u', b's', b'H', b'e', b'a', b'd', 1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0,
                0, 0, 0
            ]
        );
    }

    #[test]
    fn opus_tags_bytes() {
        let mut want = b"OpusTags".to_vec();
        want.extend_from_slice(&[6, 0, 0, 0]);
        want.extend_from_slice(b"rtprec");
        want.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(opus_tags(), want);
    }

    #[test]
    fn fillers_tile_the_gap() {
        // (previous TOC, gap samples, expected TOCs, covered)
        let cases: &[(u8, u64, &[u8], u64)] = &[
            (0x78, 0, &[], 0),
            (0x78, 960 * 3, &[0x78, 0x78, 0x78], 2880),
            (0x7c, 960, &[0x7c], 960), // stereo bit kept
            (0x78, 960 + 480 + 100, &[0x78, 0xf0], 1440),
            (0x18, 2880 + 960, &[0x18, 0xf8], 3840), // SILK 60 ms then CELT 20 ms
            (0xf9, 960, &[0xf8], 960),               // code bits cleared
            (0xe0, 360, &[0xe0, 0xe0, 0xe0], 360),   // 2.5 ms frames
        ];
        for &(toc, gap, want, covered) in cases {
            let (packets, got) = filler_packets(toc, gap);
            let tocs: Vec<u8> = packets.iter().map(|p| p[0]).collect();
            assert_eq!(tocs, want, "toc {toc:#04x} gap {gap}");
            assert_eq!(got, covered);
            let sum: u64 = packets.iter().map(|p| packet_samples(p).unwrap()).sum();
            assert_eq!(sum, covered);
        }
    }
}
