//! One exit code per kind of failure (issue #14): each documented code,
//! triggered from the command line. 4, 5, 6, 130 and 143 have their own tests
//! in record.rs, events.rs and live.rs.

use crate::util::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `record` of the demo capture into `out` with `extra` (events off unless
/// `extra` says where); the variables that would change the outcome are cleared.
fn record_demo(out: &Path, extra: &[&str]) -> Command {
    let mut c = rtprec();
    c.args(["-q", "record"])
        .arg(testdata("media-opus-vp8.pcap"))
        .arg("-m")
        .arg(testdata("media-opus-vp8.session.json"))
        .arg("-o")
        .arg(out)
        .args(extra);
    if !extra.contains(&"--events") {
        c.args(["--events", "none"]);
    }
    for var in [
        "RTPREC_WEBHOOK_SECRET",
        "RTPREC_URL_SECRET",
        "RTPREC_KEYLOG",
        "RTPREC_OUT",
    ] {
        c.env_remove(var);
    }
    c
}

fn code_and_stderr(mut c: Command) -> (Option<i32>, String) {
    let out: Output = c.output().expect("the rtprec binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A webhook nobody listens on: configuration errors are found before any POST.
const WEBHOOK: &str = "http://127.0.0.1:9/hook";

#[test]
fn code_0_success() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, stderr) = code_and_stderr(record_demo(&tmp.path().join("out"), &[]));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn code_1_nothing_found() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_eq!(code_and_stderr(record_demo(&out, &[])).0, Some(0));
    let mut c = rtprec();
    c.args(["assets", "url", "0123456789abcdef"]).arg(&out);
    let (code, stderr) = code_and_stderr(c);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no asset 0123456789abcdef"), "{stderr}");
}

/// Whatever the user typed wrong is 2, whether clap or rtprec's own checks find it.
#[test]
fn code_2_usage_errors_typed_on_the_command_line_or_in_a_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // A malformed --webhook URL (the URL is not echoed: it may hold a token).
    for url in ["ftp://127.0.0.1/x?token=hunter2", "not a url"] {
        let (code, stderr) = code_and_stderr(record_demo(&out, &["--webhook", url]));
        assert_eq!(code, Some(2), "{url}: {stderr}");
        assert!(stderr.contains("invalid webhook URL"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    // An --events typo (clap's value parser).
    let (code, stderr) = code_and_stderr(record_demo(&out, &["--events", "non"]));
    assert_eq!(code, Some(2), "{stderr}");
    // An invalid secret value in RTPREC_WEBHOOK_SECRET: a setting, like an option's value.
    let mut c = record_demo(&out, &["--webhook", WEBHOOK]);
    c.env("RTPREC_WEBHOOK_SECRET", "whsec_not*base64*hunter2");
    let (code, stderr) = code_and_stderr(c);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("RTPREC_WEBHOOK_SECRET"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    // --srtp-keys-env naming a variable that is not set.
    let mut c = record_demo(&out, &["--srtp-keys-env", "RTPREC_TEST_NO_SUCH_VAR"]);
    c.env_remove("RTPREC_TEST_NO_SUCH_VAR");
    let (code, stderr) = code_and_stderr(c);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("RTPREC_TEST_NO_SUCH_VAR"), "{stderr}");
    // Nothing was recorded by any of them.
    assert!(!out.join("manifest.json").exists());
}

#[test]
fn code_2_signed_url_without_a_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_eq!(code_and_stderr(record_demo(&out, &[])).0, Some(0));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let id = manifest["assets"][0]["id"].as_str().unwrap().to_string();
    for value in [None, Some("")] {
        let mut c = rtprec();
        c.args(["assets", "url", &id])
            .arg(&out)
            .args(["--base-url", "https://cdn.example/rec"]);
        match value {
            Some(v) => c.env("RTPREC_URL_SECRET", v),
            None => c.env_remove("RTPREC_URL_SECRET"),
        };
        let (code, stderr) = code_and_stderr(c);
        assert_eq!(code, Some(2), "{value:?}: {stderr}");
        assert!(stderr.contains("RTPREC_URL_SECRET"), "{stderr}");
    }
}

/// A secret file is an input like the others: unreadable, empty or not a secret is 3.
#[test]
fn code_3_webhook_secret_file_unreadable_empty_or_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let missing = tmp.path().join("no-such-secret");
    let empty = tmp.path().join("empty-secret");
    std::fs::write(&empty, "\n").unwrap();
    let invalid = tmp.path().join("invalid-secret");
    std::fs::write(&invalid, "whsec_not*base64*hunter2\n").unwrap();
    for (file, says) in [
        (&missing, "cannot read webhook secret file"),
        (&empty, "is empty"),
        (&invalid, "expected whsec_"),
    ] {
        let f = file.to_str().unwrap();
        let (code, stderr) = code_and_stderr(record_demo(
            &out,
            &["--webhook", WEBHOOK, "--webhook-secret-file", f],
        ));
        assert_eq!(code, Some(3), "{f}: {stderr}");
        assert!(stderr.contains(f) && stderr.contains(says), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    // The same rules for replay.
    let spool = tmp.path().join("spool.jsonl");
    std::fs::write(&spool, "").unwrap();
    let mut c = rtprec();
    c.args(["events", "replay"])
        .arg(&spool)
        .args(["--webhook", WEBHOOK, "--webhook-secret-file"])
        .arg(&empty);
    assert_eq!(code_and_stderr(c).0, Some(3));
}

#[test]
fn code_3_url_secret_file_unreadable_or_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_eq!(code_and_stderr(record_demo(&out, &[])).0, Some(0));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let id = manifest["assets"][0]["id"].as_str().unwrap().to_string();
    let empty = tmp.path().join("empty");
    std::fs::write(&empty, " \n").unwrap();
    for file in [tmp.path().join("missing"), empty] {
        let mut c = rtprec();
        c.args(["assets", "url", &id])
            .arg(&out)
            .args(["--base-url", "https://cdn.example/rec", "--secret-file"])
            .arg(&file)
            .env("RTPREC_URL_SECRET", "not-used");
        let (code, stderr) = code_and_stderr(c);
        assert_eq!(code, Some(3), "{}: {stderr}", file.display());
        assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
    }
}

#[test]
fn code_3_key_log_missing_or_malformed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let missing = tmp.path().join("no-such-keylog.txt");
    let bad = tmp.path().join("bad-keylog.txt");
    std::fs::write(&bad, format!("CLIENT_RANDOM {}\n", "01".repeat(32))).unwrap();
    for file in [&missing, &bad] {
        let f = file.to_str().unwrap();
        let (code, stderr) = code_and_stderr(record_demo(&out, &["--keylog", f]));
        assert_eq!(code, Some(3), "record {f}: {stderr}");
        assert!(stderr.contains(f), "{stderr}");
        let mut c = rtprec();
        c.arg("streams")
            .arg(testdata("media-opus-vp8.pcap"))
            .args(["--keylog", f])
            .env_remove("RTPREC_KEYLOG");
        let (code, stderr) = code_and_stderr(c);
        assert_eq!(code, Some(3), "streams {f}: {stderr}");
    }
    assert!(!out.join("manifest.json").exists());
}

/// An output directory that cannot be created: its parent is a regular file,
/// which stops root too (permission bits would not).
#[test]
fn code_7_output_directory_cannot_be_created() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("somefile");
    std::fs::write(&file, "").unwrap();
    let (code, stderr) = code_and_stderr(record_demo(&file.join("out"), &[]));
    assert_eq!(code, Some(7), "{stderr}");
    assert!(stderr.contains("somefile/out"), "{stderr}");
    // The output directory from RTPREC_OUT is the same case.
    let mut c = rtprec();
    c.args(["-q", "record"])
        .arg(testdata("media-opus-vp8.pcap"))
        .args(["--events", "none"])
        .env("RTPREC_OUT", file.join("out"));
    assert_eq!(code_and_stderr(c).0, Some(7));
}

