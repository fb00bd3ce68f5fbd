/* embed.c - libsynfin from C, without Lua: the sim driver, two hosts, one
 * connection's whole life. The client connects, sends a line, the server
 * echoes it and closes when the client has closed; the sim runs until nothing
 * is pending (the client's TIME_WAIT ends after 2*MSL of virtual time). It
 * prints the run as a ladder (sf_sim_print_trace), the states each side went
 * through and the bytes each received, and exits 0 only when everything went
 * as RFC 9293 says it should.
 *
 * Built in the tree by CMake (the target synfin_embed, the test example/embed);
 * against a synfin installed under PREFIX (README, "Install"):
 *
 *     export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
 *     cc embed.c $(pkg-config --cflags --libs synfin) \
 *         -Wl,-rpath,$(pkg-config --variable=libdir synfin) -o embed && ./embed
 *
 * (the rpath tells the program where libsynfin.so.0 is when the dynamic
 * linker does not search PREFIX/lib; LD_LIBRARY_PATH=PREFIX/lib does too).
 */
#include <synfin/io/sim.h>
#include <synfin/synfin.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MS 1000ULL /* the core's clock is in microseconds */

static const char message[] = "hello from the client\n";

typedef struct {
    sf_sim *sim;
    int a, b;                            /* host indexes: the client's, the server's */
    sf_conn *listener, *client, *server; /* held: valid until released */
    size_t sent, client_got, server_got; /* bytes */
    char server_buf[64], client_buf[64]; /* what each received */
    bool client_closed, server_closed, client_eof;
    int errors; /* unexpected results of user calls */
} app;

static void fail(app *x, const char *what, int err)
{
    fprintf(stderr, "embed: %s: %s\n", what, sf_strerror(err));
    x->errors++;
}

/* Reads what is there; returns 1 at end of stream, 0 otherwise. */
static int drain(app *x, sf_conn *c, int host, char *buf, size_t cap, size_t *got)
{
    for (;;) {
        char tmp[64];
        int r = sf_recv(c, sf_sim_now(x->sim), tmp, sizeof tmp);
        sf_sim_flush(x->sim, host); /* a window update may go out */
        if (r == SF_EAGAIN) return 0;
        if (r == 0) return 1;
        if (r < 0) {
            fail(x, "recv", r);
            return 0;
        }
        size_t room = cap - 1 - *got;
        size_t k = (size_t)r < room ? (size_t)r : room;
        memcpy(buf + *got, tmp, k);
        *got += k;
        buf[*got] = '\0';
    }
}

/* The application's part, run between the sim's instants. Every user call on
 * a sim host's stack is followed by sf_sim_flush, which sends what it emitted. */
static void app_step(app *x)
{
    uint64_t now = sf_sim_now(x->sim);
    if (!x->server) x->server = sf_accept(x->listener);

    /* client: send the line once ESTABLISHED, close, read the echo */
    if (sf_conn_state(x->client) == SF_ESTABLISHED && x->sent < sizeof message - 1) {
        int r = sf_send(x->client, now, message + x->sent, sizeof message - 1 - x->sent);
        sf_sim_flush(x->sim, x->a);
        if (r < 0 && r != SF_EAGAIN) fail(x, "client send", r);
        if (r > 0) x->sent += (size_t)r;
        if (x->sent == sizeof message - 1 && !x->client_closed) {
            int e = sf_close(x->client, now); /* the active close */
            sf_sim_flush(x->sim, x->a);
            if (e != SF_OK) fail(x, "client close", e);
            x->client_closed = true;
        }
    }
    if (x->client_closed && !x->client_eof)
        x->client_eof =
            drain(x, x->client, x->a, x->client_buf, sizeof x->client_buf, &x->client_got);

    /* server: echo what arrives; close at the client's FIN (the passive close) */
    if (x->server && !x->server_closed) {
        size_t before = x->server_got;
        int eof = drain(x, x->server, x->b, x->server_buf, sizeof x->server_buf, &x->server_got);
        if (x->server_got > before) {
            int r = sf_send(x->server, now, x->server_buf + before, x->server_got - before);
            sf_sim_flush(x->sim, x->b);
            if (r != (int)(x->server_got - before)) fail(x, "server send", r < 0 ? r : SF_EAGAIN);
        }
        if (eof) {
            int e = sf_close(x->server, now);
            sf_sim_flush(x->sim, x->b);
            if (e != SF_OK) fail(x, "server close", e);
            x->server_closed = true;
        }
    }
}

/* Prints a connection's states from the trace, where the sim records every
 * state change with its host, connection id, cause and reason ("CLOSED -> SYN_SENT -> ...")
 * and compares them with the expected ones. */
