--- synfin.host: hosts (net:host, with synfin's TCP) and bare peers
-- (net:peer): opening connections (listen, connect), crafted segments
-- (host:send, host:inject, host:send_icmp), and the host's connections.
-- Its hooks are in hooks.lua.
-- @module synfin
local core = require "synfin.core"
local types = require "synfin.types"
local segment = require "synfin.segment"
local util = require "synfin.util"
local where, raise, argerror, shown, split = util.where, util.raise, util.argerror, util.shown, util.split
local check_opts, TWO32 = util.check_opts, util.TWO32
local SEG_FIELDS, strip_options, check_seq_fields = segment.SEG_FIELDS, segment.strip_options, segment.check_seq_fields
local crafted, seg_field_names = segment.crafted, segment.seg_field_names
local Net, Host = types.Net, types.Host

-- The names of the host settings (core/settings.c describes each one:
-- synfin.core.settings()).
local SETTINGS = {}
for _, setting in ipairs(core.settings()) do SETTINGS[setting.name] = true end

------------------------------------------------------------------------------
-- Hosts: a host running synfin's TCP (net:host), or a bare peer with no TCP
-- (net:peer; its peer field is true). Fields: net, index (in net.hosts),
-- addr, name.
-- @type Host
------------------------------------------------------------------------------

--- The net (continued).
-- @type Net

local function new_host(net, addr, settings, fname)
  local idx, err = net.sim:add_host(addr, settings)
  if not idx then argerror(1, fname, ("%s: %s"):format(addr, err)) end
  return idx
end

--- A host running synfin's TCP at addr. settings: name, msl, rto, `rto_min`,
-- `rto_max`, retries, `syn_retries`, `rcv_buf`, `snd_buf`, mss, isn (a fixed ISN),
-- secret (ISN key), backlog. Times in seconds.
-- The README lists every setting (timers, buffers, policies).
-- @tparam string addr an IPv4 address, "192.0.2.1"
-- @tparam[opt] table settings the host's settings
-- @treturn Host
function Net:host(addr, settings)
  if type(addr) ~= "string" then argerror(1, "host", "an IPv4 address string expected") end
  settings = check_opts(settings, setmetatable({ name = true }, { __index = SETTINGS }), 2, "host")
  local named, rest = split(settings, { name = true })
  local idx = new_host(self, addr, rest, "host")
  local h = setmetatable({ net = self, index = idx, addr = addr, name = named.name }, Host)
  self.hosts[idx], self.by_addr[addr] = h, h
  return h
end

--- A bare peer at addr: it has no TCP. What reaches it is only recorded; what
-- it sends, a script crafts with peer:send{...}. The scripted side of tests.
-- @tparam string addr an IPv4 address
-- @tparam[opt] table opts name
-- @treturn Host a host whose peer field is true
function Net:peer(addr, opts)
  if type(addr) ~= "string" then argerror(1, "peer", "an IPv4 address string expected") end
  opts = check_opts(opts, { name = true }, 2, "peer")
  local idx = new_host(self, addr, false, "peer")
  local h = setmetatable({ net = self, index = idx, addr = addr, name = opts.name, peer = true }, Host)
  self.hosts[idx], self.by_addr[addr] = h, h
  return h
end

-- The key of one direction of a connection, for its ISN.
-- The ISN of a direction seen on the wire so far, or nil (a bad address or
-- port too: inject reports those, with their names).
local function isn_of(net, src, sport, dst, dport)
  local ok, isn = pcall(net.sim.isn, net.sim, src, sport, dst, dport)
  return ok and isn or nil
end


--- Hosts (continued).
-- @type Host

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

--- Active OPEN to addr:port. opts: sport (local port), plus any host setting.
-- Returns the connection (in `SYN_SENT`). A failure raises at the script's
-- line, saying why ("synfin: cannot connect 192.0.2.1:40000 to
-- 192.0.2.2:80: connection already exists (it is ESTABLISHED)"), as
-- host:listen's does.
-- @tparam string addr the peer's address
-- @tparam integer port the peer's port
-- @tparam[opt] table opts sport, and host settings
-- @treturn Conn the connection
function Host:connect(addr, port, opts)
  check_host_stack(self, "connect")
  if type(addr) ~= "string" then argerror(1, "connect", "address string expected, got " .. shown(addr)) end
  if math.type(port) ~= "integer" then argerror(2, "connect", "port number expected, got " .. shown(port)) end
  opts = check_opts(opts, setmetatable({ sport = true }, { __index = SETTINGS }), 3, "connect")
  local s, rest = split(opts, { sport = true })
  local c, err, code = self.net.sim:connect(self.index, addr, port, s.sport, rest)
  if c then return c end
  local why = ""
  if code == -3 then -- SF_EEXIST
    for _, r in ipairs(self:connections()) do
      if r.lport == s.sport and r.raddr == addr and r.rport == port then why = (" (it is %s)"):format(r.state) end
    end
  elseif code == -9 then -- SF_EADDRINUSE
    why = s.sport and (" (port %d of %s is taken)"):format(s.sport, self.addr)
      or " (no ephemeral port is free, 49152..65535)"
  elseif code == -1 then -- SF_EINVAL
    why = (" (%s:%d is no place a connection can go: a broadcast, multicast or reserved address, or port 0;"
      .. " RFC 9293 §3.9.1.1, MUST-46)"):format(addr, port)
  end
  raise(("synfin: cannot connect %s%s to %s:%d: %s%s"):format(self.addr, s.sport and (":" .. s.sport) or "",
    addr, port, err, why))
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
      if h ~= self then dst = h.addr; break end
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
      error(("%ssynfin: segment field '%s' must be an IPv4 address such as \"192.0.2.1\", got %s")
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
  if dir == "egress" then s.src = s.src or self.addr else s.dst = s.dst or self.addr end
  if not s.dst then
    for _, h in ipairs(net.hosts) do
      if h ~= self then s.dst = h.addr; break end
    end
  end
  if not s.src then
    for _, h in ipairs(net.hosts) do
      if h ~= self then s.src = h.addr; break end
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
-- @tparam table opts about (the segment's record), type, code, mtu, src
-- @treturn boolean true
function Host:send_icmp(opts)
  if type(opts) ~= "table" or (type(opts.about) ~= "table" and type(opts.about) ~= "userdata") then
    argerror(1, "send_icmp", "a table with about = a segment record expected")
  end
  local seg = opts.about
  local ok, err = self.net.sim:inject_icmp(self.index, {
    type = opts.type or 3, code = opts.code or 0, mtu = opts.mtu, src = opts.src, dst = seg.src,
    q_src = seg.src, q_dst = seg.dst, q_sport = seg.sport, q_dport = seg.dport,
    q_seq = seg.abs_seq or seg.seq,
  })
  if not ok then error(where() .. "send_icmp: " .. tostring(err), 0) end
  return true
end

Host.__tostring = function(h)
  return ("<%s %s%s>"):format(h.peer and "peer" or "host", h.addr, h.name and (" " .. h.name) or "")
end

return Host