#[test]
fn code_7_events_file_or_expectation_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("somefile");
    std::fs::write(&file, "").unwrap();
    let out = tmp.path().join("out");
    let events = file.join("events.jsonl");
    let (code, stderr) =
        code_and_stderr(record_demo(&out, &["--events", events.to_str().unwrap()]));
    assert_eq!(code, Some(7), "{stderr}");
    assert!(stderr.contains("events.jsonl"), "{stderr}");
    // verify --update cannot write the expectation.
    assert_eq!(code_and_stderr(record_demo(&out, &[])).0, Some(0));
    let mut c = rtprec();
    c.args(["-q", "verify"])
        .arg(&out)
        .arg("--expected")
        .arg(file.join("expected.json"))
        .arg("--update");
    let (code, stderr) = code_and_stderr(c);
    assert_eq!(code, Some(7), "{stderr}");
}

/// A full disk: /dev/full refuses every write with ENOSPC.
#[test]
fn code_7_standard_output_is_full() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        assert!(!in_ci(), "/dev/full is missing");
        return;
    };
    let mut c = rtprec();
    c.arg("streams")
        .arg(testdata("media-opus-vp8.pcap"))
        .arg("--json")
        .env_remove("RTPREC_KEYLOG")
        .stdout(Stdio::from(full));
    let (code, stderr) = code_and_stderr(c);
    assert_eq!(code, Some(7), "{stderr}");
    assert!(stderr.contains("writing output"), "{stderr}");
}

/// The README's exit status table says what `ExitCode::ALL` (and so the man page) says.
#[test]
fn readme_exit_status_table_matches_the_codes() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Exit status\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an Exit status section");
    let rows: Vec<(String, String)> = section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .strip_prefix("| ")?
                .strip_suffix(" |")?
                .split(" | ")
                .collect();
            let [code, meaning] = cells[..] else {
                return None;
            };
            code.parse::<u8>()
                .ok()
                .map(|_| (code.to_string(), meaning.to_string()))
        })
        .collect();
    let want: Vec<(String, String)> = rtprec::cli::exit::ExitCode::ALL
        .iter()
        .map(|(c, m)| (c.code().to_string(), m.to_string()))
        .collect();
    assert_eq!(rows, want);
}
