/* tun.c - the TUN driver (see tun.h): the device, its address and its
 * packets; the real-time machinery (the fd's watcher, the timers, the
 * clock, the step) is the real-time net's (rt.c). */
#define _GNU_SOURCE
#include "tun.h"

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
    sf_rt *rt;
    int fd;
    char name[IFNAMSIZ];
    sf_tun_stats stats;
};

uint64_t sf_tun_now(const sf_tun *tun)
{
    return sf_rt_now(tun->rt);
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

static int tun_read(void *ud)
{
    sf_tun *tun = ud;
    uint8_t buf[65536];
    int taken = 0;
    for (int i = 0; i < READS_PER_WAKE; i++) {
        ssize_t n = read(tun->fd, buf, sizeof buf);
        if (n <= 0) break; /* EAGAIN: drained */
        tun->stats.rx_packets++;
        if (sf_sim_receive(tun->sim, buf, (size_t)n) == 0) taken++;
    }
    return taken;
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

    sf_rt_driver drv = {.fd = tun->fd,
                        .peer_addr = cfg->kernel_addr,
                        .read = tun_read,
                        .send = port_send,
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
    sf_rt_close(tun->rt);
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
}
sf_rt *sf_tun_rt(sf_tun *tun)
{
    return tun->rt;
}

int sf_tun_step(sf_tun *tun, uint64_t limit)
{
    return sf_rt_step(tun->rt, limit);
}
