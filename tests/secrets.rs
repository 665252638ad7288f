//! pcapng Decryption Secrets Blocks as Wireshark's tools write them.

use crate::util::{have_tool, json, run, testdata};
use rtprec::capture::{CaptureItem, CaptureSet, SecretsKind};
use std::process::Command;

/// `editcap --inject-secrets tls,KEYLOG` output: the key log comes out first,
/// byte for byte, then every frame; `streams` reads the file as before.
#[test]
fn editcap_injected_tls_key_logs_are_surfaced() {
    if !have_tool("editcap") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ng, keys, out) = (
        tmp.path().join("in.pcapng"),
        tmp.path().join("keys.txt"),
        tmp.path().join("out.pcapng"),
    );
    // An odd length, so that the block is padded.
    let keylog = format!("CLIENT_RANDOM {} {}\n", "01".repeat(32), "ab".repeat(48));
    std::fs::write(&keys, &keylog).expect("write");
    let editcap = |args: &[&std::ffi::OsStr]| {
        let o = Command::new("editcap")
            .args(args)
            .output()
            .expect("editcap runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let pcap = testdata("media-opus-vp8.pcap");
    editcap(&[
        "-F".as_ref(),
        "pcapng".as_ref(),
        pcap.as_os_str(),
        ng.as_os_str(),
    ]);
    let secrets = format!("tls,{}", keys.display());
    editcap(&[
        "--inject-secrets".as_ref(),
        secrets.as_ref(),
        ng.as_os_str(),
        out.as_os_str(),
    ]);

    let mut set = CaptureSet::open(std::slice::from_ref(&out)).expect("opens");
    let mut items = Vec::new();
    while let Some(item) = set.next_item().expect("reads") {
        items.push(match item {
            CaptureItem::Secrets(s) => Some((s.kind, s.data)),
            CaptureItem::Frame(_) => None,
        });
    }
    assert_eq!(items.len(), 1 + 355);
    assert_eq!(
        items[0],
        Some((SecretsKind::TlsKeyLog, keylog.into_bytes())),
        "the secrets come before the first frame"
    );
    assert!(items[1..].iter().all(Option::is_none));

    let o = run(&["streams", out.to_str().expect("utf-8"), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&o)["frames"], 355);
}
