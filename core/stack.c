/* stack.c - one host's TCP: its configuration and lifetime, and the entry
 * points that take a packet or the time (the connections themselves are
 * conn.c's). */
#include "tcb.h"

#include <stdlib.h>
#include <string.h>

void sf_config_default(sf_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ephemeral_lo = 49152; /* RFC 6335 §6 dynamic ports */
    cfg->ephemeral_hi = 65535;
    cfg->backlog = 128;
    cfg->mtu = 1500;
    cfg->policy.msl = 30 * 1000000ULL; /* Linux's TIME_WAIT is 60 s = 2 * 30 s */
    cfg->policy.rto_initial = 1000000; /* RFC 6298 (2.1) */
    cfg->policy.rto_min = 1000000;     /* RFC 6298 (2.4); the profile sets its own */
    cfg->policy.rto_max = 60000000;    /* RFC 6298 (2.5); the profile sets its own */
    cfg->policy.max_retries = 15;      /* Linux tcp_retries2 */
    cfg->policy.syn_retries = 7;       /* MUST-23: 0, 1, 3, ..., 63, 123 s: gives up at 183 s */
    cfg->policy.rcv_buf = 65535;
    cfg->policy.snd_buf = 65536;
    cfg->policy.mss = 1460;
    cfg->policy.ttl = 64;
    cfg->policy.r1 = 3;
    cfg->policy.soft_errors = 1;
    cfg->policy.window_scaling = 1;
    cfg->policy.timestamps = 1;
    cfg->policy.sack = 1;
    cfg->policy.ecn =
        SF_ECN_ACCEPT; /* Linux's tcp_ecn = 2, FreeBSD's net.inet.tcp.ecn.enable = 2 */
    cfg->challenge_ack_limit = 1000; /* Linux's historic default */
    /* where stacks differ (congestion control, initial window, RTO floor,
     * Nagle's variant, TIME_WAIT, keep-alive probes, ...): Linux's values */
    sf_policy_profile(&cfg->policy, SF_PROFILE_LINUX);
}

size_t sf_conn_sizeof(void)
{
    return sizeof(sf_conn);
}

/* ---- stack lifetime ----------------------------------------------------------------- */

sf_stack *sf_stack_new(const sf_config *cfg, const sf_callbacks *cb, void *ud)
{
    sf_stack *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->cfg = *cfg;
    st->cb = *cb;
    st->ud = ud;
    st->next_id = 1;
    st->next_ephemeral = cfg->ephemeral_lo;
    st->table_size = 64;
    st->listeners_size = 16;
    st->table = calloc(st->table_size, sizeof *st->table);
    st->listeners = calloc(st->listeners_size, sizeof *st->listeners);
    if (!st->table || !st->listeners) {
        sf_stack_free(st);
        return NULL;
    }
    return st;
}

/* At an entry point outside a batch, when nothing names a connection any
 * more: CLOSED ones are freed, TIME_WAIT ones nobody holds become records. */
static void tidy(sf_stack *st)
{
    sf_stack_reap(st);
    sf_tw_compact_scheduled(st);
}

void sf_stack_free(sf_stack *st)
{
    if (!st) return;
    sf_stack_reap(st);
    while (st->all)
        sf_conn_free(st->all); /* held ones too: handles die with the stack */
    sf_tw_free_all(st);
    sf_ring_pool_free(&st->ring_pool);
    free(st->table);
    free(st->listeners);
    sf_heap_free(&st->timers);
    free(st);
}

const sf_addr *sf_stack_addr(const sf_stack *st, size_t i)
{
    return i < st->cfg.naddrs ? &st->cfg.addrs[i] : NULL;
}

/* (inlined where every segment asks: sf_stack_input) */
static inline int has_addr(const sf_stack *st, sf_addr addr)
{
    for (size_t i = 0; i < st->cfg.naddrs; i++)
        if (sf_addr_eq(st->cfg.addrs[i], addr)) return 1;
    return 0;
}

int sf_stack_has_addr(const sf_stack *st, sf_addr addr)
{
    return has_addr(st, addr);
}
const sf_config *sf_stack_config(const sf_stack *st)
{
    return &st->cfg;
}
size_t sf_stack_conn_count(const sf_stack *st)
{
    return st->nconns + st->ntw;
}

