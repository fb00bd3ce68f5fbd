/* sim.c - the virtual network (see sim.h). Events are packet arrivals kept
 * in a min-heap by (time, order of scheduling), plus each stack's next
 * deadline; the clock jumps from one to the next. */
#include "sim.h"

#include "pcap.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What is known of a packet's TCP checksum: verified on the wire once (or
 * made by a stack), no host verifies it again; vouched for by the device
 * it came from (a checksum offload, sf_sim_receive_trusted), the field may
 * hold a partial sum, completed before anyone sees the bytes (the pcap, a
 * port). */
enum pkt_csum { CSUM_VERIFY, CSUM_OK, CSUM_PARTIAL };

/* Who put a packet on the wire, for its comment in the pcap. */
enum pkt_origin { ORIGIN_STACK, ORIGIN_SCRIPT, ORIGIN_REPLACEMENT, ORIGIN_COPY, ORIGIN_ANSWER };

typedef struct sim_pkt {
    struct sim_pkt *next; /* free list, or a host's pending list */
    uint64_t time;        /* arrival */
    uint64_t sent;        /* when it was made: an ICMP message's time on the wire */
    uint64_t order;       /* ties broken by scheduling order: deterministic */
    int from, to;
    long rec;         /* its trace record */
    uint32_t conn_id; /* the sender's connection, 0 if none */
    int state;        /* its state when sent, -1 if none */
    int skip_hooks;   /* ingress hooks already ran (a delayed arrival) */
    /* what the pcap comment tells beyond the trace record's fate */
    uint8_t origin;      /* enum pkt_origin */
    uint8_t csum;        /* enum pkt_csum */
    uint32_t made_by;    /* the hook that made it (a replacement, a copy, an answer) */
    uint32_t dup_hook;   /* the egress hook that sent copies behind it */
    uint32_t delay_hook; /* the last hook that delayed it */
    uint32_t len, cap;
    uint8_t *data;
} sim_pkt;

typedef struct {
    sf_sim *sim;
    int index;
    sf_addr addrs[SF_STACK_ADDRS]; /* the first is its name in notes and the pcap */
    size_t naddrs;
    sf_stack *stack; /* NULL: a bare peer */
    sf_hooks hooks;
    sf_port_send port; /* non-NULL: a peer standing for the outside world */
    void *port_ud;
    sim_pkt *pending, **pending_tail; /* emitted during a call, not yet sent */
    int flushing;                     /* sf_sim_flush is sending them */
    /* the bottleneck at its way out (sf_link.rate): when each packet in its
     * queue will have left, oldest first, in a ring of queue_cap */
    uint64_t *leaves;
    uint32_t queue_cap, queue_head, queue_len;
} sim_host;

struct sf_sim {
    uint64_t now;
    uint64_t order;
    sf_link link;
    sf_rand rng;
    sf_trace trace;
    uint32_t hook_ids;
    int hook_failures;
    uint32_t current_seg; /* the segment being delivered, for causes */
    uint64_t ignored;     /* packets from the outside that no host took */
    sf_pcap *pcap;        /* recording every packet (sf_sim_pcap_open); NULL: not */
    uint64_t epoch_us;    /* the wall-clock time of the net's time 0 (sf_sim_set_epoch) */
    int egress_depth;     /* egress hook runs in progress, one inside another */
    uint8_t *scratch;     /* where sf_sim_inject builds a packet (SF_SIM_PACKET_MAX) */

    sim_host **hosts;
    int nhosts;

    sim_pkt **heap;
    size_t heap_len, heap_cap;
    /* packets due at the instant they were scheduled for (a zero-latency
     * link, a real device's arrivals): in (time, order) already, as the
     * clock never goes back, so kept in a list, not sifted through the
     * heap; the next packet is the earlier of its head and the heap's top */
    sim_pkt *now_head, *now_tail;
    sim_pkt *free_pkts;
};

/* ---- packets --------------------------------------------------------------- */

static sim_pkt *pkt_new(sf_sim *sim, const uint8_t *data, size_t len)
{
    sim_pkt *p = sim->free_pkts;
    if (p)
        sim->free_pkts = p->next;
    else if (!(p = calloc(1, sizeof *p)))
        return NULL;
    if (p->cap < len) {
        uint8_t *d = realloc(p->data, len);
        if (!d) {
            p->next = sim->free_pkts;
            sim->free_pkts = p;
            return NULL;
        }
        p->data = d;
        p->cap = (uint32_t)len;
    }
    memcpy(p->data, data, len);
    p->len = (uint32_t)len;
    p->next = NULL;
    p->rec = -1;
    p->conn_id = 0;
    p->state = -1;
    p->skip_hooks = 0;
    p->from = p->to = -1;
    p->sent = sim->now;
    p->origin = ORIGIN_STACK;
    p->csum = CSUM_VERIFY;
    p->made_by = p->dup_hook = p->delay_hook = 0;
    return p;
}

static void pkt_free(sf_sim *sim, sim_pkt *p)
{
    p->next = sim->free_pkts;
    sim->free_pkts = p;
}

static int pkt_before(const sim_pkt *a, const sim_pkt *b)
{
    return a->time < b->time || (a->time == b->time && a->order < b->order);
}

