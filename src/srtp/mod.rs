//! SRTP and SRTCP decryption with known keys (RFC 3711; AES-256 from RFC 6188;
//! AES-GCM from RFC 7714). Sans-IO: bytes in, plain RTP/RTCP bytes out.
//!
//! One [`SrtpContext`] holds the session keys derived from one master key ||
//! salt (RFC 3711 §4.3, key derivation rate 0) and a small state per SSRC: the
//! highest authenticated packet index, from which the rollover counter of the
//! next packet is guessed (RFC 3711 §3.3.1). Authentication is checked before
//! anything is decrypted, with a constant-time tag comparison.
//!
//! Tolerated, because captures are not receivers:
//! - replays: the same index twice is decrypted twice (a capture holds
//!   duplicates; the reorder stage drops them), there is no replay list;
//! - a capture that starts mid-stream: the rollover counter starts at 0, as SDES
//!   senders start it; near a sequence-number wrap, a packet that fails with the
//!   guessed ROC is tried with ROC+1 and ROC-1 before it counts as a failure;
//! - authentication failures: counted per SSRC ([`SrtpContext::stats`]), never
//!   fatal; the caller decides when a key is wrong.
//!
//! Keys never appear in `Debug` output or in errors. No MKI (WebRTC does not use it).

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::collections::HashMap;

#[cfg(test)]
mod capture_tests;
pub mod detect;
pub mod keyring;
#[cfg(test)]
mod tests;

/// An SRTP protection profile (crypto suite) rtprec can decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag (RFC 3711 §5).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 with a 32-bit SRTP tag (SRTCP keeps 80 bits).
    AesCm128HmacSha1_32,
    /// AES-256 counter mode, HMAC-SHA1 80-bit tag (RFC 6188).
    AesCm256HmacSha1_80,
    /// AES-256 counter mode, HMAC-SHA1 32-bit SRTP tag (RFC 6188).
    AesCm256HmacSha1_32,
    /// AES-128 GCM, 16-byte tag (RFC 7714).
    AeadAes128Gcm,
    /// AES-256 GCM, 16-byte tag (RFC 7714).
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Every profile, in the order metadata lists them.
    pub const ALL: [SrtpProfile; 6] = [
        SrtpProfile::AesCm128HmacSha1_80,
        SrtpProfile::AesCm128HmacSha1_32,
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::AesCm256HmacSha1_80,
        SrtpProfile::AesCm256HmacSha1_32,
    ];

    /// The profile with this SDES/metadata name (`AES_CM_128_HMAC_SHA1_80`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The SDES suite name (RFC 4568, RFC 6188, RFC 7714 §14.2).
    pub fn name(self) -> &'static str {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpProfile::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpProfile::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            SrtpProfile::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Master (and session) key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            SrtpProfile::AesCm128HmacSha1_80
            | SrtpProfile::AesCm128HmacSha1_32
            | SrtpProfile::AeadAes128Gcm => 16,
            SrtpProfile::AesCm256HmacSha1_80
            | SrtpProfile::AesCm256HmacSha1_32
            | SrtpProfile::AeadAes256Gcm => 32,
        }
    }

    /// Master (and session) salt length in bytes: 112 bits for AES-CM, 96 for GCM.
    pub fn salt_len(self) -> usize {
        if self.is_aead() { 12 } else { 14 }
    }

    /// Whether the profile is AES-GCM (RFC 7714).
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm
        )
    }

    /// Authentication tag length of SRTP packets.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 | SrtpProfile::AesCm256HmacSha1_80 => 10,
            SrtpProfile::AesCm128HmacSha1_32 | SrtpProfile::AesCm256HmacSha1_32 => 4,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 16,
        }
    }

    /// Authentication tag length of SRTCP packets (80 bits for both HMAC variants,
    /// RFC 5764 §4.1.2).
    pub fn rtcp_tag_len(self) -> usize {
        if self.is_aead() { 16 } else { 10 }
    }
}

