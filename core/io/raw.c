/* raw.c - the raw-socket driver (see raw.h): Ethernet, ARP and IPv6
 * Neighbor Discovery for the synfin hosts of a net, on an AF_PACKET
 * socket; the real-time machinery is the real-time net's (rt.c). */
#define _GNU_SOURCE
#include "../bytes.h"
#include "raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    READS_PER_WAKE = 256, /* then let timers run: bounded work per wake */
    ETH_HDR = 14,         /* destination, source, type */
    ETH_MIN_FRAME = 60,   /* without the FCS: shorter frames are padded */
    ARP_LEN = 28,         /* an ARP packet for IPv4 over Ethernet */
    IP6_HDR = 40,
    ICMPV6 = 58,
    ND_NS = 135, /* RFC 4861 §4.3 Neighbor Solicitation */
    ND_NA = 136, /* §4.4 Neighbor Advertisement */
    ND_MIN = 24, /* type, code, checksum, flags, target: §7.1.1, §7.1.2 */
    ND_LEN = 32, /* with one link-layer address option (§4.6.1: 8 bytes) */
    OPT_SLLA = 1,
    OPT_TLLA = 2,
    ND_HOP_LIMIT = 255, /* §7.1: a router forwarding ND would have lowered it */
    /* the peer's MAC, by ARP or ND alike: requests before the peer is
     * called unreachable (RFC 4861 §10 MAX_MULTICAST_SOLICIT), packets that
     * wait for it */
    RESOLVE_TRIES = 3,
    RESOLVE_QUEUE = 32,
    FRAME_MAX = 65536, /* the largest frame read */
};
static const uint32_t NA_SOLICITED = 1u << 30, NA_OVERRIDE = 1u << 29; /* RFC 4861 §4.4 */
static const uint64_t RESOLVE_INTERVAL = 1000000; /* microseconds between requests (RetransTimer) */
static const uint8_t BROADCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

typedef struct {
    uint8_t *pkt;
    size_t len;
} queued;

struct sf_raw {
    sf_sim *sim;
    sf_rt *rt;
    int fd, ifindex, mtu;
    char name[IFNAMSIZ];
    uint8_t mac[6];
    sf_addr peer_addr; /* its family picks ARP or Neighbor Discovery */
    uint8_t peer_mac[6];
    int peer_known;
    /* resolving the peer's MAC: requests sent so far, when the next one
     * is due, the address they are sent from */
    int resolving, tries;
    uint64_t next;
    sf_addr from;
    queued queue[RESOLVE_QUEUE];
    int queued;
    sf_raw_stats stats;
    /* two buffers: an ARP reply read into rx sends queued packets
     * through tx while its fields are still being read */
    uint8_t rx[FRAME_MAX], tx[FRAME_MAX];
};

/* ---- writing frames ------------------------------------------------------------ */

/* Writes the frame whose payload is in raw->tx after the header; 0 or -1. */
static int send_frame(sf_raw *raw, const uint8_t *dst, uint16_t type, size_t payload)
{
    uint8_t *f = raw->tx;
    memcpy(f, dst, 6);
    memcpy(f + 6, raw->mac, 6);
    sf_put16(f + 12, type);
    size_t len = ETH_HDR + payload;
    if (len < ETH_MIN_FRAME) { /* a real NIC would pad it; a veth does not care */
        memset(f + len, 0, ETH_MIN_FRAME - len);
        len = ETH_MIN_FRAME;
    }
    return send(raw->fd, f, len, 0) == (ssize_t)len ? 0 : -1;
}

static void send_ip(sf_raw *raw, const uint8_t *pkt, size_t len)
{
    memcpy(raw->tx + ETH_HDR, pkt, len);
    uint16_t type = pkt[0] >> 4 == 6 ? ETH_P_IPV6 : ETH_P_IP;
    if (send_frame(raw, raw->peer_mac, type, len) == 0)
        raw->stats.tx_packets++;
    else
        raw->stats.tx_dropped++;
}

static int send_arp(sf_raw *raw, uint16_t op, const uint8_t *tha, uint32_t spa, uint32_t tpa)
{
    uint8_t *a = raw->tx + ETH_HDR;
    sf_put16(a, ARPHRD_ETHER);
    sf_put16(a + 2, ETH_P_IP);
    a[4] = 6;
    a[5] = 4;
    sf_put16(a + 6, op);
    memcpy(a + 8, raw->mac, 6);
    sf_put32(a + 14, spa);
    memcpy(a + 18, op == ARPOP_REQUEST ? (const uint8_t[6]){0} : tha, 6);
    sf_put32(a + 24, tpa);
    return send_frame(raw, op == ARPOP_REQUEST ? BROADCAST : tha, ETH_P_ARP, ARP_LEN);
}

