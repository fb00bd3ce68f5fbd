-- examples/linux/raw_server.lua: a synfin server on a real link, through a
-- packet socket (synfin.raw), and the Linux kernel as its client. Needs
-- CAP_NET_ADMIN and CAP_NET_RAW: run it in a namespace of its own, where it
-- makes its veth pair and nothing outside is touched:
--
--   unshare -Urn sh -c 'ip link set lo up; build/synfin examples/linux/raw_server.lua'
--
-- The kernel's end, veth0, has 10.74.0.1/24; synfin's end, veth1, has no
-- address (so the kernel never answers for synfin's 10.74.0.2). curl, or
-- here python3, connects from the kernel's side.
local synfin = require "synfin"

assert(os.execute("ip link add veth0 type veth peer name veth1"), "cannot make a veth pair (run it in unshare -Urn)")
os.execute("ip addr add 10.74.0.1/24 dev veth0; ip link set veth0 up; ip link set veth1 up")

local net = synfin.raw { interface = "veth1", peer = "10.74.0.1" }
local server = net:host("10.74.0.2", { name = "synfin" })
local l = server:listen(8080)
-- the kernel's client, in the background, bounded by its own timeout
os.execute([[timeout 10 python3 -c 'import socket; s = socket.create_connection(("10.74.0.2", 8080), timeout=5); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); print(s.recv(100).decode().strip())' &]])
net:run(function()
  local c = l:accept(10)
  print(c:recv(nil, 5))
  c:send("HTTP/1.0 200 OK\r\n\r\nhello from synfin\n")
  c:close()
  c:wait("TIME_WAIT", 5) -- we closed first
end)
print(net:trace():text())
local st = net:device_stats()
print(("synfin's MAC %s; ARP requests received %d, replies sent %d; frames for others %d"):format(
  net.mac, st.arp_requests_received, st.arp_replies_sent, st.rx_not_for_us))
os.execute("ip neigh show dev veth0; ip link del veth0")
net:close()
