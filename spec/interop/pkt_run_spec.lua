-- synfin.pkt_run against the kernel: a runner that cannot fail is
-- worthless, so each case here is a script that is wrong somewhere (a
-- flag, an ACK number, a packet 0.5 s late, a python block, a return
-- value), and the runner must say failed (or unsupported) at that line.
-- Runs only through spec/netns/run, in a network namespace of its own.
local interop = require "interop.kernel"
local pkt = require "synfin.pkt"
local run = require "synfin.pkt_run"

interop.need_namespace "lua5.4 /usr/bin/busted spec/interop/pkt_run_spec.lua"

-- the passive open every case starts from (lines 1 to 8)
local HANDSHAKE = require "helpers.pkt_handshake"

local subnet = 100
local function script(text, ip_version)
  local events = assert(pkt.parse(HANDSHAKE .. text, "case.pkt"))
  subnet = subnet + 1 -- a subnet each: the sockets of the case before linger
  return run.events(events, { subnet = subnet, ip_version = ip_version })
end

-- packetdrill's --ip_version=ipv6 and ipv4-mapped-ipv6: the kernel's
-- AF_INET6 sockets, over an IPv6 TUN device (MTU 1520) or the IPv4 one
for _, v in ipairs { "ipv6", "ipv4-mapped-ipv6" } do
  describe("synfin.pkt_run: scripts against the kernel, --ip_version=" .. v, function()
    it("a right script passes", function()
      local r = script("+0  close(4) = 0\n+0  > F. 1:1(0) ack 1\n", v)
      assert.equal("passed", r.status, r.message)
    end)

    it("wrong flags fail at their line, the trace at the family's addresses", function()
      local r = script("+0  close(4) = 0\n+0  > R. 1:1(0) ack 1\n", v)
      assert.same({ "failed", 10 }, { r.status, r.line })
      assert.truthy(r.message:find("actual:   > F. 1:1(0) ack 1", 1, true), r.message)
      assert.truthy(r.trace:find(v == "ipv6" and "fd3d:fa7b:d17d:" or "10.74.", 1, true), r.trace)
    end)
  end)
end

describe("synfin.pkt_run: scripts against the kernel", function()
  it("a right script passes", function()
    local r = script "+0  close(4) = 0\n+0  > F. 1:1(0) ack 1\n"
    assert.equal("passed", r.status, r.message)
  end)

  it("wrong flags fail at their line, saying what came", function()
    local r = script "+0  close(4) = 0\n+0  > R. 1:1(0) ack 1\n"
    assert.equal("failed", r.status)
    assert.equal(10, r.line)
    assert.truthy(r.message:find("flags differ", 1, true), r.message)
    assert.truthy(r.message:find("expected: > R. 1:1(0) ack 1", 1, true), r.message)
    assert.truthy(r.message:find("actual:   > F. 1:1(0) ack 1", 1, true), r.message)
    assert.truthy(r.trace:find("FA seq=1 ack=1", 1, true), r.trace) -- the ladder's tail
  end)

  it("a wrong ACK number fails at its line", function()
    local r = script "+0  close(4) = 0\n+0  > F. 1:1(0) ack 2\n"
    assert.equal("failed", r.status)
    assert.equal(10, r.line)
    assert.truthy(r.message:find("ack 1, not 2", 1, true), r.message)
  end)

  it("a packet 0.5 s late: the script says +0.5, the kernel sends it at once", function()
    local r = script "+0  close(4) = 0\n+.5 > F. 1:1(0) ack 1\n"
    assert.equal("failed", r.status)
    assert.equal(10, r.line)
    assert.truthy(r.message:find("early", 1, true), r.message)
  end)

  it("a packet 0.5 s late: the SYN-ACK's retransmission comes after 1 s, the script says 0.5 s", function()
    subnet = subnet + 1
    local r = run.events(assert(pkt.parse([[
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460>
+0  > S. 0:0(0) ack 1 <mss 1460>
+.5 > S. 0:0(0) ack 1 <mss 1460>
]], "late.pkt")), { subnet = subnet })
    assert.equal("failed", r.status)
    assert.equal(6, r.line)
    local late = tonumber(r.message:match("came at t=[%d.]+ s, ([%d.]+) s late"))
    assert.truthy(late, r.message)
    assert.is_true(late > 0.4 and late < 0.7, r.message)
  end)

  it("time that goes backwards fails", function()
    local r = script "1.0 close(4) = 0\n0.5 > F. 1:1(0) ack 1\n"
    assert.equal("failed", r.status)
    assert.equal(10, r.line)
    assert.truthy(r.message:find("backwards", 1, true), r.message)
  end)

  it("a packet that never comes fails after the tolerance, at its line", function()
    local r = script("+0  write(4, ..., 10) = 10\n+0  > P. 1:11(10) ack 1\n+0  < . 1:1(0) ack 11 win 65535\n"
      .. "+.2 > F. 11:11(0) ack 1\n")
    assert.equal("failed", r.status)
    assert.equal(12, r.line)
    assert.truthy(r.message:find("nothing came", 1, true), r.message)
  end)

  it("a kernel packet the script does not expect fails at the next event", function()
    local r = script "+0  close(4) = 0\n+.2 < . 1:1(0) ack 2 win 65535\n"
    assert.equal("failed", r.status)
    assert.equal(10, r.line)
    assert.truthy(r.message:find("unexpected packet from the kernel", 1, true), r.message)
  end)

  it("a wrong return value or errno fails at the call's line", function()
    local r = script "+0  write(4, ..., 10) = 11\n"
    assert.equal("failed", r.status)
    assert.equal(9, r.line)
    assert.truthy(r.message:find("returned 10", 1, true), r.message)
    r = script "+0  < R. 1:1(0) ack 1 win 0\n+.01 read(4, ..., 10) = -1 EPIPE (Broken pipe)\n"
    assert.equal("failed", r.status)
    assert.equal(10, r.line)
    assert.truthy(r.message:find("ECONNRESET", 1, true), r.message)
  end)

  it("a blocking call that returns early fails", function()
    local r = script "+0  < P. 1:11(10) ack 1 win 65535\n+0...0.3 read(4, ..., 10) = 10\n"
    assert.equal("failed", r.status)
    assert.equal(10, r.line)
    assert.truthy(r.message:find("early", 1, true), r.message)
  end)

  it("a python block is unsupported, at its line, and nothing runs", function()
    local r = script "+0  close(4) = 0\n+0 %{\nassert tcpi_state == 1\n}%\n+0  > F. 1:1(0) ack 1\n"
    assert.equal("unsupported", r.status)
    assert.equal(10, r.line)
    assert.truthy(r.message:find("python", 1, true), r.message)
    assert.equal(0, r.seconds)
  end)

  it("an argument the runner cannot map is unsupported", function()
    local r = script "+0  fcntl(4, F_GETFL) = 2\n"
    assert.equal("unsupported", r.status)
    assert.equal(9, r.line)
    assert.truthy(r.message:find("F_SETFL", 1, true), r.message)
  end)
end)
