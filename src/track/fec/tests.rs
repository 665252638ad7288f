use super::*;
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

const MEDIA_SSRC: u32 = 0x1234_5678;
const FEC_SSRC: u32 = 0x0bad_cafe;

fn src(seq: u16, ts: u32, head1: u8, body: &[u8]) -> FecSource {
    FecSource {
        seq,
        head: [0x80, head1],
        ts,
        body: body.to_vec(),
    }
}

// ---- test-only encoder: XOR of the protected bit strings (RFC 5109 §6.3.1, RFC 8627 §6.3.1)

/// XOR of head, TS, length and zero-padded body over `set`.
fn xor_of(set: &[&FecSource]) -> ([u8; 2], u32, u16, Vec<u8>) {
    let mut head = [0u8; 2];
    let (mut ts, mut length) = (0u32, 0u16);
    let mut body = vec![0u8; set.iter().map(|s| s.body.len()).max().unwrap_or(0)];
    for s in set {
        head[0] ^= s.head[0];
        head[1] ^= s.head[1];
        ts ^= s.ts;
        length ^= s.body.len() as u16;
        body.iter_mut().zip(&s.body).for_each(|(b, x)| *b ^= x);
    }
    (head, ts, length, body)
}

fn offsets(set: &[&FecSource], base: u16) -> Vec<u16> {
    set.iter().map(|s| s.seq.wrapping_sub(base)).collect()
}

/// A ULPFEC payload protecting `set` (level 0 only, protection length = longest body).
fn ulpfec(set: &[&FecSource], base: u16, long: bool) -> Vec<u8> {
    let (head, ts, length, body) = xor_of(set);
    let width = if long { 48 } else { 16 };
    let mut mask = 0u64;
    for o in offsets(set, base) {
        assert!(o < width, "offset {o} does not fit the mask");
        mask |= 1 << (width - 1 - o);
    }
    let mut p = vec![(head[0] & 0x3f) | if long { 0x40 } else { 0 }, head[1]];
    p.extend_from_slice(&base.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&length.to_be_bytes());
    p.extend_from_slice(&(body.len() as u16).to_be_bytes());
    p.extend_from_slice(&mask.to_be_bytes()[8 - usize::from(width / 8)..]);
    p.extend_from_slice(&body);
    p
}

/// SN base and the shortest flexible mask for these offsets (k=1 ends the mask).
fn flex_mask_bytes(base: u16, offs: &[u16], draft03: bool) -> Vec<u8> {
    let max = offs.iter().copied().max().unwrap_or(0);
    let (mut p0, mut p1, mut p2) = (0u16, 0u32, 0u64);
    for &o in offs {
        match o {
            0..15 => p0 |= 1 << (14 - o),
            15..46 => p1 |= 1 << (30 - (o - 15)),
            _ if draft03 => p2 |= 1 << (62 - (o - 46)),
            _ => p2 |= 1 << (63 - (o - 46)),
        }
    }
    let mut m = base.to_be_bytes().to_vec();
    if max < 15 {
        m.extend_from_slice(&(p0 | 0x8000).to_be_bytes());
    } else if max < 46 {
        m.extend_from_slice(&p0.to_be_bytes());
        m.extend_from_slice(&(p1 | 0x8000_0000).to_be_bytes());
    } else {
        m.extend_from_slice(&p0.to_be_bytes());
        m.extend_from_slice(&p1.to_be_bytes());
        let k = if draft03 { 1 << 63 } else { 0 };
        m.extend_from_slice(&(p2 | k).to_be_bytes());
    }
    m
}

/// An RTP packet of the repair stream around a FEC payload.
fn rtp(csrcs: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80 | csrcs.len() as u8, 49, 0, 7, 0, 0, 0, 9];
    p.extend_from_slice(&FEC_SSRC.to_be_bytes());
    csrcs
        .iter()
        .for_each(|c| p.extend_from_slice(&c.to_be_bytes()));
    p.extend_from_slice(payload);
    p
}

