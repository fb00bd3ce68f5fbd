/* cli.c - the synfin command: runs a Lua scenario script.
 *
 *   synfin script.lua [--seed N] [args...]
 *   synfin --version
 *
 * The synfin.core module is linked in; the Lua modules are found next to the
 * sources (a build tree) or where they were installed. Exit status 1 when the
 * script fails, with the error and its traceback on stderr. */
#include "../core/synfin.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int luaopen_synfin_core(lua_State *L);

static void usage(FILE *to)
{
    fputs("usage: synfin SCRIPT.lua [--seed N] [ARGS...]\n"
          "       synfin --version\n"
          "Runs a synfin scenario script; exits 1 if it fails.\n",
          to);
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    if (strstr(msg, "stack traceback:")) return 1; /* a scenario's, already traced */
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Puts the source and install Lua directories in front of package.path. */
static void set_path(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s/?.lua;%s/?/init.lua;%s", SYNFIN_LUA_DIR,
                    SYNFIN_LUA_DIR, SYNFIN_INSTALL_LUA_DIR, SYNFIN_INSTALL_LUA_DIR,
                    lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

int main(int argc, char **argv)
{
    const char *script = NULL;
    const char *seed = NULL;
    int first_arg = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("synfin %s\n", SF_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "synfin: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            script = argv[i];
            first_arg = i + 1;
            break;
        }
    }
    if (!script) {
        usage(stderr);
        return 2;
    }

    lua_State *L = luaL_newstate();
    if (!L) {
        fputs("synfin: out of memory\n", stderr);
        return 1;
    }
    luaL_openlibs(L);
    luaL_requiref(L, "synfin.core", luaopen_synfin_core, 0);
    lua_pop(L, 1);
    set_path(L);

    /* arg, as lua(1) sets it */
    lua_createtable(L, argc - first_arg, 1);
    lua_pushstring(L, script);
    lua_rawseti(L, -2, 0);
    for (int i = first_arg; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - first_arg + 1);
    }
    lua_setglobal(L, "arg");

    int status = 0;
    lua_pushcfunction(L, traceback);
    int msgh = lua_gettop(L);
    if (seed) {
        /* --seed N: every net the script creates uses this seed */
        lua_getglobal(L, "require");
        lua_pushliteral(L, "synfin");
        if (lua_pcall(L, 1, 1, msgh) != LUA_OK) {
            fprintf(stderr, "synfin: %s\n", lua_tostring(L, -1));
            lua_close(L);
            return 1;
        }
        lua_getfield(L, -1, "defaults");
        lua_pushinteger(L, strtoll(seed, NULL, 10));
        lua_setfield(L, -2, "seed");
        lua_pop(L, 2);
    }
    if (luaL_loadfile(L, script) != LUA_OK || lua_pcall(L, 0, 0, msgh) != LUA_OK) {
        fprintf(stderr, "synfin: %s\n", lua_tostring(L, -1));
        status = 1;
    }
    lua_close(L);
    return status;
}
