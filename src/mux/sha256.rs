//! SHA-256 of finished files, two files at a time on each core.
//!
//! A WebM or WAV file's header is patched when the file ends, so its hash can
//! only be computed then, by reading it back (see [`super::atomic`]); at the
//! end of a run that is most of what is left to do. SHA-256 is sequential
//! within one message: each 64-byte block's compression needs the previous
//! block's result, and the SHA-NI round instruction (`sha256rnds2`) has a
//! latency of several cycles, so one message keeps a core's SHA unit idle most
//! of the time. Two independent messages interleaved round by round fill those
//! gaps: on the development VM one core hashed 1.3-1.6 GB/s of one file with
//! the `sha2` crate, `ring` or `aws-lc-rs` alike, and 2.2 GB/s of two files at
//! once (four lanes gave 2.4 GB/s: the unit is then busy). The block function
//! follows FIPS 180-4 §6.2.2, the instruction use Intel's SHA extensions
//! reference (message schedule: `sha256msg1`/`sha256msg2`; state held as
//! ABEF/CDGH); without SHA-NI, files are hashed one by one with `sha2`.
//!
//! [`hash_files`] runs the lanes: each thread of a pool pulls the next file
//! into whichever of its two lanes is free, so files of different sizes keep
//! both lanes busy until the queue is empty.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;

/// A file to hash: its path and the length it must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashJob {
    /// The file.
    pub path: PathBuf,
    /// Its length in bytes; a file of another length is an error.
    pub len: u64,
}

/// The SHA-256 of each job's file, in job order, hashed on `threads` threads
/// (at least one) with two files per thread where the CPU allows.
///
/// Thread `t` of `n` takes jobs `t`, `t + n`, `t + 2n`...: given the largest
/// first, the threads get about as many bytes each, and none takes two of
/// the largest files while another is still starting. This thread is thread
/// 0, and does the share of any thread the system refuses to start.
pub fn hash_files(jobs: &[HashJob], threads: usize) -> Vec<io::Result<[u8; 32]>> {
    let results: Mutex<Vec<Option<io::Result<[u8; 32]>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let put = |i: usize, r: io::Result<[u8; 32]>| {
        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
    };
    let n = threads.clamp(1, jobs.len().max(1));
    let share = |t: usize| (t..jobs.len()).step_by(n);
    std::thread::scope(|s| {
        let mut refused = Vec::new();
        for t in 1..n {
            let put = &put;
            let started = std::thread::Builder::new()
                .name("rtprec-hash".into())
                .spawn_scoped(s, move || run_lanes(jobs, &mut share(t), put));
            if started.is_err() {
                refused.push(t);
            }
        }
        for t in std::iter::once(0).chain(refused) {
            run_lanes(jobs, &mut share(t), &put);
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("file not hashed"))))
        .collect()
}

/// One thread's work: the jobs `mine` names, through two lanes.
fn run_lanes(
    jobs: &[HashJob],
    mine: &mut dyn Iterator<Item = usize>,
    put: &dyn Fn(usize, io::Result<[u8; 32]>),
) {
    let mut take = || mine.next();
    if !two_lanes_available() {
        while let Some(i) = take() {
            put(i, hash_one(&jobs[i].path, jobs[i].len));
        }
        return;
    }
    let mut lanes: [Option<(usize, Lane)>; LANES] = std::array::from_fn(|_| None);
    loop {
        for lane in &mut lanes {
            while lane.is_none() {
                let Some(i) = take() else { break };
                match Lane::open(&jobs[i].path, jobs[i].len) {
                    Ok(l) => *lane = Some((i, l)),
                    Err(e) => put(i, Err(e)),
                }
            }
        }
        if lanes.iter().all(Option::is_none) {
            return;
        }
        // Each lane reads what it needs; a read error is that file's alone.
        let mut blocks = usize::MAX;
        for lane in &mut lanes {
            if let Some((i, l)) = lane {
                match l.fill() {
                    Ok(n) => blocks = blocks.min(n),
                    Err(e) => {
                        put(*i, Err(e));
                        *lane = None;
                    }
                }
            }
        }
        let mut active: Vec<&mut Lane> = lanes.iter_mut().flatten().map(|(_, l)| l).collect();
        if blocks != usize::MAX {
            compress_lanes(&mut active, blocks);
        }
        // A lane at its end has no more to wait for: its last blocks go alone.
        for l in active {
            if l.eof {
                l.compress_waiting();
            }
        }
        for lane in &mut lanes {
            if lane.as_ref().is_some_and(|(_, l)| l.done()) {
                let (i, l) = lane.take().expect("checked");
                put(i, l.finish());
            }
        }
    }
}

