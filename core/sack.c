/* sack.c - the sender's SACK scoreboard (RFC 2018 §5, RFC 6675 §3): which
 * bytes above SND.UNA the peer says it holds, and the holes between them
 * that fast recovery retransmits one by one, instead of one per round trip
 * as NewReno's partial acknowledgments do. The scoreboard is advice: an RTO
 * clears it (RFC 2018 §8: the receiver may renege), and the cumulative ACK
 * alone frees data. */
#include "tcb.h"

#include <string.h>

void sf_sack_clear(sf_conn *c)
{
    sf_ranges_clear(&c->sacked);
    c->sacked_base = c->snd_una;
}

/* Brings the offsets up to SND.UNA: drops what it has passed, cuts a range
 * it reached. */
static void prune(sf_conn *c)
{
    if (c->sacked.n == 0 || c->sacked_base == c->snd_una) {
        c->sacked_base = c->snd_una;
        return;
    }
    sf_ranges_advance(&c->sacked, c->snd_una - c->sacked_base);
    c->sacked_base = c->snd_una;
}

uint32_t sf_sack_update(sf_conn *c, const sf_seg *seg)
{
    prune(c);
    uint32_t before = sf_ranges_bytes(&c->sacked);
    for (int b = 0; b < seg->sack_n; b++) {
        uint32_t left = seg->sack[b][0], right = seg->sack[b][1];
        /* RFC 2018 §4: blocks name data above the ACK we sent; anything
         * else (old, beyond SND.MAX, empty) is not trusted */
        if (!sf_seq_lt(left, right) || !sf_seq_gt(left, c->snd_una) || sf_seq_gt(right, c->snd_max))
            continue;
        /* a full board (ranges.h) leaves the block out: the holes nearest
         * SND.UNA, already on it, matter first */
        sf_ranges_add(&c->sacked, left - c->snd_una, right - left);
    }
    uint32_t after = sf_ranges_bytes(&c->sacked);
    return after > before ? after - before : 0;
}

bool sf_sack_una_lost(const sf_conn *c)
{
    /* RFC 6675 §4, IsLost(SND.UNA): more than (DupThresh - 1) * SMSS bytes
     * above it SACKed (DupThresh = 3) */
    return c->sacked.n > 0 && sf_ranges_bytes(&c->sacked) > 2 * sf_eff_mss(c);
}

bool sf_sack_una_rxt_lost(const sf_conn *c)
{
    if (c->sacked.n == 0 || !sf_seq_gt(c->high_rxt, c->snd_una)) return false;
    const sf_range *last = &c->sacked.r[c->sacked.n - 1];
    uint32_t highest = c->sacked_base + last->off + last->len;
    return sf_seq_ge(highest, c->una_rxt_mark + 3 * sf_eff_mss(c));
}

bool sf_sack_next_hole(const sf_conn *c, uint32_t *start, uint32_t *end)
{
    if (c->sacked.n == 0) return false;
    uint32_t s = sf_seq_gt(c->high_rxt, c->snd_una) ? c->high_rxt : c->snd_una;
    for (int i = 0; i < c->sacked.n; i++) {
        uint32_t left = c->sacked_base + c->sacked.r[i].off;
        uint32_t right = left + c->sacked.r[i].len;
        if (sf_seq_lt(s, left)) {
            *start = s;
            *end = left;
            return true;
        }
        if (sf_seq_lt(s, right)) s = right; /* inside: skip it */
    }
    return false; /* nothing un-SACKed below the highest SACKed byte */
}
