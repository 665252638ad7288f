//! `rtprec compose`: one file of a whole session, built by ffmpeg.
//!
//! The session's completed video tracks are laid out in a grid (`ceil(sqrt(n))`
//! columns, tiles in manifest order: peer, then track) and its completed audio
//! tracks mixed, each placed at its `start_offset_ms` on the session timeline.
//! rtprec only builds the ffmpeg command ([`build_command`], a pure function);
//! ffmpeg decodes, scales, mixes and encodes: it is the tool of the field for
//! this, and rtprec has no video decoder of its own.
//!
//! The filter graph, per video track: `setpts=PTS-STARTPTS` (the file's first
//! frame is the track's start), `fps` (xstack needs frames at the same
//! times), `scale` + `pad` to the tile (aspect kept, black bars), then `tpad`
//! adds black frames for the track's offset before it and black after it;
//! `xstack` lays the tiles out (`fill=black` for empty grid cells). Per audio
//! track: `aresample` to 48 kHz, `adelay` by its offset; `amix` with
//! `normalize=0` sums the tracks (each at its own level, as a listener in the
//! call heard them; the sum may clip where several talk at once) and `apad`
//! pads to the end. `-t` cuts the output at the session's span: from the
//! earliest track start to the latest track end.
//!
//! The output format follows `-o`'s extension: `.mp4` is H.264 (libx264) +
//! AAC, `.webm` VP8 (libvpx) + Opus (libopus).

use crate::assets::{Manifest, Status};
use crate::session::Kind;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Why a session cannot be composed.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// No `manifest.json` in the session directory or above it.
    #[error("{}: no manifest.json here or in a directory above (is it OUT/<room>/<session> of a recording?)", .0.display())]
    NoManifest(PathBuf),
    /// The manifest could not be read or parsed.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The directory is not a session directory of that manifest.
    #[error("{}: not a session directory of {} (expected OUT/<room>/<session>)", dir.display(), manifest.display())]
    NotASession {
        /// The directory given.
        dir: PathBuf,
        /// The manifest found.
        manifest: PathBuf,
    },
    /// The session has no completed track with a start offset.
    #[error("session {0} has no completed audio or video track to compose")]
    NoTracks(String),
    /// The output's extension names no format compose writes.
    #[error("{}: the output must end in .mp4 (H.264 + AAC) or .webm (VP8 + Opus)", .0.display())]
    OutputFormat(PathBuf),
    /// ffmpeg could not be started.
    #[error(
        "ffmpeg could not be run ({0}): install ffmpeg (Debian: apt-get install ffmpeg), or use --print to see the command"
    )]
    FfmpegMissing(std::io::Error),
    /// ffmpeg ran and failed.
    #[error("ffmpeg failed ({0})")]
    FfmpegFailed(std::process::ExitStatus),
}

/// One track to place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The track's file.
    pub path: PathBuf,
    /// Audio or video.
    pub kind: Kind,
    /// Start on the session timeline, ms.
    pub offset_ms: i64,
    /// Duration, ms.
    pub duration_ms: u64,
}

/// A session's tracks, ready to compose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// `room/session`.
    pub name: String,
    /// Its completed tracks, in manifest order.
    pub tracks: Vec<Placed>,
}

impl Session {
    /// Earliest start and latest end on the session timeline, ms.
    pub fn bounds_ms(&self) -> (i64, i64) {
        let start = self.tracks.iter().map(|t| t.offset_ms).min().unwrap_or(0);
        let end = self
            .tracks
            .iter()
            .map(|t| t.offset_ms.saturating_add_unsigned(t.duration_ms))
            .max()
            .unwrap_or(0);
        (start, end)
    }
}

/// Layout and encoding settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComposeOptions {
    /// Width of a tile, pixels (even).
    pub tile_width: u32,
    /// Height of a tile, pixels (even).
    pub tile_height: u32,
    /// Output frame rate.
    pub fps: u32,
}

impl Default for ComposeOptions {
    fn default() -> Self {
        ComposeOptions {
            tile_width: 640,
            tile_height: 360,
            fps: 30,
        }
    }
}

