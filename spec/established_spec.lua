-- ESTABLISHED: RFC 9293 §3.10.7.4 step by step (sequence, RST, SYN, ACK,
-- text, FIN), RFC 5961's checks, retransmission (RFC 6298) and the windows
-- (§3.8.6). After the fixture's handshake both sides are at relative 1:
-- SND.NXT = 1, RCV.NXT = 1, and we offer a 65535-byte window.
local synfin = require "synfin"
local families = require "helpers.families"
local sm = require "helpers.state_machine"

families.describe("ESTABLISHED", function(f)
  -- RFC 9293 §3.10.7.4 and RFC 6298 with RFC 6298's retransmission timer
  -- (RTO at least 1 s, no tail loss probe): the retransmission times and
  -- quiet spans below count in it
  local fixture = f.fixture.with_timing("rfc6298").with_window("rfc").with_rules "rfc"

  describe("ESTABLISHED", function()
    describe("receiving", function()
      it("RFC 9293 §3.10.7.4 (seventh): data at RCV.NXT is ACKed <SEQ=SND.NXT><ACK=RCV.NXT> and readable", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "PA", payload = "hello" }
        t:expect { flags = "=A", seq = 1, ack = 6, win = 65530, len = 0 }
        t:expect_nothing(1)
        assert.equal("hello", t.c:read())
        assert.equal(fixture.PEER_ISN + 6, t.c:info().rcv_nxt)
        assert.equal("ESTABLISHED", t.c:state())
      end)

      it("RFC 9293 §3.10.7.4 (seventh), MUST-58: each in-order segment is acknowledged once; recv gets them in order", function()
        local t = fixture.at_state("ESTABLISHED", { passive = true })
        t:send { flags = "A", payload = "abc" }
        t:expect { flags = "=A", seq = 1, ack = 4 }
        t:send { flags = "PA", payload = "defg" }
        t:expect { flags = "=A", seq = 1, ack = 8, win = 65528 }
        t:expect_nothing(1)
        assert.equal("abcdefg", t.c:recv(7, 1))
      end)

      it("smoltcp#199, RFC 9293 §3.8.6.2.2: once the application reads, the opened window is announced", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "A", payload = string.rep("a", 1460) }
        t:expect { flags = "=A", seq = 1, ack = 1461, win = 65535 - 1460 }
        t:send { flags = "PA", payload = string.rep("b", 1460) }
        t:expect { flags = "=A", seq = 1, ack = 2921, win = 65535 - 2920 }
        assert.equal(2920, #t.c:read(4000))
        t:expect { flags = "=A", seq = 1, ack = 2921, win = 65535 }
        t:expect_nothing(1)
      end)

      it("RFC 9293 §3.10.7.4 (seventh): bytes beyond the receive window are not taken; RCV.NXT + RCV.WND never moves left", function()
        local t = fixture.at_state("ESTABLISHED", { settings = { rcv_buf = 100 } })
        t:send { flags = "PA", payload = string.rep("x", 150) }
        t:expect { flags = "=A", seq = 1, ack = 101, win = 0 }
        assert.equal(100, t.c:info().rcv_queued)
        -- with the window closed, more data is not acceptable: an ACK, no data taken
        t:send { flags = "PA", seq = 101, payload = "y" }
        t:expect { flags = "=A", seq = 1, ack = 101, win = 0 }
        -- reading opens the window again, and we say so
        assert.equal(100, #t.c:read(1000))
        t:expect { flags = "=A", seq = 1, ack = 101, win = 100 }
      end)

      it("RFC 9293 §3.10.7.4 (first): data beyond the window draws <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and is not delivered", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "PA", seq = 1 + 65535, payload = "far" }
        t:expect { flags = "=A", seq = 1, ack = 1, win = 65535 }
        t:expect_nothing(1)
        local data, err = t.c:read()
        assert.is_nil(data)
        assert.equal("try again", err)
        assert.is_true(sm.noted(t, "sequence number not acceptable"))
      end)

      it("RFC 9293 §3.10.7.4 (first): an old duplicate (all before RCV.NXT) draws a duplicate ACK and is not delivered twice", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "PA", payload = "hello" }
        t:expect { flags = "=A", seq = 1, ack = 6 }
        t:send { flags = "PA", seq = 1, payload = "hello" }
        t:expect { flags = "=A", seq = 1, ack = 6 }
        assert.equal("hello", t.c:read())
        assert.is_nil(t.c:read())
      end)

      it("RFC 9293 §3.10.7.4 (first): a segment straddling RCV.NXT gives only its new bytes", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "PA", payload = "hello" }
        t:expect { flags = "=A", seq = 1, ack = 6 }
        t:send { flags = "PA", seq = 3, payload = "llo world" }
        t:expect { flags = "=A", seq = 1, ack = 12 }
        assert.equal("hello world", t.c:read())
      end)

      it("RFC 9293 §3.10.7.4 (seventh), MAY-13: data after a hole is not delivered; a duplicate ACK repeats RCV.NXT", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "PA", seq = 10, payload = "later" }
        t:expect { flags = "=A", seq = 1, ack = 1 }
        t:expect_nothing(1)
        assert.is_nil(t.c:read())
        assert.equal(fixture.PEER_ISN + 1, t.c:info().rcv_nxt)
      end)

      it("smoltcp#112: a FIN after a hole is not a FIN: ESTABLISHED stays, the ACK repeats RCV.NXT", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "FPA", seq = 10, payload = "end" }
        t:expect { flags = "=A", seq = 1, ack = 1 }
        t:expect_nothing(1)
        assert.equal("ESTABLISHED", t.c:state())
        assert.is_false(t.c:info().peer_closed)
        local data, err = t.c:read()
        assert.is_nil(data)
        assert.equal("try again", err) -- not "end of stream"
      end)

      it("RFC 9293 §3.10.7.4 (fifth): a segment without ACK is dropped silently, its data not delivered", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "P", payload = "noack" }
        t:expect_nothing(1)
        assert.is_nil(t.c:read())
        assert.is_true(sm.noted(t, "no ACK bit"))
      end)

      it("RFC 9293 §3.10.7.4 (eighth), MUST-12: a FIN -> CLOSE_WAIT and <ACK=FIN's seq + 1>; the reader sees end of stream", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "FA" }
        t:expect { flags = "=A", seq = 1, ack = 2, len = 0 }
        t:expect_nothing(1)
        assert.equal("CLOSE_WAIT", t.c:state())
        assert.is_true(t.c:info().peer_closed)
        local data, err = t.c:read()
        assert.is_nil(data)
        assert.equal("end of stream", err)
      end)

      it("RFC 9293 §3.10.7.4 (eighth), MUST-58: FIN with data: the data is delivered, then end of stream; one ACK covers both", function()
        local t = fixture.at_state("ESTABLISHED", { passive = true })
        t:send { flags = "FPA", payload = "bye" }
        t:expect { flags = "=A", seq = 1, ack = 5 }
        t:expect_nothing(1)
        assert.equal("CLOSE_WAIT", t.c:state())
        assert.equal("bye", t.c:read())
        local data, err = t.c:read()
        assert.is_nil(data)
        assert.equal("end of stream", err)
      end)
    end)

    describe("RST and SYN (RFC 5961)", function()
      it("RFC 9293 §3.10.7.4 (second), RFC 5961 §3.2, MUST-12: a RST exactly at RCV.NXT -> CLOSED, \"connection reset\"", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "R", seq = 1 }
        t:expect_nothing(5)
        assert.equal("CLOSED", t.c:state())
        assert.equal("connection reset", t.c:info().error)
        assert.equal("RST", sm.entered(t, t.c, "CLOSED").why)
        local data, err = t.c:read()
        assert.is_nil(data)
        assert.equal("connection reset", err)
      end)

      it("RFC 9293 §3.10.7.4 (second), RFC 5961 §3.2: an in-window RST not at RCV.NXT draws a challenge ACK; ESTABLISHED stays", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "R", seq = 2 }
        t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
        t:send { flags = "RA", seq = 30000 }
        t:expect { flags = "=A", seq = 1, ack = 1 }
        t:expect_nothing(1)
        assert.equal("ESTABLISHED", t.c:state())
        assert.is_nil(t.c:info().error)
      end)

      it("smoltcp#338: the challenge ACK carries the current RCV.NXT", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "PA", payload = "12345" }
        t:expect { flags = "=A", seq = 1, ack = 6 }
        t:send { flags = "R", seq = 7 }
        t:expect { flags = "=A", seq = 1, ack = 6 }
        assert.equal("ESTABLISHED", t.c:state())
      end)

      it("RFC 9293 §3.10.7.4 (first), RFC 5961 §3.2: a RST outside the window is dropped silently", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "R", seq = 1 + 65535 }
        t:expect_nothing(1)
        t:send { flags = "R", seq = 0 } -- RCV.NXT - 1, left of the window
        t:expect_nothing(1)
        assert.equal("ESTABLISHED", t.c:state())
        assert.is_true(sm.noted(t, "RST outside the window"))
      end)

      it("RFC 9293 §3.10.7.4 (fourth), RFC 5961 §4: an in-window SYN draws a challenge ACK; ESTABLISHED stays", function()
        local t = fixture.at_state("ESTABLISHED")
        -- (absolute numbers from here on: the trace takes any SYN's seq as the peer's ISN)
        t:send { flags = "S", abs_seq = fixture.PEER_ISN + 100 }
        t:expect { flags = "=A", seq = 1, abs_ack = fixture.PEER_ISN + 1, len = 0 }
        t:expect_nothing(1)
        assert.equal("ESTABLISHED", t.c:state())
        assert.equal(fixture.PEER_ISN + 1, t.c:info().rcv_nxt)
      end)

      it("RFC 5961 §4: a SYN is challenged whatever its sequence number (the old ISN too); never a RST", function()
        local t = fixture.at_state("ESTABLISHED", { passive = true })
        -- (absolute numbers: the trace takes any SYN's seq as the peer's ISN)
        t:send { flags = "S", abs_seq = fixture.PEER_ISN }
        t:expect { flags = "=A", seq = 1, abs_ack = fixture.PEER_ISN + 1 }
        t:send { flags = "SA", abs_seq = fixture.PEER_ISN + 1, abs_ack = fixture.OUR_ISN + 1 }
        t:expect { flags = "=A", seq = 1, abs_ack = fixture.PEER_ISN + 1 }
        t:expect_nothing(1)
        assert.equal("ESTABLISHED", t.c:state())
      end)
    end)

    describe("the ACK field", function()
      it("RFC 9293 §3.10.7.4 (fifth): an ACK of data not yet sent draws an ACK; the segment is dropped", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "PA", ack = 5, payload = "zz" }
        t:expect { flags = "=A", seq = 1, ack = 1, len = 0 }
        t:expect_nothing(1)
        assert.is_nil(t.c:read())
        assert.equal(fixture.OUR_ISN + 1, t.c:info().snd_una)
        assert.equal("ESTABLISHED", t.c:state())
      end)

      it("RFC 5961 §5, MAY-12: an ACK below SND.UNA - MAX.SND.WND draws an ACK; the segment is dropped", function()
        local t = fixture.at_state("ESTABLISHED")
        t:send { flags = "PA", ack = 1 - 70000, payload = "old" }
        t:expect { flags = "=A", seq = 1, ack = 1 }
        t:expect_nothing(1)
        assert.is_nil(t.c:read())
      end)

      it("RFC 9293 §3.10.7.4 (fifth): an ACK of our data advances SND.UNA and stops the retransmission timer", function()
        local t = fixture.at_state("ESTABLISHED")
        assert.equal(3, t.c:send("abc"))
        t:expect { flags = "=PA", seq = 1, ack = 1, len = 3, payload = "abc" }
        t:send { flags = "A", ack = 4 }
        t:expect_nothing(5)
        local i = t.c:info()
        assert.equal(fixture.OUR_ISN + 4, i.snd_una)
        assert.equal(0, i.snd_queued)
        assert.equal(0, i.retransmits)
      end)
    end)

    describe("sending and retransmitting", function()
      it("RFC 9293 §3.10.8, RFC 6298 (5.4)-(5.6): unacknowledged data is retransmitted with the same seq at 1 s, then 3 s", function()
        local t = fixture.at_state("ESTABLISHED")
        t.c:send("abc")
        t:expect { flags = "=PA", seq = 1, ack = 1, len = 3 }
        local r1 = t:expect({ flags = "=PA", seq = 1, ack = 1, len = 3, payload = "abc" }, 2)
        assert.equal(1000000, r1.time_us)
        local r2 = t:expect({ flags = "=PA", seq = 1, len = 3, payload = "abc" }, 3)
        assert.equal(3000000, r2.time_us)
        t:send { flags = "A", ack = 4 }
        t:expect_nothing(10)
        assert.equal(2, t.c:info().retransmits)
      end)

      it("smoltcp#62: a duplicate ACK (SND.UNA unchanged) does not restart the retransmission timer", function()
        local t = fixture.at_state("ESTABLISHED")
        t.c:send("abc")
        t:expect { flags = "=PA", seq = 1, len = 3 }
        t:sleep(0.6)
        t:send { flags = "A", ack = 1 }
        local r = t:expect({ flags = "=PA", seq = 1, len = 3 }, 1)
        assert.equal(1000000, r.time_us)
      end)

      it("RFC 9293 §3.7.1, MUST-14: no segment carries more than the peer's MSS", function()
        local t = fixture.at_state("ESTABLISHED", { peer_mss = 100 })
        t.c:send(string.rep("m", 250))
        t:expect { flags = "=A", seq = 1, len = 100 }
        t:expect { flags = "=A", seq = 101, len = 100 }
        t:expect { flags = "=PA", seq = 201, len = 50 }
        t:expect_nothing(0.5)
      end)

      it("RFC 9293 §3.8.6: we never send beyond the peer's window; each ACK that opens it lets more go", function()
        local t = fixture.at_state("ESTABLISHED", { peer_win = 100 })
        assert.equal(300, t.c:send(string.rep("w", 300)))
        t:expect { flags = "=A", seq = 1, len = 100 }
        t:expect_nothing(0.5)
        t:send { flags = "A", ack = 101, win = 100 }
        t:expect { flags = "=A", seq = 101, len = 100 }
        t:expect_nothing(0.2)
        t:send { flags = "A", ack = 201, win = 100 }
        t:expect { flags = "=PA", seq = 201, len = 100 }
        t:send { flags = "A", ack = 301, win = 100 }
        t:expect_nothing(3)
      end)

      it("RFC 9293 §3.10.7.4 (fifth): an older ACK (same SEG.SEQ, lower SEG.ACK) does not update the window (SND.WL2)", function()
        local t = fixture.at_state("ESTABLISHED", { peer_win = 1000 })
        t.c:send(string.rep("a", 300))
        t:expect { flags = "=PA", seq = 1, len = 300 }
        t:send { flags = "A", ack = 201, win = 100 } -- right edge 301 = SND.NXT
        t:send { flags = "A", ack = 101, win = 1000 } -- reordered, older
        t:sleep(0)
        assert.equal(100, t.c:info().snd_wnd)
        assert.equal(fixture.OUR_ISN + 201, t.c:info().snd_una)
        t.c:send("more")
        t:expect_nothing(0.5)
      end)

      it("smoltcp#489, picotcp#127, MUST-34, SHLD-15, SHLD-16: a peer shrinking its window causes no underflow and nothing is sent past it", function()
        local t = fixture.at_state("ESTABLISHED", { peer_win = 1000 })
        t.c:send(string.rep("s", 1000))
        t:expect { flags = "=PA", seq = 1, len = 1000 }
        -- the right edge moves left: SND.UNA + SND.WND = 201 < SND.NXT = 1001
        t:send { flags = "A", ack = 101, win = 100 }
        t.c:send("more")
        t:expect_nothing(0.5)
        assert.equal(100, t.c:info().snd_wnd)
        -- the retransmission (from SND.UNA) stays inside the shrunken window
        local r = t:expect({ flags = "A", seq = 101, len = 100 }, 1)
        assert.equal(1000000, r.time_us)
        t:expect_nothing(0.5)
        -- the peer acknowledges everything and opens up: only new data follows
        t:send { flags = "A", ack = 1001, win = 65535 }
        t:expect { flags = "=PA", seq = 1001, len = 4, payload = "more" }
        t:expect_nothing(0.5)
      end)

      it("picotcp#40, MUST-20: retransmissions end: after `retries` timeouts the connection is CLOSED, \"connection timed out\"", function()
        local t = fixture.at_state("ESTABLISHED", { settings = { retries = 2 } })
        t.c:send("abc")
        t:expect { flags = "=PA", seq = 1, len = 3 }
        assert.equal(1000000, t:expect({ flags = "=PA", seq = 1, len = 3 }, 2).time_us)
        assert.equal(3000000, t:expect({ flags = "=PA", seq = 1, len = 3 }, 3).time_us)
        t:expect_nothing(10)
        assert.equal("CLOSED", t.c:state())
        assert.equal(7000000, sm.entered(t, t.c, "CLOSED").time_us)
        assert.equal("connection timed out", t.c:info().error)
      end)

      it("RFC 9293 §3.10.5: abort sends <SEQ=SND.NXT><CTL=RST> and enters CLOSED; nothing follows", function()
        local t = fixture.at_state("ESTABLISHED", { settings = { active_reset = "rst" } }) -- the rfc profile's
        t.c:send("abc")
        t:expect { flags = "=PA", seq = 1, len = 3 }
        assert.is_true(t.c:abort())
        local r = t:expect { flags = "=R", seq = 4, win = 0, len = 0 }
        assert.equal(fixture.OUR_ISN + 4, r.abs_seq)
        assert.is_nil(r.ts_val) -- no options
        assert.equal("CLOSED", t.c:state())
        t:expect_nothing(10) -- no retransmission of the flushed data
        assert.equal("abort", sm.entered(t, t.c, "CLOSED").why)
      end)

      it("Linux's abort (the default active_reset): RST|ACK at SND.NXT, ACK = RCV.NXT, the window, timestamps", function()
        -- tcp_send_active_reset builds it as any segment; RFC 7323 §3.2: a
        -- RST SHOULD carry TSopt
        local t = fixture.at_state("ESTABLISHED")
        t.c:send("abc")
        local data = t:expect { flags = "=PA", seq = 1, len = 3 }
        t:send { flags = "PA", seq = 1, ack = 4, payload = "xy" }
        t:expect { flags = "=A", seq = 4, ack = 3 }
        assert.is_true(t.c:abort())
        local r = t:expect { flags = "=RA", seq = 4, ack = 3, len = 0 }
        assert.equal(65535 - 2, r.win)                  -- the two unread bytes still held
        assert.is_nil(data.ts_val)                      -- (the fixture's peer has no timestamps)
        assert.equal("CLOSED", t.c:state())
        t:expect_nothing(10)
        -- where timestamps were agreed, the RST carries them
        local net = synfin.sim { latency = 0.01 }
        local a, b = net:host(f.a), net:host(f.b)
        local l = b:listen(80)
        net:run(function()
          local c = a:connect(f.b, 80)
          c:wait("ESTABLISHED", 1)
          l:accept(1)
          net:sleep(0.5)
          c:abort()
          local rst = net:expect { from = a, flags = "=RA", seq = 1, ack = 1 }
          local segs = {}
          for _, rec in ipairs(net:records()) do if rec.kind == "seg" then segs[#segs + 1] = rec end end
          local syn, synack = segs[1], segs[2]
          -- TSval: the 1 ms clock of the SYN's, 0.51 s on; TSecr: the peer's last
          assert.equal(syn.ts_val + math.floor((rst.time - syn.time) * 1000 + 0.5), rst.ts_val)
          assert.equal(synack.ts_val, rst.ts_ecr)
        end)
      end)
    end)
  end)
end)
