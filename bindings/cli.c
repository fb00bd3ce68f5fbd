/* cli.c - the synfin command: runs a Lua scenario script.
 *
 *   synfin [--seed N] [--trace] [--svg FILE] [--pcap FILE] [--quiet] script.lua [args...]
 *   synfin --version
 *   synfin --settings
 *
 * The synfin.core module is linked in; the Lua modules are found next to the
 * sources (a build tree) or where they were installed. Exit status 1 when the
 * script fails, with the error and its traceback on stderr; 2 for a bad
 * command line. The options come before the script: what follows it is the
 * script's (its global arg, as lua(1) sets it). */
#define _POSIX_C_SOURCE 200809L /* readlink */
#include "../core/synfin.h"
#include "settings_doc.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int luaopen_synfin_core(lua_State *L);

/* synfin -i: a prompt with `synfin`, a net and two hosts ready. An
 * expression prints its values; a statement left open (a function, an if)
 * reads on with a ">>" prompt, as lua(1) does. On a terminal, Debian's
 * lua-readline (the module `readline`, GNU readline) gives line editing, a
 * history kept in ~/.synfin_history and Tab completion of names and fields
 * (`net:ho` -> `net:host`); without it the prompt says how to get them.
 * Run with (isatty(stdin)). */
static const char repl_lua[] =
    "local tty = ...\n"
    "synfin = require 'synfin'\n"
    "net = net or synfin.sim {}\n"
    "a = a or net:host '192.0.2.1'\n"
    "b = b or net:host '192.0.2.2'\n"
    "print(('synfin %s: net, a (192.0.2.1) and b (192.0.2.2) are ready; '\n"
    "  .. 'print(net:trace()) shows the ladder, Ctrl-D ends'):format(synfin.version))\n"
    "local ok, rl = false, nil\n"
    "if tty then ok, rl = pcall(require, 'readline') end\n"
    "ok = ok and type(rl) == 'table'\n"
    "local read\n"
    "if ok then\n"
    "  rl.set_options { histfile = '~/.synfin_history', keeplines = 1000 }\n"
    "  -- completes a name, or a field after `.` or `:` (methods through __index)\n"
    "  local function fields(v, out, seen)\n"
    "    for _ = 1, 4 do\n"
    "      if type(v) == 'table' then for k in pairs(v) do out[k] = true end end\n"
    "      local mt = getmetatable(v)\n"
    "      local up = type(mt) == 'table' and mt.__index\n"
    "      if type(up) ~= 'table' or seen[up] then break end\n"
    "      v, seen[up] = up, true\n"
    "    end\n"
    "  end\n"
    "  if rl.set_complete_function then\n"
    "    rl.set_complete_function(function(text, from, to)\n"
    "      local word = text:sub(from, to)\n"
    "      local base, sep, part = word:match('^([%w_.:]-)([.:])([%w_]*)$')\n"
    "      local v = _G\n"
    "      if base then\n"
    "        for name in base:gmatch('[^.:]+') do\n"
    "          local got, x = pcall(function() return v[name] end)\n"
    "          if not got or x == nil then return {} end\n"
    "          v = x\n"
    "        end\n"
    "      else base, sep, part = '', '', word end\n"
    "      local names, out = {}, {}\n"
    "      fields(v, names, {})\n"
    "      local function method(k)\n"
    "        return type(select(2, pcall(function() return v[k] end))) == 'function'\n"
    "      end\n"
    "      for k in pairs(names) do\n"
    "        if type(k) == 'string' and k:sub(1, #part) == part and k:match('^[%a_][%w_]*$')\n"
    "          and (sep ~= ':' or method(k)) then out[#out + 1] = base .. sep .. k end\n"
    "      end\n"
    "      table.sort(out)\n"
    "      return out\n"
    "    end)\n"
    "  end\n"
    "  read = rl.readline\n"
    "else\n"
    "  if tty then\n"
    "    print('(no line editing or history: install lua-readline (Debian) '\n"
    "      .. 'or run rlwrap synfin -i)')\n"
    "  end\n"
    "  read = function(prompt) io.write(prompt) io.flush() return io.read('l') end\n"
    "end\n"
    "local pending = nil\n"
    "while true do\n"
    "  local line = read(pending and '>> ' or '> ')\n"
    "  if not line then io.write('\\n') break end\n"
    "  local source = pending and (pending .. '\\n' .. line) or line\n"
    "  local chunk, err = load('return ' .. source, '=stdin')\n"
    "  if not chunk then chunk, err = load(source, '=stdin') end\n"
    "  if not chunk and err:find('<eof>$') then pending = source\n"
    "  else\n"
    "    pending = nil\n"
    "    if not chunk then print(err) else\n"
    "      local r = table.pack(xpcall(chunk, debug.traceback))\n"
    "      if not r[1] then print(r[2]) elseif r.n > 1 then print(table.unpack(r, 2, r.n)) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if ok then rl.save_history() end\n";

