/* The sim driver: two hosts over a link with latency and
 * seeded loss. The same seed gives the same trace, record for record and byte
 * for byte; loss is repaired by retransmission; hook verdicts and injected
 * segments have their fates recorded. */
#include "check.h"
#include "io/sim.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEC     1000000ULL
#define MS      1000ULL
#define ADDR_A  sf_addr_v4(0x0a000001u)
#define ADDR_B  sf_addr_v4(0x0a000002u)
#define ADDR_P  sf_addr_v4(0x0a000003u) /* a bare peer */
#define NOWHERE sf_addr_v4(0x0a000063u) /* 10.0.0.99: no host */
#define LATENCY (5 * MS)

/* ---- a transfer from host A to host B, then a close --------------------------------- */

typedef struct {
    sf_sim *sim;
    int a, b;
    sf_conn *listener, *client, *server;
    uint64_t to_send, sent, received;
    bool data_ok, eof, client_closed, server_closed;
    int user_errors;
} xfer;

static uint8_t byte_at(uint64_t i)
{
    return (uint8_t)(i * 13 + (i >> 9));
}

static void xfer_setup(xfer *x, uint64_t seed, double loss, uint64_t bytes)
{
    memset(x, 0, sizeof *x);
    x->sim = sf_sim_new(seed);
    sf_link link = {.latency = LATENCY, .loss = loss};
    sf_sim_set_link(x->sim, &link);
    sf_config cfg;
    sf_config_default(&cfg);
    x->a = sf_sim_add_host(x->sim, (sf_addr[]){ADDR_A}, 1, &cfg);
    cfg.secret[0] ^= 0xab; /* another ISN key */
    x->b = sf_sim_add_host(x->sim, (sf_addr[]){ADDR_B}, 1, &cfg);
    x->to_send = bytes;
    x->data_ok = true;
    int err;
    x->listener = sf_listen(sf_sim_stack(x->sim, x->b), 0, 80, 0, NULL, &err);
    sf_sim_flush(x->sim, x->b);
    x->client = sf_connect(sf_sim_stack(x->sim, x->a), 0, NULL, ADDR_B, 80, 0, NULL, &err);
    sf_sim_flush(x->sim, x->a);
}

/* The application, between instants: accept, send, read, close. */
static void xfer_app(xfer *x)
{
    sf_sim *sim = x->sim;
    uint64_t now = sf_sim_now(sim);
    if (!x->server && x->listener) x->server = sf_accept(x->listener);
    if (x->client && sf_conn_state(x->client) == SF_ESTABLISHED) {
        while (x->sent < x->to_send) {
            uint8_t buf[2048];
            uint64_t left = x->to_send - x->sent;
            uint32_t k = left < sizeof buf ? (uint32_t)left : (uint32_t)sizeof buf;
            for (uint32_t i = 0; i < k; i++)
                buf[i] = byte_at(x->sent + i);
            int r = sf_send(x->client, now, buf, k);
            sf_sim_flush(sim, x->a);
            if (r <= 0) break;
            x->sent += (uint64_t)r;
        }
        if (x->sent == x->to_send && !x->client_closed) {
            if (sf_close(x->client, now) != SF_OK) x->user_errors++;
            sf_sim_flush(sim, x->a);
            x->client_closed = true;
        }
    }
    if (x->server && !x->server_closed) {
        for (;;) {
            uint8_t buf[3000];
            int r = sf_recv(x->server, now, buf, sizeof buf);
            sf_sim_flush(sim, x->b); /* a window update may go out */
            if (r == SF_EAGAIN) break;
            if (r == 0) {
                x->eof = true;
                if (sf_close(x->server, now) != SF_OK) x->user_errors++;
                sf_sim_flush(sim, x->b);
                x->server_closed = true;
                break;
            }
            if (r < 0) {
                x->user_errors++;
                break;
            }
            for (int i = 0; i < r; i++)
                if (buf[i] != byte_at(x->received + (uint64_t)i)) x->data_ok = false;
            x->received += (uint64_t)r;
        }
    }
}

/* Steps until nothing is pending or the clock would pass limit. */
static long xfer_run(xfer *x, uint64_t limit)
{
    long steps = 0;
    xfer_app(x);
    while (steps < 5000000 && sf_sim_step(x->sim, limit)) {
        steps++;
        xfer_app(x);
    }
    return steps;
}

