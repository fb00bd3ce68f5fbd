/* bench_core.c - throughput of the core and of the sim, and memory per
 * connection. Prints a table; never run as a timed test.
 *
 *   build/synfin_bench           (full run, a few seconds)
 *   build/synfin_bench --quick   (tiny counts: checks that it runs)
 *   build/synfin_bench --only bulk|lifecycles|sim|memory|scale
 *   build/synfin_bench --only fresh  (a page's first touch, 4 GiB: not in the full run)
 *                                (one row, e.g. under perf record)
 *   mkfifo /tmp/ctl; SYNFIN_BENCH_PERF_CTL=/tmp/ctl perf record -D -1 \
 *     --control fifo:/tmp/ctl -g build/synfin_bench --only scale
 *                                (the scale row's last batch alone)
 *
 * Two stacks are wired back to back in this file (a packet emitted by one is
 * queued for the other, with no latency), so the core's own cost is what is
 * measured: parsing, demultiplexing, the state machine, building segments. */
#define _POSIX_C_SOURCE 199309L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "io/sim.h"
#include "synfin.h"
#include "tcb.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
    uint8_t data[SF_MAX_PACKET];
    size_t len;
    int to;
} packet;

typedef struct {
    sf_stack *st[2];
    packet *q;
    size_t head, tail, cap;
    uint64_t now;
    uint64_t segments;
} wire;

static wire W;

static void emit0(void *ud, sf_conn *c, const uint8_t *pkt, size_t len);
static void emit1(void *ud, sf_conn *c, const uint8_t *pkt, size_t len);
static void on_event(void *ud, const sf_event *ev)
{
    (void)ud, (void)ev;
}

static void enqueue(int to, const uint8_t *pkt, size_t len)
{
    if (W.tail - W.head == W.cap) {
        fprintf(stderr, "queue full\n");
        exit(1);
    }
    packet *p = &W.q[W.tail++ % W.cap];
    memcpy(p->data, pkt, len);
    p->len = len;
    p->to = to;
}
static void emit0(void *ud, sf_conn *c, const uint8_t *pkt, size_t len)
{
    (void)ud, (void)c;
    enqueue(1, pkt, len);
}
static void emit1(void *ud, sf_conn *c, const uint8_t *pkt, size_t len)
{
    (void)ud, (void)c;
    enqueue(0, pkt, len);
}

static void drain(void)
{
    while (W.head != W.tail) {
        packet *p = &W.q[W.head++ % W.cap];
        W.segments++;
        sf_stack_input(W.st[p->to], W.now, p->data, p->len);
    }
    /* empty: the next packets reuse the first slots, warm in the cache, as a
     * driver reuses its buffers (walking the whole 100 MB queue put a cache
     * miss and, on its first lap, a page fault on the harness's copy of
     * every packet: a third of the bulk row's time, none of it the core's) */
    W.head = W.tail = 0;
}

static void advance(uint64_t to)
{
    for (;;) {
        uint64_t d0 = sf_stack_deadline(W.st[0]), d1 = sf_stack_deadline(W.st[1]);
        uint64_t d = d0 < d1 ? d0 : d1;
        if (d > to) break;
        W.now = d;
        sf_stack_poll(W.st[0], W.now);
        sf_stack_poll(W.st[1], W.now);
        drain();
    }
    W.now = to;
}

static void setup(void)
{
    sf_config cfg;
    sf_config_default(&cfg);
    cfg.policy.msl = 1000000; /* TIME_WAIT of 2 s */
    cfg.policy.snd_buf = 256 * 1024;
    cfg.addrs[0] = sf_addr_v4(0x0a000001);
    cfg.naddrs = 1;
    sf_callbacks cb0 = {emit0, on_event}, cb1 = {emit1, on_event};
    W.st[0] = sf_stack_new(&cfg, &cb0, NULL);
    cfg.addrs[0] = sf_addr_v4(0x0a000002);
    cfg.naddrs = 1;
    W.st[1] = sf_stack_new(&cfg, &cb1, NULL);
    W.cap = 1 << 16;
    W.q = malloc(W.cap * sizeof *W.q);
    W.head = W.tail = 0;
    W.now = 0;
    W.segments = 0;
}

