/* The byte ring behind the send and receive queues: capacity, partial writes,
 * wrap-around, peeks at offsets across the wrap, reads with and without a
 * destination, and dropping the storage. The ring works in byte offsets only,
 * never in sequence numbers (smoltcp#1136). */
#include "check.h"
#include "ring.h"

#include <string.h>

/* bytes 0, 1, 2, ... starting at `from`, so that any slice is recognisable */
static void fill_counting(uint8_t *p, uint32_t n, uint32_t from)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(from + i);
}

static int is_counting(const uint8_t *p, uint32_t n, uint32_t from)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(from + i)) return 0;
    return 1;
}

static void test_empty_ring(void)
{
    sf_ring r = {.cap = 16};
    uint8_t out[16];
    /* storage comes on first use only */
    CHECK(r.data == NULL);
    CHECK(sf_ring_free(&r) == 16);
    CHECK(sf_ring_read(&r, out, 16) == 0);
    CHECK(sf_ring_read(&r, NULL, 16) == 0);
    CHECK(sf_ring_write(&r, out, 0) == 0);
    sf_ring_drop(&r);
    CHECK(r.len == 0 && r.head == 0);

    /* a ring of capacity 0 takes nothing */
    sf_ring z = {.cap = 0};
    CHECK(sf_ring_write(&z, out, 4) == 0);
    CHECK(sf_ring_read(&z, out, 4) == 0);
    CHECK(sf_ring_free(&z) == 0);
    sf_ring_drop(&z);
}

static void test_write_to_capacity(void)
{
    sf_ring r = {.cap = 10};
    uint8_t in[32], out[32];
    fill_counting(in, sizeof in, 0);
    CHECK(sf_ring_write(&r, in, 4) == 4);
    CHECK(r.len == 4 && sf_ring_free(&r) == 6);
    CHECK(r.data != NULL);
    CHECK(sf_ring_write(&r, in + 4, 6) == 6);
    CHECK(sf_ring_free(&r) == 0);
    /* a full ring takes nothing more */
    CHECK(sf_ring_write(&r, in, 1) == 0);
    CHECK(r.len == 10);
    CHECK(sf_ring_read(&r, out, 32) == 10);
    CHECK(is_counting(out, 10, 0));
    CHECK(r.len == 0 && sf_ring_free(&r) == 10);
    sf_ring_drop(&r);
    CHECK(r.data == NULL);
}

static void test_partial_writes(void)
{
    sf_ring r = {.cap = 10};
    uint8_t in[32], out[32];
    fill_counting(in, sizeof in, 100);
    /* more than fits: only what fits is taken, and said so */
    CHECK(sf_ring_write(&r, in, 25) == 10);
    CHECK(r.len == 10);
    CHECK(sf_ring_read(&r, out, 3) == 3);
    CHECK(is_counting(out, 3, 100));
    CHECK(sf_ring_write(&r, in + 10, 25) == 3);
    CHECK(r.len == 10);
    CHECK(sf_ring_read(&r, out, 32) == 10);
    CHECK(is_counting(out, 10, 103));
    sf_ring_drop(&r);
}

static void test_wrap_around(void)
{
    sf_ring r = {.cap = 8};
    uint8_t in[64], out[64];
    fill_counting(in, sizeof in, 0);
    /* move the head to 5, then write 6 bytes: 3 at the end, 3 at the start */
    CHECK(sf_ring_write(&r, in, 5) == 5);
    CHECK(sf_ring_read(&r, out, 4) == 4);
    CHECK(r.head == 4 && r.len == 1);
    CHECK(sf_ring_write(&r, in + 5, 7) == 7); /* tail at 5: 5..7, then 0..3 */
    CHECK(r.len == 8);
    memset(out, 0, sizeof out);
    CHECK(sf_ring_read(&r, out, 8) == 8);
    CHECK(is_counting(out, 8, 4));
    /* an emptied ring keeps its head where it is: bytes held past the end
     * (out-of-order data, sf_ring_write_at) must not move */
    CHECK(r.head == 4 && r.len == 0);

    /* a long stream through a small ring, odd step sizes: the bytes come out
     * in order whatever the head's position */
    uint32_t wrote = 0, read = 0;
    int in_order = 1;
    for (int round = 0; round < 1000; round++) {
        uint8_t chunk[8];
        uint32_t w = (uint32_t)(round * 5 % 9);
        fill_counting(chunk, w, wrote);
        wrote += sf_ring_write(&r, chunk, w);
        uint32_t want = (uint32_t)(round * 3 % 7);
        uint32_t got = sf_ring_read(&r, out, want);
        if (!is_counting(out, got, read)) in_order = 0;
        read += got;
        if (r.len != wrote - read || r.len > r.cap) in_order = 0;
    }
    CHECK(in_order);
    CHECK(wrote > 1000);
    sf_ring_drop(&r);
}

