//! Link -> IP -> UDP/TCP -> datagrams; unwraps RFC 4571 TCP framing and TURN.
//!
//! Link layers: Ethernet II (802.1Q/QinQ tags), Linux SLL/SLL2, raw IP, BSD
//! NULL/LOOP (`link.rs`). IPv4/IPv6 with extension headers and bounded fragment
//! reassembly (RFC 791, RFC 8200; `ip.rs`). UDP payloads are emitted as they
//! are, after unwrapping TURN ChannelData and Send/Data indications (RFC 8656;
//! [`turn`]). TCP streams are reassembled per direction and split into TURN
//! messages or RFC 4571 frames (`tcp.rs`); other TCP traffic is ignored.
//!
//! Tolerates: wrong checksums (never verified, offloading makes them wrong in
//! captures), Ethernet trailers, snaplen-truncated frames (counted, never
//! emitted partially), fragments out of order or duplicated, TCP captures that
//! start mid-connection, lost or retransmitted TCP segments. Never panics on
//! input; all state is bounded by [`NetConfig`]. Time is capture time only.
//!
//! The plain UDP path does not allocate: the emitted payload borrows from the
//! frame. Reassembled datagrams borrow from internal buffers.

mod ip;
mod link;
mod tcp;
pub mod turn;

#[cfg(test)]
mod tests;

use crate::capture::{CapturedFrame, FrameMeta, Link};
use crate::error::Diagnostic;
use etherparse::err::Layer;
use etherparse::err::packet::SliceError;
use etherparse::{EtherType, Ipv6ExtensionSlice, LaxIpSlice, LaxNetSlice, LaxSlicedPacket};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Transport protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP (RFC 4571 framing or TURN over TCP).
    Tcp,
}

/// A directed transport flow: the 5-tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Flow {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
}

impl Flow {
    /// The same 5-tuple the other way.
    pub fn reversed(self) -> Flow {
        Flow {
            src: self.dst,
            dst: self.src,
            transport: self.transport,
        }
    }
}

/// How the datagram was carried inside its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encap {
    /// Directly in a UDP datagram (or an rtpdump record), or a whole STUN message on TCP.
    Plain,
    /// In a TURN ChannelData message (RFC 8656 §12) with this channel number.
    TurnChannel(u16),
    /// In a TURN Send or Data indication (RFC 8656 §10, §11).
    TurnIndication,
    /// In RFC 4571 framing on TCP.
    Rfc4571,
}

/// A datagram ready for RTP/RTCP classification.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// The frame that completed this datagram.
    pub meta: FrameMeta,
    /// The outer flow (for TURN: the client <-> server flow, as tshark reports it).
    pub flow: Flow,
    /// How it was carried.
    pub encap: Encap,
    /// The datagram's bytes.
    pub payload: &'a [u8],
}

impl<'a> Datagram<'a> {
    /// A plain UDP datagram `src` -> `dst` captured at `time` (unit tests of later stages).
    #[cfg(test)]
    pub(crate) fn for_test(
        payload: &'a [u8],
        src: &str,
        dst: &str,
        time: crate::time::CaptureTime,
    ) -> Datagram<'a> {
        Datagram {
            meta: FrameMeta {
                file: crate::error::FileId(0),
                index: 1,
                offset: 0,
                time,
                link: crate::capture::Link::Pcap(crate::capture::LinkType::RAW),
                orig_len: 0,
            },
            flow: Flow {
                src: src.parse().expect("test address"),
                dst: dst.parse().expect("test address"),
                transport: Transport::Udp,
            },
            encap: Encap::Plain,
            payload,
        }
    }
}

