/* ranges.h - a set of byte ranges above a moving edge: the out-of-order data
 * a receiver holds past RCV.NXT (SHLD-31), the data a sender's peer has
 * SACKed past SND.UNA (RFC 6675 §3). Offsets count from the edge, so they
 * compare as plain integers; when the edge moves, they move with it. The
 * ranges are sorted, disjoint and not adjacent. Their array grows as it
 * needs, up to SF_RANGES_MAX ranges, and costs nothing while empty: a
 * connection that never sees a hole never allocates. */
#ifndef SYNFIN_RANGES_H
#define SYNFIN_RANGES_H

#include <stdbool.h>
#include <stdint.h>

/* At most this many ranges (8 bytes each). Linux bounds its out-of-order
 * queue by memory, not by count; a window of full-sized segments with every
 * other one lost makes window / (2 * MSS) holes: 1024 covers a 2.8 MB
 * window at MSS 1448. */
#define SF_RANGES_MAX 1024

typedef struct {
    uint32_t off, len; /* [off, off + len) from the edge */
} sf_range;

typedef struct {
    sf_range *r;
    uint16_t n, cap;
} sf_ranges;

/* Adds [off, off + len), merging the ranges it overlaps or touches. False
 * (the set unchanged) when it would need a range more than SF_RANGES_MAX or
 * memory that is not there. */
bool sf_ranges_add(sf_ranges *s, uint32_t off, uint32_t len);
/* Moves the edge up by n: ranges below it go, a range it reaches is cut. */
void sf_ranges_advance(sf_ranges *s, uint32_t n);
/* When a range starts at the edge, removes it and returns its length (the
 * bytes now contiguous with the edge); else 0. */
uint32_t sf_ranges_take_first(sf_ranges *s);
/* The bytes in all ranges. */
uint32_t sf_ranges_bytes(const sf_ranges *s);
/* Forgets every range (the memory stays for the next). */
static inline void sf_ranges_clear(sf_ranges *s)
{
    s->n = 0;
}
/* Frees the memory. */
void sf_ranges_free(sf_ranges *s);

#endif
