/* ring.c - byte ring buffer (see ring.h). */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

static int ensure_storage(sf_ring *r)
{
    if (!r->data && r->cap) r->data = malloc(r->cap);
    return r->data != NULL;
}

uint32_t sf_ring_write(sf_ring *r, const uint8_t *src, uint32_t n)
{
    if (n > r->cap - r->len) n = r->cap - r->len;
    if (n == 0 || !ensure_storage(r)) return 0;
    uint32_t tail = (r->head + r->len) % r->cap;
    uint32_t first = r->cap - tail < n ? r->cap - tail : n;
    memcpy(r->data + tail, src, first);
    memcpy(r->data, src + first, n - first);
    r->len += n;
    return n;
}

int sf_ring_write_at(sf_ring *r, uint32_t off, const uint8_t *src, uint32_t n)
{
    if (n == 0) return 1;
    /* only into the free space past the data, whatever the caller computed */
    uint32_t free = r->cap - r->len;
    if (off > free || n > free - off) return 0;
    if (!ensure_storage(r)) return 0;
    uint32_t at = (r->head + r->len + off) % r->cap;
    uint32_t first = r->cap - at < n ? r->cap - at : n;
    memcpy(r->data + at, src, first);
    memcpy(r->data, src + first, n - first);
    return 1;
}

void sf_ring_commit(sf_ring *r, uint32_t n)
{
    r->len += n;
}

void sf_ring_peek(const sf_ring *r, uint32_t off, uint8_t *dst, uint32_t n)
{
    uint32_t at = (r->head + off) % r->cap;
    uint32_t first = r->cap - at < n ? r->cap - at : n;
    memcpy(dst, r->data + at, first);
    memcpy(dst + first, r->data, n - first);
}

uint32_t sf_ring_read(sf_ring *r, uint8_t *dst, uint32_t n)
{
    if (n > r->len) n = r->len;
    if (n == 0) return 0;
    if (dst) sf_ring_peek(r, 0, dst, n);
    r->head = (r->head + n) % r->cap;
    r->len -= n; /* the head stays where it is: data held past the end keeps its place */
    return n;
}

void sf_ring_drop(sf_ring *r)
{
    free(r->data);
    r->data = NULL;
    r->head = r->len = 0;
}
