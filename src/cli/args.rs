//! clap definitions (derive style: doc comment = long help).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Turn packet captures of WebRTC/RTP sessions into per-track recordings.
///
/// rtprec reads pcap, pcapng and rtptools rtpdump captures (optionally
/// gzip-compressed; `-` reads standard input), finds the RTP streams inside
/// (plain UDP, RTP over TCP with RFC 4571 framing, TURN ChannelData and
/// Send/Data indications, over Ethernet, VLAN, Linux cooked SLL/SLL2, raw IP or
/// BSD loopback), and reports them.
#[derive(Debug, Parser)]
#[command(name = "rtprec", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// Print no progress or warnings on standard error.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--audio-export` formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AudioExportArg {
    /// 16 kHz mono 16-bit PCM WAV, `<track>.16k.wav`.
    #[value(name = "wav16k")]
    Wav16k,
}

impl From<AudioExportArg> for crate::mux::export::AudioExport {
    fn from(a: AudioExportArg) -> Self {
        match a {
            AudioExportArg::Wav16k => crate::mux::export::AudioExport::Wav16k,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the RTP streams in captures, with loss, jitter and codec guesses.
    ///
    /// One row per RTP stream (5-tuple and SSRC). Packets counts equal
    /// tshark's `-z rtp,streams` Pkts; lost, duplicates and reordered are
    /// counted separately so that duplicates never hide loss. Several captures
    /// are merged in capture-time order and reported together.
    Streams(StreamsArgs),
    /// Record every track of the captures to its own playable file, with a manifest.
    ///
    /// Each RTP stream identified as a track (from --metadata, or inferred from
    /// the traffic) is reordered, de-duplicated, depacketized and written to
    /// OUT/<room_id>/<session_id>/<peer_id>/<track_id>.<ext>: Opus to Ogg Opus
    /// (or WebM with --audio-container webm), VP8, VP9 and AV1 to WebM, H.264
    /// and H.265 to MP4, G.711, G.722 and L16 to 16-bit PCM WAV. Lost
    /// audio stays a gap of the right length (silence in WAV);
    /// video resumes at the next keyframe after a loss. OUT/manifest.json lists
    /// one asset of type `track` per track, completed or failed with a reason.
    /// Files are written under a temporary name and renamed when complete.
    Record(Box<RecordArgs>),
    /// Work with recording events: replay a spool of undelivered webhook events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// List recorded assets and address them by URL.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// Compare a recording with an expected manifest, for CI (snapshot testing).
    ///
    /// RECORDING is an output directory holding manifest.json, or a capture,
    /// which is recorded first into a temporary directory (with --metadata and
    /// --sdp as for `record`). Tracks are matched by room, session, peer and
    /// track id. Strict mode demands the same assets field for field, sha256
    /// included; tolerant mode demands the same tracks, statuses, codecs and
    /// loss/recovery stats, with durations and frame counts within the
    /// tolerances. Tolerant is the default when the expectation's `generator`
    /// is another rtprec version, strict otherwise. In both modes every
    /// recorded file must exist with its manifest size and sha256, and, when
    /// ffprobe is installed, decode. Prints one diff block per track and a
    /// summary; exits 0 when every track passes, 1 when any fails, 3 when an
    /// input cannot be read, 7 when an output cannot be written. --update
    /// writes the recording's manifest to the expectation instead and exits 0.
    Verify(Box<VerifyArgs>),
    /// Write an HTML report of a recording: timeline, plots, stats and players.
    ///
    /// Reads DIR/manifest.json and DIR/timeline.json (written by `record`) and
    /// writes one self-contained HTML page (inline CSS and SVG, no script, no
    /// network resource) that works opened from disk: per session a timeline
    /// (peers' presence, each track as a bar with its gaps, pauses and
    /// keyframes), per track plots over time (bitrate, packets lost and
    /// recovered, jitter and the longest inter-arrival gap), the stats table,
    /// and an audio or video player for each file, linked relatively. Exits 0
    /// when written, 3 when the manifest or timeline cannot be read, 7 when the
    /// page cannot be written.
    Report(ReportArgs),
    /// Compose a recorded session into one video: tracks in a grid, audio mixed.
    ///
    /// SESSION_DIR is `OUT/<room>/<session>` of a recording; its manifest is
    /// OUT/manifest.json (the nearest manifest.json above SESSION_DIR). The
    /// session's completed video tracks are tiles of a grid of ceil(sqrt(n))
    /// columns, black before a track starts and after it ends; its completed
    /// audio tracks are mixed at their own levels (no normalisation). Each
    /// track starts at its start_offset_ms; the output lasts from the
    /// earliest track start to the latest track end. rtprec builds an ffmpeg
    /// command and runs it: ffmpeg must be on PATH (without it rtprec exits
    /// with the bad-input code and says so); --print prints the command
    /// instead. FILE's extension picks the format: .mp4 (H.264 + AAC) or
    /// .webm (VP8 + Opus).
    Compose(ComposeArgs),
    /// Print a shell completion script for rtprec to standard output.
    ///
    /// For example, bash: `rtprec completions bash > ~/.local/share/bash-completion/completions/rtprec`;
    /// zsh: `rtprec completions zsh > ~/.zfunc/_rtprec` (with ~/.zfunc in $fpath);
    /// fish: `rtprec completions fish > ~/.config/fish/completions/rtprec.fish`.
    Completions(CompletionsArgs),
}

/// Arguments of `rtprec report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output directory of `rtprec record` (holds manifest.json and timeline.json).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Where to write the page [default: DIR/report.html].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `rtprec compose`.
#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// The session's directory, `OUT/<room>/<session>`.
    #[arg(value_name = "SESSION_DIR")]
    pub session_dir: PathBuf,

    /// The file to write: .mp4 (H.264 + AAC) or .webm (VP8 + Opus); overwritten.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Print the ffmpeg command (shell-quoted) instead of running it.
    #[arg(long)]
    pub print: bool,

    /// Size of a video tile, WIDTHxHEIGHT (even numbers); pictures keep their aspect, black bars fill.
    #[arg(long, value_name = "WxH", default_value = "640x360", value_parser = tile_parser)]
    pub tile: (u32, u32),

    /// Output frame rate.
    #[arg(long, value_name = "FPS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub fps: u32,
}

/// `WIDTHxHEIGHT`, both even and from 2 to 4096.
fn tile_parser(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT, e.g. 640x360"))?;
    let num = |v: &str| -> Result<u32, String> {
        v.parse::<u32>()
            .ok()
            .filter(|n| (2..=4096).contains(n) && n % 2 == 0)
            .ok_or_else(|| format!("{v:?}: expected an even number from 2 to 4096"))
    };
    Ok((num(w)?, num(h)?))
}

/// Arguments of `rtprec completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Subcommands of `rtprec events`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Send the events of a spool file to a webhook again, in order, with their original ids.
    ///
    /// Events a webhook could not take are appended to a spool file (NDJSON,
    /// one event envelope per line). Replay reads the whole spool first (a
    /// malformed line stops it before anything is sent, exit 3), then POSTs each
    /// event with the same body and `webhook-id`, so receivers deduplicate
    /// events they already have. Signing, timeouts and retries work as for
    /// `record --webhook`. Events that still cannot be delivered replace the
    /// spool atomically (temporary file + rename), and the exit code is 5; when
    /// all are delivered the spool file is removed and the exit code is 0. Do
    /// not replay a spool that a running `record` is still writing.
    Replay(ReplayArgs),
}

