--- synfin.busted: luassert assertions for synfin scenarios in busted specs.
--
--     require "synfin.busted"
--
--     assert.state(c, "TIME_WAIT")
--     assert.segment(net:expect({ from = b }, 1), { flags = "=FA", ack = 7, len = 0 })
--     assert.trace_has(net, { "S", "SA", "A" })
--     assert.is_not.state(c, "CLOSED")                 -- every one negates
--
-- Requiring the module registers the assertions with luassert (the assert
-- busted gives specs) and returns a table of them, for use outside busted.
-- Each takes an optional last argument, a message shown above luassert's.
-- @module synfin.busted
local assert = require "luassert"
local say = require "say"
local pattern = require "synfin.pattern"
local synfin = require "synfin"

local M = {}

-- Our arguments are the finished message parts: not to be formatted again.
local function message_args(arguments, ...)
  local parts = table.pack(...)
  for i = 1, parts.n do arguments[i] = parts[i] end
  for i = parts.n + 1, (arguments.n or 0) do arguments[i] = nil end
  arguments.n = parts.n
  arguments.nofmt = {}
  for i = 1, parts.n do arguments.nofmt[i] = true end
end

local function misuse(msg, level)
  error(msg, (level or 1) + 2)
end

local function set_failure_message(st, msg)
  if msg ~= nil then st.failure_message = msg end
end

local function has_method(v, name)
  if type(v) ~= "table" and type(v) ~= "userdata" then return false end
  local ok, f = pcall(function() return v[name] end)
  return ok and type(f) == "function"
end

------------------------------------------------------------------------------
-- assert.state(conn, state [, message])
-- @section state
------------------------------------------------------------------------------

--- `assert.state(conn, "TIME_WAIT")`: the connection (or listener, or a
-- fixture: anything with :state()) is in that state now, one of the eleven
-- of RFC 9293 (synfin.STATES), spelt either way (`"FIN_WAIT_1"`,
-- `"FIN-WAIT-1"`: synfin.state).
--
--     Expected connection 192.0.2.1:40000 (with 192.0.2.2:80) to be in state
--     TIME_WAIT, but it is FIN_WAIT_2
--
-- @function assert.state
-- @param conn a connection, a listener or a fixture
-- @tparam string state
-- @tparam[opt] string message
local function state(st, arguments, level)
  local c, want = arguments[1], arguments[2]
  set_failure_message(st, arguments[3])
  if not has_method(c, "state") then
    misuse(("bad argument #1 to 'state' (a synfin connection expected, got %s)"):format(type(c)), level)
  end
  if not synfin.state(want) then
    misuse(("bad argument #2 to 'state' (a state name expected, one of CLOSED, LISTEN, SYN_SENT, "
      .. "SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT; got %s)")
      :format(tostring(want)), level)
  end
  want = synfin.state(want)
  local ok, have = pcall(c.state, c)
  if not ok then misuse("state: " .. tostring(have), level) end
  local name = "connection"
  if has_method(c, "describe") then
    local dok, d = pcall(c.describe, c)
    if dok then name = "connection " .. d end
  elseif has_method(c, "info") then
    local iok, i = pcall(c.info, c)
    if iok and type(i) == "table" and i.laddr then
      name = ("connection %s:%s (with %s:%s)"):format(i.laddr, i.lport, i.raddr, i.rport)
    end
  end
  message_args(arguments, name, want, have)
  return have == want
end

say:set("assertion.synfin_state.positive", "Expected %s to be in state %s, but it is %s")
say:set("assertion.synfin_state.negative", "Expected %s not to be in state %s, but it is")
assert:register("assertion", "state", state,
  "assertion.synfin_state.positive", "assertion.synfin_state.negative")
-- luassert's own assert.state() (no arguments) makes the object its
-- modifiers chain on, and it would shadow assert.state(c, ...): called with
-- arguments, it is our assertion; without, luassert's.
local luassert_state = rawget(assert, "luassert_state") or rawget(assert, "state")
if not rawget(assert, "luassert_state") then
  rawset(assert, "luassert_state", luassert_state)
  rawset(assert, "state", function(...)
    if select("#", ...) == 0 then return luassert_state() end
    return luassert_state().state(...)
  end)
end
M.state = function(...) return assert.state(...) end

------------------------------------------------------------------------------
-- assert.segment(record, pattern [, message])
-- @section segment
------------------------------------------------------------------------------

local function show(v)
  if type(v) == "string" then
    if #v > 40 then return ("%q... (%d bytes)"):format(v:sub(1, 40), #v) end
    return ("%q"):format(v)
  end
  return tostring(v)
end

local function host_desc(h)
  if type(h) == "table" then return h.addr or tostring(h) end
  if type(h) == "number" then return "host #" .. h end
  return tostring(h)
end

-- Is the record's endpoint (side "from"/"src" or "to"/"dst") the host h?
local function same_host(rec, h, index_key, addr_key)
  if type(h) == "table" then
    if rec[index_key] ~= nil and h.index ~= nil then return rec[index_key] == h.index end
    return rec[addr_key] == h.addr
  elseif type(h) == "number" then
    return rec[index_key] == h
  end
  return rec[addr_key] == h
