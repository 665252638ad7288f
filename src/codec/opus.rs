//! Opus packets (RFC 6716 §3): durations from the TOC byte and framing checks.
//!
//! Durations are in 48 kHz samples, which is also the Opus RTP clock (RFC 7587
//! §4.1) whatever the coded bandwidth.

/// Why an Opus packet's duration cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpusError {
    /// No TOC byte.
    #[error("empty Opus packet")]
    Empty,
    /// TOC code and frame count disagree with the packet (RFC 6716 §3.2, R3-R5).
    #[error("invalid Opus packet framing (RFC 6716 §3.2)")]
    Framing,
}

/// Largest duration of one Opus packet: 120 ms (RFC 6716 §3.2.5, R5).
const MAX_PACKET_SAMPLES: u32 = 5760;

/// Samples at 48 kHz of one frame coded with TOC configuration `config` (RFC 6716 §3.1, Table 2).
pub fn frame_samples(config: u8) -> u32 {
    let i = usize::from(config % 4);
    match config {
        // SILK-only: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][i],
        // Hybrid: 10, 20 ms.
        12..=15 => [480, 960][i % 2],
        // CELT-only: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][i],
    }
}

/// Duration of an Opus packet in 48 kHz samples, from its TOC byte and frame count,
/// checking requirements R3-R5 of RFC 6716 §3.2 (code-3 padding and VBR lengths are
/// not checked: see [`code3_lengths_fit`]).
pub fn packet_duration(payload: &[u8]) -> Result<u32, OpusError> {
    let [toc, rest @ ..] = payload else {
        return Err(OpusError::Empty);
    };
    let frame = frame_samples(toc >> 3);
    let count = match toc & 3 {
        0 => 1,
        // R3: two frames of equal size, so the remainder's length is even.
        1 if rest.len().is_multiple_of(2) => 2,
        1 => return Err(OpusError::Framing),
        // R4: the first frame's length (1 or 2 bytes, §3.2.1) fits in the packet.
        2 => {
            let (len, hdr) = match rest {
                [b0, ..] if *b0 < 252 => (usize::from(*b0), 1),
                [b0, b1, ..] => (usize::from(*b0) + 4 * usize::from(*b1), 2),
                _ => return Err(OpusError::Framing),
            };
            if hdr + len > rest.len() {
                return Err(OpusError::Framing);
            }
            2
        }
        // R5: 1..=48 frames, at most 120 ms in total.
        _ => {
            let m = u32::from(rest.first().ok_or(OpusError::Framing)? & 0x3f);
            if m == 0 || m * frame > MAX_PACKET_SAMPLES {
                return Err(OpusError::Framing);
            }
            m
        }
    };
    Ok(frame * count)
}

