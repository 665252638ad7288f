//! `rtprec` for a person at a terminal (issue #14): `record` prints a table
//! of the tracks instead of events, the spinner never shares a line, shell
//! completions, and options that cannot swallow the capture or a typo.

use crate::util::{have_tool, rtprec, testdata};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `s` as one word for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs `rtprec ARGS` in `dir` on a pseudo-terminal (util-linux `script`),
/// with `redirect` appended to the shell command (e.g. `2>err.txt`): the exit
/// code and what the terminal received, `\r\n` made `\n`. None when `script`
/// is missing outside CI. Killed after a minute, so a hang fails instead of
/// blocking the suite.
fn on_terminal(dir: &Path, args: &[&str], redirect: &str) -> Option<(Option<i32>, String)> {
    if !have_tool("script") {
        return None;
    }
    let mut line = sh_quote(env!("CARGO_BIN_EXE_rtprec"));
    for a in args {
        line.push(' ');
        line.push_str(&sh_quote(a));
    }
    line.push(' ');
    line.push_str(redirect);
    let log = dir.join("script-output.txt");
    // `-e`: script exits with rtprec's code; `-q`: no "Script started" lines.
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line])
        .arg(&log)
        .current_dir(dir)
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("script runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for script") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{line}` on a pseudo-terminal did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let raw = std::fs::read(&log).expect("script wrote its log");
    std::fs::remove_file(&log).expect("removing the script log");
    let text = String::from_utf8_lossy(&raw).replace("\r\n", "\n");
    // The log file also holds script's own header and footer lines (even with -q).
    let text = text
        .lines()
        .filter(|l| !l.starts_with("Script started") && !l.starts_with("Script done"))
        .collect::<Vec<_>>()
        .join("\n");
    Some((status.code(), text))
}

/// What a terminal shows on each line: the text after the last carriage return, without escape sequences.
fn screen_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let shown = l.rsplit('\r').next().unwrap_or(l);
            let mut out = String::new();
            let mut chars = shown.chars();
            while let Some(c) = chars.next() {
                if c == '\u{1b}' {
                    // CSI: ESC [ parameters, then one final letter.
                    if chars.next() == Some('[') {
                        for c in chars.by_ref() {
                            if c.is_ascii_alphabetic() {
                                break;
                            }
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect()
}

fn testdata_str(name: &str) -> String {
    testdata(name).to_str().expect("UTF-8 path").to_string()
}

/// See: issue #14. On a terminal: the table, with the degraded track marked
/// and its path relative to the current directory, and no event line.
#[test]
fn record_on_a_terminal_prints_a_table_with_degraded_tracks() {
    let dir = tempfile::tempdir().unwrap();
    let cap = testdata_str("media-h264-impaired.pcap");
    let Some((code, screen)) = on_terminal(dir.path(), &["record", &cap, "-o", "out"], "2>err.txt")
    else {
        return;
    };
    let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap();
    assert_eq!(code, Some(0), "{screen}\n{err}");
    let lines = screen_lines(&screen);
    assert!(
        lines.iter().all(|l| !l.trim_start().starts_with('{')),
        "no event lines on a terminal:\n{screen}"
    );
    let head = lines
        .iter()
        .find(|l| l.starts_with("SESSION"))
        .unwrap_or_else(|| panic!("a table header:\n{screen}"));
    for col in [
        "PEER",
        "TRACK",
        "KIND",
        "CODEC",
        "LOST/RECOV",
        "STATUS",
        "PATH",
    ] {
        assert!(head.contains(col), "{head}");
    }
    let row = lines
        .iter()
        .find(|l| l.contains("video-d64053c9"))
        .unwrap_or_else(|| panic!("the video row:\n{screen}"));
    assert!(
        row.contains("degraded: 1.3 s of 4.0 s video lost waiting for a keyframe"),
        "{row}"
    );
    assert!(row.contains("3 packets lost"), "{row}");
    assert!(row.contains(" h264 "), "{row}");
    assert!(
        row.ends_with("  out/capture/s20261123T100000Z/10.0.0.10-50000/video-d64053c9.mp4"),
        "path relative to the current directory: {row}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "1 track(s): 0 ok, 1 degraded, 0 failed, 0 skipped"),
        "{screen}"
    );
    // The table replaces the per-track lines; the manifest's place is still said.
    assert!(!err.contains("rtprec: recorded"), "{err}");
    assert!(err.contains("rtprec: wrote out/manifest.json"), "{err}");
}

/// Clean tracks read `ok`, failed ones give their error code and no path;
/// events sent to a file leave standard output to the table.
#[test]
fn record_table_says_ok_and_failed() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &str, &str); 2] = [
        (
            "media-opus-vp8.pcap",
            &["--events", "events.jsonl"],
            "2 track(s): 2 ok, 0 degraded, 0 failed, 0 skipped",
            "ok",
        ),
        (
            "srtp-vp8.pcap",
            &[],
            "1 track(s): 0 ok, 0 degraded, 1 failed, 0 skipped",
            "failed: unknown-codec  -",
        ),
    ];
    for (i, (cap, extra, summary, status)) in cases.into_iter().enumerate() {
        let out = format!("out{i}");
        let cap = testdata_str(cap);
        let mut args = vec!["record", &cap, "-o", &out];
        args.extend(extra);
        let Some((_, screen)) = on_terminal(dir.path(), &args, "2>/dev/null") else {
            return;
        };
        let lines = screen_lines(&screen);
        assert!(lines.iter().any(|l| l == summary), "{cap}:\n{screen}");
        let rows: Vec<_> = lines
            .iter()
            .filter(|l| l.starts_with('s') && !l.starts_with("SESSION"))
            .collect();
        assert!(!rows.is_empty(), "{cap}:\n{screen}");
        for r in rows {
            assert!(r.contains(&format!("  {status}")), "{cap}: {r}");
        }
    }
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert_eq!(events.lines().count(), 4, "{events}");
}

/// See: issue #14. `--events -` on a terminal: event lines, each on a line of
/// its own even with the spinner on the same screen, and no table.
#[test]
fn events_dash_on_a_terminal_start_on_their_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let cap = testdata_str("media-opus-vp8.pcap");
    let Some((code, screen)) = on_terminal(
        dir.path(),
        &["record", &cap, "-o", "out", "--events", "-"],
        "",
    ) else {
        return;
    };
    assert_eq!(code, Some(0), "{screen}");
    let lines = screen_lines(&screen);
    let events: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("\"type\":\"track.recording"))
        .collect();
    assert_eq!(events.len(), 4, "{screen}");
    for e in events {
        assert!(e.starts_with('{'), "an event shares its line: {e:?}");
        let v: serde_json::Value = serde_json::from_str(e).expect("one event per line");
        assert_eq!(v["version"], 1);
    }
    assert!(!lines.iter().any(|l| l.starts_with("SESSION")), "{screen}");
}

/// Piped, stdout gets the events as before (scripts and `jq` see no change), and no table.
#[test]
fn record_piped_prints_events_not_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = rtprec()
        .args(["record", &testdata_str("media-h264-impaired.pcap"), "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for l in stdout.lines() {
        serde_json::from_str::<serde_json::Value>(l).expect("an event line");
    }
    // Degraded tracks stand out on stderr too.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("; degraded: 1.3 s of 4.0 s video lost waiting for a keyframe"),
        "{stderr}"
    );
}

/// See: issue #14. `rtprec completions SHELL` for every shell clap_complete knows.
#[test]
fn completions_for_each_shell() {
    let out = rtprec().args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let bash = String::from_utf8(out.stdout).unwrap();
    assert!(bash.contains("_rtprec()"), "{bash}");
    for sub in [
        "record",
        "streams",
        "events",
        "replay",
        "assets",
        "completions",
    ] {
        assert!(bash.contains(sub), "bash completion knows `{sub}`");
    }
    assert!(bash.contains("--events"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = rtprec().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("record") && text.contains("--sdp"), "{shell}");
    }
    let out = rtprec().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// See: issue #14. `record --help` names every codec and its container.
#[test]
fn record_help_lists_every_codec() {
    let out = rtprec().args(["record", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for codec in [
        "Opus to Ogg Opus",
        "VP8, VP9 and AV1 to WebM",
        "H.264 and H.265 to MP4",
        "G.711, G.722 and L16 to 16-bit PCM WAV",
    ] {
        assert!(flat.contains(codec), "{codec}: {help}");
    }
}

/// See: issue #14. `--sdp FILE` before the capture takes one file, not the
/// capture too; each --sdp adds one.
#[test]
fn sdp_before_the_capture_does_not_swallow_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = rtprec()
        .arg("record")
        .arg("--sdp")
        .arg(testdata("sdp/turn-sdes-offer.sdp"))
        .arg("--sdp")
        .arg(testdata("sdp/turn-sdes-answer.sdp"))
        .arg(testdata("media-opus-vp8.pcap"))
        .arg("-o")
        .arg(dir.path())
        .args(["--events", "none", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("required arguments"), "{stderr}");
    // The SDPs name tracks this capture does not have: they fail as no-media (exit 4).
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["identification"], "sdp");
    assert_eq!(m["inputs"].as_array().unwrap().len(), 1, "{m:#}");
    let peers: Vec<_> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["peer_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(peers, ["turn-sdes-answer", "turn-sdes-offer"], "{m:#}");

    let out = rtprec()
        .args([
            "record",
            "--only-role",
            "host",
            "x.pcap",
            "--only-role",
            "a,b",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("required arguments"), "{stderr}");
    assert_ne!(out.status.code(), Some(2), "{stderr}");
}

/// See: issue #14. `--events` values that look like a slip for `none` or `-`
/// are refused with the fix; real paths (`./none`) still are files.
#[test]
fn events_typos_are_refused_paths_are_not() {
    for (typo, suggestion) in [
        ("--events=non", "`none`"),
        ("--events=None", "`none`"),
        ("--events=--", "`-`"),
    ] {
        let out = rtprec().args(["record", "x.pcap", typo]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{typo}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("did you mean {suggestion}")),
            "{typo}: {stderr}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = rtprec()
        .current_dir(dir.path())
        .args(["record", &testdata_str("media-opus-vp8.pcap"), "-o", "out"])
        .args(["--events", "./none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let events = std::fs::read_to_string(dir.path().join("none")).unwrap();
    assert_eq!(events.lines().count(), 4, "{events}");
}
