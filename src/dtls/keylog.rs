//! NSS key log files (`SSLKEYLOGFILE`, as written by NSS, BoringSSL, OpenSSL,
//! GnuTLS and pion's KeyLogWriter): `LABEL <client_random hex> <secret hex>`
//! per line, `#` comments and blank lines skipped.
//!
//! Only the secrets DTLS-SRTP needs are kept (`CLIENT_RANDOM` for (D)TLS 1.2,
//! `EXPORTER_SECRET` and the handshake traffic secrets for DTLS 1.3). Other
//! known labels are checked and dropped; unknown labels are dropped unchecked,
//! so a newer writer's lines do not break an older rtprec.
//!
//! Errors name the origin and the 1-based line and never quote the line: any
//! word of it but the label may be key material.

use std::collections::HashMap;

/// Length of a (D)TLS client random, the lookup key of every line.
const RANDOM_LEN: usize = 32;

/// (D)TLS 1.2 master secret length (RFC 5246 §8.1).
const MASTER_SECRET_LEN: usize = 48;

/// A secret kept from the key log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// `CLIENT_RANDOM`: the 48-byte (D)TLS 1.0-1.2 master secret.
    MasterSecret,
    /// `EXPORTER_SECRET`: the TLS 1.3 exporter master secret (RFC 8446 §7.1).
    ExporterSecret,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`: protects the server's epoch 2 flight.
    ServerHandshakeTrafficSecret,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`: protects the client's epoch 2 flight.
    ClientHandshakeTrafficSecret,
}

/// What the parser does with the lines of one label.
#[derive(Clone, Copy)]
enum LabelRule {
    /// Checked and kept.
    Keep(SecretKind),
    /// A TLS 1.3 secret (hash length) that is checked and dropped.
    DropTls13,
    /// `RSA <8-byte encrypted premaster prefix> <48-byte premaster>`: checked and dropped.
    DropRsa,
}

/// The labels rtprec knows. Anything else is skipped without a look.
fn rule(label: &str) -> Option<LabelRule> {
    Some(match label {
        "CLIENT_RANDOM" => LabelRule::Keep(SecretKind::MasterSecret),
        "EXPORTER_SECRET" => LabelRule::Keep(SecretKind::ExporterSecret),
        "SERVER_HANDSHAKE_TRAFFIC_SECRET" => {
            LabelRule::Keep(SecretKind::ServerHandshakeTrafficSecret)
        }
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => {
            LabelRule::Keep(SecretKind::ClientHandshakeTrafficSecret)
        }
        "CLIENT_TRAFFIC_SECRET_0"
        | "SERVER_TRAFFIC_SECRET_0"
        | "EARLY_EXPORTER_SECRET"
        | "CLIENT_EARLY_TRAFFIC_SECRET" => LabelRule::DropTls13,
        "RSA" => LabelRule::DropRsa,
        _ => return None,
    })
}

/// What is wrong with a line. Never holds any part of the line but its label.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyLogProblem {
    /// The line has a known label but not the two hex fields after it.
    #[error("{label} line needs a client random and a secret")]
    MissingField {
        /// The line's label.
        label: &'static str,
    },
    /// More than three fields.
    #[error("{label} line has more than three fields")]
    ExtraField {
        /// The line's label.
        label: &'static str,
    },
    /// The client random (second field) is not hex.
    #[error("{label} client random is not hex")]
    RandomNotHex {
        /// The line's label.
        label: &'static str,
    },
    /// The client random has the wrong length.
    #[error("{label} client random is {got} bytes, expected {want}")]
    RandomLength {
        /// The line's label.
        label: &'static str,
        /// Bytes found.
        got: usize,
        /// Bytes expected.
        want: usize,
    },
    /// The secret (third field) is not hex.
    #[error("{label} secret is not hex")]
    SecretNotHex {
        /// The line's label.
        label: &'static str,
    },
    /// The secret has the wrong length.
    #[error("{label} secret is {got} bytes, expected {want}")]
    SecretLength {
        /// The line's label.
        label: &'static str,
        /// Bytes found.
        got: usize,
        /// Lengths accepted, in words ("48", "32 or 48").
        want: &'static str,
    },
    /// A decryption secrets block holds bytes that are not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
}

