-- Keep-alives (RFC 9293 §3.8.4: MAY-5, MUST-24 to MUST-29, SHLD-12) and the
-- user timeout (RFC 9293 §3.10.8, RFC 5482).
-- RFC 9293 §3.8.4 and §3.10.8 with RFC 6298's retransmission timer (RTO at
-- least 1 s, at most 60 s, no tail loss probe): the times below count in it
-- and the user timeout as §3.10.8 times it (user_timeout_timing = "rfc";
-- the linux profile's timing is spec/user_timeout_linux_spec.lua)
local fixture = require("synfin.fixture").with_timing "rfc6298"
local sm = require "helpers.state_machine"

describe("keep-alives", function()
  it("MUST-25: they are off unless asked for: an idle connection stays silent for days", function()
    local t = fixture.at_state("ESTABLISHED")
    t:expect_nothing(3 * 86400)
    assert.equal("ESTABLISHED", t:state())
  end)

  it("MUST-28: keepalive = true waits two hours of idleness before the first probe", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { keepalive = true } })
    local start = t.net:now()
    local probe = t:expect({ flags = "=A", seq = 0, ack = 1, len = 0 }, 7201)
    assert.near(7200, probe.time - start, 1e-6)
  end)

  it("picotcp#93, SHLD-12, MUST-26, MUST-27: a keep-alive is <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=ACK> with no data; an answer resets it", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { keepalive = 10, keepalive_interval = 2 } })
    local start = t.net:now()
    local p1 = t:expect({ flags = "=A", seq = 0, ack = 1, len = 0 }, 11)
    assert.near(10, p1.time - start, 1e-6)
    t:send { flags = "A", seq = 1, ack = 1 } -- the peer answers
    local p2 = t:expect({ flags = "=A", seq = 0, ack = 1, len = 0 }, 11)
    assert.near(10, p2.time - p1.time, 1e-6) -- idle again from the answer
    assert.equal("ESTABLISHED", t:state())
  end)

  it("MUST-29: unanswered keep-alives end the connection only after keepalive_probes of them", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { keepalive = 10, keepalive_interval = 2, keepalive_probes = 3 } })
    local start = t.net:now()
    for i = 1, 3 do
      local p = t:expect({ flags = "=A", seq = 0, len = 0 }, 11)
      assert.near(10 + 2 * (i - 1), p.time - start, 1e-6)
    end
    -- giving up, it tells the peer, as Linux and FreeBSD do: <SEQ=SND.NXT><CTL=RST>
    local rst = t:expect({ flags = "=RA", seq = 1, len = 0 }, 2.5)
    assert.near(10 + 2 * 3, rst.time - start, 1e-6)
    assert.equal("CLOSED", t:state())
    local r = sm.last_state(t)
    assert.equal("keep-alives unanswered", r.why)
    assert.equal("connection timed out", t.c:info().error)
    t:expect_nothing(5)
  end)

  it("MUST-26: no keep-alive while data is in flight: retransmission is already asking", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { keepalive = 2, retries = 20 } })
    t.c:send("x")
    t:expect { flags = "PA", seq = 1, len = 1 }
    for _ = 1, 3 do t:expect({ flags = "PA", seq = 1, len = 1 }, 10) end -- retransmissions only
  end)

  it("MAY-5, MUST-24: keep-alives are turned on for one connection", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:set { keepalive = 30 }
    t:send { flags = "A", seq = 1, ack = 1 } -- the idle time starts from the peer's last word
    local start = t.net:now()
    local p = t:expect({ flags = "=A", seq = 0, len = 0 }, 31)
    assert.near(30, p.time - start, 1e-6)
  end)

  it("MUST-29: by default nine probes go unanswered before the connection ends", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { keepalive = 10, keepalive_interval = 1 } })
    for _ = 1, 9 do t:expect({ flags = "=A", seq = 0, len = 0 }, 11) end
    assert.equal("ESTABLISHED", t:state())
    t:sleep(1.5)
    assert.equal("CLOSED", t:state())
  end)
end)

