-- Hook verdicts beyond pass, drop and delay: a modified copy
-- (seg:with{...}), copies ({ dup = n }), and an answer the other way
-- ({ answer = seg:reply{...} }).
local synfin = require "synfin"

local A, B = "10.0.0.1", "10.0.0.2"

local function pair()
  local net = synfin.sim { latency = 0.01 }
  local a, b = net:host(A), net:host(B)
  return net, a, b, assert(b:listen(80))
end

local function segs(net, host)
  local list = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and r.from == host.index then list[#list + 1] = r end
  end
  return list
end

describe("seg:with", function()
  it("an egress hook sends a modified copy instead: the wire shows the copy, the original never left", function()
    local net, a, b = pair()
    local h = b:hook("egress", { flags = "=SA", count = 1 }, function(seg) return seg:with { win = 1000 } end)
    net:run(function()
      local m = net:mark()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      assert.equal(1000, c:info().snd_wnd)
      local seen = net:expect({ from = b, flags = "=SA", since = m }, 0) -- what expectations see
      assert.equal(1000, seen.win)
    end)
    local list = segs(net, b)
    assert.equal("replaced", list[1].fate)
    assert.equal(65160, list[1].win) -- the SYN-ACK's own: 45 * 1448 (the MSS less timestamps), tcp_openreq_init_rwin
    assert.equal(1000, list[2].win)
    assert.equal(h.id, list[2].hook)
    assert.equal(1, h.replaced)
  end)

  it("bad_checksum = true keeps a wrong checksum on purpose: the receiver drops it, the sender retransmits", function()
    local net, a, _, l = pair()
    a:hook("egress", { flags = "P", count = 1 }, function(seg) return seg:with { bad_checksum = true } end)
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("data")
      assert.equal("data", s:recv(4, 3))
    end)
    local dropped = false
    for _, r in ipairs(net:records()) do
      if r.kind == "note" and r.text == "bad TCP checksum" then dropped = true end
    end
    assert.is_true(dropped)
    assert.is_true(#segs(net, a) >= 5) -- SYN, ACK, the bad one, its good retransmission ...
  end)

  it("an ingress hook changes what the stack receives; the wire had the original", function()
    local net, a, b, l = pair()
    b:hook("ingress", { flags = "P", count = 1 }, function(seg) return seg:with { payload = "HELLO" } end)
    local m = net:mark()
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("hello")
      assert.equal("HELLO", s:recv(5, 1))
    end)
    local r = net:expect({ from = a, flags = "P", since = m }, 0) -- the run is the past: since a mark
    assert.equal("hello", r.payload)
  end)

  it("seq and ack are relative, as everywhere; a bad field is a clear error", function()
    local net, a, b, l = pair()
    local bad
    a:hook("egress", { flags = "P", count = 1 }, function(seg)
      bad = pcall(seg.with, seg, { sequence = 1 })
      return seg:with { seq = seg.seq + 1000 } -- out of the window: the receiver answers with an ACK
    end)
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      l:accept(1)
      c:send("x")
      net:expect({ from = a, flags = "P", seq = 1001 }, 1)
      net:expect({ from = b, flags = "=A", ack = 1 }, 1)
    end)
    assert.is_false(bad)
  end)
end)

describe("{ dup = n }", function()
  it("n copies go on the wire; the data is delivered once, the copies draw duplicate ACKs", function()
    local net, a, _, l = pair()
    local h = a:hook("egress", { flags = "P", count = 1 }, function() return { dup = 3 } end)
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("once")
      assert.equal("once", s:recv(4, 1))
      net:sleep(0.1)
      assert.is_nil((s:read()))
    end)
    local data = 0
    for _, r in ipairs(segs(net, a)) do if r.len > 0 then data = data + 1 end end
    assert.equal(3, data)
    assert.equal(1, h.duplicated)
  end)
end)

describe("{ answer = seg:reply{...} }", function()
  it("an ingress hook answers a SYN with a RST in the listener's name: the client is refused, the server never saw it", function()
    local net, a, b = pair()
    b:hook("ingress", { flags = "=S", count = 1 }, function(seg) return { answer = seg:reply {} } end)
    local m = net:mark()
    net:run(function()
      local c = a:connect(B, 80)
      local ok, err = pcall(c.wait, c, "ESTABLISHED", 1)
      assert.is_false(ok)
      assert.matches("reached CLOSED %(RST%)", err)
      assert.equal("connection refused", c:info().error)
    end)
    for _, r in ipairs(net:records()) do
      assert.is_false(r.kind == "state" and r.host == b.index and r.new == "SYN_RCVD")
    end
    local rst = net:expect({ from = b, flags = "=RA", since = m }, 0)
    assert.equal(1, rst.ack) -- <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
  end)

  it("an egress hook answers its own host: a SYN that never leaves is met by a crafted SYN-ACK", function()
    local net = synfin.sim { latency = 0.01 }
    local a = net:host(A)
    net:peer(B) -- no TCP there at all
    a:hook("egress", { flags = "=S", count = 1 }, function(seg)
      return { answer = seg:reply { flags = "SA", abs_seq = 424242, abs_ack = seg.abs_seq + 1, win = 5000, mss = 1460 } }
    end)
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      assert.equal(5000, c:info().snd_wnd)
    end)
  end)

  it("a bad verdict is reported as such", function()
    local net, a = pair()
    a:hook("egress", { flags = "=S" }, function() return { dup = 0 } end)
    local ok, err = pcall(net.run, net, function() a:connect(B, 80):wait("ESTABLISHED", 1) end)
    assert.is_false(ok)
    assert.matches("bad verdict", err)
  end)
end)

describe("a hook's when", function()
  it("is part of the filter: after and count count only the segments it takes", function()
    local net, a, _, l = pair()
    local seen = {}
    -- the second data segment, not the second segment: the handshake's ACK does not count
    a:hook("egress", { flags = "A", after = 1, count = 1, when = function(seg) return seg.len > 0 end },
      function(seg) seen[#seen + 1] = seg.n end)
    net:run(function()
      local c = a:connect(B, 80)
      local s = l:accept(1)
      c:send("one")
      s:recv(3, 1)
      c:send("two")
      s:recv(3, 1)
      c:send("three")
      s:recv(5, 1)
    end)
    assert.equal(1, #seen)
    local data = {}
    for _, r in ipairs(segs(net, a)) do
      if r.len > 0 then data[#data + 1] = r.n end
    end
    assert.equal(data[2], seen[1])
  end)
end)
