//! `rtprec events replay`: send a spool file's events again, keep what still fails.
//!
//! The whole spool is read and checked first, so a malformed line stops the
//! replay before anything is sent (the error names the file and line). Then
//! every event is sent in order with its original bytes and id, so receivers
//! that saw an event before deduplicate it. Events that still cannot be
//! delivered go to a temporary spool beside the original (`.NAME.replay-<pid>`),
//! which then replaces the original by an atomic rename. When everything is
//! delivered, the spool file is removed. If the replay itself fails midway
//! (the temporary spool cannot be written), the original is left untouched:
//! events delivered so far are sent again next time, and deduplicated by id.
//!
//! Do not replay a spool that a running `rtprec record` is still appending to:
//! the rename would drop its new lines.

use super::sink::{Delivery, DeliveryReport};
use super::webhook::{Courier, Spool, StopSignal, WebhookConfig, WebhookError};
use super::{EVENT_VERSION, Event};
use std::path::{Path, PathBuf};

/// Errors that stop a replay.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The spool could not be read.
    #[error("cannot read spool {path}: {source}")]
    Read {
        /// The spool file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not an event envelope.
    #[error("{path}:{line}: not an event envelope: {reason}")]
    Malformed {
        /// The spool file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The webhook configuration or the new spool failed.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// The new spool could not replace the old one.
    #[error("cannot replace spool {path}: {source}")]
    Replace {
        /// The spool file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One spooled event: its line number, id and exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolEntry {
    /// 1-based line number in the spool.
    pub line: usize,
    /// The event id (`webhook-id`).
    pub id: String,
    /// The envelope line, without its newline.
    pub body: Vec<u8>,
}

/// Reads and checks a spool file; blank lines are skipped.
pub fn read_spool(path: &Path) -> Result<Vec<SpoolEntry>, ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_spool(&bytes, path)
}

/// Checks spool bytes; `path` is only for error messages.
pub fn parse_spool(bytes: &[u8], path: &Path) -> Result<Vec<SpoolEntry>, ReplayError> {
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let body = raw.strip_suffix(b"\r").unwrap_or(raw);
        if body.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |reason: String| ReplayError::Malformed {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        let ev: Event = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
        if ev.version != EVENT_VERSION {
            return Err(bad(format!(
                "version {} (this rtprec sends version {EVENT_VERSION})",
                ev.version
            )));
        }
        if ev.id.is_empty() || ev.id.len() > 256 {
            return Err(bad("the id is empty or longer than 256 bytes".into()));
        }
        out.push(SpoolEntry {
            line: i + 1,
            id: ev.id,
            body: body.to_vec(),
        });
    }
    Ok(out)
}

/// What a replay did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// Counts (`emitted` = events in the spool).
    pub report: DeliveryReport,
    /// The spool now holding the undelivered events, or `None` when it was removed.
    pub remaining: Option<PathBuf>,
}

/// The temporary spool a replay writes beside `spool`.
pub fn temp_spool_path(spool: &Path) -> PathBuf {
    let name = spool
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "spool".into());
    spool.with_file_name(format!(".{name}.replay-{}", std::process::id()))
}

/// Replays `spool` to the webhook of `config` (its `spool` field is not used:
/// what still fails goes to [`temp_spool_path`]`(spool)`).
pub fn replay(
    spool: &Path,
    config: WebhookConfig,
    on_event: &mut dyn FnMut(&SpoolEntry, &Delivery),
) -> Result<ReplayOutcome, ReplayError> {
    // Checked before the spool is read: a typo in the URL should not depend on the spool's content.
    super::webhook::validate_url(&config.url)?;
    let entries = read_spool(spool)?;
    let courier = Courier::new(&config)?;
    replay_entries(spool, &entries, courier, on_event)
}

/// Replays checked entries through `courier`, one after the other (there is no
/// capture to keep reading, so no delivery thread); what still fails goes to
/// [`temp_spool_path`]`(spool)`, which then replaces `spool`.
pub fn replay_entries(
    spool: &Path,
    entries: &[SpoolEntry],
    mut courier: Courier,
    on_event: &mut dyn FnMut(&SpoolEntry, &Delivery),
) -> Result<ReplayOutcome, ReplayError> {
    let mut kept = Spool::new(temp_spool_path(spool));
    let tmp = kept.path().to_path_buf();
    // Replay runs to the end or fails; nothing stops it early.
    let never = StopSignal::default();
    let mut report = DeliveryReport::default();
    let result = entries.iter().try_for_each(|e| {
        report.emitted += 1;
        let d = match courier.deliver(&e.id, &e.body, &never) {
            Ok(()) => {
                report.delivered += 1;
                Delivery::Delivered
            }
            Err(reason) => {
                kept.append(&e.id, &e.body)?;
                report.spooled += 1;
                Delivery::Spooled { reason }
            }
        };
        on_event(e, &d);
        Ok::<_, ReplayError>(())
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let replace_err = |source| ReplayError::Replace {
        path: spool.to_path_buf(),
        source,
    };
    if report.spooled == 0 {
        let _ = std::fs::remove_file(&tmp);
        match std::fs::remove_file(spool) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(replace_err(e)),
        }
        return Ok(ReplayOutcome {
            report,
            remaining: None,
        });
    }
    // The temporary spool was fsync'd after each append; the rename makes it the spool at once.
    std::fs::rename(&tmp, spool).map_err(replace_err)?;
    if let Some(dir) = spool.parent()
        && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = d.sync_all();
    }
    Ok(ReplayOutcome {
        report,
        remaining: Some(spool.to_path_buf()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures;

    #[test]
    fn spool_lines_parse_with_their_bytes() {
        let evs = fixtures::events();
        let text = format!("{}\r\n\n{}\n", evs[0].to_json(), evs[3].to_json());
        let entries = parse_spool(text.as_bytes(), Path::new("s.jsonl")).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].line, 1);
        assert_eq!(entries[0].body, evs[0].to_json().into_bytes());
        assert_eq!(entries[1].line, 3);
        assert_eq!(entries[1].id, evs[3].id);
    }

    #[test]
    fn malformed_lines_are_named() {
        let good = fixtures::events()[0].to_json();
        let v2 = good.replace("\"version\":1", "\"version\":2");
        let no_id = good.replace("\"id\":", "\"idx\":");
        let cases = [
            (format!("{good}\n{{not json\n"), 2, ""),
            (format!("{v2}\n"), 1, "version 2"),
            (format!("\n\n{no_id}\n"), 3, "missing field `id`"),
            ("[1,2]\n".to_string(), 1, ""),
            (format!("{good}\n\u{0}\n"), 2, ""),
        ];
        for (text, line, needle) in cases {
            let e = parse_spool(text.as_bytes(), Path::new("spool.jsonl")).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("spool.jsonl:{line}: ")), "{msg}");
            assert!(msg.contains(needle), "{msg}");
        }
    }

    #[test]
    fn temp_spool_is_a_hidden_sibling() {
        let t = temp_spool_path(Path::new("out/events.spool.jsonl"));
        assert_eq!(t.parent(), Some(Path::new("out")));
        assert!(
            t.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".events.spool.jsonl.replay-")
        );
    }
}
