//! One track's state machine: reorder -> depacketize -> re-anchor timestamps -> mux.
//!
//! Fed in capture order, independent of every other track, so tracks run in
//! parallel and the bytes written never depend on the number of threads.
//! Timestamp resets and jumps (a sender restarting its RTP clock, a muted
//! track resuming with a stale clock) are re-anchored on capture time so one
//! bad timestamp never turns into an hours-long file.

pub use crate::codec::Container;

use super::timeline::{TimelineBuilder, TrackTimeline};
use crate::codec::Codec;
use crate::depack::{DepackStats, Depacketizer};
use crate::media::Frame;
use crate::mux::export::{AudioExport, SourceFormat, export_audio};
use crate::mux::{Mp4Codec, Mp4Config, Mp4Writer};
use crate::mux::{
    MuxError, MuxStats, OggOpusWriter, OpusConfig, OutputFile, WebmCodec, WebmConfig, WebmWriter,
};
use crate::mux::{WavCodec, WavConfig, WavWriter};
use crate::time::CaptureTime;
use crate::track::fec::{self, FecDecoder, FecScheme, FecSource};
use crate::track::red::RedHistory;
use crate::track::{Arrival, ReorderBuffer, ReorderConfig, ReorderStats, TrackItem};
use std::path::PathBuf;

/// A step in media time this long between consecutive packets is a pause (DTX, mute).
const PAUSE_NS: i64 = 500_000_000;

/// A timestamp step this much longer than the capture time it took is a jump, not media.
const MAX_TS_JUMP_NS: i64 = 10_000_000_000;

/// The file a track is written to.
enum Muxer {
    Ogg(OggOpusWriter),
    Webm(WebmWriter),
    Mp4(Box<Mp4Writer>),
    Wav(WavWriter),
}

impl Muxer {
    fn write(&mut self, f: &Frame) -> Result<(), MuxError> {
        match self {
            Muxer::Ogg(w) => w.write_frame(f),
            Muxer::Webm(w) => w.write_frame(f),
            Muxer::Mp4(w) => w.write_frame(f),
            Muxer::Wav(w) => w.write_frame(f),
        }
    }

    fn finish(self) -> Result<OutputFile, MuxError> {
        match self {
            Muxer::Ogg(w) => w.finish(),
            Muxer::Webm(w) => w.finish(),
            Muxer::Mp4(w) => w.finish(),
            Muxer::Wav(w) => w.finish(),
        }
    }

    fn stats(&self) -> MuxStats {
        match self {
            Muxer::Ogg(w) => w.stats(),
            Muxer::Webm(w) => w.stats(),
            Muxer::Mp4(w) => w.stats(),
            Muxer::Wav(w) => w.stats(),
        }
    }
}

/// Everything fixed about a track before its first packet.
#[derive(Clone, Debug)]
pub struct TrackSetup {
    /// The container to write (one that carries the codec).
    pub container: Container,
    /// Codec of the media payload type.
    pub codec: Codec,
    /// Payload type carrying the media; other payload types on the SSRC are skipped.
    pub payload_type: Option<u8>,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Audio channels (Opus, L16, G.711).
    pub channels: u8,
    /// Final path of the file.
    pub path: PathBuf,
    /// Deterministic identifier for container serials/UIDs.
    pub uid: u64,
    /// Reorder window.
    pub reorder: ReorderConfig,
    /// RED payload type (RFC 2198) whose blocks carry this track's media.
    pub red_payload_type: Option<u8>,
    /// SDP fmtp parameters of the payload type (H.264/H.265 `sprop-*` parameter sets).
    pub fmtp: Option<String>,
    /// Forward error correction protecting the track, when metadata or SDP says so.
    pub fec: Option<FecSetup>,
    /// `--audio-export`: decoded from the file once it is complete (audio tracks only).
    pub audio_export: Option<AudioExport>,
}

/// How a track's media is protected by FEC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FecSetup {
    /// The repair packets' format.
    pub scheme: FecScheme,
    /// Payload type of repair packets inside the media stream (ULPFEC, or a RED block's).
    pub payload_type: Option<u8>,
    /// The media SSRC: FlexFEC names it, recovered packets carry it.
    pub media_ssrc: u32,
}

/// Why a track could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// The codec has no depacketizer or container.
    #[error("unsupported codec {0:?}")]
    Unsupported(Codec),
    /// Video frames arrived but none was a keyframe, so nothing is decodable.
    #[error(
        "no keyframe: {0} complete frames arrived but none can be decoded without an earlier keyframe"
    )]
    NoKeyframe(u64),
    /// The muxer failed (I/O) or had nothing to write.
    #[error(transparent)]
    Mux(#[from] MuxError),
}

/// Counters of one track, for the manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrackStats {
    /// Packets of the track's SSRC seen (all payload types).
    pub packets: u64,
    /// Packets of other payload types (DTMF, comfort noise) not recorded.
    pub other_payload_types: u64,
    /// Reorder buffer counters: duplicates, reordered, late, lost, restarts.
    #[serde(flatten)]
    pub reorder: ReorderStats,
    /// Frames the depacketizer assembled.
    pub frames_assembled: u64,
    /// Frames written to the file.
    pub frames_written: u64,
    /// Frames dropped because a packet was lost or malformed.
    pub frames_dropped_incomplete: u64,
    /// Frames dropped while waiting for a keyframe after loss.
    pub frames_dropped_until_keyframe: u64,
    /// Malformed payloads.
    pub malformed: u64,
    /// Packets inserted to keep audio gaps on the timeline.
    pub frames_inserted: u64,
    /// Timestamp jumps re-anchored on capture time.
    pub timestamp_jumps: u64,
    /// Gaps (runs of lost packets) on the timeline.
    pub gaps: u64,
    /// Padding-only packets (no payload) skipped.
    pub padding_only: u64,
    /// RFC 4588 retransmissions received.
    pub rtx_packets: u64,
    /// Retransmissions that restored a packet missing from the media stream.
    pub recovered_rtx: u64,
    /// RED redundant blocks that restored a lost packet.
    pub recovered_red: u64,
    /// RED redundant blocks whose timestamp matched no packet (dropped).
    pub red_unmatched: u64,
    /// FEC repair packets received (ULPFEC or FlexFEC).
    pub fec_packets: u64,
    /// FEC repair packets that could not be parsed.
    pub fec_malformed: u64,
    /// Packets FEC restored that were still missing from the media stream.
    pub recovered_fec: u64,
    /// Pauses: media time stood still with no packet missing (DTX, mute, paused screen share).
    pub pauses: u64,
    /// Total length of the pauses, in ms.
    pub paused_ms: u64,
}