static void usage(FILE *to)
{
    fputs("usage: synfin [OPTIONS] SCRIPT.lua [ARGS...]\n"
          "       synfin -i\n"
          "       synfin --version\n"
          "       synfin --settings\n"
          "       synfin --pkt SCRIPT.pkt|DIR [--target tun|sim] [--profile P] [--tolerance_usecs "
          "N]\n"
          "                    [-j N] [--junit FILE]  (packetdrill scripts: synfin --pkt -h)\n"
          "       synfin --pkt SCRIPT.pkt --to-lua [--target sim|tun] [-o OUT.lua]\n"
          "Runs a synfin scenario script; exits 1 if it fails.\n"
          "  --seed N      every net the script creates uses seed N\n"
          "  --trace       after the script, print the ladder of every net it created\n"
          "                (unless the script printed that ladder itself)\n"
          "  --svg FILE    after the script, draw the ladder of the last net it created\n"
          "                as an SVG picture in FILE\n"
          "  --pcap FILE   record every packet of the first net the script creates to\n"
          "                FILE (pcapng, with synfin's verdicts as packet comments); the\n"
          "                Nth net records to FILE with -N before its extension\n"
          "                (out.pcapng, out-2.pcapng, ...)\n"
          "  --quiet       discard what the script prints with print()\n"
          "  -i            interactive: a Lua prompt with a net and two hosts ready\n"
          "                (after the script, if one is given)\n"
          "  --version     print the version\n"
          "  --settings    print the table of host settings (Markdown, as in the README)\n"
          "Options come before the script; the arguments after it are the script's.\n",
          to);
}

/* The CLI's side of --trace, --svg, --quiet and --pcap, run before the
 * script with (trace, svg, quiet, pcap); returns the function to call after
 * it. Nets are remembered through synfin.defaults.on_net, which also starts
 * each one's recording (--pcap); print is wrapped to discard the
 * script's output (--quiet) and to note which ladders the script printed
 * itself (print(net:trace()) with nothing happening after it). */
static const char cli_lua[] =
    "local trace, svg, quiet, pcap = ...\n"
    "local synfin = require 'synfin'\n"
    "local nets, shown = {}, {}\n"
    "local on_net = synfin.defaults.on_net\n"
    "synfin.defaults.on_net = function(net)\n"
    "  nets[#nets + 1] = net\n"
    "  if pcap then\n"
    "    local file = pcap\n"
    "    if #nets > 1 then\n"
    "      local base, ext = pcap:match('^(.*[^/])(%.[^./]*)$')\n"
    "      file = base and (base .. '-' .. #nets .. ext) or (pcap .. '-' .. #nets)\n"
    "    end\n"
    "    local ok, err = net.sim:pcap(file)\n"
    "    if not ok then error('--pcap: ' .. err, 0) end\n"
    "  end\n"
    "  if on_net then return on_net(net) end\n"
    "end\n"
    "local print0 = print\n"
    "print = function(...)\n"
    "  if quiet then return end\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    if type(v) == 'table' and type(rawget(v, 'net')) == 'table' and type(v.text) == "
    "'function' then\n"
    "      shown[v.net] = #v.net:records()\n"
    "    end\n"
    "  end\n"
    "  return print0(...)\n"
    "end\n"
    "return function()\n"
    "  if pcap then\n"
    "    for _, net in ipairs(nets) do\n"
    "      local ok, err = net.sim:pcap(false)\n"
    "      if not ok then error('--pcap: ' .. err, 0) end\n"
    "    end\n"
    "  end\n"
    "  if trace then\n"
    "    local first = true\n"
    "    for i, net in ipairs(nets) do\n"
    "      local n = #net:records()\n"
    "      if n > 0 and shown[net] ~= n then\n"
    "        if #nets > 1 then\n"
    "          io.stdout:write(first and '' or '\\n', ('net %d of %d (seed %d):\\n'):format(i, "
    "#nets, net.seed))\n"
    "        end\n"
    "        io.stdout:write(net:trace():text(), '\\n')\n"
    "        first = false\n"
    "      end\n"
    "    end\n"
    "    io.stdout:flush()\n"
    "  end\n"
    "  if svg then\n"
    "    local net = nets[#nets]\n"
    "    if not net then error('--svg ' .. svg .. ': the script created no net', 0) end\n"
    "    local ok, err = net:trace():svg(svg)\n"
    "    if not ok then error('--svg: ' .. tostring(err), 0) end\n"
    "  end\n"
    "end\n";

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
    /* an installed synfin finds its modules beside itself (bin/../share/lua/5.4),
     * wherever the tree was installed or moved; a build tree, in the sources */
    char exe[2048], near[4200] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(near, sizeof near, "%s/../share/lua/5.4/?.lua;%s/../share/lua/5.4/?/init.lua;",
                     exe, exe);
        }
    }
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s%s/?.lua;%s/?/init.lua;%s/?.lua;%s/?/init.lua;%s", near, SYNFIN_LUA_DIR,
                    SYNFIN_LUA_DIR, SYNFIN_INSTALL_LUA_DIR, SYNFIN_INSTALL_LUA_DIR,
                    lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

