/* timewait.c - TIME_WAIT in a record of its own. A connection nobody holds
 * spends 2*MSL in TIME_WAIT (RFC 9293 §3.10.7.4, eighth step; 60 s by
 * default) with nothing left to do but answer: a retransmitted FIN, a RST,
 * a SYN, an old duplicate. The whole control block (about 800 bytes) is
 * replaced then by the few numbers those answers need, in a table and a
 * timer heap of their own.
 *
 * It changes nothing on the wire: whenever something concerns the pair of
 * ports again (a segment arrives, a lookup, the 2*MSL timer runs out), the
 * record is expanded back into a connection with the same numbers, the same
 * id and the same deadline, and the ordinary TIME_WAIT processing runs. At
 * the next entry point, if it is still in TIME_WAIT and still nobody's, it
 * is compacted again. */
#include "tcb.h"

#include <stdlib.h>
#include <string.h>

struct sf_tw {
    sf_tw *hash_next;
    uint64_t deadline; /* the 2*MSL timer */
    uint64_t msl;      /* the policy's MSL: a retransmitted FIN restarts 2*MSL */
    uint32_t heap_idx, id;
    uint32_t raddr;
    uint16_t lport, rport;
    /* the sequence space (SND.UNA = SND.NXT = SND.MAX = FIN + 1 here) */
    uint32_t iss, snd_nxt, rcv_nxt, rcv_adv, last_ack_sent, max_snd_wnd;
    uint32_t ts_recent; /* TS.Recent (RFC 7323): PAWS and RFC 6191 go on */
    uint32_t rcv_buf;   /* the window our ACKs offer follows from it */
    uint16_t snd_mss;
    uint8_t ttl, tos, rst_in_time_wait, syn_in_time_wait;
    uint8_t snd_wscale, rcv_wscale;
    bool ts_ok, ws_agreed, sack_ok, passive;
};

size_t sf_time_wait_sizeof(void)
{
    return sizeof(sf_tw);
}

size_t sf_stack_time_wait_records(const sf_stack *st)
{
    return st->ntw;
}

/* ---- the table, by 4-tuple ---- */

static size_t tw_bucket(const sf_stack *st, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    return sf_tuple_hash(raddr, lport, rport) & (st->tw_table_size - 1);
}

static void tw_table_grow(sf_stack *st)
{
    size_t size = st->tw_table_size ? st->tw_table_size * 2 : 64;
    sf_tw **table = calloc(size, sizeof *table);
    if (!table) return; /* longer chains */
    for (size_t i = 0; i < st->tw_table_size; i++)
        for (sf_tw *t = st->tw_table[i], *next; t; t = next) {
            next = t->hash_next;
            size_t b = sf_tuple_hash(t->raddr, t->lport, t->rport) & (size - 1);
            t->hash_next = table[b];
            table[b] = t;
        }
    free(st->tw_table);
    st->tw_table = table;
    st->tw_table_size = size;
}

sf_tw *sf_tw_find(const sf_stack *st, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    if (!st->tw_table_size) return NULL;
    for (sf_tw *t = st->tw_table[tw_bucket(st, raddr, lport, rport)]; t; t = t->hash_next)
        if (t->raddr == raddr && t->lport == lport && t->rport == rport) return t;
    return NULL;
}

static void tw_unhash(sf_stack *st, sf_tw *t)
{
    sf_tw **at = &st->tw_table[tw_bucket(st, t->raddr, t->lport, t->rport)];
    while (*at && *at != t)
        at = &(*at)->hash_next;
    if (*at) *at = t->hash_next;
    st->ntw--;
}

/* ---- the 2*MSL timers: a binary min-heap of records ---- */

static void heap_swap(sf_stack *st, size_t i, size_t j)
{
    sf_tw *a = st->tw_heap[i];
    st->tw_heap[i] = st->tw_heap[j];
    st->tw_heap[j] = a;
    st->tw_heap[i]->heap_idx = (uint32_t)i;
    st->tw_heap[j]->heap_idx = (uint32_t)j;
}

