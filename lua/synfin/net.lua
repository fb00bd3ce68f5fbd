--- synfin.net: the net itself: synfin.sim, synfin.tun and synfin.raw make
-- one; its settings (tolerance, budget), its device, notes, leftovers, and
-- net:close. Its other jobs are elsewhere: hosts (host.lua), the clock and
-- waits (scheduler.lua), scenarios (actors.lua), expectations (expect.lua),
-- records (records.lua), pictures (trace.lua).
-- @module synfin
local core = require "synfin.core"
local types = require "synfin.types"
local recording = require "synfin.records"
local util = require "synfin.util"
local argerror, shown = util.argerror, util.shown
local check_opts, check_time, check_time_limit = util.check_opts, util.check_time, util.check_time_limit
local check_expect_all, TIME_MAX = util.check_expect_all, util.TIME_MAX
local synfin, Net, Host, nets = types.synfin, types.Net, types.Host, types.nets

------------------------------------------------------------------------------
-- The net: a deterministic virtual network with a virtual clock, made by
-- synfin.sim. It holds the hosts, runs the scenario (net:run) and its waits
-- (net:expect, net:first, net:sleep, ...), and keeps the record of the run
-- (net:trace, net:records).
-- @type Net
------------------------------------------------------------------------------

--- A deterministic virtual network. opts: seed (integer, default 1),
-- latency (one way, seconds, default 0.005), loss (0..1, default 0), mark
-- (0..1, default 0: the probability that the link marks an ECN-capable
-- packet Congestion Experienced, RFC 3168, as a congested router would),
-- rate (bits per second: a bottleneck at each host's way out; default none),
-- queue (packets that may wait there, default 100: more are lost) and
-- threshold (packets waiting from which it marks ECN-capable packets CE and
-- loses the others, an AQM's step marking; default none),
-- timeout (default for blocking calls, seconds of virtual time, default 10),
-- strict (leftovers are an error at the end of net:run), `expect_all` (every
-- segment on the wire that matches it, a pattern or true, must be consumed
-- by an expectation: see net:run), payloads (false:
-- the trace keeps segments' lengths but not their bytes, for bulk transfers;
-- patterns on payload then see ""), records (N: keep only about the last N
-- records, for long runs in bounded memory; "all", the default, keeps every
-- one: expectations, the ladder and net:records() then see the last N), and
-- `callback_budget` and `time_limit`.
--
-- Nothing a script runs may hang the process. Each of its functions the
-- net calls (a hook, a state callback, a close policy, a pattern's where,
-- and the scenario between two waits) has `callback_budget` seconds of
-- wall-clock time (default synfin.CALLBACK_BUDGET; false: no limit, see
-- net:set_budget); past it, an error names the callback and the line it was
-- running ("synfin: hook 3 (ingress of 192.0.2.2) ran past its budget of
-- 0.05 s (callback_budget), at x.lua:12"), which fails the scenario.
-- `time_limit` bounds each run of a scenario as a whole (seconds of
-- wall-clock time, default none; net:run's own `time_limit` overrides it).
-- A callback that only calls C (a huge string.rep) or blocks in the
-- system is stopped only once it runs Lua again; a thread with a debug hook
-- of its own (a debugger, a coverage tool) keeps it, and has no budget.
-- @tparam[opt] table opts seed, latency, loss, mark, rate, queue, threshold, timeout,
-- strict, `expect_all`, payloads, records, `callback_budget`, `time_limit`
-- @treturn Net
-- @usage local net = synfin.sim { seed = 7, latency = 0.005 }
function synfin.sim(opts)
  opts = check_opts(opts, { seed = true, latency = true, loss = true, mark = true, rate = true, queue = true,
    threshold = true, timeout = true,
    strict = true, expect_all = true, payloads = true, records = true, callback_budget = true, time_limit = true },
    1, "sim")
  local seed = synfin.defaults.seed or opts.seed or 1
  if math.type(seed) ~= "integer" then argerror(1, "sim", "seed must be an integer") end
  if opts.timeout ~= nil then check_time(opts.timeout, "setting 'timeout'") end
  local sim = core.sim(seed)
  if (opts.queue or opts.threshold) and not opts.rate then
    argerror(1, "sim", "queue and threshold belong to a bottleneck: give its rate too")
  end
  sim:link(opts.latency or 0.005, opts.loss or 0, opts.mark or 0, opts.rate, opts.queue, opts.threshold)
  if opts.payloads == false then sim:keep_payloads(false) end
  local records = opts.records
  if records ~= nil and records ~= "all" then
    if math.type(records) ~= "integer" or records < 1 then
      argerror(1, "sim", "records must be \"all\" or a number of records (an integer >= 1), got " .. shown(records))
    end
    sim:keep_records(records)
  end
  local budget = opts.callback_budget
  if budget == nil then budget = synfin.CALLBACK_BUDGET end
  sim:set_budget(budget)
  if opts.time_limit ~= nil then check_time_limit(opts.time_limit, 1, "sim") end
  if opts.expect_all ~= nil then check_expect_all(opts.expect_all, 1, "sim") end
  local net = setmetatable({
    sim = sim,
    seed = seed,
    hosts = {},      -- index -> Host
    by_addr = {},    -- address -> Host
    outside = { cursor = 1 }, -- the script outside a scenario, as an actor: where its expectations look from
    timeout = opts.timeout or 10,
    listeners = {},  -- "host:conn" -> { event -> { fn, ... } }
    dispatched = 0,  -- records whose callbacks have run
    hooks = {},      -- every hook installed, for the leftovers report
    timers = {},     -- the scenario's own timers (close policies), by time
    close_policies = {}, -- "host:conn" (or "host:listener") -> policy
    strict = opts.strict, -- leftovers at the end of net:run are an error
    expect_all = opts.expect_all, -- segments no expectation consumed are an error
    time_limit = opts.time_limit, -- each run's, in seconds of wall-clock time
  }, Net)
  recording.attach(net)
  nets[sim] = net
  if synfin.defaults.on_net then synfin.defaults.on_net(net) end -- the CLI's --trace and --svg
  return net
end

--- The current virtual time, in seconds.
-- @treturn number
function Net:now() return self.sim:now() / 1e6 end

local function check_tolerance(tol, n, fname)
  if type(tol) ~= "table" then argerror(n, fname, "a table { abs = seconds, pct = fraction } expected") end
  for k, v in pairs(tol) do
    if k ~= "abs" and k ~= "pct" then argerror(n, fname, ("unknown tolerance field '%s'"):format(tostring(k))) end
    if type(v) ~= "number" or not (v >= 0 and v <= TIME_MAX) then
      argerror(n, fname, ("tolerance %s must be a number in 0..1e+09, got %s"):format(k, shown(v)))
    end
  end
  return { abs = tol.abs or 0, pct = tol.pct or 0 }
end

--- Sets how far from its time an expectation may be met and still pass:
-- abs seconds plus pct (a fraction) of the interval waited. net:expect,
-- c:wait, c:recv, l:accept, c:send_all and net:first wait that much
-- longer than their timeout; net:expect_nothing forgives a segment in the
-- last stretch of its window; net:expect_at takes its segment that much
-- early or late. net:sleep stays exact. A real-time net starts with
-- synfin.TOLERANCE, a sim with none (virtual time is exact; set one there
-- only to rehearse a real-time scenario).
-- @tparam table tol abs (seconds), pct (a fraction: 0.1 is 10 %); a field left out is 0
-- @treturn Net the net
-- @usage net:set_tolerance { abs = 0.05, pct = 0.2 }
function Net:set_tolerance(tol)
  self.tol = check_tolerance(tol, 1, "set_tolerance")
  return self
end

--- Sets each callback's wall-clock budget from now on (see synfin.sim's
-- `callback_budget`).
-- @tparam number|boolean seconds the budget (> 0), or false for none
-- @treturn Net the net
-- @usage net:set_budget(0.5)
function Net:set_budget(seconds)
  if seconds ~= false and type(seconds) ~= "number" then
    argerror(1, "set_budget", "seconds or false expected, got " .. type(seconds))
  end
  self.sim:set_budget(seconds)
  return self
end

--- The net's tolerance: a table { abs = seconds, pct = fraction }.
-- @treturn table
function Net:tolerance()
  local tol = self.tol or (self.realtime and synfin.TOLERANCE) or { abs = 0, pct = 0 }
  return { abs = tol.abs, pct = tol.pct }
end

--- The tolerance for an interval of t seconds: abs + pct * t (0 on a sim).
-- @tparam number t seconds
-- @treturn number seconds
function Net:slack(t)
  local tol = self.tol or (self.realtime and synfin.TOLERANCE)
  if not tol then return 0 end
  return tol.abs + tol.pct * t
end

-- A real-time net: a sim (opts as synfin.sim's, and tolerance) to which
-- open(sim) attaches a driver, returning the index of the host that stands
-- for the outside world (at the address the driver was given) and what the
-- driver tells (the device's name, the MAC), or nil and why. Returns the
-- net and that, or nil and why (the sim closed).
local function realtime_net(opts, open)
  local net = synfin.sim { seed = opts.seed, timeout = opts.timeout, strict = opts.strict,
    expect_all = opts.expect_all, payloads = opts.payloads, records = opts.records,
    callback_budget = opts.callback_budget, time_limit = opts.time_limit }
  local idx, got = open(net.sim)
  if not idx then
    net:close()
    return nil, got
  end
  net.realtime = true
  if opts.tolerance ~= nil then net:set_tolerance(opts.tolerance) end
  -- (its address as the records write it: "fd00::1" however it was given)
  local addr = net.sim:host_addrs(idx)[1]
  local h = setmetatable({ net = net, index = idx, addr = addr, addrs = { addr }, name = "kernel",
    peer = true }, Host)
  net.hosts[idx], net.by_addr[addr], net.kernel = h, h, h
  return net, got
end

--- A net on a TUN device, in real time: the Linux kernel's own TCP is its
-- peer. The same Net as synfin.sim (hosts, hooks, faults, expectations,
-- traces), on libuv's clock. The kernel gets `kernel` (default
-- "10.73.0.1"; or an IPv6 address, "fd00::1") on the device; give the
-- synfin hosts other addresses of its subnet, and the kernel's sockets
-- reach them. It stands in the net as the
-- host `net.kernel` (a peer: traced, never run by synfin). Needs
-- `CAP_NET_ADMIN`: run it as root or in a namespace of your own
-- (`unshare -Urn synfin script.lua`). opts: name (the device's, default
-- "synfin%d": the kernel picks), kernel, prefix (default 24, 64 for IPv6), mtu (default
-- 1500), offload (TUN offloads, default true: the kernel hands over GSO
-- super-segments, which the driver splits into the segments a wire would
-- carry before hooks, expectations, the trace and pcap see them; false:
-- one wire segment per read), seed, timeout (seconds of real time, default 10), strict,
-- payloads (as for synfin.sim), tolerance ({ abs = seconds, pct = fraction }:
-- how late or early an expectation may be met, see net:set_tolerance;
-- default synfin.TOLERANCE, 20 ms + 10 %).
-- @tparam[opt] table opts
-- @treturn Net
-- @usage local net = synfin.tun { kernel = "10.73.0.1", tolerance = { abs = 0.05, pct = 0.1 } }
-- local server = net:host "10.73.0.2"
function synfin.tun(opts)
  opts = check_opts(opts, { name = true, kernel = true, prefix = true, mtu = true, offload = true, seed = true,
    timeout = true, strict = true, expect_all = true, payloads = true, records = true, tolerance = true,
    callback_budget = true, time_limit = true }, 1, "tun")
  if opts.tolerance ~= nil then check_tolerance(opts.tolerance, 1, "tun") end
  local kernel = opts.kernel or "10.73.0.1"
  if type(kernel) ~= "string" then argerror(1, "tun", "kernel must be an IPv4 or IPv6 address string") end
  if opts.prefix ~= nil and math.type(opts.prefix) ~= "integer" then
    argerror(1, "tun", "prefix must be an integer")
  end
  local net, dev = realtime_net(opts, function(sim)
    return sim:tun(opts.name, kernel, opts.prefix, opts.mtu, opts.offload)
  end)
  if not net then error(("synfin.tun: cannot make the TUN device: %s"):format(dev), 2) end
  net.device = dev
  return net
end

--- A net on an Ethernet interface, in real time, through a packet socket
-- (AF_PACKET): a synfin host on a real link, the host at its other end as
-- its peer (on a veth pair, the Linux kernel). The same Net as synfin.tun,
-- and the peer is `net.kernel` too, whatever runs there. synfin speaks
-- Ethernet with a MAC of its own (`net.mac`; by default a locally
-- administered one derived from the interface's name and the peer's
-- address, never the interface's, so the kernel that owns the interface
-- drops the frames meant for synfin instead of answering them with RSTs),
-- answers ARP (IPv4) and Neighbor Solicitations (IPv6, RFC 4861) for every
-- synfin host's address and resolves the peer's, by the peer's family
-- (3 requests a second apart, then a note "no ARP reply from ..." or "no
-- Neighbor Advertisement from ..." and the waiting packets are dropped).
-- Give the interface no IPv4 or global IPv6 address: the address is the
-- peer's (`ip addr add 10.74.0.1/24 dev veth0`, or `ip addr add
-- fd00:74::1/64 dev veth0 nodad`; `ip link set veth1 up`). Needs `CAP_NET_RAW`: root or a namespace of
-- your own. opts: interface (required, e.g. "veth1"; it must be up), peer
-- (the peer's address, IPv4 or IPv6, required), mac ("02:00:00:00:00:01"), mtu (default:
-- the interface's), seed, timeout, strict, payloads, tolerance (as for
-- synfin.tun).
-- @tparam table opts
-- @treturn Net
-- @usage local net = synfin.raw { interface = "veth1", peer = "10.74.0.1" }
-- local server = net:host "10.74.0.2"
function synfin.raw(opts)
  opts = check_opts(opts, { interface = true, peer = true, mac = true, mtu = true, seed = true,
    timeout = true, strict = true, expect_all = true, payloads = true, records = true, tolerance = true,
    callback_budget = true, time_limit = true }, 1, "raw")
  if type(opts.interface) ~= "string" then argerror(1, "raw", "interface must be a string") end
  if type(opts.peer) ~= "string" then argerror(1, "raw", "peer must be an IPv4 or IPv6 address string") end
  if opts.tolerance ~= nil then check_tolerance(opts.tolerance, 1, "raw") end
  local mac
  if opts.mac ~= nil then
    local hex = { tostring(opts.mac):match("^(%x%x):(%x%x):(%x%x):(%x%x):(%x%x):(%x%x)$") }
    if #hex ~= 6 then argerror(1, "raw", "mac must look like 02:00:00:00:00:01") end
    for i, h in ipairs(hex) do hex[i] = string.char(tonumber(h, 16)) end
    mac = table.concat(hex)
  end
  local net, got = realtime_net(opts, function(sim)
    return sim:raw(opts.interface, opts.peer, mac, opts.mtu)
  end)
  if not net then error(("synfin.raw: cannot open %s: %s"):format(opts.interface, got), 2) end
  net.device, net.mac = opts.interface, got
  return net
end

--- The device's counters, or nil on a sim. Both drivers: `rx_packets`,
-- `tx_packets`, `tx_dropped`, ignored (packets from outside no host took).
-- synfin.tun adds `offload` (true when the device has offloads on),
-- `rx_super` (GSO super-segments read) and `rx_split` (the wire segments
-- they were split into).
-- synfin.raw adds `rx_not_for_us` (frames for another MAC),
-- `rx_other_type` (neither IP nor ARP), `rx_malformed` (short frames, bad
-- IPv4, IPv6 or ARP headers), `arp_requests_sent`, `arp_replies_sent`,
-- `arp_requests_received`, `arp_replies_received`, and Neighbor Discovery's
-- `nd_solicitations_sent`, `nd_advertisements_sent`,
-- `nd_solicitations_received`, `nd_advertisements_received` and `nd_invalid`
-- (dropped by RFC 4861 §7.1's validity checks: a hop limit not 255, a bad
-- checksum, ...).
-- @treturn table|nil
function Net:device_stats() return self.sim:tun_stats() or self.sim:raw_stats() end

--- Adds a note to the trace (shown in the ladder).
-- @param text the note (any value: tostring makes it text)
-- @tparam[opt] Host host the host whose lane shows it
function Net:note(text, host)
  self.sim:note(host and host.index or nil, tostring(text))
end

--- What a scenario left behind: connections not CLOSED (listeners aside;
-- `TIME_WAIT` is said so), and hooks with a count that never fired that many
-- times (a fault that did not happen). A list of strings, empty when clean.
-- @treturn {string,...}
function Net:leftovers()
  local out = {}
  for _, h in ipairs(self.hosts) do
    for _, r in ipairs(h:connections()) do
      if r.rport ~= 0 then
        out[#out + 1] = ("connection %s:%d -> %s:%d is %s"):format(r.laddr, r.lport, r.raddr, r.rport, r.state)
      end
    end
  end
  for _, hook in ipairs(self.hooks) do
    local st = hook:stats()
    if st and hook.count and hook.count > 0 and st.fired < hook.count then
      out[#out + 1] = ("hook %d on %s fired %d of its %d times"):format(hook.id, hook.host.addr, st.fired, hook.count)
    end
  end
  return out
end

--- Frees the net and everything in it now (the garbage collector does it too);
-- a recording (net:pcap) is flushed and closed first. Closing it twice is
-- harmless; any other use of it (or of its connections) after that raises
-- "the net is closed". Refused inside a callback of the net (a hook, a
-- state callback, a close policy) and inside its scenario: the net is
-- running them; close it once net:run has returned.
function Net:close()
  local _, running = self.sim:busy()
  if running then
    -- it would free the hooks, connections and clock that are running it
    error(("synfin: net:close() inside %s: the net is running it; close the net after net:run returns")
      :format(running), 2)
  end
  self:pcap(false)
  self:_sync()
  self.sim:close()
end

Net.__tostring = function(net)
  local ok, now = pcall(Net.now, net)
  return ("<net %s seed %d: %d hosts, %s>"):format(net.realtime and "real time" or "sim", net.seed,
    #net.hosts, ok and ("%.3f s"):format(now) or "closed")
end

return Net
