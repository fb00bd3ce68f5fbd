/* TIME_WAIT as a record (core/timewait.c): a TIME_WAIT connection nobody
 * holds shrinks to a small record, and that changes nothing on the wire.
 * Each scenario runs twice against a server that closed first: once with
 * the server's connection held (the full control block stays), once let go
 * (it becomes a record); the packets sent (times and bytes) and the events
 * (times, states, ids, reasons) must be the same, and the second run must
 * hold a record, not a connection. A crafted peer sends what TIME_WAIT has
 * to answer: its FIN again, old data, a segment without timestamps, an old
 * timestamp (PAWS), RSTs in and out of the window, a SYN that reopens the
 * pair of ports (RFC 9293 §3.6.1 MAY-2), a SYN that does not, and nothing
 * (2*MSL runs out). */
#include "check.h"
#include "synfin.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEC     1000000ULL
#define SERVER  sf_addr_v4(0xc0000202u) /* 192.0.2.2 */
#define PEER    sf_addr_v4(0xc0000201u) /* 192.0.2.1 */
#define PORT    80
#define PPORT   40000
#define PEERISN 5000u
#define MAXLOG  256

typedef struct {
    uint64_t time;
    int kind; /* 0: packet, 1: event */
    size_t len;
    uint8_t bytes[128];
    sf_event_type type;
    sf_state old_state, new_state;
    uint32_t conn_id;
    char why[80];
} entry;

typedef struct {
    sf_stack *st;
    uint64_t now;
    entry log[MAXLOG];
    int n;
    sf_seg last; /* the last packet the server sent, parsed */
} world;

static void emit_cb(void *ud, sf_conn *c, const uint8_t *data, size_t len)
{
    (void)c;
    world *w = ud;
    if (w->n < MAXLOG) {
        entry *e = &w->log[w->n++];
        memset(e, 0, sizeof *e);
        e->time = w->now;
        e->len = len;
        memcpy(e->bytes, data, len < sizeof e->bytes ? len : sizeof e->bytes);
    }
    CHECK(sf_wire_parse(data, len, &w->last, NULL) == 0);
}

static void event_cb(void *ud, const sf_event *ev)
{
    world *w = ud;
    if (w->n < MAXLOG) {
        entry *e = &w->log[w->n++];
        memset(e, 0, sizeof *e);
        e->time = w->now;
        e->kind = 1;
        e->type = ev->type;
        e->old_state = ev->old_state;
        e->new_state = ev->new_state;
        e->conn_id = ev->conn_id;
        if (ev->why) strncpy(e->why, ev->why, sizeof e->why - 1);
    }
}

/* The peer's segment, with timestamps unless ts_val is 0. */
static void peer_send(world *w, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t ts_val,
                      const char *payload)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = PEER;
    s.daddr = SERVER;
    s.sport = PPORT;
    s.dport = PORT;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.wnd = 1000;
    s.ttl = 64;
    s.wscale = (flags & SF_SYN) ? 2 : -1;
    s.sack_perm = (flags & SF_SYN) != 0;
    s.mss = (flags & SF_SYN) ? 1460 : 0;
    if (ts_val) {
        s.has_ts = 1;
        s.ts_val = ts_val;
        s.ts_ecr = w->last.ts_val;
    }
    if (payload) {
        s.payload = (const uint8_t *)payload;
        s.len = (uint32_t)strlen(payload);
    }
    uint8_t buf[256];
    int len = sf_wire_build(buf, sizeof buf, &s);
    CHECK(len > 0);
    sf_stack_input(w->st, w->now, buf, (size_t)len);
}

static void at(world *w, uint64_t t)
{
    while (sf_stack_deadline(w->st) <= t) {
        w->now = sf_stack_deadline(w->st);
        sf_stack_poll(w->st, w->now);
    }
    w->now = t;
    sf_stack_poll(w->st, w->now);
}

enum { END_EXPIRY, END_REOPEN, END_RST, END_SYN_CHALLENGE };

/* Up to TIME_WAIT on the server, then the peer's segments; `hold` keeps
 * the server's connection. *records_seen: the TIME_WAIT records the stack
 * kept once the connection was let go. */
