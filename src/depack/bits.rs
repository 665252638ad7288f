//! Bit reading for codec headers and AV1 LEB128 lengths; every read is bounds-checked.

/// Reads big-endian bit fields (MSB first), as the VP9 and AV1 specs' `f(n)`.
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

    /// Reads an AV1 `uvlc()` (AV1 spec §4.10.3); `None` if truncated or over 32 zeros.
    pub(crate) fn uvlc(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros >= 32 {
                return None;
            }
        }
        Some(self.read(zeros)? + ((1u32 << zeros) - 1))
    }
}

/// Why a LEB128 value could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leb128Error {
    /// The data ends while the continuation bit is set.
    Truncated,
    /// More than 8 bytes, or a value above 2^32 - 1.
    TooLarge,
}

/// Reads an AV1 `leb128()` (AV1 spec §4.10.5): returns (value, bytes read).
///
/// At most 8 bytes are read and the value must fit 32 bits (a bitstream
/// conformance requirement), which also caps any length read from input.
pub(crate) fn read_leb128(data: &[u8]) -> Result<(u64, usize), Leb128Error> {
    let mut value: u64 = 0;
    for i in 0..8 {
        let byte = *data.get(i).ok_or(Leb128Error::Truncated)?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if value > u64::from(u32::MAX) {
                return Err(Leb128Error::TooLarge);
            }
            return Ok((value, i + 1));
        }
    }
    Err(Leb128Error::TooLarge)
}

/// Appends `value` as LEB128 in the fewest bytes.
pub(crate) fn write_leb128(mut value: u64, out: &mut Vec<u8>) {
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
            assert_eq!(read_leb128(data), *want, "case {i}");
        }
    }

    #[test]
    fn bits_and_uvlc() {
        let mut r = BitReader::new(&[0b1010_0000, 0xff]);
        assert_eq!(r.read(3), Some(0b101));
        assert_eq!(r.read(13), Some(0x00ff));
        assert_eq!(r.read(1), None);
        // uvlc: "010" = 1, "1" = 0, "00111" = 6.
        let mut r = BitReader::new(&[0b0101_0011, 0b1000_0000]);
        assert_eq!(r.uvlc(), Some(1));
        assert_eq!(r.uvlc(), Some(0));
        assert_eq!(r.uvlc(), Some(6));
    }

    proptest! {
        #[test]
        fn leb128_round_trips(v in 0u64..=u64::from(u32::MAX)) {
            let mut out = Vec::new();
            write_leb128(v, &mut out);
            prop_assert_eq!(read_leb128(&out), Ok((v, out.len())));
        }
    }
}
