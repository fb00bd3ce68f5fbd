/* lsynfin.c - the Lua 5.4 module synfin.core: a thin mapping of the sim
 * driver and its connections to userdata. No protocol logic lives here; the
 * scenario API users touch is the module synfin (lua/synfin/init.lua and the
 * modules it assembles).
 *
 * Objects follow luv's habits: a metatable per type; expected
 * failures return nil, message, code; wrong arguments raise. A connection
 * userdata keeps its net alive through its user value, and every Lua hook
 * runs protected: an error is recorded with its traceback, the segment passes
 * unchanged, and the scenario fails (an error in a script never crashes
 * the process nor stops the net in a broken state). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "../core/io/sim.h"
#include "../core/io/raw.h"
#include "../core/io/tun.h"
#include "../core/rand.h"
#include "../core/settings.h"
#include "../core/synfin.h"
#include "lsynfin.h"

#include <lauxlib.h>
#include <lua.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    lsim *s;
    int fn;   /* registry ref of the Lua function */
    int when; /* registry ref of its predicate, LUA_NOREF: none */
    int host;
    sf_dir dir;
    bool fn_takes_seg; /* fn has a parameter: a view of the segment is made for it */
} lhook;

/* ---- errors ---------------------------------------------------------------------- */

/* Whether a chunk name is one of synfin's own Lua files (lua/synfin/X.lua). */
static int is_synfin_file(const char *src)
{
    const char *at = strstr(src, "synfin/");
    if (!at) return 0;
    while (strstr(at + 1, "synfin/"))
        at = strstr(at + 1, "synfin/");
    at += strlen("synfin/");
    while (*at >= 'a' && *at <= 'z')
        at++;
    return strcmp(at, ".lua") == 0;
}

/* Raises "synfin: ..." at the script's line that led here: the first Lua
 * function up the stack outside synfin's own files, as the Lua layer's
 * where() finds it; none when C called the function that raises (a hook's
 * verdict, read as the hook returns). */
static int script_error(lua_State *L, const char *fmt, ...)
{
    lua_Debug ar;
    int found = 0;
    for (int level = 1; !found && lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline <= 0) break; /* C */
        found = !is_synfin_file(ar.short_src);
    }
    if (found)
        lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
    else
        lua_pushliteral(L, "");
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

/* ---- helpers -------------------------------------------------------------------- */

static int push_fail(lua_State *L, int err)
{
    lua_pushnil(L);
    lua_pushstring(L, sf_strerror(err));
    lua_pushinteger(L, err);
    return 3;
}

lsim *lsf_check_sim(lua_State *L, int idx)
{
    lsim *s = luaL_checkudata(L, idx, SIM_MT);
    if (!s->sim) script_error(L, "synfin: the net is closed");
    s->L = L;
    if (s->rt) sf_sim_set_now(s->sim, sf_rt_now(s->rt)); /* real time runs on */
    return s;
}

static int check_host(lua_State *L, lsim *s, int idx)
{
    lua_Integer h = luaL_checkinteger(L, idx);
    luaL_argcheck(L, h >= 1 && h <= sf_sim_host_count(s->sim), idx, "no such host");
    return (int)h - 1;
}

static sf_stack *check_stack(lua_State *L, lsim *s, int host)
{
    sf_stack *st = sf_sim_stack(s->sim, host);
    if (!st) luaL_error(L, "host %d is a bare peer: it has no TCP", host + 1);
    return st;
}

static sf_addr check_addr(lua_State *L, int idx)
{
    sf_addr a;
    if (sf_addr_parse(luaL_checkstring(L, idx), &a) != 0)
        luaL_argerror(L, idx,
                      "an IPv4 or IPv6 address such as \"192.0.2.1\" or \"2001:db8::1\" expected");
    return a;
}

/* ---- values from Lua: every one range-checked where it enters ------------------ */

/* The value at idx as an error message shows it: 70000, nan, "x", a table. */
static const char *shown(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
    case LUA_TBOOLEAN:
    case LUA_TNIL: return luaL_tolstring(L, idx, NULL);
    case LUA_TSTRING: return lua_pushfstring(L, "\"%s\"", lua_tostring(L, idx));
    default: return lua_pushfstring(L, "a %s", luaL_typename(L, idx));
    }
}

/* The integer at idx, in lo..hi; anything else (a float, NaN, a string) is
 * an error naming the value: "synfin: setting 'backlog' must be an integer
 * in 0..65535, got 70000". kind says what the value is ("setting",
 * "segment field", "hook filter", "argument"). */
/* t[k] = v, t on the top of the stack */
static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static lua_Integer check_int_in(lua_State *L, int idx, const char *kind, const char *name,
                                lua_Integer lo, lua_Integer hi)
{
    int isint = 0;
    lua_Integer v = lua_type(L, idx) == LUA_TNUMBER ? lua_tointegerx(L, idx, &isint) : 0;
    if (!isint || v < lo || v > hi)
        script_error(L, "synfin: %s '%s' must be an integer in %I..%I, got %s", kind, name, lo, hi,
                     shown(L, idx));
    return v;
}

/* A time in seconds at idx, in 0..max (NaN and infinities are not), as
 * microseconds; else an error as check_int_in's. */
static uint64_t check_time_in(lua_State *L, int idx, const char *kind, const char *name, double max)
{
    lua_Number t = lua_tonumber(L, idx);
    if (lua_type(L, idx) != LUA_TNUMBER || !(t >= 0 && t <= max)) {
        char range[32];
        snprintf(range, sizeof range, "0..%g", max);
        script_error(L, "synfin: %s '%s' must be a time in seconds in %s, got %s", kind, name,
                     range, shown(L, idx));
    }
    return (uint64_t)llround(t * 1e6);
}

/* A boolean at idx; anything else (a string "no") is an error. */
static int check_bool(lua_State *L, int idx, const char *kind, const char *name)
{
    if (!lua_isboolean(L, idx))
        script_error(L, "synfin: %s '%s' must be true or false, got %s", kind, name, shown(L, idx));
    return lua_toboolean(L, idx);
}

/* One of the names in opts (a NULL-terminated list), as its index; else
 * an error listing them: "must be \"none\" or \"newreno\"". */
static int check_choice(lua_State *L, int idx, const char *name, const char *const opts[])
{
    const char *v = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    for (int i = 0; v && opts[i]; i++)
        if (strcmp(v, opts[i]) == 0) return i;
    const char *got = shown(L, idx);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; opts[i]; i++) {
        if (i > 0) luaL_addstring(&b, opts[i + 1] ? ", " : " or ");
        lua_pushfstring(L, "\"%s\"", opts[i]);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    script_error(L, "synfin: setting '%s' must be %s, got %s", name, lua_tostring(L, -1), got);
    return 0;
}

static uint16_t check_port(lua_State *L, int idx, int allow_zero)
{
    return (uint16_t)check_int_in(L, idx, "argument", "port", allow_zero ? 0 : 1, 65535);
}

/* The ISN key from a seed and an address, so that a sim is deterministic. */
/* (an IPv4 address as its 32 bits, as before IPv6; an IPv6 one folded) */
static uint64_t addr_seed(sf_addr a)
{
    if (sf_addr_is_v4(a)) return sf_addr_v4_of(a);
    uint64_t hi, lo;
    memcpy(&hi, a.b, 8);
    memcpy(&lo, a.b + 8, 8);
    return hi ^ lo;
}

static void derive_secret(sf_config *cfg, uint64_t seed, uint64_t addr)
{
    uint64_t x = seed ^ (addr << 17);
    for (size_t i = 0; i < sizeof cfg->secret; i += 8) {
        uint64_t v = sf_splitmix64(&x);
        memcpy(cfg->secret + i, &v, 8);
    }
}

/* Reads the value at idx as the setting s (core/settings.c describes it:
 * its type, range and rule), into cfg; a value of another type, out of its
 * range or against its rule raises, naming the setting and the value. */
static void read_setting(lua_State *L, int idx, const sf_setting *s, sf_config *cfg)
{
    uint64_t v = 0;
    switch (s->type) {
    case SF_SETTING_PROFILE: return; /* read_config applies it first */
    case SF_SETTING_SECRET: {
        /* the ISN key: 16 bytes, or an integer spread over them */
        size_t n = 0;
        const char *key = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
        if (key && n == sizeof cfg->secret)
            memcpy(cfg->secret, key, n);
        else if (lua_isinteger(L, idx))
            derive_secret(cfg, (uint64_t)lua_tointeger(L, idx), 0);
        else
            script_error(L, "synfin: setting '%s' must be a 16-byte string or an integer, got %s",
                         s->name, shown(L, idx));
        return;
    }
    case SF_SETTING_KEEPALIVE:
        v = lua_isboolean(L, idx) ? sf_setting_bool_value(s, lua_toboolean(L, idx))
                                  : check_time_in(L, idx, "setting", s->name, s->hi);
        break;
    case SF_SETTING_TIME: v = check_time_in(L, idx, "setting", s->name, s->hi); break;
    case SF_SETTING_BOOL:
        v = sf_setting_bool_value(s, check_bool(L, idx, "setting", s->name));
        break;
    case SF_SETTING_CHOICE: v = (uint64_t)check_choice(L, idx, s->name, s->choices); break;
    case SF_SETTING_INT:
    case SF_SETTING_ISN:
        v = (uint64_t)check_int_in(L, idx, "setting", s->name, (lua_Integer)s->lo,
                                   (lua_Integer)s->hi);
        break;
    }
    const char *wrong = sf_setting_set(s, cfg, v);
    if (wrong) script_error(L, "synfin: setting '%s' %s, got %s", s->name, wrong, shown(L, idx));
}

/* Raises that setting s does not apply where it was given (an SF_AT_*
 * bit), naming where it does: given there, it would be silently ignored. */
static void wrong_place(lua_State *L, const sf_setting *s, unsigned given)
{
    static const struct {
        unsigned bit;
        const char *name;
    } PLACES[] = {{SF_AT_HOST, "net:host"},
                  {SF_AT_LISTEN, "listen"},
                  {SF_AT_CONNECT, "connect"},
                  {SF_AT_SET, "c:set"}};
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const char *here = "?";
    for (size_t i = 0, n = 0; i < sizeof PLACES / sizeof PLACES[0]; i++) {
        if (given & PLACES[i].bit) here = PLACES[i].name;
        if (!(s->where & PLACES[i].bit)) continue;
        if (n++) luaL_addstring(&b, ", ");
        luaL_addstring(&b, PLACES[i].name);
    }
    luaL_pushresult(&b);
    script_error(L, "synfin: setting '%s' is not for %s: it applies to %s", s->name, here,
                 lua_tostring(L, -1));
}

/* Reads a table of settings given at `where` (an SF_AT_* mask) into a
 * config; unknown keys raise, so that a typo is never silently ignored, and
 * so do values out of their range and settings that do not apply there. */
