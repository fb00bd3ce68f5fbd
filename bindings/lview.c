/* lview.c - views of segments for Lua: a hook's segment is a small userdata
 * whose fields are read from C when the script asks, not a table of twenty
 * fields built for every segment whether the hook looks or not. A hook
 * that only drops SYNs costs one allocation; one that reads seq, ack and
 * len, three field reads.
 *
 * Numbers are as the records show them: seq and ack relative to the ISNs
 * the trace has seen (sf_trace_number), abs_seq and abs_ack as on the wire.
 * The payload is read in place while the hook runs; after it returns, from
 * the trace's copy (the net keeps payloads unless keep_payloads is off),
 * while the net is there: a view does not keep its net alive. */
#include "lsynfin.h"

#include "../core/trace.h"

#include <lauxlib.h>

#include <string.h>

#define SEG_VIEW_MT "synfin.seg_view"
#define RECORD_MT   "synfin.record"

#define IS(name) (strcmp(k, name) == 0) /* the key k is name */

static const char seg_methods_key = 0; /* the registry: the Lua side's Seg */
static const char nets_key = 0;        /* the registry: serial -> net userdata, weak */
static const char seg_mt_key = 0;      /* the registry: the views' metatable */

typedef struct {
    sf_seg seg;      /* seg.payload: valid while the hook runs, NULL after */
    lua_Integer net; /* its net's serial: the net is found by it (find_net) */
    long rec;        /* its record in the trace, -1 if none */
    uint64_t now;    /* when the hook saw it */
    uint32_t conn_id, seg_no, hook_id;
    uint32_t rel_seq, rel_ack;
    int state; /* its connection's, -1 if none */
    sf_dir dir;
} seg_view;

static lsim *find_net(lua_State *L, lua_Integer serial);

/* The payload while the hook runs, the trace's copy after; NULL when it is
 * gone (payloads not kept, or the net collected). */
static const uint8_t *view_payload(lua_State *L, const seg_view *v)
{
    if (v->seg.payload || v->seg.len == 0) return v->seg.payload;
    if (v->rec < 0) return NULL;
    lsim *s = find_net(L, v->net);
    if (!s) return NULL;
    const sf_trace *t = lsf_trace(s);
    const sf_trace_rec *r = sf_trace_at(t, v->rec);
    if (!r || r->text_len != v->seg.len) return NULL;
    return t->arena + r->text_off;
}

/* SACK blocks, less base (the ISN their numbers are relative to, or 0) */
static void push_sack(lua_State *L, const sf_seg *g, uint32_t base)
{
    lua_createtable(L, g->sack_n, 0);
    for (int b = 0; b < g->sack_n && b < 4; b++) {
        lua_createtable(L, 2, 0);
        lua_pushinteger(L, (uint32_t)(g->sack[b][0] - base));
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, (uint32_t)(g->sack[b][1] - base));
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, b + 1);
    }
}

/* Pushes the wire field k of segment g (relative numbers rel_seq, rel_ack),
 * or nothing (returns 0): the fields a record and a hook's view share. The
 * payload is not one of them (it lives in different places). */
static int push_wire_field(lua_State *L, const sf_seg *g, uint32_t rel_seq, uint32_t rel_ack,
                           const char *k)
{
    switch (k[0]) {
    case 'a':
        if (IS("ack")) return lua_pushinteger(L, rel_ack), 1;
        if (IS("abs_seq")) return lua_pushinteger(L, g->seq), 1;
        if (IS("abs_ack")) return lua_pushinteger(L, g->ack), 1;
        if (IS("abs_sack") && g->sack_n) return push_sack(L, g, 0), 1;
        break;
    case 'd':
        if (IS("dst")) return lsf_push_addr(L, g->daddr), 1;
        if (IS("dport")) return lua_pushinteger(L, g->dport), 1;
        break;
    case 'f':
        if (IS("flags")) return lsf_push_flags(L, g->flags), 1;
        break;
    case 'l':
        if (IS("len")) return lua_pushinteger(L, g->len), 1;
        break;
    case 'm':
        if (IS("mss") && g->mss) return lua_pushinteger(L, g->mss), 1;
        break;
    case 's':
        if (IS("seq")) return lua_pushinteger(L, rel_seq), 1;
        if (IS("src")) return lsf_push_addr(L, g->saddr), 1;
        if (IS("sport")) return lua_pushinteger(L, g->sport), 1;
        if (IS("sack") && g->sack_n) return push_sack(L, g, g->ack - rel_ack), 1;
        if (IS("sack_perm") && g->sack_perm) return lua_pushinteger(L, 1), 1;
        break;
    case 't':
        if (IS("ts") && g->has_ts) return lua_pushinteger(L, 1), 1;
        if (IS("ts_val") && g->has_ts) return lua_pushinteger(L, g->ts_val), 1;
        if (IS("ts_ecr") && g->has_ts) return lua_pushinteger(L, g->ts_ecr), 1;
        if (IS("ttl")) return lua_pushinteger(L, g->ttl), 1;
        if (IS("tos")) return lua_pushinteger(L, g->tos), 1;
        break;
    case 'u':
        if (IS("urp") && (g->flags & SF_URG)) return lua_pushinteger(L, g->urp), 1;
        break;
    case 'w':
        if (IS("win")) return lua_pushinteger(L, g->wnd), 1;
        if (IS("wscale") && g->wscale >= 0) return lua_pushinteger(L, g->wscale), 1;
        break;
    default: break;
    }
    return 0;
}

