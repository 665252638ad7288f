//! Payload buffers reused on the thread that freed them.
//!
//! A track worker copies each packet's payload out of its batch's byte
//! buffer into a buffer of its own (the reorder buffer may hold it past the
//! batch), and lets it go once the packet is depacketized. Taking those
//! buffers from a small per-thread stack instead of from malloc saves an
//! allocation and a free per packet. A buffer is mostly taken and given back
//! on one thread within one batch, so its cache lines stay where they are
//! (unlike buffers handed back to the routing thread, which were slower than
//! malloc: benches/README.md, "Reading on the recorder's thread"); a packet
//! held across batches may come back on another worker thread, which is only
//! slower.

use std::cell::RefCell;

/// Buffers kept per thread, at most.
const KEEP: usize = 512;
/// Largest buffer kept: a datagram's payload. A jumbo packet's buffer
/// reused for small payloads would hold far more than the reorder and FEC
/// byte bounds count (they count lengths).
const MAX_CAPACITY: usize = 2048;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A copy of `data` in a buffer from this thread's stack, or a new one.
pub fn copy_of(data: &[u8]) -> Vec<u8> {
    let mut buf = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
    buf.extend_from_slice(data);
    buf
}

/// Keeps `buf` for the next [`copy_of`] on this thread, unless the stack is
/// full or the buffer is empty or larger than a datagram.
pub fn give_back(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > MAX_CAPACITY {
        return;
    }
    buf.clear();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEEP {
            p.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_on_their_thread_up_to_a_bound_in_number_and_size() {
        let a = copy_of(b"abc");
        assert_eq!(a, b"abc");
        let ptr = a.as_ptr();
        give_back(a);
        let b = copy_of(b"xy");
        assert_eq!((b.as_slice(), b.as_ptr()), (&b"xy"[..], ptr), "reused");
        // Jumbo and empty buffers are not kept.
        give_back(Vec::with_capacity(MAX_CAPACITY + 1));
        give_back(Vec::new());
        assert_eq!(POOL.with(|p| p.borrow().len()), 0);
        for _ in 0..KEEP + 10 {
            give_back(Vec::with_capacity(100));
        }
        assert_eq!(POOL.with(|p| p.borrow().len()), KEEP);
        // Another thread has a stack of its own.
        std::thread::spawn(|| assert_eq!(POOL.with(|p| p.borrow().len()), 0))
            .join()
            .unwrap();
    }
}
