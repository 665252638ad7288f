//! The rtprec binary: parse arguments, run, report, exit.

use clap::Parser;
use rtprec::cli::args::{
    AssetsCommand, AssetsListArgs, AssetsUrlArgs, Cli, Command, CompletionsArgs, ComposeArgs,
    EventsCommand, RecordArgs, ReplayArgs, ReportArgs, StreamsArgs, VerifyArgs,
};
use rtprec::cli::exit::ExitCode;
use rtprec::cli::report;
use std::io::{self, IsTerminal, Write};

/// Fixes glibc malloc's mmap threshold at 128 KiB. By default glibc raises it
/// each time a large block (a WebM cluster, a big keyframe) is freed and then
/// keeps up to twice that much freed memory at the top of each heap: `record`'s
/// peak RSS grew with the capture (35, 41 and 46 MiB at 100 MiB, 1 GiB and
/// 4 GiB). A fixed threshold turns that adjustment off (mallopt(3)), and the
/// peak stays flat (issue #13).
fn fix_malloc_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; called first
    // thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> std::process::ExitCode {
    fix_malloc_thresholds();
    let cli = Cli::parse();
    let stop = match stop_on_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtprec: installing signal handlers: {e}");
            return ExitCode::OutputFailed.into();
        }
    };
    let code = match &cli.command {
        Command::Streams(args) => streams(args, cli.quiet, &stop),
        Command::Record(args) => record(args, cli.quiet, &stop),
        Command::Events(EventsCommand::Replay(args)) => replay(args, cli.quiet),
        Command::Assets(AssetsCommand::List(args)) => assets_list(args),
        Command::Assets(AssetsCommand::Url(args)) => assets_url(args),
        Command::Completions(args) => completions(args),
        Command::Report(args) => html_report(args, cli.quiet),
        Command::Verify(args) => verify(args, cli.quiet),
        Command::Compose(args) => compose(args),
    };
    code.into()
}

/// SIGINT and SIGTERM end the input: the run finishes what it read and exits
/// 130 or 143. A second signal while it finishes exits at once (with the same
/// code; during a session's commit, right after it): only temporary files are
/// left besides what the manifest lists.
fn stop_on_signals() -> io::Result<rtprec::pipeline::StopFlag> {
    let stop = rtprec::pipeline::StopFlag::new();
    stop.on_signals(|sig| i32::from(ExitCode::for_signal(sig).code()))?;
    Ok(stop)
}

/// `-` may appear once: standard input cannot be read twice.
fn stdin_once(captures: &[std::path::PathBuf]) -> bool {
    if captures.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        eprintln!("rtprec: standard input (-) can be read only once");
        return false;
    }
    true
}

/// The frame-count spinner on stderr, shown only on a terminal and without `--quiet`.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(quiet: bool) -> Progress {
        Progress((!quiet && io::stderr().is_terminal()).then(|| {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {pos} frames read ({per_sec}) {elapsed}",
                )
                .expect("static progress template is valid"),
            );
            pb
        }))
    }

    fn set(&self, frames: u64) {
        if let Some(pb) = &self.0 {
            pb.set_position(frames);
        }
    }

    /// Runs `print` with the spinner off the screen, so that what it prints
    /// (to stderr, or to stdout on the same terminal) starts on a line of its
    /// own instead of after the spinner's text; the spinner is drawn again after.
    fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(pb) => pb.suspend(print),
            None => print(),
        }
    }

    /// Clears the spinner: nothing of it is left before what is printed next.
    fn finish(self) {
        if let Some(pb) = self.0 {
            pb.finish_and_clear();
        }
    }
}

/// Runs `work` with a frame-count spinner on stderr, shown only on a terminal and without `--quiet`.
fn with_progress<T>(quiet: bool, work: impl FnOnce(&mut dyn FnMut(u64)) -> T) -> T {
    let progress = Progress::new(quiet);
    let result = work(&mut |frames| progress.set(frames));
    progress.finish();
    result
}

fn print_warnings(warnings: &[rtprec::pipeline::Warning]) {
    for w in warnings {
        let stream = match (w.ssrc, w.seq) {
            (Some(ssrc), Some(seq)) => format!(", SSRC 0x{ssrc:08X} seq {seq}"),
            _ => String::new(),
        };
        eprintln!(
            "rtprec: warning: {}: frame {} (byte offset {}){stream}: {} [{}]",
            w.file, w.frame, w.offset, w.message, w.kind
        );
    }
}