/// Webhook delivery settings shared by every command that POSTs events.
#[derive(Debug, Args, Clone)]
pub struct WebhookOptions {
    /// File holding the signing secret, `whsec_` + base64 (Standard Webhooks form).
    ///
    /// Without it, the secret comes from the environment variable
    /// RTPREC_WEBHOOK_SECRET; with neither, events are sent unsigned. The
    /// secret is never accepted on the command line, where other users could
    /// read it, and never printed.
    #[arg(long, value_name = "FILE")]
    pub webhook_secret_file: Option<PathBuf>,

    /// Longest time for one delivery attempt (connect, send, response), in milliseconds.
    ///
    /// Two attempts in a row that take half of it or more (a timeout, or a
    /// late answer) take the receiver as down for the rest of the run: later
    /// events are not sent but kept in the spool.
    #[arg(long, default_value_t = 10_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,

    /// Attempts after the first on 5xx, 429, 408, timeouts and connection errors (never on other 4xx).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,

    /// Wait before the first retry, doubled for each next one (a Retry-After header overrides it).
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub backoff_ms: u64,
}

impl WebhookOptions {
    /// The delivery configuration for `url`, spooling to `spool`; reads the secret (file or environment).
    pub fn config(
        &self,
        url: &str,
        spool: PathBuf,
    ) -> Result<crate::events::webhook::WebhookConfig, crate::events::webhook::WebhookError> {
        use crate::events::webhook::{Secret, WebhookConfig, validate_url};
        use std::time::Duration;
        validate_url(url)?;
        let mut c = WebhookConfig::new(url, spool);
        c.secret = Secret::resolve(self.webhook_secret_file.as_deref())?;
        c.timeout = Duration::from_millis(self.timeout_ms);
        c.connect_timeout = c.timeout;
        c.retry.retries = self.retries;
        c.retry.backoff = Duration::from_millis(self.backoff_ms);
        Ok(c)
    }
}

