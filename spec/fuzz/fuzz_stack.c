/* fuzz_stack.c - libFuzzer target for the TCP state machine (core/).
 *
 * Two stacks, A (10.0.0.1) and B (10.0.0.2), joined by a wire that the
 * fuzzer runs: it delivers, drops, duplicates, reorders and corrupts what
 * they send. It also plays a third party: segments it crafts reach either
 * stack with good checksums, their sequence and acknowledgment numbers
 * taken, most of the time, relative to the target connection's own
 * (RCV.NXT, SND.UNA, SND.NXT, SND.MAX, TS.Recent), so that they land in
 * the window. The user's side is the fuzzer's too: open, listen, accept,
 * send (urgent or not), receive, close, close with data, abort, forget,
 * release, a policy change, a batch (MUST-59), and the clock, which
 * fires the timers.
 *
 * The input is a program. Its first bytes configure the two stacks; then
 * each op is a byte (its number modulo NOPS) followed by its arguments;
 * bytes that run out read as zeros. After every op every connection of
 * both stacks is checked (check_stack): sequence variables in order,
 * buffers and held ranges in bounds, the SACK scoreboard inside what was
 * sent, listener backlogs, the timer heap, the tables; every packet a
 * stack emits parses with sf_wire_parse and has the form the connection
 * agreed (check_emitted); every state change is an edge of RFC 9293's
 * diagram (check_event); and the bytes are the user's: every byte sent
 * on sequence number s is pattern(s), whoever sends it, so that what a
 * user reads, and what a stack sends, is checked byte for byte against
 * where it sits in the stream. At the end both stacks are freed, and
 * LeakSanitizer finds what was not.
 *
 * Internal header: the invariants read the TCB (core/tcb.h). */
#include "fuzz.h"
#include "tcb.h"

#include <stdbool.h>
#include <string.h>

/* ---- known bugs the harness steps around ----------------------------------------
 * Temporary guards, each for a bug already reported and being fixed
 * elsewhere, so that fuzzing can go past it. Remove each once its fix has
 * landed. All are on unless the build has SYNFIN_FUZZ_GUARDS=OFF (which
 * defines FUZZ_NO_GUARDS); FUZZ_UNGUARD=NAME,NAME (or "all") in the
 * environment turns those named off, to see whether a bug still bites.
 *
 * TINY_MSS: a peer's SYN with an MSS option of 1..12 and
 * timestamps makes the effective MSS (snd_mss - 12, sf_eff_mss) wrap, and
 * the next data segment overflows the stack's payload buffer
 * (core/output.c, send_one). The guard raises every MSS option the
 * harness sends to at least 64 and drops corrupted SYNs carrying a
 * smaller one.
 *
 * CLOSE_WITH: sf_close_with (core/user.c) with more data than
 * the send buffer has room for queues what fits and fails with SF_EAGAIN,
 * no FIN sent: a caller that tries again sends that part twice. The guard
 * counts what was queued instead of failing.
 *
 * FORGET_LISTENER: sf_forget on a listener (core/user.c, then
 * conn_retire in core/stack.c) leaves its children pointing at it; once
 * the user releases it, a child that closes reads the freed listener
 * (sf_conn_detach). The guard closes a listener instead of forgetting it.
 *
 * BATCH_RELEASE: sf_conn_release of a CLOSED connection frees
 * it at once, even when a batch's list of deferred output names it
 * (core/stack.c): sf_stack_batch_end then reads freed memory. The guard
 * releases nothing while its host has a batch open.
 *
 * SYN_EDGE: a SYN-ACK sent again after a segment that announced
 * a scaled window larger than 65535 (FIN_WAIT_1 reached from SYN_RCVD)
 * sets RCV.ADV to RCV.NXT + the SYN's unscaled window (core/output.c
 * sf_send_syn): the right edge moves left. The guard leaves connections
 * whose SYN is not yet acknowledged out of that check.
 *
 * LAND: a listener takes a SYN whose source is its own address and port
 * (a forged one, the LAND attack, or the retransmitted SYN of its own host's
 * connection to itself), and the child it makes is its own peer with two
 * ISNs: every segment it sends itself is unacceptable to itself and draws
 * another (core/input.c sf_input_listen). The guard leaves packets a host
 * sends to its own address and port out of the check that the wire settles.
 *
 * PROBE_ACK_LOOP: a zero-window probe is one new byte (core/output.c
 * sf_send_probe), so SND.NXT passes the peer's RCV.NXT by one; when the
 * peer's window is closed too (or the connection is its own peer), each
 * ACK is unacceptable to the other side and draws another (core/input.c):
 * an ACK war. The guard skips the check that the wire settles while any
 * connection probes a zero window.
 *
 * STALE_ACK_SEQ: after the RTO rewinds SND.NXT to SND.UNA
 * (go-back-N), bare ACKs carry SEQ = SND.NXT (core/output.c sf_send_ack),
 * which can be below the peer's RCV.NXT: the peer drops them as
 * unacceptable and answers with its own, and if its SND.NXT is rewound
 * too, so on for ever. The guard skips the check that the wire settles
 * while any connection has SND.NXT behind SND.MAX.
 *
 * DESYNC_ACK_WAR: segments a third party forges (a SYN with
 * its own SEQ and a TSval ahead) can desynchronize a pair so that each
 * drops the other's ACKs (out of the window; PAWS) and answers them with
 * one, neither kind rate-limited (core/input.c). The guard checks that
 * the wire settles only in runs where nothing was forged or corrupted. */
enum {
    TINY_MSS,
    CLOSE_WITH,
    FORGET_LISTENER,
    BATCH_RELEASE,
    SYN_EDGE,
    PROBE_ACK_LOOP,
    LAND,
    STALE_ACK_SEQ,
    DESYNC_ACK_WAR,
    NGUARDS
};
static const char *const guard_names[NGUARDS] = {
    "TINY_MSS",       "CLOSE_WITH", "FORGET_LISTENER", "BATCH_RELEASE", "SYN_EDGE",
    "PROBE_ACK_LOOP", "LAND",       "STALE_ACK_SEQ",   "DESYNC_ACK_WAR"};

/* Whether guard g is on: read once from the build and FUZZ_UNGUARD. */
static bool guard(int g)
{
    static int on = -1; /* a bit per guard */
    if (on < 0) {
        /* every bug these guards stood for is fixed (with a regression spec
         * each): they stay, off, to replay what they stepped around
         * (FUZZ_GUARD=NAME,NAME or all turns them on again) */
        on = 0;
        const char *again = getenv("FUZZ_GUARD");
        for (int i = 0; again && i < NGUARDS; i++)
            if (strstr(again, guard_names[i]) || strcmp(again, "all") == 0) on |= 1 << i;
        const char *off = getenv("FUZZ_UNGUARD");
        for (int i = 0; off && i < NGUARDS; i++)
            if (strstr(off, guard_names[i]) || strcmp(off, "all") == 0) on &= ~(1 << i);
    }
    return (on >> g) & 1;
}

#define ADDR_A      sf_addr_v4(0x0a000001u) /* 10.0.0.1 */
#define ADDR_B      sf_addr_v4(0x0a000002u) /* 10.0.0.2 */
#define ADDR_X      sf_addr_v4(0x0a000003u) /* a third party with no stack: the fuzzer */
#define ADDR_ROUTER sf_addr_v4(0x0a0000feu) /* where ICMP errors come from */
#define SLOTS       8                       /* connections a user holds per host */
#define WIRE_MAX    32                      /* packets in flight; the oldest is lost past that */
#define MAX_OPS     1500
#define MAX_CONNS   4096 /* more on one stack's list is a loop */
#define MAX_IDS     8192 /* connection ids whose window edge is followed */

