//! Recording events at a real HTTP receiver on loopback: order, Standard
//! Webhooks signatures (checked by the independent `standardwebhooks` crate),
//! retries, the spool when the receiver is down or never answers, standard
//! error when the spool cannot be written, and `rtprec events replay`.

use crate::util::*;
use rtprec::events::fixtures;
use rtprec::events::sink::{Delivery, DeliveryReport, Sink};
use rtprec::events::webhook::{Secret, WebhookConfig, WebhookSink};
use rtprec::events::{Event, EventType};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fixed test key in the Standard Webhooks form (not a real secret).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn config(url: &str, spool: PathBuf) -> WebhookConfig {
    let mut c = WebhookConfig::new(url, spool);
    c.secret = Some(Secret::parse(SECRET, "test").unwrap());
    c.timeout = Duration::from_secs(5);
    c.connect_timeout = Duration::from_secs(5);
    // Tiny delays: the retry tests count attempts, they do not wait for real backoff.
    c.retry.backoff = Duration::from_millis(1);
    c.retry.max_backoff = Duration::from_millis(10);
    c
}

/// Emits the fixture events to `url`, finishes, and returns the report and each
/// event's fate (delivered, or what its notice says), checking the invariant.
fn emit_all(cfg: WebhookConfig) -> (DeliveryReport, Vec<Delivery>) {
    let mut sink = Sink::Webhook(Box::new(WebhookSink::new(cfg).unwrap()));
    let evs = fixtures::events();
    let mut fates: Vec<Delivery> = evs.iter().map(|e| sink.emit(e).unwrap()).collect();
    let r = sink.finish().unwrap();
    assert!(
        r.balanced(),
        "emitted = delivered + spooled + stderr: {r:?}"
    );
    for n in sink.take_notices() {
        let i = evs.iter().position(|e| e.id == n.id).unwrap();
        fates[i] = n.delivery;
    }
    // A queued event without a notice was delivered.
    for d in &mut fates {
        if *d == Delivery::Queued {
            *d = Delivery::Delivered;
        }
    }
    (r, fates)
}

