-- A lingering close: { linger = s } sends the FIN as usual, but if the FIN
-- is not acknowledged within s seconds the connection is aborted with a RST
-- (SO_LINGER with a timeout, the BSD socket option).
--
-- Here the server replies and closes with linger = 2 just as the client
-- stops acknowledging (its ACKs are lost on the way back, an egress hook
-- drops them: a broken return path). The server's data and FIN go out at
-- t=0.020, the client takes them (CLOSE_WAIT) but its ACKs never arrive; the
-- server retransmits data and FIN at its RTO (Linux's: the 10 ms RTT plus
-- 200 ms, the tail loss probe in its place), again at 420 ms, 840 ms and
-- 1.68 s, and, 2 s after the close (t=2.020), gives up: RST. The client, still in CLOSE_WAIT, is CLOSED
-- by it.
--
-- When you want it: a server that must not keep a dead peer's connection in
-- FIN_WAIT_1 for the whole retransmission schedule (minutes): it lingers a
-- bounded time for the last data to be acknowledged, then frees the
-- connection, accepting that the peer may not have got everything.
--
--   synfin examples/close/linger.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)
  s:set_close(function()
    net:note("close policy: linger 2 s", server)
    return { linger = 2 }
  end)

  c:send("request")
  assert(s:recv(7, 1) == "request")
  -- from now on the client's ACKs never reach the server
  local lost = client:hook("egress", { flags = "A" }, function() return "drop" end)
  s:send("reply")
  s:close()                                        -- FIN, then RST 2 s later if unacknowledged
  assert(c:recv(5, 1) == "reply")
  c:wait("CLOSE_WAIT", 1)
  s:wait("CLOSED", 3)                              -- the linger deadline: RST
  c:wait("CLOSED", 1)
  print(("the client's ACKs dropped: %d"):format(lost.dropped))
end)

print(net:trace())