describe("the user timeout", function()
  it("RFC 9293 §3.10.8: data unacknowledged for user_timeout aborts with a timeout", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { user_timeout = 5, user_timeout_timing = "rfc" } })
    local start = t.net:now()
    t.c:send("x")
    t:expect { flags = "PA", seq = 1 }
    t:sleep(6)
    assert.equal("CLOSED", t:state())
    local r = sm.last_state(t)
    assert.equal("user timeout", r.why)
    assert.near(5, r.time - start, 1e-6)
    assert.equal("connection timed out", t.c:info().error)
  end)

  it("each acknowledgment that makes progress starts it again; all acknowledged stops it", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { user_timeout = 5, user_timeout_timing = "rfc" } })
    t.c:send("ab")
    t:expect { flags = "PA", seq = 1, len = 2 }
    t:sleep(4)
    t:send { flags = "A", ack = 2 } -- one byte acknowledged at 4 s
    t:sleep(4)
    assert.equal("ESTABLISHED", t:state()) -- 8 s, but progress at 4 s
    t:send { flags = "A", ack = 3 } -- everything acknowledged
    t:sleep(60)
    assert.equal("ESTABLISHED", t:state())
  end)
end)

describe("the user timeout in every state with something outstanding", function()
  for _, case in ipairs {
    { "ESTABLISHED", function(t) t.c:send("x") end },
    { "FIN_WAIT_1" }, -- our FIN is outstanding
    { "CLOSE_WAIT", function(t) t.c:send("x") end },
    { "CLOSING" },
    { "LAST_ACK" },
  } do
    local state, act = case[1], case[2]
    it("RFC 9293 §3.10.8: " .. state .. " -> CLOSED on the user timeout", function()
      local t = fixture.at_state(state, { settings = { user_timeout = 5, user_timeout_timing = "rfc" } })
      if act then act(t) end
      t:sleep(6)
      assert.equal("CLOSED", t:state())
      assert.equal("user timeout", sm.last_state(t).why)
      assert.equal(state, sm.last_state(t).old)
    end)
  end

  it("MUST-29: keep-alives go on in CLOSE_WAIT, and end it when unanswered", function()
    local t = fixture.at_state("CLOSE_WAIT", { settings = { keepalive = 10, keepalive_interval = 1, keepalive_probes = 2 } })
    t:expect({ flags = "=A", seq = 0, ack = 2, len = 0 }, 11)
    t:expect({ flags = "=A", seq = 0, ack = 2, len = 0 }, 2)
    t:expect({ flags = "=RA", seq = 1 }, 1.5)
    assert.equal("CLOSED", t:state())
    assert.equal("keep-alives unanswered", sm.last_state(t).why)
  end)
end)

describe("soft errors (RFC 9293 §3.8.3, §3.9.1.8)", function()
  local function soft(t)
    local n = 0
    for _, r in ipairs(t.net:records()) do
      if r.kind == "note" and r.text == "soft error: retransmissions reached R1" then n = n + 1 end
    end
    return n
  end

  it("MUST-47, SHLD-9, SHLD-10: at R1 = 3 retransmissions the application hears of the delivery problem, before R2 closes", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { retries = 6 } })
    t.c:send("x")
    t:sleep(1 + 2 + 3.5) -- retransmissions at 1, 3 and 7 s
    assert.equal(0, soft(t))
    t:sleep(1)
    assert.equal(1, soft(t)) -- the third, at 7 s
    assert.equal("ESTABLISHED", t:state())
  end)

  it("SHLD-20: the application can turn the reports off", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { soft_errors = false } })
    t.c:send("x")
    t:sleep(20)
    assert.equal(0, soft(t))
  end)

  it("MUST-21: the application sets R2 for its connection", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:set { retries = 1 }
    t.c:send("x")
    t:sleep(4)
    assert.equal("CLOSED", t:state())
    assert.equal("connection timed out", t.c:info().error)
  end)
end)

describe("the user timeout before the connection is up", function()
  it("RFC 9293 §3.10.8: it holds in SYN_SENT too: an unanswered connect ends after user_timeout", function()
    local t = fixture.new { settings = { user_timeout = 5, user_timeout_timing = "rfc" } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    t:sleep(6)
    assert.equal("CLOSED", t:state())
    assert.equal("user timeout", sm.last_state(t).why)
    assert.equal("connection timed out", t.c:info().error)
  end)
end)
