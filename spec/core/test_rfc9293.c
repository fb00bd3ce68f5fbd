/* RFC 9293 Appendix B requirements best checked below the Lua API: the
 * checksum synfin computes, checked by an independent implementation; the
 * encoding of the options it sends; retransmissions that repeat the IPv4
 * identification; IPv4 options and ICMP messages that reach a stack with an
 * established connection. Each check names the requirement IDs it proves in
 * a comment (spec/conformance/check.lua reads them). */
#include "check.h"
#include "synfin.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define IP_HDR     20
#define ADDR_A     sf_addr_v4(0x0a000001u) /* 10.0.0.1, the scripted peer */
#define ADDR_B     sf_addr_v4(0x0a000002u) /* 10.0.0.2, the stack under test */
#define ADDR_ROUTE sf_addr_v4(0x0a0000feu) /* 10.0.0.254, a router sending ICMP */
#define SEC        1000000ULL
#define MAX_CAP    64

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- an independent checksum (RFC 1071, RFC 9293 §3.1) ------------------------------ */

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1) sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* 0 when the IPv4 header checksum of pkt is right. */
static uint16_t ip_check(const uint8_t *pkt)
{
    return fold(sum16(0, pkt, (size_t)(pkt[0] & 0x0f) * 4));
}

/* 0 when the TCP checksum of pkt (pseudo-header, header, data) is right. */
static uint16_t tcp_check(const uint8_t *pkt)
{
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4, tlen = get16(pkt + 2) - ihl;
    uint8_t pseudo[12];
    memcpy(pseudo, pkt + 12, 8); /* source and destination addresses */
    pseudo[8] = 0;
    pseudo[9] = 6;
    put16(pseudo + 10, (uint16_t)tlen);
    return fold(sum16(sum16(0, pseudo, sizeof pseudo), pkt + ihl, tlen));
}

static void fix_ip_checksum(uint8_t *pkt)
{
    put16(pkt + 10, 0);
    put16(pkt + 10, ip_check(pkt));
}

/* ---- one stack under test, fed by hand -------------------------------------------- */

typedef struct {
    uint8_t pkt[MAX_CAP][1600];
    size_t len[MAX_CAP];
    size_t n;         /* packets sent by the stack */
    size_t bad_csum;  /* ... whose TCP or IPv4 checksum the reference rejects */
    size_t errors;    /* SF_EV_ERROR events */
    size_t to_closed; /* state changes to CLOSED */
} capture;

static void emit_cb(void *ud, sf_conn *conn, const uint8_t *pkt, size_t len)
{
    (void)conn;
    capture *k = ud;
    if (ip_check(pkt) != 0 || tcp_check(pkt) != 0) k->bad_csum++;
    if (k->n < MAX_CAP && len <= sizeof k->pkt[0]) {
        memcpy(k->pkt[k->n], pkt, len);
        k->len[k->n] = len;
    }
    k->n++;
}

static void event_cb(void *ud, const sf_event *ev)
{
    capture *k = ud;
    if (ev->type == SF_EV_ERROR) k->errors++;
    if (ev->type == SF_EV_STATE && ev->new_state == SF_CLOSED) k->to_closed++;
}

static sf_stack *stack_new(sf_addr addr, capture *k)
{
    sf_config cfg;
    sf_config_default(&cfg);
    cfg.addrs[0] = addr;
    cfg.naddrs = 1;
    cfg.fixed_isn = 1;
    cfg.isn = 1000;
    sf_callbacks cb = {emit_cb, event_cb};
    memset(k, 0, sizeof *k);
    return sf_stack_new(&cfg, &cb, k);
}

/* A segment from the peer A to B:80. */
static sf_seg from_a(uint32_t seq, uint32_t ack, uint8_t flags, const char *data)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = ADDR_A;
    s.daddr = ADDR_B;
    s.sport = 40000;
    s.dport = 80;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.wnd = 65535;
    s.wscale = -1;
    if (data) {
        s.payload = (const uint8_t *)data;
        s.len = (uint32_t)strlen(data);
    }
    return s;
}

