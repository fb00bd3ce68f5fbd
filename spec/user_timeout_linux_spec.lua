-- The user timeout as Linux times it (user_timeout_timing = "linux", the
-- linux profile's): checked only when the retransmission timer fires
-- (tcp_write_timeout), counted from the first retransmission by timer
-- (retrans_stamp; a tail loss probe is not one), the timer clamped to the
-- time left (tcp_clamp_rto_to_user_timeout). The kernel over TUN, with a
-- 0.8 s TCP_USER_TIMEOUT and a lost write, sends at 0, 0.21 (the probe),
-- 0.42 (the first RTO: the timeout starts), 0.85, and reports ETIMEDOUT at
-- 1.23 s (spec/interop/socket_scenarios.lua's user_timeout). The rfc
-- timing (RFC 9293 §3.10.8) ends the connection at 0.8 s exactly:
-- spec/keepalive_spec.lua.
local synfin = require "synfin"
local sm = require "helpers.state_machine"

-- A connection from a host with `settings` to a peer that drops all data,
-- a write of 4 bytes at t = 0 and `span` seconds of its life: the times
-- of the data segments it sent, when it closed and why.
local function lost_write(settings, span)
  local net = synfin.sim { latency = 0 }
  local a = net:host("10.0.0.1", settings)
  local b = net:host("10.0.0.2", {})
  local l = b:listen(80)
  local sent, c, start = {}, nil, nil
  net:run(function()
    c = a:connect("10.0.0.2", 80)
    c:wait("ESTABLISHED", 1)
    l:accept(1)
    b:hook("ingress", { flags = "P" }, function() return "drop" end)
    start = net:now()
    c:send("lost")
    net:sleep(span)
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == a.index and r.len == 4 then sent[#sent + 1] = r.time - start end
    end
  end)
  local closed = sm.last_state { net = net, us = a }
  return sent, c, closed and closed.new == "CLOSED" and closed.time - start, closed and closed.why
end

describe("the user timeout timed as Linux's (user_timeout_timing = linux)", function()
  it("is the linux profile's: a 0.8 s timeout starts at the first RTO (0.4 s), one more at 0.8 s, ETIMEDOUT at 1.2 s", function()
    local sent, c, closed_at, why = lost_write({ user_timeout = 0.8 }, 2)
    -- the write, the tail loss probe (0.2 s: not a retransmission by
    -- timer), the first RTO (0.4 s), the RTO doubled (0.8 s)
    assert.equal(4, #sent)
    for i, want in ipairs { 0, 0.2, 0.4, 0.8 } do assert.near(want, sent[i], 1e-5) end
    -- the next RTO (0.8 s later, 1.6 s) clamped to the timeout's end,
    -- 0.4 + 0.8 s, where the check ends it, sending nothing
    assert.near(1.2, closed_at, 1e-5)
    assert.equal("user timeout", why)
    assert.equal("connection timed out", c:info().error)
  end)

  it("the rfc timing ends it at 0.8 s exactly (RFC 9293 §3.10.8), without the last retransmission", function()
    local sent, _, closed_at, why = lost_write({ user_timeout = 0.8, user_timeout_timing = "rfc" }, 2)
    assert.equal(3, #sent)
    assert.near(0.8, closed_at, 1e-5)
    assert.equal("user timeout", why)
  end)

  it("replaces the retry limit, as Linux's replaces tcp_retries2: retries = 1 does not end it before the timeout", function()
    local sent, _, closed_at, why = lost_write({ user_timeout = 3, retries = 1 }, 6)
    -- RTOs at 0.4, 0.8, 1.6, 3.2 (0.4 + 3 s: the timer clamped from 4.8
    -- to 3.4), then 3.4: the end
    for i, want in ipairs { 0, 0.2, 0.4, 0.8, 1.6, 3.2 } do assert.near(want, sent[i], 1e-4) end
    assert.equal(6, #sent)
    assert.near(3.4, closed_at, 1e-4)
    assert.equal("user timeout", why)
    -- without a user timeout, the retry limit ends it at the second RTO
    local _, _, r_closed, r_why = lost_write({ retries = 1 }, 6)
    assert.near(0.8, r_closed, 1e-5)
    assert.equal("retries exhausted", r_why)
  end)

  it("an acknowledgment that makes progress starts it again from the next retransmission", function()
    local net = synfin.sim { latency = 0 }
    local a = net:host("10.0.0.1", { user_timeout = 0.8 })
    local b = net:host("10.0.0.2", {})
    local l = b:listen(80)
    local c
    net:run(function()
      c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 1)
      l:accept(1)
      local drop = true
      b:hook("ingress", { flags = "P" }, function() if drop then return "drop" end end)
      c:send("ab")
      net:sleep(0.6) -- the timeout started at the RTO, 0.4 s
      drop = false -- the retransmission at 0.8 s gets through and is acknowledged
      net:sleep(0.4)
      assert.equal(0, c:info().snd_queued)
      drop = true
      c:send("cd") -- at 1.0 s, lost again
      net:sleep(2)
    end)
    local sent = {}
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == a.index and r.len == 2 then sent[#sent + 1] = r.time end
    end
    local closed = sm.last_state { net = net, us = a }
    -- "ab": 0, the probe, the RTO that starts the timeout (0.4 s), the RTO
    -- at 0.8 s that gets through; "cd": 1.0, its probe, its first RTO at
    -- 2.0 s (the RTO still backed off: Karn), which starts the timeout
    -- again: the end at 2.8 s, not at 2.0 s as counted from 0.4 s
    for i, want in ipairs { 0, 0.2, 0.4, 0.8, 1.0, 1.2, 2.0 } do assert.near(want, sent[i], 1e-4) end
    assert.equal(7, #sent)
    assert.near(2.8, closed.time, 1e-4)
    assert.equal("user timeout", closed.why)
  end)
end)

describe("the user timeout timed as Linux's, against a zero window", function()
  it("counts from the first probe timer, answered or not; the probe timer is clamped to its end", function()
    local net = synfin.sim { latency = 0 }
    local a = net:host("10.0.0.1", { user_timeout = 1 })
    local b = net:host("10.0.0.2", { rcv_buf = 1000 })
    local l = b:listen(80)
    local c
    net:run(function()
      c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 1)
      l:accept(1) -- it reads nothing: the window closes after 1000 bytes and stays closed
      c:send(("x"):rep(2000))
      net:sleep(3)
    end)
    local probes = {}
    for _, r in ipairs(net:records()) do
      -- the linux profile's probes (zero_window_probe): ACKs without data at
      -- SND.UNA - 1, the only bare ACKs we send after the data at 0 s
      if r.kind == "seg" and r.from == a.index and r.len == 0 and r.time > 0 then probes[#probes + 1] = r.time end
    end
    -- probes at 0.2 s (the first probe timer: the timeout starts), 0.6 s,
    -- then 1.2 s clamped from 1.4 s: the end, without a probe; the peer
    -- answered the first with its closed window (the second, 0.4 s later,
    -- falls within its 0.5 s limit on ACKs to out-of-window ACKs)
    for i, want in ipairs { 0.2, 0.6 } do assert.near(want, probes[i], 1e-4) end
    assert.equal(2, #probes)
    local closed = sm.last_state { net = net, us = a }
    assert.near(1.2, closed.time, 1e-4)
    assert.equal("user timeout", closed.why)
  end)
end)
