/* The hook pipeline: filters matched in C (flags subset or
 * exact, state, connection, ports, after N, count N, seeded probability),
 * verdicts (the first one other than pass wins), failing hooks, removal from
 * inside a hook, counters and release callbacks. */
#include "check.h"
#include "hook.h"

#include <string.h>

/* ---- hook functions ---------------------------------------------------------- */

/* What a test hook does, and what it saw. */
typedef struct {
    sf_verdict_kind kind;
    uint64_t delay;
    int fail; /* return nonzero */
    int calls;
    uint32_t last_id;      /* ctx->hook_id when last called */
    sf_hooks *remove_from; /* remove this hook from inside its function */
    sf_hook *self;
    sf_hooks *clear_from; /* clear every hook from inside the function */
    int released;
} probe;

static int probe_fn(void *ud, const sf_hook_ctx *ctx, sf_verdict *v)
{
    probe *p = ud;
    p->calls++;
    p->last_id = ctx->hook_id;
    if (p->remove_from) {
        sf_hooks_remove(p->remove_from, p->self);
        /* removal is deferred while the pipeline runs: still here */
        p->remove_from = NULL;
    }
    if (p->clear_from) {
        sf_hooks_clear(p->clear_from);
        p->clear_from = NULL;
    }
    if (p->fail) return -1;
    v->kind = p->kind;
    v->delay = p->delay;
    return 0;
}

static void probe_release(void *ud)
{
    ((probe *)ud)->released++;
}

/* ---- segments and contexts ---------------------------------------------------- */

static sf_seg seg_with(uint8_t flags, uint16_t sport, uint16_t dport)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = sf_addr_v4(0x0a000001);
    s.daddr = sf_addr_v4(0x0a000002);
    s.sport = sport;
    s.dport = dport;
    s.flags = flags;
    s.wscale = -1;
    return s;
}

static sf_hook_ctx ctx_for(sf_dir dir, const sf_seg *s, uint32_t conn_id, int state)
{
    sf_hook_ctx c;
    memset(&c, 0, sizeof c);
    c.dir = dir;
    c.seg = s;
    c.conn_id = conn_id;
    c.state = state;
    return c;
}

/* Runs one segment through the pipeline; returns the verdict. */
static sf_verdict run(sf_hooks *h, sf_dir dir, uint8_t flags, uint32_t conn_id, int state,
                      sf_rand *rng, int *failed)
{
    sf_seg s = seg_with(flags, 1000, 80);
    sf_hook_ctx c = ctx_for(dir, &s, conn_id, state);
    return sf_hooks_run(h, &c, rng, failed);
}

/* Does a hook with this filter fire on this segment? */
static int fires(const sf_filter *f, sf_dir dir, const sf_seg *s, uint32_t conn_id, int state)
{
    uint32_t ids = 0;
    sf_hooks h = {.next_id = &ids};
    probe p = {.kind = SF_DROP};
    sf_rand rng;
    sf_rand_seed(&rng, 1);
    sf_hooks_add(&h, SF_EGRESS, f, probe_fn, &p, NULL);
    sf_hook_ctx c = ctx_for(dir, s, conn_id, state);
    sf_verdict v = sf_hooks_run(&h, &c, &rng, NULL);
    sf_hooks_clear(&h);
    return v.kind == SF_DROP && p.calls == 1;
}

/* ---- filters --------------------------------------------------------------------- */

