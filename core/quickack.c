/* quickack.c - Linux's ACK pattern (delayed_ack_variant = "linux", the linux
 * profile's): when in-order data is ACKed at once and when it waits. RFC
 * 9293 §3.8.6.3 lets a receiver delay ACKs (SHLD-18), less than 0.5 s
 * (MUST-40); Linux (net/ipv4/tcp_input.c, tcp_output.c, tcp_timer.c):
 *
 * - quick-ACK mode: the first data (tcp_event_data_recv) and data after an
 *   idle time longer than the RTO are ACKed at once for a number of
 *   segments: the window over two receive MSS, 2 at least, 16 at most
 *   (tcp_incr_quickack, TCP_MAX_QUICKACKS); each ACK sent for data uses one
 *   (tcp_dec_quickack_mode);
 * - past it, data is ACKed at once when more than a receive MSS came since
 *   the last ACK and the window does not shrink, else by a delayed ACK
 *   (__tcp_ack_snd_check) after the ATO: delayed_ack (TCP_ATO_MIN, 40 ms)
 *   at first, adapting to the gaps between segments (tcp_event_data_recv),
 *   bounded by the RTT and 200 ms (tcp_send_delayed_ack, TCP_DELACK_MAX);
 * - interactive (pingpong) mode: data sent within the ATO of data received,
 *   or a FIN received in ESTABLISHED (tcp_fin), ends quick-ACK mode: ACKs
 *   wait for data to ride on; a delayed ACK that fires leaves it
 *   (tcp_delack_timer_handler).
 *
 * What synfin leaves out: ACK compression of out-of-order data (synfin ACKs
 * it at once), TCP_QUICKACK and per-route quick-ACK. */
#include "tcb.h"

#define DELACK_MAX    200000 /* TCP_DELACK_MAX: 200 ms */
#define MAX_QUICKACKS 16     /* TCP_MAX_QUICKACKS */
#define MSS_DEFAULT   536    /* TCP_MSS_DEFAULT: the first guess at the peer's MSS */
#define MIN_MSS       88     /* TCP_MIN_MSS */

/* icsk_ack.pending's bits that synfin keeps: small segments came (PUSHED),
 * twice (PUSHED2) */
#define PUSHED  1u
#define PUSHED2 2u

bool sf_quickack_on(const sf_conn *c)
{
    return c->pol.delayed_ack_variant == SF_DELACK_LINUX && c->pol.delayed_ack > 0;
}

/* the window as last announced, from the ACK that announced it (tp->rcv_wnd) */
static uint32_t announced(const sf_conn *c)
{
    return sf_seq_gt(c->rcv_adv, c->last_ack_sent) ? c->rcv_adv - c->last_ack_sent : 0;
}

static uint32_t rcv_mss(const sf_conn *c)
{
    /* tcp_initialize_rcv_mss: at most 536 until segments say more */
    return c->ack.rcv_mss ? c->ack.rcv_mss : MSS_DEFAULT;
}

static void incr_quickack(sf_conn *c)
{
    uint32_t quick = announced(c) / (2 * rcv_mss(c));
    if (quick == 0) quick = 2;
    if (quick > MAX_QUICKACKS) quick = MAX_QUICKACKS;
    if (quick > c->ack.quick) c->ack.quick = (uint8_t)quick;
}

/* tcp_measure_rcv_mss: the peer's MSS guessed from what it sends; a small
 * segment marks the ACK as "pushed" */
static void measure_rcv_mss(sf_conn *c, uint32_t len, uint8_t flags)
{
    uint32_t lss = c->ack.last_seg_size;
    c->ack.last_seg_size = 0;
    if (len >= rcv_mss(c)) {
        uint32_t adv = sf_mss_announced(c);
        c->ack.rcv_mss = (uint16_t)(len < adv ? len : adv);
        return;
    }
    /* two small segments of one size in a row, full-sized as far as the
     * flags tell (no PSH, FIN, URG), are the peer's MSS */
    bool remnant = (flags & (SF_PSH | SF_FIN | SF_URG)) != 0;
    if (len >= MSS_DEFAULT || (len >= MIN_MSS && !remnant)) {
        c->ack.last_seg_size = len;
        if (len == lss) {
            c->ack.rcv_mss = (uint16_t)len;
            return;
        }
    }
    if (c->ack.pending & PUSHED) c->ack.pending |= PUSHED2;
    c->ack.pending |= PUSHED;
}

