--- synfin.records: the record of a run as Lua sees it: net.recs, the
-- list of views of the C trace; net:records(); net:_sync, which brings the
-- Lua side up to date with the trace and hands each new state record to
-- the net's observers (the test suite's coverage recorder is one:
-- init.lua registers it); and synfin.on_wire.
-- @module synfin
local types = require "synfin.types"
local synfin, Net = types.synfin, types.Net

local records = {}

-- Observers every new net starts with: fn(net, record) for each state
-- record, in order, as net:_sync reaches it.
records.observers = {}

--- Whether a record is a segment that reached the wire: one an egress hook
-- dropped or replaced never did (expectations see only the wire).
-- @tparam table r a record (of net:records(), or from net:expect)
-- @treturn boolean
function synfin.on_wire(r)
  return r.kind == "seg" and r.fate ~= "dropped_egress" and r.fate ~= "replaced"
end

-- The records as a list: each a view (synfin.core) whose fields are read
-- from the C trace when asked, so a fate or an arrival is always current,
-- made the first time a script looks at its index and kept (one object per
-- record: records compare equal by identity). seq and ack are relative to
-- the ISNs on the wire (synfin.core numbers them), abs_seq and abs_ack as sent.
--
-- With a record limit (synfin.sim{ records = N }), a record no longer kept
-- reads as { kind = "gone", index = i }, so that a walk over indices goes on.
local GONE = { __index = { kind = "gone" } }
local function record_list(sim)
  return setmetatable({}, {
    __index = function(list, i)
      if math.type(i) ~= "integer" or i < 1 or i > sim:trace_len() then return nil end
      local r = sim:record(i)
      if not r then return setmetatable({ index = i }, GONE) end
      rawset(list, i, r)
      return r
    end,
    __len = function() return sim:trace_len() end,
  })
end

-- Gives a new net its record of the run: the list of views, and what
-- net:_sync has reached.
function records.attach(net)
  net.recs = record_list(net.sim) -- the trace's records, in order (views of the C trace)
  net.synced = 0 -- records the observers have seen
  net.evicted = 0 -- records whose views are forgotten (dropped by a record limit)
  net.observers = table.move(records.observers, 1, #records.observers, 1, {})
end

--- Hands the state changes recorded since the last call to the net's
-- observers (the C trace holds every record; nothing else is converted).
-- @local
function Net:_sync()
  local sim = self.sim
  local n = sim:trace_len()
  if n == self.synced then return end -- (called at every step of every wait)
  -- the views of records a limit dropped go too (memory stays bounded)
  local first = sim:trace_first()
  if first - 1 > self.evicted then
    for i = self.evicted + 1, first - 1 do rawset(self.recs, i, nil) end
    self.evicted = first - 1
  end
  local observers = self.observers
  if observers[1] then
    local i = sim:next_record(self.synced + 1, "state")
    while i and i <= n do
      local r = self.recs[i]
      for _, fn in ipairs(observers) do fn(self, r) end
      i = sim:next_record(i + 1, "state")
    end
  end
  self.synced = n
end
-- (records read their fates from C: nothing to bring up to date)
Net._refresh = Net._sync

--- Every record so far (segments, state changes, notes), in order.
-- A note the protocol wrote about a segment has `code`, its reason's name
-- (`"paws"`, `"seq_unacceptable"`, `"ooo_held"`, ...: core/reason.c lists
-- them with their texts and rules), and `dropped`, whether the segment was
-- dropped (a note like `"ooo_held"` says it was kept); `text` is the prose.
-- @treturn {table,...} the records: kind = "seg", "state" or "note"
function Net:records()
  self:_refresh()
  local first = self.sim:trace_first()
  if first == 1 then return self.recs end
  -- a record limit: the records still kept, in order (index: each one's own)
  local kept = {}
  for i = first, #self.recs do kept[#kept + 1] = self.recs[i] end
  return kept
end


return records
