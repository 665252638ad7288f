//! The codec guesser on arbitrary packet sequences: never panics, and a media codec always has its clock.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtprec::codec::CodecGuesser;

fuzz_target!(|data: &[u8]| {
    let Some((&pt, rest)) = data.split_first() else { return };
    let mut g = CodecGuesser::new(pt & 0x7f);
    // Split the input into packets at 0xFF bytes; the byte after is the marker/timestamp seed.
    let mut ts = 0u32;
    for (i, chunk) in rest.split(|b| *b == 0xff).enumerate() {
        ts = ts.wrapping_add(chunk.first().copied().unwrap_or(0) as u32 * 120);
        g.push(i % 3 == 0, ts, chunk);
    }
    let guess = g.guess();
    // DTMF events take the clock of the audio they accompany, which may be unknowable.
    if guess.codec.is_some_and(|c| c != rtprec::codec::Codec::TelephoneEvent) {
        assert!(guess.clock_rate.is_some(), "a named codec has a clock rate: {guess:?}");
    }
});