static void feed(sf_stack *st, uint64_t now, const sf_seg *s)
{
    uint8_t buf[1600];
    int n = sf_wire_build(buf, sizeof buf, s);
    CHECK(n > 0);
    if (n > 0) sf_stack_input(st, now, buf, (size_t)n);
}

/* The TCP fields of the i-th packet the stack sent. */
static sf_seg sent(const capture *k, size_t i)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    if (i < k->n && i < MAX_CAP) CHECK(sf_wire_parse(k->pkt[i], k->len[i], &s, NULL) == 0);
    s.payload = NULL;
    return s;
}

/* ---- the checksum synfin computes -------------------------------------------------- */

static void test_checksum_generated(void)
{
    /* MUST-2: every packet sf_wire_build makes carries a TCP checksum (and an
     * IPv4 header checksum) that an independent RFC 1071 implementation over
     * the pseudo-header, the header and the data accepts: odd and even
     * lengths, with and without options, any flags, addresses and ports. */
    static uint8_t data[1461];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    uint8_t buf[1600];
    int built = 0, good = 0;
    for (uint32_t len = 0; len <= sizeof data; len += (len < 64 ? 1 : 97)) {
        for (int opts = 0; opts < 4; opts++) {
            sf_seg s = from_a(0xfffffff0u + len, 0x80000000u ^ len, (uint8_t)(len * 37), NULL);
            s.saddr = sf_addr_v4(0xc0a80000u + len * 7919);
            s.daddr = sf_addr_v4(0x0a000000u ^ (len << 8));
            s.sport = (uint16_t)(1 + len * 13);
            s.dport = (uint16_t)(65535 - len);
            s.wnd = (uint16_t)(len * 997);
            s.urp = (uint16_t)len;
            s.payload = data;
            s.len = len;
            if (opts & 1) s.mss = (uint16_t)(536 + len);
            if (opts & 2) {
                s.sack_perm = 1;
                s.has_ts = 1;
                s.ts_val = len;
                s.wscale = 7;
            }
            int n = sf_wire_build(buf, sizeof buf, &s);
            built++;
            if (n > 0 && tcp_check(buf) == 0 && ip_check(buf) == 0 && get16(buf + 2) == n) good++;
        }
    }
    CHECK(built > 100);
    CHECK(good == built);
}

/* ---- the options synfin sends ------------------------------------------------------- */

static void test_option_encoding(void)
{
    /* MUST-68: every option synfin writes, other than EOL and NOP, has a
     * length byte giving its whole size; MUST-69: the option list fills the
     * header to the data offset exactly (NOP padding in front of options),
     * and anything after an End of Option List would be zeros. All sixteen
     * combinations of MSS, window scale, SACK-permitted and timestamps. */
    for (int combo = 0; combo < 16; combo++) {
        sf_seg s = from_a(1, 0, SF_SYN, NULL);
        if (combo & 1) s.mss = 1460;
        if (combo & 2) s.wscale = 3;
        if (combo & 4) s.sack_perm = 1;
        if (combo & 8) {
            s.has_ts = 1;
            s.ts_val = 0xaabbccdd;
        }
        uint8_t buf[128];
        int n = sf_wire_build(buf, sizeof buf, &s);
        CHECK(n > 0);
        if (n <= 0) continue;
        const uint8_t *tcp = buf + IP_HDR;
        size_t end = (size_t)(tcp[12] >> 4) * 4;
        CHECK(end >= 20 && end % 4 == 0);
        size_t i = 20;
        int seen = 0, lengths_ok = 1, zeros_after_eol = 1;
        while (i < end) {
            uint8_t kind = tcp[i];
            if (kind == 0) {
                for (size_t j = i + 1; j < end; j++)
                    if (tcp[j] != 0) zeros_after_eol = 0;
                i = end;
                break;
            }
            if (kind == 1) {
                i++;
                continue;
            }
            if (i + 1 >= end) {
                lengths_ok = 0;
                break;
            }
            uint8_t olen = tcp[i + 1];
            uint8_t want = kind == 2 ? 4 : kind == 3 ? 3 : kind == 4 ? 2 : kind == 8 ? 10 : 0;
            if (olen != want || i + olen > end) {
                lengths_ok = 0;
                break;
            }
            seen |= kind == 2 ? 1 : kind == 3 ? 2 : kind == 4 ? 4 : 8;
            i += olen;
        }
        CHECK(lengths_ok);
        CHECK(zeros_after_eol);
        CHECK(i == end);      /* nothing dangles past the last option */
        CHECK(seen == combo); /* each option written once, none invented */
    }
}

