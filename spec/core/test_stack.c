/* Two sf_stack instances driven directly: a queue of packets with a fixed
 * one-way latency and a virtual clock that jumps to the next arrival or
 * sf_stack_deadline. Handshake, data both ways, the four-way close and
 * TIME_WAIT, SYN retransmission and its end, resets for segments that have
 * no connection, user-call errors, simultaneous open, and ten thousand
 * connections at once. */
#include "check.h"
#include "synfin.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEC     1000000ULL
#define MS      1000ULL
#define ADDR_A  sf_addr_v4(0x0a000001u) /* 10.0.0.1 */
#define ADDR_B  sf_addr_v4(0x0a000002u) /* 10.0.0.2 */
#define NO_HOST sf_addr_v4(0x0a000009u) /* nobody */
#define MAX_LOG 4096

/* ---- the test network ----------------------------------------------------------- */

typedef struct {
    uint64_t at; /* arrival time */
    int to;      /* host index, -1: nobody */
    size_t len;
    uint8_t *data;
} pkt;

/* One packet as sent, for the checks. */
typedef struct {
    uint64_t time;
    int from;
    bool conn;  /* emitted with a connection (not a RST for no connection) */
    sf_seg seg; /* payload pointer cleared */
} wire_rec;

typedef struct {
    uint64_t time;
    int host;
    uint32_t conn_id;
    sf_event_type type;
    sf_state old_state, new_state;
    sf_cause cause;
    const char *why;
    int err;
} event_rec;

typedef struct net net;
typedef struct {
    net *n;
    int index;
} host_ud;

struct net {
    sf_stack *st[2];
    host_ud ud[2];
    uint64_t now, latency;
    pkt *q;
    size_t q_head, q_len, q_cap;
    /* the wire, and events (bounded logs; counters are not) */
    wire_rec wire[MAX_LOG];
    size_t nwire;
    event_rec ev[MAX_LOG];
    size_t nev;
    uint32_t sent[2];
    uint32_t states_entered[2][SF_STATE_COUNT];
    uint32_t errors[2];
    uint32_t deadline_violations; /* a deadline at or before now after a call */
    uint32_t bad_emits;           /* a packet the stack sent that does not parse */
    /* drop packets to this host (-1: none) */
    int drop_to;
};

static void emit_cb(void *ud, sf_conn *conn, const uint8_t *data, size_t len)
{
    host_ud *h = ud;
    net *n = h->n;
    sf_seg seg;
    if (sf_wire_parse(data, len, &seg, NULL) != 0) {
        n->bad_emits++;
        return;
    }
    n->sent[h->index]++;
    if (n->nwire < MAX_LOG) {
        wire_rec *w = &n->wire[n->nwire++];
        w->time = n->now;
        w->from = h->index;
        w->conn = conn != NULL;
        w->seg = seg;
        w->seg.payload = NULL;
    }
    int to = sf_addr_eq(seg.daddr, ADDR_A) ? 0 : sf_addr_eq(seg.daddr, ADDR_B) ? 1 : -1;
    if (to < 0 || to == n->drop_to) return; /* nobody there, or lost on purpose */
    if (n->q_head + n->q_len == n->q_cap) {
        if (n->q_head > 0) {
            memmove(n->q, n->q + n->q_head, n->q_len * sizeof *n->q);
            n->q_head = 0;
        } else {
            n->q_cap = n->q_cap ? n->q_cap * 2 : 1024;
            n->q = realloc(n->q, n->q_cap * sizeof *n->q);
        }
    }
    pkt *p = &n->q[n->q_head + n->q_len++];
    p->at = n->now + n->latency;
    p->to = to;
    p->len = len;
    p->data = malloc(len);
    memcpy(p->data, data, len);
}

static void event_cb(void *ud, const sf_event *ev)
{
    host_ud *h = ud;
    net *n = h->n;
    if (ev->type == SF_EV_STATE) n->states_entered[h->index][ev->new_state]++;
    if (ev->type == SF_EV_ERROR) n->errors[h->index]++;
    if (n->nev < MAX_LOG) {
        event_rec *e = &n->ev[n->nev++];
        e->time = n->now;
        e->host = h->index;
        e->conn_id = ev->conn_id;
        e->type = ev->type;
        e->old_state = ev->old_state;
        e->new_state = ev->new_state;
        e->cause = ev->cause;
        e->why = ev->why;
        e->err = ev->err;
    }
}

static net *net_new(const sf_config *ca, const sf_config *cb)
{
    net *n = calloc(1, sizeof *n);
    n->latency = 10 * MS;
    n->drop_to = -1;
    sf_callbacks cbs = {emit_cb, event_cb};
    sf_config cfg[2];
    if (ca)
        cfg[0] = *ca;
    else
        sf_config_default(&cfg[0]);
    if (cb)
        cfg[1] = *cb;
    else
        sf_config_default(&cfg[1]);
    cfg[0].addrs[0] = ADDR_A;
    cfg[0].naddrs = 1;
    cfg[1].addrs[0] = ADDR_B;
    cfg[1].naddrs = 1;
    cfg[1].secret[0] ^= 0x34; /* other ISNs */
    for (int i = 0; i < 2; i++) {
        n->ud[i].n = n;
        n->ud[i].index = i;
        n->st[i] = sf_stack_new(&cfg[i], &cbs, &n->ud[i]);
    }
    return n;
}

static void net_free(net *n)
{
    for (size_t i = 0; i < n->q_len; i++)
        free(n->q[n->q_head + i].data);
    free(n->q);
    sf_stack_free(n->st[0]);
    sf_stack_free(n->st[1]);
    free(n);
}

/* After an entry point: sf_stack_deadline is later than now, or none. */
static void check_deadline(net *n, int host)
{
    uint64_t d = sf_stack_deadline(n->st[host]);
    if (d != UINT64_MAX && d <= n->now) n->deadline_violations++;
}

/* Called after every instant, outside the stack: the "application". */
typedef void (*app_fn)(net *n, void *arg);

/* Runs the network until nothing is pending or the clock would pass limit.
 * Returns the number of instants processed. */
