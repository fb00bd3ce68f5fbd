--- What many specs start from: two synfin hosts on a sim.
local synfin = require "synfin"

local scenario = {}

scenario.A, scenario.B = "192.0.2.1", "192.0.2.2"

--- Two synfin hosts a (192.0.2.1) and b (192.0.2.2), 5 ms apart unless opts
-- (synfin.sim's) say otherwise, b listening on port 80.
-- @treturn net, a, b, the listener
function scenario.pair(opts)
  local net = synfin.sim(opts or { latency = 0.005 })
  local a, b = net:host(scenario.A), net:host(scenario.B)
  return net, a, b, assert(b:listen(80))
end

return scenario
