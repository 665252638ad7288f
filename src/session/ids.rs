//! Ids that become path parts: `OUT/<room>/<session>/<peer>/<track>.<ext>`.
//!
//! [`sanitize_id`] rejects what could escape the output directory or cannot
//! name a file (empty, `.`, `..`, `/`, `\`, control characters, drive
//! prefixes, over [`MAX_ID_LEN`] bytes) and maps everything else outside
//! `[A-Za-z0-9._-]` to `_`, one `_` per character (so `"a b"`, `"a+b"` and
//! `"a\u{e9}b"` all become `a_b`). The mapping is deterministic but not
//! injective: callers check sibling ids with [`check_unique`].

use std::collections::BTreeMap;
use std::fmt;

/// Longest accepted id, in bytes of the input.
pub const MAX_ID_LEN: usize = 128;

/// Why an id cannot be used as a path part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct IdError {
    /// Which field, e.g. `peers[0].peer_id`.
    pub what: String,
    /// The offending value, escaped for display.
    pub value: String,
    /// What is wrong with it.
    pub reason: IdProblem,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.what, self.value, self.reason)
    }
}

/// The ways an id can be unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdProblem {
    /// The id is empty.
    Empty,
    /// The id is `.` or `..`.
    Dot,
    /// The id contains `/` or `\`.
    Separator,
    /// The id contains NUL or another control character.
    Control,
    /// The id starts like a Windows drive (`C:`).
    DrivePrefix,
    /// The id is longer than [`MAX_ID_LEN`] bytes.
    TooLong,
}

impl fmt::Display for IdProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdProblem::Empty => "is empty",
            IdProblem::Dot => "is a relative path component (`.` or `..`)",
            IdProblem::Separator => "contains a path separator (`/` or `\\`)",
            IdProblem::Control => "contains a control character",
            IdProblem::DrivePrefix => "starts with a drive prefix",
            IdProblem::TooLong => "is longer than 128 bytes",
        })
    }
}

/// Checks `id` (named `what` in errors) and returns it with unsafe characters mapped to `_`.
pub fn sanitize_id(what: &str, id: &str) -> Result<String, IdError> {
    let fail = |reason| {
        Err(IdError {
            what: what.to_string(),
            value: escape(id),
            reason,
        })
    };
    if id.is_empty() {
        return fail(IdProblem::Empty);
    }
    if id.len() > MAX_ID_LEN {
        return fail(IdProblem::TooLong);
    }
    if id == "." || id == ".." {
        return fail(IdProblem::Dot);
    }
    // An absolute path starts with a separator, so it is caught here too.
    if id.contains(['/', '\\']) {
        return fail(IdProblem::Separator);
    }
    if id.chars().any(char::is_control) {
        return fail(IdProblem::Control);
    }
    let b = id.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return fail(IdProblem::DrivePrefix);
    }
    Ok(id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect())
}

/// The id as a quoted string with non-printable and non-ASCII characters escaped.
pub fn escape(id: &str) -> String {
    format!("\"{}\"", id.escape_default())
}

/// Two sanitised ids of the same scope that are equal (after mapping).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} {second_value} (at {second}) is the same as {first_value} (at {first}) after sanitising"
)]
pub struct DuplicateId {
    /// Which kind of id, e.g. `peer_id`.
    pub what: String,
    /// Location of the first, e.g. `peers[0].peer_id`.
    pub first: String,
    /// Its original value, escaped.
    pub first_value: String,
    /// Location of the second.
    pub second: String,
    /// Its original value, escaped.
    pub second_value: String,
}

