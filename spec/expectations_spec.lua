-- What an expectation may match (issue 14, "trust"): only segments sent
-- after the later of the actor's last resumption from a wait that was not
-- an expectation, and its previous expectation's match; net:mark() and
-- `since =` look further back on purpose. And the strict mode for segments,
-- expect_all: every segment in its scope must be consumed by an expectation.
local synfin = require "synfin"
local helpers = require "helpers.scenario"
local pair = helpers.pair
-- The error fn(...) raises, as a string; fails if it raises none. (Here,
-- not in a helper: the errors name the line of the call, in this file.)
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, the call succeeded")
  return tostring(err)
end

local B = helpers.B

describe("issue 14: an expectation cannot pass on the past", function()
  it("a SYN into an established connection that is lost draws no challenge ACK: expecting one fails, "
    .. "it does not pass on the handshake's ACK", function()
    local net, a, _, l = pair()
    -- the injected SYN never reaches the client, so no challenge ACK is ever sent
    a:hook("ingress", { flags = "=S", count = 1 }, function() return "drop" end)
    local err = error_of(net.run, net, function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      net:sleep(0.02)
      s:segment { flags = "S" }                      -- RFC 5961 §4: would draw a challenge ACK
      net:expect({ from = a, flags = "=A" }, 1)      -- the handshake's ACK (#3) is not it
    end)
    assert.matches("timed out after 1 s", err, 1, true)
    assert.matches("waiting for { from 192.0.2.1, flags =A }", err, 1, true)
    -- and says which segment the rule left out
    assert.matches("segment #3 (t=0.010 s) would match, but was sent before this expectation's start", err, 1, true)
    for _, r in ipairs(net:records()) do -- indeed: nothing from the client after the handshake
      assert.is_false(r.kind == "seg" and r.from == a.index and r.n > 3, "the client sent #" .. tostring(r.n))
    end
  end)

  it("the story as reported: a crafted SYN without timestamps is dropped by PAWS (RFC 7323 §3.2), no challenge ACK, "
    .. "and the expectation fails", function()
    local net, a, _, l = pair()
    local err = error_of(net.run, net, function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      net:sleep(0.02)
      s:segment { flags = "S", ts = false }          -- no TSopt: RFC 7323 §3.2 says drop it
      net:expect({ from = a, flags = "=A" }, 1)
    end)
    assert.matches("timed out after 1 s", err, 1, true)
    local dropped = false
    for _, r in ipairs(net:records()) do
      if r.kind == "note" and r.text:find("timestamp", 1, true) then dropped = true end
    end
    assert.is_true(dropped, "the client did not say why it dropped the SYN")
  end)

  it("with the timestamps the connection agreed, the SYN draws the challenge ACK, and the expectation matches it", function()
    local net, a, _, l = pair()
    local ack
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      net:sleep(0.02)
      s:segment { flags = "S" }
      ack = net:expect({ from = a, flags = "=A" }, 1)
    end)
    assert.equal(5, ack.n)                 -- #4 is the SYN
    assert.near(0.040, ack.time, 1e-9)     -- sent at 0.035, in 5 ms
    assert.equal(1, ack.seq)               -- <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    assert.equal(1, ack.ack)
  end)
end)