/// Writes machine output to stdout; a closed pipe (`| head`) is the reader's choice, not an error.
fn to_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), ExitCode> {
    let stdout = io::stdout();
    let mut lock = io::BufWriter::new(stdout.lock());
    match write(&mut lock).and_then(|()| lock.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("rtprec: writing output: {e}");
            Err(ExitCode::OutputFailed)
        }
    }
}

fn streams(args: &StreamsArgs, quiet: bool, stop: &rtprec::pipeline::StopFlag) -> ExitCode {
    if !stdin_once(&args.captures) {
        return ExitCode::Usage;
    }
    let loop_opts = rtprec::pipeline::LoopOptions {
        live_clock: rtprec::pipeline::LiveClock::Off,
        stop: stop.clone(),
    };
    let keylog = match rtprec::cli::options::load_keylogs(&args.keylog) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("rtprec: {e}");
            return ExitCode::from(&e);
        }
    };
    let result = with_progress(quiet, |p| {
        rtprec::pipeline::run_streams(&args.captures, &loop_opts, keylog, p)
    });
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            eprintln!("rtprec: {e}");
            return ExitCode::from(&e);
        }
    };
    if !quiet {
        print_warnings(&out.warnings);
    }
    let written = to_stdout(|w| {
        if args.json {
            report::write_json(w, &out)
        } else {
            report::write_table(w, &out)
        }
    });
    if let Err(code) = written {
        return code;
    }
    if let Some(sig) = stop.raised() {
        ExitCode::for_signal(sig)
    } else if out.report.streams.is_empty() {
        ExitCode::NothingFound
    } else {
        ExitCode::Success
    }
}