static bool xfer_done(const xfer *x)
{
    return x->received == x->to_send && x->data_ok && x->eof && x->client &&
           sf_conn_state(x->client) == SF_CLOSED && x->server &&
           sf_conn_state(x->server) == SF_CLOSED && x->user_errors == 0;
}

static void xfer_free(xfer *x)
{
    sf_sim_free(x->sim);
}

static size_t count_fate(sf_trace *t, sf_fate fate)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += sf_trace_at(t, (long)i)->kind == SF_TR_SEG && sf_trace_at(t, (long)i)->fate == fate;
    return n;
}

/* ---- determinism ----------------------------------------------------------------------- */

/* Two records are the same in every field but the `why` pointer, whose text
 * must be the same. */
static bool same_rec(const sf_trace_rec *a, const sf_trace_rec *b)
{
    bool why_same = (a->why == NULL) == (b->why == NULL) && (!a->why || !strcmp(a->why, b->why));
    return a->time == b->time && a->arrival == b->arrival && a->delay == b->delay &&
           a->kind == b->kind && a->fate == b->fate && a->flags == b->flags &&
           a->cause == b->cause && a->old_state == b->old_state && a->new_state == b->new_state &&
           a->injected == b->injected && a->host == b->host && a->to_host == b->to_host &&
           a->conn_id == b->conn_id && sf_addr_eq(a->saddr, b->saddr) &&
           sf_addr_eq(a->daddr, b->daddr) && a->sport == b->sport && a->dport == b->dport &&
           a->seq == b->seq && a->ack == b->ack && a->wnd == b->wnd && a->mss == b->mss &&
           a->wscale == b->wscale && a->sack_perm == b->sack_perm && a->has_ts == b->has_ts &&
           a->len == b->len && a->seg_no == b->seg_no && a->hook_id == b->hook_id &&
           a->text_off == b->text_off && a->text_len == b->text_len && why_same;
}

/* Two traces are the same, record for record and byte for byte; when
 * `say` is set, the first difference is named. */
static bool same_trace(sf_trace *a, sf_trace *b, bool say)
{
    if (a->n != b->n || a->segs != b->segs || a->arena_len != b->arena_len) {
        if (say) fprintf(stderr, "  traces differ: %zu and %zu records\n", a->n, b->n);
        return false;
    }
    for (size_t i = 0; i < a->n; i++)
        if (!same_rec(sf_trace_at(a, (long)i), sf_trace_at(b, (long)i))) {
            if (say) fprintf(stderr, "  traces differ at record %zu\n", i);
            return false;
        }
    return a->arena_len == 0 || memcmp(a->arena, b->arena, a->arena_len) == 0;
}

static void test_same_seed_same_trace(void)
{
    xfer x, y, z;
    xfer_setup(&x, 1234, 0.1, 40000);
    xfer_setup(&y, 1234, 0.1, 40000);
    xfer_setup(&z, 1235, 0.1, 40000);
    xfer_run(&x, UINT64_MAX);
    xfer_run(&y, UINT64_MAX);
    xfer_run(&z, UINT64_MAX);
    CHECK(xfer_done(&x) && xfer_done(&y) && xfer_done(&z));
    sf_trace *tx = sf_sim_trace(x.sim), *ty = sf_sim_trace(y.sim), *tz = sf_sim_trace(z.sim);
    CHECK(tx->n > 50);
    CHECK(tx->arena_len >= 40000); /* the payload bytes are kept */
    CHECK(same_trace(tx, ty, true));
    CHECK(sf_sim_now(x.sim) == sf_sim_now(y.sim));
    /* another seed loses other segments */
    CHECK(!same_trace(tx, tz, false));
    printf("seed 1234: %zu records, %u segments, %zu lost; seed 1235: %zu lost\n", tx->n, tx->segs,
           count_fate(tx, SF_FATE_LOST), count_fate(tz, SF_FATE_LOST));
    xfer_free(&x);
    xfer_free(&y);
    xfer_free(&z);

    /* without loss: every segment is delivered one latency after it left */
    xfer_setup(&x, 1, 0.0, 10000);
    xfer_run(&x, UINT64_MAX);
    CHECK(xfer_done(&x));
    tx = sf_sim_trace(x.sim);
    size_t segs = 0, on_time = 0;
    for (size_t i = 0; i < tx->n; i++) {
        const sf_trace_rec *r = sf_trace_at(tx, (long)i);
        if (r->kind != SF_TR_SEG) continue;
        segs++;
        on_time += r->fate == SF_FATE_DELIVERED && r->arrival == r->time + LATENCY;
    }
    CHECK(segs == tx->segs && on_time == segs);
    xfer_free(&x);
}

