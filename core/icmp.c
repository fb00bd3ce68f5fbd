/* icmp.c - the ICMP errors TCP acts on (RFC 9293 §3.9.2.2, RFC 5927): each
 * is directed to the connection whose segment it quotes (MUST-54); source
 * quench is ignored (MUST-55); soft errors are reported and never abort
 * (MUST-56, SHLD-25); hard errors abort (SHLD-26); "fragmentation needed"
 * lowers the MSS (RFC 1191 path MTU discovery). */
#include "tcb.h"

enum { ICMP_UNREACH = 3, ICMP_SOURCE_QUENCH = 4, ICMP_TIME_EXCEEDED = 11, ICMP_PARAM = 12 };
enum { UNREACH_PROTOCOL = 2, UNREACH_PORT = 3, UNREACH_NEEDFRAG = 4 };

void sf_icmp_input(sf_stack *st, uint64_t now, const uint8_t *pkt, size_t len)
{
    sf_icmp m;
    const char *why = NULL;
    if (sf_icmp_parse(pkt, len, &m, &why) != 0) {
        sf_report_drop(st, NULL, sf_reason_of_text(why));
        return;
    }
    if (m.daddr != st->cfg.addr || m.q_saddr != st->cfg.addr) {
        sf_report_drop(st, NULL, SF_R_ICMP_NOT_OURS);
        return;
    }
    sf_conn *c = sf_stack_lookup(st, m.q_daddr, m.q_sport, m.q_dport);
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
    switch (m.type) {
    case ICMP_SOURCE_QUENCH: sf_report_drop(st, c, SF_R_ICMP_SOURCE_QUENCH); return;
    case ICMP_UNREACH:
        if (m.code == UNREACH_NEEDFRAG) {
            /* RFC 1191: the path carries packets of m.mtu at most: smaller
             * segments, and the lost one again at once */
            if (m.mtu >= 68 + 40 && m.mtu - 40u < c->snd_mss) {
                c->snd_mss = (uint16_t)(m.mtu - 40u);
                c->snd_nxt = c->snd_una;
                sf_report_drop(st, c, SF_R_ICMP_MSS_LOWERED);
                sf_output(c, now);
            }
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
