-- What does Linux do with a SYN that reaches a socket in TIME-WAIT?
--
--   spec/netns/run build/synfin examples/linux/syn_in_time_wait.lua
--
-- packetdrill-style: synfin plays the remote side over a TUN device and the
-- kernel's own TCP is the one under test. A kernel server closes first, so
-- its socket ends in TIME-WAIT (60 s); its listener stays open. Then the
-- same remote port sends SYNs again:
--
-- * a SYN with an old sequence number (the first connection's ISN, below
--   the socket's RCV.NXT): an old duplicate. Linux answers with an ACK of
--   what it expects (seq = its SND.NXT, ack = its RCV.NXT) and stays in
--   TIME-WAIT (RFC 9293 §3.10.7.4: an unacceptable segment draws an ACK).
-- * a SYN with a higher sequence number: RFC 1122 §4.2.2.13 lets TIME-WAIT
--   accept it and open a new connection (what synfin's
--   syn_in_time_wait = "reopen" does too): Linux answers with a SYN-ACK
--   from its listener, and the handshake completes. The new connection's
--   ISN is the old SND.NXT + 65537 (checked below).
--
-- Runs in a network namespace of its own (spec/netns/run).
local synfin = require "synfin"
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "../../spec/?.lua;" .. package.path
local kernel = require "interop.kernel" -- kernel programs by their PID, and ss

kernel.need_namespace "build/synfin examples/linux/syn_in_time_wait.lua"

local KERNEL, PORT = "10.73.0.1", 7003
local TWO32 = 4294967296
local net = synfin.tun()
local remote = net:host("10.73.0.2", { name = "remote" })
-- it accepts two connections and closes each first
local server = kernel.start { "server", KERNEL, tostring(PORT), "--close-first", "--conns", "2" }

local seen = {}
local answer_old, synack, tw_snd_nxt, new_above
local ok, err = pcall(net.run, net, function()
  server:wait_for(net, "listening", 10)
  local c = remote:connect(KERNEL, PORT)
  c:wait("CLOSE_WAIT", 5) -- the kernel closed first
  c:close()
  net:expect({ from = net.kernel, flags = "=A", ack = 2 }, 1) -- it ACKs our FIN: TIME-WAIT
  c:wait("CLOSED", 5)
  local info = c:info()
  local them, me = KERNEL .. ":" .. PORT, "10.73.0.2:" .. info.lport
  net:sleep(0.05)
  seen.first = kernel.state_of(them, me)
  print(kernel.ss_text())
  local kfin = kernel.segments(net, function(r) return r.src == KERNEL and r.flags:find("F") ~= nil end)[1]
  tw_snd_nxt = (kfin.abs_seq + 1) % TWO32

  -- 1. the old SYN. Our TCP would answer the kernel's ACK with a RST (the
  -- port has no connection): a RST at RCV.NXT, which closes the TIME-WAIT
  -- (see rst_in_time_wait.lua). Keep it off the wire, to see the
  -- TIME-WAIT alone.
  local quiet = remote:hook("egress", { flags = "R", count = 1 }, function() return "drop" end)
  remote:send { dst = KERNEL, sport = info.lport, dport = PORT, flags = "S", abs_seq = info.iss, mss = 1460 }
  answer_old = net:expect({ from = net.kernel, sport = PORT, dport = info.lport }, 1)
  net:sleep(0.05)
  seen.after_old = kernel.state_of(them, me)
  quiet:remove()
  print(("old SYN (seq = ISN %d): the kernel answers %s seq=%d ack=%d; its socket: %s")
    :format(info.iss, answer_old.flags, answer_old.abs_seq, answer_old.abs_ack, tostring(seen.after_old)))

  -- 2. a new SYN from the same port: synfin's ISN clock (RFC 9293
  -- §3.4.1) has moved on, so its sequence number is above the old ones
  local c2 = remote:connect(KERNEL, PORT, { sport = info.lport })
  local syn = net:expect({ from = remote, flags = "S" }, 1)
  new_above = (syn.abs_seq - info.snd_nxt) % TWO32
  synack = net:expect({ from = net.kernel, flags = "SA" }, 1)
  c2:wait("ESTABLISHED", 1)
  net:sleep(0.05)
  seen.after_new = kernel.state_of(them, me)
  print(("new SYN (seq = %d, %d above the old connection's): the kernel answers SA, its ISN %d (the TIME-WAIT's SND.NXT was %d: +%d)")
    :format(syn.abs_seq, new_above, synack.abs_seq, tw_snd_nxt, (synack.abs_seq - tw_snd_nxt) % TWO32))
  print(kernel.ss_text())
  c2:wait("CLOSE_WAIT", 5) -- the server closes this one first too
  c2:close()
  c2:wait("CLOSED", 5)
  server:result(net, 5)
end)
server:stop()
print(net:trace())
net:close()
assert(ok, err)
assert(seen.first == "TIME-WAIT", "the kernel's socket was " .. tostring(seen.first))
-- the old SYN: a bare ACK of what TIME-WAIT expects, and TIME-WAIT stays
assert(answer_old.flags == "A", "the old SYN drew " .. answer_old.flags .. ", not an ACK")
assert(answer_old.abs_seq == tw_snd_nxt, "its ACK's seq is not TIME-WAIT's SND.NXT")
assert(seen.after_old == "TIME-WAIT", "after the old SYN the socket is " .. tostring(seen.after_old))
-- the new SYN: a new connection on the same four-tuple
assert(new_above > 0 and new_above < 2 ^ 31, "synfin's new SYN was not above the old connection's numbers")
assert(seen.after_new == "ESTAB" or seen.after_new == "FIN-WAIT-1" or seen.after_new == "FIN-WAIT-2",
  "after the new SYN the socket is " .. tostring(seen.after_new))
-- Linux (tcp_timewait_state_process) gives the new connection the ISN
-- TIME-WAIT's SND.NXT + 65535 + 2: above anything the old one sent, and a
-- whole maximum window past it
assert((synack.abs_seq - tw_snd_nxt) % TWO32 == 65537,
  ("the new ISN is the old SND.NXT + %d, not + 65537"):format((synack.abs_seq - tw_snd_nxt) % TWO32))
print("Linux: an old SYN in TIME-WAIT gets an ACK (TIME-WAIT stays); a newer SYN reopens the connection (SYN-ACK)")
