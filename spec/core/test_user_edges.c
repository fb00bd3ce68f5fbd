/* User calls at their edges, found by fuzz_stack (spec/fuzz): CLOSE with
 * data is all or nothing, and forgetting a listener takes its children
 * with it, so that none points at a freed listener. Two sim hosts. */
#include "check.h"
#include "io/sim.h"

#include <stdbool.h>
#include <string.h>

#define SEC    1000000ULL
#define ADDR_A sf_addr_v4(0x0a000001u)
#define ADDR_B sf_addr_v4(0x0a000002u)
#define ADDR_P sf_addr_v4(0x0a000003u) /* a bare peer */

static void run_until(sf_sim *sim, uint64_t t)
{
    while (sf_sim_step(sim, t)) {
    }
}

static sf_sim *two_hosts(int *a, int *b, uint32_t snd_buf)
{
    sf_sim *sim = sf_sim_new(7);
    sf_link link = {.latency = 5000, .loss = 0};
    sf_sim_set_link(sim, &link);
    sf_config cfg;
    sf_config_default(&cfg);
    cfg.policy.snd_buf = snd_buf;
    *a = sf_sim_add_host(sim, (sf_addr[]){ADDR_A}, 1, &cfg);
    cfg.secret[0] ^= 0x5a;
    *b = sf_sim_add_host(sim, (sf_addr[]){ADDR_B}, 1, &cfg);
    return sim;
}

/* A SYN to host B's port 80 from saddr:sport, as a bare peer crafts it. */
static sf_seg syn_to_b(sf_addr saddr, uint16_t sport)
{
    sf_seg syn;
    memset(&syn, 0, sizeof syn);
    syn.saddr = saddr;
    syn.daddr = ADDR_B;
    syn.sport = sport;
    syn.dport = 80;
    syn.seq = 1000;
    syn.flags = SF_SYN;
    syn.wnd = 65535;
    syn.ttl = 64;
    syn.wscale = -1;
    return syn;
}

/* sf_close_with(data larger than the send buffer's room): SF_EAGAIN and
 * nothing queued, so a retry with what fits sends each byte once. */
static void test_close_with_all_or_nothing(void)
{
    int a, b, err;
    sf_sim *sim = two_hosts(&a, &b, 100);
    sf_stack *sa = sf_sim_stack(sim, a), *sb = sf_sim_stack(sim, b);
    sf_conn *l = sf_listen(sb, 0, 80, 0, NULL, &err);
    sf_conn *c = sf_connect(sa, 0, NULL, ADDR_B, 80, 0, NULL, &err);
    sf_sim_flush(sim, a);
    run_until(sim, 1 * SEC);
    CHECK(sf_conn_state(c) == SF_ESTABLISHED);
    sf_conn *s = sf_accept(l);
    CHECK(s != NULL);

    char big[280], small[100];
    memset(big, 'x', sizeof big);
    memset(small, 'y', sizeof small);
    uint64_t now = sf_sim_now(sim);
    CHECK(sf_close_with(c, now, big, sizeof big) == SF_EAGAIN);
    sf_conn_info info;
    sf_conn_status(c, &info);
    CHECK(info.snd_queued == 0);               /* nothing of it queued */
    CHECK(sf_conn_state(c) == SF_ESTABLISHED); /* and no FIN */
    CHECK(sf_close_with(c, now, small, sizeof small) == SF_OK);
    sf_sim_flush(sim, a);
    run_until(sim, 2 * SEC);
    char got[400];
    int n = sf_recv(s, sf_sim_now(sim), got, sizeof got);
    CHECK(n == 100);
    CHECK(n == 100 && memcmp(got, small, 100) == 0);
    CHECK(sf_recv(s, sf_sim_now(sim), got, sizeof got) == 0); /* then the FIN */
    sf_conn_release(s);
    sf_conn_release(c);
    sf_conn_release(l);
    sf_sim_free(sim);
}

/* sf_forget on a listener with a half-open child: the child goes with it,
 * silently; released, the listener is freed, and the child's SYN-ACK
 * retries never run against it (ASan: heap-use-after-free before). */
static void test_forget_listener_takes_children(void)
{
    int a, b, err;
    sf_sim *sim = two_hosts(&a, &b, 65536);
    int p = sf_sim_add_host(sim, (sf_addr[]){ADDR_P}, 1, NULL);
    sf_stack *sb = sf_sim_stack(sim, b);
    sf_conn *l = sf_listen(sb, 0, 80, 0, NULL, &err);
    sf_seg syn = syn_to_b(ADDR_P, 5555);
    CHECK(sf_sim_inject(sim, p, SF_EGRESS, &syn) == 0);
    run_until(sim, SEC / 2);
    CHECK(sf_stack_conn_count(sb) == 1); /* the child, in SYN_RCVD */
    CHECK(sf_forget(l, sf_sim_now(sim)) == SF_OK);
    CHECK(sf_stack_conn_count(sb) == 0);
    sf_conn_release(l);
    run_until(sim, 300 * SEC); /* every SYN-ACK retry the child would have made */
    CHECK(sf_stack_conn_count(sb) == 0);
    sf_sim_free(sim);
}

/* A SYN from the listener's own address and port (LAND), forged by a peer:
 * dropped, no child (found by fuzz_stack: the child answered itself for ever). */
static void test_land_syn_dropped(void)
{
    int a, b, err;
    sf_sim *sim = two_hosts(&a, &b, 65536);
    int p = sf_sim_add_host(sim, (sf_addr[]){ADDR_P}, 1, NULL);
    sf_stack *sb = sf_sim_stack(sim, b);
    sf_conn *l = sf_listen(sb, 0, 80, 0, NULL, &err);
    sf_seg syn = syn_to_b(ADDR_B, 80); /* forged: B's own address and port */
    CHECK(sf_sim_inject(sim, p, SF_EGRESS, &syn) == 0);
    run_until(sim, 5 * SEC);
    CHECK(sf_stack_conn_count(sb) == 0);
    sf_trace *t = sf_sim_trace(sim);
    size_t segs = 0, land = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (sf_trace_at(t, (long)i)->kind == SF_TR_SEG) segs++;
        if (sf_trace_at(t, (long)i)->reason == SF_R_LAND) land++;
    }
    CHECK(land == 1);
    CHECK(segs == 1); /* the forged SYN alone: nothing answered it */
    sf_conn_release(l);
    sf_sim_free(sim);
}

int main(void)
{
    test_close_with_all_or_nothing();
    test_forget_listener_takes_children();
    test_land_syn_dropped();
    return check_report("user_edges");
}
