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

use super::bits::BitReader;
use super::{Assembler, DepackError, DepackStats, Malformed, PictureIds};
use crate::media::{Frame, RtpIn};

/// The scalability structure (RFC 9628 §4.2.1), what of it we keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScalabilityStructure {
    /// N_S + 1: number of spatial layers.
    pub spatial_layers: u8,
    /// Width and height per spatial layer, lowest first (Y bit); empty if absent.
    pub resolutions: Vec<(u16, u16)>,
    /// N_G: number of pictures in the picture group description (G bit), 0 if absent.
    pub picture_groups: u8,
}

/// The VP9 payload descriptor (RFC 9628 §4.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vp9Descriptor {
    /// P: inter-picture predicted (the picture references earlier pictures).
    pub inter_picture: bool,
    /// F: flexible mode.
    pub flexible: bool,
    /// B: first packet of a layer frame.
    pub begin: bool,
    /// E: last packet of a layer frame.
    pub end: bool,
    /// Z: not used for inter-layer prediction of upper layers.
    pub not_ref_for_upper: bool,
    /// PictureID, 7 or 15 bits (M bit).
    pub picture_id: Option<u16>,
    /// The PictureID is 15 bits (M bit set).
    pub long_picture_id: bool,
    /// Temporal layer id (L bit).
    pub tid: Option<u8>,
    /// Spatial layer id (L bit).
    pub sid: Option<u8>,
    /// TL0PICIDX (non-flexible mode with L).
    pub tl0_pic_idx: Option<u8>,
    /// Number of P_DIFF reference indices (flexible mode with P), 0..=3.
    pub p_diffs: u8,
    /// Scalability structure (V bit).
    pub ss: Option<ScalabilityStructure>,
    /// Bytes taken by the descriptor; the VP9 data follows.
    pub len: usize,
}

impl Vp9Descriptor {
    /// Parses the descriptor at the start of an RTP payload.
    pub fn parse(p: &[u8]) -> Result<Self, Malformed> {
        let b0 = *p.first().ok_or(Malformed::EmptyPayload)?;
        let byte = |i: usize| p.get(i).copied().ok_or(Malformed::Vp9Descriptor);
        let mut d = Vp9Descriptor {
            inter_picture: b0 & 0x40 != 0,
            flexible: b0 & 0x10 != 0,
            begin: b0 & 0x08 != 0,
            end: b0 & 0x04 != 0,
            not_ref_for_upper: b0 & 0x01 != 0,
            ..Default::default()
        };
        let mut i = 1;
        if b0 & 0x80 != 0 {
            let m = byte(i)?;
            if m & 0x80 != 0 {
                d.picture_id = Some(u16::from(m & 0x7f) << 8 | u16::from(byte(i + 1)?));
                d.long_picture_id = true;
                i += 2;
            } else {
                d.picture_id = Some(u16::from(m));
                i += 1;
            }
        }
        if b0 & 0x20 != 0 {
            // |TID|U|SID|D|; TL0PICIDX follows only in non-flexible mode (§4.2).
            let l = byte(i)?;
            d.tid = Some(l >> 5);
            d.sid = Some((l >> 1) & 0x07);
            i += 1;
            if !d.flexible {
                d.tl0_pic_idx = Some(byte(i)?);
                i += 1;
            }
        }
        if d.flexible && d.inter_picture {
            // Flexible mode: up to 3 |P_DIFF|N| bytes, N=1 means another follows.
            loop {
                let r = byte(i)?;
                i += 1;
                d.p_diffs += 1;
                if r & 0x01 == 0 {
                    break;
                }
                if d.p_diffs == 3 {
                    return Err(Malformed::Vp9Descriptor);
                }
            }
        }
        if b0 & 0x02 != 0 {
            let (ss, n) = parse_ss(p.get(i..).unwrap_or_default())?;
            d.ss = Some(ss);
            i += n;
        }
        d.len = i;
        if d.len >= p.len() {
            return Err(Malformed::EmptyPayload);
        }
        Ok(d)
    }
}

