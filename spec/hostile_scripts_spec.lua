-- Hostile scripts: what a careless or malicious scenario does to the net,
-- and what it gets back. Every case ends in a clear Lua error (its message
-- asserted here) or in a documented outcome, never in a crash, a hang or a
-- memory error (the sanitizer build runs this file under ASan).
local synfin = require "synfin"
local scenario = require "helpers.scenario"
-- The error fn(...) raises, as a string; fails if it raises none. (Here,
-- not in a helper: the errors name the line of the call, in this file.)
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, the call succeeded")
  return tostring(err)
end
-- (seed 7: the runs these cases were written against)
local function pair(opts) return scenario.pair(opts or { seed = 7, latency = 0.005 }) end

local A, B, P = "192.0.2.1", "192.0.2.2", "192.0.2.3"

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

describe("hook verdicts that make work", function()
  it("an ingress hook duplicating every data segment: the copies' notes grow the trace, nothing points into the old one", function()
    -- found by fuzz_lua: deliver() kept a pointer into the trace across the
    -- copies' arrivals, whose notes could move the trace (ASan: use after free)
    local net, a, b, l = pair()
    b:hook("ingress", { flags = "A" }, function(seg) if seg.len > 0 then return { dup = 50 } end end)
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send(("d"):rep(20000)) -- 14 segments, 49 notes each: the trace grows past 256, 512
      assert.equal(20000, #s:recv(20000, 60))
    end)
    local dups = 0
    for _, r in ipairs(net:records()) do if r.kind == "note" and r.code == "seq_unacceptable" then dups = dups + 1 end end
    assert.is_true(dups > 600) -- each copy was seen, and noted
  end)
end)

describe("reads of absurd sizes", function()
  it("c:read(2^30) with 5 bytes queued returns them, and costs no GiB", function()
    -- found by fuzz_lua: the buffer was the size asked for, not the size queued
    local net, a, _, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("hello")
      net:sleep(0.1)
      -- the process's peak of virtual memory (Linux): a GiB buffer raises it
      local function vm_peak_kib()
        local f = assert(io.open("/proc/self/status"))
        local kib = tonumber(f:read("a"):match("VmPeak:%s*(%d+)"))
        f:close()
        return kib
      end
      local before = vm_peak_kib()
      assert.equal("hello", s:read(1 << 30))
      assert.is_true(vm_peak_kib() - before < 512 * 1024, "read(2^30) took a buffer of its size")
    end)
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
      local ok, err = pcall(a.connect, a, B, 81)
      if ok then opened = opened + 1 else refused = err end
    end)
    net:run(function() a:connect(B, 81) end)
    assert.equal(16383, opened) -- the ephemeral ports 49152..65535, less the first
    assert.matches("synfin: cannot connect 192.0.2.1 to 192.0.2.2:81: address already in use (no ephemeral port is free, 49152..65535)",
      refused, 1, true)
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

