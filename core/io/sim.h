/* sim.h - the deterministic virtual network: hosts in one
 * process, links with latency and seeded loss, and a virtual clock that jumps
 * to the next event. Same seed, same run, bit for bit.
 *
 * A host is a synfin stack with an address, or a bare peer (no TCP: what is
 * sent to it is only recorded, what it sends is crafted by a script). Every
 * segment passes the sender's egress hooks, the link, then the receiver's
 * ingress hooks; the trace records it all. */
#ifndef SF_SIM_H
#define SF_SIM_H

#include "../hook.h"
#include "../synfin.h"
#include "../trace.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A net: its hosts, the link between them, the virtual clock and the trace. */
typedef struct sf_sim sf_sim;

/* The link between every two hosts of a net. */
typedef struct {
    uint64_t latency; /* one way, microseconds */
    double loss;      /* probability that the link loses a segment */
    /* probability that it marks an ECN-capable packet CE instead of passing
     * it unmarked (RFC 3168 §5: a router's congestion signal, not a loss) */
    double mark;
    /* A bottleneck at each host's way out, when rate is above 0: a packet
     * waits behind those its host sent before, then takes len * 8 / rate
     * seconds to leave. With `queue` packets waiting it is lost (a full
     * queue: tail drop); with `threshold` (> 0) or more waiting, an
     * ECN-capable packet is marked CE and any other lost (an AQM's step
     * marking: RFC 3168 §5, RFC 7567 §4.2.1). */
    uint64_t rate;      /* bits per second; 0: no bottleneck */
    uint32_t queue;     /* packets that may wait; 0 with a rate: 100 */
    uint32_t threshold; /* packets waiting from which the queue marks; 0: never */
} sf_link;

/* A new net with no host, at time 0; seed seeds its PRNG (the link's loss,
 * the hooks' probabilities). NULL without memory. */
sf_sim *sf_sim_new(uint64_t seed);
/* Frees the net: its hosts with their stacks and hooks, and the trace. */
void sf_sim_free(sf_sim *sim);
/* Sets the link (copied). */
void sf_sim_set_link(sf_sim *sim, const sf_link *link);

/* Adds a host with n addresses (1 .. SF_STACK_ADDRS, of either family or
 * both; its stack gets them, replacing cfg's); cfg NULL makes a bare peer.
 * Returns its index or an error (SF_EADDRINUSE when an address is taken,
 * SF_EINVAL for no address, too many, or one that is not unicast). */
int sf_sim_add_host(sf_sim *sim, const sf_addr *addrs, size_t n, const sf_config *cfg);
/* How many hosts the net has; their indices are 0 to count - 1. */
int sf_sim_host_count(const sf_sim *sim);
/* The host's first address. */
sf_addr sf_sim_host_addr(const sf_sim *sim, int host);
/* The host's addresses, *n of them. */
const sf_addr *sf_sim_host_addrs(const sf_sim *sim, int host, size_t *n);
/* The host's first address of the family of `like`, or its first address
 * when it has none of that family. */
sf_addr sf_sim_host_addr_like(const sf_sim *sim, int host, sf_addr like);
/* The host's stack; NULL for a bare peer. */
sf_stack *sf_sim_stack(sf_sim *sim, int host);
/* The host's hooks, both directions (hook.h). */
sf_hooks *sf_sim_hooks(sf_sim *sim, int host);
/* The index of the host with this address (one of its addresses), or -1. */
int sf_sim_host_of(const sf_sim *sim, sf_addr addr);

/* The virtual time now, in microseconds. */
uint64_t sf_sim_now(const sf_sim *sim);
/* When the next event happens; UINT64_MAX when nothing is pending. */
uint64_t sf_sim_next_time(const sf_sim *sim);
/* Processes the events of the next instant if it is at or before `limit`
 * and returns 1; otherwise moves the clock to `limit` and returns 0. */
int sf_sim_step(sf_sim *sim, uint64_t limit);
/* Sends what the host's stack emitted during a user call. Call it after
 * every user call (sf_send, sf_close, ...) on a sim host's stack. Called
 * from one of the host's own egress hooks, it leaves the packets to the
 * flush already running, which sends them next. */
void sf_sim_flush(sf_sim *sim, int host);
/* The largest packet sf_sim_inject builds (an IPv4 packet's total length;
 * an IPv6 packet's payload length is bounded likewise). */
#define SF_SIM_PACKET_MAX 65535
/* How many egress hook runs may be nested, one's hook sending through the
 * next: a hook that sends on its own path would otherwise recurse until
 * the C stack ends. */
#define SF_SIM_DEPTH_MAX 16
/* A crafted segment: SF_EGRESS as if `host` sent it (its egress hooks, then
 * the link), SF_INGRESS as if it arrived at `host` now (its ingress hooks).
 * SF_ELOOP (nothing sent) from inside SF_SIM_DEPTH_MAX nested egress hook
 * runs; SF_ENOBUFS when the packet is larger than SF_SIM_PACKET_MAX;
 * SF_EINVAL when its addresses are of two families (no such packet). */
int sf_sim_inject(sf_sim *sim, int host, sf_dir dir, const sf_seg *seg);
/* An ICMP message (ICMPv6 when the addresses are IPv6) from `host` (its
 * address of m->daddr's family, or m->saddr when set) to the host at
 * m->daddr, over the link; no hooks see it, a note records it. SF_EINVAL
 * when the addresses are of two families. */
