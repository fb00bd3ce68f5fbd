/* tcb.h - the transmission control block and the stack that owns it.
 * Internal to core/: drivers and bindings use synfin.h only. */
#ifndef SF_TCB_H
#define SF_TCB_H

#include "heap.h"
#include "ranges.h"
#include "ring.h"
#include "seq.h"
#include "synfin.h"

#include <stdbool.h>

#define SF_NO_DEADLINE UINT64_MAX
/* a packet of MSS 1520 at most (sf_peer_mss) plus 40 bytes of options and
 * IPv6's headers (IPv4's are 20 bytes fewer) */
#define SF_MAX_PACKET 1620
/* The default floor of the send MSS (policy min_snd_mss), whatever the peer
 * announces: Linux's tcp_min_snd_mss, 48. RFC 6691: the MSS counts the data
 * and the TCP options beyond the fixed header alike, so the options every
 * segment carries come out of it (sf_eff_mss); an MSS of 1..12 beside
 * timestamps must not leave zero or "negative" room for data. */
#define SF_MIN_SND_MSS 48u
#define SF_TS_OPT_LEN  12u /* the timestamps option, padded (RFC 7323 §3.2) */
/* RFC 9293 §3.8.6.2.1: the sender SWS override timeout, in 0.1 - 1.0 s */
#define SF_SWS_OVERRIDE 200000
/* MUST-40: an ACK is delayed less than 0.5 s, whatever the policy says */
#define SF_DELACK_MAX 500000
/* At most one ACK for a bare ACK out of the window (or PAWS's) per this
 * long, per connection (Linux's tcp_invalid_ratelimit, 500 ms) */
#define SF_OOW_ACK_INTERVAL 500000

/* A connection's timers (RFC 9293 §3.8, §3.10.8), in the order they are
 * handled when several are due at once: those that end the connection
 * first. Each has one handler in timer.c. */
typedef enum {
    SF_TIMER_TIME_WAIT,  /* 2*MSL in TIME_WAIT (§3.10.8 TIME-WAIT TIMEOUT) */
    SF_TIMER_FIN_WAIT_2, /* the fin_wait_2_timeout policy */
    SF_TIMER_USER,       /* §3.10.8 USER TIMEOUT (RFC 5482) */
    SF_TIMER_KEEPALIVE,  /* §3.8.4 keep-alives */
    SF_TIMER_SWS,        /* §3.8.6.2.1 (4) the sender's SWS override */
    SF_TIMER_DELACK,     /* §3.8.6.3 the delayed ACK */
    SF_TIMER_TLP,        /* RFC 8985 §7 the tail loss probe */
    SF_TIMER_RTO,        /* §3.10.8 RETRANSMISSION TIMEOUT (RFC 6298) */
    SF_TIMER_PERSIST,    /* §3.8.6.1 zero-window probes */
    SF_TIMER_COUNT
} sf_timer;

/* A slot of the 4-tuple table: the connection (NULL: empty) and the hash
 * of its 4-tuple (sf_tuple_hash): a probe compares the hash in the slot and
 * reads the connection's addresses only when it matches, so that a slot
 * stays 16 bytes whatever the family. */
typedef struct {
    uint64_t key;
    sf_conn *c;
} sf_conn_slot;

/* The 4-tuple's hash: both addresses as four 64-bit words and the ports,
 * mixed by multiplication and folded (murmur3's finalizer); cheap for both
 * families alike (an IPv4 address's first 12 bytes are a constant). */
