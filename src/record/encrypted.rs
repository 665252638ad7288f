//! Encrypted media without keys, named as such rather than written as noise.
//!
//! Two signs, both from how SRTP is built rather than from thresholds
//! (the first is [`TagProbe`], in `srtp::detect`):
//! - RFC 3711 §3.1: an SRTP packet is the RTP packet with its payload
//!   encrypted (same length) and an authentication tag appended: 10 bytes
//!   (HMAC-SHA1-80), 4 (HMAC-SHA1-32) or 16 (AES-GCM, RFC 7714). For codecs
//!   of one byte per RTP clock tick (G.711, and G.722, whose 8 kHz RTP clock
//!   ticks once per byte, RFC 3551 §4.5.2), a plain payload is exactly as long
//!   as the timestamp step, so payloads longer than that by one of those tag
//!   lengths, packet after packet, are SRTP.
//! - RFC 5764: DTLS on the same 5-tuple as the media (RFC 7983 demultiplexing)
//!   means DTLS-SRTP: the media keys come from that handshake.

pub use crate::srtp::detect::TagProbe;

/// Why an encrypted track cannot be recorded, and what would decrypt it.
pub fn message(tag: Option<usize>, dtls: bool) -> String {
    let mut signs = Vec::new();
    if dtls {
        signs.push("its 5-tuple carried a DTLS handshake: this is DTLS-SRTP (RFC 5764), encrypted with keys agreed in that handshake".to_string());
    }
    match tag {
        Some(tag) => signs.push(format!(
            "its payloads are SRTP: each is as long as its samples plus a {tag}-byte authentication tag (RFC 3711 §3.1)"
        )),
        None if !dtls => signs.push("its payloads fit no codec".to_string()),
        None => {}
    }
    let what = signs.join("; ");
    let fix = if dtls {
        "give the DTLS key log that one end of the call wrote (--keylog; browsers write it where SSLKEYLOGFILE says)"
    } else {
        "give the keys (metadata `srtp`, SDP a=crypto, or --srtp-keys)"
    };
    format!("the track is encrypted and no key was given: {what}; {fix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_what_would_decrypt_it() {
        let m = message(Some(10), false);
        assert!(
            m.contains("10-byte authentication tag") && m.contains("--srtp-keys"),
            "{m}"
        );
        let d = message(None, true);
        assert!(d.contains("DTLS-SRTP") && d.contains("--keylog"), "{d}");
    }
}
