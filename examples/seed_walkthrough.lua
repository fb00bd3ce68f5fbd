-- The whole life of one connection, as the README's claims tell it: the three-way
-- handshake (segments 1-3), some data each way, the four-way close (segments
-- 4-7), every state of both sides, and TIME_WAIT ending after 2*MSL of
-- virtual time.
--
--   synfin examples/seed_walkthrough.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client", msl = 30 })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

net:run(function()
  -- C1: the three-way handshake
  local c = client:connect("192.0.2.2", 80)
  net:expect({ from = client, flags = "=S", label = "segment 1: SYN" }, 1)
  net:expect({ from = server, flags = "=SA", ack = 1, label = "segment 2: SYN+ACK" }, 1)
  net:expect({ from = client, flags = "=A", seq = 1, ack = 1, label = "segment 3: ACK" }, 1)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)

  -- data flows both ways on the established connection
  c:send("GET / HTTP/1.0\r\n\r\n")
  assert(s:recv(18, 1) == "GET / HTTP/1.0\r\n\r\n")
  s:send("HTTP/1.0 200 OK\r\n\r\nhello")
  assert(c:recv(24, 1) == "HTTP/1.0 200 OK\r\n\r\nhello")

  -- C2: the four-way close; the client closes first (active close)
  c:close()
  local fin = net:expect({ from = client, flags = "F", label = "segment 4: FIN" }, 1)
  net:expect({ from = server, flags = "=A", ack = fin.seq + 1, label = "segment 5: ACK of FIN" }, 1)
  s:wait("CLOSE_WAIT", 1)
  c:wait("FIN_WAIT_2", 1)
  assert(s:recv(1, 1) == nil) -- the client's FIN: end of stream
  s:close()
  local fin2 = net:expect({ from = server, flags = "F", label = "segment 6: FIN" }, 1)
  net:expect({ from = client, flags = "=A", ack = fin2.seq + 1, label = "segment 7: ACK of FIN" }, 1)
  c:wait("TIME_WAIT", 1)
  s:wait("CLOSED", 1)
  -- C5: TIME_WAIT lasts 2*MSL (60 s here), then CLOSED
  c:wait("CLOSED", 61)
end)

print(net:trace { ts = false }) -- (the timestamp option, on every segment, left out)
