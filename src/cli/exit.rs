//! Exit codes: one enum, documented in `man/rtprec.1`.

/// The process exit status of an rtprec run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything asked for was done.
    Success = 0,
    /// The run completed but found no RTP streams.
    NothingFound = 1,
    /// The command line was wrong (clap's own code).
    Usage = 2,
    /// An input could not be read (missing file, unknown format, corrupt structure).
    BadInput = 3,
    /// Some tracks could not be recorded (the others were).
    TracksFailed = 4,
    /// Some events could not be delivered to the webhook and are in the spool file.
    EventsSpooled = 5,
    /// Some events could not be written to the spool file: they were printed to standard error.
    EventsOnStderr = 6,
    /// Interrupted by SIGINT (Ctrl-C): the input ended early, everything read was recorded.
    Interrupted = 130,
    /// Stopped by SIGTERM: the input ended early, everything read was recorded.
    Terminated = 143,
}

impl ExitCode {
    /// Every code with its one-line meaning, for the man page and README.
    pub const ALL: [(ExitCode, &'static str); 9] = [
        (
            ExitCode::Success,
            "success: everything asked for was done (a broken pipe on stdout also ends quietly with 0)",
        ),
        (
            ExitCode::NothingFound,
            "the run completed but the inputs hold no RTP stream; verify: at least one track differs from the expectation",
        ),
        (
            ExitCode::Usage,
            "usage error: unknown option, missing argument",
        ),
        (
            ExitCode::BadInput,
            "bad input: a capture could not be opened or read (unknown format, corrupt structure, I/O error)",
        ),
        (
            ExitCode::TracksFailed,
            "record: at least one track failed (its manifest entry says why); the other tracks were recorded",
        ),
        (
            ExitCode::EventsSpooled,
            "events: some events could not be delivered to the webhook; they are in the spool file (send them with rtprec events replay)",
        ),
        (
            ExitCode::EventsOnStderr,
            "events: the spool file could not be written; the events it should hold were printed to standard error, one JSON object per line, and are nowhere else (save them, then send them with rtprec events replay); it takes precedence over 1, 3, 4 and 5",
        ),
        (
            ExitCode::Interrupted,
            "interrupted by SIGINT (Ctrl-C): the input ended there; every track read so far was finished, the manifest written and the events sent (a second Ctrl-C exits at once: files still being written stay temporary, every final-named file is complete and in the manifest)",
        ),
        (
            ExitCode::Terminated,
            "stopped by SIGTERM: as for SIGINT, the input ended there and everything read so far was finished",
        ),
    ];

    /// The exit code of a run that a signal stopped (SIGINT 130, SIGTERM 143).
    pub fn for_signal(signal: i32) -> ExitCode {
        if signal == 15 {
            ExitCode::Terminated
        } else {
            ExitCode::Interrupted
        }
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}
