-- Interop with the Linux kernel's TCP over a TUN device (issue 5), over
-- IPv4 and IPv6 alike (helpers.families: the same scenarios, the device's
-- addresses as parameters). Runs only through spec/netns/run, in a network
-- namespace of its own: the TUN device, its subnet (10.73.0.0/24 or
-- fd00:73::/64) and every socket live and die there. The kernel's side is
-- spec/interop/kernel_peer.py (plain sockets); its sockets are watched with
-- `ss -tan`.
local kernel = require "interop.kernel"
local families = require "helpers.families"

kernel.need_namespace "lua5.4 /usr/bin/busted spec/interop/tun_spec.lua"

local scope = kernel.scope(after_each)

local start = scope.start

local segs, states = kernel.segments, kernel.states

families.describe("over TUN", function(f)
  local KERNEL, SYNFIN = f.tun.kernel, f.tun.synfin
  local at = kernel.endpoint -- "10.73.0.1:9002", "[fd00:73::1]:9002", as ss writes them

  -- A fresh net (and device) per test, the kernel at KERNEL.
  local function tun_net(opts)
    opts = opts or {}
    opts.kernel = KERNEL
    return scope.tun_net(SYNFIN, opts)
  end

  describe("over TUN, a synfin server and kernel clients", function()
    it("takes data both ways and closes passively when the kernel closes first", function()
      local net, server = tun_net()
      local l = server:listen(8080)
      local proc = start { "client", SYNFIN, "8080", "5000", "--shut-wr" }
      local results
      net:run(function()
        local c = l:accept(10)
        local got = c:recv(5000, 10)
        assert.equal(5000, #got)
        c:send(("x"):rep(3000))
        c:wait("CLOSE_WAIT", 10) -- the kernel shut down writing: its FIN came
        c:close()
        c:wait("CLOSED", 10)
        results = proc:result(net)
      end)
      local r = results[1]
      assert.is_nil(r.error)
      assert.equal(3000, r.received)
      assert.equal("eof", r["end"])
      -- the kernel's FIN came first: synfin went CLOSE_WAIT -> LAST_ACK -> CLOSED
      local st = states(net, server)
      assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" }, st)
      local syn = segs(net, function(rec) return rec.flags == "S" end)[1]
      assert.equal(KERNEL, syn.src)
      assert.equal(f.mss, syn.mss) -- the device's MTU of 1500 less the family's headers
    end)

    it("serves many kernel connections at once", function()
      local net, server = tun_net()
      local l = server:listen(8081)
      local N = 20
      local proc = start { "client", SYNFIN, "8081", "2000", "--shut-wr", "--conns", tostring(N) }
      local results
      net:run(function()
        local conns = {}
        for i = 1, N do conns[i] = l:accept(10) end
        for i = 1, N do
          local c = conns[i]
          assert.equal(2000, #c:recv(2000, 10))
          c:send("ok:" .. i)
          c:wait("CLOSE_WAIT", 10)
          c:close()
        end
        for i = 1, N do conns[i]:wait("CLOSED", 10) end
        results = proc:result(net)
      end)
      -- each client got its own "ok:i", whichever i it was given
      assert.equal(N, #results)
      local received, expected = 0, 0
      for i, r in ipairs(results) do
        assert.is_nil(r.error)
        assert.equal("eof", r["end"])
        received, expected = received + r.received, expected + #("ok:" .. i)
      end
      assert.equal(expected, received)
    end)

    it("aborts with a RST that the kernel's client reads as a reset", function()
      local net, server = tun_net()
      local l = server:listen(8082)
      local proc = start { "client", SYNFIN, "8082", "100" }
      local results
      net:run(function()
        local c = l:accept(10)
        c:recv(100, 10)
        c:abort()
        results = proc:result(net)
      end)
      assert.equal("reset", results[1]["end"])
      local rst = segs(net, function(r) return r.flags:find("R") ~= nil end)
      assert.equal(1, #rst)
      assert.equal(SYNFIN, rst[1].src)
    end)
  end)

  describe("over TUN, a synfin client and kernel servers", function()
    it("echoes data and closes actively: synfin's TIME_WAIT, the kernel's socket gone", function()
      local net, client = tun_net()
      local proc = start { "server", KERNEL, "9000", "--echo" }
      local results
      net:run(function()
        proc:wait_for(net, "listening", 10)
        local c = client:connect(KERNEL, 9000)
        c:wait("ESTABLISHED", 10)
        c:send(("abc"):rep(1000))
        assert.equal(("abc"):rep(1000), c:recv(3000, 10))
        c:close()
        c:wait("TIME_WAIT", 10)
        results = proc:result(net)
        net:sleep(0.05)
        -- the kernel's side is closed and gone (it closed second: no TIME-WAIT)
        assert.is_nil(kernel.state_of(at(KERNEL, 9000), at(SYNFIN, c:info().lport)))
      end)
      assert.equal(3000, results[1].received)
      assert.equal("eof", results[1]["end"])
      -- Linux answers our FIN with its own at once (FIN+ACK): FIN_WAIT_1 goes
      -- straight to TIME_WAIT (claim C3), or through FIN_WAIT_2 when its
      -- ACK and FIN come apart
      local st = states(net, client)
      assert.same({ "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1" }, { st[1], st[2], st[3] })
      assert.equal("TIME_WAIT", st[#st])
    end)

    it("half-closes: the kernel server keeps sending after synfin's FIN", function()
      local net, client = tun_net()
      local proc = start { "server", KERNEL, "9001", "--send", "20000" }
      local results
      net:run(function()
        proc:wait_for(net, "listening", 10)
        local c = client:connect(KERNEL, 9001)
        c:wait("ESTABLISHED", 10)
        c:send("request")
        c:close() -- our half: FIN_WAIT_1, FIN_WAIT_2 while data still comes
        c:wait("FIN_WAIT_2", 10)
        local got = c:recv(20000, 10)
        assert.equal(20000, #got)
        c:wait("TIME_WAIT", 10)
        results = proc:result(net)
      end)
      assert.equal(7, results[1].received)
    end)
  end)

  describe("over TUN, the kernel's states seen with ss (claim C3)", function()
    it("C3: withholding the handshake's last ACK leaves the kernel in SYN-RECV, retransmitting its SYN-ACK", function()
      local net, client = tun_net()
      local proc = start { "server", KERNEL, "9002" }
      local seen
      net:run(function()
        proc:wait_for(net, "listening", 10)
        local withheld = client:hook("egress", { flags = "=A", count = 1 }, function() return "drop" end)
        local opened = net:mark()
        local c = client:connect(KERNEL, 9002)
        c:wait("ESTABLISHED", 10) -- ours: the SYN-ACK came
        local me = at(SYNFIN, c:info().lport)
        net:sleep(0.05)
        seen = kernel.state_of(at(KERNEL, 9002), me)
        -- Linux retransmits an unanswered SYN-ACK after its initial RTO (1 s);
        -- our ESTABLISHED answers it with an ACK, which completes its side
        net:expect({ flags = "SA", from = net.kernel, since = opened }, 1) -- the first one, in the past
        net:expect({ flags = "SA", from = net.kernel }, 3) -- the retransmission
        withheld:remove()
        net:sleep(0.05)
        assert.equal("ESTAB", kernel.state_of(at(KERNEL, 9002), me))
        c:abort()
      end)
      assert.equal("SYN-RECV", seen)
      local sa = segs(net, function(r) return r.flags == "SA" end)
      assert.equal(2, #sa)
      local gap = sa[2].time - sa[1].time
      assert.truthy(gap > 0.9 and gap < 1.5, ("SYN-ACK retransmitted after %.3f s"):format(gap))
    end)

    it("C5: dropping the last ACK makes the kernel's LAST-ACK resend its FIN; TIME_WAIT answers again", function()
      local net, client = tun_net()
      local proc = start { "server", KERNEL, "9003" }
      local last_ack_seen
      net:run(function()
        proc:wait_for(net, "listening", 10)
        local c = client:connect(KERNEL, 9003)
        c:wait("ESTABLISHED", 10)
        local me = at(SYNFIN, c:info().lport)
        -- our last ACK, the one from TIME_WAIT, is lost once
        client:hook("egress", { flags = "=A", state = "TIME_WAIT", count = 1 }, function() return "drop" end)
        local closing = net:mark()
        c:close()
        c:wait("TIME_WAIT", 10)
        net:sleep(0.05)
        last_ack_seen = kernel.state_of(at(KERNEL, 9003), me)
        -- the kernel resends its FIN after its RTO (at least 200 ms)
        net:expect({ flags = "FA", from = net.kernel, since = closing }, 1) -- the first one, in the past
        net:expect({ flags = "FA", from = net.kernel }, 3) -- the retransmission
        net:sleep(0.05)
        assert.is_nil(kernel.state_of(at(KERNEL, 9003), me)) -- answered: its socket is gone
        proc:result(net)
      end)
      assert.equal("LAST-ACK", last_ack_seen)
      local fins = segs(net, function(r) return r.flags:find("F") and r.src == KERNEL end)
      assert.equal(2, #fins)
      local acks = segs(net, function(r) return r.flags == "A" and r.src == SYNFIN and r.ack == fins[1].seq + 1 end)
      assert.equal(2, #acks)
      assert.equal("dropped_egress", acks[1].fate)
      assert.equal("delivered", acks[2].fate)
    end)
  end)
end)
