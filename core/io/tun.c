/* tun.c - the TUN driver (see tun.h): the device, its address and its
 * packets; the real-time machinery (the fd's watcher, the timers, the
 * clock, the step) is the real-time net's (rt.c). */
#define _GNU_SOURCE
#include "tun.h"

#include "../bytes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
    READS_PER_WAKE = 256, /* then let timers run: bounded work per wake */
    /* and at most this many wire segments: a super-segment is up to 44 */
    SEGMENTS_PER_WAKE = 1024,
    VNET_HDR = sizeof(struct virtio_net_hdr),
    MAX_IP = 65535, /* a GSO super-segment is one IPv4 packet: its total length */
    MAX_HDR = 120,  /* IP and TCP headers, options and all (IPv6: 40 + 60) */
    TCP_FIN = 0x01,
    TCP_PSH = 0x08,
    TCP_CWR = 0x80,
    IPPROTO_TCP_NUM = 6,
    TUN_OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, /* TSO needs CSUM */
};

struct sf_tun {
    sf_sim *sim;
    sf_rt *rt;
    int fd;
    int vnet; /* offloads on: a virtio_net_hdr before every packet read and written */
    char name[IFNAMSIZ];
    sf_tun_stats stats;
    uint8_t rbuf[VNET_HDR + MAX_IP]; /* one read */
    /* segments sent back to back, held to go in one write as a GSO
     * super-segment (the kernel splits it: one write and one trip up its
     * stack instead of one per segment) */
    struct {
        uint8_t pkt[MAX_IP];
        size_t len, hdr, mss;
        uint32_t next_seq;
        int segs;
        bool full; /* every segment so far had mss bytes: another may follow */
    } gso;
};

uint64_t sf_tun_now(const sf_tun *tun)
{
    return sf_rt_now(tun->rt);
}

/* One write: a TUN device takes whole datagrams; with offloads, behind a
 * virtio_net_hdr (zero: no GSO, the checksum done). */
static void write_packet(sf_tun *tun, const struct virtio_net_hdr *h, const uint8_t *pkt,
                         size_t len)
{
    struct iovec iov[2] = {{(void *)h, VNET_HDR}, {(void *)pkt, len}};
    size_t want = tun->vnet ? VNET_HDR + len : len;
    if (writev(tun->fd, tun->vnet ? iov : iov + 1, tun->vnet ? 2 : 1) == (ssize_t)want)
        tun->stats.tx_packets++;
    else
        tun->stats.tx_dropped++;
}

/* The IP header's length in a packet synfin built: IPv4's IHL, or IPv6's
 * 40 bytes (synfin sends no extension header). */
static size_t ip_hdr_len(const uint8_t *pkt)
{
    return pkt[0] >> 4 == 6 ? 40 : (size_t)(pkt[0] & 15) * 4;
}

/* The held segments: one as it was, several as a super-segment the kernel
 * segments as its own GSO would (tcp_gso_segment): headers copied, the
 * sequence number advanced by gso_size, the IP id counting up, PSH on the
 * last only; its TCP checksum is left partial (NEEDS_CSUM: the pseudo
 * header's sum), as for any GSO packet. */
static void gso_flush(void *ud)
{
    sf_tun *tun = ud;
    static const struct virtio_net_hdr none;
    uint8_t *p = tun->gso.pkt;
    if (tun->gso.segs == 1) write_packet(tun, &none, p, tun->gso.len);
    if (tun->gso.segs > 1) {
        int v6 = p[0] >> 4 == 6;
        size_t ihl = ip_hdr_len(p);
        if (v6) { /* IPv6's payload length; no header checksum */
            sf_put16(p + 4, (uint16_t)(tun->gso.len - ihl));
        } else {
            sf_put16(p + 2, (uint16_t)tun->gso.len);
            sf_wire_fill_ip_checksum(p);
        }
        sf_wire_fill_partial_tcp_checksum(p, tun->gso.len);
        struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                   .gso_type =
                                       v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
                                   .hdr_len = (uint16_t)tun->gso.hdr,
                                   .gso_size = (uint16_t)tun->gso.mss,
                                   .csum_start = (uint16_t)ihl,
                                   .csum_offset = 16};
        write_packet(tun, &h, p, tun->gso.len);
        tun->stats.tx_super++;
    }
    tun->gso.segs = 0;
}

