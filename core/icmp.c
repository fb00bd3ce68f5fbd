/* icmp.c - the ICMP and ICMPv6 errors TCP acts on (RFC 9293 §3.9.2.2, RFC
 * 5927, RFC 4443): each is directed to the connection whose segment it
 * quotes (MUST-54); source quench is ignored (MUST-55); soft errors are
 * reported and never abort (MUST-56, SHLD-25); hard errors abort (SHLD-26);
 * "fragmentation needed" and Packet Too Big lower the MSS (RFC 1191, RFC
 * 8201 path MTU discovery). ICMPv6's errors map onto IPv4's: port
 * unreachable is port unreachable, Parameter Problem "unrecognized Next
 * Header" (RFC 4443 §3.4, code 1) is IPv4's protocol unreachable; the rest
 * are soft, as their IPv4 counterparts are. */
#include "tcb.h"

enum { ICMP_UNREACH = 3, ICMP_SOURCE_QUENCH = 4, ICMP_TIME_EXCEEDED = 11, ICMP_PARAM = 12 };
enum { UNREACH_PROTOCOL = 2, UNREACH_PORT = 3, UNREACH_NEEDFRAG = 4 };
/* RFC 4443 §3 */
enum { ICMP6_UNREACH = 1, ICMP6_TOO_BIG = 2, ICMP6_TIME_EXCEEDED = 3, ICMP6_PARAM = 4 };
enum { UNREACH6_PORT = 4, PARAM6_NEXT_HEADER = 1 };

/* A path MTU of `mtu` for connection c: smaller segments, and the lost one
 * again at once; never an MSS from less than the family's minimum. */
static void lower_mss(sf_stack *st, sf_conn *c, uint64_t now, uint32_t mtu)
{
    uint32_t hdrs = sf_hdrs_to(c->raddr);
    if (mtu - hdrs >= c->snd_mss) return;
    c->snd_mss = (uint16_t)(mtu - hdrs);
    c->snd_nxt = c->snd_una;
    sf_report_drop(st, c, SF_R_ICMP_MSS_LOWERED);
    sf_output(c, now);
}

/* ICMPv6 (RFC 4443) for connection c, its quote validated. */
static void icmp6_input(sf_stack *st, sf_conn *c, uint64_t now, const sf_icmp *m)
{
    switch (m->type) {
    case ICMP6_TOO_BIG:
        /* RFC 8201 §4: an MTU below 1280 is taken as 1280 (IPv6's minimum
         * link MTU: the path carries that much, fragmenting if it must) */
        lower_mss(st, c, now, m->mtu < SF_IPV6_MIN_MTU ? SF_IPV6_MIN_MTU : m->mtu);
        return;
    case ICMP6_UNREACH:
        if (m->code == UNREACH6_PORT) {
            sf_conn_closed(c, SF_CAUSE_SEGMENT, "ICMPv6 destination unreachable (hard error)",
                           SF_EREFUSED); /* SHLD-26 */
            return;
        }
        sf_report_soft_error(c, "ICMPv6 destination unreachable (soft error)");
        return;
    case ICMP6_TIME_EXCEEDED: sf_report_soft_error(c, "ICMPv6 time exceeded (soft error)"); return;
    case ICMP6_PARAM:
        if (m->code == PARAM6_NEXT_HEADER) {
            sf_conn_closed(c, SF_CAUSE_SEGMENT,
                           "ICMPv6 parameter problem: next header (hard error)", SF_EUNREACH);
            return;
        }
        sf_report_soft_error(c, "ICMPv6 parameter problem (soft error)");
        return;
    default: sf_report_drop(st, c, SF_R_ICMP_OTHER); return;
    }
}

void sf_icmp_input(sf_stack *st, uint64_t now, const uint8_t *pkt, size_t len)
{
    sf_icmp m;
    const char *why = NULL;
    if (sf_icmp_parse(pkt, len, &m, &why) != 0) {
        sf_report_drop(st, NULL, sf_reason_of_text(why));
        return;
    }
    if (!sf_stack_has_addr(st, m.daddr) || !sf_stack_has_addr(st, m.q_saddr)) {
        sf_report_drop(st, NULL, SF_R_ICMP_NOT_OURS);
        return;
    }
    sf_conn *c = sf_stack_lookup(st, m.q_saddr, m.q_daddr, m.q_sport, m.q_dport);
    if (!c || c->is_listener) {
        sf_report_drop(st, NULL, SF_R_ICMP_NO_CONNECTION);
        return;
    }
    /* RFC 5927 §4.1: only an error about data in flight is believed, so
     * that a blind attacker cannot reset or slow a connection */
    if (!sf_seq_ge(m.q_seq, c->snd_una) || !sf_seq_lt(m.q_seq, c->snd_max)) {
        sf_report_drop(st, c, SF_R_ICMP_NOT_IN_FLIGHT);
        return;
    }
    if (!sf_addr_is_v4(m.daddr)) {
        icmp6_input(st, c, now, &m);
        return;
    }
    switch (m.type) {
    case ICMP_SOURCE_QUENCH: sf_report_drop(st, c, SF_R_ICMP_SOURCE_QUENCH); return;
    case ICMP_UNREACH:
        if (m.code == UNREACH_NEEDFRAG) {
            /* RFC 1191: the path carries packets of m.mtu at most: smaller
             * segments, and the lost one again at once */
            if (m.mtu >= 68 + 40) lower_mss(st, c, now, m.mtu);
            return;
        }
        if (m.code == UNREACH_PROTOCOL || m.code == UNREACH_PORT) {
            /* SHLD-26: a hard error aborts */
            sf_conn_closed(c, SF_CAUSE_SEGMENT, "ICMP destination unreachable (hard error)",
                           m.code == UNREACH_PORT ? SF_EREFUSED : SF_EUNREACH);
            return;
        }
        sf_report_soft_error(c,
                             "ICMP destination unreachable (soft error)"); /* codes 0, 1, 5, ... */
        return;
    case ICMP_TIME_EXCEEDED: sf_report_soft_error(c, "ICMP time exceeded (soft error)"); return;
    case ICMP_PARAM: sf_report_soft_error(c, "ICMP parameter problem (soft error)"); return;
    default: sf_report_drop(st, c, SF_R_ICMP_OTHER); return;
    }
}
