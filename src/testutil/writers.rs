//! Capture file writers: pcap, pcapng, rtptools rtpdump and Chromium's RTP dump
//! log lines, plus gzip.
//!
//! Times are nanoseconds since the Unix epoch (the same unit as
//! [`crate::time::CaptureTime`]). Each writer reuses one scratch buffer, so
//! writing a packet does not allocate.

use std::io::{self, Write};
use std::net::Ipv4Addr;

/// Byte order of a pcap file or a pcapng section.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian (what x86 hosts write).
    #[default]
    Little,
    /// Big-endian.
    Big,
}

/// Appends integers in a chosen byte order.
#[derive(Clone, Copy, Debug)]
struct Out(Endian);

impl Out {
    fn u16(self, b: &mut Vec<u8>, v: u16) {
        b.extend_from_slice(&match self.0 {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        });
    }
    fn u32(self, b: &mut Vec<u8>, v: u32) {
        b.extend_from_slice(&match self.0 {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        });
    }
    fn u64(self, b: &mut Vec<u8>, v: u64) {
        b.extend_from_slice(&match self.0 {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        });
    }
}

/// Wraps `w` in a gzip encoder; call `finish()` on it (or on the writer's `into_inner()`) at the end.
pub fn gzip<W: Write>(w: W, level: u32) -> flate2::write::GzEncoder<W> {
    flate2::write::GzEncoder::new(w, flate2::Compression::new(level.min(9)))
}

/// Counts the bytes passed through to the inner writer (e.g. to stop at a file size).
#[derive(Debug)]
pub struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> CountingWriter<W> {
    /// Wraps `inner` with a zero count.
    pub fn new(inner: W) -> Self {
        CountingWriter { inner, count: 0 }
    }
    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Anything that stores link-layer frames with a capture time.
pub trait FrameSink {
    /// Writes one frame captured at `time_ns` (nanoseconds since the Unix epoch).
    fn write_frame(&mut self, time_ns: i64, frame: &[u8]) -> io::Result<()>;
}

/// Options of a classic pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapOptions {
    /// Nanosecond magic (0xa1b23c4d) instead of microsecond (0xa1b2c3d4).
    pub nanos: bool,
    /// Byte order of the header and records.
    pub endian: Endian,
    /// LINKTYPE_* number (1 = Ethernet).
    pub link_type: u32,
    /// Frames longer than this are truncated (orig_len keeps the real length).
    pub snaplen: u32,
}

impl Default for PcapOptions {
    fn default() -> Self {
        PcapOptions {
            nanos: false,
            endian: Endian::Little,
            link_type: 1,
            snaplen: 262_144,
        }
    }
}

