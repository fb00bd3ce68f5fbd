/* test_trace.c - the trace (core/trace.c): relative numbers (sf_trace_number)
 * and the record limit, as traces of records. */
#include "../../core/trace.h"
#include "check.h"

#include <stdio.h>
#include <string.h>

static long seg(sf_trace *t, uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport,
                uint8_t flags, uint32_t seq, uint32_t ack, int8_t wscale)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = sf_addr_v4(saddr);
    s.daddr = sf_addr_v4(daddr);
    s.sport = sport;
    s.dport = dport;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.wscale = wscale;
    return sf_trace_seg(t, 0, &s);
}

static void state(sf_trace *t, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                  sf_state new_state)
{
    long i = sf_trace_add(t, SF_TR_STATE, 0);
    sf_trace_rec *r = sf_trace_at(t, i);
    r->saddr = sf_addr_v4(laddr);
    r->sport = lport;
    r->daddr = sf_addr_v4(raddr);
    r->dport = rport;
    r->new_state = (int8_t)new_state;
}

enum { A = 0xc0000201u, B = 0xc0000202u };

/* A handshake, data, a close, and the same ports again: the second SYN
 * starts new numbers only once the first connection has closed. */
static void test_relative_numbers(void)
{
    sf_trace t;
    sf_trace_init(&t);
    long syn = seg(&t, A, 1000, B, 80, SF_SYN, 5000, 0, 7);
    long synack = seg(&t, B, 80, A, 1000, SF_SYN | SF_ACK, 9000, 5001, 2);
    long ack = seg(&t, A, 1000, B, 80, SF_ACK, 5001, 9001, -1);
    long resyn = seg(&t, A, 1000, B, 80, SF_SYN, 123, 0, -1); /* into an open flow */
    state(&t, A, 1000, B, 80, SF_CLOSED);
    long syn2 = seg(&t, A, 1000, B, 80, SF_SYN, 777, 0, -1);
    CHECK(sf_trace_number(&t) == 0);
    CHECK(sf_trace_at(&t, syn)->rel_seq == 0 && sf_trace_at(&t, syn)->win_shift == -1);
    CHECK(sf_trace_at(&t, synack)->rel_seq == 0 && sf_trace_at(&t, synack)->rel_ack == 1);
    CHECK(sf_trace_at(&t, ack)->rel_seq == 1 && sf_trace_at(&t, ack)->rel_ack == 1);
    CHECK(sf_trace_at(&t, ack)->win_shift == 7); /* its sender's SYN said 7, both had one */
    CHECK(sf_trace_at(&t, resyn)->rel_seq == (uint32_t)(123 - 5000)); /* not renumbered */
    CHECK(sf_trace_at(&t, syn2)->rel_seq == 0);
    uint32_t isn = 0;
    CHECK(sf_trace_isn(&t, sf_addr_v4(A), 1000, sf_addr_v4(B), 80, &isn) && isn == 777);
    CHECK(!sf_trace_isn(&t, sf_addr_v4(A), 1001, sf_addr_v4(B), 80, &isn));
    sf_trace_free(&t);
}

/* With a limit of 100, 10,000 notes leave the last ones, their texts right;
 * indices stay; memory stays bounded. */
static void test_limit(void)
{
    sf_trace t;
    sf_trace_init(&t);
    sf_trace_set_limit(&t, 100);
    char text[32];
    for (int i = 0; i < 10000; i++) {
        long k = sf_trace_add(&t, SF_TR_NOTE, (uint64_t)i);
        CHECK(k == i);
        int n = snprintf(text, sizeof text, "note %d", i);
        sf_trace_text(&t, k, text, (size_t)n);
    }
    CHECK(t.n == 10000);
    CHECK(t.n - t.first >= 100 && t.n - t.first < 100 + 2 * SF_TRACE_CHUNK);
    CHECK(sf_trace_at(&t, 0) == NULL && sf_trace_at(&t, (long)t.first - 1) == NULL);
    CHECK(t.nchunks <= 2 && t.first % SF_TRACE_CHUNK == 0);
    CHECK(t.arena_len < 4096);
    /* a kept record's address does not move as others come */
    const sf_trace_rec *last = sf_trace_at(&t, (long)t.n - 1);
    sf_trace_add(&t, SF_TR_NOTE, 10000);
    CHECK(sf_trace_at(&t, (long)t.n - 2) == last);
    for (size_t i = t.first; i < t.n - 1; i++) {
        const sf_trace_rec *r = sf_trace_at(&t, (long)i);
        int n = snprintf(text, sizeof text, "note %zu", i);
        CHECK(r && r->time == i && r->text_len == (uint32_t)n &&
              memcmp(t.arena + r->text_off, text, (size_t)n) == 0);
    }
    sf_trace_free(&t);
}

/* With a limit, records without text (segments) past a note: the note's
 * text goes with its chunk, the arena is empty after, and a later note's
 * text is right (a drop with nothing stored looks at no record). */
static void test_limit_without_texts(void)
{
    sf_trace t;
    sf_trace_init(&t);
    sf_trace_set_limit(&t, 100);
    sf_trace_text(&t, sf_trace_add(&t, SF_TR_NOTE, 0), "first", 5);
    for (int i = 1; i < 10000; i++)
        CHECK(sf_trace_add(&t, SF_TR_SEG, (uint64_t)i) == i);
    CHECK(t.arena_len == 0 && sf_trace_at(&t, 0) == NULL);
    long k = sf_trace_add(&t, SF_TR_NOTE, 10000);
    sf_trace_text(&t, k, "later", 5);
    for (int i = 0; i < 300; i++) /* a chunk older than the note's goes */
        sf_trace_add(&t, SF_TR_SEG, (uint64_t)(10001 + i));
    const sf_trace_rec *r = sf_trace_at(&t, k);
    CHECK(r && r->text_len == 5 && memcmp(t.arena + r->text_off, "later", 5) == 0);
    sf_trace_free(&t);

    /* a note every 150 records among segments, a limit of 300: each kept
     * note keeps its text */
    sf_trace_init(&t);
    sf_trace_set_limit(&t, 300);
    char text[32];
    for (int i = 0; i < 20000; i++) {
        long j = sf_trace_add(&t, i % 150 ? SF_TR_SEG : SF_TR_NOTE, (uint64_t)i);
        if (i % 150 == 0) sf_trace_text(&t, j, text, (size_t)snprintf(text, sizeof text, "n%d", i));
    }
    int notes = 0;
    for (size_t i = t.first; i < t.n; i++) {
        const sf_trace_rec *q = sf_trace_at(&t, (long)i);
        if (q->kind != SF_TR_NOTE) continue;
        int n = snprintf(text, sizeof text, "n%zu", i);
        CHECK(q->text_len == (uint32_t)n && memcmp(t.arena + q->text_off, text, (size_t)n) == 0);
        notes++;
    }
    CHECK(notes >= 2);
    sf_trace_free(&t);
}

int main(void)
{
    test_relative_numbers();
    test_limit();
    test_limit_without_texts();
    return check_report("trace");
}