static long net_run(net *n, uint64_t limit, app_fn app, void *arg)
{
    long steps = 0;
    for (;;) {
        uint64_t next = n->q_len ? n->q[n->q_head].at : UINT64_MAX;
        for (int i = 0; i < 2; i++) {
            uint64_t d = sf_stack_deadline(n->st[i]);
            if (d < next) next = d;
        }
        if (next == UINT64_MAX || next > limit || steps > 10000000) {
            if (limit != UINT64_MAX && limit > n->now) n->now = limit;
            return steps;
        }
        if (next > n->now) n->now = next;
        steps++;
        for (int i = 0; i < 2; i++)
            if (sf_stack_deadline(n->st[i]) <= n->now) {
                sf_stack_poll(n->st[i], n->now);
                check_deadline(n, i);
            }
        /* arrivals of this instant; those they cause come later (latency > 0) */
        while (n->q_len && n->q[n->q_head].at <= n->now) {
            pkt p = n->q[n->q_head++];
            n->q_len--;
            sf_stack_input(n->st[p.to], n->now, p.data, p.len);
            check_deadline(n, p.to);
            free(p.data);
        }
        if (app) app(n, arg);
    }
}

/* The state of a host's connection whose id is conn_id, as the events tell:
 * the list of states it went through, starting with its first. */
static size_t states_of(const net *n, int host, uint32_t conn_id, sf_state *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n->nev && k < cap; i++) {
        const event_rec *e = &n->ev[i];
        if (e->host != host || e->conn_id != conn_id || e->type != SF_EV_STATE) continue;
        if (k == 0) out[k++] = e->old_state;
        if (k < cap) out[k++] = e->new_state;
    }
    return k;
}

static bool same_states(const sf_state *got, size_t n, const sf_state *want, size_t m)
{
    if (n != m) return false;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) return false;
    return true;
}

/* When a host's connection entered a state (the first time), or UINT64_MAX. */
static uint64_t time_entered(const net *n, int host, uint32_t conn_id, sf_state s)
{
    for (size_t i = 0; i < n->nev; i++) {
        const event_rec *e = &n->ev[i];
        if (e->host == host && e->conn_id == conn_id && e->type == SF_EV_STATE && e->new_state == s)
            return e->time;
    }
    return UINT64_MAX;
}

static const event_rec *find_error(const net *n, int host, uint32_t conn_id)
{
    for (size_t i = 0; i < n->nev; i++)
        if (n->ev[i].host == host && n->ev[i].conn_id == conn_id && n->ev[i].type == SF_EV_ERROR)
            return &n->ev[i];
    return NULL;
}

static uint8_t pattern_byte(uint32_t stream, uint64_t i)
{
    return (uint8_t)(i * 31 + stream * 7 + (i >> 8));
}

/* ---- the application of the one-connection tests ----------------------------------- */

typedef struct {
    sf_conn *listener;
    sf_conn *conn[2]; /* host 0's active connection, host 1's accepted one */
    uint64_t to_send[2], sent[2], received[2];
    bool data_ok;
    bool eof[2]; /* sf_recv returned 0 */
    int recv_errors;
} app_state;

static void app_pump(net *n, void *arg)
{
    app_state *a = arg;
    if (!a->conn[1] && a->listener) {
        a->conn[1] = sf_accept(a->listener);
        if (a->conn[1]) check_deadline(n, 1);
    }
    for (int h = 0; h < 2; h++) {
        sf_conn *c = a->conn[h];
        if (!c) continue;
        while (a->sent[h] < a->to_send[h]) {
            uint8_t buf[4000];
            uint64_t left = a->to_send[h] - a->sent[h];
            uint32_t k = left < sizeof buf ? (uint32_t)left : (uint32_t)sizeof buf;
            for (uint32_t i = 0; i < k; i++)
                buf[i] = pattern_byte((uint32_t)h, a->sent[h] + i);
            int r = sf_send(c, n->now, buf, k);
            check_deadline(n, h);
            if (r <= 0) break; /* full: wait for ACKs */
            a->sent[h] += (uint64_t)r;
        }
        for (;;) {
            uint8_t buf[3000];
            int r = sf_recv(c, n->now, buf, sizeof buf);
            check_deadline(n, h);
            if (r == SF_EAGAIN) break;
            if (r == 0) {
                a->eof[h] = true;
                break;
            }
            if (r < 0) {
                a->recv_errors++;
                break;
            }
            for (int i = 0; i < r; i++)
                if (buf[i] != pattern_byte((uint32_t)!h, a->received[h] + (uint64_t)i))
                    a->data_ok = false;
            a->received[h] += (uint64_t)r;
        }
    }
}

/* ---- handshake, data, close, TIME_WAIT ---------------------------------------------- */

