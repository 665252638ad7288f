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

/// Runs `rtprec record CAPTURE -o OUT ARGS... --events none --json`, expecting
/// exit 0; the output and the manifest it printed.
pub fn record_manifest_json(
    capture: &Path,
    out_dir: &Path,
    args: &[&std::ffi::OsStr],
) -> (Output, serde_json::Value) {
    let out = rtprec()
        .arg("record")
        .arg(capture)
        .arg("-o")
        .arg(out_dir)
        .args(args)
        .args(["--events", "none", "--json"])
        .output()
        .expect("the rtprec binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = json(&out);
    // Every manifest a test records this way is also held to the shipped schema.
    assert_valid_manifest(&manifest);
    assert_manifest_matches_disk(&manifest, out_dir);
    (out, manifest)
}

/// The invariants of every recording: asset ids, event ids and paths are
/// unique, and each completed asset's size and sha256 are the file's on disk.
pub fn assert_manifest_matches_disk(manifest: &serde_json::Value, out_dir: &Path) {
    use sha2::Digest;
    let assets = manifest["assets"].as_array().expect("manifest assets");
    let mut ids = std::collections::HashSet::new();
    let mut paths = std::collections::HashSet::new();
    for a in assets {
        let id = a["id"].as_str().expect("asset id");
        assert!(ids.insert(id.to_string()), "duplicate asset id {id}");
        let Some(rel) = a["path"].as_str() else {
            continue;
        };
        assert!(paths.insert(rel.to_string()), "two assets name {rel}");
        let bytes = std::fs::read(out_dir.join(rel)).expect("a listed file exists");
        assert_eq!(
            a["size"].as_u64(),
            Some(bytes.len() as u64),
            "size of {rel}"
        );
        let sha: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(a["sha256"].as_str(), Some(sha.as_str()), "sha256 of {rel}");
        // `--audio-export` files: beside the track's, with their own size and sha256.
        for e in a["exports"].as_array().into_iter().flatten() {
            let rel = e["path"].as_str().expect("export path");
            assert!(paths.insert(rel.to_string()), "two files named {rel}");
            let bytes = std::fs::read(out_dir.join(rel)).expect("a listed export exists");
            assert_eq!(
                e["size"].as_u64(),
                Some(bytes.len() as u64),
                "size of {rel}"
            );
            let sha: String = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(e["sha256"].as_str(), Some(sha.as_str()), "sha256 of {rel}");
        }
    }
}

/// The shipped JSON Schemas, compiled once for the whole test binary.
struct ShippedSchemas {
    schemas: boon::Schemas,
    manifest: boon::SchemaIndex,
    event: boon::SchemaIndex,
    timeline: boon::SchemaIndex,
}

fn shipped_schemas() -> &'static ShippedSchemas {
    static SCHEMAS: std::sync::OnceLock<ShippedSchemas> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        // `format: date-time` is only an annotation in draft 2020-12 unless asked for.
        compiler.enable_format_assertions();
        let mut load = |name: &str| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("schemas")
                .join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let v: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // Registered under its own $id, so nothing is ever fetched.
            let id = v["$id"].as_str().expect("a schema $id").to_string();
            compiler
                .add_resource(&id, v)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            compiler
                .compile(&id, &mut schemas)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"))
        };
        let manifest = load("manifest.schema.json");
        let event = load("events.schema.json");
        let timeline = load("timeline.schema.json");
        ShippedSchemas {
            schemas,
            manifest,
            event,
            timeline,
        }
    })
}

/// Checks `manifest` (a whole OUT/manifest.json) against schemas/manifest.schema.json.
pub fn validate_manifest(manifest: &serde_json::Value) -> Result<(), String> {
    let s = shipped_schemas();
    s.schemas
        .validate(manifest, s.manifest)
        .map_err(|e| format!("not valid against schemas/manifest.schema.json:\n{e:#}"))
}

/// Checks `timeline` (a whole OUT/timeline.json) against schemas/timeline.schema.json.
pub fn validate_timeline(timeline: &serde_json::Value) -> Result<(), String> {
    let s = shipped_schemas();
    s.schemas
        .validate(timeline, s.timeline)
        .map_err(|e| format!("not valid against schemas/timeline.schema.json:\n{e:#}"))
}

