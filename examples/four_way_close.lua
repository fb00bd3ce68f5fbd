-- Claim C2 (README), the four-way close (segments 4-7), and the second half of C4:
-- why closing takes four segments when opening takes three.
--
--   synfin examples/four_way_close.lua
--
-- The client closes first (active close) and sends FIN (segment 4): no more
-- data from client to server. The server ACKs it at once (segment 5, ack =
-- the FIN's seq + 1, since a FIN occupies one sequence number) and is in
-- CLOSE_WAIT. Its application still has a reply to send, so it cannot send
-- its own FIN yet: the reply goes out first, then the server closes and sends
-- FIN (segment 6). The client ACKs that FIN (segment 7, again seq + 1) and
-- waits 2*MSL in TIME_WAIT. The ACK of a FIN and the FIN going back are two
-- segments because the data in between has to fit between them.
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client", msl = 30 })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)

  -- the client sends its request and closes its direction (active close)
  c:send("request")
  assert(s:recv(7, 1) == "request")
  c:close()
  local fin = net:expect({ from = client, flags = "F", label = "segment 4: FIN" }, 1)
  net:expect({ from = server, flags = "=A", ack = fin.seq + 1, label = "segment 5: ACK of FIN" }, 1)
  s:wait("CLOSE_WAIT", 1)
  c:wait("FIN_WAIT_2", 1)
  assert(s:recv(1, 1) == nil) -- the client's FIN: end of the request stream

  -- the server still has data to send: its reply goes out after the FIN came
  s:send("reply")
  net:expect({ from = client, flags = "=A", ack = 6 }, 1) -- the client ACKs the reply
  assert(c:recv(5, 1) == "reply")

  -- only now does the server close and send its own FIN (passive close)
  s:close()
  local fin2 = net:expect({ from = server, flags = "F", label = "segment 6: FIN" }, 1)
  net:expect({ from = client, flags = "=A", ack = fin2.seq + 1, label = "segment 7: ACK of FIN" }, 1)
  c:wait("TIME_WAIT", 1)
  s:wait("CLOSED", 1)
  c:wait("CLOSED", 61) -- 2*MSL = 60 s
end)

print(net:trace())
