-- Crafted segments (issue 14): c:segment{} and host:send{} on a connection's
-- ports are filled from the connection as the stack would send them: the
-- timestamp option with the current TSval and TS.Recent, the scaled window,
-- SACK-permitted only on SYNs; a field given wins, false (ts = false, mss =
-- false ...) leaves an option out, and an unknown field is an error.
local synfin = require "synfin"

local A, B = "192.0.2.1", "192.0.2.2"

-- Two hosts 5 ms apart with 1 MiB receive buffers offered whole (the RFC
-- window: window scale 5), b listening, or with the settings given (and the
-- RFC window); returns the net, the hosts and, established, c (a's) and s (b's).
local function established(settings)
  local net = synfin.sim { latency = 0.005 }
  settings = settings or { rcv_buf = 1048576 }
  settings.rcv_window, settings.rcv_buf_max = "rfc", 0
  local a = net:host(A, settings)
  local b = net:host(B, settings)
  local l = assert(b:listen(80))
  local c, s
  net:run(function()
    c = a:connect(B, 80, { sport = 40000 })
    c:wait("ESTABLISHED", 1)
    s = l:accept(1)
  end)
  return net, a, b, c, s
end

-- The segment records, in order, and the notes' texts.
local function segs(net)
  local list = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" then list[#list + 1] = r end
  end
  return list
end
local function notes(net)
  local list = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "note" then list[#list + 1] = r.text end
  end
  return table.concat(list, "\n")
end

local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "it did not fail")
  return tostring(err)
end

describe("c:segment{}", function()
  it("carries what the connection's own next segment carries: TSval of now, TSecr = TS.Recent, the scaled window", function()
    local net, _, _, c = established()
    net:run(function()
      net:sleep(0.1)
      c:segment {}          -- #4, a bare ACK
      c:send "x"            -- #5, the connection's own, at the same instant
      net:sleep(0.1)
    end)
    local list = segs(net)
    local crafted, own = list[4], list[5]
    assert.is_true(crafted.injected)
    assert.same({ "A", 1, 1, 0 }, { crafted.flags, crafted.seq, crafted.ack, crafted.len })
    assert.equal(32768, crafted.win) -- 1 MiB offered, scaled by 2^5 (RFC 7323 §2.3)
    assert.same({ own.win, own.ts_val, own.ts_ecr }, { crafted.win, crafted.ts_val, crafted.ts_ecr })
    assert.equal(list[2].ts_val, crafted.ts_ecr) -- TS.Recent: the SYN-ACK's TSval
    assert.is_nil(crafted.sack_perm)
    assert.is_nil(crafted.mss)
    -- the peer took it: neither dropped for a missing timestamp nor by PAWS
    assert.is_nil(notes(net):find("timestamp", 1, true))
  end)

  it("ts = false leaves the timestamp option out: the peer drops it (RFC 7323 §3.2)", function()
    local net, _, _, c = established()
    net:run(function()
      c:segment { ts = false, payload = "x" }
      net:sleep(0.1)
    end)
    local crafted = segs(net)[4]
    assert.is_nil(crafted.ts_val)
    assert.matches("no timestamp (RFC 7323 §3.2): dropped", notes(net), 1, true)
  end)

  it("a SYN carries the options the connection's own SYN would: MSS, window scale, timestamps, SACK-permitted", function()
    local net, _, _, c = established()
    net:run(function()
      c:segment { flags = "S" }
      c:segment { flags = "S", sack_perm = false, mss = false, wscale = false }
      net:sleep(0.1)
    end)
    local list = segs(net)
    local syn, bare = list[4], list[5]
    assert.same({ "S", 1460, 5, 1, 0 }, { syn.flags, syn.mss, syn.wscale, syn.sack_perm, syn.abs_ack }) -- no ACK
    assert.equal(list[1].ts_val + 15, syn.ts_val) -- the ms clock, 15 ms after the first SYN
    assert.equal(0, syn.ts_ecr)                                          -- a SYN echoes nothing
    assert.same({ "S", 1 }, { bare.flags, bare.seq })
    assert.is_nil(bare.mss)
    assert.is_nil(bare.wscale)
    assert.is_nil(bare.sack_perm)
    assert.is_not_nil(bare.ts_val)
  end)

  it("a RST carries no timestamp option, as the stack's own (RFC 7323 §3.2)", function()
    local net, _, _, c, s = established()
    net:run(function()
      c:segment { flags = "R" }
      s:wait("CLOSED", 1)
    end)
    local rst = segs(net)[4]
    assert.same({ "R", 1 }, { rst.flags, rst.seq })
    assert.is_nil(rst.ts_val)
  end)

  it("fields given win: relative seq, a window, a payload", function()
    local net, _, b, c = established()
    net:run(function()
      c:segment { seq = 1000, win = 7, payload = "far" } -- out of the window: the peer ACKs
      net:expect({ from = b, flags = "=A", ack = 1 }, 1)
    end)
    local crafted = segs(net)[4]
    assert.same({ 1000, 1, 7, "far" }, { crafted.seq, crafted.ack, crafted.win, crafted.payload })
  end)

  it("without timestamps agreed, none are added, and ts = true says why it cannot", function()
    local net, _, _, c = established { timestamps = false }
    net:run(function()
      c:segment {}
      assert.matches("crafted_segments_spec.lua:%d+: synfin: segment field 'ts' is true, but there are no"
        .. " timestamps to fill it with", error_of(c.segment, c, { ts = true }))
    end)
    assert.is_nil(segs(net)[4].ts_val)
    assert.equal(65535, segs(net)[4].win) -- no window scaling either: 64 KiB
  end)

  it("refuses an unknown field at the script's line, listing the fields a segment has", function()
    local _, _, _, c = established()
    local err = error_of(c.segment, c, { windw = 5 })
    assert.matches("crafted_segments_spec.lua:%d+: synfin: unknown segment field \"windw\" %(a segment has ", err)
    assert.matches("win, wscale", err, 1, true)
    assert.matches("synfin: segment field 'ts' must be true or false, got \"no\"", error_of(c.segment, c, { ts = "no" }), 1, true)
  end)
end)

