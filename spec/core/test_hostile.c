/* test_hostile.c - raw packets the Lua API cannot craft: broken IPv4 and TCP
 * headers, broken options, truncated and fragmented packets, other
 * protocols. Each case takes a real data segment that one stack of an
 * established pair has just sent (or a SYN to a listener), damages it, and
 * hands the damaged copy to the other stack. The stack must say why it
 * dropped it (SF_EV_DROP and its reason), send nothing and change no state;
 * or, where the RFCs say the packet is fine (IP options, TTL 0, link
 * padding, an unknown TCP option), take it. Afterwards the original segment
 * is delivered and the connection carries data both ways, byte-exact.
 *
 * Two sf_stack instances driven directly, as in test_stack.c: a FIFO of
 * packets with a fixed latency and a virtual clock that jumps to the next
 * arrival or deadline. Packets to a third address (the "raw peer") are kept
 * for the checks and delivered nowhere. */
#include "check.h"
#include "synfin.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MS       1000ULL
#define LATENCY  (1 * MS)
#define ADDR_A   sf_addr_v4(0x0a000001u) /* 10.0.0.1: the client */
#define ADDR_B   sf_addr_v4(0x0a000002u) /* 10.0.0.2: the server, port 80 */
#define ADDR_RAW sf_addr_v4(0x0a000003u) /* 10.0.0.3: a raw peer, whose packets are kept */
#define PORT     80
#define QMAX     256
#define PKTMAX   2048
#define KEEPMAX  64

/* ---- bytes ----------------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* The IPv4 header checksum (RFC 791, RFC 1071) over ihl bytes, stored. */
static void ip_checksum(uint8_t *ip, size_t ihl)
{
    put16(ip + 10, 0);
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < ihl; i += 2)
        sum += get16(ip + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(ip + 10, (uint16_t)~sum);
}

/* ---- the network -------------------------------------------------------------------- */

typedef struct {
    uint64_t at;
    int to;
    size_t len;
    uint8_t data[PKTMAX];
} pkt;

typedef struct {
    sf_stack *st[2]; /* 0: A, the client; 1: B, the server */
    sf_conn *listener;
    sf_conn *c[2]; /* the pair's connection on each host (held) */
    uint64_t now;
    pkt q[QMAX];
    size_t nq;
    pkt kept[KEEPMAX]; /* packets to the raw peer */
    size_t nkept;
    /* what each host did: counters, and the last drop's reason */
    uint32_t emitted[2], drops[2], states[2];
    const char *last_drop[2];
    uint32_t lost; /* queue full or packet too big: must stay 0 */
} net;

typedef struct {
    net *n;
    int index;
} host_ud;

static host_ud uds[2];