/// Counters of what the network layer saw and skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetStats {
    /// Frames pushed.
    pub frames: u64,
    /// Datagrams emitted.
    pub datagrams: u64,
    /// Frames carrying something other than IP (ARP, LLC, ...).
    pub non_ip: u64,
    /// Frames of a link type this decoder does not know.
    pub unsupported_link: u64,
    /// Frames cut short by the capture's snaplen where it mattered (never emitted partially).
    pub truncated: u64,
    /// Malformed IP, UDP or TCP headers.
    pub ip_errors: u64,
    /// IP packets of other protocols (ICMP, SCTP, ESP, ...).
    pub other_ip_protocols: u64,
    /// UDP datagrams seen (whole ones).
    pub udp_datagrams: u64,
    /// IP fragments seen.
    pub fragments: u64,
    /// Fragment sets reassembled.
    pub fragments_reassembled: u64,
    /// Fragment sets dropped incomplete (too old, or too many in flight).
    pub fragments_evicted: u64,
    /// Fragments that conflicted with their set (the set was dropped).
    pub fragments_invalid: u64,
    /// Datagrams taken out of TURN ChannelData or Send/Data indications.
    pub turn_unwrapped: u64,
    /// UDP payloads whose first byte says ChannelData (RFC 7983: 64..=79) but whose
    /// length does not fit, often SIP text; emitted as they are.
    pub turn_invalid: u64,
    /// TCP segments seen.
    pub tcp_segments: u64,
    /// Messages (TURN or RFC 4571) taken out of TCP streams.
    pub tcp_messages: u64,
    /// Holes in TCP streams that were skipped (lost segments).
    pub tcp_gaps: u64,
    /// Times a TCP stream's framing was lost and had to resynchronise.
    pub tcp_desyncs: u64,
    /// TCP segments that arrived ahead of a hole.
    pub tcp_out_of_order: u64,
    /// TCP bytes received again (retransmissions).
    pub tcp_retransmitted_bytes: u64,
    /// TCP bytes not framed as media (other protocols, bytes skipped while resynchronising).
    pub tcp_ignored_bytes: u64,
    /// TCP flows forgotten because too many were open at once.
    pub tcp_flows_evicted: u64,
    /// TCP messages dropped because they exceeded the buffer cap.
    pub tcp_buffer_overflows: u64,
}

/// Configuration of the network decoder's bounded state.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Max IP fragment sets in flight at once.
    pub max_fragment_sets: usize,
    /// Fragment sets older than this (capture time) are evicted.
    pub fragment_timeout: Duration,
    /// Max TCP flows (one per direction) followed at once.
    pub max_tcp_flows: usize,
    /// Max bytes buffered per TCP flow.
    pub max_tcp_buffer: usize,
    /// Out-of-order TCP segments held per flow before a hole is skipped.
    pub max_tcp_held_segments: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            max_fragment_sets: 1024,
            fragment_timeout: Duration::from_secs(30),
            max_tcp_flows: 4096,
            max_tcp_buffer: 256 * 1024,
            max_tcp_held_segments: 32,
        }
    }
}

/// Most diagnostics kept; each kind is reported once, so this is only a backstop.
const MAX_DIAGNOSTICS: usize = 64;

/// First occurrence of each diagnostic kind (and key, e.g. a link type).
#[derive(Debug, Default)]
pub(crate) struct Diags {
    seen: Vec<(&'static str, u32)>,
    list: Vec<Diagnostic>,
}

impl Diags {
    /// Records a diagnostic unless this kind was seen before.
    pub fn note(&mut self, meta: &FrameMeta, kind: &'static str, message: impl FnOnce() -> String) {
        self.note_keyed(meta, kind, 0, message);
    }

