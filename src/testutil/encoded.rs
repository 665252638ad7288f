//! Real encoded media for the generator: frames read from IVF (VP8, VP9, AV1),
//! Annex B (H.264, H.265, as ffmpeg's `-f h264`/`-f hevc` write) and Ogg Opus files,
//! and raw sample-based audio (G.711 `.ul`/`.al`, `.g722`, big-endian 16-bit PCM) cut into packets.
//!
//! IVF: a 32-byte file header (`DKIF`, version, header size, fourcc, width,
//! height, timebase denominator and numerator, frame count), then per frame a
//! 12-byte header (u32 LE size, u64 LE pts in timebase units) and the frame.
//! Ogg Opus (RFC 7845): the OpusHead and OpusTags packets are skipped; every
//! other packet is one Opus packet, whose duration comes from its TOC byte
//! (RFC 6716 §3.1) and is checked against the page granule positions.
//!
//! Annex B: NAL units after 3- or 4-byte start codes, grouped into access
//! units (a new one at an AUD, parameter set, prefix SEI or first slice of a
//! picture after a slice); frames are stored 4-byte length-prefixed (AVCC),
//! as rtprec's depacketizers emit them. Raw streams have no timestamps: the
//! caller gives the frame rate (encode without B-frames).
//!
//! Frames are kept with their offset from the first frame on the RTP clock
//! (90 kHz video, 48 kHz Opus), their duration, and whether they are key
//! frames (read from the bitstream, not trusted from the container).

use std::io::Read;
use std::path::Path;

/// Codec of an [`EncodedStream`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncodedCodec {
    /// Opus packets from Ogg.
    Opus,
    /// VP8 frames from IVF (`VP80`).
    Vp8,
    /// VP9 frames from IVF (`VP90`).
    Vp9,
    /// AV1 temporal units from IVF (`AV01`), OBUs with size fields.
    Av1,
    /// H.264 access units from Annex B, stored length-prefixed.
    H264,
    /// H.265 access units from Annex B, stored length-prefixed.
    H265,
    /// G.711 mu-law bytes (`ffmpeg -f mulaw`), 8000 Hz.
    Pcmu,
    /// G.711 A-law bytes (`ffmpeg -f alaw`), 8000 Hz.
    Pcma,
    /// G.722 bytes (`ffmpeg -f g722`), 8000 Hz RTP clock (RFC 3551 §4.5.2).
    G722,
    /// Mono 16-bit big-endian PCM at 44100 Hz (`ffmpeg -f s16be`), static PT 11.
    L16,
}

impl EncodedCodec {
    /// RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            EncodedCodec::Opus => 48_000,
            EncodedCodec::Vp8
            | EncodedCodec::Vp9
            | EncodedCodec::Av1
            | EncodedCodec::H264
            | EncodedCodec::H265 => 90_000,
            EncodedCodec::Pcmu | EncodedCodec::Pcma | EncodedCodec::G722 => 8000,
            EncodedCodec::L16 => 44_100,
        }
    }

    /// Octets per RTP tick of sample-based audio (RFC 3551 §4.5), `None` for framed codecs.
    pub fn bytes_per_tick(self) -> Option<usize> {
        match self {
            EncodedCodec::Pcmu | EncodedCodec::Pcma | EncodedCodec::G722 => Some(1),
            EncodedCodec::L16 => Some(2),
            EncodedCodec::Opus
            | EncodedCodec::Vp8
            | EncodedCodec::Vp9
            | EncodedCodec::Av1
            | EncodedCodec::H264
            | EncodedCodec::H265 => None,
        }
    }
}

/// One encoded frame (an Opus packet, a VP8/VP9 frame, an AV1 temporal unit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Offset from the first frame, in RTP clock ticks.
    pub offset: u32,
    /// Duration in RTP clock ticks (to the next frame; the last repeats the one before).
    pub duration: u32,
    /// Decodable without earlier frames.
    pub keyframe: bool,
    /// The frame as the file holds it.
    pub data: Vec<u8>,
}

