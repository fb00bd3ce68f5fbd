-- Hostile scripts: what a careless or malicious scenario does to the net,
-- and what it gets back. Every case ends in a clear Lua error (its message
-- asserted here) or in a documented outcome, never in a crash, a hang or a
-- memory error (the sanitizer build runs this file under ASan).
local synfin = require "synfin"

local A, B, P = "192.0.2.1", "192.0.2.2", "192.0.2.3"

-- The error a call raises, as a string (fails the test if it raises none).
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, the call succeeded")
  return tostring(err)
end

-- Asserts that text contains every one of the plain strings given.
local function has(text, ...)
  for _, s in ipairs { ... } do
    assert(text:find(s, 1, true), ("expected %q in:\n%s"):format(s, text))
  end
end

-- A client a and a listening server b, 5 ms apart.
local function pair(opts)
  local net = synfin.sim(opts or { seed = 7, latency = 0.005 })
  local a, b = net:host(A), net:host(B)
  local l = assert(b:listen(80))
  return net, a, b, l
end

describe("the garbage collector inside a callback", function()
  -- collectgarbage runs only where the test says, then as before
  before_each(function() collectgarbage("stop") end)
  after_each(function() collectgarbage("restart") end)

  it("frees a reset connection nobody refers to, collected between two arrivals of one batch", function()
    -- host b's connection to the scripted peer p lives only in open(); p
    -- sends, in one instant, data (whose ACK b defers to the batch's end,
    -- MUST-59), a RST that closes the connection, and an ACK on whose arrival
    -- a hook collects the connection's handle
    local net = synfin.sim { seed = 3, latency = 0.005 }
    local b, p = net:host(B), net:peer(P)
    local handles = setmetatable({}, { __mode = "v" })
    local collect = false
    b:hook("ingress", { flags = "=A" }, function()
      if collect then collectgarbage("collect") end
    end)
    net:run(function()
      local function open()
        local c = b:connect(P, 7000)
        handles[1] = c
        local syn = net:expect({ from = b, flags = "S" }, 1)
        p:send { dst = B, sport = 7000, dport = syn.sport, flags = "SA", abs_seq = 1000,
          abs_ack = syn.abs_seq + 1 }
        c:wait("ESTABLISHED", 1)
        return syn.sport, syn.abs_seq + 1
      end
      local port, una = open()
      collect = true
      p:send { dst = B, sport = 7000, dport = port, flags = "PA", abs_seq = 1001, abs_ack = una,
        payload = "x" }
      p:send { dst = B, sport = 7000, dport = port, flags = "R", abs_seq = 1002 }
      p:send { dst = B, sport = 7000, dport = port, flags = "A", abs_seq = 1002, abs_ack = una }
      net:sleep(1)
      -- the stack goes on: a new connection from b works
      collect = false
      local again = b:connect(P, 7001)
      net:expect({ from = b, flags = "S", dport = 7001 }, 1)
      again:abort()
    end)
    assert.is_nil(handles[1]) -- the handle was collected inside the batch
    local closed
    for _, r in ipairs(net:records()) do
      if r.kind == "state" and r.new == "CLOSED" and r.rport == 7000 then closed = r end
    end
    assert.equal("ESTABLISHED", closed.old)
  end)
end)