/* ---- the world --------------------------------------------------------------- */

/* A connection the user holds, with how many bytes of its stream the user
 * has given it and read from it. */
typedef struct {
    sf_conn *c;
    uint32_t sent, read;
} slot;

typedef struct {
    sf_stack *st;
    sf_addr addr;
    slot slots[SLOTS];
    bool batch; /* between sf_stack_batch_begin and _end */
} host;

typedef struct {
    uint8_t *data;
    size_t len;
} wire_pkt;

static struct {
    host h[2];
    wire_pkt wire[WIRE_MAX];
    int nwire;
    uint64_t now;
    /* a corrupted packet delivered data that is not pattern(seq): what
     * users read is no longer checked */
    bool tainted;
    bool trace;  /* FUZZ_TRACE set: ops, segments and state changes on stderr */
    bool forged; /* a segment was crafted, corrupted or made of raw bytes */
    /* the right edge of the window each connection announced last
     * (RCV.NXT + RCV.WND), by host and connection id, 0: none seen */
    uint32_t edge[2][MAX_IDS];
} W;

/* The byte every sender puts at sequence number s. */
static uint8_t pattern(uint32_t s)
{
    return (uint8_t)((s * 0x9e3779b1u) >> 24);
}

static void fill_pattern(uint8_t *buf, uint32_t seq, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        buf[i] = pattern(seq + i);
}

static bool is_pattern(const uint8_t *buf, uint32_t seq, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (buf[i] != pattern(seq + i)) return false;
    return true;
}

static int host_of(sf_addr addr)
{
    return sf_addr_eq(addr, ADDR_A) ? 0 : sf_addr_eq(addr, ADDR_B) ? 1 : -1;
}

static bool in_all_list(const sf_stack *st, const sf_conn *c)
{
    int n = 0;
    for (const sf_conn *x = st->all; x && n < MAX_CONNS; x = x->all_next, n++)
        if (x == c) return true;
    return false;
}

/* ---- the callbacks: every packet and every event is checked as it comes ------- */

/* The edges of RFC 9293's state diagram (Figure 5), plus those synfin adds
 * on purpose: any state to CLOSED (ABORT, a RST, a timeout), SYN_RCVD back
 * to LISTEN (a passive child reset, §3.10.7.4), SYN_RCVD to FIN_WAIT_1
 * (CLOSE in SYN_RCVD, §3.10.4). */
static bool legal_edge(sf_state from, sf_state to)
{
    if (to == SF_CLOSED) return from != SF_CLOSED;
    switch (from) {
    case SF_CLOSED: return to == SF_LISTEN || to == SF_SYN_SENT;
    case SF_LISTEN: return to == SF_SYN_RCVD; /* a child, born a copy of its listener */
    case SF_SYN_SENT: return to == SF_SYN_RCVD || to == SF_ESTABLISHED;
    case SF_SYN_RCVD:
        return to == SF_ESTABLISHED || to == SF_FIN_WAIT_1 || to == SF_CLOSE_WAIT ||
               to == SF_LISTEN;
    case SF_ESTABLISHED: return to == SF_FIN_WAIT_1 || to == SF_CLOSE_WAIT;
    case SF_FIN_WAIT_1: return to == SF_FIN_WAIT_2 || to == SF_CLOSING || to == SF_TIME_WAIT;
    case SF_FIN_WAIT_2: return to == SF_TIME_WAIT;
    case SF_CLOSE_WAIT: return to == SF_LAST_ACK;
    case SF_CLOSING: return to == SF_TIME_WAIT;
    default: return false; /* LAST_ACK and TIME_WAIT only close */
    }
}

static void on_event(void *ud, const sf_event *ev)
{
    host *h = ud;
    if (W.trace)
        fprintf(stderr, "    %c conn %u: %s%s%s %s\n", sf_addr_eq(h->addr, ADDR_A) ? 'A' : 'B',
                ev->conn_id, ev->type == SF_EV_STATE ? sf_state_name(ev->old_state) : "",
                ev->type == SF_EV_STATE ? " -> " : "event ",
                ev->type == SF_EV_STATE ? sf_state_name(ev->new_state) : "",
                ev->why ? ev->why : "");
    if (!ev->conn) return;
    FUZZ_CHECK(in_all_list(h->st, ev->conn), "event %d names a connection the stack freed",
               ev->type);
    FUZZ_CHECK(ev->conn_id == ev->conn->id, "event conn_id %u for connection %u", ev->conn_id,
               ev->conn->id);
    if (ev->type != SF_EV_STATE) return;
    FUZZ_CHECK(ev->new_state == ev->conn->state, "event says %s, connection is %s",
               sf_state_name(ev->new_state), sf_state_name(ev->conn->state));
    FUZZ_CHECK(legal_edge(ev->old_state, ev->new_state), "%s -> %s (%s) is no edge of the diagram",
               sf_state_name(ev->old_state), sf_state_name(ev->new_state), ev->why);
}

/* A packet a stack emits: it parses, it is from this host, it fits the
 * MTU, it has the form its connection agreed, and its data is the user's. */
static void check_emitted(host *h, const sf_conn *c, const uint8_t *pkt, size_t len)
{
    sf_seg s;
    const char *why = NULL;
    FUZZ_CHECK(sf_wire_parse(pkt, len, &s, &why) == 0, "emitted packet does not parse: %s", why);
    if (W.trace) {
        char f[9];
        sf_flags_str(s.flags, f);
        fprintf(stderr, "    %c sends %u>%u %s seq %u ack %u win %u len %u%s\n",
                sf_addr_eq(h->addr, ADDR_A) ? 'A' : 'B', s.sport, s.dport, f, s.seq, s.ack, s.wnd,
                s.len, s.has_ts ? " ts" : "");
    }
    FUZZ_CHECK(sf_addr_eq(s.saddr, h->addr), "emitted from %08x by host %08x",
               sf_addr_v4_of(s.saddr), sf_addr_v4_of(h->addr));
    FUZZ_CHECK(len <= h->st->cfg.mtu, "emitted %zu bytes over an MTU of %u", len, h->st->cfg.mtu);
    if (!c) {
        /* a RST, or a listener's SYN cookie (RFC 4987: a SYN-ACK, no state) */
        bool cookie = (s.flags & (SF_SYN | SF_ACK | SF_RST | SF_FIN)) == (SF_SYN | SF_ACK);
        FUZZ_CHECK((s.flags & SF_RST) || cookie,
                   "a packet for no connection that is neither a RST nor a SYN cookie");
        FUZZ_CHECK(s.len == 0, "a packet for no connection with data");
        return;
    }
    FUZZ_CHECK(in_all_list(h->st, c), "emitted for a freed connection");
    if (c->is_listener) return; /* none: a listener's RSTs are for no connection */
    FUZZ_CHECK(sf_addr_eq(s.daddr, c->raddr) && s.sport == c->lport && s.dport == c->rport,
               "emitted on another 4-tuple than its connection's");
    bool syn = s.flags & SF_SYN;
    /* RFC 7323 §3.2: once agreed, timestamps on every segment but a RST;
     * never without agreement except on our SYN */
    if (!syn && !(s.flags & SF_RST))
        FUZZ_CHECK(s.has_ts == c->ts_ok, "timestamps %u on a connection that agreed %u", s.has_ts,
                   c->ts_ok);
    FUZZ_CHECK(syn || (s.mss == 0 && s.wscale < 0 && !s.sack_perm),
               "SYN-only options on a segment without SYN");
    /* RFC 2018: SACK blocks only when agreed, each above the ACK; RFC 2883
     * §4: with D-SACK on, the first may report a duplicate instead, at or
     * below the ACK or within the second block */
    FUZZ_CHECK(s.sack_n == 0 || c->sack_ok, "SACK blocks without SACK-permitted");
    for (int i = 0; i < s.sack_n; i++) {
        uint32_t left = s.sack[i][0], right = s.sack[i][1];
        bool dsack = i == 0 && c->pol.dsack &&
                     (sf_seq_le(right, s.ack) || (s.sack_n > 1 && sf_seq_ge(left, s.sack[1][0]) &&
                                                  sf_seq_le(right, s.sack[1][1])));
        FUZZ_CHECK(sf_seq_lt(left, right) && (sf_seq_gt(left, s.ack) || dsack),
                   "SACK block %u-%u with ACK %u", left, right, s.ack);
    }
    if (s.len) {
        uint32_t data_seq = s.seq + (syn ? 1u : 0u);
        FUZZ_CHECK(is_pattern(s.payload, data_seq, s.len),
                   "%u bytes sent at %u are not the user's data", s.len, data_seq);
        FUZZ_CHECK(sf_seq_ge(data_seq, c->snd_una) && sf_seq_le(data_seq + s.len, c->snd_max),
                   "data %u..%u sent outside SND.UNA %u..SND.MAX %u", data_seq, data_seq + s.len,
                   c->snd_una, c->snd_max);
        /* RFC 9293 §3.8.6: never past the window the peer offered (a probe
         * of a zero window sends one byte, §3.8.6.1) */
        uint32_t wnd = c->snd_wnd ? c->snd_wnd : 1;
        FUZZ_CHECK(sf_seq_le(data_seq + s.len, c->snd_una + wnd),
                   "data up to %u sent past the peer's window, SND.UNA %u + SND.WND %u",
                   data_seq + s.len, c->snd_una, c->snd_wnd);
    }
}

