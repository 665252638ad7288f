//! The report's SVG: the session timeline and the per-track plots, written
//! as plain SVG text (a few rectangles, lines and polylines need no plotting
//! library). Every drawing is an `<svg data-plot=NAME data-points=N>`, N the
//! number of data points drawn, which the browser test checks.

use super::escape;
use crate::assets::Asset;
use crate::record::timeline::TrackTimeline;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const WIDTH: f64 = 960.0;
const LABEL: f64 = 230.0;
const ROW: f64 = 22.0;
const PLOT_W: f64 = 300.0;
const PLOT_H: f64 = 150.0;
const MARGIN_L: f64 = 46.0;
const MARGIN_B: f64 = 22.0;
const MARGIN_T: f64 = 30.0;

/// End of a track's bar: its last packet, or the end of its last event, in ms after its `start_ms`.
fn span_ms(t: &TrackTimeline) -> i64 {
    let events = t
        .gaps
        .iter()
        .map(|g| g[1])
        .chain(t.pauses.iter().map(|p| p[1]))
        .max()
        .unwrap_or(0);
    t.end_ms.max(events)
}

/// The session's timeline: per peer a presence bar (first to last packet of
/// its tracks), then each track as a bar with its gaps (red), pauses (grey)
/// and keyframes (ticks). Tracks without a series are listed with a note.
pub(super) fn session_timeline(
    assets: &[&Asset],
    series: &BTreeMap<String, TrackTimeline>,
) -> String {
    let of = |a: &Asset| series.get(&a.id).filter(|t| !t.packets.is_empty());
    let t0 = assets
        .iter()
        .filter_map(|a| of(a))
        .map(|t| t.start_ms)
        .min();
    let t1 = assets
        .iter()
        .filter_map(|a| of(a))
        .map(|t| t.start_ms.saturating_add(span_ms(t)))
        .max();
    let (t0, t1) = (t0.unwrap_or(0), t1.unwrap_or(0));
    let total = (t1 - t0).max(1) as f64;
    let x = |ms: i64| LABEL + (ms - t0) as f64 / total * (WIDTH - LABEL - 10.0);
    // Peers in manifest order, each with its tracks.
    let mut peers: Vec<(&str, Vec<&Asset>)> = Vec::new();
    for a in assets {
        match peers.iter_mut().find(|(p, _)| *p == a.peer_id) {
            Some((_, v)) => v.push(a),
            None => peers.push((&a.peer_id, vec![a])),
        }
    }
    let rows = peers.iter().map(|(_, v)| v.len() + 1).sum::<usize>();
    let height = ROW * rows as f64 + MARGIN_B + 6.0;
    let mut body = String::new();
    let mut points = 0usize;
    let mut y = 4.0;
    for (peer, tracks) in &peers {
        let present: Vec<(i64, i64)> = tracks
            .iter()
            .filter_map(|a| of(a))
            .map(|t| (t.start_ms, t.start_ms.saturating_add(span_ms(t))))
            .collect();
        let _ = write!(
            body,
            "<text x=\"4\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
            y + 14.0,
            escape(peer)
        );
        if let (Some(s), Some(e)) = (
            present.iter().map(|p| p.0).min(),
            present.iter().map(|p| p.1).max(),
        ) {
            let _ = write!(
                body,
                "<rect class=\"presence\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"6\" fill=\"#4a7\"><title>{} present {:.1}–{:.1} s</title></rect>",
                x(s),
                y + 8.0,
                (x(e) - x(s)).max(1.0),
                escape(peer),
                (s - t0) as f64 / 1000.0,
                (e - t0) as f64 / 1000.0
            );
            points += 1;
        }
        y += ROW;
        for a in tracks {
            let _ = write!(
                body,
                "<text x=\"16\" y=\"{:.1}\">{} <tspan fill=\"#777\">({})</tspan></text>",
                y + 14.0,
                escape(&a.track_id),
                escape(a.codec.as_deref().unwrap_or("?"))
            );
            let Some(t) = of(a) else {
                let _ = write!(
                    body,
                    "<text x=\"{LABEL:.1}\" y=\"{:.1}\" fill=\"#b00020\">no media ({})</text>",
                    y + 14.0,
                    escape(a.error.as_ref().map_or("no series", |e| e.code.as_str()))
                );
                y += ROW;
                continue;
            };
            let s = t.start_ms;
            let fill = if a.kind == crate::session::Kind::Video {
                "#6a8fd8"
            } else {
                "#e0a040"
            };
            // A track without a file is drawn faded: its packets came, nothing plays.
            let (opacity, outcome) = match &a.error {
                Some(e) if a.path.is_none() => ("0.4", format!(", failed: {}", e.code)),
                _ => ("1", String::new()),
            };
            let _ = write!(
                body,
                "<rect class=\"track\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" fill=\"{fill}\" fill-opacity=\"{opacity}\"><title>{}: {} packets, {} lost{}</title></rect>",
                x(s),
                y + 3.0,
                (x(s + span_ms(t)) - x(s)).max(1.0),
                escape(&a.track_id),
                a.stats.packets,
                a.stats.lost,
                escape(&outcome)
            );
            points += 1;
            for p in &t.pauses {
                let _ = write!(
                    body,
                    "<rect class=\"pause\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" fill=\"#bbb\"><title>pause {} ms</title></rect>",
                    x(s + p[0]),
                    y + 3.0,
                    (x(s + p[1]) - x(s + p[0])).max(1.0),
                    p[1] - p[0]
                );
            }
            for g in &t.gaps {
                let _ = write!(
                    body,
                    "<rect class=\"gap\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" fill=\"#d33\"><title>gap: {} lost</title></rect>",
                    x(s + g[0]),
                    y + 3.0,
                    (x(s + g[1]) - x(s + g[0])).max(1.5),
                    g[2]
                );
            }
            for k in &t.keyframe_ms {
                let kx = x(s + k);
                let _ = write!(
                    body,
                    "<line class=\"keyframe\" x1=\"{kx:.1}\" x2=\"{kx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#123\" stroke-width=\"1\"/>",
                    y + 1.0,
                    y + 19.0
                );
            }
            y += ROW;
        }
    }
    // The time axis: the start, the middle and the end, in seconds.
    for f in [0.0, 0.5, 1.0] {
        let ms = t0 + (total * f) as i64;
        let _ = write!(
            body,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{:.1} s</text>",
            x(ms).clamp(LABEL + 12.0, WIDTH - 24.0),
            y + 14.0,
            (ms - t0) as f64 / 1000.0
        );
    }
    format!(
        "<svg class=\"plot\" data-plot=\"timeline\" data-points=\"{points}\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"12\" font-family=\"sans-serif\"><title>session timeline</title>{body}</svg>\n<p class=\"legend note\"><span><i class=\"sw\" style=\"background:#4a7\"></i>peer present</span><span><i class=\"sw\" style=\"background:#e0a040\"></i>audio</span><span><i class=\"sw\" style=\"background:#6a8fd8\"></i>video</span><span><i class=\"sw\" style=\"background:#d33\"></i>gap (loss)</span><span><i class=\"sw\" style=\"background:#bbb\"></i>pause</span><span><i class=\"sw\" style=\"background:#123\"></i>keyframe</span></p>\n"
    )
}