/// Finds the manifest of `session_dir` (`OUT/<room>/<session>`): `manifest.json`
/// in the directory or the nearest one above it; returns its path and directory.
pub fn find_manifest(session_dir: &Path) -> Result<(PathBuf, PathBuf), ComposeError> {
    let abs = std::path::absolute(session_dir).unwrap_or_else(|_| session_dir.to_path_buf());
    abs.ancestors()
        .map(|d| (d.join("manifest.json"), d.to_path_buf()))
        .find(|(m, _)| m.is_file())
        .ok_or_else(|| ComposeError::NoManifest(session_dir.to_path_buf()))
}

/// Reads the manifest above `session_dir` and takes the session's completed tracks.
pub fn load_session(session_dir: &Path) -> Result<Session, ComposeError> {
    let (manifest_path, out_dir) = find_manifest(session_dir)?;
    let manifest =
        crate::verify::read_manifest(&manifest_path).map_err(|e| ComposeError::Manifest {
            path: manifest_path.clone(),
            message: e.to_string(),
        })?;
    let abs = std::path::absolute(session_dir).unwrap_or_else(|_| session_dir.to_path_buf());
    let rel = abs
        .strip_prefix(&out_dir)
        .ok()
        .map(|r| {
            r.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let [room, session] = rel.as_slice() else {
        return Err(ComposeError::NotASession {
            dir: session_dir.to_path_buf(),
            manifest: manifest_path,
        });
    };
    session_of(&manifest, &out_dir, &format!("{room}/{session}")).ok_or_else(|| {
        ComposeError::NotASession {
            dir: session_dir.to_path_buf(),
            manifest: manifest_path,
        }
    })
}

/// The session whose files are under `prefix` (`room/session`, as paths name
/// them: ids are made safe for file names there) in the manifest; `None` when
/// no asset is; its completed tracks with an offset, paths under `out_dir`.
pub fn session_of(manifest: &Manifest, out_dir: &Path, prefix: &str) -> Option<Session> {
    let under = format!("{prefix}/");
    let mut any = false;
    let mut tracks = Vec::new();
    for a in &manifest.assets {
        let Some(path) = a.path.as_deref().filter(|p| p.starts_with(&under)) else {
            continue;
        };
        any = true;
        let (Status::Completed, Some(offset_ms), Some(duration_ms)) =
            (a.status, a.start_offset_ms, a.duration_ms)
        else {
            continue;
        };
        tracks.push(Placed {
            path: out_dir.join(path),
            kind: a.kind,
            offset_ms,
            duration_ms,
        });
    }
    any.then(|| Session {
        name: prefix.to_string(),
        tracks,
    })
}

/// Seconds with millisecond precision, as ffmpeg reads them.
fn secs(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    format!("{sign}{}.{:03}", ms / 1000, ms % 1000)
}

/// ffmpeg's arguments (without the program name) composing `session` into `output`.
pub fn build_command(
    session: &Session,
    output: &Path,
    opts: ComposeOptions,
) -> Result<Vec<OsString>, ComposeError> {
    let ext = output
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let codecs: &[&str] = match ext.as_deref() {
        Some("mp4") => &[
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
        ],
        Some("webm") => &[
            "-c:v", "libvpx", "-b:v", "2M", "-pix_fmt", "yuv420p", "-c:a", "libopus", "-b:a", "96k",
        ],
        _ => return Err(ComposeError::OutputFormat(output.to_path_buf())),
    };
    if session.tracks.is_empty() {
        return Err(ComposeError::NoTracks(session.name.clone()));
    }
    let (start, end) = session.bounds_ms();
    let span = end - start;
    let (w, h) = (opts.tile_width.max(2), opts.tile_height.max(2));
    let mut args: Vec<OsString> = ["-nostdin", "-hide_banner", "-y"]
        .iter()
        .map(OsString::from)
        .collect();
    let videos: Vec<(usize, &Placed)> = session
        .tracks
        .iter()
        .filter(|t| t.kind == Kind::Video)
        .enumerate()
        .collect();
    let audios: Vec<&Placed> = session
        .tracks
        .iter()
        .filter(|t| t.kind == Kind::Audio)
        .collect();
    // Inputs: videos first, then audios; input index = position.
    for t in videos.iter().map(|(_, t)| *t).chain(audios.iter().copied()) {
        args.push("-i".into());
        args.push(t.path.clone().into_os_string());
    }
    let mut graph: Vec<String> = Vec::new();
    let mut maps: Vec<String> = Vec::new();
    if !videos.is_empty() {
        for (i, t) in &videos {
            graph.push(format!(
                "[{i}:v]setpts=PTS-STARTPTS,fps={fps},\
                 scale={w}:{h}:force_original_aspect_ratio=decrease,\
                 pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p,\
                 tpad=start_duration={before}:stop_mode=add:stop_duration={after}:color=black[v{i}]",
                fps = opts.fps.max(1),
                before = secs(t.offset_ms - start),
                // Black to the end of the session; -t cuts what is beyond.
                after = secs(span),
            ));
        }
        let n = videos.len();
        if n == 1 {
            graph.push("[v0]null[vout]".into());
        } else {
            // ceil(sqrt(n)) columns: the smallest square-ish grid.
            let cols = (1..=n).find(|c| c * c >= n).unwrap_or(n);
            let layout: Vec<String> = (0..n)
                .map(|i| {
                    let (x, y) = (
                        (i % cols) as u64 * u64::from(w),
                        (i / cols) as u64 * u64::from(h),
                    );
                    format!("{x}_{y}")
                })
                .collect();
            let inputs: String = (0..n).map(|i| format!("[v{i}]")).collect();
            graph.push(format!(
                "{inputs}xstack=inputs={n}:layout={}:fill=black[vout]",
                layout.join("|")
            ));
        }
        maps.push("[vout]".into());
    }
    if !audios.is_empty() {
        let base = videos.len();
        for (j, t) in audios.iter().enumerate() {
            graph.push(format!(
                "[{input}:a]aresample=48000,adelay=delays={delay}:all=1[a{j}]",
                input = base + j,
                delay = t.offset_ms - start,
            ));
        }
        let inputs: String = (0..audios.len()).map(|j| format!("[a{j}]")).collect();
        graph.push(format!(
            "{inputs}amix=inputs={}:duration=longest:normalize=0,apad[aout]",
            audios.len()
        ));
        maps.push("[aout]".into());
    }
    args.push("-filter_complex".into());
    args.push(graph.join(";").into());
    for m in maps {
        args.push("-map".into());
        args.push(m.into());
    }
    args.push("-t".into());
    args.push(secs(span).into());
    args.extend(codecs.iter().map(OsString::from));
    args.push(output.as_os_str().to_os_string());
    Ok(args)
}

/// `program` and `args` as one POSIX shell command line (single quotes where needed).
pub fn shell_line(program: &str, args: &[OsString]) -> String {
    std::iter::once(program.to_string())
        .chain(args.iter().map(|a| shell_quote(&a.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word quoted for a POSIX shell: unchanged when it is safe as is.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@%".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Runs `ffmpeg` (found on `PATH`) with `args`.
pub fn run_ffmpeg(args: &[OsString]) -> Result<(), ComposeError> {
    let status = std::process::Command::new("ffmpeg")
        .args(args)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(ComposeError::FfmpegMissing)?;
    if status.success() {
        Ok(())
    } else {
        Err(ComposeError::FfmpegFailed(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(path: &str, kind: Kind, offset_ms: i64, duration_ms: u64) -> Placed {
        Placed {
            path: PathBuf::from(path),
            kind,
            offset_ms,
            duration_ms,
        }
    }

    fn two_peers() -> Session {
        Session {
            name: "r/s".into(),
            tracks: vec![
                track("o/r/s/a/mic.ogg", Kind::Audio, 0, 4013),
                track("o/r/s/a/cam.webm", Kind::Video, 3, 3999),
                track("o/r/s/b/mic.ogg", Kind::Audio, 1500, 4013),
                track("o/r/s/b/cam.webm", Kind::Video, 1502, 3999),
            ],
        }
    }

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn two_peers_make_a_grid_and_a_mix_at_their_offsets() {
        let args = build_command(
            &two_peers(),
            Path::new("out.mp4"),
            ComposeOptions::default(),
        )
        .expect("builds");
        let a = strings(&args);
        let inputs: Vec<&str> = a
            .iter()
            .zip(a.iter().skip(1))
            .filter(|(k, _)| *k == "-i")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            inputs,
            [
                "o/r/s/a/cam.webm",
                "o/r/s/b/cam.webm",
                "o/r/s/a/mic.ogg",
                "o/r/s/b/mic.ogg"
            ]
        );
        let graph = &a[a
            .iter()
            .position(|s| s == "-filter_complex")
            .expect("graph")
            + 1];
        assert!(
            graph.contains("[0:v]setpts=PTS-STARTPTS,fps=30,"),
            "{graph}"
        );
        assert!(graph.contains("tpad=start_duration=0.003:"), "{graph}");
        assert!(graph.contains("tpad=start_duration=1.502:"), "{graph}");
        assert!(
            graph.contains("[v0][v1]xstack=inputs=2:layout=0_0|640_0:fill=black[vout]"),
            "{graph}"
        );
        assert!(
            graph.contains("[2:a]aresample=48000,adelay=delays=0:all=1[a0]"),
            "{graph}"
        );
        assert!(
            graph.contains("[3:a]aresample=48000,adelay=delays=1500:all=1[a1]"),
            "{graph}"
        );
        assert!(graph.contains("[a0][a1]amix=inputs=2:duration=longest:normalize=0,apad[aout]"));
        // The span: 0 to 1500 + 4013 ms.
        let t = a.iter().position(|s| s == "-t").expect("-t");
        assert_eq!(a[t + 1], "5.513");
        assert!(a.contains(&"libx264".to_string()) && a.contains(&"aac".to_string()));
        assert_eq!(a.last().map(String::as_str), Some("out.mp4"));
    }

    #[test]
    fn offsets_are_relative_to_the_earliest_track() {
        let mut s = two_peers();
        s.tracks.iter_mut().for_each(|t| t.offset_ms += 1000);
        let a =
            strings(&build_command(&s, Path::new("x.webm"), ComposeOptions::default()).unwrap());
        let graph = &a[a.iter().position(|s| s == "-filter_complex").unwrap() + 1];
        assert!(graph.contains("adelay=delays=0:all=1[a0]"), "{graph}");
        assert!(a.contains(&"libvpx".to_string()) && a.contains(&"libopus".to_string()));
    }

    #[test]
    fn grids_are_ceil_sqrt_columns() {
        let s = Session {
            name: "r/s".into(),
            tracks: (0..5)
                .map(|i| track(&format!("v{i}.webm"), Kind::Video, 0, 1000))
                .collect(),
        };
        let opts = ComposeOptions {
            tile_width: 320,
            tile_height: 240,
            fps: 25,
        };
        let a = strings(&build_command(&s, Path::new("x.mp4"), opts).unwrap());
        let graph = &a[a.iter().position(|s| s == "-filter_complex").unwrap() + 1];
        assert!(
            graph.contains("layout=0_0|320_0|640_0|0_240|320_240:fill=black"),
            "{graph}"
        );
        // No audio: nothing mapped but the video.
        assert!(!graph.contains("amix"));
        assert_eq!(a.iter().filter(|s| *s == "-map").count(), 1);
    }

    #[test]
    fn one_video_needs_no_stack_and_bad_outputs_are_refused() {
        let s = Session {
            name: "r/s".into(),
            tracks: vec![track("v.webm", Kind::Video, 0, 1000)],
        };
        let a = strings(&build_command(&s, Path::new("x.mp4"), ComposeOptions::default()).unwrap());
        assert!(a.iter().any(|s| s.contains("[v0]null[vout]")));
        assert!(matches!(
            build_command(&s, Path::new("x.avi"), ComposeOptions::default()),
            Err(ComposeError::OutputFormat(_))
        ));
        let empty = Session {
            name: "r/s".into(),
            tracks: vec![],
        };
        assert!(matches!(
            build_command(&empty, Path::new("x.mp4"), ComposeOptions::default()),
            Err(ComposeError::NoTracks(_))
        ));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("a/b.mp4"), "a/b.mp4");
        assert_eq!(shell_quote("[a0][a1]amix"), "'[a0][a1]amix'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(
            shell_line("ffmpeg", &["-i".into(), "a b".into()]),
            "ffmpeg -i 'a b'"
        );
    }

    #[test]
    fn sessions_are_found_by_path_prefix() {
        let m: Manifest = serde_json::from_value(serde_json::json!({
            "version": 1, "generator": "g", "inputs": [], "identification": "inferred",
            "assets": []
        }))
        .unwrap();
        assert!(session_of(&m, Path::new("o"), "r/s").is_none());
        assert_eq!(secs(1502), "1.502");
        assert_eq!(secs(-5), "-0.005");
    }
}
