#!/usr/bin/env bash
# Throughput of `rtprec streams` on a large synthetic capture, against `cat`.
#
#   benches/streams.sh                 # 512 MiB capture, 4 peers
#   SIZE_MIB=1024 PEERS=8 benches/streams.sh
#   KEEP=1 benches/streams.sh          # keep the temp dir (prints its path)
#   RUNS=5 benches/streams.sh          # best of 5 runs per command (default 3)
#
# Builds release once, generates the capture with examples/gencap.rs, then in
# the same run measures: cat (page cache hot), rtprec streams FILE --json,
# rtprec streams - --json < FILE, and the same two on FILE.gz. Reports MB/s,
# packets/s, the ratio to cat, and peak RSS when GNU time is installed.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-512}
PEERS=${PEERS:-4}
SEED=${SEED:-1}
VIDEO_KBPS=${VIDEO_KBPS:-2500}
GZIP_LEVEL=${GZIP_LEVEL:-1}
KEEP=${KEEP:-0}
RUNS=${RUNS:-3}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

die() { echo "streams.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

echo "== building (release)" >&2
# Two builds: in one, gencap's dev-dependency would turn the `testutil` feature
# on for the measured binary too; apart, rtprec is built as `cargo install` builds it.
cargo build --release --quiet --bin rtprec || die "cargo build --release failed"
cargo build --release --quiet --example gencap || die "cargo build --release --example gencap failed"
target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target_dir=${target_dir:-$root/target}
rtprec=$target_dir/release/rtprec
gencap=$target_dir/release/examples/gencap
[[ -x $rtprec && -x $gencap ]] || die "release binaries not found in $target_dir/release"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rtprec-bench.XXXXXX")
if [[ $KEEP == 1 ]]; then
  echo "keeping $tmp" >&2
else
  trap 'rm -rf "$tmp"' EXIT
fi
cap=$tmp/bench.pcap

echo "== generating ${SIZE_MIB} MiB, ${PEERS} peers (seed ${SEED})" >&2
t0=$(now)
"$gencap" --out "$cap" --size-mib "$SIZE_MIB" --peers "$PEERS" --seed "$SEED" \
  --video-bitrate-kbps "$VIDEO_KBPS" > "$tmp/truth.json" || die "gencap failed"
t1=$(now)
bytes=$(stat -c %s "$cap")
packets=$(sed -n 's/^  "records": \([0-9]*\),*$/\1/p' "$tmp/truth.json")
[[ -n $packets ]] || die "no record count in $tmp/truth.json"
awk -v b="$bytes" -v t="$(elapsed "$t0" "$t1")" -v p="$packets" \
  'BEGIN { printf "generated %.1f MiB, %d packets in %.2f s (%.0f MB/s)\n", b/1048576, p, t, b/1e6/t }' >&2

echo "== compressing (gzip -$GZIP_LEVEL)" >&2
gzip -"$GZIP_LEVEL" -c "$cap" > "$cap.gz"
gz_bytes=$(stat -c %s "$cap.gz")

have_time=0
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true 2>/dev/null; then
  have_time=1
else
  echo "note: /usr/bin/time (GNU time) not found; no peak RSS. Install it: apt-get install time" >&2
fi

results=()
failed=0
# measure NAME INPUT_BYTES COMMAND...: best wall time of RUNS runs, largest peak RSS.
measure() {
  local name=$1 in_bytes=$2; shift 2
  local start end t secs="" rss="n/a" r status=0 i
  for ((i = 0; i < RUNS; i++)); do
    start=$(now)
    if [[ $have_time == 1 ]]; then
      /usr/bin/time -v -o "$tmp/time.txt" bash -c "$*" > /dev/null 2> "$tmp/stderr.txt" || status=$?
      r=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2/1024 }' "$tmp/time.txt")
      [[ $rss == n/a ]] || r=$(printf '%s\n%s\n' "$rss" "$r" | sort -g | tail -1)
      rss=$r
    else
      bash -c "$*" > /dev/null 2> "$tmp/stderr.txt" || status=$?
    fi
    end=$(now)
    t=$(elapsed "$start" "$end")
    [[ -z $secs ]] || t=$(awk -v a="$secs" -v b="$t" 'BEGIN { print (a < b) ? a : b }')
    secs=$t
    [[ $status == 0 ]] || break
  done
  if [[ $status != 0 ]]; then
    echo "FAILED: $name (exit $status): $*" >&2
    sed 's/^/    /' "$tmp/stderr.txt" | head -20 >&2
    if grep -qiE "unrecognized subcommand|unexpected argument|not yet implemented|unimplemented" "$tmp/stderr.txt"; then
      echo "    (\`rtprec streams\` does not seem to exist in this build yet: merge the branch that adds it)" >&2
    fi
    failed=1
    results+=("$name|$secs|FAILED|-|-|-")
    return 0
  fi
  results+=("$name|$secs|$in_bytes|$rss")
}