/// Arguments of `rtprec events replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The spool file (NDJSON event envelopes), e.g. OUT/events.spool.jsonl.
    #[arg(value_name = "SPOOL")]
    pub spool: PathBuf,

    /// The receiver's URL (http or https); each event is POSTed with Standard Webhooks headers.
    #[arg(long, required = true, value_name = "URL")]
    pub webhook: String,

    /// Delivery settings.
    #[command(flatten)]
    pub delivery: WebhookOptions,
}

/// Arguments of `rtprec record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Capture files (pcap, pcapng, rtpdump, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Directory for the recordings and manifest.json (created if missing).
    #[arg(
        short,
        long,
        env = "RTPREC_OUT",
        default_value = ".",
        value_name = "DIR"
    )]
    pub out: PathBuf,

    /// Session metadata JSON saying which SSRC is which peer's which track (schema: schemas/session-metadata.schema.json).
    #[arg(short, long, value_name = "FILE", conflicts_with = "sdp")]
    pub metadata: Option<PathBuf>,

    /// Refuse --metadata that has fields rtprec does not know (exit 3), instead of warning.
    ///
    /// By default an unknown field (an SFU's own flag, a typo) is ignored with a
    /// warning naming the file and its JSON path, and a "did you mean" for a
    /// near miss of a known name. With this flag each one is an error and
    /// nothing is recorded. A misspelt required field (`trackid` for
    /// `track_id`) is an error either way.
    #[arg(long)]
    pub strict_metadata: bool,

    /// The peers' SDP files, an alternative to --metadata: one --sdp per file (`--sdp offer.sdp --sdp answer.sdp`).
    // One value per occurrence: with `num_args = 1..` the option swallowed the
    // capture after it (`--sdp x.sdp cap.pcap -o out` lost its CAPTURE).
    #[arg(long, value_name = "FILE", num_args = 1, action = clap::ArgAction::Append)]
    pub sdp: Vec<PathBuf>,

    /// Bind a signalled track that no stream matched to the one unmatched stream of its kind.
    ///
    /// When the SDP (or metadata) names a port, payload type or SSRC the
    /// capture does not have (a NAT, an SBC or a transcoder between signalling
    /// and the capture point), its track gets no packets. With this flag such
    /// a track takes the capture's unmatched stream of the same kind (audio or
    /// video: from the stream's payload type when it is static or signalled
    /// for another track, else from its payloads as inference identifies
    /// them) when it is the only such stream and the track the only waiting
    /// track of that kind; with none or several it stays unmatched. Streams
    /// are judged once their first 96 packets (or 3 s) are in: a track whose
    /// media starts later counts as one without media then. The manifest
    /// lists `ssrc (by kind)` in the track's `inferred` fields.
    #[arg(long)]
    pub match_by_kind: bool,

    /// SRTP keys for streams the metadata gives no key (or with no metadata): one
    /// `PROFILE KEY [ssrc=N]` per line, KEY base64 master key || salt as in SDP
    /// `a=crypto ... inline:`.
    ///
    /// Each stream takes the first key that authenticates one of its first 16
    /// packets (a key with `ssrc=` only that SSRC); streams no key authenticates
    /// are plain RTP. Keys are never printed.
    #[arg(long, value_name = "FILE", conflicts_with = "srtp_keys_env")]
    pub srtp_keys: Option<PathBuf>,

    /// Like --srtp-keys, the lines read from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub srtp_keys_env: Option<String>,

    /// DTLS secrets for DTLS-SRTP calls, in the NSS key log format that
    /// SSLKEYLOGFILE makes Firefox, NSS, BoringSSL, OpenSSL or pion write
    /// (CLIENT_RANDOM for DTLS 1.2; EXPORTER_SECRET and the handshake traffic
    /// secrets for DTLS 1.3).
    ///
    /// The SRTP keys of each DTLS handshake in the capture are exported from its
    /// secret (RFC 5764 §4.2). Repeatable; the environment variable holds one
    /// path. Secrets a pcapng capture carries in Decryption Secrets Blocks are
    /// used without it. Secrets are never printed.
    #[arg(long, value_name = "FILE", env = "RTPREC_KEYLOG", action = clap::ArgAction::Append)]
    pub keylog: Vec<PathBuf>,

    /// Worker threads for per-track work (0: one per core). Output does not depend on it.
    #[arg(short, long, default_value_t = 0, value_name = "N")]
    pub jobs: usize,

    /// Reorder window per track, in packets.
    #[arg(long, default_value_t = 512, value_name = "PACKETS", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub reorder_packets: u32,

    /// Longest time a packet is held waiting for a missing one, in milliseconds of capture time.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub reorder_ms: u64,

    /// Recording template (JSON): which roles, kinds and sources to record, and the audio container.
    ///
    /// Example: {"roles": ["host", "co-host"], "kinds": ["audio", "video"],
    /// "sources": ["regular", "screen"], "audio_container": "ogg"}. Tracks it
    /// leaves out are listed in the manifest as `skipped` with the reason.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,

    /// Record only peers with these roles (metadata `role`), comma-separated or repeated; overrides the template's roles.
    // One value per occurrence (commas split it), so a capture after it is not taken for a role.
    #[arg(long, value_name = "ROLE", num_args = 1, action = clap::ArgAction::Append, value_delimiter = ',')]
    pub only_role: Vec<String>,

    /// Record only audio or only video tracks.
    #[arg(long, value_name = "KIND", value_parser = kind_parser)]
    pub only_kind: Option<crate::session::Kind>,

    /// Record only camera/microphone (`regular`) or only `screen` tracks.
    #[arg(long, value_name = "SOURCE", value_parser = source_parser)]
    pub only_source: Option<crate::session::Source>,

    /// Container for Opus audio: `ogg` (default) or `webm`.
    #[arg(long, value_name = "CONTAINER", value_parser = ["ogg", "webm"])]
    pub audio_container: Option<String>,

    /// Also write, beside each completed audio track, a copy decoded for speech-to-text.
    ///
    /// `wav16k`: 16 kHz mono 16-bit PCM WAV named like the track with
    /// `.16k.wav` for its extension (p-mic.ogg -> p-mic.16k.wav), on the
    /// track's timeline: sample 0 is the track's start (its
    /// `start_offset_ms` on the session timeline) and lost audio stays in
    /// place, concealed or silent. Opus is decoded with libopus, G.711,
    /// G.722 and L16 are resampled from the WAV. The manifest lists it in the
    /// asset's `exports`. Opus in WebM (--audio-container webm) is not exported.
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub audio_export: Option<AudioExportArg>,

    /// Without metadata, a session ends when no RTP has flowed for this many seconds (capture time).
    ///
    /// What follows is a new session: its own session id (s<start time>) and
    /// its own assets, even for an SSRC that comes back.
    #[arg(long, default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,

    /// When capture time may follow the wall clock while no packet arrives.
    ///
    /// `auto` (the default): when an input is a pipe, such as
    /// `tcpdump -U -w - | rtprec record -`, so that a room that falls silent
    /// still ends its session after --idle-timeout and its files and events
    /// come out while the pipe stays open. `on`: also for regular files (one
    /// that tcpdump is still writing). `off`: packets are the only clock.
    /// Recordings of regular files never depend on the wall clock under `auto`.
    #[arg(long, value_enum, default_value_t = crate::pipeline::LiveClock::Auto, value_name = "WHEN")]
    pub live_clock: crate::pipeline::LiveClock,

    /// Also write the manifest to standard output as JSON (events then default to `none`).
    #[arg(long)]
    pub json: bool,

    /// At the end of the run, write DIR/report.html as `rtprec report DIR` does.
    #[arg(long)]
    pub report: bool,

    /// Where recording events go: `-` (standard output, one JSON object per line), a file (appended), or `none`.
    ///
    /// The default is `-` when standard output is not a terminal (a pipe or a
    /// file), and `none` on a terminal, which gets a summary table of the
    /// tracks instead; `none` with --json. Values that look like a slip for
    /// `-` or `none` (`--`, `None`, `non`) are refused; write `./non` for a
    /// file of that name. Each track gets
    /// track.recording.started.success when its first packet is seen and
    /// exactly one terminal event, track.recording.success or
    /// track.recording.failure, when its file is complete or it cannot be recorded.
    #[arg(long, value_name = "-|FILE|none")]
    pub events: Option<crate::events::sink::EventsTarget>,

    /// Also POST every event to this URL, signed per Standard Webhooks when a secret is given.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,

    /// Where events the webhook could not take are appended [default: DIR/events.spool.jsonl].
    #[arg(long, value_name = "FILE", requires = "webhook")]
    pub spool: Option<PathBuf>,

    /// After the last event, how long queued webhook events may still be delivered before the rest are spooled, in milliseconds.
    ///
    /// Events are POSTed from a thread of their own while the captures are
    /// read; this bounds the wait at the end of the run for a slow receiver.
    #[arg(
        long,
        default_value_t = 30_000,
        value_name = "MS",
        requires = "webhook"
    )]
    pub drain_timeout_ms: u64,

    /// Webhook delivery settings.
    #[command(flatten)]
    pub delivery: WebhookOptions,
}

