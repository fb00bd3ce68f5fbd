/* synfin.h - the public API of the synfin TCP core.
 *
 * The core is sans-I/O: it never reads a clock, never does I/O
 * and never calls Lua. Every entry point takes `now` in microseconds; the core
 * answers through two callbacks (a packet to send, an event to report) and
 * tells the driver its next deadline with sf_stack_deadline().
 *
 * Callbacks are synchronous and must not call back into the same stack: a
 * driver queues what it is given and acts on it after the entry point returns.
 * A connection pointer seen in an event stays valid until the next entry point
 * into the stack, unless the user holds it (sf_conn_hold), in which case it
 * stays valid until sf_conn_release.
 */
#ifndef SYNFIN_H
#define SYNFIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of synfin (the Lua module's synfin.version). */
#define SF_VERSION "0.1.0"

/* ---- errors: negative codes, named by sf_strerror ------------------------ */
/* What a call that fails returns: a negative code, never 0. */
enum {
    SF_OK = 0,
    SF_EINVAL = -1,     /* wrong argument or call in a state that forbids it */
    SF_ENOMEM = -2,     /* out of memory */
    SF_EEXIST = -3,     /* "connection already exists" (RFC 9293 §3.10.1) */
    SF_ENOTCONN = -4,   /* "connection does not exist" */
    SF_ECLOSING = -5,   /* "connection closing" */
    SF_ERESET = -6,     /* "connection reset" */
    SF_EREFUSED = -7,   /* "connection refused" */
    SF_ETIMEDOUT = -8,  /* retransmissions exhausted / user timeout */
    SF_EADDRINUSE = -9, /* local port already in use */
    SF_EAGAIN = -10,    /* nothing to read now, or no room to send now */
    SF_EBADMSG = -11,   /* malformed packet */
    SF_ENOBUFS = -12,   /* a buffer is too small for the packet */
    SF_EUNREACH = -13,  /* an ICMP hard error: destination unreachable */
    SF_ELOOP = -14,     /* a driver's hooks nested too deep (a hook sending on its own path) */
};
/* The error's text, "connection reset" (static); "unknown error" for a code
 * that is none of these. */
const char *sf_strerror(int err);

/* ---- the eleven states (RFC 9293 §3.3.2) -------------------------------------- */
/* A connection's state; SF_STATE_COUNT is their number. */
typedef enum {
    SF_CLOSED,
    SF_LISTEN,
    SF_SYN_SENT,
    SF_SYN_RCVD,
    SF_ESTABLISHED,
    SF_FIN_WAIT_1,
    SF_FIN_WAIT_2,
    SF_CLOSE_WAIT,
    SF_CLOSING,
    SF_LAST_ACK,
    SF_TIME_WAIT,
    SF_STATE_COUNT
} sf_state;
/* The state's name, "FIN_WAIT_1" (static text). */
const char *sf_state_name(sf_state s);
/* Parses a state name ("FIN_WAIT_1"; "FIN-WAIT-1" too); -1 when unknown. */
int sf_state_from_name(const char *name);

/* ---- TCP header flags ------------------------------------------------------ */
/* The bits of sf_seg.flags. */
enum {
    SF_FIN = 0x01,
    SF_SYN = 0x02,
    SF_RST = 0x04,
    SF_PSH = 0x08,
    SF_ACK = 0x10,
    SF_URG = 0x20,
    SF_ECE = 0x40,
    SF_CWR = 0x80,
};

/* ---- addresses: IPv4 and IPv6 ------------------------------------------------ */
/* An address of either family: 16 bytes in network byte order, an IPv4
 * address held as its IPv4-mapped IPv6 form ::ffff:a.b.c.d (RFC 4291
 * §2.5.5.2). Why this form rather than a family byte beside 16 bytes: one
 * size for both families with nothing to pad or forget to zero, so that
 * equality is one 16-byte compare and the 4-tuple hash reads the same bytes
 * whatever the family, and a record keeps an address in 16 bytes, not 20 or
 * 24 (the TIME_WAIT record's budget). The family follows from the prefix
 * (sf_addr_is_v4). The cost: ::ffff:0:0/96 cannot be an IPv6 address on the
 * wire, and RFC 4291 §2.5.5.2 keeps it off the wire anyway (an IPv6 packet
 * carrying one is dropped: SF_R_V4MAPPED_ON_WIRE). All zeros ("::") is the
 * unspecified address, never an endpoint. */
typedef struct {
    uint8_t b[16];
} sf_addr;

/* The longest text of an address, its NUL included (INET6_ADDRSTRLEN). */
#define SF_ADDR_STRLEN 46
/* The longest "[2001:db8::1]:80" or "192.0.2.1:80", NUL included. */
#define SF_ENDPOINT_STRLEN (SF_ADDR_STRLEN + 8)

/* Whether a is IPv4 (IPv4-mapped). */
static inline int sf_addr_is_v4(sf_addr a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a.b, prefix, 12) == 0;
}
/* 4 or 6. */
static inline int sf_addr_family(sf_addr a)
{
    return sf_addr_is_v4(a) ? 4 : 6;
}
/* The IPv4 address v (host byte order) as an sf_addr. */
static inline sf_addr sf_addr_v4(uint32_t v)
{
    sf_addr a = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, (uint8_t)(v >> 24), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 8), (uint8_t)v}};
    return a;
}
/* The IPv4 address in a (host byte order); meaningful when sf_addr_is_v4. */
static inline uint32_t sf_addr_v4_of(sf_addr a)
{
    return (uint32_t)a.b[12] << 24 | (uint32_t)a.b[13] << 16 | (uint32_t)a.b[14] << 8 | a.b[15];
}
/* Whether a and b are the same address. */
static inline int sf_addr_eq(sf_addr a, sf_addr b)
{
    /* two 64-bit words each: what memcmp would do, without a spill to the
     * stack (the 4-tuple lookup compares on every segment) */
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a.b, 8);
    memcpy(&a1, a.b + 8, 8);
    memcpy(&b0, b.b, 8);
    memcpy(&b1, b.b + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}