/* ---- loss ---------------------------------------------------------------------------------- */

static void test_loss_repaired(void)
{
    /* RFC 9293 §3.8.1: what is lost is retransmitted until acknowledged */
    xfer x, y;
    xfer_setup(&x, 77, 0.3, 50000);
    xfer_setup(&y, 77, 0.3, 50000);
    xfer_run(&x, 24 * 3600 * SEC);
    xfer_run(&y, 24 * 3600 * SEC);
    CHECK(x.received == 50000);
    CHECK(x.data_ok);
    CHECK(xfer_done(&x));
    if (!xfer_done(&x))
        fprintf(stderr, "  loss 0.3: received %llu of 50000, client %s, server %s at %llu us\n",
                (unsigned long long)x.received,
                x.client ? sf_state_name(sf_conn_state(x.client)) : "-",
                x.server ? sf_state_name(sf_conn_state(x.server)) : "-",
                (unsigned long long)sf_sim_now(x.sim));
    sf_trace *tx = sf_sim_trace(x.sim), *ty = sf_sim_trace(y.sim);
    size_t lost = count_fate(tx, SF_FATE_LOST);
    CHECK(lost > 0);
    CHECK(lost == count_fate(ty, SF_FATE_LOST)); /* seeded: the same segments */
    CHECK(same_trace(tx, ty, true));
    /* roughly 30% of segments are lost */
    CHECK(lost * 100 > tx->segs * 20 && lost * 100 < tx->segs * 40);
    if (x.client) {
        sf_conn_info info;
        sf_conn_status(x.client, &info);
        CHECK(info.retransmits > 0);
        printf("loss 0.3: %u segments, %zu lost, %u retransmitted by the sender, last event at "
               "%.3f s\n",
               tx->segs, lost, info.retransmits,
               (double)sf_trace_at(tx, (long)tx->n - 1)->time / SEC);
    }
    xfer_free(&x);
    xfer_free(&y);
}

/* ---- hooks in the pipeline ------------------------------------------------------------------- */

typedef struct {
    sf_verdict_kind kind;
    uint64_t delay;
    int fail;
    int calls;
    uint32_t last_seg_no;
    int last_state;
} hook_arg;

static int hook_fn(void *ud, const sf_hook_ctx *ctx, sf_verdict *v)
{
    hook_arg *h = ud;
    h->calls++;
    h->last_seg_no = ctx->seg_no;
    h->last_state = ctx->state;
    if (h->fail) return 1;
    v->kind = h->kind;
    v->delay = h->delay;
    return 0;
}

/* The first segment record from `host` with exactly these flags, or NULL. */
static const sf_trace_rec *find_seg(sf_trace *t, int host, uint8_t flags, size_t nth)
{
    for (size_t i = 0; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->kind == SF_TR_SEG && r->host == host && r->flags == flags && nth-- == 0) return r;
    }
    return NULL;
}

/* The nth segment record from `host` with all of `flags` set, or NULL. */
static const sf_trace_rec *find_seg_with(sf_trace *t, int host, uint8_t flags, size_t nth)
{
    for (size_t i = 0; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->kind == SF_TR_SEG && r->host == host && (r->flags & flags) == flags && nth-- == 0)
            return r;
    }
    return NULL;
}

/* The first segment record after `after` from `host` with (flags & mask) ==
 * value and, when seq is not 0, that sequence number. */
static const sf_trace_rec *find_later(sf_trace *t, const sf_trace_rec *after, int host,
                                      uint8_t mask, uint8_t value, uint32_t seq)
{
    size_t from = 0;
    while (from < t->n && sf_trace_at(t, (long)from) != after)
        from++;
    for (size_t i = from + 1; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->kind == SF_TR_SEG && r->host == host && (r->flags & mask) == value &&
            (!seq || r->seq == seq))
            return r;
    }
    return NULL;
}