/// Checks that `got` is exactly the fixture events, in order, signed and verifiable.
fn assert_delivered_in_order(got: &[Received]) {
    let evs = fixtures::events();
    assert_eq!(got.len(), evs.len());
    let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (r, e) in got.iter().zip(&evs) {
        assert_eq!(r.body, e.to_json().into_bytes());
        assert_eq!(r.header("webhook-id"), e.id);
        assert_eq!(r.header("content-type"), "application/json");
        // Sent with the wall clock, so verifiers' tolerance window accepts it...
        let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
        assert!(
            (ts - now).abs() < 300,
            "webhook-timestamp {ts} vs now {now}"
        );
        // ...while the envelope keeps the capture time.
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(
            v["timestamp"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-23T10:")
        );
        assert!(r.header("webhook-signature").starts_with("v1,"));
        verifier
            .verify(&r.body, &r.header_map())
            .unwrap_or_else(|err| panic!("signature of {} does not verify: {err:?}", e.id));
    }
}

#[test]
fn webhook_events_arrive_in_order_signed_and_verifiable() {
    let rx = Receiver::start(|_| (204, vec![]));
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("events.spool.jsonl");
    let (r, ds) = emit_all(config(&rx.url, spool.clone()));
    assert_eq!((r.emitted, r.delivered, r.spooled), (4, 4, 0));
    assert!(ds.iter().all(|d| *d == Delivery::Delivered));
    assert_delivered_in_order(&rx.requests());
    assert!(!spool.exists(), "nothing spooled, no spool file");
    // A tampered body fails the independent verifier: it really checks something.
    let mut bad = rx.requests()[0].clone();
    bad.body[0] = b' ';
    let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
    assert!(verifier.verify(&bad.body, &bad.header_map()).is_err());
}

#[test]
fn retries_after_503_and_honours_retry_after_zero() {
    // The first event meets two 503s with Retry-After: 0, then everything is accepted.
    let rx = Receiver::start(|n| {
        if n < 2 {
            (503, vec![("Retry-After", "0")])
        } else {
            (200, vec![])
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&rx.url, dir.path().join("spool"));
    // Were Retry-After ignored, two backoffs of 3 s would show in the elapsed time.
    cfg.retry.backoff = Duration::from_secs(3);
    cfg.retry.max_backoff = Duration::from_secs(3);
    let t = Instant::now();
    let (r, _) = emit_all(cfg);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!((r.emitted, r.delivered, r.spooled), (4, 4, 0));
    let got = rx.requests();
    assert_eq!(
        got.len(),
        6,
        "3 attempts for the first event, 1 for each other"
    );
    let first = fixtures::events()[0].id.clone();
    assert!(got[..3].iter().all(|g| g.header("webhook-id") == first));
    assert_delivered_in_order(&got[2..]);
}

#[test]
fn no_retry_after_400_and_rejected_events_are_spooled() {
    let rx = Receiver::start(|n| (if n == 1 { 400 } else { 204 }, vec![]));
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let (r, ds) = emit_all(config(&rx.url, spool.clone()));
    assert_eq!(rx.requests().len(), 4, "one attempt per event");
    assert_eq!((r.emitted, r.delivered, r.spooled), (4, 3, 1));
    assert_eq!(
        ds[1],
        Delivery::Spooled {
            reason: "HTTP 400 (not retried)".into()
        }
    );
    let evs = fixtures::events();
    assert_eq!(
        std::fs::read_to_string(&spool).unwrap(),
        evs[1].to_json() + "\n"
    );
}

fn write_secret(dir: &Path) -> PathBuf {
    let p = dir.join("secret");
    std::fs::write(&p, format!("{SECRET}\n")).unwrap();
    p
}

/// The binary, reaching loopback directly whatever proxy the environment names, with no secret.
fn rtprec_direct() -> std::process::Command {
    let mut c = rtprec();
    for v in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        c.env_remove(v);
    }
    c.env_remove("RTPREC_WEBHOOK_SECRET");
    c
}

fn replay_cmd(spool: &Path, url: &str, extra: &[&str]) -> std::process::Command {
    let mut c = rtprec_direct();
    c.args(["events", "replay"])
        .arg(spool)
        .args([
            "--webhook",
            url,
            "--backoff-ms",
            "1",
            "--timeout-ms",
            "5000",
        ])
        .args(extra);
    c
}

/// A loopback TCP listener that accepts connections and never answers, holding
/// them open until stopped (or a minute passed, so a failing test never hangs).
struct Silent {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Silent {
    fn start() -> Silent {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !s.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => held.push(conn),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            held.len()
        });
        Silent {
            url,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops listening; the number of connections accepted.
    fn stop(mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn receiver_down_spools_everything_then_replay_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("events.spool.jsonl");
    let mut cfg = config(&dead_url(), spool.clone());
    cfg.retry.retries = 2;
    let (r, ds) = emit_all(cfg);
    assert_eq!((r.emitted, r.delivered, r.spooled), (4, 0, 4));
    // The first event used up its attempts; the rest went straight to the spool.
    let Delivery::Spooled { reason } = &ds[0] else {
        panic!("{ds:?}")
    };
    assert!(reason.ends_with("after 3 attempts"), "{reason}");
    let Delivery::Spooled { reason } = &ds[3] else {
        panic!("{ds:?}")
    };
    assert!(
        reason.starts_with("not sent: the receiver is down"),
        "{reason}"
    );
    let evs = fixtures::events();
    let want: String = evs.iter().map(|e| e.to_json() + "\n").collect();
    assert_eq!(std::fs::read_to_string(&spool).unwrap(), want);

    let rx = Receiver::start(|_| (200, vec![]));
    let secret = write_secret(dir.path());
    let out = replay_cmd(&spool, &rx.url, &["--webhook-secret-file"])
        .arg(&secret)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("4 replayed, 4 delivered"), "{stderr}");
    assert!(
        !stderr.contains(SECRET) && !stderr.contains("MfKQ9r8G"),
        "{stderr}"
    );
    assert_delivered_in_order(&rx.requests());
    assert!(!spool.exists(), "a fully delivered spool is removed");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("replay"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn replay_keeps_what_is_still_undeliverable_and_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool.jsonl");
    let evs = fixtures::events();
    let text: String = evs.iter().map(|e| e.to_json() + "\n").collect();
    std::fs::write(&spool, &text).unwrap();
    // The third event is rejected (not retried); the others are accepted.
    let rx = Receiver::start(|n| (if n == 2 { 422 } else { 202 }, vec![]));
    let out = replay_cmd(&spool, &rx.url, &[])
        .env("RTPREC_WEBHOOK_SECRET", SECRET)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "event {} (line 3) not delivered: HTTP 422",
            evs[2].id
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("4 replayed, 3 delivered, 1 still spooled"),
        "{stderr}"
    );
    assert_eq!(rx.requests().len(), 4);
    // Signed with the secret from the environment.
    let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
    for r in rx.requests() {
        verifier.verify(&r.body, &r.header_map()).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&spool).unwrap(),
        evs[2].to_json() + "\n"
    );
}

#[test]
fn replay_to_a_dead_receiver_keeps_the_spool_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool.jsonl");
    let text: String = fixtures::events()
        .iter()
        .map(|e| e.to_json() + "\n")
        .collect();
    std::fs::write(&spool, &text).unwrap();
    let out = replay_cmd(&spool, &dead_url(), &["--retries", "1", "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    // --quiet hides the per-event warnings, never the summary of what is still spooled.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("4 still spooled"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&spool).unwrap(), text);
}

#[test]
fn malformed_spool_line_is_named_and_nothing_is_sent() {
    let rx = Receiver::start(|_| (200, vec![]));
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool.jsonl");
    let text = format!(
        "{}\n{{\"version\":1,\"id\":\n",
        fixtures::events()[0].to_json()
    );
    std::fs::write(&spool, &text).unwrap();
    let out = replay_cmd(&spool, &rx.url, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2: not an event envelope", spool.display())),
        "{stderr}"
    );
    assert!(rx.requests().is_empty());
    assert_eq!(std::fs::read_to_string(&spool).unwrap(), text);
}

#[test]
fn replay_input_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let out = replay_cmd(&missing, "http://127.0.0.1:9/", &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read spool"));

    let spool = dir.path().join("spool.jsonl");
    std::fs::write(&spool, fixtures::events()[0].to_json() + "\n").unwrap();
    let out = replay_cmd(&spool, "ftp://127.0.0.1/x?token=hunter2", &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    // A malformed secret in the variable is a usage error (a setting the user
    // made, as an option's value is) that never echoes the secret.
    let out = replay_cmd(&spool, "http://127.0.0.1:9/", &[])
        .env("RTPREC_WEBHOOK_SECRET", "whsec_not*base64*hunter2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("RTPREC_WEBHOOK_SECRET"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(spool.exists());
}

#[test]
fn event_ids_and_bytes_are_stable_across_runs() {
    // Two independent deliveries of the same input: identical ids and bodies.
    let runs: Vec<Vec<Received>> = (0..2)
        .map(|_| {
            let rx = Receiver::start(|_| (204, vec![]));
            let dir = tempfile::tempdir().unwrap();
            emit_all(config(&rx.url, dir.path().join("spool")));
            rx.requests()
        })
        .collect();
    let key = |rs: &[Received]| -> Vec<(String, Vec<u8>)> {
        rs.iter()
            .map(|r| (r.header("webhook-id").to_string(), r.body.clone()))
            .collect()
    };
    assert_eq!(key(&runs[0]), key(&runs[1]));
    let types: Vec<EventType> = runs[0]
        .iter()
        .map(|r| serde_json::from_slice::<Event>(&r.body).unwrap().event_type)
        .collect();
    assert_eq!(
        types,
        [
            EventType::Started,
            EventType::Started,
            EventType::Success,
            EventType::Failure
        ]
    );
}

#[test]
fn a_receiver_that_never_answers_times_out_and_is_retried() {
    let rx = Silent::start();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let mut cfg = config(&rx.url, spool.clone());
    cfg.timeout = Duration::from_millis(200);
    cfg.retry.retries = 1;
    let mut sink = WebhookSink::new(cfg).unwrap();
    let ev = &fixtures::events()[0];
    let t = Instant::now();
    // Queued for the delivery thread: emit does not wait for the receiver.
    assert_eq!(sink.emit(ev), Delivery::Queued);
    assert!(
        t.elapsed() < Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    let r = sink.finish();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!((r.emitted, r.delivered, r.spooled), (1, 0, 1));
    let notices = sink.take_notices();
    let Delivery::Spooled { reason } = &notices[0].delivery else {
        panic!("{notices:?}")
    };
    assert!(
        reason.contains("timed out") && reason.contains("after 2 attempts"),
        "{reason}"
    );
    assert_eq!(rx.stop(), 2);
    assert_eq!(
        std::fs::read_to_string(&spool).unwrap(),
        ev.to_json() + "\n"
    );
}

/// `rtprec record` of the two-peer demo capture, events appended to `events`, with `args`.
fn record_demo(events: &Path, out_dir: &Path, args: &[&str]) -> std::process::Output {
    rtprec_direct()
        .arg("record")
        .arg(testdata("demo-2peers-opus-vp8.pcap"))
        .arg("--events")
        .arg(events)
        .arg("-o")
        .arg(out_dir)
        .args(args)
        .output()
        .unwrap()
}

/// The case: a receiver that accepts and never answers made a 5 s
/// recording take a minute. Now reading never waits for it, and the circuit
/// breaker gives up after two slow attempts: about two timeouts in all.
#[test]
fn record_against_a_receiver_that_never_answers_ends_in_bounded_time() {
    let rx = Silent::start();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let out_dir = dir.path().join("out");
    let timeout = Duration::from_millis(1000);
    let t = Instant::now();
    let out = record_demo(
        &events,
        &out_dir,
        &["--webhook", &rx.url, "--timeout-ms", "1000"],
    );
    let took = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Without the breaker: 5 attempts of 1 s and 7.5 s of backoff for the first event alone.
    assert!(
        took < 2 * timeout + Duration::from_secs(3),
        "{took:?}\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    let written = std::fs::read_to_string(&events).unwrap();
    assert_eq!(written.lines().count(), 8);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("events.spool.jsonl")).unwrap(),
        written,
        "every event spooled, in order, byte for byte"
    );
    assert!(stderr.contains("8 of 8 events spooled"), "{stderr}");
    assert!(stderr.contains("taken as down"), "{stderr}");
    assert_eq!(rx.stop(), 2, "two attempts in all, then the breaker");
}

/// A spool that cannot be written (here: under a regular file, which fails even
/// as root) loses nothing: each event goes to stderr as its exact JSON line, and
/// the run exits 6, even with --quiet.
#[test]
fn record_with_an_unwritable_spool_prints_the_events_to_stderr_and_exits_6() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let events = dir.path().join("events.jsonl");
    let spool = file.join("x.jsonl");
    let webhook = [
        "--webhook",
        &dead_url(),
        "--retries",
        "0",
        "--quiet",
        "--spool",
    ];
    let out = record_demo(
        &events,
        &dir.path().join("out"),
        &[&webhook[..], &[spool.to_str().unwrap()]].concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    let on_stderr: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
    let written = std::fs::read_to_string(&events).unwrap();
    assert_eq!(on_stderr, written.lines().collect::<Vec<_>>(), "{stderr}");
    assert!(
        stderr.contains("8 of 8 events could not be written to the spool"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Not a directory") || stderr.contains("os error 20"),
        "{stderr}"
    );
}

#[test]
fn the_secret_never_shows_in_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("http://127.0.0.1:9/", dir.path().join("spool"));
    let shown = format!("{cfg:?} {:?}", WebhookSink::new(cfg.clone()).unwrap());
    assert!(!shown.contains("MfKQ9r8G"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

/// Events of `rtprec record` on stdout: parsed NDJSON lines.
fn record_events(
    capture: &Path,
    extra: &[&str],
) -> (
    std::process::Output,
    Vec<serde_json::Value>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let out = rtprec()
        .arg("record")
        .arg(capture)
        .arg("-o")
        .arg(dir.path())
        .args(extra)
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not an NDJSON event ({e}): {l}"))
        })
        .collect();
    (out, events, dir)
}

#[test]
fn record_emits_one_started_and_one_terminal_event_per_track() {
    let meta = testdata("media-opus-vp8.session.json");
    let (out, events, dir) = record_events(
        &testdata("media-opus-vp8.pcap"),
        &["-m", meta.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["data"]["track_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("track.recording.started.success", "alice-mic"),
            ("track.recording.started.success", "alice-cam"),
            ("track.recording.success", "alice-cam"),
            ("track.recording.success", "alice-mic"),
        ]
    );
    // Terminal events carry what the manifest says; timestamps come from the capture.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    for e in &events[2..] {
        let a = manifest["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == e["data"]["asset_id"])
            .unwrap();
        assert_eq!(
            (&e["data"]["path"], &e["data"]["size"], &e["data"]["sha256"]),
            (&a["path"], &a["size"], &a["sha256"])
        );
        assert!(
            e["timestamp"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-23T10:00:0")
        );
    }
    // Same input, same events, byte for byte.
    let (_, again, _) = record_events(
        &testdata("media-opus-vp8.pcap"),
        &["-m", meta.to_str().unwrap()],
    );
    assert_eq!(events, again);
}

#[test]
fn a_failed_track_gets_exactly_one_failure_event_while_others_succeed() {
    let Some(cap) = shared("ndpi_rtp.pcapng") else {
        return;
    };
    let (out, events, _dir) = record_events(&cap, &[]);
    assert_eq!(out.status.code(), Some(4));
    let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
    assert_eq!(count("track.recording.started.success"), 6);
    assert_eq!(count("track.recording.success"), 2);
    assert_eq!(count("track.recording.failure"), 4);
    for e in events
        .iter()
        .filter(|e| e["type"] == "track.recording.failure")
    {
        let code = e["data"]["error"]["code"].as_str().unwrap();
        assert!(
            ["unsupported-codec", "unknown-codec"].contains(&code),
            "{e}"
        );
    }
}

#[test]
fn record_posts_signed_events_and_spools_when_the_receiver_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write_secret(dir.path());
    let rx = Receiver::start(|_| (200, vec![]));
    let out = rtprec()
        .args([
            "record",
            testdata("media-opus-vp8.pcap").to_str().unwrap(),
            "--events",
            "none",
            "-o",
        ])
        .arg(dir.path().join("a"))
        .args(["--webhook", &rx.url, "--webhook-secret-file"])
        .arg(&secret)
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = rx.requests();
    assert_eq!(got.len(), 4);
    let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
    for r in &got {
        verifier
            .verify(&r.body, &r.header_map())
            .expect("signature verifies");
    }
    // Receiver down: every event lands in the spool, exit code 5, and replay delivers them.
    let out_dir = dir.path().join("b");
    let out = rtprec()
        .args([
            "record",
            testdata("media-opus-vp8.pcap").to_str().unwrap(),
            "--events",
            "none",
            "-o",
        ])
        .arg(&out_dir)
        .args([
            "--webhook",
            &dead_url(),
            "--retries",
            "0",
            "--timeout-ms",
            "500",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spool = out_dir.join("events.spool.jsonl");
    assert_eq!(std::fs::read_to_string(&spool).unwrap().lines().count(), 4);
    let rx2 = Receiver::start(|_| (200, vec![]));
    let out = replay_cmd(&spool, &rx2.url, &[]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = rx2
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();
    let first: Vec<String> = got
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();
    assert_eq!(ids, first, "stable ids: the same events, in the same order");
}