/// FlexFEC base header: R=F=0 P X CC / M PT, length recovery, TS recovery.
fn flex_base_bytes(set: &[&FecSource]) -> (Vec<u8>, Vec<u8>) {
    let (head, ts, length, body) = xor_of(set);
    let mut p = vec![head[0] & 0x3f, head[1]];
    p.extend_from_slice(&length.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    (p, body)
}

/// An RFC 8627 repair packet protecting `set` of MEDIA_SSRC.
fn flexfec(set: &[&FecSource], base: u16) -> Vec<u8> {
    let (mut p, body) = flex_base_bytes(set);
    p.extend(flex_mask_bytes(base, &offsets(set, base), false));
    p.extend(body);
    rtp(&[MEDIA_SSRC], &p)
}

/// A flexfec-03 repair packet protecting `set` of MEDIA_SSRC.
fn flexfec03(set: &[&FecSource], base: u16) -> Vec<u8> {
    let (mut p, body) = flex_base_bytes(set);
    p.extend_from_slice(&[1, 0, 0, 0]);
    p.extend_from_slice(&MEDIA_SSRC.to_be_bytes());
    p.extend(flex_mask_bytes(base, &offsets(set, base), true));
    p.extend(body);
    rtp(&[], &p)
}

/// Encodes with `scheme` and parses back (so every recovery test also runs a parser).
fn repair(scheme: FecScheme, set: &[&FecSource], base: u16) -> RepairPacket {
    match scheme {
        FecScheme::Ulpfec => {
            let long = offsets(set, base).iter().any(|&o| o >= 16);
            parse_ulpfec(&ulpfec(set, base, long))
        }
        FecScheme::Flexfec => parse_flexfec(&flexfec(set, base), MEDIA_SSRC),
        FecScheme::Flexfec03 => parse_flexfec03(&flexfec03(set, base), MEDIA_SSRC),
    }
    .expect("test encoder output parses")
}

const SCHEMES: [FecScheme; 3] = [FecScheme::Ulpfec, FecScheme::Flexfec, FecScheme::Flexfec03];

// ---- FecSource, FecScheme

#[test]
fn fec_source_round_trips_rtp_and_rejects_non_rtp() {
    let packet = [
        0xa1, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0x00, 1, 2, 3, 4, 0xaa, 0xbb, 0xcc, 0xdd, 9,
    ];
    let s = FecSource::from_rtp(&packet).unwrap();
    assert_eq!(
        s,
        FecSource {
            seq: 0x1234,
            head: [0xa1, 0xe0],
            ts: 0x1000,
            body: vec![0xaa, 0xbb, 0xcc, 0xdd, 9],
        }
    );
    assert_eq!(s.to_rtp(0x0102_0304), packet);
    assert!(FecSource::from_rtp(&packet[..12]).is_some());
    assert_eq!(FecSource::from_rtp(&packet[..11]), None);
    let mut v1 = packet;
    v1[0] = 0x61;
    assert_eq!(FecSource::from_rtp(&v1), None);
}

#[test]
fn scheme_names_and_serde() {
    assert_eq!(
        FecScheme::from_encoding_name("ulpfec"),
        Some(FecScheme::Ulpfec)
    );
    assert_eq!(
        FecScheme::from_encoding_name("ULPFEC"),
        Some(FecScheme::Ulpfec)
    );
    assert_eq!(
        FecScheme::from_encoding_name("flexfec"),
        Some(FecScheme::Flexfec)
    );
    assert_eq!(
        FecScheme::from_encoding_name("FlexFEC-03"),
        Some(FecScheme::Flexfec03)
    );
    assert_eq!(FecScheme::from_encoding_name("red"), None);
    assert_eq!(FecScheme::from_encoding_name("flexfec03"), None);
    for (s, json) in [
        (FecScheme::Ulpfec, "\"ulpfec\""),
        (FecScheme::Flexfec, "\"flexfec\""),
        (FecScheme::Flexfec03, "\"flexfec-03\""),
    ] {
        assert_eq!(serde_json::to_string(&s).unwrap(), json);
        assert_eq!(serde_json::from_str::<FecScheme>(json).unwrap(), s);
    }
}

// ---- ULPFEC parser

/// E=0 L=0 P=1 CC=1 / M=1 PT=96, SN base 1000, TS, length 5, protection length 3,
/// mask 1010 0000 0000 0001, level-0 payload 1 2 3.
const ULPFEC_SHORT: [u8; 17] = [
    0x21, 0xe0, 0x03, 0xe8, 0x11, 0x22, 0x33, 0x44, 0x00, 0x05, 0x00, 0x03, 0xa0, 0x01, 1, 2, 3,
];

#[test]
fn ulpfec_short_mask_fields() {
    let mut p = ULPFEC_SHORT.to_vec();
    p.extend_from_slice(&[0x00, 0x02, 0x80, 0x00, 7, 7]); // a level-1 header and payload: ignored
    let r = parse_ulpfec(&p).unwrap();
    assert_eq!(
        r,
        RepairPacket {
            protected: vec![1000, 1002, 1015],
            head: [0x21, 0xe0],
            ts: 0x1122_3344,
            length: 5,
            data: vec![1, 2, 3],
        }
    );
    assert_eq!(r.protected(), [1000, 1002, 1015]);
    assert_eq!(r.data(), [1, 2, 3]);
}

#[test]
fn ulpfec_long_mask_wraps_past_65535() {
    // L=1, SN base 65530, mask bits 0, 5, 6 and 47.
    let p = [
        0x40, 0x60, 0xff, 0xfa, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0, 0, 0, 0, 0x01,
    ];
    let r = parse_ulpfec(&p).unwrap();
    assert_eq!(r.protected(), [65530, 65535, 0, 41]);
    assert!(r.data().is_empty());
    // The same bytes with L=0 read only 16 mask bits.
    let mut short = p;
    short[0] = 0;
    assert_eq!(parse_ulpfec(&short).unwrap().protected(), [65530, 65535, 0]);
}

#[test]
fn ulpfec_truncation_errors_at_every_cut() {
    for cut in 0..ULPFEC_SHORT.len() {
        let need = match cut {
            0..2 => 2,
            2..4 => 4,
            4..8 => 8,
            8..10 => 10,
            10..12 => 12,
            12..14 => 14,
            _ => 17,
        };
        assert_eq!(
            parse_ulpfec(&ULPFEC_SHORT[..cut]),
            Err(FecError::Truncated { need, have: cut }),
            "cut {cut}"
        );
    }
    // L=1 needs 4 more mask bytes.
    let mut long = ULPFEC_SHORT;
    long[0] |= 0x40;
    assert_eq!(
        parse_ulpfec(&long[..14]),
        Err(FecError::Truncated { need: 18, have: 14 })
    );
}

// ---- FlexFEC (RFC 8627) parser

/// FEC base header: P=0 X=1 CC=2 / M=1 PT=96, length recovery 16, TS recovery.
const FLEX_BASE: [u8; 8] = [0x12, 0xe0, 0x00, 0x10, 0xaa, 0xbb, 0xcc, 0xdd];

fn flex_packet(csrcs: &[u32], masks: &[&[u8]], payload: &[u8]) -> Vec<u8> {
    let mut p = FLEX_BASE.to_vec();
    masks.iter().for_each(|m| p.extend_from_slice(m));
    p.extend_from_slice(payload);
    rtp(csrcs, &p)
}

/// SN base 500, k=1, bits 0 and 14.
const MASK15: [u8; 4] = [0x01, 0xf4, 0xc0, 0x01];
/// SN base 65535, k=0, bits 0 and 14; k=1, bits 15 and 45.
const MASK46: [u8; 8] = [0xff, 0xff, 0x40, 0x01, 0xc0, 0x00, 0x00, 0x01];

#[test]
fn flexfec_mask_lengths_15_46_110() {
    let r = parse_flexfec(&flex_packet(&[MEDIA_SSRC], &[&MASK15], &[5, 6]), MEDIA_SSRC).unwrap();
    assert_eq!(
        r,
        RepairPacket {
            protected: vec![500, 514],
            head: [0x12, 0xe0],
            ts: 0xaabb_ccdd,
            length: 16,
            data: vec![5, 6],
        }
    );
    let r = parse_flexfec(&flex_packet(&[MEDIA_SSRC], &[&MASK46], &[7]), MEDIA_SSRC).unwrap();
    assert_eq!(r.protected(), [65535, 13, 14, 44]);
    assert_eq!(r.data(), [7]);
    // SN base 100, k=0 no bits, k=0 no bits, then 64 bits with 46 and 109 set.
    let m110 = [
        0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0x01,
    ];
    let r = parse_flexfec(&flex_packet(&[MEDIA_SSRC], &[&m110], &[8]), MEDIA_SSRC).unwrap();
    assert_eq!(r.protected(), [146, 209]);
    assert_eq!(r.data(), [8]);
    // Every truncation of the longest header is an error naming where it stopped.
    let full = flex_packet(&[MEDIA_SSRC], &[&m110], &[]);
    for cut in 0..full.len() {
        assert!(
            matches!(parse_flexfec(&full[..cut], MEDIA_SSRC), Err(FecError::Truncated { have, .. }) if have == cut),
            "cut {cut}"
        );
    }
}

#[test]
fn flexfec_masks_follow_the_csrc_list() {
    const OTHER: u32 = 0x1111_1111;
    let empty = [0x00, 0x01, 0x80, 0x00]; // SN base 1, k=1, no bits
    let p = flex_packet(&[OTHER, MEDIA_SSRC], &[&empty, &MASK46], &[1, 2, 3]);
    let r = parse_flexfec(&p, MEDIA_SSRC).unwrap();
    assert_eq!(r.protected(), [65535, 13, 14, 44]);
    assert_eq!(r.data(), [1, 2, 3]);
    // OTHER's mask is empty, but MEDIA_SSRC's packets are in the XOR too.
    assert_eq!(
        parse_flexfec(&p, OTHER),
        Err(FecError::Unsupported("FlexFEC repair across several SSRCs"))
    );
    assert_eq!(parse_flexfec(&p, 0x2222_2222), Err(FecError::NotForSsrc));
    assert_eq!(
        parse_flexfec(&flex_packet(&[], &[], &[1]), MEDIA_SSRC),
        Err(FecError::NotForSsrc)
    );
}

#[test]
fn flexfec_skips_rtp_extension_and_padding() {
    let mut p = vec![0xb1, 49, 0, 1, 0, 0, 0, 2];
    p.extend_from_slice(&FEC_SSRC.to_be_bytes());
    p.extend_from_slice(&MEDIA_SSRC.to_be_bytes());
    p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00]); // one-byte extensions, 1 word
    p.extend_from_slice(&FLEX_BASE);
    p.extend_from_slice(&MASK15);
    p.extend_from_slice(&[9, 9, 0, 0, 3]); // payload 9 9, 3 bytes of padding
    let r = parse_flexfec(&p, MEDIA_SSRC).unwrap();
    assert_eq!(r.protected(), [500, 514]);
    assert_eq!(r.data(), [9, 9]);
    let last = p.len() - 1;
    p[last] = 0;
    assert_eq!(
        parse_flexfec(&p, MEDIA_SSRC),
        Err(FecError::Malformed("RTP padding exceeds the payload"))
    );
    p[last] = 200;
    assert!(matches!(
        parse_flexfec(&p, MEDIA_SSRC),
        Err(FecError::Malformed(_))
    ));
}