/* Whether a is all zeros ("::", nothing set). */
static inline int sf_addr_is_zero(sf_addr a)
{
    static const uint8_t zero[16];
    return memcmp(a.b, zero, 16) == 0;
}
/* Parses an address of either family: a dotted quad ("192.0.2.1": four
 * decimal parts, nothing else) or IPv6 text (RFC 4291 §2.2: "2001:db8::1",
 * "::ffff:192.0.2.1" is the IPv4 address). 0, or SF_EINVAL. */
int sf_addr_parse(const char *s, sf_addr *addr);
/* Formats an address: IPv4 as a dotted quad, IPv6 as RFC 5952 §4 writes it
 * (lower case, no leading zeros, the longest run of two or more zero
 * groups as "::", the first of equal runs). */
void sf_addr_str(sf_addr addr, char out[SF_ADDR_STRLEN]);
/* Formats address and port: "192.0.2.1:80", "[2001:db8::1]:80" (RFC 5952 §6). */
void sf_endpoint_str(sf_addr addr, uint16_t port, char out[SF_ENDPOINT_STRLEN]);
/* Whether an address can be a TCP endpoint (MUST-46, MUST-57, MUST-63).
 * IPv4: not 0.0.0.0/8, not multicast (224/4), not reserved or broadcast
 * (240/4, 255.255.255.255). IPv6: not the unspecified address ::, not
 * multicast (ff00::/8, RFC 4291 §2.7). */
int sf_addr_is_unicast(sf_addr addr);

/* ---- segments (the wire) ---------------------------------------------------- */
/* A parsed IPv4 or IPv6 + TCP segment; the addresses say which (both of one
 * family). Options the core does not understand are skipped; a malformed
 * option list rejects the packet. */
typedef struct {
    sf_addr saddr, daddr;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    uint16_t urp;      /* urgent pointer: an offset from seq (MUST-62) */
    uint8_t ttl;       /* IPv4 TTL, IPv6 Hop Limit */
    uint8_t tos;       /* IPv4 DS and ECN byte, IPv6 Traffic Class (the same bits, RFC 8200 §7) */
    uint16_t mss;      /* MSS option, 0 when absent */
    int8_t wscale;     /* window scale option, -1 when absent */
    uint8_t sack_perm; /* SACK-permitted option present */
    uint8_t sack_n;    /* SACK blocks (RFC 2018 §3), 0..4 */
    uint32_t sack[4][2]; /* each block's left and right edge, absolute sequence numbers */
    uint8_t has_ts;      /* timestamps option present */
    uint32_t ts_val, ts_ecr;
    const uint8_t *payload;
    uint32_t len;     /* payload length in bytes */
    uint8_t bad_csum; /* build: write a wrong checksum on purpose; parse: it was wrong */
} sf_seg;

/* SEG.LEN of RFC 9293 §3.4: payload plus one for SYN and one for FIN. */
static inline uint32_t sf_seg_seqlen(const sf_seg *s)
{
    return s->len + ((s->flags & SF_SYN) ? 1u : 0u) + ((s->flags & SF_FIN) ? 1u : 0u);
}

/* Parses one IPv4 or IPv6 packet carrying TCP (RFC 8200: Hop-by-Hop,
 * Destination Options and a Routing header with Segments Left 0 are
 * skipped; a Fragment header or any other next header is refused). Returns
 * 0, or SF_EBADMSG with *why set to a short static explanation (a reason's
 * text). The segment's payload points into pkt. When only the TCP checksum
 * is wrong, every field is filled and bad_csum is set. */
int sf_wire_parse(const uint8_t *pkt, size_t len, sf_seg *seg, const char **why);
/* sf_wire_parse without the TCP checksum's verification (RFC 9293 MUST-2,
 * MUST-3 are met where the packet came from): for a packet verified once
 * already, built by a stack, or vouched for by a device's checksum offload
 * (the local kernel's GSO: its checksum field then holds a partial sum, not
 * the checksum). Never sets bad_csum. */
int sf_wire_parse_trusted(const uint8_t *pkt, size_t len, sf_seg *seg, const char **why);
/* Builds an IPv4 or IPv6 (the addresses' family) + TCP packet into buf;
 * returns its length, SF_ENOBUFS, or SF_EINVAL when the addresses are of
 * two families. The payload may already be in place, at buf +
 * sf_wire_headers_len(seg): then it is not copied. */
int sf_wire_build(uint8_t *buf, size_t cap, const sf_seg *seg);
/* The IPv4 and TCP headers without options (RFC 791, RFC 9293 §3.1). */
#define SF_IP_TCP_HDR 40
/* The IPv6 and TCP headers without options or extension headers (RFC 8200 §3). */
#define SF_IP6_TCP_HDR 60
/* The length of the TCP options sf_wire_build writes for seg (padded). */
size_t sf_wire_options_len(const sf_seg *seg);
/* Where sf_wire_build puts seg's payload: the IP header of its family, TCP's
 * and the options. */
size_t sf_wire_headers_len(const sf_seg *seg);
/* Computes the TCP checksum of a packet of len bytes (its IP total
 * length) and stores it in place, as a NIC with checksum offload would:
 * for packets whose sender left it undone. 0, or SF_EBADMSG when pkt is
 * neither IPv4 carrying a whole TCP header nor IPv6 with one right behind
 * its 40-byte header (the TUN driver's: what a kernel sends). */
int sf_wire_fill_tcp_checksum(uint8_t *pkt, size_t len);
/* The ICMPv6 checksum (RFC 4443 §2.3: over RFC 8200 §8.1's pseudo-header
 * and the message) of an IPv6 packet of len bytes whose message follows its
 * 40-byte header, the checksum field read as it stands: 0 when the field
 * holds the right checksum; with the field zeroed, the value to store there
 * (the raw driver's Neighbor Discovery). */
uint16_t sf_wire_icmp6_checksum(const uint8_t *pkt, size_t len);
/* Stores the IPv4 header checksum of pkt (a whole IPv4 header). */
void sf_wire_fill_ip_checksum(uint8_t *pkt);
/* Stores in pkt's TCP checksum field what a packet whose checksum is left to
 * the device carries (CHECKSUM_PARTIAL, virtio's NEEDS_CSUM): the sum of the
 * pseudo-header alone, for len bytes of packet. 0, or SF_EBADMSG as
 * sf_wire_fill_tcp_checksum. */
