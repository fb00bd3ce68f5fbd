--- synfin: a scriptable TCP state machine.
--
--     local synfin = require "synfin"
--     local net = synfin.sim{ seed = 7, latency = 0.005 }   -- seconds everywhere
--     local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
--     local l = b:listen(80)
--     net:run(function()
--       local c = a:connect("192.0.2.2", 80)
--       c:wait("ESTABLISHED", 1)
--       ...
--     end)
--     print(net:trace())
--
-- A scenario is a coroutine on the net's virtual clock (net:spawn adds
-- others, actors on the same clock): every blocking call (c:wait, c:recv,
-- l:accept, c:drain, net:expect, `net:expect_nothing`, net:sleep) yields
-- until its condition holds or its timeout passes, and a timeout raises an
-- error that says what was awaited, what happened instead, and the last
-- lines of the ladder. An expectation sees only what was sent after its
-- actor last resumed from another wait, or after its previous match (see
-- net:expect): it never passes on the past. net:run returns only when the
-- scenario is done, so it works in a plain busted `it` and under a stock
-- lua5.4. Outside net:run the same calls drive the clock directly. Nothing
-- is printed unless asked.
--
-- Sequence numbers in records, patterns, hooks and crafted segments are
-- relative to each side's ISN (as packetdrill and Wireshark show them);
-- `abs_seq` and `abs_ack` are the raw numbers.
-- @module synfin
-- @pragma nostrip
local core = require "synfin.core"
local pattern = require "synfin.pattern"
local ladder = require "synfin.ladder"

