/* heap.h - a binary min-heap of deadlines, intrusive: each element embeds
 * an sf_heap_node (its deadline and its place), the heap holds pointers to
 * the nodes. The connections' timers (timer.c) and the TIME_WAIT records'
 * (timewait.c) are two such heaps. Internal to core/. */
#ifndef SF_HEAP_H
#define SF_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SF_HEAP_OUT UINT32_MAX /* a node's place when it is in no heap */

typedef struct {
    uint64_t deadline;
    uint32_t idx; /* its place in the heap, SF_HEAP_OUT when out */
} sf_heap_node;

typedef struct {
    sf_heap_node **a;
    size_t len, cap;
} sf_heap;

/* Puts the node in the heap at `deadline`, or moves it there; false when
 * the heap cannot grow (the node stays out). */
bool sf_heap_set(sf_heap *h, sf_heap_node *n, uint64_t deadline);
/* Takes the node out (nothing when it is out). */
void sf_heap_remove(sf_heap *h, sf_heap_node *n);
/* The node with the earliest deadline, NULL when empty. */
static inline sf_heap_node *sf_heap_top(const sf_heap *h)
{
    return h->len ? h->a[0] : NULL;
}
void sf_heap_free(sf_heap *h);

#endif