int sf_wire_fill_partial_tcp_checksum(uint8_t *pkt, size_t len);
/* The ECN field of an IPv4 or IPv6 packet (RFC 3168 §5: 0 Not-ECT, 1 and 2
 * ECT, 3 CE); 0 for anything else. */
int sf_wire_ecn(const uint8_t *pkt, size_t len);
/* What a router under congestion does to an ECN-capable IPv4 or IPv6 packet
 * (RFC 3168 §5): its ECN field, ECT(0) or ECT(1), becomes CE, and the IPv4
 * header checksum follows. Returns 1 if it marked it, 0 if the packet is not
 * ECN-capable (or not IP). */
int sf_wire_mark_ce(uint8_t *pkt, size_t len);
/* An ICMP error message about a TCP segment (RFC 792; RFC 9293 §3.9.2.2), or
 * an ICMPv6 one (RFC 4443) when the addresses are IPv6: its addresses, type
 * and code (of its own protocol: ICMPv6's Packet Too Big is type 2), the
 * next-hop MTU of "fragmentation needed" (RFC 1191) or Packet Too Big (RFC
 * 8201), and the quoted segment's addresses, ports and sequence number. */
typedef struct {
    sf_addr saddr, daddr;
    uint8_t type, code;
    uint32_t mtu;
    sf_addr q_saddr, q_daddr;
    uint16_t q_sport, q_dport;
    uint32_t q_seq;
} sf_icmp;
/* Whether an IPv4 packet carries ICMP, or an IPv6 one ICMPv6 (after the
 * extension headers sf_wire_parse skips), not TCP. */
int sf_wire_is_icmp(const uint8_t *pkt, size_t len);
/* Parses an ICMP or ICMPv6 message quoting a TCP segment; 0 or SF_EBADMSG with *why. */
int sf_icmp_parse(const uint8_t *pkt, size_t len, sf_icmp *m, const char **why);
/* Builds one (for drivers and tests); returns its length or SF_ENOBUFS. */
int sf_icmp_build(uint8_t *buf, size_t cap, const sf_icmp *m);

/* Formats flags as letters in the order S, F, R, P, A, U, E, C ("SA", "FA", "PA"). */
void sf_flags_str(uint8_t flags, char out[9]);
/* Parses "SA", "FPA", ... (any order) into flag bits; -1 on an unknown letter. */
int sf_flags_parse(const char *s);

/* ---- configuration ----------------------------------------------------------- */
/* Per-connection policy: copied from the stack's at creation, then adjustable
 * through sf_conn_policy(). Times are microseconds. */
