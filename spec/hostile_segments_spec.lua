-- Hostile segments: what a peer (or an attacker on the path) may send that a
-- careful stack must survive. Each case checks the answer RFC 9293 (or the
-- RFC it names) gives, and that the connection still carries data after it.
-- RFC 9293's answers with RFC 6298's retransmission timer (RTO at least
-- 1 s, no tail loss probe): the quiet spans below are shorter than it
local fixture = require("synfin.fixture").with_timing("rfc6298").with_window("rfc").with_rules "rfc"
local sm = require "helpers.state_machine"

-- The peer's side of a bulk transfer from us: ACK every segment we send,
-- as it comes, until `total` bytes have arrived; returns the segments' lengths.
local function drain(t, total, ts)
  local got, lens, clock = 0, {}, 10
  for _ = 1, 2 * total + 10 do
    local s = t:expect({ flags = "A" }, 5)
    lens[#lens + 1] = s.len
    got = got + s.len
    clock = clock + 1
    local ack = { flags = "A", ack = (s.seq + s.len) % 4294967296 }
    if ts then ack.ts_val, ack.ts_ecr = clock, s.ts_val end
    t:send(ack)
    if got >= total then break end
  end
  assert.equal(total, got)
  return lens
end

-- Our passive connection with a peer that agreed timestamps; the peer's
-- TSval clock is at 2 after the handshake.
local function established_ts(opts)
  local t = fixture.at_state("LISTEN", opts)
  t:send { flags = "S", seq = 0, ts_val = 1, ts_ecr = 0 }
  local synack = t:expect { flags = "=SA", seq = 0, ack = 1 }
  t:send { flags = "A", seq = 1, ack = 1, ts_val = 2, ts_ecr = synack.ts_val }
  t.c = assert(t.l:accept(1))
  t.our_ts = synack.ts_val
  return t
end

local TWO32 = 4294967296

-- RCV.NXT and SND.UNA, relative to the peer's ISN and ours.
local function rcv_nxt(t)
  local i = t.c:info()
  return (i.rcv_nxt - i.irs) % TWO32
end
local function snd_una(t)
  local i = t.c:info()
  return (i.snd_una - i.iss) % TWO32
end

-- A segment of the peer's, with its timestamp when timestamps are on
-- (t.peer_ts, the peer's clock, ticks once a segment).
local function stamped(t, seg)
  if t.peer_ts and seg.ts_val == nil then
    t.peer_ts = t.peer_ts + 1
    seg.ts_val, seg.ts_ecr = t.peer_ts, t.our_ts or 1
  end
  return seg
end

-- The states in which each side may still send data.
local PEER_SENDS = { ESTABLISHED = true, FIN_WAIT_1 = true, FIN_WAIT_2 = true }
local WE_SEND = { ESTABLISHED = true, CLOSE_WAIT = true }

-- After a hostile segment: the connection is still in `state` and carries
-- data in every direction that state allows. The peer's "ping" (acking
-- SND.UNA, so that our FIN stays unacknowledged) is acknowledged at once
-- and read; our "pong" goes out and the peer's ACK of it empties the send
-- queue. In CLOSING, LAST_ACK and TIME_WAIT no data can move: the close
-- goes on to its end instead (the ACK of our FIN; TIME_WAIT's 2MSL).
local function carries_on(t, state)
  assert.equal(state, t.c:state())
  t.peer_nxt = rcv_nxt(t)
  local peer = t.peer_nxt
  if PEER_SENDS[state] then
    t:send(stamped(t, { flags = "PA", seq = peer, ack = snd_una(t), payload = "ping" }))
    t:expect { flags = "=A", seq = t:our_nxt(), ack = peer + 4 }
    assert.equal("ping", t.c:recv(4, 0))
    peer = peer + 4
  end
  if WE_SEND[state] then
    local ours = t:our_nxt()
    assert.equal(4, t.c:send("pong"))
    t:expect { flags = "=PA", seq = ours, ack = peer, payload = "pong" }
    t:send(stamped(t, { flags = "A", seq = peer, ack = ours + 4 }))
    t:sleep(0)
    assert.equal(0, t.c:info().snd_queued)
  end
  assert.equal(state, t.c:state())
  if state == "CLOSING" or state == "LAST_ACK" then
    t:send(stamped(t, { flags = "A", seq = peer, ack = t:our_nxt() }))
    t:sleep(0)
    assert.equal(state == "CLOSING" and "TIME_WAIT" or "CLOSED", t.c:state())
  elseif state == "TIME_WAIT" then
    t:expect_nothing(59)
    t:sleep(2)
    assert.equal("CLOSED", t.c:state())
  end
end

-- After the connection was reset: the peer (restarted) connects again
-- from the same port, with a new ISN; our listener takes it and the new
-- connection carries data both ways.
local function peer_reconnects(t)
  t.peer_nxt, t.peer_ts = 0, nil
  t:send { flags = "S", abs_seq = 777777 }
  t:expect { flags = "=SA", seq = 0, ack = 1 }
  t:send { flags = "A", seq = 1, abs_ack = fixture.OUR_ISN + 1 }
  t.c = assert(t.l:accept(1))
  carries_on(t, "ESTABLISHED")
end

describe("a peer's tiny MSS (RFC 9293 §3.7.1, RFC 6691)", function()
  -- Linux floors the send MSS at 48 (tcp_min_snd_mss); the options every
  -- segment carries come out of it (RFC 6691), so timestamps leave 36 bytes
  for _, mss in ipairs { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 47, 48, 100 } do
    for _, ts in ipairs { true, false } do
      local want = math.max(mss, 48) - (ts and 12 or 0)
      it(("MSS %d %s timestamps: segments of %d bytes, and every byte arrives"):format(
        mss, ts and "with" or "without", want), function()
        local t = fixture.at_state("LISTEN", { peer_mss = mss })
        local syn = { flags = "S", seq = 0 }
        if ts then syn.ts_val, syn.ts_ecr = 1, 0 end
        t:send(syn)
        local synack = t:expect { flags = "=SA", seq = 0, ack = 1 }
        local ack = { flags = "A", seq = 1, ack = 1 }
        if ts then ack.ts_val, ack.ts_ecr = 2, synack.ts_val end
        t:send(ack)
        t.c = assert(t.l:accept(1))
        t.c:send(("x"):rep(1000))
        local lens = drain(t, 1000, ts)
        assert.equal(want, lens[1])
        for _, n in ipairs(lens) do assert.is_true(n <= want) end
        assert.equal("ESTABLISHED", t.c:state())
        -- and the peer's data comes in as usual
        local ping = { flags = "PA", seq = 1, ack = 1001, payload = "ping" }
        if ts then ping.ts_val, ping.ts_ecr = 5000, synack.ts_val end
        t:send(ping)
        t:expect { flags = "=A", seq = 1001, ack = 5 }
        assert.equal("ping", t.c:recv(4, 0))
      end)
    end
  end
end)

describe("min_snd_mss", function()
  it("1 lets a peer's MSS of 6 through as it is (as smoltcp does)", function()
    local t = fixture.at_state("LISTEN", { peer_mss = 6, settings = { min_snd_mss = 1, timestamps = false } })
    t:send { flags = "S", seq = 0 }
    t:expect { flags = "=SA" }
    t:send { flags = "A", seq = 1, ack = 1 }
    t.c = assert(t.l:accept(1))
    t.c:send(("x"):rep(20))
    assert.same({ 6, 6, 6, 2 }, drain(t, 20, false))
  end)

  it("1, with timestamps: a peer's MSS of 12 or less leaves no room beside them: 1-byte segments (documented floor), all data arrives", function()
    for _, case in ipairs { { mss = 12, len = 1 }, { mss = 13, len = 1 }, { mss = 20, len = 8 } } do
      local t = fixture.at_state("LISTEN", { peer_mss = case.mss, settings = { min_snd_mss = 1 } })
      t:send { flags = "S", seq = 0, ts_val = 1, ts_ecr = 0 }
      local synack = t:expect { flags = "=SA", seq = 0, ack = 1 }
      t:send { flags = "A", seq = 1, ack = 1, ts_val = 2, ts_ecr = synack.ts_val }
      t.c = assert(t.l:accept(1))
      t.c:send(("t"):rep(24))
      local lens = drain(t, 24, true)
      for _, n in ipairs(lens) do assert.equal(case.len, n) end
      -- and the peer's data comes in as usual
      t:send { flags = "PA", seq = 1, ack = 25, ts_val = 100, ts_ecr = synack.ts_val, payload = "ping" }
      t:expect { flags = "=A", seq = 25, ack = 5 }
      assert.equal("ping", t.c:recv(4, 0))
      assert.equal("ESTABLISHED", t.c:state())
    end
  end)

  it("refuses 0 and values above 1460", function()
    local t = fixture.new {}
    for _, m in ipairs { 0, 1461 } do
      local ok, err = pcall(t.us.listen, t.us, 81, { min_snd_mss = m })
      assert.is_false(ok)
      assert.truthy(err:find("synfin: setting 'min_snd_mss' must be an integer in 1..1460, got " .. m, 1, true), err)
    end
  end)
end)

describe("an ACK of data never sent (RFC 5961 §5.2)", function()
  it("draws a challenge ACK, and its TSval does not become TS.Recent: the peer's next data is taken", function()
    local t = established_ts()
    -- forged: FIN, an ACK 9998 bytes past SND.NXT, a TSval far ahead
    t:send { flags = "FA", seq = 1, ack = 9999, ts_val = 200000, ts_ecr = t.our_ts }
    local challenge = t:expect { flags = "=A", seq = 1, ack = 1 }
    assert.equal(2, challenge.ts_ecr) -- TS.Recent is still the handshake's
    assert.equal("ESTABLISHED", t.c:state())
    -- the peer's real next segment, with its real clock: not dropped by PAWS
    t:send { flags = "PA", seq = 1, ack = 1, ts_val = 3, ts_ecr = t.our_ts, payload = ("x"):rep(1000) }
    t:expect { flags = "=A", seq = 1, ack = 1001 }
    assert.equal(("x"):rep(1000), t.c:recv(1000, 0))
  end)
end)

-- RFC 5961: blind in-window attacks. The RST, SYN and ACK checks of RFC
-- 9293 §3.10.7.4 with RFC 5961's refinements, in ESTABLISHED and in every
-- synchronized state after it.
local SYNCHRONIZED = { "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT" }

describe("RFC 5961 §3: a RST", function()
  it("in the window but not at RCV.NXT (RST, RST+ACK) draws a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>; ESTABLISHED carries data", function()
    local t = fixture.at_state("ESTABLISHED")
    local mark = sm.mark(t)
    t:send { flags = "R", seq = 2 }
    t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
    t:send { flags = "RA", seq = 65535, ack = 1 } -- the last sequence number in the window
    t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
    t:expect_nothing(0.5)
    assert.is_true(sm.noted(t, "RST not at RCV.NXT: challenge ACK", mark))
    assert.is_nil(t.c:info().error)
    carries_on(t, "ESTABLISHED")
  end)

  it("exactly at RCV.NXT resets: CLOSED, \"connection reset\", nothing sent; the peer's next connection works", function()
    local t = fixture.at_state("ESTABLISHED", { passive = true })
    t:send { flags = "PA", payload = "abc" }
    t:expect { flags = "=A", seq = 1, ack = 4 }
    t:send { flags = "R", seq = 4, ack = 0 }
    t:expect_nothing(3)
    assert.equal("CLOSED", t.c:state())
    assert.equal("connection reset", t.c:info().error)
    peer_reconnects(t)
  end)

  it("outside the window (right of it, left of RCV.NXT, far off) is dropped silently; ESTABLISHED carries data", function()
    local t = fixture.at_state("ESTABLISHED")
    local mark = sm.mark(t)
    for _, seq in ipairs { 1 + 65535, 0, 1 - 70000, 1 + 2 ^ 31 } do
      t:send { flags = "R", seq = seq % TWO32 }
      t:send { flags = "RA", seq = seq % TWO32, ack = 1 }
    end
    t:expect_nothing(1)
    assert.equal(8, #sm.notes(t, mark))
    for _, n in ipairs(sm.notes(t, mark)) do assert.equal("RST outside the window", n) end
    carries_on(t, "ESTABLISHED")
  end)

  for _, state in ipairs(SYNCHRONIZED) do
    if state ~= "ESTABLISHED" then
      it(("in %s: not at RCV.NXT, a challenge ACK; outside the window, silence; %s goes on"):format(state, state), function()
        local t = fixture.at_state(state)
        local rcv, ours = rcv_nxt(t), t:our_nxt()
        local mark = sm.mark(t)
        t:send { flags = "R", seq = rcv + 1 }
        t:expect { flags = "=A", seq = ours, ack = rcv, len = 0 }
        assert.is_true(sm.noted(t, "RST not at RCV.NXT: challenge ACK", mark))
        mark = sm.mark(t)
        t:send { flags = "R", seq = rcv - 1 }
        t:send { flags = "R", seq = rcv + 70000 }
        t:expect_nothing(0.5)
        assert.same({ "RST outside the window", "RST outside the window" }, sm.notes(t, mark))
        carries_on(t, state)
      end)

      it(("in %s: exactly at RCV.NXT, CLOSED%s, nothing sent"):format(state,
        (state == "FIN_WAIT_1" or state == "FIN_WAIT_2" or state == "CLOSE_WAIT") and ", \"connection reset\"" or " quietly"), function()
        local t = fixture.at_state(state, { passive = true })
        t:send { flags = "R", seq = rcv_nxt(t), ack = 0 }
        t:expect_nothing(3)
        assert.equal("CLOSED", t.c:state())
        assert.equal("RST", sm.entered(t, t.c, "CLOSED").why)
        local reset = state == "FIN_WAIT_1" or state == "FIN_WAIT_2" or state == "CLOSE_WAIT"
        assert.equal(reset and "connection reset" or nil, t.c:info().error)
        peer_reconnects(t)
      end)
    end
  end
end)

describe("RFC 5961 §4: a SYN in a synchronized state", function()
  for _, state in ipairs(SYNCHRONIZED) do
    it(("in %s draws a challenge ACK, in the window or not; %s goes on"):format(state, state), function()
      local t = fixture.at_state(state)
      local rcv, ours = rcv_nxt(t), t:our_nxt()
      local mark = sm.mark(t)
      -- (absolute numbers: a SYN names an ISN; this one is RCV.NXT, in the window)
      t:send { flags = "S", abs_seq = fixture.PEER_ISN + rcv, ack = 0 }
      t:expect { flags = "=A", seq = ours, ack = rcv, len = 0 }
      assert.is_true(sm.noted(t, "SYN in a synchronized state: challenge ACK", mark))
      -- the old ISN, left of the window: an ACK all the same, never a RST
      t:send { flags = "S", abs_seq = fixture.PEER_ISN, ack = 0 }
      t:expect { flags = "=A", seq = ours, ack = rcv, len = 0 }
      t:send { flags = "SA", abs_seq = fixture.PEER_ISN + rcv + 10 }
      t:expect { flags = "=A", seq = ours, ack = rcv, len = 0 }
      assert.equal(state, t.c:state())
      assert.equal(fixture.PEER_ISN + rcv, t.c:info().rcv_nxt)
      carries_on(t, state)
    end)

    it(("in %s: the peer's RST at the challenge ACK's number resets; its new connection works"):format(state), function()
      local t = fixture.at_state(state, { passive = true })
      -- the peer restarted, with a new ISN left of the window (in TIME_WAIT,
      -- one right of it would open a new connection: RFC 1122 §4.2.2.13)
      t:send { flags = "S", abs_seq = fixture.PEER_ISN - 4000, ack = 0, mss = 1460 }
      local challenge = t:expect { flags = "=A", seq = t:our_nxt(), ack = rcv_nxt(t) }
      assert.equal(state, t.c:state())
      t:send { flags = "R", abs_seq = challenge.abs_ack, ack = 0 }
      t:expect_nothing(1)
      assert.equal("CLOSED", t.c:state())
      peer_reconnects(t)
    end)
  end
end)

describe("RFC 5961 §5: the ACK field", function()
  it("an ACK of data not yet sent (SEG.ACK > SND.NXT) draws a challenge ACK; its data is dropped, SND.UNA stays", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send(("d"):rep(100))
    t:expect { flags = "=PA", seq = 1, ack = 1, len = 100 }
    t:send { flags = "PA", ack = 200, payload = "zz" }
    t:expect { flags = "=A", seq = 101, ack = 1, len = 0 }
    assert.is_true(sm.noted(t, "ACK of data not yet sent: ACK sent"))
    assert.equal(1, snd_una(t))
    assert.equal(1, rcv_nxt(t))
    t:send { flags = "A", seq = 1, ack = 101 }
    carries_on(t, "ESTABLISHED")
  end)

  it("an ACK too old (SEG.ACK < SND.UNA - MAX.SND.WND) draws a challenge ACK; at the bound exactly it is acceptable", function()
    local t = fixture.at_state("ESTABLISHED") -- MAX.SND.WND = 65535 (the peer's SYN-ACK)
    local mark = sm.mark(t)
    t:send { flags = "PA", seq = 1, ack = (1 - 65535 - 1) % TWO32, payload = "old" }
    t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
    assert.same({ "ACK too old (RFC 5961 §5): ACK sent" }, sm.notes(t, mark))
    assert.equal(1, rcv_nxt(t))
    t:send { flags = "PA", seq = 1, ack = (1 - 65535) % TWO32, payload = "new" }
    t:expect { flags = "=A", seq = 1, ack = 4, len = 0 }
    assert.equal("new", t.c:recv(3, 0))
    assert.equal(1, snd_una(t))
    carries_on(t, "ESTABLISHED")
  end)

  it("an old ACK in the acceptable range (reordered) is accepted: its data is taken, SND.UNA and the window stay", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send(("d"):rep(3000))
    t:expect { flags = "=A", seq = 1, len = 1460 }
    t:expect { flags = "=A", seq = 1461, len = 1460 }
    t:expect { flags = "=PA", seq = 2921, len = 80 }
    t:send { flags = "A", seq = 1, ack = 3001, win = 30000 }
    t:sleep(0)
    local mark = sm.mark(t)
    -- a late segment of the peer's, sent before our data arrived
    t:send { flags = "PA", seq = 1, ack = 1, win = 65535, payload = "late" }
    t:expect { flags = "=A", seq = 3001, ack = 5, len = 0 }
    assert.same({}, sm.notes(t, mark))
    assert.equal("late", t.c:recv(4, 0))
    assert.equal(3001, snd_una(t))
    assert.equal(30000, t.c:info().snd_wnd) -- SND.WL1, SND.WL2: an old segment does not move the window
    carries_on(t, "ESTABLISHED")
  end)

  for _, state in ipairs(SYNCHRONIZED) do
    if state ~= "ESTABLISHED" then
      it(("in %s: an ACK of data not yet sent and an ACK too old each draw a challenge ACK; %s goes on"):format(state, state), function()
        local t = fixture.at_state(state)
        local rcv, ours = rcv_nxt(t), t:our_nxt()
        local mark = sm.mark(t)
        t:send { flags = "A", seq = rcv, ack = ours + 10 }
        t:expect { flags = "=A", seq = ours, ack = rcv, len = 0 }
        t:send { flags = "A", seq = rcv, ack = (ours - 70000) % TWO32 }
        t:expect { flags = "=A", seq = ours, ack = rcv, len = 0 }
        assert.same({ "ACK of data not yet sent: ACK sent", "ACK too old (RFC 5961 §5): ACK sent" }, sm.notes(t, mark))
        carries_on(t, state)
      end)
    end
  end
end)

describe("RFC 5961 §7: the challenge ACK rate limit", function()
  it("challenge_ack_limit = 3: three challenge ACKs a second, for RST, SYN and ACK alike; the duplicate ACK is never limited", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { challenge_ack_limit = 3 } })
    local mark = sm.mark(t)
    t:send { flags = "R", seq = 100 }
    t:send { flags = "S", abs_seq = fixture.PEER_ISN + 1, ack = 0 }
    t:send { flags = "A", seq = 1, ack = 50 }
    for _ = 1, 3 do t:expect { flags = "=A", seq = 1, ack = 1, len = 0 } end
    t:send { flags = "R", seq = 100 }
    t:send { flags = "S", abs_seq = fixture.PEER_ISN + 1, ack = 0 }
    t:send { flags = "A", seq = 1, ack = 50 }
    t:expect_nothing(0.2)
    local limited = 0
    for _, n in ipairs(sm.notes(t, mark)) do
      if n == "challenge ACK rate-limited (RFC 5961 §7)" then limited = limited + 1 end
    end
    assert.equal(3, limited)
    -- an unacceptable segment's ACK (RFC 9293 §3.10.7.4 first) is not a challenge
    t:send { flags = "A", seq = 1 + 65535, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
    t:sleep(1)
    t:send { flags = "R", seq = 100 }
    t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
    carries_on(t, "ESTABLISHED")
  end)

  it("challenge_ack_limit = 0: no limit, every one of 200 in-window RSTs is challenged", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { challenge_ack_limit = 0 } })
    for i = 1, 200 do t:send { flags = "R", seq = 1 + i } end
    for _ = 1, 200 do t:expect { flags = "=A", seq = 1, ack = 1, len = 0 } end
    t:expect_nothing(0.5)
    carries_on(t, "ESTABLISHED")
  end)

  it("the limit is the host's, not the connection's: challenges on one connection use up another's", function()
    local t = fixture.at_state("ESTABLISHED", { passive = true, settings = { challenge_ack_limit = 2 } })
    local other = fixture.SPORT + 1
    t:send { flags = "S", abs_seq = 9000, sport = other, ack = 0 }
    t:expect { flags = "=SA", seq = 0, ack = 1, dport = other }
    t:send { flags = "A", seq = 1, ack = 1, sport = other }
    local c2 = assert(t.l:accept(1))
    assert.equal(other, c2:info().rport)
    t:send { flags = "R", seq = 100 }
    t:send { flags = "R", seq = 100 }
    t:expect { flags = "=A", seq = 1, ack = 1, dport = fixture.SPORT }
    t:expect { flags = "=A", seq = 1, ack = 1, dport = fixture.SPORT }
    local mark = sm.mark(t)
    t:send { flags = "R", seq = 100, sport = other }
    t:expect_nothing(0.2)
    assert.same({ "challenge ACK rate-limited (RFC 5961 §7)" }, sm.notes(t, mark))
    assert.equal("ESTABLISHED", c2:state())
    carries_on(t, "ESTABLISHED")
  end)
end)

describe("window scale and MSS options (RFC 7323 §2, RFC 9293 §3.7.1)", function()
  -- our passive connection with a peer whose SYN offered `wscale`, its
  -- handshake ACK offering `win`
  local function scaled(wscale, win, opts)
    local t = fixture.at_state("LISTEN", opts)
    t:send { flags = "S", seq = 0, wscale = wscale }
    local synack = t:expect { flags = "=SA", seq = 0, ack = 1 }
    t:send { flags = "A", seq = 1, ack = 1, win = win }
    t.c = assert(t.l:accept(1))
    return t, synack
  end

  for _, shift in ipairs { 15, 100 } do
    it(("a shift of %d in the SYN is taken as 14 (RFC 7323 §2.3); the connection carries data"):format(shift), function()
      local t, synack = scaled(shift, 1)
      assert.equal(0, synack.wscale) -- ours, for a 64 KiB buffer: scaling is on
      assert.equal(16384, t.c:info().snd_wnd) -- 1 << 14, not 1 << 15 (or a wrapped shift)
      carries_on(t, "ESTABLISHED")
    end)
  end

  it("a shift of 15 in the SYN-ACK is taken as 14 (RFC 7323 §2.3)", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "SA", seq = 0, ack = 1, wscale = 15, win = 1000 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    assert.equal(1000, t.c:info().snd_wnd) -- a SYN's window is never scaled
    t:send { flags = "A", seq = 1, ack = 1, win = 2 }
    t:sleep(0)
    assert.equal(2 * 16384, t.c:info().snd_wnd)
    carries_on(t, "ESTABLISHED")
  end)

  it("a window scale option on a segment without SYN is ignored (RFC 7323 §2.2), scaling off", function()
    local t = fixture.at_state("ESTABLISHED") -- the peer's SYN-ACK offered no scaling
    t:send { flags = "A", seq = 1, ack = 1, wscale = 7, win = 100 }
    t:sleep(0)
    assert.equal(100, t.c:info().snd_wnd)
    t.c:send(("w"):rep(300))
    t:expect { flags = "=A", seq = 1, len = 100 }
    t:expect_nothing(0.5)
    t:send { flags = "A", seq = 1, ack = 101, win = 65535 }
    t:expect { flags = "=PA", seq = 101, len = 200 }
    t:send { flags = "A", seq = 1, ack = 301 }
    carries_on(t, "ESTABLISHED")
  end)

  it("a window scale option on a segment without SYN is ignored, scaling on: the agreed shift stays", function()
    local t = scaled(2, 100)
    assert.equal(400, t.c:info().snd_wnd)
    t:send { flags = "A", seq = 1, ack = 1, wscale = 14, win = 100 }
    t:sleep(0)
    assert.equal(400, t.c:info().snd_wnd)
    carries_on(t, "ESTABLISHED")
  end)

  it("an MSS option on a segment without SYN is ignored (RFC 9293 §3.2): segments stay at the SYN's MSS", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "A", seq = 1, ack = 1, mss = 10 }
    t.c:send(("m"):rep(1500))
    t:expect { flags = "=A", seq = 1, len = 1460 }
    t:expect { flags = "=PA", seq = 1461, len = 40 }
    t:send { flags = "A", seq = 1, ack = 1501 }
    carries_on(t, "ESTABLISHED")
  end)

  it("a window of 65535 with scale 14 (about 1 GiB): no overflow, 60 kB arrive, the RFC 5961 §5 bound follows it", function()
    local t = scaled(14, 65535, { settings = { timestamps = false } })
    assert.equal(65535 * 16384, t.c:info().snd_wnd)
    assert.equal(60000, t.c:send(("h"):rep(60000)))
    drain(t, 60000, false)
    assert.equal(0, t.c:info().snd_queued)
    local una = snd_una(t)
    t.peer_nxt = 1
    local mark = sm.mark(t)
    -- half a gigabyte behind SND.UNA is still within MAX.SND.WND: accepted
    t:send { flags = "PA", seq = 1, ack = (una - 2 ^ 29) % TWO32, payload = "x" }
    t:expect { flags = "=A", seq = una, ack = 2 }
    assert.same({}, sm.notes(t, mark))
    -- beyond it: challenged
    t:send { flags = "PA", seq = 2, ack = (una - 65535 * 16384 - 1) % TWO32, payload = "y" }
    t:expect { flags = "=A", seq = una, ack = 2 }
    assert.same({ "ACK too old (RFC 5961 §5): ACK sent" }, sm.notes(t, mark))
    assert.equal("x", t.c:recv(1, 0))
    carries_on(t, "ESTABLISHED")
  end)
end)