#[test]
fn flexfec_rejects_r_and_f_bits_and_bad_rtp() {
    let mut p = flex_packet(&[MEDIA_SSRC], &[&MASK15], &[]);
    let fec0 = 12 + 4;
    for (bits, want) in [
        (0x80, FecError::Unsupported("FlexFEC retransmission (R=1)")),
        (0x40, FecError::Unsupported("FlexFEC fixed L/D mask (F=1)")),
        (0xc0, FecError::Malformed("FlexFEC R and F both set")),
    ] {
        p[fec0] = 0x12 | bits;
        assert_eq!(parse_flexfec(&p, MEDIA_SSRC), Err(want.clone()));
        assert_eq!(parse_flexfec03(&p, MEDIA_SSRC), Err(want));
    }
    p[fec0] = 0x12;
    p[0] = 0x41; // RTP version 1
    assert_eq!(
        parse_flexfec(&p, MEDIA_SSRC),
        Err(FecError::Malformed("RTP version is not 2"))
    );
}

// ---- flexfec-03 parser

fn flex03_packet(entries: &[(u32, &[u8])], payload: &[u8]) -> Vec<u8> {
    let mut p = FLEX_BASE.to_vec();
    p.extend_from_slice(&[entries.len() as u8, 0, 0, 0]);
    for (ssrc, mask) in entries {
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(mask);
    }
    p.extend_from_slice(payload);
    rtp(&[], &p)
}

