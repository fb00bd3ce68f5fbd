#!/bin/sh
# The ctest agent/namespace: synfin-agent runs only in a network namespace
# of its own (bindings/agent.c, own_namespace).
#
#   agent_namespace.sh PATH-TO-synfin-agent
#
# - In a user namespace that shares this network namespace (unshare -Ur)
#   it must refuse: --check-namespace exits 1, and a started agent says
#   hello=false and exits 1 before making any socket.
# - In a new network namespace (unshare -Urn) it must accept.
# Skipped (77) where no user namespace can be made, and where this process
# is itself in a namespace the agent accepts (a test run inside
# spec/netns/run, a rootless container): the refusal cannot be shown there.
set -u
agent=$1
if ! err=$(unshare -Ur true 2>&1); then
    echo "SKIPPED: cannot create a user namespace here (unshare -Ur: $err)"
    exit 77
fi
if here=$("$agent" --check-namespace); then
    echo "SKIPPED: this process is in a namespace the agent accepts already ($here)"
    exit 77
fi
echo "here: $here"
fail=0
if out=$(unshare -Ur "$agent" --check-namespace); then
    echo "FAIL: under unshare -Ur (the machine's network namespace) it accepted: $out"
    fail=1
else
    echo "ok: under unshare -Ur it refuses: $out"
fi
# a started agent refuses before reading any request
hello=$(echo "1 socket" | unshare -Ur "$agent")
rc=$?
case $rc:$hello in
1:'{id=0,hello=false,error='*) echo "ok: started under unshare -Ur it says $hello" ;;
*)
    echo "FAIL: started under unshare -Ur it exited $rc and said: $hello"
    fail=1
    ;;
esac
if out=$(unshare -Urn "$agent" --check-namespace); then
    echo "ok: under unshare -Urn it accepts: $out"
else
    echo "FAIL: under unshare -Urn it refused: $out"
    fail=1
fi
exit $fail
