//! stub
use super::{DepackError, DepackStats};
use crate::media::{Frame, RtpIn};
/// Depacketizer.
#[derive(Debug, Default)]
pub struct Depack {
    stats: DepackStats,
}
impl Depack {
    /// New.
    pub fn new() -> Self {
        Self::default()
    }
    /// Push.
    pub fn push(&mut self, _pkt: RtpIn<'_>) -> Result<(), DepackError> {
        Ok(())
    }
    /// Gap.
    pub fn gap(&mut self, _lost: u64) {}
    /// Pull.
    pub fn pull(&mut self) -> Option<Frame> {
        None
    }
    /// Flush.
    pub fn flush(&mut self) {}
    /// Stats.
    pub fn stats(&self) -> &DepackStats {
        &self.stats
    }
    /// Check.
    pub fn check_invariants(&self) {}
}