/* ---- retransmissions ---------------------------------------------------------------- */

static void test_retransmission_same_ip_id(void)
{
    /* MAY-4: a retransmitted segment that is identical to the original is
     * sent with the same IPv4 identification: synfin sends every datagram
     * with DF set and ID 0 (RFC 6864 atomic datagrams), so the SYN and its
     * retransmission are the same packet, byte for byte (without
     * timestamps, whose TSval moves with time, RFC 7323 §3). */
    capture *k = malloc(sizeof *k);
    sf_stack *st = stack_new(ADDR_B, k);
    int err;
    sf_policy pol = sf_stack_config(st)->policy;
    pol.timestamps = 0;
    sf_conn *c = sf_connect(st, 0, NULL, ADDR_A, 80, 5000, &pol, &err);
    CHECK(c && err == SF_OK);
    sf_stack_poll(st, 1 * SEC);
    CHECK(k->n == 2);
    if (k->n == 2) {
        CHECK(k->len[0] == k->len[1]);
        CHECK(memcmp(k->pkt[0], k->pkt[1], k->len[0]) == 0);
        CHECK(get16(k->pkt[0] + 4) == 0 && get16(k->pkt[1] + 4) == 0); /* ID */
        CHECK((get16(k->pkt[1] + 6) & 0x4000) != 0);                   /* DF */
    }
    CHECK(k->bad_csum == 0);
    sf_conn_release(c);
    sf_stack_free(st);
    free(k);
}

/* ---- IPv4 options and ICMP reaching an established connection ------------------------- */

/* The packet for s with `olen` bytes of IPv4 options inserted after the IPv4
 * header (the TCP checksum does not cover them). Returns its length. */
static size_t with_ip_options(uint8_t *out, const sf_seg *s, const uint8_t *opts, size_t olen)
{
    uint8_t buf[1600];
    int n = sf_wire_build(buf, sizeof buf, s);
    memcpy(out, buf, IP_HDR);
    memcpy(out + IP_HDR, opts, olen);
    memcpy(out + IP_HDR + olen, buf + IP_HDR, (size_t)n - IP_HDR);
    out[0] = (uint8_t)(0x40 | (IP_HDR + olen) / 4);
    put16(out + 2, (uint16_t)((size_t)n + olen));
    fix_ip_checksum(out);
    return (size_t)n + olen;
}

/* An ICMP message from a router to B about `orig`, a packet B sent: the
 * ICMP header, then orig's IPv4 header and first 8 bytes of TCP. */
static size_t icmp_about(uint8_t *out, uint8_t type, uint8_t code, const uint8_t *orig)
{
    size_t quote = IP_HDR + 8, icmp_len = 8 + quote;
    memset(out, 0, IP_HDR + icmp_len);
    out[0] = 0x45;
    put16(out + 2, (uint16_t)(IP_HDR + icmp_len));
    out[8] = 64;
    out[9] = 1; /* ICMP */
    memcpy(out + 12, ADDR_ROUTE.b + 12, 4);
    memcpy(out + 16, ADDR_B.b + 12, 4);
    fix_ip_checksum(out);
    uint8_t *icmp = out + IP_HDR;
    icmp[0] = type;
    icmp[1] = code;
    if (type == 12) icmp[4] = 20; /* parameter problem: the pointer */
    memcpy(icmp + 8, orig, quote);
    put16(icmp + 2, fold(sum16(0, icmp, icmp_len)));
    return IP_HDR + icmp_len;
}