static void test_peek(void)
{
    sf_ring r = {.cap = 10};
    uint8_t in[16], out[16];
    fill_counting(in, sizeof in, 0);
    /* head at 7, 9 bytes stored: offsets 0-2 at the end, 3-8 at the start */
    CHECK(sf_ring_write(&r, in, 7) == 7);
    CHECK(sf_ring_read(&r, NULL, 7) == 7);
    CHECK(r.head == 7 && r.len == 0);
    CHECK(sf_ring_write(&r, in + 7, 9) == 9); /* head 7, len 9: bytes 7..15 */
    CHECK(r.head == 7 && r.len == 9);

    /* every offset and length within the stored bytes, across the wrap */
    int all = 1;
    for (uint32_t off = 0; off < r.len; off++)
        for (uint32_t n = 0; off + n <= r.len; n++) {
            memset(out, 0xee, sizeof out);
            sf_ring_peek(&r, off, out, n);
            if (!is_counting(out, n, 7 + off)) all = 0;
            if (n < sizeof out && out[n] != 0xee) all = 0; /* nothing past n */
        }
    CHECK(all);
    /* peeking consumes nothing */
    CHECK(r.len == 9 && r.head == 7);
    CHECK(sf_ring_read(&r, out, 9) == 9);
    CHECK(is_counting(out, 9, 7));
    sf_ring_drop(&r);
}

/* Out-of-order data: written past the stored bytes, stored later by commit,
 * at the same place whatever is read meanwhile and across the wrap. */
static void test_write_at_commit(void)
{
    sf_ring r = {.cap = 11};
    uint8_t in[32], out[32];
    fill_counting(in, sizeof in, 0);
    CHECK(sf_ring_write(&r, in, 4) == 4); /* move the head to 4 */
    CHECK(sf_ring_read(&r, NULL, 4) == 4);
    CHECK(sf_ring_write(&r, in, 6) == 6);      /* bytes 0..5 stored at 4..9 */
    CHECK(sf_ring_write_at(&r, 2, in + 8, 3)); /* bytes 8..10 held at 1..3, wrapped */
    CHECK(r.len == 6);                         /* held bytes are not stored yet */
    CHECK(sf_ring_read(&r, out, 6) == 6);      /* the reader drains the ring */
    CHECK(is_counting(out, 6, 0) && r.len == 0);
    CHECK(sf_ring_write(&r, in + 6, 2) == 2); /* the hole is filled, across the wrap */
    sf_ring_commit(&r, 3);                    /* and the held bytes join */
    CHECK(r.len == 5);
    memset(out, 0, sizeof out);
    CHECK(sf_ring_read(&r, out, 5) == 5);
    CHECK(is_counting(out, 5, 6));
    CHECK(sf_ring_write_at(&r, 0, in, 0)); /* nothing to write: fine */
    sf_ring_drop(&r);
}

static void test_read_null_dst(void)
{
    sf_ring r = {.cap = 6};
    uint8_t in[6], out[6];
    fill_counting(in, 6, 50);
    CHECK(sf_ring_write(&r, in, 6) == 6);
    /* reading into NULL discards (an ACK freeing acknowledged send data) */
    CHECK(sf_ring_read(&r, NULL, 2) == 2);
    CHECK(r.len == 4);
    CHECK(sf_ring_read(&r, out, 1) == 1);
    CHECK(out[0] == 52);
    /* more than stored: what is stored */
    CHECK(sf_ring_read(&r, NULL, 100) == 3);
    CHECK(r.len == 0);
    sf_ring_drop(&r);
}

static void test_drop(void)
{
    sf_ring r = {.cap = 8};
    uint8_t in[8], out[8];
    fill_counting(in, 8, 0);
    CHECK(sf_ring_write(&r, in, 5) == 5);
    CHECK(sf_ring_read(&r, NULL, 2) == 2);
    sf_ring_drop(&r);
    /* dropped: empty, no storage, same capacity */
    CHECK(r.data == NULL && r.len == 0 && r.head == 0 && r.cap == 8);
    CHECK(sf_ring_read(&r, out, 8) == 0);
    /* and usable again: storage comes back on the next write */
    CHECK(sf_ring_write(&r, in, 8) == 8);
    CHECK(r.data != NULL);
    CHECK(sf_ring_read(&r, out, 8) == 8 && is_counting(out, 8, 0));
    sf_ring_drop(&r);
    sf_ring_drop(&r); /* twice is harmless */
    CHECK(r.data == NULL);
}

/* write_at writes only into the free space past the data, whatever offset
 * and length it is given: a wrong computation upstream is refused, never a
 * write past the buffer or over data not yet read */
static void test_write_at_bounds(void)
{
    sf_ring r = {.cap = 8};
    uint8_t in[16];
    fill_counting(in, 16, 0);
    CHECK(sf_ring_write(&r, in, 3) == 3); /* 5 bytes free */
    CHECK(sf_ring_write_at(&r, 0, in, 5));
    CHECK(!sf_ring_write_at(&r, 0, in, 6));
    CHECK(!sf_ring_write_at(&r, 4, in, 2));
    CHECK(sf_ring_write_at(&r, 4, in, 1));
    CHECK(!sf_ring_write_at(&r, 6, in, 1));
    CHECK(!sf_ring_write_at(&r, UINT32_MAX, in, 2));
    CHECK(!sf_ring_write_at(&r, 2, in, UINT32_MAX));
    CHECK(r.len == 3);
    sf_ring_drop(&r);
}

