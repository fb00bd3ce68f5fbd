-- After a retransmission timeout synfin goes back to SND.UNA (RFC 9293
-- §3.10.8) while the peer may already hold everything up to SND.MAX. A
-- segment with no data then carries SND.MAX, never the SND.NXT of the
-- go-back: at SND.NXT it would lie below the peer's RCV.NXT, be found
-- unacceptable (§3.10.7.4, first step) and its ACK never read. Two such
-- stacks each retransmitting stalled forever, each answering the other's
-- ACK with its own.
-- RFC 9293 §3.10.8's go-back with RFC 6298's retransmission timer: the
-- times below count in its 1 s RTO, with no tail loss probe
local fixture = require("synfin.fixture").with_timing("rfc6298").with_window("rfc").with_rules "rfc"
local sm = require "helpers.state_machine"

-- Our connection with 3000 bytes sent (1460 + 1460 + 80) and none of it
-- acknowledged; the RTO (1 s) has sent the first segment again.
local function after_go_back()
  local t = fixture.at_state("ESTABLISHED")
  t.c:send(("d"):rep(3000))
  t:expect { flags = "=A", seq = 1, len = 1460 }
  t:expect { flags = "=A", seq = 1461, len = 1460 }
  t:expect { flags = "=PA", seq = 2921, len = 80 }
  local again = t:expect({ flags = "=A", seq = 1, len = 1460 }, 1.5)
  assert.near(1, again.time, 1e-6)
  return t
end

describe("segments without data after a go-back retransmission", function()
  it("a pure ACK carries SND.MAX, which the peer holding all our data finds acceptable", function()
    local t = after_go_back()
    t:send { flags = "PA", seq = 1, ack = 1, payload = "hello" } -- the peer's data, acking nothing yet
    t:expect { flags = "=A", seq = 3001, ack = 6, len = 0 }
  end)

  it("the peer's ACK of everything ends the recovery: nothing more is sent again", function()
    local t = after_go_back()
    t:send { flags = "A", seq = 1, ack = 3001 }
    t:expect_nothing(5)
    assert.equal(0, t.c:info().snd_queued)
  end)

  it("an abort's RST carries SND.MAX too: the peer's RCV.NXT may be there", function()
    local t = after_go_back()
    t.c:abort()
    t:expect { flags = "=RA", seq = 3001 }
  end)

  it("data sent again still starts at SND.UNA", function()
    local t = after_go_back()
    t:send { flags = "A", seq = 1, ack = 1461 } -- the first segment arrived
    t:expect { flags = "A", seq = 1461, len = 1460 }
  end)
end)

describe("segments without data and the peer's window", function()
  it("after a probe of a zero window, a pure ACK carries the window's edge (SND.UNA), not SND.NXT past it", function()
    -- found by fuzz_lua: a connection to itself probing its own zero window
    -- answered its own ACKs for ever; between two hosts the ACK was dropped
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "A", seq = 1, ack = 1, win = 0 } -- the peer's window closes
    t.c:send("abc")
    local probe = t:expect({ flags = "A", seq = 1, len = 1 }, 2) -- the persist timer's probe
    assert.equal("a", probe.payload)
    t:send { flags = "PA", seq = 1, ack = 1, win = 0, payload = "hi" } -- the probe not taken
    t:expect { flags = "=A", seq = 1, ack = 3, len = 0 } -- RCV.NXT of a zero window: acceptable
  end)

  it("a shrunk window: a pure ACK carries its right edge, as Linux's (tcp_acceptable_seq)", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("abcdef")
    t:expect { flags = "=PA", seq = 1, len = 6 }
    t:send { flags = "PA", seq = 1, ack = 1, win = 2, payload = "z" }
    t:expect { flags = "=A", seq = 3, ack = 2 }
  end)
end)

describe("a SYN-ACK sent again", function()
  it("never takes back a larger scaled window a FIN already offered (RFC 9293 §3.8.6.2.2)", function()
    -- found by fuzz_stack: SYN_RCVD closed, its FIN offers 300000 bytes
    -- (37500 << 3), then the SYN-ACK's retransmission offered 65535
    local t = fixture.at_state("LISTEN", { settings = { rcv_buf = 300000 } })
    t:send { flags = "S", seq = 0, wscale = 2 }
    t:expect { flags = "=SA", win = 65535 }
    local child = assert(sm.child(t))
    child:close()
    t:expect { flags = "=FA", win = 37500 } -- 300000 >> 3
    t:expect({ flags = "=SA", win = 65535 }, 1.5) -- the SYN-ACK again, unscaled
    assert.equal(300000, child:info().rcv_wnd)
  end)
end)
