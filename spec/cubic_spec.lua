-- Congestion control, CUBIC (RFC 9438) beside NewReno (RFC 5681, RFC 6582):
-- one loss in a long transfer on a path with a large bandwidth-delay
-- product (0.4 s RTT), the window sampled at every ACK the sender takes.
local synfin = require "synfin"

local MSS = 1448 -- payload per segment with timestamps

-- cwnd and ssthresh (in segments) at each ACK until `until_t`, with the
-- 1500th segment the sender sends dropped once; and the time of the loss.
local function run(cc, until_t)
  local net = synfin.sim { seed = 1, latency = 0.2, payloads = false, records = 1000 }
  local a = net:host("192.0.2.1", { congestion_control = cc, snd_buf = 8 << 20, initial_window = 100 })
  local b = net:host("192.0.2.2", { rcv_buf = 8 << 20 })
  local l = b:listen(80)
  local samples, c = {}, nil
  a:hook("egress", { flags = "A", after = 1500, count = 1 }, function() return "drop" end)
  a:hook("ingress", { flags = "A" }, function(seg)
    if c then
      local i = c:info()
      samples[#samples + 1] = { t = seg.time, cwnd = i.cwnd / MSS, ssthresh = i.ssthresh / MSS }
    end
  end)
  net:run(function()
    c = a:connect("192.0.2.2", 80)
    local s = l:accept(1)
    local chunk = ("x"):rep(1 << 20)
    net:spawn(function()
      while net:now() < until_t do
        c:send(chunk)
        net:sleep(0.05)
      end
    end)
    while net:now() < until_t do
      s:read(1 << 30)
      net:sleep(0.05)
    end
  end)
  net:close()
  return samples
end

-- the window at time t (the last sample before it)
local function at(samples, t)
  local w
  for _, x in ipairs(samples) do
    if x.t > t then break end
    w = x
  end
  return w
end

-- the first sample after the loss: ssthresh has come down
local function after_loss(samples)
  for i, x in ipairs(samples) do
    if x.ssthresh < 1e6 then return x, samples[i - 1] end
  end
end

describe("CUBIC (RFC 9438)", function()
  local cubic
  setup(function() cubic = run("cubic", 20) end)

  it("cuts the window to beta = 0.7 of itself on a loss, where NewReno halves the flight", function()
    local x, before = after_loss(cubic)
    assert.truthy(x)
    assert.near(0.7 * before.cwnd, x.ssthresh, 1) -- RFC 9438 §4.6
    local reno = run("newreno", 9)
    local y, rbefore = after_loss(reno)
    assert.truthy(y.ssthresh < 0.55 * rbefore.cwnd) -- RFC 5681 (4): FlightSize / 2
  end)

  it("grows back concave to the window before the loss, stays near it, then convex past it", function()
    local x, before = after_loss(cubic)
    local w_max = before.cwnd
    -- fast recovery inflates the window by a segment per duplicate ACK; when
    -- it ends the window deflates (RFC 6582 §3.2 (3)), and the stage begins
    local peak, t0 = x
    for _, s in ipairs(cubic) do
      if s.t > x.t and s.t < x.t + 3 and s.cwnd > peak.cwnd then peak = s end
    end
    for _, s in ipairs(cubic) do
      if s.t > peak.t and s.cwnd < 0.85 * w_max then t0 = s.t; break end
    end
    assert.truthy(t0)
    local k = ((w_max - at(cubic, t0).cwnd) / 0.4) ^ (1 / 3) -- RFC 9438 (2), roughly
    -- concave: most of the way back within the first half of K
    assert.is_true(at(cubic, t0 + k / 2).cwnd > at(cubic, t0).cwnd + 0.6 * (w_max - at(cubic, t0).cwnd))
    -- the plateau: within 10 % of W_max around t0 + K
    for _, dt in ipairs { -0.5, 0, 0.5 } do
      local w = at(cubic, t0 + k + dt).cwnd
      assert.is_true(math.abs(w - w_max) < 0.1 * w_max, ("%.1f s after: %.1f vs W_max %.1f"):format(k + dt, w, w_max))
    end
    -- convex: each later second adds more than the one before
    local g1 = at(cubic, t0 + k + 4).cwnd - at(cubic, t0 + k + 3).cwnd
    local g2 = at(cubic, t0 + k + 6).cwnd - at(cubic, t0 + k + 5).cwnd
    assert.is_true(g1 > 0 and g2 > g1, ("growth %.1f then %.1f segments a second"):format(g1, g2))
  end)

  it("is chosen per host, and refused by another name", function()
    local net = synfin.sim()
    assert.truthy(net:host("192.0.2.1", { congestion_control = "cubic" }))
    assert.has_error(function() net:host("192.0.2.2", { congestion_control = "bbr" }) end)
  end)
end)
