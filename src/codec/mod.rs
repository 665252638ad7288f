//! Codecs: their vocabulary, guessing a stream's codec, and the bitstream headers
//! every stage shares.
//!
//! [`Codec`] names a codec and says what kind of media it carries, its usual RTP
//! clock rate and channels, and the [`Container`] rtprec records it into.
//! [`CodecGuesser`] ([`guess`]) names the codec of a dynamic payload type from
//! its packets. The leaf modules parse headers for the guesser, the
//! depacketizers and the muxers alike, so that they cannot disagree on what a
//! packet says: [`opus`] (TOC), [`vp8`] and [`vp9`] (payload descriptors, frame
//! headers), [`h264`], [`h265`] and [`h26x`] (NAL headers, aggregation and
//! fragmentation units, SPS), [`av1`] (aggregation header, OBUs, sequence
//! header), over one bit reader and one LEB128 reader (`bits`).

pub mod av1;
pub(crate) mod bits;
pub mod guess;
pub mod h264;
pub mod h265;
pub mod h26x;
pub mod opus;
#[cfg(test)]
pub(crate) mod testutil;
pub mod vp8;
pub mod vp9;

pub use guess::{CodecGuess, CodecGuesser, MAX_EXAMINED, RedGuess};

use serde::{Deserialize, Serialize};

/// A media codec carried over RTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// Opus (RFC 7587).
    Opus,
    /// VP8 (RFC 7741).
    Vp8,
    /// VP9 (RFC 9628).
    Vp9,
    /// AV1 (AOM RTP payload format).
    Av1,
    /// H.264 (RFC 6184).
    H264,
    /// H.265 (RFC 7798).
    H265,
    /// G.711 mu-law (PT 0).
    Pcmu,
    /// G.711 A-law (PT 8).
    Pcma,
    /// G.722 (PT 9; 8000 Hz RTP clock for 16 kHz audio).
    G722,
    /// Linear 16-bit PCM (PT 10/11 or dynamic).
    L16,
    /// G.729 (PT 18).
    G729,
    /// Comfort noise (PT 13, RFC 3389).
    Cn,
    /// DTMF events (RFC 4733).
    TelephoneEvent,
    /// H.263 (PT 34, RFC 2190).
    H263,
    /// MPEG audio (PT 14, RFC 2250).
    Mpa,
    /// GSM 06.10 full rate (PT 3).
    Gsm,
    /// G.723.1 (PT 4).
    G723,
    /// G.728 (PT 15).
    G728,
    /// Motion JPEG (PT 26, RFC 2435).
    Jpeg,
    /// H.261 (PT 31, RFC 4587).
    H261,
    /// MPEG-1/2 video (PT 32, RFC 2250).
    Mpv,
}

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A microphone or other audio track.
    Audio,
    /// A camera or screen-share track.
    Video,
}

/// What RFC 3551 §6 assigns to a static payload type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticPayload {
    /// The codec.
    pub codec: Codec,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Audio channels (1 for video).
    pub channels: u8,
}

/// The codec, clock rate and channels RFC 3551 §6 (Tables 4 and 5) assigns to a static payload type.
pub fn static_payload_type(pt: u8) -> Option<StaticPayload> {
    let (codec, clock_rate, channels) = match pt {
        0 => (Codec::Pcmu, 8000, 1),
        3 => (Codec::Gsm, 8000, 1),
        4 => (Codec::G723, 8000, 1),
        8 => (Codec::Pcma, 8000, 1),
        9 => (Codec::G722, 8000, 1),
        10 => (Codec::L16, 44100, 2),
        11 => (Codec::L16, 44100, 1),
        13 => (Codec::Cn, 8000, 1),
        14 => (Codec::Mpa, 90000, 1),
        15 => (Codec::G728, 8000, 1),
        18 => (Codec::G729, 8000, 1),
        26 => (Codec::Jpeg, 90000, 1),
        31 => (Codec::H261, 90000, 1),
        32 => (Codec::Mpv, 90000, 1),
        34 => (Codec::H263, 90000, 1),
        _ => return None,
    };
    Some(StaticPayload {
        codec,
        clock_rate,
        channels,
    })
}