typedef struct {
    uint64_t msl;         /* maximum segment lifetime; TIME_WAIT lasts 2*MSL */
    uint64_t rto_initial; /* RFC 6298 (2.1): 1 s */
    /* the floor under the RTO: RFC 6298 (2.4)'s 1 s; Linux's TCP_RTO_MIN,
     * 200 ms, floors the variance term instead (sf_rto_formula); FreeBSD: 30 ms */
    uint64_t rto_min;
    uint64_t rto_max; /* RFC 6298 (2.5): at least 60 s (Linux: 120 s, FreeBSD: 64 s) */
    /* how RTT samples make the RTO (sf_rto_formula): SF_RTO_RFC6298 (the
     * rfc and freebsd profiles') or SF_RTO_LINUX (the linux profile's) */
    uint8_t rto_formula;
    uint32_t max_retries; /* R2: retransmissions of data/FIN before giving up (MUST-21) */
    uint32_t r1;          /* R1: at this many, the application hears of it (SHLD-9, SHLD-10: 3) */
    uint8_t soft_errors;  /* 1 (default): report soft errors; 0: the application turned them off
                             (SHLD-20) */
    uint32_t syn_retries; /* retransmissions of SYN or SYN-ACK before giving up */
    uint32_t rcv_buf;     /* receive buffer, bytes: the most we offer (past 65535 with
                             window scaling, RFC 7323 §2) */
    /* the largest the receive buffer may grow to (Linux's tcp_rmem[2]): the
     * window scale we offer covers it (tcp_select_initial_window); 0: rcv_buf.
     * synfin's buffer stays rcv_buf: this sets the shift only */
    uint32_t rcv_buf_max;
    /* how the offered window moves (sf_rcv_window_policy) */
    uint8_t rcv_window;
    uint32_t snd_buf; /* send buffer, bytes */
    uint16_t mss;     /* MSS we announce */
    /* the smallest send MSS, whatever the peer announces (default 48, Linux's
     * tcp_min_snd_mss); the options every segment carries come out of it
     * (RFC 6691), leaving at least one byte of data */
    uint16_t min_snd_mss;
    /* FIN_WAIT_2 ends (CLOSED) after this long; 0: never, the RFC's way, for
     * a half-closed connection may legitimately last (Linux bounds orphans
     * by 60 s, lwIP by 20 s, picotcp#60 had none; a script chooses) */
    uint64_t fin_wait_2_timeout;
    /* RFC 9293 §3.8.6.3: ACK in-order data at most this late (MUST-40: < 0.5 s)
     * and at least every second full-sized segment (SHLD-19); 0: at once.
     * With delayed_ack_variant = SF_DELACK_LINUX the ATO's floor (40 ms) */
    uint64_t delayed_ack;
    /* which ACKs wait (sf_delack_variant) */
    uint8_t delayed_ack_variant;
    /* RFC 9293 §3.10.8 USER TIMEOUT (RFC 5482): data unacknowledged this long
     * without progress aborts the connection; 0: only the retry limit */
    uint64_t user_timeout;
    /* when the user timeout ends the connection (sf_user_timeout_timing):
     * SF_UTO_RFC at its end exactly, by a timer of its own (RFC 9293
     * §3.10.8); SF_UTO_LINUX (the linux profile's) as Linux's
     * tcp_write_timeout, at a retransmission timer */
    uint8_t user_timeout_timing;
    /* RFC 9293 §3.8.4 keep-alives (MAY-5): per connection (MUST-24), off by
     * default (MUST-25), sent only when idle with nothing outstanding
     * (MUST-26) after `keepalive` (MUST-27; two hours with `true` in Lua,
     * MUST-28), then every keepalive_interval; keepalive_probes unanswered
     * ones end the connection, never a single one (MUST-29) */
    uint64_t keepalive;
    uint64_t keepalive_interval;
    uint32_t keepalive_probes;
    uint8_t nagle; /* RFC 9293 §3.7.4 (SHLD-7): hold small segments while data is unacked */
    /* which small segments Nagle holds (sf_nagle_variant): SF_NAGLE_RFC holds
     * one while any data is unacknowledged (RFC 896, RFC 9293 §3.7.4);
     * SF_NAGLE_MINSHALL (Linux's tcp_nagle_check) only while an earlier small
     * segment is */
    uint8_t nagle_variant;
    /* data that comes after the application's CLOSE (sf_rcv_after_close):
     * SF_RCV_AFTER_CLOSE_KEEP receives it (RFC 9293 §3.10.4: CLOSE ends the
     * sending side only); _RESET answers new data in FIN_WAIT_1/2 with a RST
     * and ends the connection (RFC 1122 §4.2.2.13: the data is lost), as
     * the sockets API's close(), after which nothing can read, does */
    uint8_t rcv_after_close;
    /* the RST of an ABORT, a listener's close and keep-alive's end
     * (sf_active_reset): SF_ACTIVE_RESET_RST is RFC 9293 §3.10.5's
     * <SEQ=SND.NXT><CTL=RST> (the rfc profile's); _RST_ACK adds the ACK of
     * RCV.NXT, the window and the timestamps (RFC 7323 §3.2: SHOULD), as
     * Linux's tcp_send_active_reset and FreeBSD's tcp_drop send it */
    uint8_t active_reset;
    /* RFC 9293 §3.8.2 (MUST-19): SF_CC_NEWRENO (RFC 5681, RFC 6582: the rfc
     * profile's), SF_CC_CUBIC (RFC 9438: the linux and freebsd profiles'),
     * or SF_CC_NONE: the peer's window alone limits what is sent */
    uint8_t congestion_control;
    /* the initial window in segments (RFC 6928: 10, the linux and freebsd
     * profiles'); 0 (the rfc profile's): RFC 5681 §3.1's
     * min(4*SMSS, max(2*SMSS, 4380 bytes)) */
    uint8_t initial_window;
    /* RFC 8985 §7 Tail Loss Probe (the linux profile's, as Linux's
     * tcp_early_retrans = 3; off in the rfc profile, as RFC 9293 has none,
     * and the freebsd one): when ACKs stop coming with data in flight on a
     * connection with SACK, probe after about two RTTs with one segment (new
     * data, else the last one sent), so that a lost tail (or a lost ACK of
     * a whole flight) draws an ACK long before the RTO */
    uint8_t tail_loss_probe;
    /* RFC 2018: offer SACK-permitted (default 1, as Linux does) and, when
     * both SYNs carried it, tell the peer in SACK blocks which data past a
     * hole is held, so that it resends only what is missing; as a sender,
     * keep a scoreboard of the peer's blocks (core/sack.c, RFC 6675 §3) whose
     * holes fast recovery resends */
    uint8_t sack;
    /* RFC 2883 D-SACK (the linux and freebsd profiles', as Linux's
     * tcp_dsack = 1): with SACK agreed, a segment that brings data we hold
     * already (below RCV.NXT, or held out of order) is reported in the first
     * SACK block of the ACK it draws: the first duplicate range it brought
     * (Linux's tcp_dsack_set, tcp_dsack_extend), then the usual blocks */
    uint8_t dsack;
    /* RFC 7323 §2: offer window scaling (default 1); our shift follows rcv_buf
     * or rcv_buf_max, the larger */
    uint8_t window_scaling;
    /* RFC 7323 §3-5: offer timestamps (default 1): PAWS, and the RFC 6191 use
     * of them for a SYN in TIME_WAIT */
    uint8_t timestamps;
    uint8_t ttl;              /* MUST-49: the TTL of what we send (default 64) */
    uint8_t tos;              /* MUST-48, SHLD-21, SHLD-22: the DS field (DSCP and ECN) we send */
    uint8_t rst_in_time_wait; /* SF_TW_RST_CLOSE (RFC 9293, Linux) or _IGNORE (RFC 1337) */
    uint8_t syn_in_time_wait; /* SF_TW_SYN_REOPEN (RFC 1122 4.2.2.13, Linux) or _CHALLENGE */
    /* a listener's SYN cookies (RFC 4987 §3.6): SF_SYN_COOKIES_AUTO (default,
     * as Linux's tcp_syncookies = 1) answers with one when the SYN queue is
     * full, _ALWAYS for every SYN, _NEVER drops the SYN then */
    uint8_t syn_cookies;
    /* Explicit Congestion Notification (RFC 3168, SHLD-8): SF_ECN_ACCEPT
     * (default, as Linux's tcp_ecn = 2) agrees when a peer's SYN asks,
     * SF_ECN_ON asks too, SF_ECN_OFF never */
    uint8_t ecn;
    /* the form of a zero-window probe (sf_zwp_form): SF_ZWP_DATA, one byte
     * of new data (RFC 9293 §3.8.6.1, the rfc and freebsd profiles'), or
     * SF_ZWP_OLD_SEQ, a bare ACK with SEQ = SND.UNA - 1 that the receiver
     * must answer with its window (Linux's tcp_write_wakeup,
     * tcp_xmit_probe_skb; the linux profile's) */
    uint8_t zero_window_probe;
    /* SYN_SENT: the first this many SYN retransmissions wait the same RTO,
     * not doubled, and the connection gives up after syn_retries + this many
     * or once the time syn_retries doubling RTOs would take has passed
     * since the first SYN (Linux's tcp_syn_linear_timeouts, 4, in
     * tcp_retransmit_timer and tcp_write_timeout); 0: RFC 6298 (5.5)'s
     * doubling from the first */
    uint8_t syn_linear_timeouts;
    /* at most one challenge ACK (RFC 5961 §3-5) per connection this often,
     * us, on the clock of the ACKs to out-of-window bare ACKs (Linux's
     * tcp_send_challenge_ack: __tcp_oow_rate_limited, tcp_invalid_ratelimit
     * 500 ms); 0: none but the stack's challenge_ack_limit */
    uint32_t challenge_ack_interval;
} sf_policy;

