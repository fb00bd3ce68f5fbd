-- A silent close: "silent" forgets the connection on the spot. It is CLOSED
-- at once and nothing is sent, no FIN and no RST, as if the host had
-- crashed and come back (or its connection table was flushed). The peer is
-- not told: it stays ESTABLISHED, and finds out only when it next sends
-- something: the server's host has no connection for that segment any more
-- and answers it with a RST (RFC 9293 §3.5.2, "reset generation"; here the
-- listener on port 80 gets it: an ACK in LISTEN draws a RST).
--
-- Here the server forgets its connection at t=0.025; the client sends more
-- data a second later (t=1.025), draws a RST, and its connection is reset.
--
-- When you want it: to test how a client handles a half-open connection (a
-- server that crashed or rebooted, a NAT or firewall that dropped its
-- state): nothing happens until it talks, then a reset.
--
--   synfin examples/close/silent.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)
  s:set_close(function()                        -- the crash
    net:note("close policy: silent", server)
    return "silent"
  end)

  c:send("request")
  assert(s:recv(7, 1) == "request")
  net:sleep(0.005)                              -- the ACK of the request is in
  s:close()                                     -- CLOSED, nothing sent
  net:expect_nothing({ from = server }, 1)      -- the client hears nothing
  assert(c:state() == "ESTABLISHED")            -- and knows nothing
  c:send("more")                                -- until it talks
  net:expect({ from = server, flags = "=R" }, 1)
  local data, err = c:recv(1, 1)
  print(("client: recv -> %s, %s"):format(tostring(data), tostring(err)))
  assert(c:state() == "CLOSED")
end)

print(net:trace())
