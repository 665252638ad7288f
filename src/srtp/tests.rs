use super::*;
use proptest::prelude::*;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// RFC 3711 Appendix B.2: the AES-CM keystream.
#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let c = Cipher::Cm128(Box::new(
        Aes128::new_from_slice(&unhex("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap(),
    ));
    let iv: [u8; 16] = unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")
        .try_into()
        .unwrap();
    let mut ks = [0u8; 32];
    c.apply_keystream(&iv, &mut ks);
    assert_eq!(
        hex(&ks),
        "e03ead0935c95e80e166b16dd92b4eb4d23513162b02d0f72a43a2fe4a5f97ab"
    );
}

/// RFC 3711 Appendix B.3: key derivation (SRTP labels), and the SRTCP labels.
#[test]
fn rfc3711_b3_key_derivation() {
    let key = unhex("E1F97A0D3E018BE0D64FA32C06DE4139");
    let salt = unhex("0EC675AD498AFEEBB6960B3AABE6");
    let table: &[(u8, usize, &str)] = &[
        (0, 16, "c61e7a93744f39ee10734afe3ff7a087"),
        (1, 20, "cebe321f6ff7716b6fd4ab49af256a156d38baa4"),
        (2, 14, "30cbbc08863d8c85d49db34a9ae1"),
        (3, 16, "4c1aa45a81f73d61c800bbb00fbb1eaa"),
        (4, 20, "8d54534feb49ae8e7993a6bd0b844fc323a93dfd"),
    ];
    for &(label, n, want) in table {
        assert_eq!(hex(&kdf(&key, &salt, label, n)), want, "label {label}");
    }
}

/// libsrtp's `srtp_driver` known answers for AES_CM_128_HMAC_SHA1_80: master key
/// through key derivation to SRTP and SRTCP bytes.
#[test]
fn libsrtp_driver_aes_cm_128_hmac_sha1_80() {
    let master = unhex("e1f97a0d3e018be0d64fa32c06de4139 0ec675ad498afeebb6960b3aabe6");
    let mut ctx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &master).unwrap();
    let plain = unhex("800f1234decafbad cafebabeabababab abababababababab abababab");
    let srtp =
        unhex("800f1234decafbad cafebabe4e55dc4c e79978d88ca4d215 949d2402b78d6acc 99ea179b8dbb");
    assert_eq!(hex(&ctx.encrypt_rtp(0, &plain).unwrap()), hex(&srtp));
    let mut out = Vec::new();
    ctx.decrypt_rtp(&srtp, &mut out).unwrap();
    assert_eq!(out, plain);

    let rtcp = unhex("81c8000bcafebabe abababababababab abababababababab");
    let srtcp =
        unhex("81c8000bcafebabe 7128035be487b9bd bef89041f977a5a8 80000001993e08cd 54d6c1230798");
    assert_eq!(hex(&ctx.encrypt_rtcp(1, &rtcp).unwrap()), hex(&srtcp));
    ctx.decrypt_rtcp(&srtcp, &mut out).unwrap();
    assert_eq!(out, rtcp);
    assert_eq!(ctx.rtcp_stats(0xcafebabe).authenticated, 1);

    // Every truncation is rejected, without a panic.
    for len in 0..srtp.len() {
        assert!(
            ctx.decrypt_rtp(&srtp[..len], &mut out).is_err(),
            "len {len}"
        );
    }
    for len in 0..srtcp.len() {
        assert!(
            ctx.decrypt_rtcp(&srtcp[..len], &mut out).is_err(),
            "len {len}"
        );
    }
}

const GCM_KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
const GCM_KEY_256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// "Quid pro quo".
const GCM_SALT: &str = "517569642070726f2071756f";
/// RFC 7714 §16: seq 0xf17b, SSRC 0x5501a0b2, "Gallia est omnis divisa in partes tres".
const GCM_RTP: &str = "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
/// RFC 7714 §17 (the subsections' packet), SRTCP index 0x5d4.
const GCM_RTCP: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

fn gcm(profile: SrtpProfile, key: &str) -> SrtpContext {
    SrtpContext::from_session_keys(profile, &unhex(key), &unhex(GCM_SALT), &[])
}

