//! pcap and pcapng through pcap-parser's streaming readers.
//!
//! One loop serves both: `next()` / `consume()`, `refill()` on `Incomplete`,
//! `grow()` on `BufferTooSmall` up to [`MAX_RECORD`]. pcapng keeps a per-section
//! interface table (link type, `if_tsresol`, `if_tsoffset`), reset at every
//! Section Header Block (pcapng spec §4.1).

use super::{FrameMeta, Link, LinkType, Secrets, SecretsKind};
use crate::capture::source::InputRead;
use crate::error::{CaptureError, Diagnostic, FileId, PacketCtx};
use crate::time::CaptureTime;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};
use std::path::PathBuf;

/// Initial read buffer.
const INITIAL_BUFFER: usize = 1 << 20;
/// Largest record accepted; a larger length field means a corrupt file.
pub const MAX_RECORD: usize = 64 << 20;
/// libpcap's largest snaplen; a pcap record above it and above the file's snaplen is corrupt.
const MAX_SNAPLEN: usize = 262_144;

/// One pcapng interface of the current section.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
}

enum Inner {
    Legacy(LegacyPcapReader<InputRead>),
    Ng(PcapNGReader<InputRead>),
}

/// Streaming reader of pcap or pcapng records.
pub struct PcapReader {
    name: PathBuf,
    file: FileId,
    inner: Inner,
    /// Legacy header's link type and ns flag, once seen.
    legacy: Option<(LinkType, bool)>,
    /// Byte order of the file (pcap) or current section (pcapng).
    big_endian: bool,
    /// The pcap header's snaplen (0 for pcapng).
    snaplen: u32,
    interfaces: Vec<Interface>,
    records: u64,
    last_time: CaptureTime,
    capacity: usize,
    done: bool,
    diagnostics: Vec<Diagnostic>,
    secrets: Vec<Secrets>,
    /// The current frame's record, still in the reader's buffer: its length
    /// (consumed before reading on), and where its bytes are in `data()`.
    current: Option<Current>,
}

/// A frame read by [`PcapReader::advance`], left where the reader read it.
#[derive(Clone, Copy, Debug)]
struct Current {
    record_len: usize,
    at: usize,
    len: usize,
}

impl PcapReader {
    /// Starts reading a pcap (`ng == false`) or pcapng stream.
    pub fn new(
        name: PathBuf,
        file: FileId,
        reader: InputRead,
        ng: bool,
    ) -> Result<Self, CaptureError> {
        let header_err = |e: PcapError<&[u8]>| CaptureError::Malformed {
            path: name.clone(),
            record: 0,
            offset: 0,
            message: format!("bad file header: {}", describe(&e)),
        };
        let inner = if ng {
            Inner::Ng(PcapNGReader::new(INITIAL_BUFFER, reader).map_err(header_err)?)
        } else {
            Inner::Legacy(LegacyPcapReader::new(INITIAL_BUFFER, reader).map_err(header_err)?)
        };
        Ok(PcapReader {
            name,
            file,
            inner,
            legacy: None,
            big_endian: false,
            snaplen: 0,
            interfaces: Vec::new(),
            records: 0,
            last_time: CaptureTime::default(),
            capacity: INITIAL_BUFFER,
            done: false,
            diagnostics: Vec::new(),
            secrets: Vec::new(),
            current: None,
        })
    }

    /// Diagnostics gathered so far (truncation, unknown interfaces), drained.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Decryption Secrets Blocks read so far, drained (those read by a
    /// [`PcapReader::next_frame`] call come before the frame it returned).
    pub fn take_secrets(&mut self) -> Vec<Secrets> {
        std::mem::take(&mut self.secrets)
    }