static void test_filter_flags(void)
{
    sf_filter f;
    sf_filter_init(&f);
    /* the defaults match anything */
    CHECK(f.flags_mask == 0 && f.conn_id == 0 && f.state == -1 && f.sport == 0 && f.dport == 0);
    CHECK(f.after == 0 && f.count == 0 && f.p == 1.0);
    sf_seg fa = seg_with(SF_FIN | SF_ACK, 1, 2), f_only = seg_with(SF_FIN, 1, 2);
    sf_seg a = seg_with(SF_ACK, 1, 2), fpa = seg_with(SF_FIN | SF_PSH | SF_ACK, 1, 2);
    sf_seg none = seg_with(0, 1, 2);
    CHECK(fires(&f, SF_EGRESS, &fa, 0, -1));
    CHECK(fires(&f, SF_EGRESS, &none, 0, -1));

    /* "F": F set, the others any */
    CHECK(sf_filter_flags(&f, "F") == SF_OK);
    CHECK(fires(&f, SF_EGRESS, &fa, 0, -1));
    CHECK(fires(&f, SF_EGRESS, &f_only, 0, -1));
    CHECK(fires(&f, SF_EGRESS, &fpa, 0, -1));
    CHECK(!fires(&f, SF_EGRESS, &a, 0, -1));
    CHECK(!fires(&f, SF_EGRESS, &none, 0, -1));

    /* "=FA": exactly F and A */
    CHECK(sf_filter_flags(&f, "=FA") == SF_OK);
    CHECK(fires(&f, SF_EGRESS, &fa, 0, -1));
    CHECK(!fires(&f, SF_EGRESS, &f_only, 0, -1));
    CHECK(!fires(&f, SF_EGRESS, &fpa, 0, -1));
    CHECK(!fires(&f, SF_EGRESS, &a, 0, -1));
    /* "AF" is the same set as "FA" */
    CHECK(sf_filter_flags(&f, "=AF") == SF_OK);
    CHECK(fires(&f, SF_EGRESS, &fa, 0, -1));

    /* "=" : exactly no flags */
    CHECK(sf_filter_flags(&f, "=") == SF_OK);
    CHECK(fires(&f, SF_EGRESS, &none, 0, -1));
    CHECK(!fires(&f, SF_EGRESS, &a, 0, -1));

    /* "": any */
    CHECK(sf_filter_flags(&f, "") == SF_OK);
    CHECK(fires(&f, SF_EGRESS, &none, 0, -1));
    CHECK(fires(&f, SF_EGRESS, &fpa, 0, -1));

    /* an unknown letter is an error */
    CHECK(sf_filter_flags(&f, "Q") == SF_EINVAL);
    CHECK(sf_filter_flags(&f, "=SQ") == SF_EINVAL);

    /* a hook sees its own direction only */
    sf_filter_init(&f);
    CHECK(!fires(&f, SF_INGRESS, &fa, 0, -1));
}

static void test_filter_fields(void)
{
    sf_filter f;
    sf_seg s = seg_with(SF_ACK, 1000, 80);

    sf_filter_init(&f);
    f.state = SF_ESTABLISHED;
    CHECK(fires(&f, SF_EGRESS, &s, 5, SF_ESTABLISHED));
    CHECK(!fires(&f, SF_EGRESS, &s, 5, SF_FIN_WAIT_1));
    CHECK(!fires(&f, SF_EGRESS, &s, 0, -1)); /* no connection: no state */
    f.state = SF_CLOSED;                     /* state 0 is a real state, not "any" */
    CHECK(fires(&f, SF_EGRESS, &s, 5, SF_CLOSED));
    CHECK(!fires(&f, SF_EGRESS, &s, 5, SF_LISTEN));

    sf_filter_init(&f);
    f.conn_id = 7;
    CHECK(fires(&f, SF_EGRESS, &s, 7, SF_ESTABLISHED));
    CHECK(!fires(&f, SF_EGRESS, &s, 8, SF_ESTABLISHED));
    CHECK(!fires(&f, SF_EGRESS, &s, 0, -1));

    sf_filter_init(&f);
    f.sport = 1000;
    CHECK(fires(&f, SF_EGRESS, &s, 0, -1));
    f.sport = 1001;
    CHECK(!fires(&f, SF_EGRESS, &s, 0, -1));
    sf_filter_init(&f);
    f.dport = 80;
    CHECK(fires(&f, SF_EGRESS, &s, 0, -1));
    f.dport = 1000; /* the destination port, not either port */
    CHECK(!fires(&f, SF_EGRESS, &s, 0, -1));

    /* every field must match */
    sf_filter_init(&f);
    CHECK(sf_filter_flags(&f, "A") == SF_OK);
    f.conn_id = 3;
    f.state = SF_ESTABLISHED;
    f.sport = 1000;
    f.dport = 80;
    CHECK(fires(&f, SF_EGRESS, &s, 3, SF_ESTABLISHED));
    f.dport = 81;
    CHECK(!fires(&f, SF_EGRESS, &s, 3, SF_ESTABLISHED));
}

