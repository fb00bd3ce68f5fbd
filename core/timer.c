/* timer.c - per-connection deadlines in a binary min-heap, and what happens
 * when they pass (RFC 9293 §3.10.8): retransmission with RFC 6298 backoff and
 * the TIME_WAIT timeout. Each connection sits in the heap once, at the
 * earliest of its timers, so a poll touches only connections that are due. */
#include "tcb.h"

#include <stdlib.h>

void sf_timer_remove(sf_conn *c)
{
    sf_heap_remove(&c->stack->timers, &c->timer_node);
}

/* Puts the connection in the heap at the earliest of its timers. */
void sf_timer_update(sf_conn *c)
{
    uint64_t d = SF_NO_DEADLINE;
    for (int t = 0; t < SF_TIMER_COUNT; t++)
        if (c->timer_at[t] && c->timer_at[t] < d) d = c->timer_at[t];
    if (d == SF_NO_DEADLINE) {
        sf_timer_remove(c);
        return;
    }
    /* without memory for the heap the timer is lost: the connection
     * stalls, no crash */
    sf_heap_set(&c->stack->timers, &c->timer_node, d);
}

void sf_timer_set(sf_conn *c, sf_timer t, uint64_t at)
{
    if (c->timer_at[t] == at) return;
    c->timer_at[t] = at;
    sf_timer_update(c);
}

void sf_timer_stop(sf_conn *c, sf_timer t)
{
    sf_timer_set(c, t, 0);
}

void sf_timers_stop_all(sf_conn *c)
{
    for (int t = 0; t < SF_TIMER_COUNT; t++)
        c->timer_at[t] = 0;
    sf_timer_remove(c);
}

/* RFC 6298 (5.1): start the timer when a segment with data (or SYN/FIN) is
 * sent and the timer is not running. */
void sf_rto_arm(sf_conn *c, uint64_t now)
{
    sf_timer_set(c, SF_TIMER_RTO, now + c->rto);
}

/* RFC 8985 §7.2: (re)starts the probe timeout after new data went out or
 * an ACK acknowledged new data, unless the policy is off, a probe is out
 * already, fast recovery is on, or nothing is in flight. As Linux schedules
 * it (net/ipv4/tcp_output.c, tcp_schedule_loss_probe): only when both SYNs
 * carried SACK-permitted (tcp_is_sack); PTO = 2*SRTT plus 200 ms when one
 * segment is in flight, for its ACK may be delayed (TCP_RTO_MIN, RFC 8985's
 * WCDelAckT), else plus 2 ms (TCP_TIMEOUT_MIN_US) lest timer jitter fire it
 * between the ACKs of a healthy flight; 1 s before any RTT sample
 * (TCP_TIMEOUT_INIT). When the RTO is due first, the probe goes at the
 * RTO's time in its place (RFC 8985 §7.2's last step, Linux's "if the RTO
 * formula yields an earlier time, then use that time"): on_tlp runs before
 * on_rto and re-arms it. */
#define PTO_DELAYED_ACK 200000
#define PTO_SLACK       2000
void sf_tlp_arm(sf_conn *c, uint64_t now)
{
    /* off by default: a connection without the policy pays one test per
     * segment, no timer work */
    if (!c->pol.tail_loss_probe) return;
    uint64_t at = 0;
    uint32_t flight = c->snd_max - c->snd_una;
    uint64_t rto_at = c->timer_at[SF_TIMER_RTO];
    if (c->sack_ok && !c->tlp_out && !c->in_recovery && flight > 0 && c->snd_nxt == c->snd_max &&
        rto_at) {
        uint64_t pto = 1000000;
        if (c->srtt)
            pto = 2 * (uint64_t)c->srtt + (flight <= sf_eff_mss(c) ? PTO_DELAYED_ACK : PTO_SLACK);
        at = now + pto;
        if (at > rto_at) at = rto_at;
    }
    sf_timer_set(c, SF_TIMER_TLP, at);
}

static uint32_t clamp_rto(const sf_conn *c, uint64_t rto)
{
    if (rto < c->pol.rto_min) rto = c->pol.rto_min;
    if (rto > c->pol.rto_max) rto = c->pol.rto_max;
    return (uint32_t)rto;
}

