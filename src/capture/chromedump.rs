//! Chromium's RTP dump: the clear RTP/RTCP packets WebRTC writes to its log.
//!
//! Started with `--force-fieldtrials=WebRTC-Debugging-RtpDump/Enabled/` and
//! verbose logging (`--enable-logging=stderr -v=1`), WebRTC's
//! `SrtpSession::DumpPacket` logs every packet it protects or unprotects, in
//! text2pcap form, on a line of its own after the log prefix line and (in
//! Chromium 143) an empty line:
//!
//! ```text
//! [165:194:1202/183424.016576:VERBOSE1:third_party/webrtc/pc/srtp_session.cc:549]
//!
//! O 00:00:24.016 0000 90 ef 5b 61 83 8a 25 d3 fc 65 b7 ec ... # RTP_DUMP
//! ```
//!
//! `I` is a received packet after decryption, `O` a sent one before
//! encryption. Older WebRTC wrote the offset as `000000` and a true time of
//! day; newer WebRTC (`Text2Pcap::DumpPacket`) writes `0000` and, by an
//! arithmetic slip, zero hours and minutes, so only seconds and milliseconds
//! advance and the time wraps every 60 s. Both are read; every other log line
//! is skipped.
//!
//! The dump has no addresses: each direction gets a fixed, made-up UDP flow
//! ([`LOCAL`] to [`REMOTE`] for `O`, the reverse for `I`), like rtpdump
//! records get their file header's address. Tracks are keyed by SSRC anyway.
//! The dump has no date either: times start at the Unix epoch plus the first
//! line's time of day.
//!
//! When both ends of a call live in the browser that wrote the log (two tabs,
//! or a test page calling itself), every packet is dumped twice: `O` by the
//! sending peer connection, then `I` by the receiving one. Such an `I` line,
//! byte for byte the packet of an `O` line of the last [`LOOPBACK_WINDOW_NS`],
//! is skipped (with a `chromedump-loopback` diagnostic): it is the same packet
//! on the same (made-up) path, and recorders would see every packet twice.

use super::{FrameMeta, Link};
use crate::capture::source::InputRead;
use crate::error::{CaptureError, Diagnostic, FileId, PacketCtx};
use crate::time::CaptureTime;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The suffix that marks a dump line.
pub const MARKER: &[u8] = b"# RTP_DUMP";

/// The browser's end of every dumped packet's made-up flow.
pub const LOCAL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 1);
/// The far end of every dumped packet's made-up flow.
pub const REMOTE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 1);

/// Longest line kept: a 64 KiB packet in hex (3 characters a byte) and a prefix fit.
pub const MAX_LINE: usize = 256 << 10;

/// A dump time that steps back by more than this is taken to have wrapped.
///
/// A live call sends RTCP at least every 5 s (RFC 3550 §6.2, WebRTC more
/// often) and media far more often, so consecutive dump lines are at most a
/// few seconds apart; lines logged by different threads come a few
/// milliseconds out of order. A step back of more than 30 s is therefore never
/// a real one: it is the 60 s (or, in the older form, 24 h) wrap of the
/// printed time.
const WRAP_THRESHOLD_NS: i64 = 30 * NANOS_PER_SEC;
/// The period of the newer form's printed time; 24 h is a multiple of it.
const WRAP_PERIOD_NS: i64 = 60 * NANOS_PER_SEC;
const NANOS_PER_SEC: i64 = 1_000_000_000;

/// How long a sent packet is remembered to recognise its received copy: a
/// call within one browser delivers in milliseconds; a few seconds leave room
/// for a loaded machine.
pub const LOOPBACK_WINDOW_NS: i64 = 5 * NANOS_PER_SEC;
/// At most this many sent packets are remembered (bounds memory at any rate).
const LOOPBACK_MAX: usize = 1 << 16;

/// Sent packets of the last few seconds, by hash, to spot their received copies.
#[derive(Debug, Default)]
struct SentPackets {
    /// (time, hash) in time order, for expiry.
    order: VecDeque<(i64, u64)>,
    /// Hash -> (entries in `order`, of which not yet matched by a received line).
    counts: HashMap<u64, (u32, u32)>,
}