/* Pushes field k of the view, or nothing (returns 0) when it has none. */
static int push_field(lua_State *L, const seg_view *v, const char *k)
{
    if (push_wire_field(L, &v->seg, v->rel_seq, v->rel_ack, k)) return 1;
    if (IS("dir")) return lua_pushstring(L, v->dir == SF_EGRESS ? "egress" : "ingress"), 1;
    if (IS("time")) return lua_pushnumber(L, (lua_Number)v->now / 1e6), 1;
    if (IS("conn")) return v->conn_id ? (lua_pushinteger(L, v->conn_id), 1) : 0;
    if (IS("state"))
        return v->state >= 0 ? (lua_pushstring(L, sf_state_name((sf_state)v->state)), 1) : 0;
    if (IS("n")) return v->seg_no ? (lua_pushinteger(L, v->seg_no), 1) : 0;
    if (IS("hook")) return lua_pushinteger(L, v->hook_id), 1;
    if (IS("payload")) {
        const uint8_t *p = view_payload(L, v);
        if (!p && v->seg.len)
            return luaL_error(L,
                              "synfin: the payload of segment %d is gone: the hook has "
                              "returned and the net keeps no payloads (keep_payloads) or "
                              "is itself gone; copy seg.payload inside the hook",
                              (int)v->seg_no);
        return lua_pushlstring(L, p ? (const char *)p : "", v->seg.len), 1;
    }
    return 0;
}

/* Every field a view may have, for pairs() and seg:fields(). */
static const char *const field_names[] = {
    "dir",       "time",    "src",      "dst", "sport",  "dport",   "seq", "ack",
    "abs_seq",   "abs_ack", "flags",    "win", "len",    "payload", "mss", "wscale",
    "sack_perm", "sack",    "abs_sack", "ts",  "ts_val", "ts_ecr",  "urp", "ttl",
    "tos",       "conn",    "state",    "n",   "hook",   NULL};

static seg_view *check_view(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, SEG_VIEW_MT);
}

static int view_fields(lua_State *L);

static int view_index(lua_State *L)
{
    /* only Lua calls it, with a view: the metatable is out of scripts' reach
     * (__metatable), so the view needs no check by name on every field */
    const seg_view *v = lua_touserdata(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        if (push_field(L, v, k)) return 1;
        if (strcmp(k, "fields") == 0) return lua_pushcfunction(L, view_fields), 1;
    }
    /* a method of the Lua side's Seg (with, reply, ...) */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &seg_methods_key);
    if (!lua_istable(L, -1)) return 0;
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int view_newindex(lua_State *L)
{
    return luaL_error(L,
                      "synfin: a hook's segment is read-only: seg:with{ %s = ... } makes a "
                      "modified copy",
                      lua_tostring(L, 2) ? lua_tostring(L, 2) : "field");
}

/* seg:fields() -> a table of every field it has */
static int view_fields(lua_State *L)
{
    const seg_view *v = check_view(L, 1);
    lua_createtable(L, 0, 24);
    for (int i = 0; field_names[i]; i++)
        if (push_field(L, v, field_names[i])) lua_setfield(L, -2, field_names[i]);
    return 1;
}

/* pairs(seg): the fields it has, as a table would give them */
static int view_pairs(lua_State *L)
{
    lua_getglobal(L, "next");
    view_fields(L);
    lua_pushnil(L);
    return 3;
}

static int view_tostring(lua_State *L)
{
    check_view(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &seg_methods_key);
    if (lua_istable(L, -1) && lua_getfield(L, -1, "__tostring") == LUA_TFUNCTION) {
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        return 1;
    }
    lua_pushfstring(L, "segment %p", lua_topointer(L, 1));
    return 1;
}

