-- The user calls of RFC 9293 §3.10.1-§3.10.6 from Lua: OPEN (listen,
-- connect), SEND, RECEIVE, CLOSE, ABORT, STATUS, with the errors the RFC
-- names for each state. OPEN's failures raise (the scenario cannot go on
-- without its connection), at the script's line; the others return nil,
-- message (luv style), TCP's answer to the call.
-- RFC 9293 §3.10's calls with RFC 6298's retransmission timer (RTO at least
-- 1 s, no tail loss probe): the quiet spans below are shorter than it
local fixture = require("synfin.fixture").with_timing("rfc6298").with_window "rfc"
local sm = require "helpers.state_machine"

local function fails(want, ...)
  local ok, err = ...
  assert.is_nil(ok)
  assert.equal(want, err)
end

describe("SEND", function()
  it("RFC 9293 §3.10.2 (CLOSED): send after abort: \"connection does not exist\"", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:abort()
    fails("connection does not exist", t.c:send("x"))
  end)

  it("RFC 9293 §3.10.7.4 (second): send after the peer's reset: \"connection reset\"", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "R", seq = 1 }
    t:sleep(0)
    fails("connection reset", t.c:send("x"))
  end)

  it("RFC 9293 §3.10.2 (CLOSED): send once TIME_WAIT has ended: \"connection does not exist\"", function()
    local t = fixture.at_state("TIME_WAIT", { settings = { msl = 1 } })
    t:sleep(2)
    assert.equal("CLOSED", t.c:state())
    fails("connection does not exist", t.c:send("x"))
  end)

  for _, state in ipairs { "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "TIME_WAIT", "LAST_ACK" } do
    it(("RFC 9293 §3.10.2 (%s): send after close: \"connection closing\", nothing sent"):format(state), function()
      local t = fixture.at_state(state)
      local mark = sm.mark(t)
      fails("connection closing", t.c:send("late"))
      t:sleep(0)
      for _, r in ipairs(sm.ours(t, mark)) do assert.equal(0, r.len) end
      assert.equal(state, t.c:state())
    end)
  end

  it("RFC 9293 §3.10.2 (SYN_SENT): send is queued until ESTABLISHED, then goes with the ACK", function()
    local t = fixture.at_state("SYN_SENT")
    assert.equal(2, t.c:send("hi"))
    t:expect_nothing(0.5)
    t:send { flags = "SA", seq = 0, ack = 1 }
    t:expect { flags = "=PA", seq = 1, ack = 1, len = 2, payload = "hi" }
    t:expect_nothing(0.2)
    assert.equal("ESTABLISHED", t.c:state())
  end)

  it("RFC 9293 §3.10.2 (SYN_RCVD): send is queued until ESTABLISHED", function()
    local t = fixture.at_state("SYN_RCVD", { passive = true })
    assert.equal(3, t.c:send("hey"))
    t:expect_nothing(0.5)
    t:send { flags = "A", seq = 1, ack = 1 }
    t:expect { flags = "=PA", seq = 1, ack = 1, len = 3, payload = "hey" }
    assert.equal("ESTABLISHED", t.c:state())
  end)

  it("RFC 9293 §3.10.2 (LISTEN): a listener does not send (no remote socket)", function()
    local t = fixture.at_state("LISTEN")
    local ok, err = t.l:send("x")
    assert.is_nil(ok)
    assert.is_string(err)
    t:expect_nothing(0.5)
  end)
end)

describe("RECEIVE", function()
  it("RFC 9293 §3.10.3 (CLOSE_WAIT): data on hand is returned, then the end of stream", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "FPA", payload = "last" }
    t:expect { flags = "=A", seq = 1, ack = 6 }
    assert.equal("last", t.c:recv(4, 1))
    fails("end of stream", t.c:read())
    fails("end of stream", t.c:recv(1, 1))
  end)

  it("RFC 9293 §3.10.3 (CLOSED): read after abort: \"connection does not exist\"", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:abort()
    fails("connection does not exist", t.c:read())
  end)

  it("RFC 9293 §3.10.3 (ESTABLISHED): nothing there yet: read says \"try again\", recv times out", function()
    local t = fixture.at_state("ESTABLISHED")
    fails("try again", t.c:read())
    assert.has_error(function() t.c:recv(1, 0.5) end)
  end)