impl SentPackets {
    fn hash(packet: &[u8]) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        packet.hash(&mut h);
        h.finish()
    }

    fn expire(&mut self, now: i64) {
        let oldest = now.saturating_sub(LOOPBACK_WINDOW_NS);
        while let Some(&(t, h)) = self.order.front() {
            if t >= oldest && self.order.len() < LOOPBACK_MAX {
                break;
            }
            self.order.pop_front();
            if let Some((queued, unmatched)) = self.counts.get_mut(&h) {
                *queued = queued.saturating_sub(1);
                // Matches use up the oldest copies first, so the expired one was matched if any was.
                *unmatched = (*unmatched).min(*queued);
                if *queued == 0 {
                    self.counts.remove(&h);
                }
            }
        }
    }

    fn sent(&mut self, now: i64, packet: &[u8]) {
        self.expire(now);
        let h = Self::hash(packet);
        self.order.push_back((now, h));
        let (queued, unmatched) = self.counts.entry(h).or_default();
        *queued = queued.saturating_add(1);
        *unmatched = unmatched.saturating_add(1);
    }

    /// True (and the sent copy is used up) when `packet` was sent lately and
    /// not matched yet.
    fn received(&mut self, now: i64, packet: &[u8]) -> bool {
        self.expire(now);
        match self.counts.get_mut(&Self::hash(packet)) {
            Some((_, unmatched)) if *unmatched > 0 => {
                *unmatched -= 1;
                true
            }
            _ => false,
        }
    }
}

/// What is wrong with a line that carries the dump marker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpLineError {
    /// No `I`/`O` and time of day before the marker.
    #[error("no `I` or `O` direction followed by a time HH:MM:SS.mmm before `# RTP_DUMP`")]
    NoHeader,
    /// Text after the marker.
    #[error("text after `# RTP_DUMP`")]
    TrailingText,
    /// The token after the time is not a hex offset of 0.
    #[error("expected the text2pcap offset 0000 after the time, found {0:?}")]
    BadOffset(String),
    /// A packet byte that is not two hex digits.
    #[error("packet byte {index} is {token:?}, not two hex digits")]
    BadByte {
        /// 0-based byte index in the packet.
        index: usize,
        /// The token found (shortened).
        token: String,
    },
    /// No packet bytes at all.
    #[error("the dump line holds no packet bytes")]
    Empty,
    /// The line is longer than [`MAX_LINE`].
    #[error("dump line longer than {} KiB", MAX_LINE >> 10)]
    TooLong,
}

/// The parts of a dump line other than the packet bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpHeader {
    /// `O`: sent by the browser (before encryption); `I`: received (after decryption).
    pub outgoing: bool,
    /// The printed time of day, in nanoseconds since 00:00:00.
    pub time_of_day_ns: i64,
}

/// Parses one log line: `Ok(None)` when it is not a dump line (no marker),
/// otherwise its header, with the packet written to `packet`.
pub fn parse_line(line: &[u8], packet: &mut Vec<u8>) -> Result<Option<DumpHeader>, DumpLineError> {
    packet.clear();
    let Some(at) = find(line, MARKER) else {
        return Ok(None);
    };
    if !line[at + MARKER.len()..]
        .iter()
        .all(u8::is_ascii_whitespace)
    {
        return Err(DumpLineError::TrailingText);
    }
    let mut tokens = line[..at]
        .split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty());
    // The dump normally starts the line; a log prefix on the same line (a
    // build without the leading newline, or a copied excerpt) is passed over.
    let header = loop {
        let Some(t) = tokens.next() else {
            return Err(DumpLineError::NoHeader);
        };
        let outgoing = match t {
            b"O" => true,
            b"I" => false,
            _ => continue,
        };
        // Only a time right after the direction makes a header; `I` alone may be prefix text.
        let mut ahead = tokens.clone();
        if let Some(tod) = ahead.next().and_then(parse_time) {
            tokens = ahead;
            break DumpHeader {
                outgoing,
                time_of_day_ns: tod,
            };
        }
    };
    match tokens.next() {
        Some(t) if t.iter().all(u8::is_ascii_hexdigit) && t.iter().all(|&b| b == b'0') => {}
        Some(t) => return Err(DumpLineError::BadOffset(shorten(t))),
        None => return Err(DumpLineError::Empty),
    }
    for (index, t) in tokens.enumerate() {
        match t {
            [h, l] => match (hex(*h), hex(*l)) {
                (Some(h), Some(l)) => packet.push((h << 4) | l),
                _ => {
                    return Err(DumpLineError::BadByte {
                        index,
                        token: shorten(t),
                    });
                }
            },
            _ => {
                return Err(DumpLineError::BadByte {
                    index,
                    token: shorten(t),
                });
            }
        }
    }
    if packet.is_empty() {
        return Err(DumpLineError::Empty);
    }
    Ok(Some(header))
}

