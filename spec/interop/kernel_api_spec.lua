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

interop.need_namespace "lua5.4 /usr/bin/busted spec/interop/kernel_api_spec.lua"

local scope = interop.scope(after_each)

-- Each test has a subnet of its own, 10.73.N.0/24: the kernel's sockets of
-- the tests before (lingering, closing when their agent stopped) send
-- nothing into this one, their routes gone with their devices.
local subnet = 0
local function tun_net()
  subnet = subnet + 1
  local net = synfin.tun { kernel = ("10.73.%d.1"):format(subnet) }
  scope.on_cleanup(function() net:close() end)
  return net, ("10.73.%d.2"):format(subnet)
end

-- A fresh net and device, a synfin host with settings, and an agent.
local function setup(settings)
  local net, addr = tun_net()
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

describe("the kernel's socket calls (synfin.kernel)", function()
  it("a kernel listener accepts a synfin client: accept blocks until the handshake's last ACK", function()
    local net, peer, k = setup()
    net:run(function()
      local lfd = assert(k:socket())
      assert.equal(3, lfd) -- as in packetdrill: the agent's first socket
      assert.equal(0, k:setsockopt(lfd, "SO_REUSEADDR", 1))
      assert.equal(0, k:bind(lfd, net.kernel.addr, 9001))
      assert.equal(0, k:listen(lfd, 1))
      assert.equal("LISTEN", k:ss(lfd).state)
      local acc = k:start("accept", lfd) -- blocks: nobody has connected
      net:sleep(0.2)
      assert.is_true(acc:pending()) -- nobody has connected
      local c = peer:connect(net.kernel.addr, 9001)
      local syn = net:expect({ from = peer, flags = "=S" }, 1)
      net:expect({ from = net.kernel, flags = "=SA" }, 1)
      local ack = net:expect({ from = peer, flags = "=A" }, 1)
      local fd = assert(acc:wait(1))
      acc:returned_at(ack.time) -- the ACK completed it
      assert.is_true(acc.started < syn.time - 0.15) -- it was blocked all along
      assert.equal(4, fd)
      assert.equal(peer.addr .. ":" .. c:info().lport, acc.peer)
      assert.equal("ESTABLISHED", k:tcp_info(fd).state)
      c:send("ping")
      assert.equal("ping", k:read(fd, 100))
      assert.equal(4, k:write(fd, "pong"))
      assert.equal("pong", c:recv(4, 1))
      assert.equal(0, k:close(fd)) -- the kernel closes first: its FIN
      net:expect({ from = net.kernel, flags = "F" }, 1)
      c:wait("CLOSE_WAIT", 1)
      c:close()
      c:wait("CLOSED", 2)
      assert.equal("TIME_WAIT", k:ss(fd).state) -- closed, lingering
      assert.equal(0, k:close(lfd))
    end)
    -- the ladder: the calls in the kernel's lane, among the segments
    local text = k:trace():text()
    assert.truthy(text:find("accept(3) ...", 1, true))
    assert.truthy(text:find("accept(3) = 4, after", 1, true))
  end)

  it("connect to a port nobody listens on: ECONNREFUSED as synfin's RST comes", function()
    local net, peer, k = setup()
    net:run(function()
      local fd = assert(k:socket())
      local ok, err, call = k:connect(fd, peer.addr, 9002)
      local syn = net:expect({ from = net.kernel, flags = "=S" }, 1)
      local rst = net:expect({ from = peer, flags = "R" }, 1)
      assert.is_nil(ok)
      assert.equal("ECONNREFUSED", err)
      assert.equal(-1, call.ret)
      assert.equal("Connection refused", call.err)
      assert.is_true(call.started <= syn.time + k.clock_error)
      call:returned_at(rst.time):blocked_for(0)
      assert.equal(call, k:calls()[2]) -- socket, then connect
    end)
    -- in the ladder the call returns after the RST
    local lines = k:trace():lines()
    local rst_at, ret_at
    for i, line in ipairs(lines) do
      if line:find("RA seq=0 ack=1", 1, true) then rst_at = i end
      if line:find("connect(3, " .. peer.addr .. ":9002) = -1 ECONNREFUSED (Connection refused)", 1, true) then
        ret_at = i
      end
    end
    assert.truthy(rst_at)
    assert.truthy(ret_at)
    assert.is_true(ret_at > rst_at)
  end)

  it("a blocking connect returns when synfin's SYN-ACK comes, 0.5 s late", function()
    local net, peer, k = setup()
    peer:listen(9003)
    peer:hook("egress", { flags = "SA", count = 1 }, function() return { delay = 0.5 } end)
    net:run(function()
      local fd = assert(k:socket())
      local conn = k:start("connect", fd, peer.addr, 9003)
      local syn = net:expect({ from = net.kernel, flags = "=S" }, 1)
      local sa = net:expect({ from = peer, flags = "=SA" }, 1)
      assert.equal(0, conn:wait(2))
      -- the hook held the SYN-ACK 0.5 s; the call returned when it reached
      -- the kernel (timed from that write, not from the SYN: a busy machine
      -- that runs synfin late must not blame the kernel for it)
      assert.equal(0.5, sa.delay)
      assert.is_true(sa.arrival - syn.time >= 0.5, "the SYN-ACK left before its delay was over")
      conn:returned_at(sa.arrival)
      net:expect({ from = net.kernel, flags = "=A" }, 1)
      assert.equal("ESTABLISHED", k:tcp_info(fd).state)
    end)
  end)

  it("a non-blocking connect: EINPROGRESS at once, then poll says POLLOUT when the handshake is done", function()
    local net, peer, k = setup()
    peer:listen(9004)
    peer:hook("egress", { flags = "SA", count = 1 }, function() return { delay = 0.3 } end)
    net:run(function()
      local fd = assert(k:socket())
      assert.equal(0, k:fcntl(fd, "F_SETFL", "O_RDWR|O_NONBLOCK"))
      assert.equal("O_RDWR|O_NONBLOCK", k:fcntl(fd, "F_GETFL"))
      local ok, err, call = k:connect(fd, peer.addr, 9004)
      assert.is_nil(ok)
      assert.equal("EINPROGRESS", err)
      call:blocked_for(0)
      local syn = net:expect({ from = net.kernel, flags = "=S" }, 1)
      local sa = net:expect({ from = peer, flags = "=SA" }, 1)
      assert.equal("EALREADY", select(2, k:connect(fd, peer.addr, 9004)))
      assert.equal("SYN_SENT", k:tcp_info(fd).state)
      local ev, _, p = k:poll(fd, "POLLOUT", 2)
      assert.equal("POLLOUT", ev)
      assert.is_true(sa.arrival - syn.time >= 0.3, "the SYN-ACK left before its delay was over")
      p:returned_at(sa.arrival) -- when the held SYN-ACK reached the kernel
      assert.equal(0, k:getsockopt(fd, "SO_ERROR"))
      -- Linux: the first connect after it completed says so (0), the next EISCONN
      assert.equal(0, k:connect(fd, peer.addr, 9004))
      assert.equal("EISCONN", select(2, k:connect(fd, peer.addr, 9004)))

      -- and where nobody listens, poll reports the error and SO_ERROR names it
      local fd2 = assert(k:socket("SOCK_STREAM|SOCK_NONBLOCK"))
      assert.equal("EINPROGRESS", select(2, k:connect(fd2, peer.addr, 9005)))
      net:expect({ from = peer, flags = "R" }, 1)
      assert.equal("POLLIN|POLLOUT|POLLERR|POLLHUP", k:poll(fd2, "POLLIN|POLLOUT", 1))
      assert.equal("ECONNREFUSED", k:getsockopt(fd2, "SO_ERROR"))
      assert.equal(0, k:getsockopt(fd2, "SO_ERROR")) -- reading it cleared it
    end)
  end)

  it("shutdown(SHUT_WR) sends a FIN; the kernel still reads, and writing fails with EPIPE", function()
    local net, peer, k = setup()
    net:run(function()
      local fd, c = connected(net, peer, k, 9006)
      local _, _, call = k:shutdown(fd, "SHUT_WR")
      local fin = net:expect({ from = net.kernel, flags = "F" }, 1)
      assert.equal(0, fin.len)
      assert.is_true(fin.time >= call.started - k.clock_error)
      net:expect({ from = peer, flags = "=A", ack = fin.seq + 1 }, 1)
      c:wait("CLOSE_WAIT", 1)
      assert.equal("FIN_WAIT_2", k:tcp_info(fd).state)
      c:send("still open this way") -- half-closed: synfin may still send
      assert.equal("still open this way", k:read(fd, 100))
      assert.equal("EPIPE", select(2, k:write(fd, "x")))
      c:close()
      assert.equal("", k:read(fd, 100)) -- EOF
      assert.equal("TIME_WAIT", k:ss(fd).state)
    end)
  end)

  it("read returns 0 at the end of the stream: a blocked read returns when synfin's FIN comes", function()
    local net, peer, k = setup()
    net:run(function()
      local fd, c = connected(net, peer, k, 9007)
      local rd = k:start("read", fd, 100)
      net:sleep(0.3)
      assert.is_true(rd:pending()) -- nothing to read yet
      c:close()
      local fin = net:expect({ from = peer, flags = "F" }, 1)
      local data, err, call = rd:wait(1)
      assert.equal("", data)
      assert.is_nil(err)
      assert.equal(0, call.ret)
      call:returned_at(fin.time)
      assert.is_true(call.started < fin.time - 0.25) -- it was blocked all along
      assert.equal("", k:read(fd, 100)) -- and again, at once
      assert.equal("POLLIN|POLLRDHUP", k:poll(fd, "POLLIN|POLLRDHUP", 0))
      assert.equal("CLOSE_WAIT", k:tcp_info(fd).state)
    end)
  end)

  it("close with unread data sends a RST, not a FIN (Linux, RFC 2525 §2.17)", function()
    local net, peer, k = setup()
    net:run(function()
      local fd, c = connected(net, peer, k, 9008)
      c:send("never read")
      net:expect({ from = net.kernel, flags = "=A", ack = 11 }, 1)
      assert.equal(10, k:ss(fd).recv_q)
      assert.equal(0, k:close(fd))
      net:expect({ from = net.kernel, flags = "R" }, 1)
      net:expect_nothing({ from = net.kernel, flags = "F" }, 0.3)
      c:wait("CLOSED", 1)
      assert.is_nil(k:ss(fd)) -- gone at once: no FIN_WAIT, no TIME_WAIT
    end)
  end)

  it("SO_LINGER with a zero timeout: close sends a RST", function()
    local net, peer, k = setup()
    net:run(function()
      local fd, c = connected(net, peer, k, 9009)
      assert.equal(0, k:setsockopt(fd, "SO_LINGER", { onoff = 1, linger = 0 }))
      assert.same({ onoff = 1, linger = 0 }, k:getsockopt(fd, "SO_LINGER"))
      local _, _, call = k:close(fd)
      local rst = net:expect({ from = net.kernel, flags = "R" }, 1)
      net:expect_nothing({ from = net.kernel, flags = "F" }, 0.3)
      call:blocked_for(0)
      assert.is_true(rst.time >= call.started - k.clock_error)
      c:wait("CLOSED", 1)
      assert.is_nil(k:ss(fd))
    end)
  end)

  it("TCP_NODELAY: without it a second small write waits for the ACK of the first (Nagle), with it it goes at once", function()
    -- synfin delays its ACKs by 0.1 s, so the first byte stays unacknowledged
    -- (well before the kernel's own timers, 200 ms at least, would resend it)
    local net, peer, k = setup { delayed_ack = 0.1 }
    net:run(function()
      local fd, c = connected(net, peer, k, 9010)
      assert.equal(0, k:getsockopt(fd, "TCP_NODELAY"))
      -- Nagle (RFC 9293 §3.7.4, RFC 896): one small segment in flight at a time
      k:write(fd, "a")
      local a = net:expect({ from = net.kernel, len = 1 }, 1)
      k:write(fd, "b")
      local ack = net:expect({ from = peer, flags = "=A", ack = 2 }, 1)
      local b = net:expect({ from = net.kernel, len = 1 }, 1)
      assert.near(0.1, ack.time - a.time, net:slack(0.1))
      assert.is_true(b.time >= ack.time, "the second byte left before the ACK of the first")
      assert.equal("ab", c:recv(2, 1))
      net:sleep(0.3) -- everything acknowledged
      -- TCP_NODELAY: the second byte does not wait
      assert.equal(0, k:setsockopt(fd, "TCP_NODELAY", 1))
      assert.equal(1, k:getsockopt(fd, "TCP_NODELAY"))
      k:write(fd, "c")
      local c1 = net:expect({ from = net.kernel, len = 1 }, 1)
      k:write(fd, "d")
      local d = net:expect({ from = net.kernel, len = 1 }, 1)
      assert.is_true(d.time - c1.time < 0.1, ("the second byte waited %.3f s"):format(d.time - c1.time))
      assert.equal("cd", c:recv(2, 1))
    end)
  end)

  it("poll: at once, blocking until data comes, and timing out", function()
    local net, peer, k = setup()
    net:run(function()
      local fd, c = connected(net, peer, k, 9011)
      assert.equal("POLLOUT", k:poll(fd, "POLLIN|POLLOUT", 0))
      local p = k:start("poll", fd, "POLLIN", 2)
      net:sleep(0.3)
      c:send("x")
      local seg = net:expect({ from = peer, len = 1 }, 1)
      assert.equal("POLLIN", p:wait())
      p:returned_at(seg.time)
      assert.equal(1, p.ret)
      local ev, _, call = k:poll(fd, "POLLPRI", 0.25) -- nothing urgent comes
      assert.equal("", ev)
      assert.equal(0, call.ret)
      call:blocked_for(0.25)
    end)
  end)

  it("recv with MSG_DONTWAIT and MSG_PEEK", function()
    local net, peer, k = setup()
    net:run(function()
      local fd, c = connected(net, peer, k, 9012)
      local _, err, call = k:recv(fd, 10, "MSG_DONTWAIT")
      assert.equal("EAGAIN", err)
      call:blocked_for(0)
      c:send("peek")
      net:expect({ from = peer, len = 4 }, 1)
      assert.equal("pe", k:recv(fd, 2, "MSG_PEEK"))
      assert.equal("peek", k:recv(fd, 10, "MSG_PEEK|MSG_DONTWAIT"))
      assert.equal("peek", k:read(fd, 10)) -- peeking left it there
    end)
  end)

  it("a RST from synfin: a blocked read fails with ECONNRESET, then a write with EPIPE", function()
    local net, peer, k = setup()
    net:run(function()
      local fd, c = connected(net, peer, k, 9013)
      local rd = k:start("read", fd, 100)
      net:sleep(0.2)
      assert.is_true(rd:pending())
      c:abort()
      local rst = net:expect({ from = peer, flags = "R" }, 1)
      local data, err, call = rd:wait(1)
      assert.is_nil(data)
      assert.equal("ECONNRESET", err)
      call:returned_at(rst.time)
      assert.equal("EPIPE", select(2, k:write(fd, "x")))
      assert.is_nil(k:ss(fd))
    end)
  end)

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

  it("keepalive options: SO_KEEPALIVE with TCP_KEEPIDLE 1 s sends a probe after 1 s idle", function()
    local net, peer, k = setup()
    net:run(function()
      local fd = connected(net, peer, k, 9015)
      assert.equal(0, k:setsockopt(fd, "TCP_KEEPIDLE", 1))
      assert.equal(0, k:setsockopt(fd, "TCP_KEEPINTVL", 1))
      assert.equal(0, k:setsockopt(fd, "TCP_KEEPCNT", 2))
      local _, _, on = k:setsockopt(fd, "SO_KEEPALIVE", true)
      assert.equal(1, k:getsockopt(fd, "SO_KEEPALIVE"))
      assert.equal(1, k:getsockopt(fd, "TCP_KEEPIDLE"))
      -- the probe: an ACK one below SND.NXT (RFC 9293 §3.8.4), 1 s after the last activity
      local probe = net:expect({ from = net.kernel, flags = "=A", len = 0 }, 2)
      assert.near(on.returned + 1, probe.time, net:slack(1))
      net:expect({ from = peer, flags = "=A" }, 1) -- synfin answers it
    end)
  end)

  it("TCP_USER_TIMEOUT: unacknowledged data for longer ends the connection with ETIMEDOUT", function()
    local net, peer, k = setup()
    net:run(function()
      local fd = connected(net, peer, k, 9016)
      assert.equal(0, k:setsockopt(fd, "TCP_USER_TIMEOUT", 800)) -- milliseconds
      assert.equal(800, k:getsockopt(fd, "TCP_USER_TIMEOUT"))
      peer:hook("ingress", { flags = "P" }, function() return "drop" end) -- synfin hears nothing
      local _, _, w = k:write(fd, "lost")
      local rd = k:start("read", fd, 100)
      local _, err, call = rd:wait(3)
      assert.equal("ETIMEDOUT", err)
      assert.is_true(call.returned - w.returned >= 0.8 - net:slack(0.8))
      assert.is_true(call.returned - w.returned < 2)
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
