//! Human output: the streams table; machine output: JSON.

use crate::pipeline::StreamsOutput;
use std::io::{self, Write};

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
                s.codec
                    .map_or_else(|| "?".to_string(), |c| format!("{c:?}").to_lowercase()),
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
