-- RFC 9293 Appendix B requirements that no state-machine spec proved: each
-- `it` names the requirement IDs it proves (spec/conformance/matrix.md lists
-- them all, spec/conformance/check.lua keeps the two in agreement). Every
-- spec asserts on-wire behaviour exactly, with the fixture (us 192.0.2.1,
-- a scripted peer 192.0.2.2; our ISN 1000, the peer's 5000, both relative 0)
-- or the net API.
local synfin = require "synfin"
-- RFC 9293's MUSTs with RFC 6298's retransmission timer (RTO at least 1 s,
-- at most 60 s, no tail loss probe), the one RFC 9293 §3.8.1 names (MUST-18)
local fixture = require("synfin.fixture").with_timing("rfc6298").with_window "rfc"
local sm = require "helpers.state_machine"

local TWO32 = 4294967296

-- Our segments from record index `from` on, with their total payload length.
local function ours(t, from)
  local list, bytes = sm.ours(t, from), 0
  for _, r in ipairs(list) do bytes = bytes + r.len end
  return list, bytes
end

-- A whole connection life as the passive side: handshake, data both ways,
-- the peer's FIN, our FIN, the last ACK. Returns the fixture.
local function whole_life()
  local t = fixture.at_state("ESTABLISHED", { passive = true })
  t:send { flags = "PA", payload = "ping" }
  t:expect { flags = "=A", seq = 1, ack = 5 }
  t.c:send("pong")
  t:expect { flags = "=PA", seq = 1, ack = 5, payload = "pong" }
  t:send { flags = "FA", ack = 5 }
  t:expect { flags = "=A", seq = 5, ack = 6 }
  t.c:close()
  t:expect { flags = "=FA", seq = 5, ack = 6 }
  t:send { flags = "A", ack = 6 }
  t.net:sleep(0)
  assert.equal("CLOSED", t.c:state())
  return t
end

describe("RFC 9293 §3.1 header fields", function()
  it("MUST-1: the peer's window is an unsigned number: a window of 40000 lets exactly 40000 bytes go", function()
    -- without congestion control, so that the window alone limits the sender
    local t = fixture.at_state("ESTABLISHED", { peer_win = 40000, settings = { congestion_control = "none" } })
    local from = sm.mark(t)
    assert.equal(50000, t.c:send(string.rep("u", 50000)))
    t.net:sleep(0.5)
    local list, bytes = ours(t, from)
    assert.equal(40000, bytes)
    assert.equal(28, #list) -- 27 segments of 1460 bytes and one of 580
    assert.equal(580, list[#list].len)
    assert.equal(40000, t.c:info().snd_wnd)
  end)

  it("MUST-3: a segment with a bad checksum is dropped before any processing: no reply, no effect", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "R", seq = 1, bad_checksum = true } -- would reset the connection
    t:send { flags = "PA", payload = "corrupt", bad_checksum = true }
    t:send { flags = "S", abs_seq = fixture.PEER_ISN + 9, bad_checksum = true }
    t:expect_nothing(1)
    assert.equal("ESTABLISHED", t.c:state())
    assert.is_nil(t.c:read())
    assert.is_true(sm.noted(t, "bad TCP checksum"))
    -- the same segment with a good checksum is taken
    t:send { flags = "PA", seq = 1, payload = "good" }
    t:expect { flags = "=A", seq = 1, ack = 5 }
    assert.equal("good", t.c:read())
  end)

  it("MUST-3: a SYN with a bad checksum draws no SYN-ACK from a listener and makes no child", function()
    local t = fixture.at_state("LISTEN")
    t:send { flags = "S", seq = 0, bad_checksum = true }
    t:expect_nothing(1)
    assert.is_nil(sm.child(t))
  end)
end)

describe("RFC 9293 §3.1-3.2, §3.7.1 options", function()
  it("MUST-5: an option on a segment other than a SYN is received: data carrying options is taken and ACKed", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "PA", payload = "opts", mss = 1000, sack_perm = true, ts_val = 77, ts_ecr = 0 }
    t:expect { flags = "=A", seq = 1, ack = 5, len = 0 }
    assert.equal("opts", t.c:read())
    assert.equal("ESTABLISHED", t.c:state())
  end)

  it("MUST-6: an option a host does not implement (SACK-permitted, with sack = false) on a SYN is ignored; window scale and timestamps are answered", function()
    local t = fixture.at_state("LISTEN", { settings = { sack = false } })
    t:send { flags = "S", seq = 0, wscale = 7, sack_perm = true, ts_val = 1, ts_ecr = 0 }
    local r = t:expect { flags = "=SA", seq = 0, ack = 1, mss = 1460 }
    assert.equal(0, r.wscale) -- RFC 7323: our shift for a 64 KiB buffer
    assert.is_nil(r.sack_perm)
    assert.equal(1, r.ts)
    -- the handshake completes; the peer's window is scaled by 2^7: 100 means 12800 bytes
    t.c = assert(sm.child(t))
    t:send { flags = "A", seq = 1, ack = 1, win = 100, ts_val = 2, ts_ecr = r.ts_val }
    t.net:sleep(0)
    t.c = assert(t.l:accept(1))
    assert.equal(12800, t.c:info().snd_wnd)
  end)

  it("MAY-3, SHLD-5: the MSS option goes on every SYN and SYN-ACK, even when it is the default 536", function()
    local t = fixture.new { settings = { mss = 536 } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    t:expect { flags = "=S", seq = 0, mss = 536 }
    t:expect({ flags = "=S", seq = 0, mss = 536 }, 2) -- its retransmission too
    local l = fixture.at_state("LISTEN", { settings = { mss = 536 } })
    l:send { flags = "S", seq = 0 }
    l:expect { flags = "=SA", seq = 0, ack = 1, mss = 536 }
  end)

  it("MUST-65: the MSS option rides on SYNs only: no other segment of ours carries it", function()
    local t = whole_life()
    local list = sm.ours(t)
    assert.equal(5, #list) -- SYN-ACK, ACK, data, ACK of the FIN, our FIN
    for _, r in ipairs(list) do
      if r.flags:find("S", 1, true) then
        assert.equal(1460, r.mss)
      else
        assert.is_nil(r.mss, "segment #" .. r.n .. " (" .. r.flags .. ") carries an MSS option")
      end
    end
  end)

  it("MUST-16: the effective send MSS is the smaller of the peer's MSS and what our own packets carry", function()
    -- our own limit (the mss setting) is the smaller one
    local t = fixture.at_state("ESTABLISHED", { settings = { mss = 1000 } })
    t.c:send(string.rep("e", 2500))
    t:expect { flags = "=A", seq = 1, len = 1000 }
    t:expect { flags = "=A", seq = 1001, len = 1000 }
    t:expect { flags = "=PA", seq = 2001, len = 500 }
    -- the peer's MSS is the smaller one
    local p = fixture.at_state("ESTABLISHED", { peer_mss = 1200 })
    p.c:send(string.rep("e", 2500))
    p:expect { flags = "=A", seq = 1, len = 1200 }
    p:expect { flags = "=A", seq = 1201, len = 1200 }
    p:expect { flags = "=PA", seq = 2401, len = 100 }
  end)
end)

describe("RFC 9293 §3.4.1 initial sequence numbers", function()
  it("MUST-8: the ISN has a clock component: the same 4-tuple 1 s later starts 250000 higher (4 us a tick)", function()
    local net = synfin.sim { seed = 1, latency = 0 }
    local a = net:host("192.0.2.1", { secret = 12345 })
    net:peer("192.0.2.2")
    local isn = {}
    for i = 1, 3 do
      local c = assert(a:connect("192.0.2.2", 80, { sport = 5000 }))
      local r = net:expect({ from = a, flags = "=S" }, 0.1)
      isn[i] = r.abs_seq
      assert.equal((i - 1) * 1000000, r.time_us)
      assert.is_true(c:abort())
      net:sleep(1)
    end
    assert.equal(250000, (isn[2] - isn[1]) % TWO32)
    assert.equal(250000, (isn[3] - isn[2]) % TWO32)
  end)
end)

describe("RFC 9293 §3.9.1.1 OPEN and §3.9.2.3 address validation", function()
  it("MUST-41, MUST-42: LISTEN on a port a SYN_SENT connection uses; the connection goes on, a second LISTEN fails and leaves the first alone", function()
    local t = fixture.new()
    -- an active open from our port 80
    t.c = assert(t.us:connect(fixture.THEM, 5555, { sport = fixture.PORT }))
    t:expect { flags = "=S", seq = 0, sport = fixture.PORT, dport = 5555 }
    -- LISTEN on port 80 while that connection is in SYN_SENT
    local l = assert(t.us:listen(fixture.PORT))
    assert.equal("LISTEN", l:state())
    assert.equal("SYN_SENT", t.c:state())
    -- the connection completes, untouched by the listener
    t:send { flags = "SA", seq = 0, ack = 1, sport = 5555, dport = fixture.PORT }
    t:expect { flags = "=A", seq = 1, ack = 1, dport = 5555 }
    assert.equal("ESTABLISHED", t.c:state())
    -- a SYN from another port reaches the listener
    t:send { flags = "S", seq = 0, sport = 6000, dport = fixture.PORT }
    t:expect { flags = "=SA", seq = 0, ack = 1, dport = 6000 }
    -- a second passive OPEN on the port is an error and changes nothing
    local ok, err = pcall(t.us.listen, t.us, fixture.PORT)
    assert.is_false(ok)
    assert.matches("cannot listen on 192.0.2.1:80: address already in use", err, 1, true)
    assert.equal("LISTEN", l:state())
    assert.equal("ESTABLISHED", t.c:state())
    t:send { flags = "A", seq = 1, ack = 1, sport = 6000, dport = fixture.PORT }
    t.net:sleep(0)
    local s = assert(l:accept(1))
    assert.equal(6000, s:info().rport)
    -- the first connection still carries data
    t:send { flags = "PA", seq = 1, ack = 1, sport = 5555, dport = fixture.PORT, payload = "still" }
    t:expect { flags = "=A", seq = 1, ack = 6, dport = 5555 }
    assert.equal("still", t.c:read())
  end)

  it("MUST-45: every segment of a connection leaves from the local address it was opened on", function()
    local t = whole_life()
    for _, r in ipairs(sm.ours(t)) do
      assert.equal(fixture.US, r.src)
      assert.equal(fixture.THEM, r.dst)
    end
  end)

  it("MUST-57: a SYN addressed to a broadcast or multicast address is dropped silently", function()
    local t = fixture.at_state("LISTEN")
    for _, dst in ipairs { "255.255.255.255", "224.0.0.1", "239.255.255.250" } do
      t.us:inject("ingress", { src = fixture.THEM, dst = dst, sport = fixture.SPORT, dport = fixture.PORT,
        flags = "S", abs_seq = fixture.PEER_ISN, mss = 1460 })
    end
    t:expect_nothing(1)
    assert.is_nil(sm.child(t))
    assert.is_true(sm.noted(t, "not addressed to this host"))
  end)
end)

describe("RFC 9293 §3.5.3, §3.6 closing", function()
  it("SHLD-2: a RST carrying data (a diagnostic text) at RCV.NXT resets the connection", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "R", seq = 1, payload = "diagnostic: service going down" }
    t:expect_nothing(2)
    assert.equal("CLOSED", t.c:state())
    assert.equal("connection reset", t.c:info().error)
  end)
end)

describe("RFC 9293 §3.8.3 connection failures", function()
  it("MUST-21: R2 is set per connection: with retries = 1 the connection gives up after one retransmission", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:set { retries = 1 }
    t.c:send("abc")
    assert.equal(0, t:expect({ flags = "=PA", seq = 1, len = 3 }).time_us)
    assert.equal(1000000, t:expect({ flags = "=PA", seq = 1, len = 3 }, 2).time_us)
    t:expect_nothing(5)
    assert.equal("CLOSED", t.c:state())
    assert.equal(3000000, sm.entered(t, t.c, "CLOSED").time_us)
    assert.equal("connection timed out", t.c:info().error)
    -- the host's default (15) is untouched: another connection keeps trying
    local d = fixture.at_state("ESTABLISHED")
    d.c:send("abc")
    d:sleep(10)
    assert.equal("ESTABLISHED", d.c:state())
  end)

  it("SHLD-11: with the default settings data is retransmitted for more than 100 s before the connection is closed", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("r2")
    t:sleep(100)
    assert.equal("ESTABLISHED", t.c:state())
    assert.is_true(t.c:info().retransmits >= 6)
    t:sleep(1000)
    assert.equal("CLOSED", t.c:state())
    assert.equal("connection timed out", t.c:info().error)
    assert.is_true(sm.entered(t, t.c, "CLOSED").time_us > 100 * 1000000)
  end)
end)

describe("RFC 9293 §3.8.6 the windows", function()
  it("SHLD-14: the right edge of the window we offer (ACK + WIN) never moves left", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 1000 } })
    local from = sm.mark(t)
    t:send { flags = "PA", payload = string.rep("a", 600) }
    t:expect { flags = "=A", ack = 601, win = 400 }
    assert.equal(100, #t.c:read(100)) -- a small read: no window update
    t:send { flags = "PA", seq = 801, payload = string.rep("c", 100) } -- past a hole
    t:expect { flags = "=A", ack = 601 }
    t:send { flags = "PA", seq = 601, payload = string.rep("b", 200) }
    t:expect { flags = "=A", ack = 901 }
    -- more than fits: the 100 bytes read did not open the window (receiver
    -- SWS avoidance, MUST-39), so only the bytes up to the old edge are taken
    t:send { flags = "PA", seq = 901, payload = string.rep("d", 500) }
    t:expect { flags = "=A", ack = 1001, win = 0 }
    assert.equal(900, #t.c:read(2000))
    t:expect { flags = "=A", ack = 1001, win = 1000 }
    local edge = 0
    for _, r in ipairs(sm.ours(t, from)) do
      assert.is_true(r.ack + r.win >= edge, "segment #" .. r.n .. " moved the right edge left")
      edge = r.ack + r.win
    end
  end)

  it("MAY-8: we may keep our window closed indefinitely: probes get win = 0 for as long as the application does not read", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 100 } })
    t:send { flags = "PA", payload = string.rep("z", 100) }
    t:expect { flags = "=A", seq = 1, ack = 101, win = 0 }
    for _ = 1, 10 do
      t:sleep(60)
      t:send { flags = "A", seq = 101, payload = "p" } -- the peer's zero-window probe
      t:expect { flags = "=A", seq = 1, ack = 101, win = 0 }
    end
    assert.equal("ESTABLISHED", t.c:state())
    assert.equal(100, t.c:info().rcv_queued)
  end)
