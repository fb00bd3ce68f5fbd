-- A close policy that only watches: it logs each close and returns "fin",
-- the RFC's CLOSE (RFC 9293 §3.10.4). The server answers a request and
-- closes; its policy prints who closed and when, then the ordinary four-way
-- close follows: FIN, ACK, FIN, ACK, and the server (the active closer) waits
-- 2*MSL in TIME_WAIT.
--
-- When you want it: to trace or count the closes of an application without
-- changing what goes on the wire (returning nothing does the same).
--
--   synfin examples/close/fin.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server", msl = 30 })
local listener = server:listen(80)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)
  s:set_close(function(conn, event)
    print(("policy: %s closes (%s) at t=%.3f s in %s: FIN"):format(conn:describe(), event.reason,
      net:now(), conn:state()))
    net:note("close policy: fin", server)     -- the log in the ladder too
    return "fin"
  end)

  c:send("request")
  assert(s:recv(7, 1) == "request")
  s:send("reply")
  assert(c:recv(5, 1) == "reply")
  s:close()                                   -- through the policy: an ordinary FIN
  net:expect({ from = server, flags = "=FA" }, 1)
  c:wait("CLOSE_WAIT", 1)
  assert(c:recv(1, 1) == nil)                 -- the server's FIN: end of stream
  c:close()
  s:wait("TIME_WAIT", 1)
  c:wait("CLOSED", 1)
  s:wait("CLOSED", 61)                        -- 2*MSL = 60 s
end)

print(net:trace())
