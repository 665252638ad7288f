//! Bit reading for codec headers (fixed-width fields and Exp-Golomb codes) and
//! AV1 LEB128 lengths; every read is bounds-checked.

/// Reads big-endian bit fields (MSB first), as the VP9 and AV1 specs' `f(n)` and
/// the H.264/H.265 specs' `u(n)`.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Reads `n` (at most 32) bits, or `None` past the end.
    pub(crate) fn read(&mut self, n: u32) -> Option<u32> {
        debug_assert!(n <= 32);
        let mut v: u32 = 0;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            let bit = (byte >> (7 - self.pos % 8)) & 1;
            v = (v << 1) | u32::from(bit);
            self.pos += 1;
        }
        Some(v)
    }

    /// Reads one bit as a flag.
    pub(crate) fn flag(&mut self) -> Option<bool> {
        self.read(1).map(|b| b == 1)
    }

    /// Reads an unsigned Exp-Golomb code: H.264 §9.1 `ue(v)`, which is also AV1's
    /// `uvlc()` (AV1 spec §4.10.3); `None` if truncated or over 32 leading zeros.
    pub(crate) fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros >= 32 {
                return None;
            }
        }
        Some(self.read(zeros)? + ((1u32 << zeros) - 1))
    }

    /// Reads a signed Exp-Golomb code, H.264 §9.1.1 `se(v)`.
    pub(crate) fn se(&mut self) -> Option<i32> {
        let k = i64::from(self.ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        i32::try_from(v).ok()
    }
}

/// Why a LEB128 value could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Leb128Error {
    /// The data ends while the continuation bit is set.
    #[error("LEB128 value truncated")]
    Truncated,
    /// More than 8 bytes, or a value above 2^32 - 1.
    #[error("LEB128 value too large")]
    TooLarge,
}

/// A LEB128 value and the bytes it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leb128 {
    /// The value (at most 2^32 - 1).
    pub value: u64,
    /// Bytes read.
    pub len: usize,
}

/// Reads an AV1 `leb128()` (AV1 spec §4.10.5).
///
/// At most 8 bytes are read and the value must fit 32 bits (a bitstream
/// conformance requirement), which also caps any length read from input.
pub fn read_leb128(data: &[u8]) -> Result<Leb128, Leb128Error> {
    let mut value: u64 = 0;
    for i in 0..8 {
        let byte = *data.get(i).ok_or(Leb128Error::Truncated)?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if value > u64::from(u32::MAX) {
                return Err(Leb128Error::TooLarge);
            }
            return Ok(Leb128 { value, len: i + 1 });
        }
    }
    Err(Leb128Error::TooLarge)
}

/// Appends `value` as LEB128 in the fewest bytes.
pub fn write_leb128(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Case = (&'static [u8], Result<(u64, usize), Leb128Error>);

    #[test]
    fn leb128_cases() {
        let cases: &[Case] = &[
            (&[0x00], Ok((0, 1))),
            (&[0x7f, 0xff], Ok((127, 1))),
            (&[0x80, 0x01], Ok((128, 2))),
            (&[0xe5, 0x8e, 0x26], Ok((624_485, 3))),
            // Non-minimal encodings are allowed (AV1 §4.10.5 pads to a fixed size).
            (&[0x80, 0x80, 0x00], Ok((0, 3))),
            (&[], Err(Leb128Error::Truncated)),
            (&[0x80], Err(Leb128Error::Truncated)),
            (
                &[0xff, 0xff, 0xff, 0xff, 0x0f],
                Ok((u64::from(u32::MAX), 5)),
            ),
            (&[0xff, 0xff, 0xff, 0xff, 0x1f], Err(Leb128Error::TooLarge)),
            (&[0x80; 9], Err(Leb128Error::TooLarge)),
        ];
        for (i, (data, want)) in cases.iter().enumerate() {
            let got = read_leb128(data).map(|l| (l.value, l.len));
            assert_eq!(got, *want, "case {i}");
        }
    }

    #[test]
    fn bits_and_exp_golomb() {
        let mut r = BitReader::new(&[0b1010_0000, 0xff]);
        assert_eq!(r.read(3), Some(0b101));
        assert_eq!(r.read(13), Some(0x00ff));
        assert_eq!(r.read(1), None);
        // "010" = 1, "1" = 0, "00111" = 6.
        let mut r = BitReader::new(&[0b0101_0011, 0b1000_0000]);
        assert_eq!(r.ue(), Some(1));
        assert_eq!(r.ue(), Some(0));
        assert_eq!(r.ue(), Some(6));
        let mut r = BitReader::new(&[0b0010_0011, 0b0010_0000]);
        // "00100" = ue 3; "011" = ue 2 = se -1; "00100" = ue 3 = se +2 (H.264 §9.1.1).
        assert_eq!(r.ue(), Some(3));
        assert_eq!(r.se(), Some(-1));
        assert_eq!(r.se(), Some(2));
        // 32 leading zeros is no code.
        assert_eq!(BitReader::new(&[0, 0, 0, 0, 0xff]).ue(), None);
    }

    proptest! {
        #[test]
        fn leb128_round_trips(v in 0u64..=u64::from(u32::MAX)) {
            let mut out = Vec::new();
            write_leb128(v, &mut out);
            prop_assert_eq!(read_leb128(&out), Ok(Leb128 { value: v, len: out.len() }));
        }
    }
}
