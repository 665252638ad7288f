//! Capture readers: pcap, pcapng, rtptools rtpdump, Chromium's RTP dump log; gzip and stdin;
//! several files merged by time.
//!
//! Every reader is one sequential pass with a bounded buffer: memory does not
//! grow with the capture's size. Formats are detected by magic bytes, never by
//! file name (`rtpproxy_dups.a.rtp` is a pcap).

use crate::error::FileId;
use crate::time::CaptureTime;
use std::net::SocketAddr;

/// A pcap/pcapng link-layer type (LINKTYPE_* numbers from tcpdump.org).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback / null (4-byte host-order address family).
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II (with optional 802.1Q / QinQ tags).
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (v4 or v6, told apart by the version nibble).
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback (4-byte network-order address family).
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (SLL).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2 (SLL2), what `tcpdump -i any` writes.
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// Some systems write raw IP as DLT 12 or 14.
    pub const RAW_ALT12: LinkType = LinkType(12);
    /// Some systems write raw IP as DLT 12 or 14.
    pub const RAW_ALT14: LinkType = LinkType(14);
}

/// What a captured frame's bytes start with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// A link-layer frame of the given type (pcap, pcapng).
    Pcap(LinkType),
    /// A bare RTP or RTCP packet from an rtpdump file, received on `dst`.
    RtpDump {
        /// The address/port from the `#!rtpplay1.0 addr/port` line.
        dst: SocketAddr,
        /// True when the record is RTCP (rtpdump `plen` 0).
        rtcp: bool,
    },
    /// A bare RTP or RTCP packet from a Chromium RTP dump, on a made-up flow
    /// per direction (see [`chromedump::LOCAL`]).
    ChromeDump {
        /// The sender.
        src: SocketAddr,
        /// The receiver.
        dst: SocketAddr,
    },
}

/// Where a capture's packet times come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeSource {
    /// The capture's own timestamps (pcap, pcapng, rtpdump): absolute times.
    #[default]
    Captured,
    /// A browser's RTP dump: times of day in milliseconds without a date,
    /// placed after the Unix epoch (see [`chromedump`]).
    BrowserDump,
}

/// The kind of a pcapng Decryption Secrets Block (pcapng §4.7, secrets types §10.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretsKind {
    /// `0x544c534b` ("TLSK"): a TLS key log in NSS key log format (what
    /// `editcap --inject-secrets tls,KEYLOG` writes).
    TlsKeyLog,
    /// Any other secrets type, by number (WireGuard, ZigBee, ...).
    Other(u32),
}

impl SecretsKind {
    /// The pcapng secrets type number of a TLS key log.
    pub const TLS_KEY_LOG: u32 = 0x544c_534b;

    /// The kind of a pcapng secrets type number.
    pub fn from_type(secrets_type: u32) -> Self {
        if secrets_type == Self::TLS_KEY_LOG {
            SecretsKind::TlsKeyLog
        } else {
            SecretsKind::Other(secrets_type)
        }
    }
}

/// Decryption secrets read from a capture, in capture order with its frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secrets {
    /// Which input file.
    pub file: FileId,
    /// Byte offset of the block in the (decompressed) file.
    pub offset: u64,
    /// What the bytes are.
    pub kind: SecretsKind,
    /// The secrets, without the block's padding.
    pub data: Vec<u8>,
}

/// What [`CaptureSet::next_item`] hands out.
#[derive(Debug)]
pub enum CaptureItem<'a> {
    /// A captured frame.
    Frame(CapturedFrame<'a>),
    /// Decryption secrets, before the frames that follow them in their file.
    Secrets(Secrets),
}

/// Everything about a captured frame except its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameMeta {
    /// Which input file.
    pub file: FileId,
    /// 1-based record number within that file (counting packet records only).
    pub index: u64,
    /// Byte offset of the record in the (decompressed) file.
    pub offset: u64,
    /// Capture time.
    pub time: CaptureTime,
    /// Link layer of `data`.
    pub link: Link,
    /// Length on the wire; larger than the data when the capture was truncated (snaplen).
    pub orig_len: u32,
}