/// Records one track: reorder, repair, depacketize, mux, hash.
pub struct TrackRecorder {
    setup: TrackSetup,
    reorder: ReorderBuffer,
    depack: Depacketizer,
    /// The file; `None` once writing stopped (failed): packets are then only counted.
    muxer: Option<Muxer>,
    /// The muxer's counters when writing stopped.
    mux_stats: MuxStats,
    /// Added to every depacketized timestamp (changes at resets and jumps).
    ts_offset: i128,
    /// (extended ts after offset, capture time) of the last packet fed to the depacketizer.
    last: Option<(i128, u64, CaptureTime)>,
    anchor_pending: bool,
    packets: u64,
    other_pt: u64,
    jumps: u64,
    gaps: u64,
    padding_only: u64,
    rtx_packets: u64,
    recovered_rtx: u64,
    recovered_red: u64,
    red_redundant: u64,
    /// RED blocks whose timestamp matched no packet within reach.
    red_unmatched: u64,
    /// Timestamps of recent packets, to place redundant blocks (RFC 2198 §3).
    red_history: RedHistory,
    /// The FEC decoder of a protected track, with its setup.
    fec: Option<(FecSetup, FecDecoder)>,
    fec_packets: u64,
    fec_malformed: u64,
    recovered_fec: u64,
    gap_since_last: bool,
    pauses: u64,
    paused_ns: u64,
    red_malformed: u64,
    /// RED packets pushed: the media arrive RED-wrapped (and so do retransmissions).
    red_packets: u64,
    /// Packets pushed that were not RED.
    plain_media: u64,
    /// FEC recoveries of packets that had arrived: (as duplicates, as late).
    fec_redundant: (u64, u64),
    frames_written: u64,
    first_time: Option<CaptureTime>,
    last_time: Option<CaptureTime>,
    dimensions: Option<(u16, u16)>,
    /// Per-interval series and events for `OUT/timeline.json`.
    timeline: TimelineBuilder,
    /// Capture time of the last packet the reorder buffer released (where a gap begins).
    last_released: Option<CaptureTime>,
}