describe("host:send{}", function()
  it("from a host with TCP, on a connection's ports, is filled as c:segment fills it", function()
    local net, a, _, c = established()
    net:run(function()
      a:send { sport = 40000, dport = 80 }
      c:segment {}
      net:sleep(0.1)
    end)
    local list = segs(net)
    local sent, crafted = list[4], list[5]
    for _, k in ipairs { "flags", "seq", "ack", "win", "ts_val", "ts_ecr" } do
      assert.equal(crafted[k], sent[k], k)
    end
    assert.is_not_nil(sent.ts_val)
  end)

  it("from a bare peer, or on no connection's ports, only what is given (no option, window 65535)", function()
    local net = synfin.sim { latency = 0.005 }
    local a = net:host(A)
    local p = net:peer(B)
    net:run(function()
      p:send { sport = 80, dport = 40000, flags = "S" }
      a:send { sport = 1234, dport = 9, flags = "S" }
      net:sleep(0.1)
    end)
    for _, r in ipairs(segs(net)) do
      if r.injected then
        assert.same({ 65535, 0 }, { r.win, r.seq })
        assert.is_nil(r.ts_val)
        assert.is_nil(r.mss)
      end
    end
  end)
end)

describe("seg:with in a hook", function()
  it("ts = false strips the timestamp option from a segment on its way", function()
    local net = synfin.sim { latency = 0.005 }
    local a, b = net:host(A), net:host(B)
    local l = assert(b:listen(80))
    a:hook("egress", { flags = "P", count = 1 }, function(seg) return seg:with { ts = false } end)
    net:run(function()
      local c = a:connect(B, 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send "x"
      assert.equal("x", s:recv(1, 3)) -- its retransmission, with timestamps, gets through
    end)
    assert.matches("no timestamp (RFC 7323 §3.2): dropped", notes(net), 1, true)
  end)
end)