    /// Records a diagnostic unless this kind with this key was seen before.
    pub fn note_keyed(
        &mut self,
        meta: &FrameMeta,
        kind: &'static str,
        key: u32,
        message: impl FnOnce() -> String,
    ) {
        if self.seen.len() >= MAX_DIAGNOSTICS || self.seen.contains(&(kind, key)) {
            return;
        }
        self.seen.push((kind, key));
        self.list.push(Diagnostic {
            ctx: meta.ctx(),
            kind,
            message: message(),
        });
    }
}

/// Stateful link/IP/transport decoder (fragment and TCP reassembly).
#[derive(Debug)]
pub struct NetDecoder {
    stats: NetStats,
    diags: Diags,
    defrag: ip::Defragmenter,
    tcp: tcp::TcpReassembler,
}

impl Default for NetDecoder {
    fn default() -> Self {
        NetDecoder::new(NetConfig::default())
    }
}

/// The address of rtpdump records' sender, which rtpdump does not store.
const UNSPECIFIED: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

impl NetDecoder {
    /// A decoder with the given bounds.
    pub fn new(config: NetConfig) -> Self {
        let age = i64::try_from(config.fragment_timeout.as_nanos()).unwrap_or(i64::MAX);
        NetDecoder {
            stats: NetStats::default(),
            diags: Diags::default(),
            defrag: ip::Defragmenter::new(config.max_fragment_sets, age),
            tcp: tcp::TcpReassembler::new(tcp::TcpLimits {
                max_flows: config.max_tcp_flows,
                max_buffer: config.max_tcp_buffer,
                max_held_segments: config.max_tcp_held_segments,
            }),
        }
    }

    /// Decodes one captured frame, calling `out` for every datagram it completes.
    pub fn push(&mut self, frame: &CapturedFrame<'_>, out: &mut dyn FnMut(Datagram<'_>)) {
        self.stats.frames += 1;
        let meta = frame.meta;
        if self.defrag.in_flight() > 0 {
            let n = self.defrag.expire(meta.time);
            self.count_evicted(&meta, n);
        }
        match meta.link {
            Link::RtpDump { dst, .. } => {
                let flow = Flow {
                    src: UNSPECIFIED,
                    dst,
                    transport: Transport::Udp,
                };
                self.stats.datagrams += 1;
                out(Datagram {
                    meta,
                    flow,
                    encap: Encap::Plain,
                    payload: frame.data,
                });
            }
            Link::ChromeDump { src, dst } => {
                self.stats.datagrams += 1;
                out(Datagram {
                    meta,
                    flow: Flow {
                        src,
                        dst,
                        transport: Transport::Udp,
                    },
                    encap: Encap::Plain,
                    payload: frame.data,
                });
            }
            Link::Pcap(link_type) => match link::strip(link_type, frame.data) {
                link::LinkPayload::Ether(ether_type, bytes) => {
                    self.network(&meta, ether_type, bytes, out)
                }
                link::LinkPayload::NotIp => self.stats.non_ip += 1,
                link::LinkPayload::Truncated => {
                    self.stats.truncated += 1;
                    self.diags.note(&meta, "link-truncated", || {
                        format!(
                            "frame of {} bytes is shorter than its link header",
                            frame.data.len()
                        )
                    });
                }
                link::LinkPayload::Unsupported => {
                    self.stats.unsupported_link += 1;
                    self.diags
                        .note_keyed(&meta, "link-unsupported", link_type.0, || {
                            format!(
                                "link type {} is not supported; its frames are skipped",
                                link_type.0
                            )
                        });
                }
            },
        }
    }

    /// End of input: delivers TCP data held behind holes that never filled.
    pub fn finish(&mut self, out: &mut dyn FnMut(Datagram<'_>)) {
        self.tcp.finish(&mut self.stats, &mut self.diags, out);
    }

    /// Counters so far.
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// Diagnostics gathered so far (first occurrence of each kind), drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diags.list)
    }

    fn count_evicted(&mut self, meta: &FrameMeta, n: u64) {
        if n > 0 {
            self.stats.fragments_evicted += n;
            self.diags.note(meta, "ip-fragments-evicted", || {
                "incomplete IP fragment set dropped (too old or too many in flight)".to_string()
            });
        }
    }