/* storage costs what the ring holds: it grows by doubling from
 * SF_RING_MIN_SIZE up to the capacity, keeps stored and held bytes in order
 * across a wrap when it grows, and goes when trimmed empty */
static void test_growth(void)
{
    sf_ring r = {.cap = 5000};
    uint8_t in[6000], out[6000];
    fill_counting(in, sizeof in, 0);
    CHECK(sf_ring_write(&r, in, 3) == 3);
    CHECK(r.size == SF_RING_MIN_SIZE);
    CHECK(sf_ring_read(&r, NULL, 3) == 3);
    /* wrap the head around the small storage, then hold data past the end */
    CHECK(sf_ring_write(&r, in, 500) == 500);
    CHECK(r.size == SF_RING_MIN_SIZE && r.head == 3);
    CHECK(sf_ring_write_at(&r, 100, in + 600, 200)); /* needs 800: grows to 1024 */
    CHECK(r.size == 1024 && r.head == 0);
    CHECK(sf_ring_write(&r, in + 500, 100) == 100); /* fills the hole */
    sf_ring_commit(&r, 200);
    CHECK(r.len == 800);
    CHECK(sf_ring_read(&r, out, 800) == 800 && is_counting(out, 800, 0));
    /* one big write takes the power of two it needs, at most the capacity */
    CHECK(sf_ring_write(&r, in, 4000) == 4000);
    CHECK(r.size == 4096);
    CHECK(sf_ring_write(&r, in + 4000, 2000) == 1000); /* the capacity bounds it */
    CHECK(r.size == 5000);
    CHECK(sf_ring_read(&r, out, 5000) == 5000 && is_counting(out, 5000, 0));
    /* trimmed when empty, not before */
    CHECK(sf_ring_write(&r, in, 10) == 10);
    sf_ring_trim(&r);
    CHECK(r.data != NULL);
    CHECK(sf_ring_read(&r, NULL, 10) == 10);
    sf_ring_trim(&r);
    CHECK(r.data == NULL && r.size == 0);
    sf_ring_drop(&r);
}

/* a drained ring gives its storage to its pool, and the next ring that needs
 * storage takes it back as it was, full size, with no growth from
 * SF_RING_MIN_SIZE (a reader draining at every wake would otherwise free
 * and regrow its storage each time); a ring takes the largest its capacity
 * allows; the pool keeps SF_RING_POOL_MAX at most, the largest */
static void test_pool(void)
{
    sf_ring_pool pool = {0};
    sf_ring a = {.cap = 1 << 20, .pool = &pool}, b = {.cap = 1 << 20, .pool = &pool};
    static uint8_t in[100000], out[100000];
    fill_counting(in, sizeof in, 0);
    CHECK(sf_ring_write(&a, in, 100000) == 100000);
    CHECK(a.size == 131072);
    uint8_t *storage = a.data;
    CHECK(sf_ring_read(&a, out, 100000) == 100000 && is_counting(out, 100000, 0));
    sf_ring_trim(&a);
    CHECK(a.data == NULL);
    CHECK(pool.n >= 1); /* the 128 KiB, and what it outgrew on its way */
    /* the next ring to need storage, for one byte, gets the whole storage */
    CHECK(sf_ring_write(&b, in, 1) == 1);
    CHECK(b.data == storage && b.size == 131072);
    CHECK(sf_ring_write(&b, in + 1, 99999) == 99999);
    CHECK(b.data == storage); /* no growth */
    CHECK(sf_ring_read(&b, out, 100000) == 100000 && is_counting(out, 100000, 0));
    sf_ring_drop(&b);
    /* a ring of a smaller capacity does not take it */
    sf_ring small = {.cap = 1000, .pool = &pool};
    CHECK(sf_ring_write(&small, in, 700) == 700);
    CHECK(small.data != storage && small.size <= 1000);
    CHECK(sf_ring_read(&small, out, 700) == 700 && is_counting(out, 700, 0));
    sf_ring_drop(&small);
    /* bounded, keeping the largest: the 128 KiB stays through a flood of
     * small ones given back */
    sf_ring many[SF_RING_POOL_MAX + 2];
    for (int i = 0; i < SF_RING_POOL_MAX + 2; i++) {
        many[i] = (sf_ring){.cap = 600, .pool = &pool};
        CHECK(sf_ring_write(&many[i], in, 600) == 600);
    }
    for (int i = 0; i < SF_RING_POOL_MAX + 2; i++)
        sf_ring_drop(&many[i]);
    CHECK(pool.n == SF_RING_POOL_MAX);
    int kept = 0;
    for (int i = 0; i < pool.n; i++)
        kept += pool.data[i] == storage;
    CHECK(kept == 1);
    sf_ring_pool_free(&pool);
    CHECK(pool.n == 0);
}

int main(void)
{
    test_empty_ring();
    test_write_to_capacity();
    test_partial_writes();
    test_wrap_around();
    test_peek();
    test_write_at_commit();
    test_write_at_bounds();
    test_growth();
    test_read_null_dst();
    test_drop();
    test_pool();
    return check_report("ring");
}