/// The frames of one file, ready to packetize.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedStream {
    /// Codec.
    pub codec: EncodedCodec,
    /// Width and height from the IVF header (video).
    pub dimensions: Option<(u16, u16)>,
    /// Frames in decoding order.
    pub frames: Vec<EncodedFrame>,
}

/// Why a media file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EncodedError {
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The Ogg layer is broken.
    #[error("ogg: {0}")]
    Ogg(#[from] ogg::OggReadError),
    /// The contents are not what the format says.
    #[error("{0}")]
    Format(String),
}

fn bad(msg: impl Into<String>) -> EncodedError {
    EncodedError::Format(msg.into())
}

impl EncodedStream {
    /// Reads an IVF file.
    pub fn read_ivf_file(path: &Path) -> Result<Self, EncodedError> {
        Self::parse_ivf(&std::fs::read(path)?)
    }

    /// Parses IVF bytes; the fourcc chooses the codec.
    pub fn parse_ivf(b: &[u8]) -> Result<Self, EncodedError> {
        if b.len() < 32 || &b[..4] != b"DKIF" {
            return Err(bad("not an IVF file (no DKIF signature)"));
        }
        let u16le = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32le = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let codec = match &b[8..12] {
            b"VP80" => EncodedCodec::Vp8,
            b"VP90" => EncodedCodec::Vp9,
            b"AV01" => EncodedCodec::Av1,
            other => return Err(bad(format!("IVF fourcc {other:?} is not VP8, VP9 or AV1"))),
        };
        let header_len = usize::from(u16le(6)).max(32);
        let (den, num) = (u64::from(u32le(16)), u64::from(u32le(20)));
        if den == 0 || num == 0 {
            return Err(bad("IVF timebase is zero"));
        }
        let mut frames = Vec::new();
        let mut pts = Vec::new();
        let mut rest = b
            .get(header_len..)
            .ok_or_else(|| bad("IVF header truncated"))?;
        while !rest.is_empty() {
            if rest.len() < 12 {
                return Err(bad("IVF frame header truncated"));
            }
            let size = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            let p = u64::from_le_bytes(rest[4..12].try_into().expect("8 bytes"));
            let data = rest
                .get(12..12 + size)
                .ok_or_else(|| bad(format!("IVF frame {} truncated", frames.len())))?;
            let keyframe = match codec {
                EncodedCodec::Vp8 => vp8_is_keyframe(data),
                EncodedCodec::Vp9 => vp9_is_keyframe(data),
                _ => av1_is_keyframe(data)?,
            };
            pts.push(p);
            frames.push(EncodedFrame {
                offset: 0,
                duration: 0,
                keyframe,
                data: data.to_vec(),
            });
            rest = &rest[12 + size..];
        }
        // pts (timebase num/den s) -> 90 kHz ticks from the first frame.
        let first = pts.first().copied().unwrap_or(0);
        let ticks = |p: u64| (p.saturating_sub(first) * 90_000 * num / den) as u32;
        for (i, f) in frames.iter_mut().enumerate() {
            f.offset = ticks(pts[i]);
        }
        let default = (90_000 * num / den) as u32;
        for i in 0..frames.len() {
            frames[i].duration = match frames.get(i + 1) {
                Some(n) => n.offset - frames[i].offset,
                None if i > 0 => frames[i].offset - frames[i - 1].offset,
                None => default,
            };
        }
        Ok(EncodedStream {
            codec,
            dimensions: Some((u16le(12), u16le(14))),
            frames,
        })
    }

    /// Reads raw sample-based audio and cuts it into packets of `ticks` RTP ticks
    /// (the last one shorter when the file ends mid-packet).
    pub fn read_raw_audio_file(
        path: &Path,
        codec: EncodedCodec,
        ticks: u32,
    ) -> Result<Self, EncodedError> {
        Self::parse_raw_audio(&std::fs::read(path)?, codec, ticks)
    }

