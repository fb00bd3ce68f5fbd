-- The linux profile's ACKs (delayed_ack_variant = "linux", core/quickack.c):
-- quick-ACK mode, the delayed ACK's ATO and interactive mode, as the kernel
-- shows them (a kernel on loopback ACKs 16 small segments at once, then
-- delays the 17th by 40 ms; it delays the ACK of a FIN in ESTABLISHED).
-- After the fixture's handshake our window is 64240 (no window scale: the
-- fixture's peer offers none), our guess at the peer's MSS 536.
local fixture = require "synfin.fixture"

local ATO = 0.04 -- TCP_ATO_MIN, the profile's delayed_ack

-- n small segments from the peer, each answered as `expect` says
local function small(t, n, from)
  for k = 0, n - 1 do
    t:send { flags = "PA", seq = from + 10 * k, payload = ("s"):rep(10) }
    local sent = t.net:now()
    local ack = t:expect { flags = "=A", ack = from + 10 * (k + 1) }
    assert.equal(sent, ack.time, "segment " .. (k + 1) .. " not ACKed at once")
  end
  return from + 10 * n
end

describe("the linux ACK pattern", function()
  it("SHLD-18, quick-ACK mode: the first 16 segments are ACKed at once (64240 / (2 * 536) = 59, at most 16); the 17th waits the ATO", function()
    local t = fixture.at_state("ESTABLISHED")
    local seq = small(t, 16, 1)
    local start = t.net:now()
    t:send { flags = "PA", seq = seq, payload = ("s"):rep(10) }
    t:expect_nothing(ATO - 0.001)
    local ack = t:expect({ flags = "=A", ack = seq + 10 }, 1)
    assert.near(ATO, ack.time - start, 1e-6)
  end)

  it("an idle time longer than the RTO starts quick-ACK mode again (tcp_event_data_recv)", function()
    local t = fixture.at_state("ESTABLISHED")
    local seq = small(t, 16, 1)
    t.net:sleep(1.5) -- the RTO: 1 s, no RTT sample on this connection
    small(t, 1, seq)
  end)

  it("a read that empties the buffer of a small segment sends the pending ACK (__tcp_cleanup_rbuf)", function()
    local t = fixture.at_state("ESTABLISHED")
    local seq = small(t, 16, 1)
    t:send { flags = "PA", seq = seq, payload = "late" }
    t:expect_nothing(0.01)
    assert.equal(("s"):rep(160) .. "late", t.c:read())
    local read = t.net:now()
    local ack = t:expect { flags = "=A", ack = seq + 4 }
    assert.equal(read, ack.time)
  end)

  it("a FIN before any data is ACKed at once (the ATO is still 0)", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "FA", seq = 1 }
    local sent = t.net:now()
    local ack = t:expect { flags = "=A", ack = 2 }
    assert.equal(sent, ack.time)
    assert.equal("CLOSE_WAIT", t:state())
  end)

  it("a FIN after data makes the connection interactive: its ACK waits the ATO (tcp_fin)", function()
    local t = fixture.at_state("ESTABLISHED")
    small(t, 1, 1)
    local start = t.net:now()
    t:send { flags = "FA", seq = 11 }
    t:expect_nothing(ATO - 0.001)
    local ack = t:expect({ flags = "=A", ack = 12 }, 1)
    assert.near(ATO, ack.time - start, 1e-6)
  end)

  it("... so that the application's own FIN carries it when it closes first", function()
    local t = fixture.at_state("ESTABLISHED")
    small(t, 1, 1)
    t:send { flags = "FA", seq = 11 }
    t.net:sleep(0.01)
    t.c:close()
    t:expect { flags = "=FA", ack = 12 }
    t:expect_nothing(0.15) -- no ACK of its own (the FIN's retransmission comes at 0.2 s)
  end)

  it("a reply within the ATO makes it interactive: no quick ACK for the next data; a delayed ACK that fires ends it", function()
    local t = fixture.at_state("ESTABLISHED")
    small(t, 1, 1)
    t.c:send("pong") -- within the ATO of the data: interactive
    t:expect { flags = "=PA", payload = "pong" }
    t:send { flags = "PA", seq = 11, ack = 5, payload = "ping" }
    local start = t.net:now()
    local ack = t:expect({ flags = "=A", ack = 15 }, 1)
    assert.near(ATO, ack.time - start, 1e-6) -- delayed, quick ACKs left notwithstanding
    -- the delayed ACK fired: interactive mode is over, quick ACKs again
    small(t, 1, 15)
  end)
end)