local synfin = {
  --- The version of synfin ("0.1.0"): the C core's `SF_VERSION`.
  version = core.version,
  --- What the CLI sets for every net.
  -- Settings that override every net's: the CLI's --seed sets seed; `on_net`,
  -- when set, is called with each new net (the CLI's --trace and --svg).
  -- @table synfin.defaults
  -- @field seed an integer: every net's seed, whatever synfin.sim is given
  -- @field on_net a function called with each new net
  defaults = {},
}

local TWO32 = 4294967296
local MAX_STEPS = 50000000 -- a wait that needs more has a runaway network

local function us(t) return math.floor(t * 1e6 + 0.5) end

--- Whether a record is a segment that reached the wire: one an egress hook
-- dropped or replaced never did (expectations see only the wire).
-- @tparam table r a record (of net:records(), or from net:expect)
-- @treturn boolean
function synfin.on_wire(r)
  return r.kind == "seg" and r.fate ~= "dropped_egress" and r.fate ~= "replaced"
end

local nets = setmetatable({}, { __mode = "k" }) -- sim userdata -> Net

local Net, Host, Hook, Trace = {}, {}, {}, {}
Net.__index, Host.__index, Trace.__index = Net, Host, Trace

local STATES = {}
for _, s in ipairs { "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
  "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT" } do
  STATES[s] = true
end
--- The eleven states of RFC 9293 (§3.3.2), in order, spelled as synfin
-- gives them everywhere (`"SYN_SENT"`, `"TIME_WAIT"`); what it is given
-- may be spelt as the RFC does too (see synfin.state).
synfin.STATES = { "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
  "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT" }

--- A state name as synfin spells it, from either spelling: `"FIN-WAIT-1"`
-- (RFC 9293's, as the C core reads it) or `"FIN_WAIT_1"`, in any case,
-- and `"SYN-RECEIVED"`; nil for anything else. c:wait, c:waiting, hook
-- filters, fixture.at_state and assert.state take either.
-- @tparam string name
-- @treturn string|nil "FIN_WAIT_1"
-- @usage synfin.state "fin-wait-1" --> "FIN_WAIT_1"
function synfin.state(name)
  if type(name) ~= "string" then return nil end
  local norm = name:upper():gsub("%-", "_")
  if norm == "SYN_RECEIVED" then norm = "SYN_RCVD" end
  return STATES[norm] and norm or nil
end

-- "file:line:" of the first caller outside synfin's own modules.
local function where()
  for level = 2, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.currentline > 0 and not info.short_src:find("synfin[/\\]%a+%.lua$")
      and not info.short_src:find("synfin[/\\]init%.lua$") then
      return ("%s:%d: "):format(info.short_src, info.currentline)
    end
  end
  return ""
end

-- Raises msg at the script's line that led here (where()), however deep in
-- synfin the check that failed is: "x.lua:12: synfin: ...".
local function raise(msg)
  error(where() .. msg, 0)
end

-- Raises "x.lua:12: bad argument #n to 'fname' (msg)", at the script's line.
local function argerror(n, fname, msg)
  raise(("bad argument #%d to '%s' (%s)"):format(n, fname, msg))
end

-- A value as an error message shows it: 70000, nan, "x", a table.
local function shown(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "number" or type(v) == "boolean" or v == nil then return tostring(v) end
  return "a " .. type(v)
end

-- The words for a state name that is none: what it got, and the names.
local function unknown_state(name)
  return ("unknown state %s: one of %s (or spelt as RFC 9293 spells them, FIN-WAIT-1)")
    :format(shown(name), table.concat(synfin.STATES, ", "))
end

local TIME_MAX = 1e9 -- seconds: any time a script gives (about 31 years)

-- t, a time in seconds in 0..TIME_MAX (not NaN, not infinite); else an
-- error at the script's line naming what it is ("the timeout").
local function check_time(t, what)
  if type(t) ~= "number" or not (t >= 0 and t <= TIME_MAX) then
    error(("%ssynfin: %s must be a time in seconds in 0..1e+09, got %s"):format(where(), what, shown(t)), 0)
  end
  return t
end

-- t, the time argument n of fname: a time in seconds in 0..TIME_MAX.
local function check_time_arg(t, n, fname)
  if type(t) ~= "number" or not (t >= 0 and t <= TIME_MAX) then
    argerror(n, fname, "a time in seconds in 0..1e+09 expected, got " .. shown(t))
  end
  return t
end

local function check_opts(opts, known, n, fname)
  if opts == nil then return {} end
  if type(opts) ~= "table" then argerror(n, fname, "table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not known[k] then argerror(n, fname, ("unknown option '%s'"):format(tostring(k))) end
  end
  return opts
end

-- pat, argument n of fname, if it is a pattern (pattern.check); else an
-- error at the script's line that says what is wrong with it.
local function check_pattern(pat, n, fname)
  local ok, err = pcall(pattern.check, pat)
  if not ok then argerror(n, fname, tostring(err)) end
  return pat
end

-- expect_all: true, false or a pattern (without since).
local function check_expect_all(v, n, fname)
  if type(v) == "boolean" then return v end
  local ok, err = pcall(pattern.check, v)
  if not ok or v.since ~= nil then
    error(("%sbad argument #%d to '%s' (expect_all must be true, false or a pattern without since, got %s%s)")
      :format(where(), n, fname, shown(v), ok and "" or (": " .. tostring(err))), 0)
  end
  return v
end

-- A time limit: seconds (> 0) or false.
local function check_time_limit(t, n, fname)
  if t ~= false and (type(t) ~= "number" or not (t > 0 and t <= 1e6)) then
    argerror(n, fname, ("time_limit must be a time in seconds in (0, 1e+06], or false, got %s"):format(shown(t)))
  end
  return t
end

local function split(opts, keys)
  local picked, rest = {}, {}
  for k, v in pairs(opts) do
    if keys[k] then picked[k] = v else rest[k] = v end
  end
  return picked, rest
end

local SETTINGS = { msl = true, rto = true, rto_min = true, rto_max = true, retries = true,
  syn_retries = true, rcv_buf = true, snd_buf = true, mss = true, isn = true, secret = true,
  backlog = true, fin_wait_2_timeout = true, challenge_ack_limit = true,
  rst_in_time_wait = true, syn_in_time_wait = true, delayed_ack = true, nagle = true,
  user_timeout = true, keepalive = true, keepalive_interval = true, keepalive_probes = true,
  ttl = true, tos = true, congestion_control = true, r1 = true, soft_errors = true,
  window_scaling = true, timestamps = true, mtu = true, quiet_time = true,
  tail_loss_probe = true, sack = true, min_snd_mss = true, syn_cookies = true, initial_window = true,
  profile = true, nagle_variant = true, rcv_after_close = true, ecn = true }

------------------------------------------------------------------------------
-- The net: a deterministic virtual network with a virtual clock, made by
-- synfin.sim. It holds the hosts, runs the scenario (net:run) and its waits
-- (net:expect, net:first, net:sleep, ...), and keeps the record of the run
-- (net:trace, net:records).
-- @type Net
------------------------------------------------------------------------------

--- Each callback's budget by default: 10 seconds of wall-clock time (see
-- synfin.sim's `callback_budget`).
synfin.CALLBACK_BUDGET = 10

-- The records as a list: each a view (synfin.core) whose fields are read
-- from the C trace when asked, so a fate or an arrival is always current,
-- made the first time a script looks at its index and kept (one object per
-- record: records compare equal by identity). seq and ack are relative to
-- the ISNs on the wire (synfin.core numbers them), abs_seq and abs_ack as sent.
--
-- With a record limit (synfin.sim{ records = N }), a record no longer kept
-- reads as { kind = "gone", index = i }, so that a walk over indices goes on.
local GONE = { __index = { kind = "gone" } }
local function record_list(sim)
  return setmetatable({}, {
    __index = function(list, i)
      if math.type(i) ~= "integer" or i < 1 or i > sim:trace_len() then return nil end
      local r = sim:record(i)
      if not r then return setmetatable({ index = i }, GONE) end
      rawset(list, i, r)
      return r
    end,
    __len = function() return sim:trace_len() end,
  })
end

--- A deterministic virtual network. opts: seed (integer, default 1),
-- latency (one way, seconds, default 0.005), loss (0..1, default 0), mark
-- (0..1, default 0: the probability that the link marks an ECN-capable
-- packet Congestion Experienced, RFC 3168, as a congested router would),
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
-- @tparam[opt] table opts seed, latency, loss, timeout, strict, `expect_all`,
-- payloads, records, `callback_budget`, `time_limit`
-- @treturn Net
-- @usage local net = synfin.sim { seed = 7, latency = 0.005 }
function synfin.sim(opts)
  opts = check_opts(opts, { seed = true, latency = true, loss = true, mark = true, timeout = true,
    strict = true, expect_all = true, payloads = true, records = true, callback_budget = true, time_limit = true },
    1, "sim")
  local seed = synfin.defaults.seed or opts.seed or 1
  if math.type(seed) ~= "integer" then argerror(1, "sim", "seed must be an integer") end
  if opts.timeout ~= nil then check_time(opts.timeout, "setting 'timeout'") end
  local sim = core.sim(seed)
  sim:link(opts.latency or 0.005, opts.loss or 0, opts.mark or 0)
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
    recs = record_list(sim), -- the trace's records, in order (views of the C trace)
    synced = 0,      -- records the coverage recorder has seen
    evicted = 0,     -- records whose views are forgotten (dropped by a record limit)
    outside = { cursor = 1 }, -- the script outside a scenario, as an actor: where its expectations look from
    consumed = {},   -- indices of the segment records an expectation has matched
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
  nets[sim] = net
  if synfin.defaults.on_net then synfin.defaults.on_net(net) end -- the CLI's --trace and --svg
  return net
end

--- The current virtual time, in seconds.
-- @treturn number
function Net:now() return self.sim:now() / 1e6 end

--- The tolerance a real-time net (`net.realtime`: synfin.tun, synfin.raw)
-- gives its expectations' times by default: 20 ms plus 10 % of the
-- interval. A kernel's timers, the scheduler and libuv's millisecond timers
-- all add jitter that a virtual clock does not have; a sim's tolerance is 0.
-- @table synfin.TOLERANCE
-- @field abs seconds (0.02)
-- @field pct a fraction of the interval (0.1)
synfin.TOLERANCE = { abs = 0.02, pct = 0.1 }

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
-- for the outside world at peer_addr and what the driver tells (the
-- device's name, the MAC), or nil and why. Returns the net and that, or nil
-- and why (the sim closed).
local function realtime_net(opts, peer_addr, open)
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
  local h = setmetatable({ net = net, index = idx, addr = peer_addr, addrs = { peer_addr }, name = "kernel",
    peer = true }, Host)
  net.hosts[idx], net.by_addr[peer_addr], net.kernel = h, h, h
  return net, got
end

--- A net on a TUN device, in real time: the Linux kernel's own TCP is its
-- peer. The same Net as synfin.sim (hosts, hooks, faults, expectations,
-- traces), on libuv's clock. The kernel gets `kernel` (default
-- "10.73.0.1") on the device; give the synfin hosts other addresses of its
-- subnet, and the kernel's sockets reach them. It stands in the net as the
-- host `net.kernel` (a peer: traced, never run by synfin). Needs
-- `CAP_NET_ADMIN`: run it as root or in a namespace of your own
-- (`unshare -Urn synfin script.lua`). opts: name (the device's, default
-- "synfin%d": the kernel picks), kernel, prefix (default 24), mtu (default
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
  if type(kernel) ~= "string" then argerror(1, "tun", "kernel must be an IPv4 address string") end
  if opts.prefix ~= nil and math.type(opts.prefix) ~= "integer" then
    argerror(1, "tun", "prefix must be an integer")
  end
  local net, dev = realtime_net(opts, kernel, function(sim)
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
-- answers ARP for every synfin host's address and resolves the peer's
-- (3 requests a second apart, then a note "no ARP reply from ..." and
-- the waiting packets are dropped). Give the interface no IPv4 address:
-- the address is the peer's (`ip addr add 10.74.0.1/24 dev veth0`,
-- `ip link set veth1 up`). Needs `CAP_NET_RAW`: root or a namespace of
-- your own. opts: interface (required, e.g. "veth1"; it must be up), peer
-- (the peer's address, required), mac ("02:00:00:00:00:01"), mtu (default:
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
  if type(opts.peer) ~= "string" then argerror(1, "raw", "peer must be an IPv4 address string") end
  if opts.tolerance ~= nil then check_tolerance(opts.tolerance, 1, "raw") end
  local mac
  if opts.mac ~= nil then
    local hex = { tostring(opts.mac):match("^(%x%x):(%x%x):(%x%x):(%x%x):(%x%x):(%x%x)$") }
    if #hex ~= 6 then argerror(1, "raw", "mac must look like 02:00:00:00:00:01") end
    for i, h in ipairs(hex) do hex[i] = string.char(tonumber(h, 16)) end
    mac = table.concat(hex)
  end
  local net, got = realtime_net(opts, opts.peer, function(sim)
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
-- `rx_other_type` (neither IPv4 nor ARP), `rx_malformed` (short frames, bad
-- IPv4 or ARP headers), `arp_requests_sent`, `arp_replies_sent`,
-- `arp_requests_received` and `arp_replies_received`.
-- @treturn table|nil
function Net:device_stats() return self.sim:tun_stats() or self.sim:raw_stats() end

-- A host's addresses from net:host's or net:peer's first argument: an
-- address, or a list of them with the options beside it
-- (`net:host { "192.0.2.1", "2001:db8::1", name = "a" }`); returns the
-- list and the options (those of the table merged with opts).
local function host_args(fname, addr, opts)
  if type(addr) == "string" then return { addr }, opts end
  if type(addr) ~= "table" or type(addr[1]) ~= "string" then
    argerror(1, fname, "an address (\"192.0.2.1\", \"2001:db8::1\") or a list of them expected")
  end
  local addrs, merged = {}, {}
  for k, v in pairs(addr) do
    if math.type(k) == "integer" then addrs[k] = v else merged[k] = v end
  end
  for k, v in pairs(opts or {}) do merged[k] = v end
  return addrs, merged
end

-- Adds the host to the net: its index, its addresses (canonical text, the
-- first its name), each findable in net.by_addr.
local function new_host(net, addrs, settings, fname, fields)
  local idx, err = net.sim:add_host(addrs, settings)
  if not idx then argerror(1, fname, ("%s: %s"):format(table.concat(addrs, ", "), err)) end
  local h = setmetatable(fields, Host)
  h.net, h.index, h.addrs = net, idx, net.sim:host_addrs(idx)
  h.addr = h.addrs[1]
  net.hosts[idx] = h
  for _, a in ipairs(h.addrs) do net.by_addr[a] = h end
  return h
end

--- A host running synfin's TCP at addr, or at several addresses of either
-- family (`net:host { "192.0.2.1", "2001:db8::1" }`: a connect picks the
-- one of the peer's family, MUST-44). settings: name, msl, rto, `rto_min`,
-- `rto_max`, retries, `syn_retries`, `rcv_buf`, `snd_buf`, mss, isn (a fixed ISN),
-- secret (ISN key), backlog. Times in seconds.
-- The README lists every setting (timers, buffers, policies).
-- @tparam string|table addr "192.0.2.1", "2001:db8::1", or a list with the settings beside it
-- @tparam[opt] table settings the host's settings
-- @treturn Host
function Net:host(addr, settings)
  local addrs
  addrs, settings = host_args("host", addr, settings)
  settings = check_opts(settings, setmetatable({ name = true }, { __index = SETTINGS }), 2, "host")
  local named, rest = split(settings, { name = true })
  return new_host(self, addrs, rest, "host", { name = named.name })
end

--- A bare peer at addr (or several addresses, as net:host takes them): it
-- has no TCP. What reaches it is only recorded; what it sends, a script
-- crafts with peer:send{...}. The scripted side of tests.
-- @tparam string|table addr an IPv4 or IPv6 address, or a list of them
-- @tparam[opt] table opts name
-- @treturn Host a host whose peer field is true
function Net:peer(addr, opts)
  local addrs
  addrs, opts = host_args("peer", addr, opts)
  opts = check_opts(opts, { name = true }, 2, "peer")
  return new_host(self, addrs, false, "peer", { name = opts.name, peer = true })
end

--- Adds a note to the trace (shown in the ladder).
-- @param text the note (any value: tostring makes it text)
-- @tparam[opt] Host host the host whose lane shows it
function Net:note(text, host)
  self.sim:note(host and host.index or nil, tostring(text))
end

-- The key of one direction of a connection, for its ISN.
-- The ISN of a direction seen on the wire so far, or nil (a bad address or
-- port too: inject reports those, with their names).
local function isn_of(net, src, sport, dst, dport)
  local ok, isn = pcall(net.sim.isn, net.sim, src, sport, dst, dport)
  return ok and isn or nil
end

local coverage -- synfin.coverage, loaded on first use

--- Hands the state changes recorded since the last call to the coverage
-- recorder (the C trace holds every record; nothing else is converted).
-- @local
function Net:_sync()
  local sim = self.sim
  local n = sim:trace_len()
  if n == self.synced then return end -- (called at every step of every wait)
  -- the views of records a limit dropped go too (memory stays bounded)
  local first = sim:trace_first()
  if first - 1 > self.evicted then
    for i = self.evicted + 1, first - 1 do rawset(self.recs, i, nil) end
    self.evicted = first - 1
  end
  coverage = coverage or require("synfin.coverage")
  if not coverage.off then
    local i = sim:next_record(self.synced + 1, "state")
    while i and i <= n do
      coverage.record(self, self.recs[i])
      i = sim:next_record(i + 1, "state")
    end
  end
  self.synced = n
end

-- (records read their fates from C: nothing to bring up to date)
Net._refresh = Net._sync

--- Every record so far (segments, state changes, notes), in order.
-- A note the protocol wrote about a segment has `code`, its reason's name
-- (`"paws"`, `"seq_unacceptable"`, `"ooo_held"`, ...: core/reason.c lists
-- them with their texts and rules), and `dropped`, whether the segment was
-- dropped (a note like `"ooo_held"` says it was kept); `text` is the prose.
-- @treturn {table,...} the records: kind = "seg", "state" or "note"
function Net:records()
  self:_refresh()
  local first = self.sim:trace_first()
  if first == 1 then return self.recs end
  -- a record limit: the records still kept, in order (index: each one's own)
  local kept = {}
  for i = first, #self.recs do kept[#kept + 1] = self.recs[i] end
  return kept
end

-- Runs the state callbacks of records not yet dispatched.
function Net:_dispatch()
  local n = #self.recs
  if not next(self.listeners) then -- nobody listens: nothing to read
    self.dispatched = n
    return
  end
  while self.dispatched < n do
    local i = self.sim:next_record(self.dispatched + 1, "state")
    if not i then
      self.dispatched = n
      break
    end
    self.dispatched = i
    local r = self.recs[i]
    local ls = self.listeners[r.host .. ":" .. r.conn]
    if ls then
      for _, fn in ipairs(ls.state or {}) do
        local what = ("a state callback of connection %d on %s"):format(r.conn, self.hosts[r.host].addr)
        local ok, err = self.sim:call("state callback", what, fn, r.old, r.new, r)
        if not ok then return "a state callback failed: " .. tostring(err) end
      end
    end
  end
end

function Net:_failure()
  local errs = self.sim:errors()
  if #errs > 0 then return "a hook failed: " .. table.concat(errs, "\n") end
end

--- The last lines of the ladder, for failure messages.
-- @local
function Net:_tail(n)
  local lines = ladder.lines(self, self:records())
  local first = math.max(3, #lines - (n or 12) + 1)
  local out = { lines[1] }
  if first > 3 then out[#out + 1] = "       ..." end
  for i = first, #lines do out[#out + 1] = lines[i] end
  return table.concat(out, "\n")
end

-- Drives the clock until one of the waits is settled: its check says done
-- or fails, or its deadline passes. Returns that wait and "ok", results...
-- or "fail", message; a failure of the net's own (a hook, a state callback,
-- the time limit) goes to the first wait. With a budget (a time on the
-- net's clock, microseconds) that comes first, returns nil, "pending" when
-- it has come (net:step: the waits go on at the next step).
function Net:_drive(waits, budget)
  local first = waits[1]
  while true do
    self:_refresh()
    local bad = self:_failure() or self:_dispatch() or self:_run_timers() or self:_watch()
    if bad then return first, "fail", bad end
    local over = self.sim:over_time()
    if over then
      return first, "fail", ("synfin: the scenario ran past its time limit of %g s (time_limit), at t=%.3f s, while waiting for %s")
        :format(over, self:now(), first.what)
    end
    self:_refresh()
    for _, w in ipairs(waits) do
      local res = table.pack(w.check())
      if res[1] then return w, "ok", table.unpack(res, 2, res.n) end
      if res[1] == nil then return w, "fail", w.where .. res[2] .. "\nlast lines of the trace:\n" .. self:_tail() end
      if w.idle then return w, self:_timed_out(w) end
      w.steps = (w.steps or 0) + 1
      if w.steps > MAX_STEPS then return w, "fail", w.where .. "the network did not settle while waiting for " .. w.what end
    end
    -- step to the first deadline, stopping at the scenario's own timers
    -- (close policies) and at a race's net:after branch, due before the
    -- race's deadline (which has the tolerance on top)
    local now = self.sim:now()
    local deadline = first.deadline
    for _, w in ipairs(waits) do
      if w.deadline < deadline then deadline = w.deadline end
    end
    local limit = deadline
    for _, w in ipairs(waits) do
      if w.wake and w.wake < limit and w.wake > now then limit = w.wake end
    end
    local timer = self.timers[1]
    if timer and timer.at < limit then limit = timer.at end
    local paused = budget and budget < limit
    if paused then limit = budget end
    if not self.sim:step(limit) then
      if paused then return nil, "pending" end
      if limit < deadline then
        bad = self:_run_timers()
        if bad then return first, "fail", bad end
      else
        -- nothing more happens before these deadlines, and the clock is there
        for _, w in ipairs(waits) do
          if w.deadline <= limit then w.idle = true end
        end
      end
    end
  end
end

-- A wait whose deadline has come: a sleep's end, or a timeout's failure.
function Net:_timed_out(w)
  if w.sleep then return "ok" end
  local instead = w.instead and w.instead() or nil
  instead = instead and ("\n  instead: " .. instead) or ""
  if w.slack > 0 then
    -- a real-time net: say by how much the expectation missed
    return "fail", ("%stimed out waiting for %s: expected within %.3f s (+%.3f s tolerance), %s for %.3f s (at t=%.3f s)%s\nlast lines of the trace:\n%s")
      :format(w.where, w.what, w.timeout, w.slack, w.missing or "it had not happened",
        (self.sim:now() - w.start) / 1e6, self:now(), instead, self:_tail())
  end
  return "fail", ("%stimed out after %g s (at t=%.3f s) waiting for %s%s\nlast lines of the trace:\n%s")
    :format(w.where, w.timeout, self:now(), w.what, instead, self:_tail())
end

-- Runs the watchers (net:_watching) after every event: each fn() returns
-- true once it is done (it is then dropped); a failing one fails the
-- scenario. synfin.kernel's socket facade completes its pending calls so,
-- at the very instant their condition holds.
function Net:_watch()
  local ws = self.watchers
  if not ws then return nil end
  local i = 1
  while ws[i] do
    local ok, done = xpcall(ws[i], debug.traceback)
    if not ok then return "a socket call failed: " .. tostring(done) end
    if done then table.remove(ws, i) else i = i + 1 end
  end
end

-- Adds a watcher (see Net:_watch).
function Net:_watching(fn)
  self.watchers = self.watchers or {}
  table.insert(self.watchers, fn)
end

-- Runs the scenario's timers that are due; a failing one fails the scenario.
function Net:_run_timers()
  local now = self.sim:now()
  while self.timers[1] and self.timers[1].at <= now do
    local timer = table.remove(self.timers, 1)
    local ok, err = xpcall(timer.fn, debug.traceback)
    if not ok then return "a close policy's timer failed: " .. tostring(err) end
  end
end

-- Calls fn at virtual time now + seconds, while the scenario waits.
function Net:_at(seconds, fn)
  local timer = { at = self.sim:now() + us(seconds), fn = fn, order = #self.timers }
  local i = #self.timers + 1
  while i > 1 and self.timers[i - 1].at > timer.at do i = i - 1 end
  table.insert(self.timers, i, timer)
end

-- The actor running now: the scenario or one that net:spawn added, each a
-- coroutine with its expectation cursor; net.outside when the script runs
-- outside a scenario (its waits drive the clock themselves).
function Net:_actor()
  local sc = self.scenario
  if sc then
    local co = coroutine.running()
    for _, a in ipairs(sc.actors) do
      if a.co == co then return a end
    end
  end
  return self.outside
end

-- Blocks the running actor on a wait: yields inside net:run, drives directly
-- outside. A wait that is not a sleep gets the net's tolerance on top of its
-- timeout (net:slack: 0 on a sim); missing says what did not happen
-- ("nothing came"), for the timeout's message on a real-time net.
--
-- When the wait is over the actor resumes, and its expectations see only
-- the segments sent from then on; unless an expectation matched in this
-- wait: then from just after its match (see net:expect).
function Net:_block(what, timeout, check, instead, sleep, missing, wake)
  local kind, running = self.sim:busy()
  if kind and kind ~= "scenario" then
    -- waiting would move the clock under it, or yield across the C that runs it
    error(("%ssynfin: waiting for %s inside %s: a callback runs to its end without waiting")
      :format(where(), what, running), 0)
  end
  timeout = timeout or self.timeout
  check_time(timeout, "the timeout")
  local slack = sleep and 0 or self:slack(timeout)
  local now = self.sim:now()
  local w = { synfin_wait = true, what = what, timeout = timeout, check = check, instead = instead,
    sleep = sleep, where = where(), start = now, slack = slack, missing = missing,
    deadline = now + us(timeout + slack), wake = wake }
  local actor = self:_actor()
  actor.matched = false
  local res
  if actor.co then
    res = table.pack(coroutine.yield(w))
  else
    res = table.pack(select(2, self:_drive({ w })))
  end
  if not actor.matched then self:_resumed(actor) end
  if res[1] == "fail" then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- Runs fn(...) as an action of the current actor, not a wait, even if it
-- drives the net meanwhile: the actor's expectation cursor stays where it
-- was, so what was sent since its last expectation stays in view, as after
-- c:send (synfin.kernel's socket calls are such actions).
function Net:_action(fn, ...)
  local actor = self:_actor()
  local cursor = actor.cursor
  local res = table.pack(pcall(fn, ...))
  if actor.cursor > cursor then actor.cursor = cursor end
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- The actor has resumed: what was sent until now is in its past.
function Net:_resumed(actor)
  self:_sync()
  if #self.recs + 1 > actor.cursor then actor.cursor = #self.recs + 1 end
end

-- A wait that has not begun: start() makes its check (and what to say
-- instead on a timeout) when the waiting begins. Every blocking call is one
-- of these, run by Net:_await; Net:first races several.
local function waitable(net, what, start, missing)
  return { synfin_waitable = true, net = net, what = what, start = start, missing = missing }
end

function Net:_await(w, t)
  local check, instead, deadline = w.start()
  if deadline then t = math.max(0, (deadline - self.sim:now()) / 1e6) end
  return self:_block(w.what, t, check, instead, deadline ~= nil, w.missing)
end

--- Waits for whichever of several waits is satisfied first, and returns its
-- name and results; the others are dropped (nothing of theirs lingers: they
-- are only checks on the virtual clock). branches: name -> a wait made by
-- c:waiting(state), c:receiving(n), c:sending_all(data), c:draining(),
-- l:accepting(), net:expecting(pattern), a:joining() or net:after(seconds). A branch that fails (a connection closed instead)
-- wins with nil, message. t bounds the whole race.
-- @tparam table branches name -> a wait
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @return the winning branch's name, then its results
-- @usage local name, data = net:first { data = c:receiving(5), quiet = net:after(2) }
function Net:first(branches, t)
  if type(branches) ~= "table" then argerror(1, "first", "table of waits expected") end
  local names = {}
  for name, w in pairs(branches) do
    if type(w) ~= "table" or not w.synfin_waitable then
      argerror(1, "first", ("'%s' is not a wait (use c:waiting, net:expecting, net:after ...)"):format(tostring(name)))
    end
    names[#names + 1] = name
  end
  table.sort(names, function(x, y) return tostring(x) < tostring(y) end)
  local checks, whats = {}, {}
  local soonest
  for i, name in ipairs(names) do
    local check, _, deadline = branches[name].start()
    checks[i] = check
    whats[i] = tostring(name) .. ": " .. branches[name].what
    if deadline and (not soonest or deadline < soonest) then soonest = deadline end
  end
  t = t or self.timeout
  if soonest then t = math.min(t, math.max(0, (soonest - self.sim:now()) / 1e6)) end
  return self:_block("the first of { " .. table.concat(whats, "; ") .. " }", t, function()
    for i, name in ipairs(names) do
      local r = table.pack(checks[i]())
      if r[1] then return true, name, table.unpack(r, 2, r.n) end
      if r[1] == nil then return true, name, nil, r[2] end
    end
    return false
  end, nil, nil, nil, soonest)
end

--- A wait satisfied once t seconds have passed (for net:first).
-- @tparam number t seconds
-- @return a wait
function Net:after(t)
  check_time_arg(t, 1, "after")
  return waitable(self, ("%g s"):format(t), function()
    local deadline = self.sim:now() + us(t)
    return function()
      -- the time has come, and everything due by then has happened
      local next_event = self.sim:next_time()
      return self.sim:now() >= deadline and (next_event == nil or next_event > deadline)
    end, nil, deadline
  end)
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

------------------------------------------------------------------------------
-- Actors: the scenario of net:run, and the others net:spawn adds to it.
------------------------------------------------------------------------------

local Actor = {}
Actor.__index = Actor

-- A new actor of the running scenario: fn(...) in a coroutine of its own,
-- started (fresh) at the next round of net:_advance, at the same instant.
local function new_actor(net, fn, args, name)
  local sc = net.scenario
  local a = setmetatable({ net = net, id = #sc.actors + 1, fresh = true, args = args, cursor = 1 }, Actor)
  a.name = name or ("the actor spawned at %s"):format((where():gsub(": $", "")))
  a.co = coroutine.create(function(...)
    net:_resumed(a) -- its first resumption: what came before is its past
    return fn(...)
  end)
  sc.actors[#sc.actors + 1] = a
  return a
end

-- Makes fn the net's scenario: the first actor of a new run.
local function begin(net, fn, opts, fname)
  if type(fn) ~= "function" then argerror(1, fname, "function expected") end
  opts = check_opts(opts, { strict = true, time_limit = true, expect_all = true }, 2, fname)
  if opts.time_limit ~= nil then check_time_limit(opts.time_limit, 2, fname) end
  if net.scenario then raise("a scenario is already running on this net") end
  local strict = opts.strict
  if strict == nil then strict = net.strict end
  local expect_all = opts.expect_all
  if expect_all == nil then expect_all = net.expect_all end
  if expect_all ~= nil then check_expect_all(expect_all, 2, fname) end
  local limit = opts.time_limit
  if limit == nil then limit = net.time_limit end
  net.sim:set_time_limit(limit or false)
  net:_sync()
  net.scenario = { strict = strict, expect_all = expect_all or nil, first = #net.recs + 1, actors = {} }
  new_actor(net, fn, table.pack(net), "the scenario")
end

-- The error an actor failed with, as net:run raises it: a message gets the
-- actor's traceback and the last lines of the ladder (unless it has them);
-- an error object (luassert's, under busted: a failure, not an error)
-- stays the same object, the ladder added to its message.
function Net:_failed(a, err)
  local tail = #self:records() > 0 and ("\nlast lines of the trace:\n" .. self:_tail()) or ""
  local in_actor = a.id > 1 and ("\n(in %s)"):format(a.name) or ""
  if type(err) == "string" or type(err) == "number" then
    err = tostring(err)
    if not err:find("\nlast lines of the trace:\n", 1, true) then err = err .. tail end
    return debug.traceback(a.co, err .. in_actor)
  end
  if type(err) == "table" and type(err.message) == "string" then
    if not err.message:find("\nlast lines of the trace:\n", 1, true) then
      err.message = err.message .. in_actor .. tail
    end
  end
  return err
end

-- Resumes actor a with what its wait gave, until it waits again or ends;
-- an error in it ends the run, raised.
function Net:_resume(a, ...)
  local res = table.pack(self.sim:resume(a.co, ...))
  if not res[1] then return self:_finish(self:_failed(a, res[2])) end
  if coroutine.status(a.co) == "dead" then
    a.done, a.wait = true, nil
    a.results = table.pack(table.unpack(res, 2, res.n))
    return
  end
  local w = res[2]
  if type(w) ~= "table" or not w.synfin_wait then
    return self:_finish(a.name .. " yielded something that is not a synfin wait")
  end
  a.wait, w.actor = w, a
end

-- The segments on the wire of this run that no expectation consumed and
-- that expect_all says must be (a pattern, or true: all).
function Net:_unexpected(sc)
  local scope = sc.expect_all == true and {} or sc.expect_all
  local out = {}
  for i = sc.first, #self.recs do
    local r = self.recs[i]
    if synfin.on_wire(r) and not self.consumed[i] and pattern.match(self, r, scope) then
      out[#out + 1] = ("#%d %s from %s at t=%.3f s (seq=%s ack=%s len=%d)"):format(r.n,
        r.flags ~= "" and r.flags or ".", r.src, r.time, tostring(r.seq), tostring(r.ack), r.len or 0)
    end
  end
  return out
end

-- The run has ended: the failure of an actor, of a hook or a callback, its
-- leftovers when strict, or segments nobody expected under expect_all, are
-- raised.
function Net:_finish(err)
  local sc = self.scenario
  self.scenario = nil
  self.sim:set_time_limit(false)
  self:_resumed(self.outside)
  if err ~= nil then error(err, 0) end
  self:_sync()
  local bad = self:_failure() or self:_dispatch()
  if bad then error(bad, 0) end
  if sc.strict then
    local left = self:leftovers()
    if #left > 0 then error("the scenario left behind:\n  " .. table.concat(left, "\n  "), 0) end
  end
  if sc.expect_all then
    local missed = self:_unexpected(sc)
    if #missed > 0 then
      error(("synfin: expect_all: %d segment%s on the wire that no expectation consumed:\n  %s\nlast lines of the trace:\n%s")
        :format(#missed, #missed > 1 and "s" or "", table.concat(missed, "\n  "), self:_tail()), 0)
    end
  end
  return false
end

-- Runs the actors: those spawned since the last round start, then the clock
-- is driven until a wait is settled and its actor resumes, and so on until
-- every actor has finished (false), or, with a budget, until the waits are
-- pending at it (true); budget false: only the start (net:start).
function Net:_advance(budget)
  local sc = self.scenario
  while true do
    for _, a in ipairs(sc.actors) do
      if a.fresh then
        a.fresh = false
        self:_resume(a, table.unpack(a.args, 1, a.args.n))
      end
    end
    local waits = {}
    for _, a in ipairs(sc.actors) do
      if a.wait then waits[#waits + 1] = a.wait end
    end
    if #waits == 0 then return self:_finish() end
    if budget == false then return true end
    local res = table.pack(self:_drive(waits, budget))
    local w = res[1]
    if not w then return true end -- pending at the budget
    local a = w.actor
    a.wait = nil
    self:_resume(a, table.unpack(res, 2, res.n))
  end
end

--- Runs fn(net) as the scenario, on the net's clock; returns the net when
-- fn, and every actor it spawned (net:spawn), have finished. An error in
-- any of them, a failed wait or a failed hook is raised with its traceback
-- and the last lines of the ladder; a luassert failure stays the same
-- object (busted reports a failure, not an error). opts.strict (or the
-- net's strict setting): leftovers (net:leftovers()) are an error too.
-- opts.`expect_all` (or the net's), the strict mode for segments, as
-- packetdrill's: every segment on the wire of this run that matches it (a
-- pattern, or true for all) must have been consumed by an expectation
-- (net:expect, net:expect_at, a net:expecting that won), else the run
-- fails naming them. opts.`time_limit` (or the net's): seconds of
-- wall-clock time the whole run may take (see synfin.sim).
-- net:start and net:step do the same a step at a time, for a program with a
-- loop of its own.
-- @tparam function fn the scenario, called with the net
-- @tparam[opt] table opts strict, `expect_all`, `time_limit`
-- @treturn Net
-- @usage net:run(function() ... end, { expect_all = { from = b } })
function Net:run(fn, opts)
  begin(self, fn, opts, "run")
  self:_advance(nil)
  return self
end

--- Starts fn(net) as the scenario without waiting for it to finish: it
-- runs until its first wait, and net:step runs it on. For a program with
-- a loop of its own (luv, cqueues, a poll loop) that drives a real-time
-- net: poll net:fd() for reading, with net:next_timeout() as the timeout,
-- and call net:step() when either fires, until it returns false.
-- @tparam function fn the scenario, called with the net
-- @tparam[opt] table opts strict, `expect_all`, `time_limit` (as for net:run)
-- @treturn boolean true while the scenario runs, false when it has finished already
-- @raise the scenario's failure, as net:run raises it
-- @usage net:start(function() local c = host:connect("10.73.0.1", 80) ... end)
function Net:start(fn, opts)
  begin(self, fn, opts, "start")
  return self:_advance(false)
end

--- Lets the net run for at most t seconds (default 0: only what is there
-- or due now, without waiting), then returns. On a real-time net it reads
-- what has arrived on the device and runs the timers that are due; on a
-- sim it moves the virtual clock on by t at most. A scenario started with
-- net:start goes on as far as that lets it.
-- @tparam[opt] number t seconds (>= 0)
-- @treturn boolean true while the scenario started with net:start runs;
-- false when it has finished (or none was started)
-- @raise the scenario's failure (a failed wait, an error in it or in a hook),
-- when it fails in this step
-- @usage while net:step(0.1) do end
function Net:step(t)
  t = t or 0
  check_time_arg(t, 1, "step")
  local kind, running = self.sim:busy()
  if kind and kind ~= "scenario" then
    raise(("synfin: net:step inside %s: a callback runs to its end without moving the clock"):format(running))
  end
  if self:_actor() ~= self.outside then raise("net:step is called from inside the scenario") end
  local budget = self.sim:now() + us(t)
  if self.scenario then
    local going = self:_advance(budget)
    self:_resumed(self.outside)
    return going
  end
  local n = 0
  while n < MAX_STEPS and self.sim:step(budget) do n = n + 1 end
  self:_refresh()
  self:_resumed(self.outside)
  local bad = self:_failure() or self:_dispatch()
  if bad then error(bad, 0) end
  return false
end

--- The fd a program's loop polls for reading on behalf of a real-time net
-- (synfin.tun: the TUN device's; synfin.raw: the packet socket's); nil on
-- a sim, which needs no loop. When it is readable, call net:step().
-- @treturn integer|nil
function Net:fd() return self.sim:fd() end

--- Seconds until the net next needs a step: its next timer or delayed
-- segment, or the deadline of a wait of the scenario (net:start), whichever
-- comes first; 0 when something is due now; nil when nothing is pending
-- (then only the fd can wake it). On a sim, virtual seconds.
-- @treturn number|nil
function Net:next_timeout()
  local now = self.sim:now()
  local at
  local rt_ms = self.sim:timeout()
  if rt_ms then
    if rt_ms >= 0 then at = now + rt_ms * 1000 end
  else
    at = self.sim:next_time()
  end
  for _, a in ipairs(self.scenario and self.scenario.actors or {}) do
    local w = a.wait
    if w then
      local due = w.deadline
      if w.wake and w.wake < due and w.wake > now then due = w.wake end
      if not at or due < at then at = due end
    end
  end
  local timer = self.timers[1]
  if timer and (not at or timer.at < at) then at = timer.at end
  if not at then return nil end
  return math.max(0, at - now) / 1e6
end

--- Adds an actor to the running scenario: fn(...) runs in a coroutine of
-- its own on the same clock, from the instant the calling actor next
-- waits, and may wait (c:recv, net:expect, net:sleep ...) while the others
-- do: a server sending a megabyte while the client reads it, without
-- interleaving them by hand. net:run returns once every actor has
-- finished; an error in any of them fails the run (with "in the actor
-- spawned at x.lua:12"). Each actor has its own expectation cursor (see
-- net:expect); a segment one actor's expectation consumed, no other's
-- matches. Only from inside the scenario (or another actor).
-- @tparam function fn the actor
-- @param ... its arguments
-- @treturn Actor its handle: a:join(t) waits for it to finish
-- @usage net:spawn(function() s:send_all(data); s:drain(5); s:close() end)
function Net:spawn(fn, ...)
  if type(fn) ~= "function" then argerror(1, "spawn", "function expected, got " .. shown(fn)) end
  local kind, running = self.sim:busy()
  if kind and kind ~= "scenario" then
    error(("%ssynfin: net:spawn inside %s: spawn actors from the scenario"):format(where(), running), 0)
  end
  if self:_actor() == self.outside then
    error(where() .. "synfin: net:spawn outside a scenario: actors share the scenario's clock, so spawn them"
      .. " inside net:run's function", 0)
  end
  return new_actor(self, fn, table.pack(...))
end

--- An actor: the handle net:spawn returns. Fields: done (true once it has
-- finished), results (what its function returned, packed), name.
-- @type Actor

--- Waits until the actor has finished, and returns what its function
-- returned.
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @return the actor's results
function Actor:join(t)
  return self.net:_await(self:joining(), t)
end

--- The wait of a:join, for net:first.
-- @return a wait
function Actor:joining()
  return waitable(self.net, self.name .. " to finish", function()
    if self.net:_actor() == self then
      error(where() .. "synfin: an actor cannot wait for itself to finish", 0)
    end
    return function()
      if self.done then return true, table.unpack(self.results, 1, self.results.n) end
      return false
    end
  end)
end

Actor.__tostring = function(a)
  return ("<actor %d %s: %s>"):format(a.id, a.name, a.done and "finished" or (a.wait and ("waiting for " .. a.wait.what)) or "running")
end

--- The net (continued).
-- @type Net

--- Lets t seconds of virtual time pass.
-- @tparam number t seconds
function Net:sleep(t)
  return self:_await(self:after(t))
end

--- Waits for a segment on the wire that matches pat (see synfin.pattern),
-- and returns its record; the segment is consumed: no other expectation
-- matches it again.
--
-- The rule: an expectation sees only the segments sent after the later of
-- two points, the last time the running actor (the scenario, or one that
-- net:spawn added) resumed from a wait that was not an expectation, and
-- the match of its previous expectation. So a segment sent before the
-- scenario last waited (during a c:wait, a c:recv, a net:sleep) is the
-- past, and never passes an expectation by itself; a segment the script's
-- own call sends (c:close(), then net:expect of the FIN) is seen, and so
-- are the segments after a match, even sent at the same instant as it
-- (two expectations in a row for two segments of one flight). To look
-- further back, take a mark first and name it: `since = net:mark()` in the
-- pattern makes the expectation see every segment from the mark on (those
-- consumed already aside). A timeout names a segment the rule left out
-- that would have matched. Outside net:run the script is its own actor:
-- its waits resume it.
--
-- A segment an egress hook dropped never reached the wire.
-- @tparam table pat a pattern
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn table the segment's record
-- @usage c:close()
-- local fin = net:expect({ from = a, flags = "F" }, 1)
-- local m = net:mark()
-- c:wait("ESTABLISHED", 1)
-- net:expect({ from = a, flags = "=A", since = m }, 0)   -- the handshake's ACK
function Net:expect(pat, t)
  return self:_await(self:_expecting(pat, "expect"), t)
end

--- A mark of this point of the run, for the `since` of a pattern: an
-- expectation with `since = mark` sees every segment sent from the mark
-- on, also those sent before the scenario last resumed (see net:expect).
-- Fields: time (seconds), index (of the next record).
-- @treturn table the mark
function Net:mark()
  self:_sync()
  return setmetatable({ synfin_mark = true, index = #self.recs + 1, time = self:now() }, pattern.Mark)
end

-- The first segment on the wire that matches pat, from where the actor's
-- expectations look (or pat.since) on, not consumed yet; consumed now (the
-- actor's cursor moves past it), or nil.
local function next_match(net, pat, actor)
  for i = pat.since and pat.since.index or actor.cursor, #net.recs do
    local r = net.recs[i]
    if not net.consumed[i] and synfin.on_wire(r) and pattern.match(net, r, pat) then
      net.consumed[i] = true
      if i + 1 > actor.cursor then actor.cursor = i + 1 end
      actor.matched = true
      if pat.label then r.label = pat.label end
      return r
    end
  end
end

-- What came instead of a match, for a timeout's message; and the latest
-- segment the rule left out that would have matched.
local function unmatched(net, pat, actor)
  local from = pat.since and pat.since.index or actor.cursor
  local seen = {}
  for i = from, #net.recs do
    local r = net.recs[i]
    if synfin.on_wire(r) then seen[#seen + 1] = "#" .. r.n end
  end
  local said = #seen > 0 and ("segments " .. table.concat(seen, ", ") .. " did not match") or "no segment"
  for i = from - 1, 1, -1 do
    local r = net.recs[i]
    if not net.consumed[i] and synfin.on_wire(r) and pattern.match(net, r, pat) then
      return said .. ("; segment #%d (t=%.3f s) would match, but was sent before this expectation's"
        .. " start (where the scenario last resumed, or the previous expectation's match):"
        .. " take a mark before it and give since = mark to look back"):format(r.n, r.time)
    end
  end
  return said
end

--- The wait of net:expect, for net:first.
-- @tparam table pat a pattern
-- @return a wait
function Net:expecting(pat)
  return self:_expecting(pat, "expecting")
end

-- net:expecting, its errors naming fname.
function Net:_expecting(pat, fname)
  check_pattern(pat, 1, fname)
  return waitable(self, pattern.describe(self, pat), function()
    local actor = self:_actor()
    return function()
      local r = next_match(self, pat, actor)
      if r then return true, r end
      return false
    end, function() return unmatched(self, pat, actor) end
  end, "nothing came")
end

--- Waits for the next segment matching pat to come at time at (seconds on
-- the net's clock, as net:now() and records' time), give or take the
-- net's tolerance for the interval from now to at (net:slack; exactly at
-- on a sim). Fails if it comes early, and if it is late says by how much
-- (waiting at most as long again, within the net's timeout, to find out).
-- For timers: retransmissions, keepalives, TIME_WAIT's end. It sees the
-- segments net:expect would.
-- @tparam table pat a pattern
-- @tparam number at the time it should come
-- @treturn table the segment's record
-- @usage local again = net:expect_at({ flags = "SA" }, first.time + 1) -- RTO: 1 s
function Net:expect_at(pat, at)
  check_pattern(pat, 1, "expect_at")
  check_time_arg(at, 2, "expect_at")
  local actor = self:_actor()
  local now = self:now()
  local slack = self:slack(math.max(0, at - now))
  local lo, hi = us(at - slack), us(at + slack)
  -- past the window, wait a little longer only to say how late it was
  local extra = math.min(self.timeout, math.max(1, at - now))
  local what = pattern.describe(self, pat)
  local window = slack > 0 and ("t=%.3f s (+/- %.3f s tolerance)"):format(at, slack) or ("t=%.6f s"):format(at)
  local r = self:_block(what .. " at " .. window, math.max(0, at + slack - now) + extra, function()
    local r = next_match(self, pat, actor)
    if not r then return false end
    local t = r.time_us or us(r.time)
    if t < lo or t > hi then
      return nil, ("expected %s at %s, but segment #%d came at t=%.3f s, %.3f s %s")
        :format(what, window, r.n, r.time, math.abs(r.time - at), t < lo and "early" or "late")
    end
    return true, r
  end, nil, true) -- a sleep: its end is no failure of itself, the check below says what missed
  if not r then
    error(("%sexpected %s at %s, nothing came by t=%.3f s (%.3f s late and counting); %s\nlast lines of the trace:\n%s")
      :format(where(), what, window, self:now(), self:now() - at, unmatched(self, pat, actor), self:_tail()), 0)
  end
  return r
end

--- Fails if a segment matching pat goes on the wire within t seconds
-- (counting from the call; with `since = mark` in the pattern, from the
-- mark on); returns true otherwise. It consumes nothing.
-- @tparam table pat a pattern
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn boolean true
function Net:expect_nothing(pat, t)
  check_pattern(pat, 1, "expect_nothing")
  self:_sync()
  local from = pat.since and pat.since.index or #self.recs + 1
  local what = pattern.describe(self, pat)
  t = check_time_arg(t or self.timeout, 2, "expect_nothing")
  -- on a real-time net a segment in the window's last stretch (the
  -- tolerance) may be one that is due just then: forgiven
  local slack = math.min(t, self:slack(t))
  local start = self.sim:now()
  local strict_until = start + us(t - slack)
  self:_block("nothing like " .. what, t, function()
    for i = from, #self.recs do
      local r = self.recs[i]
      if synfin.on_wire(r) and pattern.match(self, r, pat) and (r.time_us or us(r.time)) < strict_until then
        if slack > 0 then
          local after = ((r.time_us or us(r.time)) - start) / 1e6
          return nil, ("expected nothing like %s for %.3f s (-%.3f s tolerance), but segment #%d came at t=%.3f s, after %.3f s: %.3f s early")
            :format(what, t, slack, r.n, r.time, after, t - after)
        end
        return nil, ("expected nothing like %s for %g s, but segment #%d came at t=%.3f s")
          :format(what, t, r.n, r.time)
      end
    end
    return false
  end, nil, true)
  return true
end

--- The ladder diagram of the run so far: print(net:trace()) shows it.
-- Each segment's line has its options as tcpdump prints them
-- (`<mss 1460,sackOK,TS val 1 ecr 0,wscale 7>`) and its window with the
-- scale its sender announced (`win=502<<7`). opts: notes = false hides the
-- protocol's explanations; ts = false leaves the timestamp option out.
-- @tparam[opt] table opts notes, ts
-- @treturn Trace
function Net:trace(opts)
  return setmetatable({ net = self, opts = opts or {} }, Trace)
end

--- The ladder of a net's run, from net:trace(). tostring(trace) and
-- print(trace) give its text, and trace .. "text" concatenates it; it is
-- drawn from the records when asked, so it shows the run up to then.
-- @type Trace

--- The ladder as text.
-- @treturn string
function Trace:text() return ladder.text(self.net, self:_records(), self.opts) end
--- The ladder as a list of lines of text.
-- @treturn {string,...}
function Trace:lines() return ladder.lines(self.net, self:_records(), self.opts) end

-- What the ladder draws: the net's records, or what a trace made by
-- synfin.trace_of draws (synfin.kernel's: the records with the calls).
function Trace:_records()
  if self.records then return self.records() end
  return self.net:records()
end

--- A trace of net drawn from the records that records() returns, with
-- net:trace's methods: for modules that draw more than the net's records.
-- @local
function synfin.trace_of(net, records, opts)
  return setmetatable({ net = net, records = records, opts = opts or {} }, Trace)
end

--- The ladder as an SVG picture (lua/synfin/ladder.lua): written to path,
-- returning true, or nil, message when the file cannot be written. Without a
-- path, returns the SVG text.
-- @tparam[opt] string path the file to write
-- @return true; or nil, message; or, without a path, the SVG text
function Trace:svg(path)
  local svg = ladder.svg(self.net, self:_records(), self.opts)
  if path == nil then return svg end
  if type(path) ~= "string" then argerror(1, "svg", "a file name expected") end
  local f, err = io.open(path, "w")
  if not f then return nil, err end
  local ok, werr = f:write(svg)
  local cok, cerr = f:close()
  if not ok or not cok then return nil, werr or cerr end
  return true
end
Trace.__tostring = Trace.text
Trace.__concat = function(a, b)
  return (type(a) == "table" and a:text() or a) .. (type(b) == "table" and b:text() or b)
end

--- The net (continued).
-- @type Net

--- The eleven-state machine as Graphviz DOT, the transitions this run took
-- drawn bold with their counts (lua/synfin/states.lua).
-- @tparam[opt] table opts title
-- @treturn string
function Net:states_dot(opts) return require("synfin.states").dot(self:records(), opts) end

--- Records every packet of the net to a pcapng file, for tcpdump, tshark
-- and Wireshark, from now until net:pcap(false) or net:close() (or the
-- garbage collector). On the sim and on TUN alike, each packet is written
-- once, when its fate is settled, with its bytes as they were on the wire
-- (also with `payloads = false`), the time it entered the wire (the net's
-- clock, from 0), and a comment saying what synfin knows: its number in the
-- trace, its sender and receiver, the hooks' verdicts and its fate, as
-- "synfin #4 192.0.2.1 > 192.0.2.2: dropped by egress hook 1" (or:
-- delivered; lost by the link; dropped by ingress hook N; delayed 1 s by hook
-- N, delivered; replaced by hook N, then "replacement by hook N, delivered";
-- duplicated by hook N / copy by hook N; answer by hook N; injected by the
-- script; no host; in flight at the end). The file is in the order of fates,
-- so its timestamps may go back; `tshark -r F -T fields -e frame.comment`
-- prints the comments. Recording again switches files.
-- @tparam string|boolean path the file (created or truncated), or false to stop
-- @treturn Net the net
-- @raise when the file cannot be opened or written ("net:pcap: cannot open x:
-- No such file or directory")
-- @usage net:pcap "run.pcapng"   -- then: tshark -r run.pcapng
function Net:pcap(path)
  if path ~= false and type(path) ~= "string" then
    argerror(1, "pcap", "a file name or false expected, got " .. type(path))
  end
  local ok, err = self.sim:pcap(path)
  if not ok then raise("net:pcap: " .. err) end
  return self
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

------------------------------------------------------------------------------
-- Hosts: a host running synfin's TCP (net:host), or a bare peer with no TCP
-- (net:peer; its peer field is true). Fields: net, index (in net.hosts),
-- addr, name.
-- @type Host
------------------------------------------------------------------------------

local function check_host_stack(h, fname)
  if h.peer then raise(("'%s': %s is a bare peer: it has no TCP"):format(fname, h.addr)) end
end

--- Opens a listener (passive OPEN) on port. opts: backlog, close (a close
-- policy for the connections it accepts), plus any host setting (msl, rto,
-- ...) for them. A failure raises at the script's line, saying why: the
-- scenario cannot go on without its listener ("synfin: cannot listen on
-- 192.0.2.2:80: address already in use (a listener is there already)").
-- Opening (listen, connect) raises; the calls on a connection (send, read,
-- close, abort) return nil, message, code: TCP's answers, which tests check.
-- @tparam integer port
-- @tparam[opt] table opts backlog, and host settings
-- @treturn Conn the listener, in LISTEN
function Host:listen(port, opts)
  check_host_stack(self, "listen")
  if math.type(port) ~= "integer" then argerror(1, "listen", "port number expected, got " .. shown(port)) end
  opts = check_opts(opts, setmetatable({ close = true }, { __index = SETTINGS }), 2, "listen")
  local b, rest = split(opts, { backlog = true, close = true })
  if b.close ~= nil and type(b.close) ~= "function" then argerror(2, "listen", "close must be a function") end
  local l, err = self.net.sim:listen(self.index, port, b.backlog, rest)
  if not l then
    local why = ""
    for _, r in ipairs(self:connections()) do
      if r.lport == port then
        why = r.state == "LISTEN" and " (a listener is there already)" or (" (connections use port %d)"):format(port)
        break
      end
    end
    raise(("synfin: cannot listen on %s:%d: %s%s"):format(self.addr, port, err, why))
  end
  if b.close then l:set_close(b.close) end
  return l
end

-- "192.0.2.1:80", "[2001:db8::1]:80" (RFC 5952 §6); port nil: the address alone.
local function endpoint(addr, port)
  if port == nil then return addr end
  return (tostring(addr):find(":", 1, true) and "[%s]:%s" or "%s:%s"):format(addr, port)
end

-- 4 or 6: the family of an address's text.
local function family(addr) return tostring(addr):find(":", 1, true) and 6 or 4 end

--- Active OPEN to addr:port. opts: sport (local port), laddr (the local
-- address, one of this host's of addr's family; by default the first of
-- them, RFC 9293 §3.9.1.1 MUST-43/44), plus any host setting.
-- Returns the connection (in `SYN_SENT`). A failure raises at the script's
-- line, saying why ("synfin: cannot connect 192.0.2.1:40000 to
-- 192.0.2.2:80: connection already exists (it is ESTABLISHED)"), as
-- host:listen's does.
-- @tparam string addr the peer's address
-- @tparam integer port the peer's port
-- @tparam[opt] table opts sport, laddr, and host settings
-- @treturn Conn the connection
function Host:connect(addr, port, opts)
  check_host_stack(self, "connect")
  if type(addr) ~= "string" then argerror(1, "connect", "address string expected, got " .. shown(addr)) end
  if math.type(port) ~= "integer" then argerror(2, "connect", "port number expected, got " .. shown(port)) end
  opts = check_opts(opts, setmetatable({ sport = true, laddr = true }, { __index = SETTINGS }), 3, "connect")
  local s, rest = split(opts, { sport = true, laddr = true })
  local c, err, code = self.net.sim:connect(self.index, addr, port, s.sport, rest, s.laddr)
  if c then return c end
  local why = ""
  local mine = {}
  for _, a in ipairs(self.addrs) do if family(a) == family(addr) then mine[#mine + 1] = a end end
  if code == -3 then -- SF_EEXIST
    for _, r in ipairs(self:connections()) do
      if r.lport == s.sport and r.raddr == addr and r.rport == port then why = (" (it is %s)"):format(r.state) end
    end
  elseif code == -9 then -- SF_EADDRINUSE
    why = s.sport and (" (port %d of %s is taken)"):format(s.sport, self.addr)
      or " (no ephemeral port is free, 49152..65535)"
  elseif code == -1 and #mine == 0 then -- SF_EINVAL: two families
    why = (" (this host has no IPv%d address: a connection joins two addresses of one family,"
      .. " RFC 9293 §3.9.1.1)"):format(family(addr))
  elseif code == -1 and s.laddr ~= nil then
    why = (" (the local address %s is not one of this host's IPv%d addresses: %s; MUST-43)")
      :format(s.laddr, family(addr), table.concat(mine, ", "))
  elseif code == -1 then -- SF_EINVAL
    why = (" (%s is no place a connection can go: a broadcast, multicast or reserved address, or port 0;"
      .. " RFC 9293 §3.9.1.1, MUST-46)"):format(endpoint(addr, port))
  end
  raise(("synfin: cannot connect %s to %s: %s%s"):format(endpoint(s.laddr or mine[1] or self.addr, s.sport),
    endpoint(addr, port), err, why))
end

--- The segment a hook sees: its fields, and two ways to make another one.
-- Fields: dir, time, src, dst, sport, dport, seq, ack (relative), `abs_seq`,
-- `abs_ack`, flags, win, len, payload, mss, wscale, `sack_perm`, `ts_val`,
-- `ts_ecr`, urp, ttl, tos, conn (the connection's id), state (its
-- connection's), n (its number in the trace), hook.
-- @type Seg
local Seg = {}
Seg.__index = Seg

local SEG_FIELDS = { src = true, dst = true, sport = true, dport = true, seq = true, ack = true,
  abs_seq = true, abs_ack = true, flags = true, win = true, payload = true, mss = true,
  wscale = true, sack_perm = true, ts_val = true, ts_ecr = true, urp = true, bad_checksum = true,
  ttl = true, tos = true, ts = true }

-- The options a crafted segment may leave out with false (ts = false: the
-- timestamp option, ts_val and ts_ecr).
local OPTIONS = { "mss", "wscale", "sack_perm", "sack", "abs_sack", "ts_val", "ts_ecr" }

-- Applies ts = false / true and an option = false to a segment table s
-- being crafted (has_ts: whatever filled it had the timestamp option).
local function strip_options(s, has_ts)
  if s.ts == 1 or s.ts == 0 then s.ts = s.ts == 1 end -- as records and hooks' segments show it
  if s.ts ~= nil and type(s.ts) ~= "boolean" then
    error(("%ssynfin: segment field 'ts' must be true or false, got %s"):format(where(), shown(s.ts)), 0)
  end
  if s.ts == false then
    s.ts_val, s.ts_ecr = nil, nil
  elseif s.ts == true and not has_ts and s.ts_val == nil then
    error(("%ssynfin: segment field 'ts' is true, but there are no timestamps to fill it with (no connection"
      .. " agreed them, RFC 7323 §3.2): give ts_val and ts_ecr"):format(where()), 0)
  end
  s.ts = nil
  for _, k in ipairs(OPTIONS) do
    if s[k] == false then s[k] = nil end
  end
  return s
end

-- The known segment fields, for an error message.
local function seg_field_names()
  local names = { "sack", "abs_sack" }
  for k in pairs(SEG_FIELDS) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

-- Sequence numbers that the Lua side computes with must be integers (a
-- relative one may be any: it wraps); every field's range is checked where
-- the segment is built (synfin.core), with its name.
local function check_seq_fields(fields)
  for _, k in ipairs { "seq", "ack", "abs_seq", "abs_ack" } do
    local v = fields[k]
    if v ~= nil and not (type(v) == "number" and math.tointeger(v)) then
      error(("%ssynfin: segment field '%s' must be an integer, got %s"):format(where(), k, shown(v)), 0)
    end
  end
end

local function copy_fields(seg, fields, fname)
  local out = setmetatable({}, Seg)
  for k, v in pairs(seg) do out[k] = v end
  for k, v in pairs(fields or {}) do
    if not SEG_FIELDS[k] then argerror(1, fname, ("unknown segment field '%s'"):format(tostring(k))) end
    out[k] = v
  end
  check_seq_fields(fields or {})
  return strip_options(out, out.ts_val ~= nil)
end

--- A modified copy of this segment, to return from a hook: it is sent (or
-- delivered) instead. fields: flags, seq, ack (relative), `abs_seq`, `abs_ack`,
-- win, payload, ...; the checksums are right unless `bad_checksum` = true.
-- @tparam[opt] table fields
-- @treturn Seg
-- @usage a:hook("egress", { flags = "S" }, function(seg) return seg:with { win = 0 } end)
function Seg:with(fields)
  local out = copy_fields(self, fields, "with")
  if fields and fields.seq and not fields.abs_seq then
    out.abs_seq = (self.abs_seq + (fields.seq - self.seq)) % TWO32
  end
  if fields and fields.ack and not fields.abs_ack then
    out.abs_ack = (self.abs_ack + (fields.ack - self.ack)) % TWO32
  end
  out.len = out.payload and #out.payload or 0
  return out
end

--- A segment going back to this one's sender, to return as { answer = ... }
-- from a hook: by default a RST that the sender accepts (RFC 9293 §3.5.2:
-- `<SEQ=SEG.ACK>` if it had an ACK, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`).
-- @tparam[opt] table fields fields that override the RST's
-- @treturn Seg
-- @usage b:hook("ingress", { flags = "S" }, function(seg) return { answer = seg:reply() } end)
function Seg:reply(fields)
  local len = #(self.payload or "") + (self.flags:find("S", 1, true) and 1 or 0)
    + (self.flags:find("F", 1, true) and 1 or 0)
  local has_ack = self.flags:find("A", 1, true) ~= nil
  local out = setmetatable({
    src = self.dst, dst = self.src, sport = self.dport, dport = self.sport,
    flags = has_ack and "R" or "RA", win = 0, payload = "",
    abs_seq = has_ack and self.abs_ack or 0, abs_ack = (self.abs_seq + len) % TWO32,
  }, Seg)
  for k, v in pairs(fields or {}) do
    if not SEG_FIELDS[k] then argerror(1, "reply", ("unknown segment field '%s'"):format(tostring(k))) end
    out[k] = v
  end
  check_seq_fields(fields or {})
  -- relative numbers, as this segment's sender sees the reply's: its SEQ in
  -- the numbering of this one's ACK, and the other way round
  if fields and fields.seq and not fields.abs_seq then
    out.abs_seq = (self.abs_ack - self.ack + fields.seq) % TWO32
  end
  if fields and fields.ack and not fields.abs_ack then
    out.abs_ack = (self.abs_seq - self.seq + fields.ack) % TWO32
  end
  return out
end

-- A segment table as the C side builds it: absolute numbers.
local function wire(seg)
  return { src = seg.src, dst = seg.dst, sport = seg.sport, dport = seg.dport,
    seq = seg.abs_seq, ack = seg.abs_ack, flags = seg.flags, win = seg.win,
    payload = seg.payload, mss = seg.mss, wscale = seg.wscale, sack_perm = seg.sack_perm,
    sack = seg.abs_sack, ts_val = seg.ts_val, ts_ecr = seg.ts_ecr, urp = seg.urp, bad_checksum = seg.bad_checksum,
    ttl = seg.ttl, tos = seg.tos }
end

-- The verdict a hook's table means, made absolute for synfin.core: a Seg
-- (seg:with) replaces the segment; { answer = Seg } answers it.
local function to_verdict(verdict)
  if getmetatable(verdict) == Seg then return { replace = wire(verdict) } end
  if verdict.answer ~= nil then
    if type(verdict.answer) ~= "table" then
      error("synfin: hook verdict: answer must be a segment (seg:reply{...}), got " .. shown(verdict.answer), 0)
    end
    local v = {} -- the other keys as they are: the core refuses a second verdict
    for k, x in pairs(verdict) do v[k] = x end
    v.answer = wire(verdict.answer)
    return v
  end
  return verdict
end
core.set_seg(Seg, to_verdict)

local HOOK_FILTER = { flags = true, state = true, conn = true, sport = true, dport = true,
  after = true, count = true, p = true, when = true }

--- Hosts (continued).
-- @type Host

--- Installs a hook on this host's "ingress" or "egress" path. filter: flags
-- ("F" set, "=FA" exact), state, conn, sport, dport, after (let N matches
-- pass first), count (fire at most N times), p (probability, from the net's
-- seeded PRNG), when (a Lua predicate, asked after the others, part of the
-- filter: after and count count only the segments it takes). fn(seg)
-- returns nil or "pass", "drop", or { delay = seconds }. An error in fn fails
-- the scenario and lets the segment pass. fn may also return a modified
-- copy (seg:with{...}), { dup = n } (n copies) or { answer = seg:reply{...} }.
-- @tparam string dir "ingress" or "egress"
-- @tparam[opt] table filter
-- @tparam function fn called with each matching Seg
-- @treturn Hook
function Host:hook(dir, filter, fn)
  if dir ~= "ingress" and dir ~= "egress" then argerror(1, "hook", "\"ingress\" or \"egress\" expected") end
  filter = check_opts(filter, HOOK_FILTER, 2, "hook")
  if type(fn) ~= "function" then argerror(3, "hook", "function expected") end
  local net = self.net
  local cfilter, extra = split(filter, { flags = true, state = true, sport = true, dport = true,
    after = true, count = true, p = true })
  if extra.conn ~= nil then
    local mt = type(extra.conn) == "userdata" and getmetatable(extra.conn)
    if not (mt and mt.__name == "synfin.conn") then
      argerror(2, "hook", "conn must be a connection, got " .. shown(extra.conn))
    end
    cfilter.conn = extra.conn:id()
  end
  if cfilter.state ~= nil then
    local name = synfin.state(cfilter.state)
    if not name then argerror(2, "hook", unknown_state(cfilter.state)) end
    cfilter.state = name
  end
  if extra.when ~= nil and type(extra.when) ~= "function" then
    argerror(2, "hook", "when must be a function, got " .. shown(extra.when))
  end
  -- fn sees a view of the segment (synfin.core reads its fields from C when
  -- asked); a Seg or { answer = Seg } it returns goes through to_verdict
  local id = net.sim:hook(self.index, dir, cfilter, fn, extra.when)
  local h = setmetatable({ net = net, host = self, id = id, dir = dir, count = cfilter.count }, Hook)
  net.hooks[#net.hooks + 1] = h
  return h
end

-- A crafted segment filled from what a connection would send now:
-- header_of(flags) gives it (c:header, sim:header), for the flags given
-- ("A" by default); the script's fields win, and ts = false or an option
-- = false leaves that option out. nil when header_of finds no connection.
local function crafted(header_of, fields)
  local flags = fields.flags
  if flags == nil then flags = "A" end
  if type(flags) ~= "string" then
    error(("%ssynfin: segment field 'flags' must be letters of SFRPAUEC, got %s"):format(where(), shown(flags)), 0)
  end
  local h = header_of(flags)
  if not h then return nil end
  local seg = { dst = h.dst, sport = h.sport, dport = h.dport, flags = flags, win = h.win,
    abs_seq = h.seq, abs_ack = h.ack, mss = h.mss, wscale = h.wscale, sack_perm = h.sack_perm,
    ts_val = h.ts_val, ts_ecr = h.ts_ecr, ttl = h.ttl, tos = h.tos }
  -- relative numbers given replace the connection's absolute ones
  if fields.seq ~= nil then seg.abs_seq = nil end
  if fields.ack ~= nil then seg.abs_ack = nil end
  for k, v in pairs(fields) do seg[k] = v end
  return strip_options(seg, h.ts_val ~= nil)
end

--- The host's first address of the family of `other` (an address's text),
-- or its first address when it has none of that family or other is nil.
-- @tparam[opt] string other an address
-- @treturn string
function Host:addr_like(other)
  local six = other ~= nil and tostring(other):find(":", 1, true) ~= nil
  for _, a in ipairs(self.addrs or { self.addr }) do
    if other ~= nil and (a:find(":", 1, true) ~= nil) == six then return a end
  end
  return self.addr
end

--- Sends a crafted segment as if this host sent it (through its egress
-- hooks and the link). seg: dst (default: the only other host), sport,
-- dport, seq, ack (relative to the ISNs the net has seen; `abs_seq`, `abs_ack`
-- for raw numbers), flags, win, payload, mss, wscale, `sack_perm`, sack (SACK
-- blocks, { { left, right }, ... }, relative as ack is; `abs_sack` raw),
-- `ts_val` and `ts_ecr` (the timestamp option), `bad_checksum`, ttl (default
-- 64), tos. Another field, or one out of its range, is an error.
--
-- From a host with TCP, on the ports of one of its connections (sport, dport
-- and dst given or implied), the segment is filled from that connection as
-- c:segment fills it: as the stack would send it. A bare peer has nothing
-- to fill from: what is not given is 0 (the window 65535), no option.
-- @tparam table seg
-- @treturn boolean true
-- @usage peer:send { flags = "S", sport = 40000, dport = 80, mss = 1460 }
function Host:send(seg)
  if type(seg) ~= "table" then argerror(1, "send", "segment table expected") end
  if not self.peer and seg.sport ~= nil and seg.dport ~= nil then
    local dst = seg.dst
    for _, h in ipairs(dst == nil and self.net.hosts or {}) do
      if h ~= self then dst = h:addr_like(seg.src or self.addr); break end
    end
    local sim, index = self.net.sim, self.index
    local ok, filled = pcall(crafted, function(flags)
      return sim:header(index, dst, seg.dport, seg.sport, flags)
    end, seg)
    -- a bad field is for inject to report, with its name
    if ok and filled then return self:inject("egress", filled) end
  end
  return self:inject("egress", seg)
end

--- Injects a crafted segment on this host's "egress" path (as if it sent it)
-- or its "ingress" path (as if it arrived now).
-- @tparam string dir "egress" or "ingress"
-- @tparam table seg as for host:send
-- @treturn boolean true
function Host:inject(dir, seg)
  if dir ~= "ingress" and dir ~= "egress" then argerror(1, "inject", "\"ingress\" or \"egress\" expected") end
  if type(seg) ~= "table" then argerror(2, "inject", "segment table expected") end
  local net = self.net
  net:_sync()
  local s = {}
  for k, v in pairs(seg) do
    if not SEG_FIELDS[k] and k ~= "sack" and k ~= "abs_sack" then
      error(("%ssynfin: unknown segment field %s (a segment has %s)"):format(where(), shown(k), seg_field_names()), 0)
    end
    s[k] = v
  end
  strip_options(s, false)
  check_seq_fields(s)
  for _, k in ipairs { "src", "dst" } do
    if s[k] ~= nil and type(s[k]) ~= "string" then
      error(("%ssynfin: segment field '%s' must be an IPv4 or IPv6 address such as \"192.0.2.1\", got %s")
        :format(where(), k, shown(s[k])), 0)
    end
  end
  if s.sack ~= nil and s.abs_sack == nil then
    local ok = type(s.sack) == "table"
    for _, b in ipairs(ok and s.sack or {}) do
      ok = ok and type(b) == "table" and type(b[1]) == "number" and math.tointeger(b[1]) ~= nil
        and type(b[2]) == "number" and math.tointeger(b[2]) ~= nil
    end
    if not ok then
      error(("%ssynfin: segment field 'sack' must be a list of { left, right } integers, got %s")
        :format(where(), shown(s.sack)), 0)
    end
  end
  -- this host's address of the other end's family, the other host's of ours
  if dir == "egress" then s.src = s.src or self:addr_like(s.dst) else s.dst = s.dst or self:addr_like(s.src) end
  if not s.dst then
    for _, h in ipairs(net.hosts) do
      if h ~= self then s.dst = h:addr_like(s.src); break end
    end
  end
  if not s.src then
    for _, h in ipairs(net.hosts) do
      if h ~= self then s.src = h:addr_like(s.dst); break end
    end
  end
  local mine = isn_of(net, s.src, s.sport, s.dst, s.dport)
  local theirs = isn_of(net, s.dst, s.dport, s.src, s.sport)
  s.seq = s.abs_seq or ((s.seq or 0) + (mine or 0)) % TWO32
  s.ack = s.abs_ack or ((s.ack or 0) + (theirs or 0)) % TWO32
  if s.abs_sack then
    s.sack = s.abs_sack
  elseif s.sack then -- SACK blocks are relative as the ACK is
    local blocks = {}
    for i, b in ipairs(s.sack) do
      blocks[i] = { (b[1] + (theirs or 0)) % TWO32, (b[2] + (theirs or 0)) % TWO32 }
    end
    s.sack = blocks
  end
  s.abs_seq, s.abs_ack, s.abs_sack = nil, nil, nil
  local ok, err = net.sim:inject(self.index, dir, s)
  if not ok then error(where() .. "inject: " .. tostring(err), 0) end
  return true
end

--- The host's connections, as rows: state, laddr, lport, raddr, rport,
-- `send_q`, `recv_q`, id (listeners and `TIME_WAIT` included, CLOSED ones not).
-- @treturn {table,...}
function Host:connections()
  if self.peer then return {} end
  return self.net.sim:connections(self.index)
end

--- The connections as `ss -tan` prints them.
-- @treturn string
function Host:ss()
  local lines = { ("%-12s %6s %6s  %-21s %-21s"):format("State", "Recv-Q", "Send-Q",
    "Local Address:Port", "Peer Address:Port") }
  for _, r in ipairs(self:connections()) do
    local peer = r.rport == 0 and "*:*" or (r.raddr .. ":" .. r.rport)
    lines[#lines + 1] = ("%-12s %6d %6d  %-21s %-21s"):format(r.state:gsub("_", "-"), r.recv_q,
      r.send_q, r.laddr .. ":" .. r.lport, peer)
  end
  return table.concat(lines, "\n")
end

--- Sends an ICMP error about a segment (a record, e.g. from net:expect) to
-- the host that sent it, as a router or the peer would: opts.type (3,
-- destination unreachable, by default; 4 source quench; 11 time exceeded;
-- 12 parameter problem), opts.code, opts.mtu (for 3/4, fragmentation
-- needed), opts.src (the ICMP's source, this host's address by default).
-- About an IPv6 segment it is ICMPv6 (RFC 4443): type 1 destination
-- unreachable (the default), 2 Packet Too Big (opts.mtu), 3 time exceeded,
-- 4 parameter problem.
-- @tparam table opts about (the segment's record), type, code, mtu, src
-- @treturn boolean true
function Host:send_icmp(opts)
  if type(opts) ~= "table" or (type(opts.about) ~= "table" and type(opts.about) ~= "userdata") then
    argerror(1, "send_icmp", "a table with about = a segment record expected")
  end
  local seg = opts.about
  local ok, err = self.net.sim:inject_icmp(self.index, {
    type = opts.type, code = opts.code or 0, mtu = opts.mtu, src = opts.src, dst = seg.src,
    q_src = seg.src, q_dst = seg.dst, q_sport = seg.sport, q_dport = seg.dport,
    q_seq = seg.abs_seq or seg.seq,
  })
  if not ok then error(where() .. "send_icmp: " .. tostring(err), 0) end
  return true
end

------------------------------------------------------------------------------
-- Hooks: the handle host:hook returns. Its counters read as fields too:
-- h.matched, h.fired, h.dropped, h.delayed, h.replaced, h.duplicated.
-- @type Hook
------------------------------------------------------------------------------

--- Removes the hook; returns true if it was installed.
-- @treturn boolean
function Hook:remove()
  return self.net.sim:hook_remove(self.host.index, self.id)
end

--- The hook's counters: matched, fired, dropped (answers too), delayed,
-- replaced, duplicated.
-- @treturn table
function Hook:stats()
  return self.net.sim:hook_stats(self.host.index, self.id)
end

Hook.__index = function(h, k)
  if Hook[k] then return Hook[k] end
  if k == "matched" or k == "fired" or k == "dropped" or k == "delayed" or k == "replaced"
    or k == "duplicated" then
    local s = h:stats()
    return s and s[k] or nil
  end
end

------------------------------------------------------------------------------
-- Connections: the C userdata, with the blocking calls added in Lua.
-- A connection comes from host:connect or l:accept, a listener from
-- host:listen; `local c <close> = a:connect(...)` closes it at the end of
-- its scope.
-- @type Conn
------------------------------------------------------------------------------

local conn = core.conn_methods

--- Queues data to send (SEND); never waits. Implemented in C, as are
-- read, `close_with`, abort, forget, state, info, set, id, host and `try_accept`.
-- @function Conn:send
-- @tparam string data
-- @tparam[opt] table opts urgent = true: urgent data (RFC 9293 §3.8.5)
-- @treturn[1] integer the bytes taken (fewer when the send buffer is full)
-- @return[2] nil, message, code

--- Reads what has arrived, up to max bytes; never waits (c:recv waits).
-- @function Conn:read
-- @tparam[opt=65536] integer max
-- @treturn[1] string the data
-- @return[2] nil, "end of stream", 0 once the peer's FIN has been read
-- @return[3] nil, "try again", code when nothing is there yet; nil, message,
-- code on an error

--- CLOSE with the last data: queued with the FIN, so that they can leave
-- in one segment ("FIN carrying the last data").
-- @function Conn:close_with
-- @tparam string data
-- @treturn[1] boolean true
-- @return[2] nil, message, code

--- ABORT (RFC 9293 §3.10.5): a RST if the connection is synchronized, then
-- CLOSED.
-- @function Conn:abort
-- @treturn[1] boolean true
-- @return[2] nil, message, code

--- Forgets the connection: CLOSED at once, nothing sent (a host that
-- vanished; the peer finds out through its retransmissions or a RST).
-- @function Conn:forget
-- @treturn[1] boolean true
-- @return[2] nil, message, code

--- The connection's state now, one of synfin.STATES.
-- @function Conn:state
-- @treturn string

--- STATUS (RFC 9293 §3.10.6) and statistics: state, id, laddr, lport, raddr,
-- rport, iss, irs, `snd_una`, `snd_nxt`, `snd_wnd`, `rcv_nxt`, `rcv_wnd` (absolute
-- sequence numbers), `snd_queued`, `rcv_queued`, rto and srtt (seconds),
-- retransmits, `segs_in`, `segs_out`, `bytes_in`, `bytes_out`, error (the last
-- error's message, if any), `peer_closed`, urgent (unread urgent bytes).
-- @function Conn:info
-- @treturn table

--- Changes the connection's settings from now on (host settings, times in
-- seconds). `rcv_buf`, `snd_buf`, mss, `window_scaling` and timestamps are fixed
-- when the connection is made: changing them is an error.
-- @function Conn:set
-- @tparam table settings

--- The connection's id on its host: the conn of its records.
-- @function Conn:id
-- @treturn integer

--- The index of the connection's host in net.hosts.
-- @function Conn:host
-- @treturn integer

--- A listener: the next established connection of its queue, or nil; never
-- waits (l:accept waits).
-- @function Conn:try_accept
-- @treturn Conn or nil

-- The key of a connection's close policy in net.close_policies.
local function policy_key(c) return c:host() .. ":" .. c:id() end

--- The net this connection belongs to.
-- @function Conn:net
-- @treturn Net
function conn:net() return nets[self:sim()] end

--- The connection in words, for messages: "192.0.2.1:49152 (with
-- 192.0.2.2:80)", or "192.0.2.2:80 (listener)".
-- @function Conn:describe
-- @treturn string
local function describe(c)
  local i = c:info()
  if i.state == "LISTEN" then return ("%s:%d (listener)"):format(i.laddr, i.lport) end
  return ("%s:%d (with %s:%d)"):format(i.laddr, i.lport, i.raddr, i.rport)
end
conn.describe = describe

--- Waits until the connection reaches state (one of synfin.STATES); fails
-- early if it reaches CLOSED instead. Returns the connection.
-- @function Conn:wait
-- @tparam string state
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn Conn
function conn:wait(state, t)
  return self:net():_await(self:waiting(state, "wait"), t)
end

--- The wait of c:wait, for net:first.
-- @function Conn:waiting
-- @tparam string state
-- @return a wait
function conn:waiting(state, fname)
  local name = synfin.state(state)
  if not name then argerror(1, fname or "waiting", unknown_state(state)) end
  state = name
  local net = self:net()
  return waitable(net, describe(self) .. " to reach " .. state, function()
    net:_sync()
    local already = self:state() == state
    local host, id = self:host(), self:id()
    local from = #net.recs + 1
    return function()
      if already then return true, self end
      for i = from, #net.recs do
        local r = net.recs[i]
        if r.kind == "state" and r.host == host and r.conn == id then
          if r.new == state then return true, self end
          if r.new == "CLOSED" then
            return nil, ("%s reached CLOSED (%s) while waiting for %s"):format(describe(self), r.why, state)
          end
        end
      end
      from = #net.recs + 1
      return false
    end, function() return "it is " .. self:state() end
  end)
end

--- Waits for n bytes (any amount when n is nil) and returns them; at the end
-- of the stream returns what there is, or nil, "end of stream"; a reset
-- returns nil, message.
-- @function Conn:recv
-- @tparam[opt] integer n bytes
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn[1] string the data
-- @return[2] nil, message
function conn:recv(n, t)
  return self:net():_await(self:receiving(n), t)
end

--- The wait of c:recv, for net:first.
-- @function Conn:receiving
-- @tparam[opt] integer n bytes
-- @return a wait
function conn:receiving(n)
  if n ~= nil and (math.type(n) ~= "integer" or n < 1) then argerror(1, "recv", "positive integer expected") end
  return waitable(self:net(), ("%s to receive %s bytes"):format(describe(self), n or "some"), function()
    local got, parts = 0, {}
    return function()
      while true do
        local data, err = self:read(n and (n - got) or 65536)
        if data then
          parts[#parts + 1] = data
          got = got + #data
          if not n or got >= n then return true, table.concat(parts) end
        elseif err == "try again" then
          return false
        elseif got > 0 then
          return true, table.concat(parts)
        else
          return true, nil, err
        end
      end
    end, function() return ("%d bytes came"):format(got) end
  end)
end

--- Queues all of data for sending, waiting while the send buffer is full;
-- returns the number of bytes (all of them) once the last is queued. For
-- bulk transfers: c:send takes only what fits.
-- @function Conn:send_all
-- @tparam string data
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn integer #data
function conn:send_all(data, t)
  return self:net():_await(self:sending_all(data), t)
end

--- The wait of c:send_all, for net:first.
-- @function Conn:sending_all
-- @tparam string data
-- @return a wait
function conn:sending_all(data)
  if type(data) ~= "string" then argerror(1, "send_all", "string expected") end
  return waitable(self:net(), ("%s to queue %d bytes"):format(describe(self), #data), function()
    local off = 0
    return function()
      while off < #data do
        -- at most 64 KiB a call: never copy the rest of a large string
        local n, err = self:send(data:sub(off + 1, off + 65536))
        if not n and err ~= "try again" then return nil, err end
        if not n or n == 0 then return false end -- full: wait for room
        off = off + n
      end
      return true, off
    end, function() return ("%d of %d bytes were queued"):format(off, #data) end
  end)
end

-- The states in which a FIN of ours waits for its ACK (or to be sent).
local FIN_UNACKED = { FIN_WAIT_1 = true, CLOSING = true, LAST_ACK = true }

--- Waits until everything the connection has sent or queued is
-- acknowledged: no byte in the send buffer (SND.UNA = SND.NXT, nothing
-- unsent), and a FIN of ours, if it closed, acknowledged too (not in
-- `FIN_WAIT_1`, CLOSING, `LAST_ACK`); also not in `SYN_SENT` or `SYN_RCVD`.
-- Returns the connection. Fails if it reaches CLOSED with data or a FIN
-- unacknowledged (a reset), saying how much. For an actor that sends, with
-- another that reads: `s:send_all(data); s:drain(5); s:close()`.
-- @function Conn:drain
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn Conn
function conn:drain(t)
  return self:net():_await(self:draining(), t)
end

--- The wait of c:drain, for net:first.
-- @function Conn:draining
-- @return a wait
function conn:draining()
  local net = self:net()
  if self:state() == "LISTEN" then
    error(("%sbad argument #1 to 'drain' (a listener sends nothing: drain a connection)"):format(where()), 0)
  end
  -- what is left, in words: "SND.UNA 1, SND.NXT 1001 (relative), 3000 bytes queued"
  local function left(i)
    return ("SND.UNA %d, SND.NXT %d (relative), %d bytes queued"):format((i.snd_una - i.iss) % TWO32,
      (i.snd_nxt - i.iss) % TWO32, i.snd_queued)
  end
  return waitable(net, describe(self) .. " to have everything it sent acknowledged", function()
    return function()
      local i = self:info()
      local pending = i.snd_queued > 0 or i.snd_una ~= i.snd_nxt or FIN_UNACKED[i.state]
        or i.state == "SYN_SENT" or i.state == "SYN_RCVD"
      if not pending then return true, self end
      if i.state == "CLOSED" then
        return nil, ("%s reached CLOSED (%s) before everything it sent was acknowledged: %s")
          :format(describe(self), i.error or "closed", left(i))
      end
      return false
    end, function()
      local i = self:info()
      return ("it is %s, %s"):format(i.state, left(i))
    end
  end)
end

--- A listener: waits for the next established connection and returns it.
-- @function Conn:accept
-- @tparam[opt] number t seconds (default: the net's timeout)
-- @treturn Conn
function conn:accept(t)
  return self:net():_await(self:accepting(), t)
end

--- The wait of l:accept, for net:first.
-- @function Conn:accepting
-- @return a wait
function conn:accepting()
  local net = self:net()
  return waitable(net, describe(self) .. " to accept a connection", function()
    return function()
      local c = self:try_accept()
      if c then
        local policy = net.close_policies[policy_key(self)]
        if policy then net.close_policies[policy_key(c)] = policy end
        return true, c
      end
      if self:state() ~= "LISTEN" then return nil, describe(self) .. " is no longer listening" end
      return false
    end
  end)
end

------------------------------------------------------------------------------
-- Close behaviours as Lua functions (a policy, not a patch to the core)
------------------------------------------------------------------------------

local close_now = conn.close -- the C CLOSE

local CLOSE_DECISION = { linger = true, fin_with = true, delay_fin = true, time_wait = true }

-- Carries out a close policy's decision (see conn:set_close).
local function close_as(c, decision)
  local net = c:net()
  if decision == nil or decision == "fin" then return close_now(c) end
  if decision == "rst" then return c:abort() end
  if decision == "silent" then return c:forget() end
  if type(decision) ~= "table" then
    raise(("bad close decision %s: \"fin\", \"rst\", \"silent\" or a table of linger, fin_with, delay_fin, time_wait"):format(tostring(decision)))
  end
  for k, v in pairs(decision) do
    if not CLOSE_DECISION[k] then raise(("bad close decision: unknown key '%s'"):format(tostring(k))) end
    if k == "fin_with" then
      if type(v) ~= "string" then raise(("bad close decision: fin_with must be a string, got %s"):format(shown(v))) end
    else
      check_time(v, ("close decision '%s'"):format(k))
    end
  end
  if decision.time_wait then
    -- TIME_WAIT lasts 2*MSL: this connection's MSL is half of it. With 0
    -- there is no TIME_WAIT at all, which RFC 9293 forbids (MUST-13):
    -- its protection then rests on timestamps (RFC 6191) and the ISN clock
    c:set { msl = decision.time_wait / 2 }
  end
  local function finish()
    if c:state() == "CLOSED" then return true end
    if decision.fin_with then return c:close_with(decision.fin_with) end
    return close_now(c)
  end
  if decision.delay_fin then
    net:_at(decision.delay_fin, finish)
  else
    local ok, err, code = finish()
    if not ok then return ok, err, code end
  end
  if decision.linger then
    -- SO_LINGER with a timeout: if our FIN is not acknowledged by then, RST
    local deadline = (decision.delay_fin or 0) + decision.linger
    net:_at(deadline, function()
      local st = c:state()
      if st == "FIN_WAIT_1" or st == "CLOSING" or st == "LAST_ACK" or st == "ESTABLISHED"
        or st == "CLOSE_WAIT" then
        c:abort()
      end
    end)
  end
  return true
end

--- CLOSE, through the connection's close policy when it has one.
-- Without one, RFC 9293's CLOSE (§3.10.4): no more data to send, a FIN
-- follows what is queued; a listener stops listening.
-- @function Conn:close
-- @treturn[1] boolean true
-- @return[2] nil, message, code
function conn:close()
  local net = self:net()
  local key = policy_key(self)
  local policy = net.close_policies[key]
  if not policy then return close_now(self) end
  net.deciding = net.deciding or {}
  if net.deciding[key] then
    error(where() .. "synfin: c:close() inside its own close policy: the policy returns what to do"
      .. " (\"fin\", \"rst\", \"silent\" or a table), it does not close", 0)
  end
  net.deciding[key] = true
  local ok, decision = net.sim:call("close policy", "the close policy of " .. describe(self),
    policy, self, { reason = "close" })
  net.deciding[key] = nil
  if not ok then error(decision, 0) end
  -- not a tail call: close_as's errors name the line that called close
  local cok, err, code = close_as(self, decision)
  return cok, err, code
end

--- Gives the connection a close behaviour: policy(c, event) is called when
-- the application closes it, and returns what to do: nothing or "fin" (the
-- RFC's CLOSE), "rst" (ABORT), "silent" (forget it, sending nothing), or a
-- table: { linger = s } (a RST if the FIN is not acknowledged within s),
-- { `fin_with` = data } (the last data and the FIN in one segment),
-- { `delay_fin` = s } (the FIN s later), { `time_wait` = s } (`TIME_WAIT` lasts s;
-- 0: none, against MUST-13). Keys combine. Timers run while the scenario
-- waits. A listener's policy goes to the connections it accepts.
-- @function Conn:set_close
-- @tparam function policy called with the connection and { reason = "close" }
-- @treturn Conn
-- @usage c:set_close(function(c, event) return { linger = 1 } end)
function conn:set_close(policy)
  if type(policy) ~= "function" then argerror(1, "set_close", "function expected") end
  self:net().close_policies[policy_key(self)] = policy
  return self
end

--- Calls fn(old, new, record) on each state change of this connection, from
-- the scenario's loop (never inside the core). Only "state" exists now.
-- @function Conn:on
-- @tparam string event "state"
-- @tparam function fn called with old, new and the state record
-- @treturn Conn
function conn:on(event, fn)
  if event ~= "state" then argerror(1, "on", "\"state\" expected") end
  if type(fn) ~= "function" then argerror(2, "on", "function expected") end
  local net = self:net()
  local key = self:host() .. ":" .. self:id()
  net.listeners[key] = net.listeners[key] or {}
  local ls = net.listeners[key]
  ls.state = ls.state or {}
  table.insert(ls.state, fn)
  return self
end

--- Sends a crafted segment from this connection's host, filled from the
-- connection as the stack would send it now with those flags (default
-- "A"; c:header gives that segment): ports, seq = SND.NXT, ack = RCV.NXT
-- (with an ACK), the window field scaled as the connection scales it
-- (RFC 7323 §2.3), TTL and TOS, and once timestamps are agreed the
-- timestamp option (TSval of now, TSecr = TS.Recent: the peer's PAWS test,
-- RFC 7323 §5, passes) on every segment but a RST; on a SYN or SYN-ACK the
-- options its own would carry (MSS, window scale, timestamps,
-- SACK-permitted: only SYNs carry that). Fields given override (seq, ack
-- relative; `abs_seq`, `abs_ack` raw); `ts = false` leaves the timestamp
-- option out, `mss = false` (`wscale`, `sack_perm`, `sack`) another option.
-- Unknown fields are an error.
-- @function Conn:segment
-- @tparam[opt] table fields as for host:send, and ts
-- @treturn boolean true
-- @usage s:segment { flags = "S" }               -- RFC 5961 §4: draws a challenge ACK
-- s:segment { flags = "S", ts = false }          -- RFC 7323 §3.2: dropped
function conn:segment(fields)
  if fields ~= nil and type(fields) ~= "table" then
    argerror(1, "segment", "table of segment fields expected, got " .. shown(fields))
  end
  local seg = crafted(function(flags) return self:header(flags) end, fields or {})
  return self:net().hosts[self:host()]:inject("egress", seg)
end

--- The segment the connection would send now with these flags and no data,
-- as a table of absolute fields (src, dst, sport, dport, seq, ack, flags,
-- win, mss, wscale, `sack_perm`, `ts_val`, `ts_ecr`, ttl, tos): what
-- c:segment fills a crafted segment from. Implemented in C.
-- @function Conn:header
-- @tparam[opt="A"] string flags
-- @treturn table

--- @section end

-- How the objects print (tostring, print, the synfin -i prompt): what they
-- are, never a bare address; a connection prints as "<conn 192.0.2.1:49152
-- -> 192.0.2.2:80 ESTABLISHED>" (in C). None of these raises.
Net.__tostring = function(net)
  local ok, now = pcall(Net.now, net)
  return ("<net %s seed %d: %d hosts, %s>"):format(net.realtime and "real time" or "sim", net.seed,
    #net.hosts, ok and ("%.3f s"):format(now) or "closed")
end
Host.__tostring = function(h)
  return ("<%s %s%s>"):format(h.peer and "peer" or "host", h.addr, h.name and (" " .. h.name) or "")
end
Hook.__tostring = function(h)
  local ok, s = pcall(Hook.stats, h)
  return ("<hook %d %s on %s: %s>"):format(h.id, h.dir or "?", h.host.addr,
    ok and s and ("matched %d, fired %d"):format(s.matched, s.fired) or "removed")
end
Seg.__tostring = function(s)
  return ("<seg%s %s %s:%s -> %s:%s seq=%s ack=%s win=%s len=%d>"):format(s.n and (" #" .. s.n) or "",
    s.flags ~= "" and s.flags or ".", s.src, s.sport, s.dst, s.dport, s.seq, s.ack, s.win,
    #(s.payload or ""))
end

--- The size in bytes of one connection's control block (C struct).
-- @function synfin.sizeof_conn
-- @treturn integer
synfin.sizeof_conn = core.sizeof_conn

return synfin
