--- synfin.states: the eleven-state machine of RFC 9293 as Graphviz DOT, with
-- the transitions one run took drawn bold with how often it took them.
--
--     print(net:states_dot())            -- or states.dot(net:records())
--     dot -Tsvg states.dot > states.svg  -- Debian's graphviz
--
-- Every edge of the state diagram (RFC 9293 §3.3.2, Figure 5) is drawn; an
-- edge the run never took is grey, labelled with the figure's event. A
-- transition the run took is bold and coloured, labelled with the cause and
-- reason the core gave ("segment ACK of our FIN") and its count ("2 times");
-- one the figure does not have (an abort, a timeout, a reset) is added. The
-- states the run visited are filled.
-- @module synfin.states
-- @pragma nostrip
local states = {}

--- The eleven states, as synfin.STATES lists them.
states.NAMES = { "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
  "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT" }

--- Figure 5: { from, to, the event as the core reports it ("cause why"),
-- the figure's words }.
states.FIGURE = {
  { "CLOSED", "LISTEN", "user listen", "passive OPEN" },
  { "CLOSED", "SYN_SENT", "user connect", "active OPEN / snd SYN" },
  { "LISTEN", "CLOSED", "user close", "CLOSE" },
  { "LISTEN", "SYN_RCVD", "segment SYN", "rcv SYN / snd SYN,ACK" },
  { "LISTEN", "SYN_SENT", "user send", "SEND / snd SYN" },
  { "SYN_SENT", "CLOSED", "user close", "CLOSE" },
  { "SYN_SENT", "SYN_RCVD", "segment SYN (simultaneous open)", "rcv SYN / snd SYN,ACK" },
  { "SYN_SENT", "ESTABLISHED", "segment SYN-ACK", "rcv SYN,ACK / snd ACK" },
  { "SYN_RCVD", "LISTEN", "segment RST", "rcv RST" },
  { "SYN_RCVD", "ESTABLISHED", "segment ACK", "rcv ACK of SYN" },
  { "SYN_RCVD", "FIN_WAIT_1", "user close", "CLOSE / snd FIN" },
  { "ESTABLISHED", "FIN_WAIT_1", "user close", "CLOSE / snd FIN" },
  { "ESTABLISHED", "CLOSE_WAIT", "segment FIN", "rcv FIN / snd ACK" },
  { "FIN_WAIT_1", "FIN_WAIT_2", "segment ACK of our FIN", "rcv ACK of FIN" },
  { "FIN_WAIT_1", "CLOSING", "segment FIN (simultaneous close)", "rcv FIN / snd ACK" },
  { "FIN_WAIT_1", "TIME_WAIT", "segment FIN+ACK of our FIN", "rcv FIN, ACK of FIN / snd ACK" },
  { "FIN_WAIT_2", "TIME_WAIT", "segment FIN", "rcv FIN / snd ACK" },
  { "CLOSE_WAIT", "LAST_ACK", "user close", "CLOSE / snd FIN" },
  { "CLOSING", "TIME_WAIT", "segment ACK of our FIN", "rcv ACK of FIN" },
  { "LAST_ACK", "CLOSED", "segment ACK of our FIN", "rcv ACK of FIN" },
  { "TIME_WAIT", "CLOSED", "timer 2MSL", "Timeout=2MSL" },
}

-- Rows of the drawing, top to bottom, as the figure has them.
local RANKS = {
  { "CLOSED" }, { "LISTEN" }, { "SYN_RCVD", "SYN_SENT" }, { "ESTABLISHED" },
  { "FIN_WAIT_1", "CLOSE_WAIT" }, { "FIN_WAIT_2", "CLOSING", "LAST_ACK" }, { "TIME_WAIT" },
}

-- A DOT string: quoted, backslashes and quotes escaped, a newline as \n.
local function q(s)
  s = tostring(s):gsub('[\\"]', "\\%0"):gsub("\n", "\\n"):gsub("[%z\1-\31]", " ")
  return '"' .. s .. '"'
end

--- The transitions in records (state records: old, new, cause, why), in the
-- order first taken: a list of { from, to, event = "cause why", count }.
-- @tparam {table,...} recs records, as net:records() returns them
-- @treturn {table,...}
function states.taken(recs)
  local list, by = {}, {}
  for _, r in ipairs(recs) do
    if r.kind == "state" and r.old ~= r.new then
      local event = r.cause .. (r.why and r.why ~= "" and (" " .. r.why) or "")
      local key = r.old .. " " .. r.new .. " " .. event
      local t = by[key]
      if not t then
        t = { from = r.old, to = r.new, event = event, count = 0 }
        by[key] = t
        list[#list + 1] = t
      end
      t.count = t.count + 1
    end
  end
  return list
end

local function times(n) return n == 1 and "1 time" or (n .. " times") end

--- The state machine as DOT text, the transitions in recs highlighted.
-- opts: title.
-- @tparam {table,...} recs records, as net:records() returns them
-- @tparam[opt] table opts title
-- @treturn string the DOT text
function states.dot(recs, opts)
  opts = opts or {}
  local taken = states.taken(recs)
  local visited = {}
  for _, t in ipairs(taken) do visited[t.from], visited[t.to] = true, true end
  local on_figure = {}
  for _, e in ipairs(states.FIGURE) do on_figure[e[1] .. " " .. e[2] .. " " .. e[3]] = e end
  local hit = {}
  for _, t in ipairs(taken) do
    local e = on_figure[t.from .. " " .. t.to .. " " .. t.event]
    if e then hit[e] = t end
  end

  local title = opts.title or "TCP states (RFC 9293, Figure 5): the transitions this run took, bold, with their counts"
  local o = {}
  local function w(s) o[#o + 1] = s end
  w("digraph tcp_states {")
  w(("  graph [label=%s, labelloc=t, fontname=\"DejaVu Sans\", fontsize=14, nodesep=0.6, ranksep=0.55];")
    :format(q(title)))
  w('  node [shape=box, style="rounded,filled", fontname="DejaVu Sans Mono", fontsize=12, '
    .. 'fillcolor="#f4f4f4", color="#b0b0b0", fontcolor="#8a8a8a"];')
  w('  edge [fontname="DejaVu Sans", fontsize=9, color="#c8c8c8", fontcolor="#a0a0a0", arrowsize=0.7];')
  for _, name in ipairs(states.NAMES) do
    if visited[name] then
      w(("  %s [fillcolor=\"#e3f2fd\", color=\"#1f5fa8\", fontcolor=\"#111111\", penwidth=2];"):format(q(name)))
    else
      w(("  %s;"):format(q(name)))
    end
  end
  for _, rank in ipairs(RANKS) do
    local names = {}
    for _, n in ipairs(rank) do names[#names + 1] = q(n) end
    w("  { rank=same; " .. table.concat(names, "; ") .. "; }")
  end
  local function bold(t)
    return ("  %s -> %s [label=%s, color=\"#1f5fa8\", fontcolor=\"#1f5fa8\", fontsize=10, penwidth=%.1f];")
      :format(q(t.from), q(t.to), q(t.event .. "\n" .. times(t.count)), 2 + math.min(3, math.log(t.count, 2)))
  end
  w("  // the figure's edges: bold when this run took them")
  for _, e in ipairs(states.FIGURE) do
    local t = hit[e]
    if t then
      w(bold(t))
    else
      w(("  %s -> %s [label=%s, style=dashed];"):format(q(e[1]), q(e[2]), q(e[4])))
    end
  end
  local extra = false
  for _, t in ipairs(taken) do
    if not on_figure[t.from .. " " .. t.to .. " " .. t.event] then
      if not extra then w("  // transitions this run took that the figure does not draw"); extra = true end
      w(bold(t))
    end
  end
  w("}")
  return table.concat(o, "\n") .. "\n"
end

return states
