# Shared by firefox_call.sh and chromium_call.sh (sourced, not run).
#
# in_netns "$0" "$@": re-runs the calling script inside a new network and PID
#   namespace (unshare -n -p -f), so only loopback exists and every process
#   it starts dies with it; brings lo up.
# run_call OUTDIR URL_QUERY LOGFILE BROWSER_CMD...: starts tcpdump on lo
#   (OUTDIR/call.pcap), serve.py on 127.0.0.1:$PORT, then the browser on the
#   call page; waits for the page's results, stops the browser (SIGTERM, then
#   SIGKILL) and tcpdump (SIGINT, so it flushes), counts the packets on the
#   wire (OUTDIR/wire.json); returns serve.py's status.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT=8000
TIMEOUT="${CALL_TIMEOUT:-60}"

in_netns() {
  if [ -z "${RTPREC_CALL_NETNS:-}" ]; then
    export RTPREC_CALL_NETNS=1
    exec unshare --net --pid --fork --kill-child "$@"
  fi
  ip link set lo up
}

# Stops PID with SIGNAL and waits up to 5 s, then SIGKILL.
stop_pid() {
  local pid=$1 sig=$2
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  echo "call: pid $pid ignored SIG$sig; SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

run_call() {
  local out=$1 query=$2 browser_log=$3
  shift 3
  tcpdump -i lo -s 0 -U -Z root -w "$out/call.pcap" 2>"$out/tcpdump.log" &
  local tcpdump_pid=$!
  # tcpdump prints "listening on" once the capture runs.
  for _ in $(seq 100); do
    grep -q "listening on" "$out/tcpdump.log" && break
    sleep 0.05
  done
  python3 "$HERE/serve.py" "$PORT" "$out" "$TIMEOUT" &
  local serve_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
  done
  "$@" "http://127.0.0.1:$PORT/call.html?$query" >"$browser_log" 2>&1 &
  local browser_pid=$!
  local status=0
  wait "$serve_pid" || status=$?
  stop_pid "$browser_pid" TERM
  stop_pid "$tcpdump_pid" INT
  if [ "$status" != 0 ]; then
    echo "call: failed (serve.py status $status); browser log: $browser_log" >&2
    return "$status"
  fi
  python3 "$HERE/wire_counts.py" "$out/call.pcap" >"$out/wire.json"
}
