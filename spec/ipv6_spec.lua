-- What only IPv6 has (RFC 8200, RFC 4443, RFC 8201), and hosts with several
-- addresses of both families (RFC 9293 §3.9.1.1, MUST-43/44). The ICMP
-- cases both families share (port unreachable, Packet Too Big, soft errors,
-- the MSS from the MTU) run on both in icmp_spec.lua. The wire's
-- extension headers, fragments and pseudo-header are checked byte by byte
-- in spec/core/test_wire.c; here, what the stack does with them.
local synfin = require "synfin"
local families = require "helpers.families"
local sm = require "helpers.state_machine"

local v6 = families.list[2]
local fixture = v6.fixture

describe("IPv6 on the wire", function()
  it("RFC 8200 §8.1: a segment whose checksum is wrong over the IPv6 pseudo-header is dropped, counted", function()
    local t = fixture.at_state("ESTABLISHED")
    local mark = sm.mark(t)
    t:send { flags = "PA", payload = "abc", bad_checksum = true }
    assert.same({ "bad_checksum" }, sm.codes(t, mark))
    assert.equal(0, t.c:info().rcv_queued)
    t:send { flags = "PA", seq = 1, payload = "abc" } -- the same, right: taken
    assert.equal("abc", t.c:recv(3, 0))
  end)

  it("RFC 8200 §5: a host with an IPv6 address has an MTU of 1280 at least", function()
    local net = synfin.sim {}
    local ok, err = pcall(net.host, net, "2001:db8::1", { mtu = 1000 })
    assert.is_false(ok)
    assert.matches("'mtu' must be at least 1280 on a host with an IPv6 address", err, 1, true)
    assert.truthy(net:host("192.0.2.1", { mtu = 1000 })) -- IPv4 alone: 576 is its floor
  end)

  it("the hop limit is the ttl setting; the traffic class carries the tos setting and ECN", function()
    local t = fixture.new { settings = { ttl = 9, tos = 0xb8, ecn = "on" } }
    t.c = assert(t.us:connect(t.them.addr, fixture.PORT, { sport = fixture.SPORT }))
    local syn = t:expect { flags = "S" }
    assert.equal(9, syn.ttl)
    assert.equal(0xb8, syn.tos)
    assert.equal("SEC", syn.flags) -- an ECN-setup SYN (RFC 3168 §6.1.1)
  end)
end)

describe("ICMPv6 (RFC 4443) about our segments", function()
  it("RFC 8201 §4: an MTU below 1280 is taken as 1280: the MSS never goes below 1220", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send(("d"):rep(1440))
    local first = t:expect { flags = "A", seq = 1 }
    t.them:send_icmp { type = 2, mtu = 600, about = first }
    t.net:sleep(0)
    assert.equal(1220, t:expect({ flags = "A", seq = 1 }).len)
  end)

  it("RFC 5927 §4.1: a Packet Too Big quoting a sequence number not in flight is ignored", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("abc")
    local data = t:expect { flags = "PA" }
    t:send { flags = "A", ack = t:our_nxt() } -- acknowledged: nothing in flight
    local mark = sm.mark(t)
    t.them:send_icmp { type = 2, mtu = 1280, about = data }
    t.net:sleep(0)
    assert.same({ "icmp_not_in_flight" }, sm.codes(t, mark))
  end)
end)

describe("hosts with several addresses (RFC 9293 §3.9.1.1)", function()
  local function dual()
    local net = synfin.sim { seed = 1 }
    local a = net:host { "192.0.2.1", "2001:db8::1", name = "a" }
    local b = net:host { "192.0.2.2", "2001:db8::2", "2001:db8::22", name = "b" }
    return net, a, b
  end

  it("MUST-44: an active OPEN picks the local address of the remote's family", function()
    local net, a, b = dual()
    local l = b:listen(80)
    local c6, c4
    net:run(function()
      c6 = a:connect("2001:db8::2", 80)
      c4 = a:connect("192.0.2.2", 80)
      c6:wait("ESTABLISHED", 1)
      c4:wait("ESTABLISHED", 1)
      local s6, s4 = l:accept(1), l:accept(1) -- one listener, on every address
      assert.equal("2001:db8::1", s6:info().raddr)
      assert.equal("192.0.2.1", s4:info().raddr)
    end)
    assert.equal("2001:db8::1", c6:info().laddr)
    assert.equal("192.0.2.1", c4:info().laddr)
    assert.same({ "192.0.2.2", "2001:db8::2", "2001:db8::22" }, b.addrs)
  end)

  it("MUST-43: OPEN with a local address uses it; one that is not this host's is refused", function()
    local net, a, b = dual()
    b:listen(80)
    local c
    net:run(function()
      c = b:connect("2001:db8::1", 80, { laddr = "2001:db8::22" })
      assert.equal("2001:db8::22", c:info().laddr)
      local syn = net:expect({ from = b, flags = "S" }, 1)
      assert.equal("2001:db8::22", syn.src)
      local ok, err = pcall(b.connect, b, "2001:db8::1", 80, { laddr = "2001:db8::99" })
      assert.is_false(ok)
      assert.matches("the local address 2001:db8::99 is not one of this host's IPv6 addresses", err, 1, true)
      ok, err = pcall(b.connect, b, "2001:db8::1", 80, { laddr = "192.0.2.2" })
      assert.is_false(ok)
      assert.matches("is not one of this host's IPv6 addresses", err, 1, true)
    end)
    assert.truthy(a)
  end)

  it("the same ports on two local addresses are two connections (the 4-tuple is the whole address)", function()
    local net, a, b = dual()
    local l = b:listen(80)
    net:run(function()
      local x = a:connect("2001:db8::2", 80, { sport = 5000 })
      local y = a:connect("2001:db8::22", 80, { sport = 5000 })
      x:wait("ESTABLISHED", 1)
      y:wait("ESTABLISHED", 1)
      local s1, s2 = l:accept(1), l:accept(1)
      assert.are_not.equal(s1:info().laddr, s2:info().laddr)
    end)
  end)

  it("mixing families is refused: no connection from a host without an address of the peer's family", function()
    local net = synfin.sim {}
    local a = net:host "192.0.2.1"
    net:host "2001:db8::2"
    local ok, err = pcall(a.connect, a, "2001:db8::2", 80)
    assert.is_false(ok)
    assert.matches("cannot connect 192.0.2.1 to [2001:db8::2]:80: invalid argument (this host has no IPv6 address", err, 1, true)
    ok, err = pcall(a.send, a, { src = "192.0.2.1", dst = "2001:db8::2", sport = 1, dport = 80, flags = "S" })
    assert.is_false(ok)
    assert.matches("invalid argument", err, 1, true)
  end)

  it("an IPv6 address is written as RFC 5952 says, whatever the script wrote", function()
    local net = synfin.sim {}
    local h = net:host "2001:DB8:0:0:0:0:0:0001"
    assert.equal("2001:db8::1", h.addr)
    assert.equal(h, net.by_addr["2001:db8::1"])
  end)
end)
