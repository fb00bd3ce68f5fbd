--- synfin.faults: the faults people know from netem and toxiproxy, as hook
-- factories: each fault is a hook, per host and direction, drawing from the
-- net's seeded PRNG; a fault of your own is a Lua function.
--
--     local faults = require "synfin.faults"
--     faults.latency(a, "egress", { delay = 0.05, jitter = 0.01 })
--     faults.loss(b, "ingress", { p = 0.1 })
--     faults.link(a, "3g")                     -- a preset, both directions of a
--
-- Each factory is faults.NAME(host, dir, opts) and returns the handle of the
-- hook it installs (host:hook): handle:remove(), handle:stats(), and the
-- counters handle.matched, .fired, .dropped, .delayed; handle.fault names the
-- fault. dir is "egress" (segments the host sends) or "ingress" (segments it
-- receives). Times are in seconds of virtual time, probabilities in [0, 1].
--
-- Options every factory takes besides its own:
--
-- - seed: an integer: the fault's random draws come from its own PRNG,
--   seeded from this (default: the net's seed, so the CLI's --seed
--   reseeds faults too) and from the fault's name, host, direction
--   and rank among identical faults. The same seed gives the same run.
-- - filter: a host:hook filter ({ conn = c, dport = 80, flags = "A", ... }):
--   the fault only sees the segments that match it.
--
-- Verdicts do not compose: on one path, the first hook that drops or delays
-- a segment decides, and the hooks after it do not see that segment. To put
-- several faults on one path, combine them into one hook with
-- faults.combine(host, dir, { loss = {...}, latency = {...} }) or use a
-- faults.link preset.
--
-- A delayed segment can be overtaken by later ones (netem semantics). The
-- byte-counting faults (`limit_data`, `reset_peer`) act on whole segments:
-- they drop or pass a segment, never cut it (a hook of your own can send a
-- shorter copy, seg:with{ payload = ... }).
-- @module synfin.faults
-- @pragma nostrip
local faults = {}

local TWO32 = 4294967296

------------------------------------------------------------------------------
-- A small deterministic PRNG: xoshiro256** seeded by splitmix64, on Lua 5.4's
-- 64-bit integers (wrapping arithmetic, logical shifts).
------------------------------------------------------------------------------

local Prng = {}
Prng.__index = Prng

local function splitmix(st)
  st[1] = st[1] + 0x9e3779b97f4a7c15
  local z = st[1]
  z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
  z = (z ~ (z >> 27)) * 0x94d049bb133111eb
  return z ~ (z >> 31)
end

local function rotl(x, k) return (x << k) | (x >> (64 - k)) end

--- A deterministic PRNG for a user's own faults: faults.prng(seed) with an
-- integer seed; p:next() gives 64 random bits (an integer), p:unit() a float
-- in [0, 1), p:int(n) an integer in [1, n]. The same seed gives the same
-- numbers on every platform.
-- @tparam integer seed
-- @treturn Prng
function faults.prng(seed)
  if math.type(seed) ~= "integer" then
    error("bad argument #1 to 'faults.prng' (integer seed expected)", 2)
  end
  local st = { seed }
  return setmetatable({ s = { splitmix(st), splitmix(st), splitmix(st), splitmix(st) } }, Prng)
end

--- A PRNG from faults.prng: `xoshiro256**`, seeded by splitmix64.
-- @type Prng

--- 64 random bits.
-- @treturn integer
function Prng:next()
  local s = self.s
  local result = rotl(s[2] * 5, 7) * 9
  local t = s[2] << 17
  s[3] = s[3] ~ s[1]
  s[4] = s[4] ~ s[2]
  s[2] = s[2] ~ s[3]
  s[1] = s[1] ~ s[4]
  s[3] = s[3] ~ t
  s[4] = rotl(s[4], 45)
  return result
end

--- A float in [0, 1).
-- @treturn number
function Prng:unit() return (self:next() >> 11) * (1.0 / 9007199254740992.0) end

--- An integer in [1, n].
-- @tparam integer n
-- @treturn integer
function Prng:int(n) return 1 + math.floor(self:unit() * n) end

-- FNV-1a, 64 bits: mixes a fault's identity into its seed.
local function fnv(s)
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  for i = 1, #s do h = (h ~ s:byte(i)) * 0x100000001b3 end
  return h