impl FrameMeta {
    /// The packet context used in diagnostics.
    pub fn ctx(&self) -> crate::error::PacketCtx {
        crate::error::PacketCtx {
            file: self.file,
            frame: self.index,
            offset: self.offset,
            time: self.time,
            rtp: None,
        }
    }
}

/// One captured frame, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct CapturedFrame<'a> {
    /// Where and when.
    pub meta: FrameMeta,
    /// The captured bytes (possibly truncated by snaplen).
    pub data: &'a [u8],
}

pub mod chromedump;
pub mod pcap;
pub mod rtpdump;
pub mod source;

use crate::error::{CaptureError, Diagnostic};
use std::path::{Path, PathBuf};

enum Reader {
    Pcap(Box<pcap::PcapReader>),
    RtpDump(Box<rtpdump::RtpDumpReader>),
    ChromeDump(Box<chromedump::ChromeDumpReader>),
}

/// One opened capture file of any supported format.
pub struct CaptureFile {
    name: PathBuf,
    format: source::Format,
    gzip: bool,
    regular_file: bool,
    reader: Reader,
    /// The current frame's bytes, for readers that build frames (rtpdump,
    /// browser dumps); a pcap reader's stay in its read buffer.
    frame: Vec<u8>,
}

impl CaptureFile {
    /// Opens `path` (`-` for stdin) as input number `file`.
    pub fn open(path: &Path, file: FileId) -> Result<Self, CaptureError> {
        Self::from_opened(source::open(path)?, file)
    }

    /// [`CaptureFile::open`] with a hook run before reads that may block (pipes).
    pub fn open_with(
        path: &Path,
        file: FileId,
        before_read: Option<source::BeforeRead>,
    ) -> Result<Self, CaptureError> {
        Self::from_opened(source::open_with(path, before_read)?, file)
    }

    /// Wraps an already sniffed stream.
    pub fn from_opened(o: source::Opened, file: FileId) -> Result<Self, CaptureError> {
        let reader = match o.format {
            source::Format::Pcap | source::Format::PcapNg => {
                Reader::Pcap(Box::new(pcap::PcapReader::new(
                    o.name.clone(),
                    file,
                    o.reader,
                    o.format == source::Format::PcapNg,
                )?))
            }
            source::Format::RtpDump => Reader::RtpDump(Box::new(rtpdump::RtpDumpReader::new(
                o.name.clone(),
                file,
                o.reader,
            )?)),
            source::Format::ChromeDump => Reader::ChromeDump(Box::new(
                chromedump::ChromeDumpReader::new(o.name.clone(), file, o.reader),
            )),
        };
        Ok(CaptureFile {
            name: o.name,
            format: o.format,
            gzip: o.gzip,
            regular_file: o.regular_file,
            reader,
            frame: Vec::new(),
        })
    }

    /// Display name of the input.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// Detected format.
    pub fn format(&self) -> source::Format {
        self.format
    }

    /// Where the frames' times come from.
    pub fn time_source(&self) -> TimeSource {
        match self.format {
            source::Format::ChromeDump => TimeSource::BrowserDump,
            source::Format::Pcap | source::Format::PcapNg | source::Format::RtpDump => {
                TimeSource::Captured
            }
        }
    }

    /// True when the input was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// False for pipes and other inputs whose reads wait for data to arrive.
    pub fn is_regular_file(&self) -> bool {
        self.regular_file
    }

