-- Closing from a state callback: c:on("state", fn) calls fn(old, new,
-- record) on each state change of the connection, from the scenario's loop
-- (never inside the core), and fn may act on the connection. Here the
-- server closes as soon as the client's FIN arrives: its callback sees
-- ESTABLISHED -> CLOSE_WAIT and calls close, so CLOSE_WAIT -> LAST_ACK
-- happens at the same instant (t=0.020): the server's ACK of the FIN (#5,
-- sent by the core on the FIN's arrival) and its own FIN (#6) leave one
-- after the other, and the scenario itself never waits for CLOSE_WAIT.
--
-- When you want it: a server with nothing more to say once the client is
-- done (the client's FIN ends the request: a simple request/response or an
-- echo server), which should not leave connections lingering in CLOSE_WAIT
-- (the classic leak of an application that forgets to close). The same
-- callbacks can log transitions, count them, or abort on one.
--
--   synfin examples/close/on_state.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client", msl = 30 })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)
  s:on("state", function(old, new, record)
    print(("server: %s -> %s at t=%.3f s (%s)"):format(old, new, record.time, record.why))
    if new == "CLOSE_WAIT" then s:close() end   -- the client is done: so are we
  end)

  c:close()                                     -- the client closes first
  c:wait("TIME_WAIT", 1)                        -- the server's FIN came with no help
  s:wait("CLOSED", 1)
  c:wait("CLOSED", 61)
end)

print(net:trace())