/* An NS or NA (RFC 4861 §4.3, §4.4) from src to dst about target, with
 * synfin's MAC in its one option (the source link-layer address of an NS,
 * the target's of an NA), in an IPv6 packet of hop limit 255, to the
 * Ethernet address eth. */
static int send_nd(sf_raw *raw, const uint8_t *eth, uint8_t type, uint32_t flags,
                   const uint8_t src[16], const uint8_t dst[16], const uint8_t target[16])
{
    uint8_t *p = raw->tx + ETH_HDR, *m = p + IP6_HDR;
    memset(p, 0, IP6_HDR + ND_LEN);
    p[0] = 0x60;
    sf_put16(p + 4, ND_LEN);
    p[6] = ICMPV6;
    p[7] = ND_HOP_LIMIT;
    memcpy(p + 8, src, 16);
    memcpy(p + 24, dst, 16);
    m[0] = type;
    sf_put32(m + 4, flags);
    memcpy(m + 8, target, 16);
    m[24] = type == ND_NS ? OPT_SLLA : OPT_TLLA;
    m[25] = 1; /* in units of 8 bytes */
    memcpy(m + 26, raw->mac, 6);
    sf_put16(m + 2, sf_wire_icmp6_checksum(p, IP6_HDR + ND_LEN));
    return send_frame(raw, eth, ETH_P_IPV6, IP6_HDR + ND_LEN);
}

/* ---- the peer's MAC ------------------------------------------------------------ */

/* One request for the peer's MAC: an ARP request (broadcast), or a
 * Neighbor Solicitation to its solicited-node multicast address
 * (ff02::1:ffXX:XXXX, RFC 4291 §2.7.1; on Ethernet 33:33 and the address's
 * last 4 bytes, RFC 2464 §7). */