end

-- Each (net, identity) pair counts its instances, so that two identical
-- faults on one path draw different numbers, and the same script gives the
-- same numbers.
local instances = setmetatable({}, { __mode = "k" })

local function rng_for(host, dir, name, seed)
  local net = host.net
  local key = name .. "|" .. host.addr .. "|" .. dir
  instances[net] = instances[net] or {}
  local k = (instances[net][key] or 0) + 1
  instances[net][key] = k
  return faults.prng((seed or net.seed or 1) ~ fnv(key .. "|" .. k))
end

------------------------------------------------------------------------------
-- Option checks: each returns an error message or nil.
------------------------------------------------------------------------------

local function num(o, k, lo, hi, required, what)
  local v = o[k]
  if v == nil then return required and ("'%s' is required (%s)"):format(k, what) or nil end
  if type(v) ~= "number" or v ~= v then return ("'%s' must be a number (%s)"):format(k, what) end
  if (lo and v < lo) or (hi and v > hi) then
    return ("'%s' must be %s, got %s"):format(k, what, tostring(v))
  end
end

local function int(o, k, lo, required, what)
  local v = o[k]
  if v == nil then return required and ("'%s' is required (%s)"):format(k, what) or nil end
  if math.type(v) ~= "integer" or v < lo then
    return ("'%s' must be %s, got %s"):format(k, what, tostring(v))
  end
end

local function first(...)
  for i = 1, select("#", ...) do
    local m = select(i, ...)
    if m then return m end
  end
end

-- The stream offset just past a segment's payload, from its relative seq
-- (data starts at relative seq 1): seq - 1 + len.
local function end_offset(seg)
  return (seg.seq - 1) % TWO32 + seg.len
end

local function flow(seg)
  return seg.src .. ":" .. seg.sport .. ">" .. seg.dst .. ":" .. seg.dport
end

------------------------------------------------------------------------------
-- The faults. Each kind: opts (its own option names), check(o) -> message,
-- new(o, ctx) -> decide(seg, at) where at is the delay already given to the
-- segment by faults before it in a combination; decide returns nil (pass),
-- "drop", or a delay in seconds. ctx: host, dir, rng.
------------------------------------------------------------------------------

local KINDS = {}

--- Factories.
-- Each faults.NAME(host, dir, opts) installs one hook on host's dir path
-- and returns its handle; opts are the fault's own options, and seed and
-- filter.
-- @section factories

