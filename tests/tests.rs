//! One integration-test binary: the harness and one module per command.

mod util;

mod assets;
mod audio_export;
mod browser;
mod browser_calls;
mod chromedump;
mod cli;
mod compose;
mod dtls;
mod encrypted;
mod events;
mod exit_codes;
mod gst;
mod hostile;
mod inference;
mod live;
mod metadata;
mod metadata_unknown;
mod paths;
mod record;
mod redstats;
mod repair;
mod report;
mod restarts;
mod schemas;
mod secrets;
mod sessions;
mod srtp;
mod streams;
mod terminal;
mod verify;
mod wav;
