-- After a retransmission timeout synfin goes back to SND.UNA (RFC 9293
-- §3.10.8) while the peer may already hold everything up to SND.MAX. A
-- segment with no data then carries SND.MAX, never the SND.NXT of the
-- go-back: at SND.NXT it would lie below the peer's RCV.NXT, be found
-- unacceptable (§3.10.7.4, first step) and its ACK never read. Two such
-- stacks each retransmitting stalled forever, each answering the other's
-- ACK with its own.
local fixture = require "synfin.fixture"

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
    t:expect { flags = "=R", seq = 3001 }
  end)

  it("data sent again still starts at SND.UNA", function()
    local t = after_go_back()
    t:send { flags = "A", seq = 1, ack = 1461 } -- the first segment arrived
    t:expect { flags = "A", seq = 1461, len = 1460 }
  end)
end)
