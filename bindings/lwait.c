/* lwait.c - the scheduler's wait loop in C (lua/synfin/scheduler.lua's
 * Net:_drive and Net:_block call it): sim:drive steps the clock until one of
 * the waits may be settled, and sim:wait / sim:wait_on run the wait of the
 * scenario's only actor in place, without the Lua loop, while nothing else
 * needs it. The frames and budgets they pause are lsynfin.c's ("callbacks"). */
#include "lsynfin.h"

#include <lauxlib.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What a wait of the Lua scheduler (scheduler.lua) can be woken by, when
 * the core can tell: its wait table's `wk` (and `wc`, its connection). Each
 * is true at least whenever the wait's Lua check could answer anything but
 * "not yet", so that sim:drive steps on without asking Lua while it is false:
 * - "state": a state record of the connection (c:wait reads those);
 * - "read": the connection has bytes to read, the peer's FIN, or is closed
 *   or a listener (c:recv's read would not say "try again");
 * - "accept": a state record on the listener's host (a connection that
 *   reaches ESTABLISHED joins the accept queue; a closed listener);
 * - "change": the connection's state, SND.UNA, SND.NXT or its bytes queued
 *   to send changed (room to send, everything acknowledged, a reset);
 * - "never": only the clock (net:after, a sleep) or Lua (a:join) settles it.
 * A wait without one (an expectation, a general predicate) is asked after
 * every event. */
enum { WAKE_STATE, WAKE_READ, WAKE_ACCEPT, WAKE_CHANGE, WAKE_NEVER };

#define DRIVE_WAITS 32 /* more waits at once: asked after every event */

typedef struct {
    int kind;
    sf_conn *c;
    int host;
    uint32_t id;
    sf_conn_info was; /* WAKE_CHANGE: the connection when the drive began */
} wake;

/* Reads wait table idx's wake into w; false when it has none. */
static bool read_wake(lua_State *L, int idx, wake *w)
{
    static const char *const kinds[] = {"state", "read", "accept", "change", "never", NULL};
    bool ok = false;
    if (lua_getfield(L, idx, "wk") == LUA_TSTRING) {
        const char *k = lua_tostring(L, -1);
        for (int i = 0; kinds[i]; i++)
            if (strcmp(k, kinds[i]) == 0) {
                w->kind = i;
                ok = true;
            }
    }
    lua_pop(L, 1);
    if (!ok || w->kind == WAKE_NEVER) return ok;
    lua_getfield(L, idx, "wc");
    lconn *lc = luaL_testudata(L, -1, CONN_MT);
    lua_pop(L, 1);
    if (!lc || !lc->c) return false; /* (released: let Lua's check say so) */
    w->c = lc->c;
    w->host = lc->host;
    w->id = sf_conn_id(lc->c);
    if (w->kind == WAKE_CHANGE) sf_conn_status(lc->c, &w->was);
    return true;
}

/* Whether wake w's wait must be asked now (see above); the state records
 * [from, to) of the trace are new since it was last asked. */
static bool wake_due(const wake *w, const sf_trace *t, size_t from, size_t to)
{
    sf_conn_info i;
    switch (w->kind) {
    case WAKE_NEVER: return false;
    case WAKE_READ:
        sf_conn_status(w->c, &i);
        return i.rcv_queued > 0 || i.peer_closed || i.state == SF_CLOSED || i.state == SF_LISTEN;
    case WAKE_CHANGE:
        sf_conn_status(w->c, &i);
        return i.state != w->was.state || i.snd_una != w->was.snd_una ||
               i.snd_nxt != w->was.snd_nxt || i.snd_queued != w->was.snd_queued;
    default: break;
    }
    if (from < t->first) return true; /* dropped by a record limit before we saw them */
    for (size_t k = from; k < to; k++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)k);
        if (r->kind != SF_TR_STATE || r->host != w->host) continue;
        if (w->kind == WAKE_ACCEPT || r->conn_id == w->id) return true;
    }
    return false;
}

/* Whether the Lua scheduler has work of its own after an event (the net
 * table's close-policy timers, state callbacks, watchers): then the actor's
 * wait goes back to its loop. (Observers need no loop: net:_sync hands them
 * the state records in order whenever it runs, at the latest when the wait
 * ends.) */
