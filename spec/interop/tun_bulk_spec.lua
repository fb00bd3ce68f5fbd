-- Bulk transfer between synfin and the Linux kernel over TUN (issue 5):
-- 100 MiB each way with a hook dropping 1% of the segments and another
-- delaying 1% by 10 ms, in both directions; what arrives hashes (SHA-256)
-- as what left; over IPv4 and IPv6 (helpers.families: the device's
-- addresses f.tun). Runs only through spec/netns/run (ctest: interop/tun_bulk_spec).
-- The throughput is measured by spec/bench/tun_throughput.lua, not
-- asserted here. SYNFIN_BULK_MIB sets the size (the sanitizer build runs
-- 8 MiB: the same code, instrumented; its memory checks matter there, not
-- the volume):
--   SYNFIN_BULK_MIB=10 spec/netns/run lua5.4 /usr/bin/busted spec/interop/tun_bulk_spec.lua
-- (with LUA_PATH/LUA_CPATH as ctest sets them for the specs).
local kernel = require "interop.kernel"
local bulk = require "interop.bulk"
local families = require "helpers.families"

kernel.need_namespace "lua5.4 /usr/bin/busted spec/interop/tun_bulk_spec.lua"

local MiB = 1 << 20
-- 100 MiB, the issue's figure
local SIZE = (tonumber(os.getenv("SYNFIN_BULK_MIB")) or 100) * MiB

families.describe(("over TUN, %d MiB each way with 1%% of segments dropped and 1%% delayed"):format(SIZE // MiB),
  function(f)
    for i, dir in ipairs { "to_kernel", "from_kernel" } do
      it(dir:gsub("_", " ") .. ": the SHA-256 is the same at both ends", function()
        local r = bulk.run { dir = dir, bytes = SIZE, loss = 0.01, delay = 0.01,
          port = 9200 + (f.name == "IPv6" and 10 or 0) + i, kernel = f.tun.kernel, synfin = f.tun.synfin }
        assert.is_nil(r.error)
        assert.equal(SIZE, r.received)
        assert.equal(r.sent_sha256, r.received_sha256)
        -- the faults happened: about 1% of the segments (data one way, ACKs
        -- the other) each; a segment is the family's MSS less timestamps
        local segments = SIZE // (f.mss - 12)
        assert.truthy(r.dropped > segments // 200, ("only %d segments dropped"):format(r.dropped))
        assert.truthy(r.delayed > segments // 200, ("only %d segments delayed"):format(r.delayed))
      end)
    end
  end)
