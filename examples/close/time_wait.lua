-- TIME_WAIT's length chosen per connection: { time_wait = s } makes the
-- active closer's TIME_WAIT last s seconds instead of 2*MSL (60 s by
-- default); { time_wait = 0 } does away with it: the connection is CLOSED
-- as soon as it has sent the last ACK.
--
-- A busy server closes two connections first (it is the active closer, so
-- TIME_WAIT is its own): the one with "a" with time_wait = 5 (TIME_WAIT from
-- t=0.025 to t=5.025), the one with "b" with time_wait = 0 (TIME_WAIT
-- entered and left at the same instant, t=0.045).
--
-- When you want it: a server (or a proxy, or a client of many short
-- requests) that closes thousands of connections a second holds thousands
-- in TIME_WAIT, each a port pair and some memory, so operators shorten it.
-- But TIME_WAIT has two jobs: answering a retransmitted FIN (when the last
-- ACK was lost) with an ACK rather than a RST, and keeping old duplicates of
-- this connection's segments from being taken into a new connection on the
-- same ports. That is why RFC 9293 §3.6.1 says "When a connection is closed
-- actively, it MUST linger in the TIME-WAIT state for a time 2xMSL"
-- (MUST-13). time_wait = 0 breaks that MUST, and a short TIME_WAIT is only
-- safe when timestamps (RFC 6191) or the ISN clock tell incarnations apart.
-- synfin lets a script do it, so that a test can show what goes wrong.
--
--   synfin examples/close/time_wait.lua
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local a = net:host("192.0.2.1", { name = "a" })
local b = net:host("192.0.2.3", { name = "b" })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

-- client connects from sport; the server closes first with the given
-- TIME_WAIT, the client in turn when it sees the end of the stream
local function serve(client, time_wait, sport)
  local c = client:connect("192.0.2.2", 80, { sport = sport })
  c:wait("ESTABLISHED", 1)
  local s = listener:accept(1)
  s:set_close(function()
    net:note(("close policy: time_wait %g s"):format(time_wait), server)
    return { time_wait = time_wait }
  end)
  s:close()
  c:wait("CLOSE_WAIT", 1)
  c:close()
  return c, s
end

net:run(function()
  local ca, sa = serve(a, 5, 49152)
  local cb, sb = serve(b, 0, 49153)
  cb:wait("CLOSED", 1)
  sb:wait("CLOSED", 1)                        -- no TIME_WAIT to speak of
  ca:wait("CLOSED", 1)
  sa:wait("CLOSED", 6)                        -- 5 s of TIME_WAIT, not 60
end)

print(net:trace())