/* Whether pkt (TCP, header hdr bytes, payload n) continues the held
 * segments: the next sequence number, no more than their size, headers the
 * same but for what GSO rewrites (lengths, id, checksums, seq, PSH). */
static bool gso_continues(const sf_tun *tun, const uint8_t *pkt, size_t hdr, size_t n)
{
    const uint8_t *q = tun->gso.pkt;
    size_t ihl = ip_hdr_len(pkt);
    if (!tun->gso.segs || !tun->gso.full || hdr != tun->gso.hdr || n > tun->gso.mss ||
        tun->gso.len + n > MAX_IP || sf_get32(pkt + ihl + 4) != tun->gso.next_seq)
        return false;
    /* the IP header but for its length, and IPv4's id and checksum (the
     * version is compared either way: no family follows the other) */
    if (pkt[0] >> 4 == 6
            ? memcmp(pkt, q, 4) || memcmp(pkt + 6, q + 6, ihl - 6)
            : memcmp(pkt, q, 2) || memcmp(pkt + 6, q + 6, 4) || memcmp(pkt + 12, q + 12, ihl - 12))
        return false;
    const uint8_t *a = pkt + ihl, *b = q + ihl;
    return !memcmp(a, b, 4) && !memcmp(a + 8, b + 8, 5) &&
           (a[13] & ~TCP_PSH) == (b[13] & ~TCP_PSH) && !memcmp(a + 14, b + 14, 2) &&
           !memcmp(a + 18, b + 18, hdr - ihl - 18);
}

static void port_send(void *ud, const uint8_t *pkt, size_t len)
{
    sf_tun *tun = ud;
    static const struct virtio_net_hdr none;
    int v6 = len >= 40 && pkt[0] >> 4 == 6;
    size_t ihl = v6 || len >= 20 ? ip_hdr_len(pkt) : 0;
    size_t hdr = ihl && len >= ihl + 20 ? ihl + (size_t)(pkt[ihl + 12] >> 4) * 4 : 0;
    /* only plain data segments are held: ACK, maybe PSH, and nothing else
     * (a SYN, FIN, RST, URG or CWR goes as it is, as GSO would keep it) */
    bool data = tun->vnet && hdr && hdr < len &&
                (v6 ? pkt[6] == IPPROTO_TCP_NUM && 40 + (size_t)sf_get16(pkt + 4) == len
                    : pkt[0] >> 4 == 4 && pkt[9] == IPPROTO_TCP_NUM && sf_get16(pkt + 2) == len) &&
                (pkt[ihl + 13] & ~TCP_PSH) == 0x10;
    if (!data) {
        gso_flush(tun);
        write_packet(tun, &none, pkt, len);
        return;
    }
    size_t n = len - hdr;
    if (gso_continues(tun, pkt, hdr, n)) {
        memcpy(tun->gso.pkt + tun->gso.len, pkt + hdr, n);
        tun->gso.pkt[ihl + 13] = pkt[ihl + 13]; /* PSH as the last one has it */
        tun->gso.len += n;
        tun->gso.next_seq += (uint32_t)n;
        tun->gso.full = n == tun->gso.mss;
        tun->gso.segs++;
        return;
    }
    gso_flush(tun);
    memcpy(tun->gso.pkt, pkt, len);
    tun->gso.len = len;
    tun->gso.hdr = hdr;
    tun->gso.mss = n;
    tun->gso.next_seq = sf_get32(pkt + ihl + 4) + (uint32_t)n;
    tun->gso.full = true;
    tun->gso.segs = 1;
}

/* Hands the net one packet read from the device; `trusted`: the device
 * vouched for its TCP checksum, which nobody then computes (the pcap
 * completes it if recording). Returns 1 if a host took it. */
static int receive(sf_tun *tun, const uint8_t *pkt, size_t n, bool trusted)
{
    return (trusted ? sf_sim_receive_trusted(tun->sim, pkt, n)
                    : sf_sim_receive(tun->sim, pkt, n)) == 0;
}

