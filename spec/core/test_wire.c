/* The wire format: IPv4 + TCP build and parse (RFC 791, RFC 9293 §3.1-3.2),
 * checksums, malformed input, flag letters and dotted-quad addresses. Every
 * packet handed to sf_wire_parse here lives in a buffer of exactly its length,
 * so that AddressSanitizer sees any read past the end. */
#include "check.h"
#include "rand.h"
#include "synfin.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define IP_HDR  20
#define TCP_OFF 20 /* where the TCP header starts in a packet built by synfin */

/* ---- helpers ---------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* RFC 1071 one's-complement checksum of the IPv4 header. */
static void fix_ip_checksum(uint8_t *pkt)
{
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
    put16(pkt + 10, 0);
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < ihl; i += 2)
        sum += get16(pkt + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(pkt + 10, (uint16_t)~sum);
}

/* RFC 9293 §3.1: the TCP checksum over pseudo-header, header and data. */
static void fix_tcp_checksum(uint8_t *pkt)
{
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
    size_t total = get16(pkt + 2);
    uint8_t *tcp = pkt + ihl;
    size_t tlen = total - ihl;
    put16(tcp + 16, 0);
    uint32_t sum = (uint32_t)get16(pkt + 12) + get16(pkt + 14) + get16(pkt + 16) + get16(pkt + 18);
    sum += 6 + (uint32_t)tlen;
    size_t i = 0;
    for (; i + 1 < tlen; i += 2)
        sum += get16(tcp + i);
    if (i < tlen) sum += (uint32_t)tcp[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(tcp + 16, (uint16_t)~sum);
}

/* Parses a copy of pkt[0..len) held in a buffer of exactly len bytes. */
static int parse_exact(const uint8_t *pkt, size_t len, sf_seg *seg, const char **why)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, pkt, len);
    int rc = sf_wire_parse(copy, len, seg, why);
    free(copy);
    seg->payload = NULL; /* pointed into the copy */
    return rc;
}

static sf_seg base_seg(void)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = sf_addr_v4(0x0a000001); /* 10.0.0.1 */
    s.daddr = sf_addr_v4(0xc0a80102); /* 192.168.1.2 */
    s.sport = 49152;
    s.dport = 80;
    s.seq = 0xfffffff0u;
    s.ack = 0x12345678u;
    s.flags = SF_SYN | SF_ACK;
    s.wnd = 65535;
    s.urp = 7;
    s.ttl = 17;
    s.wscale = -1;
    return s;
}

static const uint8_t payload_text[] = "GET / HTTP/1.0\r\n\r\n";

/* A packet with every option and a payload, used by several tests. */
static int build_full(uint8_t *buf, size_t cap)
{
    sf_seg s = base_seg();
    s.mss = 1460;
    s.wscale = 7;
    s.sack_perm = 1;
    s.has_ts = 1;
    s.ts_val = 0xdeadbeef;
    s.ts_ecr = 0x01020304;
    s.payload = payload_text;
    s.len = sizeof payload_text - 1;
    return sf_wire_build(buf, cap, &s);
}

/* ---- round trips ------------------------------------------------------------- */

static void test_round_trip_plain(void)
{
    uint8_t buf[128];
    sf_seg s = base_seg(), p;
    int n = sf_wire_build(buf, sizeof buf, &s);
    CHECK(n == IP_HDR + 20); /* no options, no payload */
    const char *why = NULL;
    CHECK(parse_exact(buf, (size_t)n, &p, &why) == 0);
    CHECK(sf_addr_eq(p.saddr, s.saddr) && sf_addr_eq(p.daddr, s.daddr));
    CHECK(p.sport == s.sport && p.dport == s.dport);
    CHECK(p.seq == s.seq && p.ack == s.ack);
    CHECK(p.flags == s.flags);
    CHECK(p.wnd == s.wnd && p.urp == s.urp);
    CHECK(p.ttl == 17);
    /* absent options read as absent */
    CHECK(p.mss == 0);
    CHECK(p.wscale == -1);
    CHECK(p.sack_perm == 0 && p.has_ts == 0);
    CHECK(p.len == 0);
    CHECK(p.bad_csum == 0);
    /* the IPv4 header: version 4, IHL 5, DF, protocol 6 */
    CHECK(buf[0] == 0x45);
    CHECK(get16(buf + 2) == (uint16_t)n);
    CHECK(buf[9] == 6);
    /* a TTL of 0 asks for the default, 64 */
    s.ttl = 0;
    n = sf_wire_build(buf, sizeof buf, &s);
    CHECK(parse_exact(buf, (size_t)n, &p, NULL) == 0 && p.ttl == 64);
}

