#!/usr/bin/env bash
# Remakes the synthetic captures in this directory (byte for byte: every file
# follows from its command line and seed). Ground truth JSON goes to stdout of
# each gencap run; OUT_JSON=DIR keeps it there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet --example gencap
g=target/release/examples/gencap
json=${OUT_JSON:-$(mktemp -d)}
run() { local name=$1; shift; "$g" --out "testdata/$name" "$@" > "$json/$name.json"; }

run demo-2peers-opus-vp8.pcap    --format pcap --link ethernet --peers 2 --seconds 4 --video-bitrate-kbps 80 --seed 1
run demo-2peers-opus-vp8.pcap.gz --format pcap --link ethernet --peers 2 --seconds 4 --video-bitrate-kbps 80 --seed 1 --gzip
run impaired-vp8-opus.pcapng     --format pcapng --peers 1 --seconds 4 --video-bitrate-kbps 150 --loss 0.02 --dup 0.01 --reorder 0.02 --seed 2
run sll2-ns.pcap                 --format pcap-ns --link sll2 --peers 1 --seconds 3 --video-bitrate-kbps 100 --seed 3
run be-vlan.pcap                 --format pcap-be --link qinq --peers 1 --seconds 3 --video-bitrate-kbps 100 --seed 4
run multi-section.pcapng         --format pcapng --sections 2 --interfaces 2 --peers 2 --seconds 4 --video-bitrate-kbps 60 --seed 5
run fragments-v4v6.pcap          --transport frag --ip mixed --peers 2 --seconds 2 --video-bitrate-kbps 100 --seed 6
run rfc4571-tcp.pcap             --transport tcp --peers 1 --seconds 3 --video-bitrate-kbps 100 --seed 7
run turn-channel.pcap            --transport turn --peers 3 --seconds 2 --video-bitrate-kbps 80 --seed 8
run demo.rtpdump                 --format rtpdump --peers 1 --seconds 3 --video-bitrate-kbps 100 --seed 9
run h264-pcma.pcap               --audio pcma --video h264 --peers 1 --seconds 3 --video-bitrate-kbps 150 --seed 10
echo "ground truth JSON in $json" >&2
