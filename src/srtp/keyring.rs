//! SRTP keys for streams no metadata names (`rtprec record --srtp-keys FILE`).
//!
//! A key file has one key per line: `PROFILE KEY [ssrc=N]`, the key being base64
//! master key || salt as in SDP `a=crypto ... inline:` (the `inline:` prefix and
//! any `|lifetime|MKI` suffix are accepted). `#` starts a comment. A key bound to
//! an SSRC is used for that SSRC only; the others are tried on every stream
//! without keys, and a stream takes the first key that authenticates one of its
//! first packets. Streams no key authenticates are taken as plain RTP.
//!
//! Keys never appear in errors or `Debug` output.

use super::{SrtpContext, SrtpError};
use std::collections::HashMap;

/// Packets of a stream tried against the keys before it is taken as plain RTP.
pub const PROBE_PACKETS: u32 = 16;

/// Why a key file cannot be used; names the line, never the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{origin}: line {line}: {reason}")]
pub struct KeyFileError {
    /// The file (or environment variable) the keys came from.
    pub origin: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// One key of a key file.
#[derive(Clone)]
pub struct KeyLine {
    /// SSRC the key is bound to, if any.
    pub ssrc: Option<u32>,
    ctx: SrtpContext,
}

impl std::fmt::Debug for KeyLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLine")
            .field("ssrc", &self.ssrc)
            .field("profile", &self.ctx.profile().name())
            .finish_non_exhaustive()
    }
}

/// Parses a key file's text; `origin` names it in errors.
pub fn parse_key_file(text: &str, origin: &str) -> Result<Vec<KeyLine>, KeyFileError> {
    let mut keys = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let err = |reason: String| KeyFileError {
            origin: origin.to_string(),
            line: i + 1,
            reason,
        };
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        // Words are never echoed in errors: any of them may be key material
        // (a pasted `a=crypto` line puts the key third).
        let mut words = line.split_whitespace();
        let (Some(profile), Some(key)) = (words.next(), words.next()) else {
            return Err(err("expected `PROFILE KEY [ssrc=N]`".into()));
        };
        if super::SrtpProfile::from_name(profile).is_none() {
            return Err(err(format!(
                "the first word is not a supported SRTP profile ({})",
                super::SrtpProfile::ALL.map(|p| p.name()).join(", ")
            )));
        }
        let mut ssrc = None;
        for (i, w) in words.enumerate() {
            let Some(v) = w.strip_prefix("ssrc=") else {
                return Err(err(format!("word {} is not `ssrc=N`", i + 3)));
            };
            ssrc = Some(
                parse_ssrc(v)
                    .ok_or_else(|| err("`ssrc=` needs a decimal or 0x hex SSRC".into()))?,
            );
        }
        // SDP a=crypto key-params: inline:KEY||2^31|1:4 (RFC 4568 §6.1).
        let key = key.strip_prefix("inline:").unwrap_or(key);
        let key = key.split('|').next().unwrap_or(key);
        let ctx = SrtpContext::from_base64(profile, key).map_err(|e| {
            err(match e {
                // The messages of these errors never contain the key.
                SrtpError::BadBase64 | SrtpError::BadKey { .. } => e.to_string(),
                SrtpError::UnsupportedProfile(_) => e.to_string(),
                other => other.to_string(),
            })
        })?;
        keys.push(KeyLine { ssrc, ctx });
    }
    Ok(keys)
}

fn parse_ssrc(v: &str) -> Option<u32> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// Where a stream stands with the key ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyState {
    /// Still trying keys; this many packets failed so far.
    Probing(u32),
    /// Decrypted with this key.
    Key(usize),
    /// No key authenticated its first packets: plain RTP.
    Plain,
}

/// What [`KeyRing::unprotect_rtp`] made of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unprotect {
    /// Not SRTP as far as the keys know: use the packet as it is.
    Plain,
    /// Decrypted into the output buffer.
    Decrypted,
    /// The stream's key did not authenticate this packet: drop it.
    Failed,
}