    /// Reads the next packet record into `buf`; `None` at the end of the file.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<Option<FrameMeta>, CaptureError> {
        let meta = self.advance()?;
        buf.clear();
        buf.extend_from_slice(self.current_data());
        Ok(meta)
    }

    /// The bytes of the frame the last [`PcapReader::advance`] returned
    /// (empty before the first and after the last), read in place: they stay
    /// in the reader's buffer until the next `advance`.
    pub fn current_data(&self) -> &[u8] {
        let Some(c) = self.current else {
            return &[];
        };
        let data = match &self.inner {
            Inner::Legacy(r) => r.data(),
            Inner::Ng(r) => r.data(),
        };
        let bytes = data.get(c.at..c.at + c.len);
        debug_assert!(bytes.is_some(), "{c:?} outside {} bytes", data.len());
        bytes.unwrap_or_default()
    }

    /// Reads on to the next packet record; `None` at the end of the file.
    /// Its bytes are [`PcapReader::current_data`], not copied.
    pub fn advance(&mut self) -> Result<Option<FrameMeta>, CaptureError> {
        if self.done {
            self.current = None;
            return Ok(None);
        }
        loop {
            let (reader, snaplen): (&mut dyn PcapReaderIterator, _) = match &mut self.inner {
                Inner::Legacy(r) => (r, Some(self.snaplen)),
                Inner::Ng(r) => (r, None),
            };
            if let Some(c) = self.current.take() {
                reader.consume(c.record_len);
            }
            let offset = reader.consumed() as u64;
            // The buffer does not move within `next`: a frame's bytes are located against it.
            let base = reader.data().as_ptr() as usize;
            match reader.next() {
                Ok((len, block)) => {
                    let meta = handle_block(
                        block,
                        HandleCtx {
                            file: self.file,
                            offset,
                            records: &mut self.records,
                            legacy: &mut self.legacy,
                            big_endian: &mut self.big_endian,
                            snaplen: &mut self.snaplen,
                            interfaces: &mut self.interfaces,
                            last_time: &mut self.last_time,
                            diagnostics: &mut self.diagnostics,
                            secrets: &mut self.secrets,
                        },
                    );
                    match meta {
                        Ok(Some((m, data))) => {
                            // pcap-parser's blocks borrow its buffer; were one
                            // ever elsewhere, the file reads as corrupt, not as a panic.
                            let Some(at) = (data.as_ptr() as usize).checked_sub(base) else {
                                reader.consume(len);
                                let message = "packet data outside the read buffer".to_string();
                                return Err(self.malformed(offset, message));
                            };
                            self.current = Some(Current {
                                record_len: len,
                                at,
                                len: data.len(),
                            });
                            return Ok(Some(m));
                        }
                        Ok(None) => reader.consume(len),
                        Err(message) => {
                            reader.consume(len);
                            return Err(self.malformed(offset, message));
                        }
                    }
                }
                Err(PcapError::Eof) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(PcapError::Incomplete(_)) => {
                    reader.refill().map_err(|e| CaptureError::Malformed {
                        path: self.name.clone(),
                        record: self.records + 1,
                        offset,
                        message: format!("read error: {}", describe(&e)),
                    })?;
                }
                Err(PcapError::BufferTooSmall) => {
                    if let Some(message) = corrupt_length(reader.data(), self.big_endian, snaplen) {
                        return Err(self.malformed(offset, message));
                    }
                    let wanted = self.capacity.saturating_mul(2);
                    if wanted > MAX_RECORD || !reader.grow(wanted) {
                        let message = format!(
                            "record length exceeds the {} MiB limit: corrupt length field",
                            MAX_RECORD >> 20
                        );
                        return Err(self.malformed(offset, message));
                    }
                    self.capacity = wanted;
                    reader.refill().map_err(|e| CaptureError::Malformed {
                        path: self.name.clone(),
                        record: self.records + 1,
                        offset,
                        message: format!("read error: {}", describe(&e)),
                    })?;
                }
                Err(PcapError::UnexpectedEof) => {
                    if let Some(message) = corrupt_length(reader.data(), self.big_endian, snaplen) {
                        return Err(self.malformed(offset, message));
                    }
                    // A capture cut short (e.g. tcpdump killed) keeps what was read.
                    self.done = true;
                    self.diagnostics.push(Diagnostic {
                        ctx: PacketCtx {
                            file: self.file,
                            frame: self.records + 1,
                            offset,
                            time: self.last_time,
                            rtp: None,
                        },
                        kind: "capture-truncated",
                        message: "file ends inside a record; the partial record was dropped".into(),
                    });
                    return Ok(None);
                }
                Err(e) => {
                    let message = describe(&e);
                    return Err(self.malformed(offset, message));
                }
            }
        }
    }

    fn malformed(&mut self, offset: u64, message: String) -> CaptureError {
        self.done = true;
        CaptureError::Malformed {
            path: self.name.clone(),
            record: self.records + 1,
            offset,
            message,
        }
    }
}

struct HandleCtx<'a> {
    file: FileId,
    offset: u64,
    records: &'a mut u64,
    legacy: &'a mut Option<(LinkType, bool)>,
    big_endian: &'a mut bool,
    snaplen: &'a mut u32,
    interfaces: &'a mut Vec<Interface>,
    last_time: &'a mut CaptureTime,
    diagnostics: &'a mut Vec<Diagnostic>,
    secrets: &'a mut Vec<Secrets>,
}

