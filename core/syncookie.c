/* syncookie.c - SYN cookies (RFC 4987 §3.6): when a listener's SYN queue
 * is full, its SYN-ACK carries the connection in its ISS, and the listener
 * keeps nothing; the ACK that completes the handshake brings the ISS back
 * (SEG.ACK - 1), and a connection is made from it. A flood of spoofed SYNs
 * then costs no memory and locks no legitimate client out.
 *
 * The cookie, 32 bits:
 *   bits 31-27  the cookie clock (now / 64 s), modulo 32
 *   bits 26-24  the MSS, as an index into mss_table
 *   bits 23-0   a keyed hash (SipHash-2-4, the stack's ISN key) of the
 *               4-tuple, the peer's ISN and the full cookie clock
 * An ACK is taken up to COOKIE_MAX_AGE ticks of the clock after its cookie
 * was made, and only while the listener has sent cookies lately, so that
 * nobody can guess one when none is out (24 bits of hash per try).
 *
 * The peer's window scale, SACK-permitted and ECN (RFC 3168 §6.1.1: an
 * ECN-setup SYN, agreed) are kept only when both SYNs carry timestamps: in
 * the low bits of the SYN-ACK's TSval, which the ACK echoes in TSecr (as
 * Linux does, TS_OPT_ECN in cookie_init_timestamp). Without timestamps the
 * connection has none of them, as RFC 4987 §3.6 notes of cookies in
 * general: its SYN-ACK offers none. */
#include "siphash.h"
#include "tcb.h"

#include <string.h>

#define COOKIE_PERIOD    (64 * 1000000ULL) /* one tick of the cookie clock */
#define COOKIE_MAX_AGE   2u                /* ticks an ACK may come after its cookie */
#define COOKIE_TICK_BITS 5u
#define COOKIE_MSS_SHIFT 24u
#define COOKIE_HASH_MASK 0xffffffu
#define TS_OPT_MASK      0x3fu
#define TS_NO_WSCALE     0xfu /* the peer offered no window scale */
#define TS_SACK_BIT      0x10u
#define TS_ECN_BIT       0x20u

/* The MSS values a cookie can name: the peer gets the largest at most its own. */
static const uint16_t mss_table[8] = {48, 536, 1000, 1220, 1360, 1400, 1440, 1460};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t cookie_make(const sf_stack *st, const sf_seg *seg, uint32_t irs, uint32_t tick,
                            uint32_t mss_index)
{
    /* the tuple as the listener sees it: our address and port first, the
     * whole addresses (an IPv4 one as its 4 bytes, an IPv6 one as its 16) */
    size_t alen = sf_addr_is_v4(seg->daddr) ? 4 : 16, skip = 16 - alen;
    uint8_t in[45];
    memcpy(in, seg->daddr.b + skip, alen);
    put32(in + alen, (uint32_t)seg->dport << 16 | seg->sport);
    memcpy(in + alen + 4, seg->saddr.b + skip, alen);
    put32(in + 2 * alen + 4, irs);
    put32(in + 2 * alen + 8, tick);
    in[2 * alen + 12] = 'c'; /* not an ISN (sf_isn hashes 12 or 36 bytes with the same key) */
    uint32_t hash = (uint32_t)sf_siphash(st->cfg.secret, in, 2 * alen + 13);
    uint32_t tick_bits = tick & ((1u << COOKIE_TICK_BITS) - 1);
    return tick_bits << (32 - COOKIE_TICK_BITS) | mss_index << COOKIE_MSS_SHIFT |
           (hash & COOKIE_HASH_MASK);
}

