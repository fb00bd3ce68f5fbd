-- How often does Linux resend a SYN-ACK that nobody answers?
--
--   spec/netns/run build/synfin examples/linux/syn_ack_retransmits.lua
--
-- packetdrill-style: synfin plays the remote side over a TUN device and the
-- kernel's own TCP is the one under test. A bare peer (no TCP of its own)
-- sends a SYN to a kernel listener and never answers: the kernel keeps the
-- half-open connection in SYN-RECV and resends its SYN-ACK when its timer
-- runs out, doubling it each time (RFC 6298 (5.5), with the initial RTO of
-- 1 s, (2.1)): at 1, 3, 7, 15, 31 s after the first, net.ipv4.
-- tcp_synack_retries (5) times. We check the first three gaps, 1, 2 and
-- 4 s, within the net's tolerance (20 ms + 10 %), then reset the
-- half-open connection. Runs in a network namespace of its own (spec/netns/run).
local synfin = require "synfin"
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "../../spec/?.lua;" .. package.path
local kernel = require "interop.kernel" -- kernel programs by their PID, and ss

kernel.need_namespace "build/synfin examples/linux/syn_ack_retransmits.lua"

local KERNEL, PORT = "10.73.0.1", 7001
local net = synfin.tun()
local remote = net:peer("10.73.0.2", { name = "remote" })
local listener = kernel.start { "server", KERNEL, tostring(PORT) }

local gaps = {}
local ok, err = pcall(net.run, net, function()
  listener:wait_for(net, "listening", 10)
  remote:send { dst = KERNEL, sport = 40000, dport = PORT, flags = "S", abs_seq = 1000000, win = 65535, mss = 1460 }
  local sa = net:expect({ from = net.kernel, flags = "SA", ack = 1 }, 1)
  print(kernel.ss_text())
  local rto = 1
  for i = 1, 3 do
    local again = net:expect_at({ from = net.kernel, flags = "SA", seq = sa.seq, ack = 1 }, sa.time + rto)
    gaps[i] = again.time - sa.time
    print(("SYN-ACK resent %.3f s after the one before (expected %g s, +/- %.3f s)"):format(gaps[i], rto, net:slack(rto)))
    sa, rto = again, rto * 2
  end
  -- our RST (SEG.SEQ = the SYN-ACK's ACK) ends the half-open connection
  -- (RFC 9293 §3.10.7.4: a RST in window, in SYN-RECEIVED)
  remote:send { dst = KERNEL, sport = 40000, dport = PORT, flags = "R", seq = 1 }
  net:expect_nothing({ from = net.kernel }, 0.3)
  assert(kernel.state_of(KERNEL .. ":" .. PORT, "10.73.0.2:40000") == nil, "the SYN-RECV socket is still there")
  print(kernel.ss_text())
end)
listener:stop()
print(net:trace())
net:close()
assert(ok, err)
print(("Linux resent its SYN-ACK after %.3f s, %.3f s, %.3f s: its timer doubles from 1 s"):format(gaps[1], gaps[2], gaps[3]))
