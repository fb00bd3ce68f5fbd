#!/bin/sh
# ctest's pkt/to_lua_sim: every spec/pkt script converted with
# `synfin --pkt FILE --to-lua --target sim`, the Lua it writes run with
# synfin; each must pass exactly when the runner passes the script on the
# sim. Usage: to_lua_check.sh SYNFIN DIR
synfin=$1
dir=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
bad=0
n=0
for f in "$dir"/*.pkt; do
  n=$((n + 1))
  name=$(basename "$f" .pkt)
  "$synfin" --pkt "$f" --target sim >"$tmp/$name.run" 2>&1
  run=$?
  if ! "$synfin" --pkt "$f" --to-lua --target sim -o "$tmp/$name.lua" 2>"$tmp/$name.conv"; then
    echo "FAIL $f: not converted: $(cat "$tmp/$name.conv")"
    bad=$((bad + 1))
    continue
  fi
  "$synfin" "$tmp/$name.lua" >"$tmp/$name.out" 2>&1
  lua=$?
  if [ "$run" -eq 0 ] && [ "$lua" -eq 0 ]; then
    echo "ok   $f: both pass"
  elif [ "$run" -ne 0 ] && [ "$lua" -ne 0 ]; then
    echo "ok   $f: both fail"
  else
    echo "FAIL $f: the runner exits $run, the converted scenario $lua"
    cat "$tmp/$name.run" "$tmp/$name.out"
    bad=$((bad + 1))
  fi
done
echo "$n scripts, $bad disagree"
[ "$bad" -eq 0 ]
