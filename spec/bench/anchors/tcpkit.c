/* tcpkit.c - the kernel's side of spec/bench/run: small tools on the Linux
 * kernel's TCP sockets, each bounded in time (its SECS, and alarm() as a
 * hard cap), each printing key=value lines.
 *
 *   tcpkit send IP PORT SECS     write 128 KiB chunks for SECS, shutdown(WR),
 *                                wait (<= 10 s) for the peer's FIN: every
 *                                byte counted was delivered and acknowledged
 *                                (send_gbps)
 *   tcpkit sink PORT MAXSECS     accept one connection, read to EOF, close
 *                                (sink_gbps: accept to EOF)
 *   tcpkit conn IP PORT SECS     sequential lifecycles for SECS: connect,
 *                                shutdown(WR), wait for the server's FIN,
 *                                close; the client holds TIME_WAIT
 *                                (conn_per_s)
 *   tcpkit accept PORT MAXSECS   accept loop for `conn`: read to EOF, close
 *   tcpkit ping IP PORT SECS     1-byte ping-pong (TCP_NODELAY) for SECS:
 *                                write 1 byte, read 1 byte back (rtt_us: the
 *                                median round trip, rtt_mean_us)
 *   tcpkit echo PORT MAXSECS     accept one connection, echo it to EOF
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "anchor.h"

enum { HARD_CAP_S = 120, CHUNK = 128 * 1024, MAX_SAMPLES = 1 << 20 };

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(port));
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (ip && inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        fprintf(stderr, "tcpkit: bad address %s\n", ip);
        exit(64);
    }
    return sa;
}

static int listener(const char *port)
{
    struct sockaddr_in sa = addr_of(NULL, port);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
    if (listen(fd, 1024) < 0) die("listen");
    return fd;
}

/* 1 when fd is readable before the deadline, 0 when the deadline passed */
static int wait_readable(int fd, double deadline)
{
    for (;;) {
        double left = deadline - now();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) die("poll");
    }
}

static int connect_to(const char *ip, const char *port, int timeout_s)
{
    struct sockaddr_in sa = addr_of(ip, port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct timeval tv = {timeout_s, 0}; /* bounds connect() */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int accept_one(const char *port, double deadline, int *lfd)
{
    *lfd = listener(port);
    if (!wait_readable(*lfd, deadline)) {
        fprintf(stderr, "tcpkit: no connection\n");
        exit(2);
    }
    int fd = accept(*lfd, NULL, NULL);
    if (fd < 0) die("accept");
    return fd;
}

static int do_send(const char *ip, const char *port, double secs)
{
    static char buf[CHUNK];
    memset(buf, 'x', sizeof buf);
    int fd = connect_to(ip, port, 5);
    if (fd < 0) die("connect");
    double t0 = now(), end = t0 + secs;
    unsigned long long bytes = 0;
    for (unsigned i = 1;; i++) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        bytes += (unsigned long long)n;
        if ((i & 7) == 0 && now() >= end) break;
    }
    double written = now();
    shutdown(fd, SHUT_WR);
    char tmp[4096];
    int eof = 0;
    while (wait_readable(fd, written + 10.0)) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n == 0) {
            eof = 1;
            break;
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN) break;
    }
    double t1 = now();
    close(fd);
    printf("send_bytes=%llu\nsend_secs=%.3f\nsend_drain_secs=%.3f\nsend_peer_fin=%d\n"
           "send_gbps=%.3f\n",
           bytes, t1 - t0, t1 - written, eof, (double)bytes * 8.0 / (t1 - t0) / 1e9);
    return eof ? 0 : 2;
}

static int do_sink(const char *port, double maxsecs)
{
    static char buf[256 * 1024];
    double deadline = now() + maxsecs;
    int lfd, fd = accept_one(port, deadline, &lfd);
    double t0 = now();
    unsigned long long bytes = 0;
    while (wait_readable(fd, deadline)) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            die("read");
        }
        bytes += (unsigned long long)n;
    }
    double t1 = now();
    close(fd);
    close(lfd);
    printf("sink_bytes=%llu\nsink_secs=%.3f\nsink_gbps=%.3f\n", bytes, t1 - t0,
           (double)bytes * 8.0 / (t1 - t0) / 1e9);
    return 0;
}