/// Parses a scalability structure; returns it and its length in bytes.
fn parse_ss(p: &[u8]) -> Result<(ScalabilityStructure, usize), Malformed> {
    let byte = |i: usize| p.get(i).copied().ok_or(Malformed::Vp9ScalabilityStructure);
    // |N_S|Y|G|-|-|-|
    let b = byte(0)?;
    let mut ss = ScalabilityStructure {
        spatial_layers: (b >> 5) + 1,
        ..Default::default()
    };
    let mut i = 1;
    if b & 0x10 != 0 {
        for _ in 0..ss.spatial_layers {
            let w = u16::from_be_bytes([byte(i)?, byte(i + 1)?]);
            let h = u16::from_be_bytes([byte(i + 2)?, byte(i + 3)?]);
            ss.resolutions.push((w, h));
            i += 4;
        }
    }
    if b & 0x08 != 0 {
        ss.picture_groups = byte(i)?;
        i += 1;
        for _ in 0..ss.picture_groups {
            // |TID|U| R |-|-| then R P_DIFF bytes.
            let r = usize::from((byte(i)? >> 2) & 0x03);
            i += 1 + r;
            if i > p.len() {
                return Err(Malformed::Vp9ScalabilityStructure);
            }
        }
    }
    Ok((ss, i))
}

/// What the uncompressed header says about key frames (VP9 bitstream spec §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameHeader {
    /// A key frame, with its size when it fits 16 bits.
    Key(Option<(u16, u16)>),
    /// Any other frame (inter, intra-only, show_existing_frame).
    NotKey,
    /// Too short or wrong frame marker.
    Unreadable,
}

/// Reads the start of a VP9 uncompressed header.
pub fn parse_frame_header(data: &[u8]) -> FrameHeader {
    read_frame_header(&mut BitReader::new(data)).unwrap_or(FrameHeader::Unreadable)
}

