//! Sender clocks and start offsets: where each track starts on its session's
//! timeline, from RTCP sender reports where a peer's tracks all have them and
//! from capture time otherwise.

use crate::assets::SenderClockMapping;
use crate::rtp::rtcp::{RtcpPacket, compound};
use crate::rtp::sr_clock::{Mapped, SenderClock, Timeline};
use crate::time::CaptureTime;
use std::collections::HashMap;

/// What placing a track needs to know about it.
#[derive(Clone, Copy, Debug)]
pub struct ClockTrack<'a> {
    /// The peer that sends it (sender reports are compared within a peer only).
    pub peer_id: &'a str,
    /// Capture time of its first packet (`None`: it never had media).
    pub first_time: Option<CaptureTime>,
    /// When its peer joined (metadata).
    pub joined_at: Option<CaptureTime>,
    /// Its SSRC.
    pub ssrc: Option<u32>,
    /// Its RTP clock rate.
    pub clock_rate: Option<u32>,
    /// RTP timestamp of its first packet.
    pub first_ts32: Option<u32>,
}

/// A track's start on the session timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartOffset {
    /// Milliseconds after the session's start.
    pub ms: i64,
    /// `rtcp-sr` or `capture-time`.
    pub source: &'static str,
}

/// RTCP sender reports per SSRC: each sender's RTP-to-NTP clock mapping.
#[derive(Debug, Default)]
pub struct SenderClocks {
    clocks: HashMap<u32, SenderClock>,
}

impl SenderClocks {
    /// Adds the sender reports of a plain RTCP compound packet captured at `time`.
    pub fn note(&mut self, payload: &[u8], time: CaptureTime) {
        for p in compound(payload) {
            match p {
                Ok(RtcpPacket::SenderReport(sr)) => {
                    self.clocks
                        .entry(sr.ssrc.0)
                        .or_default()
                        .push(time, sr.ntp, sr.rtp_timestamp);
                }
                Ok(_) => {}
                // Garbage (or SRTCP without a key): nothing usable.
                Err(_) => break,
            }
        }
    }

    /// Forgets the clocks of `ssrcs` (a session that ended).
    pub fn forget(&mut self, ssrcs: impl IntoIterator<Item = u32>) {
        for s in ssrcs {
            self.clocks.remove(&s);
        }
    }

    /// The track's sender clock and its first RTP timestamp mapped through it.
    fn at_start(&self, t: &ClockTrack<'_>) -> Option<(Timeline, Mapped)> {
        let clock = self.clocks.get(&t.ssrc?)?;
        let timeline = clock.timeline(t.clock_rate?)?;
        // A first timestamp off every segment's timeline cannot be placed by them.
        let mapped = timeline
            .map(t.first_ts32?, t.first_time?)
            .filter(|m| m.fits)?;
        Some((timeline, mapped))
    }