static void read_config(lua_State *L, int idx, sf_config *cfg, unsigned where)
{
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    idx = lua_absindex(L, idx);
    /* a profile first, so that the settings given beside it win over it */
    const sf_setting *profile = sf_setting_find("profile");
    if (lua_getfield(L, idx, "profile") != LUA_TNIL)
        sf_setting_set(profile, cfg, (uint64_t)check_choice(L, -1, "profile", profile->choices));
    lua_pop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        const sf_setting *s = sf_setting_find(k);
        if (!s) script_error(L, "synfin: unknown setting '%s'", k);
        if (!(s->where & where)) wrong_place(L, s, where);
        read_setting(L, -1, s, cfg);
        lua_pop(L, 1);
    }
    const char *wrong = sf_policy_check(&cfg->policy);
    if (wrong) script_error(L, "synfin: %s", wrong);
}

/* synfin.core.settings() -> { { name, type, unit, where = { host, listen,
 * connect, ["c:set"] }, lo, hi, choices, doc }, ... }: the table of settings
 * (core/settings.c), in order, for the Lua layer's option checks. */
static int l_settings(lua_State *L)
{
    static const char *const TYPES[] = {"time",      "integer", "boolean", "choice",
                                        "keepalive", "secret",  "isn",     "profile"};
    size_t n;
    const sf_setting *all = sf_settings(&n);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const sf_setting *s = &all[i];
        lua_createtable(L, 0, 8);
        lua_pushstring(L, s->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, TYPES[s->type]);
        lua_setfield(L, -2, "type");
        lua_pushstring(L, s->unit);
        lua_setfield(L, -2, "unit");
        lua_pushstring(L, s->doc);
        lua_setfield(L, -2, "doc");
        if (s->type == SF_SETTING_TIME || s->type == SF_SETTING_INT ||
            s->type == SF_SETTING_KEEPALIVE || s->type == SF_SETTING_ISN) {
            lua_pushnumber(L, s->lo);
            lua_setfield(L, -2, "lo");
            lua_pushnumber(L, s->hi);
            lua_setfield(L, -2, "hi");
        }
        if (s->choices) {
            lua_newtable(L);
            for (int c = 0; s->choices[c]; c++) {
                lua_pushstring(L, s->choices[c]);
                lua_rawseti(L, -2, c + 1);
            }
            lua_setfield(L, -2, "choices");
        }
        lua_newtable(L);
        for (size_t w = 0; w < sizeof sf_setting_places / sizeof sf_setting_places[0]; w++) {
            lua_pushboolean(L, (s->where & sf_setting_places[w].bit) != 0);
            lua_setfield(L, -2, sf_setting_places[w].name);
        }
        lua_setfield(L, -2, "where");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ---- callbacks: who runs, and for how long ---------------------------------------- */

/* Every Lua function of the script's that the net calls (a hook, a state
 * callback, a close policy, the scenario between two waits) runs in a
 * frame: a record on the C stack of the call that runs it, chained to the
 * frames it runs inside (innermost first, its head in the registry). The
 * frames say what is running, so that the net refuses what it cannot do
 * meanwhile (close itself, step its clock), and bound its time: a count
 * hook on the thread checks the frame's deadlines every FRAME_CHECK
 * instructions, and past one raises an error that names the callback and
 * its line (a loop in a callback would otherwise hang the process).
 *
 * Each callback's budget counts its own time: a frame's budget moves on by
 * the time of the frames run inside it (the scenario's c:send runs a hook:
 * the hook's time is the hook's). The scenario's time limit counts all.
 * A thread that already has a debug hook (a debugger, a coverage tool)
 * keeps it, and its callbacks have no deadline. */

#define FRAME_CHECK 1000 /* instructions between two looks at the clock */

typedef struct frame {
    struct frame *outer;
    lsim *s;
    const char *kind; /* "hook", "state callback", "close policy", "pattern", "scenario" */
    char kind_buf[24];
    /* its name, "hook 3 (ingress of 192.0.2.2)": written by describe when a
     * message needs it (a hook runs for every segment, and is rarely named) */
    char what[96];
    void (*describe)(const struct frame *f, char *out, size_t len);
    const void *describe_ud;
    uint32_t describe_id;
    double started;            /* monotonic seconds */
    double budget_end;         /* when its budget runs out; HUGE_VAL: no budget */
    double run_end;            /* when the scenario's time limit does; HUGE_VAL: none */
    double budget, time_limit; /* seconds, for the messages */
    lua_State *thread;         /* where it set its count hook; NULL: none set */
    lua_State *shared;         /* where it found frame_hook set already; NULL: not */
    lua_Hook old_hook;         /* the thread's hook before it, put back after */
    int old_mask, old_count;
} frame;

static const char state_key = 0; /* the registry's light userdata: the lsf_state */

/* The state's lsf_state: every net keeps a pointer to it (lsim.state). */
static lsf_state *state_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &state_key);
    lsf_state *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return st;
}

/* The frame's name, written when first asked. */
static const char *frame_what(frame *f)
{
    if (f->describe) {
        f->describe(f, f->what, sizeof f->what);
        f->describe = NULL;
    }
    return f->what;
}

/* The callbacks' clock: budgets and time limits are tenths of seconds and
 * more, and it is read twice per hook call (every segment), so the coarse
 * clock (a tick, a few ms, for a few ns a read) is the right one. */
double lsf_mono_now(void)
{
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The innermost frame of the net s, or NULL when none of its callbacks runs. */
static frame *busy_frame(const lsim *s)
{
    for (frame *f = s->busy ? s->state->top : NULL; f; f = f->outer)
        if (f->s == s) return f;
    return NULL;
}

struct frame *lsf_scenario_frame(const lsim *s)
{
    frame *f = busy_frame(s);
    return f && strcmp(f->kind, "scenario") == 0 && !s->rt ? f : NULL;
}

double lsf_budget_stop(struct frame *f)
{
    double end = f->budget_end;
    f->budget_end = HUGE_VAL;
    return end;
}

void lsf_budget_set(struct frame *f, double end)
{
    f->budget_end = end;
}

void lsf_budget_restart(struct frame *f)
{
    f->budget_end = f->budget > 0 ? lsf_mono_now() + f->budget : HUGE_VAL;
}

/* The count hook: past the innermost frame's deadline, an error at every
 * instruction from now on, so that a callback that catches it (pcall in a
 * loop) cannot go on. */
static void frame_hook(lua_State *L, lua_Debug *ar)
{
    lsf_state *st = state_of(L); /* (every FRAME_CHECK instructions: a lookup is fine) */
    frame *f = st ? st->top : NULL;
    if (!f) {
        lua_sethook(L, NULL, 0, 0); /* a coroutine made in a callback, run after it */
        return;
    }
    double now = lsf_mono_now();
    if (now < f->budget_end && now < f->run_end) return;
    lua_sethook(L, frame_hook, LUA_MASKCOUNT, 1);
    char limit[96];
    int scenario = strcmp(f->kind, "scenario") == 0;
    const char *what = frame_what(f);
    if (f->budget_end <= f->run_end)
        snprintf(limit, sizeof limit, "its budget of %g s%s (callback_budget)", f->budget,
                 scenario ? " between two waits" : "");
    else
        snprintf(limit, sizeof limit, "%s time limit of %g s (time_limit)",
                 scenario ? "its" : "the scenario's", f->time_limit);
    lua_getinfo(L, "Sl", ar);
    if (ar->currentline > 0)
        lua_pushfstring(L, "synfin: %s ran past %s, at %s:%d", what, limit, ar->short_src,
                        ar->currentline);
    else
        lua_pushfstring(L, "synfin: %s ran past %s", what, limit);
    lua_error(L);
}

bool lsf_count_hook_on(lua_State *L, const lsim *s)
{
    if ((s->budget > 0 || s->run_deadline < HUGE_VAL) && !lua_gethook(L)) {
        lua_sethook(L, frame_hook, LUA_MASKCOUNT, FRAME_CHECK);
        return true;
    }
    return false;
}

void lsf_count_hook_off(lua_State *L)
{
    if (lua_gethook(L) == frame_hook) lua_sethook(L, NULL, 0, 0);
}

/* Enters a frame for a callback of the net s that runs on `thread`, named
 * f->what or by f->describe (set by the caller), of a kind that outlives the
 * frame (a literal). Nothing here raises: frame_leave must follow.
 *
 * The count hook is set only where the thread has none: a callback run
 * inside another's, or inside sim:step (which sets it once for all the
 * callbacks of a step: a hook runs on every segment), finds frame_hook
 * there already, and frame_hook reads the innermost frame's deadlines. */
static void frame_enter(frame *f, lsim *s, lua_State *thread, const char *kind)
{
    lsf_state *st = s->state;
    f->outer = st->top;
    st->top = f;
    f->s = s;
    f->kind = kind;
    s->calls++;
    f->started = lsf_mono_now();
    f->budget = s->budget;
    f->budget_end = s->budget > 0 ? f->started + s->budget : HUGE_VAL;
    f->time_limit = s->time_limit;
    f->run_end = s->run_deadline;
    frame *o = f->outer;
    if (o && o->run_end < f->run_end) { /* another net's callback runs this one */
        f->run_end = o->run_end;
        f->time_limit = o->time_limit;
    }
    f->thread = NULL;
    f->shared = NULL;
    f->old_hook = lua_gethook(thread);
    if (f->old_hook == frame_hook) {
        f->shared = thread;
    } else if (!f->old_hook && (f->budget_end < HUGE_VAL || f->run_end < HUGE_VAL)) {
        f->old_mask = lua_gethookmask(thread);
        f->old_count = lua_gethookcount(thread);
        f->thread = thread;
        lua_sethook(thread, frame_hook, LUA_MASKCOUNT, FRAME_CHECK);
    }
    s->busy++;
}

static void frame_leave(frame *f)
{
    if (f->thread) lua_sethook(f->thread, f->old_hook, f->old_mask, f->old_count);
    /* a deadline passed in this frame made the shared hook fire at every
     * instruction: back to every FRAME_CHECK for the outer ones */
    if (f->shared && lua_gethookcount(f->shared) != FRAME_CHECK &&
        lua_gethook(f->shared) == frame_hook)
        lua_sethook(f->shared, frame_hook, LUA_MASKCOUNT, FRAME_CHECK);
    f->s->busy--;
    if (f->outer && f->outer->budget_end < HUGE_VAL) /* not the outer's time */
        f->outer->budget_end += lsf_mono_now() - f->started;
    f->s->state->top = f->outer;
}

/* ---- the net -------------------------------------------------------------------- */

static int l_sim_new(lua_State *L)
{
    lua_Integer seed = luaL_optinteger(L, 1, 1);
    lsim *s = lua_newuserdatauv(L, sizeof *s, 1);
    memset(s, 0, sizeof *s);
    s->errors = LUA_NOREF;
    s->state = state_of(L);
    s->serial = ++s->state->nets;
    luaL_setmetatable(L, SIM_MT);
    lua_newtable(L); /* its connections' userdata, weak in the values */
    lua_newtable(L);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setiuservalue(L, -2, 1);
    s->seed = (uint64_t)seed;
    s->run_deadline = HUGE_VAL;
    s->packet = malloc(SF_HOOK_PACKET);
    s->sim = sf_sim_new((uint64_t)seed);
    if (!s->packet) return luaL_error(L, "out of memory");
    if (!s->sim) return luaL_error(L, "out of memory");
    lua_newtable(L);
    s->errors = luaL_ref(L, LUA_REGISTRYINDEX);
    lsf_register_net(L, -1); /* for the views that keep it alive */
    return 1;
}

/* Raises when one of the net's callbacks is running: `doing` (what the
 * script asked for) would pull the net from under it. */
void lsf_check_not_busy(lua_State *L, lsim *s, const char *doing)
{
    frame *f = busy_frame(s);
    if (f)
        script_error(L, "synfin: %s inside %s: the net is running it; do it after net:run returns",
                     doing, frame_what(f));
}

static int l_sim_close(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    lsf_check_not_busy(L, s, "net:close()");
    s->L = L;             /* hooks release their references through the running thread */
    sf_tun_close(s->tun); /* the device goes before the net it feeds */
    sf_raw_close(s->raw);
    s->tun = NULL;
    s->raw = NULL;
    s->rt = NULL;
    if (s->sim) {
        char err[128];
        sf_sim_pcap_close(s->sim, err, sizeof err); /* its last packets with their records */
        sf_sim_take_trace(s->sim, &s->kept);        /* records outlive the net */
        sf_sim_free(s->sim);                        /* hooks release their Lua references here */
        s->sim = NULL;
    }
    free(s->packet);
    s->packet = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, s->errors);
    s->errors = LUA_NOREF;
    return 0;
}

