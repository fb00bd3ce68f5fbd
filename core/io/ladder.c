/* ladder.c - a sim's trace as a ladder diagram in text, for C programs: the
 * same picture the Lua side draws (lua/synfin/ladder.lua, print(net:trace())),
 * one lane per host, time down the left, each segment an arrow numbered in
 * order with its flags, relative seq/ack, window and length, each state
 * change in its host's lane with its cause.
 *
 * Sequence numbers are shown relative to each direction's ISN, as
 * packetdrill and Wireshark show them (the trace numbers them:
 * sf_trace_number), windows with their scale (win=64<<10), options as
 * tcpdump prints them. */
#include "sim.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TIME_W   10 /* the time column: "%10.3f" */
#define MIN_GAP  30 /* columns between two lanes, at least */
#define LINE_MAX 1024

/* A line being drawn: text placed at columns, blanks between. */
typedef struct {
    char s[LINE_MAX + 1];
    size_t len;
} line;

/* Writes text at column col (0-based), padding with blanks up to it. */
static void put(line *l, size_t col, const char *text)
{
    size_t n = strlen(text);
    if (col >= LINE_MAX) return;
    if (col + n > LINE_MAX) n = LINE_MAX - col;
    while (l->len < col)
        l->s[l->len++] = ' ';
    memcpy(l->s + col, text, n);
    if (col + n > l->len) l->len = col + n;
    l->s[l->len] = 0;
}

/* Appends to out, as snprintf would at its end; out stays terminated. */
static void append(char *out, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0) *n += (size_t)k;
    if (*n >= cap) *n = cap - 1;
}

size_t sf_trace_seg_summary(const sf_trace_rec *r, int how, char *out, size_t cap)
{
    if (!cap) return 0;
    char flags[9];
    sf_flags_str(r->flags, flags);
    size_t n = 0;
    out[0] = 0;
    append(out, cap, &n, "#%u %s seq=%u", (unsigned)r->seg_no, flags[0] ? flags : ".",
           (unsigned)r->rel_seq);
    if (r->flags & SF_ACK) append(out, cap, &n, " ack=%u", (unsigned)r->rel_ack);
    append(out, cap, &n, " win=%u", (unsigned)r->wnd);
    if (r->win_shift > 0) append(out, cap, &n, "<<%d", r->win_shift);
    if (r->len) append(out, cap, &n, " len=%u", (unsigned)r->len);
    /* the options as tcpdump prints them: <mss 1460,sackOK,TS val 1 ecr 0,wscale 7> */
    const char *sep = " <";
    if (r->mss) {
        append(out, cap, &n, "%smss %u", sep, (unsigned)r->mss);
        sep = ",";
    }
    if (r->sack_perm) {
        append(out, cap, &n, "%ssackOK", sep);
        sep = ",";
    }
    if (r->has_ts && !(how & SF_SUMMARY_NO_TS)) {
        append(out, cap, &n, "%sTS val %u ecr %u", sep, (unsigned)r->ts_val, (unsigned)r->ts_ecr);
        sep = ",";
    }
    if (r->wscale >= 0) {
        append(out, cap, &n, "%swscale %d", sep, r->wscale);
        sep = ",";
    }
    if (r->sack_n) { /* the other direction's bytes, relative as the ACK is */
        append(out, cap, &n, "%ssack %d ", sep, r->sack_n);
        for (int b = 0; b < r->sack_n && b < 4; b++)
            append(out, cap, &n, "{%u:%u}", (unsigned)sf_trace_rel_sack(r, r->sack[b][0]),
                   (unsigned)sf_trace_rel_sack(r, r->sack[b][1]));
        sep = ",";
    }
    if (sep[0] == ',') append(out, cap, &n, ">");
    if ((r->tos & 3) == 3) append(out, cap, &n, " [CE]"); /* marked on the way (RFC 3168 §5) */
    return n;
}

