/* ring.c - byte ring buffer (see ring.h). */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

/* Makes the first `need` bytes from the head addressable (need <= cap),
 * growing the storage to a power of two at least that large (at most cap)
 * and laying the old bytes out from offset 0: stored and held data alike. */
static int ensure_storage(sf_ring *r, uint32_t need)
{
    if (need <= r->size && r->data) return 1;
    uint32_t size = SF_RING_MIN_SIZE;
    while (size < need && size < (1u << 31))
        size *= 2;
    if (size > r->cap) size = r->cap;
    if (size < need) return 0;
    uint8_t *data = malloc(size);
    if (!data) return 0;
    if (r->data) {
        uint32_t first = r->size - r->head;
        memcpy(data, r->data + r->head, first);
        memcpy(data + first, r->data, r->head);
        free(r->data);
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
    free(r->data);
    r->data = NULL;
    r->size = r->head = r->len = 0;
}

void sf_ring_trim(sf_ring *r)
{
    if (r->len == 0) sf_ring_drop(r);
}