/* __gc: closes the net, and frees the records it kept */
static int l_sim_gc(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    l_sim_close(L);
    sf_trace_free(&s->kept);
    return 0;
}

static int l_sim_link(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    sf_link link = {.latency = check_time_in(L, 2, "setting", "latency", TIME_MAX_S)};
    if (!lua_isnoneornil(L, 3)) {
        link.loss = lua_tonumber(L, 3);
        if (lua_type(L, 3) != LUA_TNUMBER || !(link.loss >= 0 && link.loss <= 1))
            script_error(L, "synfin: setting 'loss' must be a probability in 0..1, got %s",
                         shown(L, 3));
    }
    if (!lua_isnoneornil(L, 4)) {
        link.mark = lua_tonumber(L, 4);
        if (lua_type(L, 4) != LUA_TNUMBER || !(link.mark >= 0 && link.mark <= 1))
            script_error(L, "synfin: setting 'mark' must be a probability in 0..1, got %s",
                         shown(L, 4));
    }
    /* the bottleneck: bits per second (up to 100 Gbit/s), packets */
    if (!lua_isnoneornil(L, 5))
        link.rate = (uint64_t)check_int_in(L, 5, "setting", "rate", 1000, 100000000000LL);
    if (!lua_isnoneornil(L, 6))
        link.queue = (uint32_t)check_int_in(L, 6, "setting", "queue", 1, 1000000);
    if (!lua_isnoneornil(L, 7))
        link.threshold = (uint32_t)check_int_in(L, 7, "setting", "threshold", 1, 1000000);
    sf_sim_set_link(s->sim, &link);
    return 0;
}

/* One address of a host, at the top of the stack, checked (idx names the
 * argument in messages). */
static sf_addr host_addr(lua_State *L, int idx)
{
    sf_addr a = {{0}};
    if (lua_type(L, -1) != LUA_TSTRING || sf_addr_parse(lua_tostring(L, -1), &a) != 0)
        luaL_argerror(L, idx,
                      lua_pushfstring(L,
                                      "an IPv4 or IPv6 address such as \"192.0.2.1\" or "
                                      "\"2001:db8::1\" expected, got %s",
                                      shown(L, -1)));
    if (!sf_addr_is_unicast(a))
        script_error(L,
                     "synfin: a host cannot be at %s: not a unicast address (0.0.0.0/8, "
                     "multicast 224.0.0.0/4 and 240.0.0.0/4 with the broadcast address, "
                     "IPv6's unspecified :: and multicast ff00::/8 are no TCP endpoints, "
                     "RFC 1122 §4.2.3.10, RFC 4291 §2.7)",
                     lua_tostring(L, -1));
    return a;
}

/* sim:add_host(ip | { ip, ... } [, settings | false]) -> host index; false
 * makes a bare peer. A host may have several addresses, of both families. */
static int l_sim_add_host(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    sf_addr addrs[SF_STACK_ADDRS];
    size_t n = 0;
    if (lua_istable(L, 2)) {
        lua_Integer len = luaL_len(L, 2);
        if (len < 1 || len > SF_STACK_ADDRS)
            return script_error(L, "synfin: a host has 1 to %d addresses, got %d", SF_STACK_ADDRS,
                                (int)len);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_rawgeti(L, 2, i);
            addrs[n++] = host_addr(L, 2);
            lua_pop(L, 1);
        }
    } else {
        luaL_checkstring(L, 2);
        lua_pushvalue(L, 2);
        addrs[n++] = host_addr(L, 2);
        lua_pop(L, 1);
    }
    sf_config cfg;
    sf_config_default(&cfg);
    derive_secret(&cfg, s->seed, addr_seed(addrs[0]));
    int peer = lua_isboolean(L, 3) && !lua_toboolean(L, 3);
    if (!peer) read_config(L, 3, &cfg, SF_AT_HOST);
    for (size_t i = 0; i < n && !peer; i++)
        if (!sf_addr_is_v4(addrs[i]) && cfg.mtu < 1280)
            return script_error(L,
                                "synfin: setting 'mtu' must be at least 1280 on a host with an "
                                "IPv6 address (IPv6's minimum link MTU, RFC 8200 §5), got %d",
                                (int)cfg.mtu);
    int h = sf_sim_add_host(s->sim, addrs, n, peer ? NULL : &cfg);
    if (h < 0) return push_fail(L, h);
    lua_pushinteger(L, h + 1);
    return 1;
}

/* sim:host_addrs(host) -> the host's addresses as text, canonical
 * ("2001:db8::1"), the first first */
static int l_sim_host_addrs(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = check_host(L, s, 2);
    size_t n;
    const sf_addr *a = sf_sim_host_addrs(s->sim, host, &n);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lsf_push_addr(L, a[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_sim_now(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    lua_pushinteger(L, (lua_Integer)sf_sim_now(s->sim));
    return 1;
}

static int l_sim_next_time(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    uint64_t t = sf_sim_next_time(s->sim);
    if (t == UINT64_MAX)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)t);
    return 1;
}

/* sim:step(limit_us) -> true if it processed an instant at or before limit */
static int l_sim_step(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    lsf_check_not_busy(L, s, "moving the net's clock (a wait, net:step, net:run)");
    lua_Integer limit = luaL_checkinteger(L, 2);
    uint64_t until = limit < 0 ? 0 : (uint64_t)limit;
    /* the count hook that bounds the callbacks (see "callbacks"), set once
     * for all those of the step rather than by each (nothing here raises) */
    int hooked = 0;
    if ((s->budget > 0 || s->run_deadline < HUGE_VAL) && !lua_gethook(L)) {
        lua_sethook(L, frame_hook, LUA_MASKCOUNT, FRAME_CHECK);
        hooked = 1;
    }
    int stepped = s->rt ? sf_rt_step(s->rt, until) : sf_sim_step(s->sim, until);
    if (hooked && lua_gethook(L) == frame_hook) lua_sethook(L, NULL, 0, 0);
    lua_pushboolean(L, stepped);
    return 1;
}

/* sim:fd() -> the real-time net's fd to poll for reading, or nil on a sim */
static int l_sim_fd(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    if (!s->rt) return 0;
    lua_pushinteger(L, sf_rt_fd(s->rt));
    return 1;
}

/* sim:timeout() -> milliseconds until the real-time net's next event (0:
 * due now, -1: none pending), or nil on a sim */
static int l_sim_timeout(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    if (!s->rt) return 0;
    lua_pushinteger(L, sf_rt_timeout(s->rt));
    return 1;
}

/* sim:tun(name, kernel_addr, prefix, mtu, offload) -> the kernel's host
 * index, the device's name; or nil, the reason. kernel_addr IPv4 or IPv6;
 * prefix by default 24 or 64. offload: nil (the default, on), true or
 * false (sf_tun_config). The net runs in real time from now. */
static int l_sim_tun(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    lsf_check_not_busy(L, s, "opening a device");
    if (s->rt) return luaL_error(L, "the net has a device already");
    sf_tun_config cfg = {.name = luaL_optstring(L, 2, NULL),
                         .kernel_addr = check_addr(L, 3),
                         .prefix = (int)luaL_optinteger(L, 4, 0),
                         .mtu = (int)luaL_optinteger(L, 5, 0),
                         .offload = lua_isnoneornil(L, 6) ? 0
                                    : lua_toboolean(L, 6) ? 1
                                                          : -1};
    if (lua_isnoneornil(L, 4)) cfg.prefix = sf_addr_is_v4(cfg.kernel_addr) ? 24 : 64;
    char err[256] = "";
    s->tun = sf_tun_open(s->sim, NULL, &cfg, err, sizeof err);
    if (!s->tun) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    s->rt = sf_tun_rt(s->tun);
    lua_pushinteger(L, sf_tun_kernel_host(s->tun) + 1);
    lua_pushstring(L, sf_tun_name(s->tun));
    return 2;
}

/* sim:tun_stats() -> { rx_packets, tx_packets, tx_dropped, ignored, offload,
 * rx_super, rx_split, tx_super } or nil */
static int l_sim_tun_stats(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    if (!s->tun) return 0;
    sf_tun_stats st;
    sf_tun_get_stats(s->tun, &st);
    lua_createtable(L, 0, 8);
    set_int(L, "rx_packets", (lua_Integer)st.rx_packets);
    set_int(L, "tx_packets", (lua_Integer)st.tx_packets);
    set_int(L, "tx_dropped", (lua_Integer)st.tx_dropped);
    set_int(L, "ignored", (lua_Integer)sf_sim_ignored(s->sim));
    lua_pushboolean(L, st.offload);
    lua_setfield(L, -2, "offload");
    set_int(L, "rx_super", (lua_Integer)st.rx_super);
    set_int(L, "rx_split", (lua_Integer)st.rx_split);
    set_int(L, "tx_super", (lua_Integer)st.tx_super);
    return 1;
}

/* sim:raw(interface, peer_addr (IPv4 or IPv6), mac, mtu) -> the peer's host index, synfin's
 * MAC ("02:73:66:..."); or nil, the reason. mac: a 6-byte string or nil
 * (derived). The net runs in real time from now. */
static int l_sim_raw(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    lsf_check_not_busy(L, s, "opening a device");
    if (s->rt) return luaL_error(L, "the net has a device already");
    size_t maclen = 0;
    const char *mac = luaL_optlstring(L, 4, NULL, &maclen);
    luaL_argcheck(L, !mac || maclen == 6, 4, "a MAC is 6 bytes");
    sf_raw_config cfg = {.interface = luaL_checkstring(L, 2),
                         .peer_addr = check_addr(L, 3),
                         .mac = (const uint8_t *)mac,
                         .mtu = (int)luaL_optinteger(L, 5, 0)};
    char err[256] = "";
    s->raw = sf_raw_open(s->sim, NULL, &cfg, err, sizeof err);
    if (!s->raw) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    s->rt = sf_raw_rt(s->raw);
    const uint8_t *m = sf_raw_mac(s->raw);
    char text[18]; /* lua_pushfstring has no %02x */
    snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
             m[5]);
    lua_pushinteger(L, sf_raw_peer_host(s->raw) + 1);
    lua_pushstring(L, text);
    return 2;
}