/// RFC 7714 §16.1.1/§16.1.2 and §16.2.1/§16.2.2: SRTP AES-GCM encryption and decryption.
#[test]
fn rfc7714_16_srtp_gcm() {
    let table = [
        (
            SrtpProfile::AeadAes128Gcm,
            GCM_KEY_128,
            "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce",
        ),
        (
            SrtpProfile::AeadAes256Gcm,
            GCM_KEY_256,
            "8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13",
        ),
    ];
    for (profile, key, srtp) in table {
        let mut ctx = gcm(profile, key);
        assert_eq!(hex(&ctx.encrypt_rtp(0, &unhex(GCM_RTP)).unwrap()), srtp);
        let mut out = Vec::new();
        ctx.decrypt_rtp(&unhex(srtp), &mut out).unwrap();
        assert_eq!(hex(&out), GCM_RTP, "{profile:?}");
    }
}

/// RFC 7714 §17.1/§17.2: SRTCP AES-GCM; §17.3: E = 0, authenticated only.
#[test]
fn rfc7714_17_srtcp_gcm() {
    let table = [
        (
            SrtpProfile::AeadAes128Gcm,
            GCM_KEY_128,
            "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4",
        ),
        (
            SrtpProfile::AeadAes256Gcm,
            GCM_KEY_256,
            "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4",
        ),
        (
            SrtpProfile::AeadAes128Gcm,
            GCM_KEY_128,
            "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef841dd9683dd78ec92ae58790125f62b3000005d4",
        ),
    ];
    for (i, (profile, key, srtcp)) in table.into_iter().enumerate() {
        let mut ctx = gcm(profile, key);
        if i < 2 {
            assert_eq!(
                hex(&ctx.encrypt_rtcp(0x5d4, &unhex(GCM_RTCP)).unwrap()),
                srtcp
            );
        }
        let mut out = Vec::new();
        ctx.decrypt_rtcp(&unhex(srtcp), &mut out).unwrap();
        assert_eq!(hex(&out), GCM_RTCP, "vector {i}");
        let mut bad = unhex(srtcp);
        bad[9] ^= 1;
        assert_eq!(ctx.decrypt_rtcp(&bad, &mut out), Err(SrtpError::AuthFailed));
        assert_eq!(ctx.rtcp_stats(0x4d617273).auth_failures, 1);
    }
}

/// A plain RTP packet: `cc` CSRCs, an optional one-byte-header extension.
fn rtp(seq: u16, ssrc: u32, cc: u8, ext: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80 | cc | if ext { 0x10 } else { 0 }, 111];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for c in 0..cc {
        p.extend_from_slice(&u32::from(c).to_be_bytes());
    }
    if ext {
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
    }
    p.extend_from_slice(payload);
    p
}

fn master(profile: SrtpProfile, seed: u8) -> Vec<u8> {
    (0..profile.key_len() + profile.salt_len())
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
        .collect()
}

/// Every profile round-trips, across a sequence wrap, with duplicates and a packet from
/// before the wrap arriving after it.
#[test]
fn round_trip_every_profile_across_a_wrap() {
    for profile in SrtpProfile::ALL {
        let key = master(profile, 1);
        let tx = SrtpContext::new(profile, &key).unwrap();
        let mut rx = SrtpContext::new(profile, &key).unwrap();
        // (seq, roc) in arrival order.
        let mut order: Vec<(u16, u32)> = (65_530..=65_535).map(|s| (s, 0)).collect();
        order.extend((0..6).map(|s| (s, 1)));
        order.insert(8, (65_534, 0)); // late, from before the wrap
        order.push((3, 1)); // duplicate
        let mut out = Vec::new();
        for (i, &(seq, roc)) in order.iter().enumerate() {
            let plain = rtp(seq, 0xabc, (i % 3) as u8, i % 2 == 0, &[seq as u8; 33]);
            let srtp = tx.encrypt_rtp(roc, &plain).unwrap();
            assert_eq!(srtp.len(), plain.len() + profile.rtp_tag_len());
            rx.decrypt_rtp(&srtp, &mut out)
                .unwrap_or_else(|e| panic!("{profile:?} seq {seq}: {e}"));
            assert_eq!(out, plain, "{profile:?} seq {seq}");
        }
        assert_eq!(rx.roc(0xabc), Some(1));
        let s = rx.stats(0xabc);
        assert_eq!((s.authenticated, s.auth_failures), (order.len() as u64, 0));

        let rtcp = unhex("81c90007 00000abc 00000001 01000002 00000003 00000004 00000005 00000006");
        let srtcp = tx.encrypt_rtcp(7, &rtcp).unwrap();
        rx.decrypt_rtcp(&srtcp, &mut out).unwrap();
        assert_eq!(out, rtcp, "{profile:?}");
    }
}

