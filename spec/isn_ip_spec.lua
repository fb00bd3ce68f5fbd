-- Initial sequence numbers (RFC 9293 §3.4.1, RFC 6528) and the IP fields a
-- connection sends with (RFC 9293 §3.9.1.9, §3.9.2).
local synfin = require "synfin"
local fixture = require "synfin.fixture"

-- The ISN of the SYN a host sends from sport to 10.0.0.2:80, at time at.
local function isn(settings, sport, at)
  local net = synfin.sim { seed = 1 }
  local a = net:host("10.0.0.1", settings)
  net:peer "10.0.0.2"
  if at then net:sleep(at) end
  a:connect("10.0.0.2", 80, { sport = sport })
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" then return r.abs_seq end
  end
end

describe("ISNs", function()
  it("MUST-9, SHLD-1: F is a keyed PRF (SipHash-2-4): same key, tuple and time give the same ISN, another key another one", function()
    local k1, k2 = "0123456789abcdef", "0123456789abcdeg"
    assert.equal(isn({ secret = k1 }, 40000), isn({ secret = k1 }, 40000))
    assert.not_equal(isn({ secret = k1 }, 40000), isn({ secret = k2 }, 40000))
  end)

  it("MUST-9, SHLD-1: neighbouring 4-tuples get unrelated ISNs", function()
    local seen, last = {}, nil
    for sport = 40000, 40031 do
      local v = isn({ secret = "0123456789abcdef" }, sport)
      assert.is_nil(seen[v])
      seen[v] = true
      if last then assert.is_true(math.abs(v - last) > 1000000) end -- no small steps between neighbours
      last = v
    end
  end)

  it("the sim derives each host's key from its seed, so that a run is the same every time", function()
    assert.equal(isn(nil, 40000), isn(nil, 40000))
  end)
end)

describe("IP fields", function()
  it("MUST-49: the TTL of what a connection sends is 64 unless set", function()
    local t = fixture.at_state("SYN_SENT")
    local syn = t.net:records()[2] -- [1] is the state change
    assert.equal("S", syn.flags)
    assert.equal(64, syn.ttl)
  end)

  it("MUST-49: the TTL is configurable", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { ttl = 7 } })
    t.c:send("x")
    assert.equal(7, t:expect({ flags = "PA" }).ttl)
  end)

  it("MUST-48, SHLD-22: the application sets the Differentiated Services field, passed to IP unchanged", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { tos = 0xb8 } }) -- DSCP EF
    t.c:send("x")
    assert.equal(0xb8, t:expect({ flags = "PA" }).tos)
  end)

  it("SHLD-21: the application changes the Differentiated Services field during the connection", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("a")
    assert.equal(0, t:expect({ flags = "PA" }).tos)
    t.c:set { tos = 0x28 } -- DSCP AF11
    t.c:send("b")
    assert.equal(0x28, t:expect({ flags = "PA" }).tos)
  end)
end)
