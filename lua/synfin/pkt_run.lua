--- synfin.pkt_run: runs packetdrill scripts (.pkt, parsed by synfin.pkt)
-- against the Linux kernel over TUN, packetdrill's way. The kernel is the
-- system under test: the script's system calls are made by synfin.kernel's
-- agent, its `<` packets are sent by a bare peer of a synfin.tun net
-- (absolute numbers computed from the script's relative ones, the
-- kernel's ISN learnt from its SYN or SYN-ACK), and its `>` packets are
-- the kernel's next segments, each checked (flags, seq, ack, win, options
-- as written; `<...>`: any options) and timed: every event at its scripted
-- time, within a tolerance (packetdrill's 4 ms by default).
--
--     local run = require "synfin.pkt_run"
--     local r = run.file("spec/pkt/passive_open.pkt")
--     print(r.status, r.line, r.message)  -- "passed", "failed", "unsupported"
--
-- Addresses: the kernel is 10.74.N.1, the remote end 10.74.N.2 (N: opts.subnet,
-- default 0); with packetdrill's --ip_version=ipv6 (a script's option, or
-- opts.ip_version) the kernel is fd3d:fa7b:d17d:N::1 (packetdrill's local
-- prefix) and the remote end fd3d:fa7b:d17d:N::2 (on the device's /64, where
-- packetdrill routes 2001:db8::1), on a link of MTU 1520 as packetdrill's
-- IPv6 runs have (MSS 1460, as over IPv4); ipv4-mapped-ipv6 keeps the IPv4
-- wire and makes AF_INET6 sockets bound and connected to ::ffff:10.74.N.x
-- (TUN only: the sim's socket facade has no mapped addresses). A listener
-- binds port 8080, a connect goes to 8080, the
-- remote port of a passive open is chosen at random. Needs a network
-- namespace (spec/netns/run, or unshare -Urn): the agent refuses to run
-- elsewhere.
-- @module synfin.pkt_run
-- @pragma nostrip
local pkt = require "synfin.pkt"

local run = {}

local TWO32 = 2 ^ 32 // 1
local PORT = 8080
-- the remote end's ISN (packetdrill's scripts number from 0: this shows
-- up as a wrong absolute number, not as a coincidence)
local REMOTE_ISN = 1000000

--- packetdrill's default tolerance, seconds.
run.TOLERANCE = 0.004

local FLAG_MAP = { S = "S", F = "F", R = "R", P = "P", ["."] = "A", U = "U", E = "E", W = "C" }
local FLAG_ORDER = "SFRPAUEC"

