-- Stack profiles (core/profile.c): `profile = "linux"` (the default),
-- "freebsd" or "rfc" sets the policy values where those stacks differ;
-- settings given beside a profile win over it; a connection's own settings
-- may name another. And the two policies the profiles brought: Nagle's
-- variant (nagle_variant) and data after close (rcv_after_close).
local synfin = require "synfin"
local fixture = require "synfin.fixture"

local MSS = 1460

-- the data segments our host sent since record `from`
local function data_sent(t, from)
  local n = 0
  for i = from, #t.net:records() do
    local r = t.net.recs[i]
    if r.kind == "seg" and r.from == t.us.index and r.len > 0 then n = n + 1 end
  end
  return n
end

-- how many segments a fresh connection sends at once (its initial window)
local function initial_flight(settings)
  local t = fixture.at_state("ESTABLISHED", { settings = settings })
  local from = #t.net:records() + 1
  t.c:send(("i"):rep(30 * MSS))
  t.net:sleep(0)
  return data_sent(t, from)
end

describe("profiles", function()
  it("the default is the linux profile: an initial window of 10 segments (RFC 6928, Linux's TCP_INIT_CWND)", function()
    assert.equal(10, initial_flight())
    assert.equal(10, initial_flight { profile = "linux" })
    assert.equal(10, initial_flight { profile = "freebsd" })
  end)

  it("the rfc profile has RFC 5681 §3.1's initial window: 3 segments of 1460 bytes", function()
    assert.equal(3, initial_flight { profile = "rfc" })
  end)

  -- the time from our data segment to its first retransmission, the peer
  -- silent, on the fixture's zero-latency sim; and the SRTT of its
  -- handshake's one sample (the sim's smallest step)
  local function first_rto(settings)
    local t = fixture.at_state("ESTABLISHED", { settings = settings })
    local srtt = t.c:info().srtt
    t.c:send("x")
    local sent = t:expect { flags = "PA", seq = 1, len = 1 }
    local again = t:expect({ flags = "PA", seq = 1, len = 1 }, 2)
    return again.time - sent.time, srtt
  end

  it("the linux profile times loss as Linux: an RTO of SRTT + 200 ms (TCP_RTO_MIN, __tcp_set_rto); rfc's 1 s", function()
    local rto, srtt = first_rto()
    assert.is_true(srtt < 0.001)
    assert.near(srtt + 0.2, rto, 1e-9)
    rto, srtt = first_rto { profile = "linux" }
    assert.near(srtt + 0.2, rto, 1e-9)
    -- RFC 6298 (2.4): max(SRTT + 4*RTTVAR, 1 s)
    assert.near(1, first_rto { profile = "rfc" }, 1e-9)
    -- freebsd: max(SRTT + 4*RTTVAR, 30 ms) = 30 ms on a path of no delay
    assert.near(0.03, first_rto { profile = "freebsd" }, 1e-9)
  end)

  it("a setting beside the profile wins over it, whatever the table's order", function()
    assert.equal(10, initial_flight { profile = "rfc", initial_window = 10 })
    assert.equal(3, initial_flight { initial_window = 0, profile = "linux" })
  end)

  it("an unknown profile is an error that lists the names", function()
    local net = synfin.sim()
    local ok, err = pcall(net.host, net, "10.0.0.1", { profile = "windows" })
    assert.is_false(ok)
    assert.matches('"linux", "freebsd" or "rfc"', err, 1, true)
  end)

  it("per host and per connection: a FreeBSD host ignores a RST in TIME_WAIT (RFC 1337); a connection set to linux does not", function()
    local t = fixture.at_state("TIME_WAIT", { settings = { profile = "freebsd" } })
    t:send { flags = "R", seq = 2 }
    t:expect_nothing(0.1)
    assert.equal("TIME_WAIT", t:state())

    local u = fixture.at_state("TIME_WAIT", { settings = { profile = "freebsd" } })
    u.c:set { profile = "linux" }
    u:send { flags = "R", seq = 2 }
    u.net:sleep(0)
    assert.equal("CLOSED", u:state())
  end)
end)

describe("Nagle's variant (nagle_variant)", function()
  it("linux (Minshall's, tcp_nagle_check): a write of 1.5 MSS goes whole; a second small one waits for the first's ACK", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { nagle = true } })
    t.c:send(("m"):rep(MSS + 500))
    t:expect { flags = "A", seq = 1, len = MSS }
    t:expect { flags = "PA", seq = 1 + MSS, len = 500 }
    t.c:send(("n"):rep(100))
    t:expect_nothing(0.1) -- the small segment of 500 bytes is unacknowledged
    t:send { flags = "A", ack = 1 + MSS + 500 }
    t:expect { flags = "PA", seq = 1 + MSS + 500, len = 100 }
  end)

  it("rfc (RFC 896, RFC 9293 §3.7.4): the small tail waits while any data is unacknowledged", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { nagle = true, nagle_variant = "rfc" } })
    t.c:send(("m"):rep(MSS + 500))
    t:expect { flags = "A", seq = 1, len = MSS }
    t:expect_nothing(0.1)
    t:send { flags = "A", ack = 1 + MSS }
    t:expect { flags = "PA", seq = 1 + MSS, len = 500 }
  end)
end)

describe("data after close (rcv_after_close)", function()
  it("keep (the default, RFC 9293 §3.10.4): data that comes in FIN_WAIT_1 is received and acknowledged", function()
    local t = fixture.at_state("FIN_WAIT_1")
    t:send { flags = "PA", seq = 1, ack = 1, payload = "late" }
    t:expect { flags = "A", ack = 5 }
    assert.equal("FIN_WAIT_1", t:state())
  end)

  it("reset (RFC 1122 4.2.2.13, the sockets API's close()): new data in FIN_WAIT_1 draws a bare RST from its ACK field", function()
    local t = fixture.at_state("FIN_WAIT_1", { settings = { rcv_after_close = "reset" } })
    t:send { flags = "PA", seq = 1, ack = 1, payload = "late" }
    t:expect { flags = "=R", seq = 1 }
    assert.equal("CLOSED", t:state())
  end)

  it("reset, set on the connection once it is closed: new data in FIN_WAIT_2 draws the RST too, a bare FIN does not", function()
    local t = fixture.at_state("FIN_WAIT_2")
    t.c:set { rcv_after_close = "reset" }
    t:send { flags = "PA", seq = 1, ack = 2, payload = "late" }
    t:expect { flags = "=R", seq = 2 }
    assert.equal("CLOSED", t:state())

    local u = fixture.at_state("FIN_WAIT_2", { settings = { rcv_after_close = "reset" } })
    u:send { flags = "FA", seq = 1, ack = 2 }
    u:expect { flags = "=A", ack = 2 }
    assert.equal("TIME_WAIT", u:state())
  end)
end)