/// Finds the first pair of equal sanitised ids among `(location, original, sanitised)` items.
pub fn check_unique<'a>(
    what: &str,
    items: impl IntoIterator<Item = (String, &'a str, &'a str)>,
) -> Result<(), DuplicateId> {
    let mut seen: BTreeMap<&str, (String, &str)> = BTreeMap::new();
    for (loc, original, sanitised) in items {
        if let Some((first, first_original)) = seen.get(sanitised) {
            return Err(DuplicateId {
                what: what.to_string(),
                first: first.clone(),
                first_value: escape(first_original),
                second: loc,
                second_value: escape(original),
            });
        }
        seen.insert(sanitised, (loc, original));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        use IdProblem::*;
        let long = "x".repeat(129);
        let ok128 = "y".repeat(128);
        let cases: &[(&str, Result<&str, IdProblem>)] = &[
            ("alice", Ok("alice")),
            ("A-b_c.9", Ok("A-b_c.9")),
            ("t host mic", Ok("t_host_mic")),
            ("ab:c", Ok("ab_c")),
            ("a b:", Ok("a_b_")),
            ("zo\u{eb}", Ok("zo_")),
            ("\u{1f600}", Ok("_")),
            ("...", Ok("...")),
            (".hidden", Ok(".hidden")),
            ("{abc-123}", Ok("_abc-123_")),
            (&ok128, Ok(&ok128)),
            ("", Err(Empty)),
            (".", Err(Dot)),
            ("..", Err(Dot)),
            ("a/b", Err(Separator)),
            ("/etc", Err(Separator)),
            ("..\\x", Err(Separator)),
            ("\\\\server\\share", Err(Separator)),
            ("a\0b", Err(Control)),
            ("a\nb", Err(Control)),
            ("tab\t", Err(Control)),
            ("\u{7f}", Err(Control)),
            ("\u{85}", Err(Control)),
            ("C:", Err(DrivePrefix)),
            ("c:evil", Err(DrivePrefix)),
            (&long, Err(TooLong)),
        ];
        for (input, want) in cases {
            let got = sanitize_id("peers[0].peer_id", input);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(*w, g, "{input:?}"),
                (Err(w), Err(e)) => assert_eq!(*w, e.reason, "{input:?}"),
                (w, g) => panic!("{input:?}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn error_names_field_and_escaped_value() {
        let e = sanitize_id("peers[1].tracks[0].track_id", "a\0/b").unwrap_err();
        let msg = e.to_string();
        assert_eq!(
            msg,
            "peers[1].tracks[0].track_id \"a\\u{0}/b\": contains a path separator (`/` or `\\`)"
        );
        assert!(!msg.contains('\0'));
    }

    #[test]
    fn unique() {
        let ids = [("a b", "a_b"), ("c", "c"), ("a\u{e9}b", "a_b")];
        let items = ids
            .iter()
            .enumerate()
            .map(|(i, (o, s))| (format!("peers[{i}].peer_id"), *o, *s));
        let e = check_unique("peer_id", items).unwrap_err();
        assert_eq!(e.first, "peers[0].peer_id");
        assert_eq!(e.second, "peers[2].peer_id");
        assert_eq!(
            e.to_string(),
            "peer_id \"a\\u{e9}b\" (at peers[2].peer_id) is the same as \"a b\" (at peers[0].peer_id) after sanitising"
        );
        assert!(
            check_unique(
                "peer_id",
                [("x".to_string(), "x", "x"), ("y".into(), "y", "y")]
            )
            .is_ok()
        );
    }

    proptest! {
        #[test]
        fn output_is_safe_and_stable(id in any::<String>()) {
            if let Ok(s) = sanitize_id("id", &id) {
                prop_assert!(!s.is_empty());
                prop_assert!(!s.contains(['/', '\\', '\0']));
                prop_assert!(s != "." && s != "..");
                prop_assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
                prop_assert!(s.len() <= MAX_ID_LEN);
                // Stable: the same input maps the same way, and safe output maps to itself.
                prop_assert_eq!(sanitize_id("id", &id).ok(), Some(s.clone()));
                prop_assert_eq!(sanitize_id("id", &s).ok(), Some(s.clone()));
            }
        }

        #[test]
        fn path_like_ids_are_safe(id in "[a-zA-Z0-9./\\\\: \\x00-\\x1f]{0,12}") {
            if let Ok(s) = sanitize_id("id", &id) {
                prop_assert!(!s.contains(['/', '\\', '\0']));
                prop_assert!(s != "." && s != "..");
                let p = std::path::Path::new(&s);
                prop_assert_eq!(p.components().count(), 1);
                let normal = matches!(p.components().next(), Some(std::path::Component::Normal(_)));
                prop_assert!(normal);
            }
        }
    }
}