/// Whether a code-3 packet's padding fits in it and, with constant bitrate, the
/// rest splits evenly into its frames (RFC 6716 §3.2.5, R6 and R7); packets of
/// other codes always fit. Expects a packet that [`packet_duration`] accepts.
pub fn code3_lengths_fit(p: &[u8]) -> bool {
    let (Some(&toc), Some(&b1)) = (p.first(), p.get(1)) else {
        return p.first().is_some_and(|toc| toc & 3 != 3);
    };
    if toc & 3 != 3 {
        return true;
    }
    let frames = usize::from(b1 & 0x3f);
    let mut pos = 2;
    let mut padding = 0usize;
    if b1 & 0x40 != 0 {
        // Padding length: bytes of 255 add 254 each, the first other byte ends it.
        loop {
            let Some(&b) = p.get(pos) else { return false };
            pos += 1;
            padding += if b == 255 { 254 } else { usize::from(b) };
            if b != 255 {
                break;
            }
        }
    }
    let Some(rest) = p.len().checked_sub(pos + padding) else {
        return false;
    };
    let vbr = b1 & 0x80 != 0;
    frames != 0 && (vbr || rest.is_multiple_of(frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_from_toc() {
        let cases: &[(&[u8], Result<u32, OpusError>)] = &[
            (&[], Err(OpusError::Empty)),
            (&[0x78], Ok(960)),        // config 15 hybrid FB 20 ms, code 0
            (&[0xf8, 1, 2], Ok(960)),  // config 31 CELT FB 20 ms
            (&[0xf0], Ok(480)),        // config 30 CELT 10 ms
            (&[0x18], Ok(2880)),       // config 3 SILK NB 60 ms
            (&[0x10], Ok(1920)),       // config 2 SILK NB 40 ms
            (&[0x08], Ok(960)),        // config 1 SILK NB 20 ms
            (&[0x60], Ok(480)),        // config 12 hybrid SWB 10 ms
            (&[0xf9], Ok(1920)),       // code 1: two 20 ms frames
            (&[0xf9, 1, 2], Ok(1920)), // code 1, equal halves
            (&[0xf9, 1], Err(OpusError::Framing)), // R3: odd remainder
            (&[0xfa, 0], Ok(1920)),    // code 2: two frames
            (&[0xfa, 1, 9], Ok(1920)), // code 2, first frame 1 byte
            (&[0xfa, 5, 9], Err(OpusError::Framing)), // R4: first frame past the end
            (&[0xfa, 253, 1], Err(OpusError::Framing)), // R4: 2-byte length past the end
            (&[0xfb, 0x03], Ok(2880)), // code 3: three 20 ms frames
            (&[0xfb], Err(OpusError::Framing)), // code 3 without count byte
            (&[0xfb, 0x00], Err(OpusError::Framing)), // code 3 with zero frames
            (&[0x1b, 0x03], Err(OpusError::Framing)), // 3 x 60 ms = 180 ms > 120 ms
            (&[0xe3, 48], Ok(5760)),   // 48 x 2.5 ms = 120 ms
        ];
        for &(p, want) in cases {
            assert_eq!(packet_duration(p), want, "{p:02x?}");
        }
        // (payload, samples or error)
        let cases: &[(&[u8], Result<u32, OpusError>)] = &[
            (&[], Err(OpusError::Empty)),
            (&[0x78], Ok(960)),          // config 15 hybrid FB 20 ms, code 0, DTX
            (&[0xfc, 1, 2, 3], Ok(960)), // config 31 CELT 20 ms
            (&[0x00, 9], Ok(480)),       // config 0 SILK NB 10 ms
            (&[0x18, 9], Ok(2880)),      // config 3 SILK 60 ms
            (&[0x80, 9], Ok(120)),       // config 16 CELT 2.5 ms
            (&[0xfd, 1, 2], Ok(1920)),   // code 1: 2 x 20 ms
            (&[0xfd, 1, 2, 3], Err(OpusError::Framing)), // code 1 odd
            (&[0xfe, 1, 7, 8], Ok(1920)), // code 2: first frame 1 byte
            (&[0xfe, 5, 7], Err(OpusError::Framing)), // code 2 length past end
            (&[0xfe], Err(OpusError::Framing)),
            (&[0xfe, 252], Err(OpusError::Framing)), // two-byte length truncated
            (&[0xff, 0x03, 1, 2, 3], Ok(2880)),      // code 3: 3 x 20 ms
            (&[0xff, 0x06], Ok(5760)),               // 6 x 20 = 120 ms, the maximum
            (&[0xff, 0x07], Err(OpusError::Framing)), // 140 ms
            (&[0xff, 0x00], Err(OpusError::Framing)),
            (&[0xff], Err(OpusError::Framing)),
            (&[0x83, 0x30], Ok(5760)), // 48 x 2.5 ms
        ];
        for (i, (payload, want)) in cases.iter().enumerate() {
            assert_eq!(packet_duration(payload), *want, "case {i}: {payload:02x?}");
        }
    }

    #[test]
    fn code3_lengths() {
        let cases: &[(&[u8], bool)] = &[
            (&[0xf8], true),
            (&[0xf9, 1, 2], true),
            (&[0xfb, 0x03, 1, 2, 3], true), // CBR, 3 bytes for 3 frames
            (&[0xfb, 0x03, 1, 2], false),   // CBR, 2 bytes for 3 frames
            (&[0xfb, 0x42, 2, 1, 2, 9, 9], true), // 2 frames, 2 bytes of padding
            (&[0xfb, 0x42, 9, 1, 2], false), // padding past the end
            (&[0xfb, 0x42], false),         // padding length missing
            (&[0xfb, 0x83, 1, 2, 3, 4], true), // VBR: lengths not checked
            (&[0xfb], false),
        ];
        for &(p, want) in cases {
            assert_eq!(code3_lengths_fit(p), want, "{p:02x?}");
        }
    }
}
