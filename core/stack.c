/* stack.c - one host's TCP: configuration, the 4-tuple and listener tables,
 * initial sequence numbers, state changes, and the entry points that take a
 * packet or the time. */
#include "siphash.h"
#include "tcb.h"

#include <stdlib.h>
#include <string.h>

/* ---- names ------------------------------------------------------------------ */

const char *sf_strerror(int err)
{
    switch (err) {
    case SF_OK: return "ok";
    case SF_EINVAL: return "invalid argument";
    case SF_ENOMEM: return "out of memory";
    case SF_EEXIST: return "connection already exists";
    case SF_ENOTCONN: return "connection does not exist";
    case SF_ECLOSING: return "connection closing";
    case SF_ERESET: return "connection reset";
    case SF_EREFUSED: return "connection refused";
    case SF_ETIMEDOUT: return "connection timed out";
    case SF_EADDRINUSE: return "address already in use";
    case SF_EAGAIN: return "try again";
    case SF_EBADMSG: return "malformed packet";
    case SF_ENOBUFS: return "buffer too small";
    case SF_EUNREACH: return "destination unreachable";
    case SF_ELOOP: return "hooks nested too deep";
    default: return "unknown error";
    }
}

static const char *const state_names[SF_STATE_COUNT] = {
    "CLOSED",     "LISTEN",     "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
    "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",  "LAST_ACK", "TIME_WAIT",
};

const char *sf_state_name(sf_state s)
{
    return s < SF_STATE_COUNT ? state_names[s] : "?";
}

const char *sf_event_name(sf_event_type type)
{
    switch (type) {
    case SF_EV_STATE: return "state";
    case SF_EV_DROP: return "drop";
    case SF_EV_ERROR: return "error";
    case SF_EV_URGENT: return "urgent";
    case SF_EV_SOFT_ERROR: return "soft_error";
    case SF_EV_NOTE: return "note";
    default: return "?";
    }
}

const char *sf_cause_name(sf_cause cause)
{
    switch (cause) {
    case SF_CAUSE_USER: return "user";
    case SF_CAUSE_SEGMENT: return "segment";
    case SF_CAUSE_TIMER: return "timer";
    default: return "?";
    }
}