static void test_after_and_count(void)
{
    uint32_t ids = 0;
    sf_hooks h = {.next_id = &ids};
    sf_rand rng;
    sf_rand_seed(&rng, 1);

    /* after 2: the first two matches pass, then it fires */
    sf_filter f;
    sf_filter_init(&f);
    f.after = 2;
    probe p = {.kind = SF_DROP};
    sf_hook *k = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &p, NULL);
    CHECK(run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL).kind == SF_PASS);
    CHECK(run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL).kind == SF_PASS);
    CHECK(run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL).kind == SF_DROP);
    CHECK(run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL).kind == SF_DROP);
    CHECK(p.calls == 2);
    CHECK(k->matched == 4 && k->fired == 2 && k->dropped == 2);
    sf_hooks_clear(&h);

    /* count 3: fires three times, then lets everything pass */
    sf_filter_init(&f);
    f.count = 3;
    probe q = {.kind = SF_DROP};
    k = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &q, NULL);
    int drops = 0;
    for (int i = 0; i < 10; i++)
        drops += run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL).kind == SF_DROP;
    CHECK(drops == 3);
    CHECK(q.calls == 3);
    CHECK(k->matched == 10 && k->fired == 3);
    sf_hooks_clear(&h);

    /* after 1 and count 2: the 2nd and 3rd matches; non-matching segments
     * do not count toward either */
    sf_filter_init(&f);
    CHECK(sf_filter_flags(&f, "S") == SF_OK);
    f.after = 1;
    f.count = 2;
    probe r = {.kind = SF_DROP};
    k = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &r, NULL);
    static const uint8_t flags[] = {SF_SYN, SF_ACK, SF_SYN, SF_ACK, SF_SYN, SF_SYN, SF_SYN};
    static const sf_verdict_kind want[] = {SF_PASS, SF_PASS, SF_DROP, SF_PASS,
                                           SF_DROP, SF_PASS, SF_PASS};
    int as_wanted = 1;
    for (size_t i = 0; i < sizeof flags; i++)
        if (run(&h, SF_EGRESS, flags[i], 0, -1, &rng, NULL).kind != want[i]) as_wanted = 0;
    CHECK(as_wanted);
    CHECK(k->matched == 5 && k->fired == 2 && k->dropped == 2);
    sf_hooks_clear(&h);
}

/* Draws of a hook with probability p, from a fresh generator seeded `seed`. */
static int count_fires(double p, uint64_t seed, int n, uint8_t *pattern)
{
    uint32_t ids = 0;
    sf_hooks h = {.next_id = &ids};
    sf_rand rng;
    sf_rand_seed(&rng, seed);
    sf_filter f;
    sf_filter_init(&f);
    f.p = p;
    probe pr = {.kind = SF_DROP};
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &pr, NULL);
    int fired = 0;
    for (int i = 0; i < n; i++) {
        int d = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL).kind == SF_DROP;
        if (pattern) pattern[i] = (uint8_t)d;
        fired += d;
    }
    sf_hooks_clear(&h);
    return fired;
}

static void test_probability(void)
{
    /* seeded: the same seed gives the same decisions, segment by segment */
    static uint8_t a[20000], b[20000], c[20000];
    int na = count_fires(0.3, 42, 20000, a);
    int nb = count_fires(0.3, 42, 20000, b);
    int nc = count_fires(0.3, 43, 20000, c);
    CHECK(na == nb);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0); /* another seed, other decisions */
    /* roughly right: 0.3 of 20000 is 6000, sd about 65 */
    printf("p=0.3: %d of 20000 (seed 42), %d (seed 43)\n", na, nc);
    CHECK(na > 5600 && na < 6400);
    CHECK(nc > 5600 && nc < 6400);
    int n9 = count_fires(0.9, 7, 20000, NULL);
    CHECK(n9 > 17600 && n9 < 18400);
    /* the ends */
    CHECK(count_fires(0.0, 7, 1000, NULL) == 0);
    CHECK(count_fires(1.0, 7, 1000, NULL) == 1000);

    /* p = 1 consumes no randomness: the generator is untouched */
    uint32_t ids = 0;
    sf_hooks h = {.next_id = &ids};
    sf_rand rng, ref;
    sf_rand_seed(&rng, 9);
    ref = rng;
    sf_filter f;
    sf_filter_init(&f);
    probe pr = {.kind = SF_PASS};
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &pr, NULL);
    run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL);
    CHECK(memcmp(&rng, &ref, sizeof rng) == 0);
    sf_hooks_clear(&h);
}

