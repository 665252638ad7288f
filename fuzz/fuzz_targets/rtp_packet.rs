//! RTP header, CSRCs, padding and RFC 8285 extensions: the view's parts add up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::rtp::RtpPacket;

fuzz_target!(|data: &[u8]| {
    let _ = rtprec::rtp::classify(data);
    let Ok(p) = RtpPacket::parse(data) else { return };
    assert_eq!(p.version(), 2);
    assert_eq!(p.header_len() + p.payload().len() + usize::from(p.padding_len()), data.len());
    assert_eq!(p.csrcs().count(), usize::from(p.csrc_count()));
    let exts = p.extensions();
    let mut total = 0;
    for e in exts {
        assert!(e.data.len() <= data.len());
        total += e.data.len();
    }
    assert!(total <= data.len());
});
