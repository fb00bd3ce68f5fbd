-- synfin --pkt FILE --to-lua: the converter writes a synfin Lua scenario
-- equivalent to a .pkt script. A converted scenario that cannot fail is
-- worthless: each wrong script here must give a scenario that fails,
-- naming the .pkt line, as the runner does.
local pkt = require "synfin.pkt"
local run = require "synfin.pkt_run"

local CLI = os.getenv("SYNFIN_CLI") or "build/synfin"

local HANDSHAKE = require "helpers.pkt_handshake"

-- converts text (as name) and runs the scenario with synfin: its exit
-- status, its output, the source
local function convert_and_run(text, name)
  local events = assert(pkt.parse(text, name))
  local src, r = run.to_lua(events, { target = "sim", name = name, text = text })
  assert(src, r and r.message)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  local p = io.popen(("%s %s 2>&1; echo rc=$?"):format(CLI, path))
  local out = p:read("a")
  p:close()
  os.remove(path)
  return tonumber(out:match("rc=(%d+)%s*$")), out, src
end

describe("synfin --pkt --to-lua", function()
  it("writes a scenario that passes where the script does, one statement per event after its line", function()
    local text = HANDSHAKE .. "+0  close(4) = 0\n+0  > F. 1:1(0) ack 1\n"
    local rc, out, src = convert_and_run(text, "good.pkt")
    assert.equal(0, rc, out)
    assert.matches("good.pkt: passed", out, 1, true)
    assert.matches('local synfin = require "synfin"', src, 1, true)
    assert.matches("local k = kernel.sim(net, host)", src, 1, true)
    assert.matches("-- 4: +0 listen(3, 1) = 0\n", src, 1, true)
    assert.matches('returns(4, k:start("listen", fd[3], 1), { t = 0, ret = 0 })', src, 1, true)
    -- the numbers of a `<` line, as the runner computes them (run.inbound_fields)
    assert.matches('peer:send { dst = KERNEL, sport = rport, dport = kport, flags = "A", abs_seq = rel(risn, 1),'
      .. " abs_ack = rel(kisn, 1), win = 65535 }", src, 1, true)
    assert.matches('net:expect({ from = host, since = m0, flags = "=FA", seq = 1, len = 0, ack = 1', src, 1, true)
  end)

  it("a wrong ack: the scenario fails, naming the .pkt line", function()
    local text = HANDSHAKE .. "+0  close(4) = 0\n+0  > F. 1:1(0) ack 7\n"
    local rc, out = convert_and_run(text, "wrong_ack.pkt")
    assert.equal(1, rc, out)
    assert.matches("wrong_ack.pkt:10:", out, 1, true)
  end)

  it("a wrong return value: the scenario fails at the call's line", function()
    local text = HANDSHAKE .. "+0  write(4, ..., 10) = 5\n"
    local rc, out = convert_and_run(text, "wrong_ret.pkt")
    assert.equal(1, rc, out)
    assert.matches("wrong_ret.pkt:9:", out, 1, true)
    assert.matches("the script says 5", out, 1, true)
  end)

  it("a packet 0.2 s early: the scenario fails at the packet's line", function()
    local text = HANDSHAKE .. "+0  close(4) = 0\n+.2 > F. 1:1(0) ack 1\n"
    local rc, out = convert_and_run(text, "late.pkt")
    assert.equal(1, rc, out)
    assert.matches("late.pkt:10: ", out, 1, true)
    assert.matches("the segment came at t=0.010 s: the script says t=0.210 s", out, 1, true)
  end)

  it("refuses an unsupported construct, with the runner's message", function()
    local text = HANDSHAKE .. "+0  `echo hi`\n"
    local events = assert(pkt.parse(text, "u.pkt"))
    local src, r = run.to_lua(events, { target = "sim", name = "u.pkt", text = text })
    assert.is_nil(src)
    local ran = run.events(events, { target = "sim" })
    assert.same({ "unsupported", 9, ran.message }, { r.status, r.line, r.message })
  end)
end)
