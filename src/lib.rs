//! rtprec: packet captures of WebRTC/RTP sessions in, per-track recordings out.
//!
//! Data flows one way, each stage a sans-IO module testable alone:
//!
//! ```text
//! capture -> net -> rtp -> streams (analysis) ...
//! ```
//!
//! The library never prints; the binary (`src/main.rs`) parses arguments and reports.

pub mod assets;
pub mod capture;
pub mod cli;
pub mod codec;
pub mod compose;
pub mod depack;
pub mod dtls;
pub mod error;
pub mod events;
pub mod hash;
pub mod media;
pub mod mux;
pub mod net;
pub mod pipeline;
pub mod record;
pub mod report;
pub mod rtp;
pub mod session;
pub mod srtp;
pub mod streams;
// Test helpers stay out of a normal build and its public API: unit tests get
// them from `cfg(test)`, integration tests and examples from the `testutil`
// feature (a self dev-dependency, see Cargo.toml).
#[cfg(any(test, feature = "testutil"))]
#[doc(hidden)]
pub mod testutil;
pub mod time;
pub mod track;
pub mod verify;
