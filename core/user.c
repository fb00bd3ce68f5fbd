/* user.c - the user calls of RFC 9293 §3.10.1-§3.10.6: OPEN (listen and
 * connect), SEND, RECEIVE, CLOSE, ABORT and STATUS, with the errors the RFC
 * names for each state. */
#include "tcb.h"

#include <string.h>

sf_conn *sf_listen(sf_stack *st, uint64_t now, uint16_t port, int backlog, const sf_policy *pol,
                   int *err)
{
    sf_stack_at(st, now);
    (void)now;
    int dummy;
    if (!err) err = &dummy;
    if (port == 0) {
        *err = SF_EINVAL;
        return NULL;
    }
    sf_conn *l = sf_find_listener(st, port);
    if (l) {
        *err = SF_EADDRINUSE;
        return NULL;
    }
    l = sf_conn_new(st, pol);
    if (!l) {
        *err = SF_ENOMEM;
        return NULL;
    }
    l->lport = port;
    l->is_listener = true;
    l->held = true;
    l->backlog = (uint16_t)(backlog > 0 ? (backlog > 65535 ? 65535 : backlog) : st->cfg.backlog);
    sf_conn_hash(l);
    sf_set_state(l, SF_LISTEN, SF_CAUSE_USER, "listen");
    *err = SF_OK;
    return l;
}

/* An unused local port for this remote socket, from the ephemeral range. */
static uint16_t pick_port(sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t rport)
{
    uint32_t span = (uint32_t)st->cfg.ephemeral_hi - st->cfg.ephemeral_lo + 1;
    for (uint32_t i = 0; i < span; i++) {
        uint16_t p = st->next_ephemeral;
        st->next_ephemeral = p >= st->cfg.ephemeral_hi ? st->cfg.ephemeral_lo : (uint16_t)(p + 1);
        if (!sf_tuple_taken(st, laddr, raddr, p, rport) && !sf_find_listener(st, p)) return p;
    }
    return 0;
}

/* RFC 9293 §3.9.1.1: "If the local IP address is not specified, the TCP
 * endpoint MUST choose a local IP address for the connection" (MUST-44):
 * the stack's first address of the remote's family, the order they were
 * given in being the embedder's preference. One the user names must be the
 * stack's own and of that family; else there is none (false). */
static bool pick_laddr(const sf_stack *st, const sf_addr *given, sf_addr raddr, sf_addr *out)
{
    if (given) {
        *out = *given;
        return sf_stack_has_addr(st, *given) && sf_addr_is_v4(*given) == sf_addr_is_v4(raddr);
    }
    for (size_t i = 0; i < st->cfg.naddrs; i++)
        if (sf_addr_is_v4(st->cfg.addrs[i]) == sf_addr_is_v4(raddr)) {
            *out = st->cfg.addrs[i];
            return true;
        }
    return false;
}

sf_conn *sf_connect(sf_stack *st, uint64_t now, const sf_addr *laddr_given, sf_addr raddr,
                    uint16_t rport, uint16_t lport, const sf_policy *pol, int *err)
{
    sf_stack_at(st, now);
    int dummy;
    if (!err) err = &dummy;
    /* MUST-46: an OPEN to a broadcast or multicast address is refused */
    sf_addr laddr;
    if (!sf_addr_is_unicast(raddr) || rport == 0 || !pick_laddr(st, laddr_given, raddr, &laddr)) {
        *err = SF_EINVAL;
        return NULL;
    }
    if (lport == 0) lport = pick_port(st, laddr, raddr, rport);
    if (lport == 0) {
        *err = SF_EADDRINUSE;
        return NULL;
    }
    if (sf_tuple_taken(st, laddr, raddr, lport, rport)) {
        *err = SF_EEXIST; /* §3.10.1: "connection already exists" */
        return NULL;
    }
    sf_conn *c = sf_conn_new(st, pol);
    if (!c) {
        *err = SF_ENOMEM;
        return NULL;
    }
    c->laddr = laddr;
    c->raddr = raddr;
    c->lport = lport;
    c->rport = rport;
    c->held = true;
    c->iss = sf_isn(st, now, laddr, raddr, lport, rport);
    c->snd_una = c->iss;
    c->snd_nxt = c->iss;
    c->snd_max = c->iss;
    sf_conn_hash(c);
    /* §3.10.1: <SEQ=ISS><CTL=SYN>, SND.UNA <- ISS, SND.NXT <- ISS+1, SYN_SENT */
    sf_set_state(c, SF_SYN_SENT, SF_CAUSE_USER, "connect");
    sf_send_syn(c, now);
    sf_rto_arm(c, now);
    *err = SF_OK;
    return c;
}

