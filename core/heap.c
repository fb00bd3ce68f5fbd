/* heap.c - a binary min-heap of deadlines (see heap.h). */
#include "heap.h"

#include <stdlib.h>

static void swap(sf_heap *h, size_t i, size_t j)
{
    sf_heap_node *n = h->a[i];
    h->a[i] = h->a[j];
    h->a[j] = n;
    h->a[i]->idx = (uint32_t)i;
    h->a[j]->idx = (uint32_t)j;
}

static void up(sf_heap *h, size_t i)
{
    while (i > 0 && h->a[(i - 1) / 2]->deadline > h->a[i]->deadline) {
        swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void down(sf_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->len && h->a[l]->deadline < h->a[m]->deadline) m = l;
        if (r < h->len && h->a[r]->deadline < h->a[m]->deadline) m = r;
        if (m == i) return;
        swap(h, i, m);
        i = m;
    }
}

bool sf_heap_set(sf_heap *h, sf_heap_node *n, uint64_t deadline)
{
    if (n->idx == SF_HEAP_OUT) {
        if (h->len == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 64;
            sf_heap_node **a = realloc(h->a, cap * sizeof *a);
            if (!a) return false;
            h->a = a;
            h->cap = cap;
        }
        n->idx = (uint32_t)h->len;
        h->a[h->len++] = n;
    }
    n->deadline = deadline;
    down(h, n->idx);
    up(h, n->idx);
    return true;
}

void sf_heap_remove(sf_heap *h, sf_heap_node *n)
{
    if (n->idx == SF_HEAP_OUT) return;
    size_t i = n->idx;
    h->len--;
    if (i != h->len) {
        h->a[i] = h->a[h->len];
        h->a[i]->idx = (uint32_t)i;
        down(h, i);
        up(h, i);
    }
    n->idx = SF_HEAP_OUT;
}

void sf_heap_free(sf_heap *h)
{
    free(h->a);
    h->a = NULL;
    h->len = h->cap = 0;
}
