//! DTLS-SRTP keys from a capture and a key log (RFC 5764). Sans-IO: the caller
//! feeds the DTLS datagrams of each 5-tuple (first byte 20..=63, RFC 7983 §7)
//! with a [`KeyLog`]; [`DtlsTracker`] follows the hellos of every association
//! and, once both are seen, derives the SRTP master keys of each direction.
//!
//! - DTLS 1.0/1.2: the profile comes from the ServerHello's `use_srtp`
//!   (RFC 5764 §4.1.1), the keys from the `CLIENT_RANDOM` master secret through
//!   the RFC 5705 exporter.
//! - DTLS 1.3: the profile is in the encrypted EncryptedExtensions; with a
//!   `SERVER_HANDSHAKE_TRAFFIC_SECRET` line it is decrypted and read, without
//!   one the keys are derived for every offered profile and the caller keeps
//!   the one whose SRTP authenticates. Keys come from `EXPORTER_SECRET`
//!   (RFC 8446 §7.5 with the "dtls13" label prefix, RFC 9147 §5.9).
//!
//! A wrong secret in the key log still derives keys: the handshake does not
//! say whether a secret is right, only SRTP authentication failures do.
//!
//! Memory is bounded: messages over [`handshake::MAX_MESSAGE`] bytes, more than
//! [`MAX_ASSOCIATIONS`] associations or 5-tuples, and reassembly beyond
//! [`MAX_REASSEMBLY_BYTES`] in all are dropped, without a panic.
//!
//! Not handled, with what happens instead: DTLS 1.3 records with a connection
//! id (their datagram is skipped; WebRTC does not negotiate ids); reading
//! EncryptedExtensions under ChaCha20 or CCM suites, or when the record came
//! before the ServerHello (keys for every offered profile); a key log that
//! gains a secret after the association was reported `NoKey` (the state is
//! final, so feed the whole key log before the capture).

pub mod derive;
pub mod handshake;
pub mod keylog;
pub mod record;
#[cfg(test)]
mod tests;

pub use keylog::{KeyLog, KeyLogError, KeyLogProblem, SecretKind};

use crate::net::{Flow, Transport};
use crate::srtp::{SrtpContext, SrtpProfile};
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use derive::{MasterKeys, PrfHash, TrafficKeys};
use handshake::Reassembler;
use record::{Record, UnifiedRecord};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Most associations kept; ClientHellos of more are ignored.
pub const MAX_ASSOCIATIONS: usize = 4096;

/// Most bytes held in partial handshake messages over all 5-tuples.
pub const MAX_REASSEMBLY_BYTES: usize = 16 * 1024 * 1024;

/// Failed epoch 2 server records after which the EncryptedExtensions are
/// given up on and keys are derived for every offered profile.
const MAX_DECRYPT_FAILURES: u32 = 4;

/// Record layer versions (RFC 6347 §4.1: one's complement of the TLS ones).
const DTLS10: u16 = 0xfeff;
const DTLS12: u16 = 0xfefd;
const DTLS13: u16 = 0xfefc;

/// The negotiated DTLS version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DtlsVersion {
    /// DTLS 1.0 (RFC 4347), TLS 1.0 PRF.
    Dtls10,
    /// DTLS 1.2 (RFC 6347).
    Dtls12,
    /// DTLS 1.3 (RFC 9147).
    Dtls13,
}

impl DtlsVersion {
    /// `1.2` and so on, as the manifest and `streams` write it.
    pub fn number(self) -> &'static str {
        match self {
            DtlsVersion::Dtls10 => "1.0",
            DtlsVersion::Dtls12 => "1.2",
            DtlsVersion::Dtls13 => "1.3",
        }
    }

    /// "DTLS 1.2" and so on.
    pub fn name(self) -> &'static str {
        match self {
            DtlsVersion::Dtls10 => "DTLS 1.0",
            DtlsVersion::Dtls12 => "DTLS 1.2",
            DtlsVersion::Dtls13 => "DTLS 1.3",
        }
    }
}