    /// Cuts raw sample-based audio into packets of `ticks` RTP ticks.
    pub fn parse_raw_audio(
        b: &[u8],
        codec: EncodedCodec,
        ticks: u32,
    ) -> Result<Self, EncodedError> {
        let per_tick = codec
            .bytes_per_tick()
            .ok_or_else(|| bad(format!("{codec:?} is not sample-based audio")))?;
        if ticks == 0 || !b.len().is_multiple_of(per_tick) {
            return Err(bad("raw audio: zero packet length or a partial sample"));
        }
        let frames = b
            .chunks(ticks as usize * per_tick)
            .enumerate()
            .map(|(i, c)| EncodedFrame {
                offset: i as u32 * ticks,
                duration: (c.len() / per_tick) as u32,
                keyframe: true,
                data: c.to_vec(),
            })
            .collect();
        Ok(EncodedStream {
            codec,
            dimensions: None,
            frames,
        })
    }

    /// Reads an Ogg Opus file.
    pub fn read_ogg_opus_file(path: &Path) -> Result<Self, EncodedError> {
        Self::read_ogg_opus(std::fs::File::open(path)?)
    }

    /// Reads Ogg Opus: skips OpusHead and OpusTags, checks durations against granule positions.
    pub fn read_ogg_opus<R: Read + std::io::Seek>(r: R) -> Result<Self, EncodedError> {
        let mut reader = ogg::PacketReader::new(r);
        let mut frames: Vec<EncodedFrame> = Vec::new();
        let mut pre_skip = None;
        let mut tags = false;
        let mut total: u64 = 0;
        while let Some(p) = reader.read_packet()? {
            if pre_skip.is_none() {
                if !p.data.starts_with(b"OpusHead") || p.data.len() < 19 {
                    return Err(bad("first Ogg packet is not OpusHead"));
                }
                pre_skip = Some(u16::from_le_bytes([p.data[10], p.data[11]]));
                continue;
            }
            if !tags {
                if !p.data.starts_with(b"OpusTags") {
                    return Err(bad("second Ogg packet is not OpusTags"));
                }
                tags = true;
                continue;
            }
            let duration = opus_packet_ticks(&p.data)
                .ok_or_else(|| bad(format!("Opus packet {} has a bad TOC", frames.len())))?;
            frames.push(EncodedFrame {
                offset: total as u32,
                duration,
                keyframe: true,
                data: p.data.clone(),
            });
            total += u64::from(duration);
            // RFC 7845 §4: a page's granule counts the samples of the packets ending on it;
            // only the last page may end earlier (end trimming).
            if p.last_in_page() {
                let gp = p.absgp_page();
                let ok = if p.last_in_stream() {
                    gp <= total
                } else {
                    gp == total
                };
                if !ok {
                    return Err(bad(format!(
                        "granule {gp} disagrees with TOC durations ({total} samples)"
                    )));
                }
            }
        }
        Ok(EncodedStream {
            codec: EncodedCodec::Opus,
            dimensions: None,
            frames,
        })
    }

    /// Reads an Annex B H.264 or H.265 file at a constant `fps`.
    pub fn read_annexb_file(
        path: &Path,
        codec: EncodedCodec,
        fps: u32,
    ) -> Result<Self, EncodedError> {
        Self::parse_annexb(&std::fs::read(path)?, codec, fps)
    }