static void on_emit(void *ud, sf_conn *c, const uint8_t *pkt, size_t len)
{
    host *h = ud;
    check_emitted(h, c, pkt, len);
    if (host_of(sf_addr_v4((uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 |
                           (uint32_t)pkt[18] << 8 | pkt[19])) < 0)
        return;                /* to the third party: the fuzzer crafts its own */
    if (W.nwire == WIRE_MAX) { /* the oldest is lost */
        free(W.wire[0].data);
        memmove(W.wire, W.wire + 1, (WIRE_MAX - 1) * sizeof W.wire[0]);
        W.nwire--;
    }
    uint8_t *copy = malloc(len);
    if (!copy) abort();
    memcpy(copy, pkt, len);
    W.wire[W.nwire].data = copy;
    W.wire[W.nwire].len = len;
    W.nwire++;
}

/* ---- invariants ---------------------------------------------------------------- */

static void check_ring(const sf_ring *r, const char *name, uint32_t id)
{
    FUZZ_CHECK(r->len <= r->cap, "conn %u %s: %u bytes in a ring of %u", id, name, r->len, r->cap);
    FUZZ_CHECK(r->size <= r->cap && r->len <= r->size,
               "conn %u %s: %u bytes in %u of storage, capacity %u", id, name, r->len, r->size,
               r->cap);
    FUZZ_CHECK(r->size == 0 ? r->head == 0 : r->head < r->size, "conn %u %s: head %u, storage %u",
               id, name, r->head, r->size);
    FUZZ_CHECK(r->data || r->len == 0, "conn %u %s: %u bytes and no storage", id, name, r->len);
}

static bool timers_on(const sf_conn *c, uint64_t *earliest)
{
    uint64_t d = SF_NO_DEADLINE;
    for (int t = 0; t < SF_TIMER_COUNT; t++)
        if (c->timer_at[t] && c->timer_at[t] < d) d = c->timer_at[t];
    *earliest = d;
    return d != SF_NO_DEADLINE;
}

/* A listener's queue: its children, linked both ways, counted, bounded. */
static void check_queue(const sf_stack *st, const sf_conn *l, const sf_child_queue *q,
                        const char *name)
{
    uint32_t n = 0;
    const sf_conn *prev = NULL;
    for (const sf_conn *k = q->head; k && n <= 65536; prev = k, k = k->child_next, n++) {
        FUZZ_CHECK(k->listener == l, "child %u of listener %u names another", k->id, l->id);
        FUZZ_CHECK(k->queue == q, "child %u of listener %u: in the %s, says another", k->id, l->id,
                   name);
        FUZZ_CHECK(k->child_prev == prev, "child %u of listener %u: broken back link", k->id,
                   l->id);
        FUZZ_CHECK(in_all_list(st, k), "listener %u has a freed child", l->id);
    }
    FUZZ_CHECK(q->tail == prev, "listener %u: the %s's tail is not its last", l->id, name);
    FUZZ_CHECK(n == q->len, "listener %u: %u children in the %s, %u counted", l->id, n, name,
               q->len);
    FUZZ_CHECK(q->len <= l->backlog, "listener %u: %u in the %s, backlog %u", l->id, q->len, name,
               l->backlog);
}

static void check_conn(const sf_stack *st, const sf_conn *c)
{
    uint32_t id = c->id;
    FUZZ_CHECK(c->stack == st, "conn %u on another stack's list", id);
    FUZZ_CHECK(c->state < SF_STATE_COUNT, "conn %u in state %d", id, c->state);
    check_ring(&c->sndbuf, "send buffer", id);
    check_ring(&c->rcvbuf, "receive buffer", id);

    /* the timer heap holds every open connection with a timer, at its earliest */
    uint64_t earliest;
    bool armed = timers_on(c, &earliest);
    bool retired = c->state == SF_CLOSED || (c->state == SF_LISTEN && !c->is_listener);
    const sf_heap_node *node = &c->timer_node;
    if (node->idx != SF_HEAP_OUT) {
        FUZZ_CHECK(!retired, "conn %u (%s) still in the timer heap", id, sf_state_name(c->state));
        FUZZ_CHECK(node->idx < st->timers.len && st->timers.a[node->idx] == node,
                   "conn %u: heap index %u is not its place", id, node->idx);
        FUZZ_CHECK(armed && node->deadline == earliest,
                   "conn %u in the heap at %llu, its earliest timer is %llu", id,
                   (unsigned long long)node->deadline, (unsigned long long)earliest);
    } else {
        FUZZ_CHECK(retired || !armed, "conn %u (%s) has a timer at %llu but is not in the heap", id,
                   sf_state_name(c->state), (unsigned long long)earliest);
    }

    if (c->is_listener) {
        /* the backlog: children not yet accepted, in two queues, each bounded */
        check_queue(st, c, &c->syn_queue, "SYN queue");
        check_queue(st, c, &c->accept_queue, "accept queue");
        return;
    }
    if (c->listener)
        FUZZ_CHECK(in_all_list(st, c->listener), "conn %u: its listener was freed", id);
    if (retired || c->state == SF_SYN_SENT) {
        if (c->state == SF_SYN_SENT)
            FUZZ_CHECK(c->snd_una == c->iss && sf_seq_le(c->snd_nxt, c->iss + 1),
                       "conn %u SYN_SENT: SND.UNA %u SND.NXT %u ISS %u", id, c->snd_una, c->snd_nxt,
                       c->iss);
        return;
    }

    /* RFC 9293 §3.3.1: SND.UNA =< SND.NXT =< SND.MAX */
    FUZZ_CHECK(sf_seq_le(c->snd_una, c->snd_nxt) && sf_seq_le(c->snd_nxt, c->snd_max),
               "conn %u %s: SND.UNA %u SND.NXT %u SND.MAX %u", id, sf_state_name(c->state),
               c->snd_una, c->snd_nxt, c->snd_max);
    /* what is in flight is in the send buffer (plus our SYN and FIN) */
    uint32_t syn = sf_syn_unacked(c);
    bool fin_acked = c->fin_sent && sf_seq_gt(c->snd_una, c->fin_seq);
    uint32_t fin_out = c->fin_sent && !fin_acked ? 1u : 0u;
    FUZZ_CHECK(c->snd_max - c->snd_una <= c->sndbuf.len + syn + fin_out,
               "conn %u %s: %u in flight, %u buffered", id, sf_state_name(c->state),
               c->snd_max - c->snd_una, c->sndbuf.len);
    if (fin_out)
        FUZZ_CHECK(c->fin_seq == c->snd_una + syn + c->sndbuf.len,
                   "conn %u: FIN at %u, data ends at %u", id, c->fin_seq,
                   c->snd_una + syn + c->sndbuf.len);
    if (fin_acked) FUZZ_CHECK(c->sndbuf.len == 0, "conn %u: FIN acknowledged, data left", id);

    /* out-of-order ranges: sorted, apart, past RCV.NXT, inside the buffer */
    const sf_range *held = c->ooo.r;
    FUZZ_CHECK(c->ooo.n <= c->ooo.cap && c->ooo.cap <= SF_RANGES_MAX,
               "conn %u: %u held ranges of %u", id, c->ooo.n, c->ooo.cap);
    for (int i = 0; i < c->ooo.n; i++) {
        FUZZ_CHECK(held[i].off > 0 && held[i].len > 0, "conn %u: held range %u+%u", id, held[i].off,
                   held[i].len);
        FUZZ_CHECK((uint64_t)c->rcvbuf.len + held[i].off + held[i].len <= c->rcvbuf.cap,
                   "conn %u: held range %u+%u past a buffer of %u holding %u", id, held[i].off,
                   held[i].len, c->rcvbuf.cap, c->rcvbuf.len);
        if (i > 0)
            FUZZ_CHECK(held[i - 1].off + held[i - 1].len < held[i].off,
                       "conn %u: held ranges %d and %d overlap or touch", id, i - 1, i);
    }
    /* RFC 9293 §3.8.6.2.2, §3.10.7.4: the right edge of the window
     * announced never moves left (a SYN's window is announced unscaled) */
    bool edge_checked = c->state >= SF_ESTABLISHED && c->id < MAX_IDS;
    if (guard(SYN_EDGE) && sf_syn_unacked(c)) edge_checked = false;
    if (edge_checked) {
        uint32_t *last = &W.edge[st == W.h[0].st ? 0 : 1][c->id];
        FUZZ_CHECK(*last == 0 || sf_seq_ge(c->rcv_adv, *last),
                   "conn %u: the window's right edge moved left, %u to %u", id, *last, c->rcv_adv);
        *last = c->rcv_adv ? c->rcv_adv : 1;
    }
    /* the window announced fits in the buffer */
    uint32_t wnd = sf_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    if (c->state != SF_TIME_WAIT)
        FUZZ_CHECK(wnd <= sf_ring_free(&c->rcvbuf), "conn %u: window %u, %u bytes free", id, wnd,
                   sf_ring_free(&c->rcvbuf));

    /* the SACK scoreboard (RFC 6675 §3): sorted, apart, within what was
     * sent. It is pruned to SND.UNA lazily (on the next ACK with blocks),
     * so a range below SND.UNA between ACKs is by design. */
    const sf_range *sacked = c->sacked.r;
    FUZZ_CHECK(c->sacked.n <= c->sacked.cap && c->sacked.cap <= SF_RANGES_MAX,
               "conn %u: %u SACKed ranges of %u", id, c->sacked.n, c->sacked.cap);
    for (int i = 0; i < c->sacked.n; i++) {
        uint32_t left = c->sacked_base + sacked[i].off, right = left + sacked[i].len;
        FUZZ_CHECK(sacked[i].len > 0 && sf_seq_le(right, c->snd_max),
                   "conn %u: SACKed %u-%u, SND.MAX %u", id, left, right, c->snd_max);
        if (i > 0)
            FUZZ_CHECK(sacked[i - 1].off + sacked[i - 1].len < sacked[i].off,
                       "conn %u: SACKed ranges %d and %d overlap or touch", id, i - 1, i);
    }
}

/* A held connection's stream agrees with what its user gave and took. */
static void check_slot(const slot *s)
{
    const sf_conn *c = s->c;
    if (c->is_listener || c->state == SF_CLOSED || c->state == SF_LISTEN) return;
    uint32_t syn = sf_syn_unacked(c);
    uint32_t fin_acked = c->fin_sent && sf_seq_gt(c->snd_una, c->fin_seq) ? 1u : 0u;
    FUZZ_CHECK(c->snd_una + syn + c->sndbuf.len - fin_acked == c->iss + 1 + s->sent,
               "conn %u: the user gave %u bytes, the stream holds %u", c->id, s->sent,
               c->snd_una + syn + c->sndbuf.len - fin_acked - c->iss - 1);
    if (c->state == SF_SYN_SENT) return;
    uint32_t fin = c->fin_received ? 1u : 0u;
    FUZZ_CHECK(c->rcv_nxt - fin - c->rcvbuf.len == c->irs + 1 + s->read,
               "conn %u: the user read %u bytes, the stream says %u", c->id, s->read,
               c->rcv_nxt - fin - c->rcvbuf.len - c->irs - 1);
}

static void count_conn(void *ud, const sf_conn *c)
{
    (void)c;
    ++*(size_t *)ud;
}

static void check_stack(host *h)
{
    sf_stack *st = h->st;
    size_t n = 0, hashed = 0;
    const sf_conn *prev = NULL;
    for (const sf_conn *c = st->all; c; prev = c, c = c->all_next) {
        FUZZ_CHECK(++n < MAX_CONNS, "a loop in the list of connections");
        FUZZ_CHECK(c->all_prev == prev, "the list of connections is broken at conn %u", c->id);
        check_conn(st, c);
        if (c->hashed && !c->is_listener) {
            hashed++;
            FUZZ_CHECK(sf_stack_lookup(st, c->laddr, c->raddr, c->lport, c->rport) == c,
                       "conn %u is hashed but another has its 4-tuple", c->id);
        }
        sf_conn_info info;
        sf_conn_status(c, &info);
        FUZZ_CHECK(info.state == c->state && info.snd_una == c->snd_una, "status disagrees");
    }
    FUZZ_CHECK(hashed == st->nconns && sf_stack_conn_count(st) == hashed + st->ntw,
               "%zu connections hashed (and %zu TIME_WAIT records), %zu counted", hashed, st->ntw,
               st->nconns);
    size_t listed = 0;
    sf_stack_foreach(st, count_conn, &listed);
    FUZZ_CHECK(listed <= n + st->ntw, "foreach lists %zu of %zu", listed, n + st->ntw);
    /* the timer heap: each in its place, each parent no later than its children */
    for (size_t i = 0; i < st->timers.len; i++) {
        const sf_heap_node *node = st->timers.a[i];
        FUZZ_CHECK(node->idx == i, "heap slot %zu holds a node with index %u", i, node->idx);
        FUZZ_CHECK(in_all_list(st, sf_conn_of_timer((sf_heap_node *)node)),
                   "the heap holds a freed connection");
        if (i > 0)
            FUZZ_CHECK(st->timers.a[(i - 1) / 2]->deadline <= node->deadline,
                       "timer heap out of order at %zu", i);
    }
    for (const sf_conn *c = st->reap; c; c = c->hash_next)
        FUZZ_CHECK(!c->held && !c->hashed, "conn %u to be reaped is held or hashed", c->id);
    for (int i = 0; i < SLOTS; i++) {
        if (!h->slots[i].c) continue;
        FUZZ_CHECK(in_all_list(st, h->slots[i].c), "a held connection was freed");
        FUZZ_CHECK(h->slots[i].c->held, "conn %u in a user's hands is not held", h->slots[i].c->id);
        check_slot(&h->slots[i]);
    }
}

/* ---- configuration: the program's first bytes ----------------------------------------- */

static void configure(fz_in *in, host *h, sf_addr address)
{
    uint32_t addr = sf_addr_v4_of(address);
    sf_config cfg;
    sf_config_default(&cfg);
    uint8_t a = fz_u8(in), b = fz_u8(in), c = fz_u8(in);
    sf_policy *p = &cfg.policy;
    p->timestamps = !(a & 1);
    p->sack = !(a & 2);
    p->window_scaling = !(a & 4);
    p->nagle = (a & 8) != 0;
    p->delayed_ack = (a & 16) ? 40000 : 0;
    p->tail_loss_probe = (a & 32) != 0;
    p->congestion_control =
        (uint8_t)((a & 64) ? SF_CC_NONE : SF_CC_NEWRENO + addr % 2); /* or cubic */
    if (a & 128) { /* sequence numbers about to wrap */
        cfg.fixed_isn = 1;
        cfg.isn = 0xffffff00u - (addr & 0xff) * 0x1000u;
    } else {
        for (size_t i = 0; i < sizeof cfg.secret; i++)
            cfg.secret[i] = (uint8_t)(addr * 7 + i);
    }
    static const uint32_t rcv_bufs[] = {65535, 4096, 1000, 300000};
    static const uint32_t snd_bufs[] = {65536, 3000, 100, 300000};
    static const uint16_t msses[] = {1460, 536, 100, 64};
    p->rcv_buf = rcv_bufs[b & 3];
    p->snd_buf = snd_bufs[(b >> 2) & 3];
    p->mss = msses[(b >> 4) & 3];
    cfg.mtu = (b & 64) ? 576 : 1500;
    p->max_retries = (b & 128) ? 3 : 6;
    p->syn_retries = (b & 128) ? 2 : 4;
    if (c & 1) {
        p->keepalive = 10000000;
        p->keepalive_interval = 1000000;
        p->keepalive_probes = 3;
    }
    if (c & 2) p->user_timeout = 20000000;
    if (c & 4) p->fin_wait_2_timeout = 15000000;
    p->rst_in_time_wait = (c & 8) ? SF_TW_RST_IGNORE : SF_TW_RST_CLOSE;
    p->syn_in_time_wait = (c & 16) ? SF_TW_SYN_CHALLENGE : SF_TW_SYN_REOPEN;
    cfg.challenge_ack_limit = (c & 32) ? 2 : 1000;
    if (c & 64) cfg.quiet_time = 2000000;
    p->msl = (c & 128) ? 1000000 : 30000000;
    p->r1 = 2;
    cfg.addrs[0] = address;
    cfg.naddrs = 1;
    sf_callbacks cb = {on_emit, on_event};
    h->addr = address;
    h->st = sf_stack_new(&cfg, &cb, h);
    if (!h->st) abort();
}

/* ---- ops --------------------------------------------------------------------------------- */

enum {
    OP_CONNECT,
    OP_LISTEN,
    OP_ACCEPT,
    OP_LOOKUP,
    OP_SEND,
    OP_RECV,
    OP_CLOSE,
    OP_CLOSE_WITH,
    OP_ABORT,
    OP_FORGET,
    OP_RELEASE,
    OP_POLICY,
    OP_DELIVER,
    OP_DELIVER_ALL,
    OP_DROP,
    OP_DUP,
    OP_SWAP,
    OP_CORRUPT,
    OP_CRAFT,
    OP_ICMP,
    OP_GARBAGE,
    OP_TICK,
    OP_BATCH_BEGIN,
    OP_BATCH_END,
    NOPS
};

static const uint16_t ports[] = {80, 81, 1000, 1001};

static host *pick_host(fz_in *in)
{
    return &W.h[fz_u8(in) & 1];
}

/* A slot of the host: a free one (want_free) or a held connection. */
static slot *pick_slot(fz_in *in, host *h, bool want_free)
{
    uint8_t k = fz_u8(in);
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &h->slots[(k + i) % SLOTS];
        if ((s->c == NULL) == want_free) return s;
    }
    return NULL;
}