/* sf_policy.zero_window_probe */
typedef enum { SF_ZWP_DATA, SF_ZWP_OLD_SEQ } sf_zwp_form;

/* sf_policy.ecn */
enum { SF_ECN_OFF, SF_ECN_ACCEPT, SF_ECN_ON };

/* Nagle's variants (sf_policy.nagle_variant). */
typedef enum { SF_NAGLE_RFC, SF_NAGLE_MINSHALL } sf_nagle_variant;

/* How the offered receive window moves (sf_policy.rcv_window), core/output.c:
 * SF_RCV_WINDOW_RFC offers all free space, its right edge held back by
 * receiver SWS avoidance (RFC 9293 §3.8.6.2.2); SF_RCV_WINDOW_LINUX is
 * Linux's (tcp_select_initial_window, __tcp_select_window): the buffer
 * counts twice what it may offer, the first window is a whole number of
 * MSS, and the window grows from there (rcv_ssthresh, tcp_grow_window). */
typedef enum { SF_RCV_WINDOW_RFC, SF_RCV_WINDOW_LINUX } sf_rcv_window_policy;

/* Which ACKs of in-order data wait (sf_policy.delayed_ack_variant):
 * SF_DELACK_RFC delays each up to delayed_ack and ACKs every second
 * full-sized segment at once (RFC 9293 §3.8.6.3); SF_DELACK_LINUX is
 * Linux's quick-ACK mode, adaptive ATO and interactive mode (core/quickack.c). */
typedef enum { SF_DELACK_RFC, SF_DELACK_LINUX } sf_delack_variant;

/* Data after the application's CLOSE (sf_policy.rcv_after_close). */
typedef enum { SF_RCV_AFTER_CLOSE_KEEP, SF_RCV_AFTER_CLOSE_RESET } sf_rcv_after_close;

/* The RST of an active reset (sf_policy.active_reset). */
typedef enum { SF_ACTIVE_RESET_RST, SF_ACTIVE_RESET_RST_ACK } sf_active_reset;

/* How the RTO follows the RTT samples (sf_policy.rto_formula), core/timer.c:
 * SF_RTO_RFC6298 is RFC 6298 (2.2), (2.3): SRTT + 4*RTTVAR, then at least
 * rto_min; SF_RTO_LINUX is Linux's tcp_rtt_estimator and __tcp_set_rto:
 * SRTT plus a variance term that is itself at least rto_min, so the RTO is
 * about the RTT plus rto_min (200 ms) on a short path. */
typedef enum { SF_RTO_RFC6298, SF_RTO_LINUX } sf_rto_formula;

/* When the user timeout ends a connection (sf_policy.user_timeout_timing),
 * core/timer.c. SF_UTO_RFC: RFC 9293 §3.10.8, a timer of its own that
 * starts when data becomes outstanding, again at each acknowledgment that
 * makes progress, and ends the connection when it fires. SF_UTO_LINUX:
 * Linux's tcp_write_timeout and tcp_clamp_rto_to_user_timeout, once the
 * connection is synchronized: the time counts from the first retransmission
 * by timer (a tail loss probe is not one), it is checked only when the
 * retransmission timer fires, and that timer is clamped to the time left:
 * the connection ends at the first RTO plus the user timeout, later than the
 * RFC's end, with the retransmissions the RTO makes until then (a 0.8 s
 * timeout and a 0.2 s RTO: ends at 1.2 s, after one at 0.8 s that the RFC's
 * end would not send). It replaces the retry limit (R2), as Linux's does
 * tcp_retries2. Against a zero window the same, from the first probe timer
 * (tcp_probe_timer, tcp_clamp_probe0_to_user_timeout), answered or not.
 * In SYN_SENT and SYN_RCVD both time it as SF_UTO_RFC. */
typedef enum { SF_UTO_RFC, SF_UTO_LINUX } sf_user_timeout_timing;

/* Stack profiles: the policy values where stacks differ, by name
 * (core/profile.c has the table, each value with its source). */
typedef enum { SF_PROFILE_LINUX, SF_PROFILE_FREEBSD, SF_PROFILE_RFC } sf_profile;

/* Sets in pol the values the profile names (the rest stays). */
void sf_policy_profile(sf_policy *pol, sf_profile profile);
/* "linux", "freebsd", "rfc" as a profile; -1 for any other name. */
int sf_profile_parse(const char *name);
/* The profile's name ("linux", ...; "?" out of range). */
const char *sf_profile_name(sf_profile profile);

/* The congestion controllers (sf_policy.congestion_control). */
enum { SF_CC_NONE, SF_CC_NEWRENO, SF_CC_CUBIC };

/* When a listener answers a SYN with a SYN cookie. */
enum { SF_SYN_COOKIES_AUTO, SF_SYN_COOKIES_ALWAYS, SF_SYN_COOKIES_NEVER };

/* What a RST in TIME_WAIT does: RFC 9293 §3.10.7.4 closes (as Linux does);
 * RFC 1337 ignores it, against TIME-WAIT assassination. */
enum { SF_TW_RST_CLOSE, SF_TW_RST_IGNORE };
/* What a SYN in TIME_WAIT does: a SYN above RCV.NXT may open a new
 * connection on the same ports (RFC 1122 §4.2.2.13), or draws a challenge
 * ACK as in any synchronized state (RFC 5961 §4). */
enum { SF_TW_SYN_REOPEN, SF_TW_SYN_CHALLENGE };

/* The most addresses a stack has. */
#define SF_STACK_ADDRS 8

/* A stack's configuration: sf_config_default fills it, then the embedder
 * changes what differs (addrs and naddrs at least). */
