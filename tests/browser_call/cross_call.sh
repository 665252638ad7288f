#!/usr/bin/env bash
# Chromium calls Firefox over loopback in a private network namespace: the
# two browsers run one peer each of cross.html and signal through serve.py.
# Chromium is peer A (offers; microphone, camera, canvas screen), Firefox peer
# B (answers; microphone). Firefox logs the DTLS keys, Chromium dumps the RTP.
#
# Usage: cross_call.sh OUTDIR [DTLS_VERSION (1.2|1.3, Firefox's, default 1.2)]
# Writes OUTDIR/call.pcap, keylog.txt, chrome_debug.log, stats.json,
# offer.sdp, answer.sdp, wire.json. Needs root (unshare), chromium,
# firefox-esr, tcpdump, ip, python3.
set -euo pipefail
source "$(dirname "$0")/common.sh"
in_netns "$0" "$@"

out="$(realpath -m "${1:?usage: cross_call.sh OUTDIR [1.2|1.3]}")"
case "${2:-1.2}" in
  1.2) dtls=771 ;;
  1.3) dtls=772 ;;
  *) echo "cross_call.sh: DTLS version must be 1.2 or 1.3" >&2; exit 64 ;;
esac
mkdir -p "$out"
rm -f "$out/keylog.txt"
chromium_profile="$(mktemp -d /tmp/rtprec-chromium.XXXXXX)"
firefox_profile="$(mktemp -d /tmp/rtprec-firefox.XXXXXX)"
trap 'rm -rf "$chromium_profile" "$firefox_profile"' EXIT
firefox_profile "$firefox_profile" "$dtls"

unset MOZ_LOG MOZ_LOG_FILE
begin_call "$out" AB
# shellcheck disable=SC2046 # chromium_args words are meant to split
HOME="$chromium_profile" open_page "cross.html?peer=A" "$out/chrome_debug.log" \
  chromium $(chromium_args "$chromium_profile")
HOME="$firefox_profile" SSLKEYLOGFILE="$out/keylog.txt" \
  open_page "cross.html?peer=B" "$out/firefox.log" \
  firefox-esr --headless --no-remote --profile "$firefox_profile"
end_call