static void emit_cb(void *ud, sf_conn *conn, const uint8_t *data, size_t len)
{
    (void)conn;
    host_ud *h = ud;
    net *n = h->n;
    n->emitted[h->index]++;
    if (len > PKTMAX || len < 20) {
        n->lost++;
        return;
    }
    sf_addr daddr = sf_addr_v4((uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 |
                               (uint32_t)data[18] << 8 | data[19]);
    if (sf_addr_eq(daddr, ADDR_RAW)) {
        if (n->nkept < KEEPMAX) {
            pkt *p = &n->kept[n->nkept++];
            p->len = len;
            memcpy(p->data, data, len);
        }
        return;
    }
    int to = sf_addr_eq(daddr, ADDR_A) ? 0 : sf_addr_eq(daddr, ADDR_B) ? 1 : -1;
    if (to < 0 || n->nq == QMAX) {
        n->lost++;
        return;
    }
    pkt *p = &n->q[n->nq++];
    p->at = n->now + LATENCY;
    p->to = to;
    p->len = len;
    memcpy(p->data, data, len);
}

static void event_cb(void *ud, const sf_event *ev)
{
    host_ud *h = ud;
    net *n = h->n;
    if (ev->type == SF_EV_DROP) {
        n->drops[h->index]++;
        n->last_drop[h->index] = ev->why;
    } else if (ev->type == SF_EV_STATE) {
        n->states[h->index]++;
    }
}

/* Runs the network until `until` (virtual time), or until nothing is left to do. */
static void run(net *n, uint64_t until)
{
    for (;;) {
        uint64_t next = n->nq ? n->q[0].at : UINT64_MAX;
        for (int i = 0; i < 2; i++) {
            uint64_t d = sf_stack_deadline(n->st[i]);
            if (d < next) next = d;
        }
        if (next == UINT64_MAX || next > until) {
            if (until > n->now) n->now = until;
            return;
        }
        if (next > n->now) n->now = next;
        for (int i = 0; i < 2; i++)
            if (sf_stack_deadline(n->st[i]) <= n->now) sf_stack_poll(n->st[i], n->now);
        while (n->nq && n->q[0].at <= n->now) {
            static pkt p; /* the queue may grow while this one is processed */
            p = n->q[0];
            memmove(n->q, n->q + 1, (n->nq - 1) * sizeof n->q[0]);
            n->nq--;
            sf_stack_input(n->st[p.to], n->now, p.data, p.len);
        }
    }
}

/* Two stacks, B listening, A connected to it: both ESTABLISHED, with
 * timestamps (and window scaling, SACK) on unless ts is false. */
static net *net_established(bool ts)
{
    net *n = calloc(1, sizeof *n);
    sf_callbacks cbs = {emit_cb, event_cb};
    for (int i = 0; i < 2; i++) {
        sf_config cfg;
        sf_config_default(&cfg);
        cfg.addrs[0] = i == 0 ? ADDR_A : ADDR_B;
        cfg.naddrs = 1;
        cfg.secret[0] = (uint8_t)(7 + i);
        cfg.policy.timestamps = ts;
        uds[i].n = n;
        uds[i].index = i;
        n->st[i] = sf_stack_new(&cfg, &cbs, &uds[i]);
    }
    int err = 0;
    n->listener = sf_listen(n->st[1], 0, PORT, 0, NULL, &err);
    n->c[0] = sf_connect(n->st[0], 0, NULL, ADDR_B, PORT, 0, NULL, &err);
    if (n->c[0]) sf_conn_hold(n->c[0]);
    run(n, 100 * MS);
    n->c[1] = n->listener ? sf_accept(n->listener) : NULL;
    CHECK(n->c[0] && n->c[1]);
    CHECK(n->c[0] && sf_conn_state(n->c[0]) == SF_ESTABLISHED);
    CHECK(n->c[1] && sf_conn_state(n->c[1]) == SF_ESTABLISHED);
    return n;
}

static void net_free(net *n)
{
    CHECK(n->lost == 0);
    sf_stack_free(n->st[0]);
    sf_stack_free(n->st[1]);
    free(n);
}

/* Reads everything host h's connection has, appended to buf (NUL-terminated). */
static size_t read_all(net *n, int h, char *buf, size_t cap)
{
    size_t got = strlen(buf);
    for (;;) {
        int r = sf_recv(n->c[h], n->now, buf + got, cap - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    buf[got] = 0;
    return got;
}

/* ---- the cases ----------------------------------------------------------------------- */

static int cases, failed_cases;

/* CHECK, naming the case when it fails. */
#define EXPECT(name, cond)                                                                         \
    do {                                                                                           \
        bool expect_ok_ = (cond);                                                                  \
        CHECK(expect_ok_ &&#cond);                                                                 \
        if (!expect_ok_) fprintf(stderr, "  in case: %s\n", name);                                 \
    } while (0)

/* The pair still carries data both ways: A's "a2b:<name>" and B's
 * "b2a:<name>" arrive byte-exact, everything sent is acknowledged, both
 * are still ESTABLISHED. `b_first` is what B must read before A's message
 * (the case's own segment, delivered after all). */
static void carries_data(net *n, const char *name, const char *b_first)
{
    char a2b[96], b2a[96], want_b[192];
    snprintf(a2b, sizeof a2b, "a2b:%s", name);
    snprintf(b2a, sizeof b2a, "b2a:%s", name);
    snprintf(want_b, sizeof want_b, "%s%s", b_first, a2b);
    EXPECT(name, sf_send(n->c[0], n->now, a2b, strlen(a2b)) == (int)strlen(a2b));
    EXPECT(name, sf_send(n->c[1], n->now, b2a, strlen(b2a)) == (int)strlen(b2a));
    run(n, n->now + 300 * MS);
    char got_a[256] = "", got_b[256] = "";
    read_all(n, 0, got_a, sizeof got_a);
    read_all(n, 1, got_b, sizeof got_b);
    EXPECT(name, strcmp(got_b, want_b) == 0);
    EXPECT(name, strcmp(got_a, b2a) == 0);
    for (int h = 0; h < 2; h++) {
        sf_conn_info i;
        sf_conn_status(n->c[h], &i);
        EXPECT(name, i.state == SF_ESTABLISHED);
        EXPECT(name, i.snd_queued == 0);
    }
}

/* How a case damages A's data segment `p` (len bytes, IPv4 + TCP) in place;
 * returns the new length (the buffer has room for PKTMAX). `seg` is the
 * segment as parsed, its payload pointing into `orig`. */
typedef size_t (*damage_fn)(uint8_t *p, size_t len, const sf_seg *seg);

/* Writes an IPv4 + TCP packet: the IP options and TCP options given
 * verbatim (each a multiple of 4 bytes), the fields of seg, its payload;
 * both checksums right. Returns its length. */
static size_t build_raw(uint8_t *p, const sf_seg *seg, const uint8_t *ipopt, size_t ipolen,
                        const uint8_t *tcpopt, size_t tcpolen)
{
    size_t ihl = 20 + ipolen, thl = 20 + tcpolen, total = ihl + thl + seg->len;
    memset(p, 0, ihl + thl);
    p[0] = (uint8_t)(0x40 | ihl / 4);
    p[1] = seg->tos;
    put16(p + 2, (uint16_t)total);
    put16(p + 6, 0x4000); /* DF */
    p[8] = seg->ttl;
    p[9] = 6;
    put32(p + 12, sf_addr_v4_of(seg->saddr));
    put32(p + 16, sf_addr_v4_of(seg->daddr));
    if (ipolen) memcpy(p + 20, ipopt, ipolen);
    ip_checksum(p, ihl);
    uint8_t *t = p + ihl;
    put16(t, seg->sport);
    put16(t + 2, seg->dport);
    put32(t + 4, seg->seq);
    put32(t + 8, seg->ack);
    t[12] = (uint8_t)(thl / 4 << 4);
    t[13] = seg->flags;
    put16(t + 14, seg->wnd);
    put16(t + 18, seg->urp);
    if (tcpolen) memcpy(t + 20, tcpopt, tcpolen);
    if (seg->len) memcpy(t + thl, seg->payload, seg->len);
    sf_wire_fill_tcp_checksum(p, total);
    return total;
}

/* The timestamps option as A sent it (12 bytes with its two NOPs), or nothing. */
static size_t ts_option(uint8_t *o, const sf_seg *seg)
{
    if (!seg->has_ts) return 0;
    o[0] = 1;
    o[1] = 1;
    o[2] = 8;
    o[3] = 10;
    put32(o + 4, seg->ts_val);
    put32(o + 8, seg->ts_ecr);
    return 12;
}

/* A's segment again, with these TCP options after its timestamps. */
static size_t with_options(uint8_t *p, const sf_seg *seg, const uint8_t *extra, size_t n)
{
    uint8_t o[40];
    size_t k = ts_option(o, seg);
    memcpy(o + k, extra, n);
    return build_raw(p, seg, NULL, 0, o, k + n);
}

/* Sets the TCP data offset (in 32-bit words) and makes the checksum right. */
static size_t set_doff(uint8_t *p, size_t len, uint8_t words)
{
    p[20 + 12] = (uint8_t)(words << 4 | (p[32] & 15));
    sf_wire_fill_tcp_checksum(p, len);
    return len;
}

/* ---- damages --------------------------------------------------------------------------- */

static size_t opt_len_0(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len;
    const uint8_t o[] = {30, 0, 1, 1}; /* an option of length 0 */
    return with_options(p, s, o, sizeof o);
}
static size_t opt_len_1(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len;
    const uint8_t o[] = {3, 1, 1, 1}; /* a window scale option of length 1 */
    return with_options(p, s, o, sizeof o);
}
static size_t opt_past_end(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len;
    const uint8_t o[] = {1, 1, 8, 10}; /* timestamps: 10 bytes, only 2 left */
    return with_options(p, s, o, sizeof o);
}
static size_t opt_no_length(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len;
    const uint8_t o[] = {1, 1, 1, 2}; /* MSS kind in the header's last byte */
    return with_options(p, s, o, sizeof o);
}
static size_t opt_ts_len_8(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len;
    /* the timestamps option alone, 8 bytes long instead of 10 */
    const uint8_t o[] = {1, 1, 8, 8, 0, 0, 0, 1, 0, 0, 1, 1};
    return build_raw(p, s, NULL, 0, o, sizeof o);
}
static size_t opt_mss_len_6(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len;
    const uint8_t o[] = {2, 6, 0, 10, 0, 0, 1, 1}; /* MSS of the wrong length */
    return with_options(p, s, o, sizeof o);
}
static size_t opt_unknown(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len;
    const uint8_t o[] = {254, 4, 0xab, 0xcd}; /* experimental (RFC 6994), not ours */
    return with_options(p, s, o, sizeof o);
}
static size_t opt_max_nops(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len;
    uint8_t o[40];
    memset(o, 1, sizeof o); /* a 60-byte header: the largest, all NOPs */
    return with_options(p, s, o, s->has_ts ? 28 : 40);
}
static size_t doff_4(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    return set_doff(p, len, 4);
}
static size_t doff_0(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    return set_doff(p, len, 0);
}
static size_t doff_15(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len, (void)s;
    put16(p + 2, 60); /* a TCP segment of 40 bytes, claiming a 60-byte header */
    ip_checksum(p, 20);
    return set_doff(p, 60, 15);
}
static size_t ip_total_plus_1(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    put16(p + 2, (uint16_t)(len + 1));
    ip_checksum(p, 20);
    return len;
}
static size_t ip_total_65535(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    put16(p + 2, 65535);
    ip_checksum(p, 20);
    return len;
}
static size_t ip_total_10(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    put16(p + 2, 10); /* less than its own header */
    ip_checksum(p, 20);
    return len;
}
static size_t ip_total_30(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    put16(p + 2, 30); /* ends inside the TCP header */
    ip_checksum(p, 20);
    return len;
}
static size_t ip_total_short(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    put16(p + 2, (uint16_t)(len - 2)); /* cuts the payload's last two bytes */
    ip_checksum(p, 20);
    return len;
}
static size_t link_padding(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    memset(p + len, 0xee, 6); /* bytes past the IP total length (Ethernet padding) */
    return len + 6;
}
static size_t ihl_4(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    p[0] = 0x44;
    ip_checksum(p, 20);
    return len;
}
static size_t ihl_15(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len, (void)s;
    p[0] = 0x4f; /* 60 bytes of IP header in a packet of 52 */
    put16(p + 2, 52);
    ip_checksum(p, 20);
    return 52;
}
static size_t ip_options(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len;
    /* Router Alert (RFC 2113), then a NOP and End of Options List */
    const uint8_t ipo[] = {148, 4, 0, 0, 1, 1, 1, 0};
    uint8_t o[40];
    size_t k = ts_option(o, s);
    return build_raw(p, s, ipo, sizeof ipo, o, k);
}
static size_t version_6(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    p[0] = 0x65;
    ip_checksum(p, 20);
    return len;
}
static size_t version_5(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    p[0] = 0x55;
    ip_checksum(p, 20);
    return len;
}
static size_t more_fragments(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    put16(p + 6, 0x2000); /* MF */
    ip_checksum(p, 20);
    return len;
}
static size_t fragment_offset(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    put16(p + 6, 0x0001); /* offset 8 bytes, last fragment */
    ip_checksum(p, 20);
    return len;
}
static size_t proto_udp(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    p[9] = 17;
    ip_checksum(p, 20);
    return len;
}
static size_t proto_icmp(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    p[9] = 1; /* the TCP segment read as an ICMP message */
    ip_checksum(p, 20);
    return len;
}
static size_t bad_ip_checksum(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    p[11] ^= 0x5a;
    return len;
}
static size_t bad_tcp_checksum(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    p[20 + 16] ^= 0x01;
    return len;
}
static size_t flipped_payload_bit(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    p[len - 1] ^= 0x10; /* corruption in the data: the checksum catches it */
    return len;
}
static size_t ttl_0(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    p[8] = 0;
    ip_checksum(p, 20);
    return len;
}
static size_t other_destination(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    put32(p + 16, 0x0a000063); /* 10.0.0.99 */
    ip_checksum(p, 20);
    sf_wire_fill_tcp_checksum(p, len);
    return len;
}
static size_t broadcast_source(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)s;
    put32(p + 12, 0xffffffff);
    ip_checksum(p, 20);
    sf_wire_fill_tcp_checksum(p, len);
    return len;
}
static size_t size_0(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)p, (void)len, (void)s;
    return 0;
}
static size_t size_1(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)p, (void)len, (void)s;
    return 1;
}
static size_t size_19(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)p, (void)len, (void)s;
    return 19; /* a truncated IPv4 header */
}
static size_t size_20(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len, (void)s;
    put16(p + 2, 20); /* an IPv4 header and nothing else */
    ip_checksum(p, 20);
    return 20;
}
static size_t size_39(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)len, (void)s;
    put16(p + 2, 39); /* 19 bytes of TCP header */
    ip_checksum(p, 20);
    return 39;
}
static size_t truncated_tcp(uint8_t *p, size_t len, const sf_seg *s)
{
    (void)p, (void)len, (void)s;
    return 30; /* cut inside the TCP header, IP total length unchanged */
}

