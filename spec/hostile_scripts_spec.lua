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

describe("hooks that feed themselves", function()
  it("a hook that sends on its own egress path fails at a bounded depth, with a clear error", function()
    local net, a = pair()
    local depth = 0
    a:hook("egress", { dport = 9 }, function()
      depth = depth + 1
      a:send { dst = B, dport = 9, flags = "S" }
    end)
    local err = error_of(net.run, net, function() a:send { dst = B, dport = 9, flags = "S" } end)
    has(err, "a hook failed", "inject: egress hooks nested 16 deep: does a hook send on its own path?")
    assert.equal(16, depth)
  end)

  it("a hook that opens a connection for each SYN it sees runs out of ports, not of C stack", function()
    local net, a = pair()
    local opened, refused = 0, nil
    a:hook("egress", { flags = "S" }, function()
      local c, err = a:connect(B, 81)
      if c then opened = opened + 1 else refused = err end
    end)
    net:run(function() a:connect(B, 81) end)
    assert.equal(16383, opened) -- the ephemeral ports 49152..65535, less the first
    assert.equal("address already in use", refused)
  end)

  it("a hook that adds a hook does not see its new hook run on the same segment", function()
    local net, a = pair()
    local seen = {} -- segment number -> how many hooks saw it
    local function watcher(seg)
      seen[seg.n] = (seen[seg.n] or 0) + 1
      if #net.hooks < 100 then a:hook("egress", {}, watcher) end
    end
    a:hook("egress", {}, watcher)
    net:run(function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    assert.equal(1, seen[1]) -- the SYN: the first hook only
    assert.equal(2, seen[3]) -- the ACK: the first hook and the one the SYN added
  end)
end)
