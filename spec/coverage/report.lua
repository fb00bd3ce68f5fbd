#!/usr/bin/env lua5.4
--- The transition coverage report: which transitions of RFC 9293 the specs
-- took, and how often.
--
--   lua5.4 spec/coverage/report.lua build/coverage.txt [--dot states.dot] [--table transitions.lua]
--
-- Reads the state changes recorded with SYNFIN_COVERAGE (lua/synfin/coverage.lua:
-- one "OLD NEW cause why" per line), matches them to the table of the RFC's
-- transitions (spec/coverage/transitions.lua, next to this script), and
-- prints every transition with the number of times it was taken, the ones
-- never reached, and the recorded ones the table does not have. With --dot,
-- also writes the state machine as Graphviz DOT, each edge labelled with its
-- count (never reached: dashed and grey; not in the table: red).
--
-- Exits 1 when a transition the core implements was never reached, when a
-- recorded transition is not in the table (or the recording cannot be
-- read). The last line is "N passed, N failed": the table's transitions
-- reached, and those the core implements but no run reached plus those
-- recorded but not in the table. Transitions the table marks missing (not implemented, not
-- reachable) are counted on the line before, not as failures.
-- Lua 5.4, standard library only.

local STATES = { "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
  "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT" }
local IS_STATE = {}
for _, s in ipairs(STATES) do IS_STATE[s] = true end

local function usage(msg)
  io.stderr:write(msg and ("report.lua: " .. msg .. "\n") or "",
    "usage: lua5.4 spec/coverage/report.lua RECORDING [--dot FILE] [--table FILE]\n")
  os.exit(2)
end

-- arguments
local recording, dot_path, table_path
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--dot" or a == "--table" then
      local v = arg[i + 1]
      if not v then usage(a .. " needs a file name") end
      if a == "--dot" then dot_path = v else table_path = v end
      i = i + 2
    elseif a == "-h" or a == "--help" then
      usage()
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      usage("unknown option " .. a)
    elseif recording then
      usage("one recording only")
    else
      recording = a
      i = i + 1
    end
  end
end
if not recording then usage("no recording given") end
if not table_path then
  local dir = (arg[0] or ""):match("^(.*)[/\\][^/\\]*$") or "."
  table_path = dir .. "/transitions.lua"
end

-- the table of transitions
local ok, transitions = pcall(dofile, table_path)
if not ok or type(transitions) ~= "table" then
  io.stderr:write("report.lua: cannot load the table ", table_path, ": ", tostring(transitions), "\n")
  os.exit(2)
end
local by_key = {}
for i, t in ipairs(transitions) do
  local from, to, event = t[1], t[2], t[3]
  if not (IS_STATE[from] and IS_STATE[to] and type(event) == "string") then
    io.stderr:write(("report.lua: %s: entry %d is not { FROM, TO, \"cause why\" }\n"):format(table_path, i))
    os.exit(2)
  end
  t.key = from .. " " .. to .. " " .. event
  if by_key[t.key] then
    io.stderr:write(("report.lua: %s: entry %d repeats %s\n"):format(table_path, i, t.key))
    os.exit(2)
  end
  by_key[t.key] = t
  t.count = 0
end

