/* ecn.c - Explicit Congestion Notification (RFC 3168, SHLD-8): a router
 * that would drop a packet of an ECN-capable connection marks it
 * Congestion Experienced instead; the receiver echoes the mark (ECE on its
 * ACKs) until the sender says it has reduced its window (CWR), and the
 * sender reduces it as for a loss, once per window, without retransmitting.
 *
 * The ECN field is the IP header's two low bits of the TOS byte. */
#include "tcb.h"

enum { ECN_MASK = 3, ECT0 = 2, CE = 3 };

/* RFC 3168 §6.1.1: an ECN-setup SYN has ECE and CWR; an ECN-setup SYN-ACK
 * has ECE only. A passive open agrees when its policy lets it; an active
 * one when it asked and the SYN-ACK agrees. */
void sf_ecn_syn_in(sf_conn *c, const sf_seg *seg)
{
    uint8_t f = seg->flags & (SF_ECE | SF_CWR);
    if (seg->flags & SF_ACK)
        c->ecn_ok = c->ecn_asked && f == SF_ECE;
    else
        c->ecn_ok = c->pol.ecn != SF_ECN_OFF && f == (SF_ECE | SF_CWR);
}

/* Our SYN asks (the first one only: a retransmitted SYN goes without, as
 * Linux does, in case a middlebox drops ECN-setup SYNs, RFC 3168 §6.1.1.1);
 * our SYN-ACK agrees. Neither is ECN-capable itself (§6.1.1). */
void sf_ecn_syn_out(sf_conn *c, sf_seg *seg)
{
    if (!(seg->flags & SF_ACK)) {
        c->ecn_asked = c->pol.ecn == SF_ECN_ON && c->retries == 0;
        if (c->ecn_asked) seg->flags |= SF_ECE | SF_CWR;
    } else if (c->ecn_ok) {
        seg->flags |= SF_ECE;
    }
}

/* §6.1.3: every ACK carries ECE from a CE mark until the peer's CWR. */
void sf_ecn_ack_out(const sf_conn *c, sf_seg *seg)
{
    if (c->ece_pending && (seg->flags & SF_ACK) && !(seg->flags & (SF_SYN | SF_RST)))
        seg->flags |= SF_ECE;
}

/* §6.1.2, §6.1.5: new data is ECN-capable (ECT(0)); retransmissions, pure
 * ACKs, window probes and resets are not. The first new data after a
 * reduction carries CWR. */
void sf_ecn_data_out(sf_conn *c, sf_seg *seg, bool new_data)
{
    if (!c->ecn_ok || !seg->len || !new_data) return;
    seg->tos = (uint8_t)((seg->tos & ~ECN_MASK) | ECT0);
    if (c->cwr_pending) {
        seg->flags |= SF_CWR;
        c->cwr_pending = false;
    }
}

/* §6.1.3: a CE mark on an acceptable segment starts the echo, a CWR ends
 * it (a CWR and a new mark in one segment: the mark wins). The mark draws
 * an ACK at once, as Linux does, so that the sender hears of it soon. */
void sf_ecn_in(sf_conn *c, const sf_seg *seg)
{
    if (!c->ecn_ok) return;
    if (seg->flags & SF_CWR) c->ece_pending = false;
    if ((seg->tos & ECN_MASK) == CE) {
        c->ece_pending = true;
        c->ack_now = true;
    }
}

/* §6.1.2: an ECE on an acceptable ACK reduces the window, at most once
 * per window of data: not again until an ACK acknowledges data sent after
 * the reduction (beyond SND.MAX then). The ECEs of that window (the ACKs
 * sent before the receiver saw our CWR, a window update beside an ACK)
 * acknowledge no more than that. */
void sf_ecn_ack_in(sf_conn *c, const sf_seg *seg)
{
    if (!c->ecn_ok || !(seg->flags & SF_ECE)) return;
    if (c->ecn_reduced && sf_seq_le(seg->ack, c->ecn_recover)) return;
    sf_cc_on_ecn(c);
    c->ecn_reduced = true;
    c->ecn_recover = c->snd_max;
    c->cwr_pending = true;
}
