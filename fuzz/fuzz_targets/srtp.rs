//! SRTP/SRTCP decryption of random packets with a fixed key: no panic; on success the
//! output is shorter than the input by exactly the tag (and, for SRTCP, the trailer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::srtp::{SrtpContext, SrtpProfile};

fuzz_target!(|data: &[u8]| {
    let Some((&which, packet)) = data.split_first() else { return };
    let profile = SrtpProfile::ALL[usize::from(which) % SrtpProfile::ALL.len()];
    let key: Vec<u8> = (0..profile.key_len() + profile.salt_len()).map(|i| i as u8).collect();
    let mut ctx = SrtpContext::new(profile, &key).expect("key length matches the profile");
    let mut out = Vec::new();
    if ctx.decrypt_rtp(packet, &mut out).is_ok() {
        assert_eq!(out.len() + profile.rtp_tag_len(), packet.len());
    } else {
        assert!(out.is_empty());
    }
    if ctx.decrypt_rtcp(packet, &mut out).is_ok() {
        assert_eq!(out.len() + profile.rtcp_tag_len() + 4, packet.len());
    } else {
        assert!(out.is_empty());
    }
    // A packet this context encrypted always decrypts back to itself.
    if let Ok(srtp) = ctx.encrypt_rtp(0, packet) {
        ctx.decrypt_rtp(&srtp, &mut out).expect("own packets authenticate");
        assert_eq!(out, packet);
    }
});
