/* match.h - expectations matched against the trace: a pattern names the
 * fields a segment must have, and the matcher finds the first record on the
 * wire, from an index on, that has them. Scripts' patterns (Lua tables,
 * lua/synfin/pattern.lua) are compiled into an sf_pattern once; each check
 * of a waiting expectation is then a walk over the new records in C, with no
 * view made of the records it passes. A test a pattern makes in a script's
 * own function (`where`) is the caller's: it takes the candidates this finds.
 *
 * Consumption: the record a net:expect matched is consumed (its flag in
 * sf_trace_rec), so that no other expectation passes on it again. */
#ifndef SF_MATCH_H
#define SF_MATCH_H

#include "trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The tests a pattern makes: bits of sf_pattern.tests. */
enum {
    SF_PAT_FROM = 1u << 0,
    SF_PAT_TO = 1u << 1,
    SF_PAT_FLAGS = 1u << 2,
    SF_PAT_SEQ = 1u << 3,     /* relative to the ISNs the trace has seen */
    SF_PAT_ACK = 1u << 4,     /* relative */
    SF_PAT_ABS_SEQ = 1u << 5, /* as on the wire */
    SF_PAT_ABS_ACK = 1u << 6,
    SF_PAT_LEN = 1u << 7,
    SF_PAT_WIN = 1u << 8, /* as on the wire (unscaled) */
    SF_PAT_SPORT = 1u << 9,
    SF_PAT_DPORT = 1u << 10,
    SF_PAT_MSS = 1u << 11, /* a record without the option has none: never equal */
    SF_PAT_N = 1u << 12,   /* the segment's number */
    SF_PAT_CONN = 1u << 13,
    SF_PAT_INJECTED = 1u << 14,
    SF_PAT_PAYLOAD = 1u << 15, /* the bytes the trace kept (none: "") */
};

/* A compiled pattern. Numbers are 64-bit so that a value no segment can
 * have (a window of 70000, a negative seq) is kept as given and simply
 * matches nothing, as it would in the script's own comparison. */
typedef struct {
    uint32_t tests;      /* SF_PAT_*: which of the fields below apply */
    int64_t from, to;    /* host indices, 0-based */
    uint8_t flags_set;   /* the flags that must be set ... */
    uint8_t flags_clear; /* ... and those that must not ("=FA": every other one) */
    int64_t seq, ack, abs_seq, abs_ack, len, win, sport, dport, mss, n;
    uint32_t conn_id;       /* SF_PAT_CONN: the connection's id ... */
    int64_t conn_host;      /* ... on this host (0-based): its own segments */
    bool injected;          /* SF_PAT_INJECTED: crafted by a script or not */
    const uint8_t *payload; /* SF_PAT_PAYLOAD: the caller keeps it alive */
    size_t payload_len;
} sf_pattern;

/* Parses flag letters as patterns write them: "F" means at least F is set,
 * "=FA" exactly F and A (letters of "SFRPAUEC"). Returns 0, or -1 on a
 * letter that is no flag (p unchanged). */
int sf_pattern_flags(sf_pattern *p, const char *letters);

/* Whether segment record r of trace t is on the wire (an egress hook did
 * not drop or replace it) and matches p. */
bool sf_match_rec(const sf_trace *t, const sf_trace_rec *r, const sf_pattern *p);

/* Which records a walk takes. */
typedef enum {
    SF_MATCH_ANY,        /* consumed or not */
    SF_MATCH_UNCONSUMED, /* not consumed yet */
} sf_match_mode;

/* The index of the first record at or after from (0-based; the oldest kept
 * if from is older) that matches p, or -1. Numbers the trace first. */
long sf_match_next(sf_trace *t, size_t from, const sf_pattern *p, sf_match_mode mode);
/* The index of the last record before `before` that matches p, or -1. */
long sf_match_prev(sf_trace *t, size_t before, const sf_pattern *p, sf_match_mode mode);

#ifdef __cplusplus
}
#endif

#endif
