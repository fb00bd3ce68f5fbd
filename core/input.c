/* input.c - SEGMENT ARRIVES, written as RFC 9293 §3.10.7 writes it: one
 * function per state group, and in the synchronized states one function per
 * step, in the RFC's order (sequence, RST, security, SYN, ACK, URG, text,
 * FIN). Transitions are switches on the state inside the steps, not a table
 * of flag combinations (picoTCP's table drew a RST for an unlisted flag set
 * and had no FIN handler in TIME_WAIT). Every dropped segment is reported
 * with its reason. */
#include "tcb.h"

#include <string.h>

/* A step's verdict: go on to the next step, or stop processing the segment. */
typedef enum { STEP_NEXT, STEP_DONE } step_result;

/* The peer's window in bytes: scaled, except in a SYN (RFC 7323 §2.2). */
uint32_t sf_peer_window(const sf_conn *c, const sf_seg *seg)
{
    return (seg->flags & SF_SYN) ? seg->wnd : (uint32_t)seg->wnd << c->snd_wscale;
}

/* RFC 7323 §2.2, §2.3: scaling is on when both SYNs offered it; the peer's
 * shift is capped at 14. */
/* RFC 7323 §3.2: timestamps are on when both SYNs carried them. */
static void agree_ts(sf_conn *c, const sf_seg *seg)
{
    c->ts_ok = c->pol.timestamps && seg->has_ts;
    if (c->ts_ok) c->ts_recent = seg->ts_val;
    /* RFC 2018 §2: SACK when the SYN and the SYN-ACK both permitted it */
    c->sack_ok = c->pol.sack && seg->sack_perm;
}

static void agree_wscale(sf_conn *c, const sf_seg *seg)
{
    int ours = sf_wscale_offer(c);
    c->ws_agreed = ours >= 0 && seg->wscale >= 0;
    c->snd_wscale = c->ws_agreed ? (uint8_t)(seg->wscale > 14 ? 14 : seg->wscale) : 0;
    c->rcv_wscale = c->ws_agreed ? (uint8_t)ours : 0;
}

uint16_t sf_peer_mss(const sf_seg *seg, const sf_conn *c)
{
    /* RFC 9293 §3.7.1: the family's default without the option (MUST-15);
     * never more than a packet of ours can carry */
    uint16_t mss = seg->mss ? seg->mss : sf_default_snd_mss(seg->saddr);
    /* MUST-16: the effective send MSS is also bounded by what our link can
     * send (MMS_S = MTU - 40), and by the mss setting (as Linux's
     * TCP_MAXSEG bounds both directions) */
    uint16_t ours = sf_mss_announced_to(c, seg->saddr);
    if (mss > ours) mss = ours;
    if (mss > SF_MAX_PACKET - SF_IP6_TCP_HDR - 40) mss = SF_MAX_PACKET - SF_IP6_TCP_HDR - 40;
    /* a floor, as Linux has: a peer announcing MSS 1..47 gets segments of
     * 48 bytes less the options (an attacker's tiny MSS would otherwise
     * cost a segment per byte, or leave no room at all beside timestamps) */
    uint16_t floor = c->pol.min_snd_mss ? c->pol.min_snd_mss : 1;
    return mss < floor ? floor : mss;
}

/* RFC 6298 (5.7): if our SYN or SYN-ACK timed out and the RTO in use is
 * below 3 s, data transmission starts with an RTO of 3 s. */
static void handshake_done(sf_conn *c, uint64_t now)
{
    /* a passive child leaves the SYN queue for the accept queue */
    if (c->listener) sf_child_enqueue(&c->listener->accept_queue, c);
    sf_user_timeout_progress(c, now); /* the SYN is acknowledged */
    sf_cc_init(c);                    /* after the handshake: it decides the initial window */
    if (c->tw_parked) {
        /* the reopening SYN was a new connection: the old one is done */
        sf_conn *tw = c->tw_parked;
        c->tw_parked = NULL;
        tw->tw_child = NULL;
        sf_conn_closed(tw, SF_CAUSE_SEGMENT, "new connection established", 0);
    }
    sf_keepalive_heard(c, now); /* the keep-alive idle time starts */
    if (c->retransmits > 0 && c->pol.rto_initial < 3000000)
        c->rto = c->pol.rto_max < 3000000 ? (uint32_t)c->pol.rto_max : 3000000;
}

/* ---- RFC 9293 §3.10.7.2 LISTEN ------------------------------------------------ */