static void schedule(sf_sim *sim, sim_pkt *p, uint64_t at)
{
    if (at == sim->now) {
        p->time = at;
        p->order = sim->order++;
        p->next = NULL;
        if (sim->now_tail)
            sim->now_tail->next = p;
        else
            sim->now_head = p;
        sim->now_tail = p;
        return;
    }
    if (sim->heap_len == sim->heap_cap) {
        size_t cap = sim->heap_cap ? sim->heap_cap * 2 : 256;
        sim_pkt **heap = realloc(sim->heap, cap * sizeof *heap);
        if (!heap) {
            pkt_free(sim, p); /* out of memory: the packet is lost */
            return;
        }
        sim->heap = heap;
        sim->heap_cap = cap;
    }
    p->time = at;
    p->order = sim->order++;
    size_t i = sim->heap_len++;
    sim->heap[i] = p;
    while (i > 0 && pkt_before(sim->heap[i], sim->heap[(i - 1) / 2])) {
        sim_pkt *t = sim->heap[i];
        sim->heap[i] = sim->heap[(i - 1) / 2];
        sim->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* The packet due first, NULL if none. */
static sim_pkt *next_pkt(const sf_sim *sim)
{
    sim_pkt *top = sim->heap_len ? sim->heap[0] : NULL, *head = sim->now_head;
    if (!top) return head;
    return head && pkt_before(head, top) ? head : top;
}

/* Takes the packet due first (next_pkt's) off the schedule. */
static sim_pkt *unschedule(sf_sim *sim)
{
    sim_pkt *head = sim->now_head;
    if (head && (!sim->heap_len || pkt_before(head, sim->heap[0]))) {
        sim->now_head = head->next;
        if (!sim->now_head) sim->now_tail = NULL;
        head->next = NULL;
        return head;
    }
    sim_pkt *top = sim->heap[0];
    sim->heap[0] = sim->heap[--sim->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < sim->heap_len && pkt_before(sim->heap[l], sim->heap[m])) m = l;
        if (r < sim->heap_len && pkt_before(sim->heap[r], sim->heap[m])) m = r;
        if (m == i) break;
        sim_pkt *t = sim->heap[i];
        sim->heap[i] = sim->heap[m];
        sim->heap[m] = t;
        i = m;
    }
    return top;
}

/* Parses p's segment, verifying its checksum unless that is done: once it
 * is, nobody verifies it again. */
static int parse_pkt(sim_pkt *p, sf_seg *seg, const char **why)
{
    if (p->csum != CSUM_VERIFY) return sf_wire_parse_trusted(p->data, p->len, seg, why);
    int rc = sf_wire_parse(p->data, p->len, seg, why);
    if (rc == 0) p->csum = CSUM_OK;
    return rc;
}

/* Completes a checksum the device left partial: the bytes are shown. */
static void fill_csum(sim_pkt *p)
{
    if (p->csum != CSUM_PARTIAL) return;
    sf_wire_fill_tcp_checksum(p->data, p->len);
    p->csum = CSUM_OK;
}

/* Hands p to host h's stack (the next step of RFC 9293 §3.10.7). */
static void stack_input(sim_host *h, sim_pkt *p)
{
    if (p->csum != CSUM_VERIFY)
        sf_stack_input_trusted(h->stack, h->sim->now, p->data, p->len);
    else
        sf_stack_input(h->stack, h->sim->now, p->data, p->len);
}

/* ---- the stack's callbacks: queue, never act (synfin.h) ------------------------ */

static void host_emit(void *ud, sf_conn *conn, const uint8_t *pkt, size_t len)
{
    sim_host *h = ud;
    sim_pkt *p = pkt_new(h->sim, pkt, len);
    if (!p) return;
    p->csum = CSUM_OK; /* sf_wire_build's */
    if (conn) {
        p->conn_id = sf_conn_id(conn);
        p->state = (int)sf_conn_state(conn);
    }
    *h->pending_tail = p;
    h->pending_tail = &p->next;
}

static void host_event(void *ud, const sf_event *ev)
{
    sim_host *h = ud;
    sf_sim *sim = h->sim;
    sf_trace *t = &sim->trace;
    long i = sf_trace_add(t, ev->type == SF_EV_STATE ? SF_TR_STATE : SF_TR_NOTE, sim->now);
    sf_trace_rec *r = sf_trace_at(t, i);
    if (!r) return;
    r->host = (uint16_t)h->index;
    r->conn_id = ev->conn_id;
    r->why = ev->why;
    r->reason = (uint16_t)ev->reason;
    r->cause = (uint8_t)ev->cause;
    r->seg_no = ev->cause == SF_CAUSE_SEGMENT || ev->type != SF_EV_STATE ? sim->current_seg : 0;
    if (ev->type == SF_EV_STATE) {
        r->old_state = (int8_t)ev->old_state;
        r->new_state = (int8_t)ev->new_state;
    }
    if (ev->reason >= SF_R_CC_FAST_RETRANSMIT && ev->reason <= SF_R_CC_ECN) {
        /* the window in the note's text: "fast retransmit: the window
         * cut: cwnd 7240, ssthresh 4344" (its code stays the reason's) */
        char text[160];
        int n = ev->ssthresh == UINT32_MAX
                    ? snprintf(text, sizeof text, "%s: cwnd %u", ev->why, ev->cwnd)
                    : snprintf(text, sizeof text, "%s: cwnd %u, ssthresh %u", ev->why, ev->cwnd,
                               ev->ssthresh);
        if (n > 0) sf_trace_text(t, i, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    }
    if (ev->conn) {
        sf_conn_info info;
        sf_conn_status(ev->conn, &info);
        r->saddr = info.laddr;
        r->daddr = info.raddr;
        r->sport = info.lport;
        r->dport = info.rport;
    }
}

/* ---- the pipeline -------------------------------------------------------------- */

/* Records a parsed segment on the wire from host `from` to host `to` (-1:
 * none), and notes both in the packet. Returns its record, -1 if the trace
 * could not grow. */
static long record_parsed(sf_sim *sim, int from, int to, sim_pkt *p, const sf_seg *seg,
                          int injected)
{
    sf_trace *t = &sim->trace;
    long rec = sf_trace_seg(t, sim->now, seg);
    sf_trace_rec *r = sf_trace_at(t, rec);
    if (r) {
        r->host = from < 0 ? UINT16_MAX : (uint16_t)from;
        r->to_host = to < 0 ? UINT16_MAX : (uint16_t)to;
        r->conn_id = p->conn_id;
        r->injected = (uint8_t)injected;
    }
    p->rec = rec;
    p->from = from;
    p->to = to;
    return rec;
}

/* Records a packet going on the wire from host h (a segment record), and
 * where it goes. Returns its record, or -1 if it is not a TCP segment. */
static long record_seg(sf_sim *sim, int h, sim_pkt *p, sf_seg *seg, int injected)
{
    const char *why = NULL;
    if (parse_pkt(p, seg, &why) != 0 && !seg->bad_csum) {
        char note[128];
        snprintf(note, sizeof note, "unsendable packet: %s", why);
        sf_sim_note(sim, h, note);
        return -1;
    }
    return record_parsed(sim, h, sf_sim_host_of(sim, seg->daddr), p, seg, injected);
}

/* A note for an ICMP message, at `host`'s column: "ICMP type 3 code 4 to
 * 192.0.2.1" (dir "to", addr its destination) or "from" its source;
 * "ICMPv6 type 2 code 0 to 2001:db8::1". */
static void note_icmp(sf_sim *sim, int host, const sf_icmp *m, const char *dir, sf_addr addr)
{
    char text[128], a[SF_ADDR_STRLEN];
    sf_addr_str(addr, a);
    snprintf(text, sizeof text, "ICMP%s type %u code %u %s %s", sf_addr_is_v4(addr) ? "" : "v6",
             m->type, m->code, dir, a);
    sf_sim_note(sim, host, text);
}

static sf_trace_rec *rec_of(sf_sim *sim, long rec)
{
    /* (an index, not a pointer: hooks may have grown the trace; and a trace
     * taken away, sf_sim_take_trace, has none of the records) */
    return sf_trace_at(&sim->trace, rec);
}

/* ---- the pcap: every packet once, when its fate is settled --------------------- */

/* How a packet's story ends, the last words of its comment in the pcap. */
typedef enum {
    CAP_DELIVERED,
    CAP_MODIFIED,   /* delivered; the stack got an ingress hook's version */
    CAP_DUPLICATED, /* delivered; an ingress hook gave the stack copies too */
    CAP_LOST,
    CAP_NO_HOST,
    CAP_DROPPED_EGRESS,
    CAP_ANSWERED_EGRESS,
    CAP_REPLACED,
    CAP_DROPPED_INGRESS,
    CAP_ANSWERED_INGRESS,
    CAP_IN_FLIGHT, /* the recording stopped before it arrived */
} cap_fate;

static const char *const cap_fates[] = {
    [CAP_DELIVERED] = "delivered",
    [CAP_MODIFIED] = "modified on arrival by hook %u, delivered",
    [CAP_DUPLICATED] = "duplicated on arrival by hook %u, delivered",
    [CAP_LOST] = "lost by the link",
    [CAP_NO_HOST] = "no host",
    [CAP_DROPPED_EGRESS] = "dropped by egress hook %u",
    [CAP_ANSWERED_EGRESS] = "dropped by egress hook %u, which answered",
    [CAP_REPLACED] = "replaced by hook %u",
    [CAP_DROPPED_INGRESS] = "dropped by ingress hook %u",
    [CAP_ANSWERED_INGRESS] = "dropped by ingress hook %u, which answered",
    [CAP_IN_FLIGHT] = "in flight at the end",
};

static const char *const cap_origins[] = {
    [ORIGIN_STACK] = "",
    [ORIGIN_SCRIPT] = "injected by the script, ",
    [ORIGIN_REPLACEMENT] = "replacement by hook %u, ",
    [ORIGIN_COPY] = "copy by hook %u, ",
    [ORIGIN_ANSWER] = "answer by hook %u, ",
};

static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, size - n, fmt, ap);
    va_end(ap);
}

