//! SRTP master keys from DTLS secrets (RFC 5764 §4.2): the keying material
//! exporter with label `EXTRACTOR-dtls_srtp` and no context, through the
//! (D)TLS 1.2 PRF (RFC 5705, RFC 5246 §5), the TLS 1.0 PRF for DTLS 1.0
//! (RFC 2246 §5), or the TLS 1.3 exporter with DTLS 1.3 labels (RFC 8446 §7.5,
//! RFC 9147 §5.9). Also the DTLS 1.3 record protection keys that read the
//! server's EncryptedExtensions.
//!
//! A wrong secret derives keys just as well as the right one: nothing here
//! can tell. Wrong keys only show as SRTP authentication failures.

use crate::srtp::{SrtpContext, SrtpProfile};
use hkdf::Hkdf;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};

/// The exporter label of DTLS-SRTP (RFC 5764 §4.2).
pub const EXPORTER_LABEL: &[u8] = b"EXTRACTOR-dtls_srtp";

/// The hash of a cipher suite's PRF or HKDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrfHash {
    /// SHA-256: the TLS 1.2 default and TLS_AES_128_GCM_SHA256 / CHACHA20.
    Sha256,
    /// SHA-384: suites named `..._SHA384`.
    Sha384,
}

impl PrfHash {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            PrfHash::Sha256 => 32,
            PrfHash::Sha384 => 48,
        }
    }

    /// The hash of the empty string, the context of Derive-Secret(S, L, "").
    fn empty_hash(self) -> Vec<u8> {
        match self {
            PrfHash::Sha256 => Sha256::digest(b"").to_vec(),
            PrfHash::Sha384 => Sha384::digest(b"").to_vec(),
        }
    }
}

/// TLS 1.2 cipher suites whose PRF is SHA-384 (RFC 5246 §5: the suite names
/// its PRF hash; these are the `_SHA384` suites of RFC 5289, RFC 5288,
/// RFC 5487, RFC 6209, RFC 6367, RFC 7905 does not add any).
const SHA384_SUITES: &[u16] = &[
    0x009D, // TLS_RSA_WITH_AES_256_GCM_SHA384
    0x009F, // TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
    0x00A1, // TLS_DH_RSA_WITH_AES_256_GCM_SHA384
    0x00A3, // TLS_DHE_DSS_WITH_AES_256_GCM_SHA384
    0x00A5, // TLS_DH_DSS_WITH_AES_256_GCM_SHA384
    0x00A7, // TLS_DH_anon_WITH_AES_256_GCM_SHA384
    0x00A9, // TLS_PSK_WITH_AES_256_GCM_SHA384
    0x00AB, // TLS_DHE_PSK_WITH_AES_256_GCM_SHA384
    0x00AD, // TLS_RSA_PSK_WITH_AES_256_GCM_SHA384
    0x00AF, // TLS_PSK_WITH_AES_256_CBC_SHA384
    0x00B3, // TLS_DHE_PSK_WITH_AES_256_CBC_SHA384
    0x00B7, // TLS_RSA_PSK_WITH_AES_256_CBC_SHA384
    0xC024, // TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
    0xC026, // TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384
    0xC028, // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
    0xC02A, // TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384
    0xC02C, // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    0xC02E, // TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384
    0xC030, // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    0xC032, // TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384
    0xC038, // TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384
    0xC03B, // TLS_ECDHE_PSK_WITH_NULL_SHA384
    0xD002, // TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384 (RFC 8442)
];

/// The PRF hash of a TLS 1.2 cipher suite.
pub fn tls12_prf_hash(cipher_suite: u16) -> PrfHash {
    if SHA384_SUITES.contains(&cipher_suite) {
        PrfHash::Sha384
    } else {
        PrfHash::Sha256
    }
}

/// The HKDF hash of a TLS 1.3 cipher suite (RFC 8446 §B.4); `None` for suites
/// rtprec does not know.
pub fn tls13_hash(cipher_suite: u16) -> Option<PrfHash> {
    match cipher_suite {
        0x1301 | 0x1303 | 0x1304 | 0x1305 => Some(PrfHash::Sha256),
        0x1302 => Some(PrfHash::Sha384),
        _ => None,
    }
}