void sf_quickack_data(sf_conn *c, uint64_t now, uint32_t len, uint8_t flags)
{
    uint64_t ato_min = c->pol.delayed_ack;
    c->ack.scheduled = true;
    measure_rcv_mss(c, len, flags);
    if (!c->ack.ato) {
        incr_quickack(c); /* the first data */
        c->ack.ato = (uint32_t)ato_min;
    } else {
        uint64_t gap = now - c->ack.lrcvtime;
        if (gap <= ato_min / 2) {
            c->ack.ato = (uint32_t)(c->ack.ato / 2 + ato_min / 2);
        } else if (gap < c->ack.ato) {
            c->ack.ato = (uint32_t)(c->ack.ato / 2 + gap);
            if (c->ack.ato > c->rto) c->ack.ato = c->rto;
        } else if (gap > c->rto) {
            incr_quickack(c); /* the sender idled: its window restarts */
        }
    }
    c->ack.lrcvtime = now;
}

void sf_quickack_fin(sf_conn *c)
{
    c->ack.scheduled = true;
    /* tcp_fin: the application will likely answer with its own FIN */
    if (c->state == SF_ESTABLISHED || c->state == SF_SYN_RCVD) c->ack.pingpong = true;
}

/* tcp_send_delayed_ack: the timer at the ATO, bounded; an earlier one stays,
 * and one about to fire is sent now. With no data received yet the ATO is
 * 0: a FIN alone is ACKed at once, by the timer */
static void send_delayed(sf_conn *c, uint64_t now)
{
    uint64_t ato_min = c->pol.delayed_ack, ato = c->ack.ato;
    if (ato > ato_min) {
        uint64_t max_ato = SF_DELACK_MAX; /* HZ / 2 */
        if (c->ack.pingpong || (c->ack.pending & PUSHED)) max_ato = DELACK_MAX;
        if (c->srtt) {
            uint64_t rtt = c->srtt > ato_min ? c->srtt : ato_min;
            if (rtt < max_ato) max_ato = rtt;
        }
        if (ato > max_ato) ato = max_ato;
    }
    if (ato > DELACK_MAX) ato = DELACK_MAX;
    if (ato == 0) { /* Linux's timer fires at the next tick */
        c->ack_now = true;
        return;
    }
    uint64_t at = now + ato;
    if (sf_timer_on(c, SF_TIMER_DELACK)) {
        uint64_t old = c->timer_at[SF_TIMER_DELACK];
        if (old <= now + ato / 4) {
            c->ack_now = true;
            return;
        }
        if (at > old) at = old;
    }
    /* MUST-40: less than 0.5 s (200 ms at most here) */
    sf_timer_set(c, SF_TIMER_DELACK, at);
}

void sf_quickack_check(sf_conn *c, uint64_t now, bool at_once)
{
    bool quick = c->ack.quick && !c->ack.pingpong;
    bool full = c->rcv_nxt - c->last_ack_sent > rcv_mss(c) && sf_rcv_select(c) >= announced(c);
    if (at_once || quick || full) {
        c->ack_now = true;
        return;
    }
    send_delayed(c, now);
}

void sf_quickack_sent(sf_conn *c, uint32_t ack)
{
    if (ack != c->rcv_nxt) return;
    /* tcp_dec_quickack_mode: one quick ACK used for the data it ACKs */
    if (c->ack.quick && c->ack.scheduled) {
        if (--c->ack.quick == 0) c->ack.ato = (uint32_t)c->pol.delayed_ack;
    }
    c->ack.scheduled = false;
    c->ack.pending = 0;
}

void sf_quickack_data_sent(sf_conn *c, uint64_t now)
{
    /* tcp_event_data_sent: a reply within the ATO of the data received */
    if (c->ack.ato && now - c->ack.lrcvtime < c->ack.ato) c->ack.pingpong = true;
}

void sf_quickack_timer(sf_conn *c)
{
    if (!c->ack.scheduled) return;
    if (!c->ack.pingpong) {
        /* the delayed ACK was missed: a longer ATO */
        uint32_t ato = c->ack.ato * 2;
        c->ack.ato = ato < c->rto ? ato : c->rto;
    } else {
        c->ack.pingpong = false; /* no reply came to ride on */
        c->ack.ato = (uint32_t)c->pol.delayed_ack;
    }
}

bool sf_quickack_read_due(const sf_conn *c)
{
    /* __tcp_cleanup_rbuf with a delayed ACK pending: more than a receive MSS
     * unacknowledged, or a read that emptied the buffer of small segments
     * (outside interactive mode unless twice) */
    if (!c->ack.scheduled || !sf_timer_on(c, SF_TIMER_DELACK)) return false;
    if (c->rcv_nxt - c->last_ack_sent > rcv_mss(c)) return true;
    bool pushed = (c->ack.pending & PUSHED2) || ((c->ack.pending & PUSHED) && !c->ack.pingpong);
    return pushed && c->rcvbuf.len == 0 && c->ooo.n == 0;
}
