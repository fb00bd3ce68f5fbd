/* test_match.c - expectations' matcher (core/match.c) over a trace: a
 * handshake, data and a dropped segment, then patterns walked forwards and
 * backwards, with and without consumed records, and values no segment can
 * have. */
#include "../../core/match.h"
#include "check.h"

#include <string.h>

enum { A = 0xc0000201u, B = 0xc0000202u, ISN_A = 1000, ISN_B = 5000 };

/* A segment record from host `from` (0: A, 1: B) to the other. */
static long seg(sf_trace *t, int from, uint8_t flags, uint32_t seq, uint32_t ack,
                const char *payload)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = sf_addr_v4(from ? B : A);
    s.daddr = sf_addr_v4(from ? A : B);
    s.sport = from ? 80 : 40000;
    s.dport = from ? 40000 : 80;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.wnd = 65535;
    s.wscale = -1;
    s.mss = (flags & SF_SYN) ? 1460 : 0;
    s.payload = (const uint8_t *)payload;
    s.len = payload ? (uint32_t)strlen(payload) : 0;
    long i = sf_trace_seg(t, 0, &s);
    sf_trace_rec *r = sf_trace_at(t, i);
    r->host = (uint16_t)from;
    r->to_host = (uint16_t)!from;
    r->conn_id = 1;
    return i;
}

static sf_pattern flags(const char *letters)
{
    sf_pattern p = {0};
    CHECK(sf_pattern_flags(&p, letters) == 0);
    return p;
}

/*  0  A > B  S    seq 0
 *  1  B > A  SA   seq 0 ack 1
 *  2  A > B  A    seq 1 ack 1
 *  3  A > B  PA   seq 1 ack 1 "hello"    (dropped by an egress hook)
 *  4  A > B  PA   seq 1 ack 1 "hello"
 *  5  B > A  A    seq 1 ack 6
 *  6  A > B  FA   seq 6 ack 1 */
static void trace(sf_trace *t)
{
    sf_trace_init(t);
    seg(t, 0, SF_SYN, ISN_A, 0, NULL);
    seg(t, 1, SF_SYN | SF_ACK, ISN_B, ISN_A + 1, NULL);
    seg(t, 0, SF_ACK, ISN_A + 1, ISN_B + 1, NULL);
    long dropped = seg(t, 0, SF_PSH | SF_ACK, ISN_A + 1, ISN_B + 1, "hello");
    sf_trace_at(t, dropped)->fate = SF_FATE_DROPPED_EGRESS;
    seg(t, 0, SF_PSH | SF_ACK, ISN_A + 1, ISN_B + 1, "hello");
    seg(t, 1, SF_ACK, ISN_B + 1, ISN_A + 6, NULL);
    seg(t, 0, SF_FIN | SF_ACK, ISN_A + 6, ISN_B + 1, NULL);
}

static void test_flags(void)
{
    sf_trace t;
    trace(&t);
    sf_pattern at_least_a = flags("A"), exactly_a = flags("=A"), none = flags("=");
    CHECK(sf_match_next(&t, 0, &at_least_a, SF_MATCH_ANY) == 1); /* SA has A */
    CHECK(sf_match_next(&t, 0, &exactly_a, SF_MATCH_ANY) == 2);
    CHECK(sf_match_next(&t, 0, &none, SF_MATCH_ANY) == -1);
    sf_pattern bad = {0};
    CHECK(sf_pattern_flags(&bad, "SX") == -1 && bad.tests == 0);
    CHECK(sf_pattern_flags(&bad, "SFRPAUEC") == 0 && bad.flags_set == 0xff);
    sf_trace_free(&t);
}

/* seq and ack are relative to the ISNs, as the ladder shows them; abs_
 * as on the wire */
