-- The differential harness (issue 16): each scenario of
-- spec/interop/socket_scenarios.lua against the Linux kernel over TUN
-- (kernel.agent) and against a synfin host with the linux profile in the
-- sim (kernel.sim, the socket facade); each side's segments (flags,
-- relative seq/ack, window, length, options, time) and calls (return,
-- errno, blocked time) recorded, aligned one by one, and every difference
-- named by a key ("nagle seg#5 len") that spec/conformance/justified.lua
-- must explain. tools/differential.lua runs it and writes the report.
local synfin = require "synfin"
local kernel = require "synfin.kernel"
local scenarios = require "interop.socket_scenarios"

local M = {}

-- What the facade gives where synfin has no equivalent (spec/facade_spec.lua
-- runs the scenarios with it too): `differs` of the sim's setup, empty today
M.SIM_DIFFERS = {}

-- The options of a segment, as text ("mss=1460 sack_perm ts ws=7").
local function options(r)
  local o = {}
  if r.mss then o[#o + 1] = "mss=" .. r.mss end
  if r.sack_perm then o[#o + 1] = "sack_perm" end
  if r.ts then o[#o + 1] = "ts" end
  if r.wscale and r.wscale >= 0 and (r.flags or ""):find("S", 1, true) then o[#o + 1] = "ws=" .. r.wscale end
  if r.sack and #r.sack > 0 then o[#o + 1] = "sack" end
  return table.concat(o, " ")
end

-- One side's observation of a scenario: its segments between the system
-- under test and synfin's peer, and the calls, with times from the first.
local function observe(env, ok, err)
  local net, sut = env.net, env.sut
  local segs, t0 = {}, nil
  local sut_index = sut.index
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" then
      t0 = t0 or r.time
      segs[#segs + 1] = {
        dir = (r.from == sut_index or r.src == sut.addr) and ">" or "<",
        flags = r.flags, seq = r.seq, ack = r.ack, len = r.len, win = r.win,
        opts = options(r), time = r.time - t0,
      }
    end
  end
  local calls = {}
  for _, c in ipairs(env.k:calls()) do
    calls[#calls + 1] = { name = c.name, shown = c.shown, ret = c.ret, errno = c.errno,
      blocked = c.blocked or 0 }
  end
  return { ok = ok, err = err and tostring(err):gsub("\n.*", "") or nil, segs = segs, calls = calls }
end

-- Runs scenario s (one of scenarios.list) with setup(settings) -> env, and
-- returns the observation; cleanup(env) after.
local function run_with(s, make_env, cleanup)
  local last
  local function setup(settings)
    last = make_env(settings)
    return last
  end
  local ok, err = pcall(s.fn, setup)
  local obs = last and observe(last, ok, err) or { ok = false, err = tostring(err), segs = {}, calls = {} }
  if last and cleanup then pcall(cleanup, last) end
  return obs
end

--- The settings the kernel's own sysctls give a synfin host (through
-- synfin.pkt_sysctl), read from /proc/sys where this runs: the sim is
-- compared with this kernel as it is set, not with a stock one
-- (net.ipv4.tcp_rmem's largest buffer makes the window scale: a stock
-- kernel's 6 MiB gives 7, a machine with 32 MiB gives 10).
-- @treturn table settings, e.g. { rcv_buf_max = 33554432 }
function M.kernel_settings()
  local sysctl = require "synfin.pkt_sysctl"
  local out = {}
  for _, name in ipairs { "net.ipv4.tcp_rmem" } do
    local f = io.open("/proc/sys/" .. name:gsub("%.", "/"))
    if f then
      local m = sysctl.map(name, f:read("a"))
      f:close()
      if m and m.setting then out[m.setting] = m.value end
    end
  end
  return out
end

--- The sim side: a synfin host with `profile` (default "linux") and the
-- settings given (M.kernel_settings()) through the socket facade,
-- synfin's peer beside it, no latency.
function M.run_sim(s, profile, sut_settings)
  return run_with(s, function(settings)
    local net = synfin.sim { latency = 0 }
    local opts = { name = "synfin (sockets)", profile = profile or "linux" }
    for k, v in pairs(sut_settings or {}) do opts[k] = v end
    local sut = net:host("10.73.0.1", opts)
    settings = settings or {}
    settings.name = "synfin"
    local peer = net:host("10.73.0.2", settings)
    return { net = net, peer = peer, k = kernel.sim(net, sut), sut = sut, differs = M.SIM_DIFFERS }
  end)
end

local subnet = 100
--- The kernel side: a TUN net (a subnet of its own each time), synfin's
-- peer on it, the kernel's calls made by synfin-agent. Only in a namespace.
function M.run_kernel(s)
  return run_with(s, function(settings)
    subnet = subnet + 1
    local net = synfin.tun { kernel = ("10.73.%d.1"):format(subnet) }
    settings = settings or {}
    settings.name = "synfin"
    local peer = net:host(("10.73.%d.2"):format(subnet), settings)
    local k = kernel.agent(net)
    return { net = net, peer = peer, k = k, sut = net.kernel, differs = {}, tolerance = synfin.TOLERANCE }
  end, function(env)
    env.k:stop()
    env.net:close()
  end)
end

local function within(a, b, tol)
  local d = math.abs(a - b)
  return d <= tol.abs + tol.pct * math.max(a, b)
end

--- Aligns two observations (kernel, sim) of scenario `name` one by one and
-- returns the differences: { key = "name seg#i field", kernel = ..., sim = ... }.
function M.compare(name, kobs, sobs, tol)
  tol = tol or synfin.TOLERANCE
  local diffs = {}
  local function add(key, kv, sv)
    diffs[#diffs + 1] = { key = name .. " " .. key, kernel = tostring(kv), sim = tostring(sv) }
  end
  if kobs.ok ~= sobs.ok then
    add("outcome", kobs.ok and "passed" or kobs.err, sobs.ok and "passed" or sobs.err)
  end
  local n = math.max(#kobs.segs, #sobs.segs)
  for i = 1, n do
    local a, b = kobs.segs[i], sobs.segs[i]
    if not a or not b then
      add(("seg#%d missing"):format(i), a and M.seg_text(a) or "-", b and M.seg_text(b) or "-")
    else
      for _, f in ipairs { "dir", "flags", "seq", "ack", "len", "win", "opts" } do
        -- an ack field means nothing without the ACK flag (a bare RST's)
        local acks = a.flags:find("A", 1, true) and b.flags:find("A", 1, true)
        if a[f] ~= b[f] and (f ~= "ack" or acks) then add(("seg#%d %s"):format(i, f), a[f], b[f]) end
      end
      if not within(a.time, b.time, tol) then
        add(("seg#%d time"):format(i), ("%.3f"):format(a.time), ("%.3f"):format(b.time))
      end
    end
  end
  n = math.max(#kobs.calls, #sobs.calls)
  for i = 1, n do
    local a, b = kobs.calls[i], sobs.calls[i]
    if not a or not b then
      add(("call#%d missing"):format(i), a and a.shown or "-", b and b.shown or "-")
    else
      for _, f in ipairs { "name", "ret", "errno" } do
        if a[f] ~= b[f] then add(("call#%d %s"):format(i, f), a[f], b[f]) end
      end
      if not within(a.blocked, b.blocked, tol) then
        add(("call#%d blocked"):format(i), ("%.3f"):format(a.blocked), ("%.3f"):format(b.blocked))
      end
    end
  end
  return diffs
end

function M.seg_text(s)
  return ("%s %s seq=%s ack=%s len=%s win=%s%s @%.3f"):format(s.dir, s.flags, s.seq, s.ack, s.len, s.win,
    s.opts ~= "" and (" <" .. s.opts .. ">") or "", s.time)
end

--- The justification of a difference key from the list `justified`
-- ({ pattern, reason } pairs, Lua patterns on the key), or nil.
function M.justify(key, justified)
  for _, j in ipairs(justified) do
    if key:match(j[1]) then return j[2], j end
  end
  return nil
end

M.scenarios = scenarios
return M
