/* recovery.c - what an ACK tells the sender about loss, and the
 * retransmissions it calls for: duplicate ACKs (RFC 5681 §2, RFC 6675 §2),
 * fast retransmit and NewReno's partial ACKs (RFC 5681 §3.2, RFC 6582), and
 * with SACK the holes the scoreboard shows (RFC 6675 §5). The window itself
 * is cc.c's; input.c only hands each acceptable ACK over. */
#include "tcb.h"

bool sf_recovery_read_ack(sf_conn *c, const sf_seg *seg)
{
    /* RFC 5681 §2, a duplicate ACK: data outstanding, no data nor SYN nor
     * FIN in it, SEG.ACK = SND.UNA and the window unchanged. With SACK,
     * RFC 6675 §2's: an ACK whose blocks SACK bytes not SACKed before,
     * whatever its window (a receiver that grows its window as it goes,
     * as Linux does, changes it in every ACK) */
    uint32_t newly_sacked = c->sack_ok ? sf_sack_update(c, seg) : 0;
    bool same_ack = seg->ack == c->snd_una && seg->len == 0 && !(seg->flags & (SF_SYN | SF_FIN)) &&
                    c->snd_max != c->snd_una &&
                    c->snd_wnd != 0; /* answers to zero-window probes are not losses */
    return same_ack && (sf_peer_window(c, seg) == c->snd_wnd || newly_sacked > 0);
}

/* Fast recovery's retransmissions. NewReno (RFC 6582) resends SND.UNA on
 * the third duplicate ACK and on each partial ACK. With SACK (RFC 6675
 * §5, simplified) the scoreboard says where the holes are: each partial
 * or further duplicate ACK resends the first hole not yet resent (a
 * duplicate ACK's in place of the new segment its window inflation would
 * let go), and SND.UNA again only once it is shown lost a second time:
 * SACKs for data sent 3 segments past its retransmission (RFC 6675 §4's
 * IsLost, applied to a retransmission, as Linux's lost-retransmit
 * detection does). Resending SND.UNA on every partial ACK, when the
 * holes were all resent already, sends each of them twice. */
void sf_recovery_repair(sf_conn *c, uint64_t now, bool resend_first, bool dupack)
{
    if (!c->sack_ok || !c->in_recovery) { /* NewReno alone */
        if (resend_first) sf_retransmit_first(c, now);
        return;
    }
    bool una_resent = sf_seq_gt(c->high_rxt, c->snd_una);
    /* a partial ACK reached a hole resent already: resent no later than
     * the latest retransmission, whose SND.MAX is its mark (or later) */
    if (resend_first && una_resent && sf_seq_gt(c->last_rxt_mark, c->una_rxt_mark))
        c->una_rxt_mark = c->last_rxt_mark;
    if (sf_sack_una_rxt_lost(c) || (resend_first && !una_resent)) {
        sf_retransmit_first(c, now); /* again: it was lost as well; or not resent yet */
        return;
    }
    uint32_t start, end;
    if ((resend_first || dupack) && sf_sack_next_hole(c, &start, &end) &&
        sf_retransmit_range(c, now, start, end) && dupack) {
        uint32_t mss = sf_eff_mss(c); /* the inflation paid for it */
        c->cwnd = c->cwnd > mss ? c->cwnd - mss : mss;
    }
}
