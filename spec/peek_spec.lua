-- RECEIVE with a peek (c:read(n, { peek = true }), core's sf_recv_peek, the
-- sockets API's MSG_PEEK): the bytes are copied and stay queued. Nothing is
-- consumed, so the window does not open and nothing is announced; the next
-- read returns the same bytes. After the fixture's handshake both sides are
-- at relative 1.
local fixture = require("synfin.fixture").with_timing "rfc6298"

describe("RECEIVE with a peek", function()
  it("copies without consuming: a closed window stays closed, no window update goes; the read then opens it", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 100 } })
    t:send { flags = "PA", payload = string.rep("x", 60) .. string.rep("y", 40) }
    t:expect { flags = "=A", seq = 1, ack = 101, win = 0 }
    assert.equal(string.rep("x", 10), t.c:read(10, { peek = true }))
    assert.equal(string.rep("x", 60) .. string.rep("y", 40), t.c:read(1000, { peek = true }))
    t:expect_nothing(0.5) -- a read of 100 bytes would have announced the window here
    assert.equal(100, t.c:info().rcv_queued)
    assert.equal(0, t.c:info().rcv_wnd)
    -- the peer's probe still finds the window closed
    t:send { flags = "PA", seq = 101, payload = "z" }
    t:expect { flags = "=A", seq = 1, ack = 101, win = 0 }
    -- the read takes what the peeks saw, and announces the opened window
    assert.equal(string.rep("x", 60) .. string.rep("y", 40), t.c:read(1000))
    t:expect { flags = "=A", seq = 1, ack = 101, win = 100 }
  end)

  it("with nothing queued says \"try again\"; after the peer's FIN has been read, \"end of stream\" every time", function()
    local t = fixture.at_state("ESTABLISHED")
    local data, err = t.c:read(10, { peek = true })
    assert.is_nil(data)
    assert.equal("try again", err)
    t:send { flags = "FPA", payload = "bye" }
    t:expect { flags = "=A", seq = 1, ack = 5 }
    assert.equal("by", t.c:read(2, { peek = true }))
    assert.equal("bye", t.c:read(10))
    for _ = 1, 2 do
      data, err = t.c:read(10, { peek = true })
      assert.is_nil(data)
      assert.equal("end of stream", err)
    end
  end)

  it("on a listener is an error, as a read is", function()
    local t = fixture.at_state("LISTEN")
    local data, err = t.l:read(10, { peek = true })
    assert.is_nil(data)
    assert.is_string(err)
  end)
end)
