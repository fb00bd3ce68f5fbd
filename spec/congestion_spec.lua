-- Congestion control (RFC 9293 §3.8.2, MUST-19): slow start, congestion
-- avoidance and fast retransmit / fast recovery as RFC 5681 specifies them,
-- with NewReno's partial acknowledgments (RFC 6582).
local synfin = require "synfin"
-- RFC 5681's timing: the RTO that ends a window is RFC 6298's (at least
-- 1 s), with no tail loss probe (RFC 8985 is not RFC 5681's)
local fixture = require("synfin.fixture").with_timing "rfc6298"

local MSS = 1460

-- RFC 5681's NewReno and initial window, which these cases count in (the
-- default, the linux profile, has CUBIC and an initial window of 10
-- segments, RFC 9438 and RFC 6928): settings with those two added.
local function rfc5681(settings)
  local s = { congestion_control = "newreno", initial_window = 0 }
  for k, v in pairs(settings or {}) do s[k] = v end
  return s
end

-- Our data segments sent since index `from` of the trace.
local function data_since(t, from)
  local list = {}
  for i = from, #t.net:records() do
    local r = t.net.recs[i]
    if r.kind == "seg" and r.from == t.us.index and r.len > 0 then list[#list + 1] = r end
  end
  return list
end

describe("slow start", function()
  it("MUST-19: the initial window is 3 segments of 1460 bytes (RFC 5681 §3.1: min(4*SMSS, max(2*SMSS, 4380)))", function()
    local t = fixture.at_state("ESTABLISHED", { settings = rfc5681() })
    local from = #t.net:records() + 1
    t.c:send(("s"):rep(20000))
    t.net:sleep(0.5)
    local sent = data_since(t, from)
    assert.equal(3, #sent)
    assert.equal(4380, t.c:info().snd_nxt - t.c:info().snd_una)
  end)

  it("MUST-19: each ACK in slow start opens the window by one segment: the window doubles each round trip", function()
    local t = fixture.at_state("ESTABLISHED", { settings = rfc5681() })
    t.c:send(("s"):rep(60000))
    local acked = 1
    local rounds = {}
    for round = 1, 4 do
      t.net:sleep(0)
      local from = #t.net:records() + 1
      -- the peer acknowledges what is in flight, one ACK per segment
      local info = t.c:info()
      local inflight = (info.snd_nxt - info.snd_una) // MSS
      for _ = 1, inflight do
        acked = acked + MSS
        t:send { flags = "A", ack = acked }
      end
      t.net:sleep(0)
      rounds[round] = #data_since(t, from)
    end
    -- 3 -> 6 -> 12 -> 24, but after 21 segments the 60000 bytes run out
    assert.same({ 6, 12, 21, 0 }, rounds)
  end)

  it("RFC 5681 §3.1: after a lost SYN the initial window is one segment", function()
    local net = synfin.sim { latency = 0.01 }
    local a, b = net:host("10.0.0.1", rfc5681()), net:peer "10.0.0.2"
    a:hook("egress", { flags = "=S", count = 1 }, function() return "drop" end)
    local c = a:connect("10.0.0.2", 80, { sport = 40000 })
    local syn = net:expect({ from = a, flags = "=S" }, 2)
    b:send { flags = "SA", sport = 80, dport = 40000, abs_seq = 777, abs_ack = syn.abs_seq + 1, mss = MSS }
    c:wait("ESTABLISHED", 1)
    c:send(("x"):rep(10000))
    net:sleep(0.5)
    local data = 0
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == a.index and r.len > 0 then data = data + 1 end
    end
    assert.equal(1, data)
  end)

  it("congestion_control = \"none\" lets the whole offered window go at once", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { congestion_control = "none" } })
    local from = #t.net:records() + 1
    t.c:send(("s"):rep(20000))
    t.net:sleep(0)
    assert.equal(14, #data_since(t, from)) -- 13 full segments and the rest
  end)
end)

describe("losses", function()
  it("MUST-19: a retransmission timeout brings the window down to one segment (RFC 5681 (4) and §3.1)", function()
    local t = fixture.at_state("ESTABLISHED", { settings = rfc5681() })
    t.c:send(("s"):rep(20000))
    t.net:sleep(0)
    local from = #t.net:records() + 1
    t:sleep(1.1) -- the RTO (1 s) passes with nothing acknowledged
    local again = data_since(t, from)
    assert.equal(1, #again)
    assert.equal(1, again[1].seq)
  end)

  it("RFC 5681 §3.2: the third duplicate ACK triggers a fast retransmit, long before the RTO", function()
    local t = fixture.at_state("ESTABLISHED", { settings = rfc5681() })
    t.c:send(("s"):rep(20000))
    t.net:sleep(0) -- 3 segments in flight: 1, 1461, 2921
    t:send { flags = "A", ack = 1 + MSS } -- the first arrived: two more segments go
    t.net:sleep(0)
    t:skip()
    -- the second was lost: three duplicate ACKs; the first two each let a
    -- new segment go (Limited Transmit, RFC 3042)
    t:send { flags = "A", ack = 1 + MSS }
    t:expect({ flags = "A", seq = 1 + 5 * MSS, len = MSS }, 0.1)
    t:send { flags = "A", ack = 1 + MSS }
    t:expect({ flags = "A", seq = 1 + 6 * MSS, len = MSS }, 0.1)
    t:send { flags = "A", ack = 1 + MSS }
    local resent = t:expect({ flags = "A", seq = 1 + MSS, len = MSS }, 0.5)
    assert.equal(0, resent.time) -- at once (the fixture's clock is at 0), not after an RTO
  end)

  it("the trace notes each response with the window after it: fast retransmit, recovery's end, RTO", function()
    local t = fixture.at_state("ESTABLISHED", { settings = rfc5681() })
    local function cc_notes()
      local list = {}
      for _, r in ipairs(t.net:records()) do
        if r.kind == "note" and r.code and r.code:match("^cc_") then list[#list + 1] = r.code .. ": " .. r.text end
      end
      return list
    end
    t.c:send(("s"):rep(20000))
    t.net:sleep(0)
    t:send { flags = "A", ack = 1 + MSS }
    t.net:sleep(0)
    for _ = 1, 3 do t:send { flags = "A", ack = 1 + MSS } end -- the second was lost
    t.net:sleep(0)
    -- RFC 6582: ssthresh = FlightSize / 2 (6 segments out: 4380), cwnd = ssthresh + 3 * SMSS
    local info = t.c:info()
    assert.equal(4380, info.ssthresh)
    assert.equal(4380 + 3 * MSS, info.cwnd)
    -- the ACK of all that was out when the loss was seen ends the recovery:
    -- RFC 6582 §3.2 (3), cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS);
    -- nothing is left in flight, so two segments (not the one that
    -- FlightSize + SMSS would leave), and those two go at once
    t:send { flags = "A", ack = 1 + 7 * MSS }
    t.net:sleep(0)
    assert.equal(2 * MSS, t.c:info().cwnd)
    assert.equal(2 * MSS, t.c:info().snd_nxt - t.c:info().snd_una)
    -- then nothing more is acknowledged: the RTO, the window one segment
    t:sleep(1.5)
    assert.same({
      "cc_fast_retransmit: fast retransmit: the window cut: cwnd 8760, ssthresh 4380",
      "cc_recovered: recovery over: the window deflated: cwnd 2920, ssthresh 4380",
      ("cc_rto: retransmission timeout: the window one segment: cwnd 1460, ssthresh %d"):format(t.c:info().ssthresh),
    }, cc_notes())
    -- and the ladder shows them
    assert.matches("(fast retransmit: the window cut: cwnd 8760, ssthresh 4380", t.net:trace():text(), 1, true)
  end)

  it("RFC 3042 (Limited Transmit): the first and second duplicate ACKs each let one new segment go, beyond cwnd", function()
    local t = fixture.at_state("ESTABLISHED", { settings = rfc5681() })
    t.c:send(("s"):rep(20000))
    t.net:sleep(0) -- the initial window: 3 segments, 1, 1461, 2921
    t:skip()
    t:send { flags = "A", ack = 1 } -- the first was lost: a duplicate ACK
    t:expect({ flags = "A", seq = 1 + 3 * MSS, len = MSS }, 0.1) -- new data, not a retransmission
    t:expect_nothing(0.01)
    t:send { flags = "A", ack = 1 }
    t:expect({ flags = "A", seq = 1 + 4 * MSS, len = MSS }, 0.1)
    t:expect_nothing(0.01)
    -- the third: fast retransmit of the first, and cwnd itself was unchanged
    -- until then (ssthresh is half of the 5 segments in flight)
    t:send { flags = "A", ack = 1 }
    t:expect({ flags = "A", seq = 1, len = MSS }, 0.1)
  end)

  it("RFC 3042: with 3 segments in flight, the loss of the first is repaired by fast retransmit, not by the RTO", function()
    local net = synfin.sim { seed = 5, latency = 0.01 }
    local a, b = net:host("10.0.0.1", rfc5681()), net:host("10.0.0.2", rfc5681())
    -- the first data segment is lost once; its two successors draw only two
    -- duplicate ACKs, and Limited Transmit's new segments draw the third
    local dropped = false
    a:hook("egress", {}, function(seg)
      if seg.len > 0 and not dropped then
        dropped = true
        return "drop"
      end
    end)
    local l = b:listen(80)
    local got, resent_at, sent_at
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      sent_at = net:now()
      c:send(("d"):rep(8 * MSS))
      got = s:recv(8 * MSS, 5)
      for _, r in ipairs(net:records()) do
        if r.kind == "seg" and r.from == a.index and r.seq == 1 and r.len > 0 and r.fate == "delivered" then
          resent_at = r.time
        end
      end
    end)
    assert.equal(8 * MSS, #got)
    -- two round trips (40 ms): the loss, then the duplicate ACKs' answer
    assert.truthy(resent_at - sent_at < 0.1, ("repaired after %.3f s"):format(resent_at - sent_at))
  end)

  it("RFC 6582 (NewReno): a partial ACK during fast recovery retransmits the next hole at once", function()
    local t = fixture.at_state("ESTABLISHED", { settings = rfc5681() })
    t.c:send(("s"):rep(40000))
    t.net:sleep(0)
    -- let the window grow to 6 segments: ACK the first three
    for i = 1, 3 do t:send { flags = "A", ack = 1 + i * MSS } end
    t.net:sleep(0)
    t:skip()
    -- segments 4 (seq 4381) and 6 (seq 7301) are lost: duplicate ACKs for 4381
    t:skip()
    t:send { flags = "A", ack = 1 + 3 * MSS }
    t:expect({ flags = "A", seq = 1 + 9 * MSS, len = MSS }, 0.1) -- Limited Transmit (RFC 3042)
    t:send { flags = "A", ack = 1 + 3 * MSS }
    t:expect({ flags = "A", seq = 1 + 10 * MSS, len = MSS }, 0.1)
    t:send { flags = "A", ack = 1 + 3 * MSS }
    t:expect({ flags = "A", seq = 1 + 3 * MSS, len = MSS }, 0.1) -- fast retransmit of 4
    t:skip()
    -- a partial ACK: 4 and 5 arrived, 6 is still missing
    t:send { flags = "A", ack = 1 + 5 * MSS }
    t:expect({ flags = "A", seq = 1 + 5 * MSS, len = MSS }, 0.1) -- 6 again, at once
  end)

  it("MUST-19: a lossy bulk transfer completes, recovering mostly by fast retransmit", function()
    local net = synfin.sim { seed = 11, latency = 0.01, loss = 0.02 }
    local a, b = net:host("10.0.0.1", rfc5681()), net:host("10.0.0.2", rfc5681 { rcv_buf = 65535 })
    local l = b:listen(80)
    local payload = ("0123456789"):rep(30000)
    local got
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 5)
      local s = l:accept(5)
      local sent = 0
      local chunks = {}
      while #table.concat(chunks) < #payload do
        if sent < #payload then
          local n = c:send(payload:sub(sent + 1))
          if n then sent = sent + n end
        end
        local d = s:recv(nil, 5)
        if d then chunks[#chunks + 1] = d end
      end
      got = table.concat(chunks)
      assert.is_true(c:info().retransmits > 0)
    end)
    assert.equal(payload, got)
  end)
end)

describe("sender silly window syndrome avoidance (RFC 9293 §3.8.6.2.1)", function()
  local settings = { congestion_control = "none" } -- the offered window alone limits the sender

  it("MUST-38: a sliver of window is not used at once: it waits for the override timeout", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 10000, settings = settings })
    local start = t.net:now()
    t.c:send(("w"):rep(20000))
    for i = 0, 5 do t:expect { flags = "A", seq = 1 + i * 1460, len = 1460 } end
    t:expect_nothing(0.1) -- 1240 bytes of window left: less than half the largest window
    local late = t:expect({ flags = "A", seq = 8761, len = 1240 }, 0.5)
    assert.near(0.2, late.time - start, 1e-6) -- the override timeout
  end)

  it("MUST-38: a window opening by a few bytes at a time does not draw tiny segments", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 10000, settings = settings })
    t.c:send(("w"):rep(20000))
    t.net:sleep(0.3)
    t:skip()
    t:send { flags = "A", ack = 10001, win = 100 } -- everything acknowledged, a tiny window
    t:expect_nothing(0.1)
    t:send { flags = "A", ack = 10001, win = 6000 } -- a real opening
    t:expect { flags = "A", seq = 10001, len = 1460 }
  end)

  it("MUST-38: data that all fits is sent at once, however small (rule 2)", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 10000, settings = settings })
    t.c:send("tiny")
    t:expect { flags = "PA", seq = 1, len = 4 }
  end)