static void test_hook_fates(void)
{
    xfer x;
    xfer_setup(&x, 5, 0.0, 3000);
    /* xfer_setup already sent the SYN: hooks added now see what follows */
    sf_trace *t = sf_sim_trace(x.sim);
    CHECK(t->n >= 1);

    /* host B delays its SYN-ACK by 30 ms on egress */
    sf_filter f;
    sf_filter_init(&f);
    CHECK(sf_filter_flags(&f, "=SA") == SF_OK);
    hook_arg delay = {.kind = SF_DELAY, .delay = 30 * MS};
    sf_hook *kd = sf_hooks_add(sf_sim_hooks(x.sim, x.b), SF_EGRESS, &f, hook_fn, &delay, NULL);
    /* host A drops its first data segment on egress */
    sf_filter_init(&f);
    CHECK(sf_filter_flags(&f, "P") == SF_OK);
    f.count = 1;
    hook_arg drop = {.kind = SF_DROP};
    sf_hook *kx = sf_hooks_add(sf_sim_hooks(x.sim, x.a), SF_EGRESS, &f, hook_fn, &drop, NULL);
    /* host B drops the first FIN it receives, on ingress */
    sf_filter_init(&f);
    CHECK(sf_filter_flags(&f, "F") == SF_OK);
    f.count = 1;
    hook_arg drop_in = {.kind = SF_DROP};
    sf_hook *ki = sf_hooks_add(sf_sim_hooks(x.sim, x.b), SF_INGRESS, &f, hook_fn, &drop_in, NULL);
    /* host A delays every pure ACK it receives by 1 ms, on ingress */
    sf_filter_init(&f);
    CHECK(sf_filter_flags(&f, "=A") == SF_OK);
    hook_arg delay_in = {.kind = SF_DELAY, .delay = 1 * MS};
    sf_hook *kj = sf_hooks_add(sf_sim_hooks(x.sim, x.a), SF_INGRESS, &f, hook_fn, &delay_in, NULL);
    /* a failing hook on host A's egress: everything passes, failures counted */
    sf_filter_init(&f);
    f.count = 2;
    hook_arg failing = {.fail = 1};
    sf_hooks_add(sf_sim_hooks(x.sim, x.a), SF_EGRESS, &f, hook_fn, &failing, NULL);

    xfer_run(&x, UINT64_MAX);
    CHECK(xfer_done(&x));

    const sf_trace_rec *synack = find_seg(t, x.b, SF_SYN | SF_ACK, 0);
    CHECK(synack != NULL);
    if (synack) {
        CHECK(synack->fate == SF_FATE_DELIVERED);
        CHECK(synack->delay == 30 * MS && synack->hook_id == kd->id);
        CHECK(synack->arrival == synack->time + 30 * MS + LATENCY);
    }
    CHECK(delay.calls == 1 && kd->delayed == 1);

    /* the dropped data segment never reached the wire; a retransmission
     * from the same sequence number did (RFC 9293 §3.8.1) */
    const sf_trace_rec *d1 = find_seg_with(t, x.a, SF_PSH, 0);
    const sf_trace_rec *d2 = d1 ? find_later(t, d1, x.a, 0, 0, d1->seq) : NULL;
    CHECK(d1 && d2);
    if (d1 && d2) {
        CHECK(d1->fate == SF_FATE_DROPPED_EGRESS && d1->hook_id == kx->id && d1->len > 0);
        CHECK(d2->fate == SF_FATE_DELIVERED && d2->len > 0 && d2->hook_id == 0);
        /* after an RTO: the linux profile's, SRTT plus a variance term of
         * at least rto_min, 200 ms (tcp_rtt_estimator, __tcp_set_rto) */
        CHECK(d2->time >= d1->time + 200 * MS);
        CHECK(drop.last_state == SF_ESTABLISHED); /* the sender's state, as sent */
    }
    CHECK(kx->fired == 1 && kx->dropped == 1);

    /* the FIN dropped on arrival at B, retransmitted (perhaps with data
     * before it), then delivered */
    const sf_trace_rec *f1 = find_seg_with(t, x.a, SF_FIN, 0);
    const sf_trace_rec *f2 = f1 ? find_later(t, f1, x.a, SF_FIN, SF_FIN, 0) : NULL;
    CHECK(f1 && f2);
    if (f1 && f2) {
        CHECK(f1->fate == SF_FATE_DROPPED_INGRESS && f1->hook_id == ki->id);
        CHECK(f1->arrival == f1->time + LATENCY);
        CHECK(f2->fate == SF_FATE_DELIVERED && f2->seq + f2->len == f1->seq + f1->len);
        CHECK(drop_in.last_state == SF_ESTABLISHED); /* B's state before processing it */
        CHECK(drop_in.last_seg_no == f1->seg_no);    /* hooks see the trace's number */
    }
    CHECK(ki->dropped == 1);

    /* pure ACKs to A were held 1 ms on arrival */
    size_t acks = 0, held = 0;
    for (size_t i = 0; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->kind != SF_TR_SEG || r->host != x.b || r->flags != SF_ACK) continue;
        acks++;
        held += r->delay == 1 * MS && r->hook_id == kj->id && r->fate == SF_FATE_DELIVERED &&
                r->arrival == r->time + LATENCY + 1 * MS;
    }
    CHECK(acks > 0 && held == acks);
    CHECK(kj->delayed == acks);

    CHECK(failing.calls == 2);
    CHECK(sf_sim_hook_failures(x.sim) == 2);
    xfer_free(&x);
}