/// HMAC keyed with `key`.
fn mac<H: EagerHash>(key: &[u8]) -> Hmac<H>
where
    Hmac<H>: KeyInit + Mac,
{
    <Hmac<H> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length (RFC 2104)")
}

/// P_hash (RFC 5246 §5): HMAC(secret, A(i) || seed) with A(0) = seed,
/// A(i) = HMAC(secret, A(i-1)), concatenated to `out.len()` bytes.
fn p_hash<H: EagerHash>(secret: &[u8], seed: &[&[u8]], out: &mut [u8])
where
    Hmac<H>: KeyInit + Mac + Clone,
{
    let keyed = mac::<H>(secret);
    let mut m = keyed.clone();
    for s in seed {
        m.update(s);
    }
    let mut a = m.finalize().into_bytes().to_vec();
    for chunk in out.chunks_mut(a.len()) {
        let mut m = keyed.clone();
        m.update(&a);
        for s in seed {
            m.update(s);
        }
        let block = m.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
        let mut m = keyed.clone();
        m.update(&a);
        a = m.finalize().into_bytes().to_vec();
    }
}

/// The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label || seed).
pub fn prf_tls12(hash: PrfHash, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    match hash {
        PrfHash::Sha256 => p_hash::<Sha256>(secret, &[label, seed], &mut out),
        PrfHash::Sha384 => p_hash::<Sha384>(secret, &[label, seed], &mut out),
    }
    out
}

/// The TLS 1.0/1.1 PRF (RFC 2246 §5), used by DTLS 1.0: P_MD5 over the first
/// half of the secret XOR P_SHA1 over the second (halves share a middle byte
/// when the length is odd).
pub fn prf_tls10(secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let half = secret.len().div_ceil(2);
    let (s1, s2) = (&secret[..half], &secret[secret.len() - half..]);
    let mut out = vec![0u8; len];
    let mut sha = vec![0u8; len];
    p_hash::<Md5>(s1, &[label, seed], &mut out);
    p_hash::<Sha1>(s2, &[label, seed], &mut sha);
    for (o, s) in out.iter_mut().zip(sha) {
        *o ^= s;
    }
    out
}

/// HKDF-Expand-Label with the DTLS 1.3 prefix "dtls13" (RFC 9147 §5.9; TLS 1.3
/// uses "tls13 " with a space, RFC 8446 §7.1). `None` when `secret` is shorter
/// than the hash or `len` is beyond what HKDF or the label encoding allow.
pub fn hkdf_expand_label(
    hash: PrfHash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    const PREFIX: &[u8] = b"dtls13";
    let full_label_len = u8::try_from(PREFIX.len() + label.len()).ok()?;
    let context_len = u8::try_from(context.len()).ok()?;
    let mut info = Vec::with_capacity(4 + usize::from(full_label_len) + context.len());
    info.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    info.push(full_label_len);
    info.extend_from_slice(PREFIX);
    info.extend_from_slice(label);
    info.push(context_len);
    info.extend_from_slice(context);
    let mut out = vec![0u8; len];
    match hash {
        PrfHash::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
        PrfHash::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
    }
    Some(out)
}

/// The TLS 1.3 exporter (RFC 8446 §7.5) with an empty context:
/// HKDF-Expand-Label(Derive-Secret(exporter_secret, label, ""), "exporter", Hash(""), len).
pub fn exporter_tls13(
    hash: PrfHash,
    exporter_secret: &[u8],
    label: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    let empty = hash.empty_hash();
    let derived = hkdf_expand_label(hash, exporter_secret, label, &empty, hash.output_len())?;
    hkdf_expand_label(hash, &derived, b"exporter", &empty, len)
}

/// Exporter output length for a profile: two keys and two salts (RFC 5764 §4.2).
pub fn keying_material_len(profile: SrtpProfile) -> usize {
    2 * (profile.key_len() + profile.salt_len())
}

/// The SRTP master key || salt of each side, from exporter output laid out as
/// client key, server key, client salt, server salt (RFC 5764 §4.2).
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKeys {
    /// Key || salt protecting what the DTLS client sends.
    pub client: Vec<u8>,
    /// Key || salt protecting what the DTLS server sends.
    pub server: Vec<u8>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material is never printed.
        f.write_str("MasterKeys { .. }")
    }
}

