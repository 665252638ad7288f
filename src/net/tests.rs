//! Tests of the whole network decoder: built packets, random bytes, real captures.

use super::*;
use crate::capture::LinkType;
use crate::error::FileId;
use crate::time::CaptureTime;
use etherparse::PacketBuilder;

/// One emitted datagram, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Out {
    flow: Flow,
    encap: Encap,
    payload: Vec<u8>,
}

fn meta(link: Link, index: u64, time: CaptureTime, orig_len: u32) -> FrameMeta {
    FrameMeta {
        file: FileId(0),
        index,
        offset: index * 100,
        time,
        link,
        orig_len,
    }
}

/// A decoder fed frames at 1 ms intervals, collecting what it emits.
struct Harness {
    dec: NetDecoder,
    index: u64,
}

impl Harness {
    fn new() -> Self {
        Harness::with(NetConfig::default())
    }

    fn with(config: NetConfig) -> Self {
        Harness {
            dec: NetDecoder::new(config),
            index: 0,
        }
    }

    fn push_at(&mut self, link: LinkType, data: &[u8], time: CaptureTime) -> Vec<Out> {
        self.index += 1;
        let frame = CapturedFrame {
            meta: meta(Link::Pcap(link), self.index, time, data.len() as u32),
            data,
        };
        let mut got = Vec::new();
        self.dec.push(&frame, &mut |d| {
            assert_eq!(d.meta.index, frame.meta.index);
            got.push(Out {
                flow: d.flow,
                encap: d.encap,
                payload: d.payload.to_vec(),
            });
        });
        got
    }

    fn push(&mut self, link: LinkType, data: &[u8]) -> Vec<Out> {
        let t = CaptureTime::from_nanos(self.index as i64 * 1_000_000);
        self.push_at(link, data, t)
    }

    fn push_all(&mut self, link: LinkType, frames: &[Vec<u8>]) -> Vec<Out> {
        frames.iter().flat_map(|f| self.push(link, f)).collect()
    }

    fn payloads(&mut self, link: LinkType, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        self.push_all(link, frames)
            .into_iter()
            .map(|o| o.payload)
            .collect()
    }

    fn kinds(&mut self) -> Vec<&'static str> {
        self.dec.take_diagnostics().iter().map(|d| d.kind).collect()
    }
}

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];
const IP_A: [u8; 4] = [10, 0, 0, 1];
const IP_B: [u8; 4] = [10, 0, 0, 2];

fn rtp(seq: u16, len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x60];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0x11, 0x22, 0x33, 0x44]);
    p.resize(len.max(12), 0xAB);
    p
}

fn udp_eth(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(IP_A, IP_B, 64)
        .udp(5000, 6000)
        .write(&mut v, payload)
        .expect("writing to a Vec");
    v
}

fn udp_ip4(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(IP_A, IP_B, 64)
        .udp(5000, 6000)
        .write(&mut v, payload)
        .expect("vec");
    v
}

fn udp_ip6(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6([1; 16], [2; 16], 64)
        .udp(5000, 6000)
        .write(&mut v, payload)
        .expect("vec");
    v
}

fn udp_flow() -> Flow {
    Flow {
        src: SocketAddr::from((IP_A, 5000)),
        dst: SocketAddr::from((IP_B, 6000)),
        transport: Transport::Udp,
    }
}

fn plain(payload: &[u8]) -> Out {
    Out {
        flow: udp_flow(),
        encap: Encap::Plain,
        payload: payload.to_vec(),
    }
}