/// Arguments of `rtprec streams`.
#[derive(Debug, Args)]
pub struct StreamsArgs {
    /// Capture files (pcap, pcapng, rtpdump, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Write one JSON document to standard output instead of the table.
    #[arg(long)]
    pub json: bool,

    /// DTLS key logs (NSS format, as for `record`): the DTLS handshakes listed
    /// say whether the key log holds their secret.
    #[arg(long, value_name = "FILE", env = "RTPREC_KEYLOG", action = clap::ArgAction::Append)]
    pub keylog: Vec<PathBuf>,
}

/// `rtprec assets ...`.
#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// List the assets of one or more output directories, filtered.
    ///
    /// Reads DIR/manifest.json of every DIR. A table on standard output, or
    /// with --json the response of the hosted recording-assets API's list call
    /// (100ms `GET /v2/recording-assets`): {"data": [...], "limit": N, "last":
    /// null}, all assets on one page. Each item maps rtprec's record: `id`,
    /// `type`, `room_id`, `session_id`, `peer_id`, `track_id`, `status` and
    /// `size` as they are; `path` the file's absolute path (null without a
    /// file); `duration` in seconds (duration_ms / 1000, null when unknown);
    /// `created_at` the capture time of the track's last packet (stopped_at;
    /// absent without one); `metadata` rtprec's whole record with the `dir` it
    /// belongs to (`jq '[.data[].metadata]'` gives the records alone).
    List(AssetsListArgs),
    /// Print a URL for an asset: file:// by default, or a signed expiring URL.
    ///
    /// With --base-url, the URL is BASE/<path>?md5=...&expires=... in nginx
    /// `secure_link` form: MD5 over "<expires><uri> <secret>", base64url
    /// without padding. A stock nginx verifies it with
    /// `secure_link $arg_md5,$arg_expires;` and
    /// `secure_link_md5 "$secure_link_expires$uri SECRET";`. The secret comes
    /// from --secret-file or the environment variable RTPREC_URL_SECRET, never
    /// from the command line. With --json, the hosted recording-assets API's
    /// pre-signed URL response (100ms `GET
    /// /v2/recording-assets/{id}/presigned-url`): {"id": ..., "path": the
    /// file's absolute path, "url": ..., "expiry": seconds the URL stays valid
    /// (--expires-in), null for a file:// URL, which does not expire}.
    Url(AssetsUrlArgs),
}

