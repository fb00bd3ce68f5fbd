-- One description of each setting (core/settings.c), read by the binding's
-- parser and listed by synfin.core.settings(): a script can give every
-- setting the table lists, is told the setting's name and range when a
-- value is wrong, and c:set refuses exactly the settings the table says are
-- fixed when the connection is made.
local synfin = require "synfin"
local core = require "synfin.core"

-- A value each kind of setting takes, and one it refuses.
local function good(s)
  if s.type == "time" then return s.name == "rto_max" and 60 or 0.1 end
  if s.type == "integer" or s.type == "isn" then return s.name == "mss" and 1000 or s.lo end
  if s.type == "boolean" or s.type == "keepalive" then return true end
  if s.type == "choice" or s.type == "profile" then return s.choices[#s.choices] end
  if s.type == "secret" then return 7 end
end
local function bad(s)
  if s.type == "time" or s.type == "integer" or s.type == "isn" or s.type == "keepalive" then return s.hi + 1 end
  if s.type == "boolean" then return "yes" end
  if s.type == "choice" or s.type == "profile" then return "nope" end
  if s.type == "secret" then return "short" end
end

local function by_name()
  local t = {}
  for _, s in ipairs(core.settings()) do t[s.name] = s end
  return t
end

describe("the settings table", function()
  it("describes each setting once, with its type, doc and where it applies", function()
    local seen = {}
    for _, s in ipairs(core.settings()) do
      assert.is_nil(seen[s.name], s.name)
      seen[s.name] = true
      assert.is_string(s.doc)
      assert.is_true(#s.doc > 0, s.name)
      assert.is_true(s.where.host, s.name) -- every setting is a host's
    end
    for _, name in ipairs { "msl", "delayed_ack", "keepalive", "mtu", "profile", "secret", "isn" } do
      assert.is_true(seen[name], name)
    end
  end)

  it("each setting it lists is one net:host takes, and a wrong value names it", function()
    for _, s in ipairs(core.settings()) do
      local net = synfin.sim()
      assert.has_no.errors(function() net:host("192.0.2.1", { [s.name] = good(s) }) end, s.name)
      local ok, err = pcall(net.host, net, "192.0.2.2", { [s.name] = bad(s) })
      assert.is_false(ok, s.name)
      assert.matches("synfin: setting '" .. s.name .. "' must be", err, 1, true)
      net:close()
    end
  end)

  it("a setting it does not list is unknown", function()
    local net = synfin.sim()
    assert.has_error(function() net:host("192.0.2.1", { rto_minimum = 1 }) end)
    local sim = core.sim(1)
    local ok, err = pcall(sim.add_host, sim, "192.0.2.1", { rto_minimum = 1 })
    assert.is_false(ok)
    assert.matches("unknown setting 'rto_minimum'", err, 1, true)
  end)

  it("MUST-40: delayed_ack of 0.5 s or more is refused by the core's rule", function()
    local net = synfin.sim()
    local ok, err = pcall(net.host, net, "192.0.2.1", { delayed_ack = 0.5 })
    assert.is_false(ok)
    assert.matches("setting 'delayed_ack' must be below 0.5 s (MUST-40), got 0.5", err, 1, true)
    assert.has_no.errors(function() net:host("192.0.2.1", { delayed_ack = 0.499 }) end)
  end)

  it("RFC 6298: rto_min must be above 0 and at most rto_max", function()
    local net = synfin.sim()
    for _, bad_pair in ipairs { { rto_min = 0 }, { rto_min = 2, rto_max = 1 } } do
      local ok, err = pcall(net.host, net, "192.0.2.1", bad_pair)
      assert.is_false(ok)
      assert.matches("synfin: setting 'rto_min' must be above 0 and at most rto_max", err, 1, true)
    end
  end)

  it("c:set refuses exactly the settings fixed when the connection is made", function()
    local settings = by_name()
    local net = synfin.sim()
    local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
    b:listen(80)
    local c = a:connect("192.0.2.2", 80)
    c:wait("ESTABLISHED", 1)
    local fixed = {}
    for name, s in pairs(settings) do
      if s.where.connect and not s.where["c:set"] then
        fixed[#fixed + 1] = name
        -- another value than the connection's
        local other = name == "mss" and 1000 or 4096
        if s.type == "boolean" then other = false end
        if s.type == "choice" then other = s.choices[1] end -- rcv_window: "rfc", not the default "linux"
        local ok, err = pcall(c.set, c, { [name] = other })
        assert.is_false(ok, name)
        assert.matches("are set when the connection is made", err, 1, true)
      end
    end
    table.sort(fixed)
    assert.are.same({ "mss", "rcv_buf", "rcv_buf_max", "rcv_window", "timestamps", "window_scaling" }, fixed)
    assert.has_no.errors(function() c:set { msl = 1, delayed_ack = 0.1, keepalive = true } end)
    -- a profile named leaves them as they were made
    assert.has_no.errors(function() c:set { profile = "rfc" } end)
  end)

  it("a host's own setting given to listen, connect or c:set is refused, naming where it applies", function()
    local settings = by_name()
    local net = synfin.sim {}
    local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
    local host_only = {}
    for name, s in pairs(settings) do
      if not s.where.listen and not s.where.connect and not s.where["c:set"] and name ~= "backlog" then
        host_only[#host_only + 1] = name
      end
    end
    table.sort(host_only)
    assert.are.same({ "challenge_ack_limit", "isn", "mtu", "quiet_time", "secret" }, host_only)
    local ok, err = pcall(function() b:listen(80, { mtu = 1400 }) end)
    assert.is_false(ok)
    assert.matches("settings_spec.lua:%d+: synfin: setting 'mtu' is not for listen: it applies to net:host$", err)
    b:listen(80)
    ok, err = pcall(a.connect, a, "192.0.2.2", 80, { isn = 7 })
    assert.is_false(ok)
    assert.matches("synfin: setting 'isn' is not for connect: it applies to net:host", err, 1, true)
    local c = a:connect("192.0.2.2", 80)
    c:wait("ESTABLISHED", 1)
    ok, err = pcall(c.set, c, { quiet_time = 1 })
    assert.is_false(ok)
    assert.matches("synfin: setting 'quiet_time' is not for c:set: it applies to net:host", err, 1, true)
  end)
end)
