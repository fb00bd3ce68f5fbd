-- Explicit Congestion Notification (RFC 3168, SHLD-8), as traces: the
-- handshake that agrees on it, the marks data carries, a CE mark echoed
-- until CWR, and the sender's window coming down once for it.
-- Both blocks run on both families (helpers.families); the bottleneck's
-- timings follow from the family's packet sizes.
local synfin = require "synfin"
local bottleneck = require "helpers.bottleneck"
local families = require "helpers.families"

-- Two hosts at addresses a_addr and b_addr, b listening.
local function pair_at(a_addr, b_addr, a_settings, b_settings, opts)
  local net = synfin.sim(opts or { latency = 0.005 })
  local a = net:host(a_addr, a_settings)
  local b = net:host(b_addr, b_settings)
  return net, a, b, b:listen(80)
end

-- the segments a host sent after the handshake's SYNs
local function segs(net, from)
  local out = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and r.from == from.index and not r.flags:find("S", 1, true) then out[#out + 1] = r end
  end
  return out
end

-- The ECN field is IPv4's TOS byte's low bits and IPv6's traffic class's
-- (RFC 3168 §5; records give both as tos): the same traces on both.
families.describe("ECN (RFC 3168)", function(f)
  local B = f.b
  local function pair(...) return pair_at(f.a, f.b, ...) end

  it("SHLD-8: is agreed when the SYN asks (ECE, CWR) and the SYN-ACK answers (ECE): data goes ECT(0)", function()
    local net, a, b, l = pair({ ecn = "on" }, {})
    net:run(function()
      local c = a:connect(B, 80)
      local syn = net:expect({ from = a, flags = "=SEC" }, 1)
      assert.equal(0, syn.tos & 3) -- a SYN is never ECN-capable itself (§6.1.1)
      net:expect({ from = b, flags = "=SAE" }, 1)
      net:expect({ from = a, flags = "=A" }, 1)
      local s = l:accept(1)
      c:send("hello")
      local data = net:expect({ from = a, len = 5 }, 1)
      assert.equal(2, data.tos & 3) -- ECT(0)
      local ack = net:expect({ from = b, flags = "=A" }, 1)
      assert.equal(0, ack.tos & 3) -- pure ACKs are not ECN-capable (§6.1.4)
      s:send("back")
      assert.equal(2, net:expect({ from = b, len = 4 }, 1).tos & 3)
    end)
  end)

  it("survives a SYN cookie (RFC 4987): kept in the SYN-ACK's TSval with the other options, as Linux does", function()
    local net, a, b, l = pair({ ecn = "on" }, { syn_cookies = "always" })
    net:run(function()
      local c = a:connect(B, 80)
      net:expect({ from = a, flags = "=SEC" }, 1)
      local sa = net:expect({ from = b, flags = "=SAE" }, 1)
      assert.equal(0x20, sa.ts_val & 0x20) -- the ECN bit among the options in TSval's low bits
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      s:send("back")
      assert.equal(2, net:expect({ from = b, len = 4 }, 1).tos & 3) -- ECT(0): the cookie's child agreed
      c:send("hello")
      assert.equal(2, net:expect({ from = a, len = 5 }, 1).tos & 3)
    end)
    -- without timestamps a cookie has no room for it: the SYN-ACK offers no ECN
    net, a, b = pair({ ecn = "on", timestamps = false }, { syn_cookies = "always" })
    net:run(function()
      local c = a:connect(B, 80)
      net:expect({ from = b, flags = "=SA" }, 1)
      c:wait("ESTABLISHED", 1)
      c:send("hello")
      assert.equal(0, net:expect({ from = a, len = 5 }, 1).tos & 3)
    end)
  end)

  it("is not agreed when the listener's policy is off, nor asked by default (Linux's tcp_ecn = 2)", function()
    local net, a, b, l = pair({ ecn = "on" }, { ecn = "off" })
    net:run(function()
      local c = a:connect(B, 80)
      net:expect({ from = a, flags = "=SEC" }, 1)
      net:expect({ from = b, flags = "=SA" }, 1)
      l:accept(1)
      c:send("x")
      assert.equal(0, net:expect({ from = a, len = 1 }, 1).tos & 3)
    end)
    local net2, a2, b2 = pair({}, {})
    net2:run(function()
      a2:connect(B, 80)
      net2:expect({ from = a2, flags = "=S" }, 1)
      net2:expect({ from = b2, flags = "=SA" }, 1)
    end)
  end)

  it("SHLD-8: echoes a CE mark with ECE until the sender's CWR, and the sender's window comes down once", function()
    local net, a, b, l = pair({ ecn = "on", snd_buf = 1 << 20 }, { rcv_buf = 1 << 20 })
    local marked = false
    -- a congested router on the way: the 20th data segment arrives CE
    a:hook("egress", { flags = "A", after = 22, count = 1 }, function(seg)
      if seg.len > 0 then marked = seg.n; return seg:with { tos = 3 } end
    end)
    local c, s
    net:run(function()
      c = a:connect(B, 80)
      s = l:accept(1)
      net:spawn(function() c:send_all(("x"):rep(200000), 10) end)
      local got = 0
      while got < 200000 do got = got + #s:recv(nil, 10) end
    end)
    assert.truthy(marked)
    local acks, ece, data = segs(net, b), {}, segs(net, a)
    for _, r in ipairs(acks) do
      if r.flags:find("E", 1, true) then ece[#ece + 1] = r end
    end
    assert.is_true(#ece >= 1)
    -- the first ECE is the ACK of the marked segment, sent at once
    local cwr
    for _, r in ipairs(data) do
      if r.flags:find("C", 1, true) then cwr = cwr or r end
    end
    assert.truthy(cwr, "the sender never sent CWR")
    assert.is_true(cwr.time >= ece[1].time)
    assert.equal(2, cwr.tos & 3) -- CWR rides on new data
    -- no ECE once the receiver took the CWR
    for _, r in ipairs(acks) do
      if r.flags:find("E", 1, true) then assert.is_true(r.time <= cwr.time + 0.005 + 1e-9, r.summary) end
    end
    -- no segment was lost, none retransmitted, and the window came down,
    -- once: the trace notes it, at the first ECE
    assert.equal(0, c:info().retransmits)
    assert.is_true(c:info().ssthresh < 1 << 30)
    local cuts = {}
    for _, r in ipairs(net:records()) do
      if r.kind == "note" and r.code == "cc_ecn" then cuts[#cuts + 1] = r end
    end
    assert.equal(1, #cuts)
    assert.equal(ece[1].arrival, cuts[1].time)
    assert.matches("^ECN%-Echo: the window cut: cwnd %d+, ssthresh %d+$", cuts[1].text)
  end)

  it("does not mark retransmissions ECN-capable (§6.1.5)", function()
    local net, a, _, l = pair({ ecn = "on" }, {})
    a:hook("egress", { flags = "A", count = 1, after = 3 }, function(seg)
      if seg.len > 0 then return "drop" end
    end)
    net:run(function()
      local c = a:connect(B, 80)
      local s = l:accept(1)
      c:send(("y"):rep(3000))
      assert.equal(3000, #s:recv(3000, 5))
    end)
    local seen, rexmit = {}, nil
    for _, r in ipairs(segs(net, a)) do
      if r.len > 0 then
        if seen[r.seq] then rexmit = r end
        seen[r.seq] = true
      end
    end
    assert.truthy(rexmit)
    assert.equal(0, rexmit.tos & 3)
  end)

  it("a sim link that marks instead of losing: the transfer goes on with no loss, its window cut", function()
    local net, a, _, l = pair({ ecn = "on", congestion_control = "cubic" }, {},
      { latency = 0.01, mark = 0.02, seed = 3, payloads = false })
    local c
    net:run(function()
      c = a:connect(B, 80)
      local s = l:accept(1)
      net:spawn(function() c:send_all(("z"):rep(2 << 20), 30) end)
      local got = 0
      while got < 2 << 20 do got = got + #s:recv(nil, 30) end
    end)
    local ce = 0
    for _, r in ipairs(segs(net, a)) do
      if r.tos & 3 == 3 then ce = ce + 1 end
    end
    assert.is_true(ce > 0, "no packet was marked")
    assert.equal(0, c:info().retransmits)
    assert.is_true(c:info().ssthresh < 1 << 30)
  end)
end)

-- A bottleneck at each host's way out (synfin.sim's rate, queue and
-- threshold), as a router's queue with step marking (RFC 7567 §4.2.1): the
-- sender's first flight (IW10, ten full segments sent at one instant) is
-- what fills it.
families.describe("a sim bottleneck", function(f)
  local B = f.b
  local function pair(...) return pair_at(f.a, B, ...) end
  -- a full segment: the MSS less the timestamps option (12 bytes), and the
  -- packet that carries it, headers and option: 1500 bytes on both families
  local PAYLOAD = f.mss - 12
  local PACKET = PAYLOAD + 12 + f.hdrs

  -- the first flight's data segments, in order
  local function first_flight(link, ecn)
    local opts = { latency = 0.01, seed = 1 }
    for k, v in pairs(link) do opts[k] = v end
    local net, a, _, l = pair({ ecn = ecn }, { ecn = ecn }, opts)
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 5)
      l:accept(5)
      c:send(("x"):rep(10 * PAYLOAD))
      net:sleep(0.2) -- all ten arrive
    end)
    local out = {}
    for _, r in ipairs(segs(net, a)) do
      if r.len > 0 and #out < 10 then out[#out + 1] = r end
    end
    return out
  end

  it("lets packets out one after another at its rate: 1500 bytes at 1 Mbit/s are 12 ms apart", function()
    local flight = first_flight({ rate = 1e6 }, "off")
    assert.equal(10, #flight)
    assert.equal(1500, PACKET)
    local apart = PACKET * 8 / 1e6
    for i, r in ipairs(flight) do
      assert.equal(r.time, flight[1].time)                       -- sent at one instant
      assert.equal(PAYLOAD, r.len)
      assert.near(r.time + 0.01 + i * apart, r.arrival, 1e-6)    -- latency + time to leave
    end
  end)

  it("loses what comes to a full queue (tail drop): with queue = 4, four of the ten pass", function()
    local fates = {}
    for i, r in ipairs(first_flight({ rate = 1e6, queue = 4 }, "off")) do fates[i] = r.fate end
    assert.same({ "delivered", "delivered", "delivered", "delivered", "lost", "lost", "lost", "lost", "lost", "lost" },
      fates)
  end)

  it("from its threshold on, marks ECN-capable packets CE and loses the others", function()
    local marked, lost = {}, {}
    for i, r in ipairs(first_flight({ rate = 1e6, threshold = 3 }, "on")) do
      marked[i] = r.tos & 3 == 3 and r.fate == "delivered"
    end
    for i, r in ipairs(first_flight({ rate = 1e6, threshold = 3 }, "off")) do lost[i] = r.fate == "lost" end
    local first_three, rest = { false, false, false }, { true, true, true, true, true, true, true }
    assert.same(table.move(rest, 1, 7, 4, { table.unpack(first_three) }), marked)
    assert.same(table.move(rest, 1, 7, 4, { table.unpack(first_three) }), lost)
  end)

  it("a bulk transfer through it: with ECN nothing is lost and nothing resent; without, the queue loses", function()
    -- 2 MiB over 10 Mbit/s and 10 ms each way; 64 packets of queue, marks from 16
    local link = { latency = 0.01, rate = 10e6, queue = 64, threshold = 16 }
    for _, cc in ipairs { "newreno", "cubic" } do
      local with = bottleneck.transfer(2 << 20, link, { ecn = "on", congestion_control = cc }, { ecn = "on" }, f)
      local without = bottleneck.transfer(2 << 20, link, { ecn = "off", congestion_control = cc }, { ecn = "off" }, f)
      assert.is_true(with.intact and without.intact, cc)
      assert.equal(0, with.lost, cc)
      assert.equal(0, with.retransmits, cc)
      assert.is_true(with.ce > 0, cc)
      assert.is_true(with.ssthresh < 1 << 30, cc .. ": ECE brought the window down")
      -- the queue loses every few segments of a window (more holes than
      -- the 8 ranges the receiver once held), and SACK recovery resends
      -- each lost segment once, none twice
      assert.is_true(without.lost > 10, cc)
      assert.equal(without.lost, without.retransmits, cc)
      assert.equal(0, without.ce, cc)
      -- both keep the bottleneck busy: goodput above 85% of its rate
      assert.is_true(with.mbps > 8.5 and without.mbps > 8.5, ("%s: %.2f and %.2f Mbit/s"):format(cc, with.mbps,
        without.mbps))
    end
  end)

end)

describe("a sim bottleneck's settings", function()
  it("refuses a queue or threshold without a rate, and rates out of range", function()
    assert.has_error(function() synfin.sim { queue = 10 } end,
      "bad argument #1 to 'sim' (queue and threshold belong to a bottleneck: give its rate too)")
    assert.has_error(function() synfin.sim { rate = 10 } end,
      "synfin: setting 'rate' must be an integer in 1000..100000000000, got 10")
    assert.has_error(function() synfin.sim { rate = 1e6, queue = 0 } end,
      "synfin: setting 'queue' must be an integer in 1..1000000, got 0")
    assert.has_error(function() synfin.sim { rate = 1.5e3 + 0.5 } end,
      "synfin: setting 'rate' must be an integer in 1000..100000000000, got 1500.5")
  end)
end)