/* RFC 6298 (2.2), (2.3): SRTT and RTTVAR, and the RTO from them. */
static uint64_t rto_rfc6298(sf_conn *c, uint64_t r)
{
    if (c->srtt == 0) {
        c->srtt = (uint32_t)r;
        c->rttvar = (uint32_t)(r / 2);
    } else {
        uint64_t delta = r > c->srtt ? r - c->srtt : c->srtt - r;
        c->rttvar = (uint32_t)((3 * (uint64_t)c->rttvar + delta) / 4); /* beta = 1/4 */
        c->srtt = (uint32_t)((7 * (uint64_t)c->srtt + r) / 8);         /* alpha = 1/8 */
    }
    /* RTO = SRTT + max(G, K*RTTVAR), K = 4, G = 1 us here */
    uint64_t k = 4 * (uint64_t)c->rttvar;
    return c->srtt + (k ? k : 1);
}

/* Linux's estimator (net/ipv4/tcp_input.c, tcp_rtt_estimator), the facts of
 * it in our words: the same gains as RFC 6298 (1/8 for SRTT, 1/4 for the
 * deviation), but a sample below SRTT moves the deviation 8 times less
 * (alpha*beta, "like Eifel"); the deviation's largest value in a round
 * trip, at least rto_min, becomes the variance term at once when larger,
 * and when a round ends the term falls a quarter of the way to it. The
 * first sample R gives SRTT = R and a term of max(2R, rto_min): an RTO of
 * 3R, or R + rto_min on a short path. __tcp_set_rto: RTO = SRTT + term
 * (tcp_set_rto then bounds it by TCP_RTO_MAX). The kernel counts the RTO
 * in jiffies, rounded up: synfin in microseconds. `ack` is the new
 * SND.UNA, which Linux has set when it takes the sample. */
static uint64_t rto_linux(sf_conn *c, uint64_t r, uint32_t ack)
{
    uint64_t floor = c->pol.rto_min;
    if (c->lx.srtt8 == 0) {
        c->lx.srtt8 = r * 8;
        c->lx.mdev = 2 * r;
        c->lx.var = c->lx.mdev > floor ? c->lx.mdev : floor;
        c->lx.mdev_max = c->lx.var;
        c->lx.round_end = c->snd_nxt;
    } else {
        int64_t err = (int64_t)r - (int64_t)(c->lx.srtt8 / 8);
        c->lx.srtt8 = (uint64_t)((int64_t)c->lx.srtt8 + err); /* SRTT += err/8 */
        int64_t m;
        if (err < 0) {
            m = -err - (int64_t)(c->lx.mdev / 4);
            if (m > 0) m /= 8; /* a falling RTT grows the deviation slowly */
        } else {
            m = err - (int64_t)(c->lx.mdev / 4);
        }
        c->lx.mdev = (uint64_t)((int64_t)c->lx.mdev + m); /* mdev += (|err| - mdev)/4 */
        if (c->lx.mdev > c->lx.mdev_max) {
            c->lx.mdev_max = c->lx.mdev;
            if (c->lx.mdev_max > c->lx.var) c->lx.var = c->lx.mdev_max;
        }
        if (sf_seq_gt(ack, c->lx.round_end)) {
            if (c->lx.mdev_max < c->lx.var) c->lx.var -= (c->lx.var - c->lx.mdev_max) / 4;
            c->lx.round_end = c->snd_nxt;
            c->lx.mdev_max = floor;
        }
    }
    if (c->lx.srtt8 < 8) c->lx.srtt8 = 8; /* at least 1 us, as max(1U, srtt) */
    c->srtt = (uint32_t)(c->lx.srtt8 / 8);
    return c->srtt + c->lx.var;
}

/* One RTT sample, taken only from a segment that was not retransmitted
 * (Karn's algorithm, RFC 6298 §3), and the RTO the policy's formula makes
 * of it, within rto_min and rto_max. */
void sf_rtt_sample(sf_conn *c, uint64_t now, uint32_t ack)
{
    if (!c->rtt_timing || !sf_seq_gt(ack, c->rtt_seq)) return;
    c->rtt_timing = false;
    uint64_t r = now - c->rtt_start;
    if (r == 0) r = 1;
    if (r > c->pol.rto_max) r = c->pol.rto_max; /* no sum below overflows */
    uint64_t rto = c->pol.rto_formula == SF_RTO_LINUX ? rto_linux(c, r, ack) : rto_rfc6298(c, r);
    c->rto = clamp_rto(c, rto);
}

void sf_fin_wait_2_arm(sf_conn *c, uint64_t now)
{
    if (c->state != SF_FIN_WAIT_2 || !c->pol.fin_wait_2_timeout ||
        sf_timer_on(c, SF_TIMER_FIN_WAIT_2))
        return;
    sf_timer_set(c, SF_TIMER_FIN_WAIT_2, now + c->pol.fin_wait_2_timeout);
}

