/* fuzz_wire.c - libFuzzer target for the wire format (core/wire.c).
 *
 * The input is one packet. What sf_wire_parse accepts must be rebuilt by
 * sf_wire_build into a packet that parses back to the same fields, and
 * rebuilding that gives the same bytes again (the builder is a fixed
 * point). What the builder changes on purpose is allowed and nothing else:
 * a TTL of 0 becomes 64, IPv4 options are not kept, and SACK blocks that
 * no longer fit beside the other options (the builder pads them) are cut
 * from the end. The same for ICMP (sf_icmp_parse, sf_icmp_build), for
 * sf_wire_fill_tcp_checksum (a packet it fills has a good checksum), and
 * for the flag letters and dotted quads.
 *
 * The first byte of the input says what to mend in the packet that follows
 * before it is parsed, so that the fuzzer gets past the checksums: bit 0
 * the IPv4 header checksum, bit 1 the TCP (or ICMP) checksum, bit 2 the IPv4 total
 * length (set to the packet's length). The packet is then copied to a heap
 * buffer of exactly its length, so AddressSanitizer sees any read past its
 * end. */
#include "fuzz.h"
#include "synfin.h"

#include <string.h>

#define MAX_PACKET 65535

/* The IPv4 total length field of a packet of at least 4 bytes. */
/* The packet's length as its IP header says: IPv4's total length, or
 * IPv6's 40-byte header plus its payload length. */
static size_t ip_total(const uint8_t *p)
{
    if (p[0] >> 4 == 6) return 40 + ((size_t)p[4] << 8 | p[5]);
    return (size_t)p[2] << 8 | p[3];
}

/* Parses a copy of pkt held in a buffer of exactly len bytes (freed by the
 * caller through *copy), so that a read past its end is caught. */
static int parse_exact(const uint8_t *pkt, size_t len, sf_seg *seg, uint8_t **copy)
{
    *copy = malloc(len ? len : 1);
    if (!*copy) abort();
    memcpy(*copy, pkt, len);
    return sf_wire_parse(*copy, len, seg, NULL);
}

/* The bytes of options the builder writes before any SACK blocks. */
static size_t options_before_sack(const sf_seg *s)
{
    return (s->mss ? 4u : 0u) + (s->sack_perm ? 4u : 0u) + (s->has_ts ? 12u : 0u) +
           (s->wscale >= 0 ? 4u : 0u);
}

/* ---- TCP: parse, build, parse again ------------------------------------------ */

