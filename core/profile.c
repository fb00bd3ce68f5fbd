/* profile.c - stack profiles: the policy values where Linux, FreeBSD and the
 * RFCs differ, by name, in one table, so that the Lua binding, the CLI and
 * C embedders get the same ones. Each value says what the stack does and
 * where that is documented (an RFC section, a Linux sysctl or kernel
 * function, a FreeBSD sysctl or kernel function). What is not here is the
 * same in all three (or synfin has no policy for it): sf_config_default. */
#include "synfin.h"

#include <string.h>

/* Linux (6.x, net/ipv4): the values of a kernel with its default sysctls. */
static void linux_profile(sf_policy *p)
{
    /* TCP_RTO_MIN = 200 ms (include/net/tcp.h; sysctl
     * net.ipv4.tcp_rto_min_us since 6.11). tcp_rtt_estimator keeps the
     * variance term (mdev, rttvar) at least rto_min, and __tcp_set_rto sets
     * the RTO to SRTT plus that term (tcp_rto_min, __tcp_set_rto): on a
     * short path the RTO is about the RTT plus 200 ms, not RFC 6298's
     * max(SRTT + 4*RTTVAR, 1 s). The first RTO, before any sample, is
     * TCP_TIMEOUT_INIT, 1 s (RFC 6298 (2.1)), as in every profile */
    p->rto_min = 200000;
    p->rto_formula = SF_RTO_LINUX;
    /* TCP_RTO_MAX = 120 s (include/net/tcp.h): the backed-off RTO's cap */
    p->rto_max = 120000000;
    /* net.ipv4.tcp_early_retrans = 3: RFC 8985's Tail Loss Probe
     * (tcp_schedule_loss_probe, tcp_send_loss_probe; synfin follows its
     * rules, core/timer.c) */
    p->tail_loss_probe = 1;
    /* net.ipv4.tcp_congestion_control = cubic (CONFIG_DEFAULT_TCP_CONG) */
    p->congestion_control = SF_CC_CUBIC;
    /* TCP_INIT_CWND = 10 (include/net/tcp.h, tcp_init_cwnd): RFC 6928 */
    p->initial_window = 10;
    /* Linux starts every connection in quick-ACK mode (tcp_incr_quickack:
     * up to 16 segments ACKed at once) and delays later ACKs by an adaptive
     * ATO of TCP_ATO_MIN, 40 ms, to TCP_DELACK_MAX, 200 ms; a FIN received
     * and quick replies make it interactive (core/quickack.c) */
    p->delayed_ack = 40000;
    p->delayed_ack_variant = SF_DELACK_LINUX;
    /* net.ipv4.tcp_keepalive_intvl = 75 s, tcp_keepalive_probes = 9 */
    p->keepalive_interval = 75000000;
    p->keepalive_probes = 9;
    /* net.ipv4.tcp_min_snd_mss = 48 (TCP_MIN_SND_MSS, since 5.2) */
    p->min_snd_mss = 48;
    /* Minshall's variant: tcp_nagle_check holds a small segment only while
     * an earlier small one is unacknowledged (tcp_minshall_check) */
    p->nagle_variant = SF_NAGLE_MINSHALL;
    /* net.ipv4.tcp_rfc1337 = 0: a RST ends TIME_WAIT (tcp_timewait_state_process) */
    p->rst_in_time_wait = SF_TW_RST_CLOSE;
    /* tcp_timewait_state_process (TCP_TW_SYN): a SYN above RCV.NXT, or with
     * a newer timestamp, opens a new connection (RFC 1122 §4.2.2.13) */
    p->syn_in_time_wait = SF_TW_SYN_REOPEN;
    /* net.ipv4.tcp_syncookies = 1: cookies only when the SYN queue is full */
    p->syn_cookies = SF_SYN_COOKIES_AUTO;
    /* tcp_send_active_reset (close with unread data, SO_LINGER 0, a
     * listener's close, keep-alive's end): RST|ACK, built as any segment
     * (timestamps, the window) */
    p->active_reset = SF_ACTIVE_RESET_RST_ACK;
    /* TCP_USER_TIMEOUT is checked when the retransmission timer fires
     * (tcp_retransmit_timer, tcp_write_timeout), from the first
     * retransmission (retrans_stamp), the timer clamped to the time left
     * (tcp_clamp_rto_to_user_timeout) */
    p->user_timeout_timing = SF_UTO_LINUX;
    /* net.ipv4.tcp_dsack = 1: duplicates reported (tcp_dsack_set) */
    p->dsack = 1;
    /* the receive window as tcp_select_initial_window and
     * __tcp_select_window make it (core/output.c), the window scale for
     * net.ipv4.tcp_rmem's largest buffer: 6 MiB (4096 131072 6291456, its
     * default), a shift of 7 */
    p->rcv_window = SF_RCV_WINDOW_LINUX;
    p->rcv_buf_max = 6291456;
    /* tcp_probe_timer -> tcp_send_probe0 -> tcp_write_wakeup: with nothing
     * that fits the window, tcp_xmit_probe_skb(sk, 0, ...) sends a bare ACK
     * with SEQ = SND.UNA - 1 (an old sequence number, which the receiver
     * ACKs with its window, RFC 9293 §3.10.7.4 first step) */
    p->zero_window_probe = SF_ZWP_OLD_SEQ;
    /* net.ipv4.tcp_syn_linear_timeouts = 4 (since 6.5): tcp_retransmit_timer
     * doubles a SYN_SENT RTO only once icsk_backoff passed it, and
     * tcp_write_timeout allows syn_retries + 4 retransmissions, or the time
     * of syn_retries doubling ones from 1 s (retransmits_timed_out,
     * tcp_model_timeout): SYNs at 0, 1, 2, 3, 4, 5 s, ETIMEDOUT at 7 s with
     * TCP_SYNCNT 2 */
    p->syn_linear_timeouts = 4;
    /* net.ipv4.tcp_invalid_ratelimit = 500 ms: tcp_send_challenge_ack first
     * asks __tcp_oow_rate_limited, per socket (last_oow_ack_time), then the
     * per-net tcp_challenge_ack_limit */
    p->challenge_ack_interval = 500000;
}

