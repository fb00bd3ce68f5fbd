/* tun_sink.c - the TUN ceiling of spec/bench/run: the least a user-space
 * TCP receiver behind a TUN device can do. It answers the SYN (MSS =
 * MTU - 40, window scale 7, a window of 8 MiB), acknowledges every in-order
 * data segment at once (ACK_EVERY 1; n: every n-th, and at the end of each
 * burst of reads), answers the FIN and exits. No buffering, reassembly,
 * retransmission or timers: whatever a real stack does costs more.
 *
 *   tun_sink IFNAME ADDR PORT MAXSECS ACK_EVERY [vnet]
 *
 * Attaches to the existing TUN device IFNAME and plays ADDR (dotted quad).
 * vnet: the fd is opened with IFF_VNET_HDR and TUNSETOFFLOAD(CSUM, TSO4,
 * TSO6), so the kernel hands over GSO super-segments (up to ~64 KB) behind a
 * struct virtio_net_hdr; each counts as one segment and gets one ACK, and
 * writes carry an all-zero header. Offloads belong to the device and outlive
 * the fd, so every attach sets them, to 0 without vnet. Prints key=value. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "anchor.h"

enum { BURST = 256, IP_AT = 16 };

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
    for (; len > 1; p += 2, len -= 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (len) sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}
static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
    return get16(p) << 16 | get16(p + 2);
}

static struct {
    int fd, vhdr, mss, ack_every, pending, done, established;
    uint32_t me, peer, rcv_nxt, snd_nxt;
    uint16_t port, peer_port;
    unsigned long long bytes, data_pkts, gso_pkts, acks;
    double t_first, t_fin;
} S;

static void send_tcp(uint8_t flags, const uint8_t *opts, int optlen)
{
    uint8_t buf[IP_AT + 80] = {0}; /* [IP_AT - vhdr, IP_AT): the zero virtio_net_hdr */
    uint8_t *ip = buf + IP_AT, *t = ip + 20;
    int tcplen = 20 + optlen;
    ip[0] = 0x45;
    put16(ip + 2, (uint32_t)(20 + tcplen));
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, S.me);
    put32(ip + 16, S.peer);
    put16(ip + 10, fold(sum16(0, ip, 20)));
    put16(t, S.port);
    put16(t + 2, S.peer_port);
    put32(t + 4, S.snd_nxt);
    put32(t + 8, S.rcv_nxt);
    t[12] = (uint8_t)((tcplen / 4) << 4);
    t[13] = flags;
    put16(t + 14, 0xffff); /* << 7: 8 MiB */
    if (optlen) memcpy(t + 20, opts, (size_t)optlen);
    uint8_t pseudo[12];
    put32(pseudo, S.me);
    put32(pseudo + 4, S.peer);
    pseudo[8] = 0;
    pseudo[9] = 6;
    put16(pseudo + 10, (uint32_t)tcplen);
    put16(t + 16, fold(sum16(sum16(0, pseudo, 12), t, (size_t)tcplen)));
    if (write(S.fd, ip - S.vhdr, (size_t)(S.vhdr + 20 + tcplen)) < 0 && errno != EAGAIN)
        die("write");
    S.acks++;
    S.pending = 0;
}

