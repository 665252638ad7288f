//! DTLS handshake messages: fragment reassembly (RFC 6347 §4.2.2, RFC 9147
//! §5.5) and the parts of ClientHello, ServerHello and EncryptedExtensions
//! that DTLS-SRTP needs (RFC 5246 §7.4.1, RFC 8446 §4.1-4.3, RFC 5764 §4.1.1).

use crate::srtp::SrtpProfile;

/// ClientHello message type.
pub const CLIENT_HELLO: u8 = 1;
/// ServerHello message type (also HelloRetryRequest in (D)TLS 1.3).
pub const SERVER_HELLO: u8 = 2;
/// EncryptedExtensions message type (TLS 1.3).
pub const ENCRYPTED_EXTENSIONS: u8 = 8;

/// Largest handshake message reassembled: a post-quantum ClientHello is a few
/// KiB; certificates chains stay well below this.
pub const MAX_MESSAGE: usize = 256 * 1024;

/// Messages reassembled at once per direction; more are dropped.
const MAX_PARTIAL: usize = 4;

/// Handshake fragment header length.
const FRAGMENT_HEADER: usize = 12;

/// One handshake fragment (RFC 6347 §4.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Message type.
    pub msg_type: u8,
    /// Length of the whole message.
    pub length: usize,
    /// Message sequence number.
    pub message_seq: u16,
    /// Offset of this fragment in the message.
    pub offset: usize,
    /// Fragment bytes.
    pub data: &'a [u8],
}

/// Splits a handshake record body into fragments; stops at the first that
/// does not fit.
pub fn fragments(mut body: &[u8]) -> Vec<Fragment<'_>> {
    let mut out = Vec::new();
    while let Some(h) = body.get(..FRAGMENT_HEADER) {
        let u24 =
            |b: &[u8]| (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]);
        let frag_len = u24(&h[9..12]);
        let Some(data) = body.get(FRAGMENT_HEADER..FRAGMENT_HEADER + frag_len) else {
            break;
        };
        out.push(Fragment {
            msg_type: h[0],
            length: u24(&h[1..4]),
            message_seq: u16::from_be_bytes([h[4], h[5]]),
            offset: u24(&h[6..9]),
            data,
        });
        body = &body[FRAGMENT_HEADER + frag_len..];
    }
    out
}

/// A complete handshake message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Message type.
    pub msg_type: u8,
    /// Message sequence number.
    pub message_seq: u16,
    /// Body (without the handshake header).
    pub body: Vec<u8>,
}

/// A message being reassembled.
#[derive(Clone, Debug)]
struct Partial {
    msg_type: u8,
    message_seq: u16,
    buf: Vec<u8>,
    /// Byte ranges received, sorted and merged.
    have: Vec<(usize, usize)>,
}

impl Partial {
    fn covers(&self, start: usize, end: usize) -> bool {
        self.have.iter().any(|&(s, e)| s <= start && end <= e)
    }

    /// Whether the bytes already held in `start..` agree with `data`.
    fn agrees(&self, start: usize, data: &[u8]) -> bool {
        let end = start + data.len();
        self.have.iter().all(|&(s, e)| {
            let (lo, hi) = (s.max(start), e.min(end));
            lo >= hi || self.buf[lo..hi] == data[lo - start..hi - start]
        })
    }

    fn add(&mut self, start: usize, data: &[u8]) {
        let end = start + data.len();
        self.buf[start..end].copy_from_slice(data);
        self.have.push((start, end));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
    }
}

/// Reassembles the handshake messages of one direction. Retransmitted and
/// duplicate fragments are harmless: a complete message may be returned again
/// when a whole retransmission arrives, and callers treat messages idempotently.
#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    partial: Vec<Partial>,
}

impl Reassembler {
    /// Bytes held in partial messages.
    pub fn held(&self) -> usize {
        self.partial.iter().map(|p| p.buf.len()).sum()
    }

