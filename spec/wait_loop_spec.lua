-- The wait loop (issue 14): a scenario's waits run in C (sim:drive,
-- sim:wait, sim:wait_on) while nothing else needs the scheduler's loop,
-- and give what the loop asked after every event gave: the same results at
-- the same instants; what a callback sets up during a wait (a state
-- callback, a close policy's timer) still happens at its instant.
local scenario = require "helpers.scenario"
local pair, B = scenario.pair, scenario.B

-- Latency 5 ms: the handshake ends at t=0.015 s, accept returns then.

describe("waits run in C", function()
  it("a state callback a hook sets during a wait runs from that event on, at its instant", function()
    local net, a, _, l = pair()
    local seen = {}
    net:run(function()
      local c = a:connect(B, 80)
      local s = l:accept(1)
      -- the server's FIN reaches the client at t=0.020: from then on, the
      -- client closes as soon as it is in CLOSE_WAIT
      a:hook("ingress", { flags = "F", count = 1 }, function()
        c:on("state", function(old, new)
          seen[#seen + 1] = ("%s>%s at %.3f"):format(old, new, net:now())
          if new == "CLOSE_WAIT" then c:close() end
        end)
      end)
      s:close()
      s:wait("TIME_WAIT", 1)
      -- the client's FIN left at 0.020, with its ACK: the server is in
      -- TIME_WAIT one latency later (a callback run late would make it later)
      assert.equal(0.025, net:now())
    end)
    -- only what came from the hook's event on (not the handshake before it)
    assert.same({ "ESTABLISHED>CLOSE_WAIT at 0.020", "CLOSE_WAIT>LAST_ACK at 0.020" }, seen)
  end)

  it("a state callback set after a wait sees what comes after it, not what came during the wait", function()
    local net, a, _, l = pair()
    local seen = {}
    net:run(function()
      local c = a:connect(B, 80)
      local s = l:accept(1)
      c:close_with("bye") -- ESTABLISHED -> FIN_WAIT_1 now
      assert.equal("bye", s:recv(3, 1)) -- at t=0.020
      c:on("state", function(old, new) seen[#seen + 1] = ("%s>%s at %.3f"):format(old, new, net:now()) end)
      c:wait("FIN_WAIT_2", 1)
    end)
    assert.same({ "FIN_WAIT_1>FIN_WAIT_2 at 0.025" }, seen)
  end)

  it("a close policy's timer that a hook arms during a wait fires at its time", function()
    local net, a, b, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      local s = l:accept(1)
      s:set_close(function() return { delay_fin = 0.1 } end)
      -- the client's data reaches the server at t=0.020: it closes then,
      -- its FIN 0.1 s later (a timer of the scenario's, not the core's)
      b:hook("ingress", { flags = "P", count = 1 }, function() s:close() end)
      c:send("hi")
      assert.same({ nil, "end of stream" }, { c:recv(nil, 1) })
      assert.equal(0.125, net:now())
    end)
  end)

  it("a hook that fails during a wait fails the run at that instant", function()
    local net, a, b, l = pair()
    b:hook("ingress", { flags = "P", count = 1 }, function() error("hook trouble") end)
    local ok, err = pcall(net.run, net, function()
      local c = a:connect(B, 80)
      local s = l:accept(1)
      c:send("x") -- reaches the server at t=0.020
      s:wait("CLOSE_WAIT", 5) -- the client never closes: only the hook's failure ends this
    end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("a hook failed", 1, true), err)
    assert.truthy(tostring(err):find("hook trouble", 1, true), err)
    assert.equal(0.020, net:now())
  end)

  it("c:recv reads what comes as it comes: more than the receive buffer holds", function()
    local net, a, _, l = pair()
    local data = string.rep("0123456789abcdef", 16384) -- 256 KiB, four times the buffer
    net:run(function()
      local c = a:connect(B, 80, { snd_buf = 1 << 20 })
      local s = l:accept(1)
      assert.equal(#data, c:send(data)) -- all of it queued: no actor needed to send it
      local got = s:recv(#data, 10)
      assert.equal(#data, #got)
      assert.equal(data, got)
    end)
  end)

  it("c:recv returns what came before the end of the stream, then says the end", function()
    local net, a, _, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      local s = l:accept(1)
      s:close_with("last words")
      assert.equal("last words", c:recv(1000, 1))
      assert.same({ nil, "end of stream" }, { c:recv(1, 1) })
      assert.equal(0.020, net:now()) -- both at the FIN's arrival
    end)
  end)

  it("c:wait sees a state passed through within one event", function()
    local net, a, _, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      local s = l:accept(1)
      assert.equal(c, c:wait("ESTABLISHED", 1)) -- (already)
      -- a FIN and a RST that arrive together: the server goes ESTABLISHED ->
      -- CLOSE_WAIT -> CLOSED at one instant, and its wait sees CLOSE_WAIT
      c:close()
      c:abort()
      assert.equal(s, s:wait("CLOSE_WAIT", 1))
      assert.equal(0.020, net:now())
      assert.equal("CLOSED", s:state())
    end)
  end)

  it("a timed-out wait names the script's line and the instant", function()
    local net, a = pair()
    local peer = net:peer("192.0.2.9") -- no TCP: the SYN gets no answer
    assert(peer)
    local ok, err = pcall(net.run, net, function()
      local c = a:connect("192.0.2.9", 80)
      c:wait("ESTABLISHED", 0.5)
    end)
    assert.is_false(ok)
    assert.truthy(err:find("wait_loop_spec.lua:%d+: timed out after 0.5 s %(at t=0.500 s%) waiting for "
      .. "192.0.2.1:%d+ %(with 192.0.2.9:80%) to reach ESTABLISHED"), err)
  end)

  it("a wait of a connection that closes instead fails at that instant, saying why", function()
    local net, a = pair()
    local ok, err = pcall(net.run, net, function()
      local c = a:connect(B, 81) -- nobody listens: a RST
      c:wait("ESTABLISHED", 1)
    end)
    assert.is_false(ok)
    assert.truthy(err:find("wait_loop_spec.lua:%d+: 192.0.2.1:%d+ %(with 192.0.2.2:81%) reached CLOSED %(.-%) "
      .. "while waiting for ESTABLISHED"), err)
  end)
end)
