//! Writes hostile captures for benches/hostile.sh: many one-packet SSRCs, or
//! jumbo UDP datagrams (IPv4-fragmented) each from its own source port.
//!
//! ```text
//! cargo run --release --example hostile -- ssrcs --count 100000 --out ssrcs.pcap
//! cargo run --release --example hostile -- jumbo --count 20000 --out jumbo.pcap
//! ```
//!
//! Every byte follows from the arguments: no randomness.

use rtprec::testutil::packet::{LinkKind, udp_fragments, udp_frame};
use rtprec::testutil::writers::{PcapOptions, PcapWriter};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Capture start (2026-01-01T00:00:00Z), nanoseconds.
const START_NS: i64 = 1_767_225_600_000_000_000;

/// An RTP packet (version 2, payload type 96) with `payload_len` bytes of payload.
fn rtp(ssrc: u32, seq: u16, ts: u32, payload_len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload_len);
    p.extend_from_slice(&[0x80, 96]);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    // Bytes that vary with the SSRC, so no two packets are alike.
    p.extend((0..payload_len).map(|i| (i as u32 ^ ssrc) as u8));
    p
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: hostile ssrcs|jumbo [--count N] [--payload BYTES] [--gap-us MICROS] --out FILE"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first().cloned() else {
        return usage();
    };
    let mut count: u64 = if mode == "jumbo" { 20_000 } else { 100_000 };
    let mut payload: usize = if mode == "jumbo" { 65_000 } else { 100 };
    // 10 us apart: 1,000,000 packets span 10 s of capture time.
    let mut gap_us: i64 = 10;
    let mut out: Option<String> = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let v = it.next();
        match (a.as_str(), v) {
            ("--count", Some(v)) => match v.parse() {
                Ok(n) => count = n,
                Err(_) => return usage(),
            },
            ("--payload", Some(v)) => match v.parse() {
                Ok(n) => payload = n,
                Err(_) => return usage(),
            },
            ("--gap-us", Some(v)) => match v.parse() {
                Ok(n) => gap_us = n,
                Err(_) => return usage(),
            },
            ("--out", Some(v)) => out = Some(v.clone()),
            _ => return usage(),
        }
    }
    let Some(out) = out else { return usage() };
    match write(&mode, count, payload, gap_us, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostile: {out}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(mode: &str, count: u64, payload: usize, gap_us: i64, out: &str) -> std::io::Result<()> {
    let file = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let mut w = PcapWriter::new(
        file,
        PcapOptions {
            nanos: true,
            ..PcapOptions::default()
        },
    )?;
    let dst: SocketAddr = "10.0.0.2:40000".parse().map_err(std::io::Error::other)?;
    let mut frame = Vec::new();
    for i in 0..count {
        let time = START_NS + i as i64 * gap_us * 1000;
        let ssrc = 0x1000_0000u32.wrapping_add(i as u32);
        // Sources spread over 10.1.0.0/16 and every port from 1024: distinct 5-tuples.
        let src: SocketAddr = SocketAddr::from((
            [10, 1, (i >> 16) as u8, (i >> 8) as u8],
            1024 + (i % 64_000) as u16,
        ));
        let pkt = rtp(ssrc, (i as u16).wrapping_mul(7), i as u32, payload);
        match mode {
            "ssrcs" => {
                frame.clear();
                udp_frame(&mut frame, LinkKind::Ethernet, src, dst, i as u16, &pkt)
                    .ok_or_else(|| std::io::Error::other("bad addresses"))?;
                w.write_packet(time, &frame)?;
            }
            "jumbo" => {
                // 1500-byte MTU: about 45 fragments per datagram.
                let n = (8 + pkt.len()).div_ceil(1480);
                let frags = udp_fragments(LinkKind::Ethernet, src, dst, i as u32, &pkt, n)
                    .ok_or_else(|| std::io::Error::other("bad addresses"))?;
                for f in frags {
                    w.write_packet(time, &f)?;
                }
            }
            _ => return Err(std::io::Error::other(format!("unknown mode {mode}"))),
        }
    }
    w.into_inner()?.flush()
}
