/* rt.h - a real-time net: what the TUN and raw-socket
 * drivers share. A driver owns a device (a non-blocking fd) and knows how
 * to read packets from it and write packets to it; the real-time net owns
 * the rest: a bare peer in the sim that stands for the outside world
 * (sf_sim_set_port), the net's clock on libuv's monotonic time, the wait
 * on the fd and on the net's next event (uv_poll, uv_timer), and a step
 * function with sf_sim_step's contract.
 *
 * Embedding: a program with a loop of its own drives the net, two ways:
 * - A libuv program hands its uv_loop_t to the driver's open function.
 *   The net then runs by itself on that loop, as the program's other
 *   handles do: the fd's watcher, a timer and a prepare handle live on it,
 *   arrivals and timers are processed in their callbacks, and
 *   sf_rt_on_progress tells the program when the net has done something
 *   (to look at its connections, send, close). User calls made in any of
 *   the loop's callbacks take effect before the loop next waits. Do not
 *   call sf_rt_step then: the loop is the caller's to run.
 * - A program with another loop (luv's, cqueues, poll(2)) opens the
 *   driver with loop NULL, polls sf_rt_fd for reading with sf_rt_timeout
 *   as the timeout, then calls sf_rt_step(rt, sf_rt_now(rt)) until it
 *   returns 0. */
#ifndef SF_RT_H
#define SF_RT_H

#include "sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A real-time net (opaque). */
typedef struct sf_rt sf_rt;
/* libuv's uv_loop_t: this header leaves <uv.h> to its user. */
struct uv_loop_s;

/* What a driver gives the real-time net: its fd, how to read it, how to
 * write to the outside world, and its own timers (ARP retries), if any. */
typedef struct {
    int fd;            /* non-blocking, readable when the device has a packet */
    sf_addr peer_addr; /* the outside world's address: a bare peer of the net */
    /* Reads what the fd holds now, a bounded batch, feeding the net with
     * sf_sim_receive; returns how many packets a host took. */
    int (*read)(void *ud);
    /* Writes one IPv4 packet that a host sent to the peer (sf_port_send). */
    sf_port_send send;
    /* The driver's next deadline on the net's clock, UINT64_MAX for none;
     * NULL: the driver has no timers. */
    uint64_t (*next_time)(void *ud);
    /* Runs the driver's timers that are due at `now`; NULL when next_time is. */
    void (*run_timers)(void *ud, uint64_t now);
    /* Writes what the driver held back from `send` to write together (TUN
     * GSO); called after every step of the net, and before it waits. NULL:
     * it holds nothing. */
    void (*flush)(void *ud);
    void *ud; /* the first argument of the five above */
} sf_rt_driver;

/* Attaches a driver to `sim`: adds the bare peer at drv->peer_addr and
 * makes it the port to the outside world, sets the link to no latency and
 * no loss (the real network has its own), and starts the clock at the
 * net's time now. loop NULL: a libuv loop of its own; otherwise the
 * caller's, which must outlive the net. The driver's fd stays the
 * driver's. NULL on failure, with the reason in err. */
sf_rt *sf_rt_open(sf_sim *sim, struct uv_loop_s *loop, const sf_rt_driver *drv, char *err,
                  size_t errlen);
/* Detaches: the peer is a bare peer again, the watchers are closed, and
 * the loop too if it is the net's own. On the caller's loop the memory
 * goes when that loop has run the watchers' close callbacks (its next
 * iteration); nothing of the net's runs after this call. The driver
 * closes its fd after. */
void sf_rt_close(sf_rt *rt);

/* Called after the net has processed something (an arrival, a timer, a
 * delayed segment), with the ud given to sf_rt_on_progress. */
typedef void (*sf_rt_progress)(void *ud);
/* Sets (fn NULL: clears) the function called after each instant the net
 * processes, on either kind of loop; it may make user calls. */
void sf_rt_on_progress(sf_rt *rt, sf_rt_progress fn, void *ud);

/* The sim host that stands for the outside world (the kernel). */
int sf_rt_peer_host(const sf_rt *rt);
/* The fd to poll for reading: the driver's. */
int sf_rt_fd(const sf_rt *rt);
/* The net's clock now, microseconds: libuv's monotonic clock since the
 * net's time when the driver opened. */
uint64_t sf_rt_now(const sf_rt *rt);
/* Milliseconds until the net's next event (a timer, a delayed segment, a
 * driver's timer), rounded up; 0 when something is due now; -1 when
 * nothing is pending (wait for the fd alone). The timeout of a poll. */
int sf_rt_timeout(const sf_rt *rt);

/* Runs the net until something happens (a packet arrives, a timer or a
 * delayed segment is due) and returns 1 after processing it, or, when
 * nothing happens before `limit` on the net's clock, waits until then and
 * returns 0. The same contract as sf_sim_step, in real time. It never
 * returns 0 while the fd has a packet it has not read: a limit in the
 * past (0) reads and processes what is there without waiting. */
int sf_rt_step(sf_rt *rt, uint64_t limit);

#ifdef __cplusplus
}
#endif

#endif
