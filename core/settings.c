/* settings.c - the table of settings (settings.h): one row per setting,
 * from which the Lua binding parses, the Lua layer lists and the README
 * documents them. Adding a setting: its field in sf_config or sf_policy,
 * its default (core/stack.c, core/profile.c), and a row here. */
#include "settings.h"

#include "tcb.h"

#include <string.h>

#define TIME_MAX_S SF_TIME_MAX_S
#define RTO_MAX_S  3600 /* RTOs: the core keeps them as microseconds in a uint32 */
#define U32        4294967295.0

/* RFC 9293 §3.8.4 (MUST-28): a keep-alive's idle time, when one is asked
 * for without a time, is at least two hours. */
#define KEEPALIVE_DEFAULT_US 7200000000ULL

/* Where a field lands: its offset and size in sf_config. */
#define POL(f) offsetof(sf_config, policy.f), sizeof(((sf_config *)0)->policy.f)
#define CFG(f) offsetof(sf_config, f), sizeof(((sf_config *)0)->f)

/* The choices' names, in the order of their enums (synfin.h). */
static const char *const CC[] = {"none", "newreno", "cubic", NULL};
static const char *const NAGLE[] = {"rfc", "minshall", NULL};
static const char *const AFTER_CLOSE[] = {"keep", "reset", NULL};
static const char *const ACTIVE_RESET[] = {"rst", "rst_ack", NULL};
static const char *const ECN[] = {"off", "accept", "on", NULL};
static const char *const TW_RST[] = {"close", "ignore", NULL};
static const char *const TW_SYN[] = {"reopen", "challenge", NULL};
static const char *const COOKIES[] = {"auto", "always", "never", NULL};
static const char *const PROFILES[] = {"linux", "freebsd", "rfc", NULL};
static const char *const RTO_FORMULA[] = {"rfc6298", "linux", NULL};
static const char *const UTO_TIMING[] = {"rfc", "linux", NULL};
static const char *const RCV_WINDOW[] = {"rfc", "linux", NULL};
static const char *const DELACK_VARIANT[] = {"rfc", "linux", NULL};
static const char *const ZWP_FORM[] = {"data", "old_seq", NULL};
_Static_assert(SF_RTO_LINUX == 1 && SF_CC_CUBIC == 2 && SF_NAGLE_MINSHALL == 1 &&
                   SF_RCV_AFTER_CLOSE_RESET == 1 && SF_ECN_ON == 2 && SF_TW_RST_IGNORE == 1 &&
                   SF_TW_SYN_CHALLENGE == 1 && SF_SYN_COOKIES_NEVER == 2 && SF_PROFILE_RFC == 2 &&
                   SF_RCV_WINDOW_LINUX == 1 && SF_DELACK_LINUX == 1 && SF_UTO_LINUX == 1,
               "the names above follow the enums' order");

/* RFC 9293 §3.8.6.3 (MUST-40): an ACK is delayed less than 0.5 s. */
static const char *delayed_ack_rule(const sf_config *cfg, uint64_t value)
{
    (void)cfg;
    return value >= SF_DELACK_MAX ? "must be below 0.5 s (MUST-40)" : NULL;
}

const sf_setting_place sf_setting_places[4] = {{SF_AT_HOST, "host"},
                                               {SF_AT_LISTEN, "listen"},
                                               {SF_AT_CONNECT, "connect"},
                                               {SF_AT_SET, "c:set"}};