/// Writes a classic libpcap file (global header, then one record per frame).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    opts: PcapOptions,
    buf: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header.
    pub fn new(mut w: W, opts: PcapOptions) -> io::Result<Self> {
        let o = Out(opts.endian);
        let mut b = Vec::with_capacity(24);
        o.u32(&mut b, if opts.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        o.u16(&mut b, 2);
        o.u16(&mut b, 4);
        o.u32(&mut b, 0); // thiszone
        o.u32(&mut b, 0); // sigfigs
        o.u32(&mut b, opts.snaplen);
        o.u32(&mut b, opts.link_type);
        w.write_all(&b)?;
        Ok(PcapWriter {
            w,
            opts,
            buf: Vec::with_capacity(2048),
        })
    }

    /// Writes one record; `data` is cut to the snaplen, the record keeps its full length.
    pub fn write_packet(&mut self, time_ns: i64, data: &[u8]) -> io::Result<()> {
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let cap = data.len().min(self.opts.snaplen as usize);
        self.write_record(time_ns, &data[..cap], orig_len)
    }

    /// Writes one record with an explicit original length (to fake truncation).
    pub fn write_record(&mut self, time_ns: i64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let o = Out(self.opts.endian);
        let secs = time_ns.div_euclid(1_000_000_000);
        let sub = time_ns.rem_euclid(1_000_000_000);
        let frac = if self.opts.nanos { sub } else { sub / 1000 };
        self.buf.clear();
        o.u32(&mut self.buf, secs as u32);
        o.u32(&mut self.buf, frac as u32);
        o.u32(&mut self.buf, data.len() as u32);
        o.u32(&mut self.buf, orig_len);
        self.w.write_all(&self.buf)?;
        self.w.write_all(data)
    }

    /// The options this file was written with.
    pub fn options(&self) -> PcapOptions {
        self.opts
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

impl<W: Write> FrameSink for PcapWriter<W> {
    fn write_frame(&mut self, time_ns: i64, frame: &[u8]) -> io::Result<()> {
        self.write_packet(time_ns, frame)
    }
}

/// One pcapng interface (Interface Description Block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceSpec {
    /// LINKTYPE_* number.
    pub link_type: u32,
    /// Snapshot length (0 = unlimited).
    pub snaplen: u32,
    /// `if_tsresol`: 6 = microseconds, 9 = nanoseconds; high bit set = power of two.
    pub tsresol: u8,
    /// `if_tsoffset` in seconds, added by readers to every timestamp.
    pub tsoffset: Option<i64>,
    /// `if_name`.
    pub name: Option<String>,
}

impl InterfaceSpec {
    /// An interface with the given link type and `if_tsresol`, no offset, no name.
    pub fn new(link_type: u32, tsresol: u8) -> Self {
        InterfaceSpec {
            link_type,
            snaplen: 0,
            tsresol,
            tsoffset: None,
            name: None,
        }
    }
}

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_EPB: u32 = 6;
const PCAPNG_DSB: u32 = 0x0A;
const OPT_COMMENT: u16 = 1;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// Writes pcapng: one or more sections, each with its own interfaces and byte order.
#[derive(Debug)]
pub struct PcapNgWriter<W: Write> {
    w: W,
    endian: Endian,
    interfaces: Vec<InterfaceSpec>,
    buf: Vec<u8>,
    in_section: bool,
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl<W: Write> PcapNgWriter<W> {
    /// A writer with no section yet; call [`PcapNgWriter::begin_section`] first.
    pub fn new(w: W) -> Self {
        PcapNgWriter {
            w,
            endian: Endian::Little,
            interfaces: Vec::new(),
            buf: Vec::new(),
            in_section: false,
        }
    }

    /// A writer with one section of the given byte order and one interface (id 0).
    pub fn with_interface(w: W, endian: Endian, iface: InterfaceSpec) -> io::Result<Self> {
        let mut me = PcapNgWriter::new(w);
        me.begin_section(endian, None)?;
        me.add_interface(iface)?;
        Ok(me)
    }

    fn option(&mut self, code: u16, value: &[u8]) {
        let o = Out(self.endian);
        o.u16(&mut self.buf, code);
        o.u16(&mut self.buf, value.len() as u16);
        self.buf.extend_from_slice(value);
        self.buf.resize(self.buf.len() + pad4(value.len()), 0);
    }

    fn end_options(&mut self) {
        self.buf.extend_from_slice(&[0, 0, 0, 0]);
    }

    /// Starts the block in `buf`: type and a placeholder for its length.
    fn begin_block(&mut self, block_type: u32) {
        self.buf.clear();
        Out(self.endian).u32(&mut self.buf, block_type);
        self.buf.extend_from_slice(&[0; 4]);
    }

    /// Patches the length, appends the trailing length and writes the block.
    fn end_block(&mut self) -> io::Result<()> {
        let total = (self.buf.len() + 4) as u32;
        let bytes = match self.endian {
            Endian::Little => total.to_le_bytes(),
            Endian::Big => total.to_be_bytes(),
        };
        self.buf[4..8].copy_from_slice(&bytes);
        self.buf.extend_from_slice(&bytes);
        self.w.write_all(&self.buf)
    }

    /// Starts a new section (Section Header Block); its interfaces start empty.
    pub fn begin_section(&mut self, endian: Endian, comment: Option<&str>) -> io::Result<()> {
        self.endian = endian;
        self.interfaces.clear();
        self.in_section = true;
        let o = Out(endian);
        self.begin_block(PCAPNG_SHB);
        o.u32(&mut self.buf, 0x1A2B_3C4D);
        o.u16(&mut self.buf, 1);
        o.u16(&mut self.buf, 0);
        o.u64(&mut self.buf, u64::MAX); // section length unknown
        if let Some(c) = comment {
            self.option(OPT_COMMENT, c.as_bytes());
            self.end_options();
        }
        self.end_block()
    }

    /// Declares an interface in the current section; returns its id (0, 1, ...).
    pub fn add_interface(&mut self, iface: InterfaceSpec) -> io::Result<u32> {
        if !self.in_section {
            self.begin_section(Endian::Little, None)?;
        }
        let o = Out(self.endian);
        self.begin_block(PCAPNG_IDB);
        o.u16(&mut self.buf, iface.link_type as u16);
        o.u16(&mut self.buf, 0);
        o.u32(&mut self.buf, iface.snaplen);
        if let Some(name) = &iface.name {
            self.option(OPT_IF_NAME, name.as_bytes());
        }
        if iface.tsresol != 6 {
            self.option(OPT_IF_TSRESOL, &[iface.tsresol]);
        }
        if let Some(off) = iface.tsoffset {
            let v = match self.endian {
                Endian::Little => off.to_le_bytes(),
                Endian::Big => off.to_be_bytes(),
            };
            self.option(OPT_IF_TSOFFSET, &v);
        }
        if iface.name.is_some() || iface.tsresol != 6 || iface.tsoffset.is_some() {
            self.end_options();
        }
        self.end_block()?;
        self.interfaces.push(iface);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// Timestamp units for `time_ns` on an interface (after subtracting its offset).
    fn units(iface: &InterfaceSpec, time_ns: i64) -> u64 {
        let ns = time_ns - iface.tsoffset.unwrap_or(0).saturating_mul(1_000_000_000);
        let ns = ns.max(0) as u128;
        let r = iface.tsresol;
        let units = if r & 0x80 != 0 {
            (ns << (r & 0x7f).min(63)) / 1_000_000_000
        } else if r <= 9 {
            ns / 10u128.pow(9 - u32::from(r))
        } else {
            ns * 10u128.pow(u32::from(r.min(19)) - 9)
        };
        units.min(u128::from(u64::MAX)) as u64
    }

    /// Writes an Enhanced Packet Block on interface `if_id`, with an optional comment.
    ///
    /// An unknown `if_id` is an `InvalidInput` error, not a panic.
    pub fn write_packet_with(
        &mut self,
        if_id: u32,
        time_ns: i64,
        data: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let Some(iface) = self.interfaces.get(if_id as usize) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pcapng interface {if_id} not declared"),
            ));
        };
        let units = Self::units(iface, time_ns);
        let cap = if iface.snaplen == 0 {
            data.len()
        } else {
            data.len().min(iface.snaplen as usize)
        };
        let o = Out(self.endian);
        self.begin_block(PCAPNG_EPB);
        o.u32(&mut self.buf, if_id);
        o.u32(&mut self.buf, (units >> 32) as u32);
        o.u32(&mut self.buf, units as u32);
        o.u32(&mut self.buf, cap as u32);
        o.u32(&mut self.buf, data.len() as u32);
        self.buf.extend_from_slice(&data[..cap]);
        self.buf.resize(self.buf.len() + pad4(cap), 0);
        if let Some(c) = comment {
            self.option(OPT_COMMENT, c.as_bytes());
            self.end_options();
        }
        self.end_block()
    }

    /// Writes a Decryption Secrets Block (pcapng §4.7) of `secrets_type`
    /// (0x544c534b: a TLS key log), as `editcap --inject-secrets` does.
    pub fn write_dsb(&mut self, secrets_type: u32, data: &[u8]) -> io::Result<()> {
        if !self.in_section {
            self.begin_section(Endian::Little, None)?;
        }
        let o = Out(self.endian);
        self.begin_block(PCAPNG_DSB);
        o.u32(&mut self.buf, secrets_type);
        o.u32(&mut self.buf, data.len() as u32);
        self.buf.extend_from_slice(data);
        self.buf.resize(self.buf.len() + pad4(data.len()), 0);
        self.end_block()
    }

    /// Writes an Enhanced Packet Block on interface `if_id`.
    pub fn write_packet(&mut self, if_id: u32, time_ns: i64, data: &[u8]) -> io::Result<()> {
        self.write_packet_with(if_id, time_ns, data, None)
    }

    /// Interfaces of the current section.
    pub fn interfaces(&self) -> &[InterfaceSpec] {
        &self.interfaces
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

impl<W: Write> FrameSink for PcapNgWriter<W> {
    /// Writes on interface 0.
    fn write_frame(&mut self, time_ns: i64, frame: &[u8]) -> io::Result<()> {
        self.write_packet(0, time_ns, frame)
    }
}

/// One line of Chromium's RTP dump, as WebRTC's `Text2Pcap::DumpPacket`
/// logs it (newline included): `O 00:00:SS.mmm 0000 80 6f ... # RTP_DUMP`.
///
/// `time_ms` is the wall clock in milliseconds; like WebRTC, only its
/// seconds within the minute and milliseconds are printed.
pub fn chrome_dump_line(outgoing: bool, time_ms: i64, pkt: &[u8]) -> String {
    use std::fmt::Write as _;
    let ms = time_ms.rem_euclid(60_000);
    let mut s = format!(
        "{} 00:00:{:02}.{:03} 0000",
        if outgoing { 'O' } else { 'I' },
        ms / 1000,
        ms % 1000
    );
    for b in pkt {
        let _ = write!(s, " {b:02x}");
    }
    s.push_str(" # RTP_DUMP\n");
    s
}

/// Writes rtptools' rtpdump format (`#!rtpplay1.0 ADDR/PORT`), all big-endian.
#[derive(Debug)]
pub struct RtpDumpWriter<W: Write> {
    w: W,
    start_ns: i64,
    buf: Vec<u8>,
}

impl<W: Write> RtpDumpWriter<W> {
    /// Writes the text line and the 16-byte file header; record offsets count from `start_ns`.
    pub fn new(mut w: W, addr: Ipv4Addr, port: u16, start_ns: i64) -> io::Result<Self> {
        writeln!(w, "#!rtpplay1.0 {addr}/{port}")?;
        let mut b = Vec::with_capacity(16);
        b.extend_from_slice(&(start_ns.div_euclid(1_000_000_000) as u32).to_be_bytes());
        b.extend_from_slice(&((start_ns.rem_euclid(1_000_000_000) / 1000) as u32).to_be_bytes());
        b.extend_from_slice(&u32::from(addr).to_be_bytes());
        b.extend_from_slice(&port.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        w.write_all(&b)?;
        Ok(RtpDumpWriter {
            w,
            start_ns,
            buf: Vec::with_capacity(2048),
        })
    }

    fn record(&mut self, time_ns: i64, pkt: &[u8], plen: u16) -> io::Result<()> {
        let len = u16::try_from(pkt.len() + 8).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "rtpdump record longer than 65535 bytes",
            )
        })?;
        let offset_ms = ((time_ns - self.start_ns).max(0) / 1_000_000) as u32;
        self.buf.clear();
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(&plen.to_be_bytes());
        self.buf.extend_from_slice(&offset_ms.to_be_bytes());
        self.buf.extend_from_slice(pkt);
        self.w.write_all(&self.buf)
    }

    /// Writes an RTP packet record (`plen` = packet length).
    pub fn write_rtp(&mut self, time_ns: i64, pkt: &[u8]) -> io::Result<()> {
        self.record(time_ns, pkt, pkt.len() as u16)
    }

    /// Writes an RTCP packet record (`plen` = 0).
    pub fn write_rtcp(&mut self, time_ns: i64, pkt: &[u8]) -> io::Result<()> {
        self.record(time_ns, pkt, 0)
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::traits::PcapReaderIterator;
    use pcap_parser::{Block, PcapBlockOwned, PcapError, PcapNGReader, create_reader};

    const T0: i64 = 1_795_428_000_123_456_789;

    /// (ts_sec, ts_frac, data) for every legacy record, plus the header's magic.
    type LegacyRecords = Vec<(u32, u32, Vec<u8>)>;

    fn read_legacy(bytes: &[u8]) -> (u32, u32, LegacyRecords) {
        let mut r = create_reader(1 << 16, bytes).expect("reader");
        let (mut magic, mut link, mut out) = (0, 0, Vec::new());
        loop {
            match r.next() {
                Ok((off, block)) => {
                    match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            magic = h.magic_number;
                            link = h.network.0 as u32;
                        }
                        PcapBlockOwned::Legacy(b) => {
                            out.push((b.ts_sec, b.ts_usec, b.data.to_vec()))
                        }
                        PcapBlockOwned::NG(_) => panic!("not pcapng"),
                    }
                    r.consume(off);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => r.refill().expect("refill"),
                Err(e) => panic!("{e:?}"),
            }
        }
        (magic, link, out)
    }

    #[test]
    fn pcap_round_trips_in_all_four_flavours() {
        for (nanos, endian) in [
            (false, Endian::Little),
            (true, Endian::Little),
            (false, Endian::Big),
            (true, Endian::Big),
        ] {
            let opts = PcapOptions {
                nanos,
                endian,
                link_type: 113,
                snaplen: 65535,
            };
            let mut w = PcapWriter::new(Vec::new(), opts).unwrap();
            w.write_packet(T0, b"first").unwrap();
            w.write_packet(T0 + 1_000, b"second!").unwrap();
            let bytes = w.into_inner().unwrap();
            let expect_magic: [u8; 4] = match (nanos, endian) {
                (false, Endian::Little) => [0xd4, 0xc3, 0xb2, 0xa1],
                (true, Endian::Little) => [0x4d, 0x3c, 0xb2, 0xa1],
                (false, Endian::Big) => [0xa1, 0xb2, 0xc3, 0xd4],
                (true, Endian::Big) => [0xa1, 0xb2, 0x3c, 0x4d],
            };
            assert_eq!(bytes[..4], expect_magic);
            let (_, link, recs) = read_legacy(&bytes);
            assert_eq!(link, 113);
            assert_eq!(recs.len(), 2);
            assert_eq!(recs[0].0, 1_795_428_000);
            let frac = if nanos { 123_456_789 } else { 123_456 };
            assert_eq!(recs[0].1, frac);
            assert_eq!(recs[1].1, if nanos { 123_457_789 } else { 123_457 });
            assert_eq!(recs[0].2, b"first");
            assert_eq!(recs[1].2, b"second!");
        }
    }

    #[test]
    fn pcap_snaplen_truncates_but_keeps_orig_len() {
        let opts = PcapOptions {
            snaplen: 4,
            ..PcapOptions::default()
        };
        let mut w = PcapWriter::new(Vec::new(), opts).unwrap();
        w.write_packet(T0, b"abcdefgh").unwrap();
        let bytes = w.into_inner().unwrap();
        assert_eq!(&bytes[24 + 8..24 + 16], &[4, 0, 0, 0, 8, 0, 0, 0]);
        assert_eq!(&bytes[24 + 16..], b"abcd");
    }

    /// (section index, if_id, link, resolution, seconds as f64, data, has comment).
    type NgRec = (usize, u32, u16, u64, f64, Vec<u8>);

    fn read_ng(bytes: &[u8]) -> Vec<NgRec> {
        let mut r = PcapNGReader::new(1 << 16, bytes).expect("reader");
        let mut section = 0usize;
        let mut ifaces: Vec<(u16, u64, i64)> = Vec::new();
        let mut out = Vec::new();
        loop {
            match r.next() {
                Ok((off, block)) => {
                    match block {
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                            section += 1;
                            ifaces.clear();
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            ifaces.push((
                                idb.linktype.0 as u16,
                                idb.ts_resolution().expect("resol"),
                                idb.ts_offset(),
                            ));
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let (link, res, off) = ifaces[epb.if_id as usize];
                            let secs = epb.decode_ts_f64(off as u64, res);
                            out.push((
                                section,
                                epb.if_id,
                                link,
                                res,
                                secs,
                                epb.data[..epb.caplen as usize].to_vec(),
                            ));
                        }
                        _ => {}
                    }
                    r.consume(off);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => r.refill().expect("refill"),
                Err(e) => panic!("{e:?}"),
            }
        }
        out
    }

    #[test]
    fn pcapng_sections_interfaces_resolutions_round_trip() {
        let mut w = PcapNgWriter::new(Vec::new());
        w.begin_section(Endian::Little, Some("first section"))
            .unwrap();
        assert_eq!(w.add_interface(InterfaceSpec::new(1, 6)).unwrap(), 0);
        let mut ns = InterfaceSpec::new(276, 9);
        ns.name = Some("any".into());
        assert_eq!(w.add_interface(ns).unwrap(), 1);
        w.write_packet_with(0, T0, b"eth-us", Some("hello"))
            .unwrap();
        w.write_packet(1, T0, b"sll2-ns").unwrap();
        // pcap-parser 0.17 reads if_tsoffset as little-endian even in big-endian
        // sections, so the offset interface sits in the little-endian section here.
        let mut off = InterfaceSpec::new(101, 9);
        off.tsoffset = Some(1_795_428_000);
        assert_eq!(w.add_interface(off).unwrap(), 2);
        w.write_packet(2, T0 + 5, b"raw-le-offset").unwrap();
        w.begin_section(Endian::Big, None).unwrap();
        w.add_interface(InterfaceSpec::new(101, 9)).unwrap();
        w.write_packet(0, T0, b"raw-be").unwrap();
        assert!(w.write_packet(3, T0, b"x").is_err());
        let bytes = w.into_inner().unwrap();
        let recs = read_ng(&bytes);
        assert_eq!(recs.len(), 4);
        assert_eq!(
            (recs[0].0, recs[0].1, recs[0].2, recs[0].3),
            (1, 0, 1, 1_000_000)
        );
        assert_eq!(
            (recs[1].0, recs[1].1, recs[1].2, recs[1].3),
            (1, 1, 276, 1_000_000_000)
        );
        assert_eq!((recs[2].0, recs[2].1, recs[2].2), (1, 2, 101));
        assert_eq!((recs[3].0, recs[3].1, recs[3].2), (2, 0, 101));
        assert_eq!(recs[0].5, b"eth-us");
        assert_eq!(recs[2].5, b"raw-le-offset");
        assert_eq!(recs[3].5, b"raw-be");
        for r in &recs {
            assert!((r.4 - 1_795_428_000.123_456).abs() < 1e-5, "{r:?}");
        }
        // The offset interface stores only the part after the offset: 0.123456794 s in ns.
        let pos = bytes
            .windows(13)
            .position(|x| x == b"raw-le-offset")
            .unwrap();
        let hi = u32::from_le_bytes(bytes[pos - 16..pos - 12].try_into().unwrap());
        let lo = u32::from_le_bytes(bytes[pos - 12..pos - 8].try_into().unwrap());
        assert_eq!((u64::from(hi) << 32) | u64::from(lo), 123_456_794);
        // The big-endian section's packet: timestamp in ns, big-endian.
        let pos = bytes.windows(6).position(|x| x == b"raw-be").unwrap();
        let hi = u32::from_be_bytes(bytes[pos - 16..pos - 12].try_into().unwrap());
        let lo = u32::from_be_bytes(bytes[pos - 12..pos - 8].try_into().unwrap());
        assert_eq!((i64::from(hi) << 32) | i64::from(lo), T0);
    }

    #[test]
    fn rtpdump_layout_byte_by_byte() {
        let start = 1_000 * 1_000_000_000 + 250_000_000;
        let mut w =
            RtpDumpWriter::new(Vec::new(), Ipv4Addr::new(10, 0, 0, 1), 5004, start).unwrap();
        w.write_rtp(start + 20_500_000, &[0x80, 0, 0, 1]).unwrap();
        w.write_rtcp(start + 1_000_000_000, &[0x81, 200, 0, 0])
            .unwrap();
        let b = w.into_inner().unwrap();
        let line = b"#!rtpplay1.0 10.0.0.1/5004\n";
        assert_eq!(&b[..line.len()], line);
        let h = &b[line.len()..];
        assert_eq!(
            &h[..16],
            &[
                0, 0, 3, 232, 0, 3, 0xd0, 0x90, 10, 0, 0, 1, 0x13, 0x8c, 0, 0
            ]
        );
        assert_eq!(&h[16..28], &[0, 12, 0, 4, 0, 0, 0, 20, 0x80, 0, 0, 1]);
        assert_eq!(&h[28..40], &[0, 12, 0, 0, 0, 0, 3, 232, 0x81, 200, 0, 0]);
        assert_eq!(h.len(), 40);
    }

    #[test]
    fn gzip_wraps_any_writer() {
        let gz = gzip(Vec::new(), 6);
        let mut w = PcapWriter::new(gz, PcapOptions::default()).unwrap();
        w.write_packet(T0, b"zipped").unwrap();
        let compressed = w.into_inner().unwrap().finish().unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&compressed[..]),
            &mut plain,
        )
        .unwrap();
        let (_, _, recs) = read_legacy(&plain);
        assert_eq!(recs[0].2, b"zipped");
    }
}