#[test]
fn link_types_reach_udp() {
    let p = rtp(1, 40);
    let ip4 = udp_ip4(&p);
    let ip6 = udp_ip6(&p);
    let with_head = |head: &[u8], ip: &[u8]| [head, ip].concat();
    let mut sll = vec![0, 0, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip4);
    let mut sll2 = vec![0x08, 0x00];
    sll2.extend_from_slice(&[0; 18]);
    let qinq = |outer: [u8; 2]| {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&outer);
        v.extend_from_slice(&[0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
        v.extend_from_slice(&ip4);
        v
    };
    let mut vlan = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(etherparse::VlanId::try_new(1508).expect("valid id"))
        .ipv4(IP_A, IP_B, 64)
        .udp(5000, 6000)
        .write(&mut vlan, &p)
        .expect("vec");
    let cases: Vec<(&str, LinkType, Vec<u8>)> = vec![
        ("ethernet", LinkType::ETHERNET, udp_eth(&p)),
        ("802.1Q", LinkType::ETHERNET, vlan),
        ("QinQ 88a8", LinkType::ETHERNET, qinq([0x88, 0xA8])),
        ("QinQ 9100", LinkType::ETHERNET, qinq([0x91, 0x00])),
        ("QinQ 8100", LinkType::ETHERNET, qinq([0x81, 0x00])),
        ("sll", LinkType::LINUX_SLL, sll),
        ("sll2", LinkType::LINUX_SLL2, with_head(&sll2, &ip4)),
        ("raw v4", LinkType::RAW, ip4.clone()),
        ("raw 228", LinkType::IPV4, ip4.clone()),
        ("raw 12", LinkType::RAW_ALT12, ip4.clone()),
        ("raw 14", LinkType::RAW_ALT14, ip4.clone()),
        ("null le", LinkType::NULL, with_head(&[2, 0, 0, 0], &ip4)),
        ("null be", LinkType::NULL, with_head(&[0, 0, 0, 2], &ip4)),
        ("loop", LinkType::LOOP, with_head(&[0, 0, 0, 2], &ip4)),
    ];
    for (name, link, frame) in cases {
        let mut h = Harness::new();
        assert_eq!(h.push(link, &frame), vec![plain(&p)], "{name}");
        assert!(h.kinds().is_empty(), "{name}");
    }
    let flow6 = Flow {
        src: SocketAddr::from(([1u8; 16], 5000)),
        dst: SocketAddr::from(([2u8; 16], 6000)),
        transport: Transport::Udp,
    };
    let want6 = vec![Out {
        flow: flow6,
        encap: Encap::Plain,
        payload: p.clone(),
    }];
    for (name, link, frame) in [
        ("raw v6", LinkType::RAW, ip6.clone()),
        ("raw 229", LinkType::IPV6, ip6.clone()),
        (
            "null darwin v6",
            LinkType::NULL,
            with_head(&[30, 0, 0, 0], &ip6),
        ),
        (
            "null freebsd v6",
            LinkType::NULL,
            with_head(&[28, 0, 0, 0], &ip6),
        ),
        ("loop v6", LinkType::LOOP, with_head(&[0, 0, 0, 24], &ip6)),
    ] {
        assert_eq!(Harness::new().push(link, &frame), want6, "{name}");
    }
}

#[test]
fn non_ip_and_unsupported_links_are_counted() {
    let mut h = Harness::new();
    let mut arp = vec![0u8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    assert!(h.push(LinkType::ETHERNET, &arp).is_empty());
    for _ in 0..3 {
        assert!(h.push(LinkType(147), &[1, 2, 3]).is_empty());
        assert!(h.push(LinkType(9), &[1, 2, 3]).is_empty());
    }
    assert_eq!(h.dec.stats().non_ip, 1);
    assert_eq!(h.dec.stats().unsupported_link, 6);
    let d = h.dec.take_diagnostics();
    assert_eq!(d.len(), 2, "one diagnostic per link type: {d:?}");
    assert_eq!(d[0].ctx.frame, 2);
    assert!(d[0].message.contains("147"));
    assert!(d[1].message.contains(" 9 "));
    assert!(h.dec.take_diagnostics().is_empty(), "drained");
    h.push(LinkType(147), &[1]);
    assert!(h.dec.take_diagnostics().is_empty(), "not reported again");
}

#[test]
fn rtpdump_records_pass_through() {
    let mut dec = NetDecoder::default();
    let dst: SocketAddr = "192.0.2.1:20000".parse().expect("addr");
    let data = rtp(7, 30);
    let frame = CapturedFrame {
        meta: meta(
            Link::RtpDump { dst, rtcp: false },
            1,
            CaptureTime::default(),
            30,
        ),
        data: &data,
    };
    let mut got = Vec::new();
    dec.push(&frame, &mut |d| {
        got.push((d.flow, d.encap, d.payload.to_vec()))
    });
    let src: SocketAddr = "0.0.0.0:0".parse().expect("addr");
    assert_eq!(
        got,
        vec![(
            Flow {
                src,
                dst,
                transport: Transport::Udp
            },
            Encap::Plain,
            data
        )]
    );
}

#[test]
fn ipv6_extension_headers() {
    let p = rtp(3, 20);
    let mut udp = Vec::new();
    udp.extend_from_slice(&5000u16.to_be_bytes());
    udp.extend_from_slice(&6000u16.to_be_bytes());
    udp.extend_from_slice(&((8 + p.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&p);
    // Hop-by-Hop -> Destination Options (16 bytes) -> Routing (type 0, empty) -> UDP.
    let mut exts = vec![60, 0, 1, 4, 0, 0, 0, 0];
    exts.extend_from_slice(&[43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    exts.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 0]);
    let mut pkt = vec![0x60, 0, 0, 0];
    pkt.extend_from_slice(&((exts.len() + udp.len()) as u16).to_be_bytes());
    pkt.extend_from_slice(&[0, 64]);
    pkt.extend_from_slice(&[1; 16]);
    pkt.extend_from_slice(&[2; 16]);
    pkt.extend_from_slice(&exts);
    pkt.extend_from_slice(&udp);
    let got = Harness::new().push(LinkType::RAW, &pkt);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, p);
}

#[test]
fn truncation_at_every_byte_never_emits() {
    let p = rtp(9, 60);
    for frame in [udp_eth(&p), {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&[0x86, 0xDD]);
        v.extend_from_slice(&udp_ip6(&p));
        v
    }] {
        let mut h = Harness::new();
        for n in 0..frame.len() {
            assert!(
                h.push(LinkType::ETHERNET, &frame[..n]).is_empty(),
                "cut at {n}"
            );
        }
        assert_eq!(h.push(LinkType::ETHERNET, &frame).len(), 1);
        let s = h.dec.stats();
        assert_eq!(s.datagrams, 1);
        assert!(s.truncated > 0);
        // Ethernet trailer padding after the IP packet is not payload.
        let mut padded = frame.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(h.push(LinkType::ETHERNET, &padded)[0].payload, p);
    }
}

/// Splits an IPv4 packet (20-byte header) into fragments at these payload offsets (multiples of 8).
fn frag4(pkt: &[u8], cuts: &[usize], id: u16) -> Vec<Vec<u8>> {
    let (hdr, body) = pkt.split_at(20);
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(body.len());
    bounds
        .windows(2)
        .map(|w| {
            let mut f = hdr.to_vec();
            let chunk = &body[w[0]..w[1]];
            f[2..4].copy_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
            f[4..6].copy_from_slice(&id.to_be_bytes());
            let more = if w[1] < body.len() { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&(more | (w[0] / 8) as u16).to_be_bytes());
            f.extend_from_slice(chunk);
            f
        })
        .collect()
}

/// Splits an IPv6 packet without extension headers into fragments (RFC 8200 §4.5).
fn frag6(pkt: &[u8], cuts: &[usize], id: u32) -> Vec<Vec<u8>> {
    let (hdr, body) = pkt.split_at(40);
    let next = hdr[6];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(body.len());
    bounds
        .windows(2)
        .map(|w| {
            let mut f = hdr.to_vec();
            let chunk = &body[w[0]..w[1]];
            f[4..6].copy_from_slice(&((8 + chunk.len()) as u16).to_be_bytes());
            f[6] = 44;
            let more = u16::from(w[1] < body.len());
            f.extend_from_slice(&[next, 0]);
            f.extend_from_slice(&((w[0] as u16) | more).to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(chunk);
            f
        })
        .collect()
}

#[test]
fn fragments_table() {
    let p = rtp(5, 1000);
    let v4 = frag4(&udp_ip4(&p), &[400, 808], 77);
    let v6 = frag6(&udp_ip6(&p), &[400, 808], 0x0102_0304);
    for (version, frags) in [("v4", &v4), ("v6", &v6)] {
        let f = |i: usize| frags[i].clone();
        let cases: Vec<(&str, Vec<Vec<u8>>, usize)> = vec![
            ("in order", vec![f(0), f(1), f(2)], 1),
            ("reversed", vec![f(2), f(1), f(0)], 1),
            ("out of order", vec![f(1), f(0), f(2)], 1),
            ("duplicate", vec![f(0), f(0), f(1), f(2)], 1),
            (
                "duplicate after completion",
                vec![f(0), f(1), f(2), f(2)],
                1,
            ),
            ("missing", vec![f(0), f(2)], 0),
        ];
        for (name, frames, n) in cases {
            let mut h = Harness::new();
            let got = h.payloads(LinkType::RAW, &frames);
            assert_eq!(got.len(), n, "{version} {name}");
            for g in got {
                assert_eq!(g, p, "{version} {name}");
            }
        }
    }
}

#[test]
fn fragment_sets_are_bounded_and_evicted_by_capture_time() {
    let p = rtp(5, 1000);
    let config = NetConfig {
        max_fragment_sets: 2,
        ..NetConfig::default()
    };
    let mut h = Harness::with(config);
    let sec = |s: i64| CaptureTime::from_secs_nanos(s, 0);
    // Three sets in flight, limit two: the oldest is evicted.
    for id in 0..3u16 {
        let f = frag4(&udp_ip4(&p), &[400], id);
        assert!(h.push_at(LinkType::RAW, &f[0], sec(0)).is_empty());
    }
    assert_eq!(h.dec.stats().fragments_evicted, 1);
    // Set 2 completes; set 1 is left and ages out 31 s later.
    let f = frag4(&udp_ip4(&p), &[400], 2);
    assert_eq!(h.push_at(LinkType::RAW, &f[1], sec(1)).len(), 1);
    let f = frag4(&udp_ip4(&p), &[400], 1);
    h.push_at(LinkType::RAW, &udp_eth(&p)[14..], sec(31));
    assert!(
        h.push_at(LinkType::RAW, &f[1], sec(32)).is_empty(),
        "set 1 was evicted"
    );
    let s = h.dec.stats();
    assert_eq!((s.fragments_evicted, s.fragments_reassembled), (2, 1));
    assert!(h.kinds().contains(&"ip-fragments-evicted"));
}

#[test]
fn turn_over_udp() {
    let p = rtp(1, 30);
    let cd = |len: u16, pad: usize| {
        let mut v = vec![0x40, 0x02];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&p);
        v.extend(std::iter::repeat_n(0u8, pad));
        v
    };
    let chan = |payload: &[u8]| Out {
        flow: udp_flow(),
        encap: Encap::TurnChannel(0x4002),
        payload: payload.to_vec(),
    };
    let mut ind = vec![0x00, 0x17, 0, 0];
    ind.extend_from_slice(&turn::MAGIC_COOKIE.to_be_bytes());
    ind.extend_from_slice(&[9; 12]);
    ind.extend_from_slice(&[0x00, 0x13, 0, p.len() as u16 as u8]);
    ind.extend_from_slice(&p);
    ind.resize(turn::pad4(ind.len()), 0);
    let body_len = (ind.len() - 20) as u16;
    ind[2..4].copy_from_slice(&body_len.to_be_bytes());
    let mut send = ind.clone();
    send[1] = 0x16;
    let mut binding = ind.clone();
    binding[1] = 0x01;
    let cases: Vec<(&str, Vec<u8>, Out)> = vec![
        ("channel data exact", cd(30, 0), chan(&p)),
        ("channel data padded", cd(30, 2), chan(&p)),
        ("channel data bad length", cd(31, 0), plain(&cd(31, 0))),
        (
            "data indication",
            ind.clone(),
            Out {
                encap: Encap::TurnIndication,
                ..plain(&p)
            },
        ),
        (
            "send indication",
            send,
            Out {
                encap: Encap::TurnIndication,
                ..plain(&p)
            },
        ),
        ("binding request", binding.clone(), plain(&binding)),
        ("rtp", p.clone(), plain(&p)),
    ];
    for (name, payload, want) in cases {
        let mut h = Harness::new();
        assert_eq!(
            h.push(LinkType::ETHERNET, &udp_eth(&payload)),
            vec![want],
            "{name}"
        );
    }
    let mut h = Harness::new();
    h.push(LinkType::ETHERNET, &udp_eth(&cd(31, 0)));
    assert_eq!(h.dec.stats().turn_invalid, 1);
    assert!(
        h.kinds().is_empty(),
        "SIP looks like this too: no diagnostic"
    );
}

/// One direction of a TCP connection from 10.0.0.1:40000 to 10.0.0.2:5000.
struct Conn {
    seq: u32,
}

const SYN: u8 = 0x02;
const PSH_ACK: u8 = 0x18;

impl Conn {
    fn seg_at(seq: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(IP_A, IP_B, 64)
            .tcp(40000, 5000, seq, 1000)
            .write(&mut v, data)
            .expect("vec");
        v[14 + 20 + 13] = flags;
        v
    }

    fn syn(isn: u32) -> (Conn, Vec<u8>) {
        (
            Conn {
                seq: isn.wrapping_add(1),
            },
            Conn::seg_at(isn, SYN, &[]),
        )
    }

    fn send(&mut self, data: &[u8]) -> Vec<u8> {
        let f = Conn::seg_at(self.seq, PSH_ACK, data);
        self.seq = self.seq.wrapping_add(data.len() as u32);
        f
    }
}

fn rfc4571(pkts: &[Vec<u8>]) -> Vec<u8> {
    pkts.iter()
        .flat_map(|p| {
            let mut v = (p.len() as u16).to_be_bytes().to_vec();
            v.extend_from_slice(p);
            v
        })
        .collect()
}

fn channel_data_tcp(pkts: &[Vec<u8>]) -> Vec<u8> {
    pkts.iter()
        .flat_map(|p| {
            let mut v = vec![0x40, 0x00];
            v.extend_from_slice(&(p.len() as u16).to_be_bytes());
            v.extend_from_slice(p);
            // RFC 8656 §12.5: padded to a multiple of 4 on TCP.
            v.resize(turn::pad4(v.len()), 0);
            v
        })
        .collect()
}

/// Cuts a byte stream into segments of these sizes (the last takes the rest).
fn cut(stream: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = stream;
    for &n in sizes {
        let n = n.min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    if !rest.is_empty() {
        out.push(rest.to_vec());
    }
    out
}

#[test]
fn tcp_rfc4571_segmentation_table() {
    let pkts: Vec<Vec<u8>> = (0..5).map(|i| rtp(i, 50 + usize::from(i) * 7)).collect();
    let stream = rfc4571(&pkts);
    let cases: Vec<(&str, Vec<usize>)> = vec![
        ("one segment", vec![]),
        (
            "one frame per segment",
            pkts.iter().map(|p| p.len() + 2).collect(),
        ),
        ("split inside length", vec![1, 60, 100]),
        ("split inside header", vec![3, 10, 200]),
        ("byte by byte", vec![1; 400]),
    ];
    for (name, sizes) in cases {
        let (mut c, syn) = Conn::syn(1000);
        let mut frames = vec![syn];
        frames.extend(cut(&stream, &sizes).iter().map(|s| c.send(s)));
        let mut h = Harness::new();
        let got = h.push_all(LinkType::ETHERNET, &frames);
        assert_eq!(
            got.iter().map(|o| o.payload.clone()).collect::<Vec<_>>(),
            pkts,
            "{name}"
        );
        assert!(
            got.iter()
                .all(|o| o.encap == Encap::Rfc4571 && o.flow.transport == Transport::Tcp)
        );
    }
}

#[test]
fn tcp_retransmission_reorder_and_gap() {
    let pkts: Vec<Vec<u8>> = (0..6).map(|i| rtp(i, 40)).collect();
    let segs = cut(&rfc4571(&pkts), &[42, 42, 42, 42, 42]);
    let (mut c, syn) = Conn::syn(u32::MAX - 50); // wraps mid-stream
    let f: Vec<Vec<u8>> = segs.iter().map(|s| c.send(s)).collect();
    let all = |idx: &[usize]| idx.iter().map(|&i| pkts[i].clone()).collect::<Vec<_>>();
    // (name, frames pushed, payloads expected)
    type Case<'a> = (&'a str, Vec<Vec<u8>>, Vec<Vec<u8>>);
    let cases: Vec<Case<'_>> = vec![
        (
            "retransmission",
            vec![
                f[0].clone(),
                f[1].clone(),
                f[1].clone(),
                f[0].clone(),
                f[2].clone(),
            ],
            all(&[0, 1, 2]),
        ),
        (
            "swap",
            vec![f[0].clone(), f[2].clone(), f[1].clone(), f[3].clone()],
            all(&[0, 1, 2, 3]),
        ),
        // f[1] never arrives: with 2 segments held the hole is skipped.
        (
            "gap",
            vec![
                f[0].clone(),
                f[2].clone(),
                f[3].clone(),
                f[4].clone(),
                f[5].clone(),
            ],
            all(&[0, 2, 3, 4, 5]),
        ),
    ];
    for (name, frames, want) in cases {
        let mut h = Harness::with(NetConfig {
            max_tcp_held_segments: 2,
            ..NetConfig::default()
        });
        h.push(LinkType::ETHERNET, &syn);
        assert_eq!(h.payloads(LinkType::ETHERNET, &frames), want, "{name}");
        if name == "gap" {
            assert_eq!(h.dec.stats().tcp_gaps, 1);
            assert!(h.kinds().contains(&"tcp-gap"));
        }
    }
    // Overlapping retransmission that carries some new bytes.
    let mut h = Harness::new();
    h.push(LinkType::ETHERNET, &syn);
    let stream = rfc4571(&pkts);
    let start = u32::MAX - 49;
    let a = Conn::seg_at(start, PSH_ACK, &stream[..60]);
    let b = Conn::seg_at(start.wrapping_add(30), PSH_ACK, &stream[30..130]);
    assert_eq!(h.payloads(LinkType::ETHERNET, &[a, b]), all(&[0, 1, 2]));
    assert_eq!(h.dec.stats().tcp_retransmitted_bytes, 30);
}

#[test]
fn tcp_gap_mid_frame_resyncs_at_next_frame_start() {
    let pkts: Vec<Vec<u8>> = (0..4).map(|i| rtp(i, 100)).collect();
    let stream = rfc4571(&pkts);
    // Segments: [frame 0 + half of 1] [rest of 1] [frame 2] [frame 3]; the second is lost.
    let segs = cut(&stream, &[102 + 50, 52, 102, 102]);
    let (mut c, syn) = Conn::syn(7);
    let f: Vec<Vec<u8>> = segs.iter().map(|s| c.send(s)).collect();
    let mut h = Harness::with(NetConfig {
        max_tcp_held_segments: 1,
        ..NetConfig::default()
    });
    h.push(LinkType::ETHERNET, &syn);
    let got = h.payloads(
        LinkType::ETHERNET,
        &[f[0].clone(), f[2].clone(), f[3].clone()],
    );
    assert_eq!(got, vec![pkts[0].clone(), pkts[2].clone(), pkts[3].clone()]);
}

#[test]
fn tcp_held_segments_are_flushed_at_finish() {
    let pkts: Vec<Vec<u8>> = (0..3).map(|i| rtp(i, 40)).collect();
    let segs = cut(&rfc4571(&pkts), &[42, 42]);
    let (mut c, syn) = Conn::syn(0);
    let f: Vec<Vec<u8>> = segs.iter().map(|s| c.send(s)).collect();
    let mut h = Harness::new();
    h.push(LinkType::ETHERNET, &syn);
    assert_eq!(
        h.payloads(LinkType::ETHERNET, &[f[0].clone(), f[2].clone()]),
        vec![pkts[0].clone()]
    );
    let mut got = Vec::new();
    h.dec.finish(&mut |d| got.push(d.payload.to_vec()));
    assert_eq!(got, vec![pkts[2].clone()]);
}

#[test]
fn tcp_turn_with_padding() {
    let pkts: Vec<Vec<u8>> = (0..4).map(|i| rtp(i, 41 + usize::from(i))).collect();
    // An Allocate request first, as a TURN client sends.
    let mut alloc = vec![0x00, 0x03, 0, 0];
    alloc.extend_from_slice(&turn::MAGIC_COOKIE.to_be_bytes());
    alloc.extend_from_slice(&[5; 12]);
    let mut stream = alloc.clone();
    stream.extend_from_slice(&channel_data_tcp(&pkts));
    for sizes in [
        vec![],
        vec![20, 48, 48, 48],
        vec![25, 30, 7, 100],
        vec![1; 300],
    ] {
        let (mut c, syn) = Conn::syn(99);
        let mut frames = vec![syn];
        frames.extend(cut(&stream, &sizes).iter().map(|s| c.send(s)));
        let mut h = Harness::new();
        let got = h.push_all(LinkType::ETHERNET, &frames);
        assert_eq!(got.len(), 5, "{sizes:?}");
        assert_eq!(got[0].payload, alloc);
        assert_eq!(got[0].encap, Encap::Plain);
        for (o, p) in got[1..].iter().zip(&pkts) {
            assert_eq!((&o.payload, o.encap), (p, Encap::TurnChannel(0x4000)));
        }
    }
}

#[test]
fn tcp_mid_stream_and_non_media() {
    let pkts: Vec<Vec<u8>> = (0..3).map(|i| rtp(i, 60)).collect();
    // No SYN: the first segment seen holds whole frames, so framing is found.
    let segs = cut(&rfc4571(&pkts), &[62]);
    let mut c = Conn { seq: 5555 };
    let frames: Vec<Vec<u8>> = segs.iter().map(|s| c.send(s)).collect();
    assert_eq!(Harness::new().payloads(LinkType::ETHERNET, &frames), pkts);
    // HTTP and TLS after a SYN: ignored, counted.
    for text in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0x00, 0x40, 1, 0, 0, 0x3C, 3, 3],
    ] {
        let (mut c, syn) = Conn::syn(1);
        let mut h = Harness::new();
        let got = h.payloads(
            LinkType::ETHERNET,
            &[syn, c.send(text), c.send(&rfc4571(&pkts))],
        );
        assert!(got.is_empty());
        assert!(h.dec.stats().tcp_ignored_bytes > 0);
    }
}