/* sim:raw_stats() -> the counters of raw.h's sf_raw_stats, ignored (packets
 * no host took); or nil on another net */
static int l_sim_raw_stats(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    if (!s->raw) return 0;
    sf_raw_stats st;
    sf_raw_get_stats(s->raw, &st);
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {{"rx_packets", st.rx_packets},
             {"tx_packets", st.tx_packets},
             {"tx_dropped", st.tx_dropped},
             {"rx_not_for_us", st.rx_not_for_us},
             {"rx_other_type", st.rx_other_type},
             {"rx_malformed", st.rx_malformed},
             {"arp_requests_sent", st.arp_requests_sent},
             {"arp_replies_sent", st.arp_replies_sent},
             {"arp_requests_received", st.arp_requests_received},
             {"arp_replies_received", st.arp_replies_received},
             {"nd_solicitations_sent", st.nd_solicitations_sent},
             {"nd_advertisements_sent", st.nd_advertisements_sent},
             {"nd_solicitations_received", st.nd_solicitations_received},
             {"nd_advertisements_received", st.nd_advertisements_received},
             {"nd_invalid", st.nd_invalid},
             {"ignored", sf_sim_ignored(s->sim)}};
    lua_createtable(L, 0, (int)(sizeof f / sizeof f[0]));
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        lua_pushinteger(L, (lua_Integer)f[i].v);
        lua_setfield(L, -2, f[i].name);
    }
    return 1;
}

/* sim:pcap(path) -> true, or nil, message: records every packet to a pcapng
 * file from now on; sim:pcap(false) -> true, or nil, message: stops and
 * flushes (a no-op on a closed net, whose closing stopped it) */
static int l_sim_pcap(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    int stop = lua_isboolean(L, 2) && !lua_toboolean(L, 2);
    if (stop && !s->sim) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lsf_check_sim(L, 1);
    const char *path = stop ? NULL : luaL_checkstring(L, 2);
    char err[512];
    int rc = stop ? sf_sim_pcap_close(s->sim, err, sizeof err)
                  : sf_sim_pcap_open(s->sim, path, err, sizeof err);
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* sim:errors() -> the hook failures since the last call (a list of
 * strings), or nothing when there are none: it is asked after every event,
 * so the common answer makes no table */
static int l_sim_errors(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->errors);
    if (lua_rawlen(L, -1) == 0) return 0;
    lua_newtable(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, s->errors);
    return 1;
}

static int l_sim_note(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = lua_isnoneornil(L, 2) ? -1 : check_host(L, s, 2);
    sf_sim_note(s->sim, host, luaL_checkstring(L, 3));
    return 0;
}

static int l_sim_trace_len(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT); /* a closed net keeps its records */
    lua_pushinteger(L, (lua_Integer)lsf_trace(s)->n);
    return 1;
}

/* sim:keep_payloads(bool): whether the trace stores payload bytes (off for
 * bulk transfers: records keep their lengths, patterns on payload fail) */
static int l_sim_keep_payloads(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    sf_sim_trace(s->sim)->keep_payload = lua_toboolean(L, 2);
    return 0;
}

/* sim:keep_records(n): keep the last n records (at least; 0: all, the
 * default), for long runs in bounded memory. sim:trace_first(): the index of
 * the oldest record kept (1-based). */
static int l_sim_keep_records(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    lua_Integer n = check_int_in(L, 2, "argument", "records", 0, (lua_Integer)1 << 40);
    sf_trace_set_limit(sf_sim_trace(s->sim), (size_t)n);
    return 0;
}

static int l_sim_trace_first(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT); /* a closed net keeps its records */
    lua_pushinteger(L, (lua_Integer)lsf_trace(s)->first + 1);
    return 1;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

/* The header fields of a segment, absolute: what crafted segments are filled from. */
static void set_wire_fields(lua_State *L, const sf_seg *g)
{
    lsf_push_addr(L, g->saddr);
    lua_setfield(L, -2, "src");
    lsf_push_addr(L, g->daddr);
    lua_setfield(L, -2, "dst");
    set_int(L, "sport", g->sport);
    set_int(L, "dport", g->dport);
    set_int(L, "seq", g->seq);
    set_int(L, "ack", g->ack);
    lsf_push_flags(L, g->flags);
    lua_setfield(L, -2, "flags");
    set_int(L, "win", g->wnd);
    set_int(L, "len", g->len);
    if (g->mss) set_int(L, "mss", g->mss);
    if (g->wscale >= 0) set_int(L, "wscale", g->wscale);
    if (g->sack_perm) set_int(L, "sack_perm", 1);
    if (g->sack_n) { /* { { left, right }, ... }, absolute */
        lua_createtable(L, g->sack_n, 0);
        for (int b = 0; b < g->sack_n && b < 4; b++) {
            lua_createtable(L, 2, 0);
            lua_pushinteger(L, g->sack[b][0]);
            lua_rawseti(L, -2, 1);
            lua_pushinteger(L, g->sack[b][1]);
            lua_rawseti(L, -2, 2);
            lua_rawseti(L, -2, b + 1);
        }
        lua_setfield(L, -2, "sack");
    }
    if (g->has_ts) {
        set_int(L, "ts", 1);
        set_int(L, "ts_val", g->ts_val);
        set_int(L, "ts_ecr", g->ts_ecr);
    }
    if (g->flags & SF_URG) set_int(L, "urp", g->urp);
    set_int(L, "ttl", g->ttl);
    set_int(L, "tos", g->tos);
}

/* sim:isn(src, sport, dst, dport) -> the ISN of that direction seen on the
 * wire so far, or nil */
static int l_sim_isn(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    uint32_t isn;
    if (!sf_trace_isn(sf_sim_trace(s->sim), check_addr(L, 2), check_port(L, 3, 1), check_addr(L, 4),
                      check_port(L, 5, 1), &isn))
        return 0;
    lua_pushinteger(L, isn);
    return 1;
}

/* ---- segments from Lua tables ------------------------------------------------------------ */

/* The integer field k of the table at t, in lo..hi, or def when absent. */
static lua_Integer opt_field_int(lua_State *L, int t, const char *kind, const char *k,
                                 lua_Integer def, lua_Integer lo, lua_Integer hi)
{
    lua_getfield(L, t, k);
    lua_Integer v = lua_isnil(L, -1) ? def : check_int_in(L, -1, kind, k, lo, hi);
    lua_pop(L, 1);
    return v;
}

/* A segment's field of 16 or 32 bits. */
static uint16_t seg_u16(lua_State *L, int t, const char *k, lua_Integer def)
{
    return (uint16_t)opt_field_int(L, t, "segment field", k, def, 0, UINT16_MAX);
}
static uint32_t seg_u32(lua_State *L, int t, const char *k)
{
    return (uint32_t)opt_field_int(L, t, "segment field", k, 0, 0, UINT32_MAX);
}

/* A yes-or-no field: true or false, or 1 or 0 as records show sack_perm. */
static uint8_t seg_flag(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    int isint = 0;
    lua_Integer n = lua_tointegerx(L, -1, &isint);
    int yes = lua_toboolean(L, -1);
    if (lua_type(L, -1) == LUA_TNUMBER && isint && (n == 0 || n == 1))
        yes = n == 1;
    else if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        script_error(L, "synfin: segment field '%s' must be true or false, got %s", k,
                     shown(L, -1));
    lua_pop(L, 1);
    return (uint8_t)yes;
}

/* The address field k of the table at t (0.0.0.0 when absent). */
static sf_addr seg_addr(lua_State *L, int t, const char *k)
{
    sf_addr a = sf_addr_v4(0);
    lua_getfield(L, t, k);
    if (!lua_isnil(L, -1) &&
        (lua_type(L, -1) != LUA_TSTRING || sf_addr_parse(lua_tostring(L, -1), &a) != 0))
        script_error(L,
                     "synfin: segment field '%s' must be an IPv4 or IPv6 address such as "
                     "\"192.0.2.1\" or \"2001:db8::1\", got %s",
                     k, shown(L, -1));
    lua_pop(L, 1);
    return a;
}

