-- TCP options: window scaling (RFC 7323 §2), MSS (RFC 9293 §3.7.1).
local synfin = require "synfin"
local families = require "helpers.families"

families.describe("TCP options", function(f)
  -- RFC 7323's rules over the RFC window: all of rcv_buf, the smallest shift
  -- for it (the linux profile's: spec/linux_window_spec.lua)
  local fixture = f.fixture.with_window "rfc"

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

  describe("timestamps (RFC 7323 §3-5)", function()
    -- our connection, established with a peer that answered our timestamps
    local function with_ts()
      local t = fixture.new {}
      t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
      local syn = t:expect { flags = "=S" }
      assert.equal(1, syn.ts)
      assert.equal(0, syn.ts_ecr)
      t:send { flags = "SA", seq = 0, ack = 1, ts_val = 100, ts_ecr = syn.ts_val }
      local ack = t:expect { flags = "=A", seq = 1, ack = 1 }
      assert.equal(100, ack.ts_ecr) -- TS.Recent echoed
      return t
    end

    it("both SYNs offered them: every segment carries TSval and echoes TS.Recent; data segments shrink by 12 bytes", function()
      local t = with_ts()
      t.c:send(("d"):rep(3000))
      local s1 = t:expect { flags = "A", seq = 1 }
      assert.equal(f.mss - 12, s1.len) -- the MSS (1460, 1440) less the option
      assert.equal(100, s1.ts_ecr)
      t:send { flags = "A", ack = 1449, ts_val = 200 }
      local s3 = t:expect { flags = "A" }
      t:expect { flags = "A" }
      assert.is_true(s3.ts_val >= s1.ts_val)
    end)

    it("TS.Recent follows the peer's in-order segments", function()
      local t = with_ts()
      t:send { seq = 1, payload = "abc", ts_val = 300 }
      assert.equal(300, t:expect({ flags = "=A", ack = 4 }).ts_ecr)
    end)

    it("PAWS (RFC 7323 §5.3): a segment whose TSval is older than TS.Recent is an old duplicate: ACK, and dropped", function()
      local t = with_ts()
      t:send { seq = 1, payload = "new", ts_val = 500 }
      t:expect { flags = "=A", ack = 4 }
      t:send { seq = 4, payload = "old", ts_val = 400 } -- in the window, but from the past
      t:expect { flags = "=A", ack = 4 }
      assert.equal("new", t.c:read())
    end)

    it("RFC 7323 §3.2: once timestamps are on, a segment without one is dropped", function()
      local t = with_ts()
      t:send { seq = 1, payload = "abc" } -- no TSopt
      t:expect_nothing(0.5)
      assert.is_nil((t.c:read()))
    end)

    it("a peer that does not answer them: no timestamps after the SYN", function()
      local t = fixture.at_state("ESTABLISHED") -- the fixture's peer sends none
      t.c:send("x")
      assert.is_nil(t:expect({ flags = "PA" }).ts)
    end)

    it("timestamps = false offers none", function()
      local t = fixture.new { settings = { timestamps = false } }
      t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
      assert.is_nil(t:expect({ flags = "=S" }).ts)
    end)

    it("SHLD-4: with timestamps, a SYN in TIME_WAIT with a newer TSval reopens, even below RCV.NXT (RFC 6191)", function()
      local t = fixture.new {}
      t.l = assert(t.us:listen(fixture.PORT))
      t:send { flags = "S", seq = 0, sport = fixture.SPORT, dport = fixture.PORT, ts_val = 100 }
      local synack = t:expect { flags = "=SA" }
      assert.equal(100, synack.ts_ecr)
      t:send { flags = "A", seq = 1, ack = 1, ts_val = 101, ts_ecr = synack.ts_val, sport = fixture.SPORT, dport = fixture.PORT }
      t.c = assert(t.l:accept(1))
      t.c:close() -- we close first: TIME_WAIT on our side
      local fin = t:expect { flags = "FA" }
      t:send { flags = "FA", seq = 1, ack = 2, ts_val = 102, ts_ecr = fin.ts_val }
      t:expect { flags = "=A" }
      assert.equal("TIME_WAIT", t:state())
      -- a new SYN whose sequence number is old (below RCV.NXT), but whose TSval is newer
      t:send { flags = "S", abs_seq = fixture.PEER_ISN, ack = 0, ts_val = 9000, sport = fixture.SPORT, dport = fixture.PORT }
      local again = t:expect { flags = "=SA" }
      assert.equal(9000, again.ts_ecr)
    end)
  end)
end)
