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
local pattern = {}

local FLAG_ORDER = "SFRPAUEC"

local known = {
  from = true, to = true, flags = true, seq = true, ack = true, abs_seq = true,
  abs_ack = true, len = true, win = true, sport = true, dport = true, payload = true,
  mss = true, n = true, conn = true, where = true, label = true, injected = true, since = true,
}

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
  if pat.flags then flag_set((pat.flags:gsub("^=", ""))) end
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

--- Does record rec (a "seg" record with relative fields) match pat?
-- @tparam synfin.Net net the net of the record (for host names and indices)
-- @tparam table rec
-- @tparam table pat
-- @treturn boolean
function pattern.match(net, rec, pat)
  if rec.kind ~= "seg" then return false end
  if pat.from ~= nil and rec.from ~= host_index(net, pat.from) then return false end
  if pat.to ~= nil and rec.to ~= host_index(net, pat.to) then return false end
  if pat.flags and not pattern.flags_match(rec.flags, pat.flags) then return false end
  for _, k in ipairs { "seq", "ack", "abs_seq", "abs_ack", "len", "win", "sport", "dport",
                       "payload", "mss", "n" } do
    if pat[k] ~= nil and rec[k] ~= pat[k] then return false end
  end
  if pat.injected ~= nil and (rec.injected or false) ~= pat.injected then return false end
  if pat.conn ~= nil then
    local id, host = pat.conn:id(), pat.conn:host()
    if rec.conn ~= id or rec.from ~= host then return false end
  end
  if pat.where then
    -- the script's function, run as a callback of the net (its budget)
    local ok, yes = net.sim:call("pattern", "the where function of a pattern", pat.where, rec)
    if not ok then error(yes, 0) end
    if not yes then return false end
  end
  return true
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