/// Turns one block into a frame (its metadata, and where its bytes are) or
/// updates reader state.
fn handle_block<'b>(
    block: PcapBlockOwned<'b>,
    mut cx: HandleCtx<'_>,
) -> Result<Option<(FrameMeta, &'b [u8])>, String> {
    let (link, time, data, orig_len) = match block {
        PcapBlockOwned::LegacyHeader(h) => {
            *cx.legacy = Some((LinkType(h.network.0 as u32), h.is_nanosecond_precision()));
            *cx.big_endian = h.is_bigendian();
            *cx.snaplen = h.snaplen;
            return Ok(None);
        }
        PcapBlockOwned::Legacy(b) => {
            let (link, ns) = cx.legacy.ok_or("packet record before the file header")?;
            let sub = if ns {
                b.ts_usec as i64
            } else {
                b.ts_usec as i64 * 1000
            };
            (
                link,
                CaptureTime::from_secs_nanos(b.ts_sec as i64, sub),
                b.data,
                b.origlen,
            )
        }
        PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
            *cx.big_endian = shb.big_endian();
            cx.interfaces.clear();
            return Ok(None);
        }
        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
            let units_per_sec = idb.ts_resolution().filter(|&u| u > 0).ok_or_else(|| {
                format!(
                    "interface {} has an unusable if_tsresol {:#04x}",
                    cx.interfaces.len(),
                    idb.if_tsresol
                )
            })?;
            cx.interfaces.push(Interface {
                link: LinkType(idb.linktype.0 as u32),
                units_per_sec,
                // pcap-parser 0.17 decodes if_tsoffset as little-endian even in
                // big-endian sections: undo that there.
                offset_secs: if *cx.big_endian {
                    idb.ts_offset().swap_bytes()
                } else {
                    idb.ts_offset()
                },
            });
            return Ok(None);
        }
        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
            let Some(iface) = cx.interfaces.get(epb.if_id as usize).copied() else {
                note_once(
                    &mut cx,
                    "pcapng-unknown-interface",
                    format!(
                        "packet names interface {} which the section did not describe; skipped",
                        epb.if_id
                    ),
                );
                *cx.records += 1;
                return Ok(None);
            };
            let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            let secs = (ts / iface.units_per_sec) as i64;
            let frac = ((ts % iface.units_per_sec) as u128 * 1_000_000_000
                / iface.units_per_sec as u128) as i64;
            let time = CaptureTime::from_secs_nanos(secs.saturating_add(iface.offset_secs), frac);
            let data: &[u8] = epb.data;
            (
                iface.link,
                time,
                &data[..(epb.caplen as usize).min(data.len())],
                epb.origlen,
            )
        }
        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
            // SPBs carry no timestamp and belong to interface 0 (pcapng §4.4).
            let Some(iface) = cx.interfaces.first().copied() else {
                note_once(
                    &mut cx,
                    "pcapng-unknown-interface",
                    "simple packet block before any interface description; skipped".into(),
                );
                *cx.records += 1;
                return Ok(None);
            };
            let data: &[u8] = spb.data;
            (
                iface.link,
                *cx.last_time,
                &data[..(spb.origlen as usize).min(data.len())],
                spb.origlen,
            )
        }
        PcapBlockOwned::NG(Block::DecryptionSecrets(dsb)) => {
            // pcap-parser hands the data with its padding to 32 bits.
            let data: &[u8] = dsb.data;
            let len = usize::try_from(dsb.secrets_len).unwrap_or(usize::MAX);
            let data = data.get(..len).ok_or_else(|| {
                format!(
                    "decryption secrets block claims {} bytes of secrets in {} bytes",
                    dsb.secrets_len,
                    data.len()
                )
            })?;
            cx.secrets.push(Secrets {
                file: cx.file,
                offset: cx.offset,
                kind: SecretsKind::from_type(dsb.secrets_type.0),
                data: data.to_vec(),
            });
            return Ok(None);
        }
        PcapBlockOwned::NG(_) => return Ok(None),
    };
    *cx.records += 1;
    *cx.last_time = time;
    let meta = FrameMeta {
        file: cx.file,
        index: *cx.records,
        offset: cx.offset,
        time,
        link: Link::Pcap(link),
        orig_len,
    };
    Ok(Some((meta, data)))
}

/// Keeps the first diagnostic of each kind: it locates the problem without flooding.
fn note_once(cx: &mut HandleCtx<'_>, kind: &'static str, message: String) {
    if cx.diagnostics.iter().any(|d| d.kind == kind) {
        return;
    }
    let ctx = PacketCtx {
        file: cx.file,
        frame: *cx.records + 1,
        offset: cx.offset,
        time: *cx.last_time,
        rtp: None,
    };
    cx.diagnostics.push(Diagnostic { ctx, kind, message });
}

/// Tells a corrupt length field from a file cut short: the length itself is implausible.
/// `data` starts at the record; `snaplen` is `None` for pcapng.
fn corrupt_length(data: &[u8], big_endian: bool, snaplen: Option<u32>) -> Option<String> {
    let at = if snaplen.is_some() { 8 } else { 4 };
    let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    let claimed = if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    } as usize;
    let what = if snaplen.is_some() {
        "captured length"
    } else {
        "block length"
    };
    match snaplen {
        _ if claimed > MAX_RECORD => Some(format!(
            "{what} {claimed} exceeds the {} MiB limit: corrupt length field",
            MAX_RECORD >> 20
        )),
        Some(snap) if claimed > MAX_SNAPLEN && claimed > snap as usize => Some(format!(
            "captured length {claimed} exceeds the file's snaplen {snap}: corrupt length field"
        )),
        _ => None,
    }
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::Eof => "end of file".into(),
        PcapError::BufferTooSmall => "record larger than the read buffer".into(),
        PcapError::UnexpectedEof => "file ends inside a record".into(),
        PcapError::ReadError => "read error (I/O or decompression)".into(),
        PcapError::Incomplete(n) => format!("incomplete record ({n} more bytes needed)"),
        PcapError::HeaderNotRecognized => "header not recognised".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("invalid block structure ({kind:?}): corrupt length or type field")
        }
    }
}
