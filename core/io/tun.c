/* tun.c - the TUN driver (see tun.h): the device read through uv_poll on
 * its non-blocking fd, timers on a uv_timer, the net's clock on
 * uv_hrtime. */
#define _GNU_SOURCE
#include "tun.h"

#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum { READS_PER_WAKE = 256 }; /* then let timers run: bounded work per wake */

struct sf_tun {
    sf_sim *sim;
    uv_loop_t own_loop, *loop;
    uv_poll_t poll;
    uv_timer_t timer;
    int fd;
    int kernel_host;
    char name[IFNAMSIZ];
    uint64_t base_us; /* the net's clock when the device opened */
    uint64_t t0_ns;   /* uv_hrtime then */
    int received;     /* packets arrived since the last step */
    sf_tun_stats stats;
};

uint64_t sf_tun_now(const sf_tun *tun)
{
    return tun->base_us + (uv_hrtime() - tun->t0_ns) / 1000;
}

static void port_send(void *ud, const uint8_t *pkt, size_t len)
{
    sf_tun *tun = ud;
    /* one packet per write: a TUN device takes whole datagrams */
    if (write(tun->fd, pkt, len) == (ssize_t)len)
        tun->stats.tx_packets++;
    else
        tun->stats.tx_dropped++;
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
    sf_tun *tun = poll->data;
    (void)events;
    if (status < 0) return;
    uint8_t buf[65536];
    sf_sim_set_now(tun->sim, sf_tun_now(tun));
    for (int i = 0; i < READS_PER_WAKE; i++) {
        ssize_t n = read(tun->fd, buf, sizeof buf);
        if (n <= 0) break; /* EAGAIN: drained */
        tun->stats.rx_packets++;
        if (sf_sim_receive(tun->sim, buf, (size_t)n) == 0) tun->received = 1;
    }
}

static void on_timer(uv_timer_t *timer)
{
    (void)timer; /* it only ends uv_run's wait */
}

/* ---- the device ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, strerror(errno));
    return -1;
}

static void set_addr(struct ifreq *ifr, uint32_t addr)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr->ifr_addr;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(addr);
}

/* Address, netmask, MTU, up; then wait (bounded) until the kernel says the
 * device runs. */
static int configure(const char *name, const sf_tun_config *cfg, char *err, size_t errlen)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return fail(err, errlen, "socket");
    struct ifreq ifr;
    int rc = -1;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    set_addr(&ifr, cfg->kernel_addr);
    if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
        fail(err, errlen, "setting the device's address");
        goto out;
    }
    set_addr(&ifr, cfg->prefix ? ~0u << (32 - cfg->prefix) : 0);
    if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
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
            rc = 0;
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
    if (cfg->prefix < 8 || cfg->prefix > 30) {
        snprintf(err, errlen, "prefix must be 8..30, got %d", cfg->prefix);
        return NULL;
    }
    if (sf_sim_host_of(sim, cfg->kernel_addr) >= 0) {
        snprintf(err, errlen, "the kernel's address is a host of this net already");
        return NULL;
    }
    sf_tun *tun = calloc(1, sizeof *tun);
    if (!tun) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    tun->sim = sim;
    tun->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tun->fd < 0) {
        fail(err, errlen, "opening /dev/net/tun");
        free(tun);
        return NULL;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s",
             cfg->name && cfg->name[0] ? cfg->name : "synfin%d");
    int rc = ioctl(tun->fd, TUNSETIFF, &ifr);
    if (rc < 0)
        fail(err, errlen, "creating the TUN device");
    else
        rc = configure(ifr.ifr_name, cfg, err, errlen);
    if (rc < 0) {
        close(tun->fd);
        free(tun);
        return NULL;
    }
    snprintf(tun->name, sizeof tun->name, "%s", ifr.ifr_name);

    if (loop) {
        tun->loop = loop;
    } else {
        uv_loop_init(&tun->own_loop);
        tun->loop = &tun->own_loop;
    }
    uv_poll_init(tun->loop, &tun->poll, tun->fd);
    tun->poll.data = tun;
    uv_poll_start(&tun->poll, UV_READABLE, on_readable);
    uv_timer_init(tun->loop, &tun->timer);
    tun->timer.data = tun;

    tun->kernel_host = sf_sim_add_host(sim, cfg->kernel_addr, NULL);
    sf_sim_set_port(sim, tun->kernel_host, port_send, tun);
    sf_link link = {0, 0}; /* the real network has its own */
    sf_sim_set_link(sim, &link);
    tun->base_us = sf_sim_now(sim);
    tun->t0_ns = uv_hrtime();
    return tun;
}

void sf_tun_close(sf_tun *tun)
{
    if (!tun) return;
    sf_sim_set_port(tun->sim, tun->kernel_host, NULL, NULL); /* to a bare peer again */
    uv_poll_stop(&tun->poll);
    uv_close((uv_handle_t *)&tun->poll, NULL);
    uv_close((uv_handle_t *)&tun->timer, NULL);
    uv_run(tun->loop, UV_RUN_NOWAIT); /* the close callbacks */
    if (tun->loop == &tun->own_loop) uv_loop_close(&tun->own_loop);
    close(tun->fd);
    free(tun);
}

const char *sf_tun_name(const sf_tun *tun)
{
    return tun->name;
}
int sf_tun_kernel_host(const sf_tun *tun)
{
    return tun->kernel_host;
}
int sf_tun_fd(const sf_tun *tun)
{
    return tun->fd;
}
void sf_tun_get_stats(const sf_tun *tun, sf_tun_stats *out)
{
    *out = tun->stats;
}

/* ---- the clock ----------------------------------------------------------------- */

int sf_tun_step(sf_tun *tun, uint64_t limit)
{
    sf_sim *sim = tun->sim;
    for (;;) {
        uint64_t now = sf_tun_now(tun);
        sf_sim_set_now(sim, now);
        now = sf_sim_now(sim);
        if (tun->received || sf_sim_next_time(sim) <= now) {
            tun->received = 0;
            sf_sim_step(sim, now);
            return 1;
        }
        if (now >= limit) return 0;
        uint64_t next = sf_sim_next_time(sim);
        uint64_t until = next < limit ? next : limit;
        /* libuv's timers count milliseconds: round up, never wake early
         * for nothing more than once */
        uint64_t ms = (until - now + 999) / 1000;
        uv_timer_start(&tun->timer, on_timer, ms, 0);
        uv_run(tun->loop, UV_RUN_ONCE);
        uv_timer_stop(&tun->timer);
    }
}
