-- The tolerance of expectations on a real-time net (net:set_tolerance),
-- against the kernel's own timer: Linux resends an unanswered SYN-ACK
-- after its initial RTO, 1 s (RFC 6298 (2.1); TCP_TIMEOUT_INIT). Runs only
-- through spec/netns/run, in a network namespace of its own; on IPv4 and
-- IPv6 (helpers.families: f.tun's addresses).
local synfin = require "synfin"
local kernel = require "interop.kernel"
local families = require "helpers.families"

kernel.need_namespace "lua5.4 /usr/bin/busted spec/interop/tolerance_spec.lua"

local scope = kernel.scope(after_each)
local on_cleanup = scope.on_cleanup

-- A kernel listener on port, and a synfin client whose handshake's last
-- ACK is lost (count times; nil: always), at f.tun's addresses: the kernel
-- stays in SYN-RECV and resends its SYN-ACK. Returns the connection and the first SYN-ACK's record.
local function withheld_handshake(f, net, port, count)
  local client = net:host(f.tun.synfin, { name = "synfin" })
  local proc = kernel.start { "server", f.tun.kernel, tostring(port) }
  on_cleanup(function() proc:stop() end)
  proc:wait_for(net, "listening", 10)
  client:hook("egress", { flags = "=A", count = count }, function() return "drop" end)
  local c = client:connect(f.tun.kernel, port)
  on_cleanup(function() c:abort() end)
  return c, net:expect({ from = net.kernel, flags = "SA" }, 2)
end

families.describe("over TUN", function(f)
  local KERNEL = f.tun.kernel

  describe("on a real-time net, the tolerance", function()
    it("is 20 ms + 10 % by default, or what synfin.tun and net:set_tolerance say", function()
      local net = synfin.tun { kernel = KERNEL }
      on_cleanup(function() net:close() end)
      assert.same({ abs = 0.02, pct = 0.1 }, net:tolerance())
      assert.near(0.12, net:slack(1), 1e-9)
      net:set_tolerance { abs = 0.05 }
      assert.same({ abs = 0.05, pct = 0 }, net:tolerance())
      local net2 = synfin.tun { kernel = KERNEL, tolerance = { abs = 0.05, pct = 0.1 } }
      on_cleanup(function() net2:close() end)
      assert.same({ abs = 0.05, pct = 0.1 }, net2:tolerance())
    end)

    it("lets the kernel's SYN-ACK come at its RTO, 1 s, give or take 0.12 s", function()
      local net = synfin.tun { kernel = KERNEL }
      on_cleanup(function() net:close() end)
      local again
      local first
      net:run(function()
        first = select(2, withheld_handshake(f, net, 9200, 1))
        again = net:expect_at({ from = net.kernel, flags = "SA" }, first.time + 1)
      end)
      local gap = again.time - first.time
      assert.truthy(math.abs(gap - 1) <= 0.12, ("resent after %.3f s"):format(gap))
    end)

    it("says by how much a real segment missed its time, and how long a wait went on", function()
      local net = synfin.tun { kernel = KERNEL }
      on_cleanup(function() net:close() end)
      local late, early, nothing, waited
      net:run(function()
        local _, first = withheld_handshake(f, net, 9201) -- every ACK lost: the SYN-ACK comes again and again
        -- expected half a second after the first, it comes ~0.5 s late
        _, late = pcall(net.expect_at, net, { from = net.kernel, flags = "SA" }, first.time + 0.5)
        local sa = kernel.segments(net, function(r) return r.flags == "SA" end)
        -- the RTO doubles: the next comes 2 s after, not 2.5 s: ~0.5 s early
        _, early = pcall(net.expect_at, net, { from = net.kernel, flags = "SA" }, sa[#sa].time + 2.5)
        -- no RST from the kernel within 0.2 s: the message gives the
        -- tolerance and how long it waited
        local t0 = net:now()
        _, nothing = pcall(net.expect, net, { from = net.kernel, flags = "R" }, 0.2)
        waited = net:now() - t0
      end)
      assert.matches("but segment #%d+ came at t=%d+%.%d+ s, 0%.%d+ s late", late)
      local by = tonumber(late:match("(%d%.%d+) s late"))
      assert.truthy(by > 0.3 and by < 0.7, late)
      assert.matches("0%.%d+ s early", early)
      assert.matches("expected within 0%.200 s %(%+0%.040 s tolerance%), nothing came for 0%.2%d+ s", nothing)
      assert.truthy(waited >= 0.24, ("waited %.3f s"):format(waited))
    end)
  end)
end)