/* ---- injection and addresses nobody has ---------------------------------------------------------
 */

static sf_seg crafted(sf_addr saddr, sf_addr daddr, uint16_t dport, uint8_t flags)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = saddr;
    s.daddr = daddr;
    s.sport = 33333;
    s.dport = dport;
    s.seq = 1000;
    s.flags = flags;
    s.wnd = 512;
    s.wscale = -1;
    return s;
}

/* Steps the sim for `span` microseconds of virtual time. */
static void run_for(sf_sim *sim, uint64_t span)
{
    uint64_t limit = sf_sim_now(sim) + span;
    while (sf_sim_step(sim, limit)) {
    }
}

static void test_inject(void)
{
    sf_sim *sim = sf_sim_new(9);
    sf_link link = {.latency = LATENCY};
    sf_sim_set_link(sim, &link);
    sf_config cfg;
    sf_config_default(&cfg);
    int b = sf_sim_add_host(sim, (sf_addr[]){ADDR_B}, 1, &cfg);
    int p = sf_sim_add_host(sim, (sf_addr[]){ADDR_P}, 1, NULL); /* bare peer: no TCP */
    CHECK(b == 0 && p == 1);
    CHECK(sf_sim_add_host(sim, (sf_addr[]){ADDR_B}, 1, &cfg) == SF_EADDRINUSE);
    CHECK(sf_sim_host_count(sim) == 2);
    CHECK(sf_sim_stack(sim, p) == NULL && sf_sim_stack(sim, b) != NULL);
    CHECK(sf_sim_host_of(sim, ADDR_P) == p && sf_sim_host_of(sim, NOWHERE) == -1);
    CHECK(sf_addr_eq(sf_sim_host_addr(sim, b), ADDR_B));
    sf_trace *t = sf_sim_trace(sim);
    int err;
    sf_conn *l = sf_listen(sf_sim_stack(sim, b), 0, 80, 0, NULL, &err);
    CHECK(l != NULL);

    /* egress: as if the bare peer sent a SYN; it crosses the link to B,
     * which answers with a SYN-ACK that the peer only records */
    sf_seg syn = crafted(ADDR_P, ADDR_B, 80, SF_SYN);
    syn.mss = 1000;
    CHECK(sf_sim_inject(sim, p, SF_EGRESS, &syn) == SF_OK);
    run_for(sim, 100 * MS);
    const sf_trace_rec *r = find_seg(t, p, SF_SYN, 0);
    CHECK(r && r->injected && r->to_host == b && r->fate == SF_FATE_DELIVERED);
    CHECK(r && r->arrival == r->time + LATENCY && r->mss == 1000);
    const sf_trace_rec *sa = find_seg(t, b, SF_SYN | SF_ACK, 0);
    CHECK(sa && !sa->injected && sa->to_host == p && sa->ack == 1001);
    CHECK(sa && sa->fate == SF_FATE_DELIVERED); /* recorded at the bare peer */

    /* ingress: as if it arrived at B now, from the bare peer's address: a
     * RST at RCV.NXT for the SYN_RCVD child returns it to LISTEN
     * (RFC 9293 §3.10.7.4) */
    size_t before = t->n;
    uint64_t now = sf_sim_now(sim);
    sf_seg rst = crafted(ADDR_P, ADDR_B, 80, SF_RST);
    rst.seq = 1001;
    CHECK(sf_sim_inject(sim, b, SF_INGRESS, &rst) == SF_OK);
    run_for(sim, 100 * MS);
    r = find_seg(t, p, SF_RST, 0);
    CHECK(r && r->injected && r->host == p && r->to_host == b);
    CHECK(r && r->time == now && r->arrival == now && r->fate == SF_FATE_DELIVERED);
    bool back_to_listen = false;
    for (size_t i = before; i < t->n; i++) {
        const sf_trace_rec *q = sf_trace_at(t, (long)i);
        back_to_listen |=
            q->kind == SF_TR_STATE && q->old_state == SF_SYN_RCVD && q->new_state == SF_LISTEN;
    }
    CHECK(back_to_listen);
    CHECK(sf_stack_conn_count(sf_sim_stack(sim, b)) == 0);

    /* ingress from an address no host has: the sender column is none, and
     * B's RST,ACK for the closed port goes nowhere (RFC 9293 §3.10.7.1) */
    sf_seg stray = crafted(NOWHERE, ADDR_B, 9, SF_SYN);
    CHECK(sf_sim_inject(sim, b, SF_INGRESS, &stray) == SF_OK);
    run_for(sim, 100 * MS);
    r = find_seg(t, UINT16_MAX, SF_SYN, 0);
    CHECK(r && r->injected && r->to_host == b && r->fate == SF_FATE_DELIVERED);
    const sf_trace_rec *ra = find_seg(t, b, SF_RST | SF_ACK, 0);
    CHECK(ra && sf_addr_eq(ra->daddr, NOWHERE) && ra->to_host == UINT16_MAX);
    CHECK(ra && ra->fate == SF_FATE_NO_HOST && ra->ack == 1001 && ra->seq == 0);

    /* egress to an address no host has */
    sf_seg lost = crafted(ADDR_P, NOWHERE, 80, SF_SYN | SF_ACK);
    CHECK(sf_sim_inject(sim, p, SF_EGRESS, &lost) == SF_OK);
    r = find_seg(t, p, SF_SYN | SF_ACK, 0);
    CHECK(r && r->fate == SF_FATE_NO_HOST && r->to_host == UINT16_MAX);

    /* a segment with a bad checksum is still sent and recorded; B drops it */
    sf_seg bad = crafted(ADDR_P, ADDR_B, 80, SF_SYN);
    bad.bad_csum = 1;
    size_t segs = t->segs;
    CHECK(sf_sim_inject(sim, p, SF_EGRESS, &bad) == SF_OK);
    run_for(sim, 100 * MS);
    CHECK(t->segs == segs + 1); /* no SYN-ACK for it */
    CHECK(sf_stack_conn_count(sf_sim_stack(sim, b)) == 0);

    /* a stack connecting to nobody: its SYN is recorded with that fate */
    sf_conn *c =
        sf_connect(sf_sim_stack(sim, b), sf_sim_now(sim), NULL, NOWHERE, 80, 0, NULL, &err);
    CHECK(c != NULL);
    sf_sim_flush(sim, b);
    r = sf_trace_at(t, (long)t->n - 1);
    CHECK(r->kind == SF_TR_SEG && r->flags == SF_SYN && sf_addr_eq(r->daddr, NOWHERE));
    CHECK(r->fate == SF_FATE_NO_HOST && r->host == b && r->conn_id == sf_conn_id(c));

    /* a note lands in the trace with its text */
    sf_sim_note(sim, p, "hello trace");
    r = sf_trace_at(t, (long)t->n - 1);
    CHECK(r->kind == SF_TR_NOTE && r->host == p && r->text_len == 11);
    CHECK(r->text_len == 11 && memcmp(t->arena + r->text_off, "hello trace", 11) == 0);
    sf_sim_free(sim);
}

