-- The sim driver and the scenario runner: latency, seeded loss, determinism,
-- timeouts that explain themselves, and the CLI's exit status.
local synfin = require "synfin"

local function transfer(seed, loss, bytes)
  local net = synfin.sim { seed = seed, latency = 0.01, loss = loss }
  local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
  local l = b:listen(9000)
  local payload = ("0123456789abcdef"):rep(bytes // 16)
  local got
  net:run(function()
    local c = a:connect("10.0.0.2", 9000)
    c:wait("ESTABLISHED", 120)
    local s = l:accept(120)
    local sent = 0
    while sent < #payload do
      local n = assert(c:send(payload:sub(sent + 1)))
      sent = sent + n
      if sent < #payload then net:sleep(0.05) end
    end
    got = s:recv(#payload, 600)
    c:close()
    s:close()
    c:wait("TIME_WAIT", 600)
  end)
  return net, got == payload
end

local function lost(net)
  local n = 0
  for _, r in ipairs(net:records()) do
    if r.kind == "seg" and r.fate == "lost" then n = n + 1 end
  end
  return n
end

describe("the sim", function()
  it("delivers each segment one link latency after it was sent", function()
    local net = synfin.sim { latency = 0.025 }
    local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
    b:listen(80)
    net:run(function() a:connect("10.0.0.2", 80):wait("ESTABLISHED", 1) end)
    local delivered = 0
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.fate == "delivered" then
        assert.near(0.025, r.arrival - r.time, 1e-9)
        delivered = delivered + 1
      end
    end
    assert.equal(2, delivered) -- the handshake's last ACK is still in flight
  end)

  it("loses segments by its seeded PRNG, and TCP retransmits until the data is through", function()
    local net, ok = transfer(3, 0.2, 64 * 1024)
    assert.is_true(ok)
    assert.is_true(lost(net) > 0)
  end)

  it("gives the same run for the same seed, byte for byte, and another for another seed", function()
    local n1 = transfer(5, 0.2, 16 * 1024)
    local n2 = transfer(5, 0.2, 16 * 1024)
    local n3 = transfer(6, 0.2, 16 * 1024)
    local t1, t2, t3 = tostring(n1:trace()), tostring(n2:trace()), tostring(n3:trace())
    assert.equal(t1, t2)
    assert.not_equal(t1, t3)
  end)

  it("lets a delayed segment be overtaken by later ones (netem semantics)", function()
    local net = synfin.sim { latency = 0.001 }
    local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
    local l = b:listen(80)
    -- held 0.1 s, under the RTO (the linux profile's: the 2 ms RTT + 200 ms),
    -- so that no retransmission of "first" comes before it
    a:hook("egress", { flags = "P", count = 1 }, function() return { delay = 0.1 } end)
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 1)
      local s = l:accept(1)
      c:send("first")
      c:send("second")
      assert.equal("firstsecond", s:recv(11, 5))
    end)
    local arrivals = {}
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.len > 0 and r.from == a.index then arrivals[#arrivals + 1] = r end
    end
    assert.equal("first", arrivals[1].payload)
    assert.equal(0.1, arrivals[1].delay)
    assert.is_true(arrivals[2].arrival < arrivals[1].arrival)
  end)

  it("jumps its clock: minutes of TCP time cost milliseconds", function()
    local started = os.clock()
    local net = synfin.sim {}
    net:run(function() net:sleep(3600) end)
    assert.near(3600, net:now(), 1e-9)
    assert.is_true(os.clock() - started < 1)
  end)
end)

describe("a scenario", function()
  it("fails a wait that times out with what it waited for, the state instead and the ladder", function()
    local net = synfin.sim {}
    local a = net:host "10.0.0.1"
    net:peer "10.0.0.2" -- answers nothing
    local ok, err = pcall(net.run, net, function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 0.5)
    end)
    assert.is_false(ok)
    assert.matches("sim_spec.lua:%d+: timed out after 0.5 s", err)
    assert.matches("to reach ESTABLISHED", err)
    assert.matches("instead: it is SYN_SENT", err)
    assert.matches("last lines of the trace", err)
    assert.matches("#1 S seq=0", err, 1, true)
  end)

  it("fails an expect that times out, saying which segments did not match", function()
    local net = synfin.sim {}
    local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
    b:listen(80)
    local ok, err = pcall(net.run, net, function()
      a:connect("10.0.0.2", 80)
      net:expect({ from = b, flags = "R" }, 0.2)
    end)
    assert.is_false(ok)
    assert.matches("waiting for { from 10.0.0.2, flags R }", err, 1, true)
    assert.matches("segments #1, #2, #3 did not match", err, 1, true)
  end)

  it("fails early when the connection closes instead of reaching the awaited state", function()
    local net = synfin.sim {}
    local a = net:host "10.0.0.1"
    net:host "10.0.0.2" -- no listener: the SYN draws a RST
    local ok, err = pcall(net.run, net, function()
      a:connect("10.0.0.2", 80):wait("ESTABLISHED", 10)
    end)
    assert.is_false(ok)
    assert.matches("reached CLOSED %(RST%) while waiting for ESTABLISHED", err)
    assert.is_true(net:now() < 1)
  end)

  it("works outside net:run too, driving the clock directly", function()
    local net = synfin.sim {}
    local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
    b:listen(80)
    local c = a:connect("10.0.0.2", 80)
    c:wait("ESTABLISHED", 1)
    assert.equal("ESTABLISHED", c:state())
  end)

  it("prints nothing unless asked", function()
    local printed = false
    local real = _G.print
    _G.print = function() printed = true end
    local net = synfin.sim {}
    local a, b = net:host "10.0.0.1", net:host "10.0.0.2"
    b:listen(80)
    net:run(function() a:connect("10.0.0.2", 80):wait("ESTABLISHED", 1) end)
    _G.print = real
    assert.is_false(printed)
  end)

  it("rejects unknown settings and bad arguments with clear errors", function()
    assert.has_error(function() synfin.sim { sed = 1 } end, "bad argument #1 to 'sim' (unknown option 'sed')")
    local net = synfin.sim {}
    assert.has_error(function() net:host("10.0.0.1", { msll = 1 }) end,
      "bad argument #2 to 'host' (unknown option 'msll')")
    assert.has_error(function() net:host("not an address") end)
    local h = net:host "10.0.0.1"
    assert.has_error(function() h:hook("sideways", {}, function() end) end,
      "bad argument #1 to 'hook' (\"ingress\" or \"egress\" expected)")
    assert.has_error(function() h:connect("10.0.0.2", "80") end, "bad argument #2 to 'connect' (port number expected, got \"80\")")
  end)
end)

describe("the synfin CLI", function()
  local cli = os.getenv("SYNFIN_CLI") or "build/synfin"
  local function run(args)
    local p = io.popen(cli .. " " .. args .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("a")
    p:close()
    return out, tonumber(out:match("exit=(%d+)%s*$"))
  end

  it("exits 0 when the scenario passes and prints its trace", function()
    local out, code = run("examples/seed_walkthrough.lua")
    assert.equal(0, code)
    assert.matches("[TIME_WAIT]", out, 1, true)
  end)

  it("exits non-zero when the scenario fails, with file:line", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write([[
local net = require("synfin").sim {}
local a = net:host "10.0.0.1"
net:peer "10.0.0.2"
net:run(function() a:connect("10.0.0.2", 80):wait("ESTABLISHED", 1) end)
]])
    f:close()
    local out, code = run(path)
    os.remove(path)
    assert.equal(1, code)
    assert.matches(":4: timed out after 1 s", out)
  end)

  it("--seed overrides the seed of every net", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write('print(require("synfin").sim{ seed = 1 }.seed)\n')
    f:close()
    local out = run("--seed 42 " .. path)
    os.remove(path)
    assert.matches("^42", out)
  end)

  it("-i gives a Lua prompt with a net and two hosts ready", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write('c = a:connect("192.0.2.2", 80)\nc:state()\nfunction f()\nreturn 6 * 7\nend\nf()\n')
    f:close()
    local out, code = run("-i < " .. path)
    os.remove(path)
    assert.equal(0, code)
    assert.matches("net, a %(192.0.2.1%) and b %(192.0.2.2%) are ready", out)
    assert.matches("SYN_SENT", out)
    assert.matches("42", out)
  end)

  it("-i prints what objects are: connections, listeners, hosts, hooks, the net", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write('l = b:listen(80)\nh = a:hook("egress", {}, function() end)\nc = a:connect("192.0.2.2", 80)\n'
      .. 'c\nl\na\nh\nnet\n')
    f:close()
    local out, code = run("-i < " .. path)
    os.remove(path)
    assert.equal(0, code)
    assert.matches("<conn 192.0.2.1:49152 -> 192.0.2.2:80 SYN_SENT>", out, 1, true)
    assert.matches("<listener 192.0.2.2:80 LISTEN>", out, 1, true)
    assert.matches("<host 192.0.2.1>", out, 1, true)
    assert.matches("<hook 1 egress on 192.0.2.1: matched 1, fired 1>", out, 1, true)
    assert.matches("<net sim seed 1: 2 hosts, 0.000 s>", out, 1, true)
    assert.not_matches("0x%x+", out)
    -- not a terminal: plain lines, and no word about line editing
    assert.not_matches("line editing", out, 1, true)
  end)

  it("-i on a terminal edits lines, completes names with Tab and keeps a history (lua-readline)", function()
    local have = function(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end
    if not have("script") then
      pending("util-linux's script is not installed: no terminal to run synfin -i on")
      return
    end
    if not pcall(require, "readline") then
      pending("lua-readline is not installed (Debian: lua-readline): synfin -i has no line editing to check")
      return
    end
    local home = io.popen("mktemp -d"):read("l")
    finally(function() os.execute("rm -rf '" .. home .. "'") end)
    -- "net:hos" + Tab completes to net:host; the history keeps both lines.
    -- (In the sanitizer build, no leak check here: GNU readline keeps its
    -- history and keymaps for the life of the process, and once lua_close
    -- has unloaded the module LeakSanitizer sees them as leaked, with no
    -- symbols left to tell them apart; the test above checks synfin -i's
    -- own memory.)
    local p = io.popen(("printf 'x = net:hos\\t(\"192.0.2.7\")\\nprint(x)\\n\\004' | HOME='%s' "
      .. "ASAN_OPTIONS=detect_leaks=0 timeout 20 script -qec '%s -i' /dev/null 2>&1; echo \"exit=$?\"")
      :format(home, cli))
    local out = p:read("a")
    p:close()
    assert.equal("0", out:match("exit=(%d+)%s*$"), out)
    assert.matches("<host 192.0.2.7>", out, 1, true)
    local f = assert(io.open(home .. "/.synfin_history"))
    local history = f:read("a")
    f:close()
    assert.equal('x = net:host ("192.0.2.7")\nprint(x)\n', history)
  end)

  it("--version names the version", function()
    local out, code = run("--version")
    assert.equal(0, code)
    assert.matches("^synfin %d+%.%d+%.%d+", out)
  end)
end)

describe("the retransmission timer", function()
  it("RFC 6298 (5.7): after a SYN timed out, data transmission starts with an RTO of 3 s", function()
    local net = synfin.sim { latency = 0.01 }
    -- RFC 6298's timer, read literally: no tail loss probe, which (Linux's,
    -- RFC 8985) would go at 1 s with no RTT sample, before the 3 s RTO
    local a = net:host("10.0.0.1", { rto_formula = "rfc6298", rto_min = 1, tail_loss_probe = false })
    local b = net:host "10.0.0.2"
    local l = b:listen(80)
    a:hook("egress", { flags = "=S", count = 1 }, function() return "drop" end)
    a:hook("egress", { flags = "P", count = 1 }, function() return "drop" end)
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 5)
      assert.equal(3, c:info().rto)
      l:accept(1)
      c:send("data")
      net:expect({ from = a, flags = "P" }, 10) -- the retransmission: the first never reached the wire
    end)
    local data = {}
    for _, r in ipairs(net:records()) do
      if r.kind == "seg" and r.from == a.index and r.len > 0 then data[#data + 1] = r end
    end
    assert.equal("dropped_egress", data[1].fate)
    assert.equal(data[1].seq, data[2].seq)
    assert.near(3, data[2].time - data[1].time, 1e-6)
  end)

  it("RFC 6298 (2.2)-(2.3): the RTO follows the measured RTT, never below rto_min", function()
    local net = synfin.sim { latency = 0.2 }
    local a, b = net:host("10.0.0.1", { rto_min = 0.2 }), net:host "10.0.0.2"
    b:listen(80)
    net:run(function()
      local c = a:connect("10.0.0.2", 80)
      c:wait("ESTABLISHED", 5)
      local i = c:info()
      assert.near(0.4, i.srtt, 1e-6)          -- one round trip
      assert.near(0.4 + 4 * 0.2, i.rto, 1e-6) -- SRTT + 4 * RTTVAR, RTTVAR = R/2
    end)
  end)
end)

describe("objects as text (tostring, print)", function()
  it("say what they are, and a closed net or a released connection says so", function()
    local net = synfin.sim { seed = 7 }
    local a, b = net:host("192.0.2.1", { name = "client" }), net:host "192.0.2.2"
    local p = net:peer "192.0.2.9"
    local l = b:listen(80)
    local seen
    local h = a:hook("egress", { flags = "S" }, function(seg) seen = tostring(seg); return seg:with { win = 100 } end)
    net:run(function()
      local c = a:connect("192.0.2.2", 80)
      c:wait("ESTABLISHED", 1)
      assert.equal("<conn 192.0.2.1:49152 -> 192.0.2.2:80 ESTABLISHED>", tostring(c))
      assert.equal("<conn 192.0.2.2:80 -> 192.0.2.1:49152 ESTABLISHED>", tostring(l:accept(1)))
    end)
    assert.equal("<net sim seed 7: 3 hosts, 0.015 s>", tostring(net))
    assert.equal("<host 192.0.2.1 client>", tostring(a))
    assert.equal("<host 192.0.2.2>", tostring(b))
    assert.equal("<peer 192.0.2.9>", tostring(p))
    assert.equal("<listener 192.0.2.2:80 LISTEN>", tostring(l))
    assert.equal("<hook 1 egress on 192.0.2.1: matched 1, fired 1>", tostring(h))
    -- the SYN's window, the linux profile's: 44 * 1460 = 64240 (tcp_select_initial_window)
    assert.equal("<seg #1 S 192.0.2.1:49152 -> 192.0.2.2:80 seq=0 ack=0 win=64240 len=0>", seen)
    h:remove()
    assert.equal("<hook 1 egress on 192.0.2.1: removed>", tostring(h))
    net:close()
    assert.equal("<net sim seed 7: 3 hosts, closed>", tostring(net))
    assert.equal("<conn of a closed net>", tostring(l))
  end)
end)
