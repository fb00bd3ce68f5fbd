/* trace.c - the run's record (see trace.h). */
#include "trace.h"

#include <stdlib.h>
#include <string.h>

const char *sf_fate_name(sf_fate fate)
{
    switch (fate) {
    case SF_FATE_FLIGHT: return "flight";
    case SF_FATE_DELIVERED: return "delivered";
    case SF_FATE_LOST: return "lost";
    case SF_FATE_DROPPED_EGRESS: return "dropped_egress";
    case SF_FATE_DROPPED_INGRESS: return "dropped_ingress";
    case SF_FATE_NO_HOST: return "no_host";
    case SF_FATE_REPLACED: return "replaced";
    default: return "?";
    }
}

void sf_trace_init(sf_trace *t)
{
    memset(t, 0, sizeof *t);
    t->keep_payload = true;
}

void sf_trace_free(sf_trace *t)
{
    for (size_t k = 0; k < t->nchunks; k++)
        free(t->chunks[k]);
    free(t->chunks);
    free(t->arena);
    free(t->flows);
    memset(t, 0, sizeof *t);
}

void sf_trace_set_limit(sf_trace *t, size_t limit)
{
    t->limit = limit;
}

/* Drops the oldest chunk (numbered first: the numbering reads records in
 * order) and the bytes its records had in the arena. */
static void drop_oldest(sf_trace *t)
{
    sf_trace_number(t);
    free(t->chunks[0]);
    memmove(t->chunks, t->chunks + 1, (t->nchunks - 1) * sizeof *t->chunks);
    t->nchunks--;
    t->chunk0++;
    t->first = t->chunk0 * SF_TRACE_CHUNK;
    if (t->numbered < t->first) t->numbered = t->first; /* (numbering failed: out of memory) */
    /* texts are stored in the order of their records: the kept ones start
     * at the first kept record's text. A record gets its text as it is
     * added (sf_trace_text on the newest), so the records found without
     * one stay so, and are not looked at again: a walk over every kept
     * record at each chunk dropped would make a long run's trace cost
     * grow with its limit. */
    size_t base = t->arena_len;
    size_t i = t->arena_len == 0             ? t->n /* nothing stored: none has text */
               : t->no_text_below > t->first ? t->no_text_below
                                             : t->first;
    for (; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->text_len) {
            base = r->text_off;
            break;
        }
    }
    t->no_text_below = i;
    if (base == 0) return;
    memmove(t->arena, t->arena + base, t->arena_len - base);
    t->arena_len -= base;
    for (size_t k = t->first; k < t->n; k++) {
        sf_trace_rec *r = sf_trace_at(t, (long)k);
        if (r->text_len) r->text_off -= (uint32_t)base;
    }
}

long sf_trace_add(sf_trace *t, sf_trace_kind kind, uint64_t time)
{
    if (t->n % SF_TRACE_CHUNK == 0) { /* the last chunk is full (or there is none) */
        /* with a limit: the oldest chunk goes once the last `limit` records,
         * this new one among them, are all past it */
        while (t->limit && t->nchunks && t->n + 1 >= (t->chunk0 + 1) * SF_TRACE_CHUNK + t->limit)
            drop_oldest(t);
        if (t->nchunks == t->chunks_cap) {
            size_t cap = t->chunks_cap ? t->chunks_cap * 2 : 16;
            sf_trace_rec **chunks = realloc(t->chunks, cap * sizeof *chunks);
            if (!chunks) return -1;
            t->chunks = chunks;
            t->chunks_cap = cap;
        }
        sf_trace_rec *chunk = malloc(SF_TRACE_CHUNK * sizeof *chunk);
        if (!chunk) return -1;
        t->chunks[t->nchunks++] = chunk;
    }
    sf_trace_rec *r = &t->chunks[t->nchunks - 1][t->n % SF_TRACE_CHUNK];
    memset(r, 0, sizeof *r);
    r->kind = (uint8_t)kind;
    r->time = time;
    r->to_host = UINT16_MAX;
    r->old_state = r->new_state = -1;
    return (long)t->n++;
}

long sf_trace_seg(sf_trace *t, uint64_t time, const sf_seg *seg)
{
    long i = sf_trace_add(t, SF_TR_SEG, time);
    if (i < 0) return i;
    sf_trace_rec *r = sf_trace_at(t, i);
    r->seg_no = ++t->segs;
    r->saddr = seg->saddr;
    r->daddr = seg->daddr;
    r->sport = seg->sport;
    r->dport = seg->dport;
    r->seq = seg->seq;
    r->ack = seg->ack;
    r->flags = seg->flags;
    r->wnd = seg->wnd;
    r->mss = seg->mss;
    r->wscale = seg->wscale;
    r->sack_perm = seg->sack_perm;
    r->sack_n = seg->sack_n > 4 ? 4 : seg->sack_n;
    memcpy(r->sack, seg->sack, sizeof r->sack);
    r->ttl = seg->ttl;
    r->urp = seg->urp;
    r->ts_val = seg->ts_val;
    r->ts_ecr = seg->ts_ecr;
    r->tos = seg->tos;
    r->has_ts = seg->has_ts;
    r->len = seg->len;
    if (t->keep_payload && seg->len) sf_trace_text(t, i, seg->payload, seg->len);
    return i;
}

void sf_trace_text(sf_trace *t, long i, const void *text, size_t len)
{
    sf_trace_rec *r = sf_trace_at(t, i);
    /* offsets are 32 bits: past 4 GiB of stored bytes, no more are stored
     * (a limit keeps a long run under it) */
    if (!r || len > UINT32_MAX || t->arena_len + len > UINT32_MAX) return;
    if (t->arena_len + len > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 4096;
        while (cap < t->arena_len + len)
            cap *= 2;
        uint8_t *arena = realloc(t->arena, cap);
        if (!arena) return;
        t->arena = arena;
        t->arena_cap = cap;
    }
    memcpy(t->arena + t->arena_len, text, len);
    r->text_off = (uint32_t)t->arena_len;
    r->text_len = (uint32_t)len;
    t->arena_len += len;
}