/// A capture starting mid-stream: the first packet fixes ROC 0 and the wrap is followed.
#[test]
fn capture_starting_before_a_wrap() {
    let p = SrtpProfile::AesCm128HmacSha1_32;
    let tx = SrtpContext::new(p, &master(p, 9)).unwrap();
    let mut rx = tx.clone();
    let mut out = Vec::new();
    let mut seq = 40_000u16;
    let mut roc = 0;
    for _ in 0..70_000 / 97 {
        let plain = rtp(seq, 7, 0, false, b"x");
        rx.decrypt_rtp(&tx.encrypt_rtp(roc, &plain).unwrap(), &mut out)
            .unwrap();
        let (next, wrapped) = seq.overflowing_add(97);
        seq = next;
        roc += u32::from(wrapped);
    }
    assert_eq!(rx.roc(7), Some(1));
}

/// A capture that starts hours into a call: the sender's ROC is already 37. The
/// first packet finds it (every profile), later ones follow it; beyond the bound
/// or after the first few packets nothing more is searched.
#[test]
fn capture_starting_mid_call_finds_the_rollover_counter() {
    for profile in SrtpProfile::ALL {
        let tx = SrtpContext::new(profile, &master(profile, 5)).unwrap();
        let mut rx = tx.clone();
        let mut out = Vec::new();
        for (seq, roc) in [(1_000u16, 37u32), (1_001, 37), (65_535, 37), (2, 38)] {
            let plain = rtp(seq, 9, 0, false, b"mid-call");
            rx.decrypt_rtp(&tx.encrypt_rtp(roc, &plain).unwrap(), &mut out)
                .unwrap_or_else(|e| panic!("{profile:?} seq {seq}: {e}"));
            assert_eq!(out, plain);
        }
        assert_eq!(rx.roc(9), Some(38), "{profile:?}");
    }
    let p = SrtpProfile::AesCm128HmacSha1_80;
    let tx = SrtpContext::new(p, &master(p, 6)).unwrap();
    let mut rx = tx.clone();
    let mut out = Vec::new();
    let far = tx
        .encrypt_rtp(MAX_INITIAL_ROC + 1, &rtp(5, 4, 0, false, b"x"))
        .unwrap();
    assert!(rx.decrypt_rtp(&far, &mut out).is_err());
    // After ROC_SEARCH_PACKETS failures, a packet at ROC 3 is no longer searched for.
    for seq in 0..ROC_SEARCH_PACKETS as u16 {
        let bad = SrtpContext::new(p, &master(p, 7)).unwrap();
        let p3 = bad.encrypt_rtp(0, &rtp(seq, 8, 0, false, b"y")).unwrap();
        assert!(rx.decrypt_rtp(&p3, &mut out).is_err());
    }
    let late = tx.encrypt_rtp(3, &rtp(10, 8, 0, false, b"z")).unwrap();
    assert!(rx.decrypt_rtp(&late, &mut out).is_err());
}

/// More than half the sequence space lost across a wrap: the §3.3.1 guess is ROC, the
/// ROC + 1 retry near the wrap finds it.
#[test]
fn roc_retry_near_a_wrap() {
    let p = SrtpProfile::AesCm128HmacSha1_80;
    let tx = SrtpContext::new(p, &master(p, 3)).unwrap();
    let mut rx = tx.clone();
    let mut out = Vec::new();
    rx.decrypt_rtp(
        &tx.encrypt_rtp(0, &rtp(20_000, 5, 0, false, b"a")).unwrap(),
        &mut out,
    )
    .unwrap();
    rx.decrypt_rtp(
        &tx.encrypt_rtp(1, &rtp(100, 5, 0, false, b"b")).unwrap(),
        &mut out,
    )
    .unwrap();
    assert_eq!(rx.roc(5), Some(1));
    assert_eq!(rx.stats(5).auth_failures, 0);
}

/// RFC 3711 §3.3.1 index guessing, table-driven: (highest index so far, seq, ROC).
#[test]
fn roc_guess_table() {
    let table: &[(Option<u64>, u16, u32)] = &[
        (None, 65_000, 0),
        (Some(100), 200, 0),
        (Some(100), 40_000, 0), // ROC - 1 below zero: 0
        (Some((3 << 16) | 100), 65_500, 2),
        (Some(65_500), 10, 1),
        (Some(65_500), 40_000, 0),
        (Some((1 << 16) | 33_000), 200, 2),
        (Some((1 << 16) | 33_000), 20_000, 1),
    ];
    for &(highest, seq, roc) in table {
        assert_eq!(guess_roc(highest, seq), roc, "{highest:?} {seq}");
    }
}

