-- Recording a run as pcapng (net:pcap, synfin --pcap): every segment is
-- written once, with its bytes as they were on the wire, the time it
-- entered the wire, and a comment with its number in the trace and its fate
-- (the hooks' verdicts). tcpdump and tshark (Debian's tcpdump and tshark)
-- must read the files without a complaint; without them this spec fails.
local synfin = require "synfin"

local cli = os.getenv("SYNFIN_CLI") or "build/synfin"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs a shell command: its standard output, standard error and exit status.
local function run(cmd)
  local errfile = os.tmpname()
  local p = io.popen(cmd .. " 2>" .. errfile .. "; echo \"exit=$?\"")
  local out = p:read("a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  local err = slurp(errfile)
  os.remove(errfile)
  return out:gsub("exit=%d+%s*$", ""), err, code
end

local function tmpdir()
  local out = run("mktemp -d")
  local dir = out:match("^(/%S+)")
  assert(dir, "mktemp -d failed")
  return dir
end

-- tcpdump and tshark are required: a missing one fails the spec, saying why.
local function need(tool)
  local _, _, code = run("command -v " .. tool .. " >/dev/null")
  assert(code == 0, ("%s is missing: pcap_spec needs Debian's tcpdump and tshark "
    .. "(DEBIAN_FRONTEND=noninteractive apt-get install -y tcpdump tshark)"):format(tool))
end

-- What the tools print on standard error that is not a complaint: tcpdump
-- names the file it reads, tshark warns that it runs as root.
local function complaints(stderr)
  local left = {}
  for line in stderr:gmatch("[^\n]+") do
    if not (line:match("^reading from file .*link%-type RAW")
        or line:match('^Running as user "root" and group "root"')) then
      left[#left + 1] = line
    end
  end
  return table.concat(left, "\n")
end

local function lines(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

-- Reads a file with tcpdump and tshark, asserting both succeed without a
-- complaint, and returns its packets as tshark dissects them, in file
-- order: { n = segment number, comment, time, tcp_ok, ip_ok, payload }.
local function read_pcap(path)
  need("tcpdump")
  need("tshark")
  local out, err, code = run("tcpdump -nn -r " .. path)
  assert.equal(0, code, "tcpdump failed: " .. err)
  assert.equal("", complaints(err))
  local dumped = #lines(out)

  out, err, code = run("tshark -n -r " .. path)
  assert.equal(0, code, "tshark failed: " .. err)
  assert.equal("", complaints(err))
  assert.equal(dumped, #lines(out))

  -- tshark 4.0 (Debian 12) names a packet's comment frame.comment; the
  -- status of a verified checksum is 1 (good) or 0 (bad)
  out, err, code = run("tshark -n -r " .. path .. " -o tcp.check_checksum:TRUE"
    .. " -o ip.check_checksum:TRUE -T fields -E separator=/t -E occurrence=f"
    .. " -e frame.comment -e frame.time_epoch -e tcp.checksum.status -e ip.checksum.status"
    .. " -e tcp.payload -e _ws.malformed")
  assert.equal(0, code, "tshark failed: " .. err)
  assert.equal("", complaints(err))
  local packets = {}
  for _, line in ipairs(lines(out)) do
    local f = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
    assert.equal("", f[6] or "", "tshark finds a malformed packet: " .. line)
    packets[#packets + 1] = {
      n = tonumber(f[1]:match("^synfin #(%d+) ")),
      comment = f[1],
      time = tonumber(f[2]),
      tcp_ok = f[3] == "1",
      ip_ok = f[4] == "1",
      payload = (f[5] or ""):gsub(":", ""),
    }
  end
  assert.equal(dumped, #packets)
  return packets
end

local function segments(net)
  local segs = {}
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" then segs[#segs + 1] = r end
  end
  return segs
end

-- The packets by segment number; each number once, each segment of the
-- trace there, at the time it entered the wire.
local function by_number(segs, packets)
  assert.equal(#segs, #packets, "one packet per segment of the trace")
  local by = {}
  for _, p in ipairs(packets) do
    assert.is_not_nil(p.n, "a comment without a segment number: " .. p.comment)
    assert.is_nil(by[p.n], "segment #" .. tostring(p.n) .. " written twice")
    by[p.n] = p
  end
  for _, r in ipairs(segs) do
    local p = by[r.n]
    assert.is_not_nil(p, "segment #" .. r.n .. " is missing")
    assert.is_true(math.abs(p.time - r.time) < 1e-6,
      ("segment #%d at %.6f s in the file, %.6f s in the trace"):format(r.n, p.time, r.time))
  end
  return by
end

local function first(segs, test)
  for _, r in ipairs(segs) do
    if test(r) then return r end
  end
  error("no such segment in the trace")
end

local A, B = "192.0.2.1", "192.0.2.2"

describe("net:pcap", function()
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
        assert.is_true(by[r.n].ip_ok, "IP checksum of #" .. r.n)
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
