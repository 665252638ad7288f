//! libopus, loaded when first needed (`libopus.so.0`), for decoding Opus to
//! 16 kHz PCM (`--audio-export wav16k`).
//!
//! Why not a bindings crate linked at build time (`opus`/`audiopus_sys`): they
//! need libopus-dev and pkg-config, or cmake to build a bundled copy, when
//! rtprec is built, so `cargo build` would fail on a machine that has neither,
//! for a feature most runs do not use. The shared library itself is almost
//! always present (ffmpeg, GStreamer and the browsers depend on it), and only
//! three functions of its stable C API are needed (opus_decoder.h).

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

/// `OPUS_OK` (opus_defines.h).
const OPUS_OK: c_int = 0;

/// The shared library names tried, in order.
const NAMES: [&str; 3] = ["libopus.so.0", "libopus.so", "libopus.0.dylib"];

type Create = unsafe extern "C" fn(i32, c_int, *mut c_int) -> *mut c_void;
type Decode = unsafe extern "C" fn(*mut c_void, *const u8, i32, *mut i16, c_int, c_int) -> c_int;
type Destroy = unsafe extern "C" fn(*mut c_void);

/// The loaded library and its three functions.
struct Lib {
    create: Create,
    decode: Decode,
    destroy: Destroy,
    /// Kept loaded for the life of the process: the function pointers point into it.
    _lib: libloading::Library,
}

/// The library, loaded once; the error says what to install.
fn lib() -> Result<&'static Lib, String> {
    static LIB: OnceLock<Result<Lib, String>> = OnceLock::new();
    LIB.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Lib, String> {
    let mut last = String::new();
    for name in NAMES {
        // SAFETY: loading libopus runs no initialisation code with preconditions;
        // the symbols are looked up with the C signatures opus_decoder.h declares.
        let loaded = unsafe { libloading::Library::new(name) };
        match loaded {
            Ok(lib) => unsafe {
                let create = *lib
                    .get::<Create>(b"opus_decoder_create\0")
                    .map_err(|e| e.to_string())?;
                let decode = *lib
                    .get::<Decode>(b"opus_decode\0")
                    .map_err(|e| e.to_string())?;
                let destroy = *lib
                    .get::<Destroy>(b"opus_decoder_destroy\0")
                    .map_err(|e| e.to_string())?;
                return Ok(Lib {
                    create,
                    decode,
                    destroy,
                    _lib: lib,
                });
            },
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!(
        "libopus could not be loaded ({last}): install it (Debian: apt-get install libopus0)"
    ))
}

/// A mono libopus decoder at one output sample rate.
pub struct Decoder {
    lib: &'static Lib,
    state: std::ptr::NonNull<c_void>,
}

// SAFETY: an OpusDecoder is plain memory owned by this value; libopus keeps no
// thread-local state, so it may move between threads (not be shared).
unsafe impl Send for Decoder {}

impl Decoder {
    /// A decoder whose output is mono at `rate` Hz (8000, 12000, 16000, 24000 or
    /// 48000; libopus downmixes stereo streams itself).
    pub fn new(rate: u32) -> Result<Self, String> {
        let lib = lib()?;
        let rate = i32::try_from(rate).map_err(|_| format!("sample rate {rate}"))?;
        let mut err: c_int = OPUS_OK;
        // SAFETY: `err` outlives the call; the result is checked for null.
        let state = unsafe { (lib.create)(rate, 1, &mut err) };
        match std::ptr::NonNull::new(state) {
            Some(state) if err == OPUS_OK => Ok(Decoder { lib, state }),
            _ => Err(format!("opus_decoder_create failed with error {err}")),
        }
    }

    /// Decodes `packet` into `out`, at most `out.len()` samples; an empty packet
    /// asks for loss concealment of `out.len()` samples. Returns the samples written.
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, String> {
        let len = i32::try_from(packet.len()).map_err(|_| "packet too long".to_string())?;
        let frames = c_int::try_from(out.len()).map_err(|_| "buffer too long".to_string())?;
        let data = if packet.is_empty() {
            std::ptr::null()
        } else {
            packet.as_ptr()
        };
        // SAFETY: `data` is `len` readable bytes (or null for concealment), `out`
        // has room for `frames` mono samples, and `state` is a live decoder.
        let n = unsafe {
            (self.lib.decode)(self.state.as_ptr(), data, len, out.as_mut_ptr(), frames, 0)
        };
        usize::try_from(n).map_err(|_| format!("opus_decode failed with error {n}"))
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create and destroyed once.
        unsafe { (self.lib.destroy)(self.state.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concealment_and_garbage_keep_their_length_or_fail_cleanly() {
        let Ok(mut d) = Decoder::new(16_000) else {
            // No libopus here: the export says so. CI installs it (with ffmpeg).
            assert!(lib().is_err());
            assert!(
                std::env::var_os("CI").is_none(),
                "libopus.so.0 is missing: {:?}",
                lib().err()
            );
            eprintln!("skipped: libopus.so.0 is not installed");
            return;
        };
        let mut out = vec![0i16; 320];
        // 20 ms of concealment at 16 kHz.
        assert_eq!(d.decode(&[], &mut out), Ok(320));
        // A TOC-only packet of config 0 (SILK NB 10 ms), code 0: a valid empty frame.
        assert!(d.decode(&[0x00], &mut out).is_ok());
        // A code 3 packet claiming more frames than the bytes hold is an error, not a crash.
        assert!(d.decode(&[0x03, 0xff], &mut out).is_err());
    }
}
