--- synfin.facade: the kernel's socket calls, made on a synfin host in the
-- sim. `kernel.sim(net, host)` (synfin.kernel) returns an object with the
-- methods, arguments, return values and errno names of synfin.kernel's
-- Agent, implemented over the host's user calls (host:listen,
-- host:connect, c:send, c:read, c:close, c:abort, c:info, c:set), in
-- virtual time: a blocking call is a wait on the net's clock, and
-- `k:start(name, ...)` + `call:wait()` work as with the agent. So one
-- scenario runs against synfin in the sim or against the Linux kernel over
-- TUN, by changing the net (and the object that makes the calls):
--
--     local net = synfin.sim { latency = 0 }
--     local sut = net:host("10.73.0.1", { name = "synfin" })
--     local k = kernel.sim(net, sut)         -- kernel.agent(net) on synfin.tun
--     net:run(function()
--       local fd = assert(k:socket())
--       local ok, err, call = k:connect(fd, "10.73.0.2", 8080)
--     end)
--
-- Linux's semantics where RFC 9293 leaves room, since the scenarios are
-- Linux's: close() with unread data (or SO_LINGER 0) sends a RST, not a
-- FIN (RFC 1122 4.2.2.13, RFC 2525 §2.17); close() is the RFC's CLOSE plus
-- "nothing more will be read" (data that comes after it is answered with a
-- RST), shutdown(SHUT_WR) is the RFC's CLOSE alone (the half close); a
-- connection's error (ECONNREFUSED, ECONNRESET, ETIMEDOUT) is pending on the
-- socket until a call reports it once (SO_ERROR, read, write, connect),
-- after which read returns 0 and write EPIPE; non-blocking sockets say
-- EAGAIN, EINPROGRESS, EALREADY, EISCONN; poll's events are tcp_poll's;
-- listen(fd, n) holds n + 1 established connections, as Linux's accept
-- queue does; file descriptors are the lowest free from 3. Options synfin
-- has no equivalent for fail with ENOPROTOOPT, options it fixes when the
-- connection is made (SO_RCVBUF, TCP_MAXSEG) with EOPNOTSUPP once it is;
-- SO_SNDBUF and SO_RCVBUF keep (and getsockopt returns) Linux's doubled
-- value, SO_SNDBUF is synfin's snd_buf at any time; MSG_MORE fails with
-- EOPNOTSUPP. recv's MSG_PEEK copies without consuming (c:read's peek)
-- and blocks as a read does.
-- @module synfin.facade
-- @pragma nostrip
local util = require "synfin.util"

local facade = {}

local ERRTEXT = {
  EAGAIN = "Resource temporarily unavailable", EBADF = "Bad file descriptor", EINVAL = "Invalid argument",
  EINPROGRESS = "Operation now in progress", EALREADY = "Operation already in progress",
  EISCONN = "Transport endpoint is already connected", ENOTCONN = "Transport endpoint is not connected",
  ECONNREFUSED = "Connection refused", ECONNRESET = "Connection reset by peer",
  ETIMEDOUT = "Connection timed out", EPIPE = "Broken pipe", EADDRINUSE = "Address already in use",
  EADDRNOTAVAIL = "Cannot assign requested address", ENOPROTOOPT = "Protocol not available",
  EOPNOTSUPP = "Operation not supported", EHOSTUNREACH = "No route to host",
}

-- a synfin connection's error (c:info().error) as the errno Linux reports
local function errno_of(msg)
  if not msg then return nil end
  if msg:find("refused", 1, true) then return "ECONNREFUSED" end
  if msg:find("reset", 1, true) then return "ECONNRESET" end
  if msg:find("timed out", 1, true) then return "ETIMEDOUT" end
  if msg:find("unreach", 1, true) then return "EHOSTUNREACH" end
  return "ECONNABORTED"
end

local SYNCHRONIZING = { SYN_SENT = true, SYN_RCVD = true }
local CAN_SEND = { ESTABLISHED = true, CLOSE_WAIT = true }
local FIN_UNACKED = { FIN_WAIT_1 = true, CLOSING = true, LAST_ACK = true }

-- The buffer sizes as Linux's sock_setsockopt keeps them (net/core/sock.c,
-- sk_setsockopt): the value capped by net.core.wmem_max / rmem_max
-- (212992 by default), doubled "to account for struct sk_buff etc.
-- overhead", at least SOCK_MIN_SNDBUF (4608) / SOCK_MIN_RCVBUF (2304);
-- getsockopt returns the doubled value.
local BUF_MAX = 212992
local function doubled(min)
  return function(v) return math.max(2 * math.min(v, BUF_MAX), min) end
