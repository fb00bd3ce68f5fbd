/* rt.c - a real-time net (see rt.h): the driver's fd watched through
 * uv_poll, the net's timers on one uv_timer, the net's clock on
 * uv_hrtime. The only file of core/io, with the drivers that use it, that
 * knows libuv. */
#define _GNU_SOURCE /* <uv.h> needs POSIX types that strict C11 hides */
#include "rt.h"

#include <uv.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct sf_rt {
    sf_sim *sim;
    sf_rt_driver drv;
    uv_loop_t own_loop, *loop;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_prepare_t prepare; /* on the caller's loop: re-arms the timer each iteration */
    bool on_caller_loop;  /* the net runs by itself on the caller's loop */
    sf_rt_progress progress;
    void *progress_ud;
    int peer_host;
    uint64_t base_us; /* the net's clock when the driver opened */
    uint64_t t0_ns;   /* uv_hrtime then */
    int received;     /* packets a host took since the last step */
    int open_handles; /* closing handles whose callbacks have not run */
};

uint64_t sf_rt_now(const sf_rt *rt)
{
    return rt->base_us + (uv_hrtime() - rt->t0_ns) / 1000;
}

int sf_rt_peer_host(const sf_rt *rt)
{
    return rt->peer_host;
}

int sf_rt_fd(const sf_rt *rt)
{
    return rt->drv.fd;
}

static uint64_t driver_next(const sf_rt *rt)
{
    return rt->drv.next_time ? rt->drv.next_time(rt->drv.ud) : UINT64_MAX;
}

/* The earliest of the net's next event and the driver's next deadline. */
static uint64_t next_event(const sf_rt *rt)
{
    uint64_t a = sf_sim_next_time(rt->sim), b = driver_next(rt);
    return a < b ? a : b;
}

static int process_due(sf_rt *rt);

/* On the caller's loop, the net's work is done in the loop's callbacks:
 * everything due now, in a bounded number of instants (a flood must not
 * hold the caller's loop: what is left is due at once, and the timer,
 * re-armed before the loop polls, comes back for it). */
enum { MAX_INSTANTS_PER_CALLBACK = 64 };

static void run_due(sf_rt *rt)
{
    for (int i = 0; i < MAX_INSTANTS_PER_CALLBACK && process_due(rt); i++) {
    }
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
    sf_rt *rt = poll->data;
    (void)events;
    if (status < 0) return;
    /* arrivals are stamped with the time they were read */
    sf_sim_set_now(rt->sim, sf_rt_now(rt));
    if (rt->drv.read(rt->drv.ud) > 0) rt->received = 1;
    if (rt->on_caller_loop) run_due(rt);
}

static void on_timer(uv_timer_t *timer)
{
    sf_rt *rt = timer->data;
    /* on the net's own loop it only ends uv_run's wait (sf_rt_step works) */
    if (rt->on_caller_loop) run_due(rt);
}

/* The caller's loop is about to wait: whatever its callbacks did to the
 * net (user calls, segments injected) may have made something due, so
 * process that, then let the timer wake the loop at the net's next event. */
static void on_prepare(uv_prepare_t *prepare)
{
    sf_rt *rt = prepare->data;
    run_due(rt);
    int ms = sf_rt_timeout(rt);
    if (ms < 0) {
        uv_timer_stop(&rt->timer);
        return;
    }
    uv_update_time(rt->loop); /* count from now, not from the last poll */
    uv_timer_start(&rt->timer, on_timer, (uint64_t)ms, 0);
}

/* A handle's close callback: the last one frees the net (its handles live
 * in it, and libuv holds them until their callbacks have run). */
static void on_closed(uv_handle_t *handle)
{
    sf_rt *rt = handle->data;
    if (--rt->open_handles == 0) free(rt);
}

static void close_handle(sf_rt *rt, uv_handle_t *handle)
{
    rt->open_handles++;
    uv_close(handle, on_closed);
}

/* Closes the watchers, then frees the net: at once on the net's own loop
 * (which is closed too), on the caller's loop when it has run the close
 * callbacks (its next iteration). No callback of ours runs after this. */
static void close_and_free(sf_rt *rt)
{
    uv_poll_stop(&rt->poll);
    uv_loop_t *own = rt->loop == &rt->own_loop ? rt->loop : NULL;
    close_handle(rt, (uv_handle_t *)&rt->poll);
    close_handle(rt, (uv_handle_t *)&rt->timer);
    if (rt->on_caller_loop) close_handle(rt, (uv_handle_t *)&rt->prepare);
    if (own) {
        /* the loop lives in rt: run the callbacks but the last one, which
         * frees rt, only after the loop is closed */
        rt->open_handles++;
        uv_run(own, UV_RUN_NOWAIT);
        uv_loop_close(own);
        if (--rt->open_handles == 0) free(rt);
    }
}

