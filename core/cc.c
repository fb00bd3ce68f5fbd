/* cc.c - congestion control: slow start, fast retransmit and fast recovery
 * as RFC 5681 specifies them, with NewReno's partial acknowledgments (RFC
 * 6582) and Limited Transmit (RFC 3042); congestion avoidance and the
 * threshold after a loss are the controller's (cc_newreno.c, cc_cubic.c). RFC 9293 §3.8.2 (MUST-19)
 * requires it. Windows are in bytes; SMSS is the effective send MSS, the largest payload a segment
 * carries once its options are counted (RFC 5681 §2: SMSS "does not include the TCP/IP headers and
 * options"), so that a window of n segments holds n full segments. */
#include "tcb.h"

#include <string.h>

static uint32_t smss(const sf_conn *c)
{
    return sf_eff_mss(c);
}

/* The controller's own rules. */
static const sf_cc_ops *ops(const sf_conn *c)
{
    return c->pol.congestion_control == SF_CC_CUBIC ? &sf_cc_cubic : &sf_cc_newreno;
}

void sf_cc_init(sf_conn *c)
{
    /* RFC 5681 §3.1 (3): IW = min(4*SMSS, max(2*SMSS, 4380 bytes)), or
     * RFC 6928's IW of a given number of segments (10); one segment when
     * our SYN or SYN-ACK had to be retransmitted */
    uint32_t s = smss(c);
    uint32_t iw = 2 * s > 4380 ? 2 * s : 4380;
    if (iw > 4 * s) iw = 4 * s;
    if (c->pol.initial_window) iw = c->pol.initial_window * s;
    c->cwnd = c->retransmits ? s : iw;
    c->ssthresh = UINT32_MAX; /* "arbitrarily high" */
    c->dupacks = 0;
    c->in_recovery = false;
    memset(&c->cubic, 0, sizeof c->cubic);
}

void sf_cc_on_ecn(sf_conn *c)
{
    if (!c->pol.congestion_control || c->in_recovery) return; /* a loss already cut it */
    c->ssthresh = ops(c)->on_loss(c);
    c->cwnd = c->ssthresh;
    sf_report_drop(c->stack, c, SF_R_CC_ECN);
}

uint32_t sf_cc_window(const sf_conn *c)
{
    if (!c->pol.congestion_control) return UINT32_MAX;
    /* RFC 5681 §3.2 and RFC 3042 (Limited Transmit): on the first and
     * second duplicate ACK a new segment may go beyond cwnd, 2*SMSS at
     * most, cwnd itself unchanged, so that a small window (a few segments
     * in flight) still draws the third duplicate ACK that fast retransmit
     * needs instead of waiting for the RTO */
    if (!c->in_recovery && c->dupacks > 0 && c->dupacks < 3)
        return c->cwnd + (uint32_t)c->dupacks * smss(c);
    return c->cwnd;
}

bool sf_cc_on_ack(sf_conn *c, uint32_t ack)
{
    uint32_t acked = ack - c->snd_una;
    c->dupacks = 0;
    if (c->in_recovery) {
        if (sf_seq_ge(ack, c->recover)) {
            /* RFC 6582 §3.2 (3), full acknowledgment: deflate the window to
             * min(ssthresh, max(FlightSize, SMSS) + SMSS): two segments at
             * least when nothing is left in flight */
            uint32_t flight = c->snd_max - ack;
            uint32_t w = (flight > smss(c) ? flight : smss(c)) + smss(c);
            c->cwnd = c->ssthresh < w ? c->ssthresh : w;
            c->in_recovery = false;
            sf_report_drop(c->stack, c, SF_R_CC_RECOVERED);
            return false;
        }
        /* RFC 6582 §3.2 (3), partial acknowledgment: retransmit the first
         * unacknowledged segment, deflate by what was acked, add one SMSS */
        c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
        if (acked >= smss(c)) c->cwnd += smss(c);
        if (c->cwnd < smss(c)) c->cwnd = smss(c);
        return true;
    }
    if (c->cwnd < c->ssthresh) {
        /* slow start: at most SMSS per ACK (RFC 5681 (2), RFC 3465 L = 1;
         * RFC 9438 §4.10 keeps it for CUBIC) */
        c->cwnd += acked < smss(c) ? acked : smss(c);
    } else {
        ops(c)->avoid(c, acked, c->stack->now);
    }
    return false;
}

bool sf_cc_on_dupack(sf_conn *c)
{
    if (c->in_recovery) {
        c->cwnd += smss(c); /* RFC 5681 (4.3): inflate for the segment that left */
        return false;
    }
    /* RFC 6675 §5: the third duplicate ACK, or fewer when the SACKed bytes
     * already show SND.UNA lost (IsLost) */
    ++c->dupacks;
    if (c->dupacks < 3 ? !(c->sack_ok && sf_sack_una_lost(c)) : c->dupacks != 3) return false;
    /* RFC 6582 §3.2 (2): fast retransmit, unless the loss this ACK reports
     * was already recovered (SND.UNA has not passed `recover`) */
    if (c->recover_valid && sf_seq_le(c->snd_una, c->recover)) return false;
    c->ssthresh = ops(c)->on_loss(c);
    c->cwnd = c->ssthresh + 3 * smss(c);
    c->recover = c->snd_max;
    c->recover_valid = true;
    c->in_recovery = true;
    c->high_rxt = c->snd_una; /* RFC 6675 §5 (1): nothing retransmitted yet */
    sf_report_drop(c->stack, c, SF_R_CC_FAST_RETRANSMIT);
    return true;
}

void sf_cc_on_rto(sf_conn *c)
{
    /* RFC 5681 (4) and §3.1: the loss window is one segment */
    c->ssthresh = ops(c)->on_loss(c);
    c->cwnd = smss(c);
    c->dupacks = 0;
    c->in_recovery = false;
    c->recover = c->snd_max; /* RFC 6582 §3.2 (4) */
    c->recover_valid = true;
    /* RFC 2018 §8: after a timeout the SACKed bits are turned off (the
     * receiver may have dropped what it held) */
    sf_sack_clear(c);
    sf_report_drop(c->stack, c, SF_R_CC_RTO);
}