static const sf_setting SETTINGS[] = {
    /* timers */
    {"msl", SF_SETTING_TIME, SF_AT_POLICY, POL(msl), 0, TIME_MAX_S, NULL, NULL, "s",
     "maximum segment lifetime: `TIME_WAIT` lasts 2 MSL (RFC 9293 §3.4.2)"},
    {"rto", SF_SETTING_TIME, SF_AT_POLICY, POL(rto_initial), 0, RTO_MAX_S, NULL, NULL, "s",
     "the first retransmission timeout (RFC 6298 2.1)"},
    {"rto_min", SF_SETTING_TIME, SF_AT_POLICY, POL(rto_min), 0, RTO_MAX_S, NULL, NULL, "s",
     "the floor under the RTO (RFC 6298 2.4), under its variance term with `rto_formula = "
     "\"linux\"`; above 0, at most `rto_max`"},
    {"rto_max", SF_SETTING_TIME, SF_AT_POLICY, POL(rto_max), 0, RTO_MAX_S, NULL, NULL, "s",
     "the ceiling over the RTO (RFC 6298 2.5)"},
    {"rto_formula", SF_SETTING_CHOICE, SF_AT_POLICY, POL(rto_formula), 0, 0, RTO_FORMULA, NULL, "",
     "the RTO from RTT samples: `rfc6298` (SRTT + 4*RTTVAR, at least `rto_min`) or `linux` "
     "(`tcp_set_rto`: SRTT + a variance term of at least `rto_min`)"},
    {"retries", SF_SETTING_INT, SF_AT_POLICY, POL(max_retries), 0, U32, NULL, NULL, "",
     "R2: retransmissions of data or a FIN before the connection gives up (MUST-21)"},
    {"syn_retries", SF_SETTING_INT, SF_AT_POLICY, POL(syn_retries), 0, U32, NULL, NULL, "",
     "retransmissions of a SYN or SYN-ACK before giving up"},
    {"syn_linear_timeouts", SF_SETTING_INT, SF_AT_POLICY, POL(syn_linear_timeouts), 0, 255, NULL,
     NULL, "",
     "`SYN_SENT`: the first this many SYN retransmissions wait the same RTO, not doubled; "
     "the connection gives up after `syn_retries` + this many, or the time `syn_retries` "
     "doubling ones take (Linux's `tcp_syn_linear_timeouts`)"},
    {"r1", SF_SETTING_INT, SF_AT_POLICY, POL(r1), 0, U32, NULL, NULL, "",
     "R1: at this many retransmissions the application hears of it (SHLD-9, SHLD-10)"},
    {"user_timeout", SF_SETTING_TIME, SF_AT_POLICY, POL(user_timeout), 0, TIME_MAX_S, NULL, NULL,
     "s", "data unacknowledged this long without progress aborts (RFC 5482); 0: none"},
    {"user_timeout_timing", SF_SETTING_CHOICE, SF_AT_POLICY, POL(user_timeout_timing), 0, 0,
     UTO_TIMING, NULL, "",
     "when `user_timeout` ends a connection: `rfc` at its end exactly (RFC 9293 §3.10.8), "
     "`linux` at a retransmission or zero-window probe timer, counted from the first of them, "
     "that timer clamped to the time left (`tcp_write_timeout`, `tcp_probe_timer`)"},
    {"fin_wait_2_timeout", SF_SETTING_TIME, SF_AT_POLICY, POL(fin_wait_2_timeout), 0, TIME_MAX_S,
     NULL, NULL, "s", "`FIN_WAIT_2` ends after this long (Linux: 60 s); 0: never, the RFC's way"},
    {"keepalive", SF_SETTING_KEEPALIVE, SF_AT_POLICY, POL(keepalive), 0, TIME_MAX_S, NULL, NULL,
     "s",
     "idle time before keep-alives (RFC 9293 §3.8.4), `true` for two hours (MUST-28); "
     "off by default (MUST-25)"},
    {"keepalive_interval", SF_SETTING_TIME, SF_AT_POLICY, POL(keepalive_interval), 0, TIME_MAX_S,
     NULL, NULL, "s", "time between unanswered keep-alives"},
    {"keepalive_probes", SF_SETTING_INT, SF_AT_POLICY, POL(keepalive_probes), 0, U32, NULL, NULL,
     "", "unanswered keep-alives that end the connection (never one alone, MUST-29)"},
    {"delayed_ack", SF_SETTING_TIME, SF_AT_POLICY, POL(delayed_ack), 0, TIME_MAX_S, NULL,
     delayed_ack_rule, "s",
     "ACK in-order data at most this late, below 0.5 s (MUST-40), and every second full "
     "segment (SHLD-19); 0: at once. With `delayed_ack_variant = \"linux\"` the ATO's floor"},
    {"delayed_ack_variant", SF_SETTING_CHOICE, SF_AT_POLICY, POL(delayed_ack_variant), 0, 0,
     DELACK_VARIANT, NULL, "",
     "which ACKs wait: `rfc` (each up to `delayed_ack`, every second full segment at once, RFC "
     "9293 §3.8.6.3) or `linux` (quick-ACK mode for up to 16 segments at the start and after "
     "idle, then an ATO from `delayed_ack` up to 200 ms; a FIN and replies make it interactive)"},
    /* sending and receiving */
    {"rcv_buf", SF_SETTING_INT, SF_AT_MADE, POL(rcv_buf), 1, 1 << 30, NULL, NULL, "bytes",
     "the receive buffer: the most we offer (more than 64 KiB with window scaling); with "
     "`rcv_window = \"linux\"` what Linux's `SO_RCVBUF` asks (its memory is twice it)"},
    {"rcv_buf_max", SF_SETTING_INT, SF_AT_MADE, POL(rcv_buf_max), 0, 1 << 30, NULL, NULL, "bytes",
     "the largest the receive buffer may grow to (Linux's `tcp_rmem[2]`): the window scale "
     "offered covers it (6 MiB: 7); 0: `rcv_buf`. synfin's buffer stays `rcv_buf`"},
    {"rcv_window", SF_SETTING_CHOICE, SF_AT_MADE, POL(rcv_window), 0, 0, RCV_WINDOW, NULL, "",
     "how the offered window moves: `rfc` (all free space, held back by receiver SWS "
     "avoidance, RFC 9293 §3.8.6.2.2) or `linux` (`tcp_select_initial_window`: 44 MSS of 64 "
     "KiB first; `__tcp_select_window`: grown from there by data, rounded up to the scale, "
     "a window-update ACK only when a read doubles it)"},
    {"snd_buf", SF_SETTING_INT, SF_AT_POLICY, POL(snd_buf), 1, 1 << 30, NULL, NULL, "bytes",
     "the send buffer: SEND queues no more than this, unacknowledged and unsent (`c:set` "
     "changes it, as `SO_SNDBUF` does Linux's)"},
    {"mss", SF_SETTING_INT, SF_AT_MADE, POL(mss), 64, 1460, NULL, NULL, "bytes",
     "the MSS we announce (at most `mtu` - 40, - 60 over IPv6)"},
    {"min_snd_mss", SF_SETTING_INT, SF_AT_POLICY, POL(min_snd_mss), 1, 1460, NULL, NULL, "bytes",
     "the floor under the peer's MSS (Linux's `tcp_min_snd_mss`), less the options every "
     "segment carries (RFC 6691)"},
    {"mtu", SF_SETTING_INT, SF_AT_HOST, CFG(mtu), 576, 1540, NULL, NULL, "bytes",
     "the MTU of the host's link: what is announced and sent is at most `mtu` - 40 "
     "(MUST-67), - 60 over IPv6; at least 1280 on a host with an IPv6 address (RFC 8200 §5)"},
    {"nagle", SF_SETTING_BOOL, SF_AT_POLICY, POL(nagle), 0, 1, NULL, NULL, "",
     "hold small segments while data is unacknowledged (RFC 9293 §3.7.4, SHLD-7)"},
    {"nagle_variant", SF_SETTING_CHOICE, SF_AT_POLICY, POL(nagle_variant), 0, 0, NAGLE, NULL, "",
     "which small segment Nagle holds: `minshall` (Linux's `tcp_nagle_check`) while an "
     "earlier small one is unacknowledged, `rfc` (RFC 896) while any data is"},
    {"zero_window_probe", SF_SETTING_CHOICE, SF_AT_POLICY, POL(zero_window_probe), 0, 0, ZWP_FORM,
     NULL, "",
     "what probes a zero window: `data`, one byte of new data (RFC 9293 §3.8.6.1), or "
     "`old_seq`, a bare ACK with SEQ = SND.UNA - 1 that draws the peer's ACK (Linux's "
     "`tcp_xmit_probe_skb`)"},
    {"congestion_control", SF_SETTING_CHOICE, SF_AT_POLICY, POL(congestion_control), 0, 0, CC, NULL,
     "",
     "`cubic` (RFC 9438, Linux's), `newreno` (RFC 5681, 6582, with Limited Transmit, RFC "
     "3042) or `none`: the peer's window alone (MUST-19); `c:info()` has `cwnd`, `ssthresh`"},
    {"initial_window", SF_SETTING_INT, SF_AT_POLICY, POL(initial_window), 0, 100, NULL, NULL,
     "segments", "the initial window (RFC 6928); 0: RFC 5681 §3.1's 4380 bytes"},
    {"rcv_after_close", SF_SETTING_CHOICE, SF_AT_POLICY, POL(rcv_after_close), 0, 0, AFTER_CLOSE,
     NULL, "",
     "data after our CLOSE: `keep` (RFC 9293 §3.10.4) or `reset` (a RST, RFC 1122 4.2.2.13, "
     "as after the sockets API's `close()`)"},
    {"active_reset", SF_SETTING_CHOICE, SF_AT_POLICY, POL(active_reset), 0, 0, ACTIVE_RESET, NULL,
     "",
     "the RST of an abort, a listener's close, keep-alive's end: `rst_ack` (Linux's "
     "`tcp_send_active_reset`, FreeBSD's: the ACK, window, timestamps) or `rst` (RFC 9293 "
     "§3.10.5)"},
    {"ecn", SF_SETTING_CHOICE, SF_AT_POLICY, POL(ecn), 0, 0, ECN, NULL, "",
     "RFC 3168: `accept` (Linux's `tcp_ecn = 2`) agrees when the peer's SYN asks, `on` asks "
     "too, `off` never"},
    {"tail_loss_probe", SF_SETTING_BOOL, SF_AT_POLICY, POL(tail_loss_probe), 0, 1, NULL, NULL, "",
     "RFC 8985 §7: after about two round trips without an ACK, one probe, long before the RTO"},
    {"sack", SF_SETTING_BOOL, SF_AT_POLICY, POL(sack), 0, 1, NULL, NULL, "",
     "offer SACK-permitted and send SACK blocks (RFC 2018)"},
    {"dsack", SF_SETTING_BOOL, SF_AT_POLICY, POL(dsack), 0, 1, NULL, NULL, "",
     "report a duplicate segment in the first SACK block (D-SACK, RFC 2883; Linux's "
     "`tcp_dsack`)"},
    {"window_scaling", SF_SETTING_BOOL, SF_AT_MADE, POL(window_scaling), 0, 1, NULL, NULL, "",
     "offer window scaling (RFC 7323 §2); the shift follows `rcv_buf` or `rcv_buf_max`"},
    {"timestamps", SF_SETTING_BOOL, SF_AT_MADE, POL(timestamps), 0, 1, NULL, NULL, "",
     "offer timestamps (RFC 7323 §3-5): PAWS"},
    {"ttl", SF_SETTING_INT, SF_AT_POLICY, POL(ttl), 1, 255, NULL, NULL, "",
     "the TTL of what we send (MUST-49)"},
    {"tos", SF_SETTING_INT, SF_AT_POLICY, POL(tos), 0, 255, NULL, NULL, "",
     "the DS field (DSCP and ECN bits) of what we send (MUST-48)"},
    /* policies where stacks differ */
    {"rst_in_time_wait", SF_SETTING_CHOICE, SF_AT_POLICY, POL(rst_in_time_wait), 0, 0, TW_RST, NULL,
     "", "a RST in `TIME_WAIT`: `close` (RFC 9293 §3.10.7.4, Linux) or `ignore` (RFC 1337)"},
    {"syn_in_time_wait", SF_SETTING_CHOICE, SF_AT_POLICY, POL(syn_in_time_wait), 0, 0, TW_SYN, NULL,
     "", "a SYN in `TIME_WAIT`: `reopen` (RFC 1122 4.2.2.13, Linux) or `challenge` (RFC 5961 §4)"},
    {"challenge_ack_limit", SF_SETTING_INT, SF_AT_HOST, CFG(challenge_ack_limit), 0, U32, NULL,
     NULL, "per second", "challenge ACKs the host sends at most (RFC 5961 §7); 0: no limit"},
    {"challenge_ack_interval", SF_SETTING_TIME, SF_AT_POLICY, POL(challenge_ack_interval), 0,
     RTO_MAX_S, NULL, NULL, "s",
     "a connection sends at most one challenge ACK this often, on the clock of its ACKs to "
     "out-of-window bare ACKs (Linux's `tcp_invalid_ratelimit`, 0.5 s); 0: no such limit"},
    {"soft_errors", SF_SETTING_BOOL, SF_AT_POLICY, POL(soft_errors), 0, 1, NULL, NULL, "",
     "report soft errors to the application (SHLD-20)"},
    {"syn_cookies", SF_SETTING_CHOICE, SF_AT_POLICY, POL(syn_cookies), 0, 0, COOKIES, NULL, "",
     "a listener's SYN cookies (RFC 4987): `auto` once its SYN queue is full (Linux's), "
     "`always`, `never`"},
    {"profile", SF_SETTING_PROFILE, SF_AT_POLICY, 0, 0, 0, 0, PROFILES, NULL, "",
     "the policy values where stacks differ, by name (core/profile.c); settings given "
     "beside it win over it"},
    /* identity */
    {"isn", SF_SETTING_ISN, SF_AT_HOST, CFG(isn), 0, U32, NULL, NULL, "",
     "a fixed ISN for every connection, for tests (default: RFC 6528's)"},
    {"secret", SF_SETTING_SECRET, SF_AT_HOST, CFG(secret), 0, 0, NULL, NULL, "",
     "the ISN key (RFC 6528): 16 bytes, or an integer spread over them (default: from the "
     "net's seed)"},
    {"quiet_time", SF_SETTING_TIME, SF_AT_HOST, CFG(quiet_time), 0, TIME_MAX_S, NULL, NULL, "s",
     "after a restart, send nothing for this long (RFC 9293 §3.4.3)"},
    {"backlog", SF_SETTING_INT, SF_AT_HOST | SF_AT_LISTEN, CFG(backlog), 0, 65535, NULL, NULL, "",
     "connections a listener queues for accept"},
};

