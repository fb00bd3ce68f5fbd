-- Hooks that fail, and the hook filters and counters (every callback runs
-- protected, and an error in a callback must never leave the loop in a
-- broken state: luv#99, #433, #437).
local synfin = require "synfin"

local A, B = "192.0.2.1", "192.0.2.2"

-- A client a and a listening server b, 5 ms apart.
local function pair(seed)
  local net = synfin.sim { seed = seed or 7, latency = 0.005 }
  local a, b = net:host(A, { isn = 1000 }), net:host(B, { isn = 5000 })
  local l = assert(b:listen(80))
  return net, a, b, l
end

local function seg_record(net, n)
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and r.n == n then return r end
  end
end

local function fates(net, from)
  local list = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and (not from or r.from == from.index) then list[#list + 1] = r.fate end
  end
  return list
end

describe("a Lua error inside a hook", function()
  it("an error in a hook: net:run raises an error with the hook's message and a traceback", function()
    local net, a = pair()
    a:hook("egress", { flags = "=S" }, function() error("boom in the SYN hook") end)
    local ok, err = pcall(net.run, net, function()
      local c = a:connect(B, 80, { sport = 40000 })
      c:wait("ESTABLISHED", 1)
    end)
    assert.is_false(ok)
    assert.is_string(err)
    assert.truthy(err:find("boom in the SYN hook", 1, true), err)
    assert.truthy(err:find("stack traceback", 1, true), err)
    assert.truthy(err:find("hook failed", 1, true), err)
  end)

  it("an error in a hook: the segment passes unchanged and the connection still establishes; the net goes on", function()
    local net, a, b, l = pair()
    local h = a:hook("egress", { flags = "=S" }, function() error("boom") end)
    assert.is_false((pcall(net.run, net, function()
      a:connect(B, 80, { sport = 40000 })
      net:sleep(1)
    end)))
    -- the failure was reported once; the same net runs on
    net:run(function()
      local c = net.sim:lookup(a.index, B, 80, 40000)
      c:wait("ESTABLISHED", 1)
      assert(l:accept(1))
    end)
    local syn = seg_record(net, 1)
    assert.equal("S", syn.flags)
    assert.equal("delivered", syn.fate)
    assert.equal(0, syn.seq)
    assert.equal(1460, syn.mss)
    assert.is_nil(syn.delay)
    assert.equal(1, h.fired)
    assert.equal(0, h.dropped)
    assert.equal(0, h.delayed)
    -- exactly the handshake: the failed hook changed nothing
    assert.same({ "delivered", "delivered", "delivered" }, fates(net))
    assert.equal("ESTABLISHED", net.sim:lookup(b.index, A, 40000, 80):state())
  end)

  it("an error in an ingress hook is reported the same way; the segment is delivered", function()
    local net, a, b = pair()
    b:hook("ingress", { flags = "=S" }, function() error("ingress trouble") end)
    local ok, err = pcall(net.run, net, function()
      a:connect(B, 80, { sport = 40000 }):wait("ESTABLISHED", 1)
    end)
    assert.is_false(ok)
    assert.truthy(err:find("ingress trouble", 1, true), err)
    assert.truthy(err:find("stack traceback", 1, true), err)
    net:sleep(1)
    assert.equal("delivered", seg_record(net, 1).fate)
    assert.equal("ESTABLISHED", net.sim:lookup(a.index, B, 80, 40000):state())
  end)

  it("the process does not crash: a second net works afterwards", function()
    local net, a = pair()
    a:hook("egress", {}, function() error("first net's hook") end)
    assert.is_false((pcall(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)))
    local net2, a2, _, l2 = pair(8)
    net2:run(function()
      local c = a2:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      c:send("ping")
      assert.equal("ping", l2:accept(1):recv(4, 1))
      net2:sleep(0.1)
    end)
    assert.same({ "delivered", "delivered", "delivered", "delivered", "delivered" }, fates(net2))
  end)

  it("a hook returning a bad verdict (42) is reported as such; the segment passes", function()
    local net, a = pair()
    a:hook("egress", { flags = "=S" }, function() return 42 end)
    local ok, err = pcall(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    assert.is_false(ok)
    assert.truthy(err:find("hook 1 returned a bad verdict on segment 1: got 42", 1, true), err)
    assert.truthy(err:find('a verdict is nil, "pass", "drop", { delay = seconds }, { dup = n }, seg:with{...} or { answer = seg:reply{...} }', 1, true), err)
    net:sleep(1)
    assert.equal("delivered", seg_record(net, 1).fate)
  end)

  it("a bad verdict string or a table without a delay is reported as a bad verdict", function()
    for v, says in pairs { dorp = 'got "dorp"', [{ dealy = 1 }] = 'unknown key "dealy" in its table',
      [{ delay = -1 }] = "synfin: verdict field 'delay' must be a time in seconds in 0..1e+09, got -1" } do
      local net, a = pair()
      a:hook("egress", { flags = "=S" }, function() return v end)
      local ok, err = pcall(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
      assert.is_false(ok)
      assert.truthy(err:find("hook 1 returned a bad verdict on segment 1: " .. says, 1, true), err)
    end
  end)

  it("a hook that yields (coroutine.yield in the hook) is an error, not a hang", function()
    -- once from inside the scenario (connect's SYN), once from the clock's
    -- driver (the server's ingress hook, run while the scenario waits)
    local net, a = pair()
    a:hook("egress", { flags = "=S" }, function() coroutine.yield("please wait") end)
    local ok, err = pcall(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    assert.is_false(ok)
    assert.truthy(err:find("yield", 1, true), err)
    assert.truthy(err:find("hook failed", 1, true), err)

    local net2, a2, b2 = pair()
    b2:hook("ingress", { flags = "=S" }, function() coroutine.yield() end)
    local ok2, err2 = pcall(net2.run, net2, function() a2:connect(B, 80):wait("ESTABLISHED", 1) end)
    assert.is_false(ok2)
    assert.truthy(err2:find("yield", 1, true), err2)
    net2:sleep(1)
    assert.equal("delivered", seg_record(net2, 1).fate)
  end)
end)

describe("hook counters and filters", function()
  it("a drop with count = 1: the SYN is dropped once, retransmitted at 1 s; matched, fired, dropped", function()
    local net, a = pair()
    local h = a:hook("egress", { flags = "=S", count = 1 }, function() return "drop" end)
    local c
    net:run(function()
      c = a:connect(B, 80)
      c:wait("ESTABLISHED", 2)
    end)
    local first, second = seg_record(net, 1), seg_record(net, 2)
    assert.equal("dropped_egress", first.fate)
    assert.equal(h.id, first.hook)
    assert.equal("S", second.flags)
    assert.equal(1.0, second.time)
    assert.equal("delivered", second.fate)
    assert.equal(2, h.matched)
    assert.equal(1, h.fired)
    assert.equal(1, h.dropped)
    assert.equal(0, h.delayed)
    assert.equal(1, c:info().retransmits)
  end)

  it("claim C3: a delay on the handshake's ACK keeps the server in SYN_RCVD; delayed counts it", function()
    local net, a, b = pair()
    local h = a:hook("egress", { flags = "=A", state = "ESTABLISHED", count = 1 },
      function() return { delay = 1 } end)
    net:run(function()
      a:connect(B, 80, { sport = 40000 }):wait("ESTABLISHED", 1)
      net:sleep(0.5)
      assert.equal("SYN_RCVD", net.sim:lookup(b.index, A, 40000, 80):state())
      net:sleep(1)
      assert.equal("ESTABLISHED", net.sim:lookup(b.index, A, 40000, 80):state())
    end)
    local ack = seg_record(net, 3)
    assert.equal(1.0, ack.delay)
    assert.equal(h.id, ack.hook)
    assert.equal("delivered", ack.fate)
    -- the server's SYN-ACK retransmission (1.005 s) draws a second ACK: it
    -- matches the filter but count = 1 is used up, so it goes at once
    local second = seg_record(net, 5)
    assert.equal("A", second.flags)
    assert.is_nil(second.delay)
    assert.equal(2, h.matched)
    assert.equal(1, h.fired)
    assert.equal(1, h.delayed)
    assert.equal(0, h.dropped)
  end)

  it("after = 2: the first two matches pass; count = 1: only the third is dropped", function()
    local net = synfin.sim { seed = 1, latency = 0 }
    local a = net:host(A, { isn = 1000 })
    -- a bare peer: our SYNs go unanswered, at 0, 1, 2, 3 s (the linux
    -- profile's syn_linear_timeouts)
    net:peer(B)
    local h = a:hook("egress", { flags = "=S", after = 2, count = 1 }, function() return "drop" end)
    a:connect(B, 80)
    net:sleep(3.5)
    assert.same({ "delivered", "delivered", "dropped_egress", "delivered" }, fates(net))
    assert.equal(4, h.matched)
    assert.equal(1, h.fired)
    assert.equal(1, h.dropped)
  end)

  it("h:remove(): the hook stops acting and its counters are gone; a second remove says false", function()
    local net = synfin.sim { seed = 1, latency = 0 }
    local a = net:host(A, { isn = 1000 })
    net:peer(B)
    local h = a:hook("egress", { flags = "=S" }, function() return "drop" end)
    a:connect(B, 80)
    net:sleep(0.5)
    assert.equal(1, h.dropped)
    assert.is_true(h:remove())
    assert.is_nil(h.matched)
    assert.is_nil(h:stats())
    net:sleep(2) -- the SYNs at 1 and 2 s
    assert.same({ "dropped_egress", "delivered", "delivered" }, fates(net))
    assert.is_false(h:remove())
  end)

  it("a hook may remove itself from inside its function", function()
    local net = synfin.sim { seed = 1, latency = 0 }
    local a = net:host(A, { isn = 1000 })
    net:peer(B)
    local h
    h = a:hook("egress", { flags = "=S" }, function()
      h:remove()
      return "drop"
    end)
    a:connect(B, 80)
    net:sleep(1.5)
    assert.same({ "dropped_egress", "delivered" }, fates(net))
  end)

  it("p with a seed: the same seed drops the same segments in two runs", function()
    local function run(seed)
      local net = synfin.sim { seed = seed, latency = 0 }
      local a = net:host(A)
      local peer = net:peer(B)
      local h = a:hook("ingress", { p = 0.5 }, function() return "drop" end)
      for i = 1, 40 do peer:send { dst = A, sport = 1234, dport = 4321, flags = "A", seq = i, ack = i } end
      net:sleep(1)
      local list = {}
      for _, r in ipairs(net:records()) do
        if r.kind == "seg" and r.from == peer.index then list[#list + 1] = r.fate end
      end
      return list, h.matched, h.fired, h.dropped
    end
    local f1, m1, fired1, d1 = run(42)
    local f2, m2, fired2, d2 = run(42)
    assert.same(f1, f2)
    assert.equal(40, m1)
    assert.equal(m1, m2)
    assert.equal(fired1, fired2)
    assert.equal(d1, d2)
    assert.equal(fired1, d1)
    assert.is_true(d1 > 0 and d1 < 40, "p = 0.5 dropped " .. d1 .. " of 40")
    local dropped = 0
    for _, f in ipairs(f1) do if f == "dropped_ingress" then dropped = dropped + 1 end end
    assert.equal(d1, dropped)
  end)
end)
