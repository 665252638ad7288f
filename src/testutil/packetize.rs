//! RTP packetizers for real encoded frames: VP8 (RFC 7741), VP9 (RFC 9628), AV1 (AOM RTP §4), Opus (RFC 7587).
//!
//! Each call turns one [`EncodedFrame`] into RTP payloads (no RTP header) with
//! the marker bit to set; the caller adds headers, sequence numbers and the
//! timestamp (`first_ts + frame.offset`). Video frames are split the way
//! libwebrtc does: into equal-sized packets that fit `max_payload`.
//!
//! - VP8: 4-byte descriptor X=1, S=1 on the first packet, partition index 0,
//!   I=1 with a 15-bit PictureID (incremented per frame); marker on the last packet.
//! - VP9: non-flexible mode, I=1 with a 15-bit PictureID, B on the first and E
//!   on the last packet, P=1 for inter frames, no layer indices (L=0). Key
//!   frames carry the scalability structure on their first packet: V=1, one
//!   spatial layer, Y=1 with the resolution, no picture group (G=0). A
//!   superframe from the encoder is sent as one layer frame (we only feed
//!   single-layer, no-altref streams, which have none).
//! - AV1: temporal delimiters and tile lists dropped (§5), OBUs sent without
//!   their size field. Elements are packed greedily; a packet with at most 3
//!   elements uses W = count (the last element without a length), otherwise
//!   W=0 and every element has a LEB128 length. An OBU that does not fit is
//!   fragmented across packets (Y on the packet it continues from, Z on the
//!   next). N=1 on the first packet of a key frame that holds a sequence header.
//! - Opus: one RTP packet per Opus packet; marker on the first packet of the stream.
//! - H.264 (RFC 6184, packetization-mode 1) and H.265 (RFC 7798, no DONL):
//!   consecutive NAL units that fit together go in one STAP-A/AP (SPS, PPS,
//!   SEI and small slices), a lone one as a single NAL unit packet, and one
//!   larger than a packet as FU-A/FU fragments of equal size; marker on the
//!   last packet of the access unit.

use super::encoded::{
    EncodedCodec, EncodedFrame, OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER, OBU_TILE_LIST,
    leb128_len, push_leb128, split_obus,
};

/// One RTP payload and its marker bit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// The RTP payload (descriptor or aggregation header included).
    pub data: Vec<u8>,
    /// RTP marker bit.
    pub marker: bool,
}

/// Packetizes the frames of one stream.
#[derive(Clone, Debug)]
pub struct FramePacketizer {
    codec: EncodedCodec,
    max_payload: usize,
    picture_id: u16,
    dimensions: Option<(u16, u16)>,
    frames: u64,
}

impl FramePacketizer {
    /// A packetizer for `codec` whose payloads are at most `max_payload` bytes
    /// (at least 64); `picture_id` is the first VP8/VP9 PictureID (15 bits);
    /// `dimensions` go into the VP9 scalability structure.
    pub fn new(
        codec: EncodedCodec,
        max_payload: usize,
        picture_id: u16,
        dimensions: Option<(u16, u16)>,
    ) -> Self {
        FramePacketizer {
            codec,
            max_payload: max_payload.max(64),
            picture_id: picture_id & 0x7fff,
            dimensions,
            frames: 0,
        }
    }

    /// Appends the payloads of `frame` to `out`. Frames AV1 cannot parse become no packets.
    pub fn packetize(&mut self, frame: &EncodedFrame, out: &mut Vec<Payload>) {
        let first = self.frames == 0;
        self.frames += 1;
        match self.codec {
            // One packet per frame; the marker starts the talkspurt (RFC 3551 §4.1).
            EncodedCodec::Opus
            | EncodedCodec::Pcmu
            | EncodedCodec::Pcma
            | EncodedCodec::G722
            | EncodedCodec::L16 => out.push(Payload {
                data: frame.data.clone(),
                marker: first,
            }),
            EncodedCodec::Vp8 => self.vp8(frame, out),
            EncodedCodec::Vp9 => self.vp9(frame, out),
            EncodedCodec::Av1 => av1(frame, self.max_payload, out),
            EncodedCodec::H264 => h26x(frame, false, self.max_payload, out),
            EncodedCodec::H265 => h26x(frame, true, self.max_payload, out),
        }
    }

