//! The man page, rendered from the clap definitions plus the exit-code table.

use super::args::Cli;
use super::exit::ExitCode;
use clap::CommandFactory;

/// Renders `man/rtprec.1`: the top-level page, one section per subcommand, exit status.
pub fn render() -> std::io::Result<Vec<u8>> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = page_head(&man)?;
    man.render_subcommands_section(&mut out)?;
    for (name, sub) in leaf_subcommands(&cmd, cmd.get_name()) {
        let sub = sub.bin_name(name.clone());
        out.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        let sman = clap_mangen::Man::new(sub);
        let mut body = Vec::new();
        sman.render_synopsis_section(&mut body)?;
        sman.render_description_section(&mut body)?;
        sman.render_options_section(&mut body)?;
        // Nested under the subcommand's heading: demote its sections to subsections.
        let body = String::from_utf8_lossy(&body).replace(".SH ", ".SS ");
        out.extend_from_slice(body.as_bytes());
    }
    out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for (code, meaning) in ExitCode::ALL {
        out.extend_from_slice(format!(".TP\n\\fB{}\\fR\n{}\n", code.code(), meaning).as_bytes());
    }
    out.extend_from_slice(EXTRA.as_bytes());
    for (title, intro, schema) in SCHEMAS {
        out.extend_from_slice(format!(".SH \"{title}\"\n{intro}\n.PP\n.nf\n").as_bytes());
        out.extend_from_slice(roff_literal(schema).as_bytes());
        out.extend_from_slice(b".fi\n");
    }
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// Every page: `rtprec.1` (all of it) and one per subcommand, `rtprec-record.1`,
/// `rtprec-assets.1`, `rtprec-assets-list.1`..., as the top page's SUBCOMMANDS
/// section names them. Returns (file name, page).
pub fn render_all() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = vec![("rtprec.1".to_string(), render()?)];
    let cmd = Cli::command();
    let mut stack: Vec<(String, clap::Command)> = cmd
        .get_subcommands()
        .map(|s| (format!("rtprec-{}", s.get_name()), s.clone()))
        .collect();
    while let Some((name, sub)) = stack.pop() {
        for inner in sub.get_subcommands() {
            stack.push((format!("{name}-{}", inner.get_name()), inner.clone()));
        }
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(name.replace('-', " "))
            .version(env!("CARGO_PKG_VERSION"));
        let man = clap_mangen::Man::new(sub.clone());
        let mut out = page_head(&man)?;
        if sub.has_subcommands() {
            man.render_subcommands_section(&mut out)?;
        }
        out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
        for (code, meaning) in ExitCode::ALL {
            out.extend_from_slice(
                format!(".TP\n\\fB{}\\fR\n{}\n", code.code(), meaning).as_bytes(),
            );
        }
        out.extend_from_slice(b".SH \"SEE ALSO\"\n\\fBrtprec\\fR(1): the whole manual, with the output formats and their JSON Schemas\n");
        pages.push((format!("{name}.1"), out));
    }
    pages.sort();
    Ok(pages)
}

/// A page's title, name, synopsis, description and options.
fn page_head(man: &clap_mangen::Man) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    Ok(out)
}

/// Every runnable subcommand with its full name (`rtprec events replay`), depth first.
fn leaf_subcommands(cmd: &clap::Command, prefix: &str) -> Vec<(String, clap::Command)> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands() {
        let name = format!("{prefix} {}", sub.get_name());
        // A group like `events` only dispatches: its page section is its subcommands'.
        if sub.has_subcommands() {
            out.extend(leaf_subcommands(sub, &name));
        } else {
            out.push((name, sub.clone()));
        }
    }
    out
}

