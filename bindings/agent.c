/* agent.c - synfin-agent: the system under test's socket calls, made on
 * behalf of a script. synfin.kernel (lua/synfin/kernel.lua) starts it in the
 * test's network namespace, writes one call a line to its stdin and reads
 * the replies, one a line, from its stdout (a file the module reads while
 * the net runs). Each call runs in a thread of its own, so a blocking
 * connect or accept never holds up the calls after it, nor the script,
 * which goes on driving the net while it waits; each reply says when the
 * call started and returned, on CLOCK_MONOTONIC (libuv's clock, the net's).
 *
 *   synfin-agent [--allow-host-namespace] [--max-seconds N]
 *   synfin-agent --check-namespace | --version | --help
 *
 * Requests (stdin): "ID NAME ARG...", space-separated. An argument is an
 * integer, a word (an IPv4 or IPv6 address, a name such as SHUT_WR or
 * MSG_PEEK|MSG_DONTWAIT), or data: "x" and its bytes in hex, or "#N" for N
 * bytes of the letters a-z repeated.
 *
 *   socket [TYPE [DOMAIN]] TYPE: SOCK_STREAM (default) | SOCK_NONBLOCK ...; DOMAIN:
 *                          AF_INET (default) or AF_INET6; TCP
 *   bind FD ADDR PORT      listen FD BACKLOG     accept FD     connect FD ADDR PORT
 *   read FD N              write FD DATA         recv FD N FLAGS     send FD DATA FLAGS
 *   shutdown FD HOW        close FD              setsockopt FD NAME VALUE [VALUE2]
 *   getsockopt FD NAME     fcntl FD CMD [FLAGS]  poll FD EVENTS MS   tcp_info FD
 *   getsockname FD         getpeername FD        clock               quit
 *
 * Replies (stdout): a Lua table literal a line: id, call, ret (the system
 * call's return), errno (its name: "ECONNREFUSED") and err (strerror) when
 * it failed, t0 and t1 (CLOCK_MONOTONIC nanoseconds just before and just
 * after the system call), and what the call gives: data (read, recv),
 * value (getsockopt, fcntl F_GETFL), revents (poll), info (tcp_info), sock
 * and peer (the socket's addresses, "10.73.0.1:8080" or "[fd00:73::1]:8080",
 * after the call; for close, before it). A request it cannot parse gets
 * bad = "why" and no system call. The first line, id 0, says hello (its PID) or why it
 * refuses to run.
 *
 * It refuses to run in the machine's own network namespace, where its
 * sockets would reach the machine's network (see own_namespace), unless
 * given --allow-host-namespace. It ends at the end of its stdin, on "quit",
 * when the process that started it ends, and after --max-seconds (default
 * 600) in any case. */
#define _GNU_SOURCE /* pthread, getline, close_range, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/nsfs.h>
#include <linux/tcp.h> /* struct tcp_info with every field, TCP_* options */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SYNFIN_VERSION
#define SYNFIN_VERSION "unknown"
#endif

enum {
    MAX_ARGS = 8,
    MAX_READ = 16 << 20, /* the most one read or recv asks for */
    DEFAULT_MAX_SECONDS = 600,
};

/* The inode of the initial user namespace: fixed since Linux 3.8
 * (PROC_USER_INIT_INO, include/linux/proc_ns.h). */
#define USER_INIT_INO 0xEFFFFFFDu
/* The initial network namespace's, fixed on recent kernels (6.x); older
 * ones number it dynamically, from 0xF0000000 up, so it never collides. */
#define NET_INIT_INO 0xEFFFFFF9u

/* ---- replies ----------------------------------------------------------------- */

/* A growable text buffer; on allocation failure it stops growing and
 * remembers it (the reply then says so). */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} buf;

