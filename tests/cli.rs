//! Command-line behaviour shared by all commands: man page, usage, exit codes.

use crate::util::*;

#[test]
fn man_page_is_generated_from_the_clap_definitions() {
    let pages = rtprec::cli::man::render_all().expect("man pages render");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for (name, rendered) in &pages {
        let path = dir.join(name);
        if std::env::var_os("RTPREC_UPDATE_MAN").is_some() {
            std::fs::write(&path, rendered).expect("man page is writable");
        }
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == *rendered,
            "man/{name} is stale: run `RTPREC_UPDATE_MAN=1 cargo test man_page` and commit it"
        );
    }
    // Every page another page refers to (`rtprec-record(1)`) exists, and no stale page lingers.
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    for (name, page) in &pages {
        let text = String::from_utf8_lossy(page);
        for (i, _) in text.match_indices("rtprec-") {
            let rest = &text[i..];
            let end = rest.find("(1)").unwrap_or(0);
            let reference = &rest[..end];
            if end > 0
                && reference
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                let file = format!("{reference}.1");
                assert!(
                    names.contains(&file.as_str()),
                    "{name} refers to {reference}(1)"
                );
            }
        }
    }
    for entry in std::fs::read_dir(&dir).expect("man/ exists").flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        assert!(
            names.contains(&file.as_str()),
            "man/{file} is not generated any more"
        );
    }
    assert!(names.contains(&"rtprec-record.1") && names.contains(&"rtprec-events-replay.1"));
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
