/* invariant.c - the control block's invariants, checked in debug builds
 * (SF_ASSERT, tcb.h) at the end of every input, output and timer call:
 * a broken one aborts there, next to the code that broke it, instead of
 * surfacing as a wrong segment much later. Release builds (NDEBUG) compile
 * every check out. */
#include "tcb.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef NDEBUG

void sf_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "synfin: invariant broken at %s:%d: %s\n", file, line, expr);
    abort();
}

/* Checks the heap property (heap.h) around the connection's node, and that
 * the node sits no later than the earliest of its timers (timer.c): a timer
 * is never missed. (Earlier is allowed: a handler clears its own deadline
 * and sf_timers_run moves the node once all are handled; a node due too
 * early finds nothing to do.) The whole heap too while it is small (a walk
 * over a million would make every call O(n)). */
static void check_timers(const sf_conn *c)
{
    const sf_heap *h = &c->stack->timers;
    uint64_t earliest = SF_NO_DEADLINE;
    for (int t = 0; t < SF_TIMER_COUNT; t++)
        if (c->timer_at[t] && c->timer_at[t] < earliest) earliest = c->timer_at[t];
    const sf_heap_node *n = &c->timer_node;
    if (n->idx == SF_HEAP_OUT) {
        /* no timer is on: off the heap (a heap that cannot grow would
         * leave one out, for want of memory) */
        SF_ASSERT(earliest == SF_NO_DEADLINE);
        return;
    }
    SF_ASSERT(n->idx < h->len && h->a[n->idx] == n);
    SF_ASSERT(n->deadline <= earliest);
    size_t i = n->idx, l = 2 * i + 1, r = l + 1;
    SF_ASSERT(i == 0 || h->a[(i - 1) / 2]->deadline <= n->deadline);
    SF_ASSERT(l >= h->len || n->deadline <= h->a[l]->deadline);
    SF_ASSERT(r >= h->len || n->deadline <= h->a[r]->deadline);
    if (h->len <= 64)
        for (size_t k = 1; k < h->len; k++)
            SF_ASSERT(h->a[(k - 1) / 2]->deadline <= h->a[k]->deadline && h->a[k]->idx == k);
}

void sf_conn_check(sf_conn *c)
{
    if (c->is_listener) return;
    /* the rings: never more than their capacity (the windows' bound) */
    SF_ASSERT(c->sndbuf.len <= c->sndbuf.cap && c->rcvbuf.len <= c->rcvbuf.cap);
    SF_ASSERT(c->sndbuf.size <= c->sndbuf.cap && c->rcvbuf.size <= c->rcvbuf.cap);
    SF_ASSERT((c->sndbuf.len == 0 || c->sndbuf.data) && (c->rcvbuf.len == 0 || c->rcvbuf.data));
    check_timers(c);
    if (c->state == SF_CLOSED || c->state == SF_LISTEN || c->state == SF_SYN_SENT) {
        c->chk_valid = false;
        return;
    }
    /* RFC 9293 §3.3.1: SND.UNA =< SND.NXT =< SND.MAX (SND.NXT goes back
     * for a go-back retransmission, never before SND.UNA nor past what was
     * sent) */
    SF_ASSERT(sf_seq_le(c->snd_una, c->snd_nxt));
    SF_ASSERT(sf_seq_le(c->snd_nxt, c->snd_max));
    /* what is in flight is in the send ring: data from SND.UNA on, plus
     * our SYN and FIN, which occupy sequence space and no byte */
    uint32_t ctl = sf_syn_unacked(c);
    if (c->fin_sent && sf_seq_lt(c->fin_seq, c->snd_max) && sf_seq_le(c->snd_una, c->fin_seq))
        ctl++;
    SF_ASSERT(c->snd_max - c->snd_una <= c->sndbuf.len + ctl);
    /* the receive window promised (RCV.NXT + RCV.WND, §3.10.7.4 seventh
     * step) fits in the ring, and what is held out of order (SHLD-31) lies
     * in it, sorted, disjoint and not adjacent */
    uint32_t promised = sf_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    SF_ASSERT(promised <= sf_ring_free(&c->rcvbuf));
    SF_ASSERT(c->ooo.n <= c->ooo.cap && c->ooo.cap <= SF_RANGES_MAX);
    for (int i = 0; i < c->ooo.n; i++) {
        const sf_range *r = &c->ooo.r[i];
        SF_ASSERT(r->len > 0 && r->off > 0 && r->off + r->len <= sf_ring_free(&c->rcvbuf));
        SF_ASSERT(i == 0 || r[-1].off + r[-1].len < r->off);
    }
    /* RCV.NXT never moves back once synchronized (§3.3.1: it only advances
     * over data and the FIN received in order) */
    if (c->chk_valid) SF_ASSERT(sf_seq_ge(c->rcv_nxt, c->chk_rcv_nxt));
    c->chk_rcv_nxt = c->rcv_nxt;
    c->chk_valid = true;
}

#endif
