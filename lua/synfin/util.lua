--- synfin.util: what every part of the scenario layer uses to blame the
-- script for a bad call: the script's line (where, raise, argerror), how a
-- value is shown in a message, the checks of options, times and patterns,
-- and the names of the states (public: synfin.STATES, synfin.state).
-- @module synfin
local synfin = require("synfin.types").synfin
local pattern = require "synfin.pattern"

local util = {}

util.TWO32 = 4294967296

-- Seconds to the clock's microseconds.
function util.us(t) return math.floor(t * 1e6 + 0.5) end

-- 4 or 6: the family of an address's text.
function util.family(addr) return tostring(addr):find(":", 1, true) and 6 or 4 end

-- "192.0.2.1:80", "[2001:db8::1]:80" (RFC 5952 §6), as getsockname and ss
-- write them; port nil: the address alone.
function util.endpoint(addr, port)
  if port == nil then return addr end
  return (util.family(addr) == 6 and "[%s]:%s" or "%s:%s"):format(addr, port)
end

local STATES = {}
for _, s in ipairs { "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
  "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT" } do
  STATES[s] = true
end
--- The eleven states of RFC 9293 (§3.3.2), in order, spelled as synfin
-- gives them everywhere (`"SYN_SENT"`, `"TIME_WAIT"`); what it is given
-- may be spelt as the RFC does too (see synfin.state).
synfin.STATES = { "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
  "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT" }

--- A state name as synfin spells it, from either spelling: `"FIN-WAIT-1"`
-- (RFC 9293's, as the C core reads it) or `"FIN_WAIT_1"`, in any case,
-- and `"SYN-RECEIVED"`; nil for anything else. c:wait, c:waiting, hook
-- filters, fixture.at_state and assert.state take either.
-- @tparam string name
-- @treturn string|nil "FIN_WAIT_1"
-- @usage synfin.state "fin-wait-1" --> "FIN_WAIT_1"
function synfin.state(name)
  if type(name) ~= "string" then return nil end
  if STATES[name] then return name end -- synfin's own spelling (every c:wait)
  local norm = name:upper():gsub("%-", "_")
  if norm == "SYN_RECEIVED" then norm = "SYN_RCVD" end
  return STATES[norm] and norm or nil
end

-- "file:line:" of the first caller outside synfin's own modules; of the
-- coroutine co's stack when given (a suspended actor: its wait's line).
local function where(co)
  for level = co and 0 or 2, 40 do
    local info
    if co then info = debug.getinfo(co, level, "Sl") else info = debug.getinfo(level, "Sl") end
    if not info then break end
    if info.currentline > 0 and not info.short_src:find("synfin[/\\]%a+%.lua$")
      and not info.short_src:find("synfin[/\\]init%.lua$") then
      return ("%s:%d: "):format(info.short_src, info.currentline)
    end
  end
  return ""
end

-- Raises msg at the script's line that led here (where()), however deep in
-- synfin the check that failed is: "x.lua:12: synfin: ...".
local function raise(msg)
  error(where() .. msg, 0)
end

-- Raises "x.lua:12: bad argument #n to 'fname' (msg)", at the script's line.
local function argerror(n, fname, msg)
  raise(("bad argument #%d to '%s' (%s)"):format(n, fname, msg))
end

-- A value as an error message shows it: 70000, nan, "x", a table.
local function shown(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "number" or type(v) == "boolean" or v == nil then return tostring(v) end
  return "a " .. type(v)
end

-- The words for a state name that is none: what it got, and the names.
local function unknown_state(name)
  return ("unknown state %s: one of %s (or spelt as RFC 9293 spells them, FIN-WAIT-1)")
    :format(shown(name), table.concat(synfin.STATES, ", "))
end

local TIME_MAX = 1e9 -- seconds: any time a script gives (about 31 years)

-- t, a time in seconds in 0..TIME_MAX (not NaN, not infinite); else an
-- error at the script's line naming what it is ("the timeout").
local function check_time(t, what)
  if type(t) ~= "number" or not (t >= 0 and t <= TIME_MAX) then
    error(("%ssynfin: %s must be a time in seconds in 0..1e+09, got %s"):format(where(), what, shown(t)), 0)
  end
  return t
end

-- t, the time argument n of fname: a time in seconds in 0..TIME_MAX.
local function check_time_arg(t, n, fname)
  if type(t) ~= "number" or not (t >= 0 and t <= TIME_MAX) then
    argerror(n, fname, "a time in seconds in 0..1e+09 expected, got " .. shown(t))
  end
  return t
end

local function check_opts(opts, known, n, fname)
  if opts == nil then return {} end
  if type(opts) ~= "table" then argerror(n, fname, "table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not known[k] then argerror(n, fname, ("unknown option '%s'"):format(tostring(k))) end
  end
  return opts
end

-- pat, argument n of fname, if it is a pattern (pattern.check); else an
-- error at the script's line that says what is wrong with it.
local function check_pattern(pat, n, fname)
  local ok, err = pcall(pattern.check, pat)
  if not ok then argerror(n, fname, tostring(err)) end
  return pat
end

-- expect_all: true, false or a pattern (without since).
local function check_expect_all(v, n, fname)
  if type(v) == "boolean" then return v end
  local ok, err = pcall(pattern.check, v)
  if not ok or v.since ~= nil then
    error(("%sbad argument #%d to '%s' (expect_all must be true, false or a pattern without since, got %s%s)")
      :format(where(), n, fname, shown(v), ok and "" or (": " .. tostring(err))), 0)
  end
  return v
end

-- A time limit: seconds (> 0) or false.
local function check_time_limit(t, n, fname)
  if t ~= false and (type(t) ~= "number" or not (t > 0 and t <= 1e6)) then
    argerror(n, fname, ("time_limit must be a time in seconds in (0, 1e+06], or false, got %s"):format(shown(t)))
  end
  return t
end

local function split(opts, keys)
  local picked, rest = {}, {}
  for k, v in pairs(opts) do
    if keys[k] then picked[k] = v else rest[k] = v end
  end
  return picked, rest
end

util.where, util.raise, util.argerror, util.shown = where, raise, argerror, shown
util.unknown_state, util.TIME_MAX = unknown_state, TIME_MAX
util.check_time, util.check_time_arg, util.check_opts = check_time, check_time_arg, check_opts
util.check_pattern, util.check_expect_all, util.check_time_limit = check_pattern, check_expect_all, check_time_limit
util.split = split

return util
