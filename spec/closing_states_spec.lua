-- The closing states: FIN_WAIT_1, FIN_WAIT_2, CLOSING, TIME_WAIT (active
-- close) and CLOSE_WAIT, LAST_ACK (passive close). RFC 9293 §3.10.4,
-- §3.10.7.4 (fifth and eighth steps), §3.10.8, and the close races other
-- stacks got wrong (each test names its issue).
-- In the fixtures our FIN is at relative seq 1 (so its ACK is ack=2) and the
-- peer's FIN, when it has sent one, at relative seq 1 too.
-- RFC 9293's closing rules, with RFC 6298's retransmission timer (RTO at
-- least 1 s, no tail loss probe): the FIN's retransmissions and the quiet
-- spans below count in it, not in the linux profile's 200 ms floor
-- Every case runs on both families (helpers.families).
local families = require "helpers.families"
local sm = require "helpers.state_machine"

local S = 1000000 -- microseconds per second

families.describe("the closing states", function(f)
  local fixture = f.fixture.with_timing "rfc6298"

  describe("FIN_WAIT_1", function()
    it("RFC 9293 §3.10.4: close in ESTABLISHED sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK> and enters FIN_WAIT_1", function()
      local t = fixture.at_state("ESTABLISHED")
      assert.is_true(t.c:close())
      t:expect { flags = "=FA", seq = 1, ack = 1, len = 0 }
      assert.equal("FIN_WAIT_1", t.c:state())
      assert.equal(fixture.OUR_ISN + 2, t.c:info().snd_nxt)
    end)

    it("RFC 9293 §3.10.7.4 (fifth): the ACK of our FIN -> FIN_WAIT_2, nothing sent", function()
      local t = fixture.at_state("FIN_WAIT_1")
      t:send { flags = "A", ack = 2 }
      t:expect_nothing(5) -- nothing, and no more FIN retransmissions
      assert.equal("FIN_WAIT_2", t.c:state())
      assert.same({ "FIN_WAIT_1", "FIN_WAIT_2" }, sm.states(t, t.c, "FIN_WAIT_1"))
    end)

    it("RFC 9293 §3.10.7.4 (eighth): a FIN that acks our FIN -> TIME_WAIT and <SEQ=SND.NXT><ACK=FIN's seq + 1>", function()
      local t = fixture.at_state("FIN_WAIT_1")
      t:send { flags = "FA", ack = 2 }
      t:expect { flags = "=A", seq = 2, ack = 2, len = 0 }
      t:expect_nothing(1)
      assert.equal("TIME_WAIT", t.c:state())
    end)

    it("claim C3, RFC 9293 §3.10.7.4 (eighth): FIN+ACK of our FIN in FIN_WAIT_1 goes straight to TIME_WAIT without passing through FIN_WAIT_2", function()
      local t = fixture.at_state("FIN_WAIT_1")
      t:send { flags = "FA", ack = 2 }
      t:expect { flags = "=A", seq = 2, ack = 2 }
      assert.same({ "FIN_WAIT_1", "TIME_WAIT" }, sm.states(t, t.c, "FIN_WAIT_1"))
    end)

    it("FreeRTOS-Plus-TCP#1303: a FIN that does not ack ours -> CLOSING (not CLOSE_WAIT), ACK of the FIN", function()
      local t = fixture.at_state("FIN_WAIT_1")
      t:send { flags = "FA", ack = 1 }
      t:expect { flags = "=A", seq = 2, ack = 2, len = 0 }
      assert.equal("CLOSING", t.c:state())
      assert.same({ "FIN_WAIT_1", "CLOSING" }, sm.states(t, t.c, "FIN_WAIT_1"))
    end)

    it("warp17#15, RFC 9293 §3.10.8: our FIN is retransmitted on RTO with its original seq (1 s, then 3 s)", function()
      local t = fixture.at_state("FIN_WAIT_1")
      local r1 = t:expect({ flags = "=FA", seq = 1, ack = 1, len = 0 }, 2)
      assert.equal(1 * S, r1.time_us)
      local r2 = t:expect({ flags = "=FA", seq = 1, ack = 1, len = 0 }, 3)
      assert.equal(3 * S, r2.time_us)
      assert.equal(fixture.OUR_ISN + 2, t.c:info().snd_nxt)
      t:send { flags = "A", ack = 2 }
      t:expect_nothing(10)
      assert.equal("FIN_WAIT_2", t.c:state())
    end)

    it("picotcp#527: the FIN_WAIT_2 check compares with SND.NXT including the FIN: an ACK of our data only leaves FIN_WAIT_1", function()
      local t = fixture.at_state("ESTABLISHED")
      t.c:send("abc")
      t:expect { flags = "=PA", seq = 1, len = 3 }
      t.c:close()
      t:expect { flags = "=FA", seq = 4, ack = 1, len = 0 }
      t:send { flags = "A", ack = 4 } -- our data, not our FIN
      t:expect_nothing(0.5)
      assert.equal("FIN_WAIT_1", t.c:state())
      t:send { flags = "A", ack = 5 }
      t:expect_nothing(5)
      assert.equal("FIN_WAIT_2", t.c:state())
    end)

    it("warp17#15: after a go-back retransmission of data, the FIN follows the data with its original seq", function()
      local t = fixture.at_state("ESTABLISHED")
      t.c:send("abc")
      t:expect { flags = "=PA", seq = 1, len = 3 }
      t.c:close()
      t:expect { flags = "=FA", seq = 4, len = 0 }
      -- nothing is acknowledged: at 1 s the data goes again from SND.UNA, and the
      -- FIN rides on it, still at seq 4 (1 + 3 bytes): never a new seq for the FIN
      local r = t:expect({ flags = "=FPA", seq = 1, ack = 1, len = 3, payload = "abc" }, 2)
      assert.equal(1 * S, r.time_us)
      assert.equal(fixture.OUR_ISN + 5, t.c:info().snd_nxt)
      t:send { flags = "A", ack = 5 }
      t:expect_nothing(5)
      assert.equal("FIN_WAIT_2", t.c:state())
    end)

    it("smoltcp#398: close, then the peer's FIN before ours could be sent: CLOSING, and our FIN still goes out", function()
      local t = fixture.at_state("ESTABLISHED", { peer_win = 0 })
      assert.equal(3, t.c:send("abc")) -- the peer's window is closed: queued
      t.c:close()
      t:expect_nothing(0.5)
      assert.equal("FIN_WAIT_1", t.c:state())
      t:send { flags = "FA", ack = 1, win = 0 }
      t:expect { flags = "=A", seq = 1, ack = 2 }
      assert.equal("CLOSING", t.c:state())
      -- the window opens: the data and our FIN go out
      t:send { flags = "A", ack = 1, win = 100 }
      t:expect { flags = "=FPA", seq = 1, ack = 2, len = 3, payload = "abc" }
      t:send { flags = "A", ack = 5 }
      t:sleep(0)
      assert.equal("TIME_WAIT", t.c:state())
    end)

    it("RFC 9293 §3.10.7.4 (seventh): data still arrives in FIN_WAIT_1 (half close) and is ACKed", function()
      local t = fixture.at_state("FIN_WAIT_1")
      t:send { flags = "PA", ack = 1, payload = "more" }
      t:expect { flags = "=A", seq = 2, ack = 5 }
      assert.equal("more", t.c:read())
      assert.equal("FIN_WAIT_1", t.c:state())
    end)

    it("RFC 9293 §3.10.4: data and FIN in one segment in FIN_WAIT_1 (acking our FIN): the data stays readable in TIME_WAIT", function()
      local t = fixture.at_state("FIN_WAIT_1")
      t:send { flags = "FPA", ack = 2, payload = "bye" }
      t:expect { flags = "=A", seq = 2, ack = 5 }
      assert.equal("TIME_WAIT", t.c:state())
      assert.equal("bye", t.c:read())
    end)

    it("RFC 9293 §3.10.7.4 (second): a RST at RCV.NXT in FIN_WAIT_1 -> CLOSED, \"connection reset\"", function()
      local t = fixture.at_state("FIN_WAIT_1")
      t:send { flags = "R", seq = 1 }
      t:expect_nothing(5)
      assert.equal("CLOSED", t.c:state())
      assert.equal("connection reset", t.c:info().error)
    end)
  end)

  describe("FIN_WAIT_2", function()
    it("smoltcp#388, RFC 9293 §3.10.7.4 (seventh): data is still received and ACKed", function()
      local t = fixture.at_state("FIN_WAIT_2")
      t:send { flags = "PA", ack = 2, payload = "tail" }
      t:expect { flags = "=A", seq = 2, ack = 5, len = 0 }
      assert.equal("tail", t.c:read())
      assert.equal("FIN_WAIT_2", t.c:state())
    end)

    it("RFC 9293 §3.10.7.4 (eighth): the peer's FIN -> TIME_WAIT and <SEQ=SND.NXT><ACK=FIN's seq + 1>", function()
      local t = fixture.at_state("FIN_WAIT_2", { passive = true })
      t:send { flags = "FA", ack = 2 }
      t:expect { flags = "=A", seq = 2, ack = 2, len = 0 }
      assert.equal("TIME_WAIT", t.c:state())
      assert.same({ "FIN_WAIT_2", "TIME_WAIT" }, sm.states(t, t.c, "FIN_WAIT_2"))
    end)

    it("RFC 9293 §3.10.7.4 (eighth): data and FIN in one segment: both taken, one ACK, TIME_WAIT", function()
      local t = fixture.at_state("FIN_WAIT_2")
      t:send { flags = "FPA", ack = 2, payload = "last" }
      t:expect { flags = "=A", seq = 2, ack = 6 }
      t:expect_nothing(0.5)
      assert.equal("TIME_WAIT", t.c:state())
    end)

    it("RFC 9293 §3.10.4: the closing user may RECEIVE until the peer closes: data ACKed in FIN_WAIT_2 is still readable in TIME_WAIT", function()
      local t = fixture.at_state("FIN_WAIT_2")
      t:send { flags = "PA", ack = 2, payload = "tail" }
      t:expect { flags = "=A", seq = 2, ack = 5 }
      t:send { flags = "FA", ack = 2 } -- the application has not read "tail" yet
      t:expect { flags = "=A", seq = 2, ack = 6 }
      assert.equal("TIME_WAIT", t.c:state())
      assert.equal("tail", t.c:read())
      local data, err = t.c:read()
      assert.is_nil(data)
      assert.equal("end of stream", err)
    end)

    it("RFC 9293 §3.10.7.4 (second): a RST at RCV.NXT in FIN_WAIT_2 -> CLOSED, \"connection reset\"", function()
      local t = fixture.at_state("FIN_WAIT_2")
      t:send { flags = "R", seq = 1 }
      t:expect_nothing(1)
      assert.equal("CLOSED", t.c:state())
      assert.equal("connection reset", t.c:info().error)
    end)
  end)

  describe("CLOSING", function()
    it("RFC 9293 §3.10.7.4 (fifth): the ACK of our FIN -> TIME_WAIT, nothing sent", function()
      local t = fixture.at_state("CLOSING")
      t:send { flags = "A", ack = 2 }
      t:expect_nothing(0.5)
      assert.equal("TIME_WAIT", t.c:state())
      assert.same({ "CLOSING", "TIME_WAIT" }, sm.states(t, t.c, "CLOSING"))
    end)

    it("RFC 9293 §3.10.7.4 (fifth): an ACK not covering our FIN is ignored: CLOSING stays", function()
      local t = fixture.at_state("CLOSING")
      t:send { flags = "A", ack = 1 }
      t:expect_nothing(0.5)
      assert.equal("CLOSING", t.c:state())
    end)

    it("warp17#15: in CLOSING our FIN is retransmitted on RTO with its original seq and the peer's FIN acked", function()
      local t = fixture.at_state("CLOSING")
      local r = t:expect({ flags = "=FA", seq = 1, ack = 2 }, 2)
      assert.equal(1 * S, r.time_us)
    end)

    it("RFC 9293 §3.10.7.4 (first): a retransmitted FIN in CLOSING is answered with an ACK; CLOSING stays", function()
      local t = fixture.at_state("CLOSING")
      t:send { flags = "FA", seq = 1, ack = 1 }
      t:expect { flags = "=A", seq = 2, ack = 2 }
      assert.equal("CLOSING", t.c:state())
    end)

    it("RFC 9293 §3.10.7.4 (second): a RST at RCV.NXT in CLOSING -> CLOSED", function()
      local t = fixture.at_state("CLOSING")
      t:send { flags = "R", seq = 2 }
      t:expect_nothing(5)
      assert.equal("CLOSED", t.c:state())
    end)
  end)

  describe("TIME_WAIT", function()
    it("RFC 9293 §3.10.8: after 2*MSL TIME_WAIT -> CLOSED, nothing sent (msl = 1 s)", function()
      local t = fixture.at_state("TIME_WAIT", { settings = { msl = 1 } })
      t:expect_nothing(5)
      assert.equal("CLOSED", t.c:state())
      local entered = sm.entered(t, t.c, "TIME_WAIT")
      local closed = sm.entered(t, t.c, "CLOSED")
      assert.equal(2 * S, closed.time_us - entered.time_us)
      assert.equal("timer", closed.cause)
      assert.equal("2MSL", closed.why)
      assert.is_nil(t.c:info().error)
    end)

    it("RFC 9293 §3.10.8, MUST-13: TIME_WAIT lasts 2*MSL, 60 s with the default MSL of 30 s", function()
      local t = fixture.at_state("TIME_WAIT")
      t:sleep(59.999)
      assert.equal("TIME_WAIT", t.c:state())
      t:sleep(0.001)
      assert.equal("CLOSED", t.c:state())
      assert.equal(60 * S, sm.entered(t, t.c, "CLOSED").time_us)
    end)

    it("contiki#2160: a retransmitted FIN (seq = the peer FIN's seq) is ACKed and 2MSL restarts", function()
      local t = fixture.at_state("TIME_WAIT", { settings = { msl = 1 } })
      t:sleep(1.5)
      t:send { flags = "FA", seq = 1, ack = 2 }
      local r = t:expect { flags = "=A", seq = 2, ack = 2, len = 0 }
      assert.equal(1.5 * S, r.time_us)
      t:sleep(1.9)
      assert.equal("TIME_WAIT", t.c:state()) -- 3.4 s: the first 2MSL (2 s) has passed
      t:expect_nothing(1)
      assert.equal("CLOSED", t.c:state())
      assert.equal(3.5 * S, sm.entered(t, t.c, "CLOSED").time_us)
    end)

    it("RFC 9293 §3.10.7.4 (second; the Linux default, not RFC 1337): a RST at RCV.NXT in TIME_WAIT -> CLOSED at once", function()
      local t = fixture.at_state("TIME_WAIT", { settings = { msl = 1 } })
      t:sleep(0.5)
      t:send { flags = "R", seq = 2 }
      t:expect_nothing(3)
      assert.equal("CLOSED", t.c:state())
      local closed = sm.entered(t, t.c, "CLOSED")
      assert.equal("RST", closed.why)
      assert.equal(0.5 * S, closed.time_us)
    end)

    it("RFC 9293 §3.10.7.1: after TIME_WAIT the connection is gone: a segment for it draws a RST", function()
      local t = fixture.at_state("TIME_WAIT", { settings = { msl = 1 } })
      t:sleep(2)
      assert.equal("CLOSED", t.c:state())
      t:send { flags = "A", seq = 2, ack = 2 }
      t:expect { flags = "=R", seq = 2 }
    end)
  end)

  describe("CLOSE_WAIT", function()
    it("claim C2: in CLOSE_WAIT we can still send data", function()
      local t = fixture.at_state("CLOSE_WAIT")
      assert.equal(5, t.c:send("reply"))
      t:expect { flags = "=PA", seq = 1, ack = 2, len = 5, payload = "reply" }
      t:send { flags = "A", seq = 2, ack = 6 }
      t:expect_nothing(5)
      assert.equal("CLOSE_WAIT", t.c:state())
      assert.equal(fixture.OUR_ISN + 6, t.c:info().snd_una)
    end)

    it("RFC 9293 §3.10.4: close in CLOSE_WAIT -> LAST_ACK with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK>", function()
      local t = fixture.at_state("CLOSE_WAIT", { passive = true })
      assert.is_true(t.c:close())
      t:expect { flags = "=FA", seq = 1, ack = 2, len = 0 }
      assert.equal("LAST_ACK", t.c:state())
      assert.same({ "CLOSE_WAIT", "LAST_ACK" }, sm.states(t, t.c, "CLOSE_WAIT"))
    end)

    it("RFC 9293 §3.10.4: close after data in CLOSE_WAIT: the FIN follows the data", function()
      local t = fixture.at_state("CLOSE_WAIT")
      t.c:send("abc")
      t:expect { flags = "=PA", seq = 1, ack = 2, len = 3 }
      t.c:close()
      t:expect { flags = "=FA", seq = 4, ack = 2, len = 0 }
    end)

    it("smoltcp#358: no window update after the peer's FIN, however much the application reads", function()
      local t = fixture.at_state("ESTABLISHED")
      t:send { flags = "A", payload = string.rep("a", 1460) }
      t:expect { flags = "=A", seq = 1, ack = 1461 }
      t:send { flags = "FPA", payload = string.rep("b", 1460) }
      t:expect { flags = "=A", seq = 1, ack = 2922 }
      assert.equal("CLOSE_WAIT", t.c:state())
      assert.equal(2920, #t.c:read(4000))
      t:expect_nothing(1)
    end)

    it("RFC 9293 §3.10.7.4 (second): a RST at RCV.NXT in CLOSE_WAIT -> CLOSED, \"connection reset\"", function()
      local t = fixture.at_state("CLOSE_WAIT")
      t:send { flags = "R", seq = 2 }
      t:expect_nothing(1)
      assert.equal("CLOSED", t.c:state())
      assert.equal("connection reset", t.c:info().error)
    end)
  end)

  describe("LAST_ACK", function()
    it("RFC 9293 §3.10.7.4 (fifth): the ACK of our FIN -> CLOSED, nothing sent", function()
      local t = fixture.at_state("LAST_ACK")
      t:send { flags = "A", seq = 2, ack = 2 }
      t:expect_nothing(5)
      assert.equal("CLOSED", t.c:state())
      local closed = sm.entered(t, t.c, "CLOSED")
      assert.equal("ACK of our FIN", closed.why)
      assert.is_nil(t.c:info().error)
    end)

    it("smoltcp#470: LAST_ACK leaves only on the ACK of our FIN: an ACK that does not cover it changes nothing", function()
      local t = fixture.at_state("LAST_ACK")
      t:send { flags = "A", seq = 2, ack = 1 }
      t:expect_nothing(0.5)
      assert.equal("LAST_ACK", t.c:state())
      t:send { flags = "A", seq = 2, ack = 2 }
      t:sleep(0)
      assert.equal("CLOSED", t.c:state())
    end)

    it("smoltcp#470: with data before the FIN, an ACK of the data only leaves it in LAST_ACK", function()
      local t = fixture.at_state("CLOSE_WAIT")
      t.c:send("abc")
      t:expect { flags = "=PA", seq = 1, ack = 2, len = 3 }
      t.c:close()
      t:expect { flags = "=FA", seq = 4, ack = 2 }
      t:send { flags = "A", seq = 2, ack = 4 }
      t:expect_nothing(0.5)
      assert.equal("LAST_ACK", t.c:state())
      t:send { flags = "A", seq = 2, ack = 5 }
      t:sleep(0)
      assert.equal("CLOSED", t.c:state())
    end)

    it("RFC 9293 §3.10.7.4 (first): a retransmission of the peer's FIN in LAST_ACK is answered with <SEQ=SND.NXT><ACK=RCV.NXT>", function()
      local t = fixture.at_state("LAST_ACK")
      t:send { flags = "FA", seq = 1, ack = 1 }
      t:expect { flags = "=A", seq = 2, ack = 2, len = 0 }
      assert.equal("LAST_ACK", t.c:state())
    end)

    it("claim C5, RFC 9293 §3.10.8: our FIN is retransmitted on RTO with its original seq (1 s, then 3 s)", function()
      local t = fixture.at_state("LAST_ACK")
      local r1 = t:expect({ flags = "=FA", seq = 1, ack = 2, len = 0 }, 2)
      local r2 = t:expect({ flags = "=FA", seq = 1, ack = 2, len = 0 }, 3)
      assert.equal(1 * S, r1.time_us)
      assert.equal(3 * S, r2.time_us)
      assert.equal("LAST_ACK", t.c:state())
    end)

    it("picotcp#40, MUST-20: LAST_ACK is bounded: after `retries` FIN retransmissions, CLOSED with \"connection timed out\"", function()
      local t = fixture.at_state("LAST_ACK", { settings = { retries = 1 } })
      assert.equal(1 * S, t:expect({ flags = "=FA", seq = 1, ack = 2 }, 2).time_us)
      t:expect_nothing(5)
      assert.equal("CLOSED", t.c:state())
      assert.equal(3 * S, sm.entered(t, t.c, "CLOSED").time_us)
      assert.equal("connection timed out", t.c:info().error)
    end)

    it("RFC 9293 §3.10.7.4 (second): a RST at RCV.NXT in LAST_ACK -> CLOSED", function()
      local t = fixture.at_state("LAST_ACK")
      t:send { flags = "R", seq = 2 }
      t:expect_nothing(5)
      assert.equal("CLOSED", t.c:state())
    end)
  end)
end)
