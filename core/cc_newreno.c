/* cc_newreno.c - Reno's congestion avoidance (RFC 5681 §3.1), which
 * NewReno (RFC 6582) keeps: about one SMSS more per RTT, the window halved
 * on a loss. */
#include "tcb.h"

static void avoid(sf_conn *c, uint32_t acked, uint64_t now)
{
    (void)acked;
    (void)now;
    /* RFC 5681 (3): cwnd += SMSS*SMSS/cwnd per ACK, at least one byte */
    uint32_t s = sf_eff_mss(c);
    uint32_t inc = (uint32_t)((uint64_t)s * s / c->cwnd);
    c->cwnd += inc ? inc : 1;
}

/* RFC 5681 (4): ssthresh = max(FlightSize / 2, 2*SMSS) */
static uint32_t on_loss(sf_conn *c)
{
    uint32_t s = sf_eff_mss(c), half = (c->snd_max - c->snd_una) / 2;
    return half > 2 * s ? half : 2 * s;
}

const sf_cc_ops sf_cc_newreno = {avoid, on_loss};