/* The packet's source (src 1) or destination address, as its IP header
 * has it (a crafted packet's stranger, no host, too); "?" when there is no
 * IP header. */
static void cap_addr(const sim_pkt *p, int src, char out[SF_ADDR_STRLEN])
{
    sf_addr a;
    if (p->len >= 40 && p->data[0] >> 4 == 6) {
        memcpy(a.b, p->data + (src ? 8 : 24), 16);
    } else if (p->len >= 20 && p->data[0] >> 4 == 4) {
        const uint8_t *q = p->data + (src ? 12 : 16);
        a = sf_addr_v4((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3]);
    } else {
        snprintf(out, SF_ADDR_STRLEN, "?");
        return;
    }
    sf_addr_str(a, out);
}

/* Writes p to the pcap: its bytes as they were on the wire (an ingress
 * hook's modification reaches only the stack), stamped with the time it
 * entered the wire, and a comment with what synfin knows: "synfin #12
 * 192.0.2.1 > 192.0.2.2: delayed 1 s by hook 2, delivered". Callers check
 * sim->pcap first, so that a net without one pays a NULL check. The fate
 * of a segment is settled late (an ingress hook may drop it on arrival),
 * so the file is in the order of fates, not of times. */
static void capture(sf_sim *sim, sim_pkt *p, cap_fate fate, uint32_t hook)
{
    fill_csum(p);
    const sf_trace_rec *r = rec_of(sim, p->rec);
    char text[256] = "", from[SF_ADDR_STRLEN], to[SF_ADDR_STRLEN];
    cap_addr(p, 1, from);
    cap_addr(p, 0, to);
    if (r)
        append(text, sizeof text, "synfin #%u %s > %s: ", r->seg_no, from, to);
    else
        append(text, sizeof text, "synfin ICMP %s > %s: ", from, to);
    append(text, sizeof text, cap_origins[p->origin], p->made_by);
    if (p->dup_hook) append(text, sizeof text, "duplicated by hook %u, ", p->dup_hook);
    if (r && r->delay)
        append(text, sizeof text, "delayed %g s by hook %u, ", (double)r->delay / 1e6,
               p->delay_hook);
    append(text, sizeof text, cap_fates[fate], hook);
    sf_pcap_write(sim->pcap, sim->epoch_us + (r ? r->time : p->sent), p->data, p->len, text);
}

