-- A transfer through a bad link: synfin.faults, the netem
-- faults as hook factories.
--
--   synfin examples/faults.lua [--seed N]
--
-- The client sends 6000 bytes (five segments of at most 1460) to the server
-- through a link that delays each of its segments 10 ms ± 5 ms, loses one in
-- five, and holds every third one back 25 ms more, all in one hook
-- (faults.combine: drops first, delays add up). The ladder shows each
-- segment's fate: "dropped by hook 1" for a loss, "delayed ... by hook 1"
-- with the jitter and the reorder. Segments sent later overtake the delayed
-- ones, the server holds what comes past a hole and ACKs RCV.NXT, the client
-- retransmits what was lost, and the stream arrives whole and in order. The
-- draws come from the net's seed, so the same seed gives the same ladder;
-- --seed N shows another run.
local synfin = require "synfin"
local faults = require "synfin.faults"

local net = synfin.sim { seed = 4, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

faults.combine(client, "egress", {
  latency = { delay = 0.010, jitter = 0.005 },   -- netem delay 10ms 5ms
  loss = { p = 0.2 },                            -- netem loss 20%
  reorder = { gap = 3, delay = 0.025 },          -- every 3rd segment 25 ms late
})

local data = ("synfin "):rep(6000 // 7 + 1):sub(1, 6000)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 30)
  local s = listener:accept(30)
  c:send(data)
  assert(s:recv(#data, 60) == data, "the stream arrived altered")
  c:close()
  s:wait("CLOSE_WAIT", 60)
  s:close()
  c:wait("TIME_WAIT", 60)
end)

print(net:trace { notes = false })