/// Files hashed at once on one thread. Four interleaved messages hash
/// faster than two on their own (2.4 against 2.2 GB/s a core), but `record`
/// took longer with four lanes (1.11 against 1.05 s on the 1 GiB benchmark
/// capture): with a run's dozen files, lanes run dry unevenly at the end.
const LANES: usize = 2;

/// Compresses `n` waiting blocks of every lane, two at a time.
fn compress_lanes(lanes: &mut [&mut Lane], n: usize) {
    let len = 64 * n;
    for pair in lanes.chunks_mut(2) {
        match pair {
            [a, b] => {
                let ((sa, ba), (sb, bb)) = (a.parts(len), b.parts(len));
                compress_pair(sa, ba, sb, bb);
            }
            [a] => a.compress_n(n),
            _ => {}
        }
    }
    for l in lanes.iter_mut() {
        l.at += len;
    }
}

/// SHA-256 of a whole file with the `sha2` crate, checking its length.
fn hash_one(path: &Path, len: u64) -> io::Result<[u8; 32]> {
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    let (hash, hashed) = super::atomic::hash_prefix(&mut f, len)?;
    // Shorter than `len`: as far as it reached; longer: its size.
    check_len(path, if hashed < len { hashed } else { size }, len)?;
    Ok(hash)
}

fn check_len(path: &Path, got: u64, want: u64) -> io::Result<()> {
    if got == want {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("{}: {got} bytes where {want} were written", path.display()),
    ))
}