const sf_setting *sf_settings(size_t *n)
{
    *n = sizeof SETTINGS / sizeof SETTINGS[0];
    return SETTINGS;
}

const sf_setting *sf_setting_find(const char *name)
{
    for (size_t i = 0; i < sizeof SETTINGS / sizeof SETTINGS[0]; i++)
        if (strcmp(SETTINGS[i].name, name) == 0) return &SETTINGS[i];
    return NULL;
}

uint64_t sf_setting_get(const sf_setting *s, const sf_config *cfg)
{
    const unsigned char *at = (const unsigned char *)cfg + s->offset;
    switch (s->size) {
    case 1: return *(const uint8_t *)at;
    case 2: return *(const uint16_t *)at;
    case 4: return *(const uint32_t *)at;
    case 8: return *(const uint64_t *)at;
    default: return 0; /* a secret, a profile: no number */
    }
}

const char *sf_setting_set(const sf_setting *s, sf_config *cfg, uint64_t value)
{
    const char *wrong = s->rule ? s->rule(cfg, value) : NULL;
    if (wrong) return wrong;
    if (s->type == SF_SETTING_PROFILE) {
        sf_policy_profile(&cfg->policy, (sf_profile)value);
        return NULL;
    }
    if (s->type == SF_SETTING_ISN) cfg->fixed_isn = 1;
    unsigned char *at = (unsigned char *)cfg + s->offset;
    switch (s->size) {
    case 1: *(uint8_t *)at = (uint8_t)value; break;
    case 2: *(uint16_t *)at = (uint16_t)value; break;
    case 4: *(uint32_t *)at = (uint32_t)value; break;
    case 8: *(uint64_t *)at = value; break;
    default: break;
    }
    return NULL;
}

uint64_t sf_setting_bool_value(const sf_setting *s, int on)
{
    if (s->type == SF_SETTING_KEEPALIVE) return on ? KEEPALIVE_DEFAULT_US : 0;
    return on ? 1 : 0;
}

const char *sf_policy_check(const sf_policy *p)
{
    /* RFC 6298 (2.4, 2.5): the RTO lies between a floor and a ceiling */
    if (p->rto_min == 0 || p->rto_min > p->rto_max)
        return "setting 'rto_min' must be above 0 and at most rto_max";
    return NULL;
}