end)

describe("RFC 9293 §3.8.6.3 generating ACKs", function()
  it("MUST-40: an ACK is never delayed: data is acknowledged at the instant it arrives", function()
    local t = fixture.at_state("ESTABLISHED", { latency = 0.05 })
    local sent = t.net.sim:now()
    t:send { flags = "PA", payload = "hello" }
    local r = t:expect { flags = "=A", seq = 1, ack = 6 }
    assert.equal(sent + 50000, r.time_us) -- one link latency: the arrival itself
    local sent2 = t.net.sim:now()
    t:send { flags = "A", payload = "x", seq = 6 }
    assert.equal(sent2 + 50000, t:expect({ flags = "=A", ack = 7 }).time_us)
  end)

  it("SHLD-19: full-sized segments arriving back to back are each acknowledged (at least every second one must be)", function()
    local t = fixture.at_state("ESTABLISHED")
    local from = sm.mark(t)
    for i = 0, 3 do
      t:send { flags = "A", seq = 1 + i * 1460, payload = string.rep("f", 1460) }
    end
    t.net:sleep(0.5)
    local acks = {}
    for _, r in ipairs(sm.ours(t, from)) do acks[#acks + 1] = r.ack end
    assert.same({ 1461, 2921, 4381, 5841 }, acks)
  end)
end)

describe("RFC 9293 §3.9.1.2 SEND and the PUSH flag", function()
  it("MUST-60, MUST-61: SEND is never held back: the data goes at once, PSH on the segment with the last queued byte", function()
    local t = fixture.at_state("ESTABLISHED")
    t:sleep(1)
    local now = t.net.sim:now()
    assert.equal(3000, t.c:send(string.rep("s", 3000)))
    local a = t:expect { flags = "=A", seq = 1, len = 1460 }
    local b = t:expect { flags = "=A", seq = 1461, len = 1460 }
    local c = t:expect { flags = "=PA", seq = 2921, len = 80 }
    assert.equal(now, a.time_us)
    assert.equal(now, b.time_us)
    assert.equal(now, c.time_us)
  end)

  it("SHLD-27, SHLD-28: SENDs queued before the handshake go out in full-sized segments with one PSH, on the last", function()
    local t = fixture.at_state("SYN_SENT")
    for _, ch in ipairs { "a", "b", "c" } do assert.equal(1000, t.c:send(string.rep(ch, 1000))) end
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 1, len = 1460 }
    t:expect { flags = "=A", seq = 1461, ack = 1, len = 1460 }
    t:expect { flags = "=PA", seq = 2921, ack = 1, len = 80 }
    t:expect_nothing(0.5)
  end)
end)

