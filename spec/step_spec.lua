-- net:start and net:step: a scenario driven a step at a time by a loop of
-- the program's own (issue 5, "embedding"). On the sim, a step moves the
-- virtual clock by at most its budget; the scenario runs exactly as under
-- net:run. spec/interop/embed_spec.lua does it over TUN from luv's loop.
local synfin = require "synfin"

local function pair()
  local net = synfin.sim { seed = 3, latency = 0.01 }
  local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
  return net, a, b
end

-- The whole life of a connection, with a mark of each phase.
local function lifecycle(a, b, marks)
  return function(net)
    local l = b:listen(80)
    local c = a:connect("192.0.2.2", 80, { msl = 1 })
    c:wait("ESTABLISHED", 1)
    marks[#marks + 1] = ("established at %.3f"):format(net:now())
    local s = l:accept(1)
    c:send("ping")
    assert.equal("ping", s:recv(4, 1))
    c:close()
    s:wait("CLOSE_WAIT", 1)
    s:close()
    c:wait("TIME_WAIT", 1)
    c:wait("CLOSED", 3)
    marks[#marks + 1] = ("closed at %.3f"):format(net:now())
  end
end

describe("net:start and net:step", function()
  it("run a scenario step by step to the same trace as net:run", function()
    local whole_marks, stepped_marks = {}, {}
    local whole = pair()
    local wa, wb = whole.hosts[1], whole.hosts[2]
    whole:run(lifecycle(wa, wb, whole_marks))

    local net, a, b = pair()
    assert.is_true(net:start(lifecycle(a, b, stepped_marks)))
    local steps = 0
    while net:step(0.005) do
      steps = steps + 1
      assert.truthy(steps < 10000, "the scenario never ended")
    end
    -- 5 ms a step: the 2 s of TIME_WAIT alone take 400 of them
    assert.truthy(steps > 400, ("only %d steps"):format(steps))
    assert.same(whole_marks, stepped_marks)
    assert.equal(whole:trace():text(), net:trace():text())
  end)

  it("never moves the clock past the step's budget", function()
    local net, a, b = pair()
    net:start(function()
      b:listen(80)
      a:connect("192.0.2.2", 80):wait("ESTABLISHED", 1)
      net:sleep(10)
    end)
    local before = net:now()
    assert.is_true(net:step(0.25))
    assert.near(before + 0.25, net:now(), 1e-6)
    assert.is_true(net:step()) -- 0: what is due now, no waiting
    assert.near(before + 0.25, net:now(), 1e-6)
  end)

  it("says when the net next needs a step: its timers or the scenario's deadline", function()
    local net, a = pair()
    assert.is_nil(net:next_timeout()) -- nothing pending at all
    net:start(function()
      -- a SYN to nobody: it is retransmitted after the initial RTO (1 s),
      -- and the wait's own deadline is 0.4 s away
      local c = a:connect("192.0.2.9", 80)
      c:wait("ESTABLISHED", 0.4)
    end)
    assert.near(0.4, net:next_timeout(), 1e-6)
    local ok, err = pcall(function() while net:step(0.1) do end end)
    assert.is_false(ok)
    assert.matches("timed out after 0.4 s", err)
    assert.is_nil(net.scenario)
    assert.is_nil(net:fd()) -- a sim needs no loop
  end)

  it("raises the scenario's own error from the step where it fails", function()
    local net = pair()
    net:start(function()
      net:sleep(1)
      error("the scenario's own failure")
    end)
    assert.is_true(net:step(0.5))
    local ok, err = pcall(net.step, net, 1)
    assert.is_false(ok)
    assert.matches("the scenario's own failure", err)
    assert.is_false(net:step(1)) -- over: a new scenario may start
    assert.is_false(net:start(function() end))
  end)

  it("refuses a second scenario and a step from inside the scenario", function()
    local net = pair()
    net:start(function() net:sleep(1) end)
    assert.has_error(function() net:start(function() end) end, "a scenario is already running on this net")
    assert.has_error(function() net:run(function() end) end, "a scenario is already running on this net")
    assert.is_false(net:step(2))
    local ok, err = pcall(net.run, net, function() net:step(0) end)
    assert.is_false(ok)
    assert.matches("net:step is called from inside the scenario", err)
    assert.has_error(function() net:step(-1) end, "bad argument #1 to 'step' (a time in seconds in 0..1e+09 expected, got -1)")
    assert.has_error(function() net:start(42) end, "bad argument #1 to 'start' (function expected)")
  end)
end)