static void test_connection_life(void)
{
    net *n = net_new(NULL, NULL);
    app_state a = {.data_ok = true};
    int err = 1;

    /* LISTEN on host 1 */
    a.listener = sf_listen(n->st[1], 0, 80, 0, NULL, &err);
    CHECK(a.listener && err == SF_OK);
    CHECK(sf_conn_state(a.listener) == SF_LISTEN);

    /* RFC 9293 §3.10.1 OPEN active: <SEQ=ISS><CTL=SYN>, SYN_SENT */
    a.conn[0] = sf_connect(n->st[0], 0, NULL, ADDR_B, 80, 0, NULL, &err);
    CHECK(a.conn[0] && err == SF_OK);
    check_deadline(n, 0);
    CHECK(sf_conn_state(a.conn[0]) == SF_SYN_SENT);
    sf_conn_info ia;
    sf_conn_status(a.conn[0], &ia);
    CHECK(ia.lport == 49152); /* the first ephemeral port (RFC 6335 §6) */
    CHECK(ia.rport == 80 && sf_addr_eq(ia.laddr, ADDR_A) && sf_addr_eq(ia.raddr, ADDR_B));
    CHECK(n->nwire == 1);
    const sf_seg *syn = &n->wire[0].seg;
    CHECK(syn->flags == SF_SYN && syn->seq == ia.iss && syn->mss == 1460);
    CHECK(syn->sport == 49152 && syn->dport == 80);
    CHECK(ia.snd_una == ia.iss && ia.snd_nxt == ia.iss + 1);
    /* the retransmission timer runs: RFC 6298 (2.1) one second */
    CHECK(sf_stack_deadline(n->st[0]) == 1 * SEC);

    /* the three-way handshake (RFC 9293 §3.5, Figure 6) */
    net_run(n, 100 * MS, app_pump, &a);
    CHECK(a.conn[1] != NULL);
    if (!a.conn[1]) {
        net_free(n);
        return;
    }
    uint32_t id0 = sf_conn_id(a.conn[0]), id1 = sf_conn_id(a.conn[1]);
    CHECK(sf_conn_state(a.conn[0]) == SF_ESTABLISHED);
    CHECK(sf_conn_state(a.conn[1]) == SF_ESTABLISHED);
    CHECK(time_entered(n, 0, id0, SF_ESTABLISHED) == 20 * MS); /* SYN-ACK after 2 latencies */
    CHECK(time_entered(n, 1, id1, SF_SYN_RCVD) == 10 * MS);
    CHECK(time_entered(n, 1, id1, SF_ESTABLISHED) == 30 * MS);
    CHECK(n->nwire >= 3);
    const sf_seg *synack = &n->wire[1].seg, *ack = &n->wire[2].seg;
    sf_conn_info ib;
    sf_conn_status(a.conn[1], &ib);
    CHECK(n->wire[1].from == 1 && synack->flags == (SF_SYN | SF_ACK));
    CHECK(synack->seq == ib.iss && synack->ack == ia.iss + 1 && synack->mss == 1460);
    CHECK(n->wire[2].from == 0 && ack->flags == SF_ACK);
    CHECK(ack->seq == ia.iss + 1 && ack->ack == ib.iss + 1);
    sf_conn_status(a.conn[0], &ia);
    CHECK(ia.irs == ib.iss && ib.irs == ia.iss);
    CHECK(ia.snd_una == ia.iss + 1 && ia.rcv_nxt == ib.iss + 1);
    CHECK(ib.snd_una == ib.iss + 1 && ib.rcv_nxt == ia.iss + 1);
    /* every timer is off once both SYNs are acknowledged */
    CHECK(sf_stack_deadline(n->st[0]) == UINT64_MAX);
    CHECK(sf_stack_deadline(n->st[1]) == UINT64_MAX);
    /* nothing to read yet: SF_EAGAIN, not end of stream */
    uint8_t tmp[8];
    CHECK(sf_recv(a.conn[0], n->now, tmp, sizeof tmp) == SF_EAGAIN);
    CHECK(sf_accept(a.listener) == NULL); /* accepted already */

    /* data both ways: more than a send buffer from host 0, some from host 1 */
    a.to_send[0] = 200000;
    a.to_send[1] = 30001;
    app_pump(n, &a);
    net_run(n, 10 * SEC, app_pump, &a);
    CHECK(a.sent[0] == 200000 && a.received[1] == 200000);
    CHECK(a.sent[1] == 30001 && a.received[0] == 30001);
    CHECK(a.data_ok);
    CHECK(a.recv_errors == 0);
    sf_conn_status(a.conn[0], &ia);
    sf_conn_status(a.conn[1], &ib);
    CHECK(ia.snd_queued == 0 && ib.snd_queued == 0); /* all acknowledged */
    CHECK(ia.retransmits == 0 && ib.retransmits == 0);
    CHECK(ia.bytes_out == 200000 && ia.bytes_in == 30001);
    CHECK(ib.bytes_out == 30001 && ib.bytes_in == 200000);
    CHECK(ia.snd_una == ia.iss + 1 + 200000 && ib.rcv_nxt == ia.snd_una);
    CHECK(ia.srtt == 20 * MS); /* one round trip of two 10 ms latencies */
    CHECK(ia.rto == 1 * SEC);  /* RFC 6298 (2.4): rounded up to rto_min */
    CHECK(ia.state == SF_ESTABLISHED && ib.state == SF_ESTABLISHED);

    /* the four-way close (RFC 9293 §3.6, Figure 12): host 0 closes first */
    CHECK(sf_close(a.conn[0], n->now) == SF_OK);
    check_deadline(n, 0);
    CHECK(sf_conn_state(a.conn[0]) == SF_FIN_WAIT_1);
    /* RFC 9293 §3.10.2: SEND after CLOSE is "connection closing" */
    CHECK(sf_send(a.conn[0], n->now, "x", 1) == SF_ECLOSING);
    /* RFC 9293 §3.10.4: CLOSE in FIN_WAIT_1 is "connection closing" */
    CHECK(sf_close(a.conn[0], n->now) == SF_ECLOSING);
    net_run(n, n->now + 100 * MS, app_pump, &a);
    CHECK(sf_conn_state(a.conn[0]) == SF_FIN_WAIT_2);
    CHECK(sf_conn_state(a.conn[1]) == SF_CLOSE_WAIT);
    CHECK(a.eof[1]); /* host 1 read the end of the stream */
    CHECK(!a.eof[0]);
    CHECK(sf_close(a.conn[0], n->now) == SF_ECLOSING); /* FIN_WAIT_2 too */
    /* host 1 can still send in CLOSE_WAIT (half close) */
    a.to_send[1] += 100;
    app_pump(n, &a);
    net_run(n, n->now + 100 * MS, app_pump, &a);
    CHECK(a.received[0] == 30101 && a.data_ok);

    /* host 1 closes: LAST_ACK; host 0 gets the FIN: TIME_WAIT */
    CHECK(sf_close(a.conn[1], n->now) == SF_OK);
    check_deadline(n, 1);
    CHECK(sf_conn_state(a.conn[1]) == SF_LAST_ACK);
    uint64_t fin_sent = n->now;
    net_run(n, n->now + 1 * SEC, app_pump, &a);
    CHECK(a.eof[0]);
    CHECK(sf_conn_state(a.conn[0]) == SF_TIME_WAIT);
    CHECK(sf_conn_state(a.conn[1]) == SF_CLOSED);
    CHECK(sf_stack_conn_count(n->st[1]) == 0);
    CHECK(sf_stack_conn_count(n->st[0]) == 1); /* TIME_WAIT keeps the 4-tuple */
    uint64_t tw = time_entered(n, 0, id0, SF_TIME_WAIT);
    CHECK(tw == fin_sent + 10 * MS);
    CHECK(time_entered(n, 1, id1, SF_CLOSED) == fin_sent + 20 * MS);

    /* RFC 9293 §3.10.8 TIME-WAIT TIMEOUT: exactly 2*MSL after entering */
    uint64_t msl = sf_stack_config(n->st[0])->policy.msl;
    CHECK(msl == 30 * SEC);
    CHECK(sf_stack_deadline(n->st[0]) == tw + 2 * msl);
    n->now = tw + 2 * msl - 1;
    sf_stack_poll(n->st[0], n->now); /* one microsecond early: nothing */
    check_deadline(n, 0);
    CHECK(sf_conn_state(a.conn[0]) == SF_TIME_WAIT);
    net_run(n, UINT64_MAX, app_pump, &a);
    CHECK(sf_conn_state(a.conn[0]) == SF_CLOSED);
    CHECK(time_entered(n, 0, id0, SF_CLOSED) == tw + 2 * msl);
    CHECK(sf_stack_deadline(n->st[0]) == UINT64_MAX);
    CHECK(sf_stack_conn_count(n->st[0]) == 0);
    CHECK(sf_stack_lookup(n->st[0], ADDR_A, ADDR_B, 49152, 80) == NULL);

    /* the states each side went through, as the events said */
    sf_state seen[16];
    size_t k = states_of(n, 0, id0, seen, 16);
    static const sf_state want0[] = {SF_CLOSED,     SF_SYN_SENT,  SF_ESTABLISHED, SF_FIN_WAIT_1,
                                     SF_FIN_WAIT_2, SF_TIME_WAIT, SF_CLOSED};
    CHECK(same_states(seen, k, want0, sizeof want0 / sizeof want0[0]));
    k = states_of(n, 1, id1, seen, 16);
    static const sf_state want1[] = {SF_LISTEN,     SF_SYN_RCVD, SF_ESTABLISHED,
                                     SF_CLOSE_WAIT, SF_LAST_ACK, SF_CLOSED};
    CHECK(same_states(seen, k, want1, sizeof want1 / sizeof want1[0]));
    /* causes: the user's calls, the segments, and the 2MSL timer */
    for (size_t i = 0; i < n->nev; i++) {
        const event_rec *e = &n->ev[i];
        if (e->type != SF_EV_STATE || e->host != 0 || e->conn_id != id0) continue;
        if (e->new_state == SF_SYN_SENT || e->new_state == SF_FIN_WAIT_1)
            CHECK(e->cause == SF_CAUSE_USER);
        if (e->new_state == SF_FIN_WAIT_2 || e->new_state == SF_TIME_WAIT)
            CHECK(e->cause == SF_CAUSE_SEGMENT);
        if (e->new_state == SF_CLOSED)
            CHECK(e->cause == SF_CAUSE_TIMER && e->why && strcmp(e->why, "2MSL") == 0);
    }
    CHECK(n->errors[0] == 0 && n->errors[1] == 0); /* a graceful close signals no error */

    /* user calls on a CLOSED connection the user still holds (§3.10.2-5) */
    CHECK(sf_send(a.conn[0], n->now, "x", 1) == SF_ENOTCONN);
    CHECK(sf_close(a.conn[0], n->now) == SF_ENOTCONN);
    CHECK(sf_abort(a.conn[0], n->now) == SF_ENOTCONN);
    CHECK(sf_recv(a.conn[0], n->now, tmp, sizeof tmp) == 0); /* the stream ended */

    CHECK(n->deadline_violations == 0);
    CHECK(n->bad_emits == 0);
    /* RFC 9293 §3.10.4: CLOSE in LISTEN deletes the TCB; let go, a CLOSED
     * connection is freed at once (ASan sees any later use) */
    CHECK(sf_close(a.listener, n->now) == SF_OK);
    CHECK(sf_conn_state(a.listener) == SF_CLOSED);
    CHECK(sf_stack_lookup(n->st[1], ADDR_B, ADDR_A, 80, 49152) == NULL);
    sf_conn_release(a.conn[0]);
    sf_conn_release(a.conn[1]);
    sf_conn_release(a.listener);
    net_free(n);
}