static void test_round_trip_options_payload(void)
{
    uint8_t buf[256];
    int n = build_full(buf, sizeof buf);
    CHECK(n > 0);
    sf_seg p;
    /* parse in place: the payload points into the packet */
    CHECK(sf_wire_parse(buf, (size_t)n, &p, NULL) == 0);
    CHECK(p.mss == 1460);
    CHECK(p.wscale == 7);
    CHECK(p.sack_perm == 1);
    CHECK(p.has_ts == 1 && p.ts_val == 0xdeadbeef && p.ts_ecr == 0x01020304);
    CHECK(p.len == sizeof payload_text - 1);
    CHECK(p.payload >= buf && p.payload + p.len == buf + n);
    CHECK(p.payload && memcmp(p.payload, payload_text, p.len) == 0);
    CHECK(p.seq == 0xfffffff0u && p.ack == 0x12345678u);
    /* options are padded to a multiple of 4: the data offset covers them */
    CHECK((buf[TCP_OFF + 12] >> 4) * 4 == n - IP_HDR - (int)p.len);

    /* each option alone */
    sf_seg s = base_seg();
    s.mss = 536;
    n = sf_wire_build(buf, sizeof buf, &s);
    CHECK(sf_wire_parse(buf, (size_t)n, &p, NULL) == 0);
    CHECK(p.mss == 536 && p.wscale == -1 && !p.sack_perm && !p.has_ts);
    s = base_seg();
    s.wscale = 0; /* a shift of 0 is present, not absent */
    n = sf_wire_build(buf, sizeof buf, &s);
    CHECK(sf_wire_parse(buf, (size_t)n, &p, NULL) == 0);
    CHECK(p.wscale == 0 && p.mss == 0);
    s.wscale = 14; /* RFC 7323 §2.3: the largest shift */
    n = sf_wire_build(buf, sizeof buf, &s);
    CHECK(sf_wire_parse(buf, (size_t)n, &p, NULL) == 0 && p.wscale == 14);
    s = base_seg();
    s.sack_perm = 1;
    n = sf_wire_build(buf, sizeof buf, &s);
    CHECK(sf_wire_parse(buf, (size_t)n, &p, NULL) == 0);
    CHECK(p.sack_perm == 1 && !p.has_ts && p.wscale == -1);
    s = base_seg();
    s.has_ts = 1;
    s.ts_val = 1;
    s.ts_ecr = 0;
    n = sf_wire_build(buf, sizeof buf, &s);
    CHECK(sf_wire_parse(buf, (size_t)n, &p, NULL) == 0);
    CHECK(p.has_ts && p.ts_val == 1 && p.ts_ecr == 0 && !p.sack_perm);

    /* every flag combination survives */
    int all_flags_ok = 1;
    for (int f = 0; f < 256; f++) {
        s = base_seg();
        s.flags = (uint8_t)f;
        n = sf_wire_build(buf, sizeof buf, &s);
        if (n < 0 || sf_wire_parse(buf, (size_t)n, &p, NULL) != 0 || p.flags != f) all_flags_ok = 0;
    }
    CHECK(all_flags_ok);
}

static void test_round_trip_large_payload(void)
{
    /* an odd payload length exercises the checksum's trailing byte */
    static uint8_t data[1461];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    static uint8_t buf[2000];
    sf_seg s = base_seg(), p;
    s.flags = SF_PSH | SF_ACK;
    s.payload = data;
    s.len = sizeof data;
    int n = sf_wire_build(buf, sizeof buf, &s);
    CHECK(n == IP_HDR + 20 + (int)sizeof data);
    CHECK(parse_exact(buf, (size_t)n, &p, NULL) == 0);
    CHECK(p.len == sizeof data);
    CHECK(sf_wire_parse(buf, (size_t)n, &p, NULL) == 0 && memcmp(p.payload, data, p.len) == 0);
}

static void test_build_no_room(void)
{
    uint8_t buf[256];
    int n = build_full(buf, sizeof buf);
    CHECK(n > 0);
    /* one byte short of the packet: SF_ENOBUFS, nothing claimed */
    CHECK(build_full(buf, (size_t)n - 1) == SF_ENOBUFS);
    CHECK(build_full(buf, (size_t)n) == n);
    CHECK(build_full(buf, 0) == SF_ENOBUFS);
    /* a packet longer than IPv4's 65535-byte total length cannot be built */
    static uint8_t big[70000];
    static uint8_t out[70100];
    sf_seg s = base_seg();
    s.payload = big;
    s.len = 65535 - 40 + 1;
    CHECK(sf_wire_build(out, sizeof out, &s) == SF_ENOBUFS);
    s.len = 65535 - 40;
    CHECK(sf_wire_build(out, sizeof out, &s) == 65535);
}

/* A packet may be followed by bytes that are not part of it (link padding):
 * the IPv4 total length says where it ends. */
static void test_trailing_bytes_ignored(void)
{
    uint8_t buf[256];
    int n = build_full(buf, sizeof buf);
    memset(buf + n, 0xee, 6);
    sf_seg p;
    CHECK(parse_exact(buf, (size_t)n + 6, &p, NULL) == 0);
    CHECK(p.len == sizeof payload_text - 1);
}

/* ---- checksums ----------------------------------------------------------------- */

