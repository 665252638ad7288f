//! Opening inputs: a path or `-` for stdin, gzip detected by magic bytes, format sniffing.

use crate::error::CaptureError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Capture file formats rtprec reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap (µs or ns, either byte order).
    Pcap,
    /// pcapng.
    PcapNg,
    /// rtptools `#!rtpplay1.0` binary dump.
    RtpDump,
    /// A Chromium log with `# RTP_DUMP` lines (WebRTC's clear RTP dump).
    ChromeDump,
}

/// A byte stream positioned at the start of a capture, with its detected format.
pub struct Opened {
    /// The input's display name (`-` shows as `<stdin>`).
    pub name: PathBuf,
    /// The detected format.
    pub format: Format,
    /// True when the input was gzip-compressed.
    pub gzip: bool,
    /// The (decompressed) bytes, starting at offset 0 of the capture.
    pub reader: InputRead,
    /// False for pipes, terminals and sockets: reads may wait for data to arrive.
    pub regular_file: bool,
}

/// Called before every read of an input that may block (a pipe): the reader
/// hands on what it has parsed so far instead of sitting on it while it waits.
pub type BeforeRead = std::rc::Rc<dyn Fn()>;

/// A raw input that runs a [`BeforeRead`] hook before each read.
struct Hooked {
    inner: Box<dyn Read>,
    hook: BeforeRead,
}

impl Read for Hooked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (self.hook)();
        self.inner.read(buf)
    }
}

/// How many leading bytes are sniffed; enough for every magic we know.
const SNIFF_LEN: usize = 16;

/// How far into a text input a `# RTP_DUMP` line is looked for. A browser
/// logs a good deal before its first packet (a test page calling itself:
/// 0.45 MB at `-v=1`); a real browsing session may log more, and reading a few
/// megabytes of a file that is no capture costs little.
pub const TEXT_SNIFF_LEN: usize = 8 << 20;

/// Opens `path` (`-` is stdin), undoes gzip if present and detects the format.
pub fn open(path: &Path) -> Result<Opened, CaptureError> {
    open_with(path, None)
}

/// [`open`], running `before_read` before each read when the input is not a
/// regular file (so a live pipe's packets are passed on as they arrive).
pub fn open_with(path: &Path, before_read: Option<BeforeRead>) -> Result<Opened, CaptureError> {
    let (name, raw, regular_file): (PathBuf, Box<dyn Read>, bool) = if path.as_os_str() == "-" {
        // Linux names standard input's file here; anything else is treated as a pipe.
        let regular = std::fs::metadata("/dev/stdin").is_ok_and(|m| m.is_file());
        (
            PathBuf::from("<stdin>"),
            Box::new(io::stdin().lock()),
            regular,
        )
    } else {
        let file = File::open(path).map_err(|source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        (path.to_path_buf(), Box::new(file), regular)
    };
    let raw = match before_read {
        Some(hook) if !regular_file => Box::new(Hooked { inner: raw, hook }) as Box<dyn Read>,
        _ => raw,
    };
    let mut opened = sniff(name, raw)?;
    opened.regular_file = regular_file;
    Ok(opened)
}

/// gzip's magic number (RFC 1952 §2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `head`, the first bytes of an input, begins a gzip stream.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&GZIP_MAGIC)
}

