#!/bin/sh
# spec/bench/anchors/check.sh BUILD_DIR: ctest's check (bench/anchors) that
# spec/bench/run's programs build and start: lwIP behind TAP answers a SYN
# and closes, the TUN sink answers a SYN and takes a short transfer, and
# synfin_tun_bench takes one too. Cheap (about a second) and times nothing.
# Runs inside spec/netns/run (a namespace of its own): the devices it
# creates go with it.
set -eu
B=$1
[ -n "${SYNFIN_NETNS:-}" ] || { echo "run me through spec/netns/run"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

# every background program is bounded by its own MAXSECS; wait for each
ip tuntap add dev ltap0 mode tap
ip addr add 10.74.0.1/24 dev ltap0
ip link set ltap0 up
"$B/bench_lwip_tap" ltap0 10.74.0.2 5 >/tmp/check-lwip.$$ 2>&1 &
lw=$!
out=$("$B/bench_tcpkit" conn 10.74.0.2 5003 0.3)
kill "$lw"; wait "$lw" || true
echo "$out" | grep -q '^conn_ok=[1-9]' || { cat /tmp/check-lwip.$$; rm -f /tmp/check-lwip.$$; fail "lwIP: $out"; }
rm -f /tmp/check-lwip.$$
echo "lwip_tap answers: $(echo "$out" | grep conn_ok)"

ip tuntap add dev stun0 mode tun
ip addr add 10.75.0.1/24 dev stun0
ip link set stun0 up
for v in "" vnet; do
  "$B/bench_tun_sink" stun0 10.75.0.2 5001 5 1 $v >/tmp/check-sink.$$ &
  sk=$!
  sleep 0.2
  "$B/bench_tcpkit" send 10.75.0.2 5001 0.2 >/dev/null || fail "tun_sink $v: the send did not end"
  wait "$sk" || fail "tun_sink $v: $(cat /tmp/check-sink.$$)"
  echo "tun_sink $v: $(grep sink_gbps /tmp/check-sink.$$)"
done
rm -f /tmp/check-sink.$$

"$B/synfin_tun_bench" sink sfb0 5001 5 >/tmp/check-sf.$$ &
sf=$!
for _ in $(seq 50); do grep -q ready /tmp/check-sf.$$ && break; sleep 0.05; done
sleep 0.2
"$B/bench_tcpkit" send 10.73.0.2 5001 0.2 >/dev/null || fail "synfin_tun_bench: the send did not end"
wait "$sf" || fail "synfin_tun_bench: $(cat /tmp/check-sf.$$)"
echo "synfin_tun_bench: $(grep synfin_gbps /tmp/check-sf.$$)"
rm -f /tmp/check-sf.$$