static void test_checksums(void)
{
    uint8_t buf[256];
    int n = build_full(buf, sizeof buf);
    int plen = (int)sizeof payload_text - 1;
    sf_seg p;
    CHECK(parse_exact(buf, (size_t)n, &p, NULL) == 0);

    /* RFC 9293 §3.1 (MUST-2, MUST-3): the checksum covers header and data, so
     * any single corrupted byte of the TCP part is caught; RFC 791: the header
     * checksum catches any corrupted byte of the IPv4 header. */
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x5a};
    int ip_caught = 0, tcp_caught = 0, tcp_flags_bad_csum = 0;
    for (int i = 0; i < n; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            uint8_t copy[256];
            memcpy(copy, buf, (size_t)n);
            copy[i] ^= masks[m];
            const char *why = NULL;
            int rc = parse_exact(copy, (size_t)n, &p, &why);
            if (i < IP_HDR) {
                ip_caught += rc == SF_EBADMSG && why != NULL;
            } else {
                tcp_caught += rc == SF_EBADMSG && why != NULL;
                /* a byte of the fixed header (other than the data offset)
                 * or of the payload cannot change what is checked before the
                 * checksum: those failures are checksum failures */
                bool fixed_or_data = (i < TCP_OFF + 20 && i != TCP_OFF + 12) || i >= n - plen;
                if (fixed_or_data && rc == SF_EBADMSG && p.bad_csum) tcp_flags_bad_csum++;
            }
        }
    }
    CHECK(ip_caught == IP_HDR * (int)sizeof masks);
    CHECK(tcp_caught == (n - IP_HDR) * (int)sizeof masks);
    /* those are reported as a bad checksum with the fields filled (a
     * corrupted option or data offset may be reported as malformed first) */
    CHECK(tcp_flags_bad_csum == (19 + plen) * (int)sizeof masks);

    /* bad_csum on build: a packet whose checksum is wrong on purpose; parse
     * fails, says why, and still fills every field */
    sf_seg s = base_seg();
    s.mss = 1200;
    s.wscale = 3;
    s.payload = payload_text;
    s.len = 5;
    s.bad_csum = 1;
    n = sf_wire_build(buf, sizeof buf, &s);
    CHECK(n > 0);
    const char *why = NULL;
    CHECK(sf_wire_parse(buf, (size_t)n, &p, &why) == SF_EBADMSG);
    CHECK(p.bad_csum == 1);
    CHECK(why && strstr(why, "checksum"));
    CHECK(sf_addr_eq(p.saddr, s.saddr) && sf_addr_eq(p.daddr, s.daddr) && p.sport == s.sport &&
          p.dport == s.dport);
    CHECK(p.seq == s.seq && p.ack == s.ack && p.flags == s.flags && p.wnd == s.wnd);
    CHECK(p.mss == 1200 && p.wscale == 3);
    CHECK(p.len == 5 && p.payload && memcmp(p.payload, payload_text, 5) == 0);
    /* the IPv4 header of such a packet is still good: only TCP is wrong */
    s.bad_csum = 0;
    uint8_t good[256];
    CHECK(sf_wire_build(good, sizeof good, &s) == n);
    CHECK(memcmp(good, buf, IP_HDR) == 0);
    CHECK(memcmp(good + TCP_OFF + 18, buf + TCP_OFF + 18, (size_t)n - TCP_OFF - 18) == 0);
}

/* ---- malformed input --------------------------------------------------------------- */

static void test_truncations(void)
{
    uint8_t buf[256];
    int n = build_full(buf, sizeof buf);
    int rejected = 0;
    for (int len = 0; len < n; len++) {
        sf_seg p;
        const char *why = NULL;
        if (parse_exact(buf, (size_t)len, &p, &why) == SF_EBADMSG && why) rejected++;
    }
    CHECK(rejected == n); /* 0..n-1: every truncation is rejected */
    /* a NULL why is allowed */
    sf_seg p;
    CHECK(sf_wire_parse(buf, 3, &p, NULL) == SF_EBADMSG);
}

static int expect_bad(uint8_t *pkt, size_t len, const char *why_part)
{
    sf_seg p;
    const char *why = NULL;
    int rc = parse_exact(pkt, len, &p, &why);
    if (rc != SF_EBADMSG || !why) return 0;
    if (why_part && !strstr(why, why_part)) {
        fprintf(stderr, "  why was \"%s\", expected \"%s\"\n", why, why_part);
        return 0;
    }
    return 1;
}

static void test_ip_header_errors(void)
{
    uint8_t good[256], pkt[256];
    int n = build_full(good, sizeof good);

    /* neither IPv4 nor IPv6: version 5 */
    memcpy(pkt, good, (size_t)n);
    pkt[0] = 0x55;
    CHECK(expect_bad(pkt, (size_t)n, "IPv4"));
    /* IHL below 5 words, checksum fixed so that only the IHL is wrong */
    for (int ihl = 0; ihl < 5; ihl++) {
        memcpy(pkt, good, (size_t)n);
        pkt[0] = (uint8_t)(0x40 | ihl);
        CHECK(expect_bad(pkt, (size_t)n, NULL));
    }
    /* IHL past the total length */
    memcpy(pkt, good, (size_t)n);
    put16(pkt + 2, 40);
    pkt[0] = 0x4f; /* 60-byte header in a 40-byte packet */
    CHECK(expect_bad(pkt, (size_t)n, NULL));
    /* total length larger than the buffer */
    memcpy(pkt, good, (size_t)n);
    put16(pkt + 2, (uint16_t)(n + 1));
    fix_ip_checksum(pkt);
    CHECK(expect_bad(pkt, (size_t)n, "total length"));
    put16(pkt + 2, 65535);
    fix_ip_checksum(pkt);
    CHECK(expect_bad(pkt, (size_t)n, "total length"));
    /* total length shorter than the IPv4 header */
    memcpy(pkt, good, (size_t)n);
    put16(pkt + 2, 19);
    fix_ip_checksum(pkt);
    CHECK(expect_bad(pkt, (size_t)n, NULL));
    /* total length leaving less than a TCP header */
    memcpy(pkt, good, (size_t)n);
    put16(pkt + 2, IP_HDR + 19);
    fix_ip_checksum(pkt);
    CHECK(expect_bad(pkt, (size_t)n, "TCP header"));
    /* not TCP: UDP (17), ICMP (1) */
    memcpy(pkt, good, (size_t)n);
    pkt[9] = 17;
    fix_ip_checksum(pkt);
    CHECK(expect_bad(pkt, (size_t)n, "not TCP"));
    pkt[9] = 1;
    fix_ip_checksum(pkt);
    CHECK(expect_bad(pkt, (size_t)n, "not TCP"));
    /* IPv4 fragments: more-fragments set, or a fragment offset */
    memcpy(pkt, good, (size_t)n);
    put16(pkt + 6, 0x2000);
    fix_ip_checksum(pkt);
    CHECK(expect_bad(pkt, (size_t)n, "fragment"));
    put16(pkt + 6, 0x0001);
    fix_ip_checksum(pkt);
    CHECK(expect_bad(pkt, (size_t)n, "fragment"));
    put16(pkt + 6, 0x4000 | 0x1fff);
    fix_ip_checksum(pkt);
    CHECK(expect_bad(pkt, (size_t)n, "fragment"));
    /* DF alone is no fragment */
    put16(pkt + 6, 0x4000);
    fix_ip_checksum(pkt);
    sf_seg p;
    CHECK(parse_exact(pkt, (size_t)n, &p, NULL) == 0);
    put16(pkt + 6, 0x0000);
    fix_ip_checksum(pkt);
    CHECK(parse_exact(pkt, (size_t)n, &p, NULL) == 0);
    /* a bad IPv4 header checksum */
    memcpy(pkt, good, (size_t)n);
    pkt[10] ^= 0x01;
    CHECK(expect_bad(pkt, (size_t)n, "checksum"));
}