void sf_syncookie_send(sf_conn *l, uint64_t now, const sf_seg *syn)
{
    sf_stack *st = l->stack;
    uint16_t mss = sf_peer_mss(syn, l);
    if (mss < mss_table[0]) {
        sf_report_drop(st, l, SF_R_COOKIE_MSS);
        return;
    }
    uint32_t mss_index = 0;
    while (mss_index + 1 < sizeof mss_table / sizeof mss_table[0] &&
           mss_table[mss_index + 1] <= mss)
        mss_index++;
    uint32_t iss = cookie_make(st, syn, syn->seq, (uint32_t)(now / COOKIE_PERIOD), mss_index);

    /* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, as the child would send it */
    sf_seg seg;
    memset(&seg, 0, sizeof seg);
    seg.saddr = syn->daddr;
    seg.daddr = syn->saddr;
    seg.sport = syn->dport;
    seg.dport = syn->sport;
    seg.seq = iss;
    seg.ack = syn->seq + 1;
    seg.flags = SF_SYN | SF_ACK;
    seg.ttl = l->pol.ttl;
    seg.tos = l->pol.tos;
    seg.mss = sf_mss_announced_to(l, syn->saddr);
    /* the window a SYN-ACK of a connection would offer (the MSS less the
     * timestamps' 12 bytes when they are on, as tcp_openreq_init_rwin) */
    seg.wnd = (uint16_t)sf_rcv_initial_window(
        &l->pol, seg.mss - (l->pol.timestamps && syn->has_ts ? 12u : 0u));
    seg.wscale = -1;
    if (l->pol.timestamps && syn->has_ts) {
        bool ws = l->pol.window_scaling && syn->wscale >= 0;
        bool sack = l->pol.sack && syn->sack_perm;
        /* an ECN-setup SYN our policy agrees to: the SYN-ACK says ECE */
        bool ecn =
            l->pol.ecn != SF_ECN_OFF && (syn->flags & (SF_ECE | SF_CWR)) == (SF_ECE | SF_CWR);
        uint32_t opts = ws ? (uint32_t)(syn->wscale > 14 ? 14 : syn->wscale) : TS_NO_WSCALE;
        if (sack) opts |= TS_SACK_BIT;
        if (ecn) {
            opts |= TS_ECN_BIT;
            seg.flags |= SF_ECE;
        }
        if (ws) seg.wscale = (int8_t)sf_wscale_offer(l);
        seg.sack_perm = sack;
        /* our timestamp clock as the connection will run it (sf_ts_now with
         * ISS = the cookie), its low bits replaced by the options, never
         * ahead of that clock: TSvals stay monotonic (RFC 7323 §5.4) */
        uint32_t clock = (uint32_t)(now / 1000) + iss;
        uint32_t tsval = (clock & ~TS_OPT_MASK) | opts;
        if (sf_seq_gt(tsval, clock)) tsval -= TS_OPT_MASK + 1;
        seg.has_ts = 1;
        seg.ts_val = tsval;
        seg.ts_ecr = syn->ts_val;
    }
    l->cookie_sent = true;
    l->cookie_sent_at = now;
    sf_report_drop(st, l, SF_R_COOKIE_SENT);
    sf_emit_seg(st, NULL, &seg);
}

int sf_syncookie_valid(const sf_conn *l, uint64_t now, const sf_seg *ack)
{
    if (!l->cookie_sent || now - l->cookie_sent_at > (COOKIE_MAX_AGE + 1) * COOKIE_PERIOD)
        return -1;
    uint32_t cookie = ack->ack - 1, irs = ack->seq - 1;
    uint32_t mss_index = (cookie >> COOKIE_MSS_SHIFT) & 7u;
    uint32_t tick_now = (uint32_t)(now / COOKIE_PERIOD);
    for (uint32_t age = 0; age <= COOKIE_MAX_AGE && age <= tick_now; age++) {
        uint32_t tick = tick_now - age;
        if (cookie_make(l->stack, ack, irs, tick, mss_index) == cookie) return (int)mss_index;
    }
    return -1;
}

sf_conn *sf_syncookie_conn(sf_conn *l, const sf_seg *ack, int mss_index)
{
    sf_conn *c = sf_conn_child(l, ack);
    if (!c) return NULL;

    /* SYN_RCVD as it was when the cookie SYN-ACK left */
    c->irs = ack->seq - 1;
    c->rcv_nxt = ack->seq;
    c->last_ack_sent = c->rcv_nxt;
    c->iss = ack->ack - 1;
    c->snd_una = c->iss;
    c->snd_nxt = c->snd_max = c->iss + 1;
    c->snd_mss = mss_table[mss_index & 7];
    c->ts_ok = c->pol.timestamps && ack->has_ts && ack->ts_ecr != 0;
    if (c->ts_ok) {
        uint32_t opts = ack->ts_ecr & TS_OPT_MASK;
        uint32_t wscale = opts & TS_NO_WSCALE;
        int ours = sf_wscale_offer(c);
        c->ts_recent = ack->ts_val;
        c->ws_agreed = wscale != TS_NO_WSCALE && ours >= 0;
        c->snd_wscale = c->ws_agreed ? (uint8_t)wscale : 0;
        c->rcv_wscale = c->ws_agreed ? (uint8_t)ours : 0;
        c->sack_ok = c->pol.sack && (opts & TS_SACK_BIT);
        c->ecn_ok = c->pol.ecn != SF_ECN_OFF && (opts & TS_ECN_BIT);
    }
    /* the window the cookie SYN-ACK offered (sf_syncookie_send) */
    c->rcv_ssthresh = sf_rcv_initial_window(
        &c->pol, sf_mss_announced(c) - (c->pol.timestamps && ack->has_ts ? 12u : 0u));
    c->rcv_adv = c->rcv_nxt + c->rcv_ssthresh;
    c->state = SF_LISTEN; /* a copy of the listening TCB, as in sf_input_listen */
    sf_set_state(c, SF_SYN_RCVD, SF_CAUSE_SEGMENT, "ACK of a SYN cookie (RFC 4987)");
    sf_conn_hash(c);
    return c;
}
