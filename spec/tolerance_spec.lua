-- Expectations' time tolerance (net:set_tolerance). Real-time nets
-- (synfin.tun, synfin.raw) give every wait abs + pct of its interval of
-- slack; the sim's virtual clock is exact, so its tolerance is zero and its
-- messages are the ones they always were. The sim can still be given a
-- tolerance, which makes these checks deterministic; spec/interop/
-- tolerance_spec.lua checks a real one against the kernel's timers.
local synfin = require "synfin"

-- A connection whose FIN leaves `delay` seconds after c:close().
local function closing_late(delay, tolerance)
  local net = synfin.sim { latency = 0.005 }
  if tolerance then net:set_tolerance(tolerance) end
  local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
  local l = b:listen(80)
  local c = a:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  l:accept(1)
  c:set_close(function() return { delay_fin = delay } end)
  c:close()
  return net, a, c
end

describe("the tolerance of expectations", function()
  it("is zero on a sim: waits end at their timeout and say so as before", function()
    local net, a = closing_late(1.05)
    assert.same({ abs = 0, pct = 0 }, net:tolerance())
    assert.equal(0, net:slack(10))
    local ok, err = pcall(net.expect, net, { from = a, flags = "F" }, 1)
    assert.is_false(ok)
    assert.matches("timed out after 1 s %(at t=1%.%d+ s%) waiting for { from 192%.0%.2%.1, flags F }", err)
    assert.not_matches("tolerance%)", err)
    -- the FIN comes 0.05 s later, at its time (closed at t=0.015 s)
    assert.near(1.065, net:expect({ from = a, flags = "F" }, 1).time, 1e-9)
  end)

  it("lets net:expect take a segment up to abs + pct of the timeout late", function()
    local net, a = closing_late(1.05, { abs = 0.02, pct = 0.1 })
    assert.near(0.12, net:slack(1), 1e-9)
    local fin = net:expect({ from = a, flags = "F" }, 1) -- 1.05 s: within 1 s + 0.12 s
    assert.near(0.015 + 1.05, fin.time, 1e-9)
  end)

  it("says by how much a wait missed", function()
    local net, a, c = closing_late(1.5, { abs = 0.02, pct = 0.1 })
    local ok, err = pcall(net.expect, net, { from = a, flags = "F" }, 1)
    assert.is_false(ok)
    assert.matches("expected within 1%.000 s %(%+0%.120 s tolerance%), nothing came for 1%.120 s", err)
    ok, err = pcall(c.wait, c, "CLOSED", 0.2)
    assert.is_false(ok)
    assert.matches("to reach CLOSED: expected within 0%.200 s %(%+0%.040 s tolerance%), it had not happened for 0%.240 s", err)
  end)

  it("forgives net:expect_nothing a segment in the last stretch of its window, and says how early one was", function()
    local net, a = closing_late(0.95, { abs = 0.02, pct = 0.1 })
    assert.is_true(net:expect_nothing({ from = a, flags = "F" }, 1)) -- 0.95 s > 1 s - 0.12 s
    local net2, a2 = closing_late(0.63, { abs = 0.02, pct = 0.1 })
    local ok, err = pcall(net2.expect_nothing, net2, { from = a2, flags = "F" }, 1)
    assert.is_false(ok)
    assert.matches("for 1%.000 s %(%-0%.120 s tolerance%), but segment #%d+ came at t=%d%.%d+ s, after 0%.630 s: 0%.370 s early", err)
  end)

  it("holds net:expect_at to its time, give or take the tolerance", function()
    -- exact on a sim without one
    local net, a = closing_late(1)
    local fin = net:expect_at({ from = a, flags = "F" }, net:now() + 1)
    assert.equal("FA", fin.flags)
    -- 0.37 s late, 0.37 s early: both say so
    net, a = closing_late(1.37, { abs = 0.02, pct = 0.1 })
    local ok, err = pcall(net.expect_at, net, { from = a, flags = "F" }, net:now() + 1)
    assert.is_false(ok)
    assert.matches("at t=%d%.%d+ s %(%+/%- 0%.120 s tolerance%), but segment #%d+ came at t=%d%.%d+ s, 0%.370 s late", err)
    net, a = closing_late(0.63, { abs = 0.02, pct = 0.1 })
    ok, err = pcall(net.expect_at, net, { from = a, flags = "F" }, net:now() + 1)
    assert.is_false(ok)
    assert.matches("0%.370 s early", err)
    -- and nothing at all: how long it waited past the time
    net, a = closing_late(5, { abs = 0.02, pct = 0.1 })
    ok, err = pcall(net.expect_at, net, { from = a, flags = "F" }, net:now() + 1)
    assert.is_false(ok)
    assert.matches("nothing came by t=%d%.%d+ s %(1%.120 s late and counting%)", err)
  end)

  it("leaves net:sleep exact", function()
    local net = synfin.sim {}
    net:set_tolerance { abs = 0.5, pct = 0.5 }
    local t0 = net:now()
    net:sleep(1)
    assert.near(1, net:now() - t0, 1e-9)
  end)

  it("checks its arguments", function()
    local net = synfin.sim {}
    assert.has_error(function() net:set_tolerance { abs = -1 } end,
      "bad argument #1 to 'set_tolerance' (tolerance abs must be a number in 0..1e+09, got -1)")
    assert.has_error(function() net:set_tolerance { ms = 1 } end,
      "bad argument #1 to 'set_tolerance' (unknown tolerance field 'ms')")
    -- synfin.tun checks it before it makes a device
    assert.has_error(function() synfin.tun { tolerance = { pct = "10%" } } end,
      "bad argument #1 to 'tun' (tolerance pct must be a number in 0..1e+09, got \"10%\")")
    assert.equal(net, net:set_tolerance { pct = 0.2 })
    assert.same({ abs = 0, pct = 0.2 }, net:tolerance())
  end)

  it("leaves the fixtures' messages as they were", function()
    local fixture = require "synfin.fixture"
    local t = fixture.at_state("ESTABLISHED")
    local ok, err = pcall(t.expect, t, { flags = "F" }, 0.5)
    assert.is_false(ok)
    assert.matches("timed out after 0%.5 s", err)
  end)
end)