/* IPv4 options (IHL > 5) move the TCP header; a packet with them parses. */
static void test_ip_options(void)
{
    uint8_t good[256], pkt[256];
    int n = build_full(good, sizeof good);
    /* insert 4 bytes of IPv4 options (NOP, NOP, NOP, EOL) */
    memcpy(pkt, good, IP_HDR);
    pkt[20] = 1;
    pkt[21] = 1;
    pkt[22] = 1;
    pkt[23] = 0;
    memcpy(pkt + 24, good + IP_HDR, (size_t)n - IP_HDR);
    pkt[0] = 0x46;
    put16(pkt + 2, (uint16_t)(n + 4));
    fix_ip_checksum(pkt);
    sf_seg p;
    CHECK(parse_exact(pkt, (size_t)n + 4, &p, NULL) == 0);
    CHECK(p.sport == 49152 && p.dport == 80 && p.mss == 1460);
    CHECK(p.len == sizeof payload_text - 1);
}

/* A TCP header with room for `optlen` bytes of options, then `plen` bytes
 * of payload; checksums correct. Returns the packet length. */
static size_t craft(uint8_t *pkt, const uint8_t *opts, size_t optlen, size_t plen)
{
    sf_seg s = base_seg();
    uint8_t tmp[128];
    int n = sf_wire_build(tmp, sizeof tmp, &s);
    size_t total = (size_t)n + optlen + plen;
    memcpy(pkt, tmp, (size_t)n);
    if (optlen) memcpy(pkt + n, opts, optlen);
    memset(pkt + n + optlen, 'x', plen);
    put16(pkt + 2, (uint16_t)total);
    pkt[TCP_OFF + 12] = (uint8_t)(((20 + optlen) / 4) << 4);
    fix_ip_checksum(pkt);
    fix_tcp_checksum(pkt);
    return total;
}

static void test_tcp_header_errors(void)
{
    uint8_t pkt[256];
    sf_seg p;
    size_t n = craft(pkt, NULL, 0, 8);
    CHECK(parse_exact(pkt, n, &p, NULL) == 0 && p.len == 8);

    /* RFC 9293 §3.1: the data offset counts 32-bit words, at least 5 */
    for (int doff = 0; doff < 5; doff++) {
        n = craft(pkt, NULL, 0, 8);
        pkt[TCP_OFF + 12] = (uint8_t)(doff << 4);
        fix_tcp_checksum(pkt);
        CHECK(expect_bad(pkt, n, "data offset"));
    }
    /* data offset past the end of the segment (smoltcp#261 crashed on it) */
    n = craft(pkt, NULL, 0, 8);
    pkt[TCP_OFF + 12] = 8 << 4; /* 32 bytes, the segment has 28 */
    fix_tcp_checksum(pkt);
    CHECK(expect_bad(pkt, n, "data offset"));
    n = craft(pkt, NULL, 0, 0);
    pkt[TCP_OFF + 12] = 15 << 4; /* 60 bytes, the segment has 20 */
    fix_tcp_checksum(pkt);
    CHECK(expect_bad(pkt, n, "data offset"));
    /* data offset exactly at the end: no payload, fine */
    n = craft(pkt, NULL, 0, 12);
    pkt[TCP_OFF + 12] = 8 << 4;
    memset(pkt + TCP_OFF + 20, 1, 12); /* the "payload" becomes NOP options */
    fix_tcp_checksum(pkt);
    CHECK(parse_exact(pkt, n, &p, NULL) == 0 && p.len == 0);
}

