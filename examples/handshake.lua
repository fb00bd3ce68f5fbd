-- Claim C1 (README), the three-way handshake (segments 1-3), and the first half of
-- C4: a listening server puts its ACK and its own SYN in ONE segment, so
-- opening takes three segments.
--
--   synfin examples/handshake.lua
--
-- The client connects (SYN_SENT) and sends SYN (segment 1). The server's
-- listener makes a child connection in SYN_RCVD and answers with SYN+ACK
-- (segment 2): the ACK acknowledges the client's SYN (ack = 1, because a SYN
-- occupies one sequence number), the SYN offers the server's own sequence
-- numbers. The client ACKs it (segment 3) and is ESTABLISHED; the server is
-- ESTABLISHED when segment 3 arrives.
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  assert(c:state() == "SYN_SENT")

  local syn = net:expect({ from = client, flags = "=S", seq = 0, label = "segment 1: SYN" }, 1)
  -- C4: one segment carries both the server's SYN and its ACK of the client's SYN
  net:expect({ from = server, flags = "=SA", seq = 0, ack = syn.seq + 1,
               label = "segment 2: SYN+ACK (ACK and SYN in one segment)" }, 1)
  net:expect({ from = client, flags = "=A", seq = 1, ack = 1, label = "segment 3: ACK" }, 1)

  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)
  s:wait("ESTABLISHED", 1)
end)

print(net:trace())
