/* anchor.h - what the anchors of spec/bench/run share: a monotonic clock
 * in seconds and a way out on a failed call. */
#ifndef SF_ANCHOR_H
#define SF_ANCHOR_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* perror(what), then exit 1 */
static inline void die(const char *what)
{
    perror(what);
    exit(1);
}

#endif
