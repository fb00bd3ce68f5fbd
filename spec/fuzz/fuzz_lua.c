/* fuzz_lua.c - libFuzzer target for the Lua bindings (bindings/lsynfin.c,
 * and lua/synfin/init.lua above them).
 *
 * For each input a fresh lua_State with the standard libraries, synfin.core
 * linked in (instrumented), and package.path on the source tree's lua/;
 * fuzz_lua.lua, the interpreter, turns the input's bytes into calls, each
 * under pcall. Lua errors are fine; a crash, a sanitizer report, or memory
 * still held once the state is closed (LeakSanitizer) is what this looks
 * for. A count hook bounds the Lua instructions an input may run. */
#include "fuzz.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <string.h>

#ifndef FUZZ_LUA_SCRIPT
#error "FUZZ_LUA_SCRIPT: the path of fuzz_lua.lua (set by spec/fuzz/CMakeLists.txt)"
#endif
#ifndef FUZZ_LUA_DIR
#error "FUZZ_LUA_DIR: the source tree's lua/ (set by spec/fuzz/CMakeLists.txt)"
#endif

/* Lua instructions an input may run, in steps of the count hook: a few
 * seconds at most. A network that never settles (a connection to itself
 * whose window closed ACKs itself forever in one instant of the sim) keeps
 * Net:step looping in Lua; the budget ends it. */
#define MAX_INSTRUCTIONS 2000000
#define HOOK_EVERY       10000

int luaopen_synfin_core(lua_State *L);

/* fuzz_lua.lua, compiled once (lua_dump): each input loads the bytecode */
static char *script;
static size_t script_len, script_cap;

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    (void)ud;
    if (script_len + n > script_cap) {
        script_cap = (script_len + n) * 2;
        script = realloc(script, script_cap);
        if (!script) abort();
    }
    memcpy(script + script_len, p, n);
    script_len += n;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FILE *f = fopen(FUZZ_LUA_SCRIPT, "rb");
    if (!f) {
        perror(FUZZ_LUA_SCRIPT);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n);
    if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    lua_State *L = luaL_newstate();
    if (!L || luaL_loadbuffer(L, text, (size_t)n, "@" FUZZ_LUA_SCRIPT) != LUA_OK) {
        fprintf(stderr, "%s\n", L ? lua_tostring(L, -1) : "out of memory");
        abort();
    }
    lua_dump(L, dump_writer, NULL, 0);
    lua_close(L);
    free(text);
    return 0;
}

/* The Lua modules `require` finds in lua/ (synfin, synfin.ladder...),
 * compiled once and kept as bytecode: a package searcher in front of the
 * standard ones, so that an input that loads the scenario layer does not
 * parse it again. */
#define MODULES_MAX 16
static struct {
    char *name, *code;
    size_t len;
} modules[MODULES_MAX];
static int nmodules;

static int search_cached(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    int i = 0;
    while (i < nmodules && strcmp(modules[i].name, name) != 0)
        i++;
    if (i == nmodules) {
        /* first time: find the file as the Lua searcher would, compile, keep */
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "searchpath");
        lua_pushstring(L, name);
        lua_getfield(L, -3, "path");
        lua_call(L, 2, 1);
        if (lua_isnil(L, -1) || nmodules == MODULES_MAX) return 0; /* the others may */
        const char *path = lua_tostring(L, -1);
        if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
        char *saved = script;
        size_t saved_len = script_len, saved_cap = script_cap;
        script = NULL, script_len = script_cap = 0;
        lua_dump(L, dump_writer, NULL, 0);
        size_t n = strlen(name) + 1;
        modules[i].name = malloc(n);
        if (!modules[i].name) abort();
        memcpy(modules[i].name, name, n);
        modules[i].code = script, modules[i].len = script_len;
        script = saved, script_len = saved_len, script_cap = saved_cap;
        nmodules++;
    }
    if (luaL_loadbufferx(L, modules[i].code, modules[i].len, name, "b") != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, name);
    return 2;
}

/* Ends a run that goes on too long (a Lua error, which pcall catches up
 * to the interpreter's top, where the input ends). */
static void budget(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.budget");
    lua_Integer n = lua_tointeger(L, -1) - HOOK_EVERY;
    lua_pop(L, 1);
    lua_pushinteger(L, n);
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.budget");
    if (n <= 0) {
        lua_sethook(L, budget, LUA_MASKCOUNT, 1); /* every instruction from now on */
        luaL_error(L, "instruction budget spent");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = luaL_newstate();
    if (!L) abort();
    luaL_openlibs(L);
    /* synfin.core, linked in; `require "synfin"` finds init.lua in the tree */
    luaL_requiref(L, "synfin.core", luaopen_synfin_core, 0);
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushliteral(L, FUZZ_LUA_DIR "/?.lua;" FUZZ_LUA_DIR "/?/init.lua");
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_getfield(L, -1, "searchers");
    for (lua_Integer i = (lua_Integer)luaL_len(L, -1); i >= 2; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, search_cached);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
    lua_pushinteger(L, MAX_INSTRUCTIONS);
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.budget");
    lua_sethook(L, budget, LUA_MASKCOUNT, HOOK_EVERY);

    if (luaL_loadbufferx(L, script, script_len, "@fuzz_lua.lua", "b") != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_lua.lua: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_pushlstring(L, (const char *)data, size);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "synfin.core");
    lua_replace(L, -3);
    lua_pop(L, 1);
#ifdef FUZZ_NO_GUARDS
    lua_pushboolean(L, 0);
#else
    lua_pushboolean(L, 1); /* the interpreter steps around known bugs (fuzz_lua.lua) */
#endif
    lua_pcall(L, 3, 0, 0); /* an error that escapes the interpreter ends the input */
    lua_close(L);
    return 0;
}
