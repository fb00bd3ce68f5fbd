-- spec/bench/lua_bench.lua: the cost of the scripting layer, beside the
-- same work without it, measured in one run. Prints a table; never a timed test.
--
--   build/synfin spec/bench/lua_bench.lua [--quick]
--
-- Rows (medians of RUNS runs; CPU time of this process):
-- * a no-op Lua hook, and a hook that reads seq, ack and len: the time per
--   call on top of the same transfer without hooks (the anchor: its time
--   per segment), with 8 such hooks on every segment; and the reading hook
--   again without a callback budget (what the budget's count hook costs);
-- * Lua lifecycles on the sim (connect, 100 B each way, close, TIME_WAIT
--   expiry), at 1k, 10k and 100k in one net: per second, and time per
--   lifecycle (flat when the later ones are the first's);
-- * spoofed SYNs against a listener in a Lua scenario: wall time and the
--   process's peak memory.
local synfin = require "synfin"

local quick = arg and arg[1] == "--quick"
local RUNS = quick and 1 or 5
local MIB = quick and 1 or 16
local STACKED = 8 -- hooks per segment in the hook rows

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

local function peak_kib()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) or 0
end

-- MIB MiB from a to b with the hook given on a's egress; returns CPU seconds
-- and the number of segments the hook saw.
local function transfer(hook, budget)
  local net = synfin.sim { seed = 1, latency = 0.001, callback_budget = budget }
  net.sim:keep_payloads(false)
  local a = net:host("192.0.2.1", { name = "a" })
  local b = net:host("192.0.2.2", { name = "b" })
  local l = b:listen(80)
  -- STACKED hooks of the kind: each segment runs them all, so the
  -- difference from the bare transfer is many times the noise
  local calls = 0
  for _ = 1, hook and STACKED or 0 do a:hook("egress", {}, hook(function() calls = calls + 1 end)) end
  local data = string.rep("x", MIB << 20)
  collectgarbage()
  local t0 = os.clock()
  net:run(function()
    local c = a:connect("192.0.2.2", 80)
    local s = l:accept(1)
    net:spawn(function() c:send_all(data, 100) end)
    local got = 0
    while got < #data do got = got + #s:recv(nil, 10) end
  end)
  local t = os.clock() - t0
  net:close()
  return t, calls, net.sim
end

local hooks = {
  ["no-op Lua hook"] = function(count)
    return function() count() end
  end,
  ["hook reading seq, ack, len"] = function(count)
    local sum = 0
    return function(seg)
      count()
      sum = sum + seg.seq + seg.ack + seg.len
    end
  end,
}

local rows = {}
local function row(name, value, unit, anchor, anchor_name, goal)
  rows[#rows + 1] = { name, value, unit, anchor, anchor_name, goal }
end

-- first: the peak memory it reports is the process's, which later rows raise
do
  local n = quick and 2000 or 100000
  local net = synfin.sim { seed = 1, latency = 0.001 }
  net.sim:keep_payloads(false)
  local peer = net:peer("192.0.2.1")
  local srv = net:host("192.0.2.2", { name = "srv" })
  srv:listen(80)
  collectgarbage()
  local before = peak_kib()
  local w0 = os.time()
  local c0 = os.clock()
  net:run(function()
    for i = 1, n do
      peer:send { dst = "192.0.2.2", sport = 1024 + i % 60000, dport = 80, flags = "S",
        abs_seq = i * 7919, mss = 1460 }
      if i % 1000 == 0 then net:sleep(0.001) end
    end
    net:sleep(0.01)
  end)
  local wall = math.max(os.clock() - c0, os.time() - w0 - 1)
  row(("%d spoofed SYNs in a Lua scenario"):format(n), wall, "s", nil, nil, "< 5 s")
  row("  their peak memory", (peak_kib() - before) / 1024, "MiB", nil, nil, "bounded by the record setting")
  net:close()
end

do
  local base = {}
  for _ = 1, RUNS do base[#base + 1] = transfer(nil) end
  local t0 = median(base)
  local function per_call(name, budget)
    local per, calls = {}, nil
    for i = 1, RUNS do
      local t
      t, calls = transfer(hooks[name], budget)
      per[i] = (t - base[i]) / calls * 1e9
    end
    return median(per), calls
  end
  local reading
  for _, name in ipairs { "no-op Lua hook", "hook reading seq, ack, len" } do
    local ns, calls = per_call(name)
    local goal = name == "no-op Lua hook" and "<= 150 ns" or "<= 300 ns"
    row(name, ns, "ns/call", t0 / (calls / STACKED) * 1e9, "the transfer without hooks, per segment", goal)
    reading = ns
  end
  -- what the safety net costs: a callback runs under a count hook (its
  -- budget, see net:set_budget), which makes Lua's VM trace every
  -- instruction; without a budget, none
  row("  the same, callback_budget = false", per_call("hook reading seq, ack, len", false), "ns/call", reading,
    "with the default budget", "-")
end

-- n lifecycles in one net, one after another; returns lifecycles per second
local function lifecycles(n)
  local net = synfin.sim { seed = 1, latency = 0.0001 }
  net.sim:keep_payloads(false)
  local a = net:host("192.0.2.1", { name = "a", msl = 0.5 })
  local b = net:host("192.0.2.2", { name = "b" })
  local l = b:listen(80, { backlog = 128 })
  local msg = string.rep("m", 100)
  collectgarbage()
  local t0 = os.clock()
  net:run(function()
    for _ = 1, n do
      local c = a:connect("192.0.2.2", 80)
      local s = l:accept(1)
      c:send(msg)
      s:recv(100, 1)
      s:send(msg)
      c:recv(100, 1)
      c:close()
      s:recv(1, 1) -- the end of the stream
      s:close()
      c:wait("TIME_WAIT", 1)
    end
    net:sleep(1.1) -- 2*MSL: the last TIME_WAIT expires
  end)
  local t = os.clock() - t0
  net:close()
  return n / t
end

do
  local small, large = quick and 100 or 1000, quick and 1000 or 10000
  local r1, r2 = {}, {}
  for _ = 1, quick and 1 or 3 do
    r1[#r1 + 1] = lifecycles(small)
    r2[#r2 + 1] = lifecycles(large)
  end
  local a, b = median(r1), median(r2)
  row(("Lua lifecycles, %d in one net"):format(small), a, "/s", nil, nil, ">= 50,000 /s")
  row(("Lua lifecycles, %d in one net"):format(large), b, "/s", a, ("%d in one net"):format(small),
    "flat: ratio 1")
  if not quick then -- once: the trace of 100k lifecycles, every record kept, is about 1.2M records
    row("Lua lifecycles, 100000 in one net", lifecycles(100000), "/s", a, ("%d in one net"):format(small),
      "flat: ratio 1")
  end
end

print(("%-40s %14s %-11s %14s  %-38s %s"):format("row", "synfin", "unit", "anchor", "anchor is", "goal"))
for _, r in ipairs(rows) do
  print(("%-40s %14.1f %-11s %14s  %-38s %s"):format(r[1], r[2], r[3],
    r[4] and ("%.1f"):format(r[4]) or "-", r[5] or "-", r[6]))
end
