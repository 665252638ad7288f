/*
 * floor.c: the read floor for rtprec's benchmarks (benches/record.sh, benches/streams.sh).
 *
 * A minimal single-pass reader of a classic pcap file: reads it with read(2) in 4 MiB
 * blocks, walks the records in place, parses the link layer (Ethernet with up to two
 * VLAN tags, raw IP, Linux cooked v1/v2, BSD loopback), IPv4 or IPv6 (no extension
 * headers, first fragments only) and UDP, and counts the RTP packets per SSRC
 * (version bits 2, at least 12 bytes, second byte not an RTCP packet type 192..223)
 * in an open-addressing hash table. No reassembly, no TCP, no pcapng, no validation
 * beyond bounds checks: it is what any tool that looks at every packet must at least
 * do, so rtprec's time divided by this one's is the price of everything else.
 *
 *   cc -O2 -o floor benches/floor.c && ./floor capture.pcap    (or - / no argument: stdin)
 *
 * Prints one line: "records R udp U rtp P ssrcs S".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (4u << 20)

static int swapped; /* big-endian file */

static uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* SSRC -> packets; key 0 is kept apart so that 0 can mark an empty slot. */
static uint32_t *keys;
static uint64_t *counts;
static size_t cap = 1024, used;
static uint64_t zero_ssrc;

static size_t slot(uint32_t k) { return (size_t)((k * 0x9E3779B1u) & (cap - 1)); }

static void grow(void) {
    uint32_t *ok = keys;
    uint64_t *oc = counts;
    size_t ocap = cap;
    cap *= 2;
    keys = calloc(cap, sizeof *keys);
    counts = calloc(cap, sizeof *counts);
    if (!keys || !counts) { perror("floor: calloc"); exit(1); }
    for (size_t i = 0; i < ocap; i++) {
        if (!ok[i]) continue;
        size_t j = slot(ok[i]);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = ok[i];
        counts[j] = oc[i];
    }
    free(ok);
    free(oc);
}

static void count(uint32_t ssrc) {
    if (!ssrc) { zero_ssrc++; return; }
    size_t j = slot(ssrc);
    while (keys[j] && keys[j] != ssrc) j = (j + 1) & (cap - 1);
    if (!keys[j]) {
        keys[j] = ssrc;
        if (++used * 2 > cap) { counts[j] = 1; grow(); return; }
    }
    counts[j]++;
}

static uint64_t records, udp, rtp;

/* One frame of link type `link`, `len` captured bytes. */
static void frame(uint32_t link, const uint8_t *p, uint32_t len) {
    uint16_t eth;
    switch (link) {
    case 1: /* Ethernet */
        if (len < 14) return;
        eth = be16(p + 12), p += 14, len -= 14;
        for (int tags = 0; tags < 2 && (eth == 0x8100 || eth == 0x88a8) && len >= 4; tags++)
            eth = be16(p + 2), p += 4, len -= 4;
        break;
    case 101: case 228: case 229: case 12: /* raw IP */
        if (len < 1) return;
        eth = (p[0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    case 113: /* Linux cooked v1 */
        if (len < 16) return;
        eth = be16(p + 14), p += 16, len -= 16;
        break;
    case 276: /* Linux cooked v2 */
        if (len < 20) return;
        eth = be16(p), p += 20, len -= 20;
        break;
    case 0: /* BSD loopback: host-order family */
        if (len < 5) return;
        eth = (p[4] >> 4) == 6 ? 0x86dd : 0x0800, p += 4, len -= 4;
        break;
    default:
        return;
    }
    const uint8_t *u;
    uint32_t ulen;
    if (eth == 0x0800) {
        if (len < 20 || (p[0] >> 4) != 4 || p[9] != 17) return;
        uint32_t ihl = (p[0] & 15u) * 4, tot = be16(p + 2);
        if ((be16(p + 6) & 0x1fff) != 0) return; /* not a first fragment */
        if (tot < len) len = tot;
        if (ihl < 20 || len < ihl + 8) return;
        u = p + ihl, ulen = len - ihl;
    } else if (eth == 0x86dd) {
        if (len < 48 || (p[0] >> 4) != 6 || p[6] != 17) return;
        u = p + 40, ulen = len - 40;
    } else {
        return;
    }
    udp++;
    const uint8_t *r = u + 8;
    uint32_t rlen = ulen - 8;
    if (rlen < 12 || (r[0] >> 6) != 2 || (r[1] >= 192 && r[1] <= 223)) return;
    rtp++;
    count(be32(r + 8));
}

int main(int argc, char **argv) {
    int fd = 0;
    if (argc > 1 && strcmp(argv[1], "-") != 0) {
        fd = open(argv[1], O_RDONLY);
        if (fd < 0) { perror(argv[1]); return 1; }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    uint8_t *buf = malloc(BLOCK);
    keys = calloc(cap, sizeof *keys);
    counts = calloc(cap, sizeof *counts);
    if (!buf || !keys || !counts) { perror("floor: malloc"); return 1; }

    size_t have = 0, off = 0, size = BLOCK;
    int eof = 0, header = 0;
    uint32_t link = 0;
    for (;;) {
        /* need `want` bytes at off: the global header, a record header, or a whole record */
        size_t want = !header ? 24 : 16;
        if (header && have - off >= 16) want = 16 + (size_t)rd32(buf + off + 8);
        if (have - off >= want) {
            if (!header) {
                uint32_t m;
                memcpy(&m, buf, 4);
                if (m == 0xa1b2c3d4u || m == 0xa1b23c4du) swapped = 0;
                else if (m == 0xd4c3b2a1u || m == 0x4d3cb2a1u) swapped = 1;
                else { fprintf(stderr, "floor: not a classic pcap file\n"); return 1; }
                link = rd32(buf + 20) & 0x0fffffffu;
                header = 1, off = 24;
            } else if (want > 16) {
                records++;
                frame(link, buf + off + 16, (uint32_t)(want - 16));
                off += want;
            } else {
                records++; /* empty record */
                off += 16;
            }
            continue;
        }
        if (eof) break;
        if (want > size) { /* a record larger than the buffer */
            while (size < want) size *= 2;
            if (!(buf = realloc(buf, size))) { perror("floor: realloc"); return 1; }
        }
        memmove(buf, buf + off, have - off);
        have -= off, off = 0;
        while (have < size) {
            ssize_t n = read(fd, buf + have, size - have);
            if (n < 0) { if (errno == EINTR) continue; perror("floor: read"); return 1; }
            if (n == 0) { eof = 1; break; }
            have += (size_t)n;
            if (have >= want && have >= BLOCK / 2) break;
        }
    }
    if (have != off) fprintf(stderr, "floor: %zu trailing bytes (truncated record)\n", have - off);
    printf("records %llu udp %llu rtp %llu ssrcs %zu\n", (unsigned long long)records,
           (unsigned long long)udp, (unsigned long long)rtp, used + (zero_ssrc > 0));
    return 0;
}
