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
 * is compacted again.
 *
 * The memory a record costs is what the goal of 128 bytes per TIME_WAIT
 * counts: a record of 64 bytes, packed with no allocator overhead in chunks
 * of SF_TW_CHUNK records (records 0 .. ntw-1, dense: the last fills the hole
 * a record leaves), 4 bytes in the 4-tuple table (record numbers, not
 * pointers, at a load of at most 1) and 4 in the heap of deadlines (record
 * numbers again). What a record shares with every other made with the same
 * policy (the policy itself, its buffer sizes) is interned once per stack,
 * in tw_profiles; a record names its profile in a byte. */
#include "tcb.h"

#include <stdlib.h>
#include <string.h>

#define SF_TW_CHUNK_SHIFT  7
#define SF_TW_CHUNK        (1u << SF_TW_CHUNK_SHIFT) /* records a chunk (8 KiB) */
#define SF_TW_MAX_PROFILES 255 /* policies a record can name (a byte); past it, no record */
#define SF_TW_TABLE_MIN    64

/* the record's flags */
enum { TW_TS_OK = 1, TW_WS_AGREED = 2, TW_SACK_OK = 4, TW_PASSIVE = 8 };

struct sf_tw {
    uint64_t deadline;  /* the end of 2*MSL (RFC 9293 §3.10.7.4, eighth step) */
    uint32_t hash_next; /* the next in the 4-tuple chain: record number + 1, 0: none */
    uint32_t heap_idx;  /* its place in the heap of deadlines */
    uint32_t id;
    sf_addr laddr, raddr; /* (byte-aligned: no padding around them) */
    uint16_t lport, rport;
    /* the sequence space (SND.UNA = SND.NXT = SND.MAX = FIN + 1 here) */
    uint32_t iss, snd_nxt, rcv_nxt, rcv_adv, last_ack_sent, max_snd_wnd;
    uint32_t ts_recent; /* TS.Recent (RFC 7323): PAWS and RFC 6191 go on */
    uint16_t snd_mss;
    uint8_t snd_wscale, rcv_wscale;
    uint8_t profile; /* the policy it was made with, in tw_profiles */
    uint8_t flags;
};

size_t sf_time_wait_sizeof(void)
{
    return sizeof(sf_tw);
}

size_t sf_stack_time_wait_records(const sf_stack *st)
{
    return st->ntw;
}

/* ---- the records, dense in chunks ---- */

static sf_tw *tw_at(const sf_stack *st, uint32_t i)
{
    return &st->tw_chunks[i >> SF_TW_CHUNK_SHIFT][i & (SF_TW_CHUNK - 1)];
}

/* The number of record t (its heap slot names it). */
static uint32_t tw_index(const sf_stack *st, const sf_tw *t)
{
    return st->tw_heap[t->heap_idx];
}

/* Room for record number ntw: a new chunk when the last is full. */
static bool tw_reserve(sf_stack *st)
{
    if (st->ntw < st->tw_nchunks * SF_TW_CHUNK) return true;
    if (st->ntw >= UINT32_MAX - SF_TW_CHUNK) return false;
    sf_tw **chunks = realloc(st->tw_chunks, (st->tw_nchunks + 1) * sizeof *chunks);
    if (!chunks) return false;
    st->tw_chunks = chunks;
    sf_tw *chunk = malloc(SF_TW_CHUNK * sizeof *chunk);
    if (!chunk) return false;
    st->tw_chunks[st->tw_nchunks++] = chunk;
    return true;
}

/* Frees the chunks past the records, keeping one spare so that a count
 * going up and down across a chunk's edge does not free and allocate it
 * each time. */
static void tw_release_chunks(sf_stack *st)
{
    while (st->tw_nchunks > 0 && (st->tw_nchunks - 1) * SF_TW_CHUNK >= st->ntw + SF_TW_CHUNK) {
        free(st->tw_chunks[--st->tw_nchunks]);
    }
    if (st->ntw == 0) {
        while (st->tw_nchunks > 0)
            free(st->tw_chunks[--st->tw_nchunks]);
        free(st->tw_chunks);
        st->tw_chunks = NULL;
    }
}

