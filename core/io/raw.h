/* raw.h - a net on an Ethernet interface, in real time, through an
 * AF_PACKET socket. The net is the same sf_sim as the
 * virtual network; the driver adds a bare peer standing for the host at
 * the other end of the link (the outside world: on a veth pair, the Linux
 * kernel), and speaks Ethernet, ARP and IPv6 Neighbor Discovery for the
 * synfin hosts of the net:
 *
 * - synfin has a MAC address of its own (by default a locally
 *   administered one derived from the interface's name and the peer's
 *   address, never the interface's), and the socket puts the interface
 *   in promiscuous mode to receive frames for it. The kernel that owns
 *   the interface then sees those frames as another host's
 *   (PACKET_OTHERHOST) and drops them before IP: it never answers for
 *   synfin's connections with a RST.
 * - The peer's family picks how its MAC is found, the rules the same:
 *   ARP for an IPv4 peer, Neighbor Discovery (RFC 4861) for an IPv6 one.
 *   Requests (an ARP request, broadcast; a Neighbor Solicitation to the
 *   peer's solicited-node group ff02::1:ffXX:XXXX, 33:33:ff:XX:XX:XX,
 *   with synfin's MAC in its source link-layer address option) go 3
 *   times, a second apart; the MAC is learnt from the answer (an ARP
 *   reply; an advertisement's target link-layer address option) and from
 *   the peer's own request; up to 32 packets wait for it, and when no
 *   answer comes they are dropped with a note in the trace ("no ARP reply
 *   from 10.74.0.1", "no Neighbor Advertisement from fd00:74::1").
 * - ARP requests and Neighbor Solicitations for the address of any synfin
 *   host of the net are answered with synfin's MAC (a solicited
 *   advertisement, with the override flag and the target link-layer
 *   address option). ND goes out with hop limit 255, and ND that arrives
 *   with another, a bad ICMPv6 checksum or failing another validity check
 *   of RFC 4861 §7.1.1/§7.1.2 is counted (nd_invalid) and dropped.
 * - Frames for another MAC (not synfin's, not broadcast, not an IPv6
 *   group), an IPv6 group's frames other than ND (MLD, router
 *   solicitations), of another type (neither IP nor ARP, or VLAN-tagged),
 *   or malformed (short, a bad IPv4, IPv6 or ARP header) are counted and
 *   dropped. The Ethernet padding of short frames is cut at the IP
 *   packet's length.
 *
 * Keep the kernel from answering for synfin's addresses on the same
 * link: give the interface synfin uses no IPv4 or global IPv6 address (on
 * a veth pair, the address is on the other end, as in `ip addr add
 * 10.74.0.1/24 dev veth0` or `ip addr add fd00:74::1/64 dev veth0 nodad`;
 * `ip link set veth1 up`; its link-local fe80:: address is harmless). An
 * address of the interface must never be a synfin host's: the kernel
 * would answer ARP or ND for it with the interface's MAC and reset what
 * then arrives. Where the interface must keep that address, silence the
 * kernel there: `sysctl net.ipv4.conf.veth1.arp_ignore=8` (no ARP replies
 * on it) and an nftables rule dropping its RSTs (`oif veth1 tcp flags rst
 * drop` in an output chain).
 *
 * A sender on this host (the kernel's end of a veth) leaves the TCP
 * checksum to a NIC that is not there (TP_STATUS_CSUMNOTREADY): the driver
 * completes it as the NIC would, so only a checksum that was really wrong
 * reaches a host as one. Needs CAP_NET_RAW (a namespace of one's own,
 * `unshare -Urn`, gives it). */
#ifndef SF_RAW_H
#define SF_RAW_H

#include "rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An AF_PACKET socket on an interface, attached to a net (opaque). */
typedef struct sf_raw sf_raw;

/* What sf_raw_open uses. */
typedef struct {
    const char *interface; /* the interface's name ("veth1"); it must be up */
    sf_addr peer_addr;     /* the host at the other end, IPv4 or IPv6 */
    const uint8_t *mac;    /* synfin's MAC, 6 bytes; NULL: derived (see above) */
    int mtu;               /* the largest IP packet sent; 0: the interface's MTU */
} sf_raw_config;

/* Opens the socket on the interface, non-blocking, in promiscuous mode,
 * and attaches it to `sim` (rt.h: the peer is added as a bare peer, the
 * clock runs in real time from now). loop NULL: the driver runs its own
 * libuv loop; otherwise the caller's, which must outlive the driver. NULL
 * on failure, with the reason in err (no such interface, the interface is
 * down, no permission for a packet socket). */
sf_raw *sf_raw_open(sf_sim *sim, struct uv_loop_s *loop, const sf_raw_config *cfg, char *err,
                    size_t errlen);
/* Closes the socket (the interface leaves promiscuous mode). */
void sf_raw_close(sf_raw *raw);

/* The interface's name. */
const char *sf_raw_interface(const sf_raw *raw);
/* synfin's MAC address, 6 bytes. */
const uint8_t *sf_raw_mac(const sf_raw *raw);
/* The sim host that stands for the peer. */
int sf_raw_peer_host(const sf_raw *raw);
/* The real-time net the socket drives (rt.h: its fd, its next timeout,
 * its clock and its step, for a caller that runs the net itself). */
sf_rt *sf_raw_rt(sf_raw *raw);

/* The driver's counters. */
typedef struct {
    uint64_t rx_packets;    /* IP packets read from the link for the hosts (not ND) */
    uint64_t tx_packets;    /* IP packets written to the link */
    uint64_t tx_dropped;    /* not written: no ARP/ND answer, queue full, over the MTU, refused */
    uint64_t rx_not_for_us; /* frames for another MAC, an IPv6 group's other than ND */
    uint64_t rx_other_type; /* frames neither IP nor ARP for IPv4 over Ethernet */
    uint64_t rx_malformed;  /* frames too short, or with a bad IPv4, IPv6 or ARP header */
    uint64_t arp_requests_sent, arp_replies_sent;
    uint64_t arp_requests_received, arp_replies_received;
    /* Neighbor Discovery's: solicitations and advertisements, and what
     * failed RFC 4861 §7.1's validity checks (hop limit, checksum, ...) */
    uint64_t nd_solicitations_sent, nd_advertisements_sent;
    uint64_t nd_solicitations_received, nd_advertisements_received, nd_invalid;
} sf_raw_stats;
/* Copies the counters into *out. */
void sf_raw_get_stats(const sf_raw *raw, sf_raw_stats *out);

#ifdef __cplusplus
}
#endif

#endif