impl TrackRecorder {
    /// Creates the track's depacketizer and its (temporary) output file.
    pub fn new(setup: TrackSetup) -> Result<Self, TrackError> {
        let container =
            Container::for_codec(setup.codec).ok_or(TrackError::Unsupported(setup.codec))?;
        let depack = Depacketizer::with_fmtp(setup.codec, setup.channels, setup.fmtp.as_deref())
            .map_err(|_| TrackError::Unsupported(setup.codec))?;
        if let Some(dir) = setup.path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| MuxError::Io {
                path: setup.path.clone(),
                source,
            })?;
        }
        let muxer = match (container, setup.codec) {
            (Container::Ogg, Codec::Opus) => Muxer::Ogg(OggOpusWriter::new(
                setup.path.clone(),
                OpusConfig::new(setup.channels, setup.uid as u32),
            )?),
            (Container::Webm, codec) => {
                let codec = match codec {
                    Codec::Vp8 => WebmCodec::Vp8,
                    Codec::Vp9 => WebmCodec::Vp9,
                    Codec::Av1 => WebmCodec::Av1,
                    // RFC 7845 §5.1 pre-skip, as the Ogg writer uses.
                    Codec::Opus => WebmCodec::Opus {
                        channels: setup.channels,
                        pre_skip: 312,
                        input_sample_rate: 48_000,
                    },
                    other => return Err(TrackError::Unsupported(other)),
                };
                Muxer::Webm(WebmWriter::new(
                    setup.path.clone(),
                    WebmConfig {
                        codec,
                        clock_rate: setup.clock_rate,
                        track_uid: setup.uid.max(1),
                    },
                )?)
            }
            (Container::Mp4, codec) => {
                let codec = match codec {
                    Codec::H264 => Mp4Codec::H264,
                    Codec::H265 => Mp4Codec::H265,
                    other => return Err(TrackError::Unsupported(other)),
                };
                Muxer::Mp4(Box::new(Mp4Writer::new(
                    setup.path.clone(),
                    Mp4Config {
                        codec,
                        clock_rate: setup.clock_rate,
                    },
                )?))
            }
            (Container::Wav, codec) => {
                let codec = match codec {
                    Codec::Pcmu => WavCodec::Pcmu,
                    Codec::Pcma => WavCodec::Pcma,
                    Codec::G722 => WavCodec::G722,
                    Codec::L16 => WavCodec::L16,
                    other => return Err(TrackError::Unsupported(other)),
                };
                Muxer::Wav(WavWriter::new(
                    setup.path.clone(),
                    WavConfig {
                        codec,
                        clock_rate: setup.clock_rate,
                        channels: setup.channels,
                    },
                )?)
            }
            (_, codec) => return Err(TrackError::Unsupported(codec)),
        };
        let fec_setup = setup.fec;
        Ok(TrackRecorder {
            timeline: TimelineBuilder::new(setup.clock_rate),
            last_released: None,
            reorder: ReorderBuffer::new(setup.reorder),
            setup,
            depack,
            muxer: Some(muxer),
            mux_stats: MuxStats::default(),
            ts_offset: 0,
            last: None,
            anchor_pending: false,
            packets: 0,
            other_pt: 0,
            jumps: 0,
            gaps: 0,
            padding_only: 0,
            rtx_packets: 0,
            recovered_rtx: 0,
            recovered_red: 0,
            red_redundant: 0,
            red_unmatched: 0,
            red_history: RedHistory::default(),
            fec: fec_setup.map(|f| (f, FecDecoder::new())),
            fec_packets: 0,
            fec_malformed: 0,
            recovered_fec: 0,
            gap_since_last: false,
            pauses: 0,
            paused_ns: 0,
            red_malformed: 0,
            red_packets: 0,
            plain_media: 0,
            fec_redundant: (0, 0),
            frames_written: 0,
            first_time: None,
            last_time: None,
            dimensions: None,
        })
    }

    /// Feeds one captured packet of the track's SSRC.
    pub fn push(&mut self, a: Arrival) -> Result<(), TrackError> {
        self.push_packet(a, None)
    }

    /// Feeds one captured packet of the track's SSRC with its complete (plain)
    /// RTP bytes, which FEC needs: it protects headers and extensions too.
    pub fn push_packet(&mut self, a: Arrival, raw: Option<&[u8]>) -> Result<(), TrackError> {
        self.packets += 1;
        self.timeline.arrival(a.time, a.ts32, a.payload.len());
        self.first_time.get_or_insert(a.time);
        self.last_time = Some(self.last_time.map_or(a.time, |t| t.max(a.time)));
        if self.setup.red_payload_type == Some(a.pt) {
            return self.push_red(a, raw);
        }
        self.plain_media += 1;
        let fec_pt = self.fec.as_ref().and_then(|(f, _)| f.payload_type);
        if let Some(raw) = raw {
            if fec_pt == Some(a.pt) {
                // In-band ULPFEC (RFC 5109 §14.1): repair data in the media's sequence space.
                self.add_repair(fec::parse_ulpfec(&a.payload), a.time);
            } else if let Some(s) = FecSource::from_rtp(raw) {
                self.add_fec_source(s, a.time);
            }
        }
        self.reorder.push(a);
        self.drain()
    }

    /// Turns FEC on for a track that started without (inferred: its repair stream
    /// was recognised later); media from now on is remembered for recovery.
    pub fn enable_fec(&mut self, setup: FecSetup) {
        if self.fec.is_none() {
            self.fec = Some((setup, FecDecoder::new()));
        }
    }

    /// Feeds a packet of the track's separate FEC stream (FlexFEC): the whole plain RTP packet.
    pub fn push_fec_stream(&mut self, raw: &[u8], time: CaptureTime) -> Result<(), TrackError> {
        let Some((setup, _)) = &self.fec else {
            return Ok(());
        };
        let ssrc = setup.media_ssrc;
        let parsed = match setup.scheme {
            FecScheme::Flexfec => fec::parse_flexfec(raw, ssrc),
            FecScheme::Flexfec03 => fec::parse_flexfec03(raw, ssrc),
            // ULPFEC as its own stream (RFC 5109 §14.2): the payload after the RTP header.
            FecScheme::Ulpfec => match crate::rtp::RtpPacket::parse(raw) {
                Ok(p) => fec::parse_ulpfec(p.payload()),
                Err(_) => {
                    self.fec_malformed += 1;
                    return Ok(());
                }
            },
        };
        self.add_repair(parsed, time);
        self.drain()
    }

    /// Hands a media packet to the FEC decoder; packets it now recovers fill their gaps.
    fn add_fec_source(&mut self, s: FecSource, time: CaptureTime) {
        let recovered = match &mut self.fec {
            Some((_, dec)) => dec.add_source(s),
            None => return,
        };
        self.push_recovered(recovered, time);
    }

    fn add_repair(&mut self, parsed: Result<fec::RepairPacket, fec::FecError>, time: CaptureTime) {
        self.fec_packets += 1;
        let recovered = match (&mut self.fec, parsed) {
            (Some((_, dec)), Ok(r)) => dec.add_repair(r),
            (_, Err(_)) => {
                self.fec_malformed += 1;
                return;
            }
            (None, Ok(_)) => return,
        };
        self.push_recovered(recovered, time);
    }

    /// Queues packets FEC restored, like retransmissions: they count only if still missing.
    fn push_recovered(&mut self, recovered: Vec<FecSource>, time: CaptureTime) {
        let Some((setup, _)) = &self.fec else { return };
        let ssrc = setup.media_ssrc;
        for s in recovered {
            let raw = s.to_rtp(ssrc);
            let Ok(p) = crate::rtp::RtpPacket::parse(&raw) else {
                self.fec_malformed += 1;
                continue;
            };
            let a = Arrival::from_rtp(&p, time);
            // A recovery of a packet that did arrive (a repair overtaking it, or
            // FEC recognised mid-stream) is not a duplicate or late packet the network made.
            match self.fill(a) {
                Fill::Filled => {
                    self.recovered_fec += 1;
                    self.timeline.recovered(time);
                }
                Fill::Duplicate => self.fec_redundant.0 += 1,
                Fill::Late => self.fec_redundant.1 += 1,
            }
        }
    }

    /// Unwraps a RED packet: redundant blocks restore earlier packets that were
    /// lost (RFC 2198), then the primary goes on as the packet itself.
    ///
    /// A block carries its timestamp offset, not a sequence number (RFC 2198 §3):
    /// it restores the packet whose timestamp is the primary's minus the offset,
    /// at any distance ([`RedHistory::locate`]), so libwebrtc's one block per
    /// earlier packet and GStreamer's `distance=2` both work. A block matching
    /// no packet is counted and dropped.
    ///
    /// With FEC (Chrome's video RED): a primary block of the FEC payload type is
    /// ULPFEC repair data; a media primary is protected as the packet it was
    /// before RED wrapped it (the media payload type, the RED header removed).
    fn push_red(&mut self, a: Arrival, raw: Option<&[u8]>) -> Result<(), TrackError> {
        self.red_packets += 1;
        let Ok(blocks) = crate::track::red::split(&a.payload) else {
            self.red_malformed += 1;
            return Ok(());
        };
        let Some((primary, redundant)) = blocks.split_last() else {
            return Ok(());
        };
        let fec_pt = self.fec.as_ref().and_then(|(f, _)| f.payload_type);
        if let (Some(raw), true) = (raw, self.fec.is_some()) {
            if fec_pt == Some(primary.pt) {
                self.add_repair(fec::parse_ulpfec(primary.data), a.time);
            } else if let Some(s) =
                unwrap_red_source(raw, a.payload.len(), primary.pt, primary.data.len())
            {
                self.add_fec_source(s, a.time);
            }
        }
        self.red_history.record(a.seq16, a.ts32);
        for b in redundant {
            if b.data.is_empty() {
                continue;
            }
            // An Opus block's own length is the step to the packet after it (RFC 6716 §3.1).
            let duration = (self.setup.codec == Codec::Opus)
                .then(|| crate::codec::opus::packet_duration(b.data).ok())
                .flatten()
                .map(|samples| {
                    u32::try_from(u64::from(samples) * u64::from(self.setup.clock_rate) / 48_000)
                        .unwrap_or(0)
                });
            let Some(seq16) = self
                .red_history
                .locate(a.seq16, a.ts32, b.ts_offset, duration)
            else {
                self.red_unmatched += 1;
                continue;
            };
            let ts32 = a.ts32.wrapping_sub(u32::from(b.ts_offset));
            self.red_history.record(seq16, ts32);
            let restored = Arrival {
                seq16,
                ts32,
                marker: false,
                pt: b.pt,
                payload: b.data.to_vec(),
                time: a.time,
            };
            if self.fill(restored) == Fill::Filled {
                self.recovered_red += 1;
                self.timeline.recovered(a.time);
            } else {
                // Redundancy of a packet that arrived is expected, not a duplicate sent.
                self.red_redundant += 1;
            }
        }
        let primary = Arrival {
            pt: primary.pt,
            payload: primary.data.to_vec(),
            ..a
        };
        self.reorder.push(primary);
        self.drain()
    }

    /// Feeds a packet restored from an RFC 4588 retransmission.
    ///
    /// It fills its gap if the original has not been released as lost yet; a
    /// retransmission of a packet that did arrive is a duplicate and dropped.
    ///
    /// A track whose media arrive RED-wrapped (Chrome's video with ULPFEC) is
    /// retransmitted RED-wrapped too (RTX `apt` = the RED payload type): the
    /// primary block is the packet.
    pub fn push_rtx(&mut self, mut a: Arrival) -> Result<(), TrackError> {
        self.rtx_packets += 1;
        // RED configured and no plain media seen: the stream is RED-wrapped.
        if self.setup.red_payload_type.is_some() && (self.red_packets > 0 || self.plain_media == 0)
        {
            let primary = crate::track::red::split(&a.payload)
                .ok()
                .and_then(|b| b.last().map(|p| (p.pt, p.data.to_vec())));
            let Some((pt, data)) = primary else {
                self.red_malformed += 1;
                return Ok(());
            };
            (a.pt, a.payload) = (pt, data);
        }
        let time = a.time;
        if self.fill(a) == Fill::Filled {
            self.recovered_rtx += 1;
            self.timeline.recovered(time);
        }
        self.drain()
    }

    /// Pushes a restored packet: whether it filled a gap, repeated a packet
    /// that arrived, or came too late for the reorder window.
    fn fill(&mut self, a: Arrival) -> Fill {
        let before = self.reorder.stats();
        // Restored packets repeat old sequence numbers by design: never a sender restart.
        self.reorder.push_restored(a);
        let after = self.reorder.stats();
        if after.duplicates > before.duplicates {
            Fill::Duplicate
        } else if after.late > before.late {
            Fill::Late
        } else {
            Fill::Filled
        }
    }

    /// Coded size of the first video frame that carried one.
    pub fn dimensions(&self) -> Option<(u16, u16)> {
        self.dimensions
    }

    /// Capture time of the first and last packet.
    pub fn span(&self) -> Option<(CaptureTime, CaptureTime)> {
        Some((self.first_time?, self.last_time?))
    }

    fn drain(&mut self) -> Result<(), TrackError> {
        while let Some(item) = self.reorder.pull() {
            match item {
                TrackItem::Packet(p) => {
                    let fed = self.release(&p);
                    super::bufpool::give_back(p.payload);
                    if !fed {
                        continue;
                    }
                }
                TrackItem::Gap { lost } => {
                    self.timeline.gap(self.last_released, lost);
                    self.gaps += 1;
                    self.gap_since_last = true;
                    self.depack.gap(lost);
                }
                TrackItem::Reset => {
                    self.depack.gap(0);
                    self.anchor_pending = true;
                }
            }
            if self.muxer.is_some() {
                self.write_frames()?;
            }
        }
        Ok(())
    }

    /// Feeds a packet the reorder buffer released to the depacketizer; false
    /// when it carries no media to write (repair data, another payload type,
    /// padding only, or writing stopped).
    fn release(&mut self, p: &crate::track::ReorderedPacket) -> bool {
        self.timeline.released(p.time);
        self.last_released = Some(p.time);
        // Repair packets, other payload types (DTMF, CN) and padding-only
        // packets (bandwidth probes) take sequence numbers of the media
        // stream without carrying media: not a loss, nothing to depacketize.
        let fec_pt = self.fec.as_ref().and_then(|(f, _)| f.payload_type);
        if fec_pt == Some(p.pt) {
            self.depack.skip(p.seq);
            return false;
        }
        if self.setup.payload_type.is_some_and(|pt| pt != p.pt) {
            self.other_pt += 1;
            self.depack.skip(p.seq);
            return false;
        }
        if p.payload.is_empty() {
            self.padding_only += 1;
            self.depack.skip(p.seq);
            return false;
        }
        if self.muxer.is_none() {
            // Stopped writing: the packet is counted, not depacketized.
            return false;
        }
        self.check_jump(p.ts, p.time);
        let _ = self.depack.push(p.as_rtp_in());
        true
    }

    /// Stops writing after a failure: the temporary file is removed, and packets
    /// pushed from now on are still reordered, repaired and counted (loss,
    /// duplicates, restarts) so that a failed track reports them honestly.
    pub fn stop_writing(&mut self) {
        if let Some(m) = self.muxer.take() {
            self.mux_stats = m.stats();
        }
    }

    /// The final counters of a track that stopped writing (or is abandoned): the
    /// reorder window is flushed, so holes still open count as lost.
    pub fn final_stats(self) -> TrackStats {
        self.final_stats_and_timeline().0
    }

    /// Like [`TrackRecorder::final_stats`], with the track's time series.
    pub fn final_stats_and_timeline(mut self) -> (TrackStats, Option<TrackTimeline>) {
        self.stop_writing();
        self.reorder.flush();
        // Nothing is written any more, so draining cannot fail.
        let _ = self.drain();
        (self.stats(), self.timeline.finish())
    }

    /// Re-anchors the timeline when the RTP clock disagrees wildly with capture time.
    fn check_jump(&mut self, ts: u64, time: CaptureTime) {
        let clock = i128::from(self.setup.clock_rate.max(1));
        if let Some((last_out, last_ts, last_time)) = self.last {
            let dt_ns = i128::from(time.nanos_since(last_time).max(0));
            let dts_ns = (i128::from(ts) - i128::from(last_ts)) * 1_000_000_000 / clock;
            // Capture times may be synthetic (all equal): only a step far beyond
            // both the capture time and a sane frame gap, or a step backwards, is a jump.
            let jump = dts_ns > dt_ns + i128::from(MAX_TS_JUMP_NS) || dts_ns < -1_000_000_000;
            // No packet missing, yet media time stood still for a while: DTX, a muted
            // track or a paused screen share. It stays on the timeline and is a pause, not loss.
            if !jump && !self.gap_since_last && dts_ns >= i128::from(PAUSE_NS) {
                self.pauses += 1;
                self.paused_ns += u64::try_from(dts_ns).unwrap_or(0);
                self.timeline.pause(last_time, time);
            }
            if jump || self.anchor_pending {
                // After a sender restart the timestamp restarts too: counted as the
                // restart (reorder stats), not as a jump.
                self.jumps += u64::from(jump && !self.anchor_pending);
                // Continue the timeline where capture time says the packet belongs.
                let target = last_out + dt_ns * clock / 1_000_000_000;
                self.ts_offset = target - i128::from(ts);
            }
        }
        self.anchor_pending = false;
        self.gap_since_last = false;
        self.last = Some((i128::from(ts) + self.ts_offset, ts, time));
    }

    fn write_frames(&mut self) -> Result<(), TrackError> {
        while let Some(mut f) = self.depack.pull() {
            let ts = i128::from(f.ts) + self.ts_offset;
            // Offsets keep timestamps in the second RTP cycle and above; clamp defensively.
            f.ts = u64::try_from(ts).unwrap_or(0);
            if self.dimensions.is_none() {
                self.dimensions = f.dimensions;
            }
            if let Some(m) = &mut self.muxer {
                m.write(&f)?;
                self.frames_written += 1;
                // Audio frames are all "key": only video keyframes mark the timeline.
                if f.keyframe
                    && self.setup.codec.kind() == crate::codec::Kind::Video
                    && let Some((_, _, t)) = self.last
                {
                    self.timeline.keyframe(t);
                }
            }
            self.depack.recycle(f.data);
        }
        Ok(())
    }

    /// Flushes everything held and completes the file; the counters come either way.
    pub fn finish(self) -> (Result<OutputFile, TrackError>, TrackStats) {
        let (result, stats, _) = self.finish_with_dimensions();
        (result, stats)
    }

    /// Like [`TrackRecorder::finish`], also returning the video size: frames held
    /// by the reorder buffer until the end (synthetic capture times) carry it too.
    pub fn finish_with_dimensions(
        self,
    ) -> (
        Result<OutputFile, TrackError>,
        TrackStats,
        Option<(u16, u16)>,
    ) {
        let f = self.finish_all();
        (f.result, f.stats, f.dims)
    }

    /// Flushes and completes the file: everything the track's worker reports.
    pub fn finish_all(mut self) -> Finish {
        self.reorder.flush();
        let drained = self.drain();
        self.depack.flush();
        let written = drained.and_then(|()| self.write_frames());
        let dims = self.dimensions;
        if let Err(e) = written {
            // What the window still held after the failing frame is counted too.
            let (stats, timeline) = self.final_stats_and_timeline();
            return Finish {
                result: Err(e),
                stats,
                dims,
                timeline,
            };
        }
        let stats = self.stats();
        let timeline = std::mem::replace(&mut self.timeline, TimelineBuilder::new(1)).finish();
        let Some(muxer) = self.muxer.take() else {
            // Writing stopped earlier: there is no file to complete.
            return Finish {
                result: Err(MuxError::NoFrames.into()),
                stats,
                dims,
                timeline,
            };
        };
        let export = self.setup.audio_export.zip(match self.setup.container {
            Container::Ogg => Some(SourceFormat::OggOpus),
            Container::Wav => Some(SourceFormat::Wav),
            // Video; Opus in WebM is not exported (see `mux::export`).
            _ => None,
        });
        let result = match muxer.finish() {
            Ok(mut file) => match export {
                // The track's file is final; the export is decoded from it.
                Some((kind, format)) => match export_audio(kind, &file.path, format) {
                    Ok(e) => {
                        file.exports.push(e);
                        Ok(file)
                    }
                    Err(e) => Err(e.into()),
                },
                None => Ok(file),
            },
            Err(MuxError::NoFrames) if stats.frames_dropped_until_keyframe > 0 => {
                Err(TrackError::NoKeyframe(stats.frames_dropped_until_keyframe))
            }
            Err(e) => Err(e.into()),
        };
        Finish {
            result,
            stats,
            dims,
            timeline,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TrackStats {
        let d: &DepackStats = self.depack.stats();
        let m = self.muxer.as_ref().map_or(self.mux_stats, Muxer::stats);
        TrackStats {
            packets: self.packets,
            other_payload_types: self.other_pt,
            // Redundant copies of packets that did arrive are not duplicates the network made.
            reorder: {
                let mut r = self.reorder.stats();
                r.duplicates = r
                    .duplicates
                    .saturating_sub(self.red_redundant + self.fec_redundant.0);
                r.late = r.late.saturating_sub(self.fec_redundant.1);
                r.packets = r
                    .packets
                    .saturating_sub(self.recovered_red + self.red_redundant);
                r
            },
            frames_assembled: d.frames,
            frames_written: m.frames_written,
            frames_dropped_incomplete: d.dropped_incomplete,
            frames_dropped_until_keyframe: d.dropped_waiting_keyframe + m.dropped_before_keyframe,
            malformed: d.malformed_total() + self.red_malformed,
            frames_inserted: m.frames_inserted,
            timestamp_jumps: self.jumps,
            gaps: self.gaps,
            padding_only: self.padding_only,
            rtx_packets: self.rtx_packets,
            recovered_rtx: self.recovered_rtx,
            recovered_red: self.recovered_red,
            red_unmatched: self.red_unmatched,
            fec_packets: self.fec_packets,
            fec_malformed: self.fec_malformed,
            recovered_fec: self.recovered_fec,
            pauses: self.pauses,
            paused_ms: self.paused_ns / 1_000_000,
        }
    }
}

/// Everything a finished track reports.
#[derive(Debug)]
pub struct Finish {
    /// The file, or why not.
    pub result: Result<OutputFile, TrackError>,
    /// The counters.
    pub stats: TrackStats,
    /// Video width and height.
    pub dims: Option<(u16, u16)>,
    /// The time series, when a packet arrived.
    pub timeline: Option<TrackTimeline>,
}

/// What became of a restored packet pushed into the reorder buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fill {
    /// It filled a gap.
    Filled,
    /// The packet had arrived.
    Duplicate,
    /// Its gap was already released as lost.
    Late,
}