fn record(args: &RecordArgs, quiet: bool, stop: &rtprec::pipeline::StopFlag) -> ExitCode {
    use rtprec::assets::Status;
    if !stdin_once(&args.captures) {
        return ExitCode::Usage;
    }
    let plan = match rtprec::cli::options::record_plan(args, stop) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rtprec: {e}");
            return ExitCode::from(&e);
        }
    };
    if !quiet {
        for note in &plan.notes {
            eprintln!("rtprec: warning: {note}");
        }
    }
    // Before anything else is written: leftovers of killed runs are reported as they go.
    match rtprec::record::prepare_out_dir(&plan.record.out_dir) {
        Ok(removed) if !quiet => {
            for p in removed {
                eprintln!(
                    "rtprec: removed {} (a temporary file of an earlier run that was killed)",
                    p.display()
                );
            }
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("rtprec: {e}");
            return ExitCode::from(&e);
        }
    }
    // On a terminal, stdout gets the table of tracks at the end, unless events
    // were asked for there (`--events -`) or the manifest is (`--json`).
    let stdout_terminal = io::stdout().is_terminal();
    let table = stdout_terminal
        && !args.json
        && args.events != Some(rtprec::events::sink::EventsTarget::Stdout);
    let mut sinks = match open_sinks(args, stdout_terminal) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut sink_error: Option<rtprec::events::sink::SinkError> = None;
    let progress = Progress::new(quiet);
    let result = rtprec::record::run_record(
        &args.captures,
        &plan.record,
        &plan.read,
        &mut |frames| progress.set(frames),
        &mut |event| {
            for sink in &mut sinks {
                // Event lines on stdout share the terminal with the spinner on stderr.
                match progress.suspend(|| sink.emit(&event)) {
                    Ok(d) => progress.suspend(|| warn_undelivered(&event.id, event.event_type, &d)),
                    Err(e) => {
                        sink_error.get_or_insert(e);
                    }
                }
                // A webhook settles events on its own thread: report each as soon as it is known.
                for n in sink.take_notices() {
                    progress.suspend(|| warn_undelivered(&n.id, n.event_type, &n.delivery));
                }
            }
        },
    );
    progress.finish();
    let (mut spooled, mut on_stderr) = (0, 0);
    // A signal while a webhook drains its queue cuts the drain short: what is
    // left (the event in flight included) goes to the spool at once.
    let draining = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let handles: Vec<_> = sinks.iter().filter_map(|s| s.abort_handle()).collect();
    let watcher = (!handles.is_empty()).then(|| {
        let (stop, draining) = (stop.clone(), std::sync::Arc::clone(&draining));
        std::thread::spawn(move || {
            while draining.load(std::sync::atomic::Ordering::SeqCst) {
                if stop.raised().is_some() {
                    handles.iter().for_each(|h| h.abort());
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
    });
    for sink in &mut sinks {
        let finished = if stop.raised().is_some() {
            sink.abort()
        } else {
            sink.finish()
        };
        for n in sink.take_notices() {
            warn_undelivered(&n.id, n.event_type, &n.delivery);
        }
        match finished {
            Ok(report) => {
                spooled += report.spooled;
                on_stderr += report.stderr;
                let path = sink
                    .spool_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                if report.spooled > 0 {
                    eprintln!(
                        "rtprec: {} of {} events spooled to {path}; send them later with `rtprec events replay`",
                        report.spooled, report.emitted
                    );
                }
                if report.stderr > 0 {
                    eprintln!(
                        "rtprec: {} of {} events could not be written to the spool {path}: they are on standard error above, one JSON object per line, and nowhere else; save them (the lines starting with `{{`) to a file and send it with `rtprec events replay`",
                        report.stderr, report.emitted
                    );
                }
            }
            Err(e) => {
                sink_error.get_or_insert(e);
            }
        }
    }
    draining.store(false, std::sync::atomic::Ordering::SeqCst);
    if let Some(w) = watcher {
        let _ = w.join();
    }
    // Events whose only copy is on stderr outrank every other outcome: someone must save them.
    let or_stderr = |code| {
        if on_stderr > 0 {
            ExitCode::EventsOnStderr
        } else {
            code
        }
    };
    if let Some(e) = sink_error {
        // An events file or stdout that could not be written lost events: never report success.
        eprintln!("rtprec: events: {e}");
        return or_stderr(ExitCode::from(&e));
    }
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            eprintln!("rtprec: {e}");
            return or_stderr(ExitCode::from(&e));
        }
    };
    if !quiet {
        print_warnings(&out.warnings);
        for (taken, track) in &out.renamed {
            eprintln!(
                "rtprec: warning: {taken} belongs to another track of this run; this one is track {track}"
            );
        }
        let out_dir = &plan.record.out_dir;
        for a in &out.manifest.assets {
            match (&a.status, &a.path, &a.error) {
                // The table says the same, on the same screen.
                (Status::Completed, Some(_), _) if table => {}
                (Status::Completed, Some(path), _) => eprintln!(
                    "rtprec: recorded {} ({} {}, {} ms, {} frames){}",
                    report::display_path(&out_dir.join(path)),
                    a.codec.as_deref().unwrap_or("?"),
                    a.resolution
                        .map(|r| format!("{}x{}", r.width, r.height))
                        .unwrap_or_else(|| "audio".into()),
                    a.duration_ms.unwrap_or(0),
                    a.stats.frames_written,
                    report::degraded(a)
                        .map(|why| format!("; degraded: {why}"))
                        .unwrap_or_default()
                ),
                (_, _, Some(err)) => eprintln!(
                    "rtprec: failed {}/{}/{}/{} (ssrc {}): {}: {}",
                    a.room_id,
                    a.session_id,
                    a.peer_id,
                    a.track_id,
                    a.ssrc.as_deref().unwrap_or("unknown"),
                    err.code,
                    err.message
                ),
                _ => {}
            }
        }
        eprintln!("rtprec: wrote {}", report::display_path(&out.manifest_path));
    }
    // After the manifest and the timeline it reads are complete.
    if args.report {
        match rtprec::report::write_report(&plan.record.out_dir, None) {
            Ok(path) if !quiet => eprintln!("rtprec: wrote {}", report::display_path(&path)),
            Ok(_) => {}
            Err(e) => {
                eprintln!("rtprec: report: {e}");
                return or_stderr(ExitCode::from(&e));
            }
        }
    }
    if table {
        let written =
            to_stdout(|w| report::write_record_table(w, &out.manifest, &plan.record.out_dir));
        if let Err(code) = written {
            return or_stderr(code);
        }
    }
    if args.json {
        let written = to_stdout(|w| {
            serde_json::to_writer_pretty(&mut *w, &out.manifest).map_err(io::Error::other)?;
            w.write_all(b"\n")
        });
        if let Err(code) = written {
            return or_stderr(code);
        }
    }
    or_stderr(if let Some(sig) = out.stopped_by {
        ExitCode::for_signal(sig)
    } else if out.manifest.assets.is_empty() {
        ExitCode::NothingFound
    } else if out
        .manifest
        .assets
        .iter()
        .any(|a| a.status == Status::Failed)
    {
        ExitCode::TracksFailed
    } else if spooled > 0 {
        ExitCode::EventsSpooled
    } else {
        ExitCode::Success
    })
}

/// Says that an event was not delivered; shown even with --quiet, because it
/// waits in the spool, or exists only on stderr.
fn warn_undelivered(
    id: &str,
    event_type: rtprec::events::EventType,
    delivery: &rtprec::events::sink::Delivery,
) {
    use rtprec::events::sink::Delivery;
    match delivery {
        Delivery::Spooled { reason } => {
            eprintln!("rtprec: warning: event {id} ({event_type}) spooled: {reason}")
        }
        Delivery::Stderr { reason } => {
            eprintln!(
                "rtprec: error: event {id} ({event_type}) printed to standard error: {reason}"
            )
        }
        Delivery::Delivered | Delivery::Queued => {}
    }
}

fn replay(args: &ReplayArgs, quiet: bool) -> ExitCode {
    use rtprec::events::replay::replay;
    use rtprec::events::sink::Delivery;
    let config = match args.delivery.config(&args.webhook, args.spool.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rtprec: {e}");
            return ExitCode::from(&e);
        }
    };
    let result = replay(&args.spool, config, &mut |entry, delivery| {
        if let Delivery::Spooled { reason } = delivery
            && !quiet
        {
            eprintln!(
                "rtprec: warning: event {} (line {}) not delivered: {reason}",
                entry.id, entry.line
            );
        }
    });
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rtprec: {e}");
            return ExitCode::from(&e);
        }
    };
    let r = outcome.report;
    match &outcome.remaining {
        Some(path) => {
            // Always shown, even with --quiet: events are waiting and the exit code alone does not say where.
            eprintln!(
                "rtprec: events: {} replayed, {} delivered, {} still spooled in {}",
                r.emitted,
                r.delivered,
                r.spooled,
                path.display()
            );
            ExitCode::EventsSpooled
        }
        None => {
            if !quiet {
                eprintln!(
                    "rtprec: events: {} replayed, {} delivered; removed {}",
                    r.emitted,
                    r.delivered,
                    args.spool.display()
                );
            }
            ExitCode::Success
        }
    }
}

