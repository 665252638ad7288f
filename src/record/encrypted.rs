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
//!
//! And two from signalling, for tracks that metadata or SDP names ([`Watch`]):
//! - The SDP says the media is SRTP (`RTP/SAVP(F)`, `UDP/TLS/RTP/SAVP(F)`,
//!   `a=fingerprint`, `a=crypto`; metadata `srtp`) and no key was given
//!   (`signalled_srtp`): not recorded unless its payloads show plain media.
//! - The payloads of the signalled codec do not parse as that codec at frame
//!   starts while the headers advance like media ([`PayloadProbe`]).

pub use crate::srtp::detect::{PayloadProbe, TagProbe, Verdict};

use super::recorder::Track;
use crate::session::Protection;
use crate::track::Arrival;

/// What the recorder watches on a signalled track (metadata or SDP) for
/// encryption without keys: what signalling said, and the payloads.
#[derive(Clone, Debug, Default)]
pub struct Watch {
    /// How signalling says the media is protected, whether or not a key came with it.
    pub protection: Option<Protection>,
    /// The signalled codec's frame starts, checked (Opus, VP8, VP9, H.264, H.265, AV1).
    probe: Option<PayloadProbe>,
    /// The payloads showed plain media: a signalled-SRTP track is recorded
    /// (the capture holds decrypted media, e.g. an SFU's or a browser's dump).
    plain: bool,
    /// A packet of the track came on a 5-tuple that carried DTLS.
    dtls: bool,
}

impl Watch {
    /// The watch of a signalled track of `codec`, protected as `protection` says.
    pub fn new(protection: Option<Protection>, codec: Option<crate::codec::Codec>) -> Watch {
        Watch {
            protection,
            probe: PayloadProbe::for_codec(codec),
            plain: false,
            dtls: false,
        }
    }
}

/// The protection signalling names for a track that has no key: the track's
/// media is SRTP that nothing given here decrypts (`None`: plain, or keyed).
///
/// A key from metadata `srtp` or a usable SDP `a=crypto` line is the track's own
/// (`Track::srtp`); streams that a `--srtp-keys` key decrypts are decrypted
/// before routing and never reach this question (see [`observe`]).
pub(super) fn signalled_srtp(t: &Track) -> Option<Protection> {
    t.encryption.protection.filter(|_| t.srtp.is_none())
}

/// Looks at a packet of signalled track `t` that reached it undecrypted (no
/// key of the track's, no `--srtp-keys` key decrypting its SSRC); `dtls`: its
/// 5-tuple carried DTLS. Returns why the track is encrypted once that is clear.
///
/// - Signalling says SRTP and no key was given: the track is not recorded
///   unless its payloads show plain media (a capture of decrypted media). For
///   the codecs a [`PayloadProbe`] knows, its verdict decides; G.711/G.722 have
///   the [`TagProbe`] (run by the recorder), which decides at [`at_end`]; for
///   any other codec nothing could show it, and the first packet decides.
/// - Otherwise, payloads that do not parse as the signalled codec while the
///   RTP headers advance like media ([`Verdict::Encrypted`]) are encrypted.
pub(super) fn observe(t: &mut Track, a: &Arrival, dtls: bool) -> Option<String> {
    // Only the media's own payload type: DTMF, comfort noise, RED or FEC
    // packets between its packets have formats of their own.
    if t.payload_type.is_some_and(|pt| pt != a.pt) || t.encryption.plain {
        return None;
    }
    let signalled = signalled_srtp(t);
    if signalled.is_none() && t.encryption.probe.is_none() {
        return None;
    }
    let w = &mut t.encryption;
    w.dtls |= dtls;
    let dtls = w.dtls;
    let verdict = match w.probe.as_mut() {
        Some(p) => p.push(a.seq16, a.ts32, &a.payload),
        None if signalled.is_some() && t.tag_probe.is_none() => {
            return signalled.map(|p| signalled_message(p, None, dtls));
        }
        None => None,
    };
    match verdict? {
        Verdict::Plain => {
            w.plain = true;
            w.probe = None;
            None
        }
        Verdict::Encrypted => {
            w.probe = None;
            let codec = t.codec_name.as_deref().unwrap_or("unknown");
            Some(match signalled {
                Some(p) => signalled_message(p, Some(codec), dtls),
                None => unparsable_message(codec, dtls),
            })
        }
    }
}

/// At the end of the session, for signalled track `t` that had packets and did
/// not fail yet; `decrypted`: a `--srtp-keys` key decrypted its SSRC. A track
/// signalling calls SRTP whose payloads never showed plain media (too few
/// frames to tell, or no sign either way) is encrypted: signalling said so.
pub(super) fn at_end(t: &Track, decrypted: bool) -> Option<String> {
    let dtls = t.encryption.dtls;
    let p = signalled_srtp(t)?;
    if decrypted || t.encryption.plain || t.packets_seen == 0 || t.skipped.is_some() {
        return None;
    }
    let codec = t.codec_name.clone().unwrap_or_else(|| "unknown".into());
    let plain = match (&t.encryption.probe, &t.tag_probe) {
        (Some(probe), _) => probe.settle() == Some(Verdict::Plain),
        // G.711/G.722 lengths without a tag, packet after packet: plain.
        (None, Some(tag)) => tag.verdict() == Some(None),
        (None, None) => false,
    };
    (!plain).then(|| {
        let evidence = t.encryption.probe.as_ref().map(|_| codec.as_str());
        signalled_message(p, evidence, dtls)
    })
}

/// Why a track signalling calls SRTP cannot be recorded, and what would decrypt
/// it; `unparsed`: the codec its payloads were found not to parse as.
pub fn signalled_message(p: Protection, unparsed: Option<&str>, dtls: bool) -> String {
    let evidence = unparsed
        .map(|c| format!("; its payloads do not parse as {c}"))
        .unwrap_or_default();
    let (what, remedy) = match p {
        Protection::Sdes => (
            "SRTP (RTP/SAVP, a=crypto: keys exchanged in signalling, RFC 4568)",
            "give the keys (metadata `srtp`, an SDP a=crypto line with a supported suite, or --srtp-keys)",
        ),
        Protection::DtlsSrtp => (
            "DTLS-SRTP (a=fingerprint, UDP/TLS/RTP/SAVP: keys agreed in the DTLS handshake, RFC 5764)",
            "give the DTLS key log (--keylog) of the handshake, or its exported keys with --srtp-keys",
        ),
    };
    let seen = if dtls && p == Protection::DtlsSrtp {
        "; its 5-tuple carried that DTLS handshake"
    } else {
        ""
    };
    format!(
        "the track is encrypted and no key was given: signalling says it is {what}{seen}{evidence}; {remedy}"
    )
}

/// Why a track whose payloads do not parse as its signalled codec cannot be recorded.
pub fn unparsable_message(codec: &str, dtls: bool) -> String {
    format!(
        "the track's payloads do not parse as the signalled codec {codec}, while its RTP \
         sequence numbers and timestamps advance like media: they look encrypted (SRTP \
         without keys?); {}",
        if dtls {
            "its 5-tuple carried DTLS (DTLS-SRTP, RFC 5764): give the DTLS key log (--keylog) or the exported keys with --srtp-keys"
        } else {
            "give the keys (metadata `srtp`, SDP a=crypto, or --srtp-keys)"
        }
    )
}

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
