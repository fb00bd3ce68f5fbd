-- Scenario tools: net:first races waits, the connection table, statistics,
-- and the report of what a scenario left behind.
local synfin = require "synfin"

local A, B = "10.0.0.1", "10.0.0.2"

local function pair(opts)
  local net = synfin.sim(opts or { latency = 0.01 })
  local a, b = net:host(A), net:host(B)
  return net, a, b, assert(b:listen(80))
end

describe("net:first", function()
  it("returns the branch that is satisfied first, with its results", function()
    local net, a, b = pair()
    net:run(function()
      local c = a:connect(B, 80)
      local name, got = net:first {
        up = c:waiting("ESTABLISHED"),
        rst = net:expecting { from = b, flags = "R" },
        late = net:after(5),
      }
      assert.equal("up", name)
      assert.equal(c, got)
      assert.near(0.02, net:now(), 1e-9)
    end)
  end)

  it("a timer branch wins when nothing else happens, at exactly its time", function()
    local net = synfin.sim { latency = 0.01 }
    local a = net:host(A)
    net:peer(B) -- silent
    net:run(function()
      local c = a:connect(B, 80)
      local name = net:first { up = c:waiting("ESTABLISHED"), give_up = net:after(0.5) }
      assert.equal("give_up", name)
      assert.near(0.5, net:now(), 1e-9)
      assert.equal("SYN_SENT", c:state())
    end)
  end)

  it("a branch that fails wins with nil and its message (the connection was refused)", function()
    local net = synfin.sim { latency = 0.01 }
    local a = net:host(A)
    net:host(B) -- no listener: the SYN draws a RST
    net:run(function()
      local c = a:connect(B, 80)
      local name, result, message = net:first { up = c:waiting("ESTABLISHED"), later = net:after(5) }
      assert.equal("up", name)
      assert.is_nil(result)
      assert.matches("reached CLOSED %(RST%)", message)
    end)
  end)

  it("the losers leave nothing behind: later waits and time run as usual", function()
    local net, a, b, l = pair()
    net:run(function()
      local c = a:connect(B, 80)
      net:first { up = c:waiting("ESTABLISHED"), never = net:expecting { from = b, flags = "R" } }
      local s = l:accept(1)
      c:send("hi")
      assert.equal("hi", s:recv(2, 1))
      net:sleep(1)
      net:expect_nothing({ from = b, flags = "R" }, 1)
    end)
  end)

  it("times out as a whole when no branch comes, saying what it raced", function()
    local net = synfin.sim { latency = 0.01 }
    local a = net:host(A)
    net:peer(B)
    local ok, err = pcall(net.run, net, function()
      local c = a:connect(B, 80)
      net:first({ up = c:waiting("ESTABLISHED"), data = c:receiving(1) }, 0.3)
    end)
    assert.is_false(ok)
    assert.matches("timed out after 0.3 s", err)
    assert.matches("the first of { data: .* up: .* }", err)
  end)

  it("refuses what is not a wait", function()
    local net = synfin.sim {}
    assert.has_error(function() net:first { x = 1 } end)
  end)
end)

describe("the connection table", function()
  it("lists a host's connections like ss -tan, listeners and TIME_WAIT included", function()
    local net, a, b, l = pair()
    net:run(function()
      local c = a:connect(B, 80, { sport = 40000 })
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("12345")
      net:expect({ from = a, flags = "P" }, 1)
      local rows = b:connections()
      table.sort(rows, function(x, y) return x.rport < y.rport end)
      assert.equal("LISTEN", rows[1].state)
      assert.equal(80, rows[1].lport)
      net:sleep(0.1)
      rows = b:connections()
      local est
      for _, r in ipairs(rows) do if r.rport == 40000 then est = r end end
      assert.equal("ESTABLISHED", est.state)
      assert.equal(5, est.recv_q)
      local text = b:ss()
      assert.matches("State +Recv%-Q +Send%-Q", text)
      assert.matches("LISTEN +0 +0 +10.0.0.2:80 +%*:%*", text)
      assert.matches("ESTABLISHED +5 +0 +10.0.0.2:80 +10.0.0.1:40000", text)
      c:close()
      s:close()
      c:wait("TIME_WAIT", 1)
      assert.matches("TIME%-WAIT", a:ss())
    end)
  end)
end)

describe("statistics", function()
  it("a connection counts its segments, bytes, retransmissions, RTT and RTO", function()
    local net, a, _, l = pair()
    a:hook("egress", { flags = "P", count = 1 }, function() return "drop" end)
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("abc")
      assert.equal("abc", s:recv(3, 5))
      local i = c:info()
      assert.equal(1, i.retransmits)
      assert.equal(6, i.bytes_out) -- the 3 bytes, and again
      assert.is_true(i.segs_out >= 4)
      assert.near(0.02, i.srtt, 1e-6)
      -- the linux profile's RTO: SRTT (20 ms) + the variance term floored
      -- at 200 ms, the retransmission's backoff undone by the ACK
      assert.near(0.22, i.rto, 1e-6)
      assert.equal(3, s:info().bytes_in)
    end)
  end)
end)

describe("leftovers", function()
  it("net:leftovers() names connections still open and hooks that never fired", function()
    local net, a = pair()
    a:hook("egress", { flags = "R", count = 1 }, function() return "drop" end)
    net:run(function()
      a:connect(B, 80, { sport = 40000 }):wait("ESTABLISHED", 1)
    end)
    local left = net:leftovers()
    assert.truthy(table.concat(left, "\n"):find("connection 10.0.0.1:40000 -> 10.0.0.2:80 is ESTABLISHED", 1, true))
    assert.truthy(table.concat(left, "\n"):find("fired 0 of its 1 times", 1, true))
  end)

  it("strict makes them an error at the end of net:run; a clean scenario passes", function()
    local net, a = pair { latency = 0.01, strict = true }
    local ok, err = pcall(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    assert.is_false(ok)
    assert.matches("the scenario left behind", err)
    local net2, a2, _, l2 = pair()
    net2:run(function()
      local c = a2:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l2:accept(1)
      c:close()
      s:wait("CLOSE_WAIT", 1)
      s:close()
      c:wait("CLOSED", 61)
      s:wait("CLOSED", 1)
    end, { strict = true })
  end)
end)
