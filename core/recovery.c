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
 * §5, simplified) the scoreboard says where the holes are: the first one
 * not yet resent goes instead of SND.UNA when SND.UNA was resent already,
 * and each further duplicate ACK in recovery resends the next hole, in
 * place of the new segment its window inflation would let go. */
void sf_recovery_repair(sf_conn *c, uint64_t now, bool resend_first, bool dupack)
{
    if (!c->sack_ok || !c->in_recovery) { /* NewReno alone */
        if (resend_first) sf_retransmit_first(c, now);
        return;
    }
    if (!resend_first && sf_sack_una_rxt_lost(c)) {
        sf_retransmit_first(c, now); /* again: it was lost as well */
        return;
    }
    uint32_t start, end;
    bool hole = sf_sack_next_hole(c, &start, &end);
    if (resend_first) {
        if (hole && sf_seq_gt(c->high_rxt, c->snd_una))
            sf_retransmit_range(c, now, start, end);
        else
            sf_retransmit_first(c, now);
    } else if (dupack && hole && sf_retransmit_range(c, now, start, end)) {
        uint32_t mss = sf_eff_mss(c); /* the inflation paid for it */
        c->cwnd = c->cwnd > mss ? c->cwnd - mss : mss;
    }
}
