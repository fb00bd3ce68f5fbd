/* output.c - what a connection sends: SYN and SYN-ACK, data and FIN within
 * the peer's window, ACKs, and resets (RFC 9293 §3.5.2, §3.7, §3.8). */
#include "tcb.h"

#include <string.h>

void sf_emit_seg(sf_stack *st, sf_conn *c, const sf_seg *seg)
{
    if (st->now < st->quiet_until) {
        sf_report_drop(st, c, SF_R_QUIET_TIME);
        return;
    }
    int n = sf_wire_build(st->pkt, sizeof st->pkt, seg);
    if (n < 0) return; /* cannot happen: payloads are bounded by the MSS */
    if (c) {
        c->segs_out++;
        c->bytes_out += seg->len;
        if (seg->flags & SF_ACK) {
            c->last_ack_sent = seg->ack; /* RFC 7323 §4.3: Last.ACK.sent */
            c->unacked_in = 0;
            sf_timer_stop(c, SF_TIMER_DELACK); /* the owed ACK rides on this segment */
            if (sf_quickack_on(c)) sf_quickack_sent(c, seg->ack);
        }
        if (seg->len && sf_quickack_on(c)) sf_quickack_data_sent(c, st->now);
    }
    st->cb.emit(st->ud, c, st->pkt, (size_t)n);
}

/* A segment of this connection with the usual addressing filled in. */
/* Our timestamp clock (RFC 7323 §5.4): milliseconds, from an offset of the
 * connection's own (its ISS) so that it tells nothing of the host's clock. */
uint32_t sf_ts_now(const sf_conn *c, uint64_t now)
{
    return (uint32_t)(now / 1000) + c->iss;
}

/* Filled in place, never returned by value: a segment assembled field by
 * field on the stack and then copied whole was a store-forwarding stall
 * costing an eighth of the bulk path (perf, synfin_bench --only bulk). */
static void conn_seg(const sf_conn *c, uint64_t now, uint32_t seq, uint8_t flags, sf_seg *seg)
{
    memset(seg, 0, sizeof *seg);
    seg->saddr = c->laddr;
    seg->daddr = c->raddr;
    seg->sport = c->lport;
    seg->dport = c->rport;
    seg->seq = seq;
    seg->flags = flags;
    seg->wscale = -1;
    seg->ttl = c->pol.ttl;
    seg->tos = c->pol.tos;
    if (flags & SF_ACK) seg->ack = c->rcv_nxt;
    sf_ecn_ack_out(c, seg);
    if (c->ts_ok && !(flags & SF_RST)) {
        /* RFC 7323 §3.2: once agreed, every segment but a RST carries TSopt */
        seg->has_ts = 1;
        seg->ts_val = sf_ts_now(c, now);
        seg->ts_ecr = c->ts_recent;
    }
}

/* RFC 9293 §3.8.6.2.2 (MUST-39, receiver SWS avoidance): the window we can
 * offer now. The right edge RCV.NXT + RCV.WND never moves left (§3.10.7.4,
 * seventh step), and moves right only once the space not yet offered reaches
 * min(RCV.BUFF / 2, Eff.snd.MSS), so that small openings never leak out. */
static uint32_t rfc_offer(const sf_conn *c, uint32_t promised)
{
    uint32_t space = sf_ring_free(&c->rcvbuf);
    uint32_t most = 65535u << c->rcv_wscale; /* RFC 7323 §2.3 */
    if (space > most) space = most;
    uint32_t step = c->rcvbuf.cap / 2 < c->snd_mss ? c->rcvbuf.cap / 2 : c->snd_mss;
    if (step == 0) step = 1;
    return space > promised && space - promised >= step ? space : promised;
}