    /// Reads the next frame's bytes into `buf`; `None` at the end.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<Option<FrameMeta>, CaptureError> {
        let meta = self.advance()?;
        buf.clear();
        buf.extend_from_slice(self.current_data());
        Ok(meta)
    }

    /// Reads on to the next frame; `None` at the end. Its bytes are
    /// [`CaptureFile::current_data`] until the next call: a pcap or pcapng
    /// record is not copied out of the buffer it was read into.
    pub fn advance(&mut self) -> Result<Option<FrameMeta>, CaptureError> {
        match &mut self.reader {
            Reader::Pcap(r) => r.advance(),
            Reader::RtpDump(r) => r.next_frame(&mut self.frame),
            Reader::ChromeDump(r) => r.next_frame(&mut self.frame),
        }
    }

    /// The bytes of the frame the last [`CaptureFile::advance`] returned.
    pub fn current_data(&self) -> &[u8] {
        match &self.reader {
            Reader::Pcap(r) => r.current_data(),
            Reader::RtpDump(_) | Reader::ChromeDump(_) => &self.frame,
        }
    }

    /// Decryption secrets read so far, in file order, drained: those read by a
    /// [`CaptureFile::next_frame`] call come before the frame it returned.
    pub fn take_secrets(&mut self) -> Vec<Secrets> {
        match &mut self.reader {
            Reader::Pcap(r) => r.take_secrets(),
            Reader::RtpDump(_) | Reader::ChromeDump(_) => Vec::new(),
        }
    }

    /// Non-fatal problems seen so far (e.g. truncation), drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        match &mut self.reader {
            Reader::Pcap(r) => r.take_diagnostics(),
            Reader::RtpDump(r) => r.take_diagnostics(),
            Reader::ChromeDump(r) => r.take_diagnostics(),
        }
    }
}

/// Several capture files read as one, merged in capture-time order.
///
/// Each file keeps its own order; across files the earliest next frame wins
/// (ties go to the file named first), so merging is stable and deterministic.
pub struct CaptureSet {
    files: Vec<CaptureFile>,
    /// Per file, its next frame (its bytes are the file's `current_data`).
    heads: Vec<Option<FrameMeta>>,
    /// Per file, secrets read before its head frame (or its end), not yet handed out.
    secrets: Vec<std::collections::VecDeque<Secrets>>,
    /// The file whose head was handed out last and must be refilled first.
    refill: Option<usize>,
    started: bool,
}

impl CaptureSet {
    /// Opens every path (`-` is stdin, at most once) in order.
    pub fn open(paths: &[PathBuf]) -> Result<Self, CaptureError> {
        Self::open_with(paths, None)
    }

    /// [`CaptureSet::open`] with a hook run before reads that may block (pipes).
    pub fn open_with(
        paths: &[PathBuf],
        before_read: Option<source::BeforeRead>,
    ) -> Result<Self, CaptureError> {
        if paths.len() > usize::from(u16::MAX) {
            return Err(CaptureError::Malformed {
                path: PathBuf::from("<inputs>"),
                record: 0,
                offset: 0,
                message: "too many input files".into(),
            });
        }
        let files = paths
            .iter()
            .enumerate()
            .map(|(i, p)| CaptureFile::open_with(p, FileId(i as u16), before_read.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_files(files))
    }

    /// Merges already opened files; their `FileId`s must be their positions.
    pub fn from_files(files: Vec<CaptureFile>) -> Self {
        let heads = files.iter().map(|_| None).collect();
        let secrets = files.iter().map(|_| Default::default()).collect();
        CaptureSet {
            files,
            heads,
            secrets,
            refill: None,
            started: false,
        }
    }

    /// The opened files, in input order.
    pub fn files(&self) -> &[CaptureFile] {
        &self.files
    }

    /// [`TimeSource::BrowserDump`] when any input is a browser dump (its times
    /// then lack a date), else [`TimeSource::Captured`].
    pub fn time_source(&self) -> TimeSource {
        if self
            .files
            .iter()
            .any(|f| f.time_source() == TimeSource::BrowserDump)
        {
            TimeSource::BrowserDump
        } else {
            TimeSource::Captured
        }
    }

    /// Display names of the inputs, indexed by `FileId`.
    pub fn names(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|f| f.name.display().to_string())
            .collect()
    }