#[test]
fn flexfec03_mask_lengths_15_46_109() {
    let r = parse_flexfec03(&flex03_packet(&[(MEDIA_SSRC, &MASK15)], &[5]), MEDIA_SSRC).unwrap();
    assert_eq!(
        r,
        RepairPacket {
            protected: vec![500, 514],
            head: [0x12, 0xe0],
            ts: 0xaabb_ccdd,
            length: 16,
            data: vec![5],
        }
    );
    let r = parse_flexfec03(&flex03_packet(&[(MEDIA_SSRC, &MASK46)], &[6]), MEDIA_SSRC).unwrap();
    assert_eq!(r.protected(), [65535, 13, 14, 44]);
    assert_eq!(r.data(), [6]);
    // SN base 100, two empty parts, then k=1 with bits 46 and 108.
    let mut m109 = [
        0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0, 0, 0, 0, 0, 0, 0x01,
    ];
    let r = parse_flexfec03(&flex03_packet(&[(MEDIA_SSRC, &m109)], &[7]), MEDIA_SSRC).unwrap();
    assert_eq!(r.protected(), [146, 208]);
    assert_eq!(r.data(), [7]);
    let full = flex03_packet(&[(MEDIA_SSRC, &m109)], &[]);
    for cut in 0..full.len() {
        assert!(
            matches!(parse_flexfec03(&full[..cut], MEDIA_SSRC), Err(FecError::Truncated { have, .. }) if have == cut),
            "cut {cut}"
        );
    }
    // libwebrtc requires the last part's k-bit.
    m109[8] = 0x40;
    assert_eq!(
        parse_flexfec03(&flex03_packet(&[(MEDIA_SSRC, &m109)], &[]), MEDIA_SSRC),
        Err(FecError::Malformed(
            "flexfec-03 mask without its final k-bit"
        ))
    );
}

