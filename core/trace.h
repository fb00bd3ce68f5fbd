/* trace.h - the record of a run: every segment on the wire with its fate,
 * every state change with its cause, every explained drop. Drivers write it;
 * the Lua side turns it into the ladder diagram and matches expectations on
 * it. Records only grow; an index names a record for the life of the trace. */
#ifndef SF_TRACE_H
#define SF_TRACE_H

#include "synfin.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a record is. */
typedef enum {
    SF_TR_SEG,   /* a segment put on the wire (or dropped before it) */
    SF_TR_STATE, /* a connection changed state */
    SF_TR_NOTE,  /* an explanation: a protocol drop, a hook failure, a user note */
} sf_trace_kind;

/* What became of a segment. */
typedef enum {
    SF_FATE_FLIGHT,          /* on the wire, not yet arrived */
    SF_FATE_DELIVERED,       /* handed to the receiving host */
    SF_FATE_LOST,            /* lost by the link (seeded loss) */
    SF_FATE_DROPPED_EGRESS,  /* an egress hook dropped it: it never reached the wire */
    SF_FATE_DROPPED_INGRESS, /* an ingress hook dropped it on arrival */
    SF_FATE_NO_HOST,         /* no host has the destination address */
    SF_FATE_REPLACED,        /* an egress hook sent a modified copy instead */
} sf_fate;

/* The fate's name, as records in Lua spell it: "flight", "delivered",
 * "lost", "dropped_egress", "dropped_ingress", "no_host", "replaced"
 * (static text; "?" when unknown). */
const char *sf_fate_name(sf_fate fate);

/* One record; which fields mean something depends on its kind. */
typedef struct {
    uint64_t time;    /* when it happened (a segment: when it entered the wire) */
    uint64_t arrival; /* a segment: when it reached the receiver */
    uint64_t delay;   /* a segment: delay added by a hook (egress and ingress) */
    uint8_t kind, fate, flags, cause;
    int8_t old_state, new_state;
    uint8_t injected; /* crafted by a script, not sent by a stack */
    uint8_t consumed; /* an expectation matched it: no other will (core/match.h) */
    uint16_t host;    /* sender (segment) or the host concerned */
    uint16_t to_host; /* receiver, UINT16_MAX when none */
    uint32_t conn_id;
    sf_addr saddr, daddr;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t wnd, mss;
    int8_t wscale;
    uint32_t ts_val, ts_ecr;
    uint16_t urp;
    uint8_t ttl, tos;
    uint8_t sack_perm, has_ts;
    uint8_t sack_n;              /* SACK blocks (RFC 2018) */
    uint32_t sack[4][2];         /* their left and right edges, absolute */
    uint32_t len;                /* payload bytes */
    uint32_t seg_no;             /* a segment's number (1, 2, ...); a state change: the
                                    segment that caused it, 0 if none */
    uint32_t hook_id;            /* the hook whose verdict applied */
    uint32_t text_off, text_len; /* payload, or a note's text, in the arena */
    const char *why;             /* static text: a state change's or a drop's reason */
    uint16_t reason;             /* a drop's or a note's code (sf_reason), 0 if none */
    /* a segment: seq and ack relative to the ISNs seen on the wire before it
     * (sf_trace_number fills them; the absolute number when its ISN is unknown) */
    uint8_t numbered; /* SF_REL_SEQ | SF_REL_ACK: which ISN was known */
    uint32_t rel_seq, rel_ack;
    /* the window scale its sender announced on its SYN, when both SYNs had
     * the option (RFC 7323 §2.2: it applies to the windows of the segments
     * after the SYNs), -1 otherwise: win << win_shift is the real window */
    int8_t win_shift;
} sf_trace_rec;

/* The bits of sf_trace_rec.numbered: its seq's ISN, its ack's ISN, was known. */
enum { SF_REL_SEQ = 1, SF_REL_ACK = 2 };

