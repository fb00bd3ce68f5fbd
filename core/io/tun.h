/* tun.h - a net on a TUN device, in real time. The net is
 * the same sf_sim as the virtual network, hooks, delays, traces and all;
 * the driver adds a bare peer standing for the Linux kernel at the device's
 * address, writes what is sent to it into the device, turns what the
 * kernel routes into the device into arrivals, and runs the clock on
 * libuv's monotonic time instead of jumping it (a real-time net, rt.h,
 * which raw.h's driver shares).
 *
 * The synfin hosts of the net take addresses inside the device's subnet;
 * the kernel routes that subnet into the device, so its sockets reach them
 * (connect to 10.73.0.2 from a kernel program), and they reach the
 * kernel's sockets bound to the device's address (or to any). Nothing is
 * written to the device for any other address. */
#ifndef SF_TUN_H
#define SF_TUN_H

#include "rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A TUN device attached to a net (opaque). */
typedef struct sf_tun sf_tun;

/* What sf_tun_open makes. */
typedef struct {
    const char *name;    /* the device's name; NULL or "": the kernel picks (synfin%d) */
    sf_addr kernel_addr; /* the kernel's address on the device, IPv4 or IPv6 */
    int prefix;          /* the subnet's prefix length: 8..30 (IPv4), 8..126 (IPv6) */
    int mtu;             /* 0: 1500 */
    /* TUN offloads: 0 the default (on), 1 on, -1 off. On, the device is
     * opened with IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 |
     * TUN_F_TSO6): the kernel hands over GSO super-segments of either
     * family (up to 64 KB, one read) with partial checksums, and the driver splits each into the
     * segments a wire would carry (gso_size bytes of payload each, headers
     * copied, sequence numbers, IP ids and flags as the kernel's own GSO
     * would set them, IPv4's header checksum computed) before the net sees
     * them: hooks, expectations, the trace and pcap see wire segments,
     * never a super-segment. A TCP checksum the kernel vouches for
     * (NEEDS_CSUM: its own segments, left partial; DATA_VALID: verified) is
     * computed by nobody (sf_sim_receive_trusted): the pcap completes the
     * field of what it records, so it never shows a partial checksum; a
     * packet with neither flag is verified, and dropped if corrupt. What
     * synfin writes is one wire segment behind a zero virtio_net_hdr (no
     * offload asked), or data segments sent back to back as one
     * super-segment of their family (tun.c's gso_flush).
     * The flags belong to the device, not the fd, and outlive it: they are
     * set on every open (to none when off) and cleared on close. */
    int offload;
} sf_tun_config;

/* Creates the device, gives the kernel its address, brings it up and waits
 * until it runs (a new TUN drops what is written before), then attaches it
 * to `sim`. loop NULL: the driver runs its own libuv loop; otherwise the
 * caller's, which must outlive the driver. NULL on failure, with the
 * reason in err (for example, no permission to create a TUN device). */
sf_tun *sf_tun_open(sf_sim *sim, struct uv_loop_s *loop, const sf_tun_config *cfg, char *err,
                    size_t errlen);
/* Removes the device (the kernel drops its routes and sockets' paths). */
void sf_tun_close(sf_tun *tun);

/* The device's name, as the kernel knows it ("synfin0"). */
const char *sf_tun_name(const sf_tun *tun);
/* The sim host that stands for the kernel. */
int sf_tun_kernel_host(const sf_tun *tun);
/* The device's file descriptor, for a caller that polls it itself. */
int sf_tun_fd(const sf_tun *tun);
/* The real-time net the device drives (rt.h): for sf_rt_timeout, and for
 * code that serves the TUN and raw drivers alike. */
sf_rt *sf_tun_rt(sf_tun *tun);
/* The net's clock now, microseconds: libuv's monotonic clock since the
 * net's time when the device was opened. */
uint64_t sf_tun_now(const sf_tun *tun);

/* Runs the net until something happens (a packet arrives, a timer or a
 * delayed segment is due) and returns 1 after processing it, or, when
 * nothing happens before `limit` on the net's clock, waits until then and
 * returns 0. The same contract as sf_sim_step, in real time. */
int sf_tun_step(sf_tun *tun, uint64_t limit);

/* The device's counters. */
typedef struct {
    uint64_t rx_packets, tx_packets; /* read from / written to the device */
    uint64_t tx_super;   /* super-segments written (several held segments in one write) */
    uint64_t tx_dropped; /* writes the device refused (full) */
    uint64_t rx_super;   /* offloads on: GSO super-segments read */
    uint64_t rx_split;   /* the wire segments they were split into */
    int offload;         /* 1: the device has offloads on (sf_tun_config) */
} sf_tun_stats;
/* Copies the counters into *out. */
void sf_tun_get_stats(const sf_tun *tun, sf_tun_stats *out);

#ifdef __cplusplus
}
#endif

#endif
