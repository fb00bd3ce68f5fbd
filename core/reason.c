/* reason.c - why the protocol dropped a segment, or took note of one: a
 * code for each (synfin.h's sf_reason), with its name, its text and the
 * rule it follows. One place for the words; a spec asserts the code. */
#include "synfin.h"

#include <stddef.h>

#define DROP(code, name, text, ref) [code] = {name, text, ref, 0}
#define NOTE(code, name, text, ref) [code] = {name, text, ref, 1}

static const sf_reason_info table[SF_R_COUNT] = {
    NOTE(SF_R_NONE, "none", "", ""),
    /* the wire */
    DROP(SF_R_SHORT_IP, "short_ip", "packet shorter than an IPv4 header", "RFC 791"),
    DROP(SF_R_NOT_IP, "not_ip", "neither IPv4 nor IPv6", "RFC 791, RFC 8200 §3"),
    DROP(SF_R_BAD_IP_LENGTH, "bad_ip_length", "bad IPv4 header or total length", "RFC 791"),
    DROP(SF_R_BAD_IP_CHECKSUM, "bad_ip_checksum", "bad IPv4 header checksum", "RFC 791"),
    DROP(SF_R_FRAGMENT, "fragment", "IPv4 fragment (reassembly not supported)", "RFC 791"),
    DROP(SF_R_NOT_TCP, "not_tcp", "not TCP", "RFC 791"),
    DROP(SF_R_SHORT_TCP, "short_tcp", "segment shorter than a TCP header", "RFC 9293 §3.1"),
    DROP(SF_R_BAD_DATA_OFFSET, "bad_data_offset", "TCP data offset out of range", "RFC 9293 §3.1"),
    DROP(SF_R_BAD_OPTION, "bad_option", "malformed TCP option length", "RFC 9293 §3.1, MUST-7"),
    DROP(SF_R_BAD_CHECKSUM, "bad_checksum", "bad TCP checksum", "RFC 9293 §3.1, MUST-2, MUST-3"),
    DROP(SF_R_NOT_ICMP, "not_icmp", "not ICMP", "RFC 792"),
    DROP(SF_R_SHORT_ICMP, "short_icmp", "ICMP message shorter than its header", "RFC 792"),
    DROP(SF_R_BAD_ICMP_CHECKSUM, "bad_icmp_checksum", "bad ICMP checksum", "RFC 792"),
    DROP(SF_R_ICMP_NO_IP, "icmp_no_ip", "ICMP message quotes no IPv4 header", "RFC 792"),
    DROP(SF_R_ICMP_NO_TCP, "icmp_no_tcp", "ICMP message quotes no TCP header", "RFC 9293 §3.9.2.2"),
    DROP(SF_R_SHORT_IP6, "short_ip6", "packet shorter than an IPv6 header", "RFC 8200 §3"),
    DROP(SF_R_BAD_IP6_LENGTH, "bad_ip6_length",
         "bad IPv6 payload length, or an extension header past it", "RFC 8200 §3, §4"),
    DROP(SF_R_IP6_FRAGMENT, "fragment6", "IPv6 Fragment header (reassembly not supported)",
         "RFC 8200 §4.5"),
    DROP(SF_R_IP6_NEXT_HEADER, "ip6_next_header",
         "IPv6 next header not understood (or Hop-by-Hop not first)", "RFC 8200 §4, §4.3"),
    DROP(SF_R_IP6_ROUTING, "ip6_routing",
         "IPv6 Routing header with Segments Left > 0: this host does not forward", "RFC 8200 §4.4"),
    DROP(SF_R_IP6_OPTION, "ip6_option", "IPv6 option whose type says discard", "RFC 8200 §4.2"),
    DROP(SF_R_IP6_V4MAPPED, "ip6_v4mapped", "IPv4-mapped address in an IPv6 header",
         "RFC 4291 §2.5.5.2"),
    /* addressing */
    DROP(SF_R_NOT_FOR_US, "not_for_us", "not addressed to this host", "MUST-57"),
    DROP(SF_R_SOURCE_NOT_UNICAST, "source_not_unicast", "source address not unicast: ignored",
         "MUST-63"),
    DROP(SF_R_NO_CONNECTION, "no_connection", "no connection: RST sent", "RFC 9293 §3.10.7.1"),
    DROP(SF_R_RST_NO_CONNECTION, "rst_no_connection", "RST for no connection",
         "RFC 9293 §3.10.7.1"),
    /* ICMP */
    DROP(SF_R_ICMP_NOT_OURS, "icmp_not_ours", "ICMP about a segment this host did not send",
         "RFC 5927 §4.1"),
    DROP(SF_R_ICMP_NO_CONNECTION, "icmp_no_connection", "ICMP for no connection", "RFC 5927 §4.1"),
    DROP(SF_R_ICMP_NOT_IN_FLIGHT, "icmp_not_in_flight",
         "ICMP quoting a sequence number not in flight: ignored", "RFC 5927 §4.1"),
    DROP(SF_R_ICMP_SOURCE_QUENCH, "icmp_source_quench", "ICMP source quench ignored (MUST-55)",
         "MUST-55"),
    NOTE(SF_R_ICMP_MSS_LOWERED, "icmp_mss_lowered",
         "ICMP fragmentation needed or Packet Too Big: MSS lowered", "RFC 1191, RFC 8201, MUST-16"),
    DROP(SF_R_ICMP_OTHER, "icmp_other", "ICMP message of no concern to TCP", "RFC 9293 §3.9.2.2"),
    /* LISTEN (RFC 9293 §3.10.7.2) */
    DROP(SF_R_LISTEN_RST, "listen_rst", "RST in LISTEN ignored", "RFC 9293 §3.10.7.2"),
    DROP(SF_R_LISTEN_ACK, "listen_ack", "ACK in LISTEN: RST sent", "RFC 9293 §3.10.7.2"),
    DROP(SF_R_LISTEN_NO_SYN, "listen_no_syn", "no SYN in LISTEN", "RFC 9293 §3.10.7.2"),
    DROP(SF_R_ACCEPT_QUEUE_FULL, "accept_queue_full", "SYN dropped: accept queue full",
         "Linux (a full accept queue)"),
    DROP(SF_R_SYN_QUEUE_FULL, "syn_queue_full", "SYN dropped: SYN queue full",
         "policy syn_cookies = never"),
    DROP(SF_R_NO_MEMORY, "no_memory", "SYN dropped: out of memory", "-"),
    DROP(SF_R_SYN_DATA, "syn_data", "data on SYN not kept: the peer will send it again",
         "RFC 9293 §3.10.7.2 (as Linux)"),
    NOTE(SF_R_COOKIE_SENT, "cookie_sent",
         "SYN queue full: SYN cookie sent, no state kept (RFC 4987)", "RFC 4987 §3.6"),
    DROP(SF_R_COOKIE_MSS, "cookie_mss",
         "SYN dropped: SYN queue full, MSS too small for a SYN cookie", "RFC 4987 §3.6"),
    DROP(SF_R_COOKIE_ACK_DROPPED, "cookie_ack_dropped",
         "ACK of a SYN cookie dropped: accept queue full or no memory", "Linux"),
    /* SYN-SENT (RFC 9293 §3.10.7.3) */
    DROP(SF_R_SYN_SENT_BAD_ACK, "syn_sent_bad_ack", "unacceptable ACK in SYN_SENT",
         "RFC 9293 §3.10.7.3"),
    DROP(SF_R_SYN_SENT_RST_NO_ACK, "syn_sent_rst_no_ack", "RST without ACK in SYN_SENT",
         "RFC 9293 §3.10.7.3, RFC 5961 §3.2"),
    DROP(SF_R_SYN_SENT_NO_SYN, "syn_sent_no_syn", "neither SYN nor RST in SYN_SENT",
         "RFC 9293 §3.10.7.3"),
    DROP(SF_R_SYN_TEXT_NOT_KEPT, "syn_text_not_kept",
         "text or FIN on a SYN without ACK not kept: the peer will send it again",
         "RFC 9293 §3.10.7.3 (as Linux)"),
    /* the other states (RFC 9293 §3.10.7.4) */
    DROP(SF_R_RST_OUT_OF_WINDOW, "rst_out_of_window", "RST outside the window",
         "RFC 9293 §3.10.7.4, RFC 5961 §3.2"),
    NOTE(SF_R_TIME_WAIT_FIN, "time_wait_fin", "retransmitted FIN in TIME_WAIT: ACK, 2MSL restarted",
         "RFC 9293 §3.10.7.4"),
    DROP(SF_R_SEQ_UNACCEPTABLE, "seq_unacceptable", "sequence number not acceptable: ACK sent",
         "RFC 9293 §3.10.7.4 first"),
    DROP(SF_R_CHALLENGE_LIMITED, "challenge_limited", "challenge ACK rate-limited (RFC 5961 §7)",
         "RFC 5961 §7"),
    DROP(SF_R_CHALLENGE_RST, "challenge_rst", "RST not at RCV.NXT: challenge ACK", "RFC 5961 §3.2"),
    DROP(SF_R_CHALLENGE_SYN, "challenge_syn", "SYN in a synchronized state: challenge ACK",
         "RFC 5961 §4.2"),
    DROP(SF_R_CHALLENGE_ACK_UNSENT, "challenge_ack_unsent", "ACK of data not yet sent: ACK sent",
         "RFC 5961 §5.2"),
    DROP(SF_R_CHALLENGE_ACK_OLD, "challenge_ack_old", "ACK too old (RFC 5961 §5): ACK sent",
         "RFC 5961 §5.2"),
    DROP(SF_R_TIME_WAIT_RST_IGNORED, "time_wait_rst_ignored",
         "RST in TIME_WAIT ignored (RFC 1337 policy)", "RFC 1337"),
    DROP(SF_R_NO_ACK, "no_ack", "no ACK bit", "RFC 9293 §3.10.7.4 fifth"),
    DROP(SF_R_SYN_RCVD_BAD_ACK, "syn_rcvd_bad_ack", "unacceptable ACK in SYN_RCVD: RST sent",
         "RFC 9293 §3.10.7.4 fifth"),
    DROP(SF_R_OOO_NO_ROOM, "ooo_no_room", "out of order: no room to hold it, ACK sent",
         "RFC 9293 §3.10.7.4, SHLD-31"),
    NOTE(SF_R_OOO_HELD, "ooo_held", "out of order: held, ACK sent", "SHLD-31, RFC 5681 §4.2"),
    DROP(SF_R_DATA_AFTER_FIN, "data_after_fin", "data after the peer's FIN ignored",
         "RFC 9293 §3.10.7.4 seventh"),
    DROP(SF_R_DATA_TRIMMED, "data_trimmed", "data beyond the receive window trimmed",
         "RFC 9293 §3.10.7.4 first"),
    DROP(SF_R_NO_TIMESTAMP, "no_timestamp", "no timestamp (RFC 7323 §3.2): dropped",
         "RFC 7323 §3.2"),
    DROP(SF_R_PAWS, "paws", "PAWS: timestamp older than TS.Recent: ACK sent", "RFC 7323 §5.3"),
    NOTE(SF_R_DUPLICATE_SYN, "duplicate_syn", "duplicate SYN: SYN-ACK sent again",
         "RFC 9293 §3.10.7.4 (picotcp#148)"),
    DROP(SF_R_ZERO_WINDOW_TEXT, "zero_window_text",
         "text with a zero window: ACK and URG processed, ACK sent", "MUST-66"),
    NOTE(SF_R_REOPEN_OLD_DUPLICATE, "reopen_old_duplicate",
         "the reopening SYN was an old duplicate: TIME_WAIT again", "MAY-2"),
    DROP(SF_R_OOW_ACK_LIMITED, "oow_ack_limited",
         "bare ACK out of the window: no ACK again within 0.5 s", "Linux tcp_invalid_ratelimit"),
    DROP(SF_R_ACCEPT_QUEUE_FULL_ACK, "accept_queue_full_ack",
         "ACK in SYN_RCVD dropped: accept queue full", "Linux (a listen overflow)"),
    DROP(SF_R_LAND, "land", "SYN from this address and port to itself (LAND): dropped",
         "RFC 9293 §3.10.7.2 (no peer sends it)"),
    /* sending */
    DROP(SF_R_QUIET_TIME, "quiet_time", "quiet time (RFC 9293 §3.4.3): not sent",
         "RFC 9293 §3.4.3"),
    NOTE(SF_R_CC_FAST_RETRANSMIT, "cc_fast_retransmit", "fast retransmit: the window cut",
         "RFC 5681 §3.2, RFC 6582 §3.2, RFC 9438 §4.6"),
    NOTE(SF_R_CC_RECOVERED, "cc_recovered", "recovery over: the window deflated",
         "RFC 6582 §3.2 (3)"),
    NOTE(SF_R_CC_RTO, "cc_rto", "retransmission timeout: the window one segment",
         "RFC 5681 §3.1, RFC 6298 §5"),
    NOTE(SF_R_CC_ECN, "cc_ecn", "ECN-Echo: the window cut", "RFC 3168 §6.1.2"),
};

const sf_reason_info *sf_reason_get(sf_reason r)
{
    if ((unsigned)r >= SF_R_COUNT || !table[r].name) r = SF_R_NONE;
    return &table[r];
}

const char *sf_reason_text(sf_reason r)
{
    return sf_reason_get(r)->text;
}

sf_reason sf_reason_of_text(const char *text)
{
    for (int r = 0; r < SF_R_COUNT; r++)
        if (table[r].text == text) return (sf_reason)r;
    return SF_R_NONE;
}