end

--- The fields of pat that rec does not match, as lines "field: expected
-- ..., got ...", in a fixed order.
-- @tparam table rec a segment record
-- @tparam table pat a pattern
-- @treturn {string,...} empty when rec matches
function M.segment_diff(rec, pat)
  local out = {}
  local function add(k, want, have) out[#out + 1] = ("%s: expected %s, got %s"):format(k, want, have) end
  if pat.from ~= nil and not same_host(rec, pat.from, "from", "src") then
    add("from", host_desc(pat.from), tostring(rec.src))
  end
  if pat.to ~= nil and not same_host(rec, pat.to, "to", "dst") then
    add("to", host_desc(pat.to), tostring(rec.dst))
  end
  if pat.flags and not pattern.flags_match(rec.flags or "", pat.flags) then
    local exact = pat.flags:sub(1, 1) == "="
    add("flags", exact and ("exactly %q"):format(pat.flags:sub(2)) or ("%q set"):format(pat.flags),
      ("%q"):format(rec.flags or ""))
  end
  for _, k in ipairs { "seq", "ack", "abs_seq", "abs_ack", "len", "win", "sport", "dport", "payload",
                       "mss", "n" } do
    if pat[k] ~= nil and rec[k] ~= pat[k] then add(k, show(pat[k]), show(rec[k])) end
  end
  if pat.injected ~= nil and (rec.injected or false) ~= pat.injected then
    add("injected", tostring(pat.injected), tostring(rec.injected or false))
  end
  if pat.conn ~= nil then
    local id, host = pat.conn:id(), pat.conn:host()
    if rec.conn ~= id or (rec.from ~= nil and rec.from ~= host) then
      add("conn", ("%d (host #%d)"):format(id, host), ("%s (host #%s)"):format(tostring(rec.conn), tostring(rec.from)))
    end
  end
  if pat.where then
    local ok, res = pcall(pat.where, rec)
    if not ok then
      out[#out + 1] = "where: raised " .. tostring(res)
    elseif not res then
      out[#out + 1] = "where: returned " .. tostring(res)
    end
  end
  return out
end

local function describe_seg(rec)
  local parts = { rec.n and ("#" .. rec.n) or "(unnumbered)", rec.flags ~= "" and rec.flags or "." }
  for _, k in ipairs { "seq", "ack", "win", "len" } do
    if rec[k] ~= nil then parts[#parts + 1] = k .. "=" .. tostring(rec[k]) end
  end
  if rec.src then
    parts[#parts + 1] = ("%s:%s > %s:%s"):format(rec.src, tostring(rec.sport), tostring(rec.dst), tostring(rec.dport))
  end
  return table.concat(parts, " ")
end

local function describe_pat(pat)
  local keys = {}
  for k in pairs(pat) do if k ~= "label" then keys[#keys + 1] = k end end
  local order = { from = 1, to = 2, flags = 3, seq = 4, ack = 5, abs_seq = 6, abs_ack = 7, len = 8,
    win = 9, sport = 10, dport = 11, payload = 12, mss = 13, n = 14, injected = 15, conn = 16, where = 17 }
  table.sort(keys, function(x, y) return (order[x] or 99) < (order[y] or 99) end)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = pat[k]
    if k == "from" or k == "to" then
      v = host_desc(v)
    elseif k == "conn" then
      v = "conn " .. v:id()
    elseif k == "where" then
      v = "function"
    else
      v = show(v)
    end
    parts[#parts + 1] = k .. " = " .. v
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

--- `assert.segment(record, pattern)`: a segment record (from net:expect,
-- net:records(), or the seg a hook gets) matches a synfin.pattern: flags
-- ("FA" set, "=FA" exactly), seq, ack (relative), `abs_seq`, `abs_ack`, len,
-- win, sport, dport, payload, mss, n, from, to (a host, an address or an
-- index), conn, injected, where. The message lists every field that differs:
--
--     Expected segment #8 FA seq=19 ack=25 win=65535 len=0 ... to match
--     { flags = "=A", ack = 26 }, but:
--       flags: expected exactly "A", got "FA"
--       ack: expected 26, got 25
--
-- @function assert.segment
-- @tparam table record a segment record
-- @tparam table pattern
-- @tparam[opt] string message
local function segment(st, arguments, level)
  local rec, pat = arguments[1], arguments[2]
  set_failure_message(st, arguments[3])
  -- a record, or the view of a segment a hook sees (userdata)
  local readable = type(rec) == "table" or (type(rec) == "userdata" and pcall(function() return rec.flags end))
  if not readable or rec.flags == nil then
    misuse(("bad argument #1 to 'segment' (a segment record expected, got %s)"):format(
      type(rec) == "table" and "a table without flags" or type(rec)), level)
  end
  local ok, err = pcall(pattern.check, pat)
  if not ok then misuse("bad argument #2 to 'segment' (" .. tostring(err) .. ")", level) end
  local diff = M.segment_diff(rec, pat)
  message_args(arguments, describe_seg(rec), describe_pat(pat), "  " .. table.concat(diff, "\n  "))
  return #diff == 0
end

say:set("assertion.synfin_segment.positive", "Expected segment %s to match %s, but:\n%s")
say:set("assertion.synfin_segment.negative", "Expected segment %s not to match %s, but it does")
assert:register("assertion", "segment", segment,
  "assertion.synfin_segment.positive", "assertion.synfin_segment.negative")
M.segment = function(...) return assert.segment(...) end

------------------------------------------------------------------------------
-- assert.trace_has(net, { "S", "SA", "A" } [, message])
-- @section trace_has
------------------------------------------------------------------------------

local function flag_key(s)
  s = s:gsub("^=", "")
  if s == "." then s = "" end
  local t = {}
  for ch in s:gmatch(".") do t[#t + 1] = ch end
  table.sort(t)
  return table.concat(t)
end

local MAX_SHOWN = 40

--- `assert.trace_has(net, steps)`: the segments on the wire (what reached the
-- link: not those an egress hook dropped), in order, contain steps as a
-- subsequence: other segments may come between. A step is a flags string,
-- matched exactly (letter order does not matter; "." or "" is no flag), or a
-- synfin.pattern table ({ from = b, flags = "R" }). The message shows how far
-- the steps matched and the flags on the wire:
--
--     Expected the trace to contain S, SA, R in this order, but only S (#1),
--     SA (#2) came; R never came after #2
--     flags on the wire: #1 S, #2 SA, #3 A, #4 PA, ...
--
-- @function assert.trace_has
-- @tparam synfin.Net net
-- @tparam {string|table,...} steps flags strings or patterns
-- @tparam[opt] string message
local function trace_has(st, arguments, level)
  local net, steps = arguments[1], arguments[2]
  set_failure_message(st, arguments[3])
  if not has_method(net, "records") then
    misuse(("bad argument #1 to 'trace_has' (a synfin net expected, got %s)"):format(type(net)), level)
  end
  if type(steps) ~= "table" or #steps == 0 then
    misuse("bad argument #2 to 'trace_has' (a non-empty list of flags or patterns expected)", level)
  end
  local names = {}
  for i, s in ipairs(steps) do
    if type(s) == "string" then
      local ok, err = pcall(pattern.check, { flags = (s == "." and "" or s) })
      if not ok then misuse(("bad argument #2 to 'trace_has' (step %d: %s)"):format(i, tostring(err)), level) end
      names[i] = s == "" and "." or s
    elseif type(s) == "table" then
      local ok, err = pcall(pattern.check, s)
      if not ok then misuse(("bad argument #2 to 'trace_has' (step %d: %s)"):format(i, tostring(err)), level) end
      names[i] = pattern.describe(net, s)
    else
      misuse(("bad argument #2 to 'trace_has' (step %d: a flags string or a pattern expected)"):format(i), level)
    end
  end
  local wire = {}
  for _, r in ipairs(net:records()) do
    if synfin.on_wire(r) then wire[#wire + 1] = r end
  end
  local k, matched = 1, {}
  for _, r in ipairs(wire) do
    local s = steps[k]
    if not s then break end
    local hit
    if type(s) == "string" then
      hit = flag_key(r.flags) == flag_key(s)
    else
      hit = pattern.match(net, r, s)
    end
    if hit then
      matched[k] = r
      k = k + 1
    end
  end
  local found = k > #steps
  local shown = {}
  for i, r in ipairs(wire) do
    if i > MAX_SHOWN then
      shown[#shown + 1] = ("... (%d more)"):format(#wire - MAX_SHOWN)
      break
    end
    shown[#shown + 1] = ("#%d %s"):format(r.n, r.flags ~= "" and r.flags or ".")
  end
  local where
  if found then
    local at = {}
    for i, r in ipairs(matched) do at[i] = ("%s (#%d)"):format(names[i], r.n) end
    where = table.concat(at, ", ")
  elseif k == 1 then
    where = ("%s never came"):format(names[1])
  else
    local at = {}
    for i, r in ipairs(matched) do at[i] = ("%s (#%d)"):format(names[i], r.n) end
    where = ("only %s came; %s never came after #%d"):format(table.concat(at, ", "), names[k], matched[k - 1].n)
  end
  message_args(arguments, table.concat(names, ", "), where,
    #wire > 0 and table.concat(shown, ", ") or "(no segment)")
  return found
end

say:set("assertion.synfin_trace_has.positive",
  "Expected the trace to contain %s in this order, but %s\nflags on the wire: %s")
say:set("assertion.synfin_trace_has.negative",
  "Expected the trace not to contain %s in this order, but it does: %s\nflags on the wire: %s")
assert:register("assertion", "trace_has", trace_has,
  "assertion.synfin_trace_has.positive", "assertion.synfin_trace_has.negative")
M.trace_has = function(...) return assert.trace_has(...) end

return M
