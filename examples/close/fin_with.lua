-- The last data and the FIN in one segment: { fin_with = data } queues data
-- as the connection's last bytes and closes, so that they leave together in
-- one FIN+PSH+ACK segment (FPA, len = the data's length) instead of a data
-- segment followed by a bare FIN.
--
-- Here an HTTP/1.0 server reads the request and closes with its whole
-- response as fin_with: the response and the FIN are segment #6; the client
-- ACKs both at once (ack = 1 + the length + 1 for the FIN), reads the
-- response, sees the end of stream (in HTTP/1.0, the end of the body) and
-- closes; the server, the active closer, ends in TIME_WAIT.
--
-- When you want it: an HTTP/1.0 (or any "the close ends the message")
-- server, which saves a segment and a round trip per response; or to test
-- that a peer handles data and FIN arriving in the same segment.
--
--   synfin examples/close/fin_with.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server", msl = 30 })
local listener = server:listen(80)

local RESPONSE = "HTTP/1.0 200 OK\r\n\r\nhello"

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)
  s:set_close(function()
    net:note("close policy: fin_with the response", server)
    return { fin_with = RESPONSE }
  end)

  c:send("GET / HTTP/1.0\r\n\r\n")
  assert(s:recv(18, 1) == "GET / HTTP/1.0\r\n\r\n")
  s:close()                                  -- the response and the FIN, one segment
  net:expect({ from = server, flags = "=FPA", len = #RESPONSE }, 1)
  assert(c:recv(#RESPONSE, 1) == RESPONSE)
  assert(c:recv(1, 1) == nil)                -- end of stream: the end of the body
  c:close()
  s:wait("TIME_WAIT", 1)
  c:wait("CLOSED", 1)
  s:wait("CLOSED", 61)
end)

print(net:trace())