sf_conn *sf_accept(sf_conn *l)
{
    if (!l->is_listener) return NULL;
    sf_conn *c = l->accept_queue.head; /* the oldest past SYN_RCVD */
    if (!c) return NULL;
    sf_conn_detach(c);
    c->held = true;
    return c;
}

/* The room SEND has: the send buffer's limit (snd_buf, which c:set may
 * lower below what is queued) less what it holds. */
static uint32_t snd_room(const sf_conn *c)
{
    uint32_t limit = c->pol.snd_buf < c->sndbuf.cap ? c->pol.snd_buf : c->sndbuf.cap;
    return limit > c->sndbuf.len ? limit - c->sndbuf.len : 0;
}

/* SEND (RFC 9293 §3.10.2), urgent or not. */
static int send_data(sf_conn *c, uint64_t now, const void *data, size_t len, bool urgent)
{
    sf_stack_at(c->stack, now);
    switch (c->state) {
    case SF_CLOSED: return c->error ? c->error : SF_ENOTCONN;
    case SF_LISTEN: return SF_EINVAL; /* a listener does not send */
    case SF_SYN_SENT:
    case SF_SYN_RCVD: /* queued until ESTABLISHED (§3.10.2) */
    case SF_ESTABLISHED:
    case SF_CLOSE_WAIT: break;
    default: return SF_ECLOSING; /* §3.10.2: "connection closing" */
    }
    if (c->fin_queued) return SF_ECLOSING;
    uint32_t room = snd_room(c);
    uint32_t n = sf_ring_write(&c->sndbuf, data, len < room ? (uint32_t)len : room);
    if (n == 0 && len > 0) return SF_EAGAIN;
    if (urgent && n > 0) {
        /* MUST-30, MUST-31: the urgent data ends with the last byte queued;
         * a later urgent send moves the pointer on */
        c->snd_up = c->snd_una + sf_syn_unacked(c) + c->sndbuf.len;
        c->snd_urgent = true;
    }
    sf_output(c, now);
    return (int)n;
}

int sf_send(sf_conn *c, uint64_t now, const void *data, size_t len)
{
    return send_data(c, now, data, len, false);
}

int sf_send_urgent(sf_conn *c, uint64_t now, const void *data, size_t len)
{
    return send_data(c, now, data, len, true);
}

/* RECEIVE's answer when nothing is queued: the end of the stream, the
 * connection's error, or "try again". */
static int recv_empty(const sf_conn *c)
{
    if (c->fin_received) return 0; /* end of stream */
    if (c->state == SF_CLOSED) return c->error ? c->error : SF_ENOTCONN;
    return SF_EAGAIN;
}

int sf_recv_peek(sf_conn *c, uint64_t now, void *buf, size_t cap)
{
    sf_stack_at(c->stack, now);
    if (c->is_listener) return SF_EINVAL;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    uint32_t n = c->rcvbuf.len < (uint32_t)cap ? c->rcvbuf.len : (uint32_t)cap;
    if (n == 0) return recv_empty(c);
    /* a copy only: the buffer keeps the bytes, so the window stays where it
     * was and nothing is announced (Linux's tcp_recvmsg with MSG_PEEK
     * neither advances copied_seq nor calls tcp_cleanup_rbuf) */
    sf_ring_peek(&c->rcvbuf, 0, buf, n);
    return (int)n;
}

