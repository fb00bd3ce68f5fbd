-- Claim C3 (README): the seven claim examples together show all eleven states.
local example = require "helpers.example"
local families = require "helpers.families"
local synfin = require "synfin"

local EXAMPLES = {
  "examples/handshake.lua",
  "examples/four_way_close.lua",
  "examples/syn_rcvd_visible.lua",
  "examples/fin_wait_1_to_time_wait.lua",
  "examples/simultaneous_close.lua",
  "examples/half_close.lua",
  "examples/lost_last_ack.lua",
}

families.describe("the claim examples (claim C3)", function(f)
  local seen = {}
  for _, path in ipairs(EXAMPLES) do
    for state in pairs(example.all_states(f.example(path).net)) do seen[state] = true end
  end

  it("show all eleven states between them", function()
    local missing = {}
    for _, s in ipairs(synfin.STATES) do
      if not seen[s] then missing[#missing + 1] = s end
    end
    assert.same({}, missing)
    assert.equal(11, #synfin.STATES)
  end)

  it("each print a ladder with both named hosts", function()
    for _, path in ipairs(EXAMPLES) do
      local out = f.example(path).output
      assert.truthy(out:find("client " .. f.a, 1, true), path)
      assert.truthy(out:find("server " .. f.b, 1, true), path)
      assert.truthy(out:find("[listener :80 LISTEN] listen", 1, true), path)
    end
  end)
end)