void sf_input_listen(sf_conn *l, uint64_t now, const sf_seg *seg)
{
    sf_stack *st = l->stack;
    /* first, check for a RST: it cannot be for this incarnation; ignore it */
    if (seg->flags & SF_RST) {
        sf_report_drop(st, l, SF_R_LISTEN_RST);
        return;
    }
    /* second, check for an ACK: any ACK is bad here; <SEQ=SEG.ACK><CTL=RST>,
     * unless it answers a SYN cookie of ours (RFC 4987 §3.6): then it is
     * the third segment of a handshake whose SYN_RCVD we did not keep */
    if (seg->flags & SF_ACK) {
        int cookie = (seg->flags & SF_SYN) ? -1 : sf_syncookie_valid(l, now, seg);
        if (cookie >= 0) {
            /* a full accept queue drops it, as Linux does (the peer's next
             * segment tries again); so does a lack of memory */
            sf_conn *c =
                l->accept_queue.len < l->backlog ? sf_syncookie_conn(l, seg, cookie) : NULL;
            if (c)
                sf_input_other(c, now, seg);
            else
                sf_report_drop(st, l, SF_R_COOKIE_ACK_DROPPED);
            return;
        }
        sf_report_drop(st, l, SF_R_LISTEN_ACK);
        sf_send_rst_for(st, NULL, seg);
        return;
    }
    /* a SYN from this very address and port (a "LAND" packet) would make a
     * child that answers itself for ever: no peer can send it */
    if ((seg->flags & SF_SYN) && sf_addr_eq(seg->saddr, seg->daddr) && seg->sport == seg->dport) {
        sf_report_drop(st, l, SF_R_LAND);
        return;
    }
    /* fourth, other control or text: drop */
    if (!(seg->flags & SF_SYN)) {
        sf_report_drop(st, l, SF_R_LISTEN_NO_SYN);
        return;
    }
    /* third, a SYN (its security/compartment check does not apply: synfin
     * has no IP security options). A
     * full accept queue takes nothing more (as Linux); a full SYN queue
     * answers with a SYN cookie and keeps no state (RFC 4987 §3.6, as
     * Linux with tcp_syncookies = 1), so that a flood of spoofed SYNs
     * cannot lock legitimate clients out */
    if (l->accept_queue.len >= l->backlog) {
        sf_report_drop(st, l, SF_R_ACCEPT_QUEUE_FULL);
        return;
    }
    bool full = l->syn_queue.len >= l->backlog;
    /* (a SYN reopening a TIME_WAIT pair of ports needs the state a cookie
     * would not keep; it comes only while there is room) */
    bool cookie = l->pol.syn_cookies == SF_SYN_COOKIES_ALWAYS ||
                  (full && l->pol.syn_cookies == SF_SYN_COOKIES_AUTO);
    if (cookie && !st->reopening) {
        sf_syncookie_send(l, now, seg);
        return;
    }
    if (full) {
        sf_report_drop(st, l, SF_R_SYN_QUEUE_FULL);
        return;
    }
    sf_conn *c = sf_conn_child(l, seg);
    if (!c) {
        sf_report_drop(st, l, SF_R_NO_MEMORY);
        return;
    }

    c->irs = seg->seq;
    c->rcv_nxt = seg->seq + 1;
    c->rcv_adv = c->rcv_nxt; /* nothing promised yet */
    c->iss = sf_isn(st, now, c->laddr, c->raddr, c->lport, c->rport);
    sf_conn *tw = st->reopening;
    st->reopening = NULL;
    if (tw) {
        /* MAY-2 (1): the new ISS lies above the old connection's sequence
         * space, by a window more, so that none of its segments can be
         * mistaken for the new one's (Linux adds 65535 + 2 likewise) */
        if (!sf_seq_gt(c->iss, tw->snd_max + 65535)) c->iss = tw->snd_max + 65536;
        c->tw_parked = tw;
        tw->tw_child = c;
    }
    c->snd_una = c->iss;
    c->snd_nxt = c->iss;
    c->snd_max = c->iss;
    c->snd_wnd = seg->wnd; /* a SYN's window is never scaled */
    c->max_snd_wnd = seg->wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    c->snd_mss = sf_peer_mss(seg, c);
    agree_wscale(c, seg);
    agree_ts(c, seg);
    sf_ecn_syn_in(c, seg);
    if (seg->len) sf_report_drop(st, c, SF_R_SYN_DATA);
    /* the child starts as a copy of the listening TCB: LISTEN -> SYN_RCVD */
    c->state = SF_LISTEN;
    sf_set_state(c, SF_SYN_RCVD, SF_CAUSE_SEGMENT, "SYN");
    sf_conn_hash(c);
    sf_send_syn(c, now); /* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> */
    sf_rto_arm(c, now);
}

/* ---- RFC 9293 §3.10.7.3 SYN-SENT -------------------------------------------------- */

static void process_text_and_fin(sf_conn *c, uint64_t now, const sf_seg *seg);
static void check_urg(sf_conn *c, const sf_seg *seg);

void sf_input_syn_sent(sf_conn *c, uint64_t now, const sf_seg *seg)
{
    sf_stack *st = c->stack;
    /* first, check the ACK bit */
    if (seg->flags & SF_ACK) {
        if (sf_seq_le(seg->ack, c->iss) || sf_seq_gt(seg->ack, c->snd_nxt)) {
            /* <SEQ=SEG.ACK><CTL=RST>, unless it is a RST (smoltcp#552) */
            sf_report_drop(st, c, SF_R_SYN_SENT_BAD_ACK);
            sf_send_rst_for(st, c, seg);
            return;
        }
    }
    /* second, check the RST bit: accepted only if its ACK acknowledges our
     * SYN (RFC 9293 §3.5.3; seastar#1334: it aborts the connect at once) */
    if (seg->flags & SF_RST) {
        if (seg->flags & SF_ACK)
            sf_conn_closed(c, SF_CAUSE_SEGMENT, "RST", SF_EREFUSED);
        else
            sf_report_drop(st, c, SF_R_SYN_SENT_RST_NO_ACK);
        return;
    }
    /* third, security: not implemented (no IP security options) */
    /* fourth, check the SYN bit */
    if (!(seg->flags & SF_SYN)) {
        /* fifth: neither SYN nor RST; data here never draws a SYN (picotcp#114) */
        sf_report_drop(st, c, SF_R_SYN_SENT_NO_SYN);
        return;
    }
    c->irs = seg->seq;
    c->rcv_nxt = seg->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    /* the window our SYN offered starts at RCV.NXT */
    if (c->pol.rcv_window == SF_RCV_WINDOW_LINUX)
        c->rcv_adv += c->rcv_ssthresh;
    else
        sf_rcv_window(c);
    c->snd_mss = sf_peer_mss(seg, c);
    agree_wscale(c, seg);
    agree_ts(c, seg);
    sf_ecn_syn_in(c, seg);
    if (seg->flags & SF_ACK) {
        sf_rtt_sample(c, now, seg->ack);
        c->snd_una = seg->ack;
    }
    c->snd_wnd = seg->wnd;
    c->max_snd_wnd = seg->wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    if (sf_seq_gt(c->snd_una, c->iss)) {
        /* our SYN is acknowledged: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
        c->retries = 0;
        sf_timer_stop(c, SF_TIMER_RTO);
        sf_set_state(c, SF_ESTABLISHED, SF_CAUSE_SEGMENT, "SYN-ACK");
        handshake_done(c, now);
        c->ack_now = true;
        /* "continue processing at the sixth step below where the URG bit
         * is checked" */
        check_urg(c, seg);
        process_text_and_fin(c, now, seg);
        sf_output(c, now);
    } else {
        /* simultaneous open (picotcp#528): SYN_RCVD, <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
         * RFC 9293 would queue the SYN's text and FIN until ESTABLISHED;
         * Linux drops them, and the peer sends them again, acknowledged */
        if (seg->len || (seg->flags & SF_FIN)) sf_report_drop(st, c, SF_R_SYN_TEXT_NOT_KEPT);
        sf_set_state(c, SF_SYN_RCVD, SF_CAUSE_SEGMENT, "SYN (simultaneous open)");
        sf_send_syn(c, now);
    }
}

