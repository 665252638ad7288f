//! Writes a synthetic WebRTC capture and prints its ground truth as JSON on stdout.
//!
//! ```text
//! cargo run --release --example gencap -- --out demo.pcap --peers 2 --seconds 4
//! ```
//!
//! Every byte follows from the options and `--seed`, so a command line in a
//! testdata `.txt` file remakes that file exactly.

use clap::{Parser, ValueEnum};
use rtprec::testutil::media::MediaKind;
use rtprec::testutil::packet::{
    self, LinkKind, STUN_DATA_INDICATION, STUN_SEND_INDICATION, push_channel_data, push_rfc4571,
    push_stun_indication, tcp_flags,
};
use rtprec::testutil::rng::Rng;
use rtprec::testutil::scenario::{Impairment, Scenario, ScenarioConfig};
use rtprec::testutil::writers::{
    CountingWriter, Endian, InterfaceSpec, PcapNgWriter, PcapOptions, PcapWriter, RtpDumpWriter,
};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Little-endian pcap, microseconds.
    Pcap,
    /// Little-endian pcap, nanoseconds.
    PcapNs,
    /// Big-endian pcap, microseconds.
    PcapBe,
    /// pcapng (see --sections, --interfaces).
    Pcapng,
    /// rtptools rtpdump (bare RTP/RTCP; --link and --transport do not apply).
    Rtpdump,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Link {
    Ethernet,
    /// One 802.1Q tag (VLAN 100).
    Vlan,
    /// 802.1ad outer tag 200, 802.1Q inner tag 100.
    Qinq,
    Sll,
    Sll2,
    Raw,
    Null,
}

