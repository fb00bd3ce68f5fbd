-- The socket facade (kernel.sim, synfin.facade): the scenarios that
-- spec/interop/kernel_api_spec.lua runs against the Linux kernel over TUN
-- (spec/interop/socket_scenarios.lua), run against a synfin host in the
-- sim, in virtual time, by changing the net. Where synfin differs from
-- what the kernel does, `differs` says what synfin does instead, and why:
-- the scenario asserts that, and the kernel's value stays beside it.
local synfin = require "synfin"
local kernel = require "synfin.kernel"
local scenarios = require "interop.socket_scenarios"

-- What synfin does where the kernel does otherwise (the kernel's, in the
-- scenarios, after `or`): one list, the differential's (empty today).
local DIFFERS = require("interop.differential").SIM_DIFFERS

-- A sim with the facade's host and a synfin peer, at addresses of one
-- family (the socket calls' domain: AF_INET or AF_INET6).
local function setup_of(domain)
  local a, b = "10.73.0.1", "10.73.0.2"
  if domain == "AF_INET6" then a, b = "fd00:73::1", "fd00:73::2" end
  return function(settings)
    local net = synfin.sim { latency = 0 }
    local sut = net:host(a, { name = "synfin (sockets)" })
    settings = settings or {}
    settings.name = "synfin"
    local peer = net:host(b, settings)
    local k = kernel.sim(net, sut)
    return { net = net, peer = peer, k = k, sut = sut, differs = DIFFERS, domain = domain }
  end
end
local setup = setup_of("AF_INET")

for _, domain in ipairs { "AF_INET", "AF_INET6" } do
  describe(("the kernel's socket calls on a synfin host in the sim (kernel.sim), %s"):format(domain), function()
    for _, s in ipairs(scenarios.list) do
      it(s.title, function() s.fn(setup_of(domain)) end)
    end
  end)
end

describe("the facade's sockets of a family", function()
  it("bind takes the family's any address or one of the host's; the other family's is EAFNOSUPPORT", function()
    local env = setup_of("AF_INET6")()
    local k = env.k
    env.net:run(function()
      local fd = assert(k:socket(nil, "AF_INET6"))
      assert.equal("EAFNOSUPPORT", select(2, k:bind(fd, "0.0.0.0", 9100)))
      assert.equal("EADDRNOTAVAIL", select(2, k:bind(fd, "fd00:73::9", 9100)))
      assert.equal(0, k:bind(fd, "::", 9100))
      assert.equal(0, k:listen(fd, 1))
      local row = k:ss(fd)
      assert.equal("LISTEN", row.state)
      assert.equal("[::]:*", row.peer)
      local c = env.peer:connect("fd00:73::1", 9100)
      c:wait("ESTABLISHED", 1)
      local conn, _, call = k:accept(fd)
      assert.truthy(conn)
      assert.equal(("[fd00:73::2]:%d"):format(c:info().lport), call.peer)
      assert.equal("[fd00:73::1]:9100", call.sock)
      local v4 = assert(k:socket())
      assert.equal("EAFNOSUPPORT", select(2, k:connect(v4, "fd00:73::2", 9100)))
    end)
  end)
end)

describe("the socket facade's own semantics (Linux's, where RFC 9293 leaves room)", function()
  it("file descriptors are the lowest free from 3; a bad one is EBADF; accept takes connections in the order they completed", function()
    local env = setup()
    local net, peer, k, sut = env.net, env.peer, env.k, env.sut
    net:run(function()
      local lfd = assert(k:socket())
      assert.equal(0, k:bind(lfd, "0.0.0.0", 7000))
      assert.equal(0, k:listen(lfd, 5))
      local other = assert(k:socket())
      assert.equal(4, other)
      assert.equal(0, k:close(other))
      assert.equal("EBADF", select(2, k:close(other)))
      assert.equal("EBADF", select(2, k:read(99, 1)))
      local a = peer:connect(sut.addr, 7000)
      a:wait("ESTABLISHED", 1)
      local b = peer:connect(sut.addr, 7000)
      b:wait("ESTABLISHED", 1)
      assert.equal("POLLIN", k:poll(lfd, "POLLIN", 0))
      local fa, _, ca = k:accept(lfd)
      assert.equal(4, fa) -- 4 was freed: the lowest again
      assert.equal(peer.addr .. ":" .. a:info().lport, ca.peer)
      local fb, _, cb = k:accept(lfd)
      assert.equal(5, fb)
      assert.equal(peer.addr .. ":" .. b:info().lport, cb.peer)
      assert.equal(0, k:fcntl(lfd, "F_SETFL", "O_RDWR|O_NONBLOCK"))
      assert.equal("EAGAIN", select(2, k:accept(lfd)))
      assert.equal("EADDRINUSE", select(2, k:bind(assert(k:socket()), sut.addr, 7000)))
    end)
  end)

  it("listen(fd, 0) holds one established connection, as Linux's accept queue does; the next SYN goes unanswered", function()
    local env = setup()
    local net, peer, k, sut = env.net, env.peer, env.k, env.sut
    net:run(function()
      local lfd = assert(k:socket())
      assert.equal(0, k:bind(lfd, sut.addr, 7001))
      assert.equal(0, k:listen(lfd, 0))
      local a = peer:connect(sut.addr, 7001)
      a:wait("ESTABLISHED", 1)
      peer:connect(sut.addr, 7001)
      net:expect({ from = peer, flags = "=S" }, 1)
      net:expect_nothing({ from = sut, flags = "SA" }, 0.5)
      assert.equal(4, k:accept(lfd))
    end)
  end)

  it("options synfin has no equivalent for fail honestly; TCP_NODELAY and keepalive map to synfin's settings", function()
    local env = setup()
    local net, k = env.net, env.k
    net:run(function()
      local fd, c = require("interop.socket_scenarios").connected(env, 7002)
      assert.equal("ENOPROTOOPT", select(2, k:setsockopt(fd, "TCP_CORK", 1)))
      assert.equal("ENOPROTOOPT", select(2, k:getsockopt(fd, "TCP_QUICKACK")))
      assert.equal("EOPNOTSUPP", select(2, k:setsockopt(fd, "SO_RCVBUF", 4096))) -- fixed once connected
      assert.equal("EOPNOTSUPP", select(2, k:send(fd, "x", "MSG_MORE")))
      assert.has_error(function() k:setsockopt(fd, "SO_NOSUCH", 1) end)
      assert.equal(0, k:setsockopt(fd, "TCP_NODELAY", 1))
      assert.equal(1, k:getsockopt(fd, "TCP_NODELAY"))
      assert.equal(0, k:setsockopt(fd, "TCP_USER_TIMEOUT", 800))
      assert.equal(800, k:getsockopt(fd, "TCP_USER_TIMEOUT"))
      assert.equal(2, k:write(fd, "ab"))
      assert.equal("ab", c:recv(2, 1))
    end)
  end)

  it("a blocked write goes on only once the free space is half what is queued (sk_stream_is_writeable), not at the first byte freed", function()
    -- synfin offers 2000 bytes, opened 1000 at a time as it reads, in segments of 1000
    local env = setup { rcv_buf = 2000, rcv_buf_max = 0, rcv_window = "rfc", mss = 1000, timestamps = false }
    local net, k = env.net, env.k
    net:run(function()
      local fd, c = require("interop.socket_scenarios").connected(env, 7005)
      assert.equal(0, k:setsockopt(fd, "SO_SNDBUF", 5000)) -- 10000 bytes, doubled
      local function queued()
        local i = k:tcp_info(fd)
        return i.unacked_bytes + i.notsent_bytes
      end
      local w = k:start("write", fd, 20000)
      net:sleep(0.1)
      assert.equal(8000, queued()) -- 10000 taken, 2000 of them acknowledged: 2000 free
      assert.equal(1000, #c:read(1000)) -- the window opens by 1000, which go and are acknowledged
      net:sleep(0.1)
      assert.equal(7000, queued()) -- 3000 free, less than half of 7000: the write still waits
      assert.equal("", k:poll(fd, "POLLOUT", 0))
      assert.equal(1000, #c:read(1000))
      net:sleep(0.1)
      assert.equal(10000, queued()) -- 4000 free, half of 6000 at least: it took 4000 more
      assert.is_true(w:pending())
    end)
  end)

  it("data that comes after close() is answered with a RST (Linux); SO_LINGER with a timeout blocks close until the FIN is acknowledged", function()
    local env = setup()
    local net, peer, k, sut = env.net, env.peer, env.k, env.sut
    net:run(function()
      local fd, c = require("interop.socket_scenarios").connected(env, 7003)
      assert.equal(0, k:close(fd))
      net:expect({ from = sut, flags = "F" }, 1)
      c:wait("CLOSE_WAIT", 1)
      c:send("too late")
      net:expect({ from = sut, flags = "R" }, 1)
      c:wait("CLOSED", 1)

      local fd2, c2 = require("interop.socket_scenarios").connected(env, 7004)
      assert.equal(0, k:setsockopt(fd2, "SO_LINGER", { onoff = 1, linger = 2 }))
      -- the ACK held 0.1 s, under the RTO (the linux profile's: the sim's
      -- zero RTT + 200 ms), so that it is the ACK that ends the wait, not
      -- the one a retransmitted FIN would draw at 0.2 s
      local hold = peer:hook("egress", { flags = "A", count = 1 }, function() return { delay = 0.1 } end)
      local _, _, call = k:close(fd2)
      call:blocked_for(0.1) -- until the held ACK of its FIN came
      assert.equal(1, hold.delayed)
      assert.equal("CLOSE_WAIT", c2:state())
      assert.equal("FIN_WAIT_2", k:ss(fd2).state) -- closed, its FIN acknowledged
    end)
  end)

  it("the calls are drawn in the lane of the host that makes them", function()
    local net = synfin.sim { latency = 0 }
    local a = net:host("10.73.0.1", { name = "a" })
    local b = net:host("10.73.0.2", { name = "b" })
    local ka, kb = kernel.sim(net, a), kernel.sim(net, b)
    net:run(function()
      local l = assert(kb:socket())
      assert.equal(0, kb:bind(l, b.addr, 80))
      assert.equal(0, kb:listen(l, 1))
      local fd = assert(ka:socket())
      assert.equal(0, ka:connect(fd, b.addr, 80))
      assert.equal(4, kb:accept(l))
    end)
    local lines = kb:trace():lines()
    local found
    for _, line in ipairs(lines) do
      if line:find("(accept(3) = 4)", 1, true) then
        found = true
        -- b's lane is the second: the note is not at the start of the line
        assert.is_nil(line:match("^%s+[%d.]+%s+%(accept"))
      end
    end
    assert.is_true(found)
    local ok, err = pcall(kernel.sim, net, net:peer("10.73.0.9"))
    assert.is_false(ok)
    assert.matches("a synfin host of the net expected", err, 1, true)
  end)
end)