/// Why a packet or a key could not be used. Never contains key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// The authentication tag does not match: wrong key, wrong rollover counter or damage.
    #[error("SRTP authentication failed")]
    AuthFailed,
    /// The packet is shorter than its header plus trailer and tag.
    #[error("packet too short for its SRTP header, trailer and tag")]
    Truncated,
    /// The packet is not RTP/RTCP version 2.
    #[error("not an RTP/RTCP version 2 packet")]
    NotRtp,
    /// Master key || salt has the wrong length for the profile.
    #[error("master key || salt is {got} bytes, {profile} needs {want}")]
    BadKey {
        /// Profile name.
        profile: &'static str,
        /// Bytes given.
        got: usize,
        /// Bytes needed.
        want: usize,
    },
    /// The key text is not base64.
    #[error("SRTP key is not base64")]
    BadBase64,
    /// The profile name is not one rtprec supports.
    #[error("{0:?} is not a supported SRTP profile")]
    UnsupportedProfile(String),
}

/// Per-SSRC counters of one context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SrtpStats {
    /// Packets that authenticated (and were decrypted).
    pub authenticated: u64,
    /// Packets whose tag did not match.
    pub auth_failures: u64,
}

/// The block cipher or AEAD keyed with one session key.
#[derive(Clone)]
enum Cipher {
    Cm128(Box<Aes128>),
    Cm256(Box<Aes256>),
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
}

impl Cipher {
    fn new(profile: SrtpProfile, key: &[u8]) -> Self {
        let bad = "session key length matches the profile by construction";
        match profile {
            SrtpProfile::AesCm128HmacSha1_80 | SrtpProfile::AesCm128HmacSha1_32 => {
                Cipher::Cm128(Box::new(Aes128::new_from_slice(key).expect(bad)))
            }
            SrtpProfile::AesCm256HmacSha1_80 | SrtpProfile::AesCm256HmacSha1_32 => {
                Cipher::Cm256(Box::new(Aes256::new_from_slice(key).expect(bad)))
            }
            SrtpProfile::AeadAes128Gcm => {
                Cipher::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).expect(bad)))
            }
            SrtpProfile::AeadAes256Gcm => {
                Cipher::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).expect(bad)))
            }
        }
    }

    /// XORs `data` with the AES counter-mode keystream starting at `iv` (RFC 3711 §4.1.1).
    /// The block counter is the whole 128-bit IV, big-endian; SRTP packets never carry it
    /// past the 16 low bits that the IV leaves zero.
    fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]) {
        let start = u128::from_be_bytes(*iv);
        for (i, chunk) in data.chunks_mut(16).enumerate() {
            let mut block = aes::Block::from(start.wrapping_add(i as u128).to_be_bytes());
            match self {
                Cipher::Cm128(c) => c.encrypt_block(&mut block),
                Cipher::Cm256(c) => c.encrypt_block(&mut block),
                Cipher::Gcm128(_) | Cipher::Gcm256(_) => {
                    unreachable!("counter mode is only used with AES-CM profiles")
                }
            }
            for (d, k) in chunk.iter_mut().zip(block.iter()) {
                *d ^= k;
            }
        }
    }

    /// AEAD open in place; `buf` is untouched when the tag does not match.
    fn open(&self, iv: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), SrtpError> {
        let nonce = aes_gcm::Nonce::from(*iv);
        let tag = aes_gcm::Tag::try_from(tag).map_err(|_| SrtpError::Truncated)?;
        let r = match self {
            Cipher::Gcm128(c) => c.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
            Cipher::Gcm256(c) => c.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
            Cipher::Cm128(_) | Cipher::Cm256(_) => {
                unreachable!("AEAD open is only used with GCM profiles")
            }
        };
        r.map_err(|_| SrtpError::AuthFailed)
    }

    /// AEAD seal in place, returning the tag (tests and fuzz seeds only).
    fn seal(&self, iv: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let nonce = aes_gcm::Nonce::from(*iv);
        let r = match self {
            Cipher::Gcm128(c) => c.encrypt_inout_detached(&nonce, aad, buf.into()),
            Cipher::Gcm256(c) => c.encrypt_inout_detached(&nonce, aad, buf.into()),
            Cipher::Cm128(_) | Cipher::Cm256(_) => {
                unreachable!("AEAD seal is only used with GCM profiles")
            }
        };
        r.expect("SRTP packets are far below the GCM length limit")
            .into()
    }
}

/// Session keys of one direction (SRTP or SRTCP).
#[derive(Clone)]
struct SessionKeys {
    cipher: Cipher,
    /// Session salt, left-aligned in 14 bytes (GCM uses the first 12).
    salt: [u8; 14],
    /// HMAC-SHA1 keyed with the session auth key; `None` for GCM.
    mac: Option<Hmac<Sha1>>,
}