/// The media packet a RED packet carries, as FEC protects it: the RTP header
/// with the block's payload type, then the primary data and any padding.
///
/// `payload_len` is the RED payload (blocks, without padding), `data_len` the primary's.
fn unwrap_red_source(raw: &[u8], payload_len: usize, pt: u8, data_len: usize) -> Option<FecSource> {
    let header_len = crate::rtp::RtpPacket::parse(raw).ok()?.header_len();
    let red_header = payload_len.checked_sub(data_len)?;
    let mut packet = Vec::with_capacity(raw.len().saturating_sub(red_header));
    packet.extend_from_slice(raw.get(..header_len)?);
    packet.extend_from_slice(raw.get(header_len + red_header..)?);
    let b1 = packet.get_mut(1)?;
    *b1 = (*b1 & 0x80) | (pt & 0x7f);
    FecSource::from_rtp(&packet)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 20 ms CELT fullband stereo, code 0 (RFC 6716 §3.1 config 31).
    const OPUS_20MS: [u8; 3] = [0xfc, 0xff, 0xfe];

    fn opus_track(dir: &std::path::Path) -> TrackRecorder {
        TrackRecorder::new(opus_setup(dir)).expect("track starts")
    }

    /// An Ogg Opus track writing `dir/a.ogg` (the workers' tests use it too).
    pub(crate) fn opus_setup(dir: &std::path::Path) -> TrackSetup {
        TrackSetup {
            container: Container::Ogg,
            codec: Codec::Opus,
            payload_type: Some(111),
            clock_rate: 48_000,
            channels: 2,
            path: dir.join("a.ogg"),
            uid: 7,
            reorder: ReorderConfig::default(),
            red_payload_type: None,
            fmtp: None,
            fec: None,
            audio_export: None,
        }
    }

    fn push(t: &mut TrackRecorder, seq: u16, ts: u32, ms: i64, pt: u8, payload: &[u8]) {
        let a = Arrival {
            seq16: seq,
            ts32: ts,
            marker: false,
            pt,
            payload: payload.to_vec(),
            time: CaptureTime::from_nanos(ms * 1_000_000),
        };
        t.push(a).expect("push");
    }

    /// H.264 whose SPS/PPS only the SDP carries (`sprop-parameter-sets`): the
    /// fmtp reaches the depacketizer, the MP4 gets its `avcC` and the size.
    #[test]
    fn h264_parameter_sets_from_fmtp() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = TrackRecorder::new(TrackSetup {
            container: Container::Mp4,
            codec: Codec::H264,
            payload_type: Some(96),
            clock_rate: 90_000,
            channels: 0,
            path: dir.path().join("v.mp4"),
            uid: 9,
            reorder: ReorderConfig::default(),
            red_payload_type: None,
            fec: None,
            audio_export: None,
            fmtp: Some(
                "packetization-mode=1;sprop-parameter-sets=Z0LAHoyNQPhj1EQDwiEagA==,aM48gA=="
                    .into(),
            ),
        })
        .expect("track starts");
        for i in 0..10u16 {
            let payload = if i == 0 {
                vec![0x65, 0x88, 0x84, 0x21]
            } else {
                vec![0x41, 0x9a, 0x11, u8::try_from(i).unwrap()]
            };
            let a = Arrival {
                seq16: 500 + i,
                ts32: 1000 + u32::from(i) * 3000,
                marker: true,
                pt: 96,
                payload,
                time: CaptureTime::from_nanos(i64::from(i) * 33_333_333),
            };
            t.push(a).expect("push");
        }
        let (file, stats, dims) = t.finish_with_dimensions();
        let file = file.expect("file written");
        assert_eq!((stats.frames_written, dims), (10, Some((494, 370))));
        assert_eq!(file.duration_ms, 333);
        assert!(file.path.extension().is_some_and(|e| e == "mp4"));
    }

    #[test]
    fn a_timestamp_jump_is_reanchored_on_capture_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = opus_track(dir.path());
        for i in 0..50u16 {
            // After 25 packets the sender's clock jumps one hour ahead; capture time goes on at 20 ms.
            let jump = if i >= 25 { 3600 * 48_000 } else { 0 };
            push(
                &mut t,
                1000 + i,
                u32::from(i) * 960 + jump,
                i64::from(i) * 20,
                111,
                &OPUS_20MS,
            );
        }
        let (file, stats) = t.finish();
        let file = file.expect("file written");
        assert_eq!(stats.timestamp_jumps, 1);
        assert_eq!(stats.frames_written, 50);
        // 50 packets of 20 ms, not an hour of filler.
        assert!(
            (990..=1000).contains(&file.duration_ms),
            "{}",
            file.duration_ms
        );
    }

    #[test]
    fn l16_stereo_track_writes_a_stereo_wav_with_gaps_filled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let mut t = TrackRecorder::new(TrackSetup {
            container: Container::Wav,
            codec: Codec::L16,
            payload_type: Some(96),
            clock_rate: 16_000,
            channels: 2,
            path: path.clone(),
            uid: 7,
            reorder: ReorderConfig::default(),
            red_payload_type: None,
            fmtp: None,
            fec: None,
            audio_export: None,
        })
        .expect("track starts");
        // 20 ms of 16 kHz stereo = 320 ticks, 1280 octets; packet 3 is lost.
        let payload = [0x01u8, 0x02].repeat(640);
        for i in (0..10u16).filter(|&i| i != 3) {
            push(
                &mut t,
                i,
                u32::from(i) * 320,
                i64::from(i) * 20,
                96,
                &payload,
            );
        }
        let (file, stats) = t.finish();
        let file = file.expect("file written");
        assert_eq!((stats.frames_written, stats.frames_inserted), (9, 1));
        assert_eq!(file.duration_ms, 200);
        let b = std::fs::read(&path).unwrap();
        assert_eq!(u16::from_le_bytes([b[22], b[23]]), 2, "channels");
        assert_eq!(u32::from_le_bytes([b[24], b[25], b[26], b[27]]), 16_000);
        let data = &b[44..];
        assert_eq!(data.len(), 10 * 1280);
        assert_eq!(&data[..2], [0x02, 0x01], "little-endian");
        assert!(data[3 * 1280..4 * 1280].iter().all(|&x| x == 0), "silence");
    }

    #[test]
    fn other_payload_types_and_padding_are_skipped_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = opus_track(dir.path());
        let mut seq = 0u16;
        for i in 0..20u32 {
            push(&mut t, seq, i * 960, i64::from(i) * 20, 111, &OPUS_20MS);
            seq += 1;
            if i % 5 == 0 {
                // A DTMF event and a padding-only probe share the SSRC's sequence space.
                push(
                    &mut t,
                    seq,
                    i * 960,
                    i64::from(i) * 20,
                    101,
                    &[1, 0x80, 0, 160],
                );
                seq += 1;
                push(&mut t, seq, i * 960, i64::from(i) * 20, 111, &[]);
                seq += 1;
            }
        }
        let (file, stats) = t.finish();
        assert!(file.is_ok());
        assert_eq!(
            (
                stats.other_payload_types,
                stats.padding_only,
                stats.reorder.lost,
                stats.frames_written
            ),
            (4, 4, 0, 20)
        );
    }

    /// The Opus packets of an Ogg file, after the two header packets.
    fn ogg_packets(path: &std::path::Path) -> Vec<Vec<u8>> {
        let mut r = ogg::PacketReader::new(std::fs::File::open(path).expect("file written"));
        let mut out = Vec::new();
        while let Some(p) = r.read_packet().expect("valid Ogg") {
            out.push(p.data);
        }
        out.split_off(2)
    }

    /// Whether a packet's original arrives, whether it is duplicated, and after how
    /// many packets an RTX copy of it arrives (if any).
    type PacketFate = (bool, bool, Option<u8>);

    /// One loss/repair scenario: for packet i, whether the original arrives, whether
    /// it is duplicated, and after how many packets an RTX copy of it arrives (if any).
    fn arb_repair() -> impl proptest::strategy::Strategy<Value = (u16, bool, Vec<PacketFate>)> {
        use proptest::prelude::*;
        (
            any::<u16>(),
            any::<bool>(),
            proptest::collection::vec(
                (
                    prop::bool::weighted(0.8),
                    prop::bool::weighted(0.05),
                    prop::option::weighted(0.2, 1u8..10),
                ),
                10..80,
            ),
        )
    }

    /// A RED payload (RFC 2198 §3): `(timestamp offset, data)` redundant blocks, oldest first, then the primary.
    fn red_payload(redundant: &[(u16, Vec<u8>)], primary: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        for (offset, data) in redundant {
            let len = u16::try_from(data.len()).expect("short test block");
            p.extend([
                0x80 | 111,
                (offset >> 6) as u8,
                (((offset & 0x3f) << 2) as u8) | (len >> 8) as u8,
                len as u8,
            ]);
        }
        p.push(111);
        for (_, data) in redundant {
            p.extend_from_slice(data);
        }
        p.extend_from_slice(primary);
        p
    }

    /// A unique 20 ms Opus packet per index: CELT fullband (RFC 6716 §3.1 config 31), then the index.
    fn numbered_opus(i: usize) -> Vec<u8> {
        let [hi, lo] = u16::try_from(i).expect("small index").to_be_bytes();
        vec![0xfc, hi, lo, 0xab]
    }

    /// Sends `n` Opus packets in RED at 20 ms; packet i carries the redundant
    /// blocks `blocks(i)` gives. Packets whose `dropped` entry is true never
    /// arrive. Returns the indices written and the stats.
    fn send_red_blocks(
        n: usize,
        dropped: &[bool],
        seq0: u16,
        blocks: impl Fn(usize) -> Vec<(u16, Vec<u8>)>,
    ) -> (Vec<usize>, TrackStats) {
        let dir = tempfile::tempdir().unwrap();
        let mut t = TrackRecorder::new(TrackSetup {
            red_payload_type: Some(63),
            ..opus_setup(dir.path())
        })
        .expect("track starts");
        for i in (0..n).filter(|&i| !dropped[i]) {
            let a = Arrival {
                seq16: seq0.wrapping_add(i as u16),
                ts32: (i as u32) * 960,
                marker: false,
                pt: 63,
                payload: red_payload(&blocks(i), &numbered_opus(i)),
                time: CaptureTime::from_nanos(i as i64 * 20_000_000),
            };
            t.push(a).expect("push");
        }
        let (file, stats) = t.finish();
        let written = match file {
            Ok(f) => ogg_packets(&f.path)
                .iter()
                .filter(|p| p.len() == 4 && p[3] == 0xab)
                .map(|p| usize::from(u16::from_be_bytes([p[1], p[2]])))
                .collect(),
            Err(_) => Vec::new(),
        };
        (written, stats)
    }

    /// Like [`send_red_blocks`]: for each distance d in `distances`, packet i
    /// carries packet i-d as a block `d * 960` ticks back (oldest first).
    fn send_red(
        n: usize,
        distances: &[usize],
        dropped: &[bool],
        seq0: u16,
    ) -> (Vec<usize>, TrackStats) {
        send_red_blocks(n, dropped, seq0, |i| {
            distances
                .iter()
                .rev()
                .filter(|&&d| d <= i)
                .map(|&d| ((d * 960) as u16, numbered_opus(i - d)))
                .collect()
        })
    }

    /// GStreamer `rtpredenc distance=2`: each packet repeats only the one two back,
    /// so a lost packet is in the RED packet two later, not the next one.
    #[test]
    fn red_blocks_restore_by_timestamp_two_packets_back() {
        let mut dropped = vec![false; 40];
        for i in [3, 4, 9, 15, 16, 22, 30, 31] {
            dropped[i] = true;
        }
        let (written, stats) = send_red(40, &[2], &dropped, 65_530);
        assert_eq!(written, (0..40).collect::<Vec<_>>());
        assert_eq!((stats.recovered_red, stats.reorder.lost), (8, 0));
        assert_eq!((stats.red_unmatched, stats.reorder.duplicates), (0, 0));
    }

    /// libwebrtc's layout: blocks for 2 and 1 packets back; two lost in a row are
    /// both restored by the packet after them.
    #[test]
    fn red_blocks_of_libwebrtc_layout_still_restore() {
        let mut dropped = vec![false; 30];
        for i in [5, 6, 12, 20] {
            dropped[i] = true;
        }
        let (written, stats) = send_red(30, &[1, 2], &dropped, 100);
        assert_eq!(written, (0..30).collect::<Vec<_>>());
        assert_eq!((stats.recovered_red, stats.reorder.lost), (4, 0));
        assert_eq!(stats.reorder.duplicates, 0);
    }

    /// A block whose timestamp falls between two packets that both arrived restores nothing.
    #[test]
    fn a_red_block_matching_no_missing_packet_is_ignored_and_counted() {
        // Offset 480: half a packet back, no packet has that timestamp.
        let (written, stats) = send_red_blocks(5, &[false; 5], 0, |i| {
            if i > 0 {
                vec![(480, numbered_opus(99))]
            } else {
                vec![]
            }
        });
        assert_eq!(written, [0, 1, 2, 3, 4]);
        assert_eq!((stats.red_unmatched, stats.recovered_red), (4, 0));
    }

    /// After a failure the track writes nothing more, yet every packet and every
    /// hole (those the window still holds at the end too) is counted.
    #[test]
    fn a_track_that_stopped_writing_still_counts_packets_and_loss() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = opus_track(dir.path());
        let lost = [3u16, 4, 20, 38];
        for i in (0..40u16).filter(|i| !lost.contains(i)) {
            if i == 10 {
                t.stop_writing();
                assert!(!dir.path().join("a.ogg").exists());
            }
            push(
                &mut t,
                i,
                u32::from(i) * 960,
                i64::from(i) * 20,
                111,
                &OPUS_20MS,
            );
        }
        let stats = t.final_stats();
        assert_eq!((stats.packets, stats.reorder.lost, stats.gaps), (36, 4, 3));
        assert!(stats.frames_written < 10, "{}", stats.frames_written);
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "no file left"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// RTX and RED repair never reorder or duplicate what is written: the
        /// file holds each packet that arrived or was restored exactly once, in
        /// sequence order, whatever arrives twice or late (and across the
        /// sequence-number wrap).
        #[test]
        fn repair_never_reorders_or_duplicates(scenario in arb_repair()) {
            let (seq0, red, plan) = scenario;
            let dir = tempfile::tempdir().unwrap();
            let mut t = TrackRecorder::new(TrackSetup {
                red_payload_type: red.then_some(63),
                ..opus_setup(dir.path())
            })
            .expect("track starts");
            // A unique Opus packet per sequence number: 20 ms CELT, then the number.
            let opus = |i: usize| {
                let seq = seq0.wrapping_add(i as u16);
                vec![0xfc, (seq >> 8) as u8, seq as u8, 0xab]
            };
            let mut expected = std::collections::BTreeSet::new();
            // Events at (time slot, order): originals, duplicates, RTX copies.
            let mut events: Vec<(usize, u8, usize)> = Vec::new();
            for (i, &(arrives, dup, rtx)) in plan.iter().enumerate() {
                if arrives {
                    events.push((i, 0, i));
                    expected.insert(i);
                    if red && i > 0 {
                        // Its RED block carries packet i-1 again.
                        expected.insert(i - 1);
                    }
                }
                if dup {
                    events.push((i, 1, i));
                    expected.insert(i);
                    if red && i > 0 {
                        expected.insert(i - 1);
                    }
                }
                if let Some(d) = rtx {
                    events.push((i + usize::from(d), 2, i));
                    expected.insert(i);
                }
            }
            events.sort();
            for (slot, kind, i) in events {
                let seq = seq0.wrapping_add(i as u16);
                let ts = (i as u32) * 960;
                let time = CaptureTime::from_nanos(slot as i64 * 20_000_000 + i64::from(kind));
                // Retransmissions repeat the packet as sent: RED-wrapped in RED mode.
                let a = if red {
                    // RFC 2198: one redundant block (the previous packet), then the primary.
                    let mut p = Vec::new();
                    if i > 0 {
                        let prev = opus(i - 1);
                        p.extend([0x80 | 111, (960u16 >> 6) as u8, 0, prev.len() as u8]);
                        p.push(111);
                        p.extend(prev);
                    } else {
                        p.push(111);
                    }
                    p.extend(opus(i));
                    Arrival { seq16: seq, ts32: ts, marker: false, pt: 63, payload: p, time }
                } else {
                    Arrival { seq16: seq, ts32: ts, marker: false, pt: 111, payload: opus(i), time }
                };
                if kind == 2 {
                    t.push_rtx(a).expect("push");
                } else {
                    t.push(a).expect("push");
                }
            }
            let (file, _) = t.finish();
            let Ok(file) = file else {
                proptest::prop_assert!(expected.is_empty(), "{:?}", file.err());
                return Ok(());
            };
            let written: Vec<usize> = ogg_packets(&file.path)
                .iter()
                .filter(|p| p.len() == 4 && p[3] == 0xab)
                .map(|p| usize::from(u16::from_be_bytes([p[1], p[2]]).wrapping_sub(seq0)))
                .collect();
            proptest::prop_assert_eq!(written, expected.into_iter().collect::<Vec<_>>());
        }

        /// Random loss, 1 to 3 packets of redundancy distance, libwebrtc's (every
        /// distance up to d) or GStreamer's (only d) layout: exactly the packets the
        /// RFC 2198 rule can restore (a later packet that arrived carries a block
        /// with their timestamp) are restored; the rest stay lost.
        #[test]
        fn red_restores_exactly_what_the_timestamp_rule_can(
            d in 1usize..=3,
            all in proptest::prelude::any::<bool>(),
            seq0 in proptest::prelude::any::<u16>(),
            lost in proptest::collection::vec(proptest::bool::weighted(0.3), 12..60),
        ) {
            let n = lost.len();
            let mut dropped = lost;
            // The first and last packets arrive: loss outside the span is invisible to a receiver.
            dropped[0] = false;
            dropped[n - 1] = false;
            let distances: Vec<usize> = if all { (1..=d).collect() } else { vec![d] };
            let recoverable = |i: usize| {
                !dropped[i] || distances.iter().any(|&k| i + k < n && !dropped[i + k])
            };
            let expected: Vec<usize> = (0..n).filter(|&i| recoverable(i)).collect();
            let restored = expected.iter().filter(|&&i| dropped[i]).count() as u64;
            let unrecoverable = (n - expected.len()) as u64;
            let (written, stats) = send_red(n, &distances, &dropped, seq0);
            proptest::prop_assert_eq!(written, expected);
            proptest::prop_assert_eq!(stats.recovered_red, restored);
            proptest::prop_assert_eq!(stats.reorder.lost, unrecoverable);
            proptest::prop_assert_eq!(stats.red_unmatched, 0);
        }
    }
}
