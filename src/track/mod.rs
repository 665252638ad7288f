//! Per-track processing after routing: sequence unwrapping, reordering, loss accounting.
//!
//! `reorder` turns packets in capture order into packets in sequence order,
//! with `Gap` items where packets were lost (loss is data, not an error).
//! `fec` recovers lost packets from ULPFEC/FlexFEC repair packets; `red` splits RED payloads.

pub mod fec;
pub mod red;
pub mod reorder;

pub use reorder::{
    Arrival, ReorderBuffer, ReorderConfig, ReorderStats, ReorderedPacket, TrackItem,
};