    fn next_picture_id(&mut self) -> u16 {
        let pid = self.picture_id;
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        pid
    }

    fn vp8(&mut self, frame: &EncodedFrame, out: &mut Vec<Payload>) {
        let pid = self.next_picture_id();
        let chunks = split_even(frame.data.len(), self.max_payload - 4);
        let n = chunks.len();
        for (i, (off, len)) in chunks.into_iter().enumerate() {
            // RFC 7741 §4.2: |X|R|N|S|R|PID|, |I|L|T|K|RSV|, |M| PictureID (15 bits).
            let mut d = vec![
                if i == 0 { 0x90 } else { 0x80 },
                0x80,
                0x80 | (pid >> 8) as u8,
                pid as u8,
            ];
            d.extend_from_slice(&frame.data[off..off + len]);
            out.push(Payload {
                data: d,
                marker: i + 1 == n,
            });
        }
    }

    fn vp9(&mut self, frame: &EncodedFrame, out: &mut Vec<Payload>) {
        let pid = self.next_picture_id();
        let ss = match (frame.keyframe, self.dimensions) {
            (true, Some((w, h))) => {
                // RFC 9628 §4.2.1: N_S=0 (one spatial layer), Y=1, G=0; then WIDTH, HEIGHT.
                let mut s = vec![0x10];
                s.extend_from_slice(&w.to_be_bytes());
                s.extend_from_slice(&h.to_be_bytes());
                s
            }
            _ => Vec::new(),
        };
        // The first packet also carries the scalability structure: split what is left.
        let budget = self.max_payload - 3;
        let mut chunks = split_even(frame.data.len() + ss.len(), budget);
        if let Some(c) = chunks.first_mut() {
            c.1 -= ss.len().min(c.1);
        }
        let mut off = 0;
        let n = chunks.len();
        for (i, (_, len)) in chunks.into_iter().enumerate() {
            // RFC 9628 §4.2: |I|P|L|F|B|E|V|Z|, |M| PictureID (15 bits), [SS].
            let mut b0 = 0x80;
            if !frame.keyframe {
                b0 |= 0x40;
            }
            if i == 0 {
                b0 |= 0x08;
            }
            if i + 1 == n {
                b0 |= 0x04;
            }
            if i == 0 && !ss.is_empty() {
                b0 |= 0x02;
            }
            let mut d = vec![b0, 0x80 | (pid >> 8) as u8, pid as u8];
            if i == 0 {
                d.extend_from_slice(&ss);
            }
            d.extend_from_slice(&frame.data[off..off + len]);
            off += len;
            out.push(Payload {
                data: d,
                marker: i + 1 == n,
            });
        }
        debug_assert_eq!(off, frame.data.len());
    }
}

