#!/usr/bin/env bash
# Headless Chromium calls itself (two RTCPeerConnections in one page) over
# loopback in a private network namespace, with WebRTC's RTP dump on: every
# RTP/RTCP packet, before encryption or after decryption, is logged in clear
# as an RTP_DUMP line to stderr.
#
# Usage: chromium_call.sh OUTDIR [BUNDLE_POLICY]
# Writes OUTDIR/chrome_debug.log (stderr), stats.json, offer.sdp, answer.sdp,
# call.pcap (the SRTP on the wire, for comparison). Needs root (unshare),
# chromium, tcpdump, ip.
set -euo pipefail
source "$(dirname "$0")/common.sh"
in_netns "$0" "$@"

out="$(realpath -m "${1:?usage: chromium_call.sh OUTDIR [BUNDLE_POLICY]}")"
bundle="${2:-balanced}"
mkdir -p "$out"
profile="$(mktemp -d /tmp/rtprec-chromium.XXXXXX)"
trap 'rm -rf "$profile"' EXIT

HOME="$profile" run_call "$out" "bundle=$bundle" "$out/chrome_debug.log" \
  chromium --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --disable-quic --use-fake-device-for-media-stream --use-fake-ui-for-media-stream \
  --allow-loopback-in-peer-connection --user-data-dir="$profile" \
  --force-fieldtrials=WebRTC-Debugging-RtpDump/Enabled/ \
  --enable-logging=stderr ${CHROMIUM_LOG_FLAGS:---v=1}
