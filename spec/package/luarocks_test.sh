#!/usr/bin/env bash
# The ctest package/luarocks: `luarocks make` of synfin-scm-1.rockspec in a
# copy of the source tree (the files git tracks, plus new ones it does not
# ignore), into a temporary tree inside the build directory; then a stock
# lua5.4 whose paths hold only that tree requires synfin and runs the
# walkthrough. Fails when luarocks is not installed (the README's install
# line and .ci/run install it).
#
#   luarocks_test.sh BUILD_DIR SOURCE_DIR
#
# Environment: LUA, a stock lua5.4. The rock is built by its own CMake run
# (Release, no sanitizers), whatever the build that runs this test.
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
lua=${LUA:-lua5.4}

if ! command -v luarocks >/dev/null; then
    echo "luarocks not found (Debian: apt-get install luarocks)"
    exit 1
fi

tmp=$(mktemp -d "$build/package-luarocks.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src" "$tmp/home"

# the sources as a fresh clone would have them (with uncommitted changes)
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z -co --exclude-standard |
        tar --null --ignore-failed-read -T - -cf -) | tar -C "$tmp/src" -xf -
else
    (cd "$src" && cp -a CMakeLists.txt synfin.pc.in ./*.rockspec core bindings lua "$tmp/src/")
fi

rockspec=$(cd "$tmp/src" && ls ./*.rockspec)
echo "== luarocks make $rockspec --tree $tmp/tree"
# HOME: no user configuration, no cache outside the temporary directory
(cd "$tmp/src" && HOME="$tmp/home" luarocks --lua-version 5.4 make --tree "$tmp/tree" \
    "$rockspec") >"$tmp/make.log" 2>&1 || {
    cat "$tmp/make.log"
    echo "luarocks make failed" >&2
    exit 1
}
grep "is now installed" "$tmp/make.log" || true

# bin/synfin-agent: synfin.kernel's agent, which it finds beside share/lua
for f in lib/lua/5.4/synfin/core.so share/lua/5.4/synfin/init.lua share/lua/5.4/synfin/ladder.lua \
    share/lua/5.4/synfin/kernel.lua bin/synfin-agent; do
    [ -e "$tmp/tree/$f" ] || {
        echo "not in the tree: $f" >&2
        find "$tmp/tree" -type f >&2
        exit 1
    }
done
HOME="$tmp/home" luarocks --lua-version 5.4 --tree "$tmp/tree" list --porcelain | grep -q '^synfin' || {
    echo "luarocks list does not show synfin" >&2
    exit 1
}

t=$tmp/tree
paths="package.path = '$t/share/lua/5.4/?.lua;$t/share/lua/5.4/?/init.lua'
package.cpath = '$t/lib/lua/5.4/?.so'"
got=$(cd "$tmp" && "$lua" -e "$paths" -e 'print(require("synfin").version)' 2>&1) || true
want=$(sed -n 's/^#define SF_VERSION "\(.*\)"$/\1/p' "$src/core/synfin.h")
[ "$got" = "$want" ] || {
    echo "require('synfin').version from the rock: $got (want $want)" >&2
    exit 1
}
echo "require('synfin').version = $got"
(cd "$tmp" && "$lua" -e "$paths" "$src/examples/seed_walkthrough.lua") >"$tmp/lua.out" || {
    cat "$tmp/lua.out"
    exit 1
}
grep -F '[TIME_WAIT] FIN #10' "$tmp/lua.out"
echo "package/luarocks: ok"
