//! rtptools `rtpdump -F dump` files (`#!rtpplay1.0 ADDR/PORT`).
//!
//! Layout (rtptools `rtpdump.h`): a text line, then `RD_hdr_t` (start sec,
//! start usec, source address, port, padding: 16 bytes), then records of
//! `RD_packet_t` (u16 length including this 8-byte header, u16 `plen` = the
//! packet's original length or 0 for RTCP, u32 offset in ms from the start)
//! followed by the packet bytes. Everything is network byte order.

use super::{FrameMeta, Link};
use crate::capture::source::{FullRead, InputRead};
use crate::error::{CaptureError, Diagnostic, FileId, PacketCtx};
use crate::time::CaptureTime;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The longest first line accepted (`#!rtpplay1.0 ` + an IPv6 address and port fits easily).
const MAX_LINE: usize = 256;

/// Streaming reader of rtpdump records.
pub struct RtpDumpReader {
    name: PathBuf,
    file: FileId,
    reader: FullRead<BufReader<InputRead>>,
    dst: SocketAddr,
    start: CaptureTime,
    offset: u64,
    records: u64,
    done: bool,
    diagnostics: Vec<Diagnostic>,
}

impl RtpDumpReader {
    /// Parses the text line and binary file header.
    pub fn new(name: PathBuf, file: FileId, reader: InputRead) -> Result<Self, CaptureError> {
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        let malformed = |offset: u64, message: String| CaptureError::Malformed {
            path: name.clone(),
            record: 0,
            offset,
            message,
        };
        let mut line = Vec::new();
        (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .map_err(|source| CaptureError::Io {
                path: name.clone(),
                source,
            })?;
        if line.last() != Some(&b'\n') {
            return Err(malformed(
                0,
                format!("rtpdump text line is not terminated within {MAX_LINE} bytes"),
            ));
        }
        let text = String::from_utf8_lossy(&line[..line.len() - 1]);
        let dst = parse_first_line(text.trim_end_matches('\r')).ok_or_else(|| {
            malformed(
                0,
                format!("rtpdump first line {text:?} is not `#!rtpplay1.0 ADDRESS/PORT`"),
            )
        })?;
        let mut reader = FullRead(reader);
        let mut hdr = [0u8; 16];
        let n = reader.read(&mut hdr).map_err(|source| CaptureError::Io {
            path: name.clone(),
            source,
        })?;
        if n < hdr.len() {
            return Err(malformed(
                line.len() as u64,
                "rtpdump file header truncated".into(),
            ));
        }
        let sec = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let usec = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        Ok(RtpDumpReader {
            offset: (line.len() + hdr.len()) as u64,
            name,
            file,
            reader,
            dst,
            start: CaptureTime::from_secs_nanos(i64::from(sec), i64::from(usec) * 1000),
            records: 0,
            done: false,
            diagnostics: Vec::new(),
        })
    }

    /// Diagnostics gathered so far, drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Reads the next record into `buf`; `None` at the end of the file.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<Option<FrameMeta>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let record_offset = self.offset;
        let mut hdr = [0u8; 8];
        let n = self
            .reader
            .read(&mut hdr)
            .map_err(|source| CaptureError::Io {
                path: self.name.clone(),
                source,
            })?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        if n < hdr.len() {
            self.truncated(record_offset);
            return Ok(None);
        }
        let length = usize::from(u16::from_be_bytes([hdr[0], hdr[1]]));
        let plen = u16::from_be_bytes([hdr[2], hdr[3]]);
        let offset_ms = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        if length < hdr.len() {
            self.done = true;
            return Err(CaptureError::Malformed {
                path: self.name.clone(),
                record: self.records + 1,
                offset: record_offset,
                message: format!("record length {length} is shorter than its 8-byte header"),
            });
        }
        buf.clear();
        buf.resize(length - hdr.len(), 0);
        let got = self.reader.read(buf).map_err(|source| CaptureError::Io {
            path: self.name.clone(),
            source,
        })?;
        if got < buf.len() {
            self.truncated(record_offset);
            return Ok(None);
        }
        self.offset += length as u64;
        self.records += 1;
        let time = CaptureTime::from_nanos(
            self.start
                .as_nanos()
                .saturating_add(i64::from(offset_ms) * 1_000_000),
        );
        Ok(Some(FrameMeta {
            file: self.file,
            index: self.records,
            offset: record_offset,
            time,
            link: Link::RtpDump {
                dst: self.dst,
                rtcp: plen == 0,
            },
            // `plen` larger than the stored bytes means rtpdump kept only headers.
            orig_len: u32::from(plen).max(buf.len() as u32),
        }))
    }