/// SRTP contexts for both directions of one profile.
#[derive(Clone, Debug)]
pub struct SrtpKeyPair {
    /// The profile the keys are for.
    pub profile: SrtpProfile,
    /// Decrypts what the DTLS client sends (client_write key and salt).
    pub client_write: SrtpContext,
    /// Decrypts what the DTLS server sends (server_write key and salt).
    pub server_write: SrtpContext,
}

/// Why keys cannot be derived although the key log has the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// The chosen DTLS-SRTP profile id is not one rtprec decrypts (e.g. NULL).
    Profile(u16),
    /// The DTLS 1.3 cipher suite's hash is unknown.
    CipherSuite(u16),
}

/// What is known of an association's SRTP keys.
#[derive(Clone, Debug, Default)]
pub enum AssocKeys {
    /// Not yet: a hello (or the DTLS 1.3 EncryptedExtensions) is still awaited.
    #[default]
    Pending,
    /// Derived: one pair for the chosen profile, or one per offered profile
    /// when the choice could not be read (DTLS 1.3 without a handshake secret).
    /// A wrong secret in the key log derives keys too: only SRTP
    /// authentication failures show it.
    Keyed(Vec<SrtpKeyPair>),
    /// Both hellos seen and the key log has no secret for this client random.
    NoKey,
    /// The key log has the secret, but the negotiation is one rtprec cannot use.
    Unsupported(Unsupported),
}

/// How [`Association::chosen_profile`] was learnt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProfileSource {
    /// Not learnt (yet): none chosen, or in DTLS 1.3 EncryptedExtensions not read.
    #[default]
    Unknown,
    /// The ServerHello's use_srtp extension (DTLS 1.0/1.2).
    ServerHello,
    /// The decrypted EncryptedExtensions (DTLS 1.3).
    EncryptedExtensions,
}

/// The AEAD and record number cipher reading one DTLS 1.3 epoch.
enum EpochCipher {
    Aes128 {
        aead: Box<Aes128Gcm>,
        sn: Box<Aes128>,
    },
    Aes256 {
        aead: Box<Aes256Gcm>,
        sn: Box<Aes256>,
    },
}

/// Reading the server's epoch 2 flight for EncryptedExtensions.
struct Epoch2Reader {
    cipher: EpochCipher,
    iv: [u8; 12],
    /// The record number expected next (RFC 9147 §4.2.2).
    next_seq: u64,
    failures: u32,
    reasm: Reassembler,
}

impl std::fmt::Debug for Epoch2Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are never printed.
        f.debug_struct("Epoch2Reader")
            .field("next_seq", &self.next_seq)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// One DTLS handshake (one client random) on a 5-tuple.
#[derive(Debug)]
pub struct Association {
    /// The side that sent the ClientHello.
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// From the ServerHello.
    pub version: Option<DtlsVersion>,
    /// Chosen by the ServerHello.
    pub cipher_suite: Option<u16>,
    /// The ClientHello's random: the key log lookup key.
    pub client_random: [u8; 32],
    /// Offered in the ClientHello's use_srtp, in its order (profiles rtprec supports).
    pub offered_profiles: Vec<SrtpProfile>,
    /// Chosen by the server, when known.
    pub chosen_profile: Option<SrtpProfile>,
    /// Extended master secret (RFC 7627) offered and accepted (DTLS 1.0/1.2).
    pub extended_master_secret: bool,
    /// The keys, or why there are none.
    pub keys: AssocKeys,
    /// Where `chosen_profile` came from.
    pub profile_source: ProfileSource,
    /// Offered extended_master_secret in the ClientHello.
    client_ems: bool,
    server_random: Option<[u8; 32]>,
    /// A HelloRetryRequest was seen (RFC 8446 §4.1.4).
    hello_retry: bool,
    epoch2: Option<Box<Epoch2Reader>>,
}

