/* conn.c - a stack's connections: the 4-tuple and listener tables, a
 * connection's life from allocation to its release (the listener's queues,
 * state changes and the reports they make, retirement and reaping), and
 * initial sequence numbers. The entry points are stack.c's. */
#include "siphash.h"
#include "tcb.h"

#include <stdlib.h>
#include <string.h>

/* ---- a connection's memory ------------------------------------------------------------ */

void sf_conn_free(sf_conn *c)
{
    sf_tw_unschedule(c);
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        c->stack->all = c->all_next;
    if (c->all_next) c->all_next->all_prev = c->all_prev;
    sf_ring_drop(&c->sndbuf);
    sf_ring_drop(&c->rcvbuf);
    sf_ranges_free(&c->ooo);
    sf_ranges_free(&c->sacked);
    free(c);
}

void sf_conn_free_compacted(sf_conn *c)
{
    sf_timer_remove(c);
    sf_conn_unhash(c);
    sf_conn_free(c);
}

void sf_stack_reap(sf_stack *st)
{
    while (st->reap) {
        sf_conn *c = st->reap;
        st->reap = c->hash_next;
        sf_conn_free(c);
    }
}

/* ---- the tables ------------------------------------------------------------------------ */

static bool tuple_is(const sf_conn *c, sf_addr laddr, sf_addr raddr, uint16_t lport, uint16_t rport)
{
    return c->lport == lport && c->rport == rport && sf_addr_eq(c->raddr, raddr) &&
           sf_addr_eq(c->laddr, laddr);
}

/* The 4-tuple table: open addressing, linear probing, at most 3/4 full.
 * A chained table kept its chains in the connections themselves: at a
 * million connections each link was a cache miss into an 800-byte
 * connection, and a lookup that finds nothing (sf_connect trying a port)
 * walked the whole chain (17% of synfin_bench's scale row). Here the keys
 * sit in the slots, four to a cache line. */
#define SF_TABLE_MIN 64

static size_t slot_home(const sf_stack *st, uint64_t key)
{
    return (size_t)key & (st->table_size - 1);
}

/* Lays the connections out in a table of `size` slots; false without
 * memory (the old table stays, fuller). */
static bool table_resize(sf_stack *st, size_t size)
{
    sf_conn_slot *table = calloc(size, sizeof *table);
    if (!table) return false;
    sf_conn_slot *old = st->table;
    size_t old_size = st->table_size;
    st->table = table;
    st->table_size = size;
    for (size_t i = 0; i < old_size; i++) {
        if (!old[i].c) continue;
        size_t b = slot_home(st, old[i].key);
        while (table[b].c)
            b = (b + 1) & (size - 1);
        table[b] = old[i];
    }
    free(old);
    return true;
}

/* The slot of the 4-tuple, or the empty slot that ends its probe sequence. */
static size_t slot_find(const sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport,
                        uint16_t rport)
{
    uint64_t key = sf_tuple_hash(laddr, raddr, lport, rport);
    size_t mask = st->table_size - 1, b = slot_home(st, key);
    while (st->table[b].c &&
           (st->table[b].key != key || !tuple_is(st->table[b].c, laddr, raddr, lport, rport)))
        b = (b + 1) & mask;
    return b;
}

void sf_conn_hash(sf_conn *c)
{
    sf_stack *st = c->stack;
    if (c->hashed) return;
    if (c->is_listener) {
        size_t b = c->lport & (st->listeners_size - 1);
        c->hash_next = st->listeners[b];
        st->listeners[b] = c;
    } else {
        /* grown at 3/4 full; a table that cannot grow still has an empty
         * slot until the last one */
        if ((st->nconns + 1) * 4 > st->table_size * 3) table_resize(st, st->table_size * 2);
        if (st->nconns + 1 >= st->table_size) return; /* no room: not findable, as without memory */
        size_t b = slot_find(st, c->laddr, c->raddr, c->lport, c->rport);
        st->table[b].key = sf_tuple_hash(c->laddr, c->raddr, c->lport, c->rport);
        st->table[b].c = c;
        st->nconns++;
    }
    c->hashed = true;
}

void sf_conn_unhash(sf_conn *c)
{
    sf_stack *st = c->stack;
    if (!c->hashed) return;
    c->hashed = false;
    if (c->is_listener) {
        sf_conn **at = &st->listeners[c->lport & (st->listeners_size - 1)];
        while (*at && *at != c)
            at = &(*at)->hash_next;
        if (*at) *at = c->hash_next;
        c->hash_next = NULL;
        return;
    }
    size_t mask = st->table_size - 1;
    size_t i = slot_find(st, c->laddr, c->raddr, c->lport, c->rport);
    if (st->table[i].c != c) return;
    /* backward-shift deletion: the entries after the hole whose home is
     * not between the hole and themselves move into it, so that no probe
     * sequence is cut */
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (!st->table[j].c) break;
        size_t k = slot_home(st, st->table[j].key);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        st->table[i] = st->table[j];
        i = j;
    }
    st->table[i].c = NULL;
    st->nconns--;
    /* the table shrinks with the connections (at 1/8 full): a million
     * connections gone leave no 16 MB behind */
    if (st->table_size > SF_TABLE_MIN && st->nconns * 8 < st->table_size)
        table_resize(st, st->table_size / 2);
}

