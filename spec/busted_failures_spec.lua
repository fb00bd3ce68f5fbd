-- busted sees a luassert assertion that fails inside net:run as a failure,
-- not an error (issue 14), in its own report and in JUnit, with the last
-- lines of the ladder attached; an error stays an error.
local synfin = require "synfin"
require "synfin.busted"

local A, B = "192.0.2.1", "192.0.2.2"

-- A connection up, then fn(net, c) inside the scenario.
local function scenario(fn)
  local net = synfin.sim { latency = 0.005 }
  local a, b = net:host(A), net:host(B)
  assert(b:listen(80))
  net:run(function()
    local c = a:connect(B, 80)
    c:wait("ESTABLISHED", 1)
    fn(net, c)
  end)
end

describe("a failing assertion inside net:run", function()
  it("reaches busted as the same failure object, the ladder's tail added to its message", function()
    local ok, err = pcall(scenario, function(_, c) assert.state(c, "CLOSED") end)
    assert.is_false(ok)
    assert.equal("table", type(err))
    assert.equal("failure", getmetatable(err).__type) -- busted's failure type: kept
    assert.matches("busted_failures_spec.lua:%d+: Expected connection 192.0.2.1:%d+ %(with 192.0.2.2:80%) "
      .. "to be in state CLOSED, but it is ESTABLISHED", err.message)
    assert.matches("\nlast lines of the trace:\n", err.message, 1, true)
    assert.matches("[ESTABLISHED] SYN-ACK #2", err.message, 1, true)
  end)

  it("a plain error gets the traceback and the ladder's tail, and stays a string", function()
    local ok, err = pcall(scenario, function() error("boom") end)
    assert.is_false(ok)
    assert.equal("string", type(err))
    assert.matches("busted_failures_spec.lua:%d+: boom\nlast lines of the trace:\n", err)
    assert.matches("stack traceback:", err, 1, true)
  end)
end)

describe("busted's report", function()
  local runner = os.getenv("SYNFIN_CLI") or "build/synfin"

  -- Runs busted with the junit output on a spec file made of source;
  -- returns the XML.
  local function junit(source)
    local p = io.popen("mktemp -d")
    local dir = p:read("l")
    p:close()
    assert(dir and dir:match("^/"), "mktemp -d failed")
    local f = assert(io.open(dir .. "/scenario_spec.lua", "w"))
    f:write(source)
    f:close()
    p = io.popen(("cd '%s' && '%s' /usr/bin/busted -o junit scenario_spec.lua 2>&1; rm -rf '%s'")
      :format(dir, runner, dir))
    local xml = p:read("a")
    p:close()
    return xml
  end

  it("counts an assertion inside net:run as a failure and an error as an error, in JUnit too", function()
    local xml = junit([[
local synfin = require "synfin"
require "synfin.busted"
local function scenario(fn)
  local net = synfin.sim { latency = 0.005 }
  local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
  b:listen(80)
  net:run(function()
    local c = a:connect("192.0.2.2", 80)
    c:wait("ESTABLISHED", 1)
    fn(c)
  end)
end
describe("scenarios", function()
  it("asserts a state", function() scenario(function(c) assert.state(c, "TIME_WAIT") end) end)
  it("asserts an equality", function() scenario(function() assert.equal(1, 2) end) end)
  it("errors", function() scenario(function() error("boom") end) end)
end)
]])
    assert.matches("<testsuite [^>]*failures=['\"]2['\"]", xml)
    assert.matches("<testsuite [^>]*errors=['\"]1['\"]", xml)
    local state = xml:match("<testcase [^>]*name=['\"]scenarios asserts a state['\"].-</testcase>")
    assert.is_not_nil(state, xml)
    assert.matches("<failure", state, 1, true)
    assert.matches("to be in state TIME_WAIT, but it is ESTABLISHED", state, 1, true)
    assert.matches("last lines of the trace:", state, 1, true)
    local errs = xml:match("<testcase [^>]*name=['\"]scenarios errors['\"].-</testcase>")
    assert.matches("<error", errs, 1, true)
  end)
end)
