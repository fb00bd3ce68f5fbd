--- Segment patterns: a pattern is a table shaped like a segment record, and a
-- record matches when every field the pattern names agrees.
--
--     { from = a, to = b, flags = "FA", seq = 1, ack = 7, len = 0 }
--
-- flags = "F" means at least F is set; "=FA" means exactly F and A.
-- seq and ack are relative to the ISNs (as the ladder shows them); `abs_seq`
-- and `abs_ack` are the raw numbers. from and to take a host, an address
-- string or a host index. where = function(rec) adds any other test, and
-- label = "..." (not a test) names the matched segment in the ladder.
--
-- The fields: from, to, flags, seq, ack, `abs_seq`, `abs_ack`, len, win, sport,
-- dport, payload, mss, n (the segment's number), conn (a connection: its
-- segments), injected (crafted by a script or not), where, label, and
-- since (not a test either: a mark from net:mark(), from which net:expect
-- looks, see there).
-- @module synfin.pattern
-- @pragma nostrip
local core = require "synfin.core"

local pattern = {}

local FLAG_ORDER = "SFRPAUEC"

local known = {
  from = true, to = true, flags = true, seq = true, ack = true, abs_seq = true,
  abs_ack = true, len = true, win = true, sport = true, dport = true, payload = true,
  mss = true, n = true, conn = true, where = true, label = true, injected = true, since = true,
}