static void heap_up(sf_stack *st, size_t i)
{
    while (i > 0 && st->tw_heap[(i - 1) / 2]->deadline > st->tw_heap[i]->deadline) {
        heap_swap(st, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(sf_stack *st, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < st->tw_heap_len && st->tw_heap[l]->deadline < st->tw_heap[m]->deadline) m = l;
        if (r < st->tw_heap_len && st->tw_heap[r]->deadline < st->tw_heap[m]->deadline) m = r;
        if (m == i) return;
        heap_swap(st, i, m);
        i = m;
    }
}

static void heap_remove(sf_stack *st, sf_tw *t)
{
    size_t i = t->heap_idx;
    st->tw_heap_len--;
    if (i != st->tw_heap_len) {
        st->tw_heap[i] = st->tw_heap[st->tw_heap_len];
        st->tw_heap[i]->heap_idx = (uint32_t)i;
        heap_down(st, i);
        heap_up(st, i);
    }
}

uint64_t sf_tw_deadline(const sf_stack *st)
{
    return st->tw_heap_len ? st->tw_heap[0]->deadline : SF_NO_DEADLINE;
}

/* ---- compacting and expanding ---- */

/* Whether the connection can become a record: in TIME_WAIT with its whole
 * sequence space acknowledged both ways, nobody's, and nothing else
 * pointing at it (a batch's pending output, a connection it is parked for). */
static bool compactable(const sf_conn *c)
{
    return c->state == SF_TIME_WAIT && !c->held && c->hashed && !c->tw_child && !c->tw_parked &&
           !c->output_pending && c->fin_sent && c->fin_received && c->snd_una == c->snd_nxt &&
           c->snd_nxt == c->snd_max && c->rcvbuf.len == 0 && c->ooo_count == 0 &&
           sf_timer_on(c, SF_TIMER_TIME_WAIT);
}

/* Makes connection c a record; false when memory is short (it stays). */
static bool compact(sf_stack *st, sf_conn *c)
{
    if (st->ntw >= st->tw_table_size) tw_table_grow(st);
    if (!st->tw_table_size) return false;
    if (st->tw_heap_len == st->tw_heap_cap) {
        size_t cap = st->tw_heap_cap ? st->tw_heap_cap * 2 : 64;
        sf_tw **heap = realloc(st->tw_heap, cap * sizeof *heap);
        if (!heap) return false;
        st->tw_heap = heap;
        st->tw_heap_cap = cap;
    }
    sf_tw *t = malloc(sizeof *t);
    if (!t) return false;
    *t = (sf_tw){.deadline = c->timer_at[SF_TIMER_TIME_WAIT],
                 .msl = c->pol.msl,
                 .id = c->id,
                 .raddr = c->raddr,
                 .lport = c->lport,
                 .rport = c->rport,
                 .iss = c->iss,
                 .snd_nxt = c->snd_nxt,
                 .rcv_nxt = c->rcv_nxt,
                 .rcv_adv = c->rcv_adv,
                 .last_ack_sent = c->last_ack_sent,
                 .max_snd_wnd = c->max_snd_wnd,
                 .ts_recent = c->ts_recent,
                 .rcv_buf = c->rcvbuf.cap,
                 .snd_mss = c->snd_mss,
                 .ttl = c->pol.ttl,
                 .tos = c->pol.tos,
                 .rst_in_time_wait = c->pol.rst_in_time_wait,
                 .syn_in_time_wait = c->pol.syn_in_time_wait,
                 .snd_wscale = c->snd_wscale,
                 .rcv_wscale = c->rcv_wscale,
                 .ts_ok = c->ts_ok,
                 .ws_agreed = c->ws_agreed,
                 .sack_ok = c->sack_ok,
                 .passive = c->passive};
    size_t b = tw_bucket(st, t->raddr, t->lport, t->rport);
    t->hash_next = st->tw_table[b];
    st->tw_table[b] = t;
    st->ntw++;
    t->heap_idx = (uint32_t)st->tw_heap_len;
    st->tw_heap[st->tw_heap_len++] = t;
    heap_up(st, t->heap_idx);
    sf_conn_free_compacted(c);
    return true;
}

/* Fills c (zeroed, c->stack set) from the record: the connection as it was
 * when compacted, as far as TIME_WAIT can tell. */
static void fill(sf_conn *c, const sf_tw *t)
{
    sf_stack *st = c->stack;
    c->id = t->id;
    c->state = SF_TIME_WAIT;
    c->pol = st->cfg.policy;
    c->pol.msl = t->msl;
    c->pol.ttl = t->ttl;
    c->pol.tos = t->tos;
    c->pol.rst_in_time_wait = t->rst_in_time_wait;
    c->pol.syn_in_time_wait = t->syn_in_time_wait;
    c->pol.rcv_buf = t->rcv_buf;
    c->heap_idx = UINT32_MAX;
    c->raddr = t->raddr;
    c->lport = t->lport;
    c->rport = t->rport;
    c->passive = t->passive;
    c->iss = t->iss;
    c->snd_una = c->snd_nxt = c->snd_max = t->snd_nxt;
    c->fin_sent = c->fin_received = true;
    c->fin_seq = t->snd_nxt - 1;
    c->max_snd_wnd = t->max_snd_wnd;
    c->snd_mss = t->snd_mss;
    c->snd_wscale = t->snd_wscale;
    c->rcv_wscale = t->rcv_wscale;
    c->ws_agreed = t->ws_agreed;
    c->ts_ok = t->ts_ok;
    c->ts_recent = t->ts_recent;
    c->last_ack_sent = t->last_ack_sent;
    c->sack_ok = t->sack_ok;
    c->irs = 0; /* not needed past the handshake */
    c->rcv_nxt = t->rcv_nxt;
    c->rcv_adv = t->rcv_adv;
    c->rto = (uint32_t)c->pol.rto_initial;
    c->sndbuf.cap = c->pol.snd_buf;
    c->rcvbuf.cap = t->rcv_buf;
    c->timer_at[SF_TIMER_TIME_WAIT] = t->deadline;
}

sf_conn *sf_tw_expand(sf_stack *st, sf_tw *t)
{
    sf_conn *c = sf_conn_alloc(st);
    if (!c) return NULL; /* the record stays, and answers later */
    fill(c, t);
    tw_unhash(st, t);
    heap_remove(st, t);
    free(t);
    sf_conn_hash(c);
    sf_timer_update(c);
    sf_tw_schedule(c); /* a record again at the next entry point, if still TIME_WAIT */
    return c;
}

void sf_tw_schedule(sf_conn *c)
{
    sf_stack *st = c->stack;
    if (c->compact_pending) return;
    c->compact_pending = true;
    c->compact_next = st->compact;
    st->compact = c;
}

void sf_tw_unschedule(sf_conn *c)
{
    if (!c->compact_pending) return;
    sf_conn **at = &c->stack->compact;
    while (*at && *at != c)
        at = &(*at)->compact_next;
    if (*at) *at = c->compact_next;
    c->compact_pending = false;
}

void sf_tw_compact_scheduled(sf_stack *st)
{
    while (st->compact) {
        sf_conn *c = st->compact;
        st->compact = c->compact_next;
        c->compact_pending = false;
        if (compactable(c)) compact(st, c);
    }
}

void sf_tw_expire(sf_stack *st, uint64_t now)
{
    /* RFC 9293 §3.10.8, TIME-WAIT TIMEOUT: the record becomes a connection
     * for its last event (a pointer valid until the next entry point, as
     * any event's), and is gone */
    while (st->tw_heap_len && st->tw_heap[0]->deadline <= now) {
        sf_tw *t = st->tw_heap[0];
        sf_conn *c = sf_conn_alloc(st);
        if (!c) break; /* the record waits for memory */
        fill(c, t);
        c->timer_at[SF_TIMER_TIME_WAIT] = 0;
        tw_unhash(st, t);
        heap_remove(st, t);
        free(t);
        sf_conn_closed(c, SF_CAUSE_TIMER, "2MSL", 0);
    }
}

void sf_tw_foreach(sf_stack *st, void (*fn)(void *ud, const sf_conn *c), void *ud)
{
    for (size_t i = 0; i < st->tw_table_size; i++)
        for (sf_tw *t = st->tw_table[i]; t; t = t->hash_next) {
            sf_conn view;
            memset(&view, 0, sizeof view);
            view.stack = st;
            fill(&view, t);
            fn(ud, &view);
        }
}

void sf_tw_free_all(sf_stack *st)
{
    for (size_t i = 0; i < st->tw_table_size; i++)
        for (sf_tw *t = st->tw_table[i], *next; t; t = next) {
            next = t->hash_next;
            free(t);
        }
    free(st->tw_table);
    free(st->tw_heap);
    st->tw_table = NULL;
    st->tw_heap = NULL;
    st->tw_table_size = st->tw_heap_len = st->tw_heap_cap = st->ntw = 0;
}
