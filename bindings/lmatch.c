/* lmatch.c - expectations' patterns for Lua: core.pattern(spec) compiles
 * a pattern (lua/synfin/pattern.lua normalizes the script's table into
 * spec: hosts as indices, flags as letters) into core/match.h's sf_pattern,
 * and the net's methods walk the trace with it in C. */
#include "lsynfin.h"

#include "../core/match.h"

#include <lauxlib.h>

#define PATTERN_MT "synfin.pattern_c"

typedef struct {
    sf_pattern p; /* p.payload: in the user value 1, a string the userdata keeps */
} lpattern;

static const struct {
    const char *name;
    uint32_t bit;
    size_t off;
} int_fields[] = {
    {"from", SF_PAT_FROM, offsetof(sf_pattern, from)},
    {"to", SF_PAT_TO, offsetof(sf_pattern, to)},
    {"seq", SF_PAT_SEQ, offsetof(sf_pattern, seq)},
    {"ack", SF_PAT_ACK, offsetof(sf_pattern, ack)},
    {"abs_seq", SF_PAT_ABS_SEQ, offsetof(sf_pattern, abs_seq)},
    {"abs_ack", SF_PAT_ABS_ACK, offsetof(sf_pattern, abs_ack)},
    {"len", SF_PAT_LEN, offsetof(sf_pattern, len)},
    {"win", SF_PAT_WIN, offsetof(sf_pattern, win)},
    {"sport", SF_PAT_SPORT, offsetof(sf_pattern, sport)},
    {"dport", SF_PAT_DPORT, offsetof(sf_pattern, dport)},
    {"mss", SF_PAT_MSS, offsetof(sf_pattern, mss)},
    {"n", SF_PAT_N, offsetof(sf_pattern, n)},
};

/* core.pattern(spec) -> a compiled pattern. spec's fields: from, to (host
 * indices, 0-based), flags (letters, "=" in front for exact), seq, ack,
 * abs_seq, abs_ack, len, win, sport, dport, mss, n (integers), conn and
 * conn_host (a connection's id and its host's index), injected (boolean),
 * payload (string). */
static int l_pattern(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lpattern *lp = lua_newuserdatauv(L, sizeof *lp, 1);
    sf_pattern *p = &lp->p;
    *p = (sf_pattern){0};
    for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++) {
        if (lua_getfield(L, 1, int_fields[i].name) != LUA_TNIL) {
            if (!lua_isinteger(L, -1))
                return luaL_error(L, "pattern field '%s' must be an integer", int_fields[i].name);
            *(int64_t *)(void *)((char *)p + int_fields[i].off) = lua_tointeger(L, -1);
            p->tests |= int_fields[i].bit;
        }
        lua_pop(L, 1);
    }
    if (lua_getfield(L, 1, "flags") != LUA_TNIL) {
        const char *f = lua_tostring(L, -1);
        if (!f || sf_pattern_flags(p, f) < 0)
            return luaL_error(L, "pattern field 'flags' must be letters of SFRPAUEC");
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "conn") != LUA_TNIL) {
        p->conn_id = (uint32_t)luaL_checkinteger(L, -1);
        lua_getfield(L, 1, "conn_host");
        p->conn_host = luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        p->tests |= SF_PAT_CONN;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "injected") != LUA_TNIL) {
        p->injected = lua_toboolean(L, -1);
        p->tests |= SF_PAT_INJECTED;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "payload") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "pattern field 'payload' must be a string");
        p->payload = (const uint8_t *)lua_tolstring(L, -1, &p->payload_len);
        p->tests |= SF_PAT_PAYLOAD;
        lua_setiuservalue(L, -2, 1); /* the string lives as long as the pattern */
    } else {
        lua_pop(L, 1);
    }
    luaL_setmetatable(L, PATTERN_MT);
    return 1;
}

static const sf_pattern *check_pattern(lua_State *L, int idx)
{
    return &((lpattern *)luaL_checkudata(L, idx, PATTERN_MT))->p;
}

static sf_match_mode check_mode(lua_State *L, int idx)
{
    static const char *const modes[] = {"unconsumed", "any", NULL};
    return luaL_checkoption(L, idx, "unconsumed", modes) == 0 ? SF_MATCH_UNCONSUMED : SF_MATCH_ANY;
}

static int push_index(lua_State *L, long i)
{
    if (i < 0) return 0;
    lua_pushinteger(L, (lua_Integer)i + 1);
    return 1;
}

/* A walk forward found nothing: nil, and the index the next walk may start
 * from (the records before it were all looked at). */
static int push_none(lua_State *L, const sf_trace *t)
{
    lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)(t->numbered > t->first ? t->numbered : t->first) + 1);
    return 2;
}

/* sim:match(from, pattern[, "unconsumed"|"any"]) -> the index (1-based) of
 * the first segment on the wire at or after from that matches; or nil and
 * the index to look from next time */
static int l_match(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    lua_Integer from = luaL_checkinteger(L, 2);
    const sf_pattern *p = check_pattern(L, 3);
    sf_match_mode mode = check_mode(L, 4);
    sf_trace *t = lsf_trace(s);
    long i = sf_match_next(t, from < 1 ? 0 : (size_t)from - 1, p, mode);
    return i < 0 ? push_none(L, t) : push_index(L, i);
}

/* sim:match_back(before, pattern[, mode]) -> the index of the last match
 * before index `before`, or nil */
static int l_match_back(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    lua_Integer before = luaL_checkinteger(L, 2);
    const sf_pattern *p = check_pattern(L, 3);
    sf_match_mode mode = check_mode(L, 4);
    if (before <= 1) return 0;
    return push_index(L, sf_match_prev(lsf_trace(s), (size_t)before - 1, p, mode));
}

/* sim:match_at(i, pattern) -> whether record i is on the wire and matches */
static int l_match_at(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    lua_Integer i = luaL_checkinteger(L, 2);
    const sf_pattern *p = check_pattern(L, 3);
    sf_trace *t = lsf_trace(s);
    sf_trace_number(t);
    const sf_trace_rec *r = sf_trace_at(t, (long)i - 1);
    lua_pushboolean(L, r && (size_t)i - 1 < t->numbered && sf_match_rec(t, r, p));
    return 1;
}

/* sim:consume(i): record i is an expectation's; sim:consumed(i) -> whether */
static int l_consume(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    sf_trace_rec *r = sf_trace_at(lsf_trace(s), (long)luaL_checkinteger(L, 2) - 1);
    if (r) r->consumed = 1;
    return 0;
}

static int l_consumed(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    const sf_trace_rec *r = sf_trace_at(lsf_trace(s), (long)luaL_checkinteger(L, 2) - 1);
    lua_pushboolean(L, r && r->consumed);
    return 1;
}

void lsf_match_open(lua_State *L, int core_idx)
{
    core_idx = lua_absindex(L, core_idx);
    luaL_newmetatable(L, PATTERN_MT);
    lua_pushliteral(L, "synfin.pattern");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_pattern);
    lua_setfield(L, core_idx, "pattern");
    static const luaL_Reg methods[] = {{"match", l_match},       {"match_back", l_match_back},
                                       {"match_at", l_match_at}, {"consume", l_consume},
                                       {"consumed", l_consumed}, {NULL, NULL}};
    luaL_getmetatable(L, SIM_MT);
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
}