/* ---- the table, by 4-tuple ---- */

static size_t tw_bucket_of(size_t size, sf_addr laddr, sf_addr raddr, uint16_t lport,
                           uint16_t rport)
{
    return (size_t)sf_tuple_hash(laddr, raddr, lport, rport) & (size - 1);
}

/* Lays the chains out in a table of `size` buckets; false without memory
 * (the old table stays). */
static bool tw_table_resize(sf_stack *st, size_t size)
{
    uint32_t *table = calloc(size, sizeof *table);
    if (!table) return false;
    for (uint32_t i = 0; i < st->ntw; i++) {
        sf_tw *t = tw_at(st, i);
        size_t b = tw_bucket_of(size, t->laddr, t->raddr, t->lport, t->rport);
        t->hash_next = table[b];
        table[b] = i + 1;
    }
    free(st->tw_table);
    st->tw_table = table;
    st->tw_table_size = size;
    return true;
}

sf_tw *sf_tw_find(const sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport, uint16_t rport)
{
    if (!st->tw_table_size) return NULL;
    for (uint32_t l = st->tw_table[tw_bucket_of(st->tw_table_size, laddr, raddr, lport, rport)];
         l;) {
        sf_tw *t = tw_at(st, l - 1);
        if (t->lport == lport && t->rport == rport && sf_addr_eq(t->raddr, raddr) &&
            sf_addr_eq(t->laddr, laddr))
            return t;
        l = t->hash_next;
    }
    return NULL;
}

/* The link (a bucket or a record's hash_next) that holds record number i. */
static uint32_t *tw_link_to(sf_stack *st, uint32_t i)
{
    const sf_tw *t = tw_at(st, i);
    uint32_t *at =
        &st->tw_table[tw_bucket_of(st->tw_table_size, t->laddr, t->raddr, t->lport, t->rport)];
    while (*at != i + 1)
        at = &tw_at(st, *at - 1)->hash_next;
    return at;
}

/* ---- the 2*MSL timers: a binary min-heap of record numbers ---- */

static bool tw_earlier(const sf_stack *st, size_t a, size_t b)
{
    return tw_at(st, st->tw_heap[a])->deadline < tw_at(st, st->tw_heap[b])->deadline;
}

static void tw_heap_swap(sf_stack *st, size_t a, size_t b)
{
    uint32_t ia = st->tw_heap[a], ib = st->tw_heap[b];
    st->tw_heap[a] = ib;
    st->tw_heap[b] = ia;
    tw_at(st, ib)->heap_idx = (uint32_t)a;
    tw_at(st, ia)->heap_idx = (uint32_t)b;
}

/* Restores the heap's order around slot i (n slots in use). */
static void tw_heap_fix(sf_stack *st, size_t i, size_t n)
{
    while (i > 0 && tw_earlier(st, i, (i - 1) / 2)) {
        tw_heap_swap(st, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && tw_earlier(st, l, m)) m = l;
        if (r < n && tw_earlier(st, r, m)) m = r;
        if (m == i) return;
        tw_heap_swap(st, i, m);
        i = m;
    }
}

uint64_t sf_tw_deadline(const sf_stack *st)
{
    return st->ntw ? tw_at(st, st->tw_heap[0])->deadline : SF_NO_DEADLINE;
}

/* Whether the heap has room for one more (it always holds every record). */
static bool tw_heap_reserve(sf_stack *st)
{
    if (st->ntw < st->tw_heap_cap) return true;
    size_t cap = st->tw_heap_cap ? st->tw_heap_cap * 2 : SF_TW_TABLE_MIN;
    uint32_t *heap = realloc(st->tw_heap, cap * sizeof *heap);
    if (!heap) return false;
    st->tw_heap = heap;
    st->tw_heap_cap = cap;
    return true;
}

/* ---- the policies records were made with ---- */

/* The profile of connection c's policy (its buffer sizes included), a new
 * one if none matches; -1 when there is no room for another. */