fn read_frame_header(r: &mut BitReader<'_>) -> Option<FrameHeader> {
    if r.read(2)? != 2 {
        return Some(FrameHeader::Unreadable);
    }
    let low = r.read(1)?;
    let profile = (r.read(1)? << 1) | low;
    if profile == 3 {
        r.read(1)?; // reserved_zero
    }
    if r.flag()? {
        return Some(FrameHeader::NotKey); // show_existing_frame
    }
    if r.flag()? {
        return Some(FrameHeader::NotKey); // frame_type 1: NON_KEY_FRAME
    }
    r.read(2)?; // show_frame, error_resilient_mode
    if (r.read(8)?, r.read(8)?, r.read(8)?) != (0x49, 0x83, 0x42) {
        return Some(FrameHeader::Unreadable);
    }
    // color_config (§6.2.2).
    if profile >= 2 {
        r.read(1)?; // ten_or_twelve_bit
    }
    let color_space = r.read(3)?;
    if color_space != 7 {
        r.read(1)?; // color_range
        if profile == 1 || profile == 3 {
            r.read(3)?; // subsampling_x, subsampling_y, reserved_zero
        }
    } else if profile == 1 || profile == 3 {
        r.read(1)?; // reserved_zero (CS_RGB)
    }
    let w = r.read(16)? + 1;
    let h = r.read(16)? + 1;
    Some(FrameHeader::Key(
        u16::try_from(w).ok().zip(u16::try_from(h).ok()),
    ))
}

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
        let d = Vp9Descriptor::parse(pkt.payload).map_err(|m| self.asm.malformed(&pkt, m, true))?;
        let data = &pkt.payload[d.len..];
        if d.begin && self.asm.cur.is_none() {
            let id = d.picture_id.map(|p| (p, d.long_picture_id));
            self.pictures.picture_start(&mut self.asm, id, pkt.ts);
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
    use crate::depack::testutil::{Bits, OwnedPkt, arb_packets, check_frames, drive};
    use proptest::prelude::*;

    /// (name, rows, frame timestamps, dropped incomplete, dropped waiting keyframe, malformed)
    type Case = (&'static str, Vec<Row>, Vec<u64>, u64, u64, u64);

    /// Uncompressed header of a profile-0 key frame of w x h.
    fn key_header(w: u32, h: u32) -> Vec<u8> {
        let mut b = Bits::default();
        // frame_marker, profile 0, show_existing 0, KEY_FRAME, show_frame, !error_res
        b.put(2, 2)
            .put(0, 2)
            .put(0, 1)
            .put(0, 1)
            .put(1, 1)
            .put(0, 1);
        b.put(0x49, 8).put(0x83, 8).put(0x42, 8);
        b.put(1, 3).put(0, 1); // color_space BT601, color_range
        b.put(w - 1, 16).put(h - 1, 16).put(0, 5);
        b.out
    }

    const INTER: [u8; 2] = [0x86, 0x00];

    /// Descriptor byte: flags from "IPLFBEVZ" letters present in `f`.
    fn desc(f: &str) -> u8 {
        "IPLFBEVZ"
            .chars()
            .enumerate()
            .filter(|(_, c)| f.contains(*c))
            .fold(0, |acc, (i, _)| acc | (0x80 >> i))
    }

    fn p(flags: &str, extra: &[u8], data: &[u8]) -> Vec<u8> {
        [&[desc(flags)][..], extra, data].concat()
    }

    #[test]
    fn descriptors() {
        let d = |flags: &str, extra: &[u8]| Vp9Descriptor::parse(&p(flags, extra, &[0xaa]));
        assert_eq!(
            d("BE", &[]).map(|d| (d.begin, d.end, d.len)),
            Ok((true, true, 1))
        );
        // 15-bit PictureID, L in non-flexible mode: TID/U/SID/D + TL0PICIDX.
        let x = d("ILBE", &[0x81, 0x02, 0b0100_0110, 9]).unwrap();
        assert_eq!(
            (x.picture_id, x.tid, x.sid, x.tl0_pic_idx, x.len),
            (Some(0x102), Some(2), Some(3), Some(9), 5)
        );
        // Flexible mode: two P_DIFFs, no TL0PICIDX.
        let x = d("IPLFB", &[0x05, 0x20, 0x03, 0x04]).unwrap();
        assert_eq!((x.p_diffs, x.tl0_pic_idx, x.len), (2, None, 5));
        assert_eq!(
            d("IPFB", &[5, 1, 1, 1]),
            Err(Malformed::Vp9Descriptor),
            "4th P_DIFF"
        );
        assert_eq!(
            Vp9Descriptor::parse(&[desc("IPFB"), 5, 1]),
            Err(Malformed::Vp9Descriptor)
        );
        // SS with 2 layers and resolutions, one picture group with 1 P_DIFF.
        let ss = [0b0011_1000, 0, 160, 0, 90, 1, 64, 0, 180, 1, 0b0000_0100, 1];
        let x = d("BV", &ss).unwrap();
        let s = x.ss.unwrap();
        assert_eq!(
            (s.spatial_layers, s.resolutions, s.picture_groups),
            (2, vec![(160, 90), (320, 180)], 1)
        );
        assert_eq!(x.len, 1 + ss.len());
        assert_eq!(d("BV", &ss[..5]), Err(Malformed::Vp9ScalabilityStructure));
        assert_eq!(
            Vp9Descriptor::parse(&[desc("BV"), 0b0000_1000, 1, 0b0000_1100]),
            Err(Malformed::Vp9ScalabilityStructure)
        );
        assert_eq!(
            Vp9Descriptor::parse(&[desc("I")]),
            Err(Malformed::Vp9Descriptor)
        );
        assert_eq!(
            Vp9Descriptor::parse(&[desc("L")]),
            Err(Malformed::Vp9Descriptor)
        );
        assert_eq!(
            Vp9Descriptor::parse(&[desc("B")]),
            Err(Malformed::EmptyPayload)
        );
        assert_eq!(Vp9Descriptor::parse(&[]), Err(Malformed::EmptyPayload));
    }

    #[test]
    fn frame_headers() {
        assert_eq!(
            parse_frame_header(&key_header(1280, 720)),
            FrameHeader::Key(Some((1280, 720)))
        );
        assert_eq!(
            parse_frame_header(&key_header(65_536, 2)),
            FrameHeader::Key(None)
        );
        assert_eq!(parse_frame_header(&INTER), FrameHeader::NotKey);
        assert_eq!(
            parse_frame_header(&[0x88]),
            FrameHeader::NotKey,
            "show_existing_frame"
        );
        assert_eq!(
            parse_frame_header(&key_header(8, 8)[..6]),
            FrameHeader::Unreadable
        );
        assert_eq!(
            parse_frame_header(&[0x40, 0, 0, 0]),
            FrameHeader::Unreadable
        );
        assert_eq!(parse_frame_header(&[]), FrameHeader::Unreadable);
        let mut bad_sync = key_header(8, 8);
        bad_sync[1] = 0;
        assert_eq!(parse_frame_header(&bad_sync), FrameHeader::Unreadable);
    }

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