impl SessionKeys {
    /// From session key material directly (the RFC 7714 vectors are stated so).
    fn from_session(profile: SrtpProfile, key: &[u8], salt: &[u8], auth: &[u8]) -> Self {
        let mut s = [0u8; 14];
        s[..salt.len()].copy_from_slice(salt);
        SessionKeys {
            cipher: Cipher::new(profile, key),
            salt: s,
            mac: (!profile.is_aead())
                .then(|| Hmac::<Sha1>::new_from_slice(auth).expect("HMAC takes any key length")),
        }
    }

    /// Derives the session keys with labels `base`, `base + 1`, `base + 2`
    /// (RFC 3711 §4.3.1: 0..2 for SRTP, 3..5 for SRTCP).
    fn derive(profile: SrtpProfile, master_key: &[u8], master_salt: &[u8], base: u8) -> Self {
        let key = kdf(master_key, master_salt, base, profile.key_len());
        let auth = kdf(master_key, master_salt, base + 1, 20);
        let salt = kdf(master_key, master_salt, base + 2, profile.salt_len());
        SessionKeys::from_session(profile, &key, &salt, &auth)
    }

    /// AES-CM IV (RFC 3711 §4.1.1): (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16),
    /// `index` being the 48-bit SRTP index or the 31-bit SRTCP index.
    fn cm_iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (d, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *d ^= s;
        }
        for (d, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *d ^= s;
        }
        iv
    }

    /// GCM IV (RFC 7714 §8.1 for SRTP, §9.1 for SRTCP): 0x0000 || SSRC || the 48-bit
    /// ROC||SEQ, or 0x0000 || 0 || 31-bit SRTCP index, XOR the 96-bit salt.
    fn gcm_iv(&self, ssrc: u32, index: u64) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..12].copy_from_slice(&index.to_be_bytes()[2..]);
        for (d, s) in iv.iter_mut().zip(&self.salt[..12]) {
            *d ^= s;
        }
        iv
    }

    /// Full HMAC-SHA1 over `parts`.
    fn hmac(&self, parts: &[&[u8]]) -> Hmac<Sha1> {
        let mut m = self.mac.clone().expect("HMAC profiles have an auth key");
        for p in parts {
            m.update(p);
        }
        m
    }
}

/// Per-SSRC rollover state.
#[derive(Clone, Copy, Debug, Default)]
struct Stream {
    /// Highest authenticated index, ROC || SEQ (48 bits).
    highest: Option<u64>,
    stats: SrtpStats,
}

/// Decryption state for every SSRC keyed by one master key.
#[derive(Clone)]
pub struct SrtpContext {
    profile: SrtpProfile,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    streams: HashMap<u32, Stream>,
    rtcp_stats: HashMap<u32, SrtpStats>,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are never printed.
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("ssrcs", &self.streams.len())
            .finish_non_exhaustive()
    }
}

/// RTP header length (fixed part, CSRCs, RFC 3550 §5.3.1 extension); the payload is
/// encrypted, so nothing past the header (padding included) is looked at.
fn rtp_header_len(p: &[u8]) -> Result<usize, SrtpError> {
    if p.len() < 12 {
        return Err(SrtpError::Truncated);
    }
    if p[0] >> 6 != 2 {
        return Err(SrtpError::NotRtp);
    }
    let mut n = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let ext = p.get(n + 2..n + 4).ok_or(SrtpError::Truncated)?;
        n += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    if n > p.len() {
        return Err(SrtpError::Truncated);
    }
    Ok(n)
}

