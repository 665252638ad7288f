#!/usr/bin/env bash
# Remakes the captures of real encoded media (testdata/media-*.pcap): ffmpeg
# encodes 4 s test signals, then examples/mkmedia.rs packetizes them. ffmpeg's
# output differs between versions, so the committed captures are the reference
# and this script documents how they were made (ffmpeg 5.1.9, Debian 12).
# Ground truth JSON is written next to each capture's .txt by hand: see the
# .txt files (OUT_JSON=DIR keeps the raw JSON).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet --example mkmedia
m=target/release/examples/mkmedia
src=${MEDIA_DIR:-$(mktemp -d)}
json=${OUT_JSON:-$src}
ff() { ffmpeg -hide_banner -v error -y "$@"; }
video=(-f lavfi -i testsrc2=size=320x240:rate=30 -t 4)

# Real-time settings, no lag (no hidden alt-ref frames), a key frame every 30 frames.
ff "${video[@]}" -c:v libvpx -b:v 200k -g 30 -deadline realtime -cpu-used 8 -auto-alt-ref 0 -lag-in-frames 0 "$src/vp8.ivf"
ff "${video[@]}" -c:v libvpx-vp9 -b:v 200k -g 30 -deadline realtime -cpu-used 8 -lag-in-frames 0 -row-mt 1 "$src/vp9.ivf"
ff "${video[@]}" -c:v libaom-av1 -b:v 200k -g 30 -cpu-used 8 -usage realtime -lag-in-frames 0 "$src/av1.ivf"
ff -f lavfi -i sine=frequency=440:sample_rate=48000 -t 4 -c:a libopus -b:a 32k -frame_duration 20 "$src/opus.ogg"
# H.264/H.265 as raw Annex B, no B-frames (RTP timestamps are presentation times), headers on every key frame.
# Baseline with 3 slices per picture (zerolatency: sliced threads, 4 threads at 320x240); High with CABAC and 8x8 transforms.
ff "${video[@]}" -c:v libx264 -profile:v baseline -preset veryfast -tune zerolatency -threads 4 -b:v 150k -g 30 -bf 0 -f h264 "$src/h264-baseline.h264"
ff "${video[@]}" -c:v libx264 -profile:v high -preset veryfast -threads 1 -b:v 150k -g 30 -bf 0 -f h264 "$src/h264-high.h264"
ff "${video[@]}" -c:v libx265 -preset ultrafast -b:v 150k -x265-params keyint=30:min-keyint=30:bframes=0:repeat-headers=1:log-level=error -f hevc "$src/h265.hevc"

# run NAME DESCRIPTION MKMEDIA-ARGS...: writes testdata/NAME and testdata/NAME.txt (ground truth JSON last).
run() {
  local name=$1 what=$2; shift 2
  "$m" --out "testdata/$name" "$@" > "$json/$name.json"
  {
    echo "$name"
    echo
    echo "$what"
    echo
    echo "Made by rtprec's generator (examples/mkmedia.rs) from ffmpeg test signals; licence MIT OR Apache-2.0."
    echo "One peer 10.0.0.10:50000 -> 10.0.0.1:40000, Ethernet, microsecond pcap, RTCP SR+SDES each second, BYE at the end."
    echo "Start 2026-11-23T10:00:00Z; audio every 20 ms, video at the IVF pts (30 fps), packets of a frame 100 us apart, up to 1 ms send jitter."
    echo
    echo "Inputs ($(ffmpeg -version | head -1 | cut -d' ' -f1-3)), 4 s each:"
    echo
    for f in "${inputs[@]}"; do echo "    $f"; done
    echo
    echo "Command (FILE = the input above; see testdata/make-media.sh):"
    echo
    echo "    cargo run --release --example mkmedia -- --out testdata/$name $(echo "$@" | sed "s|$src/||g")"
    echo
    echo "Ground truth (mkmedia's JSON, read by tests/record.rs). Per SSRC: packets/lost/duplicates/reordered"
    echo "as a receiver counts them; media.frames_decodable = complete frames a decoder can use (after a"
    echo "frame with a lost packet, nothing until the next key frame); media.undecodable = their indices;"
    echo "media.duration_ms = first timestamp to the end of the last frame."
    echo
    sed "s|\"file\": \".*\"|\"file\": \"testdata/$name\"|" "$json/$name.json"
  } > "testdata/$name.txt"
}
inputs=(
  "vp8.ivf:  ffmpeg ${video[*]} -c:v libvpx -b:v 200k -g 30 -deadline realtime -cpu-used 8 -auto-alt-ref 0 -lag-in-frames 0 vp8.ivf"
  "opus.ogg: ffmpeg -f lavfi -i sine=frequency=440:sample_rate=48000 -t 4 -c:a libopus -b:a 32k -frame_duration 20 opus.ogg"
)
run media-opus-vp8.pcap "Opus microphone (440 Hz sine) + VP8 camera (testsrc2 320x240, 30 fps, key frame every 30 frames), clean network." \
  --opus "$src/opus.ogg" --vp8 "$src/vp8.ivf" --seed 11