/* ---- SYN retransmission and its end -------------------------------------------------- */

/* A host with the rfc profile: RFC 6298's RTO (1 s floor, 60 s ceiling, no
 * tail loss probe), for the tests whose point is RFC 6298's timing. */
static sf_config rfc_config(void)
{
    sf_config cfg;
    sf_config_default(&cfg);
    sf_policy_profile(&cfg.policy, SF_PROFILE_RFC);
    return cfg;
}

static void test_syn_retransmission(void)
{
    sf_config rfc = rfc_config(); /* RFC 6298's backoff and 60 s ceiling */
    net *n = net_new(&rfc, &rfc);
    int err = 1;
    sf_conn *c = sf_connect(n->st[0], 0, NULL, NO_HOST, 80, 0, NULL, &err);
    CHECK(c && err == SF_OK);
    uint32_t id = sf_conn_id(c);
    net_run(n, UINT64_MAX, NULL, NULL);

    /* RFC 6298 (5.5): the RTO doubles at each timeout; RFC 9293 §3.8.1: the
     * SYN is retransmitted with the same ISS. With the defaults (RTO 1 s,
     * syn_retries 7) SYNs leave at 0, 1, 3, 7, 15, 31, 63 and 123 s (the RTO
     * capped at rto_max = 60 s from the seventh on). */
    static const uint64_t want[] = {0, 1, 3, 7, 15, 31, 63, 123};
    size_t nsyn = 0;
    bool same_iss = true, at_times = true;
    for (size_t i = 0; i < n->nwire; i++) {
        if (n->wire[i].from != 0 || !(n->wire[i].seg.flags & SF_SYN)) continue;
        if (n->wire[i].seg.seq != n->wire[0].seg.seq) same_iss = false;
        if (n->wire[i].seg.flags != SF_SYN) same_iss = false;
        if (nsyn < 8 && n->wire[i].time != want[nsyn] * SEC) at_times = false;
        nsyn++;
    }
    CHECK(nsyn == 8); /* the first SYN and syn_retries = 7 retransmissions */
    CHECK(same_iss);
    CHECK(at_times);
    for (size_t i = 1; i < nsyn && i < 7; i++) /* the gaps: 1, 2, 4, 8, 16, 32 s */
        CHECK(n->wire[i].time - n->wire[i - 1].time == (1ULL << (i - 1)) * SEC);

    /* after the last retransmission its RTO (capped at rto_max = 60 s by
     * RFC 6298 (2.5)) passes, then the connection fails with ETIMEDOUT: at
     * 183 s, at least the 3 minutes of MUST-23 */
    CHECK(sf_conn_state(c) == SF_CLOSED);
    CHECK(time_entered(n, 0, id, SF_CLOSED) == 123 * SEC + 60 * SEC);
    const event_rec *e = find_error(n, 0, id);
    CHECK(e && e->err == SF_ETIMEDOUT);
    sf_conn_info info;
    sf_conn_status(c, &info);
    CHECK(info.error == SF_ETIMEDOUT);
    CHECK(info.retransmits == 7);
    /* the error is what later calls return */
    CHECK(sf_send(c, n->now, "x", 1) == SF_ETIMEDOUT);
    uint8_t b[4];
    CHECK(sf_recv(c, n->now, b, sizeof b) == SF_ETIMEDOUT);
    CHECK(sf_stack_deadline(n->st[0]) == UINT64_MAX);
    CHECK(sf_stack_conn_count(n->st[0]) == 0);
    CHECK(n->deadline_violations == 0);
    sf_conn_release(c);

    /* a smaller syn_retries ends sooner: 0, 1, 3 s, then fails at 7 s */
    sf_policy pol = sf_stack_config(n->st[0])->policy;
    pol.syn_retries = 2;
    n->nwire = 0;
    n->nev = 0;
    uint64_t t0 = n->now;
    c = sf_connect(n->st[0], t0, NULL, NO_HOST, 80, 0, &pol, &err);
    CHECK(c && err == SF_OK);
    id = sf_conn_id(c);
    net_run(n, UINT64_MAX, NULL, NULL);
    CHECK(n->nwire == 3);
    CHECK(time_entered(n, 0, id, SF_CLOSED) == t0 + 7 * SEC);
    e = find_error(n, 0, id);
    CHECK(e && e->err == SF_ETIMEDOUT);
    sf_conn_release(c);
    net_free(n);
}