    /// Adds a fragment; returns the message it completes. `budget` is how many
    /// more bytes this reassembler may allocate.
    pub fn push(&mut self, f: &Fragment<'_>, budget: usize) -> Option<Message> {
        let end = f.offset.checked_add(f.data.len())?;
        if f.length > MAX_MESSAGE || end > f.length {
            return None;
        }
        if f.offset == 0 && f.data.len() == f.length {
            // Unfragmented: the common case, no state.
            return Some(Message {
                msg_type: f.msg_type,
                message_seq: f.message_seq,
                body: f.data.to_vec(),
            });
        }
        let idx = match self
            .partial
            .iter()
            .position(|p| p.message_seq == f.message_seq)
        {
            Some(i)
                if self.partial[i].msg_type == f.msg_type
                    && self.partial[i].buf.len() == f.length
                    && self.partial[i].agrees(f.offset, f.data) =>
            {
                if self.partial[i].covers(f.offset, end) {
                    // A retransmitted fragment already held.
                    return None;
                }
                i
            }
            found => {
                // New message, or a stale one (another handshake on this
                // 5-tuple reused the sequence number): start over.
                if let Some(i) = found {
                    self.partial.remove(i);
                }
                if self.partial.len() >= MAX_PARTIAL {
                    self.partial.remove(0);
                }
                if f.length > budget {
                    return None;
                }
                self.partial.push(Partial {
                    msg_type: f.msg_type,
                    message_seq: f.message_seq,
                    buf: vec![0; f.length],
                    have: Vec::new(),
                });
                self.partial.len() - 1
            }
        };
        let p = &mut self.partial[idx];
        p.add(f.offset, f.data);
        if p.have == [(0, f.length)] {
            let p = self.partial.remove(idx);
            return Some(Message {
                msg_type: p.msg_type,
                message_seq: p.message_seq,
                body: p.buf,
            });
        }
        None
    }
}

/// A byte reader over a message body; every read is bounds-checked.
struct Reader<'a> {
    d: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = (self.d.get(..n)?, self.d.get(n..)?);
        self.d = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    fn random(&mut self) -> Option<[u8; 32]> {
        let mut r = [0u8; 32];
        r.copy_from_slice(self.take(32)?);
        Some(r)
    }
}

/// Extension types read here.
const EXT_USE_SRTP: u16 = 14;
const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// The extensions DTLS-SRTP cares about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// use_srtp profile ids (RFC 5764 §4.1.1), unknown ones included.
    pub srtp_profile_ids: Vec<u16>,
    /// extended_master_secret present (RFC 7627).
    pub extended_master_secret: bool,
    /// supported_versions: the client's list, or the server's one selection.
    pub versions: Vec<u16>,
}

/// Parses an extensions block (`extensions<0..2^16-1>`); a malformed
/// extension ends the parse with what was read so far.
fn parse_extensions(block: &[u8], from_server: bool) -> Extensions {
    let mut ext = Extensions::default();
    let mut r = Reader { d: block };
    while let (Some(ty), Some(data)) = (r.u16(), r.vec16()) {
        let mut e = Reader { d: data };
        match ty {
            EXT_USE_SRTP => {
                // SRTPProtectionProfiles (2-byte length + 2-byte ids) || MKI<0..255>.
                if let Some(ids) = e.vec16() {
                    ext.srtp_profile_ids = ids
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                }
            }
            EXT_EXTENDED_MASTER_SECRET => ext.extended_master_secret = true,
            EXT_SUPPORTED_VERSIONS => {
                if from_server {
                    ext.versions.extend(e.u16());
                } else if let Some(list) = e.vec8() {
                    ext.versions = list
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                }
            }
            _ => {}
        }
    }
    ext
}

/// The DTLS-SRTP protection profile with this IANA id, when rtprec supports it.
/// The registry has no AES-256-CM profile (RFC 6188 defines SDES suites only).
pub fn profile_from_id(id: u16) -> Option<SrtpProfile> {
    match id {
        0x0001 => Some(SrtpProfile::AesCm128HmacSha1_80),
        0x0002 => Some(SrtpProfile::AesCm128HmacSha1_32),
        0x0007 => Some(SrtpProfile::AeadAes128Gcm),
        0x0008 => Some(SrtpProfile::AeadAes256Gcm),
        _ => None,
    }
}

/// The parts of a ClientHello used here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    /// client_version (legacy_version in 1.3).
    pub version: u16,
    /// Client random.
    pub random: [u8; 32],
    /// Offered cipher suites.
    pub cipher_suites: Vec<u16>,
    /// Extensions read.
    pub extensions: Extensions,
}