/* A GSO super-segment (gso_type TCPV4 or TCPV6): the segments the kernel's
 * own segmentation would have put on a wire (tcp_gso_segment): gso_size
 * bytes of payload each (the MSS), the headers copied with the sequence
 * number advanced, over IPv4 the IP id counting up and the header checksum
 * computed, FIN and PSH on the last segment only, CWR on the first only
 * (IPv6's TCP header follows its 40 bytes: the kernel's TCP adds no
 * extension header). The TCP checksum is the kernel's to vouch for
 * (`trusted`: NEEDS_CSUM, the local kernel's GSO, or DATA_VALID);
 * otherwise the super-segment's own is verified once here, and if it fails
 * every wire segment goes to the net unverified, to be dropped as the
 * corrupt data it carries. Each wire segment is built in place, its
 * headers written just before its payload over bytes the net has copied
 * already (the previous segment's): no copy of the payload here. Returns
 * how many the net took. */
static int split_tcp(sf_tun *tun, uint8_t *pkt, size_t n, size_t mss, bool trusted)
{
    int v6 = n >= 1 && pkt[0] >> 4 == 6;
    size_t ihl, tot;
    if (v6) {
        ihl = 40;
        tot = n >= 6 ? 40 + (size_t)sf_get16(pkt + 4) : 0;
    } else {
        ihl = (size_t)(pkt[0] & 15) * 4;
        tot = n >= 4 ? sf_get16(pkt + 2) : 0;
    }
    if (tot < n) n = tot;
    if (mss == 0 || ihl < 20 || n < ihl + 20 || pkt[v6 ? 6 : 9] != IPPROTO_TCP_NUM)
        return receive(tun, pkt, n, false); /* not ours to split: the net judges */
    size_t hdr = ihl + (size_t)(pkt[ihl + 12] >> 4) * 4;
    if (hdr > n) return receive(tun, pkt, n, false);
    sf_seg whole;
    if (!trusted) trusted = sf_wire_parse(pkt, n, &whole, NULL) == 0;
    uint8_t head[MAX_HDR]; /* the super-segment's headers: the first segment's go */
    memcpy(head, pkt, hdr);
    uint32_t seq = sf_get32(head + ihl + 4);
    uint16_t id = sf_get16(head + 4);
    size_t payload = n - hdr;
    int taken = 0;
    tun->stats.rx_super++;
    for (size_t off = 0, k = 0; off < payload || k == 0; off += mss, k++) {
        size_t len = payload - off < mss ? payload - off : mss;
        uint8_t *out = pkt + off, *t = out + ihl; /* its payload starts at pkt + hdr + off */
        memcpy(out, head, hdr);
        if (v6) { /* the payload length: what follows the 40 bytes */
            sf_put16(out + 4, (uint16_t)(hdr - ihl + len));
        } else {
            sf_put16(out + 2, (uint16_t)(hdr + len));
            sf_put16(out + 4, (uint16_t)(id + k));
            sf_wire_fill_ip_checksum(out);
        }
        sf_put32(t + 4, seq + (uint32_t)off);
        if (off + len < payload) t[13] = (uint8_t)(t[13] & ~(TCP_FIN | TCP_PSH));
        if (k > 0) t[13] = (uint8_t)(t[13] & ~TCP_CWR);
        tun->stats.rx_split++;
        taken += receive(tun, out, hdr + len, trusted);
    }
    return taken;
}

/* One packet read with offloads on: its virtio_net_hdr says whether it is a
 * super-segment to split, and whether the kernel vouches for its TCP
 * checksum: NEEDS_CSUM (it left the checksum to the "hardware": the field
 * holds the pseudo-header's sum, and the data never left the machine) or
 * DATA_VALID (it verified it). Either way nobody computes it here; a packet
 * with neither flag (routed in from a wire without offloads, or crafted by
 * a raw socket) is verified as ever, and dropped if corrupt. */
static int vnet_packet(sf_tun *tun, uint8_t *buf, size_t n)
{
    if (n < VNET_HDR) return 0;
    struct virtio_net_hdr h;
    memcpy(&h, buf, sizeof h);
    uint8_t *pkt = buf + VNET_HDR;
    n -= VNET_HDR;
    bool trusted = (h.flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) != 0;
    int gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
    if (gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6)
        return split_tcp(tun, pkt, n, h.gso_size, trusted);
    return receive(tun, pkt, n, trusted); /* (the net trusts what it can complete) */
}