/// One line of a plot.
struct Series<'a> {
    name: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

/// The three plots of a track: bitrate, lost and recovered packets, jitter
/// and the longest inter-arrival gap; one point per interval.
pub(super) fn track_plots(t: &TrackTimeline) -> String {
    let secs = t.interval_ms.max(1) as f64 / 1000.0;
    let per_s = |v: f64| v / secs;
    let mut out = String::new();
    out.push_str(&plot(
        "bitrate",
        "bitrate (kbit/s)",
        t.interval_ms,
        &[Series {
            name: "payload",
            color: "#2b6cb0",
            values: t
                .bytes
                .iter()
                .map(|&b| per_s(b as f64 * 8.0 / 1000.0))
                .collect(),
        }],
    ));
    out.push_str(&plot(
        "loss",
        "packets lost / recovered",
        t.interval_ms,
        &[
            Series {
                name: "lost",
                color: "#d33",
                values: t.lost.iter().map(|&v| f64::from(v)).collect(),
            },
            Series {
                name: "recovered",
                color: "#2a2",
                values: t.recovered.iter().map(|&v| f64::from(v)).collect(),
            },
        ],
    ));
    out.push_str(&plot(
        "jitter",
        "jitter / max inter-arrival (ms)",
        t.interval_ms,
        &[
            Series {
                name: "jitter",
                color: "#805ad5",
                values: t.jitter_us.iter().map(|&v| f64::from(v) / 1000.0).collect(),
            },
            Series {
                name: "max inter-arrival",
                color: "#dd6b20",
                values: t.max_gap_ms.iter().map(|&v| f64::from(v)).collect(),
            },
        ],
    ));
    out
}

