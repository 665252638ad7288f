//! Test helpers for building codec headers.

/// MSB-first bit writer for building codec headers in tests.
#[derive(Default)]
pub struct Bits {
    pub out: Vec<u8>,
    n: usize,
}

impl Bits {
    /// Appends the low `bits` bits of `v`, most significant first.
    pub fn put(&mut self, v: u32, bits: u32) -> &mut Self {
        for i in (0..bits).rev() {
            if self.n.is_multiple_of(8) {
                self.out.push(0);
            }
            let last = self.out.len() - 1;
            self.out[last] |= (((v >> i) & 1) as u8) << (7 - self.n % 8);
            self.n += 1;
        }
        self
    }
}

/// Bytes from a hex string such as `"6742c01e"`.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift), standing in for SRTP ciphertext.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
