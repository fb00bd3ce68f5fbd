-- ICMP errors (RFC 9293 §3.9.2.2: MUST-54, MUST-55, MUST-56, SHLD-25,
-- SHLD-26), checked as RFC 5927 advises, and the MSS from the link's MTU
-- (§3.7.1, MUST-67, and RFC 1191's "fragmentation needed").
local fixture = require "synfin.fixture"
local sm = require "helpers.state_machine"

local function notes(t, text)
  local n = 0
  for _, r in ipairs(t.net:records()) do
    if r.kind == "note" and r.host == t.us.index and r.text == text then n = n + 1 end
  end
  return n
end

describe("ICMP errors", function()
  it("MUST-54, SHLD-26: a port unreachable about our SYN ends the connect at once: connection refused", function()
    local t = fixture.new {}
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    local syn = t:expect { flags = "=S" }
    t.them:send_icmp { type = 3, code = 3, about = syn }
    t.net:sleep(0)
    assert.equal("CLOSED", t:state())
    assert.equal("connection refused", t.c:info().error)
    assert.equal("ICMP destination unreachable (hard error)", sm.last_state(t).why)
  end)

  it("SHLD-26: a protocol unreachable about data in flight aborts an established connection", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("abc")
    local data = t:expect { flags = "PA" }
    t.them:send_icmp { type = 3, code = 2, about = data, src = "198.51.100.1" }
    t.net:sleep(0)
    assert.equal("CLOSED", t:state())
    assert.equal("destination unreachable", t.c:info().error)
  end)

  it("MUST-56, SHLD-25: a soft error (host unreachable) is reported, never aborts; the SYN goes on", function()
    local t = fixture.new {}
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    local syn = t:expect { flags = "=S" }
    t.them:send_icmp { type = 3, code = 1, about = syn }
    t.net:sleep(0)
    assert.equal("SYN_SENT", t:state())
    assert.equal(1, notes(t, "ICMP destination unreachable (soft error)"))
    t:expect({ flags = "=S", seq = 0 }, 1.5) -- retransmitted as usual
  end)

  it("MUST-56, SHLD-25: time exceeded and parameter problem are soft errors too", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("abc")
    local data = t:expect { flags = "PA" }
    t.them:send_icmp { type = 11, code = 0, about = data }
    t.them:send_icmp { type = 12, code = 0, about = data }
    t.net:sleep(0)
    assert.equal("ESTABLISHED", t:state())
    assert.equal(1, notes(t, "ICMP time exceeded (soft error)"))
    assert.equal(1, notes(t, "ICMP parameter problem (soft error)"))
  end)

  it("MUST-55: a source quench is silently discarded", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("abc")
    local data = t:expect { flags = "PA" }
    t.them:send_icmp { type = 4, code = 0, about = data }
    t.net:sleep(0)
    assert.equal("ESTABLISHED", t:state())
    assert.equal(1, notes(t, "ICMP source quench ignored (MUST-55)"))
    t:expect_nothing(0.5)
  end)

  it("RFC 5927 §4.1: an error quoting a sequence number not in flight is not believed", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("abc")
    local data = t:expect { flags = "PA" }
    local forged = {}
    for k, v in pairs(data) do forged[k] = v end
    forged.abs_seq = data.abs_seq + 100000
    t.them:send_icmp { type = 3, code = 3, about = forged }
    t.net:sleep(0)
    assert.equal("ESTABLISHED", t:state())
    assert.equal(1, notes(t, "ICMP quoting a sequence number not in flight: ignored"))
  end)

  it("SHLD-20: with soft_errors = false, soft errors are not reported", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { soft_errors = false } })
    t.c:send("abc")
    local data = t:expect { flags = "PA" }
    t.them:send_icmp { type = 3, code = 0, about = data }
    t.net:sleep(0)
    assert.equal(0, notes(t, "ICMP destination unreachable (soft error)"))
  end)
end)

describe("the MSS and the link's MTU", function()
  it("MUST-67: the MSS announced comes from what the link can receive (MTU - 40)", function()
    local t = fixture.new { settings = { mtu = 1280 } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    assert.equal(1240, t:expect({ flags = "=S" }).mss)
  end)

  it("MUST-16, MUST-67: and what we send is bounded by it too", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { mtu = 1280 } })
    t.c:send(("m"):rep(3000))
    assert.equal(1240, t:expect({ flags = "A" }).len)
  end)

  it("RFC 1191: \"fragmentation needed\" lowers the MSS and sends the lost segment again, smaller", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send(("m"):rep(3000))
    local big = t:expect { flags = "A", seq = 1, len = 1460 }
    t:skip()
    t.them:send_icmp { type = 3, code = 4, mtu = 1000, about = big, src = "198.51.100.1" }
    local again = t:expect({ flags = "A", seq = 1 }, 0.5)
    assert.equal(960, again.len)
    assert.equal("ESTABLISHED", t:state())
  end)
end)
