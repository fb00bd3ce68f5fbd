-- The urgent mechanism (RFC 9293 §3.8.5: MUST-30 to MUST-33, MUST-62) and
-- the zero-window allowance for ACKs and URGs (§3.10.7.4, MUST-66). Urgent
-- data stays in the stream; the pointer marks where it ends.
local fixture = require "synfin.fixture"

local function notes(t, text)
  local n = 0
  for _, r in ipairs(t.net:records()) do
    if r.kind == "note" and r.text == text and r.host == t.us.index then n = n + 1 end
  end
  return n
end

describe("sending urgent data", function()
  it("MUST-30, MUST-62: SEND with the URGENT flag sets URG, the pointer naming the octet after the urgent data", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send("abc", { urgent = true })
    local seg = t:expect { flags = "UPA", seq = 1, len = 3 }
    assert.equal(3, seg.urp) -- seq 1 + 3: the octet after "abc"
    t:send { flags = "A", ack = 4 }
    t.c:send("def") -- acknowledged: urgent mode is over
    local plain = t:expect { flags = "=PA", seq = 4, len = 3 }
    assert.is_nil(plain.urp)
  end)

  it("MUST-31: urgent data of any length: every segment before its end carries the pointer", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:send(("u"):rep(4000), { urgent = true })
    local s1 = t:expect { flags = "UA", seq = 1, len = 1460 }
    local s2 = t:expect { flags = "UA", seq = 1461, len = 1460 }
    local s3 = t:expect { flags = "UPA", seq = 2921, len = 1080 }
    assert.same({ 4000, 2540, 1080 }, { s1.urp, s2.urp, s3.urp }) -- all point at 4001
  end)
end)

describe("receiving urgent data", function()
  it("MUST-32: the application is told when the urgent pointer moves past what it has read", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "UPA", seq = 1, payload = "abc", urp = 3 }
    t:expect { flags = "=A", ack = 4 }
    assert.equal(1, notes(t, "urgent data pending"))
    t:send { flags = "UPA", seq = 4, payload = "d", urp = 0 } -- the same pointer again: no new signal
    t:expect { flags = "=A", ack = 5 }
    assert.equal(1, notes(t, "urgent data pending"))
  end)

  it("MUST-33: the application learns how much urgent data remains to be read", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "UPA", seq = 1, payload = "abcdef", urp = 4 } -- "abcd" is urgent
    t:expect { flags = "=A", ack = 7 }
    assert.equal(4, t.c:info().urgent)
    assert.equal("ab", t.c:read(2))
    assert.equal(2, t.c:info().urgent)
    assert.equal("cdef", t.c:read())
    assert.equal(0, t.c:info().urgent)
  end)

  it("MUST-66: with a zero receive window, the ACK and URG of a segment at RCV.NXT are still processed", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 4 } })
    t.c:send("xy")
    t:expect { flags = "PA", seq = 1, len = 2 }
    t:send { seq = 1, ack = 1, payload = "abcd" } -- fills our window
    t:expect { flags = "=A", ack = 5, win = 0 }
    -- text we cannot take, carrying an ACK of our data and an urgent pointer
    t:send { flags = "UPA", seq = 5, ack = 3, payload = "e", urp = 1 }
    t:expect { flags = "=A", ack = 5, win = 0 }
    local i = t.c:info()
    assert.equal(fixture.OUR_ISN + 3, i.snd_una) -- the ACK was taken
    assert.equal(1, notes(t, "urgent data pending")) -- and the URG
    assert.equal("abcd", t.c:read()) -- but not the text
  end)
end)