describe("the expectation cursor", function()
  it("sees what the script's own call sends just before (c:close, then its FIN)", function()
    local net, a, b, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      l:accept(1)
      c:close()
      local fin = net:expect({ from = a, flags = "F" }, 0) -- sent by close, at once
      assert.equal(4, fin.n)
      assert.near(0.015, fin.time, 1e-9)                -- l:accept returned at 0.015
      net:expect({ from = b, flags = "=A", ack = 2 }, 1)
    end)
  end)

  it("sees the segments after the previous match, even sent at the same instant (one flight)", function()
    local net, a = pair()
    net:run(function()
      local c = a:connect(B, 80, { mss = 100 })
      c:wait("ESTABLISHED", 1)
      c:send(string.rep("x", 264))                  -- three segments of 100 - 12 (timestamps) at t=0.010
      local one = net:expect({ from = a, len = 88 }, 0)
      local two = net:expect({ from = a, len = 88 }, 0)
      local three = net:expect({ from = a, len = 88 }, 0)
      assert.same({ 1, 89, 177 }, { one.seq, two.seq, three.seq })
      assert.same({ 0.010, 0.010, 0.010 }, { one.time, two.time, three.time })
    end)
  end)

  it("leaves out what was sent while the scenario waited; since = a mark taken before looks back", function()
    local net, a, b = pair()
    net:run(function()
      local m = net:mark()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)                      -- #3, the ACK, went with ESTABLISHED
      local err = error_of(net.expect, net, { from = a, flags = "=A" }, 0.1)
      assert.matches("segment #3 (t=0.010 s) would match", err, 1, true)
      local syn_ack = net:expect({ from = b, flags = "=SA", since = m }, 0)
      local ack = net:expect({ from = a, flags = "=A", since = m }, 0)
      assert.same({ 2, 3 }, { syn_ack.n, ack.n })
    end)
  end)

  it("a consumed segment is never matched again, since = or not", function()
    local net, a = pair()
    net:run(function()
      local m = net:mark()
      local c = a:connect(B, 80)
      assert.equal(1, net:expect({ from = a, flags = "S" }, 1).n)
      c:wait("ESTABLISHED", 1)
      assert.equal(3, net:expect({ from = a, since = m }, 0).n) -- #1 is consumed: the next from a
      error_of(net.expect, net, { from = a, since = m }, 0.1)   -- and none is left
    end)
  end)

  it("net:sleep, c:recv and net:expect_nothing are waits: what came during them is the past", function()
    local net, a, b, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("hi")                                   -- #4 at 0.010, ACKed by #5 at 0.015
      assert.equal("hi", s:recv(2, 1))
      net:expect_nothing({ from = b, flags = "F" }, 0.1)
      error_of(net.expect, net, { from = b, flags = "=A", ack = 3 }, 0.1)
      c:send("again")
      net:sleep(0.1)
      error_of(net.expect, net, { from = a, payload = "again" }, 0.1)
    end)
  end)

  it("in net:first, an expectation that wins moves the cursor past its match; another branch, to the resumption", function()
    local net, a, b, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      l:accept(1)
      c:send("one")
      c:send("two")                                  -- no Nagle wait: two segments at 0.010
      local name, r = net:first { data = net:expecting { from = a, payload = "one" }, late = net:after(1) }
      assert.same({ "data", 4 }, { name, r.n })
      assert.equal(5, net:expect({ from = a, payload = "two" }, 0).n) -- right after the match
      name = net:first { fin = net:expecting { from = b, flags = "F" }, quiet = net:after(0.1) }
      assert.equal("quiet", name)
      error_of(net.expect, net, { from = b, flags = "A" }, 0.1)        -- the ACKs came in the race
    end, { strict = false })
  end)

  it("outside net:run, the script is its own actor: its waits resume it", function()
    local net, a, b = pair()
    local c = a:connect(B, 80)
    assert.equal(1, net:expect({ from = a, flags = "S" }, 1).n) -- sent before the first wait: seen
    c:wait("ESTABLISHED", 1)
    error_of(net.expect, net, { from = b, flags = "SA" }, 0.1)
    net:run(function() c:close() end)
    net:expect({ from = b, flags = "=A", ack = 2 }, 1) -- after the run: what comes next
  end)

  it("expect_nothing with since = a mark counts what came since the mark, and consumes nothing", function()
    local net, a = pair()
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local m = net:mark()
      c:close()
      net:sleep(0.1)
      local err = error_of(net.expect_nothing, net, { from = a, flags = "F", since = m }, 0.1)
      assert.matches("expected nothing like { from 192.0.2.1, flags F, since t=0.010 s } for 0.1 s, but segment #4 came at t=0.010 s",
        err, 1, true)
      assert.equal(4, net:expect({ from = a, flags = "F", since = m }, 0).n)
    end)
  end)

  it("refuses a since that is not a mark, and says what it got", function()
    local net = pair()
    assert.matches("pattern field 'since' must be a mark from net:mark%(%), got number",
      error_of(net.expect, net, { since = 3 }, 0))
  end)

  it("each actor has its own cursor: one actor's waits do not hide segments from another", function()
    local net, a, b, l = pair()
    local got
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      local watcher = net:spawn(function()
        return net:expect({ from = b, payload = "reply" }, 1)
      end)
      net:sleep(0.5)                                 -- this actor's past, not the watcher's
      s:send("reply")
      got = watcher:join(1)
    end)
    assert.equal("reply", got.payload)
  end)
end)