/* ---- the ladder in C (core/io/ladder.c) and the names -------------------------------- */

/* A short transfer drawn by sf_sim_print_trace: the picture print(net:trace())
 * draws in Lua for the same records. The windows are the linux profile's:
 * SYN 44 * 1460 = 64240, SYN-ACK 45 * 1448 = 65160 (the MSS less the
 * timestamps), a scale of 7 for 6 MiB, then rounded up to 2^7: 502 << 7,
 * 510 << 7; 3000 bytes unread make it (131070 - 3000) / 2 rounded up, 501 << 7. */
static void test_print_trace(void)
{
    static const char want[] =
        "  time (s)  10.0.0.1                                                                      "
        "                   10.0.0.2\n"
        "            |                                                                             "
        "                   |\n"
        "     0.000  |                                                                             "
        "                   [listener :80 LISTEN] listen\n"
        "     0.000  [SYN_SENT] connect                                                            "
        "                   |\n"
        "     0.000  |--#1 S seq=0 win=64240 <mss 1460,sackOK,TS val 2446921345 ecr 0,wscale 7> ---"
        "------------------>|\n"
        "     0.005  |                                                                             "
        "                   [SYN_RCVD] SYN #1\n"
        "     0.005  |<----- #2 SA seq=0 ack=1 win=65160 <mss 1460,sackOK,TS val 2914020900 ecr 244"
        "6921345,wscale 7>--|\n"
        "     0.010  [ESTABLISHED] SYN-ACK #2                                                      "
        "                   |\n"
        "     0.010  |--#3 A seq=1 ack=1 win=502<<7 <TS val 2446921355 ecr 2914020900> ------------"
        "------------------>|\n"
        "     0.010  |--#4 A seq=1 ack=1 win=502<<7 len=1448 <TS val 2446921355 ecr 2914020900> ---"
        "------------------>|\n"
        "     0.010  |--#5 PA seq=1449 ack=1 win=502<<7 len=600 <TS val 2446921355 ecr 2914020900> "
        "------------------>|\n"
        "     0.010  |--#6 PA seq=2049 ack=1 win=502<<7 len=952 <TS val 2446921355 ecr 2914020900> "
        "------------------>|\n"
        "     0.010  [FIN_WAIT_1] close                                                            "
        "                   |\n"
        "     0.010  |--#7 FA seq=3001 ack=1 win=502<<7 <TS val 2446921355 ecr 2914020900> --------"
        "------------------>|\n"
        "     0.015  |                                                                             "
        "                   [ESTABLISHED] ACK #3\n"
        "     0.015  |                                                                             "
        "                   [CLOSE_WAIT] FIN #7\n"
        "     0.015  |<--------------------------- #8 A seq=1 ack=3002 win=501<<7 <TS val 291402091"
        "0 ecr 2446921355>--|\n"
        "     0.015  |                                                                             "
        "                   [LAST_ACK] close\n"
        "     0.015  |<-------------------------- #9 FA seq=1 ack=3002 win=510<<7 <TS val 291402091"
        "0 ecr 2446921355>--|\n"
        "     0.020  [FIN_WAIT_2] ACK of our FIN #8                                                "
        "                   |\n"
        "     0.020  [TIME_WAIT] FIN #9                                                            "
        "                   |\n"
        "     0.020  |--#10 A seq=3002 ack=2 win=502<<7 <TS val 2446921365 ecr 2914020910> --------"
        "------------------>|\n"
        "     0.025  |                                                                             "
        "                   [CLOSED] ACK of our FIN #10\n"
        "    60.020  [CLOSED] 2MSL                                                                 "
        "                   |\n"
        "    60.020  |                                                                             "
        "                   (the end)\n";
    xfer x;
    xfer_setup(&x, 1, 0.0, 3000);
    xfer_run(&x, UINT64_MAX);
    CHECK(xfer_done(&x));
    sf_sim_note(x.sim, x.b, "the end");
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) return;
    CHECK(sf_sim_print_trace(x.sim, f) == 0);
    char got[8192];
    rewind(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = 0;
    fclose(f);
    CHECK(strcmp(got, want) == 0);
    if (strcmp(got, want) != 0) fprintf(stderr, "the ladder:\n%s", got);
    xfer_free(&x);
}

