-- synfin --pkt and packetdrill's --ip_version on the sim: ipv6 runs a
-- script over IPv6 (packetdrill's fd3d:fa7b:d17d::/48 for the system under
-- test, AF_INET6 sockets, a link of MTU 1520 so that the MSS is 1460 as
-- over IPv4), a script's own --ip_version line wins over the run's, and
-- what the sim cannot do is unsupported, never passed.
local pkt = require "synfin.pkt"
local run = require "synfin.pkt_run"
local HANDSHAKE = require "helpers.pkt_handshake"

local function sim(text, opts)
  opts = opts or {}
  opts.target = "sim"
  return run.events(assert(pkt.parse(text, "t.pkt")), opts)
end

-- an active open without options, then a write of 1300 bytes: 1220 and 80
-- over IPv6, whose default MSS is 1220; over IPv4 (536) not (RFC 9293
-- §3.7.1, MUST-15)
local NO_MSS = [[
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0...0.05 connect(3, ..., ...) = 0
0   > S 0:0(0) <...>
+.05 < S. 0:0(0) ack 1 win 65535
+0  > . 1:1(0) ack 1
+0  write(3, ..., 1300) = 1300
+0  > . 1:1221(1220) ack 1
+0  > P. 1221:1301(80) ack 1
]]

describe("synfin --pkt --ip_version", function()
  it("ipv6: the handshake's MSS is 1460 on the sim's IPv6 link, as packetdrill's --mtu=1520 makes it", function()
    local r = sim(HANDSHAKE .. "+0  close(4) = 0\n+0  > F. 1:1(0) ack 1\n", { ip_version = "ipv6" })
    assert.equal("passed", r.status, r.message)
  end)

  it("ipv6: the addresses are packetdrill's IPv6 ones and the sockets AF_INET6", function()
    local src = assert(run.to_lua(assert(pkt.parse(HANDSHAKE, "t.pkt")), { target = "sim", ip_version = "ipv6" }))
    assert.truthy(src:find('local KERNEL, REMOTE, PORT = "fd3d:fa7b:d17d::1", "fd3d:fa7b:d17d::2", 8080', 1, true))
    assert.truthy(src:find('"AF_INET6"', 1, true), src)
  end)

  it("MUST-15 shows: without an MSS option an IPv6 peer gets 1220-byte segments, an IPv4 one 536", function()
    assert.equal("passed", sim(NO_MSS, { ip_version = "ipv6" }).status)
    local r = sim(NO_MSS, { ip_version = "ipv4" })
    assert.same({ "failed", 7 }, { r.status, r.line }) -- the 1220-byte segment's line
  end)

  it("a script's own --ip_version line wins over the run's", function()
    assert.equal("passed", sim("--ip_version=ipv6\n" .. NO_MSS, { ip_version = "ipv4" }).status)
    assert.equal("failed", sim("--ip_version=ipv4\n" .. NO_MSS, { ip_version = "ipv6" }).status)
  end)

  it("socket(AF_INET, ...) on an IPv6 run is unsupported, saying which domain the run has", function()
    local r = sim("0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3\n", { ip_version = "ipv6" })
    assert.same({ "unsupported", 1 }, { r.status, r.line })
    assert.truthy(r.message:find("only AF_INET6", 1, true), r.message)
  end)

  it("ipv4-mapped-ipv6 is unsupported on the sim, and an unknown family anywhere", function()
    local r = sim(HANDSHAKE, { ip_version = "ipv4-mapped-ipv6" })
    assert.equal("unsupported", r.status)
    assert.truthy(r.message:find("IPv4-mapped", 1, true), r.message)
    r = sim("--ip_version=ipv5\n" .. HANDSHAKE)
    assert.same({ "unsupported", "option --ip_version" }, { r.status, r.message })
  end)
end)