impl Association {
    /// "DTLS 1.2 association 10.0.0.1:5000 <-> 10.0.0.2:6000 (udp), client_random
    /// 3a4b5c6d…": enough to grep the key log for, never a secret.
    pub fn describe(&self) -> String {
        let version = self.version.map_or("DTLS", DtlsVersion::name);
        let transport = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        let prefix: String = self.client_random[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "{version} association {} <-> {} ({transport}), client_random {prefix}…",
            self.client, self.server
        )
    }

    /// True when `flow` runs between this association's client and server, either way.
    pub fn on(&self, flow: &Flow) -> bool {
        self.transport == flow.transport
            && ((flow.src == self.client && flow.dst == self.server)
                || (flow.src == self.server && flow.dst == self.client))
    }

    /// True when `flow` goes from this association's DTLS client to its server.
    pub fn from_client(&self, flow: &Flow) -> bool {
        flow.src == self.client && flow.dst == self.server && flow.transport == self.transport
    }

    /// Whether a HelloRetryRequest preceded the ServerHello.
    pub fn had_hello_retry(&self) -> bool {
        self.hello_retry
    }

    fn is_final(&self) -> bool {
        !matches!(self.keys, AssocKeys::Pending)
    }
}

/// A 5-tuple without direction: lower address first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ConnKey {
    a: SocketAddr,
    b: SocketAddr,
    transport: Transport,
}

impl ConnKey {
    /// The key and whether `flow` goes from `a` to `b`.
    fn of(flow: &Flow) -> (ConnKey, bool) {
        let forward = flow.src <= flow.dst;
        let (a, b) = if forward {
            (flow.src, flow.dst)
        } else {
            (flow.dst, flow.src)
        };
        (
            ConnKey {
                a,
                b,
                transport: flow.transport,
            },
            forward,
        )
    }
}

/// Per 5-tuple state.
#[derive(Debug, Default)]
struct Conn {
    /// Handshake reassembly, `[a -> b, b -> a]`.
    reasm: [Reassembler; 2],
    /// Indices into the association list, oldest first.
    assocs: Vec<usize>,
}

/// Follows DTLS handshakes and derives their SRTP keys. Sans-IO.
#[derive(Debug, Default)]
pub struct DtlsTracker {
    associations: Vec<Association>,
    conns: HashMap<ConnKey, Conn>,
    /// Bytes held in partial messages everywhere.
    held: usize,
}