/// H.264/H.265 access unit (length-prefixed NAL units) to STAP-A/AP, single NAL and FU-A/FU packets.
fn h26x(frame: &EncodedFrame, h265: bool, max: usize, out: &mut Vec<Payload>) {
    let mut nals = Vec::new();
    let mut rest = &frame.data[..];
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let n = (u32::from_be_bytes(*len) as usize).min(tail.len());
        nals.push(&tail[..n]);
        rest = &tail[n..];
    }
    let hdr = if h265 { 2 } else { 1 };
    let start = out.len();
    let mut group: Vec<&[u8]> = Vec::new();
    let flush = |group: &mut Vec<&[u8]>, out: &mut Vec<Payload>| {
        match group.len() {
            0 => {}
            1 => out.push(Payload {
                data: group[0].to_vec(),
                marker: false,
            }),
            _ => {
                // STAP-A (RFC 6184 §5.7.1) / AP (RFC 7798 §4.4.2): the header takes the
                // highest NRI (H.264) or lowest layer/TID (H.265; all ours are 0/1).
                let mut d = if h265 {
                    vec![48 << 1, group[0][1]]
                } else {
                    vec![24 | group.iter().map(|n| n[0] & 0x60).max().unwrap_or(0)]
                };
                for n in group.iter() {
                    d.extend_from_slice(&(n.len() as u16).to_be_bytes());
                    d.extend_from_slice(n);
                }
                out.push(Payload {
                    data: d,
                    marker: false,
                });
            }
        }
        group.clear();
    };
    let mut group_len = hdr;
    for nal in nals {
        if nal.len() + hdr > max {
            flush(&mut group, out);
            group_len = hdr;
            // FU-A (RFC 6184 §5.8) / FU (RFC 7798 §4.4.3).
            let body = &nal[hdr..];
            let chunks = split_even(body.len(), max - hdr - 1);
            let n = chunks.len();
            for (i, (off, len)) in chunks.into_iter().enumerate() {
                let se = (u8::from(i == 0) << 7) | (u8::from(i + 1 == n) << 6);
                let mut d = if h265 {
                    vec![
                        (nal[0] & 0x81) | (49 << 1),
                        nal[1],
                        se | ((nal[0] >> 1) & 0x3f),
                    ]
                } else {
                    vec![(nal[0] & 0xe0) | 28, se | (nal[0] & 0x1f)]
                };
                d.extend_from_slice(&body[off..off + len]);
                out.push(Payload {
                    data: d,
                    marker: false,
                });
            }
            continue;
        }
        if group_len + 2 + nal.len() > max {
            flush(&mut group, out);
            group_len = hdr;
        }
        group.push(nal);
        group_len += 2 + nal.len();
    }
    flush(&mut group, out);
    if out.len() > start
        && let Some(last) = out.last_mut()
    {
        last.marker = true;
    }
}

/// Splits `len` bytes into the fewest chunks of at most `max`, sizes differing by at most one.
fn split_even(len: usize, max: usize) -> Vec<(usize, usize)> {
    let n = len.div_ceil(max.max(1)).max(1);
    let (base, extra) = (len / n, len % n);
    let mut off = 0;
    (0..n)
        .map(|i| {
            let l = base + usize::from(i < extra);
            off += l;
            (off - l, l)
        })
        .collect()
}

/// One packet being built: its elements and Z/Y flags.
#[derive(Default)]
struct Av1Packet {
    elements: Vec<Vec<u8>>,
    continues: bool,
    will_continue: bool,
    /// Bytes if every element had a length field, plus the aggregation header.
    size: usize,
}

impl Av1Packet {
    fn new(continues: bool) -> Self {
        Av1Packet {
            continues,
            size: 1,
            ..Default::default()
        }
    }

    fn write(self, new_sequence: bool, marker: bool, out: &mut Vec<Payload>) {
        let n = self.elements.len();
        let w = if n <= 3 { n as u8 } else { 0 };
        let mut agg = w << 4;
        if self.continues {
            agg |= 0x80;
        }
        if self.will_continue {
            agg |= 0x40;
        }
        if new_sequence {
            agg |= 0x08;
        }
        let mut d = vec![agg];
        for (i, e) in self.elements.iter().enumerate() {
            if w == 0 || i + 1 < n {
                push_leb128(&mut d, e.len() as u64);
            }
            d.extend_from_slice(e);
        }
        out.push(Payload { data: d, marker });
    }
}