/// Parses a DTLS ClientHello body (RFC 6347 §4.2.1: with a cookie).
pub fn parse_client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut r = Reader { d: body };
    let version = r.u16()?;
    let random = r.random()?;
    r.vec8()?; // session id
    r.vec8()?; // cookie
    let suites = r.vec16()?;
    r.vec8()?; // compression methods
    // Extensions are optional in a (D)TLS 1.2 ClientHello.
    let extensions = r
        .vec16()
        .map(|b| parse_extensions(b, false))
        .unwrap_or_default();
    Some(ClientHello {
        version,
        random,
        cipher_suites: suites
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
        extensions,
    })
}

/// The random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// The parts of a ServerHello used here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// server_version (legacy_version in 1.3).
    pub version: u16,
    /// Server random.
    pub random: [u8; 32],
    /// Chosen cipher suite.
    pub cipher_suite: u16,
    /// Extensions read.
    pub extensions: Extensions,
}

impl ServerHello {
    /// A HelloRetryRequest, not the real ServerHello.
    pub fn is_hello_retry_request(&self) -> bool {
        self.random == HELLO_RETRY_REQUEST_RANDOM
    }
}

/// Parses a ServerHello body.
pub fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader { d: body };
    let version = r.u16()?;
    let random = r.random()?;
    r.vec8()?; // session id
    let cipher_suite = r.u16()?;
    r.u8()?; // compression method
    let extensions = r
        .vec16()
        .map(|b| parse_extensions(b, true))
        .unwrap_or_default();
    Some(ServerHello {
        version,
        random,
        cipher_suite,
        extensions,
    })
}

/// Parses an EncryptedExtensions body (RFC 8446 §4.3.1).
pub fn parse_encrypted_extensions(body: &[u8]) -> Option<Extensions> {
    let mut r = Reader { d: body };
    r.vec16().map(|b| parse_extensions(b, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn hrr_random_is_sha256_of_its_name() {
        assert_eq!(
            Sha256::digest(b"HelloRetryRequest").as_slice(),
            HELLO_RETRY_REQUEST_RANDOM
        );
    }

    fn frag(seq: u16, len: usize, off: usize, data: &[u8]) -> Fragment<'_> {
        Fragment {
            msg_type: 1,
            length: len,
            message_seq: seq,
            offset: off,
            data,
        }
    }

    #[test]
    fn reassembly_out_of_order_duplicates_and_stale() {
        let msg: Vec<u8> = (0..30u8).collect();
        let mut r = Reassembler::default();
        assert_eq!(r.push(&frag(0, 30, 20, &msg[20..]), 1 << 20), None);
        assert_eq!(r.push(&frag(0, 30, 0, &msg[..12]), 1 << 20), None);
        // Duplicate, and an overlapping one.
        assert_eq!(r.push(&frag(0, 30, 0, &msg[..12]), 1 << 20), None);
        assert_eq!(r.push(&frag(0, 30, 5, &msg[5..15]), 1 << 20), None);
        assert_eq!(r.held(), 30);
        let m = r.push(&frag(0, 30, 15, &msg[15..20]), 1 << 20).unwrap();
        assert_eq!(m.body, msg);
        assert_eq!(r.held(), 0);
        // A stale fragment (same seq, other bytes) is replaced.
        let other = [7u8; 30];
        assert_eq!(r.push(&frag(1, 30, 0, &msg[..10]), 1 << 20), None);
        assert_eq!(r.push(&frag(1, 30, 5, &other[5..20]), 1 << 20), None);
        let m = r.push(&frag(1, 30, 0, &other[..5]), 1 << 20);
        assert_eq!(m, None);
        let m = r.push(&frag(1, 30, 20, &other[20..]), 1 << 20).unwrap();
        assert_eq!(m.body, other);
        // Over budget, over the cap, inconsistent: dropped.
        assert_eq!(r.push(&frag(2, 30, 0, &msg[..10]), 29), None);
        assert_eq!(r.held(), 0);
        assert_eq!(r.push(&frag(2, MAX_MESSAGE + 1, 0, &msg), 1 << 30), None);
        assert_eq!(r.push(&frag(2, 10, 5, &msg[..10]), 1 << 20), None);
        assert_eq!(r.push(&frag(2, 10, usize::MAX, &msg[..10]), 1 << 20), None);
    }
}
