-- The kernel's socket calls as script lines (issue 16), packetdrill's way:
-- the Linux kernel's TCP is the one under test, its calls are made by
-- synfin-agent (synfin.kernel), and synfin plays the other side over a TUN
-- device. Each case reads as a trace: a kernel call, the segments it
-- causes, synfin's answer, what the call returned and when. Runs only
-- through spec/netns/run, in a network namespace of its own. With
-- SYNFIN_SHOW_TRACE=1 each case prints its ladder, the calls in the
-- kernel's lane.
local interop = require "interop.kernel"
local synfin = require "synfin"
local kernel = require "synfin.kernel"
local scenarios = require "interop.socket_scenarios"
local families = require "helpers.families"

interop.need_namespace "lua5.4 /usr/bin/busted spec/interop/kernel_api_spec.lua"

local scope = interop.scope(after_each)

-- Each test has a subnet of its own, 10.73.N.0/24: the kernel's sockets of
-- the tests before (lingering, closing when their agent stopped) send
-- nothing into this one, their routes gone with their devices.
local subnet = 0
local function tun_net(v6)
  subnet = subnet + 1
  local a, b = ("10.73.%d.1"):format(subnet), ("10.73.%d.2"):format(subnet)
  if v6 then a, b = ("fd00:73:%x::1"):format(subnet), ("fd00:73:%x::2"):format(subnet) end
  local net = synfin.tun { kernel = a }
  scope.on_cleanup(function() net:close() end)
  return net, b
end

-- A fresh net and device, a synfin host with settings, and an agent.
local function setup(settings, v6)
  local net, addr = tun_net(v6)
  settings = settings or {}
  settings.name = "synfin"
  local peer = net:host(addr, settings)
  local k = kernel.agent(net)
  scope.on_cleanup(function()
    if os.getenv("SYNFIN_SHOW_TRACE") then print(k:trace()) end
    k:stop()
  end)
  return net, peer, k
end

-- The env of a shared scenario (spec/interop/socket_scenarios.lua): the
-- kernel, which differs from itself in nothing.
local function shared_setup(settings)
  local net, peer, k = setup(settings)
  return { net = net, peer = peer, k = k, sut = net.kernel, differs = {} }
end
-- the same over IPv6: the kernel's sockets AF_INET6
local function shared_setup6(settings)
  local net, peer, k = setup(settings, true)
  return { net = net, peer = peer, k = k, sut = net.kernel, differs = {}, domain = "AF_INET6" }
end

-- A kernel socket connected to a synfin listener at port: its fd and
-- synfin's end.
local function connected(net, peer, k, port)
  local l = peer:listen(port)
  local fd = assert(k:socket())
  assert.equal(0, k:connect(fd, peer.addr, port))
  net:expect({ from = net.kernel, flags = "=A" }, 1) -- the handshake's last ACK
  local c = l:accept(1)
  c:wait("ESTABLISHED", 1)
  return fd, c
end

describe("the kernel's socket calls (synfin.kernel), IPv6", function()
  -- the scenarios shared with the sim's facade (spec/facade_spec.lua), the
  -- kernel's sockets AF_INET6 over an IPv6 device
  for _, s in ipairs(scenarios.list) do
    it(s.title, function() s.fn(shared_setup6) end)
  end
end)