/// Arguments of `rtprec assets list`.
#[derive(Debug, Args)]
pub struct AssetsListArgs {
    /// Output directories of `rtprec record` (each holds manifest.json).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Only assets of this session.
    #[arg(long, value_name = "ID")]
    pub session_id: Option<String>,
    /// Only assets of this type (`track`).
    #[arg(long = "type", value_name = "TYPE")]
    pub asset_type: Option<String>,
    /// Only assets of this room.
    #[arg(long, value_name = "ID")]
    pub room_id: Option<String>,
    /// Only assets of this peer.
    #[arg(long, value_name = "ID")]
    pub peer_id: Option<String>,
    /// Only completed or only failed assets.
    #[arg(long, value_parser = ["completed", "failed"])]
    pub status: Option<String>,
    /// Write the hosted API's list response (JSON) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `rtprec assets url`.
#[derive(Debug, Args)]
pub struct AssetsUrlArgs {
    /// The asset id (from the manifest or `assets list`).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Output directories to look in.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dirs: Vec<PathBuf>,
    /// Base URL the output directory is served under; makes a signed, expiring URL.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// File holding the signing secret (else RTPREC_URL_SECRET).
    #[arg(long, value_name = "FILE", requires = "base_url")]
    pub secret_file: Option<PathBuf>,
    /// Lifetime of a signed URL, in seconds from now.
    #[arg(
        long,
        default_value_t = 3600,
        value_name = "SECONDS",
        requires = "base_url"
    )]
    pub expires_in: u64,
    /// Write the hosted API's pre-signed URL response (JSON) instead of the bare URL.
    #[arg(long)]
    pub json: bool,
}