typedef struct {
    /* the stack's addresses, of either family or both (naddrs of them, at
     * least one): a segment is ours when it is sent to one of them; an
     * active OPEN picks the first of the remote address's family (RFC 9293
     * §3.9.1.1, MUST-43, MUST-44) unless told which */
    sf_addr addrs[SF_STACK_ADDRS];
    uint8_t naddrs;
    /* the key of the RFC 6528 ISN function (SipHash-2-4): the embedder MUST
     * fill it with random bytes wherever synfin faces a real network (the
     * core has no source of randomness); the sim derives it from its seed */
    uint8_t secret[16];
    int fixed_isn; /* 1: every ISS is `isn` (scenario tests) */
    uint32_t isn;
    uint16_t ephemeral_lo, ephemeral_hi;
    uint16_t backlog; /* default listen backlog */
    /* the MTU of the host's link: the MSS announced is at most mtu - 40
     * (MMS_R, MUST-67), and what is sent at most mtu - 40 too (MMS_S); over
     * IPv6 mtu - 60 (RFC 8200 §3: a 40-byte header), and never below IPv6's
     * minimum link MTU, 1280 (RFC 8200 §5) */
    uint16_t mtu;
    /* RFC 9293 §3.4.3, the quiet time: a host that lost track of its
     * sequence numbers (it restarted) sends nothing for this long (an MSL)
     * after its first entry point; 0 (default): no quiet time */
    uint64_t quiet_time;
    /* RFC 5961 §7: at most this many challenge ACKs a second (the stack's
     * whole); 0: no limit */
    uint32_t challenge_ack_limit;
    sf_policy policy;
} sf_config;

/* Fills cfg with the defaults (MSL 30 s, RTO 1 s/60 s, 15 and 7 retries,
 * 64 KiB buffers, MSS 1460, backlog 128) and the linux profile's policy
 * (sf_policy_profile: where stacks differ, Linux's value). */
void sf_config_default(sf_config *cfg);

/* ---- events -------------------------------------------------------------------- */
/* What an event reports (sf_event.type). */
typedef enum {
    SF_EV_STATE,      /* a connection changed state: old, new, cause, why */
    SF_EV_DROP,       /* a segment was dropped by the protocol: reason, why */
    SF_EV_ERROR,      /* an error was signalled to the user: err */
    SF_EV_URGENT,     /* the peer's urgent pointer advanced past what was read (MUST-32) */
    SF_EV_SOFT_ERROR, /* a soft error (MUST-47): retransmissions reached R1 (SHLD-9) */
    SF_EV_NOTE,       /* the protocol took note of a segment it kept or answered: reason, why */
} sf_event_type;

/* Why a state changed: a user call, a segment, or a timer. */
typedef enum {
    SF_CAUSE_USER,
    SF_CAUSE_SEGMENT,
    SF_CAUSE_TIMER,
} sf_cause;
/* The event type's name: "state", "drop", "error", "urgent", "soft_error"
 * (static text; "?" when unknown), for an embedder's log. */
const char *sf_event_name(sf_event_type type);
/* The cause's name: "user", "segment", "timer" (static text; "?" when unknown). */
const char *sf_cause_name(sf_cause cause);

/* A connection, or a listener: opaque, owned by its stack. */
typedef struct sf_conn sf_conn;
/* One host's TCP: its connections, listeners and timers; opaque. */
typedef struct sf_stack sf_stack;

/* Why the protocol dropped a segment, or took note of one (a code per
 * rule; core/reason.c has its name, text and reference). */
typedef enum {
    SF_R_NONE,
    /* the wire */
    SF_R_SHORT_IP,
    SF_R_NOT_IP,
    SF_R_BAD_IP_LENGTH,
    SF_R_BAD_IP_CHECKSUM,
    SF_R_FRAGMENT,
    SF_R_NOT_TCP,
    SF_R_SHORT_TCP,
    SF_R_BAD_DATA_OFFSET,
    SF_R_BAD_OPTION,
    SF_R_BAD_CHECKSUM,
    SF_R_NOT_ICMP,
    SF_R_SHORT_ICMP,
    SF_R_BAD_ICMP_CHECKSUM,
    SF_R_ICMP_NO_IP,
    SF_R_ICMP_NO_TCP,
    SF_R_SHORT_IP6,
    SF_R_BAD_IP6_LENGTH,
    SF_R_IP6_FRAGMENT,
    SF_R_IP6_NEXT_HEADER,
    SF_R_IP6_ROUTING,
    SF_R_IP6_OPTION,
    SF_R_IP6_V4MAPPED,
    /* addressing */
    SF_R_NOT_FOR_US,
    SF_R_SOURCE_NOT_UNICAST,
    SF_R_NO_CONNECTION,
    SF_R_RST_NO_CONNECTION,
    /* ICMP */
    SF_R_ICMP_NOT_OURS,
    SF_R_ICMP_NO_CONNECTION,
    SF_R_ICMP_NOT_IN_FLIGHT,
    SF_R_ICMP_SOURCE_QUENCH,
    SF_R_ICMP_MSS_LOWERED,
    SF_R_ICMP_OTHER,
    /* LISTEN */
    SF_R_LISTEN_RST,
    SF_R_LISTEN_ACK,
    SF_R_LISTEN_NO_SYN,
    SF_R_ACCEPT_QUEUE_FULL,
    SF_R_SYN_QUEUE_FULL,
    SF_R_NO_MEMORY,
    SF_R_SYN_DATA,
    SF_R_COOKIE_SENT,
    SF_R_COOKIE_MSS,
    SF_R_COOKIE_ACK_DROPPED,
    /* SYN_SENT */
    SF_R_SYN_SENT_BAD_ACK,
    SF_R_SYN_SENT_RST_NO_ACK,
    SF_R_SYN_SENT_NO_SYN,
    SF_R_SYN_TEXT_NOT_KEPT,
    /* the other states */
    SF_R_RST_OUT_OF_WINDOW,
    SF_R_TIME_WAIT_FIN,
    SF_R_SEQ_UNACCEPTABLE,
    SF_R_CHALLENGE_LIMITED,
    SF_R_CHALLENGE_RST,
    SF_R_CHALLENGE_SYN,
    SF_R_CHALLENGE_ACK_UNSENT,
    SF_R_CHALLENGE_ACK_OLD,
    SF_R_TIME_WAIT_RST_IGNORED,
    SF_R_NO_ACK,
    SF_R_SYN_RCVD_BAD_ACK,
    SF_R_OOO_NO_ROOM,
    SF_R_OOO_HELD,
    SF_R_DATA_AFTER_FIN,
    SF_R_DATA_TRIMMED,
    SF_R_NO_TIMESTAMP,
    SF_R_PAWS,
    SF_R_DUPLICATE_SYN,
    SF_R_ZERO_WINDOW_TEXT,
    SF_R_REOPEN_OLD_DUPLICATE,
    SF_R_OOW_ACK_LIMITED,
    SF_R_ACCEPT_QUEUE_FULL_ACK,
    SF_R_LAND,
    /* sending */
    SF_R_QUIET_TIME,
    /* congestion control: notes with the window after (sf_event.cwnd, .ssthresh) */
    SF_R_CC_FAST_RETRANSMIT,
    SF_R_CC_RECOVERED,
    SF_R_CC_RTO,
    SF_R_CC_ECN,
    SF_R_COUNT
} sf_reason;

