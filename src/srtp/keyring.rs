//! SRTP keys for streams no metadata names (`rtprec record --srtp-keys FILE`).
//!
//! A key file has one key per line: `PROFILE KEY [ssrc=N]`, the key being base64
//! master key || salt as in SDP `a=crypto ... inline:` (the `inline:` prefix and
//! any `|lifetime|MKI` suffix are accepted). `#` starts a comment. A key bound to
//! an SSRC is used for that SSRC only; the others are tried on every stream
//! without keys, and a stream takes the first key that authenticates one of its
//! first packets. Streams no key authenticates are taken as plain RTP.
//!
//! DTLS-SRTP keys exported from handshakes in the capture join the ring bound
//! to the direction they protect.
//!
//! Keys never appear in errors or `Debug` output.

use super::{SrtpContext, SrtpError, SrtpProfile};
use crate::net::Flow;
use std::collections::HashMap;

/// Packets of a stream tried against the keys before it is taken as plain RTP.
pub const PROBE_PACKETS: u32 = 16;

/// SSRCs the ring remembers (the recorder's cap on SSRCs it ignores is the same).
pub const MAX_STREAMS: usize = 65_536;

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

/// Which streams a key may decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyScope {
    /// Any stream (an `--srtp-keys` line without `ssrc=`).
    Any,
    /// Only this SSRC (`ssrc=N`).
    Ssrc(u32),
    /// Streams sent `src` -> `dst` (a DTLS-SRTP write key: RFC 5764 §4.2 gives each
    /// side of the handshake its own), tried first on that direction and after the
    /// others elsewhere: ICE may move the media to another candidate pair, and a
    /// TURN relay changes the outer addresses, without a new handshake.
    Direction(Flow),
}

/// Where a key came from, as the manifest says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyOrigin {
    /// `--srtp-keys` / `--srtp-keys-env` (SDES keys).
    SrtpKeys,
    /// Exported from a DTLS handshake with secrets from `--keylog`.
    KeyLog,
    /// Exported from a DTLS handshake with secrets from the capture's pcapng
    /// Decryption Secrets Blocks.
    PcapngSecrets,
}

impl KeyOrigin {
    /// The name in the manifest: `srtp-keys`, `keylog`, `pcapng-secrets`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOrigin::SrtpKeys => "srtp-keys",
            KeyOrigin::KeyLog => "keylog",
            KeyOrigin::PcapngSecrets => "pcapng-secrets",
        }
    }

    /// True for keys a DTLS handshake exported.
    pub fn is_dtls(self) -> bool {
        !matches!(self, KeyOrigin::SrtpKeys)
    }
}

/// One key of the ring.
#[derive(Clone)]
struct RingKey {
    scope: KeyScope,
    origin: KeyOrigin,
    /// The DTLS association that exported it (an index the caller gave), if any.
    association: Option<usize>,
    ctx: SrtpContext,
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
    /// Its 5-tuple carries SRTP (it carried DTLS), and no key authenticated its
    /// first packets: encrypted, without the key.
    NoKey,
}

/// What [`KeyRing::unprotect_rtp`] made of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unprotect {
    /// Not SRTP as far as the keys know: use the packet as it is.
    Plain,
    /// Decrypted into the output buffer.
    Decrypted,
    /// The stream's key did not authenticate this packet (or, on a 5-tuple that
    /// is SRTP for sure, no key has yet): drop it.
    Failed,
    /// SRTP for sure, and no key authenticated the stream's first packets.
    NoKey,
}

/// What decrypts a stream, for the manifest (never the key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyUse {
    /// The key's SRTP protection profile.
    pub profile: SrtpProfile,
    /// Where it came from.
    pub origin: KeyOrigin,
    /// The DTLS association that exported it, if any.
    pub association: Option<usize>,
}

