/* lwip_tap.c - the lwIP anchor of spec/bench/run: lwIP (Debian's liblwip,
 * its raw API) behind a TAP device, on one thread: a netif of read() and
 * write() on the TAP fd and a poll() loop that also runs lwIP's timers.
 * Debian's liblwip is built with NO_SYS=0; tcpip_init() is never called, so
 * there is no tcpip thread and the shape is that of a NO_SYS build.
 *
 *   lwip_tap IFNAME ADDR MAXSECS                 serve, until MAXSECS or SIGTERM
 *   lwip_tap IFNAME ADDR MAXSECS send IP PORT SECS
 *                                                 and send to IP:PORT for SECS
 *
 * ADDR/24 is lwIP's address on the existing TAP device IFNAME. It serves
 *   5001  a discard sink: reads to the FIN, closes (lwip_sink_gbps)
 *   5003  reads to the client's FIN, then closes (the client holds TIME_WAIT)
 *   5004  echo
 * and `send` connects to IP:PORT, writes for SECS as fast as its send
 * buffer takes, then closes. Prints key=value lines. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "anchor.h"

#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

static int tap_fd = -1;
static struct netif nif;
static volatile sig_atomic_t stop;
static unsigned long long frames_in, frames_out;

/* ---- the netif ---------------------------------------------------------------- */

static err_t tap_linkoutput(struct netif *netif, struct pbuf *p)
{
    static unsigned char flat[65536];
    (void)netif;
    const void *data = p->payload;
    if (p->next) { /* chained: flatten, a TAP takes whole frames */
        pbuf_copy_partial(p, flat, p->tot_len, 0);
        data = flat;
    }
    if (write(tap_fd, data, p->tot_len) < 0) return ERR_IF;
    frames_out++;
    return ERR_OK;
}

static err_t tap_netif_init(struct netif *netif)
{
    static const u8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02};
    netif->name[0] = 't';
    netif->name[1] = 'p';
    netif->output = etharp_output;
    netif->linkoutput = tap_linkoutput;
    netif->mtu = 1500;
    netif->hwaddr_len = 6;
    memcpy(netif->hwaddr, mac, 6);
    netif->flags =
        NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

static void tap_input(void)
{
    static unsigned char buf[65536];
    for (int i = 0; i < 256; i++) {
        ssize_t n = read(tap_fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EINTR) die("read");
            return;
        }
        frames_in++;
        /* one contiguous PBUF_RAM pbuf per frame: Debian's PBUF_POOL
         * elements are sized for a smaller MSS than its TCP_MSS, and
         * pbuf_take into a pool chain overruns them */
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
        if (!p) continue;
        pbuf_take(p, buf, (u16_t)n);
        if (nif.input(p, &nif) != ERR_OK) pbuf_free(p);
    }
}

/* ---- 5001: the discard sink ------------------------------------------------- */

typedef struct {
    unsigned long long bytes;
    double t_first;
} sink;

static err_t close_or_abort(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    if (tcp_close(pcb) == ERR_OK) return ERR_OK;
    tcp_abort(pcb);
    return ERR_ABRT;
}

static err_t sink_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    sink *s = arg;
    (void)err;
    if (!p) {
        double el = s->t_first > 0 ? now() - s->t_first : 0;
        printf("lwip_sink_bytes=%llu\nlwip_sink_gbps=%.3f\n", s->bytes,
               el > 0 ? (double)s->bytes * 8 / el / 1e9 : 0.0);
        free(s);
        return close_or_abort(pcb);
    }
    if (s->bytes == 0) s->t_first = now();
    s->bytes += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static void free_arg(void *arg, err_t err)
{
    (void)err;
    free(arg);
}

static err_t sink_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb) return ERR_VAL;
    sink *s = calloc(1, sizeof *s);
    if (!s) return ERR_MEM;
    tcp_arg(pcb, s);
    tcp_recv(pcb, sink_recv);
    tcp_err(pcb, free_arg);
    return ERR_OK;
}

/* ---- 5003: close on the client's FIN; 5004: echo -------------------------- */

static unsigned long long accepted;

static err_t closer_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg, (void)err;
    if (!p) return close_or_abort(pcb);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t echo_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg, (void)err;
    if (!p) return close_or_abort(pcb);
    for (struct pbuf *q = p; q; q = q->next)
        tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY);
    tcp_output(pcb);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t closer_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb) return ERR_VAL;
    accepted++;
    tcp_recv(pcb, closer_recv);
    return ERR_OK;
}

