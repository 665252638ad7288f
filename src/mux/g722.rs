//! G.722 decoder (ITU-T G.722, 64 kbit/s mode): octets to 16 kHz 16-bit PCM.
//!
//! Each octet carries two sub-band ADPCM codes: the high 2 bits code the
//! 4-8 kHz band, the low 6 bits the 0-4 kHz band (§3.1). The decoder
//! (§4) reconstructs each band (inverse adaptive quantizer INVQAL/INVQAH,
//! quantizer adaptation LOGSCL/LOGSCH + SCALEL/SCALEH, adaptive predictor
//! with two poles and six zeros: UPPOL1, UPPOL2, UPZERO, FILTEP, FILTEZ), then
//! the receive QMF (§4.4, Table 11) turns the two 8 kHz bands into two
//! 16 kHz samples.
//!
//! Integer arithmetic follows the recommendation's fixed-point description
//! (the same arithmetic as the ITU reference and ffmpeg's `adpcm_g722`
//! decoder), so the output is bit-exact: `tests/wav.rs` compares it with
//! ffmpeg's decode of the same bytes. State is plain integers: no input can
//! make it panic (every shift and index is bounded by construction).

/// Inverse of the base-2 logarithm for the scale factor (SCALEL/SCALEH, Table 12 ILA2 steps).
const INV_LOG2: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];
/// High-band log scale factor steps WH (Table 13), indexed by the code's low bit.
const HIGH_LOG_STEP: [i32; 2] = [798, -214];
/// High-band inverse quantizer QQ2 with sign (Table 10, scaled).
const HIGH_INV_QUANT: [i32; 4] = [-926, -202, 926, 202];
/// Low-band log scale factor steps WL (Table 13) through RIL4 (indexed by the 4-bit code).
const LOW_LOG_STEP: [i32; 16] = [
    -60, 3042, 1198, 538, 334, 172, 58, -30, 3042, 1198, 538, 334, 172, 58, -30, -60,
];
/// Low-band 4-bit inverse quantizer QQ4 with sign (Table 8): feeds the predictor.
const LOW_INV_QUANT4: [i32; 16] = [
    0, -2557, -1612, -1121, -786, -530, -323, -150, 2557, 1612, 1121, 786, 530, 323, 150, 0,
];
/// Low-band 6-bit inverse quantizer QQ6 with sign (Table 6): the reconstructed signal.
const LOW_INV_QUANT6: [i32; 64] = [
    -17, -17, -17, -17, -3101, -2738, -2376, -2088, -1873, -1689, -1535, -1399, -1279, -1170,
    -1072, -982, -899, -822, -750, -682, -618, -558, -501, -447, -396, -347, -300, -254, -211,
    -170, -130, -91, 3101, 2738, 2376, 2088, 1873, 1689, 1535, 1399, 1279, 1170, 1072, 982, 899,
    822, 750, 682, 618, 558, 501, 447, 396, 347, 300, 254, 211, 170, 130, 91, 54, 17, -54, -17,
];
/// Receive QMF coefficients (Table 11), the first half of the symmetric 24-tap filter.
const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

fn clip(v: i32, lo: i32, hi: i32) -> i32 {
    v.clamp(lo, hi)
}

fn clip16(v: i32) -> i32 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX))
}

/// One sub-band's ADPCM state (§4.2, §4.3).
#[derive(Clone, Debug)]
struct Band {
    /// Signal estimate SL/SH: poles plus zeros.
    predictor: i32,
    /// Zero-section output SZL/SZH.
    zero_out: i32,
    /// Signs of the two previous partially reconstructed signals (true = negative).
    part_sign: [bool; 2],
    /// Previous reconstructed signal (internal scale) for the second pole.
    prev_reconst: i32,
    /// Pole coefficients AL1/AL2 (AH1/AH2).
    poles: [i32; 2],
    /// Previous quantized differences DLT/DHT (six zeros).
    diffs: [i32; 6],
    /// Zero coefficients BL1..BL6 (BH1..BH6).
    zeros: [i32; 6],
    /// Log scale factor NBL/NBH.
    log_factor: i32,
    /// Linear scale factor DETL/DETH.
    scale: i32,
}

impl Band {
    fn new(scale: i32) -> Self {
        Band {
            predictor: 0,
            zero_out: 0,
            part_sign: [false; 2],
            prev_reconst: 0,
            poles: [0; 2],
            diffs: [0; 6],
            zeros: [0; 6],
            log_factor: 0,
            scale,
        }
    }

    /// Adaptive predictor update with the quantized difference `d` (§4.3: UPPOL2,
    /// UPPOL1, UPZERO, FILTEZ, FILTEP); values are stored at 16 bits as specified.
    fn predict(&mut self, d: i32) {
        let sign = self.zero_out + d < 0;
        // sg[0]: +1 when the sign changed against p(n-1); sg[1]: +1 when equal to p(n-2).
        let sg0 = if sign != self.part_sign[0] { 1 } else { -1 };
        let sg1 = if sign == self.part_sign[1] { 1 } else { -1 };
        self.part_sign = [sign, self.part_sign[0]];
        // UPPOL2 then UPPOL1 (the limit on a1 depends on the new a2).
        let a2 = clip(
            ((sg0 * clip(self.poles[0], -8191, 8191)) >> 5)
                + (sg1 << 7)
                + ((self.poles[1] * 127) >> 7),
            -12288,
            12288,
        );
        let limit = 15360 - a2;
        let a1 = clip(-192 * sg0 + ((self.poles[0] * 255) >> 8), -limit, limit);
        self.poles = [a1, a2];
        // UPZERO: leak, then step towards the sign agreement of d with each past d.
        for (b, &past) in self.zeros.iter_mut().zip(&self.diffs) {
            let step = match (d, (past ^ d) < 0) {
                (0, _) => 0,
                (_, true) => -128,
                (_, false) => 128,
            };
            *b = i32::from((((*b * 255) >> 8) + step) as i16);
        }
        self.diffs.rotate_right(1);
        self.diffs[0] = clip16(d << 1);
        // FILTEZ: each product is scaled on its own, as in the fixed-point description.
        self.zero_out = self
            .zeros
            .iter()
            .zip(&self.diffs)
            .map(|(b, d)| (b * d) >> 15)
            .sum();
        // RECONS (internal scale) and FILTEP.
        let reconst = clip16((self.predictor + d) << 1);
        self.predictor = clip16(
            self.zero_out
                + ((self.poles[0] * reconst) >> 15)
                + ((self.poles[1] * self.prev_reconst) >> 15),
        );
        self.prev_reconst = reconst;
    }

