//! Ogg page writer (RFC 3533): packets of one logical stream into pages.
//!
//! The `ogg` crate's `PacketWriter` computes each page's CRC a byte at a time
//! and writes a page in several small writes; on the benchmark capture that
//! was about 4% of `record`'s CPU time for 2% of its output. This writer makes
//! the same pages byte for byte (the tests compare the two) with a
//! slice-by-16 CRC from the `crc` crate and one buffer per page. Reading
//! stays with the `ogg` crate.
//!
//! Paging follows `PacketWriter`: a packet is laced into 255-byte segments
//! (a final shorter one, possibly empty, ends it: §6); a page ends when its
//! segment table is full (255 entries, the packet then continuing on the next
//! page, which gets the continued flag) or when the caller ends it. A page's
//! granule position is that of the last packet that ends on it, or -1 when
//! none does (§6, `granule_position`).

use crc::{Algorithm, Crc, Table};
use std::io::{self, Write};

/// The Ogg CRC (RFC 3533 §6, `CRC_checksum`): polynomial 0x04c11db7, MSB first,
/// initial value and final XOR zero.
const OGG_CRC: Algorithm<u32> = Algorithm {
    width: 32,
    poly: 0x04c1_1db7,
    init: 0,
    refin: false,
    refout: false,
    xorout: 0,
    check: 0x89a1_897f,
    residue: 0,
};

static CRC: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&OGG_CRC);

/// Header bytes before the segment table (§6).
const HEADER_LEN: usize = 27;
/// Offset of the CRC field in the header.
const CRC_AT: usize = 22;
/// Most segments a page holds.
const MAX_SEGMENTS: usize = 255;

/// How a packet ends its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageEnd {
    /// The page stays open for the next packet (unless full).
    Open,
    /// The page ends after this packet.
    EndPage,
    /// The page ends after this packet and is the stream's last (EOS).
    EndStream,
}

/// Writes the pages of one logical stream.
#[derive(Debug)]
pub struct OggPageWriter {
    serial: u32,
    sequence: u32,
    /// No page written yet: the next one gets BOS.
    first: bool,
    /// The open page begins with the rest of a packet from the page before.
    continued: bool,
    lacing: Vec<u8>,
    data: Vec<u8>,
    /// Granule position of the last packet that ends on the open page.
    granule: Option<u64>,
    /// The page as written: header, segment table, data.
    page: Vec<u8>,
}

impl OggPageWriter {
    /// A writer for the stream with this serial number.
    pub fn new(serial: u32) -> Self {
        OggPageWriter {
            serial,
            sequence: 0,
            first: true,
            continued: false,
            lacing: Vec::with_capacity(MAX_SEGMENTS),
            data: Vec::new(),
            granule: None,
            page: Vec::new(),
        }
    }

    /// Adds one packet whose end is at `granule`, writing each page it completes to `out`.
    pub fn write_packet(
        &mut self,
        out: &mut impl Write,
        packet: &[u8],
        end: PageEnd,
        granule: u64,
    ) -> io::Result<()> {
        let segments = packet.len() / 255 + 1;
        let mut rest = packet;
        let mut page_just_ended = false;
        for i in 0..segments {
            let last = i + 1 == segments;
            let take = if last { rest.len() } else { 255 };
            let (segment, tail) = rest.split_at(take);
            rest = tail;
            self.lacing.push(take as u8);
            self.data.extend_from_slice(segment);
            if last {
                self.granule = Some(granule);
            }
            page_just_ended = self.lacing.len() == MAX_SEGMENTS;
            if page_just_ended {
                // A full segment table ends the page; the packet goes on past it.
                let eos = last && end == PageEnd::EndStream;
                self.flush(out, eos, !last)?;
            }
        }
        if end != PageEnd::Open && !page_just_ended {
            self.flush(out, end == PageEnd::EndStream, false)?;
        }
        Ok(())
    }