    /// Each track's start on the session timeline.
    ///
    /// Capture time places each peer (the session starts at its first join or
    /// packet). Within a peer whose tracks all have RTCP sender reports, each
    /// track's first RTP timestamp (at its first packet's capture time) is
    /// mapped to that peer's NTP clock (RFC 3550 §6.4.1) through the track's
    /// [`SenderClock`] (measured clock rate, RTP timestamp resets), so its
    /// audio and video line up however differently the network delayed them.
    /// Different peers' NTP clocks are not comparable, so SRs never place one
    /// peer against another.
    pub fn start_offsets(&self, tracks: &[ClockTrack<'_>]) -> Vec<Option<StartOffset>> {
        let ntp_start = |t: &ClockTrack<'_>| Some(self.at_start(t)?.1.ntp_secs);
        // The session starts when its first peer joins (metadata) or with its first packet.
        let first_join = tracks
            .iter()
            .filter(|t| t.first_time.is_some())
            .filter_map(|t| t.joined_at)
            .min();
        let first_packet = tracks.iter().filter_map(|t| t.first_time).min();
        let start = match (first_join, first_packet) {
            (Some(j), Some(p)) => Some(j.min(p)),
            (j, p) => j.or(p),
        };
        let ms_since_start = |t: CaptureTime| start.map(|s| t.nanos_since(s) / 1_000_000);
        tracks
            .iter()
            .map(|t| {
                let own = t.first_time?;
                let peer: Vec<&ClockTrack<'_>> = tracks
                    .iter()
                    .filter(|o| o.peer_id == t.peer_id && o.first_time.is_some())
                    .collect();
                let ntp: Vec<Option<f64>> = peer.iter().map(|o| ntp_start(o)).collect();
                if let (Some(mine), true) = (ntp_start(t), ntp.iter().all(Option::is_some)) {
                    let peer_ntp = ntp.iter().flatten().copied().fold(f64::INFINITY, f64::min);
                    let peer_cap = peer
                        .iter()
                        .filter_map(|o| o.first_time)
                        .min()
                        .unwrap_or(own);
                    let within = ((mine - peer_ntp) * 1000.0).round() as i64;
                    return Some(StartOffset {
                        ms: ms_since_start(peer_cap)? + within,
                        source: "rtcp-sr",
                    });
                }
                Some(StartOffset {
                    ms: ms_since_start(own)?,
                    source: "capture-time",
                })
            })
            .collect()
    }

    /// The manifest's `sender_clock` of a track: its RTP-to-NTP mapping from sender reports.
    pub fn mapping(&self, t: &ClockTrack<'_>) -> Option<SenderClockMapping> {
        let (timeline, m) = self.at_start(t)?;
        let nominal = f64::from(t.clock_rate?);
        let round = |x: f64, places: i32| {
            let p = 10f64.powi(places);
            (x * p).round() / p
        };
        Some(SenderClockMapping {
            sender_reports: self.clocks.get(&t.ssrc?)?.received(),
            rtp_timestamp_resets: timeline.resets() as u64,
            first_rtp_timestamp: t.first_ts32?,
            ntp_at_first_rtp: CaptureTime::from_nanos(m.unix_nanos()).to_rfc3339_micros(),
            measured_clock_rate: m.measured_rate.map(|r| round(r, 3)),
            drift_ppm: m.measured_rate.map(|r| round((r / nominal - 1.0) * 1e6, 1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn track(peer: &'static str, first_s: f64, ssrc: u32) -> ClockTrack<'static> {
        ClockTrack {
            peer_id: peer,
            first_time: Some(CaptureTime::from_nanos((first_s * 1e9) as i64)),
            joined_at: None,
            ssrc: Some(ssrc),
            clock_rate: Some(48_000),
            first_ts32: Some(0),
        }
    }

    /// A sender report: NTP time `ntp_s` (seconds since 1900) at RTP time `rtp`.
    fn sr(ssrc: u32, ntp_s: f64, rtp: u32) -> Vec<u8> {
        let mut p = vec![0x80, 200, 0, 6];
        p.extend_from_slice(&ssrc.to_be_bytes());
        let secs = ntp_s.floor();
        p.extend_from_slice(&(secs as u32).to_be_bytes());
        p.extend_from_slice(&(((ntp_s - secs) * 4_294_967_296.0) as u32).to_be_bytes());
        p.extend_from_slice(&rtp.to_be_bytes());
        p.extend_from_slice(&[0; 8]);
        p
    }

    #[test]
    fn without_reports_capture_time_places_tracks() {
        let clocks = SenderClocks::default();
        let got = clocks.start_offsets(&[track("a", 10.0, 1), track("b", 10.25, 2)]);
        assert_eq!(
            got[0],
            Some(StartOffset {
                ms: 0,
                source: "capture-time"
            })
        );
        assert_eq!(
            got[1],
            Some(StartOffset {
                ms: 250,
                source: "capture-time"
            })
        );
    }

    #[test]
    fn reports_align_a_peers_tracks_whatever_the_network_delay() {
        let mut clocks = SenderClocks::default();
        // Both tracks were sampled at the same NTP instant (RTP 0 at NTP 1000 s),
        // but the video's first packet was captured 300 ms after the audio's.
        for k in 0..4u32 {
            let at = CaptureTime::from_nanos(10 * S + i64::from(k) * S);
            clocks.note(&sr(1, 1000.0 + f64::from(k), k * 48_000), at);
            let late = CaptureTime::from_nanos(10_300_000_000 + i64::from(k) * S);
            clocks.note(&sr(2, 1000.0 + f64::from(k), k * 48_000), late);
        }
        let got = clocks.start_offsets(&[track("a", 10.0, 1), track("a", 10.3, 2)]);
        assert_eq!(
            got[0],
            Some(StartOffset {
                ms: 0,
                source: "rtcp-sr"
            })
        );
        assert_eq!(
            got[1],
            Some(StartOffset {
                ms: 0,
                source: "rtcp-sr"
            })
        );
        assert!(clocks.mapping(&track("a", 10.0, 1)).is_some());
        clocks.forget([1, 2]);
        assert!(clocks.mapping(&track("a", 10.0, 1)).is_none());
    }

    #[test]
    fn a_track_without_media_has_no_offset() {
        let mut t = track("a", 1.0, 1);
        t.first_time = None;
        assert_eq!(SenderClocks::default().start_offsets(&[t]), vec![None]);
    }
}
