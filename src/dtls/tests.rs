//! Handshakes built byte by byte and fed to a tracker.
//!
//! Expected keys: exporter output computed with a one-off Python script
//! (hmac, hashlib; RFC 5246 §5 P_hash, RFC 5869 HKDF-Expand with "dtls13"
//! labels), the same values as in `derive`'s vector tests. The tracker's keys
//! are checked by decrypting SRTP packets encrypted with those keys.

use super::derive::{self, PrfHash};
use super::*;
use crate::srtp::SrtpError;

const MS: std::ops::Range<u8> = 0..48;
fn client_random() -> [u8; 32] {
    std::array::from_fn(|i| 0x40 + i as u8)
}
fn server_random() -> [u8; 32] {
    std::array::from_fn(|i| 0x80 + i as u8)
}
fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// PRF-SHA256(ms 00..2f, label, client_random 40..5f || server_random 80..9f), 60 bytes.
const EXP12_SHA256_60: &str = "0153f7ee77ea9cc39eeb256d8b0d14c87f4114eda964aa1c654af1f364fb648ce2c97614b368a0c1ab1fac0114651c7badd4dc8fc24b62b264b474cb";
/// The same with PRF-SHA384.
const EXP12_SHA384_60: &str = "eaf966e5a95bb685fc8d44935856a13fcd2e79e37f1a99ba42751a4fa925b34d3fe401bc1bbb4ce4cfca1cb4a5abbc5f15e2a4f20215724dbcc630cc";
/// TLS 1.3 exporter ("dtls13" labels, SHA-256) of exporter secret 20..3f, 60 bytes.
const EXP13_SHA256_60: &str = "eb397891c9b6f787f242c1884ac3c7cb993ffb3de230c8474b1a3dffe1c70f7b741dff5ec73bbf7a273768e73058c83cad0d7f716fc1f74f9c478858";
/// The same, 56 bytes (AEAD_AES_128_GCM).
const EXP13_SHA256_56: &str = "35f6a81b4846e6dfca2046670a4c355284741c6d954ddd0536789d22cdc258b115523a42da5d50ef9c01a3f039aa120fb4d79b79087b652f";

fn exporter_secret() -> Vec<u8> {
    (0x20u8..0x40).collect()
}
fn server_hs_secret() -> Vec<u8> {
    (0x60u8..0x80).collect()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
fn c2s() -> Flow {
    Flow {
        src: addr("10.0.0.1:5000"),
        dst: addr("10.0.0.2:6000"),
        transport: Transport::Udp,
    }
}
fn s2c() -> Flow {
    Flow {
        src: addr("10.0.0.2:6000"),
        dst: addr("10.0.0.1:5000"),
        transport: Transport::Udp,
    }
}

// --- builders -------------------------------------------------------------

fn vec8(b: &[u8]) -> Vec<u8> {
    [&[b.len() as u8][..], b].concat()
}
fn vec16(b: &[u8]) -> Vec<u8> {
    [&(b.len() as u16).to_be_bytes()[..], b].concat()
}
fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}
fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
    [&ty.to_be_bytes()[..], &vec16(data)].concat()
}
fn use_srtp(ids: &[u16]) -> Vec<u8> {
    ext(14, &[vec16(&u16s(ids)), vec8(&[])].concat())
}

/// Extensions of a ClientHello.
#[derive(Default)]
struct Ch {
    profiles: Vec<u16>,
    ems: bool,
    versions: Vec<u16>,
    padding: usize,
}

fn client_hello(random: [u8; 32], ch: &Ch) -> Vec<u8> {
    let mut exts = use_srtp(&ch.profiles);
    if ch.ems {
        exts.extend(ext(23, &[]));
    }
    if !ch.versions.is_empty() {
        exts.extend(ext(43, &vec8(&u16s(&ch.versions))));
    }
    if ch.padding > 0 {
        // A big key share, as in a post-quantum ClientHello.
        exts.extend(ext(51, &vec![0x5a; ch.padding]));
    }
    [
        &DTLS12.to_be_bytes()[..],
        &random,
        &vec8(&[]),
        &vec8(&[]),
        &vec16(&u16s(&[0xc02b, 0xc02c, 0x1301])),
        &vec8(&[0]),
        &vec16(&exts),
    ]
    .concat()
}