/* The n-th connection on the stack's list (listeners and children that
 * nobody holds included), or NULL past the end. */
static sf_conn *pick_conn(host *h, uint8_t k)
{
    int n = 0;
    for (sf_conn *c = h->st->all; c; c = c->all_next)
        n++;
    if (n == 0 || k % (n + 1) == n) return NULL;
    sf_conn *c = h->st->all;
    for (int i = 0; i < k % (n + 1); i++)
        c = c->all_next;
    return c;
}

static bool held_in_slot(const host *h, const sf_conn *c)
{
    for (int i = 0; i < SLOTS; i++)
        if (h->slots[i].c == c) return true;
    return false;
}

static void take(slot *s, sf_conn *c)
{
    s->c = c;
    /* what the stream already holds (a child has data it received before
     * it was accepted; a connection looked up again had a user before) */
    uint32_t fin_acked = c->fin_sent && sf_seq_gt(c->snd_una, c->fin_seq) ? 1u : 0u;
    s->sent = c->snd_una + sf_syn_unacked(c) + c->sndbuf.len - fin_acked - c->iss - 1;
    s->read = 0; /* nothing received before the peer's SYN (IRS unknown yet) */
    if (c->state != SF_SYN_SENT && !c->is_listener)
        s->read = c->rcv_nxt - (c->fin_received ? 1u : 0u) - c->rcvbuf.len - c->irs - 1;
}