sf_conn *sf_find_conn(const sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport,
                      uint16_t rport)
{
    return st->table[slot_find(st, laddr, raddr, lport, rport)].c;
}

sf_conn *sf_find_listener(sf_stack *st, uint16_t lport)
{
    for (sf_conn *c = st->listeners[lport & (st->listeners_size - 1)]; c; c = c->hash_next)
        if (c->lport == lport) return c;
    return NULL;
}

/* The connection of this 4-tuple, a TIME_WAIT record made one again. */
sf_conn *sf_find_or_expand(sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport,
                           uint16_t rport)
{
    sf_conn *c = sf_find_conn(st, laddr, raddr, lport, rport);
    if (c) return c;
    sf_tw *t = sf_tw_find(st, laddr, raddr, lport, rport);
    return t ? sf_tw_expand(st, t) : NULL;
}

sf_conn *sf_stack_lookup(sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport, uint16_t rport)
{
    sf_conn *c = sf_find_or_expand(st, laddr, raddr, lport, rport);
    return c ? c : sf_find_listener(st, lport);
}

bool sf_tuple_taken(const sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport,
                    uint16_t rport)
{
    return sf_find_conn(st, laddr, raddr, lport, rport) ||
           sf_tw_find(st, laddr, raddr, lport, rport);
}

/* ---- connections -------------------------------------------------------------------------- */

sf_conn *sf_conn_alloc(sf_stack *st)
{
    sf_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->stack = st;
    c->all_next = st->all;
    if (st->all) st->all->all_prev = c;
    st->all = c;
    return c;
}

sf_conn *sf_conn_new(sf_stack *st, const sf_policy *pol)
{
    sf_conn *c = sf_conn_alloc(st);
    if (!c) return NULL;
    c->id = st->next_id++;
    c->state = SF_CLOSED;
    c->pol = pol ? *pol : st->cfg.policy;
    c->timer_node.idx = SF_HEAP_OUT;
    c->rto = (uint32_t)c->pol.rto_initial;
    /* until a SYN from the peer sets it (sf_peer_mss): the smaller of the
     * families' defaults (RFC 9293 §3.7.1, MUST-15) */
    c->snd_mss = SF_IPV4_DEFAULT_MSS;
    sf_cc_init(c);
    c->sndbuf.cap = c->pol.snd_buf;
    c->rcvbuf.cap = sf_rcv_ring_cap(&c->pol);
    c->sndbuf.pool = c->rcvbuf.pool = &c->stack->ring_pool;
    return c;
}

/* RFC 6528 (RFC 9293 §3.4.1, MUST-8, MUST-9, SHLD-1): ISN = M + F(localip,
 * localport, remoteip, remoteport, secretkey), M a clock ticking every 4
 * microseconds, F the keyed PRF SipHash-2-4. */
uint32_t sf_isn(sf_stack *st, uint64_t now, sf_addr laddr, sf_addr raddr, uint16_t lport,
                uint16_t rport)
{
    if (st->cfg.fixed_isn) return st->cfg.isn;
    /* F's input: both whole addresses and both ports; an IPv4 address as
     * its 4 bytes (so that IPv4's ISNs are what they were before IPv6), an
     * IPv6 one as its 16 */
    size_t alen = sf_addr_is_v4(laddr) ? 4 : 16, skip = 16 - alen;
    uint8_t tuple[36];
    memcpy(tuple, laddr.b + skip, alen);
    tuple[alen] = (uint8_t)(lport >> 8);
    tuple[alen + 1] = (uint8_t)lport;
    memcpy(tuple + alen + 2, raddr.b + skip, alen);
    tuple[2 * alen + 2] = (uint8_t)(rport >> 8);
    tuple[2 * alen + 3] = (uint8_t)rport;
    return (uint32_t)sf_siphash(st->cfg.secret, tuple, 2 * alen + 4) + (uint32_t)(now / 4);
}

void sf_set_state(sf_conn *c, sf_state s, sf_cause cause, const char *why)
{
    sf_state old = c->state;
    if (old == s) return;
    c->state = s;
    sf_event ev = {.type = SF_EV_STATE,
                   .conn = c,
                   .conn_id = c->id,
                   .old_state = old,
                   .new_state = s,
                   .cause = cause,
                   .why = why};
    c->stack->cb.event(c->stack->ud, &ev);
}

void sf_report_drop(sf_stack *st, sf_conn *c, sf_reason reason)
{
    const sf_reason_info *r = sf_reason_get(reason);
    sf_event ev = {.type = r->note ? SF_EV_NOTE : SF_EV_DROP,
                   .conn = c,
                   .conn_id = c ? c->id : 0,
                   .why = r->text,
                   .reason = reason};
    if (c) {
        ev.old_state = ev.new_state = c->state;
        ev.cwnd = c->cwnd; /* what the SF_R_CC_* notes tell */
        ev.ssthresh = c->ssthresh;
    }
    st->cb.event(st->ud, &ev);
}