/* A view does not keep its net alive (a user value set on every segment
 * cost a lookup in a weak table each time): the net is found by its serial
 * number in a table weak in its values (registered when the net was made),
 * only when a view kept after its hook needs the trace's copy of the
 * payload; NULL once the net is collected (a serial is never reused, as
 * an address could be). */
static lsim *find_net(lua_State *L, lua_Integer serial)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &nets_key);
    lua_rawgeti(L, -1, serial);
    lsim *s = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return s;
}

void lsf_register_net(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &nets_key);
    lua_pushvalue(L, idx);
    lua_rawseti(L, -2, ((lsim *)lua_touserdata(L, idx))->serial);
    lua_pop(L, 1);
}

void lsf_push_seg(lua_State *L, lsim *s, const sf_hook_ctx *ctx)
{
    seg_view *v = lua_newuserdatauv(L, sizeof *v, 0);
    v->seg = *ctx->seg;
    v->net = s->serial;
    v->rec = ctx->rec;
    v->now = ctx->now;
    v->conn_id = ctx->conn_id;
    v->seg_no = ctx->seg_no;
    v->hook_id = ctx->hook_id;
    v->state = ctx->state;
    v->dir = ctx->dir;
    v->rel_seq = v->seg.seq;
    v->rel_ack = v->seg.ack;
    sf_trace *t = sf_sim_trace(s->sim);
    const sf_trace_rec *r = sf_trace_number(t) == 0 ? sf_trace_at(t, ctx->rec) : NULL;
    if (r) {
        v->rel_seq = r->rel_seq;
        v->rel_ack = r->rel_ack;
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &seg_mt_key); /* (not by name: no string hashing) */
    lua_setmetatable(L, -2);
}

void lsf_seg_expire(lua_State *L, int idx)
{
    seg_view *v = lua_touserdata(L, idx);
    v->seg.payload = NULL;
}

/* core.set_seg_methods(Seg): the table a view's other keys come from */
int lsf_set_seg_methods(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &seg_methods_key);
    return 0;
}

static void rec_views_open(lua_State *L);

void lsf_views_open(lua_State *L)
{
    rec_views_open(L);
    static const luaL_Reg meta[] = {{"__index", view_index},
                                    {"__newindex", view_newindex},
                                    {"__pairs", view_pairs},
                                    {"__tostring", view_tostring},
                                    {NULL, NULL}};
    luaL_newmetatable(L, SEG_VIEW_MT);
    luaL_setfuncs(L, meta, 0);
    lua_pushliteral(L, "synfin.seg"); /* what getmetatable(seg) gives scripts */
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &seg_mt_key);
    lua_newtable(L); /* nets, weak in the values */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &nets_key);
}

/* ---- records ---------------------------------------------------------------------- */

/* A record of the net's trace, read from C at each access (a segment's fate
 * and arrival are what they are now). Fields a script sets on it live in a
 * table of its own (the user value 2), and win over the trace's. */
typedef struct {
    lsim *s;
    size_t i; /* 0-based */
} rec_view;

/* The record (its net open or closed), or NULL. */
static const sf_trace_rec *rec_of(const rec_view *v)
{
    return sf_trace_at(lsf_trace(v->s), (long)v->i);
}

static void rec_seg(const sf_trace_rec *r, sf_seg *g)
{
    *g = (sf_seg){.saddr = r->saddr,
                  .daddr = r->daddr,
                  .sport = r->sport,
                  .dport = r->dport,
                  .seq = r->seq,
                  .ack = r->ack,
                  .flags = r->flags,
                  .wnd = r->wnd,
                  .len = r->len,
                  .mss = r->mss,
                  .wscale = r->wscale,
                  .sack_perm = r->sack_perm,
                  .has_ts = r->has_ts,
                  .ttl = r->ttl,
                  .urp = r->urp,
                  .ts_val = r->ts_val,
                  .ts_ecr = r->ts_ecr,
                  .tos = r->tos,
                  .sack_n = r->sack_n};
    memcpy(g->sack, r->sack, sizeof g->sack);
}

static int push_host(lua_State *L, uint16_t h)
{
    if (h == UINT16_MAX) return 0;
    lua_pushinteger(L, h + 1);
    return 1;
}

static const char *const kind_names[] = {"seg", "state", "note"};