/* FreeBSD (14.x, sys/netinet, its default "freebsd" TCP stack). */
static void freebsd_profile(sf_policy *p)
{
    /* net.inet.tcp.rexmit_min = 30 ms (TCPTV_MIN) under RFC 6298's SRTT +
     * 4*RTTVAR (tcp_xmit_timer, TCP_REXMTVAL); TCPTV_REXMTMAX, 64 s, over
     * it. Not modelled: TCPT_RANGESET adds net.inet.tcp.rexmit_slop (200 ms)
     * to every RTO it sets, and SYNs back off by tcp_syn_backoff[] */
    p->rto_min = 30000;
    p->rto_formula = SF_RTO_RFC6298;
    p->rto_max = 64000000;
    /* net.inet.tcp.cc.algorithm = cubic since 14.0 (cc_cubic(4): "the
     * default for TCP"); newreno before (mod_cc(4)) */
    p->congestion_control = SF_CC_CUBIC;
    /* net.inet.tcp.initcwnd_segments = 10 (RFC 6928) */
    p->initial_window = 10;
    /* the default stack (net.inet.tcp.functions_default = freebsd) has no
     * Tail Loss Probe; only the RACK stack (tcp_rack) has one */
    p->tail_loss_probe = 0;
    /* net.inet.tcp.delacktime = 40 ms (100 ms before FreeBSD 12.2, r360010),
     * and at least every other full segment (tuning(7)) */
    p->delayed_ack = 40000;
    p->delayed_ack_variant = SF_DELACK_RFC;
    /* net.inet.tcp.keepintvl = 75 s; net.inet.tcp.keepcnt = 8 (TCPTV_KEEPCNT) */
    p->keepalive_interval = 75000000;
    p->keepalive_probes = 8;
    /* net.inet.tcp.minmss = 216 (TCP_MINMSS) */
    p->min_snd_mss = 216;
    /* tcp_output sends a segment smaller than the MSS only when idle (all
     * sent data acknowledged) or TCP_NODELAY: RFC 896's rule */
    p->nagle_variant = SF_NAGLE_RFC;
    /* tcp_twcheck drops a RST in TIME_WAIT ("see Stevens, vol. 2, p. 964 and
     * RFC 1337") */
    p->rst_in_time_wait = SF_TW_RST_IGNORE;
    /* tcp_twcheck: a SYN above the old RCV.NXT ends TIME_WAIT and starts over */
    p->syn_in_time_wait = SF_TW_SYN_REOPEN;
    /* net.inet.tcp.syncookies = 1, syncookies_only = 0: when the syncache
     * overflows */
    p->syn_cookies = SF_SYN_COOKIES_AUTO;
    /* tcp_drop: the connection goes to CLOSED and tcp_output sends what
     * tcp_outflags[TCPS_CLOSED] says, RST|ACK, with its options */
    p->active_reset = SF_ACTIVE_RESET_RST_ACK;
    /* FreeBSD has no TCP_USER_TIMEOUT: synfin's user timeout, the RFC's way */
    p->user_timeout_timing = SF_UTO_RFC;
    /* tcp_update_dsack_list (sys/netinet/tcp_sack.c) reports duplicates */
    p->dsack = 1;
    /* not modelled: FreeBSD's window and its scale (request_r_scale follows
     * kern.ipc.maxsockbuf); synfin's RFC window over rcv_buf */
    p->rcv_window = SF_RCV_WINDOW_RFC;
    p->rcv_buf_max = 0;
    /* tcp_output with t_force set by tcp_setpersist's timer: one byte of
     * data past the window */
    p->zero_window_probe = SF_ZWP_DATA;
    /* not modelled: tcp_syn_backoff[] (1, 1, 1, 1, 1, 2, 4, ...) */
    p->syn_linear_timeouts = 0;
    /* not modelled: tcp_send_challenge_ack's net.inet.tcp.ack_war_cnt per
     * ack_war_timewindow; the stack's challenge_ack_limit */
    p->challenge_ack_interval = 0;
}

