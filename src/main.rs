//! The rtprec binary: parse arguments, run, report, exit.

use clap::Parser;
use rtprec::cli::args::{Cli, Command, StreamsArgs};
use rtprec::cli::exit::ExitCode;
use rtprec::cli::report;
use std::io::{self, IsTerminal, Write};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Streams(args) => streams(args, cli.quiet),
    };
    code.into()
}

fn streams(args: &StreamsArgs, quiet: bool) -> ExitCode {
    if args
        .captures
        .iter()
        .filter(|p| p.as_os_str() == "-")
        .count()
        > 1
    {
        eprintln!("rtprec: standard input (-) can be read only once");
        return ExitCode::Usage;
    }
    let bar = (!quiet && io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} frames read ({per_sec}) {elapsed}",
            )
            .expect("static progress template is valid"),
        );
        pb
    });
    let result = rtprec::pipeline::run_streams(&args.captures, &mut |frames| {
        if let Some(pb) = &bar {
            pb.set_position(frames);
        }
    });
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            eprintln!("rtprec: {e}");
            return ExitCode::BadInput;
        }
    };
    if !quiet {
        for w in &out.warnings {
            eprintln!(
                "rtprec: warning: {}: frame {} (byte offset {}): {} [{}]",
                w.file, w.frame, w.offset, w.message, w.kind
            );
        }
    }
    let stdout = io::stdout();
    let mut lock = io::BufWriter::new(stdout.lock());
    let written = if args.json {
        report::write_json(&mut lock, &out)
    } else {
        report::write_table(&mut lock, &out)
    };
    match written.and_then(|()| lock.flush()) {
        Ok(()) => {}
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::Success,
        Err(e) => {
            eprintln!("rtprec: writing output: {e}");
            return ExitCode::BadInput;
        }
    }
    if out.report.streams.is_empty() {
        ExitCode::NothingFound
    } else {
        ExitCode::Success
    }
}