echo "== warm-up read (page cache)" >&2
cat "$cap" "$cap.gz" > /dev/null

measure "cat FILE"                        "$bytes"    "cat '$cap'"
measure "cat FILE.gz"                     "$gz_bytes" "cat '$cap.gz'"
# Decompression alone: the ceiling for any reader of the .gz input.
measure "gzip -dc FILE.gz"                "$bytes"    "gzip -dc '$cap.gz'"

# Pre-flight on a small capture: a build without the command must not "win" by doing nothing.
"$gencap" --out "$tmp/small.pcap" --peers 1 --seconds 1 --seed 7 > "$tmp/small.json"
small_ssrc=$(sed -n 's/^      "ssrc": \([0-9]*\),*$/\1/p' "$tmp/small.json" | head -1)
if "$rtprec" streams "$tmp/small.pcap" --json > "$tmp/small.out" 2> "$tmp/small.err" \
  && grep -qiE "\"ssrc\"|$small_ssrc" "$tmp/small.out"; then
  measure "rtprec streams FILE --json"      "$bytes"    "'$rtprec' streams '$cap' --json"
  measure "rtprec streams - --json < FILE"  "$bytes"    "'$rtprec' streams - --json < '$cap'"
  measure "rtprec streams FILE.gz --json"   "$bytes"    "'$rtprec' streams '$cap.gz' --json"
  measure "rtprec streams - --json < .gz"   "$bytes"    "'$rtprec' streams - --json < '$cap.gz'"
else
  echo "FAILED: \`rtprec streams FILE --json\` does not work in this build (exit status or output without SSRCs)." >&2
  echo "    It is being written on main; merge it, then rerun. Its stderr was:" >&2
  sed 's/^/    /' "$tmp/small.err" | head -10 >&2
  failed=1
  for n in "rtprec streams FILE --json" "rtprec streams - --json < FILE" \
           "rtprec streams FILE.gz --json" "rtprec streams - --json < .gz"; do
    results+=("$n|0|FAILED|-")
  done
fi

cat_secs=$(echo "${results[0]}" | cut -d'|' -f2)
echo
echo "capture: $(awk -v b="$bytes" 'BEGIN{printf "%.1f MiB", b/1048576}') pcap, $packets packets," \
  "gzip -$GZIP_LEVEL $(awk -v b="$gz_bytes" 'BEGIN{printf "%.1f MiB", b/1048576}'); cpus: $(nproc)"
printf '%-34s %9s %10s %13s %9s %12s\n' "command" "seconds" "MB/s" "packets/s" "x cat" "peak RSS"
for r in "${results[@]}"; do
  IFS='|' read -r name secs in_bytes rss <<< "$r"
  if [[ $in_bytes == FAILED ]]; then
    printf '%-34s %9.3f %10s %13s %9s %12s\n' "$name" "$secs" "FAILED" "-" "-" "-"
    continue
  fi
  # MB/s counts the uncompressed capture for rtprec (what it decodes), the file itself for cat.
  awk -v n="$name" -v s="$secs" -v b="$in_bytes" -v p="$packets" -v c="$cat_secs" -v rss="$rss" 'BEGIN {
    if (s <= 0) s = 1e-9;
    pps = (n ~ /^cat/) ? "-" : sprintf("%.0f", p / s);
    printf "%-34s %9.3f %10.0f %13s %9.2f %12s\n", n, s, b / 1e6 / s, pps, s / c, rss }'
done
echo "(best of $RUNS runs; x cat = seconds / seconds of 'cat FILE'; lower is better, 1.00 = as fast as reading the file)"
if [[ $failed == 1 ]]; then
  echo "some commands failed (see above); generation and cat were measured." >&2
  exit 2
fi
