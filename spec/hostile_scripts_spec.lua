-- Hostile scripts: what a careless or malicious scenario does to the net,
-- and what it gets back. Every case ends in a clear Lua error (its message
-- asserted here) or in a documented outcome, never in a crash, a hang or a
-- memory error (the sanitizer build runs this file under ASan).
local synfin = require "synfin"

local A, B, P = "192.0.2.1", "192.0.2.2", "192.0.2.3"

-- The error a call raises, as a string (fails the test if it raises none).
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, the call succeeded")
  return tostring(err)
end

-- Asserts that text contains every one of the plain strings given.
local function has(text, ...)
  for _, s in ipairs { ... } do
    assert(text:find(s, 1, true), ("expected %q in:\n%s"):format(s, text))
  end
end

-- The record of segment number n.
local function segment(net, n)
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and r.n == n then return r end
  end
end

-- A client a and a listening server b, 5 ms apart.
local function pair(opts)
  local net = synfin.sim(opts or { seed = 7, latency = 0.005 })
  local a, b = net:host(A), net:host(B)
  local l = assert(b:listen(80))
  return net, a, b, l
end

describe("the garbage collector inside a callback", function()
  -- collectgarbage runs only where the test says, then as before
  before_each(function() collectgarbage("stop") end)
  after_each(function() collectgarbage("restart") end)

  it("frees a reset connection nobody refers to, collected between two arrivals of one batch", function()
    -- host b's connection to the scripted peer p lives only in open(); p
    -- sends, in one instant, data (whose ACK b defers to the batch's end,
    -- MUST-59), a RST that closes the connection, and an ACK on whose arrival
    -- a hook collects the connection's handle
    local net = synfin.sim { seed = 3, latency = 0.005 }
    local b, p = net:host(B), net:peer(P)
    local handles = setmetatable({}, { __mode = "v" })
    local collect = false
    b:hook("ingress", { flags = "=A" }, function()
      if collect then collectgarbage("collect") end
    end)
    net:run(function()
      local function open()
        local c = b:connect(P, 7000)
        handles[1] = c
        local syn = net:expect({ from = b, flags = "S" }, 1)
        p:send { dst = B, sport = 7000, dport = syn.sport, flags = "SA", abs_seq = 1000,
          abs_ack = syn.abs_seq + 1 }
        c:wait("ESTABLISHED", 1)
        return syn.sport, syn.abs_seq + 1
      end
      local port, una = open()
      collect = true
      p:send { dst = B, sport = 7000, dport = port, flags = "PA", abs_seq = 1001, abs_ack = una,
        payload = "x" }
      p:send { dst = B, sport = 7000, dport = port, flags = "R", abs_seq = 1002 }
      p:send { dst = B, sport = 7000, dport = port, flags = "A", abs_seq = 1002, abs_ack = una }
      net:sleep(1)
      -- the stack goes on: a new connection from b works
      collect = false
      local again = b:connect(P, 7001)
      net:expect({ from = b, flags = "S", dport = 7001 }, 1)
      again:abort()
    end)
    assert.is_nil(handles[1]) -- the handle was collected inside the batch
    local closed
    for _, r in ipairs(net:records()) do
      if r.kind == "state" and r.new == "CLOSED" and r.rport == 7000 then closed = r end
    end
    assert.equal("ESTABLISHED", closed.old)
  end)
end)