/* The record shows the packet as it arrives: CE. */
static void mark_ce(sim_pkt *p, sf_trace_rec *r)
{
    if (sf_wire_mark_ce(p->data, p->len) && r) r->tos |= 3;
}

/* The bottleneck at host h's way out (sf_link.rate): whether packet p is
 * lost there (a full queue, or above the threshold and not ECN-capable; an
 * ECN-capable one is marked instead), else when it will have left. */
static int bottleneck(sf_sim *sim, sim_host *h, sim_pkt *p, sf_trace_rec *r, uint64_t *leaves)
{
    const sf_link *l = &sim->link;
    uint32_t cap = l->queue ? l->queue : 100;
    if (h->queue_cap != cap) { /* (a new link: its queue starts empty) */
        uint64_t *ring = malloc(cap * sizeof *ring);
        if (!ring) return 0; /* without memory, no bottleneck */
        free(h->leaves);
        h->leaves = ring;
        h->queue_cap = cap;
        h->queue_head = h->queue_len = 0;
    }
    while (h->queue_len && h->leaves[h->queue_head] <= sim->now) { /* gone already */
        h->queue_head = (h->queue_head + 1) % cap;
        h->queue_len--;
    }
    if (h->queue_len >= cap) return 1;
    if (l->threshold && h->queue_len >= l->threshold) {
        if (!sf_wire_ecn(p->data, p->len)) return 1; /* not ECN-capable: dropped early */
        mark_ce(p, r);
    }
    uint64_t start = sim->now;
    if (h->queue_len) {
        uint64_t last = h->leaves[(h->queue_head + h->queue_len - 1) % cap];
        if (last > start) start = last;
    }
    *leaves = start + ((uint64_t)p->len * 8 * 1000000 + l->rate - 1) / l->rate;
    h->leaves[(h->queue_head + h->queue_len) % cap] = *leaves;
    h->queue_len++;
    return 0;
}

/* The link: lost by its seeded loss or at the sender's bottleneck, or
 * delivered one latency (plus the hooks' delay, plus the time it waited
 * and took to leave the bottleneck) later. */
static void to_link(sf_sim *sim, sim_pkt *p, uint64_t delay)
{
    sf_trace_rec *r = rec_of(sim, p->rec);
    if (p->to < 0) {
        if (r) r->fate = SF_FATE_NO_HOST;
        if (sim->pcap) capture(sim, p, CAP_NO_HOST, 0);
        pkt_free(sim, p);
        return;
    }
    uint64_t leaves = sim->now;
    if ((sim->link.loss > 0 && sf_rand_unit(&sim->rng) < sim->link.loss) ||
        (sim->link.rate && p->from >= 0 && bottleneck(sim, sim->hosts[p->from], p, r, &leaves))) {
        if (r) r->fate = SF_FATE_LOST;
        if (sim->pcap) capture(sim, p, CAP_LOST, 0);
        pkt_free(sim, p);
        return;
    }
    if (sim->link.mark > 0 && sf_wire_ecn(p->data, p->len) &&
        sf_rand_unit(&sim->rng) < sim->link.mark)
        mark_ce(p, r);
    schedule(sim, p, leaves + delay + sim->link.latency);
}

/* A packet a hook made (a replacement, a copy, an answer: `origin`), sent by
 * host h onto the wire without passing hooks again. */
static void send_made(sf_sim *sim, int h, sim_pkt *q, uint32_t hook_id, int origin)
{
    sf_seg seg;
    q->origin = (uint8_t)origin;
    q->made_by = hook_id;
    long rec = record_seg(sim, h, q, &seg, 1);
    if (rec < 0) {
        pkt_free(sim, q);
        return;
    }
    rec_of(sim, rec)->hook_id = hook_id; /* (just added: kept) */
    to_link(sim, q, 0);
}

static void hook_sends(sf_sim *sim, int h, const uint8_t *pkt, size_t len, uint32_t conn_id,
                       uint32_t hook_id, int origin)
{
    sim_pkt *q = pkt_new(sim, pkt, len);
    if (!q) return;
    q->conn_id = conn_id;
    send_made(sim, h, q, hook_id, origin);
}

