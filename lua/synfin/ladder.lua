--- The ladder diagram: the trace drawn the way the textbook figures draw a
-- connection. One lane per host, time down the left, each segment an arrow
-- numbered in order with its flags, relative seq/ack, window and length, and
-- each state change written in its host's lane with its cause.
local ladder = {}

local TIME_W = 10

local function seg_label(r)
  local parts = { ("#%d %s"):format(r.n, r.flags ~= "" and r.flags or ".") }
  parts[#parts + 1] = "seq=" .. r.seq
  if r.flags:find("A", 1, true) then parts[#parts + 1] = "ack=" .. r.ack end
  parts[#parts + 1] = "win=" .. r.win
  if r.len > 0 then parts[#parts + 1] = "len=" .. r.len end
  if r.mss then parts[#parts + 1] = "<mss " .. r.mss .. ">" end
  return table.concat(parts, " ")
end

-- What happened to a segment, when it is worth a word.
local function seg_fate(r)
  local notes = {}
  if r.injected then notes[#notes + 1] = "injected" end
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

local function put(line, col, text)
  if #line < col then line = line .. (" "):rep(col - #line) end
  return line:sub(1, col) .. text .. line:sub(col + #text + 1)
end

--- Renders records (a list) of a net as text lines; returns the list of lines.
function ladder.lines(net, recs, opts)
  opts = opts or {}
  local hosts = net.hosts
  local nh = #hosts
  -- a host with several connections (a listener aside) names each by ports
  local conns = {}
  for _, r in ipairs(recs) do
    if r.kind == "state" and r.rport ~= 0 then
      conns[r.host] = conns[r.host] or {}
      conns[r.host][r.conn] = true
    end
  end
  local function conn_name(r)
    if r.rport == 0 then return "listener :" .. r.lport .. " " end
    local n = 0
    for _ in pairs(conns[r.host] or {}) do n = n + 1 end
    return n > 1 and (":" .. r.lport .. "~" .. r.rport .. " ") or ""
  end
  local gap = 30
  for _, r in ipairs(recs) do
    if r.kind == "seg" then gap = math.max(gap, #seg_label(r) + 10) end
  end
  if nh == 0 then return { "(no hosts)" } end
  local lane = {}
  for i = 1, nh do lane[i] = TIME_W + 2 + (i - 1) * gap end
  local blank = (" "):rep(TIME_W + 1)
  for i = 1, nh do blank = put(blank, lane[i], "|") end

  local out = {}
  local head = ("%" .. TIME_W .. "s"):format("time (s)")
  for i = 1, nh do
    local h = hosts[i]
    head = put(head, lane[i], h.name and (h.name .. " " .. h.addr) or h.addr)
  end
  out[#out + 1] = head
  out[#out + 1] = blank

  local function stamp(line, t)
    return ("%" .. TIME_W .. ".3f"):format(t) .. line:sub(TIME_W + 1)
  end

  for _, r in ipairs(recs) do
    local line
    if r.kind == "seg" then
      local a, b = r.from, r.to
      local label = seg_label(r)
      if a and b and a ~= b then
        local lo, hi = math.min(lane[a], lane[b]), math.max(lane[a], lane[b])
        local body = label
        local span = hi - lo - 1
        local fill = span - #body - 4
        local right = a < b
        local head_ch = right and ">" or "<"
        if r.fate == "dropped_egress" then
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

function ladder.text(net, recs, opts)
  return table.concat(ladder.lines(net, recs, opts), "\n")
end

return ladder