-- the recording
local counts, order, total, bad_lines = {}, {}, 0, {}
local f, err = io.open(recording, "r")
if f then
  local n = 0
  for line in f:lines() do
    n = n + 1
    line = line:gsub("%s+$", "")
    if line ~= "" then
      local from, to, event = line:match("^(%S+) (%S+) (%S.*)$")
      if from and IS_STATE[from] and IS_STATE[to] then
        local key = from .. " " .. to .. " " .. event
        if not counts[key] then
          counts[key] = 0
          order[#order + 1] = { from = from, to = to, event = event, key = key }
        end
        counts[key] = counts[key] + 1
        total = total + 1
      else
        bad_lines[#bad_lines + 1] = ("line %d: %s"):format(n, line)
      end
    end
  end
  f:close()
end

for key, n in pairs(counts) do
  if by_key[key] then by_key[key].count = n end
end

-- the report
local out = {}
local function say(fmt, ...) out[#out + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end

local function width(list, get, min)
  local w = min or 0
  for _, x in ipairs(list) do w = math.max(w, utf8.len(get(x)) or #get(x)) end
  return w
end
local function pad(s, w) return s .. (" "):rep(w - (utf8.len(s) or #s)) end

if f then
  say("Transition coverage: %d state changes recorded in %s", total, recording)
else
  say("Transition coverage: no recording: %s", tostring(err))
end
say("")
local wf = width(transitions, function(t) return t[1] end, 4)
local wt = width(transitions, function(t) return t[2] end, 2)
local we = width(transitions, function(t) return t[3] end, 5)
say("  %s  %s  %s  %7s  %s", pad("FROM", wf), pad("TO", wt), pad("EVENT", we), "TIMES", "RFC 9293")
local passed, failed, missing, missing_reached = 0, 0, 0, {}
local unreached = {}
for _, t in ipairs(transitions) do
  local times
  if t.count > 0 then
    passed = passed + 1
    times = tostring(t.count)
    if t.missing then missing_reached[#missing_reached + 1] = t end
  elseif t.missing then
    missing = missing + 1
    times = "-"
    unreached[#unreached + 1] = t
  else
    failed = failed + 1
    times = "0 !"
    unreached[#unreached + 1] = t
  end
  say("  %s  %s  %s  %7s  %s", pad(t[1], wf), pad(t[2], wt), pad(t[3], we), times, t.ref or "")
end

say("")
if #unreached == 0 then
  say("Never reached: none.")
else
  say("Never reached (%d):", #unreached)
  for _, t in ipairs(unreached) do
    if t.missing then
      say("  %s -> %s  %s  [%s]: %s", t[1], t[2], t[3], t.ref or "", t.missing)
    else
      say("  %s -> %s  %s  [%s]: implemented, but no spec takes it: FAIL", t[1], t[2], t[3], t.ref or "")
    end
  end
end
for _, t in ipairs(missing_reached) do
  say("  note: %s -> %s  %s is marked missing (%s) but was taken %d times: update the table",
    t[1], t[2], t[3], t.missing, t.count)
end

say("")
local unknown = {}
for _, r in ipairs(order) do
  if not by_key[r.key] then unknown[#unknown + 1] = r end
end
if #unknown == 0 then
  say("Recorded but not in the table: none.")
else
  say("Recorded but not in the table (%d): add them to transitions.lua", #unknown)
  for _, r in ipairs(unknown) do say("  %s -> %s  %s  %d times", r.from, r.to, r.event, counts[r.key]) end
  failed = failed + #unknown -- a transition the table does not know is one nobody reviewed
end
if #bad_lines > 0 then
  say("Lines not understood (%d):", #bad_lines)
  for i = 1, math.min(#bad_lines, 10) do say("  %s", bad_lines[i]) end
  if #bad_lines > 10 then say("  ...") end
end

-- the DOT file
if dot_path then
  local function esc(s) return (s:gsub('[\\"]', "\\%0")) end
  local function q(s) return '"' .. esc(s) .. '"' end
  local function node_to(s) return s == "CLOSED" and "CLOSED_END" or s end
  -- a label of lines (DOT's \n breaks a line)
  local function lines(...) return '"' .. table.concat(table.pack(...), "\\n") .. '"' end
  local d = {}
  d[#d + 1] = "// RFC 9293 transitions taken by the specs (spec/coverage/report.lua)"
  d[#d + 1] = "digraph synfin_states {"
  d[#d + 1] = '  graph [rankdir=TB, fontname="Helvetica", label=' ..
    q(("%d of %d transitions reached, %d failed"):format(passed, #transitions, failed)) .. ", labelloc=t];"
  d[#d + 1] = '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];'
  d[#d + 1] = '  edge [fontname="Helvetica", fontsize=9];'
  -- CLOSED is drawn twice, as in Figure 5: where connections start (top)
  -- and where they end (bottom)
  for _, s in ipairs(STATES) do d[#d + 1] = "  " .. q(s) .. ";" end
  d[#d + 1] = '  "CLOSED_END" [label="CLOSED"];'
  d[#d + 1] = '  { rank=source; "CLOSED"; }'
  d[#d + 1] = '  { rank=sink; "CLOSED_END"; }'
  d[#d + 1] = '  { rank=same; "SYN_SENT"; "SYN_RCVD"; }'
  d[#d + 1] = '  { rank=same; "FIN_WAIT_1"; "CLOSE_WAIT"; }'
  d[#d + 1] = '  { rank=same; "FIN_WAIT_2"; "CLOSING"; "LAST_ACK"; }'
  for _, t in ipairs(transitions) do
    local attrs
    if t.count > 0 then
      attrs = ("label=%s, penwidth=%.1f"):format(lines(esc(t[3]), t.count), math.min(4, 1 + math.log(t.count, 10)))
    elseif t.missing then
      attrs = ("label=%s, style=dashed, color=grey, fontcolor=grey"):format(lines(esc(t[3]), "(not taken by the core)"))
    else
      attrs = ("label=%s, style=dashed, color=grey, fontcolor=grey"):format(lines(esc(t[3]), "0"))
    end
    d[#d + 1] = ("  %s -> %s [%s];"):format(q(t[1]), q(node_to(t[2])), attrs)
  end
  for _, r in ipairs(unknown) do
    d[#d + 1] = ("  %s -> %s [label=%s, color=red, fontcolor=red];")
      :format(q(r.from), q(node_to(r.to)), lines(esc(r.event), counts[r.key] .. " (not in the table)"))
  end
  d[#d + 1] = "}"
  local df, derr = io.open(dot_path, "w")
  if not df then
    io.stderr:write("report.lua: cannot write ", dot_path, ": ", tostring(derr), "\n")
    os.exit(2)
  end
  df:write(table.concat(d, "\n"), "\n")
  df:close()
  say("")
  say("DOT written to %s (dot -Tsvg %s > states.svg)", dot_path, dot_path)
end

say("")
say("%d transitions the core does not take (not implemented, not reachable), never reached", missing)
say("%d passed, %d failed", passed, failed)
print(table.concat(out, "\n"))
os.exit((failed == 0 and f) and 0 or 1)
