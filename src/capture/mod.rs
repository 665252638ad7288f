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
