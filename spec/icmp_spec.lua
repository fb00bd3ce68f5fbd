-- ICMP errors (RFC 9293 §3.9.2.2: MUST-54, MUST-55, MUST-56, SHLD-25,
-- SHLD-26), checked as RFC 5927 advises, and the MSS from the link's MTU
-- (§3.7.1, MUST-67, RFC 1191's "fragmentation needed", RFC 8201's Packet
-- Too Big). Every case with a meaning on both families runs on both
-- (helpers.families), with that family's message for it: ICMP's type 3
-- code 3 is ICMPv6's type 1 code 4 (RFC 4443 §3.1). What only IPv4 has
-- (source quench) is below them; what only IPv6 has, in ipv6_spec.lua.
-- RFC 9293 §3.9.2.2 with RFC 6298's retransmission timer (RTO at least 1 s,
-- no tail loss probe): the quiet spans below are shorter than it.
local families = require "helpers.families"
local sm = require "helpers.state_machine"

-- Each family's messages: type and code (RFC 792, RFC 4443), the name its
-- notes and reasons give the protocol, a router's address.
local MSG = {
  IPv4 = {
    icmp = "ICMP", router = "198.51.100.1",
    port_unreachable = { type = 3, code = 3 },
    -- the other hard error: the protocol is not there
    no_protocol = { type = 3, code = 2 },
    host_unreachable = { type = 3, code = 1 },
    net_unreachable = { type = 3, code = 0 },
    time_exceeded = { type = 11, code = 0 },
    parameter_problem = { type = 12, code = 0 },
    too_big = { type = 3, code = 4 }, -- "fragmentation needed" (RFC 1191)
  },
  IPv6 = {
    icmp = "ICMPv6", router = "2001:db8:ffff::1",
    port_unreachable = { type = 1, code = 4 },
    -- parameter problem, unrecognized next header (RFC 4443 §3.4)
    no_protocol = { type = 4, code = 1 },
    host_unreachable = { type = 1, code = 3 }, -- address unreachable
    net_unreachable = { type = 1, code = 0 },  -- no route
    time_exceeded = { type = 3, code = 0 },
    parameter_problem = { type = 4, code = 0 },
    too_big = { type = 2, code = 0 }, -- Packet Too Big (RFC 8201)
  },
}

local function notes(t, text)
  local n = 0
  for _, r in ipairs(t.net:records()) do
    if r.kind == "note" and r.host == t.us.index and r.text == text then n = n + 1 end
  end
  return n
end

-- The ICMP message m (a MSG entry) about segment seg, from `src` if given.
local function icmp(t, m, seg, extra)
  local msg = { type = m.type, code = m.code, about = seg }
  for k, v in pairs(extra or {}) do msg[k] = v end
  t.them:send_icmp(msg)
end

families.describe("ICMP errors", function(f)
  local fixture = f.fixture.with_timing "rfc6298"
  local m = MSG[f.name]

  it("MUST-54, SHLD-26: a port unreachable about our SYN ends the connect at once: connection refused", function()
    local t = fixture.new {}
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    local syn = t:expect { flags = "=S" }
    icmp(t, m.port_unreachable, syn)
    t.net:sleep(0)
    assert.equal("CLOSED", t:state())
    assert.equal("connection refused", t.c:info().error)
    assert.equal(m.icmp .. " destination unreachable (hard error)", sm.last_state(t).why)
  end)

  it("SHLD-26: the protocol's absence (protocol unreachable, unrecognized next header) about data in flight aborts",
    function()
      local t = fixture.at_state("ESTABLISHED")
      t.c:send("abc")
      local data = t:expect { flags = "PA" }
      icmp(t, m.no_protocol, data, { src = m.router })
      t.net:sleep(0)
      assert.equal("CLOSED", t:state())
      assert.truthy(t.c:info().error)
    end)

  it("MUST-56, SHLD-25: a soft error (host unreachable) is reported, never aborts; the SYN goes on", function()
    local t = fixture.new {}
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    local syn = t:expect { flags = "=S" }
    icmp(t, m.host_unreachable, syn)
    icmp(t, m.net_unreachable, syn, { src = m.router })
    t.net:sleep(0)
    assert.equal("SYN_SENT", t:state())
    assert.equal(2, notes(t, m.icmp .. " destination unreachable (soft error)"))
    t:expect({ flags = "=S", seq = 0 }, 1.5) -- retransmitted as usual
  end)

  it("MUST-56, SHLD-25: time exceeded and parameter problem are soft errors too", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("abc")
    local data = t:expect { flags = "PA" }
    icmp(t, m.time_exceeded, data)
    icmp(t, m.parameter_problem, data)
    t.net:sleep(0)
    assert.equal("ESTABLISHED", t:state())
    assert.equal(1, notes(t, m.icmp .. " time exceeded (soft error)"))
    assert.equal(1, notes(t, m.icmp .. " parameter problem (soft error)"))
  end)

  it("RFC 5927 §4.1: an error quoting a sequence number not in flight is not believed", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("abc")
    local data = t:expect { flags = "PA" }
    local forged = {}
    for k, v in pairs(data) do forged[k] = v end
    forged.abs_seq = data.abs_seq + 100000
    local mark = sm.mark(t)
    icmp(t, m.port_unreachable, forged)
    t.net:sleep(0)
    assert.equal("ESTABLISHED", t:state())
    assert.same({ "icmp_not_in_flight" }, sm.codes(t, mark))
    -- (one reason for both families: its text says "ICMP")
    assert.equal(1, notes(t, "ICMP quoting a sequence number not in flight: ignored"))
  end)

  it("SHLD-20: with soft_errors = false, soft errors are not reported", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { soft_errors = false } })
    t.c:send("abc")
    local data = t:expect { flags = "PA" }
    icmp(t, m.net_unreachable, data)
    t.net:sleep(0)
    assert.equal("ESTABLISHED", t:state())
    assert.equal(0, notes(t, m.icmp .. " destination unreachable (soft error)"))
  end)
end)

families.describe("the MSS and the link's MTU", function(f)
  local fixture = f.fixture.with_timing "rfc6298"
  local m = MSG[f.name]

  it("MUST-67: the MSS announced comes from what the link can receive (MTU less the headers: 40, 60)", function()
    local t = fixture.new { settings = { mtu = 1280 } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    assert.equal(1280 - f.hdrs, t:expect({ flags = "=S" }).mss) -- 1240, 1220 (RFC 8201 §5.1)
  end)

  it("MUST-16, MUST-67: and what we send is bounded by it too", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { mtu = 1280 } })
    t.c:send(("m"):rep(3000))
    assert.equal(1280 - f.hdrs, t:expect({ flags = "A" }).len)
  end)

  it("RFC 1191, RFC 8201: a path MTU below the link's lowers the MSS and sends the lost segment again, smaller",
    function()
      local t = fixture.at_state("ESTABLISHED")
      t.c:send(("m"):rep(3000))
      local big = t:expect { flags = "A", seq = 1, len = f.mss }
      t:skip()
      icmp(t, m.too_big, big, { mtu = 1400, src = m.router })
      local again = t:expect({ flags = "A", seq = 1 }, 0.5)
      assert.equal(1400 - f.hdrs, again.len)
      assert.equal("ESTABLISHED", t:state())
    end)
end)

describe("ICMP errors IPv4 alone has", function()
  local fixture = families.list[1].fixture.with_timing "rfc6298"

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
end)