/// True when `head` (the first bytes of an input) holds a well-formed dump
/// line among complete lines; a trailing incomplete line is not looked at.
pub fn detect(head: &[u8]) -> bool {
    let complete = match head.iter().rposition(|&b| b == b'\n') {
        Some(i) => &head[..i],
        None => return false,
    };
    let mut packet = Vec::new();
    complete
        .split(|&b| b == b'\n')
        .any(|l| matches!(parse_line(l, &mut packet), Ok(Some(_))))
}

/// `H:MM:SS`, `HH:MM:SS.f...` (1 to 9 fraction digits) -> nanoseconds since 00:00.
fn parse_time(t: &[u8]) -> Option<i64> {
    let (hms, frac) = match t.iter().position(|&b| b == b'.') {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mut parts = hms.split(|&b| b == b':');
    let h = digits(parts.next()?, 1..=2)?;
    let m = digits(parts.next()?, 2..=2)?;
    let s = digits(parts.next()?, 2..=2)?;
    if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
        return None;
    }
    let mut ns = ((h * 60 + m) * 60 + s) * NANOS_PER_SEC;
    if let Some(frac) = frac {
        let f = digits(frac, 1..=9)?;
        ns += f * 10i64.pow(9 - frac.len() as u32);
    }
    Some(ns)
}

