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

-- The key of one direction of a connection, for its ISN.
-- The ISN of a direction seen on the wire so far, or nil (a bad address or
-- port too: inject reports those, with their names).
local function isn_of(net, src, sport, dst, dport)
  local ok, isn = pcall(net.sim.isn, net.sim, src, sport, dst, dport)
  return ok and isn or nil
end


--- Hosts (continued).
-- @type Host

local NO_OPTS = {} -- (read only)

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

local endpoint, family = util.endpoint, util.family

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
  local s, rest = NO_OPTS, nil -- (no options: the host's settings, nothing to check or split)
  if opts ~= nil then
    opts = check_opts(opts, setmetatable({ sport = true, laddr = true }, { __index = SETTINGS }), 3, "connect")
    s, rest = split(opts, { sport = true, laddr = true })
  end
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

Host.__tostring = function(h)
  return ("<%s %s%s>"):format(h.peer and "peer" or "host", h.addr, h.name and (" " .. h.name) or "")
end

return Host