static void op_connect(fz_in *in)
{
    host *h = pick_host(in);
    uint8_t b = fz_u8(in);
    slot *s = pick_slot(in, h, true);
    if (!s) return;
    sf_addr other = h == &W.h[0] ? ADDR_B : ADDR_A;
    sf_addr raddr = (b & 3) == 0 ? ADDR_X : (b & 3) == 3 ? h->addr : other; /* 3: itself */
    uint16_t rport = ports[(b >> 2) & 3];
    uint16_t lport = (b & 16) ? ports[(b >> 5) & 3] : 0;
    int err;
    sf_conn *c = sf_connect(h->st, W.now, NULL, raddr, rport, lport, NULL, &err);
    FUZZ_CHECK(c || err < 0, "sf_connect failed without an error");
    if (c) take(s, c);
}

static void op_listen(fz_in *in)
{
    host *h = pick_host(in);
    uint8_t b = fz_u8(in);
    slot *s = pick_slot(in, h, true);
    if (!s) return;
    int err;
    sf_conn *l = sf_listen(h->st, W.now, ports[b & 3], (b >> 2) % 5, NULL, &err);
    FUZZ_CHECK(l || err < 0, "sf_listen failed without an error");
    if (l) take(s, l);
}

static void op_accept(fz_in *in)
{
    host *h = pick_host(in);
    slot *l = pick_slot(in, h, false);
    slot *s = pick_slot(in, h, true);
    if (!l || !s) return;
    sf_conn *c = sf_accept(l->c);
    if (!c) return;
    FUZZ_CHECK(c->held && !c->listener, "an accepted connection is not the user's");
    if (!held_in_slot(h, c)) take(s, c); /* (or the user looked it up before) */
}

/* sf_stack_lookup of a connection's 4-tuple, and the user holds what it
 * finds (what the Lua binding does for sim:lookup). */
static void op_lookup(fz_in *in)
{
    host *h = pick_host(in);
    sf_conn *k = pick_conn(h, fz_u8(in));
    slot *s = pick_slot(in, h, true);
    if (!k || !s) return;
    sf_conn *c = sf_stack_lookup(h->st, k->laddr, k->raddr, k->lport, k->rport);
    if (!c || held_in_slot(h, c)) return;
    sf_conn_hold(c);
    take(s, c);
}