/* ---- the segment cases ------------------------------------------------------------------ */

/* Damages a data segment of A's in flight to B. drop_why: the reason B
 * must give, or NULL when B must take the segment (its payload readable at
 * once). Then the original is delivered and the pair carries data. */
static void segment_case(const char *name, damage_fn damage, const char *drop_why, bool ts)
{
    cases++;
    int before = check_failed;
    net *n = net_established(ts);
    if (!n->c[0] || !n->c[1]) {
        net_free(n);
        return;
    }
    char payload[80];
    snprintf(payload, sizeof payload, "seg:%s", name);
    size_t plen = strlen(payload);
    EXPECT(name, sf_send(n->c[0], n->now, payload, plen) == (int)plen);
    /* take A's segment off the wire */
    EXPECT(name, n->nq > 0 && n->q[n->nq - 1].to == 1);
    if (n->nq == 0) {
        net_free(n);
        return;
    }
    static pkt orig;
    orig = n->q[--n->nq];
    sf_seg seg;
    EXPECT(name, sf_wire_parse(orig.data, orig.len, &seg, NULL) == 0);
    EXPECT(name, seg.len == plen);

    static uint8_t bad[PKTMAX + 64];
    memset(bad, 0, sizeof bad);
    memcpy(bad, orig.data, orig.len);
    size_t blen = damage(bad, orig.len, &seg);

    uint32_t drops = n->drops[1], emitted = n->emitted[1], states = n->states[1];
    sf_stack_input(n->st[1], n->now, blen ? bad : (const uint8_t *)"", blen);
    char got[256] = "";
    read_all(n, 1, got, sizeof got);
    if (drop_why) {
        EXPECT(name, n->drops[1] == drops + 1);
        EXPECT(name, n->last_drop[1] && strcmp(n->last_drop[1], drop_why) == 0);
        if (n->last_drop[1] && strcmp(n->last_drop[1], drop_why) != 0)
            fprintf(stderr, "  dropped with \"%s\", wanted \"%s\"\n", n->last_drop[1], drop_why);
        EXPECT(name, n->emitted[1] == emitted); /* nothing sent */
        EXPECT(name, got[0] == 0);              /* nothing delivered */
    } else {
        EXPECT(name, n->drops[1] == drops);
        if (n->drops[1] != drops) fprintf(stderr, "  dropped with \"%s\"\n", n->last_drop[1]);
        EXPECT(name, strcmp(got, payload) == 0); /* taken, exactly its payload */
    }
    EXPECT(name, n->states[1] == states);
    /* the original arrives after all (a duplicate when the damaged copy was taken) */
    n->q[n->nq++] = orig;
    carries_data(n, name, drop_why ? payload : "");
    net_free(n);
    if (check_failed != before) failed_cases++;
}

