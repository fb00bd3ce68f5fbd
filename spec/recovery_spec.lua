-- Crashes and their aftermath: the quiet time (RFC 9293 §3.4.3) and
-- half-open connections (§3.5.1, Figures 9-11).
local synfin = require "synfin"
local fixture = require "synfin.fixture"

describe("the quiet time (RFC 9293 §3.4.3)", function()
  it("a host with quiet_time sends nothing for that long after it starts: its SYN waits", function()
    local t = fixture.new { settings = { quiet_time = 30 } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    t:expect_nothing(30)
    -- the first SYN to leave is the retransmission due after the quiet time
    local syn = t:expect({ flags = "=S", seq = 0 }, 6)
    -- retransmissions at 1, 2, 3, 4, 5 s (the linux profile's
    -- syn_linear_timeouts: tcp_syn_linear_timeouts), then 7, 11, 19, 35 s
    assert.near(35, syn.time, 1e-6)
  end)

  it("nor does it answer segments for unknown connections (no RST) while quiet", function()
    local t = fixture.new { settings = { quiet_time = 30 } }
    t:send { flags = "A", seq = 100, ack = 100, sport = 1234, dport = 80 }
    t:expect_nothing(1)
    t:sleep(30)
    t:send { flags = "A", seq = 100, ack = 100, sport = 1234, dport = 80 }
    t:expect { flags = "=R" }
  end)

  it("by default there is none", function()
    local t = fixture.new {}
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    assert.equal(0, t:expect({ flags = "=S" }).time)
  end)
end)

describe("half-open connections (RFC 9293 §3.5.1)", function()
  it("Figure 10: a peer that crashed and reconnects from the same port: our challenge ACK draws its RST, and the old connection ends", function()
    local t = fixture.at_state("ESTABLISHED", { passive = true })
    -- the peer lost its state and opens again: a SYN with a new ISN
    t:send { flags = "S", abs_seq = fixture.PEER_ISN + 400000, ack = 0 }
    local challenge = t:expect { flags = "=A", seq = 1, ack = 1 } -- RFC 5961 §4
    -- the peer, knowing no such connection, resets it: <SEQ=SEG.ACK><CTL=RST>
    t:send { flags = "R", abs_seq = challenge.abs_ack, ack = 0 }
    assert.equal("CLOSED", t:state())
    -- and its next SYN finds the listener
    t:send { flags = "S", abs_seq = fixture.PEER_ISN + 400000, ack = 0 }
    t:expect { flags = "=SA" }
  end)

  it("Figure 11: a half-open connection ends when its data meets the RST", function()
    local net = synfin.sim { latency = 0.01 }
    local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
    local l = b:listen(80)
    b:hook("egress", { flags = "R", count = 1 }, function() return "drop" end) -- the crash's RST is lost
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      s:abort()
      net:sleep(1)
      assert.equal("ESTABLISHED", c:state()) -- half-open: a does not know
      c:send("anyone there?")
      local rst = net:expect({ from = b, flags = "R" }, 1)
      c:wait("CLOSED", 1)
      assert.equal("connection reset", c:info().error)
      assert.is_truthy(rst)
    end)
  end)
end)
