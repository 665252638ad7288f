#!/usr/bin/env bash
# Wall time and memory of `rtprec record` on large synthetic multi-peer captures.
#
#   benches/record.sh                      # 512 MiB, 10 peers (20 tracks: Opus + VP8)
#   SIZES="100 1024" benches/record.sh     # RSS at several capture sizes
#   PEERS=16 JOBS=2 benches/record.sh
#
# In one run: generates each capture with examples/gencap.rs, warms the page
# cache, then measures `cat FILE > /dev/null` (baseline) and
# `rtprec record FILE -o DIR` (best of RUNS), with peak RSS from GNU time.
# Reports seconds, MB/s, the ratio to cat, and peak RSS per capture size, so
# that "memory does not grow with the capture" can be read off the table.
set -euo pipefail

SIZES=${SIZES:-"100 512 1024"}
PEERS=${PEERS:-10}
SEED=${SEED:-1}
VIDEO_KBPS=${VIDEO_KBPS:-1500}
RUNS=${RUNS:-2}
JOBS=${JOBS:-0}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
die() { echo "record.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }

# Two builds: in one, gencap's dev-dependency would turn the `testutil` feature
# on for the measured binary too; apart, rtprec is built as `cargo install` builds it.
cargo build --release --quiet --bin rtprec || die "cargo build --release failed"
cargo build --release --quiet --example gencap || die "cargo build --release --example gencap failed"
rtprec=$root/target/release/rtprec
gencap=$root/target/release/examples/gencap
[[ -x /usr/bin/time ]] || die "GNU time is needed for peak RSS: apt-get install time"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rtprec-record-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# best SECONDS and RSS_KIB of RUNS runs of a command
run_best() {
  local best="" rss=0 i s e t r
  for ((i = 0; i < RUNS; i++)); do
    rm -rf "$tmp/out"
    s=$(now)
    /usr/bin/time -v -o "$tmp/time.txt" bash -c "$1" > /dev/null 2> "$tmp/err.txt" \
      || { cat "$tmp/err.txt" >&2; die "failed: $1"; }
    e=$(now)
    t=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }')
    r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")
    [[ -z $best ]] || t=$(awk -v a="$best" -v b="$t" 'BEGIN { print (a < b) ? a : b }')
    best=$t
    (( r > rss )) && rss=$r
  done
  echo "$best $rss"
}

printf '%-9s %8s %9s %9s %9s %10s %8s %8s %12s %7s\n' "capture" "tracks" "cat s" "cp+sync s" "record s" "MB/s" "x cat" "x cp" "peak RSS" "files"
for size in $SIZES; do
  cap=$tmp/cap-$size.pcap
  "$gencap" --out "$cap" --size-mib "$size" --peers "$PEERS" --seed "$SEED" \
    --video-bitrate-kbps "$VIDEO_KBPS" > "$tmp/truth.json" || die "gencap failed"
  bytes=$(stat -c %s "$cap")
  cat "$cap" > /dev/null
  read -r cat_s _ < <(run_best "cat '$cap'")
  # Writing the same bytes durably: record fsyncs every file before renaming it.
  read -r cp_s _ < <(run_best "cp '$cap' '$tmp/copy' && sync '$tmp/copy'; rm -f '$tmp/copy'")
  read -r rec_s rss < <(run_best "'$rtprec' -q record '$cap' -o '$tmp/out' -j $JOBS")
  files=$(find "$tmp/out" -name '*.ogg' -o -name '*.webm' | wc -l)
  tracks=$(grep -c '"type": "track"' "$tmp/out/manifest.json" || true)
  awk -v sz="$size" -v tr="$tracks" -v c="$cat_s" -v cp="$cp_s" -v r="$rec_s" -v b="$bytes" -v rss="$rss" -v f="$files" 'BEGIN {
    printf "%-9s %8d %9.3f %9.3f %9.3f %10.0f %8.2f %8.2f %9.1f MiB %7d\n", sz " MiB", tr, c, cp, r, b / 1e6 / r, r / c, r / cp, rss / 1024, f }'
  rm -f "$cap"
done
echo "(best of $RUNS runs; x cat = record seconds / cat seconds (page cache hot); x cp = record seconds / seconds to copy the capture and fsync it; $(nproc) cpus, --jobs $JOBS)"
