-- spec/bench/tun_throughput.lua: bulk throughput between synfin and the
-- Linux kernel's TCP over TUN, each direction, clean (keeping every record,
-- and only the last 1000) and with 1% loss + 1%
-- delay (10 ms) on synfin's side, the latter with synfin's tail loss probe
-- off (the default) and on. Needs a namespace of its own:
--
--   spec/netns/run build/synfin spec/bench/tun_throughput.lua [MiB] [clean]
--
-- "clean" leaves out the rows with faults (the slow ones: the README says
-- what limits synfin's recovery, below its table of these rows). Prints a
-- table. Real time: the numbers depend
-- on the machine.
package.path = "spec/?.lua;" .. package.path
local bulk = require "interop.bulk"

local mib = tonumber(arg and arg[1]) or 100
-- the clean rows twice: every record kept, and only the last 1000 (the
-- cost of keeping the trace, against nearly none)
local rows = { { "to_kernel", 0, 0, false }, { "from_kernel", 0, 0, false },
  { "to_kernel", 0, 0, false, 1000 }, { "from_kernel", 0, 0, false, 1000 } }
if not (arg and arg[2] == "clean") then
  for _, tlp in ipairs { false, true } do
    rows[#rows + 1] = { "to_kernel", 0.01, 0.01, tlp }
    rows[#rows + 1] = { "from_kernel", 0.01, 0.01, tlp }
  end
end
print(("%-12s %6s %6s %4s %8s %8s %10s %9s %8s %6s"):format("direction", "loss", "delay", "tlp", "records",
  "MiB", "seconds", "Mbit/s", "rexmits", "sha"))
for i, row in ipairs(rows) do
  local r = bulk.run { dir = row[1], bytes = mib << 20, loss = row[2], delay = row[3], tlp = row[4],
    records = row[5], port = 9300 + i }
  print(("%-12s %5.0f%% %5.0f%% %4s %8s %8d %10.3f %9.1f %8d %6s"):format(row[1], row[2] * 100, row[3] * 100,
    row[4] and "on" or "off", row[5] or "all", mib, r.seconds, r.bytes * 8 / r.seconds / 1e6, r.retransmits or 0,
    r.sent_sha256 == r.received_sha256 and "equal" or "DIFFER"))
end