    /// Quantizer adaptation: LOGSCL/LOGSCH (leaky log step) and SCALEL/SCALEH.
    fn adapt(&mut self, step: i32, max: i32, bias: i32) {
        self.log_factor = clip(((self.log_factor * 127) >> 7) + step, 0, max);
        let wd = self.log_factor - bias;
        let base = INV_LOG2[((wd >> 6) & 31) as usize];
        let shift = wd >> 11;
        self.scale = if shift < 0 {
            base >> (-shift).min(31)
        } else {
            base << shift.min(16)
        };
    }
}

/// A G.722 decoder: feed octets in order, get two 16 kHz samples per octet.
#[derive(Clone, Debug)]
pub struct G722Decoder {
    low: Band,
    high: Band,
    /// The last 24 QMF inputs, oldest first.
    qmf: [i32; 24],
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A decoder in the reset state (§5.3: DETL = 32, DETH = 8 on the recommendation's scale).
    pub fn new() -> Self {
        G722Decoder {
            low: Band::new(8),
            high: Band::new(2),
            qmf: [0; 24],
        }
    }

    /// Decodes one octet into two samples, in time order.
    pub fn decode(&mut self, octet: u8) -> [i16; 2] {
        let ihigh = usize::from(octet >> 6);
        let ilow = usize::from(octet & 0x3f);
        // Lower band: 6-bit code for the output, its top 4 bits for the predictor (§4.2).
        let rlow = clip(
            ((self.low.scale * LOW_INV_QUANT6[ilow]) >> 10) + self.low.predictor,
            -16384,
            16383,
        );
        let dlow4 = (self.low.scale * LOW_INV_QUANT4[ilow >> 2]) >> 10;
        self.low.predict(dlow4);
        self.low.adapt(LOW_LOG_STEP[ilow >> 2], 18432, 8 << 11);
        // Higher band (§4.3).
        let dhigh = (self.high.scale * HIGH_INV_QUANT[ihigh]) >> 10;
        let rhigh = clip(dhigh + self.high.predictor, -16384, 16383);
        self.high.predict(dhigh);
        self.high.adapt(HIGH_LOG_STEP[ihigh & 1], 22528, 10 << 11);
        // Receive QMF (§4.4): the sum and difference of the bands, through the 24-tap filter.
        self.qmf.copy_within(2.., 0);
        self.qmf[22] = rlow + rhigh;
        self.qmf[23] = rlow - rhigh;
        let (mut even, mut odd) = (0i32, 0i32);
        for (i, c) in QMF.iter().enumerate() {
            even += self.qmf[2 * i] * c;
            odd += self.qmf[2 * i + 1] * QMF[11 - i];
        }
        [clip16(odd >> 11) as i16, clip16(even >> 11) as i16]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The first 24 octets of `ffmpeg -f lavfi -i sine=frequency=440:sample_rate=16000
    /// -c:a g722 -f g722` and ffmpeg 5.1's decode of them (`-f g722 -i - -f s16le -`).
    const OCTETS: [u8; 24] = [
        0xfa, 0xde, 0x34, 0xb7, 0x2c, 0xa2, 0x20, 0xe0, 0xe0, 0xe0, 0xa8, 0xac, 0xb1, 0xf9, 0x5b,
        0xd6, 0xd2, 0xd2, 0xd2, 0xd4, 0x97, 0xdb, 0xfd, 0xf8,
    ];

    #[test]
    fn silence_in_reset_state_decodes_to_near_zero() {
        let mut d = G722Decoder::new();
        // The encoder's code for digital silence from reset.
        let out: Vec<i16> = (0..100).flat_map(|_| d.decode(0xfa)).collect();
        assert!(out.iter().all(|s| s.abs() < 64), "{out:?}");
    }

    const DECODED: [i16; 48] = [
        0, -1, -1, 0, 0, -1, -1, 0, -1, -1, 0, 2, 0, -4, -2, -2, 6, -4, -4, -11, 18, 39, 52, 66,
        222, 385, 527, 828, 1702, 2880, 3739, 4002, 3989, 3887, 3635, 3268, 2798, 2242, 1543, 756,
        90, -523, -1233, -2032, -2621, -3006, -3373, -3793,
    ];

    #[test]
    fn decodes_like_ffmpeg() {
        let mut d = G722Decoder::new();
        let out: Vec<i16> = OCTETS.iter().flat_map(|&o| d.decode(o)).collect();
        assert_eq!(out, DECODED);
    }

    proptest! {
        #[test]
        fn any_octets_decode_without_panic(octets in prop::collection::vec(any::<u8>(), 0..2000)) {
            let mut d = G722Decoder::new();
            for o in octets {
                let _ = d.decode(o);
                prop_assert!((0..=18432).contains(&d.low.log_factor));
                prop_assert!((0..=22528).contains(&d.high.log_factor));
            }
        }
    }
}
