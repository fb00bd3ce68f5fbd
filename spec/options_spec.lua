-- TCP options: window scaling (RFC 7323 §2), MSS (RFC 9293 §3.7.1).
local synfin = require "synfin"
local fixture = require "synfin.fixture"

describe("window scaling (RFC 7323 §2)", function()
  it("a SYN offers the smallest shift that fits the receive buffer in 16 bits", function()
    local t = fixture.new { settings = { rcv_buf = 1048576 } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    local syn = t:expect { flags = "=S" }
    assert.equal(5, syn.wscale)   -- 1 MiB >> 5 = 32768
    assert.equal(65535, syn.win)  -- a SYN's window is never scaled
  end)

  it("when both SYNs offered it, windows are scaled both ways", function()
    local t = fixture.new { settings = { rcv_buf = 1048576 } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    t:expect { flags = "=S" }
    t:send { flags = "SA", seq = 0, ack = 1, wscale = 3, win = 1000 }
    local ack = t:expect { flags = "=A", seq = 1, ack = 1 }
    assert.equal(1048576 >> 5, ack.win) -- our window, scaled down by our shift
    assert.equal(1000, t.c:info().snd_wnd) -- the SYN-ACK's window: not scaled
    t:send { flags = "A", ack = 1, win = 1000 } -- now scaled by the peer's shift
    t.net:sleep(0)
    assert.equal(8000, t.c:info().snd_wnd)
  end)

  it("when the peer did not offer it, neither side scales, and the SYN-ACK does not offer it", function()
    local t = fixture.at_state("LISTEN", { settings = { rcv_buf = 1048576 } })
    t:send { flags = "S", seq = 0 }
    local synack = t:expect { flags = "=SA" }
    assert.is_nil(synack.wscale)
    t:send { flags = "A", seq = 1, ack = 1, win = 1000 }
    t.net:sleep(0)
    local c = assert(t.l:accept(1))
    assert.equal(1000, c:info().snd_wnd)
    c:send("x")
    local seg = t:expect { flags = "PA" }
    assert.equal(65535, seg.win) -- capped, unscaled
  end)

  it("window_scaling = false offers no window scale", function()
    local t = fixture.new { settings = { rcv_buf = 1048576, window_scaling = false } }
    t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
    assert.is_nil(t:expect({ flags = "=S" }).wscale)
  end)

  it("REC-1: a bulk transfer with a 1 MiB window between two synfin hosts", function()
    local net = synfin.sim { latency = 0.05 }
    local a, b = net:host("10.0.0.1"), net:host("10.0.0.2", { rcv_buf = 1048576 })
    local l = b:listen(80)
    net:run(function()
      local c = a:connect("10.0.0.2", 80, { snd_buf = 1048576 })
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send(("z"):rep(500000))
      assert.equal(500000, #s:recv(500000, 30))
      assert.is_true(c:info().snd_wnd > 65535) -- the scaled window the peer offers
    end)
  end)
end)