/* ---- RFC 9293 §3.10.7.4 other states ------------------------------------------------- */

/* The receive window as last announced (RCV.WND). */
static uint32_t rcv_wnd(const sf_conn *c)
{
    return sf_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

/* RFC 2883 D-SACK: [start, end) came again; as Linux's tcp_dsack_set and
 * tcp_dsack_extend, the first duplicate range to report is kept, and a
 * later one extends it when they overlap or touch. TIME_WAIT answers
 * without SACK (as Linux's timewait sockets do). */
static void note_duplicate(sf_conn *c, uint32_t start, uint32_t end)
{
    if (!c->sack_ok || !c->pol.dsack || c->state == SF_TIME_WAIT || !sf_seq_lt(start, end)) return;
    if (!c->dsack_pending) {
        c->dsack_pending = true;
        c->dsack[0] = start;
        c->dsack[1] = end;
    } else if (!sf_seq_gt(start, c->dsack[1]) && !sf_seq_gt(c->dsack[0], end)) {
        if (sf_seq_lt(start, c->dsack[0])) c->dsack[0] = start;
        if (sf_seq_gt(end, c->dsack[1])) c->dsack[1] = end;
    }
    c->ack_now = true;
}

/* The first part of [off, off + len) (offsets from `base`, RCV.NXT when the
 * held ranges were last moved) that a held range has already: a duplicate
 * of data held out of order. */
static void note_held_duplicate(sf_conn *c, uint32_t base, uint32_t off, uint32_t len)
{
    for (int i = 0; i < c->ooo.n; i++) {
        uint32_t lo = c->ooo.r[i].off, hi = lo + c->ooo.r[i].len;
        if (hi <= off) continue;
        if (lo >= off + len) return;
        note_duplicate(c, base + (lo > off ? lo : off), base + (hi < off + len ? hi : off + len));
        return;
    }
}

/* First, check the sequence number: Table 6's four acceptability cases. */
static bool seq_acceptable(const sf_conn *c, const sf_seg *seg)
{
    uint32_t len = sf_seg_seqlen(seg), wnd = rcv_wnd(c);
    uint32_t lo = c->rcv_nxt, hi = c->rcv_nxt + wnd;
    if (len == 0 && wnd == 0) return seg->seq == c->rcv_nxt;
    if (len == 0) return sf_seq_in(seg->seq, lo, hi);
    if (wnd == 0) return false;
    return sf_seq_in(seg->seq, lo, hi) || sf_seq_in(seg->seq + len - 1, lo, hi);
}

/* The ACK that answers an unacceptable segment, or one PAWS rejects, is
 * one a connection sends at most every SF_OOW_ACK_INTERVAL when that
 * segment is itself a bare ACK (Linux's tcp_oow_rate_limited, 500 ms): two
 * peers out of step, each finding the other's ACKs out of the window (a
 * blind injection can put them there), would otherwise ACK each other for
 * ever. A segment with data or a SYN or FIN is always answered: old data
 * must draw its duplicate ACK (smoltcp test_old_data_ack_not_rate_limited). */
static bool oow_ack_limited(sf_conn *c, uint64_t now, const sf_seg *seg)
{
    if (sf_seg_seqlen(seg) != 0) return false;
    if (c->oow_ack_sent && now - c->oow_ack_at < SF_OOW_ACK_INTERVAL) return true;
    c->oow_ack_sent = true;
    c->oow_ack_at = now;
    return false;
}

static step_result check_sequence(sf_conn *c, uint64_t now, const sf_seg *seg)
{
    if (seq_acceptable(c, seg)) return STEP_NEXT;
    if (seg->flags & SF_RST) {
        sf_report_drop(c->stack, c, SF_R_RST_OUT_OF_WINDOW);
        return STEP_DONE;
    }
    /* a retransmission of the peer's FIN in TIME_WAIT: acknowledge it and
     * restart the 2MSL timeout (§3.10.7.4 fifth and eighth steps;
     * contiki-os/contiki#2160: not ACKing here was the bug) */
    if (c->state == SF_TIME_WAIT && (seg->flags & SF_FIN) &&
        seg->seq + sf_seg_seqlen(seg) == c->rcv_nxt) {
        sf_report_drop(c->stack, c, SF_R_TIME_WAIT_FIN);
        sf_time_wait_start(c, now);
    } else if (oow_ack_limited(c, now, seg)) {
        sf_report_drop(c->stack, c, SF_R_OOW_ACK_LIMITED);
        return STEP_DONE;
    } else {
        sf_report_drop(c->stack, c, SF_R_SEQ_UNACCEPTABLE);
        /* old data (or a FIN) again: its part below RCV.NXT is a duplicate
         * (RFC 2883 §4.1.1; Linux's tcp_send_dupack) */
        uint32_t end = seg->seq + sf_seg_seqlen(seg);
        if (sf_seq_lt(seg->seq, c->rcv_nxt))
            note_duplicate(c, seg->seq, sf_seq_lt(end, c->rcv_nxt) ? end : c->rcv_nxt);
    }
    /* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, sent with the segment's output */
    c->ack_now = true;
    return STEP_DONE;
}

/* A challenge ACK, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC 5961 §3-5), at
 * most challenge_ack_limit a second for the whole stack (RFC 5961 §7: two
 * stacks could otherwise challenge each other forever, smoltcp#29). The
 * duplicate ACK for an unacceptable segment is not one of these: it is never
 * limited (smoltcp test_old_data_ack_not_rate_limited). */
static void challenge_ack(sf_conn *c, uint64_t now, sf_reason why)
{
    sf_stack *st = c->stack;
    /* challenge_ack_interval (the linux profile's): one per connection per
     * interval, on the out-of-window ACKs' clock (Linux's
     * tcp_send_challenge_ack: __tcp_oow_rate_limited, last_oow_ack_time) */
    uint32_t every = c->pol.challenge_ack_interval;
    if (every) {
        if (c->oow_ack_sent && now - c->oow_ack_at < every) {
            sf_report_drop(st, c, SF_R_CHALLENGE_LIMITED);
            return;
        }
        c->oow_ack_sent = true;
        c->oow_ack_at = now;
    }
    uint32_t limit = st->cfg.challenge_ack_limit;
    if (limit) {
        if (now - st->challenge_start >= 1000000) {
            st->challenge_start = now;
            st->challenge_count = 0;
        }
        if (st->challenge_count >= limit) {
            sf_report_drop(st, c, SF_R_CHALLENGE_LIMITED);
            return;
        }
        st->challenge_count++;
    }
    sf_report_drop(st, c, why);
    c->ack_now = true; /* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
}

/* Second, check the RST bit, with RFC 5961 §3's exact match. */
static step_result check_rst(sf_conn *c, uint64_t now, const sf_seg *seg)
{
    if (!(seg->flags & SF_RST)) return STEP_NEXT;
    if (c->state == SF_TIME_WAIT && c->pol.rst_in_time_wait == SF_TW_RST_IGNORE) {
        /* RFC 1337 (TIME-WAIT assassination): the policy ignores it */
        sf_report_drop(c->stack, c, SF_R_TIME_WAIT_RST_IGNORED);
        return STEP_DONE;
    }
    if (seg->seq != c->rcv_nxt) {
        /* in the window but not exact: a challenge ACK (MUST by RFC 5961 §3.2) */
        challenge_ack(c, now, SF_R_CHALLENGE_RST);
        return STEP_DONE;
    }
    switch (c->state) {
    case SF_SYN_RCVD:
        if (c->passive) {
            /* return to LISTEN: the listener goes on, this child is gone
             * (gvisor#2814), and the user need not be informed */
            sf_conn_back_to_listen(c, "RST");
        } else {
            sf_conn_closed(c, SF_CAUSE_SEGMENT, "RST", SF_EREFUSED);
        }
        break;
    case SF_ESTABLISHED:
    case SF_FIN_WAIT_1:
    case SF_FIN_WAIT_2:
    case SF_CLOSE_WAIT: sf_conn_closed(c, SF_CAUSE_SEGMENT, "RST", SF_ERESET); break;
    default: /* CLOSING, LAST_ACK, TIME_WAIT */
        sf_conn_closed(c, SF_CAUSE_SEGMENT, "RST", 0);
        break;
    }
    return STEP_DONE;
}

/* Fourth, check the SYN bit (the third, security, does not apply: synfin
 * carries no IP security options). */
static step_result check_syn(sf_conn *c, uint64_t now, const sf_seg *seg)
{
    if (!(seg->flags & SF_SYN)) return STEP_NEXT;
    if (c->state == SF_SYN_RCVD && c->passive) {
        sf_conn_back_to_listen(c, "SYN");
        return STEP_DONE;
    }
    /* RFC 5961 §4: in a synchronized state, a SYN draws a challenge ACK
     * whatever its sequence number */
    challenge_ack(c, now, SF_R_CHALLENGE_SYN);
    return STEP_DONE;
}

/* FIN_WAIT_2, with its timeout armed when the policy sets one. */
static void enter_fin_wait_2(sf_conn *c, uint64_t now)
{
    sf_set_state(c, SF_FIN_WAIT_2, SF_CAUSE_SEGMENT, "ACK of our FIN");
    sf_fin_wait_2_arm(c, now);
}

static bool our_fin_acked(const sf_conn *c)
{
    return c->fin_sent && sf_seq_gt(c->snd_una, c->fin_seq);
}

/* RFC 7323 §4.3: TS.Recent follows the segments that cover Last.ACK.sent;
 * only once the segment's ACK is found acceptable, since RFC 5961 §5.2 says
 * a segment with an unacceptable ACK is discarded (Linux likewise updates
 * it only after tcp_ack accepts the ACK): a forged segment with a TSval
 * far ahead would otherwise make PAWS drop the peer's real segments. */
static void update_ts_recent(sf_conn *c, const sf_seg *seg)
{
    if (c->ts_ok && seg->has_ts && sf_seq_ge(seg->ts_val, c->ts_recent) &&
        sf_seq_le(seg->seq, c->last_ack_sent))
        c->ts_recent = seg->ts_val;
}

/* The ESTABLISHED processing of an acceptable ACK: advance SND.UNA, free
 * acknowledged data, manage the retransmission timer, update the window. */
static void ack_established(sf_conn *c, uint64_t now, const sf_seg *seg)
{
    bool dupack = sf_recovery_read_ack(c, seg); /* loss signals, SACK blocks */
    sf_ecn_ack_in(c, seg);                      /* RFC 3168 §6.1.2: the peer's echo of a mark */
    bool resend_first = false;
    if (sf_seq_gt(seg->ack, c->snd_una)) {
        resend_first = sf_cc_on_ack(c, seg->ack);
        /* bytes of data acknowledged: neither our SYN (a SYN_RCVD connection
         * may have queued data) nor our FIN */
        uint32_t acked = seg->ack - c->snd_una - sf_syn_unacked(c);
        if (acked > c->sndbuf.len) acked = c->sndbuf.len;
        sf_ring_read(&c->sndbuf, NULL, acked);
        sf_ring_trim(&c->sndbuf); /* all acknowledged: an idle sender holds no buffer */
        sf_rtt_sample(c, now, seg->ack);
        c->snd_una = seg->ack;
        if (sf_seq_lt(c->snd_nxt, c->snd_una)) c->snd_nxt = c->snd_una;
        if (c->snd_urgent && sf_seq_ge(c->snd_una, c->snd_up)) c->snd_urgent = false;
        c->retries = 0;
        c->uto_start = 0; /* SF_UTO_LINUX: progress; the next timeout starts it again */
        sf_user_timeout_progress(c, now);
        /* RFC 6298 (5.2), (5.3): only an ACK that advances SND.UNA restarts
         * the timer (smoltcp#62); all acknowledged stops it */
        if (c->snd_una == c->snd_max) {
            sf_timer_stop(c, SF_TIMER_RTO);
        } else {
            sf_rto_arm(c, now);
        }
        /* RFC 8985 §7.2: an ACK of new data ends a probe's episode and
         * restarts the probe timeout (none with nothing in flight) */
        c->tlp_out = false;
        sf_tlp_arm(c, now);
    } else if (dupack && sf_cc_on_dupack(c)) {
        resend_first = true;
    }
    if (c->pol.congestion_control) sf_recovery_repair(c, now, resend_first, dupack);
    /* the send window, when SND.UNA =< SEG.ACK, guarded by SND.WL1 and
     * SND.WL2 against old segments */
    if (sf_seq_ge(seg->ack, c->snd_una) &&
        (sf_seq_lt(c->snd_wl1, seg->seq) ||
         (c->snd_wl1 == seg->seq && sf_seq_le(c->snd_wl2, seg->ack)))) {
        c->snd_wnd = sf_peer_window(c, seg);
        c->snd_wl1 = seg->seq;
        c->snd_wl2 = seg->ack;
        if (c->snd_wnd > c->max_snd_wnd) c->max_snd_wnd = c->snd_wnd;
    }
    c->persist_probes = 0; /* the peer answers: probing goes on as long as it does */
    if (sf_timer_on(c, SF_TIMER_PERSIST) && c->snd_wnd > 0) {
        /* the window opened: a probe byte not acknowledged goes again as
         * ordinary data, under the retransmission timer */
        c->persist_shift = 0;
        c->uto_start = 0; /* SF_UTO_LINUX: the probes' time is over */
        c->snd_nxt = c->snd_una;
        sf_timer_stop(c, SF_TIMER_PERSIST);
    }
}

/* Fifth, check the ACK field. */
static step_result check_ack(sf_conn *c, uint64_t now, const sf_seg *seg)
{
    if (!(seg->flags & SF_ACK)) {
        sf_report_drop(c->stack, c, SF_R_NO_ACK);
        return STEP_DONE;
    }
    if (c->state == SF_SYN_RCVD) {
        if (!(sf_seq_lt(c->snd_una, seg->ack) && sf_seq_le(seg->ack, c->snd_max))) {
            sf_report_drop(c->stack, c, SF_R_SYN_RCVD_BAD_ACK);
            sf_send_rst_for(c->stack, c, seg); /* <SEQ=SEG.ACK><CTL=RST> */
            return STEP_DONE;
        }
        if (c->listener && c->listener->accept_queue.len >= c->listener->backlog) {
            /* no room to wait for accept: the ACK is dropped (as Linux, a
             * listen overflow), the peer sends it again, or its data */
            sf_report_drop(c->stack, c, SF_R_ACCEPT_QUEUE_FULL_ACK);
            c->ack_now = false;
            return STEP_DONE;
        }
        c->snd_wnd = sf_peer_window(c, seg);
        c->snd_wl1 = seg->seq;
        c->snd_wl2 = seg->ack;
        if (c->snd_wnd > c->max_snd_wnd) c->max_snd_wnd = c->snd_wnd;
        sf_set_state(c, SF_ESTABLISHED, SF_CAUSE_SEGMENT, "ACK");
        handshake_done(c, now);
        /* a CLOSE issued in SYN_RCVD was queued until now (§3.10.4) */
        if (c->fin_queued) sf_set_state(c, SF_FIN_WAIT_1, SF_CAUSE_USER, "close (queued)");
    }
    /* RFC 5961 §5: SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT, else ACK and drop */
    if (sf_seq_gt(seg->ack, c->snd_max)) {
        challenge_ack(c, now, SF_R_CHALLENGE_ACK_UNSENT);
        return STEP_DONE;
    }
    if (sf_seq_lt(seg->ack, c->snd_una - c->max_snd_wnd)) {
        challenge_ack(c, now, SF_R_CHALLENGE_ACK_OLD);
        return STEP_DONE;
    }
    update_ts_recent(c, seg);
    ack_established(c, now, seg);
    switch (c->state) {
    case SF_FIN_WAIT_1:
        /* picotcp#527: the FIN is acknowledged when SEG.ACK passes it. When
         * the segment also carries the peer's FIN, the eighth step takes us
         * straight to TIME_WAIT ("our FIN has been ACKed (perhaps in this
         * segment)", §3.10.7.4, eighth step); a FIN that does not get that far is
         * handled at the end of sf_input_other */
        if (our_fin_acked(c) && !(seg->flags & SF_FIN)) enter_fin_wait_2(c, now);
        break;
    case SF_CLOSING:
        if (our_fin_acked(c)) {
            sf_set_state(c, SF_TIME_WAIT, SF_CAUSE_SEGMENT, "ACK of our FIN");
            sf_time_wait_start(c, now);
        }
        return STEP_DONE;
    case SF_LAST_ACK:
        /* smoltcp#470: only the ACK of our FIN ends LAST_ACK */
        if (our_fin_acked(c)) {
            sf_conn_closed(c, SF_CAUSE_SEGMENT, "ACK of our FIN", 0);
            return STEP_DONE;
        }
        break;
    default: break;
    }
    return STEP_NEXT;
}

/* In-order data came: ACK it now, or (delayed_ack) within that delay and at
 * least every second full-sized segment (RFC 9293 §3.8.6.3, SHLD-18/19,
 * MUST-40). A FIN, or data filling a hole, is ACKed at once. */
static void ack_data(sf_conn *c, uint64_t now, bool at_once)
{
    if (sf_quickack_on(c)) {
        sf_quickack_check(c, now, at_once); /* Linux's pattern (quickack.c) */
        return;
    }
    if (!c->pol.delayed_ack || at_once || c->unacked_in >= 2u * c->pol.mss) {
        c->ack_now = true;
        return;
    }
    if (!sf_timer_on(c, SF_TIMER_DELACK)) {
        /* MUST-40: less than 0.5 s, whatever the policy says */
        uint64_t delay =
            c->pol.delayed_ack < SF_DELACK_MAX ? c->pol.delayed_ack : SF_DELACK_MAX - 1;
        sf_timer_set(c, SF_TIMER_DELACK, now + delay);
    }
}

static bool accepts_text(sf_state s)
{
    return s == SF_ESTABLISHED || s == SF_FIN_WAIT_1 || s == SF_FIN_WAIT_2;
}

/* Sixth, check the URG bit (RFC 9293 §3.10.7.4, §3.8.5): RCV.UP <-
 * max(RCV.UP, SEG.UP), and the user is told once the pointer moves ahead of
 * what it has read (MUST-32). Urgent data stays in the stream ("inline"); how
 * much of it remains is in the connection's status (MUST-33). */
static void check_urg(sf_conn *c, const sf_seg *seg)
{
    if (!(seg->flags & SF_URG) || !accepts_text(c->state)) return; /* CLOSE_WAIT...: ignored */
    uint32_t up = seg->seq + ((seg->flags & SF_SYN) ? 1u : 0u) + seg->urp;
    if (c->rcv_urgent && !sf_seq_gt(up, c->rcv_up)) return;
    c->rcv_up = up;
    c->rcv_urgent = true;
    uint32_t read_point = c->rcv_nxt - c->rcvbuf.len;
    if (sf_seq_gt(up, read_point)) sf_report(c, SF_EV_URGENT, "urgent data pending");
}

/* Seventh (text) and eighth (FIN) steps. */

/* RCV.NXT moved over `n` in-order bytes: held ranges it reached are in order
 * now; store them and move on (byte offsets, never sequence numbers). */
static void drain_held(sf_conn *c, uint32_t n)
{
    sf_ranges_advance(&c->ooo, n);
    uint32_t extra = sf_ranges_take_first(&c->ooo); /* reached: in order now */
    if (extra) {
        sf_ring_commit(&c->rcvbuf, extra);
        c->rcv_nxt += extra;
        c->bytes_in += extra;
    }
    if (c->fin_held) {
        if (c->fin_off >= n + extra)
            c->fin_off -= n + extra;
        else
            c->fin_held = false; /* data past the peer's FIN: the FIN was bogus */
    }
}

/* A segment whose data starts past RCV.NXT: hold what fits in the window
 * (SHLD-31) and a FIN right after it, and ACK RCV.NXT at once so that the
 * sender learns of the hole (RFC 5681 §4.2). smoltcp#112: a FIN after a hole
 * is not a FIN yet. */
static void hold_out_of_order(sf_conn *c, uint32_t off, const uint8_t *data, uint32_t len, bool fin)
{
    /* one duplicate ACK per out-of-order segment (RFC 5681 §4.2), even when
     * a batch sends them only once it has processed every segment */
    if (c->ack_now && c->dupacks_owed < UINT16_MAX) c->dupacks_owed++;
    c->ack_now = true;
    if (!accepts_text(c->state)) return;
    uint32_t room = rcv_wnd(c);
    uint32_t free = sf_ring_free(&c->rcvbuf);
    if (room > free) room = free;
    uint32_t take = off >= room ? 0 : (len < room - off ? len : room - off);
    note_held_duplicate(c, c->rcv_nxt, off, take); /* RFC 2883 §4.1.2, §4.1.3 */
    if (take &&
        (!sf_ring_write_at(&c->rcvbuf, off, data, take) || !sf_ranges_add(&c->ooo, off, take))) {
        sf_report_drop(c->stack, c, SF_R_OOO_NO_ROOM);
        return;
    }
    if (take) { /* its block goes first in the SACK option (RFC 2018 §4) */
        memmove(c->sack_recent + 1, c->sack_recent,
                sizeof c->sack_recent - sizeof c->sack_recent[0]);
        c->sack_recent[0] = c->rcv_nxt + off;
    }
    if (fin && take == len && !c->fin_held) {
        c->fin_held = true;
        c->fin_off = off + len;
    }
    sf_report_drop(c->stack, c, SF_R_OOO_HELD);
}

/* Eighth, check the FIN bit: the peer's FIN is in order now. */
static void process_fin(sf_conn *c, uint64_t now)
{
    if (c->fin_received) {
        /* CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT remain; TIME_WAIT restarts */
        c->ack_now = true;
        if (c->state == SF_TIME_WAIT) sf_time_wait_start(c, now);
        return;
    }
    c->rcv_nxt += 1;
    c->fin_received = true;
    c->fin_held = false;
    if (sf_quickack_on(c)) {
        /* tcp_fin: ACKed at once in FIN_WAIT_1/2, else (ESTABLISHED enters
         * interactive mode) as data is, by a delayed ACK at most */
        sf_quickack_fin(c);
        if (c->state == SF_FIN_WAIT_1 || c->state == SF_FIN_WAIT_2)
            c->ack_now = true;
        else
            sf_quickack_check(c, now, false);
    } else {
        c->ack_now = true;
    }
    switch (c->state) {
    case SF_SYN_RCVD:
    case SF_ESTABLISHED: sf_set_state(c, SF_CLOSE_WAIT, SF_CAUSE_SEGMENT, "FIN"); break;
    case SF_FIN_WAIT_1:
        if (our_fin_acked(c)) {
            /* RFC 9293 §3.10.7.4, eighth step: FIN+ACK of our FIN in
             * FIN_WAIT_1 goes straight to TIME_WAIT */
            sf_set_state(c, SF_TIME_WAIT, SF_CAUSE_SEGMENT, "FIN+ACK of our FIN");
            sf_time_wait_start(c, now);
        } else {
            /* FreeRTOS-Plus-TCP#1303: CLOSING, not CLOSE_WAIT */
            sf_set_state(c, SF_CLOSING, SF_CAUSE_SEGMENT, "FIN (simultaneous close)");
        }
        break;
    case SF_FIN_WAIT_2:
        sf_set_state(c, SF_TIME_WAIT, SF_CAUSE_SEGMENT, "FIN");
        sf_time_wait_start(c, now);
        break;
    default: break; /* CLOSE_WAIT, CLOSING, LAST_ACK remain */
    }
}

/* Seventh (text) and eighth (FIN) steps (the sixth, URG, is check_urg:
 * urgent data stays inline, in the stream). */
static void process_text_and_fin(sf_conn *c, uint64_t now, const sf_seg *seg)
{
    uint32_t data_seq = seg->seq + ((seg->flags & SF_SYN) ? 1u : 0u);
    uint32_t len = seg->len;
    const uint8_t *data = seg->payload;
    bool fin = (seg->flags & SF_FIN) != 0;

    if (sf_seq_gt(data_seq, c->rcv_nxt)) {
        if (len || fin) hold_out_of_order(c, data_seq - c->rcv_nxt, data, len, fin);
        return;
    }
    /* trim what was already received */
    uint32_t skip = c->rcv_nxt - data_seq;
    if (skip > len) { /* only a duplicate FIN at most */
        if (fin && skip == len + 1) c->ack_now = true;
        return;
    }
    data += skip;
    len -= skip;
    if (skip && len) note_duplicate(c, data_seq, c->rcv_nxt); /* its front came before */

    if (len) {
        if (!accepts_text(c->state)) {
            /* CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: the peer sent FIN */
            sf_report_drop(c->stack, c, SF_R_DATA_AFTER_FIN);
            return;
        }
        uint32_t room = rcv_wnd(c);
        if (room > sf_ring_free(&c->rcvbuf)) room = sf_ring_free(&c->rcvbuf);
        uint32_t take = len < room ? len : room;
        take = sf_ring_write(&c->rcvbuf, data, take);
        c->rcv_nxt += take;
        c->bytes_in += take;
        c->unacked_in += take;
        if (take) c->dupacks_owed = 0;   /* the next ACK is new, not a duplicate */
        bool filled_hole = c->ooo.n > 0; /* RFC 5681 §4.2: ACK at once */
        /* what it brought that was held out of order already (Linux's
         * tcp_ofo_queue: tcp_dsack_extend) */
        note_held_duplicate(c, c->rcv_nxt - take, 0, take);
        drain_held(c, take);
        sf_rcv_grow(c, take);
        bool linux_acks = sf_quickack_on(c);
        if (linux_acks && take) sf_quickack_data(c, now, take, seg->flags);
        /* Linux ACKs a FIN as tcp_fin says (process_fin) */
        ack_data(c, now, (fin && !linux_acks) || filled_hole);
        if (take < len) {
            sf_report_drop(c->stack, c, SF_R_DATA_TRIMMED);
            return; /* a FIN past the window is not ours yet */
        }
    }
    if (fin || (c->fin_held && c->fin_off == 0)) process_fin(c, now);
}

/* New data after the application's CLOSE, when the policy says it reads
 * no more (rcv_after_close, the sockets API's close()): RFC 1122 §4.2.2.13
 * (SHOULD) answers it with a RST, as the data is lost, and the connection
 * ends; the RST is the one any unwanted segment draws (§3.10.7.1: from its
 * ACK field). Linux (tcp_rcv_state_process, "TCPAbortOnData") and FreeBSD
 * (tcp_input, a socket without a descriptor) do so in FIN_WAIT_1/2. RFC
 * 9293's CLOSE ends the sending side only (§3.10.4): the default receives. */
static step_result check_data_after_close(sf_conn *c, const sf_seg *seg)
{
    if (c->pol.rcv_after_close != SF_RCV_AFTER_CLOSE_RESET || seg->len == 0) return STEP_NEXT;
    if (c->state != SF_FIN_WAIT_1 && c->state != SF_FIN_WAIT_2) return STEP_NEXT;
    if (!sf_seq_gt(seg->seq + seg->len, c->rcv_nxt)) return STEP_NEXT; /* nothing new */
    sf_send_rst_for(c->stack, c, seg);
    sf_conn_closed(c, SF_CAUSE_SEGMENT, "data after close", 0);
    return STEP_DONE;
}

/* The steps of §3.10.7.4 after the first, each able to end the processing. */
static void process_steps(sf_conn *c, uint64_t now, const sf_seg *seg)
{
    if (check_sequence(c, now, seg) == STEP_DONE) return;
    if (check_rst(c, now, seg) == STEP_DONE) return;
    if (check_syn(c, now, seg) == STEP_DONE) return;
    if (check_ack(c, now, seg) == STEP_DONE) return;
    sf_ecn_in(c, seg); /* RFC 3168 §6.1.3: a mark to echo, or the end of one */
    check_urg(c, seg);
    if (check_data_after_close(c, seg) == STEP_DONE) return;
    process_text_and_fin(c, now, seg);
    /* the segment acked our FIN but its own FIN was not processed (beyond a
     * hole or the window): FIN_WAIT_2 after all */
    if (c->state == SF_FIN_WAIT_1 && our_fin_acked(c)) enter_fin_wait_2(c, now);
}

bool sf_input_other(sf_conn *c, uint64_t now, const sf_seg *in)
{
    const sf_seg *seg = in;
    sf_seg trimmed;
    sf_keepalive_heard(c, now);
    /* A SYN above RCV.NXT in TIME_WAIT may open a new connection on the same
     * ports when a listener takes it (RFC 9293 §3.6.1 MAY-2, RFC 1122
     * §4.2.2.13; Linux does, and asterinas#1531 shows what refusing costs:
     * nginx 20 times slower). The old
     * connection is parked until the new one is established; its new ISS
     * lies above the old sequence space (see sf_input_listen). */
    sf_conn *l = c->state == SF_TIME_WAIT ? sf_find_listener(c->stack, c->lport) : NULL;
    /* RFC 6191 (SHLD-4): with timestamps, a SYN whose TSval is newer may
     * reopen too, whatever its sequence number */
    bool newer = sf_seq_gt(in->seq, c->rcv_nxt) ||
                 (c->ts_ok && in->has_ts && sf_seq_gt(in->ts_val, c->ts_recent));
    if (l && (in->flags & (SF_SYN | SF_ACK | SF_RST)) == SF_SYN &&
        c->pol.syn_in_time_wait == SF_TW_SYN_REOPEN && newer && sf_listener_has_room(l)) {
        sf_conn_unhash(c);
        c->stack->reopening = c;
        return true;
    }
    /* RFC 7323 §3.2 and §5.3 (PAWS): once timestamps are on, a segment (not
     * a RST) without one is dropped, and one whose TSval is older than
     * TS.Recent is an old duplicate: it draws an ACK and is dropped */
    if (c->ts_ok && !(in->flags & SF_RST)) {
        if (!in->has_ts) {
            sf_report_drop(c->stack, c, SF_R_NO_TIMESTAMP);
            return false;
        }
        if (sf_seq_lt(in->ts_val, c->ts_recent)) {
            if (oow_ack_limited(c, now, in)) {
                sf_report_drop(c->stack, c, SF_R_OOW_ACK_LIMITED);
                return false;
            }
            sf_report_drop(c->stack, c, SF_R_PAWS);
            c->ack_now = true;
            sf_output_soon(c, now);
            return false;
        }
    }
    /* Simultaneous open (RFC 9293 §3.5, Figure 7): in SYN_RCVD reached from
     * SYN_SENT, the peer's SYN-ACK repeats its SYN at IRS. The SYN is old and
     * its ACK is new: only the new part is processed, and it establishes. */
    if (c->state == SF_SYN_RCVD && !c->passive &&
        (in->flags & (SF_SYN | SF_ACK | SF_RST)) == (SF_SYN | SF_ACK) && in->seq == c->irs) {
        trimmed = *in;
        trimmed.flags &= (uint8_t)~SF_SYN;
        trimmed.seq++;
        seg = &trimmed;
    }
    /* A duplicate SYN while our SYN-ACK is outstanding: the peer did not get
     * it. Send it again, never a RST (picotcp#148). */
    if (c->state == SF_SYN_RCVD && (seg->flags & (SF_SYN | SF_ACK | SF_RST)) == SF_SYN &&
        seg->seq == c->irs) {
        sf_report_drop(c->stack, c, SF_R_DUPLICATE_SYN);
        sf_send_syn(c, now);
        return false;
    }
    /* RFC 9293 §3.10.7.4 first step: with a zero receive window no text is
     * acceptable, but "special allowance should be made to accept valid
     * ACKs, URGs, and RSTs" (MUST-66): a segment at RCV.NXT is processed
     * without its text, which draws the ACK an unacceptable segment draws */
    sf_seg zero_window;
    if (rcv_wnd(c) == 0 && seg->seq == c->rcv_nxt && (seg->len || (seg->flags & SF_FIN)) &&
        !(seg->flags & (SF_SYN | SF_RST))) {
        zero_window = *seg;
        zero_window.len = 0;
        /* (payload kept: NULL + 0 is undefined where the text step trims) */
        zero_window.flags &= (uint8_t)~SF_FIN;
        seg = &zero_window;
        sf_report_drop(c->stack, c, SF_R_ZERO_WINDOW_TEXT);
        c->ack_now = true;
    }
    process_steps(c, now, seg);
    /* MUST-58: one ACK for the whole segment, piggybacked on data if any;
     * MUST-59: in a batch, one for all of them (sf_stack_batch_end) */
    if (c->state != SF_CLOSED) sf_output_soon(c, now);
    return false;
}
