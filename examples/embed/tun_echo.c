/* tun_echo.c - a synfin net on the caller's libuv loop (rt.h): one loop
 * runs both a synfin echo server on a TUN device and an ordinary libuv TCP
 * client, which is the Linux kernel's TCP. The client connects to the
 * synfin host, sends a line, reads the echo and closes; the synfin server
 * echoes what arrives and closes when the client has (a passive close:
 * CLOSE_WAIT, LAST_ACK, CLOSED). The program exits 0 only when the line
 * came back whole and the server went through the states RFC 9293 says.
 *
 * It needs a TUN device: run it in a network namespace of its own, where
 * nothing it sends can leave the machine:
 *
 *     unshare -Urn sh -c 'ip link set lo up; build/synfin_tun_echo'
 *
 * (ctest runs it so, as example/embed/tun_echo, skipped where no namespace
 * can be made). Against an installed synfin:
 *
 *     cc tun_echo.c $(pkg-config --cflags --libs synfin libuv) -o tun_echo
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types that strict C11 hides */
#include <synfin/io/tun.h>
#include <synfin/synfin.h>

#include <uv.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define KERNEL      "10.73.0.1" /* the kernel's address on the device */
#define SYNFIN      "10.73.0.2" /* the synfin host's */
#define PORT        7
#define DEADLINE_MS 10000 /* the whole run; a failure never hangs */

static const char line[] = "hello from the kernel's TCP\n";

typedef struct {
    uv_loop_t *loop;
    sf_sim *sim;
    sf_tun *tun;
    int host;
    sf_conn *listener, *server; /* the server's connection, held */
    bool server_closed;
    /* the kernel's side: a libuv TCP client */
    uv_tcp_t client;
    uv_connect_t connect_req;
    uv_write_t write_req;
    char echo[64];
    size_t echo_len;
    uv_timer_t finish, deadline;
    bool done, timed_out;
    int errors;
} app;

static void fail(app *x, const char *what, const char *why)
{
    fprintf(stderr, "tun_echo: %s: %s\n", what, why);
    x->errors++;
}

static void on_finish(uv_timer_t *t);

/* ---- synfin's side: runs whenever the net has processed something ---------- */

static void on_progress(void *ud)
{
    app *x = ud;
    uint64_t now = sf_sim_now(x->sim);
    if (!x->server) x->server = sf_accept(x->listener);
    if (!x->server) return;
    while (!x->server_closed) {
        char buf[64];
        int r = sf_recv(x->server, now, buf, sizeof buf);
        if (r == SF_EAGAIN) break;
        if (r < 0) {
            fail(x, "recv", sf_strerror(r));
            break;
        }
        if (r == 0) { /* the client's FIN: close our side too */
            int e = sf_close(x->server, now);
            if (e != SF_OK) fail(x, "close", sf_strerror(e));
            x->server_closed = true;
            break;
        }
        int w = sf_send(x->server, now, buf, (size_t)r);
        if (w != r) fail(x, "send", w < 0 ? sf_strerror(w) : "the send buffer is full");
    }
    sf_sim_flush(x->sim, x->host); /* what the calls emitted goes out */
    /* done when the server's connection is gone; the net is closed from a
     * timer, not from inside its own callback */
    if (x->server_closed && sf_conn_state(x->server) == SF_CLOSED && !x->done) {
        x->done = true;
        uv_timer_start(&x->finish, on_finish, 0, 0);
    }
}

