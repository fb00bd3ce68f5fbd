-- What does Linux do with a RST that reaches a socket in TIME-WAIT?
--
--   spec/netns/run build/synfin examples/linux/rst_in_time_wait.lua
--
-- packetdrill-style: synfin plays the remote side over a TUN device and the
-- kernel's own TCP is the one under test. A kernel server closes first
-- (active close), so its socket ends in TIME-WAIT, 60 s on Linux. Then we
-- send it two RSTs:
--
-- * one out of window (not at the socket's RCV.NXT): ignored, no answer,
--   the socket stays (Linux drops an out-of-window RST without a word);
-- * one at RCV.NXT: RFC 793 let it close the TIME-WAIT early, "TIME-WAIT
--   assassination" (RFC 1337, hazard H3); RFC 9293 §3.10.7.4 lets stacks
--   ignore it. Linux closes it unless net.ipv4.tcp_rfc1337 = 1 (its
--   default, in every namespace, is 0): the socket is gone at once.
--
-- Runs in a network namespace of its own (spec/netns/run).
local synfin = require "synfin"
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "../../spec/?.lua;" .. package.path
local kernel = require "interop.kernel" -- kernel programs by their PID, and ss

kernel.need_namespace "build/synfin examples/linux/rst_in_time_wait.lua"

local f = assert(io.open("/proc/sys/net/ipv4/tcp_rfc1337"))
local rfc1337 = tonumber(f:read("l"))
f:close()
print(("net.ipv4.tcp_rfc1337 = %d in this namespace"):format(rfc1337))

local KERNEL, PORT = "10.73.0.1", 7002
local net = synfin.tun()
local remote = net:host("10.73.0.2", { name = "remote" })
local server = kernel.start { "server", KERNEL, tostring(PORT), "--close-first" }

local before, after_bad, after_good
local ok, err = pcall(net.run, net, function()
  server:wait_for(net, "listening", 10)
  local c = remote:connect(KERNEL, PORT)
  c:wait("CLOSE_WAIT", 5) -- the kernel closed first: its FIN came
  c:close()
  local fin = net:expect({ from = remote, flags = "F" }, 1)
  c:wait("CLOSED", 5)     -- LAST_ACK, then the kernel's ACK: it is in TIME-WAIT now
  local them, me = KERNEL .. ":" .. PORT, "10.73.0.2:" .. c:info().lport
  net:sleep(0.05)
  before = kernel.state_of(them, me)
  print("before:\n" .. kernel.ss_text())
  local rst = { dst = KERNEL, sport = c:info().lport, dport = PORT, flags = "R" }

  -- 1. out of window: 10000 past what the socket expects next (fin.seq + 1)
  rst.seq = fin.seq + 1 + 10000
  remote:send(rst)
  net:expect_nothing({ from = net.kernel }, 0.3)
  after_bad = kernel.state_of(them, me)
  print("after a RST out of window:\n" .. kernel.ss_text())

  -- 2. exactly at RCV.NXT
  rst.seq = fin.seq + 1
  remote:send(rst)
  net:expect_nothing({ from = net.kernel }, 0.3)
  after_good = kernel.state_of(them, me)
  print("after a RST at RCV.NXT:\n" .. kernel.ss_text())
  server:result(net, 5)
end)
server:stop()
print(net:trace())
net:close()
assert(ok, err)
assert(before == "TIME-WAIT", "the kernel's socket was " .. tostring(before) .. ", not TIME-WAIT")
assert(after_bad == "TIME-WAIT", "a RST out of window changed TIME-WAIT into " .. tostring(after_bad))
if rfc1337 == 0 then
  assert(after_good == nil, "with tcp_rfc1337 = 0 the RST should have closed TIME-WAIT; it is " .. tostring(after_good))
  print("Linux: a RST at RCV.NXT closes TIME-WAIT at once (tcp_rfc1337 = 0); one out of window is ignored")
else
  assert(after_good == "TIME-WAIT", "with tcp_rfc1337 = 1 the RST should be ignored")
  print("Linux: with tcp_rfc1337 = 1 TIME-WAIT ignores RSTs (RFC 1337)")
end
