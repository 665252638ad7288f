#!/usr/bin/env bash
# Memory over time: `rtprec record` on a long capture of many consecutive
# sessions, read from a pipe as a live recording would be.
#
#   benches/sessions.sh                    # 10 and 60 minutes of capture time
#   MINUTES="10 60 120" PEERS=4 benches/sessions.sh
#
# One 60 s conference (PEERS peers, Opus + VP8) is generated with
# examples/gencap.rs; the capture fed to rtprec repeats it with every copy
# shifted 100 s later (40 s of silence: past --idle-timeout 30, so each copy is
# its own session, reusing the same SSRCs). A session that ends must release
# all its state, so peak RSS should not grow with the number of sessions:
# the table gives peak RSS after MINUTES of capture time, in one run.
set -euo pipefail

MINUTES=${MINUTES:-"10 60"}
PEERS=${PEERS:-4}
SEED=${SEED:-1}
VIDEO_KBPS=${VIDEO_KBPS:-300}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
die() { echo "sessions.sh: $*" >&2; exit 1; }

# Separately: one command would unify features and build rtprec with the test helpers.
cargo build --release --quiet --bin rtprec || die "cargo build --release failed"
cargo build --release --quiet --example gencap || die "cargo build --release --example gencap failed"
rtprec=$root/target/release/rtprec
gencap=$root/target/release/examples/gencap
[[ -x /usr/bin/time ]] || die "GNU time is needed for peak RSS: apt-get install time"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rtprec-sessions-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$gencap" --out "$tmp/one.pcap" --peers "$PEERS" --seconds 60 --seed "$SEED" \
  --video-bitrate-kbps "$VIDEO_KBPS" > /dev/null || die "gencap failed"

# Writes COPIES copies of a little-endian microsecond pcap, copy k shifted by k*100 s.
repeat_shifted() {
  python3 - "$1" "$2" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
copies = int(sys.argv[2])
out = sys.stdout.buffer
out.write(data[:24])
for k in range(copies):
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, off)
        out.write(struct.pack("<IIII", sec + 100 * k, usec, incl, orig))
        out.write(data[off + 16: off + 16 + incl])
        off += 16 + incl
PY
}

printf '%-8s %9s %10s %8s %12s\n' "minutes" "sessions" "MiB read" "assets" "peak RSS"
for m in $MINUTES; do
  copies=$(( (m * 60 + 99) / 100 ))
  rm -rf "$tmp/out"
  repeat_shifted "$tmp/one.pcap" "$copies" > "$tmp/fifo-bytes" &
  wait
  bytes=$(stat -c %s "$tmp/fifo-bytes")
  # Through a pipe, as tcpdump -w - would feed it; packets are the only clock here.
  /usr/bin/time -v -o "$tmp/time.txt" bash -c \
    "cat '$tmp/fifo-bytes' | '$rtprec' record - -o '$tmp/out' --events none --live-clock off" \
    > /dev/null 2> "$tmp/err.txt" || { cat "$tmp/err.txt" >&2; die "rtprec failed"; }
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")
  assets=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['assets']))" "$tmp/out/manifest.json")
  printf '%-8s %9s %10.1f %8s %9.1f MiB\n' "$m" "$copies" "$(awk -v b="$bytes" 'BEGIN{print b/1048576}')" "$assets" "$(awk -v r="$rss" 'BEGIN{print r/1024}')"
  rm -f "$tmp/fifo-bytes"
done
