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
//! **Receiver down (circuit breaker).** [`Courier`] takes the receiver as down
//! for the rest of the run, so that later events go straight to the spool
//! without a request, when either
//!
//! 1. one event has used up all its attempts on retryable failures, or
//! 2. [`SLOW_LIMIT`] attempts in a row were *slow*: each took at least half
//!    the per-attempt timeout, whatever it ended with (a timeout, an error, or
//!    even a 2xx, which still counts as delivered). A faster answer resets the
//!    count.
//!
//! Rule 2 bounds a run against a receiver that never answers, or answers just
//! inside the timeout, to about two timeouts plus one backoff, instead of a
//! timeout per event. Both rules keep the receiver from seeing an event after
//! later ones went to the spool.
//!
//! **Spool.** An event that is not delivered is appended to the spool file
//! (the same NDJSON line), and the file is fsync'd after each append, so
//! `emitted = delivered + spooled` holds even across a crash right after. A
//! failed append is cut back off the file, so the spool never holds a partial
//! line. `rtprec events replay SPOOL --webhook URL` sends them later
//! ([`super::replay`]).
//!
//! **Threads.** [`WebhookSink`] (in [`super::delivery`]) runs a [`Courier`] on
//! its own thread behind a bounded queue, so a slow receiver never stalls the
//! reading of a capture; see there for the queue, the drain deadline, `abort`
//! and the last resort when the spool cannot be written.

pub use super::delivery::WebhookSink;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

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
        /// The file or the environment variable it came from.
        from: SecretOrigin,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An undelivered event could not be written to the spool (a webhook sink
    /// then prints it to standard error instead; replay keeps the old spool).
    #[error("cannot append event {id} to the spool {path}: {source}")]
    Spool {
        /// The event's id.
        id: String,
        /// The spool file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The delivery thread could not be started.
    #[error("cannot start the webhook delivery thread: {0}")]
    Thread(io::Error),
}

/// Where a webhook secret came from: it names the source in messages, and
/// decides who must fix a bad one (a file is an input, a variable a setting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretOrigin {
    /// A file (`--webhook-secret-file`).
    File(PathBuf),
    /// An environment variable, or another value the user set, by name.
    Setting(String),
}

