-- D-SACK (RFC 2883), the linux profile's (Linux's tcp_dsack = 1): with SACK
-- agreed, a segment that brings data we hold already is reported in the
-- first SACK block of the ACK it draws, once; the usual blocks follow in
-- their order (RFC 2018 §4). The cases are RFC 2883's (§4.1.1 to §4.1.3),
-- then Linux's tcp_dsack_mult.pkt (tools/testing/selftests/net/packetdrill),
-- with 1000-byte segments. Sequence numbers are relative: both sides at 1
-- after the fixture's handshake, without timestamps (four blocks fit).
local fixture = require("synfin.fixture").with_timing "rfc6298"

local SEG = 1000
local data = ("0123456789"):rep(SEG // 10)

-- the peer's bytes [from, to) as a segment
local function bytes(t, from, to)
  t:send { seq = from, payload = data:rep((to - from) // SEG) }
end

local function established(settings)
  return fixture.at_state("ESTABLISHED", { peer_sack = true, settings = settings })
end

describe("D-SACK (RFC 2883)", function()
  it("§4.1.1: a segment received twice (its ACK lost) is reported as the only block", function()
    local t = established()
    bytes(t, 1, 1001)
    assert.is_nil(t:expect({ flags = "=A", ack = 1001 }).sack)
    bytes(t, 1, 1001) -- again: old data, not acceptable, and a duplicate
    assert.same({ { 1, 1001 } }, t:expect({ flags = "=A", ack = 1001 }).sack)
    bytes(t, 1001, 2001) -- the report goes once: the next ACK has none
    assert.is_nil(t:expect({ flags = "=A", ack = 2001 }).sack)
  end)

  it("§4.1.1: a segment that starts below RCV.NXT reports only its old part", function()
    local t = established()
    bytes(t, 1, 1001)
    t:expect { flags = "=A", ack = 1001 }
    t:send { seq = 501, payload = data } -- 501:1501, half of it new
    assert.same({ { 501, 1001 } }, t:expect({ flags = "=A", ack = 1501 }).sack)
  end)

  it("§4, §4.1.2: a duplicate of data held out of order comes first, the block that holds it second", function()
    -- RFC 2883 §4: "the second SACK block ... should specify that (possibly
    -- larger) block". Linux, as its tcp_data_queue_ofo reads (not run
    -- here), leaves its blocks in their order (the duplicate is dropped
    -- before tcp_sack_new_ofo_skb): 2001:3001, 4001:5001, 2001:3001; no
    -- corpus script covers the case.
    local t = established()
    bytes(t, 2001, 3001)
    assert.same({ { 2001, 3001 } }, t:expect({ flags = "=A", ack = 1 }).sack)
    bytes(t, 4001, 5001)
    assert.same({ { 4001, 5001 }, { 2001, 3001 } }, t:expect({ flags = "=A", ack = 1 }).sack)
    bytes(t, 2001, 3001) -- again
    assert.same({ { 2001, 3001 }, { 2001, 3001 }, { 4001, 5001 } }, t:expect({ flags = "=A", ack = 1 }).sack)
  end)

  it("tcp_dsack_mult: in-order data over held blocks reports the first one it covered, then the rest", function()
    local t = established()
    bytes(t, 1001, 2001)
    assert.same({ { 1001, 2001 } }, t:expect({ flags = "=A", ack = 1 }).sack)
    bytes(t, 2001, 3001)
    assert.same({ { 1001, 3001 } }, t:expect({ flags = "=A", ack = 1 }).sack)
    bytes(t, 4001, 5001)
    assert.same({ { 4001, 5001 }, { 1001, 3001 } }, t:expect({ flags = "=A", ack = 1 }).sack)
    bytes(t, 7001, 8001)
    assert.same({ { 7001, 8001 }, { 4001, 5001 }, { 1001, 3001 } }, t:expect({ flags = "=A", ack = 1 }).sack)
    -- 1:6001 fills both holes below 6001 and covers 1001:3001 and 4001:5001:
    -- the first is the D-SACK (the second does not touch it), 7001:8001 held
    bytes(t, 1, 6001)
    assert.same({ { 1001, 3001 }, { 7001, 8001 } }, t:expect({ flags = "=A", ack = 6001 }).sack)
    bytes(t, 6001, 8001) -- covers what was held: only the D-SACK
    assert.same({ { 7001, 8001 } }, t:expect({ flags = "=A", ack = 8001 }).sack)
    bytes(t, 1, 1001) -- an older segment
    assert.same({ { 1, 1001 } }, t:expect({ flags = "=A", ack = 8001 }).sack)
    t:expect_nothing(0.5)
  end)

  it("is off with dsack = false and in the rfc profile: the duplicate draws a plain ACK", function()
    for _, settings in ipairs { { dsack = false }, { profile = "rfc" } } do
      local t = established(settings)
      bytes(t, 1, 1001)
      t:expect { flags = "=A", ack = 1001 }
      bytes(t, 1, 1001)
      assert.is_nil(t:expect({ flags = "=A", ack = 1001 }).sack)
    end
  end)

  it("needs SACK agreed: a peer without SACK-permitted gets no blocks", function()
    local t = fixture.at_state("ESTABLISHED")
    bytes(t, 1, 1001)
    t:expect { flags = "=A", ack = 1001 }
    bytes(t, 1, 1001)
    assert.is_nil(t:expect({ flags = "=A", ack = 1001 }).sack)
  end)
end)
