-- spec/bench/tun_throughput.lua: bulk throughput between synfin and the
-- Linux kernel's TCP over TUN, each direction, clean and with 1% loss + 1%
-- delay (10 ms) on synfin's side. Needs a namespace of its own:
--
--   spec/netns/run build/synfin spec/bench/tun_throughput.lua [MiB] [clean]
--
-- "clean" leaves out the rows with faults (which stall at large sizes: issue 5).
-- prints a table. Real time: the numbers depend on the machine.
package.path = "spec/?.lua;" .. package.path
local bulk = require "interop.bulk"

local mib = tonumber(arg and arg[1]) or 100
local rows = { { "to_kernel", 0, 0 }, { "from_kernel", 0, 0 } }
if not (arg and arg[2] == "clean") then
  rows[3], rows[4] = { "to_kernel", 0.01, 0.01 }, { "from_kernel", 0.01, 0.01 }
end
print(("%-12s %6s %6s %8s %10s %9s %6s"):format("direction", "loss", "delay", "MiB", "seconds", "Mbit/s", "sha"))
for i, row in ipairs(rows) do
  local r = bulk.run { dir = row[1], bytes = mib << 20, loss = row[2], delay = row[3], port = 9300 + i }
  print(("%-12s %5.0f%% %5.0f%% %8d %10.3f %9.1f %6s"):format(row[1], row[2] * 100, row[3] * 100, mib,
    r.seconds, r.bytes * 8 / r.seconds / 1e6, r.sent_sha256 == r.received_sha256 and "equal" or "DIFFER"))
end