/// The event sinks of `record`: --events (default stdout when it is not a
/// terminal; none on a terminal, which gets the table, or with --json) and --webhook.
fn open_sinks(
    args: &RecordArgs,
    stdout_terminal: bool,
) -> Result<Vec<rtprec::events::sink::Sink>, ExitCode> {
    use rtprec::events::sink::{EventsTarget, Sink};
    use rtprec::events::webhook::WebhookSink;
    let target = args
        .events
        .clone()
        .unwrap_or(if args.json || stdout_terminal {
            EventsTarget::None
        } else {
            EventsTarget::Stdout
        });
    if args.json && target == EventsTarget::Stdout {
        eprintln!(
            "rtprec: --json and --events - both write to standard output: send events to a file or `none`"
        );
        return Err(ExitCode::Usage);
    }
    let mut sinks = vec![Sink::open(&target).map_err(|e| {
        eprintln!("rtprec: events: {e}");
        ExitCode::from(&e)
    })?];
    if let Some(url) = &args.webhook {
        let spool = args
            .spool
            .clone()
            .unwrap_or_else(|| args.out.join("events.spool.jsonl"));
        let webhook = args
            .delivery
            .config(url, spool)
            .and_then(|mut config| {
                config.drain_timeout = std::time::Duration::from_millis(args.drain_timeout_ms);
                WebhookSink::new(config)
            })
            .map_err(|e| {
                eprintln!("rtprec: {e}");
                ExitCode::from(&e)
            })?;
        sinks.push(Sink::Webhook(Box::new(webhook)));
    }
    Ok(sinks)
}

/// `rtprec report DIR [-o FILE]`: the HTML page of a recording.
fn html_report(args: &ReportArgs, quiet: bool) -> ExitCode {
    match rtprec::report::write_report(&args.dir, args.output.as_deref()) {
        Ok(path) => {
            if !quiet {
                eprintln!("rtprec: wrote {}", report::display_path(&path));
            }
            ExitCode::Success
        }
        Err(e) => {
            eprintln!("rtprec: report: {e}");
            ExitCode::from(&e)
        }
    }
}