static void test_ip_options_and_icmp(void)
{
    capture *k = malloc(sizeof *k);
    sf_stack *st = stack_new(ADDR_B, k);
    int err;
    sf_conn *l = sf_listen(st, 0, 80, 0, NULL, &err);
    CHECK(l && err == SF_OK);

    /* MUST-50: IPv4 options TCP does not understand (Record Route, Timestamp,
     * an unknown option) are ignored: the handshake and the data of segments
     * carrying them are processed as without them. */
    static const uint8_t ip_opts[] = {
        7,    7, 4,    0,    0, 0, 0,    /* Record Route, one empty slot */
        1,                               /* NOP */
        68,   8, 5,    0x00, 0, 0, 0, 0, /* Timestamp, one empty slot */
        0x9e, 4, 0xaa, 0xbb,             /* an option nobody defined */
    };
    uint8_t pkt[1600];
    sf_seg syn = from_a(7000, 0, SF_SYN, NULL);
    syn.mss = 1460;
    sf_stack_input(st, 0, pkt, with_ip_options(pkt, &syn, ip_opts, sizeof ip_opts));
    CHECK(k->n == 1);
    sf_seg synack = sent(k, 0);
    CHECK(synack.flags == (SF_SYN | SF_ACK) && synack.ack == 7001);
    uint32_t iss = synack.seq;
    sf_seg ack = from_a(7001, iss + 1, SF_ACK | SF_PSH, "abc");
    sf_stack_input(st, 0, pkt, with_ip_options(pkt, &ack, ip_opts, sizeof ip_opts));
    sf_conn *c = sf_accept(l);
    CHECK(c != NULL);
    if (!c) {
        sf_stack_free(st);
        free(k);
        return;
    }
    CHECK(sf_conn_state(c) == SF_ESTABLISHED);
    CHECK(k->n == 2 && sent(k, 1).flags == SF_ACK && sent(k, 1).ack == 7004);

    /* MUST-55, MUST-56: ICMP messages about the connection, the soft errors
     * (Destination Unreachable codes 0, 1 and 5, Time Exceeded, Parameter
     * Problem) and a Source Quench, never abort it: nothing is sent, no error
     * reaches the user, the connection stays ESTABLISHED. (They quote our
     * ACK, which has nothing in flight, so RFC 5927 §4.1 does not even
     * believe them; spec/icmp_spec.lua has the ones about data in flight.) */
    static const uint8_t icmp[][2] = {{3, 0},  {3, 1},  {3, 5},  {11, 0}, {11, 1},
                                      {12, 0}, {12, 1}, {12, 2}, {4, 0}};
    size_t before = k->n;
    for (size_t i = 0; i < sizeof icmp / sizeof icmp[0]; i++) {
        size_t n = icmp_about(pkt, icmp[i][0], icmp[i][1], k->pkt[1]);
        sf_stack_input(st, 1 * SEC + i, pkt, n);
    }
    CHECK(k->n == before);
    CHECK(k->errors == 0 && k->to_closed == 0);
    CHECK(sf_conn_state(c) == SF_ESTABLISHED);

    /* and the connection goes on: in-order data is taken and ACKed */
    sf_seg more = from_a(7004, iss + 1, SF_ACK | SF_PSH, "def");
    feed(st, 2 * SEC, &more);
    CHECK(k->n == before + 1);
    CHECK(sent(k, before).ack == 7007);
    char got[16] = {0};
    CHECK(sf_recv(c, 2 * SEC, got, sizeof got) == 6 && memcmp(got, "abcdef", 6) == 0);

    /* every packet the stack sent carried checksums the reference accepts (MUST-2) */
    CHECK(k->bad_csum == 0);
    CHECK(get32(k->pkt[0] + 12) == sf_addr_v4_of(ADDR_B));
    sf_conn_release(c);
    sf_conn_release(l);
    sf_stack_free(st);
    free(k);
}

int main(void)
{
    test_checksum_generated();
    test_option_encoding();
    test_retransmission_same_ip_id();
    test_ip_options_and_icmp();
    return check_report("rfc9293");
}
