//! Recording templates: which tracks to record, like a dashboard setting.
//!
//! A template narrows by role, kind and source, and picks the container per
//! kind where more than one fits. Tracks a template leaves out are listed in the
//! manifest as `skipped`, with the reason; they get no events and no file.

use crate::session::{Kind, Source};
use serde::Deserialize;
use std::path::Path;

/// A recording template (`--template FILE`, JSON; flags add to it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Record only peers with one of these roles (metadata `role`); empty = all.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Record only these kinds; empty = both.
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// Record only these sources; empty = both.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// Container for audio tracks: `ogg` (default) or `webm` (Opus only).
    #[serde(default)]
    pub audio_container: Option<String>,
}

/// Why a template could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TemplateError {
    /// The template file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Template {
    /// Reads a JSON template.
    pub fn load(path: &Path) -> Result<Template, TemplateError> {
        let err = |message: String| TemplateError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let t: Template = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        t.validate().map_err(err)?;
        Ok(t)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        match self.audio_container.as_deref() {
            None | Some("ogg" | "webm") => Ok(()),
            Some(other) => Err(format!(
                "audio_container {other:?}: expected \"ogg\" or \"webm\""
            )),
        }
    }

    /// `None` when the track is recorded, else why it is skipped.
    pub fn excludes(&self, role: Option<&str>, kind: Kind, source: Source) -> Option<String> {
        if !self.kinds.is_empty() && !self.kinds.contains(&kind) {
            return Some(format!(
                "kind {} is not in the template's kinds",
                kind_name(kind)
            ));
        }
        if !self.sources.is_empty() && !self.sources.contains(&source) {
            let s = if source == Source::Screen {
                "screen"
            } else {
                "regular"
            };
            return Some(format!("source {s} is not in the template's sources"));
        }
        if !self.roles.is_empty() {
            match role {
                Some(r) if self.roles.iter().any(|x| x == r) => {}
                Some(r) => return Some(format!("role {r:?} is not in the template's roles")),
                None => {
                    return Some(
                        "the peer has no role, and the template records only some roles".into(),
                    );
                }
            }
        }
        None
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Audio => "audio",
        Kind::Video => "video",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrows_by_role_kind_and_source() {
        let t: Template = serde_json::from_str(
            r#"{"roles": ["host", "co-host"], "kinds": ["audio"], "sources": ["regular"]}"#,
        )
        .unwrap();
        assert_eq!(t.excludes(Some("host"), Kind::Audio, Source::Regular), None);
        assert!(
            t.excludes(Some("guest"), Kind::Audio, Source::Regular)
                .unwrap()
                .contains("role")
        );
        assert!(
            t.excludes(Some("host"), Kind::Video, Source::Regular)
                .unwrap()
                .contains("kind video")
        );
        assert!(
            t.excludes(Some("host"), Kind::Audio, Source::Screen)
                .unwrap()
                .contains("source screen")
        );
        assert!(
            t.excludes(None, Kind::Audio, Source::Regular)
                .unwrap()
                .contains("no role")
        );
        assert_eq!(
            Template::default().excludes(None, Kind::Video, Source::Screen),
            None
        );
    }

    #[test]
    fn rejects_unknown_fields_and_containers() {
        assert!(serde_json::from_str::<Template>(r#"{"rolez": []}"#).is_err());
        let t: Template = serde_json::from_str(r#"{"audio_container": "mp3"}"#).unwrap();
        assert!(t.validate().is_err());
    }
}