/// `rtprec completions SHELL`: the completion script, generated from the clap definitions.
/// `rtprec compose`: the ffmpeg command from the library, printed or run.
fn compose(args: &ComposeArgs) -> ExitCode {
    use rtprec::compose::{self, ComposeError, ComposeOptions};
    let opts = ComposeOptions {
        tile_width: args.tile.0,
        tile_height: args.tile.1,
        fps: args.fps,
    };
    let command = compose::load_session(&args.session_dir)
        .and_then(|s| compose::build_command(&s, &args.output, opts));
    let result = command.and_then(|ffmpeg_args| {
        if args.print {
            let line = compose::shell_line("ffmpeg", &ffmpeg_args);
            return Ok(to_stdout(|w| writeln!(w, "{line}")));
        }
        compose::run_ffmpeg(&ffmpeg_args).map(|()| Ok(()))
    });
    match result {
        Ok(Ok(())) => ExitCode::Success,
        Ok(Err(code)) => code,
        Err(e @ ComposeError::OutputFormat(_)) => {
            eprintln!("rtprec: {e}");
            ExitCode::Usage
        }
        Err(e @ (ComposeError::FfmpegMissing(_) | ComposeError::FfmpegFailed(_))) => {
            eprintln!("rtprec: {e}");
            ExitCode::OutputFailed
        }
        Err(e) => {
            eprintln!("rtprec: {e}");
            ExitCode::BadInput
        }
    }
}

fn completions(args: &CompletionsArgs) -> ExitCode {
    use clap::CommandFactory;
    // Into memory first: clap_complete panics on a write error, and `| head` is not one.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "rtprec", &mut script);
    match to_stdout(|w| w.write_all(&script)) {
        Ok(()) => ExitCode::Success,
        Err(code) => code,
    }
}

fn assets_list(args: &AssetsListArgs) -> ExitCode {
    use rtprec::assets::{Status, list};
    let filter = list::Filter {
        asset_type: args.asset_type.clone(),
        room_id: args.room_id.clone(),
        session_id: args.session_id.clone(),
        peer_id: args.peer_id.clone(),
        status: args.status.as_deref().map(|s| {
            if s == "failed" {
                Status::Failed
            } else {
                Status::Completed
            }
        }),
    };
    let found = match list::list(&args.dirs, &filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rtprec: {e}");
            return ExitCode::BadInput;
        }
    };
    if args.json {
        let mut data = Vec::with_capacity(found.len());
        for l in &found {
            match std::path::absolute(&l.dir) {
                Ok(abs) => data.push(list::ApiAsset::new(l.clone(), &abs)),
                Err(e) => {
                    eprintln!("rtprec: {}: {e}", l.dir.display());
                    return ExitCode::OutputFailed;
                }
            }
        }
        let written = to_stdout(|w| {
            serde_json::to_writer_pretty(&mut *w, &list::ApiList::new(data))
                .map_err(io::Error::other)?;
            w.write_all(b"\n")
        });
        return match written {
            Err(code) => code,
            Ok(()) if found.is_empty() => ExitCode::NothingFound,
            Ok(()) => ExitCode::Success,
        };
    }
    let written = to_stdout(|w| {
        let rows: Vec<Vec<String>> = found
            .iter()
            .map(|l| {
                let a = &l.asset;
                vec![
                    a.id.clone(),
                    a.asset_type.clone(),
                    format!(
                        "{}/{}/{}/{}",
                        a.room_id, a.session_id, a.peer_id, a.track_id
                    ),
                    match a.kind {
                        rtprec::session::Kind::Audio => "audio".into(),
                        rtprec::session::Kind::Video => "video".into(),
                    },
                    match a.status {
                        Status::Completed => "completed".into(),
                        Status::Failed => "failed".into(),
                        Status::Skipped => "skipped".into(),
                    },
                    a.duration_ms
                        .map_or_else(|| "-".into(), |d| format!("{:.3}", d as f64 / 1000.0)),
                    l.file().map_or_else(
                        || a.error.as_ref().map_or("-".into(), |e| e.code.clone()),
                        |p| {
                            // `--audio-export` files follow the track's, `+`-joined.
                            std::iter::once(p)
                                .chain(a.exports.iter().map(|e| l.dir.join(&e.path)))
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(" + ")
                        },
                    ),
                ]
            })
            .collect();
        let head = [
            "ID",
            "TYPE",
            "ROOM/SESSION/PEER/TRACK",
            "KIND",
            "STATUS",
            "DUR(s)",
            "PATH OR ERROR",
        ];
        report::write_aligned(w, &head, &rows, usize::MAX)?;
        Ok(())
    });
    match written {
        Err(code) => code,
        Ok(()) if found.is_empty() => ExitCode::NothingFound,
        Ok(()) => ExitCode::Success,
    }
}