/* A host with several addresses, of both families: the ladder's header
 * shows them all over its lane, and the next lane starts after them. */
static void test_print_trace_addresses(void)
{
    sf_sim *sim = sf_sim_new(3);
    sf_addr a[3], b;
    CHECK(sf_addr_parse("192.0.2.1", &a[0]) == 0);
    CHECK(sf_addr_parse("2001:db8::1", &a[1]) == 0);
    CHECK(sf_addr_parse("2001:db8:0:1234:5678:9abc:def0:1", &a[2]) == 0);
    CHECK(sf_addr_parse("2001:db8::2", &b) == 0);
    sf_config cfg;
    sf_config_default(&cfg);
    CHECK(sf_sim_add_host(sim, a, 3, &cfg) == 0);
    CHECK(sf_sim_add_host(sim, &b, 1, &cfg) == 1);
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) {
        sf_sim_free(sim);
        return;
    }
    CHECK(sf_sim_print_trace(sim, f) == 0);
    char got[1024];
    rewind(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = 0;
    fclose(f);
    static const char head[] =
        "  time (s)  192.0.2.1, 2001:db8::1, 2001:db8:0:1234:5678:9abc:def0:1  2001:db8::2\n";
    CHECK(strncmp(got, head, sizeof head - 1) == 0);
    if (strncmp(got, head, sizeof head - 1) != 0) fprintf(stderr, "the ladder:\n%s", got);
    sf_sim_free(sim);
}