    /// Writes the open page; `continues`: its last packet goes on to the next one.
    fn flush(&mut self, out: &mut impl Write, eos: bool, continues: bool) -> io::Result<()> {
        let flags = u8::from(self.continued) | u8::from(self.first) << 1 | u8::from(eos) << 2;
        let page = &mut self.page;
        page.clear();
        page.extend_from_slice(b"OggS\0");
        page.push(flags);
        page.extend_from_slice(&self.granule.unwrap_or(u64::MAX).to_le_bytes());
        page.extend_from_slice(&self.serial.to_le_bytes());
        page.extend_from_slice(&self.sequence.to_le_bytes());
        page.extend_from_slice(&[0; 4]);
        page.push(self.lacing.len() as u8);
        debug_assert_eq!(page.len(), HEADER_LEN);
        page.extend_from_slice(&self.lacing);
        page.extend_from_slice(&self.data);
        let crc = CRC.checksum(page);
        page[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        out.write_all(page)?;
        self.first = false;
        self.continued = continues;
        self.sequence = self.sequence.wrapping_add(1);
        self.lacing.clear();
        self.data.clear();
        self.granule = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::ogg::writing::{PacketWriteEndInfo, PacketWriter};
    use proptest::prelude::*;

    fn theirs(end: PageEnd) -> PacketWriteEndInfo {
        match end {
            PageEnd::Open => PacketWriteEndInfo::NormalPacket,
            PageEnd::EndPage => PacketWriteEndInfo::EndPage,
            PageEnd::EndStream => PacketWriteEndInfo::EndStream,
        }
    }

    /// The bytes both writers make of the same packets.
    fn both(packets: &[(Vec<u8>, PageEnd, u64)]) -> (Vec<u8>, Vec<u8>) {
        let mut ours = Vec::new();
        let mut w = OggPageWriter::new(0x1234_5678);
        let mut reference = PacketWriter::new(Vec::new());
        for (p, end, granule) in packets {
            w.write_packet(&mut ours, p, *end, *granule).unwrap();
            reference
                .write_packet(p.clone(), 0x1234_5678, theirs(*end), *granule)
                .unwrap();
        }
        (ours, reference.into_inner())
    }

    #[test]
    fn the_crc_is_ogg_s() {
        // The `ogg` crate's test vector, and the algorithm's check value.
        assert_eq!(CRC.checksum(b"==!"), 0x9f85_8776);
        assert_eq!(CRC.checksum(b"123456789"), 0x89a1_897f);
    }

    #[test]
    fn pages_at_the_segment_table_limit_match_the_ogg_crate() {
        let cases: Vec<Vec<(Vec<u8>, PageEnd, u64)>> = vec![
            // A packet of exactly 255 bytes ends with an empty segment.
            vec![(vec![7; 255], PageEnd::EndStream, 5)],
            // One packet over several pages: continued flags, granule -1 between.
            vec![(vec![1; 255 * 600 + 17], PageEnd::EndStream, 9)],
            // A page filled exactly by the last segment of a packet.
            vec![
                (vec![2; 254 * 255 - 1], PageEnd::Open, 1),
                (vec![3; 10], PageEnd::Open, 2),
                (vec![4; 10], PageEnd::EndStream, 3),
            ],
            // The stream ends exactly on a full page.
            vec![(vec![5; 254 * 255 + 3], PageEnd::EndStream, 4)],
            // Empty packets.
            vec![
                (Vec::new(), PageEnd::EndPage, 0),
                (Vec::new(), PageEnd::Open, 0),
                (Vec::new(), PageEnd::EndStream, 0),
            ],
        ];
        for packets in cases {
            let (ours, reference) = both(&packets);
            assert_eq!(ours, reference);
        }
    }

    proptest! {
        #[test]
        fn pages_match_the_ogg_crate(
            packets in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..1200), 0u8..6, 0u64..u64::MAX),
                1..40,
            ),
        ) {
            let n = packets.len();
            let packets: Vec<_> = packets
                .into_iter()
                .enumerate()
                .map(|(i, (p, e, g))| {
                    let end = if i + 1 == n {
                        PageEnd::EndStream
                    } else if e == 0 {
                        PageEnd::EndPage
                    } else {
                        PageEnd::Open
                    };
                    // Long packets too: they cross the 255-segment limit.
                    let p = if e == 5 { p.repeat(60) } else { p };
                    (p, end, g)
                })
                .collect();
            let (ours, reference) = both(&packets);
            prop_assert_eq!(ours, reference);
        }
    }
}