int sf_recv(sf_conn *c, uint64_t now, void *buf, size_t cap)
{
    sf_stack_at(c->stack, now);
    if (c->is_listener) return SF_EINVAL;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    uint32_t n = sf_ring_read(&c->rcvbuf, buf, (uint32_t)cap);
    if (n > 0) {
        /* announce the opened window as soon as receiver SWS avoidance lets
         * the right edge move (smoltcp#199: else a sender facing a closed
         * window stalls; smoltcp#358: none after the peer's FIN) */
        bool peer_sends =
            c->state == SF_ESTABLISHED || c->state == SF_FIN_WAIT_1 || c->state == SF_FIN_WAIT_2;
        if (peer_sends && !c->fin_received && sf_rcv_update_due(c)) sf_send_ack(c, now);
        /* a drained buffer holding nothing out of order costs nothing until
         * data comes again (and past the peer's FIN, none comes) */
        if (c->ooo.n == 0) sf_ring_trim(&c->rcvbuf);
        return (int)n;
    }
    return recv_empty(c);
}

/* A listener's children nobody accepted end with it: reset (close, abort),
 * or silently (forget); none may outlive the listener it points to. */
static void end_children(sf_conn *l, uint64_t now, bool reset)
{
    while (l->syn_queue.head || l->accept_queue.head) {
        sf_conn *child = l->accept_queue.head ? l->accept_queue.head : l->syn_queue.head;
        if (reset) sf_send_rst(child, now);
        sf_conn_closed(child, SF_CAUSE_USER, reset ? "listener closed" : "listener forgotten", 0);
    }
}

int sf_state_can_close(sf_state s)
{
    return s == SF_LISTEN || s == SF_SYN_SENT || s == SF_SYN_RCVD || s == SF_ESTABLISHED ||
           s == SF_CLOSE_WAIT;
}

int sf_close(sf_conn *c, uint64_t now)
{
    sf_stack_at(c->stack, now);
    switch (c->state) {
    case SF_CLOSED: return SF_ENOTCONN;
    case SF_LISTEN:
        /* children nobody accepted are reset, as Linux does */
        end_children(c, now, true);
        sf_conn_closed(c, SF_CAUSE_USER, "close", 0);
        return SF_OK;
    case SF_SYN_SENT: sf_conn_closed(c, SF_CAUSE_USER, "close", 0); return SF_OK;
    case SF_SYN_RCVD:
        /* §3.10.4: with nothing to send, form a FIN and enter FIN_WAIT_1;
         * otherwise queue the close until ESTABLISHED */
        c->fin_queued = true;
        if (c->sndbuf.len == 0) {
            sf_set_state(c, SF_FIN_WAIT_1, SF_CAUSE_USER, "close");
            sf_output(c, now);
        }
        return SF_OK;
    case SF_ESTABLISHED:
        c->fin_queued = true;
        sf_set_state(c, SF_FIN_WAIT_1, SF_CAUSE_USER, "close");
        sf_output(c, now);
        return SF_OK;
    case SF_CLOSE_WAIT:
        c->fin_queued = true;
        sf_set_state(c, SF_LAST_ACK, SF_CAUSE_USER, "close");
        sf_output(c, now);
        return SF_OK;
    default: return SF_ECLOSING; /* FIN_WAIT_*, CLOSING, LAST_ACK, TIME_WAIT */
    }
}

int sf_close_with(sf_conn *c, uint64_t now, const void *data, size_t len)
{
    sf_stack_at(c->stack, now);
    if (c->state != SF_ESTABLISHED && c->state != SF_CLOSE_WAIT) return sf_close(c, now);
    /* all or nothing: a caller that tries again must not queue a part twice */
    if (len > snd_room(c)) return SF_EAGAIN;
    if (sf_ring_write(&c->sndbuf, data, (uint32_t)len) < len) return SF_ENOMEM;
    return sf_close(c, now); /* its output sends the data, the FIN on the last segment */
}