#[test]
fn tcp_state_is_bounded() {
    let p = rfc4571(&[rtp(1, 40)]);
    let mut h = Harness::with(NetConfig {
        max_tcp_flows: 3,
        ..NetConfig::default()
    });
    for port in 0..10u16 {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(IP_A, IP_B, 64)
            .tcp(port, 5000, 0, 1000)
            .write(&mut v, &p[..20])
            .expect("vec");
        h.push(LinkType::ETHERNET, &v);
        assert!(h.dec.tcp.flows() <= 3);
    }
    assert_eq!(h.dec.stats().tcp_flows_evicted, 7);
}

/// Links exercised by the fuzz tests.
const LINKS: &[LinkType] = &[
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType::RAW_ALT12,
    LinkType::RAW_ALT14,
    LinkType(42),
];

proptest::proptest! {
    #[test]
    fn random_frames_never_panic(
        frames in proptest::collection::vec(
            (0..LINKS.len(), proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)),
            1..20,
        )
    ) {
        let mut h = Harness::new();
        for (link, data) in &frames {
            h.push(LINKS[*link], data);
        }
        h.dec.finish(&mut |_| {});
    }

    /// Valid headers with random TCP payloads, sequence numbers and flags.
    #[test]
    fn random_tcp_streams_never_panic(
        segs in proptest::collection::vec(
            (0u32..400, 0u8..32, proptest::collection::vec(0x3Fu8..0x82, 0..120)),
            1..40,
        )
    ) {
        let mut h = Harness::with(NetConfig { max_tcp_buffer: 512, max_tcp_held_segments: 3, ..NetConfig::default() });
        for (seq, flags, data) in &segs {
            let got = h.push(LinkType::ETHERNET, &Conn::seg_at(*seq, *flags, data));
            for o in got {
                proptest::prop_assert!(o.payload.len() <= data.len() + 512);
            }
        }
    }

    /// Random fragments of a few sets: never panics, never emits more than one datagram per set.
    #[test]
    fn random_fragments_never_panic(
        frags in proptest::collection::vec((0u16..3, 0usize..16, proptest::prelude::any::<bool>(), 0usize..64), 1..40)
    ) {
        let mut h = Harness::with(NetConfig { max_fragment_sets: 2, ..NetConfig::default() });
        let pkt = udp_ip4(&rtp(1, 100));
        for (id, off8, more, len) in &frags {
            let body = vec![0x80u8; *len];
            let mut f = pkt[..20].to_vec();
            f[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
            f[4..6].copy_from_slice(&id.to_be_bytes());
            f[6..8].copy_from_slice(&((u16::from(*more) << 13) | *off8 as u16).to_be_bytes());
            f.extend_from_slice(&body);
            proptest::prop_assert!(h.push(LinkType::RAW, &f).len() <= 1);
        }
    }
}