    /// Splits Annex B bytes into access units (see the module doc).
    pub fn parse_annexb(b: &[u8], codec: EncodedCodec, fps: u32) -> Result<Self, EncodedError> {
        let h265 = match codec {
            EncodedCodec::H264 => false,
            EncodedCodec::H265 => true,
            other => return Err(bad(format!("{other:?} is not carried in Annex B"))),
        };
        if fps == 0 {
            return Err(bad("frame rate 0"));
        }
        let mut aus: Vec<Vec<&[u8]>> = Vec::new();
        let mut slice_seen = false;
        for nal in split_annexb(b) {
            let (t, vcl, first_slice, starts_au) = if h265 {
                let t = (nal[0] >> 1) & 0x3f;
                let first = nal.get(2).is_some_and(|b| b & 0x80 != 0);
                // 35 AUD, 32-34 VPS/SPS/PPS, 39 prefix SEI.
                (t, t <= 31, first, matches!(t, 32..=35 | 39))
            } else {
                let t = nal[0] & 0x1f;
                let first = nal.get(1).is_some_and(|b| b & 0x80 != 0);
                // 9 AUD, 7/8 SPS/PPS, 6 SEI.
                (t, (1..=5).contains(&t), first, matches!(t, 6..=9))
            };
            let _ = t;
            if slice_seen && (starts_au || (vcl && first_slice)) {
                slice_seen = false;
                aus.push(Vec::new());
            }
            if aus.is_empty() {
                aus.push(Vec::new());
            }
            aus.last_mut().expect("pushed above").push(nal);
            slice_seen |= vcl;
        }
        let step = 90_000 / fps;
        let mut frames = Vec::new();
        let mut dimensions = None;
        for (i, au) in aus.iter().enumerate() {
            let mut data = Vec::new();
            let mut keyframe = false;
            for nal in au {
                data.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                data.extend_from_slice(nal);
                if h265 {
                    let t = (nal[0] >> 1) & 0x3f;
                    keyframe |= (16..=23).contains(&t);
                    if t == 33 && dimensions.is_none() {
                        dimensions = crate::codec::h265::parse_sps(nal)
                            .ok()
                            .map(|s| s.dimensions());
                    }
                } else {
                    let t = nal[0] & 0x1f;
                    keyframe |= t == 5;
                    if t == 7 && dimensions.is_none() {
                        dimensions = crate::codec::h264::parse_sps(nal)
                            .ok()
                            .map(|s| s.dimensions());
                    }
                }
            }
            frames.push(EncodedFrame {
                offset: i as u32 * step,
                duration: step,
                keyframe,
                data,
            });
        }
        Ok(EncodedStream {
            codec,
            dimensions,
            frames,
        })
    }

    /// Offset of the end of the last frame: the stream's length on the RTP clock.
    pub fn length_ticks(&self) -> u64 {
        self.frames
            .last()
            .map_or(0, |f| u64::from(f.offset) + u64::from(f.duration))
    }
}

/// Duration of an Opus packet in 48 kHz ticks (RFC 6716 §3.1 TOC config, §3.2 frame count).
pub fn opus_packet_ticks(p: &[u8]) -> Option<u32> {
    let toc = *p.first()?;
    let config = toc >> 3;
    let frame: u32 = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let count = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*p.get(1)? & 0x3f),
    };
    (count > 0).then_some(frame * count)
}

/// NAL units of an Annex B byte stream (start codes 00 00 01 or 00 00 00 01), non-empty.
pub fn split_annexb(b: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= b.len() {
        if b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(b.len(), |&n| n - 3);
        // Trailing zeros belong to the next 4-byte start code (or are trailing_zero_8bits).
        while end > s && b[end - 1] == 0 {
            end -= 1;
        }
        if end > s {
            out.push(&b[s..end]);
        }
    }
    out
}

/// VP8 frame tag bit 0 is the inverse key frame flag (RFC 6386 §9.1).
pub fn vp8_is_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 1 == 0)
}

/// VP9 uncompressed header (VP9 spec §6.2): frame_marker, profile, show_existing_frame, frame_type.
pub fn vp9_is_keyframe(frame: &[u8]) -> bool {
    let Some(&b) = frame.first() else {
        return false;
    };
    let profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
    // Profile 3 has a reserved zero bit before show_existing_frame.
    let shift = if profile == 3 { 2 } else { 3 };
    let show_existing = (b >> shift) & 1;
    let frame_type = (b >> (shift - 1)) & 1;
    b >> 6 == 0b10 && show_existing == 0 && frame_type == 0
}