/// Fails unless `timeline` (a whole OUT/timeline.json) is valid against
/// schemas/timeline.schema.json and keyed by ids of `manifest`'s assets.
pub fn assert_valid_timeline(timeline: &serde_json::Value, manifest: &serde_json::Value) {
    if let Err(e) = validate_timeline(timeline) {
        panic!("{e}\ntimeline: {timeline}");
    }
    let ids: Vec<&str> = manifest["assets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["id"].as_str())
        .collect();
    for id in timeline["tracks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        assert!(
            ids.contains(&id.as_str()),
            "timeline lists {id}, the manifest does not"
        );
    }
}

/// Checks `event` (one envelope) against schemas/events.schema.json.
pub fn validate_event(event: &serde_json::Value) -> Result<(), String> {
    let s = shipped_schemas();
    s.schemas
        .validate(event, s.event)
        .map_err(|e| format!("not valid against schemas/events.schema.json:\n{e:#}"))
}

/// Fails unless `manifest` (a whole OUT/manifest.json) is valid against schemas/manifest.schema.json.
pub fn assert_valid_manifest(manifest: &serde_json::Value) {
    if let Err(e) = validate_manifest(manifest) {
        panic!("{e}\nmanifest: {manifest:#}");
    }
}

/// Fails unless `event` (one envelope) is valid against schemas/events.schema.json.
pub fn assert_valid_event(event: &serde_json::Value) {
    if let Err(e) = validate_event(event) {
        panic!("{e}\nevent: {event}");
    }
}

/// Fails unless every line of `ndjson` is an event valid against the schema; returns them.
pub fn assert_valid_events_ndjson(ndjson: &str) -> Vec<serde_json::Value> {
    ndjson
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON event ({e}): {line}"));
            assert_valid_event(&v);
            v
        })
        .collect()
}

/// Fails unless ffmpeg decodes `file` completely with no error line.
pub fn assert_decodes_cleanly(file: &Path) {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "ffmpeg errors on {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
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

/// One request a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Received {
    /// The value of header `name` (case-insensitive), or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The headers as an `http::HeaderMap`, for Standard Webhooks verifiers.
    pub fn header_map(&self) -> ureq::http::HeaderMap {
        let mut m = ureq::http::HeaderMap::new();
        for (k, v) in &self.headers {
            if let (Ok(k), Ok(v)) = (
                ureq::http::HeaderName::from_bytes(k.as_bytes()),
                ureq::http::HeaderValue::from_str(v),
            ) {
                m.append(k, v);
            }
        }
        m
    }
}

/// An HTTP receiver on 127.0.0.1 (port 0) in a thread, answering each request
/// with `answer(n)` (n counts from 0): a status and extra headers. Stops on drop,
/// and by itself after a minute so that a failing test never hangs.
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A status and response headers.
pub type Answer = (u16, Vec<(&'static str, &'static str)>);

impl Receiver {
    /// Starts the receiver.
    pub fn start(mut answer: impl FnMut(usize) -> Answer + Send + 'static) -> Receiver {
        use std::sync::atomic::Ordering;
        use std::sync::{Arc, Mutex, atomic::AtomicBool};
        use std::time::{Duration, Instant};
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s) = (got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut n = 0;
            while !s.load(Ordering::SeqCst) && Instant::now() < deadline {
                let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(req.as_reader(), &mut body);
                let headers = req
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_string(),
                        )
                    })
                    .collect();
                g.lock().unwrap().push(Received { headers, body });
                let (status, extra) = answer(n);
                n += 1;
                let mut resp = tiny_http::Response::empty(status);
                for (k, v) in extra {
                    resp.add_header(
                        tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes())
                            .expect("valid test header"),
                    );
                }
                let _ = req.respond(resp);
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            got,
            stop,
            thread: Some(thread),
        }
    }

    /// The requests so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loopback URL where nothing listens (the port was just bound and released).
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = l.local_addr().expect("bound").port();
    drop(l);
    format!("http://127.0.0.1:{port}/hook")
}

/// Every file under `dir`, recursively (directories left empty do not count).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