void sf_time_wait_start(sf_conn *c, uint64_t now)
{
    /* RFC 9293 §3.10.7.4, eighth step: start the time-wait timer, turn off
     * the other timers. A TIME_WAIT connection keeps no send buffer, and its
     * receive buffer only while it holds data the user has not read (the
     * data was acknowledged: it is the user's, §3.10.7.4 seventh step). */
    for (int t = 0; t < SF_TIMER_COUNT; t++)
        c->timer_at[t] = 0;
    c->timer_at[SF_TIMER_TIME_WAIT] = now + 2 * c->pol.msl;
    sf_ring_drop(&c->sndbuf);
    if (c->rcvbuf.len == 0) sf_ring_drop(&c->rcvbuf);
    sf_timer_update(c);
    if (!c->held) sf_tw_schedule(c); /* a small record from the next entry point */
}

/* Whether the user timeout is timed as Linux's (SF_UTO_LINUX): set, and
 * the connection synchronized (our SYN acknowledged). */
static bool uto_linux(const sf_conn *c)
{
    return c->pol.user_timeout && c->pol.user_timeout_timing == SF_UTO_LINUX && !sf_syn_unacked(c);
}

/* SF_UTO_LINUX, when a retransmission or probe timer fires: whether the
 * user timeout has passed since its start (tcp_write_timeout's
 * retransmits_timed_out, tcp_probe_timer); the first such timer starts it
 * (tcp_retransmit_skb's retrans_stamp). */
static bool uto_linux_expired(sf_conn *c, uint64_t now)
{
    if (!c->uto_start) {
        c->uto_start = now ? now : 1;
        return false;
    }
    return now - c->uto_start >= c->pol.user_timeout;
}

/* syn_linear_timeouts (Linux's tcp_write_timeout): in SYN_SENT, that many
 * retransmissions more than syn_retries are allowed... */
static uint32_t linear_syn_extra(const sf_conn *c)
{
    return c->state == SF_SYN_SENT ? c->pol.syn_linear_timeouts : 0;
}

/* ... but no longer than syn_retries doubling RTOs from the first would
 * take, counted from the first SYN (retransmits_timed_out with
 * tcp_model_timeout: doubling up to rto_max, then rto_max each). */
static bool linear_syn_expired(const sf_conn *c, uint64_t now)
{
    if (!linear_syn_extra(c)) return false;
    uint64_t max = c->pol.rto_max ? c->pol.rto_max : 1;
    uint64_t rto = c->pol.rto_initial ? c->pol.rto_initial : 1, total = 0;
    uint32_t n = c->pol.syn_retries, i = 0;
    for (; i <= n && rto < max; i++) {
        total += rto;
        rto = rto * 2 > max ? max : rto * 2;
    }
    /* the rest at rto_max each, counted at once (syn_retries may be 2^32 - 1):
     * at most 2^32 * 3600 s in us, which a uint64 holds */
    if (i <= n) total += ((uint64_t)n - i + 1) * max;
    return now - c->syn_first_at >= total;
}

/* RFC 9293 §3.10.8, RETRANSMISSION TIMEOUT: send the segment at the front of
 * the queue again and back off (RFC 6298 (5.4)-(5.6)). */