/// The JSON Schemas shipped in `schemas/`, printed verbatim in the page.
const SCHEMAS: [(&str, &str, &str); 4] = [
    (
        "SESSION METADATA",
        "The file given to \\fB\\-\\-metadata\\fR says which SSRC is which peer's which track. Ids become path parts: \\fB..\\fR, \\fB/\\fR, \\fB\\e\\fR, control characters and absolute paths are rejected; other characters outside [A\\-Za\\-z0\\-9._\\-] become \\fB_\\fR. Its JSON Schema (schemas/session\\-metadata.schema.json):",
        include_str!("../../schemas/session-metadata.schema.json"),
    ),
    (
        "MANIFEST",
        "\\fBrtprec record\\fR writes DIR/manifest.json, one asset of type \\fBtrack\\fR per track. Its JSON Schema (schemas/manifest.schema.json):",
        include_str!("../../schemas/manifest.schema.json"),
    ),
    (
        "TIMELINE",
        "\\fBrtprec record\\fR also writes DIR/timeline.json beside the manifest: per track (keyed by asset id) a compact time series of 1 s intervals (packets, payload bytes, lost, recovered, mean jitter, longest inter\\-arrival gap, keyframes) and its events (gaps, pauses, keyframe times), which \\fBrtprec report\\fR draws. Derived from capture time only, its bytes do not depend on \\fB\\-\\-jobs\\fR. A track longer than 24 h doubles its interval length as often as needed, so it never has more than 86400 intervals; at most 10000 events of each kind are kept. Its JSON Schema (schemas/timeline.schema.json):",
        include_str!("../../schemas/timeline.schema.json"),
    ),
    (
        "EVENTS",
        "Recording events are one JSON object per line, the same bytes on standard output, in an events file, in a webhook POST body and in a spool file. Webhook requests carry the Standard Webhooks headers \\fBwebhook\\-id\\fR (the event id), \\fBwebhook\\-timestamp\\fR (Unix seconds when sent) and, with a secret, \\fBwebhook\\-signature\\fR (v1, HMAC\\-SHA256 over id.timestamp.body). The envelope's JSON Schema (schemas/events.schema.json):",
        include_str!("../../schemas/events.schema.json"),
    ),
];

/// Text shown as is in roff: backslashes escaped, control-character line starts neutralised.
fn roff_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let line = line.replace('\\', "\\e");
        if line.starts_with('.') || line.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

