-- Claims C2 and C3 (README), CLOSE_WAIT and FIN_WAIT_2: a half-closed connection.
-- A FIN only means "no more data in this direction"; the side that got it
-- may go on sending for as long as it likes.
--
--   synfin examples/half_close.lua
--
-- The client sends its request and closes its direction (FIN, segment 4).
-- The server ACKs the FIN (segment 5) and is in CLOSE_WAIT; the client, its
-- FIN ACKed, is in FIN_WAIT_2. For the next second and a half the server
-- keeps sending: three chunks of its reply, half a second apart. The client,
-- in FIN_WAIT_2, receives and ACKs each one. Then the server closes (FIN,
-- segment 6), the client ACKs it (segment 7) and goes to TIME_WAIT.
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client", msl = 30 })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

local chunks = { "part one;", "part two;", "part three." }

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)

  c:send("request")
  assert(s:recv(7, 1) == "request")

  -- the client closes its direction only
  c:close()
  local fin = net:expect({ from = client, flags = "F", label = "segment 4: FIN" }, 1)
  net:expect({ from = server, flags = "=A", ack = fin.seq + 1, label = "segment 5: ACK of FIN" }, 1)
  s:wait("CLOSE_WAIT", 1)
  c:wait("FIN_WAIT_2", 1)
  assert(s:recv(1, 1) == nil) -- nothing more will come from the client

  -- half-closed: the server keeps sending, the client keeps receiving and ACKing
  local sent = 0
  for i, chunk in ipairs(chunks) do
    net:sleep(0.5)
    s:send(chunk)
    net:expect({ from = server, flags = "=PA", seq = sent + 1, len = #chunk,
                 label = ("data %d in CLOSE_WAIT"):format(i) }, 1)
    sent = sent + #chunk
    net:expect({ from = client, flags = "=A", ack = sent + 1, label = ("ACK %d in FIN_WAIT_2"):format(i) }, 1)
    assert(c:recv(#chunk, 1) == chunk)
    assert(c:state() == "FIN_WAIT_2" and s:state() == "CLOSE_WAIT")
  end

  -- the server is done: now it closes its direction too
  s:close()
  local fin2 = net:expect({ from = server, flags = "F", label = "segment 6: FIN" }, 1)
  net:expect({ from = client, flags = "=A", ack = fin2.seq + 1, label = "segment 7: ACK of FIN" }, 1)
  c:wait("TIME_WAIT", 1)
  s:wait("CLOSED", 1)
  assert(c:recv(1, 1) == nil) -- the server's FIN: end of the reply
  c:wait("CLOSED", 61) -- 2*MSL = 60 s
end)

print(net:trace())
