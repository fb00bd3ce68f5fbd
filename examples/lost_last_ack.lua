-- Claim C5 (README), why TIME_WAIT lasts 2*MSL: the last ACK (segment 7) may be
-- lost, and TIME_WAIT is there to ACK the FIN the peer then retransmits.
--
--   synfin examples/lost_last_ack.lua
--
-- A normal four-way close, except that an egress hook on the client drops
-- its first ACK sent in TIME_WAIT: segment 7 never reaches the server. The
-- server, in LAST_ACK, hears nothing; after its retransmission timeout it
-- sends its FIN again, with the same sequence number (segment 6 again). The
-- client, still in TIME_WAIT, ACKs it again (segment 7 again) and restarts
-- its 2*MSL timer, so TIME_WAIT ends 2*MSL after the retransmitted FIN, not
-- after the first one. The server gets the ACK and reaches CLOSED. MSL is
-- 10 s here, so TIME_WAIT lasts 20 s.
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client", msl = 10 })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

-- lose segment 7: the client's first ACK sent in TIME_WAIT
client:hook("egress", { flags = "=A", state = "TIME_WAIT", count = 1 }, function()
  net:note("segment 7 is lost", client)
  return "drop"
end)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)

  c:close()
  local fin = net:expect({ from = client, flags = "F", label = "segment 4: FIN" }, 1)
  net:expect({ from = server, flags = "=A", ack = fin.seq + 1, label = "segment 5: ACK of FIN" }, 1)
  s:wait("CLOSE_WAIT", 1)
  s:close()
  local fin2 = net:expect({ from = server, flags = "F", label = "segment 6: FIN" }, 1)
  c:wait("TIME_WAIT", 1) -- the client ACKs the FIN, but that ACK is dropped

  -- the server, in LAST_ACK, retransmits its FIN: same sequence number
  local again = net:expect({ from = server, flags = "F", seq = fin2.seq,
                             label = "segment 6 again: FIN retransmitted after RTO" }, 5)
  assert(s:state() == "LAST_ACK")
  net:expect({ from = client, flags = "=A", ack = again.seq + 1,
               label = "segment 7 again: ACK, 2MSL timer restarted" }, 1)
  s:wait("CLOSED", 1)
  assert(c:state() == "TIME_WAIT")
  c:wait("CLOSED", 21) -- 2*MSL = 20 s after the retransmitted FIN arrived
end)

print(net:trace())
