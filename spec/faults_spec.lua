-- synfin.faults: the netem and toxiproxy faults as hook factories (the
-- packet-level faults toxiproxy's users ask for: toxiproxy#87, #100, #285,
-- #578). Each fault is proven on a real transfer between two
-- synfin hosts: its effect on the wire (the trace's records) and on TCP.
local synfin = require "synfin"
local faults = require "synfin.faults"

local A, B = "192.0.2.1", "192.0.2.2"
local LATENCY = 0.005

-- A client a (with room to queue a whole transfer) and a listening server b.
local function pair(seed)
  local net = synfin.sim { seed = seed or 7, latency = LATENCY }
  -- without timestamps, so that full segments carry 1460 bytes (with them, 1448)
  local a = net:host(A, { snd_buf = 1000000, timestamps = false })
  local b = net:host(B, { timestamps = false })
  local l = assert(b:listen(80))
  return net, a, b, l
end

local function payload(n)
  return (("0123456789abcdefghijklmnopqrstuvwxyz"):rep(n // 36 + 1)):sub(1, n)
end

-- Connects, sends n bytes from a to b, and returns the client, the server
-- side and what the server received (within t seconds of virtual time).
local function transfer(net, a, l, n, t)
  local data = payload(n)
  local c, s, got
  net:run(function()
    c = a:connect(B, 80, { sport = 40000 })
    c:wait("ESTABLISHED", t or 600)
    s = l:accept(t or 600)
    assert.equal(n, c:send(data))
    got = s:recv(n, t or 600)
  end)
  assert.equal(#data, #got)
  assert.is_true(got == data, "the stream arrived altered")
  return c, s, got
end

-- a's segments, in the order a sent them.
local function segs(net, host)
  local list = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and r.from == host.index then list[#list + 1] = r end
  end
  return list
end

describe("faults.latency", function()
  it("delays every segment by delay ± jitter on top of the link, and the transfer completes", function()
    local net, a, _, l = pair()
    local h = faults.latency(a, "egress", { delay = 0.05, jitter = 0.01 })
    transfer(net, a, l, 20000)
    local lo, hi = math.huge, -math.huge
    local list = segs(net, a)
    assert.is_true(#list > 10)
    for _, r in ipairs(list) do
      assert.is_number(r.delay, "segment #" .. r.n .. " was not delayed")
      assert.is_true(r.delay >= 0.04 - 1e-6 and r.delay <= 0.06 + 1e-6,
        ("segment #%d delayed %g s"):format(r.n, r.delay))
      if r.arrival then assert.near(LATENCY + r.delay, r.arrival - r.time, 1e-6) end
      lo, hi = math.min(lo, r.delay), math.max(hi, r.delay)
    end
    assert.is_true(hi - lo > 0.01, "the jitter did not vary the delay")
    assert.equal(#list, h.delayed)
    assert.equal("latency", h.fault)
  end)

  it("with correlation, each draw stays close to the previous one", function()
    local function mean_step(correlation)
      local net, a, _, l = pair()
      faults.latency(a, "egress", { delay = 0.05, jitter = 0.02, correlation = correlation })
      transfer(net, a, l, 30000)
      local list, sum = segs(net, a), 0
      for i = 2, #list do sum = sum + math.abs(list[i].delay - list[i - 1].delay) end
      return sum / (#list - 1)
    end
    local free, tied = mean_step(0), mean_step(0.9)
    assert.is_true(tied < free / 3, ("mean step %g with correlation 0.9, %g without"):format(tied, free))
  end)
end)

describe("faults.loss", function()
  it("p = 0.3 drops about 30% of many segments, and TCP still delivers the whole stream", function()
    local net, a, _, l = pair(3)
    local h = faults.loss(a, "egress", { p = 0.3 })
    transfer(net, a, l, 300000)
    local list, dropped = segs(net, a), 0
    for _, r in ipairs(list) do
      if r.fate == "dropped_egress" then dropped = dropped + 1 end
    end
    assert.is_true(#list > 250, #list .. " segments")
    local ratio = dropped / #list
    assert.is_true(ratio > 0.2 and ratio < 0.4, ("lost %d of %d (%.2f)"):format(dropped, #list, ratio))
    assert.equal(dropped, h.dropped)
  end)

  it("the gilbert model loses in bursts: runs of consecutive losses, 1/p_bg long on average", function()
    local function runs(list)
      local out, run = {}, 0
      for _, r in ipairs(list) do
        if r.fate == "dropped_egress" then
          run = run + 1
        elseif run > 0 then
          out[#out + 1] = run
          run = 0
        end
      end
      if run > 0 then out[#out + 1] = run end
      return out
    end
    local net, a, _, l = pair(5)
    faults.loss(a, "egress", { model = "gilbert", p_gb = 0.05, p_bg = 0.3, loss_good = 0, loss_bad = 1 })
    transfer(net, a, l, 600000)
    local r = runs(segs(net, a))
    local sum, longest = 0, 0
    for _, n in ipairs(r) do sum, longest = sum + n, math.max(longest, n) end
    assert.is_true(#r >= 5, #r .. " bursts")
    assert.is_true(sum / #r >= 2, ("mean burst %.2f"):format(sum / #r))
    assert.is_true(longest >= 4, "longest burst " .. longest)

    -- random loss at about the same rate gives runs of about one
    local net2, a2, _, l2 = pair(5)
    faults.loss(a2, "egress", { p = sum / #segs(net, a) })
    transfer(net2, a2, l2, 600000)
    local r2, sum2 = runs(segs(net2, a2)), 0
    for _, n in ipairs(r2) do sum2 = sum2 + n end
    assert.is_true(sum2 / #r2 < sum / #r, ("random %.2f, gilbert %.2f"):format(sum2 / #r2, sum / #r))
  end)
end)

describe("faults.reorder", function()
  it("holds back every gap-th segment so later ones arrive first; the receiver reassembles", function()
    local net, a, _, l = pair()
    local h = faults.reorder(a, "egress", { gap = 4, delay = 0.03 })
    transfer(net, a, l, 30000)
    local list = segs(net, a)
    for k, r in ipairs(list) do
      if k % 4 == 0 then
        assert.near(0.03, r.delay, 1e-9)
      else
        assert.is_nil(r.delay, "segment #" .. r.n .. " was delayed")
      end
    end
    local overtaken = 0
    for i = 1, #list do
      for j = i + 1, #list do
        if list[i].arrival and list[j].arrival and list[j].arrival < list[i].arrival then
          overtaken = overtaken + 1
          break
        end
      end
    end
    assert.is_true(overtaken >= 3, overtaken .. " segments overtaken")
    assert.equal(#list // 4, h.delayed)
  end)
end)

describe("faults.rate", function()
  it("queues segments: back-to-back arrivals are spaced by (len + overhead) / rate", function()
    local net, a, _, l = pair()
    local rate = 150000                                   -- 1500 bytes each 10 ms
    faults.rate(a, "egress", { bytes_per_s = rate })
    local c = transfer(net, a, l, 100000)
    local list = segs(net, a)
    local spaced = 0
    for i = 2, #list do
      local prev, r = list[i - 1], list[i]
      local tx = (r.len + 40) / rate
      assert.is_true(r.arrival - prev.arrival >= tx - 1e-6,
        ("#%d arrived %g s after #%d, under %g s"):format(r.n, r.arrival - prev.arrival, prev.n, tx))
      if r.len == 1460 and math.abs(r.arrival - prev.arrival - 0.01) < 1e-9 then spaced = spaced + 1 end
    end
    assert.is_true(spaced >= 20, spaced .. " segments exactly 10 ms apart")
    -- the stream took at least its size over the rate
    local first_data
    for _, r in ipairs(list) do if r.len > 0 then first_data = first_data or r end end
    assert.is_true(net:now() - first_data.time >= 100000 / rate, "faster than the rate")
    assert.equal(100000, c:info().bytes_out)
  end)
end)

describe("faults.blackhole", function()
  it("drops everything: the handshake stalls and the SYN is retransmitted into the void", function()
    local net, a, b = pair()
    local h = faults.blackhole(a, "egress")
    local c
    local ok, err = pcall(net.run, net, function()
      c = a:connect(B, 80, { sport = 40000 })
      c:wait("ESTABLISHED", 5)
    end)
    assert.is_false(ok)
    assert.truthy(err:find("timed out", 1, true), err)
    assert.equal("SYN_SENT", c:state())
    local list = segs(net, a)
    assert.is_true(#list >= 2, "the SYN was not retransmitted")
    for _, r in ipairs(list) do
      assert.equal("S", r.flags)
      assert.equal("dropped_egress", r.fate)
    end
    assert.same({}, segs(net, b))
    assert.equal(#list, h.dropped)
  end)
end)

describe("the filter option", function()
  it("narrows a fault to the segments a host:hook filter matches", function()
    local net, a = pair()
    -- a blackhole for the first SYN only: the retransmitted SYN gets through
    local h = faults.blackhole(a, "egress", { filter = { flags = "=S", count = 1 } })
    net:run(function() a:connect(B, 80, { sport = 40000 }):wait("ESTABLISHED", 5) end)
    local list = segs(net, a)
    assert.equal("dropped_egress", list[1].fate)
    assert.equal("S", list[2].flags)
    assert.equal("delivered", list[2].fate)
    assert.equal(1, h.dropped)
  end)
end)

describe("faults.slow_close", function()
  it("delays the FIN by the configured time; the data before it is not delayed", function()
    local net, a, _, l = pair()
    faults.slow_close(a, "egress", { delay = 2 })
    local c, s = transfer(net, a, l, 3000)
    local closed_at
    net:run(function()
      closed_at = net:now()
      c:close()
      s:wait("CLOSE_WAIT", 5)
    end)
    local fin
    for _, r in ipairs(segs(net, a)) do
      if r.flags:find("F", 1, true) then
        fin = fin or r
        assert.near(2, r.delay, 1e-9)
      else
        assert.is_nil(r.delay)
      end
    end
    assert.near(closed_at, fin.time, 1e-9)
    assert.near(closed_at + LATENCY + 2, fin.arrival, 1e-6)
    for _, r in ipairs(net:records()) do
      if r.kind == "state" and r.new == "CLOSE_WAIT" then
        assert.near(closed_at + LATENCY + 2, r.time, 1e-6)
      end
    end
  end)
end)

describe("faults.reset_peer", function()
  it("after N bytes, the receiver resets the sender: CLOSED with \"connection reset\"", function()
    local net, a, b, l = pair()
    local h = faults.reset_peer(b, "ingress", { after_bytes = 3000 })
    local data = payload(20000)
    local c, s, got
    net:run(function()
      c = a:connect(B, 80, { sport = 40000 })
      c:wait("ESTABLISHED", 1)
      s = l:accept(1)
      c:send(data)
      c:wait("CLOSED", 5)
      got = s:recv(nil, 1)
      s:wait("CLOSED", 5)  -- its next ACK draws a RST from the closed sender
    end)
    assert.equal("connection reset", c:info().error)
    local why
    for _, r in ipairs(net:records()) do
      if r.kind == "state" and r.host == a.index and r.new == "CLOSED" then why = r.why end
    end
    assert.equal("RST", why)
    -- the bytes up to the segment that reached 3000 got through, then the RST
    assert.equal(data:sub(1, #got), got)
    assert.is_true(#got >= 3000 and #got < 3000 + 1460, #got .. " bytes")
    local rsts = {}
    for _, r in ipairs(segs(net, b)) do
      if r.flags:find("R", 1, true) then rsts[#rsts + 1] = r end
    end
    assert.is_true(rsts[1].injected)
    assert.equal(1, h.ctx.resets)
  end)

  it("on egress, the sender gets the RST as if its peer had sent it", function()
    local net, a, _, l = pair()
    faults.reset_peer(a, "egress", { after_bytes = 1 })
    local c
    net:run(function()
      c = a:connect(B, 80, { sport = 40000 })
      c:wait("ESTABLISHED", 1)
      l:accept(1)
      c:send("hello")
      c:wait("CLOSED", 1)
    end)
    assert.equal("connection reset", c:info().error)
  end)
end)

describe("faults.limit_data", function()
  it("lets the first N bytes through and drops everything past them", function()
    local net, a, _, l = pair()
    local h = faults.limit_data(a, "egress", { bytes = 2920 })
    local data = payload(10000)
    local s, first, more
    net:run(function()
      local c = a:connect(B, 80, { sport = 40000 })
      c:wait("ESTABLISHED", 1)
      s = l:accept(1)
      c:send(data)
      first = s:recv(2920, 5)
      more = { pcall(s.recv, s, 1, 10) }
    end)
    assert.equal(data:sub(1, 2920), first)
    assert.is_false(more[1])
    assert.truthy(tostring(more[2]):find("timed out", 1, true), tostring(more[2]))
    for _, r in ipairs(segs(net, a)) do
      if r.len > 0 and r.fate ~= "dropped_egress" then
        assert.is_true(r.seq - 1 + r.len <= 2920, "segment #" .. r.n .. " carried bytes past the limit")
      end
    end
    assert.is_true(h.dropped > 2, "the data past the limit was not retransmitted and dropped")
  end)
end)

describe("faults.link and faults.combine", function()
  it("every preset carries a transfer through, delaying both directions of the host", function()
    local names = {}
    for name in pairs(faults.presets) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local net, a, _, l = pair(11)
      local hs = faults.link(a, name)
      assert.is_table(hs.egress)
      assert.is_table(hs.ingress)
      transfer(net, a, l, 30000)
      local lat = faults.presets[name].latency
      local least = lat.delay - (lat.jitter or 0)
      local delivered = 0
      for _, r in ipairs(net:records()) do
        if r.kind == "seg" and r.fate == "delivered" then
          delivered = delivered + 1
          assert.is_true((r.delay or 0) >= least - 1e-6,
            ("%s: segment #%d delayed %s s, under %g s"):format(name, r.n, tostring(r.delay), least))
        end
      end
      assert.is_true(delivered > 20)
      assert.is_true(hs.egress.delayed > 0 and hs.ingress.delayed > 0, name)
      hs:remove()
      assert.is_nil(hs.egress:stats())
    end
  end)

  it("combined faults compose: drops first, then the delays add up", function()
    local net, a, _, l = pair()
    local h = faults.combine(a, "egress", {
      latency = { delay = 0.02 },
      reorder = { gap = 3, delay = 0.05 },
      loss = { p = 0.1 },
    })
    transfer(net, a, l, 40000)
    local kept, dropped = 0, 0
    for _, r in ipairs(segs(net, a)) do
      if r.fate == "dropped_egress" then
        dropped = dropped + 1
      else
        kept = kept + 1
        -- every kept segment has the latency, every third kept one the reorder too
        assert.near(kept % 3 == 0 and 0.07 or 0.02, r.delay, 1e-9)
      end
    end
    assert.is_true(dropped > 0)
    assert.equal(dropped, h.dropped)
  end)
end)

describe("fault determinism", function()
  local function run(seed, fault_seed)
    local net, a, b, l = pair(seed)
    faults.link(a, "lossy-wifi", { seed = fault_seed })
    faults.combine(b, "egress", { latency = { delay = 0.01, jitter = 0.01 }, reorder = { gap = 5, delay = 0.02 } },
      { seed = fault_seed })
    transfer(net, a, l, 40000)
    local fates = {}
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" then fates[#fates + 1] = r.fate .. ":" .. tostring(r.delay) end
    end
    return tostring(net:trace()), table.concat(fates, " ")
  end

  it("the same seed gives the same run, byte for byte; another seed another run", function()
    local t1 = run(21)
    local t2 = run(21)
    local t3 = run(22)
    assert.equal(t1, t2)
    assert.are_not.equal(t1, t3)
  end)

  it("a fault's own seed fixes its draws whatever the net's seed", function()
    local _, f1 = run(21, 99)
    local _, f2 = run(22, 99)
    local _, f3 = run(21, 98)
    assert.equal(f1, f2)
    assert.are_not.equal(f1, f3)
  end)

  it("faults.prng gives the same numbers for the same seed", function()
    local p, q, r = faults.prng(1), faults.prng(1), faults.prng(2)
    local same, differ = true, false
    for _ = 1, 100 do
      local x, y, z = p:unit(), q:unit(), r:unit()
      assert.is_true(x >= 0 and x < 1)
      same = same and x == y
      differ = differ or x ~= z
    end
    assert.is_true(same)
    assert.is_true(differ)
    local n = faults.prng(3):int(6)
    assert.is_true(n >= 1 and n <= 6)
  end)
end)

describe("fault options", function()
  local net, a = pair()
  local cases = {
    { function() faults.latency(a, "egress", {}) end, "bad argument #3 to 'faults.latency' ('delay' is required" },
    { function() faults.latency(a, "egress", { delay = -1 }) end, "'delay' must be seconds >= 0, got -1" },
    { function() faults.latency(a, "egress", { delay = 0.1, correlation = 1 }) end, "'correlation' must be in [0, 1)" },
    { function() faults.loss(a, "egress", { p = 1.5 }) end, "'p' must be a probability in [0, 1], got 1.5" },
    { function() faults.loss(a, "egress", { p = 0.1, dealy = 1 }) end, "unknown option 'dealy'" },
    { function() faults.loss(a, "egress", { model = "gilbert", p_gb = 0.1 }) end, "'p_bg' is required" },
    { function() faults.loss(a, "egress", { model = "markov", p = 0.1 }) end, "'model' must be \"random\" or \"gilbert\"" },
    { function() faults.loss(a, "egress", { p_gb = 0.1 }) end, "'p_gb' needs model = \"gilbert\"" },
    { function() faults.reorder(a, "egress", { gap = 1, delay = 0.1 }) end, "'gap' must be an integer >= 2, got 1" },
    { function() faults.rate(a, "egress", { bytes_per_s = 0 }) end, "'bytes_per_s' must be bytes per second > 0" },
    { function() faults.slow_close(a, "egress", {}) end, "bad argument #3 to 'faults.slow_close' ('delay' is required" },
    { function() faults.reset_peer(a, "ingress", { after_bytes = 1.5 }) end, "'after_bytes' must be an integer" },
    { function() faults.limit_data(a, "egress", { bytes = -1 }) end, "'bytes' must be an integer number of bytes >= 0, got -1" },
    { function() faults.blackhole(a, "sideways") end, "bad argument #2 to 'faults.blackhole' (\"ingress\" or \"egress\" expected)" },
    { function() faults.blackhole("a", "egress") end, "bad argument #1 to 'faults.blackhole' (a synfin host expected)" },
    { function() faults.blackhole(a, "egress", { seed = 1.5 }) end, "'seed' must be an integer" },
    { function() faults.link(a, "dialup") end, "bad argument #2 to 'faults.link' (unknown preset 'dialup'; presets: 3g, edge, lan, lossy-wifi, satellite)" },
    { function() faults.link(a, { latency = { jitter = 1 } }) end, "bad argument #2 to 'faults.link' (latency: 'delay' is required" },
    { function() faults.link(a, "3g", { dir = "up" }) end, "'dir' must be \"both\", \"egress\" or \"ingress\"" },
    { function() faults.combine(a, "egress", { shuffle = {} }) end, "bad argument #3 to 'faults.combine' (unknown fault 'shuffle')" },
    { function() faults.combine(a, "egress", { duplicate = {} }) end, "bad argument #3 to 'faults.combine' (duplicate does not combine: install it as a hook of its own)" },
    { function() faults.loss(a, "egress", { p = 0.1, filter = { port = 80 } }) end, "'filter' has an unknown key 'port'" },
    { function() faults.prng(1.5) end, "bad argument #1 to 'faults.prng' (integer seed expected)" },
  }
  for i, case in ipairs(cases) do
    it(("rejects bad options clearly (%d: %s)"):format(i, case[2]), function()
      local ok, err = pcall(case[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
      -- the error points at the caller, not into faults.lua
      assert.truthy(tostring(err):find("faults_spec.lua", 1, true), tostring(err))
    end)
  end

  it("installs nothing when the options are bad", function()
    net:run(function()
      a:connect(B, 80, { sport = 40001 }):wait("ESTABLISHED", 1)
    end)
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" then
        assert.is_nil(r.delay)
        assert.are_not.equal("dropped_egress", r.fate)
      end
    end
  end)
end)

describe("faults that make segments", function()
  local function net2()
    local net = synfin.sim { seed = 5, latency = 0.01 }
    local a = net:host(A, { timestamps = false })
    local b = net:host(B, { timestamps = false })
    return net, a, b, assert(b:listen(80))
  end

  it("duplicate: each segment goes as `copies` copies; the receiver takes the data once", function()
    local net, a, _, l = net2()
    local h = faults.duplicate(a, "egress", { copies = 3, filter = { flags = "P" } })
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("abc")
      assert.equal("abc", s:recv(3, 1))
      net:sleep(0.1)
      assert.is_nil((s:read()))
    end)
    local copies = 0
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == a.index and r.len == 3 then copies = copies + 1 end
    end
    assert.equal(3, copies)
    assert.equal(1, h.duplicated)
  end)

  it("corrupt: a flipped bit and a checksum that no longer matches: the receiver drops it, TCP recovers", function()
    local net, a, b, l = net2()
    local h = faults.corrupt(a, "egress", { p = 1, filter = { flags = "P", count = 1 } })
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("payload")
      assert.equal("payload", s:recv(7, 5)) -- the retransmission is clean
    end)
    local bad = 0
    for _, r in ipairs(net:records()) do
      if r.kind == "note" and r.text == "bad TCP checksum" and r.host == b.index then bad = bad + 1 end
    end
    assert.equal(1, bad)
    assert.equal(1, h.ctx.corrupted)
    local corrupted
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == a.index and r.len == 7 and r.fate == "delivered" and not corrupted then corrupted = r end
    end
    assert.not_equal("payload", corrupted.payload) -- one bit differs
  end)

  it("slicer: data goes in pieces of at most size bytes, in order, and arrives whole", function()
    local net, a, _, l = net2()
    local h = faults.slicer(a, "egress", { size = 4 })
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("hello world")
      assert.equal("hello world", s:recv(11, 1))
    end)
    local pieces = {}
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == a.index and r.len > 0 and r.fate == "delivered" then
        pieces[#pieces + 1] = r.payload
      end
    end
    assert.same({ "hell", "o wo", "rld" }, pieces)
    assert.equal(1, h.ctx.sliced)
  end)

  it("the ones that make segments do not combine", function()
    local _, a = net2()
    assert.has_error(function() faults.combine(a, "egress", { duplicate = {} }) end)
  end)
end)
