-- Out-of-order data is held and reassembled in byte offsets (RFC 9293
-- §3.10.7.4 SHLD-31; smoltcp#1136 mixed offsets and sequence numbers), and a
-- FIN after a hole waits for it (smoltcp#112).
local fixture = require "synfin.fixture"

local function established()
  return fixture.at_state("ESTABLISHED")
end

describe("reassembly", function()
  it("SHLD-31, MAY-13: a segment past a hole is held, and ACK RCV.NXT goes out at once", function()
    local t = established()
    t:send { seq = 4, payload = "def" }                       -- bytes 4..6; 1..3 missing
    t:expect { flags = "=A", seq = 1, ack = 1 }               -- the hole is announced
    assert.equal(nil, (t.c:read()))                           -- nothing readable yet
    t:send { seq = 1, payload = "abc" }                       -- the hole is filled
    t:expect { flags = "=A", seq = 1, ack = 7 }               -- one ACK covers both
    assert.equal("abcdef", t.c:read())
    t:expect_nothing(0.5)
  end)

  it("SHLD-31: several holes filled in reverse order give the stream in order", function()
    local t = established()
    t:send { seq = 7, payload = "ghi" }
    t:expect { flags = "=A", ack = 1 }
    t:send { seq = 4, payload = "def" }
    t:expect { flags = "=A", ack = 1 }
    t:send { seq = 10, payload = "jkl" }
    t:expect { flags = "=A", ack = 1 }
    t:send { seq = 1, payload = "abc" }
    t:expect { flags = "=A", ack = 13 }
    assert.equal("abcdefghijkl", t.c:read())
  end)

  it("SHLD-31: overlapping and duplicate held segments are merged, not doubled", function()
    local t = established()
    t:send { seq = 5, payload = "efgh" }
    t:expect { flags = "=A", ack = 1 }
    t:send { seq = 3, payload = "cdef" }                       -- overlaps the held range
    t:expect { flags = "=A", ack = 1 }
    t:send { seq = 5, payload = "efgh" }                       -- a duplicate
    t:expect { flags = "=A", ack = 1 }
    t:send { seq = 1, payload = "abcd" }                       -- overlaps on the left
    t:expect { flags = "=A", ack = 9 }
    assert.equal("abcdefgh", t.c:read())
  end)

  it("smoltcp#112: a FIN after a hole is not a FIN yet; when the hole fills, CLOSE_WAIT", function()
    local t = established()
    t:send { flags = "FA", seq = 4, payload = "def" }
    t:expect { flags = "=A", ack = 1 }
    assert.equal("ESTABLISHED", t:state())
    t:send { seq = 1, payload = "abc" }
    t:expect { flags = "=A", ack = 8 }                         -- the data and the FIN
    assert.equal("CLOSE_WAIT", t:state())
    assert.equal("abcdef", t.c:read())
    local data, msg = t.c:read()
    assert.is_nil(data)
    assert.equal("end of stream", msg)
  end)

  it("data held past the receive window is trimmed to it", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 8 } })
    t:send { seq = 5, payload = "efghijkl" }                   -- only 5..8 fit
    t:expect { flags = "=A", ack = 1, win = 8 }
    t:send { seq = 1, payload = "abcd" }
    t:expect { flags = "=A", ack = 9, win = 0 }
    assert.equal("abcdefgh", t.c:read())
  end)

  it("past the most ranges it can hold, a segment is dropped (and ACKed), never corrupting", function()
    local t = established()
    local P = "ABCDEFGHIJKLMNOPQRS" -- P:sub(k, k) is the byte at relative seq k
    -- nine separate ranges, one byte each at seq 3, 5, ..., 19: eight are held
    for k = 3, 19, 2 do
      t:send { seq = k, payload = P:sub(k, k) }
      t:expect { flags = "=A", ack = 1 }
    end
    -- fill the holes at 1-2, 4, 6, ..., 18; the byte at 19 was not held
    t:send { seq = 1, payload = P:sub(1, 2) }
    t:expect { flags = "=A", ack = 4 }
    for k = 4, 18, 2 do
      t:send { seq = k, payload = P:sub(k, k) }
      t:expect { flags = "=A", ack = k + 2 <= 18 and k + 2 or 19 }
    end
    assert.equal(P:sub(1, 18), t.c:read())
    t:send { seq = 19, payload = P:sub(19, 19) }               -- the peer sends it again
    t:expect { flags = "=A", ack = 20 }
    assert.equal(P:sub(19, 19), t.c:read())
  end)
end)
