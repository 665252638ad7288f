# Shared by firefox_call.sh and chromium_call.sh (sourced, not run).
#
# in_netns "$0" "$@": re-runs the calling script inside a new network and PID
#   namespace (unshare -n -p -f), so only loopback exists and every process
#   it starts dies with it; brings lo up.
# run_call OUTDIR URL_QUERY LOGFILE BROWSER_CMD...: starts tcpdump on lo
#   (OUTDIR/call.pcap), serve.py on 127.0.0.1:$PORT, then the browser on the
#   call page; waits for the page's results, stops the browser (SIGTERM, then
#   SIGKILL) and tcpdump (SIGINT, so it flushes), counts the packets on the
#   wire (OUTDIR/wire.json); returns serve.py's status. begin_call, open_page
#   and end_call are its steps, for calls between two browsers.

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

# begin_call OUTDIR [PEERS]: tcpdump on lo, then serve.py (PEERS=AB: two pages).
begin_call() {
  call_out=$1
  tcpdump -i lo -s 0 -U -Z root -w "$call_out/call.pcap" 2>"$call_out/tcpdump.log" &
  tcpdump_pid=$!
  # tcpdump prints "listening on" once the capture runs.
  for _ in $(seq 100); do
    grep -q "listening on" "$call_out/tcpdump.log" && break
    sleep 0.05
  done
  python3 "$HERE/serve.py" "$PORT" "$call_out" "$TIMEOUT" ${2:-} &
  serve_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
  done
  browser_pids=()
}

# open_page PAGE?QUERY LOGFILE BROWSER_CMD...: the browser, in the background.
open_page() {
  local page=$1 log=$2
  shift 2
  "$@" "http://127.0.0.1:$PORT/$page" >"$log" 2>&1 &
  browser_pids+=($!)
}

# end_call: waits for the results, stops the browsers and tcpdump, counts.
end_call() {
  local status=0 pid
  wait "$serve_pid" || status=$?
  for pid in "${browser_pids[@]}"; do stop_pid "$pid" TERM; done
  stop_pid "$tcpdump_pid" INT
  if [ "$status" != 0 ]; then
    echo "call: failed (serve.py status $status); browser logs in $call_out" >&2
    return "$status"
  fi
  python3 "$HERE/wire_counts.py" "$call_out/call.pcap" >"$call_out/wire.json"
}

run_call() {
  local out=$1 query=$2 browser_log=$3
  shift 3
  begin_call "$out"
  open_page "call.html?$query" "$browser_log" "$@"
  end_call
}

# firefox_profile DIR DTLS (771: DTLS 1.2, 772: DTLS 1.3): fills a profile.
# The page's origin holds camera and microphone permission (a permissions
# defaults file): without it Firefox gathers no ICE candidates for fake devices.
firefox_profile() {
  local dir=$1 dtls=$2 origin="http://127.0.0.1:$PORT"
  printf 'origin\tcamera\t1\t%s\norigin\tmicrophone\t1\t%s\n' "$origin" "$origin" >"$dir/permissions"
  sed -e "s|@DTLS@|$dtls|g" -e "s|@PERMISSIONS@|file://$dir/permissions|" \
    "$HERE/firefox-user.js" >"$dir/user.js"
}

# chromium_args DIR: headless Chromium with fake devices, loopback ICE, the
# RTP dump field trial and the verbose logging it needs on stderr (--v=1, or
# $CHROMIUM_LOG_FLAGS, e.g. --vmodule=srtp_session=1 for the dump alone).
chromium_args() {
  echo --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-quic --use-fake-device-for-media-stream --use-fake-ui-for-media-stream \
    --allow-loopback-in-peer-connection --user-data-dir="$1" \
    --force-fieldtrials=WebRTC-Debugging-RtpDump/Enabled/ \
    --enable-logging=stderr ${CHROMIUM_LOG_FLAGS:---v=1}
}