/* RFC 9293 §3.8.3 and RFC 6298 (5.5): data that is never acknowledged is
 * retransmitted with a doubling RTO, capped at rto_max (60 s), max_retries
 * (15) times; then the connection fails with ETIMEDOUT. */
static void test_data_retransmission(void)
{
    sf_config rfc = rfc_config(); /* RFC 6298's 1 s floor, backoff, 60 s ceiling */
    net *n = net_new(&rfc, &rfc);
    int err;
    sf_conn *l = sf_listen(n->st[1], 0, 80, 0, NULL, &err);
    sf_conn *c = sf_connect(n->st[0], 0, NULL, ADDR_B, 80, 0, NULL, &err);
    CHECK(l && c);
    net_run(n, 100 * MS, NULL, NULL);
    CHECK(sf_conn_state(c) == SF_ESTABLISHED);
    n->drop_to = 1; /* from now on host 1 hears nothing */
    n->nwire = 0;
    uint64_t t0 = n->now;
    CHECK(sf_send(c, t0, "lost", 4) == 4);
    check_deadline(n, 0);
    net_run(n, UINT64_MAX, NULL, NULL);

    /* the first transmission, then 15 retransmissions of the same bytes */
    static const uint64_t gap[] = {1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60, 60, 60, 60};
    uint64_t at = t0;
    bool times_ok = n->nwire == 16, same_bytes = true;
    for (size_t i = 0; i < n->nwire && i < 16; i++) {
        const wire_rec *w = &n->wire[i];
        if (w->from != 0 || w->seg.len != 4 || w->seg.seq != n->wire[0].seg.seq) same_bytes = false;
        if (i > 0) at += gap[i - 1] * SEC;
        if (w->time != at) times_ok = false;
    }
    CHECK(n->nwire == 16);
    CHECK(times_ok);
    CHECK(same_bytes);
    /* the RTO after the last one passes: ETIMEDOUT */
    CHECK(sf_conn_state(c) == SF_CLOSED);
    CHECK(time_entered(n, 0, sf_conn_id(c), SF_CLOSED) == at + 60 * SEC);
    const event_rec *e = find_error(n, 0, sf_conn_id(c));
    CHECK(e && e->err == SF_ETIMEDOUT);
    sf_conn_info info;
    sf_conn_status(c, &info);
    CHECK(info.retransmits == 15 && info.error == SF_ETIMEDOUT);
    CHECK(n->deadline_violations == 0);
    sf_conn_release(c);
    sf_conn_release(l);
    net_free(n);
}

/* A stack freed with connections in every kind of condition (held or not,
 * timers running, data queued both ways) frees them all: LeakSanitizer and
 * ASan check. */
static void test_free_with_live_connections(void)
{
    net *n = net_new(NULL, NULL);
    int err;
    sf_conn *l = sf_listen(n->st[1], 0, 80, 0, NULL, &err);
    sf_conn *c1 = sf_connect(n->st[0], 0, NULL, ADDR_B, 80, 0, NULL, &err);
    sf_conn *c2 = sf_connect(n->st[0], 0, NULL, ADDR_B, 80, 0, NULL, &err);
    sf_conn *c3 = sf_connect(n->st[0], 0, NULL, NO_HOST, 80, 0, NULL, &err); /* SYN_SENT */
    CHECK(l && c1 && c2 && c3);
    net_run(n, 100 * MS, NULL, NULL);
    sf_conn *s1 = sf_accept(l); /* c2's peer is left unaccepted */
    CHECK(s1 != NULL);
    static uint8_t big[100000];
    CHECK(sf_send(c1, n->now, big, sizeof big) > 0);
    CHECK(s1 && sf_send(s1, n->now, big, 1000) == 1000);
    CHECK(sf_close(c2, n->now) == SF_OK);
    sf_conn_release(c2);                      /* orphaned, still open */
    net_run(n, n->now + 15 * MS, NULL, NULL); /* mid-flight */
    CHECK(sf_stack_conn_count(n->st[0]) == 3);
    CHECK(sf_stack_deadline(n->st[0]) != UINT64_MAX);
    net_free(n); /* packets in flight, timers, buffers: all freed */
}

/* ---- resets for segments that have no connection ---------------------------------------- */

/* Feeds host 1 one crafted segment from host 0's address; returns how many
 * packets host 1 sent in reply, the last one in *reply. */