/* A packet leaves host h: egress hooks, then the link. */
static void egress(sf_sim *sim, sim_host *h, sim_pkt *p, int injected)
{
    sf_seg seg;
    if (injected) p->origin = ORIGIN_SCRIPT;
    if (record_seg(sim, h->index, p, &seg, injected) < 0) {
        pkt_free(sim, p);
        return;
    }
    sf_hook_ctx ctx = {.dir = SF_EGRESS,
                       .now = sim->now,
                       .seg = &seg,
                       .conn_id = p->conn_id,
                       .state = p->state,
                       .seg_no = rec_of(sim, p->rec) ? rec_of(sim, p->rec)->seg_no : 0,
                       .rec = p->rec};
    /* a hook may send (sf_sim_inject), and its packet leaves through here
     * at once, inside this run: sf_sim_inject bounds the depth */
    sim->egress_depth++;
    sf_verdict v = sf_hooks_run(&h->hooks, &ctx, &sim->rng, &sim->hook_failures);
    sim->egress_depth--;
    sf_trace_rec *r = rec_of(sim, p->rec);
    switch (v.kind) {
    case SF_DROP:
    case SF_REPLACE:
    case SF_ANSWER:
        if (r) {
            r->fate = v.kind == SF_REPLACE ? SF_FATE_REPLACED : SF_FATE_DROPPED_EGRESS;
            r->hook_id = v.hook_id;
        }
        if (sim->pcap)
            capture(sim, p,
                    v.kind == SF_REPLACE  ? CAP_REPLACED
                    : v.kind == SF_ANSWER ? CAP_ANSWERED_EGRESS
                                          : CAP_DROPPED_EGRESS,
                    v.hook_id);
        if (v.kind == SF_REPLACE)
            hook_sends(sim, h->index, v.pkt, v.len, p->conn_id, v.hook_id, ORIGIN_REPLACEMENT);
        if (v.kind == SF_ANSWER) {
            /* the answer comes back to this host, from the other side, now */
            sim_pkt *a = pkt_new(sim, v.pkt, v.len);
            if (a) {
                sf_seg as;
                a->origin = ORIGIN_ANSWER;
                a->made_by = v.hook_id;
                int from = sf_wire_parse(a->data, a->len, &as, NULL) == 0 || as.bad_csum
                               ? sf_sim_host_of(sim, as.saddr)
                               : -1;
                if (record_seg(sim, from, a, &as, 1) >= 0) {
                    rec_of(sim, a->rec)->hook_id = v.hook_id; /* (just added: kept) */
                    rec_of(sim, a->rec)->to_host = (uint16_t)h->index;
                    a->to = h->index;
                    a->skip_hooks = 1;
                    schedule(sim, a, sim->now);
                } else {
                    pkt_free(sim, a);
                }
            }
        }
        pkt_free(sim, p);
        return;
    case SF_DUP: {
        /* the copies go on the wire right behind it */
        sim_pkt *copies[100];
        uint32_t n = 0;
        for (uint32_t i = 1; i < v.count && n < 100; i++) {
            sim_pkt *q = pkt_new(sim, p->data, p->len);
            if (!q) break;
            q->conn_id = p->conn_id;
            copies[n++] = q;
        }
        if (r) r->hook_id = v.hook_id;
        if (n) p->dup_hook = v.hook_id;
        to_link(sim, p, 0);
        for (uint32_t i = 0; i < n; i++)
            send_made(sim, h->index, copies[i], v.hook_id, ORIGIN_COPY);
        return;
    }
    case SF_DELAY:
        if (r) {
            r->delay = v.delay;
            r->hook_id = v.hook_id;
        }
        p->delay_hook = v.hook_id;
        to_link(sim, p, v.delay);
        return;
    default: to_link(sim, p, 0); return;
    }
}

void sf_sim_flush(sf_sim *sim, int host)
{
    sim_host *h = sim->hosts[host];
    /* a hook of this host that makes it send (a user call) gets here again:
     * the loop below sends that too, after what was queued first, instead
     * of one level deeper on the C stack per packet */
    if (h->flushing) return;
    h->flushing = 1;
    while (h->pending) {
        sim_pkt *p = h->pending;
        h->pending = p->next;
        if (!h->pending) h->pending_tail = &h->pending;
        p->next = NULL;
        egress(sim, h, p, 0);
    }
    h->flushing = 0;
}