/// A step plot: each interval a horizontal segment at its value.
fn plot(id: &str, title: &str, interval_ms: u64, series: &[Series<'_>]) -> String {
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0f64, f64::max);
    // A flat zero line still shows: the axis goes to 1.
    let ymax = if max > 0.0 { max * 1.1 } else { 1.0 };
    let (w, h) = (PLOT_W - MARGIN_L - 8.0, PLOT_H - MARGIN_T - MARGIN_B);
    let x = |i: usize| MARGIN_L + i as f64 / n.max(1) as f64 * w;
    let y = |v: f64| MARGIN_T + h - v / ymax * h;
    let mut body = String::new();
    let _ = write!(
        body,
        "<text x=\"4\" y=\"14\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    // Axes and their extremes.
    let _ = write!(
        body,
        "<line x1=\"{MARGIN_L}\" y1=\"{MARGIN_T}\" x2=\"{MARGIN_L}\" y2=\"{:.1}\" stroke=\"#999\"/><line x1=\"{MARGIN_L}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>",
        MARGIN_T + h,
        MARGIN_T + h,
        MARGIN_L + w,
        MARGIN_T + h
    );
    let _ = write!(
        body,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">0</text>",
        MARGIN_L - 3.0,
        MARGIN_T + 4.0,
        short(ymax),
        MARGIN_L - 3.0,
        MARGIN_T + h
    );
    let _ = write!(
        body,
        "<text x=\"{MARGIN_L}\" y=\"{:.1}\" fill=\"#555\">0 s</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{} s</text>",
        PLOT_H - 6.0,
        MARGIN_L + w,
        PLOT_H - 6.0,
        short(n as f64 * interval_ms as f64 / 1000.0)
    );
    let mut points = 0;
    for (k, s) in series.iter().enumerate() {
        let mut pts = String::new();
        for (i, &v) in s.values.iter().enumerate() {
            let _ = write!(pts, "{:.1},{:.1} {:.1},{:.1} ", x(i), y(v), x(i + 1), y(v));
        }
        points += s.values.len();
        let _ = write!(
            body,
            "<polyline data-series=\"{}\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>",
            escape(s.name),
            pts.trim_end(),
            s.color
        );
        // Legend, top right.
        let lx = PLOT_W - 8.0 - 110.0 * (series.len() - k) as f64;
        let _ = write!(
            body,
            "<rect x=\"{lx:.1}\" y=\"18\" width=\"8\" height=\"8\" fill=\"{}\"/><text x=\"{:.1}\" y=\"26\" font-size=\"10\">{}</text>",
            s.color,
            lx + 11.0,
            escape(s.name)
        );
    }
    format!(
        "<svg class=\"plot\" data-plot=\"{id}\" data-points=\"{points}\" width=\"{PLOT_W}\" height=\"{PLOT_H}\" viewBox=\"0 0 {PLOT_W} {PLOT_H}\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"11\" font-family=\"sans-serif\"><title>{}</title>{body}</svg>\n",
        escape(title)
    )
}

/// A short number for an axis label.
fn short(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