/* The SACK blocks of the table at the top: { { left, right }, ... }, absolute. */
static void read_sack(lua_State *L, sf_seg *seg)
{
    int n = (int)lua_rawlen(L, -1);
    if (n > 4) script_error(L, "synfin: segment field 'sack' has at most 4 blocks, got %d", n);
    for (int b = 0; b < n; b++) {
        lua_rawgeti(L, -1, b + 1);
        if (!lua_istable(L, -1))
            script_error(L,
                         "synfin: segment field 'sack' must be a list of { left, right }, got %s "
                         "as block %d",
                         shown(L, -1), b + 1);
        for (int e = 0; e < 2; e++) {
            lua_rawgeti(L, -1, e + 1);
            seg->sack[b][e] = (uint32_t)check_int_in(L, -1, "segment field", "sack", 0, UINT32_MAX);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    seg->sack_n = (uint8_t)n;
}

/* Fills a segment from a table of absolute fields: src, dst, sport, dport,
 * seq, ack, flags, win, payload, mss, wscale, sack_perm, sack, ts_val/ts_ecr,
 * urp, ttl, tos, bad_checksum; each range-checked. The payload string stays
 * on the Lua stack. */
static void read_seg(lua_State *L, int t, sf_seg *seg)
{
    luaL_checktype(L, t, LUA_TTABLE);
    memset(seg, 0, sizeof *seg);
    seg->saddr = seg_addr(L, t, "src");
    seg->daddr = seg_addr(L, t, "dst");
    seg->sport = seg_u16(L, t, "sport", 0);
    seg->dport = seg_u16(L, t, "dport", 0);
    seg->seq = seg_u32(L, t, "seq");
    seg->ack = seg_u32(L, t, "ack");
    seg->wnd = seg_u16(L, t, "win", 65535);
    seg->urp = seg_u16(L, t, "urp", 0);
    /* options: absent unless given; an MSS option of 0 cannot be asked for */
    seg->mss = (uint16_t)opt_field_int(L, t, "segment field", "mss", 0, 1, UINT16_MAX);
    /* RFC 7323 §2.3: a shift above 14 is a peer's mistake that tests may make */
    seg->wscale = (int8_t)opt_field_int(L, t, "segment field", "wscale", -1, 0, INT8_MAX);
    seg->ttl = (uint8_t)opt_field_int(L, t, "segment field", "ttl", 64, 1, 255);
    seg->tos = (uint8_t)opt_field_int(L, t, "segment field", "tos", 0, 0, 255);
    lua_getfield(L, t, "flags");
    int flags = lua_isnil(L, -1)                 ? 0
                : lua_type(L, -1) == LUA_TSTRING ? sf_flags_parse(lua_tostring(L, -1))
                                                 : -1;
    if (flags < 0)
        script_error(L, "synfin: segment field 'flags' must be letters of SFRPAUEC, got %s",
                     shown(L, -1));
    seg->flags = (uint8_t)flags;
    lua_pop(L, 1);
    lua_getfield(L, t, "sack");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            script_error(L,
                         "synfin: segment field 'sack' must be a list of { left, right }, got %s",
                         shown(L, -1));
        read_sack(L, seg);
    }
    lua_pop(L, 1);
    seg->sack_perm = seg_flag(L, t, "sack_perm");
    seg->bad_csum = seg_flag(L, t, "bad_checksum");
    lua_getfield(L, t, "ts_val");
    seg->has_ts = !lua_isnil(L, -1);
    lua_pop(L, 1);
    seg->ts_val = seg_u32(L, t, "ts_val");
    seg->ts_ecr = seg_u32(L, t, "ts_ecr");
    lua_getfield(L, t, "payload");
    size_t len = 0;
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        script_error(L, "synfin: segment field 'payload' must be a string, got %s", shown(L, -1));
    seg->payload = (const uint8_t *)luaL_optlstring(L, -1, "", &len);
    if (len > 65000)
        script_error(L, "synfin: segment field 'payload' must be at most 65000 bytes, got %d",
                     (int)len);
    seg->len = (uint32_t)len;
    /* the payload string stays on the stack while the segment is in use */
}

/* sim:inject(host, "egress"|"ingress", seg) */
static int l_sim_inject(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = check_host(L, s, 2);
    static const char *const dirs[] = {"ingress", "egress", NULL};
    sf_dir dir = (sf_dir)luaL_checkoption(L, 3, NULL, dirs);
    sf_seg seg;
    read_seg(L, 4, &seg);
    int rc = sf_sim_inject(s->sim, host, dir, &seg);
    if (rc == SF_ELOOP) {
        lua_pushnil(L);
        lua_pushfstring(L, "egress hooks nested %d deep: does a hook send on its own path?",
                        SF_SIM_DEPTH_MAX);
        lua_pushinteger(L, rc);
        return 3;
    }
    if (rc < 0) return push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* sim:inject_icmp(host, { type, code, mtu, src, dst, q_src, q_dst, q_sport,
 * q_dport, q_seq }) */
static int l_sim_inject_icmp(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = check_host(L, s, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    sf_icmp m;
    memset(&m, 0, sizeof m);
    m.code = (uint8_t)opt_field_int(L, 3, "ICMP field", "code", 0, 0, 255);
    m.mtu = (uint32_t)opt_field_int(L, 3, "ICMP field", "mtu", 0, 0, UINT32_MAX);
    m.q_sport = (uint16_t)opt_field_int(L, 3, "ICMP field", "q_sport", 0, 0, UINT16_MAX);
    m.q_dport = (uint16_t)opt_field_int(L, 3, "ICMP field", "q_dport", 0, 0, UINT16_MAX);
    m.q_seq = (uint32_t)opt_field_int(L, 3, "ICMP field", "q_seq", 0, 0, UINT32_MAX);
    static const char *const addrs[] = {"src", "dst", "q_src", "q_dst"};
    sf_addr *slots[] = {&m.saddr, &m.daddr, &m.q_saddr, &m.q_daddr};
    for (int i = 0; i < 4; i++) {
        lua_getfield(L, 3, addrs[i]);
        if (!lua_isnil(L, -1) &&
            (lua_type(L, -1) != LUA_TSTRING || sf_addr_parse(lua_tostring(L, -1), slots[i]) != 0))
            return script_error(L,
                                "synfin: ICMP field '%s' must be an IPv4 or IPv6 address, got %s",
                                addrs[i], shown(L, -1));
        lua_pop(L, 1);
    }
    /* the message's family is its destination's: ICMPv6's destination
     * unreachable is type 1 (RFC 4443 §3.1), IPv4's type 3 */
    int v4 = sf_addr_is_v4(m.daddr);
    m.type = (uint8_t)opt_field_int(L, 3, "ICMP field", "type", v4 ? 3 : 1, 0, 255);
    if (v4 && m.mtu > UINT16_MAX)
        return script_error(L, "synfin: ICMP field 'mtu' is 16 bits in IPv4 (RFC 1191), got %u",
                            (unsigned)m.mtu);
    if (v4 != sf_addr_is_v4(m.q_saddr) || v4 != sf_addr_is_v4(m.q_daddr) ||
        (!sf_addr_is_zero(m.saddr) && v4 != sf_addr_is_v4(m.saddr)))
        return script_error(L, "synfin: an ICMP message and the packet it quotes have addresses "
                               "of one family, IPv4 or IPv6");
    int rc = sf_sim_inject_icmp(s->sim, host, &m);
    if (rc < 0) return push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- hooks ----------------------------------------------------------------------------- */

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static void hook_failed(lsim *s, lua_State *L, const char *msg)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->errors);
    lua_pushstring(L, msg);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
    lua_pop(L, 1);
}

/* Reads a hook's verdict from a table: exactly one of delay, dup, replace
 * and answer. */
static void read_verdict_table(lua_State *L, sf_verdict *v, uint8_t *packet)
{
    static const char *const keys[] = {"delay", "dup", "replace", "answer", NULL};
    const char *key = NULL;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0;
        for (int i = 0; k && keys[i]; i++)
            known |= strcmp(k, keys[i]) == 0;
        if (!known) luaL_error(L, "unknown key %s in its table", shown(L, -1));
        if (key) luaL_error(L, "its table has both '%s' and '%s': one verdict at a time", key, k);
        key = k; /* stays alive: a key of the table */
    }
    if (!key) luaL_error(L, "an empty table");
    lua_getfield(L, 1, key);
    if (strcmp(key, "delay") == 0) {
        v->kind = SF_DELAY;
        v->delay = check_time_in(L, -1, "verdict field", key, TIME_MAX_S);
    } else if (strcmp(key, "dup") == 0) {
        v->kind = SF_DUP;
        v->count = (uint32_t)check_int_in(L, -1, "verdict field", key, 1, 100);
    } else {
        /* { replace = seg } or { answer = seg }: a whole segment, absolute */
        if (!lua_istable(L, -1))
            luaL_error(L, "verdict field '%s' must be a segment, got %s", key, shown(L, -1));
        sf_seg seg;
        read_seg(L, lua_gettop(L), &seg);
        int n = sf_wire_build(packet, SF_HOOK_PACKET, &seg);
        if (n < 0) luaL_error(L, "its segment does not fit in a packet");
        v->kind = strcmp(key, "replace") == 0 ? SF_REPLACE : SF_ANSWER;
        v->pkt = packet;
        v->len = (size_t)n;
    }
}

static const char to_verdict_key = 0; /* the registry: the Lua side's verdict maker */

/* lua_pcall'ed: the value at 1 (what a hook returned) into the verdict at 2
 * (light userdata), a built packet into the buffer at 3; any other shape
 * raises, saying what it got and what it may be. */
static int read_verdict(lua_State *L)
{
    sf_verdict *v = lua_touserdata(L, 2);
    v->kind = SF_PASS;
    if (lua_isnil(L, 1)) return 0;
    if (lua_type(L, 1) == LUA_TSTRING) {
        if (strcmp(lua_tostring(L, 1), "pass") == 0) return 0;
        if (strcmp(lua_tostring(L, 1), "drop") == 0) {
            v->kind = SF_DROP;
            return 0;
        }
    } else if (lua_istable(L, 1)) {
        /* a Seg (seg:with) or { answer = Seg }: the Lua side's tables of
         * relative numbers, made absolute there */
        if (lua_rawgetp(L, LUA_REGISTRYINDEX, &to_verdict_key) == LUA_TFUNCTION) {
            lua_pushvalue(L, 1);
            lua_call(L, 1, 1);
            lua_replace(L, 1);
        } else {
            lua_pop(L, 1);
        }
        read_verdict_table(L, v, lua_touserdata(L, 3));
        return 0;
    }
    return luaL_error(L,
                      "got %s; a verdict is nil, \"pass\", \"drop\", { delay = seconds }, "
                      "{ dup = n }, seg:with{...} or { answer = seg:reply{...} }",
                      shown(L, 1));
}

static void describe_hook(const frame *f, char *out, size_t len)
{
    const lhook *k = f->describe_ud;
    char addr[SF_ADDR_STRLEN] = "?";
    if (k->s->sim) sf_addr_str(sf_sim_host_addr(k->s->sim, k->host), addr);
    snprintf(out, len, "hook %u (%s of %s)", f->describe_id,
             k->dir == SF_EGRESS ? "egress" : "ingress", addr);
}

/* Enters the frame a hook's function or predicate runs in, named (when a
 * message needs it) by describe_hook. */
static void hook_frame_enter(lua_State *L, frame *f, lhook *k, const sf_hook_ctx *ctx)
{
    f->describe = describe_hook;
    f->describe_ud = k;
    f->describe_id = ctx->hook_id;
    frame_enter(f, k->s, L, "hook");
}

/* A hook's `when` predicate (sf_hook.match), in a frame, with a view of the
 * segment: part of the filter, so that a segment it refuses is neither
 * counted (after, count) nor fired on. An error: not a match, recorded. */
static int hook_when(void *ud, const sf_hook_ctx *ctx)
{
    lhook *k = ud;
    lua_State *L = k->s->L;
    int top = lua_gettop(L);
    lua_pushcfunction(L, traceback);
    lsf_push_seg(L, k->s, ctx); /* at top + 2, kept to expire after the call */
    lua_rawgeti(L, LUA_REGISTRYINDEX, k->when);
    lua_pushvalue(L, top + 2);
    frame f;
    hook_frame_enter(L, &f, k, ctx);
    int rc = lua_pcall(L, 1, 1, top + 1);
    frame_leave(&f);
    lsf_seg_expire(L, top + 2);
    k->s->L = L;
    int yes = rc == LUA_OK && lua_toboolean(L, -1);
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        hook_failed(k->s, L,
                    lua_pushfstring(L, "hook %d failed on segment %d: its when: %s",
                                    (int)ctx->hook_id, (int)ctx->seg_no, msg ? msg : "?"));
    }
    lua_settop(L, top);
    return rc != LUA_OK ? -1 : yes;
}