    fn network(
        &mut self,
        meta: &FrameMeta,
        ether_type: EtherType,
        bytes: &[u8],
        out: &mut dyn FnMut(Datagram<'_>),
    ) {
        let pkt = slice_net(ether_type, bytes);
        let (src, dst, payload) = match &pkt.net {
            Some(LaxNetSlice::Ipv4(v4)) => (
                IpAddr::V4(v4.header().source_addr()),
                IpAddr::V4(v4.header().destination_addr()),
                v4.payload(),
            ),
            Some(LaxNetSlice::Ipv6(v6)) => (
                IpAddr::V6(v6.header().source_addr()),
                IpAddr::V6(v6.header().destination_addr()),
                v6.payload(),
            ),
            Some(LaxNetSlice::Arp(_)) => {
                self.stats.non_ip += 1;
                return;
            }
            None => {
                match &pkt.stop_err {
                    Some((SliceError::Len(_), _)) => self.truncated(meta, "ip-truncated"),
                    Some((e, _)) => self.ip_error(meta, "ip-invalid", e),
                    // VLAN-tagged ARP, MPLS, ...
                    None => self.stats.non_ip += 1,
                }
                return;
            }
        };
        if payload.fragmented {
            if let Some(net) = &pkt.net {
                self.fragment(meta, net, src, dst, bytes, out);
            }
            return;
        }
        // Errors below IP (UDP/TCP headers) are handled by `transport`, which
        // parses the payload itself so that reassembled packets take the same path.
        let below_ip = |layer: &Layer| {
            matches!(
                layer,
                Layer::UdpHeader
                    | Layer::UdpPayload
                    | Layer::TcpHeader
                    | Layer::Icmpv4
                    | Layer::Icmpv6
            )
        };
        match &pkt.stop_err {
            Some((e, layer)) if !below_ip(layer) => {
                match e {
                    SliceError::Len(_) => self.truncated(meta, "ip-truncated"),
                    e => self.ip_error(meta, "ip-invalid", e),
                }
                return;
            }
            _ => {}
        }
        self.transport(
            meta,
            (src, dst),
            payload.ip_number.0,
            payload.payload,
            payload.incomplete,
            out,
        );
    }

    fn truncated(&mut self, meta: &FrameMeta, kind: &'static str) {
        self.stats.truncated += 1;
        let orig_len = meta.orig_len;
        self.diags.note(meta, kind, || {
            format!(
                "packet cut short by the capture's snaplen ({orig_len} bytes on the wire); skipped"
            )
        });
    }

    fn ip_error(&mut self, meta: &FrameMeta, kind: &'static str, e: &dyn std::fmt::Display) {
        self.stats.ip_errors += 1;
        self.diags
            .note(meta, kind, || format!("malformed packet: {e}"));
    }

    /// Feeds one fragment to the reassembler and decodes the packet it completes.
    fn fragment(
        &mut self,
        meta: &FrameMeta,
        net: &LaxNetSlice<'_>,
        src: IpAddr,
        dst: IpAddr,
        bytes: &[u8],
        out: &mut dyn FnMut(Datagram<'_>),
    ) {
        self.stats.fragments += 1;
        let frag = match net {
            LaxNetSlice::Ipv4(v4) => {
                let (h, p) = (v4.header(), v4.payload());
                if p.incomplete {
                    return self.truncated(meta, "ip-fragment-truncated");
                }
                ip::Fragment {
                    key: ip::FragKey {
                        src,
                        dst,
                        id: h.identification().into(),
                        proto: p.ip_number.0,
                    },
                    offset: h.fragments_offset(),
                    more: h.more_fragments(),
                    payload: p.payload,
                }
            }
            LaxNetSlice::Ipv6(v6) => {
                let Some(fh) = v6.extensions().clone().into_iter().find_map(|e| match e {
                    Ipv6ExtensionSlice::Fragment(f) => Some(f),
                    _ => None,
                }) else {
                    return;
                };
                // The fragment's data runs from the end of the Fragment header to
                // the end given by the IPv6 payload length (RFC 8200 §4.5); what
                // etherparse parsed after the Fragment header is data, not headers,
                // in all but the first fragment.
                let offset_of =
                    |sub: &[u8]| (sub.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize);
                let (Some(ip_start), Some(fh_start)) =
                    (offset_of(v6.header().slice()), offset_of(fh.slice()))
                else {
                    return;
                };
                let data_start = fh_start + fh.slice().len();
                let end = ip_start + 40 + usize::from(v6.header().payload_length());
                let Some(payload) = bytes.get(data_start..end) else {
                    return self.truncated(meta, "ip-fragment-truncated");
                };
                ip::Fragment {
                    key: ip::FragKey {
                        src,
                        dst,
                        id: fh.identification(),
                        proto: fh.next_header().0,
                    },
                    offset: fh.fragment_offset(),
                    more: fh.more_fragments(),
                    payload,
                }
            }
            LaxNetSlice::Arp(_) => return,
        };
        let is_v6 = matches!(net, LaxNetSlice::Ipv6(_));
        let proto = frag.key.proto;
        let (outcome, evicted) = self.defrag.push(frag, meta.time);
        self.count_evicted(meta, evicted);
        match outcome {
            ip::DefragOutcome::Pending => {}
            ip::DefragOutcome::Invalid(msg) => {
                self.stats.fragments_invalid += 1;
                self.diags.note(meta, "ip-fragment-invalid", || {
                    format!("IP fragment conflicts with its set, set dropped: {msg}")
                });
            }
            ip::DefragOutcome::Complete(buf) => {
                self.stats.fragments_reassembled += 1;
                let upper = if is_v6 {
                    ip::skip_ipv6_ext(proto, &buf)
                } else {
                    Some((proto, &buf[..]))
                };
                match upper {
                    Some((proto, payload)) => {
                        self.transport(meta, (src, dst), proto, payload, false, out)
                    }
                    None => self.ip_error(
                        meta,
                        "ip-invalid",
                        &"bad IPv6 extension header after reassembly",
                    ),
                }
                self.defrag.recycle(buf);
            }
        }
    }

    /// Decodes a whole IP payload (the bytes captured of it, possibly fewer than sent).
    fn transport(
        &mut self,
        meta: &FrameMeta,
        (src, dst): (IpAddr, IpAddr),
        proto: u8,
        b: &[u8],
        incomplete: bool,
        out: &mut dyn FnMut(Datagram<'_>),
    ) {
        match proto {
            17 => self.udp(meta, src, dst, b, out),
            6 => self.tcp(meta, src, dst, b, incomplete, out),
            _ => self.stats.other_ip_protocols += 1,
        }
    }

    fn udp(
        &mut self,
        meta: &FrameMeta,
        src: IpAddr,
        dst: IpAddr,
        b: &[u8],
        out: &mut dyn FnMut(Datagram<'_>),
    ) {
        let Some(h) = b.get(..8) else {
            return self.truncated(meta, "udp-truncated");
        };
        let sport = u16::from_be_bytes([h[0], h[1]]);
        let dport = u16::from_be_bytes([h[2], h[3]]);
        let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
        // Length 0: IPv6 jumbogram (RFC 2675) or a sender that left it to offload.
        let end = match len {
            0 => b.len(),
            1..=7 => return self.ip_error(meta, "udp-invalid", &format!("UDP length {len} < 8")),
            _ => len,
        };
        let Some(data) = b.get(8..end) else {
            return self.truncated(meta, "udp-truncated");
        };
        self.stats.udp_datagrams += 1;
        let flow = Flow {
            src: SocketAddr::new(src, sport),
            dst: SocketAddr::new(dst, dport),
            transport: Transport::Udp,
        };
        let (encap, payload) = match turn::unwrap(data) {
            turn::Unwrapped::Inner(encap, inner) => {
                self.stats.turn_unwrapped += 1;
                (encap, inner)
            }
            turn::Unwrapped::NotWrapped => (Encap::Plain, data),
            // No diagnostic: SIP over UDP ("INVITE", "ACK", "BYE") starts with
            // these bytes too, and is far more common than broken ChannelData.
            turn::Unwrapped::BadChannelData => {
                self.stats.turn_invalid += 1;
                (Encap::Plain, data)
            }
        };
        self.stats.datagrams += 1;
        out(Datagram {
            meta: *meta,
            flow,
            encap,
            payload,
        });
    }

    fn tcp(
        &mut self,
        meta: &FrameMeta,
        src: IpAddr,
        dst: IpAddr,
        b: &[u8],
        incomplete: bool,
        out: &mut dyn FnMut(Datagram<'_>),
    ) {
        let Some(h) = b.get(..20) else {
            return self.truncated(meta, "tcp-truncated");
        };
        let header_len = usize::from(h[12] >> 4) * 4;
        if header_len < 20 {
            return self.ip_error(
                meta,
                "tcp-invalid",
                &format!("TCP data offset {header_len} < 20"),
            );
        }
        let Some(data) = b.get(header_len..) else {
            return self.truncated(meta, "tcp-truncated");
        };
        // The IP payload was cut by snaplen: the segment's data is incomplete.
        // Dropping it makes the missing bytes a gap the stream resyncs after.
        if incomplete {
            return self.truncated(meta, "tcp-truncated");
        }
        self.stats.tcp_segments += 1;
        let flow = Flow {
            src: SocketAddr::new(src, u16::from_be_bytes([h[0], h[1]])),
            dst: SocketAddr::new(dst, u16::from_be_bytes([h[2], h[3]])),
            transport: Transport::Tcp,
        };
        let seg = tcp::TcpSegment {
            seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            syn: h[13] & 0x02 != 0,
            fin: h[13] & 0x01 != 0,
            rst: h[13] & 0x04 != 0,
            data,
        };
        let mut cx = tcp::Cx {
            meta: *meta,
            flow,
            stats: &mut self.stats,
            diags: &mut self.diags,
            out,
        };
        self.tcp.push(seg, &mut cx);
    }
}

/// The network layer of a packet and the error that stopped its parsing:
/// the parts of etherparse's `LaxSlicedPacket` that [`NetDecoder`] uses.
struct NetSlice<'a> {
    net: Option<LaxNetSlice<'a>>,
    stop_err: Option<(SliceError, Layer)>,
}

/// Slices the network layer of a packet of `ether_type`.
///
/// IPv4 and IPv6, nearly every packet, go to `LaxIpSlice` directly:
/// `LaxSlicedPacket` would also slice the transport layer (which
/// [`NetDecoder::transport`] parses itself) and moves its large result
/// around by value, which cost the routing thread about 4% of `record`'s
/// time on the benchmark capture. The outcome is the same: the conversions of
/// errors below are etherparse's own (`LaxSlicedPacketCursor::slice_ip`),
/// and `net::tests` hold both ways to the same results.
fn slice_net(ether_type: EtherType, bytes: &[u8]) -> NetSlice<'_> {
    use etherparse::err::ip::LaxHeaderSliceError as IpErr;
    use etherparse::err::ipv6_exts::{HeaderError as ExtErr, HeaderSliceError as ExtSliceErr};
    if ether_type != EtherType::IPV4 && ether_type != EtherType::IPV6 {
        let pkt = LaxSlicedPacket::from_ether_type(ether_type, bytes);
        return NetSlice {
            net: pkt.net,
            stop_err: pkt.stop_err,
        };
    }
    let (ip, stop) = match LaxIpSlice::from_slice(bytes) {
        Ok(v) => v,
        Err(IpErr::Len(l)) => {
            return NetSlice {
                net: None,
                stop_err: Some((SliceError::Len(l), Layer::IpHeader)),
            };
        }
        Err(IpErr::Content(c)) => {
            return NetSlice {
                net: None,
                stop_err: Some((SliceError::Ip(c), Layer::IpHeader)),
            };
        }
    };
    let stop_err = stop.map(|(e, layer)| {
        let e = match e {
            ExtSliceErr::Len(l) => SliceError::Len(l),
            ExtSliceErr::Content(ExtErr::HopByHopNotAtStart) => {
                SliceError::Ipv6Exts(ExtErr::HopByHopNotAtStart)
            }
            ExtSliceErr::Content(ExtErr::IpAuth(auth)) => match &ip {
                LaxIpSlice::Ipv4(_) => SliceError::Ipv4Exts(auth),
                LaxIpSlice::Ipv6(_) => SliceError::Ipv6Exts(ExtErr::IpAuth(auth)),
            },
        };
        (e, layer)
    });
    NetSlice {
        net: Some(ip.into()),
        stop_err,
    }
}
