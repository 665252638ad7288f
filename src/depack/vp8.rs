//! VP8 (RFC 7741): payload descriptors stripped, packets of one picture joined.
//!
//! A frame is the packets of one RTP timestamp, from the one with S=1 and
//! PID=0 (start of partition 0) to the one with the marker bit. The first
//! partition's payload header says whether it is a key frame (P=0, RFC 7741
//! §4.3); a key frame's header carries the start code 9d 01 2a and the 14-bit
//! width and height (RFC 6386 §9.1), which fill `Frame::dimensions`.
//!
//! Tolerates: a lost marker (a new timestamp ends the previous frame, if no
//! packet is missing), S=1 on later partitions (PID != 0 is a continuation),
//! descriptor extensions we do not use (PictureID, TL0PICIDX, TID/KEYIDX).
//! Drops: a frame with any packet lost or malformed, a frame whose start is
//! missing (including a frame starting with S=1 but PID != 0), a frame
//! unfinished at `flush`, and every frame after a loss until the next key
//! frame, because VP8 inter frames reference earlier frames.

use super::{Assembler, DepackError, DepackStats, PictureIds};
use crate::codec::vp8::{Vp8Descriptor, parse_payload_header};
use crate::media::{Frame, RtpIn};

/// VP8 depacketizer; see the module doc.
#[derive(Debug)]
pub struct Depack {
    asm: Assembler,
    pictures: PictureIds,
}

impl Default for Depack {
    fn default() -> Self {
        Self::new()
    }
}

impl Depack {
    /// A new depacketizer, waiting for a key frame.
    pub fn new() -> Self {
        Depack {
            asm: Assembler::new(true),
            pictures: PictureIds::default(),
        }
    }

    /// Adds the next packet in sequence order.
    pub fn push(&mut self, pkt: RtpIn<'_>) -> Result<(), DepackError> {
        self.pictures.before_packet(&self.asm, pkt.seq);
        self.asm.begin_packet(&pkt)?;
        let d = Vp8Descriptor::parse(pkt.payload)
            .map_err(|e| self.asm.malformed(&pkt, e.into(), true))?;
        let vp8 = pkt.payload.get(d.len..).unwrap_or_default();
        if d.starts_frame() {
            self.pictures
                .picture_start(&mut self.asm, d.picture_id, pkt.ts);
            let header =
                parse_payload_header(vp8).map_err(|e| self.asm.malformed(&pkt, e.into(), true))?;
            let p = self.asm.start(pkt.ts);
            p.keyframe = header.keyframe;
            p.dimensions = header.dimensions;
        } else if self.asm.continue_at(pkt.ts).is_none() {
            self.pictures.picture_broken();
            // Start lost or frame already broken: skip, but still end it at the marker.
            if pkt.marker {
                self.asm.end_frame();
            }
            return Ok(());
        }
        self.asm.append(&pkt, vp8)?;
        if pkt.marker {
            self.asm.end_frame();
        }
        Ok(())
    }

    /// Notes a sequence number that carried no media (not a loss).
    pub fn skip(&mut self, seq: u64) {
        self.asm.skip(seq);
    }

    /// Notes `lost` missing packets: the frame in progress is dropped, then wait
    /// for a key frame, unless the next picture shows that no picture was lost.
    pub fn gap(&mut self, lost: u64) {
        self.pictures.before_gap(&self.asm);
        self.asm.gap(lost);
    }

    /// The next frame.
    pub(super) fn assembler(&mut self) -> &mut super::Assembler {
        &mut self.asm
    }

    pub fn pull(&mut self) -> Option<Frame> {
        self.asm.out.pop_front()
    }

    /// Ends the track; a frame without its marker packet is dropped as incomplete.
    pub fn flush(&mut self) {
        self.asm.drop_in_progress();
    }

    /// Counters so far.
    pub fn stats(&self) -> &DepackStats {
        &self.asm.stats
    }

