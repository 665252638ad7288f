#!/usr/bin/env bash
# Remakes the repair captures (testdata/fec-*.pcap, red-*.pcap, srtp-*.pcap):
# GStreamer encodes and packetizes (rtpvp8pay, rtpopuspay, rtpulpfecenc,
# rtpredenc, srtpenc), then testdata/repairpcap.py injects loss, adds the
# FlexFEC repair stream and writes the pcap and its ground truth. GStreamer's output differs between versions,
# so the committed captures are the reference (GStreamer 1.22, Debian 12).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
# VP8 as Chrome sends it: 15-bit PictureIDs (here wrapping at 32767), key frames every 2 s.
video="videotestsrc num-buffers=150 pattern=ball motion=sweep ! video/x-raw,width=320,height=240,framerate=30/1 ! vp8enc deadline=1 keyframe-max-dist=60 target-bitrate=300000"
screen="videotestsrc num-buffers=150 pattern=smpte ! video/x-raw,width=320,height=240,framerate=30/1 ! vp8enc deadline=1 keyframe-max-dist=60 target-bitrate=300000"
gst() { gst-launch-1.0 -q "$@"; }
# Chrome's layout: VP8 and ULPFEC both inside RED, one sequence space.
gst $video ! rtpvp8pay picture-id-mode=15-bit picture-id-offset=32760 pt=96 ssrc=267124737 seqnum-offset=1000 timestamp-offset=0 mtu=500 \
  ! rtpulpfecenc pt=122 percentage=50 ! rtpredenc pt=123 allow-no-red-blocks=true \
  ! rtpstreampay ! filesink location="$src/red.rtp"
# Plain VP8 (its FlexFEC stream is added by repairpcap.py), and a second VP8 with
# in-band ULPFEC (own payload type, the media's sequence space, no RED).
gst $video ! rtpvp8pay picture-id-mode=15-bit picture-id-offset=32760 pt=96 ssrc=267124738 seqnum-offset=2000 timestamp-offset=0 mtu=500 \
  ! rtpstreampay ! filesink location="$src/vp8.rtp"
gst $screen ! rtpvp8pay picture-id-mode=15-bit picture-id-offset=32760 pt=96 ssrc=267124740 seqnum-offset=3000 timestamp-offset=0 mtu=500 \
  ! rtpulpfecenc pt=122 percentage=50 ! rtpstreampay ! filesink location="$src/screen.rtp"

# Opus in RED, one redundant block (the previous packet), as Chrome sends audio.
gst audiotestsrc num-buffers=150 samplesperbuffer=960 freq=440 ! audio/x-raw,rate=48000,channels=2 \
  ! opusenc frame-size=20 bitrate=32000 ! rtpopuspay pt=111 ssrc=267124742 seqnum-offset=4000 timestamp-offset=0 \
  ! rtpredenc pt=63 distance=1 ! rtpstreampay ! filesink location="$src/red.opus.rtp"
# VP8 encrypted by srtpenc (AES_CM_128_HMAC_SHA1_80), sequence numbers wrapping; the tee keeps the plain packets.
key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d
gst videotestsrc num-buffers=90 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 \
  ! vp8enc deadline=1 keyframe-max-dist=30 target-bitrate=800000 \
  ! rtpvp8pay picture-id-mode=15-bit picture-id-offset=32760 pt=96 ssrc=267124741 seqnum-offset=65450 timestamp-offset=0 mtu=500 ! tee name=t \
  t. ! queue ! srtpenc key=$key rtp-cipher=aes-128-icm rtp-auth=hmac-sha1-80 rtcp-cipher=aes-128-icm rtcp-auth=hmac-sha1-80 \
     ! rtpstreampay ! filesink location="$src/srtp.rtp" \
  t. ! queue ! rtpstreampay ! filesink location="$src/srtp-plain.rtp"

summary() {
  local name=$1 what=$2 truth=$3
  {
    echo "$name"
    echo
    echo "$what"
    echo
    echo "Made by rtprec's testdata/make-repair.sh (GStreamer $(gst-launch-1.0 --version | sed -n 's/.*GStreamer \([0-9.]*\).*/\1/p' | head -1), testdata/repairpcap.py); licence MIT OR Apache-2.0."
    echo "One flow 10.0.0.10:50000 -> 10.0.0.1:40000, Ethernet, microsecond pcap, start 2026-11-23T10:00:00Z."
    echo "Ground truth (loss injected and what repair can restore, computed by repairpcap.py independently of rtprec):"
    echo
    echo "$truth"
  } > "testdata/$name.txt"
}
t=$(python3 testdata/repairpcap.py ulpfec-red testdata/fec-ulpfec-red-vp8.pcap "$src/red.rtp")
summary fec-ulpfec-red-vp8.pcap "VP8 320x240 30 fps, 150 frames; RED PT 123 carrying VP8 PT 96 and ULPFEC PT 122 (RFC 5109)." "$t"
t=$(python3 testdata/repairpcap.py flexfec testdata/fec-flexfec-ulpfec-vp8.pcap "$src/vp8.rtp" "$src/screen.rtp")
summary fec-flexfec-ulpfec-vp8.pcap "VP8 PT 96 with a FlexFEC (RFC 8627) repair stream PT 49 on SSRC 0x0fec0003; and VP8 PT 96 (SSRC 0x0fec0004) with in-band ULPFEC PT 122 (RFC 5109), 150 frames each." "$t"
t=$(python3 testdata/repairpcap.py red-opus testdata/red-opus.pcap "$src/red.opus.rtp")
summary red-opus.pcap "Opus PT 111 inside RED PT 63 (RFC 2198) with one redundant block, 150 packets of 20 ms." "$t"
t=$(python3 testdata/repairpcap.py srtp-vp8 testdata/srtp-vp8.pcap "$src/srtp.rtp" "$src/srtp-plain.rtp")
summary srtp-vp8.pcap "VP8 PT 96 in SRTP (AES_CM_128_HMAC_SHA1_80, master key||salt 00 01 .. 1d, base64 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd), 90 frames, sequence numbers wrapping past 65535." "$t"