static bool scheduler_busy(lua_State *L, int net)
{
    static const char *const lists[] = {"timers", "watchers"};
    bool busy = false;
    for (int i = 0; i < 2 && !busy; i++) {
        lua_getfield(L, net, lists[i]);
        busy = lua_istable(L, -1) && lua_rawlen(L, -1) > 0;
        lua_pop(L, 1);
    }
    if (!busy) {
        lua_getfield(L, net, "listeners");
        lua_pushnil(L);
        busy = lua_istable(L, -2) && lua_next(L, -2);
        lua_pop(L, busy ? 3 : 1);
    }
    return busy;
}

/* Whether a hook of s failed since sim:errors() was last asked. */
static bool hooks_failed(lua_State *L, const lsim *s)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->errors);
    size_t failed = lua_rawlen(L, -1);
    lua_pop(L, 1);
    return failed > 0;
}

/* Whether the scenario's run has passed its time limit. */
static bool over_time(const lsim *s)
{
    return s->run_deadline < HUGE_VAL && lsf_mono_now() >= s->run_deadline;
}

/* The net table at net: its state callbacks have seen (or, none listening,
 * passed over) the first `upto` records, as the scheduler's loop leaves it
 * after an event (Net:_after_step). */
static void set_dispatched(lua_State *L, int net, size_t upto)
{
    lua_pushinteger(L, (lua_Integer)upto);
    lua_setfield(L, net, "dispatched");
}

/* Whether the net table at net has state callbacks. */
static bool has_listeners(lua_State *L, int net)
{
    lua_getfield(L, net, "listeners");
    lua_pushnil(L);
    bool some = lua_istable(L, -2) && lua_next(L, -2);
    lua_pop(L, some ? 3 : 1);
    return some;
}

/* Steps the clock of s toward until, instant by instant, until a wake of
 * wakes[0..n) is due, a state record comes and on_state, a hook failed, the
 * run's time limit passed, the clock reached until, max_steps were taken,
 * or (net: the net table's stack index, 0: none) a callback run in a step
 * gave the scheduler work of its own (scheduler_busy: a close policy's
 * timer, a state callback, a watcher; the first state callback's records
 * begin at that step, as in the loop); *steps: the steps taken. Returns
 * whether the last step processed an instant (0: nothing more happens until
 * `until`, and the clock is there). */
static int drive_loop(lua_State *L, lsim *s, uint64_t until, lua_Integer max_steps, bool on_state,
                      const wake *wakes, int n, lua_Integer *steps, int net)
{
    bool hooked = lsf_count_hook_on(L, s); /* the callbacks' count hook, as sim:step sets it */
    const sf_trace *t = lsf_trace(s);
    int stepped = 1;
    *steps = 0;
    while (*steps < max_steps) {
        size_t from = t->n;
        uint64_t calls = s->calls;
        stepped = s->rt ? sf_rt_step(s->rt, until) : sf_sim_step(s->sim, until);
        ++*steps;
        bool ran = s->calls != calls; /* Lua ran in this step (only it sets anything up) */
        if (net && ran && scheduler_busy(L, net)) {
            if (!on_state && has_listeners(L, net)) set_dispatched(L, net, from);
            break;
        }
        if (!stepped || *steps >= max_steps || sf_sim_now(s->sim) >= until) break;
        if (on_state && t->n > from) {
            bool state = from < t->first;
            for (size_t k = from; !state && k < t->n; k++)
                state = sf_trace_at(t, (long)k)->kind == SF_TR_STATE;
            if (state) break;
        }
        if ((ran && hooks_failed(L, s)) || over_time(s)) break;
        bool due = false;
        for (int i = 0; i < n && !due; i++)
            due = wake_due(&wakes[i], t, from, t->n);
        if (due) break;
    }
    if (hooked) lsf_count_hook_off(L);
    return stepped;
}

/* sim:drive(limit_us, max_steps, on_state, waits, net) -> stepped, steps: what
 * the scheduler's loop calls where it would call sim:step(limit): steps the
 * clock (drive_loop) until one of the waits (its wait tables) may be
 * settled (see "wake"), a state record comes and on_state is true (state
 * callbacks), or what the loop must see to (a failed hook, the
 * time limit, the limit) comes; returns whether the last step processed an
 * instant, and the steps taken. The loop then asks its waits, as it would
 * after each sim:step: what it sees is the same, only fewer times. A wait
 * without a wake, or a real-time net, makes it one step. */