-- The budgets here are far above what the scenarios' own code needs between
-- two waits (it has the budget too), so that a loaded machine (ASan, parallel
-- tests) does not stop the scenario before the callback under test.
describe("callbacks that never end", function()
  it("a hook in an endless loop fails at its budget, naming the hook and the line", function()
    local net, a = pair { callback_budget = 0.25 }
    local loop = function() while true do end end
    a:hook("egress", { flags = "S" }, loop)
    local err = error_of(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    has(err, "synfin: hook 1 (egress of 192.0.2.1) ran past its budget of 0.25 s (callback_budget), at "
      .. at(loop))
  end)

  it("a hook's when predicate in an endless loop fails the same way", function()
    local net, a = pair { callback_budget = 0.25 }
    local loop = function() while true do end end
    a:hook("egress", { when = loop }, function() end)
    has(error_of(net.run, net, function() a:connect(B, 80) end),
      "synfin: hook 1 (egress of 192.0.2.1) ran past its budget of 0.25 s (callback_budget), at " .. at(loop))
  end)

  it("a state callback in an endless loop fails at its budget", function()
    local net, a = pair { callback_budget = 0.25 }
    local loop = function() while true do end end
    local err = error_of(net.run, net, function() a:connect(B, 80):on("state", loop):wait("ESTABLISHED", 1) end)
    has(err, "a state callback failed", "synfin: a state callback of connection 1 on 192.0.2.1 ran past its "
      .. "budget of 0.25 s (callback_budget), at " .. at(loop))
  end)

  it("a close policy in an endless loop fails at its budget", function()
    local net, a = pair { callback_budget = 0.25 }
    local loop = function() while true do end end
    local err = error_of(net.run, net, function()
      a:connect(B, 80):wait("ESTABLISHED", 1):set_close(loop):close()
    end)
    has(err, "synfin: the close policy of 192.0.2.1:49152 (with 192.0.2.2:80) ran past its budget of 0.25 s "
      .. "(callback_budget), at " .. at(loop))
  end)

  it("a pattern's where function in an endless loop fails at its budget", function()
    local net, a = pair { callback_budget = 0.25 }
    local loop = function() while true do end end
    local err = error_of(net.run, net, function()
      a:connect(B, 80)
      net:expect({ where = loop }, 1)
    end)
    has(err, "synfin: the where function of a pattern ran past its budget of 0.25 s (callback_budget), at " .. at(loop))
  end)

  it("a scenario in an endless loop between two waits fails at the budget", function()
    local net = pair { callback_budget = 0.25 }
    local loop = function() while true do end end
    has(error_of(net.run, net, loop),
      "synfin: the scenario ran past its budget of 0.25 s between two waits (callback_budget), at " .. at(loop))
  end)

  it("a hook that catches its budget's error in a loop cannot go on", function()
    local net, a = pair { callback_budget = 0.25 }
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
    local net, a = pair { callback_budget = 0.25 }
    a:hook("egress", { flags = "S" }, function()
      coroutine.wrap(function() while true do end end)()
    end)
    has(error_of(net.run, net, function() a:connect(B, 80) end), "synfin: hook 1 (egress of 192.0.2.1) ran past")
  end)

  it("net:set_budget(false) lets a slow hook finish; a number sets a new budget", function()
    local net, a = pair { callback_budget = 0.1 }
    net:set_budget(false)
    local function slow() local t = os.clock() while os.clock() - t < 0.3 do end end
    a:hook("egress", { flags = "S" }, slow)
    net:run(function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    net:set_budget(0.1)
    a:hook("egress", { flags = "F" }, slow)
    has(error_of(net.run, net, function()
      net.sim:lookup(a.index, B, 80, 49152):close()
      net:sleep(1)
    end), "synfin: hook 2 (egress of 192.0.2.1) ran past its budget of 0.1 s")
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
    -- who sees the limit first is a race, and either names it: the wait
    -- between two steps, or the hook's count hook while the hook runs
    local by_wait = "synfin: the scenario ran past its time limit of 0.3 s (time_limit), at t=0.005 s, "
      .. "while waiting for 1 s"
    local by_hook = "synfin: hook 1 (ingress of 192.0.2.2) ran past the scenario's time limit of 0.3 s (time_limit)"
    assert(err:find(by_wait, 1, true) or err:find(by_hook, 1, true),
      ("expected %q or %q in:\n%s"):format(by_wait, by_hook, err))
    assert.is_true(os.time() - t0 < 10)
  end)

  it("synfin.sim's time_limit bounds every run of the net", function()
    local net = pair { time_limit = 0.1 }
    local loop = function() while true do end end
    has(error_of(net.run, net, loop), "synfin: the scenario ran past its time limit of 0.1 s "
      .. "(time_limit), at " .. at(loop))
  end)
end)

describe("absurd values", function()
  -- each: what the script does, and the error it gets (the value's name,
  -- its range and what it was given)
  local function net2() return pair() end
  local cases = {
    { "retries = -1", function() net2():host("192.0.2.9", { retries = -1 }) end,
      "synfin: setting 'retries' must be an integer in 0..4294967295, got -1" },
    { "backlog = 70000", function() net2():host("192.0.2.9", { backlog = 70000 }) end,
      "synfin: setting 'backlog' must be an integer in 0..65535, got 70000" },
    { "a listener's backlog = 70000", function() local _, _, b = net2(); b:listen(81, { backlog = 70000 }) end,
      "synfin: setting 'backlog' must be an integer in 0..65535, got 70000" },
    { "snd_buf = 2^32 + 5", function() net2():host("192.0.2.9", { snd_buf = 2 ^ 32 + 5 }) end,
      "synfin: setting 'snd_buf' must be an integer in 1..1073741824, got 4294967301" },
    { "rcv_buf = 1.5", function() net2():host("192.0.2.9", { rcv_buf = 1.5 }) end,
      "synfin: setting 'rcv_buf' must be an integer in 1..1073741824, got 1.5" },
    { "mss = \"1460\" (a string)", function() net2():host("192.0.2.9", { mss = "1460" }) end,
      "synfin: setting 'mss' must be an integer in 64..1460, got \"1460\"" },
    { "isn = 2^32", function() net2():host("192.0.2.9", { isn = 2 ^ 32 }) end,
      "synfin: setting 'isn' must be an integer in 0..4294967295, got 4294967296.0" },
    { "tos = 256", function() net2():host("192.0.2.9", { tos = 256 }) end,
      "synfin: setting 'tos' must be an integer in 0..255, got 256" },
    { "msl = NaN", function() net2():host("192.0.2.9", { msl = 0 / 0 }) end,
      "synfin: setting 'msl' must be a time in seconds in 0..1e+09, got " .. tostring(0 / 0) },
    { "msl = infinity", function() net2():host("192.0.2.9", { msl = math.huge }) end,
      "synfin: setting 'msl' must be a time in seconds in 0..1e+09, got inf" },
    { "user_timeout = 2^53", function() net2():host("192.0.2.9", { user_timeout = 2 ^ 53 }) end,
      "synfin: setting 'user_timeout' must be a time in seconds in 0..1e+09, got 9.007199254741e+15" },
    { "rto = 5000 s (more than the core's RTO holds)", function() net2():host("192.0.2.9", { rto = 5000 }) end,
      "synfin: setting 'rto' must be a time in seconds in 0..3600, got 5000" },
    { "nagle = \"no\"", function() net2():host("192.0.2.9", { nagle = "no" }) end,
      "synfin: setting 'nagle' must be true or false, got \"no\"" },
    { "congestion_control = \"vegas\"", function() net2():host("192.0.2.9", { congestion_control = "vegas" }) end,
      "synfin: setting 'congestion_control' must be \"none\", \"newreno\" or \"cubic\", got \"vegas\"" },
    { "initial_window = 101", function() net2():host("192.0.2.9", { initial_window = 101 }) end,
      "synfin: setting 'initial_window' must be an integer in 0..100, got 101" },
    { "syn_cookies = \"sometimes\"", function() net2():host("192.0.2.9", { syn_cookies = "sometimes" }) end,
      "synfin: setting 'syn_cookies' must be \"auto\", \"always\" or \"never\", got \"sometimes\"" },
    { "a connection's settings: keepalive_probes = -3", function()
        local _, a = net2(); a:connect(B, 80, { keepalive_probes = -3 }) end,
      "synfin: setting 'keepalive_probes' must be an integer in 0..4294967295, got -3" },
    { "c:set with a NaN time", function()
        local _, a = net2(); a:connect(B, 80):set { fin_wait_2_timeout = 0 / 0 } end,
      "synfin: setting 'fin_wait_2_timeout' must be a time in seconds in 0..1e+09, got " },
    { "a host at 0.0.0.0", function() net2():host "0.0.0.0" end,
      "synfin: a host cannot be at 0.0.0.0: not a unicast address" },
    { "a host at 255.255.255.255", function() net2():host "255.255.255.255" end,
      "synfin: a host cannot be at 255.255.255.255: not a unicast address" },
    { "a peer at 224.0.0.1", function() net2():peer "224.0.0.1" end,
      "synfin: a host cannot be at 224.0.0.1: not a unicast address" },
    { "latency = -1", function() synfin.sim { latency = -1 } end,
      "synfin: setting 'latency' must be a time in seconds in 0..1e+09, got -1" },
    { "loss = 2", function() synfin.sim { loss = 2 } end,
      "synfin: setting 'loss' must be a probability in 0..1, got 2" },
    { "timeout = NaN", function() synfin.sim { timeout = 0 / 0 } end,
      "synfin: setting 'timeout' must be a time in seconds in 0..1e+09, got " },
    { "callback_budget = -1", function() synfin.sim { callback_budget = -1 } end,
      "synfin: setting 'callback_budget' must be a time in seconds in (0, 1e+06], or false, got -1" },
    { "net:run with time_limit = 0", function() local net = net2(); net:run(function() end, { time_limit = 0 }) end,
      "bad argument #2 to 'run' (time_limit must be a time in seconds in (0, 1e+06], or false, got 0)" },
    { "net:set_budget(\"1s\")", function() local net = net2(); net:set_budget "1s" end,
      "bad argument #1 to 'set_budget' (seconds or false expected, got string)" },
    { "a wait of infinite time", function() local _, a = net2(); a:connect(B, 80):wait("ESTABLISHED", math.huge) end,
      "synfin: the timeout must be a time in seconds in 0..1e+09, got inf" },
    { "net:sleep(NaN)", function() local net = net2(); net:sleep(0 / 0) end,
      "bad argument #1 to 'after' (a time in seconds in 0..1e+09 expected, got " },
    { "a crafted segment with win = -1", function() local _, a = net2(); a:send { dport = 80, flags = "A", win = -1 } end,
      "synfin: segment field 'win' must be an integer in 0..65535, got -1" },
    { "a crafted segment with ttl = 1000", function() local _, a = net2(); a:send { dport = 80, flags = "A", ttl = 1000 } end,
      "synfin: segment field 'ttl' must be an integer in 1..255, got 1000" },
    { "a crafted segment with sport = 70000", function() local _, a = net2(); a:send { sport = 70000, dport = 80 } end,
      "synfin: segment field 'sport' must be an integer in 0..65535, got 70000" },
    { "a crafted segment with abs_seq = 2^32", function() local _, a = net2(); a:send { dport = 80, abs_seq = 2 ^ 32 } end,
      "synfin: segment field 'seq' must be an integer in 0..4294967295, got 4294967296" },
    { "a crafted segment with seq = \"x\"", function() local _, a = net2(); a:send { dport = 80, seq = "x" } end,
      "synfin: segment field 'seq' must be an integer, got \"x\"" },
    { "a crafted segment with flags \"SYN\"", function() local _, a = net2(); a:send { dport = 80, flags = "SYN" } end,
      "synfin: segment field 'flags' must be letters of SFRPAUEC, got \"SYN\"" },
    { "a crafted segment with a misspelt field", function() local _, a = net2(); a:send { dport = 80, windw = 5 } end,
      "synfin: unknown segment field \"windw\"" },
    { "a crafted segment with sack = 5", function() local _, a = net2(); a:send { dport = 80, sack = 5 } end,
      "synfin: segment field 'sack' must be a list of { left, right } integers, got 5" },
    { "a crafted segment from the address 5", function() local _, a = net2(); a:send { dport = 80, dst = 5 } end,
      "synfin: segment field 'dst' must be an IPv4 or IPv6 address such as \"192.0.2.1\", got 5" },
    { "an ICMP message of type 300", function()
        local _, a = net2(); a.net.sim:inject_icmp(a.index, { type = 300, dst = B }) end,
      "synfin: ICMP field 'type' must be an integer in 0..255, got 300" },
    { "a hook filter with count = -1", function() local _, a = net2(); a:hook("egress", { count = -1 }, print) end,
      "synfin: hook filter 'count' must be an integer in 0..4294967295, got -1" },
    { "a hook filter with p = NaN", function() local _, a = net2(); a:hook("egress", { p = 0 / 0 }, print) end,
      "synfin: hook filter 'p' must be a probability in 0..1, got " },
    { "a hook filter with conn = 3 (not a connection)", function() local _, a = net2(); a:hook("egress", { conn = 3 }, print) end,
      "bad argument #2 to 'hook' (conn must be a connection, got 3)" },
    { "a hook filter with when = true", function() local _, a = net2(); a:hook("egress", { when = true }, print) end,
      "bad argument #2 to 'hook' (when must be a function, got true)" },
    { "c:read(0)", function() local _, a = net2(); a:connect(B, 80):read(0) end,
      "synfin: argument 'max' must be an integer in 1..1073741824, got 0" },
    { "a close decision { linger = -1 }", function()
        local net, a = net2()
        net:run(function() a:connect(B, 80):wait("ESTABLISHED", 1):set_close(function() return { linger = -1 } end):close() end)
      end, "synfin: close decision 'linger' must be a time in seconds in 0..1e+09, got -1" },
  }
  for _, case in ipairs(cases) do
    it(case[1] .. " is refused, saying so", function() has(error_of(case[2]), case[3]) end)
  end

  -- a hook's verdict: what it returned, and why it is no verdict
  local verdicts = {
    { "{ delay = -1 }", { delay = -1 }, "synfin: verdict field 'delay' must be a time in seconds in 0..1e+09, got -1" },
    { "{ dup = 0 }", { dup = 0 }, "synfin: verdict field 'dup' must be an integer in 1..100, got 0" },
    { "{ dup = 101 }", { dup = 101 }, "synfin: verdict field 'dup' must be an integer in 1..100, got 101" },
    { "{ delay = 1, dup = 2 }", { delay = 1, dup = 2 }, "both" },
    { "{}", {}, "an empty table" },
    { "{ replace = \"x\" }", { replace = "x" }, "verdict field 'replace' must be a segment, got \"x\"" },
    { "{ replace = { win = 70000 } }", { replace = { win = 70000 } },
      "synfin: segment field 'win' must be an integer in 0..65535, got 70000" },
    { "{ answer = 5 }", { answer = 5 }, "synfin: hook verdict: answer must be a segment (seg:reply{...}), got 5" },
    { "true", true, "got true; a verdict is nil" },
  }
  for _, case in ipairs(verdicts) do
    it("a hook returning " .. case[1] .. " fails with a clear message; the segment passes", function()
      local net, a = pair()
      a:hook("egress", { flags = "S" }, function() return case[2] end)
      local c
      local err = error_of(net.run, net, function()
        c = a:connect(B, 80)
        c:wait("ESTABLISHED", 1)
      end)
      has(err, "a hook failed", "hook 1 ", "on segment 1: ", case[3])
      net:run(function() c:wait("ESTABLISHED", 1) end)
    end)
  end

  it("seg:with a field out of range fails where the hook built it", function()
    local net, a = pair()
    a:hook("egress", { flags = "S" }, function(seg) return seg:with { ttl = 0 } end)
    has(error_of(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end),
      "hook 1 returned a bad verdict on segment 1: synfin: segment field 'ttl' must be an integer in 1..255, got 0")
  end)

  it("a crafted segment's ttl and tos reach the wire as given", function()
    local net, a = pair()
    a:send { dport = 80, flags = "A", ttl = 3, tos = 0x28 }
    local r = segment(net, 1)
    assert.equal(3, r.ttl)
    assert.equal(0x28, r.tos)
  end)

  it("seg:reply's seq and ack are relative, as the sender of the reply numbers them", function()
    local net, a, b = pair()
    b:hook("ingress", { flags = "=A", count = 1 }, function(seg)
      return { answer = seg:reply { flags = "A", seq = 7, ack = 3 } }
    end)
    net:run(function()
      a:connect(B, 80):wait("ESTABLISHED", 1)
      net:sleep(0.1)
    end)
    local answer
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.injected and r.from == b.index then answer = r end
    end
    assert.equal(7, answer.seq)
    assert.equal(3, answer.ack)
  end)
end)

describe("errors in callbacks", function()
  it("a hook that raises a table (not a string) is reported as such", function()
    local net, a = pair()
    a:hook("egress", { flags = "S" }, function() error({ code = 7 }) end)
    has(error_of(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end),
      "hook 1 failed on segment 1: (error object is a table value)")
  end)

  it("a hook that recurses without end gets Lua's stack overflow, and the net runs on", function()
    -- the earlier tests' nets are finalized first: a finalizer the collector
    -- runs while the Lua stack is full fails for want of stack (a Lua
    -- limit), and its net would never be freed
    collectgarbage("collect")
    collectgarbage("collect")
    local net, a = pair()
    local function deep(n) return deep(n + 1) + 1 end
    a:hook("egress", { flags = "S" }, function() deep(1) end)
    local c
    has(error_of(net.run, net, function()
      c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
    end), "hook 1 failed on segment 1", "stack overflow")
    net:run(function() c:wait("ESTABLISHED", 1) end)
  end)

  it("a state callback's error fails the scenario with its message", function()
    local net, a = pair()
    has(error_of(net.run, net, function()
      a:connect(B, 80):on("state", function(_, new) error("saw " .. new) end):wait("ESTABLISHED", 1)
    end), "a state callback failed", "saw SYN_SENT")
  end)

  it("a close policy's error comes out of c:close()", function()
    local net, a = pair()
    has(error_of(net.run, net, function()
      a:connect(B, 80):wait("ESTABLISHED", 1):set_close(function() error("no closing today") end):close()
    end), "no closing today")
  end)

  it("c:close() inside its own close policy is refused, not a recursion", function()
    local net, a = pair()
    has(error_of(net.run, net, function()
      a:connect(B, 80):wait("ESTABLISHED", 1):set_close(function(c) c:close() end):close()
    end), "synfin: c:close() inside its own close policy: the policy returns what to do")
  end)

  it("a state callback that aborts its own connection: the net runs on and reports it", function()
    local net, a = pair()
    local seen = {}
    net:run(function()
      local c = a:connect(B, 80)
      c:on("state", function(_, new)
        seen[#seen + 1] = new
        if new == "ESTABLISHED" then c:abort() end
      end)
      c:wait("CLOSED", 1)
    end)
    assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSED" }, seen)
  end)

  it("a hook that removes every hook, itself too, mid-run: the segment and the rest pass", function()
    local net, a = pair()
    local hooks = {}
    hooks[1] = a:hook("egress", {}, function() for _, h in ipairs(hooks) do h:remove() end end)
    hooks[2] = a:hook("egress", {}, function() return "drop" end)
    net:run(function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    -- hook 2 never dropped the SYN: removed by hook 1 before its turn
    assert.is_nil(hooks[1].fired) -- removed: it has no counters any more
    assert.is_false(hooks[2]:remove())
  end)
end)

describe("the garbage collector, again", function()
  before_each(function() collectgarbage("stop") end)
  after_each(function() collectgarbage("restart") end)

  it("a state callback that collects the handle of the connection it reports on", function()
    local net, a = pair()
    local handles = setmetatable({}, { __mode = "v" })
    net:run(function()
      local function open()
        local c = a:connect(B, 80)
        handles[1] = c
        c:on("state", function(_, new) if new == "CLOSED" then collectgarbage("collect") end end)
        c:wait("ESTABLISHED", 1)
        c:abort()
      end
      open()
      net:sleep(1)
      a:connect(B, 80):wait("ESTABLISHED", 1) -- the stack goes on
    end)
    assert.is_nil(handles[1])
  end)

  it("an egress hook that collects the handle of the connection whose segment goes out", function()
    local net = synfin.sim { seed = 7, latency = 0.005 }
    local a, b = net:host(A, { msl = 1 }), net:host(B)
    local l = assert(b:listen(80))
    local handles = setmetatable({}, { __mode = "v" })
    a:hook("egress", {}, function() collectgarbage("collect") end)
    net:run(function()
      local function open()
        local c = a:connect(B, 80)
        handles[1] = c
        c:wait("ESTABLISHED", 1)
        c:close()
      end
      open()
      local s = l:accept(1)
      s:wait("CLOSE_WAIT", 1)
      s:close() -- a's ACK of this FIN goes out through the hook: a's handle is collected
      s:wait("CLOSED", 1)
      net:sleep(3) -- a's TIME_WAIT (2 s) ends with nobody holding it
    end)
    assert.is_nil(handles[1])
    assert.same({}, a:connections())
  end)
end)

describe("use after close", function()
  local function closed()
    local net, a, _, l = pair()
    local c
    net:run(function() c = a:connect(B, 80):wait("ESTABLISHED", 1) end)
    local h = a:hook("egress", {}, print)
    net:close()
    return net, a, c, l, h
  end
  local uses = {
    { "net:host", function(net) net:host "192.0.2.9" end, "synfin: the net is closed" },
    { "net:run", function(net) net:run(function() end) end, "synfin: the net is closed" },
    { "net:sleep", function(net) net:sleep(1) end, "synfin: the net is closed" },
    { "net:now", function(net) net:now() end, "synfin: the net is closed" },
    { "a:connect", function(_, a) a:connect(B, 80) end, "synfin: the net is closed" },
    { "a:send", function(_, a) a:send { dport = 80 } end, "synfin: the net is closed" },
    { "a:hook", function(_, a) a:hook("egress", {}, print) end, "synfin: the net is closed" },
    { "c:state", function(_, _, c) c:state() end, "synfin: the net of this connection is closed" },
    { "c:send", function(_, _, c) c:send "x" end, "synfin: the net of this connection is closed" },
    { "c:close", function(_, _, c) c:close() end, "synfin: the net of this connection is closed" },
    { "l:accept", function(_, _, _, l) l:accept(1) end, "synfin: the net of this connection is closed" },
    { "hook:remove", function(_, _, _, _, h) h:remove() end, "synfin: the net is closed" },
  }
  for _, use in ipairs(uses) do
    it(use[1] .. " on a closed net fails, saying so", function()
      local net, a, c, l, h = closed()
      has(error_of(use[2], net, a, c, l, h), use[3])
    end)
  end

  it("net:close() twice, and a collected closed net with its connections, are harmless", function()
    local handles = setmetatable({}, { __mode = "v" })
    do
      local net, _, c = closed()
      net:close()
      handles[1], handles[2] = net.sim, c
    end
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_nil(handles[1])
    assert.is_nil(handles[2])
  end)

  it("a connection whose handle was collected, brought back by a finalizer, says it was released", function()
    local net, a = pair()
    local back
    do
      local c = a:connect(B, 80)
      -- marked for finalisation after c: finalised before it, in the same cycle
      setmetatable({ c = c }, { __gc = function(t) back = t.c end })
    end
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_not_nil(back)
    has(error_of(back.state, back), "synfin: the connection was released (its handle was collected)")
    net:run(function() net:sleep(1) end) -- the SYN_SENT connection it was lives on, orphaned
  end)
end)