int main(int argc, char **argv)
{
    const char *script = NULL;
    const char *seed = NULL;
    const char *svg = NULL;
    const char *pcap = NULL;
    int trace = 0, quiet = 0, interactive = 0, pkt = 0;
    int first_arg = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--pkt") == 0) {
            /* packetdrill scripts: synfin.pkt_run reads the whole command line */
            pkt = 1;
            break;
        } else if (strcmp(a, "--version") == 0) {
            printf("synfin %s\n", SF_VERSION);
            return 0;
        } else if (strcmp(a, "--settings") == 0) {
            sf_settings_print_markdown(stdout);
            return 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--seed") == 0 || strcmp(a, "--svg") == 0 ||
                   strcmp(a, "--pcap") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "synfin: %s needs %s\n", a,
                        strcmp(a, "--seed") == 0 ? "a number" : "a file name");
                usage(stderr);
                return 2;
            }
            if (strcmp(a, "--seed") == 0) {
                char *end;
                seed = argv[++i];
                (void)strtoll(seed, &end, 10);
                if (!*seed || *end) {
                    fprintf(stderr, "synfin: --seed needs an integer, not '%s'\n", seed);
                    return 2;
                }
            } else if (strcmp(a, "--svg") == 0) {
                svg = argv[++i];
            } else {
                pcap = argv[++i];
            }
        } else if (strcmp(a, "--trace") == 0) {
            trace = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "-i") == 0) {
            interactive = 1;
        } else if (strcmp(a, "--") == 0 && i + 1 < argc) {
            script = argv[i + 1];
            first_arg = i + 2;
            break;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "synfin: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            script = a;
            first_arg = i + 1;
            break;
        }
    }
    if (!script && !interactive && !pkt) {
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

    if (pkt) {
        /* synfin --pkt ...: require("synfin.pkt_run").main({ argv[1], ... }) */
        lua_pushcfunction(L, traceback);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "synfin.pkt_run");
        int status = lua_pcall(L, 1, 1, 1);
        if (status == LUA_OK) {
            lua_getfield(L, -1, "main");
            lua_createtable(L, argc - 1, 0);
            for (int i = 1; i < argc; i++) {
                lua_pushstring(L, argv[i]);
                lua_rawseti(L, -2, i);
            }
            status = lua_pcall(L, 1, 1, 1);
        }
        int code = 1;
        if (status != LUA_OK)
            fprintf(stderr, "synfin: %s\n", lua_tostring(L, -1));
        else
            code = (int)lua_tointeger(L, -1);
        lua_close(L);
        return code;
    }

    /* arg, as lua(1) sets it */
    lua_createtable(L, argc - first_arg, 1);
    lua_pushstring(L, script ? script : argv[0]);
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
    int after = 0; /* stack index of the function to run after the script */
    if (trace || svg || quiet || pcap) {
        if (luaL_loadbuffer(L, cli_lua, sizeof cli_lua - 1, "=synfin") != LUA_OK) {
            fprintf(stderr, "synfin: %s\n", lua_tostring(L, -1));
            lua_close(L);
            return 1;
        }
        lua_pushboolean(L, trace);
        if (svg)
            lua_pushstring(L, svg);
        else
            lua_pushnil(L);
        lua_pushboolean(L, quiet);
        if (pcap)
            lua_pushstring(L, pcap);
        else
            lua_pushnil(L);
        if (lua_pcall(L, 4, 1, msgh) != LUA_OK) {
            fprintf(stderr, "synfin: %s\n", lua_tostring(L, -1));
            lua_close(L);
            return 1;
        }
        after = lua_gettop(L);
    }
    if (!script) {
        /* only the prompt */
    } else if (luaL_loadfile(L, script) != LUA_OK || lua_pcall(L, 0, 0, msgh) != LUA_OK) {
        /* the ladder and the picture are written even so: they show what happened */
        if (after) {
            lua_pushvalue(L, after);
            if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
                fprintf(stderr, "synfin: %s\n", lua_tostring(L, -1));
                lua_pop(L, 1);
            }
        }
        fprintf(stderr, "synfin: %s\n", lua_tostring(L, -1));
        status = 1;
    } else if (after) {
        lua_pushvalue(L, after);
        if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
            fprintf(stderr, "synfin: %s\n", lua_tostring(L, -1));
            status = 1;
        }
    }
    if (interactive && status == 0) {
        int ok = luaL_loadbuffer(L, repl_lua, sizeof repl_lua - 1, "=synfin -i") == LUA_OK;
        if (ok) lua_pushboolean(L, isatty(STDIN_FILENO));
        if (!ok || lua_pcall(L, 1, 0, msgh) != LUA_OK) {
            fprintf(stderr, "synfin: %s\n", lua_tostring(L, -1));
            status = 1;
        }
    }
    lua_close(L);
    return status;
}