static int tun_read(void *ud)
{
    sf_tun *tun = ud;
    int taken = 0;
    for (int i = 0, segs = 0; i < READS_PER_WAKE && segs < SEGMENTS_PER_WAKE; i++) {
        ssize_t n = read(tun->fd, tun->rbuf, sizeof tun->rbuf);
        if (n <= 0) break; /* EAGAIN: drained */
        tun->stats.rx_packets++;
        uint64_t split = tun->stats.rx_split;
        if (tun->vnet)
            taken += vnet_packet(tun, tun->rbuf, (size_t)n);
        else
            taken += receive(tun, tun->rbuf, (size_t)n, false);
        segs += tun->stats.rx_split > split ? (int)(tun->stats.rx_split - split) : 1;
    }
    return taken;
}

/* Offloads are the device's, not the fd's: they outlive it (a persistent
 * device keeps them for its next reader, which without IFF_VNET_HDR would
 * read 64 KB packets with partial checksums). Set on every open, to none
 * when off; cleared on close. */
static int set_offloads(sf_tun *tun, unsigned flags)
{
    return ioctl(tun->fd, TUNSETOFFLOAD, (unsigned long)flags);
}

/* ---- the device ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, strerror(errno));
    return -1;
}

/* The kernel's struct in6_ifreq (linux/ipv6.h, which clashes with
 * netinet/in.h): SIOCSIFADDR on an AF_INET6 socket. */
struct tun_in6_ifreq {
    struct in6_addr addr;
    uint32_t prefixlen;
    int ifindex;
};

/* Waits until the kernel lets a socket bind to the address (at most 2 s):
 * a new IPv6 address is "tentative" until the kernel's address work queue
 * has run its Duplicate Address Detection step, which a TUN device
 * (IFF_NOARP) completes at once, but later than the ioctl returns. Until
 * then a program binding to it gets EADDRNOTAVAIL, and the kernel does not
 * use it as a source: the interop specs saw both right after a device was
 * made. 0, or -1 with the reason. */
static int wait_usable6(const sf_tun_config *cfg, char *err, size_t errlen)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    memcpy(&sa.sin6_addr, cfg->kernel_addr.b, 16);
    for (int i = 0; i < 400; i++) {
        int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) return fail(err, errlen, "socket(AF_INET6)");
        int rc = bind(s, (struct sockaddr *)&sa, sizeof sa);
        int e = errno;
        close(s);
        if (rc == 0) return 0;
        if (e != EADDRNOTAVAIL) {
            errno = e;
            return fail(err, errlen, "binding to the device's IPv6 address");
        }
        usleep(5000);
    }
    errno = EADDRNOTAVAIL;
    return fail(err, errlen, "the device's IPv6 address still tentative after 2 s");
}

/* Gives the device an IPv6 address. A TUN device has IFF_NOARP, so the
 * kernel skips Duplicate Address Detection's probes (addrconf_dad_begin);
 * the address is usable once its work queue has said so (wait_usable6). */
static int configure6(const char *name, const sf_tun_config *cfg, char *err, size_t errlen)
{
    int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return fail(err, errlen, "socket(AF_INET6)");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    struct tun_in6_ifreq r = {.prefixlen = (uint32_t)cfg->prefix};
    memcpy(&r.addr, cfg->kernel_addr.b, 16);
    int rc = ioctl(s, SIOCGIFINDEX, &ifr);
    if (rc < 0)
        fail(err, errlen, "reading the device's index");
    else if (r.ifindex = ifr.ifr_ifindex, (rc = ioctl(s, SIOCSIFADDR, &r)) < 0)
        fail(err, errlen, "setting the device's IPv6 address");
    close(s);
    return rc < 0 ? -1 : wait_usable6(cfg, err, errlen);
}

static void set_addr(struct ifreq *ifr, uint32_t addr)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr->ifr_addr;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(addr);
}

/* Address, netmask, MTU, up; then wait (bounded) until the kernel says the
 * device runs. An IPv6 address is given once it is up (configure6). */
