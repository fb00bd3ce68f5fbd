-- SYN_RCVD reached by a passive open: RFC 9293 §3.10.7.4 (and §3.10.8 for
-- the SYN-ACK's retransmission). The fixture's child t.c sent
-- <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> (seq=0 ack=1); t.l is the listener.
local fixture = require "synfin.fixture"
local sm = require "helpers.state_machine"

local function passive() return fixture.at_state("SYN_RCVD", { passive = true }) end

describe("SYN_RCVD (passive open)", function()
  it("RFC 9293 §3.10.7.4 (fifth): an ACK with SND.UNA < SEG.ACK =< SND.NXT -> ESTABLISHED, nothing sent; accept returns it", function()
    local t = passive()
    t:send { flags = "A", seq = 1, ack = 1 }
    t:expect_nothing(3) -- no reply, and the SYN-ACK is no longer retransmitted
    assert.equal("ESTABLISHED", t.c:state())
    assert.same({ "SYN_RCVD", "ESTABLISHED" }, sm.states(t, t.c))
    local c = assert(t.l:accept(0))
    assert.equal(t.c, c)
    local i = c:info()
    assert.equal(fixture.OUR_ISN + 1, i.snd_una)
    assert.equal(fixture.PEER_ISN + 1, i.rcv_nxt)
    assert.equal(fixture.SPORT, i.rport)
    -- and the connection carries data both ways
    assert.equal(5, c:send("hello"))
    t:expect { flags = "=PA", seq = 1, ack = 1, len = 5, payload = "hello" }
    t:send { flags = "PA", seq = 1, ack = 6, payload = "world" }
    t:expect { flags = "=A", seq = 6, ack = 6 }
    assert.equal("world", c:read())
  end)

  it("RFC 9293 §3.10.3: before the handshake's ACK the listener has nothing to accept", function()
    local t = passive()
    assert.is_nil(t.l:try_accept())
    assert.has_error(function() t.l:accept(0.5) end)
  end)

  it("RFC 9293 §3.10.7.4 (fifth): an ACK carrying data completes the handshake and the data is delivered", function()
    local t = passive()
    t:send { flags = "PA", seq = 1, ack = 1, payload = "abc" }
    t:expect { flags = "=A", seq = 1, ack = 4 }
    assert.equal("ESTABLISHED", t.c:state())
    assert.equal("abc", t.c:read())
  end)

  it("RFC 9293 §3.10.7.4 (fifth): an ACK too low (SEG.ACK =< SND.UNA) draws <SEQ=SEG.ACK><CTL=RST>; state stays", function()
    local t = passive()
    t:send { flags = "A", seq = 1, ack = 0 }
    local r = t:expect { flags = "=R", seq = 0, len = 0 }
    assert.equal(fixture.OUR_ISN, r.abs_seq)
    assert.equal("SYN_RCVD", t.c:state())
    -- the right ACK still completes it
    t:send { flags = "A", seq = 1, ack = 1 }
    t:expect_nothing(0.5)
    assert.equal("ESTABLISHED", t.c:state())
  end)

  it("RFC 9293 §3.10.7.4 (fifth): an ACK too high (SEG.ACK > SND.NXT) draws <SEQ=SEG.ACK><CTL=RST>; state stays", function()
    local t = passive()
    t:send { flags = "A", seq = 1, ack = 2 }
    t:expect { flags = "=R", seq = 2, len = 0 }
    t:send { flags = "A", seq = 1, ack = 1000 }
    t:expect { flags = "=R", seq = 1000, len = 0 }
    t:expect_nothing(0.5)
    assert.equal("SYN_RCVD", t.c:state())
  end)

  it("RFC 9293 §3.10.7.4 (second), gvisor#2814, MUST-11: a RST at RCV.NXT returns the child to LISTEN; the listener goes on", function()
    local t = passive()
    t:send { flags = "R", seq = 1 }
    t:expect_nothing(3) -- nothing sent, no more SYN-ACKs
    assert.same({ "SYN_RCVD", "LISTEN" }, sm.states(t, t.c))
    assert.is_nil(t.c:info().error) -- "the user need not be informed"
    assert.is_nil(sm.child(t))
    assert.equal("LISTEN", t.l:state())
    assert.is_nil(t.l:try_accept())
    -- the listener still accepts a new SYN from the same port afterwards
    t:send { flags = "S", abs_seq = 7000, sport = fixture.SPORT, dport = fixture.PORT }
    t:expect { flags = "=SA", seq = 0, abs_ack = 7001 }
    local again = assert(sm.child(t))
    assert.are_not.equal(t.c, again)
    assert.equal("SYN_RCVD", again:state())
    t:send { flags = "A", abs_seq = 7001, ack = 1 }
    assert.equal("ESTABLISHED", assert(t.l:accept(1)):state())
  end)

  it("gvisor#2814: a child reset back to LISTEN gives its backlog place back (backlog = 1)", function()
    local t = fixture.new()
    t.l = assert(t.us:listen(fixture.PORT, { backlog = 1 }))
    t:send { flags = "S", seq = 0, sport = fixture.SPORT, dport = fixture.PORT }
    t:expect { flags = "=SA", seq = 0, ack = 1 }
    t:send { flags = "R", seq = 1, ack = 0, sport = fixture.SPORT, dport = fixture.PORT }
    t:expect_nothing(0.5)
    t:send { flags = "S", abs_seq = 9000, sport = fixture.SPORT + 1, dport = fixture.PORT }
    local r = t:expect { flags = "=SA", abs_ack = 9001 }
    assert.equal(fixture.SPORT + 1, r.dport)
  end)

  it("RFC 5961 §3.2: an in-window RST not at RCV.NXT draws a challenge ACK; SYN_RCVD stays", function()
    local t = passive()
    t:send { flags = "R", seq = 100 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    assert.equal("SYN_RCVD", t.c:state())
  end)

  it("RFC 5961 §3.2: a RST outside the window is dropped silently", function()
    local t = passive()
    t:send { flags = "R", seq = 200000 }
    t:expect_nothing(0.5)
    assert.equal("SYN_RCVD", t.c:state())
  end)

  it("picotcp#148: a duplicate SYN (our SYN-ACK was lost) draws the SYN-ACK again, never a RST", function()
    local t = passive()
    t:send { flags = "S", seq = 0 }
    local r = t:expect { flags = "=SA", seq = 0, ack = 1, mss = 1460 }
    assert.equal(0, r.time_us)
    t:expect_nothing(0.5)
    assert.equal("SYN_RCVD", t.c:state())
    for _, s in ipairs(sm.ours(t)) do assert.is_nil(s.flags:find("R", 1, true)) end
    t:send { flags = "A", seq = 1, ack = 1 }
    t:sleep(0)
    assert.equal("ESTABLISHED", t.c:state())
  end)

  it("RFC 9293 §3.10.7.4 (fourth): an in-window SYN with a new ISN returns the child to LISTEN", function()
    local t = passive()
    t:send { flags = "S", seq = 100 }
    t:expect_nothing(2)
    assert.same({ "SYN_RCVD", "LISTEN" }, sm.states(t, t.c))
    assert.equal("LISTEN", t.l:state())
    assert.is_nil(sm.child(t))
  end)

  it("RFC 6298 (5.5), RFC 9293 §3.10.8: the SYN-ACK is retransmitted from ISS at 1, 3, 7 s (RTO doubling)", function()
    local t = passive()
    for _, s in ipairs { 1, 3, 7 } do
      local r = t:expect({ flags = "=SA", seq = 0, ack = 1, mss = 1460 }, 10)
      assert.equal(s * 1000000, r.time_us)
    end
    assert.equal("SYN_RCVD", t.c:state())
    assert.equal(3, t.c:info().retransmits)
  end)

  it("picotcp#40, MUST-22: after syn_retries the child is dropped silently (no RST); the listener stays", function()
    local t = fixture.at_state("SYN_RCVD", { passive = true, settings = { syn_retries = 2 } })
    t:expect({ flags = "=SA", seq = 0 }, 2)
    t:expect({ flags = "=SA", seq = 0 }, 3)
    t:expect_nothing(10)
    assert.equal("CLOSED", t.c:state())
    assert.equal(7 * 1000000, sm.entered(t, t.c, "CLOSED").time_us)
    assert.equal("LISTEN", t.l:state())
    assert.is_nil(sm.child(t))
  end)

  it("RFC 9293 §3.10.7.4 (eighth): a FIN acking our SYN -> ESTABLISHED then CLOSE_WAIT, ACK of the FIN", function()
    local t = passive()
    t:send { flags = "FA", seq = 1, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 2 }
    assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT" }, sm.states(t, t.c))
  end)
end)