static void op_send(fz_in *in)
{
    host *h = pick_host(in);
    slot *s = pick_slot(in, h, false);
    uint8_t how = fz_u8(in);
    uint32_t len = fz_u16(in) % ((how & 1) ? 70000u : 3000u);
    if (!s) return;
    sf_conn *c = s->c;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) abort();
    fill_pattern(buf, c->iss + 1 + s->sent, len);
    int n = (how & 2) ? sf_send_urgent(c, W.now, buf, len) : sf_send(c, W.now, buf, len);
    free(buf);
    FUZZ_CHECK(n <= (int)len, "sf_send took %d of %u bytes", n, len);
    if (n > 0) s->sent += (uint32_t)n;
}

static void op_recv(fz_in *in)
{
    host *h = pick_host(in);
    slot *s = pick_slot(in, h, false);
    uint32_t cap = fz_u16(in) % 5000u + 1;
    if (!s) return;
    sf_conn *c = s->c;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    int n = sf_recv(c, W.now, buf, cap);
    FUZZ_CHECK(n <= (int)cap, "sf_recv gave %d bytes for %u", n, cap);
    if (n > 0) {
        if (!W.tainted)
            FUZZ_CHECK(is_pattern(buf, c->irs + 1 + s->read, (uint32_t)n),
                       "conn %u: %d bytes read at offset %u are not what was sent", c->id, n,
                       s->read);
        s->read += (uint32_t)n;
    }
    free(buf);
}

static void op_close_with(fz_in *in)
{
    host *h = pick_host(in);
    slot *s = pick_slot(in, h, false);
    uint32_t len = fz_u16(in) % 5000u;
    if (!s) return;
    sf_conn *c = s->c;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) abort();
    fill_pattern(buf, c->iss + 1 + s->sent, len);
    sf_state was = c->state;
    uint32_t before = c->sndbuf.len;
    int rc = sf_close_with(c, W.now, buf, len);
    free(buf);
    uint32_t after = c->sndbuf.len;
    /* the data is queued whole with the FIN, or the call fails and queues
     * nothing: a caller that tries again must not send a part twice */
    if (rc == SF_OK && (was == SF_ESTABLISHED || was == SF_CLOSE_WAIT))
        FUZZ_CHECK(after - before == len, "sf_close_with succeeded with %u of %u bytes queued",
                   after - before, len);
    if (rc != SF_OK && !guard(CLOSE_WITH))
        FUZZ_CHECK(after <= before, "sf_close_with failed (%s) with %u of %u bytes queued",
                   sf_strerror(rc), after - before, len);
    if (after > before) s->sent += after - before;
}

/* CLOSE, ABORT, FORGET: the user's calls that end a connection. */
static void op_end(fz_in *in, int (*fn)(sf_conn *, uint64_t))
{
    host *h = pick_host(in);
    slot *s = pick_slot(in, h, false);
    if (!s) return;
    if (guard(FORGET_LISTENER) && fn == sf_forget && s->c->is_listener) fn = sf_close;
    int rc = fn(s->c, W.now);
    FUZZ_CHECK(rc <= 0, "a user call returned %d", rc);
}

static void op_release(fz_in *in)
{
    host *h = pick_host(in);
    slot *s = pick_slot(in, h, false);
    if (!s) return;
    if (guard(BATCH_RELEASE) && h->batch) return;
    sf_conn_release(s->c);
    s->c = NULL;
}

/* A policy change on a held connection (what conn:set allows in Lua). */
static void op_policy(fz_in *in)
{
    host *h = pick_host(in);
    slot *s = pick_slot(in, h, false);
    uint8_t b = fz_u8(in);
    if (!s) return;
    sf_policy *p = sf_conn_policy(s->c);
    switch (b & 7) {
    case 0: p->nagle = !p->nagle; break;
    case 1: p->delayed_ack = p->delayed_ack ? 0 : 100000; break;
    case 2:
        p->keepalive = p->keepalive ? 0 : 5000000;
        p->keepalive_interval = 1000000;
        break;
    case 3: p->user_timeout = p->user_timeout ? 0 : 3000000; break;
    case 4: p->tail_loss_probe = !p->tail_loss_probe; break;
    case 5: p->congestion_control = (uint8_t)((p->congestion_control + 1) % 3); break;
    case 6: p->fin_wait_2_timeout = p->fin_wait_2_timeout ? 0 : 2000000; break;
    default: p->max_retries = b >> 4; break;
    }
}

static void end_batch(host *h)
{
    if (!h->batch) return;
    h->batch = false;
    sf_stack_batch_end(h->st, W.now);
}

/* Hands wire packet i to its host (in a batch if one is open there). */
static void deliver(int i)
{
    wire_pkt p = W.wire[i];
    memmove(W.wire + i, W.wire + i + 1, (size_t)(W.nwire - i - 1) * sizeof W.wire[0]);
    W.nwire--;
    int to = host_of(sf_addr_v4((uint32_t)p.data[16] << 24 | (uint32_t)p.data[17] << 16 |
                                (uint32_t)p.data[18] << 8 | p.data[19]));
    if (to >= 0) sf_stack_input(W.h[to].st, W.now, p.data, p.len);
    free(p.data);
}

static void op_deliver(fz_in *in)
{
    uint8_t k = fz_u8(in);
    if (W.nwire) deliver(k % W.nwire);
}

/* Everything in flight arrives together: one batch per host (MUST-59),
 * as the sim does it. */
static void op_deliver_all(void)
{
    bool began[2];
    for (int i = 0; i < 2; i++) {
        began[i] = !W.h[i].batch;
        if (began[i]) {
            W.h[i].batch = true;
            sf_stack_batch_begin(W.h[i].st);
        }
    }
    for (int n = W.nwire; n > 0 && W.nwire > 0; n--)
        deliver(0);
    for (int i = 0; i < 2; i++)
        if (began[i]) end_batch(&W.h[i]);
}

static void remove_pkt(int i)
{
    free(W.wire[i].data);
    memmove(W.wire + i, W.wire + i + 1, (size_t)(W.nwire - i - 1) * sizeof W.wire[0]);
    W.nwire--;
}

static void op_drop(fz_in *in)
{
    uint8_t k = fz_u8(in);
    if (W.nwire) remove_pkt(k % W.nwire);
}

static void op_dup(fz_in *in)
{
    uint8_t k = fz_u8(in);
    if (!W.nwire || W.nwire == WIRE_MAX) return;
    wire_pkt p = W.wire[k % W.nwire];
    uint8_t *copy = malloc(p.len);
    if (!copy) abort();
    memcpy(copy, p.data, p.len);
    W.wire[W.nwire].data = copy;
    W.wire[W.nwire].len = p.len;
    W.nwire++;
}

static void op_swap(fz_in *in)
{
    uint8_t a = fz_u8(in), b = fz_u8(in);
    if (W.nwire < 2) return;
    wire_pkt t = W.wire[a % W.nwire];
    W.wire[a % W.nwire] = W.wire[b % W.nwire];
    W.wire[b % W.nwire] = t;
}

/* Whether the stack must not see this packet while a known bug is open
 * (see the guards at the top). */
