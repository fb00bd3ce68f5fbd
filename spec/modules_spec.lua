-- The scenario layer is split by job (lua/synfin/*.lua, assembled by
-- init.lua): each module loads on its own, in a fresh Lua state, so that no
-- module works only when another was loaded first, and no cycle of requires
-- hides behind init.lua's order. And the net hands its state records to
-- observers (the coverage recorder is one, registered by init.lua).

-- The names of the Lua modules of synfin: "synfin", "synfin.net", ...
local function modules()
  local p = assert(io.popen("ls lua/synfin/*.lua"))
  local names = {}
  for file in p:lines() do
    local m = file:match("^lua/synfin/([%w_]+)%.lua$")
    names[#names + 1] = m == "init" and "synfin" or ("synfin." .. m)
  end
  p:close()
  return names
end

describe("the modules of lua/synfin", function()
  local names = modules()

  it("are there: init.lua and the modules it assembles", function()
    for _, m in ipairs { "synfin", "synfin.net", "synfin.scheduler", "synfin.expect", "synfin.records",
      "synfin.host", "synfin.conn", "synfin.close", "synfin.hooks" } do
      assert.is_true(#names > 0 and table.concat(names, " "):find(m, 1, true) ~= nil, m)
    end
  end)

  for _, m in ipairs(names) do
    it(m .. " loads on its own in a fresh Lua state", function()
      -- the spec's LUA_PATH and LUA_CPATH (spec/CMakeLists.txt) find the tree;
      -- in the sanitizer build the module needs the runtimes preloaded
      local preload = os.getenv("SYNFIN_LUA_PRELOAD") or ""
      local env = preload ~= "" and ("LD_PRELOAD='%s' ASAN_OPTIONS=detect_leaks=0 "):format(preload) or ""
      local p = assert(io.popen(("%slua5.4 -e 'require %q' 2>&1; echo \"exit $?\""):format(env, m)))
      local out = p:read("a")
      p:close()
      assert.are.equal("exit 0\n", out)
    end)
  end
end)

describe("a net's observers", function()
  it("see each state record of the net once, as the sync path reaches it", function()
    local synfin = require "synfin"
    local records = require "synfin.records"
    local seen = {}
    local function observer(net, r) seen[#seen + 1] = { net = net, change = r.old .. ">" .. r.new } end
    table.insert(records.observers, observer)
    local ok, err = pcall(function()
      local net = synfin.sim { seed = 3 }
      local a, b = net:host "192.0.2.1", net:host "192.0.2.2"
      b:listen(80)
      net:run(function()
        a:connect("192.0.2.2", 80):wait("ESTABLISHED", 1)
        net:sleep(0.1) -- the server's ESTABLISHED too
      end)
      -- the client's SYN_SENT and ESTABLISHED, the server's SYN_RCVD and
      -- ESTABLISHED (and the listener's LISTEN), each once, from this net
      local changes = {}
      for _, s in ipairs(seen) do
        assert.are.equal(net, s.net)
        changes[s.change] = (changes[s.change] or 0) + 1
      end
      assert.are.equal(1, changes["CLOSED>SYN_SENT"])
      assert.are.equal(1, changes["SYN_SENT>ESTABLISHED"])
      assert.are.equal(1, changes["SYN_RCVD>ESTABLISHED"])
    end)
    table.remove(records.observers)
    assert(ok, err)
  end)
end)