/* The RFCs read literally: RFC 9293 and the standards it names. */
static void rfc_profile(sf_policy *p)
{
    /* RFC 6298 (2.3), (2.4): RTO = SRTT + 4*RTTVAR, rounded up to 1 s
     * (SHOULD); (2.5): a maximum of at least 60 s */
    p->rto_min = 1000000;
    p->rto_formula = SF_RTO_RFC6298;
    p->rto_max = 60000000;
    /* RFC 5681 and RFC 6582 (NewReno), which RFC 9293 §3.8.2 names (MUST-19) */
    p->congestion_control = SF_CC_NEWRENO;
    /* RFC 5681 §3.1: min(4*SMSS, max(2*SMSS, 4380 bytes)); RFC 6928's 10
     * segments are Experimental */
    p->initial_window = 0;
    /* RFC 9293 has no tail probe (RFC 8985 is a later standard) */
    p->tail_loss_probe = 0;
    /* RFC 9293 §3.8.6.3 (SHLD-18, MUST-40): delay ACKs, less than 0.5 s, at
     * least every second full segment; RFC 1122 §4.2.3.2: typically 200 ms */
    p->delayed_ack = 200000;
    p->delayed_ack_variant = SF_DELACK_RFC;
    /* RFC 9293 §3.8.4 fixes the idle time (two hours, MUST-28) but neither
     * the interval nor the count, only that one lost probe never ends the
     * connection (MUST-29): BSD's and Linux's 75 s and 9 */
    p->keepalive_interval = 75000000;
    p->keepalive_probes = 9;
    /* no floor but IPv4's: every host takes a 68-octet datagram (RFC 791),
     * 28 bytes past the IP and TCP headers */
    p->min_snd_mss = 28;
    /* RFC 896, RFC 9293 §3.7.4: hold while any data is unacknowledged */
    p->nagle_variant = SF_NAGLE_RFC;
    /* RFC 9293 §3.10.7.4: a RST in TIME-WAIT closes (RFC 1337 is Informational) */
    p->rst_in_time_wait = SF_TW_RST_CLOSE;
    /* RFC 9293 §3.10.7.4 fourth step: a SYN in a synchronized state draws a
     * challenge ACK (RFC 5961 §4); reopening from TIME-WAIT is RFC 1122
     * §4.2.2.13's MAY (MAY-2) */
    p->syn_in_time_wait = SF_TW_SYN_CHALLENGE;
    /* RFC 9293 has no SYN cookies (RFC 4987 is Informational) */
    p->syn_cookies = SF_SYN_COOKIES_NEVER;
    /* RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST> */
    p->active_reset = SF_ACTIVE_RESET_RST;
    /* RFC 9293 §3.10.8 USER TIMEOUT: the connection ends when it expires */
    p->user_timeout_timing = SF_UTO_RFC;
    /* RFC 2883 extends RFC 2018; RFC 9293 asks for neither */
    p->dsack = 0;
    /* RFC 9293 §3.8.6.2.2: offer the buffer's free space, receiver SWS
     * avoidance (MUST-39); RFC 7323 §2.3: the smallest shift for rcv_buf */
    p->rcv_window = SF_RCV_WINDOW_RFC;
    p->rcv_buf_max = 0;
    /* RFC 9293 §3.8.6.1: a probe of one byte of new data */
    p->zero_window_probe = SF_ZWP_DATA;
    /* RFC 6298 (5.5): the RTO doubles at each retransmission */
    p->syn_linear_timeouts = 0;
    /* RFC 5961 §7 leaves the limit to the stack: challenge_ack_limit */
    p->challenge_ack_interval = 0;
}

void sf_policy_profile(sf_policy *pol, sf_profile profile)
{
    switch (profile) {
    case SF_PROFILE_LINUX: linux_profile(pol); break;
    case SF_PROFILE_FREEBSD: freebsd_profile(pol); break;
    case SF_PROFILE_RFC: rfc_profile(pol); break;
    }
}

static const char *const NAMES[] = {"linux", "freebsd", "rfc"};

int sf_profile_parse(const char *name)
{
    for (int i = 0; name && i < (int)(sizeof NAMES / sizeof NAMES[0]); i++)
        if (strcmp(name, NAMES[i]) == 0) return i;
    return -1;
}

const char *sf_profile_name(sf_profile profile)
{
    unsigned i = (unsigned)profile;
    return i < sizeof NAMES / sizeof NAMES[0] ? NAMES[i] : "?";
}
