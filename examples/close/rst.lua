-- A close policy that resets: "rst" turns the application's CLOSE into an
-- ABORT (RFC 9293 §3.10.5). The server answers a request and, after a
-- second of idleness, "closes": one RST goes out instead of a FIN, the
-- server is CLOSED at once, and the client, in ESTABLISHED, drops to CLOSED
-- on the RST (connection reset).
-- Nobody enters TIME_WAIT, nothing waits for an ACK.
--
-- When you want it: a load balancer or proxy that ends idle or finished
-- connections with a RST rather than a FIN, to free its state at once (no
-- FIN_WAIT, no TIME_WAIT); or to test how a client copes with a reset after
-- a complete reply (it may have read the reply, or may lose it if unread).
--
--   synfin examples/close/rst.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)
  s:set_close(function()                     -- the load balancer's way of closing
    net:note("close policy: rst", server)
    return "rst"
  end)

  c:send("request")
  assert(s:recv(7, 1) == "request")
  s:send("reply")
  assert(c:recv(5, 1) == "reply")
  net:sleep(1)                               -- idle: the balancer's idle timeout
  s:close()                                  -- through the policy: RST, not FIN
  net:expect({ from = server, flags = "=RA", seq = 6 }, 1)
  c:wait("CLOSED", 1)
  local data, err = c:recv(1, 1)
  print(("client: recv after the RST -> %s, %s"):format(tostring(data), tostring(err)))
end)

print(net:trace())