void sf_report(sf_conn *c, sf_event_type type, const char *why)
{
    sf_event ev = {.type = type,
                   .conn = c,
                   .conn_id = c->id,
                   .old_state = c->state,
                   .new_state = c->state,
                   .why = why};
    c->stack->cb.event(c->stack->ud, &ev);
}

void sf_report_soft_error(sf_conn *c, const char *why)
{
    if (c->pol.soft_errors) sf_report(c, SF_EV_SOFT_ERROR, why); /* SHLD-20 */
}

void sf_report_error(sf_conn *c, int err)
{
    c->error = err;
    sf_event ev = {.type = SF_EV_ERROR,
                   .conn = c,
                   .conn_id = c->id,
                   .old_state = c->state,
                   .new_state = c->state,
                   .err = err,
                   .why = sf_strerror(err)};
    c->stack->cb.event(c->stack->ud, &ev);
}

static void child_unlink(sf_conn *c)
{
    sf_child_queue *q = c->queue;
    if (!q) return;
    if (c->child_prev)
        c->child_prev->child_next = c->child_next;
    else
        q->head = c->child_next;
    if (c->child_next)
        c->child_next->child_prev = c->child_prev;
    else
        q->tail = c->child_prev;
    q->len--;
    c->child_prev = c->child_next = NULL;
    c->queue = NULL;
}

void sf_child_enqueue(sf_child_queue *q, sf_conn *c)
{
    child_unlink(c);
    c->child_prev = q->tail;
    if (q->tail)
        q->tail->child_next = c;
    else
        q->head = c;
    q->tail = c;
    q->len++;
    c->queue = q;
}

sf_conn *sf_conn_child(sf_conn *l, const sf_seg *seg)
{
    sf_conn *c = sf_conn_new(l->stack, &l->pol);
    if (!c) return NULL;
    c->laddr = seg->daddr;
    c->raddr = seg->saddr;
    c->lport = seg->dport;
    c->rport = seg->sport;
    c->passive = true;
    c->listener = l;
    sf_child_enqueue(&l->syn_queue, c);
    return c;
}

void sf_conn_detach(sf_conn *c)
{
    child_unlink(c);
    c->listener = NULL;
}

/* Takes a finished connection out of every table and timer and drops its
 * buffers; freed at the next entry point unless the user holds it. */
static void conn_retire(sf_conn *c)
{
    sf_timers_stop_all(c);
    sf_conn_unhash(c);
    if (c->tw_parked) {
        /* the SYN that reopened a TIME_WAIT was an old duplicate (MAY-2):
         * the old connection is TIME_WAIT again, with its own 2MSL */
        sf_conn *tw = c->tw_parked;
        tw->tw_child = NULL;
        c->tw_parked = NULL;
        sf_conn_hash(tw);
        sf_report_drop(c->stack, tw, SF_R_REOPEN_OLD_DUPLICATE);
    }
    if (c->tw_child) { /* 2MSL ran out while parked */
        c->tw_child->tw_parked = NULL;
        c->tw_child = NULL;
    }
    sf_conn_detach(c);
    sf_ring_drop(&c->sndbuf);
    /* data received and acknowledged stays readable by a user who holds the
     * connection, until read or released (a reset flushes it: sf_conn_closed) */
    if (!c->held || c->rcvbuf.len == 0) sf_ring_drop(&c->rcvbuf);
    if (!c->held) {
        c->hash_next = c->stack->reap;
        c->stack->reap = c;
    }
}

void sf_conn_closed(sf_conn *c, sf_cause cause, const char *why, int err)
{
    /* a reset flushes the queues (RFC 9293 §3.10.7.4, second step) */
    if (err == SF_ERESET) sf_ring_drop(&c->rcvbuf);
    conn_retire(c);
    sf_set_state(c, SF_CLOSED, cause, why);
    if (err) sf_report_error(c, err);
}

void sf_conn_back_to_listen(sf_conn *c, const char *why)
{
    conn_retire(c);
    sf_set_state(c, SF_LISTEN, SF_CAUSE_SEGMENT, why);
}

void sf_conn_hold(sf_conn *c)
{
    c->held = true;
}

void sf_conn_release(sf_conn *c)
{
    /* Letting go never changes what the connection does on the wire (a
     * binding's garbage collector must not make a run nondeterministic): an
     * open one lives on, orphaned, until it reaches CLOSED or the stack goes.
     * A closed one is reaped, not freed here: the user may let go in the
     * middle of the stack's work (a garbage collector runs in a driver's
     * hook, between two arrivals of a batch), while the batch's list of
     * deferred output still names it. */
    c->held = false;
    if (c->state == SF_CLOSED) {
        c->hash_next = c->stack->reap;
        c->stack->reap = c;
    } else if (c->state == SF_TIME_WAIT) {
        sf_tw_schedule(c); /* a record, from the next entry point */
    }
}
