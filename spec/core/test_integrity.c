/* Data integrity under faults: for each seed, two stacks send each other
 * BYTES bytes at once (a stream generated from the seed) over a path that
 * loses 5% of packets, reorders 5% (held back 15 ms), duplicates 2% and
 * corrupts 1% (a byte flipped: the checksum must catch it), with 10 ms of
 * latency and up to 4 ms of jitter; then both close. Every byte read is
 * checked against the stream, both ends must see the end of the stream,
 * both connections must end, and a stall (no byte delivered for 120 s of
 * virtual time) fails with its seed.
 *
 * The seeds vary the settings: SACK, timestamps, window scaling (through
 * the receive buffer) and the tail loss probe each on in some and off in
 * others. Two sf_stack instances driven directly, so that it runs in a
 * second or two even under the sanitizers.
 *
 * INTEGRITY_SEEDS=a-b and INTEGRITY_BYTES=n in the environment override
 * the defaults (seeds 1-20, 16 MiB each way): a longer run, e.g.
 *   INTEGRITY_SEEDS=1-500 INTEGRITY_BYTES=67108864 build/spec/test_integrity */
#include "check.h"
#include "synfin.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC       1000000ULL
#define MS        1000ULL
#define ADDR_A    sf_addr_v4(0xc0000201u) /* 192.0.2.1 */
#define ADDR_B    sf_addr_v4(0xc0000202u) /* 192.0.2.2 */
#define PORT      80
#define LATENCY   (10 * MS)
#define JITTER    (4 * MS)
#define REORDER   (15 * MS)
#define STALL     (120 * SEC)
#define QUEUE_MAX 4096
#define CHUNK     65536

/* per mille */
#define P_LOSS    50
#define P_REORDER 50
#define P_DUP     20
#define P_CORRUPT 10

typedef struct {
    uint64_t at;
    int to;
    size_t len;
    uint8_t data[1600];
} pkt;

typedef struct {
    sf_stack *st[2];
    uint64_t now, rng;
    pkt *q;
    size_t nq;
    uint64_t lost, reordered, duplicated, corrupted, overflow;
} net;

typedef struct {
    net *n;
    int index;
} host_ud;

static bool chance(net *n, unsigned per_mille)
{
    return check_rand(&n->rng) % 1000 < per_mille;
}

static void enqueue(net *n, int to, const uint8_t *data, size_t len, uint64_t delay)
{
    if (n->nq == QUEUE_MAX || len > sizeof n->q[0].data) {
        n->overflow++;
        return;
    }
    pkt *p = &n->q[n->nq++];
    p->at = n->now + delay;
    p->to = to;
    p->len = len;
    memcpy(p->data, data, len);
}

static void emit_cb(void *ud, sf_conn *conn, const uint8_t *data, size_t len)
{
    (void)conn;
    host_ud *h = ud;
    net *n = h->n;
    int to = 1 - h->index;
    if (chance(n, P_LOSS)) {
        n->lost++;
        return;
    }
    uint64_t delay = LATENCY + check_rand(&n->rng) % (JITTER + 1);
    if (chance(n, P_REORDER)) {
        n->reordered++;
        delay += REORDER;
    }
    if (chance(n, P_DUP)) {
        n->duplicated++;
        enqueue(n, to, data, len, delay + check_rand(&n->rng) % (JITTER + 1));
    }
    enqueue(n, to, data, len, delay);
    if (chance(n, P_CORRUPT)) {
        n->corrupted++;
        pkt *p = &n->q[n->nq - 1];
        p->data[check_rand(&n->rng) % p->len] ^= (uint8_t)(1 + check_rand(&n->rng) % 255);
    }
}

static void event_cb(void *ud, const sf_event *ev)
{
    (void)ud;
    (void)ev;
}

/* Byte i of stream `s` (0: a to b, 1: b to a) of this seed. */
static uint8_t stream_byte(uint64_t seed, int s, uint64_t i)
{
    uint64_t x = (seed * 2 + (uint64_t)s) * 0x9e3779b97f4a7c15ULL + (i >> 3);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (uint8_t)(x >> ((i & 7) * 8));
}

typedef struct {
    sf_conn *c;
    uint64_t sent, got;
    bool closed, eof, mismatch;
} end;

/* Writes what the send buffer takes, reads what arrived, checks it. */
static void pump(net *n, end *e, int s, uint64_t seed, uint64_t bytes)
{
    static uint8_t buf[CHUNK];
    sf_conn_info info;
    sf_conn_status(e->c, &info);
    uint64_t room = sf_conn_policy(e->c)->snd_buf - info.snd_queued;
    while (e->sent < bytes && room > 0) {
        uint64_t want = bytes - e->sent < room ? bytes - e->sent : room;
        size_t k = want < CHUNK ? (size_t)want : CHUNK;
        for (size_t i = 0; i < k; i++)
            buf[i] = stream_byte(seed, s, e->sent + i);
        int r = sf_send(e->c, n->now, buf, k);
        if (r <= 0) break;
        e->sent += (uint64_t)r;
        room -= (uint64_t)r;
        if ((size_t)r < k) break;
    }
    if (e->sent == bytes && !e->closed) {
        CHECK(sf_close(e->c, n->now) == SF_OK);
        e->closed = true;
    }
    for (;;) {
        int r = sf_recv(e->c, n->now, buf, sizeof buf);
        if (r == 0) e->eof = true;
        if (r <= 0) break;
        for (int i = 0; i < r; i++)
            if (buf[i] != stream_byte(seed, 1 - s, e->got + (uint64_t)i)) e->mismatch = true;
        e->got += (uint64_t)r;
    }
}