static int configure(const char *name, const sf_tun_config *cfg, char *err, size_t errlen)
{
    int v4 = sf_addr_is_v4(cfg->kernel_addr);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return fail(err, errlen, "socket");
    struct ifreq ifr;
    int rc = -1;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    set_addr(&ifr, sf_addr_v4_of(cfg->kernel_addr));
    if (v4 && ioctl(s, SIOCSIFADDR, &ifr) < 0) {
        fail(err, errlen, "setting the device's address");
        goto out;
    }
    set_addr(&ifr, v4 && cfg->prefix ? ~0u << (32 - cfg->prefix) : 0); /* (IPv6's: configure6) */
    if (v4 && ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
        fail(err, errlen, "setting the device's netmask");
        goto out;
    }
    ifr.ifr_mtu = cfg->mtu ? cfg->mtu : 1500;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
        fail(err, errlen, "setting the device's MTU");
        goto out;
    }
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        fail(err, errlen, "reading the device's flags");
        goto out;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
        fail(err, errlen, "bringing the device up");
        goto out;
    }
    for (int i = 0; i < 1000; i++) { /* at most a second */
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
            fail(err, errlen, "reading the device's flags");
            goto out;
        }
        if ((ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING)) {
            rc = v4 ? 0 : configure6(name, cfg, err, errlen);
            goto out;
        }
        usleep(1000);
    }
    snprintf(err, errlen, "the device %s did not come up within a second", name);
out:
    close(s);
    return rc;
}

sf_tun *sf_tun_open(sf_sim *sim, struct uv_loop_s *loop, const sf_tun_config *cfg, char *err,
                    size_t errlen)
{
    int v4 = sf_addr_is_v4(cfg->kernel_addr);
    if (cfg->prefix < 8 || cfg->prefix > (v4 ? 30 : 126)) {
        snprintf(err, errlen, "prefix must be 8..%d, got %d", v4 ? 30 : 126, cfg->prefix);
        return NULL;
    }
    if (!v4 && cfg->mtu && cfg->mtu < 1280) { /* RFC 8200 §5; the kernel turns IPv6 off below */
        snprintf(err, errlen, "an IPv6 device's MTU is at least 1280, got %d", cfg->mtu);
        return NULL;
    }
    sf_tun *tun = calloc(1, sizeof *tun);
    if (!tun) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    tun->sim = sim;
    tun->vnet = cfg->offload >= 0; /* the default: on (the README's spec/bench/run) */
    tun->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tun->fd < 0) {
        fail(err, errlen, "opening /dev/net/tun");
        free(tun);
        return NULL;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | (tun->vnet ? IFF_VNET_HDR : 0));
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s",
             cfg->name && cfg->name[0] ? cfg->name : "synfin%d");
    int rc = ioctl(tun->fd, TUNSETIFF, &ifr), hdr = VNET_HDR;
    if (rc < 0)
        fail(err, errlen, "creating the TUN device");
    else if (tun->vnet && (rc = ioctl(tun->fd, TUNSETVNETHDRSZ, &hdr)) < 0)
        fail(err, errlen, "setting the virtio_net_hdr size");
    else if ((rc = set_offloads(tun, tun->vnet ? TUN_OFFLOADS : 0)) < 0)
        fail(err, errlen, "setting the device's offloads");
    else
        rc = configure(ifr.ifr_name, cfg, err, errlen);
    if (rc < 0) {
        close(tun->fd);
        free(tun);
        return NULL;
    }
    snprintf(tun->name, sizeof tun->name, "%s", ifr.ifr_name);

    sf_rt_driver drv = {.fd = tun->fd,
                        .peer_addr = cfg->kernel_addr,
                        .read = tun_read,
                        .send = port_send,
                        .flush = gso_flush,
                        .ud = tun};
    tun->rt = sf_rt_open(sim, loop, &drv, err, errlen);
    if (!tun->rt) {
        close(tun->fd); /* the device goes with it */
        free(tun);
        return NULL;
    }
    return tun;
}

void sf_tun_close(sf_tun *tun)
{
    if (!tun) return;
    gso_flush(tun);
    sf_rt_close(tun->rt);
    if (tun->vnet) set_offloads(tun, 0);
    close(tun->fd);
    free(tun);
}

const char *sf_tun_name(const sf_tun *tun)
{
    return tun->name;
}
int sf_tun_kernel_host(const sf_tun *tun)
{
    return sf_rt_peer_host(tun->rt);
}
int sf_tun_fd(const sf_tun *tun)
{
    return tun->fd;
}
void sf_tun_get_stats(const sf_tun *tun, sf_tun_stats *out)
{
    *out = tun->stats;
    out->offload = tun->vnet;
}
sf_rt *sf_tun_rt(sf_tun *tun)
{
    return tun->rt;
}

int sf_tun_step(sf_tun *tun, uint64_t limit)
{
    return sf_rt_step(tun->rt, limit);
}