mod captures {
    //! The real captures in /work/shared/captures (see its README.md).

    use super::*;
    use crate::capture::CaptureFile;
    use std::collections::BTreeMap;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures/");

    /// Frames of a capture (read by `capture::CaptureFile`), or `None` (test
    /// skipped) when the shared directory is absent outside CI.
    fn read(name: &str) -> Option<Vec<(FrameMeta, Vec<u8>)>> {
        if !std::path::Path::new(DIR).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{DIR} is missing and CI is set"
            );
            println!("skipped: {DIR} is absent (set CI to make this a failure)");
            return None;
        }
        let path = std::path::PathBuf::from(format!("{DIR}{name}"));
        let mut file = CaptureFile::open(&path, FileId(0)).unwrap_or_else(|e| panic!("{e}"));
        let mut frames = Vec::new();
        let mut buf = Vec::new();
        while let Some(meta) = file.next_frame(&mut buf).unwrap_or_else(|e| panic!("{e}")) {
            frames.push((meta, buf.clone()));
        }
        Some(frames)
    }

    /// RTP packets emitted per SSRC, RTCP packets, and how each was carried.
    #[derive(Default, Debug)]
    struct Summary {
        rtp: BTreeMap<u32, usize>,
        rtcp: usize,
        encaps: BTreeMap<String, usize>,
        flows: BTreeMap<String, usize>,
        stats: NetStats,
    }

    fn decode(name: &str) -> Option<Summary> {
        let frames = read(name)?;
        let mut dec = NetDecoder::default();
        let mut s = Summary::default();
        let mut take = |d: Datagram<'_>| {
            let p = d.payload;
            *s.encaps.entry(format!("{:?}", d.encap)).or_default() += 1;
            if p.len() >= 12 && (128..=191).contains(&p[0]) {
                if (192..=223).contains(&p[1]) {
                    s.rtcp += 1;
                } else {
                    *s.rtp
                        .entry(u32::from_be_bytes([p[8], p[9], p[10], p[11]]))
                        .or_default() += 1;
                    *s.flows
                        .entry(format!("{:?} {}", d.flow.transport, d.flow.src))
                        .or_default() += 1;
                }
            }
        };
        for (meta, data) in &frames {
            dec.push(&CapturedFrame { meta: *meta, data }, &mut take);
        }
        dec.finish(&mut take);
        s.stats = dec.stats().clone();
        for d in dec.take_diagnostics() {
            println!("{name}: {}", d.display(name));
        }
        println!("{name}: {s:?}");
        Some(s)
    }

    #[test]
    fn turn_over_tcp_wifi_to_3g() {
        let Some(s) = decode("srtpdec_wifi-tcp_to_3g.pcap") else {
            return;
        };
        assert_eq!(s.rtp.get(&0x3482_B39F), Some(&506));
        assert_eq!(s.rtp.get(&0x3482_B3A1), Some(&508));
        assert_eq!(s.flows.get("Tcp 192.168.89.252:50523"), Some(&506));
        assert_eq!(s.flows.get("Tcp 54.175.233.40:3478"), Some(&508));
        assert_eq!(s.stats.tcp_gaps, 0);
    }

    #[test]
    fn turn_over_udp_channel_data_and_indications() {
        let Some(s) = decode("srtpdec_WebRTC_PCMA_Turn_SDES_Call_1.pcap") else {
            return;
        };
        assert_eq!(s.rtp.get(&0xED42_A10F), Some(&659));
        assert_eq!(s.rtp.get(&0x15CB_A085), Some(&609));
        assert!(
            s.encaps.get("TurnIndication").copied().unwrap_or(0) > 0,
            "{:?}",
            s.encaps
        );
        assert!(
            s.encaps.get("TurnChannel(16384)").copied().unwrap_or(0) > 0,
            "{:?}",
            s.encaps
        );
    }

    #[test]
    fn vlan_and_rfc4571_ndpi_rtp() {
        let Some(s) = decode("ndpi_rtp.pcapng") else {
            return;
        };
        assert_eq!(s.flows.get("Tcp 172.16.168.24:40252"), Some(&17));
        assert_eq!(s.rtp.get(&0), Some(&17));
        assert_eq!(s.encaps.get("Rfc4571"), Some(&17));
        assert_eq!(s.rtp.get(&0xB809_74D8), Some(&29), "VLAN 1508 Opus");
        assert_eq!(s.rtp.get(&0x0000_1646), Some(&15));
    }

    #[test]
    fn linux_sll_rtcp() {
        let Some(s) = decode("ndpi_rtcp_multiple_pkts_in_the_same_datagram.pcap") else {
            return;
        };
        assert_eq!(s.rtcp, 5);
        assert_eq!(s.stats.unsupported_link, 0);
    }

    /// The README counts the UDP pair only; the call also sent RTP over an
    /// ICE-TCP candidate pair (RFC 6544, RFC 4571 framing after a STUN check),
    /// which tshark does not decode by itself.
    #[test]
    fn ice_tcp_in_p2p_call() {
        let Some(s) = decode("srtpdec_WebRTC_PCMA_p2p_SDES_Call_1.pcap") else {
            return;
        };
        assert_eq!(s.flows.get("Udp 192.168.1.142:56185"), Some(&259));
        assert_eq!(s.flows.get("Udp 192.168.1.130:60644"), Some(&227));
        assert_eq!(s.flows.get("Tcp 192.168.1.142:63101"), Some(&13));
        assert_eq!(s.flows.get("Tcp 192.168.1.130:49310"), Some(&11));
        assert_eq!(s.rtp.get(&0xD092_D296), Some(&(259 + 13)));
    }

    #[test]
    fn rtpdump_bark() {
        let Some(s) = decode("rtptools_bark.rtp") else {
            return;
        };
        assert_eq!(s.rtp.get(&0x0005_9C72), Some(&15));
        assert_eq!(s.stats.datagrams, 16);
    }

    #[test]
    fn all_captures_decode() {
        let expected: &[(&str, &[(u32, usize)])] = &[
            ("str0m_vp8.pcap", &[(0xEEDF_3944, 104)]),
            ("str0m_h264.pcap", &[]),
            ("str0m_contiguous_vp9.pcap", &[]),
            ("str0m_h266.pcap", &[]),
            ("membrane_input_vp8.pcap", &[]),
            ("membrane_demo_rtp.pcap", &[]),
            ("sippscen_h264.pcap", &[]),
            ("sippscen_g722.pcap", &[]),
            ("sipp_dtmf_2833_1.pcap", &[]),
            ("rtpproxy_alice_srtp.pcap", &[(0x2A1A_D144, 1556)]),
            ("rtpproxy_bob_srtp.pcap", &[(0xC2F6_A014, 1564)]),
            ("rtpproxy_dups.a.rtp", &[(0xAE9D_D7AF, 384)]),
            ("rtpproxy_lost.a.rtp", &[(0x0A73_28F3, 244)]),
            ("rtpproxy_rtcp.o.pcap", &[(0xF3CB_2001, 229)]),
            ("ndpi_sip.pcap", &[(0x3796_CB71, 9)]),
            ("sippscen_g711a.pcap", &[]),
            (
                "srtpdec_udp_call_02_03_client.pcap",
                &[(0x1C06_5362, 1600), (0x1C06_5364, 1571)],
            ),
            (
                "rtpproxy_dtmf.pcapng",
                &[(0x37ED_87F3, 151), (0xEE69_3E61, 45)],
            ),
            (
                "ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
                &[(0x17D9_0134, 1171), (0x0EAF_0EAF, 159)],
            ),
        ];
        for (name, ssrcs) in expected {
            let Some(s) = decode(name) else { return };
            assert_eq!(s.stats.frames, s.stats.frames.max(1), "{name}");
            assert_eq!(s.stats.unsupported_link, 0, "{name}");
            for (ssrc, n) in *ssrcs {
                assert_eq!(s.rtp.get(ssrc), Some(n), "{name} ssrc {ssrc:#x}");
            }
        }
    }

    /// Rough throughput of the decoder alone: `cargo test --release --lib net_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, run by hand in release mode"]
    fn net_throughput() {
        let names = [
            "sippscen_h264.pcap",
            "srtpdec_udp_call_02_03_client.pcap",
            "srtpdec_wifi-tcp_to_3g.pcap",
        ];
        for name in names {
            let Some(frames) = read(name) else { return };
            let bytes: usize = frames.iter().map(|(_, d)| d.len()).sum();
            let rounds = 50;
            let start = std::time::Instant::now();
            let mut n = 0u64;
            for _ in 0..rounds {
                let mut dec = NetDecoder::default();
                for (meta, data) in &frames {
                    dec.push(&CapturedFrame { meta: *meta, data }, &mut |d| {
                        n += d.payload.len() as u64
                    });
                }
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{name}: {:.0} MB/s, {:.1} Mpkt/s ({n} payload bytes)",
                (bytes * rounds) as f64 / secs / 1e6,
                (frames.len() * rounds) as f64 / secs / 1e6
            );
        }
    }
}