#[test]
fn wrong_key_fails_every_packet_and_counts() {
    let p = SrtpProfile::AesCm128HmacSha1_80;
    let tx = SrtpContext::new(p, &master(p, 1)).unwrap();
    let mut rx = SrtpContext::new(p, &master(p, 2)).unwrap();
    let mut out = Vec::new();
    for seq in 0..50 {
        let srtp = tx
            .encrypt_rtp(0, &rtp(seq, 0x11, 0, false, b"hello"))
            .unwrap();
        assert_eq!(rx.decrypt_rtp(&srtp, &mut out), Err(SrtpError::AuthFailed));
        assert!(out.is_empty());
    }
    assert_eq!(
        rx.stats(0x11),
        SrtpStats {
            authenticated: 0,
            auth_failures: 50
        }
    );
    assert_eq!(rx.roc(0x11), None);
}

#[test]
fn bad_keys_and_profiles_never_show_the_key() {
    let key = "9sOd+W72ilwfNgNt0FzlGYj6YZPMqN1sJJx43UuS";
    let cases = [
        (
            SrtpContext::from_base64("NULL", key),
            "\"NULL\" is not a supported SRTP profile",
        ),
        (
            SrtpContext::from_base64("AEAD_AES_128_GCM", key),
            "master key || salt is 30 bytes, AEAD_AES_128_GCM needs 28",
        ),
        (
            SrtpContext::from_base64("AES_CM_128_HMAC_SHA1_80", "9sOd!"),
            "SRTP key is not base64",
        ),
    ];
    for (r, want) in cases {
        let e = r.unwrap_err().to_string();
        assert_eq!(e, want);
    }
    let ctx = SrtpContext::from_base64("AES_CM_128_HMAC_SHA1_80", key).unwrap();
    let dbg = format!("{ctx:?}");
    assert!(
        !dbg.contains(key) && dbg.contains("AesCm128HmacSha1_80"),
        "{dbg}"
    );
}

#[test]
fn base64_table() {
    let table: &[(&str, Option<&[u8]>)] = &[
        ("", Some(b"")),
        ("TQ==", Some(b"M")),
        ("TQ", Some(b"M")),
        ("TWE=", Some(b"Ma")),
        ("TWFu", Some(b"Man")),
        ("TWFu!", None),
        ("T", None),
        ("TQ=", None),
        ("YQ===", None),
        ("a-b_", None),
        ("a b=", None),
        ("TR==", Some(b"M")), // bits past the last byte are ignored
    ];
    for (s, want) in table {
        assert_eq!(decode_base64(s).as_deref(), *want, "{s:?}");
    }
    // A 30-byte SRTP master key || salt.
    let key = decode_base64("9sOd+W72ilwfNgNt0FzlGYj6YZPMqN1sJJx43UuS");
    assert_eq!(key.map(|k| k.len()), Some(30));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single bit flip in an authenticated packet is an error, never a panic, and
    /// never a wrong plaintext.
    #[test]
    fn bit_flips_fail_authentication(
        pi in 0usize..6,
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        seq in any::<u16>(),
        bit in any::<usize>(),
    ) {
        let profile = SrtpProfile::ALL[pi];
        let tx = SrtpContext::new(profile, &master(profile, 5)).unwrap();
        let mut rx = tx.clone();
        let plain = rtp(seq, 0x99, 1, true, &payload);
        let mut srtp = tx.encrypt_rtp(0, &plain).unwrap();
        let bit = bit % (srtp.len() * 8);
        srtp[bit / 8] ^= 1 << (bit % 8);
        let mut out = Vec::new();
        // Flips in the header can make it unparsable (Truncated/NotRtp); all are errors.
        prop_assert!(rx.decrypt_rtp(&srtp, &mut out).is_err());
        let mut rtcp = tx.encrypt_rtcp(3, &rtp(seq, 0x99, 0, false, &payload)).unwrap();
        let bit = bit % (rtcp.len() * 8);
        rtcp[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(rx.decrypt_rtcp(&rtcp, &mut out).is_err());
    }

    /// Random bytes never panic.
    #[test]
    fn random_bytes_never_panic(pi in 0usize..6, bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let profile = SrtpProfile::ALL[pi];
        let mut rx = SrtpContext::new(profile, &master(profile, 5)).unwrap();
        let mut out = Vec::new();
        let _ = rx.decrypt_rtp(&bytes, &mut out);
        let _ = rx.decrypt_rtcp(&bytes, &mut out);
        let mut v2 = bytes.clone();
        if let Some(b) = v2.first_mut() {
            *b = 0x80 | (*b & 0x3f);
        }
        prop_assert!(rx.decrypt_rtp(&v2, &mut out).is_err());
        let _ = rx.decrypt_rtcp(&v2, &mut out);
    }
}