--- `faults.latency(host, dir, { delay, jitter = 0, correlation = 0 })`:
-- netem's delay. Every segment is delayed by delay ± jitter seconds (a
-- uniform draw in [delay - jitter, delay + jitter], never below 0), on top of
-- the link's own latency. correlation in [0, 1) ties each draw to the
-- previous one as netem does: r = (1 - c) * uniform + c * `r_previous`. With
-- jitter, later segments may overtake earlier ones, as with netem.
-- @function faults.latency
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts delay, jitter, correlation (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.latency = {
  opts = { delay = true, jitter = true, correlation = true },
  check = function(o)
    return first(num(o, "delay", 0, nil, true, "seconds >= 0"),
      num(o, "jitter", 0, nil, false, "seconds >= 0"),
      num(o, "correlation", 0, nil, false, "in [0, 1)"),
      (o.correlation or 0) >= 1 and "'correlation' must be in [0, 1)" or nil)
  end,
  new = function(o, ctx)
    local delay, jitter, corr = o.delay, o.jitter or 0, o.correlation or 0
    local last
    return function()
      if jitter == 0 then return delay > 0 and delay or nil end
      local u = ctx.rng:unit()
      if last then u = (1 - corr) * u + corr * last end
      last = u
      local d = delay + (2 * u - 1) * jitter
      return d > 0 and d or nil
    end
  end,
}

--- `faults.loss(host, dir, { p })`: netem's random loss: each segment is
-- dropped with probability p.
-- faults.loss(host, dir, { model = "gilbert", `p_gb`, `p_bg`, `loss_good` = 0,
-- `loss_bad` = 1 }): Gilbert-Elliott bursts (netem's "loss gemodel"). The link
-- is in a good or a bad state, good at first; at each segment it moves from
-- good to bad with probability `p_gb`, from bad to good with probability `p_bg`,
-- then loses the segment with probability `loss_good` or `loss_bad` of the state
-- it is in. Bursts last 1 / `p_bg` segments on average.
-- @function faults.loss
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts p; or model, `p_gb`, `p_bg`, `loss_good`, `loss_bad` (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.loss = {
  opts = { p = true, model = true, p_gb = true, p_bg = true, loss_good = true, loss_bad = true },
  check = function(o)
    if o.model == nil or o.model == "random" then
      for _, k in ipairs { "p_gb", "p_bg", "loss_good", "loss_bad" } do
        if o[k] ~= nil then return ("'%s' needs model = \"gilbert\""):format(k) end
      end
      return num(o, "p", 0, 1, true, "a probability in [0, 1]")
    elseif o.model == "gilbert" then
      if o.p ~= nil then return "'p' is for the random model: the gilbert model takes p_gb, p_bg, loss_good, loss_bad" end
      return first(num(o, "p_gb", 0, 1, true, "a probability in [0, 1]"),
        num(o, "p_bg", 0, 1, true, "a probability in [0, 1]"),
        num(o, "loss_good", 0, 1, false, "a probability in [0, 1]"),
        num(o, "loss_bad", 0, 1, false, "a probability in [0, 1]"))
    end
    return ("'model' must be \"random\" or \"gilbert\", got %s"):format(tostring(o.model))
  end,
  new = function(o, ctx)
    local rng = ctx.rng
    if o.model ~= "gilbert" then
      local p = o.p
      return function() if p > 0 and rng:unit() < p then return "drop" end end
    end
    local p_gb, p_bg = o.p_gb, o.p_bg
    local loss_good, loss_bad = o.loss_good or 0, o.loss_bad or 1
    local bad = false
    return function()
      if bad then
        if rng:unit() < p_bg then bad = false end
      else
        if rng:unit() < p_gb then bad = true end
      end
      ctx.bad = bad
      if rng:unit() < (bad and loss_bad or loss_good) then return "drop" end
    end
  end,
}

--- `faults.reorder(host, dir, { gap, delay })`: netem's reorder with a gap:
-- every gap-th segment (gap >= 2, counting the segments this fault sees) is
-- held back by delay seconds, so the segments sent after it overtake it.
-- The receiver has to reassemble.
-- @function faults.reorder
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts gap, delay (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.reorder = {
  opts = { gap = true, delay = true },
  check = function(o)
    return first(int(o, "gap", 2, true, "an integer >= 2"),
      num(o, "delay", 0, nil, true, "seconds > 0"),
      o.delay == 0 and "'delay' must be seconds > 0, got 0" or nil)
  end,
  new = function(o)
    local k = 0
    return function()
      k = k + 1
      if k % o.gap == 0 then return o.delay end
    end
  end,
}

--- `faults.rate(host, dir, { bytes_per_s, overhead = 40 })`: netem's rate: a
-- link of `bytes_per_s` with a queue. Each segment takes (len + overhead) /
-- `bytes_per_s` seconds to send (overhead: the IP and TCP headers), and waits
-- until the segments before it are sent: it is delayed until the link would
-- be free, plus its own transmission time. Back-to-back segments arrive
-- spaced by their size over the rate. Computed in whole microseconds.
-- @function faults.rate
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts `bytes_per_s`, overhead (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.rate = {
  opts = { bytes_per_s = true, overhead = true },
  check = function(o)
    return first(num(o, "bytes_per_s", 0, nil, true, "bytes per second > 0"),
      o.bytes_per_s == 0 and "'bytes_per_s' must be bytes per second > 0, got 0" or nil,
      int(o, "overhead", 0, false, "an integer number of bytes >= 0"))
  end,
  new = function(o)
    local rate, overhead = o.bytes_per_s, o.overhead or 40
    local free = 0 -- microseconds: when the link is free again
    return function(seg, at)
      local t = math.floor((seg.time + (at or 0)) * 1e6 + 0.5)
      local start = math.max(t, free)
      free = start + math.floor((seg.len + overhead) * 1e6 / rate + 0.5)
      return (free - t) / 1e6
    end
  end,
}

--- `faults.blackhole(host, dir, {})`: toxiproxy's timeout with no timeout: every
-- segment is dropped. A handshake through it stalls (the SYN is retransmitted
-- into the void).
-- @function faults.blackhole
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam[opt] table opts none of its own (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.blackhole = {
  opts = {},
  check = function() end,
  new = function() return function() return "drop" end end,
}

--- `faults.slow_close(host, dir, { delay })`: toxiproxy's `slow_close`: every
-- segment that carries a FIN is delayed by delay seconds, so the close is
-- seen that much later (data before it is not delayed).
-- @function faults.slow_close
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts delay (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.slow_close = {
  opts = { delay = true },
  filter_flags = "F",
  check = function(o)
    return first(num(o, "delay", 0, nil, true, "seconds > 0"),
      o.delay == 0 and "'delay' must be seconds > 0, got 0" or nil)
  end,
  new = function(o)
    return function(seg)
      if seg.flags:find("F", 1, true) then return o.delay end
    end
  end,
}

--- `faults.reset_peer(host, dir, { after_bytes })`: toxiproxy's `reset_peer`,
-- counted in bytes. For each connection (each direction of data), once the
-- data seen reaches `after_bytes` bytes of the stream (the segment that reaches
-- or crosses the count passes), the connection is reset, once:
--
-- - dir = "ingress": this host, receiving the data, sends a RST to the
--   sender with host:send (seq = the segment's ACK number, which is the
--   sender's RCV.NXT, so the RST is acceptable even under RFC 5961);
-- - dir = "egress": this host, sending the data, gets a RST injected on its
--   ingress path as if its peer had sent it.
--
-- The sender's connection goes to CLOSED (error "connection reset"). Data
-- and FINs of that flow that follow on this path (already in flight) are
-- dropped; the receiver's side learns of the reset from the RST its next
-- segment draws from the closed sender. `after_bytes` = 0 resets on the first
-- data segment. Counts use sequence numbers, so retransmissions are not
-- counted twice. handle.ctx.resets counts the resets sent.
-- @function faults.reset_peer
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts `after_bytes` (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.reset_peer = {
  opts = { after_bytes = true },
  check = function(o)
    return int(o, "after_bytes", 0, true, "an integer number of bytes >= 0")
  end,
  new = function(o, ctx)
    local done = {}
    return function(seg)
      local key = flow(seg)
      if seg.flags:find("S", 1, true) then done[key] = nil end
      if done[key] then
        -- reset: later data and FINs of this flow are discarded
        if seg.len > 0 or seg.flags:find("F", 1, true) then return "drop" end
        return nil
      end
      if seg.len == 0 or end_offset(seg) < o.after_bytes then return nil end
      done[key] = true
      local rst
      if seg.flags:find("A", 1, true) then
        rst = { flags = "R", abs_seq = seg.abs_ack, abs_ack = 0, win = 0 }
      else
        rst = { flags = "RA", abs_seq = 0, abs_ack = (seg.abs_seq + seg.len) % TWO32, win = 0 }
      end
      rst.src, rst.dst, rst.sport, rst.dport = seg.dst, seg.src, seg.dport, seg.sport
      if ctx.dir == "ingress" then
        ctx.host:send(rst)
      else
        ctx.host:inject("ingress", rst)
      end
      ctx.resets = (ctx.resets or 0) + 1
      return nil
    end
  end,
}

--- `faults.limit_data(host, dir, { bytes })`: toxiproxy's `limit_data`: for each
-- connection (each direction of data), the first bytes bytes of the stream
-- pass and everything past them is dropped: a segment carrying any byte past
-- the limit is dropped whole (so at most bytes bytes arrive), and so is a FIN
-- after it. Pure ACKs pass. Counts use sequence numbers, so retransmissions of
-- bytes within the limit still pass.
-- @function faults.limit_data
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts bytes (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.limit_data = {
  opts = { bytes = true },
  check = function(o)
    return int(o, "bytes", 0, true, "an integer number of bytes >= 0")
  end,
  new = function(o)
    return function(seg)
      if seg.flags:find("S", 1, true) then return nil end
      if seg.len == 0 and not seg.flags:find("F", 1, true) then return nil end
      local last = seg.len > 0 and end_offset(seg) or (seg.seq - 1) % TWO32
      if last > o.bytes then return "drop" end
    end
  end,
}

------------------------------------------------------------------------------
-- Factories
-- @section factories
------------------------------------------------------------------------------

--- `faults.duplicate(host, dir, { p = 1, copies = 2 })`: netem's duplicate:
-- with probability p a segment goes out as `copies` copies.
-- @function faults.duplicate
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts p, copies (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.duplicate = {
  alone = true,
  opts = { p = true, copies = true },
  check = function(o)
    return first(num(o, "p", 0, 1, false, "a probability in [0, 1]"),
      int(o, "copies", 2, false, "an integer >= 2"))
  end,
  new = function(o, ctx)
    local p, copies = o.p or 1, o.copies or 2
    return function() if ctx.rng:unit() < p then return { dup = copies } end end
  end,
}

--- `faults.corrupt(host, dir, { p })`: netem's corrupt: with probability p a
-- segment has one bit of its payload flipped (a segment without payload, its
-- checksum), and keeps a checksum that no longer matches, as a corrupted
-- packet does: the receiver drops it (RFC 9293 MUST-2, MUST-3).
-- @function faults.corrupt
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts p (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.corrupt = {
  alone = true,
  opts = { p = true },
  check = function(o) return num(o, "p", 0, 1, true, "a probability in [0, 1]") end,
  new = function(o, ctx)
    return function(seg)
      if ctx.rng:unit() >= o.p then return nil end
      local payload = seg.payload or ""
      if #payload > 0 then
        local i = ctx.rng:int(#payload)
        local bit = 1 << (ctx.rng:int(8) - 1)
        payload = payload:sub(1, i - 1) .. string.char(payload:byte(i) ~ bit) .. payload:sub(i + 1)
      end
      ctx.corrupted = (ctx.corrupted or 0) + 1
      return seg:with { payload = payload, bad_checksum = true }
    end
  end,
}

--- `faults.slicer(host, dir, { size })`: toxiproxy's slicer: a segment with
-- more than size bytes of data goes as several of at most size bytes each,
-- in order (SYN, FIN and PSH stay with the first and the last piece).
-- @function faults.slicer
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table opts size (and seed, filter)
-- @treturn synfin.Hook the hook's handle
KINDS.slicer = {
  alone = true,
  opts = { size = true },
  check = function(o) return int(o, "size", 1, true, "an integer >= 1") end,
  new = function(o, ctx)
    return function(seg)
      if seg.len <= o.size then return nil end
      local payload = seg.payload
      for off = 0, #payload - 1, o.size do
        local last = off + o.size >= #payload
        local flags = seg.flags:gsub("[FP]", "")
        if last then flags = seg.flags:gsub("S", "") end
        if off > 0 then flags = flags:gsub("S", "") end
        ctx.host:inject(ctx.dir, { src = seg.src, dst = seg.dst, sport = seg.sport,
          dport = seg.dport, abs_seq = (seg.abs_seq + off) % 4294967296, abs_ack = seg.abs_ack,
          flags = flags, win = seg.win, payload = payload:sub(off + 1, off + o.size),
          ts_val = seg.ts_val, ts_ecr = seg.ts_ecr }) -- options every segment carries
      end
      ctx.sliced = (ctx.sliced or 0) + 1
      return "drop"
    end
  end,
}

local COMMON = { seed = true, filter = true }
local HOOK_FILTER = { flags = true, state = true, conn = true, sport = true, dport = true,
  after = true, count = true, p = true, when = true }

-- Checks host, dir and opts for fname; returns the opts, or raises a
-- "bad argument" error at the caller's caller (level).
local function check_args(fname, kind, host, dir, opts, level)
  local function bad(n, msg) error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), level + 2) end
  if type(host) ~= "table" or type(host.hook) ~= "function" then bad(1, "a synfin host expected") end
  if host.peer then bad(1, host.addr .. " is a bare peer: hook a host with a TCP") end
  if dir ~= "ingress" and dir ~= "egress" then bad(2, "\"ingress\" or \"egress\" expected") end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then bad(3, "options table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not COMMON[k] and not kind.opts[k] then
      local names = {}
      for n in pairs(kind.opts) do names[#names + 1] = n end
      table.sort(names)
      bad(3, ("unknown option '%s'%s"):format(tostring(k),
        #names > 0 and (" (known: " .. table.concat(names, ", ") .. ", seed, filter)") or " (known: seed, filter)"))
    end
  end
  if opts.seed ~= nil and math.type(opts.seed) ~= "integer" then bad(3, "'seed' must be an integer") end
  if opts.filter ~= nil then
    if type(opts.filter) ~= "table" then bad(3, "'filter' must be a host:hook filter table") end
    for k in pairs(opts.filter) do
      if not HOOK_FILTER[k] then
        bad(3, ("'filter' has an unknown key '%s' (a host:hook filter: flags, state, conn, sport, "
          .. "dport, after, count, p, when)"):format(tostring(k)))
      end
    end
  end
  local msg = kind.check(opts)
  if msg then bad(3, msg) end
  return opts
end

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

-- Installs decide as a hook; returns its handle.
local function install(host, dir, filter, decide, name, ctx)
  local h = host:hook(dir, filter, function(seg)
    local v = decide(seg, 0)
    if v == "drop" then return "drop" end
    if type(v) == "number" and v > 0 then return { delay = v } end
    if type(v) == "table" then return v end -- a verdict of its own (duplicate, corrupt)
  end)
  rawset(h, "fault", name)
  rawset(h, "ctx", ctx)
  return h
end

for name, kind in pairs(KINDS) do
  local fname = "faults." .. name
  faults[name] = function(host, dir, opts)
    opts = check_args(fname, kind, host, dir, opts, 2)
    local ctx = { host = host, dir = dir, rng = rng_for(host, dir, name, opts.seed) }
    local decide = kind.new(opts, ctx)
    local filter = copy(opts.filter)
    if kind.filter_flags and filter.flags == nil then filter.flags = kind.filter_flags end
    return install(host, dir, filter, decide, name, ctx)
  end
end

--- The order in which combine applies faults: the ones that drop first (a
-- dropped segment takes no room in the rate queue), then the queue, then the
-- delays, which add up.
faults.ORDER = { "blackhole", "limit_data", "reset_peer", "loss", "rate", "latency", "reorder",
  "slow_close" }

-- Checks a combination's spec; returns an error message or nil.
local function check_spec(spec)
  if type(spec) ~= "table" then return "a table of faults expected, got " .. type(spec) end
  for k, o in pairs(spec) do
    local kind = KINDS[k]
    if not kind then return ("unknown fault '%s'"):format(tostring(k)) end
    if kind.alone then return ("%s does not combine: install it as a hook of its own"):format(k) end
    if type(o) ~= "table" then return ("%s: options table expected"):format(k) end
    for ok in pairs(o) do
      if not kind.opts[ok] then return ("%s: unknown option '%s'"):format(k, tostring(ok)) end
    end
    local msg = kind.check(o)
    if msg then return ("%s: %s"):format(k, msg) end
  end
end

-- Installs a checked combination.
local function combine(host, dir, spec, opts)
  local steps, ctxs = {}, {}
  for _, name in ipairs(faults.ORDER) do
    if spec[name] then
      local ctx = { host = host, dir = dir, rng = rng_for(host, dir, "combine:" .. name, opts.seed) }
      ctxs[name] = ctx
      steps[#steps + 1] = KINDS[name].new(spec[name], ctx)
    end
  end
  return install(host, dir, copy(opts.filter), function(seg)
    local total = 0
    for _, decide in ipairs(steps) do
      local v = decide(seg, total)
      if v == "drop" then return "drop" end
      if type(v) == "number" then total = total + v end
    end
    return total > 0 and total or nil
  end, "combine", ctxs)
end

local NO_OPTS = { opts = {}, check = function() end }

--- `faults.combine(host, dir, spec, opts)`: several faults as one hook, so
-- that they compose: spec = { loss = { p = 0.01 }, latency = { delay = 0.1 },
-- ... } (one entry per fault name, each with that fault's options). The
-- faults apply in the order of faults.ORDER; the first drop wins, delays add
-- up (rate sees the time a segment enters its queue). opts: seed, filter, as
-- for every factory. Returns the hook handle (handle.fault = "combine";
-- handle.ctx[name] holds each fault's state).
-- @tparam synfin.Host host
-- @tparam string dir "egress" or "ingress"
-- @tparam table spec fault name -> its options
-- @tparam[opt] table opts seed, filter
-- @treturn synfin.Hook
-- @usage faults.combine(a, "egress", { loss = { p = 0.01 }, latency = { delay = 0.1 } })
function faults.combine(host, dir, spec, opts)
  opts = check_args("faults.combine", NO_OPTS, host, dir, opts, 2)
  local msg = check_spec(spec)
  if msg then error(("bad argument #3 to 'faults.combine' (%s)"):format(msg), 2) end
  return combine(host, dir, spec, opts)
end

--- Link presets for faults.link, one way (each direction gets its own):
-- rough figures for familiar links, on top of the net's own latency.
faults.presets = {
  -- a wired LAN: a little latency and jitter
  lan = { latency = { delay = 0.0002, jitter = 0.0001 } },
  -- a busy Wi-Fi link: jitter, and losses in bursts
  ["lossy-wifi"] = {
    latency = { delay = 0.002, jitter = 0.004, correlation = 0.25 },
    loss = { model = "gilbert", p_gb = 0.02, p_bg = 0.4, loss_good = 0.002, loss_bad = 0.5 },
  },
  -- a geostationary satellite hop: ~300 ms one way, 10 Mbit/s
  satellite = {
    latency = { delay = 0.3, jitter = 0.005 },
    loss = { p = 0.002 },
    rate = { bytes_per_s = 1250000 },
  },
  -- a 3G mobile link: ~100 ms one way with correlated jitter, 1.6 Mbit/s
  ["3g"] = {
    latency = { delay = 0.1, jitter = 0.03, correlation = 0.5 },
    loss = { p = 0.01 },
    rate = { bytes_per_s = 200000 },
  },
  -- a 2G (EDGE) mobile link: slow and far, 240 kbit/s
  edge = {
    latency = { delay = 0.25, jitter = 0.05, correlation = 0.5 },
    loss = { p = 0.02 },
    rate = { bytes_per_s = 30000 },
  },
}

--- `faults.link(host, preset, opts)`: a whole link's conditions on host's
-- traffic: preset is a name of faults.presets ("lan", "lossy-wifi",
-- "satellite", "3g", "edge") or a spec table as for faults.combine. opts:
-- dir = "both" (default: what the host sends and what it receives, each
-- with its own draws), "egress" or "ingress"; seed; filter. Returns
-- { egress = handle, ingress = handle } (the directions installed) with
-- :remove() to remove both.
-- @tparam synfin.Host host
-- @param preset a name of faults.presets, or a spec table
-- @tparam[opt] table opts dir, seed, filter
-- @treturn table { egress = handle, ingress = handle, remove = function }
-- @usage faults.link(a, "lossy-wifi")
function faults.link(host, preset, opts)
  local fname = "faults.link"
  local spec = preset
  if type(preset) == "string" then
    spec = faults.presets[preset]
    if not spec then
      local names = {}
      for n in pairs(faults.presets) do names[#names + 1] = n end
      table.sort(names)
      error(("bad argument #2 to '%s' (unknown preset '%s'; presets: %s)")
        :format(fname, preset, table.concat(names, ", ")), 2)
    end
  elseif type(preset) ~= "table" then
    error(("bad argument #2 to '%s' (a preset name or a table of faults expected)"):format(fname), 2)
  end
  opts = copy(opts)
  local dir = opts.dir or "both"
  opts.dir = nil
  if dir ~= "both" and dir ~= "egress" and dir ~= "ingress" then
    error(("bad argument #3 to '%s' ('dir' must be \"both\", \"egress\" or \"ingress\")"):format(fname), 2)
  end
  check_args(fname, NO_OPTS, host, dir == "both" and "egress" or dir, opts, 2)
  local msg = check_spec(spec)
  if msg then error(("bad argument #2 to '%s' (%s)"):format(fname, msg), 2) end
  local handles = {}
  for _, d in ipairs { "egress", "ingress" } do
    if dir == "both" or dir == d then handles[d] = combine(host, d, spec, opts) end
  end
  handles.remove = function(self)
    for _, d in ipairs { "egress", "ingress" } do
      if self[d] then self[d]:remove() end
    end
  end
  return handles
end

return faults