int sf_state_from_name(const char *name)
{
    char norm[16];
    size_t i = 0;
    for (; name[i] && i < sizeof norm - 1; i++) {
        char ch = name[i] == '-' ? '_' : name[i];
        norm[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    norm[i] = 0;
    if (strcmp(norm, "SYN_RECEIVED") == 0) return SF_SYN_RCVD;
    for (int s = 0; s < SF_STATE_COUNT; s++)
        if (strcmp(norm, state_names[s]) == 0) return s;
    return -1;
}

void sf_config_default(sf_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ephemeral_lo = 49152; /* RFC 6335 §6 dynamic ports */
    cfg->ephemeral_hi = 65535;
    cfg->backlog = 128;
    cfg->mtu = 1500;
    cfg->policy.msl = 30 * 1000000ULL; /* Linux's TIME_WAIT is 60 s = 2 * 30 s */
    cfg->policy.rto_initial = 1000000; /* RFC 6298 (2.1) */
    cfg->policy.rto_min = 1000000;     /* RFC 6298 (2.4): SHOULD be rounded up to 1 s */
    cfg->policy.rto_max = 60000000;    /* RFC 6298 (2.5): a maximum of at least 60 s */
    cfg->policy.max_retries = 15;      /* Linux tcp_retries2 */
    cfg->policy.syn_retries = 7;       /* MUST-23: 0, 1, 3, ..., 63, 123 s: gives up at 183 s */
    cfg->policy.rcv_buf = 65535;
    cfg->policy.snd_buf = 65536;
    cfg->policy.mss = 1460;
    cfg->policy.min_snd_mss = SF_MIN_SND_MSS;
    cfg->policy.ttl = 64;
    cfg->policy.r1 = 3;
    cfg->policy.soft_errors = 1;
    cfg->policy.congestion_control = 1;
    cfg->policy.window_scaling = 1;
    cfg->policy.timestamps = 1;
    cfg->policy.sack = 1;
    cfg->policy.keepalive_interval = 75000000;       /* Linux tcp_keepalive_intvl */
    cfg->policy.keepalive_probes = 9;                /* Linux tcp_keepalive_probes */
    cfg->policy.rst_in_time_wait = SF_TW_RST_CLOSE;  /* Linux, RFC 9293 */
    cfg->policy.syn_in_time_wait = SF_TW_SYN_REOPEN; /* Linux, RFC 1122 §4.2.2.13 */
    cfg->policy.syn_cookies = SF_SYN_COOKIES_AUTO;   /* Linux's tcp_syncookies = 1 */
    cfg->challenge_ack_limit = 1000;                 /* Linux's historic default */
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

static void conn_free(sf_conn *c)
{
    sf_tw_unschedule(c);
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        c->stack->all = c->all_next;
    if (c->all_next) c->all_next->all_prev = c->all_prev;
    sf_ring_drop(&c->sndbuf);
    sf_ring_drop(&c->rcvbuf);
    free(c);
}

static void reap(sf_stack *st)
{
    while (st->reap) {
        sf_conn *c = st->reap;
        st->reap = c->hash_next;
        conn_free(c);
    }
}

/* At an entry point outside a batch, when nothing names a connection any
 * more: CLOSED ones are freed, TIME_WAIT ones nobody holds become records. */
static void tidy(sf_stack *st)
{
    reap(st);
    sf_tw_compact_scheduled(st);
}

void sf_conn_free_compacted(sf_conn *c)
{
    sf_timer_remove(c);
    sf_conn_unhash(c);
    conn_free(c);
}

void sf_stack_free(sf_stack *st)
{
    if (!st) return;
    reap(st);
    while (st->all)
        conn_free(st->all); /* held ones too: handles die with the stack */
    sf_tw_free_all(st);
    free(st->table);
    free(st->listeners);
    free(st->heap);
    free(st);
}

uint32_t sf_stack_addr(const sf_stack *st)
{
    return st->cfg.addr;
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

/* ---- the tables ------------------------------------------------------------------------ */

size_t sf_tuple_hash(uint32_t raddr, uint16_t lport, uint16_t rport)
{
    uint64_t h = (uint64_t)raddr << 32 | (uint32_t)lport << 16 | rport;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

static void table_grow(sf_stack *st)
{
    size_t size = st->table_size * 2;
    sf_conn **table = calloc(size, sizeof *table);
    if (!table) return; /* keep the longer chains */
    for (size_t i = 0; i < st->table_size; i++)
        for (sf_conn *c = st->table[i], *next; c; c = next) {
            next = c->hash_next;
            size_t b = sf_tuple_hash(c->raddr, c->lport, c->rport) & (size - 1);
            c->hash_next = table[b];
            table[b] = c;
        }
    free(st->table);
    st->table = table;
    st->table_size = size;
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
        if (st->nconns >= st->table_size) table_grow(st);
        size_t b = sf_tuple_hash(c->raddr, c->lport, c->rport) & (st->table_size - 1);
        c->hash_next = st->table[b];
        st->table[b] = c;
        st->nconns++;
    }
    c->hashed = true;
}

void sf_conn_unhash(sf_conn *c)
{
    sf_stack *st = c->stack;
    if (!c->hashed) return;
    sf_conn **at;
    if (c->is_listener) {
        at = &st->listeners[c->lport & (st->listeners_size - 1)];
    } else {
        at = &st->table[sf_tuple_hash(c->raddr, c->lport, c->rport) & (st->table_size - 1)];
        st->nconns--;
    }
    while (*at && *at != c)
        at = &(*at)->hash_next;
    if (*at) *at = c->hash_next;
    c->hash_next = NULL;
    c->hashed = false;
}

static sf_conn *find_conn(sf_stack *st, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    size_t b = sf_tuple_hash(raddr, lport, rport) & (st->table_size - 1);
    for (sf_conn *c = st->table[b]; c; c = c->hash_next)
        if (c->raddr == raddr && c->lport == lport && c->rport == rport) return c;
    return NULL;
}

sf_conn *sf_find_listener(sf_stack *st, uint16_t lport)
{
    for (sf_conn *c = st->listeners[lport & (st->listeners_size - 1)]; c; c = c->hash_next)
        if (c->lport == lport) return c;
    return NULL;
}

/* The connection of this 4-tuple, a TIME_WAIT record made one again. */
static sf_conn *find_or_expand(sf_stack *st, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    sf_conn *c = find_conn(st, raddr, lport, rport);
    if (c) return c;
    sf_tw *t = sf_tw_find(st, raddr, lport, rport);
    return t ? sf_tw_expand(st, t) : NULL;
}

sf_conn *sf_stack_lookup(sf_stack *st, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    sf_conn *c = find_or_expand(st, raddr, lport, rport);
    return c ? c : sf_find_listener(st, lport);
}

bool sf_tuple_taken(const sf_stack *st, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    return find_conn((sf_stack *)st, raddr, lport, rport) || sf_tw_find(st, raddr, lport, rport);
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
    c->heap_idx = UINT32_MAX;
    c->rto = (uint32_t)c->pol.rto_initial;
    c->snd_mss = 536; /* RFC 9293 §3.7.1 (MUST-15): 536 when no MSS option came */
    sf_cc_init(c);
    c->sndbuf.cap = c->pol.snd_buf;
    c->rcvbuf.cap = c->pol.rcv_buf;
    return c;
}

/* RFC 6528 (RFC 9293 §3.4.1, MUST-8, MUST-9, SHLD-1): ISN = M + F(localip,
 * localport, remoteip, remoteport, secretkey), M a clock ticking every 4
 * microseconds, F the keyed PRF SipHash-2-4. */
uint32_t sf_isn(sf_stack *st, uint64_t now, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    if (st->cfg.fixed_isn) return st->cfg.isn;
    uint32_t laddr = st->cfg.addr;
    uint8_t tuple[12] = {(uint8_t)(laddr >> 24), (uint8_t)(laddr >> 16), (uint8_t)(laddr >> 8),
                         (uint8_t)laddr,         (uint8_t)(lport >> 8),  (uint8_t)lport,
                         (uint8_t)(raddr >> 24), (uint8_t)(raddr >> 16), (uint8_t)(raddr >> 8),
                         (uint8_t)raddr,         (uint8_t)(rport >> 8),  (uint8_t)rport};
    return (uint32_t)sf_siphash(st->cfg.secret, tuple, sizeof tuple) + (uint32_t)(now / 4);
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
    if (c) ev.old_state = ev.new_state = c->state;
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
    reap(st); /* the last batch's pending list is empty: nothing names them */
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

void sf_stack_input(sf_stack *st, uint64_t now, const uint8_t *pkt, size_t len)
{
    sf_stack_at(st, now);
    if (!st->batch) tidy(st); /* a batch's pending list may still name them */
    if (sf_wire_is_icmp(pkt, len)) {
        sf_icmp_input(st, now, pkt, len); /* RFC 9293 §3.9.2.2 */
        return;
    }
    sf_seg seg;
    const char *why = NULL;
    if (sf_wire_parse(pkt, len, &seg, &why) != 0) {
        sf_report_drop(st, NULL, sf_reason_of_text(why));
        return;
    }
    if (seg.daddr != st->cfg.addr) {
        /* MUST-57: nothing addressed to a broadcast or multicast address */
        sf_report_drop(st, NULL, SF_R_NOT_FOR_US);
        return;
    }
    if (!sf_addr_is_unicast(seg.saddr)) {
        /* MUST-63 (and RFC 1122 for every segment, not only SYNs) */
        sf_report_drop(st, NULL, SF_R_SOURCE_NOT_UNICAST);
        return;
    }
    sf_conn *c = find_or_expand(st, seg.saddr, seg.dport, seg.sport);
    if (c) {
        c->segs_in++;
        if (c->state == SF_SYN_SENT) {
            sf_input_syn_sent(c, now, &seg);
            return;
        }
        if (!sf_input_other(c, now, &seg)) return;
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

void sf_stack_poll(sf_stack *st, uint64_t now)
{
    sf_stack_at(st, now);
    tidy(st);
    sf_tw_expire(st, now);
    sf_timers_run(st, now);
}

uint64_t sf_stack_deadline(const sf_stack *st)
{
    uint64_t d = st->heap_len ? st->heap[0]->deadline : SF_NO_DEADLINE;
    uint64_t tw = sf_tw_deadline(st);
    return tw < d ? tw : d;
}
