//! SDP (one file per peer) -> [`SessionMap`].

use super::{MetadataError, SessionMap};
use std::path::{Path, PathBuf};

/// Room id of maps made from SDP alone.
pub const DEFAULT_ROOM: &str = "sdp";

/// Reads one SDP file per peer and merges them.
pub fn load_sdp(_paths: &[PathBuf]) -> Result<SessionMap, MetadataError> {
    Err(MetadataError::Invalid {
        path: PathBuf::new(),
        message: "SDP input is not implemented yet".into(),
    })
}

/// Parses one peer's SDP; `path` names the file and gives the peer id.
pub fn parse_sdp(_text: &str, _path: &Path) -> Result<SessionMap, MetadataError> {
    Err(MetadataError::Invalid {
        path: PathBuf::new(),
        message: "SDP input is not implemented yet".into(),
    })
}