static void retransmit(sf_conn *c, uint64_t now)
{
    /* SYN_SENT, SYN_RCVD, or FIN_WAIT_1 reached from SYN_RCVD: our SYN first */
    bool syn_phase = sf_syn_unacked(c);
    uint32_t limit = syn_phase ? c->pol.syn_retries : c->pol.max_retries;
    bool uto = uto_linux(c);
    if (uto) {
        /* Linux's tcp_write_timeout: with a user timeout, it and not the
         * retry limit ends retransmission, checked only now */
        if (uto_linux_expired(c, now)) {
            sf_conn_closed(c, SF_CAUSE_TIMER, "user timeout", SF_ETIMEDOUT);
            return;
        }
    } else if (c->retries >= (uint64_t)limit + linear_syn_extra(c) || linear_syn_expired(c, now)) {
        /* picotcp#40: retransmissions end (RFC 9293 §3.8.3, MUST-20) */
        if (c->state == SF_SYN_RCVD && c->passive)
            sf_conn_closed(c, SF_CAUSE_TIMER, "SYN-ACK retries exhausted", 0);
        else
            sf_conn_closed(c, SF_CAUSE_TIMER, "retries exhausted", SF_ETIMEDOUT);
        return;
    }
    c->retries++;
    c->retransmits++;
    /* RFC 9293 §3.8.3 (e): tell the application of the delivery problem
     * between R1 and R2 (SHLD-9), through the asynchronous reports (MUST-47) */
    if (c->retries == c->pol.r1) sf_report_soft_error(c, "soft error: retransmissions reached R1");
    c->rtt_timing = false; /* Karn */
    /* RFC 6298 (5.5): back off, but for syn_linear_timeouts' first ones */
    if (!(c->state == SF_SYN_SENT && c->retries <= c->pol.syn_linear_timeouts))
        c->rto = clamp_rto(c, (uint64_t)c->rto * 2);
    if (syn_phase) {
        sf_send_syn(c, now);
    } else {
        /* go back to SND.UNA: the first unacknowledged segment goes out again
         * with its original sequence number, FIN included (warp17#15), under
         * a loss window of one segment (RFC 5681) */
        sf_cc_on_rto(c);
        c->snd_nxt = c->snd_una;
        sf_output(c, now);
    }
    if (sf_timer_on(c, SF_TIMER_PERSIST)) return; /* a zero window: persisting instead */
    sf_rto_arm(c, now);
    if (uto) {
        /* tcp_clamp_rto_to_user_timeout: the next timer comes no later than
         * the user timeout's end, where the check above ends the connection */
        uint64_t end = c->uto_start + c->pol.user_timeout;
        if (end < c->timer_at[SF_TIMER_RTO]) sf_timer_set(c, SF_TIMER_RTO, end);
    }
}

/* RFC 9293 §3.8.6.1 (MUST-36): while the peer offers a zero window and we
 * have data, probe it with one byte of new data, backing off exponentially.
 * Probing never gives up while the peer answers (each ACK resets the count);
 * with no answer at all it ends like a retransmission would. */
static void persist(sf_conn *c, uint64_t now)
{
    if (c->state == SF_CLOSED || c->snd_wnd != 0 || c->sndbuf.len == 0) return;
    /* SF_UTO_LINUX: tcp_probe_timer ends the connection once the user
     * timeout has passed since the first probe, answered or not */
    if (uto_linux(c) && uto_linux_expired(c, now)) {
        sf_conn_closed(c, SF_CAUSE_TIMER, "user timeout", SF_ETIMEDOUT);
        return;
    }
    if (c->persist_probes >= c->pol.max_retries) {
        sf_conn_closed(c, SF_CAUSE_TIMER, "zero-window probes unanswered", SF_ETIMEDOUT);
        return;
    }
    sf_send_probe(c, now);
    if (c->persist_shift < 16) c->persist_shift++;
    uint64_t wait = (uint64_t)c->rto << c->persist_shift;
    if (wait > c->pol.rto_max) wait = c->pol.rto_max;
    /* SF_UTO_LINUX: the next probe timer no later than the user timeout's
     * end (tcp_clamp_probe0_to_user_timeout) */
    if (uto_linux(c) && c->uto_start + c->pol.user_timeout < now + wait)
        wait = c->uto_start + c->pol.user_timeout - now;
    c->persist_probes++;
    sf_timer_set(c, SF_TIMER_PERSIST, now + wait);
}

/* RFC 9293 §3.8.4: an idle connection asks the peer whether it is still
 * there with <SEQ=SND.NXT-1><CTL=ACK> and no data (picotcp#93), which draws
 * an ACK. Data in flight makes the retransmission timer do that job. */
static void keepalive(sf_conn *c, uint64_t now)
{
    if (!c->pol.keepalive || (c->state != SF_ESTABLISHED && c->state != SF_CLOSE_WAIT)) return;
    if (c->snd_una != c->snd_max || c->sndbuf.len > 0) {
        sf_timer_set(c, SF_TIMER_KEEPALIVE, now + c->pol.keepalive);
        return;
    }
    if (c->ka_probes >= c->pol.keepalive_probes) {
        /* RFC 9293 §3.8.4 does not say; Linux (tcp_keepalive_timer) and
         * FreeBSD (tcp_timer_keep) send <SEQ=SND.NXT><CTL=RST> first, so
         * that a peer that is there after all learns the connection is gone */
        sf_send_rst(c, now);
        sf_conn_closed(c, SF_CAUSE_TIMER, "keep-alives unanswered", SF_ETIMEDOUT);
        return;
    }
    sf_send_keepalive(c, now);
    c->ka_probes++;
    sf_timer_set(c, SF_TIMER_KEEPALIVE, now + c->pol.keepalive_interval);
}