/* ---- SYNs with odd options, from a raw peer --------------------------------------------- */

/* The raw peer (10.0.0.3:40000) sends B's listener a SYN with these TCP
 * options. syn_drop: the reason B must drop it with (no SYN-ACK, no
 * child), or NULL: B answers with a SYN-ACK, which `check_synack` checks;
 * the peer completes the handshake and B sends 2000 bytes, whose first
 * segment must carry `first_len` bytes (0: not checked). Then the pair
 * still carries data. */
static void syn_case(const char *name, const uint8_t *opts, size_t olen, const char *syn_drop,
                     uint32_t first_len, bool (*check_synack)(const sf_seg *))
{
    cases++;
    int before = check_failed;
    net *n = net_established(true);
    if (!n->c[0] || !n->c[1]) {
        net_free(n);
        return;
    }
    sf_seg syn;
    memset(&syn, 0, sizeof syn);
    syn.saddr = ADDR_RAW;
    syn.daddr = ADDR_B;
    syn.sport = 40000;
    syn.dport = PORT;
    syn.seq = 1000;
    syn.flags = SF_SYN;
    syn.wnd = 65535;
    syn.ttl = 64;
    syn.wscale = -1;
    uint8_t p[PKTMAX];
    size_t len = build_raw(p, &syn, NULL, 0, opts, olen);
    uint32_t drops = n->drops[1];
    size_t conns = sf_stack_conn_count(n->st[1]);
    n->nkept = 0;
    sf_stack_input(n->st[1], n->now, p, len);
    if (syn_drop) {
        EXPECT(name, n->drops[1] == drops + 1);
        EXPECT(name, n->last_drop[1] && strcmp(n->last_drop[1], syn_drop) == 0);
        EXPECT(name, n->nkept == 0);
        EXPECT(name, sf_stack_conn_count(n->st[1]) == conns);
    } else {
        sf_seg sa;
        EXPECT(name,
               n->nkept == 1 && sf_wire_parse(n->kept[0].data, n->kept[0].len, &sa, NULL) == 0);
        if (n->nkept != 1) {
            net_free(n);
            return;
        }
        EXPECT(name, sa.flags == (SF_SYN | SF_ACK) && sa.ack == 1001);
        if (check_synack) EXPECT(name, check_synack(&sa));
        /* the handshake's ACK, with timestamps if both SYNs had them */
        sf_seg ack = syn;
        ack.flags = SF_ACK;
        ack.seq = 1001;
        ack.ack = sa.seq + 1;
        uint8_t o[12];
        size_t k = 0;
        if (sa.has_ts) {
            ack.has_ts = 1;
            ack.ts_val = 2;
            ack.ts_ecr = sa.ts_val;
            k = ts_option(o, &ack);
        }
        len = build_raw(p, &ack, NULL, 0, o, k);
        sf_stack_input(n->st[1], n->now, p, len);
        sf_conn *c = sf_accept(n->listener);
        EXPECT(name, c && sf_conn_state(c) == SF_ESTABLISHED);
        if (c && first_len) {
            static char bulk[2000];
            memset(bulk, 'r', sizeof bulk);
            n->nkept = 0;
            EXPECT(name, sf_send(c, n->now, bulk, sizeof bulk) == (int)sizeof bulk);
            sf_seg d;
            EXPECT(name,
                   n->nkept >= 1 && sf_wire_parse(n->kept[0].data, n->kept[0].len, &d, NULL) == 0);
            EXPECT(name, n->nkept >= 1 && d.len == first_len);
            if (n->nkept >= 1 && d.len != first_len)
                fprintf(stderr, "  first segment of %u bytes, wanted %u\n", d.len, first_len);
        }
        if (c) sf_abort(c, n->now); /* done with the raw peer */
        if (c) sf_conn_release(c);
    }
    carries_data(n, name, "");
    net_free(n);
    if (check_failed != before) failed_cases++;
}