/* Runs the Lua function of a hook, in a frame, with a view of the segment
 * (lview.c); its result becomes the verdict (read_verdict). An error, or a
 * verdict of another shape, is a failed hook: the segment passes, and the
 * failure is recorded. */
static int hook_call(void *ud, const sf_hook_ctx *ctx, sf_verdict *v)
{
    lhook *k = ud;
    lua_State *L = k->s->L;
    int top = lua_gettop(L);
    lua_pushcfunction(L, traceback);
    /* a function that takes no segment gets none: no view is made */
    if (k->fn_takes_seg)
        lsf_push_seg(L, k->s, ctx);
    else
        lua_pushnil(L);
    int seg = top + 2;
    frame f;
    hook_frame_enter(L, &f, k, ctx);
    int rc = LUA_OK, bad = 0;
    v->kind = SF_PASS;
    {
        lua_pushcfunction(L, read_verdict); /* (a light C function: no allocation) */
        lua_rawgeti(L, LUA_REGISTRYINDEX, k->fn);
        if (k->fn_takes_seg) lua_pushvalue(L, seg);
        rc = lua_pcall(L, k->fn_takes_seg ? 1 : 0, 1, top + 1);
        if (rc == LUA_OK && lua_isnil(L, -1)) {
            /* the common verdict, read at once: pass */
        } else if (rc == LUA_OK) { /* read_verdict(result, v, packet) */
            lua_pushlightuserdata(L, v);
            lua_pushlightuserdata(L, k->s->packet);
            bad = lua_pcall(L, 3, 0, 0) != LUA_OK;
        }
    }
    frame_leave(&f);
    if (k->fn_takes_seg) lsf_seg_expire(L, seg); /* its payload is the trace's from now on */
    /* the hook may have called the net from a coroutine of its own, which
     * made that thread the net's: the next hook must not run on it once it
     * is finished or suspended (found by fuzz_lua) */
    k->s->L = L;
    if (rc != LUA_OK || bad) {
        const char *msg = lua_tostring(L, -1);
        hook_failed(k->s, L,
                    lua_pushfstring(L, "hook %d %s on segment %d: %s", (int)ctx->hook_id,
                                    bad ? "returned a bad verdict" : "failed", (int)ctx->seg_no,
                                    msg ? msg : "?"));
        v->kind = SF_PASS;
    }
    lua_settop(L, top);
    return rc != LUA_OK || bad ? -1 : 0;
}

static void hook_release(void *ud)
{
    lhook *k = ud;
    luaL_unref(k->s->L, LUA_REGISTRYINDEX, k->fn);
    luaL_unref(k->s->L, LUA_REGISTRYINDEX, k->when);
    free(k);
}

/* sim:hook(host, dir, filter, fn[, when]) -> hook id
 * filter: flags ("F", "=FA"), conn (id), state (name), sport, dport, after,
 * count, p; when(seg): a predicate asked before fn */
static int l_sim_hook(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = check_host(L, s, 2);
    static const char *const dirs[] = {"ingress", "egress", NULL};
    sf_dir dir = (sf_dir)luaL_checkoption(L, 3, NULL, dirs);
    luaL_checktype(L, 4, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TFUNCTION);
    if (!lua_isnoneornil(L, 6)) luaL_checktype(L, 6, LUA_TFUNCTION);
    sf_filter f;
    sf_filter_init(&f);
    lua_getfield(L, 4, "flags");
    if (!lua_isnil(L, -1) &&
        (lua_type(L, -1) != LUA_TSTRING || sf_filter_flags(&f, lua_tostring(L, -1)) != 0))
        return script_error(L,
                            "synfin: hook filter 'flags' must be letters of SFRPAUEC ('=' first: "
                            "exactly these), got %s",
                            shown(L, -1));
    lua_getfield(L, 4, "state");
    if (!lua_isnil(L, -1)) {
        f.state = lua_type(L, -1) == LUA_TSTRING ? sf_state_from_name(lua_tostring(L, -1)) : -1;
        if (f.state < 0)
            return script_error(L, "synfin: hook filter 'state' must be a state name, got %s",
                                shown(L, -1));
    }
    lua_getfield(L, 4, "p");
    if (!lua_isnil(L, -1)) {
        f.p = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(f.p >= 0 && f.p <= 1))
            return script_error(L, "synfin: hook filter 'p' must be a probability in 0..1, got %s",
                                shown(L, -1));
    }
    lua_pop(L, 3);
    f.conn_id = (uint32_t)opt_field_int(L, 4, "hook filter", "conn", 0, 0, UINT32_MAX);
    f.sport = (uint16_t)opt_field_int(L, 4, "hook filter", "sport", 0, 0, UINT16_MAX);
    f.dport = (uint16_t)opt_field_int(L, 4, "hook filter", "dport", 0, 0, UINT16_MAX);
    f.after = (uint32_t)opt_field_int(L, 4, "hook filter", "after", 0, 0, UINT32_MAX);
    f.count = (uint32_t)opt_field_int(L, 4, "hook filter", "count", 0, 0, UINT32_MAX);

    lhook *k = malloc(sizeof *k);
    if (!k) return luaL_error(L, "out of memory");
    k->s = s;
    k->host = host;
    k->dir = dir;
    lua_pushvalue(L, 5);
    lua_Debug ar;
    lua_getinfo(L, ">u", &ar); /* (pops the copy) */
    k->fn_takes_seg = ar.nparams > 0 || ar.isvararg;
    lua_pushvalue(L, 5);
    k->fn = luaL_ref(L, LUA_REGISTRYINDEX);
    k->when = LUA_NOREF;
    if (!lua_isnoneornil(L, 6)) {
        lua_pushvalue(L, 6);
        k->when = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    sf_hook *hook = sf_hooks_add(sf_sim_hooks(s->sim, host), dir, &f, hook_call, k, hook_release);
    if (!hook) {
        hook_release(k);
        return luaL_error(L, "out of memory");
    }
    if (k->when != LUA_NOREF) hook->match = hook_when;
    lua_pushinteger(L, hook->id);
    return 1;
}

static sf_hook *check_hook(lua_State *L, lsim *s)
{
    int host = check_host(L, s, 2);
    sf_hook *k = sf_hooks_find(sf_sim_hooks(s->sim, host), (uint32_t)luaL_checkinteger(L, 3));
    return k;
}

static int l_sim_hook_remove(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    sf_hook *k = check_hook(L, s);
    if (k) sf_hooks_remove(sf_sim_hooks(s->sim, check_host(L, s, 2)), k);
    lua_pushboolean(L, k != NULL);
    return 1;
}

static int l_sim_hook_stats(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    sf_hook *k = check_hook(L, s);
    if (!k) return 0;
    lua_createtable(L, 0, 4);
    set_int(L, "matched", k->matched);
    set_int(L, "fired", k->fired);
    set_int(L, "dropped", k->dropped);
    set_int(L, "delayed", k->delayed);
    set_int(L, "replaced", k->replaced);
    set_int(L, "duplicated", k->duplicated);
    return 1;
}

/* ---- running the script's callbacks --------------------------------------------------- */

/* sim:call(kind, what, fn, ...) -> true, fn's results; or false, the error
 * with its traceback: fn(...) run as a callback of the net (a frame: see
 * "callbacks"), kind one of "state callback", "close policy", "pattern", what
 * its name in messages */
static int l_sim_call(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    const char *kind = luaL_checkstring(L, 2);
    const char *what = luaL_checkstring(L, 3);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 4;
    lua_pushcfunction(L, traceback);
    lua_replace(L, 2); /* the message handler, where kind was */
    frame f;
    f.describe = NULL;
    snprintf(f.what, sizeof f.what, "%s", what);
    snprintf(f.kind_buf, sizeof f.kind_buf, "%s", kind); /* kind's string leaves the stack */
    frame_enter(&f, s, L, f.kind_buf);
    int rc = lua_pcall(L, nargs, LUA_MULTRET, 2);
    frame_leave(&f);
    lua_pushboolean(L, rc == LUA_OK);
    lua_replace(L, 3); /* where what was */
    return lua_gettop(L) - 2;
}

/* sim:resume(co, ...) -> as coroutine.resume, the coroutine running as the
 * net's scenario (a frame: see "callbacks") until it waits or ends */
static int l_sim_resume(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    lua_State *co = lua_tothread(L, 2);
    luaL_argcheck(L, co, 2, "coroutine expected");
    int nargs = lua_gettop(L) - 2;
    if (!lua_checkstack(co, nargs)) return luaL_error(L, "too many arguments to resume");
    lua_xmove(L, co, nargs);
    frame f;
    f.describe = NULL;
    snprintf(f.what, sizeof f.what, "the scenario");
    frame_enter(&f, s, co, "scenario");
    int nres = 0;
    int rc = lua_resume(co, L, nargs, &nres);
    frame_leave(&f);
    if (rc != LUA_OK && rc != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_xmove(co, L, 1); /* the error */
        return 2;
    }
    if (!lua_checkstack(L, nres + 1)) return luaL_error(L, "too many results to resume");
    lua_pushboolean(L, 1);
    lua_xmove(co, L, nres);
    return nres + 1;
}

/* sim:busy() -> the kind and the name of the innermost callback of the net
 * that is running ("hook", "hook 3 (ingress of 192.0.2.2)"), or nothing */
static int l_sim_busy(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT); /* a closed net runs nothing */
    frame *f = busy_frame(s);
    if (!f) return 0;
    lua_pushstring(L, f->kind);
    lua_pushstring(L, frame_what(f));
    return 2;
}

/* A time in seconds, or false/nil for none: 0. */
static double check_limit(lua_State *L, int idx, const char *name)
{
    if (lua_isnoneornil(L, idx) || (lua_isboolean(L, idx) && !lua_toboolean(L, idx))) return 0;
    lua_Number t = lua_tonumber(L, idx);
    if (lua_type(L, idx) != LUA_TNUMBER || !(t > 0 && t <= 1e6))
        script_error(
            L, "synfin: setting '%s' must be a time in seconds in (0, 1e+06], or false, got %s",
            name, shown(L, idx));
    return t;
}