static err_t echo_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb) return ERR_VAL;
    tcp_nagle_disable(pcb);
    tcp_recv(pcb, echo_recv);
    return ERR_OK;
}

static void listen_on(u16_t port, tcp_accept_fn fn)
{
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb || tcp_bind(pcb, IP_ADDR_ANY, port) != ERR_OK) {
        fprintf(stderr, "lwip_tap: cannot bind %u\n", port);
        exit(1);
    }
    pcb = tcp_listen_with_backlog(pcb, 255);
    tcp_accept(pcb, fn);
}

/* ---- send: lwIP as the sender --------------------------------------------- */

static struct {
    struct tcp_pcb *pcb;
    double end, t0;
    int closing;
    unsigned long long bytes;
} tx;
static char tx_data[16 * 1460]; /* never changes: written without a copy */

static void tx_fill(struct tcp_pcb *pcb)
{
    if (tx.closing) return;
    if (now() >= tx.end) {
        tx.closing = 1;
        printf("lwip_send_bytes=%llu\nlwip_send_secs=%.3f\n", tx.bytes, now() - tx.t0);
        if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
        return;
    }
    for (;;) {
        u16_t room = tcp_sndbuf(pcb);
        if (room < 1460 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 4) break;
        u16_t len = room < sizeof tx_data ? room : (u16_t)sizeof tx_data;
        if (tcp_write(pcb, tx_data, len, 0) != ERR_OK) break;
        tx.bytes += len;
    }
    tcp_output(pcb);
}

static err_t tx_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg, (void)len;
    tx_fill(pcb);
    return ERR_OK;
}

static err_t tx_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg, (void)err;
    if (p) {
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
    }
    return ERR_OK;
}

static err_t tx_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK) return err;
    tx.t0 = now();
    tcp_sent(pcb, tx_sent);
    tcp_recv(pcb, tx_recv);
    tx_fill(pcb);
    return ERR_OK;
}

static void tx_err(void *arg, err_t err)
{
    (void)arg;
    fprintf(stderr, "lwip_tap: send: error %d\n", err);
    tx.pcb = NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 4 && !(argc == 8 && !strcmp(argv[4], "send"))) {
        fprintf(stderr, "usage: lwip_tap IFNAME ADDR MAXSECS [send IP PORT SECS]\n");
        return 64;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    double end = now() + atof(argv[3]);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (tap_fd < 0) die("open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[1]);
    if (ioctl(tap_fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");

    lwip_init();
    ip4_addr_t ip, mask, gw;
    if (!ip4addr_aton(argv[2], &ip)) return 64;
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 0, 0, 0, 0);
    netif_add(&nif, &ip, &mask, &gw, NULL, tap_netif_init, ethernet_input);
    netif_set_default(&nif);
    netif_set_up(&nif);
    listen_on(5001, sink_accept);
    listen_on(5003, closer_accept);
    listen_on(5004, echo_accept);
    printf("lwip_version=%s TCP_MSS=%d TCP_WND=%d TCP_SND_BUF=%d\n", LWIP_VERSION_STRING, TCP_MSS,
           (int)TCP_WND, (int)TCP_SND_BUF);
    if (argc == 8) {
        ip_addr_t dst;
        if (!ipaddr_aton(argv[5], &dst)) return 64;
        memset(tx_data, 'x', sizeof tx_data);
        tx.pcb = tcp_new();
        tx.end = now() + atof(argv[7]);
        tcp_err(tx.pcb, tx_err);
        if (tcp_connect(tx.pcb, &dst, (u16_t)atoi(argv[6]), tx_connected) != ERR_OK) {
            fprintf(stderr, "lwip_tap: tcp_connect failed\n");
            return 1;
        }
    }
    printf("ready\n");
    while (!stop && now() < end) {
        u32_t ms = sys_timeouts_sleeptime();
        if (ms > 10) ms = 10; /* the sender checks its clock at least this often */
        struct pollfd pfd = {.fd = tap_fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)ms) > 0) tap_input();
        sys_check_timeouts();
        if (tx.pcb && !tx.closing && tx.t0 > 0 && now() >= tx.end) tx_fill(tx.pcb);
    }
    printf("lwip_frames_in=%llu\nlwip_frames_out=%llu\nlwip_accepted=%llu\n", frames_in, frames_out,
           accepted);
    close(tap_fd);
    return 0;
}
