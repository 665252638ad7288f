//! Exit codes: one enum, documented in `man/rtprec.1`.

/// The process exit status of an rtprec run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything asked for was done.
    Success = 0,
    /// The run completed but found no RTP streams.
    NothingFound = 1,
    /// What the user typed was wrong: an option, its value, or an environment
    /// variable standing for one (clap's own code, also for rtprec's own checks).
    Usage = 2,
    /// A file rtprec reads could not be read or is invalid (capture, metadata,
    /// SDP, template, key file, key log, secret file, spool, manifest).
    BadInput = 3,
    /// Some tracks could not be recorded (the others were).
    TracksFailed = 4,
    /// Some events could not be delivered to the webhook and are in the spool file.
    EventsSpooled = 5,
    /// Some events could not be written to the spool file: they were printed to standard error.
    EventsOnStderr = 6,
    /// Output could not be written (output directory, manifest, events file,
    /// standard output), or the system refused what the run needs (a thread).
    OutputFailed = 7,
    /// Interrupted by SIGINT (Ctrl-C): the input ended early, everything read was recorded.
    Interrupted = 130,
    /// Stopped by SIGTERM: the input ended early, everything read was recorded.
    Terminated = 143,
}

impl ExitCode {
    /// Every code with its one-line meaning, for the man page and README.
    pub const ALL: [(ExitCode, &'static str); 10] = [
        (
            ExitCode::Success,
            "success: everything asked for was done (a broken pipe on stdout also ends quietly with 0)",
        ),
        (
            ExitCode::NothingFound,
            "nothing found: the inputs hold no RTP stream (streams) or no track (record); assets list: no asset matches; assets url: no such asset, or it has no file; verify: at least one track differs from the expectation",
        ),
        (
            ExitCode::Usage,
            "usage error: something typed is wrong, whether clap or rtprec finds it: an unknown option or subcommand, a missing argument, a bad option value (a malformed --webhook URL, an --events value that looks like a slip, - given twice, --json with --events -), or a bad value in an environment variable that stands for an option (RTPREC_WEBHOOK_SECRET not a whsec_ secret, the variable --srtp-keys-env names unset or not key lines, RTPREC_URL_SECRET unset or empty when --base-url needs it)",
        ),
        (
            ExitCode::BadInput,
            "bad input: a file rtprec reads cannot be read or is invalid: a capture (unknown format, corrupt structure, I/O error), --metadata (with --strict-metadata also a field rtprec does not know), --sdp, --template, --srtp-keys, a --keylog, a secret file (--webhook-secret-file, --secret-file: unreadable, empty or not a secret), the spool events replay reads, a manifest (assets, verify's recording and --expected, the one already in record's output directory, the one above compose's session directory, or a directory that is not a session of it, report's) or report's timeline.json",
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
            "events: the spool file could not be written; the events it should hold were printed to standard error, one JSON object per line, and are nowhere else (save them, then send them with rtprec events replay); it takes precedence over 1, 3, 4, 5 and 7",
        ),
        (
            ExitCode::OutputFailed,
            "cannot write output: the output directory cannot be created or written (a file where a directory should be, permissions, disk full), the manifest, an --events file or standard output cannot be written (a closed pipe is not an error), events replay cannot replace the spool, verify cannot write --update's manifest, --junit or its temporary directory, compose cannot run ffmpeg (not installed) or ffmpeg fails to write the file, report (or record --report) cannot write the page; also when the system refuses a thread or a signal handler",
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

// Each kind of failure maps to its code here, next to `ALL` that documents the rules.

impl From<&crate::error::Error> for ExitCode {
    fn from(e: &crate::error::Error) -> ExitCode {
        use crate::error::Error;
        match e {
            Error::Capture(_) | Error::Io { .. } => ExitCode::BadInput,
            Error::Output { .. } => ExitCode::OutputFailed,
        }
    }
}

impl From<&crate::report::ReportError> for ExitCode {
    fn from(e: &crate::report::ReportError) -> ExitCode {
        use crate::report::ReportError;
        match e {
            ReportError::Read { .. } | ReportError::Format { .. } => ExitCode::BadInput,
            ReportError::Write { .. } => ExitCode::OutputFailed,
        }
    }
}

impl From<&super::options::OptionsError> for ExitCode {
    fn from(e: &super::options::OptionsError) -> ExitCode {
        use super::options::OptionsError;
        match e {
            OptionsError::Input(_) => ExitCode::BadInput,
            OptionsError::Usage(_) => ExitCode::Usage,
        }
    }
}

impl From<&crate::events::webhook::WebhookError> for ExitCode {
    fn from(e: &crate::events::webhook::WebhookError) -> ExitCode {
        use crate::events::webhook::{SecretOrigin, WebhookError};
        match e {
            WebhookError::BadUrl(_) => ExitCode::Usage,
            // A secret file is an input like any other; a variable is a setting the user typed.
            WebhookError::SecretFile { .. } => ExitCode::BadInput,
            WebhookError::BadSecret { from, .. } => match from {
                SecretOrigin::File(_) => ExitCode::BadInput,
                SecretOrigin::Setting(_) => ExitCode::Usage,
            },
            WebhookError::Spool { .. } | WebhookError::Thread(_) => ExitCode::OutputFailed,
        }
    }
}

impl From<&crate::events::replay::ReplayError> for ExitCode {
    fn from(e: &crate::events::replay::ReplayError) -> ExitCode {
        use crate::events::replay::ReplayError;
        match e {
            ReplayError::Read { .. } | ReplayError::Malformed { .. } => ExitCode::BadInput,
            ReplayError::Webhook(w) => ExitCode::from(w),
            ReplayError::Replace { .. } => ExitCode::OutputFailed,
        }
    }
}

impl From<&crate::events::sink::SinkError> for ExitCode {
    /// An events file or standard output that cannot be written is output.
    fn from(_: &crate::events::sink::SinkError) -> ExitCode {
        ExitCode::OutputFailed
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_documented_once() {
        let codes: Vec<u8> = ExitCode::ALL.iter().map(|(c, _)| c.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 130, 143]);
        assert!(ExitCode::ALL.iter().all(|(_, m)| !m.contains(" | ")));
    }

    #[test]
    fn secrets_follow_where_they_come_from() {
        use crate::events::webhook::{SecretOrigin, WebhookError};
        let bad = |from| WebhookError::BadSecret {
            from,
            reason: "it is empty",
        };
        assert_eq!(
            ExitCode::from(&bad(SecretOrigin::File("s".into()))),
            ExitCode::BadInput
        );
        assert_eq!(
            ExitCode::from(&bad(SecretOrigin::Setting("RTPREC_WEBHOOK_SECRET".into()))),
            ExitCode::Usage
        );
        assert_eq!(
            ExitCode::from(&WebhookError::BadUrl("no scheme")),
            ExitCode::Usage
        );
        let output = crate::error::Error::Output {
            context: "creating out".into(),
            source: std::io::Error::other("not a directory"),
        };
        assert_eq!(ExitCode::from(&output), ExitCode::OutputFailed);
    }
}