static void test_tcp_option_errors(void)
{
    uint8_t pkt[256];
    sf_seg p;
    const char *why;

    /* RFC 9293 §3.2: an option other than EOL and NOP has a length byte of
     * at least 2; length 0 would loop forever, length 1 would read its own
     * length as data. Both are rejected (MUST-7: an illegal option length is
     * coped with: the segment is dropped with a reason, nothing is read past
     * the header). */
    static const uint8_t len0[] = {2, 0, 0, 0};
    CHECK(expect_bad(pkt, craft(pkt, len0, 4, 0), "option"));
    static const uint8_t len1[] = {2, 1, 0, 0};
    CHECK(expect_bad(pkt, craft(pkt, len1, 4, 0), "option"));
    static const uint8_t unknown_len0[] = {1, 1, 99, 0};
    CHECK(expect_bad(pkt, craft(pkt, unknown_len0, 4, 0), "option"));
    /* an option running past the header (into the payload or past the end) */
    static const uint8_t past[] = {8, 10, 0, 0}; /* timestamps need 10 bytes */
    CHECK(expect_bad(pkt, craft(pkt, past, 4, 0), "option"));
    CHECK(expect_bad(pkt, craft(pkt, past, 4, 20), "option")); /* payload is not options */
    static const uint8_t past_by_one[] = {1, 1, 30, 3};
    CHECK(expect_bad(pkt, craft(pkt, past_by_one, 4, 0), "option"));
    /* a kind byte as the last byte of the header, with no room for a length */
    static const uint8_t kind_last[] = {1, 1, 1, 2};
    CHECK(expect_bad(pkt, craft(pkt, kind_last, 4, 0), "option"));

    /* MUST-4: the mandatory options, End of Option List, No-Operation and
     * MSS. EOL ends the list: what follows is not parsed */
    static const uint8_t eol[] = {0, 2, 0, 0};
    CHECK(parse_exact(pkt, craft(pkt, eol, 4, 0), &p, NULL) == 0 && p.mss == 0);
    /* an option that exactly fills the header is fine */
    static const uint8_t exact[] = {2, 4, 0x05, 0xb4};
    CHECK(parse_exact(pkt, craft(pkt, exact, 4, 0), &p, NULL) == 0 && p.mss == 1460);

    /* RFC 9293 §3.2 (MUST-6): options the stack does not implement are
     * skipped by their length, and the options after them still count, even
     * off a word boundary (MUST-64: the MSS below starts at offset 6) */
    static const uint8_t unknown[] = {30, 6, 0xaa, 0xbb, 0xcc, 0xdd, 2, 4, 0x02, 0x18, 1, 0};
    why = NULL;
    CHECK(parse_exact(pkt, craft(pkt, unknown, 12, 3), &p, &why) == 0);
    CHECK(p.mss == 536 && p.len == 3);
    static const uint8_t sack_block[] = {5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 3, 3, 2, 1, 1, 1};
    CHECK(parse_exact(pkt, craft(pkt, sack_block, 16, 0), &p, NULL) == 0 && p.wscale == 2);
    /* a known option with the wrong length is not taken for that option */
    static const uint8_t odd_mss[] = {2, 3, 9, 1};
    CHECK(parse_exact(pkt, craft(pkt, odd_mss, 4, 0), &p, NULL) == 0 && p.mss == 0);
    /* RFC 7323 §2.3: a shift above 14 is used as 14 */
    static const uint8_t big_shift[] = {3, 3, 200, 1};
    CHECK(parse_exact(pkt, craft(pkt, big_shift, 4, 0), &p, NULL) == 0 && p.wscale == 14);
}

/* Random bytes must never crash the parser, nor make it claim a payload
 * outside the packet. Half the inputs get a valid IPv4 header around random
 * TCP bytes so that the TCP and option parsers are reached. */
static void test_random_bytes(void)
{
    sf_rand rng;
    sf_rand_seed(&rng, 20240917);
    int ok = 0, bad = 0, inside = 1, reached_tcp = 0;
    for (int it = 0; it < 100000; it++) {
        size_t len = (size_t)(sf_rand_next(&rng) % 120);
        uint8_t *pkt = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            pkt[i] = (uint8_t)sf_rand_next(&rng);
        if ((it & 1) && len >= IP_HDR) {
            pkt[0] = (uint8_t)(0x45 + (sf_rand_next(&rng) % 4 == 0 ? sf_rand_next(&rng) % 11 : 0));
            size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
            size_t total = ihl + (size_t)(sf_rand_next(&rng) % (len + 8));
            if (total > len && sf_rand_next(&rng) % 8) total = len;
            put16(pkt + 2, (uint16_t)total);
            put16(pkt + 6, 0);
            pkt[9] = 6;
            if (ihl <= len) {
                fix_ip_checksum(pkt);
                if (total <= len && total >= ihl + 20) {
                    reached_tcp++;
                    if (sf_rand_next(&rng) % 2) fix_tcp_checksum(pkt);
                }
            }
        }
        sf_seg p;
        const char *why = NULL;
        int rc = sf_wire_parse(pkt, len, &p, &why);
        if (rc == 0) {
            ok++;
            if (p.payload < pkt || p.payload + p.len > pkt + len) inside = 0;
        } else {
            bad++;
            if (rc != SF_EBADMSG || !why) inside = 0;
        }
        free(pkt);
    }
    printf("random: %d parsed, %d rejected, %d reached TCP\n", ok, bad, reached_tcp);
    CHECK(inside);
    CHECK(ok + bad == 100000);
    CHECK(ok > 0); /* the structured half produced valid packets too */
    CHECK(reached_tcp > 10000);
}

/* ---- flags and addresses ------------------------------------------------------------ */

static void test_flags(void)
{
    char s[9];
    sf_flags_str(SF_SYN | SF_ACK, s);
    CHECK(strcmp(s, "SA") == 0);
    sf_flags_str(SF_FIN | SF_ACK, s);
    CHECK(strcmp(s, "FA") == 0);
    sf_flags_str(SF_PSH | SF_ACK, s);
    CHECK(strcmp(s, "PA") == 0);
    sf_flags_str(SF_RST | SF_ACK, s);
    CHECK(strcmp(s, "RA") == 0);
    sf_flags_str(SF_FIN | SF_PSH | SF_ACK, s);
    CHECK(strcmp(s, "FPA") == 0);
    sf_flags_str(0, s);
    CHECK(strcmp(s, "") == 0);
    sf_flags_str(0xff, s);
    CHECK(strcmp(s, "SFRPAUEC") == 0);
    sf_flags_str(SF_URG | SF_ECE | SF_CWR, s);
    CHECK(strcmp(s, "UEC") == 0);

    CHECK(sf_flags_parse("SA") == (SF_SYN | SF_ACK));
    CHECK(sf_flags_parse("AS") == (SF_SYN | SF_ACK)); /* any order */
    CHECK(sf_flags_parse("FPA") == (SF_FIN | SF_PSH | SF_ACK));
    CHECK(sf_flags_parse("") == 0);
    CHECK(sf_flags_parse("R") == SF_RST);
    CHECK(sf_flags_parse("SS") == SF_SYN);
    CHECK(sf_flags_parse("X") == -1);
    CHECK(sf_flags_parse("SAx") == -1);
    CHECK(sf_flags_parse("sa") == -1); /* letters are upper case */
    CHECK(sf_flags_parse(" S") == -1);
    CHECK(sf_flags_parse("=S") == -1); /* '=' is the hook filter's, not a flag */
    int round = 1;
    for (int f = 0; f < 256; f++) {
        sf_flags_str((uint8_t)f, s);
        size_t bits = 0;
        for (int b = 0; b < 8; b++)
            bits += (size_t)((f >> b) & 1);
        if (sf_flags_parse(s) != f || strlen(s) != bits) round = 0;
    }
    CHECK(round);
}

