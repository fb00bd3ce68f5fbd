-- The layout of a ladder SVG read back from the document, as a reader's eye
-- would take it: every piece of text, state box, drop mark (X) and gap note
-- as a quadrilateral on the page, and the pairs of them that overlap. It
-- knows the document's markup (lua/synfin/ladder.lua writes it) but not how
-- the ladder chose its places, so a placement bug shows as an overlap here.
local M = {}

-- Monospace glyphs are 0.6 em wide (DejaVu Sans Mono: 0.602); a line of
-- text reaches 0.78 em above its baseline and 0.22 em below.
local EM_WIDTH, ASCENT, DESCENT = 0.6025, 0.78, 0.22
local SIZE = { seg = 12, lbl = 12, verdict = 12, note = 11, brk = 11, state = 12, host = 13, addr = 12 }

local function unescape(s)
  return (s:gsub("<[^>]*>", ""):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&apos;", "'")
    :gsub("&amp;", "&"))
end

local function quad(tx, ty, deg, x0, y0, x1, y1)
  local th = math.rad(deg)
  local c, s = math.cos(th), math.sin(th)
  local out = {}
  for _, p in ipairs { { x0, y0 }, { x1, y0 }, { x1, y1 }, { x0, y1 } } do
    out[#out + 1] = { tx + c * p[1] - s * p[2], ty + s * p[1] + c * p[2] }
  end
  return out
end

local function text_quad(text, size, tx, ty, deg, anchor, dy)
  local len = utf8.len(text) * size * EM_WIDTH
  local xa = anchor == "start" and 0 or anchor == "end" and -len or -len / 2
  return quad(tx, ty, deg, xa, dy - size * ASCENT, xa + len, dy + size * DESCENT)
end

-- whether two quadrilaterals overlap by more than a margin: the separating
-- axis test, the ladder's own (a geometry primitive, not its placement)
local overlap = require("synfin.ladder").overlap

--- The things drawn: { kind, text, quad } for each text along an arrow
-- (seg, lbl, verdict), state box, note, gap note, drop mark, and each
-- host's header box and the words in it (host, addr).
function M.items(svg)
  local items = {}
  local function add(kind, text, q) items[#items + 1] = { kind = kind, text = text, quad = q } end
  -- texts turned along an arrow
  for class, tx, ty, deg, anchor, dy, body in svg:gmatch(
    '<text class="(%a+)" transform="translate%(([%d.-]+),([%d.-]+)%) rotate%(([%d.-]+)%)" '
      .. 'text%-anchor="(%a+)" dy="([%d.-]+)"[^>]*>(.-)</text>') do
    local text = unescape(body)
    add(class, text, text_quad(text, SIZE[class], tonumber(tx), tonumber(ty), tonumber(deg), anchor, tonumber(dy)))
  end
  -- state boxes
  for x, y, w, h in svg:gmatch('<g class="state" id="state%-%d+">\n<rect x="([%d.-]+)" y="([%d.-]+)" '
    .. 'width="([%d.-]+)" height="([%d.-]+)"') do
    x, y = tonumber(x), tonumber(y)
    add("state", "state box", quad(0, 0, 0, x, y, x + tonumber(w), y + tonumber(h)))
  end
  -- notes, and the gap notes of the breaks
  for class, x, y, rest, body in svg:gmatch('<text class="(%a+)" x="([%d.-]+)" y="([%d.-]+)"([^>]*)>(.-)</text>') do
    if class == "note" or class == "brk" then
      local anchor = rest:match('text%-anchor="(%a+)"') or "start"
      local text = unescape(body)
      add(class, text, text_quad(text, SIZE[class], tonumber(x), tonumber(y), 0, anchor, 0))
    end
  end
  -- the hosts' headers: a box over each lane, its name and addresses in it
  for x, y, w, h in svg:gmatch('<rect x="([%d.-]+)" y="([%d.-]+)" width="([%d.-]+)" height="([%d.-]+)" rx="4" '
    .. 'fill="#fafafa"') do
    x, y = tonumber(x), tonumber(y)
    add("header", "header box", quad(0, 0, 0, x, y, x + tonumber(w), y + tonumber(h)))
  end
  for class, x, y, body in svg:gmatch('<text class="(%a+)" x="([%d.-]+)" y="([%d.-]+)" text%-anchor="middle">(.-)</text>') do
    if class == "host" or class == "addr" then
      local text = unescape(body)
      add(class, text, text_quad(text, SIZE[class], tonumber(x), tonumber(y), 0, "middle", 0))
    end
  end
  -- the X of a lost or dropped segment
  for cx, cy in svg:gmatch('<path d="M([%d.-]+),([%d.-]+) L[%d.-]+,[%d.-]+ M[%d.-]+,[%d.-]+ L[%d.-]+,[%d.-]+" '
    .. 'stroke="#c62828"') do
    cx, cy = tonumber(cx), tonumber(cy)
    add("drop mark", "X", quad(0, 0, 0, cx, cy, cx + 10, cy + 10))
  end
  return items
end

-- Whether a is a header's words wholly within header box b (where they
-- belong; words reaching out of it overlap it).
local function inside(a, b)
  if b.kind ~= "header" or (a.kind ~= "host" and a.kind ~= "addr") then return false end
  local x0, y0, x1, y1 = b.quad[1][1], b.quad[1][2], b.quad[3][1], b.quad[3][2]
  for _, p in ipairs(a.quad) do
    if p[1] < x0 or p[1] > x1 or p[2] < y0 or p[2] > y1 then return false end
  end
  return true
end

--- The pairs of things that overlap by more than a pixel, as lines of text
-- ("seg '#4 A seq=1 ...' over verdict 'dropped by egress hook 1'").
function M.collisions(svg, margin)
  local items = M.items(svg)
  local found = {}
  for i = 1, #items do
    for j = i + 1, #items do
      local a, b = items[i], items[j]
      if overlap(a.quad, b.quad, margin or 1) and not inside(a, b) and not inside(b, a) then
        found[#found + 1] = ("%s %q over %s %q"):format(a.kind, a.text, b.kind, b.text)
      end
    end
  end
  return found, items
end

return M