fn assets_url(args: &AssetsUrlArgs) -> ExitCode {
    use rtprec::assets::list;
    let found = match list::list(&args.dirs, &list::Filter::default()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rtprec: {e}");
            return ExitCode::BadInput;
        }
    };
    let Some(l) = found.iter().find(|l| l.asset.id == args.id) else {
        eprintln!(
            "rtprec: no asset {} in {}",
            args.id,
            args.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::NothingFound;
    };
    let (Some(rel), Some(file)) = (&l.asset.path, l.file()) else {
        eprintln!("rtprec: asset {} has no file (status failed)", args.id);
        return ExitCode::NothingFound;
    };
    // Only the working directory can be missing here: the environment's fault.
    let abs = match std::path::absolute(&file) {
        Ok(abs) => abs,
        Err(e) => {
            eprintln!("rtprec: {}: {e}", file.display());
            return ExitCode::OutputFailed;
        }
    };
    let (url, expiry) = match &args.base_url {
        None => (list::file_url(&abs), None),
        Some(base) => {
            let secret = match url_secret(args) {
                Ok(s) => s,
                Err((code, message)) => {
                    eprintln!("rtprec: {message}");
                    return code;
                }
            };
            // A link's lifetime is about the real world: the wall clock is right here.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let url = list::signed_url(base, rel, &secret, now.saturating_add(args.expires_in));
            (url, Some(args.expires_in))
        }
    };
    let written = to_stdout(|w| {
        if !args.json {
            return writeln!(w, "{url}");
        }
        let response = list::ApiPresignedUrl {
            id: l.asset.id.clone(),
            path: abs.to_string_lossy().into_owned(),
            url: url.clone(),
            expiry,
        };
        serde_json::to_writer_pretty(&mut *w, &response).map_err(io::Error::other)?;
        w.write_all(b"\n")
    });
    match written {
        Ok(()) => ExitCode::Success,
        Err(code) => code,
    }
}

/// The URL signing secret of `assets url --base-url`: from --secret-file (an
/// input: unreadable or empty is exit 3) or RTPREC_URL_SECRET (a setting:
/// unset or empty is exit 2, as for a missing option).
fn url_secret(args: &AssetsUrlArgs) -> Result<String, (ExitCode, String)> {
    const VAR: &str = "RTPREC_URL_SECRET";
    match &args.secret_file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| (ExitCode::BadInput, format!("{}: {e}", p.display())))?;
            let secret = text.trim();
            if secret.is_empty() {
                return Err((
                    ExitCode::BadInput,
                    format!("{}: the URL signing secret is empty", p.display()),
                ));
            }
            Ok(secret.to_string())
        }
        None => match std::env::var(VAR) {
            // Used as set, unlike a file's text (whose trailing newline an editor adds).
            Ok(s) if !s.is_empty() => Ok(s),
            Ok(_) => Err((
                ExitCode::Usage,
                format!("the URL signing secret in {VAR} is empty"),
            )),
            Err(_) => Err((
                ExitCode::Usage,
                format!("a signed URL needs --secret-file or {VAR}"),
            )),
        },
    }
}