/* Pushes field k of record r (index i, 0-based), or nothing (returns 0). */
static int push_rec_field(lua_State *L, const sf_trace *t, const sf_trace_rec *r, size_t i,
                          const char *k)
{
    if (IS("kind")) return lua_pushstring(L, kind_names[r->kind < 3 ? r->kind : 2]), 1;
    if (IS("index")) return lua_pushinteger(L, (lua_Integer)i + 1), 1;
    if (IS("time")) return lua_pushnumber(L, (lua_Number)r->time / 1e6), 1;
    if (IS("time_us")) return lua_pushinteger(L, (lua_Integer)r->time), 1;
    if (IS("conn")) return r->conn_id ? (lua_pushinteger(L, r->conn_id), 1) : 0;
    if (IS("why")) return r->why ? (lua_pushstring(L, r->why), 1) : 0;
    if (r->kind == SF_TR_SEG) {
        sf_seg g;
        rec_seg(r, &g);
        if (push_wire_field(L, &g, r->rel_seq, r->rel_ack, k)) return 1;
        if (IS("n")) return r->seg_no ? (lua_pushinteger(L, r->seg_no), 1) : 0;
        if (IS("from")) return push_host(L, r->host);
        if (IS("to")) return push_host(L, r->to_host);
        if (IS("fate")) return lua_pushstring(L, sf_fate_name((sf_fate)r->fate)), 1;
        if (IS("arrival")) {
            if (r->fate != SF_FATE_DELIVERED && r->fate != SF_FATE_DROPPED_INGRESS) return 0;
            return lua_pushnumber(L, (lua_Number)r->arrival / 1e6), 1;
        }
        if (IS("delay")) return r->delay ? (lua_pushnumber(L, (lua_Number)r->delay / 1e6), 1) : 0;
        if (IS("hook")) return r->hook_id ? (lua_pushinteger(L, r->hook_id), 1) : 0;
        if (IS("injected")) return r->injected ? (lua_pushboolean(L, 1), 1) : 0;
        if (IS("summary") || IS("summary_no_ts")) {
            char text[256];
            size_t len =
                sf_trace_seg_summary(r, IS("summary") ? 0 : SF_SUMMARY_NO_TS, text, sizeof text);
            return lua_pushlstring(L, text, len), 1;
        }
        if (IS("win_shift")) return r->win_shift >= 0 ? (lua_pushinteger(L, r->win_shift), 1) : 0;
        if (IS("payload"))
            return lua_pushlstring(L, r->text_len ? (const char *)t->arena + r->text_off : "",
                                   r->text_len),
                   1;
        return 0;
    }
    if (IS("seg")) return r->seg_no ? (lua_pushinteger(L, r->seg_no), 1) : 0;
    if (IS("host")) return push_host(L, r->host);
    if (r->kind == SF_TR_STATE) {
        if (IS("old")) return lua_pushstring(L, sf_state_name((sf_state)r->old_state)), 1;
        if (IS("new")) return lua_pushstring(L, sf_state_name((sf_state)r->new_state)), 1;
        if (IS("cause")) return lua_pushstring(L, sf_cause_name((sf_cause)r->cause)), 1;
        if (IS("lport")) return lua_pushinteger(L, r->sport), 1;
        if (IS("rport")) return lua_pushinteger(L, r->dport), 1;
        if (IS("raddr")) return lsf_push_addr(L, r->daddr), 1;
        return 0;
    }
    if (IS("text")) {
        if (r->text_len)
            lua_pushlstring(L, (const char *)t->arena + r->text_off, r->text_len);
        else
            lua_pushstring(L, r->why ? r->why : "");
        return 1;
    }
    if (r->reason && IS("code"))
        return lua_pushstring(L, sf_reason_get((sf_reason)r->reason)->name), 1;
    if (r->reason && IS("dropped"))
        return lua_pushboolean(L, !sf_reason_get((sf_reason)r->reason)->note), 1;
    return 0;
}

/* Every field a record may have, for pairs(). */
static const char *const rec_field_names[] = {
    "kind",     "index",     "time",    "time_us",  "conn",    "why",     "n",
    "from",     "to",        "src",     "dst",      "sport",   "dport",   "seq",
    "ack",      "abs_seq",   "abs_ack", "flags",    "win",     "len",     "mss",
    "wscale",   "sack_perm", "sack",    "abs_sack", "ts",      "ts_val",  "ts_ecr",
    "urp",      "ttl",       "tos",     "fate",     "arrival", "delay",   "hook",
    "injected", "payload",   "seg",     "host",     "old",     "new",     "cause",
    "lport",    "rport",     "raddr",   "text",     "code",    "dropped", NULL};

static rec_view *check_rec(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, RECORD_MT);
}