static size_t feed(net *n, const sf_seg *in, sf_seg *reply)
{
    uint8_t buf[256];
    int len = sf_wire_build(buf, sizeof buf, in);
    size_t before = n->nwire;
    sf_stack_input(n->st[1], n->now, buf, (size_t)len);
    check_deadline(n, 1);
    size_t replies = n->nwire - before;
    if (replies && reply) *reply = n->wire[n->nwire - 1].seg;
    /* nothing goes back to host 0 in these tests */
    while (n->q_len)
        free(n->q[n->q_head + --n->q_len].data);
    n->q_head = 0;
    return replies;
}

static sf_seg from_a(uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = ADDR_A;
    s.daddr = ADDR_B;
    s.sport = 40000;
    s.dport = dport;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.wnd = 1000;
    s.wscale = -1;
    return s;
}

static void test_reset_closed_port(void)
{
    net *n = net_new(NULL, NULL);
    sf_seg r;
    static const uint8_t ten[10] = "0123456789";

    /* RFC 9293 §3.10.7.1 CLOSED: if the ACK bit is off,
     * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SEG.LEN counts SYN */
    sf_seg in = from_a(7, 1000, 0, SF_SYN);
    CHECK(feed(n, &in, &r) == 1);
    CHECK(r.flags == (SF_RST | SF_ACK));
    CHECK(r.seq == 0 && r.ack == 1001);
    CHECK(sf_addr_eq(r.saddr, ADDR_B) && sf_addr_eq(r.daddr, ADDR_A) && r.sport == 7 &&
          r.dport == 40000);
    CHECK(!n->wire[n->nwire - 1].conn); /* no connection owns it */
    CHECK(r.len == 0);

    /* SEG.LEN counts the payload and the FIN too; the sequence number wraps */
    in = from_a(7, 0xfffffffau, 0, SF_FIN | SF_PSH);
    in.payload = ten;
    in.len = 10;
    CHECK(feed(n, &in, &r) == 1);
    CHECK(r.flags == (SF_RST | SF_ACK) && r.seq == 0 && r.ack == 0xfffffffau + 11);
    in = from_a(7, 5, 0, 0); /* no flags at all */
    CHECK(feed(n, &in, &r) == 1);
    CHECK(r.flags == (SF_RST | SF_ACK) && r.seq == 0 && r.ack == 5);

    /* if the ACK bit is on, <SEQ=SEG.ACK><CTL=RST> */
    in = from_a(7, 77, 123456, SF_ACK);
    CHECK(feed(n, &in, &r) == 1);
    CHECK(r.flags == SF_RST && r.seq == 123456 && r.ack == 0);
    in = from_a(7, 77, 0xdeadbeef, SF_ACK | SF_PSH);
    in.payload = ten;
    in.len = 10;
    CHECK(feed(n, &in, &r) == 1);
    CHECK(r.flags == SF_RST && r.seq == 0xdeadbeef);
    in = from_a(7, 77, 42, SF_SYN | SF_ACK);
    CHECK(feed(n, &in, &r) == 1);
    CHECK(r.flags == SF_RST && r.seq == 42);

    /* "An incoming segment containing a RST is discarded": never a RST for a
     * RST (§3.10.7.1), with or without ACK */
    in = from_a(7, 1000, 0, SF_RST);
    CHECK(feed(n, &in, NULL) == 0);
    in = from_a(7, 1000, 5, SF_RST | SF_ACK);
    CHECK(feed(n, &in, NULL) == 0);
    in = from_a(7, 1000, 0, SF_RST | SF_SYN);
    CHECK(feed(n, &in, NULL) == 0);

    /* a damaged segment draws nothing: it is dropped before any processing */
    in = from_a(7, 1000, 0, SF_SYN);
    in.bad_csum = 1;
    CHECK(feed(n, &in, NULL) == 0);
    /* nor does a segment for another address */
    in = from_a(7, 1000, 0, SF_SYN);
    in.daddr = NO_HOST;
    CHECK(feed(n, &in, NULL) == 0);

    /* RFC 9293 §3.10.7.2 LISTEN: a RST is ignored; any ACK draws
     * <SEQ=SEG.ACK><CTL=RST>; a segment with neither SYN nor RST nor ACK is
     * dropped */
    int err;
    sf_conn *l = sf_listen(n->st[1], n->now, 80, 0, NULL, &err);
    CHECK(l && err == SF_OK);
    in = from_a(80, 9, 0, SF_RST);
    CHECK(feed(n, &in, NULL) == 0);
    in = from_a(80, 9, 31337, SF_ACK);
    CHECK(feed(n, &in, &r) == 1);
    CHECK(r.flags == SF_RST && r.seq == 31337);
    in = from_a(80, 9, 0, SF_FIN);
    CHECK(feed(n, &in, NULL) == 0);
    CHECK(sf_stack_conn_count(n->st[1]) == 0); /* none of these made a connection */

    /* an active open to a port nobody listens on: refused */
    n->nwire = 0;
    sf_conn *c = sf_connect(n->st[0], n->now, NULL, ADDR_B, 81, 0, NULL, &err);
    CHECK(c && err == SF_OK);
    net_run(n, n->now + 1 * SEC - 1, NULL, NULL);
    CHECK(sf_conn_state(c) == SF_CLOSED);
    const event_rec *e = find_error(n, 0, sf_conn_id(c));
    CHECK(e && e->err == SF_EREFUSED); /* §3.10.7.3: "error: connection reset" */
    CHECK(n->nwire == 2);              /* the SYN and the RST, nothing after */
    CHECK(n->nwire >= 2 && n->wire[1].seg.flags == (SF_RST | SF_ACK));
    CHECK(n->nwire >= 2 && n->wire[1].seg.ack == n->wire[0].seg.seq + 1);
    CHECK(sf_send(c, n->now, "x", 1) == SF_EREFUSED);
    sf_conn_release(c);
    sf_conn_release(l);
    CHECK(n->deadline_violations == 0);
    net_free(n);
}

/* ---- user-call errors ---------------------------------------------------------------------- */

