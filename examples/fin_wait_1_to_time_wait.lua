-- Claim C3 (README), FIN_WAIT_1 straight to TIME_WAIT: if, in FIN_WAIT_1, one
-- segment arrives carrying both the peer's FIN and the ACK of our FIN, the
-- connection goes to TIME_WAIT without passing through FIN_WAIT_2.
--
--   synfin examples/fin_wait_1_to_time_wait.lua
--
-- The client closes first and sends FIN (segment 4). The server ACKs it at
-- once, but an egress hook on the server drops that pure ACK (segment 5), so
-- the client never sees it and stays in FIN_WAIT_1. The server's application
-- closes right away, so its FIN (segment 6) also carries the ACK of the
-- client's FIN (ack = the FIN's seq + 1). That one segment takes the client
-- from FIN_WAIT_1 to TIME_WAIT; it ACKs the server's FIN (segment 7).
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client", msl = 30 })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

-- lose segment 5: the server's pure ACK of the client's FIN
server:hook("egress", { flags = "=A", state = "CLOSE_WAIT", count = 1 }, function()
  net:note("segment 5 is lost", server)
  return "drop"
end)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)

  c:close()
  local fin = net:expect({ from = client, flags = "F", label = "segment 4: FIN" }, 1)
  s:wait("CLOSE_WAIT", 1)  -- the server's ACK of that FIN was dropped
  s:close()                -- the server closes at once: its FIN carries the ACK
  local fin2 = net:expect({ from = server, flags = "=FA", ack = fin.seq + 1,
                            label = "segment 6: FIN, with the ACK of segment 4" }, 1)
  net:expect({ from = client, flags = "=A", ack = fin2.seq + 1, label = "segment 7: ACK of FIN" }, 1)
  c:wait("TIME_WAIT", 1)   -- from FIN_WAIT_1, skipping FIN_WAIT_2
  s:wait("CLOSED", 1)
  c:wait("CLOSED", 61)     -- 2*MSL = 60 s
end)

print(net:trace())