/// The keys of a key file and, per SSRC, which one decrypts it.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<KeyLine>,
    state: HashMap<u32, KeyState>,
    failures: HashMap<u32, u64>,
}

impl KeyRing {
    /// A ring of `keys`.
    pub fn new(keys: Vec<KeyLine>) -> Self {
        KeyRing {
            keys,
            state: HashMap::new(),
            failures: HashMap::new(),
        }
    }

    /// No keys: every packet is plain.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Decrypts an RTP packet of `ssrc` into `out` when a key authenticates its stream.
    pub fn unprotect_rtp(&mut self, ssrc: u32, packet: &[u8], out: &mut Vec<u8>) -> Unprotect {
        if self.keys.is_empty() {
            return Unprotect::Plain;
        }
        let state = *self.state.entry(ssrc).or_insert(KeyState::Probing(0));
        match state {
            KeyState::Plain => Unprotect::Plain,
            KeyState::Key(i) => {
                if self.keys[i].ctx.decrypt_rtp(packet, out).is_ok() {
                    Unprotect::Decrypted
                } else {
                    *self.failures.entry(ssrc).or_default() += 1;
                    Unprotect::Failed
                }
            }
            KeyState::Probing(n) => {
                // A key bound to this SSRC wins over the unbound ones.
                let mut order: Vec<usize> = (0..self.keys.len())
                    .filter(|&i| self.keys[i].ssrc == Some(ssrc))
                    .collect();
                order.extend((0..self.keys.len()).filter(|&i| self.keys[i].ssrc.is_none()));
                for i in order {
                    if self.keys[i].ctx.decrypt_rtp(packet, out).is_ok() {
                        self.state.insert(ssrc, KeyState::Key(i));
                        return Unprotect::Decrypted;
                    }
                }
                // Passed on as plain: a stream no key authenticates is plain RTP. (A
                // stream whose first packets fail and a later one authenticates, e.g.
                // damaged, keeps those first packets as they were: rare, and the
                // codec guess and depacketizers treat them as the noise they are.)
                let next = if n + 1 >= PROBE_PACKETS {
                    KeyState::Plain
                } else {
                    KeyState::Probing(n + 1)
                };
                self.state.insert(ssrc, next);
                Unprotect::Plain
            }
        }
    }

    /// Decrypts an SRTCP packet sent by `ssrc` with the key of its RTP stream.
    pub fn unprotect_rtcp(&mut self, ssrc: u32, packet: &[u8], out: &mut Vec<u8>) -> Unprotect {
        match self.state.get(&ssrc) {
            Some(KeyState::Key(i)) => match self.keys[*i].ctx.decrypt_rtcp(packet, out) {
                Ok(()) => Unprotect::Decrypted,
                Err(_) => Unprotect::Failed,
            },
            _ => Unprotect::Plain,
        }
    }

    /// Packets of `ssrc` its key did not authenticate.
    pub fn failures(&self, ssrc: u32) -> u64 {
        self.failures.get(&ssrc).copied().unwrap_or(0)
    }

    /// Profile name of the key decrypting `ssrc`, if any.
    pub fn profile(&self, ssrc: u32) -> Option<&'static str> {
        match self.state.get(&ssrc) {
            Some(KeyState::Key(i)) => Some(self.keys[*i].ctx.profile().name()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::SrtpProfile;

    const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    fn packet(ssrc: u32, seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 111];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[0xfc, 0xff, 0xfe]);
        p
    }

    fn encrypt(key: &str, plain: &[u8]) -> Vec<u8> {
        SrtpContext::from_base64("AES_CM_128_HMAC_SHA1_80", key)
            .unwrap()
            .encrypt_rtp(0, plain)
            .unwrap()
    }

