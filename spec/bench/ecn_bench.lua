-- A bulk transfer through a congested bottleneck, with and without ECN, for
-- each congestion controller: one table.
--
--   build/synfin spec/bench/ecn_bench.lua [MiB]
--
-- The sim's bottleneck (synfin.sim's rate, queue, threshold): 10 Mbit/s,
-- 10 ms each way, 64 packets of queue, step marking from 16 waiting. With
-- ECN the queue marks instead of losing; without, it loses what comes past
-- the threshold, and SACK recovery resends it. The sim is deterministic:
-- the figures are the same on every machine (virtual time).
local here = arg and arg[0] and arg[0]:match("^(.*)/bench/[^/]+$") or "spec"
package.path = here .. "/?.lua;" .. package.path
local bottleneck = require "helpers.bottleneck"

local mib = tonumber(arg and arg[1]) or 4
local link = { latency = 0.01, rate = 10e6, queue = 64, threshold = 16 }
print(("%d MiB, 10 Mbit/s bottleneck, 10 ms each way, queue 64, marks from 16"):format(mib))
print("| congestion control | ECN | goodput, Mbit/s | time, s | lost | retransmitted | marked CE |")
print("|---|---|---|---|---|---|---|")
for _, cc in ipairs { "newreno", "cubic" } do
  for _, ecn in ipairs { "off", "on" } do
    local r = bottleneck.transfer(mib << 20, link, { ecn = ecn, congestion_control = cc }, { ecn = ecn })
    assert(r.intact, "the data arrived altered")
    print(("| %s | %s | %.2f | %.2f | %d | %d | %d |"):format(cc, ecn, r.mbps, r.seconds, r.lost, r.retransmits,
      r.ce))
  end
end
