-- A late FIN: { delay_fin = s } closes s seconds after the application's
-- close call. Until then the connection stays as it was (ESTABLISHED here);
-- at close + s the FIN goes out and the close goes on as usual.
--
-- Here a server sends its reply at t=0.020 and closes with delay_fin = 0.5:
-- the FIN leaves at t=0.520. The client has the reply at once but, reading
-- to the end of the stream as an HTTP/1.0 client must, it only knows the
-- reply is complete when the FIN arrives, half a second later.
--
-- When you want it: to model an application or a proxy that closes late
-- (it flushes buffers, waits for its upstream, or closes from a slow event
-- loop), and to test what that costs a client that reads to the end of the
-- stream, or how a peer's FIN_WAIT_2 timeout copes when it closed first.
--
--   synfin examples/close/delay_fin.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server", msl = 30 })
local listener = server:listen(80)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)
  s:set_close(function()
    net:note("close policy: the FIN in 0.5 s", server)
    return { delay_fin = 0.5 }
  end)

  c:send("request")
  assert(s:recv(7, 1) == "request")
  s:send("reply")
  local closed_at = net:now()
  s:close()                                  -- the FIN 0.5 s from now
  assert(c:recv(5, 1) == "reply")
  assert(s:state() == "ESTABLISHED")         -- nothing has changed yet
  local fin = net:expect({ from = server, flags = "F" }, 1)
  print(("close at t=%.3f s, FIN at t=%.3f s"):format(closed_at, fin.time))
  assert(c:recv(1, 1) == nil)                -- only now: the end of the reply
  c:close()
  s:wait("TIME_WAIT", 1)
  c:wait("CLOSED", 1)
  s:wait("CLOSED", 61)
end)

print(net:trace())