describe("SACK blocks (RFC 2018) are advice, never trusted beyond what we sent", function()
  local MSS = 1460
  -- ESTABLISHED with SACK agreed (no timestamps: four blocks fit), three
  -- full segments in flight: 1..4381
  local function in_flight(settings)
    local t = fixture.at_state("ESTABLISHED", { peer_sack = true, settings = settings })
    t.c:send(("s"):rep(3 * MSS))
    for i = 0, 2 do t:expect { flags = "A", seq = 1 + i * MSS, len = MSS } end
    return t
  end
  -- three ACKs of SND.UNA, each with another window (so that only SACK
  -- blocks naming new data can make them duplicates, RFC 6675 §2)
  local function three_acks(t, blocks)
    for i = 1, 3 do t:send { flags = "A", seq = 1, ack = 1, win = 60000 + 1000 * i, sack = blocks(i) } end
  end
  -- nothing resent early; the cumulative ACK then takes it all
  local function not_trusted(t)
    t:expect_nothing(0.5)
    t:send { flags = "A", seq = 1, ack = 1 + 3 * MSS }
    carries_on(t, "ESTABLISHED")
  end

  it("(the control) blocks naming data we sent are read: three such ACKs resend SND.UNA at once", function()
    local t = in_flight()
    three_acks(t, function(i) return { { 1 + MSS, 1 + MSS + 400 * i } } end)
    t:expect { flags = "A", seq = 1, len = MSS }
    t:send { flags = "A", seq = 1, ack = 1 + 3 * MSS }
    carries_on(t, "ESTABLISHED")
  end)

  it("blocks beyond SND.MAX are ignored", function()
    local t = in_flight()
    three_acks(t, function(i) return { { 1 + 3 * MSS, 1 + 3 * MSS + 400 * i } } end)
    not_trusted(t)
  end)

  it("blocks starting at or below SND.UNA are ignored", function()
    local t = in_flight()
    three_acks(t, function(i) return { { (1 - 5) % TWO32, 1 + 400 * i } } end)
    not_trusted(t)
  end)

  it("inverted blocks (left edge past the right) are ignored", function()
    local t = in_flight()
    three_acks(t, function(i) return { { 1 + 2 * MSS + 100 * i, 1 + MSS } } end)
    not_trusted(t)
  end)

  it("blocks wider than 2^31 (wrapping the sequence space) are ignored", function()
    local t = in_flight()
    three_acks(t, function(i) return { { 1 + MSS, (1 + MSS + 2 ^ 31 + 400 * i) % TWO32 } } end)
    not_trusted(t)
  end)

  it("four bogus blocks in one option (beyond, below, inverted, empty) are all ignored", function()
    local t = in_flight()
    three_acks(t, function(i)
      return { { 1 + 3 * MSS, 1 + 3 * MSS + 400 * i }, { (1 - 100 * i) % TWO32, 1 }, { 1 + 2 * MSS, 1 + MSS + i },
        { 1 + MSS + i, 1 + MSS + i } }
    end)
    local r = t.net:records()
    local last
    for i = #r, 1, -1 do if r[i].kind == "seg" and r[i].from ~= t.us.index then last = r[i]; break end end
    assert.equal(4, #last.sack) -- all four went on the wire
    not_trusted(t)
  end)

  it("a block wrapping 2^32 that names data we sent is read as any other (ISS 2^32 - 2000)", function()
    local t = in_flight { isn = TWO32 - 2000 }
    three_acks(t, function(i) return { { 1 + MSS, 1 + MSS + 400 * i } } end) -- from 2^32 - 539 on
    t:expect { flags = "A", seq = 1, len = MSS }
    t:send { flags = "A", seq = 1, ack = 1 + 3 * MSS }
    carries_on(t, "ESTABLISHED")
  end)

  it("blocks in a SYN are ignored: the handshake and the data go as without them", function()
    local t = fixture.at_state("LISTEN", { peer_sack = true })
    t:send { flags = "S", seq = 0, sack = { { 1, 100 }, { 200, 300 } } }
    t:expect { flags = "=SA", seq = 0, ack = 1, sack_perm = 1 }
    t:send { flags = "A", seq = 1, ack = 1, sack = { { 5, 9 } } }
    t.c = assert(t.l:accept(1))
    carries_on(t, "ESTABLISHED")
  end)
end)

describe("timestamps (RFC 7323)", function()
  it("PAWS (§5.3): a TSval older than TS.Recent is dropped with an ACK; its data is not taken", function()
    local t = established_ts()
    t.peer_ts = 2
    t:send { flags = "PA", seq = 1, ack = 1, ts_val = 1, ts_ecr = t.our_ts, payload = "old" }
    local r = t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
    assert.equal(2, r.ts_ecr)
    assert.is_true(sm.noted(t, "PAWS: timestamp older than TS.Recent: ACK sent"))
    assert.equal(1, rcv_nxt(t))
    carries_on(t, "ESTABLISHED")
  end)

  it("§3.2: once agreed, a segment without a timestamp is dropped silently", function()
    local t = established_ts()
    t.peer_ts = 2
    t:send { flags = "PA", seq = 1, ack = 1, payload = "bare" }
    t:expect_nothing(1)
    assert.is_true(sm.noted(t, "no timestamp (RFC 7323 §3.2): dropped"))
    assert.equal(1, rcv_nxt(t))
    carries_on(t, "ESTABLISHED")
  end)

  it("§3.2, §5.2: a RST is acceptable without a timestamp, or with an old one: challenged off RCV.NXT, a reset at it", function()
    local t = established_ts()
    t:send { flags = "R", seq = 5, ack = 0 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    t:send { flags = "R", seq = 1, ack = 0, ts_val = 0, ts_ecr = 0 }
    t:expect_nothing(1)
    assert.equal("CLOSED", t.c:state())
    assert.equal("connection reset", t.c:info().error)
    peer_reconnects(t)
  end)

  it("a garbage TSecr is harmless: the data is taken, TS.Recent follows TSval, the RTO stays sane", function()
    local t = established_ts()
    t:send { flags = "PA", seq = 1, ack = 1, ts_val = 3, ts_ecr = 0xdeadbeef, payload = "junk" }
    local r = t:expect { flags = "=A", seq = 1, ack = 5 }
    assert.equal(3, r.ts_ecr)
    assert.equal("junk", t.c:recv(4, 0))
    t.c:send("abc")
    t:expect { flags = "=PA", seq = 1, ack = 5, len = 3 }
    t:send { flags = "A", seq = 5, ack = 4, ts_val = 4, ts_ecr = 0 } -- TSecr 0 too
    t:sleep(0)
    assert.is_true(t.c:info().rto >= 1 and t.c:info().rto <= 3)
    t.peer_ts = 4
    carries_on(t, "ESTABLISHED")
  end)

  it("TSval wrapping 2^32 is newer, not old (§5.2: compared modulo 2^32); one behind it is PAWS-dropped", function()
    local t = fixture.at_state("LISTEN")
    t:send { flags = "S", seq = 0, ts_val = TWO32 - 2, ts_ecr = 0 }
    local synack = t:expect { flags = "=SA", seq = 0, ack = 1 }
    t.our_ts = synack.ts_val
    t:send { flags = "A", seq = 1, ack = 1, ts_val = TWO32 - 1, ts_ecr = t.our_ts }
    t.c = assert(t.l:accept(1))
    t:send { flags = "PA", seq = 1, ack = 1, ts_val = 3, ts_ecr = t.our_ts, payload = "wrap" }
    assert.equal(3, t:expect({ flags = "=A", seq = 1, ack = 5 }).ts_ecr)
    assert.equal("wrap", t.c:recv(4, 0))
    t:send { flags = "PA", seq = 5, ack = 1, ts_val = TWO32 - 1, ts_ecr = t.our_ts, payload = "back" }
    t:expect { flags = "=A", seq = 1, ack = 5 }
    assert.is_true(sm.noted(t, "PAWS"))
    t.peer_ts = 3
    carries_on(t, "ESTABLISHED")
  end)
end)

-- Flag combinations no sane peer sends, in the four states of the
-- handshake and ESTABLISHED: each gets RFC 9293 §3.10.7's answer, step by
-- step (LISTEN: RST, ACK, SYN, other; SYN_SENT: ACK, RST, SYN, other; the
-- others: sequence, RST, SYN, ACK, URG, text, FIN).
describe("flag combinations (RFC 9293 §3.10.7)", function()
  -- LISTEN: the peer's proper handshake still makes a connection that carries data
  local function listener_still_works(t)
    assert.equal("LISTEN", t.l:state())
    t.peer_nxt = 0
    t:send { flags = "S", seq = 0, sport = fixture.SPORT + 7 }
    t:expect { flags = "=SA", seq = 0, ack = 1, dport = fixture.SPORT + 7 }
    t:send { flags = "A", seq = 1, ack = 1, sport = fixture.SPORT + 7 }
    t.c = assert(t.l:accept(1))
    carries_on(t, "ESTABLISHED")
  end

  describe("in LISTEN (§3.10.7.2)", function()
    it("SYN+FIN: the SYN opens SYN_RCVD with <SEQ=ISS><ACK=SEG.SEQ+1><CTL=SYN,ACK>; the FIN, without ACK, goes no further (fifth step)", function()
      local t = fixture.at_state("LISTEN")
      t:send { flags = "SF", seq = 0 }
      t:expect { flags = "=SA", seq = 0, ack = 1 }
      local child = assert(sm.child(t))
      assert.equal("SYN_RCVD", child:state())
      t:send { flags = "A", seq = 1, ack = 1 }
      t.c = assert(t.l:accept(1))
      carries_on(t, "ESTABLISHED")
      -- the peer's FIN, sent again, closes its side as usual
      t:send { flags = "FA", seq = 5, ack = 5 }
      t:expect { flags = "=A", seq = 5, ack = 6 }
      assert.equal("CLOSE_WAIT", t.c:state())
    end)

    for _, flags in ipairs { "SR", "FR", "FSRPAUEC" } do
      it(("%s: the RST is checked first and ignored: nothing sent, no child"):format(flags), function()
        local t = fixture.at_state("LISTEN")
        t:send { flags = flags, seq = 0, ack = 1, urp = 5 }
        t:expect_nothing(1)
        assert.is_nil(sm.child(t))
        assert.same({ "RST in LISTEN ignored" }, sm.notes(t))
        listener_still_works(t)
      end)
    end

    it("no flags at all (with data): neither RST, ACK nor SYN: dropped silently", function()
      local t = fixture.at_state("LISTEN")
      t:send { flags = "", seq = 10, payload = "nothing" }
      t:expect_nothing(1)
      assert.same({ "no SYN in LISTEN" }, sm.notes(t))
      listener_still_works(t)
    end)

    it("SYN+URG with the pointer past the data: a plain SYN; the urgent pointer is not kept", function()
      local t = fixture.at_state("LISTEN")
      t:send { flags = "SU", seq = 0, urp = 1000 }
      t:expect { flags = "=SA", seq = 0, ack = 1 }
      t:send { flags = "A", seq = 1, ack = 1 }
      t.c = assert(t.l:accept(1))
      carries_on(t, "ESTABLISHED")
      assert.equal(0, t.c:info().urgent)
      assert.is_false(sm.noted(t, "urgent data pending"))
    end)

    it("PSH alone: dropped silently", function()
      local t = fixture.at_state("LISTEN")
      t:send { flags = "P", seq = 10 }
      t:expect_nothing(1)
      assert.same({ "no SYN in LISTEN" }, sm.notes(t))
      listener_still_works(t)
    end)
  end)

  describe("in SYN_SENT (§3.10.7.3)", function()
    -- the peer's proper SYN-ACK still establishes, and data flows
    local function completes(t)
      assert.equal("SYN_SENT", t.c:state())
      t:send { flags = "SA", seq = 0, ack = 1 }
      t:expect { flags = "=A", seq = 1, ack = 1 }
      carries_on(t, "ESTABLISHED")
    end

    it("SYN+FIN without ACK: a simultaneous open: SYN_RCVD and <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, the FIN not acknowledged", function()
      local t = fixture.at_state("SYN_SENT")
      t:send { flags = "SF", seq = 0 }
      t:expect { flags = "=SA", seq = 0, ack = 1 }
      assert.equal("SYN_RCVD", t.c:state())
      t:send { flags = "A", seq = 1, ack = 1 }
      t:sleep(0)
      assert.equal("ESTABLISHED", t.c:state())
      carries_on(t, "ESTABLISHED")
    end)

    it("SYN+FIN without ACK: SYN_RCVD, the FIN not kept (as Linux; RFC 9293 §3.10.7.3 would queue it); the peer's FIN sent again closes", function()
      local t = fixture.at_state("SYN_SENT")
      t:send { flags = "SF", seq = 0 }
      t:expect { flags = "=SA", seq = 0, ack = 1 }
      assert.is_true(sm.noted(t, "text or FIN on a SYN without ACK not kept"))
      t:send { flags = "A", seq = 1, ack = 1 } -- the peer learns its FIN was not taken
      assert.equal("ESTABLISHED", t.c:state())
      t:send { flags = "FA", seq = 1, ack = 1 } -- and sends it again
      t:expect { flags = "=A", seq = 1, ack = 2 }
      assert.equal("CLOSE_WAIT", t.c:state())
      carries_on(t, "CLOSE_WAIT")
    end)

    for _, flags in ipairs { "SR", "FR" } do
      it(("%s without ACK: a RST without ACK is dropped silently (second step); SYN_SENT stays"):format(flags), function()
        local t = fixture.at_state("SYN_SENT")
        t:send { flags = flags, seq = 0, ack = 0 }
        t:expect_nothing(0.5)
        assert.same({ "RST without ACK in SYN_SENT" }, sm.notes(t))
        completes(t)
      end)
    end

    it("all flags (FSRPAUEC) with an unacceptable ACK: no RST for a RST (first step), dropped; SYN_SENT stays", function()
      local t = fixture.at_state("SYN_SENT")
      t:send { flags = "FSRPAUEC", seq = 0, ack = 5, payload = "x", urp = 3 }
      t:expect_nothing(0.5)
      assert.same({ "unacceptable ACK in SYN_SENT" }, sm.notes(t))
      completes(t)
    end)

    it("all flags (FSRPAUEC) with an acceptable ACK: the RST refuses the connection (second step): CLOSED, nothing sent", function()
      local t = fixture.at_state("SYN_SENT")
      t:send { flags = "FSRPAUEC", seq = 0, ack = 1, payload = "x", urp = 3 }
      t:expect_nothing(1)
      assert.equal("CLOSED", t.c:state())
      assert.equal("connection refused", t.c:info().error)
      -- a new connect on the same ports works
      t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
      t:expect { flags = "=S", seq = 0 }
      t.peer_nxt = 0
      t:send { flags = "SA", seq = 0, ack = 1 }
      t:expect { flags = "=A", seq = 1, ack = 1 }
      carries_on(t, "ESTABLISHED")
    end)

    it("no flags at all (with data): neither SYN nor RST: dropped silently (fifth step)", function()
      local t = fixture.at_state("SYN_SENT")
      t:send { flags = "", seq = 0, payload = "zz" }
      t:expect_nothing(0.5)
      assert.same({ "neither SYN nor RST in SYN_SENT" }, sm.notes(t))
      completes(t)
    end)

    it("a SYN-ACK with URG and the pointer past its data: ESTABLISHED, the data delivered, the urgent pointer signalled (sixth step)", function()
      local t = fixture.at_state("SYN_SENT")
      t:send { flags = "SAUP", seq = 0, ack = 1, payload = "abc", urp = 100 }
      t:expect { flags = "=A", seq = 1, ack = 4 }
      assert.equal("ESTABLISHED", t.c:state())
      assert.is_true(sm.noted(t, "urgent data pending"))
      assert.is_true(t.c:info().urgent > 3)
      assert.equal("abc", t.c:recv(3, 0))
      carries_on(t, "ESTABLISHED")
    end)

    it("PSH alone (with data): neither SYN nor RST: dropped silently", function()
      local t = fixture.at_state("SYN_SENT")
      t:send { flags = "P", seq = 1, payload = "push" }
      t:expect_nothing(0.5)
      assert.same({ "neither SYN nor RST in SYN_SENT" }, sm.notes(t))
      completes(t)
    end)
  end)

  describe("in SYN_RCVD, passive (§3.10.7.4)", function()
    -- the handshake's ACK still establishes, and data flows
    local function completes(t)
      assert.equal("SYN_RCVD", t.c:state())
      t:send { flags = "A", seq = 1, ack = 1 }
      t:sleep(0)
      t.c = assert(t.l:accept(1))
      carries_on(t, "ESTABLISHED")
    end
    local function back_to_listen(t)
      t:expect_nothing(2) -- nothing sent, no more SYN-ACKs
      assert.same({ "SYN_RCVD", "LISTEN" }, sm.states(t, t.c))
      assert.is_nil(sm.child(t))
      assert.is_nil(t.c:info().error)
      peer_reconnects(t)
    end

    it("SYN+FIN at RCV.NXT: the SYN (fourth step) returns the child to LISTEN, silently", function()
      local t = fixture.at_state("SYN_RCVD", { passive = true })
      t:send { flags = "SF", seq = 1, ack = 0 }
      back_to_listen(t)
    end)

    it("SYN+RST at RCV.NXT: the RST (second step, before the SYN) returns the child to LISTEN", function()
      local t = fixture.at_state("SYN_RCVD", { passive = true })
      t:send { flags = "SR", seq = 1, ack = 0 }
      back_to_listen(t)
    end)

    it("FIN+RST at RCV.NXT: the RST returns the child to LISTEN; the FIN is never seen", function()
      local t = fixture.at_state("SYN_RCVD", { passive = true })
      t:send { flags = "FR", seq = 1, ack = 0 }
      back_to_listen(t)
    end)

    it("all flags (FSRPAUEC) in the window, not at RCV.NXT: the RST draws a challenge ACK (RFC 5961 §3); SYN_RCVD stays", function()
      local t = fixture.at_state("SYN_RCVD", { passive = true })
      t:send { flags = "FSRPAUEC", seq = 2, ack = 1, payload = "x", urp = 1 }
      t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
      assert.same({ "RST not at RCV.NXT: challenge ACK" }, sm.notes(t, 1))
      completes(t)
    end)

    it("no flags at all (with data): no ACK bit (fifth step): dropped silently, the data not taken", function()
      local t = fixture.at_state("SYN_RCVD", { passive = true })
      t:send { flags = "", seq = 1, payload = "early" }
      t:expect_nothing(0.5)
      assert.is_true(sm.noted(t, "no ACK bit"))
      completes(t)
    end)

    it("URG+ACK with the pointer past the data: ESTABLISHED, the data delivered, RCV.UP past it signalled", function()
      local t = fixture.at_state("SYN_RCVD", { passive = true })
      t:send { flags = "UPA", seq = 1, ack = 1, payload = "abc", urp = 100 }
      t:expect { flags = "=A", seq = 1, ack = 4 }
      t.c = assert(t.l:accept(1))
      assert.is_true(sm.noted(t, "urgent data pending"))
      assert.equal(100, t.c:info().urgent)
      assert.equal("abc", t.c:recv(3, 0))
      carries_on(t, "ESTABLISHED")
    end)

    it("PSH alone (with data): no ACK bit: dropped silently", function()
      local t = fixture.at_state("SYN_RCVD", { passive = true })
      t:send { flags = "P", seq = 1, payload = "push" }
      t:expect_nothing(0.5)
      assert.is_true(sm.noted(t, "no ACK bit"))
      completes(t)
    end)
  end)

  describe("in ESTABLISHED (§3.10.7.4)", function()
    it("SYN+FIN at RCV.NXT: the SYN draws a challenge ACK (RFC 5961 §4); the FIN is not processed", function()
      local t = fixture.at_state("ESTABLISHED")
      t:send { flags = "SF", seq = 1, ack = 0 }
      t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
      assert.is_false(t.c:info().peer_closed)
      carries_on(t, "ESTABLISHED")
    end)

    it("SYN+RST in the window, not at RCV.NXT: the RST (checked first) draws a challenge ACK", function()
      local t = fixture.at_state("ESTABLISHED")
      local mark = sm.mark(t)
      t:send { flags = "SR", seq = 3, ack = 0 }
      t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
      assert.same({ "RST not at RCV.NXT: challenge ACK" }, sm.notes(t, mark))
      carries_on(t, "ESTABLISHED")
    end)

    it("FIN+RST in the window, not at RCV.NXT: a challenge ACK; the FIN is not processed", function()
      local t = fixture.at_state("ESTABLISHED")
      t:send { flags = "FRA", seq = 2, ack = 1 }
      t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
      assert.is_false(t.c:info().peer_closed)
      carries_on(t, "ESTABLISHED")
    end)

    it("all flags (FSRPAUEC) at RCV.NXT: the RST is exact (second step): CLOSED, \"connection reset\", nothing sent", function()
      local t = fixture.at_state("ESTABLISHED", { passive = true })
      t:send { flags = "FSRPAUEC", seq = 1, ack = 1, payload = "x", urp = 1 }
      t:expect_nothing(1)
      assert.equal("CLOSED", t.c:state())
      assert.equal("connection reset", t.c:info().error)
      peer_reconnects(t)
    end)

    it("no flags at all (with data): no ACK bit (fifth step): dropped silently, the data not taken", function()
      local t = fixture.at_state("ESTABLISHED")
      t:send { flags = "", seq = 1, payload = "noack" }
      t:expect_nothing(0.5)
      assert.is_true(sm.noted(t, "no ACK bit"))
      assert.equal(1, rcv_nxt(t))
      carries_on(t, "ESTABLISHED")
    end)

    it("URG with the pointer past the data: the data delivered, RCV.UP beyond it, the user told once (MUST-32)", function()
      local t = fixture.at_state("ESTABLISHED")
      t:send { flags = "UPA", seq = 1, ack = 1, payload = "abc", urp = 1000 }
      t:expect { flags = "=A", seq = 1, ack = 4 }
      assert.equal(1000, t.c:info().urgent)
      assert.equal("abc", t.c:recv(3, 0))
      assert.equal(997, t.c:info().urgent)
      carries_on(t, "ESTABLISHED")
      assert.equal(993, t.c:info().urgent) -- "ping" was urgent too
      local n = 0
      for _, s in ipairs(sm.notes(t)) do if s == "urgent data pending" then n = n + 1 end end
      assert.equal(1, n)
    end)

    it("PSH alone (no ACK, no data): dropped silently", function()
      local t = fixture.at_state("ESTABLISHED")
      t:send { flags = "P", seq = 1 }
      t:expect_nothing(0.5)
      assert.is_true(sm.noted(t, "no ACK bit"))
      carries_on(t, "ESTABLISHED")
    end)
  end)
end)

describe("data where it does not belong (RFC 9293 §3.10.7)", function()
  it("data on a SYN to a listener is not acknowledged (not kept before the handshake); sent again, it arrives", function()
    local t = fixture.at_state("LISTEN")
    t:send { flags = "S", seq = 0, payload = "early" }
    t:expect { flags = "=SA", seq = 0, ack = 1 }
    assert.is_true(sm.noted(t, "data on SYN not kept: the peer will send it again"))
    t:send { flags = "A", seq = 1, ack = 1 }
    t.c = assert(t.l:accept(1))
    assert.equal(0, t.c:info().rcv_queued)
    t:send { flags = "PA", seq = 1, ack = 1, payload = "early" }
    t:expect { flags = "=A", seq = 1, ack = 6 }
    assert.equal("early", t.c:recv(5, 0))
    carries_on(t, "ESTABLISHED")
  end)

  it("data on a SYN-ACK is taken (§3.10.7.3: processing continues with the text)", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "SPA", seq = 0, ack = 1, payload = "hello" }
    t:expect { flags = "=A", seq = 1, ack = 6 }
    assert.equal("hello", t.c:recv(5, 0))
    carries_on(t, "ESTABLISHED")
  end)

  it("data past the right edge of the window is trimmed; sent again once the window opens, it arrives", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 100 } })
    t:send { flags = "PA", seq = 1, payload = ("a"):rep(50) }
    t:expect { flags = "=A", seq = 1, ack = 51, win = 50 }
    local mark = sm.mark(t)
    t:send { flags = "PA", seq = 51, payload = ("b"):rep(100) } -- straddles the right edge at 101
    t:expect { flags = "=A", seq = 1, ack = 101, win = 0 }
    assert.same({ "data beyond the receive window trimmed" }, sm.notes(t, mark))
    assert.equal(("a"):rep(50) .. ("b"):rep(50), t.c:recv(100, 0))
    t:expect { flags = "=A", seq = 1, ack = 101, win = 100 } -- the window opens
    t:send { flags = "PA", seq = 101, payload = ("b"):rep(50) }
    t:expect { flags = "=A", seq = 1, ack = 151 }
    assert.equal(("b"):rep(50), t.c:recv(50, 0))
    t:expect { flags = "=A", seq = 1, ack = 151, win = 100 }
    carries_on(t, "ESTABLISHED")
  end)

  it("a segment entirely below RCV.NXT (data or not) draws a duplicate ACK and is not delivered twice", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "PA", seq = 1, payload = "hello" }
    t:expect { flags = "=A", seq = 1, ack = 6 }
    local mark = sm.mark(t)
    t:send { flags = "PA", seq = 1, payload = "hel" }
    t:expect { flags = "=A", seq = 1, ack = 6, len = 0 }
    t:send { flags = "A", seq = 0 } -- zero length, left of RCV.NXT
    t:expect { flags = "=A", seq = 1, ack = 6, len = 0 }
    assert.same({ "sequence number not acceptable: ACK sent", "sequence number not acceptable: ACK sent" }, sm.notes(t, mark))
    assert.equal("hello", t.c:recv(5, 0))
    carries_on(t, "ESTABLISHED")
  end)

  it("a zero-length segment at the window's right edge is not acceptable (an ACK); one byte left of it is (silence)", function()
    local t = fixture.at_state("ESTABLISHED") -- RCV.WND 65535: the right edge is 1 + 65535
    local mark = sm.mark(t)
    t:send { flags = "A", seq = 1 + 65535 }
    t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
    assert.same({ "sequence number not acceptable: ACK sent" }, sm.notes(t, mark))
    t:send { flags = "A", seq = 65535 }
    t:expect_nothing(0.5)
    carries_on(t, "ESTABLISHED")
  end)

  it("with a zero window: a zero-length segment at RCV.NXT is acceptable, one past it is not, data at RCV.NXT gets an ACK (MUST-66)", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 10 } })
    t:send { flags = "PA", seq = 1, payload = ("z"):rep(10) }
    t:expect { flags = "=A", seq = 1, ack = 11, win = 0 }
    t.c:send("ours")
    t:expect { flags = "=PA", seq = 1, ack = 11, len = 4 }
    t:send { flags = "A", seq = 11, ack = 5 } -- zero length at RCV.NXT: its ACK is taken
    t:expect_nothing(0.2)
    assert.equal(5, snd_una(t))
    t:send { flags = "A", seq = 12, ack = 5 }
    t:expect { flags = "=A", seq = 5, ack = 11, win = 0 }
    t:send { flags = "PA", seq = 11, ack = 5, payload = "more" }
    t:expect { flags = "=A", seq = 5, ack = 11, win = 0 }
    assert.is_true(sm.noted(t, "text with a zero window: ACK and URG processed, ACK sent"))
    assert.equal(("z"):rep(10), t.c:recv(10, 0))
    t:expect { flags = "=A", seq = 5, ack = 11, win = 10 }
    carries_on(t, "ESTABLISHED")
  end)
