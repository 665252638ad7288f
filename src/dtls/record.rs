//! DTLS records in one datagram: the DTLS 1.0/1.2 header (RFC 6347 §4.1) and
//! the DTLS 1.3 unified header of encrypted records (RFC 9147 §4). A datagram
//! may carry several records; parsing stops at the first that does not fit.

/// Handshake content type (RFC 5246 §6.2.1).
pub const CONTENT_HANDSHAKE: u8 = 22;

/// One record of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A record with the full 13-byte header (plaintext in epoch 0, or DTLS 1.2
    /// ciphertext in later epochs).
    Full {
        /// Content type.
        content_type: u8,
        /// Record layer version.
        version: u16,
        /// Epoch.
        epoch: u16,
        /// 48-bit record sequence number.
        seq: u64,
        /// Fragment.
        body: &'a [u8],
    },
    /// A DTLS 1.3 ciphertext record with the unified header.
    Unified(UnifiedRecord<'a>),
}

/// A DTLS 1.3 record with the unified header (RFC 9147 §4), still protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnifiedRecord<'a> {
    /// The header bytes as on the wire (sequence number still encrypted): the AAD
    /// once the sequence bytes are decrypted.
    pub header: &'a [u8],
    /// Offset of the sequence number in `header` (1: no connection id is parsed).
    pub seq_offset: usize,
    /// 1 or 2 sequence number bytes.
    pub seq_len: usize,
    /// The low two bits of the epoch.
    pub epoch_bits: u8,
    /// Encrypted record: ciphertext and tag.
    pub body: &'a [u8],
}

/// Full DTLS 1.0/1.2 header length.
const FULL_HEADER: usize = 13;

/// Iterates over the records of a datagram; ends at the end or at the first
/// record that is truncated or that cannot be parsed (a connection id, whose
/// length the header does not carry).
pub fn records(datagram: &[u8]) -> Records<'_> {
    Records { rest: datagram }
}

/// Iterator returned by [`records`].
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let d = self.rest;
        let first = *d.first()?;
        let (record, used) = if first & 0xe0 == 0x20 {
            parse_unified(d)?
        } else {
            parse_full(d)?
        };
        self.rest = d.get(used..).unwrap_or_default();
        Some(record)
    }
}

/// A record with the 13-byte header: type(1) version(2) epoch(2) seq(6) length(2).
fn parse_full(d: &[u8]) -> Option<(Record<'_>, usize)> {
    let h = d.get(..FULL_HEADER)?;
    let len = usize::from(u16::from_be_bytes([h[11], h[12]]));
    let body = d.get(FULL_HEADER..FULL_HEADER + len)?;
    let mut seq = [0u8; 8];
    seq[2..].copy_from_slice(&h[5..11]);
    Some((
        Record::Full {
            content_type: h[0],
            version: u16::from_be_bytes([h[1], h[2]]),
            epoch: u16::from_be_bytes([h[3], h[4]]),
            seq: u64::from_be_bytes(seq),
            body,
        },
        FULL_HEADER + len,
    ))
}

/// A unified header record: 0b001CSLEE, [CID], seq (1 or 2 bytes), [length (2)].
fn parse_unified(d: &[u8]) -> Option<(Record<'_>, usize)> {
    let first = d[0];
    if first & 0x10 != 0 {
        // Connection id: its length was negotiated, not carried (RFC 9147 §4);
        // WebRTC does not negotiate one, so the datagram is left alone.
        return None;
    }
    let seq_len = if first & 0x08 != 0 { 2 } else { 1 };
    let has_len = first & 0x04 != 0;
    let header_len = 1 + seq_len + if has_len { 2 } else { 0 };
    let header = d.get(..header_len)?;
    let body_len = if has_len {
        usize::from(u16::from_be_bytes([
            header[header_len - 2],
            header[header_len - 1],
        ]))
    } else {
        // Without a length the record runs to the end of the datagram.
        d.len() - header_len
    };
    let body = d.get(header_len..header_len + body_len)?;
    Some((
        Record::Unified(UnifiedRecord {
            header,
            seq_offset: 1,
            seq_len,
            epoch_bits: first & 0x03,
            body,
        }),
        header_len + body_len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_records_and_truncation() {
        let mut d = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 7, 0, 2, 0xaa, 0xbb];
        // Unified: S=1 L=1 epoch 2, 3 bytes.
        d.extend([0x2e, 0x12, 0x34, 0, 3, 1, 2, 3]);
        // Unified without length: rest of datagram.
        d.extend([0x22, 0x05, 9, 9, 9, 9]);
        let r: Vec<_> = records(&d).collect();
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0],
            Record::Full {
                content_type: 22,
                version: 0xfefd,
                epoch: 0,
                seq: 7,
                body: &[0xaa, 0xbb]
            }
        );
        let Record::Unified(u) = r[1] else { panic!() };
        assert_eq!((u.seq_len, u.epoch_bits, u.body), (2, 2, &[1u8, 2, 3][..]));
        assert_eq!(u.header, &[0x2e, 0x12, 0x34, 0, 3]);
        let Record::Unified(u) = r[2] else { panic!() };
        assert_eq!((u.seq_len, u.body.len()), (1, 4));
        // Truncated body: nothing.
        assert_eq!(records(&d[..14]).count(), 0);
        // Connection id: stop.
        assert_eq!(records(&[0x3e, 1, 2, 3, 4, 5]).count(), 0);
    }
}