/* A reason's name ("paws"), text ("PAWS: timestamp older than TS.Recent:
 * ACK sent"), the rule it follows ("RFC 7323 §5.3"), and whether it is a
 * note (the segment was kept or answered: "ooo_held") or a drop. */
typedef struct {
    const char *name, *text, *ref;
    int note;
} sf_reason_info;
/* The reason's description (SF_R_NONE's for an unknown code). */
const sf_reason_info *sf_reason_get(sf_reason r);
/* Its text: the same pointer for every call (a parser's *why is one). */
const char *sf_reason_text(sf_reason r);
/* The reason whose text this is (by pointer), SF_R_NONE if none. */
sf_reason sf_reason_of_text(const char *text);

/* An event, reported through sf_callbacks.event. */
typedef struct {
    sf_event_type type;
    sf_conn *conn; /* may be NULL for drops outside any connection */
    uint32_t conn_id;
    sf_state old_state, new_state;
    sf_cause cause;
    const char *why; /* static text: "connect", "SYN", "ACK of our FIN", "2MSL" */
    int err;
    sf_reason reason; /* SF_EV_DROP, SF_EV_NOTE: the code of `why` */
    /* SF_EV_DROP, SF_EV_NOTE of a connection: its congestion window and
     * threshold now, in bytes (ssthresh UINT32_MAX: not set yet); what
     * the SF_R_CC_* notes, made after a congestion response, tell */
    uint32_t cwnd, ssthresh;
} sf_event;

/* How the stack answers; both callbacks get the ud given to sf_stack_new. */
typedef struct {
    /* A packet the stack sends; conn is its connection, or NULL (a RST for no
     * connection). The buffer is valid only during the call. */
    void (*emit)(void *ud, sf_conn *conn, const uint8_t *pkt, size_t len);
    void (*event)(void *ud, const sf_event *ev);
} sf_callbacks;

/* ---- the stack: one host's TCP ------------------------------------------------- */
/* A new stack with the configuration cfg and the callbacks cb (both
 * copied); NULL without memory. */
sf_stack *sf_stack_new(const sf_config *cfg, const sf_callbacks *cb, void *ud);
/* Frees the stack and every connection it has, held ones too (NULL: nothing). */
void sf_stack_free(sf_stack *st);
/* The stack's i-th address (0 .. naddrs - 1), NULL past the last. */
const sf_addr *sf_stack_addr(const sf_stack *st, size_t i);
/* Whether addr is one of the stack's. */
int sf_stack_has_addr(const sf_stack *st, sf_addr addr);
/* The configuration the stack was made with. */
const sf_config *sf_stack_config(const sf_stack *st);
/* Hands one IPv4 packet to the stack (RFC 9293 §3.10.7 SEGMENT ARRIVES). */
void sf_stack_input(sf_stack *st, uint64_t now, const uint8_t *pkt, size_t len);
/* sf_stack_input for a packet whose TCP checksum needs no verification
 * (sf_wire_parse_trusted says which): a driver that verified it, or whose
 * device vouched for it, saves the stack a pass over the payload. */
void sf_stack_input_trusted(sf_stack *st, uint64_t now, const uint8_t *pkt, size_t len);
/* A batch of packets that arrived together (MUST-59: "process them all
 * before sending any ACK segments"): between begin and end, sf_stack_input
 * defers each connection's ACK and output, and end sends one per connection.
 * User calls in between send at once, as always. */
void sf_stack_batch_begin(sf_stack *st);
/* Ends the batch: each connection sends its deferred ACK and output. */
void sf_stack_batch_end(sf_stack *st, uint64_t now);
/* Runs the timers due at `now` (RFC 9293 §3.10.8). */
void sf_stack_poll(sf_stack *st, uint64_t now);
/* The next time sf_stack_poll has work; UINT64_MAX when none. Never earlier
 * than a real deadline, never "now" when nothing is due. */
uint64_t sf_stack_deadline(const sf_stack *st);
/* The connection a segment with this 4-tuple (as seen by this stack) belongs
 * to, or the listener of lport, or NULL. */
sf_conn *sf_stack_lookup(sf_stack *st, sf_addr laddr, sf_addr raddr, uint16_t lport,
                         uint16_t rport);
/* How many connections the stack has, listeners aside (TIME_WAIT included). */
size_t sf_stack_conn_count(const sf_stack *st);
/* Of those, the TIME_WAIT connections nobody holds, kept as small records
 * (they answer as a connection would; a lookup makes one a connection again). */
size_t sf_stack_time_wait_records(const sf_stack *st);
/* Calls fn for every connection the stack has, listeners and TIME_WAIT
 * included, newest first, then the TIME_WAIT records (the `ss -tan` view).
 * fn must not call the stack, and must not keep the pointer: a record's is
 * a view, valid during the call. */
void sf_stack_foreach(sf_stack *st, void (*fn)(void *ud, const sf_conn *c), void *ud);

/* ---- user calls (RFC 9293 §3.9.1 and §3.10.1-6) ---------------------------------- */
/* OPEN, passive: a listener in LISTEN. pol (NULL: the stack's) is inherited
 * by the connections it spawns. */
sf_conn *sf_listen(sf_stack *st, uint64_t now, uint16_t port, int backlog, const sf_policy *pol,
                   int *err);
