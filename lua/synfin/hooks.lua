--- synfin.hooks: hooks: host:hook installs one on a host's ingress or
-- egress path (the C side runs it and counts), the Hook handle, and what a
-- hook's verdict table means to synfin.core.
-- @module synfin
local core = require "synfin.core"
local types = require "synfin.types"
local segment = require "synfin.segment"
local util = require "synfin.util"
local argerror, shown, split, check_opts = util.argerror, util.shown, util.split, util.check_opts
local unknown_state = util.unknown_state
local synfin, Host, Hook, Seg, wire = types.synfin, types.Host, types.Hook, types.Seg, segment.wire

------------------------------------------------------------------------------
-- Hooks: the handle host:hook returns. Its counters read as fields too:
-- h.matched, h.fired, h.dropped, h.delayed, h.replaced, h.duplicated.
-- @type Hook
------------------------------------------------------------------------------

--- Removes the hook; returns true if it was installed.
-- @treturn boolean
function Hook:remove()
  return self.net.sim:hook_remove(self.host.index, self.id)
end

--- The hook's counters: matched, fired, dropped (answers too), delayed,
-- replaced, duplicated.
-- @treturn table
function Hook:stats()
  return self.net.sim:hook_stats(self.host.index, self.id)
end

Hook.__index = function(h, k)
  if Hook[k] then return Hook[k] end
  if k == "matched" or k == "fired" or k == "dropped" or k == "delayed" or k == "replaced"
    or k == "duplicated" then
    local s = h:stats()
    return s and s[k] or nil
  end
end

Hook.__tostring = function(h)
  local ok, s = pcall(Hook.stats, h)
  return ("<hook %d %s on %s: %s>"):format(h.id, h.dir or "?", h.host.addr,
    ok and s and ("matched %d, fired %d"):format(s.matched, s.fired) or "removed")
end

-- The verdict a hook's table means, made absolute for synfin.core: a Seg
-- (seg:with) replaces the segment; { answer = Seg } answers it.
local function to_verdict(verdict)
  if getmetatable(verdict) == Seg then return { replace = wire(verdict) } end
  if verdict.answer ~= nil then
    if type(verdict.answer) ~= "table" then
      error("synfin: hook verdict: answer must be a segment (seg:reply{...}), got " .. shown(verdict.answer), 0)
    end
    local v = {} -- the other keys as they are: the core refuses a second verdict
    for k, x in pairs(verdict) do v[k] = x end
    v.answer = wire(verdict.answer)
    return v
  end
  return verdict
end
core.set_seg(Seg, to_verdict)

local HOOK_FILTER = { flags = true, state = true, conn = true, sport = true, dport = true,
  after = true, count = true, p = true, when = true }

--- Hosts (continued).
-- @type Host

--- Installs a hook on this host's "ingress" or "egress" path. filter: flags
-- ("F" set, "=FA" exact), state, conn, sport, dport, after (let N matches
-- pass first), count (fire at most N times), p (probability, from the net's
-- seeded PRNG), when (a Lua predicate, asked after the others, part of the
-- filter: after and count count only the segments it takes). fn(seg)
-- returns nil or "pass", "drop", or { delay = seconds }. An error in fn fails
-- the scenario and lets the segment pass. fn may also return a modified
-- copy (seg:with{...}), { dup = n } (n copies) or { answer = seg:reply{...} }.
-- @tparam string dir "ingress" or "egress"
-- @tparam[opt] table filter
-- @tparam function fn called with each matching Seg
-- @treturn Hook
function Host:hook(dir, filter, fn)
  if dir ~= "ingress" and dir ~= "egress" then argerror(1, "hook", "\"ingress\" or \"egress\" expected") end
  filter = check_opts(filter, HOOK_FILTER, 2, "hook")
  if type(fn) ~= "function" then argerror(3, "hook", "function expected") end
  local net = self.net
  local cfilter, extra = split(filter, { flags = true, state = true, sport = true, dport = true,
    after = true, count = true, p = true })
  if extra.conn ~= nil then
    local mt = type(extra.conn) == "userdata" and getmetatable(extra.conn)
    if not (mt and mt.__name == "synfin.conn") then
      argerror(2, "hook", "conn must be a connection, got " .. shown(extra.conn))
    end
    cfilter.conn = extra.conn:id()
  end
  if cfilter.state ~= nil then
    local name = synfin.state(cfilter.state)
    if not name then argerror(2, "hook", unknown_state(cfilter.state)) end
    cfilter.state = name
  end
  if extra.when ~= nil and type(extra.when) ~= "function" then
    argerror(2, "hook", "when must be a function, got " .. shown(extra.when))
  end
  -- fn sees a view of the segment (synfin.core reads its fields from C when
  -- asked); a Seg or { answer = Seg } it returns goes through to_verdict
  local id = net.sim:hook(self.index, dir, cfilter, fn, extra.when)
  local h = setmetatable({ net = net, host = self, id = id, dir = dir, count = cfilter.count }, Hook)
  net.hooks[#net.hooks + 1] = h
  return h
end

-- A crafted segment filled from what a connection would send now:
-- header_of(flags) gives it (c:header, sim:header), for the flags given
-- ("A" by default); the script's fields win, and ts = false or an option

return Hook
