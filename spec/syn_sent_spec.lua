-- SYN_SENT: RFC 9293 §3.10.7.3 (and §3.10.8 for the SYN's retransmission).
-- Our ISN is relative 0, so our SYN is seq=0 and SND.NXT is 1.
-- RFC 9293 §3.10.7.3 with RFC 6298's retransmission timer (RTO at least
-- 1 s, no tail loss probe): the quiet spans below are shorter than it
local fixture = require("synfin.fixture").with_timing("rfc6298").with_window("rfc").with_rules "rfc"
local sm = require "helpers.state_machine"

describe("SYN_SENT", function()
  it("RFC 9293 §3.10.1, MUST-14: connect sends <SEQ=ISS><CTL=SYN> with our MSS and enters SYN_SENT", function()
    local t = fixture.new()
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    local r = t:expect { flags = "=S", seq = 0, ack = 0, mss = 1460, win = 65535, len = 0 }
    assert.equal(fixture.OUR_ISN, r.abs_seq)
    assert.equal("SYN_SENT", t.c:state())
    local i = t.c:info()
    assert.equal(fixture.OUR_ISN, i.snd_una)
    assert.equal(fixture.OUR_ISN + 1, i.snd_nxt)
    t:expect_nothing(0.5)
  end)

  it("RFC 9293 §3.10.7.3 (fourth): a SYN-ACK acking our SYN -> ESTABLISHED and <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 1, len = 0, win = 65535 }
    t:expect_nothing(3) -- the SYN is not retransmitted any more
    assert.equal("ESTABLISHED", t.c:state())
    assert.same({ "SYN_SENT", "ESTABLISHED" }, sm.states(t, t.c))
    local i = t.c:info()
    assert.equal(fixture.PEER_ISN, i.irs)
    assert.equal(fixture.PEER_ISN + 1, i.rcv_nxt)
    assert.equal(fixture.OUR_ISN + 1, i.snd_una)
    assert.equal(65535, i.snd_wnd)
  end)

  it("RFC 9293 §3.10.7.3 (first): SEG.ACK =< ISS is unacceptable: <SEQ=SEG.ACK><CTL=RST>, state stays", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "SA", seq = 0, ack = 0 } -- SEG.ACK = ISS
    local r = t:expect { flags = "=R", seq = 0, len = 0 }
    assert.equal(fixture.OUR_ISN, r.abs_seq)
    assert.equal("SYN_SENT", t.c:state())
    t:send { flags = "SA", seq = 0, ack = -5 } -- SEG.ACK < ISS
    t:expect { flags = "=R", abs_seq = fixture.OUR_ISN - 5 }
    assert.equal("SYN_SENT", t.c:state())
  end)

  it("RFC 9293 §3.10.7.3 (first), smoltcp#552: SEG.ACK > SND.NXT is unacceptable: <SEQ=SEG.ACK><CTL=RST>, state stays", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "SA", seq = 0, ack = 2 }
    t:expect { flags = "=R", seq = 2, abs_ack = 0, len = 0 }
    assert.equal("SYN_SENT", t.c:state())
    -- and a correct SYN-ACK afterwards still completes the handshake
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    assert.equal("ESTABLISHED", t.c:state())
  end)

  it("RFC 9293 §3.10.7.3 (first), picotcp#142: a RST with an unacceptable ACK is dropped, never answered", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "RA", seq = 0, ack = 5 }
    t:expect_nothing(0.5)
    assert.equal("SYN_SENT", t.c:state())
  end)

  it("RFC 9293 §3.10.7.3 (second), seastar#1334: a RST with an acceptable ACK -> CLOSED at once, \"connection refused\"", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "RA", seq = 0, ack = 1 }
    t:expect_nothing(10) -- no reply, no more SYNs
    assert.equal("CLOSED", t.c:state())
    assert.equal("connection refused", t.c:info().error)
    local last = sm.transitions(t, t.c)
    assert.equal("RST", last[#last].why)
    assert.equal(0, last[#last].time_us)
    local ok, err = t.c:send("x")
    assert.is_nil(ok)
    assert.equal("connection refused", err)
  end)

  it("RFC 9293 §3.10.7.3 (second): a RST without ACK is ignored; the SYN is retransmitted as usual", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "R", seq = 0 }
    local r = t:expect({ flags = "=S", seq = 0 }, 2)
    assert.equal(1000000, r.time_us) -- the retransmission, not a reply
    assert.equal("SYN_SENT", t.c:state())
    assert.is_true(sm.noted(t, "RST without ACK in SYN_SENT"))
  end)

  it("RFC 9293 §3.10.7.3 (fourth), picotcp#528, MUST-10: a bare SYN is a simultaneous open: SYN_RCVD and <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "S", seq = 0 }
    local r = t:expect { flags = "=SA", seq = 0, ack = 1, mss = 1460, len = 0 }
    assert.equal(fixture.OUR_ISN, r.abs_seq)
    assert.equal("SYN_RCVD", t.c:state())
    -- the peer's ACK of our SYN completes it: ESTABLISHED, nothing more to send
    t:send { flags = "A", seq = 1, ack = 1 }
    t:expect_nothing(3)
    assert.equal("ESTABLISHED", t.c:state())
    assert.same({ "SYN_SENT", "SYN_RCVD", "ESTABLISHED" }, sm.states(t, t.c))
  end)

  it("RFC 9293 §3.5 Figure 7, MUST-10: in a simultaneous open the peer's SYN-ACK (its SYN again, at IRS) establishes; nothing more is sent", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "S", seq = 0 }
    t:expect { flags = "=SA", seq = 0, ack = 1 }
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect_nothing(3) -- no ACK needed, and no more SYN-ACK retransmissions
    assert.equal("ESTABLISHED", t.c:state())
    assert.same({ "SYN_SENT", "SYN_RCVD", "ESTABLISHED" }, sm.states(t, t.c))
    assert.equal(fixture.OUR_ISN + 1, t.c:info().snd_una)
    assert.equal(fixture.PEER_ISN + 1, t.c:info().rcv_nxt)
  end)

  it("picotcp#528, RFC 9293 §3.10.2: data queued before a simultaneous open completes goes out whole, from seq 1", function()
    local t = fixture.at_state("SYN_SENT")
    assert.equal(5, t.c:send("hello"))
    t:send { flags = "S", seq = 0 }
    t:expect { flags = "=SA", seq = 0, ack = 1 }
    t:send { flags = "A", seq = 1, ack = 1 }
    t:expect { flags = "=PA", seq = 1, ack = 1, len = 5, payload = "hello" }
    assert.equal("ESTABLISHED", t.c:state())
    assert.equal(5, t.c:info().snd_queued)
  end)

  it("gvisor#2814, MUST-11: a RST in SYN_RCVD reached by an active open -> CLOSED, \"connection refused\"", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "S", seq = 0 }
    t:expect { flags = "=SA", seq = 0, ack = 1 }
    t:send { flags = "R", seq = 1 }
    t:expect_nothing(5)
    assert.equal("CLOSED", t.c:state())
    assert.equal("connection refused", t.c:info().error)
  end)

  it("RFC 9293 §3.10.8: in a simultaneous open the SYN-ACK is retransmitted; after syn_retries, CLOSED with a timeout", function()
    local t = fixture.at_state("SYN_SENT", { settings = { syn_retries = 1 } })
    t:send { flags = "S", seq = 0 }
    t:expect { flags = "=SA", seq = 0, ack = 1 }
    assert.equal(1000000, t:expect({ flags = "=SA", seq = 0, ack = 1 }, 2).time_us)
    t:expect_nothing(5)
    assert.equal("CLOSED", t.c:state())
    assert.equal(3000000, sm.entered(t, t.c, "CLOSED").time_us)
    assert.equal("connection timed out", t.c:info().error)
  end)

  it("RFC 9293 §3.10.7.3 (fifth): an acceptable ACK with neither SYN nor RST is dropped", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "A", seq = 1, ack = 1 }
    t:expect_nothing(0.5)
    assert.equal("SYN_SENT", t.c:state())
    assert.is_true(sm.noted(t, "neither SYN nor RST in SYN_SENT"))
  end)

  it("picotcp#114: data in SYN_SENT never draws a SYN (nor anything else)", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "PA", seq = 1, ack = 1, payload = "early" }
    t:expect_nothing(0.3)
    t:send { flags = "P", seq = 1, payload = "early" }
    t:expect_nothing(0.3)
    t:send { flags = "F", seq = 1 }
    t:expect_nothing(0.3)
    assert.equal("SYN_SENT", t.c:state())
    -- the only thing we send is the SYN's own retransmission, at 1 s
    local r = t:expect({ flags = "=S", seq = 0 }, 1)
    assert.equal(1000000, r.time_us)
  end)

  it("RFC 6298 (5.5), RFC 9293 §3.10.8: the SYN is retransmitted from ISS at 1, 3, 7, 15, 31, 63 s (RTO 1, 2, 4, 8, 16, 32 s)", function()
    local t = fixture.at_state("SYN_SENT")
    local at = { 1, 3, 7, 15, 31, 63 }
    for _, s in ipairs(at) do
      local r = t:expect({ flags = "=S", seq = 0, ack = 0, mss = 1460 }, 64)
      assert.equal(s * 1000000, r.time_us)
    end
    assert.equal(6, t.c:info().retransmits)
    assert.equal("SYN_SENT", t.c:state())
  end)

  it("picotcp#40, MUST-22, MUST-23: after syn_retries = 7 the connect fails at 183 s (at least 3 minutes): CLOSED with a timeout error, RTO capped at rto_max = 60 s", function()
    local t = fixture.at_state("SYN_SENT")
    t:sleep(300)
    assert.equal(8, #sm.ours(t)) -- the SYN and its 7 retransmissions, nothing more
    assert.equal("CLOSED", t.c:state())
    assert.equal("connection timed out", t.c:info().error)
    local closed = sm.entered(t, t.c, "CLOSED")
    assert.equal("timer", closed.cause)
    -- the last SYN at 123 s, then RTO 60 s
    assert.equal(183 * 1000000, closed.time_us)
  end)

  it("MUST-22: syn_retries is a setting: with syn_retries = 2 the SYNs go at 0, 1, 3 s and CLOSED at 7 s", function()
    local t = fixture.at_state("SYN_SENT", { settings = { syn_retries = 2 } })
    local r1 = t:expect({ flags = "=S", seq = 0 }, 5)
    local r2 = t:expect({ flags = "=S", seq = 0 }, 5)
    assert.equal(1000000, r1.time_us)
    assert.equal(3000000, r2.time_us)
    t:expect_nothing(10)
    assert.equal("CLOSED", t.c:state())
    assert.equal(7000000, sm.entered(t, t.c, "CLOSED").time_us)
    assert.equal("connection timed out", t.c:info().error)
  end)

  it("RFC 9293 §3.10.7.3 (fourth): data on the SYN-ACK is delivered and acknowledged in one ACK", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "SA", seq = 0, ack = 1, payload = "hi" }
    t:expect { flags = "=A", seq = 1, ack = 3 }
    t:expect_nothing(0.5)
    assert.equal("hi", t.c:read())
    assert.equal("ESTABLISHED", t.c:state())
  end)

  it("RFC 9293 §3.10.7.3 (fourth): a SYN-ACK carrying a FIN -> ESTABLISHED then CLOSE_WAIT; one ACK covers SYN and FIN", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "FSA", seq = 0, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 2 }
    t:expect_nothing(0.5)
    assert.same({ "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT" }, sm.states(t, t.c))
  end)
end)