static void test_numbers(void)
{
    sf_trace t;
    trace(&t);
    sf_pattern p = {.tests = SF_PAT_SEQ | SF_PAT_ACK, .seq = 6, .ack = 1};
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == 6);
    p = (sf_pattern){.tests = SF_PAT_ABS_SEQ, .abs_seq = ISN_A + 6};
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == 6);
    p = (sf_pattern){.tests = SF_PAT_FROM | SF_PAT_ACK, .from = 1, .ack = 6};
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == 5);
    p = (sf_pattern){.tests = SF_PAT_MSS, .mss = 1460};
    CHECK(sf_match_next(&t, 1, &p, SF_MATCH_ANY) == 1);
    CHECK(sf_match_next(&t, 2, &p, SF_MATCH_ANY) == -1); /* no option: never equal */
    p = (sf_pattern){.tests = SF_PAT_N, .n = 2};
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == 1);
    /* values no segment has match nothing, and wrap nowhere */
    p = (sf_pattern){.tests = SF_PAT_WIN, .win = 65535 + 65536};
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == -1);
    p = (sf_pattern){.tests = SF_PAT_SEQ, .seq = -1};
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == -1);
    p = (sf_pattern){.tests = SF_PAT_FROM, .from = -1}; /* an address no host has */
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == -1);
    sf_trace_free(&t);
}

/* a segment an egress hook dropped never reached the wire: no pattern
 * matches it; the payload compared is the bytes the trace kept */
static void test_wire_and_payload(void)
{
    sf_trace t;
    trace(&t);
    sf_pattern p = {.tests = SF_PAT_PAYLOAD, .payload = (const uint8_t *)"hello", .payload_len = 5};
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == 4);
    p.payload_len = 4; /* "hell": not the whole payload */
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == -1);
    p = (sf_pattern){.tests = SF_PAT_LEN | SF_PAT_INJECTED, .len = 5, .injected = false};
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == 4);
    p.injected = true;
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == -1);
    p = (sf_pattern){.tests = SF_PAT_CONN, .conn_id = 1, .conn_host = 1}; /* B's own */
    CHECK(sf_match_next(&t, 0, &p, SF_MATCH_ANY) == 1);
    CHECK(sf_match_prev(&t, 7, &p, SF_MATCH_ANY) == 5);
    sf_trace_free(&t);
}

/* consumed records are skipped by expectations' walks, seen by the rest */
static void test_consumed(void)
{
    sf_trace t;
    trace(&t);
    sf_pattern from_a = {.tests = SF_PAT_FROM, .from = 0};
    long first = sf_match_next(&t, 0, &from_a, SF_MATCH_UNCONSUMED);
    CHECK(first == 0);
    sf_trace_at(&t, first)->consumed = 1;
    CHECK(sf_match_next(&t, 0, &from_a, SF_MATCH_UNCONSUMED) == 2);
    CHECK(sf_match_next(&t, 0, &from_a, SF_MATCH_ANY) == 0);
    CHECK(sf_match_prev(&t, 2, &from_a, SF_MATCH_UNCONSUMED) == -1);
    CHECK(sf_match_prev(&t, 2, &from_a, SF_MATCH_ANY) == 0);
    CHECK(sf_match_prev(&t, 0, &from_a, SF_MATCH_ANY) == -1);   /* nothing before the first */
    CHECK(sf_match_next(&t, 100, &from_a, SF_MATCH_ANY) == -1); /* past the end */
    sf_trace_free(&t);
}

/* with a record limit, walks start at the oldest record kept */
static void test_limit(void)
{
    sf_trace t;
    sf_trace_init(&t);
    sf_trace_set_limit(&t, 1);
    for (int i = 0; i < 3 * SF_TRACE_CHUNK; i++)
        seg(&t, 0, SF_ACK, ISN_A + 1 + (uint32_t)i, ISN_B + 1, NULL);
    CHECK(t.first > 0);
    sf_pattern any = flags("A");
    CHECK(sf_match_next(&t, 0, &any, SF_MATCH_ANY) == (long)t.first);
    CHECK(sf_match_prev(&t, t.first, &any, SF_MATCH_ANY) == -1);
    sf_trace_free(&t);
}

int main(void)
{
    test_flags();
    test_numbers();
    test_wire_and_payload();
    test_consumed();
    test_limit();
    return check_report("match");
}