/// The rollover counter of `seq` guessed from the highest index seen
/// (RFC 3711 §3.3.1 and Appendix A). ROC - 1 below zero is 0: the packet is from
/// before the first one seen, whose ROC of 0 was an assumption (as in libsrtp).
fn guess_roc(highest: Option<u64>, seq: u16) -> u32 {
    let Some(h) = highest else {
        return 0;
    };
    let roc = (h >> 16) as u32;
    let s_l = h as u16;
    if s_l < 0x8000 {
        if seq > s_l && seq - s_l > 0x8000 {
            roc.saturating_sub(1)
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq {
        roc.wrapping_add(1)
    } else {
        roc
    }
}

/// Highest rollover counter tried for a stream's first packets: 512 wraps is
/// over 18 hours of 500 packets/s video.
const MAX_INITIAL_ROC: u32 = 512;

/// Packets of a stream that try every ROC up to [`MAX_INITIAL_ROC`] before one
/// authenticates (each costs up to 512 tag checks, so only the first two).
const ROC_SEARCH_PACKETS: u64 = 2;

/// Sequence numbers this close to a wrap also try ROC +- 1 when the guess fails.
const NEAR_WRAP: u16 = 0x1000;

impl SrtpContext {
    /// A context for `profile` from master key || master salt.
    pub fn new(profile: SrtpProfile, master_key_salt: &[u8]) -> Result<Self, SrtpError> {
        let (kl, sl) = (profile.key_len(), profile.salt_len());
        if master_key_salt.len() != kl + sl {
            return Err(SrtpError::BadKey {
                profile: profile.name(),
                got: master_key_salt.len(),
                want: kl + sl,
            });
        }
        let (key, salt) = master_key_salt.split_at(kl);
        Ok(Self::with_keys(
            profile,
            SessionKeys::derive(profile, key, salt, 0),
            SessionKeys::derive(profile, key, salt, 3),
        ))
    }

    /// A context from a profile name and base64 master key || salt, as in SDP
    /// `a=crypto ... inline:` and metadata `srtp`.
    pub fn from_base64(profile: &str, key_base64: &str) -> Result<Self, SrtpError> {
        let p = SrtpProfile::from_name(profile)
            .ok_or_else(|| SrtpError::UnsupportedProfile(profile.to_string()))?;
        let key = decode_base64(key_base64.trim()).ok_or(SrtpError::BadBase64)?;
        Self::new(p, &key)
    }

    /// A context from session keys directly, the same for SRTP and SRTCP (for the
    /// RFC 7714 test vectors, which are stated that way).
    #[doc(hidden)]
    pub fn from_session_keys(profile: SrtpProfile, key: &[u8], salt: &[u8], auth: &[u8]) -> Self {
        let k = SessionKeys::from_session(profile, key, salt, auth);
        Self::with_keys(profile, k.clone(), k)
    }

    fn with_keys(profile: SrtpProfile, rtp: SessionKeys, rtcp: SessionKeys) -> Self {
        SrtpContext {
            profile,
            rtp,
            rtcp,
            streams: HashMap::new(),
            rtcp_stats: HashMap::new(),
        }
    }

    /// The profile.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// SRTP counters of one SSRC.
    pub fn stats(&self, ssrc: u32) -> SrtpStats {
        self.streams.get(&ssrc).map(|s| s.stats).unwrap_or_default()
    }

    /// SRTCP counters of one sender SSRC.
    pub fn rtcp_stats(&self, ssrc: u32) -> SrtpStats {
        self.rtcp_stats.get(&ssrc).copied().unwrap_or_default()
    }

    /// The rollover counter of the highest authenticated packet of `ssrc`.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        self.streams
            .get(&ssrc)
            .and_then(|s| s.highest)
            .map(|h| (h >> 16) as u32)
    }

    /// Authenticates and decrypts one SRTP packet into `out` (plain RTP header and
    /// payload, tag removed). Failures count against the SSRC; state only advances on
    /// success.
    pub fn decrypt_rtp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        out.clear();
        let header_len = rtp_header_len(packet)?;
        let tag_len = self.profile.rtp_tag_len();
        if packet.len() < header_len + tag_len {
            return Err(SrtpError::Truncated);
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let stream = self.streams.entry(ssrc).or_default();
        let guess = guess_roc(stream.highest, seq);
        let mut rocs = [Some(guess), None, None];
        if !(NEAR_WRAP..=u16::MAX - NEAR_WRAP).contains(&seq) {
            // RFC 3711 §3.3.1 guesses wrong when more than half the sequence space was
            // lost around a wrap; ROC +- 1 costs two more tag checks only on failure.
            rocs[1] = guess.checked_add(1);
            rocs[2] = guess.checked_sub(1);
        }
        // A capture that starts mid-call finds the stream's ROC above 0 (it counts
        // wraps since the sender's first packet, RFC 3711 §3.3.1): until one packet
        // of the SSRC authenticates, the first few also try every ROC up to a bound.
        let search = stream.highest.is_none() && stream.stats.auth_failures < ROC_SEARCH_PACKETS;
        let deep = (1..=MAX_INITIAL_ROC).filter(|_| search);
        for roc in rocs.into_iter().flatten().chain(deep) {
            let index = (u64::from(roc) << 16) | u64::from(seq);
            if decrypt_rtp_at(
                &self.rtp,
                self.profile,
                packet,
                header_len,
                ssrc,
                index,
                out,
            )
            .is_ok()
            {
                stream.stats.authenticated += 1;
                stream.highest = Some(stream.highest.map_or(index, |h| h.max(index)));
                return Ok(());
            }
        }
        out.clear();
        stream.stats.auth_failures += 1;
        Err(SrtpError::AuthFailed)
    }

    /// Authenticates and decrypts one SRTCP packet (a whole compound) into `out`: the
    /// plain compound, without the E||index trailer and tag (RFC 3711 §3.4).
    pub fn decrypt_rtcp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        out.clear();
        let tag_len = self.profile.rtcp_tag_len();
        if packet.len() < 8 + 4 + tag_len {
            return Err(SrtpError::Truncated);
        }
        if packet[0] >> 6 != 2 {
            return Err(SrtpError::NotRtp);
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let r = decrypt_rtcp_with(&self.rtcp, self.profile, packet, ssrc, out);
        let st = self.rtcp_stats.entry(ssrc).or_default();
        match r {
            Ok(()) => st.authenticated += 1,
            Err(_) => {
                out.clear();
                st.auth_failures += 1;
            }
        }
        r
    }

    /// Encrypts one RTP packet with rollover counter `roc` (tests, fuzz seeds, benches).
    #[doc(hidden)]
    pub fn encrypt_rtp(&self, roc: u32, plain: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let header_len = rtp_header_len(plain)?;
        let seq = u16::from_be_bytes([plain[2], plain[3]]);
        let ssrc = u32::from_be_bytes([plain[8], plain[9], plain[10], plain[11]]);
        let index = (u64::from(roc) << 16) | u64::from(seq);
        let k = &self.rtp;
        let mut out = plain.to_vec();
        if self.profile.is_aead() {
            let (aad, body) = out.split_at_mut(header_len);
            let tag = k.cipher.seal(&k.gcm_iv(ssrc, index), aad, body);
            out.extend_from_slice(&tag);
        } else {
            k.cipher
                .apply_keystream(&k.cm_iv(ssrc, index), &mut out[header_len..]);
            let tag = k.hmac(&[&out, &roc.to_be_bytes()]).finalize().into_bytes();
            out.extend_from_slice(&tag[..self.profile.rtp_tag_len()]);
        }
        Ok(out)
    }

    /// Encrypts one RTCP compound with SRTCP index `index` (31 bits), E flag set
    /// (tests, fuzz seeds, benches).
    #[doc(hidden)]
    pub fn encrypt_rtcp(&self, index: u32, plain: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if plain.len() < 8 {
            return Err(SrtpError::Truncated);
        }
        let ssrc = u32::from_be_bytes([plain[4], plain[5], plain[6], plain[7]]);
        let trailer = (index | 0x8000_0000).to_be_bytes();
        let k = &self.rtcp;
        let mut out = plain.to_vec();
        if self.profile.is_aead() {
            let aad = [&plain[..8], &trailer[..]].concat();
            let tag = k
                .cipher
                .seal(&k.gcm_iv(ssrc, u64::from(index)), &aad, &mut out[8..]);
            out.extend_from_slice(&tag);
            out.extend_from_slice(&trailer);
        } else {
            k.cipher
                .apply_keystream(&k.cm_iv(ssrc, u64::from(index)), &mut out[8..]);
            out.extend_from_slice(&trailer);
            let tag = k.hmac(&[&out]).finalize().into_bytes();
            out.extend_from_slice(&tag[..self.profile.rtcp_tag_len()]);
        }
        Ok(out)
    }
}

/// The RFC 3711 §4.3 key derivation function with key derivation rate 0: `n` bytes
/// for `label` (0..2 SRTP key, auth key, salt; 3..5 the same for SRTCP).
fn kdf(master_key: &[u8], master_salt: &[u8], label: u8, n: usize) -> Vec<u8> {
    // The PRF is AES-CM keyed with the master key (§4.3.3), AES-256 for 256-bit keys
    // (RFC 6188 §7). A 96-bit GCM master salt is zero-padded on the right to 112 bits,
    // as libsrtp does, which is what RFC 7714 §11 implementations interoperate with.
    let prf = if master_key.len() == 32 {
        Cipher::Cm256(Box::new(
            Aes256::new_from_slice(master_key).expect("32-byte key"),
        ))
    } else {
        Cipher::Cm128(Box::new(
            Aes128::new_from_slice(master_key).expect("16-byte key"),
        ))
    };
    // x = key_id XOR master_salt with key_id = label || r, r = 0 (KDR 0): the label
    // lands in byte 7 of the 14-byte salt; IV = x * 2^16.
    let mut iv = [0u8; 16];
    iv[..master_salt.len()].copy_from_slice(master_salt);
    iv[7] ^= label;
    let mut out = vec![0u8; n];
    prf.apply_keystream(&iv, &mut out);
    out
}

/// One SRTP authentication + decryption attempt at a given 48-bit index.
fn decrypt_rtp_at(
    k: &SessionKeys,
    profile: SrtpProfile,
    packet: &[u8],
    header_len: usize,
    ssrc: u32,
    index: u64,
    out: &mut Vec<u8>,
) -> Result<(), SrtpError> {
    let tag_len = profile.rtp_tag_len();
    let (body, tag) = packet.split_at(packet.len() - tag_len);
    out.clear();
    out.extend_from_slice(body);
    if profile.is_aead() {
        // RFC 7714 §8.2: the header is the associated data, the tag follows the payload.
        let (aad, ct) = out.split_at_mut(header_len);
        k.cipher.open(&k.gcm_iv(ssrc, index), aad, ct, tag)?;
    } else {
        // RFC 3711 §4.2: the tag covers the authenticated portion || ROC (32 bits).
        let roc = ((index >> 16) as u32).to_be_bytes();
        // verify_truncated_left compares in constant time.
        k.hmac(&[body, &roc])
            .verify_truncated_left(tag)
            .map_err(|_| SrtpError::AuthFailed)?;
        k.cipher
            .apply_keystream(&k.cm_iv(ssrc, index), &mut out[header_len..]);
    }
    Ok(())
}

/// SRTCP authentication + decryption (RFC 3711 §3.4; RFC 7714 §9 for GCM).
fn decrypt_rtcp_with(
    k: &SessionKeys,
    profile: SrtpProfile,
    packet: &[u8],
    ssrc: u32,
    out: &mut Vec<u8>,
) -> Result<(), SrtpError> {
    let tag_len = profile.rtcp_tag_len();
    if profile.is_aead() {
        // RFC 7714 §9: header | ciphertext | tag | E || SRTCP index.
        let (rest, trailer) = packet.split_at(packet.len() - 4);
        let (body, tag) = rest.split_at(rest.len() - tag_len);
        let word = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let index = u64::from(word & 0x7fff_ffff);
        let iv = k.gcm_iv(ssrc, index);
        out.extend_from_slice(body);
        if word & 0x8000_0000 != 0 {
            // §9.2: the first 8 bytes and the trailer are associated data.
            let aad = [&body[..8], trailer].concat();
            k.cipher.open(&iv, &aad, &mut out[8..], tag)
        } else {
            // §9.3 (E = 0): everything is associated data, nothing is encrypted.
            let aad = [body, trailer].concat();
            k.cipher.open(&iv, &aad, &mut [], tag)
        }
    } else {
        // RFC 3711 §3.4: header | (encrypted) | E || SRTCP index | tag; the tag covers
        // everything before it, the trailer included.
        let (authed, tag) = packet.split_at(packet.len() - tag_len);
        k.hmac(&[authed])
            .verify_truncated_left(tag)
            .map_err(|_| SrtpError::AuthFailed)?;
        let (body, trailer) = authed.split_at(authed.len() - 4);
        let word = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        out.extend_from_slice(body);
        if word & 0x8000_0000 != 0 {
            let index = u64::from(word & 0x7fff_ffff);
            k.cipher
                .apply_keystream(&k.cm_iv(ssrc, index), &mut out[8..]);
        }
        Ok(())
    }
}

/// Standard base64 (RFC 4648 §4) as SDP carries it: padding optional (but whole when
/// present, checked by [`decode_base64`]), and bits past the last byte ignored.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes standard base64 (RFC 4648 §4), padding optional; `None` when not base64.
///
/// SDES keys (RFC 4568 `inline:`), their length checks in metadata and SDP, and
/// H.264/H.265 `sprop-*` parameter sets all decode with this.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    // `Indifferent` also takes partial padding such as `TQ=`.
    let padding_whole = !s.ends_with('=') || s.len().is_multiple_of(4);
    padding_whole.then(|| BASE64.decode(s).ok()).flatten()
}