const EXTRA: &str = r#".SH "OUTPUT"
Data goes to standard output (the table, or JSON with \fB\-\-json\fR); warnings and
progress go to standard error, progress only when it is a terminal, and the
progress line is cleared before anything else is printed.
\fBrecord\fR on a terminal prints a table of the tracks at the end (degraded
and failed tracks say why in its STATUS column, paths are relative to the
current directory); when standard output is a pipe or a file, or with
\fB\-\-events \-\fR, it carries the recording events instead, one JSON object
per line.
Warnings name the file, the frame number and the byte offset of the first
record that showed each kind of problem.
.SH "LIVE RECORDING AND SIGNALS"
\fBrecord\fR reads a pipe as packets arrive: a track's started event goes out
at its first packet, and when a session ends (its last peer left per the
metadata, or no RTP for \fB\-\-idle\-timeout\fR seconds) its files are
completed, \fIOUT\fR/manifest.json is rewritten to list them, and only then
their success and failure events go out, while the input keeps flowing.
While a pipe is idle, capture time follows the wall clock
(\fB\-\-live\-clock auto\fR), so a room that falls silent still ends.
SIGINT and SIGTERM end the input: every open track is finished, the manifest
written and the events sent; the exit status is 130 (SIGINT) or 143 (SIGTERM).
A second signal exits at once (during a session's commit, right after it):
files still being written stay under temporary names
(\fI.NAME.tmp\-PID\fR), which the next run into the same directory removes,
and every file under a final name is complete and listed in the manifest.
Runs into one directory accumulate sessions in its manifest.json; a session
recorded again replaces its own assets and files, and the manifest is
rewritten without them before their new files take their final names, so it
never lists a file that was replaced.
.SH "REPORT"
\fBrtprec report\fR \fIDIR\fR (or \fBrecord \-\-report\fR, at the end of the run)
writes \fIDIR\fR/report.html from manifest.json and timeline.json: one
self\-contained page (inline CSS and SVG, no script, nothing fetched) that
works opened from disk. Per session it shows a timeline (each peer's
presence, each track as a bar with its gaps in red, pauses in grey and
keyframes as ticks), the stats table, and per track a player (relative link
to the file) and plots per interval of bitrate, packets lost and recovered,
and jitter with the longest inter\-arrival gap. Every string from the
manifest is HTML\-escaped. With \fB\-o\fR \fIFILE\fR elsewhere, the links lead
from the page's directory to \fIDIR\fR.
.SH "DTLS\-SRTP"
Browser calls are DTLS\-SRTP: their media keys come from a DTLS handshake in
the call (RFC 5764). \fBrecord \-\-keylog\fR \fIFILE\fR takes the key log that one
end wrote where \fBSSLKEYLOGFILE\fR pointed (NSS format: \fBCLIENT_RANDOM\fR for
DTLS 1.2; \fBEXPORTER_SECRET\fR and \fBSERVER_HANDSHAKE_TRAFFIC_SECRET\fR for DTLS
1.3). Every DTLS handshake in the capture (plain UDP, TURN, ICE\-TCP) is
matched to its secret by the ClientHello random, and the SRTP keys are
exported as RFC 5764 section 4.2 says; the DTLS client's key decrypts what
the client sends, the server's what the server sends. pcapng Decryption
Secrets Blocks in the capture are used without \fB\-\-keylog\fR. A track whose
handshake has no secret in the key log fails with \fBdtls\-key\-missing\fR and
its message names the handshake (addresses, first 8 hex digits of the
client random); without any key log such tracks fail with
\fBencrypted\-no\-key\fR. The manifest's \fBdecryption\fR says per track how it
was decrypted. \fBstreams \-\-keylog\fR lists the handshakes and whether the
key log holds their secrets. Chromium's debug log with its RTP dump
(\fB\-\-force\-fieldtrials=WebRTC\-Debugging\-RtpDump/Enabled/ \-\-enable\-logging=stderr \-\-v=1\fR)
is read as a capture of plain RTP. Secrets are never printed.
.SH "EXAMPLES"
.TP
\fBrtprec record testdata/media\-opus\-vp8.pcap \-o recordings\fR
Record every track of the demo capture; the manifest is recordings/manifest.json.
.TP
\fBrtprec record call.pcapng \-m session.json \-o out \-\-json | jq '.assets[] | {track_id, status}'\fR
Record with session metadata and list each track's outcome.
.TP
\fBtcpdump \-i eth0 \-U \-w \- udp | rtprec record \- \-o out\fR
Record a live call: events and files come out as sessions end; Ctrl\-C finishes and exits 130.
.TP
\fBrtprec record call.pcap \-\-keylog ~/call\-keys.txt \-o out\fR
Record a browser call captured with tcpdump, with the key log the browser wrote (SSLKEYLOGFILE).
.TP
\fBrtprec record call.pcap \-o out \-\-report && xdg\-open out/report.html\fR
Record, then look at the session: timeline, loss and jitter over time, players.
.TP
\fBrtprec events replay out/events.spool.jsonl \-\-webhook https://hooks.example.com/rtprec \-\-webhook\-secret\-file whsec.txt\fR
Send the events a webhook could not take earlier, signed, with their original ids; exit 5 if some are still undeliverable.
.TP
\fBrtprec completions bash > ~/.local/share/bash\-completion/completions/rtprec\fR
Install bash completions (also zsh, fish, elvish, powershell).
.TP
\fBrtprec streams testdata/demo\-2peers\-opus\-vp8.pcap\fR
List the RTP streams of a capture.
.TP
\fBzcat call.pcap.gz | rtprec streams \-\-json \- | jq '.streams[].lost'\fR
Loss per stream of a capture read from standard input.
.SH "SEE ALSO"
\fBtshark\fR(1), \fBtcpdump\fR(1), \fBrtpdump\fR(1)
"#;
