/* lsynfin.h - what the files of the Lua module synfin.core share: the
 * net's userdata and the views of segments and records (lview.c). */
#ifndef LSYNFIN_H
#define LSYNFIN_H

#include "../core/hook.h"
#include "../core/io/raw.h"
#include "../core/io/sim.h"
#include "../core/io/tun.h"
#include "../core/synfin.h"
#include "../core/trace.h"

#include <lua.h>

#define SIM_MT         "synfin.sim"
#define CONN_MT        "synfin.conn"
#define SF_HOOK_PACKET 65600 /* the largest packet a hook may build */

/* What the nets of one Lua state share (a userdata in its registry, made
 * when synfin.core is loaded): the innermost frame of a callback that runs
 * (lsynfin.c, "callbacks"), found from a net without a registry lookup on
 * every hook call, and the serial number of the next net. */
typedef struct {
    void *top; /* struct frame *: the innermost, NULL when none */
    lua_Integer nets;
} lsf_state;

typedef struct {
    sf_sim *sim;        /* NULL once closed */
    lsf_state *state;   /* its Lua state's */
    lua_Integer serial; /* its number among that state's nets (views find it by it) */
    sf_tun *tun;        /* a real-time net on a TUN device; NULL: virtual time */
    sf_raw *raw;        /* or on an interface, through a packet socket */
    sf_rt *rt;          /* the real-time net of either; NULL: virtual time */
    uint64_t seed;
    lua_State *L;        /* the thread that is running the sim now */
    int errors;          /* registry ref of a table of hook failures */
    uint8_t *packet;     /* where a hook's replacement or answer is built */
    int busy;            /* frames of its callbacks running (see "callbacks") */
    uint64_t calls;      /* callbacks it has run (the wait loop: did Lua run in a step?) */
    double budget;       /* each callback's wall-clock seconds; 0: no limit */
    double time_limit;   /* the scenario's whole run, seconds; 0: none */
    double run_deadline; /* when it ends, on the monotonic clock; HUGE_VAL: none */
    sf_trace kept;       /* the trace, once the net is closed: its records outlive it */
} lsim;

/* The net's trace, open or closed. */
static inline sf_trace *lsf_trace(lsim *s)
{
    return s->sim ? sf_sim_trace(s->sim) : &s->kept;
}

typedef struct {
    sf_conn *c;
    lsim *s;
    int host; /* 0-based */
} lconn;

/* Pushes the address a as text: "192.0.2.1", "2001:db8::1" (RFC 5952). */
static inline void lsf_push_addr(lua_State *L, sf_addr a)
{
    char s[SF_ADDR_STRLEN];
    sf_addr_str(a, s);
    lua_pushstring(L, s);
}

/* Pushes the flags f as letters ("SA"). */
static inline void lsf_push_flags(lua_State *L, uint8_t f)
{
    char s[9];
    sf_flags_str(f, s);
    lua_pushstring(L, s);
}

/* ---- views (lview.c) ------------------------------------------------------------ */

/* Registers the views' metatables. lsf_set_seg_methods (a lua_CFunction's
 * body): the table at 1 is the Lua side's Seg (its methods: seg:with,
 * seg:reply, ...; its __tostring), which a view's other keys fall back to. */
void lsf_views_open(lua_State *L);
int lsf_set_seg_methods(lua_State *L);
/* Registers the net's userdata at idx, so that views can keep it alive. */
void lsf_register_net(lua_State *L, int idx);

/* Pushes the view of the segment a hook of net s sees (ctx): its fields are
 * read from C when asked. The payload is read in place while the hook runs;
 * lsf_seg_expire (when it returns) points the view at the trace's copy. */
void lsf_push_seg(lua_State *L, lsim *s, const sf_hook_ctx *ctx);
void lsf_seg_expire(lua_State *L, int idx);

/* sim:record(i), sim:next_record(from, kind): see lview.c */
int lsf_record(lua_State *L);
/* sim:trace_get(i): the i-th record as a table (a copy), or nil */
int lsf_trace_get(lua_State *L);
int lsf_next_record(lua_State *L);
/* sim:next_state(from, host, conn): see lview.c */
int lsf_next_state(lua_State *L);

/* ---- what lsynfin.c lends the other files ---------------------------------------- */

#define TIME_MAX_S 1e9 /* any time in seconds: about 31 years, microseconds in a uint64 */

/* The net at idx, open (raises if closed); the connection at idx, open. */
lsim *lsf_check_sim(lua_State *L, int idx);
lconn *lsf_check_conn(lua_State *L, int idx);
/* Pushes the one userdata of connection c (host: 0-based) of the net at sim_idx. */
void lsf_push_conn(lua_State *L, int sim_idx, lsim *s, int host, sf_conn *c);
/* Raises when one of the net's callbacks runs: `doing` would pull the net from under it. */
void lsf_check_not_busy(lua_State *L, lsim *s, const char *doing);
/* The callbacks' clock, monotonic seconds (coarse). */
double lsf_mono_now(void);

/* The frame of the net's scenario when it is the innermost one running (on a
 * virtual-time net), else NULL: a wait in place pauses its budget
 * (lsf_budget_stop returns the old end, lsf_budget_set puts it back) and
 * starts it anew when done (lsf_budget_restart). */
struct frame;
struct frame *lsf_scenario_frame(const lsim *s);
double lsf_budget_stop(struct frame *f);
void lsf_budget_set(struct frame *f, double end);
void lsf_budget_restart(struct frame *f);
/* Sets the callbacks' count hook on L for a drive of the clock, as sim:step
 * does (when the net has a budget or a time limit and L no hook): whether it
 * did; lsf_count_hook_off takes it away. */
bool lsf_count_hook_on(lua_State *L, const lsim *s);
void lsf_count_hook_off(lua_State *L);

/* ---- the wait loop (lwait.c) ---------------------------------------------------- */

/* Sets the net's methods drive, wait and wait_on. */
void lsf_wait_open(lua_State *L);

/* ---- patterns (lmatch.c) ---------------------------------------------------------- */

/* Sets core.pattern in the module's table at core_idx and the net's
 * methods match, match_back, match_at, consume, consumed. */
void lsf_match_open(lua_State *L, int core_idx);

#endif