/* A packet arrives at its host: ingress hooks, then the stack. */
static void deliver(sf_sim *sim, sim_pkt *p)
{
    sim_host *h = sim->hosts[p->to];
    cap_fate fate = CAP_DELIVERED; /* for the pcap */
    uint32_t fate_hook = 0;
    if (h->port) {
        /* out to the real network: hooks ran on the sending host */
        if (rec_of(sim, p->rec)) {
            rec_of(sim, p->rec)->fate = SF_FATE_DELIVERED;
            rec_of(sim, p->rec)->arrival = sim->now;
        }
        if (sim->pcap) capture(sim, p, CAP_DELIVERED, 0);
        fill_csum(p);
        h->port(h->port_ud, p->data, p->len);
        pkt_free(sim, p);
        return;
    }
    /* (no hook on the host: nothing to parse the segment for) */
    if (!p->skip_hooks && h->hooks.head) {
        sf_seg seg;
        parse_pkt(p, &seg, NULL);
        sf_hook_ctx ctx = {.dir = SF_INGRESS,
                           .now = sim->now,
                           .seg = &seg,
                           .state = -1,
                           .seg_no = rec_of(sim, p->rec) ? rec_of(sim, p->rec)->seg_no : 0,
                           .rec = p->rec};
        if (h->stack) {
            sf_conn *c = sf_stack_lookup(h->stack, seg.daddr, seg.saddr, seg.dport, seg.sport);
            if (c) {
                ctx.conn_id = sf_conn_id(c);
                ctx.state = (int)sf_conn_state(c);
            }
        }
        sf_verdict v = sf_hooks_run(&h->hooks, &ctx, &sim->rng, &sim->hook_failures);
        sf_trace_rec *r = rec_of(sim, p->rec);
        if (v.kind == SF_DROP) {
            if (r) {
                r->fate = SF_FATE_DROPPED_INGRESS;
                r->arrival = sim->now;
                r->hook_id = v.hook_id;
            }
            if (sim->pcap) capture(sim, p, CAP_DROPPED_INGRESS, v.hook_id);
            pkt_free(sim, p);
            return;
        }
        if (v.kind == SF_DELAY && v.delay > 0) {
            if (r) {
                r->delay += v.delay;
                r->hook_id = v.hook_id;
            }
            p->delay_hook = v.hook_id;
            p->skip_hooks = 1;
            schedule(sim, p, sim->now + v.delay);
            return;
        }
        if (v.kind == SF_ANSWER) {
            /* dropped on arrival; the answer goes back from this host */
            if (r) {
                r->fate = SF_FATE_DROPPED_INGRESS;
                r->arrival = sim->now;
                r->hook_id = v.hook_id;
            }
            if (sim->pcap) capture(sim, p, CAP_ANSWERED_INGRESS, v.hook_id);
            hook_sends(sim, h->index, v.pkt, v.len, 0, v.hook_id, ORIGIN_ANSWER);
            pkt_free(sim, p);
            return;
        }
        if (v.kind == SF_REPLACE) {
            /* the stack gets the hook's version; the wire had the original */
            sim_pkt *q = pkt_new(sim, v.pkt, v.len);
            if (q) {
                q->rec = p->rec;
                q->from = p->from;
                q->to = p->to;
                if (sim->pcap) capture(sim, p, CAP_MODIFIED, v.hook_id); /* the wire's bytes */
                fate = CAP_MODIFIED;
                pkt_free(sim, p);
                p = q;
                if (r) r->hook_id = v.hook_id;
                char note[64];
                snprintf(note, sizeof note, "segment #%u modified on arrival by hook %u",
                         r ? r->seg_no : 0u, v.hook_id);
                sf_sim_note(sim, h->index, note);
            }
        }
        if (v.kind == SF_DUP && h->stack) {
            for (uint32_t i = 1; i < v.count; i++) /* the copies arrive too */
                stack_input(h, p);
            r = rec_of(sim, p->rec); /* their events grew the trace: r may have moved */
            if (r) r->hook_id = v.hook_id;
            fate = CAP_DUPLICATED;
            fate_hook = v.hook_id;
        }
    }
    if (rec_of(sim, p->rec)) {
        rec_of(sim, p->rec)->fate = SF_FATE_DELIVERED;
        rec_of(sim, p->rec)->arrival = sim->now;
    }
    if (sim->pcap && fate != CAP_MODIFIED) capture(sim, p, fate, fate_hook);
    if (h->stack) {
        sim->current_seg = rec_of(sim, p->rec) ? rec_of(sim, p->rec)->seg_no : 0;
        stack_input(h, p);
        sim->current_seg = 0;
        sf_sim_flush(sim, h->index);
    }
    pkt_free(sim, p);
}

/* ---- the clock ----------------------------------------------------------------- */

uint64_t sf_sim_next_time(const sf_sim *sim)
{
    const sim_pkt *first = next_pkt(sim);
    uint64_t next = first ? first->time : UINT64_MAX;
    for (int i = 0; i < sim->nhosts; i++) {
        sf_stack *st = sim->hosts[i]->stack;
        if (!st) continue;
        uint64_t d = sf_stack_deadline(st);
        if (d < next) next = d;
    }
    return next;
}

int sf_sim_step(sf_sim *sim, uint64_t limit)
{
    uint64_t next = sf_sim_next_time(sim);
    if (next == UINT64_MAX || next > limit) {
        if (limit != UINT64_MAX && limit > sim->now) sim->now = limit;
        return 0;
    }
    if (next > sim->now) sim->now = next;
    /* timers first, then arrivals, host by host: a fixed order */
    for (int i = 0; i < sim->nhosts; i++) {
        sim_host *h = sim->hosts[i];
        if (h->stack && sf_stack_deadline(h->stack) <= sim->now) {
            sf_stack_poll(h->stack, sim->now);
            sf_sim_flush(sim, i);
        }
    }
    /* bounded: the arrivals scheduled for this instant before we began,
     * one batch per host: all processed before any ACK (MUST-59) */
    uint64_t last = sim->order;
    for (int i = 0; i < sim->nhosts; i++)
        if (sim->hosts[i]->stack) sf_stack_batch_begin(sim->hosts[i]->stack);
    for (sim_pkt *p; (p = next_pkt(sim)) && p->time <= sim->now && p->order < last;)
        deliver(sim, unschedule(sim));
    for (int i = 0; i < sim->nhosts; i++) {
        if (!sim->hosts[i]->stack) continue;
        sf_stack_batch_end(sim->hosts[i]->stack, sim->now);
        sf_sim_flush(sim, i);
    }
    return 1;
}

/* ---- hosts ----------------------------------------------------------------------- */

sf_sim *sf_sim_new(uint64_t seed)
{
    sf_sim *sim = calloc(1, sizeof *sim);
    if (!sim) return NULL;
    sf_rand_seed(&sim->rng, seed);
    sf_trace_init(&sim->trace);
    return sim;
}