static void check_tcp(const uint8_t *data, size_t size)
{
    sf_seg a;
    const char *why = NULL;
    int rc = sf_wire_parse(data, size, &a, &why);
    FUZZ_CHECK(rc == 0 || rc == SF_EBADMSG, "sf_wire_parse returned %d", rc);
    FUZZ_CHECK(rc == 0 || why != NULL, "a rejected packet without a reason");
    /* sf_wire_parse_trusted is the same parser but for the checksum: it
     * takes what has only a bad TCP checksum, with the same fields */
    sf_seg t;
    const char *twhy = NULL;
    int trc = sf_wire_parse_trusted(data, size, &t, &twhy);
    FUZZ_CHECK(trc == (rc == 0 || a.bad_csum ? 0 : SF_EBADMSG), "trusted %d, verified %d", trc, rc);
    FUZZ_CHECK(trc != 0 || !t.bad_csum, "a trusted parse set bad_csum");
    if (trc == 0) {
        sf_seg v;
        memcpy(&v, &a, sizeof v); /* padding too: both parses zeroed theirs */
        v.bad_csum = 0;
        FUZZ_CHECK(!memcmp(&v, &t, sizeof v), "trusted and verified parses differ");
    } else {
        FUZZ_CHECK(twhy == why, "rejected for \"%s\", not \"%s\"", twhy, why);
    }
    if (rc != 0 && !a.bad_csum) return; /* rejected before the checksum: nothing filled */

    /* what was parsed lies inside the input */
    FUZZ_CHECK(a.payload >= data && a.payload <= data + size && a.len <= size &&
                   (size_t)(a.payload - data) + a.len <= size,
               "payload at %zd, %u bytes, outside the %zu bytes given", a.payload - data, a.len,
               size);
    FUZZ_CHECK(a.sack_n <= 4, "%u SACK blocks", a.sack_n);
    FUZZ_CHECK(a.wscale >= -1 && a.wscale <= 14, "window scale %d", a.wscale);
    FUZZ_CHECK(rc == 0 || a.bad_csum, "rc %d", rc);

    static uint8_t built[MAX_PACKET + 1];
    int n = sf_wire_build(built, sizeof built, &a);
    if (n == SF_ENOBUFS) {
        /* only a payload near 64 KiB plus the options the builder pads can
         * outgrow an IPv4 packet */
        FUZZ_CHECK(40 + options_before_sack(&a) + 40 + a.len > MAX_PACKET,
                   "sf_wire_build refused a %u-byte payload", a.len);
        return;
    }
    FUZZ_CHECK(n >= 40 && (size_t)n <= MAX_PACKET, "sf_wire_build returned %d", n);

    sf_seg b;
    uint8_t *copy;
    int rc2 = parse_exact(built, (size_t)n, &b, &copy);
    FUZZ_CHECK(rc2 == rc && b.bad_csum == a.bad_csum,
               "rebuilt packet parses with %d (bad checksum %u), the input with %d (%u)", rc2,
               b.bad_csum, rc, a.bad_csum);
    FUZZ_CHECK(sf_addr_eq(b.saddr, a.saddr) && sf_addr_eq(b.daddr, a.daddr), "addresses changed");
    FUZZ_CHECK(b.sport == a.sport && b.dport == a.dport, "ports changed");
    FUZZ_CHECK(b.seq == a.seq && b.ack == a.ack, "seq %u ack %u became %u %u", a.seq, a.ack, b.seq,
               b.ack);
    FUZZ_CHECK(b.flags == a.flags && b.wnd == a.wnd && b.urp == a.urp,
               "flags/window/urgent pointer changed");
    FUZZ_CHECK(b.tos == a.tos, "tos %u became %u", a.tos, b.tos);
    /* the builder's one default: TTL 0 means 64 */
    FUZZ_CHECK(b.ttl == (a.ttl ? a.ttl : 64), "ttl %u became %u", a.ttl, b.ttl);
    FUZZ_CHECK(b.mss == a.mss, "MSS %u became %u", a.mss, b.mss);
    FUZZ_CHECK(b.wscale == a.wscale, "window scale %d became %d", a.wscale, b.wscale);
    FUZZ_CHECK(b.sack_perm == a.sack_perm, "SACK-permitted %u became %u", a.sack_perm, b.sack_perm);
    FUZZ_CHECK(b.has_ts == a.has_ts, "timestamps %u became %u", a.has_ts, b.has_ts);
    if (a.has_ts)
        FUZZ_CHECK(b.ts_val == a.ts_val && b.ts_ecr == a.ts_ecr, "timestamp values changed");
    /* SACK blocks: a prefix, cut only where the next block would not fit
     * in the 40 bytes of options (RFC 2018 §3) */
    FUZZ_CHECK(b.sack_n <= a.sack_n, "%u SACK blocks became %u", a.sack_n, b.sack_n);
    for (int i = 0; i < b.sack_n; i++)
        FUZZ_CHECK(b.sack[i][0] == a.sack[i][0] && b.sack[i][1] == a.sack[i][1],
                   "SACK block %d changed", i);
    if (b.sack_n < a.sack_n)
        FUZZ_CHECK(options_before_sack(&a) + 4 + 8 * (size_t)(b.sack_n + 1) > 40,
                   "SACK block %u dropped though it fits", b.sack_n);
    FUZZ_CHECK(b.len == a.len && (a.len == 0 || memcmp(b.payload, a.payload, a.len) == 0),
               "payload of %u bytes became %u bytes or changed", a.len, b.len);

    /* the builder is a fixed point: what it built, parsed and built
     * again, is the same bytes */
    static uint8_t again[MAX_PACKET + 1];
    int m = sf_wire_build(again, sizeof again, &b);
    FUZZ_CHECK(m == n && memcmp(again, built, (size_t)n) == 0,
               "building the rebuilt packet again gave other bytes (%d, %d)", n, m);
    free(copy);
}

/* ---- TCP checksum offload ----------------------------------------------------- */

static void check_fill_checksum(const uint8_t *data, size_t size)
{
    sf_seg a;
    int rc = sf_wire_parse(data, size, &a, NULL);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) abort();
    memcpy(copy, data, size);
    int frc = sf_wire_fill_tcp_checksum(copy, size);
    FUZZ_CHECK(frc == 0 || frc == SF_EBADMSG, "sf_wire_fill_tcp_checksum returned %d", frc);
    /* a packet that only failed its TCP checksum, and whose IP header
     * gives the length given, parses once the checksum is filled */
    if (frc == 0 && (rc == 0 || a.bad_csum) && size >= 6 && ip_total(data) == size) {
        sf_seg b;
        int rc2 = sf_wire_parse(copy, size, &b, NULL);
        FUZZ_CHECK(rc2 == 0 && !b.bad_csum, "filled checksum still bad (%d)", rc2);
    }
    free(copy);
}

/* ---- ICMP: parse, build, parse again --------------------------------------------- */

