#!/usr/bin/env bash
# Firefox calls itself (two RTCPeerConnections in one page) over loopback in a
# private network namespace, capturing with tcpdump and logging DTLS keys.
#
# Usage: firefox_call.sh OUTDIR [DTLS_VERSION (1.2|1.3, default 1.2)] [BUNDLE (balanced|none)]
# Writes OUTDIR/call.pcap, keylog.txt, stats.json, offer.sdp, answer.sdp,
# wire.json (and firefox.log, tcpdump.log). Needs root (unshare), firefox-esr,
# tcpdump, ip, python3.
set -euo pipefail
source "$(dirname "$0")/common.sh"
in_netns "$0" "$@"

out="$(realpath -m "${1:?usage: firefox_call.sh OUTDIR [1.2|1.3] [balanced|none]}")"
case "${2:-1.2}" in
  1.2) dtls=771 ;;
  1.3) dtls=772 ;;
  *) echo "firefox_call.sh: DTLS version must be 1.2 or 1.3" >&2; exit 64 ;;
esac
bundle="${3:-balanced}"
mkdir -p "$out"
rm -f "$out/keylog.txt"
profile="$(mktemp -d /tmp/rtprec-firefox.XXXXXX)"
trap 'rm -rf "$profile"' EXIT
firefox_profile "$profile" "$dtls"

unset MOZ_LOG MOZ_LOG_FILE
HOME="$profile" SSLKEYLOGFILE="$out/keylog.txt" \
  run_call "$out" "bundle=$bundle" "$out/firefox.log" \
  firefox-esr --headless --no-remote --profile "$profile"