void sf_sim_free(sf_sim *sim)
{
    if (!sim) return;
    sf_sim_pcap_close(sim, NULL, 0);
    for (int i = 0; i < sim->nhosts; i++) {
        sim_host *h = sim->hosts[i];
        sf_hooks_clear(&h->hooks);
        sf_stack_free(h->stack);
        for (sim_pkt *p = h->pending, *next; p; p = next) {
            next = p->next;
            free(p->data);
            free(p);
        }
        free(h->leaves);
        free(h);
    }
    for (size_t i = 0; i < sim->heap_len; i++) {
        free(sim->heap[i]->data);
        free(sim->heap[i]);
    }
    for (sim_pkt *p = sim->now_head, *next; p; p = next) {
        next = p->next;
        free(p->data);
        free(p);
    }
    for (sim_pkt *p = sim->free_pkts, *next; p; p = next) {
        next = p->next;
        free(p->data);
        free(p);
    }
    free(sim->heap);
    free(sim->hosts);
    free(sim->scratch);
    sf_trace_free(&sim->trace);
    free(sim);
}

void sf_sim_set_link(sf_sim *sim, const sf_link *link)
{
    sim->link = *link;
}

int sf_sim_host_of(const sf_sim *sim, sf_addr addr)
{
    for (int i = 0; i < sim->nhosts; i++)
        for (size_t k = 0; k < sim->hosts[i]->naddrs; k++)
            if (sf_addr_eq(sim->hosts[i]->addrs[k], addr)) return i;
    return -1;
}

int sf_sim_add_host(sf_sim *sim, const sf_addr *addrs, size_t n, const sf_config *cfg)
{
    if (n == 0 || n > SF_STACK_ADDRS) return SF_EINVAL;
    for (size_t k = 0; k < n; k++) {
        if (!sf_addr_is_unicast(addrs[k])) return SF_EINVAL;
        if (sf_sim_host_of(sim, addrs[k]) >= 0) return SF_EADDRINUSE;
        for (size_t j = 0; j < k; j++)
            if (sf_addr_eq(addrs[j], addrs[k])) return SF_EADDRINUSE;
    }
    if (sim->nhosts >= UINT16_MAX - 1) return SF_ENOMEM;
    sim_host **hosts = realloc(sim->hosts, (size_t)(sim->nhosts + 1) * sizeof *hosts);
    if (!hosts) return SF_ENOMEM;
    sim->hosts = hosts;
    sim_host *h = calloc(1, sizeof *h);
    if (!h) return SF_ENOMEM;
    h->sim = sim;
    h->index = sim->nhosts;
    memcpy(h->addrs, addrs, n * sizeof *addrs);
    h->naddrs = n;
    h->hooks.next_id = &sim->hook_ids;
    h->pending_tail = &h->pending;
    if (cfg) {
        sf_config c = *cfg;
        memcpy(c.addrs, addrs, n * sizeof *addrs);
        c.naddrs = (uint8_t)n;
        sf_callbacks cb = {host_emit, host_event};
        h->stack = sf_stack_new(&c, &cb, h);
        if (!h->stack) {
            free(h);
            return SF_ENOMEM;
        }
    }
    sim->hosts[sim->nhosts++] = h;
    return h->index;
}

int sf_sim_host_count(const sf_sim *sim)
{
    return sim->nhosts;
}
sf_addr sf_sim_host_addr(const sf_sim *sim, int host)
{
    return sim->hosts[host]->addrs[0];
}
const sf_addr *sf_sim_host_addrs(const sf_sim *sim, int host, size_t *n)
{
    *n = sim->hosts[host]->naddrs;
    return sim->hosts[host]->addrs;
}
sf_addr sf_sim_host_addr_like(const sf_sim *sim, int host, sf_addr like)
{
    const sim_host *h = sim->hosts[host];
    for (size_t k = 0; k < h->naddrs; k++)
        if (sf_addr_is_v4(h->addrs[k]) == sf_addr_is_v4(like)) return h->addrs[k];
    return h->addrs[0];
}
sf_stack *sf_sim_stack(sf_sim *sim, int host)
{
    return sim->hosts[host]->stack;
}
sf_hooks *sf_sim_hooks(sf_sim *sim, int host)
{
    return &sim->hosts[host]->hooks;
}
uint64_t sf_sim_now(const sf_sim *sim)
{
    return sim->now;
}
void sf_sim_take_trace(sf_sim *sim, sf_trace *out)
{
    *out = sim->trace;
    sf_trace_init(&sim->trace);
}

sf_trace *sf_sim_trace(sf_sim *sim)
{
    return &sim->trace;
}
sf_rand *sf_sim_rand(sf_sim *sim)
{
    return &sim->rng;
}
int sf_sim_hook_failures(const sf_sim *sim)
{
    return sim->hook_failures;
}

int sf_sim_inject(sf_sim *sim, int host, sf_dir dir, const sf_seg *seg)
{
    /* a hook sending on its own path would recurse until the C stack ends */
    if (dir == SF_EGRESS && sim->egress_depth >= SF_SIM_DEPTH_MAX) return SF_ELOOP;
    if (!sim->scratch && !(sim->scratch = malloc(SF_SIM_PACKET_MAX))) return SF_ENOMEM;
    int n = sf_wire_build(sim->scratch, SF_SIM_PACKET_MAX, seg);
    if (n < 0) return n;
    sim_pkt *p = pkt_new(sim, sim->scratch, (size_t)n);
    if (!p) return SF_ENOMEM;
    if (dir == SF_EGRESS) {
        egress(sim, sim->hosts[host], p, 1);
        return SF_OK;
    }
    /* on the wire toward `host`, arriving now */
    p->origin = ORIGIN_SCRIPT;
    record_parsed(sim, sf_sim_host_of(sim, seg->saddr), host, p, seg, 1);
    schedule(sim, p, sim->now);
    return SF_OK;
}

