/* The set of byte ranges above a moving edge (core/ranges.h) behind the
 * receiver's out-of-order data and the sender's SACK scoreboard: merging,
 * the edge moving over and into ranges, the first range taken when it
 * reaches the edge, the limit, and a random model check against a bitmap. */
#include "check.h"
#include "ranges.h"

#include <string.h>

static int is(const sf_ranges *s, int n, const uint32_t (*want)[2])
{
    if (s->n != n) return 0;
    for (int i = 0; i < n; i++)
        if (s->r[i].off != want[i][0] || s->r[i].len != want[i][1]) return 0;
    return 1;
}

static void test_empty_costs_nothing(void)
{
    sf_ranges s = {0};
    CHECK(s.r == NULL && sf_ranges_bytes(&s) == 0 && sf_ranges_take_first(&s) == 0);
    sf_ranges_advance(&s, 100);
    CHECK(s.r == NULL && s.n == 0);
    CHECK(sf_ranges_add(&s, 5, 0) && s.r == NULL); /* nothing to hold */
    sf_ranges_free(&s);
}

static void test_merging(void)
{
    sf_ranges s = {0};
    CHECK(sf_ranges_add(&s, 10, 5)); /* [10,15) */
    CHECK(sf_ranges_add(&s, 30, 5)); /* [30,35) */
    CHECK(sf_ranges_add(&s, 20, 2)); /* between */
    CHECK(is(&s, 3, (const uint32_t[][2]){{10, 5}, {20, 2}, {30, 5}}));
    CHECK(sf_ranges_add(&s, 15, 5)); /* touches both neighbours: one range */
    CHECK(is(&s, 2, (const uint32_t[][2]){{10, 12}, {30, 5}}));
    CHECK(sf_ranges_add(&s, 5, 40)); /* covers all */
    CHECK(is(&s, 1, (const uint32_t[][2]){{5, 40}}));
    CHECK(sf_ranges_bytes(&s) == 40);
    sf_ranges_free(&s);
    CHECK(s.r == NULL && s.n == 0 && s.cap == 0);
}

static void test_edge_moves(void)
{
    sf_ranges s = {0};
    sf_ranges_add(&s, 10, 10); /* [10,20) */
    sf_ranges_add(&s, 30, 10); /* [30,40) */
    sf_ranges_advance(&s, 15); /* into the first */
    CHECK(is(&s, 2, (const uint32_t[][2]){{0, 5}, {15, 10}}));
    CHECK(sf_ranges_take_first(&s) == 5); /* it starts at the edge now */
    CHECK(is(&s, 1, (const uint32_t[][2]){{10, 10}}));
    CHECK(sf_ranges_take_first(&s) == 0); /* a hole before it */
    sf_ranges_advance(&s, 25);            /* past everything */
    CHECK(s.n == 0);
    sf_ranges_free(&s);
}

static void test_limit(void)
{
    sf_ranges s = {0};
    for (uint32_t i = 0; i < SF_RANGES_MAX; i++)
        CHECK(sf_ranges_add(&s, 2 * i + 1, 1));
    CHECK(s.n == SF_RANGES_MAX);
    CHECK(!sf_ranges_add(&s, 2 * SF_RANGES_MAX + 1, 1)); /* one more range: no room */
    CHECK(s.n == SF_RANGES_MAX);
    CHECK(sf_ranges_add(&s, 2, 1)); /* but merging needs none */
    CHECK(s.n == SF_RANGES_MAX - 1 && s.r[0].off == 1 && s.r[0].len == 3);
    sf_ranges_free(&s);
}

/* random adds and advances, checked against a bitmap of held bytes */
static void test_model(void)
{
    enum { SPAN = 4096 };
    uint8_t held[SPAN * 2];
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 50; round++) {
        sf_ranges s = {0};
        memset(held, 0, sizeof held);
        uint32_t base = 0;
        for (int step = 0; step < 400; step++) {
            uint64_t r = check_rand(&rng);
            if (r % 8 == 0) {
                uint32_t n = (uint32_t)(r >> 8) % 64;
                sf_ranges_advance(&s, n);
                base += n;
            } else {
                uint32_t off = 1 + (uint32_t)(r >> 8) % 1000, len = 1 + (uint32_t)(r >> 24) % 40;
                if (sf_ranges_add(&s, off, len))
                    for (uint32_t k = off; k < off + len; k++)
                        held[base + k] = 1;
            }
            if (base + 1100 >= sizeof held) break;
            /* the set is sorted, disjoint, not adjacent, and holds exactly the bitmap's bytes */
            int ok = 1;
            uint32_t at = 0;
            for (int i = 0; i < s.n; i++) {
                if (s.r[i].len == 0 || (i && s.r[i - 1].off + s.r[i - 1].len >= s.r[i].off)) ok = 0;
                for (; at < s.r[i].off; at++)
                    if (held[base + at]) ok = 0;
                for (; at < s.r[i].off + s.r[i].len; at++)
                    if (!held[base + at]) ok = 0;
            }
            for (; base + at < sizeof held; at++)
                if (held[base + at]) ok = 0;
            CHECK(ok);
            if (!ok) break;
        }
        sf_ranges_free(&s);
    }
}

int main(void)
{
    test_empty_costs_nothing();
    test_merging();
    test_edge_moves();
    test_limit();
    test_model();
    return check_report("ranges");
}
