-- Error messages name the script's line and the user's words (issue 14):
-- opening (listen, connect) raises when it fails, saying why; misuse is
-- reported at the line that made it, wherever in synfin it is found; state
-- names are taken in both spellings ("FIN-WAIT-1" as RFC 9293 and the C core
-- write them, "FIN_WAIT_1").
local synfin = require "synfin"
local scenario = require "helpers.scenario"
local pair = scenario.pair
-- The error fn(...) raises, as a string; fails if it raises none. (Here,
-- not in a helper: the errors name the line of the call, in this file.)
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, the call succeeded")
  return tostring(err)
end
local fixture = require "synfin.fixture"

local B = scenario.B

describe("opening raises, at the script's line, saying why", function()
  it("listen on a port in use", function()
    local _, _, b, l = pair()
    assert.matches("script_errors_spec.lua:%d+: synfin: cannot listen on 192.0.2.2:80: address already in use "
      .. "%(a listener is there already%)$", error_of(b.listen, b, 80))
    assert.equal("LISTEN", l:state()) -- the first one is untouched
  end)

  it("connect to a 4-tuple in use, to an address no connection can reach, from a port taken", function()
    local net, a = pair()
    local c = a:connect(B, 80, { sport = 40000 })
    assert.matches("script_errors_spec.lua:%d+: synfin: cannot connect 192.0.2.1:40000 to 192.0.2.2:80: "
      .. "connection already exists %(it is SYN_SENT%)", error_of(a.connect, a, B, 80, { sport = 40000 }))
    assert.matches("synfin: cannot connect 192.0.2.1 to 224.0.0.1:80: invalid argument (224.0.0.1:80 is no place",
      error_of(a.connect, a, "224.0.0.1", 80), 1, true)
    net:run(function() c:wait("ESTABLISHED", 1) end)
    assert.equal("ESTABLISHED", c:state())
  end)

  it("inside the scenario too: the run fails with the line of the call", function()
    local net, _, b = pair()
    local err = error_of(net.run, net, function()
      b:listen(80)
    end)
    assert.matches("script_errors_spec.lua:%d+: synfin: cannot listen on 192.0.2.2:80", err)
  end)

  it("a call on a connection still returns TCP's answer: nil, message, code", function()
    local t = fixture.at_state("ESTABLISHED")
    t.c:abort()
    local ok, err, code = t.c:send("x")
    assert.same({ nil, "connection does not exist", -4 }, { ok, err, code })
  end)
end)

describe("misuse is reported at the script's line", function()
  it("a bad pattern, naming the call", function()
    local net, _, b = pair()
    assert.matches("script_errors_spec.lua:%d+: bad argument #1 to 'expect' %(unknown pattern field 'frm' "
      .. "%(a pattern has abs_ack, ", error_of(net.expect, net, { frm = b }, 1))
    local err = error_of(net.run, net, function() net:expect({ flags = "Q" }, 1) end)
    assert.matches("script_errors_spec.lua:%d+: bad argument #1 to 'expect' %(bad flags 'Q'", err)
    assert.matches("bad argument #1 to 'expect_nothing'", error_of(net.expect_nothing, net, 3, 1), 1, true)
  end)

  it("an option no function has, a state no connection has", function()
    local net, a = pair()
    assert.matches("script_errors_spec.lua:%d+: bad argument #1 to 'sim' %(unknown option 'sed'%)",
      error_of(function() synfin.sim { sed = 1 } end))
    assert.matches("script_errors_spec.lua:%d+: bad argument #2 to 'run' %(unknown option 'strcit'%)",
      error_of(net.run, net, function() end, { strcit = true }))
    local err = error_of(net.run, net, function() a:connect(B, 80):wait("FIN_WAIT1", 1) end)
    assert.matches("script_errors_spec.lua:%d+: bad argument #1 to 'wait' %(unknown state \"FIN_WAIT1\": one of "
      .. "CLOSED, LISTEN, SYN_SENT, SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, "
      .. "TIME_WAIT %(or spelt as RFC 9293 spells them, FIN%-WAIT%-1%)%)", err)
  end)
end)

describe("state names in both spellings", function()
  it("synfin.state reads RFC 9293's spelling and synfin's, in any case", function()
    assert.equal("FIN_WAIT_1", synfin.state "FIN-WAIT-1")
    assert.equal("FIN_WAIT_1", synfin.state "FIN_WAIT_1")
    assert.equal("TIME_WAIT", synfin.state "time-wait")
    assert.equal("SYN_RCVD", synfin.state "SYN-RECEIVED")
    assert.equal("CLOSE_WAIT", synfin.state "Close-Wait")
    assert.is_nil(synfin.state "FIN-WAIT")
    assert.is_nil(synfin.state(3))
  end)

  it("c:wait, hook filters, fixture.at_state and c:waiting take either", function()
    local net, a, b, l = pair()
    local dropped = 0
    b:hook("ingress", { state = "fin-wait-2", flags = "F", count = 1 }, function()
      dropped = dropped + 1
      return "drop"
    end)
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      s:close()
      s:wait("FIN-WAIT-1", 1)
      s:wait("FIN_WAIT_2", 1)
      c:close()                                   -- its FIN is dropped once, in FIN-WAIT-2
      local name = net:first { tw = s:waiting("TIME-WAIT"), late = net:after(5) }
      assert.equal("tw", name)
    end, { strict = false })
    assert.equal(1, dropped)
    local t = fixture.at_state("fin-wait-1")
    assert.equal("FIN_WAIT_1", t:state())
  end)
end)