static void scenario(world *w, int end, bool hold, size_t *records_seen)
{
    memset(w, 0, sizeof *w);
    sf_config cfg;
    sf_config_default(&cfg);
    cfg.addrs[0] = SERVER;
    cfg.naddrs = 1;
    cfg.fixed_isn = 1;
    cfg.isn = 1000;
    if (end == END_SYN_CHALLENGE) cfg.policy.syn_in_time_wait = SF_TW_SYN_CHALLENGE;
    sf_callbacks cb = {emit_cb, event_cb};
    w->st = sf_stack_new(&cfg, &cb, w);
    sf_conn *l = sf_listen(w->st, 0, PORT, 0, NULL, NULL);
    peer_send(w, SF_SYN, PEERISN, 0, 100, NULL);
    uint32_t iss = w->last.seq;
    peer_send(w, SF_ACK, PEERISN + 1, iss + 1, 101, NULL);
    sf_conn *c = sf_accept(l);
    CHECK(c != NULL);
    CHECK(sf_send(c, w->now, "hello", 5) == 5);
    w->now += SEC / 10;
    peer_send(w, SF_ACK, PEERISN + 1, iss + 6, 102, NULL);
    CHECK(sf_close(c, w->now) == SF_OK); /* our FIN at iss + 6 */
    w->now += SEC / 10;
    peer_send(w, SF_ACK | SF_FIN, PEERISN + 1, iss + 7, 103, NULL);
    CHECK(sf_conn_state(c) == SF_TIME_WAIT);
    if (!hold) sf_conn_release(c);
    w->now += SEC;
    sf_stack_poll(w->st, w->now); /* an entry point: let go, it becomes a record */
    *records_seen = sf_stack_time_wait_records(w->st);
    CHECK(sf_stack_conn_count(w->st) == 1); /* the TIME_WAIT, connection or record */

    /* what TIME_WAIT answers */
    peer_send(w, SF_ACK | SF_FIN, PEERISN + 1, iss + 7, 104, NULL); /* its FIN again */
    w->now += SEC;
    peer_send(w, SF_ACK, PEERISN + 1, iss + 7, 105, "old"); /* old data */
    w->now += SEC;
    peer_send(w, SF_ACK, PEERISN + 2, iss + 7, 0, NULL); /* no timestamp: dropped */
    w->now += SEC;
    peer_send(w, SF_ACK, PEERISN + 2, iss + 7, 50, NULL); /* PAWS: older than TS.Recent */
    w->now += SEC;
    peer_send(w, SF_RST, PEERISN + 900000, 0, 0, NULL); /* outside the window */
    w->now += SEC;
    peer_send(w, SF_ACK, PEERISN + 2, iss + 9999, 106, NULL); /* ACK of data never sent */
    w->now += SEC;
    switch (end) {
    case END_EXPIRY: at(w, w->now + 70 * SEC); break;
    case END_RST: peer_send(w, SF_RST, PEERISN + 2, 0, 0, NULL); break; /* exact: closes */
    case END_REOPEN:
    case END_SYN_CHALLENGE:
        /* a new SYN above RCV.NXT from the same port: a new connection
         * (MAY-2) or, by policy, a challenge ACK */
        peer_send(w, SF_SYN, PEERISN + 100000, 0, 200, NULL);
        if (end == END_REOPEN) {
            uint32_t iss2 = w->last.seq;
            peer_send(w, SF_ACK, PEERISN + 100001, iss2 + 1, 201, NULL);
            sf_conn *c2 = sf_accept(l);
            CHECK(c2 != NULL && sf_conn_state(c2) == SF_ESTABLISHED);
            if (c2) sf_conn_release(c2);
        }
        at(w, w->now + 70 * SEC);
        break;
    }
    if (hold) sf_conn_release(c);
    sf_conn_release(l);
    sf_stack_free(w->st);
}

static bool same_log(const world *a, const world *b)
{
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++) {
        const entry *x = &a->log[i], *y = &b->log[i];
        if (x->time != y->time || x->kind != y->kind || x->len != y->len ||
            memcmp(x->bytes, y->bytes, sizeof x->bytes) != 0 || x->type != y->type ||
            x->old_state != y->old_state || x->new_state != y->new_state ||
            x->conn_id != y->conn_id || strcmp(x->why, y->why) != 0) {
            fprintf(stderr, "entry %d differs: time %llu/%llu kind %d/%d why '%s'/'%s'\n", i,
                    (unsigned long long)x->time, (unsigned long long)y->time, x->kind, y->kind,
                    x->why, y->why);
            return false;
        }
    }
    return true;
}

static world held_run, record_run;

int main(void)
{
    const char *names[] = {"2MSL runs out", "a SYN reopens", "an exact RST",
                           "a SYN draws a challenge ACK"};
    for (int end = END_EXPIRY; end <= END_SYN_CHALLENGE; end++) {
        size_t held_count, record_count;
        scenario(&held_run, end, true, &held_count);
        scenario(&record_run, end, false, &record_count);
        printf("  %s: %d entries each way\n", names[end], held_run.n);
        CHECK(held_count == 0 && record_count == 1); /* a record only when let go */
        CHECK(held_run.n > 10);
        CHECK(same_log(&held_run, &record_run));
    }
    printf("  a TIME_WAIT record: %zu bytes (a connection: %zu)\n", sf_time_wait_sizeof(),
           sf_conn_sizeof());
    CHECK(sf_time_wait_sizeof() <= 128);
    return check_report("timewait");
}
