/* ring.c - byte ring buffer (see ring.h). */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

/* Takes from the pool the largest storage the ring may have (at most its
 * capacity) that holds `need` bytes; NULL if there is none. The largest:
 * a ring drained at every wake refills to about what it held before, and
 * a smaller storage would be outgrown again, copying at each doubling. */
static uint8_t *pool_take(sf_ring *r, uint32_t need, uint32_t *size)
{
    sf_ring_pool *pool = r->pool;
    int best = -1;
    for (int i = 0; pool && i < pool->n; i++)
        if (pool->size[i] >= need && pool->size[i] <= r->cap &&
            (best < 0 || pool->size[i] > pool->size[best]))
            best = i;
    if (best < 0) return NULL;
    uint8_t *data = pool->data[best];
    *size = pool->size[best];
    pool->n--;
    pool->data[best] = pool->data[pool->n];
    pool->size[best] = pool->size[pool->n];
    return data;
}

/* Gives storage back: to the pool while it has room; a full pool keeps the
 * largest (what a growing ring outgrew is the least useful); the rest goes
 * to malloc. */
static void pool_give(sf_ring_pool *pool, uint8_t *data, uint32_t size)
{
    if (!pool) {
        free(data);
        return;
    }
    if (pool->n < SF_RING_POOL_MAX) {
        pool->data[pool->n] = data;
        pool->size[pool->n] = size;
        pool->n++;
        return;
    }
    int smallest = 0;
    for (int i = 1; i < pool->n; i++)
        if (pool->size[i] < pool->size[smallest]) smallest = i;
    if (pool->size[smallest] >= size) {
        free(data);
        return;
    }
    free(pool->data[smallest]);
    pool->data[smallest] = data;
    pool->size[smallest] = size;
}

void sf_ring_pool_free(sf_ring_pool *pool)
{
    for (int i = 0; i < pool->n; i++)
        free(pool->data[i]);
    pool->n = 0;
}

/* Makes the first `need` bytes from the head addressable (need <= cap),
 * growing the storage to a power of two at least that large (at most cap),
 * or taking a larger one from the pool, and laying the old bytes out from
 * offset 0: stored and held data alike. */
static int ensure_storage(sf_ring *r, uint32_t need)
{
    if (need <= r->size && r->data) return 1;
    uint32_t size = SF_RING_MIN_SIZE;
    uint8_t *data = pool_take(r, need, &size);
    if (!data) {
        while (size < need && size < (1u << 31))
            size *= 2;
        if (size > r->cap) size = r->cap;
        if (size < need) return 0;
        data = malloc(size);
        if (!data) return 0;
    }
    if (r->data) {
        uint32_t first = r->size - r->head;
        memcpy(data, r->data + r->head, first);
        memcpy(data + first, r->data, r->head);
        pool_give(r->pool, r->data, r->size);
    }
    r->data = data;
    r->size = size;
    r->head = 0;
    return 1;
}

/* Copies n bytes in at storage offset `at`, wrapping. */
static void copy_in(sf_ring *r, uint32_t at, const uint8_t *src, uint32_t n)
{
    uint32_t first = r->size - at < n ? r->size - at : n;
    memcpy(r->data + at, src, first);
    memcpy(r->data, src + first, n - first);
}

uint32_t sf_ring_write(sf_ring *r, const uint8_t *src, uint32_t n)
{
    if (n > r->cap - r->len) n = r->cap - r->len;
    if (n == 0 || !ensure_storage(r, r->len + n)) return 0;
    copy_in(r, (r->head + r->len) % r->size, src, n);
    r->len += n;
    return n;
}

int sf_ring_write_at(sf_ring *r, uint32_t off, const uint8_t *src, uint32_t n)
{
    if (n == 0) return 1;
    /* only into the free space past the data, whatever the caller computed */
    uint32_t free = r->cap - r->len;
    if (off > free || n > free - off) return 0;
    if (!ensure_storage(r, r->len + off + n)) return 0;
    copy_in(r, (r->head + r->len + off) % r->size, src, n);
    return 1;
}

void sf_ring_commit(sf_ring *r, uint32_t n)
{
    r->len += n;
}

void sf_ring_peek(const sf_ring *r, uint32_t off, uint8_t *dst, uint32_t n)
{
    if (n == 0) return;
    uint32_t at = (r->head + off) % r->size;
    uint32_t first = r->size - at < n ? r->size - at : n;
    memcpy(dst, r->data + at, first);
    memcpy(dst + first, r->data, n - first);
}

uint32_t sf_ring_read(sf_ring *r, uint8_t *dst, uint32_t n)
{
    if (n > r->len) n = r->len;
    if (n == 0) return 0;
    if (dst) sf_ring_peek(r, 0, dst, n);
    r->head = (r->head + n) % r->size;
    r->len -= n; /* the head stays where it is: data held past the end keeps its place */
    return n;
}

void sf_ring_drop(sf_ring *r)
{
    if (r->data) pool_give(r->pool, r->data, r->size);
    r->data = NULL;
    r->size = r->head = r->len = 0;
}

void sf_ring_trim(sf_ring *r)
{
    if (r->len == 0) sf_ring_drop(r);
}