/* ---- verdicts ---------------------------------------------------------------------- */

static void test_first_verdict_wins(void)
{
    uint32_t ids = 0;
    sf_hooks h = {.next_id = &ids};
    sf_rand rng;
    sf_rand_seed(&rng, 1);
    sf_filter f;
    sf_filter_init(&f);
    probe pass = {.kind = SF_PASS}, delay = {.kind = SF_DELAY, .delay = 5000},
          drop = {.kind = SF_DROP};
    sf_hook *k1 = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &pass, NULL);
    sf_hook *k2 = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &delay, NULL);
    sf_hook *k3 = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &drop, NULL);
    /* ids are unique and increasing, shared through next_id */
    CHECK(k1->id == 1 && k2->id == 2 && k3->id == 3 && ids == 3);
    CHECK(sf_hooks_find(&h, 2) == k2);
    CHECK(sf_hooks_find(&h, 4) == NULL);

    /* in the order added: pass goes on, delay decides, drop never runs */
    sf_verdict v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL);
    CHECK(v.kind == SF_DELAY && v.delay == 5000 && v.hook_id == k2->id);
    CHECK(pass.calls == 1 && delay.calls == 1 && drop.calls == 0);
    CHECK(pass.last_id == k1->id && delay.last_id == k2->id); /* each saw its own id */
    CHECK(k1->fired == 1 && k2->fired == 1 && k2->delayed == 1 && k3->fired == 0);
    CHECK(k3->matched == 0); /* not even matched: the run ended before it */

    /* without the delay hook, the drop decides */
    sf_hooks_remove(&h, k2);
    CHECK(sf_hooks_find(&h, 2) == NULL);
    v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL);
    CHECK(v.kind == SF_DROP && v.hook_id == k3->id && v.delay == 0);
    CHECK(k3->dropped == 1);

    /* nothing matches: pass, hook id 0 */
    sf_hooks_clear(&h);
    v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL);
    CHECK(v.kind == SF_PASS && v.hook_id == 0);
    CHECK(h.head == NULL);
}

static void test_failing_hook(void)
{
    uint32_t ids = 0;
    sf_hooks h = {.next_id = &ids};
    sf_rand rng;
    sf_rand_seed(&rng, 1);
    sf_filter f;
    sf_filter_init(&f);
    /* a failing hook that asks for a drop: the failure wins, the segment
     * passes unchanged and the failure is counted */
    probe bad = {.kind = SF_DROP, .fail = 1}, later = {.kind = SF_PASS};
    sf_hook *kb = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &bad, NULL);
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &later, NULL);
    int failed = 0;
    sf_verdict v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, &failed);
    CHECK(v.kind == SF_PASS && v.hook_id == 0);
    CHECK(failed == 1);
    CHECK(kb->dropped == 0);
    CHECK(later.calls == 1); /* the hooks after it still run */
    v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, &failed);
    CHECK(failed == 2);
    /* a NULL failure counter is allowed */
    v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL);
    CHECK(v.kind == SF_PASS);
    sf_hooks_clear(&h);
}

/* ---- lifetime ----------------------------------------------------------------------- */