int sf_sim_inject_icmp(sf_sim *sim, int host, const sf_icmp *m);
/* A note in the trace, at the host's column (host -1: none). */
void sf_sim_note(sf_sim *sim, int host, const char *text);

/* ---- the outside world (core/io/tun, core/io/raw) ----
 * A bare peer can stand for a real network: what is delivered to it goes to
 * `send` (a device write), after the sender's egress hooks and any delay,
 * instead of being only recorded. Packets read from the device come in
 * through sf_sim_receive. A real-time driver moves the clock with
 * sf_sim_set_now and then steps to it. */
/* Writes one packet (IPv4 or IPv6) to the outside world. */
typedef void (*sf_port_send)(void *ud, const uint8_t *pkt, size_t len);
/* Makes the bare peer `host` stand for the outside world: what is delivered
 * to it goes to send(ud, pkt, len); NULL: only recorded again. */
void sf_sim_set_port(sf_sim *sim, int host, sf_port_send send, void *ud);
/* A packet from the outside, arriving now: recorded, then delivered to the
 * host with its destination address through that host's ingress hooks at
 * the next step. Returns 0, or -1 when no host of this net has that address
 * or the packet is neither IPv4 TCP (a bad checksum is traced, and dropped
 * by the host) nor ICMP quoting TCP (it is counted, not traced). */
int sf_sim_receive(sf_sim *sim, const uint8_t *pkt, size_t len);
/* sf_sim_receive for a TCP packet whose checksum the device vouched for (a
 * checksum offload: the local kernel's segments, VIRTIO_NET_HDR_F_NEEDS_CSUM
 * or DATA_VALID): nobody verifies it, and its checksum field may hold the
 * partial sum the kernel left, completed where the bytes are shown (the
 * pcap). Hooks see the segment as any other (bad_csum never set). A packet
 * the pcap could not complete (ICMP, trailing bytes past its IP length, an
 * IPv6 extension header before TCP) is verified, as by sf_sim_receive. */
int sf_sim_receive_trusted(sf_sim *sim, const uint8_t *pkt, size_t len);
/* Packets from the outside that no host took. */
uint64_t sf_sim_ignored(const sf_sim *sim);
/* Moves the clock forward to `now` (never back). */
void sf_sim_set_now(sf_sim *sim, uint64_t now);

/* ---- recording (core/io/pcap) ----
 * Every packet the net puts on the wire (a stack's, a script's, a hook's,
 * one from the outside world, ICMP) is written once to a pcapng file
 * (pcap.h), with its bytes as they were on the wire, the time it entered
 * the wire, and a comment: its segment number in the trace, its sender and
 * receiver, and its fate with the hooks' verdicts ("synfin #4 192.0.2.1 >
 * 192.0.2.2: dropped by egress hook 1"). A packet is written when its
 * fate is settled (delivered, lost, dropped on arrival...), so the file is
 * in that order, not in time order. */
/* Records from now on to a pcapng file at path (created or truncated),
 * after closing any recording already open. Returns 0, or -1 with the
 * reason in err ("cannot open PATH: Permission denied"). */
int sf_sim_pcap_open(sf_sim *sim, const char *path, char *err, size_t errlen);
/* The wall-clock time (microseconds since 1970) of the net's time 0, which
 * the pcap's timestamps count from: 0 on a sim (its virtual clock starts
 * at 1970-01-01 in the file); a real-time net (rt.h) sets it when its
 * driver opens, so that its files line up with a capture of the device. */
void sf_sim_set_epoch(sf_sim *sim, uint64_t epoch_us);
/* Stops recording: writes the packets still in flight ("in flight at the
 * end") and closes the file. Returns 0 (also when nothing was recording),
 * or -1 when a write failed, with the reason in err (err may be NULL).
 * sf_sim_free does it too. */
int sf_sim_pcap_close(sf_sim *sim, char *err, size_t errlen);

/* The net's trace (trace.h). */
sf_trace *sf_sim_trace(sf_sim *sim);
/* Moves the trace out of the net into *out (the net's is empty after): for a
 * caller that keeps the records of a net it frees. */
void sf_sim_take_trace(sf_sim *sim, sf_trace *out);
/* Prints the trace as a ladder diagram (core/io/ladder.c), as
 * print(net:trace()) does in Lua: a lane per host, time down the left, each
 * segment an arrow with its number, flags, relative seq/ack, window and
 * length, each state change in its host's lane with its cause. Returns 0, or
 * -1 when writing failed or without memory. */
int sf_sim_print_trace(sf_sim *sim, FILE *out);
/* How sf_trace_seg_summary writes: SF_SUMMARY_NO_TS leaves the timestamp
 * option out (on every segment, it is most of the line). */
enum { SF_SUMMARY_NO_TS = 1 };
/* A segment record (numbered: sf_trace_number) as the ladder writes it,
 * "#4 FA seq=19 ack=25 win=502<<7 len=5 <TS val 9 ecr 4>", into out;
 * returns its length (cut to cap - 1). how: 0 or SF_SUMMARY_NO_TS. */
size_t sf_trace_seg_summary(const sf_trace_rec *r, int how, char *out, size_t cap);
/* The net's PRNG (rand.h), seeded by sf_sim_new. */
sf_rand *sf_sim_rand(sf_sim *sim);
/* Hook functions that failed so far. */
int sf_sim_hook_failures(const sf_sim *sim);

#ifdef __cplusplus
}
#endif

#endif
