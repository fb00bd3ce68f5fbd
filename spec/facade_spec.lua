-- The socket facade (kernel.sim, synfin.facade): the scenarios that
-- spec/interop/kernel_api_spec.lua runs against the Linux kernel over TUN
-- (spec/interop/socket_scenarios.lua), run against a synfin host in the
-- sim, in virtual time, by changing the net. Where synfin differs from
-- what the kernel does, `differs` says what synfin does instead, and why:
-- the scenario asserts that, and the kernel's value stays beside it.
local synfin = require "synfin"
local kernel = require "synfin.kernel"
local scenarios = require "interop.socket_scenarios"

-- What synfin does where the kernel does otherwise (the kernel's, in the
-- scenarios, after `or`).
local DIFFERS = {
  -- synfin's RECEIVE takes what it reads: there is no peeking, and the
  -- facade does not fake one (reading into a buffer of its own would open
  -- the window as the kernel's MSG_PEEK does not). The kernel: "pe", then
  -- "peek", the data left in place.
  msg_peek = "EOPNOTSUPP",
}

local function setup(settings)
  local net = synfin.sim { latency = 0 }
  local sut = net:host("10.73.0.1", { name = "synfin (sockets)" })
  settings = settings or {}
  settings.name = "synfin"
  local peer = net:host("10.73.0.2", settings)
  local k = kernel.sim(net, sut)
  return { net = net, peer = peer, k = k, sut = sut, differs = DIFFERS }
end

describe("the kernel's socket calls on a synfin host in the sim (kernel.sim)", function()
  for _, s in ipairs(scenarios.list) do
    it(s.title, function() s.fn(setup) end)
  end
end)