end)

describe("CLOSE", function()
  it("RFC 9293 §3.10.4 (FIN_WAIT_1): close twice: \"connection closing\", no second FIN", function()
    local t = fixture.at_state("ESTABLISHED")
    assert.is_true(t.c:close())
    t:expect { flags = "=FA", seq = 1 }
    fails("connection closing", t.c:close())
    t:expect_nothing(0.5)
    assert.equal("FIN_WAIT_1", t.c:state())
    -- the first FIN may be retransmitted, with its own seq
    t:expect({ flags = "=FA", seq = 1 }, 1)
  end)

  for _, state in ipairs { "FIN_WAIT_2", "CLOSING", "LAST_ACK", "TIME_WAIT" } do
    it(("RFC 9293 §3.10.4 (%s): close: \"connection closing\", state unchanged"):format(state), function()
      local t = fixture.at_state(state)
      fails("connection closing", t.c:close())
      assert.equal(state, t.c:state())
    end)
  end

  it("RFC 9293 §3.10.4 (CLOSED): close on a closed connection: \"connection does not exist\"", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:abort()
    fails("connection does not exist", t.c:close())
  end)

  it("RFC 9293 §3.10.4 (SYN_SENT): close deletes the TCB: CLOSED, no RST, no more SYNs", function()
    local t = fixture.at_state("SYN_SENT")
    assert.is_true(t.c:close())
    assert.equal("CLOSED", t.c:state())
    t:expect_nothing(10)
    -- the peer's late SYN-ACK then finds no connection: <SEQ=SEG.ACK><CTL=RST>
    t:send { flags = "SA", seq = 0, ack = 1, sport = fixture.PORT, dport = fixture.SPORT }
    t:expect { flags = "=R", seq = 1 }
  end)

  it("RFC 9293 §3.10.4 (SYN_RCVD): with no data to send, close sends a FIN at once and enters FIN_WAIT_1", function()
    local t = fixture.at_state("SYN_SENT")
    t:send { flags = "S", seq = 0 } -- simultaneous open: SYN_RCVD
    t:expect { flags = "=SA", seq = 0, ack = 1 }
    assert.is_true(t.c:close())
    t:expect({ flags = "=FA", seq = 1, ack = 1 }, 0.5)
    assert.equal("FIN_WAIT_1", t.c:state())
  end)

  it("RFC 9293 §3.10.4 (SYN_RCVD): with data queued, close waits for ESTABLISHED; the FIN follows the data", function()
    local t = fixture.at_state("SYN_RCVD", { passive = true })
    t.c:send("data")
    assert.is_true(t.c:close())
    t:expect_nothing(0.5)
    t:send { flags = "A", seq = 1, ack = 1 }
    t:expect { flags = "=FPA", seq = 1, ack = 1, len = 4, payload = "data" }
    assert.equal("FIN_WAIT_1", t.c:state())
    fails("connection closing", t.c:send("more"))
  end)

  it("RFC 9293 §3.10.4 (LISTEN): close -> CLOSED; a SYN-RCVD child nobody accepted is reset", function()
    local t = fixture.at_state("SYN_RCVD", { passive = true })
    assert.is_true(t.l:close())
    t:expect { flags = "=RA", seq = 1 }
    assert.equal("CLOSED", t.l:state())
    assert.equal("CLOSED", t.c:state())
  end)
end)