#[test]
fn flexfec03_ssrc_entries() {
    const OTHER: u32 = 0x1111_1111;
    let empty = [0x00, 0x01, 0x80, 0x00];
    let p = flex03_packet(&[(OTHER, &empty), (MEDIA_SSRC, &MASK46)], &[4]);
    let r = parse_flexfec03(&p, MEDIA_SSRC).unwrap();
    assert_eq!(r.protected(), [65535, 13, 14, 44]);
    assert_eq!(r.data(), [4]);
    assert!(matches!(
        parse_flexfec03(&p, OTHER),
        Err(FecError::Unsupported(_))
    ));
    assert_eq!(parse_flexfec03(&p, 7), Err(FecError::NotForSsrc));
    assert_eq!(
        parse_flexfec03(&flex03_packet(&[], &[1, 2]), MEDIA_SSRC),
        Err(FecError::NotForSsrc)
    );
}

// ---- recovery

#[test]
fn recovers_a_single_loss_with_each_scheme() {
    let sources = [
        src(10, 3000, 96, &[1, 2, 3, 4, 5]),
        FecSource {
            seq: 11,
            head: [0xa2, 0xe0], // P=1, CC=2, M=1
            ts: 3000,
            body: vec![0, 0, 0, 1, 0, 0, 0, 2, 7, 7, 0, 0, 3],
        },
        src(12, 6000, 96, &[]),
        src(13, 6000, 96, &[9]),
    ];
    let set: Vec<&FecSource> = sources.iter().collect();
    for scheme in SCHEMES {
        for lost in 0..sources.len() {
            let mut dec = FecDecoder::new();
            for (i, s) in sources.iter().enumerate() {
                if i != lost {
                    assert!(dec.add_source(s.clone()).is_empty());
                }
            }
            let got = dec.add_repair(repair(scheme, &set, 10));
            assert_eq!(got, [sources[lost].clone()], "{scheme:?} lost {lost}");
            assert!(dec.holds(sources[lost].seq));
            assert_eq!(
                dec.stats(),
                FecStats {
                    repair_packets: 1,
                    recovered: 1,
                    unrecoverable: 0
                }
            );
            // The recovered packet is remembered: the real one is now a duplicate.
            assert!(dec.add_source(sources[lost].clone()).is_empty());
        }
    }
}

#[test]
fn recovery_iterates_through_repair_packets() {
    let s: Vec<FecSource> = (0..4)
        .map(|i| {
            src(
                100 + i,
                90 * u32::from(i),
                100,
                &vec![i as u8; usize::from(i) + 1],
            )
        })
        .collect();
    // Lost 101 and 102. X protects 100..=102 (two missing, waits); Y protects 102, 103.
    for scheme in SCHEMES {
        let mut dec = FecDecoder::new();
        dec.add_source(s[0].clone());
        dec.add_source(s[3].clone());
        assert!(
            dec.add_repair(repair(scheme, &[&s[0], &s[1], &s[2]], 100))
                .is_empty()
        );
        assert_eq!(dec.pending(), 1);
        let got = dec.add_repair(repair(scheme, &[&s[2], &s[3]], 102));
        assert_eq!(got, [s[1].clone(), s[2].clone()], "{scheme:?}");
        assert_eq!(dec.pending(), 0);
        assert_eq!(dec.stats().recovered, 2);
    }
}

#[test]
fn a_late_source_completes_a_held_repair() {
    let s: Vec<FecSource> = (0..3).map(|i| src(7 + i, 0, 96, &[i as u8; 4])).collect();
    let mut dec = FecDecoder::new();
    // The repair arrives first; 7 and 8 are still missing.
    assert!(
        dec.add_repair(repair(FecScheme::Flexfec03, &[&s[0], &s[1], &s[2]], 7))
            .is_empty()
    );
    assert!(dec.add_source(s[2].clone()).is_empty());
    assert_eq!(dec.add_source(s[0].clone()), [s[1].clone()]);
}