static int l_sim_drive(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    lsf_check_not_busy(L, s, "moving the net's clock (a wait, net:step, net:run)");
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer max_steps = luaL_checkinteger(L, 3);
    bool on_state = lua_toboolean(L, 4);
    luaL_checktype(L, 5, LUA_TTABLE);
    luaL_checktype(L, 6, LUA_TTABLE);
    wake wakes[DRIVE_WAITS];
    int n = (int)luaL_len(L, 5);
    if (n > DRIVE_WAITS || s->rt) max_steps = 1;
    for (int i = 0; i < n && max_steps > 1; i++) {
        lua_rawgeti(L, 5, i + 1);
        if (!read_wake(L, -1, &wakes[i])) max_steps = 1;
        lua_pop(L, 1);
    }
    lua_Integer steps;
    int stepped = drive_loop(L, s, limit < 0 ? 0 : (uint64_t)limit, max_steps, on_state, wakes,
                             n < DRIVE_WAITS ? n : DRIVE_WAITS, &steps, 6);
    lua_pushboolean(L, stepped);
    lua_pushinteger(L, steps);
    return 2;
}

/* Whether the scheduler's loop must see to the net now: a hook failed, the
 * run's time limit passed, or the Lua side has work of its own (the net
 * table at net: scheduler_busy). */
static bool loop_needed(lua_State *L, lsim *s, int net)
{
    return hooks_failed(L, s) || over_time(s) || scheduler_busy(L, net);
}

/* One stretch of an in-place wait: steps the clock toward deadline for its
 * wake w, with the steps left of max_steps (*steps counts them; the net
 * table at net, as drive_loop). False when the deadline came with nothing
 * before it. */
static bool drive_wait(lua_State *L, lsim *s, lua_Integer deadline, lua_Integer max_steps,
                       lua_Integer *steps, const wake *w, int net)
{
    lua_Integer taken;
    int stepped = drive_loop(L, s, deadline < 0 ? 0 : (uint64_t)deadline, max_steps - *steps + 1,
                             false, w, 1, &taken, net);
    *steps += taken - 1;
    return stepped;
}

/* An in-place wait is over: the scenario's budget starts anew, and, nobody
 * listening, what happened meanwhile is past for a state callback set later. */
static void wait_over(lua_State *L, lsim *s, struct frame *f, int net)
{
    lsf_budget_restart(f);
    if (!has_listeners(L, net)) set_dispatched(L, net, lsf_trace(s)->n);
}

/* sim:wait(w, net, max_steps) -> "ok", results... | "fail", why | "timeout"
 * | "lua": the wait w (a wait table of the scheduler, with its check, its
 * deadline and its wake) of the scenario's only actor, run in place of its
 * loop (scheduler.lua, Net:_drive) while nothing else needs it: asks w's
 * check, steps the clock in C until the wake says the check may answer or
 * the deadline comes, and so on. "fail" is the check's own message (the
 * scheduler adds the line and the trace); "timeout": the deadline came
 * (with the check asked once more there); "lua": the loop must take over
 * (a hook failed, the time limit passed, a close policy's timer, a state
 * callback or a watcher came, w.steps reached max_steps, or w
 * has no wake), with w.steps counted. The scenario's callback budget
 * ("between two waits") stops while it waits, and starts anew after. */
