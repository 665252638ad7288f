#!/usr/bin/env python3
"""Builds the repair test captures from RTP streams GStreamer wrote (rtpstreampay, RFC 4571).

    repairpcap.py ulpfec-red OUT.pcap VIDEO.rtp
    repairpcap.py flexfec OUT.pcap VIDEO.rtp SCREEN.rtp
    repairpcap.py red-opus OUT.pcap OPUS.rtp
    repairpcap.py srtp-vp8 OUT.pcap SRTP.rtp PLAIN.rtp

ulpfec-red: VP8 wrapped in RED (PT 123) whose blocks carry VP8 (PT 96) or
ULPFEC (PT 122), as Chrome sends them; GStreamer's rtpulpfecenc + rtpredenc
made every packet. One media packet of every third FEC group is dropped (each
recoverable), plus a few FEC packets that protect nothing lost.

flexfec: VP8 (PT 96) plus a FlexFEC (RFC 8627, flexible mask) repair stream
on its own SSRC (PT 49), written by this script (GStreamer has no FlexFEC
encoder): one repair packet per 5 media packets, every fourth group of 20.
One recoverable loss in some groups and one group with two losses (not
recoverable). Also a second VP8 (PT 96) with in-band ULPFEC (PT 122, no
RED) from rtpulpfecenc, one recoverable loss in some groups.

red-opus: Opus in RED (PT 63, one redundant block: the previous packet) from
GStreamer's rtpredenc; single packets dropped, each carried again by the next.

srtp-vp8: VP8 that GStreamer's srtpenc encrypted (AES_CM_128_HMAC_SHA1_80),
sequence numbers wrapping past 65535 (the rollover counter goes to 1); a few
packets dropped. SRTP encrypts the VP8 payload descriptors, so which frames
stay decodable is worked out on the same packets before encryption (a `tee`
in the pipeline writes both).

The loss pattern and what repair can restore is decided here, independently
of rtprec, and printed as JSON (the ground truth of the .txt).
"""
import json
import struct
import sys

T0_NS = 1_795_428_000_000_000_000  # 2026-11-23T10:00:00Z
SRC = (bytes([10, 0, 0, 10]), 50000)
DST = (bytes([10, 0, 0, 1]), 40000)


def read_rfc4571(path):
    data = open(path, "rb").read()
    out, i = [], 0
    while i + 2 <= len(data):
        (n,) = struct.unpack(">H", data[i : i + 2])
        out.append(data[i + 2 : i + 2 + n])
        i += 2 + n
    return out


def header_len(p):
    cc = p[0] & 15
    n = 12 + 4 * cc
    if p[0] & 0x10:
        (words,) = struct.unpack(">H", p[n + 2 : n + 4])
        n += 4 + 4 * words
    return n


def fields(p):
    b0, b1, seq, ts, ssrc = struct.unpack(">BBHII", p[:12])
    return {"pt": b1 & 127, "m": b1 >> 7, "seq": seq, "ts": ts, "ssrc": ssrc}


def ulpfec_protected(fec):
    """SN base + mask of an RFC 5109 FEC payload (level 0)."""
    long_mask = fec[0] & 0x40
    (base,) = struct.unpack(">H", fec[2:4])
    mask_bytes = fec[12 : 12 + (6 if long_mask else 2)]
    mask = int.from_bytes(mask_bytes, "big")
    bits = len(mask_bytes) * 8
    return [(base + i) & 0xFFFF for i in range(bits) if mask >> (bits - 1 - i) & 1]


def xor_into(acc, data):
    if len(acc) < len(data):
        acc.extend(bytes(len(data) - len(acc)))
    for i, b in enumerate(data):
        acc[i] ^= b


def flexfec_repair(sources, media_ssrc, fec_ssrc, seq, ts):
    """An RFC 8627 flexible-mask repair packet (R=0, F=0) protecting `sources`."""
    base = sources[0][2]
    offsets = [(fields(s)["seq"] - base) & 0xFFFF for s in [x[0] for x in sources]]
    head = bytearray(2)
    ts_rec = 0
    length_rec = 0
    body = bytearray()
    for pkt, _, _ in sources:
        head[0] ^= pkt[0]
        head[1] ^= pkt[1]
        ts_rec ^= struct.unpack(">I", pkt[4:8])[0]
        length_rec ^= len(pkt) - 12
        xor_into(body, pkt[12:])
    top = max(offsets)
    if top < 15:
        mask = sum(1 << (14 - o) for o in offsets)
        mask_bytes = struct.pack(">H", 0x8000 | mask)
    elif top < 46:
        m = sum(1 << (45 - o) for o in offsets)  # 46 bits, k bits inserted below
        hi, lo = m >> 31, m & 0x7FFFFFFF
        mask_bytes = struct.pack(">HI", hi, 0x80000000 | lo)
    else:
        raise ValueError("group too long")
    fec_header = bytes([head[0] & 0x3F, head[1]]) + struct.pack(">HI", length_rec, ts_rec)
    fec_header += struct.pack(">H", base) + mask_bytes
    # RTP header of the repair packet: CC=1, the CSRC names the protected SSRC.
    rtp = struct.pack(">BBHII", 0x81, 49, seq, ts, fec_ssrc) + struct.pack(">I", media_ssrc)
    return rtp + fec_header + bytes(body)


