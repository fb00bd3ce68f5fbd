/* cc_cubic.c - CUBIC's congestion avoidance (RFC 9438), Linux's default:
 * after a loss the window grows along a cubic function of the time since
 * it, fast at first, flat near the window before the loss (W_max), then
 * fast again past it, independent of the RTT; never slower than Reno would
 * grow it (the Reno-friendly region). Windows are in segments here, as the
 * RFC writes them, and times in seconds. */
#include "tcb.h"

#define CUBIC_C 0.4 /* RFC 9438 §5: the scaling constant, segments/s^3 */
/* RFC 9438 §4.6: the multiplicative decrease factor, 0.7 (in tenths, so that
 * ssthresh in bytes is exact: 5840 * 0.7 in doubles is 4087.999...) */
#define CUBIC_BETA_TENTHS 7
#define CUBIC_BETA        (CUBIC_BETA_TENTHS / 10.0)

static double segments(const sf_conn *c, uint32_t bytes)
{
    return (double)bytes / (double)sf_eff_mss(c);
}

/* The cube root of x >= 0, by Newton's method (the core links no libm). */
static double cube_root(double x)
{
    if (x <= 0) return 0;
    double r = x > 1 ? x / 3 : 1;
    for (int i = 0; i < 100; i++) {
        double next = r - (r * r * r - x) / (3 * r * r);
        if (next == r) break;
        r = next;
    }
    return r;
}

/* RFC 9438 §4.2, (1): W_cubic(t) = C*(t - K)^3 + W_max */
static double w_cubic(const sf_conn *c, double t)
{
    double d = t - c->cubic.k;
    return CUBIC_C * d * d * d + c->cubic.w_max;
}

static void avoid(sf_conn *c, uint32_t acked, uint64_t now)
{
    double cwnd = segments(c, c->cwnd);
    if (c->cubic.t_epoch == 0) {
        /* §4.2: a congestion avoidance stage begins */
        c->cubic.t_epoch = now ? now : 1;
        c->cubic.cwnd_epoch = cwnd;
        c->cubic.w_est = cwnd;
        if (c->cubic.w_max < cwnd) c->cubic.w_max = cwnd; /* no loss yet: grow from here */
        /* §4.2, (2): K = cbrt((W_max - cwnd_epoch) / C) */
        c->cubic.k = cube_root((c->cubic.w_max - c->cubic.cwnd_epoch) / CUBIC_C);
    }
    /* §4.2: the target is W_cubic one RTT ahead, kept within [cwnd, 1.5*cwnd] */
    double rtt = c->srtt ? (double)c->srtt / 1e6 : 0;
    double t = (double)(now - c->cubic.t_epoch) / 1e6;
    double target = w_cubic(c, t + rtt);
    if (target < cwnd) target = cwnd;
    if (target > 1.5 * cwnd) target = 1.5 * cwnd;
    /* §4.3, (4): the Reno-friendly estimate grows by alpha per window acked,
     * alpha = 3*(1 - beta)/(1 + beta); 1 once it reaches cwnd_prior, the
     * window when ssthresh was last set (§4.3; not W_max, which fast
     * convergence lowers below it) */
    double alpha =
        c->cubic.w_est >= c->cubic.cwnd_prior ? 1.0 : 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA);
    c->cubic.w_est += alpha * segments(c, acked) / cwnd;
    double next;
    if (w_cubic(c, t) < c->cubic.w_est) {
        next = c->cubic.w_est; /* §4.3: the Reno-friendly region */
    } else {
        /* §4.4, §4.5: (target - cwnd)/cwnd for each segment's ACK: counted by
         * the segments this ACK covers, so that delayed and stretch ACKs (one
         * per flight, on a sim link) grow the window as ACKs of each would */
        next = cwnd + (target - cwnd) / cwnd * segments(c, acked);
    }
    uint32_t bytes = (uint32_t)(next * (double)sf_eff_mss(c));
    if (bytes > c->cwnd) c->cwnd = bytes;
}

/* §4.6, §4.7: W_max is the window before the loss (less, with fast
 * convergence, when it was already below the last one: §4.7), ssthresh
 * beta times the window (as Linux does: the flight of an application-limited
 * sender understates it), at least 2 SMSS; the next stage starts anew */
static uint32_t on_loss(sf_conn *c)
{
    double cwnd = segments(c, c->cwnd);
    c->cubic.cwnd_prior = cwnd;
    c->cubic.w_max = cwnd < c->cubic.w_max ? cwnd * (1 + CUBIC_BETA) / 2 : cwnd;
    c->cubic.t_epoch = 0;
    uint32_t s = sf_eff_mss(c);
    uint32_t th = (uint32_t)((uint64_t)c->cwnd * CUBIC_BETA_TENTHS / 10);
    return th > 2 * s ? th : 2 * s;
}

const sf_cc_ops sf_cc_cubic = {avoid, on_loss};
