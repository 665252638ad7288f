//! RTP (RFC 3550 §5.1, RFC 8285 header extensions) and RTCP (RFC 3550 §6) packet builders.

/// Header extension form (RFC 8285 §4.2 one-byte, §4.3 two-byte).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExtForm {
    /// Profile 0xBEDE: ids 1..=14, 1..=16 bytes each.
    #[default]
    OneByte,
    /// Profile 0x1000: ids 1..=255, 0..=255 bytes each.
    TwoByte,
}

/// Builds RTP packets; reuse one builder to avoid allocating per packet.
#[derive(Clone, Debug, Default)]
pub struct RtpBuilder {
    /// Payload type (7 bits).
    pub pt: u8,
    /// Sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub ts: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Marker bit.
    pub marker: bool,
    /// Contributing sources (at most 15 are written).
    pub csrcs: Vec<u32>,
    /// Extension form used when extensions are present.
    pub ext_form: ExtForm,
    /// Padding bytes to add (0 = none); the last byte holds the count.
    pub padding: u8,
    ext_items: Vec<(u8, usize)>,
    ext_data: Vec<u8>,
}

impl RtpBuilder {
    /// A builder for payload type `pt` with the given seq, timestamp and SSRC.
    pub fn new(pt: u8, seq: u16, ts: u32, ssrc: u32) -> Self {
        RtpBuilder {
            pt,
            seq,
            ts,
            ssrc,
            ..RtpBuilder::default()
        }
    }

    /// Sets the marker bit.
    pub fn marker(mut self, m: bool) -> Self {
        self.marker = m;
        self
    }

    /// Adds a CSRC.
    pub fn csrc(mut self, csrc: u32) -> Self {
        self.csrcs.push(csrc);
        self
    }

    /// Chooses the extension form.
    pub fn ext_form(mut self, form: ExtForm) -> Self {
        self.ext_form = form;
        self
    }

    /// Adds a header extension element (kept in insertion order).
    pub fn ext(mut self, id: u8, data: &[u8]) -> Self {
        self.push_ext(id, data);
        self
    }

    /// Sets `n` bytes of padding.
    pub fn padding(mut self, n: u8) -> Self {
        self.padding = n;
        self
    }

    /// Adds a header extension element to a reused builder.
    pub fn push_ext(&mut self, id: u8, data: &[u8]) {
        self.ext_items.push((id, data.len()));
        self.ext_data.extend_from_slice(data);
    }

    /// Removes all header extension elements (keeps capacity).
    pub fn clear_ext(&mut self) {
        self.ext_items.clear();
        self.ext_data.clear();
    }

    /// Length of the header (fixed, CSRCs, extensions) that [`RtpBuilder::write`] produces.
    pub fn header_len(&self) -> usize {
        12 + 4 * self.csrcs.len().min(15) + self.ext_block_len()
    }

    fn ext_block_len(&self) -> usize {
        if self.ext_items.is_empty() {
            return 0;
        }
        let body: usize = match self.ext_form {
            ExtForm::OneByte => self
                .ext_items
                .iter()
                .map(|&(_, len)| 1 + len.clamp(1, 16))
                .sum(),
            ExtForm::TwoByte => self
                .ext_items
                .iter()
                .map(|&(_, len)| 2 + len.min(255))
                .sum(),
        };
        4 + body.div_ceil(4) * 4
    }

    /// Appends the header only (for packetizers that write the payload in place).
    ///
    /// One-byte elements longer than 16 bytes are cut to 16 and ids are masked
    /// to 4 bits; pick [`ExtForm::TwoByte`] for anything larger.
    pub fn write_header(&self, out: &mut Vec<u8>) {
        let ncsrc = self.csrcs.len().min(15);
        let x = !self.ext_items.is_empty();
        out.push(
            0x80 | if self.padding > 0 { 0x20 } else { 0 } | if x { 0x10 } else { 0 } | ncsrc as u8,
        );
        out.push(if self.marker { 0x80 } else { 0 } | (self.pt & 0x7f));
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ts.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &self.csrcs[..ncsrc] {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if x {
            let profile: u16 = match self.ext_form {
                ExtForm::OneByte => 0xBEDE,
                ExtForm::TwoByte => 0x1000,
            };
            let words = (self.ext_block_len() - 4) / 4;
            out.extend_from_slice(&profile.to_be_bytes());
            out.extend_from_slice(&(words as u16).to_be_bytes());
            let start = out.len();
            let mut pos = 0;
            for &(id, len) in &self.ext_items {
                let data = &self.ext_data[pos..pos + len];
                pos += len;
                match self.ext_form {
                    ExtForm::OneByte => {
                        let data = &data[..len.clamp(1, 16).min(data.len())];
                        let l = data.len().max(1);
                        out.push(((id & 0x0f) << 4) | (l as u8 - 1));
                        out.extend_from_slice(data);
                        if data.is_empty() {
                            out.push(0);
                        }
                    }
                    ExtForm::TwoByte => {
                        out.push(id);
                        out.push(len.min(255) as u8);
                        out.extend_from_slice(&data[..len.min(255)]);
                    }
                }
            }
            let written = out.len() - start;
            out.resize(start + words * 4, 0);
            debug_assert!(written <= words * 4);
        }
    }

    /// Appends the whole packet: header, payload, padding.
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) {
        self.write_header(out);
        out.extend_from_slice(payload);
        self.write_padding(out);
    }

