--- The ladder diagram: the trace drawn the way the textbook figures draw a
-- connection. One lane per host, time down the left, each segment an arrow
-- numbered in order with its flags, relative seq/ack, window and length, and
-- each state change written in its host's lane with its cause.
--
-- ladder.lines and ladder.text draw it as text for a terminal; ladder.svg
-- draws the same records as a picture (an SVG document), with slanted arrows
-- from each segment's send time to its arrival time.
--
-- Scripts use them through net:trace(): print(net:trace()),
-- net:trace():lines(), net:trace():svg(path).
-- @module synfin.ladder
-- @pragma nostrip
local ladder = {}

local TIME_W = 10

-- A segment as the ladder writes it: "#4 FA seq=19 ack=25 win=502<<7 len=5
-- <TS val 9 ecr 4>" (synfin.core writes it, for this ladder and the C one:
-- windows with their scale, options as tcpdump prints them).
-- opts.ts = false leaves the timestamp option out.
local function seg_label(r, opts)
  if opts and opts.ts == false then return r.summary_no_ts end
  return r.summary
end

-- What happened to a segment, when it is worth a word.
local function seg_fate(r)
  local notes = {}
  if r.injected and r.hook then
    notes[#notes + 1] = ("made by hook %d"):format(r.hook)
  elseif r.injected then
    notes[#notes + 1] = "injected"
  end
  if r.fate == "replaced" then notes[#notes + 1] = ("replaced by hook %d"):format(r.hook) end
  if r.delay then notes[#notes + 1] = ("delayed %gs by hook %d"):format(r.delay, r.hook or 0) end
  if r.fate == "lost" then notes[#notes + 1] = "lost by the link" end
  if r.fate == "dropped_egress" then notes[#notes + 1] = ("dropped by hook %d"):format(r.hook) end
  if r.fate == "dropped_ingress" then
    notes[#notes + 1] = ("dropped on arrival by hook %d"):format(r.hook)
  end
  if r.fate == "no_host" then notes[#notes + 1] = "no host at " .. r.dst end
  if r.label then notes[#notes + 1] = "<- " .. r.label end
  return table.concat(notes, ", ")
end

-- A function naming the connection of a state record: a listener by its port,
-- and on a host with several connections (a listener aside) each by its ports.
local function conn_namer(recs)
  local conns = {}
  for _, r in ipairs(recs) do
    if r.kind == "state" and r.rport ~= 0 then
      conns[r.host] = conns[r.host] or {}
      conns[r.host][r.conn] = true
    end
  end
  return function(r)
    if r.rport == 0 then return "listener :" .. r.lport .. " " end
    local n = 0
    for _ in pairs(conns[r.host] or {}) do n = n + 1 end
    return n > 1 and (":" .. r.lport .. "~" .. r.rport .. " ") or ""
  end
end

-- A host's addresses, every one (a host may have several, of both
-- families), for the ladder's header: "192.0.2.1, 2001:db8::1".
local function addrs_text(h) return table.concat(h.addrs or { h.addr }, ", ") end

-- The same in lines of at most ADDR_LINE characters for the SVG's header
-- box (an address longer than that alone on its line); each line but the
-- last ends in a comma.
local ADDR_LINE = 32
local function addr_lines(h)
  local lines, cur = {}, nil
  for _, a in ipairs(h.addrs or { h.addr }) do
    if cur and #cur + 2 + #a <= ADDR_LINE then
      cur = cur .. ", " .. a
    else
      if cur then lines[#lines + 1] = cur .. "," end
      cur = a
    end
  end
  lines[#lines + 1] = cur
  return lines
end

local function put(line, col, text)
  if #line < col then line = line .. (" "):rep(col - #line) end
  return line:sub(1, col) .. text .. line:sub(col + #text + 1)
end

--- Renders records (a list) of a net as text lines; returns the list of lines.
-- opts: notes = false hides the protocol's explanations; ts = false leaves
-- the timestamp option out of the segments' lines (the other options stay).
-- @tparam synfin.Net net
-- @tparam {table,...} recs records, as net:records() returns them
-- @tparam[opt] table opts notes
-- @treturn {string,...}
function ladder.lines(net, recs, opts)
  opts = opts or {}
  local hosts = net.hosts
  local nh = #hosts
  local conn_name = conn_namer(recs)
  local gap = 30
  for _, r in ipairs(recs) do
    if r.kind == "seg" then gap = math.max(gap, #seg_label(r, opts) + 10) end
  end
  local heads = {}
  for i, h in ipairs(hosts) do -- and for each host's name and addresses over its lane
    heads[i] = h.name and (h.name .. " " .. addrs_text(h)) or addrs_text(h)
    gap = math.max(gap, #heads[i] + 2)
  end
  if nh == 0 then return { "(no hosts)" } end
  local lane = {}
  for i = 1, nh do lane[i] = TIME_W + 2 + (i - 1) * gap end
  local blank = (" "):rep(TIME_W + 1)
  for i = 1, nh do blank = put(blank, lane[i], "|") end

  local out = {}
  local head = ("%" .. TIME_W .. "s"):format("time (s)")
  for i = 1, nh do head = put(head, lane[i], heads[i]) end
  out[#out + 1] = head
  out[#out + 1] = blank

  local function stamp(line, t)
    return ("%" .. TIME_W .. ".3f"):format(t) .. line:sub(TIME_W + 1)
  end

  for _, r in ipairs(recs) do
    local line
    if r.kind == "seg" then
      local a, b = r.from, r.to
      local label = seg_label(r, opts)
      if a and b and a ~= b then
        local lo, hi = math.min(lane[a], lane[b]), math.max(lane[a], lane[b])
        local body = label
        local span = hi - lo - 1
        local fill = span - #body - 4
        local right = a < b
        local head_ch = right and ">" or "<"
        if r.fate == "dropped_egress" or r.fate == "replaced" then
          body = (right and "-X " or "") .. body .. (right and "" or " X-")
          line = put(blank, right and lo + 1 or hi - #body, body)
        else
          local arrow
          if right then
            arrow = "--" .. body .. " " .. ("-"):rep(math.max(fill, 1)) .. head_ch
          else
            arrow = head_ch .. ("-"):rep(math.max(fill, 1)) .. " " .. body .. "--"
          end
          if r.fate == "lost" or r.fate == "dropped_ingress" then
            arrow = right and (arrow:sub(1, -2) .. "X") or ("X" .. arrow:sub(2))
          end
          line = put(blank, lo + 1, arrow)
        end
      else
        line = put(blank, lane[a or 1] + 2, label .. " -> " .. r.dst .. ":" .. r.dport)
      end
      local fate = seg_fate(r)
      if fate ~= "" then line = line .. "  " .. fate end
    elseif r.kind == "state" then
      local who = conn_name(r)
      local why = r.why or r.cause
      if r.seg then why = why .. " #" .. r.seg end
      line = put(blank, lane[r.host], ("[%s%s] %s"):format(who, r.new, why))
    elseif r.kind == "note" and opts.notes ~= false then
      local col = r.host and lane[r.host] or TIME_W + 2
      line = put(blank, col, "(" .. r.text .. (r.seg and (" #" .. r.seg) or "") .. ")")
    end
    if line then out[#out + 1] = stamp(line:gsub("%s+$", ""), r.time) end
  end
  return out
end

--- The same lines as one text, for print.
-- @tparam synfin.Net net
-- @tparam {table,...} recs
-- @tparam[opt] table opts as for ladder.lines
-- @treturn string
function ladder.text(net, recs, opts)
  return table.concat(ladder.lines(net, recs, opts), "\n")
end

------------------------------------------------------------------------------
-- The ladder as SVG
-- @section svg
------------------------------------------------------------------------------

-- Geometry, in pixels. Text is monospace, so its width is known: CW per
-- character at 12 px, CWS at 11 px.
local ROW = 26        -- one row per event: a send, an arrival, a state change, a note
-- a crowded instant's rows grow so much, at most so many times (fewer on a
-- long trace: each try draws it all again)
local ROW_GROWTH, ROW_TRIES = 1.6, 6
local function row_tries(n) return n <= 5000 and ROW_TRIES or n <= 50000 and 2 or 1 end
local CW, CWS = 7.23, 6.63
local ADDR_LH = 14 -- a header's line of addresses: its height
local GAP_UNIT = 30   -- one link latency of quiet time between two instants
local BREAK_AT = 8    -- quiet gaps over this many latencies are compressed...
local BREAK_H = 56    -- ...to this height, with a break mark
local MIN_GAP = 6
local TIMECOL = 62    -- the time labels end here
local MIN_LANE_GAP = 380

local PALETTE = { "#1f5fa8", "#2e7d32", "#8e24aa", "#a65c00", "#00838f", "#6d4c41" }
local RED, GREY = "#c62828", "#777777"

-- State boxes: fill and stroke by the part of the life of a connection.
local STATE_STYLE = {
  CLOSED = { "#eeeeee", "#8a8a8a" },
  LISTEN = { "#e3f2fd", "#5c8ec9" },
  SYN_SENT = { "#fff3e0", "#d08a2e" }, SYN_RCVD = { "#fff3e0", "#d08a2e" },
  ESTABLISHED = { "#e8f5e9", "#4c9a52" },
  FIN_WAIT_1 = { "#fce4ec", "#c2577c" }, FIN_WAIT_2 = { "#fce4ec", "#c2577c" },
  CLOSING = { "#fce4ec", "#c2577c" }, TIME_WAIT = { "#fce4ec", "#c2577c" },
  CLOSE_WAIT = { "#ede7f6", "#7e62b8" }, LAST_ACK = { "#ede7f6", "#7e62b8" },
}

-- Text as XML character data or attribute value: markup escaped, control
-- characters XML 1.0 forbids and bytes that are not UTF-8 replaced.
local function esc(s)
  s = tostring(s):gsub("[%z\1-\8\11\12\14-\31\127]", "?")
  if not utf8.len(s) then s = s:gsub("[\128-\255]", "?") end
  return (s:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&apos;" }))
end

local function num(x) return (("%.1f"):format(x):gsub("%.0$", "")) end

local function tlen(s) return utf8.len(s) or #s end

-- What a hook or the link did to a segment, said on the arrow's end.
local function verdict(r)
  if r.fate == "lost" then return "lost by the link" end
  if r.fate == "dropped_egress" then return ("dropped by egress hook %d"):format(r.hook or 0) end
  if r.fate == "replaced" then return ("replaced by hook %d"):format(r.hook or 0) end
  if r.fate == "dropped_ingress" then return ("dropped on arrival by hook %d"):format(r.hook or 0) end
  if r.fate == "no_host" then return ("no host at %s:%d"):format(r.dst, r.dport) end
  if r.fate == "flight" then return "still in flight when the trace ends" end
end

-- The words under an arrow: the scenario's label, a delay, an injection.
local function seg_notes(r)
  local parts = {}
  if r.label then parts[#parts + 1] = r.label end
  if r.delay then parts[#parts + 1] = ("delayed %g s by hook %d"):format(r.delay, r.hook or 0) end
  if r.injected then parts[#parts + 1] = "injected" end
  return table.concat(parts, " \u{b7} ")
end

local function fmt_dt(dt)
  if dt >= 1 then return ("%.3f s"):format(dt) end
  return ("%.1f ms"):format(dt * 1e3)
end

--- Whether two convex quadrilaterals (lists of four {x, y}) overlap by more
-- than `margin` pixels: unless some edge's normal separates them (the
-- separating axis test). The SVG's placement of words uses it, and so does
-- the spec that reads a picture back (spec/helpers/svg_layout.lua).
-- @tparam table p
-- @tparam table q
-- @tparam number margin
-- @treturn boolean
function ladder.overlap(p, q, margin)
  for _, poly in ipairs { p, q } do
    for i = 1, 4 do
      local a, b = poly[i], poly[i % 4 + 1]
      local nx, ny = b[2] - a[2], a[1] - b[1]
      local n = math.sqrt(nx * nx + ny * ny)
      if n > 0 then
        nx, ny = nx / n, ny / n
        local pmin, pmax, qmin, qmax = math.huge, -math.huge, math.huge, -math.huge
        for _, v in ipairs(p) do
          local d = v[1] * nx + v[2] * ny
          pmin, pmax = math.min(pmin, d), math.max(pmax, d)
        end
        for _, v in ipairs(q) do
          local d = v[1] * nx + v[2] * ny
          qmin, qmax = math.min(qmin, d), math.max(qmax, d)
        end
        if pmax < qmin + margin or qmax < pmin + margin then return false end
      end
    end
  end
  return true
end

-- The picture, the rows of the instant numbered i grow[i] times as tall as
-- ROW (default 1); returns it, how many texts found no place free of other
-- texts, and the set of the instants where their arrows start and end.
local function render(net, recs, opts, grow)
  local hosts = net.hosts
  local nh = #hosts
  local conn_name = conn_namer(recs)
  local function us_of(t) return math.floor(t * 1e6 + 0.5) end

  -- the events, each on its own row, grouped by instant
  local bands, by_us = {}, {}
  local function add(t, item)
    local k = us_of(t)
    local b = by_us[k]
    if not b then
      b = { t = t, us = k, items = {} }
      by_us[k] = b
      bands[#bands + 1] = b
    end
    b.items[#b.items + 1] = item
    return item
  end
  local segs, states, notes = {}, {}, {}
  local latency
  for i, r in ipairs(recs) do
    if r.kind == "seg" then
      local s = { r = r, a = r.from, b = r.to }
      s.dep = add(r.time, { key = i, seg = s })
      if r.arrival and s.a and s.b and s.a ~= s.b then
        -- arrivals come first at their instant (by number), unless the
        -- segment was sent at that same instant (a link without latency)
        local key = us_of(r.arrival) == us_of(r.time) and i + 0.5 or -1e9 + r.n
        s.arr = add(r.arrival, { key = key, seg = s })
        local d = r.arrival - r.time - (r.delay or 0)
        if d > 1e-9 and (not latency or d < latency) then latency = d end
      end
      segs[#segs + 1] = s
    elseif r.kind == "state" then
      states[#states + 1] = add(r.time, { key = i, r = r })
    elseif r.kind == "note" and opts.notes ~= false then
      notes[#notes + 1] = add(r.time, { key = i, r = r })
    end
  end
  table.sort(bands, function(x, y) return x.us < y.us end)
  for _, b in ipairs(bands) do table.sort(b.items, function(x, y) return x.key < y.key end) end

  -- the time scale: one latency is GAP_UNIT pixels of quiet between two
  -- instants; gaps longer than BREAK_AT latencies are cut short
  if not latency then
    local dts = {}
    for i = 2, #bands do dts[#dts + 1] = bands[i].t - bands[i - 1].t end
    table.sort(dts)
    latency = dts[(#dts + 1) // 2] or 0.001
    if latency <= 0 then latency = 0.001 end
  end
  local pps = GAP_UNIT / latency

  -- horizontal layout: lanes far enough apart for the longest arrow's words
  -- a state box hangs off its lane outwards on the first and last lanes (out
  -- of the arrows' way), and is centred on the lanes between
  local boxes = {} -- state item -> { name, cause, w, x (its left edge, from the lane) }
  local function box_left(host, w)
    if nh >= 2 and host == 1 then return 18 - w end
    if nh >= 2 and host == nh then return -18 end
    return -w / 2
  end
  local ext_l, ext_r = {}, {} -- how far each lane's drawing reaches left and right
  for i = 1, nh do ext_l[i], ext_r[i] = 24, 24 end
  local heads, head_lines = {}, 1 -- (the most lines of addresses a header has)
  for i, h in ipairs(hosts) do
    -- the name (bold), then the addresses; without a name the first line
    -- of addresses is the bold one
    local lines = addr_lines(h)
    local l1 = h.name or table.remove(lines, 1)
    if h.peer then
      if #lines == 0 then lines[1] = "(peer)" else lines[#lines] = lines[#lines] .. " (peer)" end
    end
    local widest = tlen(l1)
    for _, l in ipairs(lines) do widest = math.max(widest, tlen(l)) end
    local w = widest * CW + 24
    heads[i] = { l1 = l1, lines = lines, w = w }
    head_lines = math.max(head_lines, #lines)
    ext_l[i], ext_r[i] = math.max(ext_l[i], w / 2), math.max(ext_r[i], w / 2)
  end
  for _, it in ipairs(states) do
    local r = it.r
    local name = conn_name(r) .. r.new
    local cause = (r.why or r.cause) .. (r.seg and (" #" .. r.seg) or "")
    local w = (tlen(name) + 2 + tlen(cause)) * CW + 14
    local h = hosts[r.host] and r.host or 1
    boxes[it] = { name = name, cause = cause, w = w, x = box_left(h, w) }
    ext_l[h] = math.max(ext_l[h], -boxes[it].x)
    ext_r[h] = math.max(ext_r[h], boxes[it].x + w)
  end
  local gap = MIN_LANE_GAP
  for _, s in ipairs(segs) do
    local r = s.r
    s.above = seg_label(r, opts)
    s.below = seg_notes(r)
    s.verdict = verdict(r)
    local words = tlen(s.above) + tlen(s.below)
    if r.fate == "dropped_ingress" or r.fate == "flight" then
      words = tlen(s.above) + tlen(s.below) + tlen(s.verdict) + 3
    elseif not s.arr then
      -- it ends in an X past its words above, with the verdict and the
      -- words below it under the line, read towards the X
      words = math.max(tlen(s.above), tlen(s.verdict or "") + 3 + tlen(s.below)) + 6
    end
    gap = math.max(gap, words * CW + 90)
  end
  for i = 1, nh - 1 do gap = math.max(gap, ext_r[i] + ext_l[i + 1] + 40) end
  local lane = {}
  for i = 1, nh do lane[i] = TIMECOL + 14 + ext_l[1] + (i - 1) * gap end
  local right = (lane[nh] or TIMECOL + 100) + (ext_r[nh] or 40) + 24
  -- a note reads from its lane inwards: leftwards on the last lane
  local function note_text(r) return r.text .. (r.seg and (" #" .. r.seg) or "") end
  local function note_left(r) return nh >= 2 and r.host == nh end
  for _, it in ipairs(notes) do
    local r = it.r
    local len = tlen(note_text(r)) * CWS
    if note_left(r) then
      -- reaching past the first lane: move every lane right
      local over = len + 8 - (lane[nh] - TIMECOL - 14)
      if over > 0 then for i = 1, nh do lane[i] = lane[i] + over end right = right + over end
    else
      right = math.max(right, (lane[r.host] or lane[1] or TIMECOL) + 8 + len + 20)
    end
  end

  -- vertical layout
  local title = opts.title or ("synfin trace, seed %s"):format(tostring(net.seed or "?"))
  local HEAD_Y = 44
  local top = HEAD_Y + 48 + ADDR_LH * (head_lines - 1) -- room for the tallest header
  local y = top + 10
  local breaks = {}
  for i, b in ipairs(bands) do
    if i > 1 then
      local dt = b.t - bands[i - 1].t
      local px = dt * pps
      if px > BREAK_AT * GAP_UNIT then
        breaks[#breaks + 1] = { y0 = y, y1 = y + BREAK_H, dt = dt }
        y = y + BREAK_H
      else
        y = y + math.max(px, MIN_GAP)
      end
    end
    b.top = y
    local row = ROW * (grow[i] or 1)
    for k, it in ipairs(b.items) do it.y, it.band = y + (k - 0.5) * row, i end
    y = y + #b.items * row
    b.bottom = y
  end
  local bottom = y + 16

  -- y of any instant: a band's top, or between two bands in proportion
  local function y_at(t)
    if #bands == 0 then return top end
    if t <= bands[1].t then return bands[1].top end
    for i = 1, #bands - 1 do
      local b0, b1 = bands[i], bands[i + 1]
      if t < b1.t then
        return b0.bottom + (t - b0.t) / (b1.t - b0.t) * (b1.top - b0.bottom)
      end
    end
    local last = bands[#bands]
    return last.bottom + math.min((t - last.t) * pps, BREAK_H)
  end

  -- where each segment's line starts and ends; a segment that never
  -- arrived ends where it would have, one link latency later (or sooner,
  -- not to cross half the picture)
  for _, s in ipairs(segs) do
    local r = s.r
    local a = hosts[s.a] and s.a or 1
    local b = s.b and hosts[s.b] and s.b ~= a and s.b or nil
    local g = { a = a, x0 = lane[a], y0 = s.dep.y }
    if b then
      g.dir = lane[b] > g.x0 and 1 or -1
      g.x1 = lane[b]
    else
      -- nowhere to go (no host there, or itself): towards a side
      g.dir = (a < nh) and 1 or -1
      g.x1 = g.x0 + g.dir * gap * 0.5
      g.stub = 0.8
    end
    if s.arr then
      g.y1 = s.arr.y
    else
      local yw = y_at(r.time + latency + (r.delay or 0))
      g.y1 = math.min(math.max(yw, g.y0 + ROW), g.y0 + 2 * ROW + GAP_UNIT)
      if r.fate == "dropped_egress" or r.fate == "replaced" then g.stub = 0.35 elseif r.fate == "lost" then g.stub = 0.55 end
    end
    bottom = math.max(bottom, g.y1 + ROW)
    s.g = g
  end

  -- fine times need more digits
  local tfmt = "%.3f"
  for _, b in ipairs(bands) do
    if b.us % 1000 ~= 0 then tfmt = "%.6f" end
  end

  local legend_lines = {
    { "arrow", "a segment, numbered in order: flags, seq/ack relative to each side's ISN, window, length" },
    { "label", "in italics under an arrow: the scenario's label for it" },
    { "dashed", "dashed: delayed by a hook" },
    { "x", "lost on the link or dropped by a hook, with the verdict" },
    { "box", "a state change of a connection, with its cause: a user call, segment #n, a timer" },
    { "note", "in grey: the protocol's or the script's notes" },
    { "break", ("time runs down in proportion (%s = %d px); events at one instant are stacked in order"):format(
      fmt_dt(latency), GAP_UNIT) },
    { "", ("in shaded bands; quiet gaps over %s (2*MSL, timeouts) are compressed at a break mark"):format(
      fmt_dt(latency * BREAK_AT)) },
  }
  local legend_y = bottom + 28
  local width = right
  for _, l in ipairs(legend_lines) do width = math.max(width, 70 + tlen(l[2]) * CWS + 20) end
  width = math.max(width, 20 + tlen(title) * 8.5 + 20)
  local height = legend_y + #legend_lines * 18 + 16
  width = math.ceil(width)
  height = math.ceil(height)

  local o = {}
  local function w(...) o[#o + 1] = table.concat({ ... }) end

  w('<?xml version="1.0" encoding="UTF-8"?>')
  w(('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">')
    :format(width, height, width, height))
  w("<title>", esc(title), "</title>")
  w("<desc>A ladder diagram drawn by synfin: one lane per host, time flowing down, ",
    "each segment an arrow from its send time to its arrival time.</desc>")
  w("<defs>")
  w("<style>",
    "text{font-family:'DejaVu Sans Mono','Liberation Mono',Menlo,Consolas,monospace;font-size:12px;fill:#222}",
    ".title{font-family:'DejaVu Sans','Liberation Sans',Helvetica,Arial,sans-serif;font-size:17px;font-weight:bold}",
    ".host{font-weight:bold;font-size:13px}",
    ".addr{fill:#555}",
    ".time{font-size:11px;fill:#666}",
    ".seg,.lbl,.verdict,.note,.brk{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}",
    ".seg{font-size:12px}",
    ".num{font-weight:bold}",
    ".lbl{font-style:italic;font-size:12px}",
    ".verdict{fill:", RED, ";font-size:12px;font-weight:bold}",
    ".state{font-weight:bold}",
    ".cause{fill:#444}",
    ".note{fill:", GREY, ";font-size:11px;font-style:italic}",
    ".legend{font-size:11px;fill:#333}",
    ".brk{font-size:11px;fill:#555}",
    "</style>")
  -- arrowheads in each sender's colour, and grey
  local colors = {}
  for i = 1, math.max(nh, 1) do colors[i] = PALETTE[(i - 1) % #PALETTE + 1] end
  colors.grey = GREY
  for i = 0, #colors do
    local k = i == 0 and "grey" or i
    w(('<marker id="ah-%s" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" '
      .. 'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>')
      :format(k, colors[k]))
  end
  w("</defs>")
  w(('<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>'):format(width, height))
  w(('<text class="title" x="20" y="26">%s</text>'):format(esc(title)))

  if nh == 0 then
    w('<text x="20" y="60">(no hosts)</text>')
    w("</svg>")
    return table.concat(o, "\n") .. "\n", 0, {}
  end

  -- the instants: shaded bands, every other one, and their times
  w('<g class="bands">')
  for i, b in ipairs(bands) do
    if i % 2 == 0 then
      w(('<rect x="0" y="%s" width="%d" height="%s" fill="#f3f6f9"/>'):format(num(b.top), width,
        num(b.bottom - b.top)))
    end
    w(('<text class="time" x="%d" y="%s" text-anchor="end">%s</text>'):format(TIMECOL, num(b.items[1].y + 4),
      esc(tfmt:format(b.t))))
  end
  w(('<text class="time" x="%d" y="%d" text-anchor="end">time (s)</text>'):format(TIMECOL, HEAD_Y + 20))
  w("</g>")

  -- the lanes and their hosts
  w('<g class="lanes">')
  for i = 1, nh do
    local hd = heads[i]
    w(('<line x1="%s" y1="%d" x2="%s" y2="%s" stroke="#444" stroke-width="1.5"/>'):format(num(lane[i]),
      top, num(lane[i]), num(bottom)))
    local n = #hd.lines
    local bh = 26 + ADDR_LH * n
    w(('<rect x="%s" y="%d" width="%s" height="%d" rx="4" fill="#fafafa" stroke="#444"/>'):format(
      num(lane[i] - hd.w / 2), top - bh, num(hd.w), bh))
    w(('<text class="host" x="%s" y="%d" text-anchor="middle">%s</text>'):format(num(lane[i]), top - bh + 17,
      esc(hd.l1)))
    for k, l in ipairs(hd.lines) do
      w(('<text class="addr" x="%s" y="%d" text-anchor="middle">%s</text>'):format(num(lane[i]),
        top - 8 - ADDR_LH * (n - k), esc(l)))
    end
  end
  w("</g>")

  -- the breaks: the lanes cut by two zigzags, and how long the gap was
  local function zigzag(y0, x0, x1)
    local pts = {}
    local up = true
    for x = x0, x1, 6 do
      pts[#pts + 1] = num(x) .. "," .. num(y0 + (up and -3 or 3))
      up = not up
    end
    return table.concat(pts, " ")
  end
  -- a break's note goes between the first two lanes, as far as it can from
  -- the arrows that cross the break (each arrow's words need room there)
  local function note_x(tw, at_y)
    local lo, hi = lane[1] + tw / 2 + 12, nh > 1 and lane[2] - tw / 2 - 12 or lane[1] + 160
    if hi <= lo then return (lo + hi) / 2 end
    local crossing = {}
    for _, s in ipairs(segs) do
      local g = s.g
      if g.y0 < at_y and at_y < g.y1 then
        crossing[#crossing + 1] = g.x0 + (g.x1 - g.x0) * (at_y - g.y0) / (g.y1 - g.y0)
      end
    end
    local best, best_d = (lo + hi) / 2, -math.huge
    for k = 0, 16 do
      local x = lo + (hi - lo) * ((k + 8) % 17) / 16 -- the middle first
      local d = math.huge
      for _, cx in ipairs(crossing) do d = math.min(d, math.abs(cx - x)) end
      if d > best_d + 1 then best, best_d = x, d end
    end
    return best
  end
  for _, br in ipairs(breaks) do
    local y0, y1 = br.y0 + 12, br.y1 - 12
    br.top, br.bottom = y0 - 3, y1 + 3 -- with its zigzags: words had better not go there
    w('<g class="break">')
    w(('<rect x="0" y="%s" width="%d" height="%s" fill="#ffffff"/>'):format(num(y0), width, num(y1 - y0)))
    w(('<polyline points="%s" fill="none" stroke="#999" stroke-width="1.2"/>'):format(zigzag(y0, 10, width - 10)))
    w(('<polyline points="%s" fill="none" stroke="#999" stroke-width="1.2"/>'):format(zigzag(y1, 10, width - 10)))
    for i = 1, nh do
      w(('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#444" stroke-width="1.5" stroke-dasharray="2,3"/>')
        :format(num(lane[i]), num(y0), num(lane[i]), num(y1)))
    end
    local text = ("\u{2248} %s later: idle gap compressed, not to scale"):format(fmt_dt(br.dt))
    local tw = tlen(text) * CWS + 12
    local cx = note_x(tw, (y0 + y1) / 2)
    br.note = { cx - tw / 2, (y0 + y1) / 2 - 8, cx + tw / 2, (y0 + y1) / 2 + 6 } -- no words go there
    w(('<rect x="%s" y="%s" width="%s" height="14" fill="#ffffff"/>'):format(num(cx - tw / 2),
      num((y0 + y1) / 2 - 8), num(tw)))
    w(('<text class="brk" x="%s" y="%s" text-anchor="middle">%s</text>'):format(num(cx), num((y0 + y1) / 2 + 3),
      esc(text)))
    w("</g>")
  end

  -- text along a line: at (x, y), turned by the line's angle, above (dy < 0)
  -- or below it
  local function along(class, tx, ty, deg, anchor, dy, text, fill)
    local body = esc(text)
    if class == "seg" then body = body:gsub("^(#%d+)", '<tspan class="num">%1</tspan>') end
    w(('<text class="%s" transform="translate(%s,%s) rotate(%s)" text-anchor="%s" dy="%s"%s>%s</text>')
      :format(class, num(tx), num(ty), ("%.2f"):format(deg), anchor, num(dy),
        fill and (' style="fill:' .. fill .. '"') or "", body))
  end
  local function cross(cx, cy)
    w(('<path d="M%s,%s L%s,%s M%s,%s L%s,%s" stroke="%s" stroke-width="2.2"/>'):format(
      num(cx - 5), num(cy - 5), num(cx + 5), num(cy + 5), num(cx - 5), num(cy + 5), num(cx + 5), num(cy - 5), RED))
  end

  -- Where the words go. What is already taken (state boxes, notes, the
  -- words above each arrow, verdicts after an X) is kept as rectangles, turned
  -- as their text is; the words under an arrow go near its head unless they
  -- would run into something there (the words of an arrow crossing it, a
  -- box), else near its tail, else in the middle.
  -- taken and lines are indexed by bands of y, so that a long trace does
  -- not compare every text with every other
  local BUCKET = 64
  local function index()
    return setmetatable({}, { __index = function(t, k) local v = {} rawset(t, k, v) return v end })
  end
  local taken, lines = index(), index()
  local crowded, crowded_at = 0, {} -- words that found no place free of other words; their instants
  local function bounds(poly)
    local x0, y0, x1, y1 = math.huge, math.huge, -math.huge, -math.huge
    for _, v in ipairs(poly) do
      x0, y0, x1, y1 = math.min(x0, v[1]), math.min(y0, v[2]), math.max(x1, v[1]), math.max(y1, v[2])
    end
    return x0, y0, x1, y1
  end
  local function add_to(idx, poly, seg)
    local x0, y0, x1, y1 = bounds(poly)
    local item = { poly = poly, seg = seg, x0 = x0, y0 = y0, x1 = x1, y1 = y1 }
    for k = math.floor(y0 / BUCKET), math.floor(y1 / BUCKET) do
      local b = idx[k]
      b[#b + 1] = item
    end
  end
  local function rect(x0, y0, x1, y1) return { { x0, y0 }, { x1, y0 }, { x1, y1 }, { x0, y1 } } end
  local function text_box(t)
    local size = t.size or 12
    local L = tlen(t.text) * size * 0.6025
    local xa = t.anchor == "start" and 0 or t.anchor == "end" and -L or -L / 2
    local ya, yb = t.dy - size * 0.78, t.dy + size * 0.22
    local th = math.rad(t.deg)
    local c, sn = math.cos(th), math.sin(th)
    local poly = {}
    for _, p in ipairs { { xa, ya }, { xa + L, ya }, { xa + L, yb }, { xa, yb } } do
      poly[#poly + 1] = { t.x + c * p[1] - sn * p[2], t.y + sn * p[1] + c * p[2] }
    end
    return poly
  end
  -- how badly a text box would sit: each box or text it covers counts 10,
  -- each other arrow's line it is crossed by 1
  local function badness(bx, own)
    local n = 0
    local x0, y0, x1, y1 = bounds(bx)
    local seen = {}
    for _, idx in ipairs { taken, lines } do
      for k = math.floor(y0 / BUCKET), math.floor(y1 / BUCKET) do
        for _, box in ipairs(rawget(idx, k) or {}) do
          if not seen[box] and box.x0 < x1 and x0 < box.x1 and box.y0 < y1 and y0 < box.y1 then
            seen[box] = true
            if idx == taken then
              if ladder.overlap(bx, box.poly, 1) then n = n + 10 end
            elseif box.seg ~= own and ladder.overlap(bx, box.poly, 1) then
              n = n + 1
            end
          end
        end
      end
    end
    return n
  end
  for _, it in ipairs(states) do
    local x, bx = lane[it.r.host] or lane[1], boxes[it]
    add_to(taken, rect(x + bx.x, it.y - 10, x + bx.x + bx.w, it.y + 10))
  end
  for _, br in ipairs(breaks) do
    add_to(taken, rect(table.unpack(br.note)))
    add_to(lines, rect(0, br.top, width, br.bottom))
  end
  for _, it in ipairs(notes) do
    local r = it.r
    local len = tlen(note_text(r)) * CWS
    local x = (lane[r.host] or lane[1]) + (note_left(r) and -8 - len or 8)
    add_to(taken, rect(x, it.y - 6, x + len, it.y + 6))
  end

  -- each segment's line, and the texts that go with it: { class, x, y,
  -- deg, anchor, dy, text, fill }; first those whose place is fixed (after
  -- and under an X)
  for _, s in ipairs(segs) do
    local r, g = s.r, s.g
    local full = g.x1 - g.x0
    g.slope = (g.y1 - g.y0) / math.abs(full)
    g.deg = math.deg(math.atan((g.y1 - g.y0) / full))
    local dir, slope = g.dir, g.slope
    local inw = dir > 0 and "end" or "start"
    local function at(tx, ty, class, anchor, dy, text, fill)
      return { class = class, x = tx, y = ty, deg = g.deg, anchor = anchor, dy = dy, text = text, fill = fill }
    end
    s.texts = {}
    local ex, ey = g.x1, g.y1
    if g.stub then
      -- the X where the segment died (near the sender for a drop at its
      -- egress, half way for a loss), but past the words above the line,
      -- which would otherwise run over it; under the line, read towards
      -- the X, the words below and the verdict
      local words = s.verdict or ("to " .. r.dst .. ":" .. r.dport)
      local need = math.max(tlen(s.above), tlen(words) + 3 + tlen(s.below)) * CW + 28
      local f = math.min(math.max(g.stub, need / math.abs(full)), 0.95)
      g.ex, g.ey = g.x0 + full * f, g.y0 + (g.y1 - g.y0) * f
      ex, ey = g.ex, g.ey
      local vx, vy = g.ex - dir * 12, g.ey - slope * 12
      s.texts[1] = at(vx, vy, "verdict", inw, 14, words)
      if s.below ~= "" then
        local off = (tlen(words) + 3) * CW
        s.texts[2] = at(vx - dir * off, vy - slope * off, "lbl", inw, 14, s.below, colors[g.a])
      end
    end
    for _, t in ipairs(s.texts) do add_to(taken, text_box(t)) end
    -- its X, where it died or was dropped on arrival: no words over it
    local cx, cy
    if g.stub then
      cx, cy = g.ex, g.ey
    elseif r.fate == "dropped_ingress" then
      cx, cy = g.x1 - dir * 8, g.y1 - slope * 8
    end
    if cx then add_to(taken, rect(cx - 6, cy - 6, cx + 6, cy + 6)) end
    -- the line as a thin quadrilateral
    local nx, ny = -(ey - g.y0), ex - g.x0
    local n = math.sqrt(nx * nx + ny * ny)
    nx, ny = nx / n, ny / n
    add_to(lines, { { g.x0 + nx, g.y0 + ny }, { ex + nx, ey + ny }, { ex - nx, ey - ny },
      { g.x0 - nx, g.y0 - ny } }, s)
  end

  -- Then the words above each arrow: near its tail, else its head, else the
  -- middle, wherever they sit best; then the words under it, near its head,
  -- else its tail, else the middle.
  -- the best of the candidate places for words: { c, box, n }, where n
  -- counts what they run over (10 for each text or box, 1 for each line)
  local function best_place(s, dy, words, cands)
    local g = s.g
    local best
    for _, c in ipairs(cands) do
      local bx = text_box { x = c[1], y = c[2], deg = g.deg, anchor = c[3], dy = c.dy or dy, text = words }
      local n = badness(bx, s) + (c.penalty or 0)
      if not best or n < best[3] then best = { c, bx, n - (c.penalty or 0), words = words } end
      if n == 0 then break end
    end
    return best
  end
  -- takes the place: words that run over other words count as crowded
  local function take(s, best)
    if best[3] >= 10 then
      crowded = crowded + 1
      for i = s.dep.band, s.arr and s.arr.band or s.dep.band do crowded_at[i] = true end
    end
    add_to(taken, best[2])
    return best[1]
  end
  local function place(s, dy, words, cands) return take(s, best_place(s, dy, words, cands)) end
  local function spots(s, len, head_first)
    local g = s.g
    local dir, slope = g.dir, g.slope
    local span = math.abs(g.x1 - g.x0)
    local mid = (span - len) / 2
    local tail = { g.x0 + dir * 16, g.y0 + slope * 16, dir > 0 and "start" or "end" }
    local head = { g.x1 - dir * 16, g.y1 - slope * 16, dir > 0 and "end" or "start" }
    local middle = { g.x0 + dir * mid, g.y0 + slope * mid, dir > 0 and "start" or "end" }
    if g.stub then return { tail } end
    local cands = head_first and { head, tail, middle } or { tail, head, middle }
    -- then further along, in sixteenths of the room the words leave
    local room = span - 32 - len
    for k = 1, 15 do
      local d = 16 + room * (head_first and (16 - k) or k) / 16
      if room > 0 then cands[#cands + 1] = { g.x0 + dir * d, g.y0 + slope * d, dir > 0 and "start" or "end" } end
    end
    return cands
  end
  -- the flattest arrows first: their words have the least room to move,
  -- while a steep arrow's words find room further down its line
  local by_slope = {}
  for i, s in ipairs(segs) do by_slope[i] = s end
  table.sort(by_slope, function(p, q)
    if p.g.slope ~= q.g.slope then return p.g.slope < q.g.slope end
    return p.r.n < q.r.n
  end)
  for _, s in ipairs(by_slope) do
    -- above the line, else (rather than over other words) under it
    local cands = spots(s, tlen(s.above) * CW, false)
    if not s.g.stub then
      for i = 1, #cands do
        local c = cands[i]
        cands[#cands + 1] = { c[1], c[2], c[3], dy = 14, penalty = 5 }
      end
    end
    local best = best_place(s, -5, s.above, cands)
    -- nowhere free for all of them: the options shortened to "<…>" (the
    -- text ladder and the record have them), if that finds a place
    local short = s.above:find(" <", 1, true) and s.above:gsub(" <.*>$", " <\u{2026}>")
    if best[3] >= 10 and short then
      local other = best_place(s, -5, short, cands)
      if other[3] < best[3] then best = other end
    end
    local c = take(s, best)
    table.insert(s.texts, 1, { class = "seg", x = c[1], y = c[2], deg = s.g.deg, anchor = c[3], dy = c.dy or -5,
      text = best.words })
  end
  for _, s in ipairs(segs) do
    local r, g = s.r, s.g
    if not g.stub and (s.verdict or s.below ~= "") then
      local dir, slope = g.dir, g.slope
      local words = s.verdict and s.below ~= "" and (s.verdict .. "   " .. s.below) or s.verdict or s.below
      local c = place(s, 14, words, spots(s, tlen(words) * CW, true))
      -- verdict first, read from the head: at the head its end, elsewhere its start
      local first, second = s.verdict, s.below ~= "" and s.below or nil
      if not first then first, second = second, nil end
      local toward_head = (c[3] == "end") == (dir > 0)
      local fx, fy = c[1], c[2]
      local function text_of(t, tx, ty, anchor)
        local fill = colors[g.a]
        if t == s.verdict then fill = r.fate == "flight" and GREY or nil end
        return { class = t == s.verdict and "verdict" or "lbl", x = tx, y = ty, deg = g.deg, anchor = anchor,
          dy = 14, text = t, fill = fill }
      end
      if toward_head then
        -- from the head backwards: the verdict at the head, the label behind it
        s.texts[#s.texts + 1] = text_of(first, fx, fy, c[3])
        if second then
          local off = (tlen(first) + 3) * CW
          s.texts[#s.texts + 1] = text_of(second, fx - dir * off, fy - slope * off, c[3])
        end
      else
        -- from the tail forwards: the label, then the verdict nearer the head
        local a, b = second or first, second and first or nil
        s.texts[#s.texts + 1] = text_of(a, fx, fy, c[3])
        if b then
          local off = (tlen(a) + 3) * CW
          s.texts[#s.texts + 1] = text_of(b, fx + dir * off, fy + slope * off, c[3])
        end
      end
    end
  end

  -- the segments
  w('<g class="segments">')
  for _, s in ipairs(segs) do
    local r, g = s.r, s.g
    local color = colors[g.a] or GREY
    local x0, y0, x1, y1, dir, slope = g.x0, g.y0, g.x1, g.y1, g.dir, g.slope
    local flight = r.fate == "flight"
    local stroke = flight and GREY or color
    local dash = flight and ' stroke-dasharray="3,3"' or r.delay and ' stroke-dasharray="7,4"' or ""
    w(('<g class="seg" id="seg-%d">'):format(r.n))
    if g.stub then
      -- it died on the way: a line to an X
      w(('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.4"%s/>'):format(num(x0), num(y0),
        num(g.ex), num(g.ey), stroke, dash))
      cross(g.ex, g.ey)
    else
      -- an arrow from the send to the arrival; dropped on arrival, an X
      -- instead of its head
      local ex, ey = x1, y1
      local marker = (' marker-end="url(#ah-%s)"'):format(flight and "grey" or g.a)
      if r.fate == "dropped_ingress" then ex, ey, marker = x1 - dir * 8, y1 - slope * 8, "" end
      w(('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.4"%s%s/>'):format(num(x0), num(y0),
        num(ex), num(ey), stroke, dash, marker))
      if r.fate == "dropped_ingress" then cross(ex, ey) end
    end
    for _, t in ipairs(s.texts) do along(t.class, t.x, t.y, t.deg, t.anchor, t.dy, t.text, t.fill) end
    w("</g>")
  end
  w("</g>")

  -- the state changes: a box on the lane, the state and its cause
  w('<g class="states">')
  for _, it in ipairs(states) do
    local r, bx = it.r, boxes[it]
    local x = lane[r.host] or lane[1]
    local st = STATE_STYLE[r.new] or STATE_STYLE.CLOSED
    w(('<g class="state" id="state-%d">'):format(r.index or 0))
    w(('<rect x="%s" y="%s" width="%s" height="20" rx="10" fill="%s" stroke="%s"/>'):format(num(x + bx.x),
      num(it.y - 10), num(bx.w), st[1], st[2]))
    w(('<text x="%s" y="%s" xml:space="preserve"><tspan class="state">%s</tspan><tspan class="cause">  %s</tspan></text>')
      :format(num(x + bx.x + 7), num(it.y + 4), esc(bx.name), esc(bx.cause)))
    w("</g>")
  end
  w("</g>")

  -- the notes
  w('<g class="notes">')
  for _, it in ipairs(notes) do
    local r = it.r
    local left = note_left(r)
    local x = (lane[r.host] or lane[1]) + (left and -8 or 8)
    w(('<text class="note" x="%s" y="%s"%s>%s</text>'):format(num(x), num(it.y + 4),
      left and ' text-anchor="end"' or "", esc(note_text(r))))
  end
  w("</g>")

  -- the legend
  w('<g class="legend">')
  w(('<line x1="16" y1="%s" x2="%d" y2="%s" stroke="#ccc"/>'):format(num(legend_y - 16), width - 16,
    num(legend_y - 16)))
  for i, l in ipairs(legend_lines) do
    local ly = legend_y + (i - 1) * 18
    local kind = l[1]
    if kind == "arrow" then
      w(('<line x1="20" y1="%s" x2="56" y2="%s" stroke="%s" stroke-width="1.4" marker-end="url(#ah-1)"/>')
        :format(num(ly - 4), num(ly - 4), colors[1]))
    elseif kind == "label" then
      w(('<text class="lbl" x="20" y="%s" style="fill:%s">label</text>'):format(num(ly), colors[1]))
    elseif kind == "dashed" then
      w(('<line x1="20" y1="%s" x2="56" y2="%s" stroke="%s" stroke-width="1.4" stroke-dasharray="7,4" '
        .. 'marker-end="url(#ah-1)"/>'):format(num(ly - 4), num(ly - 4), colors[1]))
    elseif kind == "x" then
      w(('<line x1="20" y1="%s" x2="40" y2="%s" stroke="%s" stroke-width="1.4"/>'):format(num(ly - 4),
        num(ly - 4), colors[1]))
      cross(40, ly - 4)
    elseif kind == "box" then
      w(('<rect x="20" y="%s" width="40" height="14" rx="7" fill="%s" stroke="%s"/>'):format(num(ly - 11),
        STATE_STYLE.ESTABLISHED[1], STATE_STYLE.ESTABLISHED[2]))
    elseif kind == "note" then
      w(('<text class="note" x="20" y="%s">note</text>'):format(num(ly)))
    elseif kind == "break" then
      w(('<polyline points="%s" fill="none" stroke="#999" stroke-width="1.2"/>'):format(zigzag(ly - 4, 20, 56)))
    end
    w(('<text class="legend" x="70" y="%s">%s</text>'):format(num(ly), esc(l[2])))
  end
  w("</g>")
  w("</svg>")
  return table.concat(o, "\n") .. "\n", crowded, crowded_at
end

--- Renders records of a net as an SVG document (a string): one lane per host,
-- time flowing down, each segment a slanted arrow from its send time on the
-- sender's lane to its arrival on the receiver's, state changes as boxes,
-- notes in grey. Quiet gaps much longer than a link latency (`TIME_WAIT`'s
-- 2*MSL, a retransmission timeout) are compressed and marked with a break.
-- Where a flight is so dense that the words along its arrows would run
-- over each other, its rows are drawn taller.
-- opts: notes = false hides the notes; ts = false as for ladder.lines;
-- title = a heading.
-- @tparam synfin.Net net
-- @tparam {table,...} recs records, as net:records() returns them
-- @tparam[opt] table opts notes, title
-- @treturn string the SVG document
function ladder.svg(net, recs, opts)
  opts = opts or {}
  local grow, best, best_crowded = {}, nil, nil
  for _ = 1, row_tries(#recs) do
    local svg, crowded, at = render(net, recs, opts, grow)
    if not best or crowded < best_crowded then best, best_crowded = svg, crowded end
    if crowded == 0 then break end
    for i in pairs(at) do grow[i] = (grow[i] or 1) * ROW_GROWTH end
  end
  return best
end

return ladder
