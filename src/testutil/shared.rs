//! Test access to the shared real captures through rtprec's own readers.

use crate::capture::{CaptureFile, CaptureSet, source};
use crate::error::FileId;
use crate::net::{Flow, NetConfig, NetDecoder};
use crate::time::CaptureTime;
use std::path::PathBuf;

/// Directory of the shared captures, beside the repository.
pub const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures/");

/// The bytes of shared capture `name`, or `None` with a printed reason when absent.
///
/// Panics when it is absent and `CI` is set: CI must run the tests that need it.
pub fn read_shared(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(format!("{CAPTURES}{name}"));
    match std::fs::read(&path) {
        Ok(data) => Some(data),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("{}: {e} (required under CI)", path.display())
        }
        Err(e) => {
            eprintln!("skipped: {}: {e}", path.display());
            None
        }
    }
}

/// One datagram of a capture: when, on which flow, the bytes.
#[derive(Clone, Debug)]
pub struct CapturedDatagram {
    /// Capture time.
    pub time: CaptureTime,
    /// Outer 5-tuple.
    pub flow: Flow,
    /// UDP payload, RFC 4571 frame or TURN-unwrapped datagram.
    pub payload: Vec<u8>,
}

/// Every datagram of an in-memory capture (any format rtprec reads), in capture order.
pub fn datagrams(capture: &[u8]) -> Vec<CapturedDatagram> {
    let opened = source::sniff(
        "test".into(),
        Box::new(std::io::Cursor::new(capture.to_vec())),
    )
    .expect("a capture format rtprec reads");
    let file = CaptureFile::from_opened(opened, FileId(0)).expect("capture header");
    let mut set = CaptureSet::from_files(vec![file]);
    let mut net = NetDecoder::new(NetConfig::default());
    let mut out = Vec::new();
    while let Ok(Some(frame)) = set.next_frame() {
        net.push(&frame, &mut |d| {
            out.push(CapturedDatagram {
                time: d.meta.time,
                flow: d.flow,
                payload: d.payload.to_vec(),
            })
        });
    }
    net.finish(&mut |d| {
        out.push(CapturedDatagram {
            time: d.meta.time,
            flow: d.flow,
            payload: d.payload.to_vec(),
        })
    });
    out
}
