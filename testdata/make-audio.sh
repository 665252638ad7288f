#!/usr/bin/env bash
# Remakes the captures of real telephony audio (testdata/media-g711*.pcap,
# testdata/media-g722-l16.pcap): ffmpeg makes test tones as raw G.711, G.722
# and big-endian 16-bit PCM, then examples/mkmedia.rs cuts them into RTP
# packets (20 ms; L16 10 ms). Like make-media.sh, the committed captures are
# the reference (ffmpeg 5.1.9, Debian 12); the ground truth JSON ends each .txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet --example mkmedia
m=target/release/examples/mkmedia
src=${MEDIA_DIR:-$(mktemp -d)}
ff() { ffmpeg -hide_banner -v error -y "$@"; }

ff -f lavfi -i sine=frequency=440:sample_rate=8000:duration=4 -f mulaw "$src/pcmu.ul"
ff -f lavfi -i sine=frequency=660:sample_rate=8000:duration=4 -f alaw "$src/pcma.al"
ff -f lavfi -i sine=frequency=440:sample_rate=16000:duration=4 -c:a g722 -f g722 "$src/g722.g722"
ff -f lavfi -i sine=frequency=1000:sample_rate=44100:duration=1 -f s16be "$src/l16.s16be"

# run NAME DESCRIPTION MKMEDIA-ARGS...: writes testdata/NAME and testdata/NAME.txt (ground truth JSON last).
run() {
  local name=$1 what=$2; shift 2
  local json
  json=$("$m" --out "testdata/$name" "$@")
  {
    echo "$name"
    echo
    echo "$what"
    echo
    echo "Made by rtprec's generator (examples/mkmedia.rs) from ffmpeg test tones; licence MIT OR Apache-2.0."
    echo "One peer 10.0.0.10:50000 -> 10.0.0.1:40000, Ethernet, microsecond pcap, RTCP SR+SDES each second, BYE at the end."
    echo "Start 2026-11-23T10:00:00Z; one packet per 20 ms of audio (L16: 10 ms), static payload types, up to 1 ms send jitter."
    echo
    echo "Inputs ($(ffmpeg -version | head -1 | cut -d' ' -f1-3)):"
    echo
    echo "    pcmu.ul:    ffmpeg -f lavfi -i sine=frequency=440:sample_rate=8000:duration=4 -f mulaw pcmu.ul"
    echo "    pcma.al:    ffmpeg -f lavfi -i sine=frequency=660:sample_rate=8000:duration=4 -f alaw pcma.al"
    echo "    g722.g722:  ffmpeg -f lavfi -i sine=frequency=440:sample_rate=16000:duration=4 -c:a g722 -f g722 g722.g722"
    echo "    l16.s16be:  ffmpeg -f lavfi -i sine=frequency=1000:sample_rate=44100:duration=1 -f s16be l16.s16be"
    echo
    echo "Command (see testdata/make-audio.sh):"
    echo
    echo "    cargo run --release --example mkmedia -- --out testdata/$name $(echo "$@" | sed "s|$src/||g")"
    echo
    echo "Ground truth (mkmedia's JSON, read by tests/wav.rs). Per SSRC: packets/lost/duplicates/reordered"
    echo "as a receiver counts them; media.undecodable = indices of the packets (20 ms each) lost;"
    echo "media.length_ticks = first timestamp to the end of the last packet."
    echo
    echo "$json" | sed "s|\"file\": \".*\"|\"file\": \"testdata/$name\"|"
  } > "testdata/$name.txt"
}
run media-g711.pcap "G.711 mu-law (PCMU, PT 0, 440 Hz tone) and A-law (PCMA, PT 8, 660 Hz tone), 4 s each, clean network." \
  --pcmu "$src/pcmu.ul" --pcma "$src/pcma.al" --seed 15
run media-g711-impaired.pcap "The same media as media-g711.pcap through a bad network: 2% loss, 1% duplicates, 2% reordering (swap with a packet up to 3 later)." \
  --pcmu "$src/pcmu.ul" --pcma "$src/pcma.al" --loss 0.02 --dup 0.01 --reorder 0.02 --seed 21
run media-g722-l16.pcap "G.722 (PT 9, 440 Hz tone, 4 s) and L16 mono 44.1 kHz (PT 11, 1 kHz tone, 1 s, 10 ms packets), clean network." \
  --g722 "$src/g722.g722" --l16 "$src/l16.s16be" --seed 16
echo "encoded inputs in $src" >&2
