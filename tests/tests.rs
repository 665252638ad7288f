//! One integration-test binary: the harness and one module per command.

mod util;

mod cli;
mod metadata;
mod record;
mod streams;
mod wav;
