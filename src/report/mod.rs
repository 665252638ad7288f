//! `rtprec report`: one self-contained HTML page per output directory.
//!
//! Reads `DIR/manifest.json` and `DIR/timeline.json` (written by `record`) and
//! renders, per session, a timeline (peers' presence, each track as a bar with
//! its gaps, pauses and keyframes), per-track plots (bitrate, packets lost and
//! recovered, jitter and longest inter-arrival gap), the stats table and a
//! player for each file. Everything is inline (CSS, SVG; no script, no network
//! resource), so the page works opened from disk; media elements link to the
//! files relatively, so the directory can be moved or served as it is.
//!
//! Every string from the manifest is HTML-escaped: ids come from user metadata.

mod svg;

use crate::assets::{Asset, Manifest, Status};
use crate::record::timeline::{TIMELINE_FILE, Timeline, TrackTimeline};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

/// Why no report could be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The manifest or the timeline could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The page could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The manifest or timeline is not what `record` writes.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Writes the report of the recording in `dir` to `out` (default `DIR/report.html`).
/// A missing timeline (a directory recorded by an older rtprec) leaves the
/// plots out; a missing manifest is an error. Returns the path written.
pub fn write_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf, ReportError> {
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|source| ReportError::Read {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| ReportError::Format {
        path: manifest_path.clone(),
        message: e.to_string(),
    })?;
    let timeline_path = dir.join(TIMELINE_FILE);
    let timeline = match std::fs::read(&timeline_path) {
        Ok(bytes) => {
            serde_json::from_slice::<Timeline>(&bytes).map_err(|e| ReportError::Format {
                path: timeline_path.clone(),
                message: e.to_string(),
            })?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Timeline::default(),
        Err(source) => {
            return Err(ReportError::Read {
                path: timeline_path,
                source,
            });
        }
    };
    let out = out.map_or_else(|| dir.join("report.html"), Path::to_path_buf);
    let prefix = link_prefix(dir, &out);
    let html = render(&manifest, &timeline, &prefix);
    // A temporary file renamed when complete: a page is never seen half-written.
    let io = |source: std::io::Error| ReportError::Write {
        path: out.clone(),
        source,
    };
    let mux = |e: crate::mux::MuxError| io(std::io::Error::other(e));
    let mut f = crate::mux::atomic::AtomicFile::create(&out).map_err(mux)?;
    std::io::Write::write_all(&mut f, html.as_bytes()).map_err(io)?;
    f.finish().map_err(mux)?;
    Ok(out)
}

/// What to put before an asset's path (relative to `dir`) for a link from the
/// page at `out`: nothing when the page is in `dir`, else the way from the
/// page's directory to `dir` (`../rec/`), or `dir` as a `file://` URL when no
/// relative way is known (another drive).
fn link_prefix(dir: &Path, out: &Path) -> String {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .map(|p| normalize(&p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let dir = abs(dir);
    let page_dir = abs(out.parent().unwrap_or(Path::new(".")));
    let (d, p): (Vec<_>, Vec<_>) = (dir.components().collect(), page_dir.components().collect());
    if d.first() != p.first() {
        return format!("file://{}/", url_path(&dir.to_string_lossy()));
    }
    let common = d.iter().zip(&p).take_while(|(a, b)| a == b).count();
    let mut rel = String::new();
    for _ in common..p.len() {
        rel.push_str("../");
    }
    for c in &d[common..] {
        rel.push_str(&url_path(&c.as_os_str().to_string_lossy()));
        rel.push('/');
    }
    rel
}

/// `p` without `.` and with `..` applied (no symbolic links are resolved).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a relative path for a URL (`/` kept, everything but
/// unreserved characters encoded), so `#`, `?` or spaces in ids stay in the path.
pub fn url_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `s` with `& < > " '` escaped, for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}\
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
h3{font-size:1.05em;margin:1.2em 0 .4em}\
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}\
td.l,th.l{text-align:left}td.f{min-width:16em;max-width:26em;word-break:break-all}tr.failed td{background:#fdecea}tr.skipped td{color:#888}\
.track{border:1px solid #e3e3e3;border-radius:4px;padding:.5em 1em;margin:.8em 0}\
.plots{display:flex;flex-wrap:wrap;gap:8px}svg{background:#fafafa;border:1px solid #eee}\
.err{color:#b00020}.note{color:#666}video{max-width:480px;max-height:270px;display:block}\
.legend span{margin-right:1em}.sw{display:inline-block;width:10px;height:10px;margin-right:3px}";

/// The report page of `manifest` and its `timeline`; asset paths are linked
/// as `prefix` + path (see [`write_report`]).
pub fn render(manifest: &Manifest, timeline: &Timeline, prefix: &str) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<title>rtprec report</title>\n<style>");
    h.push_str(STYLE);
    h.push_str("</style>\n</head>\n<body>\n<h1>rtprec report</h1>\n");
    let _ = writeln!(
        h,
        "<p class=\"note\">{} · identification: {} · inputs: {}</p>",
        escape(&manifest.generator),
        escape(&manifest.identification),
        escape(&manifest.inputs.join(", "))
    );
    // Sessions in manifest order (sorted by room, session, peer, track).
    let mut sessions: BTreeMap<(&str, &str), Vec<&Asset>> = BTreeMap::new();
    for a in &manifest.assets {
        sessions
            .entry((a.room_id.as_str(), a.session_id.as_str()))
            .or_default()
            .push(a);
    }
    if sessions.is_empty() {
        h.push_str("<p class=\"note\">The manifest lists no track.</p>\n");
    }
    for ((room, session), assets) in &sessions {
        let _ = writeln!(
            h,
            "<section class=\"session\">\n<h2>Room {} · session {}</h2>",
            escape(room),
            escape(session)
        );
        let any_series = assets.iter().any(|a| {
            timeline
                .tracks
                .get(&a.id)
                .is_some_and(|t| !t.packets.is_empty())
        });
        if any_series {
            h.push_str(&svg::session_timeline(assets, &timeline.tracks));
        } else {
            // Only drawings with data: a page from an older recording has no timeline.
            h.push_str("<p class=\"note\">No timeline: no track of this session has a time series (timeline.json).</p>\n");
        }
        stats_table(&mut h, assets);
        for a in assets {
            track_section(&mut h, a, timeline.tracks.get(&a.id), prefix);
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn kind_name(a: &Asset) -> &'static str {
    match a.kind {
        crate::session::Kind::Audio => "audio",
        crate::session::Kind::Video => "video",
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

fn stats_table(h: &mut String, assets: &[&Asset]) {
    h.push_str("<table class=\"stats\">\n<tr><th class=\"l\">peer</th><th class=\"l\">track</th><th class=\"l\">kind</th><th class=\"l\">codec</th><th class=\"l\">status</th><th>duration ms</th><th>start offset ms</th><th>packets</th><th>lost</th><th>recovered</th><th>duplicates</th><th>late</th><th>gaps</th><th>pauses</th><th>paused ms</th><th>frames</th><th class=\"l\">file or error</th></tr>\n");
    for a in assets {
        let s = &a.stats;
        let opt = |v: Option<String>| v.unwrap_or_else(|| "–".into());
        let file = match (&a.path, &a.error) {
            (Some(p), _) => escape(p),
            (None, Some(e)) => format!(
                "<span class=\"err\">{}: {}</span>",
                escape(&e.code),
                escape(&e.message)
            ),
            (None, None) => "–".into(),
        };
        let _ = writeln!(
            h,
            "<tr class=\"{st}\"><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{st}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l f\">{file}</td></tr>",
            escape(&a.peer_id),
            escape(&a.track_id),
            kind_name(a),
            escape(a.codec.as_deref().unwrap_or("?")),
            opt(a.duration_ms.map(|d| d.to_string())),
            opt(a.start_offset_ms.map(|d| d.to_string())),
            s.packets,
            s.lost,
            s.recovered,
            s.duplicates,
            s.late,
            s.gaps,
            s.pauses,
            s.paused_ms,
            s.frames_written,
            st = status_name(a.status),
        );
    }
    h.push_str("</table>\n");
}

fn track_section(h: &mut String, a: &Asset, series: Option<&TrackTimeline>, prefix: &str) {
    let _ = writeln!(
        h,
        "<div class=\"track\" id=\"t-{}\">\n<h3>{} / {} <span class=\"note\">({} {}, {})</span></h3>",
        escape(&a.id),
        escape(&a.peer_id),
        escape(&a.track_id),
        kind_name(a),
        escape(a.codec.as_deref().unwrap_or("?")),
        status_name(a.status)
    );
    match (&a.path, a.status) {
        (Some(path), Status::Completed) => {
            let src = escape(&format!("{prefix}{}", url_path(path)));
            let tag = kind_name(a);
            let _ = writeln!(
                h,
                "<{tag} controls preload=\"metadata\" src=\"{src}\" data-asset=\"{}\"></{tag}>",
                escape(&a.id)
            );
        }
        _ => {
            let why = a
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.code, e.message))
                .unwrap_or_else(|| "no file".into());
            let _ = writeln!(h, "<p class=\"err\">No file: {}</p>", escape(&why));
        }
    }
    match series {
        Some(t) if !t.packets.is_empty() => {
            h.push_str("<div class=\"plots\">\n");
            h.push_str(&svg::track_plots(t));
            h.push_str("</div>\n");
            if t.events_dropped > 0 {
                let _ = writeln!(
                    h,
                    "<p class=\"note\">{} events beyond the timeline's limit are not shown.</p>",
                    t.events_dropped
                );
            }
        }
        _ => h.push_str(
            "<p class=\"note\">No time series: no packet of this track arrived (or timeline.json does not list it).</p>\n",
        ),
    }
    h.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::{Failure, FailureCode};
    use crate::events::fixtures::asset;

    fn manifest(assets: Vec<Asset>) -> Manifest {
        Manifest {
            version: crate::assets::MANIFEST_VERSION,
            generator: "rtprec test".into(),
            inputs: vec!["a.pcap".into()],
            identification: "inferred".into(),
            assets,
        }
    }

    fn series() -> TrackTimeline {
        TrackTimeline {
            start_ms: 1_000,
            end_ms: 2_950,
            interval_ms: 1_000,
            packets: vec![50, 48, 50],
            bytes: vec![5_000, 4_800, 5_000],
            lost: vec![0, 2, 0],
            recovered: vec![0, 1, 0],
            jitter_us: vec![100, 900, 200],
            max_gap_ms: vec![20, 60, 20],
            keyframes: vec![1, 0, 1],
            gaps: vec![[1_200, 1_260, 2]],
            pauses: vec![[2_100, 2_700]],
            keyframe_ms: vec![0, 2_500],
            events_dropped: 0,
        }
    }

    #[test]
    fn escapes_every_string_from_the_manifest() {
        let mut a = asset("mic", Status::Completed);
        a.room_id = "<script>alert(1)</script>".into();
        a.peer_id = "p\"onload=\"x".into();
        a.track_id = "t'&".into();
        a.path = Some("r/<b>/a b#1.ogg".into());
        let html = render(&manifest(vec![a]), &Timeline::default(), "");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("p\"onload"));
        assert!(html.contains("t&#39;&amp;"));
        assert!(html.contains("src=\"r/%3Cb%3E/a%20b%231.ogg\""), "{html}");
    }

    #[test]
    fn failed_tracks_have_no_player_and_say_why() {
        let mut a = asset("mic", Status::Failed);
        a.error = Some(Failure::new(FailureCode::NoMedia, "no RTP <packet>"));
        let html = render(&manifest(vec![a]), &Timeline::default(), "");
        assert!(!html.contains("<audio") && !html.contains("<video"));
        assert!(html.contains("no-media: no RTP &lt;packet&gt;"));
        assert!(html.contains("No time series"));
    }

    #[test]
    fn plots_carry_their_points() {
        let mut a = asset("cam", Status::Completed);
        a.path = Some("x.webm".into());
        let mut t = Timeline::default();
        t.tracks.insert(a.id.clone(), series());
        let html = render(&manifest(vec![a]), &t, "../rec/");
        for plot in ["timeline", "bitrate", "loss", "jitter"] {
            assert!(html.contains(&format!("data-plot=\"{plot}\"")), "{plot}");
        }
        assert!(!html.contains("data-points=\"0\""), "{html}");
        assert!(html.contains("<video controls preload=\"metadata\" src=\"../rec/x.webm\""));
        // Gap, pause and keyframes are drawn on the session timeline.
        for class in ["gap", "pause", "keyframe"] {
            assert!(html.contains(&format!("class=\"{class}\"")), "{class}");
        }
    }

    #[test]
    fn an_empty_manifest_and_an_empty_series_render() {
        let html = render(&manifest(vec![]), &Timeline::default(), "");
        assert!(html.contains("lists no track"));
        let a = asset("mic", Status::Completed);
        let mut t = Timeline::default();
        t.tracks.insert(a.id.clone(), TrackTimeline::default());
        let html = render(&manifest(vec![a]), &t, "");
        assert!(html.contains("No time series"));
        assert!(!html.contains("data-points=\"0\""), "{html}");
    }

    #[test]
    fn links_lead_from_the_page_to_the_directory() {
        assert_eq!(
            link_prefix(Path::new("/a/rec"), Path::new("/a/rec/r.html")),
            ""
        );
        assert_eq!(
            link_prefix(Path::new("/a/rec"), Path::new("/a/www/r.html")),
            "../rec/"
        );
        assert_eq!(
            link_prefix(Path::new("/a/my rec"), Path::new("/r.html")),
            "a/my%20rec/"
        );
    }
}
