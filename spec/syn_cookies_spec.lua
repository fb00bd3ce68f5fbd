-- SYN cookies (RFC 4987 §3.6): a listener whose SYN queue is full answers a
-- SYN with a SYN-ACK whose ISS encodes the connection, and keeps no state;
-- the ACK that comes back makes the connection. Linux's default
-- (tcp_syncookies = 1): only when the queue is full. A flood of spoofed SYNs
-- so fills nothing and locks no client out (spec/core/test_flood.c floods a
-- listener with a million).
local families = require "helpers.families"
local sm = require "helpers.state_machine"

families.describe("SYN cookies", function(f)
  local fixture = f.fixture

  local FIRST, SECOND = fixture.SPORT, fixture.SPORT + 1

  -- A listener with backlog 1 whose one place a half-open connection from
  -- port FIRST holds; opts are more listener settings.
  local function full_listener(opts)
    local t = fixture.new()
    local settings = { backlog = 1 }
    for k, v in pairs(opts or {}) do settings[k] = v end
    t.l = assert(t.us:listen(fixture.PORT, settings))
    t.c = t.l
    t:send { flags = "S", seq = 0, sport = FIRST }
    t:expect { flags = "=SA", seq = 0, ack = 1, dport = FIRST }
    return t
  end

  -- The peer at port SECOND: its SYN (ISN 9000, extra options in syn) and the
  -- cookie SYN-ACK it draws.
  local function second_syn(t, syn)
    local s = { flags = "S", abs_seq = 9000, sport = SECOND, mss = 1460 }
    for k, v in pairs(syn or {}) do s[k] = v end
    local mark = sm.mark(t)
    t:send(s)
    local synack = t:expect { flags = "=SA", abs_ack = s.abs_seq + 1, dport = SECOND }
    return synack, mark
  end

  describe("SYN cookies (RFC 4987 §3.6)", function()
    it("a SYN past a full SYN queue draws a SYN-ACK and leaves no connection behind", function()
      local t = full_listener()
      local synack, mark = second_syn(t)
      assert.is_nil(sm.child(t, SECOND))
      assert.is_true(sm.noted(t, "SYN cookie sent", mark))
      assert.equal(f.mss, synack.mss) -- what the link carries, the SYN asked for more
      assert.is_nil(synack.wscale) -- the SYN offered none
      -- no state, so no retransmission of the SYN-ACK: only the first child's
      local again = t:expect({ flags = "=SA" }, 2)
      assert.equal(FIRST, again.dport)
    end)

    it("the ACK of the cookie makes an established connection that carries data both ways", function()
      local t = full_listener()
      local synack = second_syn(t)
      t:send { flags = "PA", abs_seq = 9001, abs_ack = synack.abs_seq + 1, sport = SECOND, payload = "hello" }
      local c = assert(t.l:accept(0))
      assert.equal("ESTABLISHED", c:state())
      assert.equal(SECOND, c:info().rport)
      assert.same({ "SYN_RCVD", "ESTABLISHED" }, sm.states(t, c))
      assert.equal("hello", c:recv(5, 0))
      t:skip()
      c:send(("r"):rep(3000))
      local d = t:expect { flags = "A", abs_seq = synack.abs_seq + 1, abs_ack = 9006, dport = SECOND }
      assert.equal(f.mss, d.len) -- the MSS the cookie kept
    end)

    it("the cookie keeps the largest of its MSS values at most the peer's: 1300 -> 1220", function()
      local t = full_listener()
      local synack = second_syn(t, { mss = 1300 })
      t:send { flags = "A", abs_seq = 9001, abs_ack = synack.abs_seq + 1, sport = SECOND }
      local c = assert(t.l:accept(0))
      c:send(("r"):rep(2000))
      assert.equal(1220, t:expect({ flags = "A", dport = SECOND }).len)
    end)

    it("with timestamps, the peer's window scale and SACK-permitted ride in TSval and come back in TSecr", function()
      local t = full_listener { rcv_buf = 1048576 }
      local synack = second_syn(t, { ts_val = 77, ts_ecr = 0, wscale = 2, sack_perm = true })
      assert.equal(7, synack.wscale) -- ours: rcv_buf_max (6 MiB, Linux's tcp_rmem[2]) >> 7 = 49152, past the 1 MiB buffer
      assert.equal(1, synack.sack_perm)
      assert.equal(77, synack.ts_ecr)
      t:send { flags = "A", abs_seq = 9001, abs_ack = synack.abs_seq + 1, sport = SECOND,
               ts_val = 78, ts_ecr = synack.ts_val, win = 100 }
      local c = assert(t.l:accept(0))
      assert.equal(400, c:info().snd_wnd) -- 100 << 2: scaling agreed
      -- SACK agreed: data past a hole is named in the ACK
      t:send { flags = "A", abs_seq = 9101, abs_ack = synack.abs_seq + 1, sport = SECOND,
               ts_val = 79, ts_ecr = synack.ts_val, payload = ("x"):rep(100) }
      local ack = t:expect { flags = "=A", abs_ack = 9001, dport = SECOND }
      assert.same({ { 101, 201 } }, ack.sack) -- relative to the peer's ISN, 9000
      assert.equal(78, ack.ts_ecr) -- an out-of-order segment does not move TS.Recent (RFC 7323 §4.3)
    end)

    it("without timestamps neither window scaling nor SACK survives the cookie", function()
      local t = full_listener { rcv_buf = 1048576 }
      local synack = second_syn(t, { wscale = 2, sack_perm = true })
      assert.is_nil(synack.wscale)
      assert.is_nil(synack.sack_perm)
      t:send { flags = "A", abs_seq = 9001, abs_ack = synack.abs_seq + 1, sport = SECOND, win = 100 }
      assert.equal(100, assert(t.l:accept(0)):info().snd_wnd)
    end)

    it("an ACK with a wrong cookie is an ACK in LISTEN: it draws a RST and makes nothing", function()
      local t = full_listener()
      local synack = second_syn(t)
      t:send { flags = "A", abs_seq = 9001, abs_ack = synack.abs_seq + 2, sport = SECOND }
      t:expect { flags = "=R", abs_seq = synack.abs_seq + 2, dport = SECOND }
      assert.is_nil(sm.child(t, SECOND))
    end)

    it("an ACK for another peer's ISN (a changed SEG.SEQ) is refused too", function()
      local t = full_listener()
      local synack = second_syn(t)
      t:send { flags = "A", abs_seq = 9002, abs_ack = synack.abs_seq + 1, sport = SECOND }
      t:expect { flags = "=R", dport = SECOND }
      assert.is_nil(sm.child(t, SECOND))
    end)

    it("a cookie is good for two ticks of its 64 s clock, not three", function()
      local t = full_listener { syn_cookies = "always" }
      local synack = second_syn(t)
      t:sleep(64 * 3 + 1)
      t:send { flags = "A", abs_seq = 9001, abs_ack = synack.abs_seq + 1, sport = SECOND }
      t:expect({ flags = "=R", dport = SECOND }, 1)
      local late = second_syn(t, { abs_seq = 7000 })
      t:sleep(64 * 2 - 1)
      t:send { flags = "A", abs_seq = 7001, abs_ack = late.abs_seq + 1, sport = SECOND }
      assert.equal("ESTABLISHED", assert(t.l:accept(0)):state())
    end)

    it("syn_cookies = \"always\" answers every SYN statelessly, even with room", function()
      local t = fixture.new()
      t.l = assert(t.us:listen(fixture.PORT, { syn_cookies = "always" }))
      t.c = t.l
      t:send { flags = "S", seq = 0 }
      t:expect { flags = "=SA", ack = 1 }
      assert.is_nil(sm.child(t))
    end)

    it("syn_cookies = \"never\" drops the SYN past a full queue, as before", function()
      local t = full_listener { syn_cookies = "never" }
      t:send { flags = "S", abs_seq = 9000, sport = SECOND }
      local r = t:expect({ flags = "=SA" }, 2)
      assert.equal(FIRST, r.dport)
    end)

    it("a full accept queue takes no SYN and no cookie's ACK", function()
      local t = full_listener()
      local synack = second_syn(t)
      -- the first child is established, and waits for accept
      t:send { flags = "A", seq = 1, abs_ack = fixture.OUR_ISN + 1, sport = FIRST }
      t:skip()
      t:send { flags = "A", abs_seq = 9001, abs_ack = synack.abs_seq + 1, sport = SECOND }
      t:expect_nothing(0.5)
      assert.is_nil(sm.child(t, SECOND))
      assert.is_true(sm.noted(t, "accept queue full"))
    end)

    it("a half-open child's ACK waits while a cookie's connection fills the accept queue (never backlog + 1)", function()
      -- found by fuzz_stack
      local t = full_listener()                 -- port FIRST holds the SYN queue's one place
      local synack = second_syn(t)              -- a cookie for port SECOND
      t:send { flags = "A", abs_seq = 9001, abs_ack = synack.abs_seq + 1, sport = SECOND }
      assert.equal("ESTABLISHED", assert(sm.child(t, SECOND)):state()) -- the accept queue's one place
      local mark = sm.mark(t)
      t:send { flags = "A", seq = 1, abs_ack = fixture.OUR_ISN + 1, sport = FIRST }
      assert.equal("SYN_RCVD", assert(sm.child(t, FIRST)):state())
      assert.same({ "accept_queue_full_ack" }, sm.codes(t, mark))
      assert(t.l:accept(0))                      -- room again: the ACK sent again is taken
      t:send { flags = "A", seq = 1, abs_ack = fixture.OUR_ISN + 1, sport = FIRST }
      assert.equal("ESTABLISHED", sm.child(t, FIRST):state())
    end)
  end)
end)
