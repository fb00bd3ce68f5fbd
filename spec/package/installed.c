/* installed.c - compiled by install_test.sh against an installed synfin
 * (`pkg-config --cflags --libs synfin`): the public header and the sim
 * driver's headers include as <synfin/...>, the library links, and a
 * connection on the sim goes from connect to CLOSED. */
#include <synfin/hook.h>
#include <synfin/io/sim.h>
#include <synfin/rand.h>
#include <synfin/synfin.h>
#include <synfin/trace.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    sf_sim *sim = sf_sim_new(42);
    sf_config cfg;
    sf_config_default(&cfg);
    int a = sf_sim_add_host(sim, (sf_addr[]){sf_addr_v4(0xc0000201u)}, 1, &cfg); /* 192.0.2.1 */
    int b = sf_sim_add_host(sim, (sf_addr[]){sf_addr_v4(0xc0000202u)}, 1, &cfg); /* 192.0.2.2 */
    int err = 0;
    sf_conn *l = sf_listen(sf_sim_stack(sim, b), 0, 80, 0, NULL, &err);
    sf_sim_flush(sim, b);
    sf_conn *c =
        sf_connect(sf_sim_stack(sim, a), 0, NULL, sf_addr_v4(0xc0000202u), 80, 0, NULL, &err);
    sf_sim_flush(sim, a);
    int ok = a >= 0 && b >= 0 && l && c;
    sf_conn *s = NULL;
    int closed = 0;
    while (ok && sf_sim_step(sim, UINT64_MAX)) {
        if (!s) s = sf_accept(l);
        if (!closed && s && sf_conn_state(c) == SF_ESTABLISHED) {
            /* both close at once: the simultaneous close, through CLOSING */
            ok = sf_close(c, sf_sim_now(sim)) == SF_OK && sf_close(s, sf_sim_now(sim)) == SF_OK;
            sf_sim_flush(sim, a);
            sf_sim_flush(sim, b);
            closed = 1;
        }
    }
    ok = ok && closed && sf_conn_state(c) == SF_CLOSED && sf_conn_state(s) == SF_CLOSED &&
         sf_sim_trace(sim)->segs > 0;
    const sf_trace *t = sf_sim_trace(sim);
    unsigned delivered = 0;
    for (size_t i = t->first; i < t->n; i++)
        delivered += sf_trace_at(t, (long)i)->kind == SF_TR_SEG &&
                     sf_trace_at(t, (long)i)->fate == SF_FATE_DELIVERED;
    printf("synfin %s: %s after %u segments, %u %s\n", SF_VERSION,
           ok ? sf_state_name(sf_conn_state(c)) : "?", ok ? t->segs : 0, delivered,
           sf_fate_name(SF_FATE_DELIVERED));
    ok = ok && sf_sim_print_trace(sim, stdout) == 0;
    sf_sim_free(sim);
    return ok ? 0 : 1;
}
