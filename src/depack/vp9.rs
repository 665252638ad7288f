//! VP9 (RFC 9628): payload descriptors stripped, layer frames joined per picture.
//!
//! A layer frame runs from the packet with B=1 to the one with E=1; a picture
//! is every layer frame of one RTP timestamp, ended by the marker bit (RFC 9628
//! §4.1: set on the last packet of the picture). One `Frame` per picture: a
//! single layer frame is passed as is; several (spatial layers) become one VP9
//! superframe with an index appended (VP9 bitstream spec Annex B), which is
//! what WebM and decoders expect for one block.
//!
//! Key frame: P=0 in the descriptor of the picture's first layer frame *and*
//! its uncompressed header says `frame_type == KEY_FRAME` (not
//! `show_existing_frame`). `dimensions` are read from that header (after the
//! sync code 49 83 42 and the color config), or from the scalability
//! structure's highest spatial layer when one came with the picture.
//!
//! Tolerates: flexible and non-flexible mode (P_DIFF, TL0PICIDX are parsed and
//! skipped), a scalability structure with or without resolutions and picture
//! groups, a lost marker (a new timestamp ends the picture), a missing E bit on
//! the last layer frame (the marker or next B ends it). Simplification after
//! loss: the picture in progress and every picture until the next key frame are
//! dropped, even where the layer structure would allow decoding upper layers
//! or other temporal layers. At `flush` a picture whose last layer frame ended
//! (E=1) is emitted even without a marker; otherwise it is dropped.

use super::{Assembler, DepackError, DepackStats, Malformed, PictureIds};
use crate::codec::vp9::{FrameHeader, Vp9Descriptor, parse_frame_header};
use crate::media::{Frame, RtpIn};

/// Appends a superframe index for layer frames of `sizes` (VP9 bitstream spec Annex B).
fn append_superframe_index(data: &mut Vec<u8>, sizes: &[usize]) {
    let max = sizes.iter().copied().max().unwrap_or(0);
    let bytes = match max {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xff_ffff => 3,
        _ => 4,
    };
    // |110|bytes_per_framesize_minus_1 (2)|frames_in_superframe_minus_1 (3)|
    let marker = 0xc0 | ((bytes - 1) << 3) as u8 | (sizes.len() - 1) as u8;
    data.push(marker);
    for &s in sizes {
        data.extend_from_slice(&(s as u32).to_le_bytes()[..bytes]);
    }
    data.push(marker);
}