static int tw_profile(sf_stack *st, const sf_conn *c)
{
    sf_policy p;
    memcpy(&p, &c->pol, sizeof p);
    p.snd_buf = c->sndbuf.cap;
    for (size_t i = st->tw_nprofiles; i-- > 0;)
        if (memcmp(&st->tw_profiles[i], &p, sizeof p) == 0) return (int)i;
    if (st->tw_nprofiles >= SF_TW_MAX_PROFILES) return -1;
    sf_policy *profiles = realloc(st->tw_profiles, (st->tw_nprofiles + 1) * sizeof *profiles);
    if (!profiles) return -1;
    st->tw_profiles = profiles;
    profiles[st->tw_nprofiles] = p;
    return (int)st->tw_nprofiles++;
}

/* ---- removing a record ---- */

/* Takes record t out of the table and the heap and fills its place with the
 * last record, so that records 0 .. ntw-1 stay dense. */
static void tw_remove(sf_stack *st, sf_tw *t)
{
    uint32_t i = tw_index(st, t), last = (uint32_t)st->ntw - 1;
    *tw_link_to(st, i) = t->hash_next;
    /* out of the heap: its last slot takes the place */
    size_t h = t->heap_idx;
    if (h != last) {
        st->tw_heap[h] = st->tw_heap[last];
        tw_at(st, st->tw_heap[h])->heap_idx = (uint32_t)h;
        tw_heap_fix(st, h, last);
    }
    if (i != last) { /* the last record moves into the hole */
        uint32_t *link = tw_link_to(st, last);
        *t = *tw_at(st, last);
        *link = i + 1;
        st->tw_heap[t->heap_idx] = i;
    }
    st->ntw--;
    tw_release_chunks(st);
    /* the table and the heap shrink with the records (a million TIME_WAIT
     * gone leaves no 8 MB behind); never below a load of 1/8 */
    if (st->ntw == 0) {
        free(st->tw_table);
        free(st->tw_heap);
        st->tw_table = st->tw_heap = NULL;
        st->tw_table_size = st->tw_heap_cap = 0;
    } else {
        if (st->tw_table_size > SF_TW_TABLE_MIN && st->ntw < st->tw_table_size / 8)
            tw_table_resize(st, st->tw_table_size / 2);
        if (st->tw_heap_cap > SF_TW_TABLE_MIN && st->ntw < st->tw_heap_cap / 4) {
            uint32_t *heap = realloc(st->tw_heap, st->tw_heap_cap / 2 * sizeof *heap);
            if (heap) {
                st->tw_heap = heap;
                st->tw_heap_cap /= 2;
            }
        }
    }
}

/* ---- compacting and expanding ---- */

/* Whether the connection can become a record: in TIME_WAIT with its whole
 * sequence space acknowledged both ways, nobody's, and nothing else
 * pointing at it (a batch's pending output, a connection it is parked for). */
static bool compactable(const sf_conn *c)
{
    return c->state == SF_TIME_WAIT && !c->held && c->hashed && !c->tw_child && !c->tw_parked &&
           !c->output_pending && c->fin_sent && c->fin_received && c->snd_una == c->snd_nxt &&
           c->snd_nxt == c->snd_max && c->rcvbuf.len == 0 && c->ooo.n == 0 &&
           sf_timer_on(c, SF_TIMER_TIME_WAIT);
}