static int l_sim_wait(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer max_steps = luaL_checkinteger(L, 4);
    struct frame *f = lsf_scenario_frame(s);
    wake w;
    if (!f || !read_wake(L, 2, &w)) {
        lua_pushliteral(L, "lua");
        return 1;
    }
    lua_getfield(L, 2, "deadline");
    lua_Integer deadline = lua_tointeger(L, -1);
    lua_getfield(L, 2, "steps");
    lua_Integer steps = lua_tointeger(L, -1);
    lua_getfield(L, 2, "check"); /* at 7 */
    lua_settop(L, 7);
    double budget_end = lsf_budget_stop(f);
    int nres = 0;
    bool idle = false;
    for (;;) {
        if (loop_needed(L, s, 3)) break;
        lua_pushvalue(L, 7);
        if (lua_pcall(L, 0, LUA_MULTRET, 0) != LUA_OK) {
            lsf_budget_set(f, budget_end);
            return lua_error(L);
        }
        int got = lua_gettop(L) - 7;
        if (got == 0 || lua_type(L, 8) == LUA_TNIL) { /* nil, why: failed */
            lua_settop(L, 9);
            lua_pushliteral(L, "fail");
            lua_replace(L, 8);
            nres = 2;
            break;
        }
        if (got > 0 && lua_toboolean(L, 8)) { /* true, results... */
            lua_pushliteral(L, "ok");
            lua_replace(L, 8);
            nres = got;
            break;
        }
        lua_settop(L, 7);
        if (idle) {
            lua_pushliteral(L, "timeout");
            nres = 1;
            break;
        }
        if (++steps > max_steps) break;
        idle = !drive_wait(L, s, deadline, max_steps, &steps, &w, 3);
    }
    wait_over(L, s, f, 3);
    lua_pushinteger(L, steps);
    lua_setfield(L, 2, "steps");
    if (nres == 0) {
        lua_settop(L, 7);
        lua_pushliteral(L, "lua");
        nres = 1;
    }
    return nres;
}

/* What c:recv's check does when its wake is due: reads what there is, up
 * to n bytes (0: any amount), into *buf (grown as needed, *got bytes so
 * far), as conn:read does. 1: done (the data, or at the end of the stream
 * or on an error with nothing read, *err says why: 0 or the error); 0: not
 * yet (nothing more to read). -1: out of memory. */
static int read_some(lconn *lc, size_t n, char **buf, size_t *cap, size_t *got, int *err)
{
    for (;;) {
        sf_conn_info info;
        sf_conn_status(lc->c, &info);
        size_t max = n ? n - *got : 65536;
        /* no more room than what is queued (as conn:read) */
        if (max > info.rcv_queued) max = info.rcv_queued > 0 ? info.rcv_queued : 1;
        if (*got + max > *cap) {
            size_t want = *cap ? *cap : 512;
            while (want < *got + max)
                want *= 2;
            char *more = realloc(*buf, want);
            if (!more) return -1;
            *buf = more;
            *cap = want;
        }
        int r = sf_recv(lc->c, sf_sim_now(lc->s->sim), *buf + *got, max);
        sf_sim_flush(lc->s->sim, lc->host);
        if (r > 0) {
            *got += (size_t)r;
            if (!n || *got >= n) return 1;
            continue;
        }
        if (r == SF_EAGAIN) return 0;
        *err = r;
        return 1;
    }
}

/* sim:wait_on(net, kind, conn, arg, seconds, max_steps) -> "ok", results
 * | "lua", since, steps, progress: the commonest waits of the scenario's only actor
 * under net:run, check and all in C (see sim:wait for when it may run in
 * place, and what stops it): kind "state" (c:wait: conn reaches state arg,
 * given as synfin spells it; "ok"), "read" (c:recv: arg bytes, nil for any
 * amount; "ok", data or "ok", nil, why) or "accept" (l:accept; "ok", the
 * connection). Whatever else happens (the loop is needed, a connection
 * closed instead, the deadline came, max_steps, an argument out of the
 * ordinary) is handed back as it is, for the wait's Lua check to go on
 * from (the Lua path says it as always): "lua", when the wait began (the
 * clock's microseconds), the steps taken, and the progress: c:wait's next record to look at
 * (1-based), or c:recv's data read so far (nil: none). */
