//! Human output: the streams and record tables; machine output: JSON.

use crate::assets::{Asset, Manifest, Status};
use crate::pipeline::StreamsOutput;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes the report as one pretty JSON document and a newline.
pub fn write_json(out: &mut dyn Write, o: &StreamsOutput) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, o).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

/// Writes the streams as an aligned table.
pub fn write_table(out: &mut dyn Write, o: &StreamsOutput) -> io::Result<()> {
    const HEAD: [&str; 17] = [
        "SRC",
        "DST",
        "PROTO",
        "SSRC",
        "PT",
        "CODEC",
        "PKTS",
        "LOST",
        "DUP",
        "REORD",
        "SEQERR",
        "RESTART",
        "START(s)",
        "DUR(s)",
        "MAXDELTA(ms)",
        "JITTER(ms) mean/max",
        "KBPS",
    ];
    let rows: Vec<[String; 17]> = o
        .report
        .streams
        .iter()
        .map(|s| {
            let proto = match s.encapsulation.as_slice() {
                [e] if *e == "plain" => format!("{:?}", s.transport).to_lowercase(),
                es => format!(
                    "{}/{}",
                    format!("{:?}", s.transport).to_lowercase(),
                    es.join("+")
                ),
            };
            [
                s.src.clone(),
                s.dst.clone(),
                proto,
                s.ssrc.clone(),
                s.payload_types
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                {
                    let codec = s
                        .codec
                        .map_or_else(|| "?".to_string(), |c| format!("{c:?}").to_lowercase());
                    // Encrypted streams say so: their payloads are not the codec's.
                    match s.encrypted {
                        Some(how) => format!("{codec} ({})", how.to_uppercase()),
                        None => codec,
                    }
                },
                s.packets.to_string(),
                s.lost.to_string(),
                s.duplicates.to_string(),
                s.reordered.to_string(),
                s.sequence_errors.to_string(),
                s.restarts.to_string(),
                format!("{:.3}", s.start_s),
                format!("{:.3}", s.duration_s),
                format!("{:.1}", s.max_delta_ms),
                match (s.mean_jitter_ms, s.max_jitter_ms) {
                    (Some(a), Some(b)) => format!("{a:.2}/{b:.2}"),
                    _ => "-".into(),
                },
                opt(s.bitrate_kbps, 1),
            ]
        })
        .collect();
    // Counters right-aligned (from PKTS on), text left-aligned.
    write_aligned(out, &HEAD, &rows, 6)?;
    let c = &o.report.classified;
    writeln!(
        out,
        "{} stream(s), {} RTP packets, {} RTCP, {} frames read; not RTP: {} STUN, {} DTLS, {} other, {} rejected RTP-like",
        o.report.streams.len(),
        c.rtp,
        c.rtcp,
        o.frames,
        c.stun,
        c.dtls,
        c.other,
        c.rtp_rejected
    )?;
    for (i, a) in o.report.dtls.iter().enumerate() {
        writeln!(
            out,
            "DTLS #{i}: {} {} -> {} ({}), client_random {}…, SRTP {}, key: {}{}",
            a.version
                .map_or("DTLS".to_string(), |v| format!("DTLS {v}")),
            a.client,
            a.server,
            match a.transport {
                crate::net::Transport::Udp => "udp",
                crate::net::Transport::Tcp => "tcp",
            },
            a.client_random_prefix,
            a.profile.map_or_else(
                || match a.profiles_offered.as_slice() {
                    [] => "none offered".to_string(),
                    offered => format!("one of {}", offered.join(", ")),
                },
                str::to_string
            ),
            a.key,
            if a.streams.is_empty() {
                String::new()
            } else {
                format!("; keys streams {}", a.streams.join(", "))
            }
        )?;
    }
    for s in o
        .report
        .streams
        .iter()
        .filter(|s| !s.codec_evidence.is_empty())
    {
        writeln!(
            out,
            "  {} {}: {}",
            s.ssrc,
            s.codec
                .map_or("?".into(), |c| format!("{c:?}").to_lowercase()),
            s.codec_evidence
        )?;
    }
    Ok(())
}

/// Writes `head` and `rows` as columns two spaces apart; columns from `right_from` on are right-aligned.
pub fn write_aligned<R: AsRef<[String]>>(
    out: &mut dyn Write,
    head: &[&str],
    rows: &[R],
    right_from: usize,
) -> io::Result<()> {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r.as_ref()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let w = widths.get(i).copied().unwrap_or(0);
            if i >= right_from {
                s.push_str(&format!("{c:>w$}"));
            } else {
                s.push_str(&format!("{c:<w$}"));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(&mut head.iter().copied()))?;
    for r in rows {
        writeln!(out, "{}", line(&mut r.as_ref().iter().map(String::as_str)))?;
    }
    Ok(())
}