static bool no_wscale(const sf_seg *sa)
{
    return sa->wscale < 0;
}
static bool no_sack_perm(const sf_seg *sa)
{
    return !sa->sack_perm;
}

int main(void)
{
    const bool TS = true;
    /* TCP options (RFC 9293 §3.2, MUST-7: an illegal length is handled) */
    segment_case("option length 0", opt_len_0, "malformed TCP option length", TS);
    segment_case("option length 1", opt_len_1, "malformed TCP option length", TS);
    segment_case("option running past the header end", opt_past_end, "malformed TCP option length",
                 TS);
    segment_case("option kind in the last byte, no length", opt_no_length,
                 "malformed TCP option length", TS);
    segment_case("option length 0, no timestamps", opt_len_0, "malformed TCP option length", !TS);
    /* RFC 7323 §3.2: timestamps agreed, the option malformed is no option */
    segment_case("timestamps option of length 8", opt_ts_len_8,
                 "no timestamp (RFC 7323 §3.2): dropped", TS);
    /* options that are well formed but not ours, or not for this segment:
     * ignored (MUST-6), the segment taken */
    segment_case("MSS option of length 6 on a data segment", opt_mss_len_6, NULL, TS);
    segment_case("unknown option kind 254", opt_unknown, NULL, TS);
    segment_case("60-byte TCP header of NOPs", opt_max_nops, NULL, TS);
    /* the data offset */
    segment_case("data offset 4", doff_4, "TCP data offset out of range", TS);
    segment_case("data offset 0", doff_0, "TCP data offset out of range", TS);
    segment_case("data offset beyond the packet", doff_15, "TCP data offset out of range", TS);
    /* IPv4 lengths (RFC 791) */
    segment_case("IP total length one more than the buffer", ip_total_plus_1,
                 "bad IPv4 header or total length", TS);
    segment_case("IP total length 65535", ip_total_65535, "bad IPv4 header or total length", TS);
    segment_case("IP total length below the IP header", ip_total_10,
                 "bad IPv4 header or total length", TS);
    segment_case("IP total length inside the TCP header", ip_total_30,
                 "segment shorter than a TCP header", TS);
    segment_case("IP total length cutting the payload", ip_total_short, "bad TCP checksum", TS);
    segment_case("bytes past the IP total length (link padding)", link_padding, NULL, TS);
    segment_case("IP header length 4", ihl_4, "bad IPv4 header or total length", TS);
    segment_case("IP header length 15, past the packet", ihl_15, "bad IPv4 header or total length",
                 TS);
    /* RFC 1122 §3.2.1.8: IP options are passed over; the segment is TCP's */
    segment_case("IP options (Router Alert, NOP, EOL)", ip_options, NULL, TS);
    /* read as IPv6: its byte 6 (IPv4's flags, DF) is the next header, 64: unknown */
    segment_case("IP version 6 in an IPv4 header", version_6,
                 "IPv6 next header not understood (or Hop-by-Hop not first)", TS);
    segment_case("IP version 5", version_5, "neither IPv4 nor IPv6", TS);
    segment_case("truncated IP header (19 bytes)", size_19, "packet shorter than an IPv4 header",
                 TS);
    segment_case("truncated TCP header (30 bytes, total length 60+)", truncated_tcp,
                 "bad IPv4 header or total length", TS);
    /* fragments are not reassembled */
    segment_case("IP fragment, more fragments set", more_fragments,
                 "IPv4 fragment (reassembly not supported)", TS);
    segment_case("IP fragment, offset 8", fragment_offset,
                 "IPv4 fragment (reassembly not supported)", TS);
    /* other protocols */
    segment_case("protocol 17 (UDP)", proto_udp, "not TCP", TS);
    segment_case("protocol 1 (ICMP) around a TCP segment", proto_icmp, "bad ICMP checksum", TS);
    /* checksums (MUST-2, MUST-3) */
    segment_case("bad IP header checksum", bad_ip_checksum, "bad IPv4 header checksum", TS);
    segment_case("bad TCP checksum", bad_tcp_checksum, "bad TCP checksum", TS);
    segment_case("one bit flipped in the payload", flipped_payload_bit, "bad TCP checksum", TS);
    /* sizes */
    segment_case("a packet of 0 bytes", size_0, "packet shorter than an IPv4 header", TS);
    segment_case("a packet of 1 byte", size_1, "packet shorter than an IPv4 header", TS);
    segment_case("a packet of 20 bytes (IP header alone)", size_20,
                 "segment shorter than a TCP header", TS);
    segment_case("a packet of 39 bytes", size_39, "segment shorter than a TCP header", TS);
    /* RFC 1122 §3.2.1.7: "MUST NOT discard a datagram just because it was
     * received with TTL less than 2" */
    segment_case("TTL 0", ttl_0, NULL, TS);
    /* addresses (MUST-57, MUST-63) */
    segment_case("addressed to another host", other_destination, "not addressed to this host", TS);
    segment_case("from the broadcast address", broadcast_source,
                 "source address not unicast: ignored", TS);

    /* SYNs with odd options to a listener. An MSS of 0 or of the wrong
     * length is no MSS: 536 (RFC 9293 §3.7.1, MUST-15), less the 12 bytes
     * of timestamps when they are on (RFC 6691); Linux ignores them alike */
    const uint8_t mss0[] = {2, 4, 0, 0};
    const uint8_t mss0_ts[] = {2, 4, 0, 0, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0};
    const uint8_t mss_len6[] = {2, 6, 0, 100, 0, 0, 1, 1};
    const uint8_t mss_len3[] = {2, 3, 0, 1};
    const uint8_t ws_len4[] = {3, 4, 7, 0};
    const uint8_t sackp_len3[] = {4, 3, 0, 1};
    const uint8_t syn_len0[] = {2, 4, 5, 180, 30, 0, 1, 1};
    syn_case("SYN with MSS 0", mss0, sizeof mss0, NULL, 536, NULL);
    syn_case("SYN with MSS 0 and timestamps", mss0_ts, sizeof mss0_ts, NULL, 524, NULL);
    syn_case("SYN with an MSS option of length 6", mss_len6, sizeof mss_len6, NULL, 536, NULL);
    syn_case("SYN with an MSS option of length 3", mss_len3, sizeof mss_len3, NULL, 536, NULL);
    syn_case("SYN with a window scale option of length 4", ws_len4, sizeof ws_len4, NULL, 0,
             no_wscale);
    syn_case("SYN with a SACK-permitted option of length 3", sackp_len3, sizeof sackp_len3, NULL, 0,
             no_sack_perm);
    syn_case("SYN with an option of length 0", syn_len0, sizeof syn_len0,
             "malformed TCP option length", 0, NULL);

    printf("test_hostile: %d cases, %d failed\n", cases, failed_cases);
    return check_report("test_hostile");
}