static void check_icmp(const uint8_t *data, size_t size)
{
    sf_icmp a;
    const char *why = NULL;
    int rc = sf_icmp_parse(data, size, &a, &why);
    FUZZ_CHECK(rc == 0 || (rc == SF_EBADMSG && why), "sf_icmp_parse returned %d", rc);
    if (rc != 0) return;
    FUZZ_CHECK(sf_wire_is_icmp(data, size), "parsed as ICMP, not ICMP by sf_wire_is_icmp");
    uint8_t built[128];
    int n = sf_icmp_build(built, sizeof built, &a);
    FUZZ_CHECK(n > 0, "sf_icmp_build returned %d", n);
    uint8_t *copy = malloc((size_t)n);
    if (!copy) abort();
    memcpy(copy, built, (size_t)n);
    sf_icmp b;
    FUZZ_CHECK(sf_icmp_parse(copy, (size_t)n, &b, NULL) == 0, "rebuilt ICMP rejected");
    FUZZ_CHECK(sf_addr_eq(b.saddr, a.saddr) && sf_addr_eq(b.daddr, a.daddr) && b.type == a.type &&
                   b.code == a.code && b.mtu == a.mtu,
               "ICMP header fields changed");
    FUZZ_CHECK(sf_addr_eq(b.q_saddr, a.q_saddr) && sf_addr_eq(b.q_daddr, a.q_daddr) &&
                   b.q_sport == a.q_sport && b.q_dport == a.q_dport && b.q_seq == a.q_seq,
               "quoted segment's fields changed");
    free(copy);
}

/* ---- text: flag letters and dotted quads ----------------------------------------- */

static void check_text(const uint8_t *data, size_t size)
{
    char text[24];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = 0;

    int flags = sf_flags_parse(text);
    FUZZ_CHECK(flags >= -1 && flags <= 255, "sf_flags_parse gave %d", flags);
    if (size > 0) {
        char s[9];
        sf_flags_str(data[0], s);
        FUZZ_CHECK(sf_flags_parse(s) == data[0], "flags 0x%02x -> \"%s\" -> %d", data[0], s,
                   sf_flags_parse(s));
    }

    /* addresses of both families: what parses formats (RFC 5952) and parses back
     * to the same 16 bytes; any 16 bytes format and parse back */
    sf_addr addr;
    if (sf_addr_parse(text, &addr) == 0) {
        char s[SF_ADDR_STRLEN];
        sf_addr back;
        sf_addr_str(addr, s);
        FUZZ_CHECK(sf_addr_parse(s, &back) == 0 && sf_addr_eq(back, addr), "address -> \"%s\"", s);
    }
    if (size >= 16) {
        sf_addr a;
        memcpy(a.b, data, 16);
        char s[SF_ADDR_STRLEN];
        sf_addr back;
        sf_addr_str(a, s);
        FUZZ_CHECK(sf_addr_parse(s, &back) == 0 && sf_addr_eq(back, a), "address -> \"%s\"", s);
    }
    if (size >= 4) {
        sf_addr a = sf_addr_v4((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                               (uint32_t)data[2] << 8 | data[3]);
        char s[SF_ADDR_STRLEN];
        sf_addr back;
        sf_addr_str(a, s);
        FUZZ_CHECK(sf_addr_parse(s, &back) == 0 && sf_addr_eq(back, a), "address -> \"%s\"", s);
    }
}

/* ---- mending the input ------------------------------------------------------------ */

/* RFC 1071: the one's-complement sum of p[0..len), folded and inverted; a
 * second implementation, so that the target does not trust wire.c's. */
static uint16_t rfc1071(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1) sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

enum { MEND_IP_CSUM = 1, MEND_TCP_CSUM = 2, MEND_TOTAL = 4 };

static void mend(uint8_t *p, size_t len, uint8_t how)
{
    if (len < 20) return;
    size_t ihl = (size_t)(p[0] & 15) * 4;
    if ((how & MEND_TOTAL) && len <= 65535) put16(p + 2, (uint16_t)len);
    size_t total = ip_total(p) < len ? ip_total(p) : len;
    /* the TCP (or ICMP) checksum first: the IPv4 header does not depend on it */
    if ((how & MEND_TCP_CSUM) && p[9] == 1 && ihl >= 20 && total >= ihl + 4) {
        put16(p + ihl + 2, 0);
        put16(p + ihl + 2, rfc1071(0, p + ihl, total - ihl)); /* ICMP: no pseudo-header */
    } else if ((how & MEND_TCP_CSUM) && ihl >= 20 && total >= ihl + 18) {
        uint8_t *tcp = p + ihl;
        size_t tlen = total - ihl;
        put16(tcp + 16, 0);
        uint32_t sum = ((uint32_t)p[12] << 8 | p[13]) + ((uint32_t)p[14] << 8 | p[15]) +
                       ((uint32_t)p[16] << 8 | p[17]) + ((uint32_t)p[18] << 8 | p[19]) + p[9] +
                       (uint32_t)tlen;
        put16(tcp + 16, rfc1071(sum, tcp, tlen));
    }
    if ((how & MEND_IP_CSUM) && ihl >= 20 && ihl <= len) {
        put16(p + 10, 0);
        put16(p + 10, rfc1071(0, p, ihl));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t len = size - 1;
    uint8_t *pkt = malloc(len ? len : 1);
    if (!pkt) abort();
    memcpy(pkt, data + 1, len);
    mend(pkt, len, data[0]);
    check_tcp(pkt, len);
    check_fill_checksum(pkt, len);
    check_icmp(pkt, len);
    check_text(pkt, len);
    free(pkt);
    return 0;
}
