//! RTCP compounds: iteration ends, yields at most one error, never reads past the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::rtp::rtcp;

fuzz_target!(|data: &[u8]| {
    let mut packets = 0usize;
    let mut errors = 0usize;
    for item in rtcp::compound(data) {
        match item {
            Ok(_) => packets += 1,
            Err(_) => errors += 1,
        }
        // Every RTCP packet is at least 4 bytes.
        assert!(packets * 4 <= data.len());
    }
    assert!(errors <= 1, "a malformed packet ends the iteration");
});