/// Extensions of a ServerHello.
#[derive(Default)]
struct Sh {
    suite: u16,
    profile: Option<u16>,
    ems: bool,
    version: Option<u16>,
}

fn server_hello(random: [u8; 32], sh: &Sh) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(p) = sh.profile {
        exts.extend(use_srtp(&[p]));
    }
    if sh.ems {
        exts.extend(ext(23, &[]));
    }
    if let Some(v) = sh.version {
        exts.extend(ext(43, &v.to_be_bytes()));
    }
    [
        &DTLS12.to_be_bytes()[..],
        &random,
        &vec8(&[]),
        &sh.suite.to_be_bytes(),
        &[0],
        &vec16(&exts),
    ]
    .concat()
}

/// A handshake fragment: header and `body[offset..offset + len]`.
fn fragment(msg_type: u8, seq: u16, body: &[u8], offset: usize, len: usize) -> Vec<u8> {
    let u24 = |n: usize| [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    [
        &[msg_type][..],
        &u24(body.len()),
        &seq.to_be_bytes(),
        &u24(offset),
        &u24(len),
        &body[offset..offset + len],
    ]
    .concat()
}
fn message(msg_type: u8, seq: u16, body: &[u8]) -> Vec<u8> {
    fragment(msg_type, seq, body, 0, body.len())
}

/// An epoch 0 handshake record.
fn record(seq: u64, body: &[u8]) -> Vec<u8> {
    [
        &[22][..],
        &DTLS12.to_be_bytes(),
        &[0, 0],
        &seq.to_be_bytes()[2..],
        &(body.len() as u16).to_be_bytes(),
        body,
    ]
    .concat()
}

fn keylog_12(ms: &[u8]) -> KeyLog {
    let mut k = KeyLog::new();
    k.insert(SecretKind::MasterSecret, client_random(), ms.to_vec());
    k
}

/// A minimal RTP packet.
fn rtp() -> Vec<u8> {
    let mut p = vec![0x80, 96, 0, 1, 0, 0, 0, 10, 0x11, 0x22, 0x33, 0x44];
    p.extend(b"media payload");
    p
}

/// Key || salt of one side from exporter output (client key, server key,
/// client salt, server salt).
fn side(material: &[u8], profile: SrtpProfile, client: bool) -> Vec<u8> {
    let k = derive::split_keying_material(profile, material).unwrap();
    if client { k.client } else { k.server }
}

/// The pair decrypts packets made with the expected keys, each side with its own.
fn assert_pair(pair: &SrtpKeyPair, material_hex: &str) {
    let material = hex(material_hex);
    let p = pair.profile;
    let client = SrtpContext::new(p, &side(&material, p, true)).unwrap();
    let server = SrtpContext::new(p, &side(&material, p, false)).unwrap();
    let from_client = client.encrypt_rtp(0, &rtp()).unwrap();
    let from_server = server.encrypt_rtp(0, &rtp()).unwrap();
    let mut out = Vec::new();
    let mut cw = pair.client_write.clone();
    let mut sw = pair.server_write.clone();
    cw.decrypt_rtp(&from_client, &mut out).unwrap();
    assert_eq!(out, rtp());
    sw.decrypt_rtp(&from_server, &mut out).unwrap();
    assert_eq!(out, rtp());
    assert_eq!(
        sw.decrypt_rtp(&from_client, &mut out),
        Err(SrtpError::AuthFailed)
    );
}

fn keyed(a: &Association) -> &[SrtpKeyPair] {
    match &a.keys {
        AssocKeys::Keyed(p) => p,
        other => panic!("not keyed: {other:?}"),
    }
}

// --- DTLS 1.2 ---------------------------------------------------------------

fn dtls12_hellos(suite: u16) -> (Vec<u8>, Vec<u8>) {
    let ch = client_hello(
        client_random(),
        &Ch {
            profiles: vec![0x0001, 0x0007, 0x0005],
            ems: true,
            ..Ch::default()
        },
    );
    let sh = server_hello(
        server_random(),
        &Sh {
            suite,
            profile: Some(0x0001),
            ems: true,
            version: None,
        },
    );
    (
        record(0, &message(1, 0, &ch)),
        // ServerHello, then Certificate (ignored) in a second record of the datagram.
        [
            record(0, &message(2, 0, &sh)),
            record(1, &message(11, 1, &[0, 0, 0])),
        ]
        .concat(),
    )
}

#[test]
fn dtls12_handshake_keyed() {
    let (ch, sh) = dtls12_hellos(0xc02b);
    let log = keylog_12(&MS.collect::<Vec<_>>());
    let mut t = DtlsTracker::new();
    assert_eq!(t.push(c2s(), &ch, &log), None);
    assert_eq!(t.associations().len(), 1);
    assert!(matches!(t.associations()[0].keys, AssocKeys::Pending));
    assert_eq!(t.push(s2c(), &sh, &log), Some(0));
    let a = &t.associations()[0];
    assert_eq!((a.client, a.server), (c2s().src, c2s().dst));
    assert_eq!(a.version, Some(DtlsVersion::Dtls12));
    assert_eq!(a.cipher_suite, Some(0xc02b));
    assert_eq!(a.client_random, client_random());
    // 0x0005 (NULL) is not supported, so not listed.
    assert_eq!(
        a.offered_profiles,
        [SrtpProfile::AesCm128HmacSha1_80, SrtpProfile::AeadAes128Gcm]
    );
    assert_eq!(a.chosen_profile, Some(SrtpProfile::AesCm128HmacSha1_80));
    assert_eq!(a.profile_source, ProfileSource::ServerHello);
    assert!(a.extended_master_secret);
    assert!(a.from_client(&c2s()) && !a.from_client(&s2c()));
    assert_eq!(
        a.describe(),
        "DTLS 1.2 association 10.0.0.1:5000 <-> 10.0.0.2:6000 (udp), client_random 40414243…"
    );
    let pairs = keyed(a);
    assert_eq!(pairs.len(), 1);
    assert_pair(&pairs[0], EXP12_SHA256_60);
    // Debug output holds no key material.
    let dbg = format!("{:?}", t.associations()[0]);
    assert!(!dbg.contains("client_write: [") && dbg.contains("SrtpContext"));
    // Retransmitted hellos change nothing.
    assert_eq!(t.push(c2s(), &ch, &log), None);
    assert_eq!(t.push(s2c(), &sh, &log), None);
    assert_eq!(t.associations().len(), 1);
}

#[test]
fn dtls12_sha384_suite() {
    let (ch, sh) = dtls12_hellos(0xc02c);
    let log = keylog_12(&MS.collect::<Vec<_>>());
    let mut t = DtlsTracker::new();
    t.push(c2s(), &ch, &log);
    assert_eq!(t.push(s2c(), &sh, &log), Some(0));
    assert_pair(&keyed(&t.associations()[0])[0], EXP12_SHA384_60);
}

#[test]
fn fragmented_client_hello_with_retransmission() {
    let body = client_hello(
        client_random(),
        &Ch {
            profiles: vec![0x0001],
            padding: 3000,
            ..Ch::default()
        },
    );
    let n = body.len();
    let (a, b) = (n / 3, 2 * n / 3);
    let f1 = record(0, &fragment(1, 0, &body, 0, a));
    let f2 = record(1, &fragment(1, 0, &body, a, b - a));
    let f3 = record(2, &fragment(1, 0, &body, b, n - b));
    let log = keylog_12(&MS.collect::<Vec<_>>());
    let mut t = DtlsTracker::new();
    assert_eq!(t.push(c2s(), &f1, &log), None);
    assert_eq!(t.push(c2s(), &f3, &log), None);
    assert_eq!(t.push(c2s(), &f1, &log), None); // retransmitted
    assert!(t.associations().is_empty());
    assert!(t.held_bytes() >= n);
    assert_eq!(t.push(c2s(), &f2, &log), None);
    assert_eq!(t.associations().len(), 1);
    assert_eq!(t.held_bytes(), 0);
    assert_eq!(
        t.associations()[0].offered_profiles,
        [SrtpProfile::AesCm128HmacSha1_80]
    );
    // The whole flight again, after completion: still one association.
    for f in [&f2, &f1, &f3] {
        assert_eq!(t.push(c2s(), f, &log), None);
    }
    assert_eq!(t.associations().len(), 1);
    let (_, sh) = dtls12_hellos(0xc02b);
    assert_eq!(t.push(s2c(), &sh, &log), Some(0));
    assert_pair(&keyed(&t.associations()[0])[0], EXP12_SHA256_60);
}

#[test]
fn two_associations_on_one_five_tuple() {
    let (ch, sh) = dtls12_hellos(0xc02b);
    let mut log = keylog_12(&MS.collect::<Vec<_>>());
    let mut t = DtlsTracker::new();
    t.push(c2s(), &ch, &log);
    assert_eq!(t.push(s2c(), &sh, &log), Some(0));
    // A new handshake with another random, this time the other side is the client.
    let random2 = [0x99; 32];
    log.insert(SecretKind::MasterSecret, random2, vec![0x42; 48]);
    let ch2 = client_hello(
        random2,
        &Ch {
            profiles: vec![0x0007],
            ..Ch::default()
        },
    );
    assert_eq!(t.push(s2c(), &record(5, &message(1, 0, &ch2)), &log), None);
    assert_eq!(t.associations().len(), 2);
    let sh2 = server_hello(
        [0x77; 32],
        &Sh {
            suite: 0xc02b,
            profile: Some(0x0007),
            ..Sh::default()
        },
    );
    assert_eq!(
        t.push(c2s(), &record(5, &message(2, 0, &sh2)), &log),
        Some(1)
    );
    let a = &t.associations()[1];
    assert_eq!(a.client, s2c().src);
    assert!(a.from_client(&s2c()));
    assert!(!a.extended_master_secret);
    assert_eq!(a.chosen_profile, Some(SrtpProfile::AeadAes128Gcm));
    // Independently: PRF-SHA256 of that secret and these randoms.
    let seed = [random2, [0x77; 32]].concat();
    let material = derive::prf_tls12(
        PrfHash::Sha256,
        &[0x42; 48],
        b"EXTRACTOR-dtls_srtp",
        &seed,
        56,
    );
    let material: String = material.iter().map(|b| format!("{b:02x}")).collect();
    assert_pair(&keyed(a)[0], &material);
    // A late retransmission of the first ClientHello starts nothing new.
    assert_eq!(t.push(c2s(), &ch, &log), None);
    assert_eq!(t.associations().len(), 2);
    // The first is unchanged.
    assert_pair(&keyed(&t.associations()[0])[0], EXP12_SHA256_60);
}

#[test]
fn key_log_without_the_association_is_no_key() {
    let (ch, sh) = dtls12_hellos(0xc02b);
    let mut log = KeyLog::new();
    log.insert(SecretKind::MasterSecret, [1; 32], vec![0; 48]);
    let mut t = DtlsTracker::new();
    t.push(c2s(), &ch, &log);
    assert_eq!(t.push(s2c(), &sh, &log), Some(0));
    assert!(matches!(t.associations()[0].keys, AssocKeys::NoKey));
    // A ServerHello with an unsupported profile (NULL) and a key: Unsupported.
    let sh = server_hello(
        server_random(),
        &Sh {
            suite: 0xc02b,
            profile: Some(0x0005),
            ..Sh::default()
        },
    );
    let mut t = DtlsTracker::new();
    let log = keylog_12(&[0; 48]);
    t.push(c2s(), &ch, &log);
    assert_eq!(
        t.push(s2c(), &record(0, &message(2, 0, &sh)), &log),
        Some(0)
    );
    assert!(matches!(
        t.associations()[0].keys,
        AssocKeys::Unsupported(Unsupported::Profile(5))
    ));
}

/// A wrong master secret derives keys all the same; only SRTP shows they are wrong.
#[test]
fn wrong_master_secret_still_derives() {
    let (ch, sh) = dtls12_hellos(0xc02b);
    let log = keylog_12(&[0xee; 48]);
    let mut t = DtlsTracker::new();
    t.push(c2s(), &ch, &log);
    assert_eq!(t.push(s2c(), &sh, &log), Some(0));
    let pair = &keyed(&t.associations()[0])[0];
    let material = hex(EXP12_SHA256_60);
    let p = pair.profile;
    let right = SrtpContext::new(p, &side(&material, p, true)).unwrap();
    let pkt = right.encrypt_rtp(0, &rtp()).unwrap();
    let mut cw = pair.client_write.clone();
    assert_eq!(
        cw.decrypt_rtp(&pkt, &mut Vec::new()),
        Err(SrtpError::AuthFailed)
    );
}

#[test]
fn server_hello_without_use_srtp_keys_every_offered_profile() {
    let (ch, _) = dtls12_hellos(0xc02b);
    let sh = server_hello(
        server_random(),
        &Sh {
            suite: 0xc02b,
            ..Sh::default()
        },
    );
    let log = keylog_12(&MS.collect::<Vec<_>>());
    let mut t = DtlsTracker::new();
    t.push(c2s(), &ch, &log);
    assert_eq!(
        t.push(s2c(), &record(0, &message(2, 0, &sh)), &log),
        Some(0)
    );
    let a = &t.associations()[0];
    assert_eq!(a.chosen_profile, None);
    let pairs = keyed(a);
    assert_eq!(pairs.len(), 2);
    // The PRF output of a shorter length is a prefix (RFC 5246 §5).
    assert_pair(&pairs[0], EXP12_SHA256_60);
    assert_pair(&pairs[1], &EXP12_SHA256_60[..112]);
}

// --- DTLS 1.3 ---------------------------------------------------------------

fn dtls13_client_hello() -> Vec<u8> {
    record(
        0,
        &message(
            1,
            0,
            &client_hello(
                client_random(),
                &Ch {
                    profiles: vec![0x0007, 0x0001],
                    versions: vec![DTLS13, DTLS12],
                    ..Ch::default()
                },
            ),
        ),
    )
}

fn dtls13_server_hello(random: [u8; 32]) -> Vec<u8> {
    record(
        0,
        &message(
            2,
            0,
            &server_hello(
                random,
                &Sh {
                    suite: 0x1301,
                    version: Some(DTLS13),
                    ..Sh::default()
                },
            ),
        ),
    )
}

/// An epoch 2 record as a DTLS 1.3 server sends it: unified header with a
/// 16-bit sequence number and a length, AES-128-GCM, record number encrypted.
fn encrypted_record(secret: &[u8], seq: u16, content: &[u8]) -> Vec<u8> {
    encrypted_record_with(PrfHash::Sha256, secret, seq, content)
}

/// The same for either suite: SHA-256 with AES-128-GCM (0x1301), SHA-384 with
/// AES-256-GCM (0x1302).
fn encrypted_record_with(hash: PrfHash, secret: &[u8], seq: u16, content: &[u8]) -> Vec<u8> {
    let key_len = if hash == PrfHash::Sha256 { 16 } else { 32 };
    let keys = derive::traffic_keys(hash, secret, key_len).unwrap();
    let mut inner = content.to_vec();
    inner.push(22);
    inner.extend([0, 0, 0]); // padding
    let len = (inner.len() + 16) as u16;
    let mut header = vec![0b0010_1110];
    header.extend(seq.to_be_bytes());
    header.extend(len.to_be_bytes());
    let mut nonce = keys.iv;
    for (n, s) in nonce[4..].iter_mut().zip(u64::from(seq).to_be_bytes()) {
        *n ^= s;
    }
    let nonce = aes_gcm::Nonce::from(nonce);
    let tag = if key_len == 16 {
        Aes128Gcm::new_from_slice(&keys.key)
            .unwrap()
            .encrypt_inout_detached(&nonce, &header, inner.as_mut_slice().into())
            .unwrap()
    } else {
        Aes256Gcm::new_from_slice(&keys.key)
            .unwrap()
            .encrypt_inout_detached(&nonce, &header, inner.as_mut_slice().into())
            .unwrap()
    };
    inner.extend_from_slice(&tag);
    let mut mask = aes::Block::from(<[u8; 16]>::try_from(&inner[..16]).unwrap());
    if key_len == 16 {
        Aes128::new_from_slice(&keys.sn_key)
            .unwrap()
            .encrypt_block(&mut mask);
    } else {
        Aes256::new_from_slice(&keys.sn_key)
            .unwrap()
            .encrypt_block(&mut mask);
    }
    header[1] ^= mask[0];
    header[2] ^= mask[1];
    [header, inner].concat()
}

fn encrypted_extensions(profile: u16) -> Vec<u8> {
    // EncryptedExtensions (message_seq 1) with use_srtp, then the start of a
    // Certificate fragment in the same record.
    let ee = vec16(&[use_srtp(&[profile]), ext(10, &[0, 2, 0, 29])].concat());
    let cert = vec![0x30; 40];
    [message(8, 1, &ee), fragment(11, 2, &cert, 0, 20)].concat()
}

fn keylog_13(with_hs: bool) -> KeyLog {
    let mut k = KeyLog::new();
    k.insert(
        SecretKind::ExporterSecret,
        client_random(),
        exporter_secret(),
    );
    if with_hs {
        k.insert(
            SecretKind::ServerHandshakeTrafficSecret,
            client_random(),
            server_hs_secret(),
        );
    }
    k
}

#[test]
fn dtls13_encrypted_extensions_give_the_profile() {
    let log = keylog_13(true);
    let mut t = DtlsTracker::new();
    assert_eq!(t.push(c2s(), &dtls13_client_hello(), &log), None);
    // ServerHello and the first encrypted record in one datagram.
    let first = encrypted_record(&server_hs_secret(), 0, &encrypted_extensions(0x0001));
    let datagram = [dtls13_server_hello(server_random()), first].concat();
    assert_eq!(t.push(s2c(), &datagram, &log), Some(0));
    let a = &t.associations()[0];
    assert_eq!(a.version, Some(DtlsVersion::Dtls13));
    assert_eq!(a.cipher_suite, Some(0x1301));
    assert_eq!(a.chosen_profile, Some(SrtpProfile::AesCm128HmacSha1_80));
    assert_eq!(a.profile_source, ProfileSource::EncryptedExtensions);
    let pairs = keyed(a);
    assert_eq!(pairs.len(), 1);
    assert_pair(&pairs[0], EXP13_SHA256_60);
    assert!(a.describe().starts_with("DTLS 1.3 association"));
}

#[test]
fn dtls13_second_record_and_hello_retry_request() {
    let log = keylog_13(true);
    let mut t = DtlsTracker::new();
    t.push(c2s(), &dtls13_client_hello(), &log);
    // HelloRetryRequest, then the same ClientHello again (message_seq 1 in
    // real life; the tracker does not care), then the real ServerHello.
    let hrr = dtls13_server_hello(handshake::HELLO_RETRY_REQUEST_RANDOM);
    assert_eq!(t.push(s2c(), &hrr, &log), None);
    assert_eq!(t.associations()[0].version, None);
    t.push(c2s(), &dtls13_client_hello(), &log);
    assert_eq!(t.associations().len(), 1);
    assert!(t.associations()[0].had_hello_retry());
    assert_eq!(
        t.push(s2c(), &dtls13_server_hello(server_random()), &log),
        None
    );
    assert!(matches!(t.associations()[0].keys, AssocKeys::Pending));
    // A record that is not EncryptedExtensions (an ACK-like handshake
    // fragment of another type) first, then EncryptedExtensions at seq 1.
    let other = encrypted_record(&server_hs_secret(), 0, &fragment(11, 2, &[1; 8], 0, 4));
    assert_eq!(t.push(s2c(), &other, &log), None);
    let ee = encrypted_record(&server_hs_secret(), 1, &encrypted_extensions(0x0007));
    assert_eq!(t.push(s2c(), &ee, &log), Some(0));
    let a = &t.associations()[0];
    assert_eq!(a.chosen_profile, Some(SrtpProfile::AeadAes128Gcm));
    assert_pair(&keyed(a)[0], EXP13_SHA256_56);
}

#[test]
fn dtls13_without_handshake_secret_keys_every_offered_profile() {
    let log = keylog_13(false);
    let mut t = DtlsTracker::new();
    t.push(c2s(), &dtls13_client_hello(), &log);
    assert_eq!(
        t.push(s2c(), &dtls13_server_hello(server_random()), &log),
        Some(0)
    );
    let a = &t.associations()[0];
    assert_eq!(a.chosen_profile, None);
    assert_eq!(a.profile_source, ProfileSource::Unknown);
    let pairs = keyed(a);
    assert_eq!(
        pairs.iter().map(|p| p.profile).collect::<Vec<_>>(),
        [SrtpProfile::AeadAes128Gcm, SrtpProfile::AesCm128HmacSha1_80]
    );
    assert_pair(&pairs[0], EXP13_SHA256_56);
    assert_pair(&pairs[1], EXP13_SHA256_60);
}

#[test]
fn dtls13_wrong_handshake_secret_falls_back() {
    let log = keylog_13(true);
    let mut t = DtlsTracker::new();
    t.push(c2s(), &dtls13_client_hello(), &log);
    t.push(s2c(), &dtls13_server_hello(server_random()), &log);
    let bad = encrypted_record(&[0x11; 32], 0, &encrypted_extensions(0x0001));
    for _ in 0..MAX_DECRYPT_FAILURES - 1 {
        assert_eq!(t.push(s2c(), &bad, &log), None);
    }
    assert_eq!(t.push(s2c(), &bad, &log), Some(0));
    assert_eq!(keyed(&t.associations()[0]).len(), 2);
    // The client's epoch 2 flight also ends the wait.
    let mut t = DtlsTracker::new();
    t.push(c2s(), &dtls13_client_hello(), &log);
    t.push(s2c(), &dtls13_server_hello(server_random()), &log);
    let client_finished = encrypted_record(&[0x22; 32], 0, &[20, 0, 0, 0]);
    assert_eq!(t.push(c2s(), &client_finished, &log), Some(0));
    assert_eq!(t.associations()[0].chosen_profile, None);
    // No exporter secret: NoKey at the ServerHello.
    let mut t = DtlsTracker::new();
    let empty = KeyLog::new();
    t.push(c2s(), &dtls13_client_hello(), &empty);
    assert_eq!(
        t.push(s2c(), &dtls13_server_hello(server_random()), &empty),
        Some(0)
    );
    assert!(matches!(t.associations()[0].keys, AssocKeys::NoKey));
}

// --- bounds and junk ----------------------------------------------------------

#[test]
fn association_and_memory_bounds() {
    let log = KeyLog::new();
    let mut t = DtlsTracker::new();
    let ch = client_hello(client_random(), &Ch::default());
    let rec = record(0, &message(1, 0, &ch));
    for i in 0..(MAX_ASSOCIATIONS as u32 + 50) {
        let f = Flow {
            src: SocketAddr::from(((i + 1).to_be_bytes(), 5000)),
            dst: addr("10.0.0.2:6000"),
            transport: Transport::Udp,
        };
        t.push(f, &rec, &log);
    }
    assert_eq!(t.associations().len(), MAX_ASSOCIATIONS);

    // Partial messages of the largest size from many 5-tuples stay under the budget.
    let mut t = DtlsTracker::new();
    let big = vec![0u8; handshake::MAX_MESSAGE];
    let frag = record(0, &fragment(1, 0, &big, 0, 1000));
    for i in 0..100u32 {
        let f = Flow {
            src: SocketAddr::from(((i + 1).to_be_bytes(), 5000)),
            dst: addr("10.0.0.2:6000"),
            transport: Transport::Udp,
        };
        t.push(f, &frag, &log);
    }
    assert!(t.held_bytes() <= MAX_REASSEMBLY_BYTES);
    assert!(t.held_bytes() >= MAX_REASSEMBLY_BYTES - handshake::MAX_MESSAGE);
}

#[test]
fn junk_never_panics() {
    let log = keylog_13(true);
    let mut t = DtlsTracker::new();
    let mut x: u32 = 12345;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let good = [
        dtls13_client_hello(),
        dtls13_server_hello(server_random()),
        encrypted_record(&server_hs_secret(), 0, &encrypted_extensions(1)),
    ];
    for _ in 0..3000 {
        let mut d = good[next() as usize % 3].clone();
        let flips = next() % 4;
        for _ in 0..flips {
            let i = next() as usize % d.len();
            d[i] ^= next() as u8;
        }
        d.truncate(next() as usize % (d.len() + 1));
        let flow = if next() % 2 == 0 { c2s() } else { s2c() };
        if let Some(i) = t.push(flow, &d, &log) {
            assert!(i < t.associations().len());
        }
    }
}

/// A server datagram built apart from this code, by a one-off Python script
/// (hmac/hashlib for HKDF-Expand-Label with "dtls13", `cryptography`'s AESGCM
/// and AES-ECB for the record and its number): ServerHello (suite 0x1301,
/// supported_versions DTLS 1.3), then an epoch 2 record, sequence number 0,
/// holding EncryptedExtensions with use_srtp SRTP_AES128_CM_HMAC_SHA1_80,
/// under server handshake traffic secret 60..7f.
const PY_SERVER_FLIGHT: &str = concat!(
    "16fefd0000000000000000003a0200002e000000000000002efefd808182838485868788898a8b8c8d8e8f9091929394",
    "95969798999a9b9c9d9e9f001301000006002b0002fefc2ef737002a0d2ef3cd032ba4a30deddddd46675bdc1e9ca1ac",
    "409ba007e3c0160106381dab70925e1c853846fcc51f"
);

#[test]
fn dtls13_reads_an_independently_encrypted_flight() {
    let log = keylog_13(true);
    let mut t = DtlsTracker::new();
    t.push(c2s(), &dtls13_client_hello(), &log);
    assert_eq!(t.push(s2c(), &hex(PY_SERVER_FLIGHT), &log), Some(0));
    let a = &t.associations()[0];
    assert_eq!(a.profile_source, ProfileSource::EncryptedExtensions);
    assert_eq!(a.chosen_profile, Some(SrtpProfile::AesCm128HmacSha1_80));
    assert_pair(&keyed(a)[0], EXP13_SHA256_60);
}

/// TLS_AES_256_GCM_SHA384: SHA-384 traffic keys, AES-256-GCM records and an
/// AEAD_AES_256_GCM profile. Expected exporter output (88 bytes, exporter
/// secret 20..4f) from the Python script, as in `derive`'s vectors.
#[test]
fn dtls13_aes256_sha384_suite() {
    const EXP13_SHA384_88: &str = concat!(
        "7b124d2d25a231b4772a49851e3c9642cf23f183f368836926ff2c471ec18d28",
        "ea6e127e6b28757c11b46ae5583c992d0c65e569a11d63993edb54ca48b95089",
        "47562a4acfdf51fe1c04228ee7e076a2f650e5a5112f61c7"
    );
    let shs = vec![0x5c; 48];
    let mut log = KeyLog::new();
    log.insert(
        SecretKind::ExporterSecret,
        client_random(),
        (0x20u8..0x50).collect(),
    );
    log.insert(
        SecretKind::ServerHandshakeTrafficSecret,
        client_random(),
        shs.clone(),
    );
    let ch = client_hello(
        client_random(),
        &Ch {
            profiles: vec![0x0007, 0x0008],
            versions: vec![DTLS13],
            ..Ch::default()
        },
    );
    let sh = server_hello(
        server_random(),
        &Sh {
            suite: 0x1302,
            version: Some(DTLS13),
            ..Sh::default()
        },
    );
    let mut t = DtlsTracker::new();
    t.push(c2s(), &record(0, &message(1, 0, &ch)), &log);
    assert_eq!(t.push(s2c(), &record(0, &message(2, 0, &sh)), &log), None);
    let ee = encrypted_record_with(PrfHash::Sha384, &shs, 0, &encrypted_extensions(0x0008));
    assert_eq!(t.push(s2c(), &ee, &log), Some(0));
    let a = &t.associations()[0];
    assert_eq!(a.chosen_profile, Some(SrtpProfile::AeadAes256Gcm));
    assert_pair(&keyed(a)[0], EXP13_SHA384_88);
}

/// DTLS 1.0 (record and hello version 0xfeff): the TLS 1.0 PRF (MD5 XOR SHA-1).
#[test]
fn dtls10_uses_the_tls10_prf() {
    // The Python script's TLS 1.0 PRF over the same inputs, 60 bytes.
    const EXP10_60: &str = "0793aacdfd737513f9d8feac184f1d9b13df78da0932be62edb2b9cbead15c19793e438df462d6d80f6416f37014ea9906bf858927cb96ac8f07210a";
    let (ch, _) = dtls12_hellos(0x002f);
    let mut sh = server_hello(
        server_random(),
        &Sh {
            suite: 0x002f,
            profile: Some(0x0001),
            ..Sh::default()
        },
    );
    sh[..2].copy_from_slice(&DTLS10.to_be_bytes());
    let log = keylog_12(&MS.collect::<Vec<_>>());
    let mut t = DtlsTracker::new();
    t.push(c2s(), &ch, &log);
    assert_eq!(
        t.push(s2c(), &record(0, &message(2, 0, &sh)), &log),
        Some(0)
    );
    let a = &t.associations()[0];
    assert_eq!(a.version, Some(DtlsVersion::Dtls10));
    assert!(!a.extended_master_secret);
    assert_pair(&keyed(a)[0], EXP10_60);
}