/// Detects gzip and the capture format of an already opened stream.
pub fn sniff(name: PathBuf, raw: Box<dyn Read>) -> Result<Opened, CaptureError> {
    let io_err = |name: &PathBuf, source| CaptureError::Io {
        path: name.clone(),
        source,
    };
    let mut reader = FullRead(raw);
    let mut head = [0u8; SNIFF_LEN];
    let n = reader.read(&mut head).map_err(|e| io_err(&name, e))?;
    let mut prefixed: Box<dyn Read> = Box::new(io::Cursor::new(head[..n].to_vec()).chain(reader.0));
    let mut gzip = false;
    let mut head_len = n;
    if is_gzip(&head[..n]) {
        gzip = true;
        let mut inner = FullRead(Box::new(MultiGzDecoder::new(prefixed)) as Box<dyn Read>);
        head_len = inner.read(&mut head).map_err(|e| io_err(&name, e))?;
        prefixed = Box::new(io::Cursor::new(head[..head_len].to_vec()).chain(inner.0));
    }
    let head = &head[..head_len];
    if head.is_empty() {
        return Err(CaptureError::Empty { path: name });
    }
    let unknown = || CaptureError::UnknownFormat {
        path: name.clone(),
        magic: head
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    // Binary magics first: a text log is only tried when none matches.
    let format = match detect(head) {
        Some(f) => f,
        // A log is text: NUL bytes up front mean some other binary format.
        None if head.contains(&0) => return Err(unknown()),
        None => {
            let (text, rest, found) = sniff_text(prefixed).map_err(|e| io_err(&name, e))?;
            if !found {
                return Err(unknown());
            }
            prefixed = Box::new(io::Cursor::new(text).chain(rest));
            Format::ChromeDump
        }
    };
    let first_min = header_len(format, head);
    Ok(Opened {
        name,
        format,
        gzip,
        reader: InputRead {
            inner: prefixed,
            first_min,
        },
        regular_file: true,
    })
}

/// Bytes the format's reader must get in its first read: pcap-parser parses
/// the file header (pcap) or Section Header Block (pcapng) from that read alone.
fn header_len(format: Format, head: &[u8]) -> usize {
    match format {
        Format::Pcap => 24,
        // pcapng §4.1: block total length at 4..8, in the byte order the magic at 8..12 shows.
        Format::PcapNg => match (head.get(4..8), head.get(8..12)) {
            (Some(len), Some(bom)) => {
                let len = [len[0], len[1], len[2], len[3]];
                let n = if bom == [0x1a, 0x2b, 0x3c, 0x4d] {
                    u32::from_be_bytes(len)
                } else {
                    u32::from_le_bytes(len)
                };
                usize::try_from(n).unwrap_or(usize::MAX)
            }
            _ => 28,
        },
        Format::RtpDump | Format::ChromeDump => 0,
    }
}

/// Reads `input` until a Chromium dump line is complete, [`TEXT_SNIFF_LEN`]
/// bytes were read or the input ends: what was read, the input positioned
/// after it, and whether a dump line was seen.
///
/// One read at a time, so that on a pipe detection ends with the browser's
/// first dump line rather than waiting for a megabyte of log.
fn sniff_text(mut input: Box<dyn Read>) -> io::Result<(Vec<u8>, Box<dyn Read>, bool)> {
    let mut text = Vec::with_capacity(64 << 10);
    let mut chunk = vec![0u8; 64 << 10];
    // Lines before this offset were looked at already.
    let mut scanned = 0;
    let mut ended = false;
    while text.len() < TEXT_SNIFF_LEN {
        let want = (TEXT_SNIFF_LEN - text.len()).min(chunk.len());
        let n = match input.read(&mut chunk[..want]) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        text.extend_from_slice(&chunk[..n]);
        if let Some(last_nl) = text.iter().rposition(|&b| b == b'\n') {
            if last_nl >= scanned && super::chromedump::detect(&text[scanned..=last_nl]) {
                return Ok((text, input, true));
            }
            scanned = scanned.max(last_nl + 1);
        }
    }
    // A file's last line counts without its newline; a line cut by the limit does not.
    let found = ended && scanned < text.len() && {
        let mut last = text[scanned..].to_vec();
        last.push(b'\n');
        super::chromedump::detect(&last)
    };
    Ok((text, input, found))
}

/// The bytes of an input, read as they arrive.
///
/// The first read fills up to the format's header (see `header_len`); later
/// reads return whatever one read of the source gives, so packets from a live
/// pipe are parsed as soon as they are complete rather than when a buffer fills.
pub struct InputRead {
    inner: Box<dyn Read>,
    first_min: usize,
}

impl InputRead {
    /// Wraps an in-memory or other stream that needs no header fill (tests, rtpdump).
    pub fn new(inner: Box<dyn Read>) -> InputRead {
        InputRead {
            inner,
            first_min: 0,
        }
    }
}

impl Read for InputRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = std::mem::take(&mut self.first_min).min(buf.len()).max(1);
        let mut filled = 0;
        while filled < want {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// Format from the first bytes.
pub fn detect(head: &[u8]) -> Option<Format> {
    const PCAP_MAGICS: [[u8; 4]; 4] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
    ];
    if head.len() >= 4 && PCAP_MAGICS.iter().any(|m| head[..4] == *m) {
        Some(Format::Pcap)
    } else if head.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        Some(Format::PcapNg)
    } else if head.starts_with(b"#!rtpplay") {
        Some(Format::RtpDump)
    } else {
        None
    }
}