/* How many of these strings sf_addr_parse accepts (each one named). */
static int count_accepted(const char *const *inputs, size_t n)
{
    int accepted = 0;
    static const sf_addr canary = {{0xde, 0xad, 0xbe, 0xef}};
    for (size_t i = 0; i < n; i++) {
        sf_addr a = canary;
        int rc = sf_addr_parse(inputs[i], &a);
        if (rc == 0 || !sf_addr_eq(a, canary)) {
            char text[SF_ADDR_STRLEN];
            sf_addr_str(a, text);
            fprintf(stderr, "  sf_addr_parse(\"%s\") returned %d, address %s\n", inputs[i], rc,
                    text);
            accepted++;
        }
    }
    return accepted;
}

/* text -> address -> text: the canonical form comes back */
static bool formats_as(const char *in, const char *want)
{
    sf_addr a;
    char out[SF_ADDR_STRLEN];
    if (sf_addr_parse(in, &a) != 0) {
        fprintf(stderr, "  \"%s\" not parsed\n", in);
        return false;
    }
    sf_addr_str(a, out);
    if (strcmp(out, want) != 0) fprintf(stderr, "  \"%s\" -> \"%s\", want \"%s\"\n", in, out, want);
    return strcmp(out, want) == 0;
}

static void test_addresses(void)
{
    sf_addr a;
    CHECK(sf_addr_parse("10.0.0.1", &a) == 0 && sf_addr_eq(a, sf_addr_v4(0x0a000001)));
    CHECK(sf_addr_is_v4(a) && sf_addr_family(a) == 4 && sf_addr_v4_of(a) == 0x0a000001);
    CHECK(sf_addr_parse("192.168.1.254", &a) == 0 && sf_addr_v4_of(a) == 0xc0a801fe);
    CHECK(sf_addr_parse("0.0.0.0", &a) == 0 && sf_addr_is_v4(a) && sf_addr_v4_of(a) == 0);
    CHECK(sf_addr_parse("255.255.255.255", &a) == 0 && sf_addr_v4_of(a) == 0xffffffffu);

    /* bad inputs fail and leave the output alone */
    static const char *const malformed[] = {
        "",       "1.2.3",  "256.1.1.1", "1.2.3.4x", "1.2.3.4.5", "1.2.3.256", "a.b.c.d",
        "1..2.3", "1.2.3.", ".1.2.3",    "1.2.3.4 ", "-1.2.3.4",  "1.2.3.-4",
    };
    CHECK(count_accepted(malformed, sizeof malformed / sizeof malformed[0]) == 0);
    /* a component too large for 32 bits must not wrap around into range
     * (4294967297 is 2^32 + 1: read as 1 it would give 1.1.1.1) */
    static const char *const huge[] = {"4294967297.1.1.1", "1.1.1.4294967552",
                                       "99999999999999999999.1.1.1"};
    CHECK(count_accepted(huge, sizeof huge / sizeof huge[0]) == 0);
    /* a dotted quad is digits and dots only (as inet_pton reads it): no
     * signs, no white space */
    static const char *const not_strict[] = {"1.2.3.+4", "+1.2.3.4", " 1.2.3.4", "1. 2.3.4",
                                             "1.2.3.\t4"};
    CHECK(count_accepted(not_strict, sizeof not_strict / sizeof not_strict[0]) == 0);

    char s[SF_ADDR_STRLEN];
    sf_addr_str(sf_addr_v4(0x0a000001), s);
    CHECK(strcmp(s, "10.0.0.1") == 0);
    sf_addr_str(sf_addr_v4(0xffffffffu), s);
    CHECK(strcmp(s, "255.255.255.255") == 0);
    sf_addr_str(sf_addr_v4(0), s);
    CHECK(strcmp(s, "0.0.0.0") == 0);
    /* string, parse, string: the same */
    sf_addr_str(sf_addr_v4(0xc0a801fe), s);
    CHECK(sf_addr_parse(s, &a) == 0 && sf_addr_v4_of(a) == 0xc0a801fe);

    /* IPv6 (RFC 4291 §2.2), written back as RFC 5952 §4 says */
    CHECK(sf_addr_parse("2001:db8::1", &a) == 0 && !sf_addr_is_v4(a) && sf_addr_family(a) == 6);
    CHECK(a.b[0] == 0x20 && a.b[1] == 0x01 && a.b[2] == 0x0d && a.b[3] == 0xb8 && a.b[15] == 1);
    CHECK(formats_as("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1")); /* §4.1, §4.3 */
    CHECK(formats_as("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"));    /* §4.2.3: the first run */
    CHECK(formats_as("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"));          /* §4.2.3: the longest */
    CHECK(formats_as("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1")); /* §4.2.2: not one 0 */
    CHECK(formats_as("::", "::") && formats_as("::1", "::1") && formats_as("1::", "1::"));
    CHECK(formats_as("fe80::1:2", "fe80::1:2") && formats_as("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"));
    CHECK(formats_as("64:ff9b::192.0.2.33", "64:ff9b::c000:221")); /* a dotted tail */
    /* the IPv4-mapped form is the IPv4 address itself */
    CHECK(sf_addr_parse("::ffff:192.0.2.1", &a) == 0 && sf_addr_is_v4(a) &&
          sf_addr_v4_of(a) == 0xc0000201);
    CHECK(formats_as("::FFFF:c000:0201", "192.0.2.1"));
    static const char *const bad6[] = {
        ":",
        ":::",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8:9",
        "1::2::3",
        "12345::",
        "g::1",
        "1:2:3:4:5:6:7:8::",
        "::1.2.3",
        "1.2.3.4::",
        "::1:",
        ":1::",
        "2001:db8::1%eth0",
        "2001:db8::/32",
        "[2001:db8::1]",
        "::1.2.3.4:5",
        "1:2:3:4:5:6:7:1.2.3.4",
    };
    CHECK(count_accepted(bad6, sizeof bad6 / sizeof bad6[0]) == 0);
    /* endpoints: IPv6 in brackets (RFC 5952 §6) */
    char e[SF_ENDPOINT_STRLEN];
    sf_addr_parse("2001:db8::1", &a);
    sf_endpoint_str(a, 80, e);
    CHECK(strcmp(e, "[2001:db8::1]:80") == 0);
    sf_endpoint_str(sf_addr_v4(0xc0000201), 443, e);
    CHECK(strcmp(e, "192.0.2.1:443") == 0);
    /* unicast: not ::, not multicast */
    CHECK(sf_addr_parse("::", &a) == 0 && !sf_addr_is_unicast(a));
    CHECK(sf_addr_parse("ff02::1", &a) == 0 && !sf_addr_is_unicast(a));
    CHECK(sf_addr_parse("2001:db8::2", &a) == 0 && sf_addr_is_unicast(a));
    CHECK(!sf_addr_is_unicast(sf_addr_v4(0xe0000001)) &&
          sf_addr_is_unicast(sf_addr_v4(0x0a000001)));
}