static void solicit(sf_raw *raw, uint64_t now)
{
    if (sf_addr_is_v4(raw->peer_addr)) {
        if (send_arp(raw, ARPOP_REQUEST, NULL, sf_addr_v4_of(raw->from),
                     sf_addr_v4_of(raw->peer_addr)) == 0)
            raw->stats.arp_requests_sent++;
    } else {
        uint8_t group[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
        memcpy(group + 13, raw->peer_addr.b + 13, 3);
        uint8_t eth[6] = {0x33, 0x33};
        memcpy(eth + 2, group + 12, 4);
        if (send_nd(raw, eth, ND_NS, 0, raw->from.b, group, raw->peer_addr.b) == 0)
            raw->stats.nd_solicitations_sent++;
    }
    raw->tries++;
    raw->next = now + RESOLVE_INTERVAL;
}

static void drop_queue(sf_raw *raw, int sent)
{
    for (int i = 0; i < raw->queued; i++) {
        if (sent)
            send_ip(raw, raw->queue[i].pkt, raw->queue[i].len);
        else
            raw->stats.tx_dropped++;
        free(raw->queue[i].pkt);
    }
    raw->queued = 0;
}

/* The peer's MAC, from its reply or its own request: what waited goes. */
static void learn_peer(sf_raw *raw, const uint8_t *mac)
{
    if (mac[0] & 1) return; /* a group address is nobody's own */
    memcpy(raw->peer_mac, mac, 6);
    raw->peer_known = 1;
    raw->resolving = 0;
    drop_queue(raw, 1);
}

static uint64_t raw_next_time(void *ud)
{
    sf_raw *raw = ud;
    return raw->resolving ? raw->next : UINT64_MAX;
}

static void raw_run_timers(void *ud, uint64_t now)
{
    sf_raw *raw = ud;
    if (!raw->resolving || now < raw->next) return;
    if (raw->tries < RESOLVE_TRIES) {
        solicit(raw, now);
        return;
    }
    /* like a neighbour entry gone FAILED (RFC 4861 §7.3.3 INCOMPLETE: "the
     * address resolution failed"): what waited is lost, and the next packet
     * starts another round */
    raw->resolving = 0;
    drop_queue(raw, 0);
    char note[96], addr[SF_ADDR_STRLEN];
    sf_addr_str(raw->peer_addr, addr);
    snprintf(note, sizeof note, "no %s from %s",
             sf_addr_is_v4(raw->peer_addr) ? "ARP reply" : "Neighbor Advertisement", addr);
    sf_sim_note(raw->sim, sf_rt_peer_host(raw->rt), note);
}

/* sf_port_send: a packet a host sent to the peer. */
static void port_send(void *ud, const uint8_t *pkt, size_t len)
{
    sf_raw *raw = ud;
    int v4 = sf_addr_is_v4(raw->peer_addr);
    if (len > (size_t)raw->mtu || len < (v4 ? 20u : (size_t)IP6_HDR) ||
        pkt[0] >> 4 != (v4 ? 4 : 6)) {
        raw->stats.tx_dropped++;
        return;
    }
    if (raw->peer_known) {
        send_ip(raw, pkt, len);
        return;
    }
    uint8_t *copy = raw->queued < RESOLVE_QUEUE ? malloc(len) : NULL;
    if (!copy) {
        raw->stats.tx_dropped++;
    } else {
        memcpy(copy, pkt, len);
        raw->queue[raw->queued++] = (queued){copy, len};
    }
    if (!raw->resolving) {
        raw->resolving = 1;
        raw->tries = 0;
        /* the sender asks: the peer learns it too */
        if (v4) {
            raw->from = sf_addr_v4(sf_get32(pkt + 12));
        } else {
            memcpy(raw->from.b, pkt + 8, 16);
        }
        solicit(raw, sf_sim_now(raw->sim));
    }
}

/* ---- reading frames ------------------------------------------------------------ */

/* partial: the sender left the transport checksum to the hardware
 * (TP_STATUS_CSUMNOTREADY: a veth, or a frame this host sends), so only
 * the pseudo-header's sum is there; finish it as the NIC would have. */
static int ip_in(sf_raw *raw, uint8_t *p, size_t len, int partial)
{
    if (len < 20 || p[0] >> 4 != 4) goto bad;
    size_t ihl = (size_t)(p[0] & 15) * 4, total = sf_get16(p + 2);
    if (ihl < 20 || ihl > len || total < ihl || total > len) goto bad;
    int fragment = (sf_get16(p + 6) & 0x3fff) != 0; /* MF or an offset */
    if (partial && p[9] == 6 && !fragment && total - ihl >= 20) sf_wire_fill_tcp_checksum(p, total);
    raw->stats.rx_packets++;
    /* total, not len: a short frame's Ethernet padding is no payload */
    return sf_sim_receive(raw->sim, p, total) == 0;
bad:
    raw->stats.rx_malformed++;
    return 0;
}

static void arp_in(sf_raw *raw, const uint8_t *a, size_t len)
{
    if (len < ARP_LEN) {
        raw->stats.rx_malformed++;
        return;
    }
    if (sf_get16(a) != ARPHRD_ETHER || sf_get16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4) {
        raw->stats.rx_other_type++;
        return;
    }
    uint16_t op = sf_get16(a + 6);
    const uint8_t *sha = a + 8;
    uint32_t spa = sf_get32(a + 14), tpa = sf_get32(a + 24);
    int from_peer = sf_addr_eq(sf_addr_v4(spa), raw->peer_addr);
    if (op == ARPOP_REQUEST) {
        raw->stats.arp_requests_received++;
        if (from_peer) learn_peer(raw, sha);
        /* RFC 826: answer for our own protocol addresses, here every
         * synfin host's (a bare peer stands for someone else) */
        int h = sf_sim_host_of(raw->sim, sf_addr_v4(tpa));
        if (h >= 0 && sf_sim_stack(raw->sim, h) && !(sha[0] & 1) &&
            send_arp(raw, ARPOP_REPLY, sha, tpa, spa) == 0)
            raw->stats.arp_replies_sent++;
    } else if (op == ARPOP_REPLY) {
        raw->stats.arp_replies_received++;
        if (from_peer) learn_peer(raw, sha);
    } else {
        raw->stats.rx_other_type++;
    }
}

/* An NS or NA in the IPv6 packet p of total bytes, from the Ethernet
 * address eth_src. RFC 4861 §7.1.1 and §7.1.2: what fails a validity check
 * is dropped silently (counted), hop limit first: ND from off the link
 * must not be believed. */
static void nd_in(sf_raw *raw, const uint8_t *eth_src, const uint8_t *p, size_t total)
{
    const uint8_t *m = p + IP6_HDR;
    size_t mlen = total - IP6_HDR;
    if (p[7] != ND_HOP_LIMIT || mlen < ND_MIN || m[1] != 0 ||
        sf_wire_icmp6_checksum(p, total) != 0 || m[8] == 0xff /* a multicast target */)
        goto invalid;
    uint8_t type = m[0];
    const uint8_t *lla = NULL; /* the link-layer address option of this type */
    for (size_t o = ND_MIN; o < mlen;) {
        size_t olen = mlen - o >= 2 ? (size_t)m[o + 1] * 8 : 0;
        if (olen == 0 || olen > mlen - o) goto invalid; /* every option's length > 0 */
        if (m[o] == (type == ND_NS ? OPT_SLLA : OPT_TLLA) && olen == 8) lla = m + o + 2;
        o += olen;
    }
    sf_addr src, target;
    memcpy(src.b, p + 8, 16);
    memcpy(target.b, m + 8, 16);
    int group = p[24] == 0xff;
    uint32_t flags = sf_get32(m + 4);
    if (type == ND_NS) {
        /* from ::, DAD's probe: to a solicited-node group, with no option */
        int dad = sf_addr_is_zero(src);
        static const uint8_t solicited_node[13] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
        if (dad && (lla || memcmp(p + 24, solicited_node, 13) != 0)) goto invalid;
        raw->stats.nd_solicitations_received++;
        if (!dad && lla && sf_addr_eq(src, raw->peer_addr)) learn_peer(raw, lla);
        /* §7.2.4: answer for our own addresses, every synfin host's; a
         * solicited NA to the asker, at its option's MAC (else the frame's
         * source: synfin keeps no neighbour cache for another); DAD's
         * probe gets one to all nodes, unsolicited */
        int h = sf_sim_host_of(raw->sim, target);
        if (h < 0 || !sf_sim_stack(raw->sim, h)) return;
        static const uint8_t all_nodes[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        static const uint8_t all_nodes_eth[6] = {0x33, 0x33, 0, 0, 0, 1};
        const uint8_t *eth = dad ? all_nodes_eth : lla ? lla : eth_src;
        if (!dad && (eth[0] & 1)) return;
        if (send_nd(raw, eth, ND_NA, NA_OVERRIDE | (dad ? 0 : NA_SOLICITED), target.b,
                    dad ? all_nodes : src.b, target.b) == 0)
            raw->stats.nd_advertisements_sent++;
    } else {
        if (group && (flags & NA_SOLICITED)) goto invalid;
        raw->stats.nd_advertisements_received++;
        if (lla && sf_addr_eq(target, raw->peer_addr)) learn_peer(raw, lla);
    }
    return;
invalid:
    raw->stats.nd_invalid++;
}

/* An IPv6 packet: Neighbor Discovery for the driver, the rest for the
 * hosts; of what came to a group address, only ND is synfin's (the rest,
 * MLD reports, router solicitations, is for the link's other nodes). */
static int ip6_in(sf_raw *raw, const uint8_t *eth_src, uint8_t *p, size_t len, int partial,
                  int group)
{
    if (len < IP6_HDR || p[0] >> 4 != 6) goto bad;
    size_t total = IP6_HDR + sf_get16(p + 4);
    if (total > len) goto bad;
    if (p[6] == ICMPV6 && total > IP6_HDR && (p[IP6_HDR] == ND_NS || p[IP6_HDR] == ND_NA)) {
        nd_in(raw, eth_src, p, total);
        return 0;
    }
    if (group) {
        raw->stats.rx_not_for_us++;
        return 0;
    }
    if (partial && p[6] == 6 && total - IP6_HDR >= 20) sf_wire_fill_tcp_checksum(p, total);
    raw->stats.rx_packets++;
    return sf_sim_receive(raw->sim, p, total) == 0;
bad:
    raw->stats.rx_malformed++;
    return 0;
}

/* One frame: for synfin's MAC, broadcast or an IPv6 group (33:33:...);
 * IPv4, IPv6 or ARP. Returns 1 when a host took an IP packet from it. */
static int frame_in(sf_raw *raw, uint8_t *f, size_t len, int partial)
{
    if (len < ETH_HDR) {
        raw->stats.rx_malformed++;
        return 0;
    }
    int v6_group = f[0] == 0x33 && f[1] == 0x33;
    if (memcmp(f, raw->mac, 6) != 0 && memcmp(f, BROADCAST, 6) != 0 && !v6_group) {
        raw->stats.rx_not_for_us++;
        return 0;
    }
    uint16_t type = sf_get16(f + 12);
    if (type == ETH_P_IPV6)
        return ip6_in(raw, f + 6, f + ETH_HDR, len - ETH_HDR, partial, v6_group);
    if (v6_group) { /* an IPv6 group's frame carries IPv6 (RFC 2464 §7) */
        raw->stats.rx_not_for_us++;
        return 0;
    }
    if (type == ETH_P_IP) return ip_in(raw, f + ETH_HDR, len - ETH_HDR, partial);
    if (type == ETH_P_ARP)
        arp_in(raw, f + ETH_HDR, len - ETH_HDR);
    else
        raw->stats.rx_other_type++;
    return 0;
}

static int raw_read(void *ud)
{
    sf_raw *raw = ud;
    int taken = 0;
    for (int i = 0; i < READS_PER_WAKE; i++) {
        struct sockaddr_ll from;
        union { /* aligned for the control message */
            struct cmsghdr h;
            uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
        } ctl;
        struct iovec iov = {raw->rx, sizeof raw->rx};
        struct msghdr msg = {.msg_name = &from,
                             .msg_namelen = sizeof from,
                             .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = ctl.buf,
                             .msg_controllen = sizeof ctl.buf};
        ssize_t n = recvmsg(raw->fd, &msg, 0);
        if (n < 0) break; /* EAGAIN: drained */
        /* what this host sends out of the interface (the kernel's own
         * frames, ours where PACKET_IGNORE_OUTGOING is missing) */
        if (from.sll_pkttype == PACKET_OUTGOING) continue;
        uint32_t status = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
                struct tpacket_auxdata aux;
                memcpy(&aux, CMSG_DATA(c), sizeof aux);
                status = aux.tp_status;
            }
        }
        /* the kernel took a VLAN tag off: that frame was for a VLAN, not
         * for the untagged link synfin is on */
        if (status & TP_STATUS_VLAN_VALID) {
            raw->stats.rx_other_type++;
            continue;
        }
        taken += frame_in(raw, raw->rx, (size_t)n, (status & TP_STATUS_CSUMNOTREADY) != 0);
    }
    return taken;
}

