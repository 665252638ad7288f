#!/usr/bin/env bash
# Where `rtprec streams` stands against the read floor, on a large synthetic capture.
#
#   benches/streams.sh                       # 1 GiB capture, 11 peers (22 streams)
#   SIZE_MIB=100 PEERS=4 benches/streams.sh
#   GZIP_LEVEL=0 benches/streams.sh          # without the .gz rows
#   KEEP=1 benches/streams.sh                # keep the temp dir (prints its path)
#   RUNS=5 benches/streams.sh                # median of 5 runs per command (default 3)
#
# Builds release once, generates the capture with examples/gencap.rs (the same
# capture as benches/record.sh with the same SIZE_MIB, PEERS, SEED and VIDEO_KBPS),
# checks that benches/floor.c counts the RTP packets `rtprec streams --json`
# counts, then, RUNS times interleaved, page cache warm: cat, the C floor,
# rtprec streams FILE --json, rtprec streams - --json < FILE, and the same on
# FILE.gz with cat and gzip -dc. Reports medians, MB/s, packets/s, the ratios to
# cat and to the floor, and peak RSS (GNU time). Then `rtprec streams` on
# hostile.sh's capture of SSRCS SSRCs with one packet each: peak RSS.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
PEERS=${PEERS:-11}
SEED=${SEED:-1}
VIDEO_KBPS=${VIDEO_KBPS:-1500}
GZIP_LEVEL=${GZIP_LEVEL:-1}
KEEP=${KEEP:-0}
RUNS=${RUNS:-3}
SSRCS=${SSRCS:-100000}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
die() { echo "streams.sh: $*" >&2; exit 1; }
# shellcheck source=benches/common.sh
source "$root/benches/common.sh"

bench_build
bench_tmp rtprec-bench
cap=$tmp/bench.pcap

echo "== checking the floor against rtprec streams" >&2
floor_selftest

echo "== generating ${SIZE_MIB} MiB, ${PEERS} peers (seed ${SEED})" >&2
t0=$(date +%s.%N)
"$gencap" --out "$cap" --size-mib "$SIZE_MIB" --peers "$PEERS" --seed "$SEED" \
  --video-bitrate-kbps "$VIDEO_KBPS" > "$tmp/truth.json" || die "gencap failed"
t1=$(date +%s.%N)
bytes=$(stat -c %s "$cap")
packets=$(sed -n 's/^  "records": \([0-9]*\),*$/\1/p' "$tmp/truth.json")
[[ -n $packets ]] || die "no record count in $tmp/truth.json"
awk -v b="$bytes" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v p="$packets" \
  'BEGIN { printf "   %.1f MiB, %d packets in %.2f s (%.0f MB/s)\n", b/1048576, p, t, b/1e6/t }' >&2
fl=$(floor_check "$cap")
echo "   floor = rtprec streams on this capture: ${fl#records * udp * }" >&2

gz=0
if [[ $GZIP_LEVEL != 0 ]]; then
  echo "== compressing (gzip -$GZIP_LEVEL)" >&2
  gzip -"$GZIP_LEVEL" -c "$cap" > "$cap.gz"
  gz=$(stat -c %s "$cap.gz")
fi

echo "== measuring" >&2
cat "$cap" > /dev/null
bench_row "cat FILE" "cat '$cap'"
bench_row "floor FILE (C)" "'$floor' '$cap'"
bench_row "rtprec streams FILE --json" "'$rtprec' streams '$cap' --json"
bench_row "rtprec streams - --json < FILE" "'$rtprec' streams - --json < '$cap'"
if [[ $gz != 0 ]]; then
  cat "$cap.gz" > /dev/null
  bench_row "cat FILE.gz" "cat '$cap.gz'"
  # Decompression alone: the ceiling for any reader of the .gz input.
  bench_row "gzip -dc FILE.gz" "gzip -dc '$cap.gz'"
  bench_row "rtprec streams FILE.gz --json" "'$rtprec' streams '$cap.gz' --json"
  bench_row "rtprec streams - --json < .gz" "'$rtprec' streams - --json < '$cap.gz'"
fi
bench_run_all

cs=$(bench_secs "cat FILE")
fs=$(bench_secs "floor FILE (C)")
echo
echo "capture: $(awk -v b="$bytes" 'BEGIN{printf "%.1f MiB", b/1048576}') pcap, $packets packets, $PEERS peers" \
  "$([[ $gz != 0 ]] && awk -v b="$gz" -v l="$GZIP_LEVEL" 'BEGIN{printf "(gzip -%d: %.1f MiB)", l, b/1048576}')"
printf '%-31s %8s %8s %11s %7s %8s %12s   %s\n' command seconds "MB/s" packets/s "x cat" "x floor" "peak RSS" "runs (s)"
for name in "${bench_names[@]}"; do
  in=$bytes
  [[ $name == "cat FILE.gz" ]] && in=$gz
  # MB/s counts the uncompressed capture for rtprec and gzip (what they decode), the file itself for cat.
  awk -v n="$name" -v s="$(bench_secs "$name")" -v b="$in" -v p="$packets" -v c="$cs" -v f="$fs" \
    -v rss="$(bench_rss "$name")" -v all="$(bench_all_secs "$name")" 'BEGIN {
    if (s <= 0) s = 1e-9;
    pps = (n ~ /^(cat|gzip)/) ? "-" : sprintf("%.0f", p / s);
    printf "%-31s %8.3f %8.0f %11s %7.2f %8.2f %8.1f MiB   %s\n", n, s, b / 1e6 / s, pps, s / c, s / f, rss / 1024, all }'
done
echo "(median of $RUNS interleaved runs; x cat / x floor = seconds / seconds of 'cat FILE' / of the C floor;"
echo " lower is better; $(nproc) cpus; $(date -u +%Y-%m-%d), $(uname -r))"
echo
awk -v s="$(bench_secs "rtprec streams FILE --json")" -v f="$fs" -v rss="$(bench_rss "rtprec streams FILE --json")" 'BEGIN {
  printf "streams FILE: %.2fx floor (goal <= 2: %s), peak RSS %.1f MiB\n", s / f, (s / f <= 2) ? "met" : "MISSED", rss / 1024 }'

if [[ $SSRCS != 0 ]]; then
  echo "== $SSRCS SSRCs with one packet each (examples/hostile.rs)" >&2
  f=$tmp/ssrcs-$SSRCS.pcap
  "$hostile" ssrcs --count "$SSRCS" --out "$f" > /dev/null || die "hostile ssrcs failed"
  status=0
  /usr/bin/time -v -o "$tmp/time.txt" "$rtprec" streams "$f" --json > /dev/null 2> "$tmp/stderr.txt" || status=$?
  [[ $status == 0 || $status == 1 ]] || { head -5 "$tmp/stderr.txt" >&2; die "streams on $SSRCS SSRCs exited $status"; }
  awk -v n="$SSRCS" -v b="$(stat -c %s "$f")" -v st="$status" \
    -v rss="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")" 'BEGIN {
    printf "%d SSRCs x 1 packet (%.1f MiB): streams peak RSS %.1f MiB, exit %d (goal <= 128 MiB: %s)\n", n, b / 1048576, rss / 1024, st, (rss / 1024 <= 128) ? "met" : "MISSED" }'
fi
