//! `--srtp-keys` files: any text parses to keys or to an error naming a line of it; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::srtp::SrtpProfile;
use rtprec::srtp::keyring::{KeyRing, Unprotect, parse_key_file};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_key_file(text, "k") {
        Ok(keys) => {
            assert!(keys.len() <= text.lines().count());
            // Any packet through a ring of these keys: plain, decrypted or dropped, never a panic.
            let mut ring = KeyRing::new(keys);
            let mut out = Vec::new();
            let flow = rtprec::net::Flow {
                src: "10.0.0.1:1".parse().expect("addr"),
                dst: "10.0.0.2:2".parse().expect("addr"),
                transport: rtprec::net::Transport::Udp,
            };
            // Both as a stream that may be plain and as one on a DTLS 5-tuple.
            for srtp in [false, true] {
                let r = ring.unprotect_rtp(1, &flow, srtp, data, &mut out);
                assert!(r != Unprotect::Decrypted || !out.is_empty());
                assert!(!srtp || r != Unprotect::Plain, "SRTP for sure is never plain");
            }
        }
        Err(e) => {
            assert!((1..=text.lines().count()).contains(&e.line));
            // No key material is echoed. Keys are base64 of 22+ characters, so
            // words of 12+ are checked, against the message without the profile
            // names: the unknown-profile message lists them, and a word that is
            // (part of) one, such as `_256_CM_HMAC`, is not key material.
            let mut msg = e.to_string();
            for p in SrtpProfile::ALL {
                msg = msg.replace(p.name(), "");
            }
            for w in text.split_whitespace().filter(|w| w.len() >= 12) {
                assert!(!msg.contains(w), "{msg}");
            }
        }
    }
});
