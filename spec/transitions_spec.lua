-- The transitions the core implements that no other spec took (the
-- transition coverage report, spec/coverage/report.lua, found them): the
-- retransmission timeouts that end FIN_WAIT_1, CLOSING and CLOSE_WAIT,
-- unanswered zero-window probes in the states past ESTABLISHED that still
-- have data to send, and a listener's close resetting a child that finished
-- its handshake but was never accepted. Each checks the exact segments on
-- the wire, the state and the state record's cause.
-- the retransmission timeouts below count in RFC 6298's timer (RTO at
-- least 1 s, at most 60 s, no tail loss probe)
local fixture = require("synfin.fixture").with_timing("rfc6298").with_rules "rfc"
local sm = require "helpers.state_machine"

local S = 1000000 -- microseconds per second

-- The last state record of connection c, as "OLD NEW cause why".
local function last_change(t, c)
  local list = sm.transitions(t, c)
  local r = list[#list]
  return ("%s %s %s %s"):format(r.old, r.new, r.cause, r.why)
end

describe("RFC 9293 §3.8.3 (R2), §3.10.8: retransmissions end in the closing states", function()
  it("FIN_WAIT_1: our FIN is sent again after 1 s; at the next timeout (3 s), CLOSED, \"connection timed out\", no RST", function()
    local t = fixture.at_state("FIN_WAIT_1", { settings = { retries = 1 } })
    assert.equal(1 * S, t:expect({ flags = "=FA", seq = 1, ack = 1, len = 0 }, 2).time_us)
    t:expect_nothing(5)
    assert.equal("CLOSED", t.c:state())
    assert.equal(3 * S, sm.entered(t, t.c, "CLOSED").time_us)
    assert.equal("FIN_WAIT_1 CLOSED timer retries exhausted", last_change(t, t.c))
    assert.equal("connection timed out", t.c:info().error)
  end)

  it("CLOSING: the peer's FIN is acked, our FIN is sent again after 1 s; at 3 s, CLOSED, \"connection timed out\", no RST", function()
    local t = fixture.at_state("CLOSING", { settings = { retries = 1 } })
    assert.equal(1 * S, t:expect({ flags = "=FA", seq = 1, ack = 2, len = 0 }, 2).time_us)
    t:expect_nothing(5)
    assert.equal("CLOSED", t.c:state())
    assert.equal(3 * S, sm.entered(t, t.c, "CLOSED").time_us)
    assert.equal("CLOSING CLOSED timer retries exhausted", last_change(t, t.c))
    assert.equal("connection timed out", t.c:info().error)
  end)

  it("CLOSE_WAIT: unacknowledged data is sent again after 1 s; at 3 s, CLOSED, \"connection timed out\", no RST", function()
    local t = fixture.at_state("CLOSE_WAIT", { settings = { retries = 1 } })
    assert.equal(3, t.c:send("abc"))
    t:expect { flags = "=PA", seq = 1, ack = 2, len = 3, payload = "abc" }
    assert.equal(1 * S, t:expect({ flags = "=PA", seq = 1, ack = 2, len = 3, payload = "abc" }, 2).time_us)
    t:expect_nothing(5)
    assert.equal("CLOSED", t.c:state())
    assert.equal(3 * S, sm.entered(t, t.c, "CLOSED").time_us)
    assert.equal("CLOSE_WAIT CLOSED timer retries exhausted", last_change(t, t.c))
    assert.equal("connection timed out", t.c:info().error)
  end)
end)

describe("RFC 9293 §3.10.4 (LISTEN): close resets the children nobody accepted", function()
  it("an ESTABLISHED child: <SEQ=SND.NXT><CTL=RST>, the child and the listener CLOSED", function()
    local t = fixture.at_state("SYN_RCVD", { passive = true })
    t:send { flags = "A", seq = 1, ack = 1 }
    t:expect_nothing(0.5)
    assert.equal("ESTABLISHED", t.c:state())
    assert.is_true(t.l:close())
    local r = t:expect { flags = "=RA", seq = 1, len = 0 }
    assert.equal(fixture.OUR_ISN + 1, r.abs_seq)
    t:expect_nothing(5)
    assert.equal("CLOSED", t.c:state())
    assert.equal("CLOSED", t.l:state())
    assert.equal("ESTABLISHED CLOSED user listener closed", last_change(t, t.c))
    assert.equal("LISTEN CLOSED user close", last_change(t, t.l))
  end)

  it("a CLOSE_WAIT child (the peer's FIN came before any accept): its FIN acked, then <SEQ=SND.NXT><CTL=RST>", function()
    local t = fixture.at_state("SYN_RCVD", { passive = true })
    t:send { flags = "A", seq = 1, ack = 1 }
    t:send { flags = "FA", seq = 1, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 2, len = 0 }
    assert.equal("CLOSE_WAIT", t.c:state())
    assert.is_true(t.l:close())
    t:expect { flags = "=RA", seq = 1, len = 0 }
    t:expect_nothing(5)
    assert.equal("CLOSED", t.c:state())
    assert.equal("CLOSED", t.l:state())
    assert.equal("CLOSE_WAIT CLOSED user listener closed", last_change(t, t.c))
  end)
end)

describe("RFC 9293 §3.8.6.1 (MUST-36) with §3.8.3 (R2): unanswered zero-window probes end the closing states too", function()
  -- the peer offers a zero window from its SYN-ACK on; one byte of data waits
  -- behind it. The first probe goes at the RTO (1 s), the next one 2 s later
  -- (backed off): with retries = 1 that one is not sent, the connection is
  -- CLOSED at 3 s, "connection timed out", and nothing else is sent.
  local function probe_then_close(t, ack, from)
    local probe = t:expect({ flags = "=A", seq = 1, ack = ack, len = 1, payload = "x" }, 2)
    assert.equal(1 * S, probe.time_us)
    t:expect_nothing(5)
    assert.equal("CLOSED", t.c:state())
    assert.equal(3 * S, sm.entered(t, t.c, "CLOSED").time_us)
    assert.equal(from .. " CLOSED timer zero-window probes unanswered", last_change(t, t.c))
    assert.equal("connection timed out", t.c:info().error)
  end

  it("FIN_WAIT_1: close with data behind the closed window; the FIN waits for the data, only the probe goes", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 0, settings = { retries = 1 } })
    assert.equal(1, t.c:send("x"))
    assert.is_true(t.c:close())
    assert.equal("FIN_WAIT_1", t.c:state())
    probe_then_close(t, 1, "FIN_WAIT_1")
  end)

  it("CLOSING: the peer's FIN comes while our data and FIN wait; it is acked, then only the probe goes", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 0, settings = { retries = 1 } })
    assert.equal(1, t.c:send("x"))
    assert.is_true(t.c:close())
    t:send { flags = "FA", ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 2, len = 0 }
    assert.equal("CLOSING", t.c:state())
    probe_then_close(t, 2, "CLOSING")
  end)

  it("CLOSE_WAIT: data sent after the peer's FIN waits behind the closed window; only the probe goes", function()
    local t = fixture.at_state("CLOSE_WAIT", { peer_win = 0, settings = { retries = 1 } })
    assert.equal(1, t.c:send("x"))
    probe_then_close(t, 2, "CLOSE_WAIT")
  end)

  it("LAST_ACK: close in CLOSE_WAIT with data behind the closed window; the FIN waits, only the probe goes", function()
    local t = fixture.at_state("CLOSE_WAIT", { peer_win = 0, settings = { retries = 1 } })
    assert.equal(1, t.c:send("x"))
    assert.is_true(t.c:close())
    assert.equal("LAST_ACK", t.c:state())
    probe_then_close(t, 2, "LAST_ACK")
  end)
end)