end)

describe("tail loss probe (RFC 8985 §7, policy tail_loss_probe, off by default)", function()
  local tlp = rfc5681 { tail_loss_probe = true }

  -- A connection with SACK (Linux probes only then: tcp_is_sack) whose RTT
  -- was measured (the fixture's peer ACKs 20 ms after our segment), and
  -- its probe timeout with more than one segment in flight: 2*SRTT + 2 ms
  -- (tcp_schedule_loss_probe's TCP_TIMEOUT_MIN_US).
  local function measured(settings, no_sack)
    local t = fixture.at_state("ESTABLISHED", { settings = settings, peer_sack = not no_sack })
    t.c:send(("p"):rep(MSS))
    t:expect({ flags = "A", seq = 1, len = MSS }, 0.1)
    t:sleep(0.02)
    t:send { flags = "A", ack = 1 + MSS }
    local srtt = t.c:info().srtt
    assert.truthy(srtt > 0)
    return t, 2 * srtt + 0.002
  end

  it("probes with the last segment after 2*SRTT when the ACK of a whole flight is lost", function()
    local t, pto = measured(tlp)
    local start = t.net:now()
    t.c:send(("q"):rep(3 * MSS)) -- three segments, nothing more to send
    for i = 0, 2 do t:expect({ flags = "A", seq = 1 + (1 + i) * MSS, len = MSS }, 0.1) end
    -- no ACK comes: the probe is the last segment again, after the PTO,
    -- long before the RTO (1 s)
    local probe = t:expect({ flags = "A", seq = 1 + 3 * MSS, len = MSS }, 0.5)
    assert.near(pto, probe.time - start, 2e-6)
    assert.equal(1, t.c:info().retransmits)
    t:expect_nothing(0.5) -- one probe an episode, then only the RTO
    t:send { flags = "A", ack = 1 + 4 * MSS } -- the probe's ACK covers the flight
    t:expect_nothing(1.5)
  end)

  it("probes with new data when the peer's window has room for it, beyond cwnd", function()
    local t, pto = measured(tlp)
    local start = t.net:now()
    local from = #t.net:records() + 1
    t.c:send(("r"):rep(10 * MSS)) -- cwnd (4 segments after one ACK) holds the rest back
    t.net:sleep(0)
    assert.equal(4, #data_since(t, from))
    t:skip()
    local probe = t:expect({ flags = "A", seq = 1 + 5 * MSS, len = MSS }, 0.5)
    assert.near(pto, probe.time - start, 2e-6)
    assert.equal(0, t.c:info().retransmits) -- new data is no retransmission
  end)

  it("is off by default: the same lost ACK waits for the RTO", function()
    local t = measured(nil)
    local start = t.net:now()
    t.c:send(("q"):rep(3 * MSS))
    for i = 0, 2 do t:expect({ flags = "A", seq = 1 + (1 + i) * MSS, len = MSS }, 0.1) end
    local again = t:expect({ flags = "A", len = MSS }, 2)
    assert.equal(1 + MSS, again.seq) -- the RTO: the first unacknowledged segment
    assert.near(1.0, again.time - start, 1e-6)
  end)

  it("waits 2*SRTT + 200 ms with one segment in flight (its ACK may be delayed)", function()
    local t = measured(tlp)
    local srtt = t.c:info().srtt
    local start = t.net:now()
    t.c:send(("s"):rep(100))
    t:expect({ flags = "PA", seq = 1 + MSS, len = 100 }, 0.1)
    local probe = t:expect({ flags = "PA", seq = 1 + MSS, len = 100 }, 1)
    assert.near(2 * srtt + 0.2, probe.time - start, 2e-6)
  end)

  it("sends no probe on a connection without SACK, as Linux (tcp_schedule_loss_probe): the RTO repairs", function()
    local t = measured(tlp, true)
    local start = t.net:now()
    t.c:send(("q"):rep(3 * MSS))
    for i = 0, 2 do t:expect({ flags = "A", seq = 1 + (1 + i) * MSS, len = MSS }, 0.1) end
    local again = t:expect({ flags = "A", len = MSS }, 2)
    assert.equal(1 + MSS, again.seq) -- the RTO (1 s here), not a probe of the last segment
    assert.near(1.0, again.time - start, 1e-6)
  end)

  it("probes at the RTO's time, in its place, when the RTO comes before the PTO (RFC 8985 §7.2)", function()
    -- rto_min 30 ms (FreeBSD's): the RTO (30 ms here) is due before
    -- 2*SRTT + 200 ms; the probe goes then, and the RTO is re-armed from
    -- it, not backed off
    local t = measured(rfc5681 { tail_loss_probe = true, rto_min = 0.03 })
    local rto = t.c:info().rto
    local start = t.net:now()
    t.c:send(("s"):rep(100))
    t:expect({ flags = "PA", seq = 1 + MSS, len = 100 }, 0.1)
    local probe = t:expect({ flags = "PA", seq = 1 + MSS, len = 100 }, 1)
    assert.near(rto, probe.time - start, 2e-6)
    local timeout = t:expect({ flags = "PA", seq = 1 + MSS, len = 100 }, 1)
    assert.near(rto, timeout.time - probe.time, 2e-6)
  end)
end)
