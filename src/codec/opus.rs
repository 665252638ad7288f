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
/// not checked: see [`code3_lengths_fit`], and [`validate`] for all of R1-R7).
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

/// Largest length of one Opus frame in bytes (RFC 6716 §3.2.1, R2).
const MAX_FRAME_BYTES: usize = 1275;

/// What an Opus packet's TOC byte and framing say (RFC 6716 §3.1-3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    /// TOC configuration 0..=31: mode, bandwidth and frame size (§3.1, Table 2).
    pub config: u8,
    /// Frame count code 0..=3 (§3.1, Table 3).
    pub code: u8,
    /// Frames in the packet.
    pub frames: u8,
    /// Frames of zero bytes (DTX or lost frames, §3.2.1).
    pub empty_frames: u8,
    /// Duration in 48 kHz samples (frame size times frame count).
    pub samples: u32,
}

/// Reads one frame length (RFC 6716 §3.2.1): one byte below 252, else two bytes
/// `b0 + 4 * b1`; the length and the bytes it used.
fn frame_length(b: &[u8]) -> Option<(usize, usize)> {
    match b {
        [b0, ..] if *b0 < 252 => Some((usize::from(*b0), 1)),
        [b0, b1, ..] => Some((usize::from(*b0) + 4 * usize::from(*b1), 2)),
        _ => None,
    }
}

/// Checks a whole Opus packet against requirements R1-R7 of RFC 6716 §3.4 (framing,
/// frame lengths that add up to the packet, code-3 frame count and padding) and
/// returns what its TOC says. Stricter than [`packet_duration`], which the muxers
/// use and which must not drop a packet a decoder would still try.
pub fn validate(p: &[u8]) -> Result<Framing, OpusError> {
    // R1: at least one byte (the TOC).
    let [toc, rest @ ..] = p else {
        return Err(OpusError::Empty);
    };
    let config = toc >> 3;
    let frame = frame_samples(config);
    let code = toc & 3;
    let empty = |len: usize| u8::from(len == 0);
    let (frames, empty_frames) = match code {
        // Code 0: one frame, the rest of the packet (R2).
        0 if rest.len() <= MAX_FRAME_BYTES => (1, empty(rest.len())),
        // Code 1: two frames of equal size (R3: the remainder is even; R2).
        1 if rest.len().is_multiple_of(2) && rest.len() / 2 <= MAX_FRAME_BYTES => {
            (2, 2 * empty(rest.len()))
        }
        // Code 2: an explicit first length that fits (R4), the second implicit (R2).
        2 => {
            let (len, used) = frame_length(rest).ok_or(OpusError::Framing)?;
            let second = rest
                .len()
                .checked_sub(used + len)
                .ok_or(OpusError::Framing)?;
            if second > MAX_FRAME_BYTES {
                return Err(OpusError::Framing);
            }
            (2, empty(len) + empty(second))
        }
        3 => code3(rest, frame)?,
        _ => return Err(OpusError::Framing),
    };
    Ok(Framing {
        config,
        code,
        frames,
        empty_frames,
        samples: frame * u32::from(frames),
    })
}

