#!/usr/bin/env bash
# Peak RSS of `rtprec streams` and `rtprec record` on hostile captures (#13):
# N SSRCs with one packet each, and jumbo UDP datagrams from distinct ports.
#
#   benches/hostile.sh                       # 100k and 1M SSRCs, 20,000 jumbo datagrams
#   SSRCS="100000" JUMBO=2000 benches/hostile.sh
#   KEEP=1 benches/hostile.sh                # keep the temp dir (prints its path)
#   LIMIT_MIB=2048 benches/hostile.sh        # also run under `ulimit -v` (address space)
#
# Prints, per capture and command: exit status, peak RSS (GNU time) and the
# first warning line. The promise (README, "Memory") is under 128 MiB each.
set -euo pipefail

SSRCS=${SSRCS:-"100000 1000000"}
JUMBO=${JUMBO:-20000}
KEEP=${KEEP:-0}
LIMIT_MIB=${LIMIT_MIB:-}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
die() { echo "hostile.sh: $*" >&2; exit 1; }

[[ -x /usr/bin/time ]] && /usr/bin/time -v true 2>/dev/null \
  || die "GNU time not found: apt-get install time"

echo "== building (release)" >&2
# Apart: the example's dev-dependency would turn `testutil` on for the measured binary.
cargo build --release --quiet --bin rtprec || die "cargo build --release failed"
cargo build --release --quiet --example hostile || die "cargo build --release --example hostile failed"
target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target_dir=${target_dir:-$root/target}
rtprec=$target_dir/release/rtprec
hostile=$target_dir/release/examples/hostile

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rtprec-hostile.XXXXXX")
if [[ $KEEP == 1 ]]; then echo "keeping $tmp" >&2; else trap 'rm -rf "$tmp"' EXIT; fi

caps=()
for n in $SSRCS; do
  "$hostile" ssrcs --count "$n" --out "$tmp/ssrcs-$n.pcap" || die "generating $n SSRCs failed"
  caps+=("ssrcs-$n")
done
if [[ $JUMBO != 0 ]]; then
  "$hostile" jumbo --count "$JUMBO" --out "$tmp/jumbo-$JUMBO.pcap" || die "generating jumbo failed"
  caps+=("jumbo-$JUMBO")
fi

printf '%-16s %10s %-8s %5s %12s  %s\n' capture MiB command exit "peak RSS" "first warning"
for c in "${caps[@]}"; do
  f=$tmp/$c.pcap
  size=$(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.1f", b/1048576 }')
  for cmd in streams record; do
    case $cmd in
      streams) run=("$rtprec" streams "$f" --json) ;;
      record) rm -rf "$tmp/out"; run=("$rtprec" record "$f" -o "$tmp/out") ;;
    esac
    status=0
    if [[ -n $LIMIT_MIB ]]; then
      ( ulimit -v $((LIMIT_MIB * 1024)); /usr/bin/time -v -o "$tmp/time.txt" "${run[@]}" ) \
        > "$tmp/stdout.txt" 2> "$tmp/stderr.txt" || status=$?
    else
      /usr/bin/time -v -o "$tmp/time.txt" "${run[@]}" > "$tmp/stdout.txt" 2> "$tmp/stderr.txt" || status=$?
    fi
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2/1024 }' "$tmp/time.txt")
    warn=$(grep -m1 -iE "warning|cap" "$tmp/stderr.txt" | cut -c1-100 || true)
    printf '%-16s %10s %-8s %5s %12s  %s\n' "$c" "$size" "$cmd" "$status" "${rss:-n/a}" "$warn"
  done
done