def recoverable(lost, repairs):
    """Lost packets some chain of received repair packets restores (iteratively)."""
    lost, restored = set(lost), set()
    changed = True
    while changed:
        changed = False
        for prot in repairs:
            missing = [s for s in prot if s in lost]
            if len(missing) == 1:
                lost.discard(missing[0])
                restored.add(missing[0])
                changed = True
    return restored


def write_pcap(path, packets):
    """packets: list of (time_ns, rtp bytes), written as Ethernet/IPv4/UDP."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ident, (t, p) in enumerate(sorted(packets, key=lambda x: x[0])):
        udp = struct.pack(">HHHH", SRC[1], DST[1], 8 + len(p), 0) + p
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0, 64, 17, 0, SRC[0], DST[0])
        s = sum(struct.unpack(">10H", ip))
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        ip = ip[:10] + struct.pack(">H", ~s & 0xFFFF) + ip[12:]
        frame = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00" + ip + udp
        sec, ns = divmod(t, 1_000_000_000)
        out.append(struct.pack("<IIII", sec, ns // 1000, len(frame), len(frame)) + frame)
    open(path, "wb").write(b"".join(out))


def times(stream, clock):
    """Capture time of each packet from its RTP timestamp; packets of one timestamp 100 us apart."""
    ts0 = fields(stream[0])["ts"]
    res, last, k = [], None, 0
    for p in stream:
        ts = fields(p)["ts"]
        k = k + 1 if ts == last else 0
        last = ts
        res.append(T0_NS + ((ts - ts0) & 0xFFFFFFFF) * 1_000_000_000 // clock + k * 100_000)
    return res


def ulpfec_red(out, video):
    stream = read_rfc4571(video)
    t = times(stream, 90000)
    media, fecs = [], []  # (seq), (seq, protected)
    for p in stream:
        f = fields(p)
        assert f["pt"] == 123, "every packet is RED"
        block = p[header_len(p) :]
        if block[0] & 127 == 122:
            fecs.append((f["seq"], ulpfec_protected(block[1:])))
        else:
            media.append(f["seq"])
    drop, used = set(), set()
    for n, (seq, prot) in enumerate(fecs):
        if n % 3 == 1 and not used & set(prot):
            victim = prot[n % len(prot)]
            drop.add(victim)
            used |= set(prot)
    # FEC packets whose loss costs nothing: those protecting no dropped packet.
    fec_dropped = [seq for n, (seq, prot) in enumerate(fecs) if n % 7 == 5 and not set(prot) & drop][:4]
    received_repairs = [prot for seq, prot in fecs if seq not in fec_dropped]
    restored = recoverable(drop, received_repairs)
    assert restored == drop, "every dropped media packet is recoverable"
    kept = [(tt, p) for tt, p in zip(t, stream) if fields(p)["seq"] not in drop | set(fec_dropped)]
    write_pcap(out, kept)
    return {
        "ssrc": "%08x" % fields(stream[0])["ssrc"],
        "packets_sent": len(stream),
        "media_packets_sent": len(media),
        "fec_packets_sent": len(fecs),
        "media_dropped": sorted(drop),
        "fec_dropped": sorted(fec_dropped),
        "recoverable": len(restored),
        "lost_after_repair": len(fec_dropped),
    }


def flexfec(out, video, screen):
    vstream = read_rfc4571(video)
    vt = times(vstream, 90000)
    media_ssrc = fields(vstream[0])["ssrc"]
    fec_ssrc = 0x0FEC0003
    repairs, groups, pos, g = [], [], 0, 0
    while pos < len(vstream):
        size = 20 if g % 4 == 3 else 5
        group = list(range(pos, min(pos + size, len(vstream))))
        groups.append(group)
        pos += size
        g += 1
    drop = set()
    double = None
    for n, group in enumerate(groups):
        seqs = [fields(vstream[i])["seq"] for i in group]
        if n == 9 and len(group) >= 2:
            double = seqs[1:3]
            drop |= set(double)
        elif n % 2 == 1:
            drop.add(seqs[n % len(seqs)])
    fec_packets = []
    for n, group in enumerate(groups):
        srcs = [(vstream[i], vt[i], fields(vstream[i])["seq"]) for i in group]
        last_t = vt[group[-1]]
        pkt = flexfec_repair(srcs, media_ssrc, fec_ssrc, (7000 + n) & 0xFFFF, n * 3000)
        fec_packets.append((last_t + 50_000, pkt))
        repairs.append([s[2] for s in srcs])
    restored = recoverable(drop, repairs)
    assert set(double).isdisjoint(restored), "the double loss is not recoverable"
    kept = [(tt, p) for tt, p in zip(vt, vstream) if fields(p)["seq"] not in drop]
    kept += fec_packets

    astream = read_rfc4571(screen)
    at = times(astream, 90000)
    a_media, a_fecs = [], []
    for p in astream:
        f = fields(p)
        if f["pt"] == 122:
            a_fecs.append((f["seq"], ulpfec_protected(p[header_len(p) :])))
        else:
            a_media.append(f["seq"])
    a_drop, used = set(), set()
    for n, (seq, prot) in enumerate(a_fecs):
        if n % 4 == 1 and not used & set(prot):
            a_drop.add(prot[-1])
            used |= set(prot)
    a_restored = recoverable(a_drop, [prot for _, prot in a_fecs])
    assert a_restored == a_drop
    kept_audio = [(tt, p) for tt, p in zip(at, astream) if fields(p)["seq"] not in a_drop]
    write_pcap(out, kept + kept_audio)
    return {
        "camera": {
            "ssrc": "%08x" % media_ssrc,
            "fec_ssrc": "%08x" % fec_ssrc,
            "media_packets_sent": len(vstream),
            "repair_packets_sent": len(fec_packets),
            "media_dropped": sorted(drop),
            "recoverable": len(restored),
            "lost_after_repair": len(drop) - len(restored),
        },
        "screen": {
            "ssrc": "%08x" % fields(astream[0])["ssrc"],
            "media_packets_sent": len(a_media),
            "fec_packets_sent": len(a_fecs),
            "media_dropped": sorted(a_drop),
            "recoverable": len(a_restored),
            "lost_after_repair": 0,
        },
    }


def red_opus(out, opus):
    stream = read_rfc4571(opus)
    t = times(stream, 48000)
    seqs = [fields(p)["seq"] for p in stream]
    # Every 9th packet from the 5th: never two in a row, never the last.
    drop = {seqs[i] for i in range(5, len(seqs) - 1, 9)}
    kept = [(tt, p) for tt, p in zip(t, stream) if fields(p)["seq"] not in drop]
    write_pcap(out, kept)
    return {
        "ssrc": "%08x" % fields(stream[0])["ssrc"],
        "packets_sent": len(stream),
        "dropped": sorted(drop),
        "recoverable": len(drop),
        "lost_after_repair": 0,
    }


def vp8_frames(stream):
    """(timestamp, keyframe, seqs) per frame of plain VP8 packets (RFC 7741 §4.2, §4.3)."""
    frames = []
    for p in stream:
        f = fields(p)
        pay = p[header_len(p) :]
        d = pay[0]
        i = 1
        if d & 0x80:  # X: extension byte, then I/L/T/K fields
            x = pay[1]
            i = 2
            if x & 0x80:
                i += 2 if pay[i] & 0x80 else 1
            if x & 0x40:
                i += 1
            if x & 0x30:
                i += 1
        start = bool(d & 0x10) and (d & 0x0F) == 0
        if not frames or frames[-1][0] != f["ts"]:
            frames.append([f["ts"], False, []])
        if start:
            frames[-1][1] = pay[i] & 1 == 0
        frames[-1][2].append(f["seq"])
    return frames


def srtp_vp8(out, srtp, plain):
    enc, clear = read_rfc4571(srtp), read_rfc4571(plain)
    assert [fields(p)["seq"] for p in enc] == [fields(p)["seq"] for p in clear]
    t = times(clear, 90000)
    frames = vp8_frames(clear)
    # One packet of a delta frame in the first and in the last second.
    delta = [f for f in frames if not f[1]]
    drop = {delta[5][2][0], delta[-8][2][0]}
    decodable, broken = 0, True
    for ts, key, seqs in frames:
        lost = any(s in drop for s in seqs)
        if key and not lost:
            broken = False
        if lost:
            broken = True
        if not broken:
            decodable += 1
    kept = [(tt, p) for tt, p in zip(t, enc) if fields(p)["seq"] not in drop]
    write_pcap(out, kept)
    return {
        "ssrc": "%08x" % fields(enc[0])["ssrc"],
        "packets_sent": len(enc),
        "first_seq": fields(enc[0])["seq"],
        "last_seq": fields(enc[-1])["seq"],
        "frames_sent": len(frames),
        "keyframes": sum(1 for f in frames if f[1]),
        "dropped": sorted(drop),
        "frames_decodable": decodable,
    }


if __name__ == "__main__":
    mode, out, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    make = {"ulpfec-red": ulpfec_red, "flexfec": flexfec, "red-opus": red_opus, "srtp-vp8": srtp_vp8}[mode]
    print(json.dumps(make(out, *args), indent=1))
