-- Records and hooks' segments are views of the C trace (bindings/lview.c):
-- fields read from C when asked, relative numbers computed in C
-- (sf_trace_number). These cases pin down what a script can rely on.
local scenario = require "helpers.scenario"
local synfin = require "synfin"

describe("views of the trace", function()
  it("a hook's segment shows the fields its record shows, relative numbers included", function()
    local net, a, _, l = scenario.pair()
    local seen = {}
    a:hook("egress", {}, function(seg)
      seen[#seen + 1] = { n = seg.n, seq = seg.seq, ack = seg.ack, abs_seq = seg.abs_seq, abs_ack = seg.abs_ack,
        flags = seg.flags, len = seg.len, win = seg.win, payload = seg.payload, src = seg.src, dport = seg.dport,
        dir = seg.dir, state = seg.state, mss = seg.mss }
    end)
    net:run(function()
      local c = a:connect(scenario.B, 80)
      local s = l:accept(1)
      c:send("hello")
      assert.equal("hello", s:recv(5, 1))
    end)
    assert.equal(3, #seen) -- SYN, ACK, data
    local by_n = {}
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" then by_n[r.n] = r end
    end
    for _, s in ipairs(seen) do
      local r = by_n[s.n]
      for _, k in ipairs { "seq", "ack", "abs_seq", "abs_ack", "flags", "len", "win", "payload", "src", "dport", "mss" } do
        assert.equal(r[k], s[k], ("segment #%d, field %s"):format(s.n, k))
      end
      assert.equal("egress", s.dir)
    end
    assert.equal(0, seen[1].seq) -- the SYN: relative to its own ISN
    assert.equal("SYN_SENT", seen[1].state)
    assert.equal(1460, seen[1].mss)
    assert.equal(1, seen[3].seq) -- the data after the handshake
    assert.equal(1, seen[3].ack)
    assert.equal("hello", seen[3].payload)
  end)

  it("a hook's segment is read-only, prints as a segment, and iterates as a table", function()
    local net, a = scenario.pair()
    local err, text, fields
    a:hook("egress", { flags = "S", count = 1 }, function(seg)
      err = select(2, pcall(function() seg.seq = 5 end))
      text = tostring(seg)
      fields = {}
      for k, v in pairs(seg) do fields[k] = v end
    end)
    net:run(function()
      a:connect(scenario.B, 80):wait("ESTABLISHED", 1)
    end)
    assert.truthy(tostring(err):find("read-only: seg:with{ seq = ... } makes a modified copy", 1, true), err)
    assert.truthy(text:find("S", 1, true), text)
    assert.equal("S", fields.flags)
    assert.equal(0, fields.seq)
    assert.equal(1460, fields.mss)
  end)

  it("a segment kept after its hook returned still has its payload, unless the net keeps none", function()
    for _, keep in ipairs { true, false } do
      local net, a, _, l = scenario.pair()
      net.sim:keep_payloads(keep)
      local kept
      a:hook("egress", { flags = "P", count = 1 }, function(seg) kept = seg end)
      net:run(function()
        local c = a:connect(scenario.B, 80)
        local s = l:accept(1)
        c:send("data")
        s:recv(4, 1)
      end)
      assert.equal(4, kept.len)
      if keep then
        assert.equal("data", kept.payload)
      else
        local ok, e = pcall(function() return kept.payload end)
        assert.is_false(ok)
        assert.truthy(tostring(e):find("the payload of segment " .. kept.n .. " is gone", 1, true), e)
      end
    end
  end)

  it("a segment kept after its net is gone still has its fields; its payload is gone, said so", function()
    -- a view does not keep its net alive (that cost a lookup per segment):
    -- once the net is collected, the trace's copy of the payload goes with it
    local kept
    do
      local net, a, _, l = scenario.pair()
      a:hook("egress", { flags = "P", count = 1 }, function(seg) kept = seg end)
      net:run(function()
        local c = a:connect(scenario.B, 80)
        local s = l:accept(1)
        c:send("data")
        s:recv(4, 1)
      end)
      assert.equal("data", kept.payload) -- (the net is still there)
    end
    collectgarbage("collect")
    collectgarbage("collect")
    assert.equal(4, kept.len)
    assert.equal(1, kept.seq)
    local ok, e = pcall(function() return kept.payload end)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("the payload of segment " .. kept.n .. " is gone", 1, true), e)
  end)

  it("a record read later shows its segment's fate as it is now", function()
    local net, a = scenario.pair { latency = 0.1 }
    net:run(function()
      a:connect(scenario.B, 80)
      local syn = net:expect({ from = a, flags = "S" }, 0.01) -- sent, not yet arrived
      assert.equal("flight", syn.fate)
      assert.is_nil(syn.arrival)
      net:sleep(0.2)
      assert.equal("delivered", syn.fate)
      assert.near(0.1, syn.arrival - syn.time, 1e-6)
    end)
  end)

  it("records outlive net:close(), and one index is one object", function()
    local net, a = scenario.pair()
    net:run(function() a:connect(scenario.B, 80):wait("ESTABLISHED", 1) end)
    local recs = net:records()
    local n = #recs
    local first = recs[1]
    assert.equal(first, net:records()[1])
    first.label = "mine" -- a script's own field, kept beside the trace's
    net:close()
    assert.equal(n, #net:records())
    assert.equal("mine", net:records()[1].label)
    assert.equal("state", net:records()[1].kind)
    assert.truthy(tostring(net:trace()):find("SA seq=0 ack=1", 1, true))
  end)

  it("a SYN on ports whose connection closed starts new relative numbers", function()
    local net = synfin.sim { latency = 0.001 }
    local a = net:host(scenario.A, { msl = 0.01 })
    local l = net:host(scenario.B):listen(80)
    net:run(function()
      for _ = 1, 2 do
        local c = a:connect(scenario.B, 80, { sport = 40000 })
        local s = l:accept(1)
        c:close()
        s:recv(1, 1)
        s:close()
        c:wait("CLOSED", 1)
      end
    end)
    local syns = {}
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.flags == "S" then syns[#syns + 1] = r end
    end
    assert.equal(2, #syns)
    assert.are_not.equal(syns[1].abs_seq, syns[2].abs_seq)
    assert.equal(0, syns[1].seq)
    assert.equal(0, syns[2].seq)
  end)
end)

describe("the ladder's segment lines", function()
  it("print options as tcpdump does and windows with their scale once both SYNs carried one", function()
    local net = synfin.sim { latency = 0.005 }
    local a = net:host(scenario.A, { rcv_buf = 1 << 20 })
    local l = net:host(scenario.B, { rcv_buf = 1 << 20 }):listen(80)
    net:run(function()
      local c = a:connect(scenario.B, 80)
      l:accept(1)
      c:send("x")
      net:expect({ from = a, len = 1 }, 1)
    end)
    local syn, data
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.flags == "S" then syn = r end
      if r.kind == "seg" and r.len == 1 then data = r end
    end
    assert.matches("^#1 S seq=0 win=65535 <mss 1460,sackOK,TS val %d+ ecr 0,wscale (%d+)>$", syn.summary)
    local shift = tonumber(syn.summary:match("wscale (%d+)"))
    assert.is_true(shift > 0)
    assert.equal(shift, data.win_shift)
    assert.matches(("win=%d<<%d len=1 <TS val %%d+ ecr %%d+>$"):format(data.win, shift), data.summary)
    assert.is_nil(syn.win_shift) -- a SYN's window is never scaled (RFC 7323 §2.2)
    assert.truthy(tostring(net:trace()):find(data.summary, 1, true))
  end)
end)

describe("a record limit", function()
  it("keeps about the last N records in bounded memory; expectations and the ladder go on", function()
    local net = synfin.sim { latency = 0.001, records = 300, payloads = false }
    local a = net:host(scenario.A)
    local l = net:host(scenario.B):listen(80)
    local data = ("x"):rep(4 << 20)
    net:run(function()
      local c = a:connect(scenario.B, 80)
      local s = l:accept(1)
      net:spawn(function() c:send_all(data, 100) end)
      local got = 0
      while got < #data do got = got + #s:recv(nil, 10) end
      c:close()
      net:expect({ from = a, flags = "F" }, 1) -- found among the last records
    end)
    local total = net.sim:trace_len()
    assert.is_true(total > 2000, total)
    local recs = net:records()
    assert.is_true(#recs >= 300 and #recs < 300 + 2 * 256, #recs) -- (a chunk is 256 records)
    assert.equal(total, recs[#recs].index)
    assert.equal(total - #recs + 1, recs[1].index)
    assert.equal("gone", net.recs[1].kind) -- an index no longer kept
    assert.truthy(tostring(net:trace()):find("FA seq=", 1, true))
    local kept_views = 0
    for _ in pairs(net.recs) do kept_views = kept_views + 1 end
    assert.is_true(kept_views <= #recs, kept_views)
  end)

  it("is an integer or \"all\"", function()
    assert.has_error(function() synfin.sim { records = 0 } end)
    assert.has_error(function() synfin.sim { records = "some" } end)
    assert.truthy(synfin.sim { records = "all" })
  end)
end)

describe("a hook's function", function()
  it("that takes no segment gets none (no view is made); one that takes ... gets it", function()
    local net, a, _, l = scenario.pair()
    local calls, got = 0, {}
    a:hook("egress", {}, function(...) calls = calls + 1; got[#got + 1] = select("#", ...) end)
    a:hook("egress", { flags = "S" }, function(...) local seg = ...; got.syn = seg.flags end)
    net:run(function()
      local c = a:connect(scenario.B, 80)
      l:accept(1)
      c:send("x")
    end)
    assert.is_true(calls >= 3)
    for _, n in ipairs(got) do assert.equal(1, n) end
    assert.equal("S", got.syn)
    local none = 0
    a:hook("egress", {}, function() none = none + 1 end) -- takes nothing, runs all the same
    net:run(function() a:connect(scenario.B, 80):wait("ESTABLISHED", 1) end)
    assert.is_true(none >= 2)
  end)
end)
