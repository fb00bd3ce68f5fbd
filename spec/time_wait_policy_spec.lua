-- The policies where stacks and RFCs differ (Linux, FreeBSD, lwIP, RFC 1337,
-- RFC 6191), each a setting with a Linux-like default, and RFC 5961's
-- challenge-ACK limit.
local families = require "helpers.families"

families.describe("TIME_WAIT policies", function(f)
  local fixture = f.fixture

  local function states(t)
    local list = {}
    for _, r in ipairs(t.net:records()) do
      if r.kind == "state" and r.host == t.us.index and r.rport ~= 0 then list[#list + 1] = r end
    end
    return list
  end

  describe("RST in TIME_WAIT", function()
    it("by default (Linux, RFC 9293) a RST at RCV.NXT closes TIME_WAIT at once", function()
      local t = fixture.at_state("TIME_WAIT")
      t:send { flags = "R", seq = 2 }
      t.net:sleep(0)
      assert.equal("CLOSED", t:state())
    end)

    it("RFC 1337 policy (rst_in_time_wait = \"ignore\"): the RST is ignored and 2MSL runs out", function()
      local t = fixture.at_state("TIME_WAIT", { settings = { msl = 1, rst_in_time_wait = "ignore" } })
      t:send { flags = "R", seq = 2 }
      t:expect_nothing(1)
      assert.equal("TIME_WAIT", t:state())
      t:sleep(1.5)
      assert.equal("CLOSED", t:state())
      assert.equal("2MSL", states(t)[#states(t)].why)
    end)
  end)

  describe("SYN in TIME_WAIT", function()
    local NEW_ISN = fixture.PEER_ISN + 100000

    it("MAY-2: by default (Linux, RFC 1122 §4.2.2.13) a SYN above RCV.NXT to a listener opens a new connection; TIME_WAIT ends when it is established", function()
      local t = fixture.at_state("TIME_WAIT", { passive = true })
      local old = t.c:info()
      t:send { flags = "S", abs_seq = NEW_ISN, ack = 0 }
      local synack = t:expect { flags = "=SA" }
      assert.equal(NEW_ISN + 1, synack.abs_ack)
      -- MAY-2 (1): the new ISS lies above the old sequence space, by a window
      assert.is_true(synack.abs_seq - old.snd_nxt > 65535)
      assert.equal("TIME_WAIT", t:state()) -- parked until the new connection is up
      t:send { flags = "A", abs_seq = NEW_ISN + 1, abs_ack = synack.abs_seq + 1 }
      t.net:sleep(0)
      assert.equal("CLOSED", t:state())
      local list = states(t)
      assert.equal("ESTABLISHED", list[#list - 1].new)
      assert.equal("TIME_WAIT", list[#list].old)
      assert.equal("new connection established", list[#list].why)
    end)

    it("MAY-2 (2): when the reopening SYN was an old duplicate (the peer resets our SYN-ACK), TIME_WAIT again, 2MSL unchanged", function()
      local t = fixture.at_state("TIME_WAIT", { passive = true, settings = { msl = 10 } })
      local entered = t.net:now()
      t:send { flags = "S", abs_seq = NEW_ISN, ack = 0 }
      t:expect { flags = "=SA" }
      t:send { flags = "R", abs_seq = NEW_ISN + 1, ack = 0 } -- the peer knows no such connection
      t.net:sleep(0)
      assert.equal("TIME_WAIT", t:state())
      t:send { flags = "FA", seq = 1, ack = 2 } -- the old connection's FIN again: ACKed by TIME_WAIT
      t:expect { flags = "=A", seq = 2, ack = 2 }
      t:sleep(25)
      assert.equal("CLOSED", t:state())
      local closed = states(t)[#states(t)]
      assert.equal("2MSL", closed.why)
      -- the FIN again (at the same instant on the fixture's zero-latency link)
      -- restarted 2MSL: 20 s after TIME_WAIT was entered, not later
      assert.near(entered + 20, closed.time, 1e-6)
    end)

    it("MUST-13: with no listener a SYN in TIME_WAIT does not end it: a challenge ACK (RFC 5961 §4)", function()
      local t = fixture.at_state("TIME_WAIT")
      t:send { flags = "S", abs_seq = NEW_ISN, ack = 0 }
      t:expect { flags = "=A", seq = 2, ack = 2 }
      assert.equal("TIME_WAIT", t:state())
    end)

    it("RFC 5961 §4: a SYN at or below RCV.NXT draws a challenge ACK; TIME_WAIT stays", function()
      local t = fixture.at_state("TIME_WAIT", { passive = true })
      t:send { flags = "S", seq = 2, ack = 0 }
      t:expect { flags = "=A", seq = 2, ack = 2 }
      assert.equal("TIME_WAIT", t:state())
    end)

    it("syn_in_time_wait = \"challenge\": even a SYN above RCV.NXT draws a challenge ACK", function()
      local t = fixture.at_state("TIME_WAIT", { passive = true, settings = { syn_in_time_wait = "challenge" } })
      t:send { flags = "S", seq = 1000, ack = 0 }
      t:expect { flags = "=A", seq = 2, ack = 2 }
      assert.equal("TIME_WAIT", t:state())
    end)
  end)

  describe("challenge ACK rate limit (RFC 5961 §7)", function()
    it("at most challenge_ack_limit challenge ACKs a second; the next second allows more", function()
      -- (the host's limit alone: no connection's own, challenge_ack_interval)
      local t = fixture.at_state("ESTABLISHED", { settings = { challenge_ack_limit = 2, challenge_ack_interval = 0 } })
      for _ = 1, 5 do t:send { flags = "R", seq = 100 } end -- in the window, not at RCV.NXT
      t:expect { flags = "=A", seq = 1, ack = 1 }
      t:expect { flags = "=A", seq = 1, ack = 1 }
      t:expect_nothing(0.5)
      t:sleep(0.6)
      t:send { flags = "S", seq = 100 }
      t:expect { flags = "=A", seq = 1, ack = 1 }
      assert.equal("ESTABLISHED", t:state())
    end)

    it("smoltcp test_old_data_ack_not_rate_limited: duplicate ACKs for old data are never limited", function()
      local t = fixture.at_state("ESTABLISHED", { settings = { challenge_ack_limit = 1 } })
      t:send { seq = 1, payload = "abc" }
      t:expect { flags = "=A", ack = 4 }
      for _ = 1, 6 do
        t:send { seq = 1, payload = "abc" } -- retransmitted old data
        t:expect { flags = "=A", seq = 1, ack = 4 }
      end
    end)
  end)

  describe("FIN_WAIT_2 timeout (picotcp#60)", function()
    it("by default FIN_WAIT_2 waits for the peer's FIN as long as it takes (RFC 9293)", function()
      local t = fixture.at_state("FIN_WAIT_2")
      t:sleep(3600)
      assert.equal("FIN_WAIT_2", t:state())
    end)

    it("fin_wait_2_timeout bounds it: CLOSED after that long, nothing sent", function()
      local t = fixture.at_state("FIN_WAIT_2", { settings = { fin_wait_2_timeout = 5 } })
      local entered = t.net:now()
      t:expect_nothing(5.5)
      assert.equal("CLOSED", t:state())
      local last = states(t)[#states(t)]
      assert.equal("FIN_WAIT_2 timeout", last.why)
      assert.equal("timer", last.cause)
      assert.near(5, last.time - entered, 1e-6)
    end)

    it("the timeout does not touch a connection that goes on to TIME_WAIT", function()
      local t = fixture.at_state("FIN_WAIT_2", { settings = { fin_wait_2_timeout = 5, msl = 10 } })
      t:send { flags = "FA", ack = 2 }
      t:expect { flags = "=A", seq = 2, ack = 2 }
      t:sleep(10)
      assert.equal("TIME_WAIT", t:state())
    end)
  end)
end)