impl DtlsTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every association seen, in order of their first ClientHello.
    pub fn associations(&self) -> &[Association] {
        &self.associations
    }

    /// Feeds one datagram (first byte 20..=63) of `flow`. Returns `Some(index)`
    /// when the association at `index` changed state in a way the caller cares
    /// about: its keys became known (`Keyed`) or it is certain none will be
    /// (`NoKey`, `Unsupported`: both hellos seen).
    pub fn push(&mut self, flow: Flow, payload: &[u8], keylog: &KeyLog) -> Option<usize> {
        if !matches!(payload.first(), Some(20..=63)) {
            return None;
        }
        let mut changed = None;
        for rec in record::records(payload) {
            let r = match rec {
                Record::Full {
                    content_type: record::CONTENT_HANDSHAKE,
                    epoch: 0,
                    body,
                    ..
                } => self.plain_handshake(&flow, body, keylog),
                // Later epochs of DTLS 1.0/1.2 are encrypted with keys not kept here.
                Record::Full { .. } => None,
                Record::Unified(u) => self.unified(&flow, &u, keylog),
            };
            changed = r.or(changed);
        }
        changed
    }

    /// Handshake fragments in an epoch 0 record.
    fn plain_handshake(&mut self, flow: &Flow, body: &[u8], keylog: &KeyLog) -> Option<usize> {
        let (key, forward) = ConnKey::of(flow);
        if !self.conns.contains_key(&key) && self.conns.len() >= MAX_ASSOCIATIONS {
            return None;
        }
        let mut changed = None;
        for f in handshake::fragments(body) {
            // Only the hellos are read in plaintext; the rest is not needed.
            if !matches!(
                f.msg_type,
                handshake::CLIENT_HELLO | handshake::SERVER_HELLO
            ) {
                continue;
            }
            let conn = self.conns.entry(key).or_default();
            let reasm = &mut conn.reasm[usize::from(!forward)];
            let before = reasm.held();
            let budget = MAX_REASSEMBLY_BYTES.saturating_sub(self.held);
            let msg = reasm.push(&f, budget);
            self.held = (self.held + reasm.held()).saturating_sub(before);
            let Some(msg) = msg else { continue };
            let r = match msg.msg_type {
                handshake::CLIENT_HELLO => self.client_hello(flow, key, &msg.body),
                _ => self.server_hello(flow, key, &msg.body, keylog),
            };
            changed = r.or(changed);
        }
        changed
    }

    /// A ClientHello: a known random again (retransmission, cookie exchange,
    /// HelloRetryRequest answer) updates its association; another random
    /// starts a new one (a new handshake on the same 5-tuple).
    fn client_hello(&mut self, flow: &Flow, key: ConnKey, body: &[u8]) -> Option<usize> {
        let ch = handshake::parse_client_hello(body)?;
        let offered: Vec<SrtpProfile> = ch
            .extensions
            .srtp_profile_ids
            .iter()
            .filter_map(|&id| handshake::profile_from_id(id))
            .collect();
        let conn = self.conns.get_mut(&key)?;
        let known = conn.assocs.iter().copied().find(|&i| {
            let a = &self.associations[i];
            a.client_random == ch.random && a.client == flow.src
        });
        if let Some(i) = known {
            // A retransmission, possibly late, of a known handshake.
            let a = &mut self.associations[i];
            if !a.is_final() {
                // A second ClientHello after a HelloRetryRequest may differ.
                a.offered_profiles = offered;
                a.client_ems = ch.extensions.extended_master_secret;
            }
            return None;
        }
        if self.associations.len() >= MAX_ASSOCIATIONS {
            return None;
        }
        conn.assocs.push(self.associations.len());
        self.associations.push(Association {
            client: flow.src,
            server: flow.dst,
            transport: flow.transport,
            version: None,
            cipher_suite: None,
            client_random: ch.random,
            offered_profiles: offered,
            chosen_profile: None,
            extended_master_secret: false,
            keys: AssocKeys::Pending,
            profile_source: ProfileSource::Unknown,
            client_ems: ch.extensions.extended_master_secret,
            server_random: None,
            hello_retry: false,
            epoch2: None,
        });
        None
    }

    /// The newest association on `key` whose server is `from`.
    fn newest_served_by(&self, key: &ConnKey, from: SocketAddr) -> Option<usize> {
        let conn = self.conns.get(key)?;
        conn.assocs
            .iter()
            .rev()
            .copied()
            .find(|&i| self.associations[i].server == from)
    }

    /// A ServerHello (or HelloRetryRequest) from the server of the newest association.
    fn server_hello(
        &mut self,
        flow: &Flow,
        key: ConnKey,
        body: &[u8],
        keylog: &KeyLog,
    ) -> Option<usize> {
        let sh = handshake::parse_server_hello(body)?;
        let i = self.newest_served_by(&key, flow.src)?;
        let a = &mut self.associations[i];
        if sh.is_hello_retry_request() {
            // Not the real ServerHello: the client answers with a second
            // ClientHello (same random) and the server with a real one.
            a.hello_retry = true;
            return None;
        }
        if a.server_random.is_some() {
            // A retransmission, or a ServerHello the newest ClientHello did not get.
            return None;
        }
        let version = if sh.extensions.versions.first() == Some(&DTLS13) {
            DtlsVersion::Dtls13
        } else {
            match sh.version {
                DTLS12 => DtlsVersion::Dtls12,
                DTLS10 => DtlsVersion::Dtls10,
                _ => return None,
            }
        };
        a.server_random = Some(sh.random);
        a.version = Some(version);
        a.cipher_suite = Some(sh.cipher_suite);
        if version == DtlsVersion::Dtls13 {
            a.profile_source = ProfileSource::Unknown;
            return dtls13_after_server_hello(a, keylog).then_some(i);
        }
        a.extended_master_secret = a.client_ems && sh.extensions.extended_master_secret;
        // The server answers with exactly one profile (RFC 5764 §4.1.1).
        let chosen_id = sh.extensions.srtp_profile_ids.first().copied();
        a.chosen_profile = chosen_id.and_then(handshake::profile_from_id);
        if a.chosen_profile.is_some() {
            a.profile_source = ProfileSource::ServerHello;
        }
        a.keys = match (
            keylog.master_secret(&a.client_random),
            chosen_id,
            a.chosen_profile,
        ) {
            (None, _, _) => AssocKeys::NoKey,
            (Some(_), Some(id), None) => AssocKeys::Unsupported(Unsupported::Profile(id)),
            (Some(ms), _, chosen) => {
                let hash = derive::tls12_prf_hash(sh.cipher_suite);
                let seed = [a.client_random, sh.random].concat();
                let profiles = chosen.map_or_else(|| a.offered_profiles.clone(), |p| vec![p]);
                let pairs = profiles
                    .into_iter()
                    .filter_map(|p| {
                        let len = derive::keying_material_len(p);
                        let material = if version == DtlsVersion::Dtls10 {
                            derive::prf_tls10(ms, derive::EXPORTER_LABEL, &seed, len)
                        } else {
                            derive::prf_tls12(hash, ms, derive::EXPORTER_LABEL, &seed, len)
                        };
                        key_pair(p, &derive::split_keying_material(p, &material)?)
                    })
                    .collect();
                AssocKeys::Keyed(pairs)
            }
        };
        Some(i)
    }

    /// A DTLS 1.3 ciphertext record.
    fn unified(&mut self, flow: &Flow, rec: &UnifiedRecord<'_>, keylog: &KeyLog) -> Option<usize> {
        let (key, _) = ConnKey::of(flow);
        let i = *self.conns.get(&key)?.assocs.last()?;
        let budget = MAX_REASSEMBLY_BYTES.saturating_sub(self.held);
        let a = &mut self.associations[i];
        if a.version != Some(DtlsVersion::Dtls13) || a.is_final() {
            return None;
        }
        if rec.epoch_bits == 1 {
            // 0-RTT data from the client (RFC 9147 §6.1) precedes the server's
            // flight and says nothing about it.
            return None;
        }
        if rec.epoch_bits != 2 || a.server != flow.src {
            // The client's epoch 2 flight or application data: the server's
            // flight with EncryptedExtensions is over.
            return give_up_epoch2(a, keylog, &mut self.held).then_some(i);
        }
        let Some(reader) = a.epoch2.as_deref_mut() else {
            return give_up_epoch2(a, keylog, &mut self.held).then_some(i);
        };
        let Some(plain) = reader.open(rec) else {
            reader.failures += 1;
            if reader.failures >= MAX_DECRYPT_FAILURES {
                return give_up_epoch2(a, keylog, &mut self.held).then_some(i);
            }
            return None;
        };
        if plain.content_type != record::CONTENT_HANDSHAKE {
            return None;
        }
        for f in handshake::fragments(&plain.content) {
            if f.msg_type != handshake::ENCRYPTED_EXTENSIONS {
                continue;
            }
            let before = reader.reasm.held();
            let msg = reader.reasm.push(&f, budget);
            self.held = (self.held + reader.reasm.held()).saturating_sub(before);
            let Some(msg) = msg else {
                continue;
            };
            let Some(ext) = handshake::parse_encrypted_extensions(&msg.body) else {
                return give_up_epoch2(a, keylog, &mut self.held).then_some(i);
            };
            self.held = self.held.saturating_sub(reader.reasm.held());
            a.epoch2 = None;
            let Some(&id) = ext.srtp_profile_ids.first() else {
                // No use_srtp: not DTLS-SRTP after all; keep every offered profile.
                return give_up_epoch2(a, keylog, &mut self.held).then_some(i);
            };
            let Some(p) = handshake::profile_from_id(id) else {
                a.keys = AssocKeys::Unsupported(Unsupported::Profile(id));
                return Some(i);
            };
            a.chosen_profile = Some(p);
            a.profile_source = ProfileSource::EncryptedExtensions;
            a.keys = dtls13_keys(a, keylog, &[p]);
            return Some(i);
        }
        None
    }
}

