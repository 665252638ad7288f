//! Any bytes as a sequence of captured frames of any link type: the network
//! decoder never panics, counts every datagram it emits, and never emits more
//! than one IP packet's worth (or one TCP-framed message) at a time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::capture::{CapturedFrame, FrameMeta, Link, LinkType};
use rtprec::error::FileId;
use rtprec::net::{NetConfig, NetDecoder};
use rtprec::time::CaptureTime;

const LINKS: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];

fuzz_target!(|data: &[u8]| {
    // Small bounds so that eviction paths run too.
    let mut dec = NetDecoder::new(NetConfig {
        max_fragment_sets: 4,
        max_tcp_flows: 4,
        max_tcp_buffer: 4096,
        max_tcp_held_segments: 4,
        ..NetConfig::default()
    });
    let mut emitted = 0u64;
    let mut rest = data;
    let mut index = 0u64;
    // Each frame: link selector, time step (s), 2-byte length, bytes.
    while let [sel, step, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;
        index += 1;
        let meta = FrameMeta {
            file: FileId(0),
            index,
            offset: 0,
            time: CaptureTime::from_secs_nanos(index as i64 + i64::from(*step), 0),
            link: Link::Pcap(LinkType(LINKS[usize::from(*sel) % LINKS.len()])),
            orig_len: len as u32,
        };
        dec.push(&CapturedFrame { meta, data: bytes }, &mut |d| {
            assert!(d.payload.len() <= 65_535 + 20);
            emitted += 1;
        });
    }
    dec.finish(&mut |_| emitted += 1);
    assert_eq!(dec.stats().datagrams, emitted);
    assert!(dec.take_diagnostics().len() <= 64);
});
