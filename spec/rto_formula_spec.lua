-- The RTO from RTT samples (policy rto_formula, core/timer.c): RFC 6298's
-- max(SRTT + 4*RTTVAR, rto_min), or Linux's (tcp_rtt_estimator,
-- __tcp_set_rto): SRTT plus a variance term that is itself at least
-- rto_min. Two synfin hosts on a 10 ms link: every sample is 20 ms.
local synfin = require "synfin"

-- A connection from a host with `settings` to a plain host, its handshake
-- done (one sample: SYN to SYN-ACK), then `rounds` exchanges of 100 bytes,
-- each ACKed at once (one sample each). Returns the client's info().
local function after_samples(settings, rounds)
  local net = synfin.sim { latency = 0.01 }
  local a, b = net:host("10.0.0.1", settings), net:host("10.0.0.2", { delayed_ack = 0 })
  local l = b:listen(80)
  local info
  net:run(function()
    local c = a:connect("10.0.0.2", 80)
    c:wait("ESTABLISHED", 1)
    local s = l:accept(1)
    for _ = 1, rounds do
      c:send(("r"):rep(100))
      assert.equal(100, #s:recv(100, 1))
      net:sleep(0.1) -- the ACK is back
    end
    info = c:info()
  end)
  return info
end

describe("rto_formula", function()
  local linux = { rto_formula = "linux", rto_min = 0.2, rto_max = 120 }
  local rfc = { rto_formula = "rfc6298", rto_min = 0.2, rto_max = 120 }

  it("linux: the first sample R = 20 ms gives SRTT + max(2R, rto_min) = 20 + 200 ms, as tcp_set_rto", function()
    -- tcp_rtt_estimator, no previous sample: srtt = R, mdev = 2R = 40 ms,
    -- the variance term max(40 ms, TCP_RTO_MIN 200 ms) = 200 ms;
    -- __tcp_set_rto: 20 + 200 = 220 ms
    local i = after_samples(linux, 0)
    assert.near(0.02, i.srtt, 1e-6)
    assert.near(0.22, i.rto, 1e-6)
  end)

  it("linux: samples of a steady 20 ms keep the term at its floor: 220 ms", function()
    -- each later sample: err = 0, so srtt stays 20 ms and mdev falls by a
    -- quarter (40, 30, 22.5, ... ms); mdev_max, reset to rto_min (200 ms)
    -- at each round's end, stays above it, so the term stays 200 ms
    local i = after_samples(linux, 5)
    assert.near(0.02, i.srtt, 1e-6)
    assert.near(0.22, i.rto, 1e-6)
  end)

  it("rfc6298 with the same floor: max(SRTT + 4*RTTVAR, rto_min) = max(20 + 40 ms, 200 ms) = 200 ms", function()
    -- RFC 6298 (2.2): SRTT = R, RTTVAR = R/2; RTO = 20 + 4*10 = 60 ms,
    -- rounded up to rto_min (2.4): the floor is under the RTO, not the term
    local i = after_samples(rfc, 0)
    assert.near(0.2, i.rto, 1e-6)
    assert.near(0.2, after_samples(rfc, 5).rto, 1e-6)
  end)

  it("linux: a term above the floor, with rto_min = 10 ms: 3R on the first sample (20 + 40 ms)", function()
    -- max(2R, 10 ms) = 40 ms: "make sure rto = 3*rtt" (tcp_rtt_estimator)
    local i = after_samples({ rto_formula = "linux", rto_min = 0.01 }, 0)
    assert.near(0.06, i.rto, 1e-6)
  end)

  it("is a setting with two names", function()
    assert.has_error(function() synfin.sim():host("10.0.0.1", { rto_formula = "bsd" }) end)
  end)
end)

describe("the linux timing of a lost segment (rto_formula = linux, rto_min 200 ms, tail_loss_probe)", function()
  it("probes at the RTO's time in its place, then the RTO after as long again, then doubled", function()
    -- one segment in flight: PTO = 2*SRTT + 200 ms = 240 ms is later than
    -- the RTO (220 ms), so the probe (the segment again) goes at 220 ms and
    -- the RTO is re-armed, not backed off: 440 ms; then 440 + 2*220 ms.
    -- The kernel over TUN shows the same steps (spec/conformance/
    -- differential.md, user_timeout: 0.21, 0.42, 0.83 s)
    local net = synfin.sim { latency = 0.01 }
    local a = net:host("10.0.0.1", { rto_formula = "linux", rto_min = 0.2, tail_loss_probe = true })
    local b = net:host("10.0.0.2", {})
    local l = b:listen(80)
    local times = {}
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 1)
      l:accept(1)
      b:hook("ingress", { flags = "P" }, function() return "drop" end)
      local start = net:now()
      c:send("lost")
      net:sleep(1.5)
      for _, r in ipairs(net:records()) do
        if r.kind == "seg" and r.from == a.index and r.len == 4 then times[#times + 1] = r.time - start end
      end
    end)
    assert.equal(4, #times) -- the first, the probe, two RTOs
    assert.near(0, times[1], 1e-6)
    assert.near(0.22, times[2], 1e-6)
    assert.near(0.44, times[3], 1e-6)
    assert.near(0.88, times[4], 1e-6)
  end)
end)
