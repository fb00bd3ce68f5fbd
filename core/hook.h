/* hook.h - the segment pipeline: hooks on a host's ingress or
 * egress path, each with a filter matched here in C (so that a hook that does
 * not match costs a few comparisons) and a function that returns a verdict.
 * Drivers run the pipeline; the verdicts' effects (delay queues, delivery)
 * are theirs. */
#ifndef SF_HOOK_H
#define SF_HOOK_H

#include "rand.h"
#include "synfin.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A host's path a hook is on: what arrives (ingress) or what it sends (egress). */
typedef enum { SF_INGRESS = 0, SF_EGRESS = 1 } sf_dir;

/* What a hook decides about a segment. */
typedef enum {
    SF_PASS,    /* deliver as is */
    SF_DROP,    /* discard, recorded as dropped by the hook */
    SF_DELAY,   /* deliver `delay` microseconds later; later segments may overtake */
    SF_REPLACE, /* deliver the packet `pkt` instead (a modified copy) */
    SF_DUP,     /* deliver `count` copies */
    SF_ANSWER,  /* drop it, and send `pkt` the other way instead */
} sf_verdict_kind;

/* A verdict: its kind, and what that kind needs. */
typedef struct {
    sf_verdict_kind kind;
    uint64_t delay;
    uint32_t count;
    const uint8_t *pkt; /* REPLACE, ANSWER: a whole IPv4 packet, valid until the
                           next hook runs (the driver copies it at once) */
    size_t len;
    uint32_t hook_id; /* the hook that decided, 0 for none */
} sf_verdict;

/* What a hook sees. state is the state of the host's connection that the
 * segment belongs to (before an ingress segment is processed), -1 if none. */
typedef struct {
    sf_dir dir;
    uint64_t now;
    const sf_seg *seg;
    uint32_t conn_id;
    int state;
    uint32_t hook_id;
    uint32_t seg_no; /* the segment's number in the trace, 0 if unknown */
    long rec;        /* its record's index in the driver's trace, -1 if none */
} sf_hook_ctx;

/* Returns 0 and fills *v; a nonzero return is a failed hook: the segment
 * passes unchanged and the driver reports the failure. */
typedef int (*sf_hook_fn)(void *ud, const sf_hook_ctx *ctx, sf_verdict *v);

/* Which segments a hook sees (all its conditions hold); sf_filter_init
 * makes one that lets every segment through. */
typedef struct {
    uint8_t flags_mask, flags_value; /* match when (flags & mask) == value */
    uint32_t conn_id;                /* 0: any connection */
    int state;                       /* -1: any state */
    uint16_t sport, dport;           /* 0: any port */
    uint32_t after;                  /* let this many matches pass first */
    uint32_t count;                  /* fire at most this many times; 0: no limit */
    double p;                        /* fire with this probability (seeded) */
} sf_filter;

/* An installed hook: its filter, its function and its counters. */
typedef struct sf_hook {
    struct sf_hook *next;
    uint32_t id;
    sf_dir dir;
    sf_filter filter;
    sf_hook_fn fn;
    void *ud;
    void (*release)(void *ud); /* called when the hook is freed */
    /* a condition of the embedder's own (a script's predicate), asked after
     * the filter's: 1 a match, 0 not one (not counted, as if the filter said
     * no), -1 it failed (not one, and counted as a failed hook); NULL: none */
    int (*match)(void *ud, const sf_hook_ctx *ctx);
    bool removed;
    /* counters */
    uint32_t matched; /* segments that passed the filter */
    uint32_t fired;   /* times the function ran */
    uint32_t dropped, delayed, replaced, duplicated;
} sf_hook;

/* A host's hooks, both directions, in the order they were added. */
typedef struct {
    sf_hook *head;
    uint32_t *next_id; /* shared by all the hooks of a net: ids are unique */
    int running;       /* depth of sf_hooks_run: removal is deferred meanwhile */
} sf_hooks;

/* Parses a flags pattern: "F" (F set, others any), "=FA" (exactly F and A),
 * "" (any). Returns 0, or SF_EINVAL on an unknown letter. */
int sf_filter_flags(sf_filter *f, const char *pattern);
/* A filter that matches every segment: any flags, connection, state and
 * port, no after or count, p = 1. */
void sf_filter_init(sf_filter *f);

/* Adds a hook after the others (the filter is copied); release(ud), when
 * not NULL, is called when the hook is freed. Returns it, or NULL without
 * memory. */
sf_hook *sf_hooks_add(sf_hooks *h, sf_dir dir, const sf_filter *f, sf_hook_fn fn, void *ud,
                      void (*release)(void *ud));
/* The hook with this id, or NULL (a removed hook is not found). */
sf_hook *sf_hooks_find(sf_hooks *h, uint32_t id);
/* Removes a hook. One removed while the hooks run (a hook removing itself)
 * is freed after the run. */
void sf_hooks_remove(sf_hooks *h, sf_hook *hook);
/* Removes every hook. */
void sf_hooks_clear(sf_hooks *h);
/* Runs the hooks of one direction over a segment, in the order they were
 * added; the first verdict other than pass ends the run. A hook added during
 * the run does not see this segment. *failed counts hook functions that
 * failed. */
sf_verdict sf_hooks_run(sf_hooks *h, sf_hook_ctx *ctx, sf_rand *rng, int *failed);

#ifdef __cplusplus
}
#endif

#endif
