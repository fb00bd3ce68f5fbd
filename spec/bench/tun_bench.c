/* tun_bench.c - synfin's side of spec/bench/run: one synfin host on a TUN
 * device, driven from C (the net's own libuv loop, sf_tun_step), so that
 * what is measured is the core and the TUN driver, not the Lua layer.
 *
 *   synfin_tun_bench sink IFNAME PORT MAXSECS   accept one connection, read
 *                                               and discard to the FIN, close
 *   synfin_tun_bench echo IFNAME PORT MAXSECS   accept one connection, echo it
 *   synfin_tun_bench send IFNAME PORT SECS      connect to the kernel's PORT,
 *                                               send for SECS, close
 *
 * The device IFNAME is created here (the kernel at 10.73.0.1/24, synfin at
 * 10.73.0.2) and goes when the program ends: run it in a namespace of its
 * own (spec/bench/run does). It prints "ready" once the device runs, then
 * key=value lines. The net's trace records every segment, as it always
 * does (payload bytes are not kept): that is part of what synfin costs.
 *
 * SYNFIN_BENCH_BUF: the host's receive and send buffers, bytes (1 MiB).
 * SYNFIN_BENCH_KEEP_RECORDS=N: the trace keeps the last N records only
 * (sf_trace_set_limit; the default, as spec/bench/run runs it: all).
 * SYNFIN_TUN_OFFLOAD=0: the device without offloads (sf_tun_config). */
#define _GNU_SOURCE /* <uv.h>, through tun.h, needs POSIX types */
#include "io/tun.h"
#include "synfin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KERNEL "10.73.0.1"
#define SYNFIN "10.73.0.2"

enum { STEP_US = 50000, CHUNK = 64 * 1024, CLOSE_GRACE_US = 5000000 };

typedef enum { SINK, ECHO, SEND } mode;

