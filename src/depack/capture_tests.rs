//! Real captures from `../shared/captures/` through reorder buffer + depacketizer,
//! read with rtprec's own capture, network and RTP stages.
//! Absent captures skip with a printed reason, except under `CI`, where they fail.

use super::{DepackStats, Depacketizer};
use crate::codec::Codec;
use crate::media::Frame;
use crate::rtp::{PacketClass, RtpPacket, classify};
use crate::testutil::shared::{datagrams, read_shared};
use crate::time::CaptureTime;
use crate::track::{Arrival, ReorderBuffer, ReorderStats, TrackItem};
use std::collections::BTreeMap;

/// One RTP packet as captured.
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
    pub time: CaptureTime,
}

/// RTP packets of an in-memory capture, in capture order.
pub(crate) fn rtp_packets(capture: &[u8]) -> Vec<Captured> {
    datagrams(capture)
        .into_iter()
        .filter(|d| classify(&d.payload) == PacketClass::Rtp)
        .filter_map(|d| {
            let p = RtpPacket::parse(&d.payload).ok()?;
            Some(Captured {
                pt: p.payload_type(),
                seq: p.sequence_number(),
                ts: p.timestamp(),
                marker: p.marker(),
                payload: p.payload().to_vec(),
                time: d.time,
            })
        })
        .collect()
}

/// Runs one payload type through reorder buffer and depacketizer, like the pipeline will.
pub(crate) fn depacketize(
    codec: Codec,
    pt: u8,
    pkts: &[Captured],
) -> (Vec<Frame>, ReorderStats, DepackStats) {
    let mut reorder = ReorderBuffer::default();
    let mut depack = Depacketizer::new(codec).expect("supported codec");
    let mut frames = Vec::new();
    let mut drain = |reorder: &mut ReorderBuffer, depack: &mut Depacketizer| {
        while let Some(item) = reorder.pull() {
            match item {
                TrackItem::Packet(p) => {
                    let _ = depack.push(p.as_rtp_in());
                }
                TrackItem::Gap { lost } => depack.gap(lost),
                TrackItem::Reset => depack.gap(0),
            }
            depack.check_invariants();
            frames.extend(std::iter::from_fn(|| depack.pull()));
        }
    };
    for p in pkts.iter().filter(|p| p.pt == pt) {
        reorder.push(Arrival::new(
            p.seq,
            p.ts,
            p.marker,
            p.payload.clone(),
            p.time,
        ));
        reorder.check_invariants();
        drain(&mut reorder, &mut depack);
    }
    reorder.flush();
    drain(&mut reorder, &mut depack);
    depack.flush();
    frames.extend(std::iter::from_fn(|| depack.pull()));
    (frames, reorder.stats(), depack.stats().clone())
}

/// IVF frames (32-byte file header, then 12-byte frame headers: u32 LE size, u64 LE pts).
fn ivf_frames(ivf: &[u8]) -> Vec<&[u8]> {
    assert_eq!(&ivf[..4], b"DKIF");
    let header = usize::from(u16::from_le_bytes([ivf[6], ivf[7]]));
    let mut rest = &ivf[header..];
    let mut out = Vec::new();
    while rest.len() >= 12 {
        let size = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        out.push(&rest[12..12 + size]);
        rest = &rest[12 + size..];
    }
    out
}

#[test]
fn membrane_vp8_matches_reference_ivf() {
    let (Some(pcap), Some(ivf)) = (
        read_shared("membrane_input_vp8.pcap"),
        read_shared("membrane_input_vp8.ivf"),
    ) else {
        return;
    };
    let pkts = rtp_packets(&pcap);
    assert_eq!(pkts.len(), 410);
    let (frames, rs, ds) = depacketize(Codec::Vp8, 96, &pkts);
    let want = ivf_frames(&ivf);
    assert_eq!(want.len(), 300);
    assert_eq!(frames.len(), 300, "reorder {rs:?} depack {ds:?}");
    for (i, (got, want)) in frames.iter().zip(&want).enumerate() {
        assert!(
            got.data == *want,
            "frame {i} differs ({} vs {} bytes)",
            got.data.len(),
            want.len()
        );
    }
    assert!(frames[0].keyframe);
    assert_eq!(frames[0].dimensions, Some((1080, 720)));
    assert!(frames.windows(2).all(|w| w[0].ts < w[1].ts));
    assert_eq!((rs.lost, rs.duplicates, ds.malformed_total()), (0, 0, 0));
}

#[test]
fn str0m_vp8_one_frame_per_complete_timestamp() {
    let Some(pcap) = read_shared("str0m_vp8.pcap") else {
        return;
    };
    let pkts = rtp_packets(&pcap);
    assert_eq!(pkts.len(), 104);
    let (frames, rs, ds) = depacketize(Codec::Vp8, 96, &pkts);
    // Independent count: timestamps whose packets run from S=1/PID=0 to a
    // marker with no sequence hole.
    let mut by_ts: BTreeMap<u32, Vec<&Captured>> = BTreeMap::new();
    for p in &pkts {
        by_ts.entry(p.ts).or_default().push(p);
    }
    let complete = by_ts
        .values()
        .filter(|ps| {
            let mut ps: Vec<&Captured> = ps.to_vec();
            ps.sort_by_key(|p| p.seq);
            let d = crate::codec::vp8::Vp8Descriptor::parse(&ps[0].payload).expect("descriptor");
            d.start
                && d.partition == 0
                && ps.last().is_some_and(|p| p.marker)
                && ps.windows(2).all(|w| w[1].seq == w[0].seq.wrapping_add(1))
        })
        .count();
    assert_eq!(frames.len(), complete, "reorder {rs:?} depack {ds:?}");
    assert!(frames[0].keyframe);
    assert!(frames[0].dimensions.is_some());
    eprintln!(
        "str0m_vp8: {} frames, first {:?}, {} keyframes",
        frames.len(),
        frames[0].dimensions,
        frames.iter().filter(|f| f.keyframe).count()
    );
}

/// This capture starts mid-stream: 16 pictures, all inter (P=1, header 0x86),
/// the last without its marker. With no key frame nothing may be emitted;
/// the 15 complete pictures are counted as waiting for a key frame.
#[test]
fn str0m_vp9_without_keyframe_emits_nothing() {
    let Some(pcap) = read_shared("str0m_contiguous_vp9.pcap") else {
        return;
    };
    let pkts = rtp_packets(&pcap);
    assert_eq!(pkts.len(), 200);
    let (frames, rs, ds) = depacketize(Codec::Vp9, 98, &pkts);
    let markers = pkts.iter().filter(|p| p.marker).count() as u64;
    assert_eq!(markers, 15);
    assert!(frames.is_empty());
    assert_eq!((rs.lost, rs.duplicates, rs.reordered), (0, 0, 0));
    assert_eq!(ds.dropped_waiting_keyframe, markers, "{ds:?}");
    assert_eq!(ds.dropped_incomplete, 1, "{ds:?}");
    assert_eq!(ds.malformed_total(), 0);
}