/* Appends a note to the list in out ("a, b"). */
static void add_note(char *out, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(out);
    if (n && n + 2 < cap) {
        memcpy(out + n, ", ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

/* What happened to a segment, when it is worth a word ("" otherwise). */
static void seg_fate(const sf_trace_rec *r, char *out, size_t cap)
{
    unsigned hook = r->hook_id;
    out[0] = 0;
    if (r->injected && hook)
        add_note(out, cap, "made by hook %u", hook);
    else if (r->injected)
        add_note(out, cap, "injected");
    if (r->fate == SF_FATE_REPLACED) add_note(out, cap, "replaced by hook %u", hook);
    if (r->delay) add_note(out, cap, "delayed %gs by hook %u", (double)r->delay / 1e6, hook);
    if (r->fate == SF_FATE_LOST) add_note(out, cap, "lost by the link");
    if (r->fate == SF_FATE_DROPPED_EGRESS) add_note(out, cap, "dropped by hook %u", hook);
    if (r->fate == SF_FATE_DROPPED_INGRESS)
        add_note(out, cap, "dropped on arrival by hook %u", hook);
    if (r->fate == SF_FATE_NO_HOST) {
        char dst[SF_ADDR_STRLEN];
        sf_addr_str(r->daddr, dst);
        add_note(out, cap, "no host at %s", dst);
    }
}

/* How many connections (listeners aside) each host's state records name,
 * to tell them apart in its lane when there are several. */
static size_t *conns_per_host(const sf_trace *t, int hosts)
{
    size_t *count = calloc((size_t)hosts + 1, sizeof *count);
    if (!count) return NULL;
    for (size_t i = t->first; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->kind != SF_TR_STATE || r->dport == 0 || r->host >= hosts) continue;
        bool seen = false;
        for (size_t j = t->first; j < i && !seen; j++) {
            const sf_trace_rec *q = sf_trace_at(t, (long)j);
            seen = q->kind == SF_TR_STATE && q->dport != 0 && q->host == r->host &&
                   q->conn_id == r->conn_id;
        }
        if (!seen) count[r->host]++;
    }
    return count;
}

/* A host's addresses, every one (a host may have several, of both
 * families), as the header shows them: "192.0.2.1, 2001:db8::1". */
enum { HEAD_MAX = SF_STACK_ADDRS * (SF_ADDR_STRLEN + 2) };
static void host_head(sf_sim *sim, int h, char out[HEAD_MAX])
{
    size_t n = 0, len = 0;
    const sf_addr *a = sf_sim_host_addrs(sim, h, &n);
    out[0] = '\0';
    for (size_t i = 0; i < n && len < HEAD_MAX; i++) {
        char s[SF_ADDR_STRLEN];
        sf_addr_str(a[i], s);
        int k = snprintf(out + len, HEAD_MAX - len, "%s%s", i ? ", " : "", s);
        if (k < 0) break;
        len += (size_t)k;
    }
}

int sf_sim_print_trace(sf_sim *sim, FILE *out)
{
    sf_trace *t = sf_sim_trace(sim);
    int hosts = sf_sim_host_count(sim);
    if (hosts <= 0) return fputs("(no hosts)\n", out) < 0 ? -1 : 0;

    /* lanes: wide enough for the longest label, as the Lua ladder makes them */
    char label[256], fate[256], text[LINE_MAX];
    size_t gap = MIN_GAP;
    if (sf_trace_number(t) < 0) return -1; /* relative numbers, window scales */
    for (size_t i = t->first; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->kind != SF_TR_SEG) continue;
        size_t len = sf_trace_seg_summary(r, 0, label, sizeof label);
        if (len + 10 > gap) gap = len + 10;
    }
    for (int h = 0; h < hosts; h++) { /* and for the host's addresses over its lane */
        char addrs[HEAD_MAX];
        host_head(sim, h, addrs);
        if (strlen(addrs) + 2 > gap) gap = strlen(addrs) + 2;
    }
    size_t *conns = conns_per_host(t, hosts);
    if (!conns) return -1;
#define LANE(h) ((size_t)TIME_W + 2 + (size_t)(h)*gap)

    line blank = {.len = 0};
    put(&blank, 0, "");
    for (int h = 0; h < hosts; h++)
        put(&blank, LANE(h), "|");
    line head = {.len = 0};
    snprintf(text, sizeof text, "%*s", TIME_W, "time (s)");
    put(&head, 0, text);
    for (int h = 0; h < hosts; h++) {
        char addrs[HEAD_MAX];
        host_head(sim, h, addrs);
        put(&head, LANE(h), addrs);
    }
    int err = fprintf(out, "%s\n%s\n", head.s, blank.s) < 0;

    for (size_t i = t->first; i < t->n && !err; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        line l = blank;
        bool drawn = true;
        if (r->kind == SF_TR_SEG) {
            sf_trace_seg_summary(r, 0, label, sizeof label);
            int a = r->host, b = r->to_host;
            if (b != UINT16_MAX && a != b && a < hosts && b < hosts) {
                size_t lo = LANE(a < b ? a : b), hi = LANE(a < b ? b : a);
                bool right = a < b;
                if (r->fate == SF_FATE_DROPPED_EGRESS || r->fate == SF_FATE_REPLACED) {
                    /* it never reached the wire: a stub with an X at its sender */
                    snprintf(text, sizeof text, "%s%s%s", right ? "-X " : "", label,
                             right ? "" : " X-");
                    put(&l, right ? lo + 1 : hi - strlen(text), text);
                } else {
                    size_t span = hi - lo - 1, body = strlen(label) + 4;
                    size_t fill = span > body ? span - body : 1;
                    char dashes[LINE_MAX - sizeof label - 8]; /* the arrow fits the line */
                    if (fill > sizeof dashes - 1) fill = sizeof dashes - 1;
                    memset(dashes, '-', fill);
                    dashes[fill] = 0;
                    bool cut = r->fate == SF_FATE_LOST || r->fate == SF_FATE_DROPPED_INGRESS;
                    if (right)
                        snprintf(text, sizeof text, "--%s %s%c", label, dashes, cut ? 'X' : '>');
                    else
                        snprintf(text, sizeof text, "%c%s %s--", cut ? 'X' : '<', dashes, label);
                    put(&l, lo + 1, text);
                }
            } else {
                char dst[SF_ENDPOINT_STRLEN];
                sf_endpoint_str(r->daddr, r->dport, dst);
                snprintf(text, sizeof text, "%s -> %s", label, dst);
                put(&l, LANE(a < hosts ? a : 0) + 2, text);
            }
            seg_fate(r, fate, sizeof fate);
            if (fate[0]) {
                put(&l, l.len, "  ");
                put(&l, l.len, fate);
            }
        } else if (r->kind == SF_TR_STATE && r->host < hosts) {
            char who[32] = "", seg[16] = "";
            if (r->dport == 0)
                snprintf(who, sizeof who, "listener :%u ", (unsigned)r->sport);
            else if (conns[r->host] > 1)
                snprintf(who, sizeof who, ":%u~%u ", (unsigned)r->sport, (unsigned)r->dport);
            if (r->seg_no) snprintf(seg, sizeof seg, " #%u", (unsigned)r->seg_no);
            snprintf(text, sizeof text, "[%s%s] %s%s", who, sf_state_name((sf_state)r->new_state),
                     r->why ? r->why : sf_cause_name((sf_cause)r->cause), seg);
            put(&l, LANE(r->host), text);
        } else if (r->kind == SF_TR_NOTE) {
            char seg[16] = "";
            if (r->seg_no) snprintf(seg, sizeof seg, " #%u", (unsigned)r->seg_no);
            if (r->text_len)
                snprintf(text, sizeof text, "(%.*s%s)", (int)r->text_len,
                         (const char *)t->arena + r->text_off, seg);
            else
                snprintf(text, sizeof text, "(%s%s)", r->why ? r->why : "", seg);
            put(&l, r->host < hosts ? LANE(r->host) : TIME_W + 2, text);
        } else {
            drawn = false;
        }
        if (!drawn) continue;
        while (l.len > 0 && l.s[l.len - 1] == ' ')
            l.s[--l.len] = 0;
        /* the time in the first column (wider only past 999999 s) */
        err = fprintf(out, "%*.3f%s\n", TIME_W, (double)r->time / 1e6, l.s + TIME_W) < 0;
    }
#undef LANE
    free(conns);
    return err ? -1 : 0;
}
