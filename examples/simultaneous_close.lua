-- Claim C3 (README), CLOSING: the rare state of a simultaneous close. We sent FIN
-- and, before its ACK came, received the peer's FIN.
--
--   synfin examples/simultaneous_close.lua
--
-- Both applications call close() at the same virtual instant. Both sides go
-- to FIN_WAIT_1 and send FIN; the two FINs cross on the wire. Each FIN
-- arrives at a side whose own FIN is not yet ACKed, so each side goes to
-- CLOSING and ACKs the peer's FIN (ack = that FIN's seq + 1). When each ACK
-- arrives, its receiver goes to TIME_WAIT; both wait 2*MSL, then CLOSED.
-- Neither side passes through FIN_WAIT_2, CLOSE_WAIT or LAST_ACK.
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client", msl = 30 })
local server = net:host("192.0.2.2", { name = "server", msl = 30 })
local listener = server:listen(80)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)

  -- both close at the same instant: neither has seen the other's FIN
  c:close()
  s:close()
  assert(c:state() == "FIN_WAIT_1" and s:state() == "FIN_WAIT_1")
  local cfin = net:expect({ from = client, flags = "F", label = "client's FIN" }, 1)
  local sfin = net:expect({ from = server, flags = "F", label = "server's FIN, crossing it" }, 1)
  -- each FIN arrives before the ACK of its own: both ACK at the same instant, in CLOSING
  net:expect({ from = client, flags = "=A", ack = sfin.seq + 1, label = "client ACKs the server's FIN" }, 1)
  net:expect({ from = server, flags = "=A", ack = cfin.seq + 1, label = "server ACKs the client's FIN" }, 1)
  c:wait("CLOSING", 1)
  s:wait("CLOSING", 1)
  c:wait("TIME_WAIT", 1)
  s:wait("TIME_WAIT", 1)
  c:wait("CLOSED", 61) -- 2*MSL = 60 s
  s:wait("CLOSED", 1)
end)

print(net:trace())