static bool states(app *x, const char *who, int host, const sf_conn *c, const sf_state *want,
                   int nwant)
{
    sf_trace *t = sf_sim_trace(x->sim);
    sf_conn_info info;
    sf_conn_status(c, &info);
    char addr[SF_ADDR_STRLEN], line[512];
    sf_addr_str(info.laddr, addr);
    int n = 0, len = snprintf(line, sizeof line, "%s", sf_state_name(want[0]));
    bool ok = true;
    for (size_t i = t->first; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        /* connection ids are per stack */
        if (r->kind != SF_TR_STATE || r->host != host || r->conn_id != info.id) continue;
        if (n == 0 && r->old_state != (int)want[0]) ok = false;
        n++;
        if (n >= nwant || r->new_state != (int)want[n]) ok = false;
        if (len < (int)sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len, " -> %s",
                            sf_state_name((sf_state)r->new_state));
    }
    ok = ok && n == nwant - 1;
    printf("%-6s %s:%-5u %s%s\n", who, addr, (unsigned)info.lport, line,
           ok ? "" : "   (unexpected)");
    return ok;
}

int main(void)
{
    app x = {0};
    int err = 0;
    x.sim = sf_sim_new(1); /* the seed: same seed, same run */
    if (!x.sim) return 1;
    sf_link link = {.latency = 5 * MS, .loss = 0.0};
    sf_sim_set_link(x.sim, &link);

    sf_addr addr_a, addr_b;
    sf_addr_parse("192.0.2.1", &addr_a);
    sf_addr_parse("192.0.2.2", &addr_b);
    sf_config cfg;
    sf_config_default(&cfg); /* MSL 30 s: TIME_WAIT lasts 60 s of virtual time */
    x.a = sf_sim_add_host(x.sim, (sf_addr[]){addr_a}, 1, &cfg);
    x.b = sf_sim_add_host(x.sim, (sf_addr[]){addr_b}, 1, &cfg);
    if (x.a < 0 || x.b < 0) {
        fprintf(stderr, "embed: add host: %s\n", sf_strerror(x.a < 0 ? x.a : x.b));
        sf_sim_free(x.sim);
        return 1;
    }

    x.listener = sf_listen(sf_sim_stack(x.sim, x.b), 0, 80, 0, NULL, &err);
    sf_sim_flush(x.sim, x.b);
    if (!x.listener) fail(&x, "listen", err);
    x.client = sf_connect(sf_sim_stack(x.sim, x.a), 0, NULL, addr_b, 80, 0, NULL, &err);
    sf_sim_flush(x.sim, x.a);
    if (!x.client) fail(&x, "connect", err);
    if (x.errors) {
        sf_sim_free(x.sim);
        return 1;
    }

    /* run to the end: until no event is pending */
    long steps = 0;
    app_step(&x);
    while (steps < 100000 && sf_sim_step(x.sim, UINT64_MAX)) {
        steps++;
        app_step(&x);
    }

    static const sf_state client_want[] = {SF_CLOSED,     SF_SYN_SENT,   SF_ESTABLISHED,
                                           SF_FIN_WAIT_1, SF_FIN_WAIT_2, SF_TIME_WAIT,
                                           SF_CLOSED};
    static const sf_state server_want[] = {SF_LISTEN,     SF_SYN_RCVD, SF_ESTABLISHED,
                                           SF_CLOSE_WAIT, SF_LAST_ACK, SF_CLOSED};
    bool ok = x.errors == 0 && x.server != NULL;
    sf_sim_print_trace(x.sim, stdout); /* the ladder, as print(net:trace()) draws it in Lua */
    putchar('\n');
    ok = states(&x, "client", x.a, x.client, client_want, 7) && ok;
    if (x.server) ok = states(&x, "server", x.b, x.server, server_want, 6) && ok;
    printf("server received %zu bytes: \"%.*s\\n\"\n", x.server_got,
           x.server_got ? (int)x.server_got - 1 : 0, x.server_buf);
    printf("client received %zu bytes (the echo)\n", x.client_got);
    printf("%u segments, %.3f s of virtual time\n", sf_sim_trace(x.sim)->segs,
           (double)sf_sim_now(x.sim) / 1e6);
    /* what became of them (trace.h): each record's fate, by name */
    sf_trace *t = sf_sim_trace(x.sim);
    size_t lost = 0;
    for (size_t i = t->first; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->kind == SF_TR_SEG && r->fate != SF_FATE_DELIVERED) {
            printf("segment #%u: %s\n", (unsigned)r->seg_no, sf_fate_name((sf_fate)r->fate));
            lost++;
        }
    }
    if (!lost) printf("every segment: %s\n", sf_fate_name(SF_FATE_DELIVERED));

    size_t len = sizeof message - 1;
    ok = ok && x.server_got == len && memcmp(x.server_buf, message, len) == 0 &&
         x.client_got == len && memcmp(x.client_buf, message, len) == 0 && x.client_eof &&
         sf_sim_next_time(x.sim) == UINT64_MAX && sf_sim_hook_failures(x.sim) == 0;

    sf_conn_release(x.client);
    if (x.server) sf_conn_release(x.server);
    sf_sim_free(x.sim); /* frees the stacks, the listener with them */
    if (!ok) fprintf(stderr, "embed: the run was not what RFC 9293 says it should be\n");
    return ok ? 0 : 1;
}