/// A decimal of `len` digits.
fn digits(t: &[u8], len: std::ops::RangeInclusive<usize>) -> Option<i64> {
    if !len.contains(&t.len()) || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(t.iter().fold(0i64, |v, &d| v * 10 + i64::from(d - b'0')))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn shorten(t: &[u8]) -> String {
    String::from_utf8_lossy(&t[..t.len().min(16)]).into_owned()
}

/// Turns the printed times of day into a monotonic capture time.
#[derive(Clone, Debug, Default)]
pub struct DumpClock {
    /// Wraps added so far.
    wrapped_ns: i64,
    /// The latest time handed out (the newest seen).
    last_ns: Option<i64>,
}

impl DumpClock {
    /// The capture time (nanoseconds since the epoch) of a line printed at
    /// `time_of_day_ns`, and how far back it stepped when it was clamped.
    ///
    /// A step back of more than 30 s is a wrap: as many 60 s periods are added
    /// as bring it within 30 s of the newest time (one for the newer form's
    /// minute wrap, 1440 for the older form's midnight). A smaller step back is
    /// lines logged out of order by different threads: the line keeps its
    /// place in the file and its time is clamped to the newest, so capture
    /// time never runs backwards within the file.
    pub fn place(&mut self, time_of_day_ns: i64) -> (i64, Option<i64>) {
        let mut t = time_of_day_ns.saturating_add(self.wrapped_ns);
        let Some(last) = self.last_ns else {
            self.last_ns = Some(t);
            return (t, None);
        };
        let floor = last.saturating_sub(WRAP_THRESHOLD_NS);
        if t < floor {
            let behind = floor.saturating_sub(t);
            let periods = behind / WRAP_PERIOD_NS + i64::from(behind % WRAP_PERIOD_NS != 0);
            let add = periods.saturating_mul(WRAP_PERIOD_NS);
            self.wrapped_ns = self.wrapped_ns.saturating_add(add);
            t = t.saturating_add(add);
        }
        if t < last {
            return (last, Some(last.saturating_sub(t)));
        }
        self.last_ns = Some(t);
        (t, None)
    }
}

/// Streaming reader of the dump lines in a Chromium log.
pub struct ChromeDumpReader {
    name: PathBuf,
    file: FileId,
    reader: BufReader<InputRead>,
    line: Vec<u8>,
    /// The last bytes of an overlong line, to see whether it was a dump line.
    tail: Vec<u8>,
    /// Byte offset of the next line.
    offset: u64,
    /// Lines read so far.
    lines: u64,
    records: u64,
    clock: DumpClock,
    last_time: CaptureTime,
    sent: SentPackets,
    /// Received lines skipped as copies of sent ones.
    loopback_copies: u64,
    done: bool,
    diagnostics: Vec<Diagnostic>,
}

/// One line as read: was it ended by a newline, did it exceed [`MAX_LINE`].
struct LineRead {
    terminated: bool,
    overlong: bool,
}

impl ChromeDumpReader {
    /// Starts reading a log; format detection has already seen a dump line.
    pub fn new(name: PathBuf, file: FileId, reader: InputRead) -> Self {
        ChromeDumpReader {
            name,
            file,
            reader: BufReader::with_capacity(1 << 16, reader),
            line: Vec::new(),
            tail: Vec::new(),
            offset: 0,
            lines: 0,
            records: 0,
            clock: DumpClock::default(),
            last_time: CaptureTime::default(),
            sent: SentPackets::default(),
            loopback_copies: 0,
            done: false,
            diagnostics: Vec::new(),
        }
    }

    /// Diagnostics gathered so far, drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Reads up to the next dump line and puts its packet in `buf`; `None` at the end.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<Option<FrameMeta>, CaptureError> {
        while !self.done {
            let line_offset = self.offset;
            let Some(read) = self.read_line()? else {
                self.done = true;
                break;
            };
            self.lines += 1;
            let parsed = if read.overlong {
                let tail = trim_end(&self.tail);
                if tail.ends_with(MARKER) {
                    Err(DumpLineError::TooLong)
                } else {
                    Ok(None)
                }
            } else {
                parse_line(&self.line, buf)
            };
            let header = match parsed {
                Ok(None) => continue,
                Ok(Some(h)) => h,
                Err(e) if !read.terminated => {
                    // A log cut mid-line (the browser killed, the file copied while
                    // being written): keep what came before it.
                    self.done = true;
                    self.diagnostics.push(Diagnostic {
                        ctx: PacketCtx {
                            file: self.file,
                            frame: self.records + 1,
                            offset: line_offset,
                            time: self.last_time,
                            rtp: None,
                        },
                        kind: "capture-truncated",
                        message: format!(
                            "file ends inside dump line {} ({e}); the partial line was dropped",
                            self.lines
                        ),
                    });
                    break;
                }
                Err(e) => {
                    self.done = true;
                    return Err(CaptureError::BadLine {
                        path: self.name.clone(),
                        line: self.lines,
                        offset: line_offset,
                        message: e.to_string(),
                    });
                }
            };
            let (ns, back) = self.clock.place(header.time_of_day_ns);
            let time = CaptureTime::from_nanos(ns);
            if header.outgoing {
                self.sent.sent(ns, buf);
            } else if self.sent.received(ns, buf) {
                self.loopback_copies += 1;
                if self.loopback_copies == 1 {
                    self.diagnostics.push(Diagnostic {
                        ctx: PacketCtx {
                            file: self.file,
                            frame: self.records + 1,
                            offset: line_offset,
                            time,
                            rtp: None,
                        },
                        kind: "chromedump-loopback",
                        message: format!(
                            "dump line {} (received) repeats a packet this browser sent: both \
                             ends of the call are in this log; received copies of sent packets \
                             are skipped",
                            self.lines
                        ),
                    });
                }
                continue;
            }
            if let Some(back) = back
                && !self
                    .diagnostics
                    .iter()
                    .any(|d| d.kind == "capture-time-backwards")
            {
                self.diagnostics.push(Diagnostic {
                    ctx: PacketCtx {
                        file: self.file,
                        frame: self.records + 1,
                        offset: line_offset,
                        time,
                        rtp: None,
                    },
                    kind: "capture-time-backwards",
                    message: format!(
                        "dump line {} is {:.3} s older than the line before it (logged out of \
                         order); it keeps its place with the newer time",
                        self.lines,
                        back as f64 / 1e9
                    ),
                });
            }
            self.records += 1;
            self.last_time = time;
            let (src, dst) = if header.outgoing {
                (LOCAL, REMOTE)
            } else {
                (REMOTE, LOCAL)
            };
            return Ok(Some(FrameMeta {
                file: self.file,
                index: self.records,
                offset: line_offset,
                time,
                link: Link::ChromeDump { src, dst },
                orig_len: u32::try_from(buf.len()).unwrap_or(u32::MAX),
            }));
        }
        buf.clear();
        Ok(None)
    }

    /// Reads one line (without its newline) into `self.line`, keeping at most
    /// [`MAX_LINE`] bytes of it so that memory stays bounded on any input.
    fn read_line(&mut self) -> Result<Option<LineRead>, CaptureError> {
        self.line.clear();
        self.tail.clear();
        let mut any = false;
        let mut overlong = false;
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(CaptureError::Io {
                        path: self.name.clone(),
                        source,
                    });
                }
            };
            if avail.is_empty() {
                return Ok(any.then_some(LineRead {
                    terminated: false,
                    overlong,
                }));
            }
            any = true;
            let newline = avail.iter().position(|&b| b == b'\n');
            let chunk = &avail[..newline.unwrap_or(avail.len())];
            let room = MAX_LINE - self.line.len();
            if chunk.len() > room {
                overlong = true;
            }
            self.line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if overlong {
                // Enough of the end to see the marker and trailing blanks.
                self.tail.extend_from_slice(chunk);
                let keep = MARKER.len() + 16;
                if self.tail.len() > keep {
                    self.tail.drain(..self.tail.len() - keep);
                }
            }
            let used = chunk.len() + usize::from(newline.is_some());
            self.reader.consume(used);
            self.offset += used as u64;
            if newline.is_some() {
                return Ok(Some(LineRead {
                    terminated: true,
                    overlong,
                }));
            }
        }
    }
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(text: &str) -> ChromeDumpReader {
        ChromeDumpReader::new(
            "chrome_debug.log".into(),
            FileId(0),
            InputRead::new(Box::new(Cursor::new(text.as_bytes().to_vec()))),
        )
    }

    fn read_all(r: &mut ChromeDumpReader) -> Result<Vec<(FrameMeta, Vec<u8>)>, CaptureError> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(m) = r.next_frame(&mut buf)? {
            out.push((m, buf.clone()));
        }
        Ok(out)
    }

    const RTCP_RR: &str = "81 c9 00 07 12 34 56 78 9a bc de f0 00 00 00 00 00 00 12 34 00 00 00 00 00 00 00 00 00 00 00 00";

    #[test]
    fn parses_both_forms_and_a_same_line_prefix() {
        let mut p = Vec::new();
        let h = parse_line(b"O 00:00:12.345 0000 80 6f 12 34 # RTP_DUMP", &mut p).unwrap();
        assert_eq!(
            h,
            Some(DumpHeader {
                outgoing: true,
                time_of_day_ns: 12_345_000_000
            })
        );
        assert_eq!(p, [0x80, 0x6f, 0x12, 0x34]);
        // The older SrtpSession form: a true time of day and a 6-digit offset; CRLF.
        let h = parse_line(b"I 12:15:38.309 000000 90 70 5F f3 # RTP_DUMP\r", &mut p).unwrap();
        assert_eq!(
            h,
            Some(DumpHeader {
                outgoing: false,
                time_of_day_ns: ((12 * 60 + 15) * 60 + 38) * NANOS_PER_SEC + 309_000_000
            })
        );
        assert_eq!(p, [0x90, 0x70, 0x5f, 0xf3]);
        let h = parse_line(
            b"[1:2:1202/183000.1:VERBOSE1:srtp_session.cc(549)] I 00:00:01.5 0000 80 # RTP_DUMP",
            &mut p,
        )
        .unwrap();
        assert_eq!(h.map(|h| h.time_of_day_ns), Some(1_500_000_000));
        assert_eq!(p, [0x80]);
        assert_eq!(
            parse_line(b"[...:VERBOSE1:srtp_session.cc(549)] ", &mut p),
            Ok(None)
        );
        assert_eq!(parse_line(b"", &mut p), Ok(None));
    }

    #[test]
    fn bad_dump_lines_say_what_is_wrong() {
        let mut p = Vec::new();
        let cases: [(&[u8], DumpLineError); 7] = [
            (
                b"O 00:00:12.345 0000 80 6 # RTP_DUMP",
                DumpLineError::BadByte {
                    index: 1,
                    token: "6".into(),
                },
            ),
            (
                b"O 00:00:12.345 0000 80 zz # RTP_DUMP",
                DumpLineError::BadByte {
                    index: 1,
                    token: "zz".into(),
                },
            ),
            (b"O 00:00:12.345 0000 # RTP_DUMP", DumpLineError::Empty),
            (b"O 00:00:12.345 # RTP_DUMP", DumpLineError::Empty),
            (
                b"O 00:00:12.345 0010 80 # RTP_DUMP",
                DumpLineError::BadOffset("0010".into()),
            ),
            (
                b"X 00:00:12.345 0000 80 # RTP_DUMP",
                DumpLineError::NoHeader,
            ),
            (
                b"O 00:00:12.345 0000 80 # RTP_DUMP and more",
                DumpLineError::TrailingText,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(
                parse_line(line, &mut p),
                Err(want),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        // Out-of-range fields are not a time, so there is no header.
        for bad in [
            "00:60:00.000",
            "24:00:00.000",
            "00:00:60.000",
            "00:00:1.000",
            "00:00:01.",
            "0:0:01",
        ] {
            let line = format!("O {bad} 0000 80 # RTP_DUMP");
            assert_eq!(
                parse_line(line.as_bytes(), &mut p),
                Err(DumpLineError::NoHeader),
                "{bad}"
            );
        }
    }

    #[test]
    fn detects_dump_lines_among_log_lines_only_when_complete() {
        let log = "[1:2:1202/183000.1:INFO:foo.cc(1)] hello\n\
                   [1:2:1202/183000.2:VERBOSE1:srtp_session.cc(549)] \n\
                   O 00:00:12.345 0000 80 6f 12 34 # RTP_DUMP\n";
        assert!(detect(log.as_bytes()));
        // Cut before the newline that ends the dump line: not yet.
        assert!(!detect(&log.as_bytes()[..log.len() - 1]));
        assert!(!detect(b"hello\nworld\n"));
        // The marker alone (someone logging the grep command) is not a dump line.
        assert!(!detect(b"grep '# RTP_DUMP' chrome_debug.log\n"));
    }

    #[test]
    fn reads_frames_with_flows_lines_and_offsets() {
        let log = format!(
            "noise\n[prefix]\nO 00:00:58.000 0000 80 6f 00 01 # RTP_DUMP\n\
             more noise\nI 00:00:58.020 0000 {RTCP_RR} # RTP_DUMP\n"
        );
        let mut r = reader(&log);
        let frames = read_all(&mut r).unwrap();
        assert_eq!(frames.len(), 2);
        let (a, b) = (&frames[0].0, &frames[1].0);
        assert_eq!(a.time, CaptureTime::from_secs_nanos(58, 0));
        assert_eq!(
            a.link,
            Link::ChromeDump {
                src: LOCAL,
                dst: REMOTE
            }
        );
        assert_eq!((a.index, a.offset, a.orig_len), (1, 15, 4));
        assert_eq!(frames[0].1, [0x80, 0x6f, 0, 1]);
        assert_eq!(b.time, CaptureTime::from_secs_nanos(58, 20_000_000));
        assert_eq!(
            b.link,
            Link::ChromeDump {
                src: REMOTE,
                dst: LOCAL
            }
        );
        assert_eq!(b.index, 2);
        assert_eq!(frames[1].1.len(), 32);
        assert!(r.take_diagnostics().is_empty());
    }

    #[test]
    fn the_minute_wrap_is_undone_and_small_steps_back_are_clamped() {
        let mut c = DumpClock::default();
        let s = |secs: f64| (secs * 1e9).round() as i64;
        assert_eq!(c.place(s(58.0)), (s(58.0), None));
        assert_eq!(c.place(s(59.98)), (s(59.98), None));
        // Wrapped: 00.010 is 60.010.
        assert_eq!(c.place(s(0.01)), (s(60.01), None));
        // 10 ms back (another thread's line): clamped, the step reported.
        assert_eq!(c.place(s(0.0)), (s(60.01), Some(s(0.01))));
        // A 29 s step back is not a wrap either.
        assert_eq!(c.place(s(31.5)).0, s(60.01) + s(31.49));
        assert_eq!(c.place(s(2.6)), (s(91.5), Some(s(28.9))));
        // Forward again, then another minute wrap.
        assert_eq!(c.place(s(59.5)).0, s(119.5));
        assert_eq!(c.place(s(1.0)).0, s(121.0));
        // The older form's midnight: 23:59:59.9 -> 00:00:00.1 is 0.2 s later.
        let mut c = DumpClock::default();
        let day = s(86_400.0);
        assert_eq!(c.place(day - s(0.1)).0, day - s(0.1));
        assert_eq!(c.place(s(0.1)).0, day + s(0.1));
    }

    /// Lines from a Chromium 143 log of a page calling itself (two peer
    /// connections in one renderer): the prefix line, the empty line the dump
    /// starts with, the dump line; the sent packet then comes back as received.
    const REAL: &str = "[165:194:1202/183424.016576:VERBOSE1:third_party/webrtc/pc/srtp_session.cc:549] \n\
\n\
O 00:00:24.016 0000 90 ef 5b 61 83 8a 25 d3 fc 65 b7 ec be de 00 03 22 c0 10 ef 31 00 01 40 30 10 ff 00 78 0b e4 c1 36 ec c5 8d 8c 49 46 99 04 c5 aa ed 92 e7 63 4a 3a 18 98 ee 62 cb 60 ff 6c 1b 29 00 # RTP_DUMP\n\
[165:194:1202/183424.016721:VERBOSE1:third_party/webrtc/pc/srtp_session.cc:549] \n\
\n\
O 00:00:24.016 0000 90 ef 53 cd 1e 2c 99 39 47 f6 12 63 be de 00 03 22 c0 11 1c 31 00 01 40 30 10 ff 00 78 0b e4 c1 36 ec c5 8d 8c 49 46 99 04 c5 aa ed 92 e7 63 4a 3a 18 98 ee 62 cb 60 ff 6c 1b 29 00 # RTP_DUMP\n\
[165:194:1202/183424.017092:VERBOSE1:third_party/webrtc/pc/srtp_session.cc:549] \n\
\n\
I 00:00:24.017 0000 90 ef 5b 61 83 8a 25 d3 fc 65 b7 ec be de 00 03 22 c0 10 ef 31 00 01 40 30 10 ff 00 78 0b e4 c1 36 ec c5 8d 8c 49 46 99 04 c5 aa ed 92 e7 63 4a 3a 18 98 ee 62 cb 60 ff 6c 1b 29 00 # RTP_DUMP\n\
[165:165:1202/183424.017217:VERBOSE1:third_party/blink/renderer/platform/webrtc/webrtc_logging.cc:35] MSS::SetReadyState(id=2457c970-0ab9-4766-9737-9f8a2f6971cb, ready_state=Live)\n";

    #[test]
    fn real_chromium_lines_are_read_and_loopback_copies_skipped() {
        assert!(detect(REAL.as_bytes()));
        let mut r = reader(REAL);
        let frames = read_all(&mut r).unwrap();
        // Two sent packets (SSRC 0xfc65b7ec, 0x47f61263, Opus PT 111); the received
        // copy of the first is skipped.
        assert_eq!(frames.len(), 2);
        assert_eq!(&frames[0].1[8..12], [0xfc, 0x65, 0xb7, 0xec]);
        assert_eq!(&frames[1].1[8..12], [0x47, 0xf6, 0x12, 0x63]);
        assert!(frames.iter().all(|f| f.0.link
            == Link::ChromeDump {
                src: LOCAL,
                dst: REMOTE
            }));
        assert_eq!(
            frames[0].0.time,
            CaptureTime::from_secs_nanos(24, 16_000_000)
        );
        let first = REAL.find("O 00:00:24.016").unwrap() as u64;
        assert_eq!((frames[0].0.offset, frames[0].1.len()), (first, 60));
        let d = r.take_diagnostics();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].kind, "chromedump-loopback");
        assert!(d[0].message.contains("dump line 9"), "{}", d[0].message);
    }

    #[test]
    fn only_recent_unmatched_sent_packets_make_a_received_line_a_copy() {
        let mut s = SentPackets::default();
        s.sent(0, b"a");
        s.sent(0, b"a");
        assert!(s.received(1, b"a"));
        assert!(s.received(2, b"a"));
        assert!(!s.received(3, b"a"), "each sent copy matches once");
        assert!(!s.received(3, b"b"));
        s.sent(10, b"c");
        assert!(!s.received(10 + LOOPBACK_WINDOW_NS + 1, b"c"), "too old");
        // A copy matched, then its sent entry expires: a newer sent copy still counts.
        s.sent(100, b"d");
        assert!(s.received(100, b"d"));
        s.sent(100 + LOOPBACK_WINDOW_NS, b"d");
        assert!(s.received(101 + LOOPBACK_WINDOW_NS, b"d"));
        assert!(s.order.len() <= 2 && s.counts.len() <= 1);
    }

    #[test]
    fn a_bad_dump_line_is_an_error_naming_file_and_line() {
        let mut r = reader(
            "noise\nO 00:00:01.000 0000 80 # RTP_DUMP\nO 00:00:01.000 0000 8 # RTP_DUMP\nO 00:00:01.000 0000 80 # RTP_DUMP\n",
        );
        let mut buf = Vec::new();
        assert!(r.next_frame(&mut buf).unwrap().is_some());
        let e = r.next_frame(&mut buf).unwrap_err();
        assert_eq!(
            e.to_string(),
            "chrome_debug.log: line 3 (byte offset 40): packet byte 0 is \"8\", not two hex digits"
        );
        assert!(
            r.next_frame(&mut buf).unwrap().is_none(),
            "stops after an error"
        );
    }

    #[test]
    fn a_cut_last_line_ends_the_file_with_a_diagnostic() {
        let full = "O 00:00:01.000 0000 80 01 # RTP_DUMP\nO 00:00:01.020 0000 80 02 # RTP_DUMP\n";
        for cut in 0..full.len() {
            let mut r = reader(&full[..cut]);
            let frames = read_all(&mut r).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            let whole = full[..cut].matches("RTP_DUMP").count();
            assert!(frames.len() <= whole, "cut {cut}");
            assert!(frames.iter().all(|f| f.1.len() == 2), "cut {cut}");
        }
        // Cut right after the marker of the last line: it is complete.
        let mut r = reader(&full[..full.len() - 1]);
        assert_eq!(read_all(&mut r).unwrap().len(), 2);
        // Cut inside a line that still carries a marker: dropped with a diagnostic.
        let mut r = reader("O 00:00:01.000 0000 80 01 # RTP_DUMP\nO 00:00:01.020 0000 8# RTP_DUMP");
        assert_eq!(read_all(&mut r).unwrap().len(), 1);
        let d = r.take_diagnostics();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].kind, "capture-truncated");
        assert!(d[0].message.contains("dump line 2"), "{}", d[0].message);
    }

    #[test]
    fn overlong_lines_are_skipped_or_refused_without_unbounded_memory() {
        let long = "x".repeat(MAX_LINE + 10);
        let log = format!("{long}\nO 00:00:01.000 0000 80 # RTP_DUMP\n");
        let mut r = reader(&log);
        let frames = read_all(&mut r).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0.offset, long.len() as u64 + 1);
        let log = format!(
            "O 00:00:01.000 0000 {} # RTP_DUMP\n",
            "80 ".repeat(MAX_LINE / 3)
        );
        let e = read_all(&mut reader(&log)).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 1 (byte offset 0): dump line longer"),
            "{e}"
        );
    }
}