-- The fields compared as integers (the matcher's: core/match.h).
local NUMBERS = { "seq", "ack", "abs_seq", "abs_ack", "len", "win", "sport", "dport", "mss", "n" }

--- The metatable of the marks net:mark() makes (`since` in a pattern).
pattern.Mark = {
  __tostring = function(m) return ("<mark at t=%.3f s>"):format(m.time) end,
}

local function flag_set(s)
  local set = {}
  for ch in s:gmatch(".") do
    if not FLAG_ORDER:find(ch, 1, true) then
      error(("bad flags '%s': use letters of %s, '=' in front for exact"):format(s, FLAG_ORDER), 0)
    end
    set[ch] = true
  end
  return set
end

--- Checks a pattern's keys once, so that a typo fails loudly.
-- @tparam table pat
-- @treturn table pat; an unknown field or flag letter raises an error
function pattern.check(pat)
  if type(pat) ~= "table" then error("a pattern must be a table", 0) end
  for k in pairs(pat) do
    if not known[k] then
      local names = {}
      for name in pairs(known) do names[#names + 1] = name end
      table.sort(names)
      error(("unknown pattern field '%s' (a pattern has %s)"):format(tostring(k), table.concat(names, ", ")), 0)
    end
  end
  if pat.since ~= nil and getmetatable(pat.since) ~= pattern.Mark then
    error(("pattern field 'since' must be a mark from net:mark(), got %s"):format(type(pat.since)), 0)
  end
  if pat.flags ~= nil then
    if type(pat.flags) ~= "string" then error(("pattern field 'flags' must be a string, got %s"):format(type(pat.flags)), 0) end
    flag_set((pat.flags:gsub("^=", "")))
  end
  for _, k in ipairs(NUMBERS) do
    local v = pat[k]
    if v ~= nil and (type(v) ~= "number" or not math.tointeger(v)) then
      error(("pattern field '%s' must be an integer, got %s"):format(k, type(v) == "number" and tostring(v) or type(v)), 0)
    end
  end
  if pat.payload ~= nil and type(pat.payload) ~= "string" then
    error(("pattern field 'payload' must be a string, got %s"):format(type(pat.payload)), 0)
  end
  if pat.where ~= nil and type(pat.where) ~= "function" then
    error(("pattern field 'where' must be a function, got %s"):format(type(pat.where)), 0)
  end
  return pat
end

--- Whether the flags have (letters, "FA") satisfy want: "F" means at least F
-- is set, "=FA" exactly F and A.
-- @tparam string have
-- @tparam string want
-- @treturn boolean
function pattern.flags_match(have, want)
  local exact = want:sub(1, 1) == "="
  local w = flag_set(exact and want:sub(2) or want)
  local h = flag_set(have)
  for ch in pairs(w) do if not h[ch] then return false end end
  if exact then
    for ch in pairs(h) do if not w[ch] then return false end end
  end
  return true
end

-- A host given as an object, an index or an address: its index.
local function host_index(net, h)
  if type(h) == "table" then return h.index end
  if type(h) == "number" then return h end
  local host = net.by_addr[h]
  return host and host.index or -1
end

--- The pattern compiled for the net's matcher (core/match.c): hosts as
-- indices, so that each check of a waiting expectation walks the new
-- records in C. Everything but `where`, which the caller runs on the
-- candidates (pattern.where).
-- @tparam synfin.Net net
-- @tparam table pat a checked pattern
-- @return the compiled pattern (a userdata)
function pattern.compile(net, pat)
  local spec = {}
  if pat.from ~= nil then spec.from = host_index(net, pat.from) - 1 end
  if pat.to ~= nil then spec.to = host_index(net, pat.to) - 1 end
  spec.flags = pat.flags
  for _, k in ipairs(NUMBERS) do
    if pat[k] ~= nil then spec[k] = math.tointeger(pat[k]) end
  end
  spec.payload = pat.payload
  spec.injected = pat.injected
  if pat.conn ~= nil then
    spec.conn, spec.conn_host = pat.conn:id(), pat.conn:host() - 1
  end
  return core.pattern(spec)
end

--- Whether record rec passes the pattern's `where` function (true if it
-- has none). The function runs as a callback of the net (its budget).
-- @tparam synfin.Net net
-- @tparam table rec
-- @tparam table pat
-- @treturn boolean
function pattern.where(net, rec, pat)
  if not pat.where then return true end
  local ok, yes = net.sim:call("pattern", "the where function of a pattern", pat.where, rec)
  if not ok then error(yes, 0) end
  return yes and true or false
end

--- Does record rec (of net:records(), or an expectation's) match pat? A
-- segment an egress hook dropped or replaced never does: it never reached
-- the wire.
-- @tparam synfin.Net net the net of the record (for host names and indices)
-- @tparam table rec
-- @tparam table pat
-- @param[opt] compiled pat compiled (pattern.compile), when the caller has it
-- @treturn boolean
function pattern.match(net, rec, pat, compiled)
  if rec.kind ~= "seg" then return false end
  if not net.sim:match_at(rec.index, compiled or pattern.compile(net, pat)) then return false end
  return pattern.where(net, rec, pat)
end

--- The first segment on the wire at or after index from that matches pat
-- (compiled: cpat), consumed or not as mode says ("unconsumed", the
-- default, or "any"): its index, or nil and the index to look from next
-- time (the records up to there do not match, and never will).
-- @tparam synfin.Net net
-- @tparam table pat
-- @param cpat pat compiled
-- @tparam integer from
-- @tparam[opt] string mode
-- @treturn ?integer
-- @treturn ?integer
function pattern.next(net, pat, cpat, from, mode)
  local sim = net.sim
  local i, again = sim:match(from, cpat, mode)
  while i do
    if pattern.where(net, net.recs[i], pat) then return i end
    i, again = sim:match(i + 1, cpat, mode)
  end
  return nil, again
end

--- A short description of a pattern, for failure messages.
-- @tparam synfin.Net net
-- @tparam table pat
-- @treturn string "{ from 192.0.2.2, flags =FA, ack=7 }"
function pattern.describe(net, pat)
  local parts = {}
  local function host_name(h)
    local i = host_index(net, h)
    local host = net.hosts[i]
    return host and host.addr or tostring(h)
  end
  if pat.from ~= nil then parts[#parts + 1] = "from " .. host_name(pat.from) end
  if pat.to ~= nil then parts[#parts + 1] = "to " .. host_name(pat.to) end
  if pat.flags then parts[#parts + 1] = "flags " .. pat.flags end
  for _, k in ipairs { "seq", "ack", "abs_seq", "abs_ack", "len", "win", "sport", "dport", "mss", "n" } do
    if pat[k] ~= nil then parts[#parts + 1] = k .. "=" .. tostring(pat[k]) end
  end
  if pat.payload ~= nil then parts[#parts + 1] = ("payload %q"):format(pat.payload) end
  if pat.conn ~= nil then parts[#parts + 1] = "conn " .. pat.conn:id() end
  if pat.where then parts[#parts + 1] = "where(...)" end
  if pat.since then parts[#parts + 1] = ("since t=%.3f s"):format(pat.since.time) end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

return pattern