/* OPEN, active: sends a SYN; lport 0 picks an ephemeral port; pol NULL: the
 * stack's policy. laddr NULL picks the stack's first address of raddr's
 * family (RFC 9293 §3.9.1.1, MUST-44); one given must be the stack's and of
 * raddr's family (MUST-43). SF_EINVAL when the stack has no address of that
 * family or laddr is not one of its own. */
sf_conn *sf_connect(sf_stack *st, uint64_t now, const sf_addr *laddr, sf_addr raddr, uint16_t rport,
                    uint16_t lport, const sf_policy *pol, int *err);
/* The next ESTABLISHED connection from a listener's queue, held for the
 * caller, or NULL. */
sf_conn *sf_accept(sf_conn *listener);
/* SEND: queues up to len bytes; returns how many were taken or an error. */
int sf_send(sf_conn *c, uint64_t now, const void *data, size_t len);
/* SEND with the URGENT flag (RFC 9293 §3.8.5): the data queued up to and
 * including this is urgent; segments carry URG and the urgent pointer until
 * the peer has acknowledged it. */
int sf_send_urgent(sf_conn *c, uint64_t now, const void *data, size_t len);
/* RECEIVE: copies up to cap bytes; returns the count, 0 at end of stream
 * (the peer's FIN has been read), SF_EAGAIN when nothing is there yet. */
int sf_recv(sf_conn *c, uint64_t now, void *buf, size_t cap);
/* RECEIVE without consuming (the sockets API's MSG_PEEK): copies up to cap
 * bytes from the front of what is queued, which stays queued (the window
 * does not move, nothing is announced); returns as sf_recv does. */
int sf_recv_peek(sf_conn *c, uint64_t now, void *buf, size_t cap);
/* CLOSE: "no more data to send" (RFC 9293 §3.10.4). */
int sf_close(sf_conn *c, uint64_t now);
/* Whether CLOSE still does something in state s (RFC 9293 §3.10.4): stops
 * a listener or a SYN_SENT, sends a FIN from SYN_RCVD, ESTABLISHED or
 * CLOSE_WAIT; in the states after it ("connection closing") and in CLOSED,
 * 0. */
int sf_state_can_close(sf_state s);
/* CLOSE with the last data: queued with the FIN, so that they can leave in
 * one segment ("FIN carrying the last data"). All or nothing: SF_EAGAIN,
 * with nothing queued, when the send buffer has no room for all of it. */
int sf_close_with(sf_conn *c, uint64_t now, const void *data, size_t len);
/* Forgets the connection: CLOSED at once, nothing sent (a host that
 * vanished; the peer finds out through its retransmissions or a RST). A
 * listener's children nobody accepted are forgotten with it. */
int sf_forget(sf_conn *c, uint64_t now);
/* ABORT: RST if synchronized, then CLOSED (RFC 9293 §3.10.5). */
int sf_abort(sf_conn *c, uint64_t now);

/* STATUS (RFC 9293 §3.10.6), plus counters. Sequence numbers are absolute. */
typedef struct {
    sf_state state;
    uint32_t id;
    sf_addr laddr, raddr; /* a listener (on all of them): the stack's first address */
    uint16_t lport, rport;
    uint32_t iss, irs;
    uint32_t snd_una, snd_nxt, snd_wnd;
    uint32_t rcv_nxt, rcv_wnd;
    uint32_t snd_queued;  /* bytes in the send buffer, unacknowledged included */
    uint32_t rcv_queued;  /* bytes ready to read */
    uint32_t rto;         /* current RTO, microseconds */
    uint32_t srtt;        /* smoothed RTT, microseconds (0: no sample yet) */
    uint32_t retransmits; /* segments retransmitted over the life */
    uint32_t segs_in, segs_out;
    uint64_t bytes_in, bytes_out;
    int error;               /* the last error signalled, 0 if none */
    int peer_closed;         /* the peer's FIN has arrived */
    uint32_t urgent;         /* bytes of the peer's urgent data not yet read (MUST-33) */
    uint32_t cwnd, ssthresh; /* the congestion window and threshold, bytes (RFC 5681) */
} sf_conn_info;
/* Fills info with the connection's status. */
void sf_conn_status(const sf_conn *c, sf_conn_info *info);
/* The segment the connection would send at now with these flags and no
 * data, made as its own segments are: addresses and ports, SEQ = SND.NXT,
 * ACK = RCV.NXT when ACK is set, the window field (scaled, RFC 7323 §2.3),
 * TTL and TOS, the timestamp option once agreed but on a RST (TSval of now,
 * TSecr = TS.Recent, RFC 7323 §3.2), and on a SYN or SYN-ACK the options
 * its own would carry (MSS, window scale, timestamps, SACK-permitted). It
 * changes nothing: for tools that craft segments on the connection's behalf. */
void sf_conn_craft(const sf_conn *c, uint64_t now, uint8_t flags, sf_seg *seg);
/* The connection's state. */
sf_state sf_conn_state(const sf_conn *c);
/* The connection's id, unique within its stack (conn_id in events and traces). */
uint32_t sf_conn_id(const sf_conn *c);
/* The connection's policy, to read or to change from now on. */
sf_policy *sf_conn_policy(sf_conn *c);
/* Changes the connection's policy at now: as writing *sf_conn_policy(c),
 * and a keep-alive turned on or changed counts its idle time from now (as
 * Linux's SO_KEEPALIVE and TCP_KEEPIDLE do), rather than waiting for the
 * next segment heard to start it. */
void sf_conn_set_policy(sf_conn *c, uint64_t now, const sf_policy *pol);

/* The user keeps the connection: it is not freed on reaching CLOSED. */
void sf_conn_hold(sf_conn *c);
/* The user lets it go: if CLOSED, freed at the stack's next entry point
 * (sf_stack_input outside a batch, sf_stack_poll), else once it reaches
 * CLOSED (or with the stack). It may be called at any time, in a batch too.
 * It changes nothing on the wire: call sf_close first. */
void sf_conn_release(sf_conn *c);

/* The size of a connection's control block, for the record. */
size_t sf_conn_sizeof(void);
/* The size of a TIME_WAIT record (see sf_stack_time_wait_records). */
size_t sf_time_wait_sizeof(void);

#ifdef __cplusplus
}
#endif

#endif