fn kind_parser(s: &str) -> Result<crate::session::Kind, String> {
    match s {
        "audio" => Ok(crate::session::Kind::Audio),
        "video" => Ok(crate::session::Kind::Video),
        _ => Err(format!("{s:?}: expected audio or video")),
    }
}

fn source_parser(s: &str) -> Result<crate::session::Source, String> {
    match s {
        "regular" => Ok(crate::session::Source::Regular),
        "screen" => Ok(crate::session::Source::Screen),
        _ => Err(format!("{s:?}: expected regular or screen")),
    }
}

/// Arguments of `rtprec verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The recording: an output directory (with manifest.json) or a capture to record first.
    #[arg(value_name = "DIR_OR_CAPTURE")]
    pub recording: PathBuf,
    /// The expected manifest (checked into the repository).
    #[arg(long, value_name = "FILE")]
    pub expected: PathBuf,
    /// Demand the same assets field for field, sha256 included.
    #[arg(long, conflicts_with = "tolerant")]
    pub strict: bool,
    /// Allow the differences the tolerances permit and any sha256.
    #[arg(long)]
    pub tolerant: bool,
    /// Largest allowed difference of duration_ms and start_offset_ms (tolerant mode).
    #[arg(long, value_name = "MS", default_value_t = 40)]
    pub duration_tolerance_ms: u64,
    /// Largest allowed difference of each frame count (tolerant mode).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub frames_tolerance: u64,
    /// Also write the result as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the recording's manifest to the --expected file (pretty JSON) instead of comparing.
    #[arg(long, conflicts_with_all = ["strict", "tolerant", "junit"])]
    pub update: bool,
    /// Session metadata JSON, when RECORDING is a capture (as for `record`).
    #[arg(short, long, value_name = "FILE", conflicts_with = "sdp")]
    pub metadata: Option<PathBuf>,
    /// The peers' SDP files, when RECORDING is a capture (as for `record`).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub sdp: Vec<PathBuf>,
}