/// VP9 depacketizer; see the module doc.
#[derive(Debug)]
pub struct Depack {
    asm: Assembler,
    /// A layer frame has begun (B) and not ended (E).
    layer_open: bool,
    /// Offset in the picture's data where the open layer frame began.
    layer_start: usize,
    /// Sizes of the picture's finished layer frames.
    layer_sizes: Vec<usize>,
    /// Highest spatial layer's size from a scalability structure in this picture.
    ss_dims: Option<(u16, u16)>,
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
            layer_open: false,
            layer_start: 0,
            layer_sizes: Vec::new(),
            ss_dims: None,
            pictures: PictureIds::default(),
        }
    }

    /// Adds the next packet in sequence order.
    pub fn push(&mut self, pkt: RtpIn<'_>) -> Result<(), DepackError> {
        self.pictures.before_packet(&self.asm, pkt.seq);
        self.asm.begin_packet(&pkt)?;
        if self.asm.other_ts(pkt.ts) {
            self.finish_picture(false);
        }
        let d = Vp9Descriptor::parse(pkt.payload)
            .map_err(|e| self.asm.malformed(&pkt, e.into(), true))?;
        let data = pkt.payload.get(d.len..).unwrap_or_default();
        if d.begin && self.asm.cur.is_none() {
            self.pictures
                .picture_start(&mut self.asm, d.picture_id, pkt.ts);
            let key = !d.inter_picture;
            let header = parse_frame_header(data);
            let p = self.asm.start(pkt.ts);
            self.layer_sizes.clear();
            self.ss_dims = None;
            if let (true, FrameHeader::Key(dims)) = (key, header) {
                p.keyframe = true;
                p.dimensions = dims;
            }
        } else if self.asm.continue_at(pkt.ts).is_none() {
            self.pictures.picture_broken();
            // Start lost or picture already broken.
            if pkt.marker {
                self.finish_picture(false);
            }
            return Ok(());
        } else if d.begin {
            // Next layer frame of the picture; a missing E on the previous one is tolerated.
            self.close_layer();
        } else if !self.layer_open {
            // A continuation after E with no packet lost: the sender's flags are wrong.
            return Err(self.asm.malformed(&pkt, Malformed::Vp9Descriptor, true));
        }
        if d.begin {
            self.layer_open = true;
            self.layer_start = self.asm.cur.as_ref().map_or(0, |p| p.data.len());
        }
        if let Some(&dims) = d.ss.as_ref().and_then(|ss| ss.resolutions.last()) {
            self.ss_dims = Some(dims);
        }
        self.asm.append(&pkt, data)?;
        if d.end {
            self.close_layer();
        }
        if pkt.marker {
            self.finish_picture(false);
        }
        Ok(())
    }

    fn close_layer(&mut self) {
        if !self.layer_open {
            return;
        }
        self.layer_open = false;
        let Some(p) = self.asm.cur.as_ref().filter(|p| !p.broken) else {
            return;
        };
        if self.layer_sizes.len() == 8 {
            // A superframe index holds at most 8 frames (Annex B).
            *self
                .asm
                .stats
                .malformed
                .entry(Malformed::Vp9TooManyLayers)
                .or_default() += 1;
            self.asm.gap(0);
            self.layer_sizes.clear();
            return;
        }
        self.layer_sizes
            .push(p.data.len().saturating_sub(self.layer_start));
    }

    /// Ends the picture in progress; `at_flush` drops it unless its last layer frame ended.
    fn finish_picture(&mut self, at_flush: bool) {
        if at_flush && self.layer_open {
            self.asm.drop_in_progress();
        }
        self.close_layer();
        if let Some(p) = self.asm.cur.as_mut().filter(|p| !p.broken) {
            if p.keyframe && self.ss_dims.is_some() {
                p.dimensions = self.ss_dims;
            }
            if self.layer_sizes.len() > 1 {
                append_superframe_index(&mut p.data, &self.layer_sizes);
            }
        }
        self.asm.end_frame();
        self.layer_sizes.clear();
        self.ss_dims = None;
    }

    /// Notes a sequence number that carried no media (not a loss).
    pub fn skip(&mut self, seq: u64) {
        self.asm.skip(seq);
    }

    /// Notes `lost` missing packets: the picture in progress is dropped, then wait
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

    /// Ends the track.
    pub fn flush(&mut self) {
        if self.asm.cur.is_some() {
            self.finish_picture(true);
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &DepackStats {
        &self.asm.stats
    }

    /// Panics if an internal invariant does not hold.
    pub fn check_invariants(&self) {
        self.asm.check_invariants();
        assert!(
            self.layer_sizes.len() <= 8,
            "superframes hold at most 8 frames"
        );
        if let Some(p) = &self.asm.cur
            && !p.broken
        {
            let total: usize = self.layer_sizes.iter().sum();
            assert!(total <= p.data.len(), "layer sizes exceed the picture");
            if self.layer_open {
                assert!(self.layer_start <= p.data.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::vp9::tests::{INTER, desc, key_header, p};
    use crate::depack::testutil::{OwnedPkt, arb_packets, check_frames, drive};
    use proptest::prelude::*;

    /// (name, rows, frame timestamps, dropped incomplete, dropped waiting keyframe, malformed)
    type Case = (&'static str, Vec<Row>, Vec<u64>, u64, u64, u64);

    type Row = (u64, u64, bool, Vec<u8>);

    fn run(rows: &[Row]) -> (Vec<Frame>, DepackStats) {
        let mut d = Depack::new();
        let mut frames = Vec::new();
        for (seq, ts, marker, payload) in rows {
            let _ = d.push(RtpIn {
                seq: *seq,
                ts: *ts,
                marker: *marker,
                payload,
            });
            d.check_invariants();
            frames.extend(std::iter::from_fn(|| d.pull()));
        }
        d.flush();
        frames.extend(std::iter::from_fn(|| d.pull()));
        check_frames(&frames);
        (frames, d.stats().clone())
    }

    #[test]
    fn single_layer_frames() {
        let key = key_header(640, 360);
        let (f, st) = run(&[
            (1, 0, false, p("B", &[], &key)),
            (2, 0, true, p("E", &[], b"tail")),
            (3, 3000, true, p("PBE", &[], &INTER)),
        ]);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].data, [&key[..], b"tail"].concat());
        assert_eq!((f[0].keyframe, f[0].dimensions), (true, Some((640, 360))));
        assert_eq!((f[1].keyframe, f[1].data.as_slice()), (false, &INTER[..]));
        assert_eq!(st.frames, 2);
    }

    /// A gap between two complete pictures whose 15-bit PictureIDs follow each
    /// other (32767 -> 0) loses no picture; a jump waits for the key frame.
    #[test]
    fn a_gap_between_consecutive_pictures_loses_no_picture() {
        let key = key_header(320, 180);
        let pid = |id: u16| (id | 0x8000).to_be_bytes();
        let (f, st) = run(&[
            (1, 0, true, p("IBE", &pid(32766), &key)),
            (2, 3000, true, p("IPBE", &pid(32767), &INTER)),
            // 3 lost (a FEC packet); the next picture follows across the wrap.
            (4, 6000, true, p("IPBE", &pid(0), &INTER)),
            // 5 lost with a picture: wait.
            (6, 12000, true, p("IPBE", &pid(2), &INTER)),
            (7, 15000, true, p("IBE", &pid(3), &key)),
        ]);
        let got: Vec<(u64, bool)> = f.iter().map(|f| (f.ts, f.keyframe)).collect();
        assert_eq!(
            got,
            [(0, true), (3000, false), (6000, false), (15000, true)]
        );
        assert_eq!(
            (st.gaps_without_picture_loss, st.dropped_waiting_keyframe),
            (1, 1)
        );
    }

    #[test]
    fn spatial_layers_become_a_superframe() {
        let key = key_header(320, 180);
        let (f, _) = run(&[
            (1, 0, false, p("LBE", &[0b0000_0000, 0], &key)),
            (2, 0, false, p("PLB", &[0b0000_0010, 0], b"up")),
            (3, 0, true, p("PLE", &[0b0000_0010, 0], b"per")),
        ]);
        assert_eq!(f.len(), 1);
        let n = key.len();
        let mut want = [&key[..], b"upper"].concat();
        want.extend([0xc1, n as u8, 5, 0xc1]);
        assert_eq!(f[0].data, want);
        assert!(f[0].keyframe);
    }

    #[test]
    fn ss_resolution_gives_dimensions() {
        let key = key_header(160, 90);
        let ss = [0b0011_0000, 0, 160, 0, 90, 1, 64, 0, 180];
        let (f, _) = run(&[
            (
                1,
                0,
                false,
                p("LBEV", &[[0b0000_0000, 0].as_slice(), &ss].concat(), &key),
            ),
            (2, 0, true, p("PLBE", &[0b0000_0010, 0], b"up")),
        ]);
        assert_eq!(f[0].dimensions, Some((320, 180)));
    }

    #[test]
    fn loss_cases() {
        let k = || p("BE", &[], &key_header(64, 64));
        let i = |flags: &str| p(flags, &[], &INTER);
        // (name, rows, frame timestamps, dropped incomplete, dropped waiting keyframe, malformed)
        let cases: Vec<Case> = vec![
            (
                "inter first",
                vec![(1, 0, true, i("PBE")), (2, 9, true, k())],
                vec![9],
                0,
                1,
                0,
            ),
            (
                "P=0 but inter header is no key",
                vec![(1, 0, true, i("BE"))],
                vec![],
                0,
                1,
                0,
            ),
            (
                "lost first packet",
                vec![
                    (1, 0, true, k()),
                    (3, 9, true, i("PE")),
                    (4, 18, true, i("PBE")),
                    (5, 27, true, k()),
                ],
                vec![0, 27],
                1,
                1,
                0,
            ),
            (
                "lost middle packet",
                vec![
                    (1, 0, true, k()),
                    (2, 9, false, i("PB")),
                    (4, 9, true, i("PE")),
                    (5, 18, true, k()),
                ],
                vec![0, 18],
                1,
                0,
                0,
            ),
            (
                "lost marker packet",
                vec![
                    (1, 0, true, k()),
                    (2, 9, false, i("PB")),
                    (4, 18, true, i("PBE")),
                ],
                vec![0],
                1,
                1,
                0,
            ),
            (
                "lost marker bit only",
                vec![(1, 0, false, k()), (2, 9, true, i("PBE"))],
                vec![0, 9],
                0,
                0,
                0,
            ),
            (
                "continuation after E",
                vec![(1, 0, false, k()), (2, 0, true, i("PE")), (3, 9, true, k())],
                vec![9],
                1,
                0,
                1,
            ),
            (
                "malformed descriptor",
                vec![
                    (1, 0, false, p("B", &[], &key_header(8, 8))),
                    (2, 0, true, vec![desc("I")]),
                    (3, 9, true, k()),
                ],
                vec![9],
                1,
                0,
                1,
            ),
            (
                "flush after E without marker emits",
                vec![(1, 0, false, k())],
                vec![0],
                0,
                0,
                0,
            ),
            (
                "flush inside a layer frame drops",
                vec![(1, 0, false, p("B", &[], &key_header(8, 8)))],
                vec![],
                1,
                0,
                0,
            ),
            (
                "timestamp wrap",
                vec![
                    (1, (1 << 32) - 10, true, k()),
                    (2, (1 << 32) + 2990, true, i("PBE")),
                ],
                vec![(1 << 32) - 10, (1 << 32) + 2990],
                0,
                0,
                0,
            ),
        ];
        for (name, rows, want, inc, wait, bad) in cases {
            let (f, st) = run(&rows);
            assert_eq!(f.iter().map(|f| f.ts).collect::<Vec<_>>(), want, "{name}");
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

    fn arb_vp9() -> impl Strategy<Value = Vec<(OwnedPkt, u64)>> {
        arb_packets(60).prop_map(|pkts| {
            pkts.into_iter()
                .map(|(mut p, lost)| {
                    let rest = p.payload.split_off(1);
                    let b0 = p.payload[0];
                    p.payload = match b0 % 4 {
                        0 => [&[desc("BE")][..], &key_header(u32::from(b0) + 1, 9), &rest].concat(),
                        1 => [vec![b0 & 0xfc | 0x08], INTER.to_vec(), rest].concat(),
                        _ => [p.payload, rest].concat(),
                    };
                    (p, lost)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn random_packets_keep_invariants(pkts in arb_vp9(), use_gap in any::<bool>()) {
            let frames = drive(&mut crate::depack::Depacketizer::new(crate::codec::Codec::Vp9).unwrap(), &pkts, use_gap);
            if let Some(f) = frames.first() {
                prop_assert!(f.keyframe);
            }
        }
    }
}
