#!/usr/bin/env python3
"""Counts the RTP packets of each SSRC in a capture, independently of rtprec.

SRTP leaves the RTP header in clear, so the SSRC, payload type and padding
bit of every packet on the wire are readable. Packets are told apart as in
RFC 7983: first byte 128..191 is RTP or RTCP, and a second byte of 192..223
is RTCP (so an RTP payload type 64..95 with the marker set would be miscounted;
browsers do not use those).

DTLS associations are found from their ClientHello: the client_random (the
key log's key for every label) and the 5-tuple it came on; the RTP SSRCs seen
on that 5-tuple belong to the association.

Usage: wire_counts.py CAPTURE.pcap > wire.json
Output: {"rtp": {"SSRC": {"packets": N, "payload_types": {"PT": N}}},
         "rtcp": N, "associations": {"CLIENT_RANDOM_HEX": [SSRC, ...]},
         "flows": {"CLIENT_RANDOM_HEX": ["ADDR:PORT", "ADDR:PORT"]}}
(SSRC in decimal, as getStats() gives it).
"""

import ipaddress
import json
import struct
import sys


def udp_payloads(path):
    """(flow, payload) of each UDP datagram, flow being the unordered pair of
    (address, port) ends, in an Ethernet, Linux cooked (SLL, SLL2) or raw IP pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        sys.exit(f"{path}: not a pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    link_len = {1: 14, 113: 16, 276: 20, 101: 0, 228: 0, 229: 0}.get(linktype)
    if link_len is None:
        sys.exit(f"{path}: link type {linktype} not handled")
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        ip = frame[link_len:]
        if not ip:
            continue
        version = ip[0] >> 4
        if version == 4:
            if ip[9] != 17:
                continue
            src, dst = ip[12:16], ip[16:20]
            udp = ip[(ip[0] & 0x0F) * 4:]
        elif version == 6:
            if ip[6] != 17:  # no extension headers on loopback
                continue
            src, dst = ip[8:24], ip[24:40]
            udp = ip[40:]
        else:
            continue
        ends = sorted([(src, udp[0:2]), (dst, udp[2:4])])
        yield tuple(ends), udp[8:]


def main():
    rtp, rtcp = {}, 0
    randoms, flows_of = {}, {}  # flow -> client_random; ssrc -> flows
    for flow, p in udp_payloads(sys.argv[1]):
        # DTLS record (content type 22: handshake; 13-byte header), handshake
        # type 1 (ClientHello; 12-byte header), fragment at offset 0: the
        # random follows the 2-byte version.
        if len(p) >= 13 + 12 + 34 and p[0] == 22 and p[13] == 1 and p[19:22] == b"\0\0\0":
            randoms.setdefault(flow, p[27:59].hex())
            continue
        if len(p) < 12 or not 128 <= p[0] <= 191:
            continue  # STUN, DTLS, other
        if 192 <= p[1] <= 223:
            rtcp += 1
            continue
        ssrc = str(struct.unpack(">I", p[8:12])[0])
        flows_of.setdefault(ssrc, set()).add(flow)
        s = rtp.setdefault(ssrc, {"packets": 0, "payload_types": {}})
        s["packets"] += 1
        pt = str(p[1] & 0x7F)
        s["payload_types"][pt] = s["payload_types"].get(pt, 0) + 1
    associations = {r: [] for r in randoms.values()}
    for ssrc, flows in flows_of.items():
        for f in flows:
            if f in randoms:
                associations[randoms[f]].append(int(ssrc))
    for v in associations.values():
        v.sort()
    flows = {
        r: [f"{ipaddress.ip_address(a)}:{int.from_bytes(p, 'big')}" if len(a) == 4
            else f"[{ipaddress.ip_address(a)}]:{int.from_bytes(p, 'big')}" for a, p in f]
        for f, r in randoms.items()
    }
    out = {"rtp": rtp, "rtcp": rtcp, "associations": associations, "flows": flows}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