end

-- Socket options: the synfin setting each is (set(value) -> a settings
-- table; fixed: only before the connection is made), or the facade's own
-- (SO_REUSEADDR, SO_LINGER), and Linux's default; value(v): what the
-- socket keeps (and getsockopt returns) for the v given.
local OPTIONS = {
  TCP_NODELAY = { default = 0, set = function(v) return { nagle = v == 0 } end },
  TCP_MAXSEG = { default = 536, fixed = true, set = function(v) return { mss = v } end },
  TCP_USER_TIMEOUT = { default = 0, set = function(v) return { user_timeout = v / 1000 } end },
  TCP_KEEPIDLE = { default = 7200 },
  TCP_KEEPINTVL = { default = 75, set = function(v) return { keepalive_interval = v } end },
  TCP_KEEPCNT = { default = 9, set = function(v) return { keepalive_probes = v } end },
  SO_KEEPALIVE = { default = 0 },
  TCP_SYNCNT = { default = 6, set = function(v) return { syn_retries = v } end },
  TCP_LINGER2 = { default = 60, set = function(v) return { fin_wait_2_timeout = v } end },
  -- the socket keeps it doubled (value); rcv_buf is what the application
  -- asked (half of it), of which rcv_window = "linux" makes Linux's window; a
  -- buffer set locks it (SOCK_RCVBUF_LOCK): Linux's window clamp, and so the
  -- window scale, follow it, not tcp_rmem[2] (tcp_openreq_init_rwin)
  SO_RCVBUF = { default = 65535, fixed = true, value = doubled(2304),
    set = function(v) return { rcv_buf = v // 2, rcv_buf_max = 0 } end },
  -- sk_sndbuf bounds what is queued, unacknowledged and unsent (in Linux
  -- counted with each skb's overhead, in synfin in bytes of data)
  SO_SNDBUF = { default = 65536, value = doubled(4608), set = function(v) return { snd_buf = v } end },
  SO_REUSEADDR = { default = 0 },
  SO_LINGER = {},
}
-- the keepalive settings follow SO_KEEPALIVE and TCP_KEEPIDLE together
local function keepalive(opts)
  if (opts.SO_KEEPALIVE or 0) == 0 then return { keepalive = false } end
  return { keepalive = opts.TCP_KEEPIDLE or 7200 }
end
OPTIONS.SO_KEEPALIVE.set = function(_, opts) return keepalive(opts) end
OPTIONS.TCP_KEEPIDLE.set = function(_, opts) return keepalive(opts) end
-- Linux's options that synfin has no equivalent for: an honest error
local NO_EQUIVALENT = {
  TCP_CORK = true, TCP_QUICKACK = true, TCP_DEFER_ACCEPT = true, TCP_WINDOW_CLAMP = true,
  TCP_NOTSENT_LOWAT = true, SO_REUSEPORT = true, SO_RCVLOWAT = true, SO_OOBINLINE = true,
}

local function words(s)
  local set = {}
  for w in tostring(s):gmatch("[%w_]+") do set[w] = true end
  return set
end

-- data, or n bytes of the letters a-z repeated, as the agent writes them
local function payload(data)
  if type(data) == "string" then return data end
  local abc = "abcdefghijklmnopqrstuvwxyz"
  return abc:rep(data // 26 + 1):sub(1, data)
end

local POLL_ORDER = { "POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDHUP",
  "POLLRDNORM", "POLLWRNORM" }

function facade.install(kernel)
  local Agent, Call, REQUESTS = kernel._Agent, kernel._Call, kernel._REQUESTS

  local Facade = setmetatable({}, { __index = Agent })
  Facade.__index = Facade
  local FCall = setmetatable({}, { __index = Call })
  FCall.__index = FCall
  FCall.__tostring = Call.line

  --- The socket facade of a synfin host in a sim (see synfin.facade):
  -- the same methods as kernel.agent's Agent (socket, bind, listen, accept,
  -- connect, read, recv, write, send, shutdown, close, setsockopt,
  -- getsockopt, fcntl, poll, tcp_info, getsockname, getpeername, ss,
  -- start, calls, trace, stop), made by the host's user calls in virtual
  -- time. opts: timeout (seconds a call may take to return; default the
  -- net's).
  -- @tparam synfin.Net net a sim
  -- @tparam synfin.Host host a synfin host of it (not a bare peer)
  -- @tparam[opt] table opts
  -- @return the facade
  -- @usage local k = kernel.sim(net, net:host("10.73.0.1"))
  function kernel.sim(net, host, opts)
    if type(net) ~= "table" or not net.sim then error("bad argument #1 to 'sim' (a net expected)", 2) end
    if net.realtime then error("synfin.kernel: kernel.sim is the sim's facade; on a real-time net use kernel.agent", 2) end
    if type(host) ~= "table" or host.net ~= net or host.peer then
      error("bad argument #2 to 'sim' (a synfin host of the net expected)", 2)
    end
    opts = opts or {}
    for k in pairs(opts) do
      if k ~= "timeout" then error(("bad argument #3 to 'sim' (unknown option '%s')"):format(tostring(k)), 2) end
    end
    return setmetatable({ net = net, host = host, lane = host.index, fds = {}, log = {}, names = {},
      next_id = 1, timeout = opts.timeout or net.timeout, clock_error = 0, orphans = {} }, Facade)
  end
  kernel.facade = kernel.sim

  local function ok(v) return { ret = math.type(v) == "integer" and v or 0, value = v } end
  local function fail(e) return { errno = e } end

  -- The socket's pending error, from its connection's end (once).
  local function update(s)
    local c = s.conn
    if c and not s.err_seen and c:state() == "CLOSED" then
      s.err_seen = true
      local e = c:info().error
      if e then s.err = errno_of(e) end
    end
  end
  local function take_err(s)
    update(s)
    local e = s.err
    s.err = nil
    return e
  end

  -- The settings of the socket's options, for host:listen and host:connect.
  local function settings(s)
    -- Linux's sockets run Nagle's algorithm unless TCP_NODELAY (synfin's
    -- hosts do not, by default)
    local out = { nagle = true }
    for name, v in pairs(s.opts) do
      local o = OPTIONS[name]
      if o and o.set then
        for k, x in pairs(o.set(v, s.opts)) do out[k] = x end
      end
    end
    return out
  end

  local function free_fd(self)
    local fd = 3
    while self.fds[fd] do fd = fd + 1 end
    return fd
  end

  local function new_sock(self, fields)
    local fd = free_fd(self)
    fields.fd, fields.opts = fd, fields.opts or {}
    self.fds[fd] = fields
    return fd, fields
  end

  local endpoint = util.endpoint
  local ANY = { AF_INET = "0.0.0.0", AF_INET6 = "::" }
  local function family_of(addr) return util.family(addr) == 6 and "AF_INET6" or "AF_INET" end

  local function addr_of(c, peer)
    local i = c:info()
    if peer then return endpoint(i.raddr, i.rport) end
    return endpoint(i.laddr, i.lport)
  end

  local function pull_queue(s)
    while true do
      local c = s.listener:try_accept()
      if not c then return end
      s.queue[#s.queue + 1] = c
    end
  end

  -- Whether the send buffer has room enough to wake a writer (POLLOUT, a
  -- blocked write): Linux's sk_stream_is_writeable, the free space at
  -- least half of what is queued (sk_stream_wspace >= sk_stream_min_wspace)
  local function writeable(s, i)
    local limit = s.opts.SO_SNDBUF or OPTIONS.SO_SNDBUF.default
    return limit - i.snd_queued >= i.snd_queued // 2
  end

  -- tcp_poll's events, for the socket as it is now
  local function poll_mask(s)
    local m = {}
    if s.listener then
      pull_queue(s)
      if s.queue[1] then m.POLLIN, m.POLLRDNORM = true, true end
      return m
    end
    local c = s.conn
    local st = c and c:state() or "CLOSED"
    update(s)
    if s.err then m.POLLERR = true end
    local i = c and c:info()
    local closed = st == "CLOSED"
    local rcv_shut = s.shut_rd or closed or (i and i.peer_closed)
    if (s.shut_wr and rcv_shut) or closed then m.POLLHUP = true end
    if rcv_shut then m.POLLIN, m.POLLRDNORM, m.POLLRDHUP = true, true, true end
    if not SYNCHRONIZING[st] then
      if i and i.rcv_queued > 0 then m.POLLIN, m.POLLRDNORM = true, true end
      if s.shut_wr or closed then
        m.POLLOUT, m.POLLWRNORM = true, true
      elseif i and writeable(s, i) then
        m.POLLOUT, m.POLLWRNORM = true, true
      end
      if i and i.urgent and i.urgent > 0 then m.POLLPRI = true end
    end
    return m
  end

  -- Each call: its arguments -> a function that tries it now, returning
  -- the result ({ ret, value, ... } or { errno }), or nil while it blocks.
  local OPS = {}

  function OPS.socket(self, type_, domain)
    local w = words(type_ or "SOCK_STREAM")
    for k in pairs(w) do
      if k ~= "SOCK_STREAM" and k ~= "SOCK_NONBLOCK" and k ~= "SOCK_CLOEXEC" then return nil, "unknown type " .. k end
    end
    if not w.SOCK_STREAM then return nil, "only SOCK_STREAM sockets" end
    domain = domain or "AF_INET"
    if not ANY[domain] then return nil, "the domain must be AF_INET or AF_INET6" end
    return function()
      -- a host with no address of the family: as Linux's socket() succeeds,
      -- and bind/connect fail (EADDRNOTAVAIL, ENETUNREACH)
      return ok((new_sock(self, { nonblock = w.SOCK_NONBLOCK, domain = domain })))
    end
  end

  -- every call on a socket: EBADF for a descriptor that is not open
  local function on_sock(fn)
    return function(self, fd, ...)
      local s = self.fds[fd]
      if not s then return function() return fail("EBADF") end end
      return fn(self, s, ...)
    end
  end

  OPS.bind = on_sock(function(self, s, addr, port)
    return function()
      if s.bound or s.conn or s.listener then return fail("EINVAL") end
      -- the family's any address or one of the host's of the family
      -- (Linux: an AF_INET socket given an IPv6 address says EAFNOSUPPORT)
      if family_of(addr) ~= s.domain then return fail("EAFNOSUPPORT") end
      local mine = addr == ANY[s.domain]
      for _, a in ipairs(self.host.addrs or { self.host.addr }) do mine = mine or a == addr end
      if not mine then return fail("EADDRNOTAVAIL") end
      for _, r in ipairs(self.host:connections()) do
        if r.lport == port and (r.state == "LISTEN" or not s.opts.SO_REUSEADDR) then return fail("EADDRINUSE") end
      end
      for _, o in pairs(self.fds) do
        if o ~= s and o.bound and o.bound.port == port and not (s.opts.SO_REUSEADDR and o.opts.SO_REUSEADDR
            and not o.listener) then
          return fail("EADDRINUSE")
        end
      end
      s.bound = { addr = addr, port = port }
      return ok(0)
    end
  end)

  local ephemeral = 32767
  OPS.listen = on_sock(function(self, s, backlog)
    return function()
      if s.conn then return fail("EINVAL") end
      if s.listener then return ok(0) end
      if not s.bound then
        ephemeral = ephemeral + 1
        s.bound = { addr = ANY[s.domain], port = ephemeral }
      end
      local set = settings(s)
      -- Linux's accept queue holds backlog + 1 connections; synfin's backlog
      -- of n holds n (0 is its default, 128)
      set.backlog = math.max(0, backlog) + 1
      local okl, l = pcall(self.host.listen, self.host, s.bound.port, set)
      if not okl then return fail("EADDRINUSE") end
      s.listener, s.queue = l, {}
      self.names[s.fd] = { sock = endpoint(s.bound.addr, s.bound.port) }
      return ok(0)
    end
  end)

  OPS.accept = on_sock(function(self, s)
    return function()
      if not s.listener then return fail("EINVAL") end
      pull_queue(s)
      local c = table.remove(s.queue, 1)
      if c then
        local opts = {}
        for k, v in pairs(s.opts) do opts[k] = v end
        local fd = new_sock(self, { conn = c, reported = true, opts = opts })
        local r = ok(fd)
        r.sock, r.peer = addr_of(c), addr_of(c, true)
        self.names[fd] = { sock = r.sock, peer = r.peer }
        return r
      end
      if s.nonblock then return fail("EAGAIN") end
      if s.listener:state() ~= "LISTEN" then return fail("EINVAL") end
      return nil
    end
  end)

  -- a blocking connect's end: 0 once synchronized, the error if it failed
  local function connect_done(s)
    local st = s.conn:state()
    if st == "CLOSED" then return fail(take_err(s) or "ECONNABORTED") end
    if SYNCHRONIZING[st] then return nil end
    s.reported = true
    return ok(0)
  end

  OPS.connect = on_sock(function(self, s, addr, port)
    local started = false
    return function()
      if started then return connect_done(s) end
      started = true
      if s.listener then return fail("EISCONN") end
      if s.conn and s.conn:state() ~= "CLOSED" or s.err then
        local e = take_err(s)
        if e then return fail(e) end
        local st = s.conn:state()
        if SYNCHRONIZING[st] then
          if s.nonblock then return fail("EALREADY") end
          return connect_done(s)
        end
        if not s.reported and st ~= "CLOSED" then
          s.reported = true -- Linux: the first connect after it completed says 0
          return ok(0)
        end
        return fail("EISCONN")
      end
      -- an AF_INET socket to an IPv6 address and the other way round:
      -- EAFNOSUPPORT (Linux: inet_stream_connect / tcp_v6_connect)
      if family_of(addr) ~= s.domain then return fail("EAFNOSUPPORT") end
      local set = settings(s)
      set.sport = s.bound and s.bound.port or nil
      if s.bound and s.bound.addr ~= ANY[s.domain] then set.laddr = s.bound.addr end
      local okc, c = pcall(self.host.connect, self.host, addr, port, set)
      if not okc then
        if tostring(c):find("already exists", 1, true) or tostring(c):find("in use", 1, true) then
          return fail("EADDRINUSE")
        end
        return fail("EINVAL")
      end
      s.conn, s.reported, s.err, s.err_seen = c, false, nil, false
      self.names[s.fd] = { sock = addr_of(c), peer = addr_of(c, true) }
      if s.nonblock then return fail("EINPROGRESS") end
      return connect_done(s)
    end
  end)

  -- read and recv: the data, "" at the end of the stream, the pending
  -- error, EAGAIN, or nil while it blocks
  local function reader(_, s, n, flags)
    local f = words(flags or "")
    local dontwait = f.MSG_DONTWAIT
    -- MSG_PEEK: the data stays queued (c:read's peek), and waits as a read does
    local how = f.MSG_PEEK and { peek = true } or nil
    return function()
      if s.listener or not s.conn then return fail("ENOTCONN") end
      local c = s.conn
      local i = c:info()
      local st = i.state
      local rcv_shut = s.shut_rd or i.peer_closed or st == "CLOSED"
      if i.rcv_queued > 0 and (not f.MSG_WAITALL or i.rcv_queued >= n or rcv_shut) then
        local data = c:read(math.min(n, i.rcv_queued), how)
        local r = ok(#data)
        r.value, r.data = data, data
        return r
      end
      local e = take_err(s)
      if e then return fail(e) end
      if rcv_shut then
        local r = ok(0)
        r.value, r.data = "", ""
        return r
      end
      if s.nonblock or dontwait then return fail("EAGAIN") end
      return nil
    end
  end
  OPS.read = on_sock(function(self, s, n) return reader(self, s, n) end)
  OPS.recv = on_sock(function(self, s, n, flags) return reader(self, s, n, flags) end)

  local function writer(_, s, data, flags)
    local f = words(flags or "")
    if f.MSG_MORE then return function() return fail("EOPNOTSUPP") end end
    data = payload(data)
    local off = 0
    local urgent = f.MSG_OOB and { urgent = true } or nil
    local waiting = false -- blocked on a full buffer: sk_stream_wait_memory
    return function()
      if s.listener or not s.conn then return fail("EPIPE") end
      local e = take_err(s)
      if e then return fail(e) end
      if s.shut_wr then return fail("EPIPE") end
      local st = s.conn:state()
      if SYNCHRONIZING[st] then
        if s.nonblock or f.MSG_DONTWAIT then return fail("EAGAIN") end
        return nil
      end
      if not CAN_SEND[st] then return fail("EPIPE") end
      -- a blocked writer goes on when the buffer is writeable again
      -- (sk_stream_write_space wakes it), not at the first byte freed
      if waiting and not writeable(s, s.conn:info()) then return nil end
      waiting = false
      while off < #data do
        local n = s.conn:send(data:sub(off + 1, off + 65536), urgent)
        if not n or n == 0 then break end
        off = off + n
      end
      if off == #data then return ok(off) end
      if s.nonblock or f.MSG_DONTWAIT then
        if off > 0 then return ok(off) end
        return fail("EAGAIN")
      end
      waiting = true
      return nil
    end
  end
  OPS.write = on_sock(function(self, s, data) return writer(self, s, data) end)
  OPS.send = on_sock(function(self, s, data, flags) return writer(self, s, data, flags) end)

  OPS.shutdown = on_sock(function(_, s, how)
    if how ~= "SHUT_RD" and how ~= "SHUT_WR" and how ~= "SHUT_RDWR" then return nil, "unknown how " .. how end
    return function()
      if not s.conn or s.conn:state() == "CLOSED" then return fail("ENOTCONN") end
      if how ~= "SHUT_WR" then s.shut_rd = true end
      if how ~= "SHUT_RD" and not s.shut_wr then
        s.shut_wr = true
        s.conn:close() -- RFC 9293's CLOSE: the FIN; reading goes on
      end
      return ok(0)
    end
  end)

  OPS.close = on_sock(function(self, s)
    local deadline
    return function()
      if deadline then
        -- SO_LINGER with a timeout: blocked until the FIN is acknowledged
        if not FIN_UNACKED[s.conn:state()] then return ok(0) end
        if self.net:now() < deadline - 1e-9 then return nil end
        s.conn:abort()
        return ok(0)
      end
      self.fds[s.fd] = nil
      if s.listener then
        s.listener:close() -- its children nobody accepted are reset, as Linux's are
        for _, c in ipairs(s.queue) do c:abort() end
        return ok(0)
      end
      local c = s.conn
      if not c or c:state() == "CLOSED" then return ok(0) end
      local linger = s.opts.SO_LINGER
      if linger and linger.onoff ~= 0 and linger.linger == 0 then
        c:abort() -- SO_LINGER 0: a RST, no FIN
        return ok(0)
      end
      if c:info().rcv_queued > 0 then
        c:abort() -- data the application never read is lost: RFC 2525 §2.17's RST
        return ok(0)
      end
      if not s.shut_wr then c:close() end
      -- a closed socket's connection lives on, but nothing will read: data
      -- that comes after close() is answered with a RST (synfin's policy
      -- rcv_after_close, RFC 1122 4.2.2.13, as Linux's tcp_rcv_state_process)
      c:set { rcv_after_close = "reset" }
      if linger and linger.onoff ~= 0 and not s.nonblock and FIN_UNACKED[c:state()] then
        deadline = self.net:now() + linger.linger
        return nil
      end
      return ok(0)
    end, nil, function() return deadline and deadline - self.net:now() end
  end)

  OPS.setsockopt = on_sock(function(_, s, name, value)
    if name == "SO_ERROR" then return nil, "SO_ERROR cannot be set" end
    if not OPTIONS[name] and not NO_EQUIVALENT[name] then return nil, "unknown socket option " .. name end
    if name == "SO_LINGER" then
      local onoff = value.onoff or value[1]
      if onoff == true then onoff = 1 elseif onoff == false then onoff = 0 end
      value = { onoff = onoff, linger = value.linger or value[2] }
    elseif value == true then
      value = 1
    elseif value == false then
      value = 0
    end
    if OPTIONS[name] and OPTIONS[name].value then value = OPTIONS[name].value(value) end
    return function()
      if NO_EQUIVALENT[name] then return fail("ENOPROTOOPT") end
      local o = OPTIONS[name]
      local c = s.conn or s.listener
      if c and c:state() ~= "CLOSED" and o.set then
        if o.fixed then return fail("EOPNOTSUPP") end
        local prev = s.opts[name]
        s.opts[name] = value
        local set = o.set(value, s.opts)
        local okset = pcall(c.set, c, set)
        if not okset then
          s.opts[name] = prev
          return fail("EINVAL")
        end
        return ok(0)
      end
      s.opts[name] = value
      return ok(0)
    end
  end)

  local function tcp_info(s)
    local c = s.conn or s.listener
    if not c then return { state = "CLOSED" } end
    local i = c:info()
    return {
      state = i.state, rto = i.rto, rtt = i.srtt, retransmits = i.retransmits, total_retrans = i.retransmits,
      segs_in = i.segs_in, segs_out = i.segs_out, bytes_received = i.bytes_in, bytes_sent = i.bytes_out,
      snd_wnd = i.snd_wnd, rcv_wnd = i.rcv_wnd, unacked_bytes = (i.snd_nxt - i.snd_una) % 4294967296,
      notsent_bytes = i.snd_queued,
    }
  end

  OPS.getsockopt = on_sock(function(_, s, name)
    if name == "TCP_INFO" then
      return function()
        local r = ok(0)
        r.value = tcp_info(s)
        r.info = r.value
        return r
      end
    end
    if name ~= "SO_ERROR" and not OPTIONS[name] and not NO_EQUIVALENT[name] then
      return nil, "unknown socket option " .. name
    end
    return function()
      if NO_EQUIVALENT[name] then return fail("ENOPROTOOPT") end
      local r = ok(0)
      if name == "SO_ERROR" then
        r.value = take_err(s) or 0
      elseif name == "SO_LINGER" then
        local l = s.opts.SO_LINGER or { onoff = 0, linger = 0 }
        r.value = { onoff = l.onoff, linger = l.linger }
      else
        r.value = s.opts[name] or OPTIONS[name].default
      end
      return r
    end
  end)
  OPS.tcp_info = function(self, fd) return OPS.getsockopt(self, fd, "TCP_INFO") end

  OPS.fcntl = on_sock(function(_, s, cmd, flags)
    if cmd ~= "F_GETFL" and cmd ~= "F_SETFL" then return nil, "unknown command " .. cmd end
    return function()
      if cmd == "F_SETFL" then
        s.nonblock = words(flags).O_NONBLOCK or false
        return ok(0)
      end
      -- the flags as Linux's F_GETFL returns them: O_RDWR (2), O_NONBLOCK (04000)
      local r = ok(s.nonblock and 2 | 2048 or 2)
      r.value = s.nonblock and "O_RDWR|O_NONBLOCK" or "O_RDWR"
      return r
    end
  end)

  OPS.poll = function(self, fd, events, t)
    local want = words(events)
    want.POLLERR, want.POLLHUP, want.POLLNVAL = true, true, true
    local deadline = self.net:now() + (t or 0)
    return function()
      local s = self.fds[fd]
      local m = s and poll_mask(s) or { POLLNVAL = true }
      local got = {}
      for _, name in ipairs(POLL_ORDER) do
        if m[name] and want[name] then got[#got + 1] = name end
      end
      if #got > 0 or self.net:now() >= deadline - 1e-9 then
        local r = ok(#got > 0 and 1 or 0)
        r.value = table.concat(got, "|")
        r.revents = r.value
        return r
      end
      return nil
    end, nil, function() return deadline - self.net:now() end
  end

  local function name_op(peer)
    return on_sock(function(_, s)
      return function()
        local c = s.conn
        if not c or c:state() == "CLOSED" then
          if not peer and s.bound then
            local r = ok(0)
            r.value = ("%s:%d"):format(s.bound.addr, s.bound.port)
            return r
          end
          return fail(peer and "ENOTCONN" or "EINVAL")
        end
        local r = ok(0)
        r.value = addr_of(c, peer)
        return r
      end
    end)
  end
  OPS.getsockname, OPS.getpeername = name_op(false), name_op(true)

  local function finish(self, call, r)
    local net = self.net
    call.done = true
    call.returned_us = net.sim:now()
    call.returned = call.returned_us / 1e6
    call.rec_returned = #net:records() + 1
    call.blocked = (call.returned_us - call.started_us) / 1e6
    if r.errno then
      call.ret, call.errno, call.err = -1, r.errno, ERRTEXT[r.errno] or r.errno
    else
      call.ret, call.value = r.ret, r.value
    end
    call.data, call.revents, call.info = r.data, r.revents, r.info
    call.sock, call.peer = r.sock, r.peer
    if call.name == "connect" and call.fd and self.names[call.fd] then
      call.sock, call.peer = self.names[call.fd].sock, self.names[call.fd].peer
    end
  end

  --- Starts a call without waiting for it to return, as Agent:start
  -- does; the call returns at the instant (of the net's clock) its
  -- condition holds, whatever the script waits on meanwhile.
  -- @tparam string name the call
  -- @param ... its arguments
  -- @return the call, pending: `call:wait(t)` collects it
  function Facade:start(name, ...)
    local make = REQUESTS[name]
    if not make then error(("bad argument #1 to 'start' (unknown call '%s')"):format(tostring(name)), 2) end
    local ws, shown, wait_at_least = make(...)
    local net = self.net
    -- what is due at this instant happens first, as with the agent (whose
    -- calls find the kernel with what synfin sent by now): a segment an
    -- expectation has seen leave has arrived. A wait of no time, that is
    -- part of the call (no expectation's view moves).
    net:_action(net.sleep, net, 0)
    local t = net.sim:now()
    local call = setmetatable({ agent = self, id = self.next_id, name = name, shown = shown, sent = t / 1e6,
      started = t / 1e6, started_us = t, min_timeout = wait_at_least, rec_started = #net:records() + 1 }, FCall)
    self.next_id = self.next_id + 1
    if ws[1] == "tcp_info" then call.name = "tcp_info" end
    local fd = ...
    if math.type(fd) == "integer" then call.fd = fd end
    local try, why, until_ = OPS[call.name](self, ...)
    if not try then error(("synfin.kernel (sim) refused %s: %s"):format(shown, why), 2) end
    self.log[#self.log + 1] = call
    local function attempt()
      if call.done then return true end
      local r = try()
      if r then
        finish(self, call, r)
        return true
      end
      return false
    end
    if not attempt() then
      call.waited = true
      net:_watching(attempt)
      -- a call with a deadline of its own (poll's timeout, SO_LINGER's) is
      -- tried again when it comes, though nothing happens on the net
      local left = until_ and until_()
      if left then net:_at(math.max(0, left), attempt) end
    end
    return call
  end

  local function method(name)
    return function(self, ...) return self:start(name, ...):wait() end
  end
  for name in pairs(REQUESTS) do Facade[name] = method(name) end

  --- The host's connections as Agent:ss gives the kernel's: with fd, the
  -- row of that socket (found by its addresses, so a socket closed and
  -- lingering in FIN_WAIT_2 or TIME_WAIT is still found), or nil.
  -- @tparam[opt] integer fd
  -- @treturn table|nil
  function Facade:ss(fd)
    local rows = {}
    for _, r in ipairs(self.host:connections()) do
      local peer = r.rport == 0 and endpoint(ANY[family_of(r.laddr)], "*") or endpoint(r.raddr, r.rport)
      rows[#rows + 1] = { state = r.state, ss_state = r.state == "ESTABLISHED" and "ESTAB" or r.state:gsub("_", "-"),
        recv_q = r.recv_q, send_q = r.send_q, ["local"] = endpoint(r.laddr, r.lport), peer = peer }
    end
    if fd == nil then return rows end
    local names = self.names[fd]
    if not names or not names.sock then return nil end
    local port = names.sock:match(":(%d+)$")
    for _, row in ipairs(rows) do
      local lport = row["local"]:match(":(%d+)$")
      local any_peer = row.peer == "0.0.0.0:*" or row.peer == "[::]:*"
      if (row["local"] == names.sock or not names.peer and lport == port) and
          (row.peer == names.peer or not names.peer and any_peer) then
        return row
      end
    end
    return nil
  end

  -- The calls as note records on the host's lane, where they started
  -- (when they blocked) and returned, merged into the net's records by
  -- place (the net's records that came before them), not by time: in
  -- virtual time many things happen at one instant, in order.
  function Facade:_records()
    local events = {}
    local function add(at, c, text)
      events[#events + 1] = { at = at, n = #events, rec = { kind = "note", call = c, host = self.lane,
        time = at == c.rec_started and c.started or c.returned or c.sent, text = text } }
    end
    for _, c in ipairs(self.log) do
      if c.done then
        if c.waited or c.blocked >= 0.001 then add(c.rec_started, c, c.shown .. " ...") end
        events[#events + 1] = { at = c.rec_returned, n = #events,
          rec = { kind = "note", call = c, host = self.lane, time = c.returned, text = c:line() } }
      else
        add(c.rec_started, c, c.shown .. " ... (not returned)")
      end
    end
    table.sort(events, function(a, b)
      if a.at ~= b.at then return a.at < b.at end
      return a.n < b.n
    end)
    local out, j = {}, 1
    for i, r in ipairs(self.net:records()) do
      while events[j] and events[j].at <= i do
        out[#out + 1] = events[j].rec
        j = j + 1
      end
      out[#out + 1] = r
    end
    for x = j, #events do out[#out + 1] = events[x].rec end
    return out
  end

  --- Nothing to stop: the facade is the host's. Returns as Agent:stop does.
  function Facade:stop()
    self.stopped = true
    return true, "exit", 0
  end
  Facade.__close = function() end
  Facade.__gc = nil

  function Facade:__tostring()
    return ("<synfin.kernel facade on %s: %d calls>"):format(self.host.addr, #self.log)
  end

  --- Waits (the net running) until the call has returned, at most t
  -- seconds (default the facade's timeout); as Call:wait.
  function FCall:wait(t)
    if not self.done then
      local net = self.agent.net
      t = t or math.max(self.agent.timeout, (self.min_timeout or 0) + 1)
      if type(t) ~= "number" or t < 0 then error("a timeout in seconds (>= 0) expected", 2) end
      local okw, err = pcall(net._action, net, net._block, net, self.shown .. " to return", t,
        function() return self.done == true end, nil, nil, "it had not returned")
      if not okw then error(err, 0) end
    end
    if self.ret < 0 then return nil, self.errno, self end
    return self.value, nil, self
  end

  function FCall:pending() return not self.done end
end

return facade
