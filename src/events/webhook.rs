//! Webhook delivery: Standard Webhooks signatures, timeouts, retries, spool.
//!
//! Each event is POSTed as it happens, body = the envelope line (without the
//! newline), `content-type: application/json`, with the headers of the
//! [Standard Webhooks](https://www.standardwebhooks.com/) specification:
//!
//! * `webhook-id`: the event id (stable, so receivers deduplicate retries and
//!   replays);
//! * `webhook-timestamp`: integer Unix seconds **at sending**, from the wall
//!   clock. This is the one place rtprec reads the wall clock, on purpose:
//!   verifiers reject a timestamp too far from their own clock (5 minutes in
//!   the reference libraries), so a capture time would fail for any capture
//!   older than that. The envelope's `timestamp` stays the capture time.
//! * `webhook-signature`: `v1,` + base64(HMAC-SHA256(key, `{id}.{timestamp}.{body}`)),
//!   only when a secret is configured. The secret is given in the Standard
//!   Webhooks form `whsec_` + base64(key) (the prefix is optional), from a
//!   file or the environment, never from the command line, and is never
//!   printed.
//!
//! **Retries.** 2xx is delivered. 5xx, 429, 408, timeouts and connection
//! errors are retried, up to [`RetryPolicy::retries`] more attempts, waiting
//! `backoff × 2^(n-1)` (capped at `max_backoff`) before retry n, or the
//! response's `Retry-After` seconds when it has one (capped at
//! `max_retry_after`; an HTTP-date `Retry-After` is ignored). Other statuses
//! (4xx, and 3xx: redirects are not followed) are not retried: the event goes
//! to the spool at once.
//!
//! **Receiver down.** When one event has used up all its attempts on
//! retryable failures, the receiver is taken as down for the rest of the
//! run: later events go straight to the spool, without a request. This keeps
//! a run from waiting through every retry of every event, and keeps the
//! receiver from seeing an event before earlier ones still in the spool.
//!
//! **Spool.** An event that is not delivered is appended to the spool file
//! (the same NDJSON line), and the file is fsync'd after each append, so
//! `emitted = delivered + spooled` holds even across a crash right after.
//! `rtprec events replay SPOOL --webhook URL` sends them later ([`super::replay`]).

use super::Event;
use super::sink::{Delivery, DeliveryReport};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable holding the webhook secret (`whsec_...`).
pub const SECRET_ENV: &str = "RTPREC_WEBHOOK_SECRET";

/// Errors of webhook configuration and of the spool.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not an absolute http(s) URL. (The URL itself is not repeated: it may hold a token.)
    #[error("invalid webhook URL: {0}")]
    BadUrl(&'static str),
    /// The secret file could not be read.
    #[error("cannot read webhook secret file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The secret is not in the `whsec_` + base64 form. (Never shows the secret.)
    #[error("webhook secret from {from} is not valid: {reason}")]
    BadSecret {
        /// The file path or the environment variable name.
        from: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An undelivered event could not be written to the spool: it is lost.
    #[error("cannot append event {id} to the spool {path}: {source}")]
    Spool {
        /// The event's id.
        id: String,
        /// The spool file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// A webhook signing key (the decoded bytes after `whsec_`); `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Parses `whsec_` + base64 (the prefix is optional, as in the reference libraries).
    /// `from` names where the text came from, for the error message.
    pub fn parse(text: &str, from: &str) -> Result<Secret, WebhookError> {
        let text = text.trim();
        let b64 = text.strip_prefix("whsec_").unwrap_or(text);
        let bad = |reason| WebhookError::BadSecret {
            from: from.to_string(),
            reason,
        };
        if b64.is_empty() {
            return Err(bad("it is empty"));
        }
        // The decoder's own error names the offending byte: it is not shown, it is part of the secret.
        let key = BASE64
            .decode(b64)
            .map_err(|_| bad("expected whsec_ followed by standard base64"))?;
        if key.is_empty() {
            return Err(bad("the key is empty"));
        }
        Ok(Secret(key))
    }

    /// Reads the secret from a file (surrounding whitespace ignored).
    pub fn from_file(path: &Path) -> Result<Secret, WebhookError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebhookError::SecretFile {
            path: path.to_path_buf(),
            source,
        })?;
        Secret::parse(&text, &path.display().to_string())
    }

    /// The secret from `file` if given, else from [`SECRET_ENV`] if set and non-empty, else none.
    pub fn resolve(file: Option<&Path>) -> Result<Option<Secret>, WebhookError> {
        if let Some(path) = file {
            return Secret::from_file(path).map(Some);
        }
        match std::env::var(SECRET_ENV) {
            Ok(text) if !text.trim().is_empty() => Secret::parse(&text, SECRET_ENV).map(Some),
            _ => Ok(None),
        }
    }

    /// The Standard Webhooks signature header value: `v1,` + base64(HMAC-SHA256(key, `id.ts.body`)).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

/// How often and how long to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub retries: u32,
    /// Wait before the first retry; doubled for each next one.
    pub backoff: Duration,
    /// Longest computed wait.
    pub max_backoff: Duration,
    /// Longest wait a `Retry-After` header may ask for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `n` (1-based), given the last response's `Retry-After`.
    pub fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_retry_after);
        }
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// Everything a webhook sink needs.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The receiver, `http://` or `https://`.
    pub url: String,
    /// Signing key; without it the `webhook-signature` header is left out.
    pub secret: Option<Secret>,
    /// Longest time to establish a connection.
    pub connect_timeout: Duration,
    /// Longest time for one whole attempt (connect, send, response).
    pub timeout: Duration,
    /// Retries and backoff.
    pub retry: RetryPolicy,
    /// Where undelivered events are appended (created when first needed).
    pub spool: PathBuf,
}