end)

describe("sequence numbers wrapping 2^32 (both ISNs near 0xffffffff)", function()
  -- ISS 2^32 - 3 (ours), IRS 2^32 - 2 (the peer's): both streams cross 2^32
  -- within their first bytes
  local function near_wrap()
    local t = fixture.at_state("LISTEN", { settings = { isn = TWO32 - 3 } })
    t:send { flags = "S", abs_seq = TWO32 - 2, mss = 1460 }
    local synack = t:expect { flags = "=SA", seq = 0, ack = 1 }
    assert.equal(TWO32 - 3, synack.abs_seq)
    assert.equal(TWO32 - 1, synack.abs_ack)
    t:send { flags = "A", seq = 1, ack = 1 }
    t.c = assert(t.l:accept(1))
    return t
  end

  it("the handshake and 3000 bytes each way cross 2^32 in both directions", function()
    local t = near_wrap()
    local theirs = ("p"):rep(3000)
    t:send { flags = "PA", seq = 1, ack = 1, payload = theirs:sub(1, 1460) }
    t:send { flags = "PA", seq = 1461, ack = 1, payload = theirs:sub(1461) }
    t:expect { flags = "=A", seq = 1, ack = 1461 }
    local r = t:expect { flags = "=A", seq = 1, ack = 3001 }
    assert.equal(2999, r.abs_ack) -- IRS + 3001, past 2^32
    assert.equal(theirs, t.c:recv(3000, 0))
    t:expect { flags = "=A", seq = 1, ack = 3001, win = 65535 } -- the window opens again
    t.c:send(("o"):rep(3000))
    local s1 = t:expect { flags = "=A", seq = 1, len = 1460 }
    assert.equal(TWO32 - 2, s1.abs_seq)
    t:expect { flags = "=A", seq = 1461, len = 1460 }
    t:expect { flags = "=PA", seq = 2921, len = 80 }
    t:send { flags = "A", seq = 3001, ack = 3001 }
    t:sleep(0)
    assert.equal(0, t.c:info().snd_queued)
    assert.equal(2998, t.c:info().snd_una) -- ISS + 3001, past 2^32
    carries_on(t, "ESTABLISHED")
  end)

  it("across the wrap, RFC 5961's answers hold: challenges, silence for a RST left of the window, a duplicate ACK for old data", function()
    local t = near_wrap()
    t:send { flags = "PA", seq = 1, ack = 1, payload = "abcd" } -- RCV.NXT: relative 5, absolute 3
    t:expect { flags = "=A", seq = 1, ack = 5 }
    assert.equal(3, t.c:info().rcv_nxt)
    assert.equal("abcd", t.c:recv(4, 0))
    local mark = sm.mark(t)
    t:send { flags = "R", seq = 6 }                         -- in the window, not exact
    t:expect { flags = "=A", seq = 1, ack = 5 }
    t:send { flags = "R", seq = 1 }                         -- left of RCV.NXT, before 2^32
    t:send { flags = "A", seq = 5, ack = 50 }               -- beyond SND.NXT, past 2^32
    t:expect { flags = "=A", seq = 1, ack = 5 }
    t:send { flags = "A", seq = 5, ack = (1 - 70000) % TWO32 } -- too old, back across 2^32
    t:expect { flags = "=A", seq = 1, ack = 5 }
    t:send { flags = "S", abs_seq = 3, ack = 0 }              -- a SYN at RCV.NXT
    t:expect { flags = "=A", seq = 1, ack = 5 }
    t:send { flags = "PA", seq = 1, ack = 1, payload = "ab" } -- old data straddling 2^32
    t:expect { flags = "=A", seq = 1, ack = 5 }
    assert.same({
      "RST not at RCV.NXT: challenge ACK",
      "RST outside the window",
      "ACK of data not yet sent: ACK sent",
      "ACK too old (RFC 5961 §5): ACK sent",
      "SYN in a synchronized state: challenge ACK",
      "sequence number not acceptable: ACK sent",
    }, sm.notes(t, mark))
    assert.equal(0, t.c:info().rcv_queued)
    carries_on(t, "ESTABLISHED")
  end)
end)

describe("SYN cookies under hostile segments (RFC 4987 §3.6)", function()
  it("syn_cookies = always, a peer's MSS of 1: the cookie's smallest MSS, 48; the connection carries data", function()
    local t = fixture.at_state("LISTEN", { peer_mss = 1, settings = { syn_cookies = "always" } })
    t:send { flags = "S", seq = 0 }
    local synack = t:expect { flags = "=SA", ack = 1 }
    assert.is_true(sm.noted(t, "SYN queue full: SYN cookie sent, no state kept (RFC 4987)"))
    assert.is_nil(sm.child(t))
    t:send { flags = "A", seq = 1, ack = 1 }
    t.c = assert(t.l:accept(1))
    assert.equal(synack.abs_seq, t.c:info().iss)
    t.c:send(("c"):rep(100))
    assert.same({ 48, 48, 4 }, drain(t, 100, false))
    carries_on(t, "ESTABLISHED")
  end)

  it("syn_cookies = always: an ACK whose cookie is wrong draws <SEQ=SEG.ACK><CTL=RST> and makes nothing", function()
    local t = fixture.at_state("LISTEN", { settings = { syn_cookies = "always" } })
    t:send { flags = "S", seq = 0 }
    t:expect { flags = "=SA", ack = 1 }
    local mark = sm.mark(t)
    t:send { flags = "A", seq = 1, ack = 2 } -- ISS + 2: not the cookie
    t:expect { flags = "=R", seq = 2, len = 0 }
    t:send { flags = "A", seq = 2, ack = 1 } -- the cookie, the wrong IRS
    t:expect { flags = "=R", seq = 1, len = 0 }
    assert.same({ "ACK in LISTEN: RST sent", "ACK in LISTEN: RST sent" }, sm.notes(t, mark))
    assert.is_nil(sm.child(t))
    t:send { flags = "A", seq = 1, ack = 1 } -- the right one still works
    t.c = assert(t.l:accept(1))
    carries_on(t, "ESTABLISHED")
  end)
end)