run media-opus-vp8-impaired.pcap "The same media as media-opus-vp8.pcap through a bad network: 2% loss, 1% duplicates, 2% reordering (swap with a packet up to 3 later)." \
  --opus "$src/opus.ogg" --vp8 "$src/vp8.ivf" --loss 0.02 --dup 0.01 --reorder 0.02 --seed 14
inputs=("vp9.ivf: ffmpeg ${video[*]} -c:v libvpx-vp9 -b:v 200k -g 30 -deadline realtime -cpu-used 8 -lag-in-frames 0 -row-mt 1 vp9.ivf")
run media-vp9.pcap "VP9 camera (testsrc2 320x240, 30 fps, key frame every 30 frames; RFC 9628 non-flexible mode, scalability structure with resolution on key frames), clean network." \
  --vp9 "$src/vp9.ivf" --seed 12
inputs=("av1.ivf: ffmpeg ${video[*]} -c:v libaom-av1 -b:v 200k -g 30 -cpu-used 8 -usage realtime -lag-in-frames 0 av1.ivf")
run media-av1.pcap "AV1 camera (testsrc2 320x240, 30 fps, key frame every 30 frames; OBUs fragmented across packets, N=1 on key frames), clean network." \
  --av1 "$src/av1.ivf" --seed 13
inputs=(
  "h264-baseline.h264: ffmpeg ${video[*]} -c:v libx264 -profile:v baseline -preset veryfast -tune zerolatency -threads 4 -b:v 150k -g 30 -bf 0 -f h264 h264-baseline.h264"
  "h264-high.h264:     ffmpeg ${video[*]} -c:v libx264 -profile:v high -preset veryfast -threads 1 -b:v 150k -g 30 -bf 0 -f h264 h264-high.h264"
)
run media-h264.pcap "Two H.264 cameras (testsrc2 320x240, 30 fps, IDR every 30 frames, SPS/PPS in-band): Constrained Baseline with 4 slices per picture and High profile (CABAC); RFC 6184 packetization-mode 1 with STAP-A (SPS+PPS+SEI, small slices) and FU-A, clean network." \
  --h264 "$src/h264-baseline.h264" --h264 "$src/h264-high.h264" --seed 15
inputs=("h264-baseline.h264: ffmpeg ${video[*]} -c:v libx264 -profile:v baseline -preset veryfast -tune zerolatency -threads 4 -b:v 150k -g 30 -bf 0 -f h264 h264-baseline.h264")
run media-h264-impaired.pcap "The baseline H.264 camera of media-h264.pcap through a bad network: 2% loss, 1% duplicates, 2% reordering (swap with a packet up to 3 later)." \
  --h264 "$src/h264-baseline.h264" --loss 0.02 --dup 0.01 --reorder 0.02 --seed 16
inputs=("h265.hevc: ffmpeg ${video[*]} -c:v libx265 -preset ultrafast -b:v 150k -x265-params keyint=30:min-keyint=30:bframes=0:repeat-headers=1:log-level=error -f hevc h265.hevc")
run media-h265.pcap "H.265 camera (testsrc2 320x240, 30 fps, IDR every 30 frames, VPS/SPS/PPS in-band; RFC 7798 with AP and FU, no DONL), clean network." \
  --h265 "$src/h265.hevc" --seed 17
echo "encoded inputs in $src, ground truth JSON in $json" >&2