static bool guarded(const uint8_t *pkt, size_t len)
{
    sf_seg s;
    if (guard(TINY_MSS) && sf_wire_parse(pkt, len, &s, NULL) == 0 && (s.flags & SF_SYN) &&
        s.mss > 0 && s.mss < 64)
        return true;
    return false;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* RFC 1071 over the IPv4 header, after a change to it. */
static void fix_ip_checksum(uint8_t *pkt)
{
    put16(pkt + 10, 0);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)pkt[i] << 8 | pkt[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(pkt + 10, (uint16_t)~sum);
}

/* A packet in flight changed in one byte of its headers (or its data),
 * its checksums mended so that it reaches the state machine. */
static void op_corrupt(fz_in *in)
{
    uint8_t k = fz_u8(in), off = fz_u8(in), x = fz_u8(in);
    if (!W.nwire || x == 0) return;
    W.forged = true;
    wire_pkt *p = &W.wire[k % W.nwire];
    size_t at = 20 + off % (p->len - 20); /* the IPv4 header stays as it is */
    p->data[at] ^= x;
    sf_wire_fill_tcp_checksum(p->data, p->len);
    fix_ip_checksum(p->data);
    sf_seg s;
    if (sf_wire_parse(p->data, p->len, &s, NULL) == 0 && s.len &&
        !is_pattern(s.payload, s.seq + ((s.flags & SF_SYN) ? 1u : 0u), s.len))
        W.tainted = true; /* its data no longer sits where its sequence number says */
    if (guarded(p->data, p->len)) remove_pkt(k % W.nwire);
}

/* Flags a crafted segment carries most of the time. */
static const uint8_t flag_sets[16] = {
    SF_SYN,          SF_SYN | SF_ACK,          SF_ACK,          SF_ACK | SF_PSH,
    SF_ACK | SF_FIN, SF_ACK | SF_FIN | SF_PSH, SF_RST,          SF_RST | SF_ACK,
    SF_ACK,          SF_ACK | SF_URG,          SF_FIN,          SF_SYN | SF_FIN,
    SF_ACK | SF_PSH, SF_SYN | SF_ACK | SF_FIN, SF_ACK | SF_ECE, 0,
};

/* A number relative to one of the connection's (mode 0-2, a small or a
 * larger step either way), or any number (mode 3). */
static uint32_t relative(fz_in *in, uint8_t mode, uint32_t a, uint32_t b, uint32_t c)
{
    switch (mode & 3) {
    case 0: return a + (uint32_t)(int32_t)(int8_t)fz_u8(in);
    case 1: return b + (uint32_t)(int32_t)(int16_t)fz_u16(in);
    case 2: return c + (uint32_t)(int32_t)(int8_t)fz_u8(in);
    default: return fz_u32(in);
    }
}

/* The fuzzer as a peer: a segment to a connection of the host (or to a
 * listener from a new port, or to nobody), with good checksums. */
static void op_craft(fz_in *in)
{
    host *h = pick_host(in);
    sf_conn *c = pick_conn(h, fz_u8(in));
    uint8_t f = fz_u8(in), modes = fz_u8(in), opts = fz_u8(in);
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.wscale = -1;
    s.daddr = h->addr;
    s.ttl = 64;
    if (c && !c->is_listener && c->state != SF_CLOSED) {
        s.saddr = c->raddr;
        s.sport = c->rport;
        s.dport = c->lport;
    } else {
        uint8_t b = fz_u8(in);
        s.saddr = (b & 1) ? ADDR_X : h == &W.h[0] ? ADDR_B : ADDR_A;
        s.sport = (uint16_t)(2000 + ((b >> 1) & 3));
        s.dport = c && c->is_listener ? c->lport : ports[(b >> 3) & 3];
        c = NULL;
    }
    s.flags = f < 0xc0 ? flag_sets[f & 15] : fz_u8(in);
    if (c) {
        s.seq = relative(in, modes, c->rcv_nxt, c->rcv_nxt, c->irs + 1);
        s.ack = relative(in, modes >> 2, c->snd_una, c->snd_nxt, c->snd_max);
    } else {
        s.seq = fz_u32(in);
        s.ack = fz_u32(in);
    }
    uint8_t w = fz_u8(in);
    s.wnd = w < 0x80 ? (uint16_t)(w * 512) : w < 0xc0 ? 65535 : w < 0xf0 ? w & 15 : fz_u16(in);
    if (opts & 1) {
        s.mss = fz_u16(in);
        if (guard(TINY_MSS) && s.mss > 0 && s.mss < 64) s.mss = 64;
    }
    if (opts & 2) s.wscale = (int8_t)(fz_u8(in) & 15);
    if (opts & 4) s.sack_perm = 1;
    if (opts & 8) {
        s.has_ts = 1;
        s.ts_val = c ? relative(in, modes >> 4, c->ts_recent, c->ts_recent, c->ts_recent + 1000)
                     : fz_u32(in);
        s.ts_ecr = c ? sf_ts_now(c, W.now) : 0;
    }
    if ((opts & 16) && c) {
        s.sack_n = (uint8_t)(fz_u8(in) % 4 + 1);
        for (int i = 0; i < s.sack_n; i++) {
            s.sack[i][0] = relative(in, modes >> 6, c->snd_una, c->snd_una, c->snd_max);
            s.sack[i][1] = s.sack[i][0] + fz_u16(in) % 4000u;
        }
    }
    if (opts & 32) s.urp = fz_u16(in);
    uint32_t len = 0;
    if (opts & 64) {
        uint16_t l = fz_u16(in);
        len = (l & 0x8000) ? l % 3000u : l % 200u;
    }
    uint8_t payload[3000], pkt[SF_MAX_PACKET + 3100];
    if (len) {
        fill_pattern(payload, s.seq + ((s.flags & SF_SYN) ? 1u : 0u), len);
        s.payload = payload;
        s.len = len;
    }
    s.bad_csum = (opts & 128) && (modes & 1);
    int n = sf_wire_build(pkt, sizeof pkt, &s);
    FUZZ_CHECK(n > 0, "sf_wire_build of a crafted segment: %d", n);
    W.forged = true;
    sf_stack_input(h->st, W.now, pkt, (size_t)n);
}

/* An ICMP error about a connection's segment in flight (RFC 5927). */
static void op_icmp(fz_in *in)
{
    host *h = pick_host(in);
    sf_conn *c = pick_conn(h, fz_u8(in));
    uint8_t t = fz_u8(in);
    static const uint8_t types[][2] = {{3, 4}, {3, 3},  {3, 2},  {3, 1},
                                       {4, 0}, {11, 0}, {12, 0}, {3, 0}};
    sf_icmp m;
    memset(&m, 0, sizeof m);
    /* (a listener's raddr is none: all zeros, "::", no IPv4 address) */
    sf_addr peer = c && !sf_addr_is_zero(c->raddr) ? c->raddr : ADDR_X;
    m.saddr = (t & 8) ? ADDR_ROUTER : peer;
    m.q_daddr = peer;
    m.daddr = h->addr;
    m.type = types[t & 7][0];
    m.code = types[t & 7][1];
    m.mtu = fz_u16(in);
    m.q_saddr = h->addr;
    if (c) {
        m.q_sport = c->lport;
        m.q_dport = c->rport;
        m.q_seq = (t & 16) ? fz_u32(in) : c->snd_una + fz_u8(in);
    }
    uint8_t pkt[128];
    int n = sf_icmp_build(pkt, sizeof pkt, &m);
    FUZZ_CHECK(n > 0, "sf_icmp_build: %d", n);
    sf_stack_input(h->st, W.now, pkt, (size_t)n);
}

/* Raw bytes to a stack, its headers mended (length, addresses,
 * checksums) or not. */
static void op_garbage(fz_in *in)
{
    host *h = pick_host(in);
    uint8_t how = fz_u8(in);
    size_t len = fz_u8(in);
    uint8_t *pkt = malloc(len ? len : 1);
    if (!pkt) abort();
    for (size_t i = 0; i < len; i++)
        pkt[i] = fz_u8(in);
    if ((how & 1) && len >= 40) {
        pkt[0] = 0x45;
        put16(pkt + 2, (uint16_t)len);
        pkt[6] &= 0x40; /* no fragment */
        pkt[7] = 0;
        pkt[9] = 6;
        for (int i = 0; i < 4; i++)
            pkt[16 + i] = h->addr.b[12 + i];
        if (how & 2)
            for (int i = 0; i < 4; i++)
                pkt[12 + i] = ADDR_X.b[12 + i];
        sf_wire_fill_tcp_checksum(pkt, len);
        fix_ip_checksum(pkt);
    }
    sf_seg s;
    if (sf_wire_parse(pkt, len, &s, NULL) == 0 && s.len) W.tainted = true;
    W.forged = true;
    if (!guarded(pkt, len)) sf_stack_input(h->st, W.now, pkt, len);
    free(pkt);
}

static uint64_t next_deadline(void)
{
    uint64_t a = sf_stack_deadline(W.h[0].st), b = sf_stack_deadline(W.h[1].st);
    return a < b ? a : b;
}

/* The clock moves (a little, a lot, or to the next deadline) and both
 * stacks run their timers; nothing is left due. */
static void op_tick(fz_in *in)
{
    uint8_t b = fz_u8(in);
    uint64_t step;
    switch (b >> 6) {
    case 0: step = (uint64_t)(b & 63) * 1000; break;     /* up to 63 ms */
    case 1: step = (uint64_t)(b & 63) * 100000; break;   /* up to 6.3 s */
    case 2: step = (uint64_t)(b & 63) * 10000000; break; /* up to 630 s */
    default: {
        uint64_t d = next_deadline();
        step = d == SF_NO_DEADLINE || d <= W.now ? 0 : d - W.now;
        break;
    }
    }
    W.now += step;
    for (int i = 0; i < 2; i++) {
        end_batch(&W.h[i]); /* timers never run inside a batch */
        sf_stack_poll(W.h[i].st, W.now);
        /* sf_stack_deadline: never "now" when nothing is due */
        FUZZ_CHECK(sf_stack_deadline(W.h[i].st) > W.now,
                   "host %d: a deadline at %llu is still due at %llu after the poll", i,
                   (unsigned long long)sf_stack_deadline(W.h[i].st), (unsigned long long)W.now);
    }
}

static void run_op(fz_in *in)
{
    uint8_t op = fz_u8(in) % NOPS;
    static const char *const names[NOPS] = {
        "connect", "listen",      "accept",  "lookup", "send",        "recv",
        "close",   "close_with",  "abort",   "forget", "release",     "policy",
        "deliver", "deliver_all", "drop",    "dup",    "swap",        "corrupt",
        "craft",   "icmp",        "garbage", "tick",   "batch_begin", "batch_end"};
    if (W.trace) fprintf(stderr, "%llu: %s\n", (unsigned long long)W.now, names[op]);
    switch (op) {
    case OP_CONNECT: op_connect(in); break;
    case OP_LISTEN: op_listen(in); break;
    case OP_ACCEPT: op_accept(in); break;
    case OP_LOOKUP: op_lookup(in); break;
    case OP_SEND: op_send(in); break;
    case OP_RECV: op_recv(in); break;
    case OP_CLOSE: op_end(in, sf_close); break;
    case OP_CLOSE_WITH: op_close_with(in); break;
    case OP_ABORT: op_end(in, sf_abort); break;
    case OP_FORGET: op_end(in, sf_forget); break;
    case OP_RELEASE: op_release(in); break;
    case OP_POLICY: op_policy(in); break;
    case OP_DELIVER: op_deliver(in); break;
    case OP_DELIVER_ALL: op_deliver_all(); break;
    case OP_DROP: op_drop(in); break;
    case OP_DUP: op_dup(in); break;
    case OP_SWAP: op_swap(in); break;
    case OP_CORRUPT: op_corrupt(in); break;
    case OP_CRAFT: op_craft(in); break;
    case OP_ICMP: op_icmp(in); break;
    case OP_GARBAGE: op_garbage(in); break;
    case OP_TICK: op_tick(in); break;
    case OP_BATCH_BEGIN: {
        host *h = pick_host(in);
        if (!h->batch) {
            h->batch = true;
            sf_stack_batch_begin(h->st);
        }
        break;
    }
    case OP_BATCH_END: end_batch(pick_host(in)); break;
    }
}

/* Whether a packet in flight is a bare ACK (no data, no SYN, FIN, RST),
 * and not one to its sender's own address and port while that guard is on. */
static bool bare_ack(const wire_pkt *p)
{
    sf_seg s;
    if (sf_wire_parse(p->data, p->len, &s, NULL) != 0) return false;
    if (guard(LAND) && sf_addr_eq(s.saddr, s.daddr) && s.sport == s.dport) return false;
    return s.len == 0 && (s.flags & (SF_SYN | SF_FIN | SF_RST | SF_ACK)) == SF_ACK;
}

/* The wire settles without the clock: everything in flight is delivered,
 * round after round, and bare ACKs do not keep drawing bare ACKs (an ACK
 * war: each side finds the other's ACK unacceptable and answers it). Data
 * may take many rounds; ACKs alone, a few. A round that spent challenge
 * ACKs does not count: RFC 5961 §7's limit (challenge_ack_limit a second)
 * is what bounds a war between a desynchronized pair, by design. */
/* Whether a connection of either stack has SND.NXT behind SND.MAX
 * (probing false), or probes a zero window (probing true). */
static bool any_conn(bool probing)
{
    for (int i = 0; i < 2; i++)
        for (const sf_conn *c = W.h[i].st->all; c; c = c->all_next) {
            if (c->is_listener || c->state == SF_CLOSED) continue;
            if (probing ? sf_timer_on(c, SF_TIMER_PERSIST) : sf_seq_lt(c->snd_nxt, c->snd_max))
                return true;
        }
    return false;
}

static void check_settles(void)
{
    if (guard(DESYNC_ACK_WAR) && W.forged) return;
    int acks_only = 0;
    for (int round = 0; round < 256 && W.nwire > 0; round++) {
        bool all_acks = true;
        for (int i = 0; i < W.nwire && all_acks; i++)
            all_acks = bare_ack(&W.wire[i]);
        uint32_t challenges = W.h[0].st->challenge_count + W.h[1].st->challenge_count;
        op_deliver_all();
        bool challenged = W.h[0].st->challenge_count + W.h[1].st->challenge_count != challenges;
        acks_only = all_acks && !challenged && W.nwire > 0 ? acks_only + 1 : 0;
        if (guard(STALE_ACK_SEQ) && any_conn(false)) acks_only = 0;
        if (guard(PROBE_ACK_LOOP) && any_conn(true)) acks_only = 0;
        FUZZ_CHECK(acks_only < 8, "bare ACKs answer bare ACKs, round after round: an ACK war");
        check_stack(&W.h[0]);
        check_stack(&W.h[1]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&W, 0, sizeof W);
    fz_in in = {data, size, 0};
    W.trace = getenv("FUZZ_TRACE") != NULL;
    configure(&in, &W.h[0], ADDR_A);
    configure(&in, &W.h[1], ADDR_B);
    W.now = 1000000;
    for (int ops = 0; fz_more(&in) && ops < MAX_OPS; ops++) {
        run_op(&in);
        check_stack(&W.h[0]);
        check_stack(&W.h[1]);
    }
    for (int i = 0; i < 2; i++)
        end_batch(&W.h[i]);
    check_stack(&W.h[0]);
    check_stack(&W.h[1]);
    check_settles();
    for (int i = 0; i < W.nwire; i++)
        free(W.wire[i].data);
    sf_stack_free(W.h[0].st);
    sf_stack_free(W.h[1].st);
    return 0;
}
