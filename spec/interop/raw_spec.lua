-- Interop with the Linux kernel's TCP over a real link: a veth pair, synfin
-- on one end through a packet socket (synfin.raw), the kernel's address on
-- the other. Runs only through spec/netns/run, in a network namespace of its
-- own: the veth pair, its subnet 10.74.0.0/24 and every socket live and die
-- there. Both ends are the same kernel's: veth1 has no address, and the
-- frames for synfin's MAC are another host's to it, so it never answers
-- them (the specs check that it sent no RST).
local synfin = require "synfin"
local kernel = require "interop.kernel"

kernel.need_namespace "lua5.4 /usr/bin/busted spec/interop/raw_spec.lua"

local KERNEL, SYNFIN = "10.74.0.1", "10.74.0.2"

local function sh(cmd)
  local ok = os.execute(cmd)
  assert(ok, "failed: " .. cmd)
end

local function read_cmd(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("a")
  p:close()
  return s
end

local scope = kernel.scope(after_each)
local on_cleanup = scope.on_cleanup
after_each(kernel.remove_veth_pair)

-- The kernel's TCP RSTs sent so far in this namespace (/proc/net/snmp).
local function kernel_out_rsts()
  local names, values
  for line in io.lines("/proc/net/snmp") do
    if line:match("^Tcp: %a") then names = line
    elseif line:match("^Tcp: [%d-]") then values = line end
  end
  local n, v = {}, {}
  for w in names:gmatch("%S+") do n[#n + 1] = w end
  for w in values:gmatch("%S+") do v[#v + 1] = w end
  for i, w in ipairs(n) do
    if w == "OutRsts" then return tonumber(v[i]) end
  end
end

local function raw_net(opts)
  kernel.veth_pair(KERNEL)
  opts = opts or {}
  opts.interface, opts.peer = "veth1", opts.peer or KERNEL
  local net = synfin.raw(opts)
  on_cleanup(function() net:close() end)
  local host = net:host(SYNFIN, { name = "synfin" })
  return net, host
end

local start = scope.start

local segs, states = kernel.segments, kernel.states

local function no_rst(net)
  assert.same({}, segs(net, function(r) return r.flags:find("R") ~= nil end))
end

-- Writes frames into the link from the kernel's end (veth0), through a
-- packet socket of Python's: each a hex string, the whole frame.
local function inject_frames(frames)
  local script = ([[
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("veth0", 0))
for h in sys.argv[1:]:
    s.send(bytes.fromhex(h))
]])
  sh(("timeout 10 python3 -c '%s' %s"):format(script, table.concat(frames, " ")))
end

describe("on a veth pair, a synfin server and a kernel client", function()
  it("takes data both ways and closes; the kernel learns synfin's MAC by ARP and sends no RST", function()
    local rsts = kernel_out_rsts()
    local net, server = raw_net()
    local l = server:listen(8080)
    local proc = start { "client", SYNFIN, "8080", "5000", "--shut-wr" }
    local results
    net:run(function()
      local c = l:accept(10)
      assert.equal(5000, #c:recv(5000, 10))
      c:send(("x"):rep(3000))
      c:wait("CLOSE_WAIT", 10)
      c:close()
      c:wait("CLOSED", 10)
      results = proc:result(net)
    end)
    local r = results[1]
    assert.is_nil(r.error)
    assert.equal(5000, r.sent)
    assert.equal(3000, r.received)
    assert.equal("eof", r["end"])
    assert.same({ "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED" }, states(net, server))
    local syn = segs(net, function(s) return s.flags == "S" end)[1]
    assert.equal(KERNEL, syn.src)
    no_rst(net)
    assert.equal(rsts, kernel_out_rsts())
    -- the kernel asked for 10.74.0.2 and synfin answered with its own MAC
    local st = net:device_stats()
    assert.truthy(st.arp_requests_received >= 1)
    assert.truthy(st.arp_replies_sent >= 1)
    assert.truthy(st.rx_packets >= 4 and st.tx_packets >= 4)
    assert.equal(0, st.tx_dropped)
    assert.equal(0, st.rx_malformed)
    local neigh = read_cmd("ip neigh show dev veth0 " .. SYNFIN)
    assert.truthy(neigh:find("lladdr " .. net.mac, 1, true), "ip neigh: " .. neigh)
    assert.truthy(net.mac:match("^02:"), net.mac) -- locally administered
    assert.is_nil(read_cmd("ip -br link show veth1"):find(net.mac, 1, true)) -- not veth1's own
  end)
end)

describe("on a veth pair, a synfin client and a kernel server", function()
  it("resolves the kernel's MAC, echoes data both ways and ends in TIME_WAIT", function()
    local rsts = kernel_out_rsts()
    local net, client = raw_net { mac = "02:00:5e:10:00:02" }
    local proc = start { "server", KERNEL, "9000", "--echo" }
    local results, lport
    net:run(function()
      proc:wait_for(net, "listening", 10)
      local c = client:connect(KERNEL, 9000)
      c:wait("ESTABLISHED", 10)
      lport = c:info().lport
      c:send(("abc"):rep(1000))
      assert.equal(("abc"):rep(1000), c:recv(3000, 10))
      c:close()
      c:wait("TIME_WAIT", 10)
      results = proc:result(net)
      net:sleep(0.05)
      assert.is_nil(kernel.state_of(KERNEL .. ":9000", SYNFIN .. ":" .. lport))
    end)
    assert.is_nil(results[1].error)
    assert.equal(3000, results[1].received)
    assert.equal("eof", results[1]["end"])
    local st = states(net, client)
    assert.same({ "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1" }, { st[1], st[2], st[3] })
    assert.equal("TIME_WAIT", st[#st])
    no_rst(net)
    assert.equal(rsts, kernel_out_rsts())
    -- synfin asked first (its SYN waited for the answer); the kernel
    -- learnt the MAC given, from the request
    local ds = net:device_stats()
    assert.equal("02:00:5e:10:00:02", net.mac)
    assert.truthy(ds.arp_requests_sent >= 1)
    assert.truthy(ds.arp_replies_received >= 1)
    assert.equal(0, ds.tx_dropped)
    local neigh = read_cmd("ip neigh show dev veth0 " .. SYNFIN)
    assert.truthy(neigh:find("lladdr 02:00:5e:10:00:02", 1, true), "ip neigh: " .. neigh)
  end)

  it("gives up on a peer that never answers ARP: 3 requests a second apart, a note, the packets dropped", function()
    local net, client = raw_net { peer = "10.74.0.9" } -- nobody has it
    local note
    net:run(function()
      local t0 = net:now()
      local c = client:connect("10.74.0.9", 9000)
      -- the SYN and its retransmission wait, then go with the note
      for _ = 1, 400 do
        for _, r in ipairs(net:records()) do
          if r.kind == "note" and r.text:find("no ARP reply", 1, true) then note = r end
        end
        if note then break end
        net:sleep(0.01)
      end
      assert.truthy(note, "no note within 4 s")
      local waited = net:now() - t0
      assert.truthy(waited > 2.9 and waited < 3.6, ("gave up after %.3f s\n%s"):format(waited, net:trace():text()))
      c:abort()
    end)
    assert.equal("no ARP reply from 10.74.0.9", note.text)
    local ds = net:device_stats()
    -- 3 in the first round; the SYN's second retransmission (at 3 s) may
    -- start another
    assert.truthy(ds.arp_requests_sent >= 3 and ds.arp_requests_sent <= 4, ds.arp_requests_sent)
    assert.truthy(ds.tx_dropped >= 2) -- the SYN and its retransmission after 1 s
    assert.equal(0, ds.tx_packets)
  end)
end)

describe("on a veth pair, frames that are not synfin's", function()
  it("counts bad frames and frames for others as ignored, and goes on working", function()
    local net, server = raw_net()
    local l = server:listen(8081)
    local mac = net.mac:gsub(":", "")
    local src = "020000000001"
    local ip_hdr = "4500001c0000400040060000" .. "0a4a0001" .. "0a4a0002" -- 28 bytes claimed
    local frames = {
      mac .. src .. "88b5" .. ("00"):rep(46),         -- another ethertype
      "02aabbccddee" .. src .. "0800" .. ip_hdr .. ("00"):rep(26), -- another host's MAC
      mac .. src .. "0800" .. "4200001c",              -- IPv4, a header of 8 bytes
      mac .. src .. "0800" .. "4500ffff" .. ("00"):rep(16), -- IPv4 longer than the frame
      mac .. src .. "0800" .. "6000",                   -- not IPv4 at all, and short
      mac .. src .. "0806" .. "0001080006040001",       -- ARP cut short
      mac .. src .. "0806" .. "0006080006040001" .. ("00"):rep(20), -- ARP over token ring
    }
    local before
    net:run(function()
      net:sleep(0.05)
      before = net:device_stats()
      inject_frames(frames)
      local st
      for _ = 1, 200 do -- at most 2 s for the frames to be read
        st = net:device_stats()
        if st.rx_malformed - before.rx_malformed >= 4 then break end
        net:sleep(0.01)
      end
      assert.equal(4, st.rx_malformed - before.rx_malformed)
      assert.equal(2, st.rx_other_type - before.rx_other_type)
      assert.truthy(st.rx_not_for_us - before.rx_not_for_us >= 1)
      assert.equal(before.rx_packets, st.rx_packets)
      -- still alive: a kernel client gets through
      local proc = start { "client", SYNFIN, "8081", "10", "--shut-wr" }
      local c = l:accept(10)
      assert.equal(10, #c:recv(10, 10))
      c:wait("CLOSE_WAIT", 10)
      c:close()
      c:wait("CLOSED", 10)
      assert.is_nil(proc:result(net)[1].error)
    end)
    no_rst(net)
  end)
end)