int sf_forget(sf_conn *c, uint64_t now)
{
    sf_stack_at(c->stack, now);
    if (c->state == SF_CLOSED) return SF_ENOTCONN;
    if (c->state == SF_LISTEN) end_children(c, now, false);
    sf_ring_drop(&c->rcvbuf);
    sf_conn_closed(c, SF_CAUSE_USER, "forget", 0);
    return SF_OK;
}

int sf_abort(sf_conn *c, uint64_t now)
{
    sf_stack_at(c->stack, now);
    switch (c->state) {
    case SF_CLOSED: return SF_ENOTCONN;
    case SF_LISTEN: return sf_close(c, now);
    case SF_SYN_SENT: break;
    case SF_SYN_RCVD:
    case SF_ESTABLISHED:
    case SF_FIN_WAIT_1:
    case SF_FIN_WAIT_2:
    case SF_CLOSE_WAIT: sf_send_rst(c, now); break; /* <SEQ=SND.NXT><CTL=RST> */
    default: break; /* CLOSING, LAST_ACK, TIME_WAIT: "ok", delete the TCB */
    }
    sf_ring_drop(&c->rcvbuf); /* §3.10.5: pending RECEIVEs get "reset" */
    sf_conn_closed(c, SF_CAUSE_USER, "abort", 0);
    return SF_OK;
}

void sf_conn_status(const sf_conn *c, sf_conn_info *i)
{
    memset(i, 0, sizeof *i);
    i->state = c->state;
    i->id = c->id;
    /* a listener listens on every address of the stack: it shows the first */
    i->laddr = c->is_listener && c->stack->cfg.naddrs ? c->stack->cfg.addrs[0] : c->laddr;
    i->raddr = c->raddr;
    i->lport = c->lport;
    i->rport = c->rport;
    i->iss = c->iss;
    i->irs = c->irs;
    i->snd_una = c->snd_una;
    i->snd_nxt = c->snd_nxt;
    i->snd_wnd = c->snd_wnd;
    i->rcv_nxt = c->rcv_nxt;
    i->rcv_wnd = sf_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    i->snd_queued = c->sndbuf.len;
    i->rcv_queued = c->rcvbuf.len;
    i->rto = c->rto;
    i->srtt = c->srtt;
    i->retransmits = c->retransmits;
    i->segs_in = c->segs_in;
    i->segs_out = c->segs_out;
    i->bytes_in = c->bytes_in;
    i->bytes_out = c->bytes_out;
    i->error = c->error;
    i->peer_closed = c->fin_received;
    i->cwnd = c->cwnd;
    i->ssthresh = c->ssthresh;
    uint32_t read_point = c->rcv_nxt - c->rcvbuf.len; /* the next byte the user reads */
    if (c->rcv_urgent && sf_seq_gt(c->rcv_up, read_point)) i->urgent = c->rcv_up - read_point;
}

sf_state sf_conn_state(const sf_conn *c)
{
    return c->state;
}
uint32_t sf_conn_id(const sf_conn *c)
{
    return c->id;
}
sf_policy *sf_conn_policy(sf_conn *c)
{
    return &c->pol;
}

void sf_conn_set_policy(sf_conn *c, uint64_t now, const sf_policy *pol)
{
    bool keepalive_changed = pol->keepalive != c->pol.keepalive;
    /* a larger send buffer: the ring may hold that much (a smaller one
     * keeps its storage; snd_room holds SEND back until it drains) */
    if (pol->snd_buf > c->sndbuf.cap) c->sndbuf.cap = pol->snd_buf;
    c->pol = *pol;
    if (keepalive_changed) sf_keepalive_heard(c, now);
}