describe("ABORT", function()
  it("RFC 9293 §3.10.5 (SYN_SENT): abort -> CLOSED, nothing sent", function()
    local t = fixture.at_state("SYN_SENT")
    assert.is_true(t.c:abort())
    assert.equal("CLOSED", t.c:state())
    t:expect_nothing(10)
  end)

  it("RFC 9293 §3.10.5 (SYN_RCVD): abort sends <SEQ=SND.NXT><CTL=RST>", function()
    local t = fixture.at_state("SYN_RCVD", { passive = true })
    assert.is_true(t.c:abort())
    t:expect { flags = "=RA", seq = 1, len = 0 }
    assert.equal("CLOSED", t.c:state())
    t:expect_nothing(5)
    assert.equal("LISTEN", t.l:state())
  end)

  for _, state in ipairs { "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT" } do
    it(("RFC 9293 §3.10.5 (%s): abort sends <SEQ=SND.NXT><CTL=RST> and enters CLOSED"):format(state), function()
      local t = fixture.at_state(state)
      local nxt = t:our_nxt()
      assert.is_true(t.c:abort())
      t:expect { flags = "=RA", seq = nxt, len = 0 }
      assert.equal("CLOSED", t.c:state())
      t:expect_nothing(5)
    end)
  end

  for _, state in ipairs { "CLOSING", "LAST_ACK", "TIME_WAIT" } do
    it(("RFC 9293 §3.10.5 (%s): abort is \"ok\": CLOSED, nothing sent"):format(state), function()
      local t = fixture.at_state(state)
      assert.is_true(t.c:abort())
      assert.equal("CLOSED", t.c:state())
      t:expect_nothing(5)
    end)
  end

  it("RFC 9293 §3.10.5 (LISTEN): abort -> CLOSED", function()
    local t = fixture.at_state("LISTEN")
    assert.is_true(t.l:abort())
    assert.equal("CLOSED", t.l:state())
  end)

  it("RFC 9293 §3.10.5 (CLOSED): abort on a closed connection: \"connection does not exist\"", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:abort()
    fails("connection does not exist", t.c:abort())
  end)
end)

describe("OPEN", function()
  it("listen on a port already listening: \"address already in use\"", function()
    local t = fixture.at_state("LISTEN")
    local ok, err = pcall(t.us.listen, t.us, fixture.PORT)
    assert.is_false(ok)
    assert.matches("user_calls_spec.lua:%d+: synfin: cannot listen on 192.0.2.1:80: address already in use "
      .. "%(a listener is there already%)", err)
    assert.is_truthy(t.us:listen(fixture.PORT + 1))
  end)

  it("RFC 9293 §3.10.1: connect to an existing 4-tuple: \"connection already exists\"", function()
    local t = fixture.at_state("ESTABLISHED")
    local ok, err = pcall(t.us.connect, t.us, fixture.THEM, fixture.PORT, { sport = fixture.SPORT })
    assert.is_false(ok)
    assert.matches("user_calls_spec.lua:%d+: synfin: cannot connect 192.0.2.1:49152 to 192.0.2.2:80: "
      .. "connection already exists %(it is ESTABLISHED%)", err)
    -- another local port is another connection
    local c2 = assert(t.us:connect(fixture.THEM, fixture.PORT, { sport = fixture.SPORT + 1 }))
    assert.equal("SYN_SENT", c2:state())
  end)

  it("RFC 9293 §3.10.1: connect without a local port picks an ephemeral one, a new one each time", function()
    local t = fixture.new()
    local c1 = assert(t.us:connect(fixture.THEM, fixture.PORT))
    local c2 = assert(t.us:connect(fixture.THEM, fixture.PORT))
    local p1, p2 = c1:info().lport, c2:info().lport
    assert.is_true(p1 >= 49152 and p2 >= 49152)
    assert.are_not.equal(p1, p2)
  end)
end)