/// Both SRTP contexts of one profile.
fn key_pair(profile: SrtpProfile, keys: &MasterKeys) -> Option<SrtpKeyPair> {
    let (client_write, server_write) = derive::contexts(profile, keys)?;
    Some(SrtpKeyPair {
        profile,
        client_write,
        server_write,
    })
}

/// DTLS 1.3 keys for `profiles` from the exporter secret.
fn dtls13_keys(a: &Association, keylog: &KeyLog, profiles: &[SrtpProfile]) -> AssocKeys {
    let suite = a.cipher_suite.unwrap_or_default();
    let Some(hash) = derive::tls13_hash(suite) else {
        return AssocKeys::Unsupported(Unsupported::CipherSuite(suite));
    };
    let Some(secret) = keylog.exporter_secret(&a.client_random) else {
        return AssocKeys::NoKey;
    };
    let pairs = profiles
        .iter()
        .filter_map(|&p| {
            let len = derive::keying_material_len(p);
            let material = derive::exporter_tls13(hash, secret, derive::EXPORTER_LABEL, len)?;
            key_pair(p, &derive::split_keying_material(p, &material)?)
        })
        .collect();
    AssocKeys::Keyed(pairs)
}

/// After a DTLS 1.3 ServerHello: final keys now (no secret, or no way to read
/// EncryptedExtensions), or a reader for the server's epoch 2 flight. True
/// when the keys became final.
fn dtls13_after_server_hello(a: &mut Association, keylog: &KeyLog) -> bool {
    let suite = a.cipher_suite.unwrap_or_default();
    let Some(hash) = derive::tls13_hash(suite) else {
        a.keys = AssocKeys::Unsupported(Unsupported::CipherSuite(suite));
        return true;
    };
    if keylog.exporter_secret(&a.client_random).is_none() {
        a.keys = AssocKeys::NoKey;
        return true;
    }
    let reader = keylog
        .server_handshake_secret(&a.client_random)
        .and_then(|s| Epoch2Reader::new(hash, suite, s));
    match reader {
        Some(r) => {
            a.epoch2 = Some(Box::new(r));
            false
        }
        None => {
            // No handshake secret, or a suite whose records rtprec cannot open
            // (ChaCha20, CCM): keys for every offered profile.
            a.keys = dtls13_keys(a, keylog, &a.offered_profiles.clone());
            true
        }
    }
}