/// Splits exporter output into both sides' key || salt; `None` when too short.
pub fn split_keying_material(profile: SrtpProfile, material: &[u8]) -> Option<MasterKeys> {
    let (k, s) = (profile.key_len(), profile.salt_len());
    if material.len() < 2 * (k + s) {
        return None;
    }
    let (client_key, rest) = material.split_at(k);
    let (server_key, rest) = rest.split_at(k);
    let (client_salt, rest) = rest.split_at(s);
    let server_salt = &rest[..s];
    Some(MasterKeys {
        client: [client_key, client_salt].concat(),
        server: [server_key, server_salt].concat(),
    })
}

/// Builds both SRTP contexts of one profile from master keys.
pub fn contexts(profile: SrtpProfile, keys: &MasterKeys) -> Option<(SrtpContext, SrtpContext)> {
    Some((
        SrtpContext::new(profile, &keys.client).ok()?,
        SrtpContext::new(profile, &keys.server).ok()?,
    ))
}

/// Record protection keys of one DTLS 1.3 epoch and direction (RFC 8446 §7.3,
/// RFC 9147 §4.2.3).
#[derive(Clone)]
pub struct TrafficKeys {
    /// AEAD key.
    pub key: Vec<u8>,
    /// AEAD IV (12 bytes).
    pub iv: [u8; 12],
    /// Record number encryption key.
    pub sn_key: Vec<u8>,
}

impl std::fmt::Debug for TrafficKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material is never printed.
        f.write_str("TrafficKeys { .. }")
    }
}