static void grow(buf *b, size_t more)
{
    if (b->oom || b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void bput(buf *b, const char *s, size_t n)
{
    grow(b, n);
    if (b->oom) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        bput(b, small, (size_t)n);
        return;
    }
    grow(b, (size_t)n);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A Lua string literal: printable ASCII as it is, anything else as \ddd
 * (three digits, so a digit after it cannot join it). */
static void bstr(buf *b, const char *s, size_t n)
{
    bput(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            bput(b, (const char *)&c, 1);
        else
            bprintf(b, "\\%03u", c);
    }
    bput(b, "\"", 1);
}

static void bfield_str(buf *b, const char *key, const char *s)
{
    bprintf(b, "%s=", key);
    bstr(b, s, strlen(s));
    bput(b, ",", 1);
}

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* Writes a finished reply line to stdout, whole, under the lock: replies
 * from threads never interleave. */
static void emit(buf *b)
{
    static const char oom[] = "{id=-1,bad=\"the agent ran out of memory\"}\n";
    const char *p = b->oom ? oom : b->p;
    size_t len = b->oom ? sizeof oom - 1 : b->len;
    pthread_mutex_lock(&out_lock);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(STDOUT_FILENO, p + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* the reader is gone: nothing more to say */
        off += (size_t)n;
    }
    pthread_mutex_unlock(&out_lock);
    free(b->p);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- names ------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int value;
} named;

#define N(x)                                                                                       \
    {                                                                                              \
#x, x                                                                                      \
    }
static const named errnos[] = {
    N(EPERM),       N(ENOENT),       N(EINTR),        N(EIO),           N(EBADF),
    N(EAGAIN),      N(ENOMEM),       N(EACCES),       N(EFAULT),        N(EBUSY),
    N(EEXIST),      N(EINVAL),       N(EMFILE),       N(ENFILE),        N(EPIPE),
    N(ENOTSOCK),    N(EDESTADDRREQ), N(EMSGSIZE),     N(EPROTOTYPE),    N(ENOPROTOOPT),
    N(EOPNOTSUPP),  N(EAFNOSUPPORT), N(EADDRINUSE),   N(EADDRNOTAVAIL), N(ENETDOWN),
    N(ENETUNREACH), N(ECONNABORTED), N(ECONNRESET),   N(ENOBUFS),       N(EISCONN),
    N(ENOTCONN),    N(ETIMEDOUT),    N(ECONNREFUSED), N(EHOSTDOWN),     N(EHOSTUNREACH),
    N(EALREADY),    N(EINPROGRESS),  N(EPROTO),       N(ESHUTDOWN),     N(ENOSYS),
};

static const named msg_flags[] = {
    N(MSG_PEEK), N(MSG_DONTWAIT), N(MSG_WAITALL), N(MSG_NOSIGNAL),
    N(MSG_MORE), N(MSG_OOB),      N(MSG_TRUNC),   N(MSG_EOR),
};
static const named sock_types[] = {N(SOCK_STREAM), N(SOCK_NONBLOCK), N(SOCK_CLOEXEC)};
static const named shut_hows[] = {N(SHUT_RD), N(SHUT_WR), N(SHUT_RDWR)};
static const named fcntl_cmds[] = {N(F_GETFL), N(F_SETFL)};
static const named o_flags[] = {N(O_RDONLY), N(O_WRONLY), N(O_RDWR), N(O_NONBLOCK), N(O_APPEND)};
static const named poll_events[] = {N(POLLIN),    N(POLLPRI),    N(POLLOUT),
                                    N(POLLERR),   N(POLLHUP),    N(POLLNVAL),
                                    N(POLLRDHUP), N(POLLRDNORM), N(POLLWRNORM)};
#undef N
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *errno_name(int e)
{
    if (e == EWOULDBLOCK) e = EAGAIN;
    for (size_t i = 0; i < COUNT(errnos); i++)
        if (errnos[i].value == e) return errnos[i].name;
    return NULL;
}

/* "A|B|C" -> the names' values or'ed; 0 (and *ok 0) on an unknown name.
 * "0" and "" are no flags. */
static int parse_flags(const char *s, const named *t, size_t n, int *ok)
{
    int v = 0;
    *ok = 1;
    if (!*s || strcmp(s, "0") == 0) return 0;
    while (*s) {
        size_t len = strcspn(s, "|");
        size_t i;
        for (i = 0; i < n; i++)
            if (strlen(t[i].name) == len && strncmp(t[i].name, s, len) == 0) break;
        if (i == n) {
            *ok = 0;
            return 0;
        }
        v |= t[i].value;
        s += len;
        if (*s == '|') s++;
    }
    return v;
}

/* The names of the bits of v, "A|B" ("" for none); a zero-valued name
 * (O_RDONLY) only when v has none of the others' bits in its place. */
static void bflags(buf *b, const char *key, int v, const named *t, size_t n)
{
    buf s = {0};
    for (size_t i = 0; i < n; i++) {
        if (t[i].value == 0 || (v & t[i].value) != t[i].value) continue;
        if (s.len) bput(&s, "|", 1);
        bput(&s, t[i].name, strlen(t[i].name));
    }
    bprintf(b, "%s=", key);
    bstr(b, s.p ? s.p : "", s.len);
    bput(b, ",", 1);
    free(s.p);
}

/* Socket options: level, name, and how the value is shaped. */
typedef enum { OPT_INT, OPT_LINGER, OPT_ERROR } opt_kind;
typedef struct {
    const char *name;
    int level, opt;
    opt_kind kind;
} sockopt;

#define T(x)                                                                                       \
    {                                                                                              \
#x, IPPROTO_TCP, x, OPT_INT                                                                \
    }
#define S(x)                                                                                       \
    {                                                                                              \
#x, SOL_SOCKET, x, OPT_INT                                                                 \
    }
static const sockopt sockopts[] = {
    T(TCP_NODELAY),
    T(TCP_MAXSEG),
    T(TCP_CORK),
    T(TCP_KEEPIDLE),
    T(TCP_KEEPINTVL),
    T(TCP_KEEPCNT),
    T(TCP_SYNCNT),
    T(TCP_LINGER2),
    T(TCP_DEFER_ACCEPT),
    T(TCP_WINDOW_CLAMP),
    T(TCP_QUICKACK),
    T(TCP_USER_TIMEOUT),
    T(TCP_NOTSENT_LOWAT),
    S(SO_KEEPALIVE),
    S(SO_RCVBUF),
    S(SO_SNDBUF),
    S(SO_REUSEADDR),
    S(SO_REUSEPORT),
    S(SO_RCVLOWAT),
    S(SO_OOBINLINE),
    {"SO_LINGER", SOL_SOCKET, SO_LINGER, OPT_LINGER},
    {"SO_ERROR", SOL_SOCKET, SO_ERROR, OPT_ERROR},
};
#undef T
#undef S

static const sockopt *find_sockopt(const char *name)
{
    for (size_t i = 0; i < COUNT(sockopts); i++)
        if (strcmp(sockopts[i].name, name) == 0) return &sockopts[i];
    return NULL;
}

/* ---- requests ---------------------------------------------------------------- */

typedef struct {
    long id;
    char *line;
    char *arg[MAX_ARGS];
    int nargs; /* arg[0] is the call's name */
} req;

/* Why a request is bad (the reply's `bad`), or NULL. */
typedef const char *bad;

static bad arg_int(const req *r, int i, long long *v)
{
    if (i >= r->nargs) return "missing argument";
    char *end;
    errno = 0;
    *v = strtoll(r->arg[i], &end, 10);
    if (errno || end == r->arg[i] || *end) return "an integer expected";
    return NULL;
}

static bad arg_fd(const req *r, int i, int *fd)
{
    long long v;
    bad e = arg_int(r, i, &v);
    if (e) return e;
    if (v < 0 || v > 1 << 20) return "a file descriptor expected";
    *fd = (int)v;
    return NULL;
}

static bad arg_flags(const req *r, int i, const named *t, size_t n, int *v)
{
    if (i >= r->nargs) return "missing flags";
    int ok;
    *v = parse_flags(r->arg[i], t, n, &ok);
    return ok ? NULL : "unknown flag name";
}

/* socket's domain: AF_INET (the default) or AF_INET6 */
static bad arg_domain(const req *r, int i, int *domain)
{
    if (i >= r->nargs) return NULL;
    if (strcmp(r->arg[i], "AF_INET") == 0)
        *domain = AF_INET;
    else if (strcmp(r->arg[i], "AF_INET6") == 0)
        *domain = AF_INET6;
    else
        return "AF_INET or AF_INET6 expected";
    return NULL;
}

/* An address of either family and a port: a sockaddr_in or sockaddr_in6
 * in *sa, its length in *len. */
static bad arg_addr(const req *r, int i, struct sockaddr_storage *sa, socklen_t *len)
{
    long long port;
    if (i + 1 >= r->nargs) return "an address and a port expected";
    bad e = arg_int(r, i + 1, &port);
    if (e) return e;
    if (port < 0 || port > 65535) return "a port (0..65535) expected";
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, r->arg[i], &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof *in;
    } else if (inet_pton(AF_INET6, r->arg[i], &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
    } else {
        return "an IPv4 or IPv6 address expected";
    }
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Data: "x" and hex, or "#N", N bytes of a-z repeated. *data is malloc'd. */
static bad arg_data(const req *r, int i, char **data, size_t *len)
{
    if (i >= r->nargs) return "missing data";
    const char *s = r->arg[i];
    if (s[0] == '#') {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(s + 1, &end, 10);
        if (errno || end == s + 1 || *end || n > MAX_READ) return "#N: a byte count expected";
        *data = malloc(n ? n : 1);
        if (!*data) return "out of memory";
        for (size_t k = 0; k < n; k++)
            (*data)[k] = (char)('a' + k % 26);
        *len = (size_t)n;
        return NULL;
    }
    if (s[0] != 'x') return "data expected (x<hex> or #N)";
    size_t hex = strlen(s + 1);
    if (hex % 2) return "hex data of odd length";
    *data = malloc(hex / 2 + 1);
    if (!*data) return "out of memory";
    for (size_t k = 0; k < hex / 2; k++) {
        int hi = hexval(s[1 + 2 * k]), lo = hexval(s[2 + 2 * k]);
        if (hi < 0 || lo < 0) {
            free(*data);
            *data = NULL; /* the caller frees what it holds */
            return "bad hex data";
        }
        (*data)[k] = (char)(hi << 4 | lo);
    }
    *len = hex / 2;
    return NULL;
}

/* ---- one call ---------------------------------------------------------------- */

/* key="10.73.0.1:8080" or key="[fd00:73::1]:8080" (as ss writes them);
 * nothing for another family. */
static void baddr(buf *b, const char *key, const struct sockaddr_storage *sa)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        bprintf(b, "%s=\"%s:%u\",", key, ip, (unsigned)ntohs(in->sin_port));
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        bprintf(b, "%s=\"[%s]:%u\",", key, ip, (unsigned)ntohs(in6->sin6_port));
    }
}

/* sock= and peer=, the socket's addresses, when it has them. */
static void bnames(buf *b, int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0) baddr(b, "sock", &sa);
    len = sizeof sa;
    if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0) baddr(b, "peer", &sa);
}