#[test]
fn recovery_across_the_wrap_comes_out_in_sequence_order() {
    let seqs = [65533u16, 65534, 65535, 0, 1];
    let s: Vec<FecSource> = seqs
        .iter()
        .map(|&q| src(q, u32::from(q), 96, &q.to_be_bytes()))
        .collect();
    for scheme in SCHEMES {
        let mut dec = FecDecoder::new();
        for i in [0, 1, 4] {
            dec.add_source(s[i].clone());
        }
        // Lost 65535 and 0: A = {65535, 0, 1} waits, B = {65534, 0} recovers 0, then A recovers 65535.
        assert!(
            dec.add_repair(repair(scheme, &[&s[2], &s[3], &s[4]], 65535))
                .is_empty()
        );
        let got = dec.add_repair(repair(scheme, &[&s[1], &s[3]], 65534));
        assert_eq!(got, [s[2].clone(), s[3].clone()], "{scheme:?}");
    }
}

#[test]
fn repairs_missing_nothing_are_dropped_and_duplicates_ignored() {
    let s = [src(1, 0, 96, &[1]), src(2, 0, 96, &[2])];
    let mut dec = FecDecoder::new();
    dec.add_source(s[0].clone());
    dec.add_source(s[1].clone());
    assert!(dec.add_source(s[1].clone()).is_empty());
    assert!(
        dec.add_repair(repair(FecScheme::Ulpfec, &[&s[0], &s[1]], 1))
            .is_empty()
    );
    assert_eq!(dec.pending(), 0);
    assert_eq!(
        dec.stats(),
        FecStats {
            repair_packets: 1,
            recovered: 0,
            unrecoverable: 0
        }
    );
    // A repair protecting nothing is counted and dropped too.
    assert!(
        dec.add_repair(repair(FecScheme::Flexfec, &[], 1))
            .is_empty()
    );
    assert_eq!(dec.pending(), 0);
}

#[test]
fn a_packet_longer_than_the_repair_data_is_not_recovered() {
    let s = [src(1, 0, 96, &[1; 10]), src(2, 0, 96, &[2; 4])];
    // ULPFEC level 0 protecting only 6 bytes: 1 (10 bytes) cannot be recovered.
    let mut p = ulpfec(&[&s[0], &s[1]], 1, false);
    p[10..12].copy_from_slice(&6u16.to_be_bytes());
    p.truncate(14 + 6);
    let r = parse_ulpfec(&p).unwrap();
    let mut dec = FecDecoder::new();
    dec.add_source(s[1].clone());
    assert!(dec.add_repair(r.clone()).is_empty());
    assert!(!dec.holds(1));
    assert_eq!(dec.stats().unrecoverable, 1);
    // 2 (4 bytes) fits in the 6 protected bytes.
    let mut dec = FecDecoder::new();
    dec.add_source(s[0].clone());
    assert_eq!(dec.add_repair(r), [s[1].clone()]);
}

#[test]
fn pending_repairs_are_bounded() {
    let mut dec = FecDecoder::new();
    let s: Vec<FecSource> = (0..200).map(|i| src(i, 0, 96, &[i as u8])).collect();
    dec.add_source(s[0].clone());
    // The newest packet: repairs never protect far ahead of it.
    dec.add_source(s[199].clone());
    // Each repair misses two packets: none can recover.
    for i in 0..70 {
        let a = 1 + 2 * i;
        dec.add_repair(repair(FecScheme::Flexfec, &[&s[a], &s[a + 1]], a as u16));
    }
    assert_eq!(dec.pending(), MAX_PENDING_REPAIRS);
    assert_eq!(dec.stats().unrecoverable, 6);
    // The oldest were dropped: 1 and 2 no longer have a repair.
    assert!(dec.add_source(s[1].clone()).is_empty());
    assert_eq!(dec.add_source(s[13].clone()), [s[14].clone()]);
}

/// A repair naming packets far ahead of the newest one is damage or another
/// stream: nothing is "recovered" from it.
#[test]
fn a_repair_far_ahead_of_the_newest_packet_is_ignored() {
    let mut dec = FecDecoder::new();
    for i in 100..110 {
        dec.add_source(src(i, 0, 96, &[1]));
    }
    let ahead = src(2100, 0, 96, &[9]);
    assert!(
        dec.add_repair(repair(FecScheme::Ulpfec, &[&ahead], 2100))
            .is_empty()
    );
    // Just ahead (reordering): kept, and used when it completes.
    let near = src(112, 0, 96, &[7]);
    assert_eq!(
        dec.add_repair(repair(FecScheme::Ulpfec, &[&near], 112)),
        [near]
    );
    assert!(dec.holds(109));
}

