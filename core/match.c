/* match.c - patterns over the trace (see match.h). */
#include "match.h"

#include <string.h>

/* The flag letters in the order of their bits' names (sf_flags_str). */
static int flag_bit(char c)
{
    switch (c) {
    case 'S': return SF_SYN;
    case 'F': return SF_FIN;
    case 'R': return SF_RST;
    case 'P': return SF_PSH;
    case 'A': return SF_ACK;
    case 'U': return SF_URG;
    case 'E': return SF_ECE;
    case 'C': return SF_CWR;
    default: return -1;
    }
}

int sf_pattern_flags(sf_pattern *p, const char *letters)
{
    bool exact = letters[0] == '=';
    uint8_t set = 0;
    for (const char *c = letters + exact; *c; c++) {
        int bit = flag_bit(*c);
        if (bit < 0) return -1;
        set |= (uint8_t)bit;
    }
    p->tests |= SF_PAT_FLAGS;
    p->flags_set = set;
    p->flags_clear = exact ? (uint8_t)~set : 0;
    return 0;
}

static bool on_wire(const sf_trace_rec *r)
{
    return r->kind == SF_TR_SEG && r->fate != SF_FATE_DROPPED_EGRESS && r->fate != SF_FATE_REPLACED;
}

/* The record's host index as patterns compare it: none is no index. */
static int64_t host_of(uint16_t h)
{
    return h == UINT16_MAX ? -1 : h;
}

#define TEST(bit) (p->tests & (bit))

bool sf_match_rec(const sf_trace *t, const sf_trace_rec *r, const sf_pattern *p)
{
    if (!on_wire(r)) return false;
    if (TEST(SF_PAT_FROM) && host_of(r->host) != p->from) return false;
    if (TEST(SF_PAT_TO) && host_of(r->to_host) != p->to) return false;
    if (TEST(SF_PAT_FLAGS) &&
        ((r->flags & p->flags_set) != p->flags_set || (r->flags & p->flags_clear)))
        return false;
    if (TEST(SF_PAT_SEQ) && r->rel_seq != p->seq) return false;
    if (TEST(SF_PAT_ACK) && r->rel_ack != p->ack) return false;
    if (TEST(SF_PAT_ABS_SEQ) && r->seq != p->abs_seq) return false;
    if (TEST(SF_PAT_ABS_ACK) && r->ack != p->abs_ack) return false;
    if (TEST(SF_PAT_LEN) && r->len != p->len) return false;
    if (TEST(SF_PAT_WIN) && r->wnd != p->win) return false;
    if (TEST(SF_PAT_SPORT) && r->sport != p->sport) return false;
    if (TEST(SF_PAT_DPORT) && r->dport != p->dport) return false;
    if (TEST(SF_PAT_MSS) && (r->mss == 0 || r->mss != p->mss)) return false;
    if (TEST(SF_PAT_N) && (r->seg_no == 0 || r->seg_no != p->n)) return false;
    if (TEST(SF_PAT_INJECTED) && (r->injected != 0) != p->injected) return false;
    if (TEST(SF_PAT_CONN) && (r->conn_id != p->conn_id || host_of(r->host) != p->conn_host))
        return false;
    if (TEST(SF_PAT_PAYLOAD) &&
        (r->text_len != p->payload_len ||
         (r->text_len && memcmp(t->arena + r->text_off, p->payload, r->text_len) != 0)))
        return false;
    return true;
}

static bool takes(const sf_trace *t, const sf_trace_rec *r, const sf_pattern *p, sf_match_mode mode)
{
    if (mode == SF_MATCH_UNCONSUMED && r->consumed) return false;
    return sf_match_rec(t, r, p);
}

long sf_match_next(sf_trace *t, size_t from, const sf_pattern *p, sf_match_mode mode)
{
    sf_trace_number(t); /* (without memory, the rest is numbered next time) */
    size_t end = t->numbered < t->n ? t->numbered : t->n;
    for (size_t i = from < t->first ? t->first : from; i < end; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (takes(t, r, p, mode)) return (long)i;
    }
    return -1;
}

long sf_match_prev(sf_trace *t, size_t before, const sf_pattern *p, sf_match_mode mode)
{
    sf_trace_number(t);
    size_t end = t->numbered < t->n ? t->numbered : t->n;
    for (size_t i = before < end ? before : end; i > t->first; i--) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i - 1);
        if (takes(t, r, p, mode)) return (long)i - 1;
    }
    return -1;
}
