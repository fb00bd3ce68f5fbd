--- synfin.kernel: the kernel's socket calls as script calls, to test the
-- Linux kernel's TCP as packetdrill does. On a real-time net
-- (`synfin.tun`), the kernel is one side (`net.kernel`); its socket calls
-- are made by `synfin-agent`, a small program this module starts in the
-- test's network namespace, and synfin plays the other side: a synfin host,
-- or a bare peer whose segments the script crafts.
--
--     local synfin = require "synfin"
--     local kernel = require "synfin.kernel"
--     local net = synfin.tun()                       -- the kernel is 10.73.0.1
--     local remote = net:host("10.73.0.2", { name = "synfin" })
--     local k = kernel.agent(net)
--     net:run(function()
--       local fd = assert(k:socket())
--       local ok, err, call = k:connect(fd, "10.73.0.2", 8080)   -- nothing listens
--       assert(err == "ECONNREFUSED")
--       call:blocked_for(0)                          -- it failed at once
--     end)
--     print(k:trace())                               -- the calls among the segments
--
-- Every call returns what the system call gives (a file descriptor, a byte
-- count, the data read, an option's value), or nil and the errno's name
-- ("ECONNREFUSED", "EAGAIN"); the third value is the `Call`, with the
-- system call's raw return (`ret`), `errno` and `err` (its text), and when
-- it started and returned on the net's clock (`started`, `returned`,
-- `blocked`, seconds), which `call:returned_at(t)` and
-- `call:blocked_for(s)` check within the net's tolerance (`net:slack`).
-- A call the agent refuses (a bad option name) raises. Each runs in a
-- thread of the agent's own: while it blocks (a connect waiting for its
-- SYN-ACK, an accept, a read), the net runs on, hooks and timers
-- included; `k:start(name, ...)` starts one without waiting for it, and
-- `call:wait(t)` collects it later, so that the script can send segments
-- while a call blocks. A call that has not returned within the agent's
-- timeout (the net's, 10 s by default, plus the tolerance) fails the
-- scenario as a `net:expect` does.
--
-- The agent runs only inside a network namespace of its own (as
-- `spec/netns/run` or `unshare -Urn` makes one): it checks that its
-- network namespace is not the machine's (PID 1's, where that can be read;
-- else that it belongs to a user namespace made after boot; else that an
-- ancestor's differs), and refuses to start otherwise, unless told
-- `allow_host_namespace = true`. It ends when `k:stop()` is called, when
-- the script's process ends, and after `max_seconds` in any case.
-- @module synfin.kernel
-- @pragma nostrip

local kernel = {}

local Agent, Call = {}, {}
Agent.__index, Call.__index = Agent, Call

-- While a call is awaited, the net's loop wakes this often to look for
-- its reply (the reply's times come from the agent, not from this).
local TICK = 0.001
-- A call that returns this much after it started is drawn in the trace
-- twice, where it started and where it returned.
local SHOWN_BLOCKING = 0.001

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

local function command_output(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  if not p then return nil end
  local s = p:read("a")
  p:close()
  s = s and s:gsub("%s+$", "")
  return s ~= "" and s or nil
end

local function argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 4)
end

-- Where synfin-agent is: opts.agent, $SYNFIN_AGENT, beside the program
-- running the script (build/synfin, or an installed bin/synfin), beside the
-- installed Lua files (PREFIX/share/lua/5.4/synfin -> PREFIX/bin), in the
-- source tree's build/, or on the PATH.
local function find_agent(path)
  if path then
    if not exists(path) then error(("synfin.kernel: no agent at %s"):format(path), 3) end
    return path
  end
  local tried = {}
  local function try(p)
    if not p then return nil end
    tried[#tried + 1] = p
    if exists(p) then return p end
  end
  local found = try(os.getenv("SYNFIN_AGENT"))
  -- the shell popen runs is our child: its parent's exe is our program
  local exe = command_output("readlink /proc/$PPID/exe")
  found = found or (exe and try(exe:gsub("[^/]*$", "") .. "synfin-agent"))
  local moddir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")
  if moddir then
    found = found or try(moddir .. "/../../../../bin/synfin-agent") or try(moddir .. "/../../build/synfin-agent")
  end
  found = found or command_output("command -v synfin-agent")
  if found then return found end
  tried[#tried + 1] = "synfin-agent on the PATH"
  error("synfin.kernel: synfin-agent not found (build it: cmake --build build; or set SYNFIN_AGENT); tried:\n  "
    .. table.concat(tried, "\n  "), 3)
end

------------------------------------------------------------------------------
-- The agent: the kernel's side of a test, one system call at a time.
-- @type Agent
------------------------------------------------------------------------------

--- Starts synfin-agent for a real-time net (synfin.tun, synfin.raw) in
-- this process's network namespace, the kernel's. opts: `allow_host_namespace`
-- (true: run even where the namespace cannot be shown to be a test's own;
-- its sockets then reach the machine's network), agent (the program's path;
-- else `$SYNFIN_AGENT`, beside the running program, beside the installed
-- Lua files, build/ of the source tree, the PATH), timeout (seconds a call
-- may take to return; default the net's), `max_seconds` (the agent's life,
-- default 600).
-- @tparam synfin.Net net a real-time net
-- @tparam[opt] table opts
-- @treturn Agent
-- @raise when the net is a sim, the agent cannot be found or refuses to run
-- @usage local k = kernel.agent(net)
function kernel.agent(net, opts)
  if type(net) ~= "table" or not net.sim then argerror(1, "agent", "a net expected") end
  if not net.realtime then
    error("synfin.kernel: the kernel's calls need a real-time net (synfin.tun or synfin.raw); a sim has no kernel"
      .. " (kernel.sim(net, host) makes the same calls on a synfin host)", 2)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "allow_host_namespace" and k ~= "agent" and k ~= "timeout" and k ~= "max_seconds" then
      argerror(2, "agent", ("unknown option '%s'"):format(tostring(k)))
    end
  end
  local path = find_agent(opts.agent)
  local out = os.tmpname()
  local args = {}
  if opts.allow_host_namespace then args[#args + 1] = "--allow-host-namespace" end
  if opts.max_seconds then args[#args + 1] = ("--max-seconds %d"):format(math.ceil(opts.max_seconds)) end
  -- its stdin is our pipe, its stdout the file we read while the net runs
  local pipe = assert(io.popen(("exec %s %s >>%s"):format(shell_quote(path), table.concat(args, " "),
    shell_quote(out)), "w"))
  local self = setmetatable({
    net = net, path = path, out = out, pipe = pipe, file = assert(io.open(out, "r")),
    partial = "", by_id = {}, log = {}, next_id = 1, names = {},
    timeout = opts.timeout or net.timeout,
  }, Agent)
  local hello = self:_await_line(function() return self.hello end, 5)
  if not hello then
    self:stop()
    error("synfin.kernel: " .. path .. " did not start within 5 s", 2)
  end
  if not hello.hello then
    self:stop()
    error(("synfin.kernel: synfin-agent refuses to run here: %s; run the test in a network namespace of its own"
      .. " (spec/netns/run CMD, or unshare -Urn), or pass allow_host_namespace = true"):format(hello.error), 2)
  end
  self.pid, self.namespace = hello.pid, hello.namespace
  self:_calibrate()
  return self
end

-- The net's clock now, microseconds: a real-time net's reads real time.
local function now_us(net) return net.sim:now() end

-- Whether the agent's process still runs (a write to the pipe of one that
-- has ended would kill us with SIGPIPE): /proc has it, and not as a zombie.
function Agent:_alive()
  local f = io.open(("/proc/%d/stat"):format(self.pid))
  if not f then return false end
  local st = f:read("l")
  f:close()
  local state = st and st:match("%) (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

-- Puts on the wire what synfin has sent by now: a segment a wait has seen
-- (net:expect returns when synfin sends it) may still be in the net's
-- queue, due at this very instant, and a call the script makes after it
-- must find the kernel with it. A wait of no time: it returns once
-- everything due by now has happened.
function Agent:_flush() self.net:sleep(0) end

-- Reads the replies that have come, and hands each to its call.
function Agent:_poll()
  local s = self.file:read("a")
  if not s or s == "" then return end
  s = self.partial .. s
  local last = 1
  for line, after in s:gmatch("([^\n]*)\n()") do
    last = after
    local chunk = load("return " .. line, "=synfin-agent", "t", {})
    local ok, r = false, nil
    if chunk then ok, r = pcall(chunk) end
    if not ok or type(r) ~= "table" then
      self.gone = "it wrote a line that is not a reply: " .. line
    elseif r.id == 0 then
      self.hello = r
    elseif r.bye then
      self.gone = r.bye
    elseif r.clock then
      self.clock_reply = r
    elseif self.by_id[r.id] then
      self.by_id[r.id]:_reply(r)
    end
  end
  self.partial = s:sub(last)
end

-- Waits (the net running, 1 ms at a time) until got() gives something,
-- at most t seconds; returns it, or nil.
function Agent:_await_line(got, t)
  local net = self.net
  local deadline = now_us(net) + math.floor(t * 1e6)
  while true do
    self:_poll()
    local v = got()
    if v or self.gone then return v end
    if now_us(net) >= deadline then return nil end
    net:sleep(0.001)
  end
end

-- The agent's clock (CLOCK_MONOTONIC, libuv's, the one the net's clock
-- runs on) against the net's: the midpoint of the best of a few round
-- trips. Its error is half that round trip (self.clock_error, seconds).
-- The reply comes in a fraction of a millisecond: it is read in a tight
-- loop, bounded by 1 s.
function Agent:_calibrate()
  local net, best = self.net, nil
  for i = 1, 5 do
    local a = now_us(net)
    self.clock_reply = nil
    self.pipe:write(("%d clock\n"):format(-i))
    self.pipe:flush()
    local b = a
    while not self.clock_reply and not self.gone and b - a < 1e6 do
      self:_poll()
      b = now_us(net)
    end
    local r = self.clock_reply
    if not r then error("synfin.kernel: synfin-agent did not answer its clock within 1 s", 3) end
    if not best or b - a < best.rtt then
      best = { rtt = b - a, offset = (a + b) / 2 - r.clock / 1000 }
    end
  end
  self.offset_us = best.offset
  self.clock_error = best.rtt / 2 / 1e6
end

-- The net's time, in seconds, of a CLOCK_MONOTONIC time of the agent (ns).
function Agent:_time(ns) return (ns / 1000 + self.offset_us) / 1e6 end

local fmt_addr = require("synfin.util").endpoint -- "10.73.0.1:80", "[fd00:73::1]:80"

local function check_fd(fd, n, fname)
  if math.type(fd) ~= "integer" or fd < 0 then argerror(n, fname, "a file descriptor (an integer) expected") end
  return tostring(fd)
end

local function check_word(v, n, fname, what)
  if type(v) ~= "string" or not v:match("^[%w_|.]+$") then argerror(n, fname, what .. " expected") end
  return v
end

-- An address's text, either family (the agent parses it: inet_pton)
local function check_addr(v, n, fname)
  if type(v) ~= "string" or not v:match("^[%x.:]+$") then argerror(n, fname, "an IPv4 or IPv6 address expected") end
  return v
end

local function check_int(v, n, fname, what)
  if math.type(v) ~= "integer" then argerror(n, fname, what .. " (an integer) expected") end
  return tostring(v)
end

local function hex(s) return "x" .. s:gsub(".", function(c) return ("%02x"):format(c:byte()) end) end

local function data_arg(data, n, fname)
  if math.type(data) == "integer" and data >= 0 then return "#" .. data, data end
  if type(data) ~= "string" then argerror(n, fname, "data (a string) or a byte count expected") end
  return hex(data), #data
end

local function flags_arg(flags, n, fname)
  if flags == nil or flags == 0 then return "0" end
  return check_word(flags, n, fname, "flags (\"MSG_PEEK|MSG_DONTWAIT\")")
end

local function seconds(t, n, fname)
  if type(t) ~= "number" or t < 0 then argerror(n, fname, "seconds (>= 0) expected") end
  return t
end

-- name -> function(...) returning the request's words and how the call
-- is shown (packetdrill's way: `connect(3, 10.73.0.2:8080)`).
local REQUESTS = {
  socket = function(type_, domain)
    if type_ == nil and domain == nil then return { "socket" }, "socket()" end
    type_ = type_ or "SOCK_STREAM"
    check_word(type_, 1, "socket", "a type (\"SOCK_STREAM|SOCK_NONBLOCK\")")
    if domain == nil then return { "socket", type_ }, ("socket(%s)"):format(type_) end
    if domain ~= "AF_INET" and domain ~= "AF_INET6" then argerror(2, "socket", "\"AF_INET\" or \"AF_INET6\" expected") end
    return { "socket", type_, domain }, ("socket(%s, %s)"):format(domain, type_)
  end,
  bind = function(fd, addr, port)
    check_fd(fd, 1, "bind")
    check_addr(addr, 2, "bind")
    check_int(port, 3, "bind", "a port")
    return { "bind", fd, addr, port }, ("bind(%d, %s)"):format(fd, fmt_addr(addr, port))
  end,
  listen = function(fd, backlog)
    check_fd(fd, 1, "listen")
    backlog = backlog or 1
    check_int(backlog, 2, "listen", "a backlog")
    return { "listen", fd, backlog }, ("listen(%d, %d)"):format(fd, backlog)
  end,
  accept = function(fd)
    check_fd(fd, 1, "accept")
    return { "accept", fd }, ("accept(%d)"):format(fd)
  end,
  connect = function(fd, addr, port)
    check_fd(fd, 1, "connect")
    check_addr(addr, 2, "connect")
    check_int(port, 3, "connect", "a port")
    return { "connect", fd, addr, port }, ("connect(%d, %s)"):format(fd, fmt_addr(addr, port))
  end,
  read = function(fd, n)
    check_fd(fd, 1, "read")
    check_int(n, 2, "read", "a byte count")
    return { "read", fd, n }, ("read(%d, ..., %d)"):format(fd, n)
  end,
  recv = function(fd, n, flags)
    check_fd(fd, 1, "recv")
    check_int(n, 2, "recv", "a byte count")
    local f = flags_arg(flags, 3, "recv")
    return { "recv", fd, n, f }, ("recv(%d, ..., %d, %s)"):format(fd, n, f)
  end,
  write = function(fd, data)
    check_fd(fd, 1, "write")
    local arg, len = data_arg(data, 2, "write")
    return { "write", fd, arg }, ("write(%d, ..., %d)"):format(fd, len)
  end,
  send = function(fd, data, flags)
    check_fd(fd, 1, "send")
    local arg, len = data_arg(data, 2, "send")
    local f = flags_arg(flags, 3, "send")
    return { "send", fd, arg, f }, ("send(%d, ..., %d, %s)"):format(fd, len, f)
  end,
  shutdown = function(fd, how)
    check_fd(fd, 1, "shutdown")
    check_word(how, 2, "shutdown", "SHUT_RD, SHUT_WR or SHUT_RDWR")
    return { "shutdown", fd, how }, ("shutdown(%d, %s)"):format(fd, how)
  end,
  close = function(fd)
    check_fd(fd, 1, "close")
    return { "close", fd }, ("close(%d)"):format(fd)
  end,
  setsockopt = function(fd, name, value)
    check_fd(fd, 1, "setsockopt")
    check_word(name, 2, "setsockopt", "an option name (\"TCP_NODELAY\")")
    if name == "SO_LINGER" then
      if type(value) ~= "table" then argerror(3, "setsockopt", "{ onoff = 1, linger = seconds } expected") end
      local onoff = value.onoff or value[1]
      local secs = value.linger or value[2]
      if onoff == true then onoff = 1 elseif onoff == false then onoff = 0 end
      check_int(onoff, 3, "setsockopt", "onoff")
      check_int(secs, 3, "setsockopt", "linger")
      return { "setsockopt", fd, name, onoff, secs },
        ("setsockopt(%d, SO_LINGER, {onoff=%d, linger=%d})"):format(fd, onoff, secs)
    end
    if value == true then value = 1 elseif value == false then value = 0 end
    check_int(value, 3, "setsockopt", "a value")
    return { "setsockopt", fd, name, value }, ("setsockopt(%d, %s, %d)"):format(fd, name, value)
  end,
  getsockopt = function(fd, name)
    check_fd(fd, 1, "getsockopt")
    check_word(name, 2, "getsockopt", "an option name (\"SO_ERROR\")")
    if name == "TCP_INFO" then return { "tcp_info", fd }, ("getsockopt(%d, TCP_INFO)"):format(fd) end
    return { "getsockopt", fd, name }, ("getsockopt(%d, %s)"):format(fd, name)
  end,
  fcntl = function(fd, cmd, flags)
    check_fd(fd, 1, "fcntl")
    check_word(cmd, 2, "fcntl", "F_GETFL or F_SETFL")
    if cmd == "F_SETFL" then
      local f = flags_arg(flags, 3, "fcntl")
      return { "fcntl", fd, cmd, f }, ("fcntl(%d, F_SETFL, %s)"):format(fd, f)
    end
    return { "fcntl", fd, cmd }, ("fcntl(%d, %s)"):format(fd, cmd)
  end,
  poll = function(fd, events, t)
    check_fd(fd, 1, "poll")
    check_word(events, 2, "poll", "events (\"POLLIN|POLLOUT\")")
    t = seconds(t or 0, 3, "poll")
    return { "poll", fd, events, math.floor(t * 1000 + 0.5) }, ("poll(%d, %s, %g s)"):format(fd, events, t), t
  end,
  tcp_info = function(fd)
    check_fd(fd, 1, "tcp_info")
    return { "tcp_info", fd }, ("getsockopt(%d, TCP_INFO)"):format(fd)
  end,
  getsockname = function(fd)
    check_fd(fd, 1, "getsockname")
    return { "getsockname", fd }, ("getsockname(%d)"):format(fd)
  end,
  getpeername = function(fd)
    check_fd(fd, 1, "getpeername")
    return { "getpeername", fd }, ("getpeername(%d)"):format(fd)
  end,
}

--- Starts a call without waiting for it to return (the net goes on
-- running only while the script waits on something: `call:wait`,
-- `net:expect`, `net:sleep`); the call's name is one of the methods below
-- (`"connect"`, `"accept"`, `"read"`, ...), with the same arguments.
-- @tparam string name the call
-- @param ... its arguments
-- @treturn Call the call, pending: `call:wait(t)` collects it
-- @usage local conn = k:start("connect", fd, "10.73.0.2", 8080)
-- local syn = net:expect({ from = net.kernel, flags = "S" }, 1)
-- net:sleep(1)
-- remote:send(syn:reply { flags = "SA" })
-- assert(conn:wait())
function Agent:start(name, ...)
  local make = REQUESTS[name]
  if not make then argerror(1, "start", ("unknown call '%s'"):format(tostring(name))) end
  if self.stopped then error("synfin.kernel: the agent was stopped", 3) end
  local words, shown, wait_at_least = make(...)
  -- a call is an action of the script, as c:send is, not a wait: what was
  -- sent since its last expectation stays in view of the next one (the rule
  -- of net:expect), so that `k:connect(...)` then an expectation of the
  -- kernel's SYN finds it, as packetdrill's lines read
  self.net:_action(self._flush, self)
  self:_poll()
  if not self.gone and not self:_alive() then self.gone = "it has ended" end
  if self.gone then error("synfin.kernel: synfin-agent is gone: " .. self.gone, 3) end
  local id = self.next_id
  self.next_id = id + 1
  local call = setmetatable({ agent = self, id = id, name = name, shown = shown,
    sent = self.net:now(), min_timeout = wait_at_least }, Call)
  local fd = ...
  if math.type(fd) == "integer" then call.fd = fd end
  if name == "tcp_info" or words[1] == "tcp_info" then call.name = "tcp_info" end
  self.by_id[id] = call
  self.log[#self.log + 1] = call
  self.pipe:write(id, " ", table.concat(words, " ", 1, #words), "\n")
  self.pipe:flush()
  return call
end

local function method(name)
  return function(self, ...) return self:start(name, ...):wait() end
end

--- `socket(domain, type, IPPROTO_TCP)`; returns the file descriptor.
-- @function Agent:socket
-- @tparam[opt] string type "SOCK_STREAM" (the default), "SOCK_STREAM|SOCK_NONBLOCK"
-- @tparam[opt] string domain "AF_INET" (the default) or "AF_INET6"
-- @return fd, or nil and the errno's name; then the `Call`
-- @usage local fd = assert(k:socket())
Agent.socket = method "socket"
--- `bind`; returns 0.
-- @function Agent:bind
-- @tparam integer fd
-- @tparam string addr an IPv4 or IPv6 address ("0.0.0.0" or "::" for any)
-- @tparam integer port
-- @return 0, or nil and the errno's name; then the `Call`
Agent.bind = method "bind"
--- `listen`; returns 0.
-- @function Agent:listen
-- @tparam integer fd
-- @tparam[opt] integer backlog default 1
-- @return 0, or nil and the errno's name; then the `Call`
Agent.listen = method "listen"
--- `accept` (blocks until a connection is there, unless the socket is
-- non-blocking); returns the new file descriptor (its peer in `call.peer`).
-- @function Agent:accept
-- @tparam integer fd a listening socket
-- @return the new fd, or nil and the errno's name; then the `Call`
Agent.accept = method "accept"
--- `connect` (blocks until the handshake ends, unless the socket is
-- non-blocking: then nil, "EINPROGRESS"); returns 0.
-- @function Agent:connect
-- @tparam integer fd
-- @tparam string addr
-- @tparam integer port
-- @return 0, or nil and the errno's name; then the `Call`
Agent.connect = method "connect"
--- `read` of at most n bytes; returns the data ("" at the end of the stream).
-- @function Agent:read
-- @tparam integer fd
-- @tparam integer n
-- @return the data, or nil and the errno's name; then the `Call`
Agent.read = method "read"
--- `recv` of at most n bytes with flags ("MSG_PEEK", "MSG_DONTWAIT",
-- "MSG_WAITALL", "MSG_PEEK|MSG_DONTWAIT"; nil or 0 for none); returns the data.
-- @function Agent:recv
-- @tparam integer fd
-- @tparam integer n
-- @tparam[opt] string flags
-- @return the data, or nil and the errno's name; then the `Call`
Agent.recv = method "recv"
--- `write` of data, or of n bytes (the letters a-z repeated); returns the
-- count written.
-- @function Agent:write
-- @tparam integer fd
-- @tparam string|integer data
-- @return the count, or nil and the errno's name; then the `Call`
Agent.write = method "write"
--- `send` with flags ("MSG_DONTWAIT", "MSG_MORE", "MSG_NOSIGNAL", "MSG_OOB").
-- @function Agent:send
-- @tparam integer fd
-- @tparam string|integer data the data, or a byte count
-- @tparam[opt] string flags
-- @return the count, or nil and the errno's name; then the `Call`
Agent.send = method "send"
--- `shutdown`; returns 0.
-- @function Agent:shutdown
-- @tparam integer fd
-- @tparam string how "SHUT_RD", "SHUT_WR" or "SHUT_RDWR"
-- @return 0, or nil and the errno's name; then the `Call`
Agent.shutdown = method "shutdown"
--- `close` of a file descriptor (stop the agent with `k:stop()`); returns 0.
-- @function Agent:close
-- @tparam integer fd
-- @return 0, or nil and the errno's name; then the `Call`
Agent.close = method "close"
--- `setsockopt`: "TCP_NODELAY", "TCP_MAXSEG", "TCP_USER_TIMEOUT" (ms),
-- "TCP_KEEPIDLE", "TCP_KEEPINTVL" (s), "TCP_KEEPCNT", "TCP_CORK",
-- "TCP_QUICKACK", "TCP_SYNCNT", "TCP_LINGER2", "TCP_DEFER_ACCEPT",
-- "TCP_WINDOW_CLAMP", "TCP_NOTSENT_LOWAT", "SO_KEEPALIVE", "SO_RCVBUF",
-- "SO_SNDBUF", "SO_REUSEADDR", "SO_REUSEPORT", "SO_RCVLOWAT",
-- "SO_OOBINLINE" take an integer (or a boolean); "SO_LINGER" a table
-- `{ onoff = 1, linger = seconds }`. Values are the kernel's, in its units.
-- @function Agent:setsockopt
-- @tparam integer fd
-- @tparam string name
-- @param value
-- @return 0, or nil and the errno's name; then the `Call`
Agent.setsockopt = method "setsockopt"
--- `getsockopt` of the options setsockopt takes, and "SO_ERROR" (0, or
-- the pending error's name: "ECONNREFUSED") and "TCP_INFO" (as `k:tcp_info`).
-- @function Agent:getsockopt
-- @tparam integer fd
-- @tparam string name
-- @return the value (an integer; a table for SO_LINGER and TCP_INFO), or nil
-- and the errno's name; then the `Call`
Agent.getsockopt = method "getsockopt"
--- `fcntl`: `k:fcntl(fd, "F_SETFL", "O_RDWR|O_NONBLOCK")` returns 0;
-- `k:fcntl(fd, "F_GETFL")` returns the flags' names ("O_RDWR|O_NONBLOCK").
-- @function Agent:fcntl
-- @tparam integer fd
-- @tparam string cmd "F_GETFL" or "F_SETFL"
-- @tparam[opt] string flags for F_SETFL
-- @return 0 or the flags, or nil and the errno's name; then the `Call`
Agent.fcntl = method "fcntl"
--- `poll` of one file descriptor for at most t seconds (0: at once; the
-- call blocks meanwhile); returns the events that came, as names
-- ("POLLIN|POLLRDHUP"; "" when it timed out; `call.ret` is poll's count).
-- @function Agent:poll
-- @tparam integer fd
-- @tparam string events "POLLIN", "POLLOUT", "POLLIN|POLLOUT", ...
-- @tparam[opt] number t seconds (default 0)
-- @return the events, or nil and the errno's name; then the `Call`
Agent.poll = method "poll"
--- `getsockopt(TCP_INFO)` as a table: state (spelled as synfin spells
-- states: "ESTABLISHED", "SYN_RCVD", "FIN_WAIT_1", "CLOSED"), `ca_state`
-- ("Open", "Recovery", "Loss", ...), retransmits, probes, backoff, options
-- ({ timestamps, sack, wscale, ecn }), `snd_wscale`, `rcv_wscale`, rto, ato,
-- `snd_mss`, `rcv_mss`, unacked, sacked, lost, retrans, `last_data_sent`,
-- `last_data_recv`, `last_ack_recv`, pmtu, `rcv_ssthresh`, rtt, rttvar,
-- `snd_ssthresh`, `snd_cwnd`, advmss, reordering, `rcv_rtt`, `rcv_space`,
-- `total_retrans`, and what the kernel adds (`bytes_acked`,
-- `bytes_received`, `segs_out`, `segs_in`, `notsent_bytes`, `min_rtt`,
-- `delivered`, `bytes_sent`, `bytes_retrans`, `snd_wnd`, ...). Times are in
-- seconds (the kernel gives microseconds and milliseconds).
-- @function Agent:tcp_info
-- @tparam integer fd
-- @return the table, or nil and the errno's name; then the `Call`
-- @usage assert(k:tcp_info(fd).state == "ESTABLISHED")
Agent.tcp_info = method "tcp_info"
--- `getsockname`: "10.73.0.1:8080".
-- @function Agent:getsockname
-- @tparam integer fd
-- @return the address, or nil and the errno's name; then the `Call`
Agent.getsockname = method "getsockname"
--- `getpeername`: "10.73.0.2:40000".
-- @function Agent:getpeername
-- @tparam integer fd
-- @return the address, or nil and the errno's name; then the `Call`
Agent.getpeername = method "getpeername"

local SS_STATES = {
  ESTAB = "ESTABLISHED", ["SYN-SENT"] = "SYN_SENT", ["SYN-RECV"] = "SYN_RCVD",
  ["FIN-WAIT-1"] = "FIN_WAIT_1", ["FIN-WAIT-2"] = "FIN_WAIT_2", ["TIME-WAIT"] = "TIME_WAIT",
  UNCONN = "CLOSED", ["CLOSE-WAIT"] = "CLOSE_WAIT", ["LAST-ACK"] = "LAST_ACK", LISTEN = "LISTEN",
  CLOSING = "CLOSING",
}

--- The kernel's TCP sockets in this namespace, as `ss -tanoH` shows them;
-- with fd, the row of that socket (found by the addresses its calls
-- last reported, so a socket closed and lingering, in FIN_WAIT_2 or
-- TIME_WAIT, is still found), or nil when it has none. A row: state (as
-- synfin spells it: "TIME_WAIT"), `ss_state` (as ss does: "TIME-WAIT"),
-- `recv_q`, `send_q`, `local`, peer, timer (ss's "timewait,59sec,0", or nil).
-- @tparam[opt] integer fd
-- @treturn table|nil a row, or with no fd a list of rows
-- @usage assert(k:ss(fd).state == "TIME_WAIT")
function Agent:ss(fd)
  self:_flush()
  local p = assert(io.popen("ss -tanoH 2>/dev/null"))
  local rows = {}
  for line in p:lines() do
    local st, rq, sq, l, peer = line:match("^(%S+)%s+(%d+)%s+(%d+)%s+(%S+)%s+(%S+)")
    if st then
      rows[#rows + 1] = { state = SS_STATES[st] or st, ss_state = st, recv_q = tonumber(rq),
        send_q = tonumber(sq), ["local"] = l, peer = peer, timer = line:match("timer:%((.-)%)") }
    end
  end
  p:close()
  if fd == nil then return rows end
  check_fd(fd, 1, "ss")
  local names = self.names[fd]
  if not names or not names.sock then return nil end
  -- (ss writes a socket bound to IPv6's any address and taking IPv4 too
  -- as "*:port", its peer "*:*"; one that is IPv6 only as "[::]:port")
  local sock = names.sock
  local dual = sock:match("^%[::%](:%d+)$")
  for _, row in ipairs(rows) do
    local here = row["local"] == sock or (dual and row["local"] == "*" .. dual)
    if here and (row.peer == (names.peer or "0.0.0.0:*") or
        (not names.peer and (row.peer == "*:*" or row.peer == "[::]:*"))) then
      return row
    end
  end
  return nil
end

--- Every call made so far, in the order they were made.
-- @treturn {Call,...}
function Agent:calls() return self.log end

-- The calls as note records on the kernel's lane, at the times they
-- started (when they blocked) and returned, merged into the net's records
-- by time.
function Agent:_records()
  local net = self.net
  local lane = self.lane or net.kernel and net.kernel.index or 1
  local events = {}
  for _, c in ipairs(self.log) do
    if c.done and c.returned then
      if c.blocked >= SHOWN_BLOCKING then
        events[#events + 1] = { kind = "note", call = c, host = lane, time = c.started, text = c.shown .. " ..." }
      end
      events[#events + 1] = { kind = "note", call = c, host = lane, time = c.returned, text = c:line() }
    elseif not c.done then
      events[#events + 1] = { kind = "note", call = c, host = lane, time = c.sent,
        text = c.shown .. " ... (not returned)" }
    end
  end
  table.sort(events, function(a, b) return a.time < b.time end)
  local out, i = {}, 1
  for _, r in ipairs(net:records()) do
    while events[i] and events[i].time <= r.time do
      out[#out + 1] = events[i]
      i = i + 1
    end
    out[#out + 1] = r
  end
  for j = i, #events do out[#out + 1] = events[j] end
  return out
end

-- The records to draw: with notes = false the protocol's notes go, the
-- calls (notes too, to the ladder) stay.
local function drawn(recs, opts)
  if opts.notes ~= false then return recs end
  local out = {}
  for _, r in ipairs(recs) do
    if r.kind ~= "note" or r.call then out[#out + 1] = r end
  end
  return out
end

--- The net's ladder with the kernel's calls in the kernel's lane, each
-- where it returned (and, when it blocked, also where it started):
-- `print(k:trace())`; `k:trace():svg(path)` draws it. opts as net:trace's.
-- @tparam[opt] table opts notes = false hides the protocol's notes (not the calls)
-- @return a trace (text(), lines(), svg(path); tostring gives the text)
function Agent:trace(opts)
  opts = opts or {}
  local shown = {} -- the ladder's options: its notes, the calls among them, stay
  for k, v in pairs(opts) do shown[k] = v end
  shown.notes = nil
  return require("synfin").trace_of(self.net, function() return drawn(self:_records(), opts) end, shown)
end

--- Stops the agent: its sockets are closed as its process ends (the kernel
-- then sends what closing them sends: FINs, RSTs). Also when the agent is
-- garbage-collected, or goes out of scope as a `<close>` variable. Returns
-- how it ended, as io.close does for a program: true when it exited with
-- status 0, else nil; then "exit" or "signal", and the status or signal.
-- @return true or nil, then "exit" or "signal", then the code
function Agent:stop()
  if not self.stopped then
    self.stopped = true
    -- the end of its stdin ends it; pclose waits for that
    local _, ok, how, code = pcall(self.pipe.close, self.pipe)
    self.ended = { ok and true or nil, how, code }
    pcall(self.file.close, self.file)
    os.remove(self.out)
  end
  return table.unpack(self.ended, 1, 3)
end
Agent.__close = function(self) self:stop() end
Agent.__gc = Agent.__close

function Agent:__tostring()
  return ("<synfin-agent pid %s: %d calls%s>"):format(tostring(self.pid), #self.log,
    self.stopped and ", stopped" or "")
end

------------------------------------------------------------------------------
-- A system call made by the agent: what it returned, and when.
-- Fields: name ("connect"), shown ("connect(3, 10.73.0.2:8080)"), fd (its
-- first argument), done, ret (the system call's return: -1 on failure),
-- errno ("ECONNREFUSED", or nil), err (its text), value (what the call
-- returns in Lua), data (read, recv), revents (poll), info (tcp_info),
-- sock and peer (the socket's addresses), started and returned (the net's
-- clock, seconds), blocked (returned - started), sent (when the script made
-- it).
-- @type Call
------------------------------------------------------------------------------

function Call:_reply(r)
  local agent = self.agent
  self.done = true
  if r.bad then
    self.bad = r.bad
    return
  end
  self.ret, self.errno, self.err = r.ret, r.errno, r.err
  self.started, self.returned = agent:_time(r.t0), agent:_time(r.t1)
  self.blocked = self.returned - self.started
  self.data, self.revents, self.info, self.sock, self.peer = r.data, r.revents, r.info, r.sock, r.peer
  local name = self.name
  if r.ret >= 0 then
    if name == "read" or name == "recv" then
      self.value = r.data
    elseif name == "poll" then
      self.value = r.revents
    elseif name == "tcp_info" then
      self.value = r.info
    elseif r.value ~= nil then
      self.value = r.value
    elseif name == "getsockopt" then
      self.value = 0 -- SO_ERROR with no error pending
    else
      self.value = r.ret
    end
  end
  -- the addresses of its socket, for k:ss(fd) (an accepted one's are the
  -- new socket's)
  if r.sock then
    local fd = name == "accept" and r.ret or self.fd
    if fd and fd >= 0 then agent.names[fd] = { sock = r.sock, peer = r.peer } end
  end
end

--- Waits (the net running meanwhile) until the call has returned, at
-- most t seconds (default: the agent's timeout) plus the net's tolerance;
-- returns what the call returns: its value, or nil and the errno's name;
-- then the call.
-- @tparam[opt] number t seconds
-- @return value, or nil and the errno's name; then the `Call`
-- @raise when it has not returned by then (as net:expect does), or the
-- agent refused the request
function Call:wait(t)
  local agent, net = self.agent, self.agent.net
  if not self.done then
    t = t or math.max(agent.timeout, (self.min_timeout or 0) + 1)
    if type(t) ~= "number" or t < 0 then error("a timeout in seconds (>= 0) expected", 2) end
    local waiting = true
    local function tick()
      if waiting then net:_at(TICK, tick) end
    end
    net:_at(TICK, tick)
    -- waiting for the call is part of the action: no expectation's view moves
    local ok, err = pcall(net._action, net, net._block, net, self.shown .. " to return", t,
      function()
        agent:_poll()
        if self.done then return true end
        if agent.gone then return nil, "synfin-agent is gone: " .. agent.gone end
        return false
      end, nil, nil, "it had not returned")
    waiting = false
    if not ok then error(err, 0) end
  end
  if self.bad then error(("synfin-agent refused %s: %s"):format(self.shown, self.bad), 2) end
  if self.ret < 0 then return nil, self.errno, self end
  return self.value, nil, self
end

--- Whether the call is still running (it has not returned yet, as far as
-- the agent's replies so far say): for a call made with `k:start`.
-- @treturn boolean
-- @usage local acc = k:start("accept", lfd)
-- net:sleep(0.2)
-- assert(acc:pending()) -- nobody has connected
function Call:pending()
  if not self.done then self.agent:_poll() end
  return not self.done
end

--- The call as packetdrill shows one: "connect(3, 10.73.0.2:8080) = -1
-- ECONNREFUSED (Connection refused)", with how long it blocked when it did.
-- @treturn string
function Call:line()
  if not self.done then return self.shown .. " ..." end
  if self.bad then return self.shown .. " refused: " .. self.bad end
  local s = ("%s = %d"):format(self.shown, self.ret)
  if self.ret < 0 then
    s = s .. (" %s (%s)"):format(self.errno, self.err)
  elseif self.name == "poll" then
    s = s .. (" (%s)"):format(self.revents ~= "" and self.revents or "timeout")
  elseif self.name == "tcp_info" then
    s = s .. (" (%s)"):format(self.info.state)
  elseif self.name == "getsockopt" or self.name == "fcntl" and type(self.value) == "string"
      or self.name == "getsockname" or self.name == "getpeername" then
    local v = self.value
    if type(v) == "table" then v = ("{onoff=%d, linger=%d}"):format(v.onoff, v.linger) end
    s = s .. (" (%s)"):format(tostring(v))
  end
  if self.blocked >= SHOWN_BLOCKING then s = s .. (", after %.3f s"):format(self.blocked) end
  return s
end
Call.__tostring = Call.line

local function where_said(level)
  local info = debug.getinfo(level + 1, "Sl")
  return info and info.currentline > 0 and ("%s:%d: "):format(info.short_src, info.currentline) or ""
end

--- Checks that the call returned at time t (the net's clock, seconds),
-- give or take the net's tolerance for the interval from its start to t
-- (net:slack); raises, saying by how much it missed, otherwise.
-- @tparam number t
-- @treturn Call the call
-- @usage local _, _, call = k:connect(fd, "10.73.0.2", 8080)
-- call:returned_at(syn.time + 1)
function Call:returned_at(t)
  if type(t) ~= "number" then error("returned_at: a time in seconds expected", 2) end
  if not self.done or not self.returned then error(where_said(2) .. self.shown .. " has not returned", 0) end
  local slack = self.agent.net:slack(math.max(0, t - self.started))
  local off = self.returned - t
  if math.abs(off) > slack then
    error(("%s%s returned at t=%.3f s, %.3f s %s: expected t=%.3f s (+/- %.3f s)"):format(where_said(2),
      self.shown, self.returned, math.abs(off), off > 0 and "late" or "early", t, slack), 0)
  end
  return self
end

--- Checks that the call blocked for s seconds (0: it returned at once),
-- give or take the net's tolerance for s (net:slack); raises otherwise.
-- @tparam number s seconds
-- @treturn Call the call
-- @usage select(3, k:connect(fd, "10.73.0.2", 8080)):blocked_for(1)
function Call:blocked_for(s)
  if type(s) ~= "number" then error("blocked_for: seconds expected", 2) end
  if not self.done or not self.returned then error(where_said(2) .. self.shown .. " has not returned", 0) end
  local slack = self.agent.net:slack(s)
  if math.abs(self.blocked - s) > slack then
    error(("%s%s blocked for %.3f s: expected %.3f s (+/- %.3f s)"):format(where_said(2), self.shown,
      self.blocked, s, slack), 0)
  end
  return self
end

-- synfin.facade: the same calls on a synfin host in the sim (kernel.sim)
kernel._Agent, kernel._Call, kernel._REQUESTS = Agent, Call, REQUESTS
require("synfin.facade").install(kernel)

return kernel