#[test]
fn a_late_repair_for_forgotten_packets_recovers_nothing() {
    let old = src(100, 0, 96, &[1]);
    let mut dec = FecDecoder::new();
    dec.add_source(old.clone());
    dec.add_source(src(100 + SOURCE_WINDOW, 0, 96, &[]));
    assert!(!dec.holds(100));
    // 100 did arrive: a repair naming only it must not bring it back.
    assert!(
        dec.add_repair(repair(FecScheme::Ulpfec, &[&old], 100))
            .is_empty()
    );
    assert_eq!(dec.pending(), 0);
    // A held repair whose oldest packet leaves the window is given up.
    let s: Vec<FecSource> = (0..3).map(|i| src(2000 + i, 0, 96, &[i as u8])).collect();
    let mut dec = FecDecoder::new();
    dec.add_source(src(1999, 0, 96, &[]));
    dec.add_repair(repair(FecScheme::Flexfec, &[&s[0], &s[1], &s[2]], 2000));
    assert_eq!(dec.pending(), 1);
    dec.add_source(src(2000 + SOURCE_WINDOW, 0, 96, &[]));
    assert_eq!(dec.pending(), 0);
    assert_eq!(dec.stats().unrecoverable, 1);
    assert!(dec.add_source(s[2].clone()).is_empty());
}

#[test]
fn a_far_jump_restarts_the_decoder() {
    let mut dec = FecDecoder::new();
    dec.add_source(src(5, 0, 96, &[]));
    // 40000 is 25541 behind 5 (wrapping): a restart, not a stale packet.
    let s: Vec<FecSource> = (0..3).map(|i| src(40000 + i, 0, 96, &[i as u8])).collect();
    dec.add_source(s[0].clone());
    assert!(!dec.holds(5));
    dec.add_source(s[2].clone());
    let got = dec.add_repair(repair(FecScheme::Flexfec03, &[&s[0], &s[1], &s[2]], 40000));
    assert_eq!(got, [s[1].clone()]);
}

// ---- properties