void sf_sim_set_port(sf_sim *sim, int host, sf_port_send send, void *ud)
{
    sim->hosts[host]->port = send;
    sim->hosts[host]->port_ud = ud;
}

static int receive(sf_sim *sim, const uint8_t *pkt, size_t len, bool trusted)
{
    /* IPv4 or IPv6 TCP, and ICMP or ICMPv6 quoting TCP, for a host of this
     * net; a real device also carries multicast, Neighbor Discovery, other
     * protocols: not ours */
    int is_icmp = sf_wire_is_icmp(pkt, len);
    uint8_t csum = CSUM_VERIFY;
    sf_seg seg;
    sf_icmp icmp;
    sf_addr saddr, daddr;
    if (is_icmp) {
        if (sf_icmp_parse(pkt, len, &icmp, NULL) != 0) goto ignore;
        saddr = icmp.saddr, daddr = icmp.daddr;
    } else {
        int rc = trusted ? sf_wire_parse_trusted(pkt, len, &seg, NULL) : -1;
        /* trusted only where the pcap can complete the checksum: the packet
         * is its IP length exactly, and the TCP header follows the IP one
         * (sf_wire_fill_tcp_checksum: no IPv6 extension header) */
        if (rc == 0 && ((size_t)(seg.payload - pkt) + seg.len != len ||
                        (pkt[0] >> 4 == 6 && pkt[6] != 6 /* TCP */)))
            rc = -1;
        if (rc != 0) {
            trusted = false;
            rc = sf_wire_parse(pkt, len, &seg, NULL);
        }
        if (rc != 0 && !seg.bad_csum) goto ignore;
        saddr = seg.saddr, daddr = seg.daddr;
        csum = trusted ? CSUM_PARTIAL : rc == 0 ? CSUM_OK : CSUM_VERIFY;
    }
    int to = sf_sim_host_of(sim, daddr);
    if (to < 0 || sim->hosts[to]->port) goto ignore;
    sim_pkt *p = pkt_new(sim, pkt, len);
    if (!p) return -1;
    p->csum = csum;
    int from = sf_sim_host_of(sim, saddr);
    if (is_icmp) {
        p->from = from;
        p->to = to;
        p->skip_hooks = 1; /* hooks see TCP segments only */
        note_icmp(sim, to, &icmp, "from", saddr);
    } else {
        record_parsed(sim, from, to, p, &seg, 0);
    }
    schedule(sim, p, sim->now);
    return 0;
ignore:
    sim->ignored++;
    return -1;
}

int sf_sim_receive(sf_sim *sim, const uint8_t *pkt, size_t len)
{
    return receive(sim, pkt, len, false);
}

int sf_sim_receive_trusted(sf_sim *sim, const uint8_t *pkt, size_t len)
{
    return receive(sim, pkt, len, true);
}

uint64_t sf_sim_ignored(const sf_sim *sim)
{
    return sim->ignored;
}

void sf_sim_set_now(sf_sim *sim, uint64_t now)
{
    if (now > sim->now) sim->now = now;
}

void sf_sim_note(sf_sim *sim, int host, const char *text)
{
    long i = sf_trace_add(&sim->trace, SF_TR_NOTE, sim->now);
    if (i < 0) return;
    rec_of(sim, i)->host = host < 0 ? UINT16_MAX : (uint16_t)host;
    sf_trace_text(&sim->trace, i, text, strlen(text));
}

int sf_sim_inject_icmp(sf_sim *sim, int host, const sf_icmp *m)
{
    sf_icmp msg = *m;
    if (sf_addr_is_zero(msg.saddr)) msg.saddr = sf_sim_host_addr_like(sim, host, msg.daddr);
    uint8_t buf[160];
    int n = sf_icmp_build(buf, sizeof buf, &msg);
    if (n < 0) return n;
    int to = sf_sim_host_of(sim, msg.daddr);
    note_icmp(sim, host, &msg, "to", msg.daddr);
    if (to < 0) return SF_OK;
    sim_pkt *p = pkt_new(sim, buf, (size_t)n);
    if (!p) return SF_ENOMEM;
    p->from = host;
    p->to = to;
    p->skip_hooks = 1; /* hooks see TCP segments only */
    p->origin = ORIGIN_SCRIPT;
    schedule(sim, p, sim->now + sim->link.latency);
    return SF_OK;
}

/* ---- recording ------------------------------------------------------------------- */

void sf_sim_set_epoch(sf_sim *sim, uint64_t epoch_us)
{
    sim->epoch_us = epoch_us;
}

int sf_sim_pcap_open(sf_sim *sim, const char *path, char *err, size_t errlen)
{
    if (sf_sim_pcap_close(sim, err, errlen) != 0) return -1;
    sim->pcap = sf_pcap_open(path, err, errlen);
    return sim->pcap ? 0 : -1;
}

int sf_sim_pcap_close(sf_sim *sim, char *err, size_t errlen)
{
    if (!sim->pcap) return 0;
    /* what is still on its way: its fate is never settled */
    for (size_t i = 0; i < sim->heap_len; i++)
        capture(sim, sim->heap[i], CAP_IN_FLIGHT, 0);
    for (sim_pkt *p = sim->now_head; p; p = p->next)
        capture(sim, p, CAP_IN_FLIGHT, 0);
    int rc = sf_pcap_close(sim->pcap, err, errlen);
    sim->pcap = NULL;
    return rc;
}