describe("the kernel's socket calls (synfin.kernel)", function()
  -- the scenarios shared with the sim's facade (spec/facade_spec.lua)
  for _, s in ipairs(scenarios.list) do
    it(s.title, function() s.fn(shared_setup) end)
  end

  it("TCP_INFO: the handshake's options, the MSS, the window, the RTO, retransmissions", function()
    -- synfin offers no timestamps: the MSS is the whole 1460 bytes
    local net, peer, k = setup { timestamps = false }
    net:run(function()
      local fd, c = connected(net, peer, k, 9014)
      local info = k:tcp_info(fd)
      assert.equal("ESTABLISHED", info.state)
      assert.equal("Open", info.ca_state)
      assert.same({ timestamps = false, sack = true, wscale = true, ecn = false }, info.options)
      assert.equal(1460, info.snd_mss)
      assert.equal(10, info.snd_cwnd) -- Linux's initial window (RFC 6928)
      assert.is_true(info.rto >= 0.2) -- Linux's minimum RTO
      assert.equal(0, info.unacked)
      assert.equal(0, info.total_retrans)
      -- synfin loses the kernel's first data segment: the kernel resends it
      -- after its RTO, and TCP_INFO counts it
      local drop = peer:hook("ingress", { flags = "P", count = 1 }, function() return "drop" end)
      assert.equal(1000, k:write(fd, 1000))
      local first = net:expect({ from = net.kernel, len = 1000 }, 1)
      assert.equal(1, k:tcp_info(fd).unacked)
      local again = net:expect({ from = net.kernel, len = 1000, seq = first.seq }, 2)
      assert.near(info.rto, again.time - first.time, net:slack(info.rto))
      assert.equal(("abcdefghijklmnopqrstuvwxyz"):rep(39):sub(1, 1000), c:recv(1000, 1))
      net:sleep(0.05)
      info = k:tcp_info(fd)
      assert.equal(1, info.total_retrans)
      assert.equal(0, info.unacked)
      assert.equal(1001, info.bytes_acked) -- Linux counts the SYN's sequence number too
      assert.equal(1, drop.dropped)
    end)
  end)

  it("getsockopt of an unknown option is refused by the agent, with the call shown", function()
    local net, _, k = setup()
    net:run(function()
      local fd = assert(k:socket())
      local ok, err = pcall(k.getsockopt, k, fd, "SO_NOSUCH")
      assert.is_false(ok)
      assert.matches("synfin%-agent refused getsockopt%(3, SO_NOSUCH%): unknown socket option", err)
      assert.equal("EBADF", select(2, k:close(99)))
    end)
  end)
end)