static void teardown(void)
{
    sf_stack_free(W.st[0]);
    sf_stack_free(W.st[1]);
    free(W.q);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Page faults so far that the kernel served without I/O: each a page
 * cleared on first touch. */
static double minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_minflt;
}

/* The CPU time of this process: on a shared machine the wall clock also
 * counts the time others had the core. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* connect, 1 KB each way, close both, TIME_WAIT to CLOSED */
static void bench_lifecycles(int n)
{
    setup();
    sf_conn *l = sf_listen(W.st[1], 0, 80, 1024, NULL, NULL);
    static char buf[1024];
    double t0 = seconds();
    for (int i = 0; i < n; i++) {
        sf_conn *c = sf_connect(W.st[0], W.now, NULL, sf_addr_v4(0x0a000002), 80, 0, NULL, NULL);
        drain();
        sf_conn *s = sf_accept(l);
        sf_send(c, W.now, buf, sizeof buf);
        drain();
        sf_recv(s, W.now, buf, sizeof buf);
        sf_send(s, W.now, buf, sizeof buf);
        drain();
        sf_recv(c, W.now, buf, sizeof buf);
        sf_close(c, W.now);
        drain();
        sf_close(s, W.now);
        drain();
        sf_conn_release(c);
        sf_conn_release(s);
        W.now += 1000; /* 1 ms between connections */
        if (i % 1000 == 999) advance(W.now);
    }
    advance(W.now + 10000000);
    double dt = seconds() - t0;
    printf("| lifecycles (connect, 1 KB each way, close, TIME_WAIT) | %12.0f /s | %d in %.3f s, "
           "%llu segments |\n",
           n / dt, n, dt, (unsigned long long)W.segments);
    teardown();
}

/* one connection, bulk data one way */
static void bench_bulk(size_t total)
{
    setup();
    sf_conn *l = sf_listen(W.st[1], 0, 80, 16, NULL, NULL);
    sf_conn *c = sf_connect(W.st[0], 0, NULL, sf_addr_v4(0x0a000002), 80, 0, NULL, NULL);
    drain();
    sf_conn *s = sf_accept(l);
    static char buf[65536];
    size_t sent = 0, got = 0;
    uint64_t segs0 = W.segments;
    double t0 = seconds(), c0 = cpu_seconds();
    while (got < total) {
        if (sent < total) {
            int n = sf_send(c, W.now, buf, sizeof buf);
            if (n > 0) sent += (size_t)n;
        }
        drain();
        for (int n; (n = sf_recv(s, W.now, buf, sizeof buf)) > 0;)
            got += (size_t)n;
        drain();
    }
    double dt = seconds() - t0, cpu = cpu_seconds() - c0;
    uint64_t segs = W.segments - segs0;
    /* the data segments alone (full-sized: the sender always has more) */
    double data_segs = (double)((total + 1459) / 1460);
    printf("| bulk transfer through the core (MSS 1460)       | %12.0f seg/s | %.0f data seg/s, "
           "%.2f Gbit/s, %zu MB in %.3f s (%.0f data seg/s of CPU time) |\n",
           (double)segs / dt, data_segs / dt, (double)total * 8 / dt / 1e9, total >> 20, dt,
           data_segs / cpu);
    teardown();
}