    /// Diagnostics from every file, drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        self.files
            .iter_mut()
            .flat_map(|f| f.take_diagnostics())
            .collect()
    }

    /// The next frame in time order across all files (decryption secrets are dropped).
    pub fn next_frame(&mut self) -> Result<Option<CapturedFrame<'_>>, CaptureError> {
        loop {
            match self.next_index()? {
                None => return Ok(None),
                Some((i, false)) => return Ok(Some(self.head(i))),
                Some((i, true)) => {
                    self.secrets[i].pop_front();
                }
            }
        }
    }

    /// The next frame in time order across all files, or decryption secrets:
    /// a file's secrets come right before the frame that followed them in the
    /// file (secrets after a file's last frame come once every frame is out).
    pub fn next_item(&mut self) -> Result<Option<CaptureItem<'_>>, CaptureError> {
        match self.next_index()? {
            None => Ok(None),
            Some((i, false)) => Ok(Some(CaptureItem::Frame(self.head(i)))),
            Some((i, true)) => Ok(self.secrets[i].pop_front().map(CaptureItem::Secrets)),
        }
    }

    fn head(&self, i: usize) -> CapturedFrame<'_> {
        let meta = self.heads[i].expect("next_index returns filled heads");
        CapturedFrame {
            meta,
            data: self.files[i].current_data(),
        }
    }

    /// The file whose head goes next, and whether its pending secrets go first.
    fn next_index(&mut self) -> Result<Option<(usize, bool)>, CaptureError> {
        if !self.started {
            self.started = true;
            for i in 0..self.files.len() {
                self.fill(i)?;
            }
        } else if let Some(i) = self.refill.take() {
            self.fill(i)?;
        }
        let best = self
            .heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|m| (m.time, i)))
            .min()
            .map(|(_, i)| i);
        let Some(i) = best else {
            // Every frame is out: what is left is secrets after files' last frames.
            return Ok(self
                .secrets
                .iter()
                .position(|s| !s.is_empty())
                .map(|i| (i, true)));
        };
        if !self.secrets[i].is_empty() {
            return Ok(Some((i, true)));
        }
        self.refill = Some(i);
        Ok(Some((i, false)))
    }

    fn fill(&mut self, i: usize) -> Result<(), CaptureError> {
        self.heads[i] = None;
        let next = self.files[i].advance();
        // Secrets read before an error still go out before it.
        self.secrets[i].extend(self.files[i].take_secrets());
        self.heads[i] = next?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::writers::{Endian, InterfaceSpec, PcapNgWriter, PcapOptions, PcapWriter};
    use std::io::Cursor;

    fn open_bytes(bytes: Vec<u8>, id: u16) -> CaptureFile {
        let o =
            source::sniff(format!("f{id}").into(), Box::new(Cursor::new(bytes))).expect("sniffs");
        CaptureFile::from_opened(o, FileId(id)).expect("opens")
    }

    fn read_all(f: &mut CaptureFile) -> Vec<(FrameMeta, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(m) = f.next_frame(&mut buf).expect("reads") {
            out.push((m, buf.clone()));
        }
        out
    }

    #[test]
    fn pcap_in_every_resolution_and_byte_order() {
        // (nanosecond magic, byte order, time read back for 1_700_000_000.123456789 s)
        let t = 1_700_000_000_123_456_789;
        for (nanos, endian, expect) in [
            (false, Endian::Little, 1_700_000_000_123_456_000),
            (false, Endian::Big, 1_700_000_000_123_456_000),
            (true, Endian::Little, t),
            (true, Endian::Big, t),
        ] {
            let opts = PcapOptions {
                nanos,
                endian,
                link_type: 113,
                snaplen: 65_535,
            };
            let mut w = PcapWriter::new(Vec::new(), opts).unwrap();
            w.write_packet(t, b"first").unwrap();
            w.write_packet(t + 1_000_000, b"second!").unwrap();
            let frames = read_all(&mut open_bytes(w.into_inner().unwrap(), 0));
            assert_eq!(frames.len(), 2, "{nanos} {endian:?}");
            assert_eq!(frames[0].0.time.as_nanos(), expect, "{nanos} {endian:?}");
            assert_eq!(frames[0].0.link, Link::Pcap(LinkType::LINUX_SLL));
            assert_eq!((frames[0].0.index, frames[0].0.offset), (1, 24));
            assert_eq!((frames[1].0.index, frames[1].0.offset), (2, 24 + 16 + 5));
            assert_eq!(frames[1].1, b"second!");
        }
    }

    #[test]
    fn pcapng_sections_have_their_own_interfaces_resolutions_and_offsets() {
        let mut w = PcapNgWriter::new(Vec::new());
        w.begin_section(Endian::Little, None).unwrap();
        let eth = w.add_interface(InterfaceSpec::new(1, 6)).unwrap();
        let raw = w.add_interface(InterfaceSpec::new(101, 9)).unwrap();
        w.write_packet(eth, 5_000_123_456, b"a").unwrap();
        w.write_packet(raw, 5_000_123_457, b"b").unwrap();
        w.begin_section(Endian::Big, None).unwrap();
        let mut sll2 = InterfaceSpec::new(276, 3);
        sll2.tsoffset = Some(100);
        let sll2 = w.add_interface(sll2).unwrap();
        w.write_packet(sll2, 107_250_000_000, b"c").unwrap();
        let frames = read_all(&mut open_bytes(w.into_inner().unwrap(), 0));
        let got: Vec<(i64, Link, &[u8])> = frames
            .iter()
            .map(|(m, d)| (m.time.as_nanos(), m.link, d.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                (5_000_123_000, Link::Pcap(LinkType::ETHERNET), &b"a"[..]),
                (5_000_123_457, Link::Pcap(LinkType::RAW), &b"b"[..]),
                (107_250_000_000, Link::Pcap(LinkType::LINUX_SLL2), &b"c"[..]),
            ]
        );
        assert_eq!(
            frames.iter().map(|f| f.0.index).collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }

    #[test]
    fn files_merge_in_time_order_with_ties_to_the_first_file() {
        let file = |times: &[i64]| {
            let mut w = PcapWriter::new(
                Vec::new(),
                PcapOptions {
                    nanos: true,
                    ..PcapOptions::default()
                },
            )
            .unwrap();
            for &t in times {
                w.write_packet(t, &t.to_be_bytes()).unwrap();
            }
            w.into_inner().unwrap()
        };
        let mut set = CaptureSet::from_files(vec![
            open_bytes(file(&[10, 30, 30, 50]), 0),
            open_bytes(file(&[20, 30, 40]), 1),
        ]);
        let mut order = Vec::new();
        while let Some(f) = set.next_frame().unwrap() {
            order.push((f.meta.time.as_nanos(), f.meta.file.0, f.meta.index));
        }
        assert_eq!(
            order,
            [
                (10, 0, 1),
                (20, 1, 1),
                (30, 0, 2),
                (30, 0, 3),
                (30, 1, 2),
                (40, 1, 3),
                (50, 0, 4)
            ]
        );
    }

    #[test]
    fn truncation_at_every_byte_never_panics_and_keeps_whole_records() {
        let mut w = PcapNgWriter::new(Vec::new());
        w.begin_section(Endian::Little, None).unwrap();
        let i = w.add_interface(InterfaceSpec::new(1, 6)).unwrap();
        for n in 0..4u8 {
            w.write_packet(i, i64::from(n) * 1000, &[n; 40]).unwrap();
        }
        let full = w.into_inner().unwrap();
        for cut in 1..full.len() {
            let Ok(o) = source::sniff("cut".into(), Box::new(Cursor::new(full[..cut].to_vec())))
            else {
                continue;
            };
            let Ok(mut f) = CaptureFile::from_opened(o, FileId(0)) else {
                continue;
            };
            let mut buf = Vec::new();
            let mut n = 0;
            while let Ok(Some(_)) = f.next_frame(&mut buf) {
                assert_eq!(buf.len(), 40, "cut at {cut}");
                n += 1;
            }
            assert!(n <= 4);
        }
    }
}

#[cfg(test)]
mod secrets_tests {
    use super::*;
    use crate::testutil::writers::{Endian, InterfaceSpec, PcapNgWriter};
    use std::io::Cursor;

    fn open_bytes(bytes: Vec<u8>, id: u16) -> CaptureFile {
        let o =
            source::sniff(format!("f{id}").into(), Box::new(Cursor::new(bytes))).expect("sniffs");
        CaptureFile::from_opened(o, FileId(id)).expect("opens")
    }

    /// A pcapng with a DSB holding `tag` before each packet time in `times`.
    fn file(tag: &str, times: &[i64]) -> Vec<u8> {
        let mut w = PcapNgWriter::new(Vec::new());
        w.begin_section(Endian::Big, None).unwrap();
        let i = w.add_interface(InterfaceSpec::new(101, 9)).unwrap();
        for &t in times {
            w.write_dsb(SecretsKind::TLS_KEY_LOG, format!("{tag}{t}").as_bytes())
                .unwrap();
            w.write_packet(i, t, &t.to_be_bytes()).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn merged_files_hand_out_each_files_secrets_right_before_its_next_frame() {
        let mut set = CaptureSet::from_files(vec![
            open_bytes(file("a", &[10, 30]), 0),
            open_bytes(file("b", &[20]), 1),
        ]);
        let mut order = Vec::new();
        while let Some(item) = set.next_item().unwrap() {
            order.push(match item {
                CaptureItem::Frame(f) => format!("{}:{}", f.meta.file.0, f.meta.time.as_nanos()),
                CaptureItem::Secrets(s) => {
                    assert_eq!(s.kind, SecretsKind::TlsKeyLog);
                    format!("{}:{}", s.file.0, String::from_utf8_lossy(&s.data))
                }
            });
        }
        assert_eq!(order, ["0:a10", "0:10", "1:b20", "1:20", "0:a30", "0:30"]);
        // next_frame skips them.
        let mut set = CaptureSet::from_files(vec![open_bytes(file("a", &[10, 30]), 0)]);
        let mut n = 0;
        while set.next_frame().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn a_secrets_length_beyond_the_block_is_no_panic_and_no_secrets() {
        let mut w = PcapNgWriter::new(Vec::new());
        w.begin_section(Endian::Little, None).unwrap();
        w.write_dsb(SecretsKind::TLS_KEY_LOG, b"abcd").unwrap();
        let mut b = w.into_inner().unwrap();
        // The DSB follows the 28-byte SHB; its secrets length is at +12.
        b[28 + 12..28 + 16].copy_from_slice(&1000u32.to_le_bytes());
        let mut f = open_bytes(b, 0);
        // pcap-parser reads past the block for the claimed length: a cut file.
        assert!(matches!(f.next_frame(&mut Vec::new()), Ok(None) | Err(_)));
        assert!(f.take_secrets().is_empty());
    }
}

#[cfg(test)]
mod time_source_tests {
    use super::*;
    use crate::testutil::writers::{PcapOptions, PcapWriter};
    use std::io::Cursor;

    fn open_bytes(bytes: Vec<u8>, id: u16) -> CaptureFile {
        let o =
            source::sniff(format!("f{id}").into(), Box::new(Cursor::new(bytes))).expect("sniffs");
        CaptureFile::from_opened(o, FileId(id)).expect("opens")
    }

    #[test]
    fn a_browser_dump_among_the_inputs_makes_the_set_a_browser_dump() {
        let log = b"noise\nO 00:00:01.000 0000 80 6f 00 01 # RTP_DUMP\n".to_vec();
        let pcap = PcapWriter::new(Vec::new(), PcapOptions::default())
            .unwrap()
            .into_inner()
            .unwrap();
        let dump = open_bytes(log.clone(), 0);
        assert_eq!(dump.format(), source::Format::ChromeDump);
        assert_eq!(dump.time_source(), TimeSource::BrowserDump);
        let set = CaptureSet::from_files(vec![open_bytes(pcap.clone(), 0)]);
        assert_eq!(set.time_source(), TimeSource::Captured);
        let set = CaptureSet::from_files(vec![open_bytes(pcap, 0), open_bytes(log, 1)]);
        assert_eq!(set.time_source(), TimeSource::BrowserDump);
    }
}