describe("RFC 9293 §3.8.1 the retransmission timeout (RFC 6298)", function()
  it("MUST-18: the RTO comes from the RTT samples, RFC 6298 (2.2), (2.3): SRTT + 4 * RTTVAR", function()
    local t = fixture.at_state("SYN_SENT", { settings = { rto_min = 0.1 } })
    t:sleep(0.2)
    t:send { flags = "SA", seq = 0, ack = 1 } -- RTT 0.2 s: SRTT 0.2, RTTVAR 0.1
    t:expect { flags = "=A", seq = 1, ack = 1 }
    local i = t.c:info()
    assert.near(0.2, i.srtt, 1e-9)
    assert.near(0.2 + 4 * 0.1, i.rto, 1e-9)
    t.c:send("abc")
    t:expect { flags = "=PA", seq = 1, len = 3 }
    t:sleep(0.1)
    t:send { flags = "A", ack = 4 } -- RTT 0.1 s: SRTT 0.1875, RTTVAR 0.1
    t.net:sleep(0)
    i = t.c:info()
    assert.near(7 / 8 * 0.2 + 1 / 8 * 0.1, i.srtt, 1e-6)
    assert.near(i.srtt + 4 * (3 / 4 * 0.1 + 1 / 4 * 0.1), i.rto, 1e-6)
  end)

  it("MUST-18: Karn's algorithm: the ACK of a retransmitted SYN gives no RTT sample; RFC 6298 (5.7): data starts with an RTO of 3 s", function()
    local t = fixture.at_state("SYN_SENT", { settings = { rto_min = 0.1 } })
    t:expect({ flags = "=S", seq = 0 }, 2) -- the retransmission, at 1 s
    t:sleep(0.5)
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    local i = t.c:info()
    assert.equal(0, i.srtt)
    assert.near(3.0, i.rto, 1e-9)
    -- the first data segment is timed (it was never retransmitted): a sample
    t.c:send("abc")
    t:expect { flags = "=PA", seq = 1, len = 3 }
    t:sleep(0.3)
    t:send { flags = "A", ack = 4 }
    t.net:sleep(0)
    assert.near(0.3, t.c:info().srtt, 1e-9)
    assert.near(0.3 + 4 * 0.15, t.c:info().rto, 1e-9)
    -- a retransmitted data segment is not timed either: its ACK leaves SRTT alone
    t.c:send("def")
    t:expect { flags = "=PA", seq = 4, len = 3 }
    local r = t:expect({ flags = "=PA", seq = 4, len = 3 }, 2)
    t:sleep(0.05)
    t:send { flags = "A", ack = 7 }
    t.net:sleep(0)
    assert.near(0.3, t.c:info().srtt, 1e-9)
    assert.is_true(r.time_us > 0)
  end)
end)