    #[test]
    fn key_file_lines() {
        let text = format!(
            "# keys\n\nAES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^31|1:1 ssrc=0x1234\nAEAD_AES_128_GCM {}\n",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
        );
        let keys = parse_key_file(&text, "k.txt").unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!((keys[0].ssrc, keys[1].ssrc), (Some(0x1234), None));
        assert_eq!(keys[1].ctx.profile(), SrtpProfile::AeadAes128Gcm);
        let dbg = format!("{keys:?}");
        assert!(!dbg.contains(KEY), "{dbg}");
    }

    #[test]
    fn key_file_errors_name_the_line_not_the_key() {
        let cases = [
            (
                "AES_CM_128_HMAC_SHA1_80\n",
                1,
                "expected `PROFILE KEY [ssrc=N]`",
            ),
            (
                "\nAES_CM_128_HMAC_SHA1_80 !!!!\n",
                2,
                "SRTP key is not base64",
            ),
            (
                "NOPE WVNf\n",
                1,
                "the first word is not a supported SRTP profile",
            ),
            (
                "WVNfX19z AES_CM_128_HMAC_SHA1_80\n",
                1,
                "the first word is not",
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19z|2^31|1:1\n",
                1,
                "the first word is not",
            ),
            (
                "AES_CM_128_HMAC_SHA1_80 WVNf ssrc=zz\n",
                1,
                "`ssrc=` needs a decimal or 0x hex SSRC",
            ),
            (
                "AES_CM_128_HMAC_SHA1_80 WVNf WVNfX19z\n",
                1,
                "word 3 is not `ssrc=N`",
            ),
            (
                "AES_CM_128_HMAC_SHA1_80 WVNfX19z\n",
                1,
                "master key || salt is 6 bytes",
            ),
        ];
        for (text, line, reason) in cases {
            let e = parse_key_file(text, "k.txt").unwrap_err();
            assert_eq!((e.origin.as_str(), e.line), ("k.txt", line), "{text}");
            assert!(e.to_string().contains(reason), "{e}");
            assert!(!e.to_string().contains("WVNf"), "{e}");
        }
    }

    #[test]
    fn streams_take_the_key_that_authenticates_them() {
        let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let text = format!("AES_CM_128_HMAC_SHA1_80 {other}\nAES_CM_128_HMAC_SHA1_80 {KEY}\n");
        let mut ring = KeyRing::new(parse_key_file(&text, "k").unwrap());
        let mut out = Vec::new();
        // An SRTP stream with the second key.
        let p = encrypt(KEY, &packet(7, 1));
        assert_eq!(ring.unprotect_rtp(7, &p, &mut out), Unprotect::Decrypted);
        assert_eq!(out, packet(7, 1));
        // A damaged packet of that stream is dropped and counted.
        let mut bad = encrypt(KEY, &packet(7, 2));
        bad[13] ^= 1;
        assert_eq!(ring.unprotect_rtp(7, &bad, &mut out), Unprotect::Failed);
        assert_eq!(ring.failures(7), 1);
        assert_eq!(ring.profile(7), Some("AES_CM_128_HMAC_SHA1_80"));
        // A plain stream stays plain after the probe packets.
        for seq in 0..PROBE_PACKETS + 3 {
            let plain = packet(9, seq as u16);
            assert_eq!(ring.unprotect_rtp(9, &plain, &mut out), Unprotect::Plain);
        }
        assert_eq!((ring.failures(9), ring.profile(9)), (0, None));
    }

    #[test]
    fn a_key_bound_to_an_ssrc_is_only_used_for_it() {
        let text = format!("AES_CM_128_HMAC_SHA1_80 {KEY} ssrc=5\n");
        let mut ring = KeyRing::new(parse_key_file(&text, "k").unwrap());
        let mut out = Vec::new();
        let p6 = encrypt(KEY, &packet(6, 1));
        assert_eq!(ring.unprotect_rtp(6, &p6, &mut out), Unprotect::Plain);
        let p5 = encrypt(KEY, &packet(5, 1));
        assert_eq!(ring.unprotect_rtp(5, &p5, &mut out), Unprotect::Decrypted);
    }
}