static const char *tcp_state_name(unsigned s)
{
    /* the kernel's TCP_* states (include/net/tcp_states.h), spelled as
     * synfin spells RFC 9293's */
    static const char *const names[] = {
        "?",      "ESTABLISHED", "SYN_SENT", "SYN_RCVD", "FIN_WAIT_1", "FIN_WAIT_2",  "TIME_WAIT",
        "CLOSED", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",    "NEW_SYN_RECV"};
    return s < COUNT(names) ? names[s] : "?";
}

static const char *ca_state_name(unsigned s)
{
    static const char *const names[] = {"Open", "Disorder", "CWR", "Recovery", "Loss"};
    return s < COUNT(names) ? names[s] : "?";
}

/* info={...}: TCP_INFO, the fields the kernel filled (len), times in seconds. */
static void btcp_info(buf *b, const struct tcp_info *ti, socklen_t len)
{
#define HAS(f) (len >= offsetof(struct tcp_info, f) + sizeof ti->f)
#define U(f)   bprintf(b, #f "=%" PRIu64 ",", (uint64_t)ti->tcpi_##f)
#define US(f)  bprintf(b, #f "=%.6f,", (double)ti->tcpi_##f / 1e6)
#define MS(f)  bprintf(b, #f "=%.3f,", (double)ti->tcpi_##f / 1e3)
    bput(b, "info={", 6);
    bprintf(b, "state=\"%s\",", tcp_state_name(ti->tcpi_state));
    bprintf(b, "ca_state=\"%s\",", ca_state_name(ti->tcpi_ca_state));
    U(retransmits);
    U(probes);
    U(backoff);
    bprintf(b, "options={timestamps=%s,sack=%s,wscale=%s,ecn=%s},",
            ti->tcpi_options & TCPI_OPT_TIMESTAMPS ? "true" : "false",
            ti->tcpi_options & TCPI_OPT_SACK ? "true" : "false",
            ti->tcpi_options & TCPI_OPT_WSCALE ? "true" : "false",
            ti->tcpi_options & TCPI_OPT_ECN ? "true" : "false");
    if (ti->tcpi_options & TCPI_OPT_WSCALE) {
        bprintf(b, "snd_wscale=%u,rcv_wscale=%u,", (unsigned)ti->tcpi_snd_wscale,
                (unsigned)ti->tcpi_rcv_wscale);
    }
    US(rto);
    US(ato);
    U(snd_mss);
    U(rcv_mss);
    U(unacked);
    U(sacked);
    U(lost);
    U(retrans);
    U(fackets);
    MS(last_data_sent);
    MS(last_data_recv);
    MS(last_ack_recv);
    U(pmtu);
    U(rcv_ssthresh);
    US(rtt);
    US(rttvar);
    U(snd_ssthresh);
    U(snd_cwnd);
    U(advmss);
    U(reordering);
    US(rcv_rtt);
    U(rcv_space);
    U(total_retrans);
    if (HAS(tcpi_bytes_received)) {
        U(bytes_acked);
        U(bytes_received);
    }
    if (HAS(tcpi_segs_in)) {
        U(segs_out);
        U(segs_in);
    }
    if (HAS(tcpi_min_rtt)) {
        U(notsent_bytes);
        US(min_rtt);
    }
    if (HAS(tcpi_data_segs_out)) {
        U(data_segs_in);
        U(data_segs_out);
    }
    if (HAS(tcpi_delivery_rate)) U(delivery_rate);
    if (HAS(tcpi_sndbuf_limited)) {
        US(busy_time);
        US(rwnd_limited);
        US(sndbuf_limited);
    }
    if (HAS(tcpi_delivered_ce)) {
        U(delivered);
        U(delivered_ce);
    }
    if (HAS(tcpi_bytes_retrans)) {
        U(bytes_sent);
        U(bytes_retrans);
    }
    if (HAS(tcpi_reord_seen)) {
        U(dsack_dups);
        U(reord_seen);
    }
    if (HAS(tcpi_rcv_ooopack)) U(rcv_ooopack);
    if (HAS(tcpi_snd_wnd)) U(snd_wnd);
    bput(b, "},", 2);
#undef HAS
#undef U
#undef US
#undef MS
}

/* Runs request r (in its own thread) and writes its reply. */
static void run(req *r)
{
    const char *name = r->arg[0];
    buf b = {0};
    bprintf(&b, "{id=%ld,", r->id);
    bfield_str(&b, "call", name);

    long long ret = -1;
    int err = 0, fd = -1;
    int64_t t0 = 0, t1 = 0;
    bad e = NULL;
    buf extra = {0}; /* the call's own fields, after ret and the times */
    char *data = NULL;
    size_t len = 0;

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((e = (x)) != NULL) goto bad_request;                                                   \
    } while (0)
#define FAIL(why)                                                                                  \
    do {                                                                                           \
        e = (why);                                                                                 \
        goto bad_request;                                                                          \
    } while (0)
#define CALL(expr)                                                                                 \
    do {                                                                                           \
        t0 = mono_ns();                                                                            \
        ret = (expr);                                                                              \
        err = errno;                                                                               \
        t1 = mono_ns();                                                                            \
    } while (0)

    if (strcmp(name, "socket") == 0) {
        int type = SOCK_STREAM, domain = AF_INET;
        if (r->nargs > 1) CHECK(arg_flags(r, 1, sock_types, COUNT(sock_types), &type));
        CHECK(arg_domain(r, 2, &domain));
        CALL(socket(domain, type, IPPROTO_TCP));
    } else if (strcmp(name, "bind") == 0 || strcmp(name, "connect") == 0) {
        struct sockaddr_storage sa;
        socklen_t sl;
        CHECK(arg_fd(r, 1, &fd));
        CHECK(arg_addr(r, 2, &sa, &sl));
        if (strcmp(name, "bind") == 0)
            CALL(bind(fd, (struct sockaddr *)&sa, sl));
        else
            CALL(connect(fd, (struct sockaddr *)&sa, sl));
        bnames(&extra, fd);
    } else if (strcmp(name, "listen") == 0) {
        long long backlog;
        CHECK(arg_fd(r, 1, &fd));
        CHECK(arg_int(r, 2, &backlog));
        CALL(listen(fd, (int)backlog));
        bnames(&extra, fd);
    } else if (strcmp(name, "accept") == 0) {
        CHECK(arg_fd(r, 1, &fd));
        CALL(accept(fd, NULL, NULL));
        if (ret >= 0) bnames(&extra, (int)ret);
    } else if (strcmp(name, "read") == 0 || strcmp(name, "recv") == 0) {
        long long n;
        int flags = 0;
        CHECK(arg_fd(r, 1, &fd));
        CHECK(arg_int(r, 2, &n));
        if (n < 0 || n > MAX_READ) FAIL("a byte count (0..16 MiB) expected");
        if (strcmp(name, "recv") == 0) CHECK(arg_flags(r, 3, msg_flags, COUNT(msg_flags), &flags));
        data = malloc((size_t)n + 1);
        if (!data) FAIL("out of memory");
        if (strcmp(name, "read") == 0)
            CALL(read(fd, data, (size_t)n));
        else
            CALL(recv(fd, data, (size_t)n, flags));
        if (ret >= 0) {
            bput(&extra, "data=", 5);
            bstr(&extra, data, (size_t)ret);
            bput(&extra, ",", 1);
        }
    } else if (strcmp(name, "write") == 0 || strcmp(name, "send") == 0) {
        int flags = 0;
        CHECK(arg_fd(r, 1, &fd));
        CHECK(arg_data(r, 2, &data, &len));
        if (strcmp(name, "send") == 0) CHECK(arg_flags(r, 3, msg_flags, COUNT(msg_flags), &flags));
        if (strcmp(name, "write") == 0)
            CALL(write(fd, data, len));
        else
            CALL(send(fd, data, len, flags));
    } else if (strcmp(name, "shutdown") == 0) {
        int how;
        CHECK(arg_fd(r, 1, &fd));
        if (r->nargs < 3) FAIL("missing SHUT_RD, SHUT_WR or SHUT_RDWR");
        int ok;
        /* SHUT_RD is 0: parse_flags reads a lone name as its value */
        how = parse_flags(r->arg[2], shut_hows, COUNT(shut_hows), &ok);
        if (!ok || strchr(r->arg[2], '|')) FAIL("SHUT_RD, SHUT_WR or SHUT_RDWR expected");
        CALL(shutdown(fd, how));
    } else if (strcmp(name, "close") == 0) {
        CHECK(arg_fd(r, 1, &fd));
        bnames(&extra, fd);
        CALL(close(fd));
    } else if (strcmp(name, "setsockopt") == 0 || strcmp(name, "getsockopt") == 0) {
        CHECK(arg_fd(r, 1, &fd));
        if (r->nargs < 3) FAIL("missing option name");
        const sockopt *o = find_sockopt(r->arg[2]);
        if (!o) FAIL("unknown socket option");
        if (strcmp(name, "setsockopt") == 0) {
            long long v, v2 = 0;
            CHECK(arg_int(r, 3, &v));
            if (o->kind == OPT_LINGER) {
                CHECK(arg_int(r, 4, &v2));
                struct linger l = {(int)v, (int)v2};
                CALL(setsockopt(fd, o->level, o->opt, &l, sizeof l));
            } else if (o->kind == OPT_INT) {
                int iv = (int)v;
                CALL(setsockopt(fd, o->level, o->opt, &iv, sizeof iv));
            } else {
                FAIL("a read-only option");
            }
        } else if (o->kind == OPT_LINGER) {
            struct linger l;
            socklen_t sl = sizeof l;
            CALL(getsockopt(fd, o->level, o->opt, &l, &sl));
            if (ret == 0) bprintf(&extra, "value={onoff=%d,linger=%d},", l.l_onoff, l.l_linger);
        } else {
            int iv = 0;
            socklen_t sl = sizeof iv;
            CALL(getsockopt(fd, o->level, o->opt, &iv, &sl));
            if (ret == 0 && o->kind == OPT_ERROR && iv != 0) {
                const char *en = errno_name(iv);
                if (en)
                    bfield_str(&extra, "value", en);
                else
                    bprintf(&extra, "value=\"E%d\",", iv);
            } else if (ret == 0) {
                bprintf(&extra, "value=%d,", iv);
            }
        }
    } else if (strcmp(name, "fcntl") == 0) {
        int cmd, flags = 0;
        CHECK(arg_fd(r, 1, &fd));
        CHECK(arg_flags(r, 2, fcntl_cmds, COUNT(fcntl_cmds), &cmd));
        if (cmd == F_SETFL) {
            CHECK(arg_flags(r, 3, o_flags, COUNT(o_flags), &flags));
            CALL(fcntl(fd, F_SETFL, flags));
        } else if (cmd == F_GETFL) {
            CALL(fcntl(fd, F_GETFL));
            if (ret >= 0) bflags(&extra, "value", (int)ret, o_flags, COUNT(o_flags));
        } else {
            FAIL("F_GETFL or F_SETFL expected");
        }
    } else if (strcmp(name, "poll") == 0) {
        struct pollfd p = {0};
        long long ms;
        CHECK(arg_fd(r, 1, &fd));
        int events;
        CHECK(arg_flags(r, 2, poll_events, COUNT(poll_events), &events));
        CHECK(arg_int(r, 3, &ms));
        if (ms < -1 || ms > 3600000) FAIL("a timeout in milliseconds (-1..3600000) expected");
        p.fd = fd;
        p.events = (short)events;
        CALL(poll(&p, 1, (int)ms));
        if (ret >= 0) bflags(&extra, "revents", p.revents, poll_events, COUNT(poll_events));
    } else if (strcmp(name, "tcp_info") == 0) {
        struct tcp_info ti;
        socklen_t sl = sizeof ti;
        memset(&ti, 0, sizeof ti);
        CHECK(arg_fd(r, 1, &fd));
        CALL(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl));
        if (ret == 0) btcp_info(&extra, &ti, sl);
    } else if (strcmp(name, "getsockname") == 0 || strcmp(name, "getpeername") == 0) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        memset(&sa, 0, sizeof sa);
        CHECK(arg_fd(r, 1, &fd));
        if (strcmp(name, "getsockname") == 0)
            CALL(getsockname(fd, (struct sockaddr *)&sa, &sl));
        else
            CALL(getpeername(fd, (struct sockaddr *)&sa, &sl));
        if (ret == 0) baddr(&extra, "value", &sa);
    } else {
        FAIL("unknown call");
    }
