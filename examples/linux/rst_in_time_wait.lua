-- What does Linux do with a RST that reaches a socket in TIME-WAIT?
--
--   spec/netns/run build/synfin examples/linux/rst_in_time_wait.lua
--
-- packetdrill-style: the kernel's socket calls are script lines
-- (synfin.kernel), synfin plays the remote side over a TUN device. A kernel
-- server accepts and closes first (active close), so its socket ends in
-- TIME-WAIT, 60 s on Linux. Then we send it two RSTs:
--
-- * one out of window (not at the socket's RCV.NXT): ignored, no answer,
--   the socket stays (Linux drops an out-of-window RST without a word);
-- * one at RCV.NXT: RFC 793 let it close the TIME-WAIT early, "TIME-WAIT
--   assassination" (RFC 1337, hazard H3); RFC 9293 §3.10.7.4 lets stacks
--   ignore it. Linux closes it unless net.ipv4.tcp_rfc1337 = 1 (its
--   default, in every new namespace, is 0): the socket is gone at once.
local synfin = require "synfin"
local kernel = require "synfin.kernel"

local net = synfin.tun() -- the kernel is 10.73.0.1
local remote = net:host("10.73.0.2", { name = "remote" })
local k = kernel.agent(net) -- the kernel's socket calls, in this namespace only

net:run(function()
  local lfd = assert(k:socket())
  assert(k:bind(lfd, "10.73.0.1", 7002))
  assert(k:listen(lfd, 1))
  local c = remote:connect("10.73.0.1", 7002)
  local fd = assert(k:accept(lfd))
  assert(k:close(fd)) -- the kernel closes first: its FIN
  c:wait("CLOSE_WAIT", 1)
  c:close() -- our FIN; the kernel ACKs it from TIME-WAIT
  local fin = net:expect({ from = remote, flags = "F" }, 1)
  c:wait("CLOSED", 1)
  assert(k:ss(fd).state == "TIME_WAIT")
  local function rst(seq) remote:send { dst = "10.73.0.1", sport = c:info().lport, dport = 7002, flags = "R", seq = seq } end
  rst(fin.seq + 1 + 10000) -- out of window
  net:expect_nothing({ from = net.kernel }, 0.3)
  assert(k:ss(fd).state == "TIME_WAIT", "a RST out of window closed TIME-WAIT")
  rst(fin.seq + 1) -- at RCV.NXT
  net:expect_nothing({ from = net.kernel }, 0.3)
  assert(k:ss(fd) == nil) -- Linux, with net.ipv4.tcp_rfc1337 = 0 (its default)
end)
print(k:trace())
