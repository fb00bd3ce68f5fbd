-- spec/bench/tun_throughput.lua: bulk throughput between synfin and the
-- Linux kernel's TCP over TUN, each direction: clean, keeping every record
-- and keeping only the last 1000 (the cost of the trace, against nearly
-- none); and with 1% loss + 1% delay (10 ms) on synfin's side, with
-- synfin's tail loss probe off and on. Needs a namespace of its own:
--
--   spec/netns/run build/synfin spec/bench/tun_throughput.lua [MiB] [clean] [rounds]
--
-- "clean" leaves out the rows with faults (the slow ones: the README says
-- what limits synfin's recovery, below its table of these rows). The clean
-- rows run `rounds` times (default 5), interleaved (all, 1000, all, 1000,
-- ... each direction), after one transfer each way that is not counted (it
-- pays what only the first pays: the heap's growth, the kernel's first
-- socket buffers); each row prints the median and the range, and the
-- ratio of the medians, every record kept to the last 1000, follows. Real
-- time: the numbers depend on the machine, which is shared: read the
-- medians and the same-run ratio.
package.path = "spec/?.lua;" .. package.path
local bulk = require "interop.bulk"

local mib = tonumber(arg and arg[1]) or 100
local clean_only = arg and arg[2] == "clean"
local rounds = math.tointeger(tonumber(arg and arg[3])) or 5
local port = 9300

local function run(dir, loss, delay, tlp, records)
  port = port + 1
  local r = bulk.run { dir = dir, bytes = mib << 20, loss = loss, delay = delay, tlp = tlp, records = records,
    port = port }
  assert(r.sent_sha256 == r.received_sha256, dir .. ": the bytes received differ from those sent")
  return r
end

local function median(xs)
  local s = table.move(xs, 1, #xs, 1, {})
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

local HEAD = ("%-12s %6s %6s %4s %8s %8s %8s %10s %9s %17s %8s %6s")
local ROW = ("%-12s %5.0f%% %5.0f%% %4s %8s %8d %8d %10.3f %9.1f %8.3f - %6.3f %8d %6s")
print(HEAD:format("direction", "loss", "delay", "tlp", "records", "MiB", "runs", "seconds", "Mbit/s",
  "range (s)", "rexmits", "sha"))

local function row(dir, loss, delay, tlp, records, results)
  local secs = {}
  for i, r in ipairs(results) do secs[i] = r.seconds end
  local s = median(secs)
  table.sort(secs)
  print(ROW:format(dir, loss * 100, delay * 100, tlp and "on" or "off", records or "all", mib, #results, s,
    (mib << 20) * 8 / s / 1e6, secs[1], secs[#secs], results[#results].retransmits or 0, "equal"))
  return s
end

-- the clean rows: interleaved rounds, after a transfer each way not counted
local dirs = { "to_kernel", "from_kernel" }
for _, dir in ipairs(dirs) do run(dir, 0, 0, false) end
local got = {}
for _ = 1, rounds do
  for _, dir in ipairs(dirs) do
    for _, records in ipairs { "all", 1000 } do
      local key = dir .. "/" .. records
      got[key] = got[key] or {}
      table.insert(got[key], run(dir, 0, 0, false, records ~= "all" and records or nil))
    end
  end
end
local ratios = {}
for _, dir in ipairs(dirs) do
  local all = row(dir, 0, 0, false, nil, got[dir .. "/all"])
  local some = row(dir, 0, 0, false, 1000, got[dir .. "/1000"])
  ratios[#ratios + 1] = ("%s: every record kept takes %.2fx the time of the last 1000 (medians of %d)")
    :format(dir, all / some, rounds)
end
if not clean_only then
  for _, tlp in ipairs { false, true } do
    for _, dir in ipairs(dirs) do row(dir, 0.01, 0.01, tlp, nil, { run(dir, 0.01, 0.01, tlp) }) end
  end
end
print()
for _, line in ipairs(ratios) do print(line) end
