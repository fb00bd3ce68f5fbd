/* A SYN flood: a million SYNs from spoofed addresses at a listener with the
 * default backlog (128) and SYN cookies (RFC 4987 §3.6) on as by default,
 * over ten seconds of virtual time, while a real client connects. The
 * listener's memory stays bounded (at most backlog half-open connections),
 * the client is established within 3 s of virtual time, and data goes both
 * ways. Then the same with syn_cookies = never: the client is locked out,
 * which is what the cookies are for.
 *
 * Two sf_stack instances driven directly: the flood never goes through Lua
 * or a trace, so what is measured is the core alone.
 * FLOOD_SYNS=N in the environment sets the number of SYNs (default 1000000). */
#include "check.h"
#include "synfin.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEC        1000000ULL
#define MS         1000ULL
#define CLIENT     sf_addr_v4(0xc0000201u) /* 192.0.2.1 */
#define SERVER     sf_addr_v4(0xc0000202u) /* 192.0.2.2 */
#define SPOOF_BASE 0xc6120000u             /* 198.18.0.0/15, RFC 2544's benchmarking range */
#define PORT       80
#define LATENCY    (10 * MS)
#define FLOOD_TIME (10 * SEC)
#define QUEUE_MAX  256

/* A packet in flight between the two real hosts (the spoofed ones answer nothing). */
typedef struct {
    uint64_t at;
    int to;
    size_t len;
    uint8_t data[1600];
} pkt;

typedef struct {
    sf_stack *st[2]; /* 0: client, 1: server */
    uint64_t now;
    pkt q[QUEUE_MAX];
    size_t nq;
    uint64_t to_spoofed, synacks_to_spoofed, lost_queue_full, bad_packets;
    uint64_t server_events;
} net;

typedef struct {
    net *n;
    int index;
} host_ud;

