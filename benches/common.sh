# Shared by benches/record.sh and benches/streams.sh (sourced, not run).
#
# Expects: $root (the repository), $RUNS, and a function die(). Provides:
#   bench_build             builds rtprec, gencap, hostile (release, apart) and benches/floor.c;
#                           sets $rtprec $gencap $hostile $floor
#   bench_tmp NAME          makes and (unless KEEP=1) cleans up a temp dir; sets $tmp
#   floor_check FILE        runs the C floor and `rtprec streams --json` on FILE, dies unless
#                           they count the same RTP packets; prints the floor's line
#   floor_selftest          floor_check on small gencap captures (IPv4, IPv6 + VLAN, raw IP)
#   bench_row NAME CMD      registers a command; bench_run_all runs every registered command
#                           RUNS times, interleaved (run 1 of each, then run 2 of each, ...),
#                           so a slower or faster minute of a shared machine hits all alike;
#                           afterwards bench_secs NAME / bench_rss NAME give the median
#                           wall seconds and the largest peak RSS (KiB) of the runs
#                           (stdout goes to /dev/null).
#   bench_before CMD        an untimed command run before every timed one (cleanup, sync);
#                           not after the last, so the last command's output can be looked at
#   median                  median of the numbers on stdin

bench_build() {
  echo "== building (release)" >&2
  # Two builds: in one, the examples' dev-dependency would turn the `testutil` feature
  # on for the measured binary too; apart, rtprec is built as `cargo install` builds it.
  cargo build --release --quiet --bin rtprec || die "cargo build --release failed"
  cargo build --release --quiet --example gencap --example hostile \
    || die "cargo build --release --example gencap --example hostile failed"
  local target_dir
  target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  target_dir=${target_dir:-$root/target}
  rtprec=$target_dir/release/rtprec
  gencap=$target_dir/release/examples/gencap
  hostile=$target_dir/release/examples/hostile
  [[ -x $rtprec && -x $gencap && -x $hostile ]] || die "release binaries not found in $target_dir/release"
  command -v "${CC:-cc}" > /dev/null || die "a C compiler is needed for benches/floor.c (CC=${CC:-cc})"
  floor=$target_dir/release/bench-floor
  "${CC:-cc}" -O2 -o "$floor" "$root/benches/floor.c" || die "compiling benches/floor.c failed"
  [[ -x /usr/bin/time ]] && /usr/bin/time -v true 2> /dev/null \
    || die "GNU time is needed for peak RSS: apt-get install time"
}

bench_tmp() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "keeping $tmp" >&2
  else
    # shellcheck disable=SC2064 # expand now: $tmp is this run's directory
    trap "rm -rf '$tmp'" EXIT
  fi
}

# The RTP packets `rtprec streams --json` found: reported streams plus rejected look-alikes.
streams_rtp() {
  local json=$1 rtp rej
  rtp=$(sed -n 's/^    "rtp": \([0-9]*\),*$/\1/p' "$json")
  rej=$(sed -n 's/^    "rtp_rejected": \([0-9]*\),*$/\1/p' "$json")
  [[ -n $rtp && -n $rej ]] || die "no classified.rtp / rtp_rejected in $json"
  echo $((rtp + rej))
}

floor_check() {
  local f=$1 line got want
  line=$("$floor" "$f") || die "floor failed on $f"
  got=$(awk '{ print $6 }' <<< "$line")
  "$rtprec" streams "$f" --json > "$tmp/check.json" 2> "$tmp/check.err" \
    || die "rtprec streams $f --json failed: $(head -3 "$tmp/check.err")"
  want=$(streams_rtp "$tmp/check.json")
  [[ $got == "$want" ]] \
    || die "floor counts $got RTP packets in $f, rtprec streams --json $want (classified.rtp + rtp_rejected): the floor is not reading what rtprec reads"
  echo "$line"
}

floor_selftest() {
  local args line
  for args in "--ip v4" "--ip v6 --link vlan" "--ip mixed --link raw" "--ip v4 --link sll2 --format pcap-ns"; do
    # shellcheck disable=SC2086 # word splitting of the option list is wanted
    "$gencap" --out "$tmp/selftest.pcap" --peers 3 --seconds 3 --seed 5 $args > /dev/null \
      || die "gencap $args failed"
    line=$(floor_check "$tmp/selftest.pcap")
    echo "   floor = rtprec streams on a 3 s capture ($args): ${line#records * udp * }" >&2
  done
  rm -f "$tmp/selftest.pcap"
}

median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_names=()
declare -A bench_cmd=() bench_t=() bench_r=()
bench_pre=true
bench_row() { bench_names+=("$1"); bench_cmd[$1]=$2; bench_t[$1]=""; bench_r[$1]=0; }
bench_before() { bench_pre=$1; }

bench_run_all() {
  local i name s e r
  for ((i = 1; i <= RUNS; i++)); do
    for name in "${bench_names[@]}"; do
      bash -c "$bench_pre" > /dev/null 2>&1 || die "failed: $bench_pre"
      echo "   run $i/$RUNS: $name" >&2
      s=$(date +%s.%N)
      /usr/bin/time -v -o "$tmp/time.txt" bash -c "${bench_cmd[$name]}" > /dev/null 2> "$tmp/stderr.txt" \
        || { sed 's/^/    /' "$tmp/stderr.txt" | head -20 >&2; die "failed: ${bench_cmd[$name]}"; }
      e=$(date +%s.%N)
      bench_t[$name]+="$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }') "
      r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")
      if (( r > bench_r[$name] )); then bench_r[$name]=$r; fi
    done
  done
}

bench_secs() { tr ' ' '\n' <<< "${bench_t[$1]}" | grep . | median; }
bench_all_secs() { echo "${bench_t[$1]% }"; }
bench_rss() { echo "${bench_r[$1]}"; }
bench_reset() { bench_names=(); bench_cmd=(); bench_t=(); bench_r=(); bench_pre=true; }
