//! Types shared by depacketizers and muxers: RTP packets in, media frames out.

/// One RTP packet of a track, after reordering, with extended counters.
#[derive(Clone, Copy, Debug)]
pub struct RtpIn<'a> {
    /// Extended (64-bit, wrap-free) sequence number.
    pub seq: u64,
    /// Extended (64-bit, wrap-free) RTP timestamp on the track's clock.
    pub ts: u64,
    /// RTP marker bit (end of a video frame; start of a talkspurt for audio).
    pub marker: bool,
    /// The RTP payload (no header, no padding).
    pub payload: &'a [u8],
}

/// One media frame: an audio packet or a video access unit, ready for a muxer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Extended RTP timestamp of the frame on the track's clock.
    pub ts: u64,
    /// Duration in clock ticks when the payload says (Opus TOC); `None` for video.
    pub duration: Option<u64>,
    /// True when the frame can be decoded without earlier frames.
    pub keyframe: bool,
    /// Coded width and height, read from a keyframe's bitstream when present.
    pub dimensions: Option<(u16, u16)>,
    /// The coded bytes as the container expects them.
    pub data: Vec<u8>,
}