fn read_some(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match f.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Whether this CPU has the instructions the two-lane path needs.
fn two_lanes_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
            && std::arch::is_x86_feature_detected!("ssse3")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One file being hashed: the state, and bytes read but not yet compressed.
struct Lane {
    path: PathBuf,
    file: File,
    len: u64,
    state: [u32; 8],
    /// Bytes read, not yet compressed: `buf[at..end]`.
    buf: Box<[u8]>,
    at: usize,
    end: usize,
    /// Bytes read so far.
    read: u64,
    eof: bool,
}

impl Lane {
    fn open(path: &Path, len: u64) -> io::Result<Lane> {
        Ok(Lane {
            path: path.to_path_buf(),
            file: File::open(path)?,
            len,
            state: H0,
            buf: vec![0; CHUNK].into_boxed_slice(),
            at: 0,
            end: 0,
            read: 0,
            eof: false,
        })
    }

    /// Whole blocks waiting, reading more first when less than one is.
    fn fill(&mut self) -> io::Result<usize> {
        if self.end - self.at < 64 && !self.eof {
            // What is left of the last read (under a block) moves to the front.
            self.buf.copy_within(self.at..self.end, 0);
            self.end -= self.at;
            self.at = 0;
            let n = read_some(&mut self.file, &mut self.buf[self.end..])?;
            self.end += n;
            self.read += n as u64;
            self.eof = n == 0;
        }
        Ok((self.end - self.at) / 64)
    }

    /// Read to the end with fewer than 64 bytes left: only the padding remains.
    fn done(&self) -> bool {
        self.eof && self.end - self.at < 64
    }

    /// Compresses every whole block waiting, alone (a lane at its end).
    fn compress_waiting(&mut self) {
        let n = (self.end - self.at) / 64;
        self.compress_n(n);
        self.at += 64 * n;
    }

    /// Compresses the next `n` waiting blocks, alone (the caller moves `at`).
    fn compress_n(&mut self, n: usize) {
        compress(&mut self.state, &self.buf[self.at..self.at + 64 * n]);
    }

    /// The state and the next `len` waiting bytes, to compress with other lanes'.
    fn parts(&mut self, len: usize) -> (&mut [u32; 8], &[u8]) {
        (&mut self.state, &self.buf[self.at..self.at + len])
    }

    /// Pads (FIPS 180-4 §5.1.1) and returns the digest.
    fn finish(mut self) -> io::Result<[u8; 32]> {
        check_len(&self.path, self.read, self.len)?;
        let mut tail = self.buf[self.at..self.end].to_vec();
        tail.push(0x80);
        while tail.len() % 64 != 56 {
            tail.push(0);
        }
        tail.extend_from_slice(&(self.read.wrapping_mul(8)).to_be_bytes());
        compress(&mut self.state, &tail);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        Ok(out)
    }
}

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Compresses whole 64-byte blocks into `state`, one message.
fn compress(state: &mut [u32; 8], blocks: &[u8]) {
    debug_assert_eq!(blocks.len() % 64, 0);
    #[cfg(target_arch = "x86_64")]
    if two_lanes_available() {
        // SAFETY: the CPU has the features `shani::compress` is compiled for.
        unsafe { shani::compress(state, blocks) };
        return;
    }
    soft_compress(state, blocks);
}

/// Compresses whole 64-byte blocks of two messages of the same length at once.
fn compress_pair(a: &mut [u32; 8], blocks_a: &[u8], b: &mut [u32; 8], blocks_b: &[u8]) {
    debug_assert_eq!(blocks_a.len(), blocks_b.len());
    #[cfg(target_arch = "x86_64")]
    if two_lanes_available() {
        // SAFETY: the CPU has the features `shani::compress_pair` is compiled for.
        unsafe { shani::compress_pair(a, blocks_a, b, blocks_b) };
        return;
    }
    soft_compress(a, blocks_a);
    soft_compress(b, blocks_b);
}

/// The `sha2` crate's block function, for CPUs without SHA-NI.
fn soft_compress(state: &mut [u32; 8], blocks: &[u8]) {
    let (blocks, rest) = blocks.as_chunks::<64>();
    debug_assert!(rest.is_empty());
    sha2::block_api::compress256(state, blocks);
}

#[cfg(target_arch = "x86_64")]
mod shani {
    use std::arch::x86_64::*;

    /// SHA-256's round constants (FIPS 180-4 §4.2.2).
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// The state as `sha256rnds2` wants it: words A, B, E, F and C, D, G, H.
    #[derive(Clone, Copy)]
    struct State {
        abef: __m128i,
        cdgh: __m128i,
    }

    #[inline(always)]
    unsafe fn load(h: &[u32; 8]) -> State {
        // SAFETY (all intrinsics here): the caller's target features; the
        // unaligned loads read 16 bytes within `h`.
        unsafe {
            let dcba = _mm_shuffle_epi32(_mm_loadu_si128(h.as_ptr().cast()), 0xB1);
            let efgh = _mm_shuffle_epi32(_mm_loadu_si128(h.as_ptr().add(4).cast()), 0x1B);
            State {
                abef: _mm_alignr_epi8(dcba, efgh, 8),
                cdgh: _mm_blend_epi16(efgh, dcba, 0xF0),
            }
        }
    }

    #[inline(always)]
    unsafe fn store(s: State, h: &mut [u32; 8]) {
        // SAFETY: the caller's target features; the stores write within `h`.
        unsafe {
            let feba = _mm_shuffle_epi32(s.abef, 0x1B);
            let dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
            _mm_storeu_si128(h.as_mut_ptr().cast(), _mm_blend_epi16(feba, dchg, 0xF0));
            _mm_storeu_si128(h.as_mut_ptr().add(4).cast(), _mm_alignr_epi8(dchg, feba, 8));
        }
    }

    /// A block's 16 message words, big-endian, four to a vector.
    #[inline(always)]
    unsafe fn message(block: &[u8]) -> [__m128i; 4] {
        // SAFETY: the caller's target features; `block` holds 64 bytes.
        unsafe {
            let swap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
            let p = block.as_ptr();
            [0, 1, 2, 3].map(|i| _mm_shuffle_epi8(_mm_loadu_si128(p.add(16 * i).cast()), swap))
        }
    }

    /// Rounds 4I to 4I+3; from I = 4 on, first the next four schedule words
    /// (FIPS 180-4 §6.2.2 step 1), replacing the oldest in `w`.
    #[inline(always)]
    unsafe fn rounds<const I: usize>(s: &mut State, w: &mut [__m128i; 4]) {
        // SAFETY: the caller's target features; K has 64 words.
        unsafe {
            let m = if I < 4 {
                w[I]
            } else {
                let sum = _mm_add_epi32(
                    _mm_sha256msg1_epu32(w[I % 4], w[(I + 1) % 4]),
                    _mm_alignr_epi8(w[(I + 3) % 4], w[(I + 2) % 4], 4),
                );
                w[I % 4] = _mm_sha256msg2_epu32(sum, w[(I + 3) % 4]);
                w[I % 4]
            };
            let wk = _mm_add_epi32(m, _mm_loadu_si128(K.as_ptr().add(4 * I).cast()));
            s.cdgh = _mm_sha256rnds2_epu32(s.cdgh, s.abef, wk);
            s.abef = _mm_sha256rnds2_epu32(s.abef, s.cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
    }

    /// All 64 rounds of one block: `(state, schedule)`, or two such pairs
    /// interleaved round group by round group.
    macro_rules! all_rounds {
        ($s:expr, $w:expr) => {
            all_rounds!(@one $s, $w; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
        };
        ($s:expr, $w:expr; $t:expr, $v:expr) => {
            all_rounds!(@two $s, $w, $t, $v; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
        };
        (@one $s:expr, $w:expr; $($i:literal)*) => {
            $( rounds::<$i>($s, $w); )*
        };
        (@two $s:expr, $w:expr, $t:expr, $v:expr; $($i:literal)*) => {
            $( rounds::<$i>($s, $w); rounds::<$i>($t, $v); )*
        };

    }

    #[target_feature(enable = "sha,sse4.1,ssse3")]
    pub unsafe fn compress(h: &mut [u32; 8], blocks: &[u8]) {
        // SAFETY: this function's target features; each block is 64 bytes.
        unsafe {
            let mut s = load(h);
            for block in blocks.chunks_exact(64) {
                let start = s;
                let mut w = message(block);
                all_rounds!(&mut s, &mut w);
                s.abef = _mm_add_epi32(s.abef, start.abef);
                s.cdgh = _mm_add_epi32(s.cdgh, start.cdgh);
            }
            store(s, h);
        }
    }

    #[target_feature(enable = "sha,sse4.1,ssse3")]
    pub unsafe fn compress_pair(ha: &mut [u32; 8], a: &[u8], hb: &mut [u32; 8], b: &[u8]) {
        // SAFETY: this function's target features; each block is 64 bytes.
        unsafe {
            let (mut sa, mut sb) = (load(ha), load(hb));
            for (x, y) in a.chunks_exact(64).zip(b.chunks_exact(64)) {
                let (start_a, start_b) = (sa, sb);
                let (mut wa, mut wb) = (message(x), message(y));
                all_rounds!(&mut sa, &mut wa; &mut sb, &mut wb);
                sa.abef = _mm_add_epi32(sa.abef, start_a.abef);
                sa.cdgh = _mm_add_epi32(sa.cdgh, start_a.cdgh);
                sb.abef = _mm_add_epi32(sb.abef, start_b.abef);
                sb.cdgh = _mm_add_epi32(sb.cdgh, start_b.cdgh);
            }
            store(sa, ha);
            store(sb, hb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
            .collect()
    }

    #[test]
    fn the_block_functions_agree_with_sha2() {
        for n in [0usize, 1, 2, 7, 64] {
            let (a, b) = (bytes(64 * n, 1), bytes(64 * n, 2));
            let mut want_a = H0;
            soft_compress(&mut want_a, &a);
            let mut want_b = H0;
            soft_compress(&mut want_b, &b);
            let mut one = H0;
            compress(&mut one, &a);
            assert_eq!(one, want_a, "{n} blocks alone");
            let (mut x, mut y) = (H0, H0);
            compress_pair(&mut x, &a, &mut y, &b);
            assert_eq!((x, y), (want_a, want_b), "{n} blocks in pairs");
        }
    }

    #[test]
    fn files_of_every_size_around_the_block_and_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let mut jobs = Vec::new();
        let mut want = Vec::new();
        for (k, len) in [
            0usize,
            1,
            55,
            56,
            63,
            64,
            65,
            119,
            120,
            128,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 17,
            1 << 20,
        ]
        .into_iter()
        .enumerate()
        {
            let data = bytes(len, k as u8);
            let path = dir.path().join(format!("f{k}"));
            std::fs::write(&path, &data).unwrap();
            want.push(sha(&data));
            jobs.push(HashJob {
                path,
                len: len as u64,
            });
        }
        for threads in [1, 2, 3] {
            let got: Vec<[u8; 32]> = hash_files(&jobs, threads)
                .into_iter()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(got, want, "{threads} threads");
        }
        assert!(hash_files(&[], 2).is_empty());
    }

    #[test]
    fn a_missing_file_or_a_wrong_length_is_an_error_for_that_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = bytes(5000, 9);
        let path = dir.path().join("ok");
        std::fs::write(&path, &data).unwrap();
        let jobs = [
            HashJob {
                path: dir.path().join("missing"),
                len: 10,
            },
            HashJob {
                path: path.clone(),
                len: 5000,
            },
            HashJob {
                path: path.clone(),
                len: 4999,
            },
            HashJob { path, len: 5000 },
        ];
        for threads in [1, 2] {
            let got = hash_files(&jobs, threads);
            assert!(got[0].is_err());
            assert_eq!(got[1].as_ref().unwrap(), &sha(&data));
            let e = got[2].as_ref().unwrap_err().to_string();
            assert!(e.contains("5000 bytes where 4999"), "{e}");
            assert_eq!(got[3].as_ref().unwrap(), &sha(&data));
        }
    }

    /// The path without SHA-NI: the `sha2` crate, the same length checks.
    #[test]
    fn without_sha_ni_a_file_is_hashed_whole_and_its_length_checked() {
        let dir = tempfile::tempdir().unwrap();
        let data = bytes(200_000, 3);
        let path = dir.path().join("f");
        std::fs::write(&path, &data).unwrap();
        assert_eq!(hash_one(&path, 200_000).unwrap(), sha(&data));
        let longer = hash_one(&path, 199_999).unwrap_err().to_string();
        assert!(longer.contains("200000 bytes where 199999"), "{longer}");
        let shorter = hash_one(&path, 200_001).unwrap_err().to_string();
        assert!(shorter.contains("200000 bytes where 200001"), "{shorter}");
        assert!(hash_one(&dir.path().join("missing"), 1).is_err());
    }

    proptest! {
        #[test]
        fn any_messages_hash_as_sha2_hashes_them(
            messages in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..600),
                1..7,
            ),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let jobs: Vec<HashJob> = messages
                .iter()
                .enumerate()
                .map(|(k, m)| {
                    let path = dir.path().join(k.to_string());
                    std::fs::write(&path, m).unwrap();
                    HashJob { path, len: m.len() as u64 }
                })
                .collect();
            // One thread: its lanes take the files two at a time, then one.
            let got = hash_files(&jobs, 1);
            for (g, m) in got.iter().zip(&messages) {
                prop_assert_eq!(g.as_ref().unwrap(), &sha(m));
            }
        }
    }
}
