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
    c->sacked_n = 0;
}

/* Drops what SND.UNA has passed; cuts a range it reached. */
static void prune(sf_conn *c)
{
    int kept = 0;
    for (int i = 0; i < c->sacked_n; i++) {
        if (sf_seq_le(c->sacked[i].right, c->snd_una)) continue;
        c->sacked[kept] = c->sacked[i];
        if (sf_seq_lt(c->sacked[kept].left, c->snd_una)) c->sacked[kept].left = c->snd_una;
        kept++;
    }
    c->sacked_n = (uint8_t)kept;
}

/* Adds [left, right) to the sorted, disjoint ranges, merging what touches
 * it. When the board is full, the highest range goes: the holes nearest
 * SND.UNA matter first. */
static void add(sf_conn *c, uint32_t left, uint32_t right)
{
    int i = 0;
    while (i < c->sacked_n && sf_seq_lt(c->sacked[i].right, left))
        i++;
    /* ranges i.. that overlap or touch [left, right) merge into it */
    int j = i;
    while (j < c->sacked_n && sf_seq_le(c->sacked[j].left, right)) {
        if (sf_seq_lt(c->sacked[j].left, left)) left = c->sacked[j].left;
        if (sf_seq_gt(c->sacked[j].right, right)) right = c->sacked[j].right;
        j++;
    }
    int removed = j - i;
    if (removed == 0 && c->sacked_n == SF_SACKED_MAX) {
        if (i == SF_SACKED_MAX) return; /* above them all: left out */
        c->sacked_n--;                  /* the highest goes */
    }
    memmove(&c->sacked[i + 1], &c->sacked[j], (size_t)(c->sacked_n - j) * sizeof c->sacked[0]);
    c->sacked_n = (uint8_t)(c->sacked_n - removed + 1);
    c->sacked[i].left = left;
    c->sacked[i].right = right;
}

static uint32_t sacked_bytes(const sf_conn *c)
{
    uint32_t n = 0;
    for (int i = 0; i < c->sacked_n; i++)
        n += c->sacked[i].right - c->sacked[i].left;
    return n;
}

uint32_t sf_sack_update(sf_conn *c, const sf_seg *seg)
{
    prune(c);
    uint32_t before = sacked_bytes(c);
    for (int b = 0; b < seg->sack_n; b++) {
        uint32_t left = seg->sack[b][0], right = seg->sack[b][1];
        /* RFC 2018 §4: blocks name data above the ACK we sent; anything
         * else (old, beyond SND.MAX, empty) is not trusted */
        if (!sf_seq_lt(left, right) || !sf_seq_gt(left, c->snd_una) || sf_seq_gt(right, c->snd_max))
            continue;
        add(c, left, right);
    }
    uint32_t after = sacked_bytes(c);
    return after > before ? after - before : 0;
}

bool sf_sack_una_lost(const sf_conn *c)
{
    /* RFC 6675 §4, IsLost(SND.UNA): more than (DupThresh - 1) * SMSS bytes
     * above it SACKed (DupThresh = 3) */
    return c->sacked_n > 0 && sacked_bytes(c) > 2 * sf_eff_mss(c);
}

bool sf_sack_una_rxt_lost(const sf_conn *c)
{
    if (c->sacked_n == 0 || !sf_seq_gt(c->high_rxt, c->snd_una)) return false;
    uint32_t highest = c->sacked[c->sacked_n - 1].right;
    return sf_seq_ge(highest, c->una_rxt_mark + 3 * sf_eff_mss(c));
}

bool sf_sack_next_hole(const sf_conn *c, uint32_t *start, uint32_t *end)
{
    if (c->sacked_n == 0) return false;
    uint32_t s = sf_seq_gt(c->high_rxt, c->snd_una) ? c->high_rxt : c->snd_una;
    for (int i = 0; i < c->sacked_n; i++) {
        if (sf_seq_lt(s, c->sacked[i].left)) {
            *start = s;
            *end = c->sacked[i].left;
            return true;
        }
        if (sf_seq_lt(s, c->sacked[i].right)) s = c->sacked[i].right; /* inside: skip it */
    }
    return false; /* nothing un-SACKed below the highest SACKed byte */
}