impl WebhookConfig {
    /// A configuration with default timeouts (10 s) and retries.
    pub fn new(url: impl Into<String>, spool: impl Into<PathBuf>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            spool: spool.into(),
        }
    }
}

/// The result of one HTTP attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered.
    Status {
        /// HTTP status code.
        code: u16,
        /// `Retry-After` in seconds, when present.
        retry_after: Option<Duration>,
    },
    /// No answer: timeout, refused connection, DNS, TLS (retryable).
    Failed(String),
}

/// Sends one POST (a seam so the retry logic is testable without a network).
pub trait Transport: Send {
    /// POSTs `body` with `headers`; never panics, every failure is an [`Attempt`].
    fn post(&mut self, headers: &[(&'static str, String)], body: &[u8]) -> Attempt;
}

/// The wall clock and sleeping (a seam so tests run without waiting).
pub trait Clock: Send {
    /// Unix seconds now, for `webhook-timestamp`.
    fn now_unix_secs(&self) -> i64;
    /// Waits before a retry.
    fn sleep(&mut self, d: Duration);
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_secs(&self) -> i64 {
        // The module doc explains why this header, and only it, uses the wall clock.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// HTTP over ureq (blocking; no async runtime).
pub struct HttpTransport {
    agent: ureq::Agent,
    url: String,
}

/// Checks that `url` is an absolute http(s) URL with a host.
pub fn validate_url(url: &str) -> Result<(), WebhookError> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| WebhookError::BadUrl("not a URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(WebhookError::BadUrl("the scheme must be http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(WebhookError::BadUrl("no host"));
    }
    Ok(())
}

impl HttpTransport {
    /// An agent with the given timeouts, no redirects, statuses returned as responses.
    pub fn new(config: &WebhookConfig) -> Result<HttpTransport, WebhookError> {
        validate_url(&config.url)?;
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.timeout))
            // A redirect would re-send a signed body somewhere the operator did not name.
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("rtprec/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(HttpTransport {
            agent,
            url: config.url.clone(),
        })
    }
}

/// `Retry-After` in delay-seconds form; the HTTP-date form is not used.
fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A failure description that never contains the URL (it may carry a token).
fn describe(e: &ureq::Error) -> String {
    use ureq::Error as E;
    match e {
        E::Timeout(t) => format!("timed out ({t})"),
        E::Io(io) => io.to_string(),
        E::HostNotFound => "host not found".into(),
        E::ConnectionFailed => "connection failed".into(),
        E::Tls(m) => format!("TLS: {m}"),
        E::Protocol(p) => format!("HTTP protocol error: {p}"),
        _ => "HTTP client error".into(),
    }
}

impl Transport for HttpTransport {
    fn post(&mut self, headers: &[(&'static str, String)], body: &[u8]) -> Attempt {
        let mut req = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        match req.send(body) {
            Ok(mut resp) => {
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                // Drain a little of the body so the connection can be reused; content is ignored.
                let mut sink = Vec::new();
                let _ = resp
                    .body_mut()
                    .as_reader()
                    .take(64 * 1024)
                    .read_to_end(&mut sink);
                Attempt::Status {
                    code: resp.status().as_u16(),
                    retry_after,
                }
            }
            Err(e) => Attempt::Failed(describe(&e)),
        }
    }
}

/// Appends lines to the spool file, fsync'd after each.
#[derive(Debug)]
struct Spool {
    path: PathBuf,
    file: Option<File>,
}

impl Spool {
    fn append(&mut self, id: &str, body: &[u8]) -> Result<(), WebhookError> {
        let err = |source| WebhookError::Spool {
            id: id.to_string(),
            path: self.path.clone(),
            source,
        };
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(err)?;
            // The new directory entry must survive a crash too; best effort where directories can't be synced.
            if let Some(dir) = self.path.parent()
                && let Ok(d) = File::open(if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                })
            {
                let _ = d.sync_all();
            }
            self.file = Some(f);
        }
        let f = self.file.as_mut().expect("opened just above");
        let mut line = Vec::with_capacity(body.len() + 1);
        line.extend_from_slice(body);
        line.push(b'\n');
        // One write per line: appends from one process never interleave within a line.
        f.write_all(&line).and_then(|()| f.sync_data()).map_err(err)
    }
}

/// POSTs events to a webhook, retrying, spooling what cannot be delivered.
pub struct WebhookSink {
    secret: Option<Secret>,
    retry: RetryPolicy,
    transport: Box<dyn Transport>,
    clock: Box<dyn Clock>,
    spool: Spool,
    /// Set once an event used up its attempts: why the receiver is taken as down.
    down: Option<String>,
    report: DeliveryReport,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("spool", &self.spool.path)
            .field("down", &self.down)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A sink POSTing over HTTP with the wall clock.
    pub fn new(config: WebhookConfig) -> Result<WebhookSink, WebhookError> {
        let transport = HttpTransport::new(&config)?;
        Ok(WebhookSink::with_parts(
            config,
            Box::new(transport),
            Box::new(SystemClock),
        ))
    }