static uint64_t next_time(const net *n)
{
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < n->nq; i++)
        if (n->q[i].at < t) t = n->q[i].at;
    for (int i = 0; i < 2; i++) {
        uint64_t d = sf_stack_deadline(n->st[i]);
        if (d < t) t = d;
    }
    return t;
}

/* Delivers what is due in arrival order (ties in queue order), then timers. */
static void settle(net *n)
{
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < n->nq; i++)
            if (n->q[i].at <= n->now && (best == SIZE_MAX || n->q[i].at < n->q[best].at)) best = i;
        if (best == SIZE_MAX) break;
        pkt p = n->q[best];
        memmove(&n->q[best], &n->q[best + 1], (n->nq - best - 1) * sizeof *n->q);
        n->nq--;
        sf_stack_input(n->st[p.to], n->now, p.data, p.len);
    }
    for (int i = 0; i < 2; i++)
        if (sf_stack_deadline(n->st[i]) <= n->now) sf_stack_poll(n->st[i], n->now);
}

static bool done(const end *a, const end *b)
{
    return a->eof && b->eof && sf_conn_state(a->c) >= SF_CLOSED &&
           (sf_conn_state(a->c) == SF_CLOSED || sf_conn_state(a->c) == SF_TIME_WAIT) &&
           (sf_conn_state(b->c) == SF_CLOSED || sf_conn_state(b->c) == SF_TIME_WAIT);
}

static bool run_seed(uint64_t seed, uint64_t bytes)
{
    net n;
    memset(&n, 0, sizeof n);
    n.rng = seed * 0x2545f4914f6cdd1dULL + 1;
    n.q = malloc(QUEUE_MAX * sizeof *n.q);
    host_ud ud[2] = {{&n, 0}, {&n, 1}};
    sf_callbacks cbs = {emit_cb, event_cb};
    for (int i = 0; i < 2; i++) {
        sf_config cfg;
        sf_config_default(&cfg);
        cfg.addrs[0] = i == 0 ? ADDR_A : ADDR_B;
        cfg.naddrs = 1;
        memset(cfg.secret, (int)(seed + (uint64_t)i), sizeof cfg.secret);
        if (i == 0) {
            cfg.policy.rcv_buf = 65535 + (uint32_t)(seed % 3) * 100000; /* scaling in 2 of 3 */
            cfg.policy.sack = seed % 4 != 0;
            cfg.policy.timestamps = seed % 5 != 0;
        } else {
            cfg.policy.tail_loss_probe = seed % 2 == 0;
        }
        n.st[i] = sf_stack_new(&cfg, &cbs, &ud[i]);
    }
    sf_conn *l = sf_listen(n.st[1], 0, PORT, 0, NULL, NULL);
    end a = {0}, b = {0};
    a.c = sf_connect(n.st[0], 0, NULL, ADDR_B, PORT, 0, NULL, NULL);
    uint64_t last_progress = 0, last_total = 0;
    const char *status = "ok";
    for (;;) {
        if (!b.c) b.c = sf_accept(l);
        if (a.c) pump(&n, &a, 0, seed, bytes);
        if (b.c) pump(&n, &b, 1, seed, bytes);
        if (b.c && done(&a, &b)) break;
        if (a.got + b.got > last_total) {
            last_total = a.got + b.got;
            last_progress = n.now;
        }
        uint64_t t = next_time(&n);
        if (t == UINT64_MAX) {
            status = "nothing left to happen before the end";
            break;
        }
        if (t - last_progress > STALL) {
            status = "STALL";
            break;
        }
        if (t > n.now) n.now = t;
        settle(&n);
    }
    bool ok = strcmp(status, "ok") == 0 && !a.mismatch && !b.mismatch && a.got == bytes &&
              b.got == bytes && n.overflow == 0;
    printf("seed %llu: %s a->b %llu/%llu b->a %llu/%llu%s%s at %.1f s; lost %llu reordered %llu "
           "duplicated %llu corrupted %llu%s\n",
           (unsigned long long)seed, ok ? "ok" : status, (unsigned long long)b.got,
           (unsigned long long)bytes, (unsigned long long)a.got, (unsigned long long)bytes,
           a.mismatch || b.mismatch ? " MISMATCH" : "", n.overflow ? " QUEUE OVERFLOW" : "",
           (double)n.now / SEC, (unsigned long long)n.lost, (unsigned long long)n.reordered,
           (unsigned long long)n.duplicated, (unsigned long long)n.corrupted,
           ok ? "" : " <-- FAILED");
    sf_conn_release(a.c);
    if (b.c) sf_conn_release(b.c);
    sf_conn_release(l);
    sf_stack_free(n.st[0]);
    sf_stack_free(n.st[1]);
    free(n.q);
    return ok;
}

int main(void)
{
    unsigned long long first = 1, last = 20, bytes = 16ULL << 20;
    const char *seeds = getenv("INTEGRITY_SEEDS");
    if (seeds && sscanf(seeds, "%llu-%llu", &first, &last) != 2) last = first;
    const char *b = getenv("INTEGRITY_BYTES");
    if (b) bytes = strtoull(b, NULL, 10);
    for (unsigned long long seed = first; seed <= last; seed++)
        CHECK(run_seed(seed, bytes));
    return check_report("test_integrity");
}