static char buf[CHUNK];

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: synfin_tun_bench sink|echo|send IFNAME PORT SECS\n");
        return 64;
    }
    mode m = !strcmp(argv[1], "sink") ? SINK : !strcmp(argv[1], "echo") ? ECHO : SEND;
    uint16_t port = (uint16_t)atoi(argv[3]);
    uint64_t secs_us = (uint64_t)(atof(argv[4]) * 1e6);
    const char *bufenv = getenv("SYNFIN_BENCH_BUF");
    uint32_t bufsz = bufenv ? (uint32_t)strtoul(bufenv, NULL, 10) : 1u << 20;

    sf_sim *sim = sf_sim_new(1);
    sf_sim_trace(sim)->keep_payload = false;
    const char *keep = getenv("SYNFIN_BENCH_KEEP_RECORDS");
    if (keep && *keep) sf_trace_set_limit(sf_sim_trace(sim), strtoull(keep, NULL, 10));
    sf_addr kernel, me;
    sf_addr_parse(KERNEL, &kernel);
    sf_addr_parse(SYNFIN, &me);
    sf_config cfg;
    sf_config_default(&cfg);
    cfg.policy.rcv_buf = bufsz;
    cfg.policy.snd_buf = bufsz;
    int host = sf_sim_add_host(sim, (sf_addr[]){me}, 1, &cfg);
    char err[256];
    const char *offenv = getenv("SYNFIN_TUN_OFFLOAD"); /* "0": offloads off */
    sf_tun_config tcfg = {.name = argv[2],
                          .kernel_addr = kernel,
                          .prefix = 24,
                          .mtu = 0,
                          .offload = offenv && !strcmp(offenv, "0") ? -1 : 0};
    sf_tun *tun = host < 0 ? NULL : sf_tun_open(sim, NULL, &tcfg, err, sizeof err);
    if (!tun) {
        fprintf(stderr, "synfin_tun_bench: %s\n", host < 0 ? "adding the host" : err);
        sf_sim_free(sim);
        return 1;
    }
    sf_stack *st = sf_sim_stack(sim, host);
    /* The device runs, but the kernel activates its queue a little later
     * (linkwatch) and drops what it routes into the device until then: a
     * SYN-ACK lost so would cost a 1 s retransmission. The caller waits
     * for the queue before it connects to us; we connect after a pause. */
    if (m == SEND) usleep(200000);
    printf("ready\n");
    fflush(stdout);

    uint64_t start = sf_tun_now(tun), end = start + secs_us, first = 0, last = 0;
    uint64_t stop_at = m == SEND ? end : UINT64_MAX; /* send: when to close */
    unsigned long long bytes = 0;
    sf_conn *l = NULL, *c = NULL;
    int e = 0, closed = 0;
    if (m == SEND)
        c = sf_connect(st, sf_sim_now(sim), NULL, kernel, port, 0, NULL, &e);
    else
        l = sf_listen(st, sf_sim_now(sim), port, 0, NULL, &e);
    if (!c && !l) {
        fprintf(stderr, "synfin_tun_bench: %s\n", sf_strerror(e));
        return 1;
    }
    sf_sim_flush(sim, host);
    /* bounded: a send run closes at SECS and ends within the grace after it */
    uint64_t hard_end = (m == SEND ? end : start + secs_us) + CLOSE_GRACE_US;
    while (sf_tun_now(tun) < hard_end) {
        sf_tun_step(tun, sf_tun_now(tun) + STEP_US);
        uint64_t now = sf_sim_now(sim);
        if (!c && l) c = sf_accept(l);
        if (!c) continue;
        sf_state s = sf_conn_state(c);
        if (s == SF_CLOSED || s == SF_TIME_WAIT) break;
        if (m == SEND) {
            if (s == SF_ESTABLISHED && !closed) {
                if (now >= stop_at) {
                    sf_close(c, now);
                    closed = 1;
                } else {
                    for (int n; (n = sf_send(c, now, buf, sizeof buf)) > 0;) {
                        if (!first) first = now;
                        bytes += (unsigned long long)n;
                        if (n < (int)sizeof buf) break;
                    }
                }
            }
            /* the kernel's FIN after ours: read it so the close completes */
            while (sf_recv(c, now, buf, sizeof buf) > 0) {
            }
        } else {
            for (int n; !closed;) {
                n = sf_recv(c, now, buf, sizeof buf);
                if (n == SF_EAGAIN) break;
                if (n <= 0) { /* the FIN (RFC 9293 §3.10.7.4, eighth) or an error */
                    sf_close(c, now);
                    closed = 1;
                    last = now;
                    break;
                }
                if (!first) first = now;
                bytes += (unsigned long long)n;
                if (m == ECHO) sf_send(c, now, buf, (size_t)n); /* 1-byte pings: always room */
            }
        }
        sf_sim_flush(sim, host);
    }
    if (!last) last = sf_sim_now(sim);
    /* what the last input emitted (the ACK of the peer's FIN) leaves at the
     * net's next instant: step a little longer, or the kernel's end would
     * wait in LAST_ACK */
    for (uint64_t until = sf_tun_now(tun) + 100000; sf_tun_now(tun) < until;)
        sf_tun_step(tun, until);
    sf_tun_stats ts;
    sf_tun_get_stats(tun, &ts);
    sf_conn_info info = {0};
    if (c) sf_conn_status(c, &info);
    double secs = last > first && first ? (double)(last - first) / 1e6 : 0;
    printf("synfin_bytes=%llu\nsynfin_secs=%.3f\nsynfin_gbps=%.3f\nsynfin_state=%s\n"
           "synfin_retransmits=%u\ntun_rx_packets=%llu\ntun_tx_packets=%llu\n"
           "tun_tx_dropped=%llu\ntun_rx_super=%llu\ntun_rx_split=%llu\ntrace_records=%zu\n",
           bytes, secs, secs > 0 ? (double)bytes * 8 / secs / 1e9 : 0.0,
           c ? sf_state_name(sf_conn_state(c)) : "none", info.retransmits,
           (unsigned long long)ts.rx_packets, (unsigned long long)ts.tx_packets,
           (unsigned long long)ts.tx_dropped, (unsigned long long)ts.rx_super,
           (unsigned long long)ts.rx_split, sf_sim_trace(sim)->n);
    int ok = c && (closed || m == SEND) && sf_conn_state(c) != SF_ESTABLISHED;
    if (c) sf_conn_release(c);
    sf_tun_close(tun);
    sf_sim_free(sim);
    return ok ? 0 : 2;
}