/* sim:set_budget(seconds | false): each callback's wall-clock budget */
static int l_sim_set_budget(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    s->budget = check_limit(L, 2, "callback_budget");
    return 0;
}

/* sim:set_time_limit(seconds | false): the scenario's run ends by now +
 * seconds (its callbacks with it); false: no limit */
static int l_sim_set_time_limit(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    s->time_limit = check_limit(L, 2, "time_limit");
    s->run_deadline = s->time_limit > 0 ? lsf_mono_now() + s->time_limit : HUGE_VAL;
    return 0;
}

/* sim:over_time() -> nil, or the time limit (seconds) the run went past */
static int l_sim_over_time(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    if (lsf_mono_now() < s->run_deadline) return 0;
    lua_pushnumber(L, s->time_limit);
    return 1;
}

/* ---- connections ----------------------------------------------------------------------- */

/* One userdata per connection: a weak table, the net's user value, maps the
 * C pointer to its userdata, so that a connection met twice (connect, then a
 * lookup) is the same Lua value, and is released once. */
void lsf_push_conn(lua_State *L, int sim_idx, lsim *s, int host, sf_conn *c)
{
    sim_idx = lua_absindex(L, sim_idx);
    lua_getiuservalue(L, sim_idx, 1);
    if (lua_rawgetp(L, -1, c) == LUA_TUSERDATA) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    lconn *lc = lua_newuserdatauv(L, sizeof *lc, 1);
    lc->c = c;
    lc->s = s;
    lc->host = host;
    luaL_setmetatable(L, CONN_MT);
    lua_pushvalue(L, sim_idx);
    lua_setiuservalue(L, -2, 1); /* the net lives as long as its connections */
    sf_conn_hold(c);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, -3, c);
    lua_remove(L, -2);
}

static void push_conn_row(void *ud, const sf_conn *c)
{
    lua_State *L = ud;
    sf_conn_info i;
    sf_conn_status(c, &i);
    lua_createtable(L, 0, 8);
    set_str(L, "state", sf_state_name(i.state));
    set_int(L, "id", i.id);
    lsf_push_addr(L, i.laddr);
    lua_setfield(L, -2, "laddr");
    set_int(L, "lport", i.lport);
    lsf_push_addr(L, i.raddr);
    lua_setfield(L, -2, "raddr");
    set_int(L, "rport", i.rport);
    set_int(L, "send_q", i.snd_queued);
    set_int(L, "recv_q", i.rcv_queued);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
}

/* sim:connections(host) -> a list of rows, one per connection (no handles) */
static int l_sim_connections(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = check_host(L, s, 2);
    lua_newtable(L);
    sf_stack *st = sf_sim_stack(s->sim, host);
    if (st) sf_stack_foreach(st, push_conn_row, L);
    return 1;
}

/* The local address at idx, or the host's first of raddr's family. */
static sf_addr opt_laddr(lua_State *L, int idx, lsim *s, int host, sf_addr raddr)
{
    return lua_isnoneornil(L, idx) ? sf_sim_host_addr_like(s->sim, host, raddr)
                                   : check_addr(L, idx);
}

/* sim:lookup(host, raddr, rport, lport [, laddr]) -> the connection with
 * that 4-tuple (or the listener of lport), held for Lua, or nil; laddr by
 * default the host's first address of raddr's family */
static int l_sim_lookup(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = check_host(L, s, 2);
    sf_stack *st = check_stack(L, s, host);
    sf_addr raddr = check_addr(L, 3);
    sf_conn *c = sf_stack_lookup(st, opt_laddr(L, 6, s, host, raddr), raddr, check_port(L, 5, 0),
                                 check_port(L, 4, 0));
    if (!c) return 0;
    lsf_push_conn(L, 1, s, host, c);
    return 1;
}

/* Pushes the segment c would send now with the flags at index idx ("A" by
 * default) and no data, as a table of absolute fields (sf_conn_craft): what
 * crafted segments are filled from. */
static int push_header(lua_State *L, lsim *s, const sf_conn *c, int idx)
{
    int flags = sf_flags_parse(luaL_optstring(L, idx, "A"));
    if (flags < 0)
        return script_error(L, "synfin: segment field 'flags' must be letters of SFRPAUEC, got %s",
                            shown(L, idx));
    sf_seg seg;
    sf_conn_craft(c, sf_sim_now(s->sim), (uint8_t)flags, &seg);
    lua_createtable(L, 0, 16);
    set_wire_fields(L, &seg);
    return 1;
}

/* sim:header(host, raddr, rport, lport [, flags [, laddr]]) -> what the
 * connection with that 4-tuple would send now (as conn:header), or nil when
 * there is none (a listener is none); the connection is not held */
static int l_sim_header(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = check_host(L, s, 2);
    sf_stack *st = check_stack(L, s, host);
    sf_addr raddr = check_addr(L, 3);
    sf_conn *c = sf_stack_lookup(st, opt_laddr(L, 7, s, host, raddr), raddr, check_port(L, 5, 0),
                                 check_port(L, 4, 0));
    if (!c || sf_conn_state(c) == SF_LISTEN) return 0;
    return push_header(L, s, c, 6);
}

lconn *lsf_check_conn(lua_State *L, int idx)
{
    lconn *lc = luaL_checkudata(L, idx, CONN_MT);
    if (!lc->s->sim) script_error(L, "synfin: the net of this connection is closed");
    if (!lc->c) script_error(L, "synfin: the connection was released (its handle was collected)");
    lc->s->L = L;
    return lc;
}

/* sim:listen(host, port [, backlog [, settings]]) -> listener */
static int l_sim_listen(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = check_host(L, s, 2);
    sf_stack *st = check_stack(L, s, host);
    uint16_t port = check_port(L, 3, 0);
    const sf_setting *b = sf_setting_find("backlog");
    int backlog = lua_isnoneornil(L, 4) ? 0
                                        : (int)check_int_in(L, 4, "setting", b->name,
                                                            (lua_Integer)b->lo, (lua_Integer)b->hi);
    sf_config cfg;
    sf_config_default(&cfg);
    cfg.policy = sf_stack_config(st)->policy;
    read_config(L, 5, &cfg, SF_AT_LISTEN); /* inherited by every connection it spawns */
    int err;
    sf_conn *l = sf_listen(st, sf_sim_now(s->sim), port, backlog, &cfg.policy, &err);
    if (!l) return push_fail(L, err);
    lsf_push_conn(L, 1, s, host, l);
    return 1;
}

/* sim:connect(host, ip, port [, sport [, settings [, laddr]]]) -> conn;
 * laddr nil: the host's first address of ip's family (MUST-44) */
static int l_sim_connect(lua_State *L)
{
    lsim *s = lsf_check_sim(L, 1);
    int host = check_host(L, s, 2);
    sf_stack *st = check_stack(L, s, host);
    sf_addr raddr = check_addr(L, 3);
    sf_addr laddr;
    int given = !lua_isnoneornil(L, 7);
    if (given) laddr = check_addr(L, 7);
    uint16_t rport = check_port(L, 4, 0);
    uint16_t lport = lua_isnoneornil(L, 5) ? 0 : check_port(L, 5, 1);
    sf_config cfg;
    sf_config_default(&cfg);
    cfg.policy = sf_stack_config(st)->policy;
    read_config(L, 6, &cfg, SF_AT_CONNECT); /* settings apply from the first SYN on */
    int err;
    sf_conn *c = sf_connect(st, sf_sim_now(s->sim), given ? &laddr : NULL, raddr, rport, lport,
                            &cfg.policy, &err);
    if (!c) return push_fail(L, err);
    sf_sim_flush(s->sim, host);
    lsf_push_conn(L, 1, s, host, c);
    return 1;
}

static int l_conn_accept(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    sf_conn *c = sf_accept(lc->c);
    if (!c) return 0;
    lua_getiuservalue(L, 1, 1);
    lsf_push_conn(L, lua_gettop(L), lc->s, lc->host, c);
    return 1;
}

/* conn:sim() -> the net (sim userdata) this connection belongs to */
static int l_conn_sim(lua_State *L)
{
    lsf_check_conn(L, 1);
    lua_getiuservalue(L, 1, 1);
    return 1;
}

static int l_conn_state(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    lua_pushstring(L, sf_state_name(sf_conn_state(lc->c)));
    return 1;
}

static int l_conn_id(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    lua_pushinteger(L, sf_conn_id(lc->c));
    return 1;
}

static int l_conn_host(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    lua_pushinteger(L, lc->host + 1);
    return 1;
}

static int l_conn_send(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    int urgent = 0;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "urgent");
        urgent = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    uint64_t now = sf_sim_now(lc->s->sim);
    int n = urgent ? sf_send_urgent(lc->c, now, data, len) : sf_send(lc->c, now, data, len);
    sf_sim_flush(lc->s->sim, lc->host);
    if (n < 0) return push_fail(L, n);
    lua_pushinteger(L, n);
    return 1;
}

/* conn:read([max [, {peek = true}]]) -> data | nil, "end of stream"|message,
 * code; never waits. peek copies without consuming (sf_recv_peek). */
static int l_conn_read(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    lua_Integer max =
        lua_isnoneornil(L, 2) ? 65536 : check_int_in(L, 2, "argument", "max", 1, 1 << 30);
    bool peek = false;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "peek");
        peek = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    /* no more room than what is queued: read(2^30) must not cost a GiB
     * (found by fuzz_lua) */
    sf_conn_info info;
    sf_conn_status(lc->c, &info);
    if (max > (lua_Integer)info.rcv_queued) max = info.rcv_queued > 0 ? info.rcv_queued : 1;
    luaL_Buffer b;
    char *buf = luaL_buffinitsize(L, &b, (size_t)max);
    uint64_t now = sf_sim_now(lc->s->sim);
    int n =
        peek ? sf_recv_peek(lc->c, now, buf, (size_t)max) : sf_recv(lc->c, now, buf, (size_t)max);
    sf_sim_flush(lc->s->sim, lc->host);
    if (n > 0) {
        luaL_pushresultsize(&b, (size_t)n);
        return 1;
    }
    if (n == 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "end of stream");
        lua_pushinteger(L, 0);
        return 3;
    }
    return push_fail(L, n);
}