/* one IP packet (a super-segment with vnet); 1 when the connection ended */
static int packet(const uint8_t *p, size_t n)
{
    if (n < 40 || p[0] >> 4 != 4 || p[9] != 6) return 0;
    size_t ihl = (size_t)(p[0] & 15) * 4, tot = get16(p + 2);
    if (tot > n || tot < ihl + 20) return 0;
    const uint8_t *t = p + ihl;
    if (get16(t + 2) != S.port) return 0;
    uint32_t seq = get32(t + 4);
    uint8_t flags = t[13];
    size_t len = tot - ihl - (size_t)(t[12] >> 4) * 4;
    if (flags & 0x04) { /* RST */
        S.established = 0;
        return 0;
    }
    if ((flags & 0x12) == 0x02) { /* SYN: answer it, whatever came before */
        S.peer = get32(p + 12);
        S.peer_port = (uint16_t)get16(t);
        S.rcv_nxt = seq + 1;
        S.snd_nxt = 0x53460000;
        S.established = 1;
        uint8_t opts[8] = {2, 4, (uint8_t)(S.mss >> 8), (uint8_t)S.mss, 1, 3, 3, 7};
        send_tcp(0x12, opts, 8);
        S.snd_nxt++;
        return 0;
    }
    if (!S.established || get16(t) != S.peer_port) return 0;
    if (len > 0) {
        if (seq != S.rcv_nxt) { /* out of order or again: a duplicate ACK at once */
            send_tcp(0x10, NULL, 0);
            return 0;
        }
        if (S.bytes == 0) S.t_first = now();
        S.rcv_nxt += (uint32_t)len;
        S.bytes += len;
        S.data_pkts++;
        if (++S.pending >= S.ack_every) send_tcp(0x10, NULL, 0);
    }
    if ((flags & 0x01) && seq + (uint32_t)len == S.rcv_nxt) {
        S.rcv_nxt++;
        S.t_fin = now();
        send_tcp(0x11, NULL, 0);
        S.done = 1;
        return 1;
    }
    return 0;
}

static int tun_attach(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | (S.vhdr ? IFF_VNET_HDR : 0));
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
    unsigned off = 0;
    if (S.vhdr) {
        if (ioctl(fd, TUNSETVNETHDRSZ, &S.vhdr) < 0) die("TUNSETVNETHDRSZ");
        off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    }
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)off) < 0) die("TUNSETOFFLOAD");
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    S.mss = ioctl(s, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu - 40 : 1460;
    close(s);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 7 || (argc == 7 && strcmp(argv[6], "vnet"))) {
        fprintf(stderr, "usage: tun_sink IFNAME ADDR PORT MAXSECS ACK_EVERY [vnet]\n");
        return 64;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct in_addr a;
    if (inet_pton(AF_INET, argv[2], &a) != 1) return 64;
    S.me = ntohl(a.s_addr);
    S.port = (uint16_t)atoi(argv[3]);
    double end = now() + atof(argv[4]);
    S.ack_every = atoi(argv[5]) > 0 ? atoi(argv[5]) : 1;
    S.vhdr = argc == 7 ? (int)sizeof(struct virtio_net_hdr) : 0;
    S.fd = tun_attach(argv[1]);
    printf("ready\n");
    static uint8_t buf[IP_AT + 65536 + 64];
    while (!S.done && now() < end) {
        struct pollfd pfd = {.fd = S.fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0) continue;
        for (int i = 0; i < BURST && !S.done; i++) {
            ssize_t n = read(S.fd, buf + IP_AT - S.vhdr, sizeof buf - IP_AT + (size_t)S.vhdr);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                die("read");
            }
            if (n < S.vhdr) continue;
            if (S.vhdr) {
                struct virtio_net_hdr h;
                memcpy(&h, buf + IP_AT - S.vhdr, sizeof h);
                if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) S.gso_pkts++;
            }
            packet(buf + IP_AT, (size_t)(n - S.vhdr));
        }
        if (S.pending) send_tcp(0x10, NULL, 0); /* the end of a burst: ACK what came */
    }
    double el = S.t_fin > S.t_first ? S.t_fin - S.t_first : 0;
    printf("sink_done=%d\nsink_bytes=%llu\nsink_data_pkts=%llu\nsink_gso_pkts=%llu\n"
           "sink_acks=%llu\nsink_avg_seg=%.0f\nsink_gbps=%.3f\n",
           S.done, S.bytes, S.data_pkts, S.gso_pkts, S.acks,
           S.data_pkts ? (double)S.bytes / (double)S.data_pkts : 0.0,
           el > 0 ? (double)S.bytes * 8 / el / 1e9 : 0.0);
    if (S.vhdr) ioctl(S.fd, TUNSETOFFLOAD, 0UL); /* the device outlives us: leave it plain */
    close(S.fd);
    return S.done ? 0 : 2;
}