sf_rt *sf_rt_open(sf_sim *sim, struct uv_loop_s *loop, const sf_rt_driver *drv, char *err,
                  size_t errlen)
{
    if (sf_sim_host_of(sim, drv->peer_addr) >= 0) {
        snprintf(err, errlen, "the peer's address is a host of this net already");
        return NULL;
    }
    sf_rt *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rt->sim = sim;
    rt->drv = *drv;
    if (loop) {
        rt->loop = loop;
    } else {
        uv_loop_init(&rt->own_loop);
        rt->loop = &rt->own_loop;
    }
    int rc = uv_poll_init(rt->loop, &rt->poll, drv->fd);
    if (rc < 0) {
        snprintf(err, errlen, "watching the fd: %s", uv_strerror(rc));
        if (rt->loop == &rt->own_loop) uv_loop_close(&rt->own_loop);
        free(rt);
        return NULL;
    }
    rt->poll.data = rt;
    uv_timer_init(rt->loop, &rt->timer);
    rt->timer.data = rt;
    if (loop) {
        rt->on_caller_loop = true;
        uv_prepare_init(rt->loop, &rt->prepare);
        rt->prepare.data = rt;
    }
    /* the peer last: a failure before leaves the net as it was */
    rt->peer_host = sf_sim_add_host(sim, &drv->peer_addr, 1, NULL);
    if (rt->peer_host < 0) {
        snprintf(err, errlen, "adding the peer: %s", sf_strerror(rt->peer_host));
        close_and_free(rt);
        return NULL;
    }
    uv_poll_start(&rt->poll, UV_READABLE, on_readable);
    if (rt->on_caller_loop) uv_prepare_start(&rt->prepare, on_prepare);
    sf_sim_set_port(sim, rt->peer_host, drv->send, drv->ud);
    sf_link link = {0}; /* the real network has its own */
    sf_sim_set_link(sim, &link);
    rt->base_us = sf_sim_now(sim);
    rt->t0_ns = uv_hrtime();
    uv_timeval64_t wall;
    if (uv_gettimeofday(&wall) == 0) {
        uint64_t wall_us = (uint64_t)wall.tv_sec * 1000000u + (uint64_t)wall.tv_usec;
        sf_sim_set_epoch(sim, wall_us - rt->base_us); /* pcap timestamps in real time */
    }
    return rt;
}

void sf_rt_on_progress(sf_rt *rt, sf_rt_progress fn, void *ud)
{
    rt->progress = fn;
    rt->progress_ud = ud;
}

void sf_rt_close(sf_rt *rt)
{
    if (!rt) return;
    sf_sim_set_port(rt->sim, rt->peer_host, NULL, NULL); /* to a bare peer again */
    close_and_free(rt);
}

int sf_rt_timeout(const sf_rt *rt)
{
    if (rt->received) return 0;
    uint64_t now = sf_rt_now(rt), sim_now = sf_sim_now(rt->sim);
    if (sim_now > now) now = sim_now; /* the net's clock never goes back */
    uint64_t next = next_event(rt);
    if (next == UINT64_MAX) return -1;
    if (next <= now) return 0;
    /* milliseconds, rounded up: a poll that wakes early only wakes twice */
    uint64_t ms = (next - now + 999) / 1000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ---- the step ------------------------------------------------------------------ */

/* Brings the net's clock to real time and processes what is due: the
 * driver's timers, then the net's next instant. Returns 1 if it did
 * anything. */
static int process_due(sf_rt *rt)
{
    sf_sim *sim = rt->sim;
    sf_sim_set_now(sim, sf_rt_now(rt));
    uint64_t now = sf_sim_now(sim);
    int did = 0;
    if (driver_next(rt) <= now) {
        rt->drv.run_timers(rt->drv.ud, now);
        did = 1;
    }
    if (rt->received || sf_sim_next_time(sim) <= now) {
        rt->received = 0;
        sf_sim_step(sim, now);
        did = 1;
    }
    /* what the step sent goes out now, before any wait */
    if (rt->drv.flush) rt->drv.flush(rt->drv.ud);
    if (did && rt->progress) rt->progress(rt->progress_ud);
    return did;
}

int sf_rt_step(sf_rt *rt, uint64_t limit)
{
    int polled = 0; /* the fd was polled since the clock was last read */
    for (;;) {
        if (process_due(rt)) return 1;
        uint64_t now = sf_sim_now(rt->sim);
        if (now >= limit) {
            if (polled) return 0;
            /* a caller that polls the fd itself steps with a limit in
             * the past: read what is there before saying nothing happened */
            uv_run(rt->loop, UV_RUN_NOWAIT);
            polled = 1;
            continue;
        }
        uint64_t next = next_event(rt);
        uint64_t until = next < limit ? next : limit;
        /* libuv's timers count milliseconds: round up, never wake early
         * for nothing more than once */
        uint64_t ms = (until - now + 999) / 1000;
        /* the loop's time is the time of its last run, which may be long
         * ago: a timer counted from it would be due already, fire before
         * the poll (libuv runs due timers first), and leave the poll with
         * no timer at all, waiting for a packet however long that takes */
        uv_update_time(rt->loop);
        uv_timer_start(&rt->timer, on_timer, ms, 0);
        uv_run(rt->loop, UV_RUN_ONCE);
        uv_timer_stop(&rt->timer);
        polled = 1;
    }
}
