//! RED (RFC 2198): redundant audio blocks, as Chrome sends for Opus.
//!
//! A RED payload is a list of block headers then the blocks. Each header but
//! the last is 4 bytes: F=1 (1 bit), block PT (7), timestamp offset (14) and
//! block length (10); the last header is 1 byte, F=0 and PT, and its block
//! (the primary) takes the rest of the payload (RFC 2198 §3).

/// One block of a RED payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedBlock<'a> {
    /// Payload type of the block's data.
    pub pt: u8,
    /// How far before the RED packet's timestamp this block's data was (0 for the primary).
    pub ts_offset: u16,
    /// The block's data.
    pub data: &'a [u8],
}

/// Why a RED payload could not be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedError {
    /// The headers run past the payload.
    #[error("RED block headers truncated")]
    Truncated,
    /// The declared block lengths exceed the payload.
    #[error("RED block lengths exceed the payload")]
    Lengths,
}

/// Splits a RED payload into its blocks, oldest first, primary last.
pub fn split(payload: &[u8]) -> Result<Vec<RedBlock<'_>>, RedError> {
    let mut headers = Vec::new();
    let mut pos = 0;
    loop {
        let &first = payload.get(pos).ok_or(RedError::Truncated)?;
        if first & 0x80 == 0 {
            headers.push((first & 0x7f, 0u16, None));
            pos += 1;
            break;
        }
        let h = payload.get(pos..pos + 4).ok_or(RedError::Truncated)?;
        let ts_offset = (u16::from(h[1]) << 6) | u16::from(h[2] >> 2);
        let len = (usize::from(h[2] & 0x03) << 8) | usize::from(h[3]);
        headers.push((first & 0x7f, ts_offset, Some(len)));
        pos += 4;
    }
    let mut blocks = Vec::with_capacity(headers.len());
    for (pt, ts_offset, len) in headers {
        let len = len.unwrap_or(payload.len().saturating_sub(pos));
        let data = payload.get(pos..pos + len).ok_or(RedError::Lengths)?;
        pos += len;
        blocks.push(RedBlock {
            pt,
            ts_offset,
            data,
        });
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_redundant_and_primary_blocks() {
        // One redundant block (PT 111, offset 960, 3 bytes), then the primary (PT 111).
        let p = [
            0x80 | 111,
            (960u16 >> 6) as u8,
            ((960u16 & 0x3f) << 2) as u8,
            3,
            111,
            1,
            2,
            3,
            9,
            9,
        ];
        let b = split(&p).unwrap();
        assert_eq!(
            b,
            [
                RedBlock {
                    pt: 111,
                    ts_offset: 960,
                    data: &[1, 2, 3]
                },
                RedBlock {
                    pt: 111,
                    ts_offset: 0,
                    data: &[9, 9]
                }
            ]
        );
        assert_eq!(
            split(&[111]).unwrap(),
            [RedBlock {
                pt: 111,
                ts_offset: 0,
                data: &[]
            }]
        );
    }

    #[test]
    fn malformed_payloads_are_errors_at_every_truncation() {
        let p = [0x80 | 111, 15, 0, 3, 111, 1, 2, 3, 9];
        for cut in 0..5 {
            assert!(split(&p[..cut]).is_err(), "cut {cut}");
        }
        assert_eq!(
            split(&[0x80 | 111, 0, 0, 200, 111, 1]),
            Err(RedError::Lengths)
        );
    }
}