/// `rtprec verify`: compare a recording with an expected manifest; 0 pass, 1 fail, 3 unreadable.
fn verify(args: &VerifyArgs, quiet: bool) -> ExitCode {
    use rtprec::verify::{self, Mode, Options, Tolerances};
    // A capture is recorded first, into a directory of our own that is removed
    // afterwards; create_dir refuses an existing one, whose manifest record
    // would add to (and which is not ours to remove).
    let scratch = if args.recording.is_dir() {
        None
    } else {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let d = std::env::temp_dir().join(format!("rtprec-verify-{}-{nanos}", std::process::id()));
        if let Err(e) = std::fs::create_dir(&d) {
            eprintln!("rtprec: {}: {e}", d.display());
            return ExitCode::OutputFailed;
        }
        Some(d)
    };
    let dir = scratch.clone().unwrap_or_else(|| args.recording.clone());
    let code = (|| {
        if scratch.is_some() {
            verify_record_capture(args, &dir, quiet)?;
        }
        let actual = verify::read_manifest(&dir.join("manifest.json")).map_err(|e| {
            eprintln!("rtprec: {e}");
            ExitCode::BadInput
        })?;
        if args.update {
            return std::fs::write(&args.expected, verify::manifest_text(&actual))
                .map(|()| {
                    if !quiet {
                        eprintln!("rtprec: wrote {}", args.expected.display());
                    }
                    ExitCode::Success
                })
                .map_err(|e| {
                    eprintln!("rtprec: {}: {e}", args.expected.display());
                    ExitCode::OutputFailed
                });
        }
        let expected = verify::read_manifest(&args.expected).map_err(|e| {
            eprintln!("rtprec: {e}");
            ExitCode::BadInput
        })?;
        let mode = match (args.strict, args.tolerant) {
            (true, _) => Mode::Strict,
            (_, true) => Mode::Tolerant,
            _ => verify::default_mode(&expected),
        };
        let probe: &dyn Fn(&std::path::Path) -> Result<(), String> = &verify::ffprobe;
        let report = verify::compare(
            &expected,
            &actual,
            &Options {
                mode,
                tolerances: Tolerances {
                    duration_ms: args.duration_tolerance_ms,
                    frames: args.frames_tolerance,
                },
                dir: &dir,
                probe: verify::ffprobe_available().then_some(probe),
            },
        );
        if let Some(path) = &args.junit {
            let written = verify::junit::to_xml(&report)
                .map_err(|e| e.to_string())
                .and_then(|xml| {
                    std::fs::write(path, xml).map_err(|e| format!("{}: {e}", path.display()))
                });
            if let Err(e) = written {
                eprintln!("rtprec: {e}");
                return Err(ExitCode::OutputFailed);
            }
        }
        to_stdout(|w| {
            writeln!(
                w,
                "rtprec verify: {} against {} ({} mode; expectation by {}, this is {})",
                args.recording.display(),
                args.expected.display(),
                mode.as_str(),
                expected.generator,
                verify::this_generator()
            )?;
            w.write_all(report.render_text().as_bytes())
        })?;
        Ok(if report.passed() {
            ExitCode::Success
        } else {
            ExitCode::NothingFound
        })
    })();
    if let Some(s) = scratch {
        // Best effort: a leftover temporary directory is not worth failing CI over.
        let _ = std::fs::remove_dir_all(s);
    }
    code.unwrap_or_else(|c| c)
}

/// Records `args.recording` (a capture) into `dir` by running this binary's `record`.
///
/// A child process keeps `record`'s terminal output and signal handling
/// exactly as they are for a user, and out of verify's report.
fn verify_record_capture(
    args: &VerifyArgs,
    dir: &std::path::Path,
    quiet: bool,
) -> Result<(), ExitCode> {
    let exe = std::env::current_exe().map_err(|e| {
        eprintln!("rtprec: finding the rtprec binary: {e}");
        ExitCode::OutputFailed
    })?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--quiet")
        .arg("record")
        .arg(&args.recording)
        .arg("-o")
        .arg(dir)
        .args(["--events", "none"])
        // Inherited so that `rtprec verify - ...` records a capture piped in.
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::null());
    if let Some(m) = &args.metadata {
        cmd.arg("--metadata").arg(m);
    }
    if !args.sdp.is_empty() {
        cmd.arg("--sdp").args(&args.sdp);
    }
    if !quiet {
        eprintln!(
            "rtprec: recording {} to compare it",
            args.recording.display()
        );
    }
    let status = cmd.status().map_err(|e| {
        eprintln!("rtprec: running record: {e}");
        ExitCode::OutputFailed
    })?;
    // Failed tracks (4) and no streams (1) still leave a manifest to compare;
    // record's other failures are verify's, with the same code (it said why on stderr).
    let passed_on = [
        ExitCode::Usage,
        ExitCode::OutputFailed,
        ExitCode::Interrupted,
        ExitCode::Terminated,
    ];
    match status.code() {
        Some(0 | 1 | 4) => Ok(()),
        Some(c) => Err(passed_on
            .into_iter()
            .find(|p| i32::from(p.code()) == c)
            .unwrap_or(ExitCode::BadInput)),
        None => Err(ExitCode::BadInput),
    }
}