describe("STATUS", function()
  it("RFC 9293 §3.10.6: c:info() gives the state, the sockets and the TCB's variables", function()
    local t = fixture.at_state("ESTABLISHED")
    t:send { flags = "PA", payload = "hello" }
    t:expect { flags = "=A", seq = 1, ack = 6 }
    t.c:send("abc")
    t:expect { flags = "=PA", seq = 1, ack = 6, len = 3 }
    local i = t.c:info()
    assert.equal("ESTABLISHED", i.state)
    assert.equal(t.c:id(), i.id)
    assert.equal(fixture.US, i.laddr)
    assert.equal(fixture.THEM, i.raddr)
    assert.equal(fixture.SPORT, i.lport)
    assert.equal(fixture.PORT, i.rport)
    assert.equal(fixture.OUR_ISN, i.iss)
    assert.equal(fixture.PEER_ISN, i.irs)
    assert.equal(fixture.OUR_ISN + 1, i.snd_una)
    assert.equal(fixture.OUR_ISN + 4, i.snd_nxt)
    assert.equal(65535, i.snd_wnd)
    assert.equal(fixture.PEER_ISN + 6, i.rcv_nxt)
    assert.equal(65530, i.rcv_wnd)
    assert.equal(3, i.snd_queued)
    assert.equal(5, i.rcv_queued)
    assert.equal(1.0, i.rto)
    assert.equal(0, i.retransmits)
    assert.equal(2, i.segs_in)
    assert.equal(4, i.segs_out)
    assert.equal(5, i.bytes_in)
    assert.equal(3, i.bytes_out)
    assert.is_nil(i.error)
    assert.is_false(i.peer_closed)
  end)

  it("RFC 9293 §3.10.6: STATUS of a listener says LISTEN with its local port", function()
    local t = fixture.at_state("LISTEN")
    local i = t.l:info()
    assert.equal("LISTEN", i.state)
    assert.equal(fixture.PORT, i.lport)
    assert.equal(0, i.rport)
  end)

  it("RFC 9293 §3.10.6: STATUS follows the connection through every state of an active close", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { msl = 1 } })
    local seen = {}
    t.c:on("state", function(_, new) seen[#seen + 1] = new end)
    t.c:close()
    t:expect { flags = "=FA", seq = 1 }
    t:send { flags = "A", ack = 2 }
    t:sleep(0)
    assert.equal("FIN_WAIT_2", t.c:info().state)
    t:send { flags = "FA", ack = 2 }
    t:expect { flags = "=A", seq = 2, ack = 2 }
    assert.equal("TIME_WAIT", t.c:info().state)
    t:sleep(2)
    assert.equal("CLOSED", t.c:info().state)
    assert.same({ "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED" }, seen)
  end)
end)

describe("c:set", function()
  it("refuses settings that only shape a connection when it is made", function()
    local t = fixture.at_state("ESTABLISHED")
    assert.has_error(function() t.c:set { rcv_buf = 1000 } end,
      "rcv_buf, rcv_buf_max, rcv_window, mss, window_scaling and timestamps are set when the connection is made (host, listen or connect settings)")
    t.c:set { msl = 1, nagle = true } -- these apply from now on
  end)

  it("changes snd_buf from now on: SEND takes no more than it, lowered below what is queued or raised", function()
    local t = fixture.at_state("ESTABLISHED", { settings = { snd_buf = 4000 }, peer_win = 1000 })
    assert.equal(4000, t.c:send(("x"):rep(5000))) -- 1000 of it sent, the peer's window
    t:expect { flags = "=A", seq = 1, len = 1000 }
    t.c:set { snd_buf = 2000 } -- below the 4000 queued: nothing more is taken
    fails("try again", t.c:send("y"))
    t:send { flags = "A", ack = 1001, win = 0 } -- 3000 queued, still above
    fails("try again", t.c:send("y"))
    t.c:set { snd_buf = 8000 } -- raised past the ring's first size
    assert.equal(5000, t.c:send(("z"):rep(6000)))
    assert.equal(8000, t.c:info().snd_queued)
  end)
end)

describe("<close>", function()
  it("local c <close> = ... closes the connection when it goes out of scope", function()
    local synfin = require "synfin"
    local net = synfin.sim { latency = 0.01 }
    local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
    local l = b:listen(80)
    local kept
    net:run(function()
      do
        local c <close> = a:connect("10.0.0.2", 80)
        c:wait("ESTABLISHED", 1)
        kept = c
      end
      assert.equal("FIN_WAIT_1", kept:state())
      local s = l:accept(1)
      s:wait("CLOSE_WAIT", 1)
    end)
  end)
end)
