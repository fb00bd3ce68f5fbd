-- Zero-window probing (RFC 9293 §3.8.6.1, MUST-36) and the bugs other stacks
-- shipped around it (picotcp#126, zephyr#47966, #48471,
-- picotcp#107, esp-idf#2425).
local synfin = require "synfin"
-- RFC 9293 §3.8.6.1 with RFC 6298's retransmission timer (RTO at least 1 s,
-- no tail loss probe): the probe times below count in it
local fixture = require("synfin.fixture").with_timing("rfc6298").with_window("rfc").with_rules "rfc"

local function time_of(rec) return rec.time_us / 1e6 end

describe("zero-window probing", function()
  it("MUST-36, SHLD-29: against a zero window we send nothing, then probe with one byte of new data after the RTO", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 0 })
    local start = t.net:now()
    t.c:send("hello")
    local probe = t:expect({ flags = "A", seq = 1, len = 1, payload = "h" }, 1.5)
    assert.near(1.0, time_of(probe) - start, 1e-6)
  end)

  it("MUST-36, SHLD-30: probes back off exponentially and carry the same first unacknowledged byte", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 0 })
    t.c:send("hello")
    local times = {}
    for i = 1, 5 do
      local probe = t:expect({ flags = "A", seq = 1, len = 1, payload = "h" }, 40)
      times[i] = time_of(probe)
      t:send { flags = "A", ack = 1, win = 0 } -- still closed
    end
    for i = 2, 5 do
      assert.near(2 ^ (i - 1), times[i] - times[i - 1], 1e-6)
    end
  end)

  it("MUST-36: when the window opens the rest of the data flows", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 0 })
    t.c:send("hello")
    t:expect({ flags = "A", seq = 1, len = 1 }, 1.5)
    t:send { flags = "A", ack = 2, win = 100 } -- the probe was taken, the window is open
    t:expect { flags = "PA", seq = 2, len = 4, payload = "ello" }
  end)

  it("picotcp#126: a window update that does not take the probe byte sends it again as data", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 0 })
    t.c:send("hello")
    t:expect({ flags = "A", seq = 1, len = 1 }, 1.5)
    t:send { flags = "A", ack = 1, win = 100 } -- window open, probe byte discarded
    t:expect { flags = "PA", seq = 1, len = 5, payload = "hello" }
  end)

  it("MUST-36, MUST-37: probing never gives up while the peer answers", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 0, settings = { retries = 3 } })
    t.c:send("x")
    for _ = 1, 12 do
      t:expect({ flags = "A", seq = 1, len = 1 }, 61)
      t:send { flags = "A", ack = 1, win = 0 }
    end
    assert.equal("ESTABLISHED", t:state())
  end)

  it("picotcp#40: unanswered probes end like retransmissions, with a timeout", function()
    local t = fixture.at_state("ESTABLISHED", { peer_win = 0, settings = { retries = 3 } })
    t.c:send("x")
    for _ = 1, 3 do t:expect({ flags = "A", len = 1 }, 10) end
    t:sleep(10)
    assert.equal("CLOSED", t:state())
    assert.equal("connection timed out", t.c:info().error)
  end)

  it("picotcp#107: while we offer a zero window we still answer probes with an ACK", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 4 } })
    t:send { seq = 1, payload = "abcd" }
    t:expect { flags = "=A", ack = 5, win = 0 }
    t:send { seq = 5, payload = "e" } -- a probe
    t:expect { flags = "=A", ack = 5, win = 0 }
  end)

  it("esp-idf#2425: two zero-window ACKs do not answer each other", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 4 } })
    t:send { seq = 1, payload = "abcd" }
    t:expect { flags = "=A", ack = 5, win = 0 }
    t:send { flags = "A", seq = 5, win = 0 } -- a pure ACK, zero window too
    t:expect_nothing(5)
  end)

  it("a lost window update: the sender's persist timer finds the opened window", function()
    local net = synfin.sim { latency = 0.01 }
    local a, b = net:host("10.0.0.1"), net:host("10.0.0.2", { rcv_buf = 1000 })
    local l = b:listen(80)
    -- the receiver's first window update (after the application reads) is lost
    b:hook("egress", { flags = "=A", count = 1, when = function(seg) return seg.win > 0 and seg.ack > 1000 end },
      function() return "drop" end)
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send(("z"):rep(3000))
      assert.equal(1000, #s:recv(1000, 5)) -- the window closes at 1000 bytes
      assert.equal(2000, #s:recv(2000, 30))
    end)
  end)
end)

describe("the window we offer", function()
  it("regression: a SYN-ACK offers the receive buffer whatever the peer's ISN (ISN above 2^31)", function()
    local t = fixture.at_state("LISTEN", { settings = { rcv_buf = 1000 } })
    t:send { flags = "S", abs_seq = 3000000000, sport = fixture.SPORT, dport = fixture.PORT }
    t:expect { flags = "=SA", win = 1000 }
  end)

  it("regression: data on a SYN-ACK fits the window our SYN offered, whatever the ISNs", function()
    local t = fixture.new { settings = { rcv_buf = 1000 } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    t:expect { flags = "=S", win = 1000 }
    t:send { flags = "SA", abs_seq = 4000000000, ack = 1, payload = "hi" }
    t:expect { flags = "=A", seq = 1, ack = 3, win = 998 }
  end)
end)

describe("a window shrunk to zero with data in flight", function()
  it("MUST-35, SHLD-17: it is probed, not timed out, for as long as the peer answers", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { retries = 3 } })
    t.c:send(("d"):rep(1000))
    t:expect { flags = "PA", seq = 1, len = 1000 }
    t:send { flags = "A", ack = 1, win = 0 } -- the window shrinks to zero, nothing acknowledged
    for _ = 1, 8 do
      t:expect({ flags = "A", seq = 1, len = 1, payload = "d" }, 61) -- probes, one byte at SND.UNA
      t:send { flags = "A", ack = 1, win = 0 }
    end
    assert.equal("ESTABLISHED", t:state())
    t:send { flags = "A", ack = 1, win = 2000 } -- it opens: everything goes again
    t:expect { flags = "PA", seq = 1, len = 1000 }
  end)
end)

describe("receiver silly window syndrome avoidance", function()
  it("MUST-39: small reads do not open the window; once min(RCV.BUFF/2, MSS) is free, a window update goes", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 1000 } })
    t:send { seq = 1, payload = ("a"):rep(1000) }
    t:expect { flags = "=A", ack = 1001, win = 0 }
    assert.equal(10, #t.c:read(10))        -- 10 bytes free: not enough
    t:expect_nothing(0.1)
    t:send { seq = 1001, payload = "z" }    -- the peer's zero-window probe
    t:expect { flags = "=A", ack = 1001, win = 0 } -- still zero: no small opening leaks out
    assert.equal(490, #t.c:read(490))      -- 500 free: RCV.BUFF / 2
    t:expect { flags = "=A", ack = 1001, win = 500 }
  end)
end)