impl Codec {
    /// Every codec, in declaration order.
    pub const ALL: [Codec; 21] = [
        Codec::Opus,
        Codec::Vp8,
        Codec::Vp9,
        Codec::Av1,
        Codec::H264,
        Codec::H265,
        Codec::Pcmu,
        Codec::Pcma,
        Codec::G722,
        Codec::L16,
        Codec::G729,
        Codec::Cn,
        Codec::TelephoneEvent,
        Codec::H263,
        Codec::Mpa,
        Codec::Gsm,
        Codec::G723,
        Codec::G728,
        Codec::Jpeg,
        Codec::H261,
        Codec::Mpv,
    ];

    /// Lowercase name as used in metadata and the manifest (`telephone-event` as in SDP).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Opus => "opus",
            Codec::Vp8 => "vp8",
            Codec::Vp9 => "vp9",
            Codec::Av1 => "av1",
            Codec::H264 => "h264",
            Codec::H265 => "h265",
            Codec::Pcmu => "pcmu",
            Codec::Pcma => "pcma",
            Codec::G722 => "g722",
            Codec::L16 => "l16",
            Codec::G729 => "g729",
            Codec::Cn => "cn",
            Codec::TelephoneEvent => "telephone-event",
            Codec::H263 => "h263",
            Codec::Mpa => "mpa",
            Codec::Gsm => "gsm",
            Codec::G723 => "g723",
            Codec::G728 => "g728",
            Codec::Jpeg => "jpeg",
            Codec::H261 => "h261",
            Codec::Mpv => "mpv",
        }
    }

    /// The codec with this name (case-insensitive): its [`Codec::name`], its serde name,
    /// or the SDP encoding name (`opus`, `VP8`, `H264`, `PCMA`, `telephone-event`, `AV1X`).
    pub fn from_name(name: &str) -> Option<Codec> {
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            // Early Chrome AV1 offers.
            "av1x" => Some(Codec::Av1),
            "telephoneevent" => Some(Codec::TelephoneEvent),
            n => Codec::ALL.into_iter().find(|c| c.name() == n),
        }
    }

    /// Whether the codec carries audio or video.
    pub fn kind(self) -> Kind {
        match self {
            Codec::Opus
            | Codec::Pcmu
            | Codec::Pcma
            | Codec::G722
            | Codec::L16
            | Codec::G729
            | Codec::Cn
            | Codec::TelephoneEvent
            | Codec::Mpa
            | Codec::Gsm
            | Codec::G723
            | Codec::G728 => Kind::Audio,
            Codec::Vp8
            | Codec::Vp9
            | Codec::Av1
            | Codec::H264
            | Codec::H265
            | Codec::H263
            | Codec::Jpeg
            | Codec::H261
            | Codec::Mpv => Kind::Video,
        }
    }

    /// The usual RTP clock rate when neither metadata nor SDP says: the static payload
    /// type's (RFC 3551 §6), else the codec's when it has exactly one (video 90 kHz,
    /// Opus 48 kHz per RFC 7587 §4.1, G.711/G.722 8 kHz per RFC 3551 §4.5.14 and §4.5.2).
    /// L16, comfort noise and DTMF events follow the audio they go with: `None`.
    pub fn default_clock_rate(self, payload_type: Option<u8>) -> Option<u32> {
        if let Some(s) = self.static_payload(payload_type) {
            return Some(s.clock_rate);
        }
        match self.kind() {
            Kind::Video => Some(90_000),
            Kind::Audio => match self {
                Codec::Opus => Some(48_000),
                Codec::L16 | Codec::TelephoneEvent | Codec::Cn => None,
                Codec::Mpa => Some(90_000),
                _ => Some(8_000),
            },
        }
    }

    /// Audio channels when neither metadata nor SDP says: the static payload type's
    /// (L16 on PT 10 is stereo, RFC 3551 §6), Opus 2 (RFC 7587 §7 always signals 2), else mono.
    pub fn default_channels(self, payload_type: Option<u8>) -> u8 {
        match (self.static_payload(payload_type), self) {
            (Some(s), _) => s.channels,
            (None, Codec::Opus) => 2,
            (None, _) => 1,
        }
    }

    /// What RFC 3551 assigns to `payload_type`, when that is this codec.
    fn static_payload(self, payload_type: Option<u8>) -> Option<StaticPayload> {
        payload_type
            .and_then(static_payload_type)
            .filter(|s| s.codec == self)
    }
}

/// Containers rtprec writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// Ogg (Opus, RFC 7845).
    Ogg,
    /// WebM (VP8, VP9, AV1, Opus).
    Webm,
    /// MP4 (H.264, H.265).
    Mp4,
    /// WAV (PCMU, PCMA, L16 as 16-bit PCM; G.722 as format 0x028F).
    Wav,
}

