//! TURN ChannelData, Send/Data indications and TURN-over-TCP message lengths:
//! the inner datagram always lies inside the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::net::turn::{self, Unwrapped};

fuzz_target!(|data: &[u8]| {
    if let Unwrapped::Inner(_, inner) = turn::unwrap(data) {
        let (start, end) = (inner.as_ptr() as usize, inner.as_ptr() as usize + inner.len());
        let (lo, hi) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
        assert!(start >= lo && end <= hi, "inner datagram lies inside the message");
    }
    let _ = turn::tcp_message_len(data);
});