/// Keys for streams no metadata gives one (`--srtp-keys`, and DTLS-SRTP keys
/// exported from handshakes in the capture) and, per SSRC, which one decrypts it.
#[derive(Default)]
pub struct KeyRing {
    keys: Vec<RingKey>,
    state: HashMap<u32, KeyState>,
    failures: HashMap<u32, u64>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.keys.len())
            .field("streams", &self.state.len())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// A ring of the keys of a key file.
    pub fn new(keys: Vec<KeyLine>) -> Self {
        let mut ring = KeyRing::default();
        for k in keys {
            let scope = k.ssrc.map_or(KeyScope::Any, KeyScope::Ssrc);
            ring.add(scope, k.ctx, KeyOrigin::SrtpKeys, None);
        }
        ring
    }

    /// Adds a key; streams still probing try it from their next packet on.
    pub fn add(
        &mut self,
        scope: KeyScope,
        ctx: SrtpContext,
        origin: KeyOrigin,
        association: Option<usize>,
    ) {
        self.keys.push(RingKey {
            scope,
            origin,
            association,
            ctx,
        });
    }

    /// No keys: every packet is plain.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Decrypts an RTP packet of `ssrc`, sent on `flow`, into `out` when a key
    /// authenticates its stream. `srtp` says the 5-tuple carries SRTP for sure
    /// (it carried DTLS, RFC 5764): its packets are then never taken as plain.
    pub fn unprotect_rtp(
        &mut self,
        ssrc: u32,
        flow: &Flow,
        srtp: bool,
        packet: &[u8],
        out: &mut Vec<u8>,
    ) -> Unprotect {
        if self.keys.is_empty() && !srtp {
            return Unprotect::Plain;
        }
        if self.state.len() >= MAX_STREAMS && !self.state.contains_key(&ssrc) {
            // Bounded state under hostile input: a stream beyond the cap is not tried.
            return if srtp {
                Unprotect::NoKey
            } else {
                Unprotect::Plain
            };
        }
        let state = *self.state.entry(ssrc).or_insert(KeyState::Probing(0));
        match state {
            KeyState::Plain => Unprotect::Plain,
            KeyState::NoKey => Unprotect::NoKey,
            KeyState::Key(i) => {
                if self.keys[i].ctx.decrypt_rtp(packet, out).is_ok() {
                    Unprotect::Decrypted
                } else {
                    *self.failures.entry(ssrc).or_default() += 1;
                    Unprotect::Failed
                }
            }
            KeyState::Probing(n) => {
                for i in self.probe_order(ssrc, flow) {
                    if self.keys[i].ctx.decrypt_rtp(packet, out).is_ok() {
                        self.state.insert(ssrc, KeyState::Key(i));
                        return Unprotect::Decrypted;
                    }
                }
                let done = n + 1 >= PROBE_PACKETS;
                let next = match (done, srtp) {
                    (false, _) => KeyState::Probing(n + 1),
                    (true, false) => KeyState::Plain,
                    (true, true) => KeyState::NoKey,
                };
                self.state.insert(ssrc, next);
                if srtp {
                    // SRTP for sure: a packet no key authenticates is not media.
                    *self.failures.entry(ssrc).or_default() += 1;
                    return if done {
                        Unprotect::NoKey
                    } else {
                        Unprotect::Failed
                    };
                }
                // Passed on as plain: a stream no key authenticates is plain RTP. (A
                // stream whose first packets fail and a later one authenticates, e.g.
                // damaged, keeps those first packets as they were: rare, and the
                // codec guess and depacketizers treat them as the noise they are.)
                Unprotect::Plain
            }
        }
    }

    /// Keys to try on a new stream, best first: bound to its SSRC, bound to its
    /// direction, unbound, then the other directions' DTLS keys.
    fn probe_order(&self, ssrc: u32, flow: &Flow) -> Vec<usize> {
        let rank = |k: &RingKey| match k.scope {
            KeyScope::Ssrc(s) if s == ssrc => Some(0),
            KeyScope::Ssrc(_) => None,
            KeyScope::Direction(f) if f == *flow => Some(1),
            KeyScope::Any => Some(2),
            KeyScope::Direction(_) => Some(3),
        };
        let mut order: Vec<(u8, usize)> = self
            .keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| rank(k).map(|r| (r, i)))
            .collect();
        order.sort_unstable();
        order.into_iter().map(|(_, i)| i).collect()
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
        self.key_use(ssrc).map(|u| u.profile.name())
    }

    /// The key decrypting `ssrc`, if any: its profile and where it came from.
    pub fn key_use(&self, ssrc: u32) -> Option<KeyUse> {
        match self.state.get(&ssrc) {
            Some(KeyState::Key(i)) => self.keys.get(*i).map(|k| KeyUse {
                profile: k.ctx.profile(),
                origin: k.origin,
                association: k.association,
            }),
            _ => None,
        }
    }

    /// True when `ssrc` is SRTP and no key authenticated its first packets.
    pub fn no_key(&self, ssrc: u32) -> bool {
        self.state.get(&ssrc) == Some(&KeyState::NoKey)
    }

    /// True when some key was exported from a DTLS handshake.
    pub fn has_dtls_keys(&self) -> bool {
        self.keys.iter().any(|k| k.origin.is_dtls())
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

    fn flow() -> Flow {
        Flow {
            src: "10.0.0.1:5000".parse().unwrap(),
            dst: "10.0.0.2:6000".parse().unwrap(),
            transport: crate::net::Transport::Udp,
        }
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
        assert_eq!(
            ring.unprotect_rtp(7, &flow(), false, &p, &mut out),
            Unprotect::Decrypted
        );
        assert_eq!(out, packet(7, 1));
        // A damaged packet of that stream is dropped and counted.
        let mut bad = encrypt(KEY, &packet(7, 2));
        bad[13] ^= 1;
        assert_eq!(
            ring.unprotect_rtp(7, &flow(), false, &bad, &mut out),
            Unprotect::Failed
        );
        assert_eq!(ring.failures(7), 1);
        assert_eq!(ring.profile(7), Some("AES_CM_128_HMAC_SHA1_80"));
        // A plain stream stays plain after the probe packets.
        for seq in 0..PROBE_PACKETS + 3 {
            let plain = packet(9, seq as u16);
            assert_eq!(
                ring.unprotect_rtp(9, &flow(), false, &plain, &mut out),
                Unprotect::Plain
            );
        }
        assert_eq!((ring.failures(9), ring.profile(9)), (0, None));
    }

    #[test]
    fn a_key_bound_to_an_ssrc_is_only_used_for_it() {
        let text = format!("AES_CM_128_HMAC_SHA1_80 {KEY} ssrc=5\n");
        let mut ring = KeyRing::new(parse_key_file(&text, "k").unwrap());
        let mut out = Vec::new();
        let p6 = encrypt(KEY, &packet(6, 1));
        assert_eq!(
            ring.unprotect_rtp(6, &flow(), false, &p6, &mut out),
            Unprotect::Plain
        );
        let p5 = encrypt(KEY, &packet(5, 1));
        assert_eq!(
            ring.unprotect_rtp(5, &flow(), false, &p5, &mut out),
            Unprotect::Decrypted
        );
    }

    fn ctx(fill: u8) -> SrtpContext {
        SrtpContext::new(SrtpProfile::AeadAes128Gcm, &[fill; 28]).unwrap()
    }

    #[test]
    fn direction_keys_decrypt_their_direction_first_and_say_where_they_came_from() {
        let mut ring = KeyRing::default();
        // A handshake's two write keys, each bound to the direction it protects.
        ring.add(
            KeyScope::Direction(flow()),
            ctx(1),
            KeyOrigin::KeyLog,
            Some(0),
        );
        ring.add(
            KeyScope::Direction(flow().reversed()),
            ctx(2),
            KeyOrigin::KeyLog,
            Some(0),
        );
        let mut out = Vec::new();
        let from_server = ctx(2).encrypt_rtp(0, &packet(8, 1)).unwrap();
        assert_eq!(
            ring.unprotect_rtp(8, &flow().reversed(), true, &from_server, &mut out),
            Unprotect::Decrypted
        );
        let used = ring.key_use(8).unwrap();
        assert_eq!(used.profile, SrtpProfile::AeadAes128Gcm);
        assert_eq!(
            (used.origin.as_str(), used.association),
            ("keylog", Some(0))
        );
        // Media moved to another candidate pair after the handshake: the keys still apply.
        let moved = Flow {
            src: "192.0.2.9:7000".parse().unwrap(),
            ..flow()
        };
        let from_client = ctx(1).encrypt_rtp(0, &packet(9, 1)).unwrap();
        assert_eq!(
            ring.unprotect_rtp(9, &moved, true, &from_client, &mut out),
            Unprotect::Decrypted
        );
        assert!(ring.has_dtls_keys());
    }

    #[test]
    fn srtp_for_sure_is_never_taken_as_plain() {
        let mut ring = KeyRing::default();
        ring.add(
            KeyScope::Direction(flow()),
            ctx(1),
            KeyOrigin::KeyLog,
            Some(0),
        );
        let mut out = Vec::new();
        let wrong = ctx(3).encrypt_rtp(0, &packet(4, 1)).unwrap();
        for _ in 1..PROBE_PACKETS {
            assert_eq!(
                ring.unprotect_rtp(4, &flow(), true, &wrong, &mut out),
                Unprotect::Failed
            );
        }
        assert_eq!(
            ring.unprotect_rtp(4, &flow(), true, &wrong, &mut out),
            Unprotect::NoKey
        );
        assert!(ring.no_key(4));
        assert_eq!(ring.failures(4), u64::from(PROBE_PACKETS));
        // Without any key at all, too.
        let mut empty = KeyRing::default();
        for _ in 0..PROBE_PACKETS {
            assert_ne!(
                empty.unprotect_rtp(5, &flow(), true, &wrong, &mut out),
                Unprotect::Plain
            );
        }
        assert!(empty.no_key(5));
    }

    #[test]
    fn the_streams_it_remembers_are_capped() {
        let mut ring = KeyRing::default();
        ring.add(
            KeyScope::Direction(flow()),
            ctx(1),
            KeyOrigin::KeyLog,
            Some(0),
        );
        let mut out = Vec::new();
        let short = [0x80u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for ssrc in 0..MAX_STREAMS as u32 {
            ring.unprotect_rtp(ssrc, &flow(), false, &short, &mut out);
        }
        assert_eq!(ring.state.len(), MAX_STREAMS);
        // One more: not remembered, plain (or, SRTP for sure, without a key).
        let next = MAX_STREAMS as u32;
        assert_eq!(
            ring.unprotect_rtp(next, &flow(), false, &short, &mut out),
            Unprotect::Plain
        );
        assert_eq!(
            ring.unprotect_rtp(next, &flow(), true, &short, &mut out),
            Unprotect::NoKey
        );
        assert_eq!(ring.state.len(), MAX_STREAMS);
    }
}