-- The agent's sockets of either family (socket(..., "AF_INET6")): a device
-- with the family's address (a subnet of its own per test, as tun_net's),
-- the kernel's client and server ends, the addresses as the calls report
-- them and ss shows them.
families.describe("the kernel's sockets over TUN", function(f)
  local v6 = f.name == "IPv6"
  local function family_setup()
    subnet = subnet + 1
    local kaddr = v6 and ("fd00:73:%x::1"):format(subnet) or ("10.73.%d.1"):format(subnet)
    local net = synfin.tun { kernel = kaddr }
    scope.on_cleanup(function() net:close() end)
    local peer = net:host(v6 and ("fd00:73:%x::2"):format(subnet) or ("10.73.%d.2"):format(subnet))
    local k = kernel.agent(net)
    scope.on_cleanup(function() k:stop() end)
    return net, peer, k, v6 and "AF_INET6" or "AF_INET"
  end
  local function at(addr, port) return interop.endpoint(addr, port) end

  it("a kernel client: connect, write, read, close; the addresses of the family, the MSS of its headers", function()
    local net, peer, k, domain = family_setup()
    net:run(function()
      local l = peer:listen(9020)
      local fd = assert(k:socket(nil, domain))
      local ok, _, call = k:connect(fd, peer.addr, 9020)
      assert.equal(0, ok)
      assert.equal(at(peer.addr, 9020), call.peer)
      assert.equal(net.kernel.addr, call.sock:match("^%[?(.-)%]?:%d+$"))
      local syn = net:expect({ from = net.kernel, flags = "S" }, 0)
      assert.equal(f.mss, syn.mss) -- 1500 less the family's 40 or 60 bytes of headers
      local c = l:accept(1)
      assert.equal(net.kernel.addr, c:info().raddr)
      assert.equal(5, k:write(fd, "hello"))
      assert.equal("hello", c:recv(5, 1))
      c:send("world")
      assert.equal("world", k:read(fd, 5))
      assert.equal("ESTABLISHED", k:ss(fd).state) -- found by the reported addresses
      assert.equal(0, k:close(fd))
      c:wait("CLOSE_WAIT", 1)
    end)
  end)

  it("a kernel server: bind to the family's any address, listen, accept synfin's connect", function()
    local net, peer, k, domain = family_setup()
    -- (a port per family: IPv6's "::" takes IPv4's too, where the IPv4
    -- run's socket may linger in TIME_WAIT)
    local port = v6 and 9022 or 9021
    net:run(function()
      local fd = assert(k:socket(nil, domain))
      assert.equal(0, k:bind(fd, v6 and "::" or "0.0.0.0", port))
      assert.equal(0, k:listen(fd, 4))
      assert.equal("LISTEN", k:ss(fd).state)
      local c = peer:connect(net.kernel.addr, port)
      c:wait("ESTABLISHED", 1)
      local conn, _, call = k:accept(fd)
      assert.truthy(conn)
      assert.equal(at(peer.addr, c:info().lport), call.peer)
      c:send("ping")
      assert.equal("ping", k:read(conn, 4))
    end)
  end)
end)

describe("synfin-agent itself", function()
  it("exits cleanly when stopped, after every kind of call and of bad request (the sanitizer build checks its memory)", function()
    local net, peer, k = setup()
    peer:listen(9020)
    net:run(function()
      local fd = assert(k:socket("SOCK_STREAM|SOCK_CLOEXEC"))
      assert(k:connect(fd, peer.addr, 9020))
      assert(k:write(fd, "\0\1\255 bytes"))
      assert(k:send(fd, 3000, "MSG_NOSIGNAL"))
      assert(k:tcp_info(fd))
      assert(k:getsockopt(fd, "TCP_INFO"))
      assert(k:getsockname(fd))
      assert(k:getpeername(fd))
      assert(k:setsockopt(fd, "TCP_MAXSEG", 1000))
      assert(k:setsockopt(fd, "SO_RCVBUF", 65536))
      assert(k:setsockopt(fd, "SO_SNDBUF", 65536))
      assert(k:getsockopt(fd, "SO_RCVBUF"))
      assert.equal("EAGAIN", select(2, k:recv(fd, 10, "MSG_DONTWAIT")))
      for _, bad in ipairs { { "getsockopt", fd, "SO_NOSUCH" }, { "setsockopt", fd, "SO_ERROR", 1 },
          { "recv", fd, 10, "MSG_NOSUCH" }, { "fcntl", fd, "F_NOSUCH" }, { "shutdown", fd, "SHUT_NOSUCH" },
          { "socket", "SOCK_NOSUCH" }, { "connect", fd, "10.73.0", 1 } } do
        local ok, err = pcall(function() return k:start(table.unpack(bad)):wait() end)
        assert.is_false(ok)
        assert.matches("synfin%-agent refused", err)
      end
      assert(k:close(fd))
    end)
    local ok, how, code = k:stop()
    assert.same({ true, "exit", 0 }, { ok, how, code })
  end)
end)

describe("synfin-agent's namespace check", function()
  it("runs here, in the test's own namespace, and says why", function()
    local net, _, k = setup()
    assert.truthy(k.pid)
    assert.matches("not the initial user namespace", k.namespace)
    net:close()
  end)

  it("an agent that refuses to run makes kernel.agent fail, saying how to run the test", function()
    local net = tun_net()
    local fake = os.tmpname()
    scope.on_cleanup(function() os.remove(fake) end)
    local f = assert(io.open(fake, "w"))
    f:write("#!/bin/sh\necho '{id=0,hello=false,error=\"this is PID 1'\"'\"'s network namespace\"}'\nexit 1\n")
    f:close()
    os.execute("chmod +x " .. fake)
    local ok, err = pcall(kernel.agent, net, { agent = fake })
    assert.is_false(ok)
    assert.matches("refuses to run here: this is PID 1's network namespace", err, 1, true)
    assert.matches("allow_host_namespace = true", err, 1, true)
  end)

  it("needs a real-time net", function()
    local ok, err = pcall(kernel.agent, synfin.sim {})
    assert.is_false(ok)
    assert.matches("need a real-time net", err, 1, true)
  end)
end)
