//! Command-line behaviour shared by all commands: man page, usage, exit codes.

use crate::util::*;

#[test]
fn man_page_is_generated_from_the_clap_definitions() {
    let rendered = rtprec::cli::man::render().expect("man page renders");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/rtprec.1");
    if std::env::var_os("RTPREC_UPDATE_MAN").is_some() {
        std::fs::write(&path, &rendered).expect("man page is writable");
    }
    let on_disk = std::fs::read(&path).unwrap_or_default();
    assert!(
        on_disk == rendered,
        "man/rtprec.1 is stale: run `RTPREC_UPDATE_MAN=1 cargo test man_page` and commit it"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&["streams"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["streams", "-", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only once"));
}

#[test]
fn version_and_help_work() {
    assert!(run(&["--version"]).status.success());
    let help = run(&["streams", "--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--json"));
}
