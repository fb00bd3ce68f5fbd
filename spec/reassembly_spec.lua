-- Out-of-order data is held and reassembled in byte offsets (RFC 9293
-- §3.10.7.4 SHLD-31; smoltcp#1136 mixed offsets and sequence numbers), and a
-- FIN after a hole waits for it (smoltcp#112).
local fixture = require("synfin.fixture").with_window "rfc" -- reassembly over the RFC window: all the buffer

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

  it("holds as many separate ranges as a window of holes makes (Linux: no count), up to 1024", function()
    -- 1025 one-byte ranges, at seq 3, 5, ..., 2051: the first 1024 are held
    -- (core/ranges.h: SF_RANGES_MAX), the last is dropped and ACKed
    local t = established()
    local function byte(k) return string.char(65 + k % 26) end -- the byte at relative seq k
    local last = 3 + 2 * 1024
    for k = 3, last, 2 do
      t:send { seq = k, payload = byte(k) }
      t:expect { flags = "=A", ack = 1 }
    end
    local notes = {}
    for _, r in ipairs(t.net:records()) do
      if r.kind == "note" then notes[r.text] = (notes[r.text] or 0) + 1 end
    end
    assert.equal(1024, notes["out of order: held, ACK sent"])
    assert.equal(1, notes["out of order: no room to hold it, ACK sent"])
    -- fill the holes at 1-2, 4, 6, ..., last - 1; the byte at `last` was not held
    t:send { seq = 1, payload = byte(1) .. byte(2) }
    t:expect { flags = "=A", ack = 4 }
    local want = { byte(1), byte(2), byte(3) }
    for k = 4, last - 1, 2 do
      t:send { seq = k, payload = byte(k) }
      t:expect { flags = "=A", ack = k + 2 < last and k + 2 or last }
      want[#want + 1] = byte(k) .. (k + 1 < last and byte(k + 1) or "")
    end
    assert.equal(table.concat(want), t.c:read())
    t:expect { flags = "=A", ack = last, win = 65535 }        -- the window reopened
    t:send { seq = last, payload = byte(last) }              -- the peer sends it again
    t:expect { flags = "=A", ack = last + 1 }
    assert.equal(byte(last), t.c:read())
  end)
end)