    fn truncated(&mut self, offset: u64) {
        self.done = true;
        self.diagnostics.push(Diagnostic {
            ctx: PacketCtx {
                file: self.file,
                frame: self.records + 1,
                offset,
                time: self.start,
                rtp: None,
            },
            kind: "capture-truncated",
            message: "file ends inside a record; the partial record was dropped".into(),
        });
    }
}

/// `#!rtpplay1.0 224.2.0.1/3456` -> the address; rtptools also writes names, which map to 0.0.0.0.
fn parse_first_line(line: &str) -> Option<SocketAddr> {
    let rest = line.strip_prefix("#!rtpplay1.0 ")?;
    let (addr, port) = rest.trim().rsplit_once('/')?;
    let port: u16 = port.parse().ok()?;
    let ip = addr
        .parse::<IpAddr>()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(bytes: Vec<u8>) -> Result<RtpDumpReader, CaptureError> {
        RtpDumpReader::new(
            "t.rtp".into(),
            FileId(0),
            InputRead::new(Box::new(Cursor::new(bytes))),
        )
    }

    fn dump(records: &[(&[u8], u16, u32)]) -> Vec<u8> {
        let mut v = b"#!rtpplay1.0 10.0.0.1/5004\n".to_vec();
        v.extend_from_slice(&[0, 0, 0, 100, 0, 0, 0, 5, 10, 0, 0, 1, 0x13, 0x8c, 0, 0]);
        for (data, plen, ms) in records {
            v.extend_from_slice(&((data.len() + 8) as u16).to_be_bytes());
            v.extend_from_slice(&plen.to_be_bytes());
            v.extend_from_slice(&ms.to_be_bytes());
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn reads_records_with_times_and_rtcp_flag() {
        let mut r = reader(dump(&[
            (&[0x80; 12], 12, 0),
            (&[0x81, 0xc9, 0, 1, 0, 0, 0, 0], 0, 1500),
        ]))
        .unwrap();
        let mut buf = Vec::new();
        let a = r.next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(buf.len(), 12);
        assert_eq!(a.time, CaptureTime::from_secs_nanos(100, 5000));
        assert_eq!(
            a.link,
            Link::RtpDump {
                dst: "10.0.0.1:5004".parse().unwrap(),
                rtcp: false
            }
        );
        assert_eq!(a.offset, 27 + 16);
        let b = r.next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(b.index, 2);
        assert_eq!(b.time, CaptureTime::from_secs_nanos(101, 500_005_000));
        assert!(matches!(b.link, Link::RtpDump { rtcp: true, .. }));
        assert!(r.next_frame(&mut buf).unwrap().is_none());
    }

    #[test]
    fn truncation_at_every_byte_never_panics() {
        let full = dump(&[(&[0x80; 20], 20, 0), (&[0x80; 20], 20, 20)]);
        for cut in 0..full.len() {
            let mut buf = Vec::new();
            if let Ok(mut r) = reader(full[..cut].to_vec()) {
                let mut n = 0;
                while let Ok(Some(_)) = r.next_frame(&mut buf) {
                    n += 1;
                }
                assert!(n <= 2);
            }
        }
    }

    #[test]
    fn bad_header_and_short_length_are_errors() {
        assert!(reader(b"#!rtpplay1.0 nonsense\n".to_vec()).is_err());
        let mut bad = dump(&[]);
        bad.extend_from_slice(&[0, 4, 0, 0, 0, 0, 0, 0]);
        let mut r = reader(bad).unwrap();
        let e = r.next_frame(&mut Vec::new()).unwrap_err();
        assert!(
            e.to_string()
                .contains("record 1 (byte offset 43): record length 4"),
            "{e}"
        );
    }
}