/// An IPv4 or IPv6 UDP packet (no link header), to be cut and changed.
fn ip_udp(v6: bool, payload: &[u8]) -> Vec<u8> {
    let builder = if v6 {
        PacketBuilder::ipv6([1; 16], [2; 16], 64)
    } else {
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
    };
    let builder = builder.udp(5000, 6000);
    let mut out = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut out, payload).expect("writes to a Vec");
    out
}

proptest::proptest! {
    /// `slice_net` gives what etherparse's `LaxSlicedPacket` gives for the
    /// network layer (and the errors at or above it), on IP packets cut short,
    /// with changed header bytes (extension header types included), and on
    /// random bytes.
    #[test]
    fn the_network_layer_is_sliced_as_etherparse_slices_it(
        v6 in proptest::prelude::any::<bool>(),
        random in proptest::prelude::any::<bool>(),
        noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
        payload_len in 0usize..100,
        shape in 0u8..6,
        changes in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>()), 0..3),
        cut in proptest::option::of(0usize..160),
    ) {
        let mut bytes = if random {
            noise
        } else {
            ip_udp(v6, &noise[..payload_len.min(noise.len())])
        };
        // Extension headers after the fixed one, and broken ones: IPv6's
        // next-header byte, IPv4's protocol (51: authentication), then the
        // first extension's next header (0: hop-by-hop where it may not be)
        // or length (0: invalid for authentication).
        let shaped: &[(usize, u8)] = match (v6, shape) {
            (_, 0) => &[],
            (true, 1) => &[(6, 0)],
            (true, 2) => &[(6, 51), (41, 0)],
            (true, 3) => &[(6, 43), (40, 0), (41, 0)],
            (true, 4) => &[(6, 44)],
            (true, _) => &[(6, 51)],
            (false, 1 | 2) => &[(9, 51), (21, 0)],
            (false, _) => &[(9, 51)],
        };
        for &(at, value) in shaped.iter().chain(&changes) {
            if let Some(b) = bytes.get_mut(at) {
                *b = value;
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut);
        }
        for ether_type in [EtherType::IPV4, EtherType::IPV6] {
            let ours = super::slice_net(ether_type, &bytes);
            let theirs = LaxSlicedPacket::from_ether_type(ether_type, &bytes);
            proptest::prop_assert_eq!(&ours.net, &theirs.net);
            let at_or_above_ip = theirs.stop_err.filter(|(_, layer)| {
                !matches!(
                    layer,
                    Layer::UdpHeader | Layer::UdpPayload | Layer::TcpHeader | Layer::Icmpv4 | Layer::Icmpv6
                )
            });
            proptest::prop_assert_eq!(ours.stop_err, at_or_above_ip);
        }
    }
}