/// One OBU of a low-overhead bitstream (AV1 spec §5.3) with `obu_has_size_field`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizedObu<'a> {
    /// obu_type.
    pub obu_type: u8,
    /// Header byte as in the file.
    pub header: u8,
    /// Extension byte, if any.
    pub extension: Option<u8>,
    /// Payload without header and size.
    pub payload: &'a [u8],
}

/// Reads a LEB128 value (AV1 spec §4.10.5): (value, bytes used).
pub fn leb128(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate().take(8) {
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Appends `v` as minimal LEB128.
pub fn push_leb128(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Bytes `push_leb128` writes for `v`.
pub fn leb128_len(v: u64) -> usize {
    (((64 - v.max(1).leading_zeros()) as usize).div_ceil(7)).max(1)
}

/// Splits a temporal unit into OBUs; every OBU must carry its size field.
pub fn split_obus(mut tu: &[u8]) -> Result<Vec<SizedObu<'_>>, EncodedError> {
    let mut out = Vec::new();
    while let [header, rest @ ..] = tu {
        if header & 0x80 != 0 || header & 0x02 == 0 {
            return Err(bad("AV1 OBU with forbidden bit or without size field"));
        }
        let (extension, rest) = if header & 0x04 != 0 {
            let [e, r @ ..] = rest else {
                return Err(bad("AV1 OBU extension truncated"));
            };
            (Some(*e), r)
        } else {
            (None, rest)
        };
        let (size, n) = leb128(rest).ok_or_else(|| bad("AV1 OBU size truncated"))?;
        let payload = rest[n..]
            .get(..size as usize)
            .ok_or_else(|| bad("AV1 OBU runs past the temporal unit"))?;
        out.push(SizedObu {
            obu_type: (header >> 3) & 0x0f,
            header: *header,
            extension,
            payload,
        });
        tu = &rest[n + size as usize..];
    }
    Ok(out)
}

/// OBU types (AV1 spec §6.2.2) the packetizer and key frame test look at.
pub const OBU_SEQUENCE_HEADER: u8 = 1;
/// Temporal delimiter (dropped by the packetizer, AV1 RTP §5).
pub const OBU_TEMPORAL_DELIMITER: u8 = 2;
/// Frame header.
pub const OBU_FRAME_HEADER: u8 = 3;
/// Tile list (dropped by the packetizer, AV1 RTP §5).
pub const OBU_TILE_LIST: u8 = 8;
/// Frame (header and tile group).
pub const OBU_FRAME: u8 = 6;

/// A temporal unit is a key frame when its first frame header says KEY_FRAME
/// (AV1 spec §5.9.2: show_existing_frame = 0, frame_type = 0). Assumes no
/// reduced_still_picture_header, which real-time encoders do not use.
pub fn av1_is_keyframe(tu: &[u8]) -> Result<bool, EncodedError> {
    let obus = split_obus(tu)?;
    Ok(obus
        .iter()
        .find(|o| o.obu_type == OBU_FRAME || o.obu_type == OBU_FRAME_HEADER)
        .and_then(|o| o.payload.first())
        .is_some_and(|b| b >> 5 == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivf(fourcc: &[u8; 4], frames: &[(u64, &[u8])]) -> Vec<u8> {
        let mut b = b"DKIF\0\0\x20\0".to_vec();
        b.extend_from_slice(fourcc);
        b.extend_from_slice(&320u16.to_le_bytes());
        b.extend_from_slice(&240u16.to_le_bytes());
        b.extend_from_slice(&30u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(frames.len() as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        for (pts, f) in frames {
            b.extend_from_slice(&(f.len() as u32).to_le_bytes());
            b.extend_from_slice(&pts.to_le_bytes());
            b.extend_from_slice(f);
        }
        b
    }

    #[test]
    fn ivf_frames_offsets_durations_keyframes() {
        let b = ivf(b"VP80", &[(5, &[0x10, 1]), (6, &[0x11, 2]), (8, &[0x11])]);
        let s = EncodedStream::parse_ivf(&b).unwrap();
        assert_eq!(s.codec, EncodedCodec::Vp8);
        assert_eq!(s.dimensions, Some((320, 240)));
        let got: Vec<_> = s
            .frames
            .iter()
            .map(|f| (f.offset, f.duration, f.keyframe))
            .collect();
        assert_eq!(
            got,
            [(0, 3000, true), (3000, 6000, false), (9000, 6000, false)]
        );
        assert_eq!(s.length_ticks(), 15_000);
        assert!(EncodedStream::parse_ivf(&b[..b.len() - 1]).is_err());
        assert!(EncodedStream::parse_ivf(&ivf(b"H264", &[])).is_err());
    }

    #[test]
    fn annexb_access_units() {
        let sps = [
            0x67, 0x42, 0xc0, 0x1e, 0x8c, 0x8d, 0x40, 0xf8, 0x63, 0xd4, 0x44, 0x03, 0xc2, 0x21,
            0x1a, 0x80,
        ];
        let mut b = vec![0, 0, 0, 1];
        b.extend(sps);
        b.extend([0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 0x88, 0x80]);
        // A second slice of the same picture, then the next picture (first_mb 0).
        b.extend([0, 0, 1, 0x65, 0x48, 0x80, 0, 0, 1, 0x41, 0x9a, 0x80, 0, 0]);
        let s = EncodedStream::parse_annexb(&b, EncodedCodec::H264, 30).unwrap();
        assert_eq!(s.dimensions, Some((494, 370)));
        let got: Vec<_> = s
            .frames
            .iter()
            .map(|f| (f.offset, f.keyframe, f.data.len()))
            .collect();
        assert_eq!(
            got,
            [(0, true, 16 + 4 + 2 + 4 + 3 + 4 + 3 + 4), (3000, false, 7)]
        );
        assert_eq!(
            split_annexb(&[0, 0, 1, 9, 0, 0, 0, 1, 5]),
            [&[9][..], &[5][..]]
        );
    }

    #[test]
    fn keyframe_tests_read_the_bitstream() {
        // VP9 profile 0: 10 0 0 | show_existing 0 | frame_type 0 (key) / 1.
        assert!(vp9_is_keyframe(&[0x82, 0x49, 0x83, 0x42]));
        assert!(!vp9_is_keyframe(&[0x86]));
        assert!(!vp9_is_keyframe(&[0x88]), "show_existing_frame");
        // AV1: TD, then OBU_FRAME whose first payload bits are 0 0 0 (key).
        let tu = [0x12, 0, 0x32, 1, 0x10];
        assert!(av1_is_keyframe(&tu).unwrap());
        assert!(!av1_is_keyframe(&[0x12, 0, 0x32, 1, 0x30]).unwrap());
        assert!(av1_is_keyframe(&[0x10, 0]).is_err(), "no size field");
    }

    #[test]
    fn opus_toc_durations_and_leb128() {
        assert_eq!(opus_packet_ticks(&[0xf8]), Some(960)); // CELT FB 20 ms
        assert_eq!(opus_packet_ticks(&[0x0b << 3 | 1]), Some(5760)); // SILK 60 ms x2
        assert_eq!(opus_packet_ticks(&[0xfb, 3]), Some(2880));
        assert_eq!(opus_packet_ticks(&[0xfb]), None);
        for v in [0u64, 1, 127, 128, 16_383, 16_384, 1 << 40] {
            let mut b = Vec::new();
            push_leb128(&mut b, v);
            assert_eq!(b.len(), leb128_len(v), "{v}");
            assert_eq!(leb128(&b), Some((v, b.len())));
        }
    }
}
