/* hook.c - filters and the verdict pipeline (see hook.h). */
#include "hook.h"

#include <stdlib.h>
#include <string.h>

void sf_filter_init(sf_filter *f)
{
    memset(f, 0, sizeof *f);
    f->state = -1;
    f->p = 1.0;
}

int sf_filter_flags(sf_filter *f, const char *pattern)
{
    bool exact = pattern[0] == '=';
    int flags = sf_flags_parse(exact ? pattern + 1 : pattern);
    if (flags < 0) return SF_EINVAL;
    f->flags_mask = exact ? 0xff : (uint8_t)flags;
    f->flags_value = (uint8_t)flags;
    return SF_OK;
}

sf_hook *sf_hooks_add(sf_hooks *h, sf_dir dir, const sf_filter *f, sf_hook_fn fn, void *ud,
                      void (*release)(void *ud))
{
    sf_hook *hook = calloc(1, sizeof *hook);
    if (!hook) return NULL;
    hook->id = ++*h->next_id;
    hook->dir = dir;
    hook->filter = *f;
    hook->fn = fn;
    hook->ud = ud;
    hook->release = release;
    sf_hook **at = &h->head;
    while (*at)
        at = &(*at)->next;
    *at = hook;
    return hook;
}

sf_hook *sf_hooks_find(sf_hooks *h, uint32_t id)
{
    for (sf_hook *k = h->head; k; k = k->next)
        if (k->id == id && !k->removed) return k;
    return NULL;
}

static void hook_free(sf_hook *k)
{
    if (k->release) k->release(k->ud);
    free(k);
}

/* Frees removed hooks; only outside a run, so a hook may remove itself. */
static void sweep(sf_hooks *h)
{
    if (h->running) return;
    for (sf_hook **at = &h->head; *at;) {
        sf_hook *k = *at;
        if (k->removed) {
            *at = k->next;
            hook_free(k);
        } else {
            at = &k->next;
        }
    }
}

void sf_hooks_remove(sf_hooks *h, sf_hook *hook)
{
    hook->removed = true;
    sweep(h);
}

void sf_hooks_clear(sf_hooks *h)
{
    for (sf_hook *k = h->head; k; k = k->next)
        k->removed = true;
    sweep(h);
}

static bool filter_match(const sf_filter *f, const sf_hook_ctx *ctx)
{
    const sf_seg *s = ctx->seg;
    if ((s->flags & f->flags_mask) != f->flags_value) return false;
    if (f->conn_id && f->conn_id != ctx->conn_id) return false;
    if (f->state >= 0 && f->state != ctx->state) return false;
    if (f->sport && f->sport != s->sport) return false;
    if (f->dport && f->dport != s->dport) return false;
    return true;
}

sf_verdict sf_hooks_run(sf_hooks *h, sf_hook_ctx *ctx, sf_rand *rng, int *failed)
{
    sf_verdict v = {.kind = SF_PASS};
    /* a hook added by one of these (ids only grow) waits for the next
     * segment: a hook that adds a hook would otherwise run forever on this one */
    uint32_t newest = *h->next_id;
    h->running++;
    for (sf_hook *k = h->head; k; k = k->next) {
        if (k->removed || k->id > newest) continue;
        if (k->dir != ctx->dir || !filter_match(&k->filter, ctx)) continue;
        if (k->match) {
            ctx->hook_id = k->id;
            int m = k->match(k->ud, ctx);
            if (m < 0 && failed) (*failed)++;
            if (m <= 0) continue;
        }
        k->matched++;
        if (k->matched <= k->filter.after) continue;
        if (k->filter.count && k->fired >= k->filter.count) continue;
        if (k->filter.p < 1.0 && sf_rand_unit(rng) >= k->filter.p) continue;
        k->fired++;
        sf_verdict out = {.kind = SF_PASS};
        ctx->hook_id = k->id;
        if (k->fn(k->ud, ctx, &out) != 0) {
            if (failed) (*failed)++;
            continue; /* a failed hook lets the segment pass unchanged */
        }
        if (out.kind == SF_DROP || out.kind == SF_ANSWER) k->dropped++;
        if (out.kind == SF_DELAY) k->delayed++;
        if (out.kind == SF_REPLACE) k->replaced++;
        if (out.kind == SF_DUP) k->duplicated++;
        if (out.kind != SF_PASS) {
            v = out;
            v.hook_id = k->id;
            break;
        }
    }
    h->running--;
    sweep(h);
    return v;
}
