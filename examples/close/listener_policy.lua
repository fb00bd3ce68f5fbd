-- A listener's close policy: host:listen(port, { close = policy }) gives the
-- policy to every connection the listener accepts, so a server's close
-- behaviour is set once, where it listens, rather than on each connection.
-- The policy is called with each connection as it closes, and can tell them
-- apart (here it counts and logs them).
--
-- Here the policy's decision combines two keys: each connection's last
-- bytes ("bye\n") go with its FIN in one segment (fin_with), and its
-- TIME_WAIT lasts 1 s instead of 60 (time_wait; against RFC 9293's MUST-13,
-- see time_wait.lua). Two clients connect; the server answers each with the
-- same behaviour: an FPA of 4 bytes, then TIME_WAIT of 1 s.
--
-- When you want it: a whole service with one close behaviour (an HTTP/1.0
-- server sending each response with the FIN, a proxy resetting every
-- connection it ends) without touching the code that handles each one.
--
--   synfin examples/close/listener_policy.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server" })

local closed = 0
local listener = server:listen(80, {
  close = function(c, event)
    closed = closed + 1
    print(("policy: close #%d of %s (%s)"):format(closed, c:describe(), event.reason))
    net:note(("close policy: #%d, fin_with and time_wait 1 s"):format(closed), server)
    return { fin_with = "bye\n", time_wait = 1 }
  end,
})

net:run(function()
  for sport = 49152, 49153 do
    local c = client:connect("192.0.2.2", 80, { sport = sport })
    c:wait("ESTABLISHED", 1)
    local s = listener:accept(1)                -- with the listener's policy
    s:close()                                   -- "bye\n" and the FIN
    assert(c:recv(4, 1) == "bye\n")
    assert(c:recv(1, 1) == nil)
    c:close()
    s:wait("TIME_WAIT", 1)
    s:wait("CLOSED", 2)                         -- after 1 s of TIME_WAIT
  end
  assert(closed == 2)
end)

print(net:trace())