void sf_stack_foreach(sf_stack *st, void (*fn)(void *ud, const sf_conn *c), void *ud)
{
    /* what the tables know, and a TIME_WAIT parked by a reopening SYN */
    for (sf_conn *c = st->all; c; c = c->all_next)
        if (c->state != SF_CLOSED && (c->hashed || c->tw_child)) fn(ud, c);
    sf_tw_foreach(st, fn, ud); /* and the TIME_WAIT records */
}

/* ---- entry points ------------------------------------------------------------------------ */

void sf_stack_at(sf_stack *st, uint64_t now)
{
    if (!st->started) {
        st->started = true;
        st->quiet_until = now + st->cfg.quiet_time;
    }
    if (now > st->now) st->now = now;
}

void sf_stack_batch_begin(sf_stack *st)
{
    sf_stack_reap(st); /* the last batch's pending list is empty: nothing names them */
    st->batch = true;
}

void sf_stack_batch_end(sf_stack *st, uint64_t now)
{
    sf_stack_at(st, now);
    st->batch = false;
    /* MUST-59: every queued segment was processed; now the ACKs and data */
    while (st->pending) {
        sf_conn *c = st->pending;
        st->pending = c->pending_next;
        c->pending_next = NULL;
        c->output_pending = false;
        if (c->state != SF_CLOSED) sf_output(c, now);
    }
}

static void input(sf_stack *st, uint64_t now, const uint8_t *pkt, size_t len, bool trusted)
{
    sf_stack_at(st, now);
    if (!st->batch) tidy(st); /* a batch's pending list may still name them */
    if (sf_wire_is_icmp(pkt, len)) {
        sf_icmp_input(st, now, pkt, len); /* RFC 9293 §3.9.2.2 */
        return;
    }
    sf_seg seg;
    const char *why = NULL;
    int rc =
        trusted ? sf_wire_parse_trusted(pkt, len, &seg, &why) : sf_wire_parse(pkt, len, &seg, &why);
    if (rc != 0) {
        sf_report_drop(st, NULL, sf_reason_of_text(why));
        return;
    }
    if (!has_addr(st, seg.daddr)) {
        /* MUST-57: nothing addressed to a broadcast or multicast address */
        sf_report_drop(st, NULL, SF_R_NOT_FOR_US);
        return;
    }
    if (!sf_addr_is_unicast(seg.saddr)) {
        /* MUST-63 (and RFC 1122 for every segment, not only SYNs) */
        sf_report_drop(st, NULL, SF_R_SOURCE_NOT_UNICAST);
        return;
    }
    sf_conn *c = sf_find_or_expand(st, seg.daddr, seg.saddr, seg.dport, seg.sport);
    if (c) {
        c->segs_in++;
        if (c->state == SF_SYN_SENT) {
            sf_input_syn_sent(c, now, &seg);
            sf_conn_check(c);
            return;
        }
        bool again = sf_input_other(c, now, &seg);
        sf_conn_check(c);
        if (!again) return;
        /* the segment ended that connection and may start a new one */
    }
    sf_conn *l = sf_find_listener(st, seg.dport);
    if (l) {
        sf_input_listen(l, now, &seg);
        if (st->reopening) { /* the listener did not take it: TIME_WAIT goes on */
            sf_conn_hash(st->reopening);
            st->reopening = NULL;
        }
    } else if (seg.flags & SF_RST) {
        /* RFC 9293 §3.10.7.1: an incoming RST is discarded (never a RST in
         * reply to a RST, picotcp#142) */
        sf_report_drop(st, NULL, SF_R_RST_NO_CONNECTION);
    } else {
        sf_report_drop(st, NULL, SF_R_NO_CONNECTION);
        sf_send_rst_for(st, NULL, &seg);
    }
}

void sf_stack_input(sf_stack *st, uint64_t now, const uint8_t *pkt, size_t len)
{
    input(st, now, pkt, len, false);
}

void sf_stack_input_trusted(sf_stack *st, uint64_t now, const uint8_t *pkt, size_t len)
{
    input(st, now, pkt, len, true);
}

void sf_stack_poll(sf_stack *st, uint64_t now)
{
    sf_stack_at(st, now);
    tidy(st);
    sf_tw_expire(st, now);
    sf_timers_run(st, now);
}

uint64_t sf_stack_deadline(const sf_stack *st)
{
    sf_heap_node *top = sf_heap_top(&st->timers);
    uint64_t d = top ? top->deadline : SF_NO_DEADLINE;
    uint64_t tw = sf_tw_deadline(st);
    return tw < d ? tw : d;
}