static int l_sim_wait_on(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    static const char *const kinds[] = {"state", "read", "accept", NULL};
    int kind = luaL_checkoption(L, 3, NULL, kinds);
    lconn *lc = lsf_check_conn(L, 4);
    lua_Number seconds = luaL_checknumber(L, 6);
    lua_Integer max_steps = luaL_checkinteger(L, 7);
    const sf_trace *t = lsf_trace(s);
    uint64_t since = sf_sim_now(s->sim);
    lua_Integer steps = 0;
    size_t from = t->n; /* "state": the next record to look at */
    int target = -1;
    size_t n = 0;
    wake w = {.kind = kind == 0   ? WAKE_STATE
                      : kind == 1 ? WAKE_READ
                                  : WAKE_ACCEPT,
              .c = lc->c,
              .host = lc->host,
              .id = sf_conn_id(lc->c)};
    struct frame *f = lsf_scenario_frame(s);
    bool in_place = f != NULL;
    if (kind == 0) target = sf_state_from_name(luaL_checkstring(L, 5));
    if (kind == 1 && !lua_isnil(L, 5)) {
        lua_Integer want = luaL_checkinteger(L, 5);
        if (want < 1 || want > (1 << 30)) in_place = false; /* conn:read says why */
        n = (size_t)(want > 0 ? want : 0);
    }
    if (target < 0 && kind == 0) in_place = false;
    if (!(seconds >= 0 && seconds <= TIME_MAX_S)) in_place = false; /* the Lua side says why */
    if (!in_place || loop_needed(L, s, 2)) {                        /* nothing done: no progress */
        lua_pushliteral(L, "lua");
        lua_pushinteger(L, (lua_Integer)since);
        lua_pushinteger(L, 0);
        return 3;
    }
    /* the deadline as the Lua side makes it (util.us) */
    lua_Integer deadline = (lua_Integer)since + (lua_Integer)floor(seconds * 1e6 + 0.5);
    uint64_t seen = s->calls; /* the callbacks run when the loop was last looked at */
    if (kind == 0 && (int)sf_conn_state(lc->c) == target) {
        if (!has_listeners(L, 2)) set_dispatched(L, 2, t->n);
        lua_pushliteral(L, "ok"); /* already there */
        return 1;
    }
    char *buf = NULL;
    size_t cap = 0, got = 0;
    int err = 0, done = 0;
    bool idle = false;
    lsf_budget_stop(f); /* waiting is not the scenario's time */
    for (;;) {
        if (kind == 0) { /* the connection's state records since */
            size_t k = from < t->first ? t->first : from;
            for (; k < t->n && !done; k++) {
                const sf_trace_rec *r = sf_trace_at(t, (long)k);
                if (r->kind != SF_TR_STATE || r->host != w.host || r->conn_id != w.id) continue;
                if (r->new_state == target)
                    done = 1;
                else if (r->new_state == SF_CLOSED)
                    break; /* failed: the Lua check says so from this record */
            }
            from = k;
            if (!done && from < t->n) break;
        } else if (kind == 1) {
            done = read_some(lc, n, &buf, &cap, &got, &err);
            if (done < 0) break;
        } else {
            sf_conn *c = sf_accept(lc->c);
            if (c) {
                wait_over(L, s, f, 2);
                lua_pushliteral(L, "ok");
                lsf_push_conn(L, 1, s, lc->host, c);
                return 2;
            }
            if (sf_conn_state(lc->c) != SF_LISTEN) break; /* the Lua check says so */
        }
        if (done || idle || ++steps > max_steps) break;
        if (s->calls != seen ? (seen = s->calls, loop_needed(L, s, 2)) : over_time(s)) break;
        idle = !drive_wait(L, s, deadline, max_steps, &steps, &w, 2);
    }
    wait_over(L, s, f, 2);
    if (done > 0) {
        lua_pushliteral(L, "ok");
        if (kind == 0) return 1;
        if (got > 0) {
            lua_pushlstring(L, buf, got);
            free(buf);
            return 2;
        }
        free(buf); /* nothing read: the end of the stream (err 0) or an error */
        lua_pushnil(L);
        lua_pushstring(L, err ? sf_strerror(err) : "end of stream");
        return 3;
    }
    lua_pushliteral(L, "lua");
    lua_pushinteger(L, (lua_Integer)since);
    lua_pushinteger(L, steps);
    if (kind == 0)
        lua_pushinteger(L, (lua_Integer)from + 1);
    else if (got > 0)
        lua_pushlstring(L, buf, got);
    else
        lua_pushnil(L);
    free(buf);
    return 4;
}

void lsf_wait_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"drive", l_sim_drive}, {"wait", l_sim_wait}, {"wait_on", l_sim_wait_on}, {NULL, NULL}};
    luaL_getmetatable(L, SIM_MT);
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
}
