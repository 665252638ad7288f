//! DTLS handshakes and key logs: arbitrary datagrams on two 5-tuples through a
//! `DtlsTracker`, arbitrary text through `KeyLog::parse` and `from_dsb_bytes`.
//! Checks: no panic; an association is reported at most once and only when its
//! keys are final; keys are for offered or chosen profiles; key log errors name
//! a line of the text and echo no word of it but a label.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::dtls::{AssocKeys, DtlsTracker, KeyLog, MAX_ASSOCIATIONS, ProfileSource, SecretKind};
use rtprec::net::{Flow, Transport};
use std::collections::HashSet;

/// Key log labels: the only words of the input an error may repeat.
const LABELS: [&str; 9] = [
    "CLIENT_RANDOM",
    "EXPORTER_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EARLY_EXPORTER_SECRET",
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "RSA",
];

fn check_key_log(bytes: &[u8]) -> Option<KeyLog> {
    let dsb = KeyLog::from_dsb_bytes(bytes, "k");
    if let Err(e) = &dsb {
        assert!(e.line >= 1 && e.line <= bytes.split(|&b| b == b'\n').count());
    }
    let text = std::str::from_utf8(bytes).ok()?;
    match KeyLog::parse(text, "k") {
        Ok(log) => {
            assert!(log.len() <= text.lines().count());
            Some(log)
        }
        Err(e) => {
            assert!((1..=text.lines().count()).contains(&e.line), "{e}");
            // Labels may appear (the error names the line's label), nothing else:
            // words of 12+ characters are checked against the message without them.
            let mut msg = e.to_string();
            for l in LABELS {
                msg = msg.replace(l, "");
            }
            for w in text.split_whitespace().filter(|w| w.len() >= 12) {
                assert!(!msg.contains(w), "{msg} echoes {w}");
            }
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let text_len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
    let (text, mut datagrams) = rest.split_at(text_len);
    // Secrets for the all-zero client random, which mutations reach easily, so
    // that handshakes get keyed; the text's own lines override them.
    let mut log = KeyLog::new();
    log.insert(SecretKind::MasterSecret, [0; 32], vec![7; 48]);
    log.insert(SecretKind::ExporterSecret, [0; 32], vec![8; 32]);
    log.insert(
        SecretKind::ServerHandshakeTrafficSecret,
        [0; 32],
        vec![9; 32],
    );
    if let Some(parsed) = check_key_log(text) {
        log.merge(parsed);
    }

    let addr = |i: u8| std::net::SocketAddr::from(([10, 0, 0, i], 5000 + u16::from(i)));
    let mut tracker = DtlsTracker::new();
    let mut reported = HashSet::new();
    while let Some((&[flags, hi, lo], rest)) = datagrams.split_first_chunk::<3>() {
        let n = usize::from(u16::from_be_bytes([hi, lo])).min(rest.len());
        let (payload, after) = rest.split_at(n);
        datagrams = after;
        let (a, b) = (addr(1), addr(2 + (flags >> 1 & 1)));
        let (src, dst) = if flags & 1 == 0 { (a, b) } else { (b, a) };
        let transport = if flags & 4 == 0 {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let flow = Flow {
            src,
            dst,
            transport,
        };
        if let Some(i) = tracker.push(flow, payload, &log) {
            assert!(reported.insert(i), "association {i} reported twice");
            let a = &tracker.associations()[i];
            assert!(!matches!(a.keys, AssocKeys::Pending));
        }
    }
    assert!(tracker.associations().len() <= MAX_ASSOCIATIONS);
    for (i, a) in tracker.associations().iter().enumerate() {
        let d = a.describe();
        let prefix: String = a.client_random[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(d.contains(&prefix));
        assert_ne!(a.client, a.server);
        assert!(a.from_client(&Flow {
            src: a.client,
            dst: a.server,
            transport: a.transport
        }));
        assert_eq!(
            a.chosen_profile.is_some(),
            a.profile_source != ProfileSource::Unknown
        );
        if let AssocKeys::Keyed(pairs) = &a.keys {
            assert!(reported.contains(&i));
            match a.chosen_profile {
                Some(p) => assert!(pairs.len() == 1 && pairs[0].profile == p),
                None => assert!(
                    pairs
                        .iter()
                        .all(|k| a.offered_profiles.contains(&k.profile))
                ),
            }
        }
        if !matches!(a.keys, AssocKeys::Pending) {
            assert!(reported.contains(&i));
        }
    }
});