-- packetdrill's flags ("S.") as synfin's letters, ordered ("SA")
local function synfin_flags(f)
  local set = {}
  for ch in f:gmatch(".") do set[FLAG_MAP[ch]] = true end
  local out = {}
  for ch in FLAG_ORDER:gmatch(".") do if set[ch] then out[#out + 1] = ch end end
  return table.concat(out)
end

local function sorted_flags(f)
  local out = {}
  for ch in FLAG_ORDER:gmatch(".") do if f:find(ch, 1, true) then out[#out + 1] = ch end end
  return table.concat(out)
end

-- synfin's letters as packetdrill's
local function pd_flags(f)
  local back = { S = "S", F = "F", R = "R", P = "P", A = ".", U = "U", E = "E", C = "W" }
  local out = {}
  for ch in ("SFRPUECA"):gmatch(".") do if f:find(ch, 1, true) then out[#out + 1] = back[ch] end end
  return table.concat(out)
end

-- A failure or an unsupported construct, raised as a table and caught by
-- the runner.
local function stop(status, line, message) error({ pkt = true, status = status, line = line, message = message }, 0) end

-- A stop() caught before the run: the result it names, at no time; any
-- other error goes on up.
local function stopped_before(err)
  if type(err) == "table" and err.pkt then
    return { status = err.status, line = err.line, message = err.message, seconds = 0 }
  end
  error(err, 0)
end

-- System calls: the script's arguments as synfin.kernel's.

-- The end of a time range (`0.1~0.2`, `+0~+0.2`) or of a blocking call
-- (`+0...0.1 read`), the previous event being at `base`: as packetdrill's
-- adjust_relative_event_times (run.c) makes it, an event with a relative
-- start has its end moved by the same offset, the time the event is
-- reached: `+0.1...0.2` ends 0.2 s after the previous event, not 0.2 s
-- after its start, nor at 0.2 s into the script.
local function range_end(tm, base)
  if tm.kind == "rel" then return base + tm.hi end
  return tm.hi
end

local function ident(e) return type(e) == "table" and e.t == "ident" and e.v or nil end

-- a flags expression (O_RDWR|O_NONBLOCK, a name, 0) as "A|B", or nil
local function flag_words(e)
  if e == 0 then return 0 end
  if ident(e) then return e.v end
  if type(e) == "table" and e.t == "or" then
    local w = {}
    for i, x in ipairs(e) do
      w[i] = ident(x)
      if not w[i] then return nil end
    end
    return table.concat(w, "|")
  end
end

local function int_arg(e)
  if math.type(e) == "integer" then return e end
  if type(e) == "table" and e.t == "array" and #e == 1 and math.type(e[1]) == "integer" then return e[1] end
end

-- Turns a syscall event into { name, args... } for the agent, and what
-- its result must be compared with; or raises unsupported.
local function compile(e, env)
  local a, name = e.args, e.name
  local function unsup(why) stop("unsupported", e.line, ("%s(): %s"):format(name, why)) end
  local function fd(i)
    local v = a[i]
    if math.type(v) ~= "integer" then unsup(("argument %d must be a file descriptor"):format(i)) end
    return v
  end
  local c = { line = e.line }
  if name == "socket" then
    local dom = a[1]
    if not (type(dom) == "table" and (dom.t == "ellipsis" or dom.v == env.domain)) then
      unsup(("only %s (this run's --ip_version is %s)"):format(env.domain, env.ip_version))
    end
    local ty = flag_words(a[2])
    if not ty or not ty:match("SOCK_STREAM") then unsup("only SOCK_STREAM sockets") end
    c.args = { "socket", ty, env.domain ~= "AF_INET" and env.domain or nil }
  elseif name == "bind" or name == "connect" then
    for i = 2, #a do
      if not (type(a[i]) == "table" and a[i].t == "ellipsis" or math.type(a[i]) == "integer") then
        unsup("only '...' for the address (the script's default one)")
      end
    end
    c.args = { name, fd(1), name == "bind" and env.bind or env.connect, PORT }
  elseif name == "listen" then
    c.args = { "listen", fd(1), int_arg(a[2]) or 1 }
  elseif name == "accept" then
    c.args = { "accept", fd(1) }
  elseif name == "read" or name == "recv" or name == "write" or name == "send" then
    local n = int_arg(a[3])
    if not n then unsup("a byte count expected") end
    c.args = { name, fd(1), n }
    if name == "recv" or name == "send" then
      local f = a[4] == nil and 0 or flag_words(a[4])
      if not f then unsup("flags expected") end
      c.args[4] = f
    end
  elseif name == "shutdown" then
    local how = ident(a[2])
    if not how then unsup("SHUT_RD, SHUT_WR or SHUT_RDWR expected") end
    c.args = { "shutdown", fd(1), how }
  elseif name == "close" then
    c.args = { "close", fd(1) }
  elseif name == "setsockopt" then
    local opt, v = ident(a[3]), a[4]
    if not opt then unsup("an option name expected") end
    if opt == "SO_LINGER" then
      if not (type(v) == "table" and v.t == "struct") then unsup("SO_LINGER takes {onoff=..., linger=...}") end
      v = { onoff = v.fields.onoff or v.fields.l_onoff, linger = v.fields.linger or v.fields.l_linger }
      if math.type(v.onoff) ~= "integer" or math.type(v.linger) ~= "integer" then unsup("onoff and linger numbers") end
    else
      v = int_arg(v)
      if not v then unsup("an integer value ([1] or 1) expected") end
    end
    c.args = { "setsockopt", fd(1), opt, v }
  elseif name == "getsockopt" then
    local opt = ident(a[3])
    if not opt then unsup("an option name expected") end
    local v = a[4]
    if type(v) == "table" and v.t == "array" and #v == 1 then v = v[1] end
    if not (math.type(v) == "integer" or ident(v) or type(v) == "table" and v.t == "ellipsis") then
      unsup("a value ([1], [ECONNREFUSED], ...) expected")
    end
    c.args = { "getsockopt", fd(1), opt }
    c.value = v
  elseif name == "fcntl" then
    local cmd = ident(a[2])
    if cmd ~= "F_SETFL" then unsup("only F_SETFL") end
    local f = flag_words(a[3])
    if not f then unsup("flags expected") end
    c.args = { "fcntl", fd(1), "F_SETFL", f }
  elseif name == "poll" then
    local fds = a[1]
    if not (type(fds) == "table" and fds.t == "array" and #fds == 1 and fds[1].t == "struct") then
      unsup("one struct pollfd expected")
    end
    local p = fds[1].fields
    local ev = flag_words(p.events)
    local ms = int_arg(a[3])
    if math.type(p.fd) ~= "integer" or not ev or not ms then unsup("{fd=N, events=..., revents=...}, 1, ms expected") end
    c.args = { "poll", p.fd, ev, ms >= 0 and ms / 1000 or 0 }
    c.revents = p.revents == nil and "" or flag_words(p.revents)
    if not c.revents then unsup("revents expected as names") end
  else
    unsup("not supported")
  end
  return c
end

-- "POLLIN|POLLOUT" as a set
local function word_set(s)
  local set = {}
  for w in tostring(s):gmatch("[%w_]+") do if w ~= "0" then set[w] = true end end
  return set
end

local function same_set(a, b)
  for k in pairs(a) do if not b[k] then return false end end
  for k in pairs(b) do if not a[k] then return false end end
  return true
end

-- Packets

-- how a segment record shows, packetdrill's way, relative to the ISNs known
local function show_seg(r, st)
  local seq = st.kisn and (r.abs_seq - st.kisn) % TWO32 or r.abs_seq
  local s = ("%s %d:%d(%d)"):format(pd_flags(r.flags), seq, (seq + r.len) % TWO32, r.len)
  if r.flags:find("A", 1, true) then s = s .. (" ack %d"):format((r.abs_ack - st.risn) % TWO32) end
  s = s .. (" win %d"):format(r.win)
  local o = {}
  if r.mss then o[#o + 1] = "mss " .. r.mss end
  if r.sack_perm then o[#o + 1] = "sackOK" end
  if r.ts then o[#o + 1] = ("TS val %d ecr %d"):format(r.ts_val, r.ts_ecr) end
  if r.wscale then o[#o + 1] = "wscale " .. r.wscale end
  if r.abs_sack then
    local b = {}
    for i, blk in ipairs(r.abs_sack) do
      b[i] = ("%d:%d"):format((blk[1] - st.risn) % TWO32, (blk[2] - st.risn) % TWO32)
    end
    o[#o + 1] = "sack " .. table.concat(b, " ")
  end
  if #o > 0 then s = s .. " <" .. table.concat(o, ",") .. ">" end
  return s
end

local function show_expected(e)
  local s = ("%s %d:%d(%d)"):format(e.flags, e.seq, e.seq_end, e.len)
  if e.ack then s = s .. " ack " .. e.ack end
  if e.win then s = s .. " win " .. e.win end
  if e.options == "any" then
    s = s .. " <...>"
  elseif e.options then
    local o = {}
    for i, x in ipairs(e.options) do
      if x.kind == "TS" then
        o[i] = ("TS val %d ecr %d"):format(x.val, x.ecr)
      elseif x.kind == "sack" then
        local b = {}
        for j, blk in ipairs(x.blocks) do b[j] = blk[1] .. ":" .. blk[2] end
        o[i] = "sack " .. table.concat(b, " ")
      else
        o[i] = x.kind .. (x.value and " " .. x.value or "")
      end
    end
    s = s .. " <" .. table.concat(o, ",") .. ">"
  end
  return s
end

-- What differs between the kernel's segment r and the script's e (nil:
-- they agree). Learns the kernel's ISN and ports from its SYN.
local function compare(e, r, st)
  local want = synfin_flags(e.flags)
  if sorted_flags(r.flags) ~= want then return "flags differ" end
  if r.flags:find("S", 1, true) then st.kisn = (r.abs_seq - e.seq) % TWO32 end
  local seq = (r.abs_seq - (st.kisn or 0)) % TWO32
  if seq ~= e.seq then return ("seq %d, not %d"):format(seq, e.seq) end
  if r.len ~= e.len then return ("length %d, not %d"):format(r.len, e.len) end
  if e.ack then
    local ack = (r.abs_ack - st.risn) % TWO32
    if ack ~= e.ack then return ("ack %d, not %d"):format(ack, e.ack) end
  end
  if e.win and r.win ~= e.win then return ("win %d, not %d"):format(r.win, e.win) end
  if e.options ~= "any" then
    local want_o = { }
    for _, o in ipairs(e.options or {}) do want_o[o.kind] = o end
    local function has(k) return want_o[k] ~= nil end
    if has("mss") ~= (r.mss ~= nil) or has("mss") and want_o.mss.value ~= r.mss then return "the MSS option differs" end
    if has("wscale") ~= (r.wscale ~= nil) or has("wscale") and want_o.wscale.value ~= r.wscale then
      return "the window scale option differs"
    end
    if has("sackOK") ~= (r.sack_perm ~= nil) then return "the SACK-permitted option differs" end
    if has("TS") ~= (r.ts ~= nil) then return "the timestamp option differs" end
    if has("sack") ~= (r.abs_sack ~= nil) then return "the SACK option differs" end
    if has("sack") then
      local blocks = want_o.sack.blocks
      if #blocks ~= #r.abs_sack then return "the SACK blocks differ" end
      for i, b in ipairs(blocks) do
        local got = r.abs_sack[i]
        if (got[1] - st.risn) % TWO32 ~= b[1] or (got[2] - st.risn) % TWO32 ~= b[2] then
          return "the SACK blocks differ"
        end
      end
    end
  end
  return nil
end

-- The segment a `<` line describes, as the fields of peer:send, in order:
-- the one rule for the runner (run.inbound_fields resolved) and the
-- converter (run.to_lua writes them as Lua). Each field is { name, value },
-- or { name, var = V, default } (the run's st[V]: kernel, rport, kport,
-- last_ts; the default when it is not known), or { name, rel = ISN, n }
-- ((st[ISN] + n) mod 2^32, ISN "risn" or "kisn", 0 while not known), or
-- { name, rep = n } (n bytes), or { name, blocks = { { a, b }, ... } }
-- (SACK blocks, each edge relative to the kernel's ISN).
function run.inbound_fields(e)
  local f = {
    { "dst", var = "kernel" }, { "sport", var = "rport" }, { "dport", var = "kport" },
    { "flags", synfin_flags(e.flags) },
    { "abs_seq", rel = "risn", n = e.seq },
    e.ack and { "abs_ack", rel = "kisn", n = e.ack } or { "abs_ack", 0 },
    { "win", e.win or 65535 },
  }
  if e.len > 0 then f[#f + 1] = { "payload", rep = e.len } end
  if e.urg then f[#f + 1] = { "urp", e.urg } end
  if e.options == "any" then stop("unsupported", e.line, "the option wildcard <...> in a packet to send") end
  for _, o in ipairs(e.options or {}) do
    if o.kind == "mss" then
      f[#f + 1] = { "mss", o.value }
    elseif o.kind == "wscale" then
      f[#f + 1] = { "wscale", o.value }
    elseif o.kind == "sackOK" then
      f[#f + 1] = { "sack_perm", true }
    elseif o.kind == "TS" then
      -- packetdrill's rule: the echo is of the kernel's own clock
      f[#f + 1] = { "ts_val", o.val }
      f[#f + 1] = { "ts_ecr", var = "last_ts", default = o.ecr }
    elseif o.kind == "sack" then
      f[#f + 1] = { "abs_sack", blocks = o.blocks }
    end
  end
  return f
end

-- The segment itself, the fields resolved with the run's state st.
local function inbound(e, st)
  local seg = {}
  for _, x in ipairs(run.inbound_fields(e)) do
    local v = x[2]
    if x.var then
      v = st[x.var]
      if v == nil then v = x.default end
    elseif x.rel then
      v = ((st[x.rel] or 0) + x.n) % TWO32
    elseif x.rep then
      v = ("x"):rep(x.rep)
    elseif x.blocks then
      v = {}
      for i, b in ipairs(x.blocks) do v[i] = { (b[1] + (st.kisn or 0)) % TWO32, (b[2] + (st.kisn or 0)) % TWO32 } end
    end
    seg[x[1]] = v
  end
  return seg
end

-- The run

-- What the runner cannot do, it says before doing anything: the script's
-- options and calls checked, the calls compiled. Returns tol, env, calls;
-- or nil and the result (unsupported) to give. The converter's rule too.
-- packetdrill's command-line options a script may carry, and why each
-- is one the runner honours (the rest are unsupported)
-- fd3d:fa7b:d17d:N::host, as synfin writes it (RFC 5952: no :0: group)
local function v6(host)
  return function(n) return n == 0 and ("fd3d:fa7b:d17d::%d"):format(host) or ("fd3d:fa7b:d17d:%x::%d"):format(n, host) end
end
local function v4(host) return function(n) return ("10.74.%d.%d"):format(n, host) end end

--- packetdrill's --ip_version values: the wire's family, the sockets'
-- domain, the addresses (functions of the run's subnet) and the link's MTU.
run.FAMILIES = {
  ipv4 = { domain = "AF_INET", kernel = v4(1), remote = v4(2) },
  ["ipv4-mapped-ipv6"] = { domain = "AF_INET6", kernel = v4(1), remote = v4(2), mapped = true },
  ipv6 = { domain = "AF_INET6", kernel = v6(1), remote = v6(2), mtu = 1520 },
}

local SCRIPT_OPTIONS = {
  -- the addresses are the runner's own, of the family named (run.FAMILIES)
  ip_version = function(v) return run.FAMILIES[v] ~= nil end,
  -- the MSS packetdrill splits its own large packets by (as GSO): the
  -- runner sends them whole, as the kernel sees a GSO packet
  mss = function(v) return math.tointeger(tonumber(v)) ~= nil end,
  -- the kernel's TS clock, for translating TS values: the runner does not
  -- compare TS values
  tcp_ts_tick_usecs = function(v) return math.tointeger(tonumber(v)) ~= nil end,
}

-- The script's shell lines as host settings (synfin.pkt_sysctl's table),
-- in order; or raises unsupported. A sysctl after the script's first
-- system call is unsupported: the host has started by then.
local function shell_settings(events, opts)
  local sysctl = require "synfin.pkt_sysctl"
  local dir = opts.name and opts.name:match("^(.*)/[^/]*$") or "."
  local settings, sysctls, notes, started = {}, {}, {}, false
  for _, e in ipairs(events) do
    if e.kind == "syscall" then started = true end
    if e.kind == "shell" then
      local steps, err = sysctl.shell(e.command, dir)
      if not steps then stop("unsupported", e.line, err) end
      for _, st in ipairs(steps) do
        if st.sysctl and opts.target ~= "sim" then
          -- the kernel has every sysctl: it is written as it is
          if started then
            stop("unsupported", e.line, ("sysctl %s after the script's first system call"):format(st.sysctl))
          end
          sysctls[#sysctls + 1] = { name = st.sysctl, value = st.value }
        elseif st.sysctl then
          local m, why = sysctl.map(st.sysctl, st.value)
          if not m then stop("unsupported", e.line, why) end
          if m.unmodelled then
            if not opts.lenient_sysctls then
              stop("unsupported", e.line, ("sysctl %s=%s: %s (--lenient-sysctls runs it)"):format(st.sysctl, st.value,
                m.unmodelled))
            end
            notes[#notes + 1] = ("%s=%s"):format(st.sysctl, st.value)
          end
          if started and (m.setting or m.unmodelled) then
            stop("unsupported", e.line, ("sysctl %s after the script's first system call"):format(st.sysctl))
          end
          if m.setting then settings[m.setting] = m.value end
          sysctls[#sysctls + 1] = { name = st.sysctl, value = st.value }
        end
      end
    end
  end
  return settings, sysctls, notes
end

-- What the runner cannot do, it says before doing anything: the script's
-- options and calls checked, the calls compiled, its sysctls mapped.
-- Returns tol, env, calls; or nil and the result (unsupported) to give.
-- The converter's rule too.
local function prepare(events, opts)
  local tol = opts.tolerance or run.TOLERANCE
  local ip_version = opts.ip_version or "ipv4"
  for _, e in ipairs(events) do
    -- (the script's own --ip_version wins over the run's: the script was written for it)
    if e.kind == "option" and e.name == "ip_version" and run.FAMILIES[e.value] then ip_version = e.value end
  end
  if not run.FAMILIES[ip_version] then
    return nil, { status = "unsupported", line = 0, message = "--ip_version=" .. tostring(ip_version), seconds = 0 }
  end
  for _, e in ipairs(events) do
    if e.kind == "unsupported" then
      return nil, { status = "unsupported", line = e.line, message = e.what, seconds = 0 }
    elseif e.kind == "option" then
      if e.name == "tolerance_usecs" and tonumber(e.value) then
        if not opts.tolerance_from_cli then tol = tonumber(e.value) / 1e6 end
      elseif not (SCRIPT_OPTIONS[e.name] and SCRIPT_OPTIONS[e.name](e.value)) then
        return nil, { status = "unsupported", line = e.line, message = "option --" .. e.name, seconds = 0 }
      end
    end
  end
  local okp, settings, sysctls, notes = pcall(shell_settings, events, opts)
  if not okp then return nil, stopped_before(settings) end
  local subnet = opts.subnet or 0
  local fam = run.FAMILIES[ip_version]
  if fam.mapped and opts.target == "sim" then
    return nil, { status = "unsupported", line = 0, seconds = 0,
      message = "--ip_version=ipv4-mapped-ipv6 on the sim (its socket facade has no IPv4-mapped addresses)" }
  end
  local env = { kernel = fam.kernel(subnet), remote = fam.remote(subnet), ip_version = ip_version,
    domain = fam.domain, mtu = fam.mtu, settings = settings, sysctls = sysctls, notes = notes }
  -- what bind and connect name: the sockets' family's form of the addresses
  env.bind = fam.mapped and "::ffff:" .. env.kernel or env.kernel
  env.connect = fam.mapped and "::ffff:" .. env.remote or env.remote
  -- the sim's host: the profile, the link's MTU, then what the sysctls set
  env.host = { name = "synfin", profile = opts.profile, mtu = fam.mtu }
  for k, v in pairs(settings) do env.host[k] = v end
  local calls = {}
  for _, e in ipairs(events) do
    local ok, c = true, nil
    if e.kind == "syscall" then
      ok, c = pcall(compile, e, env)
      calls[e] = c
    elseif e.kind == "packet" and e.dir == "<" then
      ok, c = pcall(run.inbound_fields, e)
    end
    if not ok then return nil, stopped_before(c) end
  end
  return tol, env, calls
end

--- Sets the script's sysctls in the kernel (the namespace's own:
-- /proc/sys/net/...), as packetdrill's shell lines would; raises when one
-- cannot be written.
-- @tparam table sysctls { { name = "net.ipv4.tcp_sack", value = "0" }, ... }
function run.write_sysctls(sysctls)
  for _, x in ipairs(sysctls) do
    local path = "/proc/sys/" .. x.name:gsub("%.", "/")
    -- one the kernel has already needs no writing (some, such as
    -- tcp_congestion_control, cannot be written in a user namespace)
    local cur = io.open(path)
    local now_v = cur and cur:read("a")
    if cur then cur:close() end
    local function words(v) return (tostring(v):gsub("%s+", " "):match("^%s*(.-)%s*$")) end
    if not (now_v and words(now_v) == words(x.value)) then
      local f = io.open(path, "w")
      local ok = f and f:write(x.value .. "\n") and f:close()
      if not ok then
        if f then pcall(f.close, f) end
        error(("sysctl %s=%s cannot be set here (%s)"):format(x.name, x.value, path), 0)
      end
    end
  end
end

--- Runs parsed events against the kernel over TUN. opts: tolerance
-- (seconds, default 0.004), subnet (the third byte of the addresses,
-- default 0), rport (the remote port; default random), name (the script's
-- path: messages, and where its defaults.sh is), agent (synfin-agent's
-- path), target ("tun", or "sim": a synfin host in virtual time), profile
-- (the sim's host: "linux", the default, "freebsd" or "rfc"; the
-- script's sysctls are set over it), `lenient_sysctls` (run a script
-- whose sysctls synfin does not model, naming them in result.notes).
-- @tparam table events from synfin.pkt.parse
-- @tparam[opt] table opts
-- @treturn table { status = "passed"|"failed"|"unsupported", line, message,
-- trace (the ladder's last lines, on failure), seconds (the run's), notes
-- (the sysctls synfin does not model, with `lenient_sysctls`) }
function run.events(events, opts)
  opts = opts or {}
  local tol, env, calls = prepare(events, opts)
  if not tol then return env end
  local synfin = require "synfin"
  local kernel = require "synfin.kernel"
  local net, peer, k, sut
  if opts.target == "sim" then
    -- the system under test is a synfin host at the kernel's address, its
    -- calls made through the socket facade, in virtual time; the wire has
    -- no latency, as a TUN device has next to none
    net = synfin.sim { latency = 0 }
    sut = net:host(env.kernel, env.host)
    peer = net:peer(env.remote, { name = "remote" })
    k = kernel.sim(net, sut)
  else
    net = synfin.tun { kernel = env.kernel, mtu = env.mtu, tolerance = { abs = tol, pct = 0 } }
    sut = net.kernel
    peer = net:peer(env.remote, { name = "remote" })
    local ok_agent
    ok_agent, k = pcall(kernel.agent, net, { agent = opts.agent })
    if not ok_agent then
      net:close()
      return { status = "failed", line = 0, message = tostring(k), seconds = 0 }
    end
    -- only once the agent has shown this is a test's own namespace: the
    -- sysctls are the namespace's, never the machine's
    local okw, werr = pcall(run.write_sysctls, env.sysctls)
    if not okw then
      k:stop()
      net:close()
      return { status = "unsupported", line = 0, message = tostring(werr), seconds = 0 }
    end
  end
  local st = {
    kernel = env.kernel, risn = REMOTE_ISN, kport = PORT,
    rport = opts.rport or math.random(32768, 60999),
  }
  local result
  local consumed = {}
  local fd_of = {} -- the script's file descriptors: the kernel's (or the facade's) for each
  net:run(function()
    local m0 = net:mark()
    local t0 = net:now()
    local base = 0 -- the previous event's time in the script, seconds
    -- How late the schedule runs: the runner's own delays (an agent's call
    -- takes a few milliseconds to come back) are not the kernel's, so the
    -- events after them are due that much later; and, packetdrill's rule,
    -- what follows a packet from the kernel is timed from when it came.
    local lag = 0
    -- A blocking call's start is known only when it returns: the first
    -- packet from the kernel after one may be late by as much as the
    -- agent takes to start a call (the most seen so far, twice over).
    local latency, grace = 0.002, 0
    local pending = {} -- blocking calls: { call, ev, at, sat, lag_lo, lag_hi }
    local function set_lag(v)
      lag = v
      for _, p in ipairs(pending) do
        p.lag_lo, p.lag_hi = math.min(p.lag_lo, v), math.max(p.lag_hi, v)
      end
    end
    local last_line = 0

    local function now() return net:now() - t0 end

    -- a kernel segment not yet matched, sent more than the tolerance before t
    local function unexpected(t, line)
      for i = m0.index, #net:records() do
        local r = net.recs[i]
        if r.kind == "seg" and synfin.on_wire(r) and r.from == sut.index and not consumed[i]
            and r.time - t0 < t - tol then
          consumed[i] = true
          stop("failed", line, ("unexpected packet from the kernel at t=%.3f s: %s"):format(r.time - t0,
            show_seg(r, st)))
        end
      end
    end

    local function finish_call(p)
      local c, e = p.call, p.ev
      local left = math.max(0.05, p.at - now()) + tol + 1
      local okw, err = pcall(c.wait, c, left)
      if not okw then
        stop("failed", e.line, ("%s did not return by t=%.3f s: %s"):format(c.shown, now(), tostring(err):match("^[^\n]*")))
      end
      local spec = calls[e]
      local got_err = c.errno
      -- a new descriptor: the script's number stands for the kernel's from
      -- now on, as packetdrill maps them (the agent's own fds come first)
      local made_fd = (spec.args[1] == "socket" or spec.args[1] == "accept") and math.type(e.ret) == "integer"
        and e.ret >= 0 and c.ret >= 0
      if made_fd then fd_of[e.ret] = c.ret end
      -- the return value and errno
      if type(e.ret) == "number" and c.ret ~= e.ret and not made_fd then
        stop("failed", e.line, ("%s returned %d%s, the script says %d%s"):format(c.shown, c.ret,
          got_err and " " .. got_err or "", e.ret, e.errno and " " .. e.errno or ""))
      end
      if e.errno and got_err ~= e.errno then
        stop("failed", e.line, ("%s failed with %s, the script says %s"):format(c.shown, tostring(got_err), e.errno))
      end
      if spec.revents and c.ret >= 0 and not same_set(word_set(c.revents), word_set(spec.revents)) then
        stop("failed", e.line, ("%s: revents %s, the script says %s"):format(c.shown,
          c.revents == "" and "0" or c.revents, spec.revents == "" and "0" or spec.revents))
      end
      if spec.value ~= nil and c.ret >= 0 and not (type(spec.value) == "table" and spec.value.t == "ellipsis") then
        local want = ident(spec.value) or spec.value
        if c.value ~= want then
          stop("failed", e.line, ("%s gave %s, the script says %s"):format(c.shown, tostring(c.value), tostring(want)))
        end
      end
      -- when it returned
      local returned = c.returned - t0
      latency = math.max(latency, math.min(0.05, c.started - c.sent))
      if p.blocking then
        -- the schedule slid while it blocked: any of its times will do
        local lo, hi = p.sat + p.lag_lo - tol, p.sat + p.lag_hi + tol
        if returned < lo or returned > hi then
          local at = returned < lo and lo + tol or hi - tol
          stop("failed", e.line, ("%s returned at t=%.3f s, %.3f s %s: the script says t=%.3f s (+/- %.3f s)")
            :format(c.shown, returned, math.abs(returned - at), returned > at and "late" or "early", at, tol))
        end
      elseif c.blocked > tol then
        stop("failed", e.line, ("%s blocked for %.3f s: a call written without '...' must return at once"
          .. " (write t1...t2 for a blocking one)"):format(c.shown, c.blocked))
      end
      return returned
    end

    -- the blocking calls due (in the script's time) before an event at t
    local function settle(t)
      for i = #pending, 1, -1 do
        local p = pending[i]
        if t == nil or p.sat < t - 1e-9 then
          table.remove(pending, i)
          set_lag(math.max(lag, finish_call(p) - p.sat))
        end
      end
    end

    local function fail_here(line, msg) stop("failed", line, msg) end

    -- A `>` line longer than the segment that came: the kernel's TSO
    -- sends a flight as one packet, which packetdrill reads as it is; a
    -- host without it sends the same bytes as MSS-sized segments. Those
    -- that follow r in sequence, at the same time (within the tolerance),
    -- with the same ACK, are read as one, as long as the line says; PSH
    -- and FIN are the last one's.
    local function coalesce(e, r)
      if e.len <= r.len or r.len == 0 or r.flags:find("[SRF]") then return r end
      local m = { flags = r.flags:gsub("P", ""), abs_seq = r.abs_seq, len = r.len, abs_ack = r.abs_ack, win = r.win,
        mss = r.mss, wscale = r.wscale, sack_perm = r.sack_perm, ts = r.ts, ts_val = r.ts_val, ts_ecr = r.ts_ecr,
        abs_sack = r.abs_sack, time = r.time, index = r.index, sport = r.sport, dport = r.dport }
      while m.len < e.len do
        local nxt = (m.abs_seq + m.len) % TWO32
        local ack = m.abs_ack
        local okn, n = pcall(net.expect, net, { from = sut, since = m0, where = function(x)
          return x.abs_seq == nxt and x.abs_ack == ack and x.len > 0 and not x.flags:find("[SR]")
        end }, math.max(0, r.time - t0 + tol - now()) + 0.001)
        if not okn or n.time - r.time > tol then break end
        consumed[n.index] = true
        m.len, m.win = m.len + n.len, n.win
        m.flags = sorted_flags(m.flags .. (n.flags:find("P", 1, true) and "P" or "") .. (n.flags:find("F", 1, true)
          and "F" or ""))
      end
      if m.len == r.len then return r end
      return m
    end

    local okr, err = pcall(function()
      for _, e in ipairs(events) do
        if e.kind ~= "option" then
          last_line = e.line
          local tm = e.time
          local sat, shi -- the script's times
          if tm.kind == "any" then
            sat = base
          else
            sat = tm.kind == "rel" and base + tm.t or tm.t
            if tm.hi then shi = range_end(tm, base) end
          end
          if sat < base - 1e-9 then fail_here(e.line, ("time goes backwards: t=%g s after t=%g s"):format(sat, base)) end
          base = sat
          local at, hi = sat + lag, shi and shi + lag
          settle(sat)
          if e.kind == "packet" and e.dir == ">" then
            local deadline = (hi or at) + tol + grace
            local r
            -- past the deadline, a second more, only to say how late it came
            local okx = pcall(function()
              r = net:expect({ from = sut, since = m0 }, math.max(0, deadline - now()) + 1)
            end)
            if not okx then
              fail_here(e.line, ("expected > %s at t=%.3f s, nothing came by t=%.3f s"):format(show_expected(e),
                at, now()))
            end
            consumed[r.index] = true
            r = coalesce(e, r)
            local diff = compare(e, r, st)
            if r.flags:find("S", 1, true) and r.flags:find("A", 1, true) == nil then
              st.kport, st.rport = r.sport, r.dport -- an active open: the kernel chose its port
            end
            if r.ts then st.last_ts = r.ts_val end
            if diff then
              fail_here(e.line, ("%s\n  expected: > %s\n  actual:   > %s (t=%.3f s)"):format(diff, show_expected(e),
                show_seg(r, st), r.time - t0))
            end
            local t = r.time - t0
            local late_ok = (hi or at) + tol + grace
            grace = 0
            if tm.kind ~= "any" and (t < at - tol or t > late_ok) then
              fail_here(e.line, ("> %s came at t=%.3f s, %.3f s %s: the script says t=%.3f s (+/- %.3f s)")
                :format(show_expected(e), t, t < at and at - t or t - (hi or at), t < at and "early" or "late",
                  hi and at or at, tol))
            end
            if tm.kind ~= "any" then set_lag(t - sat) end
          else
            if at > now() then net:sleep(at - now()) end
            unexpected(at, e.line)
            if e.kind == "shell" then
              -- its sysctls were set before the run (shell_settings)
              set_lag(lag)
            elseif e.kind == "packet" then
              set_lag(math.max(lag, now() - sat))
              peer:send(inbound(e, st))
            else
              local c = calls[e]
              local args = table.pack(table.unpack(c.args))
              if args[1] ~= "socket" then args[2] = fd_of[args[2]] or args[2] end -- every other call's fd
              local call = k:start(table.unpack(args, 1, args.n))
              local p = { call = call, ev = e, at = hi or at, sat = shi or sat, blocking = tm.blocking,
                lag_lo = lag, lag_hi = lag }
              if tm.blocking then
                pending[#pending + 1] = p
                grace = 2 * latency
              else
                set_lag(math.max(lag, finish_call(p) - sat))
              end
            end
          end
        end
      end
      settle(nil)
      unexpected(base, last_line)
    end)
    if okr then
      result = { status = "passed" }
    elseif type(err) == "table" and err.pkt then
      result = { status = err.status, line = err.line, message = err.message }
    else
      result = { status = "failed", line = last_line, message = tostring(err) }
    end
    result.seconds = now()
    if #env.notes > 0 then result.notes = env.notes end
  end)
  if result.status == "failed" then
    local lines = k:trace():lines()
    local first = math.max(2, #lines - 14)
    local out = { lines[1] }
    for i = first, #lines do out[#out + 1] = lines[i] end
    result.trace = table.concat(out, "\n")
  end
  k:stop()
  net:close()
  return result
end

--- Parses and runs a .pkt file (see run.events); a script that does not
-- parse fails, its error naming file, line and column.
-- @tparam string path
-- @tparam[opt] table opts as run.events'
-- @treturn table the result
function run.file(path, opts)
  local events, err = pkt.parse_file(path)
  if not events then
    return { status = "failed", line = tonumber(tostring(err):match(":(%d+):%d+:")) or 0, message = err, seconds = 0 }
  end
  opts = opts or {}
  opts.name = path
  return run.events(events, opts)
end

-- The converter: synfin --pkt FILE --to-lua

-- a Lua value as Lua source
local function lua_value(v, names)
  if names and names[v] then return names[v] end
  if type(v) == "string" then return ("%q"):format(v) end
  if math.type(v) == "float" then return ("%.6g"):format(v) end
  if type(v) ~= "table" then return tostring(v) end
  local keys, out = {}, {}
  for key in pairs(v) do keys[#keys + 1] = key end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, key in ipairs(keys) do
    local k = type(key) == "string" and key:match("^[%a_][%w_]*$") and key or "[" .. lua_value(key) .. "]"
    out[#out + 1] = ("%s = %s"):format(k, lua_value(v[key]))
  end
  return "{ " .. table.concat(out, ", ") .. " }"
end

-- the fields of run.inbound_fields as Lua source (the generated script's
-- locals: KERNEL, rport, kport, risn, kisn, last_ts)
local function fields_lua(fields)
  local out = {}
  for _, x in ipairs(fields) do
    local v
    if x.var then
      v = x.var == "kernel" and "KERNEL" or x.var
      if x.default ~= nil then v = ("%s or %s"):format(v, lua_value(x.default)) end
    elseif x.rel then
      v = ("rel(%s, %d)"):format(x.rel, x.n)
    elseif x.rep then
      v = ('("x"):rep(%d)'):format(x.rep)
    elseif x.blocks then
      local b = {}
      for i, blk in ipairs(x.blocks) do b[i] = ("{ rel(kisn, %d), rel(kisn, %d) }"):format(blk[1], blk[2]) end
      v = "{ " .. table.concat(b, ", ") .. " }"
    else
      v = lua_value(x[2])
    end
    out[#out + 1] = ("%s = %s"):format(x[1], v)
  end
  return "{ " .. table.concat(out, ", ") .. " }"
end

-- the pattern of a `>` line, for net:expect (the runner's compare, as a
-- pattern: exact flags, relative seq and ack, the options as written)
local function expect_lua(e)
  local p = { ("flags = %q"):format("=" .. synfin_flags(e.flags)), ("seq = %d"):format(e.seq),
    ("len = %d"):format(e.len) }
  if e.ack then p[#p + 1] = ("ack = %d"):format(e.ack) end
  if e.win then p[#p + 1] = ("win = %d"):format(e.win) end
  if e.options ~= "any" then
    local o = {}
    for _, x in ipairs(e.options or {}) do
      if x.kind == "mss" or x.kind == "wscale" then
        o[#o + 1] = ("%s = %d"):format(x.kind, x.value)
      elseif x.kind == "sackOK" then
        o[#o + 1] = "sack_perm = true"
      elseif x.kind == "TS" then
        o[#o + 1] = "ts = true"
      elseif x.kind == "sack" then
        local b = {}
        for i, blk in ipairs(x.blocks) do b[i] = ("{ %d, %d }"):format(blk[1], blk[2]) end
        o[#o + 1] = "sack = { " .. table.concat(b, ", ") .. " }"
      end
    end
    p[#p + 1] = #o == 0 and "where = options {}" or "where = options { " .. table.concat(o, ", ") .. " }"
  end
  return "{ from = host, since = m0, " .. table.concat(p, ", ") .. " }"
end

local HEADER = [[
-- %s as a synfin scenario, written by synfin --pkt %s --to-lua --target %s.
-- Each .pkt event is one statement, after a comment with its line; an error
-- names the .pkt line. The kernel is %s, the remote end %s.
local synfin = require "synfin"
local kernel = require "synfin.kernel"

local SCRIPT = %q
local KERNEL, REMOTE, PORT = %q, %q, %d
local TOLERANCE = %s -- seconds, either side of an event's time
local TWO32 = 1 << 32

%s
local peer = net:peer(REMOTE, { name = "remote" })
local k = %s

-- The .pkt's numbers are relative: the remote end's ISN is risn, the
-- kernel's (kisn) is learnt from its SYN or SYN-ACK; the TS value to echo
-- (last_ts) from its last segment. A passive open's remote port is rport;
-- an active open learns both ports from the kernel's SYN.
local risn, kisn, last_ts = %d, 0, nil
local kport, rport = PORT, %d
local function rel(isn, n) return (isn + n) %% TWO32 end
-- the script's file descriptors: fd[n] is the one socket() or accept()
-- gave for the script's n (packetdrill maps them so)
local fd = setmetatable({}, { __index = function(_, n) return n end })

-- a pattern's where: the segment has exactly these options
local function options(want)
  return function(r)
    if r.mss ~= want.mss or r.wscale ~= want.wscale or (r.sack_perm ~= nil) ~= (want.sack_perm ~= nil)
        or (r.ts ~= nil) ~= (want.ts ~= nil) or (r.abs_sack ~= nil) ~= (want.sack ~= nil) then
      return false
    end
    for i, b in ipairs(want.sack or {}) do
      local got = r.abs_sack[i]
      if not got or rel(got[1], -risn) ~= b[1] or rel(got[2], -risn) ~= b[2] then return false end
    end
    return #(want.sack or {}) == #(r.abs_sack or {})
  end
end

local line = 0 -- the .pkt line running
local ok, err = pcall(net.run, net, function()
  local m0, t0 = net:mark(), net:now()
  -- how late the schedule runs: what follows a packet from the kernel (or
  -- a call's return) is timed from when it came
  local lag = 0
  local taken = {}
  local function now() return net:now() - t0 end
  -- fails on a segment from the kernel that no line expected, sent more
  -- than the tolerance before t
  local function unexpected(t)
    for i = m0.index, #net:records() do
      local r = net.recs[i]
      assert(not (r.kind == "seg" and synfin.on_wire(r) and r.from == host.index and not taken[i]
        and r.time - t0 < t - TOLERANCE), ("unexpected packet from the kernel at t=%%.3f s"):format(r.time - t0))
    end
  end
  -- the event of .pkt line n, due at the script's time t: sleeps until then
  local function at(n, t)
    line = n
    local due = t + lag
    if due > now() then net:sleep(due - now()) end
    unexpected(due)
  end
  -- how long to wait for the kernel's segment due at t (or by hi)
  local function by(t, hi) return math.max(0, (hi or t) + lag + TOLERANCE - now()) + 1 end
  -- the kernel's segment r came, due at t (or between t and hi; any time:
  -- t nil): checks when, learns its ISN, ports and TS value
  local function came(r, t, hi)
    taken[r.index] = true
    if r.flags:find("S", 1, true) then
      kisn = rel(r.abs_seq, -r.seq)
      if not r.flags:find("A", 1, true) then kport, rport = r.sport, r.dport end
    end
    if r.ts then last_ts = r.ts_val end
    if t then
      local got = r.time - t0
      assert(got >= t + lag - TOLERANCE and got <= (hi or t) + lag + TOLERANCE,
        ("the segment came at t=%%.3f s: the script says t=%%.3f s (+/- %%.3f s)"):format(got, t + lag, TOLERANCE))
      lag = got - t
    end
  end
  -- the call c (of .pkt line n, due at t; blocking: it may return by t)
  -- returned as want says: ret, errno, revents, value
  local function returns(n, c, want)
    line = n
    c:wait(math.max(0.05, want.t + lag - now()) + TOLERANCE + 1)
    if want.new_fd and c.ret >= 0 then fd[want.new_fd], want.ret = c.ret, c.ret end
    assert(want.ret == nil or c.ret == want.ret, ("%%s returned %%d %%s, the script says %%d %%s"):format(c.shown,
      c.ret, c.errno or "", want.ret or 0, want.errno or ""))
    assert(c.errno == want.errno, ("%%s failed with %%s, the script says %%s"):format(c.shown, tostring(c.errno),
      tostring(want.errno)))
    if want.revents and c.ret >= 0 then
      local function set(s)
        local w = {}
        for x in tostring(s):gmatch("[%%w_]+") do if x ~= "0" then w[#w + 1] = x end end
        table.sort(w)
        return table.concat(w, "|")
      end
      assert(set(c.revents) == set(want.revents), ("%%s: revents %%s, the script says %%s"):format(c.shown,
        c.revents, want.revents))
    end
    if want.value ~= nil and c.ret >= 0 then
      assert(c.value == want.value, ("%%s gave %%s, the script says %%s"):format(c.shown, tostring(c.value),
        tostring(want.value)))
    end
    local returned = c.returned - t0
    if want.blocking then
      assert(math.abs(returned - (want.t + lag)) <= TOLERANCE, ("%%s returned at t=%%.3f s: the script says"
        .. " t=%%.3f s (+/- %%.3f s)"):format(c.shown, returned, want.t + lag, TOLERANCE))
    else
      assert(c.blocked <= TOLERANCE, ("%%s blocked for %%.3f s: the script says it returns at once"):format(c.shown,
        c.blocked))
    end
    lag = math.max(lag, returned - want.t)
  end
  local r -- the kernel's segment last expected
]]

local FOOTER = [[
  unexpected(%s)
end)
k:stop()
net:close()
if not ok then error(("%%s:%%d: %%s"):format(SCRIPT, line, tostring(err)), 0) end
print(SCRIPT .. ": passed")
]]

--- Writes parsed events as a synfin Lua scenario that runs them as the
-- runner does (its numbers from run.inbound_fields, its timing rule).
-- opts: target ("sim" or "tun"), name (the script's path), rport.
-- @tparam table events from synfin.pkt.parse
-- @tparam[opt] table opts
-- @treturn string the Lua source; or nil and the result (unsupported)
function run.to_lua(events, opts)
  opts = opts or {}
  local tol, env, calls = prepare(events, opts)
  if not tol then return nil, env end
  local target = opts.target or "sim"
  local name = opts.name or "script.pkt"
  local netsrc, ksrc
  if target == "sim" then
    netsrc = ("local net = synfin.sim { latency = 0 }\nlocal host = net:host(KERNEL, %s)"):format(lua_value(env.host))
    ksrc = "kernel.sim(net, host)"
  else
    netsrc = ("local net = synfin.tun { kernel = KERNEL,%s tolerance = { abs = TOLERANCE, pct = 0 } }\n"):format(
      env.mtu and (" mtu = %d,"):format(env.mtu) or "") .. "local host = net.kernel"
    -- the sysctls once the agent has shown the namespace is the test's own
    ksrc = ("kernel.agent(net)\nrequire(\"synfin.pkt_run\").write_sysctls(%s)"):format(lua_value(env.sysctls))
  end
  local src = {}
  local text = {}
  if opts.text then
    local i = 0
    for l in (opts.text .. "\n"):gmatch("([^\n]*)\n") do
      i = i + 1
      text[i] = l
    end
  end
  src[1] = HEADER:format(name, name, target, env.kernel, env.remote, name, env.kernel, env.remote, PORT,
    lua_value(tol), netsrc, ksrc, REMOTE_ISN, opts.rport or 40000)
  local names = { [env.kernel] = "KERNEL", [env.remote] = "REMOTE", [PORT] = "PORT" }
  local function emit(s) src[#src + 1] = "  " .. s .. "\n" end
  local pending = {}
  local base = 0
  local function want_lua(e, c, t, blocking)
    local w = { ("t = %s"):format(lua_value(t)) }
    if (c.args[1] == "socket" or c.args[1] == "accept") and math.type(e.ret) == "integer" and e.ret >= 0 then
      w[#w + 1] = ("new_fd = %d"):format(e.ret) -- the script's number for the descriptor it makes
    elseif type(e.ret) == "number" then
      w[#w + 1] = ("ret = %d"):format(e.ret)
    end
    if e.errno then w[#w + 1] = ("errno = %q"):format(e.errno) end
    if c.revents then w[#w + 1] = ("revents = %q"):format(c.revents) end
    if c.value ~= nil and not (type(c.value) == "table" and c.value.t == "ellipsis") then
      w[#w + 1] = ("value = %s"):format(lua_value(ident(c.value) or c.value))
    end
    if blocking then w[#w + 1] = "blocking = true" end
    return "{ " .. table.concat(w, ", ") .. " }"
  end
  local function settle(t)
    for i = #pending, 1, -1 do
      local p = pending[i]
      if t == nil or p.sat < t - 1e-9 then
        table.remove(pending, i)
        emit(("-- line %d's call returns"):format(p.e.line))
        emit(("returns(%d, call%d, %s)"):format(p.e.line, p.e.line, want_lua(p.e, calls[p.e], p.sat, true)))
      end
    end
  end
  for _, e in ipairs(events) do
    if e.kind ~= "option" then
      local tm = e.time
      local sat, shi
      if tm.kind == "any" then
        sat = base
      else
        sat = tm.kind == "rel" and base + tm.t or tm.t
        if tm.hi then shi = range_end(tm, base) end
      end
      src[#src + 1] = "\n"
      emit(("-- %d: %s"):format(e.line, (text[e.line] or ""):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")))
      if sat < base - 1e-9 then
        emit(("line = %d"):format(e.line))
        emit(("error(%q)"):format(("time goes backwards: t=%g s after t=%g s"):format(sat, base)))
      end
      base = sat
      settle(sat)
      if e.kind == "packet" and e.dir == ">" then
        emit(("line = %d"):format(e.line))
        emit(("r = net:expect(%s, by(%s%s))"):format(expect_lua(e), lua_value(sat), shi and ", " .. lua_value(shi) or ""))
        emit(("came(r%s)"):format(tm.kind == "any" and "" or ", " .. lua_value(sat) .. (shi and ", " .. lua_value(shi) or "")))
      else
        emit(("at(%d, %s)"):format(e.line, lua_value(sat)))
        if e.kind == "shell" then
          emit("-- (its sysctls are the host's settings, above)")
        elseif e.kind == "packet" then
          emit(("peer:send %s"):format(fields_lua(run.inbound_fields(e))))
        else
          local c = calls[e]
          local args = {}
          for i, a in ipairs(c.args) do args[i] = lua_value(a, names) end
          if c.args[1] ~= "socket" then args[2] = ("fd[%s]"):format(args[2]) end
          if tm.blocking then
            emit(("local call%d = k:start(%s)"):format(e.line, table.concat(args, ", ")))
            pending[#pending + 1] = { e = e, sat = shi or sat }
          else
            emit(("returns(%d, k:start(%s), %s)"):format(e.line, table.concat(args, ", "), want_lua(e, c, sat)))
          end
        end
      end
    end
  end
  settle(nil)
  src[#src + 1] = "\n  -- the end: nothing more from the kernel\n"
  src[#src + 1] = FOOTER:format(lua_value(base))
  return table.concat(src)
end

-- The command line: synfin --pkt

local USAGE = [[
usage: synfin --pkt SCRIPT.pkt [--target tun|sim] [--profile linux|freebsd|rfc]
                               [--tolerance_usecs N] [--lenient-sysctls]
                               [--ip_version ipv4|ipv6|ipv4-mapped-ipv6]
       synfin --pkt DIR [-j N] [--junit FILE] [same options as for a script]
                        [--known-differences FILE]
       synfin --pkt SCRIPT.pkt --to-lua [--target sim|tun] [-o OUT.lua]
Runs packetdrill scripts against the Linux kernel over TUN (in a network
namespace of its own: spec/netns/run CMD, or unshare -Urn), or with
--target sim against a synfin host in the sim, in virtual time (its
socket calls made through synfin.kernel's facade, kernel.sim). A script
passes, fails (its line, the first mismatch) or is unsupported (which
construct): exit 0, 1 or 2. --profile (the sim only) is the synfin host's
stack profile; a script's sysctls (`sysctl -q ...` shell lines, its
defaults.sh) are set over it where synfin has the setting, and make the
script unsupported where it has none (--lenient-sysctls: run it all the
same where synfin only lacks the behaviour, naming the sysctls in its
result). --ip_version is packetdrill's: the family of the wire and the
sockets, for scripts that do not name theirs (ipv4 by default;
ipv4-mapped-ipv6 over TUN only). With a directory, every .pkt under it runs, N at
a time, one line each with the script's own time and the wall time; exit 1
if any failed. With --known-differences (the sim only: a file of lines
"NAME.pkt reason"), the scripts listed must fail and the others pass: exit 1
if the list is not true. With --to-lua, the script is not run but written
as a synfin Lua scenario that runs it the runner's way (to OUT.lua, or
the standard output); an unsupported construct: nothing written, exit 2.]]

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function wall()
  local p = io.popen("date +%s.%N")
  local t = p and tonumber(p:read("l"))
  if p then p:close() end
  return t or os.time()
end

local function xml(s)
  return (tostring(s):gsub("[<>&\"]", { ["<"] = "&lt;", [">"] = "&gt;", ["&"] = "&amp;", ['"'] = "&quot;" })
    :gsub("[%z\1-\8\11\12\14-\31]", "?"))
end

-- one line for a result: the script's own duration (on its clock:
-- virtual on the sim) beside the wall time it took
local function summary_line(path, r)
  local s = ("%-11s %s"):format(r.shown_status or r.status, path)
  if r.status ~= "passed" then s = s .. (":%s: %s"):format(tostring(r.line or 0), (tostring(r.message):gsub("\n.*", ""))) end
  if r.notes and #r.notes > 0 then s = s .. "  [unmodelled: " .. table.concat(r.notes, ", ") .. "]" end
  return s .. ("  (script %.3f s, wall %.3f s)"):format(r.seconds or 0, r.wall or 0)
end

-- A list of the scripts known to differ (on the sim, from the kernel):
-- one a line, the script's file name then the reason; # begins a comment.
-- Returns name -> reason, or nil and a message.
local function read_known(path)
  local f, err = io.open(path)
  if not f then return nil, err end
  local known = {}
  for line in f:lines() do
    local name, why = line:match("^%s*([^%s#]+)%s*(.-)%s*$")
    if name then known[name] = why ~= "" and why or "(no reason given)" end
  end
  f:close()
  return known
end

local function write_result(path, r)
  local f = assert(io.open(path, "w"))
  f:write(("return { status = %q, line = %d, message = %q, seconds = %.6f, sim_wall = %.6f, notes = %s }\n"):format(
    r.status, r.line or 0, tostring(r.message or ""), r.seconds or 0, r.wall or 0, lua_value(r.notes or {})))
  f:close()
end

local function read_result(path)
  local f = io.open(path)
  if not f then return nil end
  local chunk = load(f:read("a"), "=result", "t", {})
  f:close()
  local ok, r = pcall(chunk or error)
  return ok and type(r) == "table" and r or nil
end

local function junit(path, results, total)
  local f, err = io.open(path, "w")
  if not f then return nil, err end
  local fails, skips = 0, 0
  for _, r in ipairs(results) do
    if r.status == "failed" then fails = fails + 1 elseif r.status ~= "passed" then skips = skips + 1 end
  end
  f:write('<?xml version="1.0" encoding="UTF-8"?>\n')
  f:write(('<testsuite name="pkt" tests="%d" failures="%d" skipped="%d" time="%.3f">\n'):format(#results, fails,
    skips, total))
  for _, r in ipairs(results) do
    f:write(('  <testcase classname="pkt" name="%s" time="%.3f">'):format(xml(r.path), r.wall or 0))
    if r.status == "failed" then
      f:write(('<failure message="%s">%s</failure>'):format(xml(("line %s: %s"):format(r.line, r.message)),
        xml(r.output or r.message)))
    elseif r.status ~= "passed" then
      f:write(('<skipped message="%s"/>'):format(xml(("unsupported, line %s: %s"):format(r.line, r.message))))
    end
    f:write("</testcase>\n")
  end
  f:write("</testsuite>\n")
  f:close()
  return true
end

-- Runs every .pkt under dir, jobs at a time, each in a process of its own
-- (this program with --pkt FILE), on a subnet of its own.
local function corpus(dir, o)
  local p = io.popen("find " .. shell_quote(dir) .. " -name '*.pkt' -type f | sort")
  local files = {}
  for line in p:lines() do files[#files + 1] = line end
  p:close()
  if #files == 0 then
    io.stderr:write(("synfin --pkt: no .pkt file under %s\n"):format(dir))
    return 1
  end
  local exe = o.exe
  -- a directory of its own, made at once (mktemp -d): os.tmpname's file,
  -- removed and made again as a directory by mkdir -p (which takes one that
  -- exists), left the name free in between, to another run at the same time
  local mk = io.popen('mktemp -d "${TMPDIR:-/tmp}/synfin-pkt.XXXXXX"')
  local tmp = mk and mk:read("l")
  if mk then mk:close() end
  if not tmp or tmp == "" then
    io.stderr:write("synfin --pkt: cannot make a temporary directory\n")
    return 2
  end
  local known
  if o.known_differences then
    local err
    known, err = read_known(o.known_differences)
    if not known then
      io.stderr:write("synfin --pkt: --known-differences: " .. tostring(err) .. "\n")
      return 2
    end
  end
  -- with a list of known differences: a listed script must not pass (the
  -- list would lie), an unlisted one must
  local wrong = {}
  local function check_known(path, r)
    if not known then return end
    local name = path:match("[^/]*$")
    if known[name] then
      if r.status == "passed" then
        r.shown_status = "PASSES"
        wrong[#wrong + 1] = ("%s passes, but %s lists it as a difference (%s): take it off the list"):format(name,
          o.known_differences, known[name])
      else
        r.shown_status = "differs"
      end
      known[name] = nil
    elseif r.status ~= "passed" then
      wrong[#wrong + 1] = ("%s %s, and %s does not list it"):format(name, r.status, o.known_differences)
    end
  end
  local started, results, running, next_i = wall(), {}, {}, 1
  local limit = o.timeout or 300
  local deadline = started + limit * #files + 60
  while (next_i <= #files or next(running)) and wall() < deadline do
    while next_i <= #files do
      local n = 0
      for _ in pairs(running) do n = n + 1 end
      if n >= o.jobs then break end
      local i = next_i
      next_i = next_i + 1
      local base = ("%s/%d"):format(tmp, i)
      local cmd = ("timeout %d %s --pkt %s --target %s --subnet %d --result %s"):format(limit, shell_quote(exe),
        shell_quote(files[i]), o.target, i % 250 + 1, shell_quote(base .. ".result"))
      if o.tolerance_usecs then cmd = cmd .. " --tolerance_usecs " .. o.tolerance_usecs end
      if o.ip_version then cmd = cmd .. " --ip_version " .. o.ip_version end
      if o.profile then cmd = cmd .. " --profile " .. o.profile end
      if o.lenient_sysctls then cmd = cmd .. " --lenient-sysctls" end
      os.execute(("(%s >%s 2>&1; echo $? >%s) &"):format(cmd, shell_quote(base .. ".out"), shell_quote(base .. ".rc")))
      running[i] = { t0 = wall(), base = base }
    end
    os.execute("sleep 0.05")
    for i, job in pairs(running) do
      local f = io.open(job.base .. ".rc")
      local rc = f and tonumber(f:read("l"))
      if f then f:close() end
      if rc then
        running[i] = nil
        local r = read_result(job.base .. ".result")
          or { status = "failed", line = 0, message = ("exited %d without a result"):format(rc) }
        local of = io.open(job.base .. ".out")
        r.output = of and of:read("a") or ""
        if of then of:close() end
        r.path, r.wall = files[i], wall() - job.t0
        if r.sim_wall then r.wall = r.sim_wall end
        check_known(files[i], r)
        results[i] = r
        print(summary_line(files[i], r))
        io.stdout:flush()
      end
    end
  end
  local counts = { passed = 0, failed = 0, unsupported = 0 }
  for i = 1, #files do
    if not results[i] then
      results[i] = { status = "failed", line = 0, message = "did not finish in time", path = files[i], wall = 0 }
      check_known(files[i], results[i])
      print(summary_line(files[i], results[i]))
    end
    counts[results[i].status] = (counts[results[i].status] or 0) + 1
  end
  local total = wall() - started
  for _, r in ipairs(results) do
    if r.status == "failed" and r.output ~= "" and r.shown_status ~= "differs" then
      io.write(("\n== %s\n%s"):format(r.path, r.output))
    end
  end
  local scripted, walls = 0, 0
  for _, r in ipairs(results) do
    scripted, walls = scripted + (r.seconds or 0), walls + (r.wall or 0)
  end
  print(("\n%d scripts on the %s: %d passed, %d failed, %d unsupported, in %.2f s (-j %d); the scripts' own"
    .. " time %.2f s, their runs' wall time %.2f s"):format(#files, o.target == "sim" and "sim" or "kernel",
    counts.passed, counts.failed, counts.unsupported, total, o.jobs, scripted, walls))
  if known then
    for name, why in pairs(known) do
      wrong[#wrong + 1] = ("%s is listed in %s (%s), but there is no such script"):format(name, o.known_differences, why)
    end
    if #wrong > 0 then
      print(("\nthe list of known differences (%s) is not true:\n  %s"):format(o.known_differences,
        table.concat(wrong, "\n  ")))
      return 1
    end
    print(("every script passes but the %d listed in %s, which differ as listed"):format(
      counts.failed + counts.unsupported, o.known_differences))
    return 0
  end
  os.execute("rm -rf " .. shell_quote(tmp))
  if o.junit then
    local ok, err = junit(o.junit, results, total)
    if not ok then
      io.stderr:write("synfin --pkt: --junit: " .. tostring(err) .. "\n")
      return 1
    end
  end
  return counts.failed > 0 and 1 or 0
end

-- synfin --pkt FILE --to-lua [--target sim|tun] [-o OUT.lua]
local function to_lua_main(o)
  local f, ferr = io.open(o.path)
  if not f then
    io.stderr:write(("synfin --pkt: %s\n"):format(ferr))
    return 2
  end
  local text = f:read("a")
  f:close()
  local events, err = pkt.parse(text, o.path)
  if not events then
    io.stderr:write(tostring(err) .. "\n")
    return 1
  end
  local src, r = run.to_lua(events, { target = o.target, name = o.path, text = text, subnet = o.subnet,
    ip_version = o.ip_version,
    profile = o.profile, lenient_sysctls = o.lenient_sysctls,
    tolerance = o.tolerance_usecs and o.tolerance_usecs / 1e6, tolerance_from_cli = o.tolerance_usecs ~= nil })
  if not src then
    io.stderr:write(summary_line(o.path, r) .. "\n")
    return r.status == "failed" and 1 or 2
  end
  if o.out then
    local out, oerr = io.open(o.out, "w")
    if not out then
      io.stderr:write(("synfin --pkt: -o: %s\n"):format(oerr))
      return 2
    end
    out:write(src)
    out:close()
  else
    io.write(src)
  end
  return 0
end

--- The CLI's `synfin --pkt ...`: args as the command line gives them
-- (after the program's name). Returns the exit code.
-- @tparam table args
-- @treturn integer 0 passed, 1 failed, 2 unsupported (or a usage error)
function run.main(args)
  local o = { jobs = 1, target = "tun" }
  for _, a in ipairs(args) do
    if a == "-h" or a == "--help" then
      print(USAGE)
      return 0
    end
  end
  local i = 1
  local function value(name)
    i = i + 1
    if args[i] == nil then
      io.stderr:write(("synfin: %s needs a value\n%s\n"):format(name, USAGE))
      return nil
    end
    return args[i]
  end
  while i <= #args do
    local a = args[i]
    if a == "--pkt" then
      o.path = value(a)
      if not o.path then return 2 end
    elseif a == "--target" then
      o.target = value(a)
      if o.target ~= "tun" and o.target ~= "sim" then
        io.stderr:write("synfin: --target is tun or sim\n")
        return 2
      end
    elseif a == "--tolerance_usecs" or a == "-j" or a == "--subnet" then
      local v = math.tointeger(tonumber(value(a)))
      if not v or v < 0 then
        io.stderr:write(("synfin: %s needs a whole number\n"):format(a))
        return 2
      end
      if a == "-j" then o.jobs = math.max(1, v) elseif a == "--subnet" then o.subnet = v else o.tolerance_usecs = v end
    elseif a == "--ip_version" or a:match("^%-%-ip_version=") then
      o.ip_version = a:match("^%-%-ip_version=(.*)$") or value(a)
      if not run.FAMILIES[o.ip_version or ""] then
        io.stderr:write("synfin: --ip_version is ipv4, ipv6 or ipv4-mapped-ipv6\n")
        return 2
      end
    elseif a == "--to-lua" then
      o.to_lua = true
    elseif a == "--lenient-sysctls" then
      o.lenient_sysctls = true
    elseif a == "--profile" then
      o.profile = value(a)
      if o.profile ~= "linux" and o.profile ~= "freebsd" and o.profile ~= "rfc" then
        io.stderr:write("synfin: --profile is linux, freebsd or rfc\n")
        return 2
      end
    elseif a == "--junit" or a == "--result" or a == "--known-differences" or a == "-o" then
      local v = value(a)
      if not v then return 2 end
      o[a == "-o" and "out" or a:sub(3):gsub("-", "_")] = v
    else
      io.stderr:write(("synfin --pkt: unknown argument %s\n%s\n"):format(a, USAGE))
      return 2
    end
    i = i + 1
  end
  if not o.path then
    io.stderr:write(USAGE .. "\n")
    return 2
  end
  if o.profile and o.target ~= "sim" then
    io.stderr:write("synfin --pkt: --profile is for --target sim (over TUN the kernel is under test)\n")
    return 2
  end
  if o.known_differences and o.target ~= "sim" then
    io.stderr:write("synfin --pkt: --known-differences is for --target sim\n")
    return 2
  end
  if o.to_lua then return to_lua_main(o) end
  local p = io.popen("test -d " .. shell_quote(o.path) .. " && echo dir")
  local is_dir = p:read("l") == "dir"
  p:close()
  if is_dir then
    local exe = io.popen("readlink /proc/$PPID/exe")
    o.exe = exe:read("l")
    exe:close()
    return corpus(o.path, o)
  end
  local t0 = wall()
  local r = run.file(o.path, { tolerance = o.tolerance_usecs and o.tolerance_usecs / 1e6,
    tolerance_from_cli = o.tolerance_usecs ~= nil, subnet = o.subnet, target = o.target, profile = o.profile,
    lenient_sysctls = o.lenient_sysctls, ip_version = o.ip_version })
  r.wall = wall() - t0
  print(summary_line(o.path, r))
  if r.status == "failed" then
    print((tostring(r.message):match("\n(.*)$") or ""))
    if r.trace then print(r.trace) end
  end
  if o.result then write_result(o.result, r) end
  return r.status == "passed" and 0 or r.status == "failed" and 1 or 2
end

return run
