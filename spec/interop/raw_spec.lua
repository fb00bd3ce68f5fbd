-- Interop with the Linux kernel's TCP over a real link: a veth pair, synfin
-- on one end through a packet socket (synfin.raw), the kernel's address on
-- the other; every scenario on IPv4 (ARP) and IPv6 (Neighbor Discovery)
-- alike (helpers.families: f.veth's addresses). Runs only through
-- spec/netns/run, in a network namespace of its own: the veth pair, its
-- subnets 10.74.0.0/24 and fd00:74::/64 and every socket live and die
-- there. Both ends are the same kernel's: veth1 has no address, and the
-- frames for synfin's MAC are another host's to it, so it never answers
-- them (the specs check that it sent no RST).
local synfin = require "synfin"
local kernel = require "interop.kernel"
local families = require "helpers.families"

kernel.need_namespace "lua5.4 /usr/bin/busted spec/interop/raw_spec.lua"

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

-- A veth pair with the kernel at f's address, synfin.raw on veth1 and a
-- synfin host at f's.
local function raw_net(f, opts)
  kernel.veth_pair(f.veth.kernel)
  opts = opts or {}
  opts.interface, opts.peer = "veth1", opts.peer or f.veth.kernel
  local net = synfin.raw(opts)
  on_cleanup(function() net:close() end)
  local host = net:host(f.veth.synfin, { name = "synfin" })
  return net, host
end

-- How each family finds a MAC: the driver's counters and its note.
local RESOLVER = {
  IPv4 = { asked = "arp_requests_received", answered = "arp_replies_sent", asks = "arp_requests_sent",
    got = "arp_replies_received", note = "no ARP reply from " },
  IPv6 = { asked = "nd_solicitations_received", answered = "nd_advertisements_sent",
    asks = "nd_solicitations_sent", got = "nd_advertisements_received", note = "no Neighbor Advertisement from " },
}

local start = scope.start

local segs, states = kernel.segments, kernel.states

-- The kernel sent no RST: it never answered a frame meant for synfin. (synfin
-- may: under load its tail loss probe, RFC 8985, can go before the kernel's
-- ACKs come, and the kernel's duplicate ACK of it then reaches a closed
-- connection's listener, which answers it with a RST, RFC 9293 §3.10.7.2, as
-- Linux's would.)
local function no_kernel_rst(net)
  local rsts = segs(net, function(r) return r.flags:find("R") ~= nil and r.src == net.kernel.addr end)
  assert(#rsts == 0, "a RST from the kernel:\n" .. net:trace():text())
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

families.describe("on a veth pair", function(f)
  local KERNEL, SYNFIN, NOBODY = f.veth.kernel, f.veth.synfin, f.veth.nobody
  local at = kernel.endpoint
  local how = RESOLVER[f.name]

  describe("a synfin server and a kernel client", function()
    it("take data both ways and close; the kernel learns synfin's MAC from synfin's answer; no RST", function()
      local rsts = kernel_out_rsts()
      local net, server = raw_net(f)
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
      no_kernel_rst(net)
      assert.equal(rsts, kernel_out_rsts())
      -- the kernel asked for synfin's address (ARP request, Neighbor
      -- Solicitation) and synfin answered with its own MAC
      local st = net:device_stats()
      assert.truthy(st[how.asked] >= 1)
      assert.truthy(st[how.answered] >= 1)
      assert.truthy(st.rx_packets >= 4 and st.tx_packets >= 4)
      assert.equal(0, st.tx_dropped)
      assert.equal(0, st.rx_malformed)
      assert.equal(0, st.nd_invalid)
      local neigh = read_cmd("ip neigh show dev veth0 " .. SYNFIN)
      assert.truthy(neigh:find("lladdr " .. net.mac, 1, true), "ip neigh: " .. neigh)
      assert.truthy(net.mac:match("^02:"), net.mac) -- locally administered
      assert.is_nil(read_cmd("ip -br link show veth1"):find(net.mac, 1, true)) -- not veth1's own
    end)
  end)

  describe("a synfin client and a kernel server", function()
    it("resolves the kernel's MAC, echoes data both ways and ends in TIME_WAIT", function()
      local rsts = kernel_out_rsts()
      local net, client = raw_net(f, { mac = "02:00:5e:10:00:02" })
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
        assert.is_nil(kernel.state_of(at(KERNEL, 9000), at(SYNFIN, lport)))
      end)
      assert.is_nil(results[1].error)
      assert.equal(3000, results[1].received)
      assert.equal("eof", results[1]["end"])
      local st = states(net, client)
      assert.same({ "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1" }, { st[1], st[2], st[3] })
      assert.equal("TIME_WAIT", st[#st])
      no_kernel_rst(net)
      assert.equal(rsts, kernel_out_rsts())
      -- synfin asked first (its SYN waited for the answer); the kernel
      -- learnt the MAC given, from the request (its link-layer address)
      local ds = net:device_stats()
      assert.equal("02:00:5e:10:00:02", net.mac)
      assert.truthy(ds[how.asks] >= 1)
      assert.truthy(ds[how.got] >= 1)
      assert.equal(0, ds.tx_dropped)
      local neigh = read_cmd("ip neigh show dev veth0 " .. SYNFIN)
      assert.truthy(neigh:find("lladdr 02:00:5e:10:00:02", 1, true), "ip neigh: " .. neigh)
    end)

    it("gives up on a peer that never answers: 3 requests a second apart, a note, the packets dropped", function()
      local net, client = raw_net(f, { peer = NOBODY }) -- nobody has it
      local note
      net:run(function()
        local t0 = net:now()
        local c = client:connect(NOBODY, 9000)
        -- the SYN and its retransmission wait, then go with the note
        for _ = 1, 400 do
          for _, r in ipairs(net:records()) do
            if r.kind == "note" and r.text:find(how.note, 1, true) then note = r end
          end
          if note then break end
          net:sleep(0.01)
        end
        assert.truthy(note, "no note within 4 s")
        local waited = net:now() - t0
        assert.truthy(waited > 2.9 and waited < 3.6, ("gave up after %.3f s\n%s"):format(waited, net:trace():text()))
        c:abort()
      end)
      assert.equal(how.note .. NOBODY, note.text)
      local ds = net:device_stats()
      -- 3 in the first round; the SYN's second retransmission (at 3 s) may
      -- start another
      assert.truthy(ds[how.asks] >= 3 and ds[how.asks] <= 4, ds[how.asks])
      assert.truthy(ds.tx_dropped >= 2) -- the SYN and its retransmission after 1 s
      assert.equal(0, ds.tx_packets)
    end)
  end)

  -- An IPv6 header of no payload, fd00:74::1 to fd00:74::2.
  local IP6_HDR = "6000000000000640" .. "fd000074000000000000000000000001" .. "fd000074000000000000000000000002"

  -- Bad IP headers of f's family (4 of them with the ARP frame cut short),
  -- and a good header of it.
  local function bad_ip_frames(mac, src)
    if f.name == "IPv4" then
      return {
        mac .. src .. "0800" .. "4200001c",                   -- IPv4, a header of 8 bytes
        mac .. src .. "0800" .. "4500ffff" .. ("00"):rep(16), -- IPv4 longer than the frame
        mac .. src .. "0800" .. "6000",                       -- not IPv4 at all, and short
      }, "4500001c0000400040060000" .. "0a4a0001" .. "0a4a0002" -- 28 bytes claimed
    end
    return {
      mac .. src .. "86dd" .. "60000000",                                -- IPv6, a header of 4 bytes
      mac .. src .. "86dd" .. "60000000ffff0640" .. ("00"):rep(32),      -- IPv6 longer than the frame
      mac .. src .. "86dd" .. "4500002800000000" .. ("00"):rep(32),      -- not IPv6 at all
    }, IP6_HDR
  end

  describe("frames that are not synfin's", function()
    it("counts bad frames and frames for others as ignored, and goes on working", function()
      local net, server = raw_net(f)
      local l = server:listen(8081)
      local mac = net.mac:gsub(":", "")
      local src = "020000000001"
      local bad, ip_hdr = bad_ip_frames(mac, src)
      local frames = {
        mac .. src .. "88b5" .. ("00"):rep(46),         -- another ethertype
        "02aabbccddee" .. src .. (f.name == "IPv4" and "0800" or "86dd") .. ip_hdr .. ("00"):rep(26), -- another host's MAC
        "333300000016" .. src .. "86dd" .. IP6_HDR .. ("00"):rep(26), -- an IPv6 group's, not ND (an MLD listener's)
        mac .. src .. "0806" .. "0001080006040001",       -- ARP cut short
        mac .. src .. "0806" .. "0006080006040001" .. ("00"):rep(20), -- ARP over token ring
      }
      for _, b in ipairs(bad) do frames[#frames + 1] = b end
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
        assert.truthy(st.rx_not_for_us - before.rx_not_for_us >= 2)
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
      no_kernel_rst(net)
    end)
  end)
end)

-- Hex of an ICMPv6 checksum (RFC 4443 §2.3) over hex words: the
-- pseudo-header's and the message's, the checksum field zero.
local function checksum16(hex)
  local sum = 0
  for i = 1, #hex, 4 do sum = sum + tonumber(hex:sub(i, i + 3), 16) end
  while sum > 0xffff do sum = (sum & 0xffff) + (sum >> 16) end
  return ("%04x"):format(~sum & 0xffff)
end

-- A Neighbor Solicitation for fd00:74::2 from fd00:74::5 (MAC
-- 02:00:00:00:00:05) to its solicited-node group, as a frame's hex; hop
-- the IPv6 hop limit, bad_sum: a checksum off by one.
local function solicitation(hop, bad_sum)
  local src, dst = "fd000074000000000000000000000005", "ff0200000000000000000001ff000002"
  local target, opt = "fd000074000000000000000000000002", "0101020000000005"
  local body = "8700" .. "%s" .. "00000000" .. target .. opt
  local sum = checksum16(src .. dst .. "00000020" .. "0000003a" .. body:format("0000"))
  if bad_sum then sum = ("%04x"):format((tonumber(sum, 16) + 1) & 0xffff) end
  return "3333ff000002" .. "020000000005" .. "86dd" .. "60000000" .. "00203a" .. ("%02x"):format(hop)
    .. src .. dst .. body:format(sum)
end

describe("Neighbor Discovery on a veth pair (RFC 4861 §7.1.1)", function()
  it("answers a solicitation for a synfin address; one with a hop limit not 255, or a bad checksum, is refused", function()
    local net = raw_net(families.list[2])
    net:run(function()
      net:sleep(0.05)
      local before = net:device_stats()
      -- from off the link (a router lowered the hop limit), then damaged
      inject_frames { solicitation(64), solicitation(255, true) }
      local st
      for _ = 1, 200 do
        st = net:device_stats()
        if st.nd_invalid - before.nd_invalid >= 2 then break end
        net:sleep(0.01)
      end
      assert.equal(2, st.nd_invalid - before.nd_invalid)
      assert.equal(before.nd_advertisements_sent, st.nd_advertisements_sent)
      -- the same solicitation, whole and from the link: answered
      inject_frames { solicitation(255) }
      for _ = 1, 200 do
        st = net:device_stats()
        if st.nd_advertisements_sent > before.nd_advertisements_sent then break end
        net:sleep(0.01)
      end
      -- (the kernel's own solicitations, DAD's for veth0's link-local
      -- address, are counted too, and not answered: not synfin's)
      assert.truthy(st.nd_solicitations_received > before.nd_solicitations_received)
      assert.equal(before.nd_advertisements_sent + 1, st.nd_advertisements_sent)
    end)
  end)
end)

describe("synfin.raw's peer", function()
  it("is an address of either family, as synfin.tun's kernel is; an IPv6 one needs an MTU of 1280 at least", function()
    kernel.veth_pair("fd00:74::1")
    local ok, err = pcall(synfin.raw, { interface = "veth1", peer = "fd00:74::zz" })
    assert.is_false(ok)
    assert.matches('an IPv4 or IPv6 address such as "192.0.2.1" or "2001:db8::1" expected', err, 1, true)
    -- RFC 8200 §5: no IPv6 link is smaller
    ok, err = pcall(synfin.raw, { interface = "veth1", peer = "fd00:74::1", mtu = 1000 })
    assert.is_false(ok)
    assert.matches("synfin.raw: cannot open veth1: mtu must be 1280..", err, 1, true)
    local net = synfin.raw { interface = "veth1", peer = "FD00:74:0::1", mtu = 1280 }
    on_cleanup(function() net:close() end)
    assert.equal("fd00:74::1", net.kernel.addr) -- as the records write it
  end)
end)