static void test_user_errors(void)
{
    net *n = net_new(NULL, NULL);
    int err = 1;

    /* LISTEN: a port in use, port 0 */
    sf_conn *l = sf_listen(n->st[1], 0, 80, 0, NULL, &err);
    CHECK(l && err == SF_OK);
    err = 1;
    CHECK(sf_listen(n->st[1], 0, 80, 0, NULL, &err) == NULL && err == SF_EADDRINUSE);
    CHECK(sf_listen(n->st[1], 0, 0, 0, NULL, &err) == NULL && err == SF_EINVAL);
    CHECK(sf_listen(n->st[1], 0, 80, 0, NULL, NULL) == NULL); /* err may be NULL */
    /* a listener neither sends nor receives */
    uint8_t b[4];
    CHECK(sf_send(l, 0, "x", 1) == SF_EINVAL);
    CHECK(sf_recv(l, 0, b, sizeof b) == SF_EINVAL);
    CHECK(sf_accept(l) == NULL);

    /* OPEN: bad arguments; RFC 9293 §3.10.1: the same 4-tuple twice is
     * "connection already exists" */
    CHECK(sf_connect(n->st[0], 0, NULL, sf_addr_v4(0), 80, 0, NULL, &err) == NULL &&
          err == SF_EINVAL);
    CHECK(sf_connect(n->st[0], 0, NULL, ADDR_B, 0, 0, NULL, &err) == NULL && err == SF_EINVAL);
    sf_conn *c = sf_connect(n->st[0], 0, NULL, ADDR_B, 80, 5000, NULL, &err);
    CHECK(c && err == SF_OK);
    err = 1;
    CHECK(sf_connect(n->st[0], 0, NULL, ADDR_B, 80, 5000, NULL, &err) == NULL && err == SF_EEXIST);
    /* another remote port, same local port: a different 4-tuple, fine */
    sf_conn *c2 = sf_connect(n->st[0], 0, NULL, ADDR_B, 81, 5000, NULL, &err);
    CHECK(c2 && err == SF_OK);
    /* a listener's port may be used for an active open */
    sf_conn *c3 = sf_connect(n->st[1], 0, NULL, ADDR_A, 5001, 80, NULL, &err);
    CHECK(c3 && err == SF_OK);
    /* SEND before ESTABLISHED is queued (§3.10.2) */
    CHECK(sf_send(c, 0, "abc", 3) == 3);
    sf_conn_info info;
    sf_conn_status(c, &info);
    CHECK(info.snd_queued == 3);

    /* CLOSE in SYN_SENT: delete the TCB (§3.10.4) */
    CHECK(sf_close(c2, 0) == SF_OK);
    CHECK(sf_conn_state(c2) == SF_CLOSED);
    CHECK(sf_close(c2, 0) == SF_ENOTCONN);
    CHECK(sf_send(c2, 0, "x", 1) == SF_ENOTCONN);
    CHECK(sf_abort(c2, 0) == SF_ENOTCONN);
    sf_conn_release(c2);
    /* ABORT in SYN_SENT: no RST (nothing synchronized), CLOSED */
    size_t before = n->nwire;
    CHECK(sf_abort(c3, 0) == SF_OK);
    CHECK(n->nwire == before);
    CHECK(sf_conn_state(c3) == SF_CLOSED);
    sf_conn_release(c3);

    /* handshake c, then: CLOSE twice is "connection closing" (§3.10.4) */
    net_run(n, 100 * MS, NULL, NULL);
    CHECK(sf_conn_state(c) == SF_ESTABLISHED);
    sf_conn *s = sf_accept(l);
    CHECK(s != NULL);
    net_run(n, 200 * MS, NULL, NULL); /* the queued "abc" went out */
    CHECK(s && sf_recv(s, n->now, b, sizeof b) == 3 && memcmp(b, "abc", 3) == 0);
    CHECK(sf_close(c, n->now) == SF_OK);
    CHECK(sf_close(c, n->now) == SF_ECLOSING);
    CHECK(sf_send(c, n->now, "x", 1) == SF_ECLOSING);

    /* ABORT when synchronized: <SEQ=SND.NXT><CTL=RST> (§3.10.5), with the
     * ACK of RCV.NXT as Linux sends it (the default active_reset policy);
     * the peer in CLOSE_WAIT is reset (§3.10.7.4: "connection reset") */
    net_run(n, 300 * MS, NULL, NULL);
    CHECK(s && sf_conn_state(s) == SF_CLOSE_WAIT);
    before = n->nwire;
    sf_conn_info si;
    sf_conn_status(s, &si);
    CHECK(sf_abort(s, n->now) == SF_OK);
    CHECK(n->nwire == before + 1);
    CHECK(n->nwire == before + 1 && n->wire[before].seg.flags == (SF_RST | SF_ACK) &&
          n->wire[before].seg.seq == si.snd_nxt && n->wire[before].seg.ack == si.rcv_nxt);
    CHECK(sf_conn_state(s) == SF_CLOSED);
    net_run(n, 400 * MS, NULL, NULL);
    CHECK(sf_conn_state(c) == SF_CLOSED);
    const event_rec *e = find_error(n, 0, sf_conn_id(c));
    CHECK(e && e->err == SF_ERESET);
    CHECK(sf_abort(s, n->now) == SF_ENOTCONN);

    sf_conn_release(s);
    sf_conn_release(c);
    sf_conn_release(l);
    CHECK(n->deadline_violations == 0);
    net_free(n);
}

/* ---- simultaneous open with data queued ---------------------------------------------------- */

/* RFC 9293 §3.5 Figure 7: both sides send a SYN; each goes SYN_SENT ->
 * SYN_RCVD -> ESTABLISHED. Data queued in SYN_SENT (§3.10.2) must arrive
 * whole: the SYN's sequence number is not a byte of data. */
static void test_simultaneous_open(void)
{
    net *n = net_new(NULL, NULL);
    int err;
    sf_conn *a = sf_connect(n->st[0], 0, NULL, ADDR_B, 6000, 5000, NULL, &err);
    sf_conn *b = sf_connect(n->st[1], 0, NULL, ADDR_A, 5000, 6000, NULL, &err);
    CHECK(a && b);
    CHECK(sf_send(a, 0, "hello", 5) == 5);
    CHECK(sf_send(b, 0, "world!", 6) == 6);
    net_run(n, 1 * SEC - 1, NULL, NULL);
    CHECK(sf_conn_state(a) == SF_ESTABLISHED);
    CHECK(sf_conn_state(b) == SF_ESTABLISHED);
    CHECK(time_entered(n, 0, sf_conn_id(a), SF_SYN_RCVD) == 10 * MS);
    uint8_t buf[16] = {0};
    int r = sf_recv(b, n->now, buf, sizeof buf);
    CHECK(r == 5 && memcmp(buf, "hello", 5) == 0);
    if (r != 5) fprintf(stderr, "  host 1 received %d bytes: \"%.*s\"\n", r, r > 0 ? r : 0, buf);
    memset(buf, 0, sizeof buf);
    r = sf_recv(a, n->now, buf, sizeof buf);
    CHECK(r == 6 && memcmp(buf, "world!", 6) == 0);
    if (r != 6) fprintf(stderr, "  host 0 received %d bytes: \"%.*s\"\n", r, r > 0 ? r : 0, buf);
    CHECK(n->deadline_violations == 0);
    sf_conn_release(a);
    sf_conn_release(b);
    net_free(n);
}