    /// Appends the padding (if any) after a payload written by hand.
    pub fn write_padding(&self, out: &mut Vec<u8>) {
        if self.padding > 0 {
            out.resize(out.len() + usize::from(self.padding) - 1, 0);
            out.push(self.padding);
        }
    }

    /// The whole packet as a new vector.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut v =
            Vec::with_capacity(self.header_len() + payload.len() + usize::from(self.padding));
        self.write(payload, &mut v);
        v
    }
}

/// One RTCP reception report block (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// Source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub ext_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP time.
    pub lsr: u32,
    /// Delay since the last SR, in 1/65536 s.
    pub dlsr: u32,
}

fn push_report(out: &mut Vec<u8>, r: &ReportBlock) {
    out.extend_from_slice(&r.ssrc.to_be_bytes());
    let lost = (r.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0x00ff_ffff;
    out.extend_from_slice(&((u32::from(r.fraction_lost) << 24) | lost).to_be_bytes());
    out.extend_from_slice(&r.ext_highest_seq.to_be_bytes());
    out.extend_from_slice(&r.jitter.to_be_bytes());
    out.extend_from_slice(&r.lsr.to_be_bytes());
    out.extend_from_slice(&r.dlsr.to_be_bytes());
}

/// Writes the 4-byte RTCP common header length field for the packet starting at `start`.
fn patch_len(out: &mut [u8], start: usize) {
    let words = ((out.len() - start) / 4 - 1) as u16;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// A Unix time in nanoseconds as a 64-bit NTP timestamp (32.32 fixed point).
pub fn ntp_from_unix_nanos(nanos: i64) -> u64 {
    let secs = nanos.div_euclid(1_000_000_000) as u64 + NTP_UNIX_OFFSET_SECS;
    let frac = ((nanos.rem_euclid(1_000_000_000) as u128) << 32) / 1_000_000_000;
    (secs << 32) | frac as u64
}

/// Appends an RTCP Sender Report (PT 200).
pub fn push_sender_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    ntp: u64,
    rtp_ts: u32,
    packets: u32,
    octets: u32,
    reports: &[ReportBlock],
) {
    let start = out.len();
    let n = reports.len().min(31);
    out.extend_from_slice(&[0x80 | n as u8, 200, 0, 0]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&ntp.to_be_bytes());
    out.extend_from_slice(&rtp_ts.to_be_bytes());
    out.extend_from_slice(&packets.to_be_bytes());
    out.extend_from_slice(&octets.to_be_bytes());
    for r in &reports[..n] {
        push_report(out, r);
    }
    patch_len(out, start);
}

/// Appends an RTCP Receiver Report (PT 201).
pub fn push_receiver_report(out: &mut Vec<u8>, ssrc: u32, reports: &[ReportBlock]) {
    let start = out.len();
    let n = reports.len().min(31);
    out.extend_from_slice(&[0x80 | n as u8, 201, 0, 0]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    for r in &reports[..n] {
        push_report(out, r);
    }
    patch_len(out, start);
}

/// Appends an RTCP SDES (PT 202) with one chunk holding a CNAME item.
pub fn push_sdes_cname(out: &mut Vec<u8>, ssrc: u32, cname: &str) {
    let start = out.len();
    out.extend_from_slice(&[0x81, 202, 0, 0]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    let name = &cname.as_bytes()[..cname.len().min(255)];
    out.push(1); // CNAME
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    // End item (a zero byte), then pad to a 32-bit boundary (§6.5).
    out.push(0);
    while (out.len() - start) & 3 != 0 {
        out.push(0);
    }
    patch_len(out, start);
}

/// Appends an RTCP BYE (PT 203) for `ssrcs` with an optional reason.
pub fn push_bye(out: &mut Vec<u8>, ssrcs: &[u32], reason: Option<&str>) {
    let start = out.len();
    let n = ssrcs.len().min(31);
    out.extend_from_slice(&[0x80 | n as u8, 203, 0, 0]);
    for s in &ssrcs[..n] {
        out.extend_from_slice(&s.to_be_bytes());
    }
    if let Some(r) = reason {
        let r = &r.as_bytes()[..r.len().min(255)];
        out.push(r.len() as u8);
        out.extend_from_slice(r);
        while (out.len() - start) & 3 != 0 {
            out.push(0);
        }
    }
    patch_len(out, start);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_header() {
        let p = RtpBuilder::new(111, 0x1234, 0xdeadbeef, 0x01020304)
            .marker(true)
            .build(b"pp");
        assert_eq!(
            p,
            [
                0x80,
                0x80 | 111,
                0x12,
                0x34,
                0xde,
                0xad,
                0xbe,
                0xef,
                1,
                2,
                3,
                4,
                b'p',
                b'p'
            ]
        );
        let parsed = rtp_rs::RtpReader::new(&p).unwrap();
        assert_eq!(parsed.sequence_number(), rtp_rs::Seq::from(0x1234));
        assert!(parsed.mark());
    }

    #[test]
    fn one_byte_extensions_csrcs_and_padding() {
        let b = RtpBuilder::new(96, 1, 2, 3)
            .csrc(0xaabbccdd)
            .ext(1, &[0x7f])
            .ext(3, &[1, 2])
            .padding(4);
        let p = b.build(b"xyz");
        assert_eq!(p[0], 0x80 | 0x20 | 0x10 | 1);
        assert_eq!(&p[16..20], &[0xBE, 0xDE, 0, 2]);
        assert_eq!(&p[20..28], &[0x10, 0x7f, 0x31, 1, 2, 0, 0, 0]);
        assert_eq!(b.header_len(), 28);
        assert_eq!(&p[28..31], b"xyz");
        assert_eq!(&p[31..], &[0, 0, 0, 4]);
        let r = rtp_rs::RtpReader::new(&p).unwrap();
        assert_eq!(r.payload(), b"xyz");
        assert_eq!(r.csrc_count(), 1);
    }

    #[test]
    fn two_byte_extensions() {
        let p = RtpBuilder::new(96, 1, 2, 3)
            .ext_form(ExtForm::TwoByte)
            .ext(200, &[0; 20])
            .ext(5, &[])
            .build(b"");
        assert_eq!(&p[12..16], &[0x10, 0x00, 0, 6]);
        assert_eq!(&p[16..18], &[200, 20]);
        assert_eq!(&p[38..40], &[5, 0]);
        assert_eq!(p.len(), 16 + 24);
    }

    #[test]
    fn rtcp_lengths_are_in_words_minus_one() {
        let mut b = Vec::new();
        push_sender_report(
            &mut b,
            1,
            ntp_from_unix_nanos(0),
            0,
            10,
            1000,
            &[ReportBlock {
                ssrc: 2,
                ..Default::default()
            }],
        );
        assert_eq!(b.len(), 52);
        assert_eq!(&b[..4], &[0x81, 200, 0, 12]);
        assert_eq!(&b[8..12], &(NTP_UNIX_OFFSET_SECS as u32).to_be_bytes());
        let sr = b.len();
        push_sdes_cname(&mut b, 1, "abc");
        assert_eq!((b.len() - sr) % 4, 0);
        assert_eq!(
            u16::from_be_bytes([b[sr + 2], b[sr + 3]]) as usize,
            (b.len() - sr) / 4 - 1
        );
        let rr = b.len();
        push_receiver_report(&mut b, 1, &[]);
        assert_eq!(&b[rr..], &[0x80, 201, 0, 1, 0, 0, 0, 1]);
        let bye = b.len();
        push_bye(&mut b, &[7], Some("done"));
        assert_eq!(&b[bye..bye + 4], &[0x81, 203, 0, 3]);
        assert_eq!(b.len() - bye, 16);
    }

    #[test]
    fn ntp_fraction_of_half_second() {
        assert_eq!(ntp_from_unix_nanos(500_000_000) & 0xffff_ffff, 0x8000_0000);
    }
}