/// Traffic keys from a traffic secret, with an AEAD key of `key_len` bytes.
pub fn traffic_keys(hash: PrfHash, secret: &[u8], key_len: usize) -> Option<TrafficKeys> {
    let key = hkdf_expand_label(hash, secret, b"key", b"", key_len)?;
    let iv_v = hkdf_expand_label(hash, secret, b"iv", b"", 12)?;
    let sn_key = hkdf_expand_label(hash, secret, b"sn", b"", key_len)?;
    let mut iv = [0u8; 12];
    iv.copy_from_slice(&iv_v);
    Some(TrafficKeys { key, iv, sn_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The TLS 1.2 PRF test vectors posted to the IETF TLS WG list
    /// (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html),
    /// also reproduced with Python's hmac module.
    #[test]
    fn prf_tls12_published_vectors() {
        let out = prf_tls12(
            PrfHash::Sha256,
            &hex("9bbe436ba940f017b17652849a71db35"),
            b"test label",
            &hex("a0ba9f936cda311827a6f796ffd5198c"),
            100,
        );
        assert_eq!(
            out,
            hex(concat!(
                "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a",
                "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab",
                "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701",
                "87347b66"
            ))
        );
        let out = prf_tls12(
            PrfHash::Sha384,
            &hex("b80b733d6ceefcdc71566ea48e5567df"),
            b"test label",
            &hex("cd665cf6a8447dd6ff8b27555edb7465"),
            148,
        );
        assert_eq!(
            out,
            hex(concat!(
                "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd",
                "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd",
                "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425",
                "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6",
                "91c8f3a26854308d5eaa3be85e0990703d73e56f"
            ))
        );
    }

    /// Master secret 00..2f, client random 40..5f, server random 80..9f.
    pub(crate) fn inputs12() -> (Vec<u8>, Vec<u8>) {
        let ms: Vec<u8> = (0u8..48).collect();
        let seed: Vec<u8> = (0x40u8..0x60).chain(0x80u8..0xa0).collect();
        (ms, seed)
    }

    /// Expected values computed with a one-off Python script (hmac, hashlib):
    /// P_hash per RFC 5246 §5 over label || client_random || server_random.
    #[test]
    fn dtls12_exporter_vectors() {
        let (ms, seed) = inputs12();
        let out = prf_tls12(PrfHash::Sha256, &ms, EXPORTER_LABEL, &seed, 60);
        assert_eq!(
            out,
            hex(concat!(
                "0153f7ee77ea9cc39eeb256d8b0d14c87f4114eda964aa1c654af1f364fb648c",
                "e2c97614b368a0c1ab1fac0114651c7badd4dc8fc24b62b264b474cb"
            ))
        );
        let out = prf_tls12(PrfHash::Sha384, &ms, EXPORTER_LABEL, &seed, 60);
        assert_eq!(
            out,
            hex(concat!(
                "eaf966e5a95bb685fc8d44935856a13fcd2e79e37f1a99ba42751a4fa925b34d",
                "3fe401bc1bbb4ce4cfca1cb4a5abbc5f15e2a4f20215724dbcc630cc"
            ))
        );
        // DTLS 1.0: MD5 XOR SHA-1 halves, same script.
        let out = prf_tls10(&ms, EXPORTER_LABEL, &seed, 60);
        assert_eq!(
            out,
            hex(concat!(
                "0793aacdfd737513f9d8feac184f1d9b13df78da0932be62edb2b9cbead15c19",
                "793e438df462d6d80f6416f37014ea9906bf858927cb96ac8f07210a"
            ))
        );
        assert_eq!(tls12_prf_hash(0xC02C), PrfHash::Sha384);
        assert_eq!(tls12_prf_hash(0xC030), PrfHash::Sha384);
        assert_eq!(tls12_prf_hash(0x009D), PrfHash::Sha384);
        assert_eq!(tls12_prf_hash(0xC02B), PrfHash::Sha256);
    }

    /// Expected values from the same Python script: HKDF-Expand (RFC 5869) with
    /// the "dtls13" label prefix. The script's HKDF-Expand-Label, run with the
    /// "tls13 " prefix, reproduces RFC 8448's server handshake key
    /// (3fce516009c21727d0f2e4e86ee403bc).
    #[test]
    fn dtls13_exporter_and_traffic_key_vectors() {
        let es: Vec<u8> = (0x20u8..0x40).collect();
        let out = exporter_tls13(PrfHash::Sha256, &es, EXPORTER_LABEL, 56).unwrap();
        assert_eq!(
            out,
            hex(concat!(
                "35f6a81b4846e6dfca2046670a4c355284741c6d954ddd0536789d22cdc258b1",
                "15523a42da5d50ef9c01a3f039aa120fb4d79b79087b652f"
            ))
        );
        let es48: Vec<u8> = (0x20u8..0x50).collect();
        let out = exporter_tls13(PrfHash::Sha384, &es48, EXPORTER_LABEL, 88).unwrap();
        assert_eq!(
            out,
            hex(concat!(
                "7b124d2d25a231b4772a49851e3c9642cf23f183f368836926ff2c471ec18d28",
                "ea6e127e6b28757c11b46ae5583c992d0c65e569a11d63993edb54ca48b95089",
                "47562a4acfdf51fe1c04228ee7e076a2f650e5a5112f61c7"
            ))
        );
        let shs: Vec<u8> = (0x60u8..0x80).collect();
        let k = traffic_keys(PrfHash::Sha256, &shs, 16).unwrap();
        assert_eq!(k.key, hex("4673b01a44cb4dc6258760f7a38fe90a"));
        assert_eq!(k.iv.to_vec(), hex("bb54c6470f81c74efe765d3f"));
        assert_eq!(k.sn_key, hex("3f54fa405f09d425c6cfdd1c40c655b1"));
        // A secret shorter than the hash is refused, not a panic.
        assert!(exporter_tls13(PrfHash::Sha384, &es, EXPORTER_LABEL, 60).is_none());
    }

    #[test]
    fn split_layout() {
        let material: Vec<u8> = (0u8..60).collect();
        let k = split_keying_material(SrtpProfile::AesCm128HmacSha1_80, &material).unwrap();
        let client: Vec<u8> = (0u8..16).chain(32..46).collect();
        let server: Vec<u8> = (16u8..32).chain(46..60).collect();
        assert_eq!((k.client, k.server), (client, server));
        assert!(split_keying_material(SrtpProfile::AeadAes256Gcm, &material).is_none());
        assert_eq!(keying_material_len(SrtpProfile::AeadAes128Gcm), 56);
        assert_eq!(
            format!("{:?}", traffic_keys(PrfHash::Sha256, &[1; 32], 16).unwrap()),
            "TrafficKeys { .. }"
        );
    }
}
