-- Selective acknowledgment as a receiver (RFC 2018): SACK-permitted is
-- offered and agreed in the SYNs, and every ACK sent while data past a
-- hole is held names the held blocks, the block of the segment that came
-- last first. The cases are RFC 2018's own (§4, pages 8-9), with 500-byte
-- segments; smoltcp's test_established_rfc2018_cases asserts the same.
local synfin = require "synfin"
local fixture = require "synfin.fixture"

local SEG = 500
local data = ("0123456789"):rep(SEG // 10)

-- The peer's segment number i (1-based), relative seq 1 + (i-1)*500.
local function seq(i) return 1 + (i - 1) * SEG end

local function established(opts)
  opts = opts or {}
  opts.peer_sack = opts.peer_sack ~= false
  return fixture.at_state("ESTABLISHED", opts)
end

describe("SACK (RFC 2018) as a receiver", function()
  it("case 2: the first segment is lost, the next seven each draw ACK 1 with one growing block", function()
    local t = established()
    for i = 2, 8 do
      t:send { seq = seq(i), payload = data }
      local ack = t:expect { flags = "=A", ack = 1 }
      assert.same({ { seq(2), seq(i) + SEG } }, ack.sack)
    end
    t:send { seq = seq(1), payload = data } -- the hole is filled: a plain ACK of it all
    local ack = t:expect { flags = "=A", ack = seq(8) + SEG }
    assert.is_nil(ack.sack)
    assert.equal(8 * SEG, #t.c:recv(8 * SEG, 1))
  end)

  it("case 3: segments 2, 4, 6 and 8 are lost; the blocks come latest first", function()
    local t = established()
    t:send { seq = seq(1), payload = data }
    assert.is_nil(t:expect({ flags = "=A", ack = seq(2) }).sack)
    t:send { seq = seq(3), payload = data }
    assert.same({ { seq(3), seq(4) } }, t:expect({ flags = "=A", ack = seq(2) }).sack)
    t:send { seq = seq(5), payload = data }
    assert.same({ { seq(5), seq(6) }, { seq(3), seq(4) } }, t:expect({ flags = "=A", ack = seq(2) }).sack)
    t:send { seq = seq(7), payload = data }
    assert.same({ { seq(7), seq(8) }, { seq(5), seq(6) }, { seq(3), seq(4) } },
      t:expect({ flags = "=A", ack = seq(2) }).sack)
    -- "the fourth packet arrives out of order": it joins blocks 3 and 5
    t:send { seq = seq(4), payload = data }
    assert.same({ { seq(3), seq(6) }, { seq(7), seq(8) } }, t:expect({ flags = "=A", ack = seq(2) }).sack)
    -- the second arrives: the ACK jumps to the next hole, one block is left
    t:send { seq = seq(2), payload = data }
    assert.same({ { seq(7), seq(8) } }, t:expect({ flags = "=A", ack = seq(6) }).sack)
  end)

  it("names at most 3 blocks beside timestamps, 4 without, the latest first", function()
    for _, ts in ipairs { false, true } do
      local t = established()
      -- the fixture's peer sends no timestamps; with ts the peer's SYN-ACK
      -- must carry them for both to agree
      if ts then
        t = fixture.new { peer_sack = true }
        t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
        t:expect { flags = "=S" }
        t:send { flags = "SA", seq = 0, ack = 1, ts_val = 1, ts_ecr = 0 }
        t:expect { flags = "=A", seq = 1, ack = 1 }
      end
      local ack
      for i = 2, 10, 2 do -- five blocks: 2, 4, 6, 8, 10
        t:send { seq = seq(i), payload = data, ts_val = ts and i or nil, ts_ecr = ts and 0 or nil }
        ack = t:expect { flags = "=A", ack = 1 }
      end
      local want = { { seq(10), seq(11) }, { seq(8), seq(9) }, { seq(6), seq(7) }, { seq(4), seq(5) } }
      if ts then want[4] = nil end
      assert.same(want, ack.sack)
    end
  end)

  it("negotiates: SACK-permitted on our SYN, and SACK blocks only when the peer permitted them too", function()
    local t = established { peer_sack = false }
    t:send { seq = seq(2), payload = data }
    assert.is_nil(t:expect({ flags = "=A", ack = 1 }).sack)

    -- sack = false: no offer, and none taken
    t = fixture.new { peer_sack = true, settings = { sack = false } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    assert.is_nil(t:expect({ flags = "=S" }).sack_perm)
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect { flags = "=A", seq = 1, ack = 1 }
    t:send { seq = seq(2), payload = data }
    assert.is_nil(t:expect({ flags = "=A", ack = 1 }).sack)
  end)

  it("shows the blocks in the ladder, relative to the sender's ISN", function()
    local t = established()
    t:send { seq = seq(3), payload = data }
    t:expect { flags = "=A", ack = 1 }
    assert.matches("#%d+ A seq=1 ack=1 win=%d+ <sack 1001%-1501>", t.net:trace():text())
  end)

  it("helps a lossy transfer between two synfin hosts end with the data whole", function()
    local net = synfin.sim { seed = 4, latency = 0.01, loss = 0.03 }
    local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
    local l = b:listen(80)
    local payload = ("abcdefghij"):rep(6000) -- fits the receive buffer: no reader needed meanwhile
    local got, sacks = {}, 0
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 5)
      local s = l:accept(5)
      c:send_all(payload, 60)
      c:close()
      while true do
        local d = s:recv(nil, 60)
        if not d then break end
        got[#got + 1] = d
      end
    end)
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.sack then sacks = sacks + 1 end
    end
    assert.equal(payload, table.concat(got))
    assert.truthy(sacks > 0, "no ACK carried a SACK block")
  end)
end)
