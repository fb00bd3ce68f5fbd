/* ring.h - a byte ring buffer for send and receive queues. It works in byte
 * offsets only, never in sequence numbers (smoltcp#1136: a SACK panic from
 * mixing the two). Its capacity is the buffer's setting (what the windows
 * count); its storage costs what it holds: none until the first write, then
 * a power of two that grows (doubling, at most to the capacity) as data and
 * held data need it, and none again after sf_ring_trim on an empty ring or
 * sf_ring_drop. An idle connection so holds no buffer, and a short one
 * never asks malloc for its whole window. */
#ifndef SF_RING_H
#define SF_RING_H

#include <stddef.h>
#include <stdint.h>

/* The least storage a ring takes when it needs any. */
#define SF_RING_MIN_SIZE 512u
/* The most drained storages a pool keeps for the next ring that needs one. */
#define SF_RING_POOL_MAX 8

/* Storage drained rings gave back, kept for the rings of the same stack: a
 * connection whose reader drains it at every wake would otherwise free its
 * storage and grow a new one from SF_RING_MIN_SIZE each time, and the
 * allocator hands back fresh pages that fault on first touch (over half of
 * a TUN receiver's time, perf). At most SF_RING_POOL_MAX storages (the
 * largest given back), so that a million idle connections still hold none
 * each; a ring takes the largest its capacity allows. */
typedef struct {
    uint8_t *data[SF_RING_POOL_MAX];
    uint32_t size[SF_RING_POOL_MAX];
    int n;
} sf_ring_pool;

/* Frees what the pool keeps. */
void sf_ring_pool_free(sf_ring_pool *pool);

typedef struct {
    uint8_t *data;
    sf_ring_pool *pool; /* where drained storage goes and comes from; NULL: malloc's */
    uint32_t cap;       /* capacity in bytes: the most it may hold */
    uint32_t size;      /* storage allocated, 0 when none; cap at most */
    uint32_t head;      /* offset of the first byte in the storage */
    uint32_t len;       /* bytes stored */
} sf_ring;

/* Appends up to n bytes; returns how many fit (0 if storage cannot be had). */
uint32_t sf_ring_write(sf_ring *r, const uint8_t *src, uint32_t n);
/* Writes n bytes `off` bytes past the stored data, without storing them yet
 * (out-of-order data, RFC 9293 §3.10.7.4 SHLD-31); the caller keeps
 * len + off + n <= cap. Returns 0 if storage cannot be had. */
int sf_ring_write_at(sf_ring *r, uint32_t off, const uint8_t *src, uint32_t n);
/* Stores the n bytes already written just past the stored data. */
void sf_ring_commit(sf_ring *r, uint32_t n);
/* Copies n bytes starting `off` bytes after the head, without consuming. */
void sf_ring_peek(const sf_ring *r, uint32_t off, uint8_t *dst, uint32_t n);
/* Consumes up to n bytes, copying them out when dst is not NULL. */
uint32_t sf_ring_read(sf_ring *r, uint8_t *dst, uint32_t n);
static inline uint32_t sf_ring_free(const sf_ring *r)
{
    return r->cap - r->len;
}
/* Gives the storage back (to the pool, else to malloc); the ring is empty
 * afterwards. */
void sf_ring_drop(sf_ring *r);
/* Frees the storage if the ring is empty; the caller knows that nothing is
 * held past the stored data (sf_ring_write_at). */
void sf_ring_trim(sf_ring *r);

#endif
