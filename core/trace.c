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
    free(t->recs);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

long sf_trace_add(sf_trace *t, sf_trace_kind kind, uint64_t time)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        sf_trace_rec *recs = realloc(t->recs, cap * sizeof *recs);
        if (!recs) return -1;
        t->recs = recs;
        t->cap = cap;
    }
    sf_trace_rec *r = &t->recs[t->n];
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
    sf_trace_rec *r = &t->recs[i];
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
    if (i < 0 || len > UINT32_MAX) return;
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
    t->recs[i].text_off = (uint32_t)t->arena_len;
    t->recs[i].text_len = (uint32_t)len;
    t->arena_len += len;
}