/* ---- relative numbers ------------------------------------------------------ */

static size_t flow_hash(sf_addr saddr, uint16_t sport, sf_addr daddr, uint16_t dport)
{
    uint64_t w[4];
    memcpy(w, saddr.b, 16);
    memcpy(w + 2, daddr.b, 16);
    uint64_t k = (w[0] ^ w[1] * 0xc2b2ae3d27d4eb4fu) ^ (w[2] ^ w[3]) * 0x9e3779b97f4a7c15u ^
                 ((uint64_t)sport << 16 | dport);
    k ^= k >> 29;
    k *= 0xbf58476d1ce4e5b9u;
    return (size_t)(k ^ k >> 32);
}

/* The flow's slot: its own, or the empty one where it would go. */
static sf_trace_flow *flow_slot(const sf_trace *t, sf_addr saddr, uint16_t sport, sf_addr daddr,
                                uint16_t dport)
{
    size_t mask = t->flows_cap - 1;
    for (size_t i = flow_hash(saddr, sport, daddr, dport) & mask;; i = (i + 1) & mask) {
        sf_trace_flow *f = &t->flows[i];
        if (!f->used || (f->sport == sport && f->dport == dport && sf_addr_eq(f->saddr, saddr) &&
                         sf_addr_eq(f->daddr, daddr)))
            return f;
    }
}

static sf_trace_flow *flow_find(const sf_trace *t, sf_addr saddr, uint16_t sport, sf_addr daddr,
                                uint16_t dport)
{
    if (!t->flows_cap) return NULL;
    sf_trace_flow *f = flow_slot(t, saddr, sport, daddr, dport);
    return f->used ? f : NULL;
}

/* Room for one more flow: the table stays at most half full. */
static int flows_reserve(sf_trace *t)
{
    if ((t->nflows + 1) * 2 <= t->flows_cap) return 0;
    size_t cap = t->flows_cap ? t->flows_cap * 2 : 64;
    sf_trace_flow *old = t->flows;
    size_t old_cap = t->flows_cap;
    t->flows = calloc(cap, sizeof *t->flows);
    if (!t->flows) {
        t->flows = old;
        return -1;
    }
    t->flows_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].used)
            *flow_slot(t, old[i].saddr, old[i].sport, old[i].daddr, old[i].dport) = old[i];
    free(old);
    return 0;
}

static int number_seg(sf_trace *t, sf_trace_rec *r)
{
    if (r->flags & SF_SYN) {
        sf_trace_flow *f = flow_find(t, r->saddr, r->sport, r->daddr, r->dport);
        if (!f) {
            if (flows_reserve(t) < 0) return -1;
            f = flow_slot(t, r->saddr, r->sport, r->daddr, r->dport);
            *f = (sf_trace_flow){.saddr = r->saddr,
                                 .daddr = r->daddr,
                                 .sport = r->sport,
                                 .dport = r->dport,
                                 .used = true,
                                 .closed = true};
            t->nflows++;
        }
        if (f->closed) {
            f->isn = r->seq;
            f->wscale = r->wscale;
            f->closed = false;
        }
    }
    const sf_trace_flow *mine = flow_find(t, r->saddr, r->sport, r->daddr, r->dport);
    const sf_trace_flow *theirs = flow_find(t, r->daddr, r->dport, r->saddr, r->sport);
    r->numbered = 0;
    r->rel_seq = r->seq;
    r->rel_ack = r->ack;
    if (mine) {
        r->rel_seq = r->seq - mine->isn;
        r->numbered |= SF_REL_SEQ;
    }
    if (theirs) {
        r->rel_ack = r->ack - theirs->isn;
        r->numbered |= SF_REL_ACK;
    }
    r->win_shift = -1;
    if (!(r->flags & SF_SYN) && mine && theirs && mine->wscale >= 0 && theirs->wscale >= 0)
        r->win_shift = mine->wscale;
    return 0;
}

static void close_flow(sf_trace *t, sf_addr saddr, uint16_t sport, sf_addr daddr, uint16_t dport)
{
    sf_trace_flow *f = flow_find(t, saddr, sport, daddr, dport);
    if (f) f->closed = true;
}

int sf_trace_number(sf_trace *t)
{
    if (t->numbered < t->first) t->numbered = t->first;
    for (; t->numbered < t->n; t->numbered++) {
        sf_trace_rec *r = sf_trace_at(t, (long)t->numbered);
        if (r->kind == SF_TR_SEG) {
            if (number_seg(t, r) < 0) return -1;
        } else if (r->kind == SF_TR_STATE && r->dport != 0 &&
                   (r->new_state == SF_CLOSED || r->new_state == SF_LISTEN)) {
            close_flow(t, r->saddr, r->sport, r->daddr, r->dport);
            close_flow(t, r->daddr, r->dport, r->saddr, r->sport);
        }
    }
    return 0;
}

bool sf_trace_isn(sf_trace *t, sf_addr saddr, uint16_t sport, sf_addr daddr, uint16_t dport,
                  uint32_t *isn)
{
    sf_trace_number(t);
    const sf_trace_flow *f = flow_find(t, saddr, sport, daddr, dport);
    if (f) *isn = f->isn;
    return f != NULL;
}

uint32_t sf_trace_rel_sack(const sf_trace_rec *r, uint32_t e)
{
    /* SACK blocks name the other direction's bytes, as the ACK does */
    return e - (r->ack - r->rel_ack);
}
