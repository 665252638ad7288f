//! Per-track SRTP key choice: a track's candidate keys (metadata, SDP
//! `a=crypto` lines) are tried until one authenticates, then that one is used.

use crate::session::SrtpSpec;
use crate::srtp::SrtpContext;

/// SRTP packets of a track that may fail authentication with every candidate key before
/// the track fails with `srtp-auth-failed`.
pub const SRTP_PROBE_PACKETS: u64 = 32;

/// SRTP decryption of one track: the candidate keys until one authenticates, then that one.
pub struct TrackSrtp {
    /// One context per candidate key, in the order given.
    candidates: Vec<SrtpContext>,
    /// Index of the candidate that authenticated first.
    chosen: Option<usize>,
    /// Packets no candidate authenticated (after the choice: the chosen key did not).
    failures: u64,
    /// Profile names of the candidates, for messages (never the keys).
    profiles: Vec<&'static str>,
}

impl TrackSrtp {
    /// Contexts for the usable keys of `specs`; `None` when there is none.
    pub fn new(specs: &[SrtpSpec]) -> Option<Self> {
        // Metadata and SDP loading already rejected unusable keys; skip any left.
        let candidates: Vec<SrtpContext> = specs
            .iter()
            .filter_map(|s| SrtpContext::from_base64(&s.profile, &s.key_base64).ok())
            .collect();
        Self::from_contexts(candidates)
    }

    /// From ready contexts, in order of preference.
    pub fn from_contexts(candidates: Vec<SrtpContext>) -> Option<Self> {
        if candidates.is_empty() {
            return None;
        }
        let profiles = candidates.iter().map(|c| c.profile().name()).collect();
        Some(TrackSrtp {
            candidates,
            chosen: None,
            failures: 0,
            profiles,
        })
    }

    /// Profile of the key that authenticated the track, once one has.
    pub fn chosen_profile(&self) -> Option<&'static str> {
        self.chosen.and_then(|i| self.profiles.get(i).copied())
    }

    /// Packets that no key authenticated.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// True once the track has failed: no key authenticated any of its first
    /// [`SRTP_PROBE_PACKETS`] packets.
    pub fn gave_up(&self) -> bool {
        self.chosen.is_none() && self.failures >= SRTP_PROBE_PACKETS
    }

    /// Decrypts a packet of the track's RTX or FEC stream (same keys, own SSRC)
    /// into `out`. Failures are not the media's: they are not counted.
    pub fn decrypt_aux(&mut self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        match self.chosen {
            Some(i) => self.candidates[i].decrypt_rtp(packet, out).is_ok(),
            None => self
                .candidates
                .iter_mut()
                .any(|c| c.decrypt_rtp(packet, out).is_ok()),
        }
    }

    /// Decrypts one packet into `out`; before a key is chosen each candidate is tried.
    pub fn decrypt(&mut self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        if let Some(i) = self.chosen {
            let ok = self.candidates[i].decrypt_rtp(packet, out).is_ok();
            self.failures += u64::from(!ok);
            return ok;
        }
        for (i, c) in self.candidates.iter_mut().enumerate() {
            if c.decrypt_rtp(packet, out).is_ok() {
                self.chosen = Some(i);
                return true;
            }
        }
        self.failures += 1;
        false
    }

    /// Decrypts an SRTCP packet with the key that authenticated the media;
    /// `false` before any did (RFC 3711 §3.4: only the first header and SSRC are clear).
    pub fn decrypt_rtcp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        self.chosen
            .and_then(|c| self.candidates.get_mut(c))
            .is_some_and(|ctx| ctx.decrypt_rtcp(packet, out).is_ok())
    }

    /// Why the track failed, without the keys.
    pub fn failure_message(&self) -> String {
        let mut names = self.profiles.clone();
        names.dedup();
        format!(
            "none of the {} SRTP key(s) given for this track ({}) authenticates any of its first {} packets: wrong key or profile",
            self.candidates.len(),
            names.join(", "),
            self.failures,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::SrtpProfile;

    fn plain(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 111, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[seq as u8; 40]);
        p
    }

    fn ctx(fill: u8) -> SrtpContext {
        SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &[fill; 30]).expect("30-byte key")
    }

    #[test]
    fn the_first_key_that_authenticates_is_kept() {
        let right = ctx(7);
        let mut s = TrackSrtp::from_contexts(vec![ctx(1), ctx(7)]).expect("two keys");
        let mut out = Vec::new();
        for seq in 0..5u16 {
            let wire = right.encrypt_rtp(0, &plain(seq)).expect("encrypts");
            assert!(s.decrypt(&wire, &mut out));
            assert_eq!(out, plain(seq));
        }
        assert_eq!(s.chosen, Some(1));
        assert_eq!(s.failures(), 0);
        assert!(!s.gave_up());
    }

    #[test]
    fn a_track_no_key_authenticates_gives_up_after_the_probe() {
        let other = ctx(9);
        let mut s = TrackSrtp::from_contexts(vec![ctx(1)]).expect("one key");
        let mut out = Vec::new();
        for seq in 0..SRTP_PROBE_PACKETS as u16 {
            assert!(!s.gave_up());
            let wire = other.encrypt_rtp(0, &plain(seq)).expect("encrypts");
            assert!(!s.decrypt(&wire, &mut out));
        }
        assert!(s.gave_up());
        let msg = s.failure_message();
        assert!(msg.contains("AES_CM_128_HMAC_SHA1_80"), "{msg}");
        assert!(!msg.contains("0101"), "never the key: {msg}");
    }

    #[test]
    fn repair_streams_do_not_count_as_failures() {
        let mut s = TrackSrtp::from_contexts(vec![ctx(1)]).expect("one key");
        let wire = ctx(2).encrypt_rtp(0, &plain(1)).expect("encrypts");
        assert!(!s.decrypt_aux(&wire, &mut Vec::new()));
        assert_eq!(s.failures(), 0);
    }
}
