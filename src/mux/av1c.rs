//! AV1 `CodecPrivate` for Matroska/WebM: the `av1C` record (AV1 ISOBMFF
//! binding §2.3, reused by the Matroska AV1 mapping) built from the sequence
//! header OBU (AV1 spec §5.5) of a temporal unit.
//!
//! The sequence header is read by [`crate::codec::av1`] up to `color_config`;
//! anything truncated or out of range yields `None`, never a panic.

use crate::codec::av1::{
    OBU_SEQUENCE_HEADER, SequenceHeader, first_sequence_header, parse_sequence_header,
};
use crate::codec::bits::write_leb128;

/// Builds `av1C` from a temporal unit holding a sequence header OBU.
///
/// The configOBUs part carries that sequence header, rewritten with
/// `obu_has_size_field = 1` and without extension header, as the Matroska
/// AV1 mapping requires.
pub(super) fn av1c_from_temporal_unit(tu: &[u8]) -> Option<(Vec<u8>, SequenceHeader)> {
    let payload = first_sequence_header(tu)?;
    let sh = parse_sequence_header(payload)?;
    let mut out = vec![
        0x81, // marker 1, version 1
        (sh.seq_profile << 5) | sh.seq_level_idx_0,
        (sh.seq_tier_0 << 7)
            | (u8::from(sh.high_bitdepth) << 6)
            | (u8::from(sh.twelve_bit) << 5)
            | (u8::from(sh.monochrome) << 4)
            | (u8::from(sh.chroma_subsampling_x) << 3)
            | (u8::from(sh.chroma_subsampling_y) << 2)
            | sh.chroma_sample_position,
        0, // no initial_presentation_delay
    ];
    out.push((OBU_SEQUENCE_HEADER << 3) | 0x02);
    write_leb128(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    Some((out, sh))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::av1::tests::TU_420;

    /// Start of a libaom keyframe as `TU_420`, 4:4:4 profile 1.
    const TU_444: &[u8] = &[
        0x12, 0x00, 0x0a, 0x0d, 0x20, 0x00, 0x00, 0x04, 0x3c, 0xff, 0xbc, 0xda, 0xf9, 0x20, 0x21,
        0xa0, 0x04, 0x32, 0x9c,
    ];

    #[test]
    fn av1c_matches_ffmpeg() {
        // (temporal unit, CodecPrivate ffmpeg's Matroska muxer writes for it)
        let cases: &[(&[u8], &[u8])] = &[
            (TU_420, &[0x81, 0x00, 0x0c, 0x00]),
            (TU_444, &[0x81, 0x20, 0x00, 0x00]),
        ];
        for &(tu, head) in cases {
            let (av1c, sh) = av1c_from_temporal_unit(tu).expect("parses");
            let obu_len = 2 + usize::from(tu[3]);
            assert_eq!(&av1c[..4], head);
            assert_eq!(&av1c[4..], &tu[2..2 + obu_len]);
            assert_eq!((sh.max_frame_width, sh.max_frame_height), (320, 240));
        }
    }

    #[test]
    fn truncated_input_is_none() {
        for n in 0..TU_444.len() {
            // Never panics; a cut sequence header OBU is rejected.
            let got = av1c_from_temporal_unit(&TU_444[..n]);
            assert_eq!(got.is_some(), n >= 17, "{n}");
        }
        assert!(av1c_from_temporal_unit(&[0x12, 0x00]).is_none());
        assert!(av1c_from_temporal_unit(&[0x0a, 0xff]).is_none());
    }
}
