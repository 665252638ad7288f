//! RED (RFC 2198) payloads: headers and blocks exactly cover the payload, or it is an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::track::red::split;

fuzz_target!(|data: &[u8]| {
    if let Ok(blocks) = split(data) {
        let headers = 4 * (blocks.len() - 1) + 1;
        let body: usize = blocks.iter().map(|b| b.data.len()).sum();
        assert_eq!(headers + body, data.len(), "blocks cover the payload exactly");
        assert_eq!(blocks.last().map(|b| b.ts_offset), Some(0), "the primary has no offset");
    }
});