describe("hooks that feed themselves", function()
  it("a hook that sends on its own egress path fails at a bounded depth, with a clear error", function()
    local net, a = pair()
    local depth = 0
    a:hook("egress", { dport = 9 }, function()
      depth = depth + 1
      a:send { dst = B, dport = 9, flags = "S" }
    end)
    local err = error_of(net.run, net, function() a:send { dst = B, dport = 9, flags = "S" } end)
    has(err, "a hook failed", "inject: egress hooks nested 16 deep: does a hook send on its own path?")
    assert.equal(16, depth)
  end)

  it("a hook that opens a connection for each SYN it sees runs out of ports, not of C stack", function()
    local net, a = pair()
    local opened, refused = 0, nil
    a:hook("egress", { flags = "S" }, function()
      local c, err = a:connect(B, 81)
      if c then opened = opened + 1 else refused = err end
    end)
    net:run(function() a:connect(B, 81) end)
    assert.equal(16383, opened) -- the ephemeral ports 49152..65535, less the first
    assert.equal("address already in use", refused)
  end)

  it("a hook that adds a hook does not see its new hook run on the same segment", function()
    local net, a = pair()
    local seen = {} -- segment number -> how many hooks saw it
    local function watcher(seg)
      seen[seg.n] = (seen[seg.n] or 0) + 1
      if #net.hooks < 100 then a:hook("egress", {}, watcher) end
    end
    a:hook("egress", {}, watcher)
    net:run(function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    assert.equal(1, seen[1]) -- the SYN: the first hook only
    assert.equal(2, seen[3]) -- the ACK: the first hook and the one the SYN added
  end)
end)

-- "spec/hostile_scripts_spec.lua:N": where fn (written on one line) is.
local function at(fn)
  local info = debug.getinfo(fn, "S")
  return ("%s:%d"):format(info.short_src, info.linedefined)
end

describe("closing the net from inside", function()
  it("net:close() in a hook is refused: the net runs the hook, and runs on", function()
    local net, a, b = pair()
    b:hook("ingress", { flags = "S" }, function() net:close() end)
    local err = error_of(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    has(err, "a hook failed", "synfin: net:close() inside hook 1 (ingress of 192.0.2.2): the net is "
      .. "running it; close the net after net:run returns")
    -- the refused close changed nothing: the handshake completes
    local c = net.sim:lookup(a.index, B, 80, 49152)
    net:run(function() c:wait("ESTABLISHED", 1) end)
    net:close()
    has(error_of(c.state, c), "the net of this connection is closed")
  end)

  it("the core's close (net.sim:close) in an egress hook is refused the same way", function()
    local net, a = pair()
    a:hook("egress", { flags = "S" }, function() net.sim:close() end)
    local err = error_of(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    has(err, "synfin: net:close() inside hook 1 (egress of 192.0.2.1)")
  end)

  it("net:close() in a state callback is refused", function()
    local net, a = pair()
    local err = error_of(net.run, net, function()
      a:connect(B, 80):on("state", function() net:close() end):wait("ESTABLISHED", 1)
    end)
    has(err, "a state callback failed", "synfin: net:close() inside a state callback of connection 1 on 192.0.2.1")
  end)

  it("net:close() in a close policy is refused", function()
    local net, a = pair()
    local err = error_of(net.run, net, function()
      local c = a:connect(B, 80):wait("ESTABLISHED", 1)
      c:set_close(function() net:close() end)
      c:close()
    end)
    has(err, "synfin: net:close() inside the close policy of 192.0.2.1:49152 (with 192.0.2.2:80)")
  end)

  it("net:close() in the scenario is refused: close the net once net:run has returned", function()
    local net = pair()
    local err = error_of(net.run, net, function() net:close() end)
    has(err, "synfin: net:close() inside the scenario: the net is running it")
    net:close()
    net:close() -- twice is harmless
  end)

  it("net:close() in a pattern's where function is refused", function()
    local net, a = pair()
    local err = error_of(net.run, net, function()
      a:connect(B, 80)
      net:expect({ flags = "SA", where = function() net:close() end }, 1)
    end)
    has(err, "synfin: net:close() inside the where function of a pattern")
  end)
end)

describe("waiting inside a callback", function()
  it("a hook that waits fails with a clear error, not a yield across C", function()
    local net, a = pair()
    local c
    a:hook("egress", { flags = "=A" }, function() c:wait("CLOSED", 1) end)
    local err = error_of(net.run, net, function()
      c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
    end)
    has(err, "synfin: waiting for 192.0.2.1:49152 (with 192.0.2.2:80) to reach CLOSED inside hook 1 "
      .. "(egress of 192.0.2.1): a callback runs to its end without waiting")
  end)

  it("a state callback that sleeps fails with a clear error", function()
    local net, a = pair()
    local err = error_of(net.run, net, function()
      a:connect(B, 80):on("state", function() net:sleep(1) end):wait("ESTABLISHED", 1)
    end)
    has(err, "a state callback failed", "synfin: waiting for 1 s inside a state callback of connection 1")
  end)

  it("a close policy that sleeps fails with a clear error (it returns { delay_fin = s } instead)", function()
    local net, a = pair()
    local err = error_of(net.run, net, function()
      local c = a:connect(B, 80):wait("ESTABLISHED", 1)
      c:set_close(function() net:sleep(1) end)
      c:close()
    end)
    has(err, "synfin: waiting for 1 s inside the close policy of 192.0.2.1:49152")
  end)

  it("a hook that yields gets Lua's own error, and the segment passes", function()
    local net, a = pair()
    a:hook("egress", { flags = "S" }, function() coroutine.yield() end)
    local c
    local err = error_of(net.run, net, function()
      c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
    end)
    has(err, "a hook failed", "attempt to yield")
    net:run(function() c:wait("ESTABLISHED", 1) end)
    assert.equal("delivered", segment(net, 1).fate)
  end)

  it("a hook that moves the clock (net:step) is refused", function()
    local net, a = pair()
    a:hook("egress", { flags = "S" }, function() net:step(1) end)
    local err = error_of(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    has(err, "synfin: net:step inside hook 1 (egress of 192.0.2.1): a callback runs to its end without "
      .. "moving the clock")
  end)

  it("a scenario that yields something else than a wait fails", function()
    local net = pair()
    has(error_of(net.run, net, function() coroutine.yield(42) end),
      "the scenario yielded something that is not a synfin wait")
  end)
end)

describe("callbacks that never end", function()
  it("a hook in an endless loop fails at its budget, naming the hook and the line", function()
    local net, a = pair { callback_budget = 0.05 }
    local loop = function() while true do end end
    a:hook("egress", { flags = "S" }, loop)
    local err = error_of(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    has(err, "synfin: hook 1 (egress of 192.0.2.1) ran past its budget of 0.05 s (callback_budget), at "
      .. at(loop))
  end)

  it("a hook's when predicate in an endless loop fails the same way", function()
    local net, a = pair { callback_budget = 0.05 }
    local loop = function() while true do end end
    a:hook("egress", { when = loop }, function() end)
    has(error_of(net.run, net, function() a:connect(B, 80) end),
      "synfin: hook 1 (egress of 192.0.2.1) ran past its budget of 0.05 s (callback_budget), at " .. at(loop))
  end)

  it("a state callback in an endless loop fails at its budget", function()
    local net, a = pair { callback_budget = 0.05 }
    local loop = function() while true do end end
    local err = error_of(net.run, net, function() a:connect(B, 80):on("state", loop):wait("ESTABLISHED", 1) end)
    has(err, "a state callback failed", "synfin: a state callback of connection 1 on 192.0.2.1 ran past its "
      .. "budget of 0.05 s (callback_budget), at " .. at(loop))
  end)

  it("a close policy in an endless loop fails at its budget", function()
    local net, a = pair { callback_budget = 0.05 }
    local loop = function() while true do end end
    local err = error_of(net.run, net, function()
      a:connect(B, 80):wait("ESTABLISHED", 1):set_close(loop):close()
    end)
    has(err, "synfin: the close policy of 192.0.2.1:49152 (with 192.0.2.2:80) ran past its budget of 0.05 s "
      .. "(callback_budget), at " .. at(loop))
  end)

  it("a pattern's where function in an endless loop fails at its budget", function()
    local net, a = pair { callback_budget = 0.05 }
    local loop = function() while true do end end
    local err = error_of(net.run, net, function()
      a:connect(B, 80)
      net:expect({ where = loop }, 1)
    end)
    has(err, "synfin: the where function of a pattern ran past its budget of 0.05 s (callback_budget), at " .. at(loop))
  end)

  it("a scenario in an endless loop between two waits fails at the budget", function()
    local net = pair { callback_budget = 0.05 }
    local loop = function() while true do end end
    has(error_of(net.run, net, loop),
      "synfin: the scenario ran past its budget of 0.05 s between two waits (callback_budget), at " .. at(loop))
  end)

  it("a hook that catches its budget's error in a loop cannot go on", function()
    local net, a = pair { callback_budget = 0.05 }
    local caught = 0
    a:hook("egress", { flags = "S" }, function()
      while true do
        if not pcall(function() while true do end end) then caught = caught + 1 end
      end
    end)
    has(error_of(net.run, net, function() a:connect(B, 80) end),
      "synfin: hook 1 (egress of 192.0.2.1) ran past its budget")
    assert.equal(0, caught) -- the error it caught came back at its next instruction
  end)

  it("a coroutine a hook runs in an endless loop is bound by the hook's budget", function()
    local net, a = pair { callback_budget = 0.05 }
    a:hook("egress", { flags = "S" }, function()
      coroutine.wrap(function() while true do end end)()
    end)
    has(error_of(net.run, net, function() a:connect(B, 80) end), "synfin: hook 1 (egress of 192.0.2.1) ran past")
  end)

  it("net:set_budget(false) lets a slow hook finish; a number sets a new budget", function()
    local net, a = pair { callback_budget = 0.01 }
    net:set_budget(false)
    local function slow() local t = os.clock() while os.clock() - t < 0.05 do end end
    a:hook("egress", { flags = "S" }, slow)
    net:run(function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    net:set_budget(0.01)
    a:hook("egress", { flags = "F" }, slow)
    has(error_of(net.run, net, function()
      net.sim:lookup(a.index, B, 80, 49152):close()
      net:sleep(1)
    end), "synfin: hook 2 (egress of 192.0.2.1) ran past its budget of 0.01 s")
  end)

  it("a hook that stalls the clock (an arrival per arrival, same instant) ends at the time limit", function()
    local net, a, b = pair()
    b:hook("ingress", {}, function(seg)
      b:inject("ingress", { src = A, dst = B, sport = seg.sport, dport = 9, flags = "A" })
    end)
    local t0 = os.time()
    local err = error_of(net.run, net, function()
      a:send { dport = 9, flags = "A" }
      net:sleep(1)
    end, { time_limit = 0.3 })
    has(err, "synfin: the scenario ran past its time limit of 0.3 s (time_limit), at t=0.005 s, while waiting for 1 s")
    assert.is_true(os.time() - t0 < 10)
  end)

  it("synfin.sim's time_limit bounds every run of the net", function()
    local net = pair { time_limit = 0.1 }
    local loop = function() while true do end end
    has(error_of(net.run, net, loop), "synfin: the scenario ran past its time limit of 0.1 s "
      .. "(time_limit), at " .. at(loop))
  end)
end)