    /// Panics if an internal invariant does not hold.
    pub fn check_invariants(&self) {
        self.asm.check_invariants();
        for f in &self.asm.out {
            assert_eq!(
                f.keyframe,
                f.data[0] & 1 == 0,
                "keyframe flag matches P bit"
            );
            assert_eq!(f.keyframe, f.dimensions.is_some());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::depack::testutil::{OwnedPkt, arb_packets, check_frames, drive};
    use proptest::prelude::*;

    /// (name, rows, frames (ts, key), dropped incomplete, dropped waiting keyframe, malformed)
    type Case = (&'static str, Vec<Row>, Vec<(u64, bool)>, u64, u64, u64);

    /// Start of a key frame: descriptor S=1 PID=0, then header with start code and size.
    fn key(w: u16, h: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a];
        v.extend(w.to_le_bytes());
        v.extend(h.to_le_bytes());
        v.extend(rest);
        v
    }

    /// Start of an inter frame.
    fn inter(rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0x10, 0x01, 0x00, 0x00];
        v.extend(rest);
        v
    }

    /// A continuation packet (S=0).
    fn cont(rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0x00];
        v.extend(rest);
        v
    }

    type Row = (u64, u64, bool, Vec<u8>);

    /// Pushes rows (a skipped seq is loss), flushes; returns (ts, keyframe) per frame and stats.
    fn run(rows: &[Row]) -> (Vec<(u64, bool)>, Vec<Frame>, DepackStats) {
        let mut d = Depack::new();
        let mut frames = Vec::new();
        for (seq, ts, m, payload) in rows {
            let _ = d.push(RtpIn {
                seq: *seq,
                ts: *ts,
                marker: *m,
                payload,
            });
            d.check_invariants();
            frames.extend(std::iter::from_fn(|| d.pull()));
        }
        d.flush();
        frames.extend(std::iter::from_fn(|| d.pull()));
        check_frames(&frames);
        let summary = frames.iter().map(|f| (f.ts, f.keyframe)).collect();
        (summary, frames, d.stats().clone())
    }

    #[test]
    fn frames_from_packets() {
        let (got, frames, st) = run(&[
            (1, 100, false, key(320, 240, b"ab")),
            (2, 100, true, cont(b"cd")),
            (3, 200, true, inter(b"ef")),
        ]);
        assert_eq!(got, [(100, true), (200, false)]);
        assert_eq!(frames[0].data, [&key(320, 240, b"abcd")[1..]].concat());
        assert_eq!(frames[0].dimensions, Some((320, 240)));
        assert_eq!(frames[1].data, [0x01, 0, 0, b'e', b'f']);
        assert_eq!(
            (
                st.frames,
                st.dropped_incomplete,
                st.dropped_waiting_keyframe
            ),
            (2, 0, 0)
        );
    }

    /// RFC 7741 §4.2: R and RSV bits are ignored, as the codec guesser ignores them.
    #[test]
    fn reserved_bits_set_change_nothing() {
        let set_reserved = |mut v: Vec<u8>| {
            v[0] |= 0x48;
            v
        };
        let plain = run(&[
            (1, 100, false, key(320, 240, b"ab")),
            (2, 100, true, cont(b"cd")),
            (
                3,
                200,
                true,
                [&[0x90, 0x80, 0x07][..], &inter(b"ef")[1..]].concat(),
            ),
        ]);
        let reserved = run(&[
            (1, 100, false, set_reserved(key(320, 240, b"ab"))),
            (2, 100, true, set_reserved(cont(b"cd"))),
            (
                3,
                200,
                true,
                [&[0xd8, 0x8f, 0x07][..], &inter(b"ef")[1..]].concat(),
            ),
        ]);
        assert_eq!(reserved.1, plain.1);
        assert_eq!(reserved.0, [(100, true), (200, false)]);
        assert_eq!(reserved.2.malformed_total(), 0);
    }