static void test_names(void)
{
    CHECK(strcmp(sf_fate_name(SF_FATE_FLIGHT), "flight") == 0);
    CHECK(strcmp(sf_fate_name(SF_FATE_DROPPED_EGRESS), "dropped_egress") == 0);
    CHECK(strcmp(sf_fate_name(SF_FATE_REPLACED), "replaced") == 0);
    CHECK(strcmp(sf_fate_name((sf_fate)99), "?") == 0);
    CHECK(strcmp(sf_cause_name(SF_CAUSE_TIMER), "timer") == 0);
    CHECK(strcmp(sf_event_name(SF_EV_STATE), "state") == 0);
    CHECK(strcmp(sf_event_name(SF_EV_SOFT_ERROR), "soft_error") == 0);
    CHECK(strcmp(sf_event_name((sf_event_type)99), "?") == 0);
}

/* Arrivals come in (time, order of scheduling), whether a packet crossed
 * the link (due later when sent) or arrived at the instant it was put on
 * the wire (an ingress injection, a real device's packet: kept apart from
 * the others, in a list, sim.c): a SYN over the link due at 5 ms comes
 * before a RST injected at B when the clock reads 5 ms (scheduled later),
 * and before one injected at 7 ms when the net's clock was moved past the
 * SYN's arrival without a step (a real-time driver's sf_sim_set_now). The
 * SYN makes a SYN_RCVD child, the RST at its RCV.NXT takes it back to
 * LISTEN (RFC 9293 §3.10.7.4); the other way round the RST finds no
 * connection and the SYN's child stays. */
static void test_arrival_order(void)
{
    for (int later = 0; later < 2; later++) {
        sf_sim *sim = sf_sim_new(11);
        sf_link link = {.latency = LATENCY};
        sf_sim_set_link(sim, &link);
        sf_config cfg;
        sf_config_default(&cfg);
        int b = sf_sim_add_host(sim, (sf_addr[]){ADDR_B}, 1, &cfg);
        int p = sf_sim_add_host(sim, (sf_addr[]){ADDR_P}, 1, NULL);
        int err;
        CHECK(sf_listen(sf_sim_stack(sim, b), 0, 80, 0, NULL, &err) != NULL);
        sf_seg syn = crafted(ADDR_P, ADDR_B, 80, SF_SYN);
        CHECK(sf_sim_inject(sim, p, SF_EGRESS, &syn) == SF_OK); /* due at 5 ms */
        sf_sim_set_now(sim, later ? LATENCY + 2 * MS : LATENCY);
        sf_seg rst = crafted(ADDR_P, ADDR_B, 80, SF_RST);
        rst.seq = 1001;
        CHECK(sf_sim_inject(sim, b, SF_INGRESS, &rst) == SF_OK); /* due now */
        CHECK(sf_sim_step(sim, sf_sim_now(sim)) == 1);
        sf_trace *t = sf_sim_trace(sim);
        bool child = false, back_to_listen = false;
        for (size_t i = 0; i < t->n; i++) {
            const sf_trace_rec *q = sf_trace_at(t, (long)i);
            child |= q->kind == SF_TR_STATE && q->new_state == SF_SYN_RCVD;
            back_to_listen |=
                q->kind == SF_TR_STATE && q->old_state == SF_SYN_RCVD && q->new_state == SF_LISTEN;
        }
        CHECK(child && back_to_listen);
        CHECK(sf_stack_conn_count(sf_sim_stack(sim, b)) == 0);
        sf_sim_free(sim);
    }
}

int main(void)
{
    test_same_seed_same_trace();
    test_loss_repaired();
    test_hook_fates();
    test_inject();
    test_arrival_order();
    test_print_trace();
    test_print_trace_addresses();
    test_names();
    return check_report("sim");
}