/// Stops waiting for EncryptedExtensions: keys for every offered profile.
/// True when the keys became final here; `held` loses the reader's partial bytes.
fn give_up_epoch2(a: &mut Association, keylog: &KeyLog, held: &mut usize) -> bool {
    if a.is_final() || a.version != Some(DtlsVersion::Dtls13) {
        return false;
    }
    if let Some(r) = a.epoch2.take() {
        *held = held.saturating_sub(r.reasm.held());
    }
    a.keys = dtls13_keys(a, keylog, &a.offered_profiles.clone());
    true
}

/// A decrypted DTLS 1.3 record (RFC 8446 §5.2 DTLSInnerPlaintext).
struct InnerPlaintext {
    content: Vec<u8>,
    content_type: u8,
}

impl Epoch2Reader {
    /// A reader for AES-GCM suites; `None` for others.
    fn new(hash: PrfHash, suite: u16, secret: &[u8]) -> Option<Self> {
        let key_len = match suite {
            0x1301 => 16,
            0x1302 => 32,
            _ => return None,
        };
        let TrafficKeys { key, iv, sn_key } = derive::traffic_keys(hash, secret, key_len)?;
        let cipher = if key_len == 16 {
            EpochCipher::Aes128 {
                aead: Box::new(Aes128Gcm::new_from_slice(&key).ok()?),
                sn: Box::new(Aes128::new_from_slice(&sn_key).ok()?),
            }
        } else {
            EpochCipher::Aes256 {
                aead: Box::new(Aes256Gcm::new_from_slice(&key).ok()?),
                sn: Box::new(Aes256::new_from_slice(&sn_key).ok()?),
            }
        };
        Some(Epoch2Reader {
            cipher,
            iv,
            next_seq: 0,
            failures: 0,
            reasm: Reassembler::default(),
        })
    }

