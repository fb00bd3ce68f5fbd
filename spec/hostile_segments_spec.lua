-- Hostile segments: what a peer (or an attacker on the path) may send that a
-- careful stack must survive. Each case checks the answer RFC 9293 (or the
-- RFC it names) gives, and that the connection still carries data after it.
local fixture = require "synfin.fixture"

-- The peer's side of a bulk transfer from us: ACK every segment we send,
-- as it comes, until `total` bytes have arrived; returns the segments' lengths.
local function drain(t, total, ts)
  local got, lens, clock = 0, {}, 10
  for _ = 1, 2 * total + 10 do
    local s = t:expect({ flags = "A" }, 5)
    lens[#lens + 1] = s.len
    got = got + s.len
    clock = clock + 1
    local ack = { flags = "A", ack = (s.seq + s.len) % 4294967296 }
    if ts then ack.ts_val, ack.ts_ecr = clock, s.ts_val end
    t:send(ack)
    if got >= total then break end
  end
  assert.equal(total, got)
  return lens
end

-- Our passive connection with a peer that agreed timestamps; the peer's
-- TSval clock is at 2 after the handshake.
local function established_ts(opts)
  local t = fixture.at_state("LISTEN", opts)
  t:send { flags = "S", seq = 0, ts_val = 1, ts_ecr = 0 }
  local synack = t:expect { flags = "=SA", seq = 0, ack = 1 }
  t:send { flags = "A", seq = 1, ack = 1, ts_val = 2, ts_ecr = synack.ts_val }
  t.c = assert(t.l:accept(1))
  t.our_ts = synack.ts_val
  return t
end

describe("a peer's tiny MSS (RFC 9293 §3.7.1, RFC 6691)", function()
  -- Linux floors the send MSS at 48 (tcp_min_snd_mss); the options every
  -- segment carries come out of it (RFC 6691), so timestamps leave 36 bytes
  for _, mss in ipairs { 1, 11, 12, 13, 47, 48, 100 } do
    for _, ts in ipairs { true, false } do
      local want = math.max(mss, 48) - (ts and 12 or 0)
      it(("MSS %d %s timestamps: segments of %d bytes, and every byte arrives"):format(
        mss, ts and "with" or "without", want), function()
        local t = fixture.at_state("LISTEN", { peer_mss = mss })
        local syn = { flags = "S", seq = 0 }
        if ts then syn.ts_val, syn.ts_ecr = 1, 0 end
        t:send(syn)
        local synack = t:expect { flags = "=SA", seq = 0, ack = 1 }
        local ack = { flags = "A", seq = 1, ack = 1 }
        if ts then ack.ts_val, ack.ts_ecr = 2, synack.ts_val end
        t:send(ack)
        t.c = assert(t.l:accept(1))
        t.c:send(("x"):rep(1000))
        local lens = drain(t, 1000, ts)
        assert.equal(want, lens[1])
        for _, n in ipairs(lens) do assert.is_true(n <= want) end
        assert.equal("ESTABLISHED", t.c:state())
      end)
    end
  end
end)

describe("min_snd_mss", function()
  it("1 lets a peer's MSS of 6 through as it is (as smoltcp does)", function()
    local t = fixture.at_state("LISTEN", { peer_mss = 6, settings = { min_snd_mss = 1, timestamps = false } })
    t:send { flags = "S", seq = 0 }
    t:expect { flags = "=SA" }
    t:send { flags = "A", seq = 1, ack = 1 }
    t.c = assert(t.l:accept(1))
    t.c:send(("x"):rep(20))
    assert.same({ 6, 6, 6, 2 }, drain(t, 20, false))
  end)

  it("refuses 0 and values above 1460", function()
    local t = fixture.new {}
    assert.has_error(function() t.us:listen(81, { min_snd_mss = 0 }) end, "min_snd_mss must be 1..1460")
    assert.has_error(function() t.us:listen(81, { min_snd_mss = 1461 }) end, "min_snd_mss must be 1..1460")
  end)
end)

describe("an ACK of data never sent (RFC 5961 §5.2)", function()
  it("draws a challenge ACK, and its TSval does not become TS.Recent: the peer's next data is taken", function()
    local t = established_ts()
    -- forged: FIN, an ACK 9998 bytes past SND.NXT, a TSval far ahead
    t:send { flags = "FA", seq = 1, ack = 9999, ts_val = 200000, ts_ecr = t.our_ts }
    local challenge = t:expect { flags = "=A", seq = 1, ack = 1 }
    assert.equal(2, challenge.ts_ecr) -- TS.Recent is still the handshake's
    assert.equal("ESTABLISHED", t.c:state())
    -- the peer's real next segment, with its real clock: not dropped by PAWS
    t:send { flags = "PA", seq = 1, ack = 1, ts_val = 3, ts_ecr = t.our_ts, payload = ("x"):rep(1000) }
    t:expect { flags = "=A", seq = 1, ack = 1001 }
    assert.equal(("x"):rep(1000), t.c:recv(1000, 0))
  end)
end)
