//! `record`'s options, validated in one place: the metadata or SDP, the
//! template, the SRTP key file, the reorder window, the loop's clock and stop
//! flag. `main.rs` only parses arguments, runs and reports.

use super::args::RecordArgs;
use crate::pipeline::{LoopOptions, StopFlag};
use crate::record::RecordOptions;
use crate::record::template::Template;

/// A `record` command line turned into what the run needs.
#[derive(Debug)]
pub struct RecordPlan {
    /// The recorder's options.
    pub record: RecordOptions,
    /// The read loop's options.
    pub read: LoopOptions,
    /// Notes about the metadata (unknown fields and the like), for stderr.
    pub notes: Vec<String>,
}

/// Why the options cannot be used: the message names the file (and line), or
/// the option or variable, at fault.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// A file an option names cannot be read or is invalid (exit 3).
    #[error("{0}")]
    Input(String),
    /// A value given on the command line or in an environment variable is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
}

/// Loads and checks everything `record`'s options name.
pub fn record_plan(args: &RecordArgs, stop: &StopFlag) -> Result<RecordPlan, OptionsError> {
    let err = |e: &dyn std::fmt::Display| OptionsError::Input(e.to_string());
    let (session, identification) = if let Some(path) = &args.metadata {
        (
            Some(
                crate::session::load_metadata_with(path, unknown_fields(args))
                    .map_err(|e| err(&e))?,
            ),
            "metadata",
        )
    } else if !args.sdp.is_empty() {
        (
            Some(crate::session::load_sdp(&args.sdp).map_err(|e| err(&e))?),
            "sdp",
        )
    } else {
        (None, "inferred")
    };
    let notes = session
        .as_ref()
        .map(|m| m.notes.clone())
        .unwrap_or_default();
    let template = template_of(args).map_err(|e| err(&e))?;
    let srtp_keys = match (&args.srtp_keys, &args.srtp_keys_env) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| OptionsError::Input(format!("{}: {e}", path.display())))?;
            crate::srtp::keyring::parse_key_file(&text, &path.display().to_string())
                .map_err(|e| err(&e))?
        }
        (None, Some(var)) => {
            // The variable stands for an option's value: what is wrong with it is a usage error.
            let text = std::env::var(var).map_err(|_| {
                OptionsError::Usage(format!(
                    "environment variable {var:?} (--srtp-keys-env) is not set"
                ))
            })?;
            crate::srtp::keyring::parse_key_file(&text, &format!("${var}"))
                .map_err(|e| OptionsError::Usage(e.to_string()))?
        }
        (None, None) => Vec::new(),
    };
    let keylog = load_keylogs(&args.keylog)?.unwrap_or_default();
    let record = RecordOptions {
        srtp_keys,
        keylog,
        match_by_kind: args.match_by_kind,
        audio_export: args.audio_export.map(Into::into),
        template,
        idle_timeout_nanos: i64::try_from(args.idle_timeout)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000),
        out_dir: args.out.clone(),
        jobs: args.jobs,
        session,
        identification,
        reorder: crate::track::ReorderConfig {
            max_packets: args.reorder_packets as usize,
            max_hold_nanos: i64::try_from(args.reorder_ms.saturating_mul(1_000_000))
                .unwrap_or(i64::MAX),
        },
    };
    let read = LoopOptions {
        live_clock: args.live_clock,
        stop: stop.clone(),
    };
    Ok(RecordPlan {
        record,
        read,
        notes,
    })
}

/// The `--keylog` files, merged; `None` when none was given.
pub fn load_keylogs(
    paths: &[std::path::PathBuf],
) -> Result<Option<crate::dtls::KeyLog>, OptionsError> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut keylog = crate::dtls::KeyLog::default();
    for path in paths {
        let bytes = std::fs::read(path)
            .map_err(|e| OptionsError::Input(format!("{}: {e}", path.display())))?;
        // Key logs are ASCII; a stray byte elsewhere must not hide the lines that parse.
        let text = String::from_utf8_lossy(&bytes);
        let log = crate::dtls::KeyLog::parse(&text, &path.display().to_string())
            .map_err(|e| OptionsError::Input(e.to_string()))?;
        keylog.merge(log);
    }
    Ok(Some(keylog))
}

/// How --metadata's unknown fields are treated: warnings, or errors with --strict-metadata.
fn unknown_fields(args: &RecordArgs) -> crate::session::UnknownFields {
    if args.strict_metadata {
        crate::session::UnknownFields::Reject
    } else {
        crate::session::UnknownFields::Warn
    }
}

/// The recording template: --template FILE, narrowed further by the --only-* flags.
fn template_of(args: &RecordArgs) -> Result<Template, String> {
    let mut t = match &args.template {
        Some(path) => Template::load(path).map_err(|e| e.to_string())?,
        None => Template::default(),
    };
    if !args.only_role.is_empty() {
        t.roles.clone_from(&args.only_role);
    }
    if let Some(k) = args.only_kind {
        t.kinds = vec![k];
    }
    if let Some(s) = args.only_source {
        t.sources = vec![s];
    }
    if let Some(c) = &args.audio_container {
        t.audio_container = Some(c.clone());
    }
    t.validate()?;
    Ok(t)
}
