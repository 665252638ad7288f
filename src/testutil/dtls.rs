//! DTLS 1.2 handshakes for test captures: the ClientHello and ServerHello
//! records of a DTLS-SRTP association, the key log line that unlocks it, and
//! the SRTP contexts its media is protected with (RFC 5764 §4.2).

use crate::dtls::derive::{
    PrfHash, contexts, keying_material_len, prf_tls12, split_keying_material,
};
use crate::srtp::{SrtpContext, SrtpProfile};

/// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: a SHA-256 PRF suite browsers use.
const SUITE: u16 = 0xc02b;

/// One DTLS 1.2 handshake, enough of it to key DTLS-SRTP.
#[derive(Clone, Debug)]
pub struct Dtls12Handshake {
    /// The ClientHello random (the key log's lookup key).
    pub client_random: [u8; 32],
    /// The ServerHello random.
    pub server_random: [u8; 32],
    /// The master secret the key log gives.
    pub master_secret: [u8; 48],
    /// The SRTP profile the server chooses.
    pub profile: SrtpProfile,
}

/// The DTLS-SRTP protection profile id (RFC 5764 §4.1.2, RFC 7714 §14.2).
fn profile_id(p: SrtpProfile) -> u16 {
    match p {
        SrtpProfile::AesCm128HmacSha1_80 => 0x0001,
        SrtpProfile::AesCm128HmacSha1_32 => 0x0002,
        SrtpProfile::AeadAes128Gcm => 0x0007,
        SrtpProfile::AeadAes256Gcm => 0x0008,
        // Not in the DTLS-SRTP registry: offer the GCM default instead.
        _ => 0x0007,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A handshake message as one unfragmented DTLS handshake fragment (RFC 6347 §4.2.2).
fn handshake(msg_type: u8, seq: u16, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).expect("small body").to_be_bytes();
    let mut m = vec![msg_type, len[1], len[2], len[3]];
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, len[1], len[2], len[3]]);
    m.extend_from_slice(body);
    m
}

/// A plaintext DTLS 1.2 record of epoch 0 (RFC 6347 §4.1).
fn record(content_type: u8, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 0xfe, 0xfd, 0, 0];
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend_from_slice(&u16::try_from(body.len()).expect("small").to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// The use_srtp extension (RFC 5764 §4.1.1) listing `ids`, no MKI.
fn use_srtp(ids: &[u16]) -> Vec<u8> {
    let mut data = u16::try_from(ids.len() * 2)
        .expect("few")
        .to_be_bytes()
        .to_vec();
    for id in ids {
        data.extend_from_slice(&id.to_be_bytes());
    }
    data.push(0);
    let mut e = 14u16.to_be_bytes().to_vec();
    e.extend_from_slice(&u16::try_from(data.len()).expect("few").to_be_bytes());
    e.extend_from_slice(&data);
    e
}

impl Dtls12Handshake {
    /// A handshake whose randoms and secret derive from `seed`.
    pub fn new(seed: u8, profile: SrtpProfile) -> Self {
        let fill = |n: u8| {
            std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(n).wrapping_add(i as u8))
        };
        Dtls12Handshake {
            client_random: fill(1),
            server_random: fill(101),
            master_secret: std::array::from_fn(|i| seed ^ (i as u8).wrapping_mul(7)),
            profile,
        }
    }

    /// The ClientHello record, offering every DTLS-SRTP profile with `profile` first.
    pub fn client_hello(&self) -> Vec<u8> {
        let first = profile_id(self.profile);
        let mut ids = vec![first];
        ids.extend(
            [0x0007, 0x0008, 0x0001, 0x0002]
                .into_iter()
                .filter(|&i| i != first),
        );
        let mut b = vec![0xfe, 0xfd];
        b.extend_from_slice(&self.client_random);
        b.push(0); // session id
        b.push(0); // cookie
        b.extend_from_slice(&[0, 4]);
        b.extend_from_slice(&SUITE.to_be_bytes());
        b.extend_from_slice(&0xc02fu16.to_be_bytes());
        b.extend_from_slice(&[1, 0]); // compression: null
        let mut ext = use_srtp(&ids);
        ext.extend_from_slice(&[0, 23, 0, 0]); // extended_master_secret
        b.extend_from_slice(&u16::try_from(ext.len()).expect("small").to_be_bytes());
        b.extend_from_slice(&ext);
        record(22, 0, &handshake(1, 0, &b))
    }

    /// The ServerHello record, choosing `profile`.
    pub fn server_hello(&self) -> Vec<u8> {
        let mut b = vec![0xfe, 0xfd];
        b.extend_from_slice(&self.server_random);
        b.push(0);
        b.extend_from_slice(&SUITE.to_be_bytes());
        b.push(0);
        let mut ext = use_srtp(&[profile_id(self.profile)]);
        ext.extend_from_slice(&[0, 23, 0, 0]);
        b.extend_from_slice(&u16::try_from(ext.len()).expect("small").to_be_bytes());
        b.extend_from_slice(&ext);
        record(22, 0, &handshake(2, 0, &b))
    }

    /// The ClientHello split into `n` handshake fragments, each in its own record
    /// (what a ClientHello larger than one datagram looks like).
    pub fn client_hello_fragments(&self, n: usize) -> Vec<Vec<u8>> {
        let whole = self.client_hello();
        // Record header (13) + handshake header (12) + body.
        let body = &whole[25..];
        let step = body.len().div_ceil(n.max(1));
        body.chunks(step)
            .enumerate()
            .map(|(i, chunk)| {
                let total = u32::try_from(body.len()).expect("small").to_be_bytes();
                let off = u32::try_from(i * step).expect("small").to_be_bytes();
                let len = u32::try_from(chunk.len()).expect("small").to_be_bytes();
                let mut m = vec![1, total[1], total[2], total[3], 0, 0];
                m.extend_from_slice(&off[1..]);
                m.extend_from_slice(&len[1..]);
                m.extend_from_slice(chunk);
                record(22, i as u64, &m)
            })
            .collect()
    }

    /// The key log line (NSS format) that unlocks this handshake.
    pub fn keylog_line(&self) -> String {
        format!(
            "CLIENT_RANDOM {} {}\n",
            hex(&self.client_random),
            hex(&self.master_secret)
        )
    }

    /// The SRTP contexts of (what the DTLS client sends, what the server sends),
    /// exported as RFC 5764 §4.2 says with the TLS 1.2 PRF (RFC 5705).
    pub fn srtp(&self) -> (SrtpContext, SrtpContext) {
        let seed = [self.client_random, self.server_random].concat();
        let material = prf_tls12(
            PrfHash::Sha256,
            &self.master_secret,
            b"EXTRACTOR-dtls_srtp",
            &seed,
            keying_material_len(self.profile),
        );
        let keys = split_keying_material(self.profile, &material).expect("long enough");
        contexts(self.profile, &keys).expect("valid keys")
    }
}
