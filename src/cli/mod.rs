//! Command-line interface: clap definitions, exit codes, human and JSON reports.
//!
//! Lives in the library so that the man page test can render the same
//! definitions the binary parses.

pub mod args;
pub mod exit;
pub mod man;
pub mod options;
pub mod report;