    /// Decrypts the record number, then the record. `None` when it does not
    /// authenticate (wrong secret, another epoch, damage).
    fn open(&mut self, rec: &UnifiedRecord<'_>) -> Option<InnerPlaintext> {
        const TAG: usize = 16;
        // The record number mask samples the first 16 ciphertext bytes (RFC 9147 §4.2.3).
        let sample = rec.body.get(..16)?;
        if rec.body.len() < TAG + 1 {
            return None;
        }
        let mut block = aes::Block::from(<[u8; 16]>::try_from(sample).ok()?);
        match &self.cipher {
            EpochCipher::Aes128 { sn, .. } => sn.encrypt_block(&mut block),
            EpochCipher::Aes256 { sn, .. } => sn.encrypt_block(&mut block),
        }
        let mut aad = rec.header.to_vec();
        let seq_bytes = aad.get_mut(rec.seq_offset..rec.seq_offset + rec.seq_len)?;
        let mut low = 0u64;
        for (b, m) in seq_bytes.iter_mut().zip(block.iter()) {
            *b ^= m;
            low = (low << 8) | u64::from(*b);
        }
        let seq = reconstruct_seq(self.next_seq, low, rec.seq_len * 8);
        // Nonce: iv XOR the 64-bit record sequence number, as NSS and BoringSSL
        // do (without the epoch).
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let (ct, tag) = rec.body.split_at(rec.body.len() - TAG);
        let mut buf = ct.to_vec();
        let nonce = aes_gcm::Nonce::from(nonce);
        let tag = aes_gcm::Tag::try_from(tag).ok()?;
        let r = match &self.cipher {
            EpochCipher::Aes128 { aead, .. } => {
                aead.decrypt_inout_detached(&nonce, &aad, buf.as_mut_slice().into(), &tag)
            }
            EpochCipher::Aes256 { aead, .. } => {
                aead.decrypt_inout_detached(&nonce, &aad, buf.as_mut_slice().into(), &tag)
            }
        };
        r.ok()?;
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
        // Content || type || zeros (RFC 8446 §5.2).
        let end = buf.iter().rposition(|&b| b != 0)?;
        let content_type = buf[end];
        buf.truncate(end);
        Some(InnerPlaintext {
            content: buf,
            content_type,
        })
    }
}

/// The full record number whose low `bits` are `low`, closest to `expected`
/// (RFC 9147 §4.2.2).
fn reconstruct_seq(expected: u64, low: u64, bits: usize) -> u64 {
    let span = 1u64 << bits;
    let base = expected & !(span - 1);
    let candidates = [
        base.checked_sub(span).map(|b| b | low),
        Some(base | low),
        base.checked_add(span).map(|b| b | low),
    ];
    candidates
        .into_iter()
        .flatten()
        .min_by_key(|c| c.abs_diff(expected))
        .unwrap_or(low)
}

/// Test-only access for the tests module.
#[cfg(test)]
impl DtlsTracker {
    fn held_bytes(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn seq_reconstruction() {
        assert_eq!(reconstruct_seq(0, 0, 8), 0);
        assert_eq!(reconstruct_seq(3, 5, 8), 5);
        assert_eq!(reconstruct_seq(250, 2, 8), 258);
        assert_eq!(reconstruct_seq(258, 255, 8), 255);
        assert_eq!(reconstruct_seq(70000, 0x1234, 16), 0x11234);
    }
}
