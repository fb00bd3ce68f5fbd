-- Recording a run as pcapng (net:pcap, synfin --pcap): every segment is
-- written once, with its bytes as they were on the wire, the time it
-- entered the wire, and a comment with its number in the trace and its fate
-- (the hooks' verdicts). tcpdump and tshark (Debian's tcpdump and tshark)
-- must read the files without a complaint; without them this spec fails.
local synfin = require "synfin"

local cli = os.getenv("SYNFIN_CLI") or "build/synfin"

-- the reading helpers are shared with spec/interop/pcap_spec.lua (TUN, raw)
local pcap = require "pcap_read"
local run, tmpdir, read_pcap = pcap.run, pcap.tmpdir, pcap.read_pcap
local segments, by_number, first = pcap.segments, pcap.by_number, pcap.first

local families = require "helpers.families"

families.describe("net:pcap", function(family)
  local A, B = family.a, family.b
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() run("rm -rf " .. dir) end)

  it("writes each segment once with its verdict: egress drop, delay, injection, ingress drop",
    function()
      -- payloads = false: the trace keeps no bytes, the file has them all
      local net = synfin.sim { seed = 7, latency = 0.005, payloads = false }
      local a, b = net:host(A), net:host(B)
      local l = b:listen(80)
      local path = dir .. "/run.pcapng"
      assert.equal(net, net:pcap(path))
      local drop = a:hook("egress", { flags = "=PA", count = 1 }, function() return "drop" end)
      local delay = a:hook("egress", { flags = "=A", state = "ESTABLISHED", count = 1 },
        function() return { delay = 1 } end)
      local refuse = b:hook("ingress", { flags = "F", count = 1 }, function() return "drop" end)
      net:run(function()
        local c = a:connect(B, 80)
        c:wait("ESTABLISHED", 2)
        local s = l:accept(3)
        c:send("hello")
        assert.equal("hello", s:recv(5, 5))
        c:segment { win = 1234 }
        c:close()
        s:close()
        c:wait("TIME_WAIT", 10)
      end)
      local segs = segments(net)
      net:close() -- stops the recording too

      local by = by_number(segs, read_pcap(path))
      local function comment(r) return by[r.n].comment end
      local dropped = first(segs, function(r) return r.fate == "dropped_egress" end)
      assert.equal(("synfin #%d %s > %s: dropped by egress hook %d"):format(dropped.n, A, B,
        drop.id), comment(dropped))
      local delayed = first(segs, function(r) return r.delay end)
      assert.equal(("synfin #%d %s > %s: delayed 1 s by hook %d, delivered"):format(delayed.n, A,
        B, delay.id), comment(delayed))
      local injected = first(segs, function(r) return r.injected end)
      assert.equal(1234, injected.win)
      assert.equal(("synfin #%d %s > %s: injected by the script, delivered"):format(injected.n,
        A, B), comment(injected))
      local refused = first(segs, function(r) return r.fate == "dropped_ingress" end)
      assert.equal(("synfin #%d %s > %s: dropped by ingress hook %d"):format(refused.n, A, B,
        refuse.id), comment(refused))
      for _, r in ipairs(segs) do
        if r ~= dropped and r ~= delayed and r ~= injected and r ~= refused then
          assert.equal(("synfin #%d %s > %s: delivered"):format(r.n, r.src, r.dst), comment(r))
        end
        assert.is_true(by[r.n].tcp_ok, "TCP checksum of #" .. r.n)
        -- (IPv6 has no header checksum, RFC 8200 §3)
        if family.name == "IPv4" then assert.is_true(by[r.n].ip_ok, "IP checksum of #" .. r.n) end
      end
      -- the bytes the trace did not keep
      local data = first(segs, function(r) return r.len == 5 and r.fate == "delivered" end)
      assert.equal("", data.payload)
      assert.equal("68656c6c6f", by[data.n].payload)
    end)

  it("keeps a replacement's wrong checksum, and tells copies, losses and the in-flight apart",
    function()
      local net = synfin.sim { seed = 3, latency = 0.005 }
      local a, b = net:host(A), net:host(B)
      b:listen(80)
      local path = dir .. "/faults.pcapng"
      net:pcap(path)
      local bad = a:hook("egress", { flags = "=S", count = 1 },
        function(seg) return seg:with { bad_checksum = true } end)
      local dup = b:hook("egress", { flags = "=SA", count = 1 }, function() return { dup = 2 } end)
      net:run(function()
        local c = a:connect(B, 80)
        c:wait("ESTABLISHED", 5)
        c:send("x")
        net:sleep(0.001) -- the data is on the wire, not yet arrived
      end)
      net:pcap(false)

      local segs = segments(net)
      local by = by_number(segs, read_pcap(path))
      local replaced = first(segs, function(r) return r.fate == "replaced" end)
      local replacement = by[replaced.n + 1]
      assert.equal(("synfin #%d %s > %s: replaced by hook %d"):format(replaced.n, A, B, bad.id),
        by[replaced.n].comment)
      assert.equal(("synfin #%d %s > %s: replacement by hook %d, delivered"):format(
        replaced.n + 1, A, B, bad.id), replacement.comment)
      assert.is_false(replacement.tcp_ok) -- the corruption the hook asked for
      local synack = first(segs, function(r) return r.flags == "SA" end)
      assert.equal(("synfin #%d %s > %s: duplicated by hook %d, delivered"):format(synack.n, B,
        A, dup.id), by[synack.n].comment)
      assert.equal(("synfin #%d %s > %s: copy by hook %d, delivered"):format(synack.n + 1, B, A,
        dup.id), by[synack.n + 1].comment)
      local data = first(segs, function(r) return r.len == 1 end)
      assert.equal("flight", data.fate)
      assert.equal(("synfin #%d %s > %s: in flight at the end"):format(data.n, A, B),
        by[data.n].comment)
      for n, p in pairs(by) do
        if n ~= replaced.n + 1 then assert.is_true(p.tcp_ok, "TCP checksum of #" .. n) end
      end
      net:close()

      -- a lossy link
      net = synfin.sim { seed = 5, latency = 0.005, loss = 0.3 }
      a, b = net:host(A), net:host(B)
      b:listen(80)
      path = dir .. "/lossy.pcapng"
      net:pcap(path)
      net:run(function() a:connect(B, 80):wait("ESTABLISHED", 30) end)
      segs = segments(net)
      net:close()
      by = by_number(segs, read_pcap(path))
      local lost = first(segs, function(r) return r.fate == "lost" end)
      assert.equal(("synfin #%d %s > %s: lost by the link"):format(lost.n, lost.src, lost.dst),
        by[lost.n].comment)
    end)

  it("writes ICMP messages too, with no segment number", function()
    local net = synfin.sim { seed = 3 }
    local a, b = net:host(A), net:host(B)
    local path = dir .. "/icmp.pcapng"
    net:pcap(path)
    net:run(function()
      a:connect(B, 81)
      b:send_icmp { about = net:expect({ flags = "S" }, 1), type = 3, code = 1 }
      net:sleep(1)
    end)
    net:close()
    local comments = {}
    for _, p in ipairs(read_pcap(path)) do comments[#comments + 1] = p.comment end
    assert.same({
      ("synfin #1 %s > %s: delivered"):format(A, B),
      ("synfin ICMP %s > %s: injected by the script, delivered"):format(B, A),
      ("synfin #2 %s > %s: delivered"):format(B, A),
    }, comments)
  end)

  it("raises a clear error for a file it cannot open, and stops on false or net:close()",
    function()
      local net = synfin.sim {}
      assert.has_error(function() net:pcap(dir .. "/no/such/dir/x.pcapng") end,
        nil) -- the message is checked below, without its position
      local ok, err = pcall(net.pcap, net, dir .. "/no/such/dir/x.pcapng")
      assert.is_false(ok)
      assert.matches("net:pcap: cannot open " .. dir:gsub("%p", "%%%0")
        .. "/no/such/dir/x%.pcapng: No such file or directory$", err)
      assert.has_error(function() net:pcap(42) end,
        "bad argument #1 to 'pcap' (a file name or false expected, got number)")
      assert.equal(net, net:pcap(false)) -- not recording: nothing to stop
      net:close()
      assert.equal(net, net:pcap(false)) -- closed: its recording stopped already
    end)

  it("synfin --pcap FILE records the first net to FILE and the Nth to FILE-N", function()
    local script = dir .. "/two.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local synfin = require "synfin"
for i = 1, 2 do
  local net = synfin.sim { seed = i }
  local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
  b:listen(80)
  net:run(function()
    local c = a:connect("192.0.2.2", 80)
    c:wait("ESTABLISHED", 1)
    if i == 2 then c:close() c:wait("FIN_WAIT_2", 1) end
  end)
end
]])
    f:close()
    local _, err, code = run(cli .. " --pcap " .. dir .. "/out.pcapng " .. script)
    assert.equal(0, code, err)
    assert.equal(3, #read_pcap(dir .. "/out.pcapng"))
    assert.equal(5, #read_pcap(dir .. "/out-2.pcapng"))
    _, err, code = run(cli .. " --pcap " .. dir .. "/no/x.pcapng " .. script)
    assert.equal(1, code)
    assert.matches("--pcap: cannot open .*/no/x%.pcapng: No such file or directory", err)
  end)
end)