/* ---- ten thousand connections ---------------------------------------------------------------- */

#define MANY 10000

typedef struct {
    sf_conn *listener;
    sf_conn *active[MANY];
    sf_conn *passive[MANY];
    size_t accepted;
    bool sent[MANY], closed_a[MANY], closed_b[MANY];
    size_t got[MANY];
    int bad_data;
} many_state;

static void many_pump(net *n, void *arg)
{
    many_state *m = arg;
    sf_conn *s;
    while (m->accepted < MANY && (s = sf_accept(m->listener)) != NULL)
        m->passive[m->accepted++] = s;
    for (size_t i = 0; i < MANY; i++) {
        sf_conn *c = m->active[i];
        if (!m->sent[i] && sf_conn_state(c) == SF_ESTABLISHED) {
            /* each connection says its number, then closes */
            char msg[16];
            int len = snprintf(msg, sizeof msg, "conn %05zu", i);
            if (sf_send(c, n->now, msg, (size_t)len) != len) m->bad_data++;
            if (sf_close(c, n->now) != SF_OK) m->bad_data++;
            m->sent[i] = true;
        }
    }
    for (size_t i = 0; i < m->accepted; i++) {
        sf_conn *c = m->passive[i];
        if (m->closed_b[i]) continue;
        char buf[32];
        int r = sf_recv(c, n->now, buf, sizeof buf - 1);
        if (r > 0) {
            buf[r] = 0;
            sf_conn_info info;
            sf_conn_status(c, &info);
            unsigned idx;
            if (r != 10 || sscanf(buf, "conn %5u", &idx) != 1 || idx >= MANY ||
                info.rport != 49152 + idx)
                m->bad_data++;
            m->got[i] += (size_t)r;
            r = sf_recv(c, n->now, buf, sizeof buf - 1);
        }
        if (r == 0) { /* end of stream: close our side */
            if (sf_close(c, n->now) != SF_OK) m->bad_data++;
            m->closed_b[i] = true;
        }
    }
}

static void test_many_connections(void)
{
    sf_config cfg;
    sf_config_default(&cfg);
    net *n = net_new(&cfg, &cfg);
    n->latency = 5 * MS;
    many_state *m = calloc(1, sizeof *m);
    int err;
    m->listener = sf_listen(n->st[1], 0, 80, MANY, NULL, &err);
    CHECK(m->listener && err == SF_OK);
    int connect_errors = 0;
    for (size_t i = 0; i < MANY; i++) {
        m->active[i] = sf_connect(n->st[0], 0, NULL, ADDR_B, 80, 0, NULL, &err);
        if (!m->active[i] || err != SF_OK) connect_errors++;
        check_deadline(n, 0);
    }
    CHECK(connect_errors == 0);
    if (connect_errors) {
        net_free(n);
        free(m);
        return;
    }
    /* the 4-tuple table grew past its first 64 buckets without losing one */
    CHECK(sf_stack_conn_count(n->st[0]) == MANY);
    size_t found = 0;
    for (size_t i = 0; i < MANY; i++)
        found +=
            sf_stack_lookup(n->st[0], ADDR_A, ADDR_B, (uint16_t)(49152 + i), 80) == m->active[i];
    CHECK(found == MANY);

    net_run(n, 1 * SEC - 1, many_pump, m);
    CHECK(m->accepted == MANY);
    CHECK(n->states_entered[0][SF_ESTABLISHED] == MANY);
    CHECK(n->states_entered[1][SF_ESTABLISHED] == MANY);
    CHECK(n->states_entered[0][SF_TIME_WAIT] == MANY);
    CHECK(n->states_entered[1][SF_CLOSED] == MANY); /* LAST_ACK ended */
    CHECK(sf_stack_conn_count(n->st[1]) == 0);
    CHECK(sf_stack_conn_count(n->st[0]) == MANY); /* in TIME_WAIT */
    size_t bytes = 0;
    for (size_t i = 0; i < MANY; i++)
        bytes += m->got[i];
    CHECK(bytes == (size_t)MANY * 10);
    CHECK(m->bad_data == 0);

    /* 2*MSL later every TIME_WAIT is over, in one poll of the timer heap */
    net_run(n, UINT64_MAX, many_pump, m);
    CHECK(n->states_entered[0][SF_CLOSED] == MANY);
    CHECK(sf_stack_conn_count(n->st[0]) == 0);
    CHECK(sf_stack_deadline(n->st[0]) == UINT64_MAX);
    CHECK(sf_stack_deadline(n->st[1]) == UINT64_MAX);
    CHECK(n->errors[0] == 0 && n->errors[1] == 0);
    uint32_t retrans = 0;
    for (size_t i = 0; i < MANY; i++) {
        sf_conn_info info;
        sf_conn_status(m->active[i], &info);
        retrans += info.retransmits;
    }
    CHECK(retrans == 0);
    CHECK(n->deadline_violations == 0);
    CHECK(n->bad_emits == 0);
    printf("%d connections: %u segments from host 0, %u from host 1; sf_conn_sizeof() = %zu\n",
           MANY, n->sent[0], n->sent[1], sf_conn_sizeof());

    for (size_t i = 0; i < MANY; i++)
        sf_conn_release(m->active[i]);
    for (size_t i = 0; i < m->accepted; i++)
        sf_conn_release(m->passive[i]);
    sf_conn_release(m->listener);
    net_free(n);
    free(m);
}

int main(void)
{
    printf("sf_conn_sizeof() = %zu bytes\n", sf_conn_sizeof());
    CHECK(sf_conn_sizeof() > 0);
    test_connection_life();
    test_syn_retransmission();
    test_data_retransmission();
    test_free_with_live_connections();
    test_reset_closed_port();
    test_user_errors();
    test_simultaneous_open();
    test_many_connections();
    return check_report("stack");
}