impl Container {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Ogg => "ogg",
            Container::Webm => "webm",
            Container::Mp4 => "mp4",
            Container::Wav => "wav",
        }
    }

    /// The container rtprec writes a codec into, or `None` when it cannot record it.
    pub fn for_codec(codec: Codec) -> Option<Container> {
        match codec {
            Codec::Opus => Some(Container::Ogg),
            Codec::Vp8 | Codec::Vp9 | Codec::Av1 => Some(Container::Webm),
            Codec::H264 | Codec::H265 => Some(Container::Mp4),
            Codec::Pcmu | Codec::Pcma | Codec::G722 | Codec::L16 => Some(Container::Wav),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_sdp() {
        for c in Codec::ALL {
            let serde_name = serde_json::to_value(c).ok();
            let serde_name = serde_name.as_ref().and_then(|v| v.as_str());
            assert_eq!(serde_name.and_then(Codec::from_name), Some(c), "{c:?}");
            assert_eq!(Codec::from_name(c.name()), Some(c), "{c:?}");
            assert_eq!(Codec::from_name(&c.name().to_uppercase()), Some(c));
        }
        assert_eq!(
            Codec::from_name("telephone-event"),
            Some(Codec::TelephoneEvent)
        );
        assert_eq!(Codec::from_name("AV1X"), Some(Codec::Av1));
        assert_eq!(Codec::from_name("h266"), None);
        assert_eq!(Codec::TelephoneEvent.name(), "telephone-event");
        assert_eq!(
            serde_json::to_string(&Codec::TelephoneEvent)
                .ok()
                .as_deref(),
            Some("\"telephoneevent\"")
        );
    }

    #[test]
    fn static_payload_types() {
        let cases: &[(u8, Codec, u32)] = &[
            (0, Codec::Pcmu, 8000),
            (3, Codec::Gsm, 8000),
            (4, Codec::G723, 8000),
            (8, Codec::Pcma, 8000),
            (9, Codec::G722, 8000),
            (10, Codec::L16, 44100),
            (11, Codec::L16, 44100),
            (13, Codec::Cn, 8000),
            (14, Codec::Mpa, 90000),
            (15, Codec::G728, 8000),
            (18, Codec::G729, 8000),
            (26, Codec::Jpeg, 90000),
            (31, Codec::H261, 90000),
            (32, Codec::Mpv, 90000),
            (34, Codec::H263, 90000),
        ];
        for &(pt, codec, clock) in cases {
            let s = static_payload_type(pt);
            assert_eq!(s.map(|s| (s.codec, s.clock_rate)), Some((codec, clock)));
            // The static clock rate is also the codec's default on that payload type.
            assert_eq!(codec.default_clock_rate(Some(pt)), Some(clock), "PT {pt}");
        }
        assert_eq!(static_payload_type(96), None);
    }

    #[test]
    fn clock_rate_and_channel_defaults() {
        // (codec, payload type, clock rate, channels)
        let cases = [
            (Codec::Pcmu, Some(0), Some(8000), 1),
            (Codec::Pcma, None, Some(8000), 1),
            (Codec::G722, Some(9), Some(8000), 1),
            (Codec::L16, Some(10), Some(44_100), 2),
            (Codec::L16, Some(11), Some(44_100), 1),
            (Codec::L16, Some(96), None, 1),
            (Codec::Opus, Some(111), Some(48_000), 2),
            (Codec::Vp8, Some(96), Some(90_000), 1),
            (Codec::Mpa, None, Some(90_000), 1),
            (Codec::TelephoneEvent, Some(101), None, 1),
            (Codec::Cn, None, None, 1),
            (Codec::Cn, Some(13), Some(8000), 1),
            // A static payload type of another codec says nothing about this one.
            (Codec::Opus, Some(10), Some(48_000), 2),
        ];
        for (codec, pt, clock, channels) in cases {
            assert_eq!(codec.default_clock_rate(pt), clock, "{codec:?} {pt:?}");
            assert_eq!(codec.default_channels(pt), channels, "{codec:?} {pt:?}");
        }
    }

    #[test]
    fn kinds_and_containers() {
        for c in Codec::ALL {
            if let Some(container) = Container::for_codec(c) {
                let video = matches!(container, Container::Webm | Container::Mp4);
                assert_eq!(video, c.kind() == Kind::Video, "{c:?}");
            }
        }
        assert_eq!(Container::for_codec(Codec::G729), None);
        assert_eq!(Container::Mp4.extension(), "mp4");
    }
}