impl std::fmt::Display for SecretOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretOrigin::File(p) => write!(f, "{}", p.display()),
            SecretOrigin::Setting(name) => f.write_str(name),
        }
    }
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
    /// `from` names the setting the text came from, for the error message.
    pub fn parse(text: &str, from: &str) -> Result<Secret, WebhookError> {
        Secret::parse_from(text, SecretOrigin::Setting(from.to_string()))
    }

    fn parse_from(text: &str, from: SecretOrigin) -> Result<Secret, WebhookError> {
        let text = text.trim();
        let b64 = text.strip_prefix("whsec_").unwrap_or(text);
        let bad = |reason| WebhookError::BadSecret {
            from: from.clone(),
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
        Secret::parse_from(&text, SecretOrigin::File(path.to_path_buf()))
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

/// Consecutive slow attempts after which the receiver is taken as down (module doc, rule 2).
pub const SLOW_LIMIT: u32 = 2;

/// Default bound of a webhook sink's queue, in events.
pub const QUEUE_CAPACITY: usize = 1024;

/// Everything a webhook sink needs.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The receiver, `http://` or `https://`.
    pub url: String,
    /// Signing key; without it the `webhook-signature` header is left out.
    pub secret: Option<Secret>,
    /// Longest time to establish a connection.
    pub connect_timeout: Duration,
    /// Longest time for one whole attempt (connect, send, response); half of it makes an attempt slow.
    pub timeout: Duration,
    /// Retries and backoff.
    pub retry: RetryPolicy,
    /// Where undelivered events are appended (created when first needed).
    pub spool: PathBuf,
    /// Most events waiting for the delivery thread; an event beyond it is spooled at once (0 spools all).
    pub queue_capacity: usize,
    /// How long [`WebhookSink::finish`] keeps delivering queued events before spooling the rest.
    pub drain_timeout: Duration,
}

impl WebhookConfig {
    /// A configuration with default timeouts (10 s), retries, queue (1024) and drain timeout (30 s).
    pub fn new(url: impl Into<String>, spool: impl Into<PathBuf>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            spool: spool.into(),
            queue_capacity: QUEUE_CAPACITY,
            drain_timeout: Duration::from_secs(30),
        }
    }

    /// The duration from which an attempt counts as slow: half the per-attempt timeout.
    pub fn slow_after(&self) -> Duration {
        self.timeout / 2
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

/// The clocks and sleeping (a seam so tests run without waiting).
pub trait Clock: Send {
    /// Unix seconds now, for `webhook-timestamp`.
    fn now_unix_secs(&self) -> i64;
    /// Time since a fixed point, never going backwards: how long an attempt took.
    fn monotonic(&self) -> Duration;
    /// Waits `d` before a retry, or less once `stop` is set.
    fn sleep(&mut self, d: Duration, stop: &StopSignal);
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

    fn monotonic(&self) -> Duration {
        // One process-wide origin: only differences are used.
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }

    fn sleep(&mut self, d: Duration, stop: &StopSignal) {
        stop.wait(d);
    }
}

/// A flag that stops a [`Courier`]: checked before each attempt, and it cuts backoff waits short.
#[derive(Debug, Default)]
pub struct StopSignal {
    set: Mutex<bool>,
    changed: Condvar,
}

impl StopSignal {
    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        *self.set.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.changed.notify_all();
    }

    /// True once [`StopSignal::set`] was called.
    pub fn is_set(&self) -> bool {
        *self.set.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits up to `d`, returning early (true) when the flag is or becomes set.
    pub fn wait(&self, d: Duration) -> bool {
        let guard = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, d, |set| !*set)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
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
pub(crate) struct Spool {
    path: PathBuf,
    file: Option<File>,
}

impl Spool {
    /// A spool at `path`; the file is created by the first append.
    pub(crate) fn new(path: PathBuf) -> Spool {
        Spool { path, file: None }
    }

    /// The spool file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `body` and a newline, then fsyncs; on failure the file is cut back to where it was.
    pub(crate) fn append(&mut self, id: &str, body: &[u8]) -> Result<(), WebhookError> {
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
        let Some(f) = self.file.as_mut() else {
            unreachable!("opened just above")
        };
        let before = f.metadata().map_err(err)?.len();
        let mut line = Vec::with_capacity(body.len() + 1);
        line.extend_from_slice(body);
        line.push(b'\n');
        // One write per line: appends from one process never interleave within a line.
        let written = f.write_all(&line).and_then(|()| f.sync_data());
        if let Err(source) = written {
            // A partial line would make the whole spool unreadable to replay; the caller
            // keeps the event elsewhere, so cutting it off loses nothing. Best effort:
            // if even this fails, replay names the bad line.
            let _ = f.set_len(before);
            return Err(err(source));
        }
        Ok(())
    }
}

/// Sends one event at a time: signatures, attempts, retries and the circuit
/// breaker (module doc). It never spools: what it could not deliver is the
/// caller's to keep.
pub struct Courier {
    secret: Option<Secret>,
    retry: RetryPolicy,
    slow_after: Duration,
    transport: Box<dyn Transport>,
    clock: Box<dyn Clock>,
    /// Slow attempts in a row, across events.
    slow_in_a_row: u32,
    /// Set once the breaker opened: why the receiver is taken as down.
    down: Option<String>,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier")
            .field("retry", &self.retry)
            .field("slow_after", &self.slow_after)
            .field("slow_in_a_row", &self.slow_in_a_row)
            .field("down", &self.down)
            .finish_non_exhaustive()
    }
}

impl Courier {
    /// A courier POSTing over HTTP with the wall clock.
    pub fn new(config: &WebhookConfig) -> Result<Courier, WebhookError> {
        let transport = HttpTransport::new(config)?;
        Ok(Courier::with_parts(
            config,
            Box::new(transport),
            Box::new(SystemClock),
        ))
    }

    /// A courier with a given transport and clock (tests, other protocols).
    pub fn with_parts(
        config: &WebhookConfig,
        transport: Box<dyn Transport>,
        clock: Box<dyn Clock>,
    ) -> Courier {
        Courier {
            secret: config.secret.clone(),
            retry: config.retry,
            slow_after: config.slow_after(),
            transport,
            clock,
            slow_in_a_row: 0,
            down: None,
        }
    }

    /// Why the receiver is taken as down, once it is.
    pub fn down(&self) -> Option<&str> {
        self.down.as_deref()
    }

    /// Delivers one envelope line as is, through its retries; `Err` says why it was not
    /// delivered. Once `stop` is set, no new attempt starts.
    pub fn deliver(&mut self, id: &str, body: &[u8], stop: &StopSignal) -> Result<(), String> {
        if let Some(why) = &self.down {
            return Err(format!("not sent: the receiver is down ({why})"));
        }
        let attempts = self.retry.retries.saturating_add(1);
        let plural = |n: u32| if n == 1 { "" } else { "s" };
        let mut last = String::new();
        for n in 1..=attempts {
            if stop.is_set() {
                return Err(format!(
                    "delivery stopped after {} attempt{}",
                    n - 1,
                    plural(n - 1)
                ));
            }
            let ts = self.clock.now_unix_secs();
            let mut headers = vec![
                ("webhook-id", id.to_string()),
                ("webhook-timestamp", ts.to_string()),
            ];
            if let Some(s) = &self.secret {
                headers.push(("webhook-signature", s.sign(id, ts, body)));
            }
            let started = self.clock.monotonic();
            let answer = self.transport.post(&headers, body);
            let took = self.clock.monotonic().saturating_sub(started);
            self.slow_in_a_row = if took >= self.slow_after {
                self.slow_in_a_row.saturating_add(1)
            } else {
                0
            };
            let too_slow = self.slow_in_a_row >= SLOW_LIMIT;
            if too_slow {
                self.down = Some(format!(
                    "{SLOW_LIMIT} attempts in a row took {} ms or more",
                    self.slow_after.as_millis()
                ));
            }
            let retry_after = match answer {
                // Delivered even when it tripped the breaker: the receiver has it.
                Attempt::Status { code, .. } if (200..300).contains(&code) => return Ok(()),
                Attempt::Status { code, retry_after } if retryable(code) => {
                    last = format!("HTTP {code}");
                    retry_after
                }
                Attempt::Status { code, .. } => {
                    return Err(format!("HTTP {code} (not retried)"));
                }
                Attempt::Failed(why) => {
                    last = why;
                    None
                }
            };
            if too_slow {
                return Err(format!(
                    "{last} after {n} attempt{}; the receiver is too slow and taken as down",
                    plural(n)
                ));
            }
            if n < attempts {
                let d = self.retry.delay(n, retry_after);
                self.clock.sleep(d, stop);
            }
        }
        let reason = format!("{last} after {attempts} attempt{}", plural(attempts));
        self.down = Some(reason.clone());
        Err(reason)
    }
}

/// Statuses worth retrying: the receiver is overloaded or failing, not rejecting the event.
fn retryable(code: u16) -> bool {
    code == 408 || code == 429 || (500..600).contains(&code)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::events::fixtures;

    /// A scripted receiver on a fake clock, shared by these tests and `delivery`'s.
    pub(crate) mod fake {
        use super::super::*;
        use std::collections::VecDeque;
        use std::sync::{Arc, Mutex};

        /// The headers of one request.
        type Headers = Vec<(&'static str, String)>;

        /// A clock whose time moves only by sleeps and [`Script`] latencies; records sleeps.
        #[derive(Clone, Default)]
        pub(crate) struct FakeClock {
            pub(crate) now: Arc<Mutex<Duration>>,
            pub(crate) slept: Arc<Mutex<Vec<Duration>>>,
        }

        impl FakeClock {
            /// The recorded sleeps, in milliseconds.
            pub(crate) fn slept_ms(&self) -> Vec<u128> {
                self.slept
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_millis())
                    .collect()
            }
        }

        impl Clock for FakeClock {
            fn now_unix_secs(&self) -> i64 {
                1_800_000_000
            }
            fn monotonic(&self) -> Duration {
                *self.now.lock().unwrap()
            }
            fn sleep(&mut self, d: Duration, _stop: &StopSignal) {
                self.slept.lock().unwrap().push(d);
                *self.now.lock().unwrap() += d;
            }
        }

        /// Scripted answers, each after a latency on the fake clock; records every request.
        #[derive(Clone, Default)]
        pub(crate) struct Script {
            pub(crate) answers: Arc<Mutex<VecDeque<(Duration, Attempt)>>>,
            pub(crate) seen: Arc<Mutex<Vec<Headers>>>,
            pub(crate) clock: FakeClock,
        }

        impl Script {
            /// Answers without latency.
            pub(crate) fn new(answers: Vec<Attempt>) -> Script {
                Script::timed(answers.into_iter().map(|a| (Duration::ZERO, a)).collect())
            }

            /// Answers each after its latency.
            pub(crate) fn timed(answers: Vec<(Duration, Attempt)>) -> Script {
                let s = Script::default();
                *s.answers.lock().unwrap() = answers.into();
                s
            }

            /// How many requests were made.
            pub(crate) fn requests(&self) -> usize {
                self.seen.lock().unwrap().len()
            }
        }

        impl Transport for Script {
            fn post(&mut self, headers: &[(&'static str, String)], _body: &[u8]) -> Attempt {
                self.seen.lock().unwrap().push(headers.to_vec());
                let (latency, answer) = self.answers.lock().unwrap().pop_front().unwrap_or((
                    Duration::ZERO,
                    Attempt::Status {
                        code: 204,
                        retry_after: None,
                    },
                ));
                *self.clock.now.lock().unwrap() += latency;
                answer
            }
        }

        /// An HTTP status without `Retry-After`.
        pub(crate) fn status(code: u16) -> Attempt {
            Attempt::Status {
                code,
                retry_after: None,
            }
        }

        /// The test configuration: a secret, default retries, 10 s timeout.
        pub(crate) fn config(spool: &Path) -> WebhookConfig {
            let mut cfg = WebhookConfig::new("http://127.0.0.1:9/hook", spool);
            cfg.secret =
                Some(Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "test").unwrap());
            cfg
        }
    }

    use fake::{Script, status};

    fn courier(script: &Script) -> Courier {
        Courier::with_parts(
            &fake::config(Path::new("unused")),
            Box::new(script.clone()),
            Box::new(script.clock.clone()),
        )
    }

    fn deliver(c: &mut Courier, ev: &crate::events::Event) -> Result<(), String> {
        c.deliver(&ev.id, ev.to_json().as_bytes(), &StopSignal::default())
    }

    /// Delivers the four fixture events one after the other: the courier, and which were delivered.
    fn deliver_fixtures(script: &Script) -> (Courier, Vec<bool>) {
        let mut c = courier(script);
        let ok = fixtures::events()
            .iter()
            .map(|e| deliver(&mut c, e).is_ok())
            .collect();
        (c, ok)
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
            let script = Script::new(answers);
            let mut c = courier(&script);
            let d = deliver(&mut c, &fixtures::events()[0]);
            assert_eq!(d.is_ok(), delivered, "case {i}: {d:?}");
            assert_eq!(script.requests(), attempts, "case {i}");
            assert_eq!(script.clock.slept_ms(), sleeps, "case {i}");
        }
    }

    #[test]
    fn headers_are_standard_webhooks() {
        let script = Script::new(vec![]);
        let mut c = courier(&script);
        let ev = &fixtures::events()[2];
        deliver(&mut c, ev).unwrap();
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
    fn once_down_later_events_are_not_sent() {
        let script = Script::new(vec![status(503); 5]);
        let mut c = courier(&script);
        let evs = fixtures::events();
        let first = deliver(&mut c, &evs[0]).unwrap_err();
        assert_eq!(first, "HTTP 503 after 5 attempts");
        for e in &evs[1..] {
            let why = deliver(&mut c, e).unwrap_err();
            assert_eq!(
                why,
                "not sent: the receiver is down (HTTP 503 after 5 attempts)"
            );
        }
        assert_eq!(script.requests(), 5, "only the first event was tried");
    }

    #[test]
    fn a_rejected_event_does_not_mark_the_receiver_down() {
        let script = Script::new(vec![status(400)]);
        let (c, ok) = deliver_fixtures(&script);
        assert_eq!(ok, [false, true, true, true]);
        assert_eq!(script.requests(), 4);
        assert_eq!(c.down(), None);
    }

    /// A receiver that never answers: two timeouts and one backoff, not five attempts per event.
    #[test]
    fn two_timeouts_in_a_row_take_the_receiver_down() {
        let timeout = Duration::from_secs(10);
        let timed_out = || (timeout, Attempt::Failed("timed out (Global)".into()));
        let script = Script::timed(vec![timed_out(); 10]);
        let mut c = courier(&script);
        let evs = fixtures::events();
        let first = deliver(&mut c, &evs[0]).unwrap_err();
        assert_eq!(
            first,
            "timed out (Global) after 2 attempts; the receiver is too slow and taken as down"
        );
        assert_eq!(script.requests(), 2);
        assert_eq!(script.clock.slept_ms(), [500]);
        let later = deliver(&mut c, &evs[1]).unwrap_err();
        assert_eq!(
            later,
            "not sent: the receiver is down (2 attempts in a row took 5000 ms or more)"
        );
        assert_eq!(script.requests(), 2);
    }

    /// A receiver that answers 2xx just inside the timeout: those events are delivered,
    /// and two in a row take it down, so the stall does not grow with the number of events.
    #[test]
    fn slow_successes_in_a_row_take_the_receiver_down() {
        let nine = Duration::from_secs(9);
        let script = Script::timed(vec![(nine, status(200)); 4]);
        let (c, got) = deliver_fixtures(&script);
        assert_eq!(got, [true, true, false, false]);
        assert_eq!(script.requests(), 2);
        assert!(c.down().is_some());
    }

    /// A prompt answer in between resets the count: slow, fast, slow is not down.
    #[test]
    fn a_prompt_answer_resets_the_slow_count() {
        let (slow, fast) = (Duration::from_secs(6), Duration::from_millis(40));
        let script = Script::timed(vec![
            (slow, status(200)),
            (fast, status(400)),
            (slow, status(200)),
            (fast, status(200)),
        ]);
        let (c, got) = deliver_fixtures(&script);
        assert_eq!(got, [true, false, true, true]);
        assert_eq!(c.down(), None);
    }

    #[test]
    fn a_set_stop_signal_starts_no_attempt() {
        let script = Script::new(vec![status(503); 5]);
        let mut c = courier(&script);
        let stop = StopSignal::default();
        stop.set();
        let ev = &fixtures::events()[0];
        assert!(c.deliver(&ev.id, b"{}", &stop).is_err());
        assert_eq!(script.requests(), 0);
        assert!(
            stop.wait(Duration::from_secs(60)),
            "a set signal does not wait"
        );
    }

    #[test]
    fn failed_spool_appends_leave_no_partial_line() {
        // /dev/full accepts the open and fails every write with ENOSPC, like a full disk.
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let mut spool = Spool::new(full.to_path_buf());
        let e = spool.append("abc", b"{}").unwrap_err().to_string();
        assert!(e.contains("abc") && e.contains("/dev/full"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        // Under a regular file: fails to open even as root.
        let mut spool = Spool::new(file.join("x.jsonl"));
        assert!(spool.append("abc", b"{}").is_err());
    }
}
