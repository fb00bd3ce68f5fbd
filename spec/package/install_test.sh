#!/usr/bin/env bash
# The ctest package/install: installs a build into a temporary prefix inside
# the build directory and uses it the way a user would.
#
#   install_test.sh BUILD_DIR SOURCE_DIR
#
# Environment (spec/CMakeLists.txt sets it): CMAKE and CC, the tools; SANITIZE_FLAGS,
# what a program linked against a sanitizer build of libsynfin needs (empty
# otherwise); LUA, a stock lua5.4; LUA_PRELOAD, the sanitizer runtimes the
# stock interpreter must preload to load an instrumented synfin/core.so.
#
# Checks: the layout (lib, headers, synfin.pc, Lua files, C module, CLI); a
# tiny C program built with `pkg-config --cflags --libs synfin` against the
# shared library and against the static one, run; the installed CLI runs
# examples/seed_walkthrough.lua and prints the ladder; a stock lua5.4 whose
# paths hold only the installed tree requires synfin and runs it too.
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cc=${CC:-cc}
lua=${LUA:-lua5.4}
read -r -a sanitize <<<"${SANITIZE_FLAGS:-}"

tmp=$(mktemp -d "$build/package-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() { printf '== %s\n' "$*"; }
die() {
    printf 'install_test: %s\n' "$*" >&2
    exit 1
}

step "cmake --install $build --prefix $prefix"
"${CMAKE:-cmake}" --install "$build" --prefix "$prefix" >"$tmp/install.log" || {
    cat "$tmp/install.log" >&2
    die "cmake --install failed"
}

# the layout; libdir is lib or lib/<multiarch> (GNUInstallDirs)
pc=$(find "$prefix" -name synfin.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || die "no pkgconfig/synfin.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")
for f in \
    "$libdir/libsynfin.a" "$libdir/libsynfin.so" "$libdir/libsynfin.so.0" \
    include/synfin/synfin.h include/synfin/hook.h include/synfin/trace.h \
    include/synfin/rand.h include/synfin/io/sim.h include/synfin/io/pcap.h \
    share/lua/5.4/synfin/init.lua share/lua/5.4/synfin/ladder.lua \
    share/lua/5.4/synfin/kernel.lua lib/lua/5.4/synfin/core.so bin/synfin bin/synfin-agent; do
    case $f in /*) path=$f ;; *) path=$prefix/$f ;; esac
    [ -e "$path" ] || die "not installed: ${path#"$prefix"/}"
done
if [ ! -L "$libdir/libsynfin.so" ] || [ ! -L "$libdir/libsynfin.so.0" ]; then
    die "libsynfin.so and libsynfin.so.0 should be symbolic links"
fi
soname=$(readelf -d "$libdir/libsynfin.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libsynfin.so.0 ] || die "SONAME is '$soname', not libsynfin.so.0"
echo "installed: ${libdir#"$prefix"/}/libsynfin.{a,so,so.0} (SONAME $soname), include/synfin, synfin.pc, bin/synfin, bin/synfin-agent, share/lua/5.4/synfin, lib/lua/5.4/synfin/core.so"

PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
version=$(pkg-config --modversion synfin)
cli_version=$("$prefix/bin/synfin" --version)
[ "$cli_version" = "synfin $version" ] || die "pkg-config says $version, the CLI '$cli_version'"
agent_version=$("$prefix/bin/synfin-agent" --version)
[ "$agent_version" = "synfin-agent $version" ] || die "pkg-config says $version, synfin-agent '$agent_version'"
read -r -a cflags <<<"$(pkg-config --cflags synfin)"
read -r -a libs <<<"$(pkg-config --libs synfin)"
echo "pkg-config synfin $version: ${cflags[*]} ${libs[*]}"

step "a C program against the shared library"
"$cc" -std=c11 -Wall -Wextra -Werror "${sanitize[@]}" "${cflags[@]}" \
    "$src/spec/package/installed.c" -o "$tmp/installed_shared" "${libs[@]}" \
    -Wl,-rpath,"$libdir"
readelf -d "$tmp/installed_shared" | grep -q 'NEEDED.*\[libsynfin\.so\.0\]' ||
    die "installed_shared does not need libsynfin.so.0"
"$tmp/installed_shared"

step "a C program against the static library"
"$cc" -std=c11 -Wall -Wextra -Werror "${sanitize[@]}" "${cflags[@]}" \
    "$src/spec/package/installed.c" -o "$tmp/installed_static" \
    -Wl,-Bstatic "${libs[@]}" -Wl,-Bdynamic
if readelf -d "$tmp/installed_static" | grep -q 'NEEDED.*libsynfin'; then
    die "installed_static needs libsynfin.so"
fi
"$tmp/installed_static"

step "the README's embedding example against the prefix: an rpath, or LD_LIBRARY_PATH"
# the README's command: examples/embed/embed.c, with -Wl,-rpath to the
# libdir pkg-config names (the prefix is not one the dynamic linker searches)
pc_libdir=$(pkg-config --variable=libdir synfin)
"$cc" "${sanitize[@]}" "$src/examples/embed/embed.c" "${cflags[@]}" "${libs[@]}" \
    -Wl,-rpath,"$pc_libdir" -o "$tmp/embed"
"$tmp/embed" >"$tmp/embed.out" || {
    cat "$tmp/embed.out"
    die "examples/embed/embed.c built with an rpath failed"
}
grep -F '[TIME_WAIT] FIN #8' "$tmp/embed.out" || {
    cat "$tmp/embed.out"
    die "no ladder from examples/embed/embed.c (sf_sim_print_trace)"
}
"$cc" "${sanitize[@]}" "$src/examples/embed/embed.c" "${cflags[@]}" "${libs[@]}" -o "$tmp/embed_ld"
LD_LIBRARY_PATH="$pc_libdir" "$tmp/embed_ld" >/dev/null || die "embed with LD_LIBRARY_PATH=$pc_libdir failed"

step "the installed CLI on examples/seed_walkthrough.lua"
(cd "$tmp" && "$prefix/bin/synfin" "$src/examples/seed_walkthrough.lua") >"$tmp/cli.out" || {
    cat "$tmp/cli.out"
    die "the installed CLI failed"
}
grep -F '[TIME_WAIT] FIN #10' "$tmp/cli.out" || {
    cat "$tmp/cli.out"
    die "no ladder from the installed CLI"
}

step "a stock $lua with only the installed tree in its paths"
lpath="$prefix/share/lua/5.4/?.lua;$prefix/share/lua/5.4/?/init.lua"
cpath="$prefix/lib/lua/5.4/?.so"
lua_env=(LUA_PATH="$lpath" LUA_CPATH="$cpath" PREFIX="$prefix")
if [ -n "${LUA_PRELOAD:-}" ]; then
    # the sanitizer build: its core.so in an uninstrumented interpreter
    lua_env+=(LD_PRELOAD="$LUA_PRELOAD" ASAN_OPTIONS=detect_leaks=0)
fi
stock_lua() { (cd "$tmp" && env "${lua_env[@]}" "$lua" "$@"); }
got=$(stock_lua -e 'local s = require "synfin"
local so = package.searchpath("synfin.core", package.cpath)
assert(so and so:sub(1, #os.getenv("PREFIX")) == os.getenv("PREFIX"), so)
print(s.version)' 2>&1 | tail -n 1) || true
[ "$got" = "$version" ] || die "require 'synfin' from the installed tree: $got"
echo "require('synfin').version = $got"
stock_lua "$src/examples/seed_walkthrough.lua" >"$tmp/lua.out" || {
    cat "$tmp/lua.out"
    die "$lua failed on the walkthrough with the installed modules"
}
grep -F '[TIME_WAIT] FIN #10' "$tmp/lua.out" >/dev/null || die "no ladder from $lua"

echo "package/install: ok"
