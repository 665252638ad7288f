//! Synthetic captures for tests, fuzz seeds and benchmarks. Not a stable API.
//!
//! Pure byte builders: nothing here touches the file system or the clock; the
//! capture writers take any [`std::io::Write`]. Everything random comes from a
//! seeded [`Rng`], so the same seed gives the same bytes.
//!
//! - [`writers`]: pcap, pcapng, rtptools rtpdump; gzip around any of them.
//! - [`packet`]: link layers, IPv4/IPv6, UDP, IP fragments, TCP with RFC 4571
//!   framing, TURN ChannelData and STUN Send/Data indications.
//! - [`rtp`]: RTP packets (RFC 3550, RFC 8285 extensions) and RTCP SR/RR/SDES/BYE.
//! - [`media`]: plausible Opus, VP8, H.264 and G.711 payloads and their packetizers.
//! - [`encoded`]: real encoded frames from IVF (VP8, VP9, AV1) and Ogg Opus files.
//! - [`packetize`]: RTP packetizers for those frames (VP8, VP9, AV1, Opus).
//! - [`scenario`]: several peers' streams interleaved in capture-time order, with
//!   impairments (loss, duplicates, reordering) and the ground truth to assert on.

pub mod dtls;
pub mod encoded;
pub mod media;
pub mod packet;
pub mod packetize;
pub mod rng;
pub mod rtp;
pub mod scenario;
pub mod shared;
pub mod writers;

pub use media::{MediaKind, StreamSpec};
pub use packet::LinkKind;
pub use rng::Rng;
pub use rtp::RtpBuilder;
pub use scenario::{GroundTruth, Impairment, PeerSpec, Scenario, ScenarioConfig, StreamTruth};
pub use writers::{PcapNgWriter, PcapWriter, RtpDumpWriter};
