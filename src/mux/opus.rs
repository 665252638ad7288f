//! Opus facts muxers need: packet duration from the TOC (RFC 6716 §3.1),
//! the ID and comment headers (RFC 7845 §5), and gap-filling packets.

/// Samples per second of Opus timestamps and granule positions, whatever the coded bandwidth.
pub const OPUS_RATE: u32 = 48_000;

/// Pre-skip written when the caller has nothing better: libopus encoders report
/// a 312-sample lookahead at 48 kHz (6.5 ms), the delay WebRTC senders add.
pub const DEFAULT_PRE_SKIP: u16 = 312;

/// Largest duration of one Opus packet: 120 ms (RFC 6716 §3.2.5).
const MAX_PACKET_SAMPLES: u64 = 5760;

/// Samples at 48 kHz of one frame coded with TOC configuration `config` (RFC 6716 §3.1, Table 2).
pub fn frame_samples(config: u8) -> u64 {
    match config {
        // SILK-only: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        // Hybrid: 10, 20 ms.
        12..=15 => [480, 960][usize::from(config % 2)],
        // CELT-only: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    }
}

/// Duration of an Opus packet in 48 kHz samples, read from its TOC; `None` if malformed.
pub fn packet_samples(packet: &[u8]) -> Option<u64> {
    let toc = *packet.first()?;
    let frames = match toc & 0x3 {
        0 => 1,
        1 | 2 => 2,
        // Code 3: frame count in the low 6 bits of the second byte (§3.2.5).
        _ => u64::from(*packet.get(1)? & 0x3f),
    };
    let samples = frames * frame_samples(toc >> 3);
    (1..=MAX_PACKET_SAMPLES)
        .contains(&samples)
        .then_some(samples)
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
    let same = frame_samples(prev_config);
    while left >= same {
        out.push([(prev_config << 3) | stereo]);
        left -= same;
    }
    // CELT fullband configurations 31..=28: 20, 10, 5, 2.5 ms.
    for config in (28u8..=31).rev() {
        let n = frame_samples(config);
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
    fn packet_durations_from_toc() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (&[], None),
            (&[0x78], Some(960)),        // config 15 hybrid FB 20 ms, code 0
            (&[0xf8, 1, 2], Some(960)),  // config 31 CELT FB 20 ms
            (&[0xf0], Some(480)),        // config 30 CELT 10 ms
            (&[0x18], Some(2880)),       // config 3 SILK NB 60 ms
            (&[0x10], Some(1920)),       // config 2 SILK NB 40 ms
            (&[0xf9], Some(1920)),       // code 1: two 20 ms frames
            (&[0xfa, 0], Some(1920)),    // code 2: two frames
            (&[0xfb, 0x03], Some(2880)), // code 3: three 20 ms frames
            (&[0xfb], None),             // code 3 without count byte
            (&[0xfb, 0x00], None),       // code 3 with zero frames
            (&[0x1b, 0x03], None),       // 3 x 60 ms = 180 ms > 120 ms
            (&[0xe3, 48], Some(5760)),   // 48 x 2.5 ms = 120 ms
        ];
        for &(p, want) in cases {
            assert_eq!(packet_samples(p), want, "{p:02x?}");
        }
    }

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