/* ---- the kernel's side: an ordinary libuv TCP client ----------------------- */

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    app *x = h->data;
    (void)size;
    buf->base = x->echo + x->echo_len;
    buf->len = sizeof x->echo - x->echo_len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    app *x = s->data;
    (void)buf;
    if (n < 0) {
        if (n != UV_EOF) fail(x, "client read", uv_strerror((int)n));
        return;
    }
    x->echo_len += (size_t)n;
    /* the whole line is back: close, so the kernel sends its FIN */
    if (x->echo_len >= sizeof line - 1 || x->echo_len == sizeof x->echo) {
        uv_read_stop(s);
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void on_written(uv_write_t *req, int status)
{
    app *x = req->data;
    if (status < 0) fail(x, "client write", uv_strerror(status));
}

static void on_connect(uv_connect_t *req, int status)
{
    app *x = req->data;
    if (status < 0) {
        fail(x, "client connect", uv_strerror(status));
        uv_close((uv_handle_t *)&x->client, NULL);
        return;
    }
    uv_buf_t buf = uv_buf_init((char *)line, sizeof line - 1);
    x->write_req.data = x;
    uv_write(&x->write_req, (uv_stream_t *)&x->client, &buf, 1, on_written);
    uv_read_start((uv_stream_t *)&x->client, alloc_cb, on_read);
}

/* ---- the end ----------------------------------------------------------------- */

static void stop(app *x)
{
    uv_timer_stop(&x->deadline);
    uv_close((uv_handle_t *)&x->finish, NULL);
    uv_close((uv_handle_t *)&x->deadline, NULL);
    if (!uv_is_closing((uv_handle_t *)&x->client)) uv_close((uv_handle_t *)&x->client, NULL);
    sf_tun_close(x->tun); /* its handles close on this loop too */
    x->tun = NULL;
}

static void on_finish(uv_timer_t *t)
{
    stop(t->data);
}

static void on_deadline(uv_timer_t *t)
{
    app *x = t->data;
    x->timed_out = true;
    fail(x, "run", "did not end within 10 s");
    stop(x);
}

/* The server's states, from the trace; true if they are the expected ones. */
static bool server_states(app *x)
{
    static const sf_state want[] = {SF_LISTEN,     SF_SYN_RCVD, SF_ESTABLISHED,
                                    SF_CLOSE_WAIT, SF_LAST_ACK, SF_CLOSED};
    const int nwant = (int)(sizeof want / sizeof want[0]);
    sf_conn_info info;
    sf_conn_status(x->server, &info);
    sf_trace *t = sf_sim_trace(x->sim);
    int n = 0;
    bool ok = true;
    printf("server %s:%d  %s", SYNFIN, PORT, sf_state_name(want[0]));
    for (size_t i = t->first; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->kind != SF_TR_STATE || r->host != x->host || r->conn_id != info.id) continue;
        n++;
        if (n >= nwant || r->new_state != (int)want[n]) ok = false;
        printf(" -> %s", sf_state_name((sf_state)r->new_state));
    }
    printf("%s\n", ok && n == nwant - 1 ? "" : "   (unexpected)");
    return ok && n == nwant - 1;
}

int main(void)
{
    app x = {0};
    x.loop = uv_default_loop();
    x.sim = sf_sim_new(1);
    sf_addr kernel, synfin;
    sf_addr_parse(KERNEL, &kernel);
    sf_addr_parse(SYNFIN, &synfin);
    sf_config host_cfg;
    sf_config_default(&host_cfg);
    x.host = sf_sim_add_host(x.sim, (sf_addr[]){synfin}, 1, &host_cfg);
    if (x.host < 0) {
        fprintf(stderr, "tun_echo: add host: %s\n", sf_strerror(x.host));
        sf_sim_free(x.sim);
        return 1;
    }

    char err[256];
    sf_tun_config cfg = {.name = NULL, .kernel_addr = kernel, .prefix = 24, .mtu = 0};
    x.tun = sf_tun_open(x.sim, x.loop, &cfg, err, sizeof err);
    if (!x.tun) {
        fprintf(stderr,
                "tun_echo: cannot open a TUN device: %s\n"
                "  (run it in a namespace of its own: unshare -Urn)\n",
                err);
        sf_sim_free(x.sim);
        return 1;
    }
    sf_rt_on_progress(sf_tun_rt(x.tun), on_progress, &x);

    int e = 0;
    x.listener = sf_listen(sf_sim_stack(x.sim, x.host), sf_sim_now(x.sim), PORT, 0, NULL, &e);
    if (!x.listener) fail(&x, "listen", sf_strerror(e));

    uv_timer_init(x.loop, &x.finish);
    uv_timer_init(x.loop, &x.deadline);
    x.finish.data = x.deadline.data = &x;
    uv_timer_start(&x.deadline, on_deadline, DEADLINE_MS, 0);

    uv_tcp_init(x.loop, &x.client);
    x.client.data = x.connect_req.data = &x;
    struct sockaddr_in dst;
    uv_ip4_addr(SYNFIN, PORT, &dst);
    uv_tcp_connect(&x.connect_req, &x.client, (const struct sockaddr *)&dst, on_connect);

    uv_run(x.loop, UV_RUN_DEFAULT); /* until every handle, the net's too, is closed */

    bool ok = x.errors == 0 && x.server != NULL && !x.timed_out;
    if (x.server) ok = server_states(&x) && ok;
    printf("the kernel's client got back %zu bytes: %s", x.echo_len,
           x.echo_len == sizeof line - 1 && memcmp(x.echo, line, x.echo_len) == 0
               ? "the line, whole\n"
               : "not the line\n");
    ok = ok && x.echo_len == sizeof line - 1 && memcmp(x.echo, line, x.echo_len) == 0;
    if (x.server) sf_conn_release(x.server);
    sf_sim_free(x.sim);
    uv_loop_close(x.loop);
    return ok ? 0 : 1;
}