/* The peer spoke: it is alive, and the keep-alive idle time starts again. */
void sf_keepalive_heard(sf_conn *c, uint64_t now)
{
    if (!c->pol.keepalive) return;
    c->ka_probes = 0;
    sf_timer_set(c, SF_TIMER_KEEPALIVE, now + c->pol.keepalive);
}

/* Data was acknowledged, or began to be outstanding: the user timeout counts
 * from now, and stops when nothing is outstanding. Timed as Linux's, it has
 * no timer of its own (retransmit, persist). */
void sf_user_timeout_progress(sf_conn *c, uint64_t now)
{
    if (!c->pol.user_timeout) return;
    if (uto_linux(c)) {
        sf_timer_stop(c, SF_TIMER_USER);
        return;
    }
    sf_timer_set(c, SF_TIMER_USER, c->snd_una == c->snd_max ? 0 : now + c->pol.user_timeout);
}

/* ---- one handler per timer, called when it is due (its deadline cleared) ---- */

/* RFC 9293 §3.10.8, TIME-WAIT TIMEOUT: delete the TCB */
static void on_time_wait(sf_conn *c, uint64_t now)
{
    (void)now;
    sf_conn_closed(c, SF_CAUSE_TIMER, "2MSL", 0);
}

/* the fin_wait_2_timeout policy (picotcp#60): a vanished peer cannot hold
 * FIN_WAIT_2 forever */
static void on_fin_wait_2(sf_conn *c, uint64_t now)
{
    (void)now;
    sf_conn_closed(c, SF_CAUSE_TIMER, "FIN_WAIT_2 timeout", 0);
}

/* RFC 9293 §3.10.8, USER TIMEOUT: flush the queues, signal, CLOSED */
static void on_user_timeout(sf_conn *c, uint64_t now)
{
    (void)now;
    if (uto_linux(c)) return; /* the policy changed: retransmit and persist check it */
    sf_conn_closed(c, SF_CAUSE_TIMER, "user timeout", SF_ETIMEDOUT);
}

/* RFC 9293 §3.8.6.2.1 (4): the override timeout lets the small segment go */
static void on_sws(sf_conn *c, uint64_t now)
{
    c->sws_override = true;
    sf_output(c, now);
    c->sws_override = false;
}

/* RFC 9293 §3.8.6.3: the delayed ACK is due */
static void on_delack(sf_conn *c, uint64_t now)
{
    if (sf_quickack_on(c)) sf_quickack_timer(c); /* Linux's ATO and interactive mode */
    sf_send_ack(c, now);
}

/* RFC 8985 §7.3: the probe, then the RTO (re)armed, not the PTO; one probe
 * an episode: the probe arms no other */
static void on_tlp(sf_conn *c, uint64_t now)
{
    c->tlp_out = true;
    if (sf_send_tail_probe(c, now))
        sf_rto_arm(c, now);
    else
        c->tlp_out = false;
}

/* RFC 9293 §3.10.8, RETRANSMISSION TIMEOUT (RFC 6298 (5.4)-(5.7)); a probe
 * still pending is moot */
static void on_rto(sf_conn *c, uint64_t now)
{
    c->timer_at[SF_TIMER_TLP] = 0;
    c->tlp_out = false;
    retransmit(c, now);
}

static void (*const on_timer[SF_TIMER_COUNT])(sf_conn *c, uint64_t now) = {
    [SF_TIMER_TIME_WAIT] = on_time_wait,
    [SF_TIMER_FIN_WAIT_2] = on_fin_wait_2,
    [SF_TIMER_USER] = on_user_timeout,
    [SF_TIMER_KEEPALIVE] = keepalive,
    [SF_TIMER_SWS] = on_sws,
    [SF_TIMER_DELACK] = on_delack,
    [SF_TIMER_TLP] = on_tlp,
    [SF_TIMER_RTO] = on_rto,
    [SF_TIMER_PERSIST] = persist,
};

void sf_timers_run(sf_stack *st, uint64_t now)
{
    /* Bounded: each connection is handled at most once per call. */
    size_t budget = st->timers.len;
    sf_heap_node *top;
    while ((top = sf_heap_top(&st->timers)) && top->deadline <= now && budget--) {
        sf_conn *c = sf_conn_of_timer(top);
        for (int t = 0; t < SF_TIMER_COUNT && c->state != SF_CLOSED; t++) {
            if (!c->timer_at[t] || c->timer_at[t] > now) continue;
            c->timer_at[t] = 0;
            on_timer[t](c, now);
        }
        if (c->state != SF_CLOSED) sf_timer_update(c);
        sf_conn_check(c);
    }
}