    /// A sink with a given transport and clock (tests, other protocols).
    pub fn with_parts(
        config: WebhookConfig,
        transport: Box<dyn Transport>,
        clock: Box<dyn Clock>,
    ) -> WebhookSink {
        WebhookSink {
            secret: config.secret,
            retry: config.retry,
            transport,
            clock,
            spool: Spool {
                path: config.spool,
                file: None,
            },
            down: None,
            report: DeliveryReport::default(),
        }
    }

    /// Where undelivered events are appended.
    pub fn spool_path(&self) -> &Path {
        &self.spool.path
    }

    /// Delivers one event (blocking through its retries) or spools it.
    pub fn emit(&mut self, event: &Event) -> Result<Delivery, WebhookError> {
        self.send_line(&event.id, event.to_json().as_bytes())
    }

    /// Delivers one envelope line as is (replay sends the spooled bytes unchanged).
    pub fn send_line(&mut self, id: &str, body: &[u8]) -> Result<Delivery, WebhookError> {
        let outcome = self.attempt_all(id, body);
        if let Delivery::Spooled { .. } = outcome {
            self.spool.append(id, body)?;
        }
        self.report.count(&outcome);
        Ok(outcome)
    }

    fn attempt_all(&mut self, id: &str, body: &[u8]) -> Delivery {
        if let Some(why) = &self.down {
            return Delivery::Spooled {
                reason: format!("not sent: the receiver is down ({why})"),
            };
        }
        let attempts = self.retry.retries.saturating_add(1);
        let mut last = String::new();
        for n in 1..=attempts {
            let ts = self.clock.now_unix_secs();
            let mut headers = vec![
                ("webhook-id", id.to_string()),
                ("webhook-timestamp", ts.to_string()),
            ];
            if let Some(s) = &self.secret {
                headers.push(("webhook-signature", s.sign(id, ts, body)));
            }
            let retry_after = match self.transport.post(&headers, body) {
                Attempt::Status { code, .. } if (200..300).contains(&code) => {
                    return Delivery::Delivered;
                }
                Attempt::Status { code, retry_after } if retryable(code) => {
                    last = format!("HTTP {code}");
                    retry_after
                }
                Attempt::Status { code, .. } => {
                    return Delivery::Spooled {
                        reason: format!("HTTP {code} (not retried)"),
                    };
                }
                Attempt::Failed(why) => {
                    last = why;
                    None
                }
            };
            if n < attempts {
                let d = self.retry.delay(n, retry_after);
                self.clock.sleep(d);
            }
        }
        let plural = if attempts == 1 { "" } else { "s" };
        let reason = format!("{last} after {attempts} attempt{plural}");
        self.down = Some(reason.clone());
        Delivery::Spooled { reason }
    }

