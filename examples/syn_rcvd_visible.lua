-- Claim C3 (README), SYN_RCVD made visible. Normally the server passes through
-- SYN_RCVD in one round trip; here the client withholds the handshake's last
-- ACK (segment 3), so the server sits in SYN_RCVD.
--
--   synfin examples/syn_rcvd_visible.lua
--
-- An egress hook on the client drops its first pure ACK sent in ESTABLISHED:
-- segment 3. The server, still in SYN_RCVD, hears nothing; after its
-- retransmission timeout (RTO, 1 s by default) it sends its SYN+ACK again,
-- with the same sequence number. The client, already ESTABLISHED, answers the
-- duplicate SYN+ACK with an ACK; this one passes, and the server becomes
-- ESTABLISHED at last.
local synfin = require "synfin"

local net = synfin.sim { seed = 1, latency = 0.005 }
local client = net:host("192.0.2.1", { name = "client" })
local server = net:host("192.0.2.2", { name = "server" })
local listener = server:listen(80)

-- withhold segment 3: the first pure ACK the client sends once ESTABLISHED
client:hook("egress", { flags = "=A", state = "ESTABLISHED", count = 1 }, function()
  net:note("the client withholds segment 3", client)
  return "drop"
end)

net:run(function()
  local c = client:connect("192.0.2.2", 80)
  net:expect({ from = client, flags = "=S", label = "segment 1: SYN" }, 1)
  local synack = net:expect({ from = server, flags = "=SA", ack = 1, label = "segment 2: SYN+ACK" }, 1)
  c:wait("ESTABLISHED", 1) -- the client is ESTABLISHED; its ACK (segment 3) is dropped

  -- the server stays in SYN_RCVD: after almost a second, still nothing to accept
  net:sleep(0.9)
  assert(listener:try_accept() == nil, "the server accepted a connection without the handshake's last ACK")
  net:note("server still in SYN_RCVD, waiting for segment 3", server)

  -- after its RTO, the server retransmits its SYN+ACK, same sequence number
  net:expect({ from = server, flags = "=SA", seq = synack.seq, ack = 1,
               label = "segment 2 again: SYN+ACK retransmitted after RTO" }, 1)
  net:expect({ from = client, flags = "=A", seq = 1, ack = 1, label = "segment 3 again: ACK" }, 1)
  local s = listener:accept(1)
  s:wait("ESTABLISHED", 1)
end)

print(net:trace())
