//! Capture readers: pcap, pcapng, rtptools rtpdump; gzip and stdin; several files merged by time.
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

pub mod pcap;
pub mod rtpdump;
pub mod source;

use crate::error::{CaptureError, Diagnostic};
use std::path::{Path, PathBuf};

enum Reader {
    Pcap(Box<pcap::PcapReader>),
    RtpDump(Box<rtpdump::RtpDumpReader>),
}

/// One opened capture file of any supported format.
pub struct CaptureFile {
    name: PathBuf,
    format: source::Format,
    gzip: bool,
    reader: Reader,
}

impl CaptureFile {
    /// Opens `path` (`-` for stdin) as input number `file`.
    pub fn open(path: &Path, file: FileId) -> Result<Self, CaptureError> {
        Self::from_opened(source::open(path)?, file)
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
        };
        Ok(CaptureFile {
            name: o.name,
            format: o.format,
            gzip: o.gzip,
            reader,
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

    /// True when the input was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Reads the next frame's bytes into `buf`; `None` at the end.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<Option<FrameMeta>, CaptureError> {
        match &mut self.reader {
            Reader::Pcap(r) => r.next_frame(buf),
            Reader::RtpDump(r) => r.next_frame(buf),
        }
    }

    /// Non-fatal problems seen so far (e.g. truncation), drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        match &mut self.reader {
            Reader::Pcap(r) => r.take_diagnostics(),
            Reader::RtpDump(r) => r.take_diagnostics(),
        }
    }
}

/// Several capture files read as one, merged in capture-time order.
///
/// Each file keeps its own order; across files the earliest next frame wins
/// (ties go to the file named first), so merging is stable and deterministic.
pub struct CaptureSet {
    files: Vec<CaptureFile>,
    heads: Vec<Option<(FrameMeta, Vec<u8>)>>,
    /// The file whose head was handed out last and must be refilled first.
    refill: Option<usize>,
    started: bool,
}

impl CaptureSet {
    /// Opens every path (`-` is stdin, at most once) in order.
    pub fn open(paths: &[PathBuf]) -> Result<Self, CaptureError> {
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
            .map(|(i, p)| CaptureFile::open(p, FileId(i as u16)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_files(files))
    }

    /// Merges already opened files; their `FileId`s must be their positions.
    pub fn from_files(files: Vec<CaptureFile>) -> Self {
        let heads = files.iter().map(|_| None).collect();
        CaptureSet {
            files,
            heads,
            refill: None,
            started: false,
        }
    }

    /// The opened files, in input order.
    pub fn files(&self) -> &[CaptureFile] {
        &self.files
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

    /// The next frame in time order across all files.
    pub fn next_frame(&mut self) -> Result<Option<CapturedFrame<'_>>, CaptureError> {
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
            .filter_map(|(i, h)| h.as_ref().map(|(m, _)| (m.time, i)))
            .min()
            .map(|(_, i)| i);
        let Some(i) = best else { return Ok(None) };
        self.refill = Some(i);
        let (meta, data) = self.heads[i]
            .as_ref()
            .expect("best is an index of a filled head");
        Ok(Some(CapturedFrame { meta: *meta, data }))
    }

    fn fill(&mut self, i: usize) -> Result<(), CaptureError> {
        let mut buf = match self.heads[i].take() {
            Some((_, buf)) => buf,
            None => Vec::new(),
        };
        self.heads[i] = self.files[i].next_frame(&mut buf)?.map(|m| (m, buf));
        Ok(())
    }
}