    /// The counts so far (the spool is already synced after each append).
    pub fn finish(&mut self) -> Result<DeliveryReport, WebhookError> {
        Ok(self.report)
    }
}

/// Statuses worth retrying: the receiver is overloaded or failing, not rejecting the event.
fn retryable(code: u16) -> bool {
    code == 408 || code == 429 || (500..600).contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    /// The headers of one request.
    type Headers = Vec<(&'static str, String)>;

    /// Scripted answers; records every request.
    #[derive(Clone, Default)]
    struct Script {
        answers: Arc<Mutex<VecDeque<Attempt>>>,
        seen: Arc<Mutex<Vec<Headers>>>,
    }

    impl Transport for Script {
        fn post(&mut self, headers: &[(&'static str, String)], _body: &[u8]) -> Attempt {
            self.seen.lock().unwrap().push(headers.to_vec());
            self.answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Attempt::Status {
                    code: 204,
                    retry_after: None,
                })
        }
    }

    /// A clock that records sleeps instead of sleeping.
    #[derive(Clone, Default)]
    struct FakeClock(Arc<Mutex<Vec<Duration>>>);

    impl Clock for FakeClock {
        fn now_unix_secs(&self) -> i64 {
            1_800_000_000
        }
        fn sleep(&mut self, d: Duration) {
            self.0.lock().unwrap().push(d);
        }
    }

    fn status(code: u16) -> Attempt {
        Attempt::Status {
            code,
            retry_after: None,
        }
    }

    fn sink(answers: Vec<Attempt>, dir: &Path) -> (WebhookSink, Script, FakeClock) {
        let script = Script::default();
        *script.answers.lock().unwrap() = answers.into();
        let clock = FakeClock::default();
        let mut cfg = WebhookConfig::new("http://127.0.0.1:9/hook", dir.join("spool.jsonl"));
        cfg.secret = Some(Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "test").unwrap());
        let s = WebhookSink::with_parts(cfg, Box::new(script.clone()), Box::new(clock.clone()));
        (s, script, clock)
    }

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification's reference test vectors.
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "t").unwrap();
        let sig = s.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_parse_and_never_show() {
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "f").is_ok());
        for bad in ["", "whsec_", "whsec_!!!secret-bytes!!!"] {
            let e = Secret::parse(bad, "FILE").unwrap_err().to_string();
            assert!(e.contains("FILE"), "{e}");
            assert!(!e.contains("secret-bytes"), "{e}");
        }
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "t").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn urls_are_checked_without_echoing_them() {
        assert!(validate_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(validate_url("https://example.invalid/h?token=x").is_ok());
        for bad in ["ftp://host/x", "/relative", "not a url", "http://"] {
            let e = validate_url(bad).unwrap_err().to_string();
            assert!(!e.contains(bad), "{e}");
        }
    }

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let p = RetryPolicy::default();
        let ms = |n| p.delay(n, None).as_millis();
        assert_eq!([ms(1), ms(2), ms(3), ms(4)], [500, 1000, 2000, 4000]);
        assert_eq!(p.delay(40, None), p.max_backoff);
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            p.max_retry_after
        );
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    /// (answers, expected attempts, delivered?, sleeps in ms) for one event.
    #[test]
    fn retry_table() {
        let ra = |code, s| Attempt::Status {
            code,
            retry_after: Some(Duration::from_secs(s)),
        };
        let failed = || Attempt::Failed("connection refused".into());
        let cases: Vec<(Vec<Attempt>, usize, bool, Vec<u128>)> = vec![
            (vec![status(200)], 1, true, vec![]),
            (vec![status(503), status(202)], 2, true, vec![500]),
            (
                vec![status(429), status(500), status(204)],
                3,
                true,
                vec![500, 1000],
            ),
            (vec![ra(503, 0), status(200)], 2, true, vec![0]),
            (vec![ra(429, 2), status(200)], 2, true, vec![2000]),
            (vec![failed(), status(200)], 2, true, vec![500]),
            (vec![status(408), status(200)], 2, true, vec![500]),
            (vec![status(400)], 1, false, vec![]),
            (vec![status(404)], 1, false, vec![]),
            (vec![status(301)], 1, false, vec![]),
            (vec![status(503); 5], 5, false, vec![500, 1000, 2000, 4000]),
            (vec![failed(); 5], 5, false, vec![500, 1000, 2000, 4000]),
        ];
        for (i, (answers, attempts, delivered, sleeps)) in cases.into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let (mut s, script, clock) = sink(answers, dir.path());
            let ev = &fixtures::events()[0];
            let d = s.emit(ev).unwrap();
            assert_eq!(d == Delivery::Delivered, delivered, "case {i}: {d:?}");
            assert_eq!(script.seen.lock().unwrap().len(), attempts, "case {i}");
            let slept: Vec<u128> = clock
                .0
                .lock()
                .unwrap()
                .iter()
                .map(|d| d.as_millis())
                .collect();
            assert_eq!(slept, sleeps, "case {i}");
            let r = s.finish().unwrap();
            assert!(r.balanced(), "case {i}");
            let spooled =
                std::fs::read_to_string(dir.path().join("spool.jsonl")).unwrap_or_default();
            if delivered {
                assert_eq!(spooled, "", "case {i}");
            } else {
                assert_eq!(spooled, ev.to_json() + "\n", "case {i}");
            }
        }
    }

    #[test]
    fn headers_are_standard_webhooks() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, script, _) = sink(vec![], dir.path());
        let ev = &fixtures::events()[2];
        s.emit(ev).unwrap();
        let seen = script.seen.lock().unwrap();
        let h = &seen[0];
        assert_eq!(h[0], ("webhook-id", ev.id.clone()));
        assert_eq!(h[1], ("webhook-timestamp", "1800000000".to_string()));
        assert_eq!(h[2].0, "webhook-signature");
        let key = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "t").unwrap();
        assert_eq!(
            h[2].1,
            key.sign(&ev.id, 1_800_000_000, ev.to_json().as_bytes())
        );
    }

    #[test]
    fn once_down_later_events_go_straight_to_the_spool_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, script, _) = sink(vec![status(503); 5], dir.path());
        let evs = fixtures::events();
        for e in &evs {
            assert!(matches!(s.emit(e).unwrap(), Delivery::Spooled { .. }));
        }
        assert_eq!(
            script.seen.lock().unwrap().len(),
            5,
            "only the first event was tried"
        );
        let r = s.finish().unwrap();
        assert_eq!((r.emitted, r.delivered, r.spooled), (4, 0, 4));
        let spooled = std::fs::read_to_string(dir.path().join("spool.jsonl")).unwrap();
        let want: String = evs.iter().map(|e| e.to_json() + "\n").collect();
        assert_eq!(spooled, want);
    }

    #[test]
    fn a_rejected_event_does_not_mark_the_receiver_down() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, script, _) = sink(vec![status(400)], dir.path());
        let evs = fixtures::events();
        for e in &evs {
            s.emit(e).unwrap();
        }
        assert_eq!(script.seen.lock().unwrap().len(), 4);
        let r = s.finish().unwrap();
        assert_eq!((r.emitted, r.delivered, r.spooled), (4, 3, 1));
    }

    #[test]
    fn unwritable_spool_is_an_error_naming_the_event() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        *script.answers.lock().unwrap() = vec![status(400)].into();
        let cfg = WebhookConfig::new("http://127.0.0.1:9/", dir.path().join("no/such/dir/spool"));
        let mut s = WebhookSink::with_parts(cfg, Box::new(script), Box::new(FakeClock::default()));
        let ev = &fixtures::events()[0];
        let e = s.emit(ev).unwrap_err().to_string();
        assert!(e.contains(&ev.id) && e.contains("spool"), "{e}");
        assert!(s.finish().unwrap().balanced());
    }
}
