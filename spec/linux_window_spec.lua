-- The linux profile's receive window (rcv_window = "linux", core/output.c):
-- what Linux offers, step by step, as the kernel over TUN shows it
-- (spec/conformance/differential.md). The buffer is rcv_buf (65535) of data,
-- held in twice that (Linux counts memory); half of what is free may be
-- offered. The peer announces MSS 1460; its timestamps take 12 bytes.
local fixture = require "synfin.fixture"

-- Our SYN, answered by a SYN-ACK with the options given; returns the fixture
-- and the ACK that completes the handshake.
local function connect(settings, synack)
  local t = fixture.new { settings = settings }
  t.c = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT }))
  local syn = t:expect { flags = "=S" }
  local sa = { flags = "SA", seq = 0, ack = 1, mss = 1460 }
  for k, v in pairs(synack or {}) do sa[k] = v end
  t:send(sa)
  return t, syn, t:expect { flags = "=A", seq = 1, ack = 1 }
end

describe("the linux receive window", function()
  describe("tcp_select_initial_window", function()
    it("a SYN offers 44 whole MSS of the 64 KiB buffer, with the window scale of tcp_rmem[2] (6 MiB: 7)", function()
      local _, syn = connect()
      assert.equal(64240, syn.win) -- 65535 rounded down to 1460s: 44 * 1460
      assert.equal(7, syn.wscale)  -- 6291456 >> 7 = 49152 fits 16 bits, >> 6 does not
    end)

    it("the window scale follows rcv_buf_max (this machine's tcp_rmem[2], 32 MiB: 10); 0 leaves rcv_buf's", function()
      local _, syn = connect { rcv_buf_max = 33554432 }
      assert.equal(10, syn.wscale) -- 2^25 >> 10 = 32768
      _, syn = connect { rcv_buf_max = 0 }
      assert.equal(0, syn.wscale)  -- 65535 fits unscaled
    end)

    it("a SYN-ACK with timestamps offers whole MSS less their 12 bytes: 45 * 1448 = 65160 (tcp_openreq_init_rwin)", function()
      local t = fixture.at_state("LISTEN")
      t:send { flags = "S", seq = 0, mss = 1460, wscale = 7, ts_val = 5, ts_ecr = 0 }
      local sa = t:expect { flags = "=SA", seq = 0, ack = 1 }
      assert.same({ 65160, 7 }, { sa.win, sa.wscale })
      local u = fixture.at_state("LISTEN")
      u:send { flags = "S", seq = 0, mss = 1460 } -- no timestamps: 44 * 1460
      assert.equal(64240, u:expect({ flags = "=SA" }).win)
    end)
  end)

  describe("__tcp_select_window", function()
    it("after the handshake the SYN's window is rounded up to the scale's unit: 64240 -> 64256 = 502 << 7", function()
      local _, _, ack = connect(nil, { wscale = 7 })
      assert.equal(502, ack.win)
      local _, _, ack10 = connect({ rcv_buf_max = 33554432 }, { wscale = 7 })
      assert.equal(63, ack10.win) -- 64240 -> 64512 = 63 << 10, as the kernel's "win=63"
    end)

    it("an active open keeps a segment of the buffer out of the window (tcp_init_buffer_space): 502, then 501", function()
      local t = connect(nil, { wscale = 7 })
      t:send { flags = "PA", payload = ("a"):rep(100) }
      -- the window may reach 65535 - 1460 = 64075 -> 64128 = 501 << 7; the
      -- promise of the first ACK (64256 from RCV.NXT 1) is kept: 64156 -> 502
      t:expect { flags = "=A", ack = 101, win = 502 }
      t:send { flags = "PA", seq = 101, payload = ("b"):rep(1000) }
      -- past that promise: 501, not grown (the clamp), as the kernel over TUN
      -- (read_no_window_update: 63 << 10)
      t:expect { flags = "=A", ack = 1101, win = 501 }
      assert.equal(1100, #t.c:read(2000))
      -- no ACK for the read: 64128 is not twice the 63028 promised (__tcp_cleanup_rbuf)
      t:expect_nothing(0.5)
      t:send { flags = "PA", seq = 1101, payload = "c" }
      t:expect { flags = "=A", ack = 1102, win = 501 }
    end)

    it("a passive open's window grows with segments of 128 bytes or more (tcp_grow_window), up to the free space", function()
      local t = fixture.at_state("LISTEN")
      t:send { flags = "S", seq = 0, mss = 1460, wscale = 7, ts_val = 5, ts_ecr = 0 }
      t:expect { flags = "=SA" }
      t:send { flags = "A", seq = 1, ack = 1, ts_val = 6, ts_ecr = 1 }
      t.net:sleep(0)
      local c = assert(t.l:accept(0))
      t:send { flags = "PA", seq = 1, ack = 1, ts_val = 7, ts_ecr = 1, payload = ("g"):rep(100) }
      -- under 128 bytes: not grown, 65160 -> 65280 = 510 << 7
      t:expect { flags = "=A", ack = 101, win = 510 }
      t:send { flags = "PA", seq = 101, ack = 1, ts_val = 8, ts_ecr = 1, payload = ("h"):rep(200) }
      -- 200 bytes: grown by 2 * 1460, up to (131070 - 300) / 2 = 65385
      -- -> 65408 = 511 << 7
      t:expect { flags = "=A", ack = 301, win = 511 }
      assert.equal(300, #c:read(400))
    end)

    it("without window scaling the window stays a promise, not rounded to MSS while within one of the free space", function()
      local t = connect() -- the peer offers no window scale
      t:send { flags = "PA", payload = "hello" }
      t:expect { flags = "=A", ack = 6, win = 64235 } -- 64240 less what came
    end)

    it("a read sends a window update only when the window is at most half the clamp and it doubles (__tcp_cleanup_rbuf)", function()
      -- 8760 bytes of buffer (17520 held): the SYN offers 6 * 1460 = 8760, then 8832 (69 << 7)
      local t, _, ack = connect({ rcv_buf = 8760 }, { wscale = 7 })
      assert.equal(69, ack.win)
      local seq = 1
      local function fill(n) -- n bytes in full segments, each ACKed: the last ACK
        local last
        while n > 0 do
          local len = math.min(n, 1460)
          t:send { flags = "A", seq = seq, payload = ("x"):rep(len) }
          seq, n = seq + len, n - len
          last = t:expect { flags = "=A", ack = seq }
        end
        return last
      end
      -- all of it: the ACKs' windows come down with what is held. Held 8832
      -- of 17520: half the rest, 4344, is less than half of 8760: rounded
      -- down to 128, 4224; the promise of the ACK before, 4408, is kept and
      -- rounded up: 4480 = 35 << 7
      assert.equal(35, fill(8832).win)
      -- a read while the window is more than half the buffer (2 * 4480 > 8760) sends nothing
      assert.equal(1000, #t.c:read(1000))
      t:expect_nothing(0.5)
      -- the window's worth: held 12312, 5208 free, half 2604, down to 2560 = 20 << 7
      assert.equal(20, fill(4480).win)
      -- now a read that more than doubles it, to the clamp (an active open:
      -- 8760 less a segment, 7300 -> 7424 = 58 << 7): an ACK at once
      assert.equal(12312, #t.c:read(20000))
      t:expect { flags = "=A", ack = 13313, win = 58 }
    end)
  end)
end)