static int do_conn(const char *ip, const char *port, double secs)
{
    double t0 = now(), end = t0 + secs, worst = 0;
    unsigned long ok = 0, failed = 0;
    while (now() < end) {
        double c0 = now();
        int fd = connect_to(ip, port, 2);
        if (fd >= 0) {
            shutdown(fd, SHUT_WR); /* the client closes first: it holds TIME_WAIT */
            char c;
            if (wait_readable(fd, c0 + 3.0) && read(fd, &c, 1) == 0)
                ok++;
            else
                failed++;
            close(fd);
        } else {
            failed++;
        }
        if (now() - c0 > worst) worst = now() - c0;
    }
    double t1 = now();
    printf("conn_ok=%lu\nconn_fail=%lu\nconn_worst_ms=%.3f\nconn_per_s=%.0f\n", ok, failed,
           worst * 1e3, (double)ok / (t1 - t0));
    return 0;
}

static int do_accept(const char *port, double maxsecs)
{
    int lfd = listener(port);
    double deadline = now() + maxsecs;
    unsigned long n = 0;
    while (wait_readable(lfd, deadline)) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        char tmp[512];
        double d = now() + 3.0;
        while (wait_readable(fd, d) && read(fd, tmp, sizeof tmp) > 0) {
        }
        close(fd);
        n++;
    }
    close(lfd);
    printf("accepted=%lu\n", n);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int do_ping(const char *ip, const char *port, double secs)
{
    int fd = connect_to(ip, port, 5);
    if (fd < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    double *rtt = malloc(MAX_SAMPLES * sizeof *rtt);
    if (!rtt) die("malloc");
    size_t n = 0;
    double t0 = now(), end = t0 + secs;
    char c = 'p';
    while (n < MAX_SAMPLES && now() < end) {
        double s = now();
        if (write(fd, &c, 1) != 1) die("write");
        if (!wait_readable(fd, s + 2.0) || read(fd, &c, 1) != 1) {
            fprintf(stderr, "tcpkit: no echo within 2 s\n");
            break;
        }
        rtt[n++] = now() - s;
    }
    double el = now() - t0;
    shutdown(fd, SHUT_WR);
    wait_readable(fd, now() + 2.0);
    close(fd);
    if (n == 0) return 2;
    qsort(rtt, n, sizeof *rtt, cmp_double);
    printf("ping_count=%zu\nrtt_us=%.1f\nrtt_mean_us=%.1f\nrtt_p99_us=%.1f\n", n, rtt[n / 2] * 1e6,
           el / (double)n * 1e6, rtt[n * 99 / 100] * 1e6);
    free(rtt);
    return 0;
}

static int do_echo(const char *port, double maxsecs)
{
    double deadline = now() + maxsecs;
    int lfd, fd = accept_one(port, deadline, &lfd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[4096];
    unsigned long long echoed = 0;
    while (wait_readable(fd, deadline)) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        if (write(fd, buf, (size_t)n) != n) die("write");
        echoed += (unsigned long long)n;
    }
    close(fd);
    close(lfd);
    printf("echoed=%llu\n", echoed);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(HARD_CAP_S);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *m = argc > 1 ? argv[1] : "";
    if (argc == 5 && !strcmp(m, "send")) return do_send(argv[2], argv[3], atof(argv[4]));
    if (argc == 4 && !strcmp(m, "sink")) return do_sink(argv[2], atof(argv[3]));
    if (argc == 5 && !strcmp(m, "conn")) return do_conn(argv[2], argv[3], atof(argv[4]));
    if (argc == 4 && !strcmp(m, "accept")) return do_accept(argv[2], atof(argv[3]));
    if (argc == 5 && !strcmp(m, "ping")) return do_ping(argv[2], argv[3], atof(argv[4]));
    if (argc == 4 && !strcmp(m, "echo")) return do_echo(argv[2], atof(argv[3]));
    fprintf(stderr, "usage: tcpkit send IP PORT SECS | sink PORT MAXSECS | conn IP PORT SECS |"
                    " accept PORT MAXSECS | ping IP PORT SECS | echo PORT MAXSECS\n");
    return 64;
}