/// Why a completed track is not a clean recording, from its manifest stats; `None` when it is.
///
/// A track that lost seconds of video waiting for a keyframe, or whose file is
/// much shorter than the time its packets span, plays, but not as the call
/// happened: a table that says only "completed" would read as a clean success.
pub fn degraded(a: &Asset) -> Option<String> {
    if a.status != Status::Completed {
        return None;
    }
    let s = &a.stats;
    let span_ms = track_span_ms(a);
    let whole = span_ms.or(a.duration_ms);
    let mut reasons = Vec::new();
    if s.frames_dropped_until_keyframe > 0 {
        let frames =
            s.frames_written + s.frames_dropped_until_keyframe + s.frames_dropped_incomplete;
        match whole.filter(|_| frames > 0) {
            // Frames are about evenly spaced: the dropped share of the frames is the lost share of the time.
            Some(whole) => reasons.push(format!(
                "{} of {} video lost waiting for a keyframe",
                secs(
                    (whole as f64 * s.frames_dropped_until_keyframe as f64 / frames as f64) as u64
                ),
                secs(whole)
            )),
            None => reasons.push(format!(
                "{} video frames lost waiting for a keyframe",
                s.frames_dropped_until_keyframe
            )),
        }
    } else if let (Some(d), Some(span)) = (a.duration_ms, span_ms)
        // Below 90%: a frame or two short at either end is normal, a missing stretch is not.
        && d.saturating_mul(10) < span.saturating_mul(9)
    {
        reasons.push(format!("{} of {} recorded", secs(d), secs(span)));
    }
    if s.lost > 0 {
        reasons.push(format!(
            "{} lost{}",
            plural(s.lost, "packet"),
            if s.gaps > 1 {
                format!(" in {} gaps", s.gaps)
            } else {
                String::new()
            }
        ));
    } else if s.frames_dropped_incomplete > 0 {
        reasons.push(format!(
            "{} dropped incomplete",
            plural(s.frames_dropped_incomplete, "frame")
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// Capture time from a track's first to its last packet, in ms, when both are known.
fn track_span_ms(a: &Asset) -> Option<u64> {
    use crate::session::metadata::parse_rfc3339;
    let start = parse_rfc3339(a.started_at.as_deref()?).ok()?;
    let stop = parse_rfc3339(a.stopped_at.as_deref()?).ok()?;
    u64::try_from(stop.nanos_since(start) / 1_000_000).ok()
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `path` as shown to a person: relative to the current directory when it is under it, as given otherwise.
pub fn display_path(path: &Path) -> String {
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    // `-o .` (the default) joins to `./room/...`: the `./` says nothing.
    let rel: PathBuf = rel
        .components()
        .skip_while(|c| matches!(c, std::path::Component::CurDir))
        .collect();
    if rel.as_os_str().is_empty() {
        ".".into()
    } else {
        rel.display().to_string()
    }
}

/// The status cell of a track: `ok`, `degraded: why`, `failed: CODE` or `skipped`.
pub fn track_status(a: &Asset) -> String {
    match a.status {
        Status::Completed => {
            degraded(a).map_or_else(|| "ok".into(), |why| format!("degraded: {why}"))
        }
        Status::Failed => format!(
            "failed: {}",
            a.error.as_ref().map_or("unknown", |e| e.code.as_str())
        ),
        Status::Skipped => "skipped".into(),
    }
}

/// Writes the tracks of a manifest as an aligned table for a terminal (paths
/// relative to the current directory; `out_dir` is the manifest's directory).
pub fn write_record_table(out: &mut dyn Write, m: &Manifest, out_dir: &Path) -> io::Result<()> {
    const HEAD: [&str; 9] = [
        "SESSION",
        "PEER",
        "TRACK",
        "KIND",
        "CODEC",
        "DUR(s)",
        "LOST/RECOV",
        "STATUS",
        "PATH",
    ];
    let rows: Vec<[String; 9]> = m
        .assets
        .iter()
        .map(|a| {
            [
                a.session_id.clone(),
                a.peer_id.clone(),
                a.track_id.clone(),
                match a.kind {
                    crate::session::Kind::Audio => "audio".into(),
                    crate::session::Kind::Video => "video".into(),
                },
                a.codec.clone().unwrap_or_else(|| "?".into()),
                a.duration_ms
                    .map_or_else(|| "-".into(), |d| format!("{:.1}", d as f64 / 1000.0)),
                format!("{}/{}", a.stats.lost, a.stats.recovered),
                track_status(a),
                a.path
                    .as_ref()
                    .map_or_else(|| "-".into(), |p| display_path(&out_dir.join(p))),
            ]
        })
        .collect();
    write_aligned(out, &HEAD, &rows, usize::MAX)?;
    let count = |st: Status| m.assets.iter().filter(|a| a.status == st).count();
    let degraded = m.assets.iter().filter(|a| degraded(a).is_some()).count();
    writeln!(
        out,
        "{} track(s): {} ok, {degraded} degraded, {} failed, {} skipped",
        m.assets.len(),
        count(Status::Completed).saturating_sub(degraded),
        count(Status::Failed),
        count(Status::Skipped)
    )
}
