-- synfin.busted: assert.state, assert.segment and assert.trace_has, each
-- passing, failing with its message, negated, and refusing bad arguments.
local synfin = require "synfin"
local sb = require "synfin.busted"

local A, B = "192.0.2.1", "192.0.2.2"

-- A whole connection: handshake, 5 bytes, the client closes first; the
-- client is left in TIME_WAIT.
local function closed_run()
  local net = synfin.sim { seed = 7, latency = 0.005 }
  local a, b = net:host(A), net:host(B)
  local l = assert(b:listen(80))
  local c, s
  net:run(function()
    c = a:connect(B, 80, { sport = 40000 })
    c:wait("ESTABLISHED", 1)
    s = l:accept(1)
    c:send("hello")
    assert(s:recv(5, 1) == "hello")
    c:close()
    s:wait("CLOSE_WAIT", 1)
    s:close()
    c:wait("TIME_WAIT", 1)
    s:wait("CLOSED", 1)
  end)
  return net, a, b, c, s
end

local function seg_n(net, n)
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and r.n == n then return r end
  end
end

-- The message of the error fn raises (the assertion's failure).
local function failure(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "the assertion did not fail")
  return tostring(err)
end

describe("assert.state", function()
  it("passes when the connection is in the state, and negated when it is not", function()
    local _, _, _, c, s = closed_run()
    assert.state(c, "TIME_WAIT")
    assert.state(s, "CLOSED")
    assert.is_not.state(c, "ESTABLISHED")
    assert.is_not.state(s, "LAST_ACK")
  end)

  it("fails with the connection, the state wanted and the state it is in", function()
    local _, _, _, c = closed_run()
    local msg = failure(function() assert.state(c, "ESTABLISHED") end)
    assert.matches("Expected connection 192.0.2.1:40000 (with 192.0.2.2:80) to be in state ESTABLISHED, but it is TIME_WAIT",
      msg, 1, true)
    msg = failure(function() assert.is_not.state(c, "TIME_WAIT") end)
    assert.matches("Expected connection 192.0.2.1:40000 (with 192.0.2.2:80) not to be in state TIME_WAIT", msg, 1, true)
  end)

  it("puts a message given last above its own", function()
    local _, _, _, c = closed_run()
    local msg = failure(function() assert.state(c, "CLOSED", "the client lingers") end)
    assert.matches("the client lingers\nExpected connection", msg, 1, true)
  end)

  it("names a listener, and works on anything with :state()", function()
    local net = synfin.sim {}
    net:host(A)
    local l = net:host(B):listen(80)
    assert.state(l, "LISTEN")
    local msg = failure(function() assert.state(l, "CLOSED") end)
    assert.matches("192.0.2.2:80 (listener) to be in state CLOSED, but it is LISTEN", msg, 1, true)
    assert.state({ state = function() return "SYN_SENT" end }, "SYN_SENT")
  end)

  it("refuses what is not a connection or not a state, at the caller's line", function()
    local _, _, _, c = closed_run()
    local msg = failure(function() assert.state("c", "CLOSED") end)
    assert.matches("busted_assertions_spec.lua:%d+: bad argument #1 to 'state' %(a synfin connection expected, got string%)", msg)
    msg = failure(function() assert.state(c, "TIME-WAITING") end)
    assert.matches("bad argument #2 to 'state' (a state name expected", msg, 1, true)
    assert.matches("got TIME-WAITING)", msg, 1, true)
  end)

  it("takes a state spelt as RFC 9293 spells it too (issue 14)", function()
    local _, _, _, c, s = closed_run()
    assert.state(c, "TIME-WAIT")
    assert.state(s, "closed")
    local msg = failure(function() assert.state(c, "FIN-WAIT-2") end)
    assert.matches("to be in state FIN_WAIT_2, but it is TIME_WAIT", msg, 1, true)
  end)

  it("leaves luassert's other assertions and modifiers working", function()
    assert.is_true(true)
    assert.are.same({ 1 }, { 1 })
    assert.is_not.equal(1, 2)
    assert.has_error(function() error("x") end)
    assert.is_table(assert.state()) -- luassert's own state object, without arguments
  end)
end)

describe("assert.segment", function()
  it("passes when every field of the pattern agrees, and negated when one does not", function()
    local net, a, b = closed_run()
    local syn = seg_n(net, 1)
    assert.segment(syn, { from = a, to = b, flags = "=S", seq = 0, len = 0, mss = 1460, n = 1 })
    assert.segment(syn, { from = A, to = B, sport = 40000, dport = 80 })
    assert.segment(seg_n(net, 4), { flags = "A", payload = "hello", seq = 1 })
    assert.is_not.segment(syn, { flags = "A" })
    assert.is_not.segment(syn, { from = b })
  end)

  it("fails listing every field that differs", function()
    local net, _, b = closed_run()
    local syn = seg_n(net, 1)
    -- the SYN's window, the linux profile's: 44 * 1460 = 64240 (tcp_select_initial_window)
    local msg = failure(function()
      assert.segment(syn, { from = b, flags = "=SA", seq = 0, ack = 1, len = 3, win = 64240 })
    end)
    assert.matches("Expected segment #1 S seq=0 ack=0 win=64240 len=0 192.0.2.1:40000 > 192.0.2.2:80 "
      .. "to match { from = 192.0.2.2, flags = \"=SA\", seq = 0, ack = 1, len = 3, win = 64240 }, but:\n"
      .. "  from: expected 192.0.2.2, got 192.0.2.1\n"
      .. "  flags: expected exactly \"SA\", got \"S\"\n"
      .. "  ack: expected 1, got 0\n"
      .. "  len: expected 3, got 0", msg, 1, true)
    assert.is_nil(msg:find("seq: expected", 1, true), "seq agrees and must not be listed")
    assert.is_nil(msg:find("win: expected", 1, true), "win agrees and must not be listed")
  end)

  it("says when a negated pattern matches, and shows flags set versus exact", function()
    local net = closed_run()
    local syn = seg_n(net, 1)
    local msg = failure(function() assert.is_not.segment(syn, { flags = "S" }) end)
    assert.matches("Expected segment #1 S seq=0 ack=0 win=64240 len=0 192.0.2.1:40000 > 192.0.2.2:80 not to match "
      .. "{ flags = \"S\" }, but it does", msg, 1, true)
    msg = failure(function() assert.segment(syn, { flags = "F", payload = "abc" }) end)
    assert.matches("flags: expected \"F\" set, got \"S\"", msg, 1, true)
    assert.matches("payload: expected \"abc\", got \"\"", msg, 1, true)
  end)

  it("checks the segment a hook sees, and where, conn and injected", function()
    local net = synfin.sim { seed = 7 }
    local a, b = net:host(A), net:host(B)
    b:listen(80)
    local seen
    a:hook("egress", { flags = "=S" }, function(seg) seen = seg end)
    local c
    net:run(function()
      c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
    end)
    assert.segment(seen, { flags = "=S", seq = 0, where = function(s) return s.mss == 1460 end })
    assert.segment(seg_n(net, 1), { conn = c, injected = false })
    local msg = failure(function()
      assert.segment(seg_n(net, 2), { conn = c, injected = true, where = function() return false end })
    end)
    assert.matches("conn: expected", msg, 1, true)
    assert.matches("injected: expected true, got false", msg, 1, true)
    assert.matches("where: returned false", msg, 1, true)
  end)

  it("refuses what is not a segment and patterns with unknown fields", function()
    local net = closed_run()
    local msg = failure(function() assert.segment(nil, { flags = "S" }) end)
    assert.matches("bad argument #1 to 'segment' (a segment record expected, got nil)", msg, 1, true)
    msg = failure(function() assert.segment(seg_n(net, 1), { flag = "S" }) end)
    assert.matches("bad argument #2 to 'segment' (unknown pattern field 'flag' (a pattern has abs_ack, ", msg, 1, true)
  end)
end)

describe("assert.trace_has", function()
  it("passes on the flags in order as a subsequence, and negated when they are absent", function()
    local net = closed_run()
    assert.trace_has(net, { "S", "SA", "A" })
    assert.trace_has(net, { "S", "FA", "FA", "A" })          -- others may come between
    assert.trace_has(net, { "AS" })                          -- letter order does not matter
    assert.is_not.trace_has(net, { "R" })
    assert.is_not.trace_has(net, { "FA", "S" })              -- order matters
  end)

  it("takes patterns as steps", function()
    local net, a, b = closed_run()
    assert.trace_has(net, { { from = a, flags = "S" }, { from = b, flags = "F" }, { from = a, flags = "=A" } })
    assert.is_not.trace_has(net, { { from = b, flags = "S", len = 1 } })
  end)

  it("fails showing how far it matched and the flags on the wire", function()
    local net = closed_run()
    local msg = failure(function() assert.trace_has(net, { "S", "SA", "R" }) end)
    assert.matches("Expected the trace to contain S, SA, R in this order, but only S (#1), SA (#2) came; "
      .. "R never came after #2\nflags on the wire: #1 S, #2 SA, #3 A, #4 PA, ", msg, 1, true)
    msg = failure(function() assert.trace_has(net, { "R" }) end)
    assert.matches("Expected the trace to contain R in this order, but R never came", msg, 1, true)
  end)

  it("fails negated showing where the steps matched", function()
    local net = closed_run()
    local msg = failure(function() assert.is_not.trace_has(net, { "S", "FA" }) end)
    assert.matches("Expected the trace not to contain S, FA in this order, but it does: S (#1), FA (#", msg, 1, true)
  end)

  it("does not count segments an egress hook dropped: they never reached the wire", function()
    local net = synfin.sim { seed = 7 }
    local a, b = net:host(A), net:host(B)
    b:listen(80)
    a:hook("egress", { flags = "=S", count = 1 }, function() return "drop" end)
    net:run(function() a:connect(B, 80):wait("ESTABLISHED", 5) end)
    assert.trace_has(net, { "S", "SA" })
    local msg = failure(function() assert.trace_has(net, { "S", "S" }) end)
    assert.matches("flags on the wire: #2 S, #3 SA, #4 A", msg, 1, true)
  end)

  it("refuses a non-net and bad steps", function()
    local net = closed_run()
    local msg = failure(function() assert.trace_has({}, { "S" }) end)
    assert.matches("bad argument #1 to 'trace_has' (a synfin net expected, got table)", msg, 1, true)
    msg = failure(function() assert.trace_has(net, {}) end)
    assert.matches("bad argument #2 to 'trace_has' (a non-empty list", msg, 1, true)
    msg = failure(function() assert.trace_has(net, { "S", "X" }) end)
    assert.matches("bad argument #2 to 'trace_has' (step 2: bad flags 'X'", msg, 1, true)
  end)
end)

describe("the module", function()
  it("returns the assertions as functions too", function()
    local net, _, _, c = closed_run()
    sb.state(c, "TIME_WAIT")
    sb.trace_has(net, { "S" })
    sb.segment(seg_n(net, 1), { flags = "S" })
    assert.same({ "flags: expected \"A\" set, got \"S\"" }, sb.segment_diff(seg_n(net, 1), { flags = "A" }))
  end)
end)
