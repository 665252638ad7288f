//! What H.264 (RFC 6184) and H.265 (RFC 7798) share: aggregation units (STAP-A,
//! AP), fragmentation unit headers (FU-A, FU), emulation prevention and the
//! 4-byte length-prefixed NAL units MP4 stores (ISO/IEC 14496-15).

/// An aggregation unit's size is 0 (or under a NAL header) or runs past the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("aggregation unit size too small or past the end of the packet")]
pub struct AggregationError;

/// The NAL units of an aggregation packet after its payload header: STAP-A (RFC 6184
/// §5.7.1) or AP without DONL fields (RFC 7798 §4.4.2), each a 16-bit size and the unit.
///
/// A unit shorter than `min_len` (its NAL header) or past the end is an error, after
/// which the iterator ends.
#[derive(Clone, Debug)]
pub struct AggregationUnits<'a> {
    rest: &'a [u8],
    min_len: usize,
}

/// Iterates the units of an aggregation packet; `min_len` is the NAL header length.
pub fn aggregation_units(rest: &[u8], min_len: usize) -> AggregationUnits<'_> {
    AggregationUnits { rest, min_len }
}

impl<'a> Iterator for AggregationUnits<'a> {
    type Item = Result<&'a [u8], AggregationError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let unit = match self.rest {
            [a, b, tail @ ..] => {
                let n = usize::from(u16::from_be_bytes([*a, *b]));
                (n >= self.min_len.max(1) && n <= tail.len()).then(|| tail.split_at(n))
            }
            _ => None,
        };
        match unit {
            Some((nal, tail)) => {
                self.rest = tail;
                Some(Ok(nal))
            }
            None => {
                self.rest = &[];
                Some(Err(AggregationError))
            }
        }
    }
}

/// A fragmentation unit header: FU-A `|S|E|R| Type |` (RFC 6184 §5.8) or H.265 FU
/// `|S|E| FuType |` (RFC 7798 §4.4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuHeader {
    /// S: the first fragment of the NAL unit.
    pub start: bool,
    /// E: the last fragment of the NAL unit.
    pub end: bool,
    /// R (H.264 only): "MUST be equal to 0 and MUST be ignored by the receiver" (RFC 6184 §5.8).
    pub reserved: bool,
    /// The fragmented NAL unit's type.
    pub nal_type: u8,
}

impl FuHeader {
    /// Reads an H.264 FU-A header byte.
    pub fn h264(b: u8) -> Self {
        FuHeader {
            start: b & 0x80 != 0,
            end: b & 0x40 != 0,
            reserved: b & 0x20 != 0,
            nal_type: b & 0x1f,
        }
    }

    /// Reads an H.265 FU header byte.
    pub fn h265(b: u8) -> Self {
        FuHeader {
            start: b & 0x80 != 0,
            end: b & 0x40 != 0,
            reserved: false,
            nal_type: b & 0x3f,
        }
    }
}

/// Splits 4-byte length-prefixed NAL units; `None` unless they exactly fill `data`.
pub fn split_length_prefixed(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (len, rest) = data.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if len == 0 || len > rest.len() {
            return None;
        }
        let (nal, rest) = rest.split_at(len);
        out.push(nal);
        data = rest;
    }
    Some(out)
}

/// Width and height saturated to u16, as `Frame::dimensions` holds them.
pub(crate) fn saturated_size(width: u32, height: u32) -> (u16, u16) {
    let s = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    (s(width), s(height))
}

/// NAL unit payload without emulation prevention bytes (H.264 §7.4.1, H.265 §7.4.2):
/// `00 00 03` becomes `00 00`.
pub(crate) fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 3]), [0, 0, 1, 0, 0, 0, 3]);
        assert_eq!(
            split_length_prefixed(&[0, 0, 0, 1, 9, 0, 0, 0, 2, 1, 2]),
            Some(vec![&[9][..], &[1, 2][..]])
        );
        assert_eq!(split_length_prefixed(&[0, 0, 0, 3, 9]), None);
        assert_eq!(split_length_prefixed(&[0, 0, 0, 0]), None);
        assert_eq!(split_length_prefixed(&[0, 0, 1]), None);
    }

    #[test]
    fn aggregation_units_split_and_stop_at_the_first_bad_size() {
        fn units(p: &[u8], min: usize) -> Vec<Result<&[u8], AggregationError>> {
            aggregation_units(p, min).collect()
        }
        assert_eq!(
            units(&[0, 1, 9, 0, 2, 7, 8], 1),
            [Ok(&[9][..]), Ok(&[7, 8][..])]
        );
        assert_eq!(units(&[], 1), []);
        assert_eq!(units(&[0, 0, 0, 1, 9], 1), [Err(AggregationError)]);
        assert_eq!(
            units(&[0, 1, 9, 0, 3, 1], 1),
            [Ok(&[9][..]), Err(AggregationError)]
        );
        assert_eq!(units(&[0, 1, 9], 2), [Err(AggregationError)]);
        assert_eq!(units(&[0], 1), [Err(AggregationError)]);
    }

    #[test]
    fn fu_headers() {
        assert_eq!(
            FuHeader::h264(0xa5),
            FuHeader {
                start: true,
                end: false,
                reserved: true,
                nal_type: 5
            }
        );
        assert_eq!(
            FuHeader::h265(0x53),
            FuHeader {
                start: false,
                end: true,
                reserved: false,
                nal_type: 19
            }
        );
    }
}
