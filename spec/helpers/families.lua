--- Runs a block of specs once per address family, the addresses (and what
-- follows from the family) as parameters: the same scenarios over IPv4 and
-- IPv6, never a copy of them.
--
--   local families = require "helpers.families"
--   families.describe("RFC 5961 challenge ACKs", function(f)
--     local fixture = f.fixture      -- synfin.fixture on f's addresses
--     ...
--   end)
--
-- f.name ("IPv4", "IPv6"), f.us and f.them (the fixture's pair), f.a and
-- f.b (a client's and a server's), f.hdrs (IP and TCP headers without
-- options: 40, 60) and f.mss (what a 1500-byte link carries: 1460, 1440);
-- f.min_mtu (the datagram every host takes: 576, RFC 791; 1280, RFC 8200
-- §5), so that f.min_mtu - f.hdrs is the send MSS assumed without an MSS
-- option (RFC 9293 §3.7.1: 536, 1220);
-- f.tun: a TUN device's addresses in the interop specs (kernel, synfin);
-- f.veth: a veth pair's in the raw driver's (kernel, synfin, and nobody: an
-- address of the subnet no one has);
-- f.fixture is synfin.fixture with f's addresses by default; f.example(path)
-- runs an example (helpers.example) with its IPv4 addresses replaced by f's.
local fixture = require "synfin.fixture"
local example = require "helpers.example"

local families = {}

families.list = {
  { name = "IPv4", us = fixture.US, them = fixture.THEM, a = "192.0.2.1", b = "192.0.2.2", hdrs = 40, mss = 1460, min_mtu = 576,
    tun = { kernel = "10.73.0.1", synfin = "10.73.0.2" },
    veth = { kernel = "10.74.0.1", synfin = "10.74.0.2", nobody = "10.74.0.9" } },
  { name = "IPv6", us = "2001:db8::1", them = "2001:db8::2", a = "2001:db8::1", b = "2001:db8::2", hdrs = 60,
    mss = 1440, min_mtu = 1280, tun = { kernel = "fd00:73::1", synfin = "fd00:73::2" },
    veth = { kernel = "fd00:74::1", synfin = "fd00:74::2", nobody = "fd00:74::9" } },
}

-- synfin.fixture (or base, one of its with_timing/with_window variants), its pair at
-- f's addresses unless opts names others
local function fixture_of(f, base)
  base = base or fixture
  local function with(opts)
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.us, o.them = o.us or f.us, o.them or f.them
    return o
  end
  return setmetatable({
    new = function(opts) return base.new(with(opts)) end,
    at_state = function(state, opts) return base.at_state(state, with(opts)) end,
    with_timing = function(name) return fixture_of(f, base.with_timing(name)) end,
    with_window = function(name) return fixture_of(f, base.with_window(name)) end,
    US = f.us, THEM = f.them,
  }, { __index = base })
end

for _, f in ipairs(families.list) do
  f.fixture = fixture_of(f)
  -- the examples are written with 192.0.2.1 and 192.0.2.2
  f.example = function(path)
    local run = example.run(path, nil, { ["192.0.2.1"] = f.a, ["192.0.2.2"] = f.b })
    -- (a scenario that named no address we know would run at IPv4 twice)
    for _, h in ipairs(run.net.hosts) do
      assert(h.addr == f.a or h.addr == f.b, ("%s: host at %s, not at %s or %s"):format(path, h.addr, f.a, f.b))
    end
    return run
  end
end

-- The environment of the function `level` calls up (busted runs a spec
-- file in its own, where describe lives).
local function env_of(level)
  local fn = debug.getinfo(level + 1, "f").func
  for i = 1, 255 do
    local name, value = debug.getupvalue(fn, i)
    if name == nil then break end
    if name == "_ENV" then return value end
  end
  return _G
end

--- describe(title .. " (IPv4)", ...) and describe(title .. " (IPv6)", ...),
-- body(f) building each.
function families.describe(title, body)
  local describe = env_of(2).describe
  for _, f in ipairs(families.list) do
    describe(("%s (%s)"):format(title, f.name), function() body(f) end)
  end
end

return families
