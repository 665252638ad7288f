//! The few EBML (RFC 8794) encoding primitives a WebM writer needs, appending to a `Vec<u8>`.

/// Element IDs used by the WebM writer (Matroska, RFC 9559), with their marker bits.
pub mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
}

/// An element ID: 1 to 4 bytes, big-endian, marker bits included in the constant.
pub fn put_id(buf: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = (id.leading_zeros() / 8).min(3) as usize;
    buf.extend_from_slice(&bytes[skip..]);
}

/// A data size as the shortest variable-length integer (all-ones is reserved for "unknown").
pub fn put_size(buf: &mut Vec<u8>, size: u64) {
    let mut len = 1;
    while len < 8 && size >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    put_size_n(buf, size, len);
}

/// A data size as an 8-byte variable-length integer, so it can be patched in place later.
pub fn put_size8(buf: &mut Vec<u8>, size: u64) {
    put_size_n(buf, size, 8);
}

fn put_size_n(buf: &mut Vec<u8>, size: u64, len: u32) {
    let marked = size | (1u64 << (7 * len));
    buf.extend_from_slice(&marked.to_be_bytes()[(8 - len as usize)..]);
}

/// An unsigned integer element in the fewest bytes (at least one).
pub fn uint(buf: &mut Vec<u8>, id: u32, v: u64) {
    let len = (8 - (v.leading_zeros() / 8) as usize).max(1);
    put_id(buf, id);
    put_size(buf, len as u64);
    buf.extend_from_slice(&v.to_be_bytes()[8 - len..]);
}

/// An unsigned integer element in exactly 8 bytes, patchable in place.
pub fn uint8(buf: &mut Vec<u8>, id: u32, v: u64) {
    put_id(buf, id);
    put_size(buf, 8);
    buf.extend_from_slice(&v.to_be_bytes());
}

/// A 64-bit float element.
pub fn float(buf: &mut Vec<u8>, id: u32, v: f64) {
    put_id(buf, id);
    put_size(buf, 8);
    buf.extend_from_slice(&v.to_be_bytes());
}

/// A binary (or ASCII/UTF-8 string) element.
pub fn bytes(buf: &mut Vec<u8>, id: u32, v: &[u8]) {
    put_id(buf, id);
    put_size(buf, v.len() as u64);
    buf.extend_from_slice(v);
}

/// A master element whose children `body` writes.
pub fn master(buf: &mut Vec<u8>, id: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    body(&mut inner);
    put_id(buf, id);
    put_size(buf, inner.len() as u64);
    buf.extend_from_slice(&inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (fn(&mut Vec<u8>), &'static [u8]);

    #[test]
    fn encodings() {
        let cases: &[Case] = &[
            (|b| put_id(b, 0xA3), &[0xA3]),
            (|b| put_id(b, 0x4286), &[0x42, 0x86]),
            (|b| put_id(b, 0x2AD7B1), &[0x2A, 0xD7, 0xB1]),
            (|b| put_id(b, 0x1A45DFA3), &[0x1A, 0x45, 0xDF, 0xA3]),
            (|b| put_size(b, 0), &[0x80]),
            (|b| put_size(b, 126), &[0xFE]),
            (|b| put_size(b, 127), &[0x40, 0x7F]), // 0xFF would mean "unknown"
            (|b| put_size(b, 16382), &[0x7F, 0xFE]),
            (|b| put_size(b, 16383), &[0x20, 0x3F, 0xFF]),
            (|b| put_size8(b, 5), &[0x01, 0, 0, 0, 0, 0, 0, 5]),
            (|b| uint(b, 0xD7, 0), &[0xD7, 0x81, 0]),
            (|b| uint(b, 0xD7, 1), &[0xD7, 0x81, 1]),
            (
                |b| uint(b, 0x2AD7B1, 1_000_000),
                &[0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40],
            ),
            (
                |b| uint8(b, 0x53AC, 1),
                &[0x53, 0xAC, 0x88, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            (
                |b| float(b, 0x4489, 1.0),
                &[0x44, 0x89, 0x88, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0],
            ),
            (
                |b| bytes(b, 0x4282, b"webm"),
                &[0x42, 0x82, 0x84, b'w', b'e', b'b', b'm'],
            ),
            (
                |b| master(b, 0xE0, |b| uint(b, 0xB0, 640)),
                &[0xE0, 0x84, 0xB0, 0x82, 0x02, 0x80],
            ),
        ];
        for (i, (f, want)) in cases.iter().enumerate() {
            let mut b = Vec::new();
            f(&mut b);
            assert_eq!(&b, want, "case {i}");
        }
    }
}