static inline uint64_t sf_tuple_hash(sf_addr laddr, sf_addr raddr, uint16_t lport, uint16_t rport)
{
    uint64_t w[4];
    memcpy(w, laddr.b, 16);
    memcpy(w + 2, raddr.b, 16);
    uint64_t h = ((uint64_t)lport << 16 | rport) ^ (w[0] + w[1] * 0x9e3779b97f4a7c15ULL);
    h ^= (w[2] ^ (w[3] << 32 | w[3] >> 32)) * 0xc2b2ae3d27d4eb4fULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* A TIME_WAIT connection nobody holds, compacted (timewait.c). */
typedef struct sf_tw sf_tw;

/* A listener's queue of children, oldest first; doubly linked, so that a
 * child comes in and goes out in O(1) whatever the backlog. */
typedef struct {
    sf_conn *head, *tail;
    uint32_t len;
} sf_child_queue;

struct sf_conn {
    sf_stack *stack;
    sf_conn *all_prev, *all_next; /* every live connection of the stack */
    uint32_t id;
    sf_state state;

    /* the connection's identity: the local address is one of the stack's
     * (a listener's: zero, it listens on all of them), the remote one of the
     * same family */
    sf_addr laddr, raddr;
    uint16_t lport, rport;
    sf_conn *hash_next; /* chain in the listener table, or the list to reap */
    bool hashed;
    bool is_listener;    /* a LISTEN TCB, kept in the listener table */
    bool output_pending; /* in the stack's list of output deferred by a batch */
    sf_conn *pending_next;
    bool compact_pending; /* in the stack's list to become a TIME_WAIT record */
    sf_conn *compact_next;

    /* passive open: the listener this connection came from (RFC 9293 §3.10.7.4:
     * a RST in SYN_RCVD returns a passive connection to LISTEN) */
    sf_conn *listener;
    /* RFC 9293 §3.6.1 (MAY-2): a TIME_WAIT connection a SYN reopened waits,
     * out of the tables, until the new connection is established (then it
     * closes) or fails in SYN_RCVD (an old duplicate: it is TIME_WAIT again) */
    sf_conn *tw_parked; /* in the new connection: the old one */
    sf_conn *tw_child;  /* in the old one: the new connection */
    /* a child's place in its listener's queues */
    sf_child_queue *queue; /* the queue it is in, NULL when none */
    sf_conn *child_prev, *child_next;

    /* a listener's own fields: its children are the connections it spawned
     * and nobody has accepted yet. Those still in SYN_RCVD wait in the SYN
     * queue, those past it in the accept queue; each holds at most backlog
     * (as Linux bounds both by the backlog). When the SYN queue is full, a
     * SYN is answered with a SYN cookie (RFC 4987 §3.6) and keeps no state. */
    uint16_t backlog;
    sf_child_queue syn_queue, accept_queue;
    uint64_t cookie_sent_at; /* when this listener last sent a SYN cookie */
    bool cookie_sent;        /* it has sent one */

    /* RFC 9293 §3.3.1 send sequence variables */
    uint32_t iss;
    uint32_t snd_una, snd_nxt, snd_wnd, snd_wl1, snd_wl2;
    uint32_t snd_max;     /* highest sequence number sent + 1: after a go-back
                             retransmission SND.NXT restarts at SND.UNA, and ACKs
                             up to snd_max are still acceptable */
    uint32_t max_snd_wnd; /* RFC 5961 §5: largest window the peer offered */
    uint32_t snd_sml;     /* end of the last segment sent smaller than the MSS
                             (Minshall's Nagle, policy nagle_variant) */
    uint16_t snd_mss;     /* the peer's MSS (RFC 9293 §3.7.1: 536 if absent) */
    /* RFC 7323 §2: window scale shifts, both 0 unless both ends offered it */
    uint8_t snd_wscale; /* applied to the windows the peer sends */
    uint8_t rcv_wscale; /* applied to the windows we send */
    bool ws_agreed;     /* both ends offered window scaling */
    /* RFC 7323 §3-5: timestamps, when both SYNs offered them */
    bool ts_ok;
    uint32_t ts_recent;     /* TS.Recent */
    uint32_t last_ack_sent; /* Last.ACK.sent */
    /* receive sequence variables */
    uint32_t irs;
    uint32_t rcv_nxt;
    uint32_t rcv_adv; /* RCV.NXT + RCV.WND last announced: never moved left */
    /* rcv_window = linux: the most the window may offer now (Linux's
     * rcv_ssthresh): the first window, grown by data (tcp_grow_window) */
    uint32_t rcv_ssthresh;

    /* what the user asked for and what has happened */
    bool fin_queued; /* CLOSE called: a FIN follows the queued data */
    bool fin_sent;   /* our FIN has been sent at fin_seq */
    uint32_t fin_seq;
    bool fin_received;     /* the peer's FIN has been accepted */
    bool ack_now;          /* an ACK is owed */
    uint16_t dupacks_owed; /* duplicate ACKs owed beyond it (RFC 5681 §4.2) */
    bool held;             /* the user holds this connection */
    bool passive;          /* came from LISTEN */
    int error;             /* the last error signalled to the user */

    sf_ring sndbuf; /* from SND.UNA on: unacknowledged then unsent data */
    /* out-of-order data (SHLD-31), held in rcvbuf past the in-order bytes:
     * byte ranges from RCV.NXT (ranges.h) */
    sf_ranges ooo;
    bool sack_ok; /* RFC 2018: both SYNs carried SACK-permitted */
    /* ECN (ecn.c, RFC 3168) */
    bool ecn_asked;   /* our SYN was an ECN-setup SYN */
    bool ecn_ok;      /* agreed in the handshake */
    bool ece_pending; /* a CE mark came: ECE on our ACKs until the peer's CWR */
    bool cwr_pending; /* our window came down for an ECE: CWR on the next new data */
    bool ecn_reduced; /* ... and ecn_recover holds SND.MAX then */
    uint32_t ecn_recover;
    /* a sequence number of each of the last segments held out of order,
     * the latest first: the order of SACK blocks (RFC 2018 §4) */
    uint32_t sack_recent[4];
    /* RFC 2883 D-SACK (sf_policy.dsack): a duplicate the peer sent,
     * [dsack[0], dsack[1]) in sequence numbers, to report first in the
     * next SACK option, once */
    bool dsack_pending;
    uint32_t dsack[2];
    bool fin_held; /* the peer's FIN came after a hole */
    /* RFC 9293 §3.8.5: the urgent pointers, sequence numbers of the octet
     * that follows the urgent data (MUST-62) */
    uint32_t snd_up, rcv_up;
    bool snd_urgent, rcv_urgent; /* the pointer is set */
    uint32_t fin_off;            /* ... at this byte offset from RCV.NXT */
    sf_ring rcvbuf;              /* in-order data not yet read by the user */

    /* timers: the deadline of each (0 when off); the connection sits in the
     * stack's heap once, at the earliest (timer.c) */
    uint64_t timer_at[SF_TIMER_COUNT];
    bool sws_override;   /* the SWS override timer fired: send the small segment */
    bool tlp_out;        /* a probe is out: no other until an ACK of new data */
    uint32_t ka_probes;  /* keep-alives sent since the peer last spoke */
    uint64_t oow_ack_at; /* when the last ACK for a bare ACK out of the window went */
    bool oow_ack_sent;
    uint32_t unacked_in; /* in-order bytes received since our last ACK */
    /* delayed_ack_variant = linux (quickack.c), as Linux's icsk_ack keeps it:
     * quick ACKs left, the ATO, when data last came, interactive mode, an
     * ACK owed for data, small segments seen, the peer's MSS guessed */
    struct {
        uint8_t quick, pending;
        bool pingpong, scheduled;
        uint16_t rcv_mss;
        uint32_t ato, last_seg_size;
        uint64_t lrcvtime;
    } ack;
    uint32_t persist_probes; /* probes sent since the peer last answered */
    uint8_t persist_shift;   /* backoff of the probes: doubles until the window opens */
    sf_heap_node timer_node; /* in the stack's timer heap at the earliest timer */

    /* RFC 6298 retransmission timer state */
    uint32_t rto; /* microseconds */
    uint32_t srtt, rttvar;
    /* SF_RTO_LINUX's estimator (timer.c), as tcp_rtt_estimator keeps it:
     * SRTT times 8, the mean deviation times 4 (mdev), its largest in the
     * current round trip (mdev_max, at least rto_min), the variance term of
     * the RTO (var, at least rto_min), and SND.NXT when the round began */
    struct {
        uint64_t srtt8, mdev, mdev_max, var;
        uint32_t round_end;
    } lx;
    uint32_t retries; /* consecutive timeouts of the current segment */
    /* user_timeout_timing = linux: when the first retransmission by timer
     * (or the first zero-window probe) since the last progress went out,
     * the user timeout's start (Linux's retrans_stamp); 0: none yet */
    uint64_t uto_start;
    uint64_t syn_first_at; /* when our first SYN went out (syn_linear_timeouts' clock) */
    bool rtt_timing;       /* Karn: timing a segment that was never retransmitted */
    uint32_t rtt_seq;
    uint64_t rtt_start;

    sf_policy pol;

    /* congestion control (cc.c, RFC 5681 and RFC 6582), in bytes */
    uint32_t cwnd, ssthresh;
    /* CUBIC's state (cc_cubic.c, RFC 9438 §4), windows in segments */
    struct {
        double w_max;      /* the window before the last reduction (less with fast convergence) */
        double cwnd_prior; /* the window when the last reduction came (§4.3's cwnd_prior) */
        double k;          /* seconds the cubic takes to grow back to w_max */
        double w_est;      /* the Reno-friendly estimate (§4.3) */
        double cwnd_epoch; /* the window when this congestion avoidance began */
        uint64_t t_epoch;  /* when it began, 0: not yet */
    } cubic;
    uint32_t dupacks; /* duplicate ACKs in a row */
    uint32_t recover; /* SND.MAX when fast recovery (or an RTO) began */
    bool recover_valid;
    bool in_recovery;
    /* the SACK scoreboard (sack.c, RFC 6675 §3): ranges the peer holds,
     * as offsets from sacked_base (SND.UNA when last brought up to date),
     * and how far this recovery has retransmitted (RFC 6675's HighRxt) */
    sf_ranges sacked;
    uint32_t sacked_base;
    uint32_t high_rxt;
    uint32_t una_rxt_mark;  /* SND.MAX when SND.UNA was last retransmitted (or later) */
    uint32_t last_rxt_mark; /* SND.MAX at the latest retransmission */

    /* statistics */
    uint32_t retransmits, segs_in, segs_out;
    uint64_t bytes_in, bytes_out;

#ifndef NDEBUG
    /* invariant.c: RCV.NXT when last checked, to see it never move back */
    uint32_t chk_rcv_nxt;
    bool chk_valid;
#endif
};

struct sf_stack {
    sf_config cfg;
    sf_callbacks cb;
    void *ud;
    uint32_t next_id;
    uint16_t next_ephemeral;

    sf_conn *all; /* every connection not yet freed, for sf_stack_free */

    /* connections by 4-tuple: open addressing with linear probing (conn.c),
     * the key in the slot, so that a lookup reads one line of the table
     * and the connection it finds, not a chain of connections */
    sf_conn_slot *table;
    size_t table_size, nconns;
    /* listeners by local port */
    sf_conn **listeners;
    size_t listeners_size;

    /* one deadline per connection, in a binary min-heap: no walk over every
     * connection per tick, so that a million connections cost nothing while
     * idle */
    sf_heap timers;

    /* storage drained rings gave back, for the next ring that needs some */
    sf_ring_pool ring_pool;

    /* connections that reached CLOSED while nobody held them: freed at the
     * start of the next entry point, so that events may name them */
    sf_conn *reap;

    /* TIME_WAIT connections nobody holds, as records (timewait.c), packed
     * densely in chunks (records 0 .. ntw-1), found by 4-tuple in a table of
     * record numbers and by deadline in a heap of record numbers; the
     * policies they were made with, interned; connections to compact at the
     * next entry point */
    sf_tw **tw_chunks;
    size_t tw_nchunks, ntw;
    uint32_t *tw_table; /* record number + 1 heading each chain, 0: none */
    size_t tw_table_size;
    uint32_t *tw_heap; /* record numbers, a binary min-heap by deadline */
    size_t tw_heap_cap;
    sf_policy *tw_profiles;
    size_t tw_nprofiles;
    sf_conn *compact;

    sf_conn *reopening;       /* a TIME_WAIT a SYN is reopening, for sf_input_listen */
    bool batch;               /* sf_stack_batch_begin: output waits for the end */
    sf_conn *pending;         /* connections whose output waits for it */
    uint64_t now;             /* the time of the latest entry point */
    bool started;             /* an entry point has been called */
    uint64_t quiet_until;     /* RFC 9293 §3.4.3: nothing is sent before */
    uint64_t challenge_start; /* RFC 5961 §7: the current one-second window */
    uint32_t challenge_count; /* challenge ACKs sent in it */

    uint8_t pkt[SF_MAX_PACKET];     /* the packet being built */
    uint8_t payload[SF_MAX_PACKET]; /* its payload, copied out of a send ring */
};

/* invariant.c: SF_ASSERT checks an invariant in debug builds (and the
 * sanitizer build), and is compiled out with NDEBUG (Release). */
#ifndef NDEBUG
_Noreturn void sf_assert_fail(const char *expr, const char *file, int line);
#define SF_ASSERT(cond) ((cond) ? (void)0 : sf_assert_fail(#cond, __FILE__, __LINE__))
/* The control block's invariants (RFC 9293 §3.3.1 sequence space, the
 * rings against the windows, the timer heap's order), at the end of each
 * input, output and timer call. */
void sf_conn_check(sf_conn *c);
#else
#define SF_ASSERT(cond)  ((void)0)
#define sf_conn_check(c) ((void)0)
#endif

/* conn.c */

/* Frees a connection: out of the stack's list of all (the caller took it
 * out of the tables and the timers). */
void sf_conn_free(sf_conn *c);
/* Frees the connections that reached CLOSED while nobody held them. */
void sf_stack_reap(sf_stack *st);
sf_conn *sf_find_conn(const sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport,
                      uint16_t rport);
/* The connection of this 4-tuple, a TIME_WAIT record made one again. */
sf_conn *sf_find_or_expand(sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport,
                           uint16_t rport);
/* A zeroed connection of the stack, in its list of all (no id, no policy). */
sf_conn *sf_conn_alloc(sf_stack *st);
/* Frees a connection that became a TIME_WAIT record: out of every table. */
void sf_conn_free_compacted(sf_conn *c);

/* timewait.c */
sf_tw *sf_tw_find(const sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport, uint16_t rport);
/* The record made a connection again (NULL without memory). */
sf_conn *sf_tw_expand(sf_stack *st, sf_tw *t);
/* The connection is to become a record at the next entry point, if it can. */
void sf_tw_schedule(sf_conn *c);
void sf_tw_unschedule(sf_conn *c);
/* At an entry point, outside a batch: the scheduled ones that can, become records. */
void sf_tw_compact_scheduled(sf_stack *st);
/* Records whose 2*MSL ran out become connections, for the timers to end. */
void sf_tw_expire(sf_stack *st, uint64_t now);
uint64_t sf_tw_deadline(const sf_stack *st);
/* Calls fn with a view of each record as a connection (valid during the call). */
void sf_tw_foreach(sf_stack *st, void (*fn)(void *ud, const sf_conn *c), void *ud);
void sf_tw_free_all(sf_stack *st);

void sf_set_state(sf_conn *c, sf_state s, sf_cause cause, const char *why);
/* A dropped segment, or a note on one, with its reason (core/reason.c). */
void sf_report_drop(sf_stack *st, sf_conn *c, sf_reason reason);
void sf_report_error(sf_conn *c, int err);
/* An asynchronous report about a connection (RFC 9293 §3.9.1.8). */
void sf_report(sf_conn *c, sf_event_type type, const char *why);
/* A soft error (MUST-47), unless the application turned them off (SHLD-20). */
void sf_report_soft_error(sf_conn *c, const char *why);
void sf_conn_hash(sf_conn *c);
void sf_conn_unhash(sf_conn *c);
sf_conn *sf_conn_new(sf_stack *st, const sf_policy *pol);
uint32_t sf_isn(sf_stack *st, uint64_t now, sf_addr laddr, sf_addr raddr, uint16_t lport,
                uint16_t rport);
/* Enters CLOSED, signals err to the user if not 0, and frees what it can. */
void sf_conn_closed(sf_conn *c, sf_cause cause, const char *why, int err);
sf_conn *sf_find_listener(sf_stack *st, uint16_t lport);
/* Whether a connection (or a TIME_WAIT record) has this 4-tuple; expands nothing. */
bool sf_tuple_taken(const sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport,
                    uint16_t rport);
/* SYN_RCVD from a passive open, reset: "return this connection to LISTEN"
 * (§3.10.7.4). The listener goes on; the child is gone, its user not told. */
void sf_conn_back_to_listen(sf_conn *c, const char *why);
/* A passive child is done with its listener's backlog (it closed or was accepted). */
void sf_conn_detach(sf_conn *c);
/* A new passive connection of listener l for the segment's peer (its
 * policy the listener's), at the tail of the SYN queue; NULL without memory. */
sf_conn *sf_conn_child(sf_conn *l, const sf_seg *seg);
/* A child joins the tail of one of its listener's queues (leaving the other). */
void sf_child_enqueue(sf_child_queue *q, sf_conn *c);
/* Whether the listener takes another SYN into its SYN queue now. */
static inline bool sf_listener_has_room(const sf_conn *l)
{
    return l->syn_queue.len < l->backlog && l->accept_queue.len < l->backlog;
}

/* syncookie.c (RFC 4987 §3.6): a SYN-ACK whose ISS encodes the connection,
 * sent from the listener without keeping any state, and the check of the
 * ACK that answers it. */
void sf_syncookie_send(sf_conn *l, uint64_t now, const sf_seg *syn);
/* Whether SEG.ACK - 1 is a cookie this listener made for the ACK's peer
 * lately: the MSS index it encodes, or -1. */
int sf_syncookie_valid(const sf_conn *l, uint64_t now, const sf_seg *ack);
/* The child, in SYN_RCVD, that a valid cookie's ACK makes (NULL without
 * memory); the ACK itself then goes to sf_input_other. */
sf_conn *sf_syncookie_conn(sf_conn *l, const sf_seg *ack, int mss_index);

/* Every entry point tells the stack the time first. */
void sf_stack_at(sf_stack *st, uint64_t now);

/* The connection whose timer node this is. */
static inline sf_conn *sf_conn_of_timer(sf_heap_node *n)
{
    return (sf_conn *)(void *)((char *)n - offsetof(sf_conn, timer_node));
}

/* timer.c */
/* Whether a timer is running. */
static inline bool sf_timer_on(const sf_conn *c, sf_timer t)
{
    return c->timer_at[t] != 0;
}
/* Starts (or moves) a timer to `at`, an absolute time (> 0). */
void sf_timer_set(sf_conn *c, sf_timer t, uint64_t at);
/* Stops a timer. */
void sf_timer_stop(sf_conn *c, sf_timer t);
/* Stops every timer. */
void sf_timers_stop_all(sf_conn *c);
void sf_timer_update(sf_conn *c);
void sf_timer_remove(sf_conn *c);
void sf_timers_run(sf_stack *st, uint64_t now);
void sf_rto_arm(sf_conn *c, uint64_t now);
void sf_rtt_sample(sf_conn *c, uint64_t now, uint32_t ack);
void sf_time_wait_start(sf_conn *c, uint64_t now);
/* Arms the FIN_WAIT_2 timeout, when the policy sets one. */
void sf_fin_wait_2_arm(sf_conn *c, uint64_t now);
void sf_keepalive_heard(sf_conn *c, uint64_t now);
void sf_user_timeout_progress(sf_conn *c, uint64_t now);

/* output.c */
/* Puts a built segment on the wire (c NULL: no connection's). */
void sf_emit_seg(sf_stack *st, sf_conn *c, const sf_seg *seg);
/* sf_output now, or at the end of the batch being processed (MUST-59). */
void sf_output_soon(sf_conn *c, uint64_t now);
void sf_output(sf_conn *c, uint64_t now);
void sf_send_syn(sf_conn *c, uint64_t now);
void sf_send_ack(sf_conn *c, uint64_t now);
void sf_send_probe(sf_conn *c, uint64_t now);
void sf_send_keepalive(sf_conn *c, uint64_t now);
void sf_send_rst(sf_conn *c, uint64_t now);
/* A RST for a segment with no connection, per RFC 9293 §3.10.7.1. */
void sf_send_rst_for(sf_stack *st, sf_conn *c, const sf_seg *seg);
uint32_t sf_rcv_offer(const sf_conn *c);
uint16_t sf_rcv_window(sf_conn *c);

/* cc.c */
/* sack.c: the sender's SACK scoreboard (RFC 6675 §3). Takes an ACK's
 * blocks and returns how many bytes they SACKed that were not before;
 * forgets it all (after an RTO); finds the
 * next hole to retransmit, from max(SND.UNA, HighRxt) up to the SACKed
 * range above it. */
uint32_t sf_sack_update(sf_conn *c, const sf_seg *seg); /* bytes newly SACKed */
void sf_sack_clear(sf_conn *c);
bool sf_sack_next_hole(const sf_conn *c, uint32_t *start, uint32_t *end);
/* Whether SND.UNA's retransmission was lost too: three segments' worth of
 * data sent after it has been SACKed, and SND.UNA has not moved (the idea
 * of RFC 8985's RACK, for the one case NewReno cannot see without an RTO). */
bool sf_sack_una_rxt_lost(const sf_conn *c);
/* RFC 6675 §4 IsLost(SND.UNA): the SACKed bytes above it say it is lost,
 * however few duplicate ACKs said so (one ACK may cover many segments: a
 * receiver's GRO, a GSO super-segment, a stretch ACK) */
bool sf_sack_una_lost(const sf_conn *c);
/* output.c: sends the data at [start, end) again, one segment at most
 * (the congestion window does not count: fast recovery allows it);
 * returns whether it sent one. */
bool sf_retransmit_range(sf_conn *c, uint64_t now, uint32_t start, uint32_t end);
/* recovery.c: reads an acceptable ACK's loss signals before SND.UNA moves
 * (the SACK scoreboard updated); true for a duplicate ACK. */
bool sf_recovery_read_ack(sf_conn *c, const sf_seg *seg);
/* The retransmissions the ACK calls for: resend_first when fast retransmit
 * or a partial ACK asks for SND.UNA again (cc.c), dupack from above. */
void sf_recovery_repair(sf_conn *c, uint64_t now, bool resend_first, bool dupack);
/* RFC 8985 §7 (timer.c): (re)starts the tail loss probe timeout. */
void sf_tlp_arm(sf_conn *c, uint64_t now);
/* RFC 8985 §7.3 (output.c): sends the probe, one segment of new data if
 * the peer's window lets it go (the congestion window does not count),
 * else the last segment sent again; returns whether it sent one. */
bool sf_send_tail_probe(sf_conn *c, uint64_t now);
/* A congestion controller's own rules: how the window grows on an ACK
 * outside recovery, and the threshold after a loss. cc.c runs what is
 * common (slow start's and recovery's bookkeeping, RFC 5681, RFC 6582). */
typedef struct {
    /* acked bytes of new data acknowledged in congestion avoidance */
    void (*avoid)(sf_conn *c, uint32_t acked, uint64_t now);
    /* the new ssthresh on a loss (fast retransmit or RTO); also records what
     * the controller keeps of the window before it */
    uint32_t (*on_loss)(sf_conn *c);
} sf_cc_ops;
extern const sf_cc_ops sf_cc_newreno, sf_cc_cubic;

void sf_cc_init(sf_conn *c);
/* An ECN echo (RFC 3168 §6.1.2): the window comes down as for a loss, and
 * nothing is retransmitted. */
void sf_cc_on_ecn(sf_conn *c);
uint32_t sf_cc_window(const sf_conn *c);

/* ECN (ecn.c, RFC 3168): the handshake's agreement, the marks on what we
 * send, and what the peer's marks and echoes do. */
void sf_ecn_syn_in(sf_conn *c, const sf_seg *seg);
void sf_ecn_syn_out(sf_conn *c, sf_seg *seg);
void sf_ecn_ack_out(const sf_conn *c, sf_seg *seg);
void sf_ecn_data_out(sf_conn *c, sf_seg *seg, bool new_data);
void sf_ecn_in(sf_conn *c, const sf_seg *seg);
void sf_ecn_ack_in(sf_conn *c, const sf_seg *seg);
/* New data acknowledged up to ack (before SND.UNA moves); true when a
 * partial ACK in fast recovery calls for the next segment again. */
bool sf_cc_on_ack(sf_conn *c, uint32_t ack);
/* A duplicate ACK; true when it is the third: fast retransmit. */
bool sf_cc_on_dupack(sf_conn *c);
void sf_cc_on_rto(sf_conn *c);
/* Sends the first unacknowledged segment again (fast retransmit). */
void sf_retransmit_first(sf_conn *c, uint64_t now);

uint32_t sf_ts_now(const sf_conn *c, uint64_t now);
/* The effective send MSS (RFC 9293 §3.7.1, RFC 6691): the peer's MSS less
 * the options every segment carries (the 12 bytes of timestamps, when on).
 * snd_mss is at least SF_MIN_SND_MSS (peer_mss), so this never wraps; the
 * check stands for any path that sets snd_mss otherwise. */
static inline uint32_t sf_eff_mss(const sf_conn *c)
{
    uint32_t opts = c->ts_ok ? SF_TS_OPT_LEN : 0u;
    return c->snd_mss > opts ? c->snd_mss - opts : 1u;
}

/* The IP and TCP headers without options of the connection's family: what
 * the MTU carries beside the MSS (RFC 9293 §3.7.1; RFC 8200 §3: IPv6's is 40
 * bytes, so MSS = MTU - 60, RFC 8201 §5.1). */
static inline uint32_t sf_hdrs_to(sf_addr peer)
{
    return sf_addr_is_v4(peer) ? SF_IP_TCP_HDR : SF_IP6_TCP_HDR;
}

/* IPv6's minimum link MTU (RFC 8200 §5): no path is smaller, so no MSS of
 * an IPv6 connection comes from less (RFC 8201 §4). */
#define SF_IPV6_MIN_MTU 1280u

/* RFC 9293 §3.7.1 (MUST-15): the send MSS assumed when the peer's SYN
 * carried no MSS option: 536 over IPv4 (576 - 40), 1220 over IPv6 (its
 * minimum MTU less 60 bytes of headers; Linux's tcp_v6 mss_clamp too). */
#define SF_IPV4_DEFAULT_MSS 536u
#define SF_IPV6_DEFAULT_MSS (SF_IPV6_MIN_MTU - SF_IP6_TCP_HDR)
static inline uint16_t sf_default_snd_mss(sf_addr peer)
{
    return (uint16_t)(sf_addr_is_v4(peer) ? SF_IPV4_DEFAULT_MSS : SF_IPV6_DEFAULT_MSS);
}

/* The MSS we announce: our setting, at most what the link lets us receive
 * (MMS_R = MTU - 40 for IPv4 without options, MTU - 60 for IPv6; RFC 9293
 * §3.7.1, MUST-67). */
static inline uint16_t sf_mss_announced_to(const sf_conn *c, sf_addr peer)
{
    uint32_t hdrs = sf_hdrs_to(peer), mtu = c->stack->cfg.mtu;
    if (hdrs == SF_IP6_TCP_HDR && mtu < SF_IPV6_MIN_MTU) mtu = SF_IPV6_MIN_MTU;
    uint32_t mms = mtu > hdrs ? mtu - hdrs : 536u;
    return (uint16_t)(c->pol.mss < mms ? c->pol.mss : mms);
}
/* ... to the connection's peer (a listener has none: sf_mss_announced_to
 * with the SYN's source) */
static inline uint16_t sf_mss_announced(const sf_conn *c)
{
    return sf_mss_announced_to(c, c->raddr);
}

/* The window scale shift we offer: the smallest that fits rcv_buf in 16
 * bits (RFC 7323 §2.3: at most 14); -1 when the policy does not offer it. */
int sf_wscale_offer(const sf_conn *c);
/* The receive ring's capacity: rcv_buf, twice that with rcv_window = linux
 * (output.c). */
uint32_t sf_rcv_ring_cap(const sf_policy *p);
/* The window of a SYN or SYN-ACK with nothing received yet, for an MSS
 * (output.c; syncookie.c's SYN-ACK too). */
uint32_t sf_rcv_initial_window(const sf_policy *p, uint32_t mss);
/* In-order data of len bytes came: the window may grow (output.c). */
void sf_rcv_grow(sf_conn *c, uint32_t len);
/* The application read: is the opened window worth an ACK now? (output.c) */
bool sf_rcv_update_due(const sf_conn *c);
/* The window that would be offered now, before the promise kept (output.c). */
uint32_t sf_rcv_select(const sf_conn *c);

/* Linux's ACK pattern (quickack.c): whether the connection follows it; in-
 * order data (len bytes, the segment's flags) came; the peer's FIN came; ACK
 * now or schedule the delayed ACK (at_once: a hole filled); an ACK of ack
 * went; data went; the delayed ACK fires; a read: is the pending ACK due? */
bool sf_quickack_on(const sf_conn *c);
void sf_quickack_data(sf_conn *c, uint64_t now, uint32_t len, uint8_t flags);
void sf_quickack_fin(sf_conn *c);
void sf_quickack_check(sf_conn *c, uint64_t now, bool at_once);
void sf_quickack_sent(sf_conn *c, uint32_t ack);
void sf_quickack_data_sent(sf_conn *c, uint64_t now);
void sf_quickack_timer(sf_conn *c);
bool sf_quickack_read_due(const sf_conn *c);

/* icmp.c */
void sf_icmp_input(sf_stack *st, uint64_t now, const uint8_t *pkt, size_t len);

/* input.c */
/* The peer's window in bytes: scaled, except in a SYN (RFC 7323 §2.2). */
uint32_t sf_peer_window(const sf_conn *c, const sf_seg *seg);
/* The send MSS a SYN (or SYN-ACK) sets, within our bounds and floor. */
uint16_t sf_peer_mss(const sf_seg *seg, const sf_conn *c);
void sf_input_listen(sf_conn *l, uint64_t now, const sf_seg *seg);
void sf_input_syn_sent(sf_conn *c, uint64_t now, const sf_seg *seg);
/* Returns true when the segment ended the connection and must be handed to
 * the stack again (a SYN reopening a TIME_WAIT pair of ports). */
bool sf_input_other(sf_conn *c, uint64_t now, const sf_seg *seg);

static inline bool sf_synchronized(sf_state s)
{
    return s >= SF_ESTABLISHED;
}

/* Our SYN occupies ISS; until it is acknowledged (SND.UNA = ISS) the first
 * data byte sits one sequence number after SND.UNA. */
static inline uint32_t sf_syn_unacked(const sf_conn *c)
{
    return c->snd_una == c->iss ? 1u : 0u;
}

#endif