/* ---- IPv6 (RFC 8200) --------------------------------------------------------------------- */

static sf_seg base_seg6(void)
{
    sf_seg s = base_seg();
    sf_addr_parse("2001:db8::1", &s.saddr);
    sf_addr_parse("2001:db8:0:1::2", &s.daddr);
    return s;
}

/* The packet of seg with an extension header (next header nh, hlen bytes,
 * its own next header TCP) put between the IPv6 header and TCP; returns
 * the new length. body: the header's bytes after the first two (or NULL). */
static size_t with_ext(uint8_t *pkt, size_t n, uint8_t nh, size_t hlen, const uint8_t *body)
{
    memmove(pkt + 40 + hlen, pkt + 40, n - 40);
    memset(pkt + 40, 0, hlen);
    pkt[40] = pkt[6]; /* TCP */
    pkt[41] = (uint8_t)(hlen / 8 - 1);
    if (body) memcpy(pkt + 42, body, hlen - 2);
    pkt[6] = nh;
    put16(pkt + 4, (uint16_t)(n - 40 + hlen));
    return n + hlen;
}

static void test_ipv6(void)
{
    sf_seg s = base_seg6(), p;
    s.tos = 0xb9; /* DSCP 46, ECT(1) */
    s.ttl = 17;
    uint8_t pkt[512];
    int n = sf_wire_build(pkt, sizeof pkt, &s);
    CHECK(n == 60 + (int)sf_wire_options_len(&s) + (int)s.len);
    CHECK(pkt[0] >> 4 == 6 && pkt[6] == 6 && pkt[7] == 17 && get16(pkt + 4) == n - 40);
    CHECK(sf_wire_headers_len(&s) == 60 + sf_wire_options_len(&s));
    const char *why = NULL;
    CHECK(parse_exact(pkt, (size_t)n, &p, &why) == 0);
    CHECK(sf_addr_eq(p.saddr, s.saddr) && sf_addr_eq(p.daddr, s.daddr) && p.tos == 0xb9 &&
          p.ttl == 17 && p.seq == s.seq && p.len == s.len);
    CHECK(sf_wire_ecn(pkt, (size_t)n) == 1 && sf_wire_mark_ce(pkt, (size_t)n) == 1 &&
          sf_wire_ecn(pkt, (size_t)n) == 3);
    CHECK(parse_exact(pkt, (size_t)n, &p, &why) == 0 && (p.tos & 3) == 3); /* no checksum to fix */

    /* the TCP checksum covers the IPv6 pseudo-header (RFC 8200 §8.1): a
     * changed address, or upper-layer length, is a bad checksum */
    n = sf_wire_build(pkt, sizeof pkt, &s);
    pkt[23] ^= 1; /* the source address's last byte */
    CHECK(expect_bad(pkt, (size_t)n, "checksum"));
    n = sf_wire_build(pkt, sizeof pkt, &s);
    pkt[39] ^= 1; /* the destination's */
    CHECK(expect_bad(pkt, (size_t)n, "checksum"));
    /* built with the IPv4 pseudo-header's sum, it would be wrong here */
    sf_seg four = base_seg();
    uint8_t pkt4[512];
    int n4 = sf_wire_build(pkt4, sizeof pkt4, &four);
    n = sf_wire_build(pkt, sizeof pkt, &s);
    CHECK(get16(pkt + 40 + 16) != get16(pkt4 + 20 + 16));

    /* two families in one segment: no such packet */
    sf_seg mixed = s;
    mixed.daddr = sf_addr_v4(0x0a000001);
    CHECK(sf_wire_build(pkt, sizeof pkt, &mixed) == SF_EINVAL);

    /* extension headers a host skips (RFC 8200 §4.3, §4.6, §4.4 with
     * Segments Left 0): the segment parses as without them */
    static const uint8_t padn[6] = {1, 4, 0, 0, 0, 0};
    static const uint8_t skip_opt[6] = {0x3e, 4, 1, 2, 3, 4};    /* type 00xxxxxx: skip */
    static const uint8_t discard_opt[6] = {0x7e, 4, 1, 2, 3, 4}; /* type 01xxxxxx: discard */
    static const uint8_t routing_sl0[6] = {4, 0, 0, 0, 0, 0};    /* type 4, segments left 0 */
    static const uint8_t routing_sl1[6] = {4, 1, 0, 0, 0, 0};
    struct {
        uint8_t nh;
        const uint8_t *body;
        const char *why; /* NULL: parses */
    } cases[] = {
        {0, padn, NULL},
        {0, skip_opt, NULL},
        {60, padn, NULL},
        {60, skip_opt, NULL},
        {43, routing_sl0, NULL},
        {0, discard_opt, "IPv6 option"},
        {60, discard_opt, "IPv6 option"},
        {43, routing_sl1, "Segments Left"},
        {44, NULL, "Fragment"},
        {17, NULL, "next header"},
        {59, NULL, "not TCP"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = sf_wire_build(pkt, sizeof pkt, &s);
        size_t m = with_ext(pkt, (size_t)n, cases[i].nh, 8, cases[i].body);
        int rc = parse_exact(pkt, m, &p, &why);
        if (cases[i].why)
            CHECK(rc == SF_EBADMSG && why && strstr(why, cases[i].why));
        else
            CHECK(rc == 0 && p.seq == s.seq && p.len == s.len);
        if ((rc == 0) != (cases[i].why == NULL))
            fprintf(stderr, "  case %zu (next header %u): %s\n", i, cases[i].nh,
                    why ? why : "parsed");
    }
    /* two of them: Destination Options then Routing */
    n = sf_wire_build(pkt, sizeof pkt, &s);
    size_t m = with_ext(pkt, (size_t)n, 43, 8, routing_sl0);
    m = with_ext(pkt, m, 60, 16, NULL);
    pkt[42] = 1; /* PadN over the rest */
    pkt[43] = 12;
    CHECK(parse_exact(pkt, m, &p, &why) == 0 && p.len == s.len);
    /* Hop-by-Hop after another header: refused (§4.3: first only) */
    n = sf_wire_build(pkt, sizeof pkt, &s);
    m = with_ext(pkt, (size_t)n, 0, 8, padn);
    m = with_ext(pkt, m, 60, 8, padn);
    CHECK(expect_bad(pkt, m, "Hop-by-Hop"));
    /* an extension header past the payload length */
    n = sf_wire_build(pkt, sizeof pkt, &s);
    m = with_ext(pkt, (size_t)n, 60, 8, padn);
    pkt[41] = 200;
    CHECK(expect_bad(pkt, m, "IPv6 payload length"));
    /* the payload length past the packet; short packets */
    n = sf_wire_build(pkt, sizeof pkt, &s);
    put16(pkt + 4, (uint16_t)(n - 40 + 1));
    CHECK(expect_bad(pkt, (size_t)n, "IPv6 payload length"));
    CHECK(expect_bad(pkt, 39, "shorter than an IPv6 header"));
    /* an IPv4-mapped address never comes on the wire (RFC 4291 §2.5.5.2) */
    n = sf_wire_build(pkt, sizeof pkt, &s);
    memset(pkt + 8, 0, 10);
    pkt[18] = pkt[19] = 0xff;
    CHECK(expect_bad(pkt, (size_t)n, "IPv4-mapped"));
    (void)n4;
}

/* ICMPv6 (RFC 4443): built and parsed back, its checksum over the
 * pseudo-header; Packet Too Big's MTU is 32 bits */
static void test_icmp6(void)
{
    sf_icmp m, back;
    memset(&m, 0, sizeof m);
    sf_addr_parse("2001:db8::fe", &m.saddr);
    sf_addr_parse("2001:db8::1", &m.daddr);
    m.q_saddr = m.daddr;
    sf_addr_parse("2001:db8::2", &m.q_daddr);
    m.type = 2;
    m.mtu = 70000;
    m.q_sport = 49152;
    m.q_dport = 80;
    m.q_seq = 123456;
    uint8_t pkt[256];
    int n = sf_icmp_build(pkt, sizeof pkt, &m);
    CHECK(n == 40 + 8 + 40 + 8 && pkt[6] == 58);
    CHECK(sf_wire_is_icmp(pkt, (size_t)n));
    const char *why = NULL;
    CHECK(sf_icmp_parse(pkt, (size_t)n, &back, &why) == 0);
    CHECK(back.type == 2 && back.mtu == 70000 && back.q_seq == 123456 && back.q_sport == 49152 &&
          sf_addr_eq(back.q_daddr, m.q_daddr) && sf_addr_eq(back.saddr, m.saddr));
    pkt[9] ^= 1; /* the source: the pseudo-header's checksum fails */
    CHECK(sf_icmp_parse(pkt, (size_t)n, &back, &why) == SF_EBADMSG && strstr(why, "ICMP checksum"));
    /* an ICMPv6 message quoting IPv4: none */
    m.q_saddr = sf_addr_v4(0x0a000001);
    CHECK(sf_icmp_build(pkt, sizeof pkt, &m) == SF_EINVAL);
}

int main(void)
{
    test_round_trip_plain();
    test_ipv6();
    test_icmp6();
    test_round_trip_options_payload();
    test_round_trip_large_payload();
    test_build_no_room();
    test_trailing_bytes_ignored();
    test_checksums();
    test_truncations();
    test_ip_header_errors();
    test_ip_options();
    test_tcp_header_errors();
    test_tcp_option_errors();
    test_random_bytes();
    test_flags();
    test_addresses();
    return check_report("wire");
}
