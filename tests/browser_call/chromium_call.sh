#!/usr/bin/env bash
# Headless Chromium calls itself (two RTCPeerConnections in one page) over
# loopback in a private network namespace, with WebRTC's RTP dump on: every
# RTP/RTCP packet, before encryption or after decryption, is logged in clear
# as an RTP_DUMP line to stderr.
#
# Usage: chromium_call.sh OUTDIR [BUNDLE (balanced|none)]
# Writes OUTDIR/chrome_debug.log (stderr), stats.json, offer.sdp, answer.sdp,
# call.pcap (the SRTP on the wire, for comparison), wire.json. Needs root
# (unshare), chromium, tcpdump, ip, python3.
set -euo pipefail
source "$(dirname "$0")/common.sh"
in_netns "$0" "$@"

out="$(realpath -m "${1:?usage: chromium_call.sh OUTDIR [balanced|none]}")"
bundle="${2:-balanced}"
mkdir -p "$out"
profile="$(mktemp -d /tmp/rtprec-chromium.XXXXXX)"
trap 'rm -rf "$profile"' EXIT

# shellcheck disable=SC2046 # chromium_args words are meant to split
HOME="$profile" run_call "$out" "bundle=$bundle" "$out/chrome_debug.log" \
  chromium $(chromium_args "$profile")
