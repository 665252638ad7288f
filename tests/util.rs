//! Integration-test harness: run the binary, find shared captures, require tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// True when running in CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The binary under test.
pub fn rtprec() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rtprec"));
    c.stdin(Stdio::null());
    c
}

/// Runs rtprec with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    rtprec()
        .args(args)
        .output()
        .expect("the rtprec binary runs")
}

/// A file in this repository's testdata/.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// The shared captures folder, or None (with a printed reason) when it is absent outside CI.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(!in_ci(), "CI is set but {} is missing", dir.display());
    eprintln!(
        "skipped: {} is absent (tests on shared captures need it)",
        dir.display()
    );
    None
}

/// A shared capture by name, or None when the shared folder is absent outside CI.
pub fn shared(name: &str) -> Option<PathBuf> {
    let p = shared_dir()?.join(name);
    assert!(
        p.is_file(),
        "{} is missing from the shared captures",
        p.display()
    );
    Some(p)
}

/// True when `tool` runs; outside CI a missing tool skips with a printed reason, in CI it fails.
pub fn have_tool(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            !in_ci(),
            "CI is set but `{tool}` is not installed (.ci/run installs it)"
        );
        eprintln!("skipped: `{tool}` is not installed");
    }
    ok
}

/// Parses stdout as JSON, failing the test with stderr when it is not.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); status {:?}; stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