impl Link {
    fn kind(self) -> LinkKind {
        match self {
            Link::Ethernet => LinkKind::Ethernet,
            Link::Vlan => LinkKind::Vlan(100),
            Link::Qinq => LinkKind::QinQ(200, 100),
            Link::Sll => LinkKind::Sll,
            Link::Sll2 => LinkKind::Sll2,
            Link::Raw => LinkKind::Raw,
            Link::Null => LinkKind::Null,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Transport {
    /// Plain UDP.
    Udp,
    /// UDP; datagrams longer than --frag-size are sent as IP fragments.
    Frag,
    /// TCP with RFC 4571 framing; frames are split across and coalesced into segments.
    Tcp,
    /// TURN over UDP to port 3478: peer i%3 == 0 ChannelData, 1 Send indications, 2 Data indications.
    Turn,
    /// TURN over TCP to port 3478: ChannelData padded to 4 bytes, split/coalesced like --transport tcp.
    TurnTcp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum IpVersion {
    V4,
    V6,
    /// Even peers IPv4, odd peers IPv6.
    Mixed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Audio {
    Opus,
    Pcmu,
    Pcma,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Video {
    Vp8,
    H264,
}

/// Writes a synthetic WebRTC capture and prints its ground truth as JSON.
#[derive(Parser, Debug)]
struct Args {
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "pcap")]
    format: Format,
    #[arg(long, value_enum, default_value = "ethernet")]
    link: Link,
    #[arg(long, value_enum, default_value = "udp")]
    transport: Transport,
    #[arg(long, value_enum, default_value = "v4")]
    ip: IpVersion,
    /// Gzip the output.
    #[arg(long)]
    gzip: bool,
    /// Number of peers (each sends a microphone and a camera).
    #[arg(long, default_value_t = 2)]
    peers: usize,
    /// Length of the capture in seconds.
    #[arg(long, default_value_t = 4.0)]
    seconds: f64,
    #[arg(long, default_value_t = 1000)]
    video_bitrate_kbps: u32,
    #[arg(long, value_enum, default_value = "opus")]
    audio: Audio,
    #[arg(long, value_enum, default_value = "vp8")]
    video: Video,
    /// Loss probability per RTP packet (0.02 = 2 %).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Duplication probability per RTP packet.
    #[arg(long, default_value_t = 0.0)]
    dup: f64,
    /// Reordering probability per RTP packet (swap with one up to 3 later).
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep generating until the file holds this many MiB (uncompressed); ignores --seconds.
    #[arg(long)]
    size_mib: Option<u64>,
    /// pcapng: number of sections (the capture's time is split evenly; odd sections big-endian).
    #[arg(long, default_value_t = 1)]
    sections: u32,
    /// pcapng: interfaces per section; peer i uses interface i % N (links: --link, raw, sll2, null; tsresol 6, 9, ...).
    #[arg(long, default_value_t = 1)]
    interfaces: u32,
    /// No RTCP sender reports.
    #[arg(long)]
    no_rtcp: bool,
    /// --transport frag: largest IP payload per fragment.
    #[arg(long, default_value_t = 512)]
    frag_size: usize,
}

/// The file, gzip'd or not.
enum Out {
    Plain(BufWriter<File>),
    // Boxed: the compressor's state is far larger than a BufWriter.
    Gz(Box<flate2::write::GzEncoder<BufWriter<File>>>),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::Plain(w) => w.write(buf),
            Out::Gz(w) => w.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Out::Plain(w) => w.write_all(buf),
            Out::Gz(w) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Plain(w) => w.flush(),
            Out::Gz(w) => w.flush(),
        }
    }
}

impl Out {
    fn finish(self) -> io::Result<()> {
        let mut w = match self {
            Out::Plain(w) => w,
            Out::Gz(w) => w.finish()?,
        };
        w.flush()
    }
}

type W = CountingWriter<Out>;

enum Sink {
    Pcap(PcapWriter<W>),
    PcapNg {
        w: PcapNgWriter<W>,
        section: u32,
        commented: bool,
    },
    RtpDump(RtpDumpWriter<W>),
}

/// Per-TCP-flow state: next sequence number and bytes not yet sent.
struct TcpFlow {
    seq: u32,
    pending: Vec<u8>,
    time_ns: i64,
    peer: usize,
}

struct Encoder {
    /// Link of each pcapng interface; peer i uses `links[i % links.len()]`.
    links: Vec<LinkKind>,
    link: LinkKind,
    transport: Transport,
    frag_size: usize,
    rng: Rng,
    ip_id: u32,
    tcp: HashMap<(SocketAddr, SocketAddr), TcpFlow>,
    frame: Vec<u8>,
    inner: Vec<u8>,
}

const TURN_PORT: u16 = 3478;

/// Receives (capture time, link frame, peer index) for every record to write.
type Emit<'a> = dyn FnMut(i64, &[u8], usize) -> io::Result<()> + 'a;

impl Encoder {
    /// Calls `emit(time, frame)` for every link frame that carries `data` from `src` to `dst`.
    #[allow(clippy::too_many_arguments)]
    fn encode(
        &mut self,
        time: i64,
        peer: usize,
        src: SocketAddr,
        dst: SocketAddr,
        data: &[u8],
        emit: &mut Emit<'_>,
    ) -> io::Result<()> {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.link = self.links[peer % self.links.len()];
        let turn = SocketAddr::new(dst.ip(), TURN_PORT);
        match self.transport {
            Transport::Udp => self.udp(time, src, dst, data, peer, emit),
            Transport::Frag => {
                let len = data.len() + 8;
                if len > self.frag_size {
                    let n = len.div_ceil(self.frag_size);
                    let frags = packet::udp_fragments(self.link, src, dst, self.ip_id, data, n)
                        .expect("one IP version per flow");
                    for f in frags {
                        emit(time, &f, peer)?;
                    }
                    Ok(())
                } else {
                    self.udp(time, src, dst, data, peer, emit)
                }
            }
            Transport::Turn => {
                self.inner.clear();
                match peer % 3 {
                    0 => {
                        push_channel_data(
                            &mut self.inner,
                            0x4000 + (peer as u16 & 0x3ff),
                            data,
                            false,
                        );
                        let inner = std::mem::take(&mut self.inner);
                        let r = self.udp(time, src, turn, &inner, peer, emit);
                        self.inner = inner;
                        r
                    }
                    1 => {
                        let txid = self.txid();
                        push_stun_indication(
                            &mut self.inner,
                            STUN_SEND_INDICATION,
                            txid,
                            dst,
                            data,
                        );
                        let inner = std::mem::take(&mut self.inner);
                        let r = self.udp(time, src, turn, &inner, peer, emit);
                        self.inner = inner;
                        r
                    }
                    _ => {
                        // The relay hands the peer's media to the client: server:3478 -> client.
                        let txid = self.txid();
                        push_stun_indication(
                            &mut self.inner,
                            STUN_DATA_INDICATION,
                            txid,
                            dst,
                            data,
                        );
                        let inner = std::mem::take(&mut self.inner);
                        let r = self.udp(time, turn, src, &inner, peer, emit);
                        self.inner = inner;
                        r
                    }
                }
            }
            Transport::Tcp => {
                self.inner.clear();
                push_rfc4571(&mut self.inner, data);
                self.tcp(time, src, dst, peer, emit)
            }
            Transport::TurnTcp => {
                self.inner.clear();
                push_channel_data(&mut self.inner, 0x4000 + (peer as u16 & 0x3ff), data, true);
                self.tcp(time, src, turn, peer, emit)
            }
        }
    }

    fn txid(&mut self) -> [u8; 12] {
        let mut t = [0u8; 12];
        self.rng.fill(&mut t);
        t
    }

    fn udp(
        &mut self,
        time: i64,
        src: SocketAddr,
        dst: SocketAddr,
        data: &[u8],
        peer: usize,
        emit: &mut Emit<'_>,
    ) -> io::Result<()> {
        self.frame.clear();
        packet::udp_frame(
            &mut self.frame,
            self.link,
            src,
            dst,
            self.ip_id as u16,
            data,
        )
        .expect("one IP version per flow");
        emit(time, &self.frame, peer)
    }

    /// Appends `self.inner` to the flow; sends it now, later (coalesced) or in two segments.
    fn tcp(
        &mut self,
        time: i64,
        src: SocketAddr,
        dst: SocketAddr,
        peer: usize,
        emit: &mut Emit<'_>,
    ) -> io::Result<()> {
        let link = self.link;
        if !self.tcp.contains_key(&(src, dst)) {
            // Three-way handshake so readers see where the byte stream starts.
            let isn = self.rng.next_u32();
            let server_isn = self.rng.next_u32();
            for (s, d, seq, ack, flags) in [
                (src, dst, isn, 0, tcp_flags::SYN),
                (
                    dst,
                    src,
                    server_isn,
                    isn.wrapping_add(1),
                    tcp_flags::SYN | tcp_flags::ACK,
                ),
                (
                    src,
                    dst,
                    isn.wrapping_add(1),
                    server_isn.wrapping_add(1),
                    tcp_flags::ACK,
                ),
            ] {
                self.frame.clear();
                packet::tcp_frame(&mut self.frame, link, s, d, seq, ack, flags, &[])
                    .expect("one IP version per flow");
                emit(time, &self.frame, peer)?;
            }
            self.tcp.insert(
                (src, dst),
                TcpFlow {
                    seq: isn.wrapping_add(1),
                    pending: Vec::new(),
                    time_ns: time,
                    peer,
                },
            );
        }
        let flow = self.tcp.get_mut(&(src, dst)).expect("inserted above");
        flow.pending.extend_from_slice(&self.inner);
        flow.time_ns = time;
        if flow.pending.len() < 1200 && self.rng.chance(0.25) {
            return Ok(()); // coalesce with the next frame of this flow
        }
        let split = if flow.pending.len() > 4 && self.rng.chance(0.3) {
            1 + self.rng.below(flow.pending.len() as u64 - 1) as usize
        } else {
            flow.pending.len()
        };
        Self::send_segments(&mut self.frame, link, src, dst, flow, split, peer, emit)
    }

    #[allow(clippy::too_many_arguments)]
    fn send_segments(
        frame: &mut Vec<u8>,
        link: LinkKind,
        src: SocketAddr,
        dst: SocketAddr,
        flow: &mut TcpFlow,
        split: usize,
        peer: usize,
        emit: &mut Emit<'_>,
    ) -> io::Result<()> {
        let data = std::mem::take(&mut flow.pending);
        for part in [&data[..split], &data[split..]] {
            if part.is_empty() {
                continue;
            }
            frame.clear();
            let flags = tcp_flags::ACK | tcp_flags::PSH;
            packet::tcp_frame(frame, link, src, dst, flow.seq, 1, flags, part)
                .expect("one IP version per flow");
            flow.seq = flow.seq.wrapping_add(part.len() as u32);
            emit(flow.time_ns, frame, peer)?;
        }
        flow.pending = data;
        flow.pending.clear();
        Ok(())
    }

    /// Sends whatever TCP flows still hold (at the end of the capture).
    fn flush(&mut self, emit: &mut Emit<'_>) -> io::Result<()> {
        let mut keys: Vec<_> = self.tcp.keys().copied().collect();
        keys.sort();
        for k in keys {
            let flow = self.tcp.get_mut(&k).expect("key from the map");
            let n = flow.pending.len();
            let (link, peer) = (self.links[flow.peer % self.links.len()], flow.peer);
            Self::send_segments(&mut self.frame, link, k.0, k.1, flow, n, peer, emit)?;
        }
        Ok(())
    }
}

fn media(args: &Args) -> (MediaKind, MediaKind) {
    let a = match args.audio {
        Audio::Opus => MediaKind::Opus,
        Audio::Pcmu => MediaKind::Pcmu,
        Audio::Pcma => MediaKind::Pcma,
    };
    let v = match args.video {
        Video::Vp8 => MediaKind::Vp8,
        Video::H264 => MediaKind::H264,
    };
    (a, v)
}

fn run(args: &Args) -> io::Result<serde_json::Value> {
    let (audio, video) = media(args);
    let seconds = if args.size_mib.is_some() {
        0.0
    } else {
        args.seconds
    };
    let mut cfg = ScenarioConfig::conference_with(args.peers, seconds, args.seed, audio, video);
    cfg.impairment = Impairment {
        loss: args.loss,
        duplicate: args.dup,
        reorder: args.reorder,
        reorder_depth: 3,
    };
    if args.no_rtcp {
        cfg.rtcp_interval_ns = None;
    }
    for s in cfg.peers.iter_mut().flat_map(|p| p.streams.iter_mut()) {
        if s.kind.is_video() {
            s.bitrate_bps = args.video_bitrate_kbps.saturating_mul(1000);
        }
    }
    match args.ip {
        IpVersion::V4 => {}
        IpVersion::V6 => cfg.use_ipv6(),
        IpVersion::Mixed => {
            let mut v6 = cfg.clone();
            v6.use_ipv6();
            for (i, p) in cfg.peers.iter_mut().enumerate() {
                if i % 2 == 1 {
                    p.addr = v6.peers[i].addr;
                    p.server = Some(v6.server);
                }
            }
        }
    }
    if args.format == Format::Rtpdump && (cfg.server.is_ipv6() || args.ip != IpVersion::V4) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "rtpdump holds IPv4 addresses only: use --ip v4",
        ));
    }
    let start_ns = cfg.start_ns;
    let duration_ns = cfg.duration_ns;
    let server = cfg.server;
    let file = BufWriter::with_capacity(1 << 20, File::create(&args.out)?);
    let out = if args.gzip {
        Out::Gz(Box::new(rtprec::testutil::writers::gzip(file, 6)))
    } else {
        Out::Plain(file)
    };
    let counting = CountingWriter::new(out);
    let link = args.link.kind();
    let iface_links: Vec<LinkKind> = {
        let mut v = vec![link];
        for l in [
            LinkKind::Raw,
            LinkKind::Sll2,
            LinkKind::Null,
            LinkKind::Ethernet,
        ] {
            if !v.contains(&l) {
                v.push(l);
            }
        }
        v
    };
    let nif = args.interfaces.clamp(1, iface_links.len() as u32);
    let nsec = args.sections.max(1);
    let declare = |w: &mut PcapNgWriter<W>, k: u32| -> io::Result<()> {
        let endian = if k % 2 == 1 {
            Endian::Big
        } else {
            Endian::Little
        };
        w.begin_section(endian, Some(&format!("rtprec gencap section {}", k + 1)))?;
        for j in 0..nif {
            let mut spec = InterfaceSpec::new(
                iface_links[j as usize].link_type(),
                if j % 2 == 0 { 6 } else { 9 },
            );
            spec.name = Some(format!("gen{j}"));
            // pcap-parser 0.17 reads if_tsoffset little-endian only: keep offsets in LE sections.
            if j % 2 == 1 && endian == Endian::Little {
                spec.tsoffset = Some(start_ns.div_euclid(1_000_000_000));
            }
            w.add_interface(spec)?;
        }
        Ok(())
    };
    let mut sink = match args.format {
        Format::Pcap | Format::PcapNs | Format::PcapBe => {
            let opts = PcapOptions {
                nanos: args.format == Format::PcapNs,
                endian: if args.format == Format::PcapBe {
                    Endian::Big
                } else {
                    Endian::Little
                },
                link_type: link.link_type(),
                snaplen: 262_144,
            };
            Sink::Pcap(PcapWriter::new(counting, opts)?)
        }
        Format::Pcapng => {
            let mut w = PcapNgWriter::new(counting);
            declare(&mut w, 0)?;
            Sink::PcapNg {
                w,
                section: 0,
                commented: false,
            }
        }
        Format::Rtpdump => {
            let IpAddr::V4(ip) = server.ip() else {
                unreachable!("checked above")
            };
            Sink::RtpDump(RtpDumpWriter::new(counting, ip, server.port(), start_ns)?)
        }
    };
    let limit = args.size_mib.map(|m| m << 20);
    let mut scenario = Scenario::new(cfg);
    let links = if args.format == Format::Pcapng {
        iface_links[..nif as usize].to_vec()
    } else {
        vec![link]
    };
    let mut enc = Encoder {
        links,
        link,
        transport: args.transport,
        frag_size: args.frag_size.max(16),
        rng: Rng::new(args.seed ^ 0x7c9),
        ip_id: 0,
        tcp: HashMap::new(),
        frame: Vec::with_capacity(2048),
        inner: Vec::with_capacity(2048),
    };
    let records = std::cell::Cell::new(0u64);
    let section_len = duration_ns.unwrap_or(i64::MAX) / i64::from(nsec);
    let emit = |time: i64, frame: &[u8], peer: usize, sink: &mut Sink| -> io::Result<()> {
        records.set(records.get() + 1);
        match sink {
            Sink::Pcap(w) => w.write_packet(time, frame),
            Sink::PcapNg {
                w,
                section,
                commented,
            } => {
                let want = (((time - start_ns) / section_len.max(1)) as u32).min(nsec - 1);
                while *section < want {
                    *section += 1;
                    declare(w, *section)?;
                    *commented = false;
                }
                let comment = if *commented {
                    None
                } else {
                    Some("first packet of this section")
                };
                *commented = true;
                w.write_packet_with(peer as u32 % nif, time, frame, comment)
            }
            Sink::RtpDump(_) => unreachable!("rtpdump is written without link frames"),
        }
    };
    let written = |sink: &Sink| match sink {
        Sink::Pcap(w) => w.get_ref().count(),
        Sink::PcapNg { w, .. } => w.get_ref().count(),
        Sink::RtpDump(w) => w.get_ref().count(),
    };
    loop {
        if limit.is_some_and(|l| written(&sink) >= l) {
            break;
        }
        let Some(p) = scenario.next_packet() else {
            break;
        };
        if let Sink::RtpDump(w) = &mut sink {
            records.set(records.get() + 1);
            if p.rtcp {
                w.write_rtcp(p.time_ns, p.data)?
            } else {
                w.write_rtp(p.time_ns, p.data)?
            }
            continue;
        }
        let (time, peer, src, dst) = (p.time_ns, p.peer, p.src, p.dst);
        enc.encode(time, peer, src, dst, p.data, &mut |t, f, pe| {
            emit(t, f, pe, &mut sink)
        })?;
    }
    enc.flush(&mut |t, f, pe| emit(t, f, pe, &mut sink))?;
    let size = written(&sink);
    let inner = match sink {
        Sink::Pcap(w) => w.into_inner()?,
        Sink::PcapNg { w, .. } => w.into_inner()?,
        Sink::RtpDump(w) => w.into_inner()?,
    };
    inner.into_inner().finish()?;
    let truth = scenario.truth();
    let mut v = serde_json::to_value(&truth).map_err(io::Error::other)?;
    v["file"] = args.out.display().to_string().into();
    v["records"] = records.get().into();
    v["uncompressed_bytes"] = size.into();
    Ok(v)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(v) => {
            let mut stdout = io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut stdout, &v);
            let _ = writeln!(stdout);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gencap: {}: {e}", args.out.display());
            ExitCode::from(2)
        }
    }
}