/// A malformed key log line: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {problem}")]
pub struct KeyLogError {
    /// Where the text came from (a file name), as the caller named it.
    pub origin: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: KeyLogProblem,
}

/// Secrets from one or more key logs, by client random.
#[derive(Clone, Default)]
pub struct KeyLog {
    secrets: HashMap<(SecretKind, [u8; RANDOM_LEN]), Vec<u8>>,
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are never printed, only how many there are.
        f.debug_struct("KeyLog")
            .field("entries", &self.secrets.len())
            .finish()
    }
}

/// Decodes even-length hex; `None` for anything else.
fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let hi = char::from(p[0]).to_digit(16)?;
            let lo = char::from(p[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// The label as a `'static` string for errors (the line's own text is never kept).
fn static_label(label: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
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
    KNOWN.into_iter().find(|k| *k == label).unwrap_or("key log")
}

/// A checked line: `None` when it is skipped, else what to keep (if anything).
type LineResult = Result<Option<(SecretKind, [u8; RANDOM_LEN], Vec<u8>)>, KeyLogProblem>;

/// Checks one line (already without its line ending).
fn parse_line(line: &str) -> LineResult {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split_ascii_whitespace();
    let Some(label_text) = fields.next() else {
        return Ok(None);
    };
    let Some(rule) = rule(label_text) else {
        // Forward compatible: labels from newer writers are skipped.
        return Ok(None);
    };
    let label = static_label(label_text);
    let (Some(random_hex), Some(secret_hex)) = (fields.next(), fields.next()) else {
        return Err(KeyLogProblem::MissingField { label });
    };
    if fields.next().is_some() {
        return Err(KeyLogProblem::ExtraField { label });
    }
    let random = unhex(random_hex).ok_or(KeyLogProblem::RandomNotHex { label })?;
    // RSA lines carry the first 8 bytes of the encrypted premaster, not a random.
    let random_want = if matches!(rule, LabelRule::DropRsa) {
        8
    } else {
        RANDOM_LEN
    };
    if random.len() != random_want {
        return Err(KeyLogProblem::RandomLength {
            label,
            got: random.len(),
            want: random_want,
        });
    }
    let secret = unhex(secret_hex).ok_or(KeyLogProblem::SecretNotHex { label })?;
    let (ok, want) = match rule {
        LabelRule::Keep(SecretKind::MasterSecret) | LabelRule::DropRsa => {
            (secret.len() == MASTER_SECRET_LEN, "48")
        }
        // TLS 1.3 secrets are one hash long: SHA-256 or SHA-384 (RFC 8446 §7.1).
        LabelRule::Keep(_) | LabelRule::DropTls13 => (matches!(secret.len(), 32 | 48), "32 or 48"),
    };
    if !ok {
        return Err(KeyLogProblem::SecretLength {
            label,
            got: secret.len(),
            want,
        });
    }
    let LabelRule::Keep(kind) = rule else {
        return Ok(None);
    };
    let mut r = [0u8; RANDOM_LEN];
    r.copy_from_slice(&random);
    Ok(Some((kind, r, secret)))
}

impl KeyLog {
    /// An empty key log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses key log text; `origin` (a file name) only labels errors.
    pub fn parse(text: &str, origin: &str) -> Result<KeyLog, KeyLogError> {
        let mut log = KeyLog::default();
        // `lines` strips "\n" and "\r\n"; a lone trailing "\r" goes with `trim`.
        for (i, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some((kind, random, secret))) => {
                    // A later line for the same secret wins, as in Wireshark.
                    log.secrets.insert((kind, random), secret);
                }
                Ok(None) => {}
                Err(problem) => {
                    return Err(KeyLogError {
                        origin: origin.to_string(),
                        line: i + 1,
                        problem,
                    });
                }
            }
        }
        Ok(log)
    }

    /// Parses the payload of a pcapng Decryption Secrets Block of type TLS key
    /// log (0x544c534b): key log text, possibly zero-padded to 32 bits.
    pub fn from_dsb_bytes(data: &[u8], origin: &str) -> Result<KeyLog, KeyLogError> {
        let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let data = &data[..end];
        match std::str::from_utf8(data) {
            Ok(text) => Self::parse(text, origin),
            Err(e) => {
                // Name the line holding the first bad byte.
                let line = 1 + data[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                Err(KeyLogError {
                    origin: origin.to_string(),
                    line,
                    problem: KeyLogProblem::NotUtf8,
                })
            }
        }
    }

    /// Adds `other`'s secrets; where both have one, `other`'s wins.
    pub fn merge(&mut self, other: KeyLog) {
        self.secrets.extend(other.secrets);
    }

    /// No secret kept.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Secrets kept (one per label and client random).
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// The secret of `kind` for the handshake with `client_random`.
    pub fn get(&self, kind: SecretKind, client_random: &[u8; 32]) -> Option<&[u8]> {
        self.secrets.get(&(kind, *client_random)).map(Vec::as_slice)
    }

    /// The (D)TLS 1.2 master secret (`CLIENT_RANDOM` line) of a handshake.
    pub fn master_secret(&self, client_random: &[u8; 32]) -> Option<&[u8]> {
        self.get(SecretKind::MasterSecret, client_random)
    }

    /// The TLS 1.3 exporter master secret (`EXPORTER_SECRET` line) of a handshake.
    pub fn exporter_secret(&self, client_random: &[u8; 32]) -> Option<&[u8]> {
        self.get(SecretKind::ExporterSecret, client_random)
    }

    /// The server handshake traffic secret of a (D)TLS 1.3 handshake.
    pub fn server_handshake_secret(&self, client_random: &[u8; 32]) -> Option<&[u8]> {
        self.get(SecretKind::ServerHandshakeTrafficSecret, client_random)
    }

    /// The client handshake traffic secret of a (D)TLS 1.3 handshake.
    pub fn client_handshake_secret(&self, client_random: &[u8; 32]) -> Option<&[u8]> {
        self.get(SecretKind::ClientHandshakeTrafficSecret, client_random)
    }

    /// Adds one secret (tests and callers that get secrets some other way).
    pub fn insert(&mut self, kind: SecretKind, client_random: [u8; 32], secret: Vec<u8>) {
        self.secrets.insert((kind, client_random), secret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CR: &str = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
    fn ms_hex() -> String {
        (0u8..48).map(|b| format!("{b:02x}")).collect()
    }
    fn cr() -> [u8; 32] {
        std::array::from_fn(|i| 0x40 + i as u8)
    }

    #[test]
    fn good_lines_comments_crlf_and_ignored_labels() {
        let s32: String = "ab".repeat(32);
        let s48: String = "cd".repeat(48);
        let text = format!(
            "# SSL/TLS secrets log file, generated by NSS\r\n\
             \r\n\
             CLIENT_RANDOM {CR} {ms}\r\n\
             EXPORTER_SECRET {CR} {s32}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {CR} {s48}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR} {s32}\n\
             CLIENT_TRAFFIC_SECRET_0 {CR} {s32}\n\
             SERVER_TRAFFIC_SECRET_0 {CR} {s32}\n\
             EARLY_EXPORTER_SECRET {CR} {s32}\n\
             CLIENT_EARLY_TRAFFIC_SECRET {CR} {s32}\n\
             RSA 0011223344556677 {s48}\n\
             FUTURE_LABEL whatever goes here\n\
               # indented comment\n",
            ms = ms_hex()
        );
        let log = KeyLog::parse(&text, "keys.log").unwrap();
        assert_eq!(log.len(), 4);
        assert!(!log.is_empty());
        assert_eq!(
            log.master_secret(&cr()).unwrap(),
            (0u8..48).collect::<Vec<_>>()
        );
        assert_eq!(log.exporter_secret(&cr()).unwrap(), [0xab; 32]);
        assert_eq!(log.server_handshake_secret(&cr()).unwrap(), [0xcd; 48]);
        assert_eq!(log.client_handshake_secret(&cr()).unwrap(), [0xab; 32]);
        assert!(log.master_secret(&[0; 32]).is_none());
        // Debug shows a count, not the secrets.
        let dbg = format!("{log:?}");
        assert!(!dbg.contains("ab, ") && !dbg.contains("171") && dbg.contains("4"));
    }

    #[test]
    fn uppercase_hex_and_merge() {
        let a = KeyLog::parse(
            &format!("CLIENT_RANDOM {} {}", CR.to_uppercase(), ms_hex()),
            "a",
        )
        .unwrap();
        let mut b =
            KeyLog::parse(&format!("EXPORTER_SECRET {CR} {}", "11".repeat(48)), "b").unwrap();
        b.merge(a);
        assert_eq!(b.len(), 2);
        assert!(b.master_secret(&cr()).is_some());
        assert!(KeyLog::new().is_empty());
    }

    /// Every error names the origin and line and echoes no hex word of the input.
    #[test]
    fn errors_name_line_and_echo_nothing() {
        let ms = ms_hex();
        let cases: Vec<(String, KeyLogProblem)> = vec![
            (
                format!("CLIENT_RANDOM {CR}"),
                KeyLogProblem::MissingField {
                    label: "CLIENT_RANDOM",
                },
            ),
            (
                format!("CLIENT_RANDOM {CR} {ms} {ms}"),
                KeyLogProblem::ExtraField {
                    label: "CLIENT_RANDOM",
                },
            ),
            (
                format!("CLIENT_RANDOM {}zz {ms}", &CR[..62]),
                KeyLogProblem::RandomNotHex {
                    label: "CLIENT_RANDOM",
                },
            ),
            (
                format!("CLIENT_RANDOM {} {ms}", &CR[..60]),
                KeyLogProblem::RandomLength {
                    label: "CLIENT_RANDOM",
                    got: 30,
                    want: 32,
                },
            ),
            (
                format!("CLIENT_RANDOM {CR} {}x", &ms[..95]),
                KeyLogProblem::SecretNotHex {
                    label: "CLIENT_RANDOM",
                },
            ),
            (
                format!("CLIENT_RANDOM {CR} {}", &ms[..64]),
                KeyLogProblem::SecretLength {
                    label: "CLIENT_RANDOM",
                    got: 32,
                    want: "48",
                },
            ),
            (
                format!("EXPORTER_SECRET {CR} {}", "ab".repeat(40)),
                KeyLogProblem::SecretLength {
                    label: "EXPORTER_SECRET",
                    got: 40,
                    want: "32 or 48",
                },
            ),
            (
                format!("CLIENT_TRAFFIC_SECRET_0 {CR} {}", "ab".repeat(20)),
                KeyLogProblem::SecretLength {
                    label: "CLIENT_TRAFFIC_SECRET_0",
                    got: 20,
                    want: "32 or 48",
                },
            ),
        ];
        for (bad, problem) in cases {
            let text = format!(
                "# header\n\nCLIENT_RANDOM {CR} {ms}\r\n{bad}\r\nCLIENT_RANDOM {CR} {ms}\n"
            );
            let e = KeyLog::parse(&text, "keys.log").unwrap_err();
            assert_eq!(e.line, 4, "{bad}");
            assert_eq!(e.origin, "keys.log");
            assert_eq!(e.problem, problem);
            let msg = e.to_string();
            assert!(msg.starts_with("keys.log:4: "), "{msg}");
            for w in bad.split_whitespace().skip(1) {
                assert!(!msg.contains(w), "{msg} echoes {w}");
                // Nor a long piece of it.
                if w.len() >= 12 {
                    assert!(!msg.contains(&w[..12]), "{msg}");
                }
            }
        }
    }

    #[test]
    fn dsb_payload() {
        let mut data = format!("CLIENT_RANDOM {CR} {}\n", ms_hex()).into_bytes();
        data.extend([0, 0, 0]);
        let log = KeyLog::from_dsb_bytes(&data, "capture.pcapng DSB").unwrap();
        assert_eq!(log.len(), 1);
        let mut bad = b"# ok\nCLIENT_RANDOM \xff\xfe\n".to_vec();
        bad.push(b'x');
        let e = KeyLog::from_dsb_bytes(&bad, "dsb").unwrap_err();
        assert_eq!((e.line, e.problem), (2, KeyLogProblem::NotUtf8));
    }
}
