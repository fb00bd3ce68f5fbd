/* ranges.c - a set of byte ranges above a moving edge (see ranges.h). */
#include "ranges.h"

#include <stdlib.h>
#include <string.h>

static bool grow(sf_ranges *s)
{
    if (s->cap >= SF_RANGES_MAX) return false;
    uint32_t cap = s->cap ? 2u * s->cap : 8u;
    if (cap > SF_RANGES_MAX) cap = SF_RANGES_MAX;
    sf_range *r = realloc(s->r, cap * sizeof *r);
    if (!r) return false;
    s->r = r;
    s->cap = (uint16_t)cap;
    return true;
}

bool sf_ranges_add(sf_ranges *s, uint32_t off, uint32_t len)
{
    if (len == 0) return true;
    uint32_t lo = off, hi = off + len;
    int i = 0;
    while (i < s->n && s->r[i].off + s->r[i].len < lo)
        i++;
    /* ranges i..j-1 overlap or touch [lo, hi): they merge into it */
    int j = i;
    while (j < s->n && s->r[j].off <= hi) {
        if (s->r[j].off < lo) lo = s->r[j].off;
        if (s->r[j].off + s->r[j].len > hi) hi = s->r[j].off + s->r[j].len;
        j++;
    }
    if (j == i && s->n == s->cap && !grow(s)) return false;
    memmove(&s->r[i + 1], &s->r[j], (size_t)(s->n - j) * sizeof s->r[0]);
    s->n = (uint16_t)(s->n - (j - i) + 1);
    s->r[i].off = lo;
    s->r[i].len = hi - lo;
    return true;
}

void sf_ranges_advance(sf_ranges *s, uint32_t n)
{
    int kept = 0;
    for (int i = 0; i < s->n; i++) {
        uint32_t lo = s->r[i].off, hi = lo + s->r[i].len;
        if (hi <= n) continue;
        s->r[kept].off = lo > n ? lo - n : 0;
        s->r[kept].len = hi - (lo > n ? lo : n);
        kept++;
    }
    s->n = (uint16_t)kept;
}

uint32_t sf_ranges_take_first(sf_ranges *s)
{
    if (s->n == 0 || s->r[0].off != 0) return 0;
    uint32_t len = s->r[0].len;
    memmove(&s->r[0], &s->r[1], (size_t)(s->n - 1) * sizeof s->r[0]);
    s->n--;
    sf_ranges_advance(s, len);
    return len;
}

uint32_t sf_ranges_bytes(const sf_ranges *s)
{
    uint32_t total = 0;
    for (int i = 0; i < s->n; i++)
        total += s->r[i].len;
    return total;
}

void sf_ranges_free(sf_ranges *s)
{
    free(s->r);
    s->r = NULL;
    s->n = s->cap = 0;
}