static int conn_call(lua_State *L, int (*fn)(sf_conn *, uint64_t))
{
    lconn *lc = lsf_check_conn(L, 1);
    int rc = fn(lc->c, sf_sim_now(lc->s->sim));
    sf_sim_flush(lc->s->sim, lc->host);
    if (rc < 0) return push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_conn_close(lua_State *L)
{
    return conn_call(L, sf_close);
}
static int l_conn_abort(lua_State *L)
{
    return conn_call(L, sf_abort);
}

static int l_conn_forget(lua_State *L)
{
    return conn_call(L, sf_forget);
}

/* conn:close_with(data): the last data and the FIN together */
static int l_conn_close_with(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    int rc = sf_close_with(lc->c, sf_sim_now(lc->s->sim), data, len);
    sf_sim_flush(lc->s->sim, lc->host);
    if (rc < 0) return push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_conn_info(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    sf_conn_info i;
    sf_conn_status(lc->c, &i);
    lua_createtable(L, 0, 24);
    set_str(L, "state", sf_state_name(i.state));
    set_int(L, "id", i.id);
    lsf_push_addr(L, i.laddr);
    lua_setfield(L, -2, "laddr");
    lsf_push_addr(L, i.raddr);
    lua_setfield(L, -2, "raddr");
    set_int(L, "lport", i.lport);
    set_int(L, "rport", i.rport);
    set_int(L, "iss", i.iss);
    set_int(L, "irs", i.irs);
    set_int(L, "snd_una", i.snd_una);
    set_int(L, "snd_nxt", i.snd_nxt);
    set_int(L, "snd_wnd", i.snd_wnd);
    set_int(L, "rcv_nxt", i.rcv_nxt);
    set_int(L, "rcv_wnd", i.rcv_wnd);
    set_int(L, "snd_queued", i.snd_queued);
    set_int(L, "rcv_queued", i.rcv_queued);
    lua_pushnumber(L, i.rto / 1e6);
    lua_setfield(L, -2, "rto");
    lua_pushnumber(L, i.srtt / 1e6);
    lua_setfield(L, -2, "srtt");
    set_int(L, "retransmits", i.retransmits);
    set_int(L, "segs_in", i.segs_in);
    set_int(L, "segs_out", i.segs_out);
    set_int(L, "bytes_in", (lua_Integer)i.bytes_in);
    set_int(L, "bytes_out", (lua_Integer)i.bytes_out);
    if (i.error) set_str(L, "error", sf_strerror(i.error));
    lua_pushboolean(L, i.peer_closed);
    lua_setfield(L, -2, "peer_closed");
    set_int(L, "urgent", i.urgent);
    set_int(L, "cwnd", i.cwnd);
    set_int(L, "ssthresh", i.ssthresh);
    return 1;
}

/* conn:header([flags]) -> the segment the connection would send now */
static int l_conn_header(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    return push_header(L, lc->s, lc->c, 2);
}

/* conn:set(settings): the connection's own policy from now on */
static int l_conn_set(lua_State *L)
{
    lconn *lc = lsf_check_conn(L, 1);
    sf_config cfg;
    sf_config_default(&cfg);
    sf_policy before = *sf_conn_policy(lc->c);
    cfg.policy = before;
    /* (those made with the connection are refused below, by name) */
    read_config(L, 2, &cfg, SF_AT_SET | SF_AT_CONNECT);
    /* some shape the connection when it is made (core/settings.c: not
     * SF_AT_SET): changing them later would be silently ignored, so it is
     * refused */
    sf_config made;
    made.policy = before;
    size_t n, count = 0, listed = 0;
    const sf_setting *all = sf_settings(&n);
    /* a profile named here leaves them as they were made (only those named
     * themselves are refused) */
    for (size_t i = 0; i < n; i++) {
        if ((all[i].where & SF_AT_SET) || !(all[i].where & SF_AT_CONNECT)) continue;
        if (lua_getfield(L, 2, all[i].name) == LUA_TNIL)
            sf_setting_set(&all[i], &cfg, sf_setting_get(&all[i], &made));
        lua_pop(L, 1);
    }
    int changed = 0;
    for (size_t i = 0; i < n; i++)
        if (!(all[i].where & SF_AT_SET) && (all[i].where & SF_AT_CONNECT)) {
            changed |= sf_setting_get(&all[i], &cfg) != sf_setting_get(&all[i], &made);
            count++;
        }
    if (changed) {
        luaL_Buffer names; /* "rcv_buf, snd_buf, ... and timestamps" */
        luaL_buffinit(L, &names);
        for (size_t i = 0; i < n; i++)
            if (!(all[i].where & SF_AT_SET) && (all[i].where & SF_AT_CONNECT)) {
                if (listed > 0) luaL_addstring(&names, listed + 1 < count ? ", " : " and ");
                luaL_addstring(&names, all[i].name);
                listed++;
            }
        luaL_pushresult(&names);
        return luaL_error(L,
                          "%s are set when the connection is made (host, listen or connect "
                          "settings)",
                          lua_tostring(L, -1));
    }
    sf_conn_set_policy(lc->c, sf_sim_now(lc->s->sim), &cfg.policy);
    return 0;
}

/* local c <close> = host:connect(...): CLOSE when the variable goes out of
 * scope, if the connection can still be closed (a listener stops listening) */
static int l_conn_tbc(lua_State *L)
{
    lconn *lc = luaL_checkudata(L, 1, CONN_MT);
    if (!lc->c || !lc->s->sim) return 0;
    if (sf_state_can_close(sf_conn_state(lc->c))) {
        /* through the method, so that a close policy (set_close) decides */
        lua_getfield(L, 1, "close");
        lua_pushvalue(L, 1);
        lua_call(L, 1, 0);
    }
    return 0;
}

/* tostring(c): "<conn 192.0.2.1:49152 -> 192.0.2.2:80 ESTABLISHED>", a
 * listener "<listener 192.0.2.2:80 LISTEN>"; never raises */
static int l_conn_tostring(lua_State *L)
{
    lconn *lc = luaL_checkudata(L, 1, CONN_MT);
    if (!lc->c || !lc->s->sim) {
        lua_pushstring(L, lc->c ? "<conn of a closed net>" : "<conn released>");
        return 1;
    }
    sf_conn_info i;
    char la[SF_ENDPOINT_STRLEN], ra[SF_ENDPOINT_STRLEN];
    sf_conn_status(lc->c, &i);
    sf_endpoint_str(i.laddr, i.lport, la);
    sf_endpoint_str(i.raddr, i.rport, ra);
    if (i.rport == 0)
        lua_pushfstring(L, "<listener %s %s>", la, sf_state_name(i.state));
    else
        lua_pushfstring(L, "<conn %s -> %s %s>", la, ra, sf_state_name(i.state));
    return 1;
}

static int l_conn_gc(lua_State *L)
{
    lconn *lc = luaL_checkudata(L, 1, CONN_MT);
    /* the net's finaliser runs after ours (it was marked first), but a net
     * closed explicitly has already freed every connection */
    if (lc->c && lc->s->sim) sf_conn_release(lc->c);
    lc->c = NULL;
    return 0;
}

/* ---- the module ---------------------------------------------------------------------------- */

/* core.set_seg(Seg, to_verdict): the Lua side's segment methods, for the
 * views of hooks' segments, and its maker of verdicts from Seg tables */
static int l_set_seg(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &to_verdict_key);
    return lsf_set_seg_methods(L);
}

static int l_sizeof_conn(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sf_conn_sizeof());
    return 1;
}

static const luaL_Reg sim_methods[] = {{"close", l_sim_close},
                                       {"link", l_sim_link},
                                       {"add_host", l_sim_add_host},
                                       {"host_addrs", l_sim_host_addrs},
                                       {"now", l_sim_now},
                                       {"next_time", l_sim_next_time},
                                       {"step", l_sim_step},
                                       {"fd", l_sim_fd},
                                       {"timeout", l_sim_timeout},
                                       {"tun", l_sim_tun},
                                       {"tun_stats", l_sim_tun_stats},
                                       {"raw", l_sim_raw},
                                       {"raw_stats", l_sim_raw_stats},
                                       {"errors", l_sim_errors},
                                       {"pcap", l_sim_pcap},
                                       {"note", l_sim_note},
                                       {"trace_len", l_sim_trace_len},
                                       {"keep_payloads", l_sim_keep_payloads},
                                       {"isn", l_sim_isn},
                                       {"keep_records", l_sim_keep_records},
                                       {"trace_first", l_sim_trace_first},
                                       {"record", lsf_record},
                                       {"next_record", lsf_next_record},
                                       {"next_state", lsf_next_state},
                                       {"trace_get", lsf_trace_get},
                                       {"inject", l_sim_inject},
                                       {"hook", l_sim_hook},
                                       {"hook_remove", l_sim_hook_remove},
                                       {"hook_stats", l_sim_hook_stats},
                                       {"listen", l_sim_listen},
                                       {"connect", l_sim_connect},
                                       {"lookup", l_sim_lookup},
                                       {"header", l_sim_header},
                                       {"inject_icmp", l_sim_inject_icmp},
                                       {"connections", l_sim_connections},
                                       {"call", l_sim_call},
                                       {"resume", l_sim_resume},
                                       {"busy", l_sim_busy},
                                       {"set_budget", l_sim_set_budget},
                                       {"set_time_limit", l_sim_set_time_limit},
                                       {"over_time", l_sim_over_time},
                                       {NULL, NULL}};

static const luaL_Reg conn_methods[] = {{"try_accept", l_conn_accept},
                                        {"state", l_conn_state},
                                        {"id", l_conn_id},
                                        {"host", l_conn_host},
                                        {"send", l_conn_send},
                                        {"read", l_conn_read},
                                        {"sim", l_conn_sim},
                                        {"close", l_conn_close},
                                        {"abort", l_conn_abort},
                                        {"info", l_conn_info},
                                        {"set", l_conn_set},
                                        {"forget", l_conn_forget},
                                        {"close_with", l_conn_close_with},
                                        {"header", l_conn_header},
                                        {NULL, NULL}};

static void new_type(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}

int luaopen_synfin_core(lua_State *L)
{
    if (!state_of(L)) { /* (loaded once per state, unless package.loaded forgets it) */
        lsf_state *st = lua_newuserdatauv(L, sizeof *st, 0);
        memset(st, 0, sizeof *st);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &state_key); /* lives as long as the state */
    }
    new_type(L, SIM_MT, sim_methods, l_sim_gc);
    new_type(L, CONN_MT, conn_methods, l_conn_gc);
    lsf_views_open(L);
    luaL_getmetatable(L, CONN_MT);
    lua_pushcfunction(L, l_conn_tbc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_conn_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, l_sim_new);
    lua_setfield(L, -2, "sim");
    lua_pushcfunction(L, l_sizeof_conn);
    lua_setfield(L, -2, "sizeof_conn");
    lua_pushcfunction(L, l_set_seg);
    lua_setfield(L, -2, "set_seg");
    lua_pushcfunction(L, l_settings);
    lua_setfield(L, -2, "settings");
    lua_pushliteral(L, SF_VERSION);
    lua_setfield(L, -2, "version");
    lsf_match_open(L, -1);
    lsf_wait_open(L);
    /* the conn metatable's method table, for the Lua layer to extend */
    luaL_getmetatable(L, CONN_MT);
    lua_getfield(L, -1, "__index");
    lua_setfield(L, -3, "conn_methods");
    lua_pop(L, 1);
    return 1;
}