#undef CHECK
#undef FAIL
#undef CALL

    bprintf(&b, "ret=%lld,", ret);
    if (ret < 0) {
        const char *en = errno_name(err);
        if (en)
            bfield_str(&b, "errno", en);
        else
            bprintf(&b, "errno=\"E%d\",", err);
        bfield_str(&b, "err", strerror(err));
    }
    bprintf(&b, "t0=%" PRId64 ",t1=%" PRId64 ",", t0, t1);
    if (extra.p) bput(&b, extra.p, extra.len);
    goto done;

bad_request:
    bfield_str(&b, "bad", e);
done:
    bput(&b, "}\n", 2);
    emit(&b);
    free(extra.p);
    free(data);
}

/* Calls still running (blocked in their system call, or replying). */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static int running;

static void *thread_main(void *arg)
{
    req *r = arg;
    run(r);
    free(r->line);
    free(r);
    pthread_mutex_lock(&running_lock);
    running--;
    pthread_mutex_unlock(&running_lock);
    return NULL;
}

/* ---- the namespace ----------------------------------------------------------- */

static int ns_inode(const char *path, unsigned long *ino)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    *ino = (unsigned long)st.st_ino;
    return 0;
}

static pid_t parent_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    char line[512];
    pid_t ppid = 0;
    if (fgets(line, sizeof line, f)) {
        /* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
        char *close = strrchr(line, ')');
        int p;
        if (close && sscanf(close + 1, " %*c %d", &p) == 1) ppid = (pid_t)p;
    }
    fclose(f);
    return ppid;
}

/* Whether this process is in a network namespace of its own, not the
 * machine's (where a test's sockets would reach the machine's network):
 * 1 with the evidence in why, or 0 with the reason. In order:
 * - PID 1's network namespace, where it can be read, differs from ours;
 * - else (reading it needs privileges over PID 1, which a user namespace
 *   lacks) our network namespace belongs to a user namespace that is not
 *   the initial one: it was made after boot, as `unshare -Urn` makes it;
 * - else an ancestor's differs from ours (the shell that ran unshare -n).
 * When none holds it cannot tell, and says so. */
static int own_namespace(char *why, size_t n)
{
    unsigned long self, other;
    if (ns_inode("/proc/self/ns/net", &self) != 0) {
        snprintf(why, n, "cannot stat /proc/self/ns/net: %s", strerror(errno));
        return 0;
    }
    if (ns_inode("/proc/1/ns/net", &other) == 0) {
        if (other != self) {
            snprintf(why, n, "net:[%lu], PID 1's is net:[%lu]", self, other);
            return 1;
        }
        snprintf(why, n, "this is PID 1's network namespace (net:[%lu])", self);
        return 0;
    }
    int nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (nsfd >= 0) {
        int userns = ioctl(nsfd, NS_GET_USERNS);
        close(nsfd);
        if (userns >= 0) {
            struct stat st;
            int got = fstat(userns, &st) == 0;
            close(userns);
            if (got && (unsigned long)st.st_ino != USER_INIT_INO) {
                snprintf(why, n, "net:[%lu], owned by user:[%lu], not the initial user namespace",
                         self, (unsigned long)st.st_ino);
                return 1;
            }
        }
    }
    pid_t pid = getppid();
    for (int i = 0; i < 64 && pid > 1; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
        if (ns_inode(path, &other) == 0 && other != self) {
            snprintf(why, n, "net:[%lu], its ancestor PID %d's is net:[%lu]", self, (int)pid,
                     other);
            return 1;
        }
        pid = parent_of(pid);
    }
    if (self == NET_INIT_INO)
        snprintf(why, n, "this is the machine's initial network namespace (net:[%lu])", self);
    else
        snprintf(why, n,
                 "cannot tell that net:[%lu] is not the machine's own: PID 1's cannot be read, "
                 "the namespace belongs to the initial user namespace, and no ancestor's differs",
                 self);
    return 0;
}

/* ---- main -------------------------------------------------------------------- */

/* max_seconds have passed: say so (the script then stops waiting for its
 * calls), and end. Only async-signal-safe calls. */
static void on_alarm(int sig)
{
    static const char bye[] = "{id=-1,bye=\"it ran for its --max-seconds and ended\"}\n";
    (void)sig;
    ssize_t n = write(STDOUT_FILENO, bye, sizeof bye - 1);
    (void)n;
    _exit(0);
}

static void usage(FILE *f)
{
    fputs("usage: synfin-agent [--allow-host-namespace] [--max-seconds N]\n"
          "       synfin-agent --check-namespace | --version | --help\n"
          "The kernel's socket calls for synfin.kernel (lua/synfin/kernel.lua): requests on\n"
          "stdin, one a line (\"ID NAME ARG...\"), replies on stdout, one a line (a Lua table).\n"
          "It runs only in a network namespace of its own (spec/netns/run, unshare -Urn)\n"
          "unless given --allow-host-namespace.\n",
          f);
}

int main(int argc, char **argv)
{
    int allow_host = 0, check_only = 0;
    long max_seconds = DEFAULT_MAX_SECONDS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--allow-host-namespace") == 0) {
            allow_host = 1;
        } else if (strcmp(argv[i], "--check-namespace") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc) {
            char *end;
            max_seconds = strtol(argv[++i], &end, 10);
            if (*end || max_seconds <= 0) {
                usage(stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("synfin-agent %s\n", SYNFIN_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    char why[512];
    int own = own_namespace(why, sizeof why);
    if (check_only) {
        printf("%s: %s\n", own ? "a network namespace of its own" : "not one of its own", why);
        return own ? 0 : 1;
    }

    /* sockets start at 3, as in packetdrill: nothing inherited stays open
     * (a parent's TUN device would outlive its net in us) */
    close_range(3, ~0u, 0);
    /* a write to a reset connection fails with EPIPE instead of killing us */
    signal(SIGPIPE, SIG_IGN);
    /* we end with the process that started us, and in any case after
     * max_seconds (a blocked call cannot keep us) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)max_seconds);

    buf hello = {0};
    if (!own && !allow_host) {
        bprintf(&hello, "{id=0,hello=false,");
        bfield_str(&hello, "error", why);
        bput(&hello, "}\n", 2);
        emit(&hello);
        return 1;
    }
    bprintf(&hello, "{id=0,hello=true,pid=%d,version=\"%s\",own_namespace=%s,", (int)getpid(),
            SYNFIN_VERSION, own ? "true" : "false");
    bfield_str(&hello, "namespace", why);
    bput(&hello, "}\n", 2);
    emit(&hello);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);

    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    /* one request a line, until the end of stdin (bounded by the alarm) */
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        char *end;
        long id = strtol(line, &end, 10);
        if (end == line) {
            buf b = {0};
            bprintf(&b, "{id=-1,");
            bfield_str(&b, "bad", "a request starts with its id");
            bput(&b, "}\n", 2);
            emit(&b);
            continue;
        }
        req *r = calloc(1, sizeof *r);
        if (!r || !(r->line = strdup(end))) {
            free(r);
            buf b = {0};
            bprintf(&b, "{id=%ld,bad=\"the agent ran out of memory\"}\n", id);
            emit(&b);
            continue;
        }
        r->id = id;
        char *save = NULL;
        for (char *tok = strtok_r(r->line, " ", &save); tok && r->nargs < MAX_ARGS;
             tok = strtok_r(NULL, " ", &save))
            r->arg[r->nargs++] = tok;
        if (r->nargs == 0 || strcmp(r->arg[0], "quit") == 0) {
            int quit = r->nargs > 0;
            free(r->line);
            free(r);
            if (quit) break;
            continue;
        }
        if (strcmp(r->arg[0], "clock") == 0) {
            buf b = {0};
            bprintf(&b, "{id=%ld,clock=%" PRId64 "}\n", id, mono_ns());
            emit(&b);
            free(r->line);
            free(r);
            continue;
        }
        pthread_t th;
        pthread_mutex_lock(&running_lock);
        running++;
        pthread_mutex_unlock(&running_lock);
        int rc = pthread_create(&th, &attr, thread_main, r);
        if (rc != 0) {
            pthread_mutex_lock(&running_lock);
            running--;
            pthread_mutex_unlock(&running_lock);
            buf b = {0};
            bprintf(&b, "{id=%ld,", id);
            bfield_str(&b, "bad", strerror(rc));
            bput(&b, "}\n", 2);
            emit(&b);
            free(r->line);
            free(r);
        }
    }
    free(line);
    pthread_attr_destroy(&attr);
    /* With no call running, a normal exit (under the sanitizers, the leak
     * check runs then); else the calls still blocked end with us, at once,
     * before exit's handlers could run under their feet. */
    pthread_mutex_lock(&running_lock);
    int still = running;
    pthread_mutex_unlock(&running_lock);
    if (still == 0) exit(0);
    _exit(0);
}
