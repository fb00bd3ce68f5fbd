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