/// Random packets, random loss, random repair sets in all three formats.
#[derive(Clone, Debug)]
struct Case {
    start: u16,
    /// (head0 bits, head1, ts, body, lost)
    packets: Vec<(u8, u8, u32, Vec<u8>, bool)>,
    /// (base index, span, mask bits, mask bits, scheme)
    repairs: Vec<(prop::sample::Index, u16, u128, u128, usize)>,
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        any::<u16>(),
        vec(
            (
                any::<u8>(),
                any::<u8>(),
                any::<u32>(),
                vec(any::<u8>(), 0..24),
                prop::bool::weighted(0.3),
            ),
            1..130,
        ),
        vec(
            (
                any::<prop::sample::Index>(),
                1u16..=110,
                any::<u128>(),
                any::<u128>(),
                0usize..3,
            ),
            0..40,
        ),
    )
        .prop_map(|(start, packets, repairs)| Case {
            start,
            packets,
            repairs,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn recovery_is_exact_and_complete(case in arb_case()) {
        let n = case.packets.len();
        let originals: Vec<FecSource> = case
            .packets
            .iter()
            .enumerate()
            .map(|(i, (h0, h1, ts, body, _))| FecSource {
                seq: case.start.wrapping_add(i as u16),
                head: [0x80 | (h0 & 0x3f), *h1],
                ts: *ts,
                body: body.clone(),
            })
            .collect();
        let lost: Vec<bool> = case.packets.iter().map(|p| p.4).collect();
        // Each repair: its scheme, base index and protected indexes.
        let sets: Vec<(FecScheme, usize, Vec<usize>)> = case
            .repairs
            .iter()
            .map(|(idx, span, m1, m2, scheme)| {
                let base = idx.index(n);
                let width = [48, 110, 109][*scheme];
                let span = usize::from(*span).min(width).min(n - base);
                let set = (0..span).filter(|o| (m1 & m2) >> o & 1 == 1).map(|o| base + o).collect();
                (SCHEMES[*scheme], base, set)
            })
            .collect();
        // Media in order, lost ones never; each repair right after the last packet it protects.
        let mut by_last: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (r, (_, base, set)) in sets.iter().enumerate() {
            by_last[set.last().copied().unwrap_or(*base)].push(r);
        }
        let mut dec = FecDecoder::new();
        let mut recovered: HashMap<usize, FecSource> = HashMap::new();
        let mut check = |out: Vec<FecSource>, dec: &FecDecoder| -> Result<(), TestCaseError> {
            for w in out.windows(2) {
                let d = w[1].seq.wrapping_sub(w[0].seq);
                prop_assert!((1..0x8000).contains(&d), "not in sequence order");
            }
            for s in out {
                let i = usize::from(s.seq.wrapping_sub(case.start));
                prop_assert!(i < n && lost[i], "returned {} which was not lost", s.seq);
                prop_assert_eq!(&s, &originals[i]);
                prop_assert!(dec.holds(s.seq));
                let again = FecSource::from_rtp(&s.to_rtp(MEDIA_SSRC));
                prop_assert_eq!(again.as_ref(), Some(&s));
                prop_assert!(recovered.insert(i, s).is_none(), "recovered twice");
            }
            Ok(())
        };
        for i in 0..n {
            if !lost[i] {
                let out = dec.add_source(originals[i].clone());
                check(out, &dec)?;
            }
            for &r in &by_last[i] {
                let (scheme, base, set) = &sets[r];
                let refs: Vec<&FecSource> = set.iter().map(|&j| &originals[j]).collect();
                let out = dec.add_repair(repair(*scheme, &refs, originals[*base].seq));
                check(out, &dec)?;
            }
        }
        // Every loss that is the only loss of some repair packet's set is recovered.
        for (_, _, set) in &sets {
            let missing: Vec<usize> = set.iter().copied().filter(|&j| lost[j]).collect();
            if let [only] = missing[..] {
                prop_assert!(recovered.contains_key(&only), "single loss {} not recovered", only);
            }
        }
        // And exactly what peeling repair sets one loss at a time reaches.
        let mut have: BTreeSet<usize> = (0..n).filter(|&i| !lost[i]).collect();
        loop {
            let before = have.len();
            for (_, _, set) in &sets {
                let missing: Vec<usize> = set.iter().copied().filter(|j| !have.contains(j)).collect();
                if let [only] = missing[..] {
                    have.insert(only);
                }
            }
            if have.len() == before {
                break;
            }
        }
        let expected: BTreeSet<usize> = (0..n).filter(|&i| lost[i] && have.contains(&i)).collect();
        prop_assert_eq!(recovered.keys().copied().collect::<BTreeSet<_>>(), expected);
        let stats = dec.stats();
        prop_assert_eq!(stats.recovered, recovered.len() as u64);
        prop_assert_eq!(stats.repair_packets, sets.len() as u64);
    }

    #[test]
    fn parsers_never_panic_and_bound_their_masks(bytes in vec(any::<u8>(), 0..120), ssrc in any::<u32>()) {
        if let Ok(r) = parse_ulpfec(&bytes) {
            prop_assert!(r.protected().len() <= 48);
        }
        for (result, width) in [(parse_flexfec(&bytes, ssrc), 110), (parse_flexfec03(&bytes, ssrc), 109)] {
            if let Ok(r) = result {
                prop_assert!(r.protected().len() <= width);
                if let Some(&first) = r.protected().first() {
                    for w in r.protected().windows(2) {
                        prop_assert!(w[1].wrapping_sub(first) > w[0].wrapping_sub(first));
                    }
                }
            }
        }
    }
}

#[test]
fn jumbo_media_is_held_up_to_a_byte_bound_and_the_newest_stays() {
    let mut d = FecDecoder::new();
    let body = vec![0x5a; 60_000];
    for seq in 0..SOURCE_WINDOW {
        d.add_source(src(seq, u32::from(seq) * 3000, 96, &body));
        assert!(
            d.source_bytes <= MAX_SOURCE_BYTES,
            "{} bytes at {seq}",
            d.source_bytes
        );
    }
    let newest = SOURCE_WINDOW - 1;
    let kept = MAX_SOURCE_BYTES / body.len();
    assert!(
        (newest + 1 - kept as u16..=newest).all(|s| d.holds(s)),
        "the newest are kept"
    );
    assert!(!d.holds(0), "the oldest went");
    // A repair over a packet let go and one held misses only the one let go,
    // which arrived: nothing is "recovered".
    let (gone, held) = (newest - kept as u16, newest + 1 - kept as u16);
    assert!(!d.holds(gone) && d.holds(held));
    let r = repair(
        FecScheme::Ulpfec,
        &[
            &src(gone, u32::from(gone) * 3000, 96, &body),
            &src(held, u32::from(held) * 3000, 96, &body),
        ],
        gone,
    );
    assert!(d.add_repair(r).is_empty());
    assert_eq!(d.stats().recovered, 0);
    // A lost newest packet is still recovered from a repair over recent ones.
    let a = src(newest + 1, 0, 96, &body);
    let b = src(newest + 2, 0, 96, &body);
    d.add_source(b.clone());
    let r = repair(FecScheme::Ulpfec, &[&a, &b], newest + 1);
    assert_eq!(d.add_repair(r), vec![a]);
}
