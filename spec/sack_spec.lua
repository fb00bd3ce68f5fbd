-- Selective acknowledgment as a receiver (RFC 2018): SACK-permitted is
-- offered and agreed in the SYNs, and every ACK sent while data past a
-- hole is held names the held blocks, the block of the segment that came
-- last first. The cases are RFC 2018's own (§4, pages 8-9), with 500-byte
-- segments; smoltcp's test_established_rfc2018_cases asserts the same.
local synfin = require "synfin"
-- RFC 2018's cases with RFC 6298's retransmission timer (RTO at least 1 s,
-- no tail loss probe): nothing is resent while a case runs
local fixture = require("synfin.fixture").with_timing "rfc6298"

local SEG = 500

-- RFC 5681's NewReno and initial window, which these cases count in (the
-- default, the linux profile, has CUBIC and an initial window of 10
-- segments, RFC 9438 and RFC 6928): settings with those two added.
local function rfc5681(settings)
  local s = { congestion_control = "newreno", initial_window = 0 }
  for k, v in pairs(settings or {}) do s[k] = v end
  return s
end
local data = ("0123456789"):rep(SEG // 10)

-- The peer's segment number i (1-based), relative seq 1 + (i-1)*500.
local function seq(i) return 1 + (i - 1) * SEG end

local function established(opts)
  opts = opts or {}
  opts.peer_sack = opts.peer_sack ~= false
  opts.settings = rfc5681(opts.settings)
  return fixture.at_state("ESTABLISHED", opts)
end

describe("SACK (RFC 2018) as a receiver", function()
  it("case 2: the first segment is lost, the next seven each draw ACK 1 with one growing block", function()
    local t = established()
    for i = 2, 8 do
      t:send { seq = seq(i), payload = data }
      local ack = t:expect { flags = "=A", ack = 1 }
      assert.same({ { seq(2), seq(i) + SEG } }, ack.sack)
    end
    t:send { seq = seq(1), payload = data } -- the hole is filled: a plain ACK of it all
    local ack = t:expect { flags = "=A", ack = seq(8) + SEG }
    assert.is_nil(ack.sack)
    assert.equal(8 * SEG, #t.c:recv(8 * SEG, 1))
  end)

  it("case 3: segments 2, 4, 6 and 8 are lost; the blocks come latest first", function()
    local t = established()
    t:send { seq = seq(1), payload = data }
    assert.is_nil(t:expect({ flags = "=A", ack = seq(2) }).sack)
    t:send { seq = seq(3), payload = data }
    assert.same({ { seq(3), seq(4) } }, t:expect({ flags = "=A", ack = seq(2) }).sack)
    t:send { seq = seq(5), payload = data }
    assert.same({ { seq(5), seq(6) }, { seq(3), seq(4) } }, t:expect({ flags = "=A", ack = seq(2) }).sack)
    t:send { seq = seq(7), payload = data }
    assert.same({ { seq(7), seq(8) }, { seq(5), seq(6) }, { seq(3), seq(4) } },
      t:expect({ flags = "=A", ack = seq(2) }).sack)
    -- "the fourth packet arrives out of order": it joins blocks 3 and 5
    t:send { seq = seq(4), payload = data }
    assert.same({ { seq(3), seq(6) }, { seq(7), seq(8) } }, t:expect({ flags = "=A", ack = seq(2) }).sack)
    -- the second arrives: the ACK jumps to the next hole, one block is left
    t:send { seq = seq(2), payload = data }
    assert.same({ { seq(7), seq(8) } }, t:expect({ flags = "=A", ack = seq(6) }).sack)
  end)

  it("names at most 3 blocks beside timestamps, 4 without, the latest first", function()
    for _, ts in ipairs { false, true } do
      local t = established()
      -- the fixture's peer sends no timestamps; with ts the peer's SYN-ACK
      -- must carry them for both to agree
      if ts then
        t = fixture.new { peer_sack = true }
        t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
        t:expect { flags = "=S" }
        t:send { flags = "SA", seq = 0, ack = 1, ts_val = 1, ts_ecr = 0 }
        t:expect { flags = "=A", seq = 1, ack = 1 }
      end
      local ack
      for i = 2, 10, 2 do -- five blocks: 2, 4, 6, 8, 10
        t:send { seq = seq(i), payload = data, ts_val = ts and i or nil, ts_ecr = ts and 0 or nil }
        ack = t:expect { flags = "=A", ack = 1 }
      end
      local want = { { seq(10), seq(11) }, { seq(8), seq(9) }, { seq(6), seq(7) }, { seq(4), seq(5) } }
      if ts then want[4] = nil end
      assert.same(want, ack.sack)
    end
  end)

  it("negotiates: SACK-permitted on our SYN, and SACK blocks only when the peer permitted them too", function()
    local t = established { peer_sack = false }
    t:send { seq = seq(2), payload = data }
    assert.is_nil(t:expect({ flags = "=A", ack = 1 }).sack)

    -- sack = false: no offer, and none taken
    t = fixture.new { peer_sack = true, settings = { sack = false } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    assert.is_nil(t:expect({ flags = "=S" }).sack_perm)
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    t:send { seq = seq(2), payload = data }
    assert.is_nil(t:expect({ flags = "=A", ack = 1 }).sack)
  end)

  it("shows the blocks in the ladder, relative to the sender's ISN", function()
    local t = established()
    t:send { seq = seq(3), payload = data }
    t:expect { flags = "=A", ack = 1 }
    assert.matches("#%d+ A seq=1 ack=1 win=%d+ <sack 1 {1001:1501}>", t.net:trace():text())
  end)

  it("helps a lossy transfer between two synfin hosts end with the data whole", function()
    local net = synfin.sim { seed = 4, latency = 0.01, loss = 0.03 }
    local a, b = net:host("10.0.0.1", rfc5681()), net:host("10.0.0.2", rfc5681())
    local l = b:listen(80)
    local payload = ("abcdefghij"):rep(6000) -- fits the receive buffer: no reader needed meanwhile
    local got, sacks = {}, 0
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 5)
      local s = l:accept(5)
      c:send_all(payload, 60)
      c:close()
      while true do
        local d = s:recv(nil, 60)
        if not d then break end
        got[#got + 1] = d
      end
    end)
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.sack then sacks = sacks + 1 end
    end
    assert.equal(payload, table.concat(got))
    assert.truthy(sacks > 0, "no ACK carried a SACK block")
  end)
end)

describe("SACK (RFC 2018, RFC 6675) as a sender", function()
  local MSS = 1460
  -- our segment i (1-based) of a bulk send: relative seq 1 + (i-1)*MSS
  local function our(i) return 1 + (i - 1) * MSS end

  -- ESTABLISHED with SACK agreed, cwnd opened to 8 segments, 8 in flight
  local function eight_in_flight(opts)
    local t = established(opts)
    t.c:send(("s"):rep(40 * MSS))
    t.net:sleep(0) -- the initial window: 3 segments
    t:send { flags = "A", ack = our(2) }
    t:send { flags = "A", ack = our(3) }
    t:send { flags = "A", ack = our(4) } -- cwnd 6 segments, 4..9 in flight
    t:send { flags = "A", ack = our(5) } -- cwnd 7: 5..11
    t.net:sleep(0)
    t:skip()
    return t
  end

  it("resends each hole the SACK blocks show, without waiting for partial ACKs", function()
    local t = eight_in_flight()
    -- segments 5 and 8 are lost; the peer holds 6-7 and 9-11
    local function dup(blocks) t:send { flags = "A", ack = our(5), sack = blocks } end
    dup { { our(6), our(7) } }
    t:expect { flags = "A", seq = our(12), len = MSS } -- Limited Transmit
    dup { { our(6), our(8) } }
    t:expect { flags = "A", seq = our(13), len = MSS }
    dup { { our(9), our(10) }, { our(6), our(8) } }
    t:expect { flags = "A", seq = our(5), len = MSS } -- fast retransmit of 5
    -- the next duplicate ACK: the scoreboard says 8 is missing too, and it
    -- goes now, one round trip before NewReno's partial ACK would ask for it
    dup { { our(9), our(11) }, { our(6), our(8) } }
    t:expect { flags = "A", seq = our(8), len = MSS }
    -- nothing else is missing below the highest SACKed byte, and NewReno's
    -- window (inflated by one segment a duplicate ACK, less the holes
    -- resent) has no room for new data yet: no hole goes twice
    dup { { our(9), our(12) }, { our(6), our(8) } }
    t:expect_nothing(0.5)
    -- both holes arrived: the cumulative ACK covers everything sent
    t:send { flags = "A", ack = our(14) }
    local r = t:expect { flags = "A", len = MSS }
    assert.equal(our(14), r.seq) -- new data again
  end)

  it("without SACK, the second hole waits for the partial ACK (NewReno)", function()
    -- the peer did not permit SACK, yet sends blocks: they are not read
    local t = eight_in_flight { peer_sack = false }
    for _ = 1, 2 do
      t:send { flags = "A", ack = our(5), sack = { { our(6), our(8) } } }
      t:skip()
    end
    t:send { flags = "A", ack = our(5), sack = { { our(9), our(10) }, { our(6), our(8) } } }
    t:expect { flags = "A", seq = our(5), len = MSS }
    t:send { flags = "A", ack = our(5), sack = { { our(9), our(11) }, { our(6), our(8) } } }
    local r = t:expect { flags = "A", len = MSS }
    assert.are_not.equal(our(8), r.seq)
  end)

  -- three duplicate ACKs with these blocks: Limited Transmit sends 12 and
  -- 13, the third resends 5; then a fourth with the same blocks
  local function four_dupacks(t, blocks)
    for i = 1, 3 do
      t:send { flags = "A", ack = our(5), sack = blocks }
      t:expect { flags = "A", seq = i < 3 and our(11 + i) or our(5), len = MSS }
    end
    t:send { flags = "A", ack = our(5), sack = blocks }
  end

  it("counts an ACK that SACKs new data as a duplicate, though its window changed (RFC 6675 §2)", function()
    local t = eight_in_flight()
    -- Linux grows its window as it reads: no two of these ACKs offer the
    -- same, so RFC 5681's definition would count none of them
    for i = 1, 3 do
      t:send { flags = "A", ack = our(5), win = 60000 + 1000 * i, sack = { { our(6), our(6 + i) } } }
      t:expect { flags = "A", seq = i < 3 and our(11 + i) or our(5), len = MSS }
    end
  end)

  it("trusts no block beyond what it sent (SND.MAX)", function()
    local t = eight_in_flight()
    -- trusted, it would make 6..11 a hole and resend 6 now
    four_dupacks(t, { { our(12), our(50) } })
    t:expect_nothing(0.5) -- the window is full, and nothing is known missing
  end)

  it("trusts no block that starts at or below SND.UNA", function()
    local t = eight_in_flight()
    -- 3..7 straddles the ACK: trusted, the hole would start at 7, not 6
    four_dupacks(t, { { our(3), our(7) }, { our(8), our(9) } })
    t:expect { flags = "A", seq = our(6), len = MSS }
  end)
end)

describe("SACK: a lost retransmission", function()
  local MSS = 1460
  local function our(i) return 1 + (i - 1) * MSS end

  it("resends SND.UNA again once data sent after its retransmission is SACKed, long before the RTO", function()
    local t = established()
    t.c:send(("s"):rep(60 * MSS))
    t.net:sleep(0)
    for i = 2, 5 do t:send { flags = "A", ack = our(i) } end
    t.net:sleep(0)
    t:skip()
    -- segment 5 is lost; the peer SACKs what follows, one more each time
    local right = our(6)
    local function dup()
      right = right + MSS
      t:send { flags = "A", ack = our(5), sack = { { our(6), right } } }
    end
    local first_rxt, second_rxt
    for _ = 1, 40 do
      dup()
      t.net:sleep(0)
      for i = t.cursor, #t.net:records() do
        local r = t.net.recs[i]
        if r.kind == "seg" and r.from == t.us.index and r.seq == our(5) and r.len > 0 then
          if not first_rxt then first_rxt = r elseif not second_rxt and r ~= first_rxt then second_rxt = r end
        end
      end
      t:skip()
      if second_rxt then break end
      -- no SACK can name data we have not sent: stop where SND.MAX is
      local info = t.c:info()
      if right + MSS > (info.snd_max or info.snd_nxt) - info.iss then right = right - MSS end
    end
    assert.is_not_nil(first_rxt, "no fast retransmit of segment 5")
    assert.is_not_nil(second_rxt, "segment 5's lost retransmission was not resent before the RTO")
    assert.equal(0, second_rxt.time) -- the fixture's clock never moved: no RTO
  end)
end)

describe("RFC 6675 IsLost", function()
  it("one duplicate ACK whose SACK blocks cover more than 2 SMSS starts fast recovery, with no RTO", function()
    -- on a sim link a flight arrives in one batch and draws one ACK (as a
    -- receiver's GRO or a GSO super-segment would): a hole at its start is
    -- reported once, with the rest SACKed
    local net = synfin.sim { latency = 0.01 }
    local a = net:host("192.0.2.1", {})
    local b = net:host("192.0.2.2", {})
    local l = b:listen(80)
    a:hook("egress", { flags = "A", count = 1, when = function(seg) return seg.len > 0 end },
      function() return "drop" end)
    -- the receiver reports the hole once: its other duplicate ACKs go
    b:hook("egress", { flags = "=A", after = 1, when = function(seg) return seg.sack ~= nil end },
      function() return "drop" end)
    net:run(function()
      local c = a:connect("192.0.2.2", 80)
      local s = l:accept(1)
      c:send(("d"):rep(10 * 1448))
      assert.equal(10 * 1448, #s:recv(10 * 1448, 2))
    end)
    local lost, rexmit -- (the dropped one never reached the wire: expectations do not see it)
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == a.index and r.seq == 1 and r.len == 1448 then
        if lost then rexmit = rexmit or r else lost = r end
      end
    end
    assert.equal("dropped_egress", lost.fate)
    -- one round trip (20 ms) after, not an RTO (at least 200 ms) after
    assert.is_true(rexmit.time - lost.time < 0.05, ("resent after %.3f s"):format(rexmit.time - lost.time))
  end)
end)
