-- TUN offloads (core/io/tun.c, sf_tun_config.offload): with them on (the
-- default), the kernel hands synfin GSO super-segments, which the driver
-- splits into the segments a wire would carry before the net sees them.
-- A transfer from the kernel arrives whole (SHA-256 at both ends),
-- super-segments were really read, and no hook saw more than one MSS of
-- payload; with them off, no super-segment comes. A segment the kernel
-- does not vouch for (a raw socket's: no offload flag) is verified, and
-- dropped if corrupt. Runs only through spec/netns/run (ctest:
-- interop/tun_offload_spec).
local kernel = require "interop.kernel"
local bulk = require "interop.bulk"
local families = require "helpers.families"

kernel.need_namespace "lua5.4 /usr/bin/busted spec/interop/tun_offload_spec.lua"

local MiB = 1 << 20
local SIZE = math.min(tonumber(os.getenv("SYNFIN_BULK_MIB")) or 32, 32) * MiB
local scope = kernel.scope(after_each)

-- Sends a SYN from the kernel's address through a raw socket of Python's
-- (IP_HDRINCL: the kernel fills the IPv4 checksum, never the TCP one, and
-- the packet reaches the device with no checksum offload flag), with its
-- TCP checksum right, or wrong when `corrupt`.
local function raw_syn(src, dst, sport, dport, corrupt)
  local script = [[
import socket, struct, sys
src, dst, sport, dport, corrupt = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s_, d_ = socket.inet_aton(src), socket.inet_aton(dst)
tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)
c = csum(s_ + d_ + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
if corrupt: c ^= 0x5a5a
tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, s_, d_)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + tcp, (dst, 0))
]]
  local cmd = ("timeout 10 python3 -c '%s' %s %s %d %d %s"):format(script, src, dst, sport, dport,
    corrupt and "1" or "0")
  assert(os.execute(cmd), "the raw socket's SYN was not sent")
end

local MSS = 1460 -- synfin's MSS at the device's MTU of 1500 (the kernel sends 1448 with timestamps)

describe(("over TUN with offloads, %d MiB from the kernel"):format(SIZE // MiB), function()
  it("arrives whole, as super-segments split into wire segments", function()
    local r = bulk.run { dir = "from_kernel", bytes = SIZE, port = 9210, largest = true }
    assert.is_nil(r.error)
    assert.equal(SIZE, r.received)
    assert.equal(r.sent_sha256, r.received_sha256)
    assert.is_true(r.device.offload)
    assert.truthy(r.device.rx_super > 0, "no super-segment was read")
    assert.truthy(r.device.rx_split > r.device.rx_super,
      ("%d super-segments split into only %d segments"):format(r.device.rx_super, r.device.rx_split))
    assert.truthy(r.largest > 0 and r.largest <= MSS, ("a hook saw %d bytes of payload"):format(r.largest))
  end)

  it("over IPv6 too: TSO6 super-segments split into wire segments of IPv6's MSS, and arrive whole", function()
    local v6 = families.list[2]
    local r = bulk.run { dir = "from_kernel", bytes = SIZE // 4, port = 9214, largest = true,
      kernel = v6.tun.kernel, synfin = v6.tun.synfin }
    assert.is_nil(r.error)
    assert.equal(SIZE // 4, r.received)
    assert.equal(r.sent_sha256, r.received_sha256)
    assert.truthy(r.device.rx_super > 0, "no IPv6 super-segment was read")
    assert.truthy(r.device.rx_split > r.device.rx_super)
    assert.truthy(r.largest > 0 and r.largest <= v6.mss, ("a hook saw %d bytes of payload"):format(r.largest))
  end)

  it("over IPv6 to the kernel: segments sent back to back go as TSO6 super-segments, and arrive whole", function()
    local v6 = families.list[2]
    local r = bulk.run { dir = "to_kernel", bytes = SIZE // 4, port = 9215, kernel = v6.tun.kernel,
      synfin = v6.tun.synfin }
    assert.is_nil(r.error)
    assert.equal(r.sent_sha256, r.received_sha256)
    assert.truthy(r.device.tx_super > 0, "no IPv6 super-segment was written")
    assert.truthy(r.device.tx_packets < (SIZE // 4) // v6.mss, -- fewer writes than segments
      ("%d writes for %d bytes"):format(r.device.tx_packets, SIZE // 4))
  end)

  it("to the kernel too: segments sent back to back go as super-segments, and arrive whole", function()
    local r = bulk.run { dir = "to_kernel", bytes = SIZE // 4, port = 9211 }
    assert.is_nil(r.error)
    assert.equal(r.sent_sha256, r.received_sha256)
    assert.is_true(r.device.offload)
    assert.truthy(r.device.tx_super > 0, "no super-segment was written")
    assert.truthy(r.device.tx_packets < (SIZE // 4) // MSS, -- fewer writes than segments
      ("%d writes for %d bytes"):format(r.device.tx_packets, SIZE // 4))
  end)

  -- (that recovery enters on the SACKed bytes, as the kernel ACKs a
  -- super-segment once, is pinned on the sim: sack_spec's RFC 6675 IsLost)
  it("to the kernel with 1% loss: super-segments and retransmissions arrive whole", function()
    local r = bulk.run { dir = "to_kernel", bytes = 4 << 20, port = 9213, loss = 0.01 }
    assert.is_nil(r.error)
    assert.equal(r.sent_sha256, r.received_sha256)
    assert.truthy(r.device.tx_super > 0)
    assert.truthy(r.retransmits > 0) -- the loss was recovered from, not absent
    assert.truthy(r.seconds < 20, ("4 MiB with 1%% loss took %.1f s: a stall"):format(r.seconds))
  end)

  it("a segment the kernel does not vouch for is verified: corrupt, dropped; sound, answered", function()
    local net, server = scope.tun_net("10.73.0.2")
    server:listen(9214)
    local records
    net:run(function()
      net:sleep(0.05)
      raw_syn("10.73.0.1", "10.73.0.2", 5555, 9214, true)
      raw_syn("10.73.0.1", "10.73.0.2", 5556, 9214, false)
      for _ = 1, 200 do -- at most 2 s for both to be read and the good one answered
        net:sleep(0.01)
        records = net:records()
        local answered = false
        for _, r in ipairs(records) do
          answered = answered or (r.kind == "seg" and r.flags == "SA" and r.dport == 5556)
        end
        if answered then break end
      end
    end)
    local syns, answers, bad = {}, {}, 0
    for _, r in ipairs(records) do
      if r.kind == "seg" and r.flags == "S" and r.dport == 9214 then syns[r.sport] = true end
      if r.kind == "seg" and r.flags == "SA" then answers[r.dport] = true end
      if r.kind == "note" and r.code == "bad_checksum" then bad = bad + 1 end
    end
    assert.is_true(net:device_stats().offload)
    assert.is_true(syns[5555] and syns[5556], "both SYNs are on the wire, in the trace")
    assert.equal(1, bad) -- the corrupt one, dropped (RFC 9293 MUST-2, MUST-3)
    assert.is_nil(answers[5555])
    assert.is_true(answers[5556])
  end)

  it("off: one wire segment per read and per write, and the bytes still whole", function()
    local r = bulk.run { dir = "from_kernel", bytes = SIZE // 4, port = 9212, offload = false, largest = true }
    assert.is_nil(r.error)
    assert.equal(r.sent_sha256, r.received_sha256)
    assert.is_false(r.device.offload)
    assert.equal(0, r.device.rx_super)
    assert.equal(0, r.device.tx_super)
    assert.truthy(r.largest <= MSS)
  end)
end)
