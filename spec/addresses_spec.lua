-- Addresses that cannot be TCP endpoints (RFC 9293 §3.9.1.1, §3.9.2.3).
local synfin = require "synfin"
local fixture = require "synfin.fixture"

describe("invalid addresses", function()
  it("MUST-46: an OPEN to a broadcast or multicast address is refused, and nothing is sent", function()
    local net = synfin.sim {}
    local a = net:host "10.0.0.1"
    for _, addr in ipairs { "255.255.255.255", "224.0.0.1", "239.1.2.3", "0.0.0.0", "240.0.0.1" } do
      local ok, err = pcall(a.connect, a, addr, 80)
      assert.is_false(ok)
      assert.matches("addresses_spec.lua:%d+: synfin: cannot connect 10.0.0.1 to " .. addr:gsub("%.", "%%.")
        .. ":80: invalid argument %(", err)
    end
    assert.equal(0, #net:records())
  end)

  it("MUST-63: a SYN from a broadcast or multicast source is ignored: no connection, no reply", function()
    local t = fixture.at_state("LISTEN")
    for _, src in ipairs { "255.255.255.255", "224.0.0.1" } do
      t.them:send { src = src, flags = "S", abs_seq = 7, sport = 1234, dport = fixture.PORT }
    end
    t:expect_nothing(1)
    local ignored = 0
    for _, r in ipairs(t.net:records()) do
      assert.is_false(r.kind == "state" and r.new == "SYN_RCVD", "a SYN_RCVD child was made")
      if r.kind == "note" and r.text == "source address not unicast: ignored" then ignored = ignored + 1 end
    end
    assert.equal(2, ignored)
  end)

  it("MUST-57: a SYN addressed to a broadcast or multicast address is silently discarded", function()
    local t = fixture.at_state("LISTEN")
    for _, dst in ipairs { "255.255.255.255", "224.0.0.1" } do
      t.them:inject("egress", { dst = dst, flags = "S", abs_seq = 7, sport = 1234, dport = fixture.PORT })
    end
    t:expect_nothing(1)
    -- and were one to reach the host itself, it is not addressed to it
    t.us:inject("ingress", { src = fixture.THEM, dst = "255.255.255.255", flags = "S", abs_seq = 7,
      sport = 1234, dport = fixture.PORT })
    t:expect_nothing(1)
    local dropped = false
    for _, r in ipairs(t.net:records()) do
      if r.kind == "note" and r.text == "not addressed to this host" then dropped = true end
    end
    assert.is_true(dropped)
  end)
end)