/// Code-3 framing after the TOC (RFC 6716 §3.2.5): frame count and flags, padding,
/// then equal (CBR) or explicitly sized (VBR) frames; R5-R7 and R2.
fn code3(rest: &[u8], frame: u32) -> Result<(u8, u8), OpusError> {
    let Some((&fc, mut body)) = rest.split_first() else {
        return Err(OpusError::Framing);
    };
    let m = fc & 0x3f;
    // R5: at least one frame, at most 120 ms.
    if m == 0 || u32::from(m) * frame > MAX_PACKET_SAMPLES {
        return Err(OpusError::Framing);
    }
    let mut padding = 0usize;
    if fc & 0x40 != 0 {
        // Padding length: each 255 adds 254 and continues, another byte ends it.
        loop {
            let Some((&b, tail)) = body.split_first() else {
                return Err(OpusError::Framing);
            };
            body = tail;
            padding += if b == 255 { 254 } else { usize::from(b) };
            if b != 255 {
                break;
            }
        }
    }
    // R6/R7: the trailing padding fits after the headers.
    let mut data = body.len().checked_sub(padding).ok_or(OpusError::Framing)?;
    let mut empty_frames = 0u8;
    if fc & 0x80 == 0 {
        // CBR (R6): the rest splits into M equal frames.
        if !data.is_multiple_of(usize::from(m)) || data / usize::from(m) > MAX_FRAME_BYTES {
            return Err(OpusError::Framing);
        }
        if data == 0 {
            empty_frames = m;
        }
        return Ok((m, empty_frames));
    }
    // VBR (R7): M-1 explicit lengths, all of which fit, the last frame implicit (R2).
    for _ in 1..m {
        let (len, used) = frame_length(body).ok_or(OpusError::Framing)?;
        body = body.get(used..).ok_or(OpusError::Framing)?;
        data = data.checked_sub(used + len).ok_or(OpusError::Framing)?;
        empty_frames += u8::from(len == 0);
    }
    if data > MAX_FRAME_BYTES {
        return Err(OpusError::Framing);
    }
    empty_frames += u8::from(data == 0);
    Ok((m, empty_frames))
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

    #[test]
    fn validate_requirements() {
        let ok = |config: u8, code: u8, frames: u8, empty_frames: u8, samples: u32| {
            Ok(Framing {
                config,
                code,
                frames,
                empty_frames,
                samples,
            })
        };
        let big = [vec![0xf8], vec![0; 1276]].concat();
        let cases: Vec<(Vec<u8>, Result<Framing, OpusError>)> = vec![
            (vec![], Err(OpusError::Empty)),         // R1
            (vec![0xf8], ok(31, 0, 1, 1, 960)),      // DTX: a TOC alone
            (vec![0x08, 1, 2], ok(1, 0, 1, 0, 960)), // SILK NB 20 ms
            (big, Err(OpusError::Framing)),          // R2: 1276-byte implicit frame
            (vec![0xf9, 1, 2], ok(31, 1, 2, 0, 1920)),
            (vec![0xf9, 1], Err(OpusError::Framing)), // R3
            (vec![0xfa, 1, 9, 9], ok(31, 2, 2, 0, 1920)),
            (vec![0xfa, 1, 9], ok(31, 2, 2, 1, 1920)), // second frame empty
            (vec![0xfa, 0, 9], ok(31, 2, 2, 1, 1920)),
            (vec![0xfa, 5, 9], Err(OpusError::Framing)), // R4
            (vec![0xfa, 253, 1], Err(OpusError::Framing)), // R4, two-byte length
            (vec![0xfa], Err(OpusError::Framing)),
            (vec![0xfb, 0x03, 1, 2, 3], ok(31, 3, 3, 0, 2880)),
            (vec![0xfb, 0x03], ok(31, 3, 3, 3, 2880)), // CBR of empty frames
            (vec![0xfb, 0x03, 1, 2], Err(OpusError::Framing)), // R6
            (vec![0xfb, 0x00], Err(OpusError::Framing)), // R5: no frame
            (vec![0xfb, 0x07], Err(OpusError::Framing)), // R5: 140 ms
            (vec![0xfb, 0x42, 2, 1, 2, 9, 9], ok(31, 3, 2, 0, 1920)),
            (vec![0xfb, 0x42, 9, 1, 2], Err(OpusError::Framing)), // R6: padding past the end
            (vec![0xfb, 0x42], Err(OpusError::Framing)),
            (vec![0xfb, 0x82, 1, 7, 8, 9], ok(31, 3, 2, 0, 1920)), // VBR: 1 + 2 bytes
            (vec![0xfb, 0x82, 0, 7], ok(31, 3, 2, 1, 1920)),
            (vec![0xfb, 0x83, 1, 5, 7], Err(OpusError::Framing)), // R7: lengths past the end
            (vec![0xfb, 0xc2, 1, 1, 7, 8, 0], ok(31, 3, 2, 0, 1920)), // VBR with padding
            (vec![0x83, 0x30], ok(16, 3, 48, 48, 5760)),
        ];
        for (i, (p, want)) in cases.iter().enumerate() {
            assert_eq!(validate(p), *want, "case {i}: {p:02x?}");
        }
    }

    proptest::proptest! {
        /// A packet that passes R1-R7 has the duration the muxers read from it.
        #[test]
        fn validate_agrees_with_duration(p in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            if let Ok(f) = validate(&p) {
                proptest::prop_assert_eq!(packet_duration(&p), Ok(f.samples));
                proptest::prop_assert!(f.empty_frames <= f.frames);
            }
        }
    }
}