/* What the last window announced still promises past RCV.NXT. */
static uint32_t promised_window(const sf_conn *c)
{
    return sf_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

static bool linux_window(const sf_policy *p)
{
    return p->rcv_window == SF_RCV_WINDOW_LINUX;
}

uint32_t sf_rcv_ring_cap(const sf_policy *p)
{
    /* Linux counts the memory its buffers take, about twice the data
     * (tcp_win_from_space at its default ratio); SO_RCVBUF doubles what it
     * is given for that (sock_setsockopt). rcv_buf is the data, the ring
     * holds twice it, and half of what is free may be offered */
    return linux_window(p) ? 2 * p->rcv_buf : p->rcv_buf;
}

uint32_t sf_rcv_initial_window(const sf_policy *p, uint32_t mss)
{
    uint32_t space = p->rcv_buf;
    /* tcp_select_initial_window: a whole number of MSS (64240 = 44 * 1460
     * of 64 KiB), the MSS less the timestamps' 12 bytes when both SYNs
     * carry them (tcp_openreq_init_rwin) */
    if (linux_window(p) && mss && space > mss) space -= space % mss;
    return space > 65535 ? 65535 : space; /* a SYN's window is unscaled */
}

static uint32_t align_up(uint32_t v, uint32_t unit)
{
    return (v + unit - 1) / unit * unit;
}

/* The most the window may grow to (Linux's window_clamp): the buffer, less
 * one segment on an active open (tcp_init_buffer_space, tcp_app_win = 31:
 * "force reservation of one segment"; a passive open's window is seen to
 * grow past it, spec/conformance/differential.md) */
static uint32_t window_clamp(const sf_conn *c)
{
    uint32_t full = c->pol.rcv_buf, adv = sf_mss_announced(c);
    if (c->passive || full <= 2 * adv) return full;
    return full - adv > 2 * adv ? full - adv : 2 * adv;
}

/* Linux's __tcp_select_window: the free space (half the ring's free bytes,
 * tcp_space), at most rcv_ssthresh and the clamp; with a window scale rounded up to
 * its unit ("so that it won't get scaled away") unless the ring cannot back that (then down, as
 * Linux does when its buffer cannot grow); without one, a whole number of MSS. When less than half
 * the buffer is free it offers 0 below an MSS or a sixteenth of the buffer. */
static uint32_t linux_select(const sf_conn *c, uint32_t promised)
{
    uint32_t full = window_clamp(c), ring = sf_ring_free(&c->rcvbuf);
    uint32_t free_space = ring / 2, unit = 1u << c->rcv_wscale, w;
    uint32_t mss = c->snd_mss < full ? c->snd_mss : full; /* icsk_ack.rcv_mss's guess */
    if (free_space < full / 2) {
        free_space -= free_space % unit;
        if (free_space < full / 16 || free_space < mss) return 0;
    }
    if (free_space > c->rcv_ssthresh) free_space = c->rcv_ssthresh;
    if (free_space > full) free_space = full;
    if (c->rcv_wscale) {
        w = align_up(free_space, unit);
        if (w > ring) w = ring - ring % unit;
    } else {
        w = promised;
        if (w + mss <= free_space || w > free_space)
            w = mss ? free_space - free_space % mss : free_space;
        else if (mss == full && free_space > w + full / 2)
            w = free_space;
    }
    return w;
}

/* tcp_select_window: the window never shrinks; the promise kept is rounded
 * up to the scale's unit when the ring can back it */
static uint32_t linux_offer(const sf_conn *c, uint32_t promised)
{
    /* TIME_WAIT answers with the window it was entered with (tcp_time_wait
     * keeps tcp_receive_window in the timewait sock, tw_rcv_wnd) */
    uint32_t w = c->state == SF_TIME_WAIT ? 0 : linux_select(c, promised);
    if (w < promised) {
        w = align_up(promised, 1u << c->rcv_wscale);
        if (w > sf_ring_free(&c->rcvbuf)) w = promised;
    }
    uint32_t most = 65535u << c->rcv_wscale; /* RFC 7323 §2.3 */
    return w > most ? (promised > most ? promised : most) : w;
}

uint32_t sf_rcv_offer(const sf_conn *c)
{
    uint32_t promised = promised_window(c);
    return linux_window(&c->pol) ? linux_offer(c, promised) : rfc_offer(c, promised);
}

void sf_rcv_grow(sf_conn *c, uint32_t len)
{
    /* tcp_event_data_recv calls tcp_grow_window for a segment of 128 bytes
     * or more: rcv_ssthresh grows by twice the MSS we announced (or twice
     * the segment), up to the clamp and the free space. Linux first checks
     * the segment's memory (skb truesize) against its data, which depends
     * on the driver; here every byte costs two, which passes it */
    if (!linux_window(&c->pol) || len < 128) return;
    uint32_t room = sf_ring_free(&c->rcvbuf) / 2, clamp = window_clamp(c);
    if (room > clamp) room = clamp;
    if (room <= c->rcv_ssthresh) return;
    room -= c->rcv_ssthresh;
    uint32_t incr = 2u * sf_mss_announced(c);
    if (incr < 2 * len) incr = 2 * len;
    c->rcv_ssthresh += incr < room ? incr : room;
}

uint32_t sf_rcv_select(const sf_conn *c)
{
    uint32_t promised = promised_window(c);
    return linux_window(&c->pol) ? linux_select(c, promised) : rfc_offer(c, promised);
}

bool sf_rcv_update_due(const sf_conn *c)
{
    if (sf_quickack_on(c) && sf_quickack_read_due(c)) return true; /* a delayed ACK due */
    uint32_t promised = promised_window(c);
    if (!linux_window(&c->pol)) return rfc_offer(c, promised) > promised;
    /* __tcp_cleanup_rbuf: only when the window offered now is at most half
     * the buffer and the read at least doubles it ("raised significantly") */
    if (2ull * promised > window_clamp(c)) return false;
    uint32_t w = linux_select(c, promised);
    return w && w >= 2ull * promised;
}

/* The window field of a segment: the offer, scaled down (RFC 7323 §2.3),
 * and promised as the peer will read it. */
uint16_t sf_rcv_window(sf_conn *c)
{
    uint32_t wnd = sf_rcv_offer(c);
    uint32_t field = wnd >> c->rcv_wscale;
    if (field > 65535) field = 65535;
    /* what the field says is the promise; rounded down, it never goes back
     * on an earlier one, which the offer already covers */
    uint32_t promised = field << c->rcv_wscale;
    if (sf_seq_gt(c->rcv_nxt + promised, c->rcv_adv)) c->rcv_adv = c->rcv_nxt + promised;
    return (uint16_t)field;
}

int sf_wscale_offer(const sf_conn *c)
{
    if (!c->pol.window_scaling) return -1;
    /* the smallest shift that fits the largest buffer in the 16-bit field
     * (Linux's tcp_select_initial_window: ilog2(tcp_rmem[2]) - 15, the
     * same number) */
    uint32_t space = c->pol.rcv_buf > c->pol.rcv_buf_max ? c->pol.rcv_buf : c->pol.rcv_buf_max;
    int shift = 0;
    while (shift < 14 && (space >> shift) > 65535)
        shift++;
    return shift;
}

/* The options and the window of a SYN (seg->flags SYN) or a SYN-ACK, on a
 * segment from conn_seg: our MSS (RFC 9293 §3.7.1, MUST-14 may send it). */
static void syn_options(const sf_conn *c, uint64_t now, sf_seg *seg)
{
    int bare = seg->flags == SF_SYN;
    seg->mss = sf_mss_announced(c);
    /* RFC 7323 §2.2: a SYN offers window scaling; a SYN-ACK only answers a
     * SYN that offered it. The window of a SYN is never scaled. */
    if (bare)
        seg->wscale = (int8_t)sf_wscale_offer(c);
    else if (c->ws_agreed)
        seg->wscale = (int8_t)c->rcv_wscale;
    /* RFC 7323 §3.2: a SYN offers timestamps; a SYN-ACK answers only a SYN
     * that offered them (then conn_seg filled them in) */
    if (bare && c->pol.timestamps) {
        seg->has_ts = 1;
        seg->ts_val = sf_ts_now(c, now);
        seg->ts_ecr = 0;
    }
    /* RFC 2018 §2: a SYN offers SACK; a SYN-ACK answers a SYN that did */
    seg->sack_perm = bare ? c->pol.sack : c->sack_ok;
    uint32_t w = sf_rcv_offer(c);
    if (linux_window(&c->pol)) /* nothing received yet: the first window */
        w = sf_rcv_initial_window(&c->pol, seg->mss - (!bare && c->ts_ok ? 12u : 0u));
    seg->wnd = (uint16_t)(w > 65535 ? 65535 : w);
}

void sf_conn_craft(const sf_conn *c, uint64_t now, uint8_t flags, sf_seg *seg)
{
    conn_seg(c, now, c->snd_nxt, flags, seg);
    if (flags & SF_SYN) {
        syn_options(c, now, seg);
        return;
    }
    /* the window field as sf_rcv_window makes it, without promising it */
    uint32_t field = sf_rcv_offer(c) >> c->rcv_wscale;
    seg->wnd = (uint16_t)(field > 65535 ? 65535 : field);
}

/* SYN (SYN_SENT) or SYN-ACK (SYN_RCVD), first or retransmitted: always from
 * ISS. */
void sf_send_syn(sf_conn *c, uint64_t now)
{
    /* a bare SYN in SYN_SENT; in any later state the peer's SYN has come */
    uint8_t flags = c->state == SF_SYN_SENT ? SF_SYN : (SF_SYN | SF_ACK);
    sf_seg seg;
    conn_seg(c, now, c->iss, flags, &seg);
    syn_options(c, now, &seg);
    sf_ecn_syn_out(c, &seg);
    c->rcv_ssthresh = seg.wnd; /* rcv_window = linux: where the window starts */
    /* a SYN's window is unscaled: a SYN-ACK sent again after a larger
     * scaled window went out never takes that promise back (RFC 9293
     * §3.8.6.2.2: the right edge does not move left) */
    if (sf_seq_gt(c->rcv_nxt + seg.wnd, c->rcv_adv)) c->rcv_adv = c->rcv_nxt + seg.wnd;
    if (c->snd_nxt == c->iss) c->snd_nxt = c->iss + 1;
    if (sf_seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
    /* RFC 9293 §3.10.8: the user timeout holds in any state, SYN_SENT too */
    if (!sf_timer_on(c, SF_TIMER_USER)) sf_user_timeout_progress(c, now);
    if (c->retries == 0) {
        c->syn_first_at = now;
        c->rtt_timing = true;
        c->rtt_seq = c->iss;
        c->rtt_start = now;
    }
    c->ack_now = false;
    sf_emit_seg(c->stack, c, &seg);
}

/* The held range (SHLD-31) that holds sequence number seq, or -1: a
 * binary search, the ranges being sorted. */
static int held_range_of(const sf_conn *c, uint32_t seq)
{
    uint32_t off = seq - c->rcv_nxt;
    int lo = 0, hi = c->ooo.n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (off < c->ooo.r[mid].off)
            hi = mid;
        else if (off - c->ooo.r[mid].off >= c->ooo.r[mid].len)
            lo = mid + 1;
        else
            return mid;
    }
    return -1;
}

/* RFC 2018 §4: the data held past a hole, as SACK blocks: first the block
 * with the segment that arrived last, then the blocks of the segments held
 * before it, latest first (the blocks most recently reported), then any
 * other from the left, as many as fit (3 beside timestamps, else 4). A
 * duplicate to report goes before them all, once (RFC 2883 §4: the first
 * block; Linux's tcp_established_options puts it first and leaves the
 * others in their order). Only pure ACKs carry them: a data segment's room
 * for options is counted without them. */
static void add_sack_blocks(sf_conn *c, sf_seg *seg)
{
    if (!c->sack_ok) return;
    int room = c->ts_ok ? 3 : 4, n = 0;
    if (c->dsack_pending) {
        seg->sack[0][0] = c->dsack[0];
        seg->sack[0][1] = c->dsack[1];
        c->dsack_pending = false;
        n = 1;
    }
    int first = n;
    int chosen[4];
    for (int j = 0; j < 4 + c->ooo.n && n < room; j++) {
        int i = j < 4 ? held_range_of(c, c->sack_recent[j]) : j - 4;
        bool used = i < 0;
        for (int m = first; m < n && !used; m++)
            used = chosen[m] == i;
        if (used) continue;
        chosen[n] = i;
        seg->sack[n][0] = c->rcv_nxt + c->ooo.r[i].off;
        seg->sack[n][1] = seg->sack[n][0] + c->ooo.r[i].len;
        n++;
    }
    seg->sack_n = (uint8_t)n;
}

/* The sequence number of a segment with no data, SYN or FIN: a pure ACK or
 * a RST. RFC 9293 writes <SEQ=SND.NXT>, where SND.NXT never moves back; ours
 * goes back to SND.UNA for a go-back retransmission (RFC 9293 §3.10.8), and
 * the peer may already hold everything up to SND.MAX, so that SND.NXT lies
 * below its RCV.NXT. An ACK there is unacceptable (§3.10.7.4, first step)
 * and its ACK field never read: two such peers, each retransmitting, each
 * answering the other's ACK with its own, stall forever. So it is SND.MAX,
 * as BSD does (tcp_output uses snd_max for such segments) and Linux too
 * (its snd_nxt is the highest sent), but never past the right edge of the
 * peer's window (Linux's tcp_acceptable_seq): after a probe of a zero
 * window (one byte at SND.UNA, which the peer did not take) an ACK at
 * SND.NXT would be outside it, and only SEQ = RCV.NXT is acceptable there. */
static uint32_t empty_seq(const sf_conn *c)
{
    uint32_t edge = c->snd_una + c->snd_wnd;
    return sf_seq_gt(c->snd_max, edge) ? edge : c->snd_max;
}

void sf_send_ack(sf_conn *c, uint64_t now)
{
    (void)now;
    sf_seg seg;
    conn_seg(c, now, empty_seq(c), SF_ACK, &seg);
    seg.wnd = sf_rcv_window(c);
    add_sack_blocks(c, &seg);
    c->ack_now = false;
    sf_emit_seg(c->stack, c, &seg);
}

/* RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>, SND.NXT as empty_seq
 * reads it (a RST below the peer's RCV.NXT would be ignored); or, by the
 * active_reset policy, the RST|ACK that Linux and FreeBSD send, with the
 * window and the timestamps (RFC 7323 §3.2: a RST SHOULD carry TSopt). */
void sf_send_rst(sf_conn *c, uint64_t now)
{
    sf_seg seg;
    if (c->pol.active_reset == SF_ACTIVE_RESET_RST_ACK) {
        conn_seg(c, now, empty_seq(c), SF_RST | SF_ACK, &seg);
        seg.wnd = sf_rcv_window(c);
        if (c->ts_ok) {
            seg.has_ts = 1;
            seg.ts_val = sf_ts_now(c, now);
            seg.ts_ecr = c->ts_recent;
        }
    } else {
        conn_seg(c, now, empty_seq(c), SF_RST, &seg);
    }
    sf_emit_seg(c->stack, c, &seg);
}

/* RFC 9293 §3.5.2 and §3.10.7.1: a reset that the offending segment's sender
 * will find acceptable. Never in reply to a RST (picotcp#142). */
void sf_send_rst_for(sf_stack *st, sf_conn *c, const sf_seg *in)
{
    if (in->flags & SF_RST) return;
    sf_seg seg;
    memset(&seg, 0, sizeof seg);
    seg.saddr = in->daddr;
    seg.daddr = in->saddr;
    seg.sport = in->dport;
    seg.dport = in->sport;
    seg.wscale = -1;
    if (in->flags & SF_ACK) {
        seg.seq = in->ack; /* <SEQ=SEG.ACK><CTL=RST> */
        seg.flags = SF_RST;
    } else {
        seg.ack = in->seq + sf_seg_seqlen(in); /* <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
        seg.flags = SF_RST | SF_ACK;
    }
    sf_emit_seg(st, c, &seg);
}

/* Nagle's algorithm (RFC 9293 §3.7.4, SHLD-7): whether a segment of n bytes
 * (mss the full size) waits. Never one that carries our FIN. RFC 896's rule
 * holds it while any data is unacknowledged; Minshall's variant (Linux's
 * tcp_nagle_check, tcp_minshall_check) only while an earlier small segment
 * is (nagle_sent remembers its end), so that a write of 1.5 MSS goes out
 * whole, its small tail behind its full segment. */
static bool nagle_holds(const sf_conn *c, uint32_t n, uint32_t mss, bool fin)
{
    if (!c->pol.nagle || n >= mss || fin || c->snd_nxt == c->snd_una) return false;
    if (c->pol.nagle_variant != SF_NAGLE_MINSHALL) return true;
    return sf_seq_gt(c->snd_sml, c->snd_una) && sf_seq_le(c->snd_sml, c->snd_nxt);
}

/* After a segment of n bytes that ends at `end` went out: Minshall's
 * variant remembers where the last small one ended. (Before any, snd_sml is
 * 0: should the data in flight span sequence number 0, a small segment
 * waits as RFC 896 has it, which is harmless.) */
static void nagle_sent(sf_conn *c, uint32_t n, uint32_t mss, uint32_t end)
{
    if (n && n < mss) c->snd_sml = end;
}

static bool can_send_data(sf_state s)
{
    return s == SF_ESTABLISHED || s == SF_CLOSE_WAIT || s == SF_FIN_WAIT_1 || s == SF_CLOSING ||
           s == SF_LAST_ACK;
}

/* Sends the segment that starts at SND.NXT, if the peer's window up to
 * `edge`, the congestion window `cwnd` (bytes from SND.UNA; UINT32_MAX: no
 * limit), the data queued and Nagle let one go; returns whether it sent one. */
static bool send_one(sf_conn *c, uint64_t now, uint32_t edge, uint32_t cwnd)
{
    sf_stack *st = c->stack;
    if (!can_send_data(c->state)) return false;
    /* our FIN, once sent, closes the sequence space; after a go-back
     * retransmission SND.NXT is at or before it and it goes out again with
     * its original sequence number */
    if (c->fin_sent && sf_seq_gt(c->snd_nxt, c->fin_seq)) return false;
    if (c->snd_nxt == c->iss) return false; /* our SYN goes first: retransmit() */
    uint32_t off = c->snd_nxt - c->snd_una - sf_syn_unacked(c);
    if (off > c->sndbuf.len) return false; /* never past the data: no wrapped length */
    uint32_t unsent = c->sndbuf.len - off;
    uint32_t usable = sf_seq_gt(edge, c->snd_nxt) ? edge - c->snd_nxt : 0;
    uint32_t mss = sf_eff_mss(c);
    uint32_t n = unsent;
    if (n > mss) n = mss;
    /* the copy below goes into st->pkt past the headers: bound it by that
     * buffer itself, never only by numbers derived from the peer's options */
    if (n > sizeof st->pkt - SF_IP6_TCP_HDR - 40) n = sizeof st->pkt - SF_IP6_TCP_HDR - 40;
    if (n > usable) n = usable;
    bool fin = c->fin_queued && n == unsent;
    if (n == 0 && !fin) return false;
    /* sender SWS avoidance (RFC 9293 §3.8.6.2.1, MUST-38): new data the
     * window cuts short of both the MSS and the data queued goes only if it
     * is at least half the largest window the peer offered, or when the
     * override timer says so; old data is retransmitted normally (SHLD-16) */
    if (n < mss && n < unsent && n < c->max_snd_wnd / 2 && !c->sws_override &&
        sf_seq_ge(c->snd_nxt, c->snd_max)) {
        if (!sf_timer_on(c, SF_TIMER_SWS)) sf_timer_set(c, SF_TIMER_SWS, now + SF_SWS_OVERRIDE);
        return false;
    }
    /* The congestion window lets whole segments go, never a sliver of one
     * (RFC 5681 counts it in SMSS-sized segments): a segment that does not
     * fit waits for the ACK that opens it, which data in flight brings (the
     * window is at least one SMSS, so with nothing in flight it fits). */
    if ((uint64_t)(c->snd_nxt - c->snd_una) + n > cwnd && c->snd_nxt != c->snd_una) return false;
    if (nagle_holds(c, n, mss, fin)) return false;

    uint8_t flags = SF_ACK;
    if (fin) flags |= SF_FIN;
    if (n && n == unsent) flags |= SF_PSH;
    sf_seg seg;
    conn_seg(c, now, c->snd_nxt, flags, &seg);
    /* this segment is the ACK a duplicate drew, and carries no SACK blocks:
     * the D-SACK is not reported later, out of its context (RFC 2883 §4) */
    c->dsack_pending = false;
    if (c->snd_urgent && sf_seq_gt(c->snd_up, c->snd_nxt)) {
        /* MUST-62: the pointer names the octet after the urgent data, as an
         * offset from this segment's seq (at most 65535 ahead) */
        uint32_t up = c->snd_up - c->snd_nxt;
        seg.flags |= SF_URG;
        seg.urp = (uint16_t)(up > 65535 ? 65535 : up);
    }
    if (n) {
        /* the data goes from the ring straight to its place in the packet
         * (sf_wire_build sees it there and copies nothing): one copy of each
         * byte on the way out, not two */
        uint8_t *at = st->pkt + sf_wire_headers_len(&seg);
        sf_ring_peek(&c->sndbuf, off, at, n);
        seg.payload = at;
        seg.len = n;
    }
    seg.wnd = sf_rcv_window(c);
    sf_ecn_data_out(c, &seg, sf_seq_ge(seg.seq, c->snd_max));

    /* RFC 6298 §3 (Karn): time only segments sent for the first time */
    if (!c->rtt_timing && sf_seq_ge(c->snd_nxt, c->snd_max)) {
        c->rtt_timing = true;
        c->rtt_seq = c->snd_nxt;
        c->rtt_start = now;
    }
    bool new_data = sf_seq_ge(seg.seq, c->snd_max);
    c->snd_nxt += n + (fin ? 1u : 0u);
    nagle_sent(c, n, mss, seg.seq + n);
    if (sf_seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
    if (fin) {
        c->fin_sent = true;
        c->fin_seq = c->snd_nxt - 1;
    }
    c->ack_now = false;
    sf_emit_seg(st, c, &seg);
    if (!sf_timer_on(c, SF_TIMER_RTO)) {
        sf_rto_arm(c, now); /* RFC 6298 (5.1) */
        if (!sf_timer_on(c, SF_TIMER_USER)) sf_user_timeout_progress(c, now);
    }
    if (new_data) sf_tlp_arm(c, now); /* RFC 8985 §7.2: after new data */
    return true;
}

bool sf_send_tail_probe(sf_conn *c, uint64_t now)
{
    if (c->snd_una == c->snd_max) return false;
    uint32_t edge = c->snd_una + c->snd_wnd;
    if (send_one(c, now, edge, UINT32_MAX)) return true;
    /* no new data can go: the last segment sent, again (at most one MSS
     * back from SND.MAX, our FIN with it if it was sent) */
    uint32_t flight = c->snd_max - c->snd_una, mss = sf_eff_mss(c);
    return sf_retransmit_range(c, now, c->snd_max - (flight < mss ? flight : mss), c->snd_max);
}

/* Sends what the windows allow from SND.NXT on: the peer's offered window
 * and the congestion window (RFC 5681), data in segments of at most the
 * peer's MSS, PSH on the last byte queued, then our FIN once the data is
 * out; an owed ACK rides on the first segment, or goes out alone. */
void sf_output(sf_conn *c, uint64_t now)
{
    uint32_t cwnd = sf_cc_window(c);
    while (send_one(c, now, c->snd_una + c->snd_wnd, cwnd)) {
    }
    /* RFC 5681 §4.2: each out-of-order segment draws its own duplicate
     * ACK, which the sender counts towards fast retransmit; a batch
     * (MUST-59) processed them all first, and now owes one per segment */
    if (c->ack_now) sf_send_ack(c, now);
    while (c->dupacks_owed > 0) {
        c->dupacks_owed--;
        sf_send_ack(c, now);
    }
    /* a zero window and data waiting: only the persist timer can learn that
     * the window opened (RFC 9293 §3.8.6.1). A window shrunk to zero with
     * data in flight is probed too, never timed out (MUST-35, SHLD-17) */
    if (can_send_data(c->state) && c->snd_wnd == 0 && c->sndbuf.len > 0 &&
        !sf_timer_on(c, SF_TIMER_PERSIST)) {
        c->timer_at[SF_TIMER_RTO] = c->timer_at[SF_TIMER_TLP] = 0;
        sf_timer_set(c, SF_TIMER_PERSIST, now + c->rto);
    }
    sf_conn_check(c);
}

/* RFC 9293 §3.8.4: <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=ACK>, no data. */
void sf_send_keepalive(sf_conn *c, uint64_t now)
{
    (void)now;
    sf_seg seg;
    conn_seg(c, now, c->snd_nxt - 1, SF_ACK, &seg);
    seg.wnd = sf_rcv_window(c);
    sf_emit_seg(c->stack, c, &seg);
}

/* A zero-window probe. zero_window_probe = data (RFC 9293 §3.8.6.1): the
 * first byte not yet acknowledged, at SND.UNA, as new data (picotcp#126,
 * zephyr#47966 and zephyr#48471 had peers that answered neither an empty
 * probe nor an old byte). = old_seq: Linux's, an empty ACK one below
 * SND.UNA, which every receiver that follows §3.10.7.4 answers. */
void sf_send_probe(sf_conn *c, uint64_t now)
{
    sf_stack *st = c->stack;
    sf_seg seg;
    if (c->pol.zero_window_probe == SF_ZWP_OLD_SEQ) {
        /* Linux's tcp_xmit_probe_skb: <SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK>,
         * no data; an old sequence number, which the peer must ACK with its
         * window (RFC 9293 §3.10.7.4 first step) */
        conn_seg(c, now, c->snd_una - 1, SF_ACK, &seg);
        seg.wnd = sf_rcv_window(c);
        c->ack_now = false;
        sf_emit_seg(st, c, &seg);
        return;
    }
    c->snd_nxt = c->snd_una;
    conn_seg(c, now, c->snd_nxt, SF_ACK, &seg);
    sf_ring_peek(&c->sndbuf, 0, st->payload, 1);
    seg.payload = st->payload;
    seg.len = 1;
    seg.wnd = sf_rcv_window(c);
    c->snd_nxt += 1;
    if (sf_seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
    c->ack_now = false;
    sf_emit_seg(st, c, &seg);
}

/* RFC 5681 (4.2), RFC 6582: fast retransmit, and each partial ACK of fast
 * recovery, send the first unacknowledged segment again, whatever the
 * congestion window says. */
bool sf_retransmit_range(sf_conn *c, uint64_t now, uint32_t start, uint32_t end)
{
    uint32_t next = c->snd_nxt;
    if (start == c->snd_una) c->una_rxt_mark = c->snd_max;
    c->snd_nxt = start;
    uint32_t edge = c->snd_una + (c->snd_wnd ? c->snd_wnd : 1);
    if (sf_seq_lt(end, edge)) edge = end;
    bool sent = send_one(c, now, edge, UINT32_MAX);
    if (sent) {
        c->retransmits++;
        c->rtt_timing = false; /* Karn */
        c->last_rxt_mark = c->snd_max;
        sf_rto_arm(c, now);
        if (sf_seq_gt(c->snd_nxt, c->high_rxt)) c->high_rxt = c->snd_nxt; /* RFC 6675 HighRxt */
    }
    if (sf_seq_gt(next, c->snd_nxt)) c->snd_nxt = next;
    return sent;
}

void sf_retransmit_first(sf_conn *c, uint64_t now)
{
    sf_retransmit_range(c, now, c->snd_una, c->snd_max);
}

void sf_output_soon(sf_conn *c, uint64_t now)
{
    sf_stack *st = c->stack;
    if (!st->batch) {
        sf_output(c, now);
    } else if (!c->output_pending) {
        c->output_pending = true;
        c->pending_next = st->pending;
        st->pending = c;
    }
}
