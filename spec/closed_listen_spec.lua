-- CLOSED (no connection on the port) and LISTEN: RFC 9293 §3.10.7.1 and
-- §3.10.7.2, in the smoltcp style: the peer sends a segment, we expect our
-- exact reply (or nothing) and the resulting state.
local fixture = require("synfin.fixture").with_window "rfc"
local sm = require "helpers.state_machine"

describe("CLOSED (no connection, no listener on the port)", function()
  it("RFC 9293 §3.10.7.1: a segment with ACK on draws <SEQ=SEG.ACK><CTL=RST>", function()
    local t = fixture.at_state("CLOSED")
    t:send { flags = "A", seq = 100, ack = 777 }
    local r = t:expect { flags = "=R", seq = 777, ack = 0, len = 0 }
    assert.equal(fixture.PORT, r.sport)
    assert.equal(fixture.SPORT, r.dport)
    t:expect_nothing(1)
  end)

  it("RFC 9293 §3.10.7.1: data with ACK on draws <SEQ=SEG.ACK><CTL=RST>, whatever its length", function()
    local t = fixture.at_state("CLOSED")
    t:send { flags = "PA", seq = 100, ack = 4242, payload = "hello" }
    t:expect { flags = "=R", seq = 4242, ack = 0, len = 0 }
    t:expect_nothing(1)
  end)

  it("RFC 9293 §3.10.7.1: a segment with ACK off draws <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>", function()
    local t = fixture.at_state("CLOSED")
    t:send { flags = "", seq = 100, payload = "abc" }
    local r = t:expect { flags = "=RA", seq = 0, ack = 103, len = 0 }
    assert.equal(0, r.abs_seq)
    t:expect_nothing(1)
  end)

  it("RFC 9293 §3.10.7.1: a SYN counts in SEG.LEN: <SEQ=0><ACK=ISN+1><CTL=RST,ACK>", function()
    local t = fixture.at_state("CLOSED")
    t:send { flags = "S", seq = 0 } -- the peer's ISN, 5000
    local r = t:expect { flags = "=RA", ack = 1 }
    assert.equal(0, r.abs_seq)
    assert.equal(fixture.PEER_ISN + 1, r.abs_ack)
    t:expect_nothing(1)
    assert.is_nil(sm.child(t))
  end)

  it("RFC 9293 §3.10.7.1: a FIN with data counts both: <ACK=SEG.SEQ+len+1><CTL=RST,ACK>", function()
    local t = fixture.at_state("CLOSED")
    t:send { flags = "F", seq = 10, payload = "xy" }
    t:expect { flags = "=RA", seq = 0, ack = 13 }
  end)

  it("RFC 9293 §3.10.7.1, picotcp#142: a RST for no connection is discarded, never answered", function()
    local t = fixture.at_state("CLOSED")
    t:send { flags = "R", seq = 100 }
    t:expect_nothing(5)
    t:send { flags = "RA", seq = 100, ack = 55 }
    t:expect_nothing(5)
    assert.is_true(sm.noted(t, "RST for no connection"))
  end)

  it("picotcp#18: one bad segment draws exactly one RST", function()
    local t = fixture.at_state("CLOSED")
    t:send { flags = "A", seq = 1, ack = 9 }
    t:expect { flags = "=R", seq = 9 }
    t:expect_nothing(10)
    assert.equal(1, #sm.ours(t))
  end)

  it("opte#442: an ACK for a connection already CLOSED (aborted) draws a RST and never revives it", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:abort()
    t:expect { flags = "=RA", seq = 1 }
    assert.equal("CLOSED", t.c:state())
    t:send { flags = "PA", seq = 1, ack = 1, payload = "late" }
    t:expect { flags = "=R", seq = 1, len = 0 }
    t:expect_nothing(2)
    assert.equal("CLOSED", t.c:state())
    assert.is_nil(sm.child(t))
  end)
end)

describe("LISTEN", function()
  it("RFC 9293 §3.10.7.2 (first): a RST is ignored: nothing sent, still LISTEN, no child", function()
    local t = fixture.at_state("LISTEN")
    t:send { flags = "R", seq = 100 }
    t:expect_nothing(2)
    t:send { flags = "RA", seq = 100, ack = 1 }
    t:expect_nothing(2)
    assert.equal("LISTEN", t.l:state())
    assert.is_nil(sm.child(t))
    assert.is_true(sm.noted(t, "RST in LISTEN ignored"))
  end)

  it("RFC 9293 §3.10.7.2 (second): an ACK draws <SEQ=SEG.ACK><CTL=RST> and the listener stays", function()
    local t = fixture.at_state("LISTEN")
    t:send { flags = "A", seq = 7, ack = 3000 }
    t:expect { flags = "=R", seq = 3000, ack = 0, len = 0 }
    t:expect_nothing(2)
    assert.equal("LISTEN", t.l:state())
    assert.is_nil(sm.child(t))
  end)

  it("RFC 9293 §3.10.7.2 (second): a SYN-ACK to a listener draws <SEQ=SEG.ACK><CTL=RST>, no child", function()
    local t = fixture.at_state("LISTEN")
    t:send { flags = "SA", seq = 0, ack = 31337 }
    t:expect { flags = "=R", seq = 31337 }
    t:expect_nothing(2)
    assert.equal("LISTEN", t.l:state())
    assert.is_nil(sm.child(t))
  end)

  it("RFC 9293 §3.10.7.2 (third): a SYN draws <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> with our MSS; the child is SYN_RCVD", function()
    local t = fixture.at_state("LISTEN")
    t:send { flags = "S", seq = 0 }
    local r = t:expect { flags = "=SA", seq = 0, ack = 1, mss = 1460, win = 65535, len = 0 }
    assert.equal(fixture.OUR_ISN, r.abs_seq)
    assert.equal(fixture.PEER_ISN + 1, r.abs_ack)
    t:expect_nothing(0.5)
    local child = assert(sm.child(t))
    assert.equal("SYN_RCVD", child:state())
    assert.same({ "SYN_RCVD" }, sm.states(t, child))
    local i = child:info()
    assert.equal(fixture.OUR_ISN, i.iss)
    assert.equal(fixture.OUR_ISN + 1, i.snd_nxt)
    assert.equal(fixture.OUR_ISN, i.snd_una)
    assert.equal(fixture.PEER_ISN, i.irs)
    assert.equal(fixture.PEER_ISN + 1, i.rcv_nxt)
    assert.equal("LISTEN", t.l:state())
  end)

  it("RFC 9293 §3.7.1, MUST-14: the SYN-ACK announces the MSS we are configured with", function()
    local t = fixture.at_state("LISTEN", { settings = { mss = 1000 } })
    t:send { flags = "S", seq = 0, mss = 1460 }
    t:expect { flags = "=SA", seq = 0, ack = 1, mss = 1000 }
  end)

  it("RFC 9293 §3.10.7.2 (fourth): a segment with neither SYN, ACK nor RST is dropped silently", function()
    local t = fixture.at_state("LISTEN")
    t:send { flags = "", seq = 100, payload = "data" }
    t:expect_nothing(2)
    t:send { flags = "F", seq = 100 }
    t:expect_nothing(2)
    t:send { flags = "P", seq = 100, payload = "x" }
    t:expect_nothing(2)
    assert.equal("LISTEN", t.l:state())
    assert.is_nil(sm.child(t))
    assert.is_true(sm.noted(t, "no SYN in LISTEN"))
  end)

  it("backlog: with { backlog = 1, syn_cookies = \"never\" } a second SYN is dropped silently while the first child waits", function()
    local t = fixture.new()
    t.l = assert(t.us:listen(fixture.PORT, { backlog = 1, syn_cookies = "never" }))
    t.c = t.l
    t:send { flags = "S", seq = 0, sport = fixture.SPORT, dport = fixture.PORT }
    t:expect { flags = "=SA", seq = 0, ack = 1, dport = fixture.SPORT }
    local mark = sm.mark(t)
    t:send { flags = "S", abs_seq = 9000, sport = fixture.SPORT + 1, dport = fixture.PORT }
    -- nothing to the second client: no SYN-ACK, no RST; only the first
    -- child's SYN-ACK retransmission (at 1 s) comes, to the first port
    local r = t:expect({ flags = "=SA", seq = 0 }, 2)
    assert.equal(fixture.SPORT, r.dport)
    assert.equal(1.0, r.time)
    assert.is_nil(sm.child(t, fixture.SPORT + 1))
    assert.is_true(sm.noted(t, "SYN queue full", mark))
    assert.equal("LISTEN", t.l:state())
  end)

  it("backlog: accepting the child frees its place; the next SYN is answered", function()
    local t = fixture.new()
    t.l = assert(t.us:listen(fixture.PORT, { backlog = 1 }))
    t.c = t.l
    t:send { flags = "S", seq = 0, sport = fixture.SPORT, dport = fixture.PORT }
    t:expect { flags = "=SA", seq = 0, ack = 1 }
    t:send { flags = "A", seq = 1, abs_ack = fixture.OUR_ISN + 1, sport = fixture.SPORT, dport = fixture.PORT }
    t:expect_nothing(0)
    local c = assert(t.l:accept(1))
    assert.equal("ESTABLISHED", c:state())
    t:send { flags = "S", abs_seq = 9000, sport = fixture.SPORT + 1, dport = fixture.PORT }
    local r = t:expect { flags = "=SA", abs_ack = 9001 }
    assert.equal(fixture.SPORT + 1, r.dport)
    assert.equal("SYN_RCVD", assert(sm.child(t, fixture.SPORT + 1)):state())
  end)

  it("smoltcp#851: a listener does not swallow a RST meant for a connection on its port", function()
    local t = fixture.at_state("ESTABLISHED", { passive = true })
    t:send { flags = "R", seq = 1 }
    t:expect_nothing(1)
    assert.equal("CLOSED", t.c:state())
    assert.equal("connection reset", t.c:info().error)
    assert.equal("LISTEN", t.l:state())
  end)

  it("RFC 9293 §3.10.4: close on a listener: LISTEN -> CLOSED; a SYN then draws a RST", function()
    local t = fixture.at_state("LISTEN")
    assert.is_true(t.l:close())
    assert.equal("CLOSED", t.l:state())
    t:send { flags = "S", seq = 0 }
    t:expect { flags = "=RA", seq = 0, ack = 1 }
  end)
end)
