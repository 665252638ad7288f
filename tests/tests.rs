//! One integration-test binary: the harness and one module per command.

mod util;

mod assets;
mod browser;
mod cli;
mod events;
mod gst;
mod inference;
mod live;
mod metadata;
mod record;
mod repair;
mod sessions;
mod srtp;
mod streams;
mod wav;