/* the same lifecycles on the sim driver, with its trace */
static void bench_sim(int n)
{
    sf_sim *sim = sf_sim_new(1);
    sf_link link = {.latency = 1000};
    sf_sim_set_link(sim, &link);
    sf_config cfg;
    sf_config_default(&cfg);
    cfg.policy.msl = 1000000;
    int a = sf_sim_add_host(sim, (sf_addr[]){sf_addr_v4(0x0a000001)}, 1, &cfg),
        b = sf_sim_add_host(sim, (sf_addr[]){sf_addr_v4(0x0a000002)}, 1, &cfg);
    sf_conn *l = sf_listen(sf_sim_stack(sim, b), 0, 80, 1024, NULL, NULL);
    double t0 = seconds();
    for (int i = 0; i < n; i++) {
        sf_conn *c = sf_connect(sf_sim_stack(sim, a), sf_sim_now(sim), NULL, sf_addr_v4(0x0a000002),
                                80, 0, NULL, NULL);
        sf_sim_flush(sim, a);
        uint64_t until = sf_sim_now(sim) + 10000;
        while (sf_sim_step(sim, until)) {
        }
        sf_conn *s = sf_accept(l);
        sf_close(c, sf_sim_now(sim));
        sf_sim_flush(sim, a);
        sf_close(s, sf_sim_now(sim));
        sf_sim_flush(sim, b);
        until = sf_sim_now(sim) + 10000;
        while (sf_sim_step(sim, until)) {
        }
        sf_conn_release(c);
        sf_conn_release(s);
    }
    while (sf_sim_step(sim, sf_sim_now(sim) + 10000000)) {
    }
    double dt = seconds() - t0;
    printf("| lifecycles on the sim (handshake, close, trace) | %12.0f /s | %d in %.3f s, %zu "
           "trace records |\n",
           n / dt, n, dt, sf_sim_trace(sim)->n);
    sf_sim_free(sim);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* n connections at once, 100 bytes each way read by both sides: the heap
 * each costs in ESTABLISHED (both ends counted apart), then in TIME_WAIT
 * (the client's end; the server's is gone) */
static void bench_memory(int n)
{
    setup();
    sf_conn *l = sf_listen(W.st[1], 0, 80, 65535, NULL, NULL);
    sf_conn **cs = calloc((size_t)n, sizeof *cs), **ss = calloc((size_t)n, sizeof *ss);
    static char buf[100];
    size_t before = heap_in_use();
    for (int i = 0; i < n; i++) {
        cs[i] = sf_connect(W.st[0], W.now, NULL, sf_addr_v4(0x0a000002), 80, 0, NULL, NULL);
        drain();
        ss[i] = sf_accept(l);
        sf_send(cs[i], W.now, buf, sizeof buf);
        sf_send(ss[i], W.now, buf, sizeof buf);
        drain();
        sf_recv(cs[i], W.now, buf, sizeof buf);
        sf_recv(ss[i], W.now, buf, sizeof buf);
        drain();
    }
    size_t established = heap_in_use() - before;
    for (int i = 0; i < n; i++) {
        sf_close(cs[i], W.now);
        drain();
        sf_close(ss[i], W.now);
        drain();
        sf_conn_release(cs[i]);
        sf_conn_release(ss[i]);
    }
    sf_stack_poll(W.st[0], W.now); /* reap what is CLOSED */
    sf_stack_poll(W.st[1], W.now);
    size_t time_wait = heap_in_use() - before;
    printf("| memory: ESTABLISHED, 100 B each way read        | %12.0f bytes | per connection end, "
           "%d connections (two ends each), heap in use |\n",
           (double)established / (2.0 * n), n);
    printf("| memory: TIME_WAIT                               | %12.0f bytes | per connection, "
           "%zu in TIME_WAIT |\n",
           (double)time_wait / n, sf_stack_conn_count(W.st[0]));
    free(cs);
    free(ss);
    teardown();
}

/* With SYNFIN_BENCH_PERF_CTL naming perf record's control fifo (perf
 * record -D -1 --control fifo:PATH), the last batch of the scale row alone
 * is recorded. */
static void perf_ctl(const char *cmd)
{
    const char *path = getenv("SYNFIN_BENCH_PERF_CTL");
    if (!path) return;
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(cmd, f);
    fclose(f);
}

/* n connections established and left open, 100 bytes sent on each: the
 * time per connection of a batch opened when the stacks already hold n/100,
 * n/10 and nearly n of them (flat is the goal: no walk grows with n). One
 * client stack: 60000 ports toward each of the server's listening ports. */
static void bench_scale(int n)
{
    enum { PORTS = 60000, LISTENERS = 32 };
    setup();
    sf_conn *l[LISTENERS];
    for (int i = 0; i < LISTENERS; i++)
        l[i] = sf_listen(W.st[1], 0, (uint16_t)(80 + i), 65535, NULL, NULL);
    static char buf[100];
    const int batch = n >= 1000000 ? 10000 : n / 10;
    const int marks[3] = {n / 100, n / 10, n - batch};
    double per[3] = {0}, cpu[3] = {0}, faults[3] = {0}, t0 = 0, c0 = 0, f0 = 0;
    for (int i = 0; i < n && i / PORTS < LISTENERS; i++) {
        for (int m = 0; m < 3; m++)
            if (i == marks[m]) {
                if (m == 2) perf_ctl("enable\n");
                t0 = seconds();
                c0 = cpu_seconds();
                f0 = minor_faults();
            }
        uint16_t dport = (uint16_t)(80 + i / PORTS), sport = (uint16_t)(1024 + i % PORTS);
        sf_conn *c =
            sf_connect(W.st[0], W.now, NULL, sf_addr_v4(0x0a000002), dport, sport, NULL, NULL);
        drain();
        sf_conn *s = sf_accept(l[i / PORTS]);
        sf_send(c, W.now, buf, sizeof buf);
        drain();
        sf_recv(s, W.now, buf, sizeof buf);
        sf_conn_release(c);
        sf_conn_release(s);
        for (int m = 0; m < 3; m++)
            if (i == marks[m] + batch - 1) {
                per[m] = (seconds() - t0) / batch * 1e6;
                cpu[m] = (cpu_seconds() - c0) / batch * 1e6;
                faults[m] = (minor_faults() - f0) / batch;
                if (m == 2) perf_ctl("disable\n");
            }
    }
    printf("| ESTABLISHED at scale: us per connection        | %5.2f / %5.2f / %5.2f | with %d, "
           "%d and %d open (handshake and 100 B, both ends); CPU us %.2f / %.2f / %.2f; page "
           "faults %.2f / %.2f / %.2f |\n",
           per[0], per[1], per[2], marks[0], marks[1], marks[2], cpu[0], cpu[1], cpu[2], faults[0],
           faults[1], faults[2]);
    teardown();
}

/* The first touch of anonymous memory, us per 4 KiB page, over a region of
 * `total` MiB mapped fresh and touched once in order: its first `head` MiB
 * and its last `tail` MiB. The kernel hands out the pages freed last first:
 * run right after the scale row, the head reuses what that row just freed,
 * the tail is memory no process used lately. On a virtual machine whose
 * host backs guest memory at its first touch and takes freed memory back
 * (a balloon reporting free pages), the tail costs what the scale row's
 * connections cost at 1M, where they need more memory than was freed
 * lately, and the head what they cost at 10k. */
static void bench_fresh(size_t head, size_t total, size_t tail)
{
    size_t len = total << 20, page = 4096;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    size_t head_end = head << 20, tail_start = len - (tail << 20);
    double t0 = seconds(), t_head = 0, t_tail = 0;
    for (size_t i = 0; i < len; i += page) {
        if (i == head_end) t_head = seconds() - t0;
        if (i == tail_start) t_tail = seconds();
        p[i] = 1;
    }
    t_tail = seconds() - t_tail;
    munmap(p, len);
    printf("| fresh memory: us per 4 KiB page, first touch    | %5.2f / %5.2f | the first %zu "
           "MiB / the last %zu MiB of %zu MiB mapped at once |\n",
           t_head / (double)(head_end / page) * 1e6, t_tail / (double)((tail << 20) / page) * 1e6,
           head, tail, total);
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
    }
#define RUN(name) (!only || strcmp(only, name) == 0)
    printf("| benchmark | rate | detail |\n|---|---|---|\n");
    if (RUN("lifecycles")) bench_lifecycles(quick ? 100 : 100000);
    if (RUN("bulk")) bench_bulk(quick ? (1u << 20) : (1u << 30));
    if (RUN("sim")) bench_sim(quick ? 100 : 50000);
    if (RUN("memory")) bench_memory(quick ? 100 : 10000);
    if (RUN("scale")) bench_scale(quick ? 1000 : 1000000);
    /* (not in the full run: it would warm the memory the scale row takes) */
    if ((only && strcmp(only, "fresh") == 0) || (quick && !only))
        bench_fresh(quick ? 4 : 20, quick ? 40 : 4096, quick ? 8 : 1024);
    printf("| memory: struct sf_conn                          | %12zu bytes | buffers are "
           "allocated on first use and dropped in TIME_WAIT |\n",
           sf_conn_sizeof());
    return 0;
}