/* ---- the socket ---------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *what, const char *name)
{
    snprintf(err, errlen, "%s %s: %s", what, name, strerror(errno));
    return -1;
}

/* A locally administered unicast MAC (02:...), the same for the same
 * interface and peer on every run: FNV-1a of both. */
static void derive_mac(uint8_t mac[6], const char *name, sf_addr peer)
{
    uint32_t h = 2166136261u;
    for (const char *c = name; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    /* the address's bytes from the last: an IPv4 peer's MAC is what it
     * was before IPv6 */
    for (int i = 15; i >= (sf_addr_is_v4(peer) ? 12 : 0); i--)
        h = (h ^ peer.b[i]) * 16777619u;
    mac[0] = 0x02, mac[1] = 's', mac[2] = 'f';
    mac[3] = (uint8_t)(h >> 16), mac[4] = (uint8_t)(h >> 8), mac[5] = (uint8_t)h;
}

/* The interface's index, MTU and MAC; checks that it is up and Ethernet;
 * binds the socket to it and makes it promiscuous. */
static int attach(sf_raw *raw, const sf_raw_config *cfg, char *err, size_t errlen)
{
    const char *name = raw->name;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(raw->fd, SIOCGIFINDEX, &ifr) < 0) return fail(err, errlen, "no interface", name);
    raw->ifindex = ifr.ifr_ifindex;
    if (ioctl(raw->fd, SIOCGIFFLAGS, &ifr) < 0)
        return fail(err, errlen, "reading the flags of", name);
    if (!(ifr.ifr_flags & IFF_UP)) {
        snprintf(err, errlen, "the interface %s is down (ip link set %s up)", name, name);
        return -1;
    }
    if (ioctl(raw->fd, SIOCGIFHWADDR, &ifr) < 0)
        return fail(err, errlen, "reading the MAC of", name);
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
        snprintf(err, errlen, "the interface %s is not Ethernet", name);
        return -1;
    }
    if (cfg->mac)
        memcpy(raw->mac, cfg->mac, 6);
    else
        derive_mac(raw->mac, name, cfg->peer_addr);
    if (!cfg->mac && memcmp(raw->mac, ifr.ifr_hwaddr.sa_data, 6) == 0)
        raw->mac[5] ^= 1; /* never the interface's own: its kernel would take the frames */
    if (raw->mac[0] & 1) {
        snprintf(err, errlen, "synfin's MAC must be unicast");
        return -1;
    }
    if (ioctl(raw->fd, SIOCGIFMTU, &ifr) < 0) return fail(err, errlen, "reading the MTU of", name);
    raw->mtu = cfg->mtu ? cfg->mtu : ifr.ifr_mtu;
    /* RFC 791: 68; RFC 8200 §5: 1280 */
    int min_mtu = sf_addr_is_v4(cfg->peer_addr) ? 68 : 1280;
    if (raw->mtu < min_mtu || raw->mtu > FRAME_MAX - ETH_HDR) {
        snprintf(err, errlen, "mtu must be %d..%d, got %d", min_mtu, FRAME_MAX - ETH_HDR, raw->mtu);
        return -1;
    }

    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = raw->ifindex;
    if (bind(raw->fd, (struct sockaddr *)&sll, sizeof sll) < 0)
        return fail(err, errlen, "binding to", name);
    /* frames for synfin's MAC: a real NIC filters them out otherwise */
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = raw->ifindex;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(raw->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
        return fail(err, errlen, "making promiscuous", name);
    int on = 1; /* the frame's status: a checksum left to the NIC, a VLAN tag taken off */
    if (setsockopt(raw->fd, SOL_PACKET, PACKET_AUXDATA, &on, sizeof on) < 0)
        return fail(err, errlen, "asking for the frames' status on", name);
#ifdef PACKET_IGNORE_OUTGOING
    int one = 1; /* Linux 4.20: our own frames do not come back (raw_read skips them anyway) */
    (void)setsockopt(raw->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
#endif
    return 0;
}

sf_raw *sf_raw_open(sf_sim *sim, struct uv_loop_s *loop, const sf_raw_config *cfg, char *err,
                    size_t errlen)
{
    if (!cfg->interface || !cfg->interface[0] || strlen(cfg->interface) >= IFNAMSIZ) {
        snprintf(err, errlen, "an interface's name is needed (at most %d bytes)", IFNAMSIZ - 1);
        return NULL;
    }
    sf_raw *raw = calloc(1, sizeof *raw);
    if (!raw) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    raw->sim = sim;
    raw->peer_addr = cfg->peer_addr;
    snprintf(raw->name, sizeof raw->name, "%s", cfg->interface);
    /* protocol 0: nothing arrives before bind names the interface and
     * ETH_P_ALL, so no other interface's frame is ever queued */
    raw->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (raw->fd < 0) {
        fail(err, errlen, "opening a packet socket for", raw->name);
        free(raw);
        return NULL;
    }
    if (attach(raw, cfg, err, errlen) < 0) {
        close(raw->fd);
        free(raw);
        return NULL;
    }
    sf_rt_driver drv = {.fd = raw->fd,
                        .peer_addr = cfg->peer_addr,
                        .read = raw_read,
                        .send = port_send,
                        .next_time = raw_next_time,
                        .run_timers = raw_run_timers,
                        .ud = raw};
    raw->rt = sf_rt_open(sim, loop, &drv, err, errlen);
    if (!raw->rt) {
        close(raw->fd);
        free(raw);
        return NULL;
    }
    return raw;
}

void sf_raw_close(sf_raw *raw)
{
    if (!raw) return;
    sf_rt_close(raw->rt);
    for (int i = 0; i < raw->queued; i++)
        free(raw->queue[i].pkt);
    close(raw->fd); /* the promiscuous membership goes with it */
    free(raw);
}

const char *sf_raw_interface(const sf_raw *raw)
{
    return raw->name;
}
const uint8_t *sf_raw_mac(const sf_raw *raw)
{
    return raw->mac;
}
int sf_raw_peer_host(const sf_raw *raw)
{
    return sf_rt_peer_host(raw->rt);
}
sf_rt *sf_raw_rt(sf_raw *raw)
{
    return raw->rt;
}
void sf_raw_get_stats(const sf_raw *raw, sf_raw_stats *out)
{
    *out = raw->stats;
}
