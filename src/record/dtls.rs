//! DTLS-SRTP in the recorder: the DTLS handshakes the capture holds, with the
//! secrets of key logs (`--keylog`, pcapng Decryption Secrets Blocks), give the
//! SRTP keys of the media on their 5-tuples (RFC 5764 §4.2).
//!
//! Each association's two write keys join the [`KeyRing`] bound to the
//! direction they protect (the DTLS client's key protects what the client
//! sends); a stream takes the key that authenticates it, so media that moved to
//! another candidate pair after the handshake is still decrypted.

use crate::assets::{Decryption, FailureCode};
use crate::dtls::{AssocKeys, Association, DtlsTracker, KeyLog};
use crate::net::{Datagram, Flow};
use crate::srtp::keyring::{KeyOrigin, KeyRing, KeyScope, KeyUse};
use std::collections::HashSet;

/// 5-tuples remembered as carrying DTLS (both directions each): a capture of many calls keeps the first.
const MAX_DTLS_FLOWS: usize = 8192;

/// The DTLS side of a recording.
#[derive(Default)]
pub struct DtlsSrtp {
    tracker: DtlsTracker,
    /// `--keylog` files, merged.
    given: KeyLog,
    /// These and the secrets the capture itself carried (pcapng DSB), as the
    /// tracker looks them up.
    all: KeyLog,
    /// Directed 5-tuples that carried DTLS: their media is SRTP (RFC 5764, RFC 7983).
    flows: HashSet<Flow>,
    /// Associations whose keys are in the ring.
    keyed: HashSet<usize>,
}

impl std::fmt::Debug for DtlsSrtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsSrtp")
            .field("associations", &self.tracker.associations().len())
            .finish_non_exhaustive()
    }
}

impl DtlsSrtp {
    /// With the secrets of `--keylog`.
    pub fn new(given: KeyLog) -> Self {
        let mut all = KeyLog::default();
        all.merge(given.clone());
        DtlsSrtp {
            given,
            all,
            ..Default::default()
        }
    }

    /// True when some key log was given or found in the capture.
    pub fn has_secrets(&self) -> bool {
        !self.all.is_empty()
    }

    /// Secrets found in the capture (a pcapng Decryption Secrets Block). They key
    /// the handshakes that follow: a block comes before the packets that need it
    /// (pcapng, draft-ietf-opsawg-pcapng §4.7).
    pub fn add_embedded(&mut self, log: KeyLog) {
        self.all.merge(log);
    }

    /// One DTLS datagram.
    pub fn push(&mut self, d: &Datagram<'_>, ring: &mut KeyRing) {
        if self.flows.len() < MAX_DTLS_FLOWS {
            self.flows.insert(d.flow);
            self.flows.insert(d.flow.reversed());
        }
        if let Some(i) = self.tracker.push(d.flow, d.payload, &self.all) {
            self.key(i, ring);
        }
    }

    /// Puts association `i`'s keys in the ring, once.
    fn key(&mut self, i: usize, ring: &mut KeyRing) {
        let Some(a) = self.tracker.associations().get(i) else {
            return;
        };
        let AssocKeys::Keyed(pairs) = &a.keys else {
            return;
        };
        if !self.keyed.insert(i) {
            return;
        }
        let cr = &a.client_random;
        let origin =
            if self.given.master_secret(cr).is_some() || self.given.exporter_secret(cr).is_some() {
                KeyOrigin::KeyLog
            } else {
                KeyOrigin::PcapngSecrets
            };
        let to_server = Flow {
            src: a.client,
            dst: a.server,
            transport: a.transport,
        };
        for pair in pairs {
            ring.add(
                KeyScope::Direction(to_server),
                pair.client_write.clone(),
                origin,
                Some(i),
            );
            ring.add(
                KeyScope::Direction(to_server.reversed()),
                pair.server_write.clone(),
                origin,
                Some(i),
            );
        }
    }

    /// True when `flow` carried DTLS: its media is SRTP.
    pub fn carries_srtp(&self, flow: &Flow) -> bool {
        // Per packet: no hashing at all in captures without DTLS.
        !self.flows.is_empty() && self.flows.contains(flow)
    }

    /// True when the latest handshake on `flow` is complete and the key logs
    /// hold no secret for it: its media is protected by keys no one has
    /// (RFC 5764 §4.1: the keys of the DTLS on the media's own 5-tuple).
    pub fn unkeyed(&self, flow: &Flow) -> bool {
        self.tracker
            .associations()
            .iter()
            .rev()
            .find(|a| a.on(flow))
            .is_some_and(|a| matches!(a.keys, AssocKeys::NoKey))
    }

    /// The associations seen, in capture order.
    pub fn associations(&self) -> &[Association] {
        self.tracker.associations()
    }

    /// The manifest's account of a key from the ring.
    pub fn decryption(&self, used: KeyUse) -> Decryption {
        let assoc = used
            .association
            .and_then(|i| self.tracker.associations().get(i));
        Decryption {
            method: if used.origin.is_dtls() {
                "dtls-srtp"
            } else {
                "srtp"
            }
            .into(),
            profile: used.profile.name().into(),
            keys: used.origin.as_str().into(),
            dtls_version: assoc.and_then(|a| a.version).map(|v| v.number().into()),
            dtls_association: assoc.map(|a| format!("{} -> {}", a.client, a.server)),
        }
    }

    /// Why a stream on `flow`, SRTP for sure, has no key: the failure code and a
    /// message naming the associations to look for in the key log (never a secret).
    /// `tag` is the SRTP tag length the packets showed, when known.
    pub fn no_key(&self, flow: &Flow, tag: Option<usize>) -> (FailureCode, String) {
        let on_flow: Vec<&Association> = self
            .tracker
            .associations()
            .iter()
            .filter(|a| a.on(flow))
            .collect();
        let names = |list: &[&Association]| {
            list.iter()
                .map(|a| a.describe())
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !self.has_secrets() {
            let mut m = super::encrypted::message(tag, true);
            if !on_flow.is_empty() {
                m.push_str(&format!("; its handshake: {}", names(&on_flow)));
            }
            return (FailureCode::EncryptedNoKey, m);
        }
        let missing: Vec<&Association> = on_flow
            .iter()
            .copied()
            .filter(|a| matches!(a.keys, AssocKeys::NoKey))
            .collect();
        let unsupported: Vec<&Association> = on_flow
            .iter()
            .copied()
            .filter(|a| matches!(a.keys, AssocKeys::Unsupported(_)))
            .collect();
        if !unsupported.is_empty() && missing.is_empty() {
            return (
                FailureCode::EncryptedNoKey,
                format!(
                    "the track is DTLS-SRTP and its handshake negotiated what rtprec cannot decrypt (an SRTP profile or DTLS 1.3 cipher suite it does not support): {}",
                    names(&unsupported)
                ),
            );
        }
        if !missing.is_empty() {
            return (
                FailureCode::DtlsKeyMissing,
                format!(
                    "the track is DTLS-SRTP and the key logs hold no secret for its handshake: {}; look for that client_random in the key log",
                    names(&missing)
                ),
            );
        }
        if on_flow.is_empty() {
            return (
                FailureCode::DtlsKeyMissing,
                "the track is DTLS-SRTP and the capture holds no complete DTLS handshake for its 5-tuple (it began before the capture?), so no key log can key it".into(),
            );
        }
        (
            FailureCode::SrtpAuthFailed,
            format!(
                "the track is DTLS-SRTP and the keys exported from its handshake do not authenticate its packets: {}; is the key log from this call?",
                names(&on_flow)
            ),
        )
    }
}