/* Makes connection c a record; false when memory is short (it stays). */
static bool compact(sf_stack *st, sf_conn *c)
{
    if (st->ntw >= st->tw_table_size &&
        !tw_table_resize(st, st->tw_table_size ? st->tw_table_size * 2 : SF_TW_TABLE_MIN) &&
        !st->tw_table_size)
        return false; /* (a table that cannot grow keeps longer chains) */
    int profile = tw_profile(st, c);
    if (profile < 0 || !tw_heap_reserve(st) || !tw_reserve(st)) return false;
    uint32_t i = (uint32_t)st->ntw;
    sf_tw *t = tw_at(st, i);
    *t = (sf_tw){.deadline = c->timer_at[SF_TIMER_TIME_WAIT],
                 .id = c->id,
                 .laddr = c->laddr,
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
                 .snd_mss = c->snd_mss,
                 .snd_wscale = c->snd_wscale,
                 .rcv_wscale = c->rcv_wscale,
                 .profile = (uint8_t)profile,
                 .flags = (uint8_t)((c->ts_ok ? TW_TS_OK : 0) | (c->ws_agreed ? TW_WS_AGREED : 0) |
                                    (c->sack_ok ? TW_SACK_OK : 0) | (c->passive ? TW_PASSIVE : 0))};
    size_t b = tw_bucket_of(st->tw_table_size, t->laddr, t->raddr, t->lport, t->rport);
    t->hash_next = st->tw_table[b];
    st->tw_table[b] = i + 1;
    t->heap_idx = i;
    st->tw_heap[i] = i;
    st->ntw++;
    tw_heap_fix(st, i, st->ntw);
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
    c->pol = st->tw_profiles[t->profile];
    c->timer_node.idx = SF_HEAP_OUT;
    c->laddr = t->laddr;
    c->raddr = t->raddr;
    c->lport = t->lport;
    c->rport = t->rport;
    c->passive = (t->flags & TW_PASSIVE) != 0;
    c->iss = t->iss;
    c->snd_una = c->snd_nxt = c->snd_max = t->snd_nxt;
    c->fin_sent = c->fin_received = true;
    c->fin_seq = t->snd_nxt - 1;
    c->max_snd_wnd = t->max_snd_wnd;
    c->snd_mss = t->snd_mss;
    c->snd_wscale = t->snd_wscale;
    c->rcv_wscale = t->rcv_wscale;
    c->ws_agreed = (t->flags & TW_WS_AGREED) != 0;
    c->ts_ok = (t->flags & TW_TS_OK) != 0;
    c->ts_recent = t->ts_recent;
    c->last_ack_sent = t->last_ack_sent;
    c->sack_ok = (t->flags & TW_SACK_OK) != 0;
    c->irs = 0; /* not needed past the handshake */
    c->rcv_nxt = t->rcv_nxt;
    c->rcv_adv = t->rcv_adv;
    c->rto = (uint32_t)c->pol.rto_initial;
    c->sndbuf.cap = c->pol.snd_buf;
    c->rcvbuf.cap = sf_rcv_ring_cap(&c->pol);
    c->sndbuf.pool = c->rcvbuf.pool = &c->stack->ring_pool;
    c->timer_at[SF_TIMER_TIME_WAIT] = t->deadline;
}

sf_conn *sf_tw_expand(sf_stack *st, sf_tw *t)
{
    sf_conn *c = sf_conn_alloc(st);
    if (!c) return NULL; /* the record stays, and answers later */
    fill(c, t);
    tw_remove(st, t);
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
    while (st->ntw && tw_at(st, st->tw_heap[0])->deadline <= now) {
        sf_tw *t = tw_at(st, st->tw_heap[0]);
        sf_conn *c = sf_conn_alloc(st);
        if (!c) break; /* the record waits for memory */
        fill(c, t);
        c->timer_at[SF_TIMER_TIME_WAIT] = 0;
        tw_remove(st, t);
        sf_conn_closed(c, SF_CAUSE_TIMER, "2MSL", 0);
    }
}

void sf_tw_foreach(sf_stack *st, void (*fn)(void *ud, const sf_conn *c), void *ud)
{
    for (size_t b = 0; b < st->tw_table_size; b++)
        for (uint32_t l = st->tw_table[b]; l;) {
            const sf_tw *t = tw_at(st, l - 1);
            sf_conn view;
            memset(&view, 0, sizeof view);
            view.stack = st;
            fill(&view, t);
            l = t->hash_next;
            fn(ud, &view);
        }
}

void sf_tw_free_all(sf_stack *st)
{
    st->ntw = 0;
    tw_release_chunks(st);
    free(st->tw_table);
    free(st->tw_heap);
    free(st->tw_profiles);
    st->tw_table = st->tw_heap = NULL;
    st->tw_profiles = NULL;
    st->tw_table_size = st->tw_heap_cap = st->tw_nprofiles = 0;
}
