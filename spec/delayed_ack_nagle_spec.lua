-- Delayed ACKs (RFC 9293 §3.8.6.3: SHLD-18, SHLD-19, MUST-40) and the Nagle
-- algorithm (RFC 9293 §3.7.4: SHLD-7, MUST-17), both policies, on the RFC's
-- receive side (fixture.with_window "rfc": delayed_ack 0, ACKs at once,
-- unless a spec sets it; the linux profile's quick-ACK mode and ATO are
-- spec/linux_acks_spec.lua's). RFC 9293 §3.8.6.3 and §3.7.4 with RFC 6298's
-- retransmission timer (RTO at least 1 s, no tail loss probe): the quiet
-- spans below are shorter than it
local fixture = require("synfin.fixture").with_timing("rfc6298").with_window "rfc"

describe("delayed ACK", function()
  it("with delayed_ack = 0 in-order data is ACKed at once", function()
    local t = fixture.at_state("ESTABLISHED")
    local start = t.net:now()
    t:send { seq = 1, payload = "abc" }
    local ack = t:expect { flags = "=A", ack = 4 }
    assert.equal(start, ack.time)
  end)

  it("SHLD-18, MUST-40: with delayed_ack = 0.2 the ACK of one segment comes 0.2 s later", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { delayed_ack = 0.2 } })
    local start = t.net:now()
    t:send { seq = 1, payload = "abc" }
    local ack = t:expect({ flags = "=A", ack = 4 }, 1)
    assert.near(0.2, ack.time - start, 1e-6)
  end)

  it("SHLD-19: at least every second full-sized segment is ACKed at once", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { delayed_ack = 0.2 } })
    local full = ("x"):rep(1460)
    local start = t.net:now()
    t:send { seq = 1, payload = full }
    t:send { seq = 1461, payload = full }
    local ack = t:expect({ flags = "=A", ack = 2921 }, 1)
    assert.equal(start, ack.time)
  end)

  it("the delayed ACK rides on data we send meanwhile", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { delayed_ack = 0.2 } })
    t:send { seq = 1, payload = "ping" }
    t.net:sleep(0.05)
    t.c:send("pong")
    t:expect { flags = "PA", seq = 1, ack = 5, payload = "pong" }
    t:expect_nothing(0.5) -- no separate ACK later
  end)

  it("RFC 5681 §4.2: out-of-order data and data that fills a hole are ACKed at once", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { delayed_ack = 0.2 } })
    local start = t.net:now()
    t:send { seq = 4, payload = "def" }
    assert.equal(start, t:expect({ flags = "=A", ack = 1 }).time)
    t:send { seq = 1, payload = "abc" }
    assert.equal(start, t:expect({ flags = "=A", ack = 7 }).time)
  end)

  it("MUST-40: a delay of 0.5 s or more is refused", function()
    local ok, err = pcall(fixture.new, { settings = { delayed_ack = 0.5 } })
    assert.is_false(ok)
    assert.truthy(err:find("synfin: setting 'delayed_ack' must be below 0.5 s (MUST-40), got 0.5", 1, true), err)
  end)
end)

describe("Nagle", function()
  it("by default small writes go out at once, unacknowledged data or not", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("a")
    t.c:send("b")
    t:expect { flags = "PA", seq = 1, payload = "a" }
    t:expect { flags = "PA", seq = 2, payload = "b" }
  end)

  it("SHLD-7: with nagle = true a small segment waits while data is unacknowledged", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { nagle = true } })
    t.c:send("a")
    t:expect { flags = "PA", seq = 1, payload = "a" }
    t.c:send("b")
    t.c:send("c")
    t:expect_nothing(0.1)
    t:send { flags = "A", ack = 2 } -- the first byte is acknowledged
    t:expect { flags = "PA", seq = 2, payload = "bc" }
  end)

  it("SHLD-7: full-sized segments are never held back", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { nagle = true } })
    t.c:send("a")
    t:expect { seq = 1, len = 1 }
    t.c:send(("y"):rep(1460 + 10))
    t:expect { flags = "A", seq = 2, len = 1460 }
    t:expect_nothing(0.1) -- the 10-byte tail waits
  end)

  it("MUST-17: an application can turn Nagle off on one connection", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { nagle = true } })
    t.c:set { nagle = false }
    t.c:send("a")
    t.c:send("b")
    t:expect { flags = "PA", seq = 1, payload = "a" }
    t:expect { flags = "PA", seq = 2, payload = "b" }
  end)

  it("a FIN is not held back by Nagle", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { nagle = true } })
    t.c:send("a")
    t:expect { seq = 1, len = 1 }
    t.c:send("b")
    t.c:close()
    t:expect { flags = "FPA", seq = 2, payload = "b" }
  end)
end)

describe("ACK aggregation", function()
  it("MUST-59: segments that arrive together are all processed before one ACK answers them", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send_together {
      { seq = 1, payload = "abc" },
      { seq = 4, payload = "def" },
      { seq = 7, payload = "ghi" },
    }
    t:expect { flags = "=A", ack = 10 }
    t:expect_nothing(0.5)
    assert.equal("abcdefghi", t.c:read())
  end)

  it("MUST-59: a queue of unacceptable segments draws one duplicate ACK, not one each", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send_together {
      { seq = 90000, payload = "x" },
      { seq = 90001, payload = "y" },
      { seq = 90002, payload = "z" },
    }
    t:expect { flags = "=A", ack = 1 }
    t:expect_nothing(0.5)
  end)

  it("MUST-58, MUST-59: in the sim, segments reaching a host at the same instant are one batch", function()
    local synfin = require "synfin"
    local net = synfin.sim { latency = 0.01 }
    local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
    local l = b:listen(80)
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send(("q"):rep(3 * 1460)) -- three segments leave together, arrive together
      assert.equal(3 * 1460, #s:recv(3 * 1460, 1))
    end)
    -- no ACK of one or two of the three segments: only of all three
    local acked = {}
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == b.index and r.ack > 1 then acked[r.ack] = true end
    end
    assert.same({ [3 * 1460 + 1] = true }, acked)
  end)
end)