static void test_remove_inside_fn(void)
{
    uint32_t ids = 0;
    sf_hooks h = {.next_id = &ids};
    sf_rand rng;
    sf_rand_seed(&rng, 1);
    sf_filter f;
    sf_filter_init(&f);
    probe first = {.kind = SF_PASS}, self = {.kind = SF_DROP}, after = {.kind = SF_PASS};
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &first, probe_release);
    self.self = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &self, probe_release);
    self.remove_from = &h;
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &after, probe_release);

    /* the hook removes itself and still returns its verdict: freeing is
     * deferred to the end of the run (ASan would see a use after free) */
    sf_verdict v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL);
    CHECK(v.kind == SF_DROP);
    CHECK(self.calls == 1);
    CHECK(self.released == 1); /* freed once the run ended */
    CHECK(first.released == 0 && after.released == 0);
    /* gone: the next segment passes and reaches the hook after it */
    v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL);
    CHECK(v.kind == SF_PASS);
    CHECK(self.calls == 1 && after.calls == 1);
    CHECK(h.running == 0);

    /* a hook that removes itself and fails */
    probe failing = {.kind = SF_DROP, .fail = 1};
    failing.self = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &failing, probe_release);
    failing.remove_from = &h;
    int failed = 0;
    v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, &failed);
    CHECK(v.kind == SF_PASS && failed == 1 && failing.released == 1);

    /* a hook that removes another one: that one is skipped for the rest of
     * the run, then freed */
    probe remover = {.kind = SF_PASS}, victim = {.kind = SF_DROP};
    remover.self = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &remover, probe_release);
    victim.self = sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &victim, probe_release);
    remover.remove_from = &h;
    remover.self = victim.self; /* probe_fn removes p->self */
    v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL);
    CHECK(v.kind == SF_PASS);
    CHECK(victim.calls == 0 && victim.released == 1 && remover.released == 0);

    /* clear releases every remaining hook exactly once */
    sf_hooks_clear(&h);
    CHECK(first.released == 1 && after.released == 1 && self.released == 1);
    CHECK(remover.released == 1 && victim.released == 1);
    CHECK(h.head == NULL);

    /* a hook that clears every hook from inside its function: the hooks
     * after it do not run, and all are released once the run ends */
    probe a = {.kind = SF_PASS}, clearer = {.kind = SF_PASS}, b = {.kind = SF_DROP};
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &a, probe_release);
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &clearer, probe_release);
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &b, probe_release);
    clearer.clear_from = &h;
    v = run(&h, SF_EGRESS, SF_ACK, 0, -1, &rng, NULL);
    CHECK(v.kind == SF_PASS);
    CHECK(a.calls == 1 && clearer.calls == 1 && b.calls == 0);
    CHECK(a.released == 1 && clearer.released == 1 && b.released == 1);
    CHECK(h.head == NULL && h.running == 0);
}

static void test_release_and_counters(void)
{
    uint32_t ids = 100; /* ids continue from the shared counter */
    sf_hooks h = {.next_id = &ids};
    sf_rand rng;
    sf_rand_seed(&rng, 1);
    sf_filter f;
    sf_filter_init(&f);
    CHECK(sf_filter_flags(&f, "S") == SF_OK);
    probe d = {.kind = SF_DELAY, .delay = 250};
    sf_hook *k = sf_hooks_add(&h, SF_INGRESS, &f, probe_fn, &d, probe_release);
    CHECK(k->id == 101);
    CHECK(k->dir == SF_INGRESS);
    for (int i = 0; i < 4; i++)
        run(&h, SF_INGRESS, SF_SYN, 0, -1, &rng, NULL);
    for (int i = 0; i < 3; i++)
        run(&h, SF_INGRESS, SF_ACK, 0, -1, &rng, NULL);
    for (int i = 0; i < 2; i++)
        run(&h, SF_EGRESS, SF_SYN, 0, -1, &rng, NULL);
    CHECK(k->matched == 4 && k->fired == 4 && k->delayed == 4 && k->dropped == 0);
    /* a hook that passes counts as fired, neither dropped nor delayed */
    d.kind = SF_PASS;
    run(&h, SF_INGRESS, SF_SYN, 0, -1, &rng, NULL);
    CHECK(k->matched == 5 && k->fired == 5 && k->delayed == 4);

    /* removal outside a run frees at once and calls release once */
    sf_hooks_remove(&h, k);
    CHECK(d.released == 1);
    CHECK(h.head == NULL);

    /* hooks without a release function are fine */
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &d, NULL);
    sf_hooks_add(&h, SF_EGRESS, &f, probe_fn, &d, probe_release);
    sf_hooks_clear(&h);
    CHECK(d.released == 2);
    sf_hooks_clear(&h); /* clearing an empty list */
    CHECK(h.head == NULL);
}

int main(void)
{
    test_filter_flags();
    test_filter_fields();
    test_after_and_count();
    test_probability();
    test_first_verdict_wins();
    test_failing_hook();
    test_remove_inside_fn();
    test_release_and_counters();
    return check_report("hook");
}