/// A reader whose `read` fills the whole buffer unless EOF comes first.
///
/// pcap-parser's reader issues a single `read` per refill and treats a short
/// first read as a broken header; pipes and gzip return short reads.
pub struct FullRead<R>(pub R);

impl<R: Read> Read for FullRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_magic() {
        assert_eq!(detect(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]), Some(Format::Pcap));
        assert_eq!(detect(&[0xa1, 0xb2, 0x3c, 0x4d]), Some(Format::Pcap));
        assert_eq!(
            detect(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0]),
            Some(Format::PcapNg)
        );
        assert_eq!(detect(b"#!rtpplay1.0 1.2.3.4/5\n"), Some(Format::RtpDump));
        assert_eq!(detect(b"GIF89a"), None);
        assert_eq!(detect(&[0xd4]), None);
    }

    #[test]
    fn gzip_is_undone_transparently() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&[0x0a, 0x0d, 0x0d, 0x0a, 1, 2, 3]).unwrap();
        let gz = enc.finish().unwrap();
        let mut o = sniff("x".into(), Box::new(io::Cursor::new(gz))).unwrap();
        assert!(o.gzip);
        assert_eq!(o.format, Format::PcapNg);
        let mut all = Vec::new();
        o.reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, [0x0a, 0x0d, 0x0d, 0x0a, 1, 2, 3]);
    }

    #[test]
    fn chromium_logs_are_detected_after_the_binary_magics_plain_or_gzip() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let mut log = b"[1:2:1202/183000.1:INFO:chrome_main.cc(1)] started\n".repeat(20_000);
        let dump = b"[1:2:1202/183001.2:VERBOSE1:srtp_session.cc(549)] \n\
                     O 00:00:12.345 0000 80 6f 12 34 # RTP_DUMP\n";
        log.extend_from_slice(dump);
        let mut o = sniff(
            "chrome_debug.log".into(),
            Box::new(io::Cursor::new(log.clone())),
        )
        .unwrap();
        assert_eq!((o.format, o.gzip), (Format::ChromeDump, false));
        let mut all = Vec::new();
        o.reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, log, "sniffing gives back every byte it read");
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&log).unwrap();
        let gz = enc.finish().unwrap();
        let o = sniff("chrome_debug.log.gz".into(), Box::new(io::Cursor::new(gz))).unwrap();
        assert_eq!((o.format, o.gzip), (Format::ChromeDump, true));
        // A one-line file without its final newline.
        let o = sniff(
            "one".into(),
            Box::new(io::Cursor::new(
                b"I 00:00:01.000 0000 80 # RTP_DUMP".to_vec(),
            )),
        )
        .unwrap();
        assert_eq!(o.format, Format::ChromeDump);
        // Binary magics win even when dump lines follow.
        let mut pcapng = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        pcapng.extend_from_slice(b"\nO 00:00:12.345 0000 80 # RTP_DUMP\n");
        assert_eq!(detect(&pcapng), Some(Format::PcapNg));
        let mut rtpdump = b"#!rtpplay1.0 1.2.3.4/5\n".to_vec();
        rtpdump.extend_from_slice(dump);
        let o = sniff("r".into(), Box::new(io::Cursor::new(rtpdump))).unwrap();
        assert_eq!(o.format, Format::RtpDump);
    }

    #[test]
    fn a_log_whose_dump_comes_after_the_sniffed_length_is_not_a_capture() {
        let mut log = vec![b'x'; TEXT_SNIFF_LEN - 10];
        log.extend_from_slice(b"\nO 00:00:12.345 0000 80 # RTP_DUMP\n");
        let e = sniff("late.log".into(), Box::new(io::Cursor::new(log)))
            .err()
            .unwrap();
        assert!(e.to_string().contains("not a capture file"), "{e}");
        let e = sniff(
            "plain.log".into(),
            Box::new(io::Cursor::new(b"just a log\nwith lines\n".to_vec())),
        )
        .err()
        .unwrap();
        assert!(
            e.to_string()
                .contains("Chromium log with `# RTP_DUMP` lines"),
            "{e}"
        );
    }

    #[test]
    fn empty_and_unknown_inputs_are_errors() {
        let e = sniff("e.pcap".into(), Box::new(io::empty())).err().unwrap();
        assert!(e.to_string().contains("e.pcap: empty file"), "{e}");
        let e = sniff(
            "x.pcap".into(),
            Box::new(io::Cursor::new(b"hello world".to_vec())),
        )
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("unknown magic bytes 68 65 6c"),
            "{e}"
        );
    }
}
