-- The socket scenarios of issue 16, each a function of a setup: the same
-- scenario runs against the Linux kernel over TUN (spec/interop/
-- kernel_api_spec.lua: setup makes a synfin.tun net and kernel.agent) and
-- against a synfin host in the sim (spec/facade_spec.lua: a sim and
-- kernel.sim, the socket facade), by changing the net.
--
-- setup(settings) returns an env: net, peer (the synfin host on the other
-- side, with settings), k (the socket calls: an Agent or a facade), sut
-- (the host whose calls they are, for patterns' `from`: net.kernel, or the
-- facade's host), and differs: where the system under test is known to
-- differ from what the kernel does, what it gives instead (each named and
-- explained where the facade's setup lists it; empty for the kernel). A
-- scenario asserts `differs.x or <the kernel's>`: each difference is
-- written once, and stays visible.
local assert = require "luassert" -- busted's: this module is required, not run as a spec

local scenarios = {}

-- "10.73.0.2:80", "[fd00:73::2]:80": an address and port as the calls write them
local at = require("synfin.util").endpoint

-- A socket of the system under test connected to a synfin listener at
-- port: its fd and synfin's end.
local function connected(env, port)
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  local l = peer:listen(port)
  local fd = assert(k:socket(nil, env.domain))
  assert.equal(0, k:connect(fd, peer.addr, port))
  net:expect({ from = sut, flags = "=A" }, 1) -- the handshake's last ACK
  local c = l:accept(1)
  c:wait("ESTABLISHED", 1)
  return fd, c
end
scenarios.connected = connected

-- the scenarios in order, with their titles (the specs' `it`s)
scenarios.list = {}
local function scenario(name, title, fn)
  scenarios[name] = fn
  scenarios.list[#scenarios.list + 1] = { name = name, title = title, fn = fn }
end

scenario("accept_blocks", "a kernel listener accepts a synfin client: accept blocks until the handshake's last ACK", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local lfd = assert(k:socket(nil, env.domain))
    assert.equal(3, lfd) -- as in packetdrill: the agent's first socket
    assert.equal(0, k:setsockopt(lfd, "SO_REUSEADDR", 1))
    assert.equal(0, k:bind(lfd, sut.addr, 9001))
    assert.equal(0, k:listen(lfd, 1))
    assert.equal("LISTEN", k:ss(lfd).state)
    local acc = k:start("accept", lfd) -- blocks: nobody has connected
    net:sleep(0.2)
    assert.is_true(acc:pending()) -- nobody has connected
    local c = peer:connect(sut.addr, 9001)
    local syn = net:expect({ from = peer, flags = "=S" }, 1)
    net:expect({ from = sut, flags = "=SA" }, 1)
    local ack = net:expect({ from = peer, flags = "=A" }, 1)
    local fd = assert(acc:wait(1))
    acc:returned_at(ack.time) -- the ACK completed it
    assert.is_true(acc.started < syn.time - 0.15) -- it was blocked all along
    assert.equal(4, fd)
    assert.equal(at(peer.addr, c:info().lport), acc.peer)
    assert.equal("ESTABLISHED", k:tcp_info(fd).state)
    c:send("ping")
    assert.equal("ping", k:read(fd, 100))
    assert.equal(4, k:write(fd, "pong"))
    assert.equal("pong", c:recv(4, 1))
    assert.equal(0, k:close(fd)) -- the kernel closes first: its FIN
    net:expect({ from = sut, flags = "F" }, 1)
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

scenario("connect_refused", "connect to a port nobody listens on: ECONNREFUSED as synfin's RST comes", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local fd = assert(k:socket(nil, env.domain))
    local ok, err, call = k:connect(fd, peer.addr, 9002)
    local syn = net:expect({ from = sut, flags = "=S" }, 1)
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
    if line:find("connect(3, " .. at(peer.addr, 9002) .. ") = -1 ECONNREFUSED (Connection refused)", 1, true) then
      ret_at = i
    end
  end
  assert.truthy(rst_at)
  assert.truthy(ret_at)
  assert.is_true(ret_at > rst_at)
end)

scenario("blocking_connect_delayed", "a blocking connect returns when synfin's SYN-ACK comes, 0.5 s late", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  peer:listen(9003)
  peer:hook("egress", { flags = "SA", count = 1 }, function() return { delay = 0.5 } end)
  net:run(function()
    local fd = assert(k:socket(nil, env.domain))
    local conn = k:start("connect", fd, peer.addr, 9003)
    local syn = net:expect({ from = sut, flags = "=S" }, 1)
    local sa = net:expect({ from = peer, flags = "=SA" }, 1)
    assert.equal(0, conn:wait(2))
    -- the hook held the SYN-ACK 0.5 s; the call returned when it reached
    -- the kernel (timed from that write, not from the SYN: a busy machine
    -- that runs synfin late must not blame the kernel for it)
    assert.equal(0.5, sa.delay)
    assert.is_true(sa.arrival - syn.time >= 0.5, "the SYN-ACK left before its delay was over")
    conn:returned_at(sa.arrival)
    net:expect({ from = sut, flags = "=A" }, 1)
    assert.equal("ESTABLISHED", k:tcp_info(fd).state)
  end)
end)

scenario("nonblocking_connect_poll", "a non-blocking connect: EINPROGRESS at once, then poll says POLLOUT when the handshake is done", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  peer:listen(9004)
  peer:hook("egress", { flags = "SA", count = 1 }, function() return { delay = 0.3 } end)
  net:run(function()
    local fd = assert(k:socket(nil, env.domain))
    assert.equal(0, k:fcntl(fd, "F_SETFL", "O_RDWR|O_NONBLOCK"))
    assert.equal("O_RDWR|O_NONBLOCK", k:fcntl(fd, "F_GETFL"))
    local ok, err, call = k:connect(fd, peer.addr, 9004)
    assert.is_nil(ok)
    assert.equal("EINPROGRESS", err)
    call:blocked_for(0)
    local syn = net:expect({ from = sut, flags = "=S" }, 1)
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
    local fd2 = assert(k:socket("SOCK_STREAM|SOCK_NONBLOCK", env.domain))
    assert.equal("EINPROGRESS", select(2, k:connect(fd2, peer.addr, 9005)))
    net:expect({ from = peer, flags = "R" }, 1)
    assert.equal("POLLIN|POLLOUT|POLLERR|POLLHUP", k:poll(fd2, "POLLIN|POLLOUT", 1))
    assert.equal("ECONNREFUSED", k:getsockopt(fd2, "SO_ERROR"))
    assert.equal(0, k:getsockopt(fd2, "SO_ERROR")) -- reading it cleared it
  end)
end)

scenario("shutdown_half_close", "shutdown(SHUT_WR) sends a FIN; the kernel still reads, and writing fails with EPIPE", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local fd, c = connected(env, 9006)
    local _, _, call = k:shutdown(fd, "SHUT_WR")
    local fin = net:expect({ from = sut, flags = "F" }, 1)
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

scenario("read_eof", "read returns 0 at the end of the stream: a blocked read returns when synfin's FIN comes", function(setup)
  local env = setup()
  local net, peer, k = env.net, env.peer, env.k
  net:run(function()
    local fd, c = connected(env, 9007)
    local rd = k:start("read", fd, 100)
    net:sleep(0.3)
    assert.is_true(rd:pending()) -- nothing to read yet
    local m = net:mark()
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
    -- the FIN's ACK, delayed (Linux: a FIN makes the connection interactive,
    -- tcp_fin): waited for, so that a busy machine's scenario does not end
    -- before it
    net:expect({ from = env.sut, flags = "=A", ack = fin.seq + 1, since = m }, 1)
  end)
end)

scenario("close_unread_rst", "close with unread data sends a RST, not a FIN (Linux, RFC 2525 §2.17)", function(setup)
  local env = setup()
  local net, k, sut = env.net, env.k, env.sut
  net:run(function()
    local fd, c = connected(env, 9008)
    c:send("never read")
    net:expect({ from = sut, flags = "=A", ack = 11 }, 1)
    assert.equal(10, k:ss(fd).recv_q)
    assert.equal(0, k:close(fd))
    net:expect({ from = sut, flags = "R" }, 1)
    net:expect_nothing({ from = sut, flags = "F" }, 0.3)
    c:wait("CLOSED", 1)
    assert.is_nil(k:ss(fd)) -- gone at once: no FIN_WAIT, no TIME_WAIT
  end)
end)

scenario("linger_zero", "SO_LINGER with a zero timeout: close sends a RST", function(setup)
  local env = setup()
  local net, k, sut = env.net, env.k, env.sut
  net:run(function()
    local fd, c = connected(env, 9009)
    assert.equal(0, k:setsockopt(fd, "SO_LINGER", { onoff = 1, linger = 0 }))
    assert.same({ onoff = 1, linger = 0 }, k:getsockopt(fd, "SO_LINGER"))
    local _, _, call = k:close(fd)
    local rst = net:expect({ from = sut, flags = "R" }, 1)
    net:expect_nothing({ from = sut, flags = "F" }, 0.3)
    call:blocked_for(0)
    assert.is_true(rst.time >= call.started - k.clock_error)
    c:wait("CLOSED", 1)
    assert.is_nil(k:ss(fd))
  end)
end)

scenario("nodelay", "TCP_NODELAY: without it a second small write waits for the ACK of the first (Nagle), with it it goes at once", function(setup)
  -- synfin delays its ACKs by 0.1 s (RFC 9293 §3.8.6.3's delayed ACK: the
  -- linux variant's quick-ACK start would ACK at once), so the first byte
  -- stays unacknowledged (well before the kernel's own timers, 200 ms at
  -- least, would resend it)
  local env = setup({ delayed_ack = 0.1, delayed_ack_variant = "rfc" })
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local fd, c = connected(env, 9010)
    assert.equal(0, k:getsockopt(fd, "TCP_NODELAY"))
    -- Nagle (RFC 9293 §3.7.4, RFC 896): one small segment in flight at a time
    k:write(fd, "a")
    local a = net:expect({ from = sut, len = 1 }, 1)
    k:write(fd, "b")
    local ack = net:expect({ from = peer, flags = "=A", ack = 2 }, 1)
    local b = net:expect({ from = sut, len = 1 }, 1)
    assert.near(0.1, ack.time - a.time, net:slack(0.1))
    assert.is_true(b.time >= ack.time, "the second byte left before the ACK of the first")
    assert.equal("ab", c:recv(2, 1))
    net:sleep(0.3) -- everything acknowledged
    -- TCP_NODELAY: the second byte does not wait
    assert.equal(0, k:setsockopt(fd, "TCP_NODELAY", 1))
    assert.equal(1, k:getsockopt(fd, "TCP_NODELAY"))
    k:write(fd, "c")
    local c1 = net:expect({ from = sut, len = 1 }, 1)
    k:write(fd, "d")
    local d = net:expect({ from = sut, len = 1 }, 1)
    assert.is_true(d.time - c1.time < 0.1, ("the second byte waited %.3f s"):format(d.time - c1.time))
    assert.equal("cd", c:recv(2, 1))
  end)
end)

scenario("poll", "poll: at once, blocking until data comes, and timing out", function(setup)
  local env = setup()
  local net, peer, k = env.net, env.peer, env.k
  net:run(function()
    local fd, c = connected(env, 9011)
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

scenario("recv_peek", "recv with MSG_DONTWAIT and MSG_PEEK: a peek copies and leaves the data, a blocking one waits for it", function(setup)
  local env = setup()
  local net, peer, k = env.net, env.peer, env.k
  net:run(function()
    local fd, c = connected(env, 9012)
    local _, err, call = k:recv(fd, 10, "MSG_DONTWAIT")
    assert.equal("EAGAIN", err)
    call:blocked_for(0)
    assert.equal("EAGAIN", select(2, k:recv(fd, 10, "MSG_PEEK|MSG_DONTWAIT")))
    local pk = k:start("recv", fd, 2, "MSG_PEEK") -- blocks as a read does
    net:sleep(0.2)
    assert.is_true(pk:pending())
    c:send("peek")
    local seg = net:expect({ from = peer, len = 4 }, 1)
    local data, _, peeked = pk:wait(1)
    assert.equal("pe", data)
    peeked:returned_at(seg.time)
    assert.equal("peek", k:recv(fd, 10, "MSG_PEEK|MSG_DONTWAIT")) -- the first peek left it all
    assert.equal("peek", k:read(fd, 10)) -- and so did the second
    assert.equal("EAGAIN", select(2, k:recv(fd, 10, "MSG_DONTWAIT")))
  end)
end)

scenario("rst_econnreset", "a RST from synfin: a blocked read fails with ECONNRESET, then a write with EPIPE", function(setup)
  local env = setup()
  local net, peer, k = env.net, env.peer, env.k
  net:run(function()
    local fd, c = connected(env, 9013)
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

scenario("keepalive", "keepalive options: SO_KEEPALIVE with TCP_KEEPIDLE 1 s sends a probe after 1 s idle", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local fd = connected(env, 9015)
    assert.equal(0, k:setsockopt(fd, "TCP_KEEPIDLE", 1))
    assert.equal(0, k:setsockopt(fd, "TCP_KEEPINTVL", 1))
    assert.equal(0, k:setsockopt(fd, "TCP_KEEPCNT", 2))
    local _, _, on = k:setsockopt(fd, "SO_KEEPALIVE", true)
    assert.equal(1, k:getsockopt(fd, "SO_KEEPALIVE"))
    assert.equal(1, k:getsockopt(fd, "TCP_KEEPIDLE"))
    -- the probe: an ACK one below SND.NXT (RFC 9293 §3.8.4), 1 s after the last activity
    local probe = net:expect({ from = sut, flags = "=A", len = 0 }, 2)
    assert.near(on.returned + 1, probe.time, net:slack(1))
    net:expect({ from = peer, flags = "=A" }, 1) -- synfin answers it
  end)
end)

scenario("user_timeout", "TCP_USER_TIMEOUT: unacknowledged data for longer ends the connection with ETIMEDOUT", function(setup)
  local env = setup()
  local net, peer, k = env.net, env.peer, env.k
  net:run(function()
    local fd = connected(env, 9016)
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
scenario("sndbuf_blocking_write", "SO_SNDBUF: getsockopt says Linux's doubled value; a blocking write waits while the send buffer is full", function(setup)
  -- synfin offers a small window, unscaled, all its free space, and reads nothing
  local env = setup { rcv_buf = 4000, rcv_buf_max = 0, rcv_window = "rfc" }
  local net, k = env.net, env.k
  net:run(function()
    local fd = connected(env, 9017)
    assert.equal(0, k:setsockopt(fd, "SO_SNDBUF", 21000))
    assert.equal(42000, k:getsockopt(fd, "SO_SNDBUF")) -- sock_setsockopt doubles it
    local w = k:start("write", fd, 61000)
    net:sleep(0.1)
    -- 4000 bytes in synfin's window, the buffer full behind them: the write
    -- waits, and poll says the socket is not writable (it is left blocked)
    assert.is_true(w:pending())
    assert.equal("", k:poll(fd, "POLLOUT", 0))
  end)
end)

scenario("rcvbuf_doubled", "SO_RCVBUF before connect: getsockopt says Linux's doubled value", function(setup)
  local env = setup()
  local net, peer, k = env.net, env.peer, env.k
  net:run(function()
    local l = peer:listen(9018)
    local fd = assert(k:socket(nil, env.domain))
    assert.equal(0, k:setsockopt(fd, "SO_RCVBUF", 20000))
    assert.equal(40000, k:getsockopt(fd, "SO_RCVBUF"))
    assert.equal(0, k:setsockopt(fd, "SO_RCVBUF", 1))
    assert.equal(2304, k:getsockopt(fd, "SO_RCVBUF")) -- SOCK_MIN_RCVBUF
    assert.equal(0, k:connect(fd, peer.addr, 9018))
    l:accept(1)
  end)
end)

-- The receive side's ACKs and window (the linux profile's core/quickack.c
-- and rcv_window = "linux" follow these)

scenario("quickack", "quick-ACK mode: the first 16 data segments are ACKed at once, the 17th after the delayed ACK's 40 ms", function(setup)
  local env = setup({ nagle = false })
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local fd, c = connected(env, 9020)
    for i = 1, 17 do
      c:send(("q"):rep(10))
      local seg = net:expect({ from = peer, len = 10 }, 1)
      -- tcp_incr_quickack: the window over two MSS guessed (536), at most 16
      local ack = net:expect({ from = sut, flags = "=A", ack = 1 + 10 * i }, 1)
      local wait = i <= 16 and 0 or 0.04 -- then TCP_ATO_MIN (tcp_send_delayed_ack)
      assert.near(wait, ack.time - seg.time, net:slack(wait))
    end
    assert.equal(("q"):rep(170), k:read(fd, 200))
  end)
end)

scenario("fin_delayed_ack", "a FIN after data: its ACK waits the delayed ACK's 40 ms (tcp_fin: interactive mode)", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local fd, c = connected(env, 9021)
    c:send("hello")
    net:expect({ from = sut, flags = "=A", ack = 6 }, 1) -- quick-ACK mode
    c:close()
    local fin = net:expect({ from = peer, flags = "F" }, 1)
    local ack = net:expect({ from = sut, flags = "=A", ack = 7 }, 1)
    assert.near(0.04, ack.time - fin.time, net:slack(0.04))
    assert.equal("hello", k:read(fd, 10))
    assert.equal(0, k:close(fd))
    net:expect({ from = sut, flags = "F" }, 1)
    c:wait("TIME_WAIT", 1) -- synfin closed first
  end)
end)

scenario("read_no_window_update", "reading 1000 bytes of a 64 KiB window sends no window update (__tcp_cleanup_rbuf: not doubled)", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local fd, c = connected(env, 9022)
    c:send(("w"):rep(1000))
    net:expect({ from = peer, len = 1000 }, 1)
    local ack = net:expect({ from = sut, flags = "=A", ack = 1001 }, 1)
    assert.equal(#("w"):rep(1000), #k:read(fd, 1000))
    net:expect_nothing({ from = sut }, 0.3)
    c:send("x") -- the next ACK has the window as it was
    local ack2 = net:expect({ from = sut, flags = "=A", ack = 1002 }, 1)
    assert.equal(ack.win, ack2.win)
  end)
end)
-- The areas of issue 16 where Linux, FreeBSD and RFC 9293 differ, one
-- scenario each: what the kernel sends, and when, is what the linux
-- profile must send.

scenario("zero_window_probe", "a zero window: the kernel probes it, the RTO after the window closed, then backing off", function(setup)
  -- synfin offers 4000 bytes, unscaled, and reads nothing: the window closes
  local env = setup { rcv_buf = 4000, rcv_buf_max = 0, rcv_window = "rfc" }
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local fd, c = connected(env, 9030)
    k:write(fd, ("z"):rep(6000))
    local zero = net:expect({ from = peer, flags = "=A", ack = 4001, win = 0 }, 1)
    -- Linux's probe (tcp_xmit_probe_skb): no data, SEQ = SND.UNA - 1, an old
    -- sequence number that synfin answers with an ACK and its window (not
    -- the second, 0.4 s after the first: its out-of-window ACKs are limited
    -- to one per 0.5 s, as Linux's tcp_oow_rate_limited)
    local probes = {}
    for i = 1, 3 do probes[i] = net:expect({ from = sut, flags = "=A", seq = 4000, len = 0 }, 3) end
    -- the first the RTO after the window closed, then twice as long each
    -- time (tcp_probe_timer: tcp_probe0_when, the RTO backed off)
    local g1, g2 = probes[2].time - probes[1].time, probes[3].time - probes[2].time
    assert.near(2 * g1, g2, 0.05 * g2 + net:slack(g2))
    assert.is_true(probes[1].time - zero.time >= 0.2 - net:slack(0.2), "the first probe came before TCP_RTO_MIN")
    local m = net:mark()
    assert.equal(4000, #c:recv(4000, 1)) -- the window opens: the rest comes
    net:expect({ from = sut, seq = 4001, since = m }, 1)
    net:expect({ from = peer, flags = "=A", ack = 6001, since = m }, 1)
  end)
end)

scenario("keepalive_gives_up", "keep-alive unanswered: after TCP_KEEPCNT probes the kernel sends a RST and a blocked read gets ETIMEDOUT", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local fd = connected(env, 9031)
    assert.equal(0, k:setsockopt(fd, "TCP_KEEPIDLE", 1))
    assert.equal(0, k:setsockopt(fd, "TCP_KEEPINTVL", 1))
    assert.equal(0, k:setsockopt(fd, "TCP_KEEPCNT", 2))
    peer:hook("ingress", {}, function() return "drop" end) -- synfin hears nothing
    local _, _, on = k:setsockopt(fd, "SO_KEEPALIVE", true)
    local rd = k:start("read", fd, 100)
    local p1 = net:expect({ from = sut, flags = "=A", len = 0 }, 2)
    local p2 = net:expect({ from = sut, flags = "=A", len = 0 }, 2)
    assert.near(on.returned + 1, p1.time, net:slack(1))
    assert.near(1, p2.time - p1.time, net:slack(1))
    -- the probes ran out: tcp_keepalive_timer gives up a keepalive_intvl later
    local rst = net:expect({ from = sut, flags = "R" }, 2)
    assert.near(1, rst.time - p2.time, net:slack(1))
    local _, err, call = rd:wait(1)
    assert.equal("ETIMEDOUT", err)
    call:returned_at(rst.time)
    assert.is_nil(k:ss(fd))
  end)
end)

scenario("syn_data", "a SYN carrying data (no TFO): the kernel ACKs only the SYN and drops the data", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local lfd = assert(k:socket(nil, env.domain))
    assert.equal(0, k:bind(lfd, sut.addr, 9032))
    assert.equal(0, k:listen(lfd, 1))
    peer:hook("egress", { flags = "=S", count = 1 }, function(seg) return seg:with { payload = "early" } end)
    local c = peer:connect(sut.addr, 9032)
    net:expect({ from = peer, flags = "=S", len = 5 }, 1)
    net:expect({ from = sut, flags = "=SA", ack = 1 }, 1) -- the SYN's ACK, not the data's
    net:expect({ from = peer, flags = "=A" }, 1)
    local fd = assert(k:accept(lfd))
    assert.equal("EAGAIN", select(2, k:recv(fd, 100, "MSG_DONTWAIT"))) -- "early" is gone
    c:send("later")
    net:expect({ from = sut, flags = "=A", ack = 6 }, 1)
    assert.equal("later", k:read(fd, 100))
  end)
end)

scenario("ack_unsent_established", "an ACK of data never sent, in ESTABLISHED: dropped, ACKed once, the next within 500 ms not (RFC 5961 §5)", function(setup)
  local env = setup()
  local net, k, sut = env.net, env.k, env.sut
  net:run(function()
    local fd, c = connected(env, 9033)
    c:segment { ack = 1001 } -- the kernel sent nothing: SND.NXT is 1
    -- RFC 9293 §3.10.7.4, RFC 5961 §5.2: ACK it and drop it
    net:expect({ from = sut, flags = "=A", ack = 1 }, 1)
    net:sleep(0.1)
    -- tcp_send_challenge_ack: one per socket per tcp_invalid_ratelimit (0.5 s)
    c:segment { ack = 2001 }
    net:expect_nothing({ from = sut }, 0.3)
    c:send("still")
    net:expect({ from = sut, flags = "=A", ack = 6 }, 1)
    assert.equal("still", k:read(fd, 100))
  end)
end)

scenario("ack_unsent_syn_rcvd", "an ACK of data never sent, in SYN_RCVD: a RST with SEQ = SEG.ACK (RFC 9293 §3.10.7.4)", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    local lfd = assert(k:socket(nil, env.domain))
    assert.equal(0, k:bind(lfd, sut.addr, 9034))
    assert.equal(0, k:listen(lfd, 1))
    -- the handshake's ACK acknowledges 1000 bytes the kernel never sent
    peer:hook("egress", { flags = "=A", count = 1 }, function(seg) return seg:with { ack = 1001 } end)
    peer:connect(sut.addr, 9034)
    net:expect({ from = sut, flags = "=SA" }, 1)
    net:expect({ from = peer, flags = "=A", ack = 1001 }, 1)
    local rst = net:expect({ from = sut, flags = "R" }, 1) -- tcp_check_req: the listener's RST
    assert.equal(1001, rst.seq)
    -- synfin, ESTABLISHED, finds the RST in its window but not at RCV.NXT:
    -- a challenge ACK (RFC 5961 §3.2), whose right ACK completes the
    -- kernel's handshake
    net:expect({ from = peer, flags = "=A", ack = 1 }, 1)
    local fd = assert(k:accept(lfd))
    assert.equal("ESTABLISHED", k:tcp_info(fd).state)
  end)
end)

scenario("syn_retransmit", "SYNs unanswered: retransmitted 1 s apart with the same options, then connect fails with ETIMEDOUT at 7 s (TCP_SYNCNT 2)", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  peer:hook("ingress", { flags = "=S" }, function() return "drop" end)
  net:run(function()
    local fd = assert(k:socket(nil, env.domain))
    assert.equal(0, k:setsockopt(fd, "TCP_SYNCNT", 2))
    local conn = k:start("connect", fd, peer.addr, 9035)
    local syns = { net:expect({ from = sut, flags = "=S" }, 1) }
    -- tcp_syn_linear_timeouts (4): the first 4 retransmissions wait the
    -- initial RTO, 1 s, and 4 more than TCP_SYNCNT are allowed, within the
    -- time 2 doubling ones take (1 + 2 + 4 s: tcp_model_timeout); the 5th
    -- at 5 s, the RTO doubled, the next timer (7 s) gives up
    for i = 2, 6 do
      syns[i] = net:expect({ from = sut, flags = "=S" }, 2)
      assert.near(1, syns[i].time - syns[i - 1].time, net:slack(1))
    end
    for i = 2, 6 do
      assert.equal(syns[1].seq, syns[i].seq)
      assert.equal(syns[1].mss, syns[i].mss)
      assert.equal(syns[1].wscale, syns[i].wscale)
      assert.equal(syns[1].sack_perm, syns[i].sack_perm)
    end
    local _, err, call = conn:wait(4)
    assert.equal("ETIMEDOUT", err)
    assert.near(7, call.returned - syns[1].time, net:slack(7))
  end)
end)

scenario("min_mss", "a peer's MSS option of 1, then of 40: the kernel clamps each to tcp_min_snd_mss, 48 bytes", function(setup)
  local env = setup()
  local net, peer, k, sut = env.net, env.peer, env.k, env.sut
  net:run(function()
    for i, mss in ipairs { 1, 40 } do
      local port = 9035 + i
      local l = peer:listen(port)
      peer:hook("egress", { flags = "=SA", count = 1 }, function(seg) return seg:with { mss = mss } end)
      local fd = assert(k:socket(nil, env.domain))
      assert.equal(0, k:connect(fd, peer.addr, port))
      net:expect({ from = peer, flags = "=SA", mss = mss }, 1)
      local c = l:accept(1)
      assert.equal(0, k:setsockopt(fd, "TCP_NODELAY", 1))
      local m = net:mark()
      assert.equal(100, k:write(fd, ("m"):rep(100)))
      -- 48 bytes less the timestamp option's 12 (tcp_sync_mss)
      net:expect({ from = sut, flags = "A", len = 36 }, 1)
      assert.equal(("m"):rep(100), c:recv(100, 2))
      net:expect({ from = peer, flags = "=A", ack = 101, since = m }, 1) -- all of it came
    end
  end)
end)

return scenarios