static void emit_cb(void *ud, sf_conn *conn, const uint8_t *data, size_t len)
{
    (void)conn;
    host_ud *h = ud;
    net *n = h->n;
    sf_seg seg;
    if (sf_wire_parse(data, len, &seg, NULL) != 0) {
        n->bad_packets++;
        return;
    }
    int to = sf_addr_eq(seg.daddr, CLIENT) ? 0 : sf_addr_eq(seg.daddr, SERVER) ? 1 : -1;
    if (to < 0) {
        n->to_spoofed++;
        if ((seg.flags & (SF_SYN | SF_ACK)) == (SF_SYN | SF_ACK)) n->synacks_to_spoofed++;
        return;
    }
    if (n->nq == QUEUE_MAX || len > sizeof n->q[0].data) {
        n->lost_queue_full++;
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
    if (h->index == 1) h->n->server_events++;
    (void)ev;
}

static void spoofed_syn(net *n, uint64_t *rs)
{
    uint64_t r = check_rand(rs);
    sf_seg seg;
    memset(&seg, 0, sizeof seg);
    seg.saddr = sf_addr_v4(SPOOF_BASE + (uint32_t)(r & 0x1ffff));
    seg.daddr = SERVER;
    seg.sport = (uint16_t)(1024 + (r >> 17) % 64000);
    seg.dport = PORT;
    seg.seq = (uint32_t)(r >> 32);
    seg.flags = SF_SYN;
    seg.wnd = 65535;
    seg.ttl = 64;
    seg.mss = 1460;
    seg.wscale = (r >> 40) & 1 ? 7 : -1;
    seg.sack_perm = (r >> 41) & 1;
    seg.has_ts = (r >> 42) & 1;
    seg.ts_val = (uint32_t)r;
    uint8_t buf[128];
    int len = sf_wire_build(buf, sizeof buf, &seg);
    if (len <= 0) {
        n->bad_packets++;
        return;
    }
    sf_stack_input(n->st[1], n->now, buf, (size_t)len);
}

static uint64_t next_event(const net *n, uint64_t next_syn)
{
    uint64_t t = next_syn;
    for (size_t i = 0; i < n->nq; i++)
        if (n->q[i].at < t) t = n->q[i].at;
    for (int i = 0; i < 2; i++) {
        uint64_t d = sf_stack_deadline(n->st[i]);
        if (d < t) t = d;
    }
    return t;
}

/* Delivers what is due and runs the timers at n->now. */
static void settle(net *n)
{
    for (size_t i = 0; i < n->nq;) {
        if (n->q[i].at <= n->now) {
            pkt p = n->q[i];
            n->q[i] = n->q[--n->nq]; /* order among simultaneous arrivals does not matter here */
            sf_stack_input(n->st[p.to], n->now, p.data, p.len);
        } else {
            i++;
        }
    }
    for (int i = 0; i < 2; i++)
        if (sf_stack_deadline(n->st[i]) <= n->now) sf_stack_poll(n->st[i], n->now);
}

typedef struct {
    uint64_t established_at; /* when the client got there, 0: never */
    size_t max_conns;        /* the server's connections, at most */
    bool data_both_ways;
    double wall_s;
} result;

static result flood(uint64_t syns, int cookies)
{
    static net n;
    memset(&n, 0, sizeof n);
    host_ud ud[2] = {{&n, 0}, {&n, 1}};
    sf_callbacks cbs = {emit_cb, event_cb};
    sf_config cfg;
    for (int i = 0; i < 2; i++) {
        sf_config_default(&cfg);
        cfg.addrs[0] = i == 0 ? CLIENT : SERVER;
        cfg.naddrs = 1;
        memset(cfg.secret, 0x5a + i, sizeof cfg.secret);
        n.st[i] = sf_stack_new(&cfg, &cbs, &ud[i]);
    }
    sf_policy pol = sf_stack_config(n.st[1])->policy;
    pol.syn_cookies = (uint8_t)cookies;
    sf_conn *l = sf_listen(n.st[1], 0, PORT, 0, &pol, NULL);
    CHECK(l != NULL);

    result res = {0};
    uint64_t rs = 0x9e3779b97f4a7c15ULL, sent = 0;
    uint64_t gap = syns ? FLOOD_TIME / syns : FLOOD_TIME;
    if (gap == 0) gap = 1;
    sf_conn *client = NULL, *server = NULL;
    bool got_ping = false, got_pong = false;
    clock_t t0 = clock();
    const uint64_t connect_at = 1 * SEC, end = FLOOD_TIME + 5 * SEC;
    while (n.now < end) {
        uint64_t next_syn = sent < syns ? sent * gap : UINT64_MAX;
        uint64_t t = next_event(&n, next_syn);
        if (!client && t > connect_at) t = connect_at;
        if (t > end) t = end;
        n.now = t;
        while (sent < syns && sent * gap <= n.now) {
            spoofed_syn(&n, &rs);
            sent++;
        }
        if (!client && n.now >= connect_at) {
            client = sf_connect(n.st[0], n.now, NULL, SERVER, PORT, 0, NULL, NULL);
            CHECK(client != NULL);
        }
        settle(&n);
        size_t conns = sf_stack_conn_count(n.st[1]);
        if (conns > res.max_conns) res.max_conns = conns;
        if (client && !res.established_at && sf_conn_state(client) == SF_ESTABLISHED) {
            res.established_at = n.now;
            CHECK(sf_send(client, n.now, "ping", 4) == 4);
        }
        if (!server && (server = sf_accept(l)) != NULL)
            CHECK(sf_send(server, n.now, "pong", 4) == 4);
        char buf[8];
        if (server && !got_ping)
            got_ping = sf_recv(server, n.now, buf, sizeof buf) == 4 && !memcmp(buf, "ping", 4);
        if (client && !got_pong)
            got_pong = sf_recv(client, n.now, buf, sizeof buf) == 4 && !memcmp(buf, "pong", 4);
        res.data_both_ways = got_ping && got_pong;
    }
    res.wall_s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("  syn_cookies=%s: %llu spoofed SYNs in %.2f s of CPU (%.0f SYNs/s); "
           "%llu SYN-ACKs to spoofed addresses; server connections at most %zu; "
           "client established at %.3f s; data both ways: %s\n",
           cookies == SF_SYN_COOKIES_AUTO ? "auto" : "never", (unsigned long long)sent, res.wall_s,
           res.wall_s > 0 ? (double)sent / res.wall_s : 0.0,
           (unsigned long long)n.synacks_to_spoofed, res.max_conns,
           res.established_at ? (double)res.established_at / SEC : -1.0,
           res.data_both_ways ? "yes" : "no");
    CHECK(n.lost_queue_full == 0);
    CHECK(n.bad_packets == 0);
    if (server) sf_conn_release(server);
    if (client) sf_conn_release(client);
    sf_conn_release(l);
    sf_stack_free(n.st[0]);
    sf_stack_free(n.st[1]);
    return res;
}

int main(void)
{
    const char *env = getenv("FLOOD_SYNS");
    uint64_t syns = env ? strtoull(env, NULL, 10) : 1000000;

    /* cookies on when the queue is full (the default): the client gets in */
    result on = flood(syns, SF_SYN_COOKIES_AUTO);
    CHECK(on.established_at != 0);
    CHECK(on.established_at <= 1 * SEC + 3 * SEC);
    CHECK(on.data_both_ways);
    /* memory bounded: the backlog's half-open connections, the client's */
    CHECK(on.max_conns <= 128 + 1);

    /* without them the SYN queue stays full of spoofed children, each
     * retransmitting its SYN-ACK for minutes, and the client gets nowhere
     * while the flood lasts (what the cookies are for) */
    result off = flood(syns / 10 ? syns / 10 : 1, SF_SYN_COOKIES_NEVER);
    CHECK(off.max_conns <= 128 + 1);
    CHECK(off.established_at == 0 || off.established_at > FLOOD_TIME);
    return check_report("test_flood");
}
