-- Concurrency in a scenario (issue 14): net:spawn adds actors on the same
-- clock, and c:drain waits until everything sent is acknowledged.
local scenario = require "helpers.scenario"
local pair = scenario.pair
-- The error fn(...) raises, as a string; fails if it raises none. (Here,
-- not in a helper: the errors name the line of the call, in this file.)
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, the call succeeded")
  return tostring(err)
end

local B = scenario.B

-- 1 MiB that is not all the same byte
local function megabyte()
  local parts = {}
  for i = 1, 1024 do parts[i] = string.rep(string.char(i % 251), 1024) end
  return table.concat(parts)
end

describe("net:spawn", function()
  it("a server sends 1 MiB while the client reads it: two actors, no interleaving by hand", function()
    local net, a, _, l = pair()
    local data = megabyte()
    local got, server
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      server = net:spawn(function()
        s:send_all(data, 10)
        s:drain(10)
        s:close()
        return "sent", #data
      end)
      got = c:recv(#data, 10)
      c:wait("CLOSE_WAIT", 1)
      assert.same({ "sent", #data }, { server:join(1) })
    end)
    assert.equal(#data, #got)
    assert.is_true(got == data, "the bytes differ")
    assert.is_true(server.done)
  end)

  it("one actor alone cannot: send_all stalls once the reader's window is full", function()
    local net, a, _, l = pair()
    local err = error_of(net.run, net, function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      s:send_all(megabyte(), 2)
      c:recv(1, 1)
    end)
    assert.matches("timed out after 2 s", err, 1, true)
    assert.matches("of 1048576 bytes were queued", err, 1, true)
  end)

  it("net:run returns once every actor has finished, on the same clock", function()
    local net = pair()
    local order = {}
    net:run(function()
      net:spawn(function()
        net:sleep(2)
        order[#order + 1] = ("spawned at %.3f"):format(net:now())
      end)
      net:sleep(1)
      order[#order + 1] = ("scenario at %.3f"):format(net:now())
    end)
    assert.same({ "scenario at 1.000", "spawned at 2.000" }, order)
    assert.equal(2, net:now())
  end)

  it("actors due at the same instant run in the order they were spawned, the same every run", function()
    local function run()
      local net = pair()
      local order = {}
      net:run(function()
        for i = 1, 3 do
          net:spawn(function(n)
            for _ = 1, 2 do
              net:sleep(0.5)
              order[#order + 1] = n
            end
          end, i)
        end
      end)
      return table.concat(order, " ")
    end
    assert.equal("1 2 3 1 2 3", run())
    assert.equal(run(), run())
  end)

  it("an error in a spawned actor fails the run, naming where it was spawned", function()
    local net = pair()
    local err = error_of(net.run, net, function()
      net:spawn(function()
        net:sleep(0.1)
        error("the server gave up")
      end)
      net:sleep(1)
    end)
    assert.matches("actors_spec.lua:%d+: the server gave up", err)
    assert.matches("%(in the actor spawned at [^)]*actors_spec.lua:%d+%)", err)
    assert.matches("last lines of the trace:", err, 1, true)
  end)

  it("a failed wait in a spawned actor fails the run with the wait's message", function()
    local net, a = pair()
    local err = error_of(net.run, net, function()
      net:spawn(function()
        net:expect({ from = a, flags = "R" }, 0.2)
      end)
      net:sleep(1)
    end)
    assert.matches("timed out after 0.2 s (at t=0.200 s) waiting for { from 192.0.2.1, flags R }", err, 1, true)
  end)

  it("a:join in net:first races like any wait", function()
    local net = pair()
    net:run(function()
      local slow = net:spawn(function() net:sleep(5); return "late" end)
      local name = net:first { done = slow:joining(), enough = net:after(1) }
      assert.equal("enough", name)
      local n2, res = net:first { done = slow:joining(), never = net:after(10) }
      assert.same({ "done", "late" }, { n2, res })
      assert.equal(5, net:now())
    end)
  end)

  it("is refused outside a scenario and inside a callback, saying so", function()
    local net, a = pair()
    assert.matches("actors_spec.lua:%d+: synfin: net:spawn outside a scenario", error_of(net.spawn, net, print))
    a:hook("egress", { flags = "S" }, function() net:spawn(print) end)
    local err = error_of(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    assert.matches("synfin: net:spawn inside hook 1 (egress of 192.0.2.1)", err, 1, true)
    assert.matches("bad argument #1 to 'spawn' (function expected, got 3)",
      error_of(net.run, net, function() net:spawn(3) end), 1, true)
  end)
end)

describe("c:drain", function()
  it("returns when the ACK of the last byte has come, at its time", function()
    local net, a, b, l = pair()
    local acked
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      l:accept(1)
      c:send(string.rep("x", 3000))                 -- three segments at 0.010
      local m = net:mark()
      c:drain(1)
      acked = net:now()
      local last = net:expect({ from = b, flags = "A", ack = 3001, since = m }, 0)
      assert.equal(last.arrival, acked)
      assert.same({ 0, 3001 }, { c:info().snd_queued, (c:info().snd_una - c:info().iss) % 2 ^ 32 })
    end)
    assert.is_true(acked > 0.010)
  end)

  it("after close, waits for the ACK of the FIN too", function()
    local net, a, _, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      l:accept(1)
      c:send("bye")
      c:close()
      assert.equal("FIN_WAIT_1", c:state())
      c:drain(1)
      assert.equal("FIN_WAIT_2", c:state())
    end)
  end)

  it("fails when the connection is reset with data unacknowledged, saying how much", function()
    local net, a, _, l = pair()
    local err = error_of(net.run, net, function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      s:abort()                                     -- its RST arrives at 0.020
      c:send("lost")
      c:drain(1)
    end)
    assert.matches("reached CLOSED %(connection reset%) before everything it sent was acknowledged", err)
    assert.matches("SND.UNA 1, SND.NXT 5 (relative)", err, 1, true)
  end)

  it("on a listener is refused at the script's line", function()
    local net, _, _, l = pair()
    assert.matches("actors_spec.lua:%d+: bad argument #1 to 'drain' %(a listener sends nothing",
      error_of(net.run, net, function() l:drain(1) end))
  end)
end)
