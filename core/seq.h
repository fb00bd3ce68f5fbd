/* seq.h - modular sequence number arithmetic (RFC 9293 §3.4).
 *
 * Sequence numbers live in a 2^32 space and wrap. Every comparison of two
 * sequence numbers in synfin goes through these helpers; buffers never use
 * sequence numbers, only byte offsets (smoltcp#1136: a SACK panic from
 * mixing the two). */
#ifndef SF_SEQ_H
#define SF_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* a - b as a signed distance; valid while |a - b| < 2^31. */
static inline int32_t sf_seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}
static inline bool sf_seq_lt(uint32_t a, uint32_t b)
{
    return sf_seq_diff(a, b) < 0;
}
static inline bool sf_seq_le(uint32_t a, uint32_t b)
{
    return sf_seq_diff(a, b) <= 0;
}
static inline bool sf_seq_gt(uint32_t a, uint32_t b)
{
    return sf_seq_diff(a, b) > 0;
}
static inline bool sf_seq_ge(uint32_t a, uint32_t b)
{
    return sf_seq_diff(a, b) >= 0;
}

/* lo =< a < hi, in modular arithmetic (the window test of RFC 9293 §3.4). */
static inline bool sf_seq_in(uint32_t a, uint32_t lo, uint32_t hi)
{
    return a - lo < hi - lo;
}

static inline uint32_t sf_seq_max(uint32_t a, uint32_t b)
{
    return sf_seq_lt(a, b) ? b : a;
}

#endif
