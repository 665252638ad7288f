//! Sequential read of the inputs through every stage, in capture order.

use crate::capture::{CaptureSet, source::Format};
use crate::error::{Diagnostic, Error};
use crate::net::{NetConfig, NetDecoder, NetStats};
use crate::streams::{Analyzer, StreamsReport};
use serde::Serialize;
use std::path::PathBuf;

/// How often (in frames) the progress callback runs.
pub const PROGRESS_EVERY: u64 = 1 << 14;

/// One input as read.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct InputInfo {
    /// Display name (`<stdin>` for `-`).
    pub name: String,
    /// `pcap`, `pcapng` or `rtpdump`.
    pub format: &'static str,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
}

/// A diagnostic with its file's name resolved, ready for output.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// Input name.
    pub file: String,
    /// 1-based frame (record) number.
    pub frame: u64,
    /// Byte offset of the record.
    pub offset: u64,
    /// Stable kind.
    pub kind: &'static str,
    /// Explanation.
    pub message: String,
}

/// Result of `rtprec streams`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StreamsOutput {
    /// Version of this JSON document's schema.
    pub version: u32,
    /// The inputs.
    pub inputs: Vec<InputInfo>,
    /// Frames read from all inputs.
    pub frames: u64,
    /// The analysis.
    #[serde(flatten)]
    pub report: StreamsReport,
    /// Network layer counters.
    pub net: NetStats,
    /// First occurrence of each kind of problem.
    pub warnings: Vec<Warning>,
}

/// Reads every input once and analyses its RTP streams.
pub fn run_streams(
    paths: &[PathBuf],
    progress: &mut dyn FnMut(u64),
) -> Result<StreamsOutput, Error> {
    let mut set = CaptureSet::open(paths)?;
    let names = set.names();
    let inputs = set
        .files()
        .iter()
        .map(|f| InputInfo {
            name: f.name().display().to_string(),
            format: match f.format() {
                Format::Pcap => "pcap",
                Format::PcapNg => "pcapng",
                Format::RtpDump => "rtpdump",
            },
            gzip: f.is_gzip(),
        })
        .collect();
    let mut net = NetDecoder::new(NetConfig::default());
    let mut analyzer = Analyzer::new();
    let mut frames = 0u64;
    while let Some(frame) = set.next_frame()? {
        frames += 1;
        analyzer.saw_frame(frame.meta.time);
        net.push(&frame, &mut |d| analyzer.push(&d));
        if frames.is_multiple_of(PROGRESS_EVERY) {
            progress(frames);
        }
    }
    // TCP data held behind a hole that never filled is delivered at the end.
    net.finish(&mut |d| analyzer.push(&d));
    progress(frames);
    let mut diags: Vec<Diagnostic> = set.take_diagnostics();
    diags.extend(net.take_diagnostics());
    let warnings = warnings(diags, &names);
    Ok(StreamsOutput {
        version: 1,
        inputs,
        frames,
        report: analyzer.finish(),
        net: net.stats().clone(),
        warnings,
    })
}

/// Resolves diagnostics' file ids to names, in order.
pub fn warnings(diags: Vec<Diagnostic>, names: &[String]) -> Vec<Warning> {
    diags
        .into_iter()
        .map(|d| Warning {
            file: names
                .get(usize::from(d.ctx.file.0))
                .cloned()
                .unwrap_or_default(),
            frame: d.ctx.frame,
            offset: d.ctx.offset,
            kind: d.kind,
            message: d.message,
        })
        .collect()
}
