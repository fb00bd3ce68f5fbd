--- synfin.types: the objects of the scenario layer, made here empty and
-- filled in by the modules that do each job (net.lua: Net's settings,
-- scheduler.lua: its waits, expect.lua: its expectations, ...), so that any
-- module can make or recognize any object without requiring the others;
-- and the table `require "synfin"` returns, made here too, so that the
-- modules read what a script sets in it (synfin.defaults,
-- synfin.TOLERANCE, synfin.CALLBACK_BUDGET) when they need it.
-- @module synfin
local core = require "synfin.core"

local types = {}

local synfin = {
  --- The version of synfin ("0.1.0"): the C core's `SF_VERSION`.
  version = core.version,
  --- What the CLI sets for every net.
  -- Settings that override every net's: the CLI's --seed sets seed; `on_net`,
  -- when set, is called with each new net (the CLI's --trace and --svg).
  -- @table synfin.defaults
  -- @field seed an integer: every net's seed, whatever synfin.sim is given
  -- @field on_net a function called with each new net
  defaults = {},
}
types.synfin = synfin

--- Each callback's budget by default: 10 seconds of wall-clock time (see
-- synfin.sim's `callback_budget`).
synfin.CALLBACK_BUDGET = 10

--- The tolerance a real-time net (`net.realtime`: synfin.tun, synfin.raw)
-- gives its expectations' times by default: 20 ms plus 10 % of the
-- interval. A kernel's timers, the scheduler and libuv's millisecond timers
-- all add jitter that a virtual clock does not have; a sim's tolerance is 0.
-- @table synfin.TOLERANCE
-- @field abs seconds (0.02)
-- @field pct a fraction of the interval (0.1)
synfin.TOLERANCE = { abs = 0.02, pct = 0.1 }

-- The classes: Net (net.lua), Host (host.lua), Hook (hooks.lua), Trace
-- (trace.lua), Seg (segment.lua) and Actor (actors.lua). A connection is
-- synfin.core's userdata (its Lua methods: conn.lua, close.lua).
local Net, Host, Trace, Seg, Actor = {}, {}, {}, {}, {}
Net.__index, Host.__index, Trace.__index, Seg.__index, Actor.__index = Net, Host, Trace, Seg, Actor
types.Net, types.Host, types.Trace, types.Seg, types.Actor = Net, Host, Trace, Seg, Actor
types.Hook = {} -- (its __index reads its counters too: hooks.lua)

-- sim userdata -> Net (weak keys: a net goes when nothing else holds it)
types.nets = setmetatable({}, { __mode = "k" })

return types