static int rec_index(lua_State *L)
{
    const rec_view *v = lua_touserdata(L, 1); /* (as view_index: Lua calls it with a record) */
    if (lua_getiuservalue(L, 1, 2) == LUA_TTABLE) { /* fields the script set */
        lua_pushvalue(L, 2);
        if (lua_rawget(L, -2) != LUA_TNIL) return 1;
    }
    const sf_trace_rec *r = rec_of(v);
    if (!r || lua_type(L, 2) != LUA_TSTRING) return 0;
    sf_trace *t = lsf_trace(v->s);
    if (r->kind == SF_TR_SEG && v->i >= t->numbered && sf_trace_number(t) < 0)
        return luaL_error(L, "out of memory");
    return push_rec_field(L, t, r, v->i, lua_tostring(L, 2));
}

static int rec_newindex(lua_State *L)
{
    check_rec(L, 1);
    if (lua_getiuservalue(L, 1, 2) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, 2);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

/* A table of the record's fields (those the script set included). */
static int rec_table(lua_State *L)
{
    const rec_view *v = check_rec(L, 1);
    lua_createtable(L, 0, 24);
    const sf_trace_rec *r = rec_of(v);
    if (r) {
        sf_trace *t = lsf_trace(v->s);
        sf_trace_number(t);
        for (int i = 0; rec_field_names[i]; i++)
            if (push_rec_field(L, t, r, v->i, rec_field_names[i]))
                lua_setfield(L, -2, rec_field_names[i]);
    }
    if (lua_getiuservalue(L, 1, 2) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -5);
        }
    }
    lua_pop(L, 1);
    return 1;
}

static int rec_pairs(lua_State *L)
{
    lua_getglobal(L, "next");
    rec_table(L);
    lua_pushnil(L);
    return 3;
}

static int rec_tostring(lua_State *L)
{
    const rec_view *v = check_rec(L, 1);
    lua_pushfstring(L, "record %d", (int)v->i + 1);
    return 1;
}

/* sim:record(i) -> a view of the i-th record (1-based), or nil */
int lsf_record(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (!sf_trace_at(lsf_trace(s), (long)(i - 1))) return 0; /* none, or no longer kept */
    rec_view *v = lua_newuserdatauv(L, sizeof *v, 2);
    v->s = s;
    v->i = (size_t)(i - 1);
    luaL_setmetatable(L, RECORD_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* sim:next_record(from, kind) -> the index (1-based) of the first record at
 * or after from of that kind ("state", "note", "seg"), or nil */
int lsf_next_record(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    lua_Integer from = luaL_checkinteger(L, 2);
    static const char *const kinds[] = {"seg", "state", "note", NULL};
    int kind = luaL_checkoption(L, 3, NULL, kinds);
    if (from < 1) return 0;
    const sf_trace *t = lsf_trace(s);
    size_t i = (size_t)from - 1;
    for (i = i < t->first ? t->first : i; i < t->n; i++)
        if (sf_trace_at(t, (long)i)->kind == kind) {
            lua_pushinteger(L, (lua_Integer)i + 1);
            return 1;
        }
    return 0;
}

/* sim:next_state(from, host, conn) -> the index (1-based) of the first
 * state record at or after from of connection conn on host (1-based), its
 * new state's name and its why; or nil and the index to look from next
 * time (the trace's end). A wait on a state reads only these three, so it
 * makes no view of every record it passes. */
int lsf_next_state(lua_State *L)
{
    lsim *s = luaL_checkudata(L, 1, SIM_MT);
    lua_Integer from = luaL_checkinteger(L, 2);
    lua_Integer host = luaL_checkinteger(L, 3);
    lua_Integer conn = luaL_checkinteger(L, 4);
    const sf_trace *t = lsf_trace(s);
    size_t i = from < 1 ? 0 : (size_t)from - 1;
    for (i = i < t->first ? t->first : i; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        if (r->kind != SF_TR_STATE || r->host + 1 != host || r->conn_id != conn) continue;
        lua_pushinteger(L, (lua_Integer)i + 1);
        lua_pushstring(L, sf_state_name((sf_state)r->new_state));
        if (r->why)
            lua_pushstring(L, r->why);
        else
            lua_pushnil(L);
        return 3;
    }
    lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)t->n + 1);
    return 2;
}

static void rec_views_open(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__index", rec_index},
                                    {"__newindex", rec_newindex},
                                    {"__pairs", rec_pairs},
                                    {"__tostring", rec_tostring},
                                    {NULL, NULL}};
    luaL_newmetatable(L, RECORD_MT);
    luaL_setfuncs(L, meta, 0);
    lua_pushliteral(L, "synfin.record"); /* what getmetatable(record) gives scripts */
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

int lsf_trace_get(lua_State *L)
{
    lua_settop(L, 2);
    if (!lsf_record(L)) return 0;
    lua_replace(L, 1);
    return rec_table(L);
}