/// AV1 RTP payload format §4: see the module doc.
fn av1(frame: &EncodedFrame, max: usize, out: &mut Vec<Payload>) {
    let Ok(obus) = split_obus(&frame.data) else {
        return;
    };
    let new_sequence = frame.keyframe && obus.iter().any(|o| o.obu_type == OBU_SEQUENCE_HEADER);
    let mut packets = Vec::new();
    let mut cur = Av1Packet::new(false);
    for o in obus {
        if o.obu_type == OBU_TEMPORAL_DELIMITER || o.obu_type == OBU_TILE_LIST {
            continue;
        }
        // The OBU as sent: header without obu_has_size_field, extension, payload.
        let mut obu = vec![o.header & !0x02];
        obu.extend(o.extension);
        obu.extend_from_slice(o.payload);
        let mut rest: &[u8] = &obu;
        while !rest.is_empty() {
            let room = max - cur.size;
            let whole = leb128_len(rest.len() as u64) + rest.len();
            if whole <= room {
                cur.size += whole;
                cur.elements.push(rest.to_vec());
                break;
            }
            // Fragment only when a useful piece fits; otherwise start a new packet.
            let take = room.saturating_sub(leb128_len(room as u64));
            if take >= 32 {
                cur.elements.push(rest[..take].to_vec());
                cur.will_continue = true;
                rest = &rest[take..];
                packets.push(std::mem::replace(&mut cur, Av1Packet::new(true)));
            } else {
                packets.push(std::mem::replace(&mut cur, Av1Packet::new(false)));
            }
        }
    }
    if !cur.elements.is_empty() {
        packets.push(cur);
    }
    let n = packets.len();
    for (i, p) in packets.into_iter().enumerate() {
        p.write(new_sequence && i == 0, i + 1 == n, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::depack::Depacketizer;
    use crate::media::{Frame, RtpIn};

    /// Packetizes every frame and feeds the payloads to rtprec's depacketizer.
    fn round_trip(
        codec: EncodedCodec,
        frames: &[EncodedFrame],
        dims: Option<(u16, u16)>,
        max: usize,
    ) -> (Vec<Frame>, Vec<Vec<Payload>>) {
        let mut p = FramePacketizer::new(codec, max, 0x7ffe, dims);
        let mut d = Depacketizer::new(match codec {
            EncodedCodec::Opus => Codec::Opus,
            EncodedCodec::Vp8 => Codec::Vp8,
            EncodedCodec::Vp9 => Codec::Vp9,
            EncodedCodec::Av1 => Codec::Av1,
            EncodedCodec::H264 => Codec::H264,
            EncodedCodec::H265 => Codec::H265,
            EncodedCodec::Pcmu => Codec::Pcmu,
            EncodedCodec::Pcma => Codec::Pcma,
            EncodedCodec::G722 => Codec::G722,
            EncodedCodec::L16 => Codec::L16,
        })
        .unwrap();
        let (mut seq, mut out, mut per_frame) = (100u64, Vec::new(), Vec::new());
        for f in frames {
            let mut pl = Vec::new();
            p.packetize(f, &mut pl);
            for x in &pl {
                assert!(x.data.len() <= max, "{} > {max}", x.data.len());
                d.push(RtpIn {
                    seq,
                    ts: 1000 + u64::from(f.offset),
                    marker: x.marker,
                    payload: &x.data,
                })
                .unwrap();
                seq += 1;
                while let Some(fr) = d.pull() {
                    out.push(fr);
                }
            }
            per_frame.push(pl);
        }
        d.flush();
        while let Some(fr) = d.pull() {
            out.push(fr);
        }
        assert_eq!(d.stats().malformed_total(), 0);
        (out, per_frame)
    }

    fn frame(offset: u32, keyframe: bool, data: Vec<u8>) -> EncodedFrame {
        EncodedFrame {
            offset,
            duration: 3000,
            keyframe,
            data,
        }
    }

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    #[test]
    fn vp8_round_trip_and_descriptor() {
        let mut key = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
        key.extend(bytes(3000, 1));
        let mut inter = vec![0x11, 0x00, 0x00];
        inter.extend(bytes(500, 2));
        let frames = [frame(0, true, key), frame(3000, false, inter)];
        let (out, pkts) = round_trip(EncodedCodec::Vp8, &frames, None, 1200);
        assert_eq!(out.len(), 2);
        for (o, f) in out.iter().zip(&frames) {
            assert_eq!(o.data, f.data);
            assert_eq!(o.keyframe, f.keyframe);
            assert_eq!(o.ts, 1000 + u64::from(f.offset));
        }
        assert_eq!(out[0].dimensions, Some((320, 240)));
        // 3010 bytes in 3 packets of 1004 + descriptor; PictureID wraps 0x7fff -> 0.
        assert_eq!(pkts[0].len(), 3);
        assert_eq!(&pkts[0][0].data[..4], &[0x90, 0x80, 0xff, 0xfe]);
        assert_eq!(&pkts[0][1].data[..4], &[0x80, 0x80, 0xff, 0xfe]);
        assert_eq!(&pkts[1][0].data[..4], &[0x90, 0x80, 0xff, 0xff]);
        let markers: Vec<bool> = pkts[0].iter().map(|p| p.marker).collect();
        assert_eq!(markers, [false, false, true]);
    }

    #[test]
    fn vp9_round_trip_with_scalability_structure() {
        // Profile 0 key frame: 10 0 0 0 0 1 0, sync code, then anything.
        let mut key = vec![0x82, 0x49, 0x83, 0x42, 0x00, 0x13, 0xf0, 0x0e, 0xf0];
        key.extend(bytes(2500, 3));
        let mut inter = vec![0x86];
        inter.extend(bytes(100, 4));
        let frames = [frame(0, true, key), frame(3000, false, inter)];
        let (out, pkts) = round_trip(EncodedCodec::Vp9, &frames, Some((320, 240)), 1200);
        assert_eq!(out.len(), 2);
        for (o, f) in out.iter().zip(&frames) {
            assert_eq!(o.data, f.data);
            assert_eq!(o.keyframe, f.keyframe);
        }
        assert_eq!(out[0].dimensions, Some((320, 240)));
        assert_eq!(
            &pkts[0][0].data[..8],
            &[0x8a, 0xff, 0xfe, 0x10, 0x01, 0x40, 0x00, 0xf0]
        );
        assert_eq!(pkts[0][1].data[0], 0x80);
        assert_eq!(pkts[0].last().unwrap().data[0], 0x84);
        assert_eq!(
            pkts[1][0].data[0], 0xcc,
            "P, B and E on a one-packet inter frame"
        );
    }

    /// Length-prefixed NAL units.
    fn avcc(nals: &[Vec<u8>]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&(n.len() as u32).to_be_bytes()[..], n].concat())
            .collect()
    }

    #[test]
    fn h264_and_h265_round_trip_stap_and_fu() {
        let sps = vec![
            0x67, 0x42, 0xc0, 0x1e, 0x8c, 0x8d, 0x40, 0xf8, 0x63, 0xd4, 0x44, 0x03, 0xc2, 0x21,
            0x1a, 0x80,
        ];
        let pps = vec![0x68, 0xce, 0x3c, 0x80];
        let idr = [vec![0x65, 0x88], bytes(2500, 5)].concat();
        let small = [vec![0x41, 0x9a], bytes(40, 6)].concat();
        let frames = [
            frame(0, true, avcc(&[sps, pps, idr])),
            frame(3000, false, avcc(std::slice::from_ref(&small))),
            frame(6000, false, avcc(&[small.clone(), small])),
        ];
        let (out, pkts) = round_trip(EncodedCodec::H264, &frames, None, 1200);
        assert_eq!(out.len(), 3);
        for (o, f) in out.iter().zip(&frames) {
            assert_eq!((&o.data, o.keyframe), (&f.data, f.keyframe));
        }
        assert_eq!(out[0].dimensions, Some((494, 370)));
        // STAP-A (SPS, PPS), then the IDR in three FU-A; a single NAL; a STAP-A of two.
        let heads: Vec<Vec<u8>> = pkts
            .iter()
            .flatten()
            .map(|p| p.data[..2].to_vec())
            .collect();
        assert_eq!(
            heads,
            [
                [0x78, 0],
                [0x7c, 0x85],
                [0x7c, 0x05],
                [0x7c, 0x45],
                [0x41, 0x9a],
                [0x58, 0]
            ]
        );
        let vps = vec![0x40, 0x01, 0x0c];
        let sps = vec![0x42, 0x01, 0x01];
        let pps = vec![0x44, 0x01, 0xc0];
        let idr = [vec![0x26, 0x01, 0x80], bytes(2500, 7)].concat();
        let trail = [vec![0x02, 0x01, 0x80], bytes(30, 8)].concat();
        let frames = [
            frame(0, true, avcc(&[vps, sps, pps, idr])),
            frame(3000, false, avcc(&[trail])),
        ];
        let (out, pkts) = round_trip(EncodedCodec::H265, &frames, None, 1000);
        assert_eq!(out.len(), 2);
        for (o, f) in out.iter().zip(&frames) {
            assert_eq!((&o.data, o.keyframe), (&f.data, f.keyframe));
        }
        let heads: Vec<Vec<u8>> = pkts
            .iter()
            .flatten()
            .map(|p| p.data[..3].to_vec())
            .collect();
        assert_eq!(
            heads,
            [
                vec![0x60, 0x01, 0x00],
                vec![0x62, 0x01, 0x93],
                vec![0x62, 0x01, 0x13],
                vec![0x62, 0x01, 0x53],
                vec![0x02, 0x01, 0x80],
            ]
        );
    }

    /// An OBU with its size field.
    fn obu(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(kind << 3) | 0x02];
        push_leb128(&mut v, payload.len() as u64);
        v.extend_from_slice(payload);
        v
    }

    /// The temporal unit as rtprec's AV1 depacketizer emits it: no temporal delimiters.
    fn normalise(tu: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for o in split_obus(tu).unwrap() {
            if o.obu_type != OBU_TEMPORAL_DELIMITER {
                out.push(o.header | 0x02);
                out.extend(o.extension);
                push_leb128(&mut out, o.payload.len() as u64);
                out.extend_from_slice(o.payload);
            }
        }
        out
    }

    #[test]
    fn av1_round_trip_fragments_and_w_counts() {
        // Sequence header for 320x240 (profile 0, level 0, 9-bit dimensions).
        let seq = [0x00, 0x00, 0x00, 0x04, 0x44, 0xfd, 0xde];
        let mut key = obu(2, &[]);
        key.extend(obu(1, &seq));
        key.extend(obu(6, &[&[0x10][..], &bytes(3000, 5)].concat()));
        let mut inter = obu(2, &[]);
        inter.extend(obu(6, &[&[0x30][..], &bytes(200, 6)].concat()));
        inter.extend(obu(6, &[&[0x30][..], &bytes(20, 7)].concat()));
        let mut many = obu(2, &[]);
        for i in 0..5 {
            many.extend(obu(15, &bytes(10, i)));
        }
        let frames = [
            frame(0, true, key),
            frame(3000, false, inter),
            frame(6000, false, many),
        ];
        let (out, pkts) = round_trip(EncodedCodec::Av1, &frames, None, 1200);
        assert_eq!(out.len(), 3);
        for (o, f) in out.iter().zip(&frames) {
            assert_eq!(o.data, normalise(&f.data));
        }
        assert!(out[0].keyframe);
        assert_eq!(out[0].dimensions, Some((320, 240)));
        // Key frame: N=1, W=2 (seq header + first fragment), then Z/Y fragments.
        let aggs: Vec<u8> = pkts[0].iter().map(|p| p.data[0]).collect();
        assert_eq!(aggs, [0x68, 0xd0, 0x90]);
        assert_eq!(pkts[1][0].data[0], 0x20, "two whole OBUs: W=2");
        assert_eq!(pkts[2][0].data[0], 0x00, "five OBUs: W=0, all with lengths");
    }

    #[test]
    fn opus_one_packet_per_frame() {
        let frames: Vec<_> = (0..3)
            .map(|i| frame(i * 960, true, vec![0xfc, i as u8, 7]))
            .collect();
        let (out, pkts) = round_trip(EncodedCodec::Opus, &frames, None, 1200);
        assert_eq!(out.len(), 3);
        assert!(pkts[0][0].marker && !pkts[1][0].marker);
        for (o, f) in out.iter().zip(&frames) {
            assert_eq!(
                (o.data.as_slice(), o.duration),
                (f.data.as_slice(), Some(960))
            );
        }
    }
}