describe("expect_all, the strict mode for segments", function()
  -- a whole connection, each segment from b expected; a's are not
  local function scenario(net, a, b, l, skip_last)
    return function()
      local c = a:connect(B, 80)
      net:expect({ from = b, flags = "=SA" }, 1)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("hello")
      net:expect({ from = b, flags = "=A", ack = 6 }, 1)
      c:close()
      net:expect({ from = b, flags = "=A", ack = 7 }, 1)
      s:close()
      if not skip_last then net:expect({ from = b, flags = "=FA" }, 1) end
      c:wait("TIME_WAIT", 1)
    end
  end

  it("passes when every segment in its scope was expected", function()
    local net, a, b, l = pair()
    net:run(scenario(net, a, b, l), { expect_all = { from = b } })
  end)

  it("fails the run naming each segment no expectation consumed", function()
    local net, a, b, l = pair()
    local err = error_of(net.run, net, scenario(net, a, b, l, true), { expect_all = { from = b } })
    -- b's ACK of a's FIN waits 40 ms (the linux profile delays a FIN's ACK), its FIN after it
    assert.matches("synfin: expect_all: 1 segment on the wire that no expectation consumed:\n"
      .. "  #8 FA from 192.0.2.2 at t=0.065 s (seq=1 ack=7 len=0)", err, 1, true)
    assert.matches("last lines of the trace:", err, 1, true)
  end)

  it("true: every segment of the run, both ways; set on the net, it holds for each run", function()
    local net, a, b, l = pair { latency = 0.005, expect_all = true }
    local err = error_of(net.run, net, scenario(net, a, b, l))
    assert.matches("5 segments on the wire that no expectation consumed", err, 1, true)
    assert.matches("#1 S from 192.0.2.1", err, 1, true)
  end)

  it("segments sent before the run are not the run's", function()
    local net, a, b = pair()
    local c = a:connect(B, 80)
    c:wait("ESTABLISHED", 1)
    net:run(function()
      c:close()
      net:expect({ from = a, flags = "F" }, 1)
      net:expect({ from = b, flags = "A" }, 1)
    end, { expect_all = true })
  end)

  it("refuses what is neither true, false nor a pattern", function()
    local net = pair()
    assert.matches("bad argument #2 to 'run' (expect_all must be true, false or a pattern without since, got \"yes\"",
      error_of(net.run, net, function() end, { expect_all = "yes" }), 1, true)
    assert.matches("unknown pattern field 'frm'",
      error_of(synfin.sim, { expect_all = { frm = 1 } }), 1, true)
  end)
end)

-- Patterns are compiled once per expectation and matched in C against the
-- trace (core/match.c): the same answers as comparing fields in Lua, and
-- values no segment can have simply match nothing.
describe("patterns, matched in C", function()
  it("refuses a number field that is not an integer, and flags or payloads of the wrong type", function()
    local net = pair()
    for _, case in ipairs {
      { { seq = "1" }, "pattern field 'seq' must be an integer, got string" },
      { { len = 1.5 }, "pattern field 'len' must be an integer, got 1.5" },
      { { flags = 2 }, "pattern field 'flags' must be a string, got number" },
      { { payload = 5 }, "pattern field 'payload' must be a string, got number" },
      { { where = true }, "pattern field 'where' must be a function, got boolean" },
    } do
      assert.matches("bad argument #1 to 'expect' (" .. case[2], error_of(net.expect, net, case[1], 0), 1, true)
    end
  end)

  it("matches as the ladder numbers: relative seq/ack, flags at least or exact, payload, a float that is an integer", function()
    local net, a, b, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      local syn = net:expect({ from = a, flags = "=S", mss = 1460, seq = 0 }, 1)
      net:expect({ from = b, flags = "SA", ack = 1.0, n = syn.n + 1 }, 1)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("hello")
      net:expect({ from = a, len = 5, payload = "hello", seq = 1, ack = 1, injected = false }, 1)
      net:expect({ from = b, flags = "=A", ack = 6, conn = s }, 1)
      c:close()
      net:expect({ from = a, flags = "F", seq = 6, to = B }, 1)
    end)
  end)

  it("never matches what an egress hook dropped, and a where function sees only candidates", function()
    local net, a = pair()
    a:hook("egress", { flags = "=S", count = 1 }, function() return "drop" end)
    local looked = {}
    net:run(function()
      local c = a:connect(B, 80)
      local syn = net:expect({ from = a, flags = "S", where = function(r) looked[#looked + 1] = r.n; return true end }, 5)
      assert.equal(2, syn.n) -- #1 never reached the wire: the retransmission is the match
      assert.same({ 2 }, looked)
      c:wait("ESTABLISHED", 1)
    end)
    for _, r in ipairs(net:records()) do
      if r.n == 1 then assert.equal("dropped_egress", r.fate) end
    end
  end)

  it("a wait over a long transfer looks at each new record once, not the whole trace at every step", function()
    local net, a, _, l = pair()
    local looked, fin = {}, nil
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      s:send(("x"):rep(200 * 1000))
      s:close()
      -- waits through the whole transfer; where says no to every data segment
      fin = net:expect({ from = B, where = function(r)
        looked[#looked + 1] = r.n
        return r.flags:find("F", 1, true) ~= nil
      end }, 30)
      c:recv(200 * 1000, 1)
    end)
    local from_b = 0
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == 2 and r.n > 3 and r.n <= fin.n then from_b = from_b + 1 end
    end
    assert.is_true(from_b > 20, from_b .. " segments from B, looked at " .. #looked)
    assert.equal(from_b, #looked) -- each of B's segments once, up to the FIN
  end)
end)