    /// A picture start with a PictureID (X=1, I=1; 15-bit when `long`), key frame or not.
    fn with_pid(pid: u16, long: bool, keyframe: bool) -> Vec<u8> {
        let mut v = vec![0x90, 0x80];
        if long {
            v.extend((pid | 0x8000).to_be_bytes());
        } else {
            v.push(pid as u8 & 0x7f);
        }
        if keyframe {
            v.extend([0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
        } else {
            v.extend([0x01, 0x00, 0x00, 0x11]);
        }
        v
    }

    /// Packets missing between two complete pictures whose PictureIDs follow each
    /// other (lost FEC or padding) lose nothing; a PictureID jump means a lost picture.
    #[test]
    fn a_gap_between_consecutive_pictures_loses_no_picture() {
        for long in [false, true] {
            // 127 -> 0 wraps the 7-bit ID; 15-bit IDs go on to 128.
            let next = |p: u16| if long { p + 1 } else { (p + 1) % 128 };
            let p0 = 126;
            let rows: Vec<Row> = vec![
                (1, 0, true, with_pid(p0, long, true)),
                (2, 3000, true, with_pid(next(p0), long, false)),
                // 3 and 4 lost (FEC), the next picture follows.
                (5, 6000, true, with_pid(next(next(p0)), long, false)),
                // 6 lost and a picture skipped: wait for the key frame.
                (
                    7,
                    12000,
                    true,
                    with_pid(next(next(next(next(p0)))), long, false),
                ),
                (8, 15000, true, with_pid(5, long, true)),
            ];
            let (frames, _, st) = run(&rows);
            assert_eq!(
                frames,
                [(0, true), (3000, false), (6000, false), (15000, true)],
                "long={long}"
            );
            assert_eq!(
                (st.gaps_without_picture_loss, st.dropped_waiting_keyframe),
                (1, 1)
            );
        }
        // 7-bit IDs wrap every 128 pictures: an outage of 128 pictures (4.3 s of
        // timestamps) has a "following" ID but is no small gap.
        let rows: Vec<Row> = vec![
            (1, 0, true, with_pid(5, false, true)),
            (2, 3000, true, with_pid(6, false, false)),
            (9, 3000 + 128 * 3000, true, with_pid(7, false, false)),
        ];
        assert_eq!(run(&rows).0, [(0, true), (3000, false)]);
        // Without PictureIDs nothing tells: any gap waits for a key frame.
        let rows: Vec<Row> = vec![(1, 0, true, key(8, 8, &[1])), (3, 3000, true, inter(&[2]))];
        assert_eq!(run(&rows).0, [(0, true)]);
    }

    #[test]
    fn loss_cases() {
        // (name, rows, frames (ts, key), dropped incomplete, dropped waiting keyframe, malformed)
        let cases: Vec<Case> = vec![
            (
                "starts with inter frame",
                vec![(1, 100, true, inter(b"x")), (2, 200, true, key(2, 2, b""))],
                vec![(200, true)],
                0,
                1,
                0,
            ),
            (
                "lost first packet",
                vec![
                    (1, 100, true, key(2, 2, b"")),
                    (3, 200, true, cont(b"b")),
                    (4, 300, true, inter(b"c")),
                    (5, 400, true, key(2, 2, b"")),
                ],
                vec![(100, true), (400, true)],
                1,
                1,
                0,
            ),
            (
                "lost middle packet",
                vec![
                    (1, 100, true, key(2, 2, b"")),
                    (2, 200, false, inter(b"a")),
                    (4, 200, true, cont(b"c")),
                    (5, 300, true, key(2, 2, b"")),
                ],
                vec![(100, true), (300, true)],
                1,
                0,
                0,
            ),
            (
                "lost last packet",
                vec![
                    (1, 100, true, key(2, 2, b"")),
                    (2, 200, false, inter(b"a")),
                    (4, 300, true, inter(b"c")),
                    (5, 400, true, inter(b"d")),
                ],
                vec![(100, true)],
                1,
                2,
                0,
            ),
            (
                "lost marker bit only: new timestamp ends the frame",
                vec![
                    (1, 100, false, key(2, 2, b"")),
                    (2, 100, false, cont(b"a")),
                    (3, 200, true, inter(b"c")),
                ],
                vec![(100, true), (200, false)],
                0,
                0,
                0,
            ),
            (
                "S=1 but PID=1 first: start lost",
                vec![
                    (1, 100, true, key(2, 2, b"")),
                    (2, 200, false, vec![0x11, 1, 2]),
                    (3, 200, true, cont(b"c")),
                    (4, 300, true, key(2, 2, b"")),
                ],
                vec![(100, true), (300, true)],
                1,
                0,
                0,
            ),
            (
                "S=1 PID=1 inside a frame is a continuation",
                vec![
                    (1, 100, false, key(2, 2, b"")),
                    (2, 100, true, vec![0x11, 7]),
                ],
                vec![(100, true)],
                0,
                0,
                0,
            ),
            (
                "malformed descriptor breaks its frame",
                vec![
                    (1, 100, true, key(2, 2, b"")),
                    (2, 200, false, inter(b"a")),
                    (3, 200, true, vec![0x80]),
                    (4, 300, true, inter(b"a")),
                    (5, 400, true, key(2, 2, b"")),
                ],
                vec![(100, true), (400, true)],
                1,
                1,
                1,
            ),
            (
                "key frame without start code",
                vec![(1, 100, true, vec![0x10, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7])],
                vec![],
                1,
                0,
                1,
            ),
            (
                "unfinished frame at flush",
                vec![(1, 100, true, key(2, 2, b"")), (2, 200, false, inter(b"a"))],
                vec![(100, true)],
                1,
                0,
                0,
            ),
            (
                "timestamp wrap (extended)",
                vec![
                    (65_535, (1 << 32) - 1500, true, key(2, 2, b"")),
                    (65_536, (1 << 32) + 1500, false, inter(b"a")),
                    (65_537, (1 << 32) + 1500, true, cont(b"b")),
                ],
                vec![((1 << 32) - 1500, true), ((1 << 32) + 1500, false)],
                0,
                0,
                0,
            ),
            (
                "duplicate sequence number is out of order",
                vec![
                    (1, 100, true, key(2, 2, b"")),
                    (1, 100, true, key(2, 2, b"")),
                ],
                vec![(100, true)],
                0,
                0,
                1,
            ),
        ];
        for (name, rows, want, inc, wait, bad) in cases {
            let (got, _, st) = run(&rows);
            assert_eq!(got, want, "{name}");
            assert_eq!(
                (
                    st.dropped_incomplete,
                    st.dropped_waiting_keyframe,
                    st.malformed_total()
                ),
                (inc, wait, bad),
                "{name}: {st:?}"
            );
        }
    }

    /// Random packets, mostly shaped like VP8 (key/inter starts, continuations).
    fn arb_vp8() -> impl Strategy<Value = Vec<(OwnedPkt, u64)>> {
        arb_packets(60).prop_map(|pkts| {
            pkts.into_iter()
                .map(|(mut p, lost)| {
                    let rest = p.payload.split_off(1);
                    p.payload = match p.payload[0] % 5 {
                        0 => key(u16::from(p.payload[0]), 7, &rest),
                        1 => inter(&rest),
                        2 => cont(&rest),
                        3 if !rest.is_empty() => [vec![0x90, 0xf0, 0x81], rest].concat(),
                        _ => [p.payload, rest].concat(),
                    };
                    (p, lost)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn random_packets_keep_invariants(pkts in arb_vp8(), use_gap in any::<bool>()) {
            let frames = drive(&mut crate::depack::Depacketizer::new(crate::codec::Codec::Vp8).unwrap(), &pkts, use_gap);
            if let Some(f) = frames.first() {
                prop_assert!(f.keyframe);
            }
        }
    }
}