/* The ISN each direction of a flow started from, as the wire showed it. */
typedef struct {
    sf_addr saddr, daddr;
    uint16_t sport, dport;
    uint32_t isn;
    int8_t wscale;     /* the window scale option of that SYN, -1 if none */
    bool used, closed; /* closed: the next SYN on these ports starts anew */
} sf_trace_flow;

/* Records per chunk of a trace's storage. */
#define SF_TRACE_CHUNK 256

/* A trace: its records, and an arena for payloads and the texts of notes.
 * Records live in chunks of SF_TRACE_CHUNK that never move (a pointer to a
 * record stays good while it is kept; growing copies nothing); indices are
 * global and stable (sf_trace_at). With a limit, whole chunks of the oldest
 * go once the last `limit` records are past them. */
typedef struct {
    sf_trace_rec **chunks; /* chunks[k]: records (chunk0 + k) * SF_TRACE_CHUNK on */
    size_t nchunks, chunks_cap;
    size_t chunk0; /* the oldest chunk kept */
    size_t n;      /* records ever added (the next index) */
    size_t first;  /* the oldest record kept: chunk0 * SF_TRACE_CHUNK */
    size_t limit;  /* keep at least the last this many, 0: all */
    uint8_t *arena;
    size_t arena_len, arena_cap;
    size_t no_text_below; /* the kept records below this index have no text */
    uint32_t segs;        /* segments numbered so far */
    bool keep_payload;    /* store payload bytes (for patterns on payload) */
    size_t numbered;      /* records sf_trace_number has seen */
    sf_trace_flow *flows;
    size_t nflows, flows_cap; /* an open-addressed table, a power of two */
} sf_trace;

/* An empty trace, which keeps payloads. */
void sf_trace_init(sf_trace *t);
/* Frees the trace's memory; it is empty again. */
void sf_trace_free(sf_trace *t);
/* Appends a zeroed record of this kind; returns its index, or -1 without memory. */
long sf_trace_add(sf_trace *t, sf_trace_kind kind, uint64_t time);
/* Appends a segment record filled from seg; numbers it. */
long sf_trace_seg(sf_trace *t, uint64_t time, const sf_seg *seg);
/* Record i, or NULL when it is not (or no longer) kept. */
static inline sf_trace_rec *sf_trace_at(const sf_trace *t, long i)
{
    if (i < 0 || (size_t)i < t->first || (size_t)i >= t->n) return NULL;
    return &t->chunks[(size_t)i / SF_TRACE_CHUNK - t->chunk0][(size_t)i % SF_TRACE_CHUNK];
}
/* Keeps the last `limit` records (0: all, the default) and fewer than
 * limit + 2 * SF_TRACE_CHUNK: older ones are dropped a chunk at a time, with
 * their payloads and texts, so that a long run holds bounded memory.
 * Indices stay as they were. */
void sf_trace_set_limit(sf_trace *t, size_t limit);
/* Stores bytes in the arena for record i. */
void sf_trace_text(sf_trace *t, long i, const void *text, size_t len);

/* Numbers the records added since the last call relative to their flows'
 * ISNs, in order: a SYN names its direction's ISN, unless that flow is
 * known and not closed (a SYN into a synchronized connection does not
 * renumber it); a state record that reaches CLOSED or LISTEN closes both
 * directions of its connection (their ISNs still number its last segments,
 * the next SYN starts new ones). Returns -1 without memory (the records
 * left are numbered on the next call), 0 otherwise. */
int sf_trace_number(sf_trace *t);
/* Whether the flow saddr:sport > daddr:dport has an ISN on the wire so far
 * (numbering what is not yet); *isn gets it. */
bool sf_trace_isn(sf_trace *t, sf_addr saddr, uint16_t sport, sf_addr daddr, uint16_t dport,
                  uint32_t *isn);
/* SACK edge e of a segment record as relative as its ack. */
uint32_t sf_trace_rel_sack(const sf_trace_rec *r, uint32_t e);

#ifdef __cplusplus
}
#endif

#endif
